//! Makes SQLite commits durable by syncing the WAL file after them, on a thread of its own, so
//! the span writer can build its next group while the last one reaches the disk.
//!
//! SQLite's own way, `synchronous=FULL`, syncs the WAL inside every commit: the single writer
//! then sits idle for each sync. Here connections run with `synchronous=NORMAL` (commits
//! write the WAL but do not sync it; checkpoints still sync both files) and a commit is reported
//! only after this thread's `fdatasync` of the WAL file has returned. One sync covers every
//! commit that finished before it began, so commits that land during a sync share the next one.
//! A reported commit relies on what `FULL` would give it (its frames are on disk, and SQLite
//! still syncs the WAL header when it starts the WAL over); only the moment of the sync moves.
//! Readers can see a commit up to one sync (a few milliseconds) before it is durable, as with
//! `NORMAL`, but nobody is told it succeeded before then.
//!
//! A failed sync is final. Linux reports a writeback error to a file once and may drop the
//! pages it could not write, so a later sync can succeed over a WAL with a hole in it, and
//! SQLite's recovery stops at the first bad frame: commits reported after the failure would be
//! lost at the next restart. So after one failure nothing more is reported durable, every
//! write is refused, and `/health` fails, so the supervisor restarts the server and SQLite
//! recovers the WAL on open (PostgreSQL stops for the same reason). A checkpoint that fails to
//! sync the database file ends writes the same way (see checkpoint.rs).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::Instant;

#[cfg(unix)]
use std::os::unix::fs::MetadataExt;

use rivulet_core::{CoreError, Result};
use tokio::sync::oneshot;

/// What runs once a sync has finished, on the sync thread, with its outcome.
type Waiter = Box<dyn FnOnce(Result<()>) + Send>;

/// Hands syncs of one database's WAL file to the sync thread. Cheap to clone.
#[derive(Clone)]
pub(crate) struct WalSync {
    waiters: mpsc::Sender<Waiter>,
    state: Arc<SyncState>,
}

/// Syncs made so far and the time they took, for `/metrics`, and the failure that ended them:
/// what could not be synced, and the error.
#[derive(Default)]
struct SyncState {
    syncs: AtomicU64,
    micros: AtomicU64,
    failure: OnceLock<String>,
}

impl SyncState {
    fn refusal(failure: &str) -> CoreError {
        CoreError::unavailable(format!(
            "writes are refused: {failure}, so commits since may not survive; restart the server, which recovers the log"
        ))
    }
}

/// A finished commit, and the sync (if any) that will make it durable.
pub(crate) struct PendingSync(Option<WalSync>);

impl PendingSync {
    /// A commit that needs no sync of its own (PostgreSQL, or a database in memory).
    pub(crate) fn done() -> PendingSync {
        PendingSync(None)
    }

    /// Runs `then` once the commit is on disk: at once when nothing needs syncing, otherwise on
    /// the sync thread right after the sync, so answering a request takes no further hop.
    pub(crate) fn then(self, then: impl FnOnce(Result<()>) + Send + 'static) {
        match self.0 {
            None => then(Ok(())),
            Some(sync) => {
                if let Err(refused) = sync.waiters.send(Box::new(then)) {
                    (refused.0)(Err(shutting_down()));
                }
            }
        }
    }

    /// Waits until the commit is on disk.
    pub(crate) async fn durable(self) -> Result<()> {
        let (reply, outcome) = oneshot::channel();
        self.then(move |result| {
            let _ = reply.send(result);
        });
        outcome.await.unwrap_or_else(|_| Err(shutting_down()))
    }
}

fn shutting_down() -> CoreError {
    CoreError::unavailable("the store is shutting down; retry the request")
}

impl WalSync {
    /// Starts the sync thread for the database file at `database` (its WAL is `<file>-wal`);
    /// the thread ends when every `WalSync` is dropped.
    pub(crate) fn spawn(database: &Path) -> io::Result<WalSync> {
        // SQLite names the WAL after the database's real path, so follow symbolic links too.
        let database = std::fs::canonicalize(database)?;
        let mut wal = database.into_os_string();
        wal.push("-wal");
        let file = WalFile { path: PathBuf::from(wal), open: None };
        let (waiters, queued) = mpsc::channel::<Waiter>();
        let state = Arc::new(SyncState::default());
        let shared = state.clone();
        std::thread::Builder::new().name("wal-sync".into()).spawn(move || run_syncs(file, &queued, &shared))?;
        Ok(WalSync { waiters, state })
    }

    /// Syncs made so far, and the seconds they took in all.
    pub(crate) fn totals(&self) -> (u64, f64) {
        (self.state.syncs.load(Ordering::Relaxed), self.state.micros.load(Ordering::Relaxed) as f64 / 1e6)
    }

    /// Why commits are no longer made durable, once a sync of the WAL or of the database file
    /// has failed.
    pub(crate) fn failure(&self) -> Option<&str> {
        self.state.failure.get().map(String::as_str)
    }

    /// Ends durable writes because `what` failed (a checkpoint's sync of the database file):
    /// every later commit is refused, as after a failed sync of the WAL. The first failure is
    /// the one kept.
    pub(crate) fn fail(&self, what: String) {
        if self.state.failure.set(what).is_ok() {
            tracing::error!(failure = self.failure().unwrap_or_default(), "refusing every write until the server restarts");
        }
    }

    /// A commit just made, waiting for a sync that covers it.
    pub(crate) fn pending(&self) -> PendingSync {
        PendingSync(Some(self.clone()))
    }
}

/// The sync thread: answers waiters until every `WalSync` is dropped.
fn run_syncs(mut file: WalFile, queued: &mpsc::Receiver<Waiter>, state: &SyncState) {
    while let Ok(first) = queued.recv() {
        // Every waiter queued by now belongs to a commit that finished before this sync
        // starts, so one sync answers them all.
        let waiting: Vec<Waiter> = std::iter::once(first).chain(queued.try_iter()).collect();
        let outcome = match state.failure.get() {
            Some(failure) => Err(SyncState::refusal(failure)),
            None => {
                let started = Instant::now();
                let outcome = file.sync();
                state.syncs.fetch_add(1, Ordering::Relaxed);
                state.micros.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                outcome.map_err(|error| match error {
                    SyncError::Sync(error) => {
                        tracing::error!(%error, "syncing the SQLite WAL failed; refusing every write until the server restarts");
                        SyncState::refusal(state.failure.get_or_init(|| format!("syncing the SQLite write-ahead log failed ({error})")))
                    }
                    // Nothing was synced, and no write-back failed: the next sync covers these
                    // commits too.
                    SyncError::Open(error) => {
                        tracing::warn!(%error, "cannot open the SQLite WAL to sync it");
                        CoreError::unavailable("the database could not confirm the write reached the disk; retry the request")
                    }
                })
            }
        };
        for waiter in waiting {
            waiter(outcome.clone());
        }
    }
}

/// Why a sync did not happen: the WAL could not be looked at or opened (nothing lost), or the
/// sync itself failed (written pages may be lost).
#[derive(Debug)]
enum SyncError {
    Open(io::Error),
    Sync(io::Error),
}

/// The WAL file, opened on first use and again whenever SQLite has replaced it.
struct WalFile {
    path: PathBuf,
    open: Option<File>,
}

impl WalFile {
    fn sync(&mut self) -> Result<(), SyncError> {
        // SQLite deletes the WAL when its last connection closes, after copying every frame
        // into the database file and syncing that; a new WAL is a new file. So: no file means
        // nothing is waiting in a WAL, and a file that is not the one held is reopened.
        let current = match std::fs::metadata(&self.path) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(SyncError::Open(error)),
        };
        let held = match &self.open {
            Some(file) => same_file(&file.metadata().map_err(SyncError::Open)?, &current),
            None => false,
        };
        if !held {
            self.open = match File::open(&self.path) {
                Ok(file) => Some(file),
                Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(error) => return Err(SyncError::Open(error)),
            };
        }
        match &self.open {
            Some(file) => file.sync_data().map_err(SyncError::Sync),
            None => Ok(()),
        }
    }
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    // Without inode numbers, reopen before every sync.
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn concurrent_requests_all_succeed_with_or_without_a_wal() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("store.db");
        std::fs::write(&database, b"").unwrap();
        let sync = WalSync::spawn(&database).unwrap();
        // No WAL yet: nothing waits in one.
        sync.pending().durable().await.unwrap();
        std::fs::write(dir.path().join("store.db-wal"), b"frames").unwrap();
        let pending: Vec<_> = (0..16).map(|_| sync.pending()).collect();
        for request in pending {
            request.durable().await.unwrap();
        }
    }

    #[test]
    fn a_replaced_wal_is_reopened_before_the_sync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db-wal");
        std::fs::write(&path, b"first").unwrap();
        let mut wal = WalFile { path: path.clone(), open: None };
        wal.sync().unwrap();
        let first = wal.open.as_ref().unwrap().metadata().unwrap();
        // Create the replacement before removing the original, so it cannot reuse its inode.
        let replacement = dir.path().join("replacement");
        std::fs::write(&replacement, b"second").unwrap();
        std::fs::rename(&replacement, &path).unwrap();
        wal.sync().unwrap();
        let held = wal.open.as_ref().unwrap().metadata().unwrap();
        assert!(!same_file(&first, &held), "the sync must follow the file SQLite now writes");
        assert!(same_file(&held, &std::fs::metadata(&path).unwrap()));
        std::fs::remove_file(&path).unwrap();
        wal.sync().unwrap();
    }

    /// A database file in a new directory, the path of its WAL (not created), and its syncs.
    fn database_with_sync() -> (tempfile::TempDir, PathBuf, WalSync) {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("store.db");
        std::fs::write(&database, b"").unwrap();
        let sync = WalSync::spawn(&database).unwrap();
        let wal = dir.path().join("store.db-wal");
        (dir, wal, sync)
    }

    #[tokio::test]
    async fn a_failed_sync_refuses_every_later_commit() {
        let (_dir, wal, sync) = database_with_sync();
        std::fs::write(&wal, b"frames").unwrap();
        sync.pending().durable().await.unwrap();
        assert_eq!(sync.failure(), None);
        // A character device cannot be synced (EINVAL): a real failing fdatasync.
        std::fs::remove_file(&wal).unwrap();
        std::os::unix::fs::symlink("/dev/null", &wal).unwrap();
        let error = sync.pending().durable().await.unwrap_err();
        assert_eq!(error.code, rivulet_core::ErrorCode::TemporarilyUnavailable);
        assert!(error.message.contains("restart the server"), "{}", error.message);
        let failure = sync.failure().expect("the failure is kept").to_string();
        // A WAL that could be synced again does not make later commits durable: pages lost in
        // the failed write-back would leave a hole before them.
        std::fs::remove_file(&wal).unwrap();
        std::fs::write(&wal, b"frames").unwrap();
        let (syncs, _) = sync.totals();
        let later = sync.pending().durable().await.unwrap_err();
        assert!(later.message.contains(&failure), "{}", later.message);
        assert_eq!(sync.totals().0, syncs, "no sync is tried after a failure");
    }

    #[tokio::test]
    async fn a_wal_that_cannot_be_opened_is_not_a_lasting_failure() {
        let (_dir, wal, sync) = database_with_sync();
        // A link to itself cannot be opened (ELOOP), but nothing failed to reach the disk.
        std::os::unix::fs::symlink(&wal, &wal).unwrap();
        let error = sync.pending().durable().await.unwrap_err();
        assert_eq!(error.code, rivulet_core::ErrorCode::TemporarilyUnavailable);
        assert_eq!(sync.failure(), None);
        std::fs::remove_file(&wal).unwrap();
        std::fs::write(&wal, b"frames").unwrap();
        sync.pending().durable().await.expect("the next sync covers the commit");
    }

    #[tokio::test]
    async fn a_missing_database_directory_is_refused_at_start() {
        let dir = tempfile::tempdir().unwrap();
        assert!(WalSync::spawn(&dir.path().join("absent/store.db")).is_err());
    }
}

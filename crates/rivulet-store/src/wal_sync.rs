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

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
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
    totals: Arc<SyncTotals>,
}

/// Syncs made so far and the time they took, for `/metrics`.
#[derive(Default)]
struct SyncTotals {
    syncs: AtomicU64,
    micros: AtomicU64,
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
        let mut file = WalFile { path: PathBuf::from(wal), open: None };
        let (waiters, queued) = mpsc::channel::<Waiter>();
        let totals = Arc::new(SyncTotals::default());
        let counted = totals.clone();
        std::thread::Builder::new().name("wal-sync".into()).spawn(move || {
            while let Ok(first) = queued.recv() {
                // Every waiter queued by now belongs to a commit that finished before this sync
                // starts, so one sync answers them all.
                let waiting: Vec<Waiter> = std::iter::once(first).chain(queued.try_iter()).collect();
                let started = Instant::now();
                let outcome = file.sync();
                counted.syncs.fetch_add(1, Ordering::Relaxed);
                counted.micros.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                let outcome = outcome.map_err(|error| {
                    tracing::error!(%error, "syncing the SQLite WAL failed; recent commits may not survive a power loss");
                    CoreError::unavailable("the database could not confirm the write reached the disk; retry the request")
                });
                for waiter in waiting {
                    waiter(outcome.clone());
                }
            }
        })?;
        Ok(WalSync { waiters, totals })
    }

    /// Syncs made so far, and the seconds they took in all.
    pub(crate) fn totals(&self) -> (u64, f64) {
        (self.totals.syncs.load(Ordering::Relaxed), self.totals.micros.load(Ordering::Relaxed) as f64 / 1e6)
    }

    /// A commit just made, waiting for a sync that covers it.
    pub(crate) fn pending(&self) -> PendingSync {
        PendingSync(Some(self.clone()))
    }
}

/// The WAL file, opened on first use and again whenever SQLite has replaced it.
struct WalFile {
    path: PathBuf,
    open: Option<File>,
}

impl WalFile {
    fn sync(&mut self) -> io::Result<()> {
        // SQLite deletes the WAL when its last connection closes, after copying every frame
        // into the database file and syncing that; a new WAL is a new file. So: no file means
        // nothing is waiting in a WAL, and a file that is not the one held is reopened.
        let current = match std::fs::metadata(&self.path) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error),
        };
        let held = match &self.open {
            Some(file) => same_file(&file.metadata()?, &current),
            None => false,
        };
        if !held {
            self.open = match File::open(&self.path) {
                Ok(file) => Some(file),
                Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(error) => return Err(error),
            };
        }
        match &self.open {
            Some(file) => file.sync_data(),
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

    #[tokio::test]
    async fn a_missing_database_directory_is_refused_at_start() {
        let dir = tempfile::tempdir().unwrap();
        assert!(WalSync::spawn(&dir.path().join("absent/store.db")).is_err());
    }
}

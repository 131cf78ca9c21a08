//! Makes SQLite commits durable by syncing the WAL file after them, on a thread of its own, so
//! the span writer can build its next group while the last one reaches the disk.
//!
//! SQLite's own way, `synchronous=FULL`, syncs the WAL inside every commit: the single writer
//! then sits idle for each sync. Here connections run with `synchronous=NORMAL` (commits
//! write the WAL but do not sync it; checkpoints still sync both files) and a commit is reported
//! only after this thread's `fdatasync` of the WAL file has returned. One sync covers every
//! commit that finished before it began, so commits that land during a sync share the next one.
//! What reaches the disk, and in what order, is what `FULL` gives: only the moment of the sync
//! moves, and no request is answered before it. Readers can see a commit up to one sync
//! (a few milliseconds) before it is durable, as with `NORMAL`; nobody is told it succeeded.

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

type SyncOutcome = std::result::Result<(), Arc<io::Error>>;

/// Hands syncs of one database's WAL file to the sync thread. Cheap to clone.
#[derive(Clone)]
pub(crate) struct WalSync {
    requests: mpsc::Sender<oneshot::Sender<SyncOutcome>>,
    totals: Arc<SyncTotals>,
}

/// Syncs made so far and the time they took, for `/metrics`.
#[derive(Default)]
struct SyncTotals {
    syncs: AtomicU64,
    micros: AtomicU64,
}

/// A commit waiting for the sync that makes it durable.
pub(crate) struct PendingSync(Option<oneshot::Receiver<SyncOutcome>>);

impl PendingSync {
    /// A commit that needs no sync of its own (PostgreSQL, or a database in memory).
    pub(crate) fn done() -> PendingSync {
        PendingSync(None)
    }

    /// Waits until the commit is on disk.
    pub(crate) async fn durable(self) -> Result<()> {
        let Some(outcome) = self.0 else { return Ok(()) };
        match outcome.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => {
                tracing::error!(%error, "syncing the SQLite WAL failed; the commit may not survive a power loss");
                Err(CoreError::unavailable("the database could not confirm the write reached the disk; retry the request"))
            }
            Err(_) => Err(CoreError::unavailable("the store is shutting down; retry the request")),
        }
    }
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
        let (requests, pending) = mpsc::channel::<oneshot::Sender<SyncOutcome>>();
        let totals = Arc::new(SyncTotals::default());
        let counted = totals.clone();
        std::thread::Builder::new().name("wal-sync".into()).spawn(move || {
            while let Ok(first) = pending.recv() {
                // Everything queued by now was committed before this sync starts, so one sync
                // answers them all.
                let waiting: Vec<_> = std::iter::once(first).chain(pending.try_iter()).collect();
                let started = Instant::now();
                let outcome = file.sync().map_err(Arc::new);
                counted.syncs.fetch_add(1, Ordering::Relaxed);
                counted.micros.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                for request in waiting {
                    let _ = request.send(outcome.clone());
                }
            }
        })?;
        Ok(WalSync { requests, totals })
    }

    /// Syncs made so far, and the seconds they took in all.
    pub(crate) fn totals(&self) -> (u64, f64) {
        (self.totals.syncs.load(Ordering::Relaxed), self.totals.micros.load(Ordering::Relaxed) as f64 / 1e6)
    }

    /// Asks for a sync covering every commit made so far.
    pub(crate) fn request(&self) -> PendingSync {
        let (reply, outcome) = oneshot::channel();
        // A closed channel drops `reply`, which `durable` reports as shutting down.
        let _ = self.requests.send(reply);
        PendingSync(Some(outcome))
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
        sync.request().durable().await.unwrap();
        std::fs::write(dir.path().join("store.db-wal"), b"frames").unwrap();
        let pending: Vec<_> = (0..16).map(|_| sync.request()).collect();
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

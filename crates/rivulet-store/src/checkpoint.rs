//! Background WAL checkpoints for SQLite, so the span writer never stops mid-stream to copy
//! pages back into the database file and fsync it.
//!
//! SQLite's automatic checkpoint runs inside the committing connection: on an ingest-heavy
//! server that put a fifth of the writer's time into checkpoints. Here a second connection
//! runs passive checkpoints (which never block the writer or readers) after commits, on
//! another thread; the writer's own automatic checkpoint stays as a backstop with a higher
//! threshold, so the WAL stays bounded even if the background falls behind.
//!
//! Under sustained ingest the background alone never lets the WAL start over: SQLite restarts
//! it only when a write transaction begins with every frame copied back, and the writer begins
//! its next group before the background has copied the last one. So once the WAL is long, the
//! span writer waits between two groups for the last one to be copied (15-90 ms on this kind
//! of disk, more as the database grows), and its next transaction starts the WAL over;
//! `StoreSettings::wal_restart_pages` sets how often. Leaving the restart to the writer's own
//! automatic checkpoint did not work: it competed with the background's for the checkpoint
//! lock and mostly lost, so the WAL grew far past its threshold (to 430 MB in a minute,
//! against 256 MiB).
//!
//! The background copies 200 ms of commits at a time rather than each one: commits rewrite
//! many of the same pages (index interiors, the hot ends of time-ordered indexes), and a
//! checkpoint copies each page once and syncs the database file once. Near the restart point
//! it copies after every commit again, so that the writer's wait before a restart stays one
//! commit long.
//!
//! A checkpoint only copies pages into the kernel's cache of the database file; left there,
//! they reach the disk in one burst when a checkpoint syncs the file, and a WAL sync or the
//! writer's wait before a restart queues behind that burst. So after each background
//! checkpoint a thread of its own asks the kernel to start writing those pages out at once
//! (write_back.rs), without waiting or flushing the device's cache, and the syncs find little
//! left to write.
//!
//! A checkpoint that fails to sync a file ends durable writes, as a failed sync of the WAL does
//! (wal_sync.rs), and no checkpoint runs after it. SQLite syncs the database file only when a
//! checkpoint copies the whole WAL, yet it counts frames copied by earlier partial checkpoints
//! as safe. If the kernel dropped some of those pages when their write-back failed, the next
//! checkpoint would not copy them again, its sync could succeed, and the WAL would start over
//! without them; left alone, the WAL still holds them for recovery when the server restarts.
//! The writer's own automatic checkpoint is switched off then too, for the same reason.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::SqlitePool;
use tokio::sync::{mpsc, Mutex};

use crate::error::is_failed_sqlite_sync;
use crate::wal_sync::WalSync;
use crate::write_back::start_write_back;

/// WAL pages after which the span writer, between two groups, waits for the background to
/// copy its last commit back, so that its next transaction starts the WAL over (1 GiB at
/// SQLite's 4 KiB pages). Each restart holds the writer for one checkpoint, which grows with
/// the database (15 ms on a new one, 50-200 ms past 3 GB), and every request in flight waits
/// with it, so this sets how many requests pay for one: at concurrency 32 on two cores,
/// restarts were nearly all of the requests over 50 ms. In 15 s runs with write-back
/// (write_back.rs), 131,072 pages gave p99 39-49 ms, 262,144 pages 37-38 ms at the same
/// throughput; in 70 s runs 262,144 pages gave 46-50 ms. Restarting inside the commit at 8,192
/// pages, as SQLite's own automatic checkpoint does, gave 97 ms in 60 s runs.
pub(crate) const RESTART_PAGES: u32 = 262_144;

/// Pages after which the writing connection checkpoints by itself, inside a commit: a backstop
/// above the restart point, for a WAL the span writer has not started over (a reader still on
/// an old snapshot) or that other writes grew.
pub(crate) fn writer_autocheckpoint_pages(restart_pages: u32) -> u32 {
    restart_pages.saturating_add(restart_pages / 8)
}

/// Bytes the WAL file may keep once it starts over: the backstop's frames (each a 4 KiB page
/// and a 24-byte header) and a tenth more (1.3 GB), above what sustained ingest makes it reach,
/// so the file is reused in place. A limit below that (64 MiB was tried) truncates the file at
/// every restart and grows it again, which doubled p99 latency at concurrency 32 (93-104 ms).
/// Commits of thousands of spans (Collector-sized exports) can overshoot the restart point;
/// a WAL longer than the limit is cut back at the restart. A server that is not under
/// sustained ingest restarts its WAL whenever the background catches up, and never grows it.
pub(crate) fn wal_size_limit_bytes(restart_pages: u32) -> u64 {
    u64::from(writer_autocheckpoint_pages(restart_pages)) * (4096 + 24) * 11 / 10
}

/// How long the background lets commits gather after a checkpoint before it copies them back.
/// In one ingest run at concurrency 32 (436 WAL frames per commit), copying every commit
/// wrote 1.00 database pages per WAL frame, every 5 commits 0.66, every 10 0.53: commits
/// rewrite the same index pages. At 50 ms (about 5 commits), in 17 pairs of 15-20 s runs
/// against copying each commit: median +14 % spans/s, p99 within noise. Longer waits then cost
/// p99 (80-207 ms at 100 ms), as each checkpoint's sync wrote a larger burst; since the copied
/// pages are written back at once (write_back.rs), they do not. Against 50 ms, at 200 ms:
/// +3 to +15 % spans/s in three 15 s pairs with p99 within 1-4 ms (36-43 ms), and +3 % with
/// p99 42.6 against 45.5 ms in a 70 s pair; 400 ms gained nothing over 200.
const GATHER: Duration = Duration::from_millis(200);

/// The share of `restart_pages` from which the background copies after every commit, so that
/// the writer, when it waits before a restart, waits for one commit's pages and not `GATHER`'s.
fn copies_every_commit(wal_pages: i64, restart_pages: i64) -> bool {
    wal_pages >= restart_pages / 10 * 9
}

/// How often the background checkpoints without being asked: writes other than span ingest
/// (runs, metrics) do not signal it, and a WAL nobody copies back makes every read search it.
const IDLE_INTERVAL: Duration = Duration::from_secs(1);

/// Runs WAL checkpoints: in the background after commits, and for the span writer when the WAL
/// should start over.
#[derive(Clone)]
pub(crate) struct Checkpointer {
    commits: mpsc::Sender<()>,
    shared: Arc<Shared>,
    write: SqlitePool,
    restart_pages: i64,
}

struct Shared {
    /// One checkpoint at a time: a second one would find the checkpoint lock taken and give up.
    turn: Mutex<()>,
    /// Where a failed sync is recorded; it ends durable writes and every later checkpoint.
    durability: WalSync,
    /// Pages in the WAL at the last checkpoint.
    wal_pages: AtomicI64,
    /// The WAL's pages when the span writer last had it all copied back before a restart. A
    /// background checkpoint that runs before the writer's next transaction reports the same
    /// length again, and must not ask for a second restart.
    restarted_at: AtomicI64,
}

impl Shared {
    /// Runs a passive checkpoint on `pool` (which never blocks the writer or readers) and
    /// returns the WAL's pages and how many of them are now copied back.
    async fn checkpoint(&self, pool: &SqlitePool) -> Result<(i64, i64), sqlx::Error> {
        let _turn = self.turn.lock().await;
        let result: Result<(i64, i64, i64), sqlx::Error> = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(pool).await;
        match result {
            Ok((_busy, wal_pages, copied)) => {
                self.wal_pages.store(wal_pages, Ordering::Relaxed);
                Ok((wal_pages, copied))
            }
            Err(error) => {
                if is_failed_sqlite_sync(&error) {
                    self.durability.fail(format!("a WAL checkpoint could not sync the SQLite database ({error})"));
                }
                Err(error)
            }
        }
    }

    fn durable_writes_ended(&self) -> bool {
        self.durability.failure().is_some()
    }
}

impl Checkpointer {
    /// Starts the background checkpoints of the SQLite database file at `database` on `read`
    /// (any connection but the writers'); they end when every `Checkpointer` is dropped, or
    /// once a sync has failed. `write` is the span writer's connection and `other_write` the one
    /// every other write uses; a failed sync is recorded in `durability`, and each write-back
    /// started counted in `write_backs`.
    pub(crate) fn spawn(
        database: &Path,
        write_backs: Arc<AtomicU64>,
        read: SqlitePool,
        write: SqlitePool,
        other_write: SqlitePool,
        restart_pages: u32,
        durability: WalSync,
    ) -> Checkpointer {
        let (commits, mut pending) = mpsc::channel::<()>(1);
        let shared = Arc::new(Shared {
            turn: Mutex::new(()),
            durability,
            wal_pages: AtomicI64::new(0),
            restarted_at: AtomicI64::new(0),
        });
        let background = shared.clone();
        let writers = [write.clone(), other_write];
        let write_back = DatabaseWriteBack::spawn(database, write_backs)
            .inspect_err(|error| tracing::warn!(%error, "cannot start the database file's write-back; checkpoints' syncs will write it all"))
            .ok();
        tokio::spawn(async move {
            // Checkpoint once a commit lands; commits that land meanwhile or during the gather
            // pause leave one pending signal, so the last commit is always copied back.
            loop {
                // Checked before waiting, so a checkpoint's own failed sync stops the next at once.
                if background.durable_writes_ended() {
                    tracing::warn!("WAL checkpoints stop: durable writes have ended until the server restarts");
                    // Refused writes still commit (a Collector keeps retrying), and SQLite's
                    // checkpoint inside a commit could start the WAL over as well.
                    for writer in &writers {
                        if let Err(error) = sqlx::query("PRAGMA wal_autocheckpoint = 0").execute(writer).await {
                            tracing::warn!(%error, "could not switch off a writer's automatic WAL checkpoint");
                        }
                    }
                    break;
                }
                // A timeout is the idle tick; a closed channel means the store is gone.
                if let Ok(None) = tokio::time::timeout(IDLE_INTERVAL, pending.recv()).await {
                    break;
                }
                match background.checkpoint(&read).await {
                    Ok((_, copied)) if copied > 0 => write_back.iter().for_each(DatabaseWriteBack::start),
                    Ok(_) => {}
                    Err(error) => {
                        if read.is_closed() {
                            break;
                        }
                        tracing::debug!(%error, "background WAL checkpoint failed; the writer's own checkpoint covers it");
                    }
                }
                if !background.durable_writes_ended() && !copies_every_commit(background.wal_pages.load(Ordering::Relaxed), i64::from(restart_pages)) {
                    tokio::time::sleep(GATHER).await;
                }
            }
        });
        Checkpointer { commits, shared, write, restart_pages: i64::from(restart_pages) }
    }

    /// Asks for a checkpoint soon; never waits.
    pub(crate) fn committed(&self) {
        let _ = self.commits.try_send(());
    }

    /// Between the span writer's groups: once the WAL is `restart_pages` long, waits for the
    /// background's checkpoint and copies whatever it left, so that the writer's next
    /// transaction starts the WAL over. The requests of the group before were already answered.
    pub(crate) async fn restart_if_long(&self) {
        let wal_pages = self.shared.wal_pages.load(Ordering::Relaxed);
        if self.shared.durable_writes_ended() || wal_pages < self.restart_pages || wal_pages == self.shared.restarted_at.load(Ordering::Relaxed) {
            return;
        }
        match self.shared.checkpoint(&self.write).await {
            // Everything is copied and nothing is written before the writer's next transaction,
            // which starts the WAL over (unless a reader is still on an older snapshot: the WAL
            // then grows, and a later group's check tries again).
            Ok((wal_pages, copied)) if copied == wal_pages => self.shared.restarted_at.store(wal_pages, Ordering::Relaxed),
            Ok(_) => {}
            Err(error) => tracing::debug!(%error, "WAL checkpoint before a restart failed; the writer's own checkpoint covers it"),
        }
    }
}

/// The thread that starts the database file's write-back after background checkpoints. It
/// ends when its owner (the background checkpoint task) is dropped.
struct DatabaseWriteBack {
    requests: std::sync::mpsc::SyncSender<()>,
}

impl DatabaseWriteBack {
    fn spawn(database: &Path, started: Arc<AtomicU64>) -> std::io::Result<DatabaseWriteBack> {
        let file = File::open(database)?;
        // One pending request is enough: a call writes back every page dirty by then.
        let (requests, pending) = std::sync::mpsc::sync_channel::<()>(1);
        std::thread::Builder::new().name("db-write-back".into()).spawn(move || {
            let mut warned = false;
            while pending.recv().is_ok() {
                // A failure loses nothing: a page that could not be written is reported again by
                // the next checkpoint's sync, which ends durable writes. The warning only tells
                // why syncs are slower again.
                match start_write_back(&file) {
                    Ok(()) => {
                        started.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(error) => {
                        if !std::mem::replace(&mut warned, true) {
                            tracing::warn!(%error, "could not start writing the database file back; later failures are not logged");
                        }
                    }
                }
            }
        })?;
        Ok(DatabaseWriteBack { requests })
    }

    /// Asks for a write-back soon; never waits.
    fn start(&self) {
        let _ = self.requests.try_send(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_background_copies_every_commit_only_near_the_restart_point() {
        assert!(!copies_every_commit(0, 131_072));
        assert!(!copies_every_commit(117_900, 131_072));
        assert!(copies_every_commit(117_990, 131_072));
        assert!(copies_every_commit(140_000, 131_072));
        // A restart point as small as the tests' copies every commit from its 54th page.
        assert!(!copies_every_commit(53, 64));
        assert!(copies_every_commit(54, 64));
    }
}

//! Rivulet's storage layer: MLflow 3.17.2's schema on SQLite or PostgreSQL, and all SQL.
//!
//! One implementation serves both databases: statements are written once in the SQL both
//! dialects accept (`$n` placeholders, `ON CONFLICT`, row values) and [`dialect::Dialect`]
//! supplies the few fragments that differ. The [`on_pool!`] macro runs a block against
//! whichever pool is open, so each query is compiled once per backend.

mod checkpoint;
pub mod dialect;
mod error;
mod sql;
pub mod schema;
mod traces;
pub(crate) mod tracking;
pub mod uri;
mod wal_sync;
mod write_back;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use rivulet_core::tracking::validation::LongValues;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use dialect::Dialect;
pub use uri::StoreUri;

/// The open connection pools. SQLite gets two one-connection writer pools, one for span ingest
/// and one for every other write, so writers queue in the process instead of failing with
/// `SQLITE_BUSY`; PostgreSQL uses one pool for everything.
#[derive(Clone)]
pub enum Pools {
    Sqlite { read: SqlitePool, write: SqlitePool, ingest: SqlitePool },
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete read pool of either backend.
#[macro_export]
macro_rules! on_read_pool {
    ($pools:expr, |$pool:ident| $body:expr) => {
        match $pools {
            $crate::Pools::Sqlite { read: $pool, .. } => $body,
            $crate::Pools::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$pool` bound to the concrete writer pool of either backend.
#[macro_export]
macro_rules! on_write_pool {
    ($pools:expr, |$pool:ident| $body:expr) => {
        match $pools {
            $crate::Pools::Sqlite { write: $pool, .. } => $body,
            $crate::Pools::Postgres($pool) => $body,
        }
    };
}

/// Settings that change what the store writes, resolved once by the binary.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// Root URI of new experiments' artifact locations (`mlflow-artifacts:/`, `s3://…`, a path).
    pub default_artifact_root: String,
    /// What to do with param and tag values over MLflow's limits.
    pub long_values: LongValues,
    /// Connections in the (read) pool.
    pub max_connections: u32,
    /// Create or check the schema on open. Off for `--no-migrate` style deployments.
    pub migrate: bool,
    /// SQLite: WAL pages after which the span writer starts the WAL over (see `checkpoint.rs`).
    pub wal_restart_pages: u32,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            default_artifact_root: "mlflow-artifacts:/".to_string(),
            long_values: LongValues::Truncate,
            max_connections: 8,
            migrate: true,
            wal_restart_pages: checkpoint::RESTART_PAGES,
        }
    }
}

/// The tracking store over MLflow's schema. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pools: Pools,
    settings: StoreSettings,
    /// Feeds the span-ingest writers; `None` in the writers' own copies, so that dropping every
    /// other copy closes the queues and stops the writers.
    ingest: Option<traces::ingest::IngestQueues>,
    /// The ingest queues' byte budget and the writers' commit counts, shared by every copy.
    ingest_shared: std::sync::Arc<traces::ingest::IngestShared>,
    /// Makes SQLite commits durable (see wal_sync.rs); `None` on PostgreSQL and in memory.
    wal_sync: Option<wal_sync::WalSync>,
    /// Write-backs of the SQLite database file started after checkpoints (see checkpoint.rs);
    /// `None` where nothing is checkpointed.
    write_backs: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
}

impl Store {
    /// Connects to the database named by `uri`, creates MLflow's schema if the database is
    /// empty, refuses a schema of another MLflow version, and applies Rivulet's own migrations.
    pub async fn open(uri: &StoreUri, settings: StoreSettings) -> anyhow::Result<Store> {
        let pools = match uri {
            StoreUri::Sqlite { path } => {
                let options = match path {
                    None => SqliteConnectOptions::from_str("sqlite::memory:")?,
                    Some(path) => SqliteConnectOptions::new().filename(path).create_if_missing(true),
                };
                let options = options
                    .journal_mode(SqliteJournalMode::Wal)
                    // Commits do not sync the WAL themselves: wal_sync.rs does, off the writer.
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(20))
                    .pragma("case_sensitive_like", "true")
                    .with_regexp();
                // An in-memory database exists once per connection: one connection serves all.
                let read_connections = if path.is_none() { 1 } else { settings.max_connections.max(1) };
                // Two writing connections: the span writer's, with foreign keys off (see
                // `Store::begin_ingest`), and one for every other write. Both begin with
                // `BEGIN IMMEDIATE`, so they queue for SQLite's write lock instead of failing a
                // transaction that read before it wrote. Each gets a page cache that holds a whole
                // ingest group (so it does not spill dirty pages mid-transaction), statement
                // journals in memory (upserts need them), and checkpoints left to the background
                // (see checkpoint.rs).
                let write_options = options
                    .clone()
                    .pragma("cache_size", "-32768")
                    .pragma("temp_store", "memory")
                    .pragma("wal_autocheckpoint", checkpoint::writer_autocheckpoint_pages(settings.wal_restart_pages).to_string())
                    .pragma("journal_size_limit", checkpoint::wal_size_limit_bytes(settings.wal_restart_pages).to_string());
                // The writers' connections are never closed while the store is open: their page
                // caches stay warm, and the WAL file that wal_sync.rs syncs stays the same file.
                let write_pool = SqlitePoolOptions::new().max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None);
                let write = connect_sqlite(write_pool.clone(), write_options.clone())
                    .await
                    .with_context(|| format!("opening SQLite database {uri}"))?;
                let ingest = if path.is_none() {
                    write.clone()
                } else {
                    connect_sqlite(write_pool, write_options.foreign_keys(false))
                        .await
                        .with_context(|| format!("opening SQLite database {uri}"))?
                };
                let read = if path.is_none() {
                    write.clone()
                } else {
                    connect_sqlite(SqlitePoolOptions::new().max_connections(read_connections), options)
                        .await
                        .with_context(|| format!("opening SQLite database {uri}"))?
                };
                Pools::Sqlite { read, write, ingest }
            }
            StoreUri::Postgres { url } => {
                let options = PgConnectOptions::from_str(url)
                    .with_context(|| format!("invalid PostgreSQL URI {uri}"))?
                    .application_name("rivulet");
                let pool = PgPoolOptions::new()
                    .max_connections(settings.max_connections.max(2))
                    .after_connect(|connection, _| Box::pin(async move { prefer_lz4_toast(connection).await; Ok(()) }))
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await
                    .with_context(|| format!("connecting to PostgreSQL at {uri}"))?;
                Pools::Postgres(pool)
            }
        };
        if settings.migrate {
            schema::prepare(&pools, &settings.default_artifact_root).await?;
        } else {
            schema::check(&pools).await?;
        }
        let wal_sync = match uri {
            StoreUri::Sqlite { path: Some(path) } => {
                Some(wal_sync::WalSync::spawn(path).with_context(|| format!("starting the WAL sync for {uri}"))?)
            }
            _ => None,
        };
        // An in-memory database has no WAL to checkpoint.
        let (checkpointer, write_backs) = match (uri, &pools, &wal_sync) {
            (StoreUri::Sqlite { path: Some(database) }, Pools::Sqlite { read, write, ingest }, Some(durability)) => {
                let write_backs = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
                let checkpointer = checkpoint::Checkpointer::spawn(
                    database,
                    write_backs.clone(),
                    read.clone(),
                    ingest.clone(),
                    write.clone(),
                    settings.wal_restart_pages,
                    durability.clone(),
                );
                (Some(checkpointer), Some(write_backs))
            }
            _ => (None, None),
        };
        let mut store = Store { pools, settings, ingest: None, ingest_shared: Default::default(), wal_sync, write_backs };
        store.ingest = Some(traces::ingest::spawn_writers(store.clone(), checkpointer).context("starting the span writers")?);
        Ok(store)
    }

    pub(crate) fn wal_sync(&self) -> Option<&wal_sync::WalSync> {
        self.wal_sync.as_ref()
    }

    pub(crate) fn ingest_writers(&self) -> Option<&traces::ingest::IngestQueues> {
        self.ingest.as_ref()
    }

    pub fn dialect(&self) -> Dialect {
        match self.pools {
            Pools::Sqlite { .. } => Dialect::Sqlite,
            Pools::Postgres(_) => Dialect::Postgres,
        }
    }

    pub fn pools(&self) -> &Pools {
        &self.pools
    }

    pub fn settings(&self) -> &StoreSettings {
        &self.settings
    }

    // [ops] Read-only helpers for readiness, metrics and `rivulet db check`.

    /// Checks, without changing anything, that the schema is at the versions this build serves;
    /// the error says what to run.
    pub async fn check_schema(&self) -> anyhow::Result<()> {
        schema::check(&self.pools).await
    }

    /// Span batches waiting for the ingest writers, and how many may wait before exports get 503.
    pub fn ingest_queue(&self) -> Option<(usize, usize)> {
        self.ingest.as_ref().map(traces::ingest::IngestQueues::depth)
    }

    /// SQLite only: syncs of the WAL that made commits durable, and the seconds they took.
    pub fn wal_syncs(&self) -> Option<(u64, f64)> {
        self.wal_sync.as_ref().map(wal_sync::WalSync::totals)
    }

    /// SQLite only: write-backs of the database file started after background checkpoints.
    pub fn sqlite_write_backs(&self) -> Option<u64> {
        self.write_backs.as_ref().map(|started| started.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// A failure only a restart can clear: on SQLite, a failed sync of the WAL, after which
    /// every write is refused (see wal_sync.rs).
    pub fn lasting_failure(&self) -> Option<String> {
        self.wal_sync.as_ref().and_then(|sync| sync.failure()).map(|failure| {
            format!("{failure}; writes are refused until the server restarts")
        })
    }

    /// Group commits the ingest writers have made, and the spans they carried (their ratio is the
    /// mean group size, which shows how well concurrent exports are being batched).
    pub fn ingest_commits(&self) -> (u64, u64) {
        self.ingest_shared.totals()
    }

    /// Closes every connection, waiting for in-flight queries.
    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite { read, write, ingest } => {
                read.close().await;
                write.close().await;
                ingest.close().await;
            }
            Pools::Postgres(pool) => pool.close().await,
        }
    }
}

/// Span content is mostly over PostgreSQL's 2 KB TOAST threshold, and compressing it with the
/// default pglz took a quarter of PostgreSQL's CPU under ingest; lz4 is several times cheaper
/// to compress and to read back. A session setting, so MLflow's schema is untouched; servers
/// before 14, or built without lz4, refuse it and keep pglz.
async fn prefer_lz4_toast(connection: &mut sqlx::PgConnection) {
    use sqlx::Executor;
    if let Err(error) = connection.execute("SET default_toast_compression = 'lz4'").await {
        tracing::debug!(%error, "PostgreSQL keeps pglz for TOAST compression");
    }
}

/// Opens a SQLite pool, retrying for a few seconds while another connection holds a lock that
/// opening needs: switching a new database to WAL can fail at once with `SQLITE_BUSY`, without
/// waiting out the busy timeout, when replicas start together on one database file.
async fn connect_sqlite(pool: SqlitePoolOptions, options: SqliteConnectOptions) -> Result<SqlitePool, sqlx::Error> {
    let mut attempts = 0;
    loop {
        match pool.clone().connect_with(options.clone()).await {
            Err(sqlx::Error::Database(error))
                if attempts < 100 && error.code().and_then(|code| code.parse::<i32>().ok()).is_some_and(|code| code & 0xff == 5) =>
            {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            result => return result,
        }
    }
}

/// [ops] Whether a failure of [`Store::open`] means the database could not be reached — worth
/// retrying while it starts — rather than a refusal that retrying cannot fix (wrong password,
/// wrong schema version).
pub fn is_unreachable(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| match cause.downcast_ref::<sqlx::Error>() {
        Some(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_)) => true,
        // PostgreSQL starting up or out of connection slots; SQLSTATE class 08 is a connection failure.
        Some(sqlx::Error::Database(error)) => {
            error.code().is_some_and(|code| matches!(code.as_ref(), "57P03" | "53300") || code.starts_with("08"))
        }
        _ => false,
    })
}

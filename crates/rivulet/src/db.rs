//! The database side of operations: `rivulet db upgrade` / `rivulet db check`, opening the store at start with retries while the database is unreachable, and the store probe behind `/ready` and `/metrics`.
//!
//! `db upgrade` is what a migration Job runs when several replicas share PostgreSQL and start
//! with `--no-migrate`; `db check` is the same verification those replicas do, as a command.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use rivulet_api::ops::{PoolSample, StartupGate, StoreProbe};
use rivulet_store::schema::MLFLOW_ALEMBIC_HEAD;
use rivulet_store::{Pools, Store, StoreSettings, StoreUri};

use crate::config;

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create MLflow's schema in an empty database and apply Rivulet's own migrations (run once,
    /// e.g. as a Kubernetes Job, before servers started with --no-migrate). Never changes MLflow's
    /// alembic revision: a database from another MLflow version is refused with what to do.
    Upgrade(DbArgs),
    /// Verify, without changing anything, that the database is ready for this Rivulet; exit 1
    /// with what to run otherwise.
    Check(DbArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// The database (as `mlflow db upgrade URL`); or --backend-store-uri, MLFLOW_BACKEND_STORE_URI,
    /// MLFLOW_TRACKING_URI when it names a database. [default: sqlite:///mlflow.db]
    #[arg(value_name = "URL")]
    pub url: Option<String>,

    #[arg(long)]
    pub backend_store_uri: Option<String>,

    /// Artifact root recorded for the Default experiment when the schema is created; use the
    /// server's value. [default: mlflow-artifacts:/]
    #[arg(long, env = "MLFLOW_DEFAULT_ARTIFACT_ROOT")]
    pub default_artifact_root: Option<String>,
}

fn resolve_uri(args: &DbArgs) -> anyhow::Result<StoreUri> {
    if args.url.is_some() && args.backend_store_uri.is_some() {
        bail!("give the database either as the URL argument or as --backend-store-uri, not both");
    }
    let flag = args.url.as_deref().or(args.backend_store_uri.as_deref());
    let (uri, source) = config::resolve_backend_store_uri(
        flag,
        std::env::var("MLFLOW_BACKEND_STORE_URI").ok().as_deref(),
        std::env::var("MLFLOW_TRACKING_URI").ok().as_deref(),
    );
    StoreUri::parse(&uri).map_err(|message| anyhow::anyhow!("{message} (from {})", source.describe()))
}

/// Runs a `rivulet db …` command; the error (exit status 1) says what to change.
pub async fn run(command: DbCommand) -> anyhow::Result<()> {
    match command {
        DbCommand::Upgrade(args) => {
            let uri = resolve_uri(&args)?;
            let default_artifact_root = match args.default_artifact_root.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
                Some(root) if config::is_local_path(root) => config::absolute(root)?,
                Some(root) => root.to_string(),
                None => "mlflow-artifacts:/".to_string(),
            };
            let settings = StoreSettings { default_artifact_root, migrate: true, ..StoreSettings::default() };
            let store = Store::open(&uri, settings).await.with_context(|| format!("upgrading {uri}"))?;
            store.close().await;
            println!("{uri}: schema is current (MLflow alembic revision {MLFLOW_ALEMBIC_HEAD}, all Rivulet migrations applied)");
            Ok(())
        }
        DbCommand::Check(args) => {
            let uri = resolve_uri(&args)?;
            check(&uri).await?;
            println!("{uri}: ready for Rivulet {} (MLflow alembic revision {MLFLOW_ALEMBIC_HEAD}, all Rivulet migrations applied)", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
    }
}

/// The `db check` verification: the database exists, answers, and has the expected schema.
pub async fn check(uri: &StoreUri) -> anyhow::Result<()> {
    if let StoreUri::Sqlite { path: Some(path) } = uri {
        // Opening would create an empty file, and a check must not change anything.
        if !path.exists() {
            bail!("the SQLite database {} does not exist; create it with `rivulet db upgrade {uri}` (or start the server without --no-migrate)", path.display());
        }
    }
    let settings = StoreSettings { migrate: false, ..StoreSettings::default() };
    match Store::open(uri, settings).await {
        Ok(store) => {
            store.close().await;
            Ok(())
        }
        Err(error) if rivulet_store::is_unreachable(&error) => {
            Err(error.context(format!("cannot reach the database at {uri}; check that it is running and the host, port and credentials")))
        }
        Err(error) => Err(error.context(format!(
            "{uri} is not ready for this Rivulet (`rivulet db upgrade` creates a missing schema and applies Rivulet's \
             migrations; it never changes MLflow's alembic revision)"
        ))),
    }
}

/// Opens the store, retrying with backoff for up to `wait` while the database cannot be reached
/// (a database that starts after the server is normal in a cluster). Each attempt is logged with
/// the reason and what to check; `gate` tells `/ready` meanwhile. Refusals that retrying cannot
/// fix (wrong password, wrong schema version) fail at once.
pub async fn open_with_retry(uri: &StoreUri, settings: StoreSettings, wait: Duration, gate: &StartupGate) -> anyhow::Result<Store> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(500);
    let mut attempt = 1u32;
    loop {
        match Store::open(uri, settings.clone()).await {
            Ok(store) => {
                if attempt > 1 {
                    tracing::info!(attempt, "reached the database at {uri}");
                }
                return Ok(store);
            }
            Err(error) if rivulet_store::is_unreachable(&error) && started.elapsed() + delay < wait => {
                let remaining = wait.saturating_sub(started.elapsed()).as_secs();
                tracing::warn!(
                    attempt,
                    retry_in_ms = delay.as_millis() as u64,
                    gives_up_in_s = remaining,
                    "cannot reach the database at {uri}: {error:#}; retrying. Check that the database is running and \
                     reachable from this host, and the host and port in --backend-store-uri; /ready answers 503 until then"
                );
                // The log has the details; /ready is public, so it only says what is awaited.
                gate.set_status(format!("cannot reach the database yet (attempt {attempt}); see the server log"));
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
                attempt += 1;
            }
            Err(error) if rivulet_store::is_unreachable(&error) => {
                return Err(error.context(format!(
                    "the database at {uri} was still unreachable after {} s and {attempt} attempt(s); check that it is \
                     running and reachable from this host and the host and port in --backend-store-uri, or wait longer \
                     with --db-startup-timeout",
                    wait.as_secs()
                )));
            }
            Err(error) => return Err(error),
        }
    }
}

/// The store checks behind `/ready` and the pool and queue gauges of `/metrics`.
pub struct StoreChecks(pub Store);

macro_rules! pool_sample {
    ($name:expr, $pool:expr) => {
        PoolSample {
            name: $name,
            size: $pool.size(),
            idle: u32::try_from($pool.num_idle()).unwrap_or(u32::MAX),
            max: $pool.options().get_max_connections(),
        }
    };
}

impl StoreProbe for StoreChecks {
    fn check_schema(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move { self.0.check_schema().await.map_err(|error| format!("{error:#}")) })
    }

    fn pools(&self) -> Vec<PoolSample> {
        match self.0.pools() {
            Pools::Sqlite { read, write, ingest } => {
                vec![pool_sample!("read", read), pool_sample!("write", write), pool_sample!("ingest", ingest)]
            }
            Pools::Postgres(pool) => vec![pool_sample!("main", pool)],
        }
    }

    fn ingest_queue(&self) -> Option<(usize, usize)> {
        self.0.ingest_queue()
    }

    fn ingest_commits(&self) -> Option<(u64, u64)> {
        Some(self.0.ingest_commits())
    }

    fn wal_syncs(&self) -> Option<(u64, f64)> {
        self.0.wal_syncs()
    }

    fn sqlite_write_backs(&self) -> Option<u64> {
        self.0.sqlite_write_backs()
    }

    fn lasting_failure(&self) -> Option<String> {
        self.0.lasting_failure()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn check_message(uri: &StoreUri) -> String {
        format!("{:#}", check(uri).await.unwrap_err())
    }

    #[tokio::test]
    async fn check_says_what_to_run() {
        let dir = tempfile::tempdir().unwrap();
        let missing = StoreUri::Sqlite { path: Some(dir.path().join("missing.db")) };
        let message = check_message(&missing).await;
        assert!(message.contains("does not exist") && message.contains("rivulet db upgrade"), "{message}");
        assert!(!dir.path().join("missing.db").exists(), "a check must not create the database");

        // An empty database: no schema yet.
        let empty = StoreUri::Sqlite { path: Some(dir.path().join("empty.db")) };
        std::fs::File::create(dir.path().join("empty.db")).unwrap();
        let message = check_message(&empty).await;
        assert!(message.contains("no MLflow schema") && message.contains("rivulet db upgrade"), "{message}");

        // `db upgrade` makes it pass, and a second upgrade changes nothing.
        let args = |path: &std::path::Path| DbArgs { url: Some(format!("sqlite:///{}", path.display())), backend_store_uri: None, default_artifact_root: None };
        run(DbCommand::Upgrade(args(&dir.path().join("empty.db")))).await.unwrap();
        run(DbCommand::Upgrade(args(&dir.path().join("empty.db")))).await.unwrap();
        check(&empty).await.unwrap();
        run(DbCommand::Check(args(&dir.path().join("empty.db")))).await.unwrap();
    }

    #[tokio::test]
    async fn check_on_an_older_mlflow_schema_names_mlflow_db_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let uri = StoreUri::Sqlite { path: Some(dir.path().join("old.db")) };
        let store = Store::open(&uri, StoreSettings::default()).await.unwrap();
        if let Pools::Sqlite { write, .. } = store.pools() {
            // An MLflow 2.x revision, as a database last touched by an older MLflow has.
            sqlx::query("UPDATE alembic_version SET version_num = '0584bdc529eb'").execute(write).await.unwrap();
        }
        store.close().await;
        let message = check_message(&uri).await;
        assert!(message.contains("0584bdc529eb") && message.contains("mlflow db upgrade"), "{message}");
    }

    #[tokio::test]
    async fn unreachable_postgres_is_explained_without_the_password() {
        // Nothing listens on port 9 of loopback. The pool keeps trying to connect for its acquire
        // timeout, so this one attempt already outlasts the 1 s window.
        let uri = StoreUri::parse("postgresql://u:secret@127.0.0.1:9/db").unwrap();
        let gate = StartupGate::new(None);
        let Err(error) = open_with_retry(&uri, StoreSettings::default(), Duration::from_secs(1), &gate).await else {
            panic!("nothing listens there");
        };
        let message = format!("{error:#}");
        assert!(message.contains("still unreachable") && message.contains("--db-startup-timeout"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }
}

//! Throwaway databases for the store's integration tests: a SQLite file in a temp dir, and a PostgreSQL database when `RIVULET_TEST_POSTGRES_URL` is set.
//!
//! Every test gets its own database, so tests run in parallel and never see each other's rows.
//! PostgreSQL is optional: without the variable, `cargo test` still passes on SQLite alone and
//! says that the PostgreSQL part was skipped.

// Each test file compiles its own copy of this module and uses only part of it.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;

use rivulet_store::StoreUri;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, PgConnection, SqliteConnection};

/// Names the maintenance database (e.g. `postgresql://postgres@127.0.0.1:5432/postgres`) in
/// which test databases are created and dropped.
pub const POSTGRES_URL_VAR: &str = "RIVULET_TEST_POSTGRES_URL";

/// A SQLite database file that lives as long as this value.
pub struct FreshSqlite {
    pub uri: StoreUri,
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

/// A new, empty SQLite database in its own temp dir (the file is created on first open).
pub fn fresh_sqlite() -> FreshSqlite {
    let dir = tempfile::tempdir().expect("creating a temp dir");
    let path = dir.path().join("mlflow.db");
    FreshSqlite { uri: StoreUri::Sqlite { path: Some(path.clone()) }, path, _dir: dir }
}

/// A PostgreSQL database created for one test and dropped, with any open connections, when
/// this value goes out of scope.
pub struct FreshPostgres {
    pub uri: StoreUri,
    /// libpq URL of the new database, for connecting to it directly.
    pub url: String,
    pub name: String,
    maintenance_url: String,
}

/// A new, empty PostgreSQL database, or `None` when `RIVULET_TEST_POSTGRES_URL` is unset.
pub async fn fresh_postgres() -> Option<FreshPostgres> {
    let Ok(maintenance_url) = std::env::var(POSTGRES_URL_VAR) else {
        // CI sets this so that a missing database URL fails loudly instead of passing quietly.
        if std::env::var("RIVULET_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
            panic!("RIVULET_REQUIRE_POSTGRES=1 but {POSTGRES_URL_VAR} is not set");
        }
        // Straight to stderr, which the test harness does not capture (eprintln! it would), and
        // once per test binary rather than once per test.
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            let _ = writeln!(std::io::stderr(), "{POSTGRES_URL_VAR} is not set: skipping the PostgreSQL part of these tests");
        });
        return None;
    };
    let name = format!("rivulet_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&maintenance_url)
        .await
        .unwrap_or_else(|e| panic!("connecting to {POSTGRES_URL_VAR}: {e}"));
    sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\"")).execute(&mut admin).await.expect("creating a test database");
    admin.close().await.ok();

    let mut url = url::Url::parse(&maintenance_url).expect("RIVULET_TEST_POSTGRES_URL is not a URL");
    url.set_path(&name);
    let url = url.to_string();
    let uri = StoreUri::parse(&url).expect("a PostgreSQL store URI");
    Some(FreshPostgres { uri, url, name, maintenance_url })
}

impl Drop for FreshPostgres {
    fn drop(&mut self) {
        // Drop runs inside the test's tokio runtime, which cannot be blocked on; a thread with
        // its own small runtime does the async work, whatever runtime flavour the test uses.
        let maintenance_url = self.maintenance_url.clone();
        let statement = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&maintenance_url).await?;
                sqlx::raw_sql(&statement).execute(&mut admin).await?;
                admin.close().await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}; drop it by hand", self.name);
        }
    }
}

/// One fresh database of either kind, for tests that run the same scenario on both.
pub enum FreshDb {
    Sqlite(FreshSqlite),
    Postgres(FreshPostgres),
}

impl FreshDb {
    pub fn uri(&self) -> &StoreUri {
        match self {
            FreshDb::Sqlite(db) => &db.uri,
            FreshDb::Postgres(db) => &db.uri,
        }
    }

    /// `sqlite` or `postgresql`, for assertion messages.
    pub fn label(&self) -> &'static str {
        match self {
            FreshDb::Sqlite(_) => "sqlite",
            FreshDb::Postgres(_) => "postgresql",
        }
    }

    /// Runs SQL (several statements allowed) on a connection of its own, bypassing any store,
    /// e.g. to set up what MLflow would have left in the database.
    pub async fn execute(&self, sql: &str) {
        match self {
            FreshDb::Sqlite(db) => {
                let mut conn = db.connect().await;
                sqlx::raw_sql(sql).execute(&mut conn).await.unwrap_or_else(|e| panic!("sqlite: {e}\n{sql}"));
                conn.close().await.ok();
            }
            FreshDb::Postgres(db) => {
                let mut conn = db.connect().await;
                sqlx::raw_sql(sql).execute(&mut conn).await.unwrap_or_else(|e| panic!("postgresql: {e}\n{sql}"));
                conn.close().await.ok();
            }
        }
    }

    /// The first column of every row of `sql`, which must produce text on both databases
    /// (`CAST(x AS TEXT)`, `||`).
    pub async fn query_strings(&self, sql: &str) -> Vec<String> {
        match self {
            FreshDb::Sqlite(db) => {
                let mut conn = db.connect().await;
                let rows = sqlx::query_scalar(sql).fetch_all(&mut conn).await;
                conn.close().await.ok();
                rows.unwrap_or_else(|e| panic!("sqlite: {e}\n{sql}"))
            }
            FreshDb::Postgres(db) => {
                let mut conn = db.connect().await;
                let rows = sqlx::query_scalar(sql).fetch_all(&mut conn).await;
                conn.close().await.ok();
                rows.unwrap_or_else(|e| panic!("postgresql: {e}\n{sql}"))
            }
        }
    }
}

impl FreshSqlite {
    /// A plain connection to the file, creating it if needed.
    pub async fn connect(&self) -> SqliteConnection {
        let options = SqliteConnectOptions::new().filename(&self.path).create_if_missing(true);
        SqliteConnection::connect_with(&options).await.expect("opening the test SQLite file")
    }
}

impl FreshPostgres {
    /// A plain connection to the test database.
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.expect("connecting to the test database")
    }
}

/// A fresh SQLite database, plus a fresh PostgreSQL one when `RIVULET_TEST_POSTGRES_URL` is set.
pub async fn fresh_databases() -> Vec<FreshDb> {
    let mut databases = vec![FreshDb::Sqlite(fresh_sqlite())];
    if let Some(postgres) = fresh_postgres().await {
        databases.push(FreshDb::Postgres(postgres));
    }
    databases
}

/// Declares each conformance scenario once per backend: `sqlite::<name>` always, and
/// `postgres::<name>` against a fresh database when PostgreSQL is configured. The including
/// test file provides `open(&StoreUri) -> Store` and the scenario functions.
#[allow(unused_macros)]
macro_rules! conformance {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let database = super::common::fresh_sqlite();
                    super::$scenario(super::open(&database.uri).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let Some(database) = super::common::fresh_postgres().await else { return };
                    super::$scenario(super::open(&database.uri).await).await;
                }
            )*
        }
    };
}

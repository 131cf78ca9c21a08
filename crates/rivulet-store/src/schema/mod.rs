//! MLflow 3.17.2's schema: created when empty, accepted at MLflow's head, refused otherwise; then Rivulet's own migrations.
//!
//! Rivulet shares the database with MLflow's own tooling (`mlflow db upgrade`, `mlflow gc`, a
//! Python server pointed at the same URI), so it must leave exactly the catalog MLflow's
//! alembic migrations leave, and say which alembic revision that is. It never migrates MLflow's
//! schema from one revision to another: that stays `mlflow db upgrade`'s job. What Rivulet adds
//! for itself is versioned separately in `rivulet_schema_migrations` and only ever adds
//! `rivulet_`-named objects, which MLflow ignores (it only checks that its own tables exist).
//!
//! The whole preparation runs in one transaction: SQLite's DDL and PostgreSQL's are both
//! transactional, so a crash or a refusal leaves the database as it was. On PostgreSQL several
//! replicas may start at once; an advisory lock held for the transaction makes them take turns,
//! and the later ones find the work done.

use anyhow::{bail, Context};
use rivulet_core::tracking::{
    append_to_uri_path, now_millis, DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, DEFAULT_WORKSPACE,
};
use sqlx::{Postgres, Sqlite, Transaction};

use crate::Pools;

/// The alembic revision of MLflow 3.17.2's schema, the only one Rivulet reads and writes.
pub const MLFLOW_ALEMBIC_HEAD: &str = "dc11669786a5";

/// How many schema migrations of Rivulet's own a ready database has applied.
pub fn rivulet_migration_count() -> usize {
    SQLITE_MIGRATIONS.len()
}

/// Every alembic revision MLflow reached before [`MLFLOW_ALEMBIC_HEAD`], oldest first. A
/// database at one of these only needs `mlflow db upgrade`; any other revision came from a
/// newer MLflow (or not from MLflow at all), which deserves a different instruction.
const MLFLOW_EARLIER_REVISIONS: &[&str] = &[
    "451aebb31d03", "90e64c465722", "181f10493468", "df50e92ffc5e", "7ac759974ad8", "89d4b8295536",
    "2b4d017a5e9b", "cfd24bdc0731", "0a8213491aaa", "728d730b5ebd", "27a6a02d2cf1", "84291f40a231",
    "a8c4a736bde6", "39d1c3be5f05", "c48cb773bb87", "bd07f7e963c5", "0c779009ac13", "cc1f77228345",
    "97727af70f4d", "3500859a5d39", "7f2a7d5fae7d", "2d6e25af4d3e", "acf3f17fdcc7", "867495a8f9d4",
    "5b0e9adcef9c", "4465047574b1", "f5a4f2784254", "0584bdc529eb", "400f98739977", "6953534de441",
    "bda7b8c39065", "cbc13b556ace", "770bee3ae1dd", "a1b2c3d4e5f6", "de4033877273", "1a0cddfcaa16",
    "534353b11cbc", "71994744cf8e", "3da73c924c2f", "bf29a5ff90ea", "1bd49d398cd23", "b7c8d9e0f1a2",
    "5d2d30f0abce", "c9d4e5f6a7b8", "2c33131f4dae", "d3e4f5a6b7c8", "d0e1f2a3b4c5", "c8d9e0f1a2b3",
    "1b5f0d9ad7c1", "e1f2a3b4c5d6", "76601a5f987d", "c3d6457b6d8a", "a5b4c3d2e1f0", "ae8bbe7743c9",
    "7d34483879f0", "da6fb0208061", "89d3d66ed43f", "b7e4c1a90f23", "a8b9c0d1e2f3", "c1d2e3f4a5b6",
    "c3d9e7f1a2b4", "6f8d9c3b2a1e", "1971f2d9a75b", "17e22815139b", "b7e2c1a4d9f3", "75868b020152",
];

const MLFLOW_HEAD_SQLITE: &str = include_str!("mlflow_head.sqlite.sql");
const MLFLOW_HEAD_POSTGRES: &str = include_str!("mlflow_head.postgres.sql");
const RIVULET_MIGRATIONS_TABLE: &str = include_str!("rivulet/schema_migrations.sql");

/// One of Rivulet's own schema changes. The same version means the same change on both
/// databases; only the SQL text may differ.
struct Migration {
    version: i64,
    description: &'static str,
    sql: &'static str,
}

const SQLITE_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "index runs by experiment and start time for search_runs",
        sql: include_str!("rivulet/0001_runs_experiment_id_start_time.sqlite.sql"),
    },
    Migration {
        version: 2,
        description: "per-trace roll-up state kept between ingest batches",
        sql: include_str!("rivulet/0002_trace_rollups.sqlite.sql"),
    },
    Migration {
        version: 3,
        description: "service name of each span, for the service graph",
        sql: include_str!("rivulet/0003_span_services.sqlite.sql"),
    },
    Migration {
        version: 4,
        description: "index latest metrics by key and value for search_runs ordered by a metric",
        sql: include_str!("rivulet/0004_latest_metrics_key_value.sqlite.sql"),
    },
    Migration {
        version: 5,
        description: "a trace's primary service, so spans from it need no service row",
        sql: include_str!("rivulet/0005_trace_primary_service.sqlite.sql"),
    },
];

const POSTGRES_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "index runs by experiment and start time for search_runs",
        sql: include_str!("rivulet/0001_runs_experiment_id_start_time.postgres.sql"),
    },
    Migration {
        version: 2,
        description: "per-trace roll-up state kept between ingest batches",
        sql: include_str!("rivulet/0002_trace_rollups.postgres.sql"),
    },
    Migration {
        version: 3,
        description: "service name of each span, for the service graph",
        sql: include_str!("rivulet/0003_span_services.postgres.sql"),
    },
    Migration {
        version: 4,
        description: "index latest metrics by key and value for search_runs ordered by a metric",
        sql: include_str!("rivulet/0004_latest_metrics_key_value.postgres.sql"),
    },
    Migration {
        version: 5,
        description: "a trace's primary service, so spans from it need no service row",
        sql: include_str!("rivulet/0005_trace_primary_service.postgres.sql"),
    },
];

/// Key of the transaction-scoped advisory lock that serialises schema preparation across
/// replicas. Any fixed number would do; this one spells "rivulet" so it is recognisable in
/// `pg_locks`.
const POSTGRES_SCHEMA_LOCK: i64 = 0x0072_6976_756c_6574;

const ENABLE_MIGRATIONS_HINT: &str =
    "run `rivulet db upgrade <backend store URI>` (as a migration Job, say), or start Rivulet once without --no-migrate; either creates or completes the schema";

/// Create MLflow's head schema in an empty database (all 65 tables, indexes, constraints,
/// sequences, the secrets trigger/function, the alembic_version row), or accept an existing
/// database at MLflow's head untouched; refuse any other alembic version with an actionable
/// message; refuse a non-empty database that has no alembic_version. Then apply Rivulet's own
/// migrations, then create the Default experiment (id 0) if missing, exactly as MLflow does
/// (idempotent).
pub async fn prepare(pools: &Pools, default_artifact_root: &str) -> anyhow::Result<()> {
    let mut tx = match pools {
        Pools::Sqlite { write, .. } => {
            // IMMEDIATE takes the write lock before the first read, so another process
            // preparing the same file waits here instead of failing halfway through.
            let tx = write.begin_with("BEGIN IMMEDIATE").await.context("starting the schema transaction")?;
            SchemaTx::Sqlite(tx)
        }
        Pools::Postgres(pool) => {
            let mut tx = pool.begin().await.context("starting the schema transaction")?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(POSTGRES_SCHEMA_LOCK)
                .execute(&mut *tx)
                .await
                .context("waiting for the schema lock")?;
            SchemaTx::Postgres(tx)
        }
    };

    let found = tx.inspect().await?;
    match mlflow_schema_state(&found)? {
        MlflowSchema::Missing => {
            tracing::info!(revision = MLFLOW_ALEMBIC_HEAD, "creating MLflow's schema in an empty database");
            tx.create_mlflow_head().await?;
        }
        MlflowSchema::AtHead => {}
    }

    let applied = match found.rivulet_migrations {
        Some(applied) => applied,
        None => {
            tx.run_script(RIVULET_MIGRATIONS_TABLE).await.context("creating rivulet_schema_migrations")?;
            Vec::new()
        }
    };
    warn_about_unknown_migrations(&applied, tx.migrations());
    for migration in tx.migrations() {
        if applied.contains(&migration.version) {
            continue;
        }
        tracing::info!(version = migration.version, description = migration.description, "applying Rivulet schema migration");
        tx.run_script(migration.sql)
            .await
            .with_context(|| format!("applying Rivulet schema migration {} ({})", migration.version, migration.description))?;
        tx.record_migration(migration).await?;
    }

    refuse_experiments_outside_default_workspace(&mut tx).await?;
    if !tx.default_experiment_exists().await? {
        let artifact_location = append_to_uri_path(default_artifact_root, &DEFAULT_EXPERIMENT_ID.to_string());
        tracing::info!(%artifact_location, "creating the Default experiment");
        tx.create_default_experiment(&artifact_location).await?;
    }

    tx.commit().await
}

/// Verify without changing anything (for a --no-migrate start and a `db check` command):
/// MLflow head present, Rivulet migrations all applied. Error message says what to run.
pub async fn check(pools: &Pools) -> anyhow::Result<()> {
    let mut tx = match pools {
        Pools::Sqlite { read, .. } => SchemaTx::Sqlite(read.begin().await.context("starting the schema check")?),
        Pools::Postgres(pool) => {
            let mut tx = pool.begin().await.context("starting the schema check")?;
            sqlx::query("SET TRANSACTION READ ONLY").execute(&mut *tx).await?;
            SchemaTx::Postgres(tx)
        }
    };
    let found = tx.inspect().await?;
    if let MlflowSchema::Missing = mlflow_schema_state(&found)? {
        bail!("the database has no MLflow schema yet: {ENABLE_MIGRATIONS_HINT}");
    }
    let pending: Vec<String> = match &found.rivulet_migrations {
        None => tx.migrations().iter().map(|m| m.version.to_string()).collect(),
        Some(applied) => {
            tx.migrations().iter().filter(|m| !applied.contains(&m.version)).map(|m| m.version.to_string()).collect()
        }
    };
    if !pending.is_empty() {
        bail!("Rivulet's own schema migrations {} are not applied: {ENABLE_MIGRATIONS_HINT}", pending.join(", "));
    }
    refuse_experiments_outside_default_workspace(&mut tx).await?;
    // Dropping the transaction rolls it back; nothing was written anyway.
    Ok(())
}

/// What the database holds before Rivulet touches it.
#[derive(Debug, Default)]
struct Found {
    /// Base tables in the schema Rivulet works in.
    tables: Vec<String>,
    /// Rows of `alembic_version`, or `None` when the table does not exist.
    alembic_versions: Option<Vec<String>>,
    /// Applied Rivulet versions, or `None` when `rivulet_schema_migrations` does not exist.
    rivulet_migrations: Option<Vec<i64>>,
}

#[derive(Debug, PartialEq, Eq)]
enum MlflowSchema {
    /// An empty database: Rivulet creates MLflow's head schema.
    Missing,
    /// MLflow's schema at the revision Rivulet serves.
    AtHead,
}

/// Decides what to do about MLflow's part of the schema, or explains why Rivulet must not
/// touch this database.
fn mlflow_schema_state(found: &Found) -> anyhow::Result<MlflowSchema> {
    let versions = match &found.alembic_versions {
        None if found.tables.is_empty() => return Ok(MlflowSchema::Missing),
        None => {
            let mut sample: Vec<&str> = found.tables.iter().map(String::as_str).take(5).collect();
            if found.tables.len() > sample.len() {
                sample.push("…");
            }
            bail!(
                "the database is not empty ({} tables: {}) but has no alembic_version table, so it is not an MLflow \
                 tracking database; point Rivulet at an empty database or at one that MLflow 3.17.2 created",
                found.tables.len(),
                sample.join(", ")
            );
        }
        Some(versions) => versions,
    };
    match versions.as_slice() {
        [version] if version == MLFLOW_ALEMBIC_HEAD => Ok(MlflowSchema::AtHead),
        [version] if MLFLOW_EARLIER_REVISIONS.contains(&version.as_str()) => bail!(
            "database schema is at MLflow alembic revision {version}; Rivulet serves revision {MLFLOW_ALEMBIC_HEAD} \
             (MLflow 3.17.2): take a backup, then upgrade it with `mlflow db upgrade <uri>` using MLflow 3.17.2 first"
        ),
        [version] => bail!(
            "database schema is at alembic revision {version}, which MLflow 3.17.2 does not know: it was written by \
             a newer MLflow (or by another alembic project); Rivulet serves revision {MLFLOW_ALEMBIC_HEAD} (MLflow \
             3.17.2) and cannot downgrade a schema, so use it with that newer MLflow or restore a backup taken \
             before the upgrade"
        ),
        [] => bail!(
            "the alembic_version table is empty, which MLflow leaves behind when its schema creation fails halfway; \
             restore a backup, or drop the partial schema and let Rivulet create it in an empty database"
        ),
        several => bail!(
            "the alembic_version table names several revisions ({}), which MLflow never does; Rivulet serves \
             revision {MLFLOW_ALEMBIC_HEAD} (MLflow 3.17.2) and will not guess which one is right",
            several.join(", ")
        ),
    }
}

/// A newer Rivulet may have applied migrations this one does not know. They only add
/// `rivulet_` objects, so this version still works; say so rather than fail.
fn warn_about_unknown_migrations(applied: &[i64], known: &[Migration]) {
    let unknown: Vec<i64> = applied.iter().copied().filter(|v| !known.iter().any(|m| m.version == *v)).collect();
    if !unknown.is_empty() {
        tracing::warn!(?unknown, "the database has Rivulet schema migrations this version does not know (written by a newer Rivulet)");
    }
}

/// MLflow's single-tenant store refuses to start when experiments live in another workspace,
/// because it would silently hide them; Rivulet serves one workspace and does the same.
async fn refuse_experiments_outside_default_workspace(tx: &mut SchemaTx) -> anyhow::Result<()> {
    let outside = tx.count_experiments_outside_default_workspace().await?;
    if outside > 0 {
        bail!(
            "{outside} experiments belong to workspaces other than '{DEFAULT_WORKSPACE}'; Rivulet serves a single \
             workspace, so move them back to '{DEFAULT_WORKSPACE}' or keep serving this database with MLflow's \
             workspaces enabled"
        );
    }
    Ok(())
}

/// The schema transaction on either database.
enum SchemaTx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Runs `$body` with `$conn` bound to the open transaction's connection, whichever database it is.
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            SchemaTx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            SchemaTx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

impl SchemaTx {
    fn migrations(&self) -> &'static [Migration] {
        match self {
            SchemaTx::Sqlite(_) => SQLITE_MIGRATIONS,
            SchemaTx::Postgres(_) => POSTGRES_MIGRATIONS,
        }
    }

    async fn inspect(&mut self) -> anyhow::Result<Found> {
        let tables: Vec<String> = match self {
            SchemaTx::Sqlite(tx) => {
                sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
                )
                .fetch_all(&mut **tx)
                .await
            }
            SchemaTx::Postgres(tx) => {
                // current_schema() is where unqualified CREATE TABLE puts MLflow's tables.
                sqlx::query_scalar(
                    "SELECT c.relname::TEXT FROM pg_catalog.pg_class c \
                     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY 1",
                )
                .fetch_all(&mut **tx)
                .await
            }
        }
        .context("listing the database's tables")?;
        let has = |name: &str| tables.iter().any(|t| t == name);
        let alembic_versions = if has("alembic_version") {
            let versions: Vec<String> = on_tx!(self, |conn| {
                sqlx::query_scalar("SELECT version_num FROM alembic_version").fetch_all(conn).await
            })
            .context("reading alembic_version")?;
            Some(versions)
        } else {
            None
        };
        let rivulet_migrations = if has("rivulet_schema_migrations") {
            Some(self.applied_rivulet_migrations().await?)
        } else {
            None
        };
        Ok(Found { tables, alembic_versions, rivulet_migrations })
    }

    async fn run_script(&mut self, sql: &'static str) -> anyhow::Result<()> {
        on_tx!(self, |conn| sqlx::raw_sql(sql).execute(conn).await.map(drop))?;
        Ok(())
    }

    async fn create_mlflow_head(&mut self) -> anyhow::Result<()> {
        let ddl = match self {
            SchemaTx::Sqlite(_) => MLFLOW_HEAD_SQLITE,
            SchemaTx::Postgres(_) => MLFLOW_HEAD_POSTGRES,
        };
        self.run_script(ddl).await.context("creating MLflow's schema")?;
        on_tx!(self, |conn| {
            sqlx::query("INSERT INTO alembic_version (version_num) VALUES ($1)")
                .bind(MLFLOW_ALEMBIC_HEAD)
                .execute(conn)
                .await
                .map(drop)
        })
        .context("recording MLflow's alembic revision")?;
        Ok(())
    }

    async fn applied_rivulet_migrations(&mut self) -> anyhow::Result<Vec<i64>> {
        let versions = on_tx!(self, |conn| {
            sqlx::query_scalar("SELECT version FROM rivulet_schema_migrations ORDER BY version").fetch_all(conn).await
        })
        .context("reading rivulet_schema_migrations")?;
        Ok(versions)
    }

    async fn record_migration(&mut self, migration: &Migration) -> anyhow::Result<()> {
        on_tx!(self, |conn| {
            sqlx::query("INSERT INTO rivulet_schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)")
                .bind(migration.version)
                .bind(migration.description)
                .bind(now_millis())
                .execute(conn)
                .await
                .map(drop)
        })
        .context("recording a Rivulet schema migration")?;
        Ok(())
    }

    async fn count_experiments_outside_default_workspace(&mut self) -> anyhow::Result<i64> {
        let count = on_tx!(self, |conn| {
            sqlx::query_scalar("SELECT COUNT(*) FROM experiments WHERE workspace IS NOT NULL AND workspace <> $1")
                .bind(DEFAULT_WORKSPACE)
                .fetch_one(conn)
                .await
        })
        .context("checking experiments' workspaces")?;
        Ok(count)
    }

    async fn default_experiment_exists(&mut self) -> anyhow::Result<bool> {
        let count: i64 = on_tx!(self, |conn| {
            sqlx::query_scalar("SELECT COUNT(*) FROM experiments WHERE experiment_id = $1")
                .bind(DEFAULT_EXPERIMENT_ID)
                .fetch_one(conn)
                .await
        })
        .context("looking for the Default experiment")?;
        Ok(count > 0)
    }

    /// Inserts experiment 0 with an explicit id, as MLflow does. On PostgreSQL this leaves
    /// `experiments_experiment_id_seq` alone, so the first created experiment still gets id 1.
    async fn create_default_experiment(&mut self, artifact_location: &str) -> anyhow::Result<()> {
        let now = now_millis();
        on_tx!(self, |conn| {
            sqlx::query(
                "INSERT INTO experiments \
                 (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time, workspace) \
                 VALUES ($1, $2, $3, 'active', $4, $4, $5)",
            )
            .bind(DEFAULT_EXPERIMENT_ID)
            .bind(DEFAULT_EXPERIMENT_NAME)
            .bind(artifact_location)
            .bind(now)
            .bind(DEFAULT_WORKSPACE)
            .execute(conn)
            .await
            .map(drop)
        })
        .context("creating the Default experiment (id 0); an experiment named 'Default' with another id would block it")?;
        Ok(())
    }

    async fn commit(self) -> anyhow::Result<()> {
        match self {
            SchemaTx::Sqlite(tx) => tx.commit().await,
            SchemaTx::Postgres(tx) => tx.commit().await,
        }
        .context("committing the schema transaction")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(migrations: &[Migration]) -> Vec<(i64, &'static str)> {
        migrations.iter().map(|m| (m.version, m.description)).collect()
    }

    #[test]
    fn both_dialects_have_the_same_migrations() {
        assert_eq!(versions(SQLITE_MIGRATIONS), versions(POSTGRES_MIGRATIONS));
    }

    #[test]
    fn migration_versions_count_up_from_one() {
        for (index, migration) in SQLITE_MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, index as i64 + 1, "versions must be 1, 2, 3… without gaps");
        }
    }

    /// Rivulet's migrations may only create `rivulet_` objects or add columns to its own
    /// tables, so that MLflow's part of the catalog stays exactly what MLflow's migrations expect.
    #[test]
    fn migrations_only_create_rivulet_objects() {
        for migration in SQLITE_MIGRATIONS.iter().chain(POSTGRES_MIGRATIONS) {
            let statements = without_comments(migration.sql);
            for statement in statements.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                let words: Vec<&str> = statement.split_whitespace().collect();
                let name = match words.as_slice() {
                    ["CREATE", "INDEX", name, ..] | ["CREATE", "UNIQUE", "INDEX", name, ..] => name,
                    ["CREATE", "TABLE", name, ..] | ["CREATE", "VIEW", name, ..] => name,
                    ["ALTER", "TABLE", name, "ADD", "COLUMN", ..] => name,
                    _ => panic!("migration {} has a statement other than CREATE or ADD COLUMN: {statement}", migration.version),
                };
                assert!(name.starts_with("rivulet_"), "migration {} creates {name}", migration.version);
            }
        }
    }

    fn without_comments(sql: &str) -> String {
        sql.lines().filter(|line| !line.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn mlflow_head_files_hold_only_mlflow_objects() {
        for ddl in [MLFLOW_HEAD_SQLITE, MLFLOW_HEAD_POSTGRES].map(without_comments) {
            assert!(!ddl.contains("rivulet_"));
            assert_eq!(ddl.matches("CREATE TABLE ").count(), 65);
            assert!(!ddl.contains("INSERT"), "the alembic row is written from MLFLOW_ALEMBIC_HEAD");
        }
    }

    #[test]
    fn earlier_revisions_exclude_the_head() {
        assert!(!MLFLOW_EARLIER_REVISIONS.contains(&MLFLOW_ALEMBIC_HEAD));
        let mut sorted = MLFLOW_EARLIER_REVISIONS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), MLFLOW_EARLIER_REVISIONS.len());
    }

    fn found(tables: &[&str], alembic: Option<&[&str]>) -> Found {
        Found {
            tables: tables.iter().map(|t| t.to_string()).collect(),
            alembic_versions: alembic.map(|v| v.iter().map(|s| s.to_string()).collect()),
            rivulet_migrations: None,
        }
    }

    #[test]
    fn empty_database_gets_mlflow_schema() {
        assert_eq!(mlflow_schema_state(&found(&[], None)).unwrap(), MlflowSchema::Missing);
        assert_eq!(
            mlflow_schema_state(&found(&["alembic_version", "runs"], Some(&[MLFLOW_ALEMBIC_HEAD]))).unwrap(),
            MlflowSchema::AtHead
        );
    }

    #[test]
    fn other_states_are_refused_with_instructions() {
        let older = mlflow_schema_state(&found(&["alembic_version"], Some(&["75868b020152"]))).unwrap_err().to_string();
        assert!(older.contains("75868b020152") && older.contains("mlflow db upgrade"), "{older}");
        let newer = mlflow_schema_state(&found(&["alembic_version"], Some(&["0123456789ab"]))).unwrap_err().to_string();
        assert!(newer.contains("newer MLflow") && !newer.contains("mlflow db upgrade"), "{newer}");
        let foreign = mlflow_schema_state(&found(&["users"], None)).unwrap_err().to_string();
        assert!(foreign.contains("no alembic_version") && foreign.contains("users"), "{foreign}");
        assert!(mlflow_schema_state(&found(&["alembic_version"], Some(&[]))).is_err());
        assert!(mlflow_schema_state(&found(&["alembic_version"], Some(&[MLFLOW_ALEMBIC_HEAD, "75868b020152"]))).is_err());
    }
}

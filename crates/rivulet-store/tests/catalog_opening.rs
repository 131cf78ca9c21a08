//! Opening a database follows MLflow's rules, on SQLite and PostgreSQL: a new database gets
//! MLflow's schema and Default experiment, MLflow's own database is accepted and left alone, and
//! anything else (other revisions, foreign tables, other workspaces) is refused without a write.

mod common;
// Only the schema test files need the reference dumps and catalog readers, so they are not part
// of `common`, which every store test binary builds.
#[path = "common/catalogs.rs"]
mod catalogs;

use catalogs::{
    assert_same_catalog, catalog, experiment_rows, index_exists, load_reference, open, open_and_close, rivulet_migration_rows,
    table_exists, without_migrations, Objects, OLDER_REVISION, RIVULET_INDEX,
};
use common::{fresh_databases, FreshDb};
use rivulet_store::schema::{rivulet_migration_count, MLFLOW_ALEMBIC_HEAD};
use rivulet_store::StoreSettings;

#[tokio::test]
async fn default_experiment_is_created_as_mlflow_does() {
    for db in fresh_databases().await {
        let label = db.label();
        let settings = StoreSettings { default_artifact_root: "s3://bucket/prefix".into(), ..StoreSettings::default() };
        let before = rivulet_core::tracking::now_millis();
        open(&db, settings).await.unwrap().close().await;
        let rows = db
            .query_strings(
                "SELECT CAST(experiment_id AS TEXT) || '|' || name || '|' || artifact_location || '|' || lifecycle_stage \
                 || '|' || workspace || '|' || CAST(creation_time = last_update_time AS TEXT) || '|' || CAST(creation_time AS TEXT) \
                 FROM experiments",
            )
            .await;
        assert_eq!(rows.len(), 1, "{label}: {rows:?}");
        let fields: Vec<&str> = rows[0].split('|').collect();
        assert_eq!(&fields[..5], ["0", "Default", "s3://bucket/prefix/0", "active", "default"], "{label}");
        assert!(["1", "true"].contains(&fields[5]), "{label}: creation_time == last_update_time");
        let created: i64 = fields[6].parse().unwrap();
        assert!(created >= before && created <= rivulet_core::tracking::now_millis(), "{label}: creation_time {created}");

        if let FreshDb::Postgres(_) = db {
            // The explicit id 0 must not consume the sequence: MLflow's next experiment is 1.
            let called = db.query_strings("SELECT CAST(is_called AS TEXT) FROM experiments_experiment_id_seq").await;
            assert_eq!(called, ["false"]);
        }
    }
}

#[tokio::test]
async fn opening_twice_changes_nothing() {
    for db in fresh_databases().await {
        let label = db.label();
        open_and_close(&db).await;
        let catalog_once = catalog(&db, Objects::All).await;
        let experiments_once = experiment_rows(&db).await;
        let migrations_once = rivulet_migration_rows(&db).await;

        open_and_close(&db).await;
        assert_same_catalog(&format!("{label}: second open"), &catalog_once, &catalog(&db, Objects::All).await);
        assert_eq!(experiments_once, experiment_rows(&db).await, "{label}");
        assert_eq!(migrations_once, rivulet_migration_rows(&db).await, "{label}");
        assert_eq!(migrations_once.len(), rivulet_migration_count(), "{label}: {migrations_once:?}");

        let checked = open(&db, without_migrations()).await;
        assert!(checked.is_ok(), "{label}: check after prepare: {:#}", checked.err().unwrap());
    }
}

#[tokio::test]
async fn database_mlflow_created_is_accepted_and_left_alone() {
    for db in fresh_databases().await {
        let label = db.label();
        load_reference(&db, Some(MLFLOW_ALEMBIC_HEAD)).await;
        // What `mlflow server` leaves after a while: its Default experiment, one of the user's,
        // and a run.
        db.execute(
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time, workspace) \
             VALUES (0, 'Default', '/srv/mlruns/0', 'active', 1700000000000, 1700000000000, 'default'); \
             INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) \
             VALUES ('churn', '/srv/mlruns/1', 'active', 1700000000001, 1700000000002); \
             INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, \
                               source_version, lifecycle_stage, artifact_uri, experiment_id) \
             VALUES ('0123456789abcdef0123456789abcdef', 'brave-owl-1', 'UNKNOWN', '', '', 'ana', 'RUNNING', 1700000000003, \
                     '', 'active', '/srv/mlruns/1/0123456789abcdef0123456789abcdef/artifacts', 1);",
        )
        .await;
        let catalog_before = catalog(&db, Objects::All).await;
        let experiments_before = experiment_rows(&db).await;
        assert_eq!(experiments_before.len(), 2, "{label}: {experiments_before:?}");

        let check = open(&db, without_migrations()).await.err().map(|e| format!("{e:#}")).unwrap_or_default();
        let pending = (1..=rivulet_migration_count()).map(|v| v.to_string()).collect::<Vec<_>>().join(", ");
        assert!(check.contains(&format!("migrations {pending} are not applied")) && check.contains("--no-migrate"), "{label}: {check}");

        let settings = StoreSettings { default_artifact_root: "s3://elsewhere".into(), ..StoreSettings::default() };
        open(&db, settings).await.unwrap_or_else(|e| panic!("{label}: {e:#}")).close().await;

        assert_same_catalog(
            &format!("{label}: MLflow's objects after Rivulet opened MLflow's database"),
            &catalog_before,
            &catalog(&db, Objects::MlflowOnly).await,
        );
        assert_eq!(experiments_before, experiment_rows(&db).await, "{label}: experiments must be untouched");
        assert_eq!(db.query_strings("SELECT version_num FROM alembic_version").await, [MLFLOW_ALEMBIC_HEAD]);
        assert!(index_exists(&db, RIVULET_INDEX).await, "{label}");
        assert_eq!(rivulet_migration_rows(&db).await.len(), rivulet_migration_count(), "{label}");
        assert!(open(&db, without_migrations()).await.is_ok(), "{label}: check after Rivulet's migrations");
    }
}

#[tokio::test]
async fn other_alembic_revisions_are_refused_without_changes() {
    for db in fresh_databases().await {
        let label = db.label();
        load_reference(&db, Some(OLDER_REVISION)).await;

        for settings in [StoreSettings::default(), without_migrations()] {
            let error = format!("{:#}", open(&db, settings).await.err().expect("an older schema must be refused"));
            for expected in [OLDER_REVISION, MLFLOW_ALEMBIC_HEAD, "mlflow db upgrade"] {
                assert!(error.contains(expected), "{label}: '{expected}' missing from: {error}");
            }
        }
        assert!(!table_exists(&db, "rivulet_schema_migrations").await, "{label}: a refusal must write nothing");
        assert!(experiment_rows(&db).await.is_empty(), "{label}: a refusal must write nothing");

        db.execute("UPDATE alembic_version SET version_num = 'fedcba987654'").await;
        let error = format!("{:#}", open(&db, StoreSettings::default()).await.err().expect("a newer schema must be refused"));
        assert!(error.contains("fedcba987654") && error.contains("newer MLflow"), "{label}: {error}");
    }
}

#[tokio::test]
async fn foreign_database_is_refused() {
    for db in fresh_databases().await {
        let label = db.label();
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)").await;
        let error = format!("{:#}", open(&db, StoreSettings::default()).await.err().expect("refused"));
        assert!(error.contains("no alembic_version") && error.contains("notes"), "{label}: {error}");
        assert!(!table_exists(&db, "experiments").await, "{label}: a refusal must write nothing");
    }
}

#[tokio::test]
async fn empty_database_fails_the_check() {
    for db in fresh_databases().await {
        let label = db.label();
        let error = format!("{:#}", open(&db, without_migrations()).await.err().expect("refused"));
        assert!(error.contains("no MLflow schema") && error.contains("--no-migrate") && error.contains("rivulet db upgrade"), "{label}: {error}");
        assert!(!table_exists(&db, "experiments").await, "{label}: a check must write nothing");
    }
}

#[tokio::test]
async fn experiments_in_other_workspaces_are_refused() {
    for db in fresh_databases().await {
        let label = db.label();
        open_and_close(&db).await;
        db.execute(
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time, workspace) \
             VALUES (5, 'shared', 's3://x/5', 'active', 1, 1, 'team-a')",
        )
        .await;
        for settings in [StoreSettings::default(), without_migrations()] {
            let error = format!("{:#}", open(&db, settings).await.err().expect("refused"));
            assert!(error.contains("workspaces other than 'default'"), "{label}: {error}");
        }
    }
}

/// Replicas of one deployment start together against the same database: one prepares it,
/// the others wait and find it ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_opens_prepare_once() {
    for db in fresh_databases().await {
        let label = db.label();
        let opens = (0..4).map(|_| open(&db, StoreSettings::default()));
        let stores = futures::future::join_all(opens).await;
        for store in stores {
            store.unwrap_or_else(|e| panic!("{label}: {e:#}")).close().await;
        }
        assert_eq!(experiment_rows(&db).await.len(), 1, "{label}");
        assert_eq!(rivulet_migration_rows(&db).await.len(), rivulet_migration_count(), "{label}");
        assert_eq!(db.query_strings("SELECT version_num FROM alembic_version").await, [MLFLOW_ALEMBIC_HEAD]);
    }
}

//! The schema Rivulet creates must be MLflow 3.17.2's, object for object, on SQLite and PostgreSQL.
//!
//! The reference is a dump of the schema MLflow 3.17.2 itself created (`shared/reference/…`).
//! Each test loads that dump into one fresh database, lets Rivulet create or open another, and
//! compares what the two catalogs say: tables, columns in order with types, nullability and
//! defaults, keys with their names and actions, checks, indexes, triggers and sequences.
//! Rivulet's own `rivulet_` objects are left out of the comparison.

mod common;
// Only the schema test files need the reference dumps and catalog readers, so they are not part
// of `common`, which every store test binary builds.
#[path = "common/catalogs.rs"]
mod catalogs;

use catalogs::{
    assert_same_catalog, catalog, count_lines, index_exists, load_reference, open_and_close, sqlite_reference_statements,
    with_checks_as_dumped, Objects, RIVULET_INDEX,
};
use common::{fresh_postgres, fresh_sqlite, FreshDb};
use rivulet_store::schema::MLFLOW_ALEMBIC_HEAD;

async fn assert_created_schema_matches_reference(rivulet: FreshDb, reference: FreshDb) {
    let label = rivulet.label();
    open_and_close(&rivulet).await;
    load_reference(&reference, None).await;

    let created = catalog(&rivulet, Objects::MlflowOnly).await;
    let mut mlflow = catalog(&reference, Objects::MlflowOnly).await;
    if let FreshDb::Postgres(_) = reference {
        mlflow = with_checks_as_dumped(mlflow);
    }
    assert_eq!(count_lines(&mlflow, "table ") + count_lines(&mlflow, "relation "), 65, "{label}: reference tables");
    assert!(mlflow.len() > 800, "{label}: a reference catalog of {} lines is too small to mean anything", mlflow.len());
    assert_same_catalog(&format!("{label}: Rivulet's new schema against MLflow's"), &mlflow, &created);

    assert_eq!(rivulet.query_strings("SELECT version_num FROM alembic_version").await, [MLFLOW_ALEMBIC_HEAD], "{label}");
    assert!(index_exists(&rivulet, RIVULET_INDEX).await, "{label}: Rivulet's own index");
}

#[tokio::test]
async fn sqlite_schema_matches_mlflow() {
    assert_created_schema_matches_reference(FreshDb::Sqlite(fresh_sqlite()), FreshDb::Sqlite(fresh_sqlite())).await;
}

#[tokio::test]
async fn postgres_schema_matches_mlflow() {
    let (Some(rivulet), Some(reference)) = (fresh_postgres().await, fresh_postgres().await) else {
        return;
    };
    assert_created_schema_matches_reference(FreshDb::Postgres(rivulet), FreshDb::Postgres(reference)).await;
}

#[test]
fn sqlite_reference_dump_splits_into_its_statements() {
    let statements = sqlite_reference_statements();
    assert_eq!(statements.iter().filter(|s| s.starts_with("CREATE TABLE")).count(), 65);
    assert!(statements.last().unwrap().starts_with("CREATE TRIGGER prevent_secrets_aad_mutation"));
}

//! Turns database failures into domain errors without leaking SQL to callers.

use rivulet_core::CoreError;

/// Maps a database error to a [`CoreError`]: transient failures (pool exhausted, lost
/// connection, locked database, serialization conflicts) become `TEMPORARILY_UNAVAILABLE` so
/// clients retry; anything else is an internal error whose detail only goes to the log.
pub(crate) fn database_error(error: sqlx::Error) -> CoreError {
    if is_transient(&error) {
        tracing::warn!(%error, "transient database failure");
        return CoreError::unavailable("the database is temporarily unavailable; retry the request");
    }
    tracing::error!(%error, "database failure");
    CoreError::internal("internal database error; see the server log")
}

fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // SQLite: 5 SQLITE_BUSY, 6 SQLITE_LOCKED (and extended codes ending in them).
            // PostgreSQL: 40001 serialization_failure, 40P01 deadlock, 53xxx resources, 57P0x shutdown, 08xxx connection.
            matches!(code.as_ref(), "5" | "6" | "261" | "517" | "40001" | "40P01")
                || code.starts_with("53")
                || code.starts_with("57P")
                || code.starts_with("08")
        }
        _ => false,
    }
}

/// Whether the error is a uniqueness violation (used to report `RESOURCE_ALREADY_EXISTS`).
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => {
            matches!(db.kind(), sqlx::error::ErrorKind::UniqueViolation)
        }
        _ => false,
    }
}

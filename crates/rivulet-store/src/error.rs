//! Turns database failures into domain errors without leaking SQL to callers.

use rivulet_core::CoreError;

use crate::Dialect;

/// Maps a database error to a [`CoreError`]: transient failures (pool exhausted, lost
/// connection, locked database, serialization conflicts, a full disk, an I/O error) become
/// `TEMPORARILY_UNAVAILABLE` so clients retry (a Collector drops a batch answered 500, and keeps
/// one answered 503); anything else is an internal error whose detail only goes to the log.
pub(crate) fn database_error(error: sqlx::Error) -> CoreError {
    match failure_kind(&error) {
        Failure::Full => {
            tracing::error!(%error, "the database is full");
            CoreError::unavailable("the database's disk is full; retry once space has been freed")
        }
        // A failed sync is retryable for the request; checkpoint.rs also ends durable writes.
        Failure::Transient | Failure::SyncFailed => {
            tracing::warn!(%error, "transient database failure");
            CoreError::unavailable("the database is temporarily unavailable; retry the request")
        }
        Failure::Internal => {
            tracing::error!(%error, "database failure");
            CoreError::internal("internal database error; see the server log")
        }
    }
}

#[derive(Debug, PartialEq)]
enum Failure {
    /// No room left: SQLite's file or disk, or PostgreSQL's disk. Clears when space is freed.
    Full,
    Transient,
    /// SQLite could not sync a file (`SQLITE_IOERR_FSYNC`): written pages may be lost.
    SyncFailed,
    Internal,
}

fn failure_kind(error: &sqlx::Error) -> Failure {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => Failure::Transient,
        sqlx::Error::Database(db) => {
            let dialect = if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() { Dialect::Sqlite } else { Dialect::Postgres };
            database_failure_kind(dialect, &db.code().unwrap_or_default())
        }
        _ => Failure::Internal,
    }
}

/// By error code: SQLite's extended result codes (the primary code is the low byte), or
/// PostgreSQL's SQLSTATE.
fn database_failure_kind(dialect: Dialect, code: &str) -> Failure {
    if dialect == Dialect::Sqlite {
        let extended = code.parse::<u32>().unwrap_or_default();
        return match extended & 0xff {
            // SQLITE_FULL: the disk, or the file's size limit.
            13 => Failure::Full,
            // SQLITE_IOERR_FSYNC (SQLITE_IOERR | 4 << 8).
            10 if extended == 1034 => Failure::SyncFailed,
            // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR (a read or write of the files failed).
            5 | 6 | 10 => Failure::Transient,
            _ => Failure::Internal,
        };
    }
    // 53100 disk_full; 40001 serialization_failure, 40P01 deadlock, other 53xxx resources,
    // 57P0x shutdown, 08xxx connection.
    if code == "53100" {
        Failure::Full
    } else if matches!(code, "40001" | "40P01") || code.starts_with("53") || code.starts_with("57P") || code.starts_with("08") {
        Failure::Transient
    } else {
        Failure::Internal
    }
}

/// Whether SQLite failed to sync a file: written pages may be lost, so a checkpoint's failure
/// must end durable writes rather than be retried.
pub(crate) fn is_failed_sqlite_sync(error: &sqlx::Error) -> bool {
    failure_kind(error) == Failure::SyncFailed
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

#[cfg(test)]
mod tests {
    use super::{database_failure_kind, Failure};
    use crate::Dialect::{Postgres, Sqlite};

    #[test]
    fn error_codes_sort_into_retryable_and_internal() {
        for (dialect, code, kind) in [
            (Sqlite, "13", Failure::Full),
            (Postgres, "53100", Failure::Full),
            (Sqlite, "5", Failure::Transient),
            (Sqlite, "517", Failure::Transient),
            (Sqlite, "261", Failure::Transient),
            (Sqlite, "6", Failure::Transient),
            (Sqlite, "10", Failure::Transient),
            (Sqlite, "3338", Failure::Transient),
            (Sqlite, "1034", Failure::SyncFailed),
            (Postgres, "40001", Failure::Transient),
            (Postgres, "53300", Failure::Transient),
            (Postgres, "57P01", Failure::Transient),
            (Postgres, "08006", Failure::Transient),
            (Sqlite, "19", Failure::Internal),
            (Sqlite, "2067", Failure::Internal),
            (Sqlite, "", Failure::Internal),
            (Postgres, "23505", Failure::Internal),
            (Postgres, "42P01", Failure::Internal),
            (Postgres, "", Failure::Internal),
        ] {
            assert_eq!(database_failure_kind(dialect, code), kind, "{dialect:?} code {code}");
        }
    }
}

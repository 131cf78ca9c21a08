//! A thin backend-neutral layer over sqlx: bound values, rows and transactions that work on
//! either pool, so each statement is written once.

use rivulet_core::Result;
use sqlx::postgres::{PgRow, Postgres};
use sqlx::sqlite::{Sqlite, SqliteRow};
use sqlx::{Column, Row, TypeInfo};

use crate::error::database_error;
use crate::wal_sync::{PendingSync, WalSync};
use crate::{Pools, Store};

/// A value bound to a `$n` placeholder.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bind {
    Int(i64),
    OptInt(Option<i64>),
    Float(f64),
    OptFloat(Option<f64>),
    Text(String),
    OptText(Option<String>),
    Bool(bool),
}

impl From<i64> for Bind {
    fn from(v: i64) -> Self {
        Bind::Int(v)
    }
}
impl From<Option<i64>> for Bind {
    fn from(v: Option<i64>) -> Self {
        Bind::OptInt(v)
    }
}
impl From<f64> for Bind {
    fn from(v: f64) -> Self {
        Bind::Float(v)
    }
}
impl From<bool> for Bind {
    fn from(v: bool) -> Self {
        Bind::Bool(v)
    }
}
impl From<String> for Bind {
    fn from(v: String) -> Self {
        Bind::Text(v)
    }
}
impl From<&str> for Bind {
    fn from(v: &str) -> Self {
        Bind::Text(v.to_string())
    }
}
impl From<&String> for Bind {
    fn from(v: &String) -> Self {
        Bind::Text(v.clone())
    }
}
impl From<Option<String>> for Bind {
    fn from(v: Option<String>) -> Self {
        Bind::OptText(v)
    }
}
impl From<Option<&str>> for Bind {
    fn from(v: Option<&str>) -> Self {
        Bind::OptText(v.map(str::to_string))
    }
}

/// Builds `$n` placeholders and their values together, so numbering can't drift.
#[derive(Debug, Default)]
pub(crate) struct Binds {
    pub values: Vec<Bind>,
}

impl Binds {
    /// Adds a value and returns its placeholder.
    pub fn push(&mut self, value: impl Into<Bind>) -> String {
        self.values.push(value.into());
        format!("${}", self.values.len())
    }

    /// Adds each value and returns `$a, $b, …` for an `IN (…)` list.
    pub fn push_list<T: Into<Bind>>(&mut self, values: impl IntoIterator<Item = T>) -> String {
        values.into_iter().map(|v| self.push(v)).collect::<Vec<_>>().join(", ")
    }
}

/// Shorthand for a fixed list of bound values.
macro_rules! binds {
    ($($value:expr),* $(,)?) => {
        [$($crate::sql::Bind::from($value)),*]
    };
}
pub(crate) use binds;

macro_rules! bind_all {
    ($query:expr, $values:expr) => {{
        let mut query = $query;
        for value in $values {
            query = match value {
                Bind::Int(v) => query.bind(*v),
                Bind::OptInt(v) => query.bind(*v),
                Bind::Float(v) => query.bind(*v),
                Bind::OptFloat(v) => query.bind(*v),
                Bind::Text(v) => query.bind(v.as_str()),
                Bind::OptText(v) => query.bind(v.as_deref()),
                Bind::Bool(v) => query.bind(*v),
            };
        }
        query
    }};
}

/// Rewrites `$1, $2, … $n` into plain `?` placeholders when each number appears once, in order.
///
/// SQLite looks up the name of every numbered parameter by scanning its list of names, so
/// binding a 1,000-row insert's parameters costs quadratic time; anonymous `?` parameters have
/// no names to scan. Statements that reuse a number keep their `$n` form.
fn sqlite_placeholders(sql: &str) -> std::borrow::Cow<'_, str> {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut expected = 1usize;
    let mut last = 0;
    let mut idx = 0;
    while idx < bytes.len() {
        if bytes[idx] == b'$' {
            let digits_end = bytes[idx + 1..].iter().position(|b| !b.is_ascii_digit()).map_or(bytes.len(), |p| idx + 1 + p);
            if digits_end > idx + 1 {
                let number: usize = sql[idx + 1..digits_end].parse().unwrap_or(0);
                if number != expected {
                    return std::borrow::Cow::Borrowed(sql);
                }
                expected += 1;
                out.push_str(&sql[last..idx]);
                out.push('?');
                last = digits_end;
                idx = digits_end;
                continue;
            }
        }
        idx += 1;
    }
    if expected == 1 {
        return std::borrow::Cow::Borrowed(sql);
    }
    out.push_str(&sql[last..]);
    std::borrow::Cow::Owned(out)
}

/// Write statements built ahead of running them with [`Tx::execute_batch`], so that the code
/// deciding what to write stays synchronous and needs no transaction.
#[derive(Debug, Default)]
pub(crate) struct StatementBatch {
    statements: Vec<(String, Vec<Bind>)>,
}

impl StatementBatch {
    pub fn push(&mut self, sql: String, values: impl Into<Vec<Bind>>) {
        self.statements.push((sql, values.into()));
    }
}

impl From<Binds> for Vec<Bind> {
    fn from(binds: Binds) -> Self {
        binds.values
    }
}

/// A result row from either backend.
pub(crate) enum DbRow {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

fn decode_error(column: &str, error: sqlx::Error) -> rivulet_core::CoreError {
    tracing::error!(%error, column, "cannot decode column");
    rivulet_core::CoreError::internal(format!("cannot read column '{column}' from the database"))
}

impl DbRow {
    pub fn text(&self, column: &str) -> Result<String> {
        self.opt_text(column).map(Option::unwrap_or_default)
    }

    pub fn opt_text(&self, column: &str) -> Result<Option<String>> {
        match self {
            DbRow::Sqlite(row) => row.try_get(column),
            DbRow::Postgres(row) => row.try_get(column),
        }
        .map_err(|e| decode_error(column, e))
    }

    pub fn int(&self, column: &str) -> Result<i64> {
        self.opt_int(column).map(Option::unwrap_or_default)
    }

    /// Reads an integer column; PostgreSQL `integer` (INT4) columns are widened to i64.
    pub fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        match self {
            DbRow::Sqlite(row) => row.try_get(column),
            DbRow::Postgres(row) => {
                let type_name = row
                    .columns()
                    .iter()
                    .find(|c| c.name() == column)
                    .map(|c| c.type_info().name().to_string())
                    .unwrap_or_default();
                match type_name.as_str() {
                    "INT4" => row.try_get::<Option<i32>, _>(column).map(|v| v.map(i64::from)),
                    "INT2" => row.try_get::<Option<i16>, _>(column).map(|v| v.map(i64::from)),
                    _ => row.try_get(column),
                }
            }
        }
        .map_err(|e| decode_error(column, e))
    }

    pub fn opt_float(&self, column: &str) -> Result<Option<f64>> {
        match self {
            DbRow::Sqlite(row) => row.try_get::<Option<f64>, _>(column),
            DbRow::Postgres(row) => row.try_get::<Option<f64>, _>(column),
        }
        .map_err(|e| decode_error(column, e))
    }

    pub fn float(&self, column: &str) -> Result<f64> {
        match self {
            DbRow::Sqlite(row) => row.try_get::<Option<f64>, _>(column),
            DbRow::Postgres(row) => row.try_get::<Option<f64>, _>(column),
        }
        .map(Option::unwrap_or_default)
        .map_err(|e| decode_error(column, e))
    }

    pub fn boolean(&self, column: &str) -> Result<bool> {
        match self {
            DbRow::Sqlite(row) => row.try_get::<Option<bool>, _>(column),
            DbRow::Postgres(row) => row.try_get::<Option<bool>, _>(column),
        }
        .map(Option::unwrap_or_default)
        .map_err(|e| decode_error(column, e))
    }
}

/// An open write transaction on either backend. Dropped without `commit` it rolls back.
pub(crate) enum Tx {
    /// The writer connection's transaction, and the sync that makes its commit durable (none
    /// for a database in memory).
    Sqlite(sqlx::Transaction<'static, Sqlite>, Option<WalSync>),
    /// A span-ingest group's transaction on the span writer's connection, likewise.
    SqliteIngest(IngestTransaction, Option<WalSync>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

/// A transaction on the span writer's SQLite connection, begun and ended with plain SQL rather
/// than through sqlx. Its inserts run without statement journals (see `rows::insert_into`), so
/// an error such as a full disk makes SQLite roll the whole transaction back by itself. sqlx's
/// count of open transactions would not notice: its next `BEGIN` would be refused, or turned
/// into a savepoint inside a transaction that never commits.
pub(crate) struct IngestTransaction {
    connection: Option<sqlx::pool::PoolConnection<Sqlite>>,
    open: bool,
}

impl IngestTransaction {
    async fn begin(pool: &sqlx::SqlitePool) -> Result<IngestTransaction, sqlx::Error> {
        let mut connection = pool.acquire().await?;
        // IMMEDIATE: another connection writes too, and a transaction that read before taking
        // the write lock could find the database changed under it and fail.
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *connection).await?;
        Ok(IngestTransaction { connection: Some(connection), open: true })
    }

    fn connection(&mut self) -> &mut sqlx::SqliteConnection {
        self.connection.as_mut().expect("an ingest transaction holds its connection until dropped")
    }

    async fn commit(mut self) -> Result<(), sqlx::Error> {
        sqlx::query("COMMIT").execute(self.connection()).await?;
        self.open = false;
        Ok(())
    }
}

impl Drop for IngestTransaction {
    /// Rolls back on a task of its own, which hands the connection back to the pool afterwards.
    /// A rollback that fails for any reason but SQLite having rolled back already closes the
    /// connection, which rolls back too, and the pool opens another.
    fn drop(&mut self) {
        let Some(mut connection) = self.connection.take() else { return };
        if !self.open {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            connection.close_on_drop();
            return;
        };
        runtime.spawn(async move {
            if let Err(error) = sqlx::query("ROLLBACK").execute(&mut *connection).await {
                let already_rolled_back =
                    error.as_database_error().is_some_and(|error| error.message().contains("no transaction is active"));
                if !already_rolled_back {
                    tracing::warn!(%error, "rolling back a span group failed; its connection is closed and another opened");
                    connection.close_on_drop();
                }
            }
        });
    }
}

impl Tx {
    pub async fn execute(&mut self, sql: &str, values: &[Bind]) -> Result<u64> {
        match self {
            Tx::Sqlite(tx, _) => {
                let sql = sqlite_placeholders(sql);
                bind_all!(sqlx::query(&sql), values).execute(&mut **tx).await.map(|r| r.rows_affected())
            }
            Tx::SqliteIngest(tx, _) => {
                let sql = sqlite_placeholders(sql);
                bind_all!(sqlx::query(&sql), values).execute(tx.connection()).await.map(|r| r.rows_affected())
            }
            Tx::Postgres(tx) => bind_all!(sqlx::query(sql), values).execute(&mut **tx).await.map(|r| r.rows_affected()),
        }
        .map_err(database_error)
    }

    /// Like [`Tx::execute`], but hands a uniqueness violation back to the caller.
    pub async fn execute_unique(&mut self, sql: &str, values: &[Bind]) -> Result<Result<u64, ()>> {
        let result = match self {
            Tx::Sqlite(tx, _) => bind_all!(sqlx::query(sql), values).execute(&mut **tx).await.map(|r| r.rows_affected()),
            Tx::SqliteIngest(tx, _) => bind_all!(sqlx::query(sql), values).execute(tx.connection()).await.map(|r| r.rows_affected()),
            Tx::Postgres(tx) => bind_all!(sqlx::query(sql), values).execute(&mut **tx).await.map(|r| r.rows_affected()),
        };
        match result {
            Ok(n) => Ok(Ok(n)),
            Err(error) if crate::error::is_unique_violation(&error) => Ok(Err(())),
            Err(error) => Err(database_error(error)),
        }
    }

    /// Like [`Tx::fetch_optional`], but hands a uniqueness violation back to the caller.
    pub async fn fetch_optional_unique(&mut self, sql: &str, values: &[Bind]) -> Result<Result<Option<DbRow>, ()>> {
        let result = match self {
            Tx::Sqlite(tx, _) => bind_all!(sqlx::query(sql), values).fetch_optional(&mut **tx).await.map(|r| r.map(DbRow::Sqlite)),
            Tx::SqliteIngest(tx, _) => bind_all!(sqlx::query(sql), values).fetch_optional(tx.connection()).await.map(|r| r.map(DbRow::Sqlite)),
            Tx::Postgres(tx) => bind_all!(sqlx::query(sql), values).fetch_optional(&mut **tx).await.map(|r| r.map(DbRow::Postgres)),
        };
        match result {
            Ok(row) => Ok(Ok(row)),
            Err(error) if crate::error::is_unique_violation(&error) => Ok(Err(())),
            Err(error) => Err(database_error(error)),
        }
    }

    pub async fn fetch_all(&mut self, sql: &str, values: &[Bind]) -> Result<Vec<DbRow>> {
        match self {
            Tx::Sqlite(tx, _) => {
                let sql = sqlite_placeholders(sql);
                bind_all!(sqlx::query(&sql), values)
                    .fetch_all(&mut **tx)
                    .await
                    .map(|rows| rows.into_iter().map(DbRow::Sqlite).collect())
            }
            Tx::SqliteIngest(tx, _) => {
                let sql = sqlite_placeholders(sql);
                bind_all!(sqlx::query(&sql), values)
                    .fetch_all(tx.connection())
                    .await
                    .map(|rows| rows.into_iter().map(DbRow::Sqlite).collect())
            }
            Tx::Postgres(tx) => bind_all!(sqlx::query(sql), values)
                .fetch_all(&mut **tx)
                .await
                .map(|rows| rows.into_iter().map(DbRow::Postgres).collect()),
        }
        .map_err(database_error)
    }

    pub async fn fetch_optional(&mut self, sql: &str, values: &[Bind]) -> Result<Option<DbRow>> {
        Ok(self.fetch_all(sql, values).await?.into_iter().next())
    }

    /// Runs collected write statements in order.
    pub async fn execute_batch(&mut self, batch: StatementBatch) -> Result<()> {
        for (statement, binds) in batch.statements {
            self.execute(&statement, &binds).await?;
        }
        Ok(())
    }

    /// Commits and returns once the commit is durable.
    pub async fn commit(self) -> Result<()> {
        self.commit_before_sync().await?.durable().await
    }

    /// Commits and returns what the commit's durability still waits for, so the span writer
    /// can start its next group meanwhile. Nobody may be told of the commit before
    /// [`PendingSync::durable`] succeeds.
    pub async fn commit_before_sync(self) -> Result<PendingSync> {
        match self {
            Tx::Sqlite(tx, sync) => {
                tx.commit().await.map_err(database_error)?;
                Ok(sync.map_or_else(PendingSync::done, |sync| sync.pending()))
            }
            Tx::SqliteIngest(tx, sync) => {
                tx.commit().await.map_err(database_error)?;
                Ok(sync.map_or_else(PendingSync::done, |sync| sync.pending()))
            }
            Tx::Postgres(tx) => {
                tx.commit().await.map_err(database_error)?;
                Ok(PendingSync::done())
            }
        }
    }
}

impl Store {
    /// Starts a write transaction (on SQLite, on the connection every write but span ingest uses).
    pub(crate) async fn begin(&self) -> Result<Tx> {
        match self.pools() {
            Pools::Sqlite { write, .. } => write.begin_with("BEGIN IMMEDIATE").await.map(|tx| Tx::Sqlite(tx, self.wal_sync().cloned())),
            Pools::Postgres(pool) => pool.begin().await.map(Tx::Postgres),
        }
        .map_err(database_error)
    }

    /// Starts a span-ingest group's transaction, on SQLite on the span writer's own connection,
    /// whose foreign keys are off. A multi-row insert into a table with an immediate foreign key
    /// makes SQLite copy every page the statement touches into a statement journal (so that it
    /// can undo that one statement), and the checks look up the parent row of every child row.
    /// A group writes each trace's `trace_info` row before anything that references it, in the
    /// same transaction, so those references hold by construction; the one they do not cover,
    /// a new trace's experiment, the group checks itself (`rows::missing_experiments`). Turning
    /// the checks off per transaction instead would make SQLite recompile every cached statement.
    pub(crate) async fn begin_ingest(&self) -> Result<Tx> {
        match self.pools() {
            Pools::Sqlite { ingest, .. } => IngestTransaction::begin(ingest).await.map(|tx| Tx::SqliteIngest(tx, self.wal_sync().cloned())),
            Pools::Postgres(pool) => pool.begin().await.map(Tx::Postgres),
        }
        .map_err(database_error)
    }

    /// Runs a read query outside any transaction.
    pub(crate) async fn fetch_all(&self, sql: &str, values: &[Bind]) -> Result<Vec<DbRow>> {
        match self.pools() {
            Pools::Sqlite { read, .. } => {
                let sql = sqlite_placeholders(sql);
                bind_all!(sqlx::query(&sql), values)
                    .fetch_all(read)
                    .await
                    .map(|rows| rows.into_iter().map(DbRow::Sqlite).collect())
            }
            Pools::Postgres(pool) => bind_all!(sqlx::query(sql), values)
                .fetch_all(pool)
                .await
                .map(|rows| rows.into_iter().map(DbRow::Postgres).collect()),
        }
        .map_err(database_error)
    }

    pub(crate) async fn fetch_optional(&self, sql: &str, values: &[Bind]) -> Result<Option<DbRow>> {
        Ok(self.fetch_all(sql, values).await?.into_iter().next())
    }
}

#[cfg(test)]
mod tests {
    use super::sqlite_placeholders;

    #[test]
    fn sequential_placeholders_become_anonymous() {
        assert_eq!(sqlite_placeholders("INSERT INTO t VALUES ($1, $2), ($3, $4)"), "INSERT INTO t VALUES (?, ?), (?, ?)");
        assert_eq!(sqlite_placeholders("SELECT 1"), "SELECT 1");
        // A reused or out-of-order number keeps the numbered form.
        assert_eq!(sqlite_placeholders("VALUES ($1, $2, $2)"), "VALUES ($1, $2, $2)");
        assert_eq!(sqlite_placeholders("WHERE a = $2 AND b = $1"), "WHERE a = $2 AND b = $1");
        assert_eq!(sqlite_placeholders("LIMIT $10"), "LIMIT $10");
    }
}

//! The few SQL fragments that differ between SQLite and PostgreSQL.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// A case-insensitive `LIKE` of `column` against the placeholder `param`.
    pub fn ilike(self, column: &str, param: &str) -> String {
        match self {
            Dialect::Postgres => format!("{column} ILIKE {param}"),
            Dialect::Sqlite => format!("LOWER({column}) LIKE LOWER({param})"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgresql",
        }
    }
}

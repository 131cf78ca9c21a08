//! Backend store URIs as `mlflow server --backend-store-uri` accepts them.

use std::fmt;
use std::path::PathBuf;

/// A parsed backend store URI.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUri {
    /// `sqlite:///relative.db`, `sqlite:////absolute.db`; `sqlite://` or `sqlite:///:memory:` is in memory.
    Sqlite { path: Option<PathBuf> },
    /// `postgresql://…`, `postgres://…`, and SQLAlchemy's `postgresql+psycopg2://`/`+psycopg://`
    /// spellings, normalised to a libpq URL.
    Postgres { url: String },
}

impl StoreUri {
    pub fn parse(uri: &str) -> Result<StoreUri, String> {
        let uri = uri.trim();
        if let Some(rest) = uri.strip_prefix("sqlite://") {
            // SQLAlchemy: the part after `sqlite://` is `/<path>`, so `sqlite:////abs` is `/abs`.
            let path = rest.strip_prefix('/').unwrap_or(rest);
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() || path == ":memory:" {
                return Ok(StoreUri::Sqlite { path: None });
            }
            return Ok(StoreUri::Sqlite { path: Some(PathBuf::from(path)) });
        }
        let Some((scheme, rest)) = uri.split_once("://") else {
            return Err(format!(
                "unsupported backend store URI '{}': expected sqlite:///path.db or postgresql://user:password@host:port/database",
                redact(uri)
            ));
        };
        let driverless = scheme.split('+').next().unwrap_or(scheme);
        match (driverless, scheme) {
            ("postgresql" | "postgres", "postgresql" | "postgres" | "postgresql+psycopg2" | "postgresql+psycopg" | "postgresql+pg8000" | "postgresql+asyncpg") => {
                Ok(StoreUri::Postgres { url: format!("postgresql://{rest}") })
            }
            _ => Err(format!(
                "unsupported backend store URI scheme '{scheme}': Rivulet stores data in SQLite (sqlite:///path.db) or PostgreSQL (postgresql://…)"
            )),
        }
    }
}

/// Replaces the password of a URL-shaped string with `***`.
pub fn redact(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(idx) => rest.split_at(idx),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => uri.to_string(),
        },
        None => uri.to_string(),
    }
}

impl fmt::Display for StoreUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUri::Sqlite { path: None } => f.write_str("sqlite://:memory:"),
            StoreUri::Sqlite { path: Some(path) } => write!(f, "sqlite:///{}", path.display()),
            StoreUri::Postgres { url } => f.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for StoreUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_follow_sqlalchemy() {
        assert_eq!(StoreUri::parse("sqlite:///mlflow.db").unwrap(), StoreUri::Sqlite { path: Some("mlflow.db".into()) });
        assert_eq!(StoreUri::parse("sqlite:////data/mlflow.db").unwrap(), StoreUri::Sqlite { path: Some("/data/mlflow.db".into()) });
        assert_eq!(StoreUri::parse("sqlite://").unwrap(), StoreUri::Sqlite { path: None });
    }

    #[test]
    fn postgres_spellings_are_normalised() {
        for uri in ["postgresql://u:p@h:5432/db", "postgresql+psycopg2://u:p@h:5432/db", "postgres://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"] {
            assert_eq!(StoreUri::parse(uri).unwrap(), StoreUri::Postgres { url: "postgresql://u:p@h:5432/db".into() }, "{uri}");
        }
        assert!(StoreUri::parse("mysql://u@h/db").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        let uri = StoreUri::parse("postgresql://mlflow:s3cret@db:5432/mlflow").unwrap();
        assert_eq!(uri.to_string(), "postgresql://mlflow:***@db:5432/mlflow");
        assert!(!format!("{uri:?}").contains("s3cret"));
    }
}

//! The domain error and the one table that maps error kinds to MLflow codes and HTTP statuses.

use std::fmt;

/// MLflow's `ErrorCode` names (from `databricks.proto`) that Rivulet emits.
///
/// The HTTP status of each code is fixed here and nowhere else, following MLflow's
/// `ERROR_CODE_TO_HTTP_STATUS` (note `RESOURCE_ALREADY_EXISTS` is 400, not 409).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    BadRequest,
    InvalidParameterValue,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
    EndpointNotFound,
    /// An operation on an entity in the wrong lifecycle state. MLflow answers 500 for it;
    /// we answer 400 because the client retries every 5xx for minutes (tracking-api.md §6.3).
    InvalidState,
    PermissionDenied,
    Unauthenticated,
    ResourceExhausted,
    RequestLimitExceeded,
    InternalError,
    NotImplemented,
    TemporarilyUnavailable,
}

impl ErrorCode {
    /// The `error_code` string MLflow clients expect.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::InvalidParameterValue => "INVALID_PARAMETER_VALUE",
            ErrorCode::ResourceAlreadyExists => "RESOURCE_ALREADY_EXISTS",
            ErrorCode::ResourceDoesNotExist => "RESOURCE_DOES_NOT_EXIST",
            ErrorCode::EndpointNotFound => "ENDPOINT_NOT_FOUND",
            ErrorCode::InvalidState => "INVALID_STATE",
            ErrorCode::PermissionDenied => "PERMISSION_DENIED",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::ResourceExhausted => "RESOURCE_EXHAUSTED",
            ErrorCode::RequestLimitExceeded => "REQUEST_LIMIT_EXCEEDED",
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::NotImplemented => "NOT_IMPLEMENTED",
            ErrorCode::TemporarilyUnavailable => "TEMPORARILY_UNAVAILABLE",
        }
    }

    /// The HTTP status that carries this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest
            | ErrorCode::InvalidParameterValue
            | ErrorCode::ResourceAlreadyExists
            | ErrorCode::InvalidState => 400,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::PermissionDenied => 403,
            ErrorCode::ResourceDoesNotExist | ErrorCode::EndpointNotFound => 404,
            ErrorCode::ResourceExhausted | ErrorCode::RequestLimitExceeded => 429,
            ErrorCode::InternalError => 500,
            ErrorCode::NotImplemented => 501,
            ErrorCode::TemporarilyUnavailable => 503,
        }
    }

    /// MLflow 3.x adds `error_class` and `sqlstate` for mapped codes; the client keeps them.
    pub fn error_class(self) -> Option<(&'static str, &'static str)> {
        match self {
            ErrorCode::ResourceDoesNotExist => Some(("RESOURCE_NOT_FOUND", "KAM00")),
            ErrorCode::InvalidParameterValue => Some(("INVALID_PARAMETER_VALUE", "KAM00")),
            ErrorCode::ResourceAlreadyExists => Some(("RESOURCE_ALREADY_EXISTS", "KAM00")),
            ErrorCode::PermissionDenied => Some(("PERMISSION_DENIED", "KAM00")),
            ErrorCode::InternalError | ErrorCode::InvalidState => {
                Some(("CLIENT_INTERNAL_ERROR", "XXM00"))
            }
            _ => None,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A domain failure: a code from the table above and a message safe to show to the caller.
///
/// Messages never contain SQL or internal details; stores log those before building an
/// [`ErrorCode::InternalError`] or [`ErrorCode::TemporarilyUnavailable`] error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CoreError {
    pub code: ErrorCode,
    pub message: String,
}

pub type Result<T, E = CoreError> = std::result::Result<T, E>;

impl CoreError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        CoreError { code, message: message.into() }
    }
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterValue, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceDoesNotExist, message)
    }
    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceAlreadyExists, message)
    }
    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidState, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalError, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::TemporarilyUnavailable, message)
    }
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotImplemented, message)
    }

    /// MLflow's wording for a required field that is absent or empty.
    pub fn missing_parameter(name: &str) -> Self {
        Self::invalid_parameter(format!(
            "Missing value for required parameter '{name}'. See the API docs for more information about request parameters."
        ))
    }

    pub fn run_not_found(run_id: &str) -> Self {
        Self::not_found(format!("Run with id={run_id} not found"))
    }

    pub fn experiment_not_found(experiment_id: i64) -> Self {
        Self::not_found(format!("No Experiment with id={experiment_id} exists"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn already_exists_is_400_not_409() {
        assert_eq!(ErrorCode::ResourceAlreadyExists.http_status(), 400);
        assert_eq!(ErrorCode::ResourceDoesNotExist.http_status(), 404);
        assert_eq!(ErrorCode::TemporarilyUnavailable.http_status(), 503);
    }
}

//! The API error: a domain error rendered in MLflow's `{error_code, message}` JSON shape.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rivulet_core::{CoreError, ErrorCode};

/// Every handler failure. The status and `error_code` come from [`ErrorCode`]'s one table.
#[derive(Debug)]
pub struct ApiError(pub CoreError);

pub type ApiResult<T> = Result<T, ApiError>;

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> Self {
        ApiError(error)
    }
}

impl ApiError {
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        ApiError(CoreError::invalid_parameter(message))
    }
}

/// Builds MLflow's error body for a code and message.
pub fn error_body(code: ErrorCode, message: &str) -> serde_json::Value {
    let mut body = serde_json::json!({ "error_code": code.as_str(), "message": message });
    if let Some((error_class, sqlstate)) = code.error_class() {
        body["error_class"] = error_class.into();
        body["sqlstate"] = sqlstate.into();
    }
    body
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.0.code;
        let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(error_code = code.as_str(), message = %self.0.message, "request failed");
        }
        let mut response = (status, axum::Json(error_body(code, &self.0.message))).into_response();
        if code == ErrorCode::TemporarilyUnavailable {
            response.headers_mut().insert("retry-after", HeaderValue::from_static("1"));
        }
        response
    }
}

//! Server meta endpoints: `/health`, `/version`, `server-info`, and the JSON 404 fallback.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rivulet_core::ErrorCode;

use crate::error::error_body;
use crate::AppState;

/// Liveness: the process answers, and nothing has broken that only a restart mends. Database
/// health is the readiness probe's job.
pub async fn health(State(state): State<AppState>) -> Response {
    match state.settings.ops.probe.as_ref().and_then(|probe| probe.lasting_failure()) {
        None => "OK".into_response(),
        Some(failure) => (StatusCode::SERVICE_UNAVAILABLE, format!("restart needed: {failure}\n")).into_response(),
    }
}

/// The MLflow version this server is compatible with; the client gates features on it.
pub async fn version(State(state): State<AppState>) -> String {
    state.settings.mlflow_version.clone()
}

pub async fn server_info(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "store_type": "SqlStore",
        "workspaces_enabled": false,
        "trace_archival_enabled": false,
        "multipart_uploads_enabled": false,
        "multipart_downloads_enabled": false,
        "presigned_upload_run_id_supported": false,
        "presigned_upload_model_id_supported": false,
        "features_enabled": { "gateway": false },
        "server": { "name": "rivulet", "version": state.settings.server_version },
    }))
}

/// Unknown routes answer in MLflow's error shape; the client maps a 404 to `ENDPOINT_NOT_FOUND`.
pub async fn not_found(uri: Uri) -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Json(error_body(ErrorCode::EndpointNotFound, &format!("No API endpoint at {}", uri.path()))),
    )
}

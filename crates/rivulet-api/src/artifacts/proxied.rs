//! MLflow's proxied artifact service, `/api/2.0/mlflow-artifacts/...`: the routes the 3.17
//! client uses for every `mlflow-artifacts:/` artifact (upload, download, list, delete), plus
//! the multipart and presigned routes, which answer "not supported" so the client falls back
//! to plain PUT and GET (server-info advertises them as disabled).

use axum::extract::{Request, State};
use axum::http::Uri;
use axum::response::Response;
use axum::Json;
use rivulet_artifacts::ArtifactPath;
use rivulet_core::{CoreError, ErrorCode};
use serde_json::{json, Value};

use super::{file_info, file_response, parse_path, raw_query_value};
use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// The still-encoded artifact path after `marker` in the request path. Taken from the raw URI
/// rather than a decoded route parameter so that [`ArtifactPath::parse`] sees every layer of
/// encoding (and refuses bytes that are not UTF-8 in MLflow's error shape).
fn raw_path_after<'a>(uri: &'a Uri, marker: &str) -> &'a str {
    let path = uri.path();
    path.find(marker).map_or("", |index| &path[index + marker.len()..])
}

fn artifact_path(uri: &Uri) -> ApiResult<ArtifactPath> {
    parse_path(raw_path_after(uri, "/mlflow-artifacts/artifacts/"))
}

/// `GET .../mlflow-artifacts/artifacts/<path>`: streams the file.
pub async fn download_artifact(State(state): State<AppState>, uri: Uri) -> ApiResult<Response> {
    let store = state.settings.artifacts.proxy()?;
    let path = artifact_path(&uri)?;
    let download = store.open(&path).await?;
    Ok(file_response(download, &path))
}

/// `PUT .../mlflow-artifacts/artifacts/<path>`: streams the body into storage; the artifact
/// appears only once the whole body has arrived. Any content type is accepted (the client
/// sends the file's guessed type).
pub async fn upload_artifact(State(state): State<AppState>, request: Request) -> ApiResult<Json<Value>> {
    let store = state.settings.artifacts.proxy()?;
    let path = artifact_path(request.uri())?;
    let body = request.into_body().into_data_stream();
    let written = store.put(&path, body).await?;
    tracing::debug!(artifact = %path, bytes = written, "artifact uploaded");
    Ok(Json(json!({})))
}

/// `DELETE .../mlflow-artifacts/artifacts/<path>`: removes a file or a directory tree.
pub async fn delete_artifact(State(state): State<AppState>, uri: Uri) -> ApiResult<Json<Value>> {
    let store = state.settings.artifacts.proxy()?;
    let path = artifact_path(&uri)?;
    if path.is_root() {
        return Err(ApiError::invalid_parameter("Invalid path: the artifact root itself cannot be deleted"));
    }
    store.delete(&path).await?;
    Ok(Json(json!({})))
}

/// `GET .../mlflow-artifacts/artifacts?path=<dir>`: the entries of a directory as bare names.
/// A missing directory (or a file) lists as `{}`.
pub async fn list_artifacts(State(state): State<AppState>, uri: Uri) -> ApiResult<Json<Value>> {
    let store = state.settings.artifacts.proxy()?;
    let dir = match raw_query_value(uri.query(), "path") {
        Some(raw) => parse_path(&raw)?,
        None => ArtifactPath::root(),
    };
    let entries = store.list(&dir).await?;
    let files: Vec<Value> = entries.iter().map(|entry| file_info(&entry.name, entry)).collect();
    Ok(Json(if files.is_empty() { json!({}) } else { json!({ "files": files }) }))
}

/// `POST .../mlflow-artifacts/mpu/{create,complete,abort}/<path>`: not supported. The client
/// only calls these when forced (`MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true`) and, on this
/// exact message, falls back to a plain streamed PUT.
pub async fn multipart_upload(State(state): State<AppState>, uri: Uri) -> ApiResult<Response> {
    state.settings.artifacts.proxy()?;
    // The URL path is validated like every other; the body's `path` is a client-side file name
    // hint and is never used (security-history.md §6, vector 21).
    let marker = ["/mpu/create/", "/mpu/complete/", "/mpu/abort/"].into_iter().find(|m| uri.path().contains(m)).unwrap_or("/mpu/");
    parse_path(raw_path_after(&uri, marker))?;
    Err(ApiError(CoreError::new(
        ErrorCode::NotImplemented,
        "Multipart upload is not supported for the current artifact repository",
    )))
}

/// `GET .../mlflow-artifacts/presigned/<path>`: presigned downloads are not offered either.
pub async fn presigned_download(State(state): State<AppState>, uri: Uri) -> ApiResult<Response> {
    state.settings.artifacts.proxy()?;
    parse_path(raw_path_after(&uri, "/mlflow-artifacts/presigned/"))?;
    Err(ApiError(CoreError::new(ErrorCode::NotImplemented, "Presigned download URLs are not supported by this server")))
}

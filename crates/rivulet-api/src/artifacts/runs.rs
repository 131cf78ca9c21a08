//! Artifacts addressed through their owner: a run (`/artifacts/list`, `/get-artifact`, the UI's
//! `upload-artifact`), a logged model, or a model version. The owner's stored artifact URI
//! picks the store and base path; the client's path is validated and joined below it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::Uri;
use axum::response::Response;
use axum::Json;
use futures::StreamExt;
use rivulet_artifacts::{ArtifactError, ArtifactPath, ArtifactStore, Artifacts};
use rivulet_core::{CoreError, ErrorCode};
use serde_json::{json, Value};

use super::{file_info, file_response, parse_path, raw_query_value};
use crate::error::{ApiError, ApiResult};
use crate::request::{Fields, MlflowRequest};
use crate::AppState;

/// MLflow's limit for uploads through the UI route (the client uses the proxied PUT instead).
const UI_UPLOAD_LIMIT: u64 = 10 * 1024 * 1024;

/// An artifact path parameter: the raw query value when present (so every layer of encoding is
/// judged), else the field of a JSON body.
fn path_param(uri: &Uri, fields: &Fields, name: &str) -> ApiResult<Option<ArtifactPath>> {
    if let Some(raw) = raw_query_value(uri.query(), name) {
        return parse_path(&raw).map(Some);
    }
    match fields.string(name)? {
        Some(raw) => parse_path(&raw).map(Some),
        None => Ok(None),
    }
}

fn run_id(fields: &Fields) -> ApiResult<String> {
    fields.first_string(&["run_id", "run_uuid"])?.filter(|id| !id.is_empty()).ok_or_else(|| CoreError::missing_parameter("run_id").into())
}

/// The store and base path of an owner's artifact root. A proxied root while artifact serving is
/// off is a configuration mismatch the caller cannot fix by retrying, so it is a 400 here.
fn resolve<'a>(artifacts: &'a Artifacts, root_uri: &str) -> ApiResult<(&'a ArtifactStore, ArtifactPath)> {
    artifacts.resolve(root_uri).map_err(|error| match error {
        ArtifactError::ServingDisabled => ApiError::invalid_parameter(format!(
            "The artifact location '{root_uri}' is served by the artifact proxy, which is disabled (--no-serve-artifacts)"
        )),
        other => other.into(),
    })
}

async fn run_artifact_root(state: &AppState, run_id: &str) -> ApiResult<String> {
    let run = state.tracking.get_run(run_id).await?;
    run.info
        .artifact_uri
        .filter(|uri| !uri.is_empty())
        .ok_or_else(|| ApiError::invalid_parameter(format!("Run '{run_id}' has no artifact location")))
}

/// Lists `relative` below an owner's root: MLflow's `{root_uri, files}` with paths relative to
/// the root (`dir/x.txt`), not bare names.
async fn list_below(artifacts: &Artifacts, root_uri: &str, relative: &ArtifactPath) -> ApiResult<Json<Value>> {
    let (store, base) = resolve(artifacts, root_uri)?;
    let entries = store.list(&base.join(relative)).await?;
    let files: Vec<Value> = entries
        .iter()
        .filter_map(|entry| relative.child(&entry.name).ok().map(|path| file_info(path.as_str(), entry)))
        .collect();
    let mut body = json!({ "root_uri": root_uri });
    if !files.is_empty() {
        body["files"] = files.into();
    }
    Ok(Json(body))
}

async fn download_below(artifacts: &Artifacts, root_uri: &str, relative: &ArtifactPath) -> ApiResult<Response> {
    let (store, base) = resolve(artifacts, root_uri)?;
    let download = store.open(&base.join(relative)).await?;
    Ok(file_response(download, relative))
}

/// `GET /api/2.0/mlflow/artifacts/list?run_id=…&path=…`
pub async fn list_run_artifacts(State(state): State<AppState>, uri: Uri, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Value>> {
    let relative = path_param(&uri, &fields, "path")?.unwrap_or_default();
    let run_id = run_id(&fields)?;
    let root = run_artifact_root(&state, &run_id).await?;
    list_below(&state.settings.artifacts, &root, &relative).await
}

/// `GET /get-artifact?run_id=…&path=…` (the UI's artifact viewer and download link).
pub async fn get_run_artifact(State(state): State<AppState>, uri: Uri, MlflowRequest(fields): MlflowRequest) -> ApiResult<Response> {
    let relative = path_param(&uri, &fields, "path")?.ok_or_else(|| ApiError::from(CoreError::missing_parameter("path")))?;
    let run_id = run_id(&fields)?;
    let root = run_artifact_root(&state, &run_id).await?;
    download_below(&state.settings.artifacts, &root, &relative).await
}

/// `GET /model-versions/get-artifact?name=…&version=…&path=…`. The path is checked first, as
/// MLflow does; Rivulet has no model registry yet, so no version exists to read from.
pub async fn get_model_version_artifact(uri: Uri, MlflowRequest(fields): MlflowRequest) -> ApiResult<Response> {
    path_param(&uri, &fields, "path")?.ok_or_else(|| ApiError::from(CoreError::missing_parameter("path")))?;
    let name = fields.string("name")?.unwrap_or_default();
    let version = fields.string("version")?.unwrap_or_default();
    Err(CoreError::not_found(format!("Model Version (name={name}, version={version}) not found")).into())
}

/// `GET /ajax-api/2.0/mlflow/logged-models/<id>/artifacts/files?artifact_file_path=…`
pub async fn get_logged_model_artifact(
    State(state): State<AppState>,
    Path(model_id): Path<String>,
    uri: Uri,
    MlflowRequest(fields): MlflowRequest,
) -> ApiResult<Response> {
    let relative = path_param(&uri, &fields, "artifact_file_path")?.filter(|p| !p.is_root()).ok_or_else(|| {
        ApiError(CoreError::new(ErrorCode::BadRequest, "Request must include the \"artifact_file_path\" query parameter."))
    })?;
    let model = state.tracking.get_logged_model(&model_id, false).await?;
    download_below(&state.settings.artifacts, &model.artifact_location, &relative).await
}

/// `GET /api/2.0/mlflow/logged-models/<id>/artifacts/directories?artifact_directory_path=…`
pub async fn list_logged_model_artifacts(
    State(state): State<AppState>,
    Path(model_id): Path<String>,
    uri: Uri,
    MlflowRequest(fields): MlflowRequest,
) -> ApiResult<Json<Value>> {
    let relative = path_param(&uri, &fields, "artifact_directory_path")?.unwrap_or_default();
    let model = state.tracking.get_logged_model(&model_id, false).await?;
    list_below(&state.settings.artifacts, &model.artifact_location, &relative).await
}

/// `POST /ajax-api/2.0/mlflow/upload-artifact?run_uuid=…&path=…` with the raw file as body (the
/// UI's upload, at most 10 MB as in MLflow). Streamed like the proxied PUT.
pub async fn upload_run_artifact(State(state): State<AppState>, request: Request) -> ApiResult<Json<Value>> {
    let query = request.uri().query().map(str::to_string);
    let run_id = raw_query_value(query.as_deref(), "run_uuid")
        .map(|raw| percent_encoding::percent_decode_str(&raw).decode_utf8_lossy().into_owned())
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ApiError::invalid_parameter("Request must specify run_uuid."))?;
    let relative = match raw_query_value(query.as_deref(), "path").filter(|raw| !raw.is_empty()) {
        Some(raw) => parse_path(&raw)?,
        None => return Err(ApiError::invalid_parameter("Request must specify path.")),
    };
    let too_large = || ApiError::invalid_parameter("Artifact size is too large. Max size is 10MB.");
    let declared = request.headers().get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > UI_UPLOAD_LIMIT) {
        return Err(too_large());
    }
    let root = run_artifact_root(&state, &run_id).await?;
    let (store, base) = resolve(&state.settings.artifacts, &root)?;

    let mut body = request.into_body().into_data_stream();
    // MLflow refuses an empty upload before writing anything; look at the first bytes first.
    let first = loop {
        match body.next().await {
            None => return Err(ApiError::invalid_parameter("Request must specify data.")),
            Some(Ok(chunk)) if chunk.is_empty() => continue,
            Some(Ok(chunk)) => break chunk,
            Some(Err(error)) => return Err(ArtifactError::UploadInterrupted(error.to_string()).into()),
        }
    };
    let exceeded = Arc::new(AtomicBool::new(false));
    let mut seen: u64 = 0;
    let flag = exceeded.clone();
    let limited = futures::stream::iter([Ok(first)]).chain(body).map(move |chunk| {
        let chunk = chunk?;
        seen += chunk.len() as u64;
        if seen > UI_UPLOAD_LIMIT {
            flag.store(true, Ordering::Relaxed);
            return Err(axum::Error::new("artifact larger than 10MB"));
        }
        Ok(chunk)
    });
    match store.put(&base.join(&relative), limited).await {
        Ok(_) => Ok(Json(json!({}))),
        Err(_) if exceeded.load(Ordering::Relaxed) => Err(too_large()),
        Err(error) => Err(error.into()),
    }
}

//! Handlers for assessments (`/3.0/mlflow/traces/{trace_id}/assessments[/{assessment_id}]`).

use axum::extract::{Path, State};
use axum::Json;
use rivulet_core::traces::model::Assessment;
use serde_json::{json, Value};

use super::wire::{apply_assessment_update, assessment_from_fields, assessment_json};
use crate::dto::Empty;
use crate::error::ApiResult;
use crate::request::MlflowRequest;
use crate::AppState;

fn assessment_response(assessment: &Assessment) -> Json<Value> {
    Json(json!({ "assessment": assessment_json(assessment) }))
}

/// POST: the ids and times are the server's; `overrides` invalidates the replaced assessment.
pub async fn create_assessment(
    State(state): State<AppState>,
    Path(trace_id): Path<String>,
    MlflowRequest(fields): MlflowRequest,
) -> ApiResult<Json<Value>> {
    let body = fields.message("assessment")?.ok_or_else(|| fields.missing("assessment"))?;
    let mut assessment = assessment_from_fields(&body, &trace_id)?;
    assessment.assessment_id.clear();
    let created = state.traces.create_assessment(assessment).await?;
    Ok(assessment_response(&created))
}

pub async fn get_assessment(
    State(state): State<AppState>,
    Path((trace_id, assessment_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let assessment = state.traces.get_assessment(&trace_id, &assessment_id).await?;
    Ok(assessment_response(&assessment))
}

/// PATCH: only name, value, error, rationale and metadata change (metadata merges).
pub async fn update_assessment(
    State(state): State<AppState>,
    Path((trace_id, assessment_id)): Path<(String, String)>,
    MlflowRequest(fields): MlflowRequest,
) -> ApiResult<Json<Value>> {
    let current = state.traces.get_assessment(&trace_id, &assessment_id).await?;
    let next = apply_assessment_update(&current, &fields)?;
    let updated = state.traces.update_assessment(next).await?;
    Ok(assessment_response(&updated))
}

/// DELETE: idempotent; the ids come from the path (the client repeats them in the body).
pub async fn delete_assessment(
    State(state): State<AppState>,
    Path((trace_id, assessment_id)): Path<(String, String)>,
) -> ApiResult<Json<Empty>> {
    state.traces.delete_assessment(&trace_id, &assessment_id).await?;
    Ok(Json(Empty {}))
}

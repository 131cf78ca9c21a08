//! The v2 trace reads the client falls back to when a v3 route is missing: SearchTraces and
//! GetTraceInfo, answering with the v2 TraceInfo shape.

use axum::extract::{Path, State};
use axum::Json;
use rivulet_core::tracking::validation::parse_experiment_id;
use serde_json::{json, Map, Value};

use super::handlers::trace_search;
use super::wire::trace_info_v2_json;
use crate::error::ApiResult;
use crate::request::MlflowRequest;
use crate::AppState;

/// GET /2.0/mlflow/traces?experiment_ids=..&filter=..&order_by=..&max_results=..&page_token=..
pub async fn search_traces_v2(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Value>> {
    let experiment_ids = fields
        .strings("experiment_ids")?
        .iter()
        .map(|id| parse_experiment_id(id))
        .collect::<Result<Vec<_>, _>>()?;
    if experiment_ids.is_empty() {
        return Err(fields.missing("experiment_ids"));
    }
    let search = trace_search(&fields, experiment_ids)?;
    let page = state.traces.search_traces(&search).await?;
    let mut out = Map::new();
    if !page.items.is_empty() {
        out.insert("traces".into(), page.items.iter().map(trace_info_v2_json).collect());
    }
    if let Some(token) = page.next_page_token {
        out.insert("next_page_token".into(), token.into());
    }
    Ok(Json(Value::Object(out)))
}

/// GET /2.0/mlflow/traces/{request_id}/info.
pub async fn get_trace_info_v2(State(state): State<AppState>, Path(trace_id): Path<String>) -> ApiResult<Json<Value>> {
    let info = state.traces.get_trace_info(&trace_id).await?;
    Ok(Json(json!({ "trace_info": trace_info_v2_json(&info) })))
}

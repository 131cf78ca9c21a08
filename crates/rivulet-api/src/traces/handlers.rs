//! Handlers for trace infos, spans, search, deletion, tags and run links.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::Json;
use rivulet_core::page::decode_offset_token;
use rivulet_core::search::{parse_trace_filter, parse_trace_order_by};
use rivulet_core::store::{TraceDeletion, TraceSearch};
use rivulet_core::traces::model::{StoredSpan, TraceInfo};
use rivulet_core::traces::trace_keys;
use rivulet_core::tracking::validation::parse_experiment_id;
use rivulet_core::CoreError;
use serde_json::{json, Map, Value};

use super::spans::otel_span_json;
use super::wire::{location_experiment_id, trace_info_from_start_request, trace_info_json, validate_tag_key};
use super::DeleteRequest;
use crate::dto::Empty;
use crate::error::{ApiError, ApiResult};
use crate::request::{Fields, MlflowRequest};
use crate::tracking::max_results;
use crate::AppState;

const SEARCH_DEFAULT_MAX_RESULTS: i64 = 100;
const SEARCH_MAX_RESULTS: i64 = 500;
const MAX_TRACES_PER_RUN_LINK: usize = 100;
/// How long GetTrace waits for the missing spans of a trace before calling it incomplete,
/// as MLflow does (the client may read a trace just before its last spans are committed).
const COMPLETENESS_RETRY_DELAYS: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(2)];

fn trace_response(info: &TraceInfo) -> Json<Value> {
    Json(json!({ "trace": { "trace_info": trace_info_json(info) } }))
}

/// `{"trace_info": ..., "spans": [...]}` — spans left out when there are none, as proto JSON does.
fn trace_json(info: &TraceInfo, spans: &[StoredSpan]) -> Value {
    let mut out = Map::new();
    out.insert("trace_info".into(), trace_info_json(info));
    if !spans.is_empty() {
        out.insert("spans".into(), spans.iter().map(|s| otel_span_json(&info.trace_id, s)).collect());
    }
    Value::Object(out)
}

/// Whether all the spans the client announced (`mlflow.trace.sizeStats.num_spans`) are stored.
/// A trace without size stats (sent over plain OTLP) is as complete as it will ever be.
fn is_complete(info: &TraceInfo, stored_spans: usize) -> bool {
    let expected = info
        .trace_metadata
        .get(trace_keys::SIZE_STATS)
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .and_then(|stats| stats.get("num_spans").and_then(Value::as_u64));
    expected.is_none_or(|n| stored_spans as u64 >= n)
}

/// POST /3.0/mlflow/traces (StartTraceV3): called by the client when a trace has ended.
pub async fn start_trace_v3(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Value>> {
    let mut info = trace_info_from_start_request(&fields)?;
    let assessments = std::mem::take(&mut info.assessments);
    let mut stored = state.traces.start_trace(info).await?;
    // Assessments sent with the trace are stored like created ones; a retried request must not
    // add them twice, so ones the trace already has (by id) are skipped.
    for assessment in assessments {
        let known = !assessment.assessment_id.is_empty()
            && stored.assessments.iter().any(|a| a.assessment_id == assessment.assessment_id);
        if !known {
            let created = state.traces.create_assessment(assessment).await?;
            stored.assessments.push(created);
        }
    }
    Ok(trace_response(&stored))
}

/// GET /3.0/mlflow/traces/{trace_id} (GetTraceInfoV3).
pub async fn get_trace_info(State(state): State<AppState>, Path(trace_id): Path<String>) -> ApiResult<Json<Value>> {
    let info = state.traces.get_trace_info(&trace_id).await?;
    Ok(trace_response(&info))
}

/// GET /3.0/mlflow/traces/get (GetTrace): the info and the spans as OTel proto spans.
pub async fn get_trace(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Value>> {
    let trace_id = fields.required_string("trace_id")?;
    let allow_partial = fields.bool("allow_partial")?.unwrap_or(false);
    let mut delays = COMPLETENESS_RETRY_DELAYS.iter();
    loop {
        let info = state.traces.get_trace_info(&trace_id).await?;
        let spans = state.traces.get_spans(&trace_id).await?;
        if allow_partial || is_complete(&info, spans.len()) {
            return Ok(Json(json!({ "trace": trace_json(&info, &spans) })));
        }
        match delays.next() {
            Some(delay) => tokio::time::sleep(*delay).await,
            None => {
                return Err(CoreError::not_found(format!(
                    "Trace with ID {trace_id} is not fully exported yet, please try again later."
                ))
                .into())
            }
        }
    }
}

fn required_ids(fields: &Fields, name: &str) -> ApiResult<Vec<String>> {
    let ids: Vec<String> = fields.strings(name)?.into_iter().filter(|id| !id.is_empty()).collect();
    if ids.is_empty() {
        return Err(fields.missing(name));
    }
    Ok(ids)
}

/// GET /3.0/mlflow/traces/batchGet: unknown and incomplete traces are left out silently.
pub async fn batch_get_traces(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Value>> {
    let trace_ids = required_ids(&fields, "trace_ids")?;
    let infos = state.traces.get_trace_infos(&trace_ids).await?;
    let mut traces = Vec::with_capacity(infos.len());
    for info in &infos {
        let spans = state.traces.get_spans(&info.trace_id).await?;
        if is_complete(info, spans.len()) {
            traces.push(trace_json(info, &spans));
        }
    }
    Ok(Json(if traces.is_empty() { json!({}) } else { json!({ "traces": traces }) }))
}

/// POST /3.0/mlflow/traces/batchGetInfos.
pub async fn batch_get_trace_infos(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Value>> {
    let trace_ids = required_ids(&fields, "trace_ids")?;
    let infos = state.traces.get_trace_infos(&trace_ids).await?;
    Ok(Json(if infos.is_empty() {
        json!({})
    } else {
        json!({ "trace_infos": infos.iter().map(trace_info_json).collect::<Vec<_>>() })
    }))
}

/// Filter, order, page size and page token of a trace search (v3 and v2 share them).
pub(super) fn trace_search(fields: &Fields, experiment_ids: Vec<i64>) -> ApiResult<TraceSearch> {
    let filter = fields.string("filter")?.unwrap_or_default();
    Ok(TraceSearch {
        experiment_ids,
        filter: parse_trace_filter(&filter)?,
        order_by: parse_trace_order_by(&fields.strings("order_by")?)?,
        max_results: max_results(fields, "max_results", SEARCH_DEFAULT_MAX_RESULTS, SEARCH_MAX_RESULTS)?,
        offset: decode_offset_token(fields.string("page_token")?.as_deref())?,
    })
}

/// POST /3.0/mlflow/traces/search (SearchTracesV3). Only experiment locations hold traces here;
/// others match nothing.
pub async fn search_traces(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Value>> {
    let locations = fields.messages("locations")?;
    if locations.is_empty() {
        return Err(fields.missing("locations"));
    }
    let mut experiment_ids = Vec::new();
    for location in &locations {
        if let Some(id) = location_experiment_id(location)? {
            experiment_ids.push(id);
        }
    }
    let search = trace_search(&fields, experiment_ids)?;
    let page = state.traces.search_traces(&search).await?;
    let mut out = Map::new();
    if !page.items.is_empty() {
        out.insert("traces".into(), page.items.iter().map(trace_info_json).collect());
    }
    if let Some(token) = page.next_page_token {
        out.insert("next_page_token".into(), token.into());
    }
    Ok(Json(Value::Object(out)))
}

/// POST /{2.0,3.0}/mlflow/traces/delete-traces.
pub async fn delete_traces(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Value>> {
    let experiment_id = match fields.enum_text("experiment_id")? {
        Some(id) if !id.is_empty() => parse_experiment_id(&id)?,
        _ => return Err(fields.missing("experiment_id")),
    };
    let max_timestamp = fields.i64("max_timestamp_millis")?;
    let max_traces = fields.i64("max_traces")?;
    // DeleteTracesV3 calls them `trace_ids` in its messages; the field is `request_ids`.
    let mut ids = fields.strings("request_ids")?;
    if ids.is_empty() {
        ids = fields.strings("trace_ids")?;
    }
    let deletion = match (max_timestamp, ids.is_empty()) {
        (None, true) => {
            return Err(ApiError::invalid_parameter("Either `max_timestamp_millis` or `trace_ids` must be specified."));
        }
        (Some(_), false) => {
            return Err(ApiError::invalid_parameter("Only one of `max_timestamp_millis` and `trace_ids` can be specified."));
        }
        (None, false) => {
            if max_traces.is_some() {
                return Err(ApiError::invalid_parameter("`max_traces` can't be specified if `trace_ids` is specified."));
            }
            TraceDeletion::Ids(ids)
        }
        (Some(max_timestamp_ms), true) => {
            let max_traces = match max_traces {
                Some(n) if n <= 0 => {
                    return Err(ApiError::invalid_parameter(format!("`max_traces` must be a positive integer, received {n}.")));
                }
                other => other.map(|n| n as usize),
            };
            TraceDeletion::OlderThan { max_timestamp_ms, max_traces }
        }
    };
    let deleted = state.traces.delete_traces(experiment_id, deletion).await?;
    Ok(Json(json!({ "traces_deleted": deleted })))
}

/// PATCH /{2.0,3.0}/mlflow/traces/{trace_id}/tags.
pub async fn set_trace_tag(
    State(state): State<AppState>,
    Path(trace_id): Path<String>,
    MlflowRequest(fields): MlflowRequest,
) -> ApiResult<Json<Empty>> {
    let key = fields.string("key")?.unwrap_or_default();
    validate_tag_key(&key)?;
    let value = fields.string("value")?.unwrap_or_default();
    state.traces.set_trace_tag(&trace_id, &key, &value).await?;
    Ok(Json(Empty {}))
}

/// DELETE /{2.0,3.0}/mlflow/traces/{trace_id}/tags: the key from the JSON body or `?key=`.
pub async fn delete_trace_tag(
    State(state): State<AppState>,
    Path(trace_id): Path<String>,
    request: DeleteRequest,
) -> ApiResult<Json<Empty>> {
    let key = request.string("key")?.ok_or_else(|| CoreError::missing_parameter("key"))?;
    state.traces.delete_trace_tag(&trace_id, &key).await?;
    Ok(Json(Empty {}))
}

/// POST /2.0/mlflow/traces/link-to-run.
pub async fn link_traces_to_run(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Empty>> {
    let run_id = fields.required_string("run_id")?;
    let trace_ids = fields.strings("trace_ids")?;
    if trace_ids.len() > MAX_TRACES_PER_RUN_LINK {
        return Err(ApiError::invalid_parameter(format!(
            "Cannot link more than {MAX_TRACES_PER_RUN_LINK} traces to a run in a single request. Provided {} traces.",
            trace_ids.len()
        )));
    }
    state.traces.link_traces_to_run(&trace_ids, &run_id).await?;
    Ok(Json(Empty {}))
}

//! Handlers for metric histories (`/metrics/*`).

use axum::extract::State;
use axum::Json;
use rivulet_core::page::decode_offset_token;
use rivulet_core::store::{MetricHistoryQuery, MetricIntervalQuery};
use rivulet_core::CoreError;
use serde::Serialize;

use super::max_results;
use crate::dto::MetricMessage;
use crate::error::ApiResult;
use crate::request::MlflowRequest;
use crate::AppState;

const MAX_RUNS_PER_BULK_REQUEST: usize = 100;
const MAX_RESULTS_BULK_INTERVAL: i64 = 2500;
const MAX_RESULTS_BULK_HISTORY: i64 = 25000;

#[derive(Serialize)]
pub struct MetricsResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    metrics: Vec<MetricMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

pub async fn get_metric_history(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<MetricsResponse>> {
    let run_id = fields.first_string(&["run_id", "run_uuid"])?.ok_or_else(|| fields.missing("run_id"))?;
    let query = MetricHistoryQuery {
        run_id,
        metric_key: fields.required_string("metric_key")?,
        max_results: match fields.i64("max_results")? {
            None => None,
            Some(_) => Some(max_results(&fields, "max_results", 0, i64::from(i32::MAX))?),
        },
        offset: decode_offset_token(fields.string("page_token")?.as_deref())?,
    };
    let Some(page) = state.tracking.get_metric_history(&query).await? else {
        // MLflow answers an unknown run with an empty response, not a 404.
        return Ok(Json(MetricsResponse { metrics: Vec::new(), next_page_token: None }));
    };
    Ok(Json(MetricsResponse {
        metrics: page.items.into_iter().map(|m| MetricMessage::from(m.metric)).collect(),
        next_page_token: page.next_page_token,
    }))
}

fn check_run_count(count: usize, name: &str) -> ApiResult<()> {
    if count == 0 {
        return Err(CoreError::missing_parameter(name).into());
    }
    if count > MAX_RUNS_PER_BULK_REQUEST {
        return Err(CoreError::invalid_parameter(format!(
            "GetMetricHistoryBulkInterval request must specify at most {MAX_RUNS_PER_BULK_REQUEST} run_ids. Received {count} run_ids."
        ))
        .into());
    }
    Ok(())
}

pub async fn get_metric_history_bulk_interval(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<MetricsResponse>> {
    let run_ids = fields.strings("run_ids")?;
    check_run_count(run_ids.len(), "run_ids")?;
    let start_step = fields.i64("start_step")?;
    let end_step = fields.i64("end_step")?;
    match (start_step, end_step) {
        (Some(start), Some(end)) if start > end => {
            return Err(CoreError::invalid_parameter(format!(
                "end_step must be greater than start_step. Found start_step={start} and end_step={end}."
            ))
            .into())
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(CoreError::invalid_parameter("If either start step or end step are specified, both must be specified.").into())
        }
        _ => {}
    }
    let query = MetricIntervalQuery {
        run_ids,
        metric_key: fields.required_string("metric_key")?,
        start_step,
        end_step,
        max_results: max_results(&fields, "max_results", MAX_RESULTS_BULK_INTERVAL, MAX_RESULTS_BULK_INTERVAL)?,
    };
    let metrics = state.tracking.get_metric_history_bulk_interval(&query).await?;
    Ok(Json(MetricsResponse { metrics: metrics.into_iter().map(MetricMessage::with_run).collect(), next_page_token: None }))
}

/// The web UI's `get-history-bulk`: whole histories of one metric for up to 100 runs.
pub async fn get_metric_history_bulk(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<MetricsResponse>> {
    let run_ids = fields.strings("run_id")?;
    check_run_count(run_ids.len(), "run_id")?;
    let metric_key = fields.required_string("metric_key")?;
    let limit = fields.i64("max_results")?.unwrap_or(MAX_RESULTS_BULK_HISTORY).clamp(1, MAX_RESULTS_BULK_HISTORY) as usize;
    let mut run_ids = run_ids;
    run_ids.sort();
    let mut metrics = Vec::new();
    for run_id in run_ids {
        let query = MetricHistoryQuery { run_id, metric_key: metric_key.clone(), max_results: Some(limit), offset: 0 };
        if let Some(page) = state.tracking.get_metric_history(&query).await? {
            metrics.extend(page.items.into_iter().map(MetricMessage::with_run));
        }
        if metrics.len() >= limit {
            metrics.truncate(limit);
            break;
        }
    }
    Ok(Json(MetricsResponse { metrics, next_page_token: None }))
}

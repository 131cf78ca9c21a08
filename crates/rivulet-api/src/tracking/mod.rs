//! MLflow's tracking service (`/api/2.0/mlflow/...` and `/ajax-api/2.0/mlflow/...`):
//! routes, and the request readers the handlers share.

mod experiments;
mod metrics;
mod models;
mod runs;

use axum::routing::{get, patch, post};
use axum::Router;
use rivulet_core::tracking::{Tag, ViewType};
use rivulet_core::CoreError;

use crate::error::{ApiError, ApiResult};
use crate::request::Fields;
use crate::AppState;

/// The tracking routes, relative to a `/api/2.0/mlflow` or `/ajax-api/2.0/mlflow` prefix.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/experiments/create", post(experiments::create_experiment))
        .route("/experiments/get", get(experiments::get_experiment))
        .route("/experiments/get-by-name", get(experiments::get_experiment_by_name))
        .route("/experiments/search", get(experiments::search_experiments).post(experiments::search_experiments))
        .route("/experiments/delete", post(experiments::delete_experiment))
        .route("/experiments/restore", post(experiments::restore_experiment))
        .route("/experiments/update", post(experiments::update_experiment))
        .route("/experiments/set-experiment-tag", post(experiments::set_experiment_tag))
        .route("/experiments/delete-experiment-tag", post(experiments::delete_experiment_tag))
        .route("/runs/create", post(runs::create_run))
        .route("/runs/get", get(runs::get_run))
        .route("/runs/update", post(runs::update_run))
        .route("/runs/delete", post(runs::delete_run))
        .route("/runs/restore", post(runs::restore_run))
        .route("/runs/search", post(runs::search_runs).get(runs::search_runs))
        .route("/runs/log-metric", post(runs::log_metric))
        .route("/runs/log-parameter", post(runs::log_param))
        .route("/runs/set-tag", post(runs::set_tag))
        .route("/runs/delete-tag", post(runs::delete_tag))
        .route("/runs/log-batch", post(runs::log_batch))
        .route("/runs/log-inputs", post(runs::log_inputs))
        .route("/runs/outputs", post(runs::log_outputs))
        .route("/runs/log-model", post(runs::log_model))
        .route("/metrics/get-history", get(metrics::get_metric_history))
        .route("/metrics/get-history-bulk-interval", get(metrics::get_metric_history_bulk_interval))
        .route("/metrics/get-history-bulk", get(metrics::get_metric_history_bulk))
        .route("/logged-models", post(models::create_logged_model))
        .route("/logged-models/search", post(models::search_logged_models))
        .route(
            "/logged-models/{model_id}",
            get(models::get_logged_model).patch(models::finalize_logged_model).delete(models::delete_logged_model),
        )
        .route("/logged-models/{model_id}/tags", patch(models::set_logged_model_tags))
        .route("/logged-models/{model_id}/tags/{tag_key}", axum::routing::delete(models::delete_logged_model_tag))
        .route("/logged-models/{model_id}/params", post(models::log_logged_model_params))
}

/// Reads a repeated `{key, value}` message field; `key` is required in each element.
pub(crate) fn tags_from(fields: &Fields, name: &str) -> ApiResult<Vec<Tag>> {
    fields
        .messages(name)?
        .iter()
        .map(|tag| Ok(Tag::new(tag.required_string("key")?, tag.string("value")?.unwrap_or_default())))
        .collect()
}

pub(crate) fn view_type(fields: &Fields, name: &str) -> ApiResult<Option<ViewType>> {
    match fields.enum_text(name)? {
        None => Ok(None),
        Some(text) => ViewType::parse(&text)
            .map(Some)
            .ok_or_else(|| ApiError::invalid_parameter(format!("Invalid value \"{text}\" for parameter '{name}' supplied.")))
    }
}

/// `max_results` within `1..=limit`, with MLflow's messages.
pub(crate) fn max_results(fields: &Fields, name: &str, default: i64, limit: i64) -> ApiResult<usize> {
    let value = fields.i64(name)?.unwrap_or(default);
    if value < 1 {
        return Err(CoreError::invalid_parameter(format!(
            "Invalid value {value} for parameter '{name}' supplied. It must be a positive integer"
        ))
        .into());
    }
    if value > limit {
        return Err(CoreError::invalid_parameter(format!(
            "Invalid value {value} for parameter '{name}' supplied. It must be at most {limit}"
        ))
        .into());
    }
    Ok(value as usize)
}

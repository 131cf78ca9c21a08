//! Handlers for MLflow's run endpoints (`/runs/*`): lifecycle, logging and search.

use axum::extract::State;
use axum::Json;
use rivulet_core::page::decode_offset_token;
use rivulet_core::search::{parse_run_filter, parse_run_order_by};
use rivulet_core::store::RunSearch;
use rivulet_core::tracking::validation::{
    parse_experiment_id, prepare_new_run, validate_dataset_input, validate_log_batch, validate_run_id,
    MAX_RESULTS_SEARCH_RUNS,
};
use rivulet_core::tracking::{
    Dataset, DatasetInput, LogBatch, Metric, ModelOutput, RunStatus, RunUpdate, Tag, ViewType,
};
use rivulet_core::CoreError;
use serde::Serialize;

use super::{max_results, tags_from, view_type};
use crate::dto::{Empty, RunInfoMessage, RunMessage};
use crate::error::ApiResult;
use crate::request::{Fields, MlflowRequest};
use crate::AppState;

/// `run_id`, or the deprecated `run_uuid` the client still sends alongside it.
fn run_id(fields: &Fields) -> ApiResult<String> {
    fields
        .first_string(&["run_id", "run_uuid"])?
        .ok_or_else(|| CoreError::missing_parameter("run_id").into())
}

fn metric_from(fields: &Fields) -> ApiResult<Metric> {
    let value = fields.f64("value")?.ok_or_else(|| fields.missing("value"))?;
    Ok(Metric {
        key: fields.required_string("key")?,
        value,
        timestamp: fields.required_i64("timestamp")?,
        step: fields.i64("step")?.unwrap_or(0),
    })
}

#[derive(Serialize)]
pub struct RunResponse {
    run: RunMessage,
}

pub async fn create_run(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<RunResponse>> {
    let experiment_id = parse_experiment_id(&fields.required_string("experiment_id")?)?;
    let run = prepare_new_run(
        experiment_id,
        fields.string("user_id")?,
        fields.string("run_name")?,
        fields.i64("start_time")?,
        tags_from(&fields, "tags")?,
        state.settings.long_values,
    )?;
    let run = state.tracking.create_run(run).await?;
    Ok(Json(RunResponse { run: run.into() }))
}

pub async fn get_run(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<RunResponse>> {
    let run = state.tracking.get_run(&run_id(&fields)?).await?;
    Ok(Json(RunResponse { run: run.into() }))
}

#[derive(Serialize)]
pub struct UpdateRunResponse {
    run_info: RunInfoMessage,
}

pub async fn update_run(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<UpdateRunResponse>> {
    // An unknown status name is ignored, as MLflow's lenient proto parsing does.
    let update = RunUpdate {
        status: fields.enum_text("status")?.and_then(|s| RunStatus::parse(&s)),
        end_time: fields.i64("end_time")?,
        run_name: fields.string("run_name")?,
    };
    let info = state.tracking.update_run(&run_id(&fields)?, update).await?;
    Ok(Json(UpdateRunResponse { run_info: info.into() }))
}

pub async fn delete_run(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Empty>> {
    state.tracking.delete_run(&fields.required_string("run_id")?).await?;
    Ok(Json(Empty {}))
}

pub async fn restore_run(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Empty>> {
    state.tracking.restore_run(&fields.required_string("run_id")?).await?;
    Ok(Json(Empty {}))
}

async fn write_batch(state: &AppState, run_id: &str, mut batch: LogBatch) -> ApiResult<Json<Empty>> {
    validate_log_batch(&mut batch, state.settings.long_values)?;
    state.tracking.log_batch(run_id, batch).await?;
    Ok(Json(Empty {}))
}

pub async fn log_metric(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Empty>> {
    let run_id = run_id(&fields)?;
    let batch = LogBatch { metrics: vec![metric_from(&fields)?], ..Default::default() };
    write_batch(&state, &run_id, batch).await
}

pub async fn log_param(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Empty>> {
    let run_id = run_id(&fields)?;
    let param = Tag::new(fields.required_string("key")?, fields.string("value")?.unwrap_or_default());
    write_batch(&state, &run_id, LogBatch { params: vec![param], ..Default::default() }).await
}

pub async fn set_tag(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Empty>> {
    let run_id = run_id(&fields)?;
    let tag = Tag::new(fields.required_string("key")?, fields.string("value")?.unwrap_or_default());
    write_batch(&state, &run_id, LogBatch { tags: vec![tag], ..Default::default() }).await
}

pub async fn delete_tag(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Empty>> {
    let run_id = fields.required_string("run_id")?;
    let key = fields.required_string("key")?;
    state.tracking.delete_run_tag(&run_id, &key).await?;
    Ok(Json(Empty {}))
}

pub async fn log_batch(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Empty>> {
    let run_id = fields.required_string("run_id")?;
    validate_run_id(&run_id)?;
    let batch = LogBatch {
        metrics: fields.messages("metrics")?.iter().map(metric_from).collect::<ApiResult<_>>()?,
        params: tags_from(&fields, "params")?,
        tags: tags_from(&fields, "tags")?,
    };
    write_batch(&state, &run_id, batch).await
}

pub async fn log_inputs(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Empty>> {
    let run_id = fields.required_string("run_id")?;
    validate_run_id(&run_id)?;
    let mut datasets = Vec::new();
    for input in fields.messages("datasets")? {
        let dataset = input.message("dataset")?.ok_or_else(|| CoreError::missing_parameter("dataset"))?;
        let input = DatasetInput {
            tags: tags_from(&input, "tags")?,
            dataset: Dataset {
                name: dataset.required_string("name")?,
                digest: dataset.required_string("digest")?,
                source_type: dataset.required_string("source_type")?,
                source: dataset.required_string("source")?,
                schema: dataset.string("schema")?,
                profile: dataset.string("profile")?,
            },
        };
        validate_dataset_input(&input)?;
        datasets.push(input);
    }
    let models = fields.messages("models")?.iter().map(|m| m.required_string("model_id")).collect::<ApiResult<Vec<_>>>()?;
    state.tracking.log_inputs(&run_id, datasets, models).await?;
    Ok(Json(Empty {}))
}

pub async fn log_outputs(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Empty>> {
    let run_id = fields.required_string("run_id")?;
    let models = fields
        .messages("models")?
        .iter()
        .map(|m| Ok(ModelOutput { model_id: m.required_string("model_id")?, step: m.i64("step")?.unwrap_or(0) }))
        .collect::<ApiResult<Vec<_>>>()?;
    state.tracking.log_outputs(&run_id, models).await?;
    Ok(Json(Empty {}))
}

/// Legacy `log-model`: appends the model's JSON to the run's `mlflow.log-model.history` tag.
pub async fn log_model(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Empty>> {
    const HISTORY_TAG: &str = "mlflow.log-model.history";
    let run_id = fields.required_string("run_id")?;
    let model_json = fields.required_string("model_json")?;
    let model: serde_json::Value = serde_json::from_str(&model_json)
        .map_err(|_| CoreError::invalid_parameter(format!("Malformed model info. \n {model_json} \n is not a valid JSON.")))?;
    let run = state.tracking.get_run(&run_id).await?;
    let mut history: Vec<serde_json::Value> = run
        .data
        .tags
        .iter()
        .find(|t| t.key == HISTORY_TAG)
        .and_then(|t| serde_json::from_str(&t.value).ok())
        .unwrap_or_default();
    history.push(model);
    let tag = Tag::new(HISTORY_TAG, serde_json::Value::Array(history).to_string());
    write_batch(&state, &run_id, LogBatch { tags: vec![tag], ..Default::default() }).await
}

#[derive(Serialize)]
pub struct SearchRunsResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    runs: Vec<RunMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

pub async fn search_runs(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<SearchRunsResponse>> {
    let experiment_ids = fields
        .strings("experiment_ids")?
        .iter()
        .map(|id| parse_experiment_id(id))
        .collect::<Result<Vec<_>, _>>()?;
    let search = RunSearch {
        experiment_ids,
        filter: parse_run_filter(&fields.string("filter")?.unwrap_or_default())?,
        order_by: parse_run_order_by(&fields.strings("order_by")?)?,
        view_type: view_type(&fields, "run_view_type")?.unwrap_or(ViewType::ActiveOnly),
        max_results: max_results(&fields, "max_results", 1000, MAX_RESULTS_SEARCH_RUNS)?,
        offset: decode_offset_token(fields.string("page_token")?.as_deref())?,
    };
    let page = state.tracking.search_runs(&search).await?;
    Ok(Json(SearchRunsResponse {
        runs: page.items.into_iter().map(RunMessage::from).collect(),
        next_page_token: page.next_page_token,
    }))
}

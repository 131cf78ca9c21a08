//! Handlers for MLflow's experiment endpoints (`/experiments/*`).

use axum::extract::State;
use axum::Json;
use rivulet_core::page::decode_offset_token;
use rivulet_core::search::{parse_experiment_filter, parse_experiment_order_by};
use rivulet_core::store::ExperimentSearch;
use rivulet_core::tracking::validation::{
    parse_experiment_id, validate_experiment_name, validate_experiment_tag, validate_new_experiment,
    MAX_RESULTS_SEARCH_EXPERIMENTS,
};
use rivulet_core::tracking::{NewExperiment, Tag, ViewType};
use serde::Serialize;

use super::{max_results, tags_from, view_type};
use crate::dto::{Empty, ExperimentMessage};
use crate::error::ApiResult;
use crate::request::{Fields, MlflowRequest};
use crate::AppState;

fn experiment_id(fields: &Fields) -> ApiResult<i64> {
    Ok(parse_experiment_id(&fields.required_string("experiment_id")?)?)
}

#[derive(Serialize)]
pub struct CreateExperimentResponse {
    experiment_id: String,
}

pub async fn create_experiment(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<CreateExperimentResponse>> {
    let experiment = NewExperiment {
        name: fields.required_string("name")?,
        artifact_location: fields.string("artifact_location")?.filter(|s| !s.is_empty()),
        tags: tags_from(&fields, "tags")?,
    };
    validate_new_experiment(&experiment)?;
    let experiment_id = state.tracking.create_experiment(experiment).await?;
    Ok(Json(CreateExperimentResponse { experiment_id: experiment_id.to_string() }))
}

#[derive(Serialize)]
pub struct GetExperimentResponse {
    experiment: ExperimentMessage,
}

pub async fn get_experiment(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<GetExperimentResponse>> {
    let experiment = state.tracking.get_experiment(experiment_id(&fields)?).await?;
    Ok(Json(GetExperimentResponse { experiment: experiment.into() }))
}

pub async fn get_experiment_by_name(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<GetExperimentResponse>> {
    let name = fields.required_string("experiment_name")?;
    let experiment = state.tracking.get_experiment_by_name(&name).await?;
    Ok(Json(GetExperimentResponse { experiment: experiment.into() }))
}

#[derive(Serialize)]
pub struct SearchExperimentsResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    experiments: Vec<ExperimentMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

pub async fn search_experiments(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<SearchExperimentsResponse>> {
    // MLflow answers 400 to a request without max_results; the client always sends one, and a
    // default is kinder to curl users.
    let search = ExperimentSearch {
        filter: parse_experiment_filter(&fields.string("filter")?.unwrap_or_default())?,
        order_by: parse_experiment_order_by(&fields.strings("order_by")?)?,
        view_type: view_type(&fields, "view_type")?.unwrap_or(ViewType::ActiveOnly),
        max_results: max_results(&fields, "max_results", 1000, MAX_RESULTS_SEARCH_EXPERIMENTS)?,
        offset: decode_offset_token(fields.string("page_token")?.as_deref())?,
    };
    let page = state.tracking.search_experiments(&search).await?;
    Ok(Json(SearchExperimentsResponse {
        experiments: page.items.into_iter().map(ExperimentMessage::from).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub async fn delete_experiment(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Empty>> {
    state.tracking.delete_experiment(experiment_id(&fields)?).await?;
    Ok(Json(Empty {}))
}

pub async fn restore_experiment(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Empty>> {
    state.tracking.restore_experiment(experiment_id(&fields)?).await?;
    Ok(Json(Empty {}))
}

pub async fn update_experiment(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Empty>> {
    let experiment_id = experiment_id(&fields)?;
    let new_name = fields.required_string("new_name")?;
    validate_experiment_name(&new_name)?;
    state.tracking.rename_experiment(experiment_id, &new_name).await?;
    Ok(Json(Empty {}))
}

pub async fn set_experiment_tag(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Empty>> {
    let experiment_id = experiment_id(&fields)?;
    let tag = Tag::new(fields.required_string("key")?, fields.string("value")?.unwrap_or_default());
    validate_experiment_tag(&tag)?;
    state.tracking.set_experiment_tag(experiment_id, tag).await?;
    Ok(Json(Empty {}))
}

pub async fn delete_experiment_tag(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Empty>> {
    let experiment_id = experiment_id(&fields)?;
    let key = fields.required_string("key")?;
    state.tracking.delete_experiment_tag(experiment_id, &key).await?;
    Ok(Json(Empty {}))
}

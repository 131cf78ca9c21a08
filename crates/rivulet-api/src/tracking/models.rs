//! Handlers for MLflow 3's logged models (`/logged-models/*`).

use axum::extract::{Path, State};
use axum::Json;
use rivulet_core::page::decode_offset_token;
use rivulet_core::store::LoggedModelSearch;
use rivulet_core::tracking::validation::parse_experiment_id;
use rivulet_core::tracking::{names::random_run_name, LoggedModelStatus, NewLoggedModel};
use rivulet_core::CoreError;
use serde::Serialize;

use super::tags_from;
use crate::dto::{Empty, LoggedModelMessage};
use crate::error::ApiResult;
use crate::request::MlflowRequest;
use crate::AppState;

#[derive(Serialize)]
pub struct LoggedModelResponse {
    model: LoggedModelMessage,
}

fn validate_model_name(name: &str) -> ApiResult<()> {
    if name.chars().any(|c| matches!(c, '/' | ':' | '.' | '%' | '"' | '\'')) {
        return Err(CoreError::invalid_parameter(format!(
            "Invalid model name '{name}'. Names cannot contain the following characters: '/', ':', '.', '%', '\"', \"'\"."
        ))
        .into());
    }
    Ok(())
}

pub async fn create_logged_model(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<LoggedModelResponse>> {
    let name = fields.string("name")?.filter(|n| !n.is_empty()).unwrap_or_else(random_run_name);
    validate_model_name(&name)?;
    let model = NewLoggedModel {
        experiment_id: parse_experiment_id(&fields.required_string("experiment_id")?)?,
        name,
        model_type: fields.string("model_type")?,
        source_run_id: fields.string("source_run_id")?.filter(|s| !s.is_empty()),
        params: tags_from(&fields, "params")?,
        tags: tags_from(&fields, "tags")?,
    };
    let model = state.tracking.create_logged_model(model).await?;
    Ok(Json(LoggedModelResponse { model: model.into() }))
}

pub async fn get_logged_model(State(state): State<AppState>, Path(model_id): Path<String>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<LoggedModelResponse>> {
    let allow_deleted = fields.bool("allow_deleted")?.unwrap_or(false);
    let model = state.tracking.get_logged_model(&model_id, allow_deleted).await?;
    Ok(Json(LoggedModelResponse { model: model.into() }))
}

pub async fn finalize_logged_model(State(state): State<AppState>, Path(model_id): Path<String>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<LoggedModelResponse>> {
    let status_text = fields.enum_text("status")?.ok_or_else(|| fields.missing("status"))?;
    let status = LoggedModelStatus::parse(&status_text)
        .ok_or_else(|| CoreError::invalid_parameter(format!("Invalid value \"{status_text}\" for parameter 'status' supplied.")))?;
    let model = state.tracking.set_logged_model_status(&model_id, status).await?;
    Ok(Json(LoggedModelResponse { model: model.into() }))
}

pub async fn delete_logged_model(State(state): State<AppState>, Path(model_id): Path<String>) -> ApiResult<Json<Empty>> {
    state.tracking.delete_logged_model(&model_id).await?;
    Ok(Json(Empty {}))
}

pub async fn set_logged_model_tags(State(state): State<AppState>, Path(model_id): Path<String>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Empty>> {
    state.tracking.set_logged_model_tags(&model_id, tags_from(&fields, "tags")?).await?;
    Ok(Json(Empty {}))
}

pub async fn delete_logged_model_tag(State(state): State<AppState>, Path((model_id, tag_key)): Path<(String, String)>) -> ApiResult<Json<Empty>> {
    state.tracking.delete_logged_model_tag(&model_id, &tag_key).await?;
    Ok(Json(Empty {}))
}

pub async fn log_logged_model_params(State(state): State<AppState>, Path(model_id): Path<String>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<Empty>> {
    state.tracking.log_logged_model_params(&model_id, tags_from(&fields, "params")?).await?;
    Ok(Json(Empty {}))
}

/// Reads the only filter shape MLflow's client itself sends: `name = '<value>'`.
fn parse_name_filter(filter: &str) -> ApiResult<Option<String>> {
    let filter = filter.trim();
    if filter.is_empty() {
        return Ok(None);
    }
    let unsupported = || {
        CoreError::invalid_parameter(format!(
            "Unsupported logged model filter '{filter}': this server supports \"name = '<name>'\" only"
        ))
    };
    let (key, value) = filter.split_once('=').ok_or_else(unsupported)?;
    let key = key.trim().trim_matches('`');
    if !matches!(key, "name" | "attributes.name" | "attribute.name") {
        return Err(unsupported().into());
    }
    let value = value.trim();
    let quoted = value.len() >= 2
        && ((value.starts_with('\'') && value.ends_with('\'')) || (value.starts_with('"') && value.ends_with('"')));
    if !quoted || value[1..value.len() - 1].contains(['\'', '"']) {
        return Err(unsupported().into());
    }
    Ok(Some(value[1..value.len() - 1].to_string()))
}

#[derive(Serialize)]
pub struct SearchLoggedModelsResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    models: Vec<LoggedModelMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

pub async fn search_logged_models(State(state): State<AppState>, MlflowRequest(fields): MlflowRequest) -> ApiResult<Json<SearchLoggedModelsResponse>> {
    let experiment_ids = fields
        .strings("experiment_ids")?
        .iter()
        .map(|id| parse_experiment_id(id))
        .collect::<Result<Vec<_>, _>>()?;
    let search = LoggedModelSearch {
        experiment_ids,
        name_equals: parse_name_filter(&fields.string("filter")?.unwrap_or_default())?,
        max_results: fields.i64("max_results")?.filter(|n| *n > 0).unwrap_or(100).min(1000) as usize,
        offset: decode_offset_token(fields.string("page_token")?.as_deref())?,
    };
    let page = state.tracking.search_logged_models(&search).await?;
    Ok(Json(SearchLoggedModelsResponse {
        models: page.items.into_iter().map(LoggedModelMessage::from).collect(),
        next_page_token: page.next_page_token,
    }))
}

#[cfg(test)]
mod tests {
    use super::parse_name_filter;

    #[test]
    fn name_filters() {
        assert_eq!(parse_name_filter("").unwrap(), None);
        assert_eq!(parse_name_filter("name = 'dir'").unwrap().as_deref(), Some("dir"));
        assert_eq!(parse_name_filter("attributes.name = \"m\"").unwrap().as_deref(), Some("m"));
        assert!(parse_name_filter("metrics.x > 1").is_err());
        assert!(parse_name_filter("name = 'a' OR 1=1 --'").is_err());
    }
}

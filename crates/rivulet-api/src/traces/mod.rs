//! MLflow's trace REST API (`/api/{2.0,3.0}/mlflow/traces/...` and the `/ajax-api` twins).

mod assessments;
mod handlers;
mod legacy;
pub mod spans;
pub mod time;
pub mod wire;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::routing::{get, patch, post};
use axum::Router;

use crate::error::ApiError;
use crate::request::Fields;
use crate::AppState;

/// Every trace route under both API prefixes, as full paths: merge into the root router.
///
/// Static segments (`get`, `batchGet`, `search`, `delete-traces`…) are separate routes, and the
/// router prefers a static segment over `{trace_id}`, so `/traces/get` is never a trace id.
pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for prefix in ["/api", "/ajax-api"] {
        let v3 = format!("{prefix}/3.0/mlflow/traces");
        let v2 = format!("{prefix}/2.0/mlflow/traces");
        router = router
            .route(&v3, post(handlers::start_trace_v3))
            .route(&format!("{v3}/get"), get(handlers::get_trace))
            .route(&format!("{v3}/batchGet"), get(handlers::batch_get_traces))
            .route(&format!("{v3}/batchGetInfos"), post(handlers::batch_get_trace_infos))
            .route(&format!("{v3}/search"), post(handlers::search_traces))
            .route(&format!("{v3}/delete-traces"), post(handlers::delete_traces))
            .route(&format!("{v3}/{{trace_id}}"), get(handlers::get_trace_info))
            .route(&format!("{v3}/{{trace_id}}/tags"), patch(handlers::set_trace_tag).delete(handlers::delete_trace_tag))
            .route(&format!("{v3}/{{trace_id}}/assessments"), post(assessments::create_assessment))
            .route(
                &format!("{v3}/{{trace_id}}/assessments/{{assessment_id}}"),
                get(assessments::get_assessment).patch(assessments::update_assessment).delete(assessments::delete_assessment),
            )
            .route(&v2, get(legacy::search_traces_v2))
            .route(&format!("{v2}/delete-traces"), post(handlers::delete_traces))
            .route(&format!("{v2}/link-to-run"), post(handlers::link_traces_to_run))
            .route(&format!("{v2}/{{trace_id}}/info"), get(legacy::get_trace_info_v2))
            .route(&format!("{v2}/{{trace_id}}/tags"), patch(handlers::set_trace_tag).delete(handlers::delete_trace_tag));
    }
    router
}

/// A DELETE request's fields from both the JSON body and the query string.
///
/// MLflow reads DELETE parameters from the body (what the Python client sends), but the UI's
/// tag delete puts the key in `?key=`; both are read, the body first.
pub struct DeleteRequest {
    pub body: Fields,
    pub query: Fields,
}

impl DeleteRequest {
    pub fn string(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.body.string(name)?.filter(|s| !s.is_empty()) {
            Some(value) => Ok(Some(value)),
            None => Ok(self.query.string(name)?.filter(|s| !s.is_empty())),
        }
    }
}

impl<S: Send + Sync> FromRequest<S> for DeleteRequest {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let query = Fields::from_query(request.uri().query().unwrap_or_default());
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| ApiError(rivulet_core::CoreError::new(rivulet_core::ErrorCode::BadRequest, rejection.body_text())))?;
        Ok(DeleteRequest { body: Fields::from_json(&body), query })
    }
}

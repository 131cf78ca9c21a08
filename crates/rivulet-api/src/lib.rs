//! Rivulet's transports: MLflow's REST API over HTTP, its wire shapes and error mapping.
//!
//! Handlers are thin: read the request ([`request::Fields`]), call the core's validation and
//! one store method, and write the response DTO ([`dto`]). Nothing here runs SQL.

mod artifacts;
pub mod dto;
pub mod error;
mod meta;
pub mod ops;
pub mod otlp;
pub mod request;
pub mod security;
mod tracking;
mod traces;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use rivulet_core::store::{TraceStore, TrackingStore};
use rivulet_core::tracking::validation::LongValues;

/// The MLflow release whose API this server implements.
pub const MLFLOW_COMPATIBLE_VERSION: &str = "3.17.2";

/// Settings the handlers need, resolved once by the binary.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    pub long_values: LongValues,
    /// Reported by `/version`; the client reads it to choose features.
    pub mlflow_version: String,
    pub server_version: String,
    /// Largest accepted JSON request body.
    pub max_request_bytes: usize,
    /// Mount every route under this prefix (`--static-prefix`), e.g. `/mlflow`.
    pub static_prefix: Option<String>,
    /// Size and shape limits of OTLP export requests.
    pub otlp_limits: otlp::decode::DecodeLimits,
    /// Decompressed bytes of OTLP exports that may be decoded, queued or awaiting commit at once
    /// (see `otlp::ExportAdmission`; gRPC exports count their encoded size).
    pub otlp_in_flight_bytes: usize,
    /// Artifact storage (`--artifacts-destination`, `--default-artifact-root`); disabled by default.
    pub artifacts: Arc<rivulet_artifacts::Artifacts>,
    /// Host check, CORS, security headers and authentication (`--allowed-hosts`,
    /// `--cors-allowed-origins`, `--auth-file`, …); applied by [`app`].
    pub security: security::SecuritySettings,
    /// Metrics and the readiness probe's store checks.
    pub ops: ops::Ops,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            long_values: LongValues::Truncate,
            mlflow_version: MLFLOW_COMPATIBLE_VERSION.to_string(),
            server_version: env!("CARGO_PKG_VERSION").to_string(),
            max_request_bytes: 64 * 1024 * 1024,
            static_prefix: None,
            otlp_limits: otlp::decode::DecodeLimits::default(),
            otlp_in_flight_bytes: 24 * 1024 * 1024,
            artifacts: Arc::new(rivulet_artifacts::Artifacts::disabled()),
            security: security::SecuritySettings::default(),
            ops: ops::Ops::default(),
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub tracking: Arc<dyn TrackingStore>,
    pub traces: Arc<dyn TraceStore>,
    /// Where OTLP exports without an experiment id go.
    pub trace_experiments: Arc<otlp::TraceExperiments>,
    /// The byte budget OTLP exports share while they are converted and stored.
    pub export_admission: Arc<otlp::ExportAdmission>,
    pub settings: Arc<ApiSettings>,
}

impl AppState {
    /// One store serving both tracking and traces; OTLP exports that name no experiment go to
    /// `default_trace_experiment` (refused when `None`).
    pub fn new<S: TrackingStore + TraceStore + Clone>(store: S, default_trace_experiment: Option<String>, settings: ApiSettings) -> Self {
        AppState {
            tracking: Arc::new(store.clone()),
            traces: Arc::new(store),
            trace_experiments: Arc::new(otlp::TraceExperiments::new(default_trace_experiment)),
            export_admission: Arc::new(otlp::ExportAdmission::new(settings.otlp_in_flight_bytes)),
            settings: Arc::new(settings),
        }
    }
}

/// The whole HTTP API.
pub fn router(state: AppState) -> Router {
    let tracking = tracking::routes();
    let routes = Router::new()
        .route("/health", get(meta::health))
        .route("/version", get(meta::version))
        .route("/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .route("/api/3.0/mlflow/server-info", get(meta::server_info))
        .route("/ajax-api/3.0/mlflow/server-info", get(meta::server_info))
        // Reads its own body, within the OTLP body limit (`otlp_limits.max_body_bytes`).
        .route("/v1/traces", post(otlp::export_traces))
        .nest("/api/2.0/mlflow", tracking.clone())
        .nest("/ajax-api/2.0/mlflow", tracking)
        .merge(traces::routes())
        .merge(artifacts::routes())
        .fallback(meta::not_found)
        .layer(DefaultBodyLimit::max(state.settings.max_request_bytes));
    let routes = match state.settings.static_prefix.as_deref() {
        Some(prefix) if !prefix.is_empty() => Router::new().nest(prefix, routes).fallback(meta::not_found),
        _ => routes,
    };
    routes.with_state(state)
}

/// The served application: [`router`] merged with `extra` routes (the web UI), under one set of
/// layers — request metrics, security headers, Host check, CORS and authentication — so that no
/// route, whichever crate adds it, escapes them.
pub fn app(state: AppState, extra: Router) -> Router {
    let settings = state.settings.clone();
    let app = router(state).merge(extra);
    ops::instrument(security::protect(app, &settings), &settings.ops)
}

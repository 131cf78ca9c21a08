//! Rivulet's web UI: server-rendered pages for experiments, runs and traces, with a small
//! embedded script for the waterfall, auto-refresh and keyboard use.
//!
//! Pages read the same store traits as the REST API (`AppState`), never the JSON API over HTTP.
//! Everything is plain HTML built with `format!` and escaped by [`html::esc`]; the only client
//! code is `static/app.js`, embedded at compile time, so `cargo build` produces the whole UI.

mod artifacts;
mod assets;
mod chart;
mod chat;
mod compare;
mod experiments;
mod graph;
pub mod html;
mod json_view;
mod onboarding;
mod run;
mod runs;
mod sessions;
mod span;
mod trace;
mod traces;

use std::collections::HashMap;
use std::time::Instant;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use rivulet_api::AppState;
use rivulet_core::{CoreError, ErrorCode};

use html::{esc, Ctx};

/// What UI handlers return: a page, or an error page (also a response).
pub(crate) type PageResult = Result<Response, Response>;

/// Renders a store or validation failure as an error page with the right status.
pub(crate) fn error_page(ctx: &Ctx, error: &CoreError) -> Response {
    let status = StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let title = match error.code {
        ErrorCode::ResourceDoesNotExist => "Not found",
        ErrorCode::InvalidParameterValue | ErrorCode::BadRequest => "Invalid request",
        _ => "Something went wrong",
    };
    let body = format!(
        "<section class=\"panel\"><h1>{title}</h1><p>{}</p><p><a href=\"{}\">Back to experiments</a></p></section>",
        esc(&error.message),
        esc(&ctx.url("/"))
    );
    let mut response = html::page(ctx, title, &[html::Crumb::text(title)], &body);
    *response.status_mut() = status;
    response
}

/// `Result<T, CoreError>` → `Result<T, error page>`.
// The error is the handler's finished response, returned as is: boxing it buys nothing.
#[allow(clippy::result_large_err)]
pub(crate) trait OrPage<T> {
    fn or_page(self, ctx: &Ctx) -> Result<T, Response>;
}

#[allow(clippy::result_large_err)]
impl<T> OrPage<T> for rivulet_core::Result<T> {
    fn or_page(self, ctx: &Ctx) -> Result<T, Response> {
        self.map_err(|error| error_page(ctx, &error))
    }
}

pub(crate) fn ctx(state: &AppState, headers: &HeaderMap) -> Ctx {
    Ctx::new(state.settings.static_prefix.as_deref(), headers)
}

/// Decodes an `application/x-www-form-urlencoded` body (axum's `Form` needs a feature the
/// workspace does not enable; this is all the UI's forms need).
pub(crate) fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// Repeated query keys (`run=a&run=b`), which serde's query extractor cannot express.
pub(crate) fn query_values(query: Option<&str>, key: &str) -> Vec<String> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

/// Refuses state-changing form posts from other sites: the server has no login, so a page
/// elsewhere must not be able to delete experiments through a visitor's browser.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    match (header("origin"), header("x-forwarded-host").or_else(|| header("host"))) {
        (Some(origin), Some(host)) => origin.split("://").nth(1).is_some_and(|rest| rest == host),
        _ => true,
    }
}

pub(crate) fn forbidden_cross_site(ctx: &Ctx) -> Response {
    let mut response = error_page(ctx, &CoreError::new(ErrorCode::PermissionDenied, "Cross-site form posts are refused."));
    *response.status_mut() = StatusCode::FORBIDDEN;
    response
}

/// A redirect after a successful form post (303, so reloading does not repost).
pub(crate) fn see_other(location: &str) -> Response {
    Redirect::to(location).into_response()
}

/// `Server-Timing: app;dur=…` on every UI response: the server's share of a page load, which the
/// browser benchmarks read from the Navigation Timing API.
async fn server_timing(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let mut response = next.run(request).await;
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(value) = HeaderValue::from_str(&format!("app;dur={millis:.1}")) {
        response.headers_mut().insert("server-timing", value);
    }
    if !response.headers().contains_key(header::CACHE_CONTROL) {
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The UI's routes, under `--static-prefix` when one is set. Merge it with the API router.
pub fn router(state: AppState) -> Router {
    let routes: Router<AppState> = Router::new()
        .route("/", get(experiments::list))
        .route("/ui", get(|| async { Redirect::permanent("./") }))
        .route("/ui/static/{name}", get(assets::serve))
        .route("/ui/experiments", post(experiments::create))
        .route("/ui/experiments/{id}", get(experiments::open))
        .route("/ui/experiments/{id}/rename", post(experiments::rename))
        .route("/ui/experiments/{id}/delete", post(experiments::delete))
        .route("/ui/experiments/{id}/restore", post(experiments::restore))
        .route("/ui/experiments/{id}/runs", get(runs::page))
        .route("/ui/experiments/{id}/compare", get(compare::page))
        .route("/ui/experiments/{id}/traces", get(traces::page))
        .route("/ui/experiments/{id}/sessions", get(sessions::list))
        .route("/ui/experiments/{id}/session", get(sessions::timeline))
        .route("/ui/experiments/{id}/graph", get(graph::page))
        .route("/ui/runs/{run_id}", get(run::page))
        .route("/ui/runs/{run_id}/artifacts", get(artifacts::page))
        .route("/ui/traces/{trace_id}", get(trace::page))
        .route("/ui/traces/{trace_id}/tree", get(trace::tree))
        .route("/ui/traces/{trace_id}/spans/{span_id}", get(span::panel))
        .layer(middleware::from_fn(server_timing));
    let routes = match state.settings.static_prefix.as_deref().map(|p| p.trim_end_matches('/')) {
        Some(prefix) if !prefix.is_empty() => {
            let home = format!("{prefix}/");
            Router::new()
                .route(&home, get(experiments::list).layer(middleware::from_fn(server_timing)))
                .nest(prefix, routes)
        }
        _ => routes,
    };
    routes.with_state(state)
}

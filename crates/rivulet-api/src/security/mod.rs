//! The security layers over the whole application (API, UI, OTLP/HTTP): Host check, CORS and cross-origin blocking, security headers, and optional authentication; plus the same authentication for OTLP/gRPC.
//!
//! They are applied once, in [`crate::app`], to the merged router, so a route added anywhere is
//! covered without being listed here. Only the probes are exempt: `/health` and `/version` from
//! the Host check (probes and load balancers use whatever Host they like), and `/health`,
//! `/version` and `/ready` from authentication (a probe has no credentials).
//!
//! Order, outermost first: security headers → Host check → CORS → authentication → handler. CORS
//! comes before authentication because browsers send preflights without credentials.

pub mod auth;
pub mod cors;
pub mod hosts;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceServiceServer;
use prost::Message;
use rivulet_core::ErrorCode;

pub use auth::{AuthFailure, Authenticator, Principal};
pub use cors::CorsPolicy;
pub use hosts::HostPolicy;

use crate::error::error_body;
use crate::otlp::grpc::{Around, AroundCall, OtlpTraceService, ReceiveTurns};
use crate::ApiSettings;

/// `X-Frame-Options` (`--x-frame-options`), also written as CSP `frame-ancestors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FrameOptions {
    Deny,
    #[default]
    SameOrigin,
    /// No framing header at all (to embed the UI in another site).
    None,
}

impl FrameOptions {
    pub fn parse(value: &str) -> Result<FrameOptions, String> {
        match value.trim().to_ascii_uppercase().as_str() {
            "DENY" => Ok(FrameOptions::Deny),
            "SAMEORIGIN" => Ok(FrameOptions::SameOrigin),
            "NONE" => Ok(FrameOptions::None),
            other => Err(format!("--x-frame-options must be DENY, SAMEORIGIN or NONE (got '{other}')")),
        }
    }
}

/// The security configuration, resolved once by the binary.
#[derive(Debug, Clone)]
pub struct SecuritySettings {
    /// Host check, CORS handling and security headers. `--disable-security-middleware` turns
    /// them off; authentication is independent of it.
    pub middleware: bool,
    pub allowed_hosts: HostPolicy,
    pub cors: CorsPolicy,
    pub frame_options: FrameOptions,
    /// `--auth-file`; `None` (the default) serves without authentication.
    pub auth: Option<Arc<Authenticator>>,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        SecuritySettings {
            middleware: true,
            allowed_hosts: HostPolicy::default(),
            cors: CorsPolicy::default(),
            frame_options: FrameOptions::default(),
            auth: None,
        }
    }
}

/// The server flags that make up [`SecuritySettings`], as given.
#[derive(Debug, Clone, Default)]
pub struct SecurityFlags<'a> {
    /// `--allowed-hosts` / `MLFLOW_SERVER_ALLOWED_HOSTS`.
    pub allowed_hosts: Option<&'a str>,
    /// `--cors-allowed-origins` / `MLFLOW_SERVER_CORS_ALLOWED_ORIGINS`.
    pub cors_allowed_origins: Option<&'a str>,
    /// `--disable-security-middleware` / `MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE`.
    pub disable_security_middleware: bool,
    /// `--x-frame-options` / `MLFLOW_SERVER_X_FRAME_OPTIONS`.
    pub x_frame_options: Option<&'a str>,
    /// `--auth-file` / `RIVULET_AUTH_FILE`.
    pub auth_file: Option<&'a std::path::Path>,
}

impl SecuritySettings {
    /// Resolves the flags, refusing conflicting or malformed ones with a message that says what
    /// to change, and logging the choices that weaken protection.
    pub fn from_flags(flags: &SecurityFlags<'_>) -> Result<SecuritySettings, String> {
        let given = |value: Option<&str>| value.map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
        let allowed_hosts = given(flags.allowed_hosts);
        let cors_allowed_origins = given(flags.cors_allowed_origins);
        if flags.disable_security_middleware {
            let conflicting: Vec<&str> = [
                allowed_hosts.as_ref().map(|_| "--allowed-hosts (MLFLOW_SERVER_ALLOWED_HOSTS)"),
                cors_allowed_origins.as_ref().map(|_| "--cors-allowed-origins (MLFLOW_SERVER_CORS_ALLOWED_ORIGINS)"),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !conflicting.is_empty() {
                return Err(format!(
                    "--disable-security-middleware (MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE) turns off the Host check and \
                     CORS, so {} would have no effect; remove one or the other",
                    conflicting.join(" and ")
                ));
            }
        }
        let allowed_hosts = HostPolicy::parse(allowed_hosts.as_deref().unwrap_or(""))?;
        let cors = CorsPolicy::parse(cors_allowed_origins.as_deref().unwrap_or(""))?;
        let frame_options = FrameOptions::parse(flags.x_frame_options.unwrap_or("SAMEORIGIN"))?;
        let auth = match flags.auth_file {
            Some(path) => {
                let authenticator = Authenticator::from_file(path)?;
                tracing::info!(
                    users = authenticator.n_users(),
                    tokens = authenticator.n_tokens(),
                    "authentication required on every route but /health, /version and /ready ({})",
                    authenticator.source()
                );
                Some(Arc::new(authenticator))
            }
            None => None,
        };
        if flags.disable_security_middleware {
            tracing::warn!("--disable-security-middleware: no Host check (DNS rebinding), CORS checks or security headers");
        } else {
            if allowed_hosts.allows_any() {
                tracing::warn!("--allowed-hosts '*' turns the Host check off: the server is open to DNS rebinding from browsers");
            }
            if cors.allows_any() {
                tracing::warn!("--cors-allowed-origins '*': any web page may call this server from a visitor's browser");
            }
        }
        Ok(SecuritySettings { middleware: !flags.disable_security_middleware, allowed_hosts, cors, frame_options, auth })
    }
}

/// What the middleware functions share.
struct Guard {
    settings: SecuritySettings,
    prefix: String,
    content_security_policy: HeaderValue,
}

impl Guard {
    fn new(settings: &ApiSettings) -> Guard {
        let frame_ancestors = match settings.security.frame_options {
            FrameOptions::Deny => "; frame-ancestors 'none'",
            FrameOptions::SameOrigin => "; frame-ancestors 'self'",
            FrameOptions::None => "",
        };
        // The UI loads its script and stylesheet from itself, uses inline style attributes for
        // chart colours, and fetches fragments from the same origin; nothing else is needed.
        let csp = format!(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; \
             connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'{frame_ancestors}"
        );
        Guard {
            settings: settings.security.clone(),
            prefix: settings.static_prefix.clone().unwrap_or_default().trim_end_matches('/').to_string(),
            content_security_policy: HeaderValue::from_str(&csp).expect("the CSP is ASCII"),
        }
    }

    /// `path` is one of `names` under the static prefix.
    fn is(&self, path: &str, names: &[&str]) -> bool {
        path.strip_prefix(self.prefix.as_str()).is_some_and(|rest| names.contains(&rest))
    }
}

/// Paths the Host check leaves alone: liveness and version probes.
const HOST_CHECK_EXEMPT: &[&str] = &["/health", "/version"];
/// Paths served without credentials: the probes.
pub const PUBLIC_PATHS: &[&str] = &["/health", "/version", "/ready"];

/// Applies the security layers to `app` (which must already hold every route).
pub fn protect(app: Router, settings: &ApiSettings) -> Router {
    let guard = Arc::new(Guard::new(settings));
    let mut app = app;
    if settings.security.auth.is_some() {
        app = app.layer(from_fn_with_state(guard.clone(), require_auth));
    }
    if settings.security.middleware {
        app = app
            .layer(from_fn_with_state(guard.clone(), cors))
            .layer(from_fn_with_state(guard.clone(), check_host))
            .layer(from_fn_with_state(guard, security_headers));
    }
    app
}

fn text_response(status: StatusCode, message: String) -> Response {
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"))], message).into_response()
}

async fn check_host(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    if guard.settings.allowed_hosts.allows_any() || guard.is(request.uri().path(), HOST_CHECK_EXEMPT) {
        return next.run(request).await;
    }
    // HTTP/2 carries the host in the `:authority` pseudo-header, which becomes the URI's.
    let host = match request.headers().get(header::HOST) {
        Some(value) => Some(String::from_utf8_lossy(value.as_bytes()).into_owned()),
        None => request.uri().authority().map(|a| a.as_str().to_string()),
    };
    match host {
        Some(host) if guard.settings.allowed_hosts.allows(&host) => next.run(request).await,
        Some(host) => {
            let shown = hosts::shown(&host);
            tracing::warn!(host = ?shown, path = request.uri().path(), "refused a request for a host this server does not serve");
            text_response(
                StatusCode::FORBIDDEN,
                format!(
                    "Invalid Host header '{shown}': this server does not answer to that name (possible DNS rebinding \
                     attack). If it should, add it to --allowed-hosts (environment variable MLFLOW_SERVER_ALLOWED_HOSTS), \
                     e.g. --allowed-hosts {}. Loopback and private addresses, single-label names and in-cluster names \
                     (*.svc, *.cluster.local) are always allowed.\n",
                    hosts::suggested_entry(&host)
                ),
            )
        }
        None => text_response(
            StatusCode::FORBIDDEN,
            "Missing Host header: every request must name the host it is for (possible DNS rebinding attack).\n".to_string(),
        ),
    }
}

async fn cors(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let Some(origin) = request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_string) else {
        // Not a browser's cross-origin request (every non-browser client).
        return next.run(request).await;
    };
    let policy = &guard.settings.cors;
    let allowed = policy.allows(&origin, request.headers());
    let preflight = request.method() == Method::OPTIONS && request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        if !allowed {
            let mut response = text_response(StatusCode::BAD_REQUEST, "Disallowed CORS origin".to_string());
            response.headers_mut().append(header::VARY, HeaderValue::from_static("Origin"));
            return response;
        }
        let mut response = text_response(StatusCode::OK, "OK".to_string());
        let headers = response.headers_mut();
        allow_origin(headers, policy, &origin);
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"));
        if let Some(requested) = request.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
        }
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        return response;
    }
    if !allowed && cors::is_unsafe(request.method()) {
        let shown = hosts::shown(&origin);
        tracing::warn!(origin = ?shown, method = %request.method(), path = request.uri().path(), "refused a cross-origin request");
        return text_response(
            StatusCode::FORBIDDEN,
            format!(
                "Cross-origin request blocked: a page at '{shown}' may not change data on this server. If that origin \
                 should be allowed, add it to --cors-allowed-origins (environment variable MLFLOW_SERVER_CORS_ALLOWED_ORIGINS).\n"
            ),
        );
    }
    let mut response = next.run(request).await;
    if allowed {
        allow_origin(response.headers_mut(), policy, &origin);
    }
    response
}

fn allow_origin(headers: &mut HeaderMap, policy: &CorsPolicy, origin: &str) {
    if policy.allows_any() {
        // A wildcard never goes with credentials (browsers refuse the combination anyway).
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        return;
    }
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
    }
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

async fn security_headers(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.entry(header::X_CONTENT_TYPE_OPTIONS).or_insert(HeaderValue::from_static("nosniff"));
    let frame = match guard.settings.frame_options {
        FrameOptions::Deny => Some("DENY"),
        FrameOptions::SameOrigin => Some("SAMEORIGIN"),
        FrameOptions::None => None,
    };
    if let Some(frame) = frame {
        headers.entry(header::X_FRAME_OPTIONS).or_insert(HeaderValue::from_static(frame));
    }
    headers.entry(header::REFERRER_POLICY).or_insert(HeaderValue::from_static("same-origin"));
    // On every response, not only HTML: an artifact opened in the browser (an SVG, say) is
    // then as unable to run script as a UI page is.
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(guard.content_security_policy.clone());
    response
}

async fn require_auth(State(guard): State<Arc<Guard>>, mut request: Request, next: Next) -> Response {
    let Some(authenticator) = guard.settings.auth.as_ref() else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    if guard.is(path, PUBLIC_PATHS) {
        return next.run(request).await;
    }
    match authenticator.authenticate(request.headers().get(header::AUTHORIZATION)).await {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(failure) => {
            tracing::info!(reason = failure.reason(), method = %request.method(), path, "refused an unauthenticated request");
            let otlp = guard.is(path, &["/v1/traces"]);
            unauthorized(failure, otlp.then(|| request.headers().clone()).as_ref())
        }
    }
}

/// `google.rpc.Status`, the body OTLP/HTTP exporters expect on errors.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// gRPC's UNAUTHENTICATED code.
const RPC_UNAUTHENTICATED: i32 = 16;

/// 401 in MLflow's error shape, or in OTLP's when `otlp_headers` (the request's) are given.
fn unauthorized(failure: AuthFailure, otlp_headers: Option<&HeaderMap>) -> Response {
    let mut response = match otlp_headers {
        Some(headers) => {
            let json = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"));
            let status = RpcStatus { code: RPC_UNAUTHENTICATED, message: failure.message().to_string() };
            if json {
                let body = serde_json::json!({"code": status.code, "message": status.message});
                (StatusCode::UNAUTHORIZED, Json(body)).into_response()
            } else {
                let mut response = (StatusCode::UNAUTHORIZED, status.encode_to_vec()).into_response();
                response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"));
                response
            }
        }
        None => (StatusCode::UNAUTHORIZED, Json(error_body(ErrorCode::Unauthenticated, failure.message()))).into_response(),
    };
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"rivulet\""));
    response
}

/// The step that puts a gRPC service behind the same authentication as HTTP (the
/// `authorization` metadata).
#[derive(Clone)]
pub struct GrpcAuth {
    auth: Option<Arc<Authenticator>>,
}

impl<S, B> AroundCall<S, B> for GrpcAuth
where
    S: tower::Service<axum::http::Request<B>, Response = axum::http::Response<tonic::body::Body>> + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    fn around(&self, request: axum::http::Request<B>, mut inner: S) -> BoxFuture<'static, Result<S::Response, S::Error>> {
        let auth = self.auth.clone();
        Box::pin(async move {
            if let Some(auth) = auth {
                if let Err(failure) = auth.authenticate(request.headers().get(header::AUTHORIZATION)).await {
                    tracing::info!(reason = failure.reason(), path = request.uri().path(), "refused an unauthenticated gRPC call");
                    return Ok(tonic::Status::unauthenticated(failure.message()).into_http());
                }
            }
            inner.call(request).await
        })
    }
}

/// The OTLP/gRPC trace service, behind `--auth-file` when one is set.
pub fn grpc_trace_service(state: crate::AppState) -> GrpcTraceService {
    let auth = GrpcAuth { auth: state.settings.security.auth.clone() };
    Around::new(crate::otlp::grpc::trace_service(state), auth)
}

/// What `rivulet server` serves on the OTLP/gRPC port.
pub type GrpcTraceService = Around<Around<TraceServiceServer<OtlpTraceService>, ReceiveTurns>, GrpcAuth>;

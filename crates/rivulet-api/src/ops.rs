//! Operations endpoints and instruments: `/ready` (readiness that really queries the database), Prometheus `/metrics`, per-route request metrics, and the start-up gate that answers probes while the database is still being reached.
//!
//! `/health` only says the process answers; `/ready` says it can do its job — the database answers
//! a query, its schema is at the versions this build serves, and the artifact destination takes
//! a write — because a liveness probe that passes while the API is broken hides the outage.
//!
//! Metrics use the `prometheus` crate with a registry owned by each server (no global recorder),
//! so every router — and every test — counts on its own. Request metrics are labelled with the
//! matched route template (`/api/2.0/mlflow/runs/get`, `/ui/runs/{run_id}`), never the raw path,
//! so cardinality stays bounded whatever clients send.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use bytes::Bytes;
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prometheus::{Counter, Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};
use rivulet_artifacts::{ArtifactPath, Artifacts};
use rivulet_core::ErrorCode;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::error::error_body;
use crate::otlp::{ExportError, ExportOutcome};
use crate::AppState;

/// How long one readiness check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an artifact-store write check is trusted (it costs two object-store requests).
const ARTIFACT_CHECK_TTL: Duration = Duration::from_secs(30);

/// One connection pool's numbers at scrape time.
#[derive(Debug, Clone)]
pub struct PoolSample {
    /// `read`, `write` (SQLite) or `main` (PostgreSQL).
    pub name: &'static str,
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// What readiness and metrics need from the store, beyond the store traits. Implemented by the
/// binary over `rivulet_store::Store`, so this crate stays free of SQL.
pub trait StoreProbe: Send + Sync + 'static {
    /// The schema is at the versions this build serves; the error says what to run.
    fn check_schema(&self) -> BoxFuture<'_, Result<(), String>>;
    /// Connection pools, for gauges.
    fn pools(&self) -> Vec<PoolSample>;
    /// Span batches waiting for the ingest writer, and how many may wait.
    fn ingest_queue(&self) -> Option<(usize, usize)>;
    /// Group commits of the ingest writer so far, and the spans they carried.
    fn ingest_commits(&self) -> Option<(u64, u64)> {
        None
    }
    /// SQLite only: syncs of the WAL that made commits durable so far, and the seconds they took.
    fn wal_syncs(&self) -> Option<(u64, f64)> {
        None
    }
    /// SQLite only: write-backs of the database file started after checkpoints so far.
    fn sqlite_write_backs(&self) -> Option<u64> {
        None
    }
    /// A failure only a restart clears (SQLite: a failed sync of the WAL). `/health` fails with
    /// it, so the supervisor restarts the server.
    fn lasting_failure(&self) -> Option<String> {
        None
    }
}

/// The server's Prometheus instruments.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    http_in_flight: IntGauge,
    spans_received: IntCounter,
    spans_accepted: IntCounter,
    spans_rejected: IntCounterVec,
    export_spans: Histogram,
    db_pool_connections: IntGaugeVec,
    db_pool_max: IntGaugeVec,
    ingest_queue_depth: IntGauge,
    ingest_queue_capacity: IntGauge,
    export_bytes_in_flight: IntGauge,
    export_bytes_budget: IntGauge,
    export_bytes_received: IntGauge,
    grpc_exports_receiving: IntGauge,
    ingest_commits: IntCounter,
    ingest_committed_spans: IntCounter,
    wal_syncs: IntCounter,
    wal_sync_seconds: Counter,
    write_backs: IntCounter,
    ready: IntGauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn register<T: prometheus::core::Collector + Clone + 'static>(registry: &Registry, collector: T) -> T {
    registry.register(Box::new(collector.clone())).expect("metric names are unique");
    collector
}

fn int_gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    register(registry, IntGauge::new(name, help).expect("valid metric"))
}

fn int_counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    register(registry, IntCounter::new(name, help).expect("valid metric"))
}

fn counter(registry: &Registry, name: &str, help: &str) -> Counter {
    register(registry, Counter::new(name, help).expect("valid metric"))
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let r = &registry;
        let metrics = Metrics {
            http_requests: register(
                r,
                IntCounterVec::new(Opts::new("rivulet_http_requests_total", "HTTP requests by method, route template and status"), &["method", "route", "status"])
                    .expect("valid metric"),
            ),
            http_duration: register(
                r,
                HistogramVec::new(
                    HistogramOpts::new("rivulet_http_request_duration_seconds", "Time to the response head, by method and route template")
                        .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
                    &["method", "route"],
                )
                .expect("valid metric"),
            ),
            http_in_flight: int_gauge(r, "rivulet_http_requests_in_flight", "HTTP requests being served"),
            spans_received: int_counter(r, "rivulet_otlp_spans_received_total", "Spans in OTLP export requests (HTTP and gRPC)"),
            spans_accepted: int_counter(r, "rivulet_otlp_spans_accepted_total", "Spans stored durably"),
            spans_rejected: register(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "rivulet_otlp_spans_rejected_total",
                        "Spans not stored: invalid (refused by validation), refused (e.g. unknown experiment), unavailable (overload or database failure)",
                    ),
                    &["reason"],
                )
                .expect("valid metric"),
            ),
            export_spans: register(
                r,
                Histogram::with_opts(
                    HistogramOpts::new("rivulet_otlp_export_spans", "Spans per OTLP export request (the ingest batch size)")
                        .buckets(vec![1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0]),
                )
                .expect("valid metric"),
            ),
            db_pool_connections: register(
                r,
                IntGaugeVec::new(Opts::new("rivulet_db_pool_connections", "Open database connections by pool and state (idle, in_use)"), &["pool", "state"])
                    .expect("valid metric"),
            ),
            db_pool_max: register(
                r,
                IntGaugeVec::new(Opts::new("rivulet_db_pool_max_connections", "Largest size of each database connection pool"), &["pool"]).expect("valid metric"),
            ),
            ingest_queue_depth: int_gauge(r, "rivulet_ingest_queue_depth", "Span batches waiting for the ingest writer"),
            ingest_queue_capacity: int_gauge(r, "rivulet_ingest_queue_capacity", "Span batches that may wait before exports are refused with 503"),
            export_bytes_in_flight: int_gauge(r, "rivulet_otlp_in_flight_bytes", "Decompressed OTLP export bytes being decoded, queued or awaiting commit"),
            export_bytes_received: int_gauge(r, "rivulet_otlp_received_bytes", "Compressed OTLP/HTTP export bytes received and not yet decompressed"),
            export_bytes_budget: int_gauge(r, "rivulet_otlp_in_flight_budget_bytes", "OTLP export bytes that may be in flight before exports wait (--otlp-max-in-flight-mib)"),
            grpc_exports_receiving: int_gauge(r, "rivulet_otlp_grpc_receiving", "OTLP/gRPC exports holding a receive turn: being read and decoded, or waiting for budget"),
            ingest_commits: int_counter(r, "rivulet_ingest_commits_total", "Transactions of the span writer (group commits); spans per commit = committed spans / commits"),
            ingest_committed_spans: int_counter(r, "rivulet_ingest_committed_spans_total", "Spans the span writer has committed"),
            wal_syncs: int_counter(r, "rivulet_sqlite_wal_syncs_total", "Syncs of the SQLite WAL; each makes every commit before it durable"),
            wal_sync_seconds: counter(r, "rivulet_sqlite_wal_sync_seconds_total", "Time spent syncing the SQLite WAL; per sync = seconds / syncs"),
            write_backs: int_counter(
                r,
                "rivulet_sqlite_write_backs_total",
                "Times the kernel was asked to start writing the SQLite database file's checkpointed pages to disk",
            ),
            ready: int_gauge(r, "rivulet_ready", "1 when the last /ready check passed, 0 when it failed"),
            registry,
        };
        let build = register(
            &metrics.registry,
            IntGaugeVec::new(Opts::new("rivulet_build_info", "Rivulet's version and the MLflow version it serves"), &["version", "mlflow_version"])
                .expect("valid metric"),
        );
        build.with_label_values(&[env!("CARGO_PKG_VERSION"), crate::MLFLOW_COMPATIBLE_VERSION]).set(1);
        metrics
    }

    /// Counts one OTLP export request (either transport) and its outcome.
    pub(crate) fn record_export(&self, received: usize, result: &Result<ExportOutcome, ExportError>) {
        let received = received as u64;
        self.spans_received.inc_by(received);
        self.export_spans.observe(received as f64);
        match result {
            Ok(outcome) => {
                let rejected = (outcome.rejected.len() as u64).min(received);
                self.spans_accepted.inc_by(received - rejected);
                self.spans_rejected.with_label_values(&["invalid"]).inc_by(rejected);
            }
            Err(ExportError::Rejected(_)) => self.spans_rejected.with_label_values(&["invalid"]).inc_by(received),
            Err(ExportError::Core(error)) => {
                let reason = match error.code {
                    ErrorCode::TemporarilyUnavailable | ErrorCode::InternalError => "unavailable",
                    _ => "refused",
                };
                self.spans_rejected.with_label_values(&[reason]).inc_by(received);
            }
        }
    }

    /// Samples the OTLP in-flight budget: bytes taken, and the whole budget.
    pub(crate) fn record_export_admission(&self, admission: &crate::otlp::ExportAdmission) {
        self.export_bytes_in_flight.set(admission.in_flight_bytes() as i64);
        self.export_bytes_budget.set(admission.budget_bytes() as i64);
        self.export_bytes_received.set(admission.received_bytes() as i64);
        self.grpc_exports_receiving.set(admission.receiving_grpc() as i64);
    }

    /// The exposition text, after sampling the store's gauges.
    pub fn render(&self, probe: Option<&dyn StoreProbe>) -> String {
        if let Some(probe) = probe {
            for pool in probe.pools() {
                let in_use = pool.size.saturating_sub(pool.idle);
                self.db_pool_connections.with_label_values(&[pool.name, "idle"]).set(i64::from(pool.idle));
                self.db_pool_connections.with_label_values(&[pool.name, "in_use"]).set(i64::from(in_use));
                self.db_pool_max.with_label_values(&[pool.name]).set(i64::from(pool.max));
            }
            if let Some((depth, capacity)) = probe.ingest_queue() {
                self.ingest_queue_depth.set(depth as i64);
                self.ingest_queue_capacity.set(capacity as i64);
            }
            if let Some((commits, spans)) = probe.ingest_commits() {
                // The store keeps the totals; the counters catch up to them.
                self.ingest_commits.inc_by(commits.saturating_sub(self.ingest_commits.get()));
                self.ingest_committed_spans.inc_by(spans.saturating_sub(self.ingest_committed_spans.get()));
            }
            if let Some((syncs, seconds)) = probe.wal_syncs() {
                self.wal_syncs.inc_by(syncs.saturating_sub(self.wal_syncs.get()));
                self.wal_sync_seconds.inc_by((seconds - self.wal_sync_seconds.get()).max(0.0));
            }
            if let Some(started) = probe.sqlite_write_backs() {
                self.write_backs.inc_by(started.saturating_sub(self.write_backs.get()));
            }
        }
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::warn!(%error, "could not encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

/// The spans an export request carries.
pub(crate) fn count_spans(request: &ExportTraceServiceRequest) -> usize {
    request.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum()
}

/// Operations state shared by the handlers: metrics, the store probe, the readiness memory.
#[derive(Clone, Default)]
pub struct Ops {
    pub metrics: Arc<Metrics>,
    /// Schema, pool and queue checks of the real store; `None` in tests with plain stores.
    pub probe: Option<Arc<dyn StoreProbe>>,
    readiness: Arc<Readiness>,
}

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ops").field("probe", &self.probe.is_some()).finish()
    }
}

impl Ops {
    pub fn with_probe(probe: Arc<dyn StoreProbe>) -> Ops {
        Ops { probe: Some(probe), ..Ops::default() }
    }
}

#[derive(Default)]
struct Readiness {
    /// 0 unknown, 1 ready, 2 not ready: only changes are logged, not every probe.
    last: AtomicU8,
    artifacts: Mutex<Option<(Instant, Result<(), String>)>>,
}

/// Writes and deletes a small file at the artifact destination (when serving artifacts).
pub async fn check_artifacts_writable(artifacts: &Artifacts) -> Result<(), String> {
    static PROBES: AtomicU64 = AtomicU64::new(0);
    let Ok(store) = artifacts.proxy() else {
        return Ok(());
    };
    let name = format!(".rivulet-ready-{}-{}", std::process::id(), PROBES.fetch_add(1, Ordering::Relaxed));
    let path = ArtifactPath::parse(&name).map_err(|error| format!("probe path {name}: {error}"))?;
    let hint = "make it writable by the server (directory permissions, volume mount, bucket policy and credentials) or point \
                --artifacts-destination elsewhere";
    let body = futures::stream::once(async { Ok::<Bytes, std::convert::Infallible>(Bytes::from_static(b"ok\n")) });
    store.put(&path, body).await.map_err(|error| format!("cannot write to the artifact destination {}: {error}; {hint}", store.uri()))?;
    store.delete(&path).await.map_err(|error| format!("cannot delete from the artifact destination {}: {error}; {hint}", store.uri()))
}

async fn timed<F: std::future::Future<Output = Result<(), String>>>(check: F) -> Result<(), String> {
    match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
    }
}

/// `GET /ready`: 200 when the server can serve requests, 503 with the failing checks otherwise.
pub async fn ready(State(state): State<AppState>) -> Response {
    let ops = &state.settings.ops;
    let mut checks: Vec<(&str, Result<(), String>)> = Vec::new();
    if let Some(failure) = ops.probe.as_ref().and_then(|probe| probe.lasting_failure()) {
        checks.push(("durability", Err(failure)));
    }
    let database = timed(async { state.tracking.ping().await.map_err(|error| error.message) }).await;
    let database_ok = database.is_ok();
    checks.push(("database", database));
    if let Some(probe) = &ops.probe {
        let schema = if database_ok { timed(probe.check_schema()).await } else { Err("not checked: the database does not answer".to_string()) };
        checks.push(("schema", schema));
    }
    if state.settings.artifacts.is_serving() {
        checks.push(("artifacts", artifacts_check(&ops.readiness, &state.settings.artifacts).await));
    }
    let ok = checks.iter().all(|(_, result)| result.is_ok());
    ops.metrics.ready.set(i64::from(ok));
    let previous = ops.readiness.last.swap(if ok { 1 } else { 2 }, Ordering::Relaxed);
    let failures: Vec<String> = checks.iter().filter_map(|(name, result)| result.as_ref().err().map(|e| format!("{name}: {e}"))).collect();
    if !ok && previous != 2 {
        tracing::warn!(failures = ?failures, "not ready");
    } else if ok && previous == 2 {
        tracing::info!("ready again");
    }
    let body: serde_json::Map<String, Value> = checks
        .into_iter()
        .map(|(name, result)| {
            let value = match result {
                Ok(()) => json!({"ok": true}),
                Err(message) => json!({"ok": false, "message": message}),
            };
            (name.to_string(), value)
        })
        .collect();
    let status = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(json!({"status": if ok { "ready" } else { "not_ready" }, "checks": body}))).into_response()
}

async fn artifacts_check(readiness: &Readiness, artifacts: &Artifacts) -> Result<(), String> {
    if let Some((at, result)) = readiness.artifacts.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        if at.elapsed() < ARTIFACT_CHECK_TTL {
            return result.clone();
        }
    }
    let result = timed(check_artifacts_writable(artifacts)).await;
    *readiness.artifacts.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), result.clone()));
    result
}

/// `GET /metrics`: Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let ops = &state.settings.ops;
    ops.metrics.record_export_admission(&state.export_admission);
    let text = ops.metrics.render(ops.probe.as_deref());
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))], text).into_response()
}

/// Labels a request's method without letting arbitrary method names grow the series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Decrements the in-flight gauge even when the client goes away mid-request.
struct InFlight(IntGauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
        .filter(|path| !path.contains("__private__axum"))
        .unwrap_or("unmatched")
        .to_string();
    let method = method_label(request.method());
    metrics.http_in_flight.inc();
    let _in_flight = InFlight(metrics.http_in_flight.clone());
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.http_duration.with_label_values(&[method, route.as_str()]).observe(started.elapsed().as_secs_f64());
    metrics.http_requests.with_label_values(&[method, route.as_str(), response.status().as_str()]).inc();
    response
}

/// Adds request metrics to `app` as its outermost layer, so refusals (403, 401) are counted too.
pub fn instrument(app: Router, ops: &Ops) -> Router {
    app.layer(from_fn_with_state(ops.metrics.clone(), track))
}

/// Serves `/health` and `/ready` (503 with the reason) while the database is being reached at
/// start, then hands every request to the application once [`StartupGate::open`] is called.
/// Other requests wait for the opening (30 s by default), then get 503: a client
/// that starts as soon as `/health` answers (as scripts and tests do) sees a slow first reply
/// rather than an error, while a load balancer that trusts `/ready` sends nothing meanwhile.
#[derive(Clone)]
pub struct StartupGate {
    inner: Arc<GateInner>,
}

struct GateInner {
    app: OnceLock<Router>,
    opened: tokio::sync::watch::Sender<bool>,
    max_wait: Duration,
    status: Mutex<String>,
    prefix: String,
}

impl StartupGate {
    pub fn new(static_prefix: Option<&str>) -> StartupGate {
        StartupGate::with_max_wait(static_prefix, Duration::from_secs(30))
    }

    /// A gate whose requests wait at most `max_wait` for the application.
    pub fn with_max_wait(static_prefix: Option<&str>, max_wait: Duration) -> StartupGate {
        StartupGate {
            inner: Arc::new(GateInner {
                app: OnceLock::new(),
                opened: tokio::sync::watch::Sender::new(false),
                max_wait,
                status: Mutex::new("opening the database".to_string()),
                prefix: static_prefix.unwrap_or("").trim_end_matches('/').to_string(),
            }),
        }
    }

    /// What start-up is waiting for, shown by `/ready` until the gate opens.
    pub fn set_status(&self, status: impl Into<String>) {
        *self.inner.status.lock().unwrap_or_else(|p| p.into_inner()) = status.into();
    }

    /// From now on every request goes to `app`.
    pub fn open(&self, app: Router) {
        let _ = self.inner.app.set(app);
        self.inner.opened.send_replace(true);
    }

    /// The service to listen with.
    pub fn router(&self) -> Router {
        let gate = self.clone();
        Router::new().fallback(move |request: Request| {
            let gate = gate.clone();
            async move { gate.dispatch(request).await }
        })
    }

    async fn dispatch(&self, request: Request) -> Response {
        let path = request.uri().path().strip_prefix(self.inner.prefix.as_str()).unwrap_or("");
        let probe = matches!(path, "/health" | "/ready");
        if !probe && self.inner.app.get().is_none() {
            let mut opened = self.inner.opened.subscribe();
            let _ = tokio::time::timeout(self.inner.max_wait, opened.wait_for(|opened| *opened)).await;
        }
        if let Some(app) = self.inner.app.get() {
            return match app.clone().oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
        }
        match path {
            "/health" => "OK".into_response(),
            "/ready" => {
                let status = self.inner.status.lock().unwrap_or_else(|p| p.into_inner()).clone();
                let body = json!({"status": "starting", "checks": {"database": {"ok": false, "message": status}}});
                (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
            }
            _ => {
                let body = error_body(ErrorCode::TemporarilyUnavailable, "Rivulet is starting and cannot serve requests yet; retry shortly");
                let mut response = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                response
            }
        }
    }
}

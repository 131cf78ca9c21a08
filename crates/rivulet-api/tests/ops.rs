//! Operations endpoints end to end through `rivulet_api::app`: `/ready` passing and failing for each of its checks (database, schema, artifact store), `/metrics` after traffic, and the start-up gate.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use rivulet_api::ops::{Ops, PoolSample, StartupGate, StoreProbe};
use rivulet_api::{ApiSettings, AppState};
use rivulet_artifacts::{ArtifactStore, Artifacts};
use rivulet_store::{Pools, Store, StoreSettings, StoreUri};
use serde_json::Value;
use tower::ServiceExt;

/// The store checks as the binary wires them (`rivulet::db::StoreChecks`), with a switch to
/// make the schema check fail.
struct Checks {
    store: Store,
    schema_error: Option<String>,
}

impl StoreProbe for Checks {
    fn check_schema(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            match &self.schema_error {
                Some(message) => Err(message.clone()),
                None => self.store.check_schema().await.map_err(|error| format!("{error:#}")),
            }
        })
    }

    fn pools(&self) -> Vec<PoolSample> {
        match self.store.pools() {
            Pools::Sqlite { read, write, .. } => vec![
                PoolSample { name: "read", size: read.size(), idle: read.num_idle() as u32, max: read.options().get_max_connections() },
                PoolSample { name: "write", size: write.size(), idle: write.num_idle() as u32, max: 1 },
            ],
            Pools::Postgres(_) => Vec::new(),
        }
    }

    fn ingest_queue(&self) -> Option<(usize, usize)> {
        self.store.ingest_queue()
    }

    fn ingest_commits(&self) -> Option<(u64, u64)> {
        Some(self.store.ingest_commits())
    }

    fn wal_syncs(&self) -> Option<(u64, f64)> {
        self.store.wal_syncs()
    }

    fn sqlite_write_backs(&self) -> Option<u64> {
        self.store.sqlite_write_backs()
    }

    fn lasting_failure(&self) -> Option<String> {
        self.store.lasting_failure()
    }
}

struct Harness {
    app: Router,
    store: Store,
    dir: tempfile::TempDir,
}

async fn harness(schema_error: Option<&str>) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let uri = StoreUri::Sqlite { path: Some(dir.path().join("mlflow.db")) };
    let store = Store::open(&uri, StoreSettings::default()).await.unwrap();
    let artifacts_dir = dir.path().join("artifacts");
    let proxy = ArtifactStore::local(artifacts_dir.to_string_lossy().into_owned(), &artifacts_dir).unwrap();
    let checks = Checks { store: store.clone(), schema_error: schema_error.map(str::to_string) };
    let settings = ApiSettings {
        artifacts: Arc::new(Artifacts::new(Some(proxy), Vec::new())),
        ops: Ops::with_probe(Arc::new(checks)),
        ..ApiSettings::default()
    };
    let state = AppState::new(store.clone(), None, settings);
    let app = rivulet_api::app(state.clone(), rivulet_ui::router(state));
    Harness { app, store, dir }
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, String, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, content_type, String::from_utf8_lossy(&bytes).into_owned())
}

async fn get(app: &Router, path: &str) -> (StatusCode, String) {
    let (status, _, body) = send(app, Request::get(path).header("host", "localhost:5000").body(Body::empty()).unwrap()).await;
    (status, body)
}

async fn ready(app: &Router) -> (StatusCode, Value) {
    let (status, body) = get(app, "/ready").await;
    (status, serde_json::from_str(&body).unwrap())
}

#[tokio::test]
async fn ready_when_database_schema_and_artifacts_answer() {
    let h = harness(None).await;
    let (status, body) = ready(&h.app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
    for check in ["database", "schema", "artifacts"] {
        assert_eq!(body["checks"][check]["ok"], true, "{body}");
    }
    // The write check leaves nothing behind in the artifact store.
    assert_eq!(std::fs::read_dir(h.dir.path().join("artifacts")).unwrap().count(), 0);
    // Liveness stays separate and trivial.
    assert_eq!(get(&h.app, "/health").await, (StatusCode::OK, "OK".to_string()));
}

#[tokio::test]
async fn not_ready_when_the_database_is_gone() {
    let h = harness(None).await;
    h.store.close().await;
    let (status, body) = ready(&h.app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["checks"]["database"]["ok"], false);
    assert!(body["checks"]["schema"]["message"].as_str().unwrap().contains("not checked"), "{body}");
    // /health still passes: the process is alive, it just cannot serve.
    assert_eq!(get(&h.app, "/health").await.0, StatusCode::OK);
    let (_, metrics) = get(&h.app, "/metrics").await;
    assert!(metrics.contains("rivulet_ready 0"), "{metrics}");
}

#[tokio::test]
async fn not_ready_when_the_schema_is_behind() {
    let message = "database schema is at MLflow alembic revision 0584bdc529eb; upgrade it with `mlflow db upgrade <uri>`";
    let h = harness(Some(message)).await;
    let (status, body) = ready(&h.app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["checks"]["database"]["ok"], true);
    assert_eq!(body["checks"]["schema"]["ok"], false);
    assert_eq!(body["checks"]["schema"]["message"], message);
}

#[tokio::test]
async fn not_ready_when_the_artifact_destination_is_not_writable() {
    let h = harness(None).await;
    // The destination directory is replaced by a file: nothing can be written below it (this
    // holds even for root, unlike a permission change).
    let artifacts = h.dir.path().join("artifacts");
    std::fs::remove_dir_all(&artifacts).unwrap();
    std::fs::write(&artifacts, b"not a directory").unwrap();
    let (status, body) = ready(&h.app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let message = body["checks"]["artifacts"]["message"].as_str().unwrap();
    assert!(message.contains("cannot write to the artifact destination") && message.contains("--artifacts-destination"), "{message}");
}

fn export_request(experiment_id: &str, trace: u8) -> Request<Body> {
    let export = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans { spans: vec![span(trace, 1)], ..Default::default() }],
            ..Default::default()
        }],
    };
    Request::post("/v1/traces")
        .header("host", "localhost")
        .header("content-type", "application/x-protobuf")
        .header("x-mlflow-experiment-id", experiment_id)
        .body(Body::from(export.encode_to_vec()))
        .unwrap()
}

#[tokio::test]
async fn a_failed_wal_sync_refuses_writes_and_fails_liveness() {
    let h = harness(None).await;
    assert_eq!(send(&h.app, export_request("0", 1)).await.0, StatusCode::OK);
    // The WAL's path now leads to a device that cannot be synced: the next sync really fails
    // (EINVAL), as a disk's write-back error would.
    let wal = h.dir.path().join("mlflow.db-wal");
    std::fs::remove_file(&wal).unwrap();
    std::os::unix::fs::symlink("/dev/null", &wal).unwrap();
    let (status, _, body) = send(&h.app, export_request("0", 2)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "the Collector keeps the batch and retries: {body}");
    let (status, text) = get(&h.app, "/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "the liveness probe asks for a restart");
    assert!(text.contains("restart needed") && text.contains("write-ahead log") && text.contains("writes are refused"), "{text}");
    let (status, body) = ready(&h.app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["checks"]["durability"]["ok"], false, "{body}");

    // A WAL that could be synced again changes nothing: pages lost in the failed write-back
    // would leave a hole before any later commit.
    std::fs::remove_file(&wal).unwrap();
    std::fs::write(&wal, b"").unwrap();
    assert_eq!(send(&h.app, export_request("0", 3)).await.0, StatusCode::SERVICE_UNAVAILABLE);
    let create = Request::post("/api/2.0/mlflow/experiments/create")
        .header("host", "localhost")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"name": "after-the-failure"}"#))
        .unwrap();
    let (status, _, body) = send(&h.app, create).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("TEMPORARILY_UNAVAILABLE") && body.contains("restart the server"), "{body}");
    assert_eq!(get(&h.app, "/health").await.0, StatusCode::SERVICE_UNAVAILABLE);
}

fn span(trace: u8, id: u8) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        name: format!("span-{id}"),
        start_time_unix_nano: 1_764_000_000_000_000_000,
        end_time_unix_nano: 1_764_000_000_010_000_000,
        ..Default::default()
    }
}

#[tokio::test]
async fn metrics_after_traffic() {
    let h = harness(None).await;
    assert_eq!(get(&h.app, "/api/3.0/mlflow/server-info").await.0, StatusCode::OK);
    assert_eq!(get(&h.app, "/api/2.0/mlflow/logged-models/m-0123456789abcdef").await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&h.app, "/no/such/route/4242").await.0, StatusCode::NOT_FOUND);
    let refused = Request::get("/api/3.0/mlflow/server-info").header("host", "evil.com").body(Body::empty()).unwrap();
    assert_eq!(send(&h.app, refused).await.0, StatusCode::FORBIDDEN);

    // Three spans, one of them invalid (a 5-byte trace id), into the Default experiment.
    let mut bad = span(3, 1);
    bad.trace_id = vec![3; 5];
    let export = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans { spans: vec![span(1, 1), span(1, 2), bad], ..Default::default() }],
            ..Default::default()
        }],
    };
    let request = Request::post("/v1/traces")
        .header("host", "localhost")
        .header("content-type", "application/x-protobuf")
        .header("x-mlflow-experiment-id", "0")
        .body(Body::from(export.encode_to_vec()))
        .unwrap();
    let syncs_before = h.store.wal_syncs().unwrap().0;
    assert_eq!(send(&h.app, request).await.0, StatusCode::OK);
    // The export was answered only after a sync of the WAL made its commit durable.
    assert!(h.store.wal_syncs().unwrap().0 > syncs_before);
    // An export for an experiment that does not exist is refused as a whole.
    let request = Request::post("/v1/traces")
        .header("host", "localhost")
        .header("content-type", "application/x-protobuf")
        .header("x-mlflow-experiment-id", "999")
        .body(Body::from(ExportTraceServiceRequest { resource_spans: vec![ResourceSpans { scope_spans: vec![ScopeSpans { spans: vec![span(2, 1)], ..Default::default() }], ..Default::default() }] }.encode_to_vec()))
        .unwrap();
    assert_ne!(send(&h.app, request).await.0, StatusCode::OK);

    let (status, content_type, text) = send(&h.app, Request::get("/metrics").header("host", "localhost").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    for line in [
        r#"rivulet_http_requests_total{method="GET",route="/api/3.0/mlflow/server-info",status="200"} 1"#,
        r#"rivulet_http_requests_total{method="GET",route="/api/2.0/mlflow/logged-models/{model_id}",status="404"} 1"#,
        r#"rivulet_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
        r#"rivulet_http_requests_total{method="GET",route="/api/3.0/mlflow/server-info",status="403"} 1"#,
        r#"rivulet_http_requests_total{method="POST",route="/v1/traces",status="200"} 1"#,
        r#"rivulet_http_request_duration_seconds_count{method="GET",route="/api/3.0/mlflow/server-info"} 2"#,
        "rivulet_otlp_spans_received_total 4",
        "rivulet_otlp_spans_accepted_total 2",
        r#"rivulet_otlp_spans_rejected_total{reason="invalid"} 1"#,
        r#"rivulet_otlp_spans_rejected_total{reason="refused"} 1"#,
        "rivulet_otlp_export_spans_count 2",
        "rivulet_otlp_export_spans_sum 4",
        r#"rivulet_db_pool_max_connections{pool="read"} 8"#,
        r#"rivulet_db_pool_connections{pool="write",state="idle"}"#,
        "rivulet_ingest_queue_capacity 256",
        "rivulet_ingest_queue_depth 0",
        // Every export has been answered: its room in the budget is back.
        "rivulet_otlp_in_flight_bytes 0",
        "rivulet_otlp_received_bytes 0",
        "rivulet_otlp_in_flight_budget_bytes 25165824",
        "rivulet_otlp_grpc_receiving 0",
        // The accepted export's two spans, in one group commit.
        "rivulet_ingest_commits_total 1",
        "rivulet_ingest_committed_spans_total 2",
        r#"rivulet_build_info{mlflow_version="3.17.2""#,
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    let syncs: u64 = text
        .lines()
        .find_map(|line| line.strip_prefix("rivulet_sqlite_wal_syncs_total "))
        .unwrap_or_else(|| panic!("no WAL sync count in\n{text}"))
        .parse()
        .unwrap();
    assert!(syncs >= 1, "{text}");
    assert!(text.contains("rivulet_sqlite_wal_sync_seconds_total "), "{text}");
    // Counted once the background checkpoint after that commit has run: present, maybe still 0.
    assert!(text.contains("rivulet_sqlite_write_backs_total "), "{text}");
    // Raw paths never become labels: the id and the unknown path stay out.
    assert!(!text.contains("m-0123456789abcdef") && !text.contains("4242"), "{text}");
}

#[tokio::test]
async fn startup_gate_answers_probes_until_the_app_is_ready() {
    let gate = StartupGate::with_max_wait(None, std::time::Duration::from_millis(200));
    let router = gate.router();
    gate.set_status("cannot reach the database yet (attempt 3); see the server log");
    assert_eq!(get(&router, "/health").await, (StatusCode::OK, "OK".to_string()));
    let (status, body) = ready(&router).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "starting");
    assert!(body["checks"]["database"]["message"].as_str().unwrap().contains("attempt 3"));
    // Other requests wait for the start, and get 503 when it takes too long.
    let (status, _, body) = send(&router, Request::post("/api/2.0/mlflow/runs/create").body(Body::from("{}")).unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("TEMPORARILY_UNAVAILABLE"), "{body}");

    // A request that arrives during start is served once the application is there.
    let h = harness(None).await;
    let waiting = tokio::spawn({
        let router = router.clone();
        async move { get(&router, "/api/3.0/mlflow/server-info").await.0 }
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    gate.open(h.app.clone());
    assert_eq!(waiting.await.unwrap(), StatusCode::OK);
    assert_eq!(ready(&router).await.0, StatusCode::OK);
    let (_, metrics) = get(&router, "/metrics").await;
    assert!(metrics.contains(r#"route="/api/3.0/mlflow/server-info""#), "route labels survive the gate: {metrics}");
}

//! The trace API test harness: a router on a fresh SQLite store, request helpers, and spans
//! written straight into the store the way MLflow or the OTLP endpoint would leave them.

// Each trace API test file compiles its own copy of this module and uses only part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http_body_util::BodyExt;
use rivulet_api::{ApiSettings, AppState};
use rivulet_core::store::TraceStore;
use rivulet_core::traces::digest::SpanDigest;
use rivulet_core::traces::model::{PreparedSpan, SpanBatch};
use rivulet_core::traces::prepare::prepare_span;
use rivulet_core::traces::{Span, SpanEvent, StatusCode as SpanStatus};
use rivulet_store::{Store, StoreSettings, StoreUri};
use serde_json::{json, Value};
use tower::ServiceExt;

/// The router with its store kept at hand, so tests can write spans the way ingestion would.
pub struct TestApi {
    router: axum::Router,
    store: Store,
    _dir: tempfile::TempDir,
}

/// A fresh API on its own SQLite file.
pub async fn api() -> TestApi {
    let dir = tempfile::tempdir().unwrap();
    let uri = StoreUri::Sqlite { path: Some(dir.path().join("mlflow.db")) };
    let store = Store::open(&uri, StoreSettings::default()).await.unwrap();
    let state = AppState::new(store.clone(), None, ApiSettings::default());
    TestApi { router: rivulet_api::router(state), store, _dir: dir }
}

impl TestApi {
    pub async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, body)
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let builder = Request::builder().method(method).uri(path);
        let request = match body {
            Some(body) => builder.header("content-type", "application/json").body(Body::from(body.to_string())).unwrap(),
            None => builder.body(Body::empty()).unwrap(),
        };
        self.send(request).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, response) = self.call(method.clone(), path, body).await;
        assert_eq!(status, StatusCode::OK, "{method} {path}: {response}");
        response
    }

    pub async fn ok_post(&self, path: &str, body: Value) -> Value {
        self.ok(Method::POST, path, Some(body)).await
    }

    pub async fn ok_get(&self, path: &str) -> Value {
        self.ok(Method::GET, path, None).await
    }

    pub async fn new_experiment(&self, name: &str) -> String {
        let created = self.ok_post("/api/2.0/mlflow/experiments/create", json!({ "name": name })).await;
        created["experiment_id"].as_str().unwrap().to_string()
    }

    /// StartTraceV3 the way the Python client sends it; returns the answered trace_info.
    pub async fn start_trace(&self, experiment_id: &str, trace_id: &str, extra: Value) -> Value {
        let mut info = json!({
            "trace_id": trace_id,
            "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}},
            "request_time": "2026-11-27T07:44:29.933Z",
            "execution_duration": "0.111s",
            "state": "OK",
            "trace_metadata": {"mlflow.trace_schema.version": "3"},
            "tags": {"mlflow.traceName": "agent_root"},
        });
        for (key, value) in extra.as_object().unwrap() {
            info[key] = value.clone();
        }
        let response = self.ok_post("/api/3.0/mlflow/traces", json!({"trace": {"trace_info": info}})).await;
        response["trace"]["trace_info"].clone()
    }

    pub async fn trace_info(&self, trace_id: &str) -> Value {
        self.ok_get(&format!("/api/3.0/mlflow/traces/{trace_id}")).await["trace"]["trace_info"].clone()
    }

    pub async fn search(&self, body: Value) -> Value {
        self.ok_post("/api/3.0/mlflow/traces/search", body).await
    }
}

pub fn locations(experiment_id: &str) -> Value {
    json!([{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}])
}

pub fn trace_ids(response: &Value) -> Vec<String> {
    response["traces"].as_array().map_or_else(Vec::new, |traces| {
        traces.iter().map(|t| t["trace_id"].as_str().unwrap().to_string()).collect()
    })
}

pub fn hex_trace_id(n: u8) -> String {
    format!("tr-{}", format!("{n:02x}").repeat(16))
}

pub fn assert_error(status: StatusCode, body: &Value, expected_status: u16, code: &str, message_part: &str) {
    assert_eq!(status.as_u16(), expected_status, "{body}");
    assert_eq!(body["error_code"], code, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(message_part), "message {message:?} lacks {message_part:?}");
}

/// Nanoseconds for 2026-11-27T07:44:29.933Z plus an offset.
pub const START_NS: u64 = 1_795_765_469_933_000_000;

/// A span written exactly as MLflow stores it, with hand-picked JSON attribute texts.
pub fn raw_span(trace: u8, span: u8, parent: Option<u8>, attributes: Value) -> PreparedSpan {
    let trace_bytes = [trace; 16];
    let trace_id = format!("tr-{}", format!("{trace:02x}").repeat(16));
    let mut attributes = attributes.as_object().unwrap().clone();
    attributes.insert("mlflow.traceRequestId".into(), Value::String(format!("\"{trace_id}\"")));
    let content = json!({
        "trace_id": STANDARD.encode(trace_bytes),
        "span_id": STANDARD.encode([span; 8]),
        "parent_span_id": parent.map(|p| STANDARD.encode([p; 8])),
        "name": format!("span-{span}"),
        "start_time_unix_nano": START_NS + u64::from(span),
        "end_time_unix_nano": START_NS + 111_000_000,
        "events": [{"name": "exception", "time_unix_nano": START_NS + 5, "attributes": {"exception.message": "kaboom", "n": 3}}],
        "status": {"code": "STATUS_CODE_OK", "message": ""},
        "attributes": attributes,
        "links": [],
    });
    PreparedSpan {
        trace_id,
        span_id: format!("{span:02x}").repeat(8),
        parent_span_id: parent.map(|p| format!("{p:02x}").repeat(8)),
        name: format!("span-{span}"),
        status: "OK",
        start_time_unix_nano: (START_NS + u64::from(span)) as i64,
        end_time_unix_nano: (START_NS + 111_000_000) as i64,
        content: content.to_string(),
        digest: SpanDigest::default(),
        service_name: None,
    }
}

/// A span through the core's own preparation (conventions, digest, span dict).
pub fn prepared_span(trace: u8, span: u8, parent: Option<u8>, attributes: Value) -> PreparedSpan {
    prepare_span(Span {
        trace_id: [trace; 16],
        span_id: [span; 8],
        parent_span_id: parent.map(|p| [p; 8]),
        name: format!("span-{span}"),
        start_time_unix_nano: START_NS + u64::from(span) * 1000,
        end_time_unix_nano: START_NS + 50_000_000,
        status_code: SpanStatus::Ok,
        status_message: String::new(),
        attributes: attributes.as_object().unwrap().clone(),
        events: vec![SpanEvent { name: "e".into(), time_unix_nano: START_NS, attributes: Default::default() }],
        links: vec![],
        service_name: None,
    })
}

pub async fn ingest(api: &TestApi, experiment_id: &str, spans: Vec<PreparedSpan>) {
    let batch = SpanBatch {
        experiment_id: experiment_id.parse().unwrap(),
        spans,
        resource_tags: BTreeMap::new(),
        run_id: None,
    };
    api.store.ingest_spans(batch).await.unwrap();
}

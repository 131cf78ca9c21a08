//! MLflow's trace REST API end to end through the router on a real SQLite store: wire shapes,
//! typed span attributes, search, deletion, tags, run links, assessments and bad input.

use std::collections::BTreeMap;
use std::sync::Arc;

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

struct TestApi {
    router: axum::Router,
    store: Store,
    _dir: tempfile::TempDir,
}

async fn api() -> TestApi {
    let dir = tempfile::tempdir().unwrap();
    let uri = StoreUri::Sqlite { path: Some(dir.path().join("mlflow.db")) };
    let store = Store::open(&uri, StoreSettings::default()).await.unwrap();
    let state = AppState {
        tracking: Arc::new(store.clone()),
        traces: Arc::new(store.clone()),
        trace_experiments: Arc::new(rivulet_api::otlp::TraceExperiments::new(None)),
        settings: Arc::new(ApiSettings::default()),
    };
    TestApi { router: rivulet_api::router(state), store, _dir: dir }
}

impl TestApi {
    async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, body)
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let builder = Request::builder().method(method).uri(path);
        let request = match body {
            Some(body) => builder.header("content-type", "application/json").body(Body::from(body.to_string())).unwrap(),
            None => builder.body(Body::empty()).unwrap(),
        };
        self.send(request).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, response) = self.call(method.clone(), path, body).await;
        assert_eq!(status, StatusCode::OK, "{method} {path}: {response}");
        response
    }

    async fn ok_post(&self, path: &str, body: Value) -> Value {
        self.ok(Method::POST, path, Some(body)).await
    }

    async fn ok_get(&self, path: &str) -> Value {
        self.ok(Method::GET, path, None).await
    }

    async fn new_experiment(&self, name: &str) -> String {
        let created = self.ok_post("/api/2.0/mlflow/experiments/create", json!({ "name": name })).await;
        created["experiment_id"].as_str().unwrap().to_string()
    }

    /// StartTraceV3 the way the Python client sends it; returns the answered trace_info.
    async fn start_trace(&self, experiment_id: &str, trace_id: &str, extra: Value) -> Value {
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

    async fn trace_info(&self, trace_id: &str) -> Value {
        self.ok_get(&format!("/api/3.0/mlflow/traces/{trace_id}")).await["trace"]["trace_info"].clone()
    }

    async fn search(&self, body: Value) -> Value {
        self.ok_post("/api/3.0/mlflow/traces/search", body).await
    }
}

fn locations(experiment_id: &str) -> Value {
    json!([{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}])
}

fn trace_ids(response: &Value) -> Vec<String> {
    response["traces"].as_array().map_or_else(Vec::new, |traces| {
        traces.iter().map(|t| t["trace_id"].as_str().unwrap().to_string()).collect()
    })
}

fn hex_trace_id(n: u8) -> String {
    format!("tr-{}", format!("{n:02x}").repeat(16))
}

fn assert_error(status: StatusCode, body: &Value, expected_status: u16, code: &str, message_part: &str) {
    assert_eq!(status.as_u16(), expected_status, "{body}");
    assert_eq!(body["error_code"], code, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(message_part), "message {message:?} lacks {message_part:?}");
}

/// Nanoseconds for 2026-11-27T07:44:29.933Z plus an offset.
const START_NS: u64 = 1_795_765_469_933_000_000;

/// A span written exactly as MLflow stores it, with hand-picked JSON attribute texts.
fn raw_span(trace: u8, span: u8, parent: Option<u8>, attributes: Value) -> PreparedSpan {
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
fn prepared_span(trace: u8, span: u8, parent: Option<u8>, attributes: Value) -> PreparedSpan {
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

async fn ingest(api: &TestApi, experiment_id: &str, spans: Vec<PreparedSpan>) {
    let batch = SpanBatch {
        experiment_id: experiment_id.parse().unwrap(),
        spans,
        resource_tags: BTreeMap::new(),
        run_id: None,
    };
    api.store.ingest_spans(batch).await.unwrap();
}

#[tokio::test]
async fn start_trace_v3_and_get_trace_info() {
    let api = api().await;
    let exp = api.new_experiment("start").await;
    let trace_id = hex_trace_id(0x6c);
    let info = api
        .start_trace(
            &exp,
            &trace_id,
            json!({
                "client_request_id": "client-1",
                "request_preview": "{\"q\": \"what is up?\"}",
                "response_preview": "hello there",
                "trace_metadata": {
                    "mlflow.trace_schema.version": "3",
                    "mlflow.user": "root",
                    "mlflow.trace.tokenUsage": "{\"input_tokens\": 10, \"output_tokens\": 5, \"total_tokens\": 15}",
                    "mlflow.trace.session": "sess-1",
                    "long": "x".repeat(300),
                },
                "tags": {"mytag": "v1", "mlflow.traceName": "agent_root"},
            }),
        )
        .await;
    assert_eq!(info["trace_id"], trace_id);
    assert_eq!(info["client_request_id"], "client-1");
    assert_eq!(info["trace_location"], locations(&exp)[0]);
    assert_eq!(info["request_time"], "2026-11-27T07:44:29.933Z");
    assert_eq!(info["execution_duration"], "0.111s");
    assert_eq!(info["state"], "OK");
    assert_eq!(info["request_preview"], "{\"q\": \"what is up?\"}");
    assert_eq!(info["response_preview"], "hello there");
    let metadata = &info["trace_metadata"];
    assert_eq!(metadata["mlflow.trace.infoFinalized"], "true");
    assert_eq!(metadata["mlflow.trace.session"], "sess-1");
    assert_eq!(metadata["mlflow.trace.tokenUsage"], "{\"input_tokens\": 10, \"output_tokens\": 5, \"total_tokens\": 15}");
    assert_eq!(metadata["long"].as_str().unwrap().len(), 250, "metadata values are truncated in TraceInfo JSON");
    assert_eq!(info["tags"]["mytag"], "v1");
    assert_eq!(info["tags"]["mlflow.traceName"], "agent_root");
    assert_eq!(info["tags"]["mlflow.trace.spansLocation"], "TRACKING_STORE");
    assert_eq!(info["tags"]["mlflow.artifactLocation"], format!("mlflow-artifacts:/{exp}/traces/{trace_id}/artifacts"));
    assert!(info.get("assessments").is_none());

    // GetTraceInfoV3, as the client calls it (with the id repeated in the query), on both prefixes.
    for prefix in ["/api", "/ajax-api"] {
        let body = api.ok_get(&format!("{prefix}/3.0/mlflow/traces/{trace_id}?trace_id={trace_id}")).await;
        let got = &body["trace"]["trace_info"];
        assert_eq!(got["trace_id"], trace_id);
        assert_eq!(got["request_time"], "2026-11-27T07:44:29.933Z");
        assert_eq!(got["execution_duration"], "0.111s");
        assert_eq!(got["tags"]["mytag"], "v1");
        assert_eq!(got["trace_metadata"]["mlflow.user"], "root");
    }
    let (status, body) = api.get("/api/3.0/mlflow/traces/tr-nope").await;
    assert_error(status, &body, 404, "RESOURCE_DOES_NOT_EXIST", "Trace with ID 'tr-nope' not found.");

    // Numeric state, a whole-second duration and a request time with an offset.
    let other = hex_trace_id(0x6d);
    let info = api
        .start_trace(&exp, &other, json!({"state": 2, "execution_duration": "2s", "request_time": "2026-11-27T09:44:29+02:00"}))
        .await;
    assert_eq!(info["state"], "ERROR");
    assert_eq!(info["execution_duration"], "2s");
    assert_eq!(info["request_time"], "2026-11-27T07:44:29Z");
}

#[tokio::test]
async fn start_trace_v3_rejects_bad_input() {
    let api = api().await;
    let exp = api.new_experiment("bad-start").await;
    let (status, body) = api.post("/api/3.0/mlflow/traces", json!({})).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'trace'");
    let info = |patch: Value| {
        let mut info = json!({
            "trace_id": "tr-1",
            "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp}},
            "request_time": "2026-11-27T07:44:29.933Z",
        });
        for (k, v) in patch.as_object().unwrap() {
            info[k] = v.clone();
        }
        json!({"trace": {"trace_info": info}})
    };
    for (patch, message) in [
        (json!({"request_time": "yesterday"}), "request_time"),
        (json!({"request_time": 12}), "request_time"),
        (json!({"execution_duration": "1.5"}), "execution_duration"),
        (json!({"state": "DONE"}), "state"),
        (json!({"trace_id": ""}), "trace.trace_info.trace_id"),
        (json!({"trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "abc"}}}), "Invalid experiment ID 'abc'"),
        (json!({"trace_location": {"type": "INFERENCE_TABLE"}}), "MLFLOW_EXPERIMENT"),
        (json!({"tags": {"a": {"nested": 1}}}), "tags.a"),
    ] {
        let (status, body) = api.post("/api/3.0/mlflow/traces", info(patch.clone())).await;
        assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", message);
    }
    let (status, body) = api
        .post("/api/3.0/mlflow/traces", info(json!({"trace_location": {"mlflow_experiment": {"experiment_id": "999"}}})))
        .await;
    assert_error(status, &body, 404, "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=999 exists");
    let request = Request::post("/api/3.0/mlflow/traces").body(Body::from(info(json!({})).to_string())).unwrap();
    let (status, body) = api.send(request).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "Content-Type");
}

#[tokio::test]
async fn get_trace_returns_typed_otel_spans() {
    let api = api().await;
    let exp = api.new_experiment("spans").await;
    let root = raw_span(
        0xab,
        1,
        None,
        json!({
            "obj": "{\"q\": 1}",
            "str": "\"hi\"",
            "int": "7",
            "float": "1.5",
            "bool": "true",
            "null": "null",
            "list": "[1, \"x\"]",
            "not_json": "plain text",
        }),
    );
    let child = prepared_span(0xab, 2, Some(1), json!({"mlflow.spanInputs": {"x": 3}, "mlflow.spanType": "TOOL"}));
    ingest(&api, &exp, vec![child, root]).await;
    let trace_id = hex_trace_id(0xab);

    // Route precedence: `get` is GetTrace, never a trace id.
    let body = api.ok_get(&format!("/api/3.0/mlflow/traces/get?trace_id={trace_id}&allow_partial=False")).await;
    let trace = &body["trace"];
    assert_eq!(trace["trace_info"]["trace_id"], trace_id);
    assert_eq!(trace["trace_info"]["tags"]["mlflow.trace.spansLocation"], "TRACKING_STORE");
    let spans = trace["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2);
    let root = &spans[0];
    assert_eq!(root["name"], "span-1", "roots come first");
    assert_eq!(root["trace_id"], STANDARD.encode([0xab; 16]));
    assert_eq!(root["span_id"], STANDARD.encode([1u8; 8]));
    assert!(root.get("parent_span_id").is_none());
    assert_eq!(root["start_time_unix_nano"].as_u64(), Some(START_NS + 1), "int64 times are exact JSON numbers");
    assert_eq!(root["end_time_unix_nano"].as_u64(), Some(START_NS + 111_000_000));
    assert_eq!(root["status"]["code"], "STATUS_CODE_OK");
    let attribute = |span: &Value, key: &str| {
        span["attributes"].as_array().unwrap().iter().find(|kv| kv["key"] == key).map(|kv| kv["value"].clone())
    };
    assert_eq!(attribute(root, "obj"), Some(json!({"kvlist_value": {"values": [{"key": "q", "value": {"int_value": 1}}]}})));
    assert_eq!(attribute(root, "str"), Some(json!({"string_value": "hi"})));
    assert_eq!(attribute(root, "int"), Some(json!({"int_value": 7})));
    assert_eq!(attribute(root, "float"), Some(json!({"double_value": 1.5})));
    assert_eq!(attribute(root, "bool"), Some(json!({"bool_value": true})));
    assert_eq!(attribute(root, "null"), Some(json!({})));
    assert_eq!(attribute(root, "list"), Some(json!({"array_value": {"values": [{"int_value": 1}, {"string_value": "x"}]}})));
    assert_eq!(attribute(root, "not_json"), Some(json!({"string_value": "plain text"})));
    assert_eq!(attribute(root, "mlflow.traceRequestId"), Some(json!({"string_value": trace_id})));
    let event = &root["events"][0];
    assert_eq!(event["name"], "exception");
    assert_eq!(event["time_unix_nano"].as_u64(), Some(START_NS + 5));
    assert_eq!(event["attributes"], json!([{"key": "exception.message", "value": {"string_value": "kaboom"}}, {"key": "n", "value": {"int_value": 3}}]));

    let child = &spans[1];
    assert_eq!(child["parent_span_id"], STANDARD.encode([1u8; 8]));
    assert_eq!(attribute(child, "mlflow.spanInputs"), Some(json!({"kvlist_value": {"values": [{"key": "x", "value": {"int_value": 3}}]}})));
    assert_eq!(attribute(child, "mlflow.spanType"), Some(json!({"string_value": "TOOL"})));

    // The UI's spelling of the flag, and the /ajax-api prefix.
    let body = api.ok_get(&format!("/ajax-api/3.0/mlflow/traces/get?trace_id={trace_id}&allow_partial=true")).await;
    assert_eq!(body["trace"]["spans"].as_array().unwrap().len(), 2);

    let (status, body) = api.get("/api/3.0/mlflow/traces/get?trace_id=tr-missing&allow_partial=False").await;
    assert_error(status, &body, 404, "RESOURCE_DOES_NOT_EXIST", "Trace with ID 'tr-missing' not found.");
    let (status, body) = api.get("/api/3.0/mlflow/traces/get").await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "'trace_id'");
    let (status, body) = api.get(&format!("/api/3.0/mlflow/traces/get?trace_id={trace_id}&allow_partial=maybe")).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "Invalid boolean value");

    // batchGet: known traces with spans, unknown ids dropped silently.
    let body = api.ok_get(&format!("/api/3.0/mlflow/traces/batchGet?trace_ids={trace_id}&trace_ids=tr-missing")).await;
    let traces = body["traces"].as_array().unwrap();
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0]["trace_info"]["trace_id"], trace_id);
    assert_eq!(traces[0]["spans"].as_array().unwrap().len(), 2);
    assert_eq!(api.ok_get("/api/3.0/mlflow/traces/batchGet?trace_ids=tr-missing").await, json!({}));
    let (status, body) = api.get("/api/3.0/mlflow/traces/batchGet").await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "'trace_ids'");

    // batchGetInfos.
    let body = api.ok_post("/api/3.0/mlflow/traces/batchGetInfos", json!({"trace_ids": [trace_id, "tr-missing"]})).await;
    let infos = body["trace_infos"].as_array().unwrap();
    assert_eq!(infos.len(), 1);
    assert_eq!(infos[0]["trace_id"], trace_id);
    assert_eq!(infos[0]["state"], "OK");
    assert!(infos[0].get("spans").is_none());
}

#[tokio::test]
async fn incomplete_traces_wait_then_404_unless_partial_is_allowed() {
    let api = api().await;
    let exp = api.new_experiment("partial").await;
    let trace_id = hex_trace_id(0x22);
    ingest(&api, &exp, vec![raw_span(0x22, 1, None, json!({}))]).await;
    api.start_trace(
        &exp,
        &trace_id,
        json!({"trace_metadata": {"mlflow.trace.sizeStats": "{\"total_size_bytes\": 100, \"num_spans\": 2}"}}),
    )
    .await;
    let started = std::time::Instant::now();
    let (status, body) = api.get(&format!("/api/3.0/mlflow/traces/get?trace_id={trace_id}&allow_partial=False")).await;
    assert_error(status, &body, 404, "RESOURCE_DOES_NOT_EXIST", "is not fully exported yet");
    assert!(started.elapsed() >= std::time::Duration::from_secs(3), "MLflow retries for 1 s + 2 s first");
    let body = api.ok_get(&format!("/api/3.0/mlflow/traces/get?trace_id={trace_id}&allow_partial=True")).await;
    assert_eq!(body["trace"]["spans"].as_array().unwrap().len(), 1);
    assert_eq!(api.ok_get(&format!("/api/3.0/mlflow/traces/batchGet?trace_ids={trace_id}")).await, json!({}));

    // Once the last span arrives the trace is complete.
    ingest(&api, &exp, vec![raw_span(0x22, 2, Some(1), json!({}))]).await;
    let body = api.ok_get(&format!("/api/3.0/mlflow/traces/get?trace_id={trace_id}&allow_partial=False")).await;
    assert_eq!(body["trace"]["spans"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn search_filters_orders_and_pages() {
    let api = api().await;
    let exp = api.new_experiment("search").await;
    let other_exp = api.new_experiment("search-other").await;
    for n in 1..=5u8 {
        api.start_trace(
            &exp,
            &hex_trace_id(n),
            json!({
                "request_time": format!("2026-01-01T00:00:0{n}Z"),
                "state": if n == 3 { "ERROR" } else { "OK" },
                "tags": {"mlflow.traceName": format!("name-{n}"), "parity": if n % 2 == 0 { "even" } else { "odd" }},
            }),
        )
        .await;
    }
    api.start_trace(&other_exp, &hex_trace_id(9), json!({})).await;

    // Default order: newest first; assessments and tags come with each trace.
    let body = api.search(json!({"locations": locations(&exp)})).await;
    assert_eq!(trace_ids(&body), (1..=5u8).rev().map(hex_trace_id).collect::<Vec<_>>());
    assert!(body.get("next_page_token").is_none());
    assert_eq!(body["traces"][0]["tags"]["parity"], "odd");
    assert_eq!(body["traces"][0]["request_time"], "2026-01-01T00:00:05Z");

    let body = api.search(json!({"locations": locations(&exp), "filter": "tags.parity = 'even'", "order_by": ["timestamp_ms ASC"]})).await;
    assert_eq!(trace_ids(&body), vec![hex_trace_id(2), hex_trace_id(4)]);
    let body = api.search(json!({"locations": locations(&exp), "filter": "attributes.status = 'ERROR'"})).await;
    assert_eq!(trace_ids(&body), vec![hex_trace_id(3)]);
    let body = api.search(json!({"locations": locations(&exp), "filter": "trace.name = 'name-4'"})).await;
    assert_eq!(trace_ids(&body), vec![hex_trace_id(4)]);

    // Two experiments at once; camelCase field names.
    let mut both = locations(&exp);
    both.as_array_mut().unwrap().push(locations(&other_exp)[0].clone());
    let body = api.search(json!({"locations": both, "maxResults": 10})).await;
    assert_eq!(trace_ids(&body).len(), 6);

    // Paging: a full page carries a token, the next page continues after it.
    let first = api.search(json!({"locations": locations(&exp), "max_results": 2, "order_by": ["timestamp_ms ASC"]})).await;
    assert_eq!(trace_ids(&first), vec![hex_trace_id(1), hex_trace_id(2)]);
    let token = first["next_page_token"].as_str().unwrap().to_string();
    let second = api
        .search(json!({"locations": locations(&exp), "max_results": 2, "order_by": ["timestamp_ms ASC"], "page_token": token}))
        .await;
    assert_eq!(trace_ids(&second), vec![hex_trace_id(3), hex_trace_id(4)]);

    // An experiment without traces (or that does not exist) yields nothing.
    assert_eq!(api.search(json!({"locations": locations("12345")})).await, json!({}));

    for (body, message) in [
        (json!({}), "'locations'"),
        (json!({"locations": locations(&exp), "max_results": 501}), "Invalid value 501 for parameter 'max_results' supplied"),
        (json!({"locations": locations(&exp), "max_results": 0}), "max_results"),
        (json!({"locations": locations(&exp), "filter": "tags.a = 'x' OR tags.b = 'y'"}), "OR"),
        (json!({"locations": locations(&exp), "filter": "nonsense.key = 1"}), ""),
        (json!({"locations": locations(&exp), "order_by": ["timestamp_ms", "timestamp"]}), "duplicate"),
        (json!({"locations": locations(&exp), "page_token": "%%%"}), "Invalid page token"),
    ] {
        let (status, response) = api.post("/api/3.0/mlflow/traces/search", body.clone()).await;
        assert_error(status, &response, 400, "INVALID_PARAMETER_VALUE", message);
    }

    // Legacy v2 search and info, in the v2 TraceInfo shape.
    let body = api.ok_get(&format!("/api/2.0/mlflow/traces?experiment_ids={exp}&filter=tags.parity%20%3D%20%27even%27&order_by=timestamp_ms%20ASC")).await;
    let traces = body["traces"].as_array().unwrap();
    assert_eq!(traces.len(), 2);
    assert_eq!(traces[0]["request_id"], hex_trace_id(2));
    assert_eq!(traces[0]["experiment_id"], exp);
    assert_eq!(traces[0]["timestamp_ms"].as_i64(), Some(1_767_225_602_000));
    assert_eq!(traces[0]["execution_time_ms"], 111);
    assert_eq!(traces[0]["status"], "OK");
    assert!(traces[0]["tags"].as_array().unwrap().contains(&json!({"key": "parity", "value": "even"})));
    assert!(traces[0]["request_metadata"].as_array().unwrap().contains(&json!({"key": "mlflow.trace_schema.version", "value": "3"})));
    let body = api.ok_get(&format!("/api/2.0/mlflow/traces/{}/info", hex_trace_id(3))).await;
    assert_eq!(body["trace_info"]["status"], "ERROR");
    let (status, body) = api.get("/api/2.0/mlflow/traces/tr-none/info").await;
    assert_error(status, &body, 404, "RESOURCE_DOES_NOT_EXIST", "Trace with ID 'tr-none' not found.");
}

#[tokio::test]
async fn delete_traces_by_ids_and_by_time() {
    let api = api().await;
    let exp = api.new_experiment("delete").await;
    for n in 1..=6u8 {
        api.start_trace(&exp, &hex_trace_id(n), json!({"request_time": format!("2026-01-01T00:00:0{n}Z")})).await;
    }
    let (status, body) = api.post("/api/2.0/mlflow/traces/delete-traces", json!({"experiment_id": exp})).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "Either `max_timestamp_millis` or `trace_ids` must be specified.");
    let (status, body) = api
        .post("/api/2.0/mlflow/traces/delete-traces", json!({"experiment_id": exp, "max_timestamp_millis": 1, "request_ids": ["x"]}))
        .await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "Only one of");
    let (status, body) = api
        .post("/api/2.0/mlflow/traces/delete-traces", json!({"experiment_id": exp, "max_traces": 1, "request_ids": ["x"]}))
        .await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "`max_traces`");
    let (status, body) = api
        .post("/api/2.0/mlflow/traces/delete-traces", json!({"experiment_id": exp, "max_timestamp_millis": 1, "max_traces": 0}))
        .await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "`max_traces` must be a positive integer");
    let (status, body) = api.post("/api/2.0/mlflow/traces/delete-traces", json!({"request_ids": ["x"]})).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "'experiment_id'");

    // By ids (v2 path, as the client sends it); an unknown id is not counted.
    let body = api
        .ok_post("/api/2.0/mlflow/traces/delete-traces", json!({"experiment_id": exp, "request_ids": [hex_trace_id(6), "tr-unknown"]}))
        .await;
    assert_eq!(body, json!({"traces_deleted": 1}));
    // By time, oldest first, at most max_traces (v3 path, as the UI sends it).
    let cutoff = 1_767_225_604_000i64; // 2026-01-01T00:00:04Z
    let body = api
        .ok_post("/ajax-api/3.0/mlflow/traces/delete-traces", json!({"experiment_id": exp, "max_timestamp_millis": cutoff, "max_traces": 2}))
        .await;
    assert_eq!(body, json!({"traces_deleted": 2}));
    let remaining = api.search(json!({"locations": locations(&exp), "order_by": ["timestamp_ms ASC"]})).await;
    assert_eq!(trace_ids(&remaining), vec![hex_trace_id(3), hex_trace_id(4), hex_trace_id(5)]);
    let body = api
        .ok_post("/api/3.0/mlflow/traces/delete-traces", json!({"experiment_id": exp, "max_timestamp_millis": cutoff.to_string()}))
        .await;
    assert_eq!(body, json!({"traces_deleted": 2}));
    let (status, _) = api.get(&format!("/api/3.0/mlflow/traces/{}", hex_trace_id(3))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn trace_tags_set_and_delete() {
    let api = api().await;
    let exp = api.new_experiment("tags").await;
    let trace_id = hex_trace_id(0x33);
    api.start_trace(&exp, &trace_id, json!({})).await;

    let long_value = "v".repeat(9000);
    assert_eq!(api.ok(Method::PATCH, &format!("/api/2.0/mlflow/traces/{trace_id}/tags"), Some(json!({"key": "k1", "value": "v1"}))).await, json!({}));
    api.ok(Method::PATCH, &format!("/api/3.0/mlflow/traces/{trace_id}/tags"), Some(json!({"key": "k2", "value": long_value}))).await;
    api.ok(Method::PATCH, &format!("/ajax-api/3.0/mlflow/traces/{trace_id}/tags"), Some(json!({"key": "mlflow.traceName", "value": "renamed"}))).await;
    let got = api.trace_info(&trace_id).await;
    assert_eq!(got["tags"]["k1"], "v1");
    assert_eq!(got["tags"]["k2"].as_str().unwrap().len(), 4096, "tag values are cut to 4096 in TraceInfo JSON");
    assert_eq!(got["tags"]["mlflow.traceName"], "renamed");

    // Delete with the key in the JSON body (the client) or in the query string (the UI).
    api.ok(Method::DELETE, &format!("/api/2.0/mlflow/traces/{trace_id}/tags"), Some(json!({"key": "k1"}))).await;
    api.ok(Method::DELETE, &format!("/ajax-api/3.0/mlflow/traces/{trace_id}/tags?key=k2"), None).await;
    let got = api.trace_info(&trace_id).await;
    assert!(got["tags"].get("k1").is_none() && got["tags"].get("k2").is_none(), "{got}");

    let (status, body) = api.call(Method::DELETE, &format!("/api/2.0/mlflow/traces/{trace_id}/tags"), Some(json!({"key": "k1"}))).await;
    assert_error(status, &body, 404, "RESOURCE_DOES_NOT_EXIST", &format!("No trace tag with key 'k1' for trace with ID '{trace_id}'"));
    let (status, body) = api.call(Method::DELETE, &format!("/api/2.0/mlflow/traces/{trace_id}/tags"), Some(json!({}))).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "'key'");
    let (status, body) = api.call(Method::PATCH, "/api/2.0/mlflow/traces/tr-none/tags", Some(json!({"key": "a", "value": "b"}))).await;
    assert_error(status, &body, 404, "RESOURCE_DOES_NOT_EXIST", "Trace with ID 'tr-none' not found.");
    let (status, body) = api.call(Method::PATCH, &format!("/api/2.0/mlflow/traces/{trace_id}/tags"), Some(json!({"value": "b"}))).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "'key'");
    let (status, body) = api.call(Method::PATCH, &format!("/api/2.0/mlflow/traces/{trace_id}/tags"), Some(json!({"key": "k".repeat(251), "value": "b"}))).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "maximum length of 250");
    let (status, body) = api
        .call(Method::PATCH, &format!("/api/2.0/mlflow/traces/{trace_id}/tags"), Some(json!({"key": "mlflow.trace.spansLocation", "value": "x"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn link_traces_to_run() {
    let api = api().await;
    let exp = api.new_experiment("links").await;
    let run = api.ok_post("/api/2.0/mlflow/runs/create", json!({"experiment_id": exp, "start_time": 1})).await;
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    for n in 1..=3u8 {
        api.start_trace(&exp, &hex_trace_id(n), json!({})).await;
    }
    let body = api
        .ok_post("/api/2.0/mlflow/traces/link-to-run", json!({"trace_ids": [hex_trace_id(1), hex_trace_id(2)], "run_id": run_id}))
        .await;
    assert_eq!(body, json!({}));
    // Idempotent.
    api.ok_post("/api/2.0/mlflow/traces/link-to-run", json!({"trace_ids": [hex_trace_id(1)], "run_id": run_id})).await;
    let linked = api.search(json!({"locations": locations(&exp), "filter": format!("attribute.run_id = '{run_id}'")})).await;
    let mut ids = trace_ids(&linked);
    ids.sort();
    assert_eq!(ids, vec![hex_trace_id(1), hex_trace_id(2)]);

    let too_many: Vec<String> = (0..101).map(|n| format!("tr-{n}")).collect();
    let (status, body) = api.post("/api/2.0/mlflow/traces/link-to-run", json!({"trace_ids": too_many, "run_id": run_id})).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "more than 100 traces");
    let (status, body) = api.post("/api/2.0/mlflow/traces/link-to-run", json!({"trace_ids": [hex_trace_id(1)]})).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "'run_id'");
    let (status, body) = api.post("/api/2.0/mlflow/traces/link-to-run", json!({"trace_ids": ["tr-none"], "run_id": run_id})).await;
    assert_error(status, &body, 404, "RESOURCE_DOES_NOT_EXIST", "tr-none");
}

#[tokio::test]
async fn assessments_crud_and_overrides() {
    let api = api().await;
    let exp = api.new_experiment("assess").await;
    let trace_id = hex_trace_id(0x44);
    api.start_trace(&exp, &trace_id, json!({})).await;
    let base = format!("/api/3.0/mlflow/traces/{trace_id}/assessments");

    let created = api
        .ok_post(
            &base,
            json!({"assessment": {
                "assessment_name": "relevance",
                "trace_id": trace_id,
                "source": {"source_type": "HUMAN", "source_id": "alice"},
                "feedback": {"value": "yes"},
                "rationale": "looks right",
                "metadata": {"reviewer": "alice"},
                "span_id": "0101010101010101",
            }}),
        )
        .await;
    let feedback = &created["assessment"];
    let feedback_id = feedback["assessment_id"].as_str().unwrap().to_string();
    assert!(feedback_id.starts_with("a-") && feedback_id.len() == 34, "{feedback_id}");
    assert_eq!(feedback["assessment_name"], "relevance");
    assert_eq!(feedback["trace_id"], trace_id);
    assert_eq!(feedback["source"], json!({"source_type": "HUMAN", "source_id": "alice"}));
    assert_eq!(feedback["feedback"], json!({"value": "yes"}));
    assert_eq!(feedback["rationale"], "looks right");
    assert_eq!(feedback["metadata"], json!({"reviewer": "alice"}));
    assert_eq!(feedback["span_id"], "0101010101010101");
    assert_eq!(feedback["valid"], true);
    assert!(feedback["create_time"].as_str().unwrap().ends_with('Z'));
    assert!(feedback["last_update_time"].as_str().unwrap().ends_with('Z'));

    // A structured expectation in its serialized form (how the client sends dicts).
    let created = api
        .ok_post(
            &base,
            json!({"assessment": {
                "assessment_name": "expected",
                "source": {"source_type": "CODE", "source_id": "test"},
                "expectation": {"serialized_value": {"serialization_format": "JSON_FORMAT", "value": "{\"answer\":[1,2]}"}},
            }}),
        )
        .await;
    let expectation_id = created["assessment"]["assessment_id"].as_str().unwrap().to_string();
    assert_eq!(
        created["assessment"]["expectation"],
        json!({"serialized_value": {"serialization_format": "JSON_FORMAT", "value": "{\"answer\": [1, 2]}"}})
    );

    // Get, as the client calls it (ids repeated in the query).
    let got = api.ok_get(&format!("{base}/{feedback_id}?trace_id={trace_id}&assessment_id={feedback_id}")).await;
    assert_eq!(got["assessment"]["assessment_id"], feedback_id);

    // Update: the client's camelCase mask; metadata merges.
    let updated = api
        .ok(
            Method::PATCH,
            &format!("{base}/{feedback_id}"),
            Some(json!({
                "assessment": {"assessment_name": "relevance2", "feedback": {"value": 0.5}, "metadata": {"round": "2"}},
                "update_mask": "assessmentName,feedback,metadata",
            })),
        )
        .await;
    let updated = &updated["assessment"];
    assert_eq!(updated["assessment_name"], "relevance2");
    assert_eq!(updated["feedback"]["value"], 0.5);
    assert_eq!(updated["metadata"], json!({"reviewer": "alice", "round": "2"}));
    assert_eq!(updated["rationale"], "looks right", "fields outside the mask keep their values");
    assert_eq!(updated["source"]["source_id"], "alice");
    let (status, body) = api
        .call(
            Method::PATCH,
            &format!("{base}/{expectation_id}"),
            Some(json!({"assessment": {"feedback": {"value": 1}}, "update_mask": "feedback"})),
        )
        .await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "expectation");

    // Override: the replaced feedback becomes invalid, and valid again when the override goes.
    let override_body = api
        .ok_post(
            &base,
            json!({"assessment": {
                "assessment_name": "relevance2",
                "source": {"source_type": "LLM_JUDGE", "source_id": "judge"},
                "feedback": {"value": false, "error": {"error_code": "E1", "error_message": "flaky"}},
                "overrides": feedback_id,
            }}),
        )
        .await;
    let override_id = override_body["assessment"]["assessment_id"].as_str().unwrap().to_string();
    assert_eq!(override_body["assessment"]["overrides"], feedback_id);
    assert_eq!(override_body["assessment"]["feedback"]["error"], json!({"error_code": "E1", "error_message": "flaky"}));
    let old = api.ok_get(&format!("{base}/{feedback_id}")).await;
    assert_eq!(old["assessment"]["valid"], false);

    // Assessments ride along with the trace info and with search results.
    let info = api.ok_get(&format!("/api/3.0/mlflow/traces/{trace_id}")).await;
    assert_eq!(info["trace"]["trace_info"]["assessments"].as_array().unwrap().len(), 3);
    let found = api.search(json!({"locations": locations(&exp)})).await;
    assert_eq!(found["traces"][0]["assessments"].as_array().unwrap().len(), 3);

    // Delete (ids from the path, body as the client sends it); idempotent.
    let delete_body = json!({"trace_id": trace_id, "assessment_id": override_id});
    assert_eq!(api.ok(Method::DELETE, &format!("{base}/{override_id}"), Some(delete_body.clone())).await, json!({}));
    api.ok(Method::DELETE, &format!("{base}/{override_id}"), Some(delete_body)).await;
    let old = api.ok_get(&format!("{base}/{feedback_id}")).await;
    assert_eq!(old["assessment"]["valid"], true);
    let (status, body) = api.get(&format!("{base}/{override_id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error_code"], "RESOURCE_DOES_NOT_EXIST");

    // Bad input.
    let valid = json!({"assessment_name": "n", "source": {"source_type": "HUMAN", "source_id": "a"}, "feedback": {"value": 1}});
    for (patch, message) in [
        (json!({"assessment_name": ""}), "assessment_name"),
        (json!({"source": null}), "source"),
        (json!({"source": {"source_type": "ROBOT"}}), "ROBOT"),
        (json!({"feedback": null}), "one of feedback, expectation or issue"),
        (json!({"expectation": {"value": 1}}), "only have one of"),
        (json!({"create_time": "noon"}), "create_time"),
    ] {
        let mut assessment = valid.clone();
        for (k, v) in patch.as_object().unwrap() {
            assessment[k] = v.clone();
        }
        let (status, body) = api.post(&base, json!({"assessment": assessment})).await;
        assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", message);
    }
    let (status, body) = api.post(&base, json!({})).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "'assessment'");
    let (status, body) = api.post("/api/3.0/mlflow/traces/tr-none/assessments", json!({"assessment": valid})).await;
    assert_error(status, &body, 404, "RESOURCE_DOES_NOT_EXIST", "Trace with ID 'tr-none' not found.");
    let (status, body) = api
        .post(&base, json!({"assessment": {"assessment_name": "x", "source": {"source_type": "HUMAN"}, "feedback": {"value": 1}, "overrides": "a-nope"}}))
        .await;
    assert_error(status, &body, 404, "RESOURCE_DOES_NOT_EXIST", "a-nope");
}

#[tokio::test]
async fn route_precedence_and_methods() {
    let api = api().await;
    let exp = api.new_experiment("routes").await;
    // A trace literally named like a static segment is still reachable through GetTrace.
    api.start_trace(&exp, "search", json!({})).await;
    let body = api.ok_get("/api/3.0/mlflow/traces/get?trace_id=search&allow_partial=true").await;
    assert_eq!(body["trace"]["trace_info"]["trace_id"], "search");
    // ...but GET /traces/search is not GetTraceInfo for it (search is POST only).
    let (status, _) = api.get("/api/3.0/mlflow/traces/search").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    // batchGetInfos and delete-traces are not trace ids either.
    let (status, body) = api.post("/api/3.0/mlflow/traces/batchGetInfos", json!({})).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "'trace_ids'");
    let (status, body) = api.get("/api/3.0/mlflow/traces/delete-traces").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
}

#[tokio::test]
async fn start_trace_v3_stores_its_assessments_once() {
    let api = api().await;
    let exp = api.new_experiment("start-assess").await;
    let trace_id = hex_trace_id(0x55);
    let assessments = json!({"assessments": [{
        "assessment_id": "a-00000000000000000000000000000001",
        "assessment_name": "correct",
        "trace_id": trace_id,
        "source": {"source_type": "CODE", "source_id": "scorer"},
        "create_time": "2026-11-27T07:44:30Z",
        "feedback": {"value": true},
    }]});
    for _ in 0..2 {
        let info = api.start_trace(&exp, &trace_id, assessments.clone()).await;
        let stored = info["assessments"].as_array().unwrap();
        assert_eq!(stored.len(), 1, "a retried StartTraceV3 adds nothing: {info}");
        assert_eq!(stored[0]["assessment_id"], "a-00000000000000000000000000000001");
        assert_eq!(stored[0]["create_time"], "2026-11-27T07:44:30Z");
        assert_eq!(stored[0]["feedback"], json!({"value": true}));
    }
    assert_eq!(api.trace_info(&trace_id).await["assessments"].as_array().unwrap().len(), 1);
}

//! MLflow's trace REST API end to end through the router on a real SQLite store: StartTraceV3,
//! trace info, typed span attributes, partial traces, route precedence and bad input.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{api, assert_error, hex_trace_id, ingest, locations, prepared_span, raw_span, START_NS};
use serde_json::{json, Value};

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

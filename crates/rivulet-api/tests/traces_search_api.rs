//! MLflow's trace search and deletion through the router on a real SQLite store: filters,
//! ordering, paging, the legacy v2 search, and deleting by ids or by time.

mod common;

use axum::http::StatusCode;
use common::{api, assert_error, hex_trace_id, locations, trace_ids};
use serde_json::json;

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

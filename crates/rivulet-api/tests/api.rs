//! The HTTP API end to end through the router, on a real SQLite store: wire shapes, MLflow's
//! leniencies, and bad input answered with 4xx in MLflow's error shape.


use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use rivulet_api::{ApiSettings, AppState};
use rivulet_store::{Store, StoreSettings, StoreUri};
use serde_json::{json, Value};
use tower::ServiceExt;

struct TestApi {
    router: axum::Router,
    _dir: tempfile::TempDir,
}

async fn api_with(settings: ApiSettings) -> TestApi {
    let dir = tempfile::tempdir().unwrap();
    let uri = StoreUri::Sqlite { path: Some(dir.path().join("mlflow.db")) };
    let store = Store::open(&uri, StoreSettings::default()).await.unwrap();
    let state = AppState::new(store, None, settings);
    TestApi { router: rivulet_api::router(state), _dir: dir }
}

async fn api() -> TestApi {
    api_with(ApiSettings::default()).await
}

impl TestApi {
    async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, body)
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let request = Request::post(path).header("content-type", "application/json").body(Body::from(body.to_string())).unwrap();
        self.send(request).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Request::get(path).body(Body::empty()).unwrap()).await
    }

    async fn ok_post(&self, path: &str, body: Value) -> Value {
        let (status, body) = self.post(path, body).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }

    async fn new_run(&self) -> String {
        let experiment = self.ok_post("/api/2.0/mlflow/experiments/create", json!({"name": format!("e-{}", rand_suffix())})).await;
        let run = self
            .ok_post("/api/2.0/mlflow/runs/create", json!({"experiment_id": experiment["experiment_id"], "start_time": 1, "run_name": "r"}))
            .await;
        run["run"]["info"]["run_id"].as_str().unwrap().to_string()
    }
}

fn rand_suffix() -> String {
    format!("{:?}", std::time::SystemTime::now()).chars().filter(char::is_ascii_digit).collect()
}

fn assert_error(status: StatusCode, body: &Value, expected_status: u16, code: &str, message_part: &str) {
    assert_eq!(status.as_u16(), expected_status, "{body}");
    assert_eq!(body["error_code"], code, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(message_part), "message {message:?} lacks {message_part:?}");
}

#[tokio::test]
async fn experiment_wire_shape() {
    let api = api().await;
    let created = api.ok_post("/api/2.0/mlflow/experiments/create", json!({"name": "shape", "tags": [{"key": "a", "value": "b"}]})).await;
    let id = created["experiment_id"].as_str().expect("experiment ids are strings");
    let (status, body) = api.get(&format!("/api/2.0/mlflow/experiments/get?experiment_id={id}")).await;
    assert_eq!(status, StatusCode::OK);
    let experiment = &body["experiment"];
    assert_eq!(experiment["name"], "shape");
    assert_eq!(experiment["artifact_location"], format!("mlflow-artifacts:/{id}"));
    assert_eq!(experiment["lifecycle_stage"], "active");
    assert_eq!(experiment["workspace"], "default");
    assert!(experiment["creation_time"].is_i64());
    assert_eq!(experiment["tags"], json!([{"key": "a", "value": "b"}]));
    let (status, body) = api.get("/api/2.0/mlflow/experiments/get-by-name?experiment_name=nope").await;
    assert_error(status, &body, 404, "RESOURCE_DOES_NOT_EXIST", "Could not find experiment with name 'nope'");
    let (status, body) = api.post("/api/2.0/mlflow/experiments/create", json!({"name": "shape"})).await;
    assert_error(status, &body, 400, "RESOURCE_ALREADY_EXISTS", "already exists");
}

#[tokio::test]
async fn run_wire_shape_and_special_doubles() {
    let api = api().await;
    let run_id = api.new_run().await;
    api.ok_post("/api/2.0/mlflow/runs/log-metric", json!({"run_id": run_id, "key": "nan", "value": "NaN", "timestamp": "12"})).await;
    api.ok_post("/api/2.0/mlflow/runs/log-metric", json!({"run_uuid": run_id, "key": "inf", "value": "Infinity", "timestamp": 1, "step": 3})).await;
    api.ok_post("/api/2.0/mlflow/runs/log-parameter", json!({"run_id": run_id, "key": "lr", "value": "0.1"})).await;
    let (status, body) = api.get(&format!("/api/2.0/mlflow/runs/get?run_id={run_id}&run_uuid={run_id}")).await;
    assert_eq!(status, StatusCode::OK);
    let run = &body["run"];
    assert_eq!(run["info"]["run_uuid"], run_id);
    assert_eq!(run["info"]["status"], "RUNNING");
    assert_eq!(run["info"]["user_id"], "");
    assert_eq!(run["inputs"], json!({}));
    assert_eq!(run["outputs"], json!({}));
    let metrics = run["data"]["metrics"].as_array().unwrap();
    let value = |key: &str| metrics.iter().find(|m| m["key"] == key).unwrap()["value"].clone();
    assert_eq!(value("nan"), "NaN");
    assert_eq!(value("inf").as_f64(), Some(f64::MAX));
    assert_eq!(run["data"]["params"], json!([{"key": "lr", "value": "0.1"}]));
    let (status, body) = api.post("/api/2.0/mlflow/runs/log-parameter", json!({"run_id": run_id, "key": "lr", "value": "0.2"})).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "Changing param values is not allowed");
    let (status, body) = api.get("/api/2.0/mlflow/runs/get?run_id=abc").await;
    assert_error(status, &body, 404, "RESOURCE_DOES_NOT_EXIST", "Run with id=abc not found");
}

#[tokio::test]
async fn content_type_is_enforced_on_post() {
    let api = api().await;
    let request = Request::post("/api/2.0/mlflow/experiments/create").body(Body::from(r#"{"name":"x"}"#)).unwrap();
    let (status, body) = api.send(request).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "Content-Type header is missing");
    let request = Request::post("/api/2.0/mlflow/experiments/create")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("name=x"))
        .unwrap();
    let (status, body) = api.send(request).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "Content-Type must be one of ['application/json']");
    let request = Request::post("/api/2.0/mlflow/experiments/create")
        .header("content-type", "application/json; charset=utf-8")
        .body(Body::from(r#"{"name":"charset"}"#))
        .unwrap();
    assert_eq!(api.send(request).await.0, StatusCode::OK);
}

#[tokio::test]
async fn malformed_and_mistyped_requests() {
    let api = api().await;
    let request = Request::post("/api/2.0/mlflow/experiments/create").header("content-type", "application/json").body(Body::from("{not json")).unwrap();
    let (status, body) = api.send(request).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'name'");
    let (status, body) = api.post("/api/2.0/mlflow/experiments/create", json!({"name": 5})).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "Value was of type 'int'");
    let (status, body) = api.post("/api/2.0/mlflow/experiments/create", json!({"name": "a", "artifactLocation": "x", "artifact_location": "y"})).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "provide only one of them");
    let run_id = api.new_run().await;
    let (status, body) = api.post("/api/2.0/mlflow/runs/log-metric", json!({"run_id": run_id, "key": "m", "value": "abc", "timestamp": 1})).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "Invalid value \"abc\" for parameter 'value'");
    let (status, body) = api.post("/api/2.0/mlflow/runs/log-metric", json!({"run_id": run_id, "key": "bad?name", "value": 1, "timestamp": 1})).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "Names may only contain");
    let (status, body) = api.post("/api/2.0/mlflow/runs/log-batch", json!({"run_id": run_id, "metrics": [{"key": "m", "value": 1}]})).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "'metrics[0].timestamp'");
    let (status, body) = api.post("/api/2.0/mlflow/runs/create", json!({"experiment_id": "abc"})).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "Experiment ID must be a valid integer");
}

#[tokio::test]
async fn over_limit_batch_writes_nothing() {
    let api = api().await;
    let run_id = api.new_run().await;
    let metrics: Vec<Value> = (0..1001).map(|i| json!({"key": "m", "value": i, "timestamp": i, "step": i})).collect();
    let (status, body) = api.post("/api/2.0/mlflow/runs/log-batch", json!({"run_id": run_id, "metrics": metrics})).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "at most 1000 metrics. Got 1001 metrics");
    let (_, history) = api.get(&format!("/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key=m")).await;
    assert_eq!(history, json!({}));
}

#[tokio::test]
async fn search_rejects_bad_filters_tokens_and_limits() {
    let api = api().await;
    let run_id = api.new_run().await;
    let (_, run) = api.get(&format!("/api/2.0/mlflow/runs/get?run_id={run_id}")).await;
    let experiment_id = run["run"]["info"]["experiment_id"].clone();
    let cases = [
        (json!({"filter": "metrics.acc >"}), "filter"),
        (json!({"filter": "params.x = 'a' OR 1=1"}), "filter"),
        (json!({"filter": "metrics.acc = 'x'"}), "numeric"),
        (json!({"order_by": ["start_time; DROP TABLE runs"]}), "order_by"),
        (json!({"order_by": ["metrics.m", "metrics.m DESC"]}), "order_by"),
        (json!({"page_token": "%%%"}), "Invalid page token"),
        (json!({"page_token": "eyJmb28iOiAxfQ=="}), "Invalid page token"),
        (json!({"max_results": 50001}), "max_results"),
        (json!({"max_results": 0}), "max_results"),
    ];
    for (extra, hint) in cases {
        let mut body = json!({"experiment_ids": [experiment_id]});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let (status, response) = api.post("/api/2.0/mlflow/runs/search", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {response}");
        assert_eq!(response["error_code"], "INVALID_PARAMETER_VALUE");
        let message = response["message"].as_str().unwrap();
        assert!(message.to_lowercase().contains(&hint.to_lowercase()), "{body}: {message}");
        assert!(!message.contains("SELECT") && !message.contains("sqlx"), "no internals leak: {message}");
    }
    let (status, body) = api.post("/api/2.0/mlflow/runs/search", json!({"experiment_ids": [experiment_id], "filter": "attributes.run_name = 'r'"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["runs"].as_array().unwrap().len(), 1);
    let (status, body) = api.post("/api/2.0/mlflow/runs/search", json!({"experiment_ids": []})).await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
}

#[tokio::test]
async fn experiments_search_is_kind_to_empty_bodies() {
    let api = api().await;
    let request = Request::post("/api/2.0/mlflow/experiments/search").header("content-type", "application/json").body(Body::empty()).unwrap();
    let (status, body) = api.send(request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["experiments"][0]["name"], "Default");
    assert!(body.get("next_page_token").is_none(), "never an empty next_page_token");
    let (status, body) = api.get("/ajax-api/2.0/mlflow/experiments/search?max_results=1&view_type=ALL").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn meta_routes_and_unknown_paths() {
    let api = api().await;
    assert_eq!(api.get("/health").await, (StatusCode::OK, Value::String("OK".into())));
    let (status, version) = api.get("/version").await;
    assert_eq!(status, StatusCode::OK);
    assert!(version.as_f64().is_some() || version.as_str().is_some_and(|v| v.starts_with("3.")), "{version}");
    let (status, info) = api.get("/api/3.0/mlflow/server-info").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["multipart_uploads_enabled"], false);
    let (status, body) = api.get("/api/2.0/mlflow/nope").await;
    assert_error(status, &body, 404, "ENDPOINT_NOT_FOUND", "/api/2.0/mlflow/nope");
}

#[tokio::test]
async fn static_prefix_moves_every_route() {
    let api = api_with(ApiSettings { static_prefix: Some("/mlflow".into()), ..ApiSettings::default() }).await;
    assert_eq!(api.get("/mlflow/health").await.0, StatusCode::OK);
    assert_eq!(api.get("/mlflow/api/2.0/mlflow/experiments/get?experiment_id=0").await.0, StatusCode::OK);
    assert_eq!(api.get("/api/2.0/mlflow/experiments/get?experiment_id=0").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metric_history_pages_and_bulk_interval() {
    let api = api().await;
    let run_id = api.new_run().await;
    let metrics: Vec<Value> = (0..1000).map(|i| json!({"key": "loss", "value": i, "timestamp": i, "step": i})).collect();
    api.ok_post("/api/2.0/mlflow/runs/log-batch", json!({"run_id": run_id, "metrics": metrics})).await;
    let mut token: Option<String> = None;
    let mut points = 0;
    loop {
        let mut path = format!("/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key=loss&max_results=300");
        if let Some(token) = &token {
            path.push_str(&format!("&page_token={token}"));
        }
        let (status, body) = api.get(&path).await;
        assert_eq!(status, StatusCode::OK);
        points += body["metrics"].as_array().unwrap().len();
        match body.get("next_page_token").and_then(Value::as_str) {
            Some(next) => token = Some(percent_encode(next)),
            None => break,
        }
    }
    assert_eq!(points, 1000);
    let (status, body) = api.get(&format!("/api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids={run_id}&metric_key=loss&max_results=5")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sampled = body["metrics"].as_array().unwrap();
    assert_eq!(sampled.len(), 5);
    assert_eq!(sampled[0]["run_id"], run_id);
    let (status, body) = api.get(&format!("/api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids={run_id}&metric_key=loss&start_step=5")).await;
    assert_error(status, &body, 400, "INVALID_PARAMETER_VALUE", "both must be specified");
}

fn percent_encode(value: &str) -> String {
    value.replace('+', "%2B").replace('=', "%3D").replace('/', "%2F")
}

/// Garbage sent to every JSON endpoint is a 4xx, never a 5xx the client would retry for minutes.
#[tokio::test]
async fn no_bad_input_is_a_server_error() {
    let api = api().await;
    let run_id = api.new_run().await;
    let endpoints = [
        "experiments/create", "experiments/search", "experiments/delete", "experiments/restore", "experiments/update",
        "experiments/set-experiment-tag", "experiments/delete-experiment-tag", "runs/create", "runs/update", "runs/delete",
        "runs/restore", "runs/search", "runs/log-metric", "runs/log-parameter", "runs/set-tag", "runs/delete-tag",
        "runs/log-batch", "runs/log-inputs", "runs/outputs", "runs/log-model", "logged-models", "logged-models/search",
    ];
    let bodies = [
        json!(null),
        json!([]),
        json!({"experiment_id": "9999999", "run_id": "nope", "name": "", "key": "", "value": {}}),
        json!({"experiment_id": {"a": 1}, "run_id": [1], "metrics": "x", "params": [1], "tags": [{"value": 1}]}),
        json!({"run_id": run_id, "metrics": [{"key": "k", "value": "1e999999", "timestamp": -1}], "params": [{"key": "../x", "value": "v"}]}),
        json!({"run_id": run_id, "datasets": [{"dataset": {"name": "n"}}], "models": [{}], "model_json": "{"}),
        json!({"experiment_ids": ["1 OR 1=1"], "filter": "tags.`x` = '", "order_by": [7], "max_results": "many"}),
        json!({"experiment_id": "0", "new_name": "x".repeat(600), "key": "k".repeat(300), "value": "v"}),
        json!({"run_id": run_id, "status": "BOGUS", "end_time": "soon"}),
    ];
    for endpoint in endpoints {
        for body in &bodies {
            let path = format!("/api/2.0/mlflow/{endpoint}");
            let (status, response) = api.post(&path, body.clone()).await;
            assert!(status.is_client_error() || status.is_success(), "{path} {body} -> {status} {response}");
            if status.is_client_error() {
                assert!(response["error_code"].is_string(), "{path} {body} -> {response}");
            }
        }
    }
}

//! Every UI page end to end on a real SQLite store, through the same router merge the binary
//! does (API + UI, with and without a static prefix): content is asserted, not just status.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt;
use rivulet_api::{ApiSettings, AppState};
use rivulet_core::store::{TraceStore, TrackingStore};
use rivulet_core::traces::model::SpanBatch;
use rivulet_core::traces::prepare::prepare_span;
use rivulet_core::traces::{Span, SpanEvent, StatusCode as SpanStatus};
use rivulet_core::tracking::{LogBatch, Metric, NewExperiment, NewRun, Tag};
use rivulet_store::{Store, StoreSettings, StoreUri};
use serde_json::{json, Map, Value};
use tower::ServiceExt;

struct Ui {
    router: axum::Router,
    store: Store,
    _dir: tempfile::TempDir,
}

async fn ui(prefix: Option<&str>) -> Ui {
    let dir = tempfile::tempdir().unwrap();
    let uri = StoreUri::Sqlite { path: Some(dir.path().join("mlflow.db")) };
    let store = Store::open(&uri, StoreSettings::default()).await.unwrap();
    let state = AppState::new(store.clone(), None, ApiSettings { static_prefix: prefix.map(str::to_string), ..ApiSettings::default() });
    let router = rivulet_api::router(state.clone()).merge(rivulet_ui::router(state));
    Ui { router, store, _dir: dir }
}

impl Ui {
    async fn request(&self, method: Method, path: &str, body: Option<&str>, headers: &[(&str, &str)]) -> (StatusCode, BTreeMap<String, String>, String) {
        let mut builder = Request::builder().method(method).uri(path).header(header::HOST, "ui.test");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = match body {
            Some(body) => builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(Body::from(body.to_string())).unwrap(),
            None => builder.body(Body::empty()).unwrap(),
        };
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// GETs a page that must answer 200 and contain every needle.
    async fn page(&self, path: &str, needles: &[&str]) -> String {
        let (status, _, body) = self.request(Method::GET, path, None, &[]).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        for needle in needles {
            assert!(body.contains(needle), "GET {path}: missing {needle:?} in\n{body}");
        }
        body
    }
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

fn attrs(pairs: Value) -> Map<String, Value> {
    pairs.as_object().unwrap().clone()
}

#[allow(clippy::too_many_arguments)]
fn span(trace: u8, id: u8, parent: Option<u8>, name: &str, start: u64, millis: u64, service: &str, attributes: Map<String, Value>) -> Span {
    Span {
        trace_id: [trace; 16],
        span_id: [id; 8],
        parent_span_id: parent.map(|p| [p; 8]),
        name: name.into(),
        start_time_unix_nano: start,
        end_time_unix_nano: start + millis * 1_000_000,
        status_code: SpanStatus::Ok,
        status_message: String::new(),
        attributes,
        events: Vec::new(),
        links: Vec::new(),
        service_name: Some(service.into()),
    }
}

/// An agent trace: gateway root → vllm chat span (tokens, chat, tool call) → failing tool span.
fn agent_trace(trace: u8, session: &str, start: u64) -> Vec<Span> {
    let root = span(trace, 1, None, "agent_turn", start, 900, "llama-stack", attrs(json!({
        "mlflow.spanType": "AGENT",
        "mlflow.spanInputs": {"question": format!("What is the weather in Paris? #{trace}")},
        "mlflow.spanOutputs": {"answer": "Sunny and 18C."},
        "session.id": session,
        "user.id": "alice",
    })));
    let chat = span(trace, 2, Some(1), "chat llama-3", start + 10_000_000, 500, "vllm", attrs(json!({
        "mlflow.spanType": "CHAT_MODEL",
        "mlflow.llm.model": "llama-3-8b",
        "mlflow.chat.tokenUsage": {"input_tokens": 120, "output_tokens": 30, "total_tokens": 150},
        "mlflow.spanInputs": {"messages": [
            {"role": "system", "content": "You are a weather bot."},
            {"role": "user", "content": "What is the weather in Paris?"}
        ]},
        "mlflow.spanOutputs": {"choices": [{"message": {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}
        ]}}]},
        "mlflow.chat.tools": [{"type": "function", "function": {"name": "get_weather", "description": "Current weather"}}],
    })));
    let mut tool = span(trace, 3, Some(2), "get_weather", start + 600_000_000, 50, "weather-tool", attrs(json!({"mlflow.spanType": "TOOL"})));
    tool.status_code = SpanStatus::Error;
    tool.status_message = "upstream timeout".into();
    tool.events.push(SpanEvent {
        name: "exception".into(),
        time_unix_nano: start + 640_000_000,
        attributes: attrs(json!({"exception.type": "TimeoutError", "exception.message": "weather API timed out", "exception.stacktrace": "Traceback (most recent call last):\n  File \"tool.py\", line 3"})),
    });
    vec![root, chat, tool]
}

async fn seed(ui: &Ui) -> (i64, String, String) {
    let experiment_id = ui.store.create_experiment(NewExperiment { name: "llamastack-traces".into(), artifact_location: None, tags: vec![] }).await.unwrap();
    let start = now_ns() - 60_000_000_000;
    let mut spans = Vec::new();
    for trace in 1..=3u8 {
        spans.extend(agent_trace(trace, if trace < 3 { "conv-1" } else { "conv-2" }, start + u64::from(trace) * 1_000_000_000));
    }
    let batch = SpanBatch { experiment_id, spans: spans.into_iter().map(prepare_span).collect(), resource_tags: BTreeMap::new(), run_id: None };
    ui.store.ingest_spans(batch).await.unwrap();

    let mut run_ids = Vec::new();
    for (name, lr) in [("baseline", "0.1"), ("tuned", "0.01")] {
        let run = ui.store.create_run(NewRun { experiment_id, user_id: Some("bob".into()), run_name: name.into(), start_time: Some(1_700_000_000_000), tags: vec![Tag::new("team", "ml")] }).await.unwrap();
        let metrics = (0..20).map(|step| Metric { key: "loss".into(), value: 1.0 / f64::from(step + 1) + if name == "tuned" { 0.0 } else { 0.1 }, timestamp: 1_700_000_000_000 + i64::from(step) * 1000, step: i64::from(step) }).collect();
        ui.store
            .log_batch(&run.info.run_id, LogBatch { metrics, params: vec![Tag::new("lr", lr), Tag::new("model", "llama")], tags: vec![] })
            .await
            .unwrap();
        run_ids.push(run.info.run_id);
    }
    (experiment_id, run_ids[0].clone(), run_ids[1].clone())
}

fn trace_id(n: u8) -> String {
    format!("tr-{}", format!("{n:02x}").repeat(16))
}

#[tokio::test]
async fn experiment_to_trace_to_span() {
    let ui = ui(None).await;
    let (experiment_id, _, _) = seed(&ui).await;
    ui.page("/", &["llamastack-traces", "Create experiment", &format!("/ui/experiments/{experiment_id}\"")]).await;
    let traces = ui.page(&format!("/ui/experiments/{experiment_id}/traces"), &["agent_turn", "llama-3-8b", "conv-1", "alice", "Showing 3 traces", "Auto-refresh"]).await;
    assert!(traces.contains("What is the weather in Paris? #3"), "request preview shown");
    assert!(traces.contains("<span title=\"input 360 · output 90\">450</span>") || traces.contains(">150<"), "token totals: {traces}");

    let trace = trace_id(1);
    ui.page(&format!("/ui/traces/{trace}"), &["agent_turn", &trace, "data-tree=", "Session", "alice", "Loading spans"]).await;
    let (status, headers, tree) = ui.request(Method::GET, &format!("/ui/traces/{trace}/tree"), None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    let tree: Value = serde_json::from_str(&tree).unwrap();
    let rows = tree["spans"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0][2], "agent_turn");
    assert_eq!(rows[1][1], 0, "chat span's parent is the root");
    assert_eq!(rows[1][7], "llama-3-8b");
    assert_eq!(rows[1][8], 150);
    assert_eq!(rows[2][6], 2, "tool span failed");

    let chat_span = "0202020202020202";
    ui.page(&format!("/ui/traces/{trace}/spans/{chat_span}"), &["msg system", "You are a weather bot.", "→ calls <b>get_weather</b>", "Tools offered", "<strong>150</strong>", "llama-3-8b"]).await;
    ui.page(&format!("/ui/traces/{trace}/spans/0303030303030303"), &["TimeoutError", "weather API timed out", "Traceback", "1 exception", "upstream timeout"]).await;
    // A deep link renders the span panel on the server.
    ui.page(&format!("/ui/traces/{trace}?span={chat_span}"), &["You are a weather bot.", &format!("data-selected=\"{chat_span}\"")]).await;
    let (status, _, _) = ui.request(Method::GET, &format!("/ui/traces/{trace}/spans/ffffffffffffffff"), None, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, missing) = ui.request(Method::GET, "/ui/traces/tr-nope", None, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(missing.contains("Not found"));
}

#[tokio::test]
async fn traces_filters_paging_and_refresh_fragment() {
    let ui = ui(None).await;
    let (experiment_id, _, _) = seed(&ui).await;
    let base = format!("/ui/experiments/{experiment_id}/traces");
    ui.page(&format!("{base}?status=ERROR"), &["No traces match"]).await;
    ui.page(&format!("{base}?q=%232"), &["Showing 1 traces"]).await;
    ui.page(&format!("{base}?q={}", trace_id(3)), &["Showing 1 traces"]).await;
    ui.page(&format!("{base}?filter=attributes.execution_time_ms+%3E+100&sort=slowest"), &["Showing 3 traces"]).await;
    ui.page(&format!("{base}?filter=nonsense+%3D%3D%3D"), &["Filter not applied"]).await;
    ui.page(&format!("{base}?range=15m"), &["Showing 3 traces"]).await;
    // The rows fragment is only table rows, for auto-refresh.
    let (status, _, rows) = ui.request(Method::GET, &format!("{base}?fragment=rows"), None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(rows.starts_with("<tr") && rows.matches("<tr").count() == 3, "{rows}");
    // Server-Timing is on every UI response.
    let (_, headers, _) = ui.request(Method::GET, &base, None, &[]).await;
    assert!(headers["server-timing"].starts_with("app;dur="));
}

#[tokio::test]
async fn keyset_paging_visits_every_trace_once() {
    let ui = ui(None).await;
    let experiment_id = ui.store.create_experiment(NewExperiment { name: "many".into(), artifact_location: None, tags: vec![] }).await.unwrap();
    let start = now_ns() - 3_600_000_000_000;
    // 120 traces, many sharing a timestamp, so the cursor's skip count matters.
    let spans: Vec<_> = (1..=120u8)
        .map(|t| prepare_span(span(t, 1, None, &format!("t{t}"), start + u64::from(t / 7) * 1_000_000, 5, "svc", Map::new())))
        .collect();
    ui.store.ingest_spans(SpanBatch { experiment_id, spans, resource_tags: BTreeMap::new(), run_id: None }).await.unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let mut path = format!("/ui/experiments/{experiment_id}/traces");
    for _ in 0..5 {
        let body = ui.page(&path, &[]).await;
        for piece in body.split("data-href=\"/ui/traces/").skip(1) {
            assert!(seen.insert(piece[..35].to_string()), "trace listed twice: {}", &piece[..35]);
        }
        match body.split("rel=\"next\"").next().and_then(|head| head.rsplit("href=\"").next()).filter(|_| body.contains("rel=\"next\"")) {
            Some(next) => path = next.split('"').next().unwrap().replace("&amp;", "&"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 120);
}

#[tokio::test]
async fn runs_run_page_and_compare() {
    let ui = ui(None).await;
    let (experiment_id, baseline, tuned) = seed(&ui).await;
    ui.page(&format!("/ui/experiments/{experiment_id}/runs"), &["baseline", "tuned", "loss", "lr", "Compare selected", "order=metrics.loss%20DESC"]).await;
    ui.page(&format!("/ui/experiments/{experiment_id}/runs?filter=params.lr+%3D+%270.01%27"), &["tuned", "1 runs"]).await;
    ui.page(&format!("/ui/experiments/{experiment_id}/runs?order=metrics.loss+ASC"), &["tuned"]).await;
    ui.page(&format!("/ui/experiments/{experiment_id}/runs?filter=bad+filter+%3D"), &["notice error"]).await;
    let run = ui.page(&format!("/ui/runs/{baseline}"), &["baseline", "<polyline", "loss chart", "Parameters", "lr", "0.1", "Browse"]).await;
    assert!(run.contains("aria-current=\"true\" class=\"on\">Step"));
    ui.page(&format!("/ui/runs/{baseline}?x=time"), &["time (UTC)"]).await;
    let compare = ui.page(&format!("/ui/experiments/{experiment_id}/compare?run={baseline}&run={tuned}"), &["Comparing 2 runs", "class=\"diff\"", "class=\"same\"", "1 of 2 parameters differ"]).await;
    assert_eq!(compare.matches("<polyline").count(), 2, "overlaid series");
    ui.page(&format!("/ui/experiments/{experiment_id}/compare?run={baseline}"), &["Select two or more runs"]).await;
    // Artifacts are not served by this test server: the page says so instead of failing.
    ui.page(&format!("/ui/runs/{baseline}/artifacts"), &["cannot be read here"]).await;
}

#[tokio::test]
async fn sessions_and_service_graph() {
    let ui = ui(None).await;
    let (experiment_id, _, _) = seed(&ui).await;
    ui.page(&format!("/ui/experiments/{experiment_id}/sessions"), &["conv-1", "conv-2", "session?id=conv-1"]).await;
    let timeline = ui.page(&format!("/ui/experiments/{experiment_id}/session?id=conv-1"), &["2 turns", "msg user", "msg assistant", "alice"]).await;
    let first = timeline.find("#1").unwrap();
    let second = timeline.find("#2").unwrap();
    assert!(first < second, "oldest turn first");
    let graph = ui.page(&format!("/ui/experiments/{experiment_id}/graph"), &["<svg class=\"graph\"", "llama-stack", "vllm", "weather-tool", "3 calls · 0.0% err", "3 calls · 100.0% err"]).await;
    assert!(graph.contains("parent=vllm&amp;child=weather-tool"));
    ui.page(&format!("/ui/experiments/{experiment_id}/graph?range=7d&parent=vllm&child=weather-tool"), &["Traces with a call vllm → weather-tool", &trace_id(2)]).await;
}

#[tokio::test]
async fn empty_states_tell_how_to_send_data() {
    let ui = ui(None).await;
    let experiment_id = ui.store.create_experiment(NewExperiment { name: "fresh".into(), artifact_location: None, tags: vec![] }).await.unwrap();
    let body = ui.page(&format!("/ui/experiments/{experiment_id}/traces"), &["No traces yet", "otlphttp", "x-mlflow-experiment-id", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://ui.test/v1/traces", "mlflow.set_tracking_uri(&quot;http://ui.test&quot;)"]).await;
    assert!(body.contains(&format!("x-mlflow-experiment-id: &quot;{experiment_id}&quot;")));
    ui.page(&format!("/ui/experiments/{experiment_id}/sessions"), &["No sessions yet", "session.id"]).await;
    ui.page(&format!("/ui/experiments/{experiment_id}/graph"), &["No calls between services", "OTEL_SERVICE_NAME"]).await;
    ui.page(&format!("/ui/experiments/{experiment_id}/runs"), &["No runs yet", "mlflow.start_run"]).await;
}

#[tokio::test]
async fn experiment_management_by_forms() {
    let ui = ui(None).await;
    let (status, headers, _) = ui.request(Method::POST, "/ui/experiments", Some("name=demo+one"), &[("origin", "http://ui.test")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let id: i64 = headers["location"].trim_start_matches("/ui/experiments/").trim_end_matches("/traces").parse().unwrap();
    let (status, headers, _) = ui.request(Method::POST, &format!("/ui/experiments/{id}/rename"), Some("name=demo+two"), &[("sec-fetch-site", "same-origin")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{headers:?}");
    ui.page("/?q=demo", &["demo two"]).await;
    let (status, _, _) = ui.request(Method::POST, &format!("/ui/experiments/{id}/delete"), Some(""), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let active = ui.page("/?q=demo", &[]).await;
    assert!(!active.contains("demo two"));
    ui.page("/?q=demo&view=deleted", &["demo two", "Restore"]).await;
    ui.request(Method::POST, &format!("/ui/experiments/{id}/restore"), Some(""), &[]).await;
    ui.page("/?q=demo", &["demo two"]).await;
    // Duplicate names come back as a message, not an error page.
    let (_, headers, _) = ui.request(Method::POST, "/ui/experiments", Some("name=demo+two"), &[]).await;
    assert!(headers["location"].starts_with("/?error="), "{headers:?}");
    // Another site's form cannot post here.
    let (status, _, _) = ui.request(Method::POST, &format!("/ui/experiments/{id}/delete"), Some(""), &[("sec-fetch-site", "cross-site")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = ui.request(Method::POST, &format!("/ui/experiments/{id}/delete"), Some(""), &[("origin", "http://evil.example")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn served_under_a_static_prefix_next_to_the_api() {
    let ui = ui(Some("/mlflow")).await;
    let (experiment_id, _, _) = seed(&ui).await;
    let home = ui.page("/mlflow/", &["llamastack-traces", "href=\"/mlflow/ui/static/app.css?v=", "data-base=\"/mlflow\""]).await;
    assert!(home.contains(&format!("href=\"/mlflow/ui/experiments/{experiment_id}\"")));
    ui.page("/mlflow", &["llamastack-traces"]).await;
    ui.page(&format!("/mlflow/ui/experiments/{experiment_id}/traces"), &["href=\"/mlflow/ui/traces/"]).await;
    let (status, headers, js) = ui.request(Method::GET, "/mlflow/ui/static/app.js", None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["cache-control"].contains("immutable") && js.contains("initWaterfall"));
    // The API still answers beside the UI.
    let (status, _, version) = ui.request(Method::GET, "/mlflow/version", None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{version}");
    let (status, _, _) = ui.request(Method::GET, "/ui/experiments/0/traces", None, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing outside the prefix");
}

#[tokio::test]
async fn large_trace_skeleton_is_compact_and_gzipped() {
    let ui = ui(None).await;
    let experiment_id = ui.store.create_experiment(NewExperiment { name: "big".into(), artifact_location: None, tags: vec![] }).await.unwrap();
    let start = now_ns();
    let payload = json!({"messages": [{"role": "user", "content": "x".repeat(2000)}]});
    let spans: Vec<_> = (0..3000u32)
        .map(|i| {
            let mut s = span(9, 0, None, &format!("step {i}"), start + u64::from(i) * 1000, 1, "svc", attrs(json!({"mlflow.spanInputs": payload})));
            s.span_id = (u64::from(i) + 1).to_be_bytes();
            s.parent_span_id = (i > 0).then(|| 1u64.to_be_bytes());
            prepare_span(s)
        })
        .collect();
    ui.store.ingest_spans(SpanBatch { experiment_id, spans, resource_tags: BTreeMap::new(), run_id: None }).await.unwrap();
    let trace = trace_id(9);
    let (status, headers, _) = ui.request(Method::GET, &format!("/ui/traces/{trace}/tree"), None, &[("accept-encoding", "gzip, br")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-encoding"], "gzip");
    let (_, _, plain) = ui.request(Method::GET, &format!("/ui/traces/{trace}/tree"), None, &[]).await;
    assert!(plain.len() < 3000 * 80, "skeleton carries no payloads: {} bytes", plain.len());
    let parsed: Value = serde_json::from_str(&plain).unwrap();
    assert_eq!(parsed["spans"].as_array().unwrap().len(), 3000);
}

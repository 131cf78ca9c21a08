//! Trace store conformance on SQLite and PostgreSQL: incremental assembly, roll-ups, search,
//! tags, deletion, StartTraceV3 merging and assessments.

#[macro_use]
mod common;

use std::collections::BTreeMap;

use rivulet_core::search::{parse_trace_filter, parse_trace_order_by};
use rivulet_core::store::{TraceDeletion, TraceSearch, TraceStore, TrackingStore};
use rivulet_core::traces::model::{Assessment, SpanBatch, TraceInfo, TraceState};
use rivulet_core::traces::prepare::prepare_span;
use rivulet_core::traces::{Span, StatusCode};
use rivulet_core::tracking::NewExperiment;
use rivulet_core::ErrorCode;
use rivulet_store::{Pools, Store, StoreSettings, StoreUri};
use serde_json::{json, Map, Value};

async fn open(uri: &StoreUri) -> Store {
    Store::open(uri, StoreSettings::default()).await.expect("open store")
}

async fn experiment(store: &Store, name: &str) -> i64 {
    store.create_experiment(NewExperiment { name: name.into(), artifact_location: None, tags: vec![] }).await.unwrap()
}

fn span(trace: u8, id: u8, parent: Option<u8>, start_ms: u64, end_ms: u64, attributes: Value) -> Span {
    let attributes: Map<String, Value> = attributes.as_object().cloned().unwrap_or_default();
    Span {
        trace_id: [trace; 16],
        span_id: [id; 8],
        parent_span_id: parent.map(|p| [p; 8]),
        name: format!("span-{id}"),
        start_time_unix_nano: 1_764_000_000_000_000_000 + start_ms * 1_000_000,
        end_time_unix_nano: 1_764_000_000_000_000_000 + end_ms * 1_000_000,
        status_code: StatusCode::Ok,
        status_message: String::new(),
        attributes,
        events: vec![],
        links: vec![],
        service_name: Some("svc".into()),
    }
}

async fn ingest(store: &Store, experiment_id: i64, spans: Vec<Span>) {
    let batch = SpanBatch {
        experiment_id,
        spans: spans.into_iter().map(prepare_span).collect(),
        resource_tags: BTreeMap::new(),
        run_id: None,
    };
    store.ingest_spans(batch).await.unwrap();
}

fn trace_id(trace: u8) -> String {
    format!("tr-{}", format!("{trace:02x}").repeat(16))
}

async fn search(store: &Store, experiment_id: i64, filter: &str, order_by: &[&str]) -> Vec<String> {
    let search = TraceSearch {
        experiment_ids: vec![experiment_id],
        filter: parse_trace_filter(filter).unwrap(),
        order_by: parse_trace_order_by(&order_by.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap(),
        max_results: 100,
        offset: 0,
    };
    store.search_traces(&search).await.unwrap().items.into_iter().map(|t| t.trace_id).collect()
}

async fn incremental_assembly_and_token_rollups(store: Store) {
    let id = experiment(&store, "assembly").await;
    let llm = |span_id, parent, tokens: i64| {
        span(1, span_id, parent, 20, 30, json!({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m", "gen_ai.usage.input_tokens": tokens, "gen_ai.usage.output_tokens": tokens}))
    };
    ingest(&store, id, vec![llm(3, Some(2), 10)]).await;
    let info = store.get_trace_info(&trace_id(1)).await.unwrap();
    assert_eq!(info.state, TraceState::InProgress);
    assert_eq!(info.trace_metadata.get("mlflow.trace.tokenUsage").map(String::as_str), Some("{\"input_tokens\": 10, \"output_tokens\": 10, \"total_tokens\": 20}"));
    ingest(&store, id, vec![llm(4, Some(1), 5), span(1, 2, Some(1), 15, 35, json!({}))]).await;
    ingest(&store, id, vec![span(1, 1, None, 10, 40, json!({"session.id": "s-1", "user.id": "u-1"}))]).await;
    // A retry of an already stored LLM span must not count its tokens twice.
    ingest(&store, id, vec![llm(3, Some(2), 10)]).await;
    let info = store.get_trace_info(&trace_id(1)).await.unwrap();
    assert_eq!(info.state, TraceState::Ok);
    assert_eq!((info.request_time_ms, info.execution_duration_ms), (1_764_000_000_010, Some(30)));
    assert_eq!(info.span_count, Some(4));
    assert_eq!(info.session_id.as_deref(), Some("s-1"));
    assert_eq!(info.trace_metadata.get("mlflow.trace.user").map(String::as_str), Some("u-1"));
    let usage: Value = serde_json::from_str(&info.trace_metadata["mlflow.trace.tokenUsage"]).unwrap();
    assert_eq!(usage["total_tokens"], 30);
    let spans = store.get_spans(&trace_id(1)).await.unwrap();
    assert_eq!(spans.len(), 4);
    assert!(spans[0].parent_span_id.is_none());
}

async fn search_filters_and_order(store: Store) {
    let id = experiment(&store, "search").await;
    ingest(&store, id, vec![span(1, 1, None, 0, 100, json!({"gen_ai.request.model": "gpt-4o", "session.id": "a"}))]).await;
    let mut failing = span(2, 1, None, 50, 60, json!({"openinference.span.kind": "TOOL"}));
    failing.status_code = StatusCode::Error;
    ingest(&store, id, vec![failing]).await;
    ingest(&store, id, vec![span(3, 1, None, 200, 500, json!({"input.value": "hello world"})), span(3, 2, Some(1), 210, 220, json!({"openinference.span.kind": "RETRIEVER"}))]).await;
    let other = experiment(&store, "other").await;
    ingest(&store, other, vec![span(4, 1, None, 0, 10, json!({}))]).await;

    assert_eq!(search(&store, id, "", &[]).await, vec![trace_id(3), trace_id(2), trace_id(1)], "newest first");
    assert_eq!(search(&store, id, "status = 'ERROR'", &[]).await, vec![trace_id(2)]);
    assert_eq!(search(&store, id, "trace.status IN ('OK', 'ERROR')", &["timestamp ASC"]).await, vec![trace_id(1), trace_id(2), trace_id(3)]);
    assert_eq!(search(&store, id, "execution_time_ms > 150", &[]).await, vec![trace_id(3)]);
    assert_eq!(search(&store, id, "request_metadata.`mlflow.trace.session` = 'a'", &[]).await, vec![trace_id(1)]);
    assert_eq!(search(&store, id, "tags.`service.name` = 'svc'", &[]).await.len(), 0, "no resource tags were sent");
    assert_eq!(search(&store, id, "span.type = 'RETRIEVER'", &[]).await, vec![trace_id(3)]);
    assert_eq!(search(&store, id, "span.type = 'RETRIEVER' AND span.name = 'span-1'", &[]).await, Vec::<String>::new(), "span clauses match one span");
    assert_eq!(search(&store, id, "span.attributes.`gen_ai.request.model` = 'gpt-4o'", &[]).await, vec![trace_id(1)]);
    assert_eq!(search(&store, id, "span.attributes.`gen_ai.request.model` = 'gpt-4'", &[]).await, Vec::<String>::new());
    assert_eq!(search(&store, id, "span.attributes.gen_ai.request.model LIKE '%gpt-4o%'", &[]).await, vec![trace_id(1)]);
    assert_eq!(search(&store, id, "span.attributes.gen_ai.request.model ILIKE '%GPT-4O%'", &[]).await, vec![trace_id(1)]);
    assert_eq!(search(&store, id, "span.attributes.gen_ai.request.model RLIKE 'gpt-4o'", &[]).await, vec![trace_id(1)]);
    assert_eq!(search(&store, id, "span.attributes.gen_ai.request.model RLIKE '^gpt-[0-9]o'", &[]).await, vec![trace_id(1)]);
    assert_eq!(search(&store, id, "span.attributes.gen_ai.request.model RLIKE '^pt'", &[]).await, Vec::<String>::new());
    assert_eq!(search(&store, id, "text ILIKE '%HELLO%'", &[]).await, vec![trace_id(3)]);
    assert_eq!(search(&store, id, "name = 'span-1' AND timestamp_ms < 1764000000100", &[]).await, vec![trace_id(2), trace_id(1)]);
    assert_eq!(search(&store, id, "", &["execution_time_ms DESC"]).await[0], trace_id(3));

    let mut page = TraceSearch { experiment_ids: vec![id], max_results: 2, ..Default::default() };
    let first = store.search_traces(&page).await.unwrap();
    assert_eq!(first.items.len(), 2);
    page.offset = rivulet_core::page::decode_offset_token(first.next_page_token.as_deref()).unwrap();
    let second = store.search_traces(&page).await.unwrap();
    assert_eq!((second.items.len(), second.next_page_token), (1, None));
}

async fn tags_delete_and_links(store: Store) {
    let id = experiment(&store, "tags").await;
    for trace in 1..=4u8 {
        ingest(&store, id, vec![span(trace, 1, None, u64::from(trace) * 10, u64::from(trace) * 10 + 5, json!({}))]).await;
    }
    store.set_trace_tag(&trace_id(1), "reviewed", "yes").await.unwrap();
    store.set_trace_tag(&trace_id(1), "mlflow.traceName", "renamed").await.unwrap();
    let info = store.get_trace_info(&trace_id(1)).await.unwrap();
    assert_eq!(info.tags.get("reviewed").map(String::as_str), Some("yes"));
    assert_eq!(info.name.as_deref(), Some("renamed"));
    assert_eq!(store.set_trace_tag(&trace_id(1), "mlflow.trace.spansLocation", "x").await.unwrap_err().code, ErrorCode::InvalidParameterValue);
    assert_eq!(store.set_trace_tag("tr-nope", "a", "b").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    store.delete_trace_tag(&trace_id(1), "reviewed").await.unwrap();
    assert_eq!(store.delete_trace_tag(&trace_id(1), "reviewed").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);

    let run = rivulet_core::tracking::validation::prepare_new_run(id, None, Some("r".into()), Some(1), vec![], rivulet_core::tracking::validation::LongValues::Truncate).unwrap();
    let run_id = store.create_run(run).await.unwrap().info.run_id;
    store.link_traces_to_run(&[trace_id(2)], &run_id).await.unwrap();
    assert_eq!(search(&store, id, &format!("run_id = '{run_id}'"), &[]).await, vec![trace_id(2)]);

    assert_eq!(store.delete_traces(id, TraceDeletion::Ids(vec![trace_id(4), "tr-unknown".into()])).await.unwrap(), 1);
    let deleted = store.delete_traces(id, TraceDeletion::OlderThan { max_timestamp_ms: 1_764_000_000_030, max_traces: Some(1) }).await.unwrap();
    assert_eq!(deleted, 1);
    assert_eq!(search(&store, id, "", &[]).await, vec![trace_id(3), trace_id(2)], "the oldest went first");
    assert_eq!(store.get_trace_info(&trace_id(1)).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert!(store.get_spans(&trace_id(1)).await.unwrap().is_empty());
}

async fn start_trace_merges_with_spans(store: Store) {
    let id = experiment(&store, "start").await;
    ingest(&store, id, vec![span(1, 2, Some(1), 20, 30, json!({}))]).await;
    let mut metadata = BTreeMap::new();
    metadata.insert("mlflow.trace.session".to_string(), "sess".to_string());
    metadata.insert("mlflow.trace.tokenUsage".to_string(), "{\"input_tokens\": 3, \"output_tokens\": 4, \"total_tokens\": 7}".to_string());
    metadata.insert("mlflow.user".to_string(), "root".to_string());
    let mut tags = BTreeMap::new();
    tags.insert("mlflow.traceName".to_string(), "agent".to_string());
    tags.insert("mine".to_string(), "v".to_string());
    let info = TraceInfo {
        trace_id: trace_id(1),
        experiment_id: id,
        client_request_id: Some("client-1".into()),
        request_time_ms: 1_764_000_000_010,
        execution_duration_ms: Some(40),
        state: TraceState::Ok,
        request_preview: Some("question".into()),
        response_preview: Some("answer".into()),
        trace_metadata: metadata,
        tags,
        assessments: vec![],
        name: None,
        session_id: None,
        span_count: None,
    };
    let stored = store.start_trace(info.clone()).await.unwrap();
    assert_eq!(stored.tags.get("mlflow.trace.spansLocation").map(String::as_str), Some("TRACKING_STORE"));
    assert_eq!(stored.state, TraceState::Ok);
    assert_eq!(stored.client_request_id.as_deref(), Some("client-1"));
    assert_eq!(stored.name.as_deref(), Some("agent"));
    assert_eq!(stored.trace_metadata.get("mlflow.trace.session").map(String::as_str), Some("sess"));
    assert_eq!(stored.trace_metadata.get("mlflow.trace.infoFinalized").map(String::as_str), Some("true"));
    assert_eq!(stored.tags.get("mine").map(String::as_str), Some("v"));
    assert!(stored.tags.contains_key("mlflow.artifactLocation"));
    // The root arriving after finalization keeps the client's summary.
    ingest(&store, id, vec![span(1, 1, None, 5, 900, json!({"input.value": "other"}))]).await;
    let after = store.get_trace_info(&trace_id(1)).await.unwrap();
    assert_eq!((after.request_time_ms, after.execution_duration_ms), (1_764_000_000_010, Some(40)));
    assert_eq!(after.request_preview.as_deref(), Some("question"));
    assert_eq!(after.span_count, Some(2));

    let deleted = experiment(&store, "deleted").await;
    // The writer has seen the experiment active just before its deletion, and still refuses
    // spans right after it.
    ingest(&store, deleted, vec![span(7, 1, None, 0, 10, json!({}))]).await;
    store.delete_experiment(deleted).await.unwrap();
    let late = SpanBatch { experiment_id: deleted, spans: vec![prepare_span(span(8, 1, None, 0, 10, json!({})))], resource_tags: BTreeMap::new(), run_id: None };
    assert_eq!(store.ingest_spans(late).await.unwrap_err().code, ErrorCode::InvalidParameterValue, "spans after the deletion are refused");
    assert!(store.get_trace_info(&trace_id(8)).await.is_err(), "nothing of the refused batch is stored");
    let mut refused = info.clone();
    refused.trace_id = trace_id(9);
    refused.experiment_id = deleted;
    assert_eq!(store.start_trace(refused).await.unwrap_err().code, ErrorCode::InvalidParameterValue);
}

async fn assessments_lifecycle(store: Store) {
    let id = experiment(&store, "assessments").await;
    ingest(&store, id, vec![span(1, 1, None, 0, 10, json!({}))]).await;
    let feedback = Assessment {
        assessment_id: String::new(),
        trace_id: trace_id(1),
        name: "correct".into(),
        kind: "feedback".into(),
        value: "true".into(),
        error: None,
        created_ms: 0,
        last_updated_ms: 0,
        source_type: "HUMAN".into(),
        source_id: Some("alice".into()),
        run_id: None,
        span_id: None,
        rationale: Some("looks right".into()),
        overrides: None,
        valid: true,
        metadata: BTreeMap::new(),
    };
    let created = store.create_assessment(feedback.clone()).await.unwrap();
    assert!(created.assessment_id.starts_with("a-"));
    assert_eq!(search(&store, id, "feedback.correct = 'true'", &[]).await, vec![trace_id(1)]);
    let replacement = store
        .create_assessment(Assessment { value: "false".into(), overrides: Some(created.assessment_id.clone()), ..feedback.clone() })
        .await
        .unwrap();
    assert!(!store.get_assessment(&trace_id(1), &created.assessment_id).await.unwrap().valid);
    assert_eq!(search(&store, id, "feedback.correct = 'true'", &[]).await, Vec::<String>::new(), "only valid assessments count");
    let updated = store.update_assessment(Assessment { rationale: Some("changed".into()), ..replacement.clone() }).await.unwrap();
    assert_eq!(updated.rationale.as_deref(), Some("changed"));
    let info = store.get_trace_info(&trace_id(1)).await.unwrap();
    assert_eq!(info.assessments.len(), 2);
    store.delete_assessment(&trace_id(1), &replacement.assessment_id).await.unwrap();
    store.delete_assessment(&trace_id(1), &replacement.assessment_id).await.unwrap();
    assert!(store.get_assessment(&trace_id(1), &created.assessment_id).await.unwrap().valid, "deleting an override revalidates");
}

async fn concurrent_ingest_loses_nothing(store: Store) {
    let id = experiment(&store, "concurrent").await;
    let mut tasks = Vec::new();
    for worker in 0..8u8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for trace in 0..10u8 {
                let t = worker * 10 + trace + 1;
                ingest(&store, id, vec![span(t, 1, None, 0, 10, json!({})), span(t, 2, Some(1), 1, 5, json!({}))]).await;
            }
        }));
    }
    // Other writes meanwhile (on SQLite, on the other writing connection) neither fail nor wait
    // for the ingest to end.
    let writes = {
        let store = store.clone();
        tokio::spawn(async move {
            for n in 0..10 {
                experiment(&store, &format!("written-during-ingest-{n}")).await;
            }
        })
    };
    for task in tasks {
        task.await.unwrap();
    }
    writes.await.unwrap();
    let all = TraceSearch { experiment_ids: vec![id], max_results: 500, ..Default::default() };
    let traces = store.search_traces(&all).await.unwrap().items;
    assert_eq!(traces.len(), 80);
    assert!(traces.iter().all(|t| t.span_count == Some(2) && t.state == TraceState::Ok));
}

async fn service_graph_edges(store: Store) {
    let id = experiment(&store, "graph").await;
    let with_service = |mut span: Span, service: &str| {
        span.service_name = Some(service.to_string());
        span
    };
    for trace in 1..=3u8 {
        let mut call = with_service(span(trace, 2, Some(1), 10, 10 + u64::from(trace) * 10, json!({})), "llama-stack");
        if trace == 3 {
            call.status_code = StatusCode::Error;
        }
        ingest(&store, id, vec![with_service(span(trace, 1, None, 0, 100, json!({})), "gateway"), call]).await;
        // A call inside one service is not an edge, nor is one from a span without a service.
        ingest(&store, id, vec![with_service(span(trace, 3, Some(2), 12, 14, json!({})), "llama-stack")]).await;
        ingest(&store, id, vec![Span { service_name: None, ..span(trace, 4, Some(2), 12, 13, json!({})) }]).await;
    }
    // The child arrives before its root, so the trace is filed under the child's service and
    // the root is the span whose service differs.
    ingest(&store, id, vec![with_service(span(4, 2, Some(1), 10, 50, json!({})), "llama-stack")]).await;
    ingest(&store, id, vec![with_service(span(4, 1, None, 0, 100, json!({})), "gateway")]).await;
    let graph = store.service_graph(id, 1_764_000_000_000, 1_764_000_001_000).await.unwrap();
    let services: Vec<&str> = graph.nodes.iter().map(|n| n.service_name.as_str()).collect();
    assert_eq!(services, ["gateway", "llama-stack"], "a span without a service is no node");
    let stack = graph.nodes.iter().find(|n| n.service_name == "llama-stack").unwrap();
    assert_eq!((stack.spans, stack.errors), (7, 1));
    assert_eq!(graph.nodes[0].spans, 4);
    assert_eq!(graph.edges.len(), 1);
    let edge = &graph.edges[0];
    assert_eq!((edge.parent_service.as_str(), edge.child_service.as_str(), edge.calls, edge.errors), ("gateway", "llama-stack", 4, 1));
    assert_eq!((edge.p50_ms, edge.p95_ms), (30.0, 40.0));
    let traces = store.traces_with_service_call(id, "gateway", "llama-stack", 1_764_000_000_000, 1_764_000_001_000, 10).await.unwrap();
    assert_eq!(traces.len(), 4);
    let empty = store.service_graph(id, 0, 1_000).await.unwrap();
    assert!(empty.nodes.is_empty() && empty.edges.is_empty());
}

/// A span repeated within one batch (a retried export merged by the writer) is one span, in the
/// table and in the trace's count; a later copy of a known span changes neither.
async fn repeated_spans_count_once(store: Store) {
    let id = experiment(&store, "repeats").await;
    let root = || span(9, 1, None, 0, 10, json!({}));
    ingest(&store, id, vec![root(), span(9, 2, Some(1), 1, 2, json!({})), root()]).await;
    assert_eq!(store.get_trace_info(&trace_id(9)).await.unwrap().span_count, Some(2));
    ingest(&store, id, vec![span(9, 2, Some(1), 1, 2, json!({})), span(9, 3, Some(1), 2, 3, json!({}))]).await;
    assert_eq!(store.get_trace_info(&trace_id(9)).await.unwrap().span_count, Some(3));
}

/// One export carrying many traces, each with its resource tags: on PostgreSQL its traces are
/// split across the writers, and the request is answered only when every part is stored.
async fn one_batch_of_many_traces_is_stored_whole(store: Store) {
    let id = experiment(&store, "many").await;
    let mut spans = Vec::new();
    let mut resource_tags = BTreeMap::new();
    for trace in 1..=40u8 {
        spans.push(prepare_span(span(trace, 1, None, 0, 10, json!({}))));
        spans.push(prepare_span(span(trace, 2, Some(1), 1, 5, json!({}))));
        resource_tags.insert(trace_id(trace), vec![("deployment.environment".to_string(), format!("env-{trace}"))]);
    }
    store.ingest_spans(SpanBatch { experiment_id: id, spans, resource_tags, run_id: None }).await.unwrap();
    for trace in 1..=40u8 {
        let info = store.get_trace_info(&trace_id(trace)).await.unwrap();
        assert_eq!((info.span_count, info.state), (Some(2), TraceState::Ok), "trace {trace}");
        assert_eq!(info.tags.get("deployment.environment").map(String::as_str), Some(format!("env-{trace}").as_str()), "trace {trace}");
    }
}

conformance!(
    one_batch_of_many_traces_is_stored_whole,
    repeated_spans_count_once,
    incremental_assembly_and_token_rollups,
    search_filters_and_order,
    tags_delete_and_links,
    start_trace_merges_with_spans,
    assessments_lifecycle,
    concurrent_ingest_loses_nothing,
    service_graph_edges,
);

/// Ingest records a service per trace and a row only for each span whose service is not the
/// trace's; traces stored before that rule (a row for every span, no trace service) still
/// give the same graph.
#[tokio::test]
async fn span_services_are_stored_only_where_they_differ_from_the_trace() {
    let database = common::fresh_sqlite();
    let store = open(&database.uri).await;
    let id = experiment(&store, "services").await;
    let from = |service: Option<&str>, span: Span| Span { service_name: service.map(str::to_string), ..span };
    for trace in [1, 2] {
        ingest(
            &store,
            id,
            vec![
                from(Some("gateway"), span(trace, 1, None, 0, 100, json!({}))),
                from(Some("gateway"), span(trace, 2, Some(1), 5, 50, json!({}))),
                from(Some("llama-stack"), span(trace, 3, Some(2), 10, 40, json!({}))),
                from(None, span(trace, 4, Some(3), 11, 12, json!({}))),
            ],
        )
        .await;
    }
    let url = format!("sqlite://{}", database.path.display());
    let mut connection = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url).await.unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT span_id, service_name FROM rivulet_span_services WHERE trace_id = ? ORDER BY span_id")
        .bind(trace_id(1))
        .fetch_all(&mut connection)
        .await
        .unwrap();
    assert_eq!(rows, [("0303030303030303".to_string(), "llama-stack".to_string()), ("0404040404040404".to_string(), String::new())]);
    // Trace 2 as ingest stored it before trace services: every span with a row, none per trace.
    for statement in [
        "UPDATE rivulet_trace_rollups SET service_name = NULL WHERE request_id = ?1",
        "DELETE FROM rivulet_span_services WHERE trace_id = ?1",
        "INSERT INTO rivulet_span_services (trace_id, span_id, service_name) \
         SELECT trace_id, span_id, CASE WHEN span_id = '0303030303030303' THEN 'llama-stack' ELSE 'gateway' END \
         FROM spans WHERE trace_id = ?1 AND span_id <> '0404040404040404'",
    ] {
        sqlx::query(statement).bind(trace_id(2)).execute(&mut connection).await.unwrap();
    }
    // A later span of the old trace gets its own row, since the trace has no service to lend it.
    ingest(&store, id, vec![from(Some("gateway"), span(2, 5, Some(1), 60, 70, json!({})))]).await;
    let (late,): (String,) = sqlx::query_as("SELECT service_name FROM rivulet_span_services WHERE trace_id = ? AND span_id = '0505050505050505'")
        .bind(trace_id(2))
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(late, "gateway");
    let graph = store.service_graph(id, 1_764_000_000_000, 1_764_000_001_000).await.unwrap();
    let nodes: Vec<(&str, u64)> = graph.nodes.iter().map(|n| (n.service_name.as_str(), n.spans)).collect();
    assert_eq!(nodes, [("gateway", 5), ("llama-stack", 2)]);
    let edges: Vec<(&str, &str, u64)> = graph.edges.iter().map(|e| (e.parent_service.as_str(), e.child_service.as_str(), e.calls)).collect();
    assert_eq!(edges, [("gateway", "llama-stack", 2)]);
    // Without its rollup row (ingest never leaves a trace so, but the graph must not rely on
    // it), a trace's own service rows still place its spans.
    sqlx::query("DELETE FROM rivulet_trace_rollups WHERE request_id = ?").bind(trace_id(2)).execute(&mut connection).await.unwrap();
    let again = store.service_graph(id, 1_764_000_000_000, 1_764_000_001_000).await.unwrap();
    assert_eq!((again.nodes, again.edges), (graph.nodes, graph.edges));
}

/// A new SQLite store, an experiment named `name` in it holding one trace, and its id.
async fn sqlite_store_with_a_trace(name: &str) -> (common::FreshSqlite, Store, i64) {
    let database = common::fresh_sqlite();
    let store = open(&database.uri).await;
    let id = experiment(&store, name).await;
    ingest(&store, id, vec![span(1, 1, None, 0, 10, json!({}))]).await;
    (database, store, id)
}

/// A background checkpoint only copies pages into the kernel's cache of the database file;
/// the store then asks the kernel to start writing them out (checkpoint.rs), and counts it.
/// A store in memory checkpoints nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_checkpoints_start_the_database_files_write_back() {
    let (_database, store, _id) = sqlite_store_with_a_trace("write-back").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while store.sqlite_write_backs() == Some(0) {
        assert!(std::time::Instant::now() < deadline, "no write-back started after the commit's checkpoint");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(store.sqlite_write_backs().is_some_and(|started| started > 0));
    let in_memory = open(&StoreUri::parse("sqlite:///:memory:").unwrap()).await;
    assert_eq!(in_memory.sqlite_write_backs(), None);
}

/// After a failed sync of the WAL (a real one: the WAL's path leads to a device that cannot be
/// synced) no checkpoint may start the WAL over, since it holds the only copy of pages the disk
/// may have lost: the background checkpoints stop and the writer's own automatic one is off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sync_stops_every_sqlite_checkpoint() {
    let (database, store, id) = sqlite_store_with_a_trace("failed-sync").await;
    let Pools::Sqlite { write, ingest, .. } = store.pools() else { unreachable!() };
    for writer in [write, ingest] {
        let automatic: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint").fetch_one(writer).await.unwrap();
        assert!(automatic > 0, "the writers' automatic checkpoint is a backstop while writes are durable");
    }
    let wal = database.path.with_extension("db-wal");
    std::fs::remove_file(&wal).unwrap();
    std::os::unix::fs::symlink("/dev/null", &wal).unwrap();
    let batch = SpanBatch { experiment_id: id, spans: vec![prepare_span(span(2, 1, None, 0, 10, json!({})))], resource_tags: BTreeMap::new(), run_id: None };
    assert_eq!(store.ingest_spans(batch).await.unwrap_err().code, ErrorCode::TemporarilyUnavailable);
    assert!(store.lasting_failure().is_some());
    // The background notices within its idle tick (1 s).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    for writer in [write, ingest] {
        loop {
            let automatic: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint").fetch_one(writer).await.unwrap();
            if automatic == 0 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "a writer's automatic checkpoint is still {automatic} pages");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// A full disk (here SQLite's page limit, which answers the same SQLITE_FULL) refuses a batch
/// as retryable, and the retry is stored once there is room.
#[tokio::test]
async fn a_full_sqlite_database_refuses_spans_as_retryable() {
    let (_database, store, id) = sqlite_store_with_a_trace("full").await;
    // The page limit belongs to a connection: the span writer's.
    let Pools::Sqlite { ingest: write, .. } = store.pools() else { unreachable!() };
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count").fetch_one(write).await.unwrap();
    sqlx::query(&format!("PRAGMA max_page_count = {pages}")).execute(write).await.unwrap();
    let big = || SpanBatch {
        experiment_id: id,
        spans: (10..60).map(|trace| prepare_span(span(trace, 1, None, 0, 10, json!({"input.value": "x".repeat(2000)})))).collect(),
        resource_tags: BTreeMap::new(),
        run_id: None,
    };
    let error = store.ingest_spans(big()).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::TemporarilyUnavailable, "exporters keep and retry a batch answered 503, and drop one answered 500");
    assert!(error.message.contains("disk is full"), "{}", error.message);
    assert!(store.get_trace_info(&trace_id(10)).await.is_err(), "nothing of the refused batch is stored");
    assert_eq!(store.lasting_failure(), None, "freeing space is enough, no restart is needed");
    sqlx::query("PRAGMA max_page_count = 1073741823").execute(write).await.unwrap();
    store.ingest_spans(big()).await.expect("the retried batch is stored once there is room");
    assert!(store.get_trace_info(&trace_id(59)).await.is_ok());
}

/// The span writer's connection checks no foreign keys (the statement journals they force took
/// 12 % of its time), so a group checks the one reference its own rows do not provide: a new
/// trace's experiment, here deleted by another process after the writer last saw it.
#[tokio::test]
async fn spans_for_an_experiment_removed_from_the_database_are_refused() {
    let (_database, store, id) = sqlite_store_with_a_trace("removed").await;
    let Pools::Sqlite { write, ingest, .. } = store.pools() else { unreachable!() };
    let checks: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(ingest).await.unwrap();
    assert_eq!(checks, 0, "the span writer's connection runs without foreign-key checks");
    sqlx::query("DELETE FROM experiments WHERE experiment_id = $1").bind(id).execute(write).await.unwrap();
    let batch = SpanBatch { experiment_id: id, spans: vec![prepare_span(span(2, 1, None, 0, 10, json!({})))], resource_tags: BTreeMap::new(), run_id: None };
    let error = store.ingest_spans(batch).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::ResourceDoesNotExist, "{}", error.message);
    assert!(error.message.contains(&format!("id={id}")), "{}", error.message);
    let orphans: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM trace_info").fetch_one(write).await.unwrap();
    assert_eq!(orphans, 0, "nothing of the refused batch is stored, and the deletion cascaded");
}

/// Span ingest leaves checkpoints to a background connection: shortly after a batch commits,
/// every WAL frame has been copied into the database file without the writer doing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_wal_is_checkpointed_in_the_background() {
    let database = common::fresh_sqlite();
    let store = open(&database.uri).await;
    let id = experiment(&store, "checkpoints").await;
    for trace in 1..=20 {
        ingest(&store, id, vec![span(trace, 1, None, 0, 10, json!({"input.value": "x".repeat(5_000)}))]).await;
    }
    // Read the WAL index directly (any SQL probe would checkpoint or change it): the header's
    // mxFrame (frames in the WAL) at byte 16 and the checkpoint info's nBackfill (frames copied
    // back) at byte 96, both native-endian u32.
    let shm = database.path.with_extension("db-shm");
    let frames_pending = || {
        let index = std::fs::read(&shm).expect("reading the WAL index");
        let word = |at: usize| u32::from_ne_bytes(index[at..at + 4].try_into().unwrap());
        (word(16), word(96))
    };
    let (frames, _) = frames_pending();
    assert!(frames > 20, "ingest wrote through the WAL ({frames} frames)");
    let mut last = frames_pending();
    for _ in 0..100 {
        if last.0 == last.1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        last = frames_pending();
    }
    assert_eq!(last.1, last.0, "WAL frames copied back / in the WAL");
}

/// Under ingest that never pauses, the writer begins each group before the background has
/// copied the last one back, so the background alone never lets SQLite start the WAL over
/// (with the writer's restart and its automatic backstop both off, this test sees one restart
/// and a WAL of 5,446 frames). With them, the WAL starts over again and again and stays within
/// a few groups of `wal_restart_pages` while many times its length is written. At this scale
/// either mechanism keeps it so; which one costs less is for the ingest benchmark to show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustained_ingest_starts_the_sqlite_wal_over() {
    const RESTART_PAGES: u32 = 64;
    let database = common::fresh_sqlite();
    let settings = StoreSettings { wal_restart_pages: RESTART_PAGES, ..StoreSettings::default() };
    let store = Store::open(&database.uri, settings).await.expect("open store");
    let id = experiment(&store, "restarts").await;
    // The WAL index header's mxFrame (frames in the WAL), as in the test above.
    let shm = database.path.with_extension("db-shm");
    let frames_in_wal = move || std::fs::read(&shm).ok().filter(|index| index.len() >= 20).map(|index| u32::from_ne_bytes(index[16..20].try_into().unwrap()));
    let writers: Vec<_> = (0..8u8)
        .map(|worker| {
            let store = store.clone();
            tokio::spawn(async move {
                for trace in 0..40u8 {
                    let spans = (1..=5u8)
                        .map(|n| {
                            let mut span = span(0, n, (n > 1).then_some(1), 0, 10, json!({"input.value": "x".repeat(3_000)}));
                            span.trace_id = [worker, trace, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7];
                            span
                        })
                        .collect();
                    ingest(&store, id, spans).await;
                }
            })
        })
        .collect();
    let (mut longest, mut restarts, mut last) = (0, 0, 0);
    while !writers.iter().all(|writer| writer.is_finished()) {
        if let Some(frames) = frames_in_wal() {
            restarts += usize::from(frames < last);
            longest = longest.max(frames);
            last = frames;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let all = TraceSearch { experiment_ids: vec![id], max_results: 500, ..Default::default() };
    assert_eq!(store.search_traces(&all).await.unwrap().items.len(), 320, "every trace is stored");
    // 1,600 spans of 3 KB wrote several thousand pages; a few groups past the restart point
    // (each group here is at most 8 traces of ~25 pages) is as long as the WAL may get.
    assert!(restarts >= 3, "the WAL started over {restarts} times (longest {longest} frames)");
    assert!(longest <= RESTART_PAGES + 3 * 8 * 40, "the WAL reached {longest} frames");
}

/// PostgreSQL stores span content with lz4 TOAST compression (a session setting of Rivulet's
/// connections), not the default pglz, without changing MLflow's schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_span_content_is_lz4_compressed() {
    let Some(database) = common::fresh_postgres().await else { return };
    let store = open(&database.uri).await;
    let id = experiment(&store, "lz4").await;
    ingest(&store, id, vec![span(1, 1, None, 0, 10, json!({"input.value": "refund policy ".repeat(1_000)}))]).await;
    let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&database.url).await.unwrap();
    let (compression,): (Option<String>,) = sqlx::query_as("SELECT pg_column_compression(content)::text FROM spans")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(compression.as_deref(), Some("lz4"));
    let (column_setting,): (String,) =
        sqlx::query_as("SELECT attcompression::text FROM pg_attribute WHERE attrelid = 'spans'::regclass AND attname = 'content'")
            .fetch_one(&mut connection)
            .await
            .unwrap();
    assert_eq!(column_setting, "", "the column keeps the server default (MLflow's schema)");
    let spans = store.get_spans(&trace_id(1)).await.unwrap();
    assert!(spans[0].content.contains("refund policy refund policy"), "content reads back");
}

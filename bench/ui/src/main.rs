//! Builds the UI benchmark database: one experiment with N (default 1,000,000) traces written
//! with bulk SQL, and one experiment holding a 5,000-span and a 30,000-span trace written through
//! the store's real ingest path (so their span JSON is exactly what OTLP ingest stores).
//!
//! Usage: ui-bench-data <database.db> [traces]   — prints the ids as JSON on stdout.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use rivulet_core::store::{TraceStore, TrackingStore};
use rivulet_core::traces::model::SpanBatch;
use rivulet_core::traces::prepare::prepare_span;
use rivulet_core::traces::{Span, StatusCode};
use rivulet_core::tracking::NewExperiment;
use rivulet_store::{Pools, Store, StoreSettings, StoreUri};
use serde_json::{json, Map, Value};

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Bulk rows for the million-trace experiment: trace_info, its user metadata, and one span per
/// trace naming a model, spread over the last ~28 hours with realistic previews and tokens.
async fn bulk_traces(store: &Store, experiment_id: i64, traces: i64) -> anyhow::Result<()> {
    let Pools::Sqlite { write, .. } = store.pools() else { anyhow::bail!("the generator writes SQLite only") };
    let start = now_ms() - traces * 100;
    let seq = format!("WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < {})", traces - 1);
    let statements = [
        format!(
            "INSERT INTO trace_info (request_id, experiment_id, timestamp_ms, execution_time_ms, status, request_preview, response_preview, \
             trace_name, session_id, input_tokens, output_tokens, total_tokens) {seq} \
             SELECT printf('tr-%032x', i + 1), {experiment_id}, {start} + i * 100, 200 + (i * 37) % 3000, \
             CASE WHEN i % 50 = 0 THEN 'ERROR' ELSE 'OK' END, \
             'User question number ' || i || ': what is the weather in city ' || (i % 977) || ' tomorrow morning?', \
             'The forecast for city ' || (i % 977) || ' is sunny with a high of ' || (10 + i % 20) || ' degrees.', \
             'agent_turn', 'session-' || (i / 8), 100 + i % 50, 20 + i % 30, 120 + i % 50 + i % 30 FROM seq"
        ),
        format!(
            "INSERT INTO trace_request_metadata (key, value, request_id) {seq} \
             SELECT 'mlflow.trace.user', 'user-' || (i % 113), printf('tr-%032x', i + 1) FROM seq"
        ),
        format!(
            "INSERT INTO spans (trace_id, experiment_id, span_id, parent_span_id, name, type, status, start_time_unix_nano, end_time_unix_nano, content, model_name) {seq} \
             SELECT printf('tr-%032x', i + 1), {experiment_id}, '0000000000000001', NULL, 'agent_turn', 'AGENT', 'OK', \
             ({start} + i * 100) * 1000000, ({start} + i * 100 + 200 + (i * 37) % 3000) * 1000000, \
             '{{\"name\": \"agent_turn\", \"attributes\": {{\"mlflow.spanType\": \"\\\"AGENT\\\"\"}}}}', 'llama-3-8b-instruct' FROM seq"
        ),
    ];
    for sql in statements {
        let started = Instant::now();
        sqlx::query(&sql).execute(write).await.with_context(|| sql.chars().take(80).collect::<String>())?;
        eprintln!("  {} rows in {:.1} s: {}", traces, started.elapsed().as_secs_f64(), &sql[..40]);
    }
    sqlx::query("ANALYZE").execute(write).await?;
    Ok(())
}

/// A realistic agent trace of `spans` spans: a root, then steps (CHAIN) each with an LLM call
/// carrying chat messages and token usage and a tool call; nested so depth varies.
fn big_trace(trace_byte: u8, spans: u32) -> Vec<Span> {
    let start = (now_ms() as u64 - 600_000) * 1_000_000;
    let mut trace_id = [0u8; 16];
    trace_id[0] = trace_byte;
    trace_id[15] = 1;
    let id = |n: u32| (u64::from(n) + 1).to_be_bytes();
    let mut out = Vec::with_capacity(spans as usize);
    let mut attributes = Map::new();
    attributes.insert("mlflow.spanType".into(), json!("AGENT"));
    attributes.insert("mlflow.spanInputs".into(), json!({"task": "Plan a week of travel and check weather for every stop"}));
    out.push(span(trace_id, id(0), None, "agent_run", start, start + u64::from(spans) * 2_000_000, attributes));
    let mut step_parent = 0;
    for n in 1..spans {
        let at = start + u64::from(n) * 2_000_000;
        let mut attributes = Map::new();
        let (name, parent) = match n % 4 {
            1 => {
                step_parent = n;
                attributes.insert("mlflow.spanType".into(), json!("CHAIN"));
                (format!("step {}", n / 4), 0)
            }
            2 => {
                attributes.insert("mlflow.spanType".into(), json!("CHAT_MODEL"));
                attributes.insert("mlflow.llm.model".into(), json!("llama-3-8b-instruct"));
                attributes.insert("mlflow.chat.tokenUsage".into(), json!({"input_tokens": 900, "output_tokens": 120, "total_tokens": 1020}));
                attributes.insert(
                    "mlflow.spanInputs".into(),
                    json!({"messages": [
                        {"role": "system", "content": "You are a travel planner. Use tools for weather. ".repeat(8)},
                        {"role": "user", "content": format!("Stop {n}: what should I pack?")}
                    ]}),
                );
                attributes.insert("mlflow.spanOutputs".into(), json!({"choices": [{"message": {"role": "assistant", "content": "Pack a light jacket and sunglasses. ".repeat(6)}}]}));
                ("chat llama-3".to_string(), step_parent)
            }
            3 => {
                attributes.insert("mlflow.spanType".into(), json!("TOOL"));
                attributes.insert("mlflow.spanInputs".into(), json!({"city": format!("city-{n}")}));
                attributes.insert("mlflow.spanOutputs".into(), json!({"forecast": "sunny", "high": 21}));
                ("get_weather".to_string(), n - 1)
            }
            _ => {
                attributes.insert("mlflow.spanType".into(), json!("PARSER"));
                ("parse_reply".to_string(), step_parent)
            }
        };
        out.push(span(trace_id, id(n), Some(id(parent)), &name, at, at + 1_500_000, attributes));
    }
    out
}

fn span(trace_id: [u8; 16], span_id: [u8; 8], parent: Option<[u8; 8]>, name: &str, start: u64, end: u64, attributes: Map<String, Value>) -> Span {
    Span {
        trace_id,
        span_id,
        parent_span_id: parent,
        name: name.to_string(),
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        status_code: StatusCode::Ok,
        status_message: String::new(),
        attributes,
        events: Vec::new(),
        links: Vec::new(),
        service_name: Some("travel-agent".into()),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().context("usage: ui-bench-data <database.db> [traces]")?;
    let traces: i64 = args.next().map(|t| t.parse()).transpose()?.unwrap_or(1_000_000);
    let _ = std::fs::remove_file(&path);
    let store = Store::open(&StoreUri::Sqlite { path: Some(path.clone().into()) }, StoreSettings::default()).await?;

    let million = store.create_experiment(NewExperiment { name: format!("bench-{traces}-traces"), artifact_location: None, tags: vec![] }).await?;
    eprintln!("writing {traces} traces into experiment {million}");
    bulk_traces(&store, million, traces).await?;

    let big = store.create_experiment(NewExperiment { name: "bench-big-traces".into(), artifact_location: None, tags: vec![] }).await?;
    let mut ids = Vec::new();
    for (byte, count) in [(0x50u8, 5_000u32), (0x51, 30_000)] {
        let started = Instant::now();
        let spans = big_trace(byte, count);
        let trace_id = format!("tr-{}", rivulet_core::traces::hex_id(&spans[0].trace_id));
        for chunk in spans.chunks(2_000) {
            let batch = SpanBatch { experiment_id: big, spans: chunk.iter().cloned().map(prepare_span).collect(), resource_tags: Default::default(), run_id: None };
            store.ingest_spans(batch).await?;
        }
        eprintln!("  {count}-span trace {trace_id} ingested in {:.1} s", started.elapsed().as_secs_f64());
        ids.push(trace_id);
    }
    store.close().await;
    println!("{}", json!({"million_experiment": million, "big_experiment": big, "trace_5k": ids[0], "trace_30k": ids[1], "traces": traces}));
    Ok(())
}

//! CPU cost of one OTLP export on the ingest path before it reaches the store: inflate the gzip
//! body, decode the protobuf, validate each span, derive its LLM conventions, take its digest and
//! render MLflow's span JSON. Under closed-loop ingest on two cores this work competes with the
//! database writer for the same CPU, so it is measured here, away from the disk and the writer.
//!
//! The payload is an LLM agent run shaped like the shared load generator's workload (10 spans:
//! an agent root, chat calls with GenAI messages and token usage, tool calls, OpenInference
//! retrievers), exported one trace per request and 100 per request, in gzip (a Collector's
//! default) and in zstd (its other common setting). One trace is 10 KB of
//! protobuf and 2 KB gzipped: its filler prose repeats more than model text, so inflating it
//! costs less than the load generator's 14 KB (6 KB gzipped) traces.

use std::io::Write;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value::Value as OtlpValue, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use rivulet_api::otlp::decode::{convert_request_with, decode_request, decompress, DecodeLimits, Encoding};
use rivulet_core::traces::prepare::prepare_span;

// The server's allocator: with glibc's, allocation alone took 15-18 % of this path's samples.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SPANS_PER_TRACE: usize = 10;

fn text(key: &str, value: impl Into<String>) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(OtlpValue::StringValue(value.into())) }), ..Default::default() }
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(OtlpValue::IntValue(value)) }), ..Default::default() }
}

/// Deterministic filler prose of `len` bytes, with the odd quote and line break real model text has.
fn prose(seed: u64, len: usize) -> String {
    const WORDS: [&str; 16] = [
        "the", "refund", "policy", "covers", "orders", "placed", "within", "thirty", "days;", "customers", "should", "\"contact\"",
        "support", "with", "their", "receipt.\n",
    ];
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = String::with_capacity(len + 16);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push_str(WORDS[(state % WORDS.len() as u64) as usize]);
        out.push(' ');
    }
    out.truncate(len);
    out
}

fn chat_messages(seed: u64, role: &str, len: usize) -> String {
    serde_json::json!([{ "role": role, "parts": [{ "type": "text", "content": prose(seed, len) }] }]).to_string()
}

fn trace(number: u64) -> Vec<Span> {
    let trace_id: Vec<u8> = (number.to_be_bytes().iter().chain(&0xA5A5_A5A5_u64.to_be_bytes())).copied().collect();
    let span_id = |index: usize| ((number << 8) | (index as u64 + 1)).to_be_bytes().to_vec();
    let start = 1_764_000_000_000_000_000 + number * 1_000_000;
    (0..SPANS_PER_TRACE)
        .map(|index| {
            let seed = number * 100 + index as u64;
            let (name, kind, attributes) = match index {
                0 => (
                    "invoke_agent support".to_string(),
                    SpanKind::Internal,
                    vec![
                        text("gen_ai.operation.name", "invoke_agent"),
                        text("gen_ai.agent.name", "support"),
                        text("gen_ai.conversation.id", format!("session-{}", number % 50)),
                        text("user.id", format!("user-{}", number % 20)),
                        text("gen_ai.input.messages", chat_messages(seed, "user", 400)),
                        text("gen_ai.output.messages", chat_messages(seed + 1, "assistant", 300)),
                    ],
                ),
                1 | 4 | 7 => (
                    "chat gpt-4o".to_string(),
                    SpanKind::Client,
                    vec![
                        text("gen_ai.operation.name", "chat"),
                        text("gen_ai.provider.name", "openai"),
                        text("gen_ai.request.model", "gpt-4o"),
                        text("gen_ai.response.model", "gpt-4o-2024-08-06"),
                        int("gen_ai.usage.input_tokens", 180 + index as i64),
                        int("gen_ai.usage.output_tokens", 90 + index as i64),
                        text("gen_ai.input.messages", chat_messages(seed, "user", 700)),
                        text("gen_ai.output.messages", chat_messages(seed + 1, "assistant", 350)),
                    ],
                ),
                2 | 5 | 8 => (
                    "execute_tool search_knowledge_base".to_string(),
                    SpanKind::Internal,
                    vec![
                        text("gen_ai.operation.name", "execute_tool"),
                        text("gen_ai.tool.name", "search_knowledge_base"),
                        text("gen_ai.tool.call.arguments", serde_json::json!({ "query": prose(seed, 60) }).to_string()),
                        text("gen_ai.tool.call.result", serde_json::json!({ "answer": prose(seed + 1, 300) }).to_string()),
                    ],
                ),
                _ => (
                    "retrieve knowledge_base".to_string(),
                    SpanKind::Internal,
                    vec![
                        text("openinference.span.kind", "RETRIEVER"),
                        text("input.value", prose(seed, 80)),
                        text("output.value", serde_json::json!({ "documents": [prose(seed, 250), prose(seed + 1, 250)] }).to_string()),
                    ],
                ),
            };
            let offset = index as u64 * 50_000_000;
            Span {
                trace_id: trace_id.clone(),
                span_id: span_id(index),
                parent_span_id: if index == 0 { Vec::new() } else { span_id(if index % 3 == 0 { index - 1 } else { 0 }) },
                name,
                kind: kind as i32,
                start_time_unix_nano: start + offset,
                end_time_unix_nano: start + offset + 40_000_000,
                attributes,
                status: Some(Status { code: 1, ..Default::default() }),
                ..Default::default()
            }
        })
        .collect()
}

/// An export of `traces` whole traces from one service, compressed as a Collector sends it:
/// gzip by default, or zstd (at libzstd's default level) when set to.
fn export_body(traces: u64, coding: &str) -> Vec<u8> {
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    text("service.name", "support-agent"),
                    text("service.version", "1.4.2"),
                    text("host.name", "agent-7f9c"),
                    text("deployment.environment.name", "production"),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope { name: "agent-instrumentation".into(), ..Default::default() }),
                spans: (0..traces).flat_map(trace).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    if coding == "zstd" {
        return zstd::stream::encode_all(request.encode_to_vec().as_slice(), 3).expect("zstd into memory");
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&request.encode_to_vec()).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

fn otlp_request(c: &mut Criterion) {
    let limits = DecodeLimits::default();
    let mut group = c.benchmark_group("otlp_request");
    for (coding, traces) in [("gzip", 1u64), ("gzip", 100), ("zstd", 1), ("zstd", 100)] {
        let body = export_body(traces, coding);
        group.throughput(Throughput::Elements(traces * SPANS_PER_TRACE as u64));
        group.bench_with_input(BenchmarkId::new(format!("{coding}_protobuf_to_prepared_spans"), traces), &body, |b, body| {
            b.iter(|| {
                let bytes = decompress(body, Some(coding), limits.max_body_bytes).expect("a valid body");
                let request = decode_request(&bytes, Encoding::Protobuf).expect("valid protobuf");
                let converted = convert_request_with(request, &limits, prepare_span);
                assert!(converted.rejected.is_empty(), "{:?}", converted.rejected);
                converted.spans
            })
        });
    }
    group.finish();
}

criterion_group!(benches, otlp_request);
criterion_main!(benches);

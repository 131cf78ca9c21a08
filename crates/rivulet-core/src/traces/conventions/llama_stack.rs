//! LLaMA Stack's own span attributes: 0.2/0.3's `@trace_protocol` and agent spans, and ≥ 0.4's safety and Responses-tool spans.
//!
//! What each era sends (deploy.md §3):
//! * 0.2.x / 0.3.x: every API method is a span `<Class>.<method>` with `__class__`, `__method__`,
//!   `__type__`, `__args__` (the call's arguments as a Python `str(dict)`, messages inside it as
//!   JSON text) and `output` (the result, JSON text for models); token counts arrive as span
//!   events `metric.prompt_tokens` / `metric.completion_tokens` / `metric.total_tokens` (`value`,
//!   `model_id`, `provider_id`) and in the result's `metrics` list. Agent turns add spans
//!   `create_and_execute_turn` (`session_id`, `agent_id`, `turn_id`, `request`), `run_shields`,
//!   `retrieve_rag_context` and `tool_execution` with plain `input` / `output`.
//! * ≥ 0.4: model calls come from the OpenAI instrumentation (GenAI semconv, handled elsewhere);
//!   LLaMA Stack itself adds `run_shield <shield_id>` spans (`llama_stack.safety.*`) and the
//!   Responses API's tool spans `list_mcp_tools`, `invoke_mcp_tool`, `invoke_tool`,
//!   `knowledge_search`, `file_search`, which carry names and server labels but no payloads.

use serde_json::{json, Map, Value};

use super::details::usage_from_counts;
use super::{count, is_meaningful, structured, text_of};
use crate::traces::{Span, TokenUsage};

mod python_literal;

const SAFETY_SHIELD_ID: &str = "llama_stack.safety.request.shield_id";
const SAFETY_MESSAGES: &str = "llama_stack.safety.request.messages";
const SAFETY_METADATA: &str = "llama_stack.safety.response.metadata";
const SAFETY_LEVEL: &str = "llama_stack.safety.response.violation.level";
const SAFETY_USER_MESSAGE: &str = "llama_stack.safety.response.violation.user_message";
const CLASS: &str = "__class__";
const METHOD: &str = "__method__";
const ARGS: &str = "__args__";

pub(super) fn span_type(span: &Span) -> Option<&'static str> {
    let attrs = &span.attributes;
    if attrs.contains_key(SAFETY_SHIELD_ID) || span.name.starts_with("run_shield") {
        return Some("GUARDRAIL");
    }
    if let Some(method) = attrs.get(METHOD).and_then(Value::as_str) {
        let class = attrs.get(CLASS).and_then(Value::as_str).unwrap_or_default();
        return method_type(class, method);
    }
    match span.name.as_str() {
        "invoke_mcp_tool" | "invoke_tool" | "list_mcp_tools" | "tool_execution" => Some("TOOL"),
        "knowledge_search" | "file_search" | "retrieve_rag_context" => Some("RETRIEVER"),
        "create_and_execute_turn" => Some("AGENT"),
        _ => None,
    }
}

/// The span type of a `@trace_protocol` method (`InferenceRouter.chat_completion`, ...).
fn method_type(class: &str, method: &str) -> Option<&'static str> {
    let rag_class = ["rag", "memory", "vectorio"].iter().any(|k| class.to_ascii_lowercase().contains(k));
    match method {
        m if m.ends_with("chat_completion") => Some("CHAT_MODEL"),
        m if m.ends_with("completion") => Some("LLM"),
        m if m.ends_with("embeddings") => Some("EMBEDDING"),
        "rerank" => Some("RERANKER"),
        "query_chunks" | "openai_search_vector_store" => Some("RETRIEVER"),
        "query" if rag_class => Some("RETRIEVER"),
        "invoke_tool" => Some("TOOL"),
        "run_shield" | "run_moderation" => Some("GUARDRAIL"),
        "create_agent_turn" | "resume_agent_turn" | "create_openai_response" => Some("AGENT"),
        _ => None,
    }
}

pub(super) fn inputs(attrs: &Map<String, Value>) -> Option<Value> {
    if let Some(messages) = attrs.get(SAFETY_MESSAGES).filter(|v| is_meaningful(v)) {
        return Some(match structured(messages).into_owned() {
            Value::Array(list) => json!({ "messages": decode_items(list) }),
            other => other,
        });
    }
    if let Some(args) = attrs.get(ARGS).filter(|v| is_meaningful(v)) {
        return Some(call_arguments(args));
    }
    attrs
        .get("request")
        .filter(|v| is_meaningful(v) && attrs.contains_key("agent_id"))
        .map(|v| structured(v).into_owned())
}

pub(super) fn outputs(attrs: &Map<String, Value>) -> Option<Value> {
    if !attrs.contains_key(SAFETY_SHIELD_ID) {
        return None;
    }
    let mut violation = Map::new();
    for (key, name) in
        [(SAFETY_LEVEL, "violation_level"), (SAFETY_USER_MESSAGE, "user_message"), (SAFETY_METADATA, "metadata")]
    {
        if let Some(value) = attrs.get(key).filter(|v| is_meaningful(v)) {
            violation.insert(name.into(), structured(value).into_owned());
        }
    }
    // A passed check records nothing but the request; saying so beats an empty Outputs pane.
    Some(if violation.is_empty() { json!({ "violation": null }) } else { json!({ "violation": violation }) })
}

/// `__args__` as an object: the Python repr parsed, the JSON texts inside it decoded, and a
/// lone request object (`{'params': '{"model": ..., "messages": [...]}'}`) lifted out so the
/// inputs read like an OpenAI request. Unparseable text is kept as it is.
fn call_arguments(args: &Value) -> Value {
    let parsed = match args {
        Value::String(text) => match python_literal::parse(text) {
            Some(value) => value,
            None => return args.clone(),
        },
        other => other.clone(),
    };
    let decoded = decode_leaves(parsed, 0);
    if let Value::Object(map) = &decoded {
        if map.len() == 1 {
            if let Some(Value::Object(inner)) = map.values().next() {
                if ["messages", "model", "input"].iter().any(|k| inner.contains_key(*k)) {
                    return Value::Object(inner.clone());
                }
            }
        }
    }
    decoded
}

/// Decodes JSON texts found anywhere in the structure, one layer each.
fn decode_leaves(value: Value, depth: usize) -> Value {
    const MAX_DEPTH: usize = 32;
    match value {
        Value::String(_) => structured(&value).into_owned(),
        Value::Array(items) if depth < MAX_DEPTH => {
            Value::Array(items.into_iter().map(|v| decode_leaves(v, depth + 1)).collect())
        }
        Value::Object(map) if depth < MAX_DEPTH => {
            Value::Object(map.into_iter().map(|(k, v)| (k, decode_leaves(v, depth + 1))).collect())
        }
        other => other,
    }
}

fn decode_items(items: Vec<Value>) -> Vec<Value> {
    items.iter().map(|item| structured(item).into_owned()).collect()
}

/// Token counts from `metric.*` span events, else from the result's `metrics` list.
pub(super) fn usage(span: &Span, outputs: Option<&Value>) -> Option<TokenUsage> {
    let from_events = |metric: &str| {
        span.events
            .iter()
            .find(|event| event.name.strip_prefix("metric.") == Some(metric))
            .and_then(|event| event.attributes.get("value"))
            .and_then(count)
    };
    let outputs = outputs.map(structured);
    let listed = outputs.as_ref().and_then(|o| o.get("metrics")).and_then(Value::as_array);
    let from_output = |metric: &str| {
        listed?
            .iter()
            .find(|entry| entry.get("metric").and_then(Value::as_str) == Some(metric))
            .and_then(|entry| entry.get("value"))
            .and_then(count)
    };
    let read = |metric: &str| from_events(metric).or_else(|| from_output(metric));
    usage_from_counts(read("prompt_tokens"), read("completion_tokens"), read("total_tokens"), None, None)
}

pub(super) fn model(span: &Span) -> Option<String> {
    metric_attribute(span, "model_id")
}

pub(super) fn provider(span: &Span) -> Option<String> {
    metric_attribute(span, "provider_id")
}

fn metric_attribute(span: &Span, name: &str) -> Option<String> {
    span.events
        .iter()
        .filter(|event| event.name.starts_with("metric."))
        .find_map(|event| event.attributes.get(name).and_then(text_of))
}

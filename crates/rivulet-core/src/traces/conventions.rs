//! Gives OTLP spans their LLM meaning at ingest: MLflow's derived attributes read from every common attribute convention.
//!
//! [`translate_span`] fills, only where the sender left them out, `mlflow.spanType`,
//! `mlflow.spanInputs`, `mlflow.spanOutputs`, `mlflow.chat.tokenUsage`, `mlflow.llm.model`,
//! `mlflow.llm.provider`, `mlflow.message.format` and `mlflow.chat.tools`. Conventions are tried
//! in MLflow's order (OpenInference, OTel GenAI semconv, Traceloop, then the smaller ones), then
//! LLaMA Stack's own attributes, then span events, then a generic fallback; the first one that
//! yields a value wins, separately for each derived attribute.
//!
//! Payload shapes, so a UI knows what to render:
//! * Payloads a convention carries whole (`input.value`, `traceloop.entity.input`, ...) are kept
//!   as the sender wrote them.
//! * Messages spread over flattened attributes (`llm.input_messages.N.*`, `gen_ai.prompt.N.*`)
//!   or span events become an OpenAI chat-completions request, `{"messages": [{"role",
//!   "content", "tool_calls"?, "tool_call_id"?, "name"?}]}`, and the answers an OpenAI chat
//!   completion, `{"choices": [{"index", "message": {"role", "content", "tool_calls"?},
//!   "finish_reason"?}]}`. Tool-call `arguments` are JSON text, as OpenAI sends them. Such spans
//!   get `mlflow.message.format = "openai"`.
//! * `gen_ai.input.messages` / `gen_ai.output.messages` stay the semconv's parts-style list
//!   (`[{"role", "parts": [{"type": "text", "content"}, ...]}]`); `gen_ai.system_instructions`
//!   is prepended to the inputs as `{"role": "system", "parts": [...]}`.
//! * OpenInference retrieval documents become MLflow documents, `[{"id"?, "page_content",
//!   "metadata", "score"?}]`.
//! * Tool definitions become OpenAI tools, `[{"type": "function", "function": {"name",
//!   "description"?, "parameters"?}}]`.
//! * LLaMA Stack: 0.2's `__args__` becomes the call's arguments as an object (JSON texts inside
//!   decoded; a lone request object such as `params` lifted out, so OpenAI-compatible calls read
//!   as an OpenAI request), `output` is kept; safety spans get `{"messages": [...]}` in and
//!   `{"violation": {"violation_level", "user_message", "metadata"} | null}` out.
//!
//! Strings in the built payloads stay text even when sanitizing had decoded them because they
//! looked like JSON (message content, tool-call arguments, document content).

use std::borrow::Cow;

use serde_json::{json, Map, Value};

use super::{keys, Span};

mod details;
mod llama_stack;
mod messages;
#[cfg(test)]
mod tests;

/// `mlflow.message.format` of the OpenAI chat payloads Rivulet assembles.
pub const MESSAGE_FORMAT_OPENAI: &str = "openai";

/// MLflow's sanitize step: a string attribute whose text parses as a JSON object, array or string
/// is replaced by the parsed value (one layer). Plain strings and numeric-looking strings stay
/// strings.
pub fn sanitize_attribute(value: Value) -> Value {
    let Value::String(text) = &value else {
        return value;
    };
    // Only text that can parse to an object, array or string is worth a parse attempt.
    if !matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'[' | b'"')) {
        return value;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(parsed @ (Value::Object(_) | Value::Array(_) | Value::String(_))) => parsed,
        _ => value,
    }
}

/// Adds MLflow's derived attributes to the span when they are missing (never overwrites a value
/// the sender set, except that a missing/"UNKNOWN" `mlflow.spanType` may be filled). Expects
/// attributes already passed through [`sanitize_attribute`]; JSON text where structure is expected
/// is decoded anyway.
pub fn translate_span(span: &mut Span) {
    let derived = derive(span);
    let attributes = &mut span.attributes;
    if let Some(span_type) = derived.span_type {
        attributes.insert(keys::SPAN_TYPE.into(), Value::String(span_type.into()));
    }
    for (key, value) in derived.values {
        attributes.entry(key).or_insert(value);
    }
}

/// Convention attribute keys read in more than one place.
mod key {
    pub const OI_KIND: &str = "openinference.span.kind";
    pub const OI_INPUT: &str = "input.value";
    pub const OI_OUTPUT: &str = "output.value";
    pub const OI_INPUT_MESSAGES: &str = "llm.input_messages.";
    pub const OI_OUTPUT_MESSAGES: &str = "llm.output_messages.";
    pub const OI_DOCUMENTS: &str = "retrieval.documents.";
    pub const GENAI_OPERATION: &str = "gen_ai.operation.name";
    pub const GENAI_INPUT_MESSAGES: &str = "gen_ai.input.messages";
    pub const GENAI_OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
    pub const GENAI_SYSTEM_INSTRUCTIONS: &str = "gen_ai.system_instructions";
    pub const GENAI_TOOL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
    pub const GENAI_TOOL_RESULT: &str = "gen_ai.tool.call.result";
    pub const GENAI_TOOL_DEFINITIONS: &str = "gen_ai.tool.definitions";
    pub const TRACELOOP_KIND: &str = "traceloop.span.kind";
    pub const TRACELOOP_INPUT: &str = "traceloop.entity.input";
    pub const TRACELOOP_OUTPUT: &str = "traceloop.entity.output";
    pub const TRACELOOP_REQUEST_TYPE: &str = "llm.request.type";
}

/// Old and new names of the flattened GenAI / Traceloop prompt and completion lists.
const PROMPT_PREFIXES: &[&str] = &["gen_ai.prompt.", "llm.prompts."];
const COMPLETION_PREFIXES: &[&str] = &["gen_ai.completion.", "llm.completions."];

struct Derived {
    span_type: Option<&'static str>,
    values: Vec<(String, Value)>,
}

/// A derived payload and whether Rivulet assembled it as an OpenAI chat payload.
struct Payload {
    value: Value,
    openai_chat: bool,
}

impl Payload {
    fn kept(value: &Value) -> Option<Payload> {
        is_meaningful(value).then(|| Payload { value: value.clone(), openai_chat: false })
    }
    fn built(value: Value) -> Payload {
        Payload { value, openai_chat: true }
    }
}

fn derive(span: &Span) -> Derived {
    let attrs = &span.attributes;
    let mut values: Vec<(String, Value)> = Vec::new();

    let span_type = span_type_to_fill(attrs).and_then(|current| {
        let derived = span_type(span)?;
        (derived != current).then_some(derived)
    });

    let derived_inputs = (!attrs.contains_key(keys::SPAN_INPUTS)).then(|| inputs(span)).flatten();
    let derived_outputs = (!attrs.contains_key(keys::SPAN_OUTPUTS)).then(|| outputs(span)).flatten();
    let final_inputs = attrs.get(keys::SPAN_INPUTS).or(derived_inputs.as_ref().map(|p| &p.value));
    let final_outputs = attrs.get(keys::SPAN_OUTPUTS).or(derived_outputs.as_ref().map(|p| &p.value));

    if !attrs.contains_key(keys::TOKEN_USAGE) {
        if let Some(usage) = details::token_usage(span, final_outputs) {
            values.push((keys::TOKEN_USAGE.into(), usage.to_json()));
        }
    }
    if !attrs.contains_key(keys::LLM_MODEL) {
        if let Some(model) = details::model(span, final_inputs, final_outputs) {
            values.push((keys::LLM_MODEL.into(), Value::String(model)));
        }
    }
    if !attrs.contains_key(keys::LLM_PROVIDER) {
        if let Some(provider) = details::provider(span) {
            values.push((keys::LLM_PROVIDER.into(), Value::String(provider)));
        }
    }
    if !attrs.contains_key(keys::CHAT_TOOLS) {
        if let Some(tools) = details::tool_definitions(attrs) {
            values.push((keys::CHAT_TOOLS.into(), tools));
        }
    }
    let built_chat = derived_inputs.as_ref().is_some_and(|p| p.openai_chat)
        || derived_outputs.as_ref().is_some_and(|p| p.openai_chat);
    if built_chat && !attrs.contains_key(keys::MESSAGE_FORMAT) {
        values.push((keys::MESSAGE_FORMAT.into(), Value::String(MESSAGE_FORMAT_OPENAI.into())));
    }
    if let Some(payload) = derived_inputs {
        values.push((keys::SPAN_INPUTS.into(), payload.value));
    }
    if let Some(payload) = derived_outputs {
        values.push((keys::SPAN_OUTPUTS.into(), payload.value));
    }
    Derived { span_type, values }
}

/// The current span type when it may be filled (`""` when there is none), `None` when the
/// sender set a real one.
fn span_type_to_fill(attrs: &Map<String, Value>) -> Option<&str> {
    match attrs.get(keys::SPAN_TYPE) {
        None | Some(Value::Null) => Some(""),
        Some(Value::String(current)) if current.trim().is_empty() => Some(""),
        Some(Value::String(current)) if current == "UNKNOWN" => Some("UNKNOWN"),
        Some(_) => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Span type

const OPENINFERENCE_KINDS: &[(&str, &str)] = &[
    ("TOOL", "TOOL"),
    ("CHAIN", "CHAIN"),
    ("LLM", "LLM"),
    ("RETRIEVER", "RETRIEVER"),
    ("EMBEDDING", "EMBEDDING"),
    ("AGENT", "AGENT"),
    ("RERANKER", "RERANKER"),
    ("UNKNOWN", "UNKNOWN"),
    ("GUARDRAIL", "GUARDRAIL"),
    ("EVALUATOR", "EVALUATOR"),
];

const GENAI_OPERATIONS: &[(&str, &str)] = &[
    ("chat", "CHAT_MODEL"),
    ("create_agent", "AGENT"),
    ("invoke_agent", "AGENT"),
    ("embeddings", "EMBEDDING"),
    ("execute_tool", "TOOL"),
    ("generate_content", "LLM"),
    ("text_completion", "LLM"),
    ("response", "LLM"),
];

const TRACELOOP_KINDS: &[(&str, &str)] =
    &[("workflow", "WORKFLOW"), ("task", "TASK"), ("agent", "AGENT"), ("tool", "TOOL"), ("unknown", "UNKNOWN")];

const VERCEL_OPERATIONS: &[(&str, &str)] = &[
    ("ai.generateText", "LLM"),
    ("ai.generateText.doGenerate", "LLM"),
    ("ai.streamText", "LLM"),
    ("ai.streamText.doStream", "LLM"),
    ("ai.generateObject", "LLM"),
    ("ai.generateObject.doGenerate", "LLM"),
    ("ai.streamObject", "LLM"),
    ("ai.streamObject.doStream", "LLM"),
    ("ai.toolCall", "TOOL"),
    ("ai.embed", "EMBEDDING"),
    ("ai.embed.doEmbed", "EMBEDDING"),
    ("ai.embedMany", "EMBEDDING"),
    ("ai.embedMany.doEmbed", "EMBEDDING"),
];

const VOLTAGENT_KINDS: &[(&str, &str)] = &[("agent", "AGENT"), ("llm", "LLM"), ("tool", "TOOL"), ("memory", "MEMORY")];

const LAMINAR_KINDS: &[(&str, &str)] = &[
    ("LLM", "LLM"),
    ("TOOL", "TOOL"),
    ("DEFAULT", "CHAIN"),
    ("PIPELINE", "CHAIN"),
    ("EXECUTOR", "AGENT"),
    ("EVALUATOR", "EVALUATOR"),
    ("HUMAN_EVALUATOR", "EVALUATOR"),
    ("EVALUATION", "EVALUATOR"),
    ("CACHED", "LLM"),
];

const LANGFUSE_KINDS: &[(&str, &str)] = &[
    ("generation", "LLM"),
    ("embedding", "EMBEDDING"),
    ("tool", "TOOL"),
    ("retriever", "RETRIEVER"),
    ("agent", "AGENT"),
    ("chain", "CHAIN"),
    ("evaluator", "EVALUATOR"),
    ("guardrail", "GUARDRAIL"),
    ("span", "UNKNOWN"),
];

/// Traceloop marks LLM calls by request type rather than by span kind.
const TRACELOOP_REQUEST_TYPES: &[(&str, &str)] =
    &[("chat", "CHAT_MODEL"), ("completion", "LLM"), ("embedding", "EMBEDDING"), ("rerank", "RERANKER")];

/// Kind attributes in MLflow's translator order, then Rivulet's additions.
const KIND_ATTRIBUTES: &[(&str, &[(&str, &str)])] = &[
    (key::OI_KIND, OPENINFERENCE_KINDS),
    (key::GENAI_OPERATION, GENAI_OPERATIONS),
    (key::TRACELOOP_KIND, TRACELOOP_KINDS),
    ("ai.operationId", VERCEL_OPERATIONS),
    ("span.type", VOLTAGENT_KINDS),
    ("entity.type", VOLTAGENT_KINDS),
    ("lmnr.span.type", LAMINAR_KINDS),
    ("langfuse.observation.type", LANGFUSE_KINDS),
    (key::TRACELOOP_REQUEST_TYPE, TRACELOOP_REQUEST_TYPES),
];

/// The MLflow span type the span's conventions imply. A convention that says "unknown" only
/// counts when no other one knows better.
fn span_type(span: &Span) -> Option<&'static str> {
    let attrs = &span.attributes;
    let mut unknown = None;
    for (attribute, table) in KIND_ATTRIBUTES {
        let Some(kind) = attrs.get(*attribute).and_then(Value::as_str) else {
            continue;
        };
        let kind = kind.trim();
        // Senders disagree on case ("LLM" vs "llm"); the tables' spellings are MLflow's.
        let found = table.iter().find(|(name, _)| name.eq_ignore_ascii_case(kind)).map(|(_, mlflow)| *mlflow);
        match found {
            Some("UNKNOWN") => unknown = Some("UNKNOWN"),
            Some(mlflow_type) => return Some(mlflow_type),
            None => {}
        }
    }
    llama_stack::span_type(span).or_else(|| span_type_from_content(attrs)).or(unknown)
}

/// For spans without any kind attribute: what their other attributes show them to be.
fn span_type_from_content(attrs: &Map<String, Value>) -> Option<&'static str> {
    let has_prefix = |prefix: &str| attrs.keys().any(|k| k.starts_with(prefix));
    if attrs.contains_key("gen_ai.tool.name") || attrs.contains_key(key::GENAI_TOOL_ARGUMENTS) {
        return Some("TOOL");
    }
    if has_prefix(key::OI_DOCUMENTS) {
        return Some("RETRIEVER");
    }
    if attrs.contains_key("embedding.model_name") || has_prefix("embedding.embeddings.") {
        return Some("EMBEDDING");
    }
    let chat_messages = attrs.contains_key(key::GENAI_INPUT_MESSAGES)
        || has_prefix(key::OI_INPUT_MESSAGES)
        || PROMPT_PREFIXES.iter().any(|p| has_prefix(p));
    if chat_messages {
        return Some("CHAT_MODEL");
    }
    const MODEL_CALL_KEYS: &[&str] = &[
        "gen_ai.request.model",
        "gen_ai.response.model",
        "gen_ai.system",
        "gen_ai.provider.name",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.model_name",
        "llm.token_count.prompt",
    ];
    MODEL_CALL_KEYS.iter().any(|k| attrs.contains_key(*k)).then_some("LLM")
}

// ---------------------------------------------------------------------------------------------
// Inputs and outputs

fn inputs(span: &Span) -> Option<Payload> {
    let attrs = &span.attributes;
    first_kept(attrs, &[key::OI_INPUT])
        .or_else(|| messages::openinference(attrs, key::OI_INPUT_MESSAGES, "user").map(chat_request))
        .or_else(|| genai_input_messages(attrs))
        .or_else(|| first_kept(attrs, &[key::GENAI_TOOL_ARGUMENTS]))
        // MLflow's Traceloop translator reads the entity payload before the prompt list.
        .or_else(|| first_kept(attrs, &[key::TRACELOOP_INPUT]))
        .or_else(|| PROMPT_PREFIXES.iter().find_map(|p| messages::flattened(attrs, p, "user")).map(chat_request))
        .or_else(|| {
            first_kept(
                attrs,
                &[
                    "gcp.vertex.agent.llm_request",
                    "gcp.vertex.agent.tool_call_args",
                    "ai.prompt.messages",
                    "ai.prompt",
                    "ai.toolCall.args",
                    "lmnr.span.input",
                    "langfuse.observation.input",
                ],
            )
        })
        .or_else(|| llama_stack::inputs(attrs).map(|value| Payload { value, openai_chat: false }))
        .or_else(|| messages::event_inputs(&span.events))
        .or_else(|| generic_payload(attrs, "input"))
}

fn outputs(span: &Span) -> Option<Payload> {
    let attrs = &span.attributes;
    first_kept(attrs, &[key::OI_OUTPUT])
        .or_else(|| messages::openinference(attrs, key::OI_OUTPUT_MESSAGES, "assistant").map(chat_completion))
        .or_else(|| retrieval_documents(attrs))
        .or_else(|| first_kept(attrs, &[key::GENAI_OUTPUT_MESSAGES, key::GENAI_TOOL_RESULT]))
        .or_else(|| first_kept(attrs, &[key::TRACELOOP_OUTPUT]))
        .or_else(|| {
            COMPLETION_PREFIXES.iter().find_map(|p| messages::flattened(attrs, p, "assistant")).map(chat_completion)
        })
        .or_else(|| {
            first_kept(
                attrs,
                &[
                    "gcp.vertex.agent.llm_response",
                    "gcp.vertex.agent.tool_response",
                    "ai.response.text",
                    "ai.response.object",
                    "ai.toolCall.result",
                    "lmnr.span.output",
                    "langfuse.observation.output",
                ],
            )
        })
        .or_else(|| llama_stack::outputs(attrs).map(|value| Payload { value, openai_chat: false }))
        .or_else(|| messages::event_outputs(&span.events))
        .or_else(|| generic_payload(attrs, "output"))
}

fn first_kept(attrs: &Map<String, Value>, keys: &[&str]) -> Option<Payload> {
    keys.iter().find_map(|key| attrs.get(*key).and_then(Payload::kept))
}

fn chat_request(messages: Vec<Value>) -> Payload {
    Payload::built(json!({ "messages": messages }))
}

fn chat_completion(messages: Vec<Value>) -> Payload {
    let choices: Vec<Value> = messages
        .into_iter()
        .enumerate()
        .map(|(index, mut message)| {
            let finish_reason = message.as_object_mut().and_then(|m| m.shift_remove("finish_reason"));
            let mut choice = Map::new();
            choice.insert("index".into(), index.into());
            choice.insert("message".into(), message);
            if let Some(reason) = finish_reason {
                choice.insert("finish_reason".into(), reason);
            }
            Value::Object(choice)
        })
        .collect();
    Payload::built(json!({ "choices": choices }))
}

/// `gen_ai.input.messages`, with `gen_ai.system_instructions` in front as a system message so the
/// whole prompt is visible in one place.
fn genai_input_messages(attrs: &Map<String, Value>) -> Option<Payload> {
    let instructions = attrs.get(key::GENAI_SYSTEM_INSTRUCTIONS).filter(|v| is_meaningful(v));
    let messages = attrs.get(key::GENAI_INPUT_MESSAGES).filter(|v| is_meaningful(v));
    let Some(instructions) = instructions else {
        return messages.and_then(Payload::kept);
    };
    let parts = match structured(instructions).into_owned() {
        Value::String(text) => json!([{ "type": "text", "content": text }]),
        Value::Array(parts) => Value::Array(parts),
        other => json!([other]),
    };
    let system = json!({ "role": "system", "parts": parts });
    match messages.map(|m| structured(m).into_owned()) {
        Some(Value::Array(mut list)) => {
            list.insert(0, system);
            Some(Payload { value: Value::Array(list), openai_chat: false })
        }
        // Messages in a shape we do not know: keep them untouched rather than guess.
        Some(other) => Some(Payload { value: other, openai_chat: false }),
        None => Some(Payload { value: json!([system]), openai_chat: false }),
    }
}

/// OpenInference `retrieval.documents.N.document.*` as MLflow documents.
fn retrieval_documents(attrs: &Map<String, Value>) -> Option<Payload> {
    let groups = messages::indexed(attrs.iter().map(|(k, v)| (k.as_str(), v)), key::OI_DOCUMENTS);
    let documents: Vec<Value> = groups
        .values()
        .filter_map(|group| {
            let field = |name: &str| messages::field(group, name);
            let mut document = Map::new();
            if let Some(id) = field("document.id").filter(|v| is_meaningful(v)) {
                document.insert("id".into(), id.clone());
            }
            let content = field("document.content").filter(|v| is_meaningful(v));
            let page_content = match content {
                Some(Value::String(text)) => text.clone(),
                // Sanitizing decoded content that looked like JSON; MLflow documents hold text.
                Some(other) => serde_json::to_string(other).unwrap_or_default(),
                None => String::new(),
            };
            document.insert("page_content".into(), Value::String(page_content));
            let metadata = match field("document.metadata").map(|v| structured(v).into_owned()) {
                Some(Value::Object(metadata)) => metadata,
                _ => Map::new(),
            };
            document.insert("metadata".into(), Value::Object(metadata));
            if let Some(score) = field("document.score").filter(|v| v.is_number()) {
                document.insert("score".into(), score.clone());
            }
            (content.is_some() || document.contains_key("id")).then_some(Value::Object(document))
        })
        .collect();
    (!documents.is_empty()).then(|| Payload { value: Value::Array(documents), openai_chat: false })
}

/// A bare `input` / `output` attribute (LLaMA Stack's agent spans, VoltAgent, hand-made spans).
/// Lists of JSON texts (one serialized message each) are decoded so they read as messages.
fn generic_payload(attrs: &Map<String, Value>, name: &str) -> Option<Payload> {
    let value = attrs.get(name).filter(|v| is_meaningful(v))?;
    let value = match value {
        Value::Array(items) => Value::Array(items.iter().map(|item| structured(item).into_owned()).collect()),
        other => other.clone(),
    };
    Some(Payload { value, openai_chat: false })
}

// ---------------------------------------------------------------------------------------------
// Value helpers shared with the submodules and the digest

/// A value worth reporting: not null, not blank text, not an empty list or object.
pub(crate) fn is_meaningful(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(text) => !text.trim().is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// Non-blank text, or a number written out (some senders send ids and model names as numbers).
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.trim().is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Text holding a JSON object or array, decoded (a sender that skipped MLflow's encoding, or
/// doubled it); any other value as it is.
pub(crate) fn structured(value: &Value) -> Cow<'_, Value> {
    if let Value::String(text) = value {
        if matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'[')) {
            if let Ok(parsed @ (Value::Object(_) | Value::Array(_))) = serde_json::from_str::<Value>(text) {
                return Cow::Owned(parsed);
            }
        }
    }
    Cow::Borrowed(value)
}

/// A token count: an integer, a float, or text holding either. Out-of-range values saturate.
fn count(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number
            .as_i64()
            .or_else(|| number.as_u64().map(|_| i64::MAX))
            .or_else(|| number.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        Value::String(text) => {
            let text = text.trim();
            text.parse::<i64>().ok().or_else(|| text.parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| f as i64))
        }
        _ => None,
    }
}

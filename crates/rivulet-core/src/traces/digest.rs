//! What one translated span contributes to its trace's summary: span-table columns, token usage, session, user, trace tags and ranked previews.

use std::borrow::Cow;

use serde_json::Value;

use super::conventions::{is_meaningful, structured};
use super::json::{python_dumps, python_dumps_head};
use super::{keys, Span, TokenUsage};

/// MLflow's preview length limit, in characters.
pub const PREVIEW_MAX_CHARS: usize = 1000;

/// MLflow's limit on a session id; longer values are not ids and are ignored.
pub const SESSION_ID_MAX_CHARS: usize = 250;

/// Preview ranks: the store keeps the highest, earlier wins ties.
pub const RANK_ROOT: u8 = 3;
pub const RANK_CHAT_MODEL: u8 = 2;
pub const RANK_OTHER: u8 = 1;

/// What one span contributes to its trace's summary, computed after `translate_span`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpanDigest {
    /// For the `spans.type` column.
    pub span_type: Option<String>,
    /// `spans.model_name`.
    pub model_name: Option<String>,
    /// `spans.model_provider`.
    pub model_provider: Option<String>,
    pub token_usage: Option<TokenUsage>,
    /// The first of [`SESSION_KEYS`] the span carries (≤ 250 chars).
    pub session_id: Option<String>,
    /// The first of [`USER_KEYS`] the span carries.
    pub user_id: Option<String>,
    /// From `mlflow.spanInputs`.
    pub request_preview: Option<Preview>,
    /// From `mlflow.spanOutputs`.
    pub response_preview: Option<Preview>,
    /// Root-span attributes `mlflow.traceTag.<key>` → (`<key>`, value as text).
    pub trace_tags: Vec<(String, String)>,
}

/// A preview candidate and how good its source is: root span with inputs/outputs
/// ([`RANK_ROOT`]), a CHAT_MODEL/LLM span whose payload is a conversation ([`RANK_CHAT_MODEL`]),
/// any other span ([`RANK_OTHER`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub rank: u8,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewRole {
    /// The last `user` message.
    Request,
    /// The last `assistant` message.
    Response,
}

impl PreviewRole {
    fn wanted_role(self) -> &'static str {
        match self {
            PreviewRole::Request => "user",
            PreviewRole::Response => "assistant",
        }
    }
}

/// Session keys in order of preference: MLflow's two, then the ones other conventions and
/// captured request headers use (the headers catalyst-lab's middleware read).
pub const SESSION_KEYS: &[&str] = &[
    keys::SESSION_ID,
    keys::GEN_AI_CONVERSATION_ID,
    "traceloop.association.properties.session_id",
    "langfuse.session.id",
    "ai.telemetry.metadata.sessionId",
    "http.request.header.x_session_id",
    "http.request.header.x-session-id",
];

/// User keys in order of preference, likewise.
pub const USER_KEYS: &[&str] = &[
    keys::USER_ID,
    "enduser.id",
    "traceloop.association.properties.user_id",
    "langfuse.user.id",
    "ai.telemetry.metadata.userId",
    "http.request.header.x_user_id",
    "http.request.header.x-user-id",
];

pub fn digest(span: &Span) -> SpanDigest {
    let attrs = &span.attributes;
    let span_type = attrs.get(keys::SPAN_TYPE).and_then(plain_text);
    let is_root = span.parent_span_id.is_none();
    let chat_model = matches!(span_type.as_deref(), Some("CHAT_MODEL" | "LLM"));
    let preview = |key: &str, role: PreviewRole| {
        let value = attrs.get(key).filter(|v| is_meaningful(v))?;
        let rank = if is_root {
            RANK_ROOT
        } else if chat_model && last_message_text(value, role).is_some() {
            RANK_CHAT_MODEL
        } else {
            RANK_OTHER
        };
        let text = preview_text(value, role);
        (!text.is_empty()).then_some(Preview { rank, text })
    };
    SpanDigest {
        model_name: attrs.get(keys::LLM_MODEL).and_then(plain_text),
        model_provider: attrs.get(keys::LLM_PROVIDER).and_then(plain_text),
        token_usage: attrs.get(keys::TOKEN_USAGE).and_then(|usage| TokenUsage::from_json(&structured(usage))),
        session_id: session_id(span),
        user_id: USER_KEYS.iter().find_map(|key| attrs.get(*key).and_then(identifier)),
        request_preview: preview(keys::SPAN_INPUTS, PreviewRole::Request),
        response_preview: preview(keys::SPAN_OUTPUTS, PreviewRole::Response),
        trace_tags: if is_root { trace_tags(span) } else { Vec::new() },
        span_type,
    }
}

fn session_id(span: &Span) -> Option<String> {
    let attrs = &span.attributes;
    let conventional = SESSION_KEYS.iter().find_map(|key| attrs.get(*key).and_then(identifier));
    // LLaMA Stack 0.2's agent-turn spans say `session_id` next to `agent_id` / `turn_id`; a bare
    // `session_id` elsewhere could mean anything, so it needs that company.
    let llama_stack = || {
        (attrs.contains_key("agent_id") || attrs.contains_key("turn_id"))
            .then(|| attrs.get("session_id").and_then(identifier))
            .flatten()
    };
    conventional.or_else(llama_stack).filter(|id| id.chars().count() <= SESSION_ID_MAX_CHARS)
}

fn trace_tags(span: &Span) -> Vec<(String, String)> {
    span.attributes
        .iter()
        .filter_map(|(key, value)| {
            let tag = key.strip_prefix(keys::TRACE_TAG_PREFIX).filter(|tag| !tag.is_empty())?;
            let text = match value {
                Value::String(text) => text.clone(),
                other => python_dumps(other),
            };
            Some((tag.to_string(), text))
        })
        .collect()
}

/// Non-blank text.
fn plain_text(value: &Value) -> Option<String> {
    value.as_str().filter(|text| !text.trim().is_empty()).map(str::to_string)
}

/// An id: non-blank text, a number, or the first of a list (captured HTTP headers are lists).
fn identifier(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.trim().is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Array(items) => items.first().and_then(identifier),
        _ => None,
    }
}

/// MLflow's preview rule: if the value is a chat payload (messages list, OpenAI `choices[0].message`,
/// Responses input/output lists, `request.*`), the text content of the last message with role
/// "user" (request) / "assistant" (response); otherwise the JSON text; truncated to 1000 chars
/// (997 + "..."). Also understood: parts-style GenAI messages, Gemini `contents` / `candidates`,
/// Anthropic content blocks, LangChain `human` / `ai` messages, LLaMA Stack's
/// `completion_message`.
pub fn preview_text(value: &Value, role: PreviewRole) -> String {
    // A character takes at most four bytes, so this head holds more than the preview keeps
    // whenever the whole text would.
    let text = last_message_text(value, role).unwrap_or_else(|| python_dumps_head(value, 4 * (PREVIEW_MAX_CHARS + 1)));
    truncate(text)
}

fn truncate(text: String) -> String {
    match text.char_indices().nth(PREVIEW_MAX_CHARS) {
        None => text,
        Some(_) => {
            let cut = text.char_indices().nth(PREVIEW_MAX_CHARS - 3).map_or(text.len(), |(at, _)| at);
            format!("{}...", &text[..cut])
        }
    }
}

/// The text of the last message in the wanted role, when the value is a conversation.
fn last_message_text(value: &Value, role: PreviewRole) -> Option<String> {
    let value = structured(value);
    let messages = conversation(&value, role, 0)?;
    let wanted = role.wanted_role();
    messages.iter().rev().filter(|m| message_role(m).as_deref() == Some(wanted)).find_map(message_text)
}

/// The messages of a chat payload, or `None` when the value is not one. Borrowed from the value
/// where they sit in it as a list: cloning every conversation to read one message was a
/// measurable share of ingest CPU.
fn conversation(value: &Value, role: PreviewRole, depth: usize) -> Option<Cow<'_, [Value]>> {
    if depth > 4 {
        return None;
    }
    match value {
        Value::Array(items) => items.iter().any(|item| message_role(item).is_some()).then_some(Cow::Borrowed(items.as_slice())),
        Value::Object(object) => {
            if let Some(messages) = object.get("messages").and_then(|m| nested_conversation(m, role, depth)) {
                return Some(messages);
            }
            if let Some(Value::Array(choices)) = object.get("choices") {
                let first = choices.first()?;
                let message = first.get("message").or_else(|| first.get("delta")).cloned().or_else(|| {
                    // Completions API: the choice carries bare text.
                    first.get("text").map(|text| serde_json::json!({ "role": "assistant", "content": text }))
                })?;
                return Some(Cow::Owned(vec![with_default_role(message, "assistant")]));
            }
            if let Some(message) = object.get("completion_message").filter(|m| m.is_object()) {
                return Some(Cow::Owned(vec![with_default_role(message.clone(), "assistant")]));
            }
            if let Some(Value::Array(candidates)) = object.get("candidates") {
                let content = candidates.first()?.get("content")?;
                return Some(Cow::Owned(vec![with_default_role(content.clone(), "assistant")]));
            }
            for list_key in ["contents", "input", "output"] {
                if let Some(messages) = object.get(list_key).and_then(conversation_list) {
                    return Some(Cow::Borrowed(messages));
                }
            }
            // Responses API request with a bare string input.
            if role == PreviewRole::Request && object.contains_key("model") {
                if let Some(Value::String(text)) = object.get("input") {
                    return Some(Cow::Owned(vec![serde_json::json!({ "role": "user", "content": text })]));
                }
            }
            if let Some(messages) = object.get("request").and_then(|request| nested_conversation(request, role, depth)) {
                return Some(messages);
            }
            message_role(value).is_some().then(|| Cow::Owned(vec![value.clone()]))
        }
        _ => None,
    }
}

/// A conversation one level down, in a value that may be JSON text still to parse (then the
/// messages are owned, since the parsed value does not outlive this call).
fn nested_conversation(value: &Value, role: PreviewRole, depth: usize) -> Option<Cow<'_, [Value]>> {
    match structured(value) {
        Cow::Borrowed(value) => conversation(value, role, depth + 1),
        Cow::Owned(parsed) => conversation(&parsed, role, depth + 1).map(|messages| Cow::Owned(messages.into_owned())),
    }
}

fn conversation_list(list: &Value) -> Option<&[Value]> {
    let items = list.as_array()?;
    items.iter().any(|item| message_role(item).is_some()).then_some(items.as_slice())
}

fn with_default_role(mut message: Value, role: &str) -> Value {
    if let Some(object) = message.as_object_mut() {
        if !object.get("role").is_some_and(Value::is_string) {
            object.insert("role".into(), Value::String(role.into()));
        }
    }
    message
}

/// A message's role, folded onto `user` / `assistant` where frameworks spell them otherwise.
fn message_role(message: &Value) -> Option<String> {
    let object = message.as_object()?;
    let has_body = ["content", "parts", "tool_calls", "text"].iter().any(|k| object.contains_key(*k));
    if !has_body {
        return None;
    }
    let role = object.get("role").and_then(Value::as_str).or_else(|| {
        // LangChain's serialized messages carry `type` instead.
        object.get("type").and_then(Value::as_str).filter(|t| matches!(*t, "human" | "ai" | "system" | "tool"))
    })?;
    Some(match role.to_ascii_lowercase().as_str() {
        "human" => "user".into(),
        "ai" | "model" | "bot" => "assistant".into(),
        other => other.into(),
    })
}

/// The text in a message: string content, or the text parts of a content / parts list.
fn message_text(message: &Value) -> Option<String> {
    let object = message.as_object()?;
    let text = ["content", "parts", "text"].iter().find_map(|key| object.get(*key).and_then(|v| content_text(v, 0)))?;
    (!text.trim().is_empty()).then_some(text)
}

fn content_text(content: &Value, depth: usize) -> Option<String> {
    if depth > 4 {
        return None;
    }
    match content {
        Value::String(text) => Some(text.clone()),
        Value::Array(parts) => {
            let texts: Vec<String> =
                parts.iter().filter_map(|part| content_text(part, depth + 1)).filter(|t| !t.is_empty()).collect();
            (!texts.is_empty()).then(|| texts.join("\n"))
        }
        Value::Object(part) => {
            let kind = part.get("type").and_then(Value::as_str).unwrap_or("text");
            if !matches!(kind, "text" | "input_text" | "output_text") {
                return None;
            }
            ["text", "content"].iter().find_map(|key| part.get(*key).and_then(|v| content_text(v, depth + 1)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;

//! Chat messages that conventions spread over flattened attributes or span events, reassembled as OpenAI chat messages.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{chat_completion, chat_request, is_meaningful, structured, text_of, Payload};
use crate::traces::SpanEvent;

/// The `<rest>` keys and values of one `prefix<n>.<rest>` group.
pub(super) type Group<'a> = Vec<(&'a str, &'a Value)>;

/// Entries named `prefix<n>.<rest>`, grouped by `n` in numeric order. A map rather than a vector
/// so that a sender's `llm.input_messages.4000000000.*` cannot make us allocate billions of slots.
pub(super) fn indexed<'a>(
    entries: impl Iterator<Item = (&'a str, &'a Value)>,
    prefix: &str,
) -> BTreeMap<u64, Group<'a>> {
    let mut groups: BTreeMap<u64, Group<'a>> = BTreeMap::new();
    for (key, value) in entries {
        let Some((index, rest)) = key.strip_prefix(prefix).and_then(|tail| tail.split_once('.')) else {
            continue;
        };
        let Ok(index) = index.parse::<u64>() else {
            continue;
        };
        groups.entry(index).or_default().push((rest, value));
    }
    groups
}

pub(super) fn field<'a>(group: &Group<'a>, name: &str) -> Option<&'a Value> {
    group.iter().find(|(key, _)| *key == name).map(|(_, value)| *value)
}

fn sub_groups<'a>(group: &Group<'a>, prefix: &str) -> BTreeMap<u64, Group<'a>> {
    indexed(group.iter().copied(), prefix)
}

/// An OpenAI tool call; `arguments` re-encoded as JSON text when sanitizing decoded it.
fn tool_call(id: Option<&Value>, name: Option<&Value>, arguments: Option<&Value>) -> Option<Value> {
    let name = name.and_then(text_of);
    let arguments = arguments.filter(|v| !v.is_null()).map(|arguments| match arguments {
        Value::String(text) => text.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    });
    if name.is_none() && arguments.is_none() {
        return None;
    }
    let mut call = Map::new();
    if let Some(id) = id.and_then(text_of) {
        call.insert("id".into(), Value::String(id));
    }
    call.insert("type".into(), Value::String("function".into()));
    let mut function = Map::new();
    function.insert("name".into(), Value::String(name.unwrap_or_default()));
    function.insert("arguments".into(), Value::String(arguments.unwrap_or_default()));
    call.insert("function".into(), Value::Object(function));
    Some(Value::Object(call))
}

/// Message content as OpenAI has it: text, or a list of typed parts. Sanitizing turns content
/// that merely looks like JSON (`{"answer": 42}`) into a structure; it goes back to text here.
fn openai_content(content: &Value) -> Value {
    match content {
        Value::String(_) => content.clone(),
        Value::Array(parts) if parts.iter().all(|p| p.get("type").is_some_and(Value::is_string)) => content.clone(),
        other => Value::String(serde_json::to_string(other).unwrap_or_default()),
    }
}

/// Finishes a message: the default role goes first, and a message with nothing in it is dropped.
fn finish(mut message: Map<String, Value>, default_role: &str) -> Option<Value> {
    let has_substance =
        ["content", "tool_calls", "function_call", "tool_call_id"].iter().any(|k| message.contains_key(*k));
    if !has_substance {
        return None;
    }
    if !message.contains_key("role") {
        message.insert("role".into(), Value::String(default_role.into()));
    }
    let role = message.shift_remove("role").unwrap_or(Value::Null);
    let mut ordered = Map::new();
    ordered.insert("role".into(), role);
    ordered.extend(message);
    Some(Value::Object(ordered))
}

/// OpenInference's `llm.input_messages.N.message.*` / `llm.output_messages.N.message.*`.
pub(super) fn openinference(attrs: &Map<String, Value>, prefix: &str, default_role: &str) -> Option<Vec<Value>> {
    let groups = indexed(attrs.iter().map(|(k, v)| (k.as_str(), v)), prefix);
    let messages: Vec<Value> = groups.values().filter_map(|group| openinference_message(group, default_role)).collect();
    (!messages.is_empty()).then_some(messages)
}

fn openinference_message(group: &Group<'_>, default_role: &str) -> Option<Value> {
    let mut message = Map::new();
    if let Some(role) = field(group, "message.role").and_then(text_of) {
        message.insert("role".into(), Value::String(role));
    }
    if let Some(content) = field(group, "message.content").filter(|v| !v.is_null()) {
        message.insert("content".into(), openai_content(content));
    } else {
        let parts: Vec<Value> = sub_groups(group, "message.contents.")
            .values()
            .filter_map(|part| {
                if let Some(url) = field(part, "message_content.image.image.url").and_then(text_of) {
                    return Some(json!({ "type": "image_url", "image_url": { "url": url } }));
                }
                let text = field(part, "message_content.text").and_then(text_of)?;
                Some(json!({ "type": "text", "text": text }))
            })
            .collect();
        if !parts.is_empty() {
            message.insert("content".into(), Value::Array(parts));
        }
    }
    if let Some(name) = field(group, "message.name").and_then(text_of) {
        message.insert("name".into(), Value::String(name));
    }
    let calls: Vec<Value> = sub_groups(group, "message.tool_calls.")
        .values()
        .filter_map(|call| {
            tool_call(
                field(call, "tool_call.id"),
                field(call, "tool_call.function.name"),
                field(call, "tool_call.function.arguments"),
            )
        })
        .collect();
    if !calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    if let Some(id) = field(group, "message.tool_call_id").and_then(text_of) {
        message.insert("tool_call_id".into(), Value::String(id));
    }
    finish(message, default_role)
}

/// Traceloop's and the older GenAI semconv's `gen_ai.prompt.N.*` / `gen_ai.completion.N.*`.
pub(super) fn flattened(attrs: &Map<String, Value>, prefix: &str, default_role: &str) -> Option<Vec<Value>> {
    let groups = indexed(attrs.iter().map(|(k, v)| (k.as_str(), v)), prefix);
    let messages: Vec<Value> = groups.values().filter_map(|group| flattened_message(group, default_role)).collect();
    (!messages.is_empty()).then_some(messages)
}

fn flattened_message(group: &Group<'_>, default_role: &str) -> Option<Value> {
    let mut message = Map::new();
    if let Some(role) = field(group, "role").and_then(text_of) {
        message.insert("role".into(), Value::String(role));
    }
    if let Some(content) = field(group, "content").filter(|v| !v.is_null()) {
        message.insert("content".into(), openai_content(content));
    } else if let Some(prompt) = field(group, "user").filter(|v| is_meaningful(v)) {
        // Traceloop's completion (non-chat) spans name the prompt `gen_ai.prompt.0.user`.
        message.insert("role".into(), Value::String("user".into()));
        message.insert("content".into(), openai_content(prompt));
    }
    let calls: Vec<Value> = sub_groups(group, "tool_calls.")
        .values()
        .filter_map(|call| tool_call(field(call, "id"), field(call, "name"), field(call, "arguments")))
        .collect();
    if !calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    if field(group, "function_call.name").is_some() {
        let name = field(group, "function_call.name").cloned().unwrap_or(Value::Null);
        let arguments = field(group, "function_call.arguments").cloned().unwrap_or(Value::Null);
        message.insert("function_call".into(), json!({ "name": name, "arguments": arguments }));
    }
    if let Some(id) = field(group, "tool_call_id").and_then(text_of) {
        message.insert("tool_call_id".into(), Value::String(id));
    }
    if let Some(reason) = field(group, "finish_reason").and_then(text_of) {
        message.insert("finish_reason".into(), Value::String(reason));
    }
    finish(message, default_role)
}

/// GenAI content events (`gen_ai.system.message`, `gen_ai.user.message`, ...), Spring AI's
/// `gen_ai.content.prompt`, or a details event carrying `gen_ai.input.messages`.
pub(super) fn event_inputs(events: &[SpanEvent]) -> Option<Payload> {
    let whole = events.iter().find_map(|event| match event.name.as_str() {
        "gen_ai.content.prompt" => event.attributes.get("gen_ai.prompt"),
        _ => event.attributes.get("gen_ai.input.messages"),
    });
    if let Some(value) = whole.filter(|v| is_meaningful(v)) {
        return Some(Payload { value: structured(value).into_owned(), openai_chat: false });
    }
    let messages: Vec<Value> = events
        .iter()
        .filter_map(|event| {
            let role = match event.name.as_str() {
                "gen_ai.system.message" => "system",
                "gen_ai.user.message" => "user",
                "gen_ai.assistant.message" => "assistant",
                "gen_ai.tool.message" => "tool",
                _ => return None,
            };
            event_message(&event.attributes, role)
        })
        .collect();
    (!messages.is_empty()).then(|| chat_request(messages))
}

/// `gen_ai.choice` events, Spring AI's `gen_ai.content.completion`, or `gen_ai.output.messages`
/// on a details event.
pub(super) fn event_outputs(events: &[SpanEvent]) -> Option<Payload> {
    let whole = events.iter().find_map(|event| match event.name.as_str() {
        "gen_ai.content.completion" => event.attributes.get("gen_ai.completion"),
        _ => event.attributes.get("gen_ai.output.messages"),
    });
    if let Some(value) = whole.filter(|v| is_meaningful(v)) {
        return Some(Payload { value: structured(value).into_owned(), openai_chat: false });
    }
    let mut choices: Vec<(i64, Value)> = events
        .iter()
        .filter(|event| event.name == "gen_ai.choice")
        .enumerate()
        .filter_map(|(position, event)| {
            let attrs = &event.attributes;
            let mut message = match attrs.get("message").map(|m| structured(m).into_owned()) {
                Some(Value::Object(message)) => event_message(&message, "assistant")?,
                _ => event_message(attrs, "assistant")?,
            };
            if let (Some(reason), Some(object)) =
                (attrs.get("finish_reason").and_then(text_of), message.as_object_mut())
            {
                object.insert("finish_reason".into(), Value::String(reason));
            }
            let index = attrs.get("index").and_then(super::count).unwrap_or(position as i64);
            Some((index, message))
        })
        .collect();
    choices.sort_by_key(|(index, _)| *index);
    let messages: Vec<Value> = choices.into_iter().map(|(_, message)| message).collect();
    (!messages.is_empty()).then(|| chat_completion(messages))
}

/// One message from event attributes (`content`, `role`, `tool_calls`, `id`).
fn event_message(attrs: &Map<String, Value>, default_role: &str) -> Option<Value> {
    let mut message = Map::new();
    if let Some(role) = attrs.get("role").and_then(text_of) {
        message.insert("role".into(), Value::String(role));
    }
    if let Some(content) = attrs.get("content").filter(|v| !v.is_null()) {
        message.insert("content".into(), openai_content(&structured(content)));
    }
    if let Some(Value::Array(calls)) = attrs.get("tool_calls").map(|c| structured(c).into_owned()) {
        let calls: Vec<Value> = calls
            .iter()
            .filter_map(|call| {
                let function = call.get("function");
                tool_call(
                    call.get("id"),
                    function.and_then(|f| f.get("name")).or_else(|| call.get("name")),
                    function.and_then(|f| f.get("arguments")).or_else(|| call.get("arguments")),
                )
            })
            .collect();
        if !calls.is_empty() {
            message.insert("tool_calls".into(), Value::Array(calls));
        }
    }
    if default_role == "tool" {
        if let Some(id) = attrs.get("id").and_then(text_of) {
            message.insert("tool_call_id".into(), Value::String(id));
        }
    }
    finish(message, default_role)
}

//! Chat payloads rendered as a conversation: OpenAI chat (`{"messages": [...]}`,
//! `{"choices": [{"message": ...}]}`), OpenTelemetry GenAI messages (`[{"role", "parts"}]`) and
//! Anthropic content blocks, with the system prompt, tool calls and tool results.

use std::fmt::Write;

use serde_json::{Map, Value};

use crate::html::esc;
use crate::json_view;

/// One piece of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    ToolCall { id: String, name: String, arguments: String },
    ToolResult { id: String, content: String },
    /// Anything else (images, audio, unknown part types), shown as JSON.
    Other(Value),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: String,
    pub parts: Vec<Part>,
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Tool call arguments arrive as JSON text or as an object; both become text.
fn arguments_text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn str_field<'a>(object: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| object.get(*k).and_then(Value::as_str))
}

/// A typed content part (OpenAI, GenAI `parts`, Anthropic blocks).
fn part(value: &Value) -> Part {
    let Some(object) = value.as_object() else {
        return Part::Text(text_of(value));
    };
    match object.get("type").and_then(Value::as_str).unwrap_or("") {
        "text" | "input_text" | "output_text" => {
            Part::Text(str_field(object, &["text", "content"]).unwrap_or_default().to_string())
        }
        "tool_call" | "tool_use" | "function_call" => Part::ToolCall {
            id: str_field(object, &["id", "call_id"]).unwrap_or_default().to_string(),
            name: str_field(object, &["name"]).unwrap_or_default().to_string(),
            arguments: arguments_text(object.get("arguments").or_else(|| object.get("input"))),
        },
        "tool_call_response" | "tool_result" | "function_call_output" => Part::ToolResult {
            id: str_field(object, &["id", "tool_use_id", "call_id"]).unwrap_or_default().to_string(),
            content: match object.get("response").or_else(|| object.get("content")).or_else(|| object.get("output")) {
                Some(Value::Array(blocks)) => blocks.iter().map(|b| match part(b) {
                    Part::Text(t) => t,
                    _ => b.to_string(),
                }).collect::<Vec<_>>().join("\n"),
                Some(other) => text_of(other),
                None => String::new(),
            },
        },
        _ => Part::Other(value.clone()),
    }
}

/// One message object of any supported shape; `None` when it has no role.
fn message(value: &Value) -> Option<Message> {
    let object = value.as_object()?;
    let role = object.get("role").and_then(Value::as_str)?.to_string();
    let mut parts = Vec::new();
    match object.get("content") {
        Some(Value::Array(items)) => parts.extend(items.iter().map(part)),
        Some(Value::Null) | None => {}
        Some(other) => {
            let text = text_of(other);
            if !text.is_empty() {
                parts.push(Part::Text(text));
            }
        }
    }
    if let Some(Value::Array(items)) = object.get("parts") {
        parts.extend(items.iter().map(part));
    }
    if let Some(Value::Array(calls)) = object.get("tool_calls") {
        for call in calls {
            let function = call.get("function").unwrap_or(call);
            parts.push(Part::ToolCall {
                id: call.get("id").map(text_of).unwrap_or_default(),
                name: function.get("name").map(text_of).unwrap_or_default(),
                arguments: arguments_text(function.get("arguments")),
            });
        }
    }
    if role == "tool" || role == "function" {
        if let Some(id) = object.get("tool_call_id").and_then(Value::as_str) {
            // A tool message is the result of one call: fold its text into a result part.
            let content: Vec<String> = parts
                .iter()
                .map(|p| match p {
                    Part::Text(t) => t.clone(),
                    Part::Other(v) => v.to_string(),
                    _ => String::new(),
                })
                .collect();
            parts = vec![Part::ToolResult { id: id.to_string(), content: content.join("\n") }];
        }
    }
    Some(Message { role, parts })
}

fn messages_of(items: &[Value]) -> Option<Vec<Message>> {
    let parsed: Vec<Message> = items.iter().filter_map(message).collect();
    (!parsed.is_empty() && parsed.len() == items.len()).then_some(parsed)
}

/// Messages a span received: `{"messages": [...]}` (plus Anthropic's `system`), a bare list of
/// messages, or GenAI `parts` messages.
pub fn input_messages(inputs: &Value) -> Option<Vec<Message>> {
    match inputs {
        Value::Array(items) => messages_of(items),
        Value::Object(object) => {
            let mut out = Vec::new();
            match object.get("system") {
                Some(Value::String(system)) => out.push(Message { role: "system".into(), parts: vec![Part::Text(system.clone())] }),
                Some(Value::Array(blocks)) => out.push(Message { role: "system".into(), parts: blocks.iter().map(part).collect() }),
                _ => {}
            }
            match object.get("messages").or_else(|| object.get("input")) {
                Some(Value::Array(items)) => out.extend(messages_of(items)?),
                _ => return None,
            }
            Some(out)
        }
        _ => None,
    }
}

/// Messages a span produced: `choices[].message`, one message object, or a list of messages.
pub fn output_messages(outputs: &Value) -> Option<Vec<Message>> {
    match outputs {
        Value::Array(items) => messages_of(items),
        Value::Object(object) => {
            if let Some(Value::Array(choices)) = object.get("choices") {
                let found: Vec<Message> = choices.iter().filter_map(|c| c.get("message").and_then(message)).collect();
                return (!found.is_empty()).then_some(found);
            }
            if object.contains_key("role") {
                return message(outputs).map(|m| vec![m]);
            }
            None
        }
        _ => None,
    }
}

fn render_part(out: &mut String, part: &Part) {
    match part {
        Part::Text(text) => {
            let _ = write!(out, "<div class=\"msg-text\">{}</div>", esc(text));
        }
        Part::ToolCall { id, name, arguments } => {
            let _ = write!(
                out,
                "<div class=\"tool-call\"><div class=\"tool-head\">→ calls <b>{}</b> <span class=\"muted mono\">{}</span></div>{}</div>",
                esc(name),
                esc(id),
                if arguments.is_empty() { String::new() } else { json_view::pretty_text(arguments) }
            );
        }
        Part::ToolResult { id, content } => {
            let _ = write!(
                out,
                "<div class=\"tool-result\"><div class=\"tool-head\">← result <span class=\"muted mono\">{}</span></div>{}</div>",
                esc(id),
                json_view::pretty_text(content)
            );
        }
        Part::Other(value) => out.push_str(&json_view::pretty(value)),
    }
}

/// The conversation: each message a bubble by role; long system prompts fold.
pub fn render(messages: &[Message]) -> String {
    let mut out = String::from("<ol class=\"chat\">");
    for message in messages {
        let role = message.role.to_ascii_lowercase();
        let class = match role.as_str() {
            "system" | "developer" => "system",
            "user" | "human" => "user",
            "assistant" | "model" | "ai" => "assistant",
            "tool" | "function" => "tool",
            _ => "other",
        };
        let _ = write!(out, "<li class=\"msg {class}\"><div class=\"role\">{}</div>", esc(&message.role));
        let length: usize = message.parts.iter().map(|p| if let Part::Text(t) = p { t.len() } else { 0 }).sum();
        let fold = class == "system" && length > 400;
        if fold {
            out.push_str("<details><summary>System prompt</summary>");
        }
        for part in &message.parts {
            render_part(&mut out, part);
        }
        if fold {
            out.push_str("</details>");
        }
        out.push_str("</li>");
    }
    out.push_str("</ol>");
    out
}

/// Tool definitions (`mlflow.chat.tools`): name, description, parameters.
pub fn render_tools(tools: &Value) -> String {
    let Some(items) = tools.as_array() else {
        return String::new();
    };
    let mut out = String::from("<ul class=\"tools\">");
    for tool in items {
        let function = tool.get("function").unwrap_or(tool);
        let name = function.get("name").map(text_of).unwrap_or_default();
        let description = function.get("description").map(text_of).unwrap_or_default();
        let _ = write!(out, "<li><details><summary><b>{}</b> <span class=\"muted\">{}</span></summary>", esc(&name), esc(&description));
        if let Some(parameters) = function.get("parameters").or_else(|| function.get("input_schema")) {
            out.push_str(&json_view::pretty(parameters));
        }
        out.push_str("</details></li>");
    }
    out.push_str("</ul>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn openai_request_and_response() {
        let inputs = json!({"model": "m", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\": \"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "18C"}
        ]});
        let messages = input_messages(&inputs).unwrap();
        assert_eq!(messages.len(), 4);
        assert_eq!(messages[2].parts[0], Part::ToolCall { id: "c1".into(), name: "weather".into(), arguments: "{\"city\": \"Paris\"}".into() });
        assert_eq!(messages[3].parts[0], Part::ToolResult { id: "c1".into(), content: "18C".into() });
        let outputs = json!({"choices": [{"message": {"role": "assistant", "content": "Sunny, 18C."}}]});
        assert_eq!(output_messages(&outputs).unwrap()[0].parts[0], Part::Text("Sunny, 18C.".into()));
        let html = render(&messages);
        assert!(html.contains("msg system") && html.contains("→ calls <b>weather</b>"), "{html}");
    }

    #[test]
    fn genai_parts_and_anthropic_blocks() {
        let inputs = json!([
            {"role": "user", "parts": [{"type": "text", "content": "hi"}]},
            {"role": "assistant", "parts": [{"type": "tool_call", "id": "t", "name": "search", "arguments": {"q": "x"}}]},
            {"role": "tool", "parts": [{"type": "tool_call_response", "id": "t", "response": "found"}]}
        ]);
        let messages = input_messages(&inputs).unwrap();
        assert_eq!(messages[1].parts[0], Part::ToolCall { id: "t".into(), name: "search".into(), arguments: "{\"q\":\"x\"}".into() });
        assert_eq!(messages[2].parts[0], Part::ToolResult { id: "t".into(), content: "found".into() });
        let anthropic = json!({"system": "rules", "messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "u", "content": [{"type": "text", "text": "ok"}]}]}]});
        let messages = input_messages(&anthropic).unwrap();
        assert_eq!(messages[0].role, "system");
        assert_eq!(messages[1].parts[0], Part::ToolResult { id: "u".into(), content: "ok".into() });
        assert!(input_messages(&json!({"query": "not chat"})).is_none());
        assert!(output_messages(&json!("plain")).is_none());
    }
}

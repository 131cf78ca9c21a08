//! The span panel: type, timing, model and token usage of one span, its chat as a conversation,
//! inputs and outputs as pretty JSON, the remaining attributes, and events with exceptions.

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use rivulet_api::AppState;
use rivulet_core::traces::model::StoredSpan;
use rivulet_core::traces::{keys, StatusCode, TokenUsage};
use serde_json::{Map, Value};

use crate::html::{self, esc, Ctx};
use crate::trace::{decode_attribute, nanos, status_of};
use crate::{chat, ctx, json_view};

/// Attributes shown in their own sections, or not at all.
const SHOWN_ELSEWHERE: &[&str] = &[keys::SPAN_INPUTS, keys::SPAN_OUTPUTS, keys::TRACE_REQUEST_ID, keys::CHAT_TOOLS];

pub async fn panel(State(state): State<AppState>, headers: HeaderMap, Path((trace_id, span_id)): Path<(String, String)>) -> Response {
    let ctx = ctx(&state, &headers);
    match state.traces.get_span(&trace_id, &span_id).await {
        Ok(Some(span)) => Html(render(&ctx, &trace_id, &span)).into_response(),
        Ok(None) => (axum::http::StatusCode::NOT_FOUND, Html(html::notice("error", "This span does not exist (any more)."))).into_response(),
        Err(error) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, Html(html::notice("error", &error.message))).into_response(),
    }
}

fn section(title: &str, open: bool, badge: &str, content: &str) -> String {
    format!(
        "<details class=\"section\"{}><summary>{}{}</summary>{}</details>",
        if open { " open" } else { "" },
        esc(title),
        badge,
        content
    )
}

fn events(events: &[Value], start_ns: i64) -> (String, usize) {
    let mut exceptions = 0;
    let mut out = String::from("<ol class=\"events\">");
    for event in events {
        let name = event.get("name").and_then(Value::as_str).unwrap_or("event");
        let at = nanos(event.get("time_unix_nano").or_else(|| event.get("timestamp")));
        let empty = Map::new();
        let attributes = event.get("attributes").and_then(Value::as_object).unwrap_or(&empty);
        let offset = if at > 0 && start_ns > 0 { html::duration_ms((at - start_ns) as f64 / 1e6) } else { String::new() };
        if name == "exception" {
            exceptions += 1;
            let field = |key: &str| attributes.get(key).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            let _ = write!(
                out,
                "<li class=\"exception\"><div><b>{}</b>: {} <span class=\"muted\">+{}</span></div>",
                esc(&field("exception.type").unwrap_or_else(|| "Exception".into())),
                esc(&field("exception.message").unwrap_or_default()),
                esc(&offset)
            );
            if let Some(stack) = field("exception.stacktrace") {
                let _ = write!(out, "<pre class=\"stack\">{}</pre>", esc(&stack));
            }
            out.push_str("</li>");
        } else {
            let _ = write!(out, "<li><div><b>{}</b> <span class=\"muted\">+{}</span></div>", esc(name), esc(&offset));
            if !attributes.is_empty() {
                out.push_str(&json_view::pretty(&Value::Object(attributes.clone())));
            }
            out.push_str("</li>");
        }
    }
    out.push_str("</ol>");
    (out, exceptions)
}

/// The panel's HTML for one stored span.
pub fn render(ctx: &Ctx, trace_id: &str, span: &StoredSpan) -> String {
    let dict: Value = serde_json::from_str(&span.content).unwrap_or(Value::Null);
    let empty = Map::new();
    let raw_attributes = dict.get("attributes").and_then(Value::as_object).unwrap_or(&empty);
    let attribute = |key: &str| raw_attributes.get(key).map(|v| match v {
        Value::String(text) => decode_attribute(text),
        other => other.clone(),
    });
    let name = dict.get("name").and_then(Value::as_str).unwrap_or("(unnamed)");
    let start_ns = nanos(dict.get("start_time_unix_nano"));
    let end_ns = nanos(dict.get("end_time_unix_nano")).max(start_ns);
    let status = status_of(dict.get("status"));
    let status_message = dict.get("status").and_then(|s| s.get("message")).and_then(Value::as_str).unwrap_or("");
    let span_type = attribute(keys::SPAN_TYPE).and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let model = attribute(keys::LLM_MODEL).and_then(|v| v.as_str().map(str::to_string));
    let usage = attribute(keys::TOKEN_USAGE).as_ref().and_then(TokenUsage::from_json);
    let inputs = attribute(keys::SPAN_INPUTS);
    let outputs = attribute(keys::SPAN_OUTPUTS);
    let link = format!("{}{}?span={}", ctx.origin, ctx.url(&format!("/ui/traces/{trace_id}")), span.span_id);

    let mut out = String::new();
    let _ = write!(
        out,
        "<div class=\"span-head\" data-span=\"{id}\"><h2>{name}</h2>{kind}{status}</div>\
         <div class=\"ids\"><span class=\"muted\">Span</span> <span class=\"mono\">{id}</span>{copy}{copy_link}{parent}</div><div class=\"facts\">\
         <div class=\"fact\"><span>Duration</span><strong>{duration}</strong></div><div class=\"fact\"><span>Started</span><strong>{started}</strong></div>",
        id = esc(&span.span_id),
        name = esc(name),
        kind = if span_type.is_empty() { String::new() } else { format!("<span class=\"type t-{0}\">{0}</span>", esc(&span_type)) },
        status = match status {
            StatusCode::Error => "<span class=\"status err\">Error</span>",
            StatusCode::Ok => "<span class=\"status ok\">OK</span>",
            StatusCode::Unset => "",
        },
        copy = html::copy_button(&span.span_id, "span id"),
        copy_link = html::copy_button(&link, "link to this span").replace(">copy<", ">copy link<"),
        parent = span.parent_span_id.as_ref().map(|p| format!(" <span class=\"muted\">parent</span> <a class=\"mono\" href=\"?span={0}\" data-span-link=\"{0}\">{0}</a>", esc(p))).unwrap_or_default(),
        duration = html::duration_ms((end_ns - start_ns) as f64 / 1e6),
        started = if start_ns > 0 { html::time(start_ns / 1_000_000) } else { "—".into() },
    );
    if let Some(model) = &model {
        let _ = write!(out, "<div class=\"fact\"><span>Model</span><strong class=\"mono\">{}</strong></div>", esc(model));
    }
    if let Some(usage) = &usage {
        out.push_str(&html::token_usage_fact(usage));
    }
    out.push_str("</div>");
    if status == StatusCode::Error && !status_message.is_empty() {
        out.push_str(&html::notice("error", status_message));
    }

    let input_chat = inputs.as_ref().and_then(chat::input_messages);
    let output_chat = outputs.as_ref().and_then(chat::output_messages);
    let has_chat = input_chat.is_some() || output_chat.is_some();
    if has_chat {
        let mut conversation = Vec::new();
        conversation.extend(input_chat.unwrap_or_default());
        conversation.extend(output_chat.unwrap_or_default());
        let mut content = chat::render(&conversation);
        if let Some(tools) = attribute(keys::CHAT_TOOLS) {
            let rendered = chat::render_tools(&tools);
            if !rendered.is_empty() {
                let _ = write!(content, "<h3 class=\"sub\">Tools offered</h3>{rendered}");
            }
        }
        out.push_str(&section("Chat", true, "", &content));
    }
    if let Some(inputs) = &inputs {
        out.push_str(&section("Inputs", !has_chat, "", &json_view::pretty(inputs)));
    }
    if let Some(outputs) = &outputs {
        out.push_str(&section("Outputs", !has_chat, "", &json_view::pretty(outputs)));
    }
    let mut rest = Map::new();
    for (key, value) in raw_attributes {
        if !SHOWN_ELSEWHERE.contains(&key.as_str()) {
            rest.insert(key.clone(), match value {
                Value::String(text) => decode_attribute(text),
                other => other.clone(),
            });
        }
    }
    if !rest.is_empty() {
        let mut table = String::from("<table class=\"kv\"><tbody>");
        for (key, value) in &rest {
            let shown = match value {
                Value::String(s) => format!("<span class=\"wrap\">{}</span>", esc(s)),
                Value::Object(_) | Value::Array(_) => json_view::pretty(value),
                other => format!("<span class=\"mono\">{}</span>", esc(&other.to_string())),
            };
            let _ = write!(table, "<tr><th class=\"mono\">{}</th><td>{}</td></tr>", esc(key), shown);
        }
        table.push_str("</tbody></table>");
        out.push_str(&section(&format!("Attributes ({})", rest.len()), false, "", &table));
    }
    if let Some(items) = dict.get("events").and_then(Value::as_array).filter(|e| !e.is_empty()) {
        let (content, exceptions) = events(items, start_ns);
        let badge = if exceptions > 0 { format!(" <span class=\"status err\">{exceptions} exception{}</span>", if exceptions == 1 { "" } else { "s" }) } else { String::new() };
        out.push_str(&section(&format!("Events ({})", items.len()), exceptions > 0, &badge, &content));
    }
    if let Some(links) = dict.get("links").and_then(Value::as_array).filter(|l| !l.is_empty()) {
        let mut content = String::from("<ul>");
        for link in links {
            let trace = link.get("trace_id").and_then(Value::as_str).unwrap_or("");
            let span_id = link.get("span_id").and_then(Value::as_str).unwrap_or("");
            let href = format!("{}?span={}", ctx.url(&format!("/ui/traces/{trace}")), html::enc(span_id));
            let _ = write!(content, "<li><a class=\"mono\" href=\"{}\">{} / {}</a></li>", esc(&href), esc(trace), esc(span_id));
        }
        content.push_str("</ul>");
        out.push_str(&section("Links", false, "", &content));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_chat_tokens_and_exceptions() {
        let content = serde_json::json!({
            "name": "chat gpt", "start_time_unix_nano": 1_000_000_000i64, "end_time_unix_nano": 1_250_000_000i64,
            "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
            "attributes": {
                "mlflow.spanType": "\"CHAT_MODEL\"",
                "mlflow.llm.model": "\"llama-3\"",
                "mlflow.chat.tokenUsage": "{\"input_tokens\": 10, \"output_tokens\": 5, \"total_tokens\": 15}",
                "mlflow.spanInputs": "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi <there>\"}]}",
                "mlflow.spanOutputs": "{\"choices\": [{\"message\": {\"role\": \"assistant\", \"content\": \"Hello\"}}]}",
                "custom": "42"
            },
            "events": [{"name": "exception", "time_unix_nano": 1_100_000_000i64, "attributes": {"exception.type": "ValueError", "exception.message": "bad", "exception.stacktrace": "Traceback\n  line 1"}}]
        });
        let span = StoredSpan { span_id: "00000000000000aa".into(), parent_span_id: None, content: content.to_string() };
        let ctx = Ctx { base: "/p".into(), origin: "http://h".into() };
        let html = render(&ctx, "tr-1", &span);
        for needle in ["Hi &lt;there&gt;", "msg assistant", "llama-3", "<strong>15</strong>", "ValueError", "Traceback", "1 exception", "boom", "250 ms", "http://h/p/ui/traces/tr-1?span=00000000000000aa"] {
            assert!(html.contains(needle), "missing {needle}: {html}");
        }
    }
}

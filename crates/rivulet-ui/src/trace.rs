//! The trace page: header with ids, status, timing, tokens and previews; a waterfall of the span
//! tree drawn by the script from a compact skeleton; and the selected span's panel.
//
// A trace's skeleton (`/tree`) holds per span only what a waterfall row shows — id, parent,
// name, type, start, duration, status, model, tokens — as arrays, never inputs or outputs. The
// span JSON is scanned with a visitor that skips every other attribute without allocating, so a
// 30,000-span trace with large payloads is a few megabytes of parsing and ~2 MB of output
// (gzipped when the browser accepts it). Span details load one span at a time.

use std::collections::HashMap;
use std::fmt::{self, Write};
use std::io::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use rivulet_api::AppState;
use rivulet_core::traces::model::{StoredSpan, TraceInfo};
use rivulet_core::traces::{keys, trace_keys, StatusCode, TokenUsage};
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::html::{self, esc, query, Crumb};
use crate::traces::state_badge;
use crate::{ctx, span, OrPage, PageResult};

/// The few span attributes a waterfall row needs; every other attribute is skipped unread.
#[derive(Default)]
struct RowAttributes {
    span_type: Option<String>,
    model: Option<String>,
    usage: Option<String>,
}

impl<'de> Deserialize<'de> for RowAttributes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RowVisitor;
        impl<'de> Visitor<'de> for RowVisitor {
            type Value = RowAttributes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("span attributes")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RowAttributes, A::Error> {
                let mut out = RowAttributes::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let slot = match key.as_ref() {
                        keys::SPAN_TYPE => &mut out.span_type,
                        keys::LLM_MODEL => &mut out.model,
                        keys::TOKEN_USAGE => &mut out.usage,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    *slot = match map.next_value::<Value>()? {
                        Value::String(text) => Some(text),
                        other => Some(other.to_string()),
                    };
                }
                Ok(out)
            }
        }
        deserializer.deserialize_map(RowVisitor)
    }
}

#[derive(Deserialize, Default)]
struct RowDict {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    start_time_unix_nano: Option<Value>,
    #[serde(default)]
    end_time_unix_nano: Option<Value>,
    #[serde(default)]
    status: Option<Value>,
    #[serde(default)]
    attributes: RowAttributes,
}

/// A stored attribute is JSON text; strings come back as the string itself.
pub(crate) fn decode_attribute(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

pub(crate) fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

pub(crate) fn nanos(value: Option<&Value>) -> i64 {
    match value {
        Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_u64().map(|u| u.min(i64::MAX as u64) as i64)).unwrap_or(0),
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

pub(crate) fn status_of(value: Option<&Value>) -> StatusCode {
    match value {
        Some(Value::Object(status)) => status.get("code").and_then(Value::as_str).map_or(StatusCode::Unset, StatusCode::parse),
        Some(Value::String(code)) => StatusCode::parse(code),
        _ => StatusCode::Unset,
    }
}

struct Row {
    span_id: String,
    parent: Option<String>,
    name: String,
    span_type: String,
    start_ns: i64,
    end_ns: i64,
    status: u8,
    model: String,
    tokens: Option<i64>,
}

fn row(span: &StoredSpan) -> Row {
    let dict: RowDict = serde_json::from_str(&span.content).unwrap_or_default();
    let start_ns = nanos(dict.start_time_unix_nano.as_ref());
    let end_ns = nanos(dict.end_time_unix_nano.as_ref()).max(start_ns);
    let decode = |text: &Option<String>| text.as_deref().map(decode_attribute).as_ref().and_then(as_text).unwrap_or_default();
    let tokens = dict.attributes.usage.as_deref().map(decode_attribute).as_ref().and_then(TokenUsage::from_json).map(|u| u.total_tokens);
    Row {
        span_id: span.span_id.clone(),
        parent: span.parent_span_id.clone(),
        name: dict.name.unwrap_or_default(),
        span_type: decode(&dict.attributes.span_type),
        start_ns,
        end_ns,
        status: match status_of(dict.status.as_ref()) {
            StatusCode::Unset => 0,
            StatusCode::Ok => 1,
            StatusCode::Error => 2,
        },
        model: decode(&dict.attributes.model),
        tokens,
    }
}

/// The skeleton as JSON: `{"start_ns": "…", "spans": [[id, parent_index, name, type, start_us,
/// duration_us, status, model, tokens], …]}` in start order; parent −1 for roots and orphans.
pub(crate) fn skeleton(spans: &[StoredSpan]) -> String {
    let mut rows: Vec<Row> = spans.iter().map(row).collect();
    rows.sort_by(|a, b| a.start_ns.cmp(&b.start_ns).then_with(|| a.span_id.cmp(&b.span_id)));
    let index: HashMap<&str, usize> = rows.iter().enumerate().map(|(i, r)| (r.span_id.as_str(), i)).collect();
    let start = rows.iter().map(|r| r.start_ns).min().unwrap_or(0);
    let mut out = String::with_capacity(rows.len() * 80 + 64);
    let _ = write!(out, "{{\"start_ns\":\"{start}\",\"spans\":[");
    for (i, r) in rows.iter().enumerate() {
        let parent = r.parent.as_deref().and_then(|p| index.get(p)).map_or(-1, |&p| p as i64);
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "[{},{parent},{},{},{},{},{},{},{}]",
            Value::String(r.span_id.clone()),
            Value::String(r.name.clone()),
            Value::String(r.span_type.clone()),
            (r.start_ns - start) / 1000,
            (r.end_ns - r.start_ns) / 1000,
            r.status,
            Value::String(r.model.clone()),
            r.tokens.map_or("null".to_string(), |t| t.to_string()),
        );
    }
    out.push_str("]}");
    out
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")))
}

pub async fn tree(State(state): State<AppState>, headers: HeaderMap, Path(trace_id): Path<String>) -> Response {
    let spans = match state.traces.get_spans(&trace_id).await {
        Ok(spans) => spans,
        Err(error) => {
            let status = axum::http::StatusCode::from_u16(error.code.http_status()).unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
            return (status, error.message).into_response();
        }
    };
    let body = tokio::task::spawn_blocking(move || skeleton(&spans)).await.unwrap_or_default();
    if body.len() > 32 * 1024 && accepts_gzip(&headers) {
        let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 6), flate2::Compression::fast());
        if encoder.write_all(body.as_bytes()).is_ok() {
            if let Ok(compressed) = encoder.finish() {
                return (
                    [(header::CONTENT_TYPE, "application/json"), (header::CONTENT_ENCODING, "gzip"), (header::VARY, "accept-encoding")],
                    compressed,
                )
                    .into_response();
            }
        }
    }
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[derive(Debug, Default, Deserialize)]
pub struct TraceQuery {
    #[serde(default)]
    span: String,
}

fn usage_of(info: &TraceInfo) -> String {
    let Some(text) = info.trace_metadata.get(trace_keys::TOKEN_USAGE) else {
        return String::new();
    };
    let Some(usage) = serde_json::from_str::<Value>(text).ok().as_ref().and_then(TokenUsage::from_json) else {
        return String::new();
    };
    html::token_usage_fact(&usage)
}

fn pills(title: &str, map: &std::collections::BTreeMap<String, String>) -> String {
    let user: Vec<_> = map.iter().filter(|(k, _)| !k.starts_with("mlflow.")).collect();
    if user.is_empty() {
        return String::new();
    }
    let mut out = format!("<div class=\"pills\" aria-label=\"{title}\"><span class=\"muted\">{title}</span>");
    for (key, value) in user {
        let _ = write!(out, "<span class=\"pill\"><b>{}</b> {}</span>", esc(key), esc(&html::truncate(value, 80)));
    }
    out.push_str("</div>");
    out
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Path(trace_id): Path<String>, Query(params): Query<TraceQuery>) -> PageResult {
    let ctx = ctx(&state, &headers);
    let info = state.traces.get_trace_info(&trace_id).await.or_page(&ctx)?;
    let experiment = state.tracking.get_experiment(info.experiment_id).await.ok();
    let experiment_name = experiment.as_ref().map_or_else(|| info.experiment_id.to_string(), |e| e.name.clone());
    let title = info.name.clone().unwrap_or_else(|| info.trace_id.clone());
    let trace_url = ctx.url(&format!("/ui/traces/{}", info.trace_id));
    let exp_url = |tab: &str| ctx.url(&format!("/ui/experiments/{}/{tab}", info.experiment_id));

    let mut body = String::new();
    let _ = write!(
        body,
        "<div class=\"head\"><h1>{name}</h1>{status}<span class=\"muted mono\">{id}</span>{copy}{link}</div>",
        name = esc(&title),
        status = state_badge(info.state),
        id = esc(&info.trace_id),
        copy = html::copy_button(&info.trace_id, "trace id"),
        link = html::copy_button(&format!("{}{}", ctx.origin, trace_url), "link to this trace").replace(">copy<", ">copy link<"),
    );
    body.push_str("<div class=\"facts\">");
    let _ = write!(body, "<div class=\"fact\"><span>Started</span><strong>{}</strong></div>", html::time(info.request_time_ms));
    if let Some(duration) = info.execution_duration_ms {
        let _ = write!(body, "<div class=\"fact\"><span>Duration</span><strong>{}</strong></div>", html::duration_ms(duration as f64));
    }
    if let Some(count) = info.span_count {
        let _ = write!(body, "<div class=\"fact\"><span>Spans</span><strong>{}</strong></div>", html::count(count));
    }
    body.push_str(&usage_of(&info));
    if let Some(session) = &info.session_id {
        let href = format!("{}{}", exp_url("session"), query(&[("id", session)]));
        let _ = write!(body, "<div class=\"fact\"><span>Session</span><strong><a href=\"{}\">{}</a></strong></div>", esc(&href), esc(&html::truncate(session, 40)));
    }
    if let Some(user) = info.trace_metadata.get(trace_keys::USER) {
        let _ = write!(body, "<div class=\"fact\"><span>User</span><strong>{}</strong></div>", esc(user));
    }
    if let Some(run) = info.trace_metadata.get(trace_keys::SOURCE_RUN) {
        let _ = write!(body, "<div class=\"fact\"><span>Run</span><strong><a href=\"{}\">{}</a></strong></div>", esc(&ctx.url(&format!("/ui/runs/{run}"))), esc(&html::truncate(run, 12)));
    }
    body.push_str("</div>");
    body.push_str(&pills("Tags", &info.tags));
    body.push_str(&pills("Metadata", &info.trace_metadata));
    if info.request_preview.is_some() || info.response_preview.is_some() {
        let _ = write!(
            body,
            "<div class=\"previews\"><div><span class=\"muted\">Request</span><p>{}</p></div><div><span class=\"muted\">Response</span><p>{}</p></div></div>",
            esc(info.request_preview.as_deref().unwrap_or("")),
            esc(info.response_preview.as_deref().unwrap_or(""))
        );
    }
    let selected = params.span.trim();
    let initial_panel = if selected.is_empty() {
        "<p class=\"muted\">Select a span to see its inputs, outputs, attributes and events.</p>".to_string()
    } else {
        match state.traces.get_span(&info.trace_id, selected).await {
            Ok(Some(stored)) => span::render(&ctx, &info.trace_id, &stored),
            Ok(None) => html::notice("error", &format!("This trace has no span '{selected}'.")),
            Err(error) => html::notice("error", &error.message),
        }
    };
    let _ = write!(
        body,
        "<div class=\"trace-view\">\
         <section class=\"waterfall-pane\" aria-label=\"Span tree and timeline\">\
         <div class=\"wf-tools\"><label class=\"sr\" for=\"span-filter\">Find spans</label>\
         <input id=\"span-filter\" type=\"search\" placeholder=\"Find span by name or type\" autocomplete=\"off\">\
         <button type=\"button\" data-wf=\"expand\">Expand all</button><button type=\"button\" data-wf=\"collapse\">Collapse all</button>\
         <span class=\"muted\" id=\"wf-count\"></span></div>\
         <div id=\"waterfall\" class=\"waterfall\" role=\"tree\" tabindex=\"0\" aria-label=\"Spans\" data-tree=\"{tree}\" data-spans=\"{spans}\" data-trace=\"{trace}\" data-selected=\"{selected}\">\
         <p class=\"muted loading\">Loading spans…</p></div></section>\
         <section id=\"span-panel\" class=\"span-panel\" tabindex=\"-1\" aria-label=\"Selected span\" aria-live=\"polite\">{initial_panel}</section></div>",
        tree = esc(&format!("{trace_url}/tree")),
        spans = esc(&format!("{trace_url}/spans/")),
        trace = esc(&trace_url),
        selected = esc(selected),
    );
    let crumbs = [
        Crumb::link("Experiments", ctx.url("/")),
        Crumb::link(experiment_name, exp_url("traces")),
        Crumb::link("Traces", exp_url("traces")),
        Crumb::text(html::truncate(&title, 48)),
    ];
    Ok(html::page(&ctx, &title, &crumbs, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skeleton_orders_by_start_and_links_parents() {
        let span = |id: &str, parent: Option<&str>, start: i64, attrs: &str| StoredSpan {
            span_id: id.into(),
            parent_span_id: parent.map(str::to_string),
            content: format!(
                "{{\"name\": \"n-{id}\", \"start_time_unix_nano\": {start}, \"end_time_unix_nano\": {}, \"status\": {{\"code\": \"STATUS_CODE_ERROR\"}}, \"attributes\": {{{attrs}}}}}",
                start + 5000
            ),
        };
        let spans = vec![
            span("b", Some("a"), 2000, r#""mlflow.spanType": "\"LLM\"", "mlflow.chat.tokenUsage": "{\"input_tokens\": 3, \"output_tokens\": 4}", "mlflow.spanInputs": "{\"huge\": 1}""#),
            span("a", None, 1000, r#""mlflow.llm.model": "\"gpt-x\"""#),
            span("c", Some("missing"), 3000, ""),
        ];
        let parsed: Value = serde_json::from_str(&skeleton(&spans)).unwrap();
        assert_eq!(parsed["start_ns"], "1000");
        let rows = parsed["spans"].as_array().unwrap();
        assert_eq!(rows[0], serde_json::json!(["a", -1, "n-a", "", 0, 5, 2, "gpt-x", null]));
        assert_eq!(rows[1], serde_json::json!(["b", 0, "n-b", "LLM", 1, 5, 2, "", 7]));
        assert_eq!(rows[2][1], -1);
    }
}

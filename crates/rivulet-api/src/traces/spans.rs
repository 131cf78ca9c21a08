//! Stored span dicts (MLflow's `spans.content`) rendered as OpenTelemetry proto spans in proto
//! JSON, the shape GetTrace and BatchGetTraces answer with.
//
// Each stored attribute is JSON text; it is decoded and re-encoded as a typed AnyValue, because
// the client JSON-encodes every AnyValue it receives: a JSON text sent as `string_value` would
// come out double-encoded (`span.inputs` a string instead of a dict). Older span dict layouts
// (MLflow 2.x `context`/`parent_id`/`start_time`, 3.5's hex ids) are read too, so spans written by
// another MLflow server into the same database still render.

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;
use rivulet_core::traces::model::StoredSpan;
use rivulet_core::traces::{otel_trace_id, parse_hex_id, StatusCode};
use serde_json::{Map, Number, Value};

/// A JSON value as an OTel `AnyValue` in proto JSON.
pub fn any_value(value: &Value) -> Value {
    let mut out = Map::new();
    match value {
        Value::Null => {}
        Value::Bool(b) => {
            out.insert("bool_value".into(), Value::Bool(*b));
        }
        Value::Number(n) => {
            out.insert(number_kind(n).into(), Value::Number(n.clone()));
        }
        Value::String(s) => {
            out.insert("string_value".into(), Value::String(s.clone()));
        }
        Value::Array(items) => {
            let mut array = Map::new();
            if !items.is_empty() {
                array.insert("values".into(), items.iter().map(any_value).collect());
            }
            out.insert("array_value".into(), Value::Object(array));
        }
        Value::Object(map) => {
            let mut kvlist = Map::new();
            if !map.is_empty() {
                kvlist.insert("values".into(), key_values(map, any_value));
            }
            out.insert("kvlist_value".into(), Value::Object(kvlist));
        }
    }
    Value::Object(out)
}

/// Integers that fit int64 are `int_value`; everything else is a double.
fn number_kind(n: &Number) -> &'static str {
    if n.is_i64() {
        "int_value"
    } else {
        "double_value"
    }
}

fn key_values(map: &Map<String, Value>, convert: impl Fn(&Value) -> Value) -> Value {
    map.iter().map(|(key, value)| serde_json::json!({ "key": key, "value": convert(value) })).collect()
}

/// A stored attribute: JSON text decoded to its typed value; text that is not JSON stays a
/// string, and a non-string (an older layout storing native values) is used as is.
fn stored_attribute(value: &Value) -> Value {
    match value {
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(decoded) => any_value(&decoded),
            Err(_) => any_value(value),
        },
        native => any_value(native),
    }
}

/// Raw id bytes from a span dict id: hex (optionally `0x`, as 3.5 and 2.x wrote it) when it
/// has exactly the hex length, base64 otherwise.
fn id_bytes(value: Option<&Value>, len: usize) -> Option<Vec<u8>> {
    let text = value?.as_str()?.trim();
    let hex = text.strip_prefix("0x").unwrap_or(text);
    if hex.len() == len * 2 {
        let parsed = match len {
            8 => parse_hex_id::<8>(hex).map(|b| b.to_vec()),
            16 => parse_hex_id::<16>(hex).map(|b| b.to_vec()),
            _ => None,
        };
        if parsed.is_some() {
            return parsed;
        }
    }
    let bytes = STANDARD.decode(text).or_else(|_| URL_SAFE.decode(text)).ok()?;
    (!bytes.is_empty()).then_some(bytes)
}

fn first<'a>(object: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| object.get(*k).filter(|v| !v.is_null()))
}

/// A nanosecond time as an exact JSON number (they exceed 2^53; the client parses them exactly).
fn nanos(value: Option<&Value>) -> Value {
    match value {
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => Value::Number(n.clone()),
        Some(Value::Number(n)) => n.as_f64().map_or(Value::from(0), |f| Value::from(f.max(0.0) as u64)),
        Some(Value::String(s)) => s.trim().parse::<u64>().map_or(Value::from(0), Value::from),
        _ => Value::from(0),
    }
}

fn status_json(object: &Map<String, Value>) -> Value {
    let (code, message) = match object.get("status") {
        Some(Value::Object(status)) => (
            status.get("code").map(|c| match c {
                Value::Number(n) => StatusCode::from_otlp(n.as_i64().unwrap_or(0) as i32),
                other => StatusCode::parse(other.as_str().unwrap_or_default()),
            }),
            status.get("message").and_then(Value::as_str).map(str::to_string),
        ),
        _ => (
            object.get("status_code").and_then(Value::as_str).map(StatusCode::parse),
            object.get("status_message").and_then(Value::as_str).map(str::to_string),
        ),
    };
    let mut out = Map::new();
    out.insert("code".into(), code.unwrap_or_default().proto_name().into());
    if let Some(message) = message.filter(|m| !m.is_empty()) {
        out.insert("message".into(), message.into());
    }
    Value::Object(out)
}

fn event_json(event: &Value) -> Option<Value> {
    let event = event.as_object()?;
    let mut out = Map::new();
    out.insert("time_unix_nano".into(), nanos(first(event, &["time_unix_nano", "timestamp"])));
    out.insert("name".into(), event.get("name").cloned().unwrap_or_else(|| "".into()));
    if let Some(Value::Object(attributes)) = event.get("attributes") {
        if !attributes.is_empty() {
            out.insert("attributes".into(), key_values(attributes, any_value));
        }
    }
    Some(Value::Object(out))
}

/// Links are stored with `tr-<hex>` trace ids and hex span ids.
fn link_json(link: &Value) -> Option<Value> {
    let link = link.as_object()?;
    let trace_id = link.get("trace_id").and_then(Value::as_str)?;
    let trace_bytes = otel_trace_id(trace_id).map(|b| b.to_vec()).or_else(|| id_bytes(link.get("trace_id"), 16))?;
    let span_bytes = id_bytes(link.get("span_id"), 8)?;
    let mut out = Map::new();
    out.insert("trace_id".into(), STANDARD.encode(trace_bytes).into());
    out.insert("span_id".into(), STANDARD.encode(span_bytes).into());
    if let Some(Value::Object(attributes)) = link.get("attributes") {
        if !attributes.is_empty() {
            out.insert("attributes".into(), key_values(attributes, any_value));
        }
    }
    Some(Value::Object(out))
}

/// One stored span as an OTel proto span (proto JSON, snake_case names, base64 ids).
pub fn otel_span_json(trace_id: &str, span: &StoredSpan) -> Value {
    let dict: Map<String, Value> = match serde_json::from_str::<Value>(&span.content) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let context = dict.get("context").and_then(Value::as_object);
    let from_context = |key: &str| context.and_then(|c| c.get(key));

    // The columns are the fallback: they always hold the span's identity.
    let trace_bytes = id_bytes(dict.get("trace_id").or_else(|| from_context("trace_id")), 16)
        .or_else(|| otel_trace_id(trace_id).map(|b| b.to_vec()))
        .unwrap_or_default();
    let span_bytes = id_bytes(dict.get("span_id").or_else(|| from_context("span_id")), 8)
        .or_else(|| parse_hex_id::<8>(&span.span_id).map(|b| b.to_vec()))
        .unwrap_or_default();
    let parent_bytes = match first(&dict, &["parent_span_id", "parent_id"]) {
        Some(value) => id_bytes(Some(value), 8),
        None => span.parent_span_id.as_deref().and_then(parse_hex_id::<8>).map(|b| b.to_vec()),
    };

    let mut out = Map::new();
    out.insert("trace_id".into(), STANDARD.encode(trace_bytes).into());
    out.insert("span_id".into(), STANDARD.encode(span_bytes).into());
    if let Some(parent) = parent_bytes {
        out.insert("parent_span_id".into(), STANDARD.encode(parent).into());
    }
    out.insert("name".into(), dict.get("name").cloned().filter(Value::is_string).unwrap_or_else(|| "".into()));
    out.insert("start_time_unix_nano".into(), nanos(first(&dict, &["start_time_unix_nano", "start_time"])));
    out.insert("end_time_unix_nano".into(), nanos(first(&dict, &["end_time_unix_nano", "end_time"])));
    if let Some(Value::Object(attributes)) = dict.get("attributes") {
        if !attributes.is_empty() {
            out.insert("attributes".into(), key_values(attributes, stored_attribute));
        }
    }
    if let Some(Value::Array(events)) = dict.get("events") {
        let events: Vec<Value> = events.iter().filter_map(event_json).collect();
        if !events.is_empty() {
            out.insert("events".into(), Value::Array(events));
        }
    }
    if let Some(Value::Array(links)) = dict.get("links") {
        let links: Vec<Value> = links.iter().filter_map(link_json).collect();
        if !links.is_empty() {
            out.insert("links".into(), Value::Array(links));
        }
    }
    out.insert("status".into(), status_json(&dict));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn any_values_are_typed() {
        assert_eq!(any_value(&json!({"q": 1})), json!({"kvlist_value": {"values": [{"key": "q", "value": {"int_value": 1}}]}}));
        assert_eq!(any_value(&json!([true, 1.5])), json!({"array_value": {"values": [{"bool_value": true}, {"double_value": 1.5}]}}));
        assert_eq!(any_value(&json!(null)), json!({}));
        assert_eq!(any_value(&json!([])), json!({"array_value": {}}));
        assert_eq!(any_value(&json!(u64::MAX)), json!({"double_value": u64::MAX}));
    }

    #[test]
    fn stored_dict_becomes_an_otel_span() {
        let content = json!({
            "trace_id": STANDARD.encode([1u8; 16]), "span_id": STANDARD.encode([2u8; 8]), "parent_span_id": null,
            "name": "root", "start_time_unix_nano": 1_795_765_469_933_239_853u64, "end_time_unix_nano": 1_795_765_470_044_351_654u64,
            "events": [{"name": "exception", "time_unix_nano": 5, "attributes": {"exception.message": "kaboom"}}],
            "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
            "attributes": {"a": "{\"q\": 1}", "b": "\"hi\"", "c": "7", "d": "not json"},
            "links": []
        });
        let span = StoredSpan { span_id: "0202020202020202".into(), parent_span_id: None, content: content.to_string() };
        let out = otel_span_json("tr-01010101010101010101010101010101", &span);
        assert_eq!(out["span_id"], "AgICAgICAgI=");
        assert!(out.get("parent_span_id").is_none());
        assert_eq!(out["start_time_unix_nano"].as_u64(), Some(1_795_765_469_933_239_853));
        assert_eq!(out["status"], json!({"code": "STATUS_CODE_ERROR", "message": "boom"}));
        let attrs = out["attributes"].as_array().unwrap();
        assert_eq!(attrs[1], json!({"key": "b", "value": {"string_value": "hi"}}));
        assert_eq!(attrs[2], json!({"key": "c", "value": {"int_value": 7}}));
        assert_eq!(attrs[3], json!({"key": "d", "value": {"string_value": "not json"}}));
        assert_eq!(out["events"][0]["attributes"][0]["value"], json!({"string_value": "kaboom"}));
    }

    #[test]
    fn legacy_layouts_and_hex_ids() {
        let content = json!({
            "context": {"trace_id": "0x01010101010101010101010101010101", "span_id": "0x0202020202020202"},
            "parent_id": "0x0303030303030303", "name": "child", "start_time": 10, "end_time": 20,
            "status_code": "OK", "status_message": "", "attributes": {"x": "1.5"}, "events": [{"name": "e", "timestamp": 3}]
        });
        let span = StoredSpan { span_id: "0202020202020202".into(), parent_span_id: Some("0303030303030303".into()), content: content.to_string() };
        let out = otel_span_json("tr-01010101010101010101010101010101", &span);
        assert_eq!(out["trace_id"], STANDARD.encode([1u8; 16]));
        assert_eq!(out["parent_span_id"], STANDARD.encode([3u8; 8]));
        assert_eq!(out["status"], json!({"code": "STATUS_CODE_OK"}));
        assert_eq!(out["attributes"][0]["value"], json!({"double_value": 1.5}));
        assert_eq!(out["events"][0]["time_unix_nano"], 3);
    }
}

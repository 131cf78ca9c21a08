//! A span as MLflow's span dict (`spans.content`): base64 ids, JSON-encoded attribute values,
//! native event attributes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Value};

use super::json::python_dumps;
use super::{keys, mlflow_trace_id, Span};

/// The span dict MLflow stores, as JSON text. `mlflow.traceRequestId` is always the trace's
/// own id, whatever the sender put there (MLflow does not trust it either).
pub fn span_content(span: &Span) -> String {
    let mut attributes = Map::with_capacity(span.attributes.len() + 1);
    attributes.insert(
        keys::TRACE_REQUEST_ID.to_string(),
        Value::String(python_dumps(&Value::String(mlflow_trace_id(&span.trace_id)))),
    );
    for (key, value) in &span.attributes {
        if key != keys::TRACE_REQUEST_ID {
            attributes.insert(key.clone(), Value::String(python_dumps(value)));
        }
    }
    let events: Vec<Value> = span
        .events
        .iter()
        .map(|event| {
            let mut object = Map::new();
            object.insert("name".into(), event.name.clone().into());
            object.insert("time_unix_nano".into(), event.time_unix_nano.into());
            object.insert("attributes".into(), Value::Object(event.attributes.clone()));
            Value::Object(object)
        })
        .collect();
    let links: Vec<Value> = span
        .links
        .iter()
        .map(|link| {
            let mut object = Map::new();
            object.insert("trace_id".into(), mlflow_trace_id(&link.trace_id).into());
            object.insert("span_id".into(), super::hex_id(&link.span_id).into());
            object.insert("attributes".into(), Value::Object(link.attributes.clone()));
            Value::Object(object)
        })
        .collect();
    let mut status = Map::new();
    status.insert("code".into(), span.status_code.proto_name().into());
    status.insert("message".into(), span.status_message.clone().into());
    let mut dict = Map::new();
    dict.insert("trace_id".into(), STANDARD.encode(span.trace_id).into());
    dict.insert("span_id".into(), STANDARD.encode(span.span_id).into());
    dict.insert("parent_span_id".into(), span.parent_span_id.map_or(Value::Null, |p| STANDARD.encode(p).into()));
    dict.insert("name".into(), span.name.clone().into());
    dict.insert("start_time_unix_nano".into(), span.start_time_unix_nano.into());
    dict.insert("end_time_unix_nano".into(), span.end_time_unix_nano.into());
    dict.insert("events".into(), Value::Array(events));
    dict.insert("status".into(), Value::Object(status));
    dict.insert("attributes".into(), Value::Object(attributes));
    dict.insert("links".into(), Value::Array(links));
    python_dumps(&Value::Object(dict))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::StatusCode;

    #[test]
    fn attributes_are_json_encoded_and_ids_base64() {
        let mut attributes = Map::new();
        attributes.insert("input.value".into(), serde_json::json!({"q": 1}));
        attributes.insert("mlflow.traceRequestId".into(), serde_json::json!("forged"));
        let span = Span {
            trace_id: [1; 16],
            span_id: [2; 8],
            parent_span_id: None,
            name: "root".into(),
            start_time_unix_nano: 10,
            end_time_unix_nano: 20,
            status_code: StatusCode::Ok,
            status_message: String::new(),
            attributes,
            events: vec![],
            links: vec![],
            service_name: None,
        };
        let content: Value = serde_json::from_str(&span_content(&span)).unwrap();
        assert_eq!(content["span_id"], "AgICAgICAgI=");
        assert_eq!(content["parent_span_id"], Value::Null);
        assert_eq!(content["attributes"]["input.value"], "{\"q\": 1}");
        assert_eq!(content["attributes"]["mlflow.traceRequestId"], "\"tr-01010101010101010101010101010101\"");
        assert_eq!(content["status"]["code"], "STATUS_CODE_OK");
    }
}

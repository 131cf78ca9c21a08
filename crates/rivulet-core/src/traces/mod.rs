//! LLM traces as MLflow stores them: spans with JSON attributes, the conventions that give them
//! meaning (span type, inputs, outputs, tokens, model, session), and per-trace roll-ups.

pub mod content;
pub mod conventions;
pub mod digest;
pub mod json;
pub mod model;
pub mod prepare;
pub mod rollup;

use serde_json::{Map, Value};

/// Span attribute keys MLflow reserves (`SpanAttributeKey`).
pub mod keys {
    pub const TRACE_REQUEST_ID: &str = "mlflow.traceRequestId";
    pub const EXPERIMENT_ID: &str = "mlflow.experimentId";
    pub const SPAN_TYPE: &str = "mlflow.spanType";
    pub const SPAN_INPUTS: &str = "mlflow.spanInputs";
    pub const SPAN_OUTPUTS: &str = "mlflow.spanOutputs";
    pub const TOKEN_USAGE: &str = "mlflow.chat.tokenUsage";
    pub const CHAT_TOOLS: &str = "mlflow.chat.tools";
    pub const LLM_MODEL: &str = "mlflow.llm.model";
    pub const LLM_PROVIDER: &str = "mlflow.llm.provider";
    pub const LLM_COST: &str = "mlflow.llm.cost";
    pub const MESSAGE_FORMAT: &str = "mlflow.message.format";
    pub const TRACE_TAG_PREFIX: &str = "mlflow.traceTag.";
    pub const USER_ID: &str = "user.id";
    pub const SESSION_ID: &str = "session.id";
    pub const GEN_AI_CONVERSATION_ID: &str = "gen_ai.conversation.id";
}

/// Trace metadata and tag keys MLflow reserves.
pub mod trace_keys {
    pub const TOKEN_USAGE: &str = "mlflow.trace.tokenUsage";
    pub const COST: &str = "mlflow.trace.cost";
    pub const SESSION: &str = "mlflow.trace.session";
    pub const USER: &str = "mlflow.trace.user";
    pub const SIZE_STATS: &str = "mlflow.trace.sizeStats";
    pub const SOURCE_RUN: &str = "mlflow.sourceRun";
    pub const INFO_FINALIZED: &str = "mlflow.trace.infoFinalized";
    pub const TRACE_NAME: &str = "mlflow.traceName";
    pub const ARTIFACT_LOCATION: &str = "mlflow.artifactLocation";
    pub const SPANS_LOCATION: &str = "mlflow.trace.spansLocation";
    pub const ARCHIVE_LOCATION: &str = "mlflow.trace.archiveLocation";
    pub const ARCHIVAL_FAILURE: &str = "mlflow.trace.archivalFailure";
    pub const SPANS_LOCATION_TRACKING_STORE: &str = "TRACKING_STORE";
}

/// OpenTelemetry span status codes (`STATUS_CODE_UNSET` = 0, `OK` = 1, `ERROR` = 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusCode {
    #[default]
    Unset,
    Ok,
    Error,
}

impl StatusCode {
    pub fn from_otlp(code: i32) -> Self {
        match code {
            1 => StatusCode::Ok,
            2 => StatusCode::Error,
            _ => StatusCode::Unset,
        }
    }
    /// The value of MLflow's `spans.status` column.
    pub fn column(self) -> &'static str {
        match self {
            StatusCode::Unset => "UNSET",
            StatusCode::Ok => "OK",
            StatusCode::Error => "ERROR",
        }
    }
    /// The name in span JSON (`STATUS_CODE_OK`…).
    pub fn proto_name(self) -> &'static str {
        match self {
            StatusCode::Unset => "STATUS_CODE_UNSET",
            StatusCode::Ok => "STATUS_CODE_OK",
            StatusCode::Error => "STATUS_CODE_ERROR",
        }
    }
    pub fn parse(value: &str) -> Self {
        match value {
            "OK" | "STATUS_CODE_OK" => StatusCode::Ok,
            "ERROR" | "STATUS_CODE_ERROR" => StatusCode::Error,
            _ => StatusCode::Unset,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SpanEvent {
    pub name: String,
    pub time_unix_nano: u64,
    /// Native values (MLflow does not JSON-encode event attributes).
    pub attributes: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SpanLink {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub attributes: Map<String, Value>,
}

/// One span, OTLP-agnostic. Attribute values are decoded JSON values: MLflow stores each one
/// JSON-encoded, and strings that themselves hold JSON are decoded one layer at ingest.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent_span_id: Option<[u8; 8]>,
    pub name: String,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    pub status_code: StatusCode,
    pub status_message: String,
    pub attributes: Map<String, Value>,
    pub events: Vec<SpanEvent>,
    pub links: Vec<SpanLink>,
    /// `service.name` of the resource that emitted the span (for the service graph).
    pub service_name: Option<String>,
}

/// Token counts in MLflow's `mlflow.chat.tokenUsage` shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenUsage {
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub total_tokens: i64,
    pub cache_read_input_tokens: Option<i64>,
    pub cache_creation_input_tokens: Option<i64>,
}

impl TokenUsage {
    pub fn add(&mut self, other: &TokenUsage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.total_tokens += other.total_tokens;
        let add_opt = |a: Option<i64>, b: Option<i64>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
        self.cache_read_input_tokens = add_opt(self.cache_read_input_tokens, other.cache_read_input_tokens);
        self.cache_creation_input_tokens = add_opt(self.cache_creation_input_tokens, other.cache_creation_input_tokens);
    }

    /// Reads `{"input_tokens": .., "output_tokens": .., "total_tokens": ..}` (numbers or numeric strings).
    pub fn from_json(value: &Value) -> Option<TokenUsage> {
        let object = value.as_object()?;
        let read = |key: &str| -> Option<i64> {
            match object.get(key)? {
                Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
        };
        let input = read("input_tokens");
        let output = read("output_tokens");
        let total = read("total_tokens");
        if input.is_none() && output.is_none() && total.is_none() {
            return None;
        }
        Some(TokenUsage {
            input_tokens: input.unwrap_or(0),
            output_tokens: output.unwrap_or(0),
            total_tokens: total.unwrap_or(input.unwrap_or(0) + output.unwrap_or(0)),
            cache_read_input_tokens: read("cache_read_input_tokens"),
            cache_creation_input_tokens: read("cache_creation_input_tokens"),
        })
    }

    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("input_tokens".into(), self.input_tokens.into());
        object.insert("output_tokens".into(), self.output_tokens.into());
        object.insert("total_tokens".into(), self.total_tokens.into());
        if let Some(v) = self.cache_read_input_tokens {
            object.insert("cache_read_input_tokens".into(), v.into());
        }
        if let Some(v) = self.cache_creation_input_tokens {
            object.insert("cache_creation_input_tokens".into(), v.into());
        }
        Value::Object(object)
    }
}

/// Lowercase hex of an id, as MLflow's SQL columns hold it.
pub fn hex_id(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[(byte >> 4) as usize] as char);
        out.push(DIGITS[(byte & 0xf) as usize] as char);
    }
    out
}

/// MLflow's trace id for an OpenTelemetry trace id: `tr-` and 32 hex digits.
pub fn mlflow_trace_id(trace_id: &[u8; 16]) -> String {
    format!("tr-{}", hex_id(trace_id))
}

/// Parses hex into a fixed-size id; `None` if the length or a digit is wrong.
pub fn parse_hex_id<const N: usize>(hex: &str) -> Option<[u8; N]> {
    let hex = hex.strip_prefix("0x").unwrap_or(hex);
    if hex.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (idx, chunk) in hex.as_bytes().chunks(2).enumerate() {
        let text = std::str::from_utf8(chunk).ok()?;
        out[idx] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

/// The OpenTelemetry trace id inside an MLflow trace id (`tr-<hex>`), if it has that shape.
pub fn otel_trace_id(mlflow_trace_id: &str) -> Option<[u8; 16]> {
    parse_hex_id(mlflow_trace_id.strip_prefix("tr-")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let id = [0xab; 16];
        let trace_id = mlflow_trace_id(&id);
        assert_eq!(trace_id.len(), 35);
        assert_eq!(otel_trace_id(&trace_id), Some(id));
        assert_eq!(parse_hex_id::<8>("00000000000000ff"), Some([0, 0, 0, 0, 0, 0, 0, 0xff]));
        assert_eq!(parse_hex_id::<8>("xyz"), None);
    }

    #[test]
    fn token_usage_totals() {
        let usage = TokenUsage::from_json(&serde_json::json!({"input_tokens": "10", "output_tokens": 5})).unwrap();
        assert_eq!(usage.total_tokens, 15);
        assert_eq!(TokenUsage::from_json(&serde_json::json!({"foo": 1})), None);
    }
}

//! Trace-level entities: MLflow's TraceInfo (v3), stored spans, and ingest batches.

use std::collections::BTreeMap;

use super::digest::SpanDigest;

/// MLflow's `TraceState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceState {
    Unspecified,
    Ok,
    Error,
    InProgress,
}

impl TraceState {
    pub fn as_str(self) -> &'static str {
        match self {
            TraceState::Unspecified => "STATE_UNSPECIFIED",
            TraceState::Ok => "OK",
            TraceState::Error => "ERROR",
            TraceState::InProgress => "IN_PROGRESS",
        }
    }
    /// Accepts state names, v2 status names and proto numbers.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "STATE_UNSPECIFIED" | "TRACE_STATUS_UNSPECIFIED" | "0" => Some(TraceState::Unspecified),
            "OK" | "1" => Some(TraceState::Ok),
            "ERROR" | "2" => Some(TraceState::Error),
            "IN_PROGRESS" | "3" => Some(TraceState::InProgress),
            _ => None,
        }
    }
}

/// A trace's summary as MLflow's TraceInfoV3 carries it, plus Rivulet's roll-ups for the UI.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceInfo {
    pub trace_id: String,
    pub experiment_id: i64,
    pub client_request_id: Option<String>,
    pub request_time_ms: i64,
    pub execution_duration_ms: Option<i64>,
    pub state: TraceState,
    pub request_preview: Option<String>,
    pub response_preview: Option<String>,
    pub trace_metadata: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub assessments: Vec<Assessment>,
    /// Rivulet's roll-ups (not part of MLflow's TraceInfo; the UI shows them).
    pub name: Option<String>,
    pub session_id: Option<String>,
    pub span_count: Option<i64>,
}

/// An assessment (feedback, expectation or issue) attached to a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub assessment_id: String,
    pub trace_id: String,
    pub name: String,
    /// `feedback`, `expectation` or `issue`.
    pub kind: String,
    /// The value as JSON text.
    pub value: String,
    /// The error as JSON text (feedback only).
    pub error: Option<String>,
    pub created_ms: i64,
    pub last_updated_ms: i64,
    pub source_type: String,
    pub source_id: Option<String>,
    pub run_id: Option<String>,
    pub span_id: Option<String>,
    pub rationale: Option<String>,
    pub overrides: Option<String>,
    pub valid: bool,
    pub metadata: BTreeMap<String, String>,
}

/// A span ready to store: identity, the columns MLflow keeps, the span JSON, and its digest.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedSpan {
    /// `tr-<hex>`.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub status: &'static str,
    pub start_time_unix_nano: i64,
    pub end_time_unix_nano: i64,
    /// MLflow's span dict as JSON text (`spans.content`).
    pub content: String,
    pub digest: SpanDigest,
    pub service_name: Option<String>,
}

/// The spans of one export request, bound for one experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanBatch {
    pub experiment_id: i64,
    pub spans: Vec<PreparedSpan>,
    /// Resource attributes per trace id, to become trace tags (MLflow's behaviour).
    pub resource_tags: BTreeMap<String, Vec<(String, String)>>,
    /// Link every trace whose root span is in the batch to this run (`x-mlflow-run-id`).
    pub run_id: Option<String>,
}

/// A stored span: its JSON and the columns a reader needs.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSpan {
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub content: String,
}

/// One service in a service graph: the spans it emitted in the time range.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceNode {
    pub service_name: String,
    pub spans: u64,
    pub errors: u64,
}

/// Calls from one service to another: child spans of another service's spans.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceEdge {
    pub parent_service: String,
    pub child_service: String,
    pub calls: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

/// Services and the calls between them, from parent/child spans across `service.name`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceGraph {
    pub nodes: Vec<ServiceNode>,
    pub edges: Vec<ServiceEdge>,
    /// True when the range held more calls than were read (the figures are from a sample).
    pub truncated: bool,
}

//! OTLP trace ingest: `POST /v1/traces` (protobuf or JSON, compressed or not) and gRPC
//! `TraceService/Export`, both feeding one ingest path.

mod admission;
pub mod decode;
mod experiment;
pub mod grpc;
mod http;

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceRequest};
use rivulet_core::traces::model::SpanBatch;
use rivulet_core::traces::prepare::prepare_span;
use rivulet_core::CoreError;

pub use admission::{Admitted, ExportAdmission, ReceivedBody};
pub use experiment::{ExperimentSelector, TraceExperiments};
pub use http::export_traces;

use crate::AppState;
use decode::{convert_request_with, DecodeLimits};

/// What an export request asks: where its traces go, and an optional run to link them to.
#[derive(Debug, Clone, Default)]
pub struct ExportTarget {
    pub selector: ExperimentSelector,
    pub run_id: Option<String>,
}

/// The outcome of an accepted export: spans rejected one by one (OTLP partial success).
#[derive(Debug, Default)]
pub struct ExportOutcome {
    pub rejected: Vec<String>,
}

impl ExportOutcome {
    pub fn partial_success(&self) -> Option<ExportTracePartialSuccess> {
        if self.rejected.is_empty() {
            return None;
        }
        let shown: Vec<&str> = self.rejected.iter().take(5).map(String::as_str).collect();
        let more = self.rejected.len().saturating_sub(shown.len());
        let mut message = format!("{} span(s) rejected: {}", self.rejected.len(), shown.join("; "));
        if more > 0 {
            message.push_str(&format!("; and {more} more"));
        }
        Some(ExportTracePartialSuccess { rejected_spans: self.rejected.len() as i64, error_message: message })
    }
}

/// Why an export failed as a whole.
#[derive(Debug)]
pub enum ExportError {
    /// Nothing in the request was usable (status 400, message lists the reasons).
    Rejected(String),
    /// The request could not be placed or stored (status from the domain error table).
    Core(CoreError),
}

/// The one ingest path behind both transports: validate, apply conventions, store durably.
/// `admitted` is the export's share of the in-flight budget, held until it is answered.
pub async fn ingest_export(
    state: &AppState,
    target: &ExportTarget,
    request: ExportTraceServiceRequest,
    limits: &DecodeLimits,
    admitted: Admitted,
) -> Result<ExportOutcome, ExportError> {
    // [ops] Spans received/accepted/rejected and batch sizes, counted for both transports here.
    let received = crate::ops::count_spans(&request);
    let result = ingest_export_unmetered(state, target, request, limits).await;
    drop(admitted);
    state.settings.ops.metrics.record_export(received, &result);
    result
}

async fn ingest_export_unmetered(state: &AppState, target: &ExportTarget, request: ExportTraceServiceRequest, limits: &DecodeLimits) -> Result<ExportOutcome, ExportError> {
    let converted = convert_request_with(request, limits, prepare_span);
    if converted.spans.is_empty() {
        if converted.rejected.is_empty() {
            // An empty export is a success (OTLP specification), and needs no experiment.
            return Ok(ExportOutcome::default());
        }
        let shown: Vec<&str> = converted.rejected.iter().take(5).map(String::as_str).collect();
        return Err(ExportError::Rejected(format!("every span was rejected: {}", shown.join("; "))));
    }
    let experiment_id = state.trace_experiments.resolve(state, &target.selector).await.map_err(ExportError::Core)?;
    let batch = SpanBatch {
        experiment_id,
        spans: converted.spans,
        resource_tags: converted.resource_tags.into_iter().collect::<BTreeMap<_, _>>(),
        run_id: target.run_id.clone(),
    };
    state.traces.ingest_spans(batch).await.map_err(ExportError::Core)?;
    Ok(ExportOutcome { rejected: converted.rejected })
}

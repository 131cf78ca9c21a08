//! Turns a received span into what the store writes: conventions applied, digest taken,
//! MLflow's span dict rendered.

use super::content::span_content;
use super::conventions::translate_span;
use super::digest::digest;
use super::model::PreparedSpan;
use super::{hex_id, mlflow_trace_id, Span};

/// Applies MLflow's and the other conventions to the span, then renders it for storage.
pub fn prepare_span(mut span: Span) -> PreparedSpan {
    translate_span(&mut span);
    let digest = digest(&span);
    let content = span_content(&span);
    PreparedSpan {
        trace_id: mlflow_trace_id(&span.trace_id),
        span_id: hex_id(&span.span_id),
        parent_span_id: span.parent_span_id.map(|p| hex_id(&p)),
        name: span.name,
        status: span.status_code.column(),
        // Validated below 2200-01-01 at ingest, so these fit i64.
        start_time_unix_nano: span.start_time_unix_nano.min(i64::MAX as u64) as i64,
        end_time_unix_nano: span.end_time_unix_nano.min(i64::MAX as u64) as i64,
        content,
        digest,
        service_name: span.service_name,
    }
}

//! The trace store: MLflow's `trace_info`, `trace_tags`, `trace_request_metadata`, `spans`,
//! `assessments` and `entity_associations`, implementing [`rivulet_core::store::TraceStore`].

mod assessments;
mod graph;
pub(crate) mod ingest;
mod manage;
mod read;
mod rows;
mod search;
mod ui;

use async_trait::async_trait;
use rivulet_core::page::Page;
use rivulet_core::store::{TraceDeletion, TraceSearch, TraceStore};
use rivulet_core::traces::model::{Assessment, ServiceGraph, SpanBatch, StoredSpan, TraceInfo};
use rivulet_core::traces::trace_keys;
use rivulet_core::Result;

use crate::Store;
use ingest::IngestJob;

#[async_trait]
impl TraceStore for Store {
    async fn ingest_spans(&self, batch: SpanBatch) -> Result<()> {
        if batch.spans.is_empty() {
            return Ok(());
        }
        self.enqueue_spans(batch).await
    }

    async fn start_trace(&self, info: TraceInfo) -> Result<TraceInfo> {
        let trace_id = info.trace_id.clone();
        self.enqueue(&trace_id, |reply| IngestJob::StartTrace { info, reply }).await?;
        let mut stored = self.get_trace_info_impl(&trace_id).await?;
        // The client also uploads traces.json unless told the spans live in this database; they
        // always do here, because the client sends them to /v1/traces.
        stored
            .tags
            .insert(trace_keys::SPANS_LOCATION.to_string(), trace_keys::SPANS_LOCATION_TRACKING_STORE.to_string());
        Ok(stored)
    }

    async fn get_trace_info(&self, trace_id: &str) -> Result<TraceInfo> {
        self.get_trace_info_impl(trace_id).await
    }

    async fn get_trace_infos(&self, trace_ids: &[String]) -> Result<Vec<TraceInfo>> {
        self.trace_infos_by_id(trace_ids).await
    }

    async fn get_spans(&self, trace_id: &str) -> Result<Vec<StoredSpan>> {
        self.get_spans_impl(trace_id).await
    }

    async fn search_traces(&self, search: &TraceSearch) -> Result<Page<TraceInfo>> {
        self.search_traces_impl(search).await
    }

    async fn delete_traces(&self, experiment_id: i64, deletion: TraceDeletion) -> Result<usize> {
        self.delete_traces_impl(experiment_id, deletion).await
    }

    async fn set_trace_tag(&self, trace_id: &str, key: &str, value: &str) -> Result<()> {
        self.set_trace_tag_impl(trace_id, key, value).await
    }

    async fn delete_trace_tag(&self, trace_id: &str, key: &str) -> Result<()> {
        self.delete_trace_tag_impl(trace_id, key).await
    }

    async fn link_traces_to_run(&self, trace_ids: &[String], run_id: &str) -> Result<()> {
        self.link_traces_to_run_impl(trace_ids, run_id).await
    }

    async fn create_assessment(&self, assessment: Assessment) -> Result<Assessment> {
        self.create_assessment_impl(assessment).await
    }

    async fn get_assessment(&self, trace_id: &str, assessment_id: &str) -> Result<Assessment> {
        self.get_assessment_impl(trace_id, assessment_id).await
    }

    async fn update_assessment(&self, assessment: Assessment) -> Result<Assessment> {
        self.update_assessment_impl(assessment).await
    }

    async fn delete_assessment(&self, trace_id: &str, assessment_id: &str) -> Result<()> {
        self.delete_assessment_impl(trace_id, assessment_id).await
    }

    async fn service_graph(&self, experiment_id: i64, from_ms: i64, to_ms: i64) -> Result<ServiceGraph> {
        self.service_graph_impl(experiment_id, from_ms, to_ms).await
    }

    async fn traces_with_service_call(
        &self,
        experiment_id: i64,
        parent_service: &str,
        child_service: &str,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<String>> {
        self.traces_with_service_call_impl(experiment_id, parent_service, child_service, from_ms, to_ms, limit).await
    }

    async fn get_span(&self, trace_id: &str, span_id: &str) -> Result<Option<StoredSpan>> {
        self.get_span_impl(trace_id, span_id).await
    }

    async fn trace_models(&self, trace_ids: &[String]) -> Result<std::collections::BTreeMap<String, String>> {
        self.trace_models_impl(trace_ids).await
    }

    async fn search_sessions(&self, experiment_id: i64, max_results: usize, offset: u64) -> Result<Page<rivulet_core::store::SessionSummary>> {
        self.search_sessions_impl(experiment_id, max_results, offset).await
    }
}

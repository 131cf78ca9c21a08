//! The storage contract the API layer depends on; implemented by `rivulet-store`.
//!
//! Stores enforce the rules that need the database's state in the same transaction as the
//! write (entity exists, lifecycle is active, params are immutable); everything that can be
//! checked on the input alone is checked in [`crate::tracking::validation`] before a call.

use async_trait::async_trait;

use crate::page::Page;
use crate::search::{ExperimentClause, ExperimentOrderBy, RunClause, RunOrderBy};
use crate::tracking::{
    DatasetInput, Experiment, LogBatch, LoggedModel, LoggedModelStatus, ModelOutput, NewExperiment,
    NewLoggedModel, NewRun, Run, RunInfo, RunMetric, RunUpdate, Tag, ViewType,
};
use crate::Result;

/// A parsed `experiments/search` request.
#[derive(Debug, Clone, Default)]
pub struct ExperimentSearch {
    pub filter: Vec<ExperimentClause>,
    pub order_by: Vec<ExperimentOrderBy>,
    pub view_type: ViewType,
    pub max_results: usize,
    pub offset: u64,
}

/// A parsed `runs/search` request.
#[derive(Debug, Clone, Default)]
pub struct RunSearch {
    pub experiment_ids: Vec<i64>,
    pub filter: Vec<RunClause>,
    pub order_by: Vec<RunOrderBy>,
    pub view_type: ViewType,
    pub max_results: usize,
    pub offset: u64,
}

/// A metric-history read: one key of one run, in (timestamp, step, value) order.
#[derive(Debug, Clone)]
pub struct MetricHistoryQuery {
    pub run_id: String,
    pub metric_key: String,
    pub max_results: Option<usize>,
    pub offset: u64,
}

/// A sampled read of one metric over many runs (`get-history-bulk-interval`).
#[derive(Debug, Clone)]
pub struct MetricIntervalQuery {
    pub run_ids: Vec<String>,
    pub metric_key: String,
    pub start_step: Option<i64>,
    pub end_step: Option<i64>,
    pub max_results: usize,
}

/// A parsed `logged-models/search` request.
#[derive(Debug, Clone, Default)]
pub struct LoggedModelSearch {
    pub experiment_ids: Vec<i64>,
    /// Equality filters on `name` (the client's use: `name = 'dir'`).
    pub name_equals: Option<String>,
    pub max_results: usize,
    pub offset: u64,
}

#[async_trait]
pub trait TrackingStore: Send + Sync + 'static {
    async fn create_experiment(&self, experiment: NewExperiment) -> Result<i64>;
    async fn get_experiment(&self, experiment_id: i64) -> Result<Experiment>;
    async fn get_experiment_by_name(&self, name: &str) -> Result<Experiment>;
    async fn search_experiments(&self, search: &ExperimentSearch) -> Result<Page<Experiment>>;
    async fn delete_experiment(&self, experiment_id: i64) -> Result<()>;
    async fn restore_experiment(&self, experiment_id: i64) -> Result<()>;
    async fn rename_experiment(&self, experiment_id: i64, new_name: &str) -> Result<()>;
    async fn set_experiment_tag(&self, experiment_id: i64, tag: Tag) -> Result<()>;
    async fn delete_experiment_tag(&self, experiment_id: i64, key: &str) -> Result<()>;

    async fn create_run(&self, run: NewRun) -> Result<Run>;
    async fn get_run(&self, run_id: &str) -> Result<Run>;
    async fn update_run(&self, run_id: &str, update: RunUpdate) -> Result<RunInfo>;
    async fn delete_run(&self, run_id: &str) -> Result<()>;
    async fn restore_run(&self, run_id: &str) -> Result<()>;
    /// Writes a validated batch atomically: all of it or nothing.
    async fn log_batch(&self, run_id: &str, batch: LogBatch) -> Result<()>;
    async fn delete_run_tag(&self, run_id: &str, key: &str) -> Result<()>;
    async fn log_inputs(&self, run_id: &str, datasets: Vec<DatasetInput>, model_ids: Vec<String>) -> Result<()>;
    async fn log_outputs(&self, run_id: &str, models: Vec<ModelOutput>) -> Result<()>;
    async fn search_runs(&self, search: &RunSearch) -> Result<Page<Run>>;
    /// `None` when the run does not exist (MLflow answers `{}` there, not 404).
    async fn get_metric_history(&self, query: &MetricHistoryQuery) -> Result<Option<Page<RunMetric>>>;
    async fn get_metric_history_bulk_interval(&self, query: &MetricIntervalQuery) -> Result<Vec<RunMetric>>;

    async fn create_logged_model(&self, model: NewLoggedModel) -> Result<LoggedModel>;
    async fn get_logged_model(&self, model_id: &str, allow_deleted: bool) -> Result<LoggedModel>;
    async fn set_logged_model_status(&self, model_id: &str, status: LoggedModelStatus) -> Result<LoggedModel>;
    async fn delete_logged_model(&self, model_id: &str) -> Result<()>;
    async fn set_logged_model_tags(&self, model_id: &str, tags: Vec<Tag>) -> Result<()>;
    async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()>;
    async fn log_logged_model_params(&self, model_id: &str, params: Vec<Tag>) -> Result<()>;
    async fn search_logged_models(&self, search: &LoggedModelSearch) -> Result<Page<LoggedModel>>;

    /// A cheap query proving the database answers (readiness).
    async fn ping(&self) -> Result<()>;
}

/// A parsed `traces/search` request.
#[derive(Debug, Clone, Default)]
pub struct TraceSearch {
    pub experiment_ids: Vec<i64>,
    pub filter: Vec<crate::search::TraceClause>,
    pub order_by: Vec<crate::search::TraceOrderBy>,
    pub max_results: usize,
    pub offset: u64,
}

/// One session of an experiment's traces (the `mlflow.trace.session` metadata), for the UI.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSummary {
    pub session_id: String,
    pub traces: u64,
    pub errors: u64,
    pub first_ms: i64,
    pub last_ms: i64,
    /// Sum of the traces' total tokens, when any trace reported usage.
    pub total_tokens: Option<i64>,
}

/// Which traces `delete-traces` removes.
#[derive(Debug, Clone)]
pub enum TraceDeletion {
    /// These trace ids (within the experiment).
    Ids(Vec<String>),
    /// The oldest traces up to this timestamp, at most `max_traces` of them.
    OlderThan { max_timestamp_ms: i64, max_traces: Option<usize> },
}

#[async_trait]
pub trait TraceStore: Send + Sync + 'static {
    /// Stores the spans of one export request; returns after they are durably committed.
    /// Spans of a trace may come over many calls, in any order, or twice.
    async fn ingest_spans(&self, batch: crate::traces::model::SpanBatch) -> Result<()>;
    /// StartTraceV3: creates or completes a trace's info from the client's summary.
    async fn start_trace(&self, info: crate::traces::model::TraceInfo) -> Result<crate::traces::model::TraceInfo>;
    async fn get_trace_info(&self, trace_id: &str) -> Result<crate::traces::model::TraceInfo>;
    async fn get_trace_infos(&self, trace_ids: &[String]) -> Result<Vec<crate::traces::model::TraceInfo>>;
    /// Stored spans of a trace: roots first, then by start time.
    async fn get_spans(&self, trace_id: &str) -> Result<Vec<crate::traces::model::StoredSpan>>;
    async fn search_traces(&self, search: &TraceSearch) -> Result<Page<crate::traces::model::TraceInfo>>;
    async fn delete_traces(&self, experiment_id: i64, deletion: TraceDeletion) -> Result<usize>;
    async fn set_trace_tag(&self, trace_id: &str, key: &str, value: &str) -> Result<()>;
    async fn delete_trace_tag(&self, trace_id: &str, key: &str) -> Result<()>;
    async fn link_traces_to_run(&self, trace_ids: &[String], run_id: &str) -> Result<()>;
    async fn create_assessment(&self, assessment: crate::traces::model::Assessment) -> Result<crate::traces::model::Assessment>;
    async fn get_assessment(&self, trace_id: &str, assessment_id: &str) -> Result<crate::traces::model::Assessment>;
    async fn update_assessment(&self, assessment: crate::traces::model::Assessment) -> Result<crate::traces::model::Assessment>;
    async fn delete_assessment(&self, trace_id: &str, assessment_id: &str) -> Result<()>;
    /// Services and calls between them for spans starting in `[from_ms, to_ms)`.
    async fn service_graph(&self, experiment_id: i64, from_ms: i64, to_ms: i64) -> Result<crate::traces::model::ServiceGraph>;
    /// Traces (newest first) holding a call from `parent_service` to `child_service` in the range.
    async fn traces_with_service_call(
        &self,
        experiment_id: i64,
        parent_service: &str,
        child_service: &str,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<String>>;

    // Reads only the web UI needs. The defaults keep test doubles compiling; `rivulet-store`
    // answers them with one indexed query each.

    /// One stored span of a trace (the UI's span panel loads spans one at a time, so a
    /// 30,000-span trace is never read whole for a click).
    async fn get_span(&self, trace_id: &str, span_id: &str) -> Result<Option<crate::traces::model::StoredSpan>> {
        Ok(self.get_spans(trace_id).await?.into_iter().find(|span| span.span_id == span_id))
    }
    /// The model (`spans.model_name`) of each trace's earliest span that names one.
    async fn trace_models(&self, _trace_ids: &[String]) -> Result<std::collections::BTreeMap<String, String>> {
        Ok(std::collections::BTreeMap::new())
    }
    /// An experiment's sessions, most recently active first.
    async fn search_sessions(&self, _experiment_id: i64, _max_results: usize, _offset: u64) -> Result<Page<SessionSummary>> {
        Err(crate::CoreError::new(crate::ErrorCode::NotImplemented, "sessions are not supported by this store"))
    }
}

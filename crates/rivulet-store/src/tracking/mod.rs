//! The tracking store: MLflow's experiments, runs, metrics, params, tags, inputs and logged
//! models, implementing [`rivulet_core::store::TrackingStore`] for both databases.

mod experiments;
pub(crate) mod filters;
mod logging;
mod metrics;
mod models;
mod runs;

use async_trait::async_trait;
use rivulet_core::page::Page;
use rivulet_core::store::{
    ExperimentSearch, LoggedModelSearch, MetricHistoryQuery, MetricIntervalQuery, RunSearch, TrackingStore,
};
use rivulet_core::tracking::{
    DatasetInput, Experiment, LifecycleStage, LogBatch, LoggedModel, LoggedModelStatus, ModelOutput, NewExperiment,
    NewLoggedModel, NewRun, Run, RunInfo, RunMetric, RunUpdate, Tag,
};
use rivulet_core::Result;

use crate::Store;

/// Rows per multi-row INSERT: far below both databases' bind-parameter limits.
const ROWS_PER_STATEMENT: usize = 200;

#[async_trait]
impl TrackingStore for Store {
    async fn create_experiment(&self, experiment: NewExperiment) -> Result<i64> {
        self.create_experiment_impl(experiment).await
    }
    async fn get_experiment(&self, experiment_id: i64) -> Result<Experiment> {
        self.get_experiment_impl(experiment_id).await
    }
    async fn get_experiment_by_name(&self, name: &str) -> Result<Experiment> {
        self.get_experiment_by_name_impl(name).await
    }
    async fn search_experiments(&self, search: &ExperimentSearch) -> Result<Page<Experiment>> {
        self.search_experiments_impl(search).await
    }
    async fn delete_experiment(&self, experiment_id: i64) -> Result<()> {
        self.delete_experiment_impl(experiment_id).await
    }
    async fn restore_experiment(&self, experiment_id: i64) -> Result<()> {
        self.restore_experiment_impl(experiment_id).await
    }
    async fn rename_experiment(&self, experiment_id: i64, new_name: &str) -> Result<()> {
        self.rename_experiment_impl(experiment_id, new_name).await
    }
    async fn set_experiment_tag(&self, experiment_id: i64, tag: Tag) -> Result<()> {
        self.set_experiment_tag_impl(experiment_id, tag).await
    }
    async fn delete_experiment_tag(&self, experiment_id: i64, key: &str) -> Result<()> {
        self.delete_experiment_tag_impl(experiment_id, key).await
    }

    async fn create_run(&self, run: NewRun) -> Result<Run> {
        self.create_run_impl(run).await
    }
    async fn get_run(&self, run_id: &str) -> Result<Run> {
        self.get_run_impl(run_id).await
    }
    async fn update_run(&self, run_id: &str, update: RunUpdate) -> Result<RunInfo> {
        self.update_run_impl(run_id, update).await
    }
    async fn delete_run(&self, run_id: &str) -> Result<()> {
        self.set_run_lifecycle(run_id, LifecycleStage::Deleted).await
    }
    async fn restore_run(&self, run_id: &str) -> Result<()> {
        self.set_run_lifecycle(run_id, LifecycleStage::Active).await
    }
    async fn log_batch(&self, run_id: &str, batch: LogBatch) -> Result<()> {
        self.log_batch_impl(run_id, batch).await
    }
    async fn delete_run_tag(&self, run_id: &str, key: &str) -> Result<()> {
        self.delete_run_tag_impl(run_id, key).await
    }
    async fn log_inputs(&self, run_id: &str, datasets: Vec<DatasetInput>, model_ids: Vec<String>) -> Result<()> {
        self.log_inputs_impl(run_id, datasets, model_ids).await
    }
    async fn log_outputs(&self, run_id: &str, models: Vec<ModelOutput>) -> Result<()> {
        self.log_outputs_impl(run_id, models).await
    }
    async fn search_runs(&self, search: &RunSearch) -> Result<Page<Run>> {
        self.search_runs_impl(search).await
    }
    async fn get_metric_history(&self, query: &MetricHistoryQuery) -> Result<Option<Page<RunMetric>>> {
        self.get_metric_history_impl(query).await
    }
    async fn get_metric_history_bulk_interval(&self, query: &MetricIntervalQuery) -> Result<Vec<RunMetric>> {
        self.get_metric_history_bulk_interval_impl(query).await
    }

    async fn create_logged_model(&self, model: NewLoggedModel) -> Result<LoggedModel> {
        self.create_logged_model_impl(model).await
    }
    async fn get_logged_model(&self, model_id: &str, allow_deleted: bool) -> Result<LoggedModel> {
        self.get_logged_model_impl(model_id, allow_deleted).await
    }
    async fn set_logged_model_status(&self, model_id: &str, status: LoggedModelStatus) -> Result<LoggedModel> {
        self.set_logged_model_status_impl(model_id, status).await
    }
    async fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        self.delete_logged_model_impl(model_id).await
    }
    async fn set_logged_model_tags(&self, model_id: &str, tags: Vec<Tag>) -> Result<()> {
        self.set_logged_model_tags_impl(model_id, tags).await
    }
    async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        self.delete_logged_model_tag_impl(model_id, key).await
    }
    async fn log_logged_model_params(&self, model_id: &str, params: Vec<Tag>) -> Result<()> {
        self.log_logged_model_params_impl(model_id, params).await
    }
    async fn search_logged_models(&self, search: &LoggedModelSearch) -> Result<Page<LoggedModel>> {
        self.search_logged_models_impl(search).await
    }

    async fn ping(&self) -> Result<()> {
        self.fetch_all("SELECT 1 AS one", &[]).await.map(|_| ())
    }
}

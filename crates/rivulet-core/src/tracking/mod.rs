//! Experiment-tracking entities as MLflow defines them: experiments, runs, metrics, params, tags,
//! dataset inputs and logged models.

pub mod names;
pub mod validation;

use crate::{CoreError, Result};

/// Name of the experiment MLflow creates with id 0 on store initialisation.
pub const DEFAULT_EXPERIMENT_NAME: &str = "Default";
pub const DEFAULT_EXPERIMENT_ID: i64 = 0;
/// Every experiment of a store without workspaces lives in this workspace.
pub const DEFAULT_WORKSPACE: &str = "default";
/// Run tag that mirrors the run name.
pub const RUN_NAME_TAG: &str = "mlflow.runName";
/// Input tag that holds a dataset's context (`training`, `eval`...).
pub const DATASET_CONTEXT_TAG: &str = "mlflow.data.context";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifecycleStage {
    Active,
    Deleted,
}

impl LifecycleStage {
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStage::Active => "active",
            LifecycleStage::Deleted => "deleted",
        }
    }
    pub fn parse(value: &str) -> Result<Self> {
        match value {
            "active" => Ok(LifecycleStage::Active),
            "deleted" => Ok(LifecycleStage::Deleted),
            other => Err(CoreError::internal(format!("unknown lifecycle stage '{other}' in store"))),
        }
    }
}

/// Which lifecycle stages a search covers (`ViewType` in MLflow's protos).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ViewType {
    #[default]
    ActiveOnly,
    DeletedOnly,
    All,
}

impl ViewType {
    /// Accepts the enum name or its proto number, as protobuf JSON parsing does.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "ACTIVE_ONLY" | "1" => Some(ViewType::ActiveOnly),
            "DELETED_ONLY" | "2" => Some(ViewType::DeletedOnly),
            "ALL" | "3" => Some(ViewType::All),
            _ => None,
        }
    }
    pub fn stages(self) -> &'static [LifecycleStage] {
        match self {
            ViewType::ActiveOnly => &[LifecycleStage::Active],
            ViewType::DeletedOnly => &[LifecycleStage::Deleted],
            ViewType::All => &[LifecycleStage::Active, LifecycleStage::Deleted],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    Running,
    Scheduled,
    Finished,
    Failed,
    Killed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }
    /// Accepts the enum name or its proto number (RUNNING=1 … KILLED=5).
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "RUNNING" | "1" => Some(RunStatus::Running),
            "SCHEDULED" | "2" => Some(RunStatus::Scheduled),
            "FINISHED" | "3" => Some(RunStatus::Finished),
            "FAILED" | "4" => Some(RunStatus::Failed),
            "KILLED" | "5" => Some(RunStatus::Killed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl Tag {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Tag { key: key.into(), value: value.into() }
    }
}

pub type Param = Tag;

#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    pub experiment_id: i64,
    pub name: String,
    pub artifact_location: Option<String>,
    pub lifecycle_stage: LifecycleStage,
    pub creation_time: Option<i64>,
    pub last_update_time: Option<i64>,
    pub tags: Vec<Tag>,
    pub workspace: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewExperiment {
    pub name: String,
    /// As given by the client, already validated; `None` means "derive from the artifact root".
    pub artifact_location: Option<String>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub key: String,
    /// NaN and ±infinity are legal; stores keep NaN as `is_nan` and clamp infinities to ±f64::MAX.
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
}

/// A metric row as history endpoints return it, tagged with its run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunMetric {
    pub run_id: String,
    pub metric: Metric,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    pub run_id: String,
    pub run_name: Option<String>,
    pub experiment_id: i64,
    pub user_id: Option<String>,
    pub status: RunStatus,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub artifact_uri: Option<String>,
    pub lifecycle_stage: LifecycleStage,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunData {
    pub metrics: Vec<Metric>,
    pub params: Vec<Param>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub source: String,
    pub schema: Option<String>,
    pub profile: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DatasetInput {
    pub tags: Vec<Tag>,
    pub dataset: Dataset,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelOutput {
    pub model_id: String,
    pub step: i64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunInputs {
    pub dataset_inputs: Vec<DatasetInput>,
    pub model_inputs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub info: RunInfo,
    pub data: RunData,
    pub inputs: RunInputs,
    pub outputs: Vec<ModelOutput>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    pub experiment_id: i64,
    pub user_id: Option<String>,
    pub run_name: String,
    pub start_time: Option<i64>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunUpdate {
    pub status: Option<RunStatus>,
    pub end_time: Option<i64>,
    pub run_name: Option<String>,
}

/// What one `log-batch` (or a single log call) writes, validated as a whole before any write.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogBatch {
    pub metrics: Vec<Metric>,
    pub params: Vec<Param>,
    pub tags: Vec<Tag>,
}

/// MLflow's `LoggedModelStatus` enum numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoggedModelStatus {
    Unspecified = 0,
    Pending = 1,
    Ready = 2,
    UploadFailed = 3,
}

impl LoggedModelStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LoggedModelStatus::Unspecified => "LOGGED_MODEL_STATUS_UNSPECIFIED",
            LoggedModelStatus::Pending => "LOGGED_MODEL_PENDING",
            LoggedModelStatus::Ready => "LOGGED_MODEL_READY",
            LoggedModelStatus::UploadFailed => "LOGGED_MODEL_UPLOAD_FAILED",
        }
    }
    pub fn from_number(value: i64) -> Self {
        match value {
            1 => LoggedModelStatus::Pending,
            2 => LoggedModelStatus::Ready,
            3 => LoggedModelStatus::UploadFailed,
            _ => LoggedModelStatus::Unspecified,
        }
    }
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "LOGGED_MODEL_STATUS_UNSPECIFIED" | "0" => Some(LoggedModelStatus::Unspecified),
            "LOGGED_MODEL_PENDING" | "1" => Some(LoggedModelStatus::Pending),
            "LOGGED_MODEL_READY" | "2" => Some(LoggedModelStatus::Ready),
            "LOGGED_MODEL_UPLOAD_FAILED" | "3" => Some(LoggedModelStatus::UploadFailed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoggedModel {
    pub model_id: String,
    pub experiment_id: i64,
    pub name: String,
    pub artifact_location: String,
    pub creation_timestamp_ms: i64,
    pub last_updated_timestamp_ms: i64,
    pub status: LoggedModelStatus,
    pub lifecycle_stage: LifecycleStage,
    pub model_type: Option<String>,
    pub source_run_id: Option<String>,
    pub status_message: Option<String>,
    pub tags: Vec<Tag>,
    pub params: Vec<Param>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewLoggedModel {
    pub experiment_id: i64,
    pub name: String,
    pub model_type: Option<String>,
    pub source_run_id: Option<String>,
    pub params: Vec<Param>,
    pub tags: Vec<Tag>,
}

/// Milliseconds since the Unix epoch; the one clock the domain uses.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A new run id: uuid4 as 32 lowercase hex digits, as MLflow makes them.
pub fn new_run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Joins a path segment onto an artifact URI the way MLflow's `append_to_uri_path` does.
pub fn append_to_uri_path(base: &str, segment: &str) -> String {
    let segment = segment.trim_start_matches('/');
    if base.ends_with('/') {
        format!("{base}{segment}")
    } else {
        format!("{base}/{segment}")
    }
}

//! Response messages in MLflow's JSON shape: proto field names, unset fields omitted, int64
//! as numbers, non-finite doubles as `"NaN"`/`"Infinity"` strings, empty messages as `{}`.

use rivulet_core::tracking::{
    Dataset, DatasetInput, Experiment, LoggedModel, Metric, Run, RunInfo, RunMetric, Tag,
};
use serde::{Serialize, Serializer};

/// A double as MLflow writes it: a number, or the strings `"NaN"`, `"Infinity"`, `"-Infinity"`.
pub fn serialize_double<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.is_nan() {
        serializer.serialize_str("NaN")
    } else if value.is_infinite() {
        serializer.serialize_str(if *value > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        serializer.serialize_f64(*value)
    }
}

#[derive(Serialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

impl From<Tag> for KeyValue {
    fn from(tag: Tag) -> Self {
        KeyValue { key: tag.key, value: tag.value }
    }
}

fn key_values(tags: Vec<Tag>) -> Vec<KeyValue> {
    tags.into_iter().map(KeyValue::from).collect()
}

#[derive(Serialize)]
pub struct ExperimentMessage {
    pub experiment_id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_location: Option<String>,
    pub lifecycle_stage: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    pub workspace: String,
}

impl From<Experiment> for ExperimentMessage {
    fn from(e: Experiment) -> Self {
        ExperimentMessage {
            experiment_id: e.experiment_id.to_string(),
            name: e.name,
            artifact_location: e.artifact_location,
            lifecycle_stage: e.lifecycle_stage.as_str(),
            last_update_time: e.last_update_time,
            creation_time: e.creation_time,
            tags: key_values(e.tags),
            workspace: e.workspace,
        }
    }
}

#[derive(Serialize)]
pub struct MetricMessage {
    pub key: String,
    #[serde(serialize_with = "serialize_double")]
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

impl From<Metric> for MetricMessage {
    fn from(m: Metric) -> Self {
        MetricMessage { key: m.key, value: m.value, timestamp: m.timestamp, step: m.step, run_id: None }
    }
}

impl MetricMessage {
    pub fn with_run(metric: RunMetric) -> Self {
        MetricMessage { run_id: Some(metric.run_id), ..MetricMessage::from(metric.metric) }
    }
}

#[derive(Serialize)]
pub struct RunInfoMessage {
    pub run_id: String,
    pub run_uuid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_name: Option<String>,
    pub experiment_id: String,
    pub user_id: String,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_uri: Option<String>,
    pub lifecycle_stage: &'static str,
}

impl From<RunInfo> for RunInfoMessage {
    fn from(info: RunInfo) -> Self {
        RunInfoMessage {
            run_uuid: info.run_id.clone(),
            run_id: info.run_id,
            run_name: info.run_name,
            experiment_id: info.experiment_id.to_string(),
            user_id: info.user_id.unwrap_or_default(),
            status: info.status.as_str(),
            start_time: info.start_time,
            end_time: info.end_time,
            artifact_uri: info.artifact_uri,
            lifecycle_stage: info.lifecycle_stage.as_str(),
        }
    }
}

#[derive(Serialize)]
pub struct RunDataMessage {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricMessage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

#[derive(Serialize)]
pub struct DatasetMessage {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

impl From<Dataset> for DatasetMessage {
    fn from(d: Dataset) -> Self {
        DatasetMessage { name: d.name, digest: d.digest, source_type: d.source_type, source: d.source, schema: d.schema, profile: d.profile }
    }
}

#[derive(Serialize)]
pub struct DatasetInputMessage {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    pub dataset: DatasetMessage,
}

impl From<DatasetInput> for DatasetInputMessage {
    fn from(input: DatasetInput) -> Self {
        DatasetInputMessage { tags: key_values(input.tags), dataset: input.dataset.into() }
    }
}

#[derive(Serialize)]
pub struct ModelInputMessage {
    pub model_id: String,
}

#[derive(Serialize)]
pub struct ModelOutputMessage {
    pub model_id: String,
    pub step: i64,
}

#[derive(Serialize)]
pub struct RunInputsMessage {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dataset_inputs: Vec<DatasetInputMessage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub model_inputs: Vec<ModelInputMessage>,
}

#[derive(Serialize)]
pub struct RunOutputsMessage {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub model_outputs: Vec<ModelOutputMessage>,
}

#[derive(Serialize)]
pub struct RunMessage {
    pub info: RunInfoMessage,
    pub data: RunDataMessage,
    pub inputs: RunInputsMessage,
    pub outputs: RunOutputsMessage,
}

impl From<Run> for RunMessage {
    fn from(run: Run) -> Self {
        RunMessage {
            info: run.info.into(),
            data: RunDataMessage {
                metrics: run.data.metrics.into_iter().map(MetricMessage::from).collect(),
                params: key_values(run.data.params),
                tags: key_values(run.data.tags),
            },
            inputs: RunInputsMessage {
                dataset_inputs: run.inputs.dataset_inputs.into_iter().map(DatasetInputMessage::from).collect(),
                model_inputs: run.inputs.model_inputs.into_iter().map(|model_id| ModelInputMessage { model_id }).collect(),
            },
            outputs: RunOutputsMessage {
                model_outputs: run.outputs.into_iter().map(|o| ModelOutputMessage { model_id: o.model_id, step: o.step }).collect(),
            },
        }
    }
}

#[derive(Serialize)]
pub struct LoggedModelInfoMessage {
    pub model_id: String,
    pub experiment_id: String,
    pub name: String,
    pub creation_timestamp_ms: i64,
    pub last_updated_timestamp_ms: i64,
    pub artifact_uri: String,
    pub status: &'static str,
    pub model_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

#[derive(Serialize)]
pub struct LoggedModelDataMessage {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
}

#[derive(Serialize)]
pub struct LoggedModelMessage {
    pub info: LoggedModelInfoMessage,
    pub data: LoggedModelDataMessage,
}

impl From<LoggedModel> for LoggedModelMessage {
    fn from(m: LoggedModel) -> Self {
        LoggedModelMessage {
            info: LoggedModelInfoMessage {
                model_id: m.model_id,
                experiment_id: m.experiment_id.to_string(),
                name: m.name,
                creation_timestamp_ms: m.creation_timestamp_ms,
                last_updated_timestamp_ms: m.last_updated_timestamp_ms,
                artifact_uri: m.artifact_location,
                status: m.status.as_str(),
                model_type: m.model_type.unwrap_or_default(),
                source_run_id: m.source_run_id,
                status_message: m.status_message,
                tags: key_values(m.tags),
            },
            data: LoggedModelDataMessage { params: key_values(m.params) },
        }
    }
}

/// `{}`: the body of every MLflow response without fields.
#[derive(Serialize)]
pub struct Empty {}

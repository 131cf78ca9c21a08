//! Which experiment an export goes to: `x-mlflow-experiment-id`, `x-mlflow-experiment-name`
//! (created on first use), or the server's `--default-trace-experiment`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rivulet_core::tracking::validation::{parse_experiment_id, validate_experiment_name};
use rivulet_core::tracking::NewExperiment;
use rivulet_core::{CoreError, ErrorCode};

use crate::AppState;

pub const EXPERIMENT_ID_HEADER: &str = "x-mlflow-experiment-id";
pub const EXPERIMENT_NAME_HEADER: &str = "x-mlflow-experiment-name";
pub const RUN_ID_HEADER: &str = "x-mlflow-run-id";

/// How long a name→id lookup is trusted; a renamed or deleted experiment is noticed after this.
const NAME_CACHE_TTL: Duration = Duration::from_secs(10);

/// The experiment headers of one request.
#[derive(Debug, Clone, Default)]
pub struct ExperimentSelector {
    pub experiment_id: Option<String>,
    pub experiment_name: Option<String>,
}

/// Resolves selectors, caching names so a Collector's steady stream costs no lookups.
#[derive(Debug)]
pub struct TraceExperiments {
    default_name: Option<String>,
    names: Mutex<HashMap<String, (i64, Instant)>>,
}

impl TraceExperiments {
    pub fn new(default_name: Option<String>) -> Self {
        TraceExperiments { default_name: default_name.filter(|n| !n.trim().is_empty()), names: Mutex::new(HashMap::new()) }
    }

    pub fn default_name(&self) -> Option<&str> {
        self.default_name.as_deref()
    }

    pub async fn resolve(&self, state: &AppState, selector: &ExperimentSelector) -> Result<i64, CoreError> {
        if let Some(id) = selector.experiment_id.as_deref().map(str::trim).filter(|id| !id.is_empty()) {
            // Existence and lifecycle are checked when the batch is written, in its transaction.
            return parse_experiment_id(id);
        }
        let name = match selector.experiment_name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            Some(name) => name.to_string(),
            None => match &self.default_name {
                Some(name) => name.clone(),
                None => {
                    return Err(CoreError::invalid_parameter(format!(
                        "no experiment for these traces: send the header '{EXPERIMENT_ID_HEADER}: <id>' or \
                         '{EXPERIMENT_NAME_HEADER}: <name>', or start the server with --default-trace-experiment <name>"
                    )))
                }
            },
        };
        if let Some(id) = self.cached(&name) {
            return Ok(id);
        }
        validate_experiment_name(&name)?;
        let id = match state.tracking.get_experiment_by_name(&name).await {
            Ok(experiment) => experiment.experiment_id,
            Err(error) if error.code == ErrorCode::ResourceDoesNotExist => {
                let new = NewExperiment { name: name.clone(), artifact_location: None, tags: Vec::new() };
                match state.tracking.create_experiment(new).await {
                    Ok(id) => {
                        tracing::info!(experiment_id = id, name = %name, "created experiment for incoming traces");
                        id
                    }
                    // Another request created it first.
                    Err(error) if error.code == ErrorCode::ResourceAlreadyExists => {
                        state.tracking.get_experiment_by_name(&name).await?.experiment_id
                    }
                    Err(error) => return Err(error),
                }
            }
            Err(error) => return Err(error),
        };
        if let Ok(mut names) = self.names.lock() {
            names.insert(name, (id, Instant::now()));
        }
        Ok(id)
    }

    fn cached(&self, name: &str) -> Option<i64> {
        let names = self.names.lock().ok()?;
        names.get(name).filter(|(_, at)| at.elapsed() < NAME_CACHE_TTL).map(|(id, _)| *id)
    }
}

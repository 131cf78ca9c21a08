//! MLflow's validation rules for names, values and batch limits, with MLflow's messages.

use std::collections::HashSet;

use super::{LogBatch, Metric, NewExperiment, NewRun, Tag, RUN_NAME_TAG};
use crate::{CoreError, Result};

pub const MAX_ENTITY_KEY_LENGTH: usize = 250;
pub const MAX_PARAM_VALUE_LENGTH: usize = 6000;
pub const MAX_TAG_VALUE_LENGTH: usize = 8000;
pub const MAX_EXPERIMENT_NAME_LENGTH: usize = 500;
pub const MAX_EXPERIMENT_TAG_VALUE_LENGTH: usize = 20000;
pub const MAX_ARTIFACT_LOCATION_LENGTH: usize = 2048;
pub const MAX_METRICS_PER_BATCH: usize = 1000;
pub const MAX_PARAMS_PER_BATCH: usize = 100;
pub const MAX_TAGS_PER_BATCH: usize = 100;
pub const MAX_ENTITIES_PER_BATCH: usize = 1000;
pub const MAX_RESULTS_SEARCH_RUNS: i64 = 50000;
pub const MAX_RESULTS_SEARCH_EXPERIMENTS: i64 = 50000;
pub const MAX_DATASET_NAME_LENGTH: usize = 500;
pub const MAX_DATASET_DIGEST_LENGTH: usize = 36;
pub const MAX_DATASET_SOURCE_LENGTH: usize = 65535;
pub const MAX_DATASET_SCHEMA_LENGTH: usize = 1_048_575;
pub const MAX_DATASET_PROFILE_LENGTH: usize = 16_777_215;
pub const MAX_INPUT_TAG_KEY_LENGTH: usize = 255;
pub const MAX_INPUT_TAG_VALUE_LENGTH: usize = 500;

/// Whether over-long param and tag values are cut to their limit (MLflow's
/// `MLFLOW_TRUNCATE_LONG_VALUES`, on by default) or refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongValues {
    Truncate,
    Reject,
}

fn bad_value(value: &str, parameter: &str, hint: &str) -> CoreError {
    CoreError::invalid_parameter(format!(
        "Invalid value \"{value}\" for parameter '{parameter}' supplied: {hint}"
    ))
}

fn key_char_allowed(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '/' | '.' | '-' | ' ' | ':')
}

/// POSIX `normpath`, enough to tell whether a key would resolve to another name as a path.
fn posix_normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Checks a metric, param or tag key: allowed characters, no path tricks, at most 250 chars.
/// `parameter` is the request field named in the message; `label` names the key kind.
pub fn validate_key(key: &str, parameter: &str, label: &str) -> Result<()> {
    if key.is_empty() {
        return Err(CoreError::missing_parameter(parameter));
    }
    if !key.chars().all(key_char_allowed) {
        return Err(bad_value(
            key,
            parameter,
            "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).",
        ));
    }
    let normalized = posix_normpath(key);
    if normalized != key || normalized == "." || normalized.starts_with("..") || normalized.starts_with('/') {
        return Err(bad_value(
            key,
            parameter,
            &format!("Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '{normalized}'"),
        ));
    }
    if key.chars().count() > MAX_ENTITY_KEY_LENGTH {
        return Err(CoreError::invalid_parameter(format!(
            "'{label}' exceeds the maximum length of {MAX_ENTITY_KEY_LENGTH} characters"
        )));
    }
    Ok(())
}

fn limit_value(value: &mut String, max: usize, label: &str, mode: LongValues) -> Result<()> {
    if value.chars().count() <= max {
        return Ok(());
    }
    match mode {
        LongValues::Truncate => {
            let cut = value.char_indices().nth(max).map(|(idx, _)| idx).unwrap_or(value.len());
            value.truncate(cut);
            Ok(())
        }
        LongValues::Reject => Err(CoreError::invalid_parameter(format!(
            "'{label}' exceeds the maximum length of {max} characters"
        ))),
    }
}

pub fn validate_metric(metric: &Metric) -> Result<()> {
    validate_key(&metric.key, "name", "Metric name")?;
    if metric.timestamp < 0 {
        return Err(bad_value(
            &metric.timestamp.to_string(),
            "timestamp",
            "Timestamp must be a nonnegative long (64-bit integer) ",
        ));
    }
    Ok(())
}

pub fn validate_param(param: &mut Tag, mode: LongValues) -> Result<()> {
    validate_key(&param.key, "key", "Param key")?;
    limit_value(&mut param.value, MAX_PARAM_VALUE_LENGTH, "Param value", mode)
}

pub fn validate_run_tag(tag: &mut Tag, mode: LongValues) -> Result<()> {
    validate_key(&tag.key, "key", "Tag key")?;
    limit_value(&mut tag.value, MAX_TAG_VALUE_LENGTH, "Tag value", mode)
}

pub fn validate_experiment_tag(tag: &Tag) -> Result<()> {
    validate_key(&tag.key, "key", "key")?;
    if tag.value.chars().count() > MAX_EXPERIMENT_TAG_VALUE_LENGTH {
        return Err(CoreError::invalid_parameter(format!(
            "'value' exceeds the maximum length of {MAX_EXPERIMENT_TAG_VALUE_LENGTH} characters"
        )));
    }
    Ok(())
}

pub fn validate_experiment_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(CoreError::invalid_parameter(format!("Invalid experiment name: '{name}'")));
    }
    if name.chars().count() > MAX_EXPERIMENT_NAME_LENGTH {
        return Err(CoreError::invalid_parameter(format!(
            "'name' exceeds the maximum length of {MAX_EXPERIMENT_NAME_LENGTH} characters"
        )));
    }
    Ok(())
}

/// Parses an experiment id the way MLflow does (it must be an integer).
pub fn parse_experiment_id(value: &str) -> Result<i64> {
    value.trim().parse::<i64>().map_err(|_| {
        CoreError::invalid_parameter(format!(
            "Invalid experiment ID '{value}'. Experiment ID must be a valid integer."
        ))
    })
}

/// MLflow's run-id shape check (`^[a-zA-Z0-9][\w\-]{0,255}$`), which also keeps ids out of paths.
pub fn validate_run_id(run_id: &str) -> Result<()> {
    let mut chars = run_id.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.clone().count() <= 255 && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(CoreError::invalid_parameter(format!(
            "Invalid value \"{run_id}\" for parameter 'run_id' supplied."
        )))
    }
}

/// Checks a new experiment's name, tags and artifact location.
pub fn validate_new_experiment(experiment: &NewExperiment) -> Result<()> {
    validate_experiment_name(&experiment.name)?;
    for tag in &experiment.tags {
        validate_experiment_tag(tag)?;
    }
    if let Some(location) = &experiment.artifact_location {
        validate_artifact_location(location)?;
    }
    Ok(())
}

/// The parts of MLflow's artifact-location checks that do not depend on server configuration.
pub fn validate_artifact_location(location: &str) -> Result<()> {
    if location.chars().count() > MAX_ARTIFACT_LOCATION_LENGTH {
        return Err(CoreError::invalid_parameter(format!(
            "'artifact_location' exceeds the maximum length of {MAX_ARTIFACT_LOCATION_LENGTH} characters"
        )));
    }
    if location.starts_with("runs:/") {
        return Err(CoreError::invalid_parameter(format!(
            "Artifact location cannot be a runs:/ URI. Given: '{location}'"
        )));
    }
    if location.contains('#') || location.contains(';') {
        return Err(CoreError::invalid_parameter(
            "'artifact_location' URL can't include fragments or params.",
        ));
    }
    if let Some((_, query)) = location.split_once('?') {
        if query.contains("..") {
            return Err(CoreError::invalid_parameter("Invalid query string"));
        }
    }
    Ok(())
}

/// Resolves a new run's name from `run_name` and the `mlflow.runName` tag, adds the tag if
/// absent, and validates the tags. Generates a name when neither is given.
pub fn prepare_new_run(
    experiment_id: i64,
    user_id: Option<String>,
    run_name: Option<String>,
    start_time: Option<i64>,
    mut tags: Vec<Tag>,
    mode: LongValues,
) -> Result<NewRun> {
    for tag in &mut tags {
        validate_run_tag(tag, mode)?;
    }
    let tag_name = tags.iter().find(|t| t.key == RUN_NAME_TAG).map(|t| t.value.clone());
    let run_name = run_name.filter(|name| !name.is_empty());
    let name = match (run_name, tag_name) {
        (Some(given), Some(tagged)) if given != tagged => {
            return Err(CoreError::invalid_parameter(format!(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='{given}', mlflow.runName='{tagged}')."
            )))
        }
        (Some(given), _) => given,
        (None, Some(tagged)) if !tagged.is_empty() => tagged,
        _ => super::names::random_run_name(),
    };
    tags.retain(|t| t.key != RUN_NAME_TAG);
    tags.push(Tag::new(RUN_NAME_TAG, name.clone()));
    Ok(NewRun { experiment_id, user_id, run_name: name, start_time, tags })
}

/// Validates a whole batch before anything is written: limits, keys, values, duplicate params.
pub fn validate_log_batch(batch: &mut LogBatch, mode: LongValues) -> Result<()> {
    let too_many = |count: usize, max: usize, what: &str| {
        CoreError::invalid_parameter(format!(
            "A batch logging request can contain at most {max} {what}. Got {count} {what}. Please split up {what} across multiple requests and try again."
        ))
    };
    if batch.metrics.len() > MAX_METRICS_PER_BATCH {
        return Err(too_many(batch.metrics.len(), MAX_METRICS_PER_BATCH, "metrics"));
    }
    if batch.params.len() > MAX_PARAMS_PER_BATCH {
        return Err(too_many(batch.params.len(), MAX_PARAMS_PER_BATCH, "params"));
    }
    if batch.tags.len() > MAX_TAGS_PER_BATCH {
        return Err(too_many(batch.tags.len(), MAX_TAGS_PER_BATCH, "tags"));
    }
    let total = batch.metrics.len() + batch.params.len() + batch.tags.len();
    if total > MAX_ENTITIES_PER_BATCH {
        return Err(CoreError::invalid_parameter(format!(
            "A batch logging request can contain at most {MAX_ENTITIES_PER_BATCH} metrics, params, and tags in total. Got {total} in total. Please split up metrics, params, and tags across multiple requests and try again."
        )));
    }
    for metric in &batch.metrics {
        validate_metric(metric)?;
    }
    for param in &mut batch.params {
        validate_param(param, mode)?;
    }
    for tag in &mut batch.tags {
        validate_run_tag(tag, mode)?;
    }
    let mut seen = HashSet::new();
    let mut duplicates: Vec<&str> = Vec::new();
    for param in &batch.params {
        if !seen.insert(param.key.as_str()) && !duplicates.contains(&param.key.as_str()) {
            duplicates.push(&param.key);
        }
    }
    if !duplicates.is_empty() {
        let listed = duplicates.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ");
        return Err(CoreError::invalid_parameter(format!(
            "Duplicate parameter keys have been submitted: [{listed}]. Please ensure the request contains only one param value per param key."
        )));
    }
    Ok(())
}

/// Checks a dataset input against MLflow's column limits.
pub fn validate_dataset_input(input: &super::DatasetInput) -> Result<()> {
    let too_long = |what: &str, value: &str, max: usize| -> Result<()> {
        if value.chars().count() > max {
            Err(CoreError::invalid_parameter(format!("Dataset {what} exceeds the maximum length of {max}")))
        } else {
            Ok(())
        }
    };
    let dataset = &input.dataset;
    too_long("name", &dataset.name, MAX_DATASET_NAME_LENGTH)?;
    too_long("digest", &dataset.digest, MAX_DATASET_DIGEST_LENGTH)?;
    too_long("source", &dataset.source, MAX_DATASET_SOURCE_LENGTH)?;
    too_long("schema", dataset.schema.as_deref().unwrap_or_default(), MAX_DATASET_SCHEMA_LENGTH)?;
    too_long("profile", dataset.profile.as_deref().unwrap_or_default(), MAX_DATASET_PROFILE_LENGTH)?;
    for tag in &input.tags {
        if tag.key.chars().count() > MAX_INPUT_TAG_KEY_LENGTH {
            return Err(CoreError::invalid_parameter(format!(
                "'key' exceeds the maximum length of {MAX_INPUT_TAG_KEY_LENGTH} characters"
            )));
        }
        if tag.value.chars().count() > MAX_INPUT_TAG_VALUE_LENGTH {
            return Err(CoreError::invalid_parameter(format!(
                "'value' exceeds the maximum length of {MAX_INPUT_TAG_VALUE_LENGTH} characters"
            )));
        }
    }
    Ok(())
}

/// The latest-metric order: MLflow keeps the row with the greatest `(step, timestamp, value)`.
pub fn is_newer_metric(candidate: &Metric, current: &Metric) -> bool {
    let value_order = |m: &Metric| if m.value.is_nan() { f64::NEG_INFINITY } else { m.value };
    (candidate.step, candidate.timestamp)
        .cmp(&(current.step, current.timestamp))
        .then_with(|| {
            value_order(candidate)
                .partial_cmp(&value_order(current))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .is_gt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_mlflow_rules() {
        for good in ["acc", "a/b", "loss val", "x:y", "m.1-2_3", "größe"] {
            validate_key(good, "key", "Param key").unwrap();
        }
        for bad in ["bad?name", "a/../b", "./a", "a//b", "a/", "/a", "..", "."] {
            assert!(validate_key(bad, "key", "Param key").is_err(), "{bad}");
        }
        let err = validate_key("bad?name", "key", "Param key").unwrap_err();
        assert!(err.message.starts_with("Invalid value \"bad?name\" for parameter 'key' supplied: Names may only contain"));
        let long = "k".repeat(251);
        assert!(validate_key(&long, "key", "Param key").unwrap_err().message.contains("250"));
    }

    #[test]
    fn long_param_values_are_truncated_or_rejected() {
        let mut param = Tag::new("p", "x".repeat(7000));
        validate_param(&mut param, LongValues::Truncate).unwrap();
        assert_eq!(param.value.len(), MAX_PARAM_VALUE_LENGTH);
        let mut param = Tag::new("p", "x".repeat(7000));
        assert!(validate_param(&mut param, LongValues::Reject).is_err());
    }

    #[test]
    fn batch_limits_and_duplicates() {
        let metric = Metric { key: "m".into(), value: 1.0, timestamp: 1, step: 0 };
        let mut batch = LogBatch { metrics: vec![metric; 1001], ..Default::default() };
        let err = validate_log_batch(&mut batch, LongValues::Truncate).unwrap_err();
        assert!(err.message.contains("at most 1000 metrics. Got 1001 metrics"));
        let mut batch = LogBatch {
            params: vec![Tag::new("dup", "1"), Tag::new("dup", "2")],
            ..Default::default()
        };
        let err = validate_log_batch(&mut batch, LongValues::Truncate).unwrap_err();
        assert!(err.message.contains("['dup']"), "{}", err.message);
    }

    #[test]
    fn run_name_conflict_and_default() {
        let tags = vec![Tag::new(RUN_NAME_TAG, "a")];
        assert!(prepare_new_run(0, None, Some("b".into()), None, tags, LongValues::Truncate).is_err());
        let run = prepare_new_run(0, None, None, None, vec![], LongValues::Truncate).unwrap();
        assert!(run.tags.iter().any(|t| t.key == RUN_NAME_TAG && t.value == run.run_name));
    }

    #[test]
    fn latest_metric_order() {
        let m = |step, timestamp, value| Metric { key: "k".into(), value, timestamp, step };
        assert!(is_newer_metric(&m(2, 0, 0.0), &m(1, 9, 9.0)));
        assert!(is_newer_metric(&m(1, 2, 0.0), &m(1, 1, 9.0)));
        assert!(is_newer_metric(&m(1, 1, 2.0), &m(1, 1, 1.0)));
        assert!(!is_newer_metric(&m(1, 1, 1.0), &m(1, 1, 1.0)));
    }

    #[test]
    fn experiment_ids_must_be_integers() {
        assert_eq!(parse_experiment_id("12").unwrap(), 12);
        assert!(parse_experiment_id("abc").unwrap_err().message.contains("must be a valid integer"));
    }
}

//! Trace wire shapes: TraceInfoV3 and Assessment JSON both ways, and the legacy v2 TraceInfo.

use std::collections::BTreeMap;

use rivulet_core::traces::json::python_dumps;
use rivulet_core::traces::model::{Assessment, TraceInfo, TraceState};
use rivulet_core::tracking::validation::parse_experiment_id;
use rivulet_core::CoreError;
use serde_json::{Map, Value};

use super::time::{format_duration_ms, format_timestamp_ms, parse_duration_ms, parse_timestamp_ms};
use crate::error::{ApiError, ApiResult};
use crate::request::Fields;

/// MLflow truncates metadata values to this many characters whenever it serialises a TraceInfo.
const MAX_METADATA_VALUE_CHARS: usize = 250;
/// ... and tag values to this many.
const MAX_TAG_VALUE_CHARS: usize = 4096;
const LOCATION_TYPE_EXPERIMENT: &str = "MLFLOW_EXPERIMENT";

fn truncated(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((idx, _)) => text[..idx].to_string(),
        None => text.to_string(),
    }
}

fn string_map(map: &BTreeMap<String, String>, max: usize) -> Value {
    Value::Object(map.iter().map(|(k, v)| (k.clone(), Value::String(truncated(v, max)))).collect())
}

/// `{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "1"}}`.
pub fn experiment_location(experiment_id: i64) -> Value {
    serde_json::json!({
        "type": LOCATION_TYPE_EXPERIMENT,
        "mlflow_experiment": { "experiment_id": experiment_id.to_string() },
    })
}

/// TraceInfoV3 as MLflow's server writes it: unset fields and empty maps left out.
pub fn trace_info_json(info: &TraceInfo) -> Value {
    let mut out = Map::new();
    out.insert("trace_id".into(), info.trace_id.clone().into());
    if let Some(id) = &info.client_request_id {
        out.insert("client_request_id".into(), id.clone().into());
    }
    out.insert("trace_location".into(), experiment_location(info.experiment_id));
    if let Some(preview) = &info.request_preview {
        out.insert("request_preview".into(), preview.clone().into());
    }
    if let Some(preview) = &info.response_preview {
        out.insert("response_preview".into(), preview.clone().into());
    }
    out.insert("request_time".into(), format_timestamp_ms(info.request_time_ms).into());
    if let Some(duration) = info.execution_duration_ms {
        out.insert("execution_duration".into(), format_duration_ms(duration).into());
    }
    out.insert("state".into(), info.state.as_str().into());
    if !info.trace_metadata.is_empty() {
        out.insert("trace_metadata".into(), string_map(&info.trace_metadata, MAX_METADATA_VALUE_CHARS));
    }
    if !info.tags.is_empty() {
        out.insert("tags".into(), string_map(&info.tags, MAX_TAG_VALUE_CHARS));
    }
    if !info.assessments.is_empty() {
        out.insert("assessments".into(), info.assessments.iter().map(assessment_json).collect());
    }
    Value::Object(out)
}

fn key_value_list(map: &BTreeMap<String, String>, max: usize) -> Value {
    map.iter().map(|(k, v)| serde_json::json!({"key": k, "value": truncated(v, max)})).collect()
}

/// The legacy v2 TraceInfo (`request_id`, `timestamp_ms`, key/value lists) for the v2 fallbacks.
pub fn trace_info_v2_json(info: &TraceInfo) -> Value {
    let mut out = Map::new();
    out.insert("request_id".into(), info.trace_id.clone().into());
    out.insert("experiment_id".into(), info.experiment_id.to_string().into());
    out.insert("timestamp_ms".into(), info.request_time_ms.into());
    if let Some(duration) = info.execution_duration_ms {
        out.insert("execution_time_ms".into(), duration.into());
    }
    let status = match info.state {
        TraceState::Unspecified => "TRACE_STATUS_UNSPECIFIED",
        other => other.as_str(),
    };
    out.insert("status".into(), status.into());
    if !info.trace_metadata.is_empty() {
        out.insert("request_metadata".into(), key_value_list(&info.trace_metadata, MAX_METADATA_VALUE_CHARS));
    }
    if !info.tags.is_empty() {
        out.insert("tags".into(), key_value_list(&info.tags, MAX_TAG_VALUE_CHARS));
    }
    Value::Object(out)
}

/// A field's invalid value, in the wording MLflow's request parser uses.
fn invalid_value(fields_path: &str, value: &Value) -> ApiError {
    ApiError::invalid_parameter(format!(
        "Invalid value {} for parameter '{fields_path}' supplied.",
        serde_json::to_string(value).unwrap_or_default()
    ))
}

/// A `map<string, string>` field; scalar values are taken as their text, as lenient clients
/// send numbers and booleans there.
pub fn read_string_map(fields: &Fields, name: &str) -> ApiResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    match fields.get(name)? {
        None => {}
        Some(Value::Object(map)) => {
            for (key, value) in map {
                let text = match value {
                    Value::Null => continue,
                    Value::String(s) => s.clone(),
                    Value::Bool(_) | Value::Number(_) => value.to_string(),
                    other => return Err(invalid_value(&format!("{name}.{key}"), other)),
                };
                out.insert(key.clone(), text);
            }
        }
        Some(other) => return Err(invalid_value(name, other)),
    }
    Ok(out)
}

/// A `google.protobuf.Timestamp` field as epoch ms.
pub fn read_timestamp(fields: &Fields, name: &str) -> ApiResult<Option<i64>> {
    match fields.get(name)? {
        None => Ok(None),
        Some(Value::String(text)) => parse_timestamp_ms(text)
            .map(Some)
            .ok_or_else(|| ApiError::invalid_parameter(format!("Invalid value \"{text}\" for parameter '{name}' supplied: not an RFC 3339 timestamp."))),
        Some(other) => Err(invalid_value(name, other)),
    }
}

/// A `google.protobuf.Duration` field as ms.
fn read_duration(fields: &Fields, name: &str) -> ApiResult<Option<i64>> {
    match fields.get(name)? {
        None => Ok(None),
        Some(Value::String(text)) => parse_duration_ms(text)
            .map(Some)
            .ok_or_else(|| ApiError::invalid_parameter(format!("Invalid value \"{text}\" for parameter '{name}' supplied: not a duration such as \"1.5s\"."))),
        Some(other) => Err(invalid_value(name, other)),
    }
}

/// The experiment id of a `TraceLocation`; `None` for location types this server does not keep.
pub fn location_experiment_id(location: &Fields) -> ApiResult<Option<i64>> {
    if let Some(kind) = location.enum_text("type")? {
        if !matches!(kind.as_str(), LOCATION_TYPE_EXPERIMENT | "1" | "TRACE_LOCATION_TYPE_UNSPECIFIED" | "0") {
            return Ok(None);
        }
    }
    let Some(experiment) = location.message("mlflow_experiment")? else {
        return Ok(None);
    };
    match experiment.enum_text("experiment_id")? {
        Some(id) if !id.is_empty() => Ok(Some(parse_experiment_id(&id)?)),
        _ => Err(experiment.missing("experiment_id")),
    }
}

/// The TraceInfoV3 of a StartTraceV3 body (`{"trace": {"trace_info": {...}}}`).
pub fn trace_info_from_start_request(body: &Fields) -> ApiResult<TraceInfo> {
    let trace = body.message("trace")?.ok_or_else(|| body.missing("trace"))?;
    let info = trace.message("trace_info")?.ok_or_else(|| trace.missing("trace_info"))?;
    let trace_id = info.required_string("trace_id")?;
    let location = info.message("trace_location")?.ok_or_else(|| info.missing("trace_location"))?;
    let experiment_id = location_experiment_id(&location)?.ok_or_else(|| {
        ApiError::invalid_parameter("Only traces in an MLflow experiment (trace_location.type MLFLOW_EXPERIMENT) can be stored on this server.")
    })?;
    let state = match info.enum_text("state")? {
        None => TraceState::Unspecified,
        Some(text) => TraceState::parse(&text.to_ascii_uppercase())
            .ok_or_else(|| ApiError::invalid_parameter(format!("Invalid value \"{text}\" for parameter 'trace.trace_info.state' supplied.")))?,
    };
    // Over-long tag keys are truncated by the store, as MLflow's does.
    let tags = read_string_map(&info, "tags")?;
    let assessments = info
        .messages("assessments")?
        .iter()
        .map(|a| assessment_from_fields(a, &trace_id))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(TraceInfo {
        client_request_id: info.string("client_request_id")?.filter(|s| !s.is_empty()),
        experiment_id,
        request_time_ms: read_timestamp(&info, "request_time")?.unwrap_or(0),
        execution_duration_ms: read_duration(&info, "execution_duration")?,
        state,
        request_preview: info.string("request_preview")?,
        response_preview: info.string("response_preview")?,
        trace_metadata: read_string_map(&info, "trace_metadata")?,
        name: tags.get(rivulet_core::traces::trace_keys::TRACE_NAME).cloned(),
        tags,
        assessments,
        session_id: None,
        span_count: None,
        trace_id,
    })
}

/// MLflow's limit on trace tag keys (the `trace_tags.key` column); values are truncated by the store.
const MAX_TAG_KEY_CHARS: usize = 250;

pub fn validate_tag_key(key: &str) -> ApiResult<()> {
    if key.is_empty() {
        return Err(CoreError::missing_parameter("key").into());
    }
    if key.chars().count() > MAX_TAG_KEY_CHARS {
        return Err(ApiError::invalid_parameter(format!(
            "Trace tag key '{}...' exceeds the maximum length of {MAX_TAG_KEY_CHARS} characters",
            truncated(key, 50)
        )));
    }
    Ok(())
}

// ---- Assessments -----------------------------------------------------------------------------

const SOURCE_TYPES: [&str; 4] = ["SOURCE_TYPE_UNSPECIFIED", "HUMAN", "LLM_JUDGE", "CODE"];

/// An assessment source type by name or number; `AI_JUDGE` is the older name of `LLM_JUDGE`.
fn source_type(text: &str) -> Option<&'static str> {
    let upper = text.to_ascii_uppercase();
    if upper == "AI_JUDGE" {
        return Some("LLM_JUDGE");
    }
    if let Ok(number) = upper.parse::<usize>() {
        return SOURCE_TYPES.get(number).copied();
    }
    SOURCE_TYPES.iter().copied().find(|t| *t == upper)
}

/// Parses stored JSON text; text that is not JSON is shown as the string it is.
fn stored_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// The feedback/expectation/issue part of an assessment's JSON.
fn assessment_value_json(assessment: &Assessment) -> (&'static str, Value) {
    let value = stored_json(&assessment.value);
    match assessment.kind.as_str() {
        "expectation" => {
            // The client expects structured expectations in their serialized form.
            let body = if value.is_object() || value.is_array() {
                serde_json::json!({"serialized_value": {"serialization_format": "JSON_FORMAT", "value": python_dumps(&value)}})
            } else {
                serde_json::json!({ "value": value })
            };
            ("expectation", body)
        }
        "issue" => ("issue", if value.is_object() { value } else { serde_json::json!({}) }),
        _ => {
            let mut feedback = Map::new();
            feedback.insert("value".into(), value);
            if let Some(error) = &assessment.error {
                feedback.insert("error".into(), stored_json(error));
            }
            ("feedback", Value::Object(feedback))
        }
    }
}

/// An Assessment as MLflow's server writes it.
pub fn assessment_json(assessment: &Assessment) -> Value {
    let mut out = Map::new();
    out.insert("assessment_id".into(), assessment.assessment_id.clone().into());
    out.insert("assessment_name".into(), assessment.name.clone().into());
    out.insert("trace_id".into(), assessment.trace_id.clone().into());
    if let Some(span_id) = assessment.span_id.as_ref().filter(|s| !s.is_empty()) {
        out.insert("span_id".into(), span_id.clone().into());
    }
    let mut source = Map::new();
    source.insert("source_type".into(), assessment.source_type.clone().into());
    if let Some(id) = &assessment.source_id {
        source.insert("source_id".into(), id.clone().into());
    }
    out.insert("source".into(), Value::Object(source));
    out.insert("create_time".into(), format_timestamp_ms(assessment.created_ms).into());
    out.insert("last_update_time".into(), format_timestamp_ms(assessment.last_updated_ms).into());
    let (kind, value) = assessment_value_json(assessment);
    out.insert(kind.into(), value);
    if let Some(rationale) = &assessment.rationale {
        out.insert("rationale".into(), rationale.clone().into());
    }
    if !assessment.metadata.is_empty() {
        out.insert("metadata".into(), string_map(&assessment.metadata, usize::MAX));
    }
    if let Some(run_id) = assessment.run_id.as_ref().filter(|s| !s.is_empty()) {
        out.insert("run_id".into(), run_id.clone().into());
    }
    if let Some(overrides) = assessment.overrides.as_ref().filter(|s| !s.is_empty()) {
        out.insert("overrides".into(), overrides.clone().into());
    }
    out.insert("valid".into(), assessment.valid.into());
    Value::Object(out)
}

/// Feedback `value` and `error` as stored JSON text.
fn feedback_parts(feedback: &Fields, outer: &Fields) -> ApiResult<(String, Option<String>)> {
    let value = python_dumps(feedback.get("value")?.unwrap_or(&Value::Null));
    // `error` sits inside `feedback` today; older clients put it on the assessment itself.
    let error = match feedback.get("error")?.or(outer.get("error")?) {
        None => None,
        Some(error @ Value::Object(_)) => Some(python_dumps(error)),
        Some(other) => return Err(invalid_value("feedback.error", other)),
    };
    Ok((value, error))
}

/// An expectation's value as stored JSON text: a plain `value`, or `serialized_value` JSON text.
fn expectation_value(expectation: &Fields) -> ApiResult<String> {
    if let Some(serialized) = expectation.message("serialized_value")? {
        if let Some(format) = serialized.enum_text("serialization_format")? {
            if !matches!(format.as_str(), "JSON_FORMAT" | "1" | "SERIALIZATION_FORMAT_UNSPECIFIED" | "0") {
                return Err(ApiError::invalid_parameter(format!("Unsupported serialization format '{format}' for an expectation value.")));
            }
        }
        let text = serialized.string("value")?.unwrap_or_default();
        let parsed: Value = serde_json::from_str(&text).map_err(|_| {
            ApiError::invalid_parameter("The serialized value of the expectation is not valid JSON.".to_string())
        })?;
        return Ok(python_dumps(&parsed));
    }
    Ok(python_dumps(expectation.get("value")?.unwrap_or(&Value::Null)))
}

/// The value of one kind of assessment body: (`kind`, value JSON, error JSON).
fn assessment_kind(fields: &Fields) -> ApiResult<Option<(&'static str, String, Option<String>)>> {
    let feedback = fields.message("feedback")?;
    let expectation = fields.message("expectation")?;
    let issue = fields.get("issue")?;
    let present = usize::from(feedback.is_some()) + usize::from(expectation.is_some()) + usize::from(issue.is_some());
    if present > 1 {
        return Err(ApiError::invalid_parameter("An assessment can only have one of feedback, expectation or issue."));
    }
    if let Some(feedback) = feedback {
        let (value, error) = feedback_parts(&feedback, fields)?;
        return Ok(Some(("feedback", value, error)));
    }
    if let Some(expectation) = expectation {
        return Ok(Some(("expectation", expectation_value(&expectation)?, None)));
    }
    match issue {
        Some(issue @ Value::Object(_)) => Ok(Some(("issue", python_dumps(issue), None))),
        Some(other) => Err(invalid_value("issue", other)),
        None => Ok(None),
    }
}

/// A new assessment from a CreateAssessment body's `assessment` (or a StartTraceV3 trace's).
/// The id and times stay empty/zero when not given; the store fills them in.
pub fn assessment_from_fields(fields: &Fields, trace_id: &str) -> ApiResult<Assessment> {
    let name = fields.required_string("assessment_name")?;
    let source = fields.message("source")?.ok_or_else(|| fields.missing("source"))?;
    let source_text = source.enum_text("source_type")?.filter(|s| !s.is_empty()).ok_or_else(|| source.missing("source_type"))?;
    let source_type = source_type(&source_text)
        .ok_or_else(|| ApiError::invalid_parameter(format!("Invalid value \"{source_text}\" for parameter 'source.source_type' supplied.")))?;
    let (kind, value, error) = assessment_kind(fields)?
        .ok_or_else(|| ApiError::invalid_parameter("An assessment must have one of feedback, expectation or issue."))?;
    Ok(Assessment {
        assessment_id: fields.string("assessment_id")?.unwrap_or_default(),
        trace_id: trace_id.to_string(),
        name,
        kind: kind.to_string(),
        value,
        error,
        created_ms: read_timestamp(fields, "create_time")?.unwrap_or(0),
        last_updated_ms: read_timestamp(fields, "last_update_time")?.unwrap_or(0),
        source_type: source_type.to_string(),
        source_id: source.string("source_id")?.filter(|s| !s.is_empty()),
        run_id: fields.string("run_id")?.filter(|s| !s.is_empty()),
        span_id: fields.string("span_id")?.filter(|s| !s.is_empty()),
        rationale: fields.string("rationale")?,
        overrides: fields.string("overrides")?.filter(|s| !s.is_empty()),
        valid: fields.bool("valid")?.unwrap_or(true),
        metadata: read_string_map(fields, "metadata")?,
    })
}

/// The fields an UpdateAssessment may change, named by the mask in either spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Updatable {
    Name,
    Feedback,
    Expectation,
    Rationale,
    Metadata,
}

fn updatable(path: &str) -> Option<Updatable> {
    // `feedback.value` and the like update their whole message.
    match path.trim().split('.').next().unwrap_or_default() {
        "assessment_name" | "assessmentName" => Some(Updatable::Name),
        "feedback" => Some(Updatable::Feedback),
        "expectation" => Some(Updatable::Expectation),
        "rationale" => Some(Updatable::Rationale),
        "metadata" => Some(Updatable::Metadata),
        _ => None,
    }
}

/// The mask paths: a FieldMask's JSON string (`"assessmentName,feedback"`), a list, or `{paths}`.
fn mask_paths(body: &Fields) -> ApiResult<Vec<String>> {
    Ok(match body.get("update_mask")? {
        None => Vec::new(),
        Some(Value::String(text)) => text.split(',').map(str::to_string).collect(),
        Some(Value::Array(_)) => body.strings("update_mask")?,
        Some(Value::Object(_)) => body.message("update_mask")?.map(|m| m.strings("paths")).transpose()?.unwrap_or_default(),
        Some(other) => return Err(invalid_value("update_mask", other)),
    })
}

/// Applies an UpdateAssessment body to the stored assessment. Paths outside the updatable set
/// (source, span_id, create_time…) are ignored: those fields are immutable. Without a mask,
/// every updatable field the body carries is applied.
pub fn apply_assessment_update(current: &Assessment, body: &Fields) -> ApiResult<Assessment> {
    let update = body.message("assessment")?.ok_or_else(|| body.missing("assessment"))?;
    let paths = mask_paths(body)?;
    let mut wanted: Vec<Updatable> = paths.iter().filter_map(|p| updatable(p)).collect();
    if paths.iter().all(|p| p.trim().is_empty()) {
        for (name, field) in [
            ("assessment_name", Updatable::Name),
            ("feedback", Updatable::Feedback),
            ("expectation", Updatable::Expectation),
            ("rationale", Updatable::Rationale),
            ("metadata", Updatable::Metadata),
        ] {
            if update.get(name)?.is_some() {
                wanted.push(field);
            }
        }
    }
    let mut next = current.clone();
    // The store merges metadata into what is stored; only the new keys travel.
    next.metadata.clear();
    for field in wanted {
        match field {
            Updatable::Name => next.name = update.required_string("assessment_name")?,
            Updatable::Rationale => next.rationale = update.string("rationale")?,
            Updatable::Metadata => next.metadata = read_string_map(&update, "metadata")?,
            Updatable::Feedback | Updatable::Expectation => {
                let wanted_kind = if field == Updatable::Feedback { "feedback" } else { "expectation" };
                if current.kind != wanted_kind {
                    return Err(ApiError::invalid_parameter(format!(
                        "Cannot update assessment '{}' with a {wanted_kind} value: it is a {}.",
                        current.assessment_id, current.kind
                    )));
                }
                let (kind, value, error) = assessment_kind(&update)?.ok_or_else(|| update.missing(wanted_kind))?;
                if kind != wanted_kind {
                    return Err(ApiError::invalid_parameter(format!(
                        "Cannot update assessment '{}' with a {kind} value: it is a {}.",
                        current.assessment_id, current.kind
                    )));
                }
                next.value = value;
                next.error = error;
            }
        }
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(kind: &str, value: &str) -> Assessment {
        Assessment {
            assessment_id: "a-1".into(),
            trace_id: "tr-1".into(),
            name: "n".into(),
            kind: kind.into(),
            value: value.into(),
            error: None,
            created_ms: 1_000,
            last_updated_ms: 2_500,
            source_type: "HUMAN".into(),
            source_id: Some("bob".into()),
            run_id: None,
            span_id: None,
            rationale: None,
            overrides: None,
            valid: true,
            metadata: BTreeMap::new(),
        }
    }

    #[test]
    fn structured_expectations_are_serialized() {
        let json = assessment_json(&stored("expectation", "{\"a\": [1, 2]}"));
        assert_eq!(json["expectation"]["serialized_value"]["value"], "{\"a\": [1, 2]}");
        assert_eq!(json["expectation"]["serialized_value"]["serialization_format"], "JSON_FORMAT");
        let json = assessment_json(&stored("expectation", "\"yes\""));
        assert_eq!(json["expectation"], serde_json::json!({"value": "yes"}));
        assert_eq!(json["create_time"], "1970-01-01T00:00:01Z");
        assert_eq!(json["last_update_time"], "1970-01-01T00:00:02.500Z");
    }

    #[test]
    fn assessments_parse_from_the_wire() {
        let body = Fields::from_json(
            br#"{"assessment_name": "q", "source": {"source_type": "AI_JUDGE", "source_id": "gpt"},
                 "expectation": {"serialized_value": {"serialization_format": "JSON_FORMAT", "value": "{\"k\":1}"}}}"#,
        );
        let assessment = assessment_from_fields(&body, "tr-1").unwrap();
        assert_eq!(assessment.kind, "expectation");
        assert_eq!(assessment.value, "{\"k\": 1}");
        assert_eq!(assessment.source_type, "LLM_JUDGE");
        let missing = Fields::from_json(br#"{"assessment_name": "q", "source": {"source_type": "HUMAN"}}"#);
        assert!(assessment_from_fields(&missing, "tr-1").is_err());
    }

    #[test]
    fn update_mask_in_either_spelling() {
        let current = stored("feedback", "1");
        let body = Fields::from_json(br#"{"assessment": {"assessment_name": "new", "feedback": {"value": 0.5}}, "update_mask": "assessmentName,feedback"}"#);
        let next = apply_assessment_update(&current, &body).unwrap();
        assert_eq!((next.name.as_str(), next.value.as_str()), ("new", "0.5"));
        let body = Fields::from_json(br#"{"assessment": {"expectation": {"value": 1}}, "update_mask": "expectation"}"#);
        assert!(apply_assessment_update(&current, &body).is_err());
    }
}

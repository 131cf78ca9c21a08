//! Trace reads: TraceInfo with tags, metadata (promoted columns re-synthesised as MLflow does)
//! and assessments; and a trace's stored spans.

use std::collections::{BTreeMap, HashMap};

use rivulet_core::traces::model::{StoredSpan, TraceInfo, TraceState};
use rivulet_core::traces::trace_keys;
use rivulet_core::{CoreError, Result};

use super::assessments::assessment_from_row;
use crate::sql::{binds, Binds, DbRow};
use crate::Store;

pub(crate) const TRACE_COLUMNS: &str = "t.request_id, t.experiment_id, t.timestamp_ms, t.execution_time_ms, t.status, \
     t.client_request_id, t.request_preview, t.response_preview, t.trace_name, t.session_id, t.input_tokens, \
     t.output_tokens, t.total_tokens, t.cache_read_input_tokens, t.cache_creation_input_tokens, t.input_cost, \
     t.output_cost, t.total_cost, r.span_count";

pub(crate) fn trace_not_found(trace_id: &str) -> CoreError {
    CoreError::not_found(format!("Trace with ID '{trace_id}' not found."))
}

/// A trace row into TraceInfo; promoted columns become MLflow's metadata keys again.
pub(crate) fn trace_info_from_row(row: &DbRow) -> Result<TraceInfo> {
    let mut metadata = BTreeMap::new();
    let session_id = row.opt_text("session_id")?;
    if let Some(session) = &session_id {
        metadata.insert(trace_keys::SESSION.to_string(), session.clone());
    }
    let mut usage = serde_json::Map::new();
    for key in ["input_tokens", "output_tokens", "total_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"] {
        if let Some(value) = row.opt_int(key)? {
            usage.insert(key.to_string(), value.into());
        }
    }
    if !usage.is_empty() {
        metadata.insert(trace_keys::TOKEN_USAGE.to_string(), rivulet_core::traces::json::python_dumps(&usage.into()));
    }
    let mut cost = serde_json::Map::new();
    for key in ["input_cost", "output_cost", "total_cost"] {
        if let Some(value) = row.opt_float(key)? {
            cost.insert(key.to_string(), serde_json::Number::from_f64(value).map_or(serde_json::Value::Null, Into::into));
        }
    }
    if !cost.is_empty() {
        metadata.insert(trace_keys::COST.to_string(), rivulet_core::traces::json::python_dumps(&cost.into()));
    }
    let mut tags = BTreeMap::new();
    let name = row.opt_text("trace_name")?;
    if let Some(name) = &name {
        tags.insert(trace_keys::TRACE_NAME.to_string(), name.clone());
    }
    Ok(TraceInfo {
        trace_id: row.text("request_id")?,
        experiment_id: row.int("experiment_id")?,
        client_request_id: row.opt_text("client_request_id")?,
        request_time_ms: row.int("timestamp_ms")?,
        execution_duration_ms: row.opt_int("execution_time_ms")?,
        state: TraceState::parse(&row.text("status")?).unwrap_or(TraceState::Unspecified),
        request_preview: row.opt_text("request_preview")?,
        response_preview: row.opt_text("response_preview")?,
        trace_metadata: metadata,
        tags,
        assessments: Vec::new(),
        name,
        session_id,
        span_count: row.opt_int("span_count")?,
    })
}

impl Store {
    /// Completes TraceInfo rows with their tags, metadata and assessments (one query each).
    pub(crate) async fn complete_trace_infos(&self, mut infos: Vec<TraceInfo>) -> Result<Vec<TraceInfo>> {
        if infos.is_empty() {
            return Ok(infos);
        }
        let index: HashMap<String, usize> = infos.iter().enumerate().map(|(i, info)| (info.trace_id.clone(), i)).collect();
        let mut params = Binds::default();
        let list = params.push_list(index.keys().map(String::as_str));
        let sql = format!("SELECT request_id, key, value FROM trace_tags WHERE request_id IN ({list})");
        for row in self.fetch_all(&sql, &params.values).await? {
            if let Some(&i) = index.get(&row.text("request_id")?) {
                infos[i].tags.insert(row.text("key")?, row.text("value")?);
            }
        }
        let sql = format!("SELECT request_id, key, value FROM trace_request_metadata WHERE request_id IN ({list})");
        for row in self.fetch_all(&sql, &params.values).await? {
            if let Some(&i) = index.get(&row.text("request_id")?) {
                infos[i].trace_metadata.insert(row.text("key")?, row.text("value")?);
            }
        }
        let sql = format!(
            "SELECT {} FROM assessments WHERE trace_id IN ({list}) ORDER BY created_timestamp",
            super::assessments::ASSESSMENT_COLUMNS
        );
        for row in self.fetch_all(&sql, &params.values).await? {
            let assessment = assessment_from_row(&row)?;
            if let Some(&i) = index.get(&assessment.trace_id) {
                infos[i].assessments.push(assessment);
            }
        }
        Ok(infos)
    }

    pub(crate) async fn trace_infos_by_id(&self, trace_ids: &[String]) -> Result<Vec<TraceInfo>> {
        if trace_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut params = Binds::default();
        let list = params.push_list(trace_ids.iter().map(String::as_str));
        let sql = format!(
            "SELECT {TRACE_COLUMNS} FROM trace_info t LEFT JOIN rivulet_trace_rollups r ON r.request_id = t.request_id \
             WHERE t.request_id IN ({list})"
        );
        let rows = self.fetch_all(&sql, &params.values).await?;
        let mut infos = rows.iter().map(trace_info_from_row).collect::<Result<Vec<_>>>()?;
        // Keep the caller's order.
        infos.sort_by_key(|info| trace_ids.iter().position(|id| *id == info.trace_id));
        self.complete_trace_infos(infos).await
    }

    pub(crate) async fn get_trace_info_impl(&self, trace_id: &str) -> Result<TraceInfo> {
        self.trace_infos_by_id(&[trace_id.to_string()]).await?.pop().ok_or_else(|| trace_not_found(trace_id))
    }

    pub(crate) async fn get_spans_impl(&self, trace_id: &str) -> Result<Vec<StoredSpan>> {
        let rows = self
            .fetch_all(
                "SELECT span_id, parent_span_id, content FROM spans WHERE trace_id = $1 \
                 ORDER BY CASE WHEN parent_span_id IS NULL THEN 0 ELSE 1 END, start_time_unix_nano, span_id",
                &binds![trace_id],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredSpan {
                    span_id: row.text("span_id")?,
                    parent_span_id: row.opt_text("parent_span_id")?,
                    content: row.text("content")?,
                })
            })
            .collect()
    }
}

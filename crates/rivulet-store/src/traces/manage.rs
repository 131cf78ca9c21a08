//! Trace writes other than span ingest: StartTraceV3, tags, deletion and links to runs.

use rivulet_core::store::TraceDeletion;
use rivulet_core::traces::model::TraceInfo;
use rivulet_core::traces::{trace_keys, TokenUsage};
use rivulet_core::tracking::{append_to_uri_path, now_millis, LifecycleStage};
use rivulet_core::{CoreError, Result};

use super::rows::{load_rollups, truncate, upsert_key_values};
use super::read::trace_not_found;
use crate::sql::{binds, Binds, Tx};
use crate::Store;

/// Tags only the server sets.
const PROTECTED_TAGS: [&str; 3] = [trace_keys::SPANS_LOCATION, trace_keys::ARCHIVE_LOCATION, trace_keys::ARCHIVAL_FAILURE];
/// Metadata MLflow keeps in `trace_info` columns instead of `trace_request_metadata`.
const PROMOTED_METADATA: [&str; 3] = [trace_keys::SESSION, trace_keys::TOKEN_USAGE, trace_keys::COST];

impl Store {
    /// StartTraceV3, run by the ingest writer so it never races a span batch for the same trace.
    pub(crate) async fn start_trace_in_writer(&self, info: TraceInfo) -> Result<()> {
        let mut tx = self.begin().await?;
        let experiment = tx
            .fetch_optional(
                "SELECT lifecycle_stage, artifact_location FROM experiments WHERE experiment_id = $1",
                &binds![info.experiment_id],
            )
            .await?
            .ok_or_else(|| CoreError::experiment_not_found(info.experiment_id))?;
        if LifecycleStage::parse(&experiment.text("lifecycle_stage")?)? != LifecycleStage::Active {
            return Err(CoreError::invalid_parameter(format!(
                "The experiment {} must be in the 'active' state. Current state is deleted.",
                info.experiment_id
            )));
        }
        let existing = load_rollups(&mut tx, &[info.trace_id.as_str()], self.dialect()).await?.remove(&info.trace_id);
        let usage = info.trace_metadata.get(trace_keys::TOKEN_USAGE).and_then(|text| serde_json::from_str(text).ok()).and_then(|v| TokenUsage::from_json(&v));
        let name = info.tags.get(trace_keys::TRACE_NAME).cloned().or_else(|| existing.as_ref().and_then(|e| e.name.clone()));
        let session = info.trace_metadata.get(trace_keys::SESSION).cloned().or_else(|| existing.as_ref().and_then(|e| e.session_id.clone()));
        let request_preview = info.request_preview.clone().or_else(|| existing.as_ref().and_then(|e| e.request_preview.as_ref().map(|p| p.text.clone())));
        let response_preview = info.response_preview.clone().or_else(|| existing.as_ref().and_then(|e| e.response_preview.as_ref().map(|p| p.text.clone())));
        tx.execute(
            "INSERT INTO trace_info (request_id, experiment_id, timestamp_ms, execution_time_ms, status, client_request_id, \
             request_preview, response_preview, trace_name, session_id, db_payload_generation, input_tokens, output_tokens, \
             total_tokens, cache_read_input_tokens, cache_creation_input_tokens) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12, $13, $14, $15) \
             ON CONFLICT (request_id) DO UPDATE SET timestamp_ms = excluded.timestamp_ms, execution_time_ms = excluded.execution_time_ms, \
             status = excluded.status, client_request_id = excluded.client_request_id, request_preview = excluded.request_preview, \
             response_preview = excluded.response_preview, trace_name = excluded.trace_name, session_id = excluded.session_id, \
             input_tokens = COALESCE(excluded.input_tokens, trace_info.input_tokens), \
             output_tokens = COALESCE(excluded.output_tokens, trace_info.output_tokens), \
             total_tokens = COALESCE(excluded.total_tokens, trace_info.total_tokens), \
             cache_read_input_tokens = COALESCE(excluded.cache_read_input_tokens, trace_info.cache_read_input_tokens), \
             cache_creation_input_tokens = COALESCE(excluded.cache_creation_input_tokens, trace_info.cache_creation_input_tokens)",
            &binds![
                info.trace_id.as_str(),
                existing.as_ref().map_or(info.experiment_id, |e| e.experiment_id),
                info.request_time_ms,
                info.execution_duration_ms,
                info.state.as_str(),
                info.client_request_id.as_ref().map(|c| truncate(c, 50)),
                request_preview.map(|p| truncate(&p, 1000)),
                response_preview.map(|p| truncate(&p, 1000)),
                name.map(|n| truncate(&n, 4096)),
                session.map(|s| truncate(&s, 250)),
                usage.map(|u| u.input_tokens),
                usage.map(|u| u.output_tokens),
                usage.map(|u| u.total_tokens),
                usage.and_then(|u| u.cache_read_input_tokens),
                usage.and_then(|u| u.cache_creation_input_tokens),
            ],
        )
        .await?;
        let trace_id = info.trace_id.as_str();
        let mut tags: Vec<(&str, String, String)> = info
            .tags
            .iter()
            .filter(|(k, _)| k.as_str() != trace_keys::TRACE_NAME && !PROTECTED_TAGS.contains(&k.as_str()))
            .map(|(k, v)| (trace_id, truncate(k, 250), truncate(v, 8000)))
            .collect();
        if existing.is_none() {
            if let Some(location) = experiment.opt_text("artifact_location")? {
                let location = append_to_uri_path(&append_to_uri_path(&append_to_uri_path(&location, "traces"), trace_id), "artifacts");
                tags.push((trace_id, trace_keys::ARTIFACT_LOCATION.to_string(), location));
            }
        }
        let mut metadata: Vec<(&str, String, String)> = info
            .trace_metadata
            .iter()
            .filter(|(k, _)| !PROMOTED_METADATA.contains(&k.as_str()))
            .map(|(k, v)| (trace_id, truncate(k, 250), truncate(v, 8000)))
            .collect();
        metadata.push((trace_id, trace_keys::INFO_FINALIZED.to_string(), "true".to_string()));
        upsert_key_values(&mut tx, "trace_tags", &tags, true).await?;
        upsert_key_values(&mut tx, "trace_request_metadata", &metadata, true).await?;
        tx.execute(
            "INSERT INTO rivulet_trace_rollups (request_id, request_preview_rank, response_preview_rank, span_count, finalized) \
             VALUES ($1, $2, $3, 0, $4) ON CONFLICT (request_id) DO UPDATE SET finalized = excluded.finalized, \
             request_preview_rank = CASE WHEN $5 THEN 3 ELSE rivulet_trace_rollups.request_preview_rank END, \
             response_preview_rank = CASE WHEN $6 THEN 3 ELSE rivulet_trace_rollups.response_preview_rank END",
            &binds![
                trace_id,
                if info.request_preview.is_some() { 3i64 } else { 0 },
                if info.response_preview.is_some() { 3i64 } else { 0 },
                true,
                info.request_preview.is_some(),
                info.response_preview.is_some(),
            ],
        )
        .await?;
        tx.commit().await
    }

    pub(crate) async fn set_trace_tag_impl(&self, trace_id: &str, key: &str, value: &str) -> Result<()> {
        if PROTECTED_TAGS.contains(&key) {
            return Err(CoreError::invalid_parameter(format!("Tag '{key}' is set by the server and cannot be changed")));
        }
        let mut tx = self.begin().await?;
        require_trace(&mut tx, trace_id).await?;
        if key == trace_keys::TRACE_NAME {
            tx.execute("UPDATE trace_info SET trace_name = $1 WHERE request_id = $2", &binds![truncate(value, 4096), trace_id]).await?;
        } else {
            upsert_key_values(&mut tx, "trace_tags", &[(trace_id, truncate(key, 250), truncate(value, 8000))], true).await?;
        }
        tx.commit().await
    }

    pub(crate) async fn delete_trace_tag_impl(&self, trace_id: &str, key: &str) -> Result<()> {
        if key == trace_keys::SPANS_LOCATION || key == trace_keys::ARCHIVE_LOCATION {
            return Err(CoreError::invalid_parameter(format!("Tag '{key}' is set by the server and cannot be deleted")));
        }
        let mut tx = self.begin().await?;
        require_trace(&mut tx, trace_id).await?;
        let deleted = if key == trace_keys::TRACE_NAME {
            tx.execute("UPDATE trace_info SET trace_name = NULL WHERE request_id = $1 AND trace_name IS NOT NULL", &binds![trace_id]).await?
        } else {
            tx.execute("DELETE FROM trace_tags WHERE request_id = $1 AND key = $2", &binds![trace_id, key]).await?
        };
        if deleted == 0 {
            return Err(CoreError::not_found(format!("No trace tag with key '{key}' for trace with ID '{trace_id}'")));
        }
        tx.commit().await
    }

    pub(crate) async fn delete_traces_impl(&self, experiment_id: i64, deletion: TraceDeletion) -> Result<usize> {
        let mut tx = self.begin().await?;
        let ids: Vec<String> = match deletion {
            TraceDeletion::Ids(ids) => {
                if ids.is_empty() {
                    return Ok(0);
                }
                let mut params = Binds::default();
                let experiment = params.push(experiment_id);
                let list = params.push_list(ids.iter().map(String::as_str));
                let sql = format!("SELECT request_id FROM trace_info WHERE experiment_id = {experiment} AND request_id IN ({list})");
                tx.fetch_all(&sql, &params.values).await?.iter().map(|r| r.text("request_id")).collect::<Result<_>>()?
            }
            TraceDeletion::OlderThan { max_timestamp_ms, max_traces } => {
                let mut params = Binds::default();
                let experiment = params.push(experiment_id);
                let max_ts = params.push(max_timestamp_ms);
                let limit = max_traces.map(|n| format!(" LIMIT {}", params.push(n as i64))).unwrap_or_default();
                let sql = format!(
                    "SELECT request_id FROM trace_info WHERE experiment_id = {experiment} AND timestamp_ms <= {max_ts} \
                     ORDER BY timestamp_ms, request_id{limit}"
                );
                tx.fetch_all(&sql, &params.values).await?.iter().map(|r| r.text("request_id")).collect::<Result<_>>()?
            }
        };
        for chunk in ids.chunks(500) {
            let mut params = Binds::default();
            let list = params.push_list(chunk.iter().map(String::as_str));
            // Children first: SQLite only cascades when foreign keys are on for the connection.
            for table in ["rivulet_span_services", "spans", "trace_tags", "trace_request_metadata", "assessments", "rivulet_trace_rollups"] {
                let column = if matches!(table, "spans" | "assessments" | "rivulet_span_services") { "trace_id" } else { "request_id" };
                tx.execute(&format!("DELETE FROM {table} WHERE {column} IN ({list})"), &params.values).await?;
            }
            tx.execute(&format!("DELETE FROM entity_associations WHERE source_type = 'trace' AND source_id IN ({list})"), &params.values).await?;
            tx.execute(&format!("DELETE FROM trace_info WHERE request_id IN ({list})"), &params.values).await?;
        }
        tx.commit().await?;
        Ok(ids.len())
    }

    pub(crate) async fn link_traces_to_run_impl(&self, trace_ids: &[String], run_id: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        for trace_id in trace_ids {
            require_trace(&mut tx, trace_id).await?;
            tx.execute(
                "INSERT INTO entity_associations (association_id, source_type, source_id, destination_type, destination_id, created_time) \
                 VALUES ($1, 'trace', $2, 'run', $3, $4) ON CONFLICT DO NOTHING",
                &binds![uuid::Uuid::new_v4().simple().to_string(), trace_id.as_str(), run_id, now_millis()],
            )
            .await?;
        }
        tx.commit().await
    }
}

async fn require_trace(tx: &mut Tx, trace_id: &str) -> Result<()> {
    tx.fetch_optional("SELECT request_id FROM trace_info WHERE request_id = $1", &binds![trace_id])
        .await?
        .map(|_| ())
        .ok_or_else(|| trace_not_found(trace_id))
}

//! Reads only the web UI makes: one span of a trace, the model of each listed trace, and an
//! experiment's sessions.

use std::collections::BTreeMap;

use rivulet_core::page::{paginate, Page};
use rivulet_core::store::SessionSummary;
use rivulet_core::traces::model::StoredSpan;
use rivulet_core::Result;

use crate::sql::{binds, Binds};
use crate::Store;

impl Store {
    pub(crate) async fn get_span_impl(&self, trace_id: &str, span_id: &str) -> Result<Option<StoredSpan>> {
        let rows = self
            .fetch_all(
                "SELECT span_id, parent_span_id, content FROM spans WHERE trace_id = $1 AND span_id = $2",
                &binds![trace_id, span_id],
            )
            .await?;
        rows.first()
            .map(|row| {
                Ok(StoredSpan {
                    span_id: row.text("span_id")?,
                    parent_span_id: row.opt_text("parent_span_id")?,
                    content: row.text("content")?,
                })
            })
            .transpose()
    }

    pub(crate) async fn trace_models_impl(&self, trace_ids: &[String]) -> Result<BTreeMap<String, String>> {
        if trace_ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut params = Binds::default();
        let list = params.push_list(trace_ids.iter().map(String::as_str));
        // The correlated subquery walks (trace_id, start_time_unix_nano) and stops at the first
        // span naming a model, so a 30,000-span trace costs a few index steps, not a scan.
        let sql = format!(
            "SELECT t.request_id, (SELECT m.model_name FROM spans m WHERE m.trace_id = t.request_id \
             AND m.model_name IS NOT NULL ORDER BY m.start_time_unix_nano LIMIT 1) AS model_name \
             FROM trace_info t WHERE t.request_id IN ({list})"
        );
        let mut models = BTreeMap::new();
        for row in self.fetch_all(&sql, &params.values).await? {
            if let Some(model) = row.opt_text("model_name")? {
                models.insert(row.text("request_id")?, model);
            }
        }
        Ok(models)
    }

    pub(crate) async fn search_sessions_impl(&self, experiment_id: i64, max_results: usize, offset: u64) -> Result<Page<SessionSummary>> {
        // Sums are cast because PostgreSQL widens SUM(BIGINT) to NUMERIC.
        let rows = self
            .fetch_all(
                "SELECT session_id, COUNT(*) AS traces, \
                 CAST(SUM(CASE WHEN status = 'ERROR' THEN 1 ELSE 0 END) AS BIGINT) AS errors, \
                 MIN(timestamp_ms) AS first_ms, MAX(timestamp_ms) AS last_ms, \
                 CAST(SUM(total_tokens) AS BIGINT) AS total_tokens \
                 FROM trace_info WHERE experiment_id = $1 AND session_id IS NOT NULL \
                 GROUP BY session_id ORDER BY last_ms DESC, session_id LIMIT $2 OFFSET $3",
                &binds![experiment_id, max_results as i64 + 1, offset as i64],
            )
            .await?;
        let sessions = rows
            .iter()
            .map(|row| {
                Ok(SessionSummary {
                    session_id: row.text("session_id")?,
                    traces: row.int("traces")?.max(0) as u64,
                    errors: row.opt_int("errors")?.unwrap_or(0).max(0) as u64,
                    first_ms: row.int("first_ms")?,
                    last_ms: row.int("last_ms")?,
                    total_tokens: row.opt_int("total_tokens")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(paginate(sessions, offset, max_results))
    }
}

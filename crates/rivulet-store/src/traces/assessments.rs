//! Assessments (feedback, expectations, issues) attached to traces.

use std::collections::BTreeMap;

use rivulet_core::traces::model::Assessment;
use rivulet_core::tracking::now_millis;
use rivulet_core::{CoreError, Result};

use super::read::trace_not_found;
use crate::sql::{binds, DbRow};
use crate::Store;

pub(crate) const ASSESSMENT_COLUMNS: &str = "assessment_id, trace_id, name, assessment_type, value, error, \
     created_timestamp, last_updated_timestamp, source_type, source_id, run_id, span_id, rationale, overrides, valid, \
     assessment_metadata";

pub(crate) fn assessment_from_row(row: &DbRow) -> Result<Assessment> {
    let metadata: BTreeMap<String, String> = row
        .opt_text("assessment_metadata")?
        .and_then(|text| serde_json::from_str::<BTreeMap<String, serde_json::Value>>(&text).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
        .collect();
    Ok(Assessment {
        assessment_id: row.text("assessment_id")?,
        trace_id: row.text("trace_id")?,
        name: row.text("name")?,
        kind: row.text("assessment_type")?,
        value: row.text("value")?,
        error: row.opt_text("error")?,
        created_ms: row.int("created_timestamp")?,
        last_updated_ms: row.int("last_updated_timestamp")?,
        source_type: row.text("source_type")?,
        source_id: row.opt_text("source_id")?,
        run_id: row.opt_text("run_id")?,
        span_id: row.opt_text("span_id")?,
        rationale: row.opt_text("rationale")?,
        overrides: row.opt_text("overrides")?,
        valid: row.boolean("valid")?,
        metadata,
    })
}

fn assessment_not_found(trace_id: &str, assessment_id: &str) -> CoreError {
    CoreError::not_found(format!("Assessment with ID '{assessment_id}' not found for trace '{trace_id}'"))
}

/// A numeric reading of an assessment value for aggregation (numbers, booleans, yes/no).
fn aggregate_value(value: &str) -> Option<f64> {
    match serde_json::from_str::<serde_json::Value>(value).ok()? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
        serde_json::Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "yes" => Some(1.0),
            "no" => Some(0.0),
            _ => None,
        },
        _ => None,
    }
}

impl Store {
    pub(crate) async fn create_assessment_impl(&self, mut assessment: Assessment) -> Result<Assessment> {
        let now = now_millis();
        if assessment.assessment_id.is_empty() {
            assessment.assessment_id = format!("a-{}", uuid::Uuid::new_v4().simple());
        }
        if assessment.created_ms == 0 {
            assessment.created_ms = now;
        }
        // A client that sends its own times (a backfill, an import) keeps them, as with MLflow.
        if assessment.last_updated_ms == 0 {
            assessment.last_updated_ms = assessment.created_ms;
        }
        let mut tx = self.begin().await?;
        let trace = tx
            .fetch_optional("SELECT experiment_id, timestamp_ms FROM trace_info WHERE request_id = $1", &binds![assessment.trace_id.as_str()])
            .await?
            .ok_or_else(|| trace_not_found(&assessment.trace_id))?;
        if let Some(overridden) = &assessment.overrides {
            let changed = tx
                .execute(
                    "UPDATE assessments SET valid = $1 WHERE assessment_id = $2 AND trace_id = $3",
                    &binds![false, overridden.as_str(), assessment.trace_id.as_str()],
                )
                .await?;
            if changed == 0 {
                return Err(assessment_not_found(&assessment.trace_id, overridden));
            }
        }
        let aggregate = aggregate_value(&assessment.value);
        let metadata = (!assessment.metadata.is_empty()).then(|| serde_json::to_string(&assessment.metadata).unwrap_or_default());
        tx.execute(
            "INSERT INTO assessments (assessment_id, trace_id, name, assessment_type, value, error, created_timestamp, \
             last_updated_timestamp, source_type, source_id, run_id, span_id, rationale, overrides, valid, assessment_metadata, \
             experiment_id, trace_timestamp_ms, aggregate_value, is_numeric_value) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
            &[
                assessment.assessment_id.as_str().into(),
                assessment.trace_id.as_str().into(),
                assessment.name.as_str().into(),
                assessment.kind.as_str().into(),
                assessment.value.as_str().into(),
                assessment.error.clone().into(),
                assessment.created_ms.into(),
                assessment.last_updated_ms.into(),
                assessment.source_type.as_str().into(),
                assessment.source_id.clone().into(),
                assessment.run_id.clone().into(),
                assessment.span_id.clone().into(),
                assessment.rationale.clone().into(),
                assessment.overrides.clone().into(),
                true.into(),
                metadata.into(),
                trace.int("experiment_id")?.into(),
                trace.int("timestamp_ms")?.into(),
                crate::sql::Bind::OptFloat(aggregate),
                aggregate.is_some().into(),
            ],
        )
        .await?;
        tx.commit().await?;
        self.get_assessment_impl(&assessment.trace_id, &assessment.assessment_id).await
    }

    pub(crate) async fn get_assessment_impl(&self, trace_id: &str, assessment_id: &str) -> Result<Assessment> {
        let sql = format!("SELECT {ASSESSMENT_COLUMNS} FROM assessments WHERE trace_id = $1 AND assessment_id = $2");
        let row = self
            .fetch_optional(&sql, &binds![trace_id, assessment_id])
            .await?
            .ok_or_else(|| assessment_not_found(trace_id, assessment_id))?;
        assessment_from_row(&row)
    }

    /// Writes the mutable parts of an assessment: name, value, error, rationale, metadata.
    pub(crate) async fn update_assessment_impl(&self, assessment: Assessment) -> Result<Assessment> {
        let current = self.get_assessment_impl(&assessment.trace_id, &assessment.assessment_id).await?;
        if current.kind != assessment.kind {
            return Err(CoreError::invalid_parameter(format!(
                "Cannot change the type of assessment '{}' from {} to {}",
                assessment.assessment_id, current.kind, assessment.kind
            )));
        }
        let aggregate = aggregate_value(&assessment.value);
        let mut metadata = current.metadata.clone();
        metadata.extend(assessment.metadata.clone());
        let metadata = (!metadata.is_empty()).then(|| serde_json::to_string(&metadata).unwrap_or_default());
        let mut tx = self.begin().await?;
        tx.execute(
            "UPDATE assessments SET name = $1, value = $2, error = $3, rationale = $4, assessment_metadata = $5, \
             last_updated_timestamp = $6, aggregate_value = $7, is_numeric_value = $8 WHERE assessment_id = $9 AND trace_id = $10",
            &[
                assessment.name.as_str().into(),
                assessment.value.as_str().into(),
                assessment.error.clone().into(),
                assessment.rationale.clone().into(),
                metadata.into(),
                now_millis().into(),
                crate::sql::Bind::OptFloat(aggregate),
                aggregate.is_some().into(),
                assessment.assessment_id.as_str().into(),
                assessment.trace_id.as_str().into(),
            ],
        )
        .await?;
        tx.commit().await?;
        self.get_assessment_impl(&assessment.trace_id, &assessment.assessment_id).await
    }

    /// Idempotent; an assessment it had overridden becomes valid again.
    pub(crate) async fn delete_assessment_impl(&self, trace_id: &str, assessment_id: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        let overrides = tx
            .fetch_optional("SELECT overrides FROM assessments WHERE trace_id = $1 AND assessment_id = $2", &binds![trace_id, assessment_id])
            .await?
            .map(|row| row.opt_text("overrides"))
            .transpose()?
            .flatten();
        tx.execute("DELETE FROM assessments WHERE trace_id = $1 AND assessment_id = $2", &binds![trace_id, assessment_id]).await?;
        if let Some(overridden) = overrides {
            tx.execute(
                "UPDATE assessments SET valid = $1 WHERE trace_id = $2 AND assessment_id = $3",
                &binds![true, trace_id, overridden.as_str()],
            )
            .await?;
        }
        tx.commit().await
    }
}

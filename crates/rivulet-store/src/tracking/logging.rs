//! Writes to a run: metrics, params, tags (one atomic batch), dataset inputs and model outputs.

use std::collections::{HashMap, HashSet};

use rivulet_core::tracking::validation::is_newer_metric;
use rivulet_core::tracking::{DatasetInput, LogBatch, Metric, ModelOutput, Tag};
use rivulet_core::{CoreError, Result};

use super::runs::{metric_value_for_storage, require_active_run, upsert_run_tags};
use super::ROWS_PER_STATEMENT;
use crate::sql::{binds, Binds, Tx};
use crate::Store;

impl Store {
    pub(super) async fn log_batch_impl(&self, run_id: &str, batch: LogBatch) -> Result<()> {
        let mut tx = self.begin().await?;
        require_active_run(&mut tx, run_id).await?;
        insert_params(&mut tx, run_id, &batch.params).await?;
        upsert_run_tags(&mut tx, run_id, &batch.tags).await?;
        insert_metrics(&mut tx, run_id, &batch.metrics).await?;
        tx.commit().await
    }

    pub(super) async fn delete_run_tag_impl(&self, run_id: &str, key: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        require_active_run(&mut tx, run_id).await?;
        let deleted = tx.execute("DELETE FROM tags WHERE run_uuid = $1 AND key = $2", &binds![run_id, key]).await?;
        if deleted == 0 {
            return Err(CoreError::not_found(format!("No tag with name: {key} in run with id {run_id}")));
        }
        tx.commit().await
    }

    pub(super) async fn log_inputs_impl(&self, run_id: &str, datasets: Vec<DatasetInput>, model_ids: Vec<String>) -> Result<()> {
        let mut tx = self.begin().await?;
        require_active_run(&mut tx, run_id).await?;
        let experiment_id = tx
            .fetch_optional("SELECT experiment_id FROM runs WHERE run_uuid = $1", &binds![run_id])
            .await?
            .ok_or_else(|| CoreError::run_not_found(run_id))?
            .int("experiment_id")?;
        for input in &datasets {
            let dataset = &input.dataset;
            let existing = tx
                .fetch_optional(
                    "SELECT dataset_uuid FROM datasets WHERE experiment_id = $1 AND name = $2 AND digest = $3",
                    &binds![experiment_id, dataset.name.as_str(), dataset.digest.as_str()],
                )
                .await?;
            let dataset_uuid = match existing {
                Some(row) => row.text("dataset_uuid")?,
                None => {
                    let dataset_uuid = uuid::Uuid::new_v4().simple().to_string();
                    tx.execute(
                        "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type, dataset_source, dataset_schema, dataset_profile) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                        &binds![
                            dataset_uuid.as_str(), experiment_id, dataset.name.as_str(), dataset.digest.as_str(),
                            dataset.source_type.as_str(), dataset.source.as_str(), dataset.schema.clone(), dataset.profile.clone()
                        ],
                    )
                    .await?;
                    dataset_uuid
                }
            };
            let edge = tx
                .fetch_optional(
                    "SELECT input_uuid FROM inputs WHERE source_type = 'DATASET' AND source_id = $1 AND destination_type = 'RUN' AND destination_id = $2",
                    &binds![dataset_uuid.as_str(), run_id],
                )
                .await?;
            if edge.is_some() {
                continue;
            }
            let input_uuid = uuid::Uuid::new_v4().simple().to_string();
            tx.execute(
                "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step) VALUES ($1, 'DATASET', $2, 'RUN', $3, 0)",
                &binds![input_uuid.as_str(), dataset_uuid.as_str(), run_id],
            )
            .await?;
            for tag in &input.tags {
                tx.execute(
                    "INSERT INTO input_tags (input_uuid, name, value) VALUES ($1, $2, $3) ON CONFLICT (input_uuid, name) DO UPDATE SET value = excluded.value",
                    &binds![input_uuid.as_str(), tag.key.as_str(), tag.value.as_str()],
                )
                .await?;
            }
        }
        for model_id in &model_ids {
            tx.execute(
                "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step) \
                 VALUES ($1, 'RUN_INPUT', $2, 'MODEL_INPUT', $3, 0) ON CONFLICT DO NOTHING",
                &binds![uuid::Uuid::new_v4().simple().to_string(), run_id, model_id.as_str()],
            )
            .await?;
        }
        tx.commit().await
    }

    pub(super) async fn log_outputs_impl(&self, run_id: &str, models: Vec<ModelOutput>) -> Result<()> {
        let mut tx = self.begin().await?;
        require_active_run(&mut tx, run_id).await?;
        for model in &models {
            tx.execute(
                "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step) \
                 VALUES ($1, 'RUN_OUTPUT', $2, 'MODEL_OUTPUT', $3, $4) \
                 ON CONFLICT (source_type, source_id, destination_type, destination_id) DO UPDATE SET step = excluded.step",
                &binds![uuid::Uuid::new_v4().simple().to_string(), run_id, model.model_id.as_str(), model.step],
            )
            .await?;
        }
        tx.commit().await
    }
}

/// Params are immutable: re-logging the same value is a no-op, a different value fails the
/// whole batch (the caller's transaction then drops whatever this inserted).
async fn insert_params(tx: &mut Tx, run_id: &str, params: &[Tag]) -> Result<()> {
    // Almost every batch logs keys the run does not have yet, so insert first and read back
    // existing values only for the keys that were already there: one statement in the usual
    // case. Key order keeps concurrent batches to one run from deadlocking on PostgreSQL.
    let mut sorted: Vec<&Tag> = params.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    let mut inserted: HashSet<String> = HashSet::new();
    for chunk in sorted.chunks(ROWS_PER_STATEMENT) {
        let mut insert = Binds::default();
        let rows: Vec<String> = chunk
            .iter()
            .map(|p| format!("({}, {}, {})", insert.push(p.key.as_str()), insert.push(p.value.as_str()), insert.push(run_id)))
            .collect();
        let sql = format!(
            "INSERT INTO params (key, value, run_uuid) VALUES {} ON CONFLICT DO NOTHING RETURNING key",
            rows.join(", ")
        );
        for row in tx.fetch_all(&sql, &insert.values).await? {
            inserted.insert(row.text("key")?);
        }
    }
    let logged_before: Vec<&Tag> = params.iter().filter(|p| !inserted.contains(&p.key)).collect();
    if logged_before.is_empty() {
        return Ok(());
    }
    let mut lookup = Binds::default();
    let run = lookup.push(run_id);
    let keys = lookup.push_list(logged_before.iter().map(|p| p.key.as_str()));
    let sql = format!("SELECT key, value FROM params WHERE run_uuid = {run} AND key IN ({keys})");
    let mut existing: HashMap<String, String> = HashMap::new();
    for row in tx.fetch_all(&sql, &lookup.values).await? {
        existing.insert(row.text("key")?, row.text("value")?);
    }
    let conflicts: Vec<(&Tag, &String)> = logged_before
        .iter()
        .filter_map(|p| existing.get(&p.key).filter(|old| **old != p.value).map(|old| (*p, old)))
        .collect();
    if let [(param, old_value)] = conflicts.as_slice() {
        if params.len() == 1 {
            return Err(CoreError::invalid_parameter(format!(
                "Changing param values is not allowed. Param with key='{}' was already logged with value='{}' for run ID='{run_id}'. Attempted logging new value '{}'.",
                param.key, old_value, param.value
            )));
        }
    }
    if !conflicts.is_empty() {
        let listed = conflicts
            .iter()
            .map(|(p, old)| format!("{{'key': '{}', 'old_value': '{}', 'new_value': '{}'}}", p.key, old, p.value))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(CoreError::invalid_parameter(format!(
            "Changing param values is not allowed. Params were already logged='[{listed}]' for run ID='{run_id}'."
        )));
    }
    Ok(())
}

/// The column order `metric_rows` binds in, shared by `metrics` and `latest_metrics` so that one
/// row builder serves both tables.
const METRIC_COLUMNS: &str = "key, value, timestamp, run_uuid, step, is_nan";

/// `VALUES` tuples for the given metrics in `METRIC_COLUMNS` order, with the value stored as MLflow
/// stores it (NaN as a flag, infinities clamped).
fn metric_rows<'a>(binds: &mut Binds, run_id: &str, metrics: impl IntoIterator<Item = &'a Metric>) -> String {
    let rows: Vec<String> = metrics
        .into_iter()
        .map(|m| {
            let (value, is_nan) = metric_value_for_storage(m.value);
            format!(
                "({}, {}, {}, {}, {}, {})",
                binds.push(m.key.as_str()),
                binds.push(value),
                binds.push(m.timestamp),
                binds.push(run_id),
                binds.push(m.step),
                binds.push(is_nan)
            )
        })
        .collect();
    rows.join(", ")
}

/// `INSERT` of metric history rows; identical rows collapse on the primary key.
fn history_insert(binds: &mut Binds, run_id: &str, metrics: &[Metric]) -> String {
    let rows = metric_rows(binds, run_id, metrics);
    format!("INSERT INTO metrics ({METRIC_COLUMNS}) VALUES {rows} ON CONFLICT DO NOTHING")
}

/// Upsert that moves each key's latest value forward when the new `(step, timestamp, value)`
/// is greater; `metrics` holds one row per key.
fn latest_upsert(binds: &mut Binds, run_id: &str, metrics: &[&Metric]) -> String {
    let rows = metric_rows(binds, run_id, metrics.iter().copied());
    format!(
        "INSERT INTO latest_metrics ({METRIC_COLUMNS}) VALUES {rows} \
         ON CONFLICT (key, run_uuid) DO UPDATE SET value = excluded.value, timestamp = excluded.timestamp, \
         step = excluded.step, is_nan = excluded.is_nan \
         WHERE (excluded.step, excluded.timestamp, excluded.value) > (latest_metrics.step, COALESCE(latest_metrics.timestamp, -1), latest_metrics.value)"
    )
}

/// Appends to the full history and moves each key's latest value forward.
async fn insert_metrics(tx: &mut Tx, run_id: &str, metrics: &[Metric]) -> Result<()> {
    let mut newest: HashMap<&str, &Metric> = HashMap::new();
    for metric in metrics {
        match newest.get(metric.key.as_str()) {
            Some(current) if !is_newer_metric(metric, current) => {}
            _ => {
                newest.insert(&metric.key, metric);
            }
        }
    }
    let mut newest: Vec<&Metric> = newest.into_values().collect();
    // A fixed key order keeps concurrent batches from deadlocking on PostgreSQL row locks.
    newest.sort_by(|a, b| a.key.cmp(&b.key));

    let mut history_chunks = metrics.chunks(ROWS_PER_STATEMENT);
    let mut latest_chunks = newest.chunks(ROWS_PER_STATEMENT);
    loop {
        match (history_chunks.next(), latest_chunks.next()) {
            (None, None) => return Ok(()),
            // PostgreSQL takes both in one statement (a data-modifying WITH), a round trip
            // fewer per batch; SQLite has no such statements.
            (Some(history), Some(latest)) if matches!(tx, Tx::Postgres(_)) => {
                let mut binds = Binds::default();
                let history = history_insert(&mut binds, run_id, history);
                let sql = format!("WITH history AS ({history}) {}", latest_upsert(&mut binds, run_id, latest));
                tx.execute(&sql, &binds.values).await?;
            }
            (history, latest) => {
                if let Some(history) = history {
                    let mut binds = Binds::default();
                    let sql = history_insert(&mut binds, run_id, history);
                    tx.execute(&sql, &binds.values).await?;
                }
                if let Some(latest) = latest {
                    let mut binds = Binds::default();
                    let sql = latest_upsert(&mut binds, run_id, latest);
                    tx.execute(&sql, &binds.values).await?;
                }
            }
        }
    }
}

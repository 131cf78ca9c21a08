//! Runs: creation, reads of whole runs (info, data, inputs, outputs), updates and lifecycle.

use std::collections::{BTreeMap, HashMap};

use rivulet_core::store::RunSearch;
use rivulet_core::page::{paginate, Page};
use rivulet_core::tracking::{
    append_to_uri_path, new_run_id, now_millis, Dataset, DatasetInput, LifecycleStage, Metric, ModelOutput,
    NewRun, Run, RunData, RunInfo, RunInputs, RunStatus, RunUpdate, Tag, RUN_NAME_TAG,
};
use rivulet_core::{CoreError, Result};

use super::experiments::must_be_active;
use super::filters::run_where_and_order;
use super::ROWS_PER_STATEMENT;
use crate::sql::{binds, Binds, DbRow, Tx};
use crate::Store;

pub(super) const RUN_COLUMNS: &str =
    "r.run_uuid, r.name, r.experiment_id, r.user_id, r.status, r.start_time, r.end_time, r.artifact_uri, r.lifecycle_stage";

/// MLflow stores NaN as `value = 0, is_nan = true` and cannot store infinities.
pub(super) fn metric_value_for_storage(value: f64) -> (f64, bool) {
    if value.is_nan() {
        (0.0, true)
    } else if value.is_infinite() {
        (if value > 0.0 { f64::MAX } else { -f64::MAX }, false)
    } else {
        (value, false)
    }
}

pub(super) fn metric_value_from_storage(value: f64, is_nan: bool) -> f64 {
    if is_nan {
        f64::NAN
    } else {
        value
    }
}

pub(super) fn run_info_from_row(row: &DbRow) -> Result<RunInfo> {
    let status = row.text("status")?;
    Ok(RunInfo {
        run_id: row.text("run_uuid")?,
        run_name: row.opt_text("name")?,
        experiment_id: row.int("experiment_id")?,
        user_id: row.opt_text("user_id")?,
        status: RunStatus::parse(&status)
            .ok_or_else(|| CoreError::internal(format!("unknown run status '{status}' in store")))?,
        start_time: row.opt_int("start_time")?,
        end_time: row.opt_int("end_time")?,
        artifact_uri: row.opt_text("artifact_uri")?,
        lifecycle_stage: LifecycleStage::parse(&row.text("lifecycle_stage")?)?,
    })
}

/// The run's lifecycle stage inside a write transaction; 404 when the run does not exist.
pub(super) async fn run_lifecycle_in_tx(tx: &mut Tx, run_id: &str) -> Result<LifecycleStage> {
    let row = tx
        .fetch_optional("SELECT lifecycle_stage FROM runs WHERE run_uuid = $1", &binds![run_id])
        .await?
        .ok_or_else(|| CoreError::run_not_found(run_id))?;
    LifecycleStage::parse(&row.text("lifecycle_stage")?)
}

/// Fails unless the run exists and is active, as every MLflow write to a run requires.
pub(super) async fn require_active_run(tx: &mut Tx, run_id: &str) -> Result<()> {
    match run_lifecycle_in_tx(tx, run_id).await? {
        LifecycleStage::Active => Ok(()),
        LifecycleStage::Deleted => Err(CoreError::invalid_parameter(format!(
            "The run {run_id} must be in the 'active' state. Current state is deleted."
        ))),
    }
}

impl Store {
    pub(super) async fn create_run_impl(&self, run: NewRun) -> Result<Run> {
        let run_id = new_run_id();
        let mut tx = self.begin().await?;
        let experiment = tx
            .fetch_optional(
                "SELECT lifecycle_stage, artifact_location FROM experiments WHERE experiment_id = $1",
                &binds![run.experiment_id],
            )
            .await?
            .ok_or_else(|| CoreError::experiment_not_found(run.experiment_id))?;
        must_be_active(run.experiment_id, LifecycleStage::parse(&experiment.text("lifecycle_stage")?)?)?;
        let artifact_location = experiment.text("artifact_location")?;
        let artifact_uri = append_to_uri_path(&append_to_uri_path(&artifact_location, &run_id), "artifacts");
        tx.execute(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, \
             end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time) \
             VALUES ($1, $2, 'UNKNOWN', '', '', $3, 'RUNNING', $4, NULL, '', 'active', $5, $6, NULL)",
            // MLflow writes '' for a run without a user, and its store fails on NULL ("user_id
            // cannot be None"), so a database we wrote must hold '' too.
            &binds![run_id.as_str(), run.run_name.as_str(), run.user_id.clone().unwrap_or_default(), run.start_time, artifact_uri.as_str(), run.experiment_id],
        )
        .await?;
        upsert_run_tags(&mut tx, &run_id, &run.tags).await?;
        tx.commit().await?;
        let mut tags = run.tags;
        tags.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Run {
            info: RunInfo {
                run_id,
                run_name: Some(run.run_name),
                experiment_id: run.experiment_id,
                user_id: Some(run.user_id.unwrap_or_default()),
                status: RunStatus::Running,
                start_time: run.start_time,
                end_time: None,
                artifact_uri: Some(artifact_uri),
                lifecycle_stage: LifecycleStage::Active,
            },
            data: RunData { metrics: Vec::new(), params: Vec::new(), tags },
            inputs: RunInputs::default(),
            outputs: Vec::new(),
        })
    }

    pub(super) async fn get_run_impl(&self, run_id: &str) -> Result<Run> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.run_uuid = $1");
        let row = self.fetch_optional(&sql, &binds![run_id]).await?.ok_or_else(|| CoreError::run_not_found(run_id))?;
        let info = run_info_from_row(&row)?;
        Ok(self.complete_runs(vec![info]).await?.remove(0))
    }

    /// Loads data, inputs and outputs of many runs with one query per table.
    pub(super) async fn complete_runs(&self, infos: Vec<RunInfo>) -> Result<Vec<Run>> {
        if infos.is_empty() {
            return Ok(Vec::new());
        }
        let mut runs: Vec<Run> = infos
            .into_iter()
            .map(|info| Run { info, data: RunData::default(), inputs: RunInputs::default(), outputs: Vec::new() })
            .collect();
        let index: HashMap<String, usize> =
            runs.iter().enumerate().map(|(idx, run)| (run.info.run_id.clone(), idx)).collect();
        let mut params = Binds::default();
        let list = params.push_list(index.keys().map(String::as_str));

        let sql = format!("SELECT run_uuid, key, value FROM params WHERE run_uuid IN ({list}) ORDER BY key");
        for row in self.fetch_all(&sql, &params.values).await? {
            if let Some(&idx) = index.get(&row.text("run_uuid")?) {
                runs[idx].data.params.push(Tag::new(row.text("key")?, row.text("value")?));
            }
        }
        let sql = format!("SELECT run_uuid, key, value FROM tags WHERE run_uuid IN ({list}) ORDER BY key");
        for row in self.fetch_all(&sql, &params.values).await? {
            if let Some(&idx) = index.get(&row.text("run_uuid")?) {
                runs[idx].data.tags.push(Tag::new(row.text("key")?, row.text("value")?));
            }
        }
        let sql = format!(
            "SELECT run_uuid, key, value, timestamp, step, is_nan FROM latest_metrics WHERE run_uuid IN ({list}) ORDER BY key"
        );
        for row in self.fetch_all(&sql, &params.values).await? {
            if let Some(&idx) = index.get(&row.text("run_uuid")?) {
                runs[idx].data.metrics.push(Metric {
                    key: row.text("key")?,
                    value: metric_value_from_storage(row.float("value")?, row.boolean("is_nan")?),
                    timestamp: row.int("timestamp")?,
                    step: row.int("step")?,
                });
            }
        }
        self.load_inputs_and_outputs(&mut runs, &index, &list, &params.values).await?;
        Ok(runs)
    }

    async fn load_inputs_and_outputs(
        &self,
        runs: &mut [Run],
        index: &HashMap<String, usize>,
        list: &str,
        values: &[crate::sql::Bind],
    ) -> Result<()> {
        let sql = format!(
            "SELECT i.destination_id, i.input_uuid, d.name, d.digest, d.dataset_source_type, d.dataset_source, \
             d.dataset_schema, d.dataset_profile \
             FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id \
             WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' AND i.destination_id IN ({list}) \
             ORDER BY d.name, d.digest"
        );
        let dataset_rows = self.fetch_all(&sql, values).await?;
        let mut input_owner: HashMap<String, (usize, usize)> = HashMap::new();
        for row in &dataset_rows {
            let Some(&idx) = index.get(&row.text("destination_id")?) else { continue };
            let inputs = &mut runs[idx].inputs.dataset_inputs;
            input_owner.insert(row.text("input_uuid")?, (idx, inputs.len()));
            inputs.push(DatasetInput {
                tags: Vec::new(),
                dataset: Dataset {
                    name: row.text("name")?,
                    digest: row.text("digest")?,
                    source_type: row.text("dataset_source_type")?,
                    source: row.text("dataset_source")?,
                    schema: row.opt_text("dataset_schema")?,
                    profile: row.opt_text("dataset_profile")?,
                },
            });
        }
        if !input_owner.is_empty() {
            let mut tag_params = Binds::default();
            let tag_list = tag_params.push_list(input_owner.keys().map(String::as_str));
            let sql = format!("SELECT input_uuid, name, value FROM input_tags WHERE input_uuid IN ({tag_list}) ORDER BY name");
            for row in self.fetch_all(&sql, &tag_params.values).await? {
                if let Some(&(run_idx, input_idx)) = input_owner.get(&row.text("input_uuid")?) {
                    runs[run_idx].inputs.dataset_inputs[input_idx].tags.push(Tag::new(row.text("name")?, row.text("value")?));
                }
            }
        }
        let sql = format!(
            "SELECT source_type, source_id, destination_type, destination_id, step FROM inputs \
             WHERE ((source_type = 'RUN_INPUT' AND source_id IN ({list})) OR (source_type = 'RUN_OUTPUT' AND source_id IN ({list}))) \
             ORDER BY destination_id"
        );
        for row in self.fetch_all(&sql, values).await? {
            let Some(&idx) = index.get(&row.text("source_id")?) else { continue };
            let model_id = row.text("destination_id")?;
            match row.text("source_type")?.as_str() {
                "RUN_INPUT" => runs[idx].inputs.model_inputs.push(model_id),
                _ => runs[idx].outputs.push(ModelOutput { model_id, step: row.int("step")? }),
            }
        }
        Ok(())
    }

    pub(super) async fn update_run_impl(&self, run_id: &str, update: RunUpdate) -> Result<RunInfo> {
        let mut tx = self.begin().await?;
        require_active_run(&mut tx, run_id).await?;
        if let Some(status) = update.status {
            tx.execute("UPDATE runs SET status = $1 WHERE run_uuid = $2", &binds![status.as_str(), run_id]).await?;
        }
        if let Some(end_time) = update.end_time {
            tx.execute("UPDATE runs SET end_time = $1 WHERE run_uuid = $2", &binds![end_time, run_id]).await?;
        }
        if let Some(name) = update.run_name.filter(|n| !n.is_empty()) {
            upsert_run_tags(&mut tx, run_id, &[Tag::new(RUN_NAME_TAG, name)]).await?;
        }
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.run_uuid = $1");
        let row = tx.fetch_optional(&sql, &binds![run_id]).await?.ok_or_else(|| CoreError::run_not_found(run_id))?;
        let info = run_info_from_row(&row)?;
        tx.commit().await?;
        Ok(info)
    }

    pub(super) async fn set_run_lifecycle(&self, run_id: &str, stage: LifecycleStage) -> Result<()> {
        let mut tx = self.begin().await?;
        run_lifecycle_in_tx(&mut tx, run_id).await?;
        let deleted_time = match stage {
            LifecycleStage::Deleted => Some(now_millis()),
            LifecycleStage::Active => None,
        };
        tx.execute(
            "UPDATE runs SET lifecycle_stage = $1, deleted_time = $2 WHERE run_uuid = $3",
            &binds![stage.as_str(), deleted_time, run_id],
        )
        .await?;
        tx.commit().await
    }

    pub(super) async fn search_runs_impl(&self, search: &RunSearch) -> Result<Page<Run>> {
        if search.experiment_ids.is_empty() {
            return Ok(Page { items: Vec::new(), next_page_token: None });
        }
        let mut params = Binds::default();
        let (joins, where_sql, order_sql) = run_where_and_order(self.dialect(), search, &mut params);
        let limit = params.push((search.max_results + 1) as i64);
        let offset = params.push(search.offset as i64);
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs r {joins} WHERE {where_sql} ORDER BY {order_sql} LIMIT {limit} OFFSET {offset}"
        );
        let rows = self.fetch_all(&sql, &params.values).await?;
        let infos = rows.iter().map(run_info_from_row).collect::<Result<Vec<_>>>()?;
        let page = paginate(infos, search.offset, search.max_results);
        Ok(Page { items: self.complete_runs(page.items).await?, next_page_token: page.next_page_token })
    }
}

/// Inserts or replaces run tags; `mlflow.runName` also renames the run, as in MLflow. When a key
/// repeats, its last value wins, as successive set_tag calls would leave it.
pub(super) async fn upsert_run_tags(tx: &mut Tx, run_id: &str, tags: &[Tag]) -> Result<()> {
    // One row per key (PostgreSQL refuses to upsert a row twice in one statement), in key order
    // so that concurrent writers to one run lock rows in the same order and cannot deadlock.
    let mut latest: BTreeMap<&str, &str> = BTreeMap::new();
    for tag in tags {
        latest.insert(&tag.key, &tag.value);
    }
    let rows: Vec<(&str, &str)> = latest.iter().map(|(key, value)| (*key, *value)).collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut upsert = Binds::default();
        let values: Vec<String> = chunk
            .iter()
            .map(|(key, value)| format!("({}, {}, {})", upsert.push(*key), upsert.push(*value), upsert.push(run_id)))
            .collect();
        let sql = format!(
            "INSERT INTO tags (key, value, run_uuid) VALUES {} ON CONFLICT (key, run_uuid) DO UPDATE SET value = excluded.value",
            values.join(", ")
        );
        tx.execute(&sql, &upsert.values).await?;
    }
    if let Some(name) = latest.get(RUN_NAME_TAG) {
        tx.execute("UPDATE runs SET name = $1 WHERE run_uuid = $2", &binds![*name, run_id]).await?;
    }
    Ok(())
}

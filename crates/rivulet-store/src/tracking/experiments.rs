//! Experiments and their tags.

use rivulet_core::page::{paginate, Page};
use rivulet_core::store::ExperimentSearch;
use rivulet_core::tracking::{
    append_to_uri_path, now_millis, Experiment, LifecycleStage, NewExperiment, Tag, DEFAULT_WORKSPACE,
};
use rivulet_core::{CoreError, Result};

use super::filters::experiment_where_and_order;
use crate::sql::{binds, Binds, DbRow, Tx};
use crate::Store;

const EXPERIMENT_COLUMNS: &str = "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time, workspace";

fn experiment_from_row(row: &DbRow) -> Result<Experiment> {
    Ok(Experiment {
        experiment_id: row.int("experiment_id")?,
        name: row.text("name")?,
        artifact_location: row.opt_text("artifact_location")?,
        lifecycle_stage: LifecycleStage::parse(&row.text("lifecycle_stage")?)?,
        creation_time: row.opt_int("creation_time")?,
        last_update_time: row.opt_int("last_update_time")?,
        tags: Vec::new(),
        workspace: row.opt_text("workspace")?.unwrap_or_else(|| DEFAULT_WORKSPACE.to_string()),
    })
}

fn name_taken(name: &str) -> CoreError {
    CoreError::already_exists(format!("Experiment(name={name}) already exists."))
}

/// The experiment's lifecycle stage, locked for the rest of the transaction on PostgreSQL.
pub(super) async fn lifecycle_in_tx(tx: &mut Tx, experiment_id: i64, lock: &str) -> Result<LifecycleStage> {
    let sql = format!("SELECT lifecycle_stage FROM experiments WHERE experiment_id = $1{lock}");
    let row = tx
        .fetch_optional(&sql, &binds![experiment_id])
        .await?
        .ok_or_else(|| CoreError::experiment_not_found(experiment_id))?;
    LifecycleStage::parse(&row.text("lifecycle_stage")?)
}

pub(super) fn must_be_active(experiment_id: i64, stage: LifecycleStage) -> Result<()> {
    match stage {
        LifecycleStage::Active => Ok(()),
        LifecycleStage::Deleted => Err(CoreError::invalid_parameter(format!(
            "The experiment {experiment_id} must be in the 'active' state. Current state is deleted."
        ))),
    }
}

impl Store {
    fn lock_clause(&self) -> &'static str {
        match self.dialect() {
            crate::Dialect::Postgres => " FOR UPDATE",
            crate::Dialect::Sqlite => "",
        }
    }

    pub(super) async fn create_experiment_impl(&self, experiment: NewExperiment) -> Result<i64> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        let inserted = tx
            .fetch_optional_unique(
                "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time, workspace) \
                 VALUES ($1, $2, 'active', $3, $3, $4) RETURNING experiment_id",
                &binds![experiment.name.as_str(), experiment.artifact_location.clone(), now, DEFAULT_WORKSPACE],
            )
            .await?;
        let Some(row) = inserted.map_err(|()| name_taken(&experiment.name))? else {
            return Err(CoreError::internal("experiment insert returned no id"));
        };
        let experiment_id = row.int("experiment_id")?;
        if experiment.artifact_location.is_none() {
            let location = append_to_uri_path(&self.settings().default_artifact_root, &experiment_id.to_string());
            tx.execute(
                "UPDATE experiments SET artifact_location = $1 WHERE experiment_id = $2",
                &binds![location, experiment_id],
            )
            .await?;
        }
        for tag in &experiment.tags {
            upsert_experiment_tag(&mut tx, experiment_id, tag).await?;
        }
        tx.commit().await?;
        Ok(experiment_id)
    }

    async fn experiment_tags(&self, experiment_ids: &[i64]) -> Result<Vec<(i64, Tag)>> {
        if experiment_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut params = Binds::default();
        let list = params.push_list(experiment_ids.iter().copied());
        let sql = format!("SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id IN ({list}) ORDER BY key");
        self.fetch_all(&sql, &params.values)
            .await?
            .iter()
            .map(|row| Ok((row.int("experiment_id")?, Tag::new(row.text("key")?, row.text("value")?))))
            .collect()
    }

    async fn with_tags(&self, mut experiments: Vec<Experiment>) -> Result<Vec<Experiment>> {
        let ids: Vec<i64> = experiments.iter().map(|e| e.experiment_id).collect();
        for (experiment_id, tag) in self.experiment_tags(&ids).await? {
            if let Some(experiment) = experiments.iter_mut().find(|e| e.experiment_id == experiment_id) {
                experiment.tags.push(tag);
            }
        }
        Ok(experiments)
    }

    pub(super) async fn get_experiment_impl(&self, experiment_id: i64) -> Result<Experiment> {
        let sql = format!("SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE experiment_id = $1");
        let row = self
            .fetch_optional(&sql, &binds![experiment_id])
            .await?
            .ok_or_else(|| CoreError::experiment_not_found(experiment_id))?;
        let experiment = experiment_from_row(&row)?;
        Ok(self.with_tags(vec![experiment]).await?.remove(0))
    }

    pub(super) async fn get_experiment_by_name_impl(&self, name: &str) -> Result<Experiment> {
        let sql = format!("SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE name = $1 AND workspace = $2");
        let row = self
            .fetch_optional(&sql, &binds![name, DEFAULT_WORKSPACE])
            .await?
            .ok_or_else(|| CoreError::not_found(format!("Could not find experiment with name '{name}'")))?;
        let experiment = experiment_from_row(&row)?;
        Ok(self.with_tags(vec![experiment]).await?.remove(0))
    }

    pub(super) async fn search_experiments_impl(&self, search: &ExperimentSearch) -> Result<Page<Experiment>> {
        let mut params = Binds::default();
        let (where_sql, order_sql) = experiment_where_and_order(self.dialect(), search, &mut params);
        let limit = params.push((search.max_results + 1) as i64);
        let offset = params.push(search.offset as i64);
        let sql = format!(
            "SELECT {EXPERIMENT_COLUMNS} FROM experiments e WHERE {where_sql} ORDER BY {order_sql} LIMIT {limit} OFFSET {offset}"
        );
        let rows = self.fetch_all(&sql, &params.values).await?;
        let experiments = rows.iter().map(experiment_from_row).collect::<Result<Vec<_>>>()?;
        let page = paginate(experiments, search.offset, search.max_results);
        Ok(Page { items: self.with_tags(page.items).await?, next_page_token: page.next_page_token })
    }

    pub(super) async fn delete_experiment_impl(&self, experiment_id: i64) -> Result<()> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        if lifecycle_in_tx(&mut tx, experiment_id, self.lock_clause()).await? != LifecycleStage::Active {
            return Err(CoreError::experiment_not_found(experiment_id));
        }
        tx.execute(
            "UPDATE experiments SET lifecycle_stage = 'deleted', last_update_time = $1 WHERE experiment_id = $2",
            &binds![now, experiment_id],
        )
        .await?;
        tx.execute(
            "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = $1 WHERE experiment_id = $2 AND lifecycle_stage = 'active'",
            &binds![now, experiment_id],
        )
        .await?;
        tx.commit().await?;
        self.ingest_shared.experiment_deleted();
        Ok(())
    }

    pub(super) async fn restore_experiment_impl(&self, experiment_id: i64) -> Result<()> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        if lifecycle_in_tx(&mut tx, experiment_id, self.lock_clause()).await? != LifecycleStage::Deleted {
            return Err(CoreError::not_found(format!(
                "Cannot restore an active experiment. Experiment with id={experiment_id} is not deleted."
            )));
        }
        tx.execute(
            "UPDATE experiments SET lifecycle_stage = 'active', last_update_time = $1 WHERE experiment_id = $2",
            &binds![now, experiment_id],
        )
        .await?;
        tx.execute(
            "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE experiment_id = $1 AND lifecycle_stage = 'deleted'",
            &binds![experiment_id],
        )
        .await?;
        tx.commit().await
    }

    pub(super) async fn rename_experiment_impl(&self, experiment_id: i64, new_name: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        if lifecycle_in_tx(&mut tx, experiment_id, self.lock_clause()).await? != LifecycleStage::Active {
            return Err(CoreError::invalid_state("Cannot rename a non-active experiment."));
        }
        tx.execute_unique(
            "UPDATE experiments SET name = $1, last_update_time = $2 WHERE experiment_id = $3",
            &binds![new_name, now_millis(), experiment_id],
        )
        .await?
        .map_err(|()| name_taken(new_name))?;
        tx.commit().await
    }

    pub(super) async fn set_experiment_tag_impl(&self, experiment_id: i64, tag: Tag) -> Result<()> {
        let mut tx = self.begin().await?;
        must_be_active(experiment_id, lifecycle_in_tx(&mut tx, experiment_id, self.lock_clause()).await?)?;
        upsert_experiment_tag(&mut tx, experiment_id, &tag).await?;
        tx.commit().await
    }

    pub(super) async fn delete_experiment_tag_impl(&self, experiment_id: i64, key: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        must_be_active(experiment_id, lifecycle_in_tx(&mut tx, experiment_id, self.lock_clause()).await?)?;
        let deleted = tx
            .execute("DELETE FROM experiment_tags WHERE experiment_id = $1 AND key = $2", &binds![experiment_id, key])
            .await?;
        if deleted == 0 {
            return Err(CoreError::not_found(format!(
                "No tag with name: {key} in experiment with id {experiment_id}"
            )));
        }
        tx.commit().await
    }
}

async fn upsert_experiment_tag(tx: &mut Tx, experiment_id: i64, tag: &Tag) -> Result<()> {
    tx.execute(
        "INSERT INTO experiment_tags (key, value, experiment_id) VALUES ($1, $2, $3) \
         ON CONFLICT (key, experiment_id) DO UPDATE SET value = excluded.value",
        &binds![tag.key.as_str(), tag.value.as_str(), experiment_id],
    )
    .await?;
    Ok(())
}

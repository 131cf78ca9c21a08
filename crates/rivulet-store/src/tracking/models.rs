//! Logged models (MLflow 3): creation, status, tags and the search the client calls.

use rivulet_core::page::{paginate, Page};
use rivulet_core::store::LoggedModelSearch;
use rivulet_core::tracking::{
    append_to_uri_path, now_millis, LifecycleStage, LoggedModel, LoggedModelStatus, NewLoggedModel, Tag,
};
use rivulet_core::{CoreError, Result};

use super::experiments::must_be_active;
use crate::sql::{binds, Binds, DbRow, Tx};
use crate::Store;

const MODEL_COLUMNS: &str = "model_id, experiment_id, name, artifact_location, creation_timestamp_ms, \
     last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id, status_message";

fn model_from_row(row: &DbRow) -> Result<LoggedModel> {
    Ok(LoggedModel {
        model_id: row.text("model_id")?,
        experiment_id: row.int("experiment_id")?,
        name: row.text("name")?,
        artifact_location: row.text("artifact_location")?,
        creation_timestamp_ms: row.int("creation_timestamp_ms")?,
        last_updated_timestamp_ms: row.int("last_updated_timestamp_ms")?,
        status: LoggedModelStatus::from_number(row.int("status")?),
        lifecycle_stage: row
            .opt_text("lifecycle_stage")?
            .map(|s| LifecycleStage::parse(&s))
            .transpose()?
            .unwrap_or(LifecycleStage::Active),
        model_type: row.opt_text("model_type")?,
        source_run_id: row.opt_text("source_run_id")?,
        status_message: row.opt_text("status_message")?,
        tags: Vec::new(),
        params: Vec::new(),
    })
}

fn model_not_found(model_id: &str) -> CoreError {
    CoreError::not_found(format!("Logged model with ID '{model_id}' not found."))
}

async fn model_experiment_in_tx(tx: &mut Tx, model_id: &str) -> Result<i64> {
    tx.fetch_optional(
        "SELECT experiment_id FROM logged_models WHERE model_id = $1 AND lifecycle_stage = 'active'",
        &binds![model_id],
    )
    .await?
    .ok_or_else(|| model_not_found(model_id))?
    .int("experiment_id")
}

async fn upsert_model_tags(tx: &mut Tx, model_id: &str, experiment_id: i64, tags: &[Tag]) -> Result<()> {
    for tag in tags {
        tx.execute(
            "INSERT INTO logged_model_tags (model_id, experiment_id, tag_key, tag_value) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (model_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
            &binds![model_id, experiment_id, tag.key.as_str(), tag.value.as_str()],
        )
        .await?;
    }
    Ok(())
}

impl Store {
    pub(super) async fn create_logged_model_impl(&self, model: NewLoggedModel) -> Result<LoggedModel> {
        let model_id = format!("m-{}", uuid::Uuid::new_v4().simple());
        let now = now_millis();
        let mut tx = self.begin().await?;
        let experiment = tx
            .fetch_optional(
                "SELECT lifecycle_stage, artifact_location FROM experiments WHERE experiment_id = $1",
                &binds![model.experiment_id],
            )
            .await?
            .ok_or_else(|| CoreError::experiment_not_found(model.experiment_id))?;
        must_be_active(model.experiment_id, LifecycleStage::parse(&experiment.text("lifecycle_stage")?)?)?;
        let artifact_location = append_to_uri_path(
            &append_to_uri_path(&append_to_uri_path(&experiment.text("artifact_location")?, "models"), &model_id),
            "artifacts",
        );
        tx.execute(
            "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, creation_timestamp_ms, \
             last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id, status_message) \
             VALUES ($1, $2, $3, $4, $5, $5, $6, 'active', $7, $8, NULL)",
            &binds![
                model_id.as_str(), model.experiment_id, model.name.as_str(), artifact_location.as_str(), now,
                LoggedModelStatus::Pending as i64, model.model_type.clone(), model.source_run_id.clone()
            ],
        )
        .await?;
        for param in &model.params {
            tx.execute(
                "INSERT INTO logged_model_params (model_id, experiment_id, param_key, param_value) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (model_id, param_key) DO UPDATE SET param_value = excluded.param_value",
                &binds![model_id.as_str(), model.experiment_id, param.key.as_str(), param.value.as_str()],
            )
            .await?;
        }
        upsert_model_tags(&mut tx, &model_id, model.experiment_id, &model.tags).await?;
        tx.commit().await?;
        self.get_logged_model_impl(&model_id, false).await
    }

    async fn complete_models(&self, mut models: Vec<LoggedModel>) -> Result<Vec<LoggedModel>> {
        if models.is_empty() {
            return Ok(models);
        }
        let mut params = Binds::default();
        let list = params.push_list(models.iter().map(|m| m.model_id.as_str()));
        let sql = format!("SELECT model_id, tag_key, tag_value FROM logged_model_tags WHERE model_id IN ({list}) ORDER BY tag_key");
        for row in self.fetch_all(&sql, &params.values).await? {
            let model_id = row.text("model_id")?;
            if let Some(model) = models.iter_mut().find(|m| m.model_id == model_id) {
                model.tags.push(Tag::new(row.text("tag_key")?, row.text("tag_value")?));
            }
        }
        let sql = format!("SELECT model_id, param_key, param_value FROM logged_model_params WHERE model_id IN ({list}) ORDER BY param_key");
        for row in self.fetch_all(&sql, &params.values).await? {
            let model_id = row.text("model_id")?;
            if let Some(model) = models.iter_mut().find(|m| m.model_id == model_id) {
                model.params.push(Tag::new(row.text("param_key")?, row.text("param_value")?));
            }
        }
        Ok(models)
    }

    pub(super) async fn get_logged_model_impl(&self, model_id: &str, allow_deleted: bool) -> Result<LoggedModel> {
        let sql = format!("SELECT {MODEL_COLUMNS} FROM logged_models WHERE model_id = $1");
        let row = self.fetch_optional(&sql, &binds![model_id]).await?.ok_or_else(|| model_not_found(model_id))?;
        let model = model_from_row(&row)?;
        if model.lifecycle_stage == LifecycleStage::Deleted && !allow_deleted {
            return Err(model_not_found(model_id));
        }
        Ok(self.complete_models(vec![model]).await?.remove(0))
    }

    pub(super) async fn set_logged_model_status_impl(&self, model_id: &str, status: LoggedModelStatus) -> Result<LoggedModel> {
        let mut tx = self.begin().await?;
        model_experiment_in_tx(&mut tx, model_id).await?;
        tx.execute(
            "UPDATE logged_models SET status = $1, last_updated_timestamp_ms = $2 WHERE model_id = $3",
            &binds![status as i64, now_millis(), model_id],
        )
        .await?;
        tx.commit().await?;
        self.get_logged_model_impl(model_id, false).await
    }

    pub(super) async fn delete_logged_model_impl(&self, model_id: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        model_experiment_in_tx(&mut tx, model_id).await?;
        tx.execute(
            "UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_timestamp_ms = $1 WHERE model_id = $2",
            &binds![now_millis(), model_id],
        )
        .await?;
        tx.commit().await
    }

    pub(super) async fn set_logged_model_tags_impl(&self, model_id: &str, tags: Vec<Tag>) -> Result<()> {
        let mut tx = self.begin().await?;
        let experiment_id = model_experiment_in_tx(&mut tx, model_id).await?;
        upsert_model_tags(&mut tx, model_id, experiment_id, &tags).await?;
        tx.commit().await
    }

    pub(super) async fn delete_logged_model_tag_impl(&self, model_id: &str, key: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        model_experiment_in_tx(&mut tx, model_id).await?;
        let deleted = tx
            .execute("DELETE FROM logged_model_tags WHERE model_id = $1 AND tag_key = $2", &binds![model_id, key])
            .await?;
        if deleted == 0 {
            return Err(CoreError::not_found(format!("No tag with key '{key}' found for logged model '{model_id}'.")));
        }
        tx.commit().await
    }

    pub(super) async fn log_logged_model_params_impl(&self, model_id: &str, params: Vec<Tag>) -> Result<()> {
        let mut tx = self.begin().await?;
        let experiment_id = model_experiment_in_tx(&mut tx, model_id).await?;
        for param in &params {
            tx.execute(
                "INSERT INTO logged_model_params (model_id, experiment_id, param_key, param_value) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (model_id, param_key) DO UPDATE SET param_value = excluded.param_value",
                &binds![model_id, experiment_id, param.key.as_str(), param.value.as_str()],
            )
            .await?;
        }
        tx.commit().await
    }

    pub(super) async fn search_logged_models_impl(&self, search: &LoggedModelSearch) -> Result<Page<LoggedModel>> {
        if search.experiment_ids.is_empty() {
            return Ok(Page { items: Vec::new(), next_page_token: None });
        }
        let mut params = Binds::default();
        let mut conditions = vec![
            format!("experiment_id IN ({})", params.push_list(search.experiment_ids.iter().copied())),
            "lifecycle_stage = 'active'".to_string(),
        ];
        if let Some(name) = &search.name_equals {
            conditions.push(format!("name = {}", params.push(name.as_str())));
        }
        let limit = params.push(search.max_results as i64 + 1);
        let offset = params.push(search.offset as i64);
        let sql = format!(
            "SELECT {MODEL_COLUMNS} FROM logged_models WHERE {} ORDER BY creation_timestamp_ms DESC, model_id ASC LIMIT {limit} OFFSET {offset}",
            conditions.join(" AND ")
        );
        let rows = self.fetch_all(&sql, &params.values).await?;
        let models = rows.iter().map(model_from_row).collect::<Result<Vec<_>>>()?;
        let page = paginate(models, search.offset, search.max_results);
        Ok(Page { items: self.complete_models(page.items).await?, next_page_token: page.next_page_token })
    }
}

//! Metric history reads: one run's full history, and sampled histories across runs.

use std::collections::BTreeSet;

use rivulet_core::page::{paginate, Page};
use rivulet_core::store::{MetricHistoryQuery, MetricIntervalQuery};
use rivulet_core::tracking::{Metric, RunMetric};
use rivulet_core::Result;

use super::runs::metric_value_from_storage;
use crate::sql::{binds, Binds, DbRow};
use crate::Store;

fn run_metric_from_row(row: &DbRow) -> Result<RunMetric> {
    Ok(RunMetric {
        run_id: row.text("run_uuid")?,
        metric: Metric {
            key: row.text("key")?,
            value: metric_value_from_storage(row.float("value")?, row.boolean("is_nan")?),
            timestamp: row.int("timestamp")?,
            step: row.int("step")?,
        },
    })
}

/// Picks at most `max_results` steps spread evenly over `steps`, always keeping the first and
/// the last, so a chart of a long history keeps its shape.
fn sample_steps(steps: &[i64], max_results: usize) -> BTreeSet<i64> {
    if steps.len() <= max_results {
        return steps.iter().copied().collect();
    }
    if max_results < 2 {
        return steps.iter().copied().take(max_results).collect();
    }
    let last_idx = steps.len() - 1;
    (0..max_results)
        .map(|i| steps[i * last_idx / (max_results - 1)])
        .collect()
}

impl Store {
    pub(super) async fn get_metric_history_impl(&self, query: &MetricHistoryQuery) -> Result<Option<Page<RunMetric>>> {
        let run_exists = self
            .fetch_optional("SELECT run_uuid FROM runs WHERE run_uuid = $1", &binds![query.run_id.as_str()])
            .await?
            .is_some();
        if !run_exists {
            return Ok(None);
        }
        let mut params = Binds::default();
        let run = params.push(query.run_id.as_str());
        let key = params.push(query.metric_key.as_str());
        let mut sql = format!(
            "SELECT run_uuid, key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = {run} AND key = {key} \
             ORDER BY timestamp, step, value"
        );
        if let Some(max_results) = query.max_results {
            let limit = params.push(max_results as i64 + 1);
            let offset = params.push(query.offset as i64);
            sql.push_str(&format!(" LIMIT {limit} OFFSET {offset}"));
        }
        let rows = self.fetch_all(&sql, &params.values).await?;
        let metrics = rows.iter().map(run_metric_from_row).collect::<Result<Vec<_>>>()?;
        Ok(Some(match query.max_results {
            Some(max_results) => paginate(metrics, query.offset, max_results),
            None => Page { items: metrics, next_page_token: None },
        }))
    }

    pub(super) async fn get_metric_history_bulk_interval_impl(&self, query: &MetricIntervalQuery) -> Result<Vec<RunMetric>> {
        let mut result = Vec::new();
        for run_id in &query.run_ids {
            let mut params = Binds::default();
            let run = params.push(run_id.as_str());
            let key = params.push(query.metric_key.as_str());
            let mut range = String::new();
            if let (Some(start), Some(end)) = (query.start_step, query.end_step) {
                range = format!(" AND step >= {} AND step <= {}", params.push(start), params.push(end));
            }
            let sql = format!("SELECT DISTINCT step FROM metrics WHERE run_uuid = {run} AND key = {key}{range} ORDER BY step");
            let steps = self
                .fetch_all(&sql, &params.values)
                .await?
                .iter()
                .map(|row| row.int("step"))
                .collect::<Result<Vec<_>>>()?;
            let sampled = sample_steps(&steps, query.max_results);
            if sampled.is_empty() {
                continue;
            }
            let mut fetch = Binds::default();
            let run = fetch.push(run_id.as_str());
            let key = fetch.push(query.metric_key.as_str());
            let step_list = fetch.push_list(sampled.iter().copied());
            let sql = format!(
                "SELECT run_uuid, key, value, timestamp, step, is_nan FROM metrics \
                 WHERE run_uuid = {run} AND key = {key} AND step IN ({step_list}) ORDER BY step, timestamp, value"
            );
            for row in self.fetch_all(&sql, &fetch.values).await? {
                result.push(run_metric_from_row(&row)?);
            }
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::sample_steps;

    #[test]
    fn sampling_keeps_first_and_last() {
        let steps: Vec<i64> = (0..1000).collect();
        let sampled = sample_steps(&steps, 10);
        assert_eq!(sampled.len(), 10);
        assert!(sampled.contains(&0) && sampled.contains(&999));
        assert_eq!(sample_steps(&[1, 2, 3], 10).len(), 3);
    }
}

//! The service graph: services and the calls between them, from parent/child spans whose
//! emitting services differ.

use std::collections::BTreeMap;

use rivulet_core::traces::model::{ServiceEdge, ServiceGraph, ServiceNode};
use rivulet_core::Result;

use crate::sql::binds;
use crate::Store;

/// Calls read per graph; beyond this the figures come from the newest calls only.
const MAX_CALLS: i64 = 200_000;

/// A span's service: its own row where it has one (an empty name meaning none), else its
/// trace's service, which ingest records once per trace instead of once per span.
const CHILD_SERVICE: &str = "COALESCE(cs.service_name, r.service_name)";
const PARENT_SERVICE: &str = "COALESCE(ps.service_name, r.service_name)";

/// Spans of the window with the service each came from (`c`, `cs`, `r`). A trace that Rivulet
/// did not ingest has neither a rollup nor service rows; its spans get no service and no node.
const SPANS_WITH_SERVICES: &str = "FROM spans c \
     LEFT JOIN rivulet_trace_rollups r ON r.request_id = c.trace_id \
     LEFT JOIN rivulet_span_services cs ON cs.trace_id = c.trace_id AND cs.span_id = c.span_id";

const WINDOW: &str = "c.experiment_id = $1 AND c.start_time_unix_nano >= $2 AND c.start_time_unix_nano < $3";

/// The calls of the window: parent/child spans whose services are both known and differ.
fn calls() -> String {
    format!(
        "{SPANS_WITH_SERVICES} \
         JOIN spans p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id \
         LEFT JOIN rivulet_span_services ps ON ps.trace_id = p.trace_id AND ps.span_id = p.span_id \
         WHERE {WINDOW} AND {CHILD_SERVICE} <> '' AND {PARENT_SERVICE} <> '' AND {PARENT_SERVICE} <> {CHILD_SERVICE}"
    )
}

fn percentile(sorted: &[i64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() - 1) as f64 * fraction).round() as usize;
    sorted[rank.min(sorted.len() - 1)] as f64 / 1e6
}

impl Store {
    pub(crate) async fn service_graph_impl(&self, experiment_id: i64, from_ms: i64, to_ms: i64) -> Result<ServiceGraph> {
        let (from_ns, to_ns) = (from_ms.saturating_mul(1_000_000), to_ms.saturating_mul(1_000_000));
        let nodes_sql = format!(
            "SELECT {CHILD_SERVICE} AS service_name, COUNT(*) AS spans, SUM(CASE WHEN c.status = 'ERROR' THEN 1 ELSE 0 END) AS errors \
             {SPANS_WITH_SERVICES} WHERE {WINDOW} AND {CHILD_SERVICE} <> '' \
             GROUP BY {CHILD_SERVICE} ORDER BY 1"
        );
        let nodes = self
            .fetch_all(&nodes_sql, &binds![experiment_id, from_ns, to_ns])
            .await?
            .iter()
            .map(|row| {
                Ok(ServiceNode {
                    service_name: row.text("service_name")?,
                    spans: row.int("spans")?.max(0) as u64,
                    errors: row.opt_int("errors")?.unwrap_or(0).max(0) as u64,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let sql = format!(
            "SELECT {PARENT_SERVICE} AS parent_service, {CHILD_SERVICE} AS child_service, c.status, c.duration_ns {} \
             ORDER BY c.start_time_unix_nano DESC LIMIT $4",
            calls()
        );
        let rows = self.fetch_all(&sql, &binds![experiment_id, from_ns, to_ns, MAX_CALLS + 1]).await?;
        let truncated = rows.len() as i64 > MAX_CALLS;
        let mut calls: BTreeMap<(String, String), (u64, Vec<i64>)> = BTreeMap::new();
        for row in rows.iter().take(MAX_CALLS as usize) {
            let entry = calls.entry((row.text("parent_service")?, row.text("child_service")?)).or_default();
            if row.text("status")? == "ERROR" {
                entry.0 += 1;
            }
            entry.1.push(row.opt_int("duration_ns")?.unwrap_or(0).max(0));
        }
        let edges = calls
            .into_iter()
            .map(|((parent_service, child_service), (errors, mut durations))| {
                durations.sort_unstable();
                ServiceEdge {
                    parent_service,
                    child_service,
                    calls: durations.len() as u64,
                    errors,
                    p50_ms: percentile(&durations, 0.50),
                    p95_ms: percentile(&durations, 0.95),
                }
            })
            .collect();
        Ok(ServiceGraph { nodes, edges, truncated })
    }

    pub(crate) async fn traces_with_service_call_impl(
        &self,
        experiment_id: i64,
        parent_service: &str,
        child_service: &str,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT c.trace_id, MAX(c.start_time_unix_nano) AS latest {} AND {PARENT_SERVICE} = $4 AND {CHILD_SERVICE} = $5 \
             GROUP BY c.trace_id ORDER BY latest DESC LIMIT $6",
            calls()
        );
        let rows = self
            .fetch_all(
                &sql,
                &binds![
                    experiment_id,
                    from_ms.saturating_mul(1_000_000),
                    to_ms.saturating_mul(1_000_000),
                    parent_service,
                    child_service,
                    limit as i64
                ],
            )
            .await?;
        rows.iter().map(|row| row.text("trace_id")).collect()
    }
}

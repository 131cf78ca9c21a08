//! The rows one ingest group reads and writes: the stored summaries and span trees of its
//! traces, and the multi-row statements for `trace_info`, `spans`, span services, tags and
//! metadata, and Rivulet's rollups. Pure builders, so the writer decides everything before it
//! sends a statement.

use std::collections::{BTreeMap, HashMap};

use rivulet_core::traces::digest::Preview;
use rivulet_core::traces::model::{PreparedSpan, TraceState};
use rivulet_core::traces::rollup::{span_service_row, total_usage, TraceRollup};
use rivulet_core::traces::{trace_keys, TokenUsage};
use rivulet_core::Result;

use crate::sql::{Binds, StatementBatch, Tx};
use crate::Dialect;

/// Rows per multi-row statement (14 columns each, far below bind-parameter limits).
const ROWS_PER_STATEMENT: usize = 100;

/// How a group's statements insert. SQLite's default conflict action undoes just the failing
/// statement, so a multi-row insert first copies every page it touches into a statement
/// journal. No statement here is followed by anything but the rollback of its whole
/// transaction once it fails, so `OR FAIL` (which keeps the statement's earlier rows and needs
/// no journal) means the same. An upsert's `DO UPDATE` of a `NOT NULL` column still needs the
/// journal, which is why rows new to the database are plain inserts.
pub(super) fn insert_into(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "INSERT OR FAIL INTO",
        Dialect::Postgres => "INSERT INTO",
    }
}

/// The first `max` characters: MLflow's column limits count characters, not bytes.
pub(crate) fn truncate(value: &str, max: usize) -> String {
    match value.char_indices().nth(max) {
        Some((idx, _)) => value[..idx].to_string(),
        None => value.to_string(),
    }
}

/// Reads the stored summaries of the traces a group touches (locking them on PostgreSQL).
pub(crate) async fn load_rollups(tx: &mut Tx, trace_ids: &[&str], dialect: Dialect) -> Result<HashMap<String, TraceRollup>> {
    let lock = match dialect {
        Dialect::Postgres => " FOR UPDATE OF t",
        Dialect::Sqlite => "",
    };
    let mut rollups = HashMap::new();
    for chunk in trace_ids.chunks(500) {
        let mut params = Binds::default();
        let list = params.push_list(chunk.iter().copied());
        let sql = format!(
            "SELECT t.request_id, t.experiment_id, t.timestamp_ms, t.execution_time_ms, t.status, t.request_preview, \
             t.response_preview, t.trace_name, t.session_id, r.request_preview_rank, r.response_preview_rank, r.usage_spans, \
             r.finalized, r.service_name, m.value AS user_id \
             FROM trace_info t \
             LEFT JOIN rivulet_trace_rollups r ON r.request_id = t.request_id \
             LEFT JOIN trace_request_metadata m ON m.request_id = t.request_id AND m.key = '{}' \
             WHERE t.request_id IN ({list}){lock}",
            trace_keys::USER
        );
        for row in tx.fetch_all(&sql, &params.values).await? {
            let preview = |text: Option<String>, rank: Option<i64>| {
                text.map(|text| Preview { rank: rank.unwrap_or(3).clamp(0, 255) as u8, text })
            };
            let timestamp_ms = row.int("timestamp_ms")?;
            let usage_spans: Vec<(String, TokenUsage)> = row
                .opt_text("usage_spans")?
                .and_then(|text| serde_json::from_str::<Vec<(String, serde_json::Value)>>(&text).ok())
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(id, usage)| TokenUsage::from_json(&usage).map(|u| (id, u)))
                .collect();
            rollups.insert(
                row.text("request_id")?,
                TraceRollup {
                    experiment_id: row.int("experiment_id")?,
                    timestamp_ms,
                    end_ms: row.opt_int("execution_time_ms")?.map(|d| timestamp_ms + d),
                    state: TraceState::parse(&row.text("status")?).unwrap_or(TraceState::Unspecified),
                    request_preview: preview(row.opt_text("request_preview")?, row.opt_int("request_preview_rank")?),
                    response_preview: preview(row.opt_text("response_preview")?, row.opt_int("response_preview_rank")?),
                    name: row.opt_text("trace_name")?,
                    session_id: row.opt_text("session_id")?,
                    user_id: row.opt_text("user_id")?,
                    usage_spans,
                    finalized: row.boolean("finalized")?,
                    service_name: row.opt_text("service_name")?,
                },
            );
        }
    }
    Ok(rollups)
}

/// Span id -> parent span id, per trace.
type SpanTrees = HashMap<String, HashMap<String, Option<String>>>;

/// The stored spans of traces seen before this group: with parents for the traces whose token
/// totals need the tree, span ids alone (read from the primary-key index, never the rows with
/// their content) for the others, which only need a count.
pub(super) async fn stored_span_trees(tx: &mut Tx, with_parents: &[&str], ids_only: &[&str]) -> Result<SpanTrees> {
    let mut trees = SpanTrees::new();
    for (trace_ids, columns) in [(with_parents, "trace_id, span_id, parent_span_id"), (ids_only, "trace_id, span_id")] {
        for chunk in trace_ids.chunks(500) {
            let mut params = Binds::default();
            let list = params.push_list(chunk.iter().copied());
            let sql = format!("SELECT {columns} FROM spans WHERE trace_id IN ({list})");
            for row in tx.fetch_all(&sql, &params.values).await? {
                let parent = if columns.ends_with("parent_span_id") { row.opt_text("parent_span_id")? } else { None };
                trees.entry(row.text("trace_id")?).or_default().insert(row.text("span_id")?, parent);
            }
        }
    }
    Ok(trees)
}

/// Whether a trace's token totals are recomputed from its span tree in this group.
pub(super) fn needs_token_totals(rollup: &TraceRollup) -> bool {
    !rollup.usage_spans.is_empty() && !rollup.finalized
}

/// Tree-aware token totals of the traces in the group that carry usage, over their stored
/// and incoming spans.
pub(super) fn token_totals(merged: &[MergedTrace<'_>], trees: &SpanTrees) -> HashMap<String, TokenUsage> {
    let empty = HashMap::new();
    merged
        .iter()
        .filter(|(_, rollup, _)| needs_token_totals(rollup))
        .filter_map(|(trace_id, rollup, _)| {
            total_usage(&rollup.usage_spans, trees.get(*trace_id).unwrap_or(&empty)).map(|total| (trace_id.to_string(), total))
        })
        .collect()
}

/// The experiments, of those given, that have no row. A group runs without foreign-key checks
/// on SQLite (`Store::begin_ingest`); this is the one reference its own rows do not guarantee.
pub(super) async fn missing_experiments(tx: &mut Tx, experiment_ids: &[i64]) -> Result<Vec<i64>> {
    if experiment_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut params = Binds::default();
    let list = params.push_list(experiment_ids.iter().copied());
    let sql = format!("SELECT experiment_id FROM experiments WHERE experiment_id IN ({list})");
    let mut found = Vec::with_capacity(experiment_ids.len());
    for row in tx.fetch_all(&sql, &params.values).await? {
        found.push(row.int("experiment_id")?);
    }
    Ok(experiment_ids.iter().copied().filter(|id| !found.contains(id)).collect())
}

/// A trace of a group: its id, its summary merged with this group's spans, and whether it is
/// new to the database.
pub(super) type MergedTrace<'a> = (&'a str, TraceRollup, bool);

/// Splits a group's traces into those new to the database and those it has seen before.
fn by_novelty<'m, 'a>(merged: &'m [MergedTrace<'a>]) -> [(Vec<&'m MergedTrace<'a>>, bool); 2] {
    let (fresh, known): (Vec<_>, Vec<_>) = merged.iter().partition(|(_, _, is_new)| *is_new);
    [(fresh, false), (known, true)]
}

pub(super) fn write_trace_infos(
    writes: &mut StatementBatch,
    merged: &[MergedTrace<'_>],
    tokens: &HashMap<String, TokenUsage>,
    dialect: Dialect,
) {
    for (traces, upsert) in by_novelty(merged) {
        for chunk in traces.chunks(ROWS_PER_STATEMENT) {
            write_trace_info_rows(writes, chunk, tokens, dialect, upsert);
        }
    }
}

fn write_trace_info_rows(
    writes: &mut StatementBatch,
    chunk: &[&MergedTrace<'_>],
    tokens: &HashMap<String, TokenUsage>,
    dialect: Dialect,
    upsert: bool,
) {
    let mut params = Binds::default();
    let rows: Vec<String> = chunk
        .iter()
        .map(|(trace_id, rollup, _)| {
            let usage = tokens.get(*trace_id);
            format!(
                "({}, {}, {}, {}, {}, {}, {}, {}, {}, 0, {}, {}, {}, {}, {})",
                params.push(*trace_id),
                params.push(rollup.experiment_id),
                params.push(rollup.timestamp_ms),
                params.push(rollup.execution_time_ms()),
                params.push(rollup.state.as_str()),
                params.push(rollup.request_preview.as_ref().map(|p| p.text.clone())),
                params.push(rollup.response_preview.as_ref().map(|p| p.text.clone())),
                params.push(rollup.name.as_ref().map(|n| truncate(n, 4096))),
                params.push(rollup.session_id.as_ref().map(|s| truncate(s, 250))),
                params.push(usage.map(|u| u.input_tokens)),
                params.push(usage.map(|u| u.output_tokens)),
                params.push(usage.map(|u| u.total_tokens)),
                params.push(usage.and_then(|u| u.cache_read_input_tokens)),
                params.push(usage.and_then(|u| u.cache_creation_input_tokens)),
            )
        })
        .collect();
    // Token columns keep their stored value when this group brings no new usage.
    let conflict = if upsert {
        " ON CONFLICT (request_id) DO UPDATE SET timestamp_ms = excluded.timestamp_ms, \
         execution_time_ms = excluded.execution_time_ms, status = excluded.status, \
         request_preview = excluded.request_preview, response_preview = excluded.response_preview, \
         trace_name = excluded.trace_name, session_id = excluded.session_id, \
         input_tokens = COALESCE(excluded.input_tokens, trace_info.input_tokens), \
         output_tokens = COALESCE(excluded.output_tokens, trace_info.output_tokens), \
         total_tokens = COALESCE(excluded.total_tokens, trace_info.total_tokens), \
         cache_read_input_tokens = COALESCE(excluded.cache_read_input_tokens, trace_info.cache_read_input_tokens), \
         cache_creation_input_tokens = COALESCE(excluded.cache_creation_input_tokens, trace_info.cache_creation_input_tokens)"
    } else {
        ""
    };
    let sql = format!(
        "{} trace_info (request_id, experiment_id, timestamp_ms, execution_time_ms, status, request_preview, \
         response_preview, trace_name, session_id, db_payload_generation, input_tokens, output_tokens, total_tokens, \
         cache_read_input_tokens, cache_creation_input_tokens) VALUES {}{conflict}",
        insert_into(dialect),
        rows.join(", ")
    );
    writes.push(sql, params);
}

pub(super) fn write_spans(
    writes: &mut StatementBatch,
    traces: &BTreeMap<&str, (i64, Vec<&PreparedSpan>)>,
    merged: &[MergedTrace<'_>],
    dialect: Dialect,
) {
    let experiment_of: HashMap<&str, i64> = merged.iter().map(|(id, rollup, _)| (*id, rollup.experiment_id)).collect();
    let new_traces: std::collections::HashSet<&str> = merged.iter().filter(|(_, _, is_new)| *is_new).map(|(id, _, _)| *id).collect();
    // A span repeated within the group keeps its last copy, as separate upserts would.
    let mut unique: BTreeMap<(&str, &str), &PreparedSpan> = BTreeMap::new();
    for (trace_id, (_, spans)) in traces {
        for span in spans {
            unique.insert((trace_id, span.span_id.as_str()), span);
        }
    }
    // A trace without a trace_info row before this group cannot have stored spans (the
    // foreign key), so its spans are plain inserts: PostgreSQL's speculative insertion for
    // ON CONFLICT cost a third of the span insert time. Another writer sharing the database
    // that stores the same span first makes this group fail and be retried by its exporters,
    // which then find the trace and take the upsert path.
    let (fresh, known): (Vec<&PreparedSpan>, Vec<&PreparedSpan>) =
        unique.into_values().partition(|span| new_traces.contains(span.trace_id.as_str()));
    for (spans, upsert) in [(&fresh, false), (&known, true)] {
        write_span_rows(writes, spans, &experiment_of, dialect, upsert);
    }
    let service_of: HashMap<&str, Option<&str>> =
        merged.iter().map(|(id, rollup, _)| (*id, rollup.service_name.as_deref())).collect();
    write_span_services(writes, fresh.iter().chain(&known).copied(), &service_of, dialect);
}

fn write_span_rows(writes: &mut StatementBatch, spans: &[&PreparedSpan], experiment_of: &HashMap<&str, i64>, dialect: Dialect, upsert: bool) {
    for chunk in spans.chunks(ROWS_PER_STATEMENT) {
        let mut params = Binds::default();
        let rows: Vec<String> = chunk
            .iter()
            .map(|span| {
                let digest = &span.digest;
                format!(
                    "({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
                    params.push(span.trace_id.as_str()),
                    params.push(experiment_of.get(span.trace_id.as_str()).copied().unwrap_or_default()),
                    params.push(span.span_id.as_str()),
                    params.push(span.parent_span_id.clone()),
                    params.push(span.name.as_str()),
                    params.push(digest.span_type.as_ref().map(|t| truncate(t, 500))),
                    params.push(span.status),
                    params.push(span.start_time_unix_nano),
                    params.push(span.end_time_unix_nano),
                    params.push(span.content.as_str()),
                    params.push(digest.model_name.as_ref().map(|m| truncate(m, 500))),
                    params.push(digest.model_provider.as_ref().map(|m| truncate(m, 500))),
                )
            })
            .collect();
        let conflict = if upsert {
            " ON CONFLICT (trace_id, span_id) DO UPDATE SET parent_span_id = excluded.parent_span_id, name = excluded.name, \
             type = excluded.type, status = excluded.status, start_time_unix_nano = excluded.start_time_unix_nano, \
             end_time_unix_nano = excluded.end_time_unix_nano, content = excluded.content, \
             model_name = excluded.model_name, model_provider = excluded.model_provider"
        } else {
            ""
        };
        let sql = format!(
            "{} spans (trace_id, experiment_id, span_id, parent_span_id, name, type, status, start_time_unix_nano, \
             end_time_unix_nano, content, model_name, model_provider) VALUES {}{conflict}",
            insert_into(dialect),
            rows.join(", ")
        );
        writes.push(sql, params);
    }
}

/// Service rows for the spans whose service is not their trace's (see `span_service_row`).
fn write_span_services<'a>(
    writes: &mut StatementBatch,
    spans: impl Iterator<Item = &'a PreparedSpan>,
    service_of: &HashMap<&str, Option<&str>>,
    dialect: Dialect,
) {
    let rows: Vec<(&PreparedSpan, String)> = spans
        .filter_map(|span| {
            let trace_service = service_of.get(span.trace_id.as_str()).copied().flatten();
            span_service_row(trace_service, span.service_name.as_deref()).map(|service| (span, service))
        })
        .collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT * 3) {
        let mut params = Binds::default();
        let rows: Vec<String> = chunk
            .iter()
            .map(|(span, service)| {
                format!("({}, {}, {})", params.push(span.trace_id.as_str()), params.push(span.span_id.as_str()), params.push(service.as_str()))
            })
            .collect();
        let sql = format!(
            "{} rivulet_span_services (trace_id, span_id, service_name) VALUES {} \
             ON CONFLICT (trace_id, span_id) DO UPDATE SET service_name = excluded.service_name",
            insert_into(dialect),
            rows.join(", ")
        );
        writes.push(sql, params);
    }
}

/// Upserts `(request_id, key, value)` rows into a trace key/value table; with `replace` false,
/// existing keys keep their value.
pub(crate) async fn upsert_key_values(tx: &mut Tx, table: &str, rows: &[(&str, String, String)], replace: bool) -> Result<()> {
    let mut writes = StatementBatch::default();
    write_key_values(&mut writes, table, rows, replace, "INSERT INTO");
    tx.execute_batch(writes).await
}

/// `insert` is `INSERT INTO`, or a group's [`insert_into`].
pub(super) fn write_key_values(writes: &mut StatementBatch, table: &str, rows: &[(&str, String, String)], replace: bool, insert: &str) {
    // Within one statement a key may appear once: keep the last value given.
    let mut unique: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    for (trace_id, key, value) in rows {
        unique.insert((trace_id, key.as_str()), value.as_str());
    }
    let rows: Vec<((&str, &str), &str)> = unique.into_iter().collect();
    let conflict = if replace { "DO UPDATE SET value = excluded.value" } else { "DO NOTHING" };
    for chunk in rows.chunks(ROWS_PER_STATEMENT * 3) {
        let mut params = Binds::default();
        let values: Vec<String> = chunk
            .iter()
            .map(|((trace_id, key), value)| format!("({}, {}, {})", params.push(*key), params.push(*value), params.push(*trace_id)))
            .collect();
        let sql = format!(
            "{insert} {table} (key, value, request_id) VALUES {} ON CONFLICT (key, request_id) {conflict}",
            values.join(", ")
        );
        writes.push(sql, params);
    }
}

pub(super) fn write_rollups(writes: &mut StatementBatch, merged: &[MergedTrace<'_>], trees: &SpanTrees, dialect: Dialect) {
    for (traces, upsert) in by_novelty(merged) {
        for chunk in traces.chunks(ROWS_PER_STATEMENT) {
            write_rollup_rows(writes, chunk, trees, dialect, upsert);
        }
    }
}

fn write_rollup_rows(writes: &mut StatementBatch, chunk: &[&MergedTrace<'_>], trees: &SpanTrees, dialect: Dialect, upsert: bool) {
    let mut params = Binds::default();
    let rows: Vec<String> = chunk
        .iter()
        .map(|(trace_id, rollup, _)| {
            let usage_json = (!rollup.usage_spans.is_empty()).then(|| {
                let list: Vec<serde_json::Value> =
                    rollup.usage_spans.iter().map(|(id, usage)| serde_json::json!([id, usage.to_json()])).collect();
                serde_json::Value::Array(list).to_string()
            });
            // Distinct span ids, stored and incoming.
            let span_count = trees.get(*trace_id).map_or(0, |tree| tree.len() as i64);
            format!(
                "({}, {}, {}, {}, {}, {}, {})",
                params.push(*trace_id),
                params.push(rollup.request_preview.as_ref().map_or(0, |p| i64::from(p.rank))),
                params.push(rollup.response_preview.as_ref().map_or(0, |p| i64::from(p.rank))),
                params.push(span_count),
                params.push(usage_json),
                params.push(rollup.finalized),
                params.push(rollup.service_name.as_deref()),
            )
        })
        .collect();
    let conflict = if upsert {
        " ON CONFLICT (request_id) DO UPDATE SET request_preview_rank = excluded.request_preview_rank, \
         response_preview_rank = excluded.response_preview_rank, span_count = excluded.span_count, usage_spans = excluded.usage_spans"
    } else {
        ""
    };
    let sql = format!(
        "{} rivulet_trace_rollups (request_id, request_preview_rank, response_preview_rank, span_count, usage_spans, finalized, \
         service_name) VALUES {}{conflict}",
        insert_into(dialect),
        rows.join(", ")
    );
    writes.push(sql, params);
}

//! SearchTracesV3: renders the parsed trace filter and `order_by` into SQL with bound values.

use rivulet_core::page::{paginate, Page};
use rivulet_core::search::{FilterValue, TraceClause, TraceComparator, TraceKey, TraceOrderKey};
use rivulet_core::store::TraceSearch;
use rivulet_core::traces::json::python_dumps;
use rivulet_core::traces::model::TraceInfo;
use rivulet_core::traces::trace_keys;
use rivulet_core::Result;

use super::read::{trace_info_from_row, TRACE_COLUMNS};
use crate::sql::Binds;
use crate::tracking::filters::compare;
use crate::Dialect;
use crate::Store;

/// `column <op> value`, with RLIKE as each database spells a regex match.
fn compare_trace(dialect: Dialect, column: &str, comparator: TraceComparator, value: &FilterValue, binds: &mut Binds) -> String {
    match comparator.as_comparator() {
        Some(comparator) => compare(dialect, column, comparator, value, binds),
        None => {
            let pattern = match value {
                FilterValue::Text(text) => binds.push(text.as_str()),
                other => binds.push(format!("{other:?}")),
            };
            match dialect {
                Dialect::Postgres => format!("{column} ~ {pattern}"),
                Dialect::Sqlite => format!("{column} REGEXP {pattern}"),
            }
        }
    }
}

fn text_value(value: &FilterValue) -> String {
    match value {
        FilterValue::Text(text) => text.clone(),
        FilterValue::Number(n) => n.to_string(),
        FilterValue::Integer(n) => n.to_string(),
        _ => String::new(),
    }
}

/// Escapes regular-expression syntax so a literal can start a pattern.
fn regex_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Escapes LIKE wildcards so a literal needle can sit between `%` signs.
fn like_literal(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// A condition on a trace key/value table (`trace_tags`, `trace_request_metadata`).
fn key_value(dialect: Dialect, table: &str, key: &str, clause: &TraceClause, binds: &mut Binds) -> String {
    let key = binds.push(key);
    let base = format!("SELECT 1 FROM {table} kv WHERE kv.request_id = t.request_id AND kv.key = {key}");
    match clause.comparator {
        TraceComparator::IsNull => format!("NOT EXISTS ({base})"),
        TraceComparator::IsNotNull => format!("EXISTS ({base})"),
        comparator => format!("EXISTS ({base} AND {})", compare_trace(dialect, "kv.value", comparator, &clause.value, binds)),
    }
}

fn nullable_column(dialect: Dialect, column: &str, clause: &TraceClause, binds: &mut Binds) -> String {
    match clause.comparator {
        TraceComparator::IsNull => format!("{column} IS NULL"),
        TraceComparator::IsNotNull => format!("{column} IS NOT NULL"),
        comparator => compare_trace(dialect, column, comparator, &clause.value, binds),
    }
}

fn run_link(dialect: Dialect, clause: &TraceClause, binds: &mut Binds) -> String {
    let metadata = key_value(dialect, "trace_request_metadata", trace_keys::SOURCE_RUN, clause, binds);
    if !matches!(clause.comparator, TraceComparator::Eq | TraceComparator::In) {
        return metadata;
    }
    let linked = compare_trace(dialect, "ea.destination_id", clause.comparator, &clause.value, binds);
    format!(
        "({metadata} OR EXISTS (SELECT 1 FROM entity_associations ea WHERE ea.source_type = 'trace' \
         AND ea.source_id = t.request_id AND ea.destination_type = 'run' AND {linked}))"
    )
}

/// Token usage and cost metadata live in columns; compare them through their JSON form.
fn promoted_json(clause: &TraceClause, columns: &[&str], binds: &mut Binds) -> String {
    let present = columns.iter().map(|c| format!("t.{c} IS NOT NULL")).collect::<Vec<_>>().join(" OR ");
    match clause.comparator {
        TraceComparator::IsNull => format!("NOT ({present})"),
        TraceComparator::IsNotNull => format!("({present})"),
        comparator => {
            let wanted: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&text_value(&clause.value)).unwrap_or_default();
            let equal = columns
                .iter()
                .map(|c| match wanted.get(*c).and_then(serde_json::Value::as_f64) {
                    Some(v) => format!("t.{c} = {}", binds.push(v)),
                    None => format!("t.{c} IS NULL"),
                })
                .collect::<Vec<_>>()
                .join(" AND ");
            if comparator == TraceComparator::NotEq {
                format!("NOT ({equal})")
            } else {
                format!("({equal})")
            }
        }
    }
}

fn span_condition(dialect: Dialect, clause: &TraceClause, binds: &mut Binds) -> String {
    match &clause.key {
        TraceKey::SpanName => compare_trace(dialect, "s.name", clause.comparator, &clause.value, binds),
        TraceKey::SpanType => compare_trace(dialect, "s.type", clause.comparator, &clause.value, binds),
        TraceKey::SpanStatus => compare_trace(dialect, "s.status", clause.comparator, &clause.value, binds),
        TraceKey::SpanContent => compare_trace(dialect, "s.content", clause.comparator, &clause.value, binds),
        TraceKey::SpanAttribute(attribute) => {
            let key = python_dumps(&serde_json::Value::String(attribute.clone()));
            let value = text_value(&clause.value);
            match clause.comparator {
                TraceComparator::Eq | TraceComparator::NotEq => {
                    // The stored attribute is JSON text inside the span JSON: a string attribute
                    // "gpt-4" appears as "key": "\"gpt-4\"", a number 7 as "key": "7".
                    let as_string = python_dumps(&serde_json::Value::String(python_dumps(&serde_json::Value::String(value.clone()))));
                    let as_json = python_dumps(&serde_json::Value::String(value.clone()));
                    let string_match = binds.push(format!("%{}: {}%", like_literal(&key), like_literal(&as_string)));
                    let json_match = binds.push(format!("%{}: {}%", like_literal(&key), like_literal(&as_json)));
                    let equal = format!("(s.content LIKE {string_match} ESCAPE '\\' OR s.content LIKE {json_match} ESCAPE '\\')");
                    if clause.comparator == TraceComparator::Eq {
                        equal
                    } else {
                        let present = binds.push(format!("%{}: %", like_literal(&key)));
                        format!("(s.content LIKE {present} ESCAPE '\\' AND NOT {equal})")
                    }
                }
                TraceComparator::RLike => {
                    // The attribute's stored text is a JSON string inside the span JSON, so the
                    // expression is matched against what follows `"key": "\"`; a leading `^`
                    // anchors it right there.
                    let (anchored, expression) = match value.strip_prefix('^') {
                        Some(rest) => (true, rest.to_string()),
                        None => (false, value.clone()),
                    };
                    let prefix = regex_literal(&format!("{key}: \"\\\""));
                    let pattern = if anchored { format!("{prefix}{expression}") } else { format!("{prefix}.*{expression}") };
                    compare_trace(dialect, "s.content", TraceComparator::RLike, &FilterValue::Text(pattern), binds)
                }
                comparator => {
                    // MLflow's reading: the attribute is present and the pattern follows it. The
                    // key is not escaped: LIKE wildcards in it only widen the match, and SQLite's
                    // LIKE has no escape character unless one is declared.
                    let pattern = FilterValue::Text(format!("%{key}{value}%"));
                    compare_trace(dialect, "s.content", comparator, &pattern, binds)
                }
            }
        }
        _ => "1 = 1".to_string(),
    }
}

fn assessment_condition(dialect: Dialect, kind: &str, name: &str, clause: &TraceClause, binds: &mut Binds) -> String {
    let kind = binds.push(kind);
    let name = binds.push(name);
    let valid = binds.push(true);
    let base = format!(
        "SELECT 1 FROM assessments a WHERE a.trace_id = t.request_id AND a.assessment_type = {kind} AND a.name = {name} AND a.valid = {valid}"
    );
    let test = match (&clause.comparator, &clause.value) {
        (TraceComparator::IsNull, _) => return format!("NOT EXISTS ({base})"),
        (TraceComparator::IsNotNull, _) => return format!("EXISTS ({base})"),
        (comparator, FilterValue::Number(n)) if matches!(comparator, TraceComparator::Lt | TraceComparator::LtEq | TraceComparator::Gt | TraceComparator::GtEq) => {
            compare_trace(dialect, "a.aggregate_value", *comparator, &FilterValue::Number(*n), binds)
        }
        (TraceComparator::Eq | TraceComparator::NotEq, value) => {
            // 'yes' matches the JSON string "yes"; numbers and booleans match their raw JSON.
            let raw = text_value(value);
            let quoted = python_dumps(&serde_json::Value::String(raw.clone()));
            let list = binds.push_list([raw.as_str(), quoted.as_str()]);
            let op = if clause.comparator == TraceComparator::Eq { "IN" } else { "NOT IN" };
            format!("a.value {op} ({list})")
        }
        (comparator, value) => compare_trace(dialect, "a.value", *comparator, value, binds),
    };
    format!("EXISTS ({base} AND {test})")
}

fn trace_condition(dialect: Dialect, clause: &TraceClause, binds: &mut Binds) -> String {
    match &clause.key {
        TraceKey::Status => compare_trace(dialect, "t.status", clause.comparator, &clause.value, binds),
        TraceKey::RequestId => compare_trace(dialect, "t.request_id", clause.comparator, &clause.value, binds),
        TraceKey::ClientRequestId => nullable_column(dialect, "t.client_request_id", clause, binds),
        TraceKey::TimestampMs => compare_trace(dialect, "t.timestamp_ms", clause.comparator, &clause.value, binds),
        TraceKey::ExecutionTimeMs => compare_trace(dialect, "t.execution_time_ms", clause.comparator, &clause.value, binds),
        TraceKey::EndTimeMs => compare_trace(dialect, "(t.timestamp_ms + COALESCE(t.execution_time_ms, 0))", clause.comparator, &clause.value, binds),
        TraceKey::Name => nullable_column(dialect, "t.trace_name", clause, binds),
        TraceKey::RunId => run_link(dialect, clause, binds),
        TraceKey::Text => format!(
            "EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = t.request_id AND {})",
            compare_trace(dialect, "s.content", clause.comparator, &clause.value, binds)
        ),
        TraceKey::Prompt => {
            let version = binds.push(text_value(&clause.value));
            format!(
                "EXISTS (SELECT 1 FROM entity_associations ea WHERE ea.source_type = 'trace' AND ea.source_id = t.request_id \
                 AND ea.destination_type = 'prompt_version' AND ea.destination_id = {version})"
            )
        }
        TraceKey::Tag(key) if key == trace_keys::TRACE_NAME => nullable_column(dialect, "t.trace_name", clause, binds),
        TraceKey::Tag(key) => key_value(dialect, "trace_tags", key, clause, binds),
        TraceKey::Metadata(key) => match key.as_str() {
            trace_keys::SESSION => nullable_column(dialect, "t.session_id", clause, binds),
            trace_keys::TOKEN_USAGE => promoted_json(clause, &["input_tokens", "output_tokens", "total_tokens"], binds),
            trace_keys::COST => promoted_json(clause, &["input_cost", "output_cost", "total_cost"], binds),
            trace_keys::SOURCE_RUN if clause.comparator == TraceComparator::Eq => run_link(dialect, clause, binds),
            _ => key_value(dialect, "trace_request_metadata", key, clause, binds),
        },
        TraceKey::Feedback(name) => assessment_condition(dialect, "feedback", name, clause, binds),
        TraceKey::Expectation(name) => assessment_condition(dialect, "expectation", name, clause, binds),
        TraceKey::IssueId => {
            let issue = binds.push(text_value(&clause.value));
            format!(
                "EXISTS (SELECT 1 FROM assessments a WHERE a.trace_id = t.request_id AND a.assessment_type = 'issue' AND a.name = {issue})"
            )
        }
        // Span keys are gathered into one EXISTS by the caller.
        TraceKey::SpanName | TraceKey::SpanType | TraceKey::SpanStatus | TraceKey::SpanContent | TraceKey::SpanAttribute(_) => {
            "1 = 1".to_string()
        }
    }
}

fn is_span_key(key: &TraceKey) -> bool {
    matches!(key, TraceKey::SpanName | TraceKey::SpanType | TraceKey::SpanStatus | TraceKey::SpanContent | TraceKey::SpanAttribute(_))
}

/// `(JOINs, WHERE body, ORDER BY body)` for a trace search over `trace_info t`.
fn where_and_order(dialect: Dialect, search: &TraceSearch, binds: &mut Binds) -> (String, String, String) {
    let mut conditions = vec![format!("t.experiment_id IN ({})", binds.push_list(search.experiment_ids.iter().copied()))];
    let mut span_conditions = Vec::new();
    for clause in &search.filter {
        if is_span_key(&clause.key) {
            span_conditions.push(span_condition(dialect, clause, binds));
        } else {
            conditions.push(trace_condition(dialect, clause, binds));
        }
    }
    if !span_conditions.is_empty() {
        // Every span clause must hold for one and the same span.
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = t.request_id AND {})",
            span_conditions.join(" AND ")
        ));
    }
    let mut joins = Vec::new();
    let mut order = Vec::new();
    for (idx, order_by) in search.order_by.iter().enumerate() {
        let direction = if order_by.ascending { "ASC" } else { "DESC" };
        let column = match &order_by.key {
            TraceOrderKey::ExperimentId => "t.experiment_id".to_string(),
            TraceOrderKey::TimestampMs => "t.timestamp_ms".to_string(),
            TraceOrderKey::ExecutionTimeMs => "t.execution_time_ms".to_string(),
            TraceOrderKey::EndTimeMs => "(t.timestamp_ms + COALESCE(t.execution_time_ms, 0))".to_string(),
            TraceOrderKey::Status => "t.status".to_string(),
            TraceOrderKey::RequestId => "t.request_id".to_string(),
            TraceOrderKey::Name => "t.trace_name".to_string(),
            TraceOrderKey::Metadata(key) if key == trace_keys::SESSION => "t.session_id".to_string(),
            TraceOrderKey::RunId | TraceOrderKey::Metadata(_) | TraceOrderKey::Tag(_) => {
                let (table, key) = match &order_by.key {
                    TraceOrderKey::Tag(key) => ("trace_tags", key.as_str()),
                    TraceOrderKey::Metadata(key) => ("trace_request_metadata", key.as_str()),
                    _ => ("trace_request_metadata", trace_keys::SOURCE_RUN),
                };
                let alias = format!("o{idx}");
                joins.push(format!("LEFT JOIN {table} {alias} ON {alias}.request_id = t.request_id AND {alias}.key = {}", binds.push(key)));
                format!("{alias}.value")
            }
        };
        // NOT NULL columns need no nulls-last term, and without it the database can walk an index.
        let never_null = matches!(
            order_by.key,
            TraceOrderKey::ExperimentId | TraceOrderKey::TimestampMs | TraceOrderKey::Status | TraceOrderKey::RequestId
        );
        if !never_null {
            order.push(format!("CASE WHEN {column} IS NULL THEN 1 ELSE 0 END"));
        }
        order.push(format!("{column} {direction}"));
    }
    if !search.order_by.iter().any(|o| o.key == TraceOrderKey::TimestampMs) {
        order.push("t.timestamp_ms DESC".to_string());
    }
    if !search.order_by.iter().any(|o| o.key == TraceOrderKey::RequestId) {
        order.push("t.request_id ASC".to_string());
    }
    (joins.join(" "), conditions.join(" AND "), order.join(", "))
}

impl Store {
    pub(crate) async fn search_traces_impl(&self, search: &TraceSearch) -> Result<Page<TraceInfo>> {
        if search.experiment_ids.is_empty() {
            return Ok(Page { items: Vec::new(), next_page_token: None });
        }
        let mut binds = Binds::default();
        let (joins, where_sql, order_sql) = where_and_order(self.dialect(), search, &mut binds);
        let limit = binds.push(search.max_results as i64 + 1);
        let offset = binds.push(search.offset as i64);
        let sql = format!(
            "SELECT {TRACE_COLUMNS} FROM trace_info t LEFT JOIN rivulet_trace_rollups r ON r.request_id = t.request_id {joins} \
             WHERE {where_sql} ORDER BY {order_sql} LIMIT {limit} OFFSET {offset}"
        );
        let rows = self.fetch_all(&sql, &binds.values).await?;
        let infos = rows.iter().map(trace_info_from_row).collect::<Result<Vec<_>>>()?;
        let page = paginate(infos, search.offset, search.max_results);
        Ok(Page { items: self.complete_trace_infos(page.items).await?, next_page_token: page.next_page_token })
    }
}

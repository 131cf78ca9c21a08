//! Renders parsed search filters and `order_by` clauses into SQL with bound parameters.
//!
//! Every user-supplied value is a bound parameter; keys and operators come from the typed AST,
//! so no filter text ever reaches the SQL string.

use rivulet_core::search::{
    Comparator, DatasetField, ExperimentKey, FilterValue, RunAttribute, RunKey,
};
use rivulet_core::store::{ExperimentSearch, RunSearch};
use rivulet_core::tracking::{DATASET_CONTEXT_TAG, RUN_NAME_TAG};

use crate::sql::Binds;
use crate::Dialect;

fn operator(comparator: Comparator) -> &'static str {
    match comparator {
        Comparator::Eq => "=",
        Comparator::NotEq => "!=",
        Comparator::Lt => "<",
        Comparator::LtEq => "<=",
        Comparator::Gt => ">",
        Comparator::GtEq => ">=",
        Comparator::Like => "LIKE",
        Comparator::ILike => "ILIKE",
        Comparator::In => "IN",
        Comparator::NotIn => "NOT IN",
        Comparator::IsNull => "IS NULL",
        Comparator::IsNotNull => "IS NOT NULL",
    }
}

/// `column <op> value` for a scalar or list comparison; `IS [NOT] NULL` is handled by callers.
pub(crate) fn compare(dialect: Dialect, column: &str, comparator: Comparator, value: &FilterValue, binds: &mut Binds) -> String {
    match (comparator, value) {
        (Comparator::In | Comparator::NotIn, FilterValue::TextList(items)) => {
            format!("{column} {} ({})", operator(comparator), binds.push_list(items.iter().map(String::as_str)))
        }
        (Comparator::In | Comparator::NotIn, FilterValue::IntegerList(items)) => {
            format!("{column} {} ({})", operator(comparator), binds.push_list(items.iter().copied()))
        }
        (Comparator::ILike, value) => {
            let placeholder = push_value(binds, value);
            dialect.ilike(column, &placeholder)
        }
        (comparator, value) => {
            let placeholder = push_value(binds, value);
            format!("{column} {} {placeholder}", operator(comparator))
        }
    }
}

fn push_value(binds: &mut Binds, value: &FilterValue) -> String {
    match value {
        FilterValue::Number(n) => binds.push(*n),
        FilterValue::Integer(n) => binds.push(*n),
        FilterValue::Text(s) => binds.push(s.as_str()),
        // Lists are rendered by `compare`; a scalar slot never receives one from the parser.
        FilterValue::TextList(_) | FilterValue::IntegerList(_) | FilterValue::None => binds.push(Option::<String>::None),
    }
}

fn lifecycle_condition(alias: &str, stages: &[rivulet_core::tracking::LifecycleStage], binds: &mut Binds) -> String {
    format!(
        "{alias}.lifecycle_stage IN ({})",
        binds.push_list(stages.iter().map(|s| s.as_str()))
    )
}

/// `(WHERE body, ORDER BY body)` for `experiments/search` over `experiments e`.
pub(super) fn experiment_where_and_order(dialect: Dialect, search: &ExperimentSearch, binds: &mut Binds) -> (String, String) {
    let mut conditions = vec![
        lifecycle_condition("e", search.view_type.stages(), binds),
        format!("e.workspace = {}", binds.push(rivulet_core::tracking::DEFAULT_WORKSPACE)),
    ];
    for clause in &search.filter {
        let condition = match &clause.key {
            ExperimentKey::Tag(key) => {
                let key = binds.push(key.as_str());
                match clause.comparator {
                    Comparator::IsNull => format!("NOT EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = e.experiment_id AND t.key = {key})"),
                    Comparator::IsNotNull => format!("EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = e.experiment_id AND t.key = {key})"),
                    comparator => format!(
                        "EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = e.experiment_id AND t.key = {key} AND {})",
                        compare(dialect, "t.value", comparator, &clause.value, binds)
                    ),
                }
            }
            key => compare(dialect, experiment_column(key), clause.comparator, &clause.value, binds),
        };
        conditions.push(condition);
    }
    let mut order: Vec<String> = search
        .order_by
        .iter()
        .map(|o| format!("{} {}", experiment_column(&o.key), if o.ascending { "ASC" } else { "DESC" }))
        .collect();
    if order.is_empty() {
        order.push("e.creation_time DESC".to_string());
    }
    if !search.order_by.iter().any(|o| o.key == ExperimentKey::ExperimentId) {
        order.push("e.experiment_id DESC".to_string());
    }
    (conditions.join(" AND "), order.join(", "))
}

fn experiment_column(key: &ExperimentKey) -> &'static str {
    match key {
        ExperimentKey::Name => "e.name",
        ExperimentKey::ExperimentId => "e.experiment_id",
        ExperimentKey::CreationTime => "e.creation_time",
        ExperimentKey::LastUpdateTime => "e.last_update_time",
        // Tags are neither orderable nor compared as columns; the parser never sends them here.
        ExperimentKey::Tag(_) => "NULL",
    }
}

fn run_attribute_column(attribute: RunAttribute) -> &'static str {
    match attribute {
        RunAttribute::RunId => "r.run_uuid",
        RunAttribute::RunName => "r.name",
        RunAttribute::Status => "r.status",
        RunAttribute::UserId => "r.user_id",
        RunAttribute::ArtifactUri => "r.artifact_uri",
        RunAttribute::StartTime => "r.start_time",
        RunAttribute::EndTime => "r.end_time",
    }
}

/// A condition on a key/value child table (`params`, `tags`) of the run `r`.
fn key_value_condition(dialect: Dialect, table: &str, key: &str, comparator: Comparator, value: &FilterValue, binds: &mut Binds) -> String {
    let key = binds.push(key);
    let base = format!("SELECT 1 FROM {table} kv WHERE kv.run_uuid = r.run_uuid AND kv.key = {key}");
    match comparator {
        Comparator::IsNull => format!("NOT EXISTS ({base})"),
        Comparator::IsNotNull => format!("EXISTS ({base})"),
        comparator => format!("EXISTS ({base} AND {})", compare(dialect, "kv.value", comparator, value, binds)),
    }
}

/// The test a metric filter clause makes on one `latest_metrics` row `alias`: NaN (stored as
/// `is_nan`) matches no numeric comparison except `!=`, which it always matches.
fn metric_value_test(dialect: Dialect, alias: &str, comparator: Comparator, value: &FilterValue, binds: &mut Binds) -> String {
    let value_test = compare(dialect, &format!("{alias}.value"), comparator, value, binds);
    if comparator == Comparator::NotEq {
        format!("({alias}.is_nan = {} OR {value_test})", binds.push(true))
    } else {
        format!("{alias}.is_nan = {} AND {value_test}", binds.push(false))
    }
}

/// `(JOINs, WHERE body, ORDER BY body)` for `runs/search` over `runs r`.
pub(super) fn run_where_and_order(dialect: Dialect, search: &RunSearch, binds: &mut Binds) -> (String, String, String) {
    // A metric that is both ordered on and filtered with a comparison NaN fails (anything but
    // `!=`) is present and a number in every matching run. One inner join then serves the
    // filter and the order, and the order needs no "NaN, then missing, last" rank: that lets
    // the database walk an index on (key, value) in order and stop after one page, instead of
    // ranking every matching run.
    let mut joins = Vec::new();
    let mut joined_metrics: Vec<(&str, String)> = Vec::new();
    for (idx, order_by) in search.order_by.iter().enumerate() {
        let RunKey::Metric(key) = &order_by.key else { continue };
        let requires_number = search
            .filter
            .iter()
            .any(|clause| matches!(&clause.key, RunKey::Metric(k) if k == key) && clause.comparator != Comparator::NotEq);
        if requires_number && !joined_metrics.iter().any(|(joined, _)| joined == key) {
            let alias = format!("om{idx}");
            joins.push(format!(
                "JOIN latest_metrics {alias} ON {alias}.run_uuid = r.run_uuid AND {alias}.key = {}",
                binds.push(key.as_str())
            ));
            joined_metrics.push((key.as_str(), alias));
        }
    }
    let joined_alias = |key: &str| joined_metrics.iter().find(|(joined, _)| *joined == key).map(|(_, alias)| alias.clone());

    let mut conditions = vec![
        format!("r.experiment_id IN ({})", binds.push_list(search.experiment_ids.iter().copied())),
        lifecycle_condition("r", search.view_type.stages(), binds),
    ];
    for clause in &search.filter {
        let condition = match &clause.key {
            // latest_metrics holds one row per (run, key), so a test on the joined row is the
            // same as an EXISTS over that run's rows.
            RunKey::Metric(key) => match joined_alias(key) {
                Some(alias) => metric_value_test(dialect, &alias, clause.comparator, &clause.value, binds),
                None => {
                    let key = binds.push(key.as_str());
                    let value_test = metric_value_test(dialect, "lm", clause.comparator, &clause.value, binds);
                    format!("EXISTS (SELECT 1 FROM latest_metrics lm WHERE lm.run_uuid = r.run_uuid AND lm.key = {key} AND {value_test})")
                }
            },
            RunKey::Param(key) => key_value_condition(dialect, "params", key, clause.comparator, &clause.value, binds),
            RunKey::Tag(key) => key_value_condition(dialect, "tags", key, clause.comparator, &clause.value, binds),
            RunKey::Attribute(RunAttribute::RunName) => {
                key_value_condition(dialect, "tags", RUN_NAME_TAG, clause.comparator, &clause.value, binds)
            }
            RunKey::Attribute(attribute) => {
                compare(dialect, run_attribute_column(*attribute), clause.comparator, &clause.value, binds)
            }
            RunKey::Dataset(field) => {
                let test = match field {
                    DatasetField::Name => compare(dialect, "d.name", clause.comparator, &clause.value, binds),
                    DatasetField::Digest => compare(dialect, "d.digest", clause.comparator, &clause.value, binds),
                    DatasetField::Context => {
                        let context = binds.push(DATASET_CONTEXT_TAG);
                        format!(
                            "EXISTS (SELECT 1 FROM input_tags it WHERE it.input_uuid = i.input_uuid AND it.name = {context} AND {})",
                            compare(dialect, "it.value", clause.comparator, &clause.value, binds)
                        )
                    }
                };
                format!(
                    "EXISTS (SELECT 1 FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id \
                     WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' AND i.destination_id = r.run_uuid AND {test})"
                )
            }
        };
        conditions.push(condition);
    }

    let mut order = Vec::new();
    for (idx, order_by) in search.order_by.iter().enumerate() {
        let direction = if order_by.ascending { "ASC" } else { "DESC" };
        match &order_by.key {
            RunKey::Metric(key) => match joined_alias(key) {
                Some(alias) => order.push(format!("{alias}.value {direction}")),
                None => {
                    let alias = format!("om{idx}");
                    joins.push(format!(
                        "LEFT JOIN latest_metrics {alias} ON {alias}.run_uuid = r.run_uuid AND {alias}.key = {}",
                        binds.push(key.as_str())
                    ));
                    // Values first, then NaN, then runs without the metric, whatever the direction.
                    order.push(format!(
                        "CASE WHEN {alias}.run_uuid IS NULL THEN 2 WHEN {alias}.is_nan = {} THEN 1 ELSE 0 END",
                        binds.push(true)
                    ));
                    order.push(format!("{alias}.value {direction}"));
                }
            },
            RunKey::Param(key) | RunKey::Tag(key) => {
                let (alias, table) = match &order_by.key {
                    RunKey::Param(_) => (format!("op{idx}"), "params"),
                    _ => (format!("ot{idx}"), "tags"),
                };
                joins.push(format!(
                    "LEFT JOIN {table} {alias} ON {alias}.run_uuid = r.run_uuid AND {alias}.key = {}",
                    binds.push(key.as_str())
                ));
                order.push(format!("CASE WHEN {alias}.value IS NULL THEN 1 ELSE 0 END"));
                order.push(format!("{alias}.value {direction}"));
            }
            RunKey::Attribute(attribute) => {
                let column = run_attribute_column(*attribute);
                order.push(format!("CASE WHEN {column} IS NULL THEN 1 ELSE 0 END"));
                order.push(format!("{column} {direction}"));
            }
            // The parser refuses dataset keys in order_by.
            RunKey::Dataset(_) => {}
        }
    }
    let orders_by_start_time = search
        .order_by
        .iter()
        .any(|o| o.key == RunKey::Attribute(RunAttribute::StartTime));
    if !orders_by_start_time {
        order.push("r.start_time DESC".to_string());
    }
    order.push("r.run_uuid ASC".to_string());
    (joins.join(" "), conditions.join(" AND "), order.join(", "))
}

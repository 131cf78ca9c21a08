//! Tests of the run and experiment search grammar, one file a topic; the helpers they share live here.

use super::*;
use crate::ErrorCode;
use std::fmt;

mod experiments;
mod properties;
mod runs;
mod syntax;

fn run_clause_of(filter: &str) -> RunClause {
    let mut clauses = parse_run_filter(filter).unwrap_or_else(|e| panic!("{filter:?}: {e}"));
    assert_eq!(clauses.len(), 1, "{filter:?}");
    clauses.remove(0)
}

fn experiment_clause_of(filter: &str) -> ExperimentClause {
    let mut clauses =
        parse_experiment_filter(filter).unwrap_or_else(|e| panic!("{filter:?}: {e}"));
    assert_eq!(clauses.len(), 1, "{filter:?}");
    clauses.remove(0)
}

fn message(result: Result<impl fmt::Debug>) -> String {
    let error = result.expect_err("expected an error");
    assert_eq!(error.code, ErrorCode::InvalidParameterValue);
    error.message
}

fn run_error(filter: &str) -> String {
    message(parse_run_filter(filter))
}

fn experiment_error(filter: &str) -> String {
    message(parse_experiment_filter(filter))
}

fn order_by(clauses: &[&str]) -> Vec<String> {
    clauses.iter().map(|clause| (*clause).to_owned()).collect()
}

fn run_order_by_of(clause: &str) -> RunOrderBy {
    let mut parsed =
        parse_run_order_by(&order_by(&[clause])).unwrap_or_else(|e| panic!("{clause:?}: {e}"));
    parsed.remove(0)
}

fn clause(key: RunKey, comparator: Comparator, value: FilterValue) -> RunClause {
    RunClause {
        key,
        comparator,
        value,
    }
}

fn metric(key: &str) -> RunKey {
    RunKey::Metric(key.to_owned())
}

fn param(key: &str) -> RunKey {
    RunKey::Param(key.to_owned())
}

fn tag(key: &str) -> RunKey {
    RunKey::Tag(key.to_owned())
}

fn text(value: &str) -> FilterValue {
    FilterValue::Text(value.to_owned())
}

fn texts(values: &[&str]) -> FilterValue {
    FilterValue::TextList(values.iter().map(|v| (*v).to_owned()).collect())
}

//! Tests of the trace search grammar, one file a topic; the helpers they share live here.

use super::*;
use crate::ErrorCode;
use std::fmt;

mod order_by;
mod properties;
mod syntax;
mod values;

fn clauses(filter: &str) -> Vec<TraceClause> {
    parse_trace_filter(filter).unwrap_or_else(|e| panic!("{filter:?}: {}", e.message))
}

fn one(filter: &str) -> TraceClause {
    let mut parsed = clauses(filter);
    assert_eq!(parsed.len(), 1, "{filter:?}");
    parsed.remove(0)
}

fn key_of(filter: &str) -> TraceKey {
    one(filter).key
}

fn message(result: Result<impl fmt::Debug>) -> String {
    let error = result.expect_err("expected an error");
    assert_eq!(error.code, ErrorCode::InvalidParameterValue);
    error.message
}

fn error(filter: &str) -> String {
    message(parse_trace_filter(filter))
}

fn clause(key: TraceKey, comparator: TraceComparator, value: FilterValue) -> TraceClause {
    TraceClause {
        key,
        comparator,
        value,
    }
}

fn text(value: &str) -> FilterValue {
    FilterValue::Text(value.to_owned())
}

fn texts(values: &[&str]) -> FilterValue {
    FilterValue::TextList(values.iter().map(|v| (*v).to_owned()).collect())
}

fn tag(key: &str) -> TraceKey {
    TraceKey::Tag(key.to_owned())
}

fn metadata(key: &str) -> TraceKey {
    TraceKey::Metadata(key.to_owned())
}

fn span_attribute(key: &str) -> TraceKey {
    TraceKey::SpanAttribute(key.to_owned())
}

fn order_by(elements: &[&str]) -> Result<Vec<TraceOrderBy>> {
    let owned: Vec<String> = elements.iter().map(|e| (*e).to_owned()).collect();
    parse_trace_order_by(&owned)
}

fn order(key: TraceOrderKey, ascending: bool) -> TraceOrderBy {
    TraceOrderBy { key, ascending }
}

/// The parsed keys of `elements`, without the tie-breakers appended after them.
fn order_keys(elements: &[&str]) -> Vec<(TraceOrderKey, bool)> {
    let parsed = order_by(elements).unwrap_or_else(|e| panic!("{elements:?}: {}", e.message));
    parsed
        .into_iter()
        .take(elements.len())
        .map(|o| (o.key, o.ascending))
        .collect()
}

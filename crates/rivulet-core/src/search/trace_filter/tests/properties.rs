//! Properties over generated trace filters: no input panics, and rendered clauses parse back.

use super::*;
use crate::search::test_support::recase_keywords;
use proptest::prelude::*;

/// Renders a clause back into filter syntax, backticking free-form keys so any text survives.
fn render(clause: &TraceClause) -> String {
    let ident = match &clause.key {
        TraceKey::Status => "status".to_owned(),
        TraceKey::RequestId => "attributes.request_id".to_owned(),
        TraceKey::ClientRequestId => "trace.client_request_id".to_owned(),
        TraceKey::TimestampMs => "timestamp_ms".to_owned(),
        TraceKey::ExecutionTimeMs => "attribute.execution_time".to_owned(),
        TraceKey::EndTimeMs => "end_time".to_owned(),
        TraceKey::Name => "name".to_owned(),
        TraceKey::RunId => "run_id".to_owned(),
        TraceKey::Text => "text".to_owned(),
        TraceKey::Prompt => "prompt".to_owned(),
        TraceKey::Tag(key) => format!("tags.`{key}`"),
        TraceKey::Metadata(key) => format!("request_metadata.`{key}`"),
        TraceKey::SpanName => "span.name".to_owned(),
        TraceKey::SpanType => "span.type".to_owned(),
        TraceKey::SpanStatus => "span.status".to_owned(),
        TraceKey::SpanContent => "span.content".to_owned(),
        TraceKey::SpanAttribute(key) => format!("span.attributes.`{key}`"),
        TraceKey::Feedback(key) => format!("feedback.`{key}`"),
        TraceKey::Expectation(key) => format!("expectation.`{key}`"),
        TraceKey::IssueId => "issue.id".to_owned(),
    };
    let quoted = |text: &String| {
        if text.contains('\'') {
            format!("\"{text}\"")
        } else {
            format!("'{text}'")
        }
    };
    let op = clause.comparator.as_str();
    match &clause.value {
        FilterValue::None => format!("{ident} {op}"),
        FilterValue::Number(number) => format!("{ident} {op} {number}"),
        FilterValue::Integer(number) => format!("{ident} {op} {number}"),
        FilterValue::Text(value) => format!("{ident} {op} {}", quoted(value)),
        FilterValue::TextList(values) => {
            let items: Vec<String> = values.iter().map(quoted).collect();
            format!("{ident} {op} ({})", items.join(", "))
        }
        FilterValue::IntegerList(_) => unreachable!("traces have no integer lists"),
    }
}

/// Any text without backslashes that is not both single- and double-quoted.
fn string_value() -> impl Strategy<Value = String> {
    prop_oneof!["[^'\\\\]{0,12}", "[^\"\\\\]{0,12}"]
}

fn comparators(list: &'static [TraceComparator]) -> impl Strategy<Value = TraceComparator> {
    prop::sample::select(list.to_vec())
}

fn trace_clause_strategy() -> impl Strategy<Value = TraceClause> {
    let free_key = "[^`]{0,12}";
    let named_key = "[^`]{1,12}";
    let string_attribute = prop::sample::select(vec![
        TraceKey::Status,
        TraceKey::RequestId,
        TraceKey::ClientRequestId,
        TraceKey::Name,
        TraceKey::RunId,
        TraceKey::SpanName,
        TraceKey::SpanType,
        TraceKey::SpanStatus,
    ]);
    let time_key = prop::sample::select(vec![
        TraceKey::TimestampMs,
        TraceKey::ExecutionTimeMs,
        TraceKey::EndTimeMs,
    ]);
    let fraction = any::<f64>()
        .prop_filter("finite, not integral", |n| {
            n.is_finite() && n.fract() != 0.0
        })
        .prop_map(FilterValue::Number);
    let time_value = prop_oneof![any::<i64>().prop_map(FilterValue::Integer), fraction];
    let finite = any::<f64>()
        .prop_filter("finite", |n| n.is_finite())
        .prop_map(FilterValue::Number);
    let tag_or_metadata = (free_key, any::<bool>()).prop_map(|(key, is_tag)| {
        if is_tag {
            TraceKey::Tag(key)
        } else {
            TraceKey::Metadata(key)
        }
    });
    let assessment = (named_key, any::<bool>()).prop_map(|(key, is_feedback)| {
        if is_feedback {
            TraceKey::Feedback(key)
        } else {
            TraceKey::Expectation(key)
        }
    });
    let nullable = prop_oneof![
        tag_or_metadata.clone(),
        assessment.clone(),
        Just(TraceKey::Name),
        Just(TraceKey::RunId)
    ];
    prop_oneof![
        (
            string_attribute.clone(),
            comparators(&[C::Eq, C::NotEq, C::Like, C::ILike, C::RLike]),
            string_value()
        )
            .prop_map(|(key, c, v)| clause(key, c, FilterValue::Text(v))),
        (
            string_attribute,
            comparators(&[C::In, C::NotIn]),
            prop::collection::vec(string_value(), 1..4)
        )
            .prop_map(|(key, c, v)| clause(key, c, FilterValue::TextList(v))),
        (time_key, comparators(NUMERIC_COMPARATORS), time_value)
            .prop_map(|(key, c, v)| clause(key, c, v)),
        (
            prop::sample::select(vec![TraceKey::Text, TraceKey::SpanContent]),
            comparators(CONTENT_COMPARATORS),
            string_value()
        )
            .prop_map(|(key, c, v)| clause(key, c, FilterValue::Text(v))),
        ("[^/'\"\\\\]{0,6}", "[^/'\"\\\\]{0,6}").prop_map(|(name, version)| clause(
            TraceKey::Prompt,
            C::Eq,
            FilterValue::Text(format!("{name}/{version}"))
        )),
        (
            tag_or_metadata,
            comparators(&[C::Eq, C::NotEq, C::Like, C::ILike, C::RLike]),
            string_value()
        )
            .prop_map(|(key, c, v)| clause(key, c, FilterValue::Text(v))),
        (nullable, comparators(&[C::IsNull, C::IsNotNull])).prop_map(|(key, c)| clause(
            key,
            c,
            FilterValue::None
        )),
        (
            named_key,
            comparators(SPAN_ATTRIBUTE_COMPARATORS),
            string_value()
        )
            .prop_map(|(key, c, v)| clause(
                TraceKey::SpanAttribute(key),
                c,
                FilterValue::Text(v)
            )),
        (
            assessment.clone(),
            comparators(&[C::Eq, C::NotEq, C::Like, C::ILike, C::RLike]),
            string_value()
        )
            .prop_map(|(key, c, v)| clause(key, c, FilterValue::Text(v))),
        (
            assessment,
            comparators(&[C::Lt, C::LtEq, C::Gt, C::GtEq]),
            finite
        )
            .prop_map(|(key, c, v)| clause(key, c, v)),
        string_value().prop_map(|v| clause(TraceKey::IssueId, C::Eq, FilterValue::Text(v))),
    ]
    .prop_filter(
        "reserved metadata has its own comparators",
        |clause| !matches!(&clause.key, TraceKey::Metadata(key) if is_whole_json_metadata(key)),
    )
}

/// Fragments that reach deep into the grammar when strung together at random.
fn grammar_soup() -> impl Strategy<Value = String> {
    let fragment = prop::sample::select(vec![
        "attributes.",
        "trace.",
        "tags.",
        "request_metadata.",
        "metadata.",
        "span.",
        "span.attributes.",
        "feedback.",
        "expectation.",
        "issue.id",
        "attributes",
        "status",
        "timestamp_ms",
        "name",
        "prompt",
        "text",
        "content",
        "mlflow.trace.cost",
        "x",
        "a.b",
        " ",
        " AND ",
        "and",
        "OR",
        "NOT",
        "IN",
        "IS",
        "NULL",
        "LIKE",
        "RLIKE",
        "ASC",
        "DESC",
        "(",
        ")",
        ",",
        "'",
        "\"",
        "`",
        "\\",
        "=",
        "!=",
        "<=",
        ">",
        "<>",
        "1",
        "-2.5e3",
        "1e999",
        ".",
        "-",
        "é",
        "'v'",
        "'a/b'",
        "\"v\"",
        "`k`",
        "('a', 'b')",
    ]);
    prop::collection::vec(fragment, 0..24).prop_map(|fragments| fragments.concat())
}

proptest! {
    #[test]
    fn arbitrary_filters_never_panic(filter in any::<String>()) {
        let _ = parse_trace_filter(&filter);
    }

    #[test]
    fn grammar_soup_never_panics(filter in grammar_soup()) {
        if let Err(error) = parse_trace_filter(&filter) {
            prop_assert_eq!(error.code, ErrorCode::InvalidParameterValue);
        }
        let _ = parse_trace_order_by(std::slice::from_ref(&filter));
    }

    #[test]
    fn arbitrary_order_by_never_panics(
        elements in prop::collection::vec(any::<String>(), 0..4)
    ) {
        match parse_trace_order_by(&elements) {
            Ok(parsed) => prop_assert!(parsed.len() >= 2.max(elements.len())),
            Err(error) => prop_assert_eq!(error.code, ErrorCode::InvalidParameterValue),
        }
    }

    #[test]
    fn rendered_filters_parse_back(
        clauses in prop::collection::vec(trace_clause_strategy(), 0..5)
    ) {
        let filter = clauses.iter().map(render).collect::<Vec<_>>().join(" AND ");
        prop_assert_eq!(parse_trace_filter(&filter).map_err(|e| e.message), Ok(clauses), "{}", filter);
    }

    #[test]
    fn keywords_are_case_insensitive(masks in prop::collection::vec(any::<u32>(), 16)) {
        let template = "tags.a IS NOT NULL AND span.name RLIKE 'a' AND metadata.b ILIKE 'b' AND status NOT IN ('OK') AND name IN ('n') AND feedback.f IS NULL";
        let restyled = recase_keywords(template, masks);
        let expected = parse_trace_filter(template).unwrap();
        prop_assert_eq!(expected.len(), 6);
        prop_assert_eq!(parse_trace_filter(&restyled), Ok(expected), "{}", restyled);
    }
}

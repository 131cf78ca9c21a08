//! Tests of the trace search grammar: every rule, MLflow's messages, and no panics on any input.

use super::*;
use crate::ErrorCode;
use proptest::prelude::*;
use std::fmt;

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

// --- Conjunctions -------------------------------------------------------------------------

#[test]
fn empty_and_blank_filters_are_empty_conjunctions() {
    for filter in ["", " ", "\n\t ", "AND", "and AND"] {
        assert_eq!(clauses(filter), vec![], "{filter:?}");
    }
}

#[test]
fn clauses_are_joined_by_case_insensitive_and() {
    assert_eq!(
        clauses("status = 'OK' and tags.a != 'x' AND timestamp_ms > 5 And span.name LIKE 'q%'"),
        vec![
            clause(TraceKey::Status, C::Eq, text("OK")),
            clause(tag("a"), C::NotEq, text("x")),
            clause(TraceKey::TimestampMs, C::Gt, FilterValue::Integer(5)),
            clause(TraceKey::SpanName, C::Like, text("q%")),
        ]
    );
    assert_eq!(
        clauses("AND status='OK'AND request_id=\"tr-1\" AND AND"),
        vec![
            clause(TraceKey::Status, C::Eq, text("OK")),
            clause(TraceKey::RequestId, C::Eq, text("tr-1")),
        ]
    );
    // Span clauses are kept apart and in order: the store matches them on one span.
    assert_eq!(
        clauses("span.name = 'a' AND span.type = 'LLM' AND span.name != 'b'").len(),
        3
    );
}

#[test]
fn or_not_grouping_and_junk_are_rejected() {
    let cases = [
        ("status = 'OK' OR status = 'ERROR'", "Invalid clause(s) in filter string: 'OR'"),
        ("status = 'OK' or tags.a = 'b'", "Invalid clause(s) in filter string: 'or'"),
        ("OR status = 'OK'", "Invalid clause(s) in filter string: 'OR'"),
        ("NOT status = 'OK'", "Invalid clause(s) in filter string: 'NOT'"),
        ("(status = 'OK')", "Invalid clause(s) in filter string: '(status = 'OK')'"),
        ("status = 'OK' AND (tags.a = 'b')", "Invalid clause(s) in filter string: '(tags.a = 'b')'"),
        ("status = 'OK';", "Invalid clause(s) in filter string: ';'"),
        (
            "status = 'OK'; status = 'ERROR'",
            "Search filter contained multiple expression 'status = 'OK'; status = 'ERROR''. Provide AND-ed expression list.",
        ),
        ("status = 'OK' && tags.a = 'b'", "Invalid clause(s) in filter string: '&&'"),
        ("status = 'OK' 'x'", "Invalid clause(s) in filter string: ''x''"),
        ("status = 'OK' tags.a = 'b'", "Invalid clause(s) in filter string: 'tags.a'"),
    ];
    for (filter, expected) in cases {
        assert_eq!(error(filter), expected, "{filter}");
    }
}

#[test]
fn incomplete_clauses_are_rejected() {
    let cases = [
        ("status", "Invalid clause(s) in filter string: 'status'"),
        ("status =", "Invalid clause(s) in filter string: 'status ='"),
        ("= 'OK'", "Invalid clause(s) in filter string: '='"),
        (
            "tags.a IS 'x'",
            "Invalid clause(s) in filter string: 'tags.a IS'",
        ),
        (
            "tags.a IS NOT",
            "Invalid clause(s) in filter string: 'tags.a IS NOT'",
        ),
        (
            "tags.a NOT = 'x'",
            "Invalid clause(s) in filter string: 'tags.a NOT ='",
        ),
        (
            "timestamp_ms > -",
            "Invalid clause(s) in filter string: 'timestamp_ms > -'",
        ),
        (
            "tags.a-b = 'x'",
            "Invalid clause(s) in filter string: 'tags.a-b'",
        ),
        (
            "tags.a\"b\" = 'x'",
            "Invalid clause(s) in filter string: 'tags.a\"b\"'",
        ),
        (
            "tags.`a`b = 'x'",
            "Invalid clause(s) in filter string: 'tags.`a`b'",
        ),
        (
            "status name = 'x'",
            "Invalid clause(s) in filter string: 'status name'",
        ),
        (
            "'status' = 'OK'",
            "Invalid comparison clause. Expected 'Identifier' found ''status''",
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(error(filter), expected, "{filter}");
    }
}

#[test]
fn unterminated_quotes_are_rejected() {
    assert_eq!(
        error("tags.a = 'x"),
        "Invalid filter 'tags.a = 'x'. Could not be parsed: the quote at character 10 is never closed."
    );
    assert!(error("tags.`a = 'x'").contains("character 6 is never closed"));
    assert!(error("request_metadata.\"mlflow.trace.user = 'u'").contains("never closed"));
}

// --- Entities and keys --------------------------------------------------------------------

#[test]
fn every_entity_alias() {
    let cases = [
        ("status = 'OK'", TraceKey::Status),
        ("attribute.status = 'OK'", TraceKey::Status),
        ("attributes.status = 'OK'", TraceKey::Status),
        ("trace.status = 'OK'", TraceKey::Status),
        ("`trace`.status = 'OK'", TraceKey::Status),
        ("tag.k = 'v'", tag("k")),
        ("tags.k = 'v'", tag("k")),
        ("request_metadata.k = 'v'", metadata("k")),
        ("metadata.k = 'v'", metadata("k")),
        ("`metadata`.`k` = 'v'", metadata("k")),
        ("span.name = 'n'", TraceKey::SpanName),
        ("feedback.k = 'v'", TraceKey::Feedback("k".to_owned())),
        ("expectation.k = 'v'", TraceKey::Expectation("k".to_owned())),
        ("issue.id = 'i'", TraceKey::IssueId),
    ];
    for (filter, key) in cases {
        assert_eq!(key_of(filter), key, "{filter}");
    }
}

#[test]
fn invalid_entity_types() {
    let expected = |entity: &str| {
        format!(
            "Invalid entity type '{entity}'. Valid values are {{'attribute', 'attributes', 'trace', 'tag', 'tags', 'request_metadata', 'metadata', 'span', 'feedback', 'expectation', 'issue'}}"
        )
    };
    for (filter, entity) in [
        ("params.x = 'a'", "params"),
        ("metrics.x = 1", "metrics"),
        ("Tags.x = 'a'", "Tags"),
        ("spans.name = 'a'", "spans"),
        ("\"tags\".x = 'a'", "\"tags\""),
        ("assessment.x = 'a'", "assessment"),
    ] {
        assert_eq!(error(filter), expected(entity), "{filter}");
    }
}

#[test]
fn every_attribute_key_and_alias() {
    let cases = [
        ("status = 'OK'", TraceKey::Status),
        ("request_id = 'tr-1'", TraceKey::RequestId),
        ("client_request_id = 'c'", TraceKey::ClientRequestId),
        ("timestamp > 1", TraceKey::TimestampMs),
        ("timestamp_ms > 1", TraceKey::TimestampMs),
        ("execution_time > 1", TraceKey::ExecutionTimeMs),
        ("execution_time_ms > 1", TraceKey::ExecutionTimeMs),
        ("end_time > 1", TraceKey::EndTimeMs),
        ("end_time_ms > 1", TraceKey::EndTimeMs),
        ("name = 'n'", TraceKey::Name),
        ("run_id = 'r'", TraceKey::RunId),
        ("text ILIKE '%x%'", TraceKey::Text),
        ("prompt = 'p/1'", TraceKey::Prompt),
        ("attributes.`timestamp_ms` > 1", TraceKey::TimestampMs),
        ("\"name\" = 'n'", TraceKey::Name),
    ];
    for (filter, key) in cases {
        assert_eq!(key_of(filter), key, "{filter}");
    }
}

#[test]
fn invalid_attribute_keys_list_the_valid_ones() {
    let expected = |key: &str| {
        format!(
            "Invalid attribute key '{key}' specified. Valid keys are '{{'request_id', 'client_request_id', 'status', 'timestamp', 'timestamp_ms', 'execution_time', 'execution_time_ms', 'end_time', 'end_time_ms', 'name', 'run_id', 'text', 'prompt'}}'"
        )
    };
    for (filter, key) in [
        ("experiment_id = '1'", "experiment_id"),
        ("Status = 'OK'", "Status"),
        ("trace.state = 'OK'", "state"),
        ("attributes.trace_id = 'x'", "trace_id"),
        ("`a.b` = 'x'", "a.b"),
    ] {
        assert_eq!(error(filter), expected(key), "{filter}");
    }
}

#[test]
fn dotted_keys_split_at_the_first_dot() {
    let cases = [
        (
            "request_metadata.mlflow.trace.session = 's'",
            metadata("mlflow.trace.session"),
        ),
        (
            "request_metadata.\"mlflow.trace.user\" = 'u'",
            metadata("mlflow.trace.user"),
        ),
        (
            "metadata.`mlflow.sourceRun` = 'r'",
            metadata("mlflow.sourceRun"),
        ),
        ("tags.`a.b` = 'x'", tag("a.b")),
        ("tags.a.b = 'x'", tag("a.b")),
        ("tags.mlflow.traceName = 'x'", tag("mlflow.traceName")),
        ("tags.'my tag' = 'x'", tag("my tag")),
        ("tags.`my tag` = 'x'", tag("my tag")),
        ("tags.`` = 'x'", tag("")),
        ("tags..x = 'a'", tag(".x")),
        ("tags.a.`b c` = 'x'", tag("a.b c")),
        ("tags.é = 'x'", tag("é")),
        ("`tags`.`a.b` = 'x'", tag("a.b")),
        (
            "feedback.`answer correctness` = 'yes'",
            TraceKey::Feedback("answer correctness".to_owned()),
        ),
        (
            "feedback.my.score > 1",
            TraceKey::Feedback("my.score".to_owned()),
        ),
    ];
    for (filter, key) in cases {
        assert_eq!(key_of(filter), key, "{filter}");
    }
}

#[test]
fn span_attribute_names() {
    let cases = [
        (
            "span.attributes.`gen_ai.request.model` = 'gpt-4'",
            "gen_ai.request.model",
        ),
        (
            "span.attributes.gen_ai.request.model = 'gpt-4'",
            "gen_ai.request.model",
        ),
        (
            "span.attributes.\"gen_ai.request.model\" = 'gpt-4'",
            "gen_ai.request.model",
        ),
        ("span.attributes.mlflow.spanType = 'LLM'", "mlflow.spanType"),
        ("span.attributes.`a b` = 'x'", "a b"),
        ("`span`.`attributes.x` = 'v'", "x"),
    ];
    for (filter, name) in cases {
        assert_eq!(key_of(filter), span_attribute(name), "{filter}");
    }
    assert_eq!(
        error("span.attributes. = 'x'"),
        "Span attribute name cannot be empty after 'attributes.'"
    );
    assert_eq!(
        error("span.attributes.`` = 'x'"),
        "Span attribute name cannot be empty after 'attributes.'"
    );
}

#[test]
fn invalid_span_issue_and_assessment_keys() {
    let span = |key: &str| {
        format!("Invalid span attribute '{key}'. Supported attributes: content, name, status, type, attributes.<attribute_name>.")
    };
    assert_eq!(error("span.service_name = 'x'"), span("service_name"));
    assert_eq!(error("span.attributes = 'x'"), span("attributes"));
    assert_eq!(error("span.Name = 'x'"), span("Name"));
    assert_eq!(
        error("issue.name = 'x'"),
        "Invalid issue attribute 'name'. Supported attributes: id"
    );
    assert_eq!(
        error("feedback.`` = 'x'"),
        "Assessment field name cannot be empty"
    );
    assert_eq!(error("expectation. = 'x'"), error("feedback.`` = 'x'"));
}

// --- Values -------------------------------------------------------------------------------

#[test]
fn quoted_values_stay_as_written() {
    assert_eq!(one("tags.a = 'it''s'").value, text("it''s"));
    assert_eq!(
        one("tags.a = \"say \"\"hi\"\"\"").value,
        text("say \"\"hi\"\"")
    );
    assert_eq!(one(r"tags.a = 'C:\dir\'").value, text(r"C:\dir\"));
    assert_eq!(one(r"tags.a = 'it\'s'").value, text(r"it\'s"));
    assert_eq!(one("tags.a = \"it's\"").value, text("it's"));
    assert_eq!(one("tags.a = ''").value, text(""));
    assert_eq!(one("tags.a = 'é ✓'").value, text("é ✓"));
    assert_eq!(
        one("status IN ('it''s', \"b\")").value,
        texts(&["it''s", "b"])
    );
}

#[test]
fn unquoted_values_are_rejected() {
    for (filter, value) in [
        ("status = OK", "OK"),
        ("tags.a = `x`", "`x`"),
        ("span.name = llm", "llm"),
        ("feedback.k = yes", "yes"),
    ] {
        assert_eq!(
            error(filter),
            format!("Parameter value is either not quoted or unidentified quote types used for string value {value}. Use either single or double quotes."),
            "{filter}"
        );
    }
}

#[test]
fn string_attributes() {
    for comparator in ["=", "!=", "LIKE", "ILIKE", "RLIKE", "like", "rlike"] {
        for key in [
            "status",
            "request_id",
            "client_request_id",
            "name",
            "run_id",
        ] {
            let filter = format!("{key} {comparator} 'v'");
            assert_eq!(one(&filter).value, text("v"), "{filter}");
        }
    }
    assert_eq!(one("status RLIKE '^O'").comparator, C::RLike);
    assert_eq!(
        error("status = 1"),
        "Only the {'timestamp', 'timestamp_ms', 'execution_time', 'execution_time_ms', 'end_time', 'end_time_ms'} attributes support comparison with numeric values."
    );
    assert_eq!(
        error("status > 'a'"),
        "Invalid comparator '>' for attribute 'status'. Valid comparators are {'=', '!=', 'LIKE', 'ILIKE', 'RLIKE', 'IN', 'NOT IN'}"
    );
    assert!(error("request_id IS NULL")
        .starts_with("Invalid comparator 'IS NULL' for attribute 'request_id'"));
}

#[test]
fn name_and_run_id_can_be_absent() {
    assert_eq!(
        one("name IS NULL"),
        clause(TraceKey::Name, C::IsNull, FilterValue::None)
    );
    assert_eq!(
        one("attributes.run_id is not null"),
        clause(TraceKey::RunId, C::IsNotNull, FilterValue::None)
    );
}

#[test]
fn in_lists() {
    let cases = [
        ("status IN ('OK', 'ERROR')", TraceKey::Status, C::In),
        ("request_id NOT IN ('tr-1')", TraceKey::RequestId, C::NotIn),
        (
            "client_request_id in ('c')",
            TraceKey::ClientRequestId,
            C::In,
        ),
        ("name IN ('a','b')", TraceKey::Name, C::In),
        ("run_id not in ('r')", TraceKey::RunId, C::NotIn),
        ("span.name IN ('a')", TraceKey::SpanName, C::In),
        (
            "span.type NOT IN ('LLM', \"TOOL\")",
            TraceKey::SpanType,
            C::NotIn,
        ),
        ("span.status IN ('ERROR')", TraceKey::SpanStatus, C::In),
    ];
    for (filter, key, comparator) in cases {
        let parsed = one(filter);
        assert_eq!(
            (parsed.key, parsed.comparator),
            (key, comparator),
            "{filter}"
        );
        assert!(matches!(parsed.value, FilterValue::TextList(ref items) if !items.is_empty()));
    }
    assert_eq!(
        one("status IN ('OK','ERROR')").value,
        texts(&["OK", "ERROR"])
    );
    // A trailing comma is fine, as in the Python tuple MLflow reads the list as.
    assert_eq!(one("status IN ('OK',)").value, texts(&["OK"]));
}

#[test]
fn list_errors() {
    let cases = [
        (
            "status IN ()",
            "While parsing a list in the query, expected a non-empty list of string values, but got empty list",
        ),
        (
            "status IN ('a',,)",
            "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list.",
        ),
        (
            "status IN ('a' 'b')",
            "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list.",
        ),
        (
            "status IN (('a'))",
            "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list.",
        ),
        (
            "status IN ('a'",
            "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list.",
        ),
        (
            "status IN (1, 'a')",
            "While parsing a list in the query, expected string value, punctuation, or whitespace, but got different type in list: (1, 'a')",
        ),
        (
            "status IN 'OK'",
            "Expected a parenthesized list of values after 'IN', e.g. ('a', 'b'). Got value 'OK'",
        ),
        (
            "status = ('OK')",
            "A list of values can only be compared with 'IN' or 'NOT IN', not '='",
        ),
        (
            "span.name LIKE ('a')",
            "A list of values can only be compared with 'IN' or 'NOT IN', not 'LIKE'",
        ),
        (
            "timestamp_ms = ('1')",
            "Only attributes in {'name', 'status', 'request_id', 'run_id', 'client_request_id'} support comparison with a list of quoted string values.",
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(error(filter), expected, "{filter}");
    }
    // Keys that never take lists reject IN as a comparator.
    for filter in [
        "tags.a IN ('x')",
        "metadata.a NOT IN ('x')",
        "timestamp_ms IN ('1')",
        "text IN ('x')",
        "span.attributes.a IN ('x')",
        "span.content IN ('x')",
        "feedback.a IN ('x')",
        "issue.id IN ('x')",
    ] {
        assert!(
            error(filter).starts_with("Invalid comparator 'IN'")
                || error(filter).starts_with("Invalid comparator 'NOT IN'"),
            "{filter}: {}",
            error(filter)
        );
    }
}

#[test]
fn time_keys_take_numbers() {
    let cases = [
        (
            "timestamp_ms > 1700000000000",
            C::Gt,
            FilterValue::Integer(1_700_000_000_000),
        ),
        ("timestamp >= -5", C::GtEq, FilterValue::Integer(-5)),
        ("execution_time_ms < 1.5", C::Lt, FilterValue::Number(1.5)),
        (
            "execution_time <= 2e3",
            C::LtEq,
            FilterValue::Number(2000.0),
        ),
        ("end_time = 10", C::Eq, FilterValue::Integer(10)),
        ("end_time_ms != .5", C::NotEq, FilterValue::Number(0.5)),
        (
            "timestamp_ms > '1700000000000'",
            C::Gt,
            FilterValue::Integer(1_700_000_000_000),
        ),
        ("timestamp_ms > \" 12 \"", C::Gt, FilterValue::Integer(12)),
        ("timestamp_ms < '1.25'", C::Lt, FilterValue::Number(1.25)),
        ("timestamp_ms>5", C::Gt, FilterValue::Integer(5)),
        (
            "timestamp_ms < 99999999999999999999",
            C::Lt,
            FilterValue::Number(99_999_999_999_999_999_999.0),
        ),
    ];
    for (filter, comparator, value) in cases {
        let parsed = one(filter);
        assert_eq!(
            (parsed.comparator, parsed.value),
            (comparator, value),
            "{filter}"
        );
    }
}

#[test]
fn time_key_errors() {
    let cases = [
        ("timestamp_ms > 'abc'", "Expected numeric value type for numeric attribute: timestamp_ms. Found 'abc'"),
        ("timestamp > 1e400", "Expected numeric value type for numeric attribute: timestamp. Found 1e400"),
        ("timestamp > 'NaN'", "Expected numeric value type for numeric attribute: timestamp. Found 'NaN'"),
        ("timestamp > 'inf'", "Expected numeric value type for numeric attribute: timestamp. Found 'inf'"),
        ("end_time > now", "Expected numeric value type for numeric attribute: end_time. Found now"),
        ("timestamp_ms > 1abc", "Expected numeric value type for numeric attribute: timestamp_ms. Found 1abc"),
        (
            "timestamp_ms LIKE '1%'",
            "Invalid comparator 'LIKE' for attribute 'timestamp_ms'. Valid comparators are {'=', '!=', '<', '<=', '>', '>='}",
        ),
        (
            "execution_time IS NULL",
            "Invalid comparator 'IS NULL' for attribute 'execution_time'. Valid comparators are {'=', '!=', '<', '<=', '>', '>='}",
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(error(filter), expected, "{filter}");
    }
}

#[test]
fn full_text_search() {
    assert_eq!(
        one("text ILIKE '%hello%'"),
        clause(TraceKey::Text, C::ILike, text("%hello%"))
    );
    assert_eq!(one("trace.text LIKE '%x%'").comparator, C::Like);
    assert_eq!(
        error("text = 'x'"),
        "Invalid comparator '=' for attribute 'text'. Valid comparators are {'LIKE', 'ILIKE'}"
    );
    assert!(error("text RLIKE 'x'").starts_with("Invalid comparator 'RLIKE'"));
}

#[test]
fn prompts() {
    assert_eq!(
        one("prompt = 'qa/3'"),
        clause(TraceKey::Prompt, C::Eq, text("qa/3"))
    );
    assert_eq!(one("prompt = \"my prompt/1\"").value, text("my prompt/1"));
    for filter in [
        "prompt != 'qa/3'",
        "prompt LIKE 'qa/%'",
        "prompt IN ('qa/3')",
    ] {
        assert!(
            error(filter).ends_with("for prompts filter. Only '=' is supported with format: prompt = \"name/version\""),
            "{filter}"
        );
    }
    assert_eq!(
        error("prompt = 'qa'"),
        "Invalid prompts filter value 'qa'. Expected format: prompt = \"name/version\""
    );
    assert!(error("prompt = 'a/b/c'").starts_with("Invalid prompts filter value 'a/b/c'"));
}

#[test]
fn tags_and_metadata() {
    for entity in ["tags", "tag", "metadata", "request_metadata"] {
        for comparator in ["=", "!=", "LIKE", "ILIKE", "RLIKE"] {
            let filter = format!("{entity}.k {comparator} 'v'");
            assert_eq!(one(&filter).value, text("v"), "{filter}");
        }
        for (written, comparator) in [("IS NULL", C::IsNull), ("is not null", C::IsNotNull)] {
            let filter = format!("{entity}.k {written}");
            let parsed = one(&filter);
            assert_eq!(
                (parsed.comparator, parsed.value),
                (comparator, FilterValue::None),
                "{filter}"
            );
        }
    }
    assert_eq!(
        error("tags.k > 'v'"),
        "Invalid comparator '>' for tag 'k'. Valid comparators are {'=', '!=', 'LIKE', 'ILIKE', 'RLIKE', 'IS NULL', 'IS NOT NULL'}"
    );
    assert_eq!(
        error("tags.k = 1"),
        "Expected a quoted string value for tag (e.g. 'my-value'). Got value 1"
    );
    assert_eq!(
        error("metadata.k = 1.5"),
        "Expected a quoted string value for request_metadata (e.g. 'my-value'). Got value 1.5"
    );
    assert!(error("metadata.k < 'v'")
        .starts_with("Invalid comparator '<' for request_metadata 'k'"));
}

#[test]
fn reserved_metadata_is_kept_as_written() {
    assert_eq!(
        one("request_metadata.mlflow.trace.session = 's-1'"),
        clause(metadata("mlflow.trace.session"), C::Eq, text("s-1"))
    );
    assert_eq!(
        one("request_metadata.mlflow.trace.session ILIKE '%s%'").comparator,
        C::ILike
    );
    assert_eq!(
        one("metadata.mlflow.sourceRun = 'r'"),
        clause(metadata("mlflow.sourceRun"), C::Eq, text("r"))
    );
    assert_eq!(
        one("tags.mlflow.traceName IS NULL"),
        clause(tag("mlflow.traceName"), C::IsNull, FilterValue::None)
    );
}

#[test]
fn token_usage_and_cost_match_whole_json_only() {
    for key in ["mlflow.trace.tokenUsage", "mlflow.trace.cost"] {
        for comparator in ["=", "!="] {
            let filter = format!("metadata.`{key}` {comparator} '{{\"input_tokens\": 1}}'");
            assert_eq!(one(&filter).key, metadata(key), "{filter}");
        }
        assert_eq!(
            one(&format!("metadata.{key} IS NULL")).comparator,
            C::IsNull
        );
        assert_eq!(
            one(&format!("metadata.{key} IS NOT NULL")).comparator,
            C::IsNotNull
        );
        for comparator in ["LIKE", "ILIKE", "RLIKE"] {
            assert_eq!(
                error(&format!("request_metadata.{key} {comparator} '%1%'")),
                format!("Comparator '{comparator}' is not supported for reserved metadata '{key}'. Only '=', '!=', 'IS NULL', and 'IS NOT NULL' are supported.")
            );
        }
    }
    // Only the exact keys are restricted; tags of the same name are ordinary.
    assert_eq!(one("tags.mlflow.trace.cost LIKE '%1%'").comparator, C::Like);
}

#[test]
fn span_columns() {
    for (key, expected) in [
        ("name", TraceKey::SpanName),
        ("type", TraceKey::SpanType),
        ("status", TraceKey::SpanStatus),
    ] {
        for comparator in ["=", "!=", "LIKE", "ILIKE", "RLIKE"] {
            let filter = format!("span.{key} {comparator} 'v'");
            assert_eq!(
                one(&filter),
                clause(expected.clone(), one(&filter).comparator, text("v")),
                "{filter}"
            );
        }
        assert!(error(&format!("span.{key} IS NULL")).starts_with(&format!(
            "Invalid comparator 'IS NULL' for 'span.{key}'. Valid comparators are"
        )));
    }
    assert_eq!(
        error("span.name = 1"),
        "Expected a quoted string value for span (e.g. 'my-value'). Got value 1"
    );
}

#[test]
fn span_content() {
    assert_eq!(
        one("span.content ILIKE '%foo%'"),
        clause(TraceKey::SpanContent, C::ILike, text("%foo%"))
    );
    assert_eq!(one("span.content LIKE '%foo%'").comparator, C::Like);
    assert_eq!(
        error("span.content = 'x'"),
        "Invalid comparator '=' for 'span.content'. Valid comparators are {'LIKE', 'ILIKE'}"
    );
}

#[test]
fn span_attributes_support_equality_and_patterns() {
    let cases = [
        (
            "span.attributes.`gen_ai.request.model` = 'gpt-4'",
            C::Eq,
            "gpt-4",
        ),
        ("span.attributes.model != 'gpt-4'", C::NotEq, "gpt-4"),
        ("span.attributes.model LIKE '%gpt%'", C::Like, "%gpt%"),
        ("span.attributes.model ILIKE '%GPT%'", C::ILike, "%GPT%"),
        (
            "span.attributes.model RLIKE '^gpt-[0-9]$'",
            C::RLike,
            "^gpt-[0-9]$",
        ),
    ];
    for (filter, comparator, value) in cases {
        let parsed = one(filter);
        assert_eq!(
            (parsed.comparator, parsed.value),
            (comparator, text(value)),
            "{filter}"
        );
    }
    assert_eq!(
        error("span.attributes.model > 'a'"),
        "Invalid comparator '>' for 'span.attributes.model'. Valid comparators are {'=', '!=', 'LIKE', 'ILIKE', 'RLIKE'}"
    );
    assert!(error("span.attributes.model IS NOT NULL")
        .starts_with("Invalid comparator 'IS NOT NULL'"));
    assert_eq!(
        error("span.attributes.n = 3"),
        "Expected a quoted string value for span (e.g. 'my-value'). Got value 3"
    );
}

#[test]
fn assessments() {
    let cases = [
        ("feedback.correctness = 'yes'", C::Eq, text("yes")),
        ("feedback.`correctness` != \"no\"", C::NotEq, text("no")),
        ("feedback.score > 0.5", C::Gt, FilterValue::Number(0.5)),
        ("feedback.score >= -1", C::GtEq, FilterValue::Number(-1.0)),
        ("expectation.score < 3", C::Lt, FilterValue::Number(3.0)),
        (
            "expectation.score <= 1e2",
            C::LtEq,
            FilterValue::Number(100.0),
        ),
        ("feedback.x LIKE '%a%'", C::Like, text("%a%")),
        ("feedback.x ILIKE '%a%'", C::ILike, text("%a%")),
        ("expectation.x RLIKE 'a+'", C::RLike, text("a+")),
        ("feedback.x IS NULL", C::IsNull, FilterValue::None),
        ("expectation.x IS NOT NULL", C::IsNotNull, FilterValue::None),
        ("feedback.flag = 'true'", C::Eq, text("true")),
    ];
    for (filter, comparator, value) in cases {
        let parsed = one(filter);
        assert_eq!(
            (parsed.comparator, parsed.value),
            (comparator, value),
            "{filter}"
        );
    }
    let errors = [
        (
            "feedback.score > '0.5'",
            "Expected a numeric value for feedback when using comparator '>'. Got value '0.5'",
        ),
        (
            "expectation.score <= x",
            "Expected a numeric value for expectation when using comparator '<='. Got value x",
        ),
        (
            "feedback.score > 1e999",
            "Expected a numeric value for feedback when using comparator '>'. Got value 1e999",
        ),
        (
            "feedback.score = 5",
            "Expected a quoted string value for feedback (e.g. 'my-value'). Got value 5",
        ),
        (
            "feedback.score <> 'a'",
            "Invalid comparator '<>' for feedback 'score'. Valid comparators are {'=', '!=', '<', '<=', '>', '>=', 'LIKE', 'ILIKE', 'RLIKE', 'IS NULL', 'IS NOT NULL'}",
        ),
    ];
    for (filter, expected) in errors {
        assert_eq!(error(filter), expected, "{filter}");
    }
}

#[test]
fn issues() {
    assert_eq!(
        one("issue.id = 'iss-1'"),
        clause(TraceKey::IssueId, C::Eq, text("iss-1"))
    );
    assert_eq!(
        error("issue.id != 'iss-1'"),
        "Invalid comparator '!=' for 'issue.id'. Valid comparators are {'='}"
    );
    assert_eq!(
        error("issue.id = 1"),
        "Expected a quoted string value for issue (e.g. 'my-value'). Got value 1"
    );
}

#[test]
fn unsupported_comparators_are_named() {
    for (filter, op) in [
        ("tags.a <> 'x'", "<>"),
        ("tags.a == 'x'", "=="),
        ("tags.a NOT LIKE 'x'", "NOT LIKE"),
        ("tags.a not ilike 'x'", "NOT ILIKE"),
        ("tags.a NOT RLIKE 'x'", "NOT RLIKE"),
        ("tags.a REGEXP 'x'", "REGEXP"),
        ("tags.a =! 'x'", "=!"),
    ] {
        assert!(
            error(filter).starts_with(&format!("Invalid comparator '{op}' for tag 'a'")),
            "{filter}: {}",
            error(filter)
        );
    }
}

#[test]
fn filters_the_mlflow_ui_and_client_send() {
    let filters = [
        "attributes.status = 'OK'",
        "attributes.execution_time_ms > 1000",
        "attributes.timestamp_ms > 1700000000000 AND attributes.timestamp_ms < 1800000000000",
        "attributes.name ILIKE '%chat%'",
        "attributes.run_id = 'abc123'",
        "attributes.request_id = 'tr-0123456789abcdef0123456789abcdef'",
        "trace.text ILIKE '%hello%'",
        "request_metadata.\"mlflow.trace.user\" = 'alice'",
        "request_metadata.mlflow.trace.session ILIKE '%s%'",
        "request_metadata.\"mlflow.source.name\" ILIKE '%nb%'",
        "request_metadata.\"mlflow.modelId\" = 'm-1'",
        "request_metadata.`mlflow.source.git.branch` IS NOT NULL",
        "tags.`mlflow.traceName` = 'x'",
        "tags.plain != 'x'",
        "span.name ILIKE 'retrieve'",
        "span.type = 'LLM'",
        "span.status = 'ERROR'",
        "span.content ILIKE '%input%'",
        "feedback.`correctness` = 'yes'",
        "feedback.`relevance` IS NULL",
        "feedback.`score` >= 0.8",
        "expectation.`expected_response` = 'Paris'",
        "prompt = 'qa-prompt/2'",
        "issue.id = 'issue-123'",
    ];
    for filter in filters {
        assert_eq!(
            clauses(filter).len(),
            filter.matches(" AND ").count() + 1,
            "{filter}"
        );
    }
}

// --- order_by -----------------------------------------------------------------------------

#[test]
fn default_order_is_newest_first_then_request_id() {
    assert_eq!(
        order_by(&[]).unwrap(),
        vec![
            order(TraceOrderKey::TimestampMs, false),
            order(TraceOrderKey::RequestId, true)
        ]
    );
}

#[test]
fn order_by_keys_and_aliases() {
    let cases = [
        ("experiment_id", TraceOrderKey::ExperimentId, true),
        ("timestamp DESC", TraceOrderKey::TimestampMs, false),
        ("timestamp_ms asc", TraceOrderKey::TimestampMs, true),
        (
            "attributes.timestamp_ms DESC",
            TraceOrderKey::TimestampMs,
            false,
        ),
        ("execution_time", TraceOrderKey::ExecutionTimeMs, true),
        (
            "trace.execution_time_ms DeSc",
            TraceOrderKey::ExecutionTimeMs,
            false,
        ),
        ("end_time", TraceOrderKey::EndTimeMs, true),
        ("end_time_ms DESC", TraceOrderKey::EndTimeMs, false),
        ("status", TraceOrderKey::Status, true),
        ("request_id DESC", TraceOrderKey::RequestId, false),
        ("name", TraceOrderKey::Name, true),
        ("run_id", TraceOrderKey::RunId, true),
        ("tags.k", TraceOrderKey::Tag("k".to_owned()), true),
        (
            "tag.`a.b` DESC",
            TraceOrderKey::Tag("a.b".to_owned()),
            false,
        ),
        ("tags.mlflow.traceName DESC", TraceOrderKey::Name, false),
        ("metadata.k", TraceOrderKey::Metadata("k".to_owned()), true),
        (
            "request_metadata.\"mlflow.trace.user\" DESC",
            TraceOrderKey::Metadata("mlflow.trace.user".to_owned()),
            false,
        ),
        (
            "request_metadata.mlflow.trace.session",
            TraceOrderKey::Metadata("mlflow.trace.session".to_owned()),
            true,
        ),
        ("metadata.mlflow.sourceRun", TraceOrderKey::RunId, true),
        ("  timestamp_ms   DESC ", TraceOrderKey::TimestampMs, false),
    ];
    for (element, key, ascending) in cases {
        assert_eq!(order_keys(&[element]), vec![(key, ascending)], "{element}");
    }
}

#[test]
fn tie_breakers_are_appended_unless_given() {
    assert_eq!(
        order_by(&["name"]).unwrap(),
        vec![
            order(TraceOrderKey::Name, true),
            order(TraceOrderKey::TimestampMs, false),
            order(TraceOrderKey::RequestId, true)
        ]
    );
    assert_eq!(
        order_by(&["timestamp ASC"]).unwrap(),
        vec![
            order(TraceOrderKey::TimestampMs, true),
            order(TraceOrderKey::RequestId, true)
        ]
    );
    assert_eq!(
        order_by(&["request_id DESC", "timestamp_ms"]).unwrap(),
        vec![
            order(TraceOrderKey::RequestId, false),
            order(TraceOrderKey::TimestampMs, true)
        ]
    );
}

#[test]
fn duplicate_order_by_keys_are_a_400() {
    for elements in [
        &["timestamp", "timestamp_ms DESC"],
        &["name", "tags.mlflow.traceName"],
        &["run_id", "metadata.mlflow.sourceRun"],
        &["tags.a", "tag.`a`"],
        &["status", "status DESC"],
    ] {
        let quoted: Vec<String> = elements.iter().map(|e| format!("'{e}'")).collect();
        assert_eq!(
            message(order_by(elements)),
            format!(
                "`order_by` contains duplicate fields: [{}]",
                quoted.join(", ")
            ),
            "{elements:?}"
        );
    }
    // The same name under different entities is not a duplicate.
    assert_eq!(order_keys(&["tags.a", "metadata.a"]).len(), 2);
}

#[test]
fn order_by_errors() {
    let cases = [
        ("", "Invalid order_by clause ''. Could not be parsed."),
        ("timestamp DESC name", "Invalid order_by clause 'timestamp DESC name'. Could not be parsed."),
        ("timestamp, name", "Invalid order_by clause 'timestamp, name'. Could not be parsed."),
        ("'name'", "Invalid order_by clause ''name''. Could not be parsed."),
        ("tags.`a", "Invalid order_by clause 'tags.`a'. Could not be parsed."),
        ("timestamp UP", "Invalid ordering key in order_by clause 'timestamp UP'."),
        (
            "client_request_id",
            "Invalid attribute key 'client_request_id' specified. Valid keys are '{'experiment_id', 'request_id', 'status', 'timestamp', 'timestamp_ms', 'execution_time', 'execution_time_ms', 'end_time', 'end_time_ms', 'name', 'run_id'}'",
        ),
        (
            "metadata.mlflow.trace.tokenUsage",
            "Ordering by reserved metadata 'mlflow.trace.tokenUsage' is not supported because it is represented by multiple columns.",
        ),
        (
            "request_metadata.`mlflow.trace.cost` DESC",
            "Ordering by reserved metadata 'mlflow.trace.cost' is not supported because it is represented by multiple columns.",
        ),
        (
            "span.name",
            "Invalid order_by entity 'span' with key 'name'. Traces can be ordered by attributes, tags and request_metadata only.",
        ),
        (
            "feedback.score DESC",
            "Invalid order_by entity 'feedback' with key 'score'. Traces can be ordered by attributes, tags and request_metadata only.",
        ),
        ("params.x", "Invalid entity type 'params'. Valid values are {'attribute', 'attributes', 'trace', 'tag', 'tags', 'request_metadata', 'metadata', 'span', 'feedback', 'expectation', 'issue'}"),
    ];
    for (element, expected) in cases {
        assert_eq!(message(order_by(&[element])), expected, "{element}");
    }
}

// --- Properties ---------------------------------------------------------------------------

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
        let mut masks = masks.into_iter();
        let restyled: Vec<String> = template
            .split(' ')
            .map(|word| {
                if !word.chars().all(|c| c.is_ascii_uppercase()) {
                    return word.to_owned();
                }
                let mask = masks.next().unwrap_or(0);
                word.chars()
                    .enumerate()
                    .map(|(i, c)| if mask >> i & 1 == 1 { c } else { c.to_ascii_lowercase() })
                    .collect()
            })
            .collect();
        let restyled = restyled.join(" ");
        let expected = parse_trace_filter(template).unwrap();
        prop_assert_eq!(expected.len(), 6);
        prop_assert_eq!(parse_trace_filter(&restyled), Ok(expected), "{}", restyled);
    }
}

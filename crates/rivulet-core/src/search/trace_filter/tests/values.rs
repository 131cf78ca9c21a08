//! Each trace key's comparators and values, with MLflow's messages for the wrong ones.

use super::*;

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

//! Conjunctions, entities and keys, and the syntax errors every trace filter can hit.

use super::*;

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

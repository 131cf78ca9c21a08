//! Tests of the run and experiment search grammar: every rule, MLflow's messages, and no panics on any input.

use super::*;
use crate::ErrorCode;
use proptest::prelude::*;

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

// --- Conjunctions -------------------------------------------------------------------------

#[test]
fn empty_and_blank_filters_are_empty_conjunctions() {
    for filter in ["", " ", "\t\n  "] {
        assert_eq!(parse_run_filter(filter).unwrap(), vec![]);
        assert_eq!(parse_experiment_filter(filter).unwrap(), vec![]);
    }
}

#[test]
fn clauses_are_joined_by_case_insensitive_and() {
    let parsed = parse_run_filter(
        "metrics.a > 1 and params.b = 'x' AND tags.c != 'y' And status = 'RUNNING'",
    )
    .unwrap();
    assert_eq!(
        parsed,
        vec![
            clause(metric("a"), Comparator::Gt, FilterValue::Number(1.0)),
            clause(param("b"), Comparator::Eq, text("x")),
            clause(tag("c"), Comparator::NotEq, text("y")),
            clause(
                RunKey::Attribute(RunAttribute::Status),
                Comparator::Eq,
                text("RUNNING")
            ),
        ]
    );
}

#[test]
fn whitespace_is_optional_around_operators_and_and() {
    assert_eq!(
        parse_run_filter("params.x='a'AND params.y=\"b\"").unwrap(),
        vec![
            clause(param("x"), Comparator::Eq, text("a")),
            clause(param("y"), Comparator::Eq, text("b"))
        ]
    );
    assert_eq!(
        parse_run_filter("metrics.a>=1\tand\nmetrics.b<=2").unwrap(),
        vec![
            clause(metric("a"), Comparator::GtEq, FilterValue::Number(1.0)),
            clause(metric("b"), Comparator::LtEq, FilterValue::Number(2.0)),
        ]
    );
}

#[test]
fn stray_ands_are_ignored_like_mlflow() {
    let expected = vec![clause(
        metric("a"),
        Comparator::Eq,
        FilterValue::Number(1.0),
    )];
    for filter in [
        "metrics.a = 1 AND",
        "AND metrics.a = 1",
        "and metrics.a = 1 AND AND",
    ] {
        assert_eq!(parse_run_filter(filter).unwrap(), expected, "{filter}");
    }
    assert_eq!(parse_run_filter("AND").unwrap(), vec![]);
}

#[test]
fn the_same_key_may_appear_in_several_clauses() {
    assert_eq!(
        parse_run_filter("metrics.a > 1 AND metrics.a < 2")
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn or_not_and_grouping_are_rejected() {
    let cases = [
        ("metrics.a = 1 OR params.b = 'x'", "Invalid clause(s) in filter string: 'OR'"),
        ("metrics.a = 1 or params.b = 'x'", "Invalid clause(s) in filter string: 'or'"),
        ("NOT metrics.a = 1", "Invalid clause(s) in filter string: 'NOT'"),
        ("(metrics.a = 1)", "Invalid clause(s) in filter string: '(metrics.a = 1)'"),
        (
            "metrics.a = 1 AND (params.b = 'x' AND (tags.c = 'y'))",
            "Invalid clause(s) in filter string: '(params.b = 'x' AND (tags.c = 'y'))'",
        ),
        ("(metrics.a = 1", "Invalid clause(s) in filter string: '(metrics.a = 1'"),
        ("metrics.a = 1;", "Invalid clause(s) in filter string: ';'"),
        (
            "metrics.a = 1; metrics.b = 2",
            "Search filter contained multiple expression 'metrics.a = 1; metrics.b = 2'. Provide AND-ed expression list.",
        ),
        ("metrics.a = 1 -- comment", "Invalid clause(s) in filter string: '--'"),
        ("params.x = 'a' && params.y = 'b'", "Invalid clause(s) in filter string: '&&'"),
        ("params.x = 'a' 'b'", "Invalid clause(s) in filter string: ''b''"),
        ("metrics.a = 1 metrics.b = 2", "Invalid clause(s) in filter string: 'metrics.b'"),
    ];
    for (filter, expected) in cases {
        assert_eq!(run_error(filter), expected, "{filter}");
    }
}

#[test]
fn incomplete_clauses_are_rejected() {
    let cases = [
        (
            "metrics.a",
            "Invalid clause(s) in filter string: 'metrics.a'",
        ),
        (
            "metrics.a =",
            "Invalid clause(s) in filter string: 'metrics.a ='",
        ),
        (
            "metrics.a = ",
            "Invalid clause(s) in filter string: 'metrics.a ='",
        ),
        ("= 1", "Invalid clause(s) in filter string: '='"),
        (
            "params.x y = 'a'",
            "Invalid clause(s) in filter string: 'params.x y'",
        ),
        (
            "params.x IS 'a'",
            "Invalid clause(s) in filter string: 'params.x IS'",
        ),
        (
            "params.x IS NOT 'a'",
            "Invalid clause(s) in filter string: 'params.x IS NOT'",
        ),
        (
            "params.x NOT = 'a'",
            "Invalid clause(s) in filter string: 'params.x NOT ='",
        ),
        (
            "metrics.a = -",
            "Invalid clause(s) in filter string: 'metrics.a = -'",
        ),
        (
            "metrics.a = +1",
            "Invalid clause(s) in filter string: 'metrics.a = +1'",
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
            "params. x = 'a'",
            "Invalid clause(s) in filter string: 'params. x'",
        ),
        (
            "'Run Name' = 'a'",
            "Invalid comparison clause. Expected 'Identifier' found ''Run Name''",
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(run_error(filter), expected, "{filter}");
    }
}

#[test]
fn unterminated_quotes_are_rejected() {
    assert_eq!(
        run_error("params.x = 'a"),
        "Invalid filter 'params.x = 'a'. Could not be parsed: the quote at character 12 is never closed."
    );
    assert!(run_error("tags.`a = 'x").contains("character 6 is never closed"));
    assert!(experiment_error("name = \"x").contains("never closed"));
}

// --- Identifiers --------------------------------------------------------------------------

#[test]
fn every_prefix_alias() {
    let cases = [
        ("metric.k = 1", metric("k")),
        ("metrics.k = 1", metric("k")),
        ("param.k = 'v'", param("k")),
        ("params.k = 'v'", param("k")),
        ("parameter.k = 'v'", param("k")),
        ("parameters.k = 'v'", param("k")),
        ("tag.k = 'v'", tag("k")),
        ("tags.k = 'v'", tag("k")),
        (
            "attribute.status = 'v'",
            RunKey::Attribute(RunAttribute::Status),
        ),
        (
            "attributes.status = 'v'",
            RunKey::Attribute(RunAttribute::Status),
        ),
        ("attr.status = 'v'", RunKey::Attribute(RunAttribute::Status)),
        ("run.status = 'v'", RunKey::Attribute(RunAttribute::Status)),
        ("status = 'v'", RunKey::Attribute(RunAttribute::Status)),
        ("dataset.name = 'v'", RunKey::Dataset(DatasetField::Name)),
        ("datasets.name = 'v'", RunKey::Dataset(DatasetField::Name)),
        ("`metrics`.k = 1", metric("k")),
        ("`params`.`k` = 'v'", param("k")),
    ];
    for (filter, key) in cases {
        assert_eq!(run_clause_of(filter).key, key, "{filter}");
    }
}

#[test]
fn only_the_first_dot_splits() {
    assert_eq!(run_clause_of("metrics.a.b = 1").key, metric("a.b"));
    assert_eq!(
        run_clause_of("tags.mlflow.source.git.commit = 'x'").key,
        tag("mlflow.source.git.commit")
    );
    assert_eq!(run_clause_of("params..x = 'a'").key, param(".x"));
    assert_eq!(run_clause_of("params.x. = 'a'").key, param("x."));
}

#[test]
fn quoted_keys() {
    let cases = [
        ("metrics.`my metric` >= 2", metric("my metric")),
        ("metrics.\"my metric\" >= 2", metric("my metric")),
        ("metrics.'my metric' >= 2", metric("my metric")),
        ("tags.`a.b` = 'x'", tag("a.b")),
        ("tags.\"mlflow.runName\" = 'x'", tag("mlflow.runName")),
        ("params.`x-y/z` = 'a'", param("x-y/z")),
        ("params.'x y' = 'a'", param("x y")),
        ("`params`.`x y` = 'a'", param("x y")),
        ("tags.`` = 'x'", tag("")),
        ("params.é = 'a'", param("é")),
        ("metrics.1a = 1", metric("1a")),
    ];
    for (filter, key) in cases {
        assert_eq!(run_clause_of(filter).key, key, "{filter}");
    }
}

#[test]
fn invalid_entity_types() {
    let expected = |entity: &str| {
        format!("Invalid entity type '{entity}'. Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']")
    };
    assert_eq!(run_error("foo.status = 'x'"), expected("foo"));
    // Prefixes are case-sensitive, as in MLflow.
    assert_eq!(run_error("METRICS.a = 1"), expected("METRICS"));
    assert_eq!(run_error("Metrics.a = 1"), expected("Metrics"));
    assert_eq!(run_error("\"params\".x = 'a'"), expected("\"params\""));
    assert_eq!(
        message(parse_run_order_by(&order_by(&["foo.x"]))),
        expected("foo")
    );
}

// --- Metrics ------------------------------------------------------------------------------

#[test]
fn metric_values_are_numbers() {
    let cases = [
        ("0.1", 0.1),
        ("-1e5", -1e5),
        ("1.", 1.0),
        (".5", 0.5),
        ("-.5", -0.5),
        ("01", 1.0),
        ("1.5e-3", 1.5e-3),
        ("1.5E+3", 1500.0),
    ];
    for (literal, number) in cases {
        let filter = format!("metrics.acc > {literal}");
        assert_eq!(
            run_clause_of(&filter).value,
            FilterValue::Number(number),
            "{filter}"
        );
    }
}

#[test]
fn metric_comparators() {
    for (op, comparator) in [
        ("=", Comparator::Eq),
        ("!=", Comparator::NotEq),
        ("<", Comparator::Lt),
        ("<=", Comparator::LtEq),
        (">", Comparator::Gt),
        (">=", Comparator::GtEq),
    ] {
        assert_eq!(
            run_clause_of(&format!("metrics.m {op} 1")).comparator,
            comparator
        );
    }
    let set = "{'=', '!=', '<', '<=', '>', '>='}";
    for (op, shown) in [
        ("<>", "<>"),
        ("==", "=="),
        ("LIKE", "LIKE"),
        ("like", "LIKE"),
        ("ILIKE", "ILIKE"),
    ] {
        assert_eq!(
            run_error(&format!("metrics.m {op} 1")),
            format!("Invalid comparator '{shown}' not one of '{set}'"),
            "{op}"
        );
    }
}

#[test]
fn metric_value_errors() {
    let cases = [
        (
            "metrics.acc > '0.1'",
            "Expected numeric value type for metric. Found '0.1'",
        ),
        (
            "metrics.acc > \"1\"",
            "Expected numeric value type for metric. Found \"1\"",
        ),
        (
            "metrics.a = 1abc",
            "Expected numeric value type for metric. Found 1abc",
        ),
        (
            "metrics.a = 1_000",
            "Expected numeric value type for metric. Found 1_000",
        ),
        (
            "metrics.a = nan",
            "Expected numeric value type for metric. Found nan",
        ),
        (
            "metrics.a IN (1)",
            "Expected numeric value type for metric. Found (1)",
        ),
        (
            "metrics.a NOT IN ('a', 'b')",
            "Expected numeric value type for metric. Found ('a', 'b')",
        ),
        (
            "metrics.x IS NULL",
            "IS NULL / IS NOT NULL is only supported for tags and params, not for 'metric' 'x'",
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(run_error(filter), expected, "{filter}");
    }
}

// --- Params and tags ----------------------------------------------------------------------

#[test]
fn param_and_tag_comparators() {
    for (prefix, key) in [("params", param("x")), ("tags", tag("x"))] {
        for (op, comparator) in [
            ("=", Comparator::Eq),
            ("!=", Comparator::NotEq),
            ("LIKE", Comparator::Like),
            ("like", Comparator::Like),
            ("ILIKE", Comparator::ILike),
            ("iLike", Comparator::ILike),
        ] {
            assert_eq!(
                run_clause_of(&format!("{prefix}.x {op} '%a_'")),
                clause(key.clone(), comparator, text("%a_"))
            );
        }
        for (op, comparator) in [
            ("IS NULL", Comparator::IsNull),
            ("is null", Comparator::IsNull),
            ("IS NOT NULL", Comparator::IsNotNull),
            ("Is Not Null", Comparator::IsNotNull),
        ] {
            assert_eq!(
                run_clause_of(&format!("{prefix}.x {op}")),
                clause(key.clone(), comparator, FilterValue::None)
            );
        }
        let set = "{'=', '!=', 'LIKE', 'ILIKE', 'IS NULL', 'IS NOT NULL'}";
        for (op, shown) in [
            (">", ">"),
            ("<=", "<="),
            ("NOT LIKE", "NOT LIKE"),
            ("rlike", "RLIKE"),
            ("<>", "<>"),
        ] {
            assert_eq!(
                run_error(&format!("{prefix}.x {op} 'a'")),
                format!("Invalid comparator '{shown}' not one of '{set}'")
            );
        }
    }
}

#[test]
fn param_and_tag_values_are_quoted_strings() {
    assert_eq!(run_clause_of("params.x = \"a\"").value, text("a"));
    assert_eq!(run_clause_of("params.x = ''").value, text(""));
    assert_eq!(run_clause_of("params.x = 'é ü'").value, text("é ü"));
    // Like MLflow, only the outer quotes are stripped: escapes stay verbatim.
    assert_eq!(run_clause_of("params.x = 'it''s'").value, text("it''s"));
    assert_eq!(run_clause_of(r"params.x = 'it\'s'").value, text(r"it\'s"));
    assert_eq!(
        run_clause_of(r"params.path = 'C:\dir\'").value,
        text(r"C:\dir\")
    );
    assert_eq!(run_clause_of("params.x = \"it's\"").value, text("it's"));

    let cases = [
        ("params.x = 1", "Expected a quoted string value for parameter (e.g. 'my-value'). Got value 1"),
        ("params.x LIKE 1", "Expected a quoted string value for parameter (e.g. 'my-value'). Got value 1"),
        ("tags.x = 1", "Expected a quoted string value for tag (e.g. 'my-value'). Got value 1"),
        ("params.x IN ('a')", "Expected a quoted string value for parameter (e.g. 'my-value'). Got value ('a')"),
        ("tags.a NOT IN ('a')", "Expected a quoted string value for tag (e.g. 'my-value'). Got value ('a')"),
        (
            "params.x = abc",
            "Parameter value is either not quoted or unidentified quote types used for string value abc. Use either single or double quotes.",
        ),
        (
            "params.x = `abc`",
            "Parameter value is either not quoted or unidentified quote types used for string value `abc`. Use either single or double quotes.",
        ),
        ("params.x IN 'a'", "Invalid comparator 'IN' not one of '{'=', '!=', 'LIKE', 'ILIKE', 'IS NULL', 'IS NOT NULL'}'"),
    ];
    for (filter, expected) in cases {
        assert_eq!(run_error(filter), expected, "{filter}");
    }
}

// --- Run attributes -----------------------------------------------------------------------

#[test]
fn string_attributes() {
    let cases = [
        ("run_id = 'abc'", RunAttribute::RunId),
        ("attributes.run_id = 'abc'", RunAttribute::RunId),
        ("run_name = 'abc'", RunAttribute::RunName),
        ("`Run name` = 'abc'", RunAttribute::RunName),
        ("\"Run Name\" = 'abc'", RunAttribute::RunName),
        ("attributes.`run name` = 'abc'", RunAttribute::RunName),
        ("attributes.\"Run Name\" = 'abc'", RunAttribute::RunName),
        ("attributes.'Run name' = 'abc'", RunAttribute::RunName),
        ("status = 'abc'", RunAttribute::Status),
        ("user_id = 'abc'", RunAttribute::UserId),
        ("artifact_uri = 'abc'", RunAttribute::ArtifactUri),
    ];
    for (filter, attribute) in cases {
        assert_eq!(
            run_clause_of(filter),
            clause(RunKey::Attribute(attribute), Comparator::Eq, text("abc")),
            "{filter}"
        );
    }
    assert_eq!(
        run_clause_of("status LIKE 'F%'").comparator,
        Comparator::Like
    );
    assert_eq!(
        run_clause_of("user_id ilike 'x%'").comparator,
        Comparator::ILike
    );
    assert_eq!(
        run_clause_of("run_name != 'x'").comparator,
        Comparator::NotEq
    );
}

#[test]
fn run_id_lists() {
    let run_id = RunKey::Attribute(RunAttribute::RunId);
    assert_eq!(
        run_clause_of("run_id IN ('a', 'b')"),
        clause(run_id.clone(), Comparator::In, texts(&["a", "b"]))
    );
    assert_eq!(
        run_clause_of("run_id in ('a', \"b\")"),
        clause(run_id.clone(), Comparator::In, texts(&["a", "b"]))
    );
    assert_eq!(
        run_clause_of("run_id NOT IN ('a')"),
        clause(run_id.clone(), Comparator::NotIn, texts(&["a"]))
    );
    assert_eq!(
        run_clause_of("run_id not  in('a')"),
        clause(run_id.clone(), Comparator::NotIn, texts(&["a"]))
    );
    assert_eq!(
        run_clause_of("run_id IN ('a',)"),
        clause(run_id.clone(), Comparator::In, texts(&["a"]))
    );
    assert_eq!(
        parse_run_filter("run_id IN ('a') AND status = 'x'").unwrap()[0],
        clause(run_id, Comparator::In, texts(&["a"]))
    );
}

#[test]
fn list_errors() {
    let cases = [
        ("run_id IN ()", "While parsing a list in the query, expected a non-empty list of string values, but got empty list"),
        ("run_id IN (,)", "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list."),
        ("run_id IN ('a' 'b')", "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list."),
        ("run_id IN ('a', ('b'))", "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list."),
        ("run_id IN ('a', b)", "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list."),
        ("run_id IN ('a'", "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list."),
        ("run_id IN ('a',,)", "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list."),
        (
            "run_id IN (1, 2)",
            "While parsing a list in the query, expected string value, punctuation, or whitespace, but got different type in list: (1, 2)",
        ),
        ("status IN ('a')", "Only ['run_id'] attributes support comparison with a list of quoted string values."),
        ("run_id IN 'a'", "Expected a parenthesized list of values after 'IN', e.g. ('a', 'b'). Got value 'a'"),
        ("run_id NOT IN 'a'", "Expected a parenthesized list of values after 'NOT IN', e.g. ('a', 'b'). Got value 'a'"),
        ("run_id = ('a', 'b')", "A list of values can only be compared with 'IN' or 'NOT IN', not '='"),
    ];
    for (filter, expected) in cases {
        assert_eq!(run_error(filter), expected, "{filter}");
    }
}

#[test]
fn string_attribute_errors() {
    let cases = [
        ("status = 1", "Expected a quoted string value for attributes. Got value 1"),
        (
            "run_id = abc",
            "Parameter value is either not quoted or unidentified quote types used for string value abc. Use either single or double quotes.",
        ),
        ("status > 'a'", "Invalid comparator '>' not one of '{'=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'}'"),
        (
            "attributes.status IS NULL",
            "IS NULL / IS NOT NULL is only supported for tags and params, not for 'attribute' 'status'",
        ),
        (
            "run_name IS NOT NULL",
            "IS NULL / IS NOT NULL is only supported for tags and params, not for 'attribute' 'run_name'",
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(run_error(filter), expected, "{filter}");
    }
}

#[test]
fn invalid_attribute_keys() {
    let expected = |key: &str| {
        format!(
            "Invalid attribute key '{key}' specified. Valid keys are '{{'run_id', 'run_name', 'run name', 'Run name', 'Run Name', 'status', 'user_id', 'artifact_uri', 'start_time', 'end_time', 'created', 'Created'}}'"
        )
    };
    for key in [
        "foo",
        "lifecycle_stage",
        "experiment_id",
        "Status",
        "RUN NAME",
    ] {
        assert_eq!(run_error(&format!("`{key}` = 'x'")), expected(key), "{key}");
    }
    assert_eq!(run_error("attributes.foo = 'x'"), expected("foo"));
    // Unquoted, the alias is two words.
    assert_eq!(
        run_error("run name = 'a'"),
        "Invalid clause(s) in filter string: 'run name'"
    );
}

#[test]
fn numeric_attributes() {
    let cases = [
        (
            "start_time > 5",
            RunAttribute::StartTime,
            FilterValue::Number(5.0),
        ),
        (
            "start_time > 5.5",
            RunAttribute::StartTime,
            FilterValue::Number(5.5),
        ),
        (
            "start_time = 1e3",
            RunAttribute::StartTime,
            FilterValue::Number(1000.0),
        ),
        (
            "end_time <= -5",
            RunAttribute::EndTime,
            FilterValue::Number(-5.0),
        ),
        (
            "created > 5",
            RunAttribute::StartTime,
            FilterValue::Number(5.0),
        ),
        (
            "Created > 5",
            RunAttribute::StartTime,
            FilterValue::Number(5.0),
        ),
        (
            "attributes.created > 5",
            RunAttribute::StartTime,
            FilterValue::Number(5.0),
        ),
    ];
    for (filter, attribute, value) in cases {
        let parsed = run_clause_of(filter);
        assert_eq!(parsed.key, RunKey::Attribute(attribute), "{filter}");
        assert_eq!(parsed.value, value, "{filter}");
    }
    let errors = [
        ("start_time > '5'", "Expected numeric value type for numeric attribute: start_time. Found '5'"),
        ("created > '5'", "Expected numeric value type for numeric attribute: created. Found '5'"),
        ("start_time IN (1)", "Expected numeric value type for numeric attribute: start_time. Found (1)"),
        ("end_time = soon", "Expected numeric value type for numeric attribute: end_time. Found soon"),
        ("start_time LIKE 5", "Invalid comparator 'LIKE' not one of '{'=', '!=', '<', '<=', '>', '>='}'"),
        (
            "end_time IS NULL",
            "IS NULL / IS NOT NULL is only supported for tags and params, not for 'attribute' 'end_time'",
        ),
    ];
    for (filter, expected) in errors {
        assert_eq!(run_error(filter), expected, "{filter}");
    }
}

// --- Datasets -----------------------------------------------------------------------------

#[test]
fn dataset_fields() {
    assert_eq!(
        run_clause_of("datasets.name = 'a'"),
        clause(
            RunKey::Dataset(DatasetField::Name),
            Comparator::Eq,
            text("a")
        )
    );
    assert_eq!(
        run_clause_of("datasets.digest IN ('a','b')"),
        clause(
            RunKey::Dataset(DatasetField::Digest),
            Comparator::In,
            texts(&["a", "b"])
        )
    );
    assert_eq!(
        run_clause_of("dataset.context NOT IN ('train')"),
        clause(
            RunKey::Dataset(DatasetField::Context),
            Comparator::NotIn,
            texts(&["train"])
        )
    );
    assert_eq!(
        run_clause_of("datasets.name ILIKE 'a%'").comparator,
        Comparator::ILike
    );

    let cases = [
        ("datasets.foo = 'a'", "Invalid dataset key 'foo' specified. Valid keys are '{'name', 'digest', 'context'}'"),
        ("datasets.name = 1", "Expected a quoted string value for dataset attributes. Got value 1"),
        (
            "datasets.name IN (1)",
            "While parsing a list in the query, expected string value, punctuation, or whitespace, but got different type in list: (1)",
        ),
        ("datasets.name > 'a'", "Invalid comparator '>' not one of '{'=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'}'"),
        (
            "datasets.name IS NULL",
            "IS NULL / IS NOT NULL is only supported for tags and params, not for 'dataset' 'name'",
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(run_error(filter), expected, "{filter}");
    }
}

// --- Run order_by -------------------------------------------------------------------------

#[test]
fn run_order_by_keys_and_directions() {
    let cases = [
        ("metrics.acc", metric("acc"), true),
        ("metrics.acc DESC", metric("acc"), false),
        ("metrics.acc desc", metric("acc"), false),
        ("metrics.acc Asc", metric("acc"), true),
        ("metrics.`my metric` DESC", metric("my metric"), false),
        ("metrics.\"my metric\" DESC", metric("my metric"), false),
        ("metrics.'my metric' DESC", metric("my metric"), false),
        ("`metrics`.acc", metric("acc"), true),
        ("metrics.a.b ASC", metric("a.b"), true),
        ("params.x", param("x"), true),
        ("tags.`a b` asc", tag("a b"), true),
        ("  metrics.a   DESC  ", metric("a"), false),
        ("run_id", RunKey::Attribute(RunAttribute::RunId), true),
        (
            "run_name DESC",
            RunKey::Attribute(RunAttribute::RunName),
            false,
        ),
        ("status", RunKey::Attribute(RunAttribute::Status), true),
        ("user_id", RunKey::Attribute(RunAttribute::UserId), true),
        (
            "artifact_uri",
            RunKey::Attribute(RunAttribute::ArtifactUri),
            true,
        ),
        (
            "start_time",
            RunKey::Attribute(RunAttribute::StartTime),
            true,
        ),
        (
            "attributes.end_time",
            RunKey::Attribute(RunAttribute::EndTime),
            true,
        ),
        (
            "created DESC",
            RunKey::Attribute(RunAttribute::StartTime),
            false,
        ),
        ("Created", RunKey::Attribute(RunAttribute::StartTime), true),
    ];
    for (clause, key, ascending) in cases {
        assert_eq!(
            run_order_by_of(clause),
            RunOrderBy { key, ascending },
            "{clause}"
        );
    }
    assert_eq!(parse_run_order_by(&[]).unwrap(), vec![]);
    assert_eq!(
        parse_run_order_by(&order_by(&["metrics.a DESC", "params.b", "start_time ASC"]))
            .unwrap(),
        vec![
            RunOrderBy {
                key: metric("a"),
                ascending: false
            },
            RunOrderBy {
                key: param("b"),
                ascending: true
            },
            RunOrderBy {
                key: RunKey::Attribute(RunAttribute::StartTime),
                ascending: true
            },
        ]
    );
}

#[test]
fn run_order_by_errors() {
    let order_by_keys = "{'run_id', 'run_name', 'status', 'user_id', 'artifact_uri', 'start_time', 'end_time', 'created', 'Created'}";
    let cases = [
        ("metrics.acc DOWN", "Invalid ordering key in order_by clause 'metrics.acc DOWN'.".to_owned()),
        ("metrics.acc DESC extra", "Invalid order_by clause 'metrics.acc DESC extra'. Could not be parsed.".to_owned()),
        ("metrics.a DESC DESC", "Invalid order_by clause 'metrics.a DESC DESC'. Could not be parsed.".to_owned()),
        ("metrics.a, metrics.b", "Invalid order_by clause 'metrics.a, metrics.b'. Could not be parsed.".to_owned()),
        ("(metrics.a)", "Invalid order_by clause '(metrics.a)'. Could not be parsed.".to_owned()),
        ("metrics.a = 1", "Invalid order_by clause 'metrics.a = 1'. Could not be parsed.".to_owned()),
        ("metrics.a;", "Invalid order_by clause 'metrics.a;'. Could not be parsed.".to_owned()),
        ("metrics.a 1", "Invalid order_by clause 'metrics.a 1'. Could not be parsed.".to_owned()),
        ("metrics.`a", "Invalid order_by clause 'metrics.`a'. Could not be parsed.".to_owned()),
        ("'metrics.a'", "Invalid order_by clause ''metrics.a''. Could not be parsed.".to_owned()),
        ("", "Invalid order_by clause ''. Could not be parsed.".to_owned()),
        (" ", "Invalid order_by clause ' '. Could not be parsed.".to_owned()),
        ("DESC", "Invalid attribute key 'DESC' specified. Valid keys are '".to_owned() + order_by_keys + "'"),
        ("foo", format!("Invalid attribute key 'foo' specified. Valid keys are '{order_by_keys}'")),
        ("`Run name`", format!("Invalid attribute key 'Run name' specified. Valid keys are '{order_by_keys}'")),
        ("experiment_id", format!("Invalid attribute key 'experiment_id' specified. Valid keys are '{order_by_keys}'")),
        ("datasets.name", "Invalid order_by entity type 'dataset'".to_owned()),
        (
            "datasets.foo",
            "Invalid dataset key 'foo' specified. Valid keys are '{'name', 'digest', 'context'}'".to_owned(),
        ),
    ];
    for (clause, expected) in cases {
        assert_eq!(
            message(parse_run_order_by(&order_by(&[clause]))),
            expected,
            "{clause}"
        );
    }
}

#[test]
fn duplicate_run_order_by_keys_are_a_400() {
    for clauses in [
        ["metrics.m", "metrics.m DESC"],
        ["start_time", "created DESC"],
        ["tags.`a`", "tags.a"],
    ] {
        let expected = format!(
            "`order_by` contains duplicate fields: ['{}', '{}']",
            clauses[0], clauses[1]
        );
        assert_eq!(message(parse_run_order_by(&order_by(&clauses))), expected);
    }
    // The same name under different entities is not a duplicate.
    assert!(parse_run_order_by(&order_by(&["metrics.m", "params.m", "tags.m"])).is_ok());
}

// --- Experiments --------------------------------------------------------------------------

#[test]
fn experiment_names() {
    for filter in [
        "name = 'a'",
        "attribute.name = 'a'",
        "`name` = 'a'",
        "\"name\" = 'a'",
        "name = \"a\"",
    ] {
        assert_eq!(
            experiment_clause_of(filter),
            ExperimentClause {
                key: ExperimentKey::Name,
                comparator: Comparator::Eq,
                value: text("a")
            },
            "{filter}"
        );
    }
    assert_eq!(
        experiment_clause_of("name LIKE 'a%'").comparator,
        Comparator::Like
    );
    assert_eq!(
        experiment_clause_of("name ilike 'a%'").comparator,
        Comparator::ILike
    );
    assert_eq!(
        experiment_clause_of("name != 'a'").comparator,
        Comparator::NotEq
    );
    let cases = [
        ("name > 'a'", "Invalid comparator for string attribute: >"),
        ("name NOT LIKE 'a'", "Invalid comparator for string attribute: NOT LIKE"),
        ("name IN ('a')", "Only ['experiment_id'] attributes support comparison with a list of quoted string values."),
        ("name = 1", "Expected a quoted string value for attributes. Got value 1"),
        (
            "name = a",
            "Parameter value is either not quoted or unidentified quote types used for string value a. Use either single or double quotes.",
        ),
        ("name IS NULL", "IS NULL / IS NOT NULL is only supported for tags, not for attribute 'name'"),
    ];
    for (filter, expected) in cases {
        assert_eq!(experiment_error(filter), expected, "{filter}");
    }
}

#[test]
fn experiment_ids_are_integers() {
    let id = |comparator, value| ExperimentClause {
        key: ExperimentKey::ExperimentId,
        comparator,
        value,
    };
    let cases = [
        (
            "experiment_id = '3'",
            id(Comparator::Eq, FilterValue::Integer(3)),
        ),
        (
            "experiment_id = \"3\"",
            id(Comparator::Eq, FilterValue::Integer(3)),
        ),
        (
            "experiment_id != ' 3 '",
            id(Comparator::NotEq, FilterValue::Integer(3)),
        ),
        (
            "experiment_id = '-3'",
            id(Comparator::Eq, FilterValue::Integer(-3)),
        ),
        (
            "experiment_id = '+3'",
            id(Comparator::Eq, FilterValue::Integer(3)),
        ),
        (
            "experiment_id = 3",
            id(Comparator::Eq, FilterValue::Integer(3)),
        ),
        (
            "experiment_id IN ('1', '2')",
            id(Comparator::In, FilterValue::IntegerList(vec![1, 2])),
        ),
        (
            "experiment_id in (1, '2',)",
            id(Comparator::In, FilterValue::IntegerList(vec![1, 2])),
        ),
        (
            "experiment_id NOT IN ('1')",
            id(Comparator::NotIn, FilterValue::IntegerList(vec![1])),
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(experiment_clause_of(filter), expected, "{filter}");
    }
    let errors = [
        ("experiment_id = 'abc'", "Invalid experiment ID 'abc'. Experiment ID must be a valid integer."),
        ("experiment_id = '1.5'", "Invalid experiment ID '1.5'. Experiment ID must be a valid integer."),
        ("experiment_id = 1.5", "Invalid experiment ID '1.5'. Experiment ID must be a valid integer."),
        ("experiment_id = ''", "Invalid experiment ID ''. Experiment ID must be a valid integer."),
        (
            "experiment_id = '99999999999999999999'",
            "Invalid experiment ID '99999999999999999999'. Experiment ID must be a valid integer.",
        ),
        ("experiment_id IN ('1', 'x')", "Invalid experiment ID 'x'. Experiment ID must be a valid integer."),
        ("experiment_id IN ()", "While parsing a list in the query, expected a non-empty list of string values, but got empty list"),
        ("experiment_id > '1'", "Invalid comparator for experiment_id: >"),
        ("experiment_id LIKE '1'", "Invalid comparator for experiment_id: LIKE"),
        ("experiment_id IN '1'", "Expected a parenthesized list of values after 'IN', e.g. ('a', 'b'). Got value '1'"),
        ("experiment_id = ('1')", "A list of values can only be compared with 'IN' or 'NOT IN', not '='"),
        (
            "experiment_id = abc",
            "Parameter value is either not quoted or unidentified quote types used for string value abc. Use either single or double quotes.",
        ),
    ];
    for (filter, expected) in errors {
        assert_eq!(experiment_error(filter), expected, "{filter}");
    }
}

#[test]
fn experiment_times_are_integers() {
    let cases = [
        (
            "creation_time > 5",
            ExperimentKey::CreationTime,
            Comparator::Gt,
            5,
        ),
        (
            "creation_time = 1700000000000",
            ExperimentKey::CreationTime,
            Comparator::Eq,
            1_700_000_000_000,
        ),
        (
            "last_update_time <= -1",
            ExperimentKey::LastUpdateTime,
            Comparator::LtEq,
            -1,
        ),
        (
            "attribute.last_update_time != 7",
            ExperimentKey::LastUpdateTime,
            Comparator::NotEq,
            7,
        ),
    ];
    for (filter, key, comparator, value) in cases {
        assert_eq!(
            experiment_clause_of(filter),
            ExperimentClause {
                key,
                comparator,
                value: FilterValue::Integer(value)
            },
            "{filter}"
        );
    }
    let errors = [
        ("creation_time > 5.5", "Invalid value for numeric attribute 'creation_time': '5.5'"),
        ("creation_time > 1e3", "Invalid value for numeric attribute 'creation_time': '1e3'"),
        ("creation_time > '5'", "Expected numeric value type for numeric attribute: creation_time. Found '5'"),
        ("creation_time IN (5)", "Expected numeric value type for numeric attribute: creation_time. Found (5)"),
        ("creation_time LIKE 5", "Invalid comparator for numeric attribute: LIKE"),
        ("last_update_time IS NULL", "IS NULL / IS NOT NULL is only supported for tags, not for attribute 'last_update_time'"),
    ];
    for (filter, expected) in errors {
        assert_eq!(experiment_error(filter), expected, "{filter}");
    }
}

#[test]
fn experiment_tags() {
    let tag_clause = |key: &str, comparator, value| ExperimentClause {
        key: ExperimentKey::Tag(key.to_owned()),
        comparator,
        value,
    };
    let cases = [
        ("tag.x = 'a'", tag_clause("x", Comparator::Eq, text("a"))),
        (
            "tags.x != 'a'",
            tag_clause("x", Comparator::NotEq, text("a")),
        ),
        (
            "tags.`a b` LIKE 'a%'",
            tag_clause("a b", Comparator::Like, text("a%")),
        ),
        (
            "tags.a.b ILIKE 'a%'",
            tag_clause("a.b", Comparator::ILike, text("a%")),
        ),
        (
            "tags.x IS NULL",
            tag_clause("x", Comparator::IsNull, FilterValue::None),
        ),
        (
            "tags.x is not null",
            tag_clause("x", Comparator::IsNotNull, FilterValue::None),
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(experiment_clause_of(filter), expected, "{filter}");
    }
    let errors = [
        ("tags.x > 'a'", "Invalid comparator for tag: >"),
        (
            "tags.x IN ('a')",
            "Expected a quoted string value for tag (e.g. 'my-value'). Got value ('a')",
        ),
        (
            "tags.x = 1",
            "Expected a quoted string value for tag (e.g. 'my-value'). Got value 1",
        ),
    ];
    for (filter, expected) in errors {
        assert_eq!(experiment_error(filter), expected, "{filter}");
    }
}

#[test]
fn experiment_entity_and_attribute_errors() {
    for prefix in ["params", "metrics", "attributes", "attr", "foo", "datasets"] {
        assert_eq!(
            experiment_error(&format!("{prefix}.x = 'a'")),
            format!("Invalid entity type '{prefix}'. Valid entity types are ('attribute', 'tag', 'tags')")
        );
    }
    for key in ["foo", "lifecycle_stage", "Run Name"] {
        assert_eq!(
            experiment_error(&format!("`{key}` = 'a'")),
            format!("Invalid attribute key '{key}' specified. Valid keys are '{{'name', 'experiment_id', 'creation_time', 'last_update_time'}}'")
        );
    }
    assert_eq!(
        experiment_error("name = 'a' OR name = 'b'"),
        "Invalid clause(s) in filter string: 'OR'"
    );
}

#[test]
fn experiment_order_by() {
    let cases = [
        ("name", ExperimentKey::Name, true),
        ("name DESC", ExperimentKey::Name, false),
        ("experiment_id asc", ExperimentKey::ExperimentId, true),
        ("creation_time", ExperimentKey::CreationTime, true),
        (
            "last_update_time DESC",
            ExperimentKey::LastUpdateTime,
            false,
        ),
        ("attribute.name", ExperimentKey::Name, true),
    ];
    for (clause, key, ascending) in cases {
        assert_eq!(
            parse_experiment_order_by(&order_by(&[clause])).unwrap(),
            vec![ExperimentOrderBy { key, ascending }],
            "{clause}"
        );
    }
    let errors = [
        ("attributes.name", "Invalid entity type 'attributes'. Valid entity types are ('attribute', 'tag', 'tags')"),
        ("params.x", "Invalid entity type 'params'. Valid entity types are ('attribute', 'tag', 'tags')"),
        ("tags.x", "Invalid order_by entity: tag"),
        ("tag.x DESC", "Invalid order_by entity: tag"),
        (
            "foo",
            "Invalid attribute key 'foo' specified. Valid keys are '{'name', 'experiment_id', 'creation_time', 'last_update_time'}'",
        ),
        ("name sideways", "Invalid ordering key in order_by clause 'name sideways'."),
        ("name ASC DESC", "Invalid order_by clause 'name ASC DESC'. Could not be parsed."),
    ];
    for (clause, expected) in errors {
        assert_eq!(
            message(parse_experiment_order_by(&order_by(&[clause]))),
            expected,
            "{clause}"
        );
    }
    assert_eq!(
        message(parse_experiment_order_by(&order_by(&["name", "name DESC"]))),
        "`order_by` contains duplicate fields: ['name', 'name DESC']"
    );
}

// --- Properties ---------------------------------------------------------------------------

/// Renders a clause back into filter syntax, quoting every key so any key text survives.
fn render_run_clause(clause: &RunClause) -> String {
    let ident = match &clause.key {
        RunKey::Metric(key) => format!("metrics.`{key}`"),
        RunKey::Param(key) => format!("params.`{key}`"),
        RunKey::Tag(key) => format!("tags.`{key}`"),
        RunKey::Attribute(attribute) => match attribute {
            RunAttribute::RunId => "run_id",
            RunAttribute::RunName => "attributes.run_name",
            RunAttribute::Status => "status",
            RunAttribute::UserId => "attr.user_id",
            RunAttribute::ArtifactUri => "artifact_uri",
            RunAttribute::StartTime => "start_time",
            RunAttribute::EndTime => "run.end_time",
        }
        .to_owned(),
        RunKey::Dataset(field) => match field {
            DatasetField::Name => "datasets.name",
            DatasetField::Digest => "datasets.digest",
            DatasetField::Context => "dataset.context",
        }
        .to_owned(),
    };
    format!("{ident} {}", render_test(clause.comparator, &clause.value))
}

fn render_test(comparator: Comparator, value: &FilterValue) -> String {
    let op = comparator_name(comparator);
    let quoted = |text: &String| {
        if text.contains('\'') {
            format!("\"{text}\"")
        } else {
            format!("'{text}'")
        }
    };
    match value {
        FilterValue::None => op.to_owned(),
        FilterValue::Number(number) => format!("{op} {number}"),
        FilterValue::Integer(number) => format!("{op} {number}"),
        FilterValue::Text(text) => format!("{op} {}", quoted(text)),
        FilterValue::TextList(texts) => {
            format!(
                "{op} ({})",
                texts.iter().map(quoted).collect::<Vec<_>>().join(", ")
            )
        }
        FilterValue::IntegerList(ids) => {
            format!(
                "{op} ({})",
                ids.iter()
                    .map(|id| format!("'{id}'"))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        }
    }
}

/// Any text without backslashes that is not both single- and double-quoted.
fn string_value() -> impl Strategy<Value = String> {
    prop_oneof!["[^'\\\\]{0,12}", "[^\"\\\\]{0,12}"]
}

fn run_clause_strategy() -> impl Strategy<Value = RunClause> {
    let key_text = "[^`]{0,12}";
    let number = any::<f64>()
        .prop_filter("finite", |n| n.is_finite())
        .prop_map(FilterValue::Number);
    let numeric_comparator = prop::sample::select(NUMERIC_COMPARATORS.to_vec());
    let string_comparator = prop::sample::select(vec![
        Comparator::Eq,
        Comparator::NotEq,
        Comparator::Like,
        Comparator::ILike,
    ]);
    let list_comparator = prop::sample::select(vec![Comparator::In, Comparator::NotIn]);
    let text_list =
        || prop::collection::vec(string_value(), 1..4).prop_map(FilterValue::TextList);
    let string_attribute = prop::sample::select(vec![
        RunAttribute::RunId,
        RunAttribute::RunName,
        RunAttribute::Status,
        RunAttribute::UserId,
        RunAttribute::ArtifactUri,
    ]);
    let dataset_field = prop::sample::select(vec![
        DatasetField::Name,
        DatasetField::Digest,
        DatasetField::Context,
    ]);
    prop_oneof![
        (key_text, numeric_comparator.clone(), number.clone()).prop_map(
            |(key, comparator, value)| clause(RunKey::Metric(key), comparator, value)
        ),
        (
            key_text,
            any::<bool>(),
            string_comparator.clone(),
            string_value()
        )
            .prop_map(|(key, is_param, comparator, value)| {
                let key = if is_param {
                    RunKey::Param(key)
                } else {
                    RunKey::Tag(key)
                };
                clause(key, comparator, FilterValue::Text(value))
            }),
        (key_text, any::<bool>(), any::<bool>()).prop_map(|(key, is_param, is_null)| {
            let key = if is_param {
                RunKey::Param(key)
            } else {
                RunKey::Tag(key)
            };
            let comparator = if is_null {
                Comparator::IsNull
            } else {
                Comparator::IsNotNull
            };
            clause(key, comparator, FilterValue::None)
        }),
        (string_attribute, string_comparator.clone(), string_value()).prop_map(
            |(attribute, comparator, value)| {
                clause(
                    RunKey::Attribute(attribute),
                    comparator,
                    FilterValue::Text(value),
                )
            }
        ),
        (list_comparator.clone(), text_list()).prop_map(|(comparator, value)| {
            clause(RunKey::Attribute(RunAttribute::RunId), comparator, value)
        }),
        (any::<bool>(), numeric_comparator, number).prop_map(|(start, comparator, value)| {
            let attribute = if start {
                RunAttribute::StartTime
            } else {
                RunAttribute::EndTime
            };
            clause(RunKey::Attribute(attribute), comparator, value)
        }),
        (dataset_field.clone(), string_comparator, string_value()).prop_map(
            |(field, comparator, value)| clause(
                RunKey::Dataset(field),
                comparator,
                FilterValue::Text(value)
            )
        ),
        (dataset_field, list_comparator, text_list()).prop_map(|(field, comparator, value)| {
            clause(RunKey::Dataset(field), comparator, value)
        }),
    ]
}

fn experiment_clause_strategy() -> impl Strategy<Value = ExperimentClause> {
    let string_comparator = prop::sample::select(vec![
        Comparator::Eq,
        Comparator::NotEq,
        Comparator::Like,
        Comparator::ILike,
    ]);
    prop_oneof![
        (string_comparator.clone(), string_value()).prop_map(|(comparator, value)| {
            ExperimentClause {
                key: ExperimentKey::Name,
                comparator,
                value: FilterValue::Text(value),
            }
        }),
        (
            prop::sample::select(vec![Comparator::Eq, Comparator::NotEq]),
            any::<i64>()
        )
            .prop_map(|(comparator, id)| ExperimentClause {
                key: ExperimentKey::ExperimentId,
                comparator,
                value: FilterValue::Integer(id),
            }),
        (
            prop::sample::select(vec![Comparator::In, Comparator::NotIn]),
            prop::collection::vec(any::<i64>(), 1..4)
        )
            .prop_map(|(comparator, ids)| ExperimentClause {
                key: ExperimentKey::ExperimentId,
                comparator,
                value: FilterValue::IntegerList(ids),
            }),
        (
            any::<bool>(),
            prop::sample::select(NUMERIC_COMPARATORS.to_vec()),
            any::<i64>()
        )
            .prop_map(|(creation, comparator, time)| ExperimentClause {
                key: if creation {
                    ExperimentKey::CreationTime
                } else {
                    ExperimentKey::LastUpdateTime
                },
                comparator,
                value: FilterValue::Integer(time),
            }),
        ("[^`]{0,12}", string_comparator, string_value()).prop_map(
            |(key, comparator, value)| {
                ExperimentClause {
                    key: ExperimentKey::Tag(key),
                    comparator,
                    value: FilterValue::Text(value),
                }
            }
        ),
    ]
}

fn render_experiment_clause(clause: &ExperimentClause) -> String {
    let ident = match &clause.key {
        ExperimentKey::Name => "name".to_owned(),
        ExperimentKey::ExperimentId => "experiment_id".to_owned(),
        ExperimentKey::CreationTime => "creation_time".to_owned(),
        ExperimentKey::LastUpdateTime => "attribute.last_update_time".to_owned(),
        ExperimentKey::Tag(key) => format!("tags.`{key}`"),
    };
    format!("{ident} {}", render_test(clause.comparator, &clause.value))
}

/// Fragments that reach deep into the grammar when strung together at random.
fn grammar_soup() -> impl Strategy<Value = String> {
    let fragment = prop::sample::select(vec![
        "metrics.",
        "params.",
        "tags.",
        "attributes.",
        "datasets.",
        "run_id",
        "start_time",
        "name",
        "experiment_id",
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
        ".",
        "-",
        "é",
        "'v'",
        "\"v\"",
        "`k`",
        "('a', 'b')",
    ]);
    prop::collection::vec(fragment, 0..24).prop_map(|fragments| fragments.concat())
}

proptest! {
    #[test]
    fn arbitrary_filters_never_panic(filter in any::<String>()) {
        let _ = parse_run_filter(&filter);
        let _ = parse_experiment_filter(&filter);
    }

    #[test]
    fn grammar_soup_never_panics(filter in grammar_soup()) {
        let _ = parse_run_filter(&filter);
        let _ = parse_experiment_filter(&filter);
        let _ = parse_run_order_by(std::slice::from_ref(&filter));
        let _ = parse_experiment_order_by(std::slice::from_ref(&filter));
    }

    #[test]
    fn arbitrary_order_by_never_panics(
        order_by in prop::collection::vec(any::<String>(), 0..4)
    ) {
        let _ = parse_run_order_by(&order_by);
        let _ = parse_experiment_order_by(&order_by);
    }

    #[test]
    fn rendered_run_filters_parse_back(
        clauses in prop::collection::vec(run_clause_strategy(), 0..5)
    ) {
        let filter = clauses.iter().map(render_run_clause).collect::<Vec<_>>().join(" AND ");
        prop_assert_eq!(parse_run_filter(&filter).map_err(|e| e.message), Ok(clauses), "{}", filter);
    }

    #[test]
    fn rendered_experiment_filters_parse_back(
        clauses in prop::collection::vec(experiment_clause_strategy(), 0..5)
    ) {
        let filter = clauses.iter().map(render_experiment_clause).collect::<Vec<_>>().join(" and ");
        prop_assert_eq!(parse_experiment_filter(&filter).map_err(|e| e.message), Ok(clauses), "{}", filter);
    }

    #[test]
    fn keywords_are_case_insensitive(masks in prop::collection::vec(any::<u32>(), 12)) {
        let template = "params.p IS NOT NULL AND params.q LIKE 'a' AND tags.t ILIKE 'b' AND run_id NOT IN ('r') AND run_id IN ('s')";
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
        let expected = parse_run_filter(template).unwrap();
        prop_assert_eq!(expected.len(), 5);
        prop_assert_eq!(parse_run_filter(&restyled), Ok(expected), "{}", restyled);
    }
}

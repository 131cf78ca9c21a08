//! Conjunctions, identifiers and the syntax errors every filter can hit.

use super::*;

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

//! Run filters by entity (metrics, params and tags, attributes, datasets) and run `order_by`.

use super::*;

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

//! Experiment filters and `order_by`.

use super::*;

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

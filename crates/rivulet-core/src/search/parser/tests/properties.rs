//! Properties over generated filters: no input panics, and rendered clauses parse back.

use super::*;
use crate::search::test_support::recase_keywords;
use proptest::prelude::*;

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
    let op = comparator.spelling();
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
        let restyled = recase_keywords(template, masks);
        let expected = parse_run_filter(template).unwrap();
        prop_assert_eq!(expected.len(), 5);
        prop_assert_eq!(parse_run_filter(&restyled), Ok(expected), "{}", restyled);
    }
}

//! Parses MLflow's search grammar (filters and `order_by` for runs and experiments) into the AST.
//!
//! MLflow checks a filter in two places: `SearchUtils` parses it, then the SQL store rejects
//! comparators an entity does not allow. Both sets of checks live here, in the same order, so a
//! bad filter gets the message MLflow would have sent. Where MLflow has no message, or answers
//! with a 500 or a Python error, we say plainly what is wrong instead.
//!
//! Deliberate differences from MLflow, all of them accepting what MLflow rejects or rejecting
//! what it mishandles:
//! - an `order_by` element may have surrounding whitespace;
//! - `experiment_id` also accepts unquoted integers, in comparisons and in lists;
//! - a repeated `order_by` key is a 400, not a code-less 500;
//! - lists are literal lists of quoted strings: no Python tuple quirks such as `('a' 'b')`
//!   (concatenation) or nested parentheses.

use super::ast::{
    Comparator, DatasetField, ExperimentClause, ExperimentKey, ExperimentOrderBy, FilterValue,
    RunAttribute, RunClause, RunKey, RunOrderBy,
};
use super::clause::{
    self, empty_list, invalid, invalid_attribute_key, is_reserved, list_expected, list_not_allowed,
    parse_clauses, parse_order_by, python_set, text_list, unquoted_value, ClauseComparator, Cursor,
    Identifier, ListItem, RawValue, Test, ValueKind,
};
use super::lexer::{Quote, TokenKind};
use crate::Result;

/// Parses a `runs/search` filter; an empty or blank filter is an empty conjunction.
pub fn parse_run_filter(filter: &str) -> Result<Vec<RunClause>> {
    parse_clauses(filter)?.into_iter().map(run_clause).collect()
}

/// Parses the `order_by` elements of `runs/search`, e.g. `["metrics.acc DESC", "start_time"]`.
pub fn parse_run_order_by(order_by: &[String]) -> Result<Vec<RunOrderBy>> {
    let parsed = parse_order_by(order_by, run_order_by_key)?;
    Ok(parsed
        .into_iter()
        .map(|(key, ascending)| RunOrderBy { key, ascending })
        .collect())
}

/// Parses an `experiments/search` filter; an empty or blank filter is an empty conjunction.
pub fn parse_experiment_filter(filter: &str) -> Result<Vec<ExperimentClause>> {
    parse_clauses(filter)?
        .into_iter()
        .map(experiment_clause)
        .collect()
}

/// Parses the `order_by` elements of `experiments/search`, e.g. `["name DESC"]`.
pub fn parse_experiment_order_by(order_by: &[String]) -> Result<Vec<ExperimentOrderBy>> {
    let parsed = parse_order_by(order_by, experiment_order_by_key)?;
    Ok(parsed
        .into_iter()
        .map(|(key, ascending)| ExperimentOrderBy { key, ascending })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Syntax: the run grammar's identifiers and comparators; the rest is `clause.rs`.

type RawClause<'a> = clause::RawClause<'a, Ident<'a>, Comparator>;
type Op = clause::Op<Comparator>;

impl ClauseComparator for Comparator {
    const ALL: &'static [Comparator] = &[
        Comparator::Eq,
        Comparator::NotEq,
        Comparator::Lt,
        Comparator::LtEq,
        Comparator::Gt,
        Comparator::GtEq,
        Comparator::Like,
        Comparator::ILike,
        Comparator::In,
        Comparator::NotIn,
        Comparator::IsNull,
        Comparator::IsNotNull,
    ];
    const IS_NULL: Comparator = Comparator::IsNull;
    const IS_NOT_NULL: Comparator = Comparator::IsNotNull;

    fn spelling(self) -> &'static str {
        match self {
            Comparator::Eq => "=",
            Comparator::NotEq => "!=",
            Comparator::Lt => "<",
            Comparator::LtEq => "<=",
            Comparator::Gt => ">",
            Comparator::GtEq => ">=",
            Comparator::Like => "LIKE",
            Comparator::ILike => "ILIKE",
            Comparator::In => "IN",
            Comparator::NotIn => "NOT IN",
            Comparator::IsNull => "IS NULL",
            Comparator::IsNotNull => "IS NOT NULL",
        }
    }
}

/// `prefix.key` with its quoting removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ident<'a> {
    prefix: Option<&'a str>,
    key: &'a str,
}

impl<'a> Identifier<'a> for Ident<'a> {
    fn read(cursor: &mut Cursor<'a>) -> Option<Ident<'a>> {
        let start = cursor.position();
        let ident = ident_parts(cursor);
        // Anything glued to an identifier (`tags.a-b`, `tags.a"b"`) is outside the grammar.
        let glued = match (cursor.previous(), cursor.peek()) {
            (Some(last), Some(next)) => {
                last.touches(&next)
                    && matches!(
                        next.kind,
                        TokenKind::Word
                            | TokenKind::Number
                            | TokenKind::Quoted(_)
                            | TokenKind::Other
                    )
            }
            _ => false,
        };
        if ident.is_none() || glued {
            cursor.rewind(start);
            return None;
        }
        ident
    }
}

fn ident_parts<'a>(cursor: &mut Cursor<'a>) -> Option<Ident<'a>> {
    let first = cursor.bump()?;
    match first.kind {
        TokenKind::Word if !is_reserved(first.text) => Some(match first.text.split_once('.') {
            None => Ident {
                prefix: None,
                key: first.text,
            },
            Some((prefix, key)) => Ident {
                prefix: Some(prefix),
                key: key_after_dot(cursor, key),
            },
        }),
        TokenKind::Quoted(Quote::Backtick | Quote::Double) => {
            let dotted_rest = cursor.bump_if(|next| {
                first.touches(next) && next.kind == TokenKind::Word && next.text.starts_with('.')
            });
            let Some(dotted_rest) = dotted_rest else {
                return Some(Ident {
                    prefix: None,
                    key: first.unquoted(),
                });
            };
            // MLflow strips backticks from a prefix but not double quotes, so `"params".x`
            // is reported as the invalid entity type `"params"`, as there.
            let prefix = match first.kind {
                TokenKind::Quoted(Quote::Backtick) => first.unquoted(),
                _ => first.text,
            };
            let key = dotted_rest
                .text
                .strip_prefix('.')
                .unwrap_or(dotted_rest.text);
            Some(Ident {
                prefix: Some(prefix),
                key: key_after_dot(cursor, key),
            })
        }
        _ => None,
    }
}

/// The key after `prefix.`: the rest of that word, or else a quoted key glued to the dot,
/// as in ``metrics.`my metric` ``.
fn key_after_dot<'a>(cursor: &mut Cursor<'a>, rest_of_word: &'a str) -> &'a str {
    if !rest_of_word.is_empty() {
        return rest_of_word;
    }
    let Some(dot) = cursor.previous() else {
        return rest_of_word;
    };
    cursor
        .bump_if(|next| dot.touches(next) && matches!(next.kind, TokenKind::Quoted(_)))
        .map_or(rest_of_word, |quoted| quoted.unquoted())
}

// ---------------------------------------------------------------------------------------------
// Runs.

const RUN_FILTER_ATTRIBUTES: &[&str] = &[
    "run_id",
    "run_name",
    "run name",
    "Run name",
    "Run Name",
    "status",
    "user_id",
    "artifact_uri",
    "start_time",
    "end_time",
    "created",
    "Created",
];

/// Unlike filters, `order_by` has no spelled-out `run name` aliases (MLflow's lists differ so).
const RUN_ORDER_BY_ATTRIBUTES: &[&str] = &[
    "run_id",
    "run_name",
    "status",
    "user_id",
    "artifact_uri",
    "start_time",
    "end_time",
    "created",
    "Created",
];

const DATASET_FIELDS: &[&str] = &["name", "digest", "context"];

const NUMERIC_COMPARATORS: &[Comparator] = &[
    Comparator::Eq,
    Comparator::NotEq,
    Comparator::Lt,
    Comparator::LtEq,
    Comparator::Gt,
    Comparator::GtEq,
];
const PARAM_AND_TAG_COMPARATORS: &[Comparator] = &[
    Comparator::Eq,
    Comparator::NotEq,
    Comparator::Like,
    Comparator::ILike,
    Comparator::IsNull,
    Comparator::IsNotNull,
];
/// Lists are further restricted to `run_id` and dataset fields by the value check.
const RUN_STRING_COMPARATORS: &[Comparator] = &[
    Comparator::Eq,
    Comparator::NotEq,
    Comparator::Like,
    Comparator::ILike,
    Comparator::In,
    Comparator::NotIn,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunEntity {
    Metric,
    Param,
    Tag,
    Attribute,
    Dataset,
}

impl RunEntity {
    /// Prefixes are case-sensitive in MLflow (`METRICS.x` is an error), and so here.
    fn from_prefix(prefix: Option<&str>) -> Result<RunEntity> {
        Ok(match prefix {
            None | Some("attribute" | "attributes" | "attr" | "run") => RunEntity::Attribute,
            Some("metric" | "metrics") => RunEntity::Metric,
            Some("parameter" | "parameters" | "param" | "params") => RunEntity::Param,
            Some("tag" | "tags") => RunEntity::Tag,
            Some("dataset" | "datasets") => RunEntity::Dataset,
            Some(other) => {
                return Err(invalid(format!(
                    "Invalid entity type '{other}'. Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']"
                )))
            }
        })
    }
}

fn run_attribute(key: &str, valid_keys: &[&str]) -> Result<RunAttribute> {
    let attribute = match key {
        "run_id" => Some(RunAttribute::RunId),
        "run_name" | "run name" | "Run name" | "Run Name" => Some(RunAttribute::RunName),
        "status" => Some(RunAttribute::Status),
        "user_id" => Some(RunAttribute::UserId),
        "artifact_uri" => Some(RunAttribute::ArtifactUri),
        "start_time" | "created" | "Created" => Some(RunAttribute::StartTime),
        "end_time" => Some(RunAttribute::EndTime),
        _ => None,
    };
    attribute
        .filter(|_| valid_keys.contains(&key))
        .ok_or_else(|| invalid_attribute_key(key, valid_keys))
}

fn dataset_field(key: &str) -> Result<DatasetField> {
    match key {
        "name" => Ok(DatasetField::Name),
        "digest" => Ok(DatasetField::Digest),
        "context" => Ok(DatasetField::Context),
        _ => Err(invalid(format!(
            "Invalid dataset key '{key}' specified. Valid keys are '{}'",
            python_set(DATASET_FIELDS.iter().copied())
        ))),
    }
}

/// The key an identifier names; `attributes` are the attribute keys valid where it appears.
fn run_key(ident: &Ident<'_>, attributes: &[&str]) -> Result<RunKey> {
    let key = ident.key;
    Ok(match RunEntity::from_prefix(ident.prefix)? {
        RunEntity::Metric => RunKey::Metric(key.to_owned()),
        RunEntity::Param => RunKey::Param(key.to_owned()),
        RunEntity::Tag => RunKey::Tag(key.to_owned()),
        RunEntity::Attribute => RunKey::Attribute(run_attribute(key, attributes)?),
        RunEntity::Dataset => RunKey::Dataset(dataset_field(key)?),
    })
}

fn run_order_by_key(ident: &Ident<'_>) -> Result<RunKey> {
    match run_key(ident, RUN_ORDER_BY_ATTRIBUTES)? {
        RunKey::Dataset(_) => Err(invalid("Invalid order_by entity type 'dataset'")),
        key => Ok(key),
    }
}

fn is_numeric_attribute(attribute: RunAttribute) -> bool {
    matches!(attribute, RunAttribute::StartTime | RunAttribute::EndTime)
}

fn run_clause(clause: RawClause<'_>) -> Result<RunClause> {
    let key = run_key(&clause.ident, RUN_FILTER_ATTRIBUTES)?;
    let written_key = clause.ident.key;
    let (comparator, value) = match clause.test {
        Test::Presence(comparator) => {
            let entity = match key {
                RunKey::Param(_) | RunKey::Tag(_) => None,
                RunKey::Metric(_) => Some("metric"),
                RunKey::Attribute(_) => Some("attribute"),
                RunKey::Dataset(_) => Some("dataset"),
            };
            if let Some(entity) = entity {
                return Err(invalid(format!(
                    "IS NULL / IS NOT NULL is only supported for tags and params, not for '{entity}' '{written_key}'"
                )));
            }
            (comparator, FilterValue::None)
        }
        Test::Compare(op, raw) => {
            // MLflow checks the value while parsing and the comparator later in the store;
            // keeping that order keeps its messages.
            let value = run_value(&key, written_key, &raw)?;
            let allowed = match key {
                RunKey::Metric(_) => NUMERIC_COMPARATORS,
                RunKey::Attribute(attribute) if is_numeric_attribute(attribute) => {
                    NUMERIC_COMPARATORS
                }
                RunKey::Param(_) | RunKey::Tag(_) => PARAM_AND_TAG_COMPARATORS,
                RunKey::Attribute(_) | RunKey::Dataset(_) => RUN_STRING_COMPARATORS,
            };
            let comparator = match op {
                Op::Known(comparator) if allowed.contains(&comparator) => comparator,
                _ => {
                    return Err(invalid(format!(
                        "Invalid comparator '{op}' not one of '{}'",
                        python_set(allowed.iter().map(|c| c.spelling()))
                    )))
                }
            };
            check_list_comparison(comparator, &value, &raw)?;
            (comparator, value)
        }
    };
    Ok(RunClause {
        key,
        comparator,
        value,
    })
}

fn run_value(key: &RunKey, written_key: &str, raw: &RawValue<'_>) -> Result<FilterValue> {
    match key {
        RunKey::Metric(_) => number_value(raw).ok_or_else(|| {
            invalid(format!("Expected numeric value type for metric. Found {}", raw.text))
        }),
        RunKey::Param(_) | RunKey::Tag(_) => {
            let entity = if matches!(key, RunKey::Param(_)) { "parameter" } else { "tag" };
            text_value(raw, || {
                format!("Expected a quoted string value for {entity} (e.g. 'my-value'). Got value {}", raw.text)
            })
        }
        RunKey::Attribute(attribute) if is_numeric_attribute(*attribute) => {
            number_value(raw).ok_or_else(|| {
                invalid(format!(
                    "Expected numeric value type for numeric attribute: {written_key}. Found {}",
                    raw.text
                ))
            })
        }
        RunKey::Attribute(attribute) => match &raw.kind {
            ValueKind::List(items) if *attribute == RunAttribute::RunId => {
                text_list(items, raw.text)
            }
            ValueKind::List(_) => Err(invalid(
                "Only ['run_id'] attributes support comparison with a list of quoted string values.",
            )),
            _ => text_value(raw, || {
                format!("Expected a quoted string value for attributes. Got value {}", raw.text)
            }),
        },
        RunKey::Dataset(_) => match &raw.kind {
            ValueKind::List(items) => text_list(items, raw.text),
            _ => text_value(raw, || {
                format!("Expected a quoted string value for dataset attributes. Got value {}", raw.text)
            }),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Experiments.

const EXPERIMENT_ATTRIBUTES: &[&str] =
    &["name", "experiment_id", "creation_time", "last_update_time"];

const EXPERIMENT_STRING_COMPARATORS: &[Comparator] = &[
    Comparator::Eq,
    Comparator::NotEq,
    Comparator::Like,
    Comparator::ILike,
];
const EXPERIMENT_ID_COMPARATORS: &[Comparator] = &[
    Comparator::Eq,
    Comparator::NotEq,
    Comparator::In,
    Comparator::NotIn,
];

fn experiment_attribute(key: &str) -> Result<ExperimentKey> {
    match key {
        "name" => Ok(ExperimentKey::Name),
        "experiment_id" => Ok(ExperimentKey::ExperimentId),
        "creation_time" => Ok(ExperimentKey::CreationTime),
        "last_update_time" => Ok(ExperimentKey::LastUpdateTime),
        _ => Err(invalid_attribute_key(key, EXPERIMENT_ATTRIBUTES)),
    }
}

/// Experiments know fewer prefixes than runs: not even `attributes`, only `attribute`.
fn experiment_key(ident: &Ident<'_>) -> Result<ExperimentKey> {
    match ident.prefix {
        None | Some("attribute") => experiment_attribute(ident.key),
        Some("tag" | "tags") => Ok(ExperimentKey::Tag(ident.key.to_owned())),
        Some(other) => Err(invalid(format!(
            "Invalid entity type '{other}'. Valid entity types are ('attribute', 'tag', 'tags')"
        ))),
    }
}

fn experiment_order_by_key(ident: &Ident<'_>) -> Result<ExperimentKey> {
    match experiment_key(ident)? {
        ExperimentKey::Tag(_) => Err(invalid("Invalid order_by entity: tag")),
        key => Ok(key),
    }
}

fn experiment_clause(clause: RawClause<'_>) -> Result<ExperimentClause> {
    let key = experiment_key(&clause.ident)?;
    let written_key = clause.ident.key;
    let (comparator, value) = match clause.test {
        Test::Presence(comparator) => {
            if !matches!(key, ExperimentKey::Tag(_)) {
                return Err(invalid(format!(
                    "IS NULL / IS NOT NULL is only supported for tags, not for attribute '{written_key}'"
                )));
            }
            (comparator, FilterValue::None)
        }
        Test::Compare(op, raw) => {
            let value = experiment_value(&key, written_key, &raw)?;
            let (allowed, kind) = match key {
                ExperimentKey::Name => (EXPERIMENT_STRING_COMPARATORS, "string attribute"),
                ExperimentKey::ExperimentId => (EXPERIMENT_ID_COMPARATORS, "experiment_id"),
                ExperimentKey::CreationTime | ExperimentKey::LastUpdateTime => {
                    (NUMERIC_COMPARATORS, "numeric attribute")
                }
                // IS [NOT] NULL never reaches here: it has no value to compare.
                ExperimentKey::Tag(_) => (EXPERIMENT_STRING_COMPARATORS, "tag"),
            };
            let comparator = match op {
                Op::Known(comparator) if allowed.contains(&comparator) => comparator,
                _ => return Err(invalid(format!("Invalid comparator for {kind}: {op}"))),
            };
            check_list_comparison(comparator, &value, &raw)?;
            (comparator, value)
        }
    };
    Ok(ExperimentClause {
        key,
        comparator,
        value,
    })
}

fn experiment_value(
    key: &ExperimentKey,
    written_key: &str,
    raw: &RawValue<'_>,
) -> Result<FilterValue> {
    match key {
        ExperimentKey::Name => match raw.kind {
            ValueKind::List(_) => Err(invalid(
                "Only ['experiment_id'] attributes support comparison with a list of quoted string values.",
            )),
            _ => text_value(raw, || {
                format!("Expected a quoted string value for attributes. Got value {}", raw.text)
            }),
        },
        // Ids are strings in MLflow's API; like its store, coerce them to the integer column.
        ExperimentKey::ExperimentId => match &raw.kind {
            ValueKind::Number => experiment_id(raw.text).map(FilterValue::Integer),
            ValueKind::Text(text) => experiment_id(text).map(FilterValue::Integer),
            ValueKind::Unquoted => Err(unquoted_value(raw.text)),
            ValueKind::List(items) => {
                if items.is_empty() {
                    return Err(empty_list());
                }
                let ids = items.iter().map(|item| match item {
                    ListItem::Text(text) | ListItem::Number(text) => experiment_id(text),
                });
                ids.collect::<Result<_>>().map(FilterValue::IntegerList)
            }
        },
        ExperimentKey::CreationTime | ExperimentKey::LastUpdateTime => match raw.kind {
            ValueKind::Number => raw.text.parse().map(FilterValue::Integer).map_err(|_| {
                invalid(format!("Invalid value for numeric attribute '{written_key}': '{}'", raw.text))
            }),
            _ => Err(invalid(format!(
                "Expected numeric value type for numeric attribute: {written_key}. Found {}",
                raw.text
            ))),
        },
        ExperimentKey::Tag(_) => text_value(raw, || {
            format!("Expected a quoted string value for tag (e.g. 'my-value'). Got value {}", raw.text)
        }),
    }
}

/// Python's `int()` as MLflow applies it to ids: surrounding whitespace and a sign are fine.
fn experiment_id(text: &str) -> Result<i64> {
    text.trim().parse().map_err(|_| {
        invalid(format!(
            "Invalid experiment ID '{text}'. Experiment ID must be a valid integer."
        ))
    })
}

// ---------------------------------------------------------------------------------------------
// Values and comparators shared by runs and experiments.

fn number_value(raw: &RawValue<'_>) -> Option<FilterValue> {
    match raw.kind {
        ValueKind::Number => raw.text.parse().ok().map(FilterValue::Number),
        _ => None,
    }
}

fn text_value(raw: &RawValue<'_>, wrong_type: impl FnOnce() -> String) -> Result<FilterValue> {
    match raw.kind {
        ValueKind::Text(text) => Ok(FilterValue::Text(text.to_owned())),
        ValueKind::Unquoted => Err(unquoted_value(raw.text)),
        ValueKind::Number | ValueKind::List(_) => Err(invalid(wrong_type())),
    }
}

/// A list goes with `IN` / `NOT IN` and nothing else.
fn check_list_comparison(
    comparator: Comparator,
    value: &FilterValue,
    raw: &RawValue<'_>,
) -> Result<()> {
    let is_list = matches!(
        value,
        FilterValue::TextList(_) | FilterValue::IntegerList(_)
    );
    let takes_list = matches!(comparator, Comparator::In | Comparator::NotIn);
    let name = comparator.spelling();
    if takes_list && !is_list {
        return Err(list_expected(name, raw.text));
    }
    if is_list && !takes_list {
        return Err(list_not_allowed(name));
    }
    Ok(())
}

#[cfg(test)]
mod tests;

//! Parses the `SearchTracesV3` filter and `order_by` grammar into the trace AST (spec tracing.md §4.3–4.4).
//
// The tokens (`lexer.rs`) and the clause syntax (`clause.rs`) are the run grammar's, so quoting,
// lists and syntax errors behave identically: `'it''s'` stays `it''s`, as MLflow leaves it. What
// is this file's own is where the trace grammar differs: identifiers can chain quoted parts
// (`span.attributes.`a.b``), values can be numbers for feedback, and there is `RLIKE`.
//
// MLflow validates a trace filter in several places (parser, value reader, SQL store) and some of
// its combinations end in a 500 or silently match nothing. Everything is checked here instead, in
// the order key → comparator → value, so each mistake gets one clear 400.
//
// Deliberate differences from MLflow 3.17.2:
// - `span.attributes.<attr>` accepts `=` and `!=` with exact-value semantics (MLflow's `=` never
//   matches) but not `IN`/`NOT IN`; double-quoted attribute names are unquoted too.
// - `name` and `run_id` accept `IN`/`NOT IN` (MLflow's store rejects them after its parser
//   accepted them); they also keep MLflow's `IS NULL`/`IS NOT NULL`.
// - Only attribute keys have aliases: MLflow also rewrites `tags.name`, `tags.run_id`,
//   `feedback.text`… as if they were `name`, `run_id`, `text`; here they are what they say.
// - Time keys take numbers or quoted numbers; a quoted non-number is a 400 (MLflow lets SQL
//   compare an integer column with text). Non-finite numbers are a 400.
// - `order_by` accepts `end_time`/`end_time_ms` (MLflow lists them, then fails with a 500), and a
//   repeated key is a 400, not a 500.
// - Lists are literal lists of quoted strings, as for runs.

use super::ast::FilterValue;
use super::clause::{
    self, invalid, invalid_attribute_key, is_reserved, list_expected, list_not_allowed,
    parse_clauses, parse_order_by, python_set, text_list, unquoted_value, ClauseComparator, Cursor,
    Identifier, RawValue, Test, ValueKind,
};
use super::lexer::{Quote, TokenKind};
use super::trace_ast::{TraceClause, TraceComparator, TraceKey, TraceOrderBy, TraceOrderKey};
use crate::Result;
use TraceComparator as C;

/// Reserved metadata that MLflow keeps as several numeric columns, so it can only be matched
/// whole and never ordered by.
const TOKEN_USAGE_METADATA: &str = "mlflow.trace.tokenUsage";
const COST_METADATA: &str = "mlflow.trace.cost";
/// The tag that is the trace name, and the metadata that is the source run: ordering by them is
/// ordering by `name` / `run_id`.
const TRACE_NAME_TAG: &str = "mlflow.traceName";
const SOURCE_RUN_METADATA: &str = "mlflow.sourceRun";
const SPAN_ATTRIBUTES_PREFIX: &str = "attributes.";

/// Parses a `SearchTracesV3` filter; an empty or blank filter is an empty conjunction.
pub fn parse_trace_filter(filter: &str) -> Result<Vec<TraceClause>> {
    parse_clauses(filter)?
        .into_iter()
        .map(trace_clause)
        .collect()
}

/// Parses `SearchTracesV3` `order_by` elements (`"timestamp_ms DESC"`, ``"tags.`a.b` ASC"``)
/// into the complete ordering: the given keys, then the tie-breakers `timestamp_ms DESC` and
/// `request_id ASC` unless those keys were given. No elements means newest first.
pub fn parse_trace_order_by(order_by: &[String]) -> Result<Vec<TraceOrderBy>> {
    // `order_key` makes equivalent spellings (`timestamp`/`timestamp_ms`,
    // `name`/`tags.mlflow.traceName`) one key, so they count as duplicates too, as in MLflow.
    let mut parsed: Vec<TraceOrderBy> = parse_order_by(order_by, order_key)?
        .into_iter()
        .map(|(key, ascending)| TraceOrderBy { key, ascending })
        .collect();
    for (key, ascending) in [
        (TraceOrderKey::TimestampMs, false),
        (TraceOrderKey::RequestId, true),
    ] {
        if !parsed.iter().any(|seen| seen.key == key) {
            parsed.push(TraceOrderBy { key, ascending });
        }
    }
    Ok(parsed)
}

// ---------------------------------------------------------------------------------------------
// Syntax: the trace grammar's identifiers and comparators; the rest is `clause.rs`.

type RawClause<'a> = clause::RawClause<'a, Ident<'a>, TraceComparator>;
type Op = clause::Op<TraceComparator>;

impl ClauseComparator for TraceComparator {
    const ALL: &'static [TraceComparator] = &[
        C::Eq,
        C::NotEq,
        C::Lt,
        C::LtEq,
        C::Gt,
        C::GtEq,
        C::Like,
        C::ILike,
        C::RLike,
        C::In,
        C::NotIn,
        C::IsNull,
        C::IsNotNull,
    ];
    const IS_NULL: TraceComparator = C::IsNull;
    const IS_NOT_NULL: TraceComparator = C::IsNotNull;

    fn spelling(self) -> &'static str {
        self.as_str()
    }
}

/// One dot-separated part of an identifier, without its quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Part<'a> {
    text: &'a str,
    quote: Option<Quote>,
}

/// An identifier such as `request_metadata."mlflow.trace.user"`, cut into its dotted parts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ident<'a> {
    /// Never empty.
    parts: Vec<Part<'a>>,
}

impl<'a> Ident<'a> {
    /// The entity, written before the first dot; `None` for a bare key.
    ///
    /// Backticks are stripped from it but double quotes are kept, so `"tags".x` is reported as
    /// the invalid entity `"tags"`, as MLflow does.
    fn entity(&self) -> Option<String> {
        if self.parts.len() < 2 {
            return None;
        }
        let first = self.parts[0];
        Some(match first.quote {
            Some(Quote::Double) => format!("\"{}\"", first.text),
            Some(Quote::Single) => format!("'{}'", first.text),
            _ => first.text.to_owned(),
        })
    }

    /// Everything after the first dot (or the whole identifier when there is none): the
    /// entity's key. Quoted parts contribute their contents, so `tags.`a.b`` and `tags.a.b`
    /// both name the tag `a.b`.
    fn key(&self) -> String {
        let skip = usize::from(self.parts.len() > 1);
        let texts: Vec<&str> = self.parts.iter().skip(skip).map(|part| part.text).collect();
        texts.join(".")
    }
}

impl<'a> Identifier<'a> for Ident<'a> {
    /// An identifier is a word or a backticked/double-quoted name, optionally chained without
    /// spaces to further quoted names across dots: `tags.`a.b``, `` `span`.attributes.`x` ``.
    fn read(cursor: &mut Cursor<'a>) -> Option<Ident<'a>> {
        let first = cursor.peek()?;
        let starts = match first.kind {
            TokenKind::Word => !is_reserved(first.text),
            TokenKind::Quoted(Quote::Backtick | Quote::Double) => true,
            _ => false,
        };
        if !starts {
            return None;
        }
        let mut chain = vec![first];
        let mut last = first;
        while let Some(next) = cursor.peek_nth(chain.len()) {
            if !last.touches(&next) {
                break;
            }
            let continues = match (last.kind, next.kind) {
                (TokenKind::Word, TokenKind::Quoted(_)) => last.text.ends_with('.'),
                (TokenKind::Quoted(_), TokenKind::Word) => next.text.starts_with('.'),
                _ => false,
            };
            if continues {
                chain.push(next);
                last = next;
                continue;
            }
            // Anything else glued to an identifier (`tags.a-b`, `tags.a"b"`) is outside the
            // grammar; operators and parentheses may touch it.
            if matches!(
                next.kind,
                TokenKind::Word | TokenKind::Number | TokenKind::Quoted(_) | TokenKind::Other
            ) {
                return None;
            }
            break;
        }
        cursor.advance(chain.len());

        let mut parts = Vec::new();
        for (index, token) in chain.iter().enumerate() {
            match token.kind {
                TokenKind::Quoted(quote) => {
                    // The word before ended with a dot, leaving an empty part this one fills.
                    if index > 0 {
                        parts.pop();
                    }
                    parts.push(Part {
                        text: token.unquoted(),
                        quote: Some(quote),
                    });
                }
                _ => {
                    let mut pieces = token.text.split('.');
                    // After a quoted part the word starts with the dot that separates them.
                    if index > 0 {
                        pieces.next();
                    }
                    parts.extend(pieces.map(|text| Part { text, quote: None }));
                }
            }
        }
        Some(Ident { parts })
    }
}

// ---------------------------------------------------------------------------------------------
// Entities and keys.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entity {
    Attribute,
    Tag,
    Metadata,
    Span,
    Feedback,
    Expectation,
    Issue,
}

/// Every spelling of an entity, for the invalid-entity message.
const ENTITY_NAMES: &[&str] = &[
    "attribute",
    "attributes",
    "trace",
    "tag",
    "tags",
    "request_metadata",
    "metadata",
    "span",
    "feedback",
    "expectation",
    "issue",
];

impl Entity {
    /// Entity names are case-sensitive, as in MLflow.
    fn of(ident: &Ident<'_>) -> Result<Entity> {
        let Some(name) = ident.entity() else {
            return Ok(Entity::Attribute);
        };
        Ok(match name.as_str() {
            "attribute" | "attributes" | "trace" => Entity::Attribute,
            "tag" | "tags" => Entity::Tag,
            "request_metadata" | "metadata" => Entity::Metadata,
            "span" => Entity::Span,
            "feedback" => Entity::Feedback,
            "expectation" => Entity::Expectation,
            "issue" => Entity::Issue,
            _ => {
                return Err(invalid(format!(
                    "Invalid entity type '{name}'. Valid values are {}",
                    python_set(ENTITY_NAMES.iter().copied())
                )))
            }
        })
    }

    fn name(self) -> &'static str {
        match self {
            Entity::Attribute => "attribute",
            Entity::Tag => "tag",
            Entity::Metadata => "request_metadata",
            Entity::Span => "span",
            Entity::Feedback => "feedback",
            Entity::Expectation => "expectation",
            Entity::Issue => "issue",
        }
    }
}

const FILTER_ATTRIBUTE_KEYS: &[&str] = &[
    "request_id",
    "client_request_id",
    "status",
    "timestamp",
    "timestamp_ms",
    "execution_time",
    "execution_time_ms",
    "end_time",
    "end_time_ms",
    "name",
    "run_id",
    "text",
    "prompt",
];

const ORDER_BY_ATTRIBUTE_KEYS: &[&str] = &[
    "experiment_id",
    "request_id",
    "status",
    "timestamp",
    "timestamp_ms",
    "execution_time",
    "execution_time_ms",
    "end_time",
    "end_time_ms",
    "name",
    "run_id",
];

/// Time keys, by every spelling, for the "numbers only here" message.
const NUMERIC_ATTRIBUTE_KEYS: &[&str] = &[
    "timestamp",
    "timestamp_ms",
    "execution_time",
    "execution_time_ms",
    "end_time",
    "end_time_ms",
];

/// Attribute keys that take `IN` lists.
const LIST_ATTRIBUTE_KEYS: &[&str] = &[
    "name",
    "status",
    "request_id",
    "run_id",
    "client_request_id",
];

fn trace_key(entity: Entity, key: &str) -> Result<TraceKey> {
    Ok(match entity {
        // Attribute keys are case-sensitive, as in MLflow.
        Entity::Attribute => match key {
            "status" => TraceKey::Status,
            "request_id" => TraceKey::RequestId,
            "client_request_id" => TraceKey::ClientRequestId,
            "timestamp" | "timestamp_ms" => TraceKey::TimestampMs,
            "execution_time" | "execution_time_ms" => TraceKey::ExecutionTimeMs,
            "end_time" | "end_time_ms" => TraceKey::EndTimeMs,
            "name" => TraceKey::Name,
            "run_id" => TraceKey::RunId,
            "text" => TraceKey::Text,
            "prompt" => TraceKey::Prompt,
            _ => return Err(invalid_attribute_key(key, FILTER_ATTRIBUTE_KEYS)),
        },
        Entity::Tag => TraceKey::Tag(key.to_owned()),
        Entity::Metadata => TraceKey::Metadata(key.to_owned()),
        Entity::Span => match key {
            "name" => TraceKey::SpanName,
            "type" => TraceKey::SpanType,
            "status" => TraceKey::SpanStatus,
            "content" => TraceKey::SpanContent,
            _ => match key.strip_prefix(SPAN_ATTRIBUTES_PREFIX) {
                Some("") => {
                    return Err(invalid(
                        "Span attribute name cannot be empty after 'attributes.'",
                    ))
                }
                Some(attribute) => TraceKey::SpanAttribute(attribute.to_owned()),
                None => {
                    return Err(invalid(format!(
                        "Invalid span attribute '{key}'. Supported attributes: content, name, status, type, attributes.<attribute_name>."
                    )))
                }
            },
        },
        Entity::Feedback | Entity::Expectation => {
            if key.is_empty() {
                return Err(invalid("Assessment field name cannot be empty"));
            }
            if entity == Entity::Feedback {
                TraceKey::Feedback(key.to_owned())
            } else {
                TraceKey::Expectation(key.to_owned())
            }
        }
        Entity::Issue => match key {
            "id" => TraceKey::IssueId,
            _ => {
                return Err(invalid(format!(
                    "Invalid issue attribute '{key}'. Supported attributes: id"
                )))
            }
        },
    })
}

fn order_key(ident: &Ident<'_>) -> Result<TraceOrderKey> {
    let key = ident.key();
    Ok(match Entity::of(ident)? {
        Entity::Attribute => match key.as_str() {
            "experiment_id" => TraceOrderKey::ExperimentId,
            "timestamp" | "timestamp_ms" => TraceOrderKey::TimestampMs,
            "execution_time" | "execution_time_ms" => TraceOrderKey::ExecutionTimeMs,
            "end_time" | "end_time_ms" => TraceOrderKey::EndTimeMs,
            "status" => TraceOrderKey::Status,
            "request_id" => TraceOrderKey::RequestId,
            "name" => TraceOrderKey::Name,
            "run_id" => TraceOrderKey::RunId,
            _ => return Err(invalid_attribute_key(&key, ORDER_BY_ATTRIBUTE_KEYS)),
        },
        Entity::Tag if key == TRACE_NAME_TAG => TraceOrderKey::Name,
        Entity::Tag => TraceOrderKey::Tag(key),
        Entity::Metadata if key == SOURCE_RUN_METADATA => TraceOrderKey::RunId,
        Entity::Metadata if key == TOKEN_USAGE_METADATA || key == COST_METADATA => {
            return Err(invalid(format!(
                "Ordering by reserved metadata '{key}' is not supported because it is represented by multiple columns."
            )))
        }
        Entity::Metadata => TraceOrderKey::Metadata(key),
        entity @ (Entity::Span | Entity::Feedback | Entity::Expectation | Entity::Issue) => {
            return Err(invalid(format!(
                "Invalid order_by entity '{}' with key '{key}'. Traces can be ordered by attributes, tags and request_metadata only.",
                entity.name()
            )))
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Comparators.

const STRING_ATTRIBUTE_COMPARATORS: &[TraceComparator] = &[
    C::Eq,
    C::NotEq,
    C::Like,
    C::ILike,
    C::RLike,
    C::In,
    C::NotIn,
];
/// `name` and `run_id` are a tag and a metadata key underneath, so they can also be absent.
const NULLABLE_ATTRIBUTE_COMPARATORS: &[TraceComparator] = &[
    C::Eq,
    C::NotEq,
    C::Like,
    C::ILike,
    C::RLike,
    C::In,
    C::NotIn,
    C::IsNull,
    C::IsNotNull,
];
const NUMERIC_COMPARATORS: &[TraceComparator] = &[C::Eq, C::NotEq, C::Lt, C::LtEq, C::Gt, C::GtEq];
const CONTENT_COMPARATORS: &[TraceComparator] = &[C::Like, C::ILike];
const EQUALITY_ONLY: &[TraceComparator] = &[C::Eq];
const TAG_AND_METADATA_COMPARATORS: &[TraceComparator] = &[
    C::Eq,
    C::NotEq,
    C::Like,
    C::ILike,
    C::RLike,
    C::IsNull,
    C::IsNotNull,
];
const WHOLE_JSON_METADATA_COMPARATORS: &[TraceComparator] =
    &[C::Eq, C::NotEq, C::IsNull, C::IsNotNull];
const SPAN_ATTRIBUTE_COMPARATORS: &[TraceComparator] =
    &[C::Eq, C::NotEq, C::Like, C::ILike, C::RLike];
const ASSESSMENT_COMPARATORS: &[TraceComparator] = &[
    C::Eq,
    C::NotEq,
    C::Lt,
    C::LtEq,
    C::Gt,
    C::GtEq,
    C::Like,
    C::ILike,
    C::RLike,
    C::IsNull,
    C::IsNotNull,
];

fn allowed_comparators(key: &TraceKey) -> &'static [TraceComparator] {
    match key {
        TraceKey::Status | TraceKey::RequestId | TraceKey::ClientRequestId => {
            STRING_ATTRIBUTE_COMPARATORS
        }
        TraceKey::Name | TraceKey::RunId => NULLABLE_ATTRIBUTE_COMPARATORS,
        TraceKey::TimestampMs | TraceKey::ExecutionTimeMs | TraceKey::EndTimeMs => {
            NUMERIC_COMPARATORS
        }
        TraceKey::Text | TraceKey::SpanContent => CONTENT_COMPARATORS,
        TraceKey::Prompt | TraceKey::IssueId => EQUALITY_ONLY,
        TraceKey::Metadata(key) if is_whole_json_metadata(key) => WHOLE_JSON_METADATA_COMPARATORS,
        TraceKey::Tag(_) | TraceKey::Metadata(_) => TAG_AND_METADATA_COMPARATORS,
        TraceKey::SpanName | TraceKey::SpanType | TraceKey::SpanStatus => {
            STRING_ATTRIBUTE_COMPARATORS
        }
        TraceKey::SpanAttribute(_) => SPAN_ATTRIBUTE_COMPARATORS,
        TraceKey::Feedback(_) | TraceKey::Expectation(_) => ASSESSMENT_COMPARATORS,
    }
}

fn is_whole_json_metadata(key: &str) -> bool {
    key == TOKEN_USAGE_METADATA || key == COST_METADATA
}

fn check_comparator(
    entity: Entity,
    written_key: &str,
    key: &TraceKey,
    op: &Op,
) -> Result<TraceComparator> {
    let allowed = allowed_comparators(key);
    if let Op::Known(comparator) = op {
        if allowed.contains(comparator) {
            return Ok(*comparator);
        }
    }
    let op = op.name();
    Err(invalid(match key {
        TraceKey::Prompt => format!(
            "Invalid comparator '{op}' for prompts filter. Only '=' is supported with format: prompt = \"name/version\""
        ),
        TraceKey::Metadata(key) if is_whole_json_metadata(key) => format!(
            "Comparator '{op}' is not supported for reserved metadata '{key}'. Only '=', '!=', 'IS NULL', and 'IS NOT NULL' are supported."
        ),
        _ => {
            let subject = match entity {
                Entity::Span | Entity::Issue => format!("'{}.{written_key}'", entity.name()),
                _ => format!("{} '{written_key}'", entity.name()),
            };
            format!(
                "Invalid comparator '{op}' for {subject}. Valid comparators are {}",
                python_set(allowed.iter().map(|c| c.as_str()))
            )
        }
    }))
}

// ---------------------------------------------------------------------------------------------
// Clauses and values.

fn trace_clause(clause: RawClause<'_>) -> Result<TraceClause> {
    let entity = Entity::of(&clause.ident)?;
    let written_key = clause.ident.key();
    let key = trace_key(entity, &written_key)?;
    let (op, raw) = match clause.test {
        Test::Presence(comparator) => (Op::Known(comparator), None),
        Test::Compare(op, raw) => (op, Some(raw)),
    };
    let comparator = check_comparator(entity, &written_key, &key, &op)?;
    let value = match raw {
        None => FilterValue::None,
        Some(raw) => clause_value(entity, &written_key, &key, comparator, &raw)?,
    };
    Ok(TraceClause {
        key,
        comparator,
        value,
    })
}

/// Checks a right-hand side against its key and (already valid) comparator.
fn clause_value(
    entity: Entity,
    written_key: &str,
    key: &TraceKey,
    comparator: TraceComparator,
    raw: &RawValue<'_>,
) -> Result<FilterValue> {
    let takes_list = matches!(comparator, C::In | C::NotIn);
    match (&raw.kind, takes_list) {
        (ValueKind::List(items), true) => return text_list(items, raw.text),
        (_, true) => return Err(list_expected(comparator.as_str(), raw.text)),
        (ValueKind::List(_), false) => {
            // MLflow's wording where a list reaches a key that never takes one.
            if entity == Entity::Attribute && !LIST_ATTRIBUTE_KEYS.contains(&written_key) {
                return Err(invalid(format!(
                    "Only attributes in {} support comparison with a list of quoted string values.",
                    python_set(LIST_ATTRIBUTE_KEYS.iter().copied())
                )));
            }
            return Err(list_not_allowed(comparator.as_str()));
        }
        (_, false) => {}
    }
    if matches!(
        key,
        TraceKey::TimestampMs | TraceKey::ExecutionTimeMs | TraceKey::EndTimeMs
    ) {
        return time_value(written_key, raw);
    }
    let is_assessment = matches!(key, TraceKey::Feedback(_) | TraceKey::Expectation(_));
    if is_assessment && matches!(comparator, C::Lt | C::LtEq | C::Gt | C::GtEq) {
        let number = match raw.kind {
            ValueKind::Number => finite(raw.text),
            _ => None,
        };
        return number.map(FilterValue::Number).ok_or_else(|| {
            invalid(format!(
                "Expected a numeric value for {} when using comparator '{comparator}'. Got value {}",
                entity.name(),
                raw.text
            ))
        });
    }
    let text = match raw.kind {
        ValueKind::Text(text) => text,
        ValueKind::Unquoted => return Err(unquoted_value(raw.text)),
        _ if entity == Entity::Attribute => {
            return Err(invalid(format!(
                "Only the {} attributes support comparison with numeric values.",
                python_set(NUMERIC_ATTRIBUTE_KEYS.iter().copied())
            )))
        }
        _ => {
            return Err(invalid(format!(
                "Expected a quoted string value for {} (e.g. 'my-value'). Got value {}",
                entity.name(),
                raw.text
            )))
        }
    };
    if *key == TraceKey::Prompt && text.matches('/').count() != 1 {
        return Err(invalid(format!(
            "Invalid prompts filter value '{text}'. Expected format: prompt = \"name/version\""
        )));
    }
    Ok(FilterValue::Text(text.to_owned()))
}

/// A time in milliseconds: an integer when written as one, else a finite number. Quoted
/// numbers are accepted because MLflow's SQL comparison coerces them.
fn time_value(written_key: &str, raw: &RawValue<'_>) -> Result<FilterValue> {
    let literal = match raw.kind {
        ValueKind::Number => Some(raw.text),
        ValueKind::Text(text) => Some(text.trim()),
        _ => None,
    };
    let value = literal.and_then(|literal| {
        literal
            .parse::<i64>()
            .ok()
            .map(FilterValue::Integer)
            .or_else(|| finite(literal).map(FilterValue::Number))
    });
    value.ok_or_else(|| {
        invalid(format!(
            "Expected numeric value type for numeric attribute: {written_key}. Found {}",
            raw.text
        ))
    })
}

fn finite(literal: &str) -> Option<f64> {
    literal
        .parse::<f64>()
        .ok()
        .filter(|number| number.is_finite())
}

#[cfg(test)]
mod tests;

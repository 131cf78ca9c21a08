//! Parses the `SearchTracesV3` filter and `order_by` grammar into the trace AST (spec tracing.md §4.3–4.4).
//
// The tokens are the run grammar's (`lexer.rs`), so quoting behaves identically: `'it''s'` stays
// `it''s`, as MLflow leaves it. The syntax layer is this file's own because the trace grammar
// differs where it matters: identifiers can chain quoted parts (`span.attributes.`a.b``), values
// can be numbers for feedback, and there is `RLIKE`.
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
use super::lexer::{tokenize, Quote, Token, TokenKind, UnterminatedQuote};
use super::trace_ast::{TraceClause, TraceComparator, TraceKey, TraceOrderBy, TraceOrderKey};
use crate::{CoreError, Result};
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
    let mut parsed: Vec<TraceOrderBy> = Vec::with_capacity(order_by.len() + 2);
    for clause in order_by {
        let (ident, ascending) = parse_order_by_clause(clause)?;
        let key = order_key(&ident)?;
        // Equivalent spellings (`timestamp`/`timestamp_ms`, `name`/`tags.mlflow.traceName`) are
        // one key by now, so they count as duplicates too, as in MLflow.
        if parsed.iter().any(|seen| seen.key == key) {
            let fields: Vec<String> = order_by.iter().map(|c| format!("'{c}'")).collect();
            return Err(invalid(format!(
                "`order_by` contains duplicate fields: [{}]",
                fields.join(", ")
            )));
        }
        parsed.push(TraceOrderBy { key, ascending });
    }
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
// Syntax: tokens to entity-agnostic clauses.

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

/// A comparator as written; `Unknown` keeps operators no key allows (`<>`, `==`, `NOT LIKE`,
/// `REGEXP`) so the comparator error can name them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Known(TraceComparator),
    Unknown(String),
}

impl Op {
    fn from_symbol(symbol: &str) -> Op {
        Op::Known(match symbol {
            "=" => TraceComparator::Eq,
            "!=" => TraceComparator::NotEq,
            "<" => TraceComparator::Lt,
            "<=" => TraceComparator::LtEq,
            ">" => TraceComparator::Gt,
            ">=" => TraceComparator::GtEq,
            _ => return Op::Unknown(symbol.to_owned()),
        })
    }

    fn name(&self) -> &str {
        match self {
            Op::Known(comparator) => comparator.as_str(),
            Op::Unknown(text) => text,
        }
    }
}

/// A right-hand side before it is checked against its key.
#[derive(Debug, Clone, PartialEq)]
struct RawValue<'a> {
    kind: ValueKind<'a>,
    /// As written, quotes and parentheses included, for messages.
    text: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
enum ValueKind<'a> {
    Number,
    /// The contents of a single- or double-quoted string, escapes left as written.
    Text(&'a str),
    /// A bare word or a backticked name where a value belongs.
    Unquoted,
    List(Vec<ListItem<'a>>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ListItem<'a> {
    Text(&'a str),
    Number,
}

#[derive(Debug, Clone, PartialEq)]
enum Test<'a> {
    /// `IS NULL` or `IS NOT NULL`.
    Presence(TraceComparator),
    Compare(Op, RawValue<'a>),
}

#[derive(Debug, Clone, PartialEq)]
struct RawClause<'a> {
    ident: Ident<'a>,
    test: Test<'a>,
}

fn parse_clauses(filter: &str) -> Result<Vec<RawClause<'_>>> {
    let tokens = tokenize(filter).map_err(|error| unterminated_quote(filter, error))?;
    let mut parser = Parser {
        input: filter,
        tokens,
        next: 0,
    };
    let mut clauses = Vec::new();
    loop {
        // Stray ANDs (leading, trailing, doubled) are ignored, as MLflow does, so filters
        // assembled by joining parts keep working.
        while parser.eat_keyword("AND") {}
        if parser.peek().is_none() {
            return Ok(clauses);
        }
        clauses.push(parser.clause()?);
        match parser.peek() {
            Some(next) if next.text == ";" && parser.tokens.len() > parser.next + 1 => {
                return Err(invalid(format!(
                    "Search filter contained multiple expression '{filter}'. Provide AND-ed expression list."
                )));
            }
            // This is where `OR` lands: "Invalid clause(s) in filter string: 'OR'".
            Some(next) if !next.is_keyword("AND") => return Err(parser.invalid_clause(parser.next)),
            _ => {}
        }
    }
}

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token<'a>>,
    /// Index of the next unconsumed token.
    next: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<Token<'a>> {
        self.tokens.get(self.next).copied()
    }

    fn bump(&mut self) -> Option<Token<'a>> {
        let token = self.peek();
        if token.is_some() {
            self.next += 1;
        }
        token
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        match self.peek() {
            Some(token) if token.is_keyword(keyword) => {
                self.next += 1;
                true
            }
            _ => false,
        }
    }

    /// The identifier at the cursor, or `None` with the cursor unmoved.
    ///
    /// An identifier is a word or a backticked/double-quoted name, optionally chained without
    /// spaces to further quoted names across dots: `tags.`a.b``, `` `span`.attributes.`x` ``.
    fn ident(&mut self) -> Option<Ident<'a>> {
        let first = self.peek()?;
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
        while let Some(next) = self.tokens.get(self.next + chain.len()).copied() {
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
        self.next += chain.len();

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

    fn clause(&mut self) -> Result<RawClause<'a>> {
        let start = self.next;
        let Some(ident) = self.ident() else {
            return Err(match self.peek() {
                Some(token) if token.kind == TokenKind::Quoted(Quote::Single) => invalid(format!(
                    "Invalid comparison clause. Expected 'Identifier' found '{}'",
                    token.text
                )),
                _ => self.invalid_clause(start),
            });
        };
        let test = self.test(start)?;
        Ok(RawClause { ident, test })
    }

    fn test(&mut self, clause_start: usize) -> Result<Test<'a>> {
        let token = self
            .bump()
            .ok_or_else(|| self.incomplete_clause(clause_start))?;
        let op = match token.kind {
            TokenKind::Operator => Op::from_symbol(token.text),
            TokenKind::Word => match token.text.to_ascii_uppercase().as_str() {
                "LIKE" => Op::Known(TraceComparator::Like),
                "ILIKE" => Op::Known(TraceComparator::ILike),
                "RLIKE" => Op::Known(TraceComparator::RLike),
                "IN" => Op::Known(TraceComparator::In),
                "REGEXP" => Op::Unknown("REGEXP".to_owned()),
                "IS" => {
                    let negated = self.eat_keyword("NOT");
                    if !self.eat_keyword("NULL") {
                        return Err(self.incomplete_clause(clause_start));
                    }
                    return Ok(Test::Presence(if negated {
                        TraceComparator::IsNotNull
                    } else {
                        TraceComparator::IsNull
                    }));
                }
                "NOT" => {
                    let negated = self.bump().map(|next| next.text.to_ascii_uppercase());
                    match negated.as_deref() {
                        Some("IN") => Op::Known(TraceComparator::NotIn),
                        Some(word @ ("LIKE" | "ILIKE" | "RLIKE" | "REGEXP")) => {
                            Op::Unknown(format!("NOT {word}"))
                        }
                        _ => return Err(self.incomplete_clause(clause_start)),
                    }
                }
                _ => return Err(self.incomplete_clause(clause_start)),
            },
            _ => return Err(self.incomplete_clause(clause_start)),
        };
        let value = self.value(clause_start)?;
        Ok(Test::Compare(op, value))
    }

    fn value(&mut self, clause_start: usize) -> Result<RawValue<'a>> {
        let token = self
            .bump()
            .ok_or_else(|| self.incomplete_clause(clause_start))?;
        let kind = match token.kind {
            TokenKind::Number => ValueKind::Number,
            TokenKind::Quoted(Quote::Single | Quote::Double) => ValueKind::Text(token.unquoted()),
            TokenKind::Quoted(Quote::Backtick) | TokenKind::Word => ValueKind::Unquoted,
            TokenKind::OpenParen => return self.list(token),
            _ => return Err(self.incomplete_clause(clause_start)),
        };
        Ok(RawValue {
            kind,
            text: token.text,
        })
    }

    /// The rest of a `(…)` list whose opening parenthesis has just been consumed.
    fn list(&mut self, open: Token<'a>) -> Result<RawValue<'a>> {
        let mut items = Vec::new();
        let close = loop {
            let token = self.bump().ok_or_else(ill_formed_list)?;
            match token.kind {
                // `()` is well-formed but empty: the value check reports that.
                TokenKind::CloseParen => break token,
                TokenKind::Number => items.push(ListItem::Number),
                TokenKind::Quoted(Quote::Single | Quote::Double) => {
                    items.push(ListItem::Text(token.unquoted()));
                }
                _ => return Err(ill_formed_list()),
            }
            let separator = self.bump().ok_or_else(ill_formed_list)?;
            match separator.kind {
                TokenKind::Comma => {}
                TokenKind::CloseParen => break separator,
                _ => return Err(ill_formed_list()),
            }
        };
        Ok(RawValue {
            kind: ValueKind::List(items),
            text: self.input.get(open.start..close.end()).unwrap_or_default(),
        })
    }

    /// MLflow's message for tokens that do not form a clause, naming the ones at `index`.
    fn invalid_clause(&self, index: usize) -> CoreError {
        let text = self.tokens.get(index).map_or("", |first| {
            self.input
                .get(first.start..self.chunk_end(index))
                .unwrap_or_default()
        });
        invalid(format!("Invalid clause(s) in filter string: '{text}'"))
    }

    /// The same message for a clause cut short, naming it from its start to where it broke.
    fn incomplete_clause(&self, clause_start: usize) -> CoreError {
        let Some(first) = self.tokens.get(clause_start) else {
            return self.invalid_clause(clause_start);
        };
        let end = self.chunk_end(self.next.saturating_sub(1).max(clause_start));
        invalid(format!(
            "Invalid clause(s) in filter string: '{}'",
            self.input.get(first.start..end).unwrap_or_default()
        ))
    }

    /// End offset of the chunk an error names: a whole parenthesized group, or a token with
    /// everything glued to it.
    fn chunk_end(&self, index: usize) -> usize {
        let rest = self.tokens.get(index..).unwrap_or_default();
        let Some(first) = rest.first() else {
            return self.input.len();
        };
        let last = if first.kind == TokenKind::OpenParen {
            let mut depth = 0usize;
            rest.iter()
                .find(|token| {
                    match token.kind {
                        TokenKind::OpenParen => depth += 1,
                        TokenKind::CloseParen => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                    depth == 0
                })
                .or(rest.last())
        } else {
            rest.windows(2)
                .take_while(|pair| pair[0].touches(&pair[1]))
                .last()
                .map_or(Some(first), |pair| pair.get(1))
        };
        last.map_or(self.input.len(), Token::end)
    }
}

/// Words that never start an identifier: only AND-ed comparisons are supported.
fn is_reserved(word: &str) -> bool {
    ["AND", "OR", "NOT"]
        .iter()
        .any(|reserved| word.eq_ignore_ascii_case(reserved))
}

/// `<ident> [ASC|DESC]`, as an identifier and whether it sorts ascending.
fn parse_order_by_clause(clause: &str) -> Result<(Ident<'_>, bool)> {
    let unparsable = || {
        invalid(format!(
            "Invalid order_by clause '{clause}'. Could not be parsed."
        ))
    };
    let tokens = tokenize(clause).map_err(|_| unparsable())?;
    let mut parser = Parser {
        input: clause,
        tokens,
        next: 0,
    };
    let ident = parser.ident().ok_or_else(unparsable)?;
    let ascending = match parser.bump() {
        None => true,
        Some(direction) if direction.is_keyword("ASC") => true,
        Some(direction) if direction.is_keyword("DESC") => false,
        Some(direction) if direction.kind == TokenKind::Word => {
            return Err(invalid(format!(
                "Invalid ordering key in order_by clause '{clause}'."
            )))
        }
        Some(_) => return Err(unparsable()),
    };
    if parser.peek().is_some() {
        return Err(unparsable());
    }
    Ok((ident, ascending))
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

fn invalid_attribute_key(key: &str, valid: &[&str]) -> CoreError {
    invalid(format!(
        "Invalid attribute key '{key}' specified. Valid keys are '{}'",
        python_set(valid.iter().copied())
    ))
}

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
        (_, true) => {
            return Err(invalid(format!(
                "Expected a parenthesized list of values after '{comparator}', e.g. ('a', 'b'). Got value {}",
                raw.text
            )))
        }
        (ValueKind::List(_), false) => {
            // MLflow's wording where a list reaches a key that never takes one.
            if entity == Entity::Attribute && !LIST_ATTRIBUTE_KEYS.contains(&written_key) {
                return Err(invalid(format!(
                    "Only attributes in {} support comparison with a list of quoted string values.",
                    python_set(LIST_ATTRIBUTE_KEYS.iter().copied())
                )));
            }
            return Err(invalid(format!(
                "A list of values can only be compared with 'IN' or 'NOT IN', not '{comparator}'"
            )));
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

fn text_list(items: &[ListItem<'_>], list_text: &str) -> Result<FilterValue> {
    if items.is_empty() {
        return Err(invalid(
            "While parsing a list in the query, expected a non-empty list of string values, but got empty list",
        ));
    }
    let texts = items.iter().map(|item| match item {
        ListItem::Text(text) => Ok((*text).to_owned()),
        ListItem::Number => Err(invalid(format!(
            "While parsing a list in the query, expected string value, punctuation, or whitespace, but got different type in list: {list_text}"
        ))),
    });
    texts.collect::<Result<_>>().map(FilterValue::TextList)
}

// ---------------------------------------------------------------------------------------------
// Messages.

fn invalid(message: impl Into<String>) -> CoreError {
    CoreError::invalid_parameter(message)
}

/// A set as Python prints it, which is how MLflow's messages show valid keys and comparators.
fn python_set<'s>(items: impl IntoIterator<Item = &'s str>) -> String {
    let quoted: Vec<String> = items.into_iter().map(|item| format!("'{item}'")).collect();
    format!("{{{}}}", quoted.join(", "))
}

fn unquoted_value(text: &str) -> CoreError {
    invalid(format!(
        "Parameter value is either not quoted or unidentified quote types used for string value {text}. Use either single or double quotes."
    ))
}

fn ill_formed_list() -> CoreError {
    invalid("While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list.")
}

fn unterminated_quote(filter: &str, error: UnterminatedQuote) -> CoreError {
    let position = filter
        .get(..error.start)
        .map_or(0, |before| before.chars().count())
        + 1;
    invalid(format!(
        "Invalid filter '{filter}'. Could not be parsed: the quote at character {position} is never closed."
    ))
}

#[cfg(test)]
mod tests;

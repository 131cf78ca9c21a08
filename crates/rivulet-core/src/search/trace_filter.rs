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
mod tests {
    use super::*;
    use crate::ErrorCode;
    use proptest::prelude::*;
    use std::fmt;

    fn clauses(filter: &str) -> Vec<TraceClause> {
        parse_trace_filter(filter).unwrap_or_else(|e| panic!("{filter:?}: {}", e.message))
    }

    fn one(filter: &str) -> TraceClause {
        let mut parsed = clauses(filter);
        assert_eq!(parsed.len(), 1, "{filter:?}");
        parsed.remove(0)
    }

    fn key_of(filter: &str) -> TraceKey {
        one(filter).key
    }

    fn message(result: Result<impl fmt::Debug>) -> String {
        let error = result.expect_err("expected an error");
        assert_eq!(error.code, ErrorCode::InvalidParameterValue);
        error.message
    }

    fn error(filter: &str) -> String {
        message(parse_trace_filter(filter))
    }

    fn clause(key: TraceKey, comparator: TraceComparator, value: FilterValue) -> TraceClause {
        TraceClause {
            key,
            comparator,
            value,
        }
    }

    fn text(value: &str) -> FilterValue {
        FilterValue::Text(value.to_owned())
    }

    fn texts(values: &[&str]) -> FilterValue {
        FilterValue::TextList(values.iter().map(|v| (*v).to_owned()).collect())
    }

    fn tag(key: &str) -> TraceKey {
        TraceKey::Tag(key.to_owned())
    }

    fn metadata(key: &str) -> TraceKey {
        TraceKey::Metadata(key.to_owned())
    }

    fn span_attribute(key: &str) -> TraceKey {
        TraceKey::SpanAttribute(key.to_owned())
    }

    fn order_by(elements: &[&str]) -> Result<Vec<TraceOrderBy>> {
        let owned: Vec<String> = elements.iter().map(|e| (*e).to_owned()).collect();
        parse_trace_order_by(&owned)
    }

    fn order(key: TraceOrderKey, ascending: bool) -> TraceOrderBy {
        TraceOrderBy { key, ascending }
    }

    /// The parsed keys of `elements`, without the tie-breakers appended after them.
    fn order_keys(elements: &[&str]) -> Vec<(TraceOrderKey, bool)> {
        let parsed = order_by(elements).unwrap_or_else(|e| panic!("{elements:?}: {}", e.message));
        parsed
            .into_iter()
            .take(elements.len())
            .map(|o| (o.key, o.ascending))
            .collect()
    }

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

    // --- Values -------------------------------------------------------------------------------

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

    // --- order_by -----------------------------------------------------------------------------

    #[test]
    fn default_order_is_newest_first_then_request_id() {
        assert_eq!(
            order_by(&[]).unwrap(),
            vec![
                order(TraceOrderKey::TimestampMs, false),
                order(TraceOrderKey::RequestId, true)
            ]
        );
    }

    #[test]
    fn order_by_keys_and_aliases() {
        let cases = [
            ("experiment_id", TraceOrderKey::ExperimentId, true),
            ("timestamp DESC", TraceOrderKey::TimestampMs, false),
            ("timestamp_ms asc", TraceOrderKey::TimestampMs, true),
            (
                "attributes.timestamp_ms DESC",
                TraceOrderKey::TimestampMs,
                false,
            ),
            ("execution_time", TraceOrderKey::ExecutionTimeMs, true),
            (
                "trace.execution_time_ms DeSc",
                TraceOrderKey::ExecutionTimeMs,
                false,
            ),
            ("end_time", TraceOrderKey::EndTimeMs, true),
            ("end_time_ms DESC", TraceOrderKey::EndTimeMs, false),
            ("status", TraceOrderKey::Status, true),
            ("request_id DESC", TraceOrderKey::RequestId, false),
            ("name", TraceOrderKey::Name, true),
            ("run_id", TraceOrderKey::RunId, true),
            ("tags.k", TraceOrderKey::Tag("k".to_owned()), true),
            (
                "tag.`a.b` DESC",
                TraceOrderKey::Tag("a.b".to_owned()),
                false,
            ),
            ("tags.mlflow.traceName DESC", TraceOrderKey::Name, false),
            ("metadata.k", TraceOrderKey::Metadata("k".to_owned()), true),
            (
                "request_metadata.\"mlflow.trace.user\" DESC",
                TraceOrderKey::Metadata("mlflow.trace.user".to_owned()),
                false,
            ),
            (
                "request_metadata.mlflow.trace.session",
                TraceOrderKey::Metadata("mlflow.trace.session".to_owned()),
                true,
            ),
            ("metadata.mlflow.sourceRun", TraceOrderKey::RunId, true),
            ("  timestamp_ms   DESC ", TraceOrderKey::TimestampMs, false),
        ];
        for (element, key, ascending) in cases {
            assert_eq!(order_keys(&[element]), vec![(key, ascending)], "{element}");
        }
    }

    #[test]
    fn tie_breakers_are_appended_unless_given() {
        assert_eq!(
            order_by(&["name"]).unwrap(),
            vec![
                order(TraceOrderKey::Name, true),
                order(TraceOrderKey::TimestampMs, false),
                order(TraceOrderKey::RequestId, true)
            ]
        );
        assert_eq!(
            order_by(&["timestamp ASC"]).unwrap(),
            vec![
                order(TraceOrderKey::TimestampMs, true),
                order(TraceOrderKey::RequestId, true)
            ]
        );
        assert_eq!(
            order_by(&["request_id DESC", "timestamp_ms"]).unwrap(),
            vec![
                order(TraceOrderKey::RequestId, false),
                order(TraceOrderKey::TimestampMs, true)
            ]
        );
    }

    #[test]
    fn duplicate_order_by_keys_are_a_400() {
        for elements in [
            &["timestamp", "timestamp_ms DESC"],
            &["name", "tags.mlflow.traceName"],
            &["run_id", "metadata.mlflow.sourceRun"],
            &["tags.a", "tag.`a`"],
            &["status", "status DESC"],
        ] {
            let quoted: Vec<String> = elements.iter().map(|e| format!("'{e}'")).collect();
            assert_eq!(
                message(order_by(elements)),
                format!(
                    "`order_by` contains duplicate fields: [{}]",
                    quoted.join(", ")
                ),
                "{elements:?}"
            );
        }
        // The same name under different entities is not a duplicate.
        assert_eq!(order_keys(&["tags.a", "metadata.a"]).len(), 2);
    }

    #[test]
    fn order_by_errors() {
        let cases = [
            ("", "Invalid order_by clause ''. Could not be parsed."),
            ("timestamp DESC name", "Invalid order_by clause 'timestamp DESC name'. Could not be parsed."),
            ("timestamp, name", "Invalid order_by clause 'timestamp, name'. Could not be parsed."),
            ("'name'", "Invalid order_by clause ''name''. Could not be parsed."),
            ("tags.`a", "Invalid order_by clause 'tags.`a'. Could not be parsed."),
            ("timestamp UP", "Invalid ordering key in order_by clause 'timestamp UP'."),
            (
                "client_request_id",
                "Invalid attribute key 'client_request_id' specified. Valid keys are '{'experiment_id', 'request_id', 'status', 'timestamp', 'timestamp_ms', 'execution_time', 'execution_time_ms', 'end_time', 'end_time_ms', 'name', 'run_id'}'",
            ),
            (
                "metadata.mlflow.trace.tokenUsage",
                "Ordering by reserved metadata 'mlflow.trace.tokenUsage' is not supported because it is represented by multiple columns.",
            ),
            (
                "request_metadata.`mlflow.trace.cost` DESC",
                "Ordering by reserved metadata 'mlflow.trace.cost' is not supported because it is represented by multiple columns.",
            ),
            (
                "span.name",
                "Invalid order_by entity 'span' with key 'name'. Traces can be ordered by attributes, tags and request_metadata only.",
            ),
            (
                "feedback.score DESC",
                "Invalid order_by entity 'feedback' with key 'score'. Traces can be ordered by attributes, tags and request_metadata only.",
            ),
            ("params.x", "Invalid entity type 'params'. Valid values are {'attribute', 'attributes', 'trace', 'tag', 'tags', 'request_metadata', 'metadata', 'span', 'feedback', 'expectation', 'issue'}"),
        ];
        for (element, expected) in cases {
            assert_eq!(message(order_by(&[element])), expected, "{element}");
        }
    }

    // --- Properties ---------------------------------------------------------------------------

    /// Renders a clause back into filter syntax, backticking free-form keys so any text survives.
    fn render(clause: &TraceClause) -> String {
        let ident = match &clause.key {
            TraceKey::Status => "status".to_owned(),
            TraceKey::RequestId => "attributes.request_id".to_owned(),
            TraceKey::ClientRequestId => "trace.client_request_id".to_owned(),
            TraceKey::TimestampMs => "timestamp_ms".to_owned(),
            TraceKey::ExecutionTimeMs => "attribute.execution_time".to_owned(),
            TraceKey::EndTimeMs => "end_time".to_owned(),
            TraceKey::Name => "name".to_owned(),
            TraceKey::RunId => "run_id".to_owned(),
            TraceKey::Text => "text".to_owned(),
            TraceKey::Prompt => "prompt".to_owned(),
            TraceKey::Tag(key) => format!("tags.`{key}`"),
            TraceKey::Metadata(key) => format!("request_metadata.`{key}`"),
            TraceKey::SpanName => "span.name".to_owned(),
            TraceKey::SpanType => "span.type".to_owned(),
            TraceKey::SpanStatus => "span.status".to_owned(),
            TraceKey::SpanContent => "span.content".to_owned(),
            TraceKey::SpanAttribute(key) => format!("span.attributes.`{key}`"),
            TraceKey::Feedback(key) => format!("feedback.`{key}`"),
            TraceKey::Expectation(key) => format!("expectation.`{key}`"),
            TraceKey::IssueId => "issue.id".to_owned(),
        };
        let quoted = |text: &String| {
            if text.contains('\'') {
                format!("\"{text}\"")
            } else {
                format!("'{text}'")
            }
        };
        let op = clause.comparator.as_str();
        match &clause.value {
            FilterValue::None => format!("{ident} {op}"),
            FilterValue::Number(number) => format!("{ident} {op} {number}"),
            FilterValue::Integer(number) => format!("{ident} {op} {number}"),
            FilterValue::Text(value) => format!("{ident} {op} {}", quoted(value)),
            FilterValue::TextList(values) => {
                let items: Vec<String> = values.iter().map(quoted).collect();
                format!("{ident} {op} ({})", items.join(", "))
            }
            FilterValue::IntegerList(_) => unreachable!("traces have no integer lists"),
        }
    }

    /// Any text without backslashes that is not both single- and double-quoted.
    fn string_value() -> impl Strategy<Value = String> {
        prop_oneof!["[^'\\\\]{0,12}", "[^\"\\\\]{0,12}"]
    }

    fn comparators(list: &'static [TraceComparator]) -> impl Strategy<Value = TraceComparator> {
        prop::sample::select(list.to_vec())
    }

    fn trace_clause_strategy() -> impl Strategy<Value = TraceClause> {
        let free_key = "[^`]{0,12}";
        let named_key = "[^`]{1,12}";
        let string_attribute = prop::sample::select(vec![
            TraceKey::Status,
            TraceKey::RequestId,
            TraceKey::ClientRequestId,
            TraceKey::Name,
            TraceKey::RunId,
            TraceKey::SpanName,
            TraceKey::SpanType,
            TraceKey::SpanStatus,
        ]);
        let time_key = prop::sample::select(vec![
            TraceKey::TimestampMs,
            TraceKey::ExecutionTimeMs,
            TraceKey::EndTimeMs,
        ]);
        let fraction = any::<f64>()
            .prop_filter("finite, not integral", |n| {
                n.is_finite() && n.fract() != 0.0
            })
            .prop_map(FilterValue::Number);
        let time_value = prop_oneof![any::<i64>().prop_map(FilterValue::Integer), fraction];
        let finite = any::<f64>()
            .prop_filter("finite", |n| n.is_finite())
            .prop_map(FilterValue::Number);
        let tag_or_metadata = (free_key, any::<bool>()).prop_map(|(key, is_tag)| {
            if is_tag {
                TraceKey::Tag(key)
            } else {
                TraceKey::Metadata(key)
            }
        });
        let assessment = (named_key, any::<bool>()).prop_map(|(key, is_feedback)| {
            if is_feedback {
                TraceKey::Feedback(key)
            } else {
                TraceKey::Expectation(key)
            }
        });
        let nullable = prop_oneof![
            tag_or_metadata.clone(),
            assessment.clone(),
            Just(TraceKey::Name),
            Just(TraceKey::RunId)
        ];
        prop_oneof![
            (
                string_attribute.clone(),
                comparators(&[C::Eq, C::NotEq, C::Like, C::ILike, C::RLike]),
                string_value()
            )
                .prop_map(|(key, c, v)| clause(key, c, FilterValue::Text(v))),
            (
                string_attribute,
                comparators(&[C::In, C::NotIn]),
                prop::collection::vec(string_value(), 1..4)
            )
                .prop_map(|(key, c, v)| clause(key, c, FilterValue::TextList(v))),
            (time_key, comparators(NUMERIC_COMPARATORS), time_value)
                .prop_map(|(key, c, v)| clause(key, c, v)),
            (
                prop::sample::select(vec![TraceKey::Text, TraceKey::SpanContent]),
                comparators(CONTENT_COMPARATORS),
                string_value()
            )
                .prop_map(|(key, c, v)| clause(key, c, FilterValue::Text(v))),
            ("[^/'\"\\\\]{0,6}", "[^/'\"\\\\]{0,6}").prop_map(|(name, version)| clause(
                TraceKey::Prompt,
                C::Eq,
                FilterValue::Text(format!("{name}/{version}"))
            )),
            (
                tag_or_metadata,
                comparators(&[C::Eq, C::NotEq, C::Like, C::ILike, C::RLike]),
                string_value()
            )
                .prop_map(|(key, c, v)| clause(key, c, FilterValue::Text(v))),
            (nullable, comparators(&[C::IsNull, C::IsNotNull])).prop_map(|(key, c)| clause(
                key,
                c,
                FilterValue::None
            )),
            (
                named_key,
                comparators(SPAN_ATTRIBUTE_COMPARATORS),
                string_value()
            )
                .prop_map(|(key, c, v)| clause(
                    TraceKey::SpanAttribute(key),
                    c,
                    FilterValue::Text(v)
                )),
            (
                assessment.clone(),
                comparators(&[C::Eq, C::NotEq, C::Like, C::ILike, C::RLike]),
                string_value()
            )
                .prop_map(|(key, c, v)| clause(key, c, FilterValue::Text(v))),
            (
                assessment,
                comparators(&[C::Lt, C::LtEq, C::Gt, C::GtEq]),
                finite
            )
                .prop_map(|(key, c, v)| clause(key, c, v)),
            string_value().prop_map(|v| clause(TraceKey::IssueId, C::Eq, FilterValue::Text(v))),
        ]
        .prop_filter(
            "reserved metadata has its own comparators",
            |clause| !matches!(&clause.key, TraceKey::Metadata(key) if is_whole_json_metadata(key)),
        )
    }

    /// Fragments that reach deep into the grammar when strung together at random.
    fn grammar_soup() -> impl Strategy<Value = String> {
        let fragment = prop::sample::select(vec![
            "attributes.",
            "trace.",
            "tags.",
            "request_metadata.",
            "metadata.",
            "span.",
            "span.attributes.",
            "feedback.",
            "expectation.",
            "issue.id",
            "attributes",
            "status",
            "timestamp_ms",
            "name",
            "prompt",
            "text",
            "content",
            "mlflow.trace.cost",
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
            "RLIKE",
            "ASC",
            "DESC",
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
            "1e999",
            ".",
            "-",
            "é",
            "'v'",
            "'a/b'",
            "\"v\"",
            "`k`",
            "('a', 'b')",
        ]);
        prop::collection::vec(fragment, 0..24).prop_map(|fragments| fragments.concat())
    }

    proptest! {
        #[test]
        fn arbitrary_filters_never_panic(filter in any::<String>()) {
            let _ = parse_trace_filter(&filter);
        }

        #[test]
        fn grammar_soup_never_panics(filter in grammar_soup()) {
            if let Err(error) = parse_trace_filter(&filter) {
                prop_assert_eq!(error.code, ErrorCode::InvalidParameterValue);
            }
            let _ = parse_trace_order_by(std::slice::from_ref(&filter));
        }

        #[test]
        fn arbitrary_order_by_never_panics(
            elements in prop::collection::vec(any::<String>(), 0..4)
        ) {
            match parse_trace_order_by(&elements) {
                Ok(parsed) => prop_assert!(parsed.len() >= 2.max(elements.len())),
                Err(error) => prop_assert_eq!(error.code, ErrorCode::InvalidParameterValue),
            }
        }

        #[test]
        fn rendered_filters_parse_back(
            clauses in prop::collection::vec(trace_clause_strategy(), 0..5)
        ) {
            let filter = clauses.iter().map(render).collect::<Vec<_>>().join(" AND ");
            prop_assert_eq!(parse_trace_filter(&filter).map_err(|e| e.message), Ok(clauses), "{}", filter);
        }

        #[test]
        fn keywords_are_case_insensitive(masks in prop::collection::vec(any::<u32>(), 16)) {
            let template = "tags.a IS NOT NULL AND span.name RLIKE 'a' AND metadata.b ILIKE 'b' AND status NOT IN ('OK') AND name IN ('n') AND feedback.f IS NULL";
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
            let expected = parse_trace_filter(template).unwrap();
            prop_assert_eq!(expected.len(), 6);
            prop_assert_eq!(parse_trace_filter(&restyled), Ok(expected), "{}", restyled);
        }
    }
}

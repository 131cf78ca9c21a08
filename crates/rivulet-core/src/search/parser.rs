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

use std::fmt;

use super::ast::{
    Comparator, DatasetField, ExperimentClause, ExperimentKey, ExperimentOrderBy, FilterValue,
    RunAttribute, RunClause, RunKey, RunOrderBy,
};
use super::lexer::{tokenize, Quote, Token, TokenKind, UnterminatedQuote};
use crate::{CoreError, Result};

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
// Syntax: tokens to entity-agnostic clauses.

/// `prefix.key` with its quoting removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ident<'a> {
    prefix: Option<&'a str>,
    key: &'a str,
}

/// A comparator as written. `Unknown` keeps the operators MLflow's tokenizer accepts but no
/// entity allows (`<>`, `==`, `NOT LIKE`, `RLIKE`), so the comparator error can name them.
#[derive(Debug, Clone, PartialEq)]
enum Op {
    Known(Comparator),
    Unknown(String),
}

impl Op {
    fn from_symbol(symbol: &str) -> Op {
        Op::Known(match symbol {
            "=" => Comparator::Eq,
            "!=" => Comparator::NotEq,
            "<" => Comparator::Lt,
            "<=" => Comparator::LtEq,
            ">" => Comparator::Gt,
            ">=" => Comparator::GtEq,
            _ => return Op::Unknown(symbol.to_owned()),
        })
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Known(comparator) => f.write_str(comparator_name(*comparator)),
            Op::Unknown(text) => f.write_str(text),
        }
    }
}

/// A right-hand side before it is checked against its key.
#[derive(Debug, Clone, PartialEq)]
struct RawValue<'a> {
    kind: ValueKind<'a>,
    /// As written, quotes and parentheses included: MLflow's messages quote it so.
    text: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
enum ValueKind<'a> {
    Number,
    /// The contents of a single- or double-quoted string.
    Text(&'a str),
    /// A bare word or a backticked name where a value belongs.
    Unquoted,
    List(Vec<ListItem<'a>>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ListItem<'a> {
    Text(&'a str),
    Number(&'a str),
}

#[derive(Debug, Clone, PartialEq)]
enum Test<'a> {
    /// `IS NULL` or `IS NOT NULL`.
    Presence(Comparator),
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
        // MLflow ignores stray ANDs (leading, trailing, doubled), so a filter assembled by
        // joining parts must keep working here.
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

    fn previous(&self) -> Option<Token<'a>> {
        self.next
            .checked_sub(1)
            .and_then(|index| self.tokens.get(index))
            .copied()
    }

    fn bump(&mut self) -> Option<Token<'a>> {
        let token = self.peek();
        if token.is_some() {
            self.next += 1;
        }
        token
    }

    fn bump_if(&mut self, wanted: impl FnOnce(&Token<'a>) -> bool) -> Option<Token<'a>> {
        self.peek().filter(wanted).and_then(|_| self.bump())
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        self.bump_if(|token| token.is_keyword(keyword)).is_some()
    }

    /// The identifier at the cursor, or `None` with the cursor unmoved.
    fn ident(&mut self) -> Option<Ident<'a>> {
        let start = self.next;
        let ident = self.ident_parts();
        // Anything glued to an identifier (`tags.a-b`, `tags.a"b"`) is outside the grammar.
        let glued = match (self.previous(), self.peek()) {
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
            self.next = start;
            return None;
        }
        ident
    }

    fn ident_parts(&mut self) -> Option<Ident<'a>> {
        let first = self.bump()?;
        match first.kind {
            TokenKind::Word if !is_reserved(first.text) => Some(match first.text.split_once('.') {
                None => Ident {
                    prefix: None,
                    key: first.text,
                },
                Some((prefix, key)) => Ident {
                    prefix: Some(prefix),
                    key: self.key_after_dot(key),
                },
            }),
            TokenKind::Quoted(Quote::Backtick | Quote::Double) => {
                let dotted_rest = self.bump_if(|next| {
                    first.touches(next)
                        && next.kind == TokenKind::Word
                        && next.text.starts_with('.')
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
                    key: self.key_after_dot(key),
                })
            }
            _ => None,
        }
    }

    /// The key after `prefix.`: the rest of that word, or else a quoted key glued to the dot,
    /// as in ``metrics.`my metric` ``.
    fn key_after_dot(&mut self, rest_of_word: &'a str) -> &'a str {
        if !rest_of_word.is_empty() {
            return rest_of_word;
        }
        let Some(dot) = self.previous() else {
            return rest_of_word;
        };
        self.bump_if(|next| dot.touches(next) && matches!(next.kind, TokenKind::Quoted(_)))
            .map_or(rest_of_word, |quoted| quoted.unquoted())
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
                "LIKE" => Op::Known(Comparator::Like),
                "ILIKE" => Op::Known(Comparator::ILike),
                "IN" => Op::Known(Comparator::In),
                word @ ("RLIKE" | "REGEXP") => Op::Unknown(word.to_owned()),
                "IS" => {
                    let negated = self.eat_keyword("NOT");
                    if !self.eat_keyword("NULL") {
                        return Err(self.incomplete_clause(clause_start));
                    }
                    let comparator = if negated {
                        Comparator::IsNotNull
                    } else {
                        Comparator::IsNull
                    };
                    return Ok(Test::Presence(comparator));
                }
                "NOT" => {
                    let negated = self.bump().map(|next| next.text.to_ascii_uppercase());
                    match negated.as_deref() {
                        Some("IN") => Op::Known(Comparator::NotIn),
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
                // `()` is well-formed but empty: the entity check reports that.
                TokenKind::CloseParen => break token,
                TokenKind::Number => items.push(ListItem::Number(token.text)),
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
        let text = &self.input[open.start..close.end()];
        Ok(RawValue {
            kind: ValueKind::List(items),
            text,
        })
    }

    /// MLflow's message for tokens that do not form a clause, naming the ones at `index`.
    fn invalid_clause(&self, index: usize) -> CoreError {
        let text = self
            .tokens
            .get(index)
            .map_or("", |first| &self.input[first.start..self.chunk_end(index)]);
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
            &self.input[first.start..end]
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

/// Words that can never start an identifier: MLflow supports only AND-ed comparisons.
fn is_reserved(word: &str) -> bool {
    ["AND", "OR", "NOT"]
        .iter()
        .any(|reserved| word.eq_ignore_ascii_case(reserved))
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
        .ok_or_else(|| {
            invalid(format!(
                "Invalid attribute key '{key}' specified. Valid keys are '{}'",
                python_set(valid_keys.iter().copied())
            ))
        })
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
                        python_set(allowed.iter().map(|c| comparator_name(*c)))
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
        _ => Err(invalid(format!(
            "Invalid attribute key '{key}' specified. Valid keys are '{}'",
            python_set(EXPERIMENT_ATTRIBUTES.iter().copied())
        ))),
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

fn text_list(items: &[ListItem<'_>], list_text: &str) -> Result<FilterValue> {
    if items.is_empty() {
        return Err(empty_list());
    }
    let texts = items.iter().map(|item| match item {
        ListItem::Text(text) => Ok((*text).to_owned()),
        ListItem::Number(_) => Err(invalid(format!(
            "While parsing a list in the query, expected string value, punctuation, or whitespace, but got different type in list: {list_text}"
        ))),
    });
    texts.collect::<Result<_>>().map(FilterValue::TextList)
}

/// A list goes with `IN` / `NOT IN` and nothing else; MLflow does not check this and fails
/// later in SQL, so these messages are ours.
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
    let name = comparator_name(comparator);
    if takes_list && !is_list {
        return Err(invalid(format!(
            "Expected a parenthesized list of values after '{name}', e.g. ('a', 'b'). Got value {}",
            raw.text
        )));
    }
    if is_list && !takes_list {
        return Err(invalid(format!(
            "A list of values can only be compared with 'IN' or 'NOT IN', not '{name}'"
        )));
    }
    Ok(())
}

fn comparator_name(comparator: Comparator) -> &'static str {
    match comparator {
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

// ---------------------------------------------------------------------------------------------
// order_by.

/// Parses each element with `key_of`, rejecting a key that appears twice.
fn parse_order_by<K: PartialEq>(
    order_by: &[String],
    key_of: impl Fn(&Ident<'_>) -> Result<K>,
) -> Result<Vec<(K, bool)>> {
    let mut parsed: Vec<(K, bool)> = Vec::with_capacity(order_by.len());
    for clause in order_by {
        let (ident, ascending) = parse_order_by_clause(clause)?;
        let key = key_of(&ident)?;
        // MLflow's SQL store raises a code-less exception here (HTTP 500, which clients retry);
        // it is the caller's mistake, so it is a 400.
        if parsed.iter().any(|(seen, _)| *seen == key) {
            let fields: Vec<String> = order_by
                .iter()
                .map(|clause| format!("'{clause}'"))
                .collect();
            return Err(invalid(format!(
                "`order_by` contains duplicate fields: [{}]",
                fields.join(", ")
            )));
        }
        parsed.push((key, ascending));
    }
    Ok(parsed)
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
        Some(direction) if direction.kind == TokenKind::Word => {
            if direction.text.eq_ignore_ascii_case("asc") {
                true
            } else if direction.text.eq_ignore_ascii_case("desc") {
                false
            } else {
                return Err(invalid(format!(
                    "Invalid ordering key in order_by clause '{clause}'."
                )));
            }
        }
        Some(_) => return Err(unparsable()),
    };
    if parser.peek().is_some() {
        return Err(unparsable());
    }
    Ok((ident, ascending))
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

fn empty_list() -> CoreError {
    invalid("While parsing a list in the query, expected a non-empty list of string values, but got empty list")
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

//! The clause syntax both search grammars share: comparisons, values, lists, `order_by`
//! elements, and the MLflow messages they fail with. Each grammar brings its own identifiers
//! and comparators.

use std::fmt;

use super::ast::FilterValue;
use super::lexer::{tokenize, Quote, Token, TokenKind, UnterminatedQuote};
use crate::{CoreError, Result};

/// A grammar's comparator set, as the shared syntax reads and names it.
pub(super) trait ClauseComparator: Copy + PartialEq + 'static {
    /// Every comparator of the grammar; a spelling outside it is kept as [`Op::Unknown`].
    const ALL: &'static [Self];
    const IS_NULL: Self;
    const IS_NOT_NULL: Self;

    /// The comparator as a filter string spells it (upper case).
    fn spelling(self) -> &'static str;
}

/// How a grammar reads the identifier that starts a comparison or an `order_by` element.
pub(super) trait Identifier<'a>: Sized {
    /// The identifier at the cursor, or `None` with the cursor unmoved.
    fn read(cursor: &mut Cursor<'a>) -> Option<Self>;
}

/// A comparator as written. `Unknown` keeps the operators MLflow's tokenizer accepts but the
/// grammar does not (`<>`, `==`, `NOT LIKE`, `REGEXP`), so the comparator error can name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Op<C> {
    Known(C),
    Unknown(String),
}

impl<C: ClauseComparator> Op<C> {
    fn from_spelling(spelling: &str) -> Op<C> {
        C::ALL
            .iter()
            .copied()
            .find(|comparator| comparator.spelling() == spelling)
            .map_or_else(|| Op::Unknown(spelling.to_owned()), Op::Known)
    }

    pub fn name(&self) -> &str {
        match self {
            Op::Known(comparator) => comparator.spelling(),
            Op::Unknown(text) => text,
        }
    }
}

impl<C: ClauseComparator> fmt::Display for Op<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A right-hand side before it is checked against its key.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RawValue<'a> {
    pub kind: ValueKind<'a>,
    /// As written, quotes and parentheses included: MLflow's messages quote it so.
    pub text: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum ValueKind<'a> {
    Number,
    /// The contents of a single- or double-quoted string, escapes left as written.
    Text(&'a str),
    /// A bare word or a backticked name where a value belongs.
    Unquoted,
    List(Vec<ListItem<'a>>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum ListItem<'a> {
    Text(&'a str),
    Number(&'a str),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Test<'a, C> {
    /// `IS NULL` or `IS NOT NULL`.
    Presence(C),
    Compare(Op<C>, RawValue<'a>),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct RawClause<'a, I, C> {
    pub ident: I,
    pub test: Test<'a, C>,
}

/// Splits a filter into its AND-ed clauses, each checked for syntax only.
pub(super) fn parse_clauses<'a, I: Identifier<'a>, C: ClauseComparator>(
    filter: &'a str,
) -> Result<Vec<RawClause<'a, I, C>>> {
    let tokens = tokenize(filter).map_err(|error| unterminated_quote(filter, error))?;
    let mut cursor = Cursor::new(filter, tokens);
    let mut clauses = Vec::new();
    loop {
        // MLflow ignores stray ANDs (leading, trailing, doubled), so a filter assembled by
        // joining parts must keep working here.
        while cursor.eat_keyword("AND") {}
        if cursor.peek().is_none() {
            return Ok(clauses);
        }
        clauses.push(cursor.clause()?);
        match cursor.peek() {
            Some(next) if next.text == ";" && cursor.peek_nth(1).is_some() => {
                return Err(invalid(format!(
                    "Search filter contained multiple expression '{filter}'. Provide AND-ed expression list."
                )));
            }
            // This is where `OR` lands: "Invalid clause(s) in filter string: 'OR'".
            Some(next) if !next.is_keyword("AND") => {
                return Err(cursor.invalid_clause(cursor.next));
            }
            _ => {}
        }
    }
}

/// Parses each `order_by` element into its key, named by `key_of`, and whether it sorts
/// ascending, rejecting a key that appears twice.
pub(super) fn parse_order_by<'a, I: Identifier<'a>, K: PartialEq>(
    order_by: &'a [String],
    key_of: impl Fn(&I) -> Result<K>,
) -> Result<Vec<(K, bool)>> {
    let mut parsed: Vec<(K, bool)> = Vec::with_capacity(order_by.len());
    for element in order_by {
        let (ident, ascending) = parse_order_by_element::<I>(element)?;
        let key = key_of(&ident)?;
        // Equivalent spellings are one key by now, so they count as duplicates too, as in
        // MLflow. Its SQL store then raises a code-less exception (HTTP 500, which clients
        // retry); it is the caller's mistake, so it is a 400 here.
        if parsed.iter().any(|(seen, _)| *seen == key) {
            let fields: Vec<String> = order_by
                .iter()
                .map(|element| format!("'{element}'"))
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
fn parse_order_by_element<'a, I: Identifier<'a>>(element: &'a str) -> Result<(I, bool)> {
    let unparsable = || {
        invalid(format!(
            "Invalid order_by clause '{element}'. Could not be parsed."
        ))
    };
    let tokens = tokenize(element).map_err(|_| unparsable())?;
    let mut cursor = Cursor::new(element, tokens);
    let ident = I::read(&mut cursor).ok_or_else(unparsable)?;
    let ascending = match cursor.bump() {
        None => true,
        Some(direction) if direction.is_keyword("ASC") => true,
        Some(direction) if direction.is_keyword("DESC") => false,
        Some(direction) if direction.kind == TokenKind::Word => {
            return Err(invalid(format!(
                "Invalid ordering key in order_by clause '{element}'."
            )))
        }
        Some(_) => return Err(unparsable()),
    };
    if cursor.peek().is_some() {
        return Err(unparsable());
    }
    Ok((ident, ascending))
}

/// Words that can never start an identifier: MLflow supports only AND-ed comparisons.
pub(super) fn is_reserved(word: &str) -> bool {
    ["AND", "OR", "NOT"]
        .iter()
        .any(|reserved| word.eq_ignore_ascii_case(reserved))
}

/// A position in the tokens of one filter or `order_by` element.
pub(super) struct Cursor<'a> {
    input: &'a str,
    tokens: Vec<Token<'a>>,
    /// Index of the next unconsumed token.
    next: usize,
}

impl<'a> Cursor<'a> {
    fn new(input: &'a str, tokens: Vec<Token<'a>>) -> Self {
        Cursor {
            input,
            tokens,
            next: 0,
        }
    }

    pub fn peek(&self) -> Option<Token<'a>> {
        self.peek_nth(0)
    }

    /// The token `ahead` places after the next one.
    pub fn peek_nth(&self, ahead: usize) -> Option<Token<'a>> {
        self.tokens.get(self.next + ahead).copied()
    }

    pub fn previous(&self) -> Option<Token<'a>> {
        self.next
            .checked_sub(1)
            .and_then(|index| self.tokens.get(index))
            .copied()
    }

    /// Where the cursor is, for [`Cursor::rewind`].
    pub fn position(&self) -> usize {
        self.next
    }

    pub fn rewind(&mut self, position: usize) {
        self.next = position;
    }

    /// Consumes `count` tokens already looked at with [`Cursor::peek_nth`].
    pub fn advance(&mut self, count: usize) {
        self.next = (self.next + count).min(self.tokens.len());
    }

    pub fn bump(&mut self) -> Option<Token<'a>> {
        let token = self.peek();
        if token.is_some() {
            self.next += 1;
        }
        token
    }

    pub fn bump_if(&mut self, wanted: impl FnOnce(&Token<'a>) -> bool) -> Option<Token<'a>> {
        self.peek().filter(wanted).and_then(|_| self.bump())
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        self.bump_if(|token| token.is_keyword(keyword)).is_some()
    }

    fn clause<I: Identifier<'a>, C: ClauseComparator>(&mut self) -> Result<RawClause<'a, I, C>> {
        let start = self.next;
        let Some(ident) = I::read(self) else {
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

    fn test<C: ClauseComparator>(&mut self, clause_start: usize) -> Result<Test<'a, C>> {
        let token = self
            .bump()
            .ok_or_else(|| self.incomplete_clause(clause_start))?;
        let op = match token.kind {
            TokenKind::Operator => Op::from_spelling(token.text),
            TokenKind::Word => match token.text.to_ascii_uppercase().as_str() {
                word @ ("LIKE" | "ILIKE" | "RLIKE" | "REGEXP" | "IN") => Op::from_spelling(word),
                "IS" => {
                    let negated = self.eat_keyword("NOT");
                    if !self.eat_keyword("NULL") {
                        return Err(self.incomplete_clause(clause_start));
                    }
                    let comparator = if negated { C::IS_NOT_NULL } else { C::IS_NULL };
                    return Ok(Test::Presence(comparator));
                }
                "NOT" => {
                    let negated = self.bump().map(|next| next.text.to_ascii_uppercase());
                    match negated.as_deref() {
                        Some(word @ ("IN" | "LIKE" | "ILIKE" | "RLIKE" | "REGEXP")) => {
                            Op::from_spelling(&format!("NOT {word}"))
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

// ---------------------------------------------------------------------------------------------
// Values and messages both grammars check the same way.

/// A literal list of quoted strings, as `IN` / `NOT IN` take it.
pub(super) fn text_list(items: &[ListItem<'_>], list_text: &str) -> Result<FilterValue> {
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

pub(super) fn invalid(message: impl Into<String>) -> CoreError {
    CoreError::invalid_parameter(message)
}

/// A set as Python prints it, which is how MLflow's messages show valid keys and comparators.
pub(super) fn python_set<'s>(items: impl IntoIterator<Item = &'s str>) -> String {
    let quoted: Vec<String> = items.into_iter().map(|item| format!("'{item}'")).collect();
    format!("{{{}}}", quoted.join(", "))
}

pub(super) fn invalid_attribute_key(key: &str, valid: &[&str]) -> CoreError {
    invalid(format!(
        "Invalid attribute key '{key}' specified. Valid keys are '{}'",
        python_set(valid.iter().copied())
    ))
}

pub(super) fn unquoted_value(text: &str) -> CoreError {
    invalid(format!(
        "Parameter value is either not quoted or unidentified quote types used for string value {text}. Use either single or double quotes."
    ))
}

/// `IN` / `NOT IN` without a list; MLflow does not check this and fails later in SQL, so the
/// message is ours.
pub(super) fn list_expected(comparator: &str, value_text: &str) -> CoreError {
    invalid(format!(
        "Expected a parenthesized list of values after '{comparator}', e.g. ('a', 'b'). Got value {value_text}"
    ))
}

/// A list after any other comparator; ours too, for the same reason.
pub(super) fn list_not_allowed(comparator: &str) -> CoreError {
    invalid(format!(
        "A list of values can only be compared with 'IN' or 'NOT IN', not '{comparator}'"
    ))
}

pub(super) fn empty_list() -> CoreError {
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

//! Tokens of the search grammar, cut where MLflow's `sqlparse` tokenizer cuts them.

/// The delimiter of a quoted token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Quote {
    Single,
    Double,
    Backtick,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokenKind {
    /// A run of letters, digits, `_` and `.`: keywords, bare identifiers such as `metrics.a.b`,
    /// and malformed numbers such as `1abc` (reported later as "not numeric").
    Word,
    /// Optional `-`, digits with an optional fraction, optional exponent: `-1`, `.5`, `1.`, `2e-3`.
    Number,
    /// `'…'`, `"…"` or `` `…` ``; the token's text includes the delimiters.
    Quoted(Quote),
    /// A run of `<`, `>`, `=` and `!`. Runs that are not comparators (`<>`, `==`) are kept whole
    /// so the comparator error can name them.
    Operator,
    OpenParen,
    CloseParen,
    Comma,
    /// Any other single character.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Token<'a> {
    pub kind: TokenKind,
    /// The token exactly as written.
    pub text: &'a str,
    /// Byte offset of `text` in the input.
    pub start: usize,
}

impl<'a> Token<'a> {
    pub fn end(&self) -> usize {
        self.start + self.text.len()
    }

    /// Whether `next` starts right where this token ends, with no whitespace in between.
    pub fn touches(&self, next: &Token<'_>) -> bool {
        self.end() == next.start
    }

    pub fn is_keyword(&self, keyword: &str) -> bool {
        self.kind == TokenKind::Word && self.text.eq_ignore_ascii_case(keyword)
    }

    /// The text between the delimiters of a quoted token, verbatim; other tokens as written.
    ///
    /// Escapes are deliberately not decoded: MLflow only strips the outer quotes, so
    /// `'it''s'` means the literal `it''s` there, and must mean the same here.
    pub fn unquoted(&self) -> &'a str {
        match self.kind {
            TokenKind::Quoted(_) => self
                .text
                .get(1..self.text.len().saturating_sub(1))
                .unwrap_or_default(),
            _ => self.text,
        }
    }
}

/// A quote opened at byte `start` of the input and never closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct UnterminatedQuote {
    pub start: usize,
}

pub(super) fn tokenize(input: &str) -> Result<Vec<Token<'_>>, UnterminatedQuote> {
    let mut tokens = Vec::new();
    let mut start = 0;
    while let Some(first) = input[start..].chars().next() {
        if first.is_whitespace() {
            start += first.len_utf8();
            continue;
        }
        let rest = &input[start..];
        let unterminated = UnterminatedQuote { start };
        let (kind, len) = match first {
            '\'' => (
                TokenKind::Quoted(Quote::Single),
                quoted_len(rest, b'\'', true).ok_or(unterminated)?,
            ),
            '"' => (
                TokenKind::Quoted(Quote::Double),
                quoted_len(rest, b'"', true).ok_or(unterminated)?,
            ),
            '`' => (
                TokenKind::Quoted(Quote::Backtick),
                quoted_len(rest, b'`', false).ok_or(unterminated)?,
            ),
            '(' => (TokenKind::OpenParen, 1),
            ')' => (TokenKind::CloseParen, 1),
            ',' => (TokenKind::Comma, 1),
            '<' | '>' | '=' | '!' => (
                TokenKind::Operator,
                rest.find(|c| !matches!(c, '<' | '>' | '=' | '!'))
                    .unwrap_or(rest.len()),
            ),
            _ => word_or_number(rest),
        };
        tokens.push(Token {
            kind,
            text: &rest[..len],
            start,
        });
        start += len;
    }
    Ok(tokens)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.'
}

/// Kind and byte length of the token at the start of `rest`, which is neither whitespace,
/// a quote nor punctuation.
fn word_or_number(rest: &str) -> (TokenKind, usize) {
    let word_len = rest.find(|c| !is_word_char(c)).unwrap_or(rest.len());
    match number_len(rest) {
        // A number glued to letters (`1abc`, `1.2.3`) is one malformed word, as in sqlparse.
        Some(len) if !rest[len..].starts_with(is_word_char) => (TokenKind::Number, len),
        _ if word_len > 0 => (TokenKind::Word, word_len),
        _ => (
            TokenKind::Other,
            rest.chars().next().map_or(1, char::len_utf8),
        ),
    }
}

/// Byte length of the numeric literal `-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?` at the start of `s`.
fn number_len(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let digits_from = |at: usize| {
        bytes[at.min(bytes.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };

    let mut len = usize::from(bytes.first() == Some(&b'-'));
    let integer_digits = digits_from(len);
    len += integer_digits;
    let mut fraction_digits = 0;
    if bytes.get(len) == Some(&b'.') {
        fraction_digits = digits_from(len + 1);
        if integer_digits + fraction_digits > 0 {
            len += 1 + fraction_digits;
        }
    }
    if integer_digits + fraction_digits == 0 {
        return None;
    }
    if matches!(bytes.get(len), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(len + 1), Some(b'-' | b'+')));
        let exponent_digits = digits_from(len + 1 + sign);
        if exponent_digits > 0 {
            len += 1 + sign + exponent_digits;
        }
    }
    Some(len)
}

/// Byte length of the quoted literal at the start of `rest` (which opens with `quote`), or
/// `None` if it is never closed.
///
/// This is sqlparse's regex `'(''|\\'|[^'])*'` with its backtracking: a doubled quote (or a
/// backslash-escaped one, when `backslash_escapes`) does not close the literal, unless nothing
/// later does, in which case the match falls back to the latest point where it could have
/// closed. So `'C:\dir\'` is the text `C:\dir\`, exactly as MLflow reads it.
fn quoted_len(rest: &str, quote: u8, backslash_escapes: bool) -> Option<usize> {
    enum Untried {
        /// A doubled quote at this offset was consumed as content; it could have closed instead.
        CloseAt(usize),
        /// A backslash before a quote at this offset was consumed with it; the backslash
        /// could have been plain content, leaving the quote to be read afresh.
        ResumeAt(usize),
    }
    // Every choice point has exactly one untried alternative, so a stack of them replays the
    // regex engine's depth-first search without recursion.
    let mut untried = Vec::new();
    let bytes = rest.as_bytes();
    let mut at = 1;
    loop {
        match bytes.get(at) {
            None => match untried.pop() {
                None => return None,
                Some(Untried::CloseAt(quote_at)) => return Some(quote_at + 1),
                Some(Untried::ResumeAt(quote_at)) => at = quote_at,
            },
            Some(&b) if b == quote => {
                if bytes.get(at + 1) == Some(&quote) {
                    untried.push(Untried::CloseAt(at));
                    at += 2;
                } else {
                    return Some(at + 1);
                }
            }
            Some(b'\\') if backslash_escapes && bytes.get(at + 1) == Some(&quote) => {
                untried.push(Untried::ResumeAt(at + 1));
                at += 2;
            }
            // Quotes are ASCII, so stepping over UTF-8 continuation bytes one at a time is safe.
            Some(_) => at += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds_and_texts(input: &str) -> Vec<(TokenKind, &str)> {
        tokenize(input)
            .unwrap()
            .into_iter()
            .map(|t| (t.kind, t.text))
            .collect()
    }

    fn single_string(input: &str) -> &str {
        let tokens = tokenize(input).unwrap();
        assert_eq!(tokens.len(), 1, "{input:?} gave {tokens:?}");
        assert_eq!(tokens[0].kind, TokenKind::Quoted(Quote::Single));
        tokens[0].unquoted()
    }

    #[test]
    fn splits_a_clause() {
        use TokenKind::*;
        assert_eq!(
            kinds_and_texts("metrics.acc>=-1.5e3 AND run_id IN ('a',\"b\")"),
            vec![
                (Word, "metrics.acc"),
                (Operator, ">="),
                (Number, "-1.5e3"),
                (Word, "AND"),
                (Word, "run_id"),
                (Word, "IN"),
                (OpenParen, "("),
                (Quoted(Quote::Single), "'a'"),
                (Comma, ","),
                (Quoted(Quote::Double), "\"b\""),
                (CloseParen, ")"),
            ]
        );
    }

    #[test]
    fn numbers() {
        for number in ["1", "-1", "01", "1.", ".5", "-.5", "1.5e-3", "2E+10", "7e3"] {
            assert_eq!(
                kinds_and_texts(number),
                vec![(TokenKind::Number, number)],
                "{number}"
            );
        }
        // Glued to letters or a second fraction, a number is a malformed word.
        for word in ["1abc", "1.2.3", "1e", "1_000"] {
            assert_eq!(
                kinds_and_texts(word),
                vec![(TokenKind::Word, word)],
                "{word}"
            );
        }
        assert_eq!(
            kinds_and_texts("- 1"),
            vec![(TokenKind::Other, "-"), (TokenKind::Number, "1")]
        );
        assert_eq!(
            kinds_and_texts("1e+x"),
            vec![
                (TokenKind::Word, "1e"),
                (TokenKind::Other, "+"),
                (TokenKind::Word, "x")
            ]
        );
    }

    #[test]
    fn words_keep_dots_and_unicode() {
        assert_eq!(
            kinds_and_texts("params..x.é"),
            vec![(TokenKind::Word, "params..x.é")]
        );
        assert_eq!(
            kinds_and_texts("tags.a-b"),
            vec![
                (TokenKind::Word, "tags.a"),
                (TokenKind::Other, "-"),
                (TokenKind::Word, "b")
            ]
        );
    }

    #[test]
    fn operators_are_maximal_runs() {
        assert_eq!(
            kinds_and_texts("<> == != <="),
            vec![
                (TokenKind::Operator, "<>"),
                (TokenKind::Operator, "=="),
                (TokenKind::Operator, "!="),
                (TokenKind::Operator, "<="),
            ]
        );
    }

    #[test]
    fn quoted_strings_keep_escapes_verbatim() {
        assert_eq!(single_string("'plain'"), "plain");
        assert_eq!(single_string("''"), "");
        assert_eq!(single_string("'it''s'"), "it''s");
        assert_eq!(single_string(r"'it\'s'"), r"it\'s");
        assert_eq!(single_string("'é ü'"), "é ü");
    }

    #[test]
    fn quoted_strings_backtrack_like_sqlparse() {
        // The escaped quote is the only way to close, so the backslash is plain content.
        assert_eq!(single_string(r"'C:\dir\'"), r"C:\dir\");
        assert_eq!(single_string(r"'a\\'"), r"a\\");
        // A doubled quote at the very end closes at its first half, leaving a lone quote.
        assert_eq!(
            tokenize("'a''").unwrap_err(),
            UnterminatedQuote { start: 3 }
        );
        // Greedy: the escaped quote does not close when a later quote can.
        let literal = r"'a\' AND params.y = 'b'";
        assert_eq!(
            quoted_len(literal, b'\'', true),
            Some(r"'a\' AND params.y = '".len())
        );
    }

    #[test]
    fn backticks_have_no_backslash_escape() {
        let tokens = tokenize(r"`a\` `b``c`").unwrap();
        assert_eq!(tokens[0].unquoted(), r"a\");
        assert_eq!(tokens[1].unquoted(), "b``c");
    }

    #[test]
    fn unterminated_quotes() {
        assert_eq!(
            tokenize("x = 'abc").unwrap_err(),
            UnterminatedQuote { start: 4 }
        );
        assert_eq!(tokenize("\"").unwrap_err(), UnterminatedQuote { start: 0 });
        assert_eq!(tokenize("é `").unwrap_err(), UnterminatedQuote { start: 3 });
    }

    #[test]
    fn adjacency() {
        let tokens = tokenize("metrics.`a` =1").unwrap();
        assert!(tokens[0].touches(&tokens[1]));
        assert!(!tokens[1].touches(&tokens[2]));
        assert!(tokens[2].touches(&tokens[3]));
    }
}

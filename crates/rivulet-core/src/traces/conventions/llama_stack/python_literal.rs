//! A reader for the Python literals LLaMA Stack writes with `str(dict)`: dicts, lists, tuples, sets, strings, numbers, `True`, `False`, `None`.
//!
//! Anything else (an object repr such as `datetime.datetime(...)`) makes the whole text
//! unreadable, and the caller keeps the text as it is.

use serde_json::{Map, Number, Value};

/// Deeper nesting is treated as unreadable rather than risking the stack.
const MAX_DEPTH: usize = 64;

pub(super) fn parse(text: &str) -> Option<Value> {
    let mut reader = Reader { text, pos: 0 };
    let value = reader.value(0)?;
    reader.skip_space();
    (reader.pos == text.len()).then_some(value)
}

struct Reader<'a> {
    text: &'a str,
    /// Byte offset, always on a char boundary.
    pos: usize,
}

impl Reader<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_space(&mut self) {
        while let Some(c) = self.peek().filter(|c| c.is_whitespace()) {
            self.pos += c.len_utf8();
        }
    }

    fn eat(&mut self, expected: char) -> bool {
        self.skip_space();
        if self.peek() == Some(expected) {
            self.pos += expected.len_utf8();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_space();
        match self.peek()? {
            '{' => self.dict_or_set(depth),
            '[' => {
                self.bump();
                self.sequence(']', depth).map(Value::Array)
            }
            '(' => {
                self.bump();
                self.sequence(')', depth).map(Value::Array)
            }
            '\'' | '"' => self.string(false).map(Value::String),
            c if c.is_ascii_digit() || matches!(c, '-' | '+' | '.') => self.number(),
            c if c.is_ascii_alphabetic() || c == '_' => self.word(),
            _ => None,
        }
    }

    fn sequence(&mut self, close: char, depth: usize) -> Option<Vec<Value>> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Some(items);
            }
            items.push(self.value(depth + 1)?);
            if !self.eat(',') {
                return self.eat(close).then_some(items);
            }
        }
    }

    fn dict_or_set(&mut self, depth: usize) -> Option<Value> {
        self.bump();
        if self.eat('}') {
            return Some(Value::Object(Map::new()));
        }
        let first = self.value(depth + 1)?;
        if !self.eat(':') {
            let mut items = vec![first];
            loop {
                if self.eat('}') {
                    return Some(Value::Array(items));
                }
                if !self.eat(',') {
                    return None;
                }
                if self.eat('}') {
                    return Some(Value::Array(items));
                }
                items.push(self.value(depth + 1)?);
            }
        }
        let mut map = Map::new();
        let mut key = first;
        loop {
            let value = self.value(depth + 1)?;
            map.insert(key_text(key), value);
            if self.eat('}') {
                return Some(Value::Object(map));
            }
            if !self.eat(',') {
                return None;
            }
            if self.eat('}') {
                return Some(Value::Object(map));
            }
            key = self.value(depth + 1)?;
            if !self.eat(':') {
                return None;
            }
        }
    }

    fn string(&mut self, raw: bool) -> Option<String> {
        let quote = self.bump()?;
        let mut out = String::new();
        loop {
            let c = self.bump()?;
            if c == quote {
                return Some(out);
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let escaped = self.bump()?;
            if raw {
                out.push('\\');
                out.push(escaped);
                continue;
            }
            match escaped {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'a' => out.push('\u{07}'),
                'b' => out.push('\u{08}'),
                'f' => out.push('\u{0c}'),
                'v' => out.push('\u{0b}'),
                '\\' | '\'' | '"' => out.push(escaped),
                '\n' => {}
                'x' => out.push(self.hex_escape(2)?),
                'u' => out.push(self.hex_escape(4)?),
                'U' => out.push(self.hex_escape(8)?),
                '0'..='7' => {
                    let mut code = escaped.to_digit(8).unwrap_or(0);
                    for _ in 0..2 {
                        match self.peek().and_then(|c| c.to_digit(8)) {
                            Some(digit) => {
                                code = code * 8 + digit;
                                self.pos += 1;
                            }
                            None => break,
                        }
                    }
                    out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                }
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        }
    }

    fn hex_escape(&mut self, digits: usize) -> Option<char> {
        let hex = self.rest().get(..digits)?;
        if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let code = u32::from_str_radix(hex, 16).ok()?;
        self.pos += digits;
        // Lone surrogates (`\ud83d`) have no char; a replacement keeps the rest readable.
        Some(char::from_u32(code).unwrap_or('\u{FFFD}'))
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.pos;
        while let Some(c) = self.peek().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-' | '_')) {
            self.pos += c.len_utf8();
        }
        let token = self.text[start..self.pos].replace('_', "");
        if let Ok(int) = token.parse::<i64>() {
            return Some(int.into());
        }
        if let Ok(int) = token.parse::<u64>() {
            return Some(int.into());
        }
        let float = token.parse::<f64>().ok()?;
        // JSON has no infinities or NaN: keep Python's spelling as text.
        Some(Number::from_f64(float).map_or(Value::String(token), Value::Number))
    }

    fn word(&mut self) -> Option<Value> {
        let start = self.pos;
        while let Some(c) = self.peek().filter(|c| c.is_ascii_alphanumeric() || *c == '_') {
            self.pos += c.len_utf8();
        }
        let word = &self.text[start..self.pos];
        if matches!(self.peek(), Some('\'' | '"')) {
            let prefix = word.to_ascii_lowercase();
            if matches!(prefix.as_str(), "r" | "b" | "u" | "br" | "rb" | "f" | "rf" | "fr") {
                return self.string(prefix.contains('r')).map(Value::String);
            }
            return None;
        }
        match word {
            "True" => Some(Value::Bool(true)),
            "False" => Some(Value::Bool(false)),
            "None" => Some(Value::Null),
            "inf" | "nan" => Some(Value::String(word.into())),
            _ => None,
        }
    }
}

/// Python allows any hashable key; JSON only text.
fn key_text(key: Value) -> String {
    match key {
        Value::String(text) => text,
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(number) => number.to_string(),
        other => serde_json::to_string(&other).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::parse;
    use serde_json::json;

    #[test]
    fn reads_the_literals_str_dict_produces() {
        let text = r#"{'model_id': 'llama', 'messages': ['{"role":"user","content":"it\'s"}'], 'stream': False, 'n': -2, 't': 0.5, 'x': None, 'tup': (1, 2), 's': {3}, 5: "d\"q", 'e': {}}"#;
        let value = parse(text).unwrap();
        assert_eq!(
            value,
            json!({"model_id": "llama", "messages": ["{\"role\":\"user\",\"content\":\"it's\"}"], "stream": false,
                   "n": -2, "t": 0.5, "x": null, "tup": [1, 2], "s": [3], "5": "d\"q", "e": {}})
        );
    }

    #[test]
    fn decodes_escapes_and_prefixes() {
        assert_eq!(parse(r"'a\nb\x41\u00e9\U0001F600\101'"), Some(json!("a\nbAé😀A")));
        assert_eq!(parse(r"b'\x00ok'"), Some(json!("\u{0}ok")));
        assert_eq!(parse(r"r'\d+'"), Some(json!("\\d+")));
        assert_eq!(parse("'héllo – ok'"), Some(json!("héllo – ok")));
        assert_eq!(parse("[1e-05, inf, 123456789012345678901234]").map(|v| v[1].clone()), Some(json!("inf")));
    }

    #[test]
    fn rejects_what_is_not_a_literal() {
        for text in [
            "",
            "{",
            "[1, 2",
            "{'a' 1}",
            "datetime.datetime(2024, 1, 1)",
            "<Enum.A: 1>",
            "'open",
            "{'a': 1} trailing",
            r"'\x4'",
            "1j",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(parse(&deep), None);
    }
}

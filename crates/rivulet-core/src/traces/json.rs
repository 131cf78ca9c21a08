//! JSON text exactly as Python's `json.dumps(value, ensure_ascii=False)` writes it, so span
//! attributes stored by Rivulet match MLflow's byte for byte (filters match on that text).

use serde_json::{Map, Value};

/// Serialises with `", "` and `": "` separators and non-ASCII left as is.
pub fn python_dumps(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// Writes `value` as [`python_dumps`] text, itself written as a JSON string: how MLflow stores
/// span attribute values. One pass: the dumps text's own quotes and escapes are written already
/// escaped. Building that text and escaping it afterwards scanned it twice, the second time
/// stopping at each of its quotes (structured values such as chat messages are full of them);
/// JSON string writing then took a fifth of the request path's CPU, a seventh since
/// (benches/otlp_request.rs).
pub(crate) fn write_dumps_as_string(out: &mut String, value: &Value) {
    out.push('"');
    write_value_escaped(out, value);
    out.push('"');
}

/// [`write_value`]'s text, escaped as the inside of a JSON string.
fn write_value_escaped(out: &mut String, value: &Value) {
    match value {
        // Digits, signs, `.`, `e`, `NaN`, `Infinity`, `true`, `null`: nothing to escape.
        Value::Null | Value::Bool(_) | Value::Number(_) => write_value(out, value),
        Value::String(text) => write_string_escaped(out, text),
        Value::Array(items) => {
            out.push('[');
            for (idx, item) in items.iter().enumerate() {
                if idx > 0 {
                    out.push_str(", ");
                }
                write_value_escaped(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => write_members(out, map, write_string_escaped, write_value_escaped),
    }
}

/// `{key: value, ...}` with Python's separators, keys and values written by the given writers.
pub(crate) fn write_members(out: &mut String, map: &Map<String, Value>, write_key: fn(&mut String, &str), write_item: fn(&mut String, &Value)) {
    out.push('{');
    for (idx, (key, item)) in map.iter().enumerate() {
        if idx > 0 {
            out.push_str(", ");
        }
        write_key(out, key);
        out.push_str(": ");
        write_item(out, item);
    }
    out.push('}');
}

/// The head of [`python_dumps`] text: once the text is past `max_bytes` the rest is left out
/// (possibly mid-token), so its first `max_bytes + 1` bytes are exactly the whole text's. A
/// preview needs a thousand characters of a value that may be megabytes of retrieved documents.
pub(crate) fn python_dumps_head(value: &Value, max_bytes: usize) -> String {
    let mut out = String::new();
    write_value_within(&mut out, value, max_bytes);
    out
}

pub(crate) fn write_value(out: &mut String, value: &Value) {
    write_value_within(out, value, usize::MAX);
}

/// Writes `value`, stopping at the first element boundary past `limit` bytes of `out`.
fn write_value_within(out: &mut String, value: &Value, limit: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => {
            // Source bytes that surely carry the text past the limit (escapes only lengthen).
            let room = limit.saturating_sub(out.len()).saturating_add(1);
            if s.len() > room {
                let mut cut = room;
                while !s.is_char_boundary(cut) {
                    cut += 1;
                }
                write_string(out, &s[..cut]);
            } else {
                write_string(out, s);
            }
        }
        Value::Array(items) => {
            out.push('[');
            for (idx, item) in items.iter().enumerate() {
                if out.len() > limit {
                    return;
                }
                if idx > 0 {
                    out.push_str(", ");
                }
                write_value_within(out, item, limit);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (idx, (key, item)) in map.iter().enumerate() {
                if out.len() > limit {
                    return;
                }
                if idx > 0 {
                    out.push_str(", ");
                }
                write_string(out, key);
                out.push_str(": ");
                write_value_within(out, item, limit);
            }
            out.push('}');
        }
    }
}

/// Python prints floats with a decimal point or exponent (`1.0`, `1e+20`), integers without.
fn write_number(out: &mut String, number: &serde_json::Number) {
    if number.is_f64() {
        let value = number.as_f64().unwrap_or(0.0);
        if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e16 {
            out.push_str(&format!("{value:.1}"));
        } else {
            out.push_str(&python_float_repr(value));
        }
    } else {
        out.push_str(&number.to_string());
    }
}

fn python_float_repr(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let shortest = format!("{value:e}");
    let (mantissa, exponent) = shortest.split_once('e').unwrap_or((&shortest, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-5..16).contains(&exponent) {
        let plain = format!("{value}");
        if plain.contains('.') { plain } else { format!("{plain}.0") }
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

/// What each byte becomes inside a JSON string: 0 = itself, b'u' = `\u00XX`, otherwise
/// a backslash and this letter (or the quote or backslash itself).
const ESCAPES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[b'\n' as usize] = b'n';
    table[b'\r' as usize] = b'r';
    table[b'\t' as usize] = b't';
    table[0x08] = b'b';
    table[0x0c] = b'f';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Index of the first byte that must be escaped inside a JSON string. Scans eight bytes at a
/// time: span text is long and rarely needs escaping, and the byte-at-a-time loop was the
/// largest single cost of rendering spans.
fn first_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // A high bit set in each byte of `word` that is zero (exact for the first such byte).
    let zero_bytes = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS;
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
        let quote = zero_bytes(word ^ (ONES * u64::from(b'"')));
        let backslash = zero_bytes(word ^ (ONES * u64::from(b'\\')));
        if control | quote | backslash != 0 {
            // Borrows can flag bytes after the first hit, never before it: confirm bytewise.
            if let Some(idx) = chunk.iter().position(|&byte| ESCAPES[byte as usize] != 0) {
                return Some(offset + idx);
            }
        }
        offset += 8;
    }
    chunks.remainder().iter().position(|&byte| ESCAPES[byte as usize] != 0).map(|idx| offset + idx)
}

pub(crate) fn write_string(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('"');
    write_escaped_runs(out, text, |out, byte, escape| {
        if escape == b'u' {
            out.push_str("\\u00");
            push_hex(out, byte);
        } else {
            out.push('\\');
            out.push(escape as char);
        }
    });
    out.push('"');
}

/// A JSON string written as [`write_string`] would, then escaped as the inside of another:
/// `"a\nb"` becomes `\"a\\nb\"`.
fn write_string_escaped(out: &mut String, text: &str) {
    out.reserve(text.len() + 4);
    out.push_str("\\\"");
    write_escaped_runs(out, text, |out, byte, escape| match escape {
        b'u' => {
            out.push_str("\\\\u00");
            push_hex(out, byte);
        }
        b'"' => out.push_str("\\\\\\\""),
        b'\\' => out.push_str("\\\\\\\\"),
        letter => {
            out.push_str("\\\\");
            out.push(letter as char);
        }
    });
    out.push_str("\\\"");
}

/// Copies `text` into `out`, handing each byte that must be escaped (with its [`ESCAPES`]
/// entry) to `escape`. Runs of bytes that need no escaping are copied in one go; escapes are
/// rare in LLM text. Every escaped byte is ASCII, so the runs between them are whole UTF-8
/// sequences.
fn write_escaped_runs(out: &mut String, text: &str, escape: impl Fn(&mut String, u8, u8)) {
    let bytes = text.as_bytes();
    let mut run_start = 0;
    while let Some(found) = first_escape(&bytes[run_start..]) {
        let idx = run_start + found;
        out.push_str(&text[run_start..idx]);
        escape(out, bytes[idx], ESCAPES[bytes[idx] as usize]);
        run_start = idx + 1;
    }
    out.push_str(&text[run_start..]);
}

fn push_hex(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(HEX[(byte >> 4) as usize] as char);
    out.push(HEX[(byte & 0xf) as usize] as char);
}

#[cfg(test)]
mod tests {
    use super::python_dumps;
    use serde_json::json;

    #[test]
    fn matches_python_json_dumps() {
        assert_eq!(python_dumps(&json!({"a": 1, "b": [true, null, "x"]})), r#"{"a": 1, "b": [true, null, "x"]}"#);
        assert_eq!(python_dumps(&json!("héllo \"q\"\n")), "\"héllo \\\"q\\\"\\n\"");
        assert_eq!(python_dumps(&json!(1.0)), "1.0");
        assert_eq!(python_dumps(&json!(0.5)), "0.5");
        assert_eq!(python_dumps(&json!(1e20)), "1e+20");
        assert_eq!(python_dumps(&json!(7)), "7");
        assert_eq!(python_dumps(&json!("\u{1}\u{1f}\u{8}\u{c}\t\\é")), "\"\\u0001\\u001f\\b\\f\\t\\\\é\"");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// The word-at-a-time scan finds exactly the first byte the escape table names.
        #[test]
        fn first_escape_matches_a_bytewise_scan(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let bytewise = bytes.iter().position(|&byte| super::ESCAPES[byte as usize] != 0);
            proptest::prop_assert_eq!(super::first_escape(&bytes), bytewise);
        }

        /// The head of a value's text is the whole text while it fits, and otherwise agrees
        /// with it on every byte up to just past the limit.
        #[test]
        fn dumps_head_is_an_exact_prefix(
            texts in proptest::collection::vec("[a-z\"\\\\\\n\u{1}é€ ]{0,30}", 0..8),
            limit in 0usize..120,
        ) {
            let value = json!({"documents": texts.clone(), "first": texts.first(), "nested": [{"t": texts.last()}, 1.5, null]});
            let (whole, head) = (python_dumps(&value), super::python_dumps_head(&value, limit));
            if whole.len() <= limit {
                proptest::prop_assert_eq!(head, whole);
            } else {
                proptest::prop_assert!(head.len() > limit);
                proptest::prop_assert_eq!(&head.as_bytes()[..=limit], &whole.as_bytes()[..=limit]);
            }
        }

        /// Writing a value as a JSON string in one go equals encoding its dumps text again.
        #[test]
        fn dumps_as_string_equals_dumps_of_dumps(
            text in "[a-z\"\\\\\\n\\r\\t\u{1}\u{8}\u{c}\u{1f}é ]{0,40}",
            number in proptest::prelude::any::<i64>(),
            float in proptest::prelude::any::<f64>(),
        ) {
            let nested = json!({ text.clone(): [text.clone(), {"n": number, "f": float, "t": true, "z": null}], "k": text });
            for value in [json!(text), json!([text.clone(), number]), json!({"k": text}), nested] {
                let mut out = String::new();
                super::write_dumps_as_string(&mut out, &value);
                proptest::prop_assert_eq!(out, python_dumps(&json!(python_dumps(&value))));
            }
        }
    }
}

//! JSON text exactly as Python's `json.dumps(value, ensure_ascii=False)` writes it, so span
//! attributes stored by Rivulet match MLflow's byte for byte (filters match on that text).

use serde_json::Value;

/// Serialises with `", "` and `": "` separators and non-ASCII left as is.
pub fn python_dumps(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (idx, item) in items.iter().enumerate() {
                if idx > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (idx, (key, item)) in map.iter().enumerate() {
                if idx > 0 {
                    out.push_str(", ");
                }
                write_string(out, key);
                out.push_str(": ");
                write_value(out, item);
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

fn write_string(out: &mut String, text: &str) {
    out.push('"');
    // Copy runs of characters that need no escaping in one go; escapes are rare in LLM text.
    let mut run_start = 0;
    for (idx, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            byte if byte < 0x20 => "",
            _ => continue,
        };
        out.push_str(&text[run_start..idx]);
        if escape.is_empty() {
            out.push_str(&format!("\\u{byte:04x}"));
        } else {
            out.push_str(escape);
        }
        run_start = idx + 1;
    }
    out.push_str(&text[run_start..]);
    out.push('"');
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
    }
}

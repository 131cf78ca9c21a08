//! Pretty-printed JSON as highlighted HTML, capped so a megabyte payload cannot stall the page.

use serde_json::Value;

use crate::html::esc;

/// Output beyond this many bytes is cut with a note.
const MAX_HTML_BYTES: usize = 400 * 1024;

/// `<pre class="json">` with classes for keys, strings, numbers and literals.
pub fn pretty(value: &Value) -> String {
    let mut out = String::from("<pre class=\"json\">");
    let mut truncated = false;
    write_value(&mut out, value, 0, &mut truncated);
    if truncated {
        out.push_str("\n<span class=\"muted\">… cut here: the value is larger than the page shows.</span>");
    }
    out.push_str("</pre>");
    out
}

/// Text that holds JSON is shown as JSON; anything else as wrapped text.
pub fn pretty_text(text: &str) -> String {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        if let Ok(value) = serde_json::from_str::<Value>(text) {
            return pretty(&value);
        }
    }
    format!("<pre class=\"text\">{}</pre>", esc(text))
}

fn indent(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn write_value(out: &mut String, value: &Value, depth: usize, truncated: &mut bool) {
    if out.len() > MAX_HTML_BYTES {
        *truncated = true;
        return;
    }
    match value {
        Value::Null => out.push_str("<span class=\"j-lit\">null</span>"),
        Value::Bool(b) => {
            out.push_str("<span class=\"j-lit\">");
            out.push_str(if *b { "true" } else { "false" });
            out.push_str("</span>");
        }
        Value::Number(n) => {
            out.push_str("<span class=\"j-num\">");
            out.push_str(&n.to_string());
            out.push_str("</span>");
        }
        Value::String(s) => {
            out.push_str("<span class=\"j-str\">");
            out.push_str(&esc(&serde_json::to_string(s).unwrap_or_default()));
            out.push_str("</span>");
        }
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (idx, item) in items.iter().enumerate() {
                indent(out, depth + 1);
                write_value(out, item, depth + 1, truncated);
                if *truncated {
                    return;
                }
                if idx + 1 < items.len() {
                    out.push(',');
                }
            }
            indent(out, depth);
            out.push(']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            let len = map.len();
            for (idx, (key, item)) in map.iter().enumerate() {
                indent(out, depth + 1);
                out.push_str("<span class=\"j-key\">");
                out.push_str(&esc(&serde_json::to_string(key).unwrap_or_default()));
                out.push_str("</span>: ");
                write_value(out, item, depth + 1, truncated);
                if *truncated {
                    return;
                }
                if idx + 1 < len {
                    out.push(',');
                }
            }
            indent(out, depth);
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlights_and_escapes() {
        let html = pretty(&serde_json::json!({"a<b": ["x\"y", 1, null]}));
        assert!(html.contains("<span class=\"j-key\">&quot;a&lt;b&quot;</span>"), "{html}");
        assert!(html.contains("<span class=\"j-num\">1</span>"));
        assert!(pretty_text("plain <b>").contains("plain &lt;b&gt;"));
    }
}

//! HTML building blocks shared by every page: escaping, the page frame, links under the static
//! prefix, and the formatting of times, durations and counts.

use std::fmt::Write;

use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use rivulet_core::time::{days_from_civil, UtcDateTime};
use rivulet_core::traces::TokenUsage;

use crate::assets;

/// Escapes text for element content and double-quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// Everything but RFC 3986's unreserved characters, so ids like `conv-1` stay readable.
const COMPONENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Percent-encodes one query value or path segment.
pub fn enc(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, COMPONENT).to_string()
}

/// Builds a query string from pairs, skipping empty values.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let parts: Vec<String> = pairs.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}={}", enc(v))).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// What every page needs to know about where it is served.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// `--static-prefix` without a trailing slash (`""` at the root).
    pub base: String,
    /// `scheme://host` as the browser reached us (for copy-paste settings in empty states).
    pub origin: String,
}

impl Ctx {
    pub fn new(prefix: Option<&str>, headers: &HeaderMap) -> Ctx {
        let base = prefix.unwrap_or("").trim_end_matches('/').to_string();
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        // Behind the reference ingress the Host header is the public name; forwarded headers
        // win when a proxy sets them.
        let host = header("x-forwarded-host").or_else(|| header("host")).unwrap_or_else(|| "localhost:5000".to_string());
        let scheme = header("x-forwarded-proto").unwrap_or_else(|| "http".to_string());
        let host = host.split(',').next().unwrap_or_default().trim().to_string();
        Ctx { base, origin: format!("{scheme}://{host}") }
    }

    /// An absolute path under the prefix (`/ui/...` → `/mlflow/ui/...`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The server's public base URL (what SDKs and collectors are pointed at).
    pub fn public_base(&self) -> String {
        format!("{}{}", self.origin, self.base)
    }
}

/// One breadcrumb: label and optional link.
pub struct Crumb {
    pub label: String,
    pub href: Option<String>,
}

impl Crumb {
    pub fn link(label: impl Into<String>, href: String) -> Crumb {
        Crumb { label: label.into(), href: Some(href) }
    }
    pub fn text(label: impl Into<String>) -> Crumb {
        Crumb { label: label.into(), href: None }
    }
}

/// The page frame: head with the embedded assets, top bar with breadcrumbs, then `body`.
pub fn page(ctx: &Ctx, title: &str, crumbs: &[Crumb], body: &str) -> Response {
    let mut out = String::with_capacity(body.len() + 2048);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Rivulet</title>\
         <link rel=\"stylesheet\" href=\"{css}\">\
         <script defer src=\"{js}\"></script></head>\
         <body data-base=\"{base}\"><a class=\"skip\" href=\"#main\">Skip to content</a>\
         <header class=\"top\"><a class=\"brand\" href=\"{home}\">Rivulet</a><nav aria-label=\"Breadcrumb\"><ol class=\"crumbs\">",
        title = esc(title),
        css = esc(&ctx.url(&assets::url("app.css"))),
        js = esc(&ctx.url(&assets::url("app.js"))),
        base = esc(&ctx.base),
        home = esc(&ctx.url("/")),
    );
    for (idx, crumb) in crumbs.iter().enumerate() {
        let last = idx + 1 == crumbs.len();
        match (&crumb.href, last) {
            (Some(href), false) => {
                let _ = write!(out, "<li><a href=\"{}\">{}</a></li>", esc(href), esc(&crumb.label));
            }
            _ => {
                let _ = write!(out, "<li aria-current=\"page\">{}</li>", esc(&crumb.label));
            }
        }
    }
    let _ = write!(
        out,
        "</ol></nav><span class=\"keys\" title=\"Keyboard: / search, j/k rows, Enter open\">/ search · j k rows</span></header>\
         <main id=\"main\">{body}</main></body></html>"
    );
    Html(out).into_response()
}

/// A notice box (errors the user can fix, hints).
pub fn notice(kind: &str, text: &str) -> String {
    format!("<div class=\"notice {}\" role=\"status\">{}</div>", esc(kind), esc(text))
}

/// A `<time>` element the script localises; the UTC text is the no-script fallback.
pub fn time(ms: i64) -> String {
    format!("<time data-ms=\"{ms}\" datetime=\"{iso}\">{iso}</time>", iso = iso_utc(ms))
}

/// `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn iso_utc(ms: i64) -> String {
    let UtcDateTime { year, month, day, hour, minute, second, .. } = UtcDateTime::from_epoch_ms(ms);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")
}

/// Parses `YYYY-MM-DDTHH:MM[:SS]` (what `<input type=datetime-local>` sends), as UTC, or epoch ms.
pub fn parse_datetime(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(ms) = text.parse::<i64>() {
        return Some(ms);
    }
    let (date, clock) = text.split_once(['T', ' ']).unwrap_or((text, "00:00"));
    let mut date_parts = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (date_parts.next()??, date_parts.next()??, date_parts.next()??);
    let mut clock_parts = clock.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let hh = clock_parts.next().flatten().unwrap_or(0);
    let mm = clock_parts.next().flatten().unwrap_or(0);
    let ss = clock_parts.next().flatten().unwrap_or(0);
    // Out-of-range fields are not a date; the bounds also keep the arithmetic from overflowing.
    if !(0..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    if !(0..24).contains(&hh) || !(0..60).contains(&mm) || !(0..60).contains(&ss) {
        return None;
    }
    let days = days_from_civil(y, m as u32, d as u32);
    Some(((days * 86_400) + hh * 3600 + mm * 60 + ss) * 1000)
}

/// A duration in milliseconds as people read it: `840 ms`, `2.31 s`, `4 min 12 s`.
pub fn duration_ms(ms: f64) -> String {
    if !ms.is_finite() || ms < 0.0 {
        return "—".to_string();
    }
    if ms < 1.0 {
        format!("{:.0} µs", ms * 1000.0)
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms < 3_600_000.0 {
        format!("{} min {} s", (ms / 60_000.0) as i64, ((ms % 60_000.0) / 1000.0) as i64)
    } else {
        format!("{:.1} h", ms / 3_600_000.0)
    }
}

/// An integer with thin thousands separators (`1 234 567`).
/// The "Tokens" fact card of a trace or span: total, input and output, and cached input.
pub fn token_usage_fact(usage: &TokenUsage) -> String {
    let mut out = format!(
        "<div class=\"fact\"><span>Tokens</span><strong>{}</strong><small>in {} · out {}",
        count(usage.total_tokens),
        count(usage.input_tokens),
        count(usage.output_tokens)
    );
    if let Some(cached) = usage.cache_read_input_tokens {
        let _ = write!(out, " · cached {}", count(cached));
    }
    out.push_str("</small></div>");
    out
}

pub fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (idx, ch) in digits.chars().enumerate() {
        if idx > 0 && (digits.len() - idx).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(ch);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// A metric value: integers as such, others with up to 6 significant digits.
pub fn number(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.fract() == 0.0 && value.abs() < 1e15 {
        return format!("{}", value as i64);
    }
    let text = format!("{value:.6}");
    if value.abs() >= 1e6 || value.abs() < 1e-4 {
        return format!("{value:.4e}");
    }
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Cuts text to `max` characters with an ellipsis.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max).collect();
    cut.push('…');
    cut
}

/// A copy-to-clipboard button next to an id.
pub fn copy_button(value: &str, label: &str) -> String {
    format!(
        "<button type=\"button\" class=\"copy\" data-copy=\"{v}\" aria-label=\"Copy {l}\" title=\"Copy {l}\">copy</button>",
        v = esc(value),
        l = esc(label)
    )
}

/// Tabs of the experiment page.
pub fn experiment_tabs(ctx: &Ctx, experiment_id: i64, active: &str) -> String {
    let mut out = String::from("<nav class=\"tabs\" aria-label=\"Experiment views\">");
    for (key, label) in [("traces", "Traces"), ("sessions", "Sessions"), ("graph", "Service graph"), ("runs", "Runs")] {
        let href = ctx.url(&format!("/ui/experiments/{experiment_id}/{key}"));
        let current = if key == active { " aria-current=\"page\" class=\"on\"" } else { "" };
        let _ = write!(out, "<a href=\"{}\"{current}>{label}</a>", esc(&href));
    }
    out.push_str("</nav>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_usage_fact_shows_cached_input_only_when_known() {
        let usage = TokenUsage { input_tokens: 1200, output_tokens: 34, total_tokens: 1234, cache_read_input_tokens: None, cache_creation_input_tokens: None };
        let plain = token_usage_fact(&usage);
        assert_eq!(plain, format!("<div class=\"fact\"><span>Tokens</span><strong>{}</strong><small>in {} · out 34</small></div>", count(1234), count(1200)));
        let cached = token_usage_fact(&TokenUsage { cache_read_input_tokens: Some(1000), ..usage });
        assert!(cached.ends_with(&format!(" · out 34 · cached {}</small></div>", count(1000))), "{cached}");
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(esc("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(iso_utc(0), "1970-01-01 00:00:00");
        assert_eq!(iso_utc(1_700_000_000_000), "2023-11-14 22:13:20");
        assert_eq!(parse_datetime("2023-11-14T22:13:20"), Some(1_700_000_000_000));
        assert_eq!(parse_datetime("2024-02-29T00:00"), Some(days_from_civil(2024, 2, 29) * 86_400_000));
        assert_eq!(parse_datetime("nonsense"), None);
        assert_eq!(parse_datetime("1700000000000"), Some(1_700_000_000_000));
    }

    #[test]
    fn out_of_range_dates_are_not_dates() {
        // A huge year used to overflow the millisecond arithmetic (a panic in debug builds).
        assert_eq!(parse_datetime("99999999999999-01-01"), None);
        assert_eq!(parse_datetime("2026-13-01"), None);
        assert_eq!(parse_datetime("2026-11-27 24:00"), None);
        assert_eq!(parse_datetime("2026-11-27 23:60"), None);
        assert_eq!(parse_datetime("2026-11-27 23:59:59"), Some(days_from_civil(2026, 11, 27) * 86_400_000 + 86_399_000));
    }

    #[test]
    fn human_numbers() {
        assert_eq!(duration_ms(840.0), "840 ms");
        assert_eq!(duration_ms(2310.0), "2.31 s");
        assert_eq!(duration_ms(252_000.0), "4 min 12 s");
        assert_eq!(count(1_234_567), "1\u{202f}234\u{202f}567");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(3.0), "3");
        assert_eq!(truncate("abcdef", 3), "abc…");
        assert_eq!(query(&[("a", "x y"), ("b", "")]), "?a=x%20y");
    }
}

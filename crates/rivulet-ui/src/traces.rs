//! The Traces tab: a filterable, sortable table of an experiment's traces that stays fast at a
//! million traces, with an auto-refresh that swaps only the rows.
//
// Paging: the default order (newest first) pages by a cursor `<timestamp>.<skip>` turned into
// `timestamp_ms <= t` plus a small offset, so page 20,000 costs what page 1 costs: the store
// walks the (experiment_id, timestamp_ms) index from the cursor. Other orders page by offset.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse};
use rivulet_api::AppState;
use rivulet_core::page::decode_offset_token;
use rivulet_core::search::{parse_trace_filter, parse_trace_order_by, FilterValue, TraceClause, TraceComparator, TraceKey};
use rivulet_core::store::TraceSearch;
use rivulet_core::traces::model::{TraceInfo, TraceState};
use rivulet_core::traces::trace_keys;
use serde::Deserialize;

use crate::html::{self, esc, query, Ctx};
use crate::{ctx, experiments, onboarding, OrPage, PageResult};

pub(crate) const PAGE_SIZE: usize = 50;

#[derive(Debug, Default, Deserialize, Clone)]
pub struct TracesQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    range: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    filter: String,
    #[serde(default)]
    sort: String,
    /// Keyset cursor for the default order.
    #[serde(default)]
    after: String,
    /// Offset token for the other orders.
    #[serde(default)]
    page: String,
    /// `rows`: only the table body (auto-refresh).
    #[serde(default)]
    fragment: String,
}

impl TracesQuery {
    fn pairs(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("q", self.q.as_str()),
            ("status", self.status.as_str()),
            ("range", self.range.as_str()),
            ("from", self.from.as_str()),
            ("to", self.to.as_str()),
            ("tag", self.tag.as_str()),
            ("filter", self.filter.as_str()),
            ("sort", self.sort.as_str()),
        ]
    }

    fn has_filters(&self) -> bool {
        [&self.q, &self.status, &self.range, &self.from, &self.to, &self.tag, &self.filter].iter().any(|v| !v.trim().is_empty())
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// `last 15 minutes` … `last 30 days` as a lower bound in milliseconds.
pub(crate) fn range_ms(range: &str) -> Option<i64> {
    Some(match range {
        "15m" => 15 * 60_000,
        "1h" => 3_600_000,
        "24h" => 86_400_000,
        "7d" => 7 * 86_400_000,
        "30d" => 30 * 86_400_000,
        _ => return None,
    })
}

pub(crate) const RANGES: &[(&str, &str)] =
    &[("", "All time"), ("15m", "Last 15 minutes"), ("1h", "Last hour"), ("24h", "Last 24 hours"), ("7d", "Last 7 days"), ("30d", "Last 30 days")];

fn looks_like_trace_id(text: &str) -> Option<String> {
    let hex = text.strip_prefix("tr-").unwrap_or(text);
    (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| format!("tr-{}", hex.to_ascii_lowercase()))
}

fn clause(key: TraceKey, comparator: TraceComparator, value: FilterValue) -> TraceClause {
    TraceClause { key, comparator, value }
}

/// The form's fields as trace clauses. Built as typed clauses rather than a filter string, so
/// quotes in a search text need no escaping rules.
fn clauses(params: &TracesQuery) -> rivulet_core::Result<Vec<TraceClause>> {
    let mut clauses = parse_trace_filter(&params.filter)?;
    if !params.status.is_empty() {
        clauses.push(clause(TraceKey::Status, TraceComparator::Eq, FilterValue::Text(params.status.clone())));
    }
    if let Some(span) = range_ms(&params.range) {
        clauses.push(clause(TraceKey::TimestampMs, TraceComparator::GtEq, FilterValue::Integer(now_ms() - span)));
    }
    if let Some(from) = html::parse_datetime(&params.from) {
        clauses.push(clause(TraceKey::TimestampMs, TraceComparator::GtEq, FilterValue::Integer(from)));
    }
    if let Some(to) = html::parse_datetime(&params.to) {
        clauses.push(clause(TraceKey::TimestampMs, TraceComparator::Lt, FilterValue::Integer(to)));
    }
    let text = params.q.trim();
    if !text.is_empty() {
        clauses.push(match looks_like_trace_id(text) {
            Some(id) => clause(TraceKey::RequestId, TraceComparator::Eq, FilterValue::Text(id)),
            None => clause(TraceKey::Text, TraceComparator::ILike, FilterValue::Text(format!("%{text}%"))),
        });
    }
    let tag = params.tag.trim();
    if !tag.is_empty() {
        clauses.push(match tag.split_once('=') {
            Some((key, value)) => clause(TraceKey::Tag(key.trim().to_string()), TraceComparator::Eq, FilterValue::Text(value.trim().to_string())),
            None => clause(TraceKey::Tag(tag.to_string()), TraceComparator::IsNotNull, FilterValue::None),
        });
    }
    Ok(clauses)
}

fn order_for(sort: &str) -> Option<&'static str> {
    match sort {
        "oldest" => Some("timestamp_ms ASC"),
        "slowest" => Some("execution_time_ms DESC"),
        "fastest" => Some("execution_time_ms ASC"),
        "name" => Some("name ASC"),
        _ => None,
    }
}

/// Parses `<timestamp>.<skip>`.
fn parse_cursor(cursor: &str) -> Option<(i64, u64)> {
    let (ts, skip) = cursor.split_once('.')?;
    Some((ts.parse().ok()?, skip.parse().ok()?))
}

/// The cursor after `items`, given the cursor they were read with.
fn next_cursor(items: &[TraceInfo], cursor: Option<(i64, u64)>) -> Option<String> {
    let last = items.last()?.request_time_ms;
    let on_page = items.iter().filter(|t| t.request_time_ms == last).count() as u64;
    let before = match cursor {
        Some((ts, skip)) if ts == last => skip,
        _ => 0,
    };
    Some(format!("{last}.{}", before + on_page))
}

pub(crate) fn token_total(info: &TraceInfo) -> Option<(i64, String)> {
    let usage: serde_json::Value = serde_json::from_str(info.trace_metadata.get(trace_keys::TOKEN_USAGE)?).ok()?;
    let read = |key: &str| usage.get(key).and_then(serde_json::Value::as_i64);
    let total = read("total_tokens").or_else(|| Some(read("input_tokens")? + read("output_tokens").unwrap_or(0)))?;
    Some((total, format!("input {} · output {}", read("input_tokens").unwrap_or(0), read("output_tokens").unwrap_or(0))))
}

pub(crate) fn state_badge(state: TraceState) -> String {
    let (class, label) = match state {
        TraceState::Ok => ("ok", "OK"),
        TraceState::Error => ("err", "Error"),
        TraceState::InProgress => ("run", "In progress"),
        TraceState::Unspecified => ("muted", "—"),
    };
    format!("<span class=\"status {class}\">{label}</span>")
}

/// One table row per trace.
pub(crate) fn rows(ctx: &Ctx, experiment_id: i64, traces: &[TraceInfo], models: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for info in traces {
        let href = ctx.url(&format!("/ui/traces/{}", info.trace_id));
        let name = info.name.clone().unwrap_or_else(|| info.trace_id.clone());
        let tokens = token_total(info)
            .map(|(total, detail)| format!("<span title=\"{}\">{}</span>", esc(&detail), html::count(total)))
            .unwrap_or_default();
        let session = info
            .session_id
            .as_ref()
            .map(|s| {
                let link = ctx.url(&format!("/ui/experiments/{experiment_id}/session{}", query(&[("id", s)])));
                format!("<a href=\"{}\" title=\"{}\">{}</a>", esc(&link), esc(s), esc(&html::truncate(s, 14)))
            })
            .unwrap_or_default();
        let user = info.trace_metadata.get(trace_keys::USER).map(|u| esc(&html::truncate(u, 20))).unwrap_or_default();
        let _ = write!(
            out,
            "<tr data-href=\"{href}\" tabindex=\"-1\"><td class=\"nowrap\">{time}</td><td class=\"name\"><a href=\"{href}\">{name}</a></td>\
             <td class=\"preview\">{request}</td><td class=\"preview\">{response}</td><td class=\"num\">{duration}</td><td>{status}</td>\
             <td class=\"num\">{tokens}</td><td class=\"mono small\">{model}</td><td class=\"mono small\">{session}</td><td>{user}</td></tr>",
            href = esc(&href),
            time = html::time(info.request_time_ms),
            name = esc(&html::truncate(&name, 60)),
            request = esc(&html::truncate(info.request_preview.as_deref().unwrap_or(""), 140)),
            response = esc(&html::truncate(info.response_preview.as_deref().unwrap_or(""), 140)),
            duration = info.execution_duration_ms.map(|d| html::duration_ms(d as f64)).unwrap_or_default(),
            status = state_badge(info.state),
            model = esc(models.get(&info.trace_id).map(String::as_str).unwrap_or("")),
        );
    }
    out
}

pub(crate) const TABLE_HEAD: &str = "<thead><tr><th scope=\"col\">Time</th><th scope=\"col\">Name</th><th scope=\"col\">Request</th>\
    <th scope=\"col\">Response</th><th scope=\"col\" class=\"num\">Duration</th><th scope=\"col\">Status</th><th scope=\"col\" class=\"num\">Tokens</th>\
    <th scope=\"col\">Model</th><th scope=\"col\">Session</th><th scope=\"col\">User</th></tr></thead>";

fn select(name: &str, label: &str, choices: &[(&str, &str)], selected: &str) -> String {
    let mut out = format!("<label>{label} <select name=\"{name}\">");
    for (value, text) in choices {
        let sel = if *value == selected { " selected" } else { "" };
        let _ = write!(out, "<option value=\"{}\"{sel}>{}</option>", esc(value), esc(text));
    }
    out.push_str("</select></label>");
    out
}

fn filter_form(ctx: &Ctx, experiment_id: i64, params: &TracesQuery) -> String {
    let action = ctx.url(&format!("/ui/experiments/{experiment_id}/traces"));
    let mut out = format!(
        "<form class=\"filters\" method=\"get\" action=\"{}\" role=\"search\">\
         <label class=\"grow\">Search <input name=\"q\" type=\"search\" value=\"{}\" placeholder=\"Text in inputs, outputs, attributes — or a trace id\" data-search></label>",
        esc(&action),
        esc(&params.q)
    );
    out.push_str(&select("status", "Status", &[("", "Any"), ("OK", "OK"), ("ERROR", "Error"), ("IN_PROGRESS", "In progress")], &params.status));
    out.push_str(&select("range", "Time", RANGES, &params.range));
    out.push_str(&select(
        "sort",
        "Sort",
        &[("", "Newest first"), ("oldest", "Oldest first"), ("slowest", "Slowest first"), ("fastest", "Fastest first"), ("name", "Name")],
        &params.sort,
    ));
    let _ = write!(
        out,
        "<button>Apply</button>\
         <details class=\"more\"{open}><summary>More filters</summary><div class=\"row\">\
         <label>From (UTC) <input name=\"from\" type=\"datetime-local\" value=\"{from}\"></label>\
         <label>To (UTC) <input name=\"to\" type=\"datetime-local\" value=\"{to}\"></label>\
         <label>Tag <input name=\"tag\" value=\"{tag}\" placeholder=\"key=value\"></label>\
         <label class=\"grow\">MLflow filter <input name=\"filter\" value=\"{filter}\" placeholder=\"attributes.execution_time_ms > 1000 AND span.type = 'LLM'\" class=\"mono\"></label>\
         </div></details></form>",
        open = if params.from.is_empty() && params.to.is_empty() && params.tag.is_empty() && params.filter.is_empty() { "" } else { " open" },
        from = esc(&params.from),
        to = esc(&params.to),
        tag = esc(&params.tag),
        filter = esc(&params.filter),
    );
    out
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Path(experiment_id): Path<i64>, Query(params): Query<TracesQuery>) -> PageResult {
    let ctx = ctx(&state, &headers);
    let fragment = params.fragment == "rows";
    // The rows fragment skips the experiment read: auto-refresh polls it every few seconds.
    let experiment = if fragment { None } else { Some(experiments::load(&state, &ctx, experiment_id).await?) };

    let mut filter_error = None;
    let mut filter = match clauses(&params) {
        Ok(clauses) => clauses,
        Err(error) => {
            filter_error = Some(error.message);
            Vec::new()
        }
    };
    let order = order_for(&params.sort);
    let cursor = if order.is_none() { parse_cursor(&params.after) } else { None };
    let mut offset = 0;
    if let Some((ts, skip)) = cursor {
        filter.push(clause(TraceKey::TimestampMs, TraceComparator::LtEq, FilterValue::Integer(ts)));
        offset = skip;
    }
    if order.is_some() {
        offset = decode_offset_token(Some(&params.page)).unwrap_or(0);
    }
    let search = TraceSearch {
        experiment_ids: vec![experiment_id],
        filter,
        // The default order is left to the store, whose plain `timestamp_ms DESC` walks the index.
        order_by: match order {
            Some(order) => parse_trace_order_by(&[order.to_string()]).or_page(&ctx)?,
            None => Vec::new(),
        },
        max_results: PAGE_SIZE,
        offset,
    };
    let (traces, more) = if filter_error.is_some() {
        (Vec::new(), None)
    } else {
        match state.traces.search_traces(&search).await {
            Ok(page) => (page.items, page.next_page_token),
            Err(error) => {
                filter_error = Some(error.message);
                (Vec::new(), None)
            }
        }
    };
    let ids: Vec<String> = traces.iter().map(|t| t.trace_id.clone()).collect();
    let models = state.traces.trace_models(&ids).await.unwrap_or_default();
    let body_rows = rows(&ctx, experiment_id, &traces, &models);
    if fragment {
        return Ok(Html(body_rows).into_response());
    }
    let experiment = experiment.expect("loaded unless fragment");

    let mut body = experiments::head(&ctx, &experiment, "traces");
    if traces.is_empty() && !params.has_filters() && cursor.is_none() && offset == 0 && filter_error.is_none() {
        body.push_str(&onboarding::first_trace(&ctx, experiment_id));
        return Ok(html::page(&ctx, &format!("Traces · {}", experiment.name), &experiments::crumbs(&ctx, &experiment, "Traces"), &body));
    }
    body.push_str(&filter_form(&ctx, experiment_id, &params));
    if let Some(message) = &filter_error {
        body.push_str(&html::notice("error", &format!("Filter not applied: {message}")));
    }
    let first_page = cursor.is_none() && offset == 0 && order.is_none();
    let _ = write!(
        body,
        "<div class=\"tablebar\"><span class=\"muted\">{shown}</span>{refresh}</div>",
        shown = if traces.is_empty() { "No traces match these filters.".to_string() } else { format!("Showing {} traces", traces.len()) },
        refresh = if first_page {
            "<label class=\"toggle\"><input type=\"checkbox\" id=\"autorefresh\" data-target=\"trace-rows\"> Auto-refresh (5 s)</label>"
        } else {
            ""
        },
    );
    let _ = write!(
        body,
        "<div class=\"scroll\"><table class=\"grid traces\" data-rows>{TABLE_HEAD}<tbody id=\"trace-rows\">{body_rows}</tbody></table></div>"
    );
    if traces.is_empty() {
        let clear = ctx.url(&format!("/ui/experiments/{experiment_id}/traces"));
        let _ = write!(body, "<p class=\"empty\">Nothing matches. <a href=\"{}\">Clear all filters</a>.</p>", esc(&clear));
    }
    body.push_str(&pager(&ctx, experiment_id, &params, &traces, more.as_deref(), cursor, offset, order.is_some()));
    Ok(html::page(&ctx, &format!("Traces · {}", experiment.name), &experiments::crumbs(&ctx, &experiment, "Traces"), &body))
}

#[allow(clippy::too_many_arguments)]
fn pager(
    ctx: &Ctx,
    experiment_id: i64,
    params: &TracesQuery,
    traces: &[TraceInfo],
    more: Option<&str>,
    cursor: Option<(i64, u64)>,
    offset: u64,
    by_offset: bool,
) -> String {
    let base = format!("/ui/experiments/{experiment_id}/traces");
    let mut links = Vec::new();
    let pairs = params.pairs();
    if cursor.is_some() || (by_offset && offset > 0) {
        links.push(format!("<a href=\"{}\">« Newest</a>", esc(&ctx.url(&format!("{base}{}", query(&pairs))))));
        links.push("<a href=\"#\" data-back>‹ Previous</a>".to_string());
    }
    if let Some(token) = more {
        let mut next = pairs.clone();
        let cursor_text;
        if by_offset {
            next.push(("page", token));
        } else {
            cursor_text = next_cursor(traces, cursor).unwrap_or_default();
            next.push(("after", cursor_text.as_str()));
        }
        links.push(format!("<a href=\"{}\" rel=\"next\">Next ›</a>", esc(&ctx.url(&format!("{base}{}", query(&next))))));
    }
    if links.is_empty() {
        return String::new();
    }
    format!("<nav class=\"pager\" aria-label=\"Pages\">{}</nav>", links.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str, ts: i64) -> TraceInfo {
        TraceInfo {
            trace_id: id.into(),
            experiment_id: 1,
            client_request_id: None,
            request_time_ms: ts,
            execution_duration_ms: None,
            state: TraceState::Ok,
            request_preview: None,
            response_preview: None,
            trace_metadata: BTreeMap::new(),
            tags: BTreeMap::new(),
            assessments: Vec::new(),
            name: None,
            session_id: None,
            span_count: None,
        }
    }

    #[test]
    fn cursor_counts_rows_sharing_the_last_timestamp() {
        let page = vec![info("a", 30), info("b", 20), info("c", 20)];
        assert_eq!(next_cursor(&page, None).as_deref(), Some("20.2"));
        // A page entirely inside one timestamp extends the previous skip.
        let page = vec![info("d", 20), info("e", 20)];
        assert_eq!(next_cursor(&page, Some((20, 2))).as_deref(), Some("20.4"));
        assert_eq!(parse_cursor("20.4"), Some((20, 4)));
        assert_eq!(parse_cursor("x"), None);
    }

    #[test]
    fn search_text_becomes_an_id_or_a_text_clause() {
        let params = TracesQuery { q: "0123456789abcdef0123456789ABCDEF".into(), ..Default::default() };
        assert_eq!(clauses(&params).unwrap()[0].key, TraceKey::RequestId);
        let params = TracesQuery { q: "it's".into(), tag: "env=prod".into(), ..Default::default() };
        let parsed = clauses(&params).unwrap();
        assert_eq!(parsed[0].value, FilterValue::Text("%it's%".into()));
        assert_eq!(parsed[1].key, TraceKey::Tag("env".into()));
        assert!(clauses(&TracesQuery { filter: "nonsense ===".into(), ..Default::default() }).is_err());
    }
}

//! Sessions: an experiment's traces grouped by session id, and one session as a conversation
//! timeline (each trace's request and response as chat turns, oldest first).

use std::fmt::Write;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use rivulet_api::AppState;
use rivulet_core::page::decode_offset_token;
use rivulet_core::search::{parse_trace_order_by, FilterValue, TraceClause, TraceComparator, TraceKey};
use rivulet_core::store::TraceSearch;
use rivulet_core::traces::trace_keys;
use serde::Deserialize;

use crate::html::{self, esc, query, Crumb};
use crate::traces::{state_badge, token_total};
use crate::{ctx, experiments, OrPage, PageResult};

const SESSIONS_PER_PAGE: usize = 50;
const TURNS_PER_PAGE: usize = 100;

#[derive(Debug, Default, Deserialize)]
pub struct SessionsQuery {
    #[serde(default)]
    page: String,
    #[serde(default)]
    id: String,
}

pub async fn list(State(state): State<AppState>, headers: HeaderMap, Path(experiment_id): Path<i64>, Query(params): Query<SessionsQuery>) -> PageResult {
    let ctx = ctx(&state, &headers);
    let experiment = experiments::load(&state, &ctx, experiment_id).await?;
    let offset = decode_offset_token(Some(&params.page)).or_page(&ctx)?;
    let page = state.traces.search_sessions(experiment_id, SESSIONS_PER_PAGE, offset).await.or_page(&ctx)?;
    let mut body = experiments::head(&ctx, &experiment, "sessions");
    if page.items.is_empty() && offset == 0 {
        body.push_str(
            "<section class=\"empty\"><h2>No sessions yet</h2><p>Traces are grouped into a session by the \
             <code>mlflow.trace.session</code> metadata. Set it from your spans with the <code>session.id</code> or \
             <code>gen_ai.conversation.id</code> attribute (any span of the trace), or with MLflow: \
             <code>mlflow.update_current_trace(metadata={\"mlflow.trace.session\": conversation_id})</code>.</p></section>",
        );
    } else {
        body.push_str(
            "<div class=\"scroll\"><table class=\"grid\" data-rows><thead><tr><th>Session</th><th class=\"num\">Traces</th><th>First</th><th>Last</th>\
             <th class=\"num\">Span of time</th><th class=\"num\">Errors</th><th class=\"num\">Tokens</th></tr></thead><tbody>",
        );
        for session in &page.items {
            let href = ctx.url(&format!("/ui/experiments/{experiment_id}/session{}", query(&[("id", &session.session_id)])));
            let _ = write!(
                body,
                "<tr data-href=\"{href}\" tabindex=\"-1\"><td class=\"mono\"><a href=\"{href}\">{id}</a></td><td class=\"num\">{traces}</td><td>{first}</td><td>{last}</td>\
                 <td class=\"num\">{span}</td><td class=\"num\">{errors}</td><td class=\"num\">{tokens}</td></tr>",
                href = esc(&href),
                id = esc(&session.session_id),
                traces = html::count(session.traces as i64),
                first = html::time(session.first_ms),
                last = html::time(session.last_ms),
                span = html::duration_ms((session.last_ms - session.first_ms) as f64),
                errors = if session.errors > 0 { format!("<span class=\"status err\">{}</span>", session.errors) } else { "0".into() },
                tokens = session.total_tokens.map(html::count).unwrap_or_default(),
            );
        }
        body.push_str("</tbody></table></div>");
        if let Some(token) = &page.next_page_token {
            let next = ctx.url(&format!("/ui/experiments/{experiment_id}/sessions{}", query(&[("page", token)])));
            let _ = write!(body, "<nav class=\"pager\"><a href=\"#\" data-back>‹ Previous</a> <a href=\"{}\" rel=\"next\">Next ›</a></nav>", esc(&next));
        }
    }
    Ok(html::page(&ctx, &format!("Sessions · {}", experiment.name), &experiments::crumbs(&ctx, &experiment, "Sessions"), &body))
}

pub async fn timeline(State(state): State<AppState>, headers: HeaderMap, Path(experiment_id): Path<i64>, Query(params): Query<SessionsQuery>) -> PageResult {
    let ctx = ctx(&state, &headers);
    let experiment = experiments::load(&state, &ctx, experiment_id).await?;
    let offset = decode_offset_token(Some(&params.page)).or_page(&ctx)?;
    let search = TraceSearch {
        experiment_ids: vec![experiment_id],
        filter: vec![TraceClause {
            key: TraceKey::Metadata(trace_keys::SESSION.to_string()),
            comparator: TraceComparator::Eq,
            value: FilterValue::Text(params.id.clone()),
        }],
        order_by: parse_trace_order_by(&["timestamp_ms ASC".to_string()]).or_page(&ctx)?,
        max_results: TURNS_PER_PAGE,
        offset,
    };
    let page = state.traces.search_traces(&search).await.or_page(&ctx)?;
    let mut body = experiments::head(&ctx, &experiment, "sessions");
    let _ = write!(
        body,
        "<div class=\"subhead\"><h2>Session <span class=\"mono\">{}</span></h2>{}<span class=\"muted\">{} turns{}</span></div>",
        esc(&params.id),
        html::copy_button(&params.id, "session id"),
        page.items.len(),
        if page.next_page_token.is_some() { " on this page" } else { "" }
    );
    if page.items.is_empty() {
        body.push_str("<p class=\"empty\">No traces carry this session id.</p>");
    }
    body.push_str("<ol class=\"timeline\">");
    for info in &page.items {
        let href = ctx.url(&format!("/ui/traces/{}", info.trace_id));
        let tokens = token_total(info).map(|(t, _)| format!(" · {} tokens", html::count(t))).unwrap_or_default();
        let user = info.trace_metadata.get(trace_keys::USER).map(|u| format!(" · {}", esc(u))).unwrap_or_default();
        let _ = write!(
            body,
            "<li class=\"turn\"><div class=\"turn-meta\">{time} {status} <a href=\"{href}\">{name}</a> <span class=\"muted\">{duration}{tokens}{user}</span></div>\
             <div class=\"msg user\"><div class=\"role\">user</div><div class=\"msg-text\">{request}</div></div>\
             <div class=\"msg assistant\"><div class=\"role\">assistant</div><div class=\"msg-text\">{response}</div></div></li>",
            time = html::time(info.request_time_ms),
            status = state_badge(info.state),
            href = esc(&href),
            name = esc(info.name.as_deref().unwrap_or(&info.trace_id)),
            duration = info.execution_duration_ms.map(|d| html::duration_ms(d as f64)).unwrap_or_default(),
            request = esc(info.request_preview.as_deref().unwrap_or("—")),
            response = esc(info.response_preview.as_deref().unwrap_or("—")),
        );
    }
    body.push_str("</ol>");
    if let Some(token) = &page.next_page_token {
        let next = ctx.url(&format!("/ui/experiments/{experiment_id}/session{}", query(&[("id", &params.id), ("page", token)])));
        let _ = write!(body, "<nav class=\"pager\"><a href=\"{}\" rel=\"next\">Later turns ›</a></nav>", esc(&next));
    }
    let mut crumbs = experiments::crumbs(&ctx, &experiment, "Sessions");
    crumbs[2] = Crumb::link("Sessions", ctx.url(&format!("/ui/experiments/{experiment_id}/sessions")));
    crumbs.push(Crumb::text(html::truncate(&params.id, 24)));
    Ok(html::page(&ctx, &format!("Session {}", params.id), &crumbs, &body))
}

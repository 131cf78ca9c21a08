//! The Runs tab: runs with metric, param and tag columns, MLflow's filter grammar, sorting by
//! any column, paging, and selection for comparison.

use std::collections::BTreeSet;
use std::fmt::Write;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use rivulet_api::AppState;
use rivulet_core::page::decode_offset_token;
use rivulet_core::search::{parse_run_filter, parse_run_order_by};
use rivulet_core::store::RunSearch;
use rivulet_core::tracking::{Run, ViewType, RUN_NAME_TAG};
use serde::Deserialize;

use crate::html::{self, esc, query, Ctx};
use crate::{ctx, experiments, OrPage, PageResult};

const PAGE_SIZE: usize = 50;
const MAX_KEY_COLUMNS: usize = 8;

#[derive(Debug, Default, Deserialize)]
pub struct RunsQuery {
    #[serde(default)]
    filter: String,
    #[serde(default)]
    order: String,
    #[serde(default)]
    view: String,
    #[serde(default)]
    page: String,
}

/// A column key as the filter grammar quotes it (backticks when it is not a plain identifier).
fn quoted(key: &str) -> String {
    if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        key.to_string()
    } else {
        format!("`{}`", key.replace('`', ""))
    }
}

pub(crate) fn run_name(run: &Run) -> String {
    run.info
        .run_name
        .clone()
        .or_else(|| run.data.tags.iter().find(|t| t.key == RUN_NAME_TAG).map(|t| t.value.clone()))
        .unwrap_or_else(|| run.info.run_id.clone())
}

fn sort_link(ctx: &Ctx, experiment_id: i64, params: &RunsQuery, column: &str, label: &str) -> String {
    let descending = format!("{column} DESC");
    let ascending = format!("{column} ASC");
    let (next, arrow) = if params.order == descending {
        (ascending.as_str(), " ↓")
    } else if params.order == ascending {
        (descending.as_str(), " ↑")
    } else {
        (descending.as_str(), "")
    };
    let href = ctx.url(&format!(
        "/ui/experiments/{experiment_id}/runs{}",
        query(&[("filter", &params.filter), ("view", &params.view), ("order", next)])
    ));
    format!("<a href=\"{}\" class=\"sort\">{}{arrow}</a>", esc(&href), esc(label))
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Path(experiment_id): Path<i64>, Query(params): Query<RunsQuery>) -> PageResult {
    let ctx = ctx(&state, &headers);
    let experiment = experiments::load(&state, &ctx, experiment_id).await?;
    let mut error = None;
    let filter = parse_run_filter(&params.filter).unwrap_or_else(|e| {
        error = Some(e.message);
        Vec::new()
    });
    let order_by = if params.order.trim().is_empty() {
        Vec::new()
    } else {
        parse_run_order_by(std::slice::from_ref(&params.order)).unwrap_or_else(|e| {
            error = Some(e.message);
            Vec::new()
        })
    };
    let search = RunSearch {
        experiment_ids: vec![experiment_id],
        filter,
        order_by,
        view_type: if params.view == "deleted" { ViewType::DeletedOnly } else { ViewType::ActiveOnly },
        max_results: PAGE_SIZE,
        offset: decode_offset_token(Some(&params.page)).or_page(&ctx)?,
    };
    let page = match state.tracking.search_runs(&search).await {
        Ok(page) => page,
        Err(e) => {
            error = Some(e.message);
            rivulet_core::page::Page { items: Vec::new(), next_page_token: None }
        }
    };

    let mut body = experiments::head(&ctx, &experiment, "runs");
    let empty_experiment = page.items.is_empty() && params.filter.is_empty() && search.offset == 0 && error.is_none() && params.view.is_empty();
    if empty_experiment {
        let _ = write!(
            body,
            "<section class=\"empty\"><h2>No runs yet</h2><p>Log one with the MLflow client:</p><pre><code>import mlflow\n\
             mlflow.set_tracking_uri(\"{base}\")\nmlflow.set_experiment(experiment_id=\"{experiment_id}\")\n\
             with mlflow.start_run():\n    mlflow.log_param(\"lr\", 0.01)\n    for step in range(10):\n        mlflow.log_metric(\"loss\", 1 / (step + 1), step=step)</code></pre></section>",
            base = esc(&ctx.public_base()),
        );
        return Ok(html::page(&ctx, &format!("Runs · {}", experiment.name), &experiments::crumbs(&ctx, &experiment, "Runs"), &body));
    }
    let _ = write!(
        body,
        "<form class=\"filters\" method=\"get\" role=\"search\"><label class=\"grow\">Filter <input name=\"filter\" class=\"mono\" value=\"{filter}\" \
         placeholder=\"metrics.accuracy > 0.9 AND params.model = 'llama'\" data-search></label>\
         <input type=\"hidden\" name=\"order\" value=\"{order}\"><label>Show <select name=\"view\"><option value=\"\">Active</option>\
         <option value=\"deleted\"{deleted}>Deleted</option></select></label><button>Apply</button></form>",
        filter = esc(&params.filter),
        order = esc(&params.order),
        deleted = if params.view == "deleted" { " selected" } else { "" },
    );
    if let Some(message) = &error {
        body.push_str(&html::notice("error", message));
    }

    let mut metric_keys = BTreeSet::new();
    let mut param_keys = BTreeSet::new();
    let mut tag_keys = BTreeSet::new();
    for run in &page.items {
        metric_keys.extend(run.data.metrics.iter().map(|m| m.key.clone()));
        param_keys.extend(run.data.params.iter().map(|p| p.key.clone()));
        tag_keys.extend(run.data.tags.iter().filter(|t| !t.key.starts_with("mlflow.")).map(|t| t.key.clone()));
    }
    let metric_keys: Vec<_> = metric_keys.into_iter().take(MAX_KEY_COLUMNS).collect();
    let param_keys: Vec<_> = param_keys.into_iter().take(MAX_KEY_COLUMNS).collect();
    let tag_keys: Vec<_> = tag_keys.into_iter().take(MAX_KEY_COLUMNS / 2).collect();

    let compare = ctx.url(&format!("/ui/experiments/{experiment_id}/compare"));
    let _ = write!(body, "<form method=\"get\" action=\"{}\" class=\"compare-form\"><div class=\"tablebar\"><span class=\"muted\">{} runs{}</span>\
        <button class=\"small\">Compare selected</button></div><div class=\"scroll\"><table class=\"grid runs\" data-rows><thead><tr><th><span class=\"sr\">Select</span></th>",
        esc(&compare), page.items.len(), if page.next_page_token.is_some() { " on this page" } else { "" });
    let _ = write!(
        body,
        "<th>{}</th><th>{}</th><th>{}</th><th class=\"num\">Duration</th>",
        sort_link(&ctx, experiment_id, &params, "attributes.run_name", "Run"),
        sort_link(&ctx, experiment_id, &params, "attributes.status", "Status"),
        sort_link(&ctx, experiment_id, &params, "attributes.start_time", "Started")
    );
    for key in &metric_keys {
        let _ = write!(body, "<th class=\"num metric\">{}</th>", sort_link(&ctx, experiment_id, &params, &format!("metrics.{}", quoted(key)), key));
    }
    for key in &param_keys {
        let _ = write!(body, "<th class=\"param\">{}</th>", sort_link(&ctx, experiment_id, &params, &format!("params.{}", quoted(key)), key));
    }
    for key in &tag_keys {
        let _ = write!(body, "<th class=\"tag\">{}</th>", sort_link(&ctx, experiment_id, &params, &format!("tags.{}", quoted(key)), key));
    }
    body.push_str("</tr></thead><tbody>");
    for run in &page.items {
        let href = ctx.url(&format!("/ui/runs/{}", run.info.run_id));
        let duration = match (run.info.start_time, run.info.end_time) {
            (Some(start), Some(end)) if end >= start => html::duration_ms((end - start) as f64),
            _ => String::new(),
        };
        let _ = write!(
            body,
            "<tr data-href=\"{href}\" tabindex=\"-1\"><td><input type=\"checkbox\" name=\"run\" value=\"{id}\" aria-label=\"Select {name}\"></td>\
             <td><a href=\"{href}\">{name}</a></td><td><span class=\"status s-{status_lc}\">{status}</span></td><td>{start}</td><td class=\"num\">{duration}</td>",
            href = esc(&href),
            id = esc(&run.info.run_id),
            name = esc(&run_name(run)),
            status = run.info.status.as_str(),
            status_lc = run.info.status.as_str().to_ascii_lowercase(),
            start = run.info.start_time.map(html::time).unwrap_or_default(),
        );
        for key in &metric_keys {
            let value = run.data.metrics.iter().find(|m| &m.key == key).map(|m| html::number(m.value)).unwrap_or_default();
            let _ = write!(body, "<td class=\"num\">{value}</td>");
        }
        for key in &param_keys {
            let value = run.data.params.iter().find(|p| &p.key == key).map(|p| p.value.as_str()).unwrap_or("");
            let _ = write!(body, "<td title=\"{}\">{}</td>", esc(value), esc(&html::truncate(value, 40)));
        }
        for key in &tag_keys {
            let value = run.data.tags.iter().find(|t| &t.key == key).map(|t| t.value.as_str()).unwrap_or("");
            let _ = write!(body, "<td title=\"{}\">{}</td>", esc(value), esc(&html::truncate(value, 30)));
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table></div></form>");
    if page.items.is_empty() {
        body.push_str("<p class=\"empty\">No runs match this filter.</p>");
    }
    if let Some(token) = &page.next_page_token {
        let next = ctx.url(&format!(
            "/ui/experiments/{experiment_id}/runs{}",
            query(&[("filter", &params.filter), ("order", &params.order), ("view", &params.view), ("page", token)])
        ));
        let _ = write!(body, "<nav class=\"pager\"><a href=\"#\" data-back>‹ Previous</a> <a href=\"{}\" rel=\"next\">Next ›</a></nav>", esc(&next));
    }
    Ok(html::page(&ctx, &format!("Runs · {}", experiment.name), &experiments::crumbs(&ctx, &experiment, "Runs"), &body))
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_quoted_when_needed() {
        assert_eq!(super::quoted("loss"), "loss");
        assert_eq!(super::quoted("val/loss"), "`val/loss`");
    }
}

//! Comparing two or more runs: parameters side by side with differences marked, latest metric
//! values, and each shared metric's history overlaid in one chart.

use std::collections::BTreeSet;
use std::fmt::Write;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use rivulet_api::AppState;

use crate::chart::{line_chart, Series, COLORS};
use crate::html::{self, esc};
use crate::run::{axis_of, axis_switch, history, MAX_CHARTS};
use crate::runs::run_name;
use crate::{ctx, experiments, query_values, OrPage, PageResult};

const MAX_RUNS: usize = 8;

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Path(experiment_id): Path<i64>, RawQuery(raw): RawQuery) -> PageResult {
    let ctx = ctx(&state, &headers);
    let experiment = experiments::load(&state, &ctx, experiment_id).await?;
    let mut ids: Vec<String> = query_values(raw.as_deref(), "run");
    for list in query_values(raw.as_deref(), "runs") {
        ids.extend(list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string));
    }
    ids.dedup();
    ids.truncate(MAX_RUNS);
    let axis = axis_of(query_values(raw.as_deref(), "x").first().map_or("", String::as_str));
    let mut body = experiments::head(&ctx, &experiment, "runs");
    if ids.len() < 2 {
        body.push_str(&html::notice("info", "Select two or more runs in the Runs tab, then press \"Compare selected\"."));
        return Ok(html::page(&ctx, "Compare runs", &experiments::crumbs(&ctx, &experiment, "Compare"), &body));
    }
    let mut runs = Vec::new();
    for id in &ids {
        runs.push(state.tracking.get_run(id).await.or_page(&ctx)?);
    }
    let _ = write!(body, "<h2 class=\"sub\">Comparing {} runs</h2><div class=\"scroll\"><table class=\"grid compare\"><thead><tr><th>Parameter</th>", runs.len());
    for (idx, run) in runs.iter().enumerate() {
        let _ = write!(
            body,
            "<th><span class=\"swatch\" style=\"background:{}\"></span><a href=\"{}\">{}</a></th>",
            COLORS[idx % COLORS.len()],
            esc(&ctx.url(&format!("/ui/runs/{}", run.info.run_id))),
            esc(&run_name(run))
        );
    }
    body.push_str("</tr></thead><tbody>");
    let param_keys: BTreeSet<&str> = runs.iter().flat_map(|r| r.data.params.iter().map(|p| p.key.as_str())).collect();
    let mut differing = 0;
    for key in &param_keys {
        let values: Vec<Option<&str>> = runs.iter().map(|r| r.data.params.iter().find(|p| p.key == *key).map(|p| p.value.as_str())).collect();
        let differs = values.iter().any(|v| *v != values[0]);
        differing += usize::from(differs);
        let _ = write!(body, "<tr{}><th class=\"mono\">{}</th>", if differs { " class=\"diff\"" } else { " class=\"same\"" }, esc(key));
        for value in values {
            let _ = write!(body, "<td>{}</td>", value.map(esc).unwrap_or_else(|| "<span class=\"muted\">—</span>".into()));
        }
        body.push_str("</tr>");
    }
    let metric_keys: BTreeSet<&str> = runs.iter().flat_map(|r| r.data.metrics.iter().map(|m| m.key.as_str())).collect();
    for key in &metric_keys {
        let _ = write!(body, "<tr class=\"metric\"><th class=\"mono\">{} <span class=\"muted\">(latest)</span></th>", esc(key));
        for run in &runs {
            let value = run.data.metrics.iter().find(|m| m.key == *key).map(|m| html::number(m.value)).unwrap_or_default();
            let _ = write!(body, "<td class=\"num\">{value}</td>");
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table></div>");
    let _ = write!(
        body,
        "<p class=\"muted\">{differing} of {} parameters differ (highlighted). <label class=\"toggle\"><input type=\"checkbox\" data-only-diff> Show only differences</label></p>",
        param_keys.len()
    );

    let pairs: Vec<(&str, &str)> = ids.iter().map(|id| ("run", id.as_str())).collect();
    let _ = write!(
        body,
        "<section class=\"panel\"><div class=\"panel-head\"><h2>Metrics</h2>{}</div><div class=\"charts\">",
        axis_switch(&ctx.url(&format!("/ui/experiments/{experiment_id}/compare")), &pairs, axis)
    );
    for key in metric_keys.iter().take(MAX_CHARTS) {
        let mut series = Vec::new();
        for run in &runs {
            let points = if run.data.metrics.iter().any(|m| m.key == *key) {
                history(&state, &run.info.run_id, key, axis).await.or_page(&ctx)?
            } else {
                Vec::new()
            };
            series.push(Series { label: run_name(run), points });
        }
        if let Some(svg) = line_chart(key, &series, axis) {
            body.push_str(&svg);
        }
    }
    if metric_keys.is_empty() {
        body.push_str("<p class=\"muted\">These runs logged no metrics.</p>");
    }
    body.push_str("</div></section>");
    Ok(html::page(&ctx, "Compare runs", &experiments::crumbs(&ctx, &experiment, "Compare"), &body))
}

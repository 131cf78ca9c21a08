//! The run page: facts, metrics as line charts over step or time, params, tags, and links to
//! the run's artifacts and traces.

use std::fmt::Write;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use rivulet_api::AppState;
use rivulet_core::store::MetricHistoryQuery;
use rivulet_core::tracking::{Metric, Run};
use serde::Deserialize;

use crate::chart::{line_chart, Series, XAxis};
use crate::html::{self, esc, query, Crumb, Ctx};
use crate::runs::run_name;
use crate::{ctx, OrPage, PageResult};

/// Charts drawn per page; more metrics are listed in the table only.
pub(crate) const MAX_CHARTS: usize = 24;

#[derive(Debug, Default, Deserialize)]
pub struct RunQuery {
    #[serde(default)]
    x: String,
}

/// A metric's full history, ordered for the chosen axis.
pub(crate) async fn history(state: &AppState, run_id: &str, key: &str, axis: XAxis) -> rivulet_core::Result<Vec<(f64, f64)>> {
    let query = MetricHistoryQuery { run_id: run_id.to_string(), metric_key: key.to_string(), max_results: None, offset: 0 };
    let metrics: Vec<Metric> = state
        .tracking
        .get_metric_history(&query)
        .await?
        .map(|page| page.items.into_iter().map(|m| m.metric).collect())
        .unwrap_or_default();
    let mut points: Vec<(f64, f64)> = metrics
        .iter()
        .map(|m| (if axis == XAxis::Step { m.step as f64 } else { m.timestamp as f64 }, m.value))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(points)
}

pub(crate) fn axis_of(x: &str) -> XAxis {
    if x == "time" {
        XAxis::Time
    } else {
        XAxis::Step
    }
}

/// The step/time switch above a chart grid.
pub(crate) fn axis_switch(base_href: &str, extra: &[(&str, &str)], axis: XAxis) -> String {
    let link = |value: &str, label: &str, on: bool| {
        let mut pairs = extra.to_vec();
        pairs.push(("x", value));
        format!(
            "<a href=\"{}{}\"{}>{label}</a>",
            esc(base_href),
            esc(&query(&pairs)),
            if on { " aria-current=\"true\" class=\"on\"" } else { "" }
        )
    };
    format!(
        "<div class=\"seg\" role=\"group\" aria-label=\"X axis\">{}{}</div>",
        link("step", "Step", axis == XAxis::Step),
        link("time", "Time", axis == XAxis::Time)
    )
}

fn key_values(title: &str, rows: &[(String, String)]) -> String {
    if rows.is_empty() {
        return format!("<section class=\"panel\"><h2>{title}</h2><p class=\"muted\">None.</p></section>");
    }
    let mut out = format!("<section class=\"panel\"><h2>{title} <span class=\"muted\">({})</span></h2><table class=\"kv\"><tbody>", rows.len());
    for (key, value) in rows {
        let _ = write!(out, "<tr><th class=\"mono\">{}</th><td class=\"wrap\">{}</td></tr>", esc(key), esc(value));
    }
    out.push_str("</tbody></table></section>");
    out
}

fn facts(ctx: &Ctx, run: &Run) -> String {
    let mut out = String::from("<div class=\"facts\">");
    let _ = write!(out, "<div class=\"fact\"><span>Status</span><strong><span class=\"status s-{}\">{}</span></strong></div>", run.info.status.as_str().to_ascii_lowercase(), run.info.status.as_str());
    if let Some(start) = run.info.start_time {
        let _ = write!(out, "<div class=\"fact\"><span>Started</span><strong>{}</strong></div>", html::time(start));
    }
    if let (Some(start), Some(end)) = (run.info.start_time, run.info.end_time) {
        let _ = write!(out, "<div class=\"fact\"><span>Duration</span><strong>{}</strong></div>", html::duration_ms((end - start).max(0) as f64));
    }
    if let Some(user) = &run.info.user_id {
        let _ = write!(out, "<div class=\"fact\"><span>User</span><strong>{}</strong></div>", esc(user));
    }
    let traces = ctx.url(&format!(
        "/ui/experiments/{}/traces{}",
        run.info.experiment_id,
        query(&[("filter", &format!("attributes.run_id = '{}'", run.info.run_id))])
    ));
    let artifacts = ctx.url(&format!("/ui/runs/{}/artifacts", run.info.run_id));
    let _ = write!(
        out,
        "<div class=\"fact\"><span>Artifacts</span><strong><a href=\"{}\">Browse</a></strong></div><div class=\"fact\"><span>Traces</span><strong><a href=\"{}\">Of this run</a></strong></div></div>",
        esc(&artifacts),
        esc(&traces)
    );
    out
}

pub(crate) fn run_crumbs(ctx: &Ctx, run: &Run, experiment_name: &str, last: Option<&str>) -> Vec<Crumb> {
    let mut crumbs = vec![
        Crumb::link("Experiments", ctx.url("/")),
        Crumb::link(experiment_name.to_string(), ctx.url(&format!("/ui/experiments/{}/runs", run.info.experiment_id))),
        Crumb::link(run_name(run), ctx.url(&format!("/ui/runs/{}", run.info.run_id))),
    ];
    if let Some(last) = last {
        crumbs.push(Crumb::text(last));
    }
    crumbs
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Path(run_id): Path<String>, Query(params): Query<RunQuery>) -> PageResult {
    let ctx = ctx(&state, &headers);
    let run = state.tracking.get_run(&run_id).await.or_page(&ctx)?;
    let experiment_name = state.tracking.get_experiment(run.info.experiment_id).await.map(|e| e.name).unwrap_or_default();
    let axis = axis_of(&params.x);
    let name = run_name(&run);

    let mut body = format!(
        "<div class=\"head\"><h1>{}</h1><span class=\"muted mono\">{}</span>{}</div>",
        esc(&name),
        esc(&run.info.run_id),
        html::copy_button(&run.info.run_id, "run id")
    );
    body.push_str(&facts(&ctx, &run));

    let mut metrics = run.data.metrics.clone();
    metrics.sort_by(|a, b| a.key.cmp(&b.key));
    let _ = write!(body, "<section class=\"panel\"><div class=\"panel-head\"><h2>Metrics <span class=\"muted\">({})</span></h2>{}</div>", metrics.len(), if metrics.is_empty() { String::new() } else { axis_switch(&ctx.url(&format!("/ui/runs/{run_id}")), &[], axis) });
    if metrics.is_empty() {
        body.push_str("<p class=\"muted\">No metrics logged.</p>");
    } else {
        body.push_str("<div class=\"charts\">");
        for metric in metrics.iter().take(MAX_CHARTS) {
            let points = history(&state, &run_id, &metric.key, axis).await.or_page(&ctx)?;
            let series = [Series { label: metric.key.clone(), points }];
            if let Some(svg) = line_chart(&metric.key, &series, axis) {
                body.push_str(&svg);
            }
        }
        body.push_str("</div><table class=\"kv\"><thead><tr><th>Metric</th><th class=\"num\">Latest</th><th class=\"num\">Step</th></tr></thead><tbody>");
        for metric in &metrics {
            let _ = write!(body, "<tr><th class=\"mono\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>", esc(&metric.key), html::number(metric.value), metric.step);
        }
        body.push_str("</tbody></table>");
        if metrics.len() > MAX_CHARTS {
            let _ = write!(body, "<p class=\"muted\">Charts show the first {MAX_CHARTS} metrics.</p>");
        }
    }
    body.push_str("</section><div class=\"two\">");
    let params_rows: Vec<(String, String)> = run.data.params.iter().map(|p| (p.key.clone(), p.value.clone())).collect();
    let tag_rows: Vec<(String, String)> = run.data.tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect();
    body.push_str(&key_values("Parameters", &params_rows));
    body.push_str(&key_values("Tags", &tag_rows));
    body.push_str("</div>");
    Ok(html::page(&ctx, &name, &run_crumbs(&ctx, &run, &experiment_name, None), &body))
}

//! The service graph: services (OpenTelemetry `service.name`) and the calls between them, from
//! parent/child spans of different services, drawn as a layered SVG. Clicking an edge lists
//! the traces that hold such a call.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use rivulet_api::AppState;
use rivulet_core::traces::model::{ServiceEdge, ServiceGraph};
use serde::Deserialize;

use crate::html::{self, esc, query, Ctx};
use crate::traces::{now_ms, range_ms, rows, TABLE_HEAD};
use crate::{ctx, experiments, OrPage, PageResult};

const NODE_W: f64 = 190.0;
const NODE_H: f64 = 58.0;
const COL_GAP: f64 = 210.0;
const ROW_GAP: f64 = 46.0;
const MARGIN: f64 = 24.0;

#[derive(Debug, Default, Deserialize)]
pub struct GraphQuery {
    #[serde(default)]
    range: String,
    #[serde(default)]
    parent: String,
    #[serde(default)]
    child: String,
}

/// Column of each service: the longest call path leading to it (cycles stop growing after
/// as many rounds as there are services).
pub(crate) fn layers(graph: &ServiceGraph) -> BTreeMap<String, usize> {
    let mut names: BTreeSet<String> = graph.nodes.iter().map(|n| n.service_name.clone()).collect();
    for edge in &graph.edges {
        names.insert(edge.parent_service.clone());
        names.insert(edge.child_service.clone());
    }
    let mut layer: BTreeMap<String, usize> = names.into_iter().map(|n| (n, 0)).collect();
    let limit = layer.len();
    for _ in 0..limit {
        let mut changed = false;
        for edge in &graph.edges {
            let parent = layer[&edge.parent_service];
            if edge.parent_service != edge.child_service && layer[&edge.child_service] < parent + 1 && parent + 1 < limit {
                layer.insert(edge.child_service.clone(), parent + 1);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    layer
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

fn edge_href(ctx: &Ctx, experiment_id: i64, range: &str, edge: &ServiceEdge) -> String {
    let q = query(&[("range", range), ("parent", &edge.parent_service), ("child", &edge.child_service)]);
    format!("{}#edge-traces", ctx.url(&format!("/ui/experiments/{experiment_id}/graph{q}")))
}

/// The graph as an SVG with one link per edge.
pub(crate) fn svg(ctx: &Ctx, experiment_id: i64, range: &str, graph: &ServiceGraph, selected: Option<(&str, &str)>) -> String {
    let layer = layers(graph);
    let mut columns: BTreeMap<usize, Vec<&String>> = BTreeMap::new();
    for (name, col) in &layer {
        columns.entry(*col).or_default().push(name);
    }
    let mut position: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    let rows = columns.values().map(Vec::len).max().unwrap_or(1);
    let height = MARGIN * 2.0 + rows as f64 * (NODE_H + ROW_GAP);
    for (col, names) in &columns {
        let column_height = names.len() as f64 * (NODE_H + ROW_GAP) - ROW_GAP;
        let top = (height - column_height) / 2.0;
        for (row, name) in names.iter().enumerate() {
            let x = MARGIN + *col as f64 * (NODE_W + COL_GAP);
            position.insert(name.as_str(), (x, top + row as f64 * (NODE_H + ROW_GAP)));
        }
    }
    let width = MARGIN * 2.0 + columns.len().max(1) as f64 * (NODE_W + COL_GAP) - COL_GAP;
    let mut out = format!(
        "<svg class=\"graph\" viewBox=\"0 0 {width:.0} {height:.0}\" width=\"{width:.0}\" height=\"{height:.0}\" role=\"img\" aria-label=\"Service dependency graph\">\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerUnits=\"userSpaceOnUse\" markerWidth=\"10\" markerHeight=\"10\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" class=\"arrowhead\"/></marker></defs>"
    );
    let max_calls = graph.edges.iter().map(|e| e.calls).max().unwrap_or(1).max(1) as f64;
    for edge in &graph.edges {
        let (Some(&(px, py)), Some(&(cx, cy))) = (position.get(edge.parent_service.as_str()), position.get(edge.child_service.as_str())) else {
            continue;
        };
        let error_rate = percent(edge.errors, edge.calls);
        let (x1, y1, x2, y2) = (px + NODE_W, py + NODE_H / 2.0, cx, cy + NODE_H / 2.0);
        let path = if x2 > x1 {
            let bend = (x2 - x1) / 2.0;
            format!("M{x1:.1},{y1:.1} C{:.1},{y1:.1} {:.1},{y2:.1} {x2:.1},{y2:.1}", x1 + bend, x2 - bend)
        } else {
            // A call back to an earlier column (or itself) loops under the boxes.
            let low = py.max(cy) + NODE_H + ROW_GAP * 0.8;
            format!("M{:.1},{:.1} C{:.1},{low:.1} {:.1},{low:.1} {:.1},{:.1}", px + NODE_W / 2.0, py + NODE_H, px + NODE_W / 2.0, cx + NODE_W / 2.0, cx + NODE_W / 2.0, cy + NODE_H)
        };
        let (lx, ly) = if x2 > x1 { ((x1 + x2) / 2.0, (y1 + y2) / 2.0) } else { ((px + cx + NODE_W) / 2.0, py.max(cy) + NODE_H + ROW_GAP * 0.55) };
        let stroke = 1.5 + 4.5 * ((edge.calls as f64).ln_1p() / max_calls.ln_1p());
        let is_selected = selected == Some((edge.parent_service.as_str(), edge.child_service.as_str()));
        let class = format!("edge{}{}", if error_rate >= 5.0 { " bad" } else { "" }, if is_selected { " selected" } else { "" });
        let label = format!("{} calls · {:.1}% err", html::count(edge.calls as i64), error_rate);
        let latency = format!("p50 {} · p95 {}", html::duration_ms(edge.p50_ms), html::duration_ms(edge.p95_ms));
        let _ = write!(
            out,
            "<a href=\"{href}\" class=\"{class}\" aria-label=\"{parent} calls {child}: {label}, {latency}\"><title>{parent} → {child}: {label}, {latency}</title>\
             <path d=\"{path}\" stroke-width=\"{stroke:.1}\" marker-end=\"url(#arrow)\"/><path d=\"{path}\" class=\"hit\"/>\
             <text x=\"{lx:.1}\" y=\"{ly1:.1}\" text-anchor=\"middle\">{label}</text><text x=\"{lx:.1}\" y=\"{ly2:.1}\" text-anchor=\"middle\" class=\"sub\">{latency}</text></a>",
            href = esc(&edge_href(ctx, experiment_id, range, edge)),
            parent = esc(&edge.parent_service),
            child = esc(&edge.child_service),
            label = esc(&label),
            latency = esc(&latency),
            ly1 = ly - 19.0,
            ly2 = ly - 6.0,
        );
    }
    let spans: BTreeMap<&str, (u64, u64)> = graph.nodes.iter().map(|n| (n.service_name.as_str(), (n.spans, n.errors))).collect();
    for (name, (x, y)) in &position {
        let (count, errors) = spans.get(name).copied().unwrap_or((0, 0));
        let _ = write!(
            out,
            "<g class=\"node{bad}\"><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"8\"/>\
             <text x=\"{tx:.1}\" y=\"{ty1:.1}\" text-anchor=\"middle\" class=\"title\">{label}</text>\
             <text x=\"{tx:.1}\" y=\"{ty2:.1}\" text-anchor=\"middle\" class=\"sub\">{spans} spans · {err:.1}% err</text><title>{name}</title></g>",
            bad = if percent(errors, count) >= 5.0 { " bad" } else { "" },
            tx = x + NODE_W / 2.0,
            ty1 = y + 24.0,
            ty2 = y + 43.0,
            label = esc(&html::truncate(name, 24)),
            spans = html::count(count as i64),
            err = percent(errors, count),
            name = esc(name),
        );
    }
    out.push_str("</svg>");
    out
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Path(experiment_id): Path<i64>, Query(params): Query<GraphQuery>) -> PageResult {
    let ctx = ctx(&state, &headers);
    let experiment = experiments::load(&state, &ctx, experiment_id).await?;
    let range = if params.range.is_empty() { "7d".to_string() } else { params.range.clone() };
    let to = now_ms() + 60_000;
    let from = range_ms(&range).map_or(0, |span| now_ms() - span);
    let graph = state.traces.service_graph(experiment_id, from, to).await.or_page(&ctx)?;

    let mut body = experiments::head(&ctx, &experiment, "graph");
    let _ = write!(body, "<form class=\"filters\" method=\"get\"><label>Time <select name=\"range\">");
    for (value, label) in [("15m", "Last 15 minutes"), ("1h", "Last hour"), ("24h", "Last 24 hours"), ("7d", "Last 7 days"), ("30d", "Last 30 days"), ("all", "All time")] {
        let sel = if value == range { " selected" } else { "" };
        let _ = write!(body, "<option value=\"{value}\"{sel}>{label}</option>");
    }
    body.push_str("</select></label><button>Show</button></form>");

    if graph.edges.is_empty() {
        let services = graph.nodes.len();
        let _ = write!(
            body,
            "<section class=\"empty\"><h2>No calls between services in this range</h2><p>{seen} The graph is drawn from spans whose parent span \
             was emitted by a <em>different</em> service: set <code>OTEL_SERVICE_NAME</code> (resource attribute <code>service.name</code>) in every process, \
             and propagate trace context between them (W3C <code>traceparent</code> headers, which OpenTelemetry HTTP and gRPC instrumentation does by default).</p>\
             <p>Try a longer time range, e.g. <a href=\"{all}\">all time</a>.</p></section>",
            seen = if services > 0 { format!("{services} service(s) sent spans, but none called another.") } else { "No spans with a service name arrived in this range.".to_string() },
            all = esc(&ctx.url(&format!("/ui/experiments/{experiment_id}/graph?range=all"))),
        );
        return Ok(html::page(&ctx, &format!("Service graph · {}", experiment.name), &experiments::crumbs(&ctx, &experiment, "Service graph"), &body));
    }
    let selected = (!params.parent.is_empty()).then_some((params.parent.as_str(), params.child.as_str()));
    let _ = write!(body, "<div class=\"graph-wrap\">{}</div>", svg(&ctx, experiment_id, &range, &graph, selected));
    if graph.truncated {
        body.push_str(&html::notice("info", "This range holds more calls than are read at once; figures come from the most recent calls."));
    }
    body.push_str(
        "<h2 class=\"sub\">Calls</h2><div class=\"scroll\"><table class=\"grid\" data-rows><thead><tr><th>From</th><th>To</th><th class=\"num\">Calls</th>\
         <th class=\"num\">Errors</th><th class=\"num\">p50</th><th class=\"num\">p95</th><th></th></tr></thead><tbody>",
    );
    for edge in &graph.edges {
        let href = edge_href(&ctx, experiment_id, &range, edge);
        let _ = write!(
            body,
            "<tr data-href=\"{href}\" tabindex=\"-1\"><td>{p}</td><td>{c}</td><td class=\"num\">{calls}</td><td class=\"num\">{err:.1}%</td><td class=\"num\">{p50}</td><td class=\"num\">{p95}</td><td><a href=\"{href}\">traces</a></td></tr>",
            href = esc(&href),
            p = esc(&edge.parent_service),
            c = esc(&edge.child_service),
            calls = html::count(edge.calls as i64),
            err = percent(edge.errors, edge.calls),
            p50 = html::duration_ms(edge.p50_ms),
            p95 = html::duration_ms(edge.p95_ms),
        );
    }
    body.push_str("</tbody></table></div>");
    if let Some((parent, child)) = selected {
        let ids = state.traces.traces_with_service_call(experiment_id, parent, child, from, to, 50).await.or_page(&ctx)?;
        let infos = state.traces.get_trace_infos(&ids).await.or_page(&ctx)?;
        let models = state.traces.trace_models(&ids).await.unwrap_or_default();
        let _ = write!(
            body,
            "<h2 class=\"sub\" id=\"edge-traces\">Traces with a call {} → {}</h2><div class=\"scroll\"><table class=\"grid traces\" data-rows>{TABLE_HEAD}<tbody>{}</tbody></table></div>",
            esc(parent),
            esc(child),
            rows(&ctx, experiment_id, &infos, &models)
        );
        if infos.is_empty() {
            body.push_str("<p class=\"empty\">No traces hold this call in the range.</p>");
        }
    }
    Ok(html::page(&ctx, &format!("Service graph · {}", experiment.name), &experiments::crumbs(&ctx, &experiment, "Service graph"), &body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rivulet_core::traces::model::ServiceNode;

    fn edge(p: &str, c: &str) -> ServiceEdge {
        ServiceEdge { parent_service: p.into(), child_service: c.into(), calls: 10, errors: 1, p50_ms: 5.0, p95_ms: 9.0 }
    }

    #[test]
    fn layers_follow_the_longest_call_path_and_survive_cycles() {
        let graph = ServiceGraph {
            nodes: vec![ServiceNode { service_name: "gateway".into(), spans: 5, errors: 0 }],
            edges: vec![edge("gateway", "agent"), edge("agent", "vllm"), edge("gateway", "vllm"), edge("vllm", "agent")],
            truncated: false,
        };
        let layer = layers(&graph);
        assert_eq!(layer["gateway"], 0);
        assert!(layer["vllm"] >= 1 && layer["agent"] >= 1);
        let ctx = Ctx { base: String::new(), origin: "http://h".into() };
        let drawn = svg(&ctx, 1, "7d", &graph, Some(("gateway", "agent")));
        assert!(drawn.contains("10 calls · 10.0% err"), "{drawn}");
        assert!(drawn.contains("edge bad selected"));
        assert!(drawn.contains("parent=gateway&amp;child=agent"));
    }
}

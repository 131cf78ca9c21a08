//! Line charts drawn on the server as SVG: one or more series over step or time, with axes,
//! tick labels and a legend. Long histories are thinned to at most a few hundred points per
//! series, keeping each bucket's minimum and maximum so spikes survive.

use std::fmt::Write;

use crate::html::{self, esc};

const W: f64 = 560.0;
const H: f64 = 240.0;
const LEFT: f64 = 58.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 34.0;
const MAX_POINTS: usize = 600;

/// Colour-blind-safe palette (Okabe–Ito order).
pub const COLORS: &[&str] = &["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#7f7f00", "#000000"];

pub struct Series {
    pub label: String,
    /// (x, y) in x order.
    pub points: Vec<(f64, f64)>,
}

/// How the x axis is labelled.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    Step,
    /// x is epoch milliseconds.
    Time,
}

/// Keeps at most `MAX_POINTS`: per bucket the first, min and max points in x order.
pub fn thin(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    if points.len() <= MAX_POINTS {
        return points.to_vec();
    }
    let buckets = MAX_POINTS / 3;
    let size = points.len().div_ceil(buckets);
    let mut out = Vec::with_capacity(MAX_POINTS + 3);
    for chunk in points.chunks(size) {
        let mut picks = vec![0];
        let (mut lo, mut hi) = (0, 0);
        for (i, p) in chunk.iter().enumerate() {
            if p.1 < chunk[lo].1 {
                lo = i;
            }
            if p.1 > chunk[hi].1 {
                hi = i;
            }
        }
        picks.push(lo);
        picks.push(hi);
        picks.sort_unstable();
        picks.dedup();
        out.extend(picks.into_iter().map(|i| chunk[i]));
    }
    if let Some(last) = points.last() {
        if out.last() != Some(last) {
            out.push(*last);
        }
    }
    out
}

/// Round tick positions covering [lo, hi].
fn ticks(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    let span = (hi - lo).abs().max(f64::EPSILON);
    let raw = span / count as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(magnitude * 10.0);
    let mut out = Vec::new();
    let mut value = (lo / step).ceil() * step;
    while value <= hi + step * 1e-9 && out.len() < 20 {
        out.push(value);
        value += step;
    }
    out
}

fn x_label(axis: XAxis, value: f64, span: f64) -> String {
    match axis {
        XAxis::Step => html::number(value),
        XAxis::Time => {
            let text = html::iso_utc(value as i64);
            // Within a day the clock is enough; otherwise the date.
            if span < 86_400_000.0 {
                text[11..19].to_string()
            } else {
                text[5..16].to_string()
            }
        }
    }
}

/// An SVG chart of the series; `None` when there is nothing finite to draw.
pub fn line_chart(title: &str, series: &[Series], axis: XAxis) -> Option<String> {
    let thinned: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| thin(&s.points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite()).collect::<Vec<_>>()))
        .collect();
    let all = thinned.iter().flatten();
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in all {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(*y);
        y1 = y1.max(*y);
    }
    if x0 > x1 {
        return None;
    }
    if x1 == x0 {
        x1 = x0 + 1.0;
    }
    if y1 == y0 {
        y0 -= 0.5;
        y1 += 0.5;
    }
    let pad = (y1 - y0) * 0.05;
    let (y0, y1) = (y0 - pad, y1 + pad);
    let sx = |x: f64| LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT);
    let sy = |y: f64| TOP + (1.0 - (y - y0) / (y1 - y0)) * (H - TOP - BOTTOM);
    let mut out = format!(
        "<figure class=\"chart\"><figcaption>{}</figcaption><svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{} chart\">",
        esc(title),
        esc(title)
    );
    for tick in ticks(y0, y1, 4) {
        let y = sy(tick);
        let _ = write!(out, "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>", W - RIGHT, LEFT - 6.0, y + 4.0, esc(&html::number(tick)));
    }
    let x_ticks = if axis == XAxis::Step { ticks(x0, x1, 5) } else { (0..=4).map(|i| x0 + (x1 - x0) * i as f64 / 4.0).collect() };
    for tick in x_ticks {
        let x = sx(tick);
        let _ = write!(out, "<text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>", H - BOTTOM + 16.0, esc(&x_label(axis, tick, x1 - x0)));
    }
    let _ = write!(out, "<line class=\"axis\" x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{:.1}\"/><line class=\"axis\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>", H - BOTTOM, W - RIGHT, H - BOTTOM, H - BOTTOM);
    for (idx, points) in thinned.iter().enumerate() {
        let color = COLORS[idx % COLORS.len()];
        if points.len() == 1 {
            let _ = write!(out, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"/>", sx(points[0].0), sy(points[0].1));
            continue;
        }
        let path: Vec<String> = points.iter().map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y))).collect();
        let _ = write!(out, "<polyline class=\"series\" fill=\"none\" stroke=\"{color}\" points=\"{}\"><title>{}</title></polyline>", path.join(" "), esc(&series[idx].label));
    }
    let _ = write!(out, "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text></svg>", W - RIGHT, H - 4.0, if axis == XAxis::Step { "step" } else { "time (UTC)" });
    if series.len() > 1 {
        out.push_str("<ul class=\"legend\">");
        for (idx, s) in series.iter().enumerate() {
            let _ = write!(out, "<li><span class=\"swatch\" style=\"background:{}\"></span>{}</li>", COLORS[idx % COLORS.len()], esc(&s.label));
        }
        out.push_str("</ul>");
    }
    out.push_str("</figure>");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_extremes_and_ends() {
        let mut points: Vec<(f64, f64)> = (0..10_000).map(|i| (i as f64, 1.0)).collect();
        points[5000].1 = 99.0;
        let thinned = thin(&points);
        assert!(thinned.len() <= MAX_POINTS + 3);
        assert!(thinned.iter().any(|p| p.1 == 99.0));
        assert_eq!(thinned.last(), points.last());
    }

    #[test]
    fn draws_series_and_legend() {
        let series = vec![
            Series { label: "run a".into(), points: vec![(0.0, 1.0), (1.0, 0.5), (2.0, 0.25)] },
            Series { label: "run b".into(), points: vec![(0.0, 1.2), (2.0, 0.3)] },
        ];
        let svg = line_chart("loss", &series, XAxis::Step).unwrap();
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("run b") && svg.contains("loss chart"));
        assert!(line_chart("empty", &[Series { label: "x".into(), points: vec![] }], XAxis::Time).is_none());
        assert_eq!(ticks(0.0, 1.0, 4), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    }
}

//! Latency samples, error bookkeeping and the shared JSON result shape.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Latencies in microseconds; percentiles by nearest rank over all samples.
#[derive(Default)]
pub struct Lat {
    us: Vec<u32>,
}

impl Lat {
    pub fn record(&mut self, d: Duration) {
        self.us.push(d.as_micros().min(u32::MAX as u128) as u32);
    }
    pub fn merge(&mut self, o: Lat) {
        self.us.extend(o.us);
    }
    pub fn len(&self) -> usize {
        self.us.len()
    }
    /// Sorts in place and returns {count, mean_ms, p50_ms, p95_ms, p99_ms, max_ms}.
    pub fn summary(&mut self) -> Value {
        if self.us.is_empty() {
            return json!({"count": 0, "mean_ms": null, "p50_ms": null, "p95_ms": null, "p99_ms": null, "max_ms": null});
        }
        self.us.sort_unstable();
        let n = self.us.len();
        let pct = |p: f64| {
            let rank = ((p / 100.0) * n as f64).ceil() as usize;
            ms(self.us[rank.clamp(1, n) - 1] as u64)
        };
        let mean = self.us.iter().map(|&x| x as u64).sum::<u64>() as f64 / n as f64;
        json!({
            "count": n,
            "mean_ms": round3(mean / 1000.0),
            "p50_ms": pct(50.0),
            "p95_ms": pct(95.0),
            "p99_ms": pct(99.0),
            "max_ms": ms(*self.us.last().unwrap() as u64),
        })
    }
}

fn ms(us: u64) -> f64 {
    round3(us as f64 / 1000.0)
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Failed requests keyed by "http_<status>", "bad_body", "timeout", "connect" or "transport",
/// with the first few distinct answers kept as samples.
#[derive(Default)]
pub struct Errors {
    pub counts: BTreeMap<String, u64>,
    pub samples: Vec<String>,
}

impl Errors {
    pub fn add(&mut self, key: &str, detail: &str) {
        *self.counts.entry(key.to_string()).or_insert(0) += 1;
        if self.samples.len() < 6 && !self.samples.iter().any(|s| s.starts_with(&format!("{key}: "))) {
            let mut d = detail.to_string();
            if d.len() > 600 {
                let mut cut = 600;
                while !d.is_char_boundary(cut) {
                    cut -= 1;
                }
                d.truncate(cut);
                d.push_str("...");
            }
            self.samples.push(format!("{key}: {d}"));
        }
    }
    pub fn merge(&mut self, o: Errors) {
        for (k, v) in o.counts {
            *self.counts.entry(k).or_insert(0) += v;
        }
        for s in o.samples {
            if self.samples.len() < 6 {
                self.samples.push(s);
            }
        }
    }
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
    pub fn to_json(&self) -> Value {
        json!({"total": self.total(), "by_kind": self.counts, "samples": self.samples})
    }
}

/// CPU seconds (user+system) this process has used so far.
pub fn self_cpu_s() -> f64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    let Some(close) = s.rfind(')') else { return 0.0 };
    let f: Vec<&str> = s[close + 2..].split_whitespace().collect();
    // after ")": state=0 ... utime=11 stime=12
    let t = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

//! Closed-loop load: `search-runs` and `log-batch`.
//!
//! N workers each keep exactly one request in flight. After an untimed prelude
//! (--warmup-requests per worker) and `--warmup-s` of load, the measured window
//! opens: answers arriving in it are counted with their latency, and req/s = good
//! answers / window length (see `Window` for how a slow server's window is extended).
//! Every answer is checked; anything that is not a correct 2xx is counted under
//! an error kind with a sample of the body, and never counted as throughput.

use crate::http::{self, Client, Outcome, Rng};
use crate::procs::Watch;
use crate::stats::{round3, self_cpu_s, Errors, Lat};
use anyhow::Result;
use bytes::Bytes;
use clap::Args;
use serde::Deserialize;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args, Debug, Clone)]
pub struct Common {
    #[arg(long)]
    pub base_url: String,
    /// Requests kept in flight (one per worker).
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Length of the measured window.
    #[arg(long, default_value_t = 15.0)]
    pub duration_s: f64,
    /// Untimed load before the window (connections, caches).
    #[arg(long, default_value_t = 2.0)]
    pub warmup_s: f64,
    /// Untimed requests per worker, all workers at once, before the warm-up clock starts
    /// (MLflow's uvicorn workers open their store on the first request they get).
    #[arg(long, default_value_t = 1)]
    pub warmup_requests: u64,
    /// Keep the window open past --duration-s until this many timed answers came back ...
    #[arg(long, default_value_t = 20)]
    pub min_requests: u64,
    /// ... but never longer than this.
    #[arg(long, default_value_t = 60.0)]
    pub max_duration_s: f64,
    #[arg(long, default_value_t = 120.0)]
    pub timeout_s: f64,
    /// Root pid of the server: its process tree's peak RSS and CPU during the window are reported.
    #[arg(long)]
    pub server_pid: Option<i32>,
    /// Root pid of the database server (PostgreSQL postmaster): its CPU during the window is reported.
    #[arg(long)]
    pub db_pid: Option<i32>,
    /// Free text copied into the output (e.g. "rivulet sqlite").
    #[arg(long)]
    pub label: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct SearchArgs {
    #[command(flatten)]
    pub common: Common,
    #[arg(long)]
    pub experiment_id: String,
    #[arg(long, default_value = "metrics.acc > 0.5")]
    pub filter: String,
    #[arg(long, default_value = "metrics.acc DESC")]
    pub order_by: String,
    #[arg(long, default_value_t = 100)]
    pub max_results: usize,
    /// Runs every answer must contain (default: --max-results).
    #[arg(long)]
    pub expect_runs: Option<usize>,
    /// Check that every returned run has this metric, in non-increasing order ("" = no check).
    #[arg(long, default_value = "acc")]
    pub check_metric: String,
    /// ... and that its value is greater than this.
    #[arg(long, default_value_t = 0.5)]
    pub check_metric_gt: f64,
}

#[derive(Args, Debug, Clone)]
pub struct LogBatchArgs {
    #[command(flatten)]
    pub common: Common,
    /// Experiment the logging runs are created in (created when missing).
    #[arg(long, default_value = "bench-log-batch")]
    pub experiment_name: String,
    #[arg(long, default_value_t = 50)]
    pub metrics: usize,
    #[arg(long, default_value_t = 5)]
    pub params: usize,
    #[arg(long, default_value_t = 5)]
    pub tags: usize,
    /// Each worker starts a new run after this many batches (a training run of N logged
    /// steps). Params are immutable, so every batch logs new param keys; without rotation
    /// one run would collect hundreds of thousands of params. 0 = never rotate.
    #[arg(long, default_value_t = 100)]
    pub batches_per_run: u64,
}

/// What a worker brings back.
#[derive(Default)]
struct Tally {
    lat: Lat,
    errors: Errors,
    ok: u64,
    bytes: u64,
    /// Latency and errors of the runs/create calls log-batch makes when rotating runs.
    side_lat: Lat,
    side_errors: Errors,
    last_done: Option<Instant>,
    /// Requests answered during the warm-up, and after the window closed (not timed; they
    /// count for server CPU per request).
    warmup: u64,
    late: u64,
}

impl Tally {
    fn merge(&mut self, o: Tally) {
        self.lat.merge(o.lat);
        self.errors.merge(o.errors);
        self.ok += o.ok;
        self.bytes += o.bytes;
        self.side_lat.merge(o.side_lat);
        self.side_errors.merge(o.side_errors);
        self.warmup += o.warmup;
        self.late += o.late;
        self.last_done = match (self.last_done, o.last_done) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

/// The measured window: answers that arrive in it are counted (with their full latency,
/// even when the request was sent before the window opened). It normally closes after
/// --duration-s; a slow server gets more time (up to --max-duration-s) until --min-requests
/// answers are in, so that a server answering in seconds still gets a latency distribution.
/// Requests in flight when it closes are awaited but not counted.
struct Window {
    start: Instant,
    end: Instant,
    hard_end: Instant,
    min_requests: u64,
    timed: AtomicU64,
}

impl Window {
    fn new(c: &Common) -> Window {
        let start = Instant::now() + Duration::from_secs_f64(c.warmup_s.max(0.0));
        let dur = c.duration_s.max(0.1);
        Window {
            start,
            end: start + Duration::from_secs_f64(dur),
            hard_end: start + Duration::from_secs_f64(c.max_duration_s.max(dur)),
            min_requests: c.min_requests,
            timed: AtomicU64::new(0),
        }
    }
    /// May a worker start another request at `now`?
    fn open(&self, now: Instant) -> bool {
        now < self.end || (now < self.hard_end && self.timed.load(Ordering::Relaxed) < self.min_requests)
    }
    fn answered(&self) {
        self.timed.fetch_add(1, Ordering::Relaxed);
    }
}

/// Count a failed or unexpected outcome; returns true for a good 2xx (then `check` decides).
fn classify(t: &mut Tally, out: &Outcome, check: impl FnOnce(&[u8]) -> Result<(), String>) -> bool {
    match out {
        Outcome::Response { status, body } if (200..300).contains(status) => match check(body) {
            Ok(()) => true,
            Err(why) => {
                t.errors.add("bad_body", &why);
                false
            }
        },
        Outcome::Response { status, body } => {
            t.errors.add(&format!("http_{status}"), &String::from_utf8_lossy(body));
            false
        }
        Outcome::Failed { kind, detail } => {
            t.errors.add(kind, detail);
            false
        }
    }
}

fn finish(
    mode: &str,
    c: &Common,
    config: Value,
    mut tot: Tally,
    win: &Window,
    cpu0: f64,
    watch: Option<Watch>,
) -> Value {
    // Answers are counted when they arrive inside the window: [start, end], extended up to
    // hard_end until min_requests answers were in (then it closed at the last one counted).
    let closed = if win.timed.load(Ordering::Relaxed) >= win.min_requests {
        tot.last_done.map_or(win.end, |d| d.max(win.end))
    } else {
        win.hard_end
    };
    let wall = closed.saturating_duration_since(win.start).as_secs_f64().max(0.001);
    let client_cpu = self_cpu_s() - cpu0;
    let errors = tot.errors.total();
    let req_s = if wall > 0.0 { tot.ok as f64 / wall } else { 0.0 };
    let lat = tot.lat.summary();
    eprintln!(
        "{mode} c={} {}: {:.1} req/s, p50 {} ms, p99 {} ms, {} ok, {} errors{}",
        c.concurrency,
        c.label.as_deref().unwrap_or(""),
        req_s,
        lat["p50_ms"],
        lat["p99_ms"],
        tot.ok,
        errors,
        if errors > 0 { format!(" {:?}", tot.errors.counts) } else { String::new() }
    );
    for s in &tot.errors.samples {
        eprintln!("    {s}");
    }
    let mut v = json!({
        "mode": mode,
        "label": c.label,
        "base_url": c.base_url,
        "concurrency": c.concurrency,
        "config": config,
        "window_s": round3(wall),
        "requests": tot.ok + errors,
        "ok": tot.ok,
        "errors": tot.errors.to_json(),
        "req_per_s": round3(req_s),
        "latency": lat,
        "avg_response_bytes": if tot.ok > 0 { tot.bytes / tot.ok } else { 0 },
        "client_cpu_s": round3(client_cpu),
        "warmup_requests": tot.warmup,
        "late_requests": tot.late,
        "server": watch.map(|w| w.finish(wall + c.warmup_s, client_cpu)),
    });
    // Server CPU over warm-up + window, per request answered in that time.
    let answered = tot.warmup + tot.ok + errors + tot.late;
    if let (Some(cpu), true) = (v["server"]["cpu_s"].as_f64(), answered > 0) {
        v["server"]["cpu_ms_per_request"] = json!(round3(cpu * 1000.0 / answered as f64));
    }
    if tot.side_lat.len() > 0 || tot.side_errors.total() > 0 {
        v["runs_create"] = json!({
            "latency": tot.side_lat.summary(),
            "errors": tot.side_errors.to_json(),
        });
    }
    v
}

// ---------------------------------------------------------------- search-runs

#[derive(Deserialize)]
struct SearchAnswer {
    #[serde(default)]
    runs: Vec<RunLite>,
}
#[derive(Deserialize)]
struct RunLite {
    #[serde(default)]
    data: DataLite,
}
#[derive(Deserialize, Default)]
struct DataLite {
    #[serde(default)]
    metrics: Vec<MetricLite>,
}
#[derive(Deserialize)]
struct MetricLite {
    key: String,
    value: f64,
}

fn check_search(body: &[u8], expect: usize, metric: &str, gt: f64) -> Result<(), String> {
    let a: SearchAnswer = serde_json::from_slice(body).map_err(|e| format!("answer is not a search result: {e}"))?;
    if a.runs.len() != expect {
        return Err(format!("{} runs in the answer, expected {expect}", a.runs.len()));
    }
    if metric.is_empty() {
        return Ok(());
    }
    let mut prev = f64::INFINITY;
    for (i, r) in a.runs.iter().enumerate() {
        let Some(m) = r.data.metrics.iter().find(|m| m.key == metric) else {
            return Err(format!("run #{i} has no metric {metric:?}"));
        };
        if !(m.value > gt) {
            return Err(format!("run #{i}: {metric} = {} is not > {gt}", m.value));
        }
        if m.value > prev {
            return Err(format!("run #{i}: {metric} = {} after {prev}: not in DESC order", m.value));
        }
        prev = m.value;
    }
    Ok(())
}

pub async fn search_runs(a: SearchArgs) -> Result<Value> {
    let c = &a.common;
    let client = Client::new(&c.base_url, Duration::from_secs_f64(c.timeout_s), c.concurrency)?;
    let body = Bytes::from(
        json!({
            "experiment_ids": [a.experiment_id],
            "filter": a.filter,
            "order_by": [a.order_by],
            "max_results": a.max_results,
            "run_view_type": "ACTIVE_ONLY",
        })
        .to_string(),
    );
    let expect = a.expect_runs.unwrap_or(a.max_results);
    let mut pre = Vec::new();
    for _ in 0..c.concurrency.max(1) {
        let (client, body, n) = (client.clone(), body.clone(), c.warmup_requests);
        pre.push(tokio::spawn(async move {
            let mut t = Tally::default();
            for _ in 0..n {
                let out = client.post(http::RUNS_SEARCH, body.clone()).await;
                classify(&mut t, &out, |_| Ok(()));
            }
            t.errors
        }));
    }
    let mut pre_errors = Errors::default();
    for h in pre {
        pre_errors.merge(h.await?);
    }
    if pre_errors.total() > 0 {
        eprintln!("search-runs warm-up requests failed: {:?}", pre_errors.counts);
    }
    let cpu0 = self_cpu_s();
    let watch = c.server_pid.map(|p| Watch::start(p, c.db_pid));
    let win = Arc::new(Window::new(c));
    let mut hs = Vec::new();
    for _ in 0..c.concurrency.max(1) {
        let (client, body, win, metric, gt) = (client.clone(), body.clone(), win.clone(), a.check_metric.clone(), a.check_metric_gt);
        hs.push(tokio::spawn(async move {
            let mut t = Tally::default();
            loop {
                let st = Instant::now();
                if !win.open(st) {
                    break;
                }
                let out = client.post(http::RUNS_SEARCH, body.clone()).await;
                let done = Instant::now();
                if done < win.start {
                    t.warmup += 1;
                    continue;
                }
                if !win.open(done) {
                    t.late += 1;
                    break;
                }
                win.answered();
                t.lat.record(done - st);
                t.last_done = Some(done);
                if classify(&mut t, &out, |b| check_search(b, expect, &metric, gt)) {
                    t.ok += 1;
                    if let Outcome::Response { body, .. } = &out {
                        t.bytes += body.len() as u64;
                    }
                }
            }
            t
        }));
    }
    let mut tot = Tally::default();
    for h in hs {
        tot.merge(h.await?);
    }
    let config = json!({
        "experiment_id": a.experiment_id, "filter": a.filter, "order_by": a.order_by,
        "max_results": a.max_results, "expect_runs": expect, "check_metric": a.check_metric,
        "duration_s": c.duration_s, "warmup_s": c.warmup_s,
    });
    let mut v = finish("search-runs", c, config, tot, &win, cpu0, watch);
    v["warmup_errors"] = pre_errors.to_json();
    Ok(v)
}

// ---------------------------------------------------------------- log-batch

/// One batch: `metrics` metric keys m00.. at `step`, `params` new param keys, `tags` tag keys
/// whose values change every batch.
fn batch_body(a: &LogBatchArgs, run_id: &str, step: u64, rng: &mut Rng) -> Bytes {
    let ts = http::now_ms();
    let mut s = String::with_capacity(96 * a.metrics + 64 * (a.params + a.tags) + 64);
    let _ = write!(s, "{{\"run_id\":\"{run_id}\",\"metrics\":[");
    for i in 0..a.metrics {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{{\"key\":\"m{i:02}\",\"value\":{:.6},\"timestamp\":{ts},\"step\":{step}}}", rng.unit());
    }
    s.push_str("],\"params\":[");
    for i in 0..a.params {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{{\"key\":\"p{step:06}_{i}\",\"value\":\"{}\"}}", rng.below(1_000_000));
    }
    s.push_str("],\"tags\":[");
    for i in 0..a.tags {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{{\"key\":\"t{i}\",\"value\":\"step-{step}\"}}");
    }
    s.push_str("]}");
    Bytes::from(s)
}

async fn new_run(client: &Client, experiment_id: &str, worker: usize, n: u64) -> Result<String, (String, String)> {
    let body = json!({
        "experiment_id": experiment_id,
        "run_name": format!("w{worker}-r{n}"),
        "user_id": "bench",
        "start_time": http::now_ms(),
        "tags": [{"key": "mlflow.user", "value": "bench"}],
    });
    match client.post(http::RUNS_CREATE, Bytes::from(body.to_string())).await {
        Outcome::Response { status, body } if (200..300).contains(&status) => {
            let v: Value = serde_json::from_slice(&body).map_err(|e| ("bad_body".to_string(), e.to_string()))?;
            v["run"]["info"]["run_id"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| ("bad_body".to_string(), format!("no run.info.run_id in {v}")))
        }
        Outcome::Response { status, body } => Err((format!("http_{status}"), String::from_utf8_lossy(&body).into_owned())),
        Outcome::Failed { kind, detail } => Err((kind.to_string(), detail)),
    }
}

async fn experiment_id_for(client: &Client, name: &str) -> Result<String> {
    let path = format!("{}?experiment_name={name}", http::EXPERIMENTS_GET_BY_NAME);
    if let Outcome::Response { status: 200, body } = client.get(&path).await {
        let v: Value = serde_json::from_slice(&body)?;
        if let Some(id) = v["experiment"]["experiment_id"].as_str() {
            return Ok(id.to_string());
        }
    }
    http::create_experiment(client, name).await
}

pub async fn log_batch(a: LogBatchArgs) -> Result<Value> {
    let c = a.common.clone();
    let client = Client::new(&c.base_url, Duration::from_secs_f64(c.timeout_s), c.concurrency)?;
    let experiment_id = experiment_id_for(&client, &a.experiment_name).await?;
    let a = Arc::new(a);
    // Before the clock: every worker creates its first run and logs --warmup-requests batches.
    let mut pre = Vec::new();
    for w in 0..c.concurrency.max(1) {
        let (client, a, exp, n) = (client.clone(), a.clone(), experiment_id.clone(), c.warmup_requests);
        pre.push(tokio::spawn(async move {
            let run_id = new_run(&client, &exp, w, 0)
                .await
                .map_err(|(k, d)| anyhow::anyhow!("creating the first run failed: {k}: {d}"))?;
            let mut t = Tally::default();
            let mut rng = Rng::new(0xC01D ^ w as u64);
            for step in 0..n {
                let out = client.post(http::RUNS_LOG_BATCH, batch_body(&a, &run_id, step, &mut rng)).await;
                classify(&mut t, &out, |_| Ok(()));
            }
            Ok::<_, anyhow::Error>((run_id, n, t.errors))
        }));
    }
    let mut first = Vec::new();
    let mut pre_errors = Errors::default();
    for h in pre {
        let (id, steps, e) = h.await??;
        first.push((id, steps));
        pre_errors.merge(e);
    }
    if pre_errors.total() > 0 {
        eprintln!("log-batch warm-up requests failed: {:?}", pre_errors.counts);
    }
    let cpu0 = self_cpu_s();
    let watch = c.server_pid.map(|p| Watch::start(p, c.db_pid));
    let win = Arc::new(Window::new(&c));
    let mut hs = Vec::new();
    for (w, (run0, step0)) in first.into_iter().enumerate() {
        let (client, win, a, exp) = (client.clone(), win.clone(), a.clone(), experiment_id.clone());
        hs.push(tokio::spawn(async move {
            let mut t = Tally::default();
            let mut rng = Rng::new(0x5EED ^ (w as u64) << 32);
            let mut run_id = run0;
            let (mut step, mut runs) = (step0, 1u64);
            loop {
                if !win.open(Instant::now()) {
                    break;
                }
                if a.batches_per_run > 0 && step >= a.batches_per_run {
                    let st = Instant::now();
                    match new_run(&client, &exp, w, runs).await {
                        Ok(id) => {
                            run_id = id;
                            step = 0;
                            runs += 1;
                        }
                        Err((kind, detail)) => {
                            t.side_errors.add(&kind, &detail);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                    if Instant::now() >= win.start {
                        t.side_lat.record(st.elapsed());
                    }
                    continue;
                }
                let body = batch_body(&a, &run_id, step, &mut rng);
                let st = Instant::now();
                if !win.open(st) {
                    break;
                }
                let out = client.post(http::RUNS_LOG_BATCH, body).await;
                let done = Instant::now();
                // A param key is only used once per run, even when the batch failed
                // (a failed batch may have been partly written).
                step += 1;
                if done < win.start {
                    t.warmup += 1;
                    continue;
                }
                if !win.open(done) {
                    t.late += 1;
                    break;
                }
                win.answered();
                t.lat.record(done - st);
                t.last_done = Some(done);
                if classify(&mut t, &out, |_| Ok(())) {
                    t.ok += 1;
                }
            }
            t
        }));
    }
    let mut tot = Tally::default();
    for h in hs {
        tot.merge(h.await?);
    }
    let config = json!({
        "experiment_id": experiment_id, "metrics": a.metrics, "params": a.params, "tags": a.tags,
        "batches_per_run": a.batches_per_run, "duration_s": c.duration_s, "warmup_s": c.warmup_s,
    });
    let mut v = finish("log-batch", &c, config, tot, &win, cpu0, watch);
    v["warmup_errors"] = pre_errors.to_json();
    Ok(v)
}

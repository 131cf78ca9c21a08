//! tracking-load: closed-loop HTTP load driver for MLflow-compatible tracking servers
//! (Rivulet and `mlflow server`): seeding, search-runs, log-batch, process-tree RSS.
//!
//! Progress goes to stderr; every subcommand prints exactly one JSON object on stdout
//! (and writes it to --json-out when given).

mod http;
mod load;
mod procs;
mod seed;
mod stats;

use anyhow::Result;
use clap::{Parser, Subcommand};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "tracking-load", version, about = "Load driver for MLflow-compatible tracking servers")]
struct Cli {
    /// Tokio worker threads of the driver. Keep it small: driver and server share the machine.
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    /// Also write the JSON result to this file.
    #[arg(long, global = true)]
    json_out: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create an experiment with N finished runs (metrics, params, tags) through the REST API.
    Seed(seed::SeedArgs),
    /// POST runs/search with a metric filter and order_by in a closed loop.
    SearchRuns(load::SearchArgs),
    /// POST runs/log-batch (metrics + new params + tags) in a closed loop.
    LogBatch(load::LogBatchArgs),
    /// Poll a URL until it answers 2xx (fails early when --pid exits).
    WaitReady {
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 120.0)]
        timeout_s: f64,
        #[arg(long)]
        pid: Option<i32>,
    },
    /// Wait until the machine's CPUs are idle (other jobs share it); never fails, reports what it saw.
    WaitQuiet {
        /// Busy share of all cores (0..1) that counts as quiet.
        #[arg(long, default_value_t = 0.15)]
        max_busy: f64,
        /// Consecutive quiet seconds needed.
        #[arg(long, default_value_t = 3)]
        need_s: u32,
        #[arg(long, default_value_t = 60.0)]
        timeout_s: f64,
        /// Do not count the CPU of this process tree (the server under test).
        #[arg(long)]
        exclude_pid: Option<i32>,
    },
    /// Summed VmRSS (and Pss) of a process and all its descendants.
    Rss {
        #[arg(long)]
        pid: i32,
        #[arg(long)]
        label: Option<String>,
    },
}

async fn wait_ready(url: &str, timeout_s: f64, pid: Option<i32>) -> Result<(Value, i32)> {
    let (base, path) = match url.find("://").and_then(|i| url[i + 3..].find('/').map(|j| i + 3 + j)) {
        Some(k) => (&url[..k], &url[k..]),
        None => (url, "/"),
    };
    let c = http::Client::new(base, Duration::from_secs(5), 1)?;
    let t0 = Instant::now();
    let mut polls = 0u64;
    loop {
        polls += 1;
        if let http::Outcome::Response { status, .. } = c.get(path).await {
            if (200..300).contains(&status) {
                let s = t0.elapsed().as_secs_f64();
                eprintln!("{url} ready after {s:.2}s");
                return Ok((json!({"mode": "wait-ready", "url": url, "ready_s": stats::round3(s), "polls": polls}), 0));
            }
        }
        let dead = pid.map(|p| !procs::alive(p)).unwrap_or(false);
        if dead || t0.elapsed().as_secs_f64() > timeout_s {
            eprintln!("{url} not ready ({})", if dead { "process exited" } else { "timed out" });
            return Ok((json!({"mode": "wait-ready", "url": url, "ready_s": null, "polls": polls, "process_exited": dead}), 3));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn real_main(cli: Cli) -> Result<(Value, i32)> {
    let errors_code = |v: &Value| if v["errors"]["total"].as_u64().unwrap_or(0) > 0 { 2 } else { 0 };
    Ok(match cli.cmd {
        Cmd::Seed(a) => (seed::run(a).await?, 0),
        Cmd::SearchRuns(a) => {
            let v = load::search_runs(a).await?;
            let code = errors_code(&v);
            (v, code)
        }
        Cmd::LogBatch(a) => {
            let v = load::log_batch(a).await?;
            let code = errors_code(&v);
            (v, code)
        }
        Cmd::WaitReady { url, timeout_s, pid } => wait_ready(&url, timeout_s, pid).await?,
        Cmd::WaitQuiet { max_busy, need_s, timeout_s, exclude_pid } => {
            let (quiet, waited, last) =
                tokio::task::spawn_blocking(move || procs::wait_quiet(max_busy, need_s, timeout_s, exclude_pid)).await?;
            if !quiet {
                eprintln!("machine still busy after {waited:.0}s ({:.0}% of all cores); measuring anyway", last * 100.0);
            }
            (json!({"mode": "wait-quiet", "quiet": quiet, "waited_s": stats::round3(waited), "last_busy": stats::round3(last)}), 0)
        }
        Cmd::Rss { pid, label } => {
            let mut v = procs::sample_json(pid);
            v["mode"] = json!("rss");
            v["label"] = json!(label);
            let code = if v["processes"].as_u64() == Some(0) { 3 } else { 0 };
            (v, code)
        }
    })
}

fn main() {
    let cli = Cli::parse();
    let out = cli.json_out.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(real_main(cli)) {
        Ok((v, code)) => {
            let line = serde_json::to_string(&v).expect("json");
            if let Some(p) = out {
                if let Some(d) = p.parent() {
                    let _ = std::fs::create_dir_all(d);
                }
                if let Err(e) = std::fs::write(&p, format!("{line}\n")) {
                    eprintln!("error: writing {}: {e}", p.display());
                    std::process::exit(1);
                }
            }
            println!("{line}");
            std::process::exit(code);
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}

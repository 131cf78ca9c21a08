//! `seed`: one experiment with N finished runs, written through the REST API.
//!
//! Each run is three requests: runs/create (name, start time, 2 tags), one
//! runs/log-batch (8 metrics x 5 steps, 8 params, 3 tags) and runs/update
//! (FINISHED). Values come from a fixed seed, so every seeding is the same data.
//! The final (step 4) value of `acc` is uniform in [0, 1): about half the runs
//! match `metrics.acc > 0.5`.

use crate::http::{self, Client, Rng};
use anyhow::{bail, Result};
use clap::Args;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args, Debug, Clone)]
pub struct SeedArgs {
    #[arg(long)]
    pub base_url: String,
    #[arg(long, default_value = "bench-search-runs")]
    pub experiment_name: String,
    #[arg(long, default_value_t = 10_000)]
    pub runs: u64,
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long, default_value_t = 60.0)]
    pub timeout_s: f64,
}

const METRICS: [&str; 8] = ["acc", "loss", "f1", "precision", "recall", "val_acc", "val_loss", "auc"];
const STEPS: i64 = 5;
const OPTIMIZERS: [&str; 3] = ["adam", "sgd", "adamw"];
const MODELS: [&str; 4] = ["resnet18", "resnet50", "vit-b16", "mlp"];
const TEAMS: [&str; 3] = ["vision", "nlp", "platform"];

/// Final `acc` of run `i` (the value search-runs filters and sorts on).
pub fn final_acc(seed: u64, i: u64) -> f64 {
    Rng::new(seed ^ i.wrapping_mul(0x2545_F491_4F6C_DD1D)).unit()
}

fn run_bodies(seed: u64, i: u64, experiment_id: &str, t0: i64) -> (Value, Box<dyn Fn(&str) -> Value + Send>, i64) {
    let acc = final_acc(seed, i);
    let mut rng = Rng::new(seed.wrapping_add(i).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xABCD);
    let start = t0 - 86_400_000 + (i as i64) * 1000;
    let team = TEAMS[rng.below(3) as usize];
    let model = MODELS[rng.below(4) as usize];
    let create = json!({
        "experiment_id": experiment_id,
        "run_name": format!("run-{i:05}"),
        // The Python client always sends user_id (from the mlflow.user tag).
        "user_id": "bench",
        "start_time": start,
        "tags": [
            {"key": "team", "value": team},
            {"key": "mlflow.user", "value": "bench"},
        ],
    });
    let mut metrics = Vec::with_capacity(METRICS.len() * STEPS as usize);
    let finals: Vec<f64> = METRICS
        .iter()
        .map(|k| if *k == "acc" { acc } else { rng.unit() })
        .collect();
    for step in 0..STEPS {
        let frac = (step + 1) as f64 / STEPS as f64;
        for (k, fin) in METRICS.iter().zip(&finals) {
            metrics.push(json!({"key": k, "value": fin * (0.5 + 0.5 * frac), "timestamp": start + step * 1000, "step": step}));
        }
    }
    let params = json!([
        {"key": "lr", "value": format!("{:.5}", 1e-4 + rng.unit() * 1e-2)},
        {"key": "batch_size", "value": (16u64 << rng.below(4)).to_string()},
        {"key": "optimizer", "value": OPTIMIZERS[rng.below(3) as usize]},
        {"key": "epochs", "value": (5 + rng.below(50)).to_string()},
        {"key": "dropout", "value": format!("{:.2}", rng.unit() * 0.5)},
        {"key": "seed", "value": rng.below(100_000).to_string()},
        {"key": "model", "value": model},
        {"key": "dataset", "value": "imagenet-subset-v3"},
    ]);
    let tags = json!([
        {"key": "model_type", "value": model},
        {"key": "stage", "value": if acc > 0.8 { "candidate" } else { "experiment" }},
        {"key": "mlflow.source.name", "value": "train.py"},
    ]);
    let metrics = Value::Array(metrics);
    let batch = move |run_id: &str| json!({"run_id": run_id, "metrics": metrics, "params": params, "tags": tags});
    (create, Box::new(batch), start + STEPS * 1000)
}

pub async fn run(a: SeedArgs) -> Result<Value> {
    let c = Client::new(&a.base_url, Duration::from_secs_f64(a.timeout_s), a.concurrency)?;
    let t = Instant::now();
    let experiment_id = http::create_experiment(&c, &a.experiment_name).await?;
    eprintln!("seed -> {} experiment {} ({}): {} runs, concurrency {}", c.base(), a.experiment_name, experiment_id, a.runs, a.concurrency);
    let next = Arc::new(AtomicU64::new(0));
    let t0 = http::now_ms();
    let mut hs = Vec::new();
    for _ in 0..a.concurrency.max(1) {
        let (c, next, exp, seed, n) = (c.clone(), next.clone(), experiment_id.clone(), a.seed, a.runs);
        hs.push(tokio::spawn(async move {
            let mut done = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<u64, anyhow::Error>(done);
                }
                let (create, batch, end) = run_bodies(seed, i, &exp, t0);
                let run_id = http::create_run(&c, &create).await?;
                c.post_json(http::RUNS_LOG_BATCH, &batch(&run_id)).await?;
                c.post_json(http::RUNS_UPDATE, &json!({"run_id": run_id, "status": "FINISHED", "end_time": end}))
                    .await?;
                done += 1;
                if i > 0 && i % 2000 == 0 {
                    eprintln!("  {i} runs ({:.1}s)", t.elapsed().as_secs_f64());
                }
            }
        }));
    }
    let mut created = 0;
    for h in hs {
        created += h.await??;
    }
    if created != a.runs {
        bail!("created {created} runs, wanted {}", a.runs);
    }
    let matching = (0..a.runs).filter(|&i| final_acc(a.seed, i) > 0.5).count();
    let secs = t.elapsed().as_secs_f64();
    eprintln!("seeded {created} runs in {secs:.1}s ({:.0} runs/s); {matching} have acc > 0.5", created as f64 / secs);
    Ok(json!({
        "mode": "seed",
        "base_url": c.base(),
        "experiment_name": a.experiment_name,
        "experiment_id": experiment_id,
        "runs": created,
        "runs_acc_gt_0_5": matching,
        "per_run": {"metrics": METRICS.len(), "steps": STEPS, "metric_rows": METRICS.len() as i64 * STEPS, "params": 8, "tags": 5},
        "requests": created * 3,
        "seconds": crate::stats::round3(secs),
    }))
}

//! A small keep-alive HTTP/1.1 client (hyper) with a per-request timeout.
//!
//! Requests never fail silently: callers get either `Outcome::Response` (any status,
//! with the body) or `Outcome::Failed` with a short error kind for the error table.

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Request};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::time::Duration;

pub enum Outcome {
    Response { status: u16, body: Bytes },
    /// `kind` is "timeout", "connect" or "transport"; `detail` is the error text.
    Failed { kind: &'static str, detail: String },
}

#[derive(Clone)]
pub struct Client {
    inner: HyperClient<HttpConnector, Full<Bytes>>,
    base: String,
    timeout: Duration,
}

impl Client {
    /// `pool` = idle keep-alive connections kept per host (use the concurrency).
    pub fn new(base_url: &str, timeout: Duration, pool: usize) -> Result<Self> {
        let base = base_url.trim_end_matches('/').to_string();
        if !base.starts_with("http://") {
            bail!("--base-url must be http://host:port (got {base_url:?})");
        }
        let mut conn = HttpConnector::new();
        conn.set_nodelay(true);
        conn.set_connect_timeout(Some(Duration::from_secs(10)));
        let inner = HyperClient::builder(TokioExecutor::new())
            .pool_max_idle_per_host(pool.max(1))
            .pool_idle_timeout(Duration::from_secs(90))
            .build(conn);
        Ok(Client { inner, base, timeout })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn send(&self, method: Method, path: &str, body: Bytes) -> Outcome {
        let req = match Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path))
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, "tracking-load/0.1")
            .body(Full::new(body))
        {
            Ok(r) => r,
            Err(e) => return Outcome::Failed { kind: "transport", detail: e.to_string() },
        };
        let fut = async {
            let resp = self.inner.request(req).await.map_err(|e| {
                let kind = if e.is_connect() { "connect" } else { "transport" };
                (kind, format!("{e:?}"))
            })?;
            let status = resp.status().as_u16();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| ("transport", format!("reading body: {e}")))?
                .to_bytes();
            Ok::<_, (&'static str, String)>((status, body))
        };
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok((status, body))) => Outcome::Response { status, body },
            Ok(Err((kind, detail))) => Outcome::Failed { kind, detail },
            Err(_) => Outcome::Failed { kind: "timeout", detail: format!("no answer within {:?}", self.timeout) },
        }
    }

    pub async fn post(&self, path: &str, body: Bytes) -> Outcome {
        self.send(Method::POST, path, body).await
    }

    pub async fn get(&self, path: &str) -> Outcome {
        self.send(Method::GET, path, Bytes::new()).await
    }

    /// POST a JSON body and require a 2xx JSON answer (for setup steps, not for timed load).
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value> {
        match self.post(path, Bytes::from(body.to_string())).await {
            Outcome::Response { status, body } if (200..300).contains(&status) => {
                serde_json::from_slice(&body).with_context(|| format!("POST {path}: answer is not JSON"))
            }
            Outcome::Response { status, body } => Err(anyhow!(
                "POST {path} -> HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(500)])
            )),
            Outcome::Failed { kind, detail } => Err(anyhow!("POST {path} failed ({kind}): {detail}")),
        }
    }
}

pub const EXPERIMENTS_CREATE: &str = "/api/2.0/mlflow/experiments/create";
pub const EXPERIMENTS_GET_BY_NAME: &str = "/api/2.0/mlflow/experiments/get-by-name";
pub const RUNS_CREATE: &str = "/api/2.0/mlflow/runs/create";
pub const RUNS_UPDATE: &str = "/api/2.0/mlflow/runs/update";
pub const RUNS_SEARCH: &str = "/api/2.0/mlflow/runs/search";
pub const RUNS_LOG_BATCH: &str = "/api/2.0/mlflow/runs/log-batch";

pub async fn create_experiment(c: &Client, name: &str) -> Result<String> {
    let v = c.post_json(EXPERIMENTS_CREATE, &serde_json::json!({ "name": name })).await?;
    v["experiment_id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("experiments/create answered without experiment_id: {v}"))
}

/// Create a run; returns its run_id.
pub async fn create_run(c: &Client, body: &Value) -> Result<String> {
    let v = c.post_json(RUNS_CREATE, body).await?;
    v["run"]["info"]["run_id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("runs/create answered without run.info.run_id: {v}"))
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// splitmix64: deterministic, dependency-free randomness for data and key choice.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

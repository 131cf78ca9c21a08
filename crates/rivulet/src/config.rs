//! Server configuration: `mlflow server`'s flags and environment variables, resolved once.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{ArgAction, Args};
use rivulet_core::tracking::validation::LongValues;
use rivulet_store::StoreUri;

/// Flags of `rivulet server`, named and defaulted as `mlflow server`'s.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(short = 'h', long, env = "MLFLOW_HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Port of the HTTP API and UI.
    /// Port of the HTTP API and UI (also MLFLOW_PORT) [default: 5000].
    #[arg(short, long)]
    pub port: Option<u16>,

    /// Database for experiments, runs and traces: sqlite:///relative.db, sqlite:////absolute.db or
    /// postgresql://user:password@host:port/database (SQLAlchemy's postgresql+psycopg2:// spelling
    /// works too). Also read from MLFLOW_BACKEND_STORE_URI, then from MLFLOW_TRACKING_URI when that
    /// names a database. [default: sqlite:///mlflow.db]
    #[arg(long)]
    pub backend_store_uri: Option<String>,

    /// Artifact root of new experiments. [default: mlflow-artifacts:/ when serving artifacts]
    #[arg(long, env = "MLFLOW_DEFAULT_ARTIFACT_ROOT")]
    pub default_artifact_root: Option<String>,

    /// Where proxied artifacts (mlflow-artifacts:/ URIs) are stored.
    #[arg(long, env = "MLFLOW_ARTIFACTS_DESTINATION", default_value = "./mlartifacts")]
    pub artifacts_destination: String,

    /// Serve artifacts through the server (the mlflow-artifacts:/ proxy); on by default.
    #[arg(long = "serve-artifacts", env = "MLFLOW_SERVE_ARTIFACTS", action = ArgAction::SetTrue, overrides_with = "no_serve_artifacts")]
    pub serve_artifacts: bool,

    /// Do not serve artifacts; clients then read and write artifact storage directly.
    #[arg(long = "no-serve-artifacts", action = ArgAction::SetTrue, overrides_with = "serve_artifacts")]
    pub no_serve_artifacts: bool,

    /// Extra Host header values to accept, comma-separated: `name` (any port), `name:port` (that
    /// port only), `*.example.com` (subdomains), or `*` (no check). Loopback and private addresses,
    /// single-label names and in-cluster names (*.svc, *.cluster.local) are always accepted.
    #[arg(long, env = "MLFLOW_SERVER_ALLOWED_HOSTS")]
    pub allowed_hosts: Option<String>,

    /// Origins allowed to make cross-origin requests, comma-separated (scheme://host[:port],
    /// https://*.example.com, or `*`); localhost origins and the server's own are always allowed.
    #[arg(long, env = "MLFLOW_SERVER_CORS_ALLOWED_ORIGINS")]
    pub cors_allowed_origins: Option<String>,

    /// Serve everything under this path prefix, e.g. /mlflow.
    #[arg(long, env = "MLFLOW_STATIC_PREFIX")]
    pub static_prefix: Option<String>,

    /// Accepted for compatibility with `mlflow server`; Rivulet is one process using every core.
    #[arg(short, long, env = "MLFLOW_WORKERS")]
    pub workers: Option<String>,

    /// Experiment for OTLP exports that name none (no x-mlflow-experiment-id or
    /// x-mlflow-experiment-name header); created on first use. Without it such exports are refused.
    #[arg(long, env = "RIVULET_DEFAULT_TRACE_EXPERIMENT")]
    pub default_trace_experiment: Option<String>,

    /// Port of the OTLP/gRPC trace receiver; 0 disables it.
    #[arg(long, env = "RIVULET_OTLP_GRPC_PORT", default_value_t = 4317)]
    pub otlp_grpc_port: u16,

    /// Largest OTLP export body after decompression, in MiB.
    #[arg(long, env = "RIVULET_OTLP_MAX_BODY_MIB", default_value_t = 64)]
    pub otlp_max_body_mib: usize,

    /// OTLP export bytes (decompressed) that may be decoded, queued or awaiting commit at once,
    /// in MiB; later exports wait, then get 503. An export takes about five times its size in
    /// memory until it is answered. Compressed bodies waiting over HTTP may hold four times this.
    #[arg(long, env = "RIVULET_OTLP_MAX_IN_FLIGHT_MIB", default_value_t = 24)]
    pub otlp_max_in_flight_mib: usize,

    /// Do not create or migrate the database schema at start; only check it (for a migration Job).
    #[arg(long)]
    pub no_migrate: bool,

    /// Log format.
    #[arg(long, env = "RIVULET_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,

    // [security/ops] flags.
    /// Require credentials on every route but /health, /version and /ready (HTTP and OTLP/gRPC):
    /// a file of `user:<name>:<argon2 hash>` and `token:<name>:<sha256 hex>` lines, made with
    /// `rivulet auth hash-password` / `rivulet auth new-token`. Off by default.
    #[arg(long, env = "RIVULET_AUTH_FILE", value_name = "PATH")]
    pub auth_file: Option<PathBuf>,

    /// Turn off the Host check, CORS handling and security headers (authentication stays).
    #[arg(long, env = "MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE", action = ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new())]
    pub disable_security_middleware: bool,

    /// X-Frame-Options (and CSP frame-ancestors) of every response: DENY, SAMEORIGIN or NONE.
    #[arg(long, env = "MLFLOW_SERVER_X_FRAME_OPTIONS", default_value = "SAMEORIGIN")]
    pub x_frame_options: String,

    /// Seconds to keep retrying a database that cannot be reached at start (0: try once).
    #[arg(long, env = "RIVULET_DB_STARTUP_TIMEOUT", default_value_t = 120)]
    pub db_startup_timeout: u64,
}

/// Where the backend store URI came from, for the start-up log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreUriSource {
    Flag,
    BackendStoreEnv,
    TrackingUriEnv,
    Default,
}

impl StoreUriSource {
    pub fn describe(self) -> &'static str {
        match self {
            StoreUriSource::Flag => "--backend-store-uri",
            StoreUriSource::BackendStoreEnv => "MLFLOW_BACKEND_STORE_URI",
            StoreUriSource::TrackingUriEnv => "MLFLOW_TRACKING_URI",
            StoreUriSource::Default => "default",
        }
    }
}

pub const DEFAULT_BACKEND_STORE_URI: &str = "sqlite:///mlflow.db";

/// Picks the backend store URI in one place: the flag, then `MLFLOW_BACKEND_STORE_URI`, then
/// `MLFLOW_TRACKING_URI` if it names a database (an http:// value is a client setting and is
/// ignored), then MLflow's default.
pub fn resolve_backend_store_uri(
    flag: Option<&str>,
    backend_store_env: Option<&str>,
    tracking_uri_env: Option<&str>,
) -> (String, StoreUriSource) {
    let non_empty = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    if let Some(uri) = non_empty(flag) {
        return (uri, StoreUriSource::Flag);
    }
    if let Some(uri) = non_empty(backend_store_env) {
        return (uri, StoreUriSource::BackendStoreEnv);
    }
    if let Some(uri) = non_empty(tracking_uri_env).filter(|uri| StoreUri::parse(uri).is_ok()) {
        return (uri, StoreUriSource::TrackingUriEnv);
    }
    (DEFAULT_BACKEND_STORE_URI.to_string(), StoreUriSource::Default)
}

/// The effective configuration of a running server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    pub store_uri: StoreUri,
    pub store_uri_source: StoreUriSource,
    pub default_artifact_root: String,
    pub artifacts_destination: String,
    pub serve_artifacts: bool,
    pub static_prefix: Option<String>,
    pub long_values: LongValues,
    pub migrate: bool,
    pub default_trace_experiment: Option<String>,
    pub otlp_grpc_port: u16,
    pub otlp_max_body_bytes: usize,
    pub otlp_in_flight_bytes: usize,
    /// `MLFLOW_S3_ENDPOINT_URL`: endpoint of S3-compatible artifact storage (MinIO, Ceph, moto).
    pub s3_endpoint: Option<String>,
    /// `MLFLOW_S3_IGNORE_TLS=true`: accept the endpoint's invalid TLS certificate.
    pub s3_ignore_tls: bool,
    /// [security] Host check, CORS, security headers, authentication.
    pub security: rivulet_api::security::SecuritySettings,
    /// [ops] How long to retry an unreachable database at start.
    pub db_startup_timeout: std::time::Duration,
}

pub(crate) fn is_local_path(uri: &str) -> bool {
    !uri.contains("://") && !uri.contains(":/")
}

pub(crate) fn absolute(path: &str) -> anyhow::Result<String> {
    let path = Path::new(path);
    let absolute: PathBuf = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().context("reading the working directory")?.join(path)
    };
    Ok(absolute.to_string_lossy().into_owned())
}

/// The HTTP port: the flag, then `MLFLOW_PORT`, then 5000. Kubernetes injects
/// `MLFLOW_PORT=tcp://<ip>:<port>` into every pod of a namespace with a Service named `mlflow`
/// (service links); that value names someone else's address, so it is ignored, not fatal.
pub fn resolve_port(flag: Option<u16>, env_port: Option<&str>) -> anyhow::Result<u16> {
    if let Some(port) = flag {
        return Ok(port);
    }
    match env_port.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(5000),
        Some(value) if value.contains("://") => {
            eprintln!("ignoring MLFLOW_PORT={value}: it is a Kubernetes service link, not a port; using 5000 (set --port to choose)");
            Ok(5000)
        }
        Some(value) => value
            .parse()
            .map_err(|_| anyhow::anyhow!("MLFLOW_PORT={value} is not a port number; set it (or --port) to a value from 1 to 65535")),
    }
}

pub fn validate_static_prefix(prefix: &str) -> anyhow::Result<()> {
    if !prefix.starts_with('/') {
        bail!("--static-prefix must begin with a '/' (got '{prefix}')");
    }
    if prefix.ends_with('/') {
        bail!("--static-prefix must not end with a '/' (got '{prefix}')");
    }
    if prefix.contains(['{', '}']) {
        bail!("--static-prefix must not contain '{{' or '}}' (got '{prefix}')");
    }
    Ok(())
}

impl ServerConfig {
    /// Resolves flags and the environment into the configuration, with errors that say what to change.
    pub fn resolve(args: &ServerArgs, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<ServerConfig> {
        let (uri, source) = resolve_backend_store_uri(
            args.backend_store_uri.as_deref(),
            env("MLFLOW_BACKEND_STORE_URI").as_deref(),
            env("MLFLOW_TRACKING_URI").as_deref(),
        );
        let store_uri = StoreUri::parse(&uri).map_err(|message| anyhow::anyhow!("{message} (from {})", source.describe()))?;
        // `MLFLOW_SERVE_ARTIFACTS=false` turns serving off as in MLflow; the flags win over it.
        let serve_env_off = env("MLFLOW_SERVE_ARTIFACTS").is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "false" | "0"));
        let serve_artifacts = !args.no_serve_artifacts && (args.serve_artifacts || !serve_env_off);
        let default_artifact_root = match args.default_artifact_root.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
            Some(root) if is_local_path(root) => absolute(root)?,
            Some(root) => root.to_string(),
            None if serve_artifacts => "mlflow-artifacts:/".to_string(),
            None => absolute("./mlruns")?,
        };
        if let Some(prefix) = &args.static_prefix {
            validate_static_prefix(prefix)?;
        }
        let long_values = match env("MLFLOW_TRUNCATE_LONG_VALUES").map(|v| v.to_ascii_lowercase()) {
            Some(v) if v == "false" || v == "0" => LongValues::Reject,
            _ => LongValues::Truncate,
        };
        Ok(ServerConfig {
            host: args.host.clone(),
            port: resolve_port(args.port, env("MLFLOW_PORT").as_deref())?,
            store_uri,
            store_uri_source: source,
            default_artifact_root,
            artifacts_destination: args.artifacts_destination.clone(),
            serve_artifacts,
            static_prefix: args.static_prefix.clone().filter(|p| !p.is_empty()),
            long_values,
            migrate: !args.no_migrate,
            default_trace_experiment: args.default_trace_experiment.clone().filter(|n| !n.trim().is_empty()),
            otlp_grpc_port: args.otlp_grpc_port,
            otlp_max_body_bytes: args.otlp_max_body_mib.max(1) * 1024 * 1024,
            otlp_in_flight_bytes: args.otlp_max_in_flight_mib.max(1) * 1024 * 1024,
            s3_endpoint: env("MLFLOW_S3_ENDPOINT_URL").filter(|e| !e.trim().is_empty()),
            s3_ignore_tls: env("MLFLOW_S3_IGNORE_TLS").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
            security: rivulet_api::security::SecuritySettings::from_flags(&rivulet_api::security::SecurityFlags {
                allowed_hosts: args.allowed_hosts.as_deref(),
                cors_allowed_origins: args.cors_allowed_origins.as_deref(),
                disable_security_middleware: args.disable_security_middleware,
                x_frame_options: Some(&args.x_frame_options),
                auth_file: args.auth_file.as_deref(),
            })
            .map_err(anyhow::Error::msg)?,
            db_startup_timeout: std::time::Duration::from_secs(args.db_startup_timeout),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_uri_precedence() {
        assert_eq!(resolve_backend_store_uri(Some("sqlite:///a.db"), Some("sqlite:///b.db"), None).1, StoreUriSource::Flag);
        assert_eq!(resolve_backend_store_uri(None, Some("sqlite:///b.db"), Some("sqlite:///c.db")).0, "sqlite:///b.db");
        let (uri, source) = resolve_backend_store_uri(None, None, Some("postgresql://u:p@db/mlflow"));
        assert_eq!((uri.as_str(), source), ("postgresql://u:p@db/mlflow", StoreUriSource::TrackingUriEnv));
        // An http tracking URI is where clients find a server, not a database.
        assert_eq!(resolve_backend_store_uri(None, None, Some("http://mlflow:5000")).1, StoreUriSource::Default);
        assert_eq!(resolve_backend_store_uri(None, Some("  "), None).0, DEFAULT_BACKEND_STORE_URI);
    }

    #[test]
    fn port_ignores_kubernetes_service_links() {
        assert_eq!(resolve_port(Some(6000), Some("7000")).unwrap(), 6000);
        assert_eq!(resolve_port(None, Some("7000")).unwrap(), 7000);
        assert_eq!(resolve_port(None, None).unwrap(), 5000);
        assert_eq!(resolve_port(None, Some("tcp://10.96.0.12:5000")).unwrap(), 5000);
        assert!(resolve_port(None, Some("abc")).is_err());
    }

    #[test]
    fn static_prefix_rules() {
        validate_static_prefix("/mlflow").unwrap();
        assert!(validate_static_prefix("mlflow").is_err());
        assert!(validate_static_prefix("/mlflow/").is_err());
        assert!(validate_static_prefix("/{x}").is_err());
    }
}

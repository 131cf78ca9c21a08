//! The `rivulet` binary: reads flags and environment, opens the store, serves the API.

mod auth;
mod config;
mod db;

use std::future::IntoFuture;
use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use config::{ServerArgs, ServerConfig};
use rivulet_api::{ApiSettings, AppState};
use rivulet_store::StoreSettings;
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "rivulet", version, about = "An MLflow-compatible tracking server and LLM trace viewer")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
// Parsed once at start; the size of `Server`'s flags does not matter.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Run the tracking server (flags as `mlflow server`).
    #[command(disable_help_flag = true)]
    Server {
        #[command(flatten)]
        args: ServerArgs,
        /// Print help.
        #[arg(long, action = clap::ArgAction::Help)]
        help: Option<bool>,
    },
    /// Database schema: `db upgrade` (create/migrate, e.g. from a migration Job) and `db check`.
    Db {
        #[command(subcommand)]
        command: db::DbCommand,
    },
    /// Helpers for --auth-file lines: hash-password, new-token, hash-token.
    Auth {
        #[command(subcommand)]
        command: auth::AuthCommand,
    },
}

fn init_logging(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(config: ServerConfig) -> anyhow::Result<()> {
    tracing::info!(
        host = %config.host,
        port = config.port,
        backend_store_uri = %config.store_uri,
        backend_store_uri_from = config.store_uri_source.describe(),
        default_artifact_root = %config.default_artifact_root,
        artifacts_destination = %config.artifacts_destination,
        serve_artifacts = config.serve_artifacts,
        static_prefix = config.static_prefix.as_deref().unwrap_or(""),
        migrate = config.migrate,
        default_trace_experiment = config.default_trace_experiment.as_deref().unwrap_or(""),
        otlp_grpc_port = config.otlp_grpc_port,
        "starting rivulet {}",
        env!("CARGO_PKG_VERSION")
    );
    let store_settings = StoreSettings {
        default_artifact_root: config.default_artifact_root.clone(),
        long_values: config.long_values,
        migrate: config.migrate,
        ..StoreSettings::default()
    };
    // [ops] Listen first: /health and /ready (503) answer while the database is being reached.
    let address = format!("{}:{}", config.host, config.port);
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .with_context(|| format!("cannot listen on {address}; is another server using the port? (--host/--port)"))?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    let (stop_sender, stop) = tokio::sync::watch::channel(false);
    let gate = rivulet_api::ops::StartupGate::new(config.static_prefix.as_deref());
    let http = tokio::spawn(
        axum::serve(listener, gate.router())
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                let _ = stop_sender.send(true);
            })
            .into_future(),
    );
    let mut stopped = stop.clone();
    let store = tokio::select! {
        store = db::open_with_retry(&config.store_uri, store_settings, config.db_startup_timeout, &gate) => store?,
        _ = stopped.wait_for(|stopped| *stopped) => {
            tracing::info!("stopped before the database was reached");
            return Ok(());
        }
    };
    let mut settings = ApiSettings {
        long_values: config.long_values,
        static_prefix: config.static_prefix.clone(),
        security: config.security.clone(),
        ops: rivulet_api::ops::Ops::with_probe(Arc::new(db::StoreChecks(store.clone()))),
        ..ApiSettings::default()
    };
    settings.otlp_limits.max_body_bytes = config.otlp_max_body_bytes;
    settings.otlp_in_flight_bytes = config.otlp_in_flight_bytes;
    let artifacts = artifact_storage(&config)?;
    for (root, error) in artifacts.check().await {
        // Not fatal: storage may come up after the server (a bucket created by a later job).
        tracing::warn!(%error, "artifact storage {root} is not usable yet");
    }
    settings.artifacts = Arc::new(artifacts);
    // [ops] An artifact destination the server cannot write is a misconfiguration: say so now.
    if let Err(message) = rivulet_api::ops::check_artifacts_writable(&settings.artifacts).await {
        // A local directory will not fix itself; remote storage may still be starting, and
        // /ready reports it until it answers.
        if settings.artifacts.proxy().is_ok_and(|store| store.is_local()) {
            anyhow::bail!("{message}");
        }
        tracing::error!("{message}");
    }
    let state = AppState::new(store.clone(), config.default_trace_experiment.clone(), settings);
    let grpc = if config.otlp_grpc_port == 0 {
        None
    } else {
        let grpc_address: std::net::SocketAddr = format!("{}:{}", config.host, config.otlp_grpc_port)
            .parse()
            .or_else(|_| format!("[{}]:{}", config.host, config.otlp_grpc_port).parse())
            .with_context(|| format!("--host {} is not an IP address the gRPC receiver can bind", config.host))?;
        let grpc_listener = tokio::net::TcpListener::bind(grpc_address)
            .await
            .with_context(|| format!("cannot listen on {grpc_address} for OTLP/gRPC; change --otlp-grpc-port or set it to 0"))?;
        tracing::info!("OTLP/gRPC receiver on {}", grpc_listener.local_addr()?);
        let service = rivulet_api::security::grpc_trace_service(state.clone());
        let mut stop = stop.clone();
        Some(tokio::spawn(async move {
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(grpc_listener);
            rivulet_api::otlp::grpc::server()
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, async move {
                    let _ = stop.wait_for(|stopped| *stopped).await;
                })
                .await
        }))
    };
    // The web UI shares the API's state and prefix; its routes never overlap the API's. `app`
    // puts both under the same security and metrics layers.
    gate.open(rivulet_api::app(state.clone(), rivulet_ui::router(state)));
    tracing::info!("ready to serve");
    http.await.context("the HTTP server task failed")??;
    if let Some(grpc) = grpc {
        match grpc.await {
            Ok(Err(error)) => tracing::warn!(%error, "OTLP/gRPC receiver stopped with an error"),
            Err(error) => tracing::warn!(%error, "OTLP/gRPC receiver task failed"),
            Ok(Ok(())) => {}
        }
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The artifact storage: `--artifacts-destination` behind the `mlflow-artifacts:/` proxy (when
/// serving artifacts), plus `--default-artifact-root` when it is storage the server can read
/// itself, so `/get-artifact` and `/artifacts/list` work for runs stored there.
fn artifact_storage(config: &ServerConfig) -> anyhow::Result<rivulet_artifacts::Artifacts> {
    let settings = rivulet_artifacts::StorageSettings {
        s3_endpoint: config.s3_endpoint.clone(),
        s3_ignore_tls: config.s3_ignore_tls,
        // The AWS variables boto3 reads (credentials, region, web identity, container credentials).
        aws_env: std::env::vars().filter(|(name, _)| name.starts_with("AWS_")).collect(),
        base_dir: std::env::current_dir().context("reading the working directory")?,
    };
    let proxy = if config.serve_artifacts {
        let store = rivulet_artifacts::open_root(&config.artifacts_destination, &settings)
            .map_err(|message| anyhow::anyhow!("{message} (--artifacts-destination)"))?;
        tracing::info!(root = store.uri(), "serving artifacts (mlflow-artifacts:/) from {}", store.uri());
        Some(store)
    } else {
        None
    };
    let mut direct = Vec::new();
    let root = config.default_artifact_root.as_str();
    if rivulet_artifacts::is_storage_uri(root) && proxy.as_ref().is_none_or(|p| p.uri() != root.trim_end_matches('/')) {
        match rivulet_artifacts::open_root(root, &settings) {
            Ok(store) => direct.push(store),
            Err(message) => tracing::warn!("artifacts under --default-artifact-root are not readable through this server: {message}"),
        }
    }
    Ok(rivulet_artifacts::Artifacts::new(proxy, direct))
}

/// Resolves on SIGINT or SIGTERM; in-flight requests then finish before the server exits.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Server { args, .. } => {
            init_logging(&args.log_format);
            if args.workers.is_some() {
                tracing::info!("--workers is accepted for compatibility and ignored: one process serves every request");
            }
            let result = ServerConfig::resolve(&args, |name| std::env::var(name).ok()).and_then(|config| {
                let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
                runtime.block_on(serve(config))
            });
            if let Err(error) = &result {
                // Also in the structured log (a misconfiguration included), where a JSON-reading
                // collector sees it.
                tracing::error!("{error:#}");
            }
            result
        }
        Command::Db { command } => {
            init_logging("text");
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(db::run(command))
        }
        Command::Auth { command } => auth::run(command),
    }
}

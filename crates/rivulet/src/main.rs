//! The `rivulet` binary: reads flags and environment, opens the store, serves the API.

mod config;

use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use config::{ServerArgs, ServerConfig};
use rivulet_api::otlp::TraceExperiments;
use rivulet_api::{ApiSettings, AppState};
use rivulet_store::{Store, StoreSettings};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "rivulet", version, about = "An MLflow-compatible tracking server and LLM trace viewer")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
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
    let store = Store::open(&config.store_uri, store_settings).await?;
    let mut settings = ApiSettings {
        long_values: config.long_values,
        static_prefix: config.static_prefix.clone(),
        ..ApiSettings::default()
    };
    settings.otlp_limits.max_body_bytes = config.otlp_max_body_bytes;
    let state = AppState {
        tracking: Arc::new(store.clone()),
        traces: Arc::new(store.clone()),
        trace_experiments: Arc::new(TraceExperiments::new(config.default_trace_experiment.clone())),
        settings: Arc::new(settings),
    };
    let address = format!("{}:{}", config.host, config.port);
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .with_context(|| format!("cannot listen on {address}; is another server using the port? (--host/--port)"))?;
    tracing::info!("listening on http://{}", listener.local_addr()?);

    let (stop_sender, stop) = tokio::sync::watch::channel(false);
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
        let service = rivulet_api::otlp::grpc::trace_service(state.clone());
        let mut stop = stop.clone();
        Some(tokio::spawn(async move {
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(grpc_listener);
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, async move {
                    let _ = stop.wait_for(|stopped| *stopped).await;
                })
                .await
        }))
    };
    let app = rivulet_api::router(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            let _ = stop_sender.send(true);
        })
        .await?;
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
            let config = ServerConfig::resolve(&args, |name| std::env::var(name).ok())?;
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(serve(config))
        }
    }
}

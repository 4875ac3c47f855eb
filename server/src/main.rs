//! The `hearth` server binary: parse config, start tracing, bind, run. Everything else is in the library.

use anyhow::Context;
use clap::Parser;
use server::auth::{resolve_token, TokenSource};
use server::config::Config;
use server::startup;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() {
    if let Err(e) = start().await {
        eprintln!("hearth: {e:#}");
        std::process::exit(1);
    }
}

async fn start() -> anyhow::Result<()> {
    let config = Config::parse();
    tracing_subscriber::fmt()
        // Logs on stderr; stdout carries only what the CLI means to say (a newly generated token).
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&config.log).context("bad --log filter")?,
        )
        .init();
    tracing::info!("settings: {config:?}");

    startup::prepare_data_dir(&config.data_dir)?;
    let (token, source) = resolve_token(config.token.as_ref(), &config.data_dir)?;
    match source {
        // The only time the generated credential is shown; it is the CLI's intended output.
        TokenSource::Generated => println!(
            "hearth: generated a write token (stored in {}): {}",
            config.data_dir.join("token").display(),
            token.expose()
        ),
        TokenSource::Stored => tracing::info!(
            "write token read from {}",
            config.data_dir.join("token").display()
        ),
        TokenSource::Configured => tracing::info!("write token from HEARTH_TOKEN"),
    }

    let leptos = startup::leptos_options(config.addr)?;

    let listener =
        listen(config.addr).with_context(|| format!("cannot listen on {}", config.addr))?;
    tracing::info!(
        "dashboard at http://{}",
        listener.local_addr().context("no local address")?
    );

    startup::init_executor();
    let state = startup::build(config, token, leptos)?;
    tokio::spawn(cancel_on_signal(state.shutdown.clone()));
    server::run(listener, state).await
}

/// Binds with a deep accept backlog: when thousands of dashboards reconnect at once after a restart, the
/// default of 128 overflows and the excess wait a second for the kernel to retry their SYN.
fn listen(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    const BACKLOG: u32 = 4096;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Cancels the shutdown token on SIGINT or SIGTERM. A signal that cannot be listened for is logged and never
/// fires (rather than firing at once and shutting the server down as it starts).
async fn cancel_on_signal(token: CancellationToken) {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for SIGINT: {e}");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
    token.cancel();
}

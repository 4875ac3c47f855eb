//! Serving connections: the accept loop, and the split between event streams and everything else.
//!
//! A connection's first request decides who serves it. A `GET` of an event-stream route is answered by the
//! router as usual, and its stream is then written to the socket by [`sse_writer`] — the connection costs its
//! stream and a small writer, not hyper's per-connection buffers (3.9 instead of 18.5 KiB of server memory per
//! idle stream, BENCHMARKS.md). Any other first request, and everything after it on that connection, is served
//! by hyper with the bytes already read replayed ([`rewind`]). A stream requested later on a keep-alive connection is therefore served by hyper: correct,
//! only heavier.
//!
//! Shutdown: the accept loop stops (new connections are refused), hyper connections finish their request in
//! flight and close, and streams end on their own (they watch the same token); `serve` returns when every
//! connection is gone. [`crate::run`] bounds that wait.

mod head;
mod rewind;
mod sse_writer;
mod stall;

use crate::hub::Metrics;
use axum::Router;
use bytes::Bytes;
use head::FirstRequest;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use stall::StallGuard;

/// How long a new connection may take to send its first request head (hyper applies its own rules after).
const FIRST_HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// What every connection needs besides its socket.
#[derive(Clone)]
pub struct Connections {
    pub app: Router,
    /// A write making no progress for this long cuts the connection (a client that stopped reading).
    pub stall: Duration,
    pub metrics: Arc<Metrics>,
    pub shutdown: CancellationToken,
    /// Whether a path (without query) is an event-stream route.
    pub is_stream_path: fn(&str) -> bool,
}

/// Accepts connections until `shutdown`, then waits for the open ones to close.
pub async fn serve(listener: TcpListener, connections: Connections) {
    let tracker = TaskTracker::new();
    let shutdown = connections.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((socket, _peer)) => {
                tracker.spawn(connection(socket, connections.clone()));
            }
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                // Out of file descriptors, most likely: wait for some to be freed rather than spin.
                tracing::error!(error = %e, "accept failed; retrying in 1 s");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
    drop(listener);
    tracker.close();
    tracker.wait().await;
}

/// A failure of one connection, not of the listener.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

async fn connection(mut socket: TcpStream, c: Connections) {
    // Events are small writes that must leave at once: Nagle's algorithm would hold one back until the
    // previous one is acknowledged (up to the peer's delayed-ACK time, ~40 ms).
    if let Err(e) = socket.set_nodelay(true) {
        tracing::debug!(error = %e, "could not set TCP_NODELAY");
    }
    let first = tokio::select! {
        () = c.shutdown.cancelled() => return,
        first = tokio::time::timeout(
            FIRST_HEAD_TIMEOUT,
            head::read_first_request(&mut socket, c.is_stream_path),
        ) => match first {
            Ok(first) => first,
            Err(_) => return,
        },
    };
    match first {
        FirstRequest::Gone => {}
        FirstRequest::Stream(request) => {
            sse_writer::serve_stream(socket, *request, c.app, c.stall, c.metrics).await;
        }
        // Boxed: hyper's connection state is large and would otherwise size every stream task too.
        FirstRequest::Other(prefix) => Box::pin(serve_http(socket, prefix, c)).await,
    }
}

/// Serves the connection with hyper (HTTP/1.1, keep-alive), starting with the bytes already read.
async fn serve_http(socket: TcpStream, prefix: Bytes, c: Connections) {
    let io = TokioIo::new(rewind::Rewind::new(
        prefix,
        StallGuard::new(socket, c.stall, c.metrics),
    ));
    let service = TowerToHyperService::new(c.app);
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = c.shutdown.cancelled() => {
            // Finish the request in flight (a stream ends by itself on the same token), then close.
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

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

mod gate;
mod head;
mod sse_writer;
mod stall;

use crate::hub::Metrics;
use axum::body::Body;
use axum::http::Request;
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use head::FirstRequest;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

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

/// Serves the connection with hyper (HTTP/1.1, keep-alive), starting with the bytes already read, until it ends
/// or a stream request comes along ([`gate`]); that one is then served directly, like a first request.
async fn serve_http(socket: TcpStream, read: Bytes, c: Connections) {
    let gate = gate::Gate::new(
        read,
        StallGuard::new(socket, c.stall, c.metrics.clone()),
        c.is_stream_path,
    );
    let app = c.app.clone();
    // Boxed futures: `poll_without_shutdown` (how the socket is taken back) wants an `Unpin` service.
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let app = app.clone();
        Box::pin(async move { app.oneshot(request.map(Body::new)).await })
            as Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>
    });
    let mut conn = hyper::server::conn::http1::Builder::new()
        // The gate ends hyper's input when it holds a stream request back; hyper must finish the response in
        // flight rather than treat that as a client gone mid-request.
        .half_close(true)
        .serve_connection(TokioIo::new(gate), service);
    let mut cancelled = std::pin::pin!(c.shutdown.cancelled());
    let mut closing = false;
    let result = std::future::poll_fn(|cx| {
        if !closing && cancelled.as_mut().poll(cx).is_ready() {
            // Finish the request in flight, then close.
            closing = true;
            Pin::new(&mut conn).graceful_shutdown();
        }
        conn.poll_without_shutdown(cx)
    })
    .await;
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
        return;
    }
    let (io, held) = conn.into_parts().io.into_inner().into_parts();
    let mut socket = io.into_inner();
    match held {
        Some(request) if !closing => {
            sse_writer::serve_stream(socket, *request, c.app, c.stall, c.metrics).await;
        }
        _ => {
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut socket).await;
        }
    }
}

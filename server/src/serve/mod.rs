//! Serving connections: the accept loop, and the split between event streams and everything else.
//!
//! A `GET` of an event-stream route is answered by the router as usual, and its stream is then written to the
//! socket by [`sse_writer`]: the connection costs its stream and a small writer, not hyper's per-connection
//! buffers (2.9 instead of 18.5 KiB of server memory per idle stream, BENCHMARKS.md). Everything else is served by
//! hyper. Every request head on a connection is looked at first, by its [`gate`] ([`head`] parses it): a
//! connection that opens with a stream never starts hyper, and a stream asked for later on a reused keep-alive
//! connection (what browsers do) is taken out of hyper too.
//!
//! Shutdown: the accept loop stops (new connections are refused), hyper connections finish their request in
//! flight and close, and streams end on their own (they watch the same token); `serve` returns when every
//! connection is gone. [`crate::run`] bounds that wait.

mod gate;
mod head;
mod sse_writer;
mod stall;

use crate::metrics::Metrics;
use axum::body::Body;
use axum::http::Request;
use axum::response::Response;
use axum::Router;
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

async fn connection(socket: TcpStream, c: Connections) {
    // Events are small writes that must leave at once: Nagle's algorithm would hold one back until the
    // previous one is acknowledged (up to the peer's delayed-ACK time, ~40 ms).
    if let Err(e) = socket.set_nodelay(true) {
        tracing::debug!(error = %e, "could not set TCP_NODELAY");
    }
    // In a block of its own so that the gate's (and the wait's) storage is not kept in this task's future for the
    // life of a stream: a task's size is its largest state, held as long as the task lives (~350 bytes a stream).
    let (socket, request) = {
        let mut gate = gate::Gate::new(
            StallGuard::new(socket, c.stall, c.metrics.clone()),
            c.is_stream_path,
        );
        let first = std::future::poll_fn(|cx| gate.poll_next_head(cx));
        tokio::select! {
            () = c.shutdown.cancelled() => return,
            first = tokio::time::timeout(FIRST_HEAD_TIMEOUT, first) => match first {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return,
            },
        }
        if gate.is_closed() {
            return;
        }
        match gate.take_held() {
            Some(request) => (gate.into_socket(), request),
            // Boxed: hyper's connection state is large.
            None => return Box::pin(serve_http(gate, c)).await,
        }
    };
    sse_writer::serve_stream(socket, request, c.app, c.stall, c.metrics).await;
}

/// Serves the connection with hyper (HTTP/1.1, keep-alive) through its gate, until it ends or a stream request
/// comes along ([`gate`]); that one is then served directly, like a first request.
async fn serve_http(gate: gate::Gate, c: Connections) {
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
    let mut gate = conn.into_parts().io.into_inner();
    match gate.take_held() {
        Some(request) if !closing => {
            sse_writer::serve_stream(gate.into_socket(), request, c.app, c.stall, c.metrics).await;
        }
        _ => {
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut gate).await;
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    /// A connection's task is as big as its largest state, for as long as it lives: for a stream, its whole life.
    /// Measured 928 bytes; it was 1,632 while the request, the response head and the gate stayed in it.
    #[tokio::test]
    async fn a_connection_task_stays_small() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let socket = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let connections = Connections {
            app: Router::new(),
            stall: Duration::from_secs(1),
            metrics: Arc::default(),
            shutdown: CancellationToken::new(),
            is_stream_path: |_| true,
        };
        let task = connection(socket, connections);
        let size = std::mem::size_of_val(&task);
        assert!(size <= 1024, "a connection's future is {size} bytes");
    }
}

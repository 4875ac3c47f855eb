//! Serving connections: the accept loop, who may hold a connection and for how long, and the split between event
//! streams and everything else.
//!
//! This is HTTP/1 framing in front of hyper and knows nothing of the application: it is given an axum
//! [`Router`], a test for which paths are event streams, a test for which requests are privileged, and its
//! limits ([`Connections`]); it reports what it does in its own counters ([`ServeMetrics`]).
//!
//! Two ways to serve ([`Mode`]). `Direct` (the default): a `GET` of an event-stream route is answered by the
//! router as usual, and its stream is then written to the socket by [`sse_writer`]: the connection costs its
//! stream and a small writer, not hyper's per-connection buffers (2.9 instead of 18.5 KiB of server memory per
//! idle stream). Everything else is served by hyper. Every request head on a connection is looked at first, by
//! its [`gate`] ([`head`] parses it): a connection that opens with a stream never starts hyper, and a stream asked
//! for later on a reused keep-alive connection (what browsers do) is taken out of hyper too. `Hyper`: every
//! connection is hyper's alone, as a plain hyper server would serve it; kept so that the direct path always has a
//! tested reference to be compared with.
//!
//! Limits ([`admission`]): connections in all and per client address are capped, with a reserve that only
//! privileged requests may use; every wait for a request has a deadline (the gate's, and hyper's header timeout
//! as a backstop), every body must arrive whole within one of its own ([`body_deadline`]), and a request head
//! is capped in size (the gate's buffer and hyper's), so idle and slow connections hold neither sockets nor
//! memory for ever.
//!
//! Shutdown: the accept loop stops (new connections are refused), hyper connections finish their request in
//! flight and close, and streams end on their own (they watch the same token); `serve` returns when every
//! connection is gone. The caller bounds that wait.

mod admission;
#[cfg(test)]
mod agreement;
mod body_deadline;
mod gate;
mod head;
mod metrics;
mod sse_writer;
mod stall;

pub use admission::Caps;
pub use body_deadline::{body_too_slow, BodyTooSlow};
pub use metrics::ServeMetrics;

use crate::meters::Held;
use admission::{Admission, Over, Probation, Ticket};
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::Request;
use axum::response::Response;
use axum::Router;
use body_deadline::DeadlineBody;
use futures::FutureExt;
use gate::{Gate, Timeouts};
use hyper::body::{Body as _, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use stall::StallGuard;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// The smallest head limit hyper's buffer can be given.
pub const MIN_HEAD_LIMIT: usize = 8 * 1024;

/// Says whether a request may use the reserve of connections above the limits (a logged-in client). The parts
/// carry the client's address (`axum::extract::ConnectInfo`) when it is known.
pub type Privileged = Arc<dyn Fn(&Parts) -> bool + Send + Sync>;

/// How connections are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Event streams written outside hyper by a small writer; everything else by hyper.
    Direct,
    /// Everything by hyper.
    Hyper,
}

/// Limits and deadlines for every connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub caps: Caps,
    /// How long a connection may wait for its next request (its first included).
    pub idle_timeout: Duration,
    /// How long a request head may take once its first byte came. Also the deadline of a connection on
    /// probation for its whole first head.
    pub header_timeout: Duration,
    /// How long a request body may take, whole, from the end of its head.
    pub body_timeout: Duration,
    /// The largest request head, in bytes (at least hyper's floor, [`MIN_HEAD_LIMIT`]); a larger one is
    /// answered 431.
    pub max_head: usize,
    /// A write making no progress for this long cuts the connection (a client that stopped reading).
    pub stall: Duration,
}

/// What every connection needs besides its socket.
pub struct Connections {
    pub app: Router,
    pub mode: Mode,
    pub limits: Limits,
    pub metrics: Arc<ServeMetrics>,
    pub shutdown: CancellationToken,
    /// Whether a path (without query) is an event-stream route.
    pub is_stream_path: fn(&str) -> bool,
    pub is_privileged: Privileged,
}

/// A connection's share of everything: the settings, and its counted place, given back when it is dropped.
struct ConnectionSlot {
    shared: Arc<Shared>,
    ticket: Ticket,
    _open: Held,
}

struct Shared {
    c: Connections,
    admission: Admission,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.shared.admission.release(self.ticket);
    }
}

/// How many connections fit in this process's open-files limit, leaving `reserved` for privileged requests,
/// as many again for connections on probation, and a twentieth (at least 64) for everything else the server
/// opens (its store, its listener, its logs).
pub fn connections_that_fit(reserved: usize) -> usize {
    const UNKNOWN_LIMIT: usize = 1024;
    let files = open_files_limit().unwrap_or(UNKNOWN_LIMIT);
    let spare = (files / 20).max(64);
    files
        .saturating_sub(spare)
        .saturating_sub(2 * reserved)
        .max(1)
}

/// The soft limit on open files, from `/proc/self/limits` (Linux); `None` elsewhere or when unlimited.
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Accepts connections until `shutdown`, then waits for the open ones to close.
pub async fn serve(listener: TcpListener, connections: Connections) {
    let shutdown = connections.shutdown.clone();
    let shared = Arc::new(Shared {
        admission: Admission::new(connections.limits.caps),
        c: connections,
    });
    let tracker = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((socket, peer)) => {
                let (ticket, probation) = shared.admission.admit(peer.ip());
                let slot = ConnectionSlot {
                    _open: shared.c.metrics.connections.hold(),
                    shared: shared.clone(),
                    ticket,
                };
                tracker.spawn(connection(socket, slot, probation));
            }
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                // Out of file descriptors, most likely: wait for some to be freed rather than spin.
                shared.c.metrics.accept_errors.inc();
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

/// Tells the router who is on the other end (`axum::extract::ConnectInfo`), for limits per client address.
fn with_peer<B>(request: &mut Request<B>, peer: Option<SocketAddr>) {
    if let Some(peer) = peer {
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
    }
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

async fn connection(socket: TcpStream, mut slot: ConnectionSlot, probation: Option<Probation>) {
    // Events are small writes that must leave at once: Nagle's algorithm would hold one back until the
    // previous one is acknowledged (up to the peer's delayed-ACK time, ~40 ms).
    if let Err(e) = socket.set_nodelay(true) {
        tracing::debug!(error = %e, "could not set TCP_NODELAY");
    }
    // Everything before the stream is boxed, so that none of its storage (the gate, the waits, hyper) stays in
    // this task's future for the life of a stream: a task's size is its largest state, held as long as it lives.
    let peer = socket.peer_addr().ok();
    let Some((socket, mut request)) =
        Box::pin(until_stream(socket, &mut slot, probation, peer)).await
    else {
        return;
    };
    with_peer(&mut request, peer);
    let s = &slot.shared.c;
    let stream = sse_writer::serve_stream(
        socket,
        request,
        s.app.clone(),
        s.limits.stall,
        s.metrics.clone(),
    );
    stream.await;
}

/// Serves the connection until a stream request comes (returned with the socket) or the connection ends.
async fn until_stream(
    socket: TcpStream,
    slot: &mut ConnectionSlot,
    probation: Option<Probation>,
    peer: Option<SocketAddr>,
) -> Option<(TcpStream, Box<Request<Body>>)> {
    let ConnectionSlot { shared, ticket, .. } = slot;
    let s = &**shared;
    let io = StallGuard::new(socket, s.c.limits.stall, s.c.metrics.clone());
    if s.c.mode == Mode::Hyper {
        hyper_connection(io, s, ticket, probation, peer).await;
        return None;
    }
    let (io, request) = gated(io, s, ticket, probation, peer).await?;
    Some((io.into_inner(), request))
}

/// The direct path: the gate reads each request head first, hyper serves whatever is not a stream, and the first
/// stream request is returned with the socket.
async fn gated<IO>(
    io: IO,
    s: &Shared,
    ticket: &mut Ticket,
    probation: Option<Probation>,
    peer: Option<SocketAddr>,
) -> Option<(IO, Box<Request<Body>>)>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut gate = Gate::new(io, s.c.is_stream_path, first_wait(s, &probation));
    if !first_head(&mut gate, s, ticket, probation, peer).await {
        return None;
    }
    match gate.take_held() {
        Some(request) => Some((gate.into_inner(), request)),
        // Boxed: hyper's connection state is large, and only some connections need it.
        None => Box::pin(serve_http(gate, s, peer)).await,
    }
}

/// The gate's deadlines for a connection's first request: a connection on probation must send its head at once.
fn first_wait(s: &Shared, probation: &Option<Probation>) -> Timeouts {
    let header = s.c.limits.header_timeout;
    Timeouts {
        idle: match probation {
            Some(_) => header.min(s.c.limits.idle_timeout),
            None => s.c.limits.idle_timeout,
        },
        header,
    }
}

/// A connection served by hyper alone. On probation its first head is read first, to decide whether it stays.
async fn hyper_connection(
    io: StallGuard,
    s: &Shared,
    ticket: &mut Ticket,
    probation: Option<Probation>,
    peer: Option<SocketAddr>,
) {
    let ended = if probation.is_some() {
        let mut gate = Gate::new(io, |_| false, first_wait(s, &probation));
        if !first_head(&mut gate, s, ticket, probation, peer).await {
            return;
        }
        gate.pass_all();
        let served = run_hyper(gate, s, false, peer).await;
        (served.io.into_inner(), served.failed)
    } else {
        let served = run_hyper(io, s, false, peer).await;
        (served.io, served.failed)
    };
    if let (mut io, false) = ended {
        let _ = io.shutdown().await;
    }
}

/// Reads the connection's first request head; true if the connection is to be served. A connection on probation
/// is served only if that request is privileged (and a place is left); otherwise it is answered 503 and closed.
/// One pushed out of probation by newcomers is closed unanswered, unless the head it already sent (read at once,
/// without waiting) is privileged: silent connections cannot push out a request with the token or a session,
/// however long its task took to get to it.
async fn first_head<IO: AsyncRead + AsyncWrite + Unpin>(
    gate: &mut Gate<IO>,
    s: &Shared,
    ticket: &mut Ticket,
    probation: Option<Probation>,
    peer: Option<SocketAddr>,
) -> bool {
    let read = std::future::poll_fn(|cx| gate.poll_next_head(cx));
    let pushed_out = async {
        match &probation {
            Some(p) => p.pushed_out.cancelled().await,
            None => std::future::pending().await,
        }
    };
    let read = tokio::select! {
        () = s.c.shutdown.cancelled() => return false,
        () = pushed_out => std::future::poll_fn(|cx| gate.poll_next_head(cx))
            .now_or_never()
            .filter(|read| read.is_ok() && gate.head_parts().is_some()),
        read = read => Some(read),
    };
    match read {
        Some(Ok(())) => {}
        Some(Err(e)) => {
            if gate.timed_out() {
                s.c.metrics.timed_out.inc();
            }
            tracing::debug!(error = %e, "no first request");
            return false;
        }
        None => {
            if let Some(p) = &probation {
                count_refusal(s, p.over);
            }
            return false;
        }
    }
    if gate.is_closed() {
        return false;
    }
    let Some(probation) = probation else {
        return true;
    };
    let privileged = gate.head_parts().is_some_and(|mut parts| {
        if let Some(peer) = peer {
            parts.extensions.insert(axum::extract::ConnectInfo(peer));
        }
        (s.c.is_privileged)(&parts)
    });
    match s.admission.settle(ticket, privileged, probation.over) {
        Ok(()) => {
            if privileged {
                s.c.metrics.let_in_over_limit.inc();
            }
            true
        }
        Err(over) => {
            count_refusal(s, over);
            refuse(gate, over, s.c.limits.stall).await;
            false
        }
    }
}

fn count_refusal(s: &Shared, over: Over) {
    match over {
        Over::Total => s.c.metrics.refused_total_limit.inc(),
        Over::PerClient => s.c.metrics.refused_per_client.inc(),
    }
}

/// Answers 503 with a JSON error body and closes. What the client sends meanwhile is read and dropped for a
/// moment, so that closing with unread input does not reset the connection before the answer is read.
async fn refuse<IO: AsyncRead + AsyncWrite + Unpin>(io: &mut IO, over: Over, stall: Duration) {
    const RETRY_AFTER_SECS: u32 = 5;
    const DRAIN: Duration = Duration::from_secs(1);
    let (error, limit) = match over {
        Over::Total => ("too many connections; retry later", "connections"),
        Over::PerClient => (
            "too many connections from this address; retry later",
            "connections_per_client",
        ),
    };
    let body = format!(r#"{{"error":"{error}","detail":{{"limit":"{limit}"}}}}"#);
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         retry-after: {RETRY_AFTER_SECS}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let answer = async {
        io.write_all(response.as_bytes()).await?;
        io.shutdown().await
    };
    if !matches!(tokio::time::timeout(stall, answer).await, Ok(Ok(()))) {
        return;
    }
    let mut sink = [0u8; 1024];
    let drain = async { while matches!(io.read(&mut sink).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(DRAIN, drain).await;
}

/// Serves the connection with hyper (HTTP/1.1, keep-alive) through its gate, until it ends or a stream request
/// comes along ([`gate`]); that one is returned with the socket, to be served like a first request.
async fn serve_http<IO>(
    gate: Gate<IO>,
    s: &Shared,
    peer: Option<SocketAddr>,
) -> Option<(IO, Box<Request<Body>>)>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // The gate ends hyper's input when it holds a stream request back; hyper must finish the response in flight
    // rather than treat that as a client gone mid-request: half-close.
    let Served {
        io: mut gate,
        closing,
        failed,
    } = run_hyper(gate, s, true, peer).await;
    if gate.timed_out() {
        s.c.metrics.timed_out.inc();
    }
    if failed {
        return None;
    }
    match gate.take_held() {
        Some(request) if !closing => Some((gate.into_inner(), request)),
        _ => {
            let _ = gate.shutdown().await;
            None
        }
    }
}

/// What is left of a connection hyper has finished with.
struct Served<IO> {
    /// The socket, not shut down.
    io: IO,
    /// Shutdown had begun.
    closing: bool,
    /// The connection failed (its error is logged).
    failed: bool,
}

/// Serves `io` with hyper until the client or hyper ends the connection, or shutdown finishes it.
async fn run_hyper<IO>(io: IO, s: &Shared, half_close: bool, peer: Option<SocketAddr>) -> Served<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let app = s.c.app.clone();
    let (body_timeout, metrics) = (s.c.limits.body_timeout, s.c.metrics.clone());
    // Boxed futures: `poll_without_shutdown` (how the socket is taken back) wants an `Unpin` service.
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let app = app.clone();
        let mut request = request.map(|body| {
            if body.is_end_stream() {
                Body::new(body)
            } else {
                Body::new(DeadlineBody::new(body, body_timeout, metrics.clone()))
            }
        });
        with_peer(&mut request, peer);
        Box::pin(async move { app.oneshot(request).await })
            as Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>
    });
    let mut conn = http1(&s.c.limits)
        .half_close(half_close)
        .serve_connection(TokioIo::new(io), service);
    let mut cancelled = std::pin::pin!(s.c.shutdown.cancelled());
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
    if let Err(e) = &result {
        if e.is_timeout() {
            s.c.metrics.timed_out.inc();
        }
        tracing::debug!(error = %e, "connection ended with an error");
    }
    Served {
        io: conn.into_parts().io.into_inner(),
        closing,
        failed: result.is_err(),
    }
}

/// hyper's HTTP/1 settings. Its header timeout runs from when it starts waiting for a head until the head is
/// complete, so it covers the idle wait and the head together: in direct mode the gate's own deadlines (each
/// shorter) always come first, and this is a backstop. A head past the size limit is answered 431 (hyper's own
/// answer) as soon as that many bytes came, and its buffer never grows past the limit while a head is read
/// (hyper's default is ~400 KiB).
fn http1(limits: &Limits) -> hyper::server::conn::http1::Builder {
    let max_head = limits.max_head.max(MIN_HEAD_LIMIT);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout + limits.header_timeout)
        .max_header_size(max_head)
        .max_buf_size(max_head);
    builder
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            caps: Caps {
                total: 10,
                reserved: 1,
                per_client: 0,
            },
            idle_timeout: Duration::from_secs(1),
            header_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(1),
            max_head: MIN_HEAD_LIMIT,
            stall: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_default_connection_limit_leaves_room_below_the_open_files_limit() {
        let fit = connections_that_fit(64);
        assert!(fit >= 1);
        if let Some(files) = open_files_limit() {
            assert!(
                fit + 2 * 64 + 64 <= files,
                "{fit} connections with {files} files"
            );
        }
    }

    /// A connection on probation pushed out by newcomers (here from its own address, as behind a NAT) before
    /// its task read the head it had already sent: a privileged head is still heard, a stranger's is not.
    #[tokio::test]
    async fn a_privileged_head_already_sent_is_heard_even_when_pushed_out() {
        for (head, heard) in [
            (
                "GET / HTTP/1.1\r\nAuthorization: Bearer right\r\n\r\n",
                true,
            ),
            (
                "GET / HTTP/1.1\r\nAuthorization: Bearer wrong\r\n\r\n",
                false,
            ),
        ] {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let mut client = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (server, peer) = listener.accept().await.unwrap();
            let mut limits = limits();
            limits.caps = Caps {
                total: 0,
                reserved: 1,
                per_client: 0,
            };
            let shared = Shared {
                admission: Admission::new(limits.caps),
                c: Connections {
                    app: Router::new(),
                    mode: Mode::Direct,
                    limits,
                    metrics: Arc::default(),
                    shutdown: CancellationToken::new(),
                    is_stream_path: |_| false,
                    is_privileged: Arc::new(|parts| {
                        parts
                            .headers
                            .get("authorization")
                            .is_some_and(|v| v == "Bearer right")
                    }),
                },
            };
            let (mut ticket, probation) = shared.admission.admit(peer.ip());
            client.write_all(head.as_bytes()).await.unwrap();
            server.readable().await.unwrap();
            let flood: Vec<_> = (0..8).map(|_| shared.admission.admit(peer.ip())).collect();
            let probation = probation.expect("over the limit");
            assert!(probation.pushed_out.is_cancelled(), "pushed out");

            let mut gate = Gate::new(server, |_| false, first_wait(&shared, &None));
            let served = first_head(&mut gate, &shared, &mut ticket, Some(probation), None).await;

            assert_eq!(served, heard, "{head:?}");
            drop(flood);
        }
    }

    /// A connection's task is as big as its largest state, for as long as it lives: for a stream, its whole life.
    /// Measured 848 bytes (the stream's writer and the connection's counted place, the guard of its count in the
    /// connections gauge included) since everything before the stream is boxed; 928 before, and 1,632 while the
    /// request, the response head and the gate stayed in it.
    #[tokio::test]
    async fn a_connection_task_stays_small() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let socket = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let shared = Arc::new(Shared {
            admission: Admission::new(limits().caps),
            c: Connections {
                app: Router::new(),
                mode: Mode::Direct,
                limits: limits(),
                metrics: Arc::default(),
                shutdown: CancellationToken::new(),
                is_stream_path: |_| true,
                is_privileged: Arc::new(|_| false),
            },
        });
        let (ticket, _) = shared.admission.admit(socket.peer_addr().unwrap().ip());
        let slot = ConnectionSlot {
            _open: shared.c.metrics.connections.hold(),
            shared,
            ticket,
        };
        let task = connection(socket, slot, None);
        let size = std::mem::size_of_val(&task);
        assert!(size <= 1024, "a connection's future is {size} bytes");
    }
}

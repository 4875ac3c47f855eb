//! Event streams written straight to their socket, without hyper.
//!
//! Why: a stream connection under hyper carries hyper's HTTP/1 read buffer and dispatcher for as long as it is
//! open — about 25 KiB each (massif), most of a subscriber's cost — and every delivery goes through the
//! dispatcher's body polling and write buffer. Here the route still runs through the same axum router (same
//! extractors, limits, CORS, errors); only the response is written by hand: the head once, then each batch of
//! frames the stream has ready as one chunk, in one `writev`. A connection costs its stream's state and this
//! small writer, nothing more.
//!
//! While streaming the socket is also watched for reading, so that a client that leaves is noticed at once (its
//! slots are freed) rather than at the next keep-alive. The end of its input alone does not say it left: HTTP/1.1
//! allows a client to close its sending side and keep reading, and TCP shows a full close and a half-close the
//! same way. So the end of input only stops the reading, and the stream goes on; the writer then sends two SSE
//! comment lines (`:`, which every client ignores), [`PROBE_AFTER`] apart: to a client that closed fully, the
//! first draws a reset and the second fails, which ends the stream within about that time; to a half-closed
//! client they are harmless. A reset or any failed write ends the stream. A client that stops reading is cut
//! once a write has made no progress for the stall period, as under hyper (see [`super::stall`]).

use super::metrics::ServeMetrics;
use axum::body::Body;
use axum::http::{header, response::Parts, StatusCode, Version};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use http_body::Body as _;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Sleep;
use tower::ServiceExt;

/// Frames taken from the stream for one write: bounds the iovec and the work done per wake-up.
const MAX_BATCH: usize = 64;
/// Bytes a client may send after its request before it is cut: it has no business sending any.
const MAX_IGNORED_INPUT: usize = 64 * 1024;
/// An error response (or 204) on a stream route is small JSON; anything bigger is cut off.
const MAX_PLAIN_BODY: usize = 1024 * 1024;
/// Between the two probes sent after a client's input ended: longer than a round trip, so that a client that
/// closed fully has answered the first with a reset by the time the second is written.
pub const PROBE_AFTER: Duration = Duration::from_millis(500);

/// Answers a stream request held back by [`super::gate`] and holds the connection until the stream ends.
///
/// Only the [`Pump`] lives for the stream's life: the request (boxed, ~240 bytes inline), the router's future and
/// the response head (its `HeaderMap`) are gone once the head is written, so a task holds no more than it needs.
pub async fn serve_stream(
    mut socket: TcpStream,
    request: Box<axum::http::Request<Body>>,
    app: Router,
    stall: Duration,
    metrics: Arc<ServeMetrics>,
) {
    let framing = if request.version() == Version::HTTP_11 {
        Framing::Chunked
    } else {
        Framing::Close
    };
    let pump = {
        // Boxed: the router's future is large and only lives until the response head.
        let response: Response = match Box::pin(app.oneshot(*request)).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let (parts, body) = response.into_parts();
        if !is_event_stream(&parts) {
            if let Err(e) = write_plain(&mut socket, &parts, body, stall).await {
                tracing::debug!(error = %e, "stream route answered without a stream; not all of it was sent");
            }
            return;
        }
        let head = response_head(&parts, framing);
        Pump::new(
            socket,
            body,
            head,
            framing == Framing::Chunked,
            stall,
            metrics.clone(),
        )
    };
    let _open = metrics.streams_direct.hold();
    if let Err(e) = pump.await {
        tracing::debug!(error = %e, "event stream connection ended");
    }
}

fn is_event_stream(parts: &Parts) -> bool {
    parts.status == StatusCode::OK
        && parts
            .headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"))
}

/// How the body's end is marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// `Transfer-Encoding: chunked` (HTTP/1.1): a clean end is told apart from a cut connection.
    Chunked,
    /// The body ends when the connection closes (HTTP/1.0 has no chunked encoding).
    Close,
    Length(usize),
}

/// The status line and headers. Every connection held here closes after its one response.
fn response_head(parts: &Parts, framing: Framing) -> Bytes {
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(b"HTTP/1.1 ");
    head.extend_from_slice(parts.status.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(
        parts
            .status
            .canonical_reason()
            .unwrap_or_default()
            .as_bytes(),
    );
    head.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        if name == header::CONNECTION
            || name == header::TRANSFER_ENCODING
            || name == header::CONTENT_LENGTH
        {
            continue;
        }
        push_header(&mut head, name.as_str(), value.as_bytes());
    }
    if !parts.headers.contains_key(header::DATE) {
        let date = httpdate::fmt_http_date(std::time::SystemTime::now());
        push_header(&mut head, "date", date.as_bytes());
    }
    match framing {
        Framing::Chunked => push_header(&mut head, "transfer-encoding", b"chunked"),
        Framing::Close => {}
        Framing::Length(n) => push_header(
            &mut head,
            "content-length",
            itoa::Buffer::new().format(n).as_bytes(),
        ),
    }
    push_header(&mut head, "connection", b"close");
    head.extend_from_slice(b"\r\n");
    Bytes::from(head)
}

fn push_header(head: &mut Vec<u8>, name: &str, value: &[u8]) {
    head.extend_from_slice(name.as_bytes());
    head.extend_from_slice(b": ");
    head.extend_from_slice(value);
    head.extend_from_slice(b"\r\n");
}

/// A response that is not a stream (an error, a 204 for a finished job): written whole, then the connection
/// closes.
async fn write_plain(
    socket: &mut TcpStream,
    parts: &Parts,
    body: Body,
    stall: Duration,
) -> io::Result<()> {
    let body = axum::body::to_bytes(body, MAX_PLAIN_BODY)
        .await
        .map_err(io::Error::other)?;
    let framing = if parts.status == StatusCode::NO_CONTENT || parts.status.is_informational() {
        Framing::Close
    } else {
        Framing::Length(body.len())
    };
    let head = response_head(parts, framing);
    let write = async {
        socket.write_all(&head).await?;
        socket.write_all(&body).await?;
        socket.shutdown().await
    };
    tokio::time::timeout(stall, write)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading"))?
}

/// Moves a stream's frames to its socket: polled when the stream has something, when the socket can take more
/// after being full, and when the client sends anything or closes.
struct Pump {
    socket: TcpStream,
    body: Body,
    chunked: bool,
    /// Bytes to write, in order; `out[written..]` is still pending, the front one possibly in part (`offset`).
    out: Vec<Bytes>,
    written: usize,
    offset: usize,
    /// The stream has ended; once `out` is written the response is complete.
    ended: bool,
    /// Running while a write cannot make progress.
    stalled: Option<Pin<Box<Sleep>>>,
    stall: Duration,
    ignored_input: usize,
    /// The client's input ended: it is no longer read, and probes tell whether it is still there.
    input_ended: bool,
    /// Running until the second probe is due.
    probe: Option<Pin<Box<Sleep>>>,
    metrics: Arc<ServeMetrics>,
}

impl Pump {
    fn new(
        socket: TcpStream,
        body: Body,
        head: Bytes,
        chunked: bool,
        stall: Duration,
        metrics: Arc<ServeMetrics>,
    ) -> Self {
        Pump {
            socket,
            body,
            chunked,
            out: vec![head],
            written: 0,
            offset: 0,
            ended: false,
            stalled: None,
            stall,
            ignored_input: 0,
            input_ended: false,
            probe: None,
            metrics,
        }
    }

    /// Ready with an error once the client has sent too much or the socket failed (a reset included). The end
    /// of the client's input starts the probes instead.
    fn poll_client_gone(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        if self.input_ended {
            if let Some(probe) = &mut self.probe {
                if probe.as_mut().poll(cx).is_ready() {
                    self.probe = None;
                    self.queue_probe();
                }
            }
            return Poll::Pending;
        }
        let mut sink = [0u8; 512];
        loop {
            if let Err(e) = ready!(self.socket.poll_read_ready(cx)) {
                return Poll::Ready(e);
            }
            match self.socket.try_read(&mut sink) {
                Ok(0) => {
                    // A half-close, or a full close: the probes tell which. The socket stays readable from
                    // here on, so it is not polled for reading again.
                    self.input_ended = true;
                    self.queue_probe();
                    let mut probe = Box::pin(tokio::time::sleep(PROBE_AFTER));
                    let _ = probe.as_mut().poll(cx);
                    self.probe = Some(probe);
                    return Poll::Pending;
                }
                Ok(n) => {
                    // Pipelined requests are not answered (the response says `Connection: close`).
                    self.ignored_input += n;
                    if self.ignored_input > MAX_IGNORED_INPUT {
                        return Poll::Ready(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "the client keeps sending on an event stream",
                        ));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(e),
            }
        }
    }

    /// Queues an SSE comment line, which clients ignore, to learn from the write whether the client is there.
    fn queue_probe(&mut self) {
        if self.ended {
            return;
        }
        self.out.push(Bytes::from_static(if self.chunked {
            b"2\r\n:\n\r\n"
        } else {
            b":\n"
        }));
    }

    /// Takes every frame the stream has ready (up to [`MAX_BATCH`]) and queues them as one chunk.
    fn poll_frames(&mut self, cx: &mut Context<'_>) {
        let size_line = self.out.len();
        if self.chunked {
            self.out.push(Bytes::new()); // replaced by the chunk's size line below
        }
        let mut size = 0;
        let mut frames = 0;
        while frames < MAX_BATCH {
            match Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        if !data.is_empty() {
                            size += data.len();
                            frames += 1;
                            self.out.push(data);
                        }
                    }
                }
                Poll::Ready(Some(Err(_)) | None) => {
                    self.ended = true;
                    break;
                }
                Poll::Pending => break,
            }
        }
        if self.chunked {
            if size == 0 {
                self.out.truncate(size_line);
            } else {
                self.out[size_line] = Bytes::from(format!("{size:x}\r\n"));
                self.out.push(Bytes::from_static(b"\r\n"));
            }
            if self.ended {
                self.out.push(Bytes::from_static(b"0\r\n\r\n"));
            }
        }
    }

    /// Writes what is queued; ready once all of it is out.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.out.len() {
            let mut slices = [IoSlice::new(&[]); MAX_BATCH + 4];
            let pending = &self.out[self.written..];
            let count = pending.len().min(slices.len());
            for (slice, bytes) in slices.iter_mut().zip(pending) {
                *slice = IoSlice::new(bytes);
            }
            slices[0] = IoSlice::new(&pending[0][self.offset..]);
            match Pin::new(&mut self.socket).poll_write_vectored(cx, &slices[..count]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.stalled = None;
                    self.advance(n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return self.poll_stall(cx),
            }
        }
        self.out.clear();
        self.written = 0;
        self.offset = 0;
        Poll::Ready(Ok(()))
    }

    fn advance(&mut self, mut n: usize) {
        while n > 0 {
            let left = self.out[self.written].len() - self.offset;
            if n < left {
                self.offset += n;
                return;
            }
            n -= left;
            self.written += 1;
            self.offset = 0;
        }
        // Skip empty pieces so that `written == out.len()` means done.
        while self
            .out
            .get(self.written)
            .is_some_and(|b| b.len() == self.offset)
        {
            self.written += 1;
            self.offset = 0;
        }
    }

    /// The socket is full: wait, but not longer than the stall period.
    fn poll_stall(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let stall = self.stall;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
        ready!(timer.as_mut().poll(cx));
        self.metrics.stalled.inc();
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client stopped reading",
        )))
    }
}

impl Future for Pump {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if let Poll::Ready(e) = this.poll_client_gone(cx) {
                return Poll::Ready(Err(e));
            }
            ready!(this.poll_write_out(cx))?;
            if this.ended {
                // Half-close after the last byte, so the client reads it all before the connection goes.
                return match Pin::new(&mut this.socket).poll_shutdown(cx) {
                    Poll::Pending => this.poll_stall(cx),
                    ready => ready,
                };
            }
            this.poll_frames(cx);
            if this.out.is_empty() && !this.ended {
                return Poll::Pending;
            }
        }
    }
}

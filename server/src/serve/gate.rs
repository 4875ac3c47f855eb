//! The socket as hyper sees it: requests pass one at a time, each looked at first, and an event-stream request
//! is held back. The connection's first request is looked at the same way before hyper is even started
//! ([`Gate::poll_next_head`]): a connection that opens with a stream never involves hyper at all.
//!
//! Browsers reuse keep-alive connections: a dashboard's `EventSource` usually goes out on a connection that
//! already carried the page or its scripts, so looking only at a connection's first request would leave most real
//! streams inside hyper (and its ~18 KiB per connection). So every request head on a hyper connection is read
//! here before hyper gets it ([`super::head::classify`]); an ordinary request passes, body included (its length
//! is in its head); a stream request is kept, and hyper is told the connection ended. hyper finishes what it was
//! doing and hands the socket back (`poll_without_shutdown`), and the stream is served by [`super::sse_writer`]
//! like one that opened the connection. A request whose end the head cannot tell (a chunked upload, a length
//! written any way but plain digits) turns the gate into a plain pass-through for the rest of the connection:
//! hyper then reads every byte itself, and streams after it stay with hyper. The gate never guesses a boundary.
//!
//! Every wait for a request has a deadline, because a connection that holds a socket while sending nothing
//! useful is how a server is made to refuse everyone: a connection waiting for its next request closes after the
//! idle timeout, and a head must be complete within the header timeout of its first byte. hyper's own header
//! timeout is a backstop behind these. A body's deadline is not kept here but around the body the application
//! reads ([`super::body_deadline`]), because the gate does not frame every body (a chunked one is hyper's).

use super::head::{self, classify, Classified, MAX_HEAD};
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::Request;
use bytes::{Buf, BytesMut};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// How long the gate waits for the client.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// For the first byte of the next request.
    pub idle: Duration,
    /// For a request head to be complete once its first byte came.
    pub header: Duration,
}

/// The error a read fails with when the client did not send in time.
#[derive(Debug)]
pub struct TooSlow;

impl std::fmt::Display for TooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the client sent no request in time")
    }
}

impl std::error::Error for TooSlow {}

/// What the gate lets through next.
enum Pass {
    /// Nothing until the next request head has been read and looked at.
    NextHead,
    /// This many more bytes of the current request (head and body).
    Bytes(u64),
    /// Everything, to the end of the connection.
    All,
    /// hyper reads the end of the connection: a stream request is held (`held`), or the client closed between
    /// requests.
    End,
}

/// Which wait the deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// For the first byte of a request.
    Idle,
    /// For the rest of a head that has begun.
    Head,
}

pub struct Gate<IO> {
    io: IO,
    /// Read from the socket, not yet given to hyper.
    buf: BytesMut,
    pass: Pass,
    held: Option<Box<Request<Body>>>,
    is_stream_path: fn(&str) -> bool,
    timeouts: Timeouts,
    /// The timer of the wait in progress (`armed`); kept between waits so that it is allocated once.
    deadline: Option<Pin<Box<Sleep>>>,
    armed: Option<Wait>,
    /// A read failed with [`TooSlow`]. hyper hides such an error when it comes between requests (it closes the
    /// connection as if the client had), so the gate remembers it to be counted.
    timed_out: bool,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Gate<IO> {
    pub fn new(io: IO, is_stream_path: fn(&str) -> bool, timeouts: Timeouts) -> Self {
        Gate {
            io,
            buf: BytesMut::new(),
            pass: Pass::NextHead,
            held: None,
            is_stream_path,
            timeouts,
            deadline: None,
            armed: None,
            timed_out: false,
        }
    }

    /// Whether the client was too slow for a deadline ([`TooSlow`]).
    pub fn timed_out(&self) -> bool {
        self.timed_out
    }

    /// Whether the client closed the connection between requests (nothing is held and nothing is left to serve).
    pub fn is_closed(&self) -> bool {
        matches!(self.pass, Pass::End) && self.held.is_none()
    }

    /// The stream request held back, if there is one (then the connection is no longer hyper's). Boxed: a
    /// `Request` is ~240 bytes, and a task that keeps one inline is that much bigger for the life of its stream.
    pub fn take_held(&mut self) -> Option<Box<Request<Body>>> {
        self.held.take()
    }

    /// The head of the request just looked at ([`Self::poll_next_head`]), whoever it goes to; `None` when it
    /// cannot be parsed (hyper will answer it).
    pub fn head_parts(&self) -> Option<Parts> {
        match &self.held {
            Some(held) => {
                let mut copy = Request::new(());
                *copy.method_mut() = held.method().clone();
                *copy.uri_mut() = held.uri().clone();
                *copy.version_mut() = held.version();
                *copy.headers_mut() = held.headers().clone();
                Some(copy.into_parts().0)
            }
            None => head::parts(&self.buf),
        }
    }

    /// From here on, hyper reads everything, starting with what the gate has read already.
    pub fn pass_all(&mut self) {
        if !matches!(self.pass, Pass::End) {
            self.pass = Pass::All;
        }
        self.armed = None;
    }

    pub fn into_inner(self) -> IO {
        self.io
    }

    /// Reads the next request head, if one is due, until it is known what to do with it: pass it to hyper
    /// (with its body, or everything from here on), or hold it (a stream). Ready at once when nothing is due;
    /// fails with [`TooSlow`] when the client takes longer than the timeouts allow.
    pub fn poll_next_head(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Pass::NextHead = self.pass {
            match classify(&self.buf, &self.is_stream_path) {
                Classified::Stream(request) => {
                    // Anything the client sent after it (it should send nothing) goes with the connection.
                    self.held = Some(request);
                    self.buf = BytesMut::new();
                    self.pass = Pass::End;
                }
                Classified::Other { len } => self.pass = Pass::Bytes(len),
                Classified::Unknown => self.pass = Pass::All,
                Classified::Incomplete if self.buf.len() >= MAX_HEAD => self.pass = Pass::All,
                Classified::Incomplete => match self.fill(cx) {
                    Poll::Ready(Ok(0)) => {
                        // Between requests that is the normal end; mid-head hyper sees the partial head and the
                        // end, as it would have.
                        self.pass = if self.buf.is_empty() {
                            Pass::End
                        } else {
                            Pass::All
                        };
                    }
                    Poll::Ready(Ok(_)) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {
                        let wait = if self.buf.is_empty() {
                            Wait::Idle
                        } else {
                            Wait::Head
                        };
                        ready!(self.poll_deadline(cx, wait))?;
                        return Poll::Pending;
                    }
                },
            }
        }
        self.armed = None;
        Poll::Ready(Ok(()))
    }

    /// Pending while the wait `wait` is within its time; the first call for a wait starts its timer.
    fn poll_deadline(&mut self, cx: &mut Context<'_>, wait: Wait) -> Poll<io::Result<()>> {
        let now = Instant::now();
        let until = match (self.armed, wait) {
            (Some(armed), wait) if armed == wait => None,
            // A head that begins late in the idle wait still has to end within it.
            (Some(Wait::Idle), Wait::Head) => Some(
                self.deadline
                    .as_ref()
                    .map_or(now, |d| d.deadline())
                    .min(now + self.timeouts.header),
            ),
            (_, Wait::Head) => Some(now + self.timeouts.header),
            (_, Wait::Idle) => Some(now + self.timeouts.idle),
        };
        if let Some(until) = until {
            self.armed = Some(wait);
            match &mut self.deadline {
                Some(deadline) => deadline.as_mut().reset(until),
                None => self.deadline = Some(Box::pin(tokio::time::sleep_until(until))),
            }
        }
        let Some(deadline) = &mut self.deadline else {
            return Poll::Pending;
        };
        ready!(deadline.as_mut().poll(cx));
        self.armed = None;
        self.timed_out = true;
        Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, TooSlow)))
    }

    /// Reads more from the socket into `buf`; ready with 0 at its end.
    fn fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        // A browser's request head is well under 1 KiB; start there and grow only for more.
        if self.buf.capacity() == self.buf.len() {
            self.buf
                .reserve(if self.buf.is_empty() { 1024 } else { 4096 });
        }
        tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.buf)
    }

    /// Gives hyper up to `limit` bytes from `buf`.
    fn give(&mut self, out: &mut ReadBuf<'_>, limit: u64) -> usize {
        let n = self.buf.len().min(out.remaining());
        let n = usize::try_from(limit).map_or(n, |limit| n.min(limit));
        out.put_slice(&self.buf[..n]);
        self.buf.advance(n);
        if self.buf.is_empty() {
            // An idle keep-alive connection should not keep a read buffer of its own besides hyper's.
            self.buf = BytesMut::new();
        }
        n
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for Gate<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match this.pass {
                Pass::End => return Poll::Ready(Ok(())),
                Pass::All if this.buf.is_empty() => {
                    return Pin::new(&mut this.io).poll_read(cx, out)
                }
                Pass::All => {
                    this.give(out, u64::MAX);
                    return Poll::Ready(Ok(()));
                }
                Pass::Bytes(0) => this.pass = Pass::NextHead,
                Pass::Bytes(left) => {
                    if this.buf.is_empty() {
                        match ready!(this.fill(cx)) {
                            // The client closed mid-request: hyper says so.
                            Ok(0) => return Poll::Ready(Ok(())),
                            Ok(_) => {}
                            Err(e) => return Poll::Ready(Err(e)),
                        }
                    }
                    let given = this.give(out, left) as u64;
                    this.pass = Pass::Bytes(left.saturating_sub(given));
                    return Poll::Ready(Ok(()));
                }
                Pass::NextHead => ready!(this.poll_next_head(cx))?,
            }
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Gate<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    fn streams(path: &str) -> bool {
        path == "/events"
    }

    const LONG: Timeouts = Timeouts {
        idle: Duration::from_secs(30),
        header: Duration::from_secs(30),
    };

    /// A gate on the server end of an in-memory connection whose client sends `parts`, 20 ms apart.
    fn gate_for(parts: Vec<String>) -> (Gate<DuplexStream>, tokio::task::JoinHandle<DuplexStream>) {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let client = tokio::spawn(async move {
            for part in parts {
                client.write_all(part.as_bytes()).await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            client
        });
        (Gate::new(server, streams, LONG), client)
    }

    async fn next_head<IO: AsyncRead + AsyncWrite + Unpin>(gate: &mut Gate<IO>) -> io::Result<()> {
        std::future::poll_fn(|cx| gate.poll_next_head(cx)).await
    }

    #[tokio::test]
    async fn a_head_split_over_several_reads_is_assembled() {
        let parts = ["GET /ev", "ents HTTP/1.1\r\nHo", "st: x\r\n", "\r\n"];
        let (mut gate, client) = gate_for(parts.map(str::to_owned).to_vec());
        next_head(&mut gate).await.unwrap();
        let request = gate.take_held().expect("a stream request is held");
        assert_eq!(request.uri().path(), "/events");
        drop(client.await.unwrap());
    }

    #[tokio::test]
    async fn an_oversized_head_goes_to_hyper_with_every_byte_read() {
        let raw = format!(
            "GET /events HTTP/1.1\r\nX-Big: {}\r\n",
            "y".repeat(MAX_HEAD)
        );
        let (mut gate, client) = gate_for(vec![raw.clone()]);
        next_head(&mut gate).await.unwrap();
        assert!(gate.take_held().is_none(), "hyper's");
        let mut passed = vec![0u8; raw.len()];
        gate.read_exact(&mut passed).await.unwrap();
        assert_eq!(passed, raw.as_bytes(), "hyper reads every byte, in order");
        drop(client.await.unwrap());
    }

    #[tokio::test]
    async fn a_client_that_closes_before_any_request_is_simply_gone() {
        let (mut gate, client) = gate_for(Vec::new());
        drop(client.await.unwrap());
        next_head(&mut gate).await.unwrap();
        assert!(gate.is_closed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_sends_nothing_is_given_up_after_the_idle_timeout() {
        let (_client, server) = tokio::io::duplex(1024);
        let timeouts = Timeouts {
            idle: Duration::from_secs(30),
            header: Duration::from_secs(5),
        };
        let mut gate = Gate::new(server, streams, timeouts);
        let started = Instant::now();
        let e = next_head(&mut gate).await.unwrap_err();
        assert!(gate.timed_out(), "{e}");
        assert_eq!(started.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_sent_a_byte_at_a_time_is_cut_at_the_header_timeout() {
        // The slow-head attack: each byte resets no timer, so the head as a whole must arrive in time.
        let (mut client, server) = tokio::io::duplex(1024);
        let timeouts = Timeouts {
            idle: Duration::from_secs(30),
            header: Duration::from_secs(5),
        };
        let mut gate = Gate::new(server, streams, timeouts);
        let trickle = tokio::spawn(async move {
            for byte in b"GET /events HTTP/1.1\r\nHost: slow\r\n\r\n" {
                if client.write_all(&[*byte]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let started = Instant::now();
        let e = next_head(&mut gate).await.unwrap_err();
        assert!(gate.timed_out(), "{e}");
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        assert!(gate.take_held().is_none());
        trickle.abort();
    }
}

//! The socket as hyper sees it: requests pass one at a time, each looked at first, and an event-stream request
//! is held back.
//!
//! Browsers reuse keep-alive connections: a dashboard's `EventSource` usually goes out on a connection that
//! already carried the page or its scripts, so looking only at a connection's first request would leave most real
//! streams inside hyper (and its ~18 KiB per connection). So every request head on a hyper connection is read
//! here before hyper gets it ([`super::head::classify`]); an ordinary request passes, body included (its length
//! is in its head); a stream request is kept, and hyper is told the connection ended. hyper finishes what it was
//! doing and hands the socket back (`poll_without_shutdown`), and the stream is served by [`super::sse_writer`]
//! like one that opened the connection. A request whose end the head cannot tell (a chunked upload) turns the
//! gate into a plain pass-through for the rest of the connection: streams after it stay with hyper.

use super::head::{classify, Classified, MAX_HEAD};
use super::stall::StallGuard;
use axum::body::Body;
use axum::http::Request;
use bytes::{Buf, Bytes, BytesMut};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What the gate lets through next.
enum Pass {
    /// Nothing until the next request head has been read and looked at.
    NextHead,
    /// This many more bytes of the current request (head and body).
    Bytes(u64),
    /// Everything, to the end of the connection.
    All,
    /// A stream request is held: hyper reads the end of the connection.
    Held,
}

pub struct Gate {
    io: StallGuard,
    /// Read from the socket, not yet given to hyper.
    buf: BytesMut,
    pass: Pass,
    held: Option<Box<Request<Body>>>,
    is_stream_path: fn(&str) -> bool,
}

impl Gate {
    /// `read` holds bytes already read from `io` (the start of the first request).
    pub fn new(read: Bytes, io: StallGuard, is_stream_path: fn(&str) -> bool) -> Self {
        Gate {
            io,
            buf: BytesMut::from(&read[..]),
            pass: Pass::NextHead,
            held: None,
            is_stream_path,
        }
    }

    /// The socket, and the stream request held back if there is one.
    pub fn into_parts(self) -> (StallGuard, Option<Box<Request<Body>>>) {
        (self.io, self.held)
    }

    /// Reads more from the socket into `buf`; ready with 0 at its end.
    fn fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(4096);
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

impl AsyncRead for Gate {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match this.pass {
                Pass::Held => return Poll::Ready(Ok(())),
                Pass::All if this.buf.is_empty() => {
                    return Pin::new(&mut this.io).poll_read(cx, out)
                }
                Pass::All => {
                    this.give(out, u64::MAX);
                    return Poll::Ready(Ok(()));
                }
                Pass::Bytes(0) => this.pass = Pass::NextHead,
                Pass::Bytes(left) => {
                    if this.buf.is_empty() && ready!(this.fill(cx))? == 0 {
                        return Poll::Ready(Ok(())); // the client closed mid-request: hyper says so
                    }
                    let given = this.give(out, left);
                    this.pass = Pass::Bytes(left - given as u64);
                    return Poll::Ready(Ok(()));
                }
                Pass::NextHead => match classify(&this.buf, &this.is_stream_path) {
                    Classified::Stream(request) => {
                        // Anything the client sent after it (it should send nothing) goes with the connection.
                        this.held = Some(request);
                        this.buf = BytesMut::new();
                        this.pass = Pass::Held;
                    }
                    Classified::Other { len } => this.pass = Pass::Bytes(len),
                    Classified::Unknown => this.pass = Pass::All,
                    Classified::Incomplete if this.buf.len() >= MAX_HEAD => this.pass = Pass::All,
                    Classified::Incomplete => {
                        if ready!(this.fill(cx))? == 0 {
                            // The client closed: between requests that is the normal end; mid-head hyper sees
                            // the partial head and the end, as it would have.
                            this.pass = Pass::All;
                        }
                    }
                },
            }
        }
    }
}

impl AsyncWrite for Gate {
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

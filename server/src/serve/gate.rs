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
//! like one that opened the connection. A request whose end the head cannot tell (a chunked upload) turns the
//! gate into a plain pass-through for the rest of the connection: streams after it stay with hyper.

use super::head::{classify, Classified, MAX_HEAD};
use super::stall::StallGuard;
use axum::body::Body;
use axum::http::Request;
use bytes::{Buf, BytesMut};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

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

pub struct Gate {
    io: StallGuard,
    /// Read from the socket, not yet given to hyper.
    buf: BytesMut,
    pass: Pass,
    held: Option<Box<Request<Body>>>,
    is_stream_path: fn(&str) -> bool,
}

impl Gate {
    pub fn new(io: StallGuard, is_stream_path: fn(&str) -> bool) -> Self {
        Gate {
            io,
            buf: BytesMut::new(),
            pass: Pass::NextHead,
            held: None,
            is_stream_path,
        }
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

    pub fn into_socket(self) -> TcpStream {
        self.io.into_inner()
    }

    /// Reads the next request head, if one is due, until it is known what to do with it: pass it to hyper
    /// (with its body, or everything from here on), or hold it (a stream). Ready at once when nothing is due.
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
                Classified::Incomplete => {
                    if ready!(self.fill(cx))? == 0 {
                        // Between requests that is the normal end; mid-head hyper sees the partial head and the
                        // end, as it would have.
                        self.pass = if self.buf.is_empty() {
                            Pass::End
                        } else {
                            Pass::All
                        };
                    }
                }
            }
        }
        Poll::Ready(Ok(()))
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

impl AsyncRead for Gate {
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
                    if this.buf.is_empty() && ready!(this.fill(cx))? == 0 {
                        return Poll::Ready(Ok(())); // the client closed mid-request: hyper says so
                    }
                    let given = this.give(out, left);
                    this.pass = Pass::Bytes(left - given as u64);
                    return Poll::Ready(Ok(()));
                }
                Pass::NextHead => ready!(this.poll_next_head(cx))?,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn streams(path: &str) -> bool {
        path == "/events"
    }

    /// A gate on the server end of a loopback connection whose client sends `parts`, 20 ms apart.
    async fn gate_for(parts: Vec<String>) -> (Gate, tokio::task::JoinHandle<TcpStream>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut socket = TcpStream::connect(addr).await.unwrap();
            for part in parts {
                socket.write_all(part.as_bytes()).await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            socket
        });
        let (server, _) = listener.accept().await.unwrap();
        let io = StallGuard::new(server, Duration::from_secs(5), Arc::new(Metrics::default()));
        (Gate::new(io, streams), client)
    }

    #[tokio::test]
    async fn a_head_split_over_several_reads_is_assembled() {
        let parts = ["GET /ev", "ents HTTP/1.1\r\nHo", "st: x\r\n", "\r\n"];
        let (mut gate, client) = gate_for(parts.map(str::to_owned).to_vec()).await;
        std::future::poll_fn(|cx| gate.poll_next_head(cx))
            .await
            .unwrap();
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
        let (mut gate, client) = gate_for(vec![raw.clone()]).await;
        std::future::poll_fn(|cx| gate.poll_next_head(cx))
            .await
            .unwrap();
        assert!(gate.take_held().is_none(), "hyper's");
        let mut passed = vec![0u8; raw.len()];
        gate.read_exact(&mut passed).await.unwrap();
        assert_eq!(passed, raw.as_bytes(), "hyper reads every byte, in order");
        drop(client.await.unwrap());
    }

    #[tokio::test]
    async fn a_client_that_closes_before_any_request_is_simply_gone() {
        let (mut gate, client) = gate_for(Vec::new()).await;
        drop(client.await.unwrap());
        std::future::poll_fn(|cx| gate.poll_next_head(cx))
            .await
            .unwrap();
        assert!(gate.is_closed());
    }
}

//! Connection-level protection against clients that stop reading, for connections served by hyper (event streams
//! held by [`super::sse_writer`] have the same rule built in).
//!
//! A stream notices that its subscriber fell a whole queue behind when it is polled for its next event — but
//! hyper stops polling a response body once the socket and its own write buffer are full. A client that stops
//! reading altogether (a frozen tab, a dead network path that still holds the connection) would then never be
//! told it lagged: it would keep its connection, its subscriber slot and graceful shutdown waiting forever.
//! So every socket hyper serves is wrapped: a write that can make no progress for a whole keep-alive period fails,
//! hyper closes the connection, the stream's guards are dropped, and the client — if it is still there —
//! reconnects and resumes by `Last-Event-ID`.

use super::metrics::ServeMetrics;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

/// A socket whose writes fail once they have been blocked for `stall` without any progress.
pub struct StallGuard {
    io: TcpStream,
    stall: Duration,
    /// Running while writes are blocked; cleared by any progress.
    timer: Option<Pin<Box<Sleep>>>,
    metrics: Arc<ServeMetrics>,
}

impl StallGuard {
    pub fn new(io: TcpStream, stall: Duration, metrics: Arc<ServeMetrics>) -> Self {
        StallGuard {
            io,
            stall,
            timer: None,
            metrics,
        }
    }

    /// The socket itself, once hyper is done with it.
    pub fn into_inner(self) -> TcpStream {
        self.io
    }

    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if result.is_ready() {
            self.timer = None;
            return result;
        }
        let stall = self.stall;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.timer = None;
        self.metrics.stalled.inc();
        tracing::debug!(stall = ?self.stall, "client stopped reading; closing its connection");
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client stopped reading",
        )))
    }
}

impl AsyncRead for StallGuard {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl AsyncWrite for StallGuard {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write(cx, buf);
        this.watch(cx, result)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.watch(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_flush(cx);
        this.watch(cx, result)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

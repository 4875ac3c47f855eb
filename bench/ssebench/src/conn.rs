//! A client connection on loopback: a socket bound to a chosen source address and connected, and the response
//! head read off it. The subscriptions, the publishers and the soak's clients all open their sockets here, so
//! each says only what it does with the connection.

use crate::http1::{parse_head, Body, Framing, Head};
use std::net::SocketAddr;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

/// Connects to `to` from `from` (an address of this machine, port 0: the kernel picks the port).
pub async fn connect(to: SocketAddr, from: SocketAddr) -> Result<TcpStream, String> {
    let socket = if to.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| format!("socket: {e}"))?;
    // Ports of connections closed by earlier runs may still be in TIME_WAIT; let the kernel reuse them.
    let _ = socket.set_reuseaddr(true);
    socket.bind(from).map_err(|e| format!("bind {from}: {e}"))?;
    socket
        .connect(to)
        .await
        .map_err(|e| format!("connect {from} -> {to}: {e}"))
}

/// Why no response head could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadError {
    /// The connection ended or failed first.
    Closed(String),
    /// What arrived is not an HTTP/1 response head (or not within the size allowed).
    Protocol(String),
}

/// A response head read off a connection, with whatever body bytes came in the same reads.
#[derive(Debug)]
pub struct ReadHead {
    pub head: Head,
    /// `buf[..head_len]` is the head, `buf[head_len..filled]` the first body bytes.
    pub buf: Vec<u8>,
    pub head_len: usize,
    pub filled: usize,
}

impl ReadHead {
    /// The body bytes that arrived with the head.
    pub fn body_start(&self) -> &[u8] {
        &self.buf[self.head_len..self.filled]
    }

    /// The status line, for messages (`HTTP/1.1 429 Too Many Requests`).
    pub fn status_line(&self) -> String {
        let head = String::from_utf8_lossy(&self.buf[..self.head_len]);
        head.lines().next().unwrap_or("").to_owned()
    }
}

/// Reads a response head from `stream` into a buffer of `initial` bytes that doubles as needed up to `max`.
pub async fn read_head(
    stream: &mut TcpStream,
    initial: usize,
    max: usize,
) -> Result<ReadHead, HeadError> {
    let mut buf = vec![0u8; initial.clamp(1, max.max(1))];
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            if buf.len() >= max {
                return Err(HeadError::Protocol(format!(
                    "no end of the response head in {max} bytes"
                )));
            }
            buf.resize((buf.len() * 2).min(max), 0);
        }
        let n = stream
            .read(&mut buf[filled..])
            .await
            .map_err(|e| HeadError::Closed(format!("reading the response head: {e}")))?;
        if n == 0 {
            return Err(HeadError::Closed(
                "connection closed before a response head".to_owned(),
            ));
        }
        filled += n;
        if let Some((head, head_len)) = parse_head(&buf[..filled]).map_err(HeadError::Protocol)? {
            return Ok(ReadHead {
                head,
                buf,
                head_len,
                filled,
            });
        }
    }
}

/// Reads a response body framed as `framing` to its end, handing its bytes to `sink`: first `start` (the bytes
/// that came with the head), then what the connection brings. `Ok(true)` when the framing said the body is
/// complete, `Ok(false)` when the connection ended first (or the body runs to its end).
pub async fn read_body(
    stream: &mut TcpStream,
    framing: Framing,
    start: &[u8],
    mut sink: impl FnMut(&[u8]),
) -> Result<bool, String> {
    let mut body = Body::new(framing);
    let mut done = body.feed(start, &mut sink)?;
    let mut buf = [0u8; 1024];
    while !done {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("reading the response body: {e}"))?;
        if n == 0 {
            break;
        }
        done = body.feed(&buf[..n], &mut sink)?;
    }
    Ok(done)
}

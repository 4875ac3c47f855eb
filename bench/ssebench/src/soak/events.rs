//! An event stream read one event at a time: the response head, then the body through `http1`'s framing
//! decoder and the `sse` crate's parser, as the load run's subscriptions read theirs. The soak's normal client
//! follows its stream with it, and the resume storm reads the first event of each of its streams.

use super::Soak;
use crate::http1::Body;
use sse::{Parser, SseEvent};
use std::collections::VecDeque;
use std::net::SocketAddr;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// What a stream request was answered.
pub enum Opened {
    Stream(Box<EventStream>),
    /// Any status but 200.
    Refused(u16),
}

pub struct EventStream {
    stream: TcpStream,
    body: Body,
    parser: Parser,
    buf: Vec<u8>,
    /// Events parsed but not yet handed out.
    ready: VecDeque<SseEvent>,
    /// The body's framing says it is complete.
    ended: bool,
}

impl EventStream {
    /// Connects from `from`, sends `request` (a `GET`, from `http1::get_request`) and reads the response head.
    pub async fn open(soak: &Soak, from: SocketAddr, request: &[u8]) -> Result<Opened, String> {
        let (stream, read) = soak.send(from, request).await?;
        if read.head.status != 200 {
            return Ok(Opened::Refused(read.head.status));
        }
        let mut events = EventStream {
            stream,
            body: Body::new(read.head.framing),
            parser: Parser::default(),
            buf: vec![0; 4096],
            ready: VecDeque::new(),
            ended: false,
        };
        events.ended = decode(
            &mut events.body,
            &mut events.parser,
            &mut events.ready,
            read.body_start(),
        )?;
        Ok(Opened::Stream(Box::new(events)))
    }

    /// The next event; `None` once the server has ended the response or closed the connection.
    pub async fn next(&mut self) -> Result<Option<SseEvent>, String> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Ok(Some(event));
            }
            if self.ended {
                return Ok(None);
            }
            let n = self
                .stream
                .read(&mut self.buf)
                .await
                .map_err(|e| format!("reading the stream: {e}"))?;
            if n == 0 {
                return Ok(None);
            }
            let EventStream {
                body,
                parser,
                buf,
                ready,
                ended,
                ..
            } = self;
            *ended = decode(body, parser, ready, &buf[..n])?;
        }
    }
}

/// Runs `bytes` through the body's framing and the parser; `true` once the body is complete.
fn decode(
    body: &mut Body,
    parser: &mut Parser,
    ready: &mut VecDeque<SseEvent>,
    bytes: &[u8],
) -> Result<bool, String> {
    body.feed(bytes, |chunk| ready.extend(parser.feed(chunk)))
}

//! One subscription: a socket bound to a loopback source address, a `GET`, a response head, then the body run
//! through the HTTP framing decoder and the `sse` crate's WHATWG-exact parser until the run stops it.
//!
//! Kept small on purpose: one task, one 4 KiB read buffer, the parser's own state and one bit per expected
//! message. Nothing is allocated per event beyond what the parser itself builds.

use crate::conn::{self, HeadError, ReadHead};
use crate::extract::{extract, unix_micros};
use crate::histogram;
use crate::http1::Body;
use crate::target::{source_addr, Target};
use sse::Parser;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Semaphore};

const READ_BUFFER: usize = 4096;
/// A response head larger than this is not an SSE server's.
const MAX_HEAD: usize = 64 * 1024;

/// What every subscription shares.
pub struct Ctx {
    /// Where subscriptions go, with each one's request: subscription `i` takes `targets[i % len]`.
    pub targets: Vec<(Target, Vec<u8>)>,
    pub source_addrs: usize,
    /// Connections being opened at once: a burst of thousands of SYNs would overflow the server's accept queue.
    pub connecting: Semaphore,
    pub connect_timeout: Duration,
    /// Messages this run publishes (0 when idle): sequence numbers are `0..messages`.
    pub messages: u64,
    pub seq_first: bool,
    /// Send times this run can produce (Unix µs, inclusive).
    pub window: (u64, u64),
}

/// Why a subscription did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Failure {
    Connect,
    Timeout,
    Status,
    NotEventStream,
    Closed,
    Protocol,
}

impl Failure {
    pub fn name(self) -> &'static str {
        match self {
            Failure::Connect => "connect",
            Failure::Timeout => "timeout",
            Failure::Status => "status",
            Failure::NotEventStream => "not_event_stream",
            Failure::Closed => "closed",
            Failure::Protocol => "protocol",
        }
    }
}

/// Sent once per subscription when it has opened (response head read) or failed to.
pub enum Opened {
    Yes { micros: u64 },
    No { failure: Failure, detail: String },
}

/// What one subscription saw, returned when it ends.
#[derive(Debug, Default)]
pub struct Report {
    /// Distinct messages of this run received.
    pub unique: u64,
    pub duplicates: u64,
    /// Events that carry no stamp of this run (other traffic on the stream).
    pub other_events: u64,
    /// The stream ended before the run stopped it, and why.
    pub ended_early: Option<String>,
}

/// Opens subscription `i`, says so on `opened`, then reads events until `stop` fires (its sender is dropped) or
/// the stream ends. A oneshot per subscription rather than one shared token: polling it is a lock-free atomic
/// check, where tens of thousands of tasks polling one shared `Notify` would all take the same lock per event.
pub async fn run(
    i: usize,
    ctx: std::sync::Arc<Ctx>,
    opened: mpsc::UnboundedSender<Opened>,
    stop: oneshot::Receiver<()>,
) -> Report {
    let started = Instant::now();
    let connection = {
        let Ok(_permit) = ctx.connecting.acquire().await else {
            return Report::default();
        };
        tokio::time::timeout(ctx.connect_timeout, open(i, &ctx)).await
    };
    let open = match connection {
        Ok(Ok(open)) => open,
        Ok(Err((failure, detail))) => {
            let _ = opened.send(Opened::No { failure, detail });
            return Report::default();
        }
        Err(_) => {
            let _ = opened.send(Opened::No {
                failure: Failure::Timeout,
                detail: format!("no response head within {:?}", ctx.connect_timeout),
            });
            return Report::default();
        }
    };
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let _ = opened.send(Opened::Yes { micros });
    drop(opened);
    // Body bytes that came with the head go to the front of the buffer, to be decoded first.
    let ReadHead {
        head,
        mut buf,
        head_len,
        filled,
    } = open.head;
    buf.copy_within(head_len..filled, 0);
    read_events(
        open.stream,
        &ctx,
        Body::new(head.framing),
        buf,
        filled - head_len,
        stop,
    )
    .await
}

/// A subscription whose response head has been read.
struct Open {
    stream: TcpStream,
    head: ReadHead,
}

/// Connects from this subscription's source address, sends the request and reads the response head.
async fn open(i: usize, ctx: &Ctx) -> Result<Open, (Failure, String)> {
    let (target, request) = &ctx.targets[i % ctx.targets.len().max(1)];
    let to = target.addr;
    let from = source_addr(&to, i, ctx.source_addrs);
    let mut stream = conn::connect(to, from)
        .await
        .map_err(|e| (Failure::Connect, e))?;
    stream
        .write_all(request)
        .await
        .map_err(|e| (Failure::Connect, format!("send request: {e}")))?;
    let head = conn::read_head(&mut stream, READ_BUFFER, MAX_HEAD)
        .await
        .map_err(|e| match e {
            HeadError::Closed(e) => (Failure::Closed, e),
            HeadError::Protocol(e) => (Failure::Protocol, e),
        })?;
    if head.head.status != 200 {
        return Err((Failure::Status, head.status_line()));
    }
    if !head.head.is_event_stream() {
        return Err((
            Failure::NotEventStream,
            format!("Content-Type {:?}", head.head.content_type),
        ));
    }
    Ok(Open { stream, head })
}

/// Per-subscription bookkeeping while events arrive.
struct Tally<'a> {
    ctx: &'a Ctx,
    /// One bit per message of the run: received yet?
    seen: Vec<u64>,
    report: Report,
}

impl Tally<'_> {
    fn event(&mut self, data: &str, now: u64) {
        let Some((seq, sent)) = extract(data, self.ctx.seq_first, self.ctx.window) else {
            self.report.other_events += 1;
            return;
        };
        if seq >= self.ctx.messages {
            self.report.other_events += 1;
            return;
        }
        let (word, bit) = ((seq / 64) as usize, 1u64 << (seq % 64));
        if self.seen[word] & bit != 0 {
            self.report.duplicates += 1;
            return;
        }
        self.seen[word] |= bit;
        self.report.unique += 1;
        histogram::record_delivery(now.saturating_sub(sent));
    }
}

/// Reads and tallies events; `buf[..filled]` holds body bytes already read.
async fn read_events(
    mut stream: TcpStream,
    ctx: &Ctx,
    mut body: Body,
    mut buf: Vec<u8>,
    mut filled: usize,
    mut stop: oneshot::Receiver<()>,
) -> Report {
    let mut parser = Parser::default();
    let mut tally = Tally {
        ctx,
        seen: vec![0; usize::try_from(ctx.messages.div_ceil(64)).unwrap_or(0)],
        report: Report::default(),
    };
    loop {
        if filled > 0 {
            let now = unix_micros();
            let result = body.feed(&buf[..filled], |bytes| {
                for event in parser.feed(bytes) {
                    tally.event(&event.data, now);
                }
            });
            match result {
                Ok(false) => {}
                Ok(true) => {
                    tally.report.ended_early = Some("the server ended the response".to_owned());
                    break;
                }
                Err(e) => {
                    tally.report.ended_early = Some(format!("bad body framing: {e}"));
                    break;
                }
            }
        }
        filled = tokio::select! {
            biased;
            _ = &mut stop => break,
            read = stream.read(&mut buf) => match read {
                Ok(0) => {
                    tally.report.ended_early = Some("the server closed the connection".to_owned());
                    break;
                }
                Ok(n) => n,
                Err(e) => {
                    tally.report.ended_early = Some(format!("read error: {e}"));
                    break;
                }
            },
        };
    }
    tally.report
}

//! The one SSE client of the tests: a response read over real TCP through the `sse` crate's spec-exact parser
//! (the one the load tool uses too), so a framing bug cannot hide behind a lenient client. Every read is
//! bounded.

use super::WAIT;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use sse::{Parser, SseEvent};
use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

type Body = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// How much of the start of a stream is kept verbatim, for checks on the exact bytes.
const PREFIX_KEPT: usize = 64 * 1024;

/// Opens SSE streams on one server; cheap to clone into spawned tasks.
#[derive(Clone)]
pub struct SseClient {
    pub client: reqwest::Client,
    /// `http://host:port`, without a trailing slash.
    pub base: String,
}

impl SseClient {
    /// Opens `path`, sending `Last-Event-ID` when given, and checks the response is an event stream.
    pub async fn open(&self, path: &str, last_event_id: Option<&str>) -> SseStream {
        SseStream::open(&self.client, &format!("{}{path}", self.base), last_event_id).await
    }
}

/// An open SSE response, read through [`sse::Parser`].
pub struct SseStream {
    /// What the stream was opened as (its path or URL), for failure messages.
    what: String,
    pub headers: reqwest::header::HeaderMap,
    body: Body,
    parser: Parser,
    pending: VecDeque<SseEvent>,
    prefix: Vec<u8>,
    /// `Some` once the body ended: `Ok` for a clean end, `Err` with the reason otherwise.
    ended: Option<Result<(), String>>,
}

impl SseStream {
    /// GETs `url` as an event stream, sending `Last-Event-ID` when given; fails if no response headers come within
    /// [`WAIT`] or the response is not an event stream.
    pub async fn open(
        client: &reqwest::Client,
        url: &str,
        last_event_id: Option<&str>,
    ) -> SseStream {
        let mut request = client.get(url).header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = tokio::time::timeout(WAIT, request.send())
            .await
            .unwrap_or_else(|_| panic!("GET {url}: no response headers within {WAIT:?}"))
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        SseStream::new(url, response)
    }

    /// Wraps a response after checking it is an event stream with the headers every SSE route must send.
    pub fn new(what: &str, response: reqwest::Response) -> Self {
        assert_eq!(response.status(), 200, "GET {what} opens a stream");
        let headers = response.headers().clone();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(
            header("content-type").as_deref(),
            Some("text/event-stream; charset=utf-8"),
            "GET {what}: content type"
        );
        assert_eq!(
            header("cache-control").as_deref(),
            Some("no-cache"),
            "GET {what}: cache-control"
        );
        assert_eq!(
            header("x-accel-buffering").as_deref(),
            Some("no"),
            "GET {what}: x-accel-buffering"
        );
        assert_eq!(
            header("content-encoding"),
            None,
            "GET {what}: an event stream must not be compressed"
        );
        SseStream {
            what: what.to_owned(),
            headers,
            body: Box::pin(response.bytes_stream()),
            parser: Parser::default(),
            pending: VecDeque::new(),
            prefix: Vec::new(),
            ended: None,
        }
    }

    /// Reads one more chunk into the parser; false once the body has ended.
    async fn read_chunk(&mut self) -> bool {
        if self.ended.is_some() {
            return false;
        }
        match self.body.next().await {
            Some(Ok(chunk)) => {
                let keep = PREFIX_KEPT
                    .saturating_sub(self.prefix.len())
                    .min(chunk.len());
                self.prefix.extend_from_slice(&chunk[..keep]);
                self.pending.extend(self.parser.feed(&chunk));
                true
            }
            Some(Err(e)) => {
                self.ended = Some(Err(e.to_string()));
                false
            }
            None => {
                self.ended = Some(Ok(()));
                false
            }
        }
    }

    /// The next event, or `None` if the stream ended first. `ping` heartbeats (the dashboard stream's visible
    /// keep-alive, which carries no id) are skipped. Fails if neither happens within `within`.
    pub async fn next_event_or_end(&mut self, within: Duration) -> Option<SseEvent> {
        self.next_or_end(within, true).await
    }

    /// The next event including `ping` heartbeats; fails if the stream ends or nothing comes within `within`.
    pub async fn next_event_with_pings(&mut self, within: Duration) -> SseEvent {
        match self.next_or_end(within, false).await {
            Some(event) => event,
            None => panic!(
                "{}: the stream ended ({:?}) while an event was expected",
                self.what, self.ended
            ),
        }
    }

    async fn next_or_end(&mut self, within: Duration, skip_pings: bool) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(event) = self.pending.pop_front() {
                if skip_pings && event.event == "ping" {
                    continue;
                }
                return Some(event);
            }
            let read = tokio::time::timeout_at(deadline, self.read_chunk()).await;
            match read {
                Ok(true) => {}
                Ok(false) => return None,
                Err(_) => panic!("{}: no event and no end within {within:?}", self.what),
            }
        }
    }

    /// The next event; fails if the stream ends or nothing comes within [`WAIT`].
    pub async fn next_event(&mut self) -> SseEvent {
        self.next_event_within(WAIT).await
    }

    /// The next event; fails if the stream ends or nothing comes within `within`.
    pub async fn next_event_within(&mut self, within: Duration) -> SseEvent {
        match self.next_event_or_end(within).await {
            Some(event) => event,
            None => panic!(
                "{}: the stream ended ({:?}) while an event was expected",
                self.what, self.ended
            ),
        }
    }

    /// Reads events until one satisfies `wanted`, returning it; fails after [`WAIT`] naming `what`.
    pub async fn wait_for(&mut self, what: &str, wanted: impl Fn(&SseEvent) -> bool) -> SseEvent {
        let mut events = self.collect_until(what, wanted).await;
        events
            .pop()
            .expect("collect_until ends with the wanted event")
    }

    /// Reads events until one satisfies `wanted`, returning all of them, that one last; fails after [`WAIT`]
    /// naming `what`.
    pub async fn collect_until(
        &mut self,
        what: &str,
        wanted: impl Fn(&SseEvent) -> bool,
    ) -> Vec<SseEvent> {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let next = tokio::time::timeout(left, self.next_event_or_end(WAIT)).await;
            match next {
                Ok(Some(event)) => {
                    let done = wanted(&event);
                    seen.push(event);
                    if done {
                        return seen;
                    }
                }
                Ok(None) => panic!(
                    "{}: the stream ended before {what}; saw {seen:?}",
                    self.what
                ),
                Err(_) => panic!("{}: no {what} within {WAIT:?}; saw {seen:?}", self.what),
            }
        }
    }

    /// Reads until the stream ends, returning what came before the end; fails if it does not end within
    /// `within`.
    pub async fn until_end(&mut self, within: Duration) -> Vec<SseEvent> {
        let deadline = tokio::time::Instant::now() + within;
        let mut events = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.next_event_or_end(within)).await {
                Ok(Some(event)) => events.push(event),
                Ok(None) => return events,
                Err(_) => panic!(
                    "{}: still open after {within:?}; read {events:?}",
                    self.what
                ),
            }
        }
    }

    /// Reads (without consuming events) until `done` holds for this stream; fails after `within`.
    pub async fn read_until(&mut self, what: &str, within: Duration, done: impl Fn(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + within;
        while !done(self) {
            match tokio::time::timeout_at(deadline, self.read_chunk()).await {
                Ok(true) => {}
                Ok(false) => panic!("{}: the stream ended before {what}", self.what),
                Err(_) => panic!("{}: no {what} within {within:?}", self.what),
            }
        }
    }

    /// How the body ended, once it has: `Ok` for a clean end of the chunked body.
    pub fn ended(&self) -> Option<&Result<(), String>> {
        self.ended.as_ref()
    }

    pub fn parser(&self) -> &Parser {
        &self.parser
    }

    /// The first bytes of the body, verbatim.
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }
}

/// Parses JSON event data, naming the event when it is not JSON.
pub fn json(event: &SseEvent) -> serde_json::Value {
    serde_json::from_str(&event.data)
        .unwrap_or_else(|e| panic!("event {event:?} does not carry JSON: {e}"))
}

/// An event's id as a number.
pub fn seq(event: &SseEvent) -> u64 {
    event
        .id
        .parse()
        .unwrap_or_else(|_| panic!("event {event:?} has no numeric id"))
}

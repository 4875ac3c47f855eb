//! The gate cross-checked against hyper: the same bytes, valid and adversarial, are served once by hyper alone
//! and once by the direct path (the gate, hyper behind it, a stream request held), both recording every request
//! they end up with. For every request hyper accepts, the direct path must see the same request at the same place
//! in the sequence (so the gate put every boundary where hyper did), and a request the gate holds as a stream
//! must be exactly the one hyper parsed (method, target, version, every header in order). After a held stream the
//! direct path reads nothing more (the stream owns the connection), so only what comes before it is compared.
//! Where the gate cannot tell where a request ends it must pass the rest to hyper, which then sees everything.

use super::admission::{Admission, Caps};
use super::{gated, run_hyper, Connections, Limits, Mode, Shared};
use axum::body::Body;
use axum::http::{Request, Version};
use axum::Router;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio_util::sync::CancellationToken;

/// One request as the application received it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    method: String,
    uri: String,
    version: Version,
    headers: Vec<(String, Vec<u8>)>,
    /// `None` when the body could not be read whole (hyper found it cut short or malformed).
    body: Option<Vec<u8>>,
}

impl Seen {
    fn of<B>(request: &Request<B>, body: Option<Vec<u8>>) -> Self {
        Seen {
            method: request.method().to_string(),
            uri: request.uri().to_string(),
            version: request.version(),
            headers: request
                .headers()
                .iter()
                .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
                .collect(),
            body,
        }
    }
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// The requests recorded so far. A panic while recording fails its own case; the record stays readable.
fn recorded(log: &Log) -> MutexGuard<'_, Vec<Seen>> {
    log.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Settings as the server's, with an application that records each request and answers 200.
fn shared(log: &Log) -> Shared {
    let shared_log = log.clone();
    let app = Router::new().fallback(move |request: Request<Body>| {
        let log = shared_log.clone();
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.ok();
            let seen = Seen::of(&Request::from_parts(parts, ()), body.map(|b| b.to_vec()));
            recorded(&log).push(seen);
            "ok"
        }
    });
    let limits = Limits {
        caps: Caps {
            total: 10,
            reserved: 1,
            per_client: 0,
        },
        idle_timeout: Duration::from_secs(30),
        header_timeout: Duration::from_secs(30),
        body_timeout: Duration::from_secs(30),
        max_head: 64 * 1024,
        stall: Duration::from_secs(30),
    };
    Shared {
        admission: Admission::new(limits.caps),
        c: Connections {
            app,
            mode: Mode::Direct,
            limits,
            metrics: Arc::default(),
            shutdown: CancellationToken::new(),
            is_stream_path: |path| path == "/events",
            is_privileged: Arc::new(|_| false),
        },
    }
}

/// A client that sends `bytes`, closes its sending side and reads everything the server answers.
fn client(bytes: Vec<u8>) -> (DuplexStream, tokio::task::JoinHandle<()>) {
    let (mut client, server) = tokio::io::duplex(1 << 20);
    let task = tokio::spawn(async move {
        let _ = client.write_all(&bytes).await;
        let _ = client.shutdown().await;
        let mut sink = Vec::new();
        let _ = client.read_to_end(&mut sink).await;
    });
    (server, task)
}

/// The requests hyper alone makes of `bytes`.
async fn by_hyper(bytes: &[u8]) -> Vec<Seen> {
    let log = Log::default();
    let s = shared(&log);
    let (io, client) = client(bytes.to_vec());
    // Half-close as behind the gate: the client's end of input must not cut short what it sent before it.
    let served = run_hyper(io, &s, true, None).await;
    drop(served);
    let _ = client.await;
    let seen = recorded(&log).clone();
    seen
}

/// The requests the direct path makes of `bytes`: those hyper served behind the gate, then the stream request
/// held, if any.
async fn by_gate(bytes: &[u8]) -> (Vec<Seen>, bool) {
    let log = Log::default();
    let s = shared(&log);
    let (io, client) = client(bytes.to_vec());
    let (mut ticket, _) = s.admission.admit(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let held = gated(io, &s, &mut ticket, None, None).await;
    let mut seen = recorded(&log).clone();
    let held = held.map(|(io, request)| {
        drop(io);
        seen.push(Seen::of(&request, Some(Vec::new())));
    });
    let _ = client.await;
    (seen, held.is_some())
}

/// Serves `bytes` both ways and checks they agree.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| TestCaseError::fail(format!("cannot start a runtime: {e}")))?;
    let (hyper, (gate, held)) = runtime.block_on(async {
        let hyper = by_hyper(bytes).await;
        (hyper, by_gate(bytes).await)
    });
    let shown = String::from_utf8_lossy(bytes);
    prop_assert!(
        gate.len() <= hyper.len(),
        "the direct path saw requests hyper did not accept\n{shown:?}\nhyper: {hyper:#?}\ngate: {gate:#?}"
    );
    prop_assert_eq!(
        &gate[..],
        &hyper[..gate.len()],
        "the direct path disagrees with hyper on {:?}",
        shown
    );
    if !held {
        prop_assert_eq!(
            gate.len(),
            hyper.len(),
            "without a stream held, the direct path must serve everything hyper does: {:?}",
            shown
        );
    }
    Ok(())
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just("GET".to_owned()),
        2 => Just("POST".to_owned()),
        1 => prop::sample::select(vec!["HEAD", "PUT", "get", "OPTIONS", "CONNECT", "G@T", "", "GET GET"])
            .prop_map(str::to_owned),
    ]
}

fn target() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just("/events".to_owned()),
        3 => prop::sample::select(vec![
            "/events?topics=kitchen,message",
            "/",
            "/message",
            "/eventsX",
            "/events/",
            "http://hearth/events",
            "http://hearth:3000/events?x=1",
            "*",
            "/ev%20ents",
            "/events#fragment",
            "//events",
            "/events?a=1#b",
            "hearth:3000",
            "/ev ents",
            "/événements",
            "/events\x7f",
        ])
        .prop_map(str::to_owned),
    ]
}

fn version() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just("HTTP/1.1".to_owned()),
        2 => Just("HTTP/1.0".to_owned()),
        1 => prop::sample::select(vec!["HTTP/1.2", "HTTP/2.0", "http/1.1", "HTTP/1.1 ", "HTTP/1", ""])
            .prop_map(str::to_owned),
    ]
}

/// Content-Length values: plain, and every odd way of writing one.
fn length() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0u32..40).prop_map(|n| n.to_string()),
        2 => Just("0".to_owned()),
        2 => prop::sample::select(vec![
            "0", "+5", "-5", " 5", "5 ", "05", "5,5", "5, 5", "5, 6", "", "0x5", "5.0", "٥",
            "18446744073709551615", "18446744073709551614", "18446744073709551613", "18446744073709551616",
            "99999999999999999999999", "0, 0",
        ])
        .prop_map(str::to_owned),
    ]
}

/// A header line (without its line end), or several, valid or not.
fn header() -> impl Strategy<Value = String> {
    let value = "[ -~\t\u{80}-\u{ff}]{0,12}";
    prop_oneof![
        3 => Just("Host: hearth".to_owned()),
        4 => length().prop_map(|v| format!("Content-Length: {v}")),
        1 => length().prop_map(|v| format!("content-length:{v}")),
        1 => length().prop_map(|v| format!("Content-Length : {v}")),
        2 => prop::sample::select(vec![
            "chunked", "gzip, chunked", "chunked, gzip", "identity", "Chunked", " chunked", "chunked ", "",
        ])
        .prop_map(|v| format!("Transfer-Encoding: {v}")),
        1 => prop::sample::select(vec!["close", "keep-alive", "Keep-Alive, Upgrade", "upgrade", "close, close"])
            .prop_map(|v| format!("Connection: {v}")),
        1 => Just("Upgrade: websocket".to_owned()),
        1 => Just("Expect: 100-continue".to_owned()),
        2 => Just("Last-Event-ID: 7".to_owned()),
        1 => Just("Accept: text/event-stream".to_owned()),
        // obs-fold: a header continued on the next line.
        1 => Just("X-Folded: one\r\n two".to_owned()),
        1 => Just("Content-Length: 5\r\n 5".to_owned()),
        1 => ("[A-Za-z0-9!#$%&'*+.^_`|~-]{1,10}", value).prop_map(|(n, v)| format!("{n}: {v}")),
        1 => ("[ -~]{0,10}", value).prop_map(|(n, v)| format!("{n}:{v}")),
    ]
}

/// One request: mostly anything ([`any_request`]), often a nearly plain stream request, where a wrong detail is
/// most likely to slip past the gate.
fn request() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![3 => any_request(), 2 => stream_request()]
}

/// `GET /events` with well-formed headers drawn from those that decide whether the gate may hold it.
fn stream_request() -> impl Strategy<Value = Vec<u8>> {
    let header = prop_oneof![
        Just("Host: hearth".to_owned()),
        Just("Content-Length: 0".to_owned()),
        Just("content-length: 0".to_owned()),
        length().prop_map(|v| format!("Content-Length: {v}")),
        Just("Last-Event-ID: 7".to_owned()),
        Just("Accept: text/event-stream".to_owned()),
        Just("Connection: close".to_owned()),
        Just("Connection: keep-alive".to_owned()),
        Just("Transfer-Encoding: chunked".to_owned()),
        Just("Upgrade: websocket".to_owned()),
        Just("Expect: 100-continue".to_owned()),
    ];
    (
        prop::sample::select(vec!["HTTP/1.1", "HTTP/1.0"]),
        prop::collection::vec(header, 0..5),
        prop_oneof![4 => Just(Vec::new()), 1 => Just(b"abc".to_vec())],
    )
        .prop_map(|(version, headers, body)| {
            let mut out = format!("GET /events {version}\r\n").into_bytes();
            for header in headers {
                out.extend_from_slice(header.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&body);
            out
        })
}

/// Any request: its line, headers (CRLF or bare LF line ends), the blank line, and a body that may or may not
/// match what the headers say.
fn any_request() -> impl Strategy<Value = Vec<u8>> {
    (
        method(),
        target(),
        version(),
        prop::collection::vec((header(), prop::bool::weighted(0.9)), 0..6),
        prop_oneof![
            3 => Just(Vec::new()),
            2 => prop::collection::vec(any::<u8>(), 0..30),
            1 => Just(b"5\r\nhello\r\n0\r\n\r\n".to_vec()),
            1 => Just(b"hello".to_vec()),
        ],
    )
        .prop_map(|(method, target, version, headers, body)| {
            let mut out = format!("{method} {target} {version}\r\n").into_bytes();
            for (header, crlf) in headers {
                out.extend_from_slice(header.as_bytes());
                out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&body);
            out
        })
}

/// A connection's input: leading blank lines, pipelined requests, maybe cut short, maybe followed by junk.
fn connection_input() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::bool::weighted(0.1),
        prop::collection::vec(request(), 1..5),
        prop::option::weighted(0.15, any::<prop::sample::Index>()),
        prop::option::weighted(0.1, prop::collection::vec(any::<u8>(), 0..20)),
    )
        .prop_map(|(blank, requests, cut, junk)| {
            let mut out = if blank { b"\r\n".to_vec() } else { Vec::new() };
            for request in requests {
                out.extend_from_slice(&request);
            }
            if let Some(cut) = cut {
                out.truncate(cut.index(out.len() + 1));
            }
            out.extend(junk.unwrap_or_default());
            out
        })
}

proptest! {
    // 512 cases by default (about a second); `PROPTEST_CASES=20000` for a longer hunt.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(512),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_gate_and_hyper_agree_on_every_request_hyper_accepts(input in connection_input()) {
        check(&input)?;
    }
}

/// Inputs found or feared, checked every run whatever the generator draws.
#[test]
fn the_gate_and_hyper_agree_on_known_hard_cases() {
    let cases: &[&[u8]] = &[
        b"GET /events HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
        b"GET /events HTTP/1.1\r\nContent-Length: 00\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabcGET /events HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabcGET /events HTTP/1.1\r\n\r\n",
        b"POST /message HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\nGET /events HTTP/1.1\r\n\r\n",
        b"POST /message HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /events HTTP/1.1\r\n\r\n",
        b"POST /message HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\nGET /events HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nX-Folded: a\r\n b\r\n\r\nGET /events HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.0\r\n\r\nGET /events HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /events HTTP/1.0\r\n\r\n",
        b"GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET /events HTTP/1.1\r\n\r\n",
        b"\r\n\r\nGET /events HTTP/1.1\r\n\r\n",
        b"GET http://hearth/events?x=1 HTTP/1.1\r\n\r\n",
        b"GET /events#x HTTP/1.1\r\n\r\n",
        b"GET /events HTTP/1.1\nHost: a\n\n",
        b"GET /events HTTP/1.1\r\nHost: \xff\xfe\r\n\r\n",
        b"GET /events HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
        b"GET /events HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab\r\nGET /events HTTP/1.1\r\n\r\n",
    ];
    for case in cases {
        if let Err(e) = check(case) {
            panic!("{e}");
        }
    }
}

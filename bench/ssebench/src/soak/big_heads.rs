//! Request heads far larger than any browser sends (390 KiB of headers, never finished), over and over from a
//! few workers: the server must answer each with `431` (or close it) once the head passes its size cap, rather
//! than buffer it while it grows, so its memory stays flat however many arrive.

use super::{attacker_source, Soak};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinSet;

const WORKERS: usize = 20;
const HEAD_BYTES: usize = 390 * 1024;
/// Longer than the server's header deadline (10 s by default): a head still open after it was not cut.
const ANSWER_WAIT: Duration = Duration::from_secs(20);
const PAUSE: Duration = Duration::from_millis(500);

pub async fn run(soak: Arc<Soak>) {
    let head = Arc::new(oversized_head(&soak.target("/healthz").host_header));
    let mut workers = JoinSet::new();
    for w in 0..WORKERS {
        workers.spawn(worker(soak.clone(), w, head.clone()));
    }
    while workers.join_next().await.is_some() {}
}

fn oversized_head(host: &str) -> Vec<u8> {
    let mut head = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n");
    let mut i = 0;
    while head.len() < HEAD_BYTES {
        head.push_str(&format!("X-Filler-{i}: {}\r\n", "y".repeat(1000)));
        i += 1;
    }
    head.into_bytes()
}

async fn worker(soak: Arc<Soak>, w: usize, head: Arc<Vec<u8>>) {
    let mut i = w;
    while soak.running() {
        i += WORKERS;
        let figure = one(&soak, i, &head).await;
        soak.figures.one(&figure);
        tokio::time::sleep(PAUSE).await;
    }
}

/// Sends the head (the server may close the connection before it is all sent) and reads the answer:
/// `big_head_431` (or another status, `big_head_503` when it came on probation), `big_head_closed_unanswered`,
/// or `big_head_held` when the connection was still open after [`ANSWER_WAIT`].
async fn one(soak: &Soak, i: usize, head: &Arc<Vec<u8>>) -> String {
    let Ok(stream) = soak.connect(attacker_source(i)).await else {
        return "big_head_refused_at_connect".to_owned();
    };
    let (mut reader, mut writer) = stream.into_split();
    let head = head.clone();
    let sending = tokio::spawn(async move {
        let _ = writer.write_all(&head).await;
        // Kept open (not finished, not closed) until the read side is done.
        writer
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(ANSWER_WAIT, async {
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) if answer.len() < 4096 => answer.extend_from_slice(&buf[..n]),
                Ok(_) => {}
            }
        }
    })
    .await;
    sending.abort();
    if read.is_err() {
        return "big_head_held".to_owned();
    }
    let status = answer
        .strip_prefix(b"HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .map(|code| String::from_utf8_lossy(code).into_owned());
    match status {
        Some(code) => format!("big_head_{code}"),
        None => "big_head_closed_unanswered".to_owned(),
    }
}

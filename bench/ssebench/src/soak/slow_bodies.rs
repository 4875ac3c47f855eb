//! Request bodies sent one byte every two seconds, half with a `Content-Length`, half chunked, to the login (the
//! one route that reads a body from anyone): each holds its connection only until the server's body deadline
//! cuts it (a `408`, or the connection ending). Unlike the other loads these run until cut, past the end of the
//! load if need be, for at most the body deadline and a margin: a body the server lets run longer is counted
//! `slow_body_not_cut`, and the longest any was held is `slow_body_held_max_s`.

use super::slow_heads::cut_while_waiting;
use super::{attacker_source, Soak};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::task::JoinSet;
use tokio::time::Instant;

const BYTE_EVERY: Duration = Duration::from_secs(2);
/// Past the server's body deadline, how long a body may still be held before it counts as not cut.
const MARGIN: Duration = Duration::from_secs(15);

pub async fn run(soak: Arc<Soak>, n: usize, body_timeout: Duration) {
    let mut bodies = JoinSet::new();
    for i in 0..n {
        bodies.spawn(one(soak.clone(), i, body_timeout + MARGIN));
    }
    while bodies.join_next().await.is_some() {}
}

async fn one(soak: Arc<Soak>, i: usize, give_up: Duration) {
    let Ok(mut stream) = soak.connect(attacker_source(i)).await else {
        soak.figures.one("slow_body_refused_at_connect");
        return;
    };
    let target = soak.target("/api/session");
    let (framing, byte): (&str, &[u8]) = if i.is_multiple_of(2) {
        ("Content-Length: 100000", b" ")
    } else {
        ("Transfer-Encoding: chunked", b"1\r\n \r\n")
    };
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n{framing}\r\n\r\n",
        target.path, target.host_header
    );
    let started = Instant::now();
    if stream.write_all(head.as_bytes()).await.is_err() {
        soak.figures.one("slow_body_refused_at_connect");
        return;
    }
    while started.elapsed() < give_up {
        if cut_while_waiting(&mut stream, BYTE_EVERY).await || stream.write_all(byte).await.is_err()
        {
            soak.figures.one("slow_body_cut");
            soak.figures
                .max("slow_body_held_max_s", started.elapsed().as_secs());
            return;
        }
    }
    soak.figures.one("slow_body_not_cut");
}

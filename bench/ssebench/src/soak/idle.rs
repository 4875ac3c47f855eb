//! Connections that never send a request: each takes a descriptor and a slot until the server's idle deadline
//! closes it. At the end the soak counts how many the server closed (a read that sees the end of the stream).

use super::{attacker_source, Soak};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// How long to look at each held connection for the server's close when the load stops.
const CLOSED_CHECK: Duration = Duration::from_millis(50);

pub async fn run(soak: Arc<Soak>, n: usize) {
    let mut held = Vec::with_capacity(n);
    for i in 0..n {
        match soak.connect(attacker_source(i)).await {
            Ok(stream) => {
                held.push(stream);
                soak.figures.one("idle_opened");
            }
            Err(_) => soak.figures.one("idle_refused_at_connect"),
        }
    }
    tokio::time::sleep_until(soak.until).await;
    // All at once: one after the other, the last ones would be looked at seconds after the load stopped.
    let mut checks = tokio::task::JoinSet::new();
    for mut stream in held {
        checks.spawn(async move {
            let mut byte = [0u8; 1];
            let read = tokio::time::timeout(CLOSED_CHECK, stream.read(&mut byte)).await;
            matches!(read, Ok(Ok(0)))
        });
    }
    let mut closed = 0;
    while let Some(check) = checks.join_next().await {
        closed += u64::from(matches!(check, Ok(true)));
    }
    soak.figures.add("idle_closed_by_server", closed);
}

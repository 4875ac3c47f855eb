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
    let mut closed = 0;
    for mut stream in held {
        let mut byte = [0u8; 1];
        if let Ok(Ok(0)) = tokio::time::timeout(CLOSED_CHECK, stream.read(&mut byte)).await {
            closed += 1;
        }
    }
    soak.figures.add("idle_closed_by_server", closed);
}

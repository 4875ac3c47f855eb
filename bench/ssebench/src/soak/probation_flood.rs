//! A flood of silent connections, ~170 a second from eight addresses of its own (127.0.0.20-27), during the middle
//! half of the run: they take every regular place the server has (`--max-connections`, which `scripts/soak.sh`
//! sets within the soak's reach), and then every newcomer is on probation, where the silent ones push each other
//! out. Meanwhile the owner ([`super::owner`]) and the normal client must still be heard: their requests carry the
//! token or a session. At the end of the phase the flood lets go of what it still holds.

use super::{loopback, Soak};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

const PER_SECOND: u64 = 170;
const ADDRESSES: usize = 8;

pub async fn run(soak: Arc<Soak>, seconds: u64) {
    let length = Duration::from_secs(seconds);
    let start = soak.until - length + length / 4;
    let end = soak.until - length / 4;
    tokio::time::sleep_until(start).await;
    let mut every = tokio::time::interval(Duration::from_micros(1_000_000 / PER_SECOND));
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut held = JoinSet::new();
    let mut i = 0;
    while Instant::now() < end {
        every.tick().await;
        i += 1;
        held.spawn(hold(soak.clone(), i, end));
    }
    while held.join_next().await.is_some() {}
}

/// One silent connection, held until the server closes it or the phase ends.
async fn hold(soak: Arc<Soak>, i: usize, end: Instant) {
    let from = loopback(20 + (i % ADDRESSES) as u8);
    let Ok(mut stream) = soak.connect(from).await else {
        soak.figures.one("probation_flood_refused_at_connect");
        return;
    };
    soak.figures.one("probation_flood_connected");
    let mut sink = [0u8; 512];
    let closed = tokio::time::timeout_at(end, async {
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
    let figure = match closed {
        Ok(()) => "probation_flood_closed_by_server",
        Err(_) => "probation_flood_held_to_the_end",
    };
    soak.figures.one(figure);
}

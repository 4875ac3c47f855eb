//! Connections that send a request head one byte every few seconds (slowloris): the server's header deadline
//! must cut each one long before the head is complete. A cut shows as the end of the connection (or a write
//! that fails), watched for between bytes.

use super::{attacker_source, Soak};
use crate::http1::get_request;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

const BYTE_EVERY: Duration = Duration::from_secs(5);

pub async fn run(soak: Arc<Soak>, n: usize) {
    let mut heads = JoinSet::new();
    for i in 0..n {
        heads.spawn(one(soak.clone(), i));
    }
    while heads.join_next().await.is_some() {}
}

async fn one(soak: Arc<Soak>, i: usize) {
    let Ok(mut stream) = soak.connect(attacker_source(i)).await else {
        soak.figures.one("slow_refused_at_connect");
        return;
    };
    let head = get_request(&soak.target("/api/snapshot"), &[]);
    for byte in head {
        if !soak.running() {
            break;
        }
        if stream.write_all(&[byte]).await.is_err()
            || cut_while_waiting(&mut stream, BYTE_EVERY).await
        {
            soak.figures.one("slow_cut_by_server");
            return;
        }
    }
    // Whole, or still going when the load stopped: either way not cut.
    soak.figures.one("slow_head_completed");
}

/// Waits `pause`; `true` if the server ended the connection meanwhile (whatever it sent before that, a `408`
/// say, is read and dropped).
pub(super) async fn cut_while_waiting(stream: &mut TcpStream, pause: Duration) -> bool {
    let pause = tokio::time::sleep(pause);
    tokio::pin!(pause);
    let mut sink = [0u8; 512];
    loop {
        tokio::select! {
            _ = &mut pause => return false,
            read = stream.read(&mut sink) => match read {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            },
        }
    }
}

//! An open/close storm on `/live-users`: a viewer stream opened, its first bytes read, and closed, ~50 times a
//! second. Every one changes the viewer count; none of it may reach the disk.

use super::{attacker_source, Soak};
use crate::http1::get_request;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const READ_TIMEOUT: Duration = Duration::from_secs(2);
const PAUSE: Duration = Duration::from_millis(20);

pub async fn run(soak: Arc<Soak>) {
    let request = get_request(&soak.target("/live-users"), &[]);
    let mut i = 0;
    while soak.running() {
        i += 1;
        let opened = async {
            let mut stream = soak.connect(attacker_source(i)).await?;
            stream
                .write_all(&request)
                .await
                .map_err(|e| e.to_string())?;
            let mut first = [0u8; 256];
            match tokio::time::timeout(READ_TIMEOUT, stream.read(&mut first)).await {
                Ok(Ok(n)) => Ok(first[..n].starts_with(b"HTTP/1.1 200 ")),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("nothing within the read timeout".to_owned()),
            }
        };
        match opened.await {
            Ok(true) => soak.figures.one("storm_opened"),
            Ok(false) => soak.figures.one("storm_refused"),
            Err(_) => soak.figures.one("storm_failed"),
        }
        tokio::time::sleep(PAUSE).await;
    }
}

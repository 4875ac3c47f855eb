//! Token guessing: logins with wrong tokens, ~20 a second, from the hostile addresses. The server answers 401
//! a few times a minute per address, then 429 for the rest of that minute, right token or not.

use super::request::post_json;
use super::{attacker_source, Soak};
use crate::extract::unix_micros;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const PAUSE: Duration = Duration::from_millis(50);

pub async fn run(soak: Arc<Soak>) {
    let mut i = 0;
    while soak.running() {
        i += 1;
        // Never the token: a guess is a word the server has never issued.
        let body = json!({ "token": format!("guess-{}-{i}", unix_micros()) }).to_string();
        match post_json(
            &soak,
            attacker_source(i),
            "/api/session",
            &[],
            body.as_bytes(),
        )
        .await
        {
            Ok(answer) => soak.figures.one(&format!("guess_{}", answer.status)),
            Err(_) => soak.figures.one("guess_failed"),
        }
        tokio::time::sleep(PAUSE).await;
    }
}

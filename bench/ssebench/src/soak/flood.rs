//! A write flood: a few writers with the token post 200-byte messages as fast as the server answers, a new
//! connection each. Each accepted message is durable before its 201, so this is what fills the database.

use super::request::post_json;
use super::{bearer, flood_source, Soak};
use serde_json::json;
use std::sync::Arc;
use tokio::task::JoinSet;

const WRITERS: usize = 4;

pub async fn run(soak: Arc<Soak>) {
    let mut writers = JoinSet::new();
    for w in 0..WRITERS {
        writers.spawn(writer(soak.clone(), w));
    }
    while writers.join_next().await.is_some() {}
}

async fn writer(soak: Arc<Soak>, w: usize) {
    let headers = [bearer(&soak.token)];
    let padding = "x".repeat(200);
    let mut k = 0u64;
    while soak.running() {
        k += 1;
        let body = json!({ "message": format!("flood {w}-{k} {padding}") }).to_string();
        match post_json(
            &soak,
            flood_source(w),
            "/message",
            &headers,
            body.as_bytes(),
        )
        .await
        {
            Ok(answer) => soak.figures.one(&format!("flood_{}", answer.status)),
            Err(_) => soak.figures.one("flood_failed"),
        }
    }
}

//! One request on a connection of its own, closed after the answer, read whole (status, session cookie and a
//! bounded body): how the soak's writers, guessers, the owner and the normal client's posts talk to the server,
//! as browsers and scripts that open a connection per request do. The bytes are `http1`'s, as in the load run.

use super::Soak;
use crate::conn;
use crate::http1::{get_request, post_head};
use std::net::SocketAddr;
use std::time::Duration;

/// A request and its answer together: past this, the attempt has failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The answers here are small JSON bodies; anything longer is cut (only the status and an id are read).
const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub set_cookie: Option<String>,
    pub body: Vec<u8>,
}

/// `POST`s `body` (JSON) to `path` from `from`, with `headers` and `Connection: close`.
pub async fn post_json(
    soak: &Soak,
    from: SocketAddr,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Response, String> {
    let mut all = headers.to_vec();
    all.push(("Connection".to_owned(), "close".to_owned()));
    let mut request = Vec::with_capacity(256 + body.len());
    post_head(&mut request, &soak.target(path), &all, body.len());
    request.extend_from_slice(body);
    tokio::time::timeout(REQUEST_TIMEOUT, exchange(soak, from, &request))
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {REQUEST_TIMEOUT:?}")))
}

/// `GET`s `path` from `from`, with `headers` and `Connection: close`.
pub async fn get(
    soak: &Soak,
    from: SocketAddr,
    path: &str,
    headers: &[(String, String)],
) -> Result<Response, String> {
    let mut all = headers.to_vec();
    all.push(("Connection".to_owned(), "close".to_owned()));
    let request = get_request(&soak.target(path), &all);
    tokio::time::timeout(REQUEST_TIMEOUT, exchange(soak, from, &request))
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {REQUEST_TIMEOUT:?}")))
}

async fn exchange(soak: &Soak, from: SocketAddr, request: &[u8]) -> Result<Response, String> {
    let (mut stream, read) = soak.send(from, request).await?;
    let mut body = Vec::new();
    conn::read_body(&mut stream, read.head.framing, read.body_start(), |bytes| {
        let room = MAX_BODY.saturating_sub(body.len());
        body.extend_from_slice(&bytes[..bytes.len().min(room)]);
    })
    .await?;
    Ok(Response {
        status: read.head.status,
        set_cookie: read.head.set_cookie,
        body,
    })
}

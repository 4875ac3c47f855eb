//! The client that must not notice the attack: it logs in with the token, follows `/events?topics=message`
//! (resuming by `Last-Event-ID` whenever its stream drops), posts a message every half second with its session
//! cookie as the dashboard does, and at the end checks through its [`Ledger`] that every message it posted
//! arrived exactly once. Anything it is refused is a failure of the soak.

use super::events::{EventStream, Opened};
use super::ledger::Ledger;
use super::request::post_json;
use super::{normal_source, Soak};
use crate::http1::get_request;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::time::{sleep, Instant};

const POST_EVERY: Duration = Duration::from_millis(500);
/// How long after the load stops the client waits for its last messages to arrive.
const LAST_MESSAGES_WAIT: Duration = Duration::from_secs(10);

/// What the normal client reports.
#[derive(Debug, Default)]
pub struct Outcome {
    pub posted: usize,
    pub lost: Vec<u64>,
    pub duplicates: u64,
    /// Everything it was refused (`post 503`, `stream 429`, `login 401`, ...), in order.
    pub refused: Vec<String>,
}

impl Outcome {
    /// It posted, lost nothing, saw nothing twice and was refused nothing.
    pub fn passed(&self) -> bool {
        self.posted > 0 && self.lost.is_empty() && self.duplicates == 0 && self.refused.is_empty()
    }
}

/// What the follower and the poster share.
#[derive(Default)]
struct Shared {
    ledger: Ledger,
    refused: Vec<String>,
}

type Locked = Arc<Mutex<Shared>>;

fn lock(shared: &Locked) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

pub async fn run(soak: Arc<Soak>) -> Outcome {
    let shared: Locked = Arc::default();
    let cookie = match log_in(&soak).await {
        Ok(cookie) => cookie,
        Err(refusal) => {
            return Outcome {
                refused: vec![refusal],
                ..Outcome::default()
            }
        }
    };
    let follower = tokio::spawn(follow(soak.clone(), cookie.clone(), shared.clone()));
    sleep(Duration::from_secs(1)).await;
    let headers = [
        ("Cookie".to_owned(), cookie),
        ("Origin".to_owned(), format!("http://{}", soak.server)),
    ];
    let mut k = 0u64;
    while soak.running() {
        k += 1;
        let body = json!({ "message": format!("normal {k}") }).to_string();
        let answer = post_json(
            &soak,
            normal_source(),
            "/message",
            &headers,
            body.as_bytes(),
        )
        .await;
        match answer {
            Ok(r) if r.status == 201 => match event_id(&r.body) {
                Ok(id) => lock(&shared).ledger.posted(id),
                Err(e) => lock(&shared).refused.push(format!("post 201 but {e}")),
            },
            Ok(r) => lock(&shared).refused.push(format!("post {}", r.status)),
            Err(e) => lock(&shared).refused.push(format!("post failed: {e}")),
        }
        sleep(POST_EVERY).await;
    }
    let wait_until = Instant::now() + LAST_MESSAGES_WAIT;
    while Instant::now() < wait_until && !lock(&shared).ledger.complete() {
        sleep(Duration::from_millis(200)).await;
    }
    follower.abort();
    let shared = lock(&shared);
    Outcome {
        posted: shared.ledger.posted_count(),
        lost: shared.ledger.lost(),
        duplicates: shared.ledger.duplicates(),
        refused: shared.refused.clone(),
    }
}

/// Logs in with the token; the session cookie (`name=value`), or what was refused.
async fn log_in(soak: &Soak) -> Result<String, String> {
    let body = json!({ "token": soak.token }).to_string();
    let answer = post_json(soak, normal_source(), "/api/session", &[], body.as_bytes())
        .await
        .map_err(|e| format!("login failed: {e}"))?;
    if answer.status != 200 {
        return Err(format!("login {}", answer.status));
    }
    answer
        .set_cookie
        .as_deref()
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
        .ok_or_else(|| "login 200 without a session cookie".to_owned())
}

/// Follows the message stream until aborted, reconnecting with the last id it saw whenever the stream drops.
async fn follow(soak: Arc<Soak>, cookie: String, shared: Locked) {
    let mut last_id = String::new();
    loop {
        let mut headers = vec![("Cookie".to_owned(), cookie.clone())];
        if !last_id.is_empty() {
            headers.push(("Last-Event-ID".to_owned(), last_id.clone()));
        }
        let request = get_request(&soak.target("/events?topics=message"), &headers);
        let mut stream = match EventStream::open(&soak, normal_source(), &request).await {
            Ok(Opened::Stream(stream)) => stream,
            Ok(Opened::Refused(status)) => {
                lock(&shared).refused.push(format!("stream {status}"));
                sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(_) => {
                soak.figures.one("normal_stream_dropped");
                sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        soak.figures.one("normal_stream_opened");
        // Read until the stream ends, fails, or carries a message that is not one.
        loop {
            let Ok(Some(event)) = stream.next().await else {
                break;
            };
            if !event.id.is_empty() {
                last_id.clone_from(&event.id);
            }
            if event.event == "message" {
                let Ok(id) = event_id(event.data.as_bytes()) else {
                    break;
                };
                lock(&shared).ledger.delivered(id);
            }
        }
        soak.figures.one("normal_stream_dropped");
        sleep(Duration::from_millis(200)).await;
    }
}

/// The `id` of a message (an answer to a post, or a `message` event's data): its event id.
pub fn event_id(json: &[u8]) -> Result<u64, String> {
    let value: Value =
        serde_json::from_slice(json).map_err(|e| format!("not a JSON message ({e})"))?;
    value
        .get("id")
        .and_then(Value::as_u64)
        .ok_or_else(|| "a message without a numeric id".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_known_by_its_event_id() {
        let event = br#"{"id":1763700000000123,"title":"New message!","message":"normal 1","timestamp":"x"}"#;
        assert_eq!(event_id(event), Ok(1_763_700_000_000_123));
        assert!(event_id(b"{\"message\":\"no id\"}").is_err());
        assert!(event_id(b"{\"id\":\"7\"}").is_err(), "ids are numbers");
        assert!(event_id(b"not json").is_err());
    }

    #[test]
    fn the_normal_client_passes_only_with_nothing_lost_twice_or_refused() {
        let good = Outcome {
            posted: 3,
            ..Outcome::default()
        };
        assert!(good.passed());
        assert!(!Outcome::default().passed(), "nothing posted");
        let lost = Outcome {
            lost: vec![5],
            ..Outcome {
                posted: 3,
                ..Outcome::default()
            }
        };
        assert!(!lost.passed());
        let twice = Outcome {
            duplicates: 1,
            ..Outcome {
                posted: 3,
                ..Outcome::default()
            }
        };
        assert!(!twice.passed());
        let refused = Outcome {
            refused: vec!["post 503".to_owned()],
            ..Outcome {
                posted: 3,
                ..Outcome::default()
            }
        };
        assert!(!refused.passed());
    }
}

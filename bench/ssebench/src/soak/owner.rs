//! The owner: a request with the token on a connection of its own every half second, from an address of its own
//! (127.0.0.14), for the whole run, the probation flood included. Every one must be answered 200; anything else
//! is a failure of the soak.

use super::request::get;
use super::{bearer, loopback, Soak};
use std::sync::Arc;
use std::time::Duration;

const EVERY: Duration = Duration::from_millis(500);

/// What the owner reports.
#[derive(Debug, Default)]
pub struct Outcome {
    pub asked: usize,
    pub answered: usize,
    /// Everything it was refused (`snapshot 503`, `snapshot failed: ...`), in order.
    pub refused: Vec<String>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.asked > 0 && self.refused.is_empty()
    }
}

pub async fn run(soak: Arc<Soak>) -> Outcome {
    let mut outcome = Outcome::default();
    let headers = [bearer(&soak.token)];
    while soak.running() {
        outcome.asked += 1;
        match get(&soak, loopback(14), "/api/snapshot", &headers).await {
            Ok(r) if r.status == 200 => outcome.answered += 1,
            Ok(r) => outcome.refused.push(format!("snapshot {}", r.status)),
            Err(e) => outcome.refused.push(format!("snapshot failed: {e}")),
        }
        tokio::time::sleep(EVERY).await;
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_passes_only_when_asked_and_never_refused() {
        let answered = Outcome {
            asked: 2,
            answered: 2,
            refused: Vec::new(),
        };
        assert!(answered.passed());
        assert!(!Outcome::default().passed(), "never asked");
        let refused = Outcome {
            asked: 2,
            answered: 1,
            refused: vec!["snapshot 503".to_owned()],
        };
        assert!(!refused.passed());
    }
}

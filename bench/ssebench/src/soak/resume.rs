//! A resume storm: `/events` with a `Last-Event-ID` from the start of the soak, ~20 times a second, each read to
//! its first event and closed. While that id is in the replay buffer the server resumes from it; once the flood
//! has pushed it out, it must answer `reset` with the snapshot, never the whole history.

use super::events::{EventStream, Opened};
use super::{attacker_source, Soak};
use crate::http1::get_request;
use std::sync::Arc;
use std::time::Duration;

/// From connecting to the first event.
const FIRST_EVENT_TIMEOUT: Duration = Duration::from_secs(2);
const PAUSE: Duration = Duration::from_millis(50);

pub async fn run(soak: Arc<Soak>, old_id: String) {
    let headers = [("Last-Event-ID".to_owned(), old_id)];
    let request = get_request(&soak.target("/events"), &headers);
    let mut i = 0;
    while soak.running() {
        i += 1;
        let answer =
            tokio::time::timeout(FIRST_EVENT_TIMEOUT, first_event(&soak, i, &request)).await;
        let figure = match answer {
            Ok(Ok(figure)) => figure,
            Ok(Err(_)) | Err(_) => "resume_failed".to_owned(),
        };
        soak.figures.one(&figure);
        tokio::time::sleep(PAUSE).await;
    }
}

/// `resume_reset` when the first event is a `reset`, `resume_other` for any other event (the resume was served
/// from the buffer), `resume_<status>` when the stream was refused.
async fn first_event(soak: &Soak, i: usize, request: &[u8]) -> Result<String, String> {
    match EventStream::open(soak, attacker_source(i), request).await? {
        Opened::Refused(status) => Ok(format!("resume_{status}")),
        Opened::Stream(mut stream) => match stream.next().await? {
            Some(event) if event.event == "reset" => Ok("resume_reset".to_owned()),
            Some(_) => Ok("resume_other".to_owned()),
            None => Err("the stream ended before its first event".to_owned()),
        },
    }
}

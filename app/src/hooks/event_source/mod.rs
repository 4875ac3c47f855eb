//! `use_event_source`: a typed, SSR-safe, self-healing subscription to a Server-Sent Events stream.
//!
//! What it adds over a bare `EventSource` (and over leptos-use's hook; see the README's comparison):
//! - it owns reconnection: exponential backoff with jitter, reset after a successful open, limited or infinite,
//!   with `on_failed`; the ready state says *when* the next try is;
//! - it resumes where it stopped: reconnecting itself, it passes the last event id as `?lastEventId=`, because a
//!   fresh `EventSource` does not send the `Last-Event-ID` header;
//! - it notices a silent stream (`stale_after`): no event for that long is a dead connection, even when the
//!   browser still believes it is open (a laptop lid closed, a proxy that swallowed the FIN);
//! - it pauses while the tab is hidden and reconnects at once when the tab is shown or the network comes back;
//! - it hands every event to `on_message` synchronously, so a reducer sees each one even when signals coalesce;
//! - on the server it is inert: closed, empty, no browser API touched.
//!
//! ```ignore
//! let sse = use_event_source(
//!     "/events",
//!     UseEventSourceOptions::default().events(["kitchen", "viewers"]),
//! );
//! let viewers = move || sse.latest("viewers").get().and_then(|m| m.json::<u64>().ok());
//! view! { <span>{move || sse.ready_state.get().label()}</span> <span>{viewers}</span> }
//! ```

#[cfg(feature = "hydrate")]
mod browser;
mod policy;

pub use policy::{Backoff, ReconnectPolicy};

use leptos::prelude::*;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The connection's state, finer than `EventSource.readyState`: it tells a first connect from a reconnect and
/// says when the next attempt is due.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReadyState {
    /// The first connection attempt is under way.
    Connecting,
    Open,
    /// The connection dropped; attempt number `attempt` starts at `retry_at_ms` (milliseconds since the epoch),
    /// or is under way when that time has passed.
    Reconnecting {
        attempt: u32,
        retry_at_ms: f64,
    },
    /// Closed by `close()`, by the policy giving up, or because this is the server.
    Closed,
}

impl ReadyState {
    /// One word for a badge: `connecting`, `live`, `reconnecting` or `offline`.
    pub fn label(self) -> &'static str {
        match self {
            ReadyState::Connecting => "connecting",
            ReadyState::Open => "live",
            ReadyState::Reconnecting { .. } => "reconnecting",
            ReadyState::Closed => "offline",
        }
    }
}

/// One event as received.
#[derive(Debug, Clone, PartialEq)]
pub struct SseMessage {
    /// The event name (`message` when the stream gave none).
    pub event: String,
    pub data: String,
    /// The stream's last event id after this event.
    pub last_event_id: String,
}

/// What went wrong, as a value: the page shows it, nothing panics.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SseError {
    #[error("the connection dropped")]
    Dropped,
    #[error("no event for {0:?}: the stream went silent")]
    Stale(Duration),
    #[error("gave up reconnecting after {0} attempts")]
    GaveUp(u32),
    #[error("could not decode {event:?}: {reason}")]
    Decode { event: String, reason: String },
    #[error("the browser refused to open the stream: {0}")]
    Open(String),
}

impl SseMessage {
    /// Decodes the data as JSON into a shared contract type.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, SseError> {
        serde_json::from_str(&self.data).map_err(|e| SseError::Decode {
            event: self.event.clone(),
            reason: e.to_string(),
        })
    }
}

type MessageCallback = Arc<dyn Fn(&SseMessage) + Send + Sync>;
type FailedCallback = Arc<dyn Fn() + Send + Sync>;

/// Options for [`use_event_source`]; build with the chained setters.
#[derive(Clone)]
pub struct UseEventSourceOptions {
    /// Named events to listen to, besides the unnamed `message`.
    pub events: Vec<String>,
    pub reconnect: ReconnectPolicy,
    /// Send cookies cross-origin (`EventSource`'s `withCredentials`).
    pub with_credentials: bool,
    /// Connect as soon as the component is mounted (otherwise on `open()`).
    pub immediate: bool,
    /// No event for this long means the connection is dead: drop it and reconnect.
    pub stale_after: Option<Duration>,
    /// Close while the tab is hidden; reconnect (resuming) as soon as it is visible again.
    pub pause_when_hidden: bool,
    /// Called for every event, in order, before any signal changes.
    pub on_message: Option<MessageCallback>,
    /// Called once when the reconnect policy gives up.
    pub on_failed: Option<FailedCallback>,
    /// Query parameter that carries the last event id when the hook reconnects itself; `None` disables it.
    pub resume_param: Option<String>,
}

impl Default for UseEventSourceOptions {
    fn default() -> Self {
        UseEventSourceOptions {
            events: Vec::new(),
            reconnect: ReconnectPolicy::default(),
            with_credentials: false,
            immediate: true,
            stale_after: None,
            pause_when_hidden: true,
            on_message: None,
            on_failed: None,
            resume_param: Some("lastEventId".to_owned()),
        }
    }
}

impl UseEventSourceOptions {
    pub fn events<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.events = names.into_iter().map(Into::into).collect();
        self
    }
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = policy;
        self
    }
    pub fn with_credentials(mut self, yes: bool) -> Self {
        self.with_credentials = yes;
        self
    }
    pub fn immediate(mut self, yes: bool) -> Self {
        self.immediate = yes;
        self
    }
    pub fn stale_after(mut self, after: Duration) -> Self {
        self.stale_after = Some(after);
        self
    }
    pub fn pause_when_hidden(mut self, yes: bool) -> Self {
        self.pause_when_hidden = yes;
        self
    }
    pub fn on_message(mut self, f: impl Fn(&SseMessage) + Send + Sync + 'static) -> Self {
        self.on_message = Some(Arc::new(f));
        self
    }
    pub fn on_failed(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_failed = Some(Arc::new(f));
        self
    }
    pub fn resume_param(mut self, name: Option<&str>) -> Self {
        self.resume_param = name.map(str::to_owned);
        self
    }
}

/// What [`use_event_source`] returns: signals to read, and `open` / `close` to steer.
#[derive(Clone, Copy)]
pub struct UseEventSource {
    pub ready_state: Signal<ReadyState>,
    /// The latest event of any name.
    pub message: Signal<Option<SseMessage>>,
    pub error: Signal<Option<SseError>>,
    pub last_event_id: Signal<Option<String>>,
    latest: RwSignal<HashMap<String, SseMessage>>,
    control: StoredValue<Control>,
}

#[derive(Clone)]
struct Control {
    open: Arc<dyn Fn() + Send + Sync>,
    close: Arc<dyn Fn() + Send + Sync>,
}

impl UseEventSource {
    /// The latest event with this name.
    pub fn latest(&self, event: &str) -> Signal<Option<SseMessage>> {
        let latest = self.latest;
        let event = event.to_owned();
        Signal::derive(move || latest.with(|m| m.get(&event).cloned()))
    }

    /// Connects now (again), resuming from the last event id.
    pub fn open(&self) {
        (self.control.get_value().open)()
    }

    /// Closes the stream and stops reconnecting until `open()`.
    pub fn close(&self) {
        (self.control.get_value().close)()
    }
}

/// Subscribes to the SSE stream at `url`. See the module docs for what it does beyond `EventSource`.
pub fn use_event_source(url: &str, options: UseEventSourceOptions) -> UseEventSource {
    let ready_state = RwSignal::new(if options.immediate {
        ReadyState::Connecting
    } else {
        ReadyState::Closed
    });
    let message = RwSignal::new(None::<SseMessage>);
    let error = RwSignal::new(None::<SseError>);
    let last_event_id = RwSignal::new(None::<String>);
    let latest = RwSignal::new(HashMap::<String, SseMessage>::new());

    #[cfg(feature = "hydrate")]
    let control = browser::connect(
        url,
        options,
        browser::Sinks {
            ready_state,
            message,
            error,
            last_event_id,
            latest,
        },
    );
    #[cfg(not(feature = "hydrate"))]
    let control = {
        // On the server there is no browser and nothing to connect: the page renders the initial state.
        let _ = (url, options);
        Control {
            open: Arc::new(|| {}),
            close: Arc::new(|| {}),
        }
    };

    UseEventSource {
        ready_state: ready_state.into(),
        message: message.into(),
        error: error.into(),
        last_event_id: last_event_id.into(),
        latest,
        control: StoredValue::new(control),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_decoding_failure_is_a_value() {
        let msg = SseMessage {
            event: "viewers".into(),
            data: "not json".into(),
            last_event_id: "1".into(),
        };
        assert!(matches!(msg.json::<u64>(), Err(SseError::Decode { .. })));
        let ok = SseMessage {
            data: "42".into(),
            ..msg
        };
        assert_eq!(ok.json::<u64>(), Ok(42));
    }

    #[test]
    fn ready_state_labels_match_the_badge_contract() {
        assert_eq!(ReadyState::Open.label(), "live");
        assert_eq!(
            ReadyState::Reconnecting {
                attempt: 1,
                retry_at_ms: 0.0
            }
            .label(),
            "reconnecting"
        );
        assert_eq!(ReadyState::Closed.label(), "offline");
    }

    #[test]
    fn on_the_server_the_hook_is_inert() {
        let owner = Owner::new();
        owner.with(|| {
            let sse = use_event_source("/events", UseEventSourceOptions::default());
            assert_eq!(sse.ready_state.get_untracked(), ReadyState::Connecting);
            assert_eq!(sse.message.get_untracked(), None);
            sse.open();
            sse.close();
        });
    }
}

//! `use_event_source`: a typed, SSR-safe, self-healing subscription to a Server-Sent Events stream.
//!
//! What it adds over a bare `EventSource` (and over leptos-use's hook; `docs/comparison.md` compares them point by
//! point):
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
//!
//! It returns signals ([`UseEventSource`]: `ready_state`, `message`, `latest(name)`, `error`, `last_event_id`) and
//! `open()` / `close()`. Options are chained setters on `UseEventSourceOptions::default()`; each field of
//! [`UseEventSourceOptions`] says what it does, [`ReconnectPolicy`] when to retry. `docs/hook.md` is the same
//! reference as a page, with a table of the options and their defaults.
//!
//! # One connection per browser
//!
//! Browsers allow six HTTP/1.1 connections per origin, so with one `EventSource` per tab the seventh tab of an
//! app hangs, its page and writes queued behind the streams. With `share_across_tabs(true)` (the dashboard turns
//! it on) one tab, the leader, elected with the Web Locks API, holds the `EventSource`; it relays every event,
//! numbered, and every change of its state over a `BroadcastChannel`. Every tab decodes and folds events itself
//! and sees the same signals and the same `on_message` order as if it held the stream. Where either API is
//! missing, each tab connects on its own. The pure rules live in `handover` (tested without a browser), the
//! browser half in `browser`, the channel and locks in `tabs`.
//!
//! - *Hand-over.* When the leader closes, navigates or crashes, the browser frees the lock and the next tab in
//!   its queue leads; a leader about to be frozen or put in the back-forward cache hands over first. A leader
//!   frozen without warning keeps its lock, so it also sends a heartbeat every 2 s: a follower that hears nothing
//!   for 6 s (75 s when the leader said it is hidden, since hidden tabs' timers are throttled to once a minute)
//!   takes the lock from it (`steal`), one follower at a time (a second lock decides which); the old leader,
//!   when it runs again, sees a newer term and follows.
//! - *Nothing lost, nothing twice.* The new leader resumes the stream (`?lastEventId=`) from the last id it
//!   delivered. Each tab drops events at or below its own last id (unless below the stream's resume point: that
//!   is the server starting over), so tabs that were ahead see no repeats, and tabs that were behind ask the
//!   leader for the difference (judged by how far each got in the old leader's feed), which it serves from its
//!   ring of the last 512 events, or, if that does not reach back far enough, by reopening the stream further
//!   back. A tab that opens late asks for what came after `resume_from` (the snapshot it was rendered from) and
//!   then takes the live feed, with no gap.
//! - *State.* Backoff with jitter, stale detection and `online` recovery run in the leader; its `ready_state`
//!   (`reconnecting in 3 s` included) and errors reach every tab; `on_failed` fires in every tab.
//! - *Visibility.* A hidden leader keeps the stream while any tab of the browser is visible (each tab tells the
//!   leader when it is shown or hidden); the stream closes only when every tab is hidden, and reopens, resuming,
//!   when one is shown again.
//! - *`close()`* of one tab's hook takes that tab out; if it led, another tab resumes the stream.
//! - The viewer count counts open streams, so it counts browsers, not tabs.

#[cfg(feature = "hydrate")]
mod browser;
// Pure and tested on the server side, used only by the browser half.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
mod handover;
mod policy;
#[cfg(feature = "hydrate")]
mod tabs;

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

/// Options for [`use_event_source`]; build with the chained setters, e.g.
/// `UseEventSourceOptions::default().events(["kitchen"]).stale_after(Duration::from_secs(45))`.
///
/// The setters are generated by the small `setters!` macro below for the fields that take their value as is,
/// and written out for the four that convert (`events`, `on_message`, `on_failed`, `resume_param`) and the one
/// that formats (`resume_from`). A derive (leptos-use uses its `default-struct-builder`) would generate only the
/// plain setters too: the converting ones need a `skip` and a hand-written method either way, so a proc-macro
/// dependency in every build would buy nothing the macro does not.
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
    /// Close while the tab is hidden; reconnect (resuming) as soon as it is visible again. Shared across tabs,
    /// the stream closes only while every tab of the browser is hidden.
    pub pause_when_hidden: bool,
    /// Called for every event, in order, before any signal changes.
    pub on_message: Option<MessageCallback>,
    /// Called once when the reconnect policy gives up.
    pub on_failed: Option<FailedCallback>,
    /// Query parameter that carries the last event id when the hook reconnects itself; `None` disables it.
    pub resume_param: Option<String>,
    /// The id of the last event the page's state already includes (e.g. the snapshot it was rendered from):
    /// the first connection resumes after it instead of starting afresh, and a tab joining a shared stream
    /// asks only for what came after it.
    pub resume_from: Option<String>,
    /// Share one connection among all tabs of this origin in this browser: one tab (elected with the Web Locks
    /// API) holds the `EventSource` and relays its events and state to the others over a `BroadcastChannel`;
    /// when it goes away another tab takes over and resumes where the stream stopped. Falls back to one
    /// connection per tab where either API is missing. Connection-wide settings come from the first
    /// subscriber of a URL in a tab, or from the first that asks to share, if it asks before the connection
    /// starts.
    pub share_across_tabs: bool,
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
            resume_from: None,
            share_across_tabs: false,
        }
    }
}

/// Writes a chained setter for each field that takes its value as is (`Option` fields take the inner value).
macro_rules! setters {
    ($($field:ident: $ty:ty => $wrap:expr),* $(,)?) => {
        impl UseEventSourceOptions {
            $(
                #[doc = concat!("Sets [`", stringify!($field), "`](Self::", stringify!($field), ").")]
                pub fn $field(mut self, value: $ty) -> Self {
                    #[allow(clippy::redundant_closure_call)]
                    {
                        self.$field = ($wrap)(value);
                    }
                    self
                }
            )*
        }
    };
}

setters! {
    reconnect: ReconnectPolicy => |v| v,
    with_credentials: bool => |v| v,
    immediate: bool => |v| v,
    stale_after: Duration => Some,
    pause_when_hidden: bool => |v| v,
    share_across_tabs: bool => |v| v,
}

impl UseEventSourceOptions {
    /// Sets [`events`](Self::events) from any list of names.
    pub fn events<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.events = names.into_iter().map(Into::into).collect();
        self
    }
    /// Sets [`on_message`](Self::on_message).
    pub fn on_message(mut self, f: impl Fn(&SseMessage) + Send + Sync + 'static) -> Self {
        self.on_message = Some(Arc::new(f));
        self
    }
    /// Sets [`on_failed`](Self::on_failed).
    pub fn on_failed(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_failed = Some(Arc::new(f));
        self
    }
    /// Sets [`resume_param`](Self::resume_param).
    pub fn resume_param(mut self, name: Option<&str>) -> Self {
        self.resume_param = name.map(str::to_owned);
        self
    }
    /// Sets [`resume_from`](Self::resume_from), e.g. to the sequence number of a server-rendered snapshot.
    pub fn resume_from(mut self, id: impl ToString) -> Self {
        self.resume_from = Some(id.to_string());
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
        browser::SubscriberSignals {
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
    fn chained_setters_set_their_fields() {
        let options = UseEventSourceOptions::default()
            .events(["kitchen", "viewers"])
            .stale_after(Duration::from_secs(45))
            .share_across_tabs(true)
            .resume_from(42_u64)
            .pause_when_hidden(false)
            .resume_param(None);
        assert_eq!(options.events, ["kitchen", "viewers"]);
        assert_eq!(options.stale_after, Some(Duration::from_secs(45)));
        assert!(options.share_across_tabs && !options.pause_when_hidden);
        assert_eq!(options.resume_from.as_deref(), Some("42"));
        assert_eq!(options.resume_param, None);
        let default = UseEventSourceOptions::default();
        assert!(!default.share_across_tabs && default.immediate && default.resume_from.is_none());
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

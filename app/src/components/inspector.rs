//! The event inspector (`/inspector`), for people who use Hearth as an SSE hub: pick topics, watch every event
//! as it arrives (id, name, data pretty-printed, arrival time), see the connection come and go and which id each
//! reconnect resumed from, replay from any id, publish a test message, and copy the `curl -N` command that
//! shows the same stream in a terminal. It follows the Mercure hub too: any topic, a token pasted in, and a
//! publish form ([`super::mercure_tap`]).
//!
//! It reads through `use_event_source`, like the dashboard; no second client. The subscription lives in a small
//! child component ([`TapStream`]) that is built again whenever the subscription changes, because the hook takes
//! its URL once. A replay from a chosen id is the hook's `resume_from`: the first connection asks for what came
//! after that id, and every reconnect after that resumes from the last id received, as any subscription does.
//! Which id a reconnect resumed from is not something the hook reports, so on each re-open the inspector reads
//! `last_event_id` as it was when the connection opened (no event has arrived on it yet then).

use super::clock::{clock_hms_millis, use_clock};
use super::dashboard::{event_names, PING_EVENT};
use super::header::Header;
use super::login::use_session;
use super::mercure_tap::{MercureCard, MercureTap};
use crate::contract::api::{paths, MessagePosted, NewMessage};
use crate::contract::{MessageBody, Topic, TopicSet};
use crate::hooks::{use_event_source, ReadyState, UseEventSourceOptions};
use crate::http::{self, ApiFailure};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// Most entries the log keeps; older ones drop off the end.
pub const MAX_ENTRIES: usize = 300;
/// Data longer than this is folded away behind a "show" toggle (a snapshot is tens of kilobytes).
const FOLD_OVER: usize = 600;
/// As on the dashboard: three missed heartbeats mean a dead stream.
const STALE_AFTER: Duration = Duration::from_secs(45);

/// What the inspector is subscribed to.
#[derive(Debug, Clone, PartialEq)]
pub struct Tap {
    pub topics: TopicSet,
    /// Replay everything after this id first (`lastEventId`; a Mercure id is any text).
    pub from: Option<String>,
    /// Bumped on every change, so re-applying the same choice still starts over.
    pub generation: u64,
    /// Follow these Mercure topics instead of the dashboard's stream.
    pub mercure: Option<MercureTap>,
}

impl Tap {
    fn topic_list(&self) -> String {
        self.topics
            .iter()
            .map(Topic::name)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The stream URL, relative to the page. Where to start is not in it: the hook adds that (`lastEventId`)
    /// from [`Tap::from`] and, on every reconnect, from the last id received.
    pub fn url(&self) -> String {
        match &self.mercure {
            Some(m) => m.url(),
            None => format!("{}?topics={}", paths::EVENTS, self.topic_list()),
        }
    }

    /// The same stream for a terminal.
    pub fn curl(&self, origin: &str) -> String {
        if let Some(m) = &self.mercure {
            return m.curl(origin, self.from.as_deref());
        }
        let mut cmd = format!(
            "curl -N '{origin}{}?topics={}'",
            paths::EVENTS,
            self.topic_list()
        );
        if let Some(id) = &self.from {
            cmd.push_str(&format!(" -H 'Last-Event-ID: {id}'"));
        }
        cmd
    }
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq)]
pub enum EntryKind {
    Event {
        /// The event's id; heartbeats have none.
        id: Option<String>,
        name: String,
        /// Pretty-printed when it is JSON.
        data: Arc<str>,
    },
    Connection {
        text: String,
        /// On a reconnect: the id it resumed from.
        resumed_from: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: u64,
    pub at_ms: f64,
    pub kind: EntryKind,
}

/// The log, newest first, bounded.
#[derive(Debug, Default)]
pub struct Log {
    pub entries: VecDeque<Entry>,
    next_key: u64,
    /// Events received since the log was last cleared (heartbeats included).
    pub received: u64,
}

impl Log {
    pub fn push(&mut self, at_ms: f64, kind: EntryKind) {
        self.entries.push_front(Entry {
            key: self.next_key,
            at_ms,
            kind,
        });
        self.next_key += 1;
        self.entries.truncate(MAX_ENTRIES);
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.received = 0;
    }
}

/// JSON pretty-printed (two-space indent, like `serde_json`'s pretty printer); anything else as it came.
///
/// It re-indents the text rather than building a `serde_json::Value` and printing that: the result is the same,
/// and it keeps `Value`, its maps and its printer out of the WASM bundle.
pub fn pretty(data: &str) -> String {
    if serde_json::from_str::<serde::de::IgnoredAny>(data).is_err() {
        return data.to_owned();
    }
    let mut out = String::with_capacity(data.len() * 2);
    let mut depth = 0usize;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n("  ", depth));
    };
    let mut chars = data.chars().peekable();
    let (mut in_string, mut escaped) = (false, false);
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                while chars.peek().is_some_and(|n| n.is_whitespace()) {
                    chars.next();
                }
                let close = if c == '{' { '}' } else { ']' };
                out.push(c);
                if chars.peek() == Some(&close) {
                    chars.next();
                    out.push(close);
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

/// What a change of connection state means, in a line for the log, with the id a reconnect resumed from.
///
/// `resume_id` is the id this open resumed from: the hook's last event id when it reconnected by itself, or the
/// id in the URL when the inspector built the subscription again.
pub fn connection_note(
    before: Option<ReadyState>,
    now: ReadyState,
    reopen: bool,
    resume_id: Option<&str>,
    now_ms: f64,
) -> Option<(String, Option<String>)> {
    let retry_in = |at: f64| ((at - now_ms) / 1000.0).ceil().max(0.0) as u64;
    match now {
        ReadyState::Open if before != Some(ReadyState::Open) => Some(if reopen {
            match resume_id {
                Some(id) => (
                    format!("Reconnected, resumed from id {id}"),
                    Some(id.to_owned()),
                ),
                None => (
                    "Reconnected; no event had arrived, so it started afresh".to_owned(),
                    None,
                ),
            }
        } else {
            match resume_id {
                Some(id) => (format!("Connected, replaying from id {id}"), None),
                None => ("Connected".to_owned(), None),
            }
        }),
        ReadyState::Reconnecting {
            attempt,
            retry_at_ms,
        } => {
            let wait = retry_in(retry_at_ms);
            match before {
                Some(ReadyState::Open) => {
                    Some((format!("Connection lost; retrying in {wait} s"), None))
                }
                Some(ReadyState::Reconnecting { attempt: was, .. }) if was != attempt => {
                    Some((format!("Attempt {was} failed; retrying in {wait} s"), None))
                }
                Some(ReadyState::Connecting) | None => {
                    Some((format!("Could not connect; retrying in {wait} s"), None))
                }
                _ => None,
            }
        }
        ReadyState::Closed if before.is_some_and(|b| b != ReadyState::Closed) => {
            Some(("Closed".to_owned(), None))
        }
        _ => None,
    }
}

/// The inspector's shared signals, handed to the stream component.
#[derive(Clone, Copy)]
struct Sinks {
    log: RwSignal<Log>,
    tap: RwSignal<Tap>,
    state: RwSignal<ReadyState>,
    last_id: RwSignal<Option<String>>,
    show_pings: RwSignal<bool>,
}

/// Holds the subscription for one [`Tap`]; renders nothing.
#[component]
fn TapStream(tap: Tap, sinks: Sinks) -> impl IntoView {
    let clock = use_clock();
    let url = tap.url();
    let mut options = UseEventSourceOptions::default();
    if let Some(id) = &tap.from {
        options = options.resume_from(id);
    }
    let events = match &tap.mercure {
        // Mercure's name for the query parameter of the id a client resumes from.
        Some(m) => {
            options = options.resume_param(Some("lastEventID"));
            m.types.clone()
        }
        None => event_names(),
    };
    let sse = use_event_source(
        &url,
        options
            .events(events)
            .stale_after(STALE_AFTER)
            // A debugging tool keeps listening while you look at another tab.
            .pause_when_hidden(false)
            .on_message(move |m| {
                let heartbeat = m.event == PING_EVENT;
                sinks.log.update(|log| {
                    log.received += 1;
                    if heartbeat && !sinks.show_pings.get_untracked() {
                        return;
                    }
                    let id = (!heartbeat && !m.last_event_id.is_empty())
                        .then(|| m.last_event_id.clone());
                    log.push(
                        super::clock::now_ms(),
                        EntryKind::Event {
                            id,
                            name: m.event.clone(),
                            data: pretty(&m.data).into(),
                        },
                    );
                });
                if !heartbeat && !m.last_event_id.is_empty() {
                    sinks.last_id.set(Some(m.last_event_id.clone()));
                }
            }),
    );
    let before = StoredValue::new(None::<ReadyState>);
    let opened = StoredValue::new(false);
    let from = tap.from.clone();
    Effect::new(move |_| {
        let now = sse.ready_state.get();
        sinks.state.set(now);
        let was = before.get_value();
        before.set_value(Some(now));
        // Open before in this component: the hook reconnected by itself, from its last id (or from the chosen
        // one, if nothing had arrived).
        let reopen = opened.get_value();
        let resume_id = if opened.get_value() {
            sse.last_event_id.get_untracked().or_else(|| from.clone())
        } else {
            from.clone()
        };
        if now == ReadyState::Open {
            opened.set_value(true);
        }
        if let Some((text, resumed_from)) = connection_note(
            was,
            now,
            reopen,
            resume_id.as_deref(),
            clock.now_ms.get_untracked(),
        ) {
            sinks.log.update(|log| {
                log.push(
                    super::clock::now_ms(),
                    EntryKind::Connection { text, resumed_from },
                )
            });
        }
    });
}

#[component]
pub fn Inspector() -> impl IntoView {
    let clock = use_clock();
    let can_write = use_session();
    let sinks = Sinks {
        log: RwSignal::new(Log::default()),
        tap: RwSignal::new(Tap {
            topics: TopicSet::DASHBOARD,
            from: None,
            generation: 0,
            mercure: None,
        }),
        state: RwSignal::new(ReadyState::Connecting),
        last_id: RwSignal::new(None),
        show_pings: RwSignal::new(false),
    };
    let chosen = RwSignal::new(TopicSet::DASHBOARD);
    let resume_draft = RwSignal::new(String::new());
    let resume_error = RwSignal::new(None::<String>);
    let origin = RwSignal::new(String::new());
    let copied = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(o) = web_sys::window().and_then(|w| w.location().origin().ok()) {
            origin.set(o);
        }
    });

    let apply = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let topics = chosen.get_untracked();
        sinks.log.update(|log| {
            log.push(
                super::clock::now_ms(),
                EntryKind::Connection {
                    text: format!("Subscribing to {}", list(topics)),
                    resumed_from: None,
                },
            )
        });
        sinks.tap.update(|t| {
            t.topics = topics;
            t.from = None;
            t.mercure = None;
            t.generation += 1;
        });
    };
    let follow = Callback::new(move |mercure: MercureTap| {
        sinks.log.update(|log| {
            log.push(
                super::clock::now_ms(),
                EntryKind::Connection {
                    text: format!("Following Mercure topics {}", mercure.selectors.join(", ")),
                    resumed_from: None,
                },
            )
        });
        sinks.tap.update(|t| {
            t.from = None;
            t.mercure = Some(mercure);
            t.generation += 1;
        });
    });
    let replay = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let draft = resume_draft.get_untracked();
        let mercure = sinks.tap.with_untracked(|t| t.mercure.is_some());
        // A Mercure id is any text (`earliest` included); the dashboard's are numbers.
        let id = match draft.trim() {
            "" => None,
            id if mercure || id.parse::<u64>().is_ok() => Some(id.to_owned()),
            _ => None,
        };
        match id {
            Some(id) => {
                resume_error.set(None);
                sinks.log.update(|log| {
                    log.push(
                        super::clock::now_ms(),
                        EntryKind::Connection {
                            text: format!("Replaying everything after id {id}"),
                            resumed_from: None,
                        },
                    )
                });
                sinks.tap.update(|t| {
                    if t.mercure.is_none() {
                        t.topics = chosen.get_untracked();
                    }
                    t.from = Some(id);
                    t.generation += 1;
                });
            }
            None => resume_error.set(Some(if mercure {
                "Give the id of an update, or earliest.".to_owned()
            } else {
                "An event id is a whole number, e.g. 1732000000123.".to_owned()
            })),
        }
    };
    let curl = move || sinks.tap.with(|t| t.curl(&origin.get()));
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(w) = web_sys::window() {
            let _ = w.navigator().clipboard().write_text(&curl());
            copied.set(true);
        }
    };

    let topic_boxes = Topic::ALL
        .into_iter()
        .map(|topic| {
            let id = format!("topic-{}", topic.name());
            let label_for = id.clone();
            view! {
                <label class="check" for=label_for>
                    <input
                        type="checkbox"
                        id=id
                        data-testid=format!("inspector-topic-{}", topic.name())
                        prop:checked=move || chosen.with(|c| c.contains(topic))
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            chosen.update(|c| *c = toggle(*c, topic, on));
                        }
                    />
                    {topic.name()}
                </label>
            }
        })
        .collect_view();

    view! {
        <Title text="Inspector · Hearth" />
        <Header state=Signal::from(sinks.state) />
        <main class="page inspector">
            <div class="page-head">
                <h1>"Event inspector"</h1>
                <p class="muted">
                    "Every event on " <code>"/events"</code>
                    " (or on the Mercure hub) as it arrives: what any SSE client of this hub receives."
                </p>
            </div>
            <div class="inspector-grid">
                <div class="inspector-side">
                    <section class="card" aria-labelledby="subscribe-title">
                        <h2 id="subscribe-title">"Subscription"</h2>
                        <form on:submit=apply>
                            <fieldset class="topics">
                                <legend>"Topics"</legend>
                                {topic_boxes}
                            </fieldset>
                            <button
                                type="submit"
                                class="button primary"
                                data-testid="inspector-apply"
                                disabled=move || chosen.with(|c| c.iter().next().is_none())
                            >
                                "Subscribe"
                            </button>
                        </form>
                        <form class="resume" on:submit=replay>
                            <label for="resume-id">"Replay from id"</label>
                            <div class="row">
                                <input
                                    id="resume-id"
                                    type="text"
                                    inputmode="numeric"
                                    autocomplete="off"
                                    data-testid="inspector-resume-id"
                                    prop:value=move || resume_draft.get()
                                    on:input=move |ev| resume_draft.set(event_target_value(&ev))
                                />
                                <button type="submit" class="button" data-testid="inspector-resume">
                                    "Replay"
                                </button>
                            </div>
                            <p class="form-error" role="alert">{move || resume_error.get().unwrap_or_default()}</p>
                        </form>
                        <div class="curl">
                            <p class="label">"The same stream in a terminal"</p>
                            <pre><code data-testid="inspector-curl">{curl}</code></pre>
                            <button type="button" class="button" data-testid="inspector-copy" on:click=copy>
                                {move || if copied.get() { "Copied" } else { "Copy command" }}
                            </button>
                        </div>
                    </section>
                    <PublishCard can_write />
                    <MercureCard follow />
                </div>
                <section class="card log-card" aria-labelledby="log-title">
                    <div class="log-head">
                        <h2 id="log-title">"Events"</h2>
                        <p class="muted" data-testid="inspector-status">
                            {move || sinks.log.with(|l| l.received)} " received · last id "
                            <span data-testid="inspector-last-id">
                                {move || sinks.last_id.get().unwrap_or_else(|| "none".to_owned())}
                            </span>
                        </p>
                        <label class="check" for="show-pings">
                            <input
                                type="checkbox"
                                id="show-pings"
                                prop:checked=move || sinks.show_pings.get()
                                on:change=move |ev| sinks.show_pings.set(event_target_checked(&ev))
                            />
                            "Show heartbeats"
                        </label>
                        <button
                            type="button"
                            class="button"
                            data-testid="inspector-clear"
                            on:click=move |_| sinks.log.update(Log::clear)
                        >
                            "Clear"
                        </button>
                    </div>
                    <ol class="log" data-testid="inspector-log" tabindex="0" aria-label="Received events, newest first">
                        <For
                            each=move || sinks.log.with(|l| l.entries.iter().cloned().collect::<Vec<_>>())
                            key=|e| e.key
                            let:entry
                        >
                            <LogRow entry offset=clock.offset_min />
                        </For>
                    </ol>
                    <p class="muted empty" hidden=move || sinks.log.with(|l| !l.entries.is_empty())>
                        "Waiting for events…"
                    </p>
                </section>
            </div>
            {move || {
                let tap = sinks.tap.get();
                view! { <TapStream tap sinks /> }
            }}
        </main>
    }
}

fn toggle(set: TopicSet, topic: Topic, on: bool) -> TopicSet {
    let topics: Vec<Topic> = set
        .iter()
        .filter(|t| *t != topic)
        .chain(on.then_some(topic))
        .collect();
    TopicSet::of(&topics)
}

fn list(topics: TopicSet) -> String {
    topics
        .iter()
        .map(Topic::name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[component]
fn LogRow(entry: Entry, offset: RwSignal<i32>) -> impl IntoView {
    let at = entry.at_ms;
    let time = move || clock_hms_millis(at, offset.get());
    match entry.kind {
        EntryKind::Event { id, name, data } => {
            let folded = data.len() > FOLD_OVER;
            let size = format!("{:.1} KB", data.len() as f64 / 1024.0);
            let body = if folded {
                Either::Left(view! {
                    <details>
                        <summary>"Show data (" {size} ")"</summary>
                        <pre class="data">{data.to_string()}</pre>
                    </details>
                })
            } else {
                Either::Right(view! { <pre class="data">{data.to_string()}</pre> })
            };
            let shown_id = id
                .as_ref()
                .map(|i| format!("id {i}"))
                .unwrap_or_else(|| "no id".to_owned());
            let shown_name = name.clone();
            Either::Left(view! {
                <li class="entry event" data-testid="inspector-event" data-event=name data-id=id>
                    <div class="entry-head">
                        <span class="event-name">{shown_name}</span>
                        <span class="event-id" data-testid="inspector-event-id">{shown_id}</span>
                        <time class="arrived">{time}</time>
                    </div>
                    {body}
                </li>
            })
        }
        EntryKind::Connection { text, resumed_from } => Either::Right(view! {
            <li class="entry conn" data-testid="inspector-conn" data-resumed-from=resumed_from>
                <span class="conn-text">{text}</span>
                <time class="arrived">{time}</time>
            </li>
        }),
    }
}

/// Publishes a test message (logged in only), to see it come back through the stream.
#[component]
fn PublishCard(can_write: RwSignal<bool>) -> impl IntoView {
    let draft = RwSignal::new(String::from("Hello from the inspector"));
    let result = RwSignal::new(None::<Result<String, String>>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = match MessageBody::parse(&draft.get_untracked()) {
            Ok(body) => body,
            Err(e) => {
                result.set(Some(Err(format!("The message {e}."))));
                return;
            }
        };
        leptos::task::spawn_local(async move {
            let answer: Result<MessagePosted, ApiFailure> = http::post_json(
                paths::MESSAGE,
                &NewMessage {
                    message: body.into_inner(),
                },
            )
            .await;
            result.set(Some(match answer {
                Ok(posted) => Ok(format!("Published as message {}.", posted.message.id)),
                Err(e) => Err(e.to_string()),
            }));
        });
    };
    let logged_in = Memo::new(move |_| can_write.get());
    view! {
        <section class="card" aria-labelledby="publish-title">
            <h2 id="publish-title">"Publish a test message"</h2>
            // `Either`, not `<Show>`, whose fallback is an `AnyView` (see the login control).
            {move || {
                if logged_in.get() {
                    Either::Left(view! {
                        <form class="publish" on:submit=submit>
                            <label for="publish-text">"Message"</label>
                            <div class="row">
                                <input
                                    id="publish-text"
                                    type="text"
                                    data-testid="inspector-publish-input"
                                    prop:value=move || draft.get()
                                    on:input=move |ev| draft.set(event_target_value(&ev))
                                />
                                <button type="submit" class="button primary" data-testid="inspector-publish">
                                    "Publish"
                                </button>
                            </div>
                        </form>
                        <p
                            class=move || if matches!(result.get(), Some(Err(_))) { "form-error" } else { "muted" }
                            role="status"
                            data-testid="inspector-publish-result"
                        >
                            {move || match result.get() {
                                Some(Ok(m)) | Some(Err(m)) => m,
                                None => String::new(),
                            }}
                        </p>
                    })
                } else {
                    Either::Right(view! { <p class="muted">"Log in to publish to the " <code>"message"</code> " topic."</p> })
                }
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tap(from: Option<u64>) -> Tap {
        Tap {
            topics: TopicSet::of(&[Topic::Entities, Topic::Message]),
            from: from.map(|id| id.to_string()),
            generation: 0,
            mercure: None,
        }
    }

    #[test]
    fn the_url_and_the_curl_command_say_the_same_thing() {
        // Where to start is the hook's to add (resume_from), so the URL is the same from any id.
        assert_eq!(tap(None).url(), "/events?topics=entities,message");
        assert_eq!(tap(Some(42)).url(), "/events?topics=entities,message");
        assert_eq!(
            tap(Some(42)).curl("http://127.0.0.1:3000"),
            "curl -N 'http://127.0.0.1:3000/events?topics=entities,message' -H 'Last-Event-ID: 42'"
        );
    }

    #[test]
    fn a_mercure_tap_streams_from_the_hub() {
        let mut t = tap(None);
        t.mercure = Some(MercureTap {
            selectors: vec!["*".into()],
            token: String::new(),
            types: vec![],
        });
        t.from = Some("urn:uuid:1".into());
        assert_eq!(t.url(), "/.well-known/mercure?topic=%2A");
        assert_eq!(
            t.curl("http://h"),
            "curl -N 'http://h/.well-known/mercure?topic=%2A' -H 'Last-Event-ID: urn:uuid:1'"
        );
    }

    #[test]
    fn reconnects_name_the_id_they_resumed_from() {
        let lost = connection_note(
            Some(ReadyState::Open),
            ReadyState::Reconnecting {
                attempt: 1,
                retry_at_ms: 3_000.0,
            },
            true,
            Some("7"),
            1_000.0,
        );
        assert_eq!(
            lost.map(|n| n.0),
            Some("Connection lost; retrying in 2 s".to_owned())
        );
        let back = connection_note(
            Some(ReadyState::Reconnecting {
                attempt: 1,
                retry_at_ms: 0.0,
            }),
            ReadyState::Open,
            true,
            Some("7"),
            0.0,
        );
        assert_eq!(
            back,
            Some((
                "Reconnected, resumed from id 7".to_owned(),
                Some("7".to_owned())
            ))
        );
        let first = connection_note(
            Some(ReadyState::Connecting),
            ReadyState::Open,
            false,
            None,
            0.0,
        );
        assert_eq!(first.map(|n| n.0), Some("Connected".to_owned()));
        let again = connection_note(
            Some(ReadyState::Reconnecting {
                attempt: 1,
                retry_at_ms: 0.0,
            }),
            ReadyState::Reconnecting {
                attempt: 2,
                retry_at_ms: 4_000.0,
            },
            true,
            None,
            0.0,
        );
        assert_eq!(
            again.map(|n| n.0),
            Some("Attempt 1 failed; retrying in 4 s".to_owned())
        );
        assert_eq!(
            connection_note(Some(ReadyState::Open), ReadyState::Open, true, None, 0.0),
            None
        );
    }

    #[test]
    fn the_log_is_newest_first_and_bounded() {
        let mut log = Log::default();
        for i in 0..(MAX_ENTRIES + 5) {
            log.push(
                i as f64,
                EntryKind::Connection {
                    text: i.to_string(),
                    resumed_from: None,
                },
            );
        }
        assert_eq!(log.entries.len(), MAX_ENTRIES);
        assert_eq!(log.entries[0].at_ms, (MAX_ENTRIES + 4) as f64);
        log.clear();
        assert!(log.entries.is_empty());
    }

    #[test]
    fn json_is_pretty_printed_as_serde_json_would_and_other_data_kept() {
        for json in [
            r#"{"a":1}"#,
            // Keys in sorted order, as `Value` prints them; `pretty` keeps the order of the wire.
            r#"{"e":{},"n":[1, 2,{"x":[]}],"s":"a,b:{c}[\"q\"]\\","t":true,"z":null}"#,
            r#"[ ]"#,
            "42",
            r#""plain""#,
        ] {
            let value: serde_json::Value = serde_json::from_str(json).unwrap();
            assert_eq!(
                pretty(json),
                serde_json::to_string_pretty(&value).unwrap(),
                "{json}"
            );
        }
        assert_eq!(pretty("not json"), "not json");
        assert_eq!(pretty("{\"open\": "), "{\"open\": ");
    }

    #[test]
    fn topics_toggle_in_and_out() {
        let set = toggle(TopicSet::DASHBOARD, Topic::Entities, false);
        assert!(!set.contains(Topic::Entities) && set.contains(Topic::Message));
        assert!(toggle(set, Topic::Camera, true).contains(Topic::Camera));
    }
}

//! The browser half of `use_event_source`: one shared connection per URL, its `EventSource`, handlers and timers,
//! and, when sharing across tabs, the tab's part in the shared stream.
//!
//! Components that ask for the same URL share one connection (browsers allow only ~6 HTTP/1.1 connections per
//! origin): each is a [`Subscriber`] of it, with its own signals, named events and callbacks. The connection
//! runs while at least one subscriber is active and is closed with the last one.
//!
//! Shared across tabs, a connection is in one of two roles. The leader (the tab holding the Web Lock) runs the
//! `EventSource` exactly as a lone tab does (backoff, stale detection, resume) and relays every event and every
//! state change over the channel; followers open nothing and mirror what it relays. Every tab delivers events
//! through the same path, [`deliver`], which drops what the tab has already seen, so a hand-over (the new
//! leader resumes from its own last id) repeats and loses nothing. A follower that hears nothing from the
//! leader for a while (a frozen tab keeps its lock) takes the lock from it.
//!
//! Every handler is a `Closure` kept in [`Handlers`]; a torn-down source's handlers are parked in `retired` and
//! freed at the next connect (a closure may not be dropped while it runs), so a reconnect leaks nothing. A
//! tab's channel is parked the same way when it stops sharing.

use super::handover::{
    is_fresh, Inbox, Intake, Note, Relayed, Ring, Seen, Term, RING_CAPACITY, WIRE_VERSION,
};
use super::tabs::{self, Channel, Lock};
use super::{Backoff, Control, ReadyState, SseError, SseMessage, UseEventSourceOptions};
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{EventSource, EventSourceInit, MessageEvent};

/// How often the leader says it is alive.
const BEAT_MS: i32 = 2_000;
/// A visible leader silent this long is gone (frozen, or its process stalled): a follower takes over.
const QUIET_MS: f64 = 6_000.0;
/// A hidden leader's timers are throttled (to once a minute after five minutes hidden), so its beats may be
/// that far apart: wait longer before taking over from it.
const QUIET_HIDDEN_MS: f64 = 75_000.0;
/// How long the tab taking over holds the take-over lock: time for its announcement to reach the others.
const TAKEOVER_HOLD_MS: i32 = 3_000;

/// The signals one subscriber's hook writes to.
pub(super) struct Sinks {
    pub ready_state: RwSignal<ReadyState>,
    pub message: RwSignal<Option<SseMessage>>,
    pub error: RwSignal<Option<SseError>>,
    pub last_event_id: RwSignal<Option<String>>,
    pub latest: RwSignal<HashMap<String, SseMessage>>,
}

type Callback = Closure<dyn FnMut(web_sys::Event)>;

struct Subscriber {
    id: u64,
    sinks: Sinks,
    events: Vec<String>,
    options: UseEventSourceOptions,
    /// `close()` detaches a subscriber without forgetting it; `open()` attaches it again.
    active: bool,
}

/// One `EventSource` and the closures registered on it.
struct Handlers {
    source: EventSource,
    callbacks: Vec<Callback>,
    /// Event names with a listener on this source.
    listening: BTreeSet<String>,
}

struct Timer {
    id: i32,
    interval: bool,
    _callback: Closure<dyn FnMut()>,
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some(w) = window() {
            if self.interval {
                w.clear_interval_with_handle(self.id);
            } else {
                w.clear_timeout_with_handle(self.id);
            }
        }
    }
}

/// This tab's part in a stream shared across tabs.
struct Share {
    tab: u64,
    lock_name: String,
    channel: Channel,
    role: Role,
    /// The highest term heard of: taking over uses the next.
    top_term: u64,
    inbox: Inbox,
    /// Queued lock requests not yet granted: a follower keeps one, so it takes over as soon as the lock frees.
    queued: u32,
    /// Follower: checks that the leader has not been silent too long.
    quiet_timer: Option<Timer>,
    /// When the leader was last heard from (milliseconds since the epoch).
    heard_at: f64,
    /// The leader said its tab is hidden (its beats may come late).
    leader_hidden: bool,
    /// This tab handed over for good or for a while (closed, in the back-forward cache, frozen).
    away: bool,
    /// Holds the take-over lock for a while after this tab took the lead from a silent leader.
    takeover: Option<Timer>,
}

enum Role {
    Follower,
    Leader {
        term: Term,
        /// Events relayed in this term.
        sent: u64,
        lock: Option<Lock>,
        /// Kept to keep the heartbeat going; dropped (and cleared) with the role.
        _beat: Option<Timer>,
        /// Other tabs that are visible: the stream pauses only when none is and this one is hidden too.
        visible: BTreeSet<u64>,
        /// Named events other tabs' subscribers listen to.
        remote_events: BTreeSet<String>,
    },
}

struct Conn {
    key: String,
    url: String,
    /// Connection-wide settings come from the first subscriber.
    settings: UseEventSourceOptions,
    subscribers: Vec<Subscriber>,
    next_id: u64,
    current: Option<Handlers>,
    retired: Vec<Handlers>,
    retired_shares: Vec<Share>,
    backoff: Backoff,
    retry_timer: Option<Timer>,
    stale_timer: Option<Timer>,
    /// Closed because the tab (every tab, when shared) is hidden.
    paused: bool,
    /// A subscriber attached: the settings are fixed from then on.
    started: bool,
    state: ReadyState,
    error: Option<SseError>,
    /// What this tab has delivered: de-duplicates across reconnects and hand-overs, and gives the resume id.
    seen: Seen,
    ring: Ring,
    /// The id the current `EventSource` resumed from, and the last id it reported.
    stream_from: Option<String>,
    stream_last: String,
    share: Option<Share>,
    page_listeners: Vec<(web_sys::EventTarget, &'static str, Callback)>,
}

type Shared = Rc<RefCell<Conn>>;

thread_local! {
    static CONNECTIONS: RefCell<HashMap<String, Weak<RefCell<Conn>>>> = RefCell::new(HashMap::new());
}

pub(super) fn connect(url: &str, options: UseEventSourceOptions, sinks: Sinks) -> Control {
    let key = format!("{url}\u{0}{}", options.with_credentials);
    let existing = CONNECTIONS.with(|c| c.borrow().get(&key).and_then(Weak::upgrade));
    let shared = existing.unwrap_or_else(|| {
        let resume_from = options.resume_from.clone();
        let shared: Shared = Rc::new(RefCell::new(Conn {
            key: key.clone(),
            url: url.to_owned(),
            settings: options.clone(),
            subscribers: Vec::new(),
            next_id: 0,
            current: None,
            retired: Vec::new(),
            retired_shares: Vec::new(),
            backoff: Backoff::default(),
            retry_timer: None,
            stale_timer: None,
            paused: false,
            started: false,
            state: ReadyState::Closed,
            error: None,
            seen: Seen::new(resume_from.clone()),
            ring: Ring::new(resume_from, RING_CAPACITY),
            stream_from: None,
            stream_last: String::new(),
            share: None,
            page_listeners: Vec::new(),
        }));
        if options.pause_when_hidden || options.share_across_tabs {
            listen_to_page(&shared);
        }
        CONNECTIONS.with(|c| c.borrow_mut().insert(key, Rc::downgrade(&shared)));
        shared
    });

    let immediate = options.immediate;
    let id = {
        let mut conn = shared.borrow_mut();
        // A subscriber that asks to share, arriving before the connection started, sets it up: which
        // component of a page subscribes first should not decide whether its tabs share.
        if options.share_across_tabs && !conn.settings.share_across_tabs && !conn.started {
            conn.settings = options.clone();
            conn.seen = Seen::new(options.resume_from.clone());
            conn.ring = Ring::new(options.resume_from.clone(), RING_CAPACITY);
            if conn.page_listeners.is_empty() {
                drop(conn);
                listen_to_page(&shared);
                conn = shared.borrow_mut();
            }
        }
        let id = conn.next_id;
        conn.next_id += 1;
        // A late joiner starts from what the connection already knows.
        if immediate && conn.state != ReadyState::Closed {
            sinks.ready_state.set(conn.state);
        }
        if let Some(last) = conn.seen.last() {
            sinks.last_event_id.set(Some(last.to_owned()));
        }
        conn.subscribers.push(Subscriber {
            id,
            sinks,
            events: options.events.clone(),
            options,
            active: false,
        });
        id
    };

    if immediate {
        // Connect after hydration: effects run only in the browser, once the DOM is live.
        let shared = SendWrapper::new(shared.clone());
        Effect::new(move |_| attach(&shared, id));
    }
    {
        let shared = SendWrapper::new(shared.clone());
        on_cleanup(move || leave(&shared, id));
    }

    let open = SendWrapper::new(shared.clone());
    let close = SendWrapper::new(shared);
    Control {
        open: Arc::new(move || {
            open.borrow_mut().backoff.opened();
            attach(&open, id);
        }),
        close: Arc::new(move || detach(&close, id)),
    }
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

fn window() -> Option<web_sys::Window> {
    web_sys::window()
}

fn document_hidden() -> bool {
    window()
        .and_then(|w| w.document())
        .is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Hidden)
}

/// The URL to open: resuming adds the last event id as a query parameter.
fn resume_url(base: &str, param: Option<&str>, last_id: Option<&str>) -> String {
    match (param, last_id) {
        (Some(param), Some(id)) if !id.is_empty() => {
            let sep = if base.contains('?') { '&' } else { '?' };
            let id: String = js_sys::encode_uri_component(id).into();
            format!("{base}{sep}{param}={id}")
        }
        _ => base.to_owned(),
    }
}

impl Conn {
    fn active(&self) -> bool {
        self.subscribers.iter().any(|s| s.active)
    }

    fn sharing(&self) -> bool {
        self.share.is_some()
    }

    fn following(&self) -> bool {
        matches!(self.share.as_ref().map(|s| &s.role), Some(Role::Follower))
    }

    fn leader_term(&self) -> Option<Term> {
        match self.share.as_ref().map(|s| &s.role) {
            Some(Role::Leader { term, .. }) => Some(*term),
            _ => None,
        }
    }

    /// Named events this tab's active subscribers listen to.
    fn local_events(&self) -> Vec<String> {
        // Inserted one by one: collecting into a `BTreeSet` sorts first, which costs the bundle a sort routine.
        let mut names = BTreeSet::new();
        for s in self.subscribers.iter().filter(|s| s.active) {
            names.extend(s.events.iter().cloned());
        }
        names.into_iter().collect()
    }

    /// Every event name to listen to: this tab's subscribers', other tabs' when leading, and `message`.
    fn wanted_events(&self) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        names.extend(self.local_events());
        names.insert("message".to_owned());
        if let Some(Share {
            role: Role::Leader { remote_events, .. },
            ..
        }) = &self.share
        {
            names.extend(remote_events.iter().cloned());
        }
        names
    }

    fn post(&self, note: &Note) {
        if let Some(share) = &self.share {
            share.channel.post(note);
        }
    }

    fn set_state(&mut self, state: ReadyState) {
        self.state = state;
        for sub in self.subscribers.iter().filter(|s| s.active) {
            sub.sinks.ready_state.set(state);
        }
        self.relay_state();
    }

    fn set_error(&mut self, error: Option<SseError>) {
        for sub in self.subscribers.iter().filter(|s| s.active) {
            sub.sinks.error.set(error.clone());
        }
        self.error = error;
        self.relay_state();
    }

    /// A leader tells followers every change of its connection's state.
    fn relay_state(&self) {
        if let Some(term) = self.leader_term() {
            self.post(&Note::State {
                term,
                state: self.state,
                error: self.error.clone(),
            });
        }
    }
}

/// Makes a subscriber active, connecting (or joining the tabs' shared stream) if not connected yet.
fn attach(shared: &Shared, id: u64) {
    let (connect_now, join) = {
        let mut conn = shared.borrow_mut();
        conn.started = true;
        conn.retired_shares.clear();
        let state = conn.state;
        if let Some(sub) = conn.subscribers.iter_mut().find(|s| s.id == id) {
            sub.active = true;
            sub.sinks.ready_state.set(state);
        }
        let names = conn.wanted_events();
        add_listeners(shared, &mut conn, &names);
        let join = conn.settings.share_across_tabs && !conn.sharing() && tabs::supported();
        if conn.following() {
            // The leader must listen to this subscriber's events too.
            let note = presence(&conn);
            conn.post(&note);
        }
        let idle = conn.current.is_none() && conn.retry_timer.is_none() && !conn.paused;
        (idle && !conn.following() && !join, join)
    };
    if join {
        join_tabs(shared);
    } else if connect_now {
        start(shared);
    }
}

/// Detaches a subscriber (`close()`); the connection closes with its last active subscriber. When shared, this
/// tab leaves the shared stream and the others carry on.
fn detach(shared: &Shared, id: u64) {
    let idle = {
        let mut conn = shared.borrow_mut();
        if let Some(sub) = conn.subscribers.iter_mut().find(|s| s.id == id) {
            sub.active = false;
            sub.sinks.ready_state.set(ReadyState::Closed);
        }
        !conn.active()
    };
    if idle {
        leave_tabs(shared);
        teardown(shared);
        shared.borrow_mut().state = ReadyState::Closed;
    }
}

/// The subscriber's component is gone: forget it; the last one out closes everything.
fn leave(shared: &Shared, id: u64) {
    detach(shared, id);
    let mut conn = shared.borrow_mut();
    conn.subscribers.retain(|s| s.id != id);
    if conn.subscribers.is_empty() {
        for (target, name, callback) in conn.page_listeners.drain(..) {
            let _ =
                target.remove_event_listener_with_callback(name, callback.as_ref().unchecked_ref());
        }
        let key = conn.key.clone();
        CONNECTIONS.with(|c| c.borrow_mut().remove(&key));
    }
}

/// Opens a new `EventSource` resuming from this tab's last id, replacing any current one.
fn start(shared: &Shared) {
    let from = shared.borrow().seen.last().map(str::to_owned);
    start_from(shared, from);
}

/// Opens a new `EventSource` resuming after `from` (none: a fresh stream).
fn start_from(shared: &Shared, from: Option<String>) {
    teardown(shared);
    let mut conn = shared.borrow_mut();
    if !conn.active() || conn.paused || conn.following() {
        return;
    }
    // Handlers retired by the previous source are not running now: free them.
    conn.retired.clear();
    let url = resume_url(
        &conn.url,
        conn.settings.resume_param.as_deref(),
        from.as_deref(),
    );
    let init = EventSourceInit::new();
    init.set_with_credentials(conn.settings.with_credentials);
    let source = match EventSource::new_with_event_source_init_dict(&url, &init) {
        Ok(source) => source,
        Err(e) => {
            let reason = e.as_string().unwrap_or_else(|| format!("{e:?}"));
            conn.set_error(Some(SseError::Open(reason)));
            conn.set_state(ReadyState::Closed);
            return;
        }
    };
    conn.stream_from = from;
    conn.stream_last = String::new();
    if !matches!(conn.state, ReadyState::Reconnecting { .. }) {
        conn.set_state(ReadyState::Connecting);
    }

    let mut callbacks = Vec::new();
    let on_open = {
        let weak = Rc::downgrade(shared);
        Callback::new(move |_: web_sys::Event| {
            if let Some(shared) = weak.upgrade() {
                opened(&shared);
            }
        })
    };
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    callbacks.push(on_open);
    let on_error = {
        let weak = Rc::downgrade(shared);
        Callback::new(move |_: web_sys::Event| {
            if let Some(shared) = weak.upgrade() {
                dropped(&shared, SseError::Dropped);
            }
        })
    };
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    callbacks.push(on_error);

    conn.current = Some(Handlers {
        source,
        callbacks,
        listening: BTreeSet::new(),
    });
    let names = conn.wanted_events();
    add_listeners(shared, &mut conn, &names);
    drop(conn);
    arm_stale_timer(shared);
}

/// Registers a listener for each name the current source does not listen to yet.
fn add_listeners(shared: &Shared, conn: &mut Conn, names: &BTreeSet<String>) {
    let Some(handlers) = conn.current.as_mut() else {
        return;
    };
    for name in names {
        if handlers.listening.contains(name) {
            continue;
        }
        let weak = Rc::downgrade(shared);
        let event_name = name.clone();
        let on_event = Callback::new(move |event: web_sys::Event| {
            let (Some(shared), Some(event)) = (weak.upgrade(), event.dyn_ref::<MessageEvent>())
            else {
                return;
            };
            received(&shared, &event_name, event);
        });
        if handlers
            .source
            .add_event_listener_with_callback(name, on_event.as_ref().unchecked_ref())
            .is_ok()
        {
            handlers.callbacks.push(on_event);
            handlers.listening.insert(name.clone());
        }
    }
}

fn opened(shared: &Shared) {
    let mut conn = shared.borrow_mut();
    conn.backoff.opened();
    conn.set_error(None);
    conn.set_state(ReadyState::Open);
    drop(conn);
    arm_stale_timer(shared);
}

/// An event from this tab's own `EventSource`: relayed to the other tabs when leading, then delivered here.
fn received(shared: &Shared, name: &str, event: &MessageEvent) {
    let relayed = {
        let mut conn = shared.borrow_mut();
        let id = event.last_event_id();
        let fresh = is_fresh(&conn.stream_last, &id);
        conn.stream_last = id.clone();
        let mut relayed = Relayed {
            term: Term { number: 0, tab: 0 },
            n: 0,
            event: name.to_owned(),
            data: event.data().as_string().unwrap_or_default(),
            id,
            fresh,
            from: conn.stream_from.clone(),
        };
        if let Some(Share {
            role: Role::Leader { term, sent, .. },
            channel,
            ..
        }) = conn.share.as_mut()
        {
            *sent += 1;
            relayed.term = *term;
            relayed.n = *sent;
            channel.post(&Note::Event(relayed.clone()));
        }
        relayed
    };
    deliver(shared, relayed);
    arm_stale_timer(shared);
}

/// Hands one event to this tab's subscribers, unless this tab has already delivered it.
fn deliver(shared: &Shared, relayed: Relayed) {
    let name = relayed.event.as_str();
    let callbacks: Vec<_> = {
        let mut conn = shared.borrow_mut();
        if !conn
            .seen
            .accept(&relayed.id, relayed.fresh, relayed.from.as_deref())
        {
            return;
        }
        conn.ring.push(relayed.clone());
        let wants =
            |s: &Subscriber| s.active && (name == "message" || s.events.iter().any(|e| e == name));
        conn.subscribers
            .iter()
            .filter(|s| wants(s))
            .filter_map(|s| s.options.on_message.clone())
            .collect()
    };
    let id = relayed.id.clone();
    let message = SseMessage {
        event: relayed.event.clone(),
        data: relayed.data,
        last_event_id: relayed.id,
    };
    // Callbacks run without a borrow held, so they may call open() or close().
    for callback in callbacks {
        callback(&message);
    }
    let conn = shared.borrow();
    for sub in conn.subscribers.iter().filter(|s| s.active) {
        if !id.is_empty() {
            sub.sinks.last_event_id.set(Some(id.clone()));
        }
        if name == "message" || sub.events.iter().any(|e| e == name) {
            sub.sinks.latest.update(|m| {
                m.insert(name.to_owned(), message.clone());
            });
            sub.sinks.message.set(Some(message.clone()));
        }
    }
}

/// The connection is gone (error, silence): retire it and schedule the next attempt under the policy.
fn dropped(shared: &Shared, why: SseError) {
    teardown(shared);
    let mut conn = shared.borrow_mut();
    if !conn.active() || conn.paused || conn.following() {
        return;
    }
    conn.set_error(Some(why));
    let policy = conn.settings.reconnect.clone();
    match conn.backoff.dropped(&policy, js_sys::Math::random()) {
        Some((attempt, delay)) => {
            let delay_ms = delay.as_millis().min(i32::MAX as u128) as i32;
            conn.set_state(ReadyState::Reconnecting {
                attempt,
                retry_at_ms: now_ms() + f64::from(delay_ms),
            });
            drop(conn);
            let weak = Rc::downgrade(shared);
            let timer = set_timer(delay_ms, move || {
                if let Some(shared) = weak.upgrade() {
                    shared.borrow_mut().retry_timer = None;
                    start(&shared);
                }
            });
            shared.borrow_mut().retry_timer = timer;
        }
        None => {
            let attempts = policy.max_attempts.unwrap_or(0);
            conn.set_error(Some(SseError::GaveUp(attempts)));
            conn.set_state(ReadyState::Closed);
            drop(conn);
            give_up(shared);
        }
    }
}

/// The policy gave up (here, or in the leader's tab): every subscriber hears `on_failed` and is detached.
fn give_up(shared: &Shared) {
    let failed: Vec<_> = {
        let mut conn = shared.borrow_mut();
        let failed = conn
            .subscribers
            .iter()
            .filter(|s| s.active)
            .filter_map(|s| s.options.on_failed.clone())
            .collect();
        for sub in conn.subscribers.iter_mut() {
            sub.active = false;
        }
        failed
    };
    leave_tabs(shared);
    for on_failed in failed {
        on_failed();
    }
}

/// Closes the current source and cancels timers. Handlers are parked, not dropped: one of them may be running.
fn teardown(shared: &Shared) {
    let mut conn = shared.borrow_mut();
    if let Some(handlers) = conn.current.take() {
        handlers.source.close();
        handlers.source.set_onopen(None);
        handlers.source.set_onerror(None);
        conn.retired.push(handlers);
    }
    conn.retry_timer = None;
    conn.stale_timer = None;
}

fn set_timer(delay_ms: i32, f: impl FnMut() + 'static) -> Option<Timer> {
    let callback = Closure::<dyn FnMut()>::new(f);
    let id = window()?
        .set_timeout_with_callback_and_timeout_and_arguments_0(
            callback.as_ref().unchecked_ref(),
            delay_ms.max(0),
        )
        .ok()?;
    Some(Timer {
        id,
        interval: false,
        _callback: callback,
    })
}

fn set_interval(every_ms: i32, f: impl FnMut() + 'static) -> Option<Timer> {
    let callback = Closure::<dyn FnMut()>::new(f);
    let id = window()?
        .set_interval_with_callback_and_timeout_and_arguments_0(
            callback.as_ref().unchecked_ref(),
            every_ms.max(1),
        )
        .ok()?;
    Some(Timer {
        id,
        interval: true,
        _callback: callback,
    })
}

/// (Re)starts the silence timer: no event before it fires means the stream is dead.
fn arm_stale_timer(shared: &Shared) {
    let mut conn = shared.borrow_mut();
    let Some(after) = conn.settings.stale_after else {
        return;
    };
    if conn.current.is_none() {
        return;
    }
    conn.stale_timer = None;
    let weak = Rc::downgrade(shared);
    let delay_ms = after.as_millis().min(i32::MAX as u128) as i32;
    conn.stale_timer = set_timer(delay_ms, move || {
        if let Some(shared) = weak.upgrade() {
            shared.borrow_mut().stale_timer = None;
            dropped(&shared, SseError::Stale(after));
        }
    });
}

// ---- Sharing across tabs ----

fn random_tab_id() -> u64 {
    // 53 random bits: enough that two tabs of one browser never draw the same.
    (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64
}

fn presence(conn: &Conn) -> Note {
    Note::Presence {
        tab: conn.share.as_ref().map_or(0, |s| s.tab),
        visible: !document_hidden(),
        events: conn.local_events(),
    }
}

fn want(conn: &Conn) -> Note {
    Note::Want {
        tab: conn.share.as_ref().map_or(0, |s| s.tab),
        after: conn.seen.last().map(str::to_owned),
        events: conn.local_events(),
    }
}

/// Starts taking part in the tabs' shared stream, as a follower: queue for the lock (granted at once when no
/// tab leads), ask the leader for what this tab is missing, and watch for the leader going silent.
fn join_tabs(shared: &Shared) {
    let name = {
        let conn = shared.borrow();
        format!(
            "use_event_source/{WIRE_VERSION}\u{1}{}\u{1}{}",
            conn.url, conn.settings.with_credentials
        )
    };
    let weak = Rc::downgrade(shared);
    let Some(channel) = Channel::open(&name, move |note| {
        if let Some(shared) = weak.upgrade() {
            on_note(&shared, note);
        }
    }) else {
        // No channel after all: connect on this tab's own.
        start(shared);
        return;
    };
    {
        let mut conn = shared.borrow_mut();
        let mut inbox = Inbox::default();
        inbox.join();
        conn.share = Some(Share {
            tab: random_tab_id(),
            lock_name: name,
            channel,
            role: Role::Follower,
            top_term: 0,
            inbox,
            queued: 0,
            quiet_timer: None,
            heard_at: now_ms(),
            leader_hidden: false,
            away: false,
            takeover: None,
        });
        let note = want(&conn);
        conn.post(&note);
        let note = presence(&conn);
        conn.post(&note);
    }
    queue_for_lock(shared);
    arm_quiet_timer(shared);
}

/// Rejoins after coming back from the back-forward cache or a freeze.
fn rejoin_tabs(shared: &Shared) {
    {
        let mut conn = shared.borrow_mut();
        if !conn.active() {
            return;
        }
        let Some(share) = conn.share.as_mut() else {
            return;
        };
        if !share.away {
            return;
        }
        share.away = false;
        share.inbox.join();
        let note = want(&conn);
        conn.post(&note);
        let note = presence(&conn);
        conn.post(&note);
    }
    queue_for_lock(shared);
    arm_quiet_timer(shared);
}

/// Stops taking part: a leader hands over (releases the lock and closes its stream; another tab resumes it).
fn leave_tabs(shared: &Shared) {
    step_down(shared);
    let mut conn = shared.borrow_mut();
    let Some(share) = conn.share.take() else {
        return;
    };
    share.channel.post(&Note::Bye { tab: share.tab });
    // Parked: this may run inside the channel's own callback.
    conn.retired_shares.push(share);
}

/// Keeps one lock request queued while following.
fn queue_for_lock(shared: &Shared) {
    let name = {
        let mut conn = shared.borrow_mut();
        let Some(share) = conn.share.as_mut() else {
            return;
        };
        if share.queued > 0 || share.away {
            return;
        }
        share.queued += 1;
        share.lock_name.clone()
    };
    request(shared, &name, false);
}

fn request(shared: &Shared, name: &str, steal: bool) {
    let granted = {
        let weak = Rc::downgrade(shared);
        move |lock: Lock| match weak.upgrade() {
            Some(shared) => take_lead(&shared, lock, !steal),
            None => lock.release(),
        }
    };
    let lost = {
        let weak = Rc::downgrade(shared);
        move || {
            if let Some(shared) = weak.upgrade() {
                lock_lost(&shared);
            }
        }
    };
    if !tabs::request_lock(name, steal, granted, lost) && !steal {
        // The lock cannot be asked for: lead alone rather than never connect.
        if let Some(share) = shared.borrow_mut().share.as_mut() {
            share.queued = share.queued.saturating_sub(1);
        }
        leave_tabs(shared);
        shared.borrow_mut().settings.share_across_tabs = false;
        start(shared);
    }
}

/// This tab got the lock: it leads, resuming the stream from the last id it delivered.
fn take_lead(shared: &Shared, lock: Lock, was_queued: bool) {
    {
        let mut conn = shared.borrow_mut();
        let active = conn.active();
        let Some(share) = conn.share.as_mut() else {
            drop(conn);
            lock.release();
            return;
        };
        if was_queued {
            share.queued = share.queued.saturating_sub(1);
        }
        if !active || share.away || matches!(share.role, Role::Leader { .. }) {
            drop(conn);
            lock.release();
            return;
        }
        share.top_term += 1;
        let term = Term {
            number: share.top_term,
            tab: share.tab,
        };
        let reached = share.inbox.position();
        share.inbox.lead(term);
        share.quiet_timer = None;
        let weak = Rc::downgrade(shared);
        let beat = set_interval(BEAT_MS, move || {
            if let Some(shared) = weak.upgrade() {
                let conn = shared.borrow();
                if let Some(term) = conn.leader_term() {
                    conn.post(&Note::Beat {
                        term,
                        hidden: document_hidden(),
                    });
                }
            }
        });
        share.role = Role::Leader {
            term,
            sent: 0,
            lock: Some(lock),
            _beat: beat,
            visible: BTreeSet::new(),
            remote_events: BTreeSet::new(),
        };
        let state = match conn.state {
            ReadyState::Open | ReadyState::Closed => ReadyState::Connecting,
            other => other,
        };
        conn.state = state;
        conn.post(&Note::Lead {
            term,
            reached,
            state,
        });
        // Whether every tab is hidden is known once the followers answer with their presence.
        conn.paused = false;
    }
    start(shared);
}

/// The lock this tab held was taken (it was frozen, and a follower stole it): follow the new leader.
fn lock_lost(shared: &Shared) {
    let leading = shared.borrow().leader_term().is_some();
    if leading {
        step_down(shared);
        follow(shared);
    }
}

/// Stops leading, if leading: closes the stream and releases the lock.
fn step_down(shared: &Shared) {
    let lock = {
        let mut conn = shared.borrow_mut();
        let Some(share) = conn.share.as_mut() else {
            return;
        };
        match std::mem::replace(&mut share.role, Role::Follower) {
            Role::Leader { lock, .. } => lock,
            Role::Follower => {
                share.quiet_timer = None;
                return;
            }
        }
    };
    teardown(shared);
    shared.borrow_mut().paused = false;
    if let Some(lock) = lock {
        lock.release();
    }
}

/// Follows whichever tab leads next: queued for the lock, catching up, watching for silence.
fn follow(shared: &Shared) {
    {
        let mut conn = shared.borrow_mut();
        if !conn.active() {
            return;
        }
        if let Some(share) = conn.share.as_mut() {
            share.inbox.join();
        }
        let note = want(&conn);
        conn.post(&note);
    }
    queue_for_lock(shared);
    arm_quiet_timer(shared);
}

/// The leader was heard from: (re)starts the follower's watch on it. One timer at a time, not one per event.
fn arm_quiet_timer(shared: &Shared) {
    let mut conn = shared.borrow_mut();
    let Some(share) = conn.share.as_mut() else {
        return;
    };
    share.heard_at = now_ms();
    if !matches!(share.role, Role::Follower) || share.away {
        share.quiet_timer = None;
        return;
    }
    if share.quiet_timer.is_none() {
        share.quiet_timer = quiet_timer(shared, quiet_limit(share));
    }
}

/// How long the leader may be silent; jittered so that the followers of a frozen leader do not all take over at
/// once.
fn quiet_limit(share: &Share) -> f64 {
    let base = if share.leader_hidden {
        QUIET_HIDDEN_MS
    } else {
        QUIET_MS
    };
    base + js_sys::Math::random() * 2_000.0
}

fn quiet_timer(shared: &Shared, delay_ms: f64) -> Option<Timer> {
    let weak = Rc::downgrade(shared);
    set_timer(delay_ms.ceil() as i32, move || {
        if let Some(shared) = weak.upgrade() {
            leader_silent(&shared);
        }
    })
}

/// The watch fired: if the leader has really been silent that long, take the lock from it.
fn leader_silent(shared: &Shared) {
    let name = {
        let mut conn = shared.borrow_mut();
        let Some(name) = still_silent(&mut conn, shared) else {
            return;
        };
        name
    };
    // Every follower of a frozen leader notices at about the same time: the one that gets this second lock
    // takes over, and holds it long enough for the others to hear it lead, so that they do not take the lock
    // from it in turn.
    let weak = Rc::downgrade(shared);
    let _ = tabs::try_lock(&format!("{name}\u{1}takeover"), move |guard| {
        let Some(shared) = weak.upgrade() else { return };
        let Some(guard) = guard else {
            // Another tab is taking over: watch again.
            arm_quiet_timer(&shared);
            return;
        };
        let name = {
            let mut conn = shared.borrow_mut();
            still_silent(&mut conn, &shared)
        };
        match name {
            Some(name) => {
                request(&shared, &name, true);
                let mut guard = Some(guard);
                let timer = set_timer(TAKEOVER_HOLD_MS, move || drop(guard.take()));
                // The timer owns the guard: it is released when the timer fires or is dropped with the share.
                if let Some(share) = shared.borrow_mut().share.as_mut() {
                    share.takeover = timer;
                }
            }
            None => guard.release(),
        }
    });
}

/// The lock's name if this tab follows and the leader has been silent past the limit; otherwise re-arms the
/// watch (or leaves it off) and returns `None`.
fn still_silent(conn: &mut Conn, shared: &Shared) -> Option<String> {
    let active = conn.active();
    let share = conn.share.as_mut()?;
    share.quiet_timer = None;
    if !active || share.away || !matches!(share.role, Role::Follower) {
        return None;
    }
    let limit = quiet_limit(share);
    let silent = now_ms() - share.heard_at;
    if silent < limit {
        share.quiet_timer = quiet_timer(shared, limit - silent);
        return None;
    }
    Some(share.lock_name.clone())
}

/// A note from another tab.
fn on_note(shared: &Shared, note: Note) {
    // Every term heard of counts, not only announcements: a tab that joined after the leader announced itself
    // learns its term from the catch-up or the feed, and must take over with a newer one.
    let term = match &note {
        Note::Lead { term, .. }
        | Note::State { term, .. }
        | Note::Beat { term, .. }
        | Note::Replay { term, .. } => Some(*term),
        Note::Event(relayed) => Some(relayed.term),
        Note::Want { .. } | Note::Presence { .. } | Note::Bye { .. } => None,
    };
    if let (Some(term), Some(share)) = (term, shared.borrow_mut().share.as_mut()) {
        share.top_term = share.top_term.max(term.number);
    }
    match note {
        Note::Lead {
            term,
            reached,
            state,
        } => {
            let newer = {
                let mut conn = shared.borrow_mut();
                let Some(share) = conn.share.as_mut() else {
                    return;
                };
                let following_newer = share.inbox.term().is_none_or(|t| term >= t);
                following_newer && conn.leader_term().is_none_or(|mine| term > mine)
            };
            if !newer {
                return;
            }
            step_down(shared);
            let catch_up = {
                let mut conn = shared.borrow_mut();
                let Some(share) = conn.share.as_mut() else {
                    return;
                };
                share.leader_hidden = false;
                let intake = share.inbox.leader(term, reached);
                conn.set_state(state);
                let note = presence(&conn);
                conn.post(&note);
                intake == Intake::CatchUp
            };
            if catch_up {
                let conn = shared.borrow();
                conn.post(&want(&conn));
            }
            queue_for_lock(shared);
            arm_quiet_timer(shared);
        }
        Note::Event(relayed) => {
            if shared
                .borrow()
                .leader_term()
                .is_some_and(|mine| relayed.term > mine)
            {
                step_down(shared);
                follow(shared);
            }
            let intake = {
                let mut conn = shared.borrow_mut();
                match conn.share.as_mut() {
                    Some(share) if matches!(share.role, Role::Follower) => {
                        share.inbox.event(relayed)
                    }
                    _ => return,
                }
            };
            take_in(shared, intake);
            arm_quiet_timer(shared);
        }
        Note::State { term, state, error } => {
            let gave_up = {
                let mut conn = shared.borrow_mut();
                let current = conn.share.as_ref().and_then(|s| match s.role {
                    Role::Follower => s.inbox.term(),
                    Role::Leader { .. } => None,
                });
                if current != Some(term) {
                    return;
                }
                conn.set_state(state);
                let gave_up = matches!(error, Some(SseError::GaveUp(_)));
                conn.set_error(error);
                gave_up
            };
            if gave_up {
                give_up(shared);
            } else {
                arm_quiet_timer(shared);
            }
        }
        Note::Beat { term, hidden } => {
            let follow_it = {
                let mut conn = shared.borrow_mut();
                if conn.leader_term().is_some_and(|mine| term > mine) {
                    true
                } else {
                    if let Some(share) = conn.share.as_mut() {
                        if share.inbox.term() == Some(term) {
                            share.leader_hidden = hidden;
                        }
                    }
                    false
                }
            };
            if follow_it {
                step_down(shared);
                follow(shared);
            } else {
                arm_quiet_timer(shared);
            }
        }
        Note::Want { tab, after, events } => answer_want(shared, tab, after, events),
        Note::Replay {
            to,
            term,
            events,
            upto,
            state,
            error,
        } => {
            let intake = {
                let mut conn = shared.borrow_mut();
                let Some(share) = conn.share.as_mut() else {
                    return;
                };
                if to != share.tab || !matches!(share.role, Role::Follower) {
                    return;
                }
                let intake = share.inbox.replay(term, events, upto);
                if intake != Intake::Nothing {
                    conn.set_state(state);
                    conn.set_error(error);
                }
                intake
            };
            take_in(shared, intake);
            arm_quiet_timer(shared);
        }
        Note::Presence {
            tab,
            visible,
            events,
        } => {
            {
                let mut conn = shared.borrow_mut();
                if let Some(Share {
                    role:
                        Role::Leader {
                            visible: shown,
                            remote_events,
                            ..
                        },
                    ..
                }) = conn.share.as_mut()
                {
                    if visible {
                        shown.insert(tab);
                    } else {
                        shown.remove(&tab);
                    }
                    remote_events.extend(events);
                    let names = conn.wanted_events();
                    add_listeners(shared, &mut conn, &names);
                } else {
                    return;
                }
            }
            visibility_changed(shared);
        }
        Note::Bye { tab } => {
            {
                let mut conn = shared.borrow_mut();
                match conn.share.as_mut() {
                    Some(Share {
                        role: Role::Leader { visible, .. },
                        ..
                    }) => {
                        visible.remove(&tab);
                    }
                    _ => return,
                }
            }
            visibility_changed(shared);
        }
    }
}

/// Delivers what the intake let through, or asks the leader for a catch-up.
fn take_in(shared: &Shared, intake: Intake) {
    match intake {
        Intake::Deliver(events) => {
            for relayed in events {
                deliver(shared, relayed);
            }
        }
        Intake::CatchUp => {
            let conn = shared.borrow();
            conn.post(&want(&conn));
        }
        Intake::Nothing => {}
    }
}

/// A tab asks the leader for what it is missing: served from this tab's ring, or, when the ring does not reach
/// back far enough, by reopening the stream from the asker's id (every other tab drops the repeats).
fn answer_want(shared: &Shared, tab: u64, after: Option<String>, events: Vec<String>) {
    let rewind = {
        let mut conn = shared.borrow_mut();
        let Some(Share {
            role:
                Role::Leader {
                    term,
                    sent,
                    remote_events,
                    ..
                },
            ..
        }) = conn.share.as_mut()
        else {
            return;
        };
        let (term, upto) = (*term, *sent);
        remote_events.extend(events);
        let names = conn.wanted_events();
        add_listeners(shared, &mut conn, &names);
        let held = conn.ring.since(after.as_deref());
        let rewind = held.is_none();
        conn.post(&Note::Replay {
            to: tab,
            term,
            events: held.unwrap_or_default(),
            upto,
            state: conn.state,
            error: conn.error.clone(),
        });
        rewind
    };
    if rewind {
        start_from(shared, after);
    }
}

/// This tab was shown or hidden, or another tab said so: pause the stream while every tab is hidden.
fn visibility_changed(shared: &Shared) {
    let (pause, resume) = {
        let conn = shared.borrow();
        if !conn.settings.pause_when_hidden || !conn.active() {
            return;
        }
        let all_hidden = match &conn.share {
            Some(Share {
                role: Role::Leader { visible, .. },
                ..
            }) => document_hidden() && visible.is_empty(),
            Some(_) => return,
            None => document_hidden(),
        };
        (all_hidden && !conn.paused, !all_hidden && conn.paused)
    };
    if pause {
        teardown(shared);
        let mut conn = shared.borrow_mut();
        conn.paused = true;
        conn.set_state(ReadyState::Closed);
    } else if resume {
        let mut conn = shared.borrow_mut();
        conn.paused = false;
        conn.backoff.opened();
        conn.set_state(ReadyState::Connecting);
        drop(conn);
        start(shared);
    }
}

/// The page is going away or being frozen: a leader hands over, and the other tabs hear that this one left.
fn on_away(shared: &Shared) -> Callback {
    let weak = Rc::downgrade(shared);
    Callback::new(move |_: web_sys::Event| {
        let Some(shared) = weak.upgrade() else { return };
        step_down(&shared);
        let mut conn = shared.borrow_mut();
        if let Some(share) = conn.share.as_mut() {
            share.away = true;
            share.quiet_timer = None;
            share.channel.post(&Note::Bye { tab: share.tab });
        }
    })
}

/// The page is back (shown again, or resumed): it rejoins the tabs.
fn on_back(shared: &Shared) -> Callback {
    let weak = Rc::downgrade(shared);
    Callback::new(move |_: web_sys::Event| {
        if let Some(shared) = weak.upgrade() {
            rejoin_tabs(&shared);
        }
    })
}

/// Pause while hidden; come back at once when visible or back online. When sharing, also hand over before the
/// page goes into the back-forward cache or is frozen, and rejoin when it comes back.
fn listen_to_page(shared: &Shared) {
    let Some(w) = window() else { return };
    let Some(document) = w.document() else { return };
    let weak = Rc::downgrade(shared);
    let on_visibility = Callback::new(move |_: web_sys::Event| {
        let Some(shared) = weak.upgrade() else { return };
        {
            let conn = shared.borrow();
            if conn.sharing() {
                conn.post(&presence(&conn));
            }
        }
        visibility_changed(&shared);
    });
    let weak = Rc::downgrade(shared);
    let on_online = Callback::new(move |_: web_sys::Event| {
        let Some(shared) = weak.upgrade() else { return };
        let waiting = matches!(shared.borrow().state, ReadyState::Reconnecting { .. })
            && !shared.borrow().following();
        if waiting {
            shared.borrow_mut().backoff.opened();
            start(&shared);
        }
    });
    let mut conn = shared.borrow_mut();
    let doc_target: web_sys::EventTarget = document.into();
    let win_target: web_sys::EventTarget = w.into();
    let mut listeners = vec![
        (doc_target.clone(), "visibilitychange", on_visibility),
        (win_target.clone(), "online", on_online),
    ];
    if conn.settings.share_across_tabs {
        listeners.push((win_target.clone(), "pagehide", on_away(shared)));
        listeners.push((win_target, "pageshow", on_back(shared)));
        // Page Lifecycle events (Chromium): a frozen tab runs no code, so a leader hands over before it.
        listeners.push((doc_target.clone(), "freeze", on_away(shared)));
        listeners.push((doc_target, "resume", on_back(shared)));
    }
    for (target, name, callback) in listeners {
        if target
            .add_event_listener_with_callback(name, callback.as_ref().unchecked_ref())
            .is_ok()
        {
            conn.page_listeners.push((target, name, callback));
        }
    }
}

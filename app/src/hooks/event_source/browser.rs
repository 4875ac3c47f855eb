//! The browser half of `use_event_source`, its connection: one per URL, shared by the components that ask for
//! it, with its `EventSource`, handlers and timers (backoff, stale detection), and the page events it follows.
//!
//! Components that ask for the same URL share one connection (browsers allow only ~6 HTTP/1.1 connections per
//! origin): each is a [`Subscriber`] of it, with its own signals, named events and callbacks. The connection
//! runs while at least one subscriber is active and is closed with the last one.
//!
//! Shared across tabs ([`sharing`]), a connection is either the leader's, which runs the `EventSource` exactly
//! as a lone tab does and relays what it receives, or a follower's, which opens nothing and mirrors what the
//! leader relays. Every tab delivers events through the same path, [`deliver`], which drops what the tab has
//! already seen, so a hand-over (the new leader resumes from its own last id) repeats and loses nothing.
//!
//! Every handler is a `Closure` kept in [`Handlers`]; a torn-down source's handlers are parked in `retired` and
//! freed at the next connect (a closure may not be dropped while it runs), so a reconnect leaks nothing. A
//! tab's channel is parked the same way when it stops sharing.

mod sharing;

use super::handover::{is_fresh, Note, Relayed, Ring, Seen, Term, RING_CAPACITY};
use super::{Backoff, Control, ReadyState, SseError, SseMessage, UseEventSourceOptions};
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use sharing::Share;
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::Duration;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{EventSource, EventSourceInit, MessageEvent};

/// The signals one subscriber's hook writes to.
pub(super) struct SubscriberSignals {
    pub ready_state: RwSignal<ReadyState>,
    pub message: RwSignal<Option<SseMessage>>,
    pub error: RwSignal<Option<SseError>>,
    pub last_event_id: RwSignal<Option<String>>,
    pub latest: RwSignal<HashMap<String, SseMessage>>,
}

type Callback = Closure<dyn FnMut(web_sys::Event)>;

struct Subscriber {
    id: u64,
    signals: SubscriberSignals,
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

/// A timer set with Leptos's helpers that is cancelled when dropped, so the field holding it owns it: emptying
/// the field cancels it. Leptos hands the callback to JavaScript, which frees it once it has run (or, when
/// cancelled, once it is unreachable), so a callback may drop its own timer.
enum Timer {
    Once(TimeoutHandle),
    Every(IntervalHandle),
}

impl Timer {
    /// Runs `f` once, `delay_ms` from now.
    fn once(delay_ms: i32, f: impl FnOnce() + 'static) -> Option<Timer> {
        set_timeout_with_handle(f, millis(delay_ms.max(0)))
            .ok()
            .map(Timer::Once)
    }

    /// Runs `f` every `every_ms`.
    fn every(every_ms: i32, f: impl Fn() + 'static) -> Option<Timer> {
        set_interval_with_handle(f, millis(every_ms.max(1)))
            .ok()
            .map(Timer::Every)
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        match self {
            Timer::Once(timeout) => timeout.clear(),
            Timer::Every(interval) => interval.clear(),
        }
    }
}

fn millis(ms: i32) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
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
    /// This tab's part in a stream shared across tabs.
    share: Option<Share>,
    page_listeners: Vec<(web_sys::EventTarget, &'static str, Callback)>,
}

/// The connection as its subscribers hold it; its handlers and timers hold it weakly.
type ConnHandle = Rc<RefCell<Conn>>;

thread_local! {
    static CONNECTIONS: RefCell<HashMap<String, Weak<RefCell<Conn>>>> = RefCell::new(HashMap::new());
}

pub(super) fn connect(
    url: &str,
    options: UseEventSourceOptions,
    signals: SubscriberSignals,
) -> Control {
    let key = format!("{url}\u{0}{}", options.with_credentials);
    let existing = CONNECTIONS.with(|c| c.borrow().get(&key).and_then(Weak::upgrade));
    let handle = existing.unwrap_or_else(|| {
        let resume_from = options.resume_from.clone();
        let handle: ConnHandle = Rc::new(RefCell::new(Conn {
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
            listen_to_page(&handle);
        }
        CONNECTIONS.with(|c| c.borrow_mut().insert(key, Rc::downgrade(&handle)));
        handle
    });

    let immediate = options.immediate;
    let id = {
        let mut conn = handle.borrow_mut();
        // A subscriber that asks to share, arriving before the connection started, sets it up: which
        // component of a page subscribes first should not decide whether its tabs share.
        if options.share_across_tabs && !conn.settings.share_across_tabs && !conn.started {
            conn.settings = options.clone();
            conn.seen = Seen::new(options.resume_from.clone());
            conn.ring = Ring::new(options.resume_from.clone(), RING_CAPACITY);
            if conn.page_listeners.is_empty() {
                drop(conn);
                listen_to_page(&handle);
                conn = handle.borrow_mut();
            }
        }
        let id = conn.next_id;
        conn.next_id += 1;
        // A late joiner starts from what the connection already knows.
        if immediate && conn.state != ReadyState::Closed {
            signals.ready_state.set(conn.state);
        }
        if let Some(last) = conn.seen.last() {
            signals.last_event_id.set(Some(last.to_owned()));
        }
        conn.subscribers.push(Subscriber {
            id,
            signals,
            events: options.events.clone(),
            options,
            active: false,
        });
        id
    };

    if immediate {
        // Connect after hydration: effects run only in the browser, once the DOM is live.
        let handle = SendWrapper::new(handle.clone());
        Effect::new(move |_| attach(&handle, id));
    }
    {
        let handle = SendWrapper::new(handle.clone());
        on_cleanup(move || leave(&handle, id));
    }

    let open = SendWrapper::new(handle.clone());
    let close = SendWrapper::new(handle);
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
        self.share.as_ref().is_some_and(Share::following)
    }

    fn leader_term(&self) -> Option<Term> {
        self.share.as_ref().and_then(Share::leader_term)
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
        if let Some(remote_events) = self.share.as_ref().and_then(Share::remote_events) {
            names.extend(remote_events.iter().cloned());
        }
        names
    }

    fn post(&self, note: &Note) {
        if let Some(share) = &self.share {
            share.post(note);
        }
    }

    fn set_state(&mut self, state: ReadyState) {
        self.state = state;
        for sub in self.subscribers.iter().filter(|s| s.active) {
            sub.signals.ready_state.set(state);
        }
        self.relay_state();
    }

    fn set_error(&mut self, error: Option<SseError>) {
        for sub in self.subscribers.iter().filter(|s| s.active) {
            sub.signals.error.set(error.clone());
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
fn attach(handle: &ConnHandle, id: u64) {
    let (connect_now, join) = {
        let mut conn = handle.borrow_mut();
        conn.started = true;
        conn.retired_shares.clear();
        let state = conn.state;
        if let Some(sub) = conn.subscribers.iter_mut().find(|s| s.id == id) {
            sub.active = true;
            sub.signals.ready_state.set(state);
        }
        let names = conn.wanted_events();
        add_listeners(handle, &mut conn, &names);
        let join = conn.settings.share_across_tabs && !conn.sharing() && sharing::supported();
        if conn.following() {
            // The leader must listen to this subscriber's events too.
            let note = sharing::presence(&conn);
            conn.post(&note);
        }
        let idle = conn.current.is_none() && conn.retry_timer.is_none() && !conn.paused;
        (idle && !conn.following() && !join, join)
    };
    if join {
        sharing::join_tabs(handle);
    } else if connect_now {
        start(handle);
    }
}

/// Detaches a subscriber (`close()`); the connection closes with its last active subscriber. When shared, this
/// tab leaves the shared stream and the others carry on.
fn detach(handle: &ConnHandle, id: u64) {
    let idle = {
        let mut conn = handle.borrow_mut();
        if let Some(sub) = conn.subscribers.iter_mut().find(|s| s.id == id) {
            sub.active = false;
            sub.signals.ready_state.set(ReadyState::Closed);
        }
        !conn.active()
    };
    if idle {
        sharing::leave_tabs(handle);
        teardown(handle);
        handle.borrow_mut().state = ReadyState::Closed;
    }
}

/// The subscriber's component is gone: forget it; the last one out closes everything.
fn leave(handle: &ConnHandle, id: u64) {
    detach(handle, id);
    let mut conn = handle.borrow_mut();
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
fn start(handle: &ConnHandle) {
    let from = handle.borrow().seen.last().map(str::to_owned);
    start_from(handle, from);
}

/// Opens a new `EventSource` resuming after `from` (none: a fresh stream).
fn start_from(handle: &ConnHandle, from: Option<String>) {
    teardown(handle);
    let mut conn = handle.borrow_mut();
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
        let weak = Rc::downgrade(handle);
        Callback::new(move |_: web_sys::Event| {
            if let Some(handle) = weak.upgrade() {
                opened(&handle);
            }
        })
    };
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    callbacks.push(on_open);
    let on_error = {
        let weak = Rc::downgrade(handle);
        Callback::new(move |_: web_sys::Event| {
            if let Some(handle) = weak.upgrade() {
                dropped(&handle, SseError::Dropped);
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
    add_listeners(handle, &mut conn, &names);
    drop(conn);
    arm_stale_timer(handle);
}

/// Registers a listener for each name the current source does not listen to yet.
fn add_listeners(handle: &ConnHandle, conn: &mut Conn, names: &BTreeSet<String>) {
    let Some(handlers) = conn.current.as_mut() else {
        return;
    };
    for name in names {
        if handlers.listening.contains(name) {
            continue;
        }
        let weak = Rc::downgrade(handle);
        let event_name = name.clone();
        let on_event = Callback::new(move |event: web_sys::Event| {
            let (Some(handle), Some(event)) = (weak.upgrade(), event.dyn_ref::<MessageEvent>())
            else {
                return;
            };
            received(&handle, &event_name, event);
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

fn opened(handle: &ConnHandle) {
    let mut conn = handle.borrow_mut();
    conn.backoff.opened();
    conn.set_error(None);
    conn.set_state(ReadyState::Open);
    drop(conn);
    arm_stale_timer(handle);
}

/// An event from this tab's own `EventSource`: relayed to the other tabs when leading, then delivered here.
fn received(handle: &ConnHandle, name: &str, event: &MessageEvent) {
    let relayed = {
        let mut conn = handle.borrow_mut();
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
        if let Some(share) = conn.share.as_mut() {
            share.relay(&mut relayed);
        }
        relayed
    };
    deliver(handle, relayed);
    arm_stale_timer(handle);
}

/// Hands one event to this tab's subscribers, unless this tab has already delivered it.
fn deliver(handle: &ConnHandle, relayed: Relayed) {
    let name = relayed.event.as_str();
    let callbacks: Vec<_> = {
        let mut conn = handle.borrow_mut();
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
    let conn = handle.borrow();
    for sub in conn.subscribers.iter().filter(|s| s.active) {
        if !id.is_empty() {
            sub.signals.last_event_id.set(Some(id.clone()));
        }
        if name == "message" || sub.events.iter().any(|e| e == name) {
            sub.signals.latest.update(|m| {
                m.insert(name.to_owned(), message.clone());
            });
            sub.signals.message.set(Some(message.clone()));
        }
    }
}

/// The connection is gone (error, silence): retire it and schedule the next attempt under the policy.
fn dropped(handle: &ConnHandle, why: SseError) {
    teardown(handle);
    let mut conn = handle.borrow_mut();
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
            let weak = Rc::downgrade(handle);
            let timer = Timer::once(delay_ms, move || {
                if let Some(handle) = weak.upgrade() {
                    handle.borrow_mut().retry_timer = None;
                    start(&handle);
                }
            });
            handle.borrow_mut().retry_timer = timer;
        }
        None => {
            let attempts = policy.max_attempts.unwrap_or(0);
            conn.set_error(Some(SseError::GaveUp(attempts)));
            conn.set_state(ReadyState::Closed);
            drop(conn);
            give_up(handle);
        }
    }
}

/// The policy gave up (here, or in the leader's tab): every subscriber hears `on_failed` and is detached.
fn give_up(handle: &ConnHandle) {
    let failed: Vec<_> = {
        let mut conn = handle.borrow_mut();
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
    sharing::leave_tabs(handle);
    for on_failed in failed {
        on_failed();
    }
}

/// Closes the current source and cancels timers. Handlers are parked, not dropped: one of them may be running.
fn teardown(handle: &ConnHandle) {
    let mut conn = handle.borrow_mut();
    if let Some(handlers) = conn.current.take() {
        handlers.source.close();
        handlers.source.set_onopen(None);
        handlers.source.set_onerror(None);
        conn.retired.push(handlers);
    }
    conn.retry_timer = None;
    conn.stale_timer = None;
}

/// (Re)starts the silence timer: no event before it fires means the stream is dead.
fn arm_stale_timer(handle: &ConnHandle) {
    let mut conn = handle.borrow_mut();
    let Some(after) = conn.settings.stale_after else {
        return;
    };
    if conn.current.is_none() {
        return;
    }
    conn.stale_timer = None;
    let weak = Rc::downgrade(handle);
    let delay_ms = after.as_millis().min(i32::MAX as u128) as i32;
    conn.stale_timer = Timer::once(delay_ms, move || {
        if let Some(handle) = weak.upgrade() {
            handle.borrow_mut().stale_timer = None;
            dropped(&handle, SseError::Stale(after));
        }
    });
}

/// This tab was shown or hidden, or another tab said so: pause the stream while every tab is hidden.
fn visibility_changed(handle: &ConnHandle) {
    let (pause, resume) = {
        let conn = handle.borrow();
        if !conn.settings.pause_when_hidden || !conn.active() {
            return;
        }
        let all_hidden = match &conn.share {
            Some(share) => match share.visible_tabs() {
                Some(visible) => document_hidden() && visible.is_empty(),
                None => return,
            },
            None => document_hidden(),
        };
        (all_hidden && !conn.paused, !all_hidden && conn.paused)
    };
    if pause {
        teardown(handle);
        let mut conn = handle.borrow_mut();
        conn.paused = true;
        conn.set_state(ReadyState::Closed);
    } else if resume {
        let mut conn = handle.borrow_mut();
        conn.paused = false;
        conn.backoff.opened();
        conn.set_state(ReadyState::Connecting);
        drop(conn);
        start(handle);
    }
}

/// Pause while hidden; come back at once when visible or back online. When sharing, also hand over before the
/// page goes into the back-forward cache or is frozen, and rejoin when it comes back.
fn listen_to_page(handle: &ConnHandle) {
    let Some(w) = window() else { return };
    let Some(document) = w.document() else { return };
    let weak = Rc::downgrade(handle);
    let on_visibility = Callback::new(move |_: web_sys::Event| {
        let Some(handle) = weak.upgrade() else { return };
        {
            let conn = handle.borrow();
            if conn.sharing() {
                conn.post(&sharing::presence(&conn));
            }
        }
        visibility_changed(&handle);
    });
    let weak = Rc::downgrade(handle);
    let on_online = Callback::new(move |_: web_sys::Event| {
        let Some(handle) = weak.upgrade() else { return };
        let waiting = matches!(handle.borrow().state, ReadyState::Reconnecting { .. })
            && !handle.borrow().following();
        if waiting {
            handle.borrow_mut().backoff.opened();
            start(&handle);
        }
    });
    let mut conn = handle.borrow_mut();
    let doc_target: web_sys::EventTarget = document.into();
    let win_target: web_sys::EventTarget = w.into();
    let mut listeners = vec![
        (doc_target.clone(), "visibilitychange", on_visibility),
        (win_target.clone(), "online", on_online),
    ];
    if conn.settings.share_across_tabs {
        listeners.push((win_target.clone(), "pagehide", sharing::on_away(handle)));
        listeners.push((win_target, "pageshow", sharing::on_back(handle)));
        // Page Lifecycle events (Chromium): a frozen tab runs no code, so a leader hands over before it.
        listeners.push((doc_target.clone(), "freeze", sharing::on_away(handle)));
        listeners.push((doc_target, "resume", sharing::on_back(handle)));
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

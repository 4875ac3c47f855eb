//! The browser half of `use_event_source`: one shared connection per URL, its `EventSource`, handlers and timers.
//!
//! Components that ask for the same URL share one connection (browsers allow only ~6 HTTP/1.1 connections per
//! origin): each is a [`Subscriber`] of it, with its own signals, named events and callbacks. The connection
//! runs while at least one subscriber is active and is closed with the last one.
//!
//! Every handler is a `Closure` kept in [`Handlers`]; a torn-down source's handlers are parked in `retired` and
//! freed at the next connect (a closure may not be dropped while it runs), so a reconnect leaks nothing.

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
    _callback: Closure<dyn FnMut()>,
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
    backoff: Backoff,
    retry_timer: Option<Timer>,
    stale_timer: Option<Timer>,
    /// Closed because the tab is hidden.
    paused: bool,
    state: ReadyState,
    last_id: Option<String>,
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
        let shared: Shared = Rc::new(RefCell::new(Conn {
            key: key.clone(),
            url: url.to_owned(),
            settings: options.clone(),
            subscribers: Vec::new(),
            next_id: 0,
            current: None,
            retired: Vec::new(),
            backoff: Backoff::default(),
            retry_timer: None,
            stale_timer: None,
            paused: false,
            state: ReadyState::Closed,
            last_id: None,
            page_listeners: Vec::new(),
        }));
        if options.pause_when_hidden {
            listen_to_page(&shared);
        }
        CONNECTIONS.with(|c| c.borrow_mut().insert(key, Rc::downgrade(&shared)));
        shared
    });

    let immediate = options.immediate;
    let id = {
        let mut conn = shared.borrow_mut();
        let id = conn.next_id;
        conn.next_id += 1;
        // A late joiner starts from what the connection already knows.
        if immediate && conn.state != ReadyState::Closed {
            sinks.ready_state.set(conn.state);
        }
        if let Some(last) = conn.last_id.clone() {
            sinks.last_event_id.set(Some(last));
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

    /// Every event name some active subscriber listens to, plus the unnamed `message`.
    fn wanted_events(&self) -> BTreeSet<String> {
        let named = self
            .subscribers
            .iter()
            .filter(|s| s.active)
            .flat_map(|s| s.events.iter().cloned());
        std::iter::once("message".to_owned()).chain(named).collect()
    }

    fn set_state(&mut self, state: ReadyState) {
        self.state = state;
        for sub in self.subscribers.iter().filter(|s| s.active) {
            sub.sinks.ready_state.set(state);
        }
    }

    fn set_error(&self, error: Option<SseError>) {
        for sub in self.subscribers.iter().filter(|s| s.active) {
            sub.sinks.error.set(error.clone());
        }
    }
}

/// Makes a subscriber active, connecting if the connection is not up or on its way.
fn attach(shared: &Shared, id: u64) {
    let connect_now = {
        let mut conn = shared.borrow_mut();
        let state = conn.state;
        if let Some(sub) = conn.subscribers.iter_mut().find(|s| s.id == id) {
            sub.active = true;
            sub.sinks.ready_state.set(state);
        }
        let names = conn.wanted_events();
        add_listeners(shared, &mut conn, &names);
        conn.current.is_none() && conn.retry_timer.is_none() && !conn.paused
    };
    if connect_now {
        start(shared);
    }
}

/// Detaches a subscriber (`close()`); the connection closes with its last active subscriber.
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

/// Opens a new `EventSource`, replacing any current one.
fn start(shared: &Shared) {
    teardown(shared);
    let mut conn = shared.borrow_mut();
    if !conn.active() || conn.paused {
        return;
    }
    // Handlers retired by the previous source are not running now: free them.
    conn.retired.clear();
    let url = resume_url(
        &conn.url,
        conn.settings.resume_param.as_deref(),
        conn.last_id.as_deref(),
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

fn received(shared: &Shared, name: &str, event: &MessageEvent) {
    let id = event.last_event_id();
    let message = SseMessage {
        event: name.to_owned(),
        data: event.data().as_string().unwrap_or_default(),
        last_event_id: id.clone(),
    };
    let callbacks: Vec<_> = {
        let mut conn = shared.borrow_mut();
        if !id.is_empty() {
            conn.last_id = Some(id.clone());
        }
        let wants =
            |s: &Subscriber| s.active && (name == "message" || s.events.iter().any(|e| e == name));
        conn.subscribers
            .iter()
            .filter(|s| wants(s))
            .filter_map(|s| s.options.on_message.clone())
            .collect()
    };
    // Callbacks run without a borrow held, so they may call open() or close().
    for callback in callbacks {
        callback(&message);
    }
    {
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
    arm_stale_timer(shared);
}

/// The connection is gone (error, silence): retire it and schedule the next attempt under the policy.
fn dropped(shared: &Shared, why: SseError) {
    teardown(shared);
    let mut conn = shared.borrow_mut();
    if !conn.active() || conn.paused {
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
            let failed: Vec<_> = conn
                .subscribers
                .iter()
                .filter(|s| s.active)
                .filter_map(|s| s.options.on_failed.clone())
                .collect();
            for sub in conn.subscribers.iter_mut() {
                sub.active = false;
            }
            drop(conn);
            for on_failed in failed {
                on_failed();
            }
        }
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
    for timer in [conn.retry_timer.take(), conn.stale_timer.take()]
        .into_iter()
        .flatten()
    {
        if let Some(w) = window() {
            w.clear_timeout_with_handle(timer.id);
        }
    }
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
    if let (Some(timer), Some(w)) = (conn.stale_timer.take(), window()) {
        w.clear_timeout_with_handle(timer.id);
    }
    let weak = Rc::downgrade(shared);
    let delay_ms = after.as_millis().min(i32::MAX as u128) as i32;
    conn.stale_timer = set_timer(delay_ms, move || {
        if let Some(shared) = weak.upgrade() {
            shared.borrow_mut().stale_timer = None;
            dropped(&shared, SseError::Stale(after));
        }
    });
}

/// Pause while hidden; come back at once when visible or back online.
fn listen_to_page(shared: &Shared) {
    let Some(w) = window() else { return };
    let Some(document) = w.document() else { return };
    let weak = Rc::downgrade(shared);
    let doc = document.clone();
    let on_visibility = Callback::new(move |_: web_sys::Event| {
        let Some(shared) = weak.upgrade() else { return };
        if doc.visibility_state() == web_sys::VisibilityState::Hidden {
            teardown(&shared);
            let mut conn = shared.borrow_mut();
            conn.paused = true;
            if conn.active() {
                conn.set_state(ReadyState::Closed);
            }
        } else if shared.borrow().paused {
            let mut conn = shared.borrow_mut();
            conn.paused = false;
            conn.backoff.opened();
            if conn.active() {
                conn.set_state(ReadyState::Connecting);
            }
            drop(conn);
            start(&shared);
        }
    });
    let weak = Rc::downgrade(shared);
    let on_online = Callback::new(move |_: web_sys::Event| {
        let Some(shared) = weak.upgrade() else { return };
        let waiting = matches!(shared.borrow().state, ReadyState::Reconnecting { .. });
        if waiting {
            shared.borrow_mut().backoff.opened();
            start(&shared);
        }
    });
    let mut conn = shared.borrow_mut();
    let doc_target: web_sys::EventTarget = document.into();
    let win_target: web_sys::EventTarget = w.into();
    for (target, name, callback) in [
        (doc_target, "visibilitychange", on_visibility),
        (win_target, "online", on_online),
    ] {
        if target
            .add_event_listener_with_callback(name, callback.as_ref().unchecked_ref())
            .is_ok()
        {
            conn.page_listeners.push((target, name, callback));
        }
    }
}

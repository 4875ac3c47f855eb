//! The browser half of `use_event_source`: owns one `EventSource` at a time, its handlers and timers.
//!
//! Every handler is a `Closure` kept in [`Handlers`]; a torn-down connection's handlers are parked in `retired`
//! and freed at the next connect (a closure may not be dropped while it runs), so a reconnect leaks nothing.

use super::{Backoff, Control, ReadyState, SseError, SseMessage, UseEventSourceOptions};
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{EventSource, EventSourceInit, MessageEvent};

/// The signals the hook writes to.
pub(super) struct Sinks {
    pub ready_state: RwSignal<ReadyState>,
    pub message: RwSignal<Option<SseMessage>>,
    pub error: RwSignal<Option<SseError>>,
    pub last_event_id: RwSignal<Option<String>>,
    pub latest: RwSignal<HashMap<String, SseMessage>>,
}

type Callback = Closure<dyn FnMut(web_sys::Event)>;

/// One connection's `EventSource` and the closures registered on it.
struct Handlers {
    source: EventSource,
    _callbacks: Vec<Callback>,
}

struct Timer {
    id: i32,
    _callback: Closure<dyn FnMut()>,
}

struct Inner {
    url: String,
    options: UseEventSourceOptions,
    sinks: Sinks,
    current: Option<Handlers>,
    retired: Vec<Handlers>,
    backoff: Backoff,
    retry_timer: Option<Timer>,
    stale_timer: Option<Timer>,
    /// `close()` was called: stay closed until `open()`.
    stopped: bool,
    /// Closed because the tab is hidden.
    paused: bool,
    last_id: Option<String>,
    page_listeners: Vec<(web_sys::EventTarget, &'static str, Callback)>,
}

type Shared = Rc<RefCell<Inner>>;

pub(super) fn connect(url: &str, options: UseEventSourceOptions, sinks: Sinks) -> Control {
    let immediate = options.immediate;
    let pause_when_hidden = options.pause_when_hidden;
    let inner: Shared = Rc::new(RefCell::new(Inner {
        url: url.to_owned(),
        options,
        sinks,
        current: None,
        retired: Vec::new(),
        backoff: Backoff::default(),
        retry_timer: None,
        stale_timer: None,
        stopped: !immediate,
        paused: false,
        last_id: None,
        page_listeners: Vec::new(),
    }));

    if pause_when_hidden {
        listen_to_page(&inner);
    }
    if immediate {
        // Connect after hydration: effects run only in the browser, once the DOM is live.
        let shared = SendWrapper::new(inner.clone());
        Effect::new(move |_| start(&shared));
    }
    {
        let shared = SendWrapper::new(inner.clone());
        on_cleanup(move || shutdown(&shared));
    }

    let open = SendWrapper::new(inner.clone());
    let close = SendWrapper::new(inner);
    Control {
        open: Arc::new(move || {
            open.borrow_mut().stopped = false;
            open.borrow_mut().backoff.opened();
            start(&open);
        }),
        close: Arc::new(move || {
            close.borrow_mut().stopped = true;
            teardown(&close);
            close.borrow().sinks.ready_state.set(ReadyState::Closed);
        }),
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

/// Opens a new `EventSource`, replacing any current one.
fn start(shared: &Shared) {
    teardown(shared);
    let mut inner = shared.borrow_mut();
    if inner.stopped || inner.paused {
        return;
    }
    // Handlers retired by the previous connection are not running now: free them.
    inner.retired.clear();
    let url = resume_url(
        &inner.url,
        inner.options.resume_param.as_deref(),
        inner.last_id.as_deref(),
    );
    let init = EventSourceInit::new();
    init.set_with_credentials(inner.options.with_credentials);
    let source = match EventSource::new_with_event_source_init_dict(&url, &init) {
        Ok(source) => source,
        Err(e) => {
            let reason = e.as_string().unwrap_or_else(|| format!("{e:?}"));
            inner.sinks.error.set(Some(SseError::Open(reason)));
            inner.sinks.ready_state.set(ReadyState::Closed);
            return;
        }
    };
    if !matches!(
        inner.sinks.ready_state.get_untracked(),
        ReadyState::Reconnecting { .. }
    ) {
        inner.sinks.ready_state.set(ReadyState::Connecting);
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

    let names = std::iter::once("message".to_owned()).chain(inner.options.events.iter().cloned());
    for name in names {
        let weak = Rc::downgrade(shared);
        let event_name = name.clone();
        let on_event = Callback::new(move |event: web_sys::Event| {
            let (Some(shared), Some(event)) = (weak.upgrade(), event.dyn_ref::<MessageEvent>())
            else {
                return;
            };
            received(&shared, &event_name, event);
        });
        if source
            .add_event_listener_with_callback(&name, on_event.as_ref().unchecked_ref())
            .is_ok()
        {
            callbacks.push(on_event);
        }
    }

    inner.current = Some(Handlers {
        source,
        _callbacks: callbacks,
    });
    drop(inner);
    arm_stale_timer(shared);
}

fn opened(shared: &Shared) {
    let mut inner = shared.borrow_mut();
    inner.backoff.opened();
    inner.sinks.error.set(None);
    inner.sinks.ready_state.set(ReadyState::Open);
    drop(inner);
    arm_stale_timer(shared);
}

fn received(shared: &Shared, name: &str, event: &MessageEvent) {
    let data = event.data().as_string().unwrap_or_default();
    let id = event.last_event_id();
    let message = SseMessage {
        event: name.to_owned(),
        data,
        last_event_id: id.clone(),
    };
    let on_message = {
        let mut inner = shared.borrow_mut();
        if !id.is_empty() {
            inner.last_id = Some(id.clone());
        }
        inner.options.on_message.clone()
    };
    // The callback runs without a borrow held, so it may call open() or close().
    if let Some(callback) = on_message {
        callback(&message);
    }
    {
        let inner = shared.borrow();
        if !id.is_empty() {
            inner.sinks.last_event_id.set(Some(id));
        }
        inner.sinks.latest.update(|m| {
            m.insert(name.to_owned(), message.clone());
        });
        inner.sinks.message.set(Some(message));
    }
    arm_stale_timer(shared);
}

/// The connection is gone (error, silence): retire it and schedule the next attempt under the policy.
fn dropped(shared: &Shared, why: SseError) {
    teardown(shared);
    let mut inner = shared.borrow_mut();
    if inner.stopped || inner.paused {
        return;
    }
    inner.sinks.error.set(Some(why));
    let policy = inner.options.reconnect.clone();
    match inner.backoff.dropped(&policy, js_sys::Math::random()) {
        Some((attempt, delay)) => {
            let delay_ms = delay.as_millis().min(i32::MAX as u128) as i32;
            inner.sinks.ready_state.set(ReadyState::Reconnecting {
                attempt,
                retry_at_ms: now_ms() + f64::from(delay_ms),
            });
            drop(inner);
            let weak = Rc::downgrade(shared);
            let timer = set_timer(delay_ms, move || {
                if let Some(shared) = weak.upgrade() {
                    start(&shared);
                }
            });
            shared.borrow_mut().retry_timer = timer;
        }
        None => {
            let attempts = policy.max_attempts.unwrap_or(0);
            inner.stopped = true;
            inner.sinks.error.set(Some(SseError::GaveUp(attempts)));
            inner.sinks.ready_state.set(ReadyState::Closed);
            let on_failed = inner.options.on_failed.clone();
            drop(inner);
            if let Some(on_failed) = on_failed {
                on_failed();
            }
        }
    }
}

/// Closes the current source and cancels timers. Handlers are parked, not dropped: one of them may be running.
fn teardown(shared: &Shared) {
    let mut inner = shared.borrow_mut();
    if let Some(handlers) = inner.current.take() {
        handlers.source.close();
        handlers.source.set_onopen(None);
        handlers.source.set_onerror(None);
        inner.retired.push(handlers);
    }
    for timer in [inner.retry_timer.take(), inner.stale_timer.take()]
        .into_iter()
        .flatten()
    {
        if let Some(w) = window() {
            w.clear_timeout_with_handle(timer.id);
        }
    }
}

fn shutdown(shared: &Shared) {
    shared.borrow_mut().stopped = true;
    teardown(shared);
    let mut inner = shared.borrow_mut();
    for (target, name, callback) in inner.page_listeners.drain(..) {
        let _ = target.remove_event_listener_with_callback(name, callback.as_ref().unchecked_ref());
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
    let mut inner = shared.borrow_mut();
    let Some(after) = inner.options.stale_after else {
        return;
    };
    if inner.current.is_none() {
        return;
    }
    if let (Some(timer), Some(w)) = (inner.stale_timer.take(), window()) {
        w.clear_timeout_with_handle(timer.id);
    }
    let weak = Rc::downgrade(shared);
    let delay_ms = after.as_millis().min(i32::MAX as u128) as i32;
    inner.stale_timer = set_timer(delay_ms, move || {
        if let Some(shared) = weak.upgrade() {
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
        let hidden = doc.visibility_state() == web_sys::VisibilityState::Hidden;
        if hidden {
            shared.borrow_mut().paused = true;
            teardown(&shared);
        } else if shared.borrow().paused {
            shared.borrow_mut().paused = false;
            shared.borrow_mut().backoff.opened();
            start(&shared);
        }
    });
    let weak = Rc::downgrade(shared);
    let on_online = Callback::new(move |_: web_sys::Event| {
        let Some(shared) = weak.upgrade() else { return };
        let waiting = matches!(
            shared.borrow().sinks.ready_state.get_untracked(),
            ReadyState::Reconnecting { .. }
        );
        if waiting {
            shared.borrow_mut().backoff.opened();
            start(&shared);
        }
    });
    let mut inner = shared.borrow_mut();
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
            inner.page_listeners.push((target, name, callback));
        }
    }
}

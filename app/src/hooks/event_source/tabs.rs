//! The two browser APIs that tabs share a stream through, wrapped thinly: a `BroadcastChannel` that carries
//! [`Note`]s between the tabs of one origin in one browser, and a Web Lock whose holder is the leader. They
//! know nothing of the hook; `browser/sharing.rs` decides what to do with them.
//!
//! The Web Locks API is reached through `Reflect` rather than web-sys's `LockManager`, which web-sys builds
//! only with an unstable-API cfg flag: three calls do not justify a flag on every build.

use super::handover::Note;
use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BroadcastChannel, MessageEvent};

fn locks() -> Option<JsValue> {
    let navigator = web_sys::window()?.navigator();
    Reflect::get(&navigator, &"locks".into())
        .ok()
        .filter(|l| !l.is_undefined() && !l.is_null())
}

/// Whether this browser can share: both APIs present (older Safari, some embedded views lack one).
pub(super) fn supported() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let channel = Reflect::get(&window, &"BroadcastChannel".into())
        .map(|c| c.is_function())
        .unwrap_or(false);
    channel && locks().is_some()
}

/// One end of the channel; closed when dropped.
pub(super) struct Channel {
    channel: BroadcastChannel,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

impl Channel {
    /// Joins the channel `name`; `on_note` gets every note other tabs post (never this tab's own).
    pub(super) fn open(name: &str, mut on_note: impl FnMut(Note) + 'static) -> Option<Channel> {
        let channel = BroadcastChannel::new(name).ok()?;
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(note) = event.data().as_string().and_then(|t| Note::decode(&t)) {
                on_note(note);
            }
        });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        Some(Channel {
            channel,
            _on_message: on_message,
        })
    }

    pub(super) fn post(&self, note: &Note) {
        // A closed channel or an uncloneable value is the only failure; neither happens with a string.
        let _ = self
            .channel
            .post_message(&JsValue::from_str(&note.encode()));
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}

/// The held lock: released when dropped (or by the browser when the tab goes away), so no path can keep it by
/// forgetting it.
pub(super) struct Lock {
    release: Function,
}

impl Lock {
    pub(super) fn release(self) {}
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.release.call0(&JsValue::NULL);
    }
}

/// Asks for the lock `name`: queued behind its holder, or taken from it when `steal` (the holder's request
/// then fails, which is how a frozen leader that wakes up learns it was replaced). `granted` runs when this
/// tab gets the lock; `lost` when a lock it got is stolen. Returns false if the request could not be made.
pub(super) fn request_lock(
    name: &str,
    steal: bool,
    granted: impl FnOnce(Lock) + 'static,
    lost: impl FnOnce() + 'static,
) -> bool {
    let options = Object::new();
    if steal && Reflect::set(&options, &"steal".into(), &JsValue::TRUE).is_err() {
        return false;
    }
    call_request(
        name,
        &options,
        move |lock| {
            if let Some(lock) = lock {
                granted(lock);
            }
        },
        lost,
    )
}

/// Takes the lock `name` only if nobody holds it: `granted` gets `None` when it is held.
pub(super) fn try_lock(name: &str, granted: impl FnOnce(Option<Lock>) + 'static) -> bool {
    let options = Object::new();
    if Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE).is_err() {
        return false;
    }
    call_request(name, &options, granted, || {})
}

/// `navigator.locks.request(name, options, callback)`, with the callback's promise as the lock's lifetime.
///
/// Each request leaves two small one-shot callbacks with the browser until it settles; a tab makes a handful
/// in its life, so they are not tracked.
fn call_request(
    name: &str,
    options: &Object,
    granted: impl FnOnce(Option<Lock>) + 'static,
    lost: impl FnOnce() + 'static,
) -> bool {
    let made = (|| {
        let locks = locks()?;
        let request: Function = Reflect::get(&locks, &"request".into())
            .ok()?
            .dyn_into()
            .ok()?;
        let callback = Closure::once_into_js(move |lock: JsValue| -> JsValue {
            if lock.is_null() || lock.is_undefined() {
                granted(None);
                return JsValue::UNDEFINED;
            }
            let mut release = None;
            // The lock is held until this promise settles: resolving it is releasing the lock.
            let held = Promise::new(&mut |resolve, _reject| release = Some(resolve));
            if let Some(release) = release {
                granted(Some(Lock { release }));
            }
            held.into()
        });
        let pending = request
            .call3(&locks, &JsValue::from_str(name), options, &callback)
            .ok()?;
        let then: Function = Reflect::get(&pending, &"then".into())
            .ok()?
            .dyn_into()
            .ok()?;
        let on_done = Closure::once_into_js(|_: JsValue| {});
        let on_lost = Closure::once_into_js(move |_: JsValue| lost());
        then.call2(&pending, &on_done, &on_lost).ok()
    })();
    made.is_some()
}

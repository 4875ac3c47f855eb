//! The tab's part in a stream shared across tabs: joining and leaving, the Web Lock that makes one tab the
//! leader, its heartbeat, the followers' watch on it, and carrying out what the rules in `handover.rs` decide
//! when a note arrives from another tab.
//!
//! The leader (the tab holding the lock) runs the connection's `EventSource` exactly as a lone tab does and
//! relays every event and every state change over the channel; followers open nothing and mirror what it
//! relays. A follower that hears nothing from the leader for a while (a frozen tab keeps its lock) takes the
//! lock from it. The term and role decisions are pure ([`Standing::on_note`]); this file holds the browser
//! objects they steer: the channel, the lock, the timers.

use super::{
    add_listeners, deliver, document_hidden, give_up, now_ms, start, start_from, teardown,
    visibility_changed, Callback, Conn, ConnHandle, Timer,
};
use crate::hooks::event_source::handover::{
    Note, Relayed, Role, Standing, Step, Term, WIRE_VERSION,
};
use crate::hooks::event_source::tabs::{self, Channel, Lock};
use crate::hooks::event_source::ReadyState;
use std::cell::Cell;
use std::collections::BTreeSet;
use std::rc::Rc;

pub(super) use crate::hooks::event_source::tabs::supported;

/// How often the leader says it is alive.
const BEAT_MS: i32 = 2_000;
/// A visible leader silent this long is gone (frozen, or its process stalled): a follower takes over.
const QUIET_MS: f64 = 6_000.0;
/// A hidden leader's timers are throttled (to once a minute after five minutes hidden), so its beats may be
/// that far apart: wait longer before taking over from it.
const QUIET_HIDDEN_MS: f64 = 75_000.0;
/// How long the tab taking over holds the take-over lock: time for its announcement to reach the others.
const TAKEOVER_HOLD_MS: i32 = 3_000;

/// This tab's part in a stream shared across tabs.
pub(super) struct Share {
    /// What the term and role rules decide on: the role, the terms heard of, the follower's intake.
    standing: Standing,
    lock_name: String,
    channel: Channel,
    /// Held while the standing says `Leader`: the lock, and the heartbeat that tells the others so.
    leadership: Option<Leadership>,
    /// Queued lock requests not yet granted: a follower keeps one, so it takes over as soon as the lock frees.
    queued: u32,
    /// Follower: checks that the leader has not been silent too long.
    quiet_timer: Option<Timer>,
    /// When the leader was last heard from (milliseconds since the epoch).
    heard_at: f64,
    /// This tab handed over for good or for a while (closed, in the back-forward cache, frozen).
    away: bool,
    /// Holds the take-over lock for a while after this tab took the lead from a silent leader.
    takeover: Option<Takeover>,
}

/// What a leading tab holds.
struct Leadership {
    lock: Lock,
    /// Kept to keep the heartbeat going; dropped (and cleared) with the lead.
    _beat: Option<Timer>,
}

/// The take-over lock and the timer that lets it go: released when the timer fires, or with the share if that
/// comes first.
struct Takeover {
    _guard: Rc<Cell<Option<Lock>>>,
    _timer: Timer,
}

impl Share {
    pub(super) fn following(&self) -> bool {
        self.standing.following()
    }

    pub(super) fn leader_term(&self) -> Option<Term> {
        self.standing.leader_term()
    }

    /// Named events other tabs' subscribers listen to, when leading.
    pub(super) fn remote_events(&self) -> Option<&BTreeSet<String>> {
        self.standing
            .leading()
            .map(|leading| &leading.remote_events)
    }

    /// The other tabs that are visible, when leading: only the leader decides whether the stream pauses.
    pub(super) fn visible_tabs(&self) -> Option<&BTreeSet<u64>> {
        self.standing.leading().map(|leading| &leading.visible)
    }

    pub(super) fn post(&self, note: &Note) {
        self.channel.post(note);
    }

    /// An event of this tab's own stream: when leading, numbered in the term's feed and relayed to the others.
    pub(super) fn relay(&mut self, relayed: &mut Relayed) {
        if let Role::Leader(leading) = &mut self.standing.role {
            leading.sent += 1;
            relayed.term = leading.term;
            relayed.n = leading.sent;
            self.channel.post(&Note::Event(relayed.clone()));
        }
    }
}

fn random_tab_id() -> u64 {
    // 53 random bits: enough that two tabs of one browser never draw the same.
    (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64
}

pub(super) fn presence(conn: &Conn) -> Note {
    Note::Presence {
        tab: conn.share.as_ref().map_or(0, |s| s.standing.tab),
        visible: !document_hidden(),
        events: conn.local_events(),
    }
}

fn want(conn: &Conn) -> Note {
    Note::Want {
        tab: conn.share.as_ref().map_or(0, |s| s.standing.tab),
        after: conn.seen.last().map(str::to_owned),
        events: conn.local_events(),
    }
}

/// Starts taking part in the tabs' shared stream, as a follower: queue for the lock (granted at once when no
/// tab leads), ask the leader for what this tab is missing, and watch for the leader going silent.
pub(super) fn join_tabs(handle: &ConnHandle) {
    let name = {
        let conn = handle.borrow();
        format!(
            "use_event_source/{WIRE_VERSION}\u{1}{}\u{1}{}",
            conn.url, conn.settings.with_credentials
        )
    };
    let weak = Rc::downgrade(handle);
    let Some(channel) = Channel::open(&name, move |note| {
        if let Some(handle) = weak.upgrade() {
            on_note(&handle, note);
        }
    }) else {
        // No channel after all: connect on this tab's own.
        start(handle);
        return;
    };
    {
        let mut conn = handle.borrow_mut();
        conn.share = Some(Share {
            standing: Standing::new(random_tab_id()),
            lock_name: name,
            channel,
            leadership: None,
            queued: 0,
            quiet_timer: None,
            heard_at: now_ms(),
            away: false,
            takeover: None,
        });
    }
    take_part(handle);
}

/// Rejoins after coming back from the back-forward cache or a freeze.
fn rejoin_tabs(handle: &ConnHandle) {
    {
        let mut conn = handle.borrow_mut();
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
        share.standing.inbox.join();
    }
    take_part(handle);
}

/// Tells the other tabs what this one is missing, whether it is visible and which events it wants; then queues
/// for the lock and watches the leader.
fn take_part(handle: &ConnHandle) {
    {
        let conn = handle.borrow();
        conn.post(&want(&conn));
        conn.post(&presence(&conn));
    }
    queue_for_lock(handle);
    arm_quiet_timer(handle);
}

/// Stops taking part: a leader hands over (releases the lock and closes its stream; another tab resumes it).
pub(super) fn leave_tabs(handle: &ConnHandle) {
    step_down(handle);
    let mut conn = handle.borrow_mut();
    let Some(share) = conn.share.take() else {
        return;
    };
    share.channel.post(&Note::Bye {
        tab: share.standing.tab,
    });
    // Parked: this may run inside the channel's own callback.
    conn.retired_shares.push(share);
}

/// Keeps one lock request queued while following.
fn queue_for_lock(handle: &ConnHandle) {
    let name = {
        let mut conn = handle.borrow_mut();
        let Some(share) = conn.share.as_mut() else {
            return;
        };
        if share.queued > 0 || share.away {
            return;
        }
        share.queued += 1;
        share.lock_name.clone()
    };
    request(handle, &name, false);
}

fn request(handle: &ConnHandle, name: &str, steal: bool) {
    let granted = {
        let weak = Rc::downgrade(handle);
        move |lock: Lock| match weak.upgrade() {
            Some(handle) => take_lead(&handle, lock, !steal),
            None => lock.release(),
        }
    };
    let lost = {
        let weak = Rc::downgrade(handle);
        move || {
            if let Some(handle) = weak.upgrade() {
                lock_lost(&handle);
            }
        }
    };
    if !tabs::request_lock(name, steal, granted, lost) && !steal {
        // The lock cannot be asked for: lead alone rather than never connect.
        if let Some(share) = handle.borrow_mut().share.as_mut() {
            share.queued = share.queued.saturating_sub(1);
        }
        leave_tabs(handle);
        handle.borrow_mut().settings.share_across_tabs = false;
        start(handle);
    }
}

/// This tab got the lock: it leads, resuming the stream from the last id it delivered.
fn take_lead(handle: &ConnHandle, lock: Lock, was_queued: bool) {
    {
        let mut conn = handle.borrow_mut();
        let active = conn.active();
        let Some(share) = conn.share.as_mut() else {
            drop(conn);
            lock.release();
            return;
        };
        if was_queued {
            share.queued = share.queued.saturating_sub(1);
        }
        if !active || share.away || !share.standing.following() {
            drop(conn);
            lock.release();
            return;
        }
        let (term, reached) = share.standing.lead();
        share.quiet_timer = None;
        let weak = Rc::downgrade(handle);
        let beat = Timer::every(BEAT_MS, move || {
            if let Some(handle) = weak.upgrade() {
                let conn = handle.borrow();
                if let Some(term) = conn.leader_term() {
                    conn.post(&Note::Beat {
                        term,
                        hidden: document_hidden(),
                    });
                }
            }
        });
        share.leadership = Some(Leadership { lock, _beat: beat });
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
    start(handle);
}

/// The lock this tab held was taken (it was frozen, and a follower stole it): follow the new leader.
fn lock_lost(handle: &ConnHandle) {
    let steps = {
        let mut conn = handle.borrow_mut();
        let subscribed = conn.active();
        match conn.share.as_mut() {
            Some(share) if share.leader_term().is_some() => share.standing.replaced(subscribed),
            _ => return,
        }
    };
    run(handle, steps);
}

/// Stops leading, if leading: closes the stream and releases the lock.
fn step_down(handle: &ConnHandle) {
    if let Some(share) = handle.borrow_mut().share.as_mut() {
        share.standing.step_down();
    }
    let_go(handle);
}

/// Carries out a step down the standing has made: a tab that led closes its stream and releases the lock; one
/// that followed stops watching the leader.
fn let_go(handle: &ConnHandle) {
    let lock = {
        let mut conn = handle.borrow_mut();
        let Some(share) = conn.share.as_mut() else {
            return;
        };
        match share.leadership.take() {
            Some(Leadership { lock, .. }) => lock,
            None => {
                share.quiet_timer = None;
                return;
            }
        }
    };
    teardown(handle);
    handle.borrow_mut().paused = false;
    lock.release();
}

/// The leader was heard from: (re)starts the follower's watch on it. One timer at a time, not one per event.
fn arm_quiet_timer(handle: &ConnHandle) {
    let mut conn = handle.borrow_mut();
    let Some(share) = conn.share.as_mut() else {
        return;
    };
    share.heard_at = now_ms();
    if !share.following() || share.away {
        share.quiet_timer = None;
        return;
    }
    if share.quiet_timer.is_none() {
        share.quiet_timer = quiet_timer(handle, quiet_limit(share));
    }
}

/// How long the leader may be silent; jittered so that the followers of a frozen leader do not all take over at
/// once.
fn quiet_limit(share: &Share) -> f64 {
    let base = if share.standing.leader_hidden {
        QUIET_HIDDEN_MS
    } else {
        QUIET_MS
    };
    base + js_sys::Math::random() * 2_000.0
}

fn quiet_timer(handle: &ConnHandle, delay_ms: f64) -> Option<Timer> {
    let weak = Rc::downgrade(handle);
    Timer::once(delay_ms.ceil() as i32, move || {
        if let Some(handle) = weak.upgrade() {
            leader_silent(&handle);
        }
    })
}

/// The watch fired: if the leader has really been silent that long, take the lock from it.
fn leader_silent(handle: &ConnHandle) {
    let name = {
        let mut conn = handle.borrow_mut();
        let Some(name) = still_silent(&mut conn, handle) else {
            return;
        };
        name
    };
    // Every follower of a frozen leader notices at about the same time: the one that gets this second lock
    // takes over, and holds it long enough for the others to hear it lead, so that they do not take the lock
    // from it in turn.
    let weak = Rc::downgrade(handle);
    let _ = tabs::try_lock(&format!("{name}\u{1}takeover"), move |guard| {
        let Some(handle) = weak.upgrade() else { return };
        let Some(guard) = guard else {
            // Another tab is taking over: watch again.
            arm_quiet_timer(&handle);
            return;
        };
        let name = {
            let mut conn = handle.borrow_mut();
            still_silent(&mut conn, &handle)
        };
        match name {
            Some(name) => {
                request(&handle, &name, true);
                let guard = Rc::new(Cell::new(Some(guard)));
                let held = Rc::downgrade(&guard);
                let timer = Timer::once(TAKEOVER_HOLD_MS, move || {
                    if let Some(guard) = held.upgrade() {
                        drop(guard.take());
                    }
                });
                // The share owns the guard: it is released when the timer fires or with the share. Without a
                // timer it is released now.
                if let Some(share) = handle.borrow_mut().share.as_mut() {
                    share.takeover = timer.map(|timer| Takeover {
                        _guard: guard,
                        _timer: timer,
                    });
                }
            }
            None => guard.release(),
        }
    });
}

/// The lock's name if this tab follows and the leader has been silent past the limit; otherwise re-arms the
/// watch (or leaves it off) and returns `None`.
fn still_silent(conn: &mut Conn, handle: &ConnHandle) -> Option<String> {
    let active = conn.active();
    let share = conn.share.as_mut()?;
    share.quiet_timer = None;
    if !active || share.away || !share.following() {
        return None;
    }
    let limit = quiet_limit(share);
    let silent = now_ms() - share.heard_at;
    if silent < limit {
        share.quiet_timer = quiet_timer(handle, limit - silent);
        return None;
    }
    Some(share.lock_name.clone())
}

/// A note from another tab: the rules decide what it changes, and this tab carries out their steps.
fn on_note(handle: &ConnHandle, note: Note) {
    let steps = {
        let mut conn = handle.borrow_mut();
        let subscribed = conn.active();
        let Some(share) = conn.share.as_mut() else {
            return;
        };
        share.standing.on_note(note, subscribed)
    };
    run(handle, steps);
}

/// Carries out the rules' steps in order, until this tab stops sharing (a subscriber's callback closed the
/// last subscriber, or the lock could not be asked for): what is left was meant for the share that is gone.
fn run(handle: &ConnHandle, steps: Vec<Step>) {
    for step in steps {
        if handle.borrow().share.is_none() {
            return;
        }
        match step {
            Step::LetGo => let_go(handle),
            Step::SendWant => {
                let conn = handle.borrow();
                conn.post(&want(&conn));
            }
            Step::SendPresence => {
                let conn = handle.borrow();
                conn.post(&presence(&conn));
            }
            Step::QueueForLock => queue_for_lock(handle),
            Step::Watch => arm_quiet_timer(handle),
            Step::SetState(state) => handle.borrow_mut().set_state(state),
            Step::SetError(error) => handle.borrow_mut().set_error(error),
            Step::Deliver(events) => {
                for relayed in events {
                    deliver(handle, relayed);
                }
            }
            Step::GiveUp => give_up(handle),
            Step::Answer {
                to,
                after,
                term,
                upto,
            } => answer(handle, to, after, term, upto),
            Step::Listen => {
                let mut conn = handle.borrow_mut();
                let names = conn.wanted_events();
                add_listeners(handle, &mut conn, &names);
            }
            Step::CheckVisibility => visibility_changed(handle),
        }
    }
}

/// A tab asks the leader for what it is missing: served from this tab's ring, or, when the ring does not reach
/// back far enough, by reopening the stream from the asker's id (every other tab drops the repeats).
fn answer(handle: &ConnHandle, to: u64, after: Option<String>, term: Term, upto: u64) {
    let rewind = {
        let conn = handle.borrow();
        let held = conn.ring.since(after.as_deref());
        let rewind = held.is_none();
        conn.post(&Note::Replay {
            to,
            term,
            events: held.unwrap_or_default(),
            upto,
            state: conn.state,
            error: conn.error.clone(),
        });
        rewind
    };
    if rewind {
        start_from(handle, after);
    }
}

/// The page is going away or being frozen: a leader hands over, and the other tabs hear that this one left.
pub(super) fn on_away(handle: &ConnHandle) -> Callback {
    let weak = Rc::downgrade(handle);
    Callback::new(move |_: web_sys::Event| {
        let Some(handle) = weak.upgrade() else { return };
        step_down(&handle);
        let mut conn = handle.borrow_mut();
        if let Some(share) = conn.share.as_mut() {
            share.away = true;
            share.quiet_timer = None;
            share.channel.post(&Note::Bye {
                tab: share.standing.tab,
            });
        }
    })
}

/// The page is back (shown again, or resumed): it rejoins the tabs.
pub(super) fn on_back(handle: &ConnHandle) -> Callback {
    let weak = Rc::downgrade(handle);
    Callback::new(move |_: web_sys::Event| {
        if let Some(handle) = weak.upgrade() {
            rejoin_tabs(&handle);
        }
    })
}

//! The rules that let tabs share one stream and hand it over without losing or repeating an event: what the
//! tabs say to each other, which events a tab has already seen, which it may still ask for, and in what order a
//! follower delivers what reaches it. Pure, so it is tested without a browser; `tabs.rs` wires it to
//! `BroadcastChannel` and the Web Locks API.
//!
//! The model: one tab (the leader) holds the `EventSource` and relays every event it receives, numbered within
//! its term, to the others over a channel. Every tab, the leader included, passes each event through its own
//! [`Seen`] before handing it to its subscribers, and keeps what it delivered in a [`Ring`], so any tab can
//! serve a late joiner, or take over, from what it already has. A new leader resumes the stream from the last
//! id *it* delivered: tabs that are ahead drop the replayed events as duplicates ([`Seen`]), tabs that are
//! behind ask the new leader for the difference ([`Inbox`]), which it has in its ring.

use super::{ReadyState, SseError};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// How many delivered events a tab keeps to serve catch-up requests. Covers the events that arrive while a
/// page loads or a leader changes; a request older than that makes the leader reopen its stream further back.
pub const RING_CAPACITY: usize = 512;
/// How many non-numeric ids a tab remembers to recognise a replayed event (numeric ids need no memory).
const RECENT_IDS: usize = 64;
/// Events a follower buffers while it waits for its catch-up; past this it asks again from scratch.
pub const MAX_BUFFERED: usize = 4096;

/// A place in a leader's feed: its term and the number of the last event taken from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Position {
    pub term: Term,
    pub n: u64,
}

/// A leader's term: a newer term wins, so a leader that was frozen and wakes up after another tab took over
/// recognises that it was replaced. The tab id breaks ties between two tabs that took over at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Term {
    pub number: u64,
    pub tab: u64,
}

/// One event as the leader relays it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relayed {
    pub term: Term,
    /// Position in the term's feed, from 1: a follower uses it to splice its catch-up and the live feed.
    pub n: u64,
    pub event: String,
    pub data: String,
    /// `lastEventId` after this event.
    pub id: String,
    /// The event carried an id of its own. A heartbeat without an `id:` field repeats the previous id: it is
    /// never a duplicate of the event that set it.
    pub fresh: bool,
    /// The id the leader's stream resumed from (`None`: a fresh stream). The server replays only ids above it,
    /// so an id at or below it is the server starting over, never a replay.
    pub from: Option<String>,
}

/// What tabs say to each other over the channel. Serialised as JSON text (externally tagged: an internally
/// tagged enum costs the wasm bundle a buffering deserialiser).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Note {
    /// A tab took the lock and is opening the stream; it had followed the previous leader's feed up to
    /// `reached`.
    Lead {
        term: Term,
        reached: Option<Position>,
        state: ReadyState,
    },
    /// One event of the leader's stream.
    Event(Relayed),
    /// The leader's connection state changed.
    State {
        term: Term,
        state: ReadyState,
        error: Option<SseError>,
    },
    /// The leader is alive (sent on a timer, so a frozen leader falls silent); `hidden` tells followers that
    /// its timers are throttled and its beats may come late.
    Beat { term: Term, hidden: bool },
    /// A tab asks the leader for every event after `after` (`None`: everything it has), and for the named
    /// events its subscribers listen to.
    Want {
        tab: u64,
        after: Option<String>,
        events: Vec<String>,
    },
    /// The leader's answer to `Want`: the events, its feed position when it answered, and its state.
    Replay {
        to: u64,
        term: Term,
        events: Vec<Relayed>,
        upto: u64,
        state: ReadyState,
        error: Option<SseError>,
    },
    /// A tab was shown or hidden (the leader pauses the stream only while every tab is hidden), with the named
    /// events its subscribers listen to.
    Presence {
        tab: u64,
        visible: bool,
        events: Vec<String>,
    },
    /// A tab is going away (closed, navigated, frozen) and stops taking part.
    Bye { tab: u64 },
}

impl Note {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `None` for anything that is not a note of ours (another library on the same channel name, a newer version).
    pub fn decode(text: &str) -> Option<Note> {
        serde_json::from_str(text).ok()
    }
}

fn numeric(id: &str) -> Option<u64> {
    id.trim().parse().ok()
}

/// Whether an event carried its own id, given the id the same stream reported before it.
pub fn is_fresh(previous: &str, id: &str) -> bool {
    !id.is_empty() && id != previous
}

/// Which events this tab has delivered, to drop the ones a new stream replays.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    last: Option<String>,
    recent: VecDeque<String>,
}

impl Seen {
    /// Starts from `last`: the id the page's state already includes (server-rendered), if any.
    pub fn new(last: Option<String>) -> Self {
        Seen {
            last,
            recent: VecDeque::new(),
        }
    }

    /// The last id delivered: where a stream opened by this tab resumes.
    pub fn last(&self) -> Option<&str> {
        self.last.as_deref()
    }

    /// Whether to deliver an event with this id, coming from a stream that resumed from `from`; records it.
    ///
    /// With increasing integer ids (Hearth's, and most hubs'), an id at or below the last one delivered is a
    /// replay, unless it is at or below the stream's own resume point (the server started over: a reset from a
    /// wiped or different server, which must get through). Other ids are compared with the last few seen.
    pub fn accept(&mut self, id: &str, fresh: bool, from: Option<&str>) -> bool {
        if !fresh {
            return true;
        }
        let duplicate = match (numeric(id), self.last.as_deref().and_then(numeric)) {
            (Some(id), Some(last)) => id <= last && from.and_then(numeric).is_none_or(|f| id > f),
            _ => self.recent.iter().any(|r| r == id),
        };
        if duplicate {
            return false;
        }
        self.last = Some(id.to_owned());
        if numeric(id).is_none() {
            if self.recent.len() == RECENT_IDS {
                self.recent.pop_front();
            }
            self.recent.push_back(id.to_owned());
        }
        true
    }
}

/// From where a tab's ring is complete.
#[derive(Debug, Clone, PartialEq)]
enum Floor {
    /// Holds everything this tab delivered, from its first event.
    Start,
    /// Holds every event after this id (the id the page's state was rendered at, or the oldest one trimmed).
    After(String),
    /// Lost its beginning and has no id to say where: serves only requests for ids it holds.
    Lost,
}

/// The last events a tab delivered, in order, to answer another tab's `Want`.
#[derive(Debug, Clone)]
pub struct Ring {
    entries: VecDeque<Relayed>,
    floor: Floor,
    capacity: usize,
}

impl Ring {
    /// An empty ring; `after` is the id the page's state already includes, if any.
    pub fn new(after: Option<String>, capacity: usize) -> Self {
        Ring {
            entries: VecDeque::new(),
            floor: after.map_or(Floor::Start, Floor::After),
            capacity: capacity.max(1),
        }
    }

    pub fn push(&mut self, event: Relayed) {
        if self.entries.len() == self.capacity {
            if let Some(old) = self.entries.pop_front() {
                self.floor = if old.id.is_empty() {
                    Floor::Lost
                } else {
                    Floor::After(old.id)
                };
            }
        }
        self.entries.push_back(event);
    }

    /// Every held event after `after`, or `None` when the ring cannot say it holds all of them.
    pub fn since(&self, after: Option<&str>) -> Option<Vec<Relayed>> {
        let Some(after) = after.filter(|a| !a.is_empty()) else {
            return (self.floor == Floor::Start).then(|| self.entries.iter().cloned().collect());
        };
        let tail = |from: usize| Some(self.entries.range(from..).cloned().collect());
        // The position right after the last entry that is `after` itself (or, numerically, not past it).
        let held = match numeric(after) {
            Some(a) => self
                .entries
                .iter()
                .rposition(|e| numeric(&e.id).is_some_and(|id| id <= a)),
            None => self.entries.iter().rposition(|e| e.fresh && e.id == after),
        };
        let floor_covers = match (&self.floor, numeric(after)) {
            (Floor::After(f), Some(a)) => numeric(f).is_some_and(|f| f <= a),
            (Floor::After(f), None) => f == after,
            _ => false,
        };
        match held {
            Some(i) if floor_covers || self.entries.get(i).is_some_and(|e| e.id == after) => {
                tail(i + 1)
            }
            Some(i) if self.floor == Floor::Start => tail(i + 1),
            None if floor_covers => tail(0),
            _ => None,
        }
    }
}

/// A follower's intake: splices the leader's catch-up with the live feed, in order, and ignores leaders that
/// have been replaced.
#[derive(Debug, Clone, Default)]
pub struct Inbox {
    term: Option<Term>,
    /// The next feed position expected from the current leader.
    next: u64,
    /// `Some` while waiting for a `Replay`: the live events that arrived meanwhile.
    waiting: Option<Vec<Relayed>>,
}

/// What the intake asks its tab to do with a note.
#[derive(Debug, Clone, PartialEq)]
pub enum Intake {
    /// Deliver these, in this order (each still passes the tab's [`Seen`]).
    Deliver(Vec<Relayed>),
    /// Ask the leader for what came after this tab's last id (send `Want`).
    CatchUp,
    Nothing,
}

impl Inbox {
    /// The leader being followed.
    pub fn term(&self) -> Option<Term> {
        self.term
    }

    #[cfg(test)]
    pub fn is_waiting(&self) -> bool {
        self.waiting.is_some()
    }

    /// Starts waiting for a catch-up (the caller sends `Want`); live events are held back until it comes.
    pub fn join(&mut self) {
        self.waiting = Some(Vec::new());
    }

    /// This tab leads now: nothing to follow.
    pub fn lead(&mut self, term: Term) {
        *self = Inbox {
            term: Some(term),
            next: 1,
            waiting: None,
        };
    }

    /// How far this tab got in the feed it follows (`None`: nowhere yet, or waiting for a catch-up).
    pub fn position(&self) -> Option<Position> {
        match (self.term, &self.waiting) {
            (Some(term), None) => Some(Position {
                term,
                n: self.next.saturating_sub(1),
            }),
            _ => None,
        }
    }

    /// A leader announced itself, having followed the previous feed up to `reached`. A tab that got less far
    /// asks it for the difference; one that got as far or further just follows (it drops what the new stream
    /// replays). Feed positions, not event ids, decide: two tabs rendered from different snapshots hold
    /// different ids yet may have missed nothing, since the hub numbers events of topics this stream does not
    /// carry too.
    pub fn leader(&mut self, term: Term, reached: Option<Position>) -> Intake {
        if self.term.is_some_and(|t| term < t) {
            return Intake::Nothing;
        }
        let behind = match (self.position(), reached) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(mine), Some(theirs)) => mine < theirs,
        };
        self.term = Some(term);
        self.next = 1;
        if behind {
            self.join();
            Intake::CatchUp
        } else {
            self.waiting = None;
            Intake::Nothing
        }
    }

    /// One live event from the channel.
    pub fn event(&mut self, event: Relayed) -> Intake {
        if let Some(buffer) = self.waiting.as_mut() {
            if buffer.len() >= MAX_BUFFERED {
                buffer.clear();
                return Intake::CatchUp;
            }
            buffer.push(event);
            return Intake::Nothing;
        }
        match self.term {
            Some(t) if event.term == t && event.n >= self.next => {
                self.next = event.n + 1;
                Intake::Deliver(vec![event])
            }
            // A leader this tab was never told about: it missed the announcement, so it catches up.
            Some(t) if event.term > t => {
                self.join();
                self.waiting.get_or_insert_with(Vec::new).push(event);
                Intake::CatchUp
            }
            None => {
                self.join();
                self.waiting.get_or_insert_with(Vec::new).push(event);
                Intake::CatchUp
            }
            // A replaced leader's, or one already delivered.
            _ => Intake::Nothing,
        }
    }

    /// The leader's answer to this tab's `Want`: its events, then the buffered live ones it did not cover.
    pub fn replay(&mut self, term: Term, events: Vec<Relayed>, upto: u64) -> Intake {
        if self.term.is_some_and(|t| term < t) {
            return Intake::Nothing;
        }
        let Some(buffer) = self.waiting.take() else {
            // The answer to an earlier request that has already been served.
            return Intake::Nothing;
        };
        self.term = Some(term);
        self.next = upto + 1;
        let mut out = events;
        for event in buffer {
            if event.term == term && event.n >= self.next {
                self.next = event.n + 1;
                out.push(event);
            }
        }
        Intake::Deliver(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Term = Term { number: 1, tab: 7 };
    const B: Term = Term { number: 2, tab: 3 };

    fn ev(term: Term, n: u64, id: u64, from: Option<u64>) -> Relayed {
        Relayed {
            term,
            n,
            event: "message".into(),
            data: format!("m{id}"),
            id: id.to_string(),
            fresh: true,
            from: from.map(|f| f.to_string()),
        }
    }

    /// Runs events through a tab's `Seen` and returns the ids it delivers.
    fn deliver(seen: &mut Seen, events: &[Relayed]) -> Vec<String> {
        events
            .iter()
            .filter(|e| seen.accept(&e.id, e.fresh, e.from.as_deref()))
            .map(|e| e.id.clone())
            .collect()
    }

    fn ids(intake: Intake) -> Vec<u64> {
        match intake {
            Intake::Deliver(events) => events.iter().map(|e| e.id.parse().unwrap()).collect(),
            other => panic!("expected events, got {other:?}"),
        }
    }

    #[test]
    fn a_new_leader_resumes_from_its_own_last_id() {
        let mut seen = Seen::new(Some("40".into()));
        assert_eq!(seen.last(), Some("40"));
        deliver(&mut seen, &[ev(A, 1, 41, Some(40)), ev(A, 2, 42, Some(40))]);
        assert_eq!(seen.last(), Some("42"));
    }

    #[test]
    fn a_tab_ahead_of_the_new_leader_drops_the_replayed_events() {
        // This tab saw up to 45; the new leader only up to 43 and resumes from there: 44 and 45 come again.
        let mut seen = Seen::new(Some("45".into()));
        let replay = [44, 45, 46, 47].map(|id| ev(B, id - 43, id, Some(43)));
        assert_eq!(deliver(&mut seen, &replay), ["46", "47"]);
    }

    #[test]
    fn a_reset_below_the_resume_point_gets_through() {
        // The server lost its history (a wiped store): it answers a resume from 1000 with a reset at id 5.
        let mut seen = Seen::new(Some("1000".into()));
        assert_eq!(
            deliver(
                &mut seen,
                &[ev(B, 1, 5, Some(1000)), ev(B, 2, 6, Some(1000))]
            ),
            ["5", "6"]
        );
    }

    #[test]
    fn heartbeats_repeat_the_last_id_and_are_never_duplicates() {
        let mut seen = Seen::new(None);
        let mut ping = ev(A, 2, 9, None);
        ping.fresh = false;
        assert_eq!(
            deliver(&mut seen, &[ev(A, 1, 9, None), ping.clone(), ping]).len(),
            3
        );
        assert!(is_fresh("8", "9") && !is_fresh("9", "9") && !is_fresh("9", ""));
    }

    #[test]
    fn opaque_ids_are_de_duplicated_by_memory() {
        let mut seen = Seen::new(None);
        let mut a = ev(A, 1, 0, None);
        a.id = "abc".into();
        let mut b = a.clone();
        b.id = "xyz".into();
        assert_eq!(deliver(&mut seen, &[a.clone(), b, a]), ["abc", "xyz"]);
    }

    #[test]
    fn the_ring_serves_what_came_after_a_tabs_last_id() {
        let mut ring = Ring::new(Some("10".into()), 4);
        for id in 11..=14 {
            ring.push(ev(A, id - 10, id, Some(10)));
        }
        fn got(ring: &Ring, after: Option<&str>) -> Option<Vec<String>> {
            ring.since(after)
                .map(|v| v.iter().map(|e| e.id.clone()).collect())
        }
        assert_eq!(got(&ring, Some("12")).unwrap(), ["13", "14"]);
        assert_eq!(got(&ring, Some("10")).unwrap(), ["11", "12", "13", "14"]);
        assert_eq!(got(&ring, Some("14")).unwrap(), Vec::<String>::new());
        // Older than the page this tab was rendered from: it cannot know what happened before 10.
        assert_eq!(got(&ring, Some("9")), None);
        // No id at all: this tab does not hold a beginning.
        assert_eq!(got(&ring, None), None);

        ring.push(ev(A, 5, 15, Some(10)));
        assert_eq!(got(&ring, Some("10")), None, "11 was trimmed");
        assert_eq!(got(&ring, Some("11")).unwrap(), ["12", "13", "14", "15"]);
    }

    #[test]
    fn a_ring_from_a_fresh_stream_serves_a_tab_with_no_id() {
        let mut ring = Ring::new(None, 8);
        ring.push(ev(A, 1, 3, None));
        ring.push(ev(A, 2, 4, None));
        assert_eq!(ring.since(None).map(|v| v.len()), Some(2));
        assert_eq!(ring.since(Some("3")).map(|v| v.len()), Some(1));
        // An id before the first one this tab saw: what lies between is unknown.
        assert_eq!(ring.since(Some("1")), None);
    }

    #[test]
    fn a_late_joiner_gets_the_catch_up_then_the_live_feed_without_gap_or_overlap() {
        let mut inbox = Inbox::default();
        inbox.join();
        // Live events 3 and 4 arrive before the leader's answer, which covers feed positions up to 3.
        assert_eq!(inbox.event(ev(A, 3, 103, Some(100))), Intake::Nothing);
        assert_eq!(inbox.event(ev(A, 4, 104, Some(100))), Intake::Nothing);
        let replay = vec![ev(A, 2, 102, Some(100)), ev(A, 3, 103, Some(100))];
        assert_eq!(ids(inbox.replay(A, replay, 3)), [102, 103, 104]);
        assert_eq!(ids(inbox.event(ev(A, 5, 105, Some(100)))), [105]);
        // A second answer (to a repeated request) changes nothing.
        assert_eq!(
            inbox.replay(A, vec![ev(A, 2, 102, None)], 5),
            Intake::Nothing
        );
    }

    #[test]
    fn a_tab_behind_the_new_leader_catches_up_one_ahead_just_follows() {
        let at = |n| Some(Position { term: A, n });
        let mut behind = Inbox::default();
        behind.lead(A);
        behind.event(ev(A, 1, 48, Some(40)));
        assert_eq!(behind.position(), at(1));
        assert_eq!(behind.leader(B, at(2)), Intake::CatchUp);
        assert!(behind.is_waiting());
        assert_eq!(behind.position(), None);
        let mut ahead = Inbox::default();
        ahead.lead(A);
        ahead.event(ev(A, 1, 48, Some(40)));
        ahead.event(ev(A, 2, 50, Some(40)));
        assert_eq!(ahead.leader(B, at(2)), Intake::Nothing);
        assert_eq!(ids(ahead.event(ev(B, 1, 51, Some(50)))), [51]);
        // A tab that had not caught up yet when the leader changed asks again.
        let mut joining = Inbox::default();
        joining.join();
        assert_eq!(joining.leader(B, at(2)), Intake::CatchUp);
    }

    #[test]
    fn a_replaced_leader_is_ignored() {
        let mut inbox = Inbox::default();
        inbox.lead(A);
        assert_eq!(inbox.leader(B, inbox.position()), Intake::Nothing);
        // The old leader wakes up from a freeze and sends what it had queued.
        assert_eq!(inbox.event(ev(A, 9, 11, Some(5))), Intake::Nothing);
        assert_eq!(inbox.leader(A, None), Intake::Nothing);
        assert_eq!(inbox.term(), Some(B));
        assert_eq!(ids(inbox.event(ev(B, 1, 11, Some(10)))), [11]);
    }

    #[test]
    fn an_event_from_an_unannounced_leader_makes_the_tab_catch_up() {
        let mut inbox = Inbox::default();
        inbox.lead(A);
        assert_eq!(inbox.event(ev(B, 4, 20, Some(15))), Intake::CatchUp);
        assert_eq!(
            ids(inbox.replay(B, vec![ev(B, 3, 19, Some(15))], 3)),
            [19, 20]
        );
    }

    /// The whole hand-over: a leader relays 1..=6 and dies after 5 reached one follower but not the other
    /// (which saw only up to 4); the lagging tab takes the lock and resumes from 4. Both tabs end with every
    /// event exactly once, in order.
    #[test]
    fn across_a_hand_over_every_tab_gets_every_event_once_in_order() {
        let old = Term { number: 1, tab: 1 };
        let new = Term { number: 2, tab: 2 };
        let mut first = (Inbox::default(), Seen::new(Some("0".into())), Vec::new());
        let mut second = (Inbox::default(), Seen::new(Some("0".into())), Vec::new());
        for tab in [&mut first, &mut second] {
            tab.0.leader(old, None);
        }
        let feed: Vec<_> = (1..=5).map(|id| ev(old, id, id, Some(0))).collect();
        let apply = |tab: &mut (Inbox, Seen, Vec<String>), intake: Intake| {
            if let Intake::Deliver(events) = intake {
                let got = deliver(&mut tab.1, &events);
                tab.2.extend(got);
            }
        };
        for e in &feed[..5] {
            let intake = first.0.event(e.clone());
            apply(&mut first, intake);
        }
        for e in &feed[..4] {
            let intake = second.0.event(e.clone());
            apply(&mut second, intake);
        }

        // `second` takes over: it leads and resumes from its own last id.
        let from = second.1.last().map(str::to_owned);
        assert_eq!(from.as_deref(), Some("4"));
        let reached = second.0.position();
        second.0.lead(new);
        assert_eq!(first.0.leader(new, reached), Intake::Nothing);
        // The server replays after 4: 5 again, then 6 and 7.
        for (n, id) in [5, 6, 7].into_iter().enumerate() {
            let e = ev(new, n as u64 + 1, id, Some(4));
            let for_leader = Intake::Deliver(vec![e.clone()]);
            apply(&mut second, for_leader);
            let intake = first.0.event(e);
            apply(&mut first, intake);
        }
        let want: Vec<String> = (1..=7).map(|i| i.to_string()).collect();
        assert_eq!(first.2, want);
        assert_eq!(second.2, want);
    }

    #[test]
    fn notes_survive_the_channel_and_foreign_messages_are_ignored() {
        let note = Note::Replay {
            to: 3,
            term: A,
            events: vec![ev(A, 1, 1, None)],
            upto: 1,
            state: ReadyState::Reconnecting {
                attempt: 2,
                retry_at_ms: 1.5,
            },
            error: Some(SseError::Stale(std::time::Duration::from_secs(45))),
        };
        assert_eq!(Note::decode(&note.encode()), Some(note));
        assert_eq!(Note::decode(r#"{"hello":"world"}"#), None);
    }
}

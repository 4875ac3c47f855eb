//! The rules that let tabs share one stream and hand it over without losing or repeating an event: what the
//! tabs say to each other, which events a tab has already seen, which it may still ask for, in what order a
//! follower delivers what reaches it, and which tab leads ([`Standing::on_note`]: a note in, the steps it calls
//! for out). Pure, so it is tested without a browser; `browser/sharing.rs` carries out the steps with the
//! `BroadcastChannel` and the Web Lock that `tabs.rs` wraps.
//!
//! The model: one tab (the leader) holds the `EventSource` and relays every event it receives, numbered within
//! its term, to the others over a channel. Every tab, the leader included, passes each event through its own
//! [`Seen`] before handing it to its subscribers, and keeps what it delivered in a [`Ring`], so any tab can
//! serve a late joiner, or take over, from what it already has. A new leader resumes the stream from the last
//! id *it* delivered: tabs that are ahead drop the replayed events as duplicates ([`Seen`]), tabs that are
//! behind ask the new leader for the difference ([`Inbox`]), which it has in its ring.

use super::{ReadyState, SseError};
use std::collections::{BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::time::Duration;

/// How many delivered events a tab keeps to serve catch-up requests. Covers the events that arrive while a
/// page loads or a leader changes; a request older than that makes the leader reopen its stream further back.
pub const RING_CAPACITY: usize = 512;
/// How many non-numeric ids a tab remembers to recognise a replayed event (numeric ids need no memory).
const RECENT_IDS: usize = 64;
/// Events a follower buffers while it waits for its catch-up; past this it asks again from scratch.
pub const MAX_BUFFERED: usize = 4096;
/// The version of the notes' wire format. It is part of the channel's and the lock's names, so tabs running
/// different builds (open across a deploy) form separate groups instead of ignoring each other's notes and
/// taking the lock from each other in turn.
pub const WIRE_VERSION: u32 = 2;

/// A place in a leader's feed: its term and the number of the last event taken from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub term: Term,
    pub n: u64,
}

/// A leader's term: a newer term wins, so a leader that was frozen and wakes up after another tab took over
/// recognises that it was replaced. The tab id breaks ties between two tabs that took over at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Term {
    pub number: u64,
    pub tab: u64,
}

/// One event as the leader relays it.
#[derive(Debug, Clone, PartialEq)]
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

/// What tabs say to each other over the channel, as text in a small format of its own ([`Note::encode`]).
#[derive(Debug, Clone, PartialEq)]
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

/// The notes' wire format. A note is a tag letter and its fields in order, each field self-delimiting: a number
/// in decimal ended by `;`, a string as its length in bytes, `:` and the bytes (so it may hold anything), an
/// absent value as `~`, a list as its length and its items. Hand-written rather than JSON through serde: the
/// derived code for these types cost the WASM bundle about 45 KB; this costs a few.
impl Note {
    pub fn encode(&self) -> String {
        let mut w = NoteWriter(String::new());
        match self {
            Note::Lead {
                term,
                reached,
                state,
            } => {
                w.tag(b'L').term(*term);
                match reached {
                    Some(p) => w.term(p.term).num(p.n),
                    None => w.none(),
                };
                w.state(*state);
            }
            Note::Event(relayed) => {
                w.tag(b'E').relayed(relayed);
            }
            Note::State { term, state, error } => {
                w.tag(b'S').term(*term).state(*state).error(error.as_ref());
            }
            Note::Beat { term, hidden } => {
                w.tag(b'B').term(*term).flag(*hidden);
            }
            Note::Want { tab, after, events } => {
                w.tag(b'W')
                    .num(*tab)
                    .opt_text(after.as_deref())
                    .texts(events);
            }
            Note::Replay {
                to,
                term,
                events,
                upto,
                state,
                error,
            } => {
                w.tag(b'R').num(*to).term(*term).num(events.len() as u64);
                for e in events {
                    w.relayed(e);
                }
                w.num(*upto).state(*state).error(error.as_ref());
            }
            Note::Presence {
                tab,
                visible,
                events,
            } => {
                w.tag(b'P').num(*tab).flag(*visible).texts(events);
            }
            Note::Bye { tab } => {
                w.tag(b'Y').num(*tab);
            }
        }
        w.0
    }

    /// `None` for anything that is not a whole note of ours (another library on the same channel name, a
    /// truncated or garbled message).
    pub fn decode(text: &str) -> Option<Note> {
        let mut r = NoteReader(text);
        let note = match r.byte()? {
            b'L' => Note::Lead {
                term: r.term()?,
                reached: r.optional(|r| {
                    Some(Position {
                        term: r.term()?,
                        n: r.num()?,
                    })
                })?,
                state: r.state()?,
            },
            b'E' => Note::Event(r.relayed()?),
            b'S' => Note::State {
                term: r.term()?,
                state: r.state()?,
                error: r.error()?,
            },
            b'B' => Note::Beat {
                term: r.term()?,
                hidden: r.flag()?,
            },
            b'W' => Note::Want {
                tab: r.num()?,
                after: r.optional(NoteReader::text)?,
                events: r.texts()?,
            },
            b'R' => Note::Replay {
                to: r.num()?,
                term: r.term()?,
                events: {
                    let count = r.num()?;
                    // Each item takes several bytes, so a count larger than the text fails fast below.
                    let mut events = Vec::new();
                    for _ in 0..count {
                        events.push(r.relayed()?);
                    }
                    events
                },
                upto: r.num()?,
                state: r.state()?,
                error: r.error()?,
            },
            b'P' => Note::Presence {
                tab: r.num()?,
                visible: r.flag()?,
                events: r.texts()?,
            },
            b'Y' => Note::Bye { tab: r.num()? },
            _ => return None,
        };
        r.0.is_empty().then_some(note)
    }
}

/// Writes a note's fields; see [`Note::encode`] for the format.
struct NoteWriter(String);

impl NoteWriter {
    fn tag(&mut self, tag: u8) -> &mut Self {
        self.0.push(char::from(tag));
        self
    }

    fn num(&mut self, n: u64) -> &mut Self {
        let _ = write!(self.0, "{n};");
        self
    }

    fn flag(&mut self, on: bool) -> &mut Self {
        self.num(u64::from(on))
    }

    fn none(&mut self) -> &mut Self {
        self.0.push('~');
        self
    }

    fn text(&mut self, text: &str) -> &mut Self {
        let _ = write!(self.0, "{}:{text}", text.len());
        self
    }

    fn opt_text(&mut self, text: Option<&str>) -> &mut Self {
        match text {
            Some(t) => self.text(t),
            None => self.none(),
        }
    }

    fn texts(&mut self, texts: &[String]) -> &mut Self {
        self.num(texts.len() as u64);
        for t in texts {
            self.text(t);
        }
        self
    }

    fn term(&mut self, term: Term) -> &mut Self {
        self.num(term.number).num(term.tab)
    }

    fn relayed(&mut self, e: &Relayed) -> &mut Self {
        self.term(e.term)
            .num(e.n)
            .text(&e.event)
            .text(&e.data)
            .text(&e.id)
            .flag(e.fresh)
            .opt_text(e.from.as_deref())
    }

    fn state(&mut self, state: ReadyState) -> &mut Self {
        match state {
            ReadyState::Connecting => self.tag(b'c'),
            ReadyState::Open => self.tag(b'o'),
            // The time goes as its bits: exact, and no float formatting or parsing in the bundle.
            ReadyState::Reconnecting {
                attempt,
                retry_at_ms,
            } => self
                .tag(b'r')
                .num(u64::from(attempt))
                .num(retry_at_ms.to_bits()),
            ReadyState::Closed => self.tag(b'x'),
        }
    }

    fn error(&mut self, error: Option<&SseError>) -> &mut Self {
        match error {
            None => self.none(),
            Some(SseError::Dropped) => self.tag(b'd'),
            Some(SseError::Stale(after)) => self
                .tag(b's')
                .num(after.as_secs())
                .num(u64::from(after.subsec_nanos())),
            Some(SseError::GaveUp(attempts)) => self.tag(b'g').num(u64::from(*attempts)),
            Some(SseError::Decode { event, reason }) => self.tag(b'k').text(event).text(reason),
            Some(SseError::Open(why)) => self.tag(b'o').text(why),
        }
    }
}

/// Reads a note's fields back; every method gives `None` on anything malformed, and nothing panics.
struct NoteReader<'a>(&'a str);

impl NoteReader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let first = *self.0.as_bytes().first()?;
        self.0 = self.0.get(1..)?;
        Some(first)
    }

    fn num(&mut self) -> Option<u64> {
        let (digits, rest) = self.0.split_once(';')?;
        self.0 = rest;
        digits.parse().ok()
    }

    fn small(&mut self) -> Option<u32> {
        self.num()?.try_into().ok()
    }

    fn flag(&mut self) -> Option<bool> {
        match self.num()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    fn text(&mut self) -> Option<String> {
        let (len, rest) = self.0.split_once(':')?;
        let len: usize = len.parse().ok()?;
        let text = rest.get(..len)?;
        self.0 = rest.get(len..)?;
        Some(text.to_owned())
    }

    /// `~` for absent, else what `read` reads.
    fn optional<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        match self.0.strip_prefix('~') {
            Some(rest) => {
                self.0 = rest;
                Some(None)
            }
            None => read(self).map(Some),
        }
    }

    fn texts(&mut self) -> Option<Vec<String>> {
        let count = self.num()?;
        let mut texts = Vec::new();
        for _ in 0..count {
            texts.push(self.text()?);
        }
        Some(texts)
    }

    fn term(&mut self) -> Option<Term> {
        Some(Term {
            number: self.num()?,
            tab: self.num()?,
        })
    }

    fn relayed(&mut self) -> Option<Relayed> {
        Some(Relayed {
            term: self.term()?,
            n: self.num()?,
            event: self.text()?,
            data: self.text()?,
            id: self.text()?,
            fresh: self.flag()?,
            from: self.optional(NoteReader::text)?,
        })
    }

    fn state(&mut self) -> Option<ReadyState> {
        Some(match self.byte()? {
            b'c' => ReadyState::Connecting,
            b'o' => ReadyState::Open,
            b'r' => ReadyState::Reconnecting {
                attempt: self.small()?,
                retry_at_ms: f64::from_bits(self.num()?),
            },
            b'x' => ReadyState::Closed,
            _ => return None,
        })
    }

    fn error(&mut self) -> Option<Option<SseError>> {
        self.optional(|r| {
            Some(match r.byte()? {
                b'd' => SseError::Dropped,
                b's' => {
                    let secs = r.num()?;
                    let nanos = r.small()?;
                    // `Duration::new` would panic on more than a second of nanoseconds carried into `u64::MAX`.
                    if nanos >= 1_000_000_000 {
                        return None;
                    }
                    SseError::Stale(Duration::new(secs, nanos))
                }
                b'g' => SseError::GaveUp(r.small()?),
                b'k' => SseError::Decode {
                    event: r.text()?,
                    reason: r.text()?,
                },
                b'o' => SseError::Open(r.text()?),
                _ => return None,
            })
        })
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

/// A tab's role in the shared stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Role {
    Follower,
    Leader(Leading),
}

/// What a leading tab keeps track of.
#[derive(Debug, Clone, PartialEq)]
pub struct Leading {
    pub term: Term,
    /// Events relayed in this term.
    pub sent: u64,
    /// Other tabs that are visible: the stream pauses only when none is and this one is hidden too.
    pub visible: BTreeSet<u64>,
    /// Named events other tabs' subscribers listen to.
    pub remote_events: BTreeSet<String>,
}

/// A tab's standing among the tabs that share a stream: what the term and role rules decide on, and no browser
/// object, so the rules ([`Standing::on_note`]) are tested here. The tab keeps its lock, channel and timers
/// beside it and carries out the [`Step`]s the rules give.
#[derive(Debug, Clone)]
pub struct Standing {
    pub tab: u64,
    pub role: Role,
    /// The highest term heard of: taking over uses the next.
    pub top_term: u64,
    pub inbox: Inbox,
    /// The leader said its tab is hidden (its beats may come late).
    pub leader_hidden: bool,
}

/// One thing a note asks a tab to do; [`Standing::on_note`] gives them in the order they are to be done.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Let go of the lead (the standing already says `Follower`): close the stream and release the lock. A tab
    /// that was following lets go of its watch on the leader, until a later step watches again.
    LetGo,
    /// Ask the leader for every event after this tab's last id (send `Want`).
    SendWant,
    /// Tell the other tabs whether this one is visible and which events it listens to (send `Presence`).
    SendPresence,
    /// Keep a request for the lock queued, to take over as soon as the leader lets go.
    QueueForLock,
    /// The leader was heard from: (re)start the watch on its silence.
    Watch,
    /// Show the leader's connection state.
    SetState(ReadyState),
    /// Show the leader's connection error.
    SetError(Option<SseError>),
    /// Hand these events to the subscribers, in order (each still passes the tab's [`Seen`]).
    Deliver(Vec<Relayed>),
    /// The leader's reconnect policy gave up: so does this tab.
    GiveUp,
    /// Answer tab `to`'s `Want` with what came after `after`, as of position `upto` of `term`'s feed: from this
    /// tab's ring, or, when the ring does not reach back that far, by reopening the stream from `after`.
    Answer {
        to: u64,
        after: Option<String>,
        term: Term,
        upto: u64,
    },
    /// Listen to every event name wanted now (another tab asked for more).
    Listen,
    /// Which tabs are visible changed: pause or resume the stream.
    CheckVisibility,
}

impl Standing {
    /// A tab that has just joined: it follows, and waits for its catch-up.
    pub fn new(tab: u64) -> Self {
        let mut inbox = Inbox::default();
        inbox.join();
        Standing {
            tab,
            role: Role::Follower,
            top_term: 0,
            inbox,
            leader_hidden: false,
        }
    }

    /// What this tab keeps track of as the leader, if it leads.
    pub fn leading(&self) -> Option<&Leading> {
        match &self.role {
            Role::Leader(leading) => Some(leading),
            Role::Follower => None,
        }
    }

    /// The term this tab leads, if it leads.
    pub fn leader_term(&self) -> Option<Term> {
        self.leading().map(|leading| leading.term)
    }

    pub fn following(&self) -> bool {
        matches!(self.role, Role::Follower)
    }

    /// This tab got the lock: it leads, in a term newer than any it heard of. Returns the term, and how far the
    /// tab had followed the previous leader's feed (the announcement says it, so tabs behind it catch up).
    pub fn lead(&mut self) -> (Term, Option<Position>) {
        self.top_term += 1;
        let term = Term {
            number: self.top_term,
            tab: self.tab,
        };
        let reached = self.inbox.position();
        self.inbox.lead(term);
        self.role = Role::Leader(Leading {
            term,
            sent: 0,
            visible: BTreeSet::new(),
            remote_events: BTreeSet::new(),
        });
        (term, reached)
    }

    /// Stops leading, if leading; the tab carries out [`Step::LetGo`].
    pub fn step_down(&mut self) {
        self.role = Role::Follower;
    }

    /// Another tab leads in a newer term: stop leading and follow it (catch up, queue for the lock, watch it),
    /// unless no subscriber of this tab is active.
    pub fn replaced(&mut self, subscribed: bool) -> Vec<Step> {
        self.step_down();
        let mut steps = vec![Step::LetGo];
        if subscribed {
            self.inbox.join();
            steps.extend([Step::SendWant, Step::QueueForLock, Step::Watch]);
        }
        steps
    }

    /// The term and role rules: what a note from another tab changes in this tab's standing, and what the tab is
    /// to do about it, in order. `subscribed`: a subscriber of this tab is active.
    pub fn on_note(&mut self, note: Note, subscribed: bool) -> Vec<Step> {
        // Every term heard of counts, not only announcements: a tab that joined after the leader announced
        // itself learns its term from the catch-up or the feed, and must take over with a newer one.
        let heard = match &note {
            Note::Lead { term, .. }
            | Note::State { term, .. }
            | Note::Beat { term, .. }
            | Note::Replay { term, .. } => Some(*term),
            Note::Event(relayed) => Some(relayed.term),
            Note::Want { .. } | Note::Presence { .. } | Note::Bye { .. } => None,
        };
        if let Some(term) = heard {
            self.top_term = self.top_term.max(term.number);
        }
        let mut steps = Vec::new();
        match note {
            Note::Lead {
                term,
                reached,
                state,
            } => {
                let following_newer = self.inbox.term().is_none_or(|t| term >= t);
                let newer = following_newer && self.leader_term().is_none_or(|mine| term > mine);
                if !newer {
                    return steps;
                }
                self.step_down();
                self.leader_hidden = false;
                let intake = self.inbox.leader(term, reached);
                steps.extend([Step::LetGo, Step::SetState(state), Step::SendPresence]);
                if intake == Intake::CatchUp {
                    steps.push(Step::SendWant);
                }
                steps.extend([Step::QueueForLock, Step::Watch]);
            }
            Note::Event(relayed) => {
                if self.leader_term().is_some_and(|mine| relayed.term > mine) {
                    steps = self.replaced(subscribed);
                }
                if !self.following() {
                    return steps;
                }
                let intake = self.inbox.event(relayed);
                take_in(intake, &mut steps);
                steps.push(Step::Watch);
            }
            Note::State { term, state, error } => {
                let current = match self.role {
                    Role::Follower => self.inbox.term(),
                    Role::Leader(_) => None,
                };
                if current != Some(term) {
                    return steps;
                }
                let gave_up = matches!(error, Some(SseError::GaveUp(_)));
                steps.extend([Step::SetState(state), Step::SetError(error)]);
                steps.push(if gave_up { Step::GiveUp } else { Step::Watch });
            }
            Note::Beat { term, hidden } => {
                if self.leader_term().is_some_and(|mine| term > mine) {
                    return self.replaced(subscribed);
                }
                if self.inbox.term() == Some(term) {
                    self.leader_hidden = hidden;
                }
                steps.push(Step::Watch);
            }
            Note::Want { tab, after, events } => {
                if let Role::Leader(leading) = &mut self.role {
                    leading.remote_events.extend(events);
                    steps.extend([
                        Step::Listen,
                        Step::Answer {
                            to: tab,
                            after,
                            term: leading.term,
                            upto: leading.sent,
                        },
                    ]);
                }
            }
            Note::Replay {
                to,
                term,
                events,
                upto,
                state,
                error,
            } => {
                if to != self.tab || !self.following() {
                    return steps;
                }
                let intake = self.inbox.replay(term, events, upto);
                if intake != Intake::Nothing {
                    steps.extend([Step::SetState(state), Step::SetError(error)]);
                }
                take_in(intake, &mut steps);
                steps.push(Step::Watch);
            }
            Note::Presence {
                tab,
                visible,
                events,
            } => {
                if let Role::Leader(leading) = &mut self.role {
                    if visible {
                        leading.visible.insert(tab);
                    } else {
                        leading.visible.remove(&tab);
                    }
                    leading.remote_events.extend(events);
                    steps.extend([Step::Listen, Step::CheckVisibility]);
                }
            }
            Note::Bye { tab } => {
                if let Role::Leader(leading) = &mut self.role {
                    leading.visible.remove(&tab);
                    steps.push(Step::CheckVisibility);
                }
            }
        }
        steps
    }
}

/// What the intake let through becomes steps: events to deliver, or a request for a catch-up.
fn take_in(intake: Intake, steps: &mut Vec<Step>) {
    match intake {
        Intake::Deliver(events) => steps.push(Step::Deliver(events)),
        Intake::CatchUp => steps.push(Step::SendWant),
        Intake::Nothing => {}
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

    /// A tab (id 5) following the leader of term `A`, caught up.
    fn follower_of_a() -> Standing {
        let mut tab = Standing::new(5);
        let announced = Note::Lead {
            term: A,
            reached: None,
            state: ReadyState::Connecting,
        };
        assert_eq!(
            tab.on_note(announced, true),
            [
                Step::LetGo,
                Step::SetState(ReadyState::Connecting),
                Step::SendPresence,
                Step::QueueForLock,
                Step::Watch
            ]
        );
        tab
    }

    /// The tab that leads in term `A`.
    fn leader_of_a() -> Standing {
        let mut tab = Standing::new(A.tab);
        let (term, _) = tab.lead();
        assert_eq!(term, A);
        tab
    }

    /// The steps of a tab that learns another leads in a newer term: let go, catch up, queue, watch.
    const REPLACED: [Step; 4] = [Step::LetGo, Step::SendWant, Step::QueueForLock, Step::Watch];

    #[test]
    fn a_tab_takes_the_lead_in_a_term_newer_than_any_it_heard_of() {
        let mut tab = follower_of_a();
        // Heard in another tab's beat, not in an announcement: it counts all the same.
        let beat = Note::Beat {
            term: Term { number: 9, tab: 1 },
            hidden: false,
        };
        assert_eq!(tab.on_note(beat, true), [Step::Watch]);
        let (term, reached) = tab.lead();
        assert_eq!(term, Term { number: 10, tab: 5 });
        assert_eq!(reached, Some(Position { term: A, n: 0 }));
        assert_eq!(tab.leader_term(), Some(term));
        assert_eq!(tab.inbox.term(), Some(term));
    }

    #[test]
    fn a_newer_leaders_announcement_makes_a_leader_step_down_and_catch_up() {
        let mut tab = leader_of_a();
        let steps = tab.on_note(
            Note::Lead {
                term: B,
                reached: Some(Position { term: A, n: 3 }),
                state: ReadyState::Open,
            },
            true,
        );
        // It relayed nothing in term A, so it is behind the new leader and asks it for the difference.
        assert_eq!(
            steps,
            [
                Step::LetGo,
                Step::SetState(ReadyState::Open),
                Step::SendPresence,
                Step::SendWant,
                Step::QueueForLock,
                Step::Watch
            ]
        );
        assert!(tab.following() && tab.inbox.is_waiting());
        assert_eq!(tab.inbox.term(), Some(B));
    }

    #[test]
    fn an_announcement_from_an_older_term_changes_nothing() {
        let mut leader = Standing::new(5);
        leader.top_term = B.number - 1;
        leader.lead();
        let old = Note::Lead {
            term: A,
            reached: None,
            state: ReadyState::Open,
        };
        assert_eq!(leader.on_note(old.clone(), true), []);
        assert!(leader.leader_term().is_some());
        let mut follower = follower_of_a();
        follower.on_note(
            Note::Lead {
                term: B,
                reached: None,
                state: ReadyState::Open,
            },
            true,
        );
        assert_eq!(follower.on_note(old, true), []);
        assert_eq!(follower.inbox.term(), Some(B));
    }

    #[test]
    fn a_follower_delivers_its_leaders_feed_and_keeps_watching() {
        let mut tab = follower_of_a();
        assert_eq!(
            tab.on_note(Note::Event(ev(A, 1, 41, Some(40))), true),
            [Step::Deliver(vec![ev(A, 1, 41, Some(40))]), Step::Watch]
        );
        // An event from a leader it was never told about (it missed the announcement) makes it catch up.
        assert_eq!(
            tab.on_note(Note::Event(ev(B, 4, 50, Some(45))), true),
            [Step::SendWant, Step::Watch]
        );
    }

    #[test]
    fn an_event_from_a_newer_term_replaces_a_leader() {
        let mut tab = leader_of_a();
        // An event of its own term or an older one changes nothing.
        assert_eq!(tab.on_note(Note::Event(ev(A, 1, 1, None)), true), []);
        let steps = tab.on_note(Note::Event(ev(B, 1, 2, Some(1))), true);
        // The event waits in the intake for the catch-up the tab asked for.
        assert_eq!(steps, [REPLACED.as_slice(), &[Step::Watch]].concat());
        assert!(tab.following() && tab.inbox.is_waiting());
        // With no active subscriber it lets go and follows nobody: it only notes the event.
        let mut idle = leader_of_a();
        let steps = idle.on_note(Note::Event(ev(B, 1, 2, Some(1))), false);
        assert_eq!(steps, [Step::LetGo, Step::SendWant, Step::Watch]);
    }

    #[test]
    fn a_beat_from_a_newer_term_replaces_a_leader_one_from_the_leader_is_heard() {
        let mut leader = leader_of_a();
        assert_eq!(
            leader.on_note(
                Note::Beat {
                    term: B,
                    hidden: false
                },
                true
            ),
            REPLACED
        );
        let mut follower = follower_of_a();
        let beat = |term| Note::Beat { term, hidden: true };
        assert_eq!(follower.on_note(beat(B), true), [Step::Watch]);
        assert!(!follower.leader_hidden, "not the leader it follows");
        assert_eq!(follower.on_note(beat(A), true), [Step::Watch]);
        assert!(follower.leader_hidden);
    }

    #[test]
    fn a_follower_shows_its_leaders_state_and_gives_up_with_it() {
        let mut tab = follower_of_a();
        let state = |term, error| Note::State {
            term,
            state: ReadyState::Closed,
            error,
        };
        assert_eq!(tab.on_note(state(B, None), true), [], "not its leader");
        assert_eq!(
            tab.on_note(state(A, Some(SseError::Dropped)), true),
            [
                Step::SetState(ReadyState::Closed),
                Step::SetError(Some(SseError::Dropped)),
                Step::Watch
            ]
        );
        assert_eq!(
            tab.on_note(state(A, Some(SseError::GaveUp(3))), true)[2],
            Step::GiveUp
        );
        assert_eq!(leader_of_a().on_note(state(A, None), true), []);
    }

    #[test]
    fn only_a_leader_answers_a_want_and_listens_to_what_it_asks_for() {
        let want = Note::Want {
            tab: 9,
            after: Some("40".into()),
            events: vec!["kitchen".into()],
        };
        assert_eq!(follower_of_a().on_note(want.clone(), true), []);
        let mut tab = leader_of_a();
        let Role::Leader(leading) = &mut tab.role else {
            unreachable!()
        };
        leading.sent = 7;
        assert_eq!(
            tab.on_note(want, true),
            [
                Step::Listen,
                Step::Answer {
                    to: 9,
                    after: Some("40".into()),
                    term: A,
                    upto: 7
                }
            ]
        );
        let Role::Leader(leading) = &tab.role else {
            unreachable!()
        };
        assert!(leading.remote_events.contains("kitchen"));
    }

    #[test]
    fn a_replay_is_taken_only_by_the_follower_it_is_addressed_to() {
        let replay = |to| Note::Replay {
            to,
            term: A,
            events: vec![ev(A, 1, 41, Some(40))],
            upto: 1,
            state: ReadyState::Open,
            error: None,
        };
        assert_eq!(Standing::new(5).on_note(replay(6), true), []);
        assert_eq!(leader_of_a().on_note(replay(A.tab), true), []);
        assert_eq!(
            Standing::new(5).on_note(replay(5), true),
            [
                Step::SetState(ReadyState::Open),
                Step::SetError(None),
                Step::Deliver(vec![ev(A, 1, 41, Some(40))]),
                Step::Watch
            ]
        );
        // An answer to a request already served changes neither state nor feed.
        assert_eq!(follower_of_a().on_note(replay(5), true), [Step::Watch]);
    }

    #[test]
    fn presence_and_goodbyes_steer_only_a_leaders_pause() {
        let presence = |tab, visible| Note::Presence {
            tab,
            visible,
            events: vec!["viewers".into()],
        };
        assert_eq!(follower_of_a().on_note(presence(8, true), true), []);
        assert_eq!(follower_of_a().on_note(Note::Bye { tab: 8 }, true), []);
        let mut tab = leader_of_a();
        let visible = |tab: &Standing| match &tab.role {
            Role::Leader(leading) => leading.visible.iter().copied().collect::<Vec<_>>(),
            Role::Follower => unreachable!(),
        };
        let heard = [Step::Listen, Step::CheckVisibility];
        assert_eq!(tab.on_note(presence(8, true), true), heard);
        assert_eq!(tab.on_note(presence(9, true), true), heard);
        assert_eq!(visible(&tab), [8, 9]);
        assert_eq!(tab.on_note(presence(8, false), true), heard);
        assert_eq!(
            tab.on_note(Note::Bye { tab: 9 }, true),
            [Step::CheckVisibility]
        );
        assert_eq!(visible(&tab), Vec::<u64>::new());
        let Role::Leader(leading) = &tab.role else {
            unreachable!()
        };
        assert!(leading.remote_events.contains("viewers"));
    }

    /// One note of every kind, with every optional field both present and absent, and strings that contain the
    /// format's own delimiters.
    fn every_note() -> Vec<Note> {
        let mut odd = ev(A, 2, 2, Some(1));
        odd.event = "a:b;c~".into();
        odd.data = "line one\nline two: 3; ~ {\"json\": [1, 2]} é 🔥".into();
        odd.fresh = false;
        let mut empty = ev(A, 3, 3, None);
        (empty.event, empty.data, empty.id) = (String::new(), String::new(), String::new());
        let errors = [
            None,
            Some(SseError::Dropped),
            Some(SseError::Stale(Duration::new(45, 123_456_789))),
            Some(SseError::GaveUp(7)),
            Some(SseError::Decode {
                event: "kitchen".into(),
                reason: "expected `:` at line 1".into(),
            }),
            Some(SseError::Open("SyntaxError: bad URL ~;:".into())),
        ];
        let states = [
            ReadyState::Connecting,
            ReadyState::Open,
            ReadyState::Reconnecting {
                attempt: 2,
                retry_at_ms: 1_795_255_445_000.5,
            },
            ReadyState::Closed,
        ];
        let mut notes = vec![
            Note::Lead {
                term: A,
                reached: Some(Position { term: B, n: 9 }),
                state: ReadyState::Connecting,
            },
            Note::Lead {
                term: B,
                reached: None,
                state: ReadyState::Open,
            },
            Note::Event(ev(A, 1, 1, None)),
            Note::Event(odd.clone()),
            Note::Event(empty.clone()),
            Note::Beat {
                term: A,
                hidden: true,
            },
            Note::Beat {
                term: B,
                hidden: false,
            },
            Note::Want {
                tab: u64::MAX,
                after: Some("41".into()),
                events: vec!["kitchen".into(), String::new(), "a:b".into()],
            },
            Note::Want {
                tab: 0,
                after: None,
                events: vec![],
            },
            Note::Presence {
                tab: 5,
                visible: true,
                events: vec!["message".into()],
            },
            Note::Bye { tab: 12 },
        ];
        for (state, error) in states.into_iter().zip(errors.iter().cycle()) {
            notes.push(Note::State {
                term: A,
                state,
                error: error.clone(),
            });
        }
        for error in errors {
            notes.push(Note::Replay {
                to: 3,
                term: A,
                events: vec![ev(A, 1, 1, None), odd.clone(), empty.clone()],
                upto: 3,
                state: ReadyState::Reconnecting {
                    attempt: 1,
                    retry_at_ms: 0.1,
                },
                error,
            });
        }
        notes.push(Note::Replay {
            to: 0,
            term: B,
            events: vec![],
            upto: 0,
            state: ReadyState::Closed,
            error: None,
        });
        notes
    }

    #[test]
    fn notes_survive_the_channel_and_foreign_messages_are_ignored() {
        for note in every_note() {
            assert_eq!(Note::decode(&note.encode()), Some(note));
        }
        for foreign in [
            "",
            r#"{"hello":"world"}"#,
            r#"{"Bye":{"tab":12}}"#,
            "hello",
            "Y12",
            "Y-1;",
            "Y18446744073709551616;",
            "B1;2;3;",
            "S1;2;r4294967296;0;~",
            "S1;2;xs1;1000000000;",
        ] {
            assert_eq!(Note::decode(foreign), None, "{foreign:?}");
        }
    }

    #[test]
    fn truncated_or_padded_notes_are_refused_without_panicking() {
        for note in every_note() {
            let text = note.encode();
            for end in 0..text.len() {
                if let Some(prefix) = text.get(..end) {
                    assert_eq!(Note::decode(prefix), None, "{prefix:?}");
                }
            }
            assert_eq!(Note::decode(&format!("{text}~")), None);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_event_text_survives_the_channel(event in ".*", data in ".*", id in ".*", from in proptest::option::of(".*")) {
            let note = Note::Event(Relayed { term: A, n: 1, event, data, id, fresh: true, from });
            proptest::prop_assert_eq!(Note::decode(&note.encode()), Some(note));
        }

        #[test]
        fn any_text_decodes_or_is_refused_without_panicking(text in ".*") {
            let _ = Note::decode(&text);
        }
    }
}

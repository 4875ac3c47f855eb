//! What one subscriber may receive, decided once when it subscribes and then tested per update.
//!
//! An update reaches a subscriber when one of its topics (canonical or alternate) matches one of the
//! subscriber's `topic` selectors and, for a private update, one of its topics matches one of the selectors of
//! the subscriber's `mercure.subscribe` claim — the protocol's two conditions, which the reference hub applies
//! the same way. The dashboard's own topics are topics of this hub too ([`super::DASHBOARD_TOPICS`]): a
//! subscriber gets those its selectors name and its authority lets it read; they are turned into the hub's topic
//! bit mask here, once, so their events cost a delivery no more than on `/events`.

use super::authority::Authority;
use super::selector::SelectorSet;
use super::DASHBOARD_TOPICS;
use crate::event::Event;
use app::contract::{MercureUpdate, Payload, TopicSet};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// Distinct accesses remembered for sharing before the dead ones are swept out.
const SWEEP_OVER: usize = 1024;

/// One subscriber's selectors and rights, compiled.
#[derive(Debug)]
pub struct Access {
    /// The `topic` selectors it asked for.
    pub subscribed: SelectorSet,
    /// Selectors of the topics whose private updates it may receive.
    pub private: SelectorSet,
    /// The hub topics its stream carries: Mercure updates, and the dashboard's topics it may read.
    pub topics: TopicSet,
    /// The verdict on the newest update asked about, as `id << 1 | allowed` ([`NO_VERDICT`] before any): the
    /// subscribers sharing this access are asked about the same update one after another, and only the first
    /// of them should run the selectors' templates (without it they cost a sixth of the hub's CPU at 8,000
    /// updates a second to 100 subscribers).
    verdict: AtomicU64,
}

/// No update asked about yet (an id of 2^63 - 1 is never reached).
const NO_VERDICT: u64 = u64::MAX;

impl Access {
    /// The access of a subscriber asking for `selectors` with `authority`; `reads_are_public` says whether the
    /// dashboard's state is open to anyone (Hearth's own read rule).
    pub fn new(selectors: Vec<String>, authority: &Authority, reads_are_public: bool) -> Self {
        Self::with(SelectorSet::new(selectors), authority, reads_are_public)
    }

    /// The access for `selectors` (each with whether it may be a URI template) and `authority`, shared with
    /// every open subscriber that asked the same with the same rights: thousands of clients of one application
    /// subscribe alike, and they then hold one compiled set (and its match caches) between them, not one each.
    pub fn shared(
        selectors: Vec<(String, bool)>,
        authority: &Authority,
        reads_are_public: bool,
    ) -> Arc<Access> {
        static OPEN: OnceLock<Mutex<HashMap<String, Weak<Access>>>> = OnceLock::new();
        let mut key = String::from(if reads_are_public { "p" } else { "-" });
        match authority {
            Authority::Owner => key.push('O'),
            Authority::Anonymous => key.push('A'),
            Authority::Token(claims) => {
                key.push('T');
                for claim in claims.mercure.subscribe.iter().flatten() {
                    key.push('\0');
                    key.push_str(claim);
                }
            }
        }
        key.push('\u{1}');
        for (selector, template) in &selectors {
            key.push(if *template { 't' } else { 'e' });
            key.push_str(selector);
            key.push('\0');
        }
        let open = OPEN.get_or_init(Mutex::default);
        if let Some(access) = open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .and_then(Weak::upgrade)
        {
            return access;
        }
        let access = Arc::new(Self::with(
            SelectorSet::build(selectors),
            authority,
            reads_are_public,
        ));
        let mut open = open.lock().unwrap_or_else(|e| e.into_inner());
        if open.len() >= SWEEP_OVER {
            open.retain(|_, access| access.strong_count() > 0);
        }
        open.insert(key, Arc::downgrade(&access));
        access
    }

    /// As [`Access::new`], with the subscriber's selectors already compiled.
    pub fn with(subscribed: SelectorSet, authority: &Authority, reads_are_public: bool) -> Self {
        let private = match authority {
            Authority::Owner => SelectorSet::new(["*"]),
            Authority::Token(claims) => {
                SelectorSet::new(claims.mercure.subscribe.clone().unwrap_or_default())
            }
            Authority::Anonymous => SelectorSet::none(),
        };
        let mut topics = TopicSet::MERCURE;
        for (topic, iri) in DASHBOARD_TOPICS {
            let may_read = reads_are_public || private.matches(iri);
            if may_read && subscribed.matches(iri) {
                topics = topics.union(TopicSet::of(&[topic]));
            }
        }
        Access {
            subscribed,
            private,
            topics,
            verdict: AtomicU64::new(NO_VERDICT),
        }
    }

    /// Whether this subscriber receives `update`.
    pub fn allows_update(&self, update: &MercureUpdate) -> bool {
        let topics = || update.topics.iter().map(String::as_str);
        self.subscribed.matches_any(topics())
            && (!update.private || self.private.matches_any(topics()))
    }

    /// Whether this subscriber receives `event` (whose topic its stream already carries).
    pub fn allows(&self, event: &Event) -> bool {
        match &event.payload {
            Payload::Mercure(update) => match event.id {
                // Two subscribers may both miss and both decide: they reach the same verdict on the same update.
                Some(id) if id < NO_VERDICT >> 1 => {
                    let seen = self.verdict.load(Ordering::Relaxed);
                    if seen != NO_VERDICT && seen >> 1 == id {
                        return seen & 1 == 1;
                    }
                    let allowed = self.allows_update(update);
                    self.verdict
                        .store(id << 1 | u64::from(allowed), Ordering::Relaxed);
                    allowed
                }
                _ => self.allows_update(update),
            },
            // A dashboard topic's event: its topic is in `topics` only if the subscriber may read it.
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mercure::jwt::{Claims, MercureClaim};
    use app::contract::Topic;

    fn update(topics: &[&str], private: bool) -> MercureUpdate {
        MercureUpdate {
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            data: String::new(),
            private,
            id: None,
            event_type: None,
            retry: None,
        }
    }

    fn token(subscribe: &[&str]) -> Authority {
        Authority::Token(Claims {
            mercure: MercureClaim {
                subscribe: Some(subscribe.iter().map(|s| (*s).to_owned()).collect()),
                ..MercureClaim::default()
            },
            exp: None,
        })
    }

    #[test]
    fn public_updates_need_a_matching_selector_only() {
        let a = Access::new(
            vec!["https://example.com/books/{id}".into()],
            &Authority::Anonymous,
            false,
        );
        assert!(a.allows_update(&update(&["https://example.com/books/1"], false)));
        assert!(a.allows_update(&update(&["other", "https://example.com/books/1"], false)));
        assert!(!a.allows_update(&update(&["https://example.com/authors/1"], false)));
    }

    #[test]
    fn a_private_update_needs_a_claim_matching_one_of_its_topics() {
        let selectors = vec!["https://example.com/books/{id}".to_owned()];
        let book = "https://example.com/books/1";
        let alternate =
            "https://example.com/users/foo/?topic=https%3A%2F%2Fexample.com%2Fbooks%2F1";
        let private = update(&[book, alternate], true);
        assert!(
            !Access::new(selectors.clone(), &Authority::Anonymous, true).allows_update(&private)
        );
        assert!(!Access::new(
            selectors.clone(),
            &token(&["https://example.com/books/2"]),
            true
        )
        .allows_update(&private));
        // The spec's example: the claim names the subscriber's own alternate topic, not the book.
        assert!(Access::new(
            selectors.clone(),
            &token(&["https://example.com/users/foo/{?topic}"]),
            false
        )
        .allows_update(&private));
        assert!(Access::new(selectors.clone(), &Authority::Owner, false).allows_update(&private));
        // A claim alone does not subscribe: the selectors must match too.
        assert!(!Access::new(vec!["x".into()], &token(&["*"]), false).allows_update(&private));
    }

    #[test]
    fn subscribers_asking_alike_with_the_same_rights_share_one_access() {
        let ask = || vec![("https://example.com/{id}".to_owned(), true)];
        let a = Access::shared(ask(), &token(&["x/{y}"]), false);
        let b = Access::shared(ask(), &token(&["x/{y}"]), false);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(
            &a,
            &Access::shared(ask(), &token(&["other"]), false)
        ));
        assert!(!Arc::ptr_eq(
            &a,
            &Access::shared(ask(), &Authority::Anonymous, false)
        ));
        assert!(!Arc::ptr_eq(
            &a,
            &Access::shared(ask(), &token(&["x/{y}"]), true)
        ));
    }

    #[test]
    fn dashboard_topics_follow_the_read_rule_or_a_claim() {
        let star = || vec!["*".to_owned()];
        let closed = Access::new(star(), &Authority::Anonymous, false);
        assert_eq!(closed.topics, TopicSet::MERCURE);
        let open = Access::new(star(), &Authority::Anonymous, true);
        assert!(open.topics.contains(Topic::Entities) && open.topics.contains(Topic::Message));
        assert!(
            !open.topics.contains(Topic::Viewers),
            "live-only values have no id"
        );
        let claimed = Access::new(star(), &token(&["urn:hearth:topic:message"]), false);
        assert!(claimed.topics.contains(Topic::Message));
        assert!(!claimed.topics.contains(Topic::Entities));
        let named = Access::new(
            vec!["urn:hearth:topic:{name}".into()],
            &Authority::Owner,
            false,
        );
        assert!(named.topics.contains(Topic::Camera));
    }

    #[test]
    fn subscribers_sharing_an_access_get_each_updates_own_verdict() {
        let access = Access::new(
            vec!["https://example.com/books/{id}".into()],
            &token(&["https://example.com/books/1"]),
            false,
        );
        let event = |id, topic: &str, private| {
            Event::new(Some(id), Payload::Mercure(update(&[topic], private)))
        };
        let allowed = event(7, "https://example.com/books/1", true);
        let refused = event(8, "https://example.com/books/2", true);
        let public = event(9, "https://example.com/books/2", false);
        // Asked in turn by several subscribers, and again out of order: each answer is the update's own.
        for _ in 0..3 {
            assert!(access.allows(&allowed));
        }
        for _ in 0..3 {
            assert!(!access.allows(&refused));
        }
        assert!(access.allows(&allowed), "an older update is decided again");
        assert!(access.allows(&public));
        assert!(!access.allows(&refused));
        let unnumbered = Event::new(
            None,
            Payload::Mercure(update(&["https://example.com/books/1"], true)),
        );
        assert!(access.allows(&unnumbered));
    }
}

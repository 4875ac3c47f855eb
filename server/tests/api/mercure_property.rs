//! A property of the Mercure hub, over random publishes and subscribers: each subscriber receives exactly the
//! updates its selectors and claims allow, in publish order, and a subscriber that reconnects with the
//! `Last-Event-ID` of any update it received gets exactly the ones after it — no duplicate, no gap.
//!
//! The expectation is computed by a model of the protocol's rules written apart from the hub's own code:
//! every selector below comes with the set of topics it matches, spelled out.

use crate::helpers::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::sync::atomic::{AtomicU64, Ordering};

/// The topics updates are published to (under a prefix unique to each case).
const TOPICS: [&str; 4] = ["a/1", "a/2", "b/1", "c"];

/// A selector and the topics it matches, by index into [`TOPICS`].
struct Selector {
    text: &'static str,
    matches: &'static [usize],
}

const SELECTORS: [Selector; 6] = [
    Selector {
        text: "a/1",
        matches: &[0],
    },
    Selector {
        text: "c",
        matches: &[3],
    },
    Selector {
        text: "a/{id}",
        matches: &[0, 1],
    },
    Selector {
        text: "{x}/1",
        matches: &[0, 2],
    },
    Selector {
        text: "{+any}",
        matches: &[0, 1, 2, 3],
    },
    Selector {
        text: "b/{id}{?q}",
        matches: &[2],
    },
];

#[derive(Debug, Clone)]
struct Update {
    topics: Vec<usize>,
    private: bool,
    own_id: bool,
}

#[derive(Debug, Clone)]
struct Subscriber {
    selectors: Vec<usize>,
    /// `None`: anonymous.
    claims: Option<Vec<usize>>,
}

fn an_update() -> impl Strategy<Value = Update> {
    (
        proptest::sample::subsequence(vec![0usize, 1, 2, 3], 1..=2),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(topics, private, own_id)| Update {
            topics,
            private,
            own_id,
        })
}

fn a_subscriber() -> impl Strategy<Value = Subscriber> {
    (
        proptest::sample::subsequence((0..SELECTORS.len()).collect::<Vec<_>>(), 1..=2),
        proptest::option::of(proptest::sample::subsequence(
            (0..SELECTORS.len()).collect::<Vec<_>>(),
            0..=2,
        )),
    )
        .prop_map(|(selectors, claims)| Subscriber { selectors, claims })
}

fn matched(selectors: &[usize], topics: &[usize]) -> bool {
    selectors
        .iter()
        .any(|s| topics.iter().any(|t| SELECTORS[*s].matches.contains(t)))
}

/// The model: whether `sub` receives `update`.
fn receives(sub: &Subscriber, update: &Update) -> bool {
    let claims = sub.claims.as_deref().unwrap_or(&[]);
    matched(&sub.selectors, &update.topics) && (!update.private || matched(claims, &update.topics))
}

static CASE: AtomicU64 = AtomicU64::new(0);

async fn run_case(app: &TestApp, updates: Vec<Update>, subscribers: Vec<Subscriber>, cut: usize) {
    let case = CASE.fetch_add(1, Ordering::Relaxed);
    let prefix = format!("https://prop.example/{case}/");
    let topic = |i: usize| format!("{prefix}{}", TOPICS[i]);
    let fence = format!("{prefix}fence");
    let publisher = publisher(&["*"]);
    let query_of = |sub: &Subscriber| {
        let mut selectors: Vec<String> = sub
            .selectors
            .iter()
            .map(|s| format!("{prefix}{}", SELECTORS[*s].text))
            .collect();
        selectors.push(fence.clone());
        let token = sub.claims.as_ref().map(|claims| {
            let claims: Vec<String> = claims
                .iter()
                .map(|s| format!("{prefix}{}", SELECTORS[*s].text))
                .collect();
            subscriber(&refs(&claims))
        });
        let extra: Vec<(&str, &str)> = token
            .iter()
            .map(|t| ("authorization", t.as_str()))
            .collect();
        query(&refs(&selectors), &extra)
    };
    let mut streams = Vec::new();
    for sub in &subscribers {
        streams.push(app.mercure_subscribe(&query_of(sub), &[]).await);
    }
    let mut published = Vec::new();
    for (n, u) in updates.iter().enumerate() {
        let mut fields: Vec<(&str, String)> =
            u.topics.iter().map(|t| ("topic", topic(*t))).collect();
        fields.push(("data", format!("update {n}")));
        if u.private {
            fields.push(("private", "on".into()));
        }
        if u.own_id {
            fields.push(("id", format!("urn:uuid:case-{case}-{n}")));
        }
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        published.push(app.mercure_publish_ok(&publisher, &pairs).await);
    }
    app.mercure_publish_ok(&publisher, &[("topic", &fence), ("data", "fence")])
        .await;
    for (sub, stream) in subscribers.iter().zip(&mut streams) {
        let expected: Vec<String> = updates
            .iter()
            .zip(&published)
            .filter(|(u, _)| receives(sub, u))
            .map(|(_, id)| id.clone())
            .collect();
        let mut got = Vec::new();
        loop {
            let event = stream.next_event().await;
            if event.data == "fence" {
                break;
            }
            got.push(event.id);
        }
        assert_eq!(
            got, expected,
            "{sub:?} receives what its selectors and claims allow, in order"
        );
        // Reconnecting from any update it received: exactly the rest.
        if let Some(from) = got.get(cut % got.len().max(1)) {
            let mut again = app
                .mercure_subscribe(&query_of(sub), &[("last-event-id", from)])
                .await;
            let mut rest = Vec::new();
            loop {
                let event = again.next_event().await;
                if event.data == "fence" {
                    break;
                }
                rest.push(event.id);
            }
            let after = got.iter().position(|id| id == from).map_or(0, |i| i + 1);
            assert_eq!(rest, got[after..], "{sub:?} resuming from {from}");
        }
    }
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn every_subscriber_receives_exactly_what_it_may_in_order_and_resumes_without_duplicates() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Each case's streams end when dropped, which the server notices at its next write: no per-address cap
    // on streams, or the cases would queue behind each other's leftovers.
    let app = runtime.block_on(spawn_app(|f| {
        mercure_flags(f).set("--max-streams-per-client", 0);
    }));
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        proptest::collection::vec(an_update(), 1..12),
        proptest::collection::vec(a_subscriber(), 1..4),
        any::<usize>(),
    );
    runner
        .run(&strategy, |(updates, subscribers, cut)| {
            runtime.block_on(run_case(&app, updates, subscribers, cut));
            Ok(())
        })
        .unwrap();
}

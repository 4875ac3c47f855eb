//! A property: whatever the mix of publishes on random instances and clients reconnecting to random
//! instances, each client's ids strictly increase and equal the global log filtered by its topics.

use crate::harness::{instance, seq, Redis, SseStream, TestApp};
use crate::resume::message;
use app::contract::{Payload, Temperature};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// Publish a message (kind 0) or a reading (kind 1) on an instance.
    Publish { on: usize, kind: u8 },
    /// A client reads up to `read` of what it has not seen, then reconnects to an instance.
    Reconnect {
        client: usize,
        to: usize,
        read: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, 0..2u8).prop_map(|(on, kind)| Op::Publish { on, kind }),
        1 => (0..3usize, 0..3usize, 0..6usize).prop_map(|(client, to, read)| Op::Reconnect { client, to, read }),
    ]
}

/// One client: its path, the topics it wants, its stream and what it received.
struct Client {
    path: &'static str,
    topics: &'static [&'static str],
    stream: SseStream,
    received: Vec<u64>,
    /// The log's newest id when it first subscribed (it starts fresh, so it is owed what came after).
    start: u64,
}

const CLIENTS: [(&str, &[&str]); 3] = [
    ("/eventstream", &["message"]),
    (
        "/events?topics=message,temperature",
        &["message", "temperature"],
    ),
    ("/events?topics=temperature", &["temperature"]),
];

impl Client {
    /// Reads until it has received `n` more events of its topics (pings, snapshots skipped).
    async fn read(&mut self, n: usize) {
        let mut got = 0;
        while got < n {
            let event = self.stream.next_event().await;
            assert_ne!(
                event.event, "reset",
                "{}: no reset in a short gap",
                self.path
            );
            if self.topics.contains(&event.event.as_str()) {
                self.received.push(seq(&event));
                got += 1;
            }
        }
    }
}

async fn run(ops: Vec<Op>) {
    let redis = Redis::start().await;
    // One instance keeps a ring of 4, so its resumes read the log.
    let instances: Vec<TestApp> = vec![
        instance(&redis, |_| {}).await,
        instance(&redis, |_| {}).await,
        instance(&redis, |f| {
            f.set("--replay-size", 4);
        })
        .await,
    ];
    redis.settled().await;
    // What was published, in id order, with its topic.
    let mut published: Vec<(u64, &str)> = Vec::new();
    let start = redis.log().last().map_or(0, |(id, _)| *id);
    let mut clients = Vec::new();
    for (i, (path, topics)) in CLIENTS.into_iter().enumerate() {
        clients.push(Client {
            path,
            topics,
            stream: instances[i].sse(path).await,
            received: Vec::new(),
            start,
        });
    }
    let owed = |client: &Client, published: &[(u64, &str)]| -> usize {
        let last = client.received.last().copied().unwrap_or(client.start);
        published
            .iter()
            .filter(|(id, t)| *id > last && client.topics.contains(t))
            .count()
    };
    for op in ops {
        match op {
            Op::Publish { on, kind } => {
                let (payload, topic) = if kind == 0 {
                    (message("p"), "message")
                } else {
                    (
                        Payload::Temperature(Temperature {
                            temperature: 20.0,
                            updated_at: "p".into(),
                        }),
                        "temperature",
                    )
                };
                let event = instances[on]
                    .state
                    .hub
                    .publish(payload)
                    .await
                    .expect("published");
                published.push((event.id.unwrap(), topic));
            }
            Op::Reconnect { client, to, read } => {
                let n = read.min(owed(&clients[client], &published));
                clients[client].read(n).await;
                let c = &mut clients[client];
                let last = c.received.last().copied().unwrap_or(c.start).to_string();
                c.stream = instances[to].sse_from(c.path, Some(&last)).await;
            }
        }
    }
    published.sort_unstable();
    for client in &mut clients {
        let n = owed(client, &published);
        client.read(n).await;
        let wanted: Vec<u64> = published
            .iter()
            .filter(|(id, t)| *id > client.start && client.topics.contains(t))
            .map(|(id, _)| *id)
            .collect();
        crate::log::same_ids(client.path, &client.received, &wanted);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn each_client_sees_the_global_log_filtered_by_its_topics(ops in proptest::collection::vec(op(), 10..50)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(run(ops));
    }
}

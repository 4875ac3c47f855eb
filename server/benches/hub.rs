//! Micro-benchmarks of the two hot paths a benchmark of the whole server cannot isolate: framing one event
//! (done once per publish, shared by every subscriber) and finding where a resume starts in the replay buffer.
//!
//! `cargo bench -p server --bench hub`

// Benchmark set-up: a failed unwrap is a broken benchmark, which should stop it.
#![allow(clippy::unwrap_used)]

use app::contract::{Message, Payload, Temperature, Topic, TopicSet};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures::FutureExt;
use server::hub::{Backend, MemoryBackend, Start, SubscribeRequest, Subscription};
use server::metrics::Metrics;
use sse::{frame, Parser};
use std::hint::black_box;
use std::sync::Arc;

fn message(id: u64, text: &str) -> Payload {
    Payload::Message(Message {
        id,
        title: "New message!".into(),
        message: text.into(),
        timestamp: "2026-11-22T00:00:00.000Z".into(),
    })
}

fn framing(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame");
    let small = message(1, "dinner is ready").to_json();
    let multiline = message(2, &"a line of text\n".repeat(20))
        .to_json()
        .replace("\\n", "\n");
    for (name, data) in [("small", &small), ("multi-line", &multiline)] {
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), data, |b, data| {
            b.iter(|| {
                frame(
                    Some(black_box(1_795_000_000_000_000)),
                    Some("message"),
                    black_box(data),
                )
            })
        });
    }
    group.finish();

    let wire = frame(Some(7), Some("message"), &multiline);
    c.bench_function("parse/multi-line", |b| {
        b.iter(|| {
            let mut parser = Parser::default();
            black_box(parser.feed(black_box(&wire)))
        })
    });
}

fn replay_lookup(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("resume");
    for retained in [1_000u64, 10_000, 100_000] {
        let hub = MemoryBackend::new(retained as usize, 16, Arc::new(Metrics::default()));
        let mut seqs = Vec::new();
        runtime.block_on(async {
            for k in 0..retained {
                // Every other event on another topic, so the topic filter does real work.
                let payload = if k % 2 == 0 {
                    message(k, "m")
                } else {
                    Payload::Temperature(Temperature {
                        temperature: 21.0,
                        updated_at: "2026-11-22T00:00:00.000Z".into(),
                    })
                };
                seqs.push(hub.publish(payload).await.unwrap().id.unwrap());
            }
        });
        let topics = TopicSet::of(&[Topic::Message]);
        // The in-process backend answers at once: no runtime needed to take its subscription.
        let subscribe = |id: &str| -> Subscription {
            hub.subscribe(SubscribeRequest {
                topics,
                last_event_id: Some(id),
                state_stands_in: false,
            })
            .now_or_never()
            .unwrap()
        };
        // From the oldest retained id: the whole buffer is searched and half of it replayed.
        let deep = seqs[0].to_string();
        group.bench_with_input(BenchmarkId::new("deep", retained), &deep, |b, id| {
            b.iter(|| {
                let sub = subscribe(black_box(id));
                assert!(matches!(sub.start, Start::Resume(_)));
                black_box(sub)
            })
        });
        // From near the head: the search must still be cheap however big the buffer.
        let recent = seqs[seqs.len() - 3].to_string();
        group.bench_with_input(BenchmarkId::new("recent", retained), &recent, |b, id| {
            b.iter(|| black_box(subscribe(black_box(id))))
        });
    }
    group.finish();
}

criterion_group!(benches, framing, replay_lookup);
criterion_main!(benches);

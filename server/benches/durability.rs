//! Publish throughput and latency with and without durability, side by side in one run: the same hub, once
//! keeping nothing on disk and once group-committing every event to SQLite (`synchronous = FULL`) before it is
//! acknowledged. In-process (no HTTP), so the figures are the hub's and the journal's own.
//!
//! `cargo bench -p server --bench durability`

// Benchmark set-up: a failed unwrap is a broken benchmark, which should stop it.
#![allow(clippy::unwrap_used)]

use app::contract::{Message, Payload};
use clap::Parser;
use server::config::Config;
use server::hub::Hub;
use server::startup::open_hub;

use std::sync::Arc;
use std::time::{Duration, Instant};

fn message(id: u64) -> Payload {
    Payload::Message(Message {
        id,
        title: "New message!".into(),
        message: format!("benchmark message {id}"),
        timestamp: "2026-11-22T00:00:00.000Z".into(),
    })
}

/// Runs `total` publishes from `publishers` concurrent tasks; returns (events/s, p50, p99) of publish latency.
async fn run(hub: &Hub, publishers: u64, total: u64) -> (f64, Duration, Duration) {
    let start = Instant::now();
    let per = total / publishers;
    let tasks: Vec<_> = (0..publishers)
        .map(|p| {
            let hub = hub.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per as usize);
                for k in 0..per {
                    let t = Instant::now();
                    hub.publish(message(p * per + k)).await.unwrap();
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let rate = latencies.len() as f64 / start.elapsed().as_secs_f64();
    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    (rate, pick(0.5), pick(0.99))
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("| publishers | events | store | events/s | p50 latency | p99 latency |");
    println!("|---:|---:|---|---:|---:|---:|");
    for (publishers, total) in [(1u64, 2_000u64), (16, 20_000), (256, 50_000)] {
        for durable in [false, true] {
            let dir = std::env::temp_dir()
                .join(format!("hearth-bench-durability-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let (rate, p50, p99) = runtime.block_on(async {
                let dir_arg = dir.display().to_string();
                let mut args = vec![
                    "hearth",
                    "--data-dir",
                    &dir_arg,
                    "--replay-size",
                    "10000",
                    "--queue-size",
                    "1024",
                    "--retain-events",
                    "1000000",
                ];
                if !durable {
                    args.push("--in-memory");
                }
                let (hub, _) = open_hub(&Config::parse_from(args), Arc::default()).unwrap();
                run(&hub, publishers, total).await
            });
            println!(
                "| {publishers} | {total} | {} | {rate:.0} | {:.3} ms | {:.3} ms |",
                if durable {
                    "SQLite, group commit"
                } else {
                    "none (in memory)"
                },
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3,
            );
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

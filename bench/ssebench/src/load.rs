//! The load run (`ssebench` with no command): N subscriptions opened over plain TCP (spread over several
//! 127.0.0.x source addresses), then R messages a second for S seconds published through an HTTP `POST`, each
//! stamped with a sequence number and its send time; every stream is read through the WHATWG-exact parser of the
//! `sse` crate ([`sse::Parser`], the one Hearth's own tests use), and the run reports deliveries expected and
//! received, delivery latency, deliveries per second and the server's memory. `--idle` only holds the N
//! connections and reports the server's memory per connection. Output: one JSON object on stdout and a one-line
//! summary on stderr; `ssebench report` reads those objects back into tables.
//!
//! Bounded by construction: hard caps on N, R and S, a connect phase with a time limit, and a global deadline
//! after which the process ends by itself whatever it is waiting for. One process can hold as many connections
//! as its open-files limit allows (raised to the hard limit at start: ~19,900 on a 20,000 machine; 10,000 is
//! comfortable); run several processes for more.

use crate::extract::{unix_micros, Template};
use crate::histogram::{self, Histogram};
use crate::mqtt::MqttTarget;
use crate::publisher::Destination;
use crate::subscriber::{self, Failure, Opened};
use crate::target::Target;
use crate::{bounded, http1, procfs, publisher};
use anyhow::Context;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::Instant;

pub const MAX_SUBSCRIBERS: usize = 60_000;
pub const MAX_DURATION_SECS: f64 = 600.0;
pub const MAX_RATE: f64 = 100_000.0;
/// Every subscription keeps one bit per message; this bounds that memory to 512 MiB.
pub const MAX_SUBSCRIBER_MESSAGE_BITS: u64 = 1 << 32;
pub const MAX_DEADLINE_SECS: u64 = 1_800;
/// A server busy fanning out 10,000 deliveries answers a publish only after ~100 ms or more: with a single
/// publisher at 10 msg/s the schedule slipped by seconds (measured), so a few always share it.
const MIN_PUBLISHERS: usize = 4;
/// With Hearth's durable hub a publish waits for its journal's group commit: at 8,000 msg/s, 64 publishers
/// sent only 5,000-7,000 a second (measured), so the default allows more connections in flight.
const MAX_DEFAULT_PUBLISHERS: usize = 128;
/// Files the tool needs besides its subscriptions: publishers, the runtime, stdio, /proc reads.
const SPARE_FILES: u64 = 64;

#[derive(Debug, Clone, clap::Parser)]
pub struct Args {
    /// The event stream the subscriptions open (loopback http:// only). Repeatable or comma-separated: the
    /// subscriptions are then dealt round-robin over the URLs (several instances of one hub behind no proxy).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "http://127.0.0.1:3000/eventstream"
    )]
    pub subscribe_url: Vec<String>,
    /// Where messages are POSTed (loopback http:// only).
    #[arg(long, default_value = "http://127.0.0.1:3000/message")]
    pub publish_url: String,
    /// A header for every publish request, `Name: value` (repeatable), e.g. `Authorization: Bearer X`.
    #[arg(long)]
    pub publish_header: Vec<String>,
    /// A header for every subscription request, `Name: value` (repeatable).
    #[arg(long)]
    pub subscribe_header: Vec<String>,
    /// The publish body; `{seq}` and `{sent}` (Unix microseconds) are replaced.
    #[arg(long, default_value = r#"{"message":"{seq} {sent}"}"#)]
    pub publish_body: String,
    /// Subscriptions to open.
    #[arg(long, default_value_t = 1000)]
    pub subscribers: usize,
    /// Messages published per second.
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// Seconds to publish for (with --idle: seconds to hold the connections).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Only hold the subscriptions for --duration seconds and report the server's memory per connection.
    #[arg(long)]
    pub idle: bool,
    /// The server's process id, to read its memory (VmRSS) and CPU time from /proc. Repeatable or comma-separated
    /// for a server of several processes (nginx's master and workers): memory and CPU are then summed.
    #[arg(long, value_delimiter = ',')]
    pub server_pid: Vec<u32>,
    /// Source addresses 127.0.0.1 … 127.0.0.K the subscriptions are spread over.
    #[arg(long, default_value_t = 8)]
    pub source_addrs: usize,
    /// Subscriptions being opened at the same time.
    #[arg(long, default_value_t = 200)]
    pub connect_concurrency: usize,
    /// Seconds one subscription may take to connect and get its response head.
    #[arg(long, default_value_t = 10.0)]
    pub connect_timeout: f64,
    /// Seconds all subscriptions together may take to open.
    #[arg(long, default_value_t = 180.0)]
    pub connect_phase_timeout: f64,
    /// Concurrent publishers (default: one per 100 messages/s, 4 to 128: under load a publish can take as long
    /// as a whole fan-out, and one slow response must not hold back the schedule).
    #[arg(long)]
    pub publishers: Option<usize>,
    /// Milliseconds to wait between the last subscription opening and the first message.
    #[arg(long, default_value_t = 500)]
    pub settle_ms: u64,
    /// Seconds to wait after the last message for deliveries still on their way.
    #[arg(long, default_value_t = 5.0)]
    pub drain: f64,
    /// Runtime worker threads; 0 runs everything on one thread (a current-thread runtime). Two measured best
    /// on a 2-core machine shared with the server: on one thread a fan-out burst of 10,000 reads delays the
    /// publishers by 50-100 ms, and at 1,000 subscribers × 800 msg/s one thread keeps up with 580k deliveries/s
    /// where two reach 790k (BENCHMARKS.md).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Seconds after which the tool stops whatever it is doing (default: every phase's limit added up).
    #[arg(long)]
    pub deadline: Option<u64>,
    /// A name for this run, echoed in the JSON (scripts use it to tell scenarios apart).
    #[arg(long, default_value = "")]
    pub label: String,
}

/// Validated settings.
#[derive(Debug)]
pub struct Plan {
    pub args: Args,
    /// Subscription `i` opens `subscribe[i % len]`.
    pub subscribe: Vec<Target>,
    pub publish: Destination,
    pub subscribe_headers: Vec<(String, String)>,
    pub template: Template,
    /// 0 with --idle.
    pub messages: u64,
    pub publishers: usize,
    pub deadline: Duration,
}

impl Plan {
    /// Checks the arguments against the hard caps and against `open_files`, the descriptors this process may
    /// hold; every refusal says what to change.
    pub fn new(args: Args, open_files: u64) -> Result<Plan, String> {
        let subscribe = args
            .subscribe_url
            .iter()
            .map(|url| Target::parse(url).map_err(|e| format!("--subscribe-url {url}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        if subscribe.is_empty() {
            return Err("--subscribe-url needs at least one URL".into());
        }

        let headers = |list: &[String]| {
            list.iter()
                .map(|h| http1::parse_header_arg(h))
                .collect::<Result<Vec<_>, _>>()
        };
        let subscribe_headers =
            headers(&args.subscribe_header).map_err(|e| format!("--subscribe-header: {e}"))?;
        let publish = if args.publish_url.trim_start().starts_with("mqtt://") {
            Destination::Mqtt(
                MqttTarget::parse(&args.publish_url).map_err(|e| format!("--publish-url: {e}"))?,
            )
        } else {
            Destination::Http {
                target: Target::parse(&args.publish_url)
                    .map_err(|e| format!("--publish-url: {e}"))?,
                headers: headers(&args.publish_header)
                    .map_err(|e| format!("--publish-header: {e}"))?,
            }
        };
        let template =
            Template::parse(&args.publish_body).map_err(|e| format!("--publish-body: {e}"))?;
        if !(1..=MAX_SUBSCRIBERS).contains(&args.subscribers) {
            return Err(format!("--subscribers must be 1 to {MAX_SUBSCRIBERS}"));
        }
        if !(args.duration > 0.0 && args.duration <= MAX_DURATION_SECS) {
            return Err(format!(
                "--duration must be above 0 and at most {MAX_DURATION_SECS} s"
            ));
        }
        if !(args.idle || args.rate > 0.0 && args.rate <= MAX_RATE) {
            return Err(format!(
                "--rate must be above 0 and at most {MAX_RATE} messages/s"
            ));
        }
        for (name, secs) in [
            ("--connect-timeout", args.connect_timeout),
            ("--connect-phase-timeout", args.connect_phase_timeout),
            ("--drain", args.drain),
        ] {
            if !(secs > 0.0 && secs <= MAX_DURATION_SECS) {
                return Err(format!(
                    "{name} must be above 0 and at most {MAX_DURATION_SECS} s"
                ));
            }
        }
        if args.connect_concurrency == 0 || args.threads > 64 || args.settle_ms > 60_000 {
            return Err("--connect-concurrency must be at least 1, --threads at most 64, --settle-ms at most 60000".into());
        }
        let messages = if args.idle {
            0
        } else {
            (args.rate * args.duration).ceil() as u64
        };
        if (args.subscribers as u64).saturating_mul(messages) > MAX_SUBSCRIBER_MESSAGE_BITS {
            return Err(format!(
                "{} subscribers × {messages} messages is too much to track (at most {MAX_SUBSCRIBER_MESSAGE_BITS}); \
                 lower --rate, --duration or --subscribers",
                args.subscribers
            ));
        }
        let publishers = match args.publishers {
            Some(p) if (1..=256).contains(&p) => p,
            Some(_) => return Err("--publishers must be 1 to 256".into()),
            None => {
                ((args.rate / 100.0).ceil() as usize).clamp(MIN_PUBLISHERS, MAX_DEFAULT_PUBLISHERS)
            }
        };
        let publishers = if args.idle { 0 } else { publishers };
        let needed = args.subscribers as u64 + publishers as u64 + SPARE_FILES;
        if needed > open_files {
            return Err(format!(
                "{} subscriptions need about {needed} open files, but this process may hold {open_files} (its hard \
                 limit). Run several ssebench processes side by side (each up to {}), or lower --subscribers.",
                args.subscribers,
                open_files.saturating_sub(publishers as u64 + SPARE_FILES)
            ));
        }
        let phases = args.connect_phase_timeout
            + args.settle_ms as f64 / 1000.0
            + args.duration
            + args.drain
            + 30.0;
        let deadline = args
            .deadline
            .unwrap_or(phases.ceil() as u64)
            .clamp(1, MAX_DEADLINE_SECS);
        Ok(Plan {
            subscribe,
            publish,
            subscribe_headers,
            template,
            messages,
            publishers,
            deadline: Duration::from_secs(deadline),
            args,
        })
    }
}

/// Runs the load with `args` and prints its report; the exit code says whether it measured anything.
pub fn main(args: Args) -> ExitCode {
    // Raise the soft open-files limit to the hard one (the rlimit crate keeps this safe code).
    let open_files = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let plan = match Plan::new(args, open_files) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("ssebench: {e}");
            return ExitCode::from(2);
        }
    };
    let plan = Arc::new(plan);
    let result = bounded::run(
        plan.args.threads,
        plan.deadline,
        run(plan.clone(), open_files),
    );
    match result {
        Ok((report, summary)) => {
            println!("{report}");
            eprintln!("{summary}");
            if report.get("error").is_some() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            println!(
                "{}",
                json!({ "tool": "ssebench", "label": plan.args.label, "error": format!("{e:#}") })
            );
            eprintln!("ssebench: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// How the subscriptions fared while opening.
struct Opening {
    opened: u64,
    latency: Histogram,
    failures: BTreeMap<Failure, (u64, String)>,
    /// Still opening when the connect phase ran out of time.
    pending: u64,
    elapsed: Duration,
}

impl Opening {
    fn new() -> anyhow::Result<Opening> {
        Ok(Opening {
            opened: 0,
            latency: histogram::new()?,
            failures: BTreeMap::new(),
            pending: 0,
            elapsed: Duration::ZERO,
        })
    }

    fn to_json(&self, requested: usize) -> Value {
        let failures: BTreeMap<&str, Value> = self
            .failures
            .iter()
            .map(|(f, (n, first))| (f.name(), json!({ "count": n, "first": first })))
            .collect();
        json!({
            "requested": requested,
            "opened": self.opened,
            "failed": self.failures.values().map(|(n, _)| n).sum::<u64>(),
            "pending_at_phase_end": self.pending,
            "failures": failures,
            "elapsed_s": round3(self.elapsed.as_secs_f64()),
            "per_second": round1(self.opened as f64 / self.elapsed.as_secs_f64().max(1e-6)),
            "latency_ms": {
                "p50": ms(self.latency.value_at_quantile(0.5)),
                "p99": ms(self.latency.value_at_quantile(0.99)),
                "max": ms(self.latency.max()),
            },
        })
    }
}

fn ms(micros: u64) -> f64 {
    round3(micros as f64 / 1000.0)
}
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
fn mib(kib: Option<u64>) -> String {
    kib.map_or("?".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0))
}

/// The server's and this process's memory and CPU time at one moment.
#[derive(Debug, Clone, Copy)]
struct Sample {
    server_rss: Option<u64>,
    server_cpu: Option<f64>,
    own_rss: Option<u64>,
    own_cpu: Option<f64>,
    /// The whole machine's busy CPU seconds, all cores.
    machine_busy: Option<f64>,
    at: Instant,
}

impl Sample {
    fn now(pids: &[u32]) -> Sample {
        Sample {
            server_rss: procfs::sum_over(pids, procfs::rss_kib),
            server_cpu: procfs::sum_over(pids, procfs::cpu_seconds),
            own_rss: procfs::rss_kib("self"),
            own_cpu: procfs::cpu_seconds("self"),
            machine_busy: procfs::machine_cpu_seconds().map(|(busy, _)| busy),
            at: Instant::now(),
        }
    }
}

/// CPU used between two samples, as a share of one core.
fn cpu_share(a: Option<f64>, b: Option<f64>, wall: Duration) -> Option<f64> {
    Some(round3((b? - a?) / wall.as_secs_f64().max(1e-6)))
}

/// What the server, this tool and every other process used between two samples, in cores. The last shows
/// whether a noisy neighbour (a build) competed for the cores during the measurement.
fn cpu_use(before: &Sample, after: &Sample) -> Value {
    let wall = after.at - before.at;
    let server = cpu_share(before.server_cpu, after.server_cpu, wall);
    let client = cpu_share(before.own_cpu, after.own_cpu, wall);
    let machine = cpu_share(before.machine_busy, after.machine_busy, wall);
    let others =
        machine.map(|m| round3((m - server.unwrap_or(0.0) - client.unwrap_or(0.0)).max(0.0)));
    json!({
        "server_cores": server,
        "client_cores": client,
        "other_processes_cores": others,
        "machine_cores_busy": machine,
        "cores": std::thread::available_parallelism().map(|n| n.get()).ok(),
    })
}

async fn run(plan: Arc<Plan>, open_files: u64) -> anyhow::Result<(Value, String)> {
    let args = &plan.args;
    let run_start = unix_micros();
    for pid in &args.server_pid {
        procfs::rss_kib(&pid.to_string())
            .with_context(|| format!("--server-pid {pid}: no such process to measure"))?;
    }
    let idle_sample = Sample::now(&args.server_pid);
    let mut opening = Opening::new()?;

    // Open every subscription.
    let ctx = Arc::new(subscriber::Ctx {
        targets: plan
            .subscribe
            .iter()
            .map(|target| {
                (
                    target.clone(),
                    http1::get_request(target, &plan.subscribe_headers),
                )
            })
            .collect(),
        source_addrs: args.source_addrs,
        connecting: Semaphore::new(args.connect_concurrency),
        connect_timeout: Duration::from_secs_f64(args.connect_timeout),
        messages: plan.messages,
        seq_first: plan.template.seq_first(),
        window: (
            run_start.saturating_sub(1_000_000),
            run_start + plan.deadline.as_micros() as u64 + 60_000_000,
        ),
    });
    let (opened_tx, mut opened_rx) = mpsc::unbounded_channel();
    let mut stops = Vec::with_capacity(args.subscribers);
    let mut tasks = Vec::with_capacity(args.subscribers);
    let connect_start = Instant::now();
    for i in 0..args.subscribers {
        let (stop_tx, stop_rx) = oneshot::channel();
        stops.push(stop_tx);
        tasks.push(tokio::spawn(subscriber::run(
            i,
            ctx.clone(),
            opened_tx.clone(),
            stop_rx,
        )));
    }
    drop(opened_tx);
    let phase_end = connect_start + Duration::from_secs_f64(args.connect_phase_timeout);
    let mut answered = 0;
    while answered < args.subscribers {
        match tokio::time::timeout_at(phase_end, opened_rx.recv()).await {
            Ok(Some(Opened::Yes { micros })) => {
                opening.opened += 1;
                opening.latency.saturating_record(micros);
            }
            Ok(Some(Opened::No { failure, detail })) => {
                opening.failures.entry(failure).or_insert((0, detail)).0 += 1;
            }
            Ok(None) | Err(_) => break,
        }
        answered += 1;
    }
    opening.pending = (args.subscribers - answered) as u64;
    opening.elapsed = connect_start.elapsed();
    let at_n = Sample::now(&args.server_pid);

    let (mode, body, summary_tail) = if opening.opened == 0 {
        // Nothing to measure; publishing would only load a server nobody listens to.
        let tail: Tail = Box::new(|_| "; nothing published: no subscription opened".to_owned());
        let mode = if args.idle { "idle" } else { "fanout" };
        (mode, json!({ "error": "no subscription opened" }), tail)
    } else if args.idle {
        idle_phase(&plan, &idle_sample, &at_n, &opening).await
    } else {
        fanout_phase(&plan, &opening, &at_n).await?
    };
    let end = Sample::now(&args.server_pid);

    // Stop every subscription and collect what each saw.
    drop(stops);
    let mut unique = 0u64;
    let mut duplicates = 0u64;
    let mut other_events = 0u64;
    let mut ended_early = 0u64;
    let mut first_end_reason = None;
    for task in tasks {
        let Ok(report) = task.await else { continue };
        unique += report.unique;
        duplicates += report.duplicates;
        other_events += report.other_events;
        if let Some(reason) = report.ended_early {
            ended_early += 1;
            first_end_reason.get_or_insert(reason);
        }
    }
    let kib_per_conn = |at: Option<u64>| -> Option<f64> {
        let grown = at?.checked_sub(idle_sample.server_rss?)?;
        (opening.opened > 0).then(|| round3(grown as f64 / opening.opened as f64))
    };
    let mut report = json!({
        "tool": "ssebench",
        "label": args.label,
        "mode": mode,
        "config": {
            "subscribe_url": args.subscribe_url,
            "publish_url": if args.idle { Value::Null } else { json!(args.publish_url) },
            "subscribers": args.subscribers,
            "rate": if args.idle { Value::Null } else { json!(args.rate) },
            "duration_s": args.duration,
            "messages": plan.messages,
            "publishers": plan.publishers,
            "source_addrs": args.source_addrs,
            "connect_concurrency": args.connect_concurrency,
            "threads": args.threads,
            "open_files_limit": open_files,
            "deadline_s": plan.deadline.as_secs(),
        },
        "connect": opening.to_json(args.subscribers),
        "streams": {
            "ended_early": ended_early,
            "first_end_reason": first_end_reason,
            "other_events": other_events,
        },
        "server": {
            "pid": args.server_pid.first(),
            "pids": args.server_pid,
            "rss_idle_kib": idle_sample.server_rss,
            "rss_at_n_kib": at_n.server_rss,
            "rss_end_kib": end.server_rss,
            "rss_per_conn_at_n_kib": kib_per_conn(at_n.server_rss),
            "rss_per_conn_end_kib": kib_per_conn(end.server_rss),
        },
        "client": {
            "rss_at_n_kib": at_n.own_rss,
            "rss_end_kib": end.own_rss,
        },
    });
    if let (Some(obj), Value::Object(extra)) = (report.as_object_mut(), body) {
        for (k, v) in extra {
            if let Some(Value::Object(into)) = obj.get_mut(&k) {
                if let Value::Object(v) = v {
                    into.extend(v);
                }
            } else {
                obj.insert(k, v);
            }
        }
    }
    if report.get("delivery").is_some() {
        let expected = report["delivery"]["expected"].as_u64().unwrap_or(0);
        report["delivery"]["received"] = json!(unique);
        report["delivery"]["lost"] = json!(expected.saturating_sub(unique));
        report["delivery"]["loss_ratio"] = json!(if expected == 0 {
            0.0
        } else {
            expected.saturating_sub(unique) as f64 / expected as f64
        });
        report["delivery"]["duplicates"] = json!(duplicates);
    }
    let summary = format!(
        "ssebench{}: {}/{} subscribed in {:.1} s{}{}",
        if args.label.is_empty() {
            String::new()
        } else {
            format!(" [{}]", args.label)
        },
        opening.opened,
        args.subscribers,
        opening.elapsed.as_secs_f64(),
        summary_tail(unique),
        if ended_early > 0 {
            format!("; {ended_early} streams ended early")
        } else {
            String::new()
        },
    );
    Ok((report, summary))
}

type Tail = Box<dyn Fn(u64) -> String + Send>;

/// `--idle`: hold the connections for the duration, then report memory per connection.
async fn idle_phase(
    plan: &Plan,
    idle: &Sample,
    at_n: &Sample,
    opening: &Opening,
) -> (&'static str, Value, Tail) {
    let hold = Duration::from_secs_f64(plan.args.duration);
    let pid = &plan.args.server_pid;
    let mut peak = at_n.server_rss;
    let until = Instant::now() + hold;
    while Instant::now() < until {
        tokio::time::sleep_until((Instant::now() + Duration::from_secs(1)).min(until)).await;
        let rss = Sample::now(pid).server_rss;
        peak = peak.max(rss);
    }
    let last = Sample::now(pid);
    let opened = opening.opened;
    let per_conn = |rss: Option<u64>| -> Option<f64> {
        let grown = rss?.checked_sub(idle.server_rss?)?;
        (opened > 0).then(|| grown as f64 / opened as f64)
    };
    let headline = per_conn(peak);
    let own = (|| {
        let grown = last.own_rss?.checked_sub(idle.own_rss?)?;
        (opened > 0).then(|| round3(grown as f64 / opened as f64))
    })();
    let body = json!({
        "hold": {
            "held_s": round3(hold.as_secs_f64()),
            "server_rss_peak_kib": peak,
            "server_rss_per_conn_kib": headline.map(round3),
            "cpu_while_held": cpu_use(at_n, &last),
            "client_rss_per_conn_kib": own,
        },
    });
    let (idle_rss, peak_rss) = (idle.server_rss, peak);
    let tail = move |_| {
        format!(
            "; held {:.0} s; server RSS {} → {} MiB = {} KiB per connection",
            hold.as_secs_f64(),
            mib(idle_rss),
            mib(peak_rss),
            headline.map_or("?".to_owned(), |k| format!("{k:.2}")),
        )
    };
    ("idle", body, Box::new(tail))
}

/// Publish at the rate for the duration, wait for the last deliveries, report latency and loss.
async fn fanout_phase(
    plan: &Plan,
    opening: &Opening,
    at_n: &Sample,
) -> anyhow::Result<(&'static str, Value, Tail)> {
    let args = &plan.args;
    tokio::time::sleep(Duration::from_millis(args.settle_ms)).await;
    let before = Sample::now(&args.server_pid);
    let delivered_before = histogram::delivered();
    let start = Instant::now() + Duration::from_millis(20);
    let ctx = Arc::new(publisher::Ctx {
        to: plan.publish.clone(),
        template: plan.template.clone(),
        messages: plan.messages,
        rate: args.rate,
        publishers: plan.publishers,
        source_addrs: args.source_addrs,
        stop_at: start + Duration::from_secs_f64(args.duration) + Duration::from_secs(30),
    });
    let handles: Vec<_> = (0..plan.publishers)
        .map(|k| tokio::spawn(publisher::run(k, ctx.clone(), start)))
        .collect();
    let mut published = publisher::Report::default();
    for handle in handles {
        if let Ok(report) = handle.await {
            published.merge(report);
        }
    }
    let published_at = Instant::now();
    let publish_elapsed = published_at - start;

    // Wait for deliveries still in flight, noting when the count last moved.
    let expected = published.ok * opening.opened;
    let drain_end = published_at + Duration::from_secs_f64(args.drain);
    let mut last_count = histogram::delivered() - delivered_before;
    let mut last_change = published_at;
    while last_count < expected && Instant::now() < drain_end {
        tokio::time::sleep(Duration::from_millis(2)).await;
        let count = histogram::delivered() - delivered_before;
        if count != last_count {
            last_count = count;
            last_change = Instant::now();
        }
    }
    let after = Sample::now(&args.server_pid);
    let window = (last_change - start).max(Duration::from_millis(1));
    let latency = histogram::deliveries()?;
    let cpu = cpu_use(&before, &after);
    let server_cpu_s = before.server_cpu.zip(after.server_cpu).map(|(a, b)| b - a);
    let others = cpu["other_processes_cores"].as_f64();
    // Messages go out at their slots, the last one at (messages - 1) / rate: measure the rate over the slots.
    let slots = Duration::from_secs_f64(plan.messages as f64 / args.rate);
    let achieved = published.ok as f64 / publish_elapsed.max(slots).as_secs_f64().max(1e-6);
    let body = json!({
        "publish": {
            "attempted": published.ok + published.failed,
            "ok": published.ok,
            "failed": published.failed,
            "gave_up": published.gave_up,
            "first_error": published.first_error,
            "elapsed_s": round3(publish_elapsed.as_secs_f64()),
            "rate_achieved": round1(achieved),
            "max_lag_ms": round3(published.max_lag.as_secs_f64() * 1000.0),
        },
        "delivery": {
            "expected": expected,
            "latency_samples": latency.len(),
            "window_s": round3(window.as_secs_f64()),
            "deliveries_per_s": round1(last_count as f64 / window.as_secs_f64()),
            // What one core of server time delivers: comparable across runs that the client or a neighbour
            // slowed down, and an estimate of the server's ceiling were it alone on the machine.
            "deliveries_per_server_cpu_s": server_cpu_s.map(|s| round1(last_count as f64 / s.max(1e-6))),
            "latency_ms": {
                "p50": ms(latency.value_at_quantile(0.50)),
                "p90": ms(latency.value_at_quantile(0.90)),
                "p99": ms(latency.value_at_quantile(0.99)),
                "p999": ms(latency.value_at_quantile(0.999)),
                "max": ms(latency.max()),
                "mean": round3(latency.mean() / 1000.0),
            },
        },
        "cpu_while_publishing": cpu,
        "server": {
            "rss_after_publishing_kib": after.server_rss,
        },
    });
    let mut body = body;
    if published.ok == 0 {
        // Every publish was refused (a wrong token, a wrong URL): the run measured nothing.
        body["error"] = json!(format!(
            "no publish succeeded: {}",
            published
                .first_error
                .as_deref()
                .unwrap_or("none was attempted")
        ));
    }
    let rss_n = at_n.server_rss;
    let rate = args.rate;
    let ok = published.ok;
    let tail = move |unique: u64| {
        format!(
            "; {ok} msgs at {achieved:.1}/s (asked {rate}/s) → {unique}/{expected} deliveries ({} lost), latency p50 {:.1} ms p99 {:.1} ms \
             max {:.1} ms, {:.0} deliveries/s; server RSS at N {} MiB; other processes used {} cores",
            expected.saturating_sub(unique),
            latency.value_at_quantile(0.5) as f64 / 1000.0,
            latency.value_at_quantile(0.99) as f64 / 1000.0,
            latency.max() as f64 / 1000.0,
            last_count as f64 / window.as_secs_f64(),
            mib(rss_n),
            others.map_or("?".to_owned(), |o| format!("{o:.2}")),
        )
    };
    Ok(("fanout", body, Box::new(tail)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn args(extra: &[&str]) -> Args {
        Args::parse_from(std::iter::once("ssebench").chain(extra.iter().copied()))
    }

    #[test]
    fn defaults_target_hearth_and_size_the_run() {
        let plan = Plan::new(args(&["--rate", "1000", "--duration", "2"]), 20_000).unwrap();
        assert_eq!(plan.subscribe[0].path, "/eventstream");
        assert!(
            matches!(&plan.publish, Destination::Http { target, .. } if target.path == "/message")
        );
        let mqtt = Plan::new(
            args(&["--publish-url", "mqtt://127.0.0.1:1883/bench/probe"]),
            20_000,
        )
        .unwrap();
        assert!(matches!(&mqtt.publish, Destination::Mqtt(t) if t.topic == "bench/probe"));
        assert_eq!((plan.messages, plan.publishers), (2000, 10));
        let slow = Plan::new(args(&["--rate", "10"]), 20_000).unwrap();
        assert_eq!(slow.publishers, MIN_PUBLISHERS);
        assert!(
            plan.deadline >= Duration::from_secs(2)
                && plan.deadline <= Duration::from_secs(MAX_DEADLINE_SECS)
        );
        let idle = Plan::new(args(&["--idle", "--subscribers", "18000"]), 20_000).unwrap();
        assert_eq!((idle.messages, idle.publishers), (0, 0));
    }

    #[test]
    fn subscriptions_can_be_split_over_several_urls() {
        let split = args(&[
            "--subscribe-url",
            "http://127.0.0.1:3000/eventstream,http://127.0.0.1:3002/eventstream",
        ]);
        let plan = Plan::new(split, 20_000).unwrap();
        let ports: Vec<u16> = plan.subscribe.iter().map(|t| t.addr.port()).collect();
        assert_eq!(ports, [3000, 3002]);
    }

    #[test]
    fn server_pids_repeat_or_come_as_a_comma_list() {
        assert!(args(&[]).server_pid.is_empty());
        let nginx = args(&["--server-pid", "10,11", "--server-pid", "12"]);
        assert_eq!(nginx.server_pid, [10, 11, 12]);
    }

    #[test]
    fn hard_caps_and_the_open_files_limit_refuse_with_a_reason() {
        let refused = |extra: &[&str], files| Plan::new(args(extra), files).unwrap_err();
        assert!(refused(&["--subscribers", "60001"], 1 << 20).contains("--subscribers"));
        assert!(refused(&["--subscribers", "0"], 1 << 20).contains("--subscribers"));
        assert!(refused(&["--duration", "601"], 1 << 20).contains("--duration"));
        assert!(refused(&["--rate", "100001"], 1 << 20).contains("--rate"));
        assert!(refused(&["--rate", "NaN"], 1 << 20).contains("--rate"));
        assert!(
            refused(&["--subscribe-url", "http://192.168.1.2/"], 1 << 20)
                .contains("not a loopback address")
        );
        assert!(refused(&["--publish-body", "{seq}"], 1 << 20).contains("{sent}"));
        let fds = refused(&["--subscribers", "19990"], 20_000);
        assert!(
            fds.contains("open files") && fds.contains("several ssebench processes"),
            "{fds}"
        );
        assert!(Plan::new(args(&["--subscribers", "19800", "--idle"]), 20_000).is_ok());
        assert_eq!(
            Plan::new(args(&["--deadline", "999999"]), 20_000)
                .unwrap()
                .deadline,
            Duration::from_secs(MAX_DEADLINE_SECS)
        );
    }
}

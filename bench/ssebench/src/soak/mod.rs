//! `ssebench soak`: Hearth under hostile and heavy clients at once, for a bounded time, while one normal,
//! logged-in client keeps using the dashboard's stream and posting. Loopback only; `scripts/soak.sh` starts a
//! fresh release server and runs it.
//!
//! What runs at once, one file each, every one bounded in count and time:
//! - [`idle`]: connections that never send a request; [`slow_heads`]: connections that send a request head one
//!   byte every few seconds; [`slow_bodies`]: request bodies sent a byte every two seconds (with a length, or
//!   chunked); [`big_heads`]: request heads of 390 KiB that never end;
//! - [`probation_flood`]: silent connections, ~170 a second, during the middle half of the run: they fill every
//!   regular place, and then the server's probation;
//! - [`storm`]: `/live-users` opened and closed over and over (viewer count churn);
//! - [`resume`]: `/events` with the oldest `Last-Event-ID` of the run, read to its first event, closed;
//! - [`flood`]: `POST /message` with the token, as fast as a few writers can;
//! - [`guessing`]: logins with wrong tokens (throttled per address);
//! - [`owner`]: a request with the token every half second, which must always be answered;
//! - [`normal`]: the client that must not notice: it logs in, follows `/events` (resuming by `Last-Event-ID`
//!   when its stream drops), posts a message every half second, and checks ([`ledger`]) that every message it
//!   posted arrives exactly once and that nothing it asked was refused;
//! - [`sampler`]: the server's memory and database size, every second.
//!
//! Prints one JSON object with the figures and exits 1 if the normal client was refused, lost or saw twice
//! anything, if the owner was refused anything, if a slow body or an oversized head was not cut, or if
//! the server's memory or its database went past the stated bounds (`--max-rss-mib`,
//! `--max-db-mb`: defaults sized for the default retention of 100,000 events, about twice what a quiet run
//! reaches).

mod big_heads;
mod events;
mod figures;
mod flood;
mod guessing;
mod idle;
mod ledger;
mod normal;
mod owner;
mod probation_flood;
mod request;
mod resume;
mod sampler;
mod slow_bodies;
mod slow_heads;
mod storm;

use crate::target::Target;
use crate::{bounded, conn};
use figures::Figures;
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Hard caps, so that a typo cannot turn the soak into an unbounded load.
const MAX_SECONDS: u64 = 3_600;
const MAX_HELD: usize = 5_000;
/// Past the soak's own length: the slowest attacker's last step, the normal client's wait for its last
/// messages and the final samples all fit in well under this.
const DEADLINE_MARGIN: Duration = Duration::from_secs(120);
/// Any connect on loopback that takes this long is counted as refused.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The server's port on 127.0.0.1.
    #[arg(long)]
    pub port: u16,
    /// The server's write token (the write flood and the normal client's login use it).
    #[arg(long)]
    pub token: String,
    /// The server's process id, to read its memory from /proc.
    #[arg(long)]
    pub pid: u32,
    /// The server's data directory, to measure its database (hearth.db with its WAL).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Seconds the load runs.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Connections that never send a request.
    #[arg(long, default_value_t = 300)]
    pub idle: usize,
    /// Connections that send a request head one byte every 5 s.
    #[arg(long, default_value_t = 100)]
    pub slow: usize,
    /// Connections that send a request body one byte every 2 s.
    #[arg(long, default_value_t = 100)]
    pub slow_bodies: usize,
    /// The server's body deadline (its `--body-timeout-secs`; the default is the server's): a slow body held
    /// 15 s past it counts as not cut.
    #[arg(long, default_value_t = 30)]
    pub body_timeout_secs: u64,
    /// Fail if the server's RSS goes past this many MiB.
    #[arg(long, default_value_t = 64.0)]
    pub max_rss_mib: f64,
    /// Fail if the database (with its WAL) goes past this many MB.
    #[arg(long, default_value_t = 160.0)]
    pub max_db_mb: f64,
}

/// What every part of the soak shares.
pub struct Soak {
    pub server: SocketAddr,
    pub token: String,
    /// When the load stops.
    pub until: Instant,
    pub figures: Figures,
}

impl Soak {
    /// A request target on the server.
    pub fn target(&self, path: &str) -> Target {
        Target {
            addr: self.server,
            host_header: self.server.to_string(),
            path: path.to_owned(),
        }
    }

    /// Connects from `from`, within [`CONNECT_TIMEOUT`].
    pub async fn connect(&self, from: SocketAddr) -> Result<TcpStream, String> {
        tokio::time::timeout(CONNECT_TIMEOUT, conn::connect(self.server, from))
            .await
            .unwrap_or_else(|_| Err(format!("no connection within {CONNECT_TIMEOUT:?}")))
    }

    /// Connects from `from`, sends `request` and reads the response head.
    pub async fn send(
        &self,
        from: SocketAddr,
        request: &[u8],
    ) -> Result<(TcpStream, conn::ReadHead), String> {
        let mut stream = self.connect(from).await?;
        stream
            .write_all(request)
            .await
            .map_err(|e| format!("sending: {e}"))?;
        let head = conn::read_head(&mut stream, 4096, 64 * 1024)
            .await
            .map_err(|e| match e {
                conn::HeadError::Closed(e) | conn::HeadError::Protocol(e) => e,
            })?;
        Ok((stream, head))
    }

    pub fn running(&self) -> bool {
        Instant::now() < self.until
    }
}

/// The normal client's address: 127.0.0.1.
pub fn normal_source() -> SocketAddr {
    loopback(1)
}

/// Attackers come from 127.0.0.2-9 (the normal client from 127.0.0.1), so that caps per address show.
pub fn attacker_source(i: usize) -> SocketAddr {
    loopback(2 + (i % 8) as u8)
}

/// The write flood has the token; it comes from addresses of its own (127.0.0.10-13), since a guesser's
/// address is refused even with the right token. (The owner is 127.0.0.14, the probation flood 127.0.0.20-27.)
pub fn flood_source(i: usize) -> SocketAddr {
    loopback(10 + (i % 4) as u8)
}

fn loopback(last: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)), 0)
}

/// Runs the soak and prints its figures; exit 1 on any failure of the normal client or any bound passed.
pub fn main(args: Args) -> ExitCode {
    if args.seconds == 0
        || args.seconds > MAX_SECONDS
        || args.idle > MAX_HELD
        || args.slow > MAX_HELD
        || args.slow_bodies > MAX_HELD
        || args.body_timeout_secs > MAX_SECONDS
    {
        eprintln!(
            "ssebench soak: --seconds must be 1 to {MAX_SECONDS}, --idle, --slow and --slow-bodies at most \
             {MAX_HELD}, --body-timeout-secs at most {MAX_SECONDS}"
        );
        return ExitCode::from(2);
    }
    // Idle and slow connections each hold a descriptor: raise the soft limit to the hard one.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    // Slow bodies run until cut, possibly past the load's end.
    let deadline = Duration::from_secs(args.seconds.max(args.body_timeout_secs)) + DEADLINE_MARGIN;
    match bounded::run(2, deadline, run(args)) {
        Ok(report) => {
            println!("{}", report.json());
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("ssebench soak: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<Report> {
    let server = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), args.port);
    let mut soak = Soak {
        server,
        token: args.token.clone(),
        until: Instant::now(),
        figures: Figures::default(),
    };
    // An old id to resume from: the first event the soak makes.
    let old_id = first_message(&soak).await?;
    let samples = sampler::Footprint::new(args.pid, args.data_dir.clone());
    let rss_before = samples.rss_now();
    soak.until = Instant::now() + Duration::from_secs(args.seconds);
    let soak = Arc::new(soak);

    let mut parts = tokio::task::JoinSet::new();
    parts.spawn(idle::run(soak.clone(), args.idle));
    parts.spawn(slow_heads::run(soak.clone(), args.slow));
    parts.spawn(slow_bodies::run(
        soak.clone(),
        args.slow_bodies,
        Duration::from_secs(args.body_timeout_secs),
    ));
    parts.spawn(big_heads::run(soak.clone()));
    parts.spawn(probation_flood::run(soak.clone(), args.seconds));
    parts.spawn(storm::run(soak.clone()));
    parts.spawn(resume::run(soak.clone(), old_id));
    parts.spawn(flood::run(soak.clone()));
    parts.spawn(guessing::run(soak.clone()));
    let normal = tokio::spawn(normal::run(soak.clone()));
    let owner = tokio::spawn(owner::run(soak.clone()));
    let sampled = tokio::spawn(samples.run(soak.until));
    while parts.join_next().await.is_some() {}
    let normal = normal
        .await
        .map_err(|e| anyhow::anyhow!("the normal client stopped: {e}"))?;
    let owner = owner
        .await
        .map_err(|e| anyhow::anyhow!("the owner stopped: {e}"))?;
    let footprint = sampled
        .await
        .map_err(|e| anyhow::anyhow!("the sampler stopped: {e}"))?;
    Ok(Report {
        seconds: args.seconds,
        normal,
        owner,
        load: soak.figures.counts(),
        rss_before,
        footprint,
        max_rss_mib: args.max_rss_mib,
        max_db_mb: args.max_db_mb,
    })
}

/// Posts the soak's first message with the token and returns its event id.
async fn first_message(soak: &Soak) -> anyhow::Result<String> {
    let body = json!({ "message": "the soak begins" }).to_string();
    let response = request::post_json(
        soak,
        normal_source(),
        "/message",
        &[bearer(&soak.token)],
        body.as_bytes(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("the first message: {e}"))?;
    if response.status != 201 {
        anyhow::bail!(
            "the first message was answered {} (201 expected): {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        );
    }
    normal::event_id(&response.body)
        .map(|id| id.to_string())
        .map_err(|e| anyhow::anyhow!("the first message's answer: {e}"))
}

/// `Authorization: Bearer <token>`.
pub fn bearer(token: &str) -> (String, String) {
    ("Authorization".to_owned(), format!("Bearer {token}"))
}

/// The loads that must be cut by a deadline or a size cap, however short the run, and were not: a slow body that
/// outlived the body deadline (they run until cut), an oversized head the server still held.
fn unbounded_holds(load: &std::collections::BTreeMap<String, u64>) -> Vec<String> {
    [
        (
            "slow_body_not_cut",
            "slow bodies outlived the body deadline",
        ),
        ("big_head_held", "oversized heads were held unanswered"),
    ]
    .into_iter()
    .filter_map(|(name, what)| {
        let n = load.get(name).copied().unwrap_or(0);
        (n > 0).then(|| format!("{n} {what}"))
    })
    .collect()
}

/// Everything the soak prints, and its verdict.
struct Report {
    seconds: u64,
    normal: normal::Outcome,
    owner: owner::Outcome,
    load: std::collections::BTreeMap<String, u64>,
    rss_before: Option<u64>,
    footprint: sampler::Peaks,
    max_rss_mib: f64,
    max_db_mb: f64,
}

impl Report {
    /// What went past a bound, one sentence each.
    fn over_bounds(&self) -> Vec<String> {
        let mut over = self.footprint.over(self.max_rss_mib, self.max_db_mb);
        over.extend(unbounded_holds(&self.load));
        over
    }

    fn passed(&self) -> bool {
        self.normal.passed() && self.owner.passed() && self.over_bounds().is_empty()
    }

    /// The figures as pretty JSON, keys in alphabetical order.
    fn json(&self) -> String {
        let report = json!({
            "database_bytes_max": self.footprint.db_max,
            "load": self.load,
            "normal_client": {
                "duplicates": self.normal.duplicates,
                "lost": self.normal.lost.len(),
                "posted": self.normal.posted,
                "refused": self.normal.refused,
            },
            "over_bounds": self.over_bounds(),
            "owner": {
                "answered": self.owner.answered,
                "asked": self.owner.asked,
                "refused": self.owner.refused,
            },
            "seconds": self.seconds,
            "server_rss_kib": {
                "after": self.footprint.rss_last,
                "before": self.rss_before,
                "max": self.footprint.rss_max,
            },
        });
        serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hold_no_deadline_cut_fails_the_soak() {
        let mut load = std::collections::BTreeMap::new();
        load.insert("slow_body_cut".to_owned(), 100);
        load.insert("big_head_431".to_owned(), 5);
        assert!(unbounded_holds(&load).is_empty());
        load.insert("slow_body_not_cut".to_owned(), 3);
        assert_eq!(
            unbounded_holds(&load),
            ["3 slow bodies outlived the body deadline"]
        );
    }
}

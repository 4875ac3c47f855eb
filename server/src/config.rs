//! All settings in one struct: flags or `HEARTH_`-prefixed environment variables, defaults as named constants,
//! logged once at start-up (from `Debug`, with the token redacted by its type). The listen address follows
//! Leptos' own `LEPTOS_SITE_ADDR`, so `cargo leptos` and the plain binary agree.

use clap::{ArgAction, Parser, ValueEnum};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

pub const DEFAULT_ADDR: &str = "127.0.0.1:3000";
pub const DEFAULT_DATA_DIR: &str = "./data";
pub const DEFAULT_KEEPALIVE_SECS: u64 = 15;
pub const DEFAULT_RETRY_MS: u64 = 2000;
pub const DEFAULT_REPLAY_SIZE: usize = 10_000;
pub const DEFAULT_QUEUE_SIZE: usize = 1024;
/// Just under the hard open-files limit of these machines (20,000), leaving room for the listener and files.
pub const DEFAULT_MAX_SUBSCRIBERS: u64 = 19_500;
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024;
pub const DEFAULT_SHUTDOWN_SECS: u64 = 5;
pub const DEFAULT_MIN_FREE_MB: u64 = 100;
pub const DEFAULT_WRITE_TIMEOUT_SECS: u64 = 10;
pub const DEFAULT_RESERVED_STREAMS: u64 = 64;
pub const DEFAULT_MAX_STREAMS_PER_CLIENT: u32 = 64;
pub const DEFAULT_SESSION_IDLE_HOURS: u64 = 24 * 7;
pub const DEFAULT_SESSION_MAX_DAYS: u64 = 30;
pub const DEFAULT_MAX_SESSIONS: usize = 1000;
pub const DEFAULT_AUTH_FAILURES_PER_MINUTE: u32 = 10;
pub const DEFAULT_TEMPERATURE_MS: u64 = 5000;
pub const DEFAULT_RANDOM_MS: u64 = 1000;
pub const DEFAULT_RETAIN_EVENTS: u64 = 100_000;
pub const DEFAULT_RETAIN_HOURS: u64 = 24 * 7;
/// Room for a few logged-in dashboards (a stream and a handful of keep-alive connections each).
pub const DEFAULT_RESERVED_CONNECTIONS: usize = 64;
/// Far more than one household's browsers open, far fewer than the whole limit.
pub const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: usize = 256;
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 30;
pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 10;
/// A 16 KiB body (the default limit) takes under a second on any link a dashboard is used over; half a minute is
/// for the slowest, and bounds how long a connection can be held by a body that never ends.
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 30;
/// Twice the largest head a browser sends with a few cookies; what a connection's head may cost in memory.
pub const DEFAULT_MAX_HEAD_BYTES: usize = 16 * 1024;
/// The smallest head limit hyper's buffer accepts.
pub const MIN_MAX_HEAD_BYTES: usize = 8 * 1024;
pub const DEFAULT_MQTT_DISCOVERY_PREFIX: &str = "homeassistant";
pub const DEFAULT_ZIGBEE2MQTT_PREFIX: &str = "zigbee2mqtt";
pub const DEFAULT_COMMAND_TIMEOUT_SECS: u64 = 10;
/// Larger than any discovery config or state a device sends; a bigger message is refused unread.
pub const DEFAULT_MQTT_MAX_PAYLOAD: usize = 64 * 1024;
/// Far more than a home has; a broker announcing more is refused the rest, so it cannot grow the state unbounded.
pub const DEFAULT_MAX_ENTITIES: usize = 2000;

/// How connections are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServeMode {
    /// Event streams written by a small writer outside hyper (~3 KiB per idle stream instead of ~18).
    Direct,
    /// Everything served by hyper, as a plain hyper server would.
    Hyper,
}

/// How Mercure tokens are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256: the key is a shared secret.
    #[value(name = "HS256")]
    Hs256,
    /// RSA with SHA-256: the key is the signer's public key (PEM).
    #[value(name = "RS256")]
    Rs256,
}

/// A credential: compared in constant time, never printed (`Debug` says it is redacted).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that needs it (a comparison, the one-time print of a new token).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares in time independent of where the first difference is, so it cannot be guessed byte by byte.
    pub fn matches(&self, offered: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), offered.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// One entry of `--cors-origins`: exactly one origin, or `*` for any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigin {
    Any,
    Exact(String),
}

impl FromStr for CorsOrigin {
    type Err = String;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let origin = raw.trim();
        if origin == "*" {
            return Ok(CorsOrigin::Any);
        }
        let rest = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .ok_or_else(|| {
                format!("{origin:?} is not an origin: write it as http://host[:port] or https://host[:port], or * for any")
            })?;
        let host_ok = !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if !host_ok {
            return Err(format!(
                "{origin:?} is not an origin: only a scheme, a host and a port, with no path, like https://home.example:8443"
            ));
        }
        Ok(CorsOrigin::Exact(origin.to_owned()))
    }
}

#[derive(Debug, Clone, Parser)]
#[command(
    name = "hearth",
    version,
    about = "Hearth: a live smart-home dashboard and SSE hub"
)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "LEPTOS_SITE_ADDR", default_value = DEFAULT_ADDR)]
    pub addr: SocketAddr,
    /// The write credential. When unset, one is generated at first start and kept in the data directory.
    #[arg(long, env = "HEARTH_TOKEN", hide_env_values = true)]
    pub token: Option<Secret>,
    /// Where Hearth keeps its state.
    #[arg(long, env = "HEARTH_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Run the demo home (its three rooms, animated) even with `--mqtt-url` set, where it is off by default;
    /// `false` keeps its rooms still (`HEARTH_SIMULATOR=true|false` says the same).
    #[arg(long = "simulator", env = "HEARTH_SIMULATOR", action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub simulator: Option<bool>,
    /// Keep the demo home's rooms still (the same as `--simulator=false`).
    #[arg(long = "no-simulator", default_value_t = false)]
    pub no_simulator: bool,
    /// The MQTT broker the home's devices talk through: `mqtt://[user:password@]host:port`, or `mqtts://` for
    /// TLS; unset: no bridge, only the demo home.
    #[arg(long, env = "HEARTH_MQTT_URL", hide_env_values = true)]
    pub mqtt_url: Option<Secret>,
    /// A PEM file of the certificate authorities to trust for `mqtts://` (default: the system's).
    #[arg(long, env = "HEARTH_MQTT_CA_FILE")]
    pub mqtt_ca_file: Option<PathBuf>,
    /// The topic prefix under which devices announce themselves by Home Assistant's MQTT discovery.
    #[arg(long, env = "HEARTH_MQTT_DISCOVERY_PREFIX", default_value = DEFAULT_MQTT_DISCOVERY_PREFIX)]
    pub mqtt_discovery_prefix: String,
    /// Zigbee2MQTT's base topic; empty to not read Zigbee2MQTT's own topics.
    #[arg(long, env = "HEARTH_ZIGBEE2MQTT_PREFIX", default_value = DEFAULT_ZIGBEE2MQTT_PREFIX)]
    pub zigbee2mqtt_prefix: String,
    /// Seconds a command waits for its device to report the requested state before it is given up.
    #[arg(long, env = "HEARTH_COMMAND_TIMEOUT_SECS", default_value_t = DEFAULT_COMMAND_TIMEOUT_SECS)]
    pub command_timeout_secs: u64,
    /// Largest MQTT message (config or state) read, in bytes; larger ones are skipped and counted.
    #[arg(long, env = "HEARTH_MQTT_MAX_PAYLOAD", default_value_t = DEFAULT_MQTT_MAX_PAYLOAD)]
    pub mqtt_max_payload: usize,
    /// Entities the home may have at most; announcements beyond it are refused and counted.
    #[arg(long, env = "HEARTH_MAX_ENTITIES", default_value_t = DEFAULT_MAX_ENTITIES)]
    pub max_entities: usize,
    /// Seconds between keep-alives on idle streams.
    #[arg(long, env = "HEARTH_KEEPALIVE_SECS", default_value_t = DEFAULT_KEEPALIVE_SECS)]
    pub keepalive_secs: u64,
    /// The `retry:` delay sent to clients, in milliseconds.
    #[arg(long, env = "HEARTH_RETRY_MS", default_value_t = DEFAULT_RETRY_MS)]
    pub retry_ms: u64,
    /// Events kept for replay by `Last-Event-ID` (with Redis: also how many entries of the shared log a resume
    /// may reach back, at least 1,000; from further back it gets a `reset`).
    #[arg(long, env = "HEARTH_REPLAY_SIZE", default_value_t = DEFAULT_REPLAY_SIZE)]
    pub replay_size: usize,
    /// Events a subscriber may fall behind before its stream is ended (it then resumes by id).
    #[arg(long, env = "HEARTH_QUEUE_SIZE", default_value_t = DEFAULT_QUEUE_SIZE)]
    pub queue_size: usize,
    /// Concurrent SSE streams; beyond it new ones get 503 with Retry-After.
    #[arg(long, env = "HEARTH_MAX_SUBSCRIBERS", default_value_t = DEFAULT_MAX_SUBSCRIBERS)]
    pub max_subscribers: u64,
    /// Of the concurrent streams, how many are kept for requests with the token or a session.
    #[arg(long, env = "HEARTH_RESERVED_STREAMS", default_value_t = DEFAULT_RESERVED_STREAMS)]
    pub reserved_streams: u64,
    /// Concurrent streams one client address may open without logging in (0: no limit).
    #[arg(long, env = "HEARTH_MAX_STREAMS_PER_CLIENT", default_value_t = DEFAULT_MAX_STREAMS_PER_CLIENT)]
    pub max_streams_per_client: u32,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "HEARTH_BODY_LIMIT", default_value_t = DEFAULT_BODY_LIMIT)]
    pub body_limit: usize,
    /// Origins allowed to call the API from a browser (comma-separated `scheme://host[:port]`), or `*` for any
    /// origin; never with credentials, so another site's page can only use a token it was given.
    #[arg(long, env = "HEARTH_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<CorsOrigin>,
    /// Host names Hearth is reached by, besides IP addresses and `localhost` (comma-separated): other names are
    /// refused, so a web page cannot reach a Hearth on your network by rebinding its own domain.
    #[arg(long, env = "HEARTH_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// Let anyone read the dashboard, its state and streams without logging in, even when listening on a
    /// non-loopback address (on loopback reads are always open).
    #[arg(long, env = "HEARTH_PUBLIC_READ", default_value_t = false, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub public_read: bool,
    /// Hours a dashboard login lasts without being used.
    #[arg(long, env = "HEARTH_SESSION_IDLE_HOURS", default_value_t = DEFAULT_SESSION_IDLE_HOURS)]
    pub session_idle_hours: u64,
    /// Days a dashboard login lasts at most, used or not.
    #[arg(long, env = "HEARTH_SESSION_MAX_DAYS", default_value_t = DEFAULT_SESSION_MAX_DAYS)]
    pub session_max_days: u64,
    /// Dashboard logins kept at once (the least recently used goes first).
    #[arg(long, env = "HEARTH_MAX_SESSIONS", default_value_t = DEFAULT_MAX_SESSIONS)]
    pub max_sessions: usize,
    /// Mark the session cookie `Secure`: set this when Hearth is served over HTTPS (behind a TLS proxy).
    #[arg(long, env = "HEARTH_SECURE_COOKIES", default_value_t = false, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub secure_cookies: bool,
    /// Failed token attempts (login or bearer) one client address may make per minute; then it gets 429.
    #[arg(long, env = "HEARTH_AUTH_FAILURES_PER_MINUTE", default_value_t = DEFAULT_AUTH_FAILURES_PER_MINUTE)]
    pub auth_failures_per_minute: u32,
    /// Seconds open streams get to end after SIGINT/SIGTERM before the process exits anyway.
    #[arg(long, env = "HEARTH_SHUTDOWN_SECS", default_value_t = DEFAULT_SHUTDOWN_SECS)]
    pub shutdown_secs: u64,
    /// Milliseconds between living-room temperature readings.
    #[arg(long, env = "HEARTH_TEMPERATURE_MS", default_value_t = DEFAULT_TEMPERATURE_MS)]
    pub temperature_ms: u64,
    /// Milliseconds between random numbers on `/stream-random-numbers`.
    #[arg(long, env = "HEARTH_RANDOM_MS", default_value_t = DEFAULT_RANDOM_MS)]
    pub random_ms: u64,
    /// Keep nothing on disk: a hub that forgets everything at exit (for benchmarks and throwaway demos).
    #[arg(long, env = "HEARTH_IN_MEMORY", default_value_t = false, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub in_memory: bool,
    /// Events the on-disk log keeps at most (older ones are trimmed in the background).
    #[arg(long, env = "HEARTH_RETAIN_EVENTS", default_value_t = DEFAULT_RETAIN_EVENTS)]
    pub retain_events: u64,
    /// Hours the on-disk log keeps an event at most.
    #[arg(long, env = "HEARTH_RETAIN_HOURS", default_value_t = DEFAULT_RETAIN_HOURS)]
    pub retain_hours: u64,
    /// How connections are served: `direct` (event streams outside hyper) or `hyper` (everything by hyper).
    #[arg(long, env = "HEARTH_SERVE", value_enum, default_value_t = ServeMode::Direct)]
    pub serve: ServeMode,
    /// Connections served at once to anyone; beyond it only requests with a session or the token get in (503
    /// for the rest). Default: what the process's open-files limit allows.
    #[arg(long, env = "HEARTH_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Connections kept above `--max-connections` for requests with a session or the token.
    #[arg(long, env = "HEARTH_RESERVED_CONNECTIONS", default_value_t = DEFAULT_RESERVED_CONNECTIONS)]
    pub reserved_connections: usize,
    /// Connections one client address (IPv6: one /64) may hold without a session or the token; 0 for no limit
    /// (behind a reverse proxy every client has the proxy's address).
    #[arg(long, env = "HEARTH_MAX_CONNECTIONS_PER_CLIENT", default_value_t = DEFAULT_MAX_CONNECTIONS_PER_CLIENT)]
    pub max_connections_per_client: usize,
    /// Seconds a connection may wait for its next request (idle keep-alive).
    #[arg(long, env = "HEARTH_IDLE_TIMEOUT_SECS", default_value_t = DEFAULT_IDLE_TIMEOUT_SECS)]
    pub idle_timeout_secs: u64,
    /// Seconds a request head may take once it has begun.
    #[arg(long, env = "HEARTH_HEADER_TIMEOUT_SECS", default_value_t = DEFAULT_HEADER_TIMEOUT_SECS)]
    pub header_timeout_secs: u64,
    /// Seconds a request body may take, whole, once its head has come (then 408 and the connection closes),
    /// however it is framed.
    #[arg(long, env = "HEARTH_BODY_TIMEOUT_SECS", default_value_t = DEFAULT_BODY_TIMEOUT_SECS)]
    pub body_timeout_secs: u64,
    /// Largest request head (request line and headers) in bytes, at least 8192; a larger one is answered 431
    /// and the connection closed.
    #[arg(long, env = "HEARTH_MAX_HEAD_BYTES", default_value_t = DEFAULT_MAX_HEAD_BYTES)]
    pub max_head_bytes: usize,
    /// Share the event log, ids, replay, the checkpoint, sessions and the viewer count with other instances
    /// through this Redis (`redis://host:port`); unset: the embedded store. Redis must run with
    /// `appendonly yes`, `appendfsync always` and `maxmemory-policy noeviction` (checked at start).
    #[arg(long, env = "HEARTH_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<Secret>,
    /// Writes are refused (507) while the data directory's disk has less than this many MiB free, so a full disk
    /// never fails a write half-way.
    #[arg(long, env = "HEARTH_MIN_FREE_MB", default_value_t = DEFAULT_MIN_FREE_MB)]
    pub min_free_mb: u64,
    /// Seconds a write waits for the store to take it before it is refused (503) and not applied (with Redis: in
    /// which a write whose reply is late is settled, or answered 504 when Redis says nothing at all).
    #[arg(long, env = "HEARTH_WRITE_TIMEOUT_SECS", default_value_t = DEFAULT_WRITE_TIMEOUT_SECS)]
    pub write_timeout_secs: u64,
    /// Mercure: the key publishers' tokens are signed with (HS256: the shared secret; RS256: the PEM public
    /// key). Unset: only Hearth's own credential may publish at `/.well-known/mercure`.
    #[arg(long, env = "HEARTH_MERCURE_PUBLISHER_JWT_KEY", hide_env_values = true)]
    pub mercure_publisher_jwt_key: Option<Secret>,
    /// Mercure: a file holding the publishers' key (instead of `--mercure-publisher-jwt-key`).
    #[arg(long, env = "HEARTH_MERCURE_PUBLISHER_JWT_KEY_FILE")]
    pub mercure_publisher_jwt_key_file: Option<PathBuf>,
    /// Mercure: the key subscribers' tokens are signed with. Unset: the publishers' key.
    #[arg(
        long,
        env = "HEARTH_MERCURE_SUBSCRIBER_JWT_KEY",
        hide_env_values = true
    )]
    pub mercure_subscriber_jwt_key: Option<Secret>,
    /// Mercure: a file holding the subscribers' key (instead of `--mercure-subscriber-jwt-key`).
    #[arg(long, env = "HEARTH_MERCURE_SUBSCRIBER_JWT_KEY_FILE")]
    pub mercure_subscriber_jwt_key_file: Option<PathBuf>,
    /// Mercure: how tokens are signed, `HS256` or `RS256`.
    #[arg(long, env = "HEARTH_MERCURE_JWT_ALGORITHM", value_enum, default_value_t = JwtAlgorithm::Hs256)]
    pub mercure_jwt_algorithm: JwtAlgorithm,
    /// Mercure: let subscribers without a token in (they receive public updates only).
    #[arg(long, env = "HEARTH_MERCURE_ANONYMOUS", default_value_t = false, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub mercure_anonymous: bool,
    /// Mercure: keep the list of active subscriptions (`/.well-known/mercure/subscriptions`) and publish a
    /// private update each time a subscription starts or ends.
    #[arg(long, env = "HEARTH_MERCURE_SUBSCRIPTIONS", default_value_t = false, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub mercure_subscriptions: bool,
    /// Log filter (`RUST_LOG` syntax).
    #[arg(long, env = "HEARTH_LOG", default_value = "info")]
    pub log: String,
}

impl Config {
    /// Whether reads need no login: on loopback (only this machine can connect), or when asked for.
    pub fn reads_are_public(&self) -> bool {
        self.public_read || self.addr.ip().is_loopback()
    }

    /// The simulator setting: `--no-simulator` wins over `--simulator` and `HEARTH_SIMULATOR`.
    fn simulator_setting(&self) -> Option<bool> {
        if self.no_simulator {
            Some(false)
        } else {
            self.simulator
        }
    }

    /// Whether the demo home's entities are there: without a broker, or when asked for with one.
    pub fn demo_home(&self) -> bool {
        self.mqtt_url.is_none() || self.simulator_setting() == Some(true)
    }

    /// Whether the demo home's rooms change by themselves.
    pub fn animate_demo(&self) -> bool {
        self.demo_home() && self.simulator_setting() != Some(false)
    }

    pub fn keepalive(&self) -> Duration {
        Duration::from_secs(self.keepalive_secs.max(1))
    }
    pub fn shutdown_deadline(&self) -> Duration {
        Duration::from_secs(self.shutdown_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The only test that reads or sets `HEARTH_SIMULATOR`, so no other test races it.
    #[test]
    fn the_demo_home_runs_by_default_only_without_a_broker() {
        let parse = |args: &[&str]| {
            let mut all = vec!["hearth"];
            all.extend_from_slice(args);
            let c = Config::parse_from(all);
            (c.demo_home(), c.animate_demo())
        };
        let c = Config::parse_from(["hearth"]);
        assert_eq!(c.keepalive_secs, DEFAULT_KEEPALIVE_SECS);
        assert!(c.demo_home());
        assert!(c.animate_demo() || std::env::var("HEARTH_SIMULATOR").is_ok());
        let broker = "mqtt://127.0.0.1:1883";
        assert_eq!(
            parse(&["--no-simulator"]),
            (true, false),
            "there, but still"
        );
        assert_eq!(parse(&["--mqtt-url", broker]), (false, false));
        assert_eq!(parse(&["--mqtt-url", broker, "--simulator"]), (true, true));
        assert_eq!(
            parse(&["--mqtt-url", broker, "--simulator", "--no-simulator"]),
            (false, false)
        );
        assert!(Config::parse_from(["hearth", "--in-memory"]).in_memory);
        for (value, wanted) in [("false", (true, false)), ("true", (true, true))] {
            std::env::set_var("HEARTH_SIMULATOR", value);
            let parsed =
                Config::try_parse_from(["hearth"]).map(|c| (c.demo_home(), c.animate_demo()));
            let with_broker =
                Config::try_parse_from(["hearth", "--mqtt-url", broker]).map(|c| c.demo_home());
            std::env::remove_var("HEARTH_SIMULATOR");
            assert_eq!(parsed.ok(), Some(wanted), "HEARTH_SIMULATOR={value}");
            assert_eq!(
                with_broker.ok(),
                Some(value == "true"),
                "HEARTH_SIMULATOR={value} with a broker"
            );
        }
    }

    #[test]
    fn the_broker_url_is_never_logged() {
        let c = Config::parse_from([
            "hearth",
            "--mqtt-url",
            "mqtt://hearth:hunter2-pass@broker:1883",
        ]);
        let logged = format!("{c:?}");
        assert!(!logged.contains("hunter2-pass"), "{logged}");
        assert_eq!(c.mqtt_discovery_prefix, DEFAULT_MQTT_DISCOVERY_PREFIX);
        assert_eq!(c.max_entities, DEFAULT_MAX_ENTITIES);
    }

    #[test]
    fn the_logged_settings_never_contain_the_token() {
        let c = Config::parse_from(["hearth", "--token", "s3cret-value"]);
        let logged = format!("{c:?}");
        assert!(!logged.contains("s3cret-value"), "{logged}");
        assert!(logged.contains("token: Some([redacted])"), "{logged}");
        assert!(
            logged.contains("replay_size"),
            "every field is logged: {logged}"
        );
    }

    #[test]
    fn mercure_keys_are_never_logged_and_the_algorithm_is_named_as_the_spec_does() {
        let c = Config::parse_from([
            "hearth",
            "--mercure-publisher-jwt-key",
            "publisher-s3cret",
            "--mercure-subscriber-jwt-key",
            "subscriber-s3cret",
            "--mercure-jwt-algorithm",
            "RS256",
            "--mercure-anonymous",
        ]);
        let logged = format!("{c:?}");
        assert!(!logged.contains("s3cret"), "{logged}");
        assert_eq!(c.mercure_jwt_algorithm, JwtAlgorithm::Rs256);
        assert!(c.mercure_anonymous && !c.mercure_subscriptions);
        assert!(Config::try_parse_from(["hearth", "--mercure-jwt-algorithm", "none"]).is_err());
    }

    #[test]
    fn cors_origins_are_origins_or_a_star() {
        let c = Config::try_parse_from(["hearth", "--cors-origins", "*,https://a.example:8443"])
            .unwrap();
        assert_eq!(
            c.cors_origins,
            [
                CorsOrigin::Any,
                CorsOrigin::Exact("https://a.example:8443".into())
            ]
        );
        for bad in [
            "ftp://x",
            "https://x/path",
            "x.example",
            "https://",
            "https://a b",
        ] {
            let err = Config::try_parse_from(["hearth", "--cors-origins", bad]).unwrap_err();
            assert!(err.to_string().contains("is not an origin"), "{bad}: {err}");
        }
    }

    #[test]
    fn secrets_compare_exactly() {
        let s = Secret::new("abc");
        assert!(s.matches("abc"));
        assert!(!s.matches("abd"));
        assert!(!s.matches("abcd"));
    }
}

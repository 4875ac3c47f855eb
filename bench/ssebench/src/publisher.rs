//! Publishing at a fixed rate: `P` publishers, each on its own keep-alive connection, share the schedule
//! (publisher `k` sends messages `k`, `k + P`, …; message `s` is due at `start + s / rate`), so one slow response
//! delays only its own publisher's next message instead of the whole stream. A message late for its slot goes
//! at once; the lag is reported. A message goes out as an HTTP `POST`, or through an MQTT broker ([`mqtt`]).

use crate::mqtt::{self, MqttTarget};

use crate::conn;
use crate::extract::{unix_micros, Template};
use crate::http1::{parse_head, post_head};
use crate::target::{source_addr, Target};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// With this many failures and not one success, the target is not accepting these messages (a wrong token, a
/// wrong URL): stop rather than hammer it for the whole run.
const GIVE_UP_AFTER: u64 = 20;

/// Where messages are published.
#[derive(Debug, Clone)]
pub enum Destination {
    /// A `POST` to a URL, with these headers.
    Http {
        target: Target,
        headers: Vec<(String, String)>,
    },
    /// A PUBLISH to a topic of a broker.
    Mqtt(MqttTarget),
}

pub struct Ctx {
    pub to: Destination,
    pub template: Template,
    /// Messages in the run; sequence numbers are `0..messages`.
    pub messages: u64,
    pub rate: f64,
    pub publishers: usize,
    pub source_addrs: usize,
    /// Nothing is sent after this, whatever is left.
    pub stop_at: Instant,
}

#[derive(Debug, Default)]
pub struct Report {
    pub ok: u64,
    pub failed: u64,
    pub first_error: Option<String>,
    /// The longest a message went out after its slot.
    pub max_lag: Duration,
    pub gave_up: bool,
}

impl Report {
    pub fn merge(&mut self, other: Report) {
        self.ok += other.ok;
        self.failed += other.failed;
        self.max_lag = self.max_lag.max(other.max_lag);
        self.gave_up |= other.gave_up;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// Publisher `k` of `ctx.publishers`, starting the schedule at `start`.
pub async fn run(k: usize, ctx: std::sync::Arc<Ctx>, start: Instant) -> Report {
    match &ctx.to {
        Destination::Http { target, headers } => run_http(k, &ctx, target, headers, start).await,
        Destination::Mqtt(broker) => run_mqtt(k, &ctx, broker, start).await,
    }
}

/// Waits for message `seq`'s slot; `None` once it falls after the run's end. Notes how late the slot was met.
async fn slot(ctx: &Ctx, seq: u64, start: Instant, report: &mut Report) -> Option<()> {
    let due = start + Duration::from_secs_f64(seq as f64 / ctx.rate);
    if due > ctx.stop_at {
        return None;
    }
    tokio::time::sleep_until(due).await;
    report.max_lag = report
        .max_lag
        .max(Instant::now().saturating_duration_since(due));
    Some(())
}

/// Counts one publish's outcome; false when the publisher should give up (nothing ever got through).
fn settle(report: &mut Report, error: Option<String>) -> bool {
    match error {
        None => report.ok += 1,
        Some(e) => {
            report.failed += 1;
            report.first_error.get_or_insert(e);
            if report.ok == 0 && report.failed >= GIVE_UP_AFTER {
                report.gave_up = true;
                return false;
            }
        }
    }
    true
}

/// Publisher `k` through a broker: one connection, one QoS 1 PUBLISH per message.
async fn run_mqtt(k: usize, ctx: &Ctx, broker: &MqttTarget, start: Instant) -> Report {
    let mut report = Report::default();
    let mut conn: Option<mqtt::Publisher> = None;
    let mut body = String::with_capacity(256);
    let step = ctx.publishers as u64;
    let mut seq = k as u64;
    while seq < ctx.messages {
        if slot(ctx, seq, start, &mut report).await.is_none() {
            break;
        }
        ctx.template.render(seq, unix_micros(), &mut body);
        let sent = async {
            let publisher = match &mut conn {
                Some(publisher) => publisher,
                None => {
                    let to = broker.addr;
                    let stream = conn::connect(to, source_addr(&to, k, ctx.source_addrs)).await?;
                    let _ = stream.set_nodelay(true);
                    conn.insert(mqtt::Publisher::connect(stream, broker, k).await?)
                }
            };
            publisher.publish(body.as_bytes()).await
        };
        let error = match tokio::time::timeout(RESPONSE_TIMEOUT, sent).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => {
                conn = None;
                Some(e)
            }
            Err(_) => {
                conn = None;
                Some(format!("no PUBACK within {RESPONSE_TIMEOUT:?}"))
            }
        };
        if !settle(&mut report, error) {
            break;
        }
        seq += step;
    }
    report
}

/// Publisher `k` over HTTP: `POST`s on a keep-alive connection.
async fn run_http(
    k: usize,
    ctx: &Ctx,
    target: &Target,
    headers: &[(String, String)],
    start: Instant,
) -> Report {
    let mut report = Report::default();
    let mut conn: Option<TcpStream> = None;
    let mut request = Vec::with_capacity(512);
    let mut body = String::with_capacity(256);
    let mut response = vec![0u8; 4096];
    let step = ctx.publishers as u64;
    let mut seq = k as u64;
    while seq < ctx.messages {
        if slot(ctx, seq, start, &mut report).await.is_none() {
            break;
        }
        ctx.template.render(seq, unix_micros(), &mut body);
        post_head(&mut request, target, headers, body.len());
        request.extend_from_slice(body.as_bytes());
        let outcome = tokio::time::timeout(
            RESPONSE_TIMEOUT,
            send(&mut conn, k, ctx, target, &request, &mut response),
        )
        .await;
        let error = match outcome {
            Ok(Ok(status)) if (200..300).contains(&status) => None,
            Ok(Ok(status)) => Some(format!("HTTP {status}: {}", snippet(&response))),
            Ok(Err(e)) => Some(e),
            Err(_) => {
                conn = None;
                Some(format!("no response within {RESPONSE_TIMEOUT:?}"))
            }
        };
        if !settle(&mut report, error) {
            break;
        }
        seq += step;
    }
    report
}

/// The start of an error response's body, for the report.
fn snippet(response: &[u8]) -> String {
    let text = String::from_utf8_lossy(response);
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or("")
        .trim_matches(char::from(0));
    body.chars().take(200).collect()
}

/// Sends one request on the publisher's connection (opening it first if needed) and reads the response. Returns
/// the status; `response` is left holding the start of the response. The connection is dropped on any error or
/// when the server says it closes.
async fn send(
    conn: &mut Option<TcpStream>,
    k: usize,
    ctx: &Ctx,
    target: &Target,
    request: &[u8],
    response: &mut [u8],
) -> Result<u16, String> {
    let mut stream = match conn.take() {
        Some(stream) => stream,
        None => connect(k, ctx, target).await?,
    };
    stream
        .write_all(request)
        .await
        .map_err(|e| format!("sending: {e}"))?;
    response.fill(0);
    let mut filled = 0;
    let (head, head_len) = loop {
        if filled == response.len() {
            return Err("response head larger than 4 KiB".to_owned());
        }
        let n = stream
            .read(&mut response[filled..])
            .await
            .map_err(|e| format!("reading the response: {e}"))?;
        if n == 0 {
            return Err("connection closed before a response".to_owned());
        }
        filled += n;
        if let Some(parsed) = parse_head(&response[..filled])? {
            break parsed;
        }
    };
    // The rest of the body is read and dropped; the buffer keeps the head and first bytes for error messages.
    let done = conn::read_body(
        &mut stream,
        head.framing,
        &response[head_len..filled],
        |_| {},
    )
    .await?;
    if !head.close && done {
        *conn = Some(stream);
    }
    Ok(head.status)
}

async fn connect(k: usize, ctx: &Ctx, target: &Target) -> Result<TcpStream, String> {
    let to = target.addr;
    let stream = conn::connect(to, source_addr(&to, k, ctx.source_addrs)).await?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

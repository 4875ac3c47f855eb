//! The seam between Hearth and its MQTT client crate: connect (plain or TLS), subscribe, publish with QoS 1, and
//! a stream of [`ClientEvent`]s (connected, disconnected with the reason, a message); the connection comes back
//! by itself with a growing back-off. Nothing else in Hearth names the crate.
//!
//! The crate is rumqttc (MQTT 3.1.1 on tokio), built without its default TLS stack: `mqtts://` goes through
//! rustls with the ring provider, which builds with a C compiler alone (the default provider needs cmake), and
//! trusts the certificate authorities of `--mqtt-ca-file`, or the system's. Every session is clean: after a
//! reconnect the bridge subscribes again, and the broker's retained messages bring the state back.
//!
//! Two rules keep a flood from the broker harmless. Incoming packets larger than the client accepts end the
//! connection inside the crate, so that limit sits well above the largest message the bridge reads (the bridge
//! skips and counts what lies between). And the bridge never waits on the crate's request queue (`try_*`
//! calls): the task driving the connection may itself be waiting for the bridge to take a message, and two
//! tasks waiting on each other would stop both.

use super::url::BrokerUrl;
use bytes::Bytes;
use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Packet, QoS, SubscribeFilter,
    TlsConfiguration, Transport,
};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_rustls::rustls;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often the broker must hear from us: it notices a dead Hearth within 1.5 times this.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a connection attempt may take.
const CONNECT_TIMEOUT_SECS: u64 = 5;
/// The first wait after a failed connection, doubled on each failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Requests (subscriptions, publishes) queued for the connection at most.
const REQUESTS: usize = 4096;
/// Events queued for the bridge at most: beyond it, reading from the broker waits for the bridge.
const EVENTS: usize = 256;
/// Topics per SUBSCRIBE packet.
const TOPICS_PER_SUBSCRIBE: usize = 100;

/// What the connection says.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// Connected (again): subscriptions are gone and must be made anew.
    Connected,
    /// The connection failed or dropped; it is being retried.
    Disconnected(String),
    Message {
        topic: String,
        payload: Bytes,
    },
}

/// Why a request was not handed to the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("the MQTT request queue is full or closed")]
    Queue,
    #[error("cannot read the CA file: {0}")]
    CaFile(String),
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}

/// Settings of one connection.
pub struct Options<'a> {
    pub url: &'a BrokerUrl,
    pub ca_file: Option<&'a Path>,
    /// The largest packet accepted from the broker.
    pub max_packet: usize,
}

/// A handle on the connection: cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: AsyncClient,
}

/// The connection itself, until it is started.
pub struct Connection {
    eventloop: EventLoop,
    client: AsyncClient,
}

impl Connection {
    /// Starts connecting, in a task of `tasks` that ends on `shutdown`; events arrive on the receiver.
    pub fn spawn(
        self,
        shutdown: CancellationToken,
        tasks: &TaskTracker,
    ) -> mpsc::Receiver<ClientEvent> {
        let (tx, rx) = mpsc::channel(EVENTS);
        let Connection {
            mut eventloop,
            client,
        } = self;
        tasks.spawn(async move {
            drive(&mut eventloop, tx, shutdown).await;
            let _ = client.try_disconnect();
        });
        rx
    }
}

impl Client {
    /// A client for the broker at `options.url`, and its connection, not started yet.
    pub fn new(options: Options<'_>) -> Result<(Client, Connection), ClientError> {
        // Unique per process: a broker disconnects a client when another connects with the same id.
        let client_id = format!("hearth-{:016x}", rand::random::<u64>());
        let url = options.url;
        let mut mqtt = MqttOptions::new(client_id, url.host.clone(), url.port);
        mqtt.set_keep_alive(KEEP_ALIVE)
            .set_clean_session(true)
            .set_max_packet_size(options.max_packet, options.max_packet)
            .set_request_channel_capacity(REQUESTS);
        if let Some(user) = &url.username {
            mqtt.set_credentials(user.clone(), url.password().unwrap_or_default());
        }
        if url.tls {
            let config = tls_config(options.ca_file)?;
            mqtt.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                Arc::new(config),
            )));
        }
        let (inner, mut eventloop) = AsyncClient::new(mqtt, REQUESTS);
        eventloop
            .network_options
            .set_connection_timeout(CONNECT_TIMEOUT_SECS);
        let connection = Connection {
            eventloop,
            client: inner.clone(),
        };
        Ok((Client { inner }, connection))
    }

    /// Publishes with QoS 1 (the broker acknowledges it; a device gets it at least once).
    pub fn publish(&self, topic: &str, payload: &str, retain: bool) -> Result<(), ClientError> {
        self.inner
            .try_publish(topic, QoS::AtLeastOnce, retain, payload.as_bytes().to_vec())
            .map_err(|_| ClientError::Queue)
    }

    /// Subscribes to `topics` (QoS 1), a hundred to a packet.
    pub fn subscribe(&self, topics: &[String]) -> Result<(), ClientError> {
        for chunk in topics.chunks(TOPICS_PER_SUBSCRIBE) {
            let filters = chunk
                .iter()
                .map(|t| SubscribeFilter::new(t.clone(), QoS::AtLeastOnce));
            self.inner
                .try_subscribe_many(filters)
                .map_err(|_| ClientError::Queue)?;
        }
        Ok(())
    }

    pub fn unsubscribe(&self, topics: &[String]) -> Result<(), ClientError> {
        for topic in topics {
            self.inner
                .try_unsubscribe(topic.clone())
                .map_err(|_| ClientError::Queue)?;
        }
        Ok(())
    }
}

/// Polls the connection until shutdown, turning what happens into events; after a failure it waits a growing
/// back-off, then the next poll connects again.
async fn drive(
    eventloop: &mut EventLoop,
    events: mpsc::Sender<ClientEvent>,
    shutdown: CancellationToken,
) {
    let mut backoff = FIRST_BACKOFF;
    let mut last_problem: Option<String> = None;
    loop {
        let polled = tokio::select! {
            _ = shutdown.cancelled() => return,
            polled = eventloop.poll() => polled,
        };
        let event = match polled {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff = FIRST_BACKOFF;
                last_problem = None;
                ClientEvent::Connected
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => ClientEvent::Message {
                topic: publish.topic,
                payload: publish.payload,
            },
            Ok(_) => continue,
            Err(e) => {
                let problem = describe(&e);
                let repeated = last_problem.as_deref() == Some(problem.as_str());
                last_problem = Some(problem.clone());
                if !repeated
                    && events
                        .send(ClientEvent::Disconnected(problem))
                        .await
                        .is_err()
                {
                    return;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            sent = events.send(event) => if sent.is_err() { return },
        }
    }
}

/// A failure as a person reads it (never with credentials: the crate's errors carry none).
fn describe(error: &ConnectionError) -> String {
    match error {
        ConnectionError::ConnectionRefused(code) => {
            format!("the broker refused the connection ({code:?})")
        }
        other => other.to_string(),
    }
}

/// rustls with the ring provider, trusting `ca_file`'s certificates or the system's.
fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, ClientError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| ClientError::CaFile(format!("{}: {e}", path.display())))?;
            for cert in certs {
                let cert =
                    cert.map_err(|e| ClientError::CaFile(format!("{}: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| ClientError::CaFile(format!("{}: {e}", path.display())))?;
            }
            if roots.is_empty() {
                return Err(ClientError::CaFile(format!(
                    "{}: no certificate in it",
                    path.display()
                )));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A system certificate rustls cannot parse is left out, as browsers do.
                let _ = roots.add(cert);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_ca_file_is_an_error_naming_it() {
        let err = tls_config(Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
        let dir = std::env::temp_dir().join(format!("hearth-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        assert!(matches!(
            tls_config(Some(&empty)),
            Err(ClientError::CaFile(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(tls_config(None).is_ok(), "the system's roots");
    }
}

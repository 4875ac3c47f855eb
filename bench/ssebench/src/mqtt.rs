//! Publishing through an MQTT broker instead of an HTTP `POST`: `--publish-url mqtt://127.0.0.1:1883/<topic>`
//! sends each message as a device would send its state, so the latency measured is the whole way from the
//! broker to the subscribers (a bridge in between, as Hearth's for a real home's devices).
//!
//! Only what a publisher needs of MQTT 3.1.1 is here, written out: CONNECT (clean session, no credentials),
//! CONNACK, PUBLISH at QoS 1 and its PUBACK. A message counts as published once the broker acknowledged it.
//! A crate would bring a client with its own event loop and queues for these few bytes.

use crate::target::UrlError;
use std::net::{IpAddr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Where to publish: a broker on this machine, and the topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttTarget {
    pub addr: SocketAddr,
    pub topic: String,
}

impl MqttTarget {
    /// Parses `mqtt://host:port/topic/with/levels` (loopback only; the port defaults to 1883).
    pub fn parse(url: &str) -> Result<MqttTarget, UrlError> {
        let invalid = |reason: &str| UrlError::Invalid {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = url
            .trim()
            .strip_prefix("mqtt://")
            .ok_or_else(|| UrlError::Scheme(url.to_owned()))?;
        let (authority, topic) = rest
            .split_once('/')
            .ok_or_else(|| invalid("no topic after the broker's address"))?;
        if topic.is_empty() || topic.contains(['+', '#']) {
            return Err(invalid(
                "the topic must be a plain topic name, no wildcards",
            ));
        }
        if authority.contains('@') {
            return Err(UrlError::UserInfo(url.to_owned()));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => (
                host,
                port.parse::<u16>()
                    .map_err(|_| UrlError::Port(url.to_owned()))?,
            ),
            _ => (authority, 1883),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let ip: IpAddr = if host == "localhost" {
            IpAddr::from([127, 0, 0, 1])
        } else {
            host.parse().map_err(|_| UrlError::Host {
                url: url.to_owned(),
                host: host.to_owned(),
            })?
        };
        if !ip.is_loopback() {
            return Err(UrlError::NotLoopback {
                url: url.to_owned(),
                ip,
            });
        }
        Ok(MqttTarget {
            addr: SocketAddr::new(ip, port),
            topic: topic.to_owned(),
        })
    }
}

/// The remaining-length field of an MQTT packet.
fn put_length(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let mut byte = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if n == 0 {
            return;
        }
    }
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

/// A CONNECT packet: MQTT 3.1.1, clean session, a keep-alive of 60 s.
pub fn connect_packet(client_id: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(32);
    put_string(&mut body, b"MQTT");
    body.extend_from_slice(&[4, 0x02, 0, 60]);
    put_string(&mut body, client_id.as_bytes());
    let mut out = vec![0x10];
    put_length(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

/// A PUBLISH packet at QoS 1, not retained, with packet id `id`.
pub fn publish_packet(out: &mut Vec<u8>, topic: &str, id: u16, payload: &[u8]) {
    out.clear();
    out.push(0x32);
    put_length(out, 2 + topic.len() + 2 + payload.len());
    put_string(out, topic.as_bytes());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(payload);
}

/// One publisher's connection to the broker.
pub struct Publisher {
    stream: TcpStream,
    topic: String,
    next_id: u16,
    packet: Vec<u8>,
}

impl Publisher {
    /// Connects and waits for the broker's CONNACK.
    pub async fn connect(stream: TcpStream, target: &MqttTarget, k: usize) -> Result<Self, String> {
        let mut stream = stream;
        let id = format!("ssebench-{}-{k}", std::process::id());
        stream
            .write_all(&connect_packet(&id))
            .await
            .map_err(|e| format!("sending CONNECT: {e}"))?;
        let mut ack = [0u8; 4];
        stream
            .read_exact(&mut ack)
            .await
            .map_err(|e| format!("reading CONNACK: {e}"))?;
        if ack[0] != 0x20 || ack[3] != 0 {
            return Err(format!("the broker refused the connection: {ack:?}"));
        }
        Ok(Publisher {
            stream,
            topic: target.topic.clone(),
            next_id: 1,
            packet: Vec::with_capacity(256),
        })
    }

    /// Publishes `payload` at QoS 1 and waits for the broker's PUBACK.
    pub async fn publish(&mut self, payload: &[u8]) -> Result<(), String> {
        let id = self.next_id;
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);
        publish_packet(&mut self.packet, &self.topic, id, payload);
        self.stream
            .write_all(&self.packet)
            .await
            .map_err(|e| format!("sending PUBLISH: {e}"))?;
        let mut ack = [0u8; 4];
        self.stream
            .read_exact(&mut ack)
            .await
            .map_err(|e| format!("reading PUBACK: {e}"))?;
        if ack[0] != 0x40 || ack[1] != 2 || ack[2..] != id.to_be_bytes() {
            return Err(format!("not the PUBACK of message {id}: {ack:?}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_loopback_broker_and_a_plain_topic() {
        let t = MqttTarget::parse("mqtt://127.0.0.1:18830/bench/probe").unwrap();
        assert_eq!(t.addr, "127.0.0.1:18830".parse().unwrap());
        assert_eq!(t.topic, "bench/probe");
        assert_eq!(
            MqttTarget::parse("mqtt://localhost/x").unwrap().addr.port(),
            1883
        );
        for bad in [
            "http://127.0.0.1/x",
            "mqtt://127.0.0.1:1883",
            "mqtt://127.0.0.1:1883/a/#",
            "mqtt://10.0.0.1:1883/x",
            "mqtt://u:p@127.0.0.1/x",
            "mqtt://127.0.0.1:x/x",
        ] {
            assert!(MqttTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn packets_are_framed_as_mqtt_3_1_1_says() {
        assert_eq!(
            connect_packet("c"),
            [0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 1, b'c']
        );
        let mut out = Vec::new();
        publish_packet(&mut out, "a/b", 7, b"hi");
        assert_eq!(out, [0x32, 9, 0, 3, b'a', b'/', b'b', 0, 7, b'h', b'i']);
        let long = vec![b'x'; 200];
        publish_packet(&mut out, "t", 1, &long);
        assert_eq!(&out[..3], &[0x32, 0xcd, 0x01], "205 in two length bytes");
    }
}

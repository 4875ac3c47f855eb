//! The broker's address as `--mqtt-url` names it: `mqtt://[user[:password]@]host[:port]`, or `mqtts://` for TLS
//! (ports 1883 and 8883 when left out). User and password may be percent-encoded, so a password can hold `@` or
//! `:`.
//!
//! The password is a [`Secret`]: neither `Debug` nor `Display` nor any parse error ever shows it (an error names
//! what is wrong, never the text it was given), so the URL can be logged as it is.

use crate::config::Secret;
use std::fmt;

/// Where the broker is and how to log in.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// `mqtts://`: the connection is TLS.
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    password: Option<Secret>,
}

/// Why `--mqtt-url` cannot be used. Never carries the URL itself: it may hold a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("the MQTT URL must start with mqtt:// or mqtts://")]
    Scheme,
    #[error("the MQTT URL names no host")]
    NoHost,
    #[error("the MQTT URL's port is not a number from 1 to 65535")]
    Port,
    #[error(
        "the MQTT URL may hold only [user:password@]host:port, with no path, query or fragment"
    )]
    Trailing,
    #[error("the MQTT URL's user or password has a bad percent-escape")]
    Escape,
}

impl BrokerUrl {
    pub fn parse(raw: &str) -> Result<BrokerUrl, UrlError> {
        let raw = raw.trim();
        let (tls, rest) = if let Some(rest) = strip_prefix_ci(raw, "mqtts://") {
            (true, rest)
        } else if let Some(rest) = strip_prefix_ci(raw, "mqtt://") {
            (false, rest)
        } else {
            return Err(UrlError::Scheme);
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return Err(UrlError::Trailing);
        }
        // The last `@` ends the credentials: a password may hold an unescaped `@` the host never does.
        let (credentials, address) = match rest.rfind('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        let (username, password) = match credentials {
            None => (None, None),
            Some(credentials) => {
                let (user, password) = match credentials.split_once(':') {
                    Some((user, password)) => (user, Some(password)),
                    None => (credentials, None),
                };
                let user = percent_decode(user)?;
                let password = password.map(percent_decode).transpose()?;
                (Some(user), password.map(Secret::new))
            }
        };
        let (host, port) = split_host_port(address)?;
        let port = match port {
            Some(port) => port
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or(UrlError::Port)?,
            None if tls => 8883,
            None => 1883,
        };
        Ok(BrokerUrl {
            tls,
            host,
            port,
            username: username.filter(|u| !u.is_empty()),
            password,
        })
    }

    /// The password, for the one place that logs in with it.
    pub fn password(&self) -> Option<&str> {
        self.password.as_ref().map(Secret::expose)
    }
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(address: &str) -> Result<(String, Option<&str>), UrlError> {
    let (host, port) = if let Some(v6) = address.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or(UrlError::NoHost)?;
        let port = match after {
            "" => None,
            other => Some(other.strip_prefix(':').ok_or(UrlError::Trailing)?),
        };
        (host, port)
    } else {
        match address.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (address, None),
        }
    };
    if host.is_empty() {
        return Err(UrlError::NoHost);
    }
    Ok((host.to_owned(), port))
}

fn percent_decode(text: &str) -> Result<String, UrlError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).ok_or(UrlError::Escape)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| UrlError::Escape)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| UrlError::Escape)
}

impl fmt::Display for BrokerUrl {
    /// The URL without its password: what the logs and `/healthz` show.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        write!(f, "{scheme}://")?;
        if let Some(user) = &self.username {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Debug for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BrokerUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_tls_urls_with_default_ports() {
        let plain = BrokerUrl::parse("mqtt://broker.local").unwrap();
        assert_eq!(
            (plain.tls, plain.host.as_str(), plain.port),
            (false, "broker.local", 1883)
        );
        assert_eq!(plain.username, None);
        let tls = BrokerUrl::parse("MQTTS://10.0.0.2/").unwrap();
        assert_eq!((tls.tls, tls.port), (true, 8883));
        let v6 = BrokerUrl::parse("mqtt://[::1]:1999").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 1999));
        assert_eq!(v6.to_string(), "mqtt://[::1]:1999");
    }

    #[test]
    fn credentials_are_read_and_the_password_never_shown() {
        let url = BrokerUrl::parse("mqtt://hearth:p%40ss:w0rd@broker:1884").unwrap();
        assert_eq!(url.username.as_deref(), Some("hearth"));
        assert_eq!(url.password(), Some("p@ss:w0rd"));
        assert_eq!(url.port, 1884);
        for shown in [url.to_string(), format!("{url:?}")] {
            assert!(!shown.contains("w0rd"), "{shown}");
            assert!(shown.contains("hearth@broker:1884"), "{shown}");
        }
        let raw_at = BrokerUrl::parse("mqtt://u:se@cret@h").unwrap();
        assert_eq!(
            (raw_at.password(), raw_at.host.as_str()),
            (Some("se@cret"), "h")
        );
    }

    #[test]
    fn bad_urls_are_refused_without_echoing_them() {
        for (raw, wanted) in [
            ("http://h", UrlError::Scheme),
            ("mqtt://", UrlError::NoHost),
            ("mqtt://user:secret-pw@", UrlError::NoHost),
            ("mqtt://h:0", UrlError::Port),
            ("mqtt://h:99999", UrlError::Port),
            ("mqtt://h:x", UrlError::Port),
            ("mqtt://h/topic", UrlError::Trailing),
            ("mqtt://u:secret-pw%zz@h", UrlError::Escape),
        ] {
            let err = BrokerUrl::parse(raw).unwrap_err();
            assert_eq!(err, wanted, "{raw}");
            assert!(!err.to_string().contains("secret-pw"));
        }
    }
}

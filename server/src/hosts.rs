//! Which `Host` a request may name: protection against DNS rebinding. A page on another site can point its own
//! domain at 127.0.0.1 and then read a Hearth on localhost as "same origin" — but its requests still name that
//! domain in `Host`. So only hosts that cannot be rebound are served: IP literals, `localhost`, and the names the
//! owner configures (`--allowed-hosts`). A request without `Host` (HTTP/1.0 tools) names nothing to rebind.

use std::net::IpAddr;

#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    /// Configured names, lower case, without port.
    names: Vec<String>,
}

impl AllowedHosts {
    pub fn new(configured: &[String]) -> Self {
        AllowedHosts {
            names: configured
                .iter()
                .map(|n| n.trim().trim_end_matches('.').to_ascii_lowercase())
                .filter(|n| !n.is_empty())
                .collect(),
        }
    }

    /// Whether a request naming `host` (the `Host` header as sent, maybe with a port) is served.
    pub fn allows(&self, host: Option<&str>) -> bool {
        let Some(host) = host else {
            return true;
        };
        let name = strip_port(host.trim())
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if name.parse::<IpAddr>().is_ok() {
            return true;
        }
        name == "localhost" || name.ends_with(".localhost") || self.names.contains(&name)
    }
}

/// `host:port`, `[v6]:port`, `[v6]` or `host` → the host part (brackets removed).
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        // One colon: a port. More: a bare IPv6 address, which has no port without brackets.
        Some((name, _)) if !name.contains(':') => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_localhost_and_configured_names_are_served() {
        let hosts = AllowedHosts::new(&["Home.Example".to_owned()]);
        for ok in [
            "127.0.0.1:3000",
            "192.168.1.20",
            "[::1]:3000",
            "[fe80::1]",
            "::1",
            "localhost:3000",
            "LOCALHOST",
            "app.localhost:8080",
            "home.example",
            "home.example.:443",
        ] {
            assert!(hosts.allows(Some(ok)), "{ok}");
        }
        assert!(hosts.allows(None), "no Host names nothing");
    }

    #[test]
    fn any_other_name_could_be_rebound_and_is_refused() {
        let hosts = AllowedHosts::new(&["home.example".to_owned()]);
        for refused in [
            "evil.example",
            "evil.example:3000",
            "home.example.evil.example",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "",
        ] {
            assert!(!hosts.allows(Some(refused)), "{refused}");
        }
    }
}

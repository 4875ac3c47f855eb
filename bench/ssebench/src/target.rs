//! Where the load goes: plain `http://` URLs on this machine, nowhere else, and the loopback source addresses the
//! clients bind so that tens of thousands of connections do not run one address out of ephemeral ports.

use http::uri::{Scheme, Uri};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// A parsed `http://host:port/path?query` on a loopback address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub addr: SocketAddr,
    /// The `Host` header, as the URL wrote it (`localhost:3000`, `127.0.0.1:3000`, `[::1]:8080`).
    pub host_header: String,
    /// Path and query, never empty (`/` at least); a fragment is dropped, as a browser would.
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("{url:?}: not a URL ({reason})")]
    Invalid { url: String, reason: String },
    #[error("{0:?}: only http:// URLs are supported (plain HTTP on loopback; no TLS)")]
    Scheme(String),
    #[error("{0:?}: no host")]
    NoHost(String),
    #[error("{0:?}: user info (user@host) is not supported")]
    UserInfo(String),
    #[error("{0:?}: bad port")]
    Port(String),
    #[error("{url:?}: host {host:?} is not an IP address or `localhost`; ssebench only loads servers on this machine")]
    Host { url: String, host: String },
    #[error("{url:?}: refusing to load {ip}, which is not a loopback address; ssebench only loads servers on this machine")]
    NotLoopback { url: String, ip: IpAddr },
}

impl Target {
    /// Parses `url` with `http::Uri` (which drops a fragment, as a browser would), then keeps it only if it is
    /// plain `http://` to a loopback address.
    pub fn parse(url: &str) -> Result<Target, UrlError> {
        let uri = url.trim().parse::<Uri>().map_err(|e| UrlError::Invalid {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        if uri.scheme() != Some(&Scheme::HTTP) {
            return Err(UrlError::Scheme(url.to_owned()));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| UrlError::NoHost(url.to_owned()))?;
        let host = authority.host();
        if host.is_empty() {
            return Err(UrlError::NoHost(url.to_owned()));
        }
        if authority.as_str().contains('@') {
            return Err(UrlError::UserInfo(url.to_owned()));
        }
        // `Uri` keeps a port it cannot read (`:x`, `:99999`) in the authority but gives no number for it: anything
        // after the host must be a port we can use.
        let after_host = authority.as_str().get(host.len()..).unwrap_or("");
        let port = match (after_host, authority.port_u16()) {
            ("", _) => 80,
            (_, Some(port)) if port != 0 => port,
            _ => return Err(UrlError::Port(url.to_owned())),
        };
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
        let ip = if host.eq_ignore_ascii_case("localhost") {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            bare.unwrap_or(host)
                .parse::<IpAddr>()
                .map_err(|_| UrlError::Host {
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
        let path = match uri.path_and_query().map(|p| p.as_str()) {
            None | Some("") => "/".to_owned(),
            Some(query) if query.starts_with('?') => format!("/{query}"),
            Some(path) => path.to_owned(),
        };
        Ok(Target {
            addr: SocketAddr::new(ip, port),
            host_header: authority.as_str().to_owned(),
            path,
        })
    }
}

/// The local address client `i` binds before connecting to `to`: 127.0.0.1 … 127.0.0.`k`, round robin (all of
/// 127/8 is loopback on Linux). Each source address has its own ~28k ephemeral ports towards one server port,
/// so `k` addresses allow ~28k × `k` connections. IPv6 has a single loopback address, so `[::1]` is used as is.
pub fn source_addr(to: &SocketAddr, i: usize, k: usize) -> SocketAddr {
    match to {
        SocketAddr::V4(_) => {
            let k = k.clamp(1, 254);
            let last = u8::try_from(1 + i % k).unwrap_or(1);
            SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)), 0)
        }
        SocketAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_parse_with_their_defaults() {
        let t = Target::parse("http://127.0.0.1:3000/eventstream").unwrap();
        assert_eq!(t.addr, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(
            (t.host_header.as_str(), t.path.as_str()),
            ("127.0.0.1:3000", "/eventstream")
        );

        let t = Target::parse("HTTP://localhost").unwrap();
        assert_eq!(t.addr, "127.0.0.1:80".parse().unwrap());
        assert_eq!(t.path, "/");

        let t = Target::parse("http://[::1]:8080?topics=a,b#frag").unwrap();
        assert_eq!(t.addr, "[::1]:8080".parse().unwrap());
        assert_eq!(
            (t.host_header.as_str(), t.path.as_str()),
            ("[::1]:8080", "/?topics=a,b")
        );

        let t = Target::parse("http://127.0.0.9:1/a/b?c=d").unwrap();
        assert_eq!(t.path, "/a/b?c=d", "any 127/8 address is loopback");
    }

    #[test]
    fn anything_off_this_machine_is_refused_with_a_reason() {
        let err = Target::parse("http://10.0.0.1:3000/").unwrap_err();
        assert!(matches!(err, UrlError::NotLoopback { .. }));
        assert!(err.to_string().contains("not a loopback address"), "{err}");
        assert!(matches!(
            Target::parse("http://example.com/"),
            Err(UrlError::Host { .. })
        ));
        assert!(matches!(
            Target::parse("http://[2001:db8::1]/"),
            Err(UrlError::NotLoopback { .. })
        ));
        assert!(matches!(
            Target::parse("https://127.0.0.1/"),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(
            Target::parse("127.0.0.1:3000"),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(
            Target::parse("http://u:p@127.0.0.1/"),
            Err(UrlError::UserInfo(_))
        ));
        assert!(matches!(
            Target::parse("http:///x"),
            Err(UrlError::Invalid { .. })
        ));
        assert!(matches!(
            Target::parse("http://:3000/x"),
            Err(UrlError::NoHost(_))
        ));
        for bad in [
            "http://127.0.0.1:0/",
            "http://127.0.0.1:99999/",
            "http://127.0.0.1:x/",
        ] {
            assert!(
                matches!(Target::parse(bad), Err(UrlError::Port(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            Target::parse("http://[::1/"),
            Err(UrlError::Invalid { .. })
        ));
    }

    #[test]
    fn sources_spread_round_robin_over_loopback() {
        let v4: SocketAddr = "127.0.0.1:3000".parse().unwrap();
        let ips: Vec<String> = (0..5)
            .map(|i| source_addr(&v4, i, 4).ip().to_string())
            .collect();
        assert_eq!(
            ips,
            [
                "127.0.0.1",
                "127.0.0.2",
                "127.0.0.3",
                "127.0.0.4",
                "127.0.0.1"
            ]
        );
        assert_eq!(
            source_addr(&v4, 7, 0).ip().to_string(),
            "127.0.0.1",
            "k is at least 1"
        );
        assert_eq!(
            source_addr(&v4, 300, 1000).ip().to_string(),
            "127.0.0.47",
            "k is at most 254"
        );
        let v6: SocketAddr = "[::1]:3000".parse().unwrap();
        assert_eq!(source_addr(&v6, 3, 4).ip().to_string(), "::1");
    }
}

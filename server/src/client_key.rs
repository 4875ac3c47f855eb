//! Who a per-client limit counts a request as: the connection limit, the stream slots and the failed-login
//! throttle all key on one [`ClientKey`], so they cannot disagree about who a client is.
//!
//! An IPv4 address is one client, also when it arrives IPv4-mapped (`::ffff:a.b.c.d`, which is how a dual-stack
//! listener on `[::]` sees every IPv4 client); an IPv6 address counts by its /64, the block one subscriber
//! usually gets whole. Without the first rule every IPv4 client of a dual-stack listener would share the /64
//! `::`, and one client's share or one guesser's lock-out would be everyone's. A leaf: it knows only addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A client as the limits count it; made once from its address ([`From<IpAddr>`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    /// The one key of every request that came over no socket (an in-process test): they share one budget.
    pub const UNKNOWN: ClientKey = ClientKey(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
}

impl From<IpAddr> for ClientKey {
    fn from(peer: IpAddr) -> Self {
        match peer.to_canonical() {
            IpAddr::V6(v6) => {
                let [a, b, c, d, ..] = v6.segments();
                ClientKey(IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0)))
            }
            v4 => ClientKey(v4),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(address: &str) -> ClientKey {
        ClientKey::from(address.parse::<IpAddr>().unwrap())
    }

    #[test]
    fn an_ipv4_mapped_address_is_the_ipv4_client_it_carries() {
        assert_eq!(key("::ffff:1.2.3.4"), key("1.2.3.4"));
        assert_ne!(
            key("::ffff:1.2.3.4"),
            key("::ffff:1.2.3.5"),
            "two IPv4 clients of a dual-stack listener are two clients"
        );
    }

    #[test]
    fn ipv6_clients_count_by_their_slash_64() {
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
    }
}

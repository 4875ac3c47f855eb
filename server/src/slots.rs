//! Stream slots: how many event streams may be open, in all and per client address, with a few kept for the
//! owner. One client cannot take every stream, and a flood of anonymous streams cannot lock a logged-in
//! dashboard out: the last `reserved` slots are for requests carrying the token or a session.

use crate::client_key::ClientKey;
use crate::meters::{Held, HeldGauge};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// How many streams may be open.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    pub total: u64,
    /// Of `total`, kept for privileged requests.
    pub reserved: u64,
    /// Per client address (IPv6: per /64) for unprivileged requests; 0 for no limit.
    pub per_client: u32,
}

/// Why a stream was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Every slot this request may use is taken.
    Full,
    /// This client address holds its share.
    ClientFull,
}

/// Open unprivileged streams per client.
type PerClient = Arc<Mutex<HashMap<ClientKey, u32>>>;

pub struct StreamSlots {
    limits: StreamLimits,
    open: Arc<HeldGauge>,
    per_client: PerClient,
}

/// One open stream's slot, given back on drop.
pub struct Slot {
    _open: Held,
    client: Option<(ClientKey, PerClient)>,
}

impl StreamSlots {
    /// Slots counted in `open` (the `subscribers` gauge).
    pub fn new(limits: StreamLimits, open: Arc<HeldGauge>) -> Self {
        StreamSlots {
            limits,
            open,
            per_client: Arc::default(),
        }
    }

    /// Takes a slot for a stream from `client`; `privileged` requests may use the reserve and are not limited
    /// per address.
    pub fn take(&self, client: Option<IpAddr>, privileged: bool) -> Result<Slot, Refused> {
        let open = self.open.get();
        let ceiling = if privileged {
            self.limits.total
        } else {
            self.limits.total.saturating_sub(self.limits.reserved)
        };
        if open >= ceiling {
            return Err(Refused::Full);
        }
        let client = match client.filter(|_| !privileged && self.limits.per_client > 0) {
            Some(ip) => {
                let client = ClientKey::from(ip);
                let mut counts = lock(&self.per_client);
                let count = counts.entry(client).or_insert(0);
                if *count >= self.limits.per_client {
                    return Err(Refused::ClientFull);
                }
                *count += 1;
                Some((client, Arc::clone(&self.per_client)))
            }
            None => None,
        };
        Ok(Slot {
            _open: self.open.hold(),
            client,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some((client, counts)) = &self.client {
            let mut counts = lock(counts);
            if let Some(count) = counts.get_mut(client) {
                *count -= 1;
                if *count == 0 {
                    counts.remove(client);
                }
            }
        }
    }
}

fn lock(counts: &Mutex<HashMap<ClientKey, u32>>) -> MutexGuard<'_, HashMap<ClientKey, u32>> {
    counts.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(total: u64, reserved: u64, per_client: u32) -> StreamSlots {
        StreamSlots::new(
            StreamLimits {
                total,
                reserved,
                per_client,
            },
            Arc::default(),
        )
    }

    #[test]
    fn one_address_gets_its_share_and_the_owner_always_more() {
        let s = slots(100, 0, 2);
        let a = Some("10.0.0.1".parse().unwrap());
        let b = Some("10.0.0.2".parse().unwrap());
        let first = s.take(a, false).unwrap();
        let _second = s.take(a, false).unwrap();
        assert_eq!(s.take(a, false).err(), Some(Refused::ClientFull));
        assert!(
            s.take(b, false).is_ok(),
            "another address has its own share"
        );
        assert!(
            s.take(a, true).is_ok(),
            "a logged-in request is not counted per address"
        );
        drop(first);
        assert!(
            s.take(a, false).is_ok(),
            "a closed stream gives its share back"
        );
    }

    #[test]
    fn the_reserve_is_for_privileged_requests() {
        let s = slots(3, 1, 0);
        let _a = s.take(None, false).unwrap();
        let _b = s.take(None, false).unwrap();
        assert_eq!(s.take(None, false).err(), Some(Refused::Full));
        let _owner = s.take(None, true).unwrap();
        assert_eq!(
            s.take(None, true).err(),
            Some(Refused::Full),
            "the total holds for everyone"
        );
    }

    /// On a dual-stack listener (`[::]`) every IPv4 client arrives as `::ffff:a.b.c.d`: each is still its own
    /// client, not one /64 shared by every IPv4 address.
    #[test]
    fn ipv4_clients_of_a_dual_stack_listener_each_get_their_share() {
        let s = slots(100, 0, 1);
        let _one = s
            .take(Some("::ffff:1.2.3.4".parse().unwrap()), false)
            .unwrap();
        assert!(
            s.take(Some("::ffff:1.2.3.5".parse().unwrap()), false)
                .is_ok(),
            "another IPv4 client has its own share"
        );
        assert_eq!(
            s.take(Some("1.2.3.4".parse().unwrap()), false).err(),
            Some(Refused::ClientFull),
            "the same client, however it arrives"
        );
    }

    #[test]
    fn ipv6_hosts_share_a_64() {
        let s = slots(100, 0, 1);
        let _one = s.take(Some("2001:db8::1".parse().unwrap()), false).unwrap();
        assert!(s.take(Some("2001:db8::2".parse().unwrap()), false).is_err());
        assert!(s
            .take(Some("2001:db8:0:1::1".parse().unwrap()), false)
            .is_ok());
    }
}

//! Who may hold a connection: a limit on connections in all, a limit per client address, and a reserve above the
//! first that only privileged requests (a logged-in dashboard) may use.
//!
//! A server that holds every connection it accepts is refused to everyone once a client opens enough of them
//! (the process runs out of file descriptors and `accept` fails). So connections are counted: under both limits
//! a connection is served as usual. Over either, it is on probation: its first request head is read (with a short
//! deadline) and it stays only if the caller says that request is privileged, taking a place in the reserve;
//! otherwise it is answered 503 and closed. Probation itself holds sockets, so at most a reserve's worth of
//! connections are on probation at once, and a newcomer then pushes one out: the longest waiting of the client
//! address holding the most places (its own, if it holds as many as any). So each address has a fair share: a
//! flood of silent connections from some addresses pushes out only their own, and another address's place
//! goes only once every address holds as few. A connection pushed out is still heard if the head it already
//! sent is privileged (the caller reads what came before closing it, [`Admission::settle`] lets it in): silent
//! connections cannot push out a request with the token or a session. Addresses are [`ClientKey`]s, like every
//! per-client limit.

use crate::client_key::ClientKey;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use tokio_util::sync::CancellationToken;

/// The numbers [`Admission`] enforces.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Connections for anyone.
    pub total: usize,
    /// Connections above `total` for privileged requests only.
    pub reserved: usize,
    /// Connections one client address may hold; 0 for no limit.
    pub per_client: usize,
}

/// Which limit a connection on probation is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    Total,
    PerClient,
}

/// Where an admitted connection counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Regular,
    Reserve,
    /// On probation, with its number in the queue (gone from the queue once pushed out).
    Probation(u32),
}

/// One connection's place, to be given back with [`Admission::release`].
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    client: ClientKey,
    place: Place,
}

/// A connection over a limit: which one, and the token cancelled when a newcomer pushes it out.
pub struct Probation {
    pub over: Over,
    pub pushed_out: CancellationToken,
}

pub struct Admission {
    caps: Caps,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    regular: usize,
    reserve: usize,
    /// Open connections per client, every place included.
    clients: HashMap<ClientKey, usize>,
    /// Connections on probation, longest waiting first.
    probation: VecDeque<OnProbation>,
    /// How many of them each client holds.
    probation_held: HashMap<ClientKey, usize>,
    next_probation: u32,
}

struct OnProbation {
    id: u32,
    client: ClientKey,
    pushed_out: CancellationToken,
}

impl State {
    /// Takes connection `id` off probation; false if it was not on it (pushed out meanwhile).
    fn leave_probation(&mut self, id: u32) -> bool {
        let Some(at) = self.probation.iter().position(|p| p.id == id) else {
            return false;
        };
        if let Some(left) = self.probation.remove(at) {
            self.held_less(left.client);
        }
        true
    }

    fn held_less(&mut self, client: ClientKey) {
        if let Some(held) = self.probation_held.get_mut(&client) {
            *held -= 1;
            if *held == 0 {
                self.probation_held.remove(&client);
            }
        }
    }

    /// Pushes out one connection on probation to make room for one from `newcomer`: the longest waiting of the
    /// client holding the most places, `newcomer` itself if it holds as many as any.
    fn make_room(&mut self, newcomer: ClientKey) {
        let Some(most) = self.probation_held.values().copied().max() else {
            return;
        };
        let own = self.probation_held.get(&newcomer) == Some(&most);
        let held = &self.probation_held;
        let victim = self.probation.iter().position(|p| {
            if own {
                p.client == newcomer
            } else {
                held.get(&p.client) == Some(&most)
            }
        });
        if let Some(out) = victim.and_then(|at| self.probation.remove(at)) {
            out.pushed_out.cancel();
            self.held_less(out.client);
        }
    }
}

impl Admission {
    pub fn new(caps: Caps) -> Self {
        Admission {
            caps,
            state: Mutex::default(),
        }
    }

    /// Connections on probation at once: the reserve's size, with a floor so that refusals can still be answered
    /// when no reserve is configured.
    fn probation_room(&self) -> usize {
        self.caps.reserved.max(8)
    }

    /// Counts a new connection from `peer`: served at once, or on probation.
    pub fn admit(&self, peer: IpAddr) -> (Ticket, Option<Probation>) {
        let client = ClientKey::from(peer);
        let mut state = self.lock();
        let held = state.clients.get(&client).copied().unwrap_or(0);
        *state.clients.entry(client).or_insert(0) += 1;
        let over = if state.regular >= self.caps.total {
            Some(Over::Total)
        } else if self.caps.per_client > 0 && held >= self.caps.per_client {
            Some(Over::PerClient)
        } else {
            None
        };
        let Some(over) = over else {
            state.regular += 1;
            let place = Place::Regular;
            return (Ticket { client, place }, None);
        };
        if state.probation.len() >= self.probation_room() {
            state.make_room(client);
        }
        let id = state.next_probation;
        state.next_probation = state.next_probation.wrapping_add(1);
        let pushed_out = CancellationToken::new();
        state.probation.push_back(OnProbation {
            id,
            client,
            pushed_out: pushed_out.clone(),
        });
        *state.probation_held.entry(client).or_insert(0) += 1;
        let place = Place::Probation(id);
        (
            Ticket { client, place },
            Some(Probation { over, pushed_out }),
        )
    }

    /// Ends a connection's probation once its first request is known: it stays (in the reserve, or a regular
    /// place if one is free by now), or it must go, for the limit it is over. One pushed out meanwhile stays
    /// only if its request is privileged.
    pub fn settle(&self, ticket: &mut Ticket, privileged: bool, over: Over) -> Result<(), Over> {
        let Place::Probation(id) = ticket.place else {
            return Ok(());
        };
        let mut state = self.lock();
        if !state.leave_probation(id) && !privileged {
            return Err(over);
        }
        let held = state.clients.get(&ticket.client).copied().unwrap_or(0);
        let client_has_room = self.caps.per_client == 0 || held <= self.caps.per_client;
        ticket.place = if state.regular < self.caps.total && (client_has_room || privileged) {
            state.regular += 1;
            Place::Regular
        } else if privileged && state.reserve < self.caps.reserved {
            state.reserve += 1;
            Place::Reserve
        } else if !privileged && !client_has_room && state.regular < self.caps.total {
            return Err(Over::PerClient);
        } else {
            return Err(Over::Total);
        };
        Ok(())
    }

    /// Gives a connection's place back.
    pub fn release(&self, ticket: Ticket) {
        let mut state = self.lock();
        match ticket.place {
            Place::Regular => state.regular -= 1,
            Place::Reserve => state.reserve -= 1,
            Place::Probation(id) => {
                state.leave_probation(id);
            }
        }
        if let Some(held) = state.clients.get_mut(&ticket.client) {
            *held -= 1;
            if *held == 0 {
                state.clients.remove(&ticket.client);
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The counts stay consistent even if a holder panicked: every update is a whole statement.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    fn admission(total: usize, reserved: usize, per_client: usize) -> Admission {
        Admission::new(Caps {
            total,
            reserved,
            per_client,
        })
    }

    #[test]
    fn under_both_limits_a_connection_is_served_at_once_and_its_place_comes_back() {
        let a = admission(2, 1, 0);
        let (first, probation) = a.admit(A);
        assert!(probation.is_none());
        let (_second, probation) = a.admit(B);
        assert!(probation.is_none());
        assert_eq!(a.admit(A).1.map(|p| p.over), Some(Over::Total));
        a.release(first);
        assert!(a.admit(A).1.is_none(), "a freed place is taken again");
    }

    #[test]
    fn over_the_limit_only_a_privileged_request_gets_a_reserved_place() {
        let a = admission(1, 1, 0);
        let _regular = a.admit(A);
        let (mut stranger, probation) = a.admit(B);
        let over = probation.unwrap().over;
        assert_eq!(a.settle(&mut stranger, false, over), Err(Over::Total));
        let (mut dashboard, probation) = a.admit(B);
        assert_eq!(
            a.settle(&mut dashboard, true, probation.unwrap().over),
            Ok(())
        );
        let (mut second, probation) = a.admit(B);
        assert_eq!(
            a.settle(&mut second, true, probation.unwrap().over),
            Err(Over::Total),
            "the reserve is full"
        );
    }

    #[test]
    fn one_address_cannot_take_more_than_its_share() {
        let a = admission(100, 1, 2);
        let _one = a.admit(A);
        let _two = a.admit(A);
        let (mut third, probation) = a.admit(A);
        let over = probation.unwrap().over;
        assert_eq!(over, Over::PerClient);
        assert_eq!(a.settle(&mut third, false, over), Err(Over::PerClient));
        assert!(a.admit(B).1.is_none(), "another address is unaffected");
        let (mut logged_in, probation) = a.admit(A);
        assert_eq!(
            a.settle(&mut logged_in, true, probation.unwrap().over),
            Ok(())
        );
    }

    #[test]
    fn a_newcomer_pushes_out_the_connection_on_probation_longest() {
        let a = admission(0, 8, 0);
        let probations: Vec<_> = (0..8).map(|_| a.admit(A)).collect();
        let (_newcomer, probation) = a.admit(B);
        assert!(probation.is_some());
        assert!(probations[0].1.as_ref().unwrap().pushed_out.is_cancelled());
        assert!(!probations[1].1.as_ref().unwrap().pushed_out.is_cancelled());
        let mut pushed = probations[0].0;
        assert_eq!(
            a.settle(&mut pushed, false, Over::Total),
            Err(Over::Total),
            "pushed out, a stranger goes"
        );
        let mut pushed = probations[1].0;
        let _ = a.admit(B);
        assert!(probations[1].1.as_ref().unwrap().pushed_out.is_cancelled());
        assert_eq!(
            a.settle(&mut pushed, true, Over::Total),
            Ok(()),
            "pushed out, a privileged request it had sent still gets its place"
        );
    }

    /// The queue is full of one address's silent connections when another address's comes: the flood loses
    /// its own oldest, never the other address's place, however long that one has waited.
    #[test]
    fn a_flood_from_one_address_pushes_out_only_its_own() {
        let a = admission(0, 8, 0);
        let (_owner, owner) = a.admit(B);
        let flood: Vec<_> = (0..7).map(|_| a.admit(A)).collect();
        let (_, newcomer) = a.admit(A);
        assert!(newcomer.is_some());
        assert!(
            !owner.as_ref().unwrap().pushed_out.is_cancelled(),
            "the other address keeps its place"
        );
        assert!(flood[0].1.as_ref().unwrap().pushed_out.is_cancelled());
        assert!(!flood[1].1.as_ref().unwrap().pushed_out.is_cancelled());
        for _ in 0..100 {
            let _ = a.admit(A);
        }
        assert!(!owner.unwrap().pushed_out.is_cancelled());
    }

    /// With the queue shared by several addresses, a newcomer takes the place of the address holding the most.
    #[test]
    fn the_address_holding_the_most_of_probation_gives_way_first() {
        let a = admission(0, 8, 0);
        let c: IpAddr = "10.0.0.3".parse().unwrap();
        let b_places: Vec<_> = (0..2).map(|_| a.admit(B)).collect();
        let a_places: Vec<_> = (0..6).map(|_| a.admit(A)).collect();
        let (_, from_c) = a.admit(c);
        assert!(from_c.is_some());
        assert!(a_places[0].1.as_ref().unwrap().pushed_out.is_cancelled());
        assert!(b_places
            .iter()
            .all(|(_, p)| !p.as_ref().unwrap().pushed_out.is_cancelled()));
    }

    /// On a dual-stack listener an IPv4 client arrives IPv4-mapped (or plain, on another listener): a flood that
    /// comes both ways is one client's, which must give way before a neighbour holding fewer places.
    #[test]
    fn a_flood_from_one_ipv4_client_is_one_share_however_it_arrives() {
        let a = admission(0, 8, 0);
        let neighbour: IpAddr = "::ffff:10.0.0.3".parse().unwrap();
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        let neighbours: Vec<_> = (0..3).map(|_| a.admit(neighbour)).collect();
        for i in 0..20 {
            let _ = a.admit(if i % 2 == 0 { mapped } else { A });
        }
        assert!(neighbours
            .iter()
            .all(|(_, p)| !p.as_ref().unwrap().pushed_out.is_cancelled()));
    }

    #[test]
    fn an_ipv4_client_is_one_client_however_it_arrives() {
        let a = admission(100, 1, 1);
        let _plain = a.admit(A);
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        let (_, probation) = a.admit(mapped);
        assert_eq!(probation.map(|p| p.over), Some(Over::PerClient));
        let other: IpAddr = "::ffff:10.0.0.2".parse().unwrap();
        assert!(
            a.admit(other).1.is_none(),
            "another IPv4 client has its own share"
        );
    }
}

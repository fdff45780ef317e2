//! The connection table of a listener (issue 20 item 3): how many connections are open in
//! all and per peer, which of them are **evictable** (waiting for a request's headers, or
//! idle between keep-alive requests) and in which order they became so.
//!
//! - A new connection past `--max-connections-per-peer` for its peer closes that peer's
//!   oldest evictable connection to make room; when all of that peer's connections are
//!   busy (a request in flight), the new one gets `503`.
//! - A new connection past `--max-connections` closes the oldest evictable connection of
//!   any peer; only when every connection is busy does the new one get `503`.
//!
//! So one client holding a thousand idle or header-pending connections holds at most
//! `--max-connections-per-peer` of them, and many clients doing so cannot keep a new
//! client out: the oldest idle connection goes first (what nginx and hyper-based proxies
//! do), and a request in flight is never cut to make room. A peer is an IPv4 address or an
//! IPv6 /64 (one host's usual share of addresses; IPv4-mapped IPv6 is IPv4). Peers inside
//! `--connection-limit-exempt` blocks (your reverse proxy: it connects for all its
//! clients, and limits them itself) count only against the global cap.
//!
//! An idle connection costs a task, a socket and hyper's read buffer (a few KiB): the
//! default cap is in the thousands, and `serve` raises its open-file limit to match
//! (see `raise_open_files` in `mod.rs`).

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::cidr::Cidr;

/// Who a connection counts against.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum PeerKey {
    /// An IPv4 address (IPv4-mapped IPv6 included).
    V4(u32),
    /// An IPv6 /64.
    V6(u64),
}

impl PeerKey {
    /// The key of a peer address.
    pub fn of(ip: IpAddr) -> PeerKey {
        match ip {
            IpAddr::V4(v) => PeerKey::V4(u32::from(v)),
            IpAddr::V6(v) => match v.to_ipv4_mapped() {
                Some(v4) => PeerKey::V4(u32::from(v4)),
                None => PeerKey::V6(u64::try_from(u128::from(v) >> 64).unwrap_or(u64::MAX)),
            },
        }
    }
}

/// Limits of one listener's connections.
#[derive(Clone, Debug)]
pub struct ConnLimits {
    /// Connections open at once, all peers.
    pub max: usize,
    /// Connections open at once from one peer (`0`: no per-peer limit).
    pub per_peer: usize,
    /// Peers held to the global cap only.
    pub exempt: Arc<[Cidr]>,
}

/// Why a connection was turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Its peer has its maximum open, all busy.
    PeerFull,
    /// The listener has its maximum open, all busy.
    Full,
}

/// A connection admitted to the table: its id, and the signal that it was evicted.
pub struct Admitted {
    /// Its id in the table.
    pub id: u64,
    /// Fires when the table closes it to make room (it was evictable).
    pub evicted: oneshot::Receiver<()>,
    /// How many connections were evicted to admit this one (0 or 1).
    pub evictions: u64,
}

struct Conn {
    peer: PeerKey,
    /// Requests in flight (HTTP/1: 0 or 1).
    busy: u32,
    /// When it last became evictable (a sequence number: smaller is older).
    since: u64,
    evict: Option<oneshot::Sender<()>>,
}

#[derive(Default)]
struct Peer {
    open: usize,
    /// Its evictable connections, oldest first: `(since, id)`.
    evictable: BTreeSet<(u64, u64)>,
}

#[derive(Default)]
struct Table {
    seq: u64,
    conns: HashMap<u64, Conn>,
    /// Every evictable connection, oldest first: `(since, id)`.
    evictable: BTreeSet<(u64, u64)>,
    peers: HashMap<PeerKey, Peer>,
}

/// The connection table of one listener.
pub struct Conns {
    limits: ConnLimits,
    table: Mutex<Table>,
}

impl Conns {
    /// An empty table.
    pub fn new(limits: ConnLimits) -> Conns {
        Conns {
            limits,
            table: Mutex::new(Table::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        match self.table.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Connections open now (all peers).
    pub fn open(&self) -> usize {
        self.lock().conns.len()
    }

    /// Admit a new connection from `ip`, evicting the oldest evictable connection of its
    /// peer (at the per-peer cap) or of anyone (at the global cap) when needed.
    pub fn admit(&self, ip: IpAddr) -> Result<Admitted, Refused> {
        let ip = match ip {
            IpAddr::V6(v) => v.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            IpAddr::V4(_) => ip,
        };
        let peer = PeerKey::of(ip);
        let limited =
            self.limits.per_peer > 0 && !self.limits.exempt.iter().any(|c| c.contains_ip(ip));
        let mut t = self.lock();
        let mut evictions = 0;
        if limited {
            let (open, oldest) = t
                .peers
                .get(&peer)
                .map_or((0, None), |p| (p.open, p.evictable.first().copied()));
            if open >= self.limits.per_peer {
                let Some((_, id)) = oldest else {
                    return Err(Refused::PeerFull);
                };
                t.evict(id);
                evictions += 1;
            }
        }
        if t.conns.len() >= self.limits.max.max(1) {
            let Some((_, id)) = t.evictable.first().copied() else {
                return Err(Refused::Full);
            };
            t.evict(id);
            evictions += 1;
        }
        let (tx, rx) = oneshot::channel();
        t.seq += 1;
        let (id, since) = (t.seq, t.seq);
        t.conns.insert(
            id,
            Conn {
                peer,
                busy: 0,
                since,
                evict: Some(tx),
            },
        );
        t.evictable.insert((since, id));
        let p = t.peers.entry(peer).or_default();
        p.open += 1;
        p.evictable.insert((since, id));
        Ok(Admitted {
            id,
            evicted: rx,
            evictions,
        })
    }

    /// A request started on connection `id`: it is busy (never evicted) until
    /// [`Conns::done`].
    pub fn busy(&self, id: u64) {
        let mut t = self.lock();
        let Some(c) = t.conns.get_mut(&id) else {
            return;
        };
        c.busy += 1;
        let (since, peer) = (c.since, c.peer);
        t.evictable.remove(&(since, id));
        if let Some(p) = t.peers.get_mut(&peer) {
            p.evictable.remove(&(since, id));
        }
    }

    /// A request on connection `id` ended (its response is over): when none is left in
    /// flight, the connection is evictable again, as the newest.
    pub fn done(&self, id: u64) {
        let mut t = self.lock();
        t.seq += 1;
        let seq = t.seq;
        let Some(c) = t.conns.get_mut(&id) else {
            return;
        };
        c.busy = c.busy.saturating_sub(1);
        if c.busy > 0 {
            return;
        }
        c.since = seq;
        let peer = c.peer;
        t.evictable.insert((seq, id));
        if let Some(p) = t.peers.get_mut(&peer) {
            p.evictable.insert((seq, id));
        }
    }

    /// Connection `id` closed (or was evicted): forget it.
    pub fn close(&self, id: u64) {
        self.lock().remove(id);
    }
}

impl Table {
    fn remove(&mut self, id: u64) -> Option<Conn> {
        let c = self.conns.remove(&id)?;
        self.evictable.remove(&(c.since, id));
        if let Some(p) = self.peers.get_mut(&c.peer) {
            p.evictable.remove(&(c.since, id));
            p.open = p.open.saturating_sub(1);
            if p.open == 0 {
                self.peers.remove(&c.peer);
            }
        }
        Some(c)
    }

    fn evict(&mut self, id: u64) {
        if let Some(mut c) = self.remove(id)
            && let Some(tx) = c.evict.take()
        {
            let _ = tx.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn table(max: usize, per_peer: usize, exempt: &[&str]) -> Conns {
        Conns::new(ConnLimits {
            max,
            per_peer,
            exempt: exempt.iter().map(|c| c.parse().unwrap()).collect(),
        })
    }

    // Invariant: a peer at its cap loses its own oldest idle connection, never another
    // peer's, and a busy connection is never evicted.
    #[test]
    fn per_peer_cap_evicts_the_peers_oldest_idle_connection() {
        let t = table(100, 2, &[]);
        let mut a1 = t.admit(ip("10.0.0.1")).unwrap();
        let b = t.admit(ip("10.0.0.2")).unwrap();
        let a2 = t.admit(ip("10.0.0.1")).unwrap();
        let a3 = t.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(a3.evictions, 1);
        assert!(a1.evicted.try_recv().is_ok(), "the peer's oldest went");
        assert_eq!(t.open(), 3);
        // Both of the peer's connections busy: the next is refused, `b` untouched.
        t.busy(a2.id);
        t.busy(a3.id);
        assert_eq!(t.admit(ip("10.0.0.1")).err(), Some(Refused::PeerFull));
        let mut b = b;
        assert!(b.evicted.try_recv().is_err());
        // A request ends: that connection is the one to go next.
        t.done(a2.id);
        let mut a2 = a2;
        assert!(t.admit(ip("10.0.0.1")).is_ok());
        assert!(a2.evicted.try_recv().is_ok());
    }

    #[test]
    fn global_cap_evicts_the_oldest_idle_of_anyone_and_refuses_only_when_all_are_busy() {
        let t = table(2, 0, &[]);
        let mut x = t.admit(ip("10.0.0.1")).unwrap();
        let y = t.admit(ip("10.0.0.2")).unwrap();
        let z = t.admit(ip("10.0.0.3")).unwrap();
        assert!(x.evicted.try_recv().is_ok());
        t.busy(y.id);
        t.busy(z.id);
        assert_eq!(t.admit(ip("10.0.0.4")).err(), Some(Refused::Full));
        t.close(y.id);
        assert!(t.admit(ip("10.0.0.4")).is_ok());
    }

    #[test]
    fn exempt_peers_and_ipv6_prefixes() {
        let t = table(100, 1, &["127.0.0.1/32"]);
        let _a = t.admit(ip("127.0.0.1")).unwrap();
        let b = t.admit(ip("127.0.0.1")).unwrap();
        assert_eq!(
            b.evictions, 0,
            "an exempt peer is not held to the per-peer cap"
        );
        let _v = t.admit(ip("2001:db8::1")).unwrap();
        let w = t.admit(ip("2001:db8::2")).unwrap();
        assert_eq!(w.evictions, 1, "one /64 is one peer");
        let m = t.admit(ip("::ffff:10.0.0.9")).unwrap();
        let n = t.admit(ip("10.0.0.9")).unwrap();
        assert_eq!((m.evictions, n.evictions), (0, 1), "IPv4-mapped is IPv4");
    }
}

//! A TURN server (RFC 8656) for the network simulator, with lifetimes.
//!
//! Enough of the protocol for meshrtc's client to be tested against
//! something that forgets: long-term credentials (one user; RFC 8489
//! §9.2 with a fixed nonce), Allocate (UDP relays, lifetime the smaller of
//! the requested and the server's maximum, §7.2), Refresh (lifetime 0
//! deletes, §8), CreatePermission (§9) and ChannelBind (§12) with their
//! own lifetimes, Send and Data indications (§11), ChannelData (§12.4),
//! and STUN Binding for server-reflexive addresses. Allocations,
//! permissions and channels expire when their lifetime passes without a
//! refresh; what arrives for them afterwards is dropped and counted.
//! The relayed addresses are ports of the server's own IP address.
//!
//! The lifetimes are the test's to choose (coturn's shortest allocation
//! is longer than a CI run wants), so refresh and expiry fit in seconds.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use meshrtc_ice::stun::{
    AttrType, Attribute, Class, ErrorCode, Message, MessageBuilder, Method, ShortTermKey,
    TransactionId,
};
use meshrtc_ice::turn::{emit_channel_data, long_term_key, ChannelData};
use meshrtc_netsim::{Datagram, Node};

/// The server's realm.
pub const TURN_REALM: &str = "sim.turn";
const NONCE: &str = "sim-nonce-0";

/// How long things live on the server.
#[derive(Debug, Clone, Copy)]
pub struct TurnLifetimes {
    /// The most an allocation is granted (RFC 8656 §7.2 lets the server
    /// choose).
    pub max_allocation: Duration,
    /// A permission (§9: 300 s).
    pub permission: Duration,
    /// A channel binding (§12: 600 s).
    pub channel: Duration,
}

impl Default for TurnLifetimes {
    fn default() -> TurnLifetimes {
        TurnLifetimes {
            max_allocation: Duration::from_secs(3600),
            permission: Duration::from_secs(300),
            channel: Duration::from_secs(600),
        }
    }
}

/// What the server did and dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimTurnStats {
    /// Allocations made.
    pub allocations: u64,
    /// Refreshes with a non-zero lifetime granted.
    pub refreshes: u64,
    /// Allocations deleted by a Refresh with lifetime 0.
    pub deallocations: u64,
    /// CreatePermission requests granted (new or refreshed).
    pub permissions: u64,
    /// ChannelBind requests granted (new or refreshed).
    pub channel_binds: u64,
    /// Requests answered 401 (no or wrong credentials).
    pub unauthorized: u64,
    /// Requests answered 437 (no allocation on the 5-tuple).
    pub mismatches: u64,
    /// Allocations that expired.
    pub allocations_expired: u64,
    /// Permissions that expired.
    pub permissions_expired: u64,
    /// Channel bindings that expired.
    pub channels_expired: u64,
    /// Datagrams relayed client → peer.
    pub relayed_out: u64,
    /// Datagrams relayed peer → client.
    pub relayed_in: u64,
    /// Dropped: data for or from a peer without a permission.
    pub no_permission: u64,
    /// Dropped: ChannelData on a channel not bound (or expired).
    pub no_channel: u64,
    /// Dropped: data from a client without an allocation, or to a relayed
    /// address with none.
    pub no_allocation: u64,
}

#[derive(Debug)]
struct Allocation {
    client: SocketAddr,
    relayed: SocketAddr,
    expires: Instant,
    /// Peer IP → expiry.
    permissions: BTreeMap<IpAddr, Instant>,
    /// Channel number → (peer, expiry).
    channels: BTreeMap<u16, (SocketAddr, Instant)>,
}

/// The simulator's TURN server: a [`Node`] owning its IP address.
#[derive(Debug)]
pub struct SimTurn {
    addr: SocketAddr,
    key: ShortTermKey,
    lifetimes: TurnLifetimes,
    allocations: Vec<Allocation>,
    next_port: u16,
    out: Vec<Datagram>,
    stats: SimTurnStats,
}

impl SimTurn {
    /// A server at `addr` for one user.
    pub fn new(addr: SocketAddr, user: &str, pass: &str, lifetimes: TurnLifetimes) -> SimTurn {
        SimTurn {
            addr,
            key: ShortTermKey::new(&long_term_key(user, TURN_REALM, pass)),
            lifetimes,
            allocations: Vec::new(),
            next_port: 49_152,
            out: Vec::new(),
            stats: SimTurnStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> SimTurnStats {
        self.stats
    }

    /// The relayed addresses of the live allocations.
    pub fn relayed_addresses(&self) -> Vec<SocketAddr> {
        self.allocations.iter().map(|a| a.relayed).collect()
    }

    /// Forgets every allocation, as a restarted server would.
    pub fn restart(&mut self) {
        self.allocations.clear();
    }

    /// Drops what has expired by `now`, counting it.
    fn expire(&mut self, now: Instant) {
        let before = self.allocations.len();
        self.allocations.retain(|a| a.expires > now);
        self.stats.allocations_expired += (before - self.allocations.len()) as u64;
        for a in &mut self.allocations {
            let p = a.permissions.len();
            a.permissions.retain(|_, t| *t > now);
            self.stats.permissions_expired += (p - a.permissions.len()) as u64;
            let c = a.channels.len();
            a.channels.retain(|_, (_, t)| *t > now);
            self.stats.channels_expired += (c - a.channels.len()) as u64;
        }
    }

    fn reply(
        &mut self,
        to: SocketAddr,
        req: &Message<'_>,
        class: Class,
        f: impl FnOnce(&mut MessageBuilder<'_>),
    ) {
        let mut payload = Vec::new();
        let mut b = MessageBuilder::new(&mut payload, class, req.method(), req.transaction_id());
        f(&mut b);
        if req.method() != Method::BINDING && class == Class::Success {
            let _ = b.add_message_integrity(&self.key);
        }
        let _ = b.add_fingerprint();
        self.out.push(Datagram {
            src: self.addr,
            dst: to,
            payload,
        });
    }

    fn error(&mut self, to: SocketAddr, req: &Message<'_>, code: u16, reason: &'static str) {
        self.reply(to, req, Class::Error, |b| {
            let _ = b.add(&Attribute::ErrorCode(ErrorCode { code, reason }));
            if code == 401 {
                let _ = b.add(&Attribute::Realm(TURN_REALM));
                let _ = b.add(&Attribute::Nonce(NONCE));
            }
        });
    }

    /// A datagram from a client to the server's transport address.
    fn client_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        if let Ok(cd) = ChannelData::parse(data) {
            let Some(a) = self.allocations.iter().find(|a| a.client == from) else {
                self.stats.no_allocation += 1;
                return;
            };
            match a.channels.get(&cd.channel()) {
                Some(&(peer, _)) => {
                    let d = Datagram {
                        src: a.relayed,
                        dst: peer,
                        payload: cd.data().to_vec(),
                    };
                    self.stats.relayed_out += 1;
                    self.send_to_peer(now, d);
                }
                None => self.stats.no_channel += 1,
            }
            return;
        }
        let Ok(msg) = Message::parse(data) else {
            return;
        };
        match (msg.class(), msg.method()) {
            (Class::Request, Method::BINDING) => {
                self.reply(from, &msg, Class::Success, |b| {
                    let _ = b.add(&Attribute::XorMappedAddress(from));
                });
            }
            (Class::Indication, Method::SEND) => {
                let peer = msg.xor_address(AttrType::XOR_PEER_ADDRESS).ok().flatten();
                let payload = msg.raw(AttrType::DATA).map(|d| d.value.to_vec());
                let Some(a) = self.allocations.iter().find(|a| a.client == from) else {
                    self.stats.no_allocation += 1;
                    return;
                };
                let (Some(peer), Some(payload)) = (peer, payload) else {
                    return;
                };
                if !a.permissions.contains_key(&peer.ip()) {
                    self.stats.no_permission += 1;
                    return;
                }
                let d = Datagram {
                    src: a.relayed,
                    dst: peer,
                    payload,
                };
                self.stats.relayed_out += 1;
                self.send_to_peer(now, d);
            }
            (Class::Request, _) => self.request(now, from, &msg),
            _ => {}
        }
    }

    /// Data leaving a relayed address; to another relayed address of this
    /// server it goes round internally (hairpinning).
    fn send_to_peer(&mut self, now: Instant, d: Datagram) {
        if d.dst.ip() == self.addr.ip() && d.dst != self.addr {
            self.at_relay(now, d.dst, d.src, &d.payload);
        } else {
            self.out.push(d);
        }
    }

    fn request(&mut self, now: Instant, from: SocketAddr, msg: &Message<'_>) {
        if !msg.has_integrity() || msg.verify_integrity(&self.key).is_err() {
            self.stats.unauthorized += 1;
            self.error(from, msg, 401, "Unauthorized");
            return;
        }
        let lifetime_asked = msg.raw(AttrType::LIFETIME).and_then(|l| {
            let v: [u8; 4] = l.value.try_into().ok()?;
            Some(u32::from_be_bytes(v))
        });
        let peer = msg.xor_address(AttrType::XOR_PEER_ADDRESS).ok().flatten();
        let i = self.allocations.iter().position(|a| a.client == from);
        let lifetimes = self.lifetimes;
        match (msg.method(), i) {
            (Method::ALLOCATE, Some(_)) => self.error(from, msg, 437, "Allocation Mismatch"),
            (Method::ALLOCATE, None) => {
                let granted = Duration::from_secs(u64::from(lifetime_asked.unwrap_or(600)))
                    .min(lifetimes.max_allocation);
                let relayed = SocketAddr::new(self.addr.ip(), self.next_port);
                self.next_port = self.next_port.wrapping_add(1).max(49_152);
                self.allocations.push(Allocation {
                    client: from,
                    relayed,
                    expires: now + granted,
                    permissions: BTreeMap::new(),
                    channels: BTreeMap::new(),
                });
                self.stats.allocations += 1;
                let secs = granted.as_secs() as u32;
                self.reply(from, msg, Class::Success, |b| {
                    let _ = b.add_xor_address(AttrType::XOR_RELAYED_ADDRESS, relayed);
                    let _ = b.add(&Attribute::XorMappedAddress(from));
                    let _ = b.add_raw(AttrType::LIFETIME, &secs.to_be_bytes());
                });
            }
            (Method::REFRESH | Method::CREATE_PERMISSION | Method::CHANNEL_BIND, None) => {
                self.stats.mismatches += 1;
                self.error(from, msg, 437, "Allocation Mismatch");
            }
            (Method::REFRESH, Some(i)) => {
                let asked = Duration::from_secs(u64::from(lifetime_asked.unwrap_or(600)));
                if asked.is_zero() {
                    self.allocations.remove(i);
                    self.stats.deallocations += 1;
                } else {
                    self.allocations[i].expires = now + asked.min(lifetimes.max_allocation);
                    self.stats.refreshes += 1;
                }
                let secs = asked.min(lifetimes.max_allocation).as_secs() as u32;
                self.reply(from, msg, Class::Success, |b| {
                    let _ = b.add_raw(AttrType::LIFETIME, &secs.to_be_bytes());
                });
            }
            (Method::CREATE_PERMISSION, Some(i)) => {
                let Some(peer) = peer else {
                    self.error(from, msg, 400, "Bad Request");
                    return;
                };
                self.allocations[i]
                    .permissions
                    .insert(peer.ip(), now + lifetimes.permission);
                self.stats.permissions += 1;
                self.reply(from, msg, Class::Success, |_| {});
            }
            (Method::CHANNEL_BIND, Some(i)) => {
                let number = msg
                    .raw(AttrType::CHANNEL_NUMBER)
                    .filter(|v| v.value.len() == 4)
                    .map(|v| u16::from_be_bytes([v.value[0], v.value[1]]));
                let (Some(peer), Some(number)) = (peer, number) else {
                    self.error(from, msg, 400, "Bad Request");
                    return;
                };
                let a = &mut self.allocations[i];
                // §12.1: a number bound to another peer, or the peer to
                // another number, is refused.
                let taken = a.channels.get(&number).is_some_and(|(p, _)| *p != peer)
                    || a.channels
                        .iter()
                        .any(|(n, (p, _))| *p == peer && *n != number);
                if taken {
                    self.error(from, msg, 400, "Bad Request");
                    return;
                }
                a.channels.insert(number, (peer, now + lifetimes.channel));
                // A channel binding installs or refreshes the permission.
                a.permissions.insert(peer.ip(), now + lifetimes.permission);
                self.stats.channel_binds += 1;
                self.reply(from, msg, Class::Success, |_| {});
            }
            _ => self.error(from, msg, 400, "Bad Request"),
        }
    }

    /// A datagram from `from` to relayed address `relayed`.
    fn at_relay(&mut self, _now: Instant, relayed: SocketAddr, from: SocketAddr, data: &[u8]) {
        let Some(a) = self.allocations.iter().find(|a| a.relayed == relayed) else {
            self.stats.no_allocation += 1;
            return;
        };
        if !a.permissions.contains_key(&from.ip()) {
            self.stats.no_permission += 1;
            return;
        }
        let mut payload = Vec::new();
        match a.channels.iter().find(|(_, (p, _))| *p == from) {
            Some((&number, _)) => {
                if emit_channel_data(&mut payload, number, data, false).is_err() {
                    return;
                }
            }
            None => {
                let mut b = MessageBuilder::new(
                    &mut payload,
                    Class::Indication,
                    Method::DATA,
                    TransactionId([0x5a; 12]),
                );
                let _ = b.add_xor_address(AttrType::XOR_PEER_ADDRESS, from);
                let _ = b.add_raw(AttrType::DATA, data);
            }
        }
        self.stats.relayed_in += 1;
        self.out.push(Datagram {
            src: self.addr,
            dst: a.client,
            payload,
        });
    }
}

impl Node for SimTurn {
    fn handle_datagram(&mut self, now: Instant, d: Datagram) {
        self.expire(now);
        if d.dst == self.addr {
            self.client_datagram(now, d.src, &d.payload);
        } else {
            self.at_relay(now, d.dst, d.src, &d.payload);
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.expire(now);
    }
    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        if self.out.is_empty() {
            None
        } else {
            Some(self.out.remove(0))
        }
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        // Expiry is applied when something arrives; the counters are
        // exact at every datagram, which is all the tests read.
        None
    }
}

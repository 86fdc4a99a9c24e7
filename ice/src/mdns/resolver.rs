//! The mDNS side of ICE candidates (draft-ietf-mmusic-mdns-ice-candidates),
//! sans-IO: resolving a peer's `<uuid>.local` candidate name with one-shot
//! multicast queries (RFC 6762 §5), and answering queries for the names our
//! own host addresses are hidden behind (§6).
//!
//! The owner binds the multicast sockets (224.0.0.251 and ff02::fb, port
//! 5353), hands every datagram read to [`Mdns::handle_datagram`], sends
//! what [`Mdns::poll_transmit`] gives, and calls [`Mdns::handle_timeout`]
//! at [`Mdns::poll_timeout`]. Answers come out of [`Mdns::poll_event`].
//!
//! A query for a name is sent for A and AAAA separately (responders such as
//! Chromium's take one question per message), to each multicast group the
//! configuration enables, and repeated after 1 s and 2 s (§5.2: one-shot
//! queries double their interval) before the name is given up. Anything
//! that does not parse is a counted drop ([`MdnsStats::malformed`]).

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::message::{Message, Question, Record, RecordData, RecordType, CLASS_IN};

/// The mDNS port (RFC 6762 §3).
pub const MDNS_PORT: u16 = 5353;
/// The IPv4 mDNS group and port.
pub const MDNS_V4: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(224, 0, 0, 251)), 5353);
/// The IPv6 mDNS group (link-local scope) and port.
pub const MDNS_V6: SocketAddr = SocketAddr::new(
    IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb)),
    5353,
);

/// How the resolver behaves.
#[derive(Debug, Clone)]
pub struct MdnsConfig {
    /// The first retransmission interval (doubled each time).
    pub retransmit: Duration,
    /// Queries sent for a name before it is given up.
    pub max_sends: u32,
    /// Query the IPv4 group.
    pub ipv4: bool,
    /// Query the IPv6 group.
    pub ipv6: bool,
    /// Names being resolved at once; more are refused.
    pub max_pending: usize,
    /// The TTL of our answers (RFC 6762 §10: 120 s for host records).
    pub ttl: u32,
}

impl Default for MdnsConfig {
    fn default() -> Self {
        MdnsConfig {
            retransmit: Duration::from_secs(1),
            max_sends: 3,
            ipv4: true,
            ipv6: true,
            max_pending: 32,
            ttl: 120,
        }
    }
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdnsTransmit {
    /// A multicast group, or the querier for a unicast answer.
    pub dst: SocketAddr,
    /// The DNS message.
    pub payload: Vec<u8>,
}

/// What happened to a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MdnsEvent {
    /// An answer gave `name` this address (one event per address).
    Resolved {
        /// The name as [`Mdns::resolve`] was given it.
        name: String,
        /// The address.
        addr: IpAddr,
    },
    /// No answer after every query: the name is given up.
    Failed {
        /// The name.
        name: String,
    },
}

/// Why a name is not resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// Not a `.local` name (only those are resolved by multicast).
    #[error("{0:?} is not a .local name")]
    NotLocal(String),
    /// [`MdnsConfig::max_pending`] names are being resolved.
    #[error("{0} names are being resolved already")]
    TooMany(usize),
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MdnsStats {
    /// Query messages sent.
    pub queries_sent: u64,
    /// Addresses learnt for names we asked for.
    pub resolved: u64,
    /// Names given up.
    pub failed: u64,
    /// Datagrams that did not parse.
    pub malformed: u64,
    /// Records ignored: for names we did not ask for, goodbyes (TTL 0),
    /// or addresses no candidate can have (unspecified, multicast).
    pub ignored_records: u64,
    /// Queries for our published names answered.
    pub queries_answered: u64,
}

struct Pending {
    name: String,
    sends: u32,
    next: Instant,
}

/// The resolver and responder.
pub struct Mdns {
    config: MdnsConfig,
    pending: Vec<Pending>,
    published: Vec<(String, IpAddr)>,
    transmits: VecDeque<MdnsTransmit>,
    events: VecDeque<MdnsEvent>,
    stats: MdnsStats,
}

impl std::fmt::Debug for Mdns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mdns")
            .field("pending", &self.pending.len())
            .field("published", &self.published.len())
            .field("stats", &self.stats)
            .finish()
    }
}

/// Whether `name` is a multicast DNS name (ends in `.local`, RFC 6762 §3).
pub fn is_local_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    name.len() > 6
        && name
            .get(name.len() - 6..)
            .is_some_and(|s| s.eq_ignore_ascii_case(".local"))
}

/// A random name as browsers make them (a version 4 UUID, RFC 9562 §5.4,
/// under `.local`) from 16 random bytes the caller draws.
pub fn random_local_name(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0F) | 0x40;
    bytes[8] = (bytes[8] & 0x3F) | 0x80;
    let h: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}.local",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn same_name(a: &str, b: &str) -> bool {
    a.strip_suffix('.')
        .unwrap_or(a)
        .eq_ignore_ascii_case(b.strip_suffix('.').unwrap_or(b))
}

impl Mdns {
    /// A resolver with nothing pending and nothing published.
    pub fn new(config: MdnsConfig) -> Mdns {
        Mdns {
            config,
            pending: Vec::new(),
            published: Vec::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: MdnsStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> MdnsStats {
        self.stats
    }

    /// Starts resolving `name` (the first queries go out now). A name
    /// already being resolved is not asked for twice.
    pub fn resolve(&mut self, now: Instant, name: &str) -> Result<(), ResolveError> {
        if !is_local_name(name) {
            return Err(ResolveError::NotLocal(name.to_string()));
        }
        if self.pending.iter().any(|p| same_name(&p.name, name)) {
            return Ok(());
        }
        if self.pending.len() >= self.config.max_pending {
            return Err(ResolveError::TooMany(self.pending.len()));
        }
        self.pending.push(Pending {
            name: name.to_string(),
            sends: 0,
            next: now,
        });
        self.handle_timeout(now);
        Ok(())
    }

    /// Answers queries for `name` with `addr` from now on (a host address
    /// hidden behind a random name, draft-ietf-mmusic-mdns-ice-candidates
    /// §3.1.1).
    pub fn publish(&mut self, name: &str, addr: IpAddr) {
        if !self
            .published
            .iter()
            .any(|(n, a)| same_name(n, name) && *a == addr)
        {
            self.published.push((name.to_string(), addr));
        }
    }

    /// Stops answering for `name`.
    pub fn unpublish(&mut self, name: &str) {
        self.published.retain(|(n, _)| !same_name(n, name));
    }

    /// A datagram read from an mDNS socket, from `from`.
    pub fn handle_datagram(&mut self, from: SocketAddr, data: &[u8]) {
        let Ok(m) = Message::parse(data) else {
            self.stats.malformed += 1;
            return;
        };
        if m.response {
            self.take_answers(&m);
        } else {
            self.answer_questions(from, &m);
        }
    }

    fn take_answers(&mut self, m: &Message) {
        for r in &m.records {
            let addr = match r.data {
                RecordData::A(a) => IpAddr::V4(a),
                RecordData::Aaaa(a) => IpAddr::V6(a),
                RecordData::Other(..) => continue,
            };
            let usable = !addr.is_unspecified() && !addr.is_multicast() && r.ttl > 0;
            let Some(i) = self
                .pending
                .iter()
                .position(|p| same_name(&p.name, &r.name))
            else {
                self.stats.ignored_records += 1;
                continue;
            };
            if !usable {
                self.stats.ignored_records += 1;
                continue;
            }
            let name = self.pending.remove(i).name;
            self.stats.resolved += 1;
            self.events.push_back(MdnsEvent::Resolved {
                name: name.clone(),
                addr,
            });
            // The same name's address of the other family in this
            // response is taken too: one, so that a hostile responder
            // listing hundreds of addresses cannot make hundreds of
            // remote candidates (found by the mdns_message fuzz target).
            for other in &m.records {
                if std::ptr::eq(other, r) || !same_name(&other.name, &name) || other.ttl == 0 {
                    continue;
                }
                let more = match other.data {
                    RecordData::A(a) => IpAddr::V4(a),
                    RecordData::Aaaa(a) => IpAddr::V6(a),
                    RecordData::Other(..) => continue,
                };
                if more.is_ipv4() != addr.is_ipv4()
                    && !more.is_unspecified()
                    && !more.is_multicast()
                {
                    self.stats.resolved += 1;
                    self.events.push_back(MdnsEvent::Resolved {
                        name: name.clone(),
                        addr: more,
                    });
                    break;
                }
            }
        }
    }

    fn answer_questions(&mut self, from: SocketAddr, m: &Message) {
        let mut records = Vec::new();
        let mut unicast = from.port() != MDNS_PORT;
        for q in &m.questions {
            for (name, addr) in &self.published {
                let fits = matches!(
                    (q.qtype, addr),
                    (RecordType::ANY, _)
                        | (RecordType::A, IpAddr::V4(_))
                        | (RecordType::AAAA, IpAddr::V6(_))
                );
                if fits && same_name(&q.name, name) {
                    unicast |= q.unicast_response;
                    records.push(Record {
                        name: name.clone(),
                        data: match addr {
                            IpAddr::V4(a) => RecordData::A(*a),
                            IpAddr::V6(a) => RecordData::Aaaa(*a),
                        },
                        ttl: self.config.ttl,
                        cache_flush: true,
                        class: CLASS_IN,
                    });
                }
            }
        }
        if records.is_empty() {
            return;
        }
        // A legacy querier (not from port 5353) gets its ID and questions
        // back, by unicast (RFC 6762 §6.7); "QU" questions a unicast answer
        // (§5.4); everyone else the group of the query's family.
        let legacy = from.port() != MDNS_PORT;
        let reply = Message {
            id: if legacy { m.id } else { 0 },
            response: true,
            questions: if legacy {
                m.questions.clone()
            } else {
                Vec::new()
            },
            records,
        };
        let Ok(payload) = reply.emit() else {
            return;
        };
        let dst = match (unicast, from.ip()) {
            (true, _) => from,
            (false, IpAddr::V4(_)) => MDNS_V4,
            (false, IpAddr::V6(_)) => MDNS_V6,
        };
        self.stats.queries_answered += 1;
        self.transmits.push_back(MdnsTransmit { dst, payload });
    }

    /// Sends the queries that are due; gives up names asked for
    /// [`MdnsConfig::max_sends`] times.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending[i].next > now {
                i += 1;
                continue;
            }
            if self.pending[i].sends >= self.config.max_sends {
                let p = self.pending.remove(i);
                self.stats.failed += 1;
                self.events.push_back(MdnsEvent::Failed { name: p.name });
                continue;
            }
            let p = &mut self.pending[i];
            let interval = self.config.retransmit * 2u32.saturating_pow(p.sends);
            p.sends += 1;
            p.next = now + interval;
            let name = p.name.clone();
            self.query(&name);
            i += 1;
        }
    }

    fn query(&mut self, name: &str) {
        let groups = [(self.config.ipv4, MDNS_V4), (self.config.ipv6, MDNS_V6)];
        for qtype in [RecordType::A, RecordType::AAAA] {
            let m = Message {
                id: 0,
                response: false,
                questions: vec![Question {
                    name: name.to_string(),
                    qtype,
                    unicast_response: false,
                }],
                records: Vec::new(),
            };
            let Ok(payload) = m.emit() else {
                return;
            };
            for (on, dst) in groups {
                if on {
                    self.stats.queries_sent += 1;
                    self.transmits.push_back(MdnsTransmit {
                        dst,
                        payload: payload.clone(),
                    });
                }
            }
        }
    }

    /// When [`Mdns::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.iter().map(|p| p.next).min()
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<MdnsTransmit> {
        self.transmits.pop_front()
    }

    /// The next answer or failure.
    pub fn poll_event(&mut self) -> Option<MdnsEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "2c1e4f2a-8d0b-4b5e-9a61-3f0c5b7d9e11.local";

    fn answer(name: &str, data: RecordData, ttl: u32) -> Vec<u8> {
        Message {
            id: 0,
            response: true,
            questions: vec![],
            records: vec![Record {
                name: name.into(),
                data,
                ttl,
                cache_flush: true,
                class: CLASS_IN,
            }],
        }
        .emit()
        .unwrap()
    }

    #[test]
    fn a_name_is_queried_for_a_and_aaaa_and_resolved_by_an_answer() {
        let t0 = Instant::now();
        let mut m = Mdns::new(MdnsConfig::default());
        m.resolve(t0, NAME).unwrap();
        let sent: Vec<MdnsTransmit> = std::iter::from_fn(|| m.poll_transmit()).collect();
        assert_eq!(sent.len(), 4, "A and AAAA to both groups");
        let q = Message::parse(&sent[0].payload).unwrap();
        assert_eq!(sent[0].dst, MDNS_V4);
        assert_eq!(sent[1].dst, MDNS_V6);
        assert!(!q.response);
        assert_eq!(q.questions[0].name, NAME);
        assert_eq!(q.questions[0].qtype, RecordType::A);
        assert_eq!(
            Message::parse(&sent[2].payload).unwrap().questions[0].qtype,
            RecordType::AAAA
        );
        assert_eq!(m.poll_timeout(), Some(t0 + Duration::from_secs(1)));
        // An answer in upper case for another name is ignored; ours counts.
        let peer: SocketAddr = "10.9.0.2:5353".parse().unwrap();
        m.handle_datagram(
            peer,
            &answer("other.local", RecordData::A([1, 2, 3, 4].into()), 120),
        );
        m.handle_datagram(
            peer,
            &answer(
                &NAME.to_uppercase(),
                RecordData::A([10, 9, 0, 2].into()),
                120,
            ),
        );
        assert_eq!(
            m.poll_event(),
            Some(MdnsEvent::Resolved {
                name: NAME.into(),
                addr: "10.9.0.2".parse().unwrap()
            })
        );
        assert_eq!(m.poll_event(), None);
        assert_eq!(m.poll_timeout(), None);
        let s = m.stats();
        assert_eq!((s.resolved, s.ignored_records, s.queries_sent), (1, 1, 4));
    }

    #[test]
    fn an_unanswered_name_is_asked_three_times_then_given_up() {
        let t0 = Instant::now();
        let mut m = Mdns::new(MdnsConfig {
            ipv6: false,
            ..MdnsConfig::default()
        });
        m.resolve(t0, NAME).unwrap();
        m.resolve(t0, NAME).unwrap();
        assert_eq!(std::iter::from_fn(|| m.poll_transmit()).count(), 2);
        m.handle_timeout(t0 + Duration::from_millis(999));
        assert_eq!(m.poll_transmit(), None);
        m.handle_timeout(t0 + Duration::from_secs(1));
        assert_eq!(std::iter::from_fn(|| m.poll_transmit()).count(), 2);
        assert_eq!(m.poll_timeout(), Some(t0 + Duration::from_secs(3)));
        m.handle_timeout(t0 + Duration::from_secs(3));
        assert_eq!(std::iter::from_fn(|| m.poll_transmit()).count(), 2);
        m.handle_timeout(t0 + Duration::from_secs(7));
        assert_eq!(m.poll_transmit(), None);
        assert_eq!(
            m.poll_event(),
            Some(MdnsEvent::Failed { name: NAME.into() })
        );
        assert_eq!(m.stats().failed, 1);
        assert_eq!(
            m.resolve(t0, "host.example.com"),
            Err(ResolveError::NotLocal("host.example.com".into()))
        );
    }

    #[test]
    fn goodbyes_and_unusable_addresses_do_not_resolve_and_garbage_is_counted() {
        let t0 = Instant::now();
        let mut m = Mdns::new(MdnsConfig::default());
        m.resolve(t0, NAME).unwrap();
        let peer: SocketAddr = "10.9.0.2:5353".parse().unwrap();
        m.handle_datagram(peer, &answer(NAME, RecordData::A([10, 9, 0, 2].into()), 0));
        m.handle_datagram(
            peer,
            &answer(NAME, RecordData::A([224, 0, 0, 1].into()), 120),
        );
        m.handle_datagram(peer, &[0xff; 7]);
        m.handle_datagram(peer, &[0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xC0, 12]);
        assert_eq!(m.poll_event(), None);
        let s = m.stats();
        assert_eq!((s.ignored_records, s.malformed, s.resolved), (2, 2, 0));
    }

    #[test]
    fn queries_for_a_published_name_get_its_address_by_multicast_or_unicast() {
        let mut m = Mdns::new(MdnsConfig::default());
        let name = random_local_name([7; 16]);
        assert_eq!(name, "07070707-0707-4707-8707-070707070707.local");
        m.publish(&name, "10.9.0.1".parse().unwrap());
        m.publish(&name, "fd00::1".parse().unwrap());
        let query = |qtype, qu| {
            Message {
                questions: vec![Question {
                    name: name.to_uppercase(),
                    qtype,
                    unicast_response: qu,
                }],
                ..Message::default()
            }
            .emit()
            .unwrap()
        };
        let from: SocketAddr = "10.9.0.2:5353".parse().unwrap();
        m.handle_datagram(from, &query(RecordType::A, false));
        let t = m.poll_transmit().unwrap();
        assert_eq!(t.dst, MDNS_V4);
        let r = Message::parse(&t.payload).unwrap();
        assert!(r.response && r.questions.is_empty());
        assert_eq!(r.records.len(), 1);
        assert_eq!(r.records[0].data, RecordData::A([10, 9, 0, 1].into()));
        assert!(r.records[0].cache_flush);
        // "QU": unicast back; AAAA gets the IPv6 address.
        m.handle_datagram(from, &query(RecordType::AAAA, true));
        let t = m.poll_transmit().unwrap();
        assert_eq!(t.dst, from);
        assert_eq!(
            Message::parse(&t.payload).unwrap().records[0].data,
            RecordData::Aaaa("fd00::1".parse().unwrap())
        );
        // A legacy querier (another port) gets its question back.
        let legacy: SocketAddr = "10.9.0.2:40000".parse().unwrap();
        m.handle_datagram(legacy, &query(RecordType::ANY, false));
        let t = m.poll_transmit().unwrap();
        assert_eq!(t.dst, legacy);
        let r = Message::parse(&t.payload).unwrap();
        assert_eq!((r.questions.len(), r.records.len()), (1, 2));
        // Another name: no answer.
        m.unpublish(&name);
        m.handle_datagram(from, &query(RecordType::A, false));
        assert_eq!(m.poll_transmit(), None);
        assert_eq!(m.stats().queries_answered, 3);
    }
}

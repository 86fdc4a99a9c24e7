//! A NAT box (RFC 4787 terms): hosts behind it have private addresses; their
//! datagrams to the outside leave from the NAT's public address with a mapped
//! port, and answers come back in only as the filtering rule allows.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};

/// How the NAT chooses the public port for an inside endpoint (RFC 4787 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// One public port per inside endpoint, whatever the destination
    /// ("full cone" family): server-reflexive candidates work for every peer.
    EndpointIndependent,
    /// A public port per inside endpoint and destination IP address.
    AddressDependent,
    /// A public port per inside endpoint and destination address and port
    /// ("symmetric"): the STUN server sees another port than the peer does.
    AddressAndPortDependent,
}

/// Which outside endpoints may send in through a mapping (RFC 4787 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filtering {
    /// Anyone who knows the mapping.
    EndpointIndependent,
    /// Only IP addresses the inside endpoint has sent to.
    AddressDependent,
    /// Only address and port pairs the inside endpoint has sent to.
    AddressAndPortDependent,
}

/// A NAT's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatConfig {
    /// The outside address.
    pub public_ip: IpAddr,
    /// Port mapping behaviour.
    pub mapping: Mapping,
    /// Inbound filtering behaviour.
    pub filtering: Filtering,
    /// The first public port handed out.
    pub first_port: u16,
}

impl NatConfig {
    /// The common home NAT: endpoint-independent mapping with
    /// address-dependent filtering.
    pub fn home(public_ip: IpAddr) -> NatConfig {
        NatConfig {
            public_ip,
            mapping: Mapping::EndpointIndependent,
            filtering: Filtering::AddressDependent,
            first_port: 40_000,
        }
    }

    /// A symmetric NAT: address-and-port-dependent mapping and filtering.
    pub fn symmetric(public_ip: IpAddr) -> NatConfig {
        NatConfig {
            public_ip,
            mapping: Mapping::AddressAndPortDependent,
            filtering: Filtering::AddressAndPortDependent,
            first_port: 40_000,
        }
    }
}

#[derive(Debug, Clone)]
struct Binding {
    inside: SocketAddr,
    permitted: BTreeSet<SocketAddr>,
}

/// A NAT box's state.
#[derive(Debug, Clone)]
pub(crate) struct Nat {
    pub config: NatConfig,
    /// (inside endpoint, mapping key) → public port.
    out: BTreeMap<(SocketAddr, Option<SocketAddr>), u16>,
    /// public port → binding.
    back: BTreeMap<u16, Binding>,
    next_port: u16,
}

impl Nat {
    pub fn new(config: NatConfig) -> Nat {
        let next_port = config.first_port;
        Nat {
            config,
            out: BTreeMap::new(),
            back: BTreeMap::new(),
            next_port,
        }
    }

    /// Translates an outbound datagram's source, creating a mapping if
    /// needed. `None` when the NAT has run out of ports.
    pub fn outbound(&mut self, src: SocketAddr, dst: SocketAddr) -> Option<SocketAddr> {
        let key = match self.config.mapping {
            Mapping::EndpointIndependent => None,
            Mapping::AddressDependent => Some(SocketAddr::new(dst.ip(), 0)),
            Mapping::AddressAndPortDependent => Some(dst),
        };
        let port = match self.out.get(&(src, key)) {
            Some(&p) => p,
            None => {
                if self.next_port == u16::MAX {
                    return None;
                }
                let p = self.next_port;
                self.next_port += 1;
                self.out.insert((src, key), p);
                self.back.insert(
                    p,
                    Binding {
                        inside: src,
                        permitted: BTreeSet::new(),
                    },
                );
                p
            }
        };
        let permit = match self.config.filtering {
            Filtering::EndpointIndependent => SocketAddr::new(dst.ip(), 0),
            Filtering::AddressDependent => SocketAddr::new(dst.ip(), 0),
            Filtering::AddressAndPortDependent => dst,
        };
        if let Some(b) = self.back.get_mut(&port) {
            b.permitted.insert(permit);
        }
        Some(SocketAddr::new(self.config.public_ip, port))
    }

    /// Forgets every mapping, as a NAT that rebooted or moved its hosts to
    /// another uplink does: the next outbound datagrams get new public
    /// ports, and answers to the old ones are dropped.
    pub fn rebind(&mut self) {
        self.out.clear();
        self.back.clear();
    }

    /// Translates an inbound datagram's destination, if a mapping exists and
    /// the filter lets `src` in.
    pub fn inbound(&self, src: SocketAddr, dst: SocketAddr) -> Option<SocketAddr> {
        let b = self.back.get(&dst.port())?;
        let allowed = match self.config.filtering {
            Filtering::EndpointIndependent => true,
            Filtering::AddressDependent => b.permitted.contains(&SocketAddr::new(src.ip(), 0)),
            Filtering::AddressAndPortDependent => b.permitted.contains(&src),
        };
        allowed.then_some(b.inside)
    }
}

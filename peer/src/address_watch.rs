//! Noticing that the machine's addresses changed (an interface went down,
//! a new address came, a laptop moved to another network): the drivers
//! list the interface addresses every [`ADDRESS_POLL`] and compare with
//! what they bound ([`AddressWatch::update`]). A change makes them bind the
//! new addresses, add them as host candidates (RFC 8445 §5.1.1.1) and
//! restart ICE (§9), so media moves to a working pair without a new
//! connection.
//!
//! Polling `getifaddrs` once a second costs a few microseconds and needs no
//! netlink socket; an address change is noticed within a second, well
//! before consent freshness (RFC 7675 §5.1: 30 s) would give up the pair.

use std::net::IpAddr;
use std::time::Duration;

/// How often the drivers list the interface addresses.
pub const ADDRESS_POLL: Duration = Duration::from_secs(1);

/// Addresses that came and went between two listings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddressChange {
    /// New addresses, to bind and gather.
    pub added: Vec<IpAddr>,
    /// Addresses that are gone, whose sockets can be dropped.
    pub removed: Vec<IpAddr>,
}

/// The addresses known to be bound, compared with each new listing.
#[derive(Debug, Clone)]
pub struct AddressWatch {
    known: Vec<IpAddr>,
    loopback: bool,
}

impl AddressWatch {
    /// Watches from `bound`, the addresses gathered at the start;
    /// `loopback`: whether loopback addresses count.
    pub fn new(bound: &[IpAddr], loopback: bool) -> AddressWatch {
        let mut known: Vec<IpAddr> = bound
            .iter()
            .copied()
            .filter(|a| loopback || !a.is_loopback())
            .collect();
        known.sort();
        known.dedup();
        AddressWatch { known, loopback }
    }

    /// The addresses known now.
    pub fn known(&self) -> &[IpAddr] {
        &self.known
    }

    /// Takes a new listing; returns what changed, if anything. An empty
    /// listing (every interface down for a moment) is a change too: the
    /// old addresses are removed, and come back as added.
    pub fn update(&mut self, current: &[IpAddr]) -> Option<AddressChange> {
        let mut now: Vec<IpAddr> = current
            .iter()
            .copied()
            .filter(|a| self.loopback || !a.is_loopback())
            .collect();
        now.sort();
        now.dedup();
        let change = AddressChange {
            added: now
                .iter()
                .filter(|a| !self.known.contains(a))
                .copied()
                .collect(),
            removed: self
                .known
                .iter()
                .filter(|a| !now.contains(a))
                .copied()
                .collect(),
        };
        self.known = now;
        (!change.added.is_empty() || !change.removed.is_empty()).then_some(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(s: &[&str]) -> Vec<IpAddr> {
        s.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn an_address_replaced_by_another_is_one_change_of_both() {
        let mut w = AddressWatch::new(&ips(&["127.0.0.1", "10.77.0.1", "fd00::1"]), false);
        assert_eq!(w.known(), ips(&["10.77.0.1", "fd00::1"]));
        assert_eq!(w.update(&ips(&["fd00::1", "10.77.0.1", "127.0.0.1"])), None);
        assert_eq!(
            w.update(&ips(&["127.0.0.1", "10.77.0.9", "fd00::1"])),
            Some(AddressChange {
                added: ips(&["10.77.0.9"]),
                removed: ips(&["10.77.0.1"]),
            })
        );
        assert_eq!(w.update(&ips(&["10.77.0.9", "fd00::1"])), None);
        // Everything gone, then back.
        assert_eq!(w.update(&[]).unwrap().removed.len(), 2);
        assert_eq!(
            w.update(&ips(&["fd00::1"])).unwrap().added,
            ips(&["fd00::1"])
        );
    }

    #[test]
    fn loopback_counts_only_when_asked() {
        let mut w = AddressWatch::new(&ips(&["127.0.0.1"]), true);
        assert_eq!(
            w.update(&ips(&["::1"])),
            Some(AddressChange {
                added: ips(&["::1"]),
                removed: ips(&["127.0.0.1"]),
            })
        );
    }
}

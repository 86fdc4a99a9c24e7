//! A local interface address went away (the owner's interface watch saw
//! it removed): its candidates leave the agent.
//!
//! Host candidates are gathered from the interfaces the agent has
//! (RFC 8445 §5.1.1.1); when one of their addresses goes, nothing can be
//! sent from it or received on it any more. Neither ICE nor Trickle ICE
//! (RFC 8838) can tell the peer that a candidate is withdrawn: candidates
//! are only ever added within one ICE session. The way out is an ICE
//! restart (RFC 8445 §9), which starts a new session whose candidates the
//! agent signals afresh. So the gone address's candidates are removed from
//! the agent before the owner restarts: they are in no later offer nor
//! trickled, and no check or consent request is sent from them.
//!
//! Removed with the address: its host candidate, the server-reflexive and
//! peer-reflexive candidates whose base it is (RFC 8445 §5.1.1.2: they are
//! reached through that base), every pair on them with its pending checks
//! and consent requests (§6.1.2.4 prunes pairs whose base is redundant;
//! a pair whose base is gone is of no use either), and the selected pair
//! when it was one of them. Relayed candidates keep their allocations (see
//! [`IceAgent::remove_local_address`]).

use super::*;
use std::net::IpAddr;

impl IceAgent {
    /// Removes the candidates based on the local address `ip` (host,
    /// server-reflexive, peer-reflexive) and their pairs, checks and
    /// consent requests; returns how many candidates went. Call it when an
    /// interface address is gone, then restart ICE ([`IceAgent::restart`]):
    /// the candidates appear in no later offer nor trickle.
    ///
    /// If the selected pair was on the address, no pair is selected any
    /// more and a connected agent goes [`IceState::Disconnected`] (media
    /// has no path until the restart, or another valid pair, selects one).
    /// Relayed candidates are kept: their allocation may live on through
    /// a TURN server reached from another address.
    pub fn remove_local_address(&mut self, ip: IpAddr) -> usize {
        let gone = |l: &Local| l.base.ip() == ip && l.cand.kind != CandidateKind::Relayed;
        let removed = self.locals.iter().filter(|l| gone(l)).count();
        if removed == 0 {
            return 0;
        }
        // New indexes of the locals that stay.
        let mut local_map: Vec<Option<usize>> = Vec::with_capacity(self.locals.len());
        let mut next = 0;
        for l in &self.locals {
            if gone(l) {
                local_map.push(None);
            } else {
                local_map.push(Some(next));
                next += 1;
            }
        }
        self.locals.retain(|l| !gone(l));
        // New indexes of the pairs that stay.
        let mut pair_map: Vec<Option<usize>> = Vec::with_capacity(self.pairs.len());
        let mut kept = Vec::with_capacity(self.pairs.len());
        for p in std::mem::take(&mut self.pairs) {
            match local_map[p.local] {
                Some(li) => {
                    pair_map.push(Some(kept.len()));
                    kept.push(Pair { local: li, ..p });
                }
                None => pair_map.push(None),
            }
        }
        self.pairs = kept;
        self.triggered = std::mem::take(&mut self.triggered)
            .into_iter()
            .filter_map(|(p, nominate)| Some((pair_map[p]?, nominate)))
            .collect();
        self.txns.retain(|_, t| match &mut t.kind {
            TxnKind::Check { pair, .. } | TxnKind::Consent { pair } => match pair_map[*pair] {
                Some(p) => {
                    *pair = p;
                    true
                }
                None => false,
            },
            TxnKind::Gather { base, .. } => base.ip() != ip,
        });
        self.nominated = self.nominated.and_then(|p| pair_map[p]);
        if self.previous_path.is_some_and(|(l, _)| l.ip() == ip) {
            self.previous_path = None;
        }
        if let Some(p) = self.selected {
            self.selected = pair_map[p];
            if self.selected.is_none() {
                self.nominated = None;
                self.next_consent = None;
                self.last_consent = None;
                if matches!(self.state, IceState::Connected | IceState::Completed) {
                    self.set_state(IceState::Disconnected);
                }
            }
        }
        self.stats.local_candidates_removed += removed as u64;
        self.check_gathering_done();
        removed
    }
}

#[cfg(test)]
mod tests;

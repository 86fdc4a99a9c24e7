//! The node's statistics: [`MeshStats`] (per member and node-wide) and
//! [`MemberCounters`] (what one member asked of the node, and what was
//! refused), as [`MeshNode::stats`] gathers them.

use meshrtc_peer::PeerStats;

use super::MeshNode;

/// Per-member and node-wide statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct MeshStats {
    /// Our id, once joined.
    pub id: Option<String>,
    /// Each member: id, name, connection stats.
    pub members: Vec<(String, String, PeerStats)>,
    /// Bytes sent to all members (payload), for the upstream bitrate.
    pub bytes_sent: u64,
    /// The target bitrate the node asks of the encoder.
    pub target_bitrate: u32,
    /// Key frames requested of the encoder.
    pub keyframes_requested: u64,
    /// Of those, for a member whose connection had just come up.
    pub keyframes_urgent: u64,
    /// Key frame requests merged because their member had asked less than
    /// `keyframe_min_interval` before (all members, departed ones
    /// included).
    pub keyframe_requests_ignored: u64,
    /// Remote candidates refused because too many were queued before the
    /// member's description (all members, departed ones included).
    pub candidates_dropped: u64,
    /// What each current member asked of us (same order as `members`).
    pub member_counters: Vec<MemberCounters>,
    /// Members removed because their connection failed.
    pub members_failed: u64,
    /// The video layer each current member is sent (same order as
    /// `members`; 0 with one layer).
    pub member_layers: Vec<usize>,
    /// Each layer's encoder target ([`MeshNode::layer_targets`]).
    pub layer_targets: Vec<u32>,
    /// Members moved from one layer to another (at a key frame).
    pub layer_switches: u64,
    /// The shared uplink's estimated capacity ([`crate::uplink_budget`]),
    /// once the members' queues rose together.
    pub uplink_capacity: Option<u64>,
    /// Times the members' queues rose together (shared-bottleneck
    /// congestion events).
    pub shared_congestion_events: u64,
    /// What each current member may use of the uplink budget (same order
    /// as `members`; `None` without a budget or an estimate).
    pub member_shares: Vec<Option<u64>>,
    /// Times a coupled member's estimate was raised to its share of the
    /// uplink (RFC 8699 §5; see `node/uplink_shares.rs`).
    pub estimates_raised: u64,
    /// Signaling messages that did not fit (unknown sender, bad SDP).
    pub signaling_errors: u64,
    /// Renegotiations completed (offers answered and answers applied
    /// after the first negotiation of a connection).
    pub renegotiations: u64,
    /// Glare as the polite side: our offer rolled back for the member's.
    pub glare_rollbacks: u64,
    /// Glare as the impolite side: the member's crossing offer ignored.
    pub glare_ignored: u64,
    /// ICE restarts we asked for (a connection went Disconnected, or our
    /// addresses changed).
    pub ice_restarts: u64,
    /// Changes of our own addresses the owner reported
    /// ([`MeshNode::local_addresses_changed`]).
    pub address_changes: u64,
    /// Times our place in the room was taken back after the signaling
    /// connection dropped (`resume`, answered by a `welcome`).
    pub signaling_resumes: u64,
    /// URLs of the room's ICE servers (`welcome`) the node could not use
    /// (a host name, TCP or TLS transport, TURN without credentials; see
    /// [`crate::ice_servers`]).
    pub ice_servers_skipped: u64,
    /// `ice-servers` messages taken (renewed TURN credentials).
    pub ice_servers_renewed: u64,
}

/// What one member asked of the node, and what was refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberCounters {
    /// The member.
    pub id: String,
    /// Key frame requests (PLI/FIR) from the member that were taken.
    pub keyframe_requests: u64,
    /// Requests merged into the member's previous one: it had asked less
    /// than `keyframe_min_interval` before.
    pub keyframe_requests_ignored: u64,
    /// Its trickled candidates refused because too many were queued
    /// before its description.
    pub candidates_dropped: u64,
}

impl MeshNode {
    /// Per-member and node-wide statistics.
    pub fn stats(&self) -> MeshStats {
        let members: Vec<(String, String, PeerStats)> = self
            .members
            .values()
            .map(|m| (m.info.id.clone(), m.info.name.clone(), m.pc.stats()))
            .collect();
        let bytes_sent = members
            .iter()
            .flat_map(|(_, _, s)| s.outbound.iter().map(|o| o.bytes_sent))
            .sum();
        MeshStats {
            id: self.id.clone(),
            members,
            bytes_sent,
            target_bitrate: self.target_bitrate(),
            keyframes_requested: self.keyframes_requested,
            keyframes_urgent: self.keyframes_urgent,
            keyframe_requests_ignored: self.keyframe_requests_ignored,
            candidates_dropped: self.candidates_dropped,
            member_counters: self.members.values().map(|m| m.counters.clone()).collect(),
            members_failed: self.members_failed,
            member_layers: self.members.values().map(|m| m.layer).collect(),
            layer_targets: self.layer_targets(),
            layer_switches: self.layer_switches,
            uplink_capacity: self.budget.capacity(),
            shared_congestion_events: self.budget.events(),
            member_shares: self.members.values().map(|m| m.share).collect(),
            estimates_raised: self.estimate_raises,
            signaling_errors: self.signaling_errors,
            renegotiations: self.renegotiations,
            glare_rollbacks: self.glare_rollbacks,
            glare_ignored: self.glare_ignored,
            ice_restarts: self.ice_restarts,
            address_changes: self.address_changes,
            ice_servers_skipped: self.ice_servers_skipped,
            signaling_resumes: self.signaling_resumes,
            ice_servers_renewed: self.ice_servers_renewed,
        }
    }
}

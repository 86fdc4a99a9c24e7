//! The association's counters ([`Stats`]): packets, drops by reason
//! (malformed, checksum, verification tag §8.5, ports), data, SACKs,
//! retransmissions (§6.3, §7.2.4), partial reliability (RFC 3758),
//! I-DATA (RFC 8260) and protocol violations.

use super::Association;

/// Counters of what the association saw and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets handed to `handle_input`.
    pub packets_received: u64,
    /// Packets produced by `poll_transmit`.
    pub packets_sent: u64,
    /// Dropped: shorter than the header, chunk lengths that lie, malformed chunks.
    pub dropped_malformed: u64,
    /// Dropped: wrong CRC32c.
    pub dropped_bad_checksum: u64,
    /// Dropped: verification tag mismatch (§8.5).
    pub dropped_bad_tag: u64,
    /// Dropped: ports not the association's.
    pub dropped_bad_ports: u64,
    /// COOKIE ECHOs with a bad MAC, wrong tags or past their lifetime.
    pub bad_cookies: u64,
    /// Chunks that do not belong in the current state.
    pub unexpected_chunks: u64,
    /// Unknown chunk types seen.
    pub unknown_chunks: u64,
    /// DATA and I-DATA chunks received (including duplicates).
    pub data_chunks_received: u64,
    /// Whether I-DATA (RFC 8260 message interleaving) is in use: both
    /// INITs listed it.
    pub interleaving: bool,
    /// I-DATA chunks received (including duplicates and any that broke
    /// the negotiation).
    pub i_data_chunks_received: u64,
    /// I-DATA chunks sent (first transmissions and retransmissions).
    pub i_data_chunks_sent: u64,
    /// I-DATA fragments dropped for contradicting their message (an FSN
    /// past its last fragment, a second last fragment, a reused FSN).
    pub inconsistent_fragments: u64,
    /// Peers aborted for a protocol violation (the wrong one of DATA and
    /// I-DATA, or of FORWARD TSN and I-FORWARD-TSN, RFC 8260 §2.2).
    pub protocol_violations: u64,
    /// DATA chunks already received.
    pub duplicate_tsns: u64,
    /// DATA chunks dropped for a TSN out of the window, a full window or no data.
    pub data_dropped: u64,
    /// SACKs that acknowledged TSNs never sent.
    pub invalid_sacks: u64,
    /// DATA chunks retransmitted (T3 or fast).
    pub retransmissions: u64,
    /// Fast retransmit events (§7.2.4).
    pub fast_retransmits: u64,
    /// T3-rtx expiries.
    pub t3_expiries: u64,
    /// Messages abandoned by partial reliability.
    pub abandoned_messages: u64,
    /// FORWARD TSN (or, with I-DATA, I-FORWARD-TSN) chunks sent.
    pub forward_tsns_sent: u64,
    /// SACKs sent.
    pub sacks_sent: u64,
    /// Incoming messages dropped for exceeding
    /// [`Config::max_receive_message_size`](crate::Config::max_receive_message_size)
    /// (RFC 8841 §6.1).
    pub oversized_messages: u64,
    /// Packets that added data to the flight while it already filled the
    /// congestion window (§6.1 rule B forbids it, §7.2.4 excepts the one
    /// fast retransmission: not counted; stays 0).
    pub cwnd_overruns: u64,
}

impl Association {
    /// Counters.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        s.retransmissions = self.sender.retransmissions;
        s.abandoned_messages = self.sender.abandoned_messages;
        s.oversized_messages = self.receiver.as_ref().map_or(0, |r| {
            r.oversized_messages + r.interleaved.oversized_messages
        });
        s.interleaving = self.interleaving();
        s.inconsistent_fragments = self
            .receiver
            .as_ref()
            .map_or(0, |r| r.interleaved.inconsistent_fragments);
        s.i_data_chunks_sent = self.sender.i_data_chunks_sent;
        s
    }
}

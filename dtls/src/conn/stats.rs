//! [`DtlsStats`]: counters of what was received, sent and dropped.

/// Counters of what was received and sent, for stats and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DtlsStats {
    /// Datagrams handed to [`Dtls::handle_datagram`].
    pub datagrams_received: u64,
    /// Records accepted (authenticated when protected).
    pub records_received: u64,
    /// Datagrams or their tails dropped because the record framing broke.
    pub malformed: u64,
    /// Protected records that failed authentication (dropped, §4.1.2.7).
    pub bad_mac: u64,
    /// Records dropped as replays (§4.1.2.6).
    pub replayed: u64,
    /// Records dropped for their epoch (stale, or too far ahead).
    pub wrong_epoch: u64,
    /// Handshake fragments dropped as malformed, too long, of a type not
    /// expected, or in the wrong epoch.
    pub bad_fragments: u64,
    /// Handshake fragments dropped for their `message_seq`: too far ahead,
    /// or a ClientHello number the server did not ask for (RFC 6347
    /// §4.2.2: 0, or 1 after a HelloVerifyRequest).
    pub unexpected_seq: u64,
    /// Handshake fragments whose type or length disagreed with what was
    /// held for their `message_seq`: dropped when that message was
    /// complete, replacing it when it was not.
    pub conflicting_fragments: u64,
    /// Fragments dropped at the reassembly caps
    /// ([`crate::handshake::MAX_RANGES`] ranges per message,
    /// [`crate::handshake::MAX_PARTIALS`] incomplete messages).
    pub fragments_over_cap: u64,
    /// Incomplete messages discarded to make room for one nearer the
    /// message expected next.
    pub partials_evicted: u64,
    /// Reassembled handshake messages dropped because their body did not
    /// decode; the peer's retransmission is awaited instead.
    pub undecodable_messages: u64,
    /// Handshake fragments after the handshake ended, ignored (a repeat
    /// of the peer's final flight still makes us resend ours, §4.2.4).
    pub late_handshake: u64,
    /// Unauthenticated (epoch 0) alerts, ignored; the last one before the
    /// handshake ends is named if it then fails.
    pub plaintext_alerts: u64,
    /// Reassembly work: held messages scanned plus byte ranges visited,
    /// a constant per fragment at most (linear in input).
    pub reassembly_work: u64,
    /// The most byte ranges one message was held in at once.
    pub reassembly_peak_ranges: u64,
    /// The most incomplete messages held at once.
    pub reassembly_peak_partials: u64,
    /// Flights sent, first transmissions.
    pub flights_sent: u64,
    /// Flight retransmissions (timer and peer-triggered).
    pub retransmissions: u64,
    /// Datagrams handed out by [`Dtls::poll_transmit`].
    pub datagrams_sent: u64,
    /// Bytes of those datagrams.
    pub bytes_sent: u64,
    /// HelloVerifyRequests sent (server) or received (client).
    pub hello_verify_requests: u64,
}

//! getStats-like counters: [`PeerStats`] and the per-stream statistics.

use super::*;

/// Statistics of one outgoing stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutboundStats {
    /// The m-line.
    pub mid: String,
    /// `audio` or `video`.
    pub kind: String,
    /// Our SSRC.
    pub ssrc: u32,
    /// Packets sent (retransmissions excluded).
    pub packets_sent: u64,
    /// Payload bytes sent.
    pub bytes_sent: u64,
    /// Frames sent.
    pub frames_sent: u64,
    /// Key frames sent.
    pub keyframes_sent: u64,
    /// Packets retransmitted after NACKs.
    pub retransmitted: u64,
    /// NACK packets received.
    pub nacks_received: u64,
    /// Media packets the pacer's queue refused (full).
    pub pacer_dropped: u64,
    /// Packets asked for by NACK and not resent: no RTX was negotiated
    /// (a resend would reuse an SRTP index for other bytes), or the
    /// retransmission budget was spent.
    pub retransmissions_refused: u64,
    /// PLI and FIR received.
    pub plis_received: u64,
    /// Round-trip time from the last report block.
    pub rtt_ms: Option<f64>,
    /// Fraction lost from the last report block (0..1).
    pub fraction_lost: f64,
    /// Cumulative loss the peer reported.
    pub packets_lost: i64,
}

/// Statistics of one incoming stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InboundStats {
    /// The m-line.
    pub mid: String,
    /// `audio` or `video`.
    pub kind: String,
    /// The sender's SSRC.
    pub ssrc: u32,
    /// Packets received (RTX included).
    pub packets_received: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Frames handed out.
    pub frames_received: u64,
    /// Key frames handed out.
    pub keyframes_received: u64,
    /// Packets expected but not received (RFC 3550 A.3).
    pub packets_lost: i64,
    /// Interarrival jitter in seconds.
    pub jitter: f64,
    /// NACK packets sent.
    pub nacks_sent: u64,
    /// PLI packets sent.
    pub plis_sent: u64,
    /// Packets that came as RTX.
    pub rtx_received: u64,
    /// Frames the reassembly gave up on.
    pub frames_dropped: u64,
    /// Lost packets NACKs recovered (through RTX or late).
    pub nack_recovered: u64,
    /// Lost packets given up after the NACK generator's retries or age:
    /// each costs the frames after it until a key frame.
    pub nack_given_up: u64,
}

/// A getStats-like snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerStats {
    /// Overall state.
    pub state: ConnectionState,
    /// ICE state.
    pub ice_state: IceState,
    /// The selected pair (local, remote).
    pub selected_pair: Option<(SocketAddr, SocketAddr)>,
    /// Whether our ICE agent is controlling (RFC 8445 §6.1.1: the
    /// offerer's is), once there is an agent.
    pub ice_controlling: Option<bool>,
    /// Our DTLS role, once known.
    pub dtls_role: Option<&'static str>,
    /// "DTLS 1.2" or "DTLS 1.3" once connected.
    pub dtls_version: Option<&'static str>,
    /// The cipher suite's IANA name.
    pub dtls_cipher: Option<&'static str>,
    /// The key exchange group's IANA name ("x25519", "X25519MLKEM768").
    pub dtls_group: Option<&'static str>,
    /// The SRTP profile's name.
    pub srtp_profile: Option<&'static str>,
    /// Outgoing streams.
    pub outbound: Vec<OutboundStats>,
    /// Incoming streams.
    pub inbound: Vec<InboundStats>,
    /// SRTP or SRTCP packets that failed authentication or replay checks.
    pub srtp_errors: u64,
    /// RTP packets no m-line could take.
    pub unroutable: u64,
    /// Datagrams of no known protocol, or malformed.
    pub malformed: u64,
    /// Datagrams dropped because they came too early: before the ICE
    /// agent (over its bounds), SRTP/SRTCP before our SRTP keys or SCTP
    /// before our association over their bounds or never readable.
    pub early_dropped: u64,
    /// SRTP/SRTCP held for our SRTP keys and SCTP packets held for our
    /// association (DTLS 1.3: the client's first packets can overtake its
    /// Finished), read once those existed.
    pub early_held: u64,
    /// DTLS, SRTP and SRTCP dropped because they came over no path ICE
    /// validated (a spoofed source), or overflowed the DTLS held while
    /// their pair was being checked.
    pub unvalidated_dropped: u64,
    /// Trickled remote candidates refused because the queue before the
    /// remote description was full (count or bytes).
    pub remote_candidates_dropped: u64,
    /// The DTLS 1.2 handshake's counters (drops of hostile input
    /// included), when 1.2 runs.
    pub dtls: Option<meshrtc_dtls::DtlsStats>,
    /// The DTLS 1.3 counters (records refused, plaintext dropped), when
    /// 1.3 runs.
    pub dtls13: Option<meshrtc_dtls::v13::Dtls13Stats>,
    /// transport-cc feedback packets we sent (for what we receive).
    pub transport_feedbacks_sent: u64,
    /// transport-cc feedback packets the peer sent us.
    pub transport_feedbacks_received: u64,
    /// The last REMB estimate the peer sent (bits per second).
    pub remote_remb_bps: Option<u64>,
    /// The send-side estimator, once transport-cc is negotiated.
    pub congestion: Option<meshrtc_cc::CcState>,
    /// What the video encoder may be asked for of the media target
    /// ([`PeerConnection::video_budget_of`] of
    /// [`PeerConnection::target_bitrate`], audio counted if sent), once
    /// transport-cc is negotiated. An encoder that overshoots is asked for
    /// less ([`meshrtc_cc::EncoderOvershoot`]).
    pub video_budget: Option<u64>,
    /// The pacer's counters, once transport-cc is negotiated. Its padding
    /// bytes are those it asked for: `padding_sent` of them were sent.
    pub pacer: Option<meshrtc_cc::PacerStats>,
    /// Padding packets the pacer asked for (probes, the padding rate) and
    /// we did not build: no video stream with RTX to carry them.
    pub padding_not_sent: u64,
    /// Padding packets sent on the video RTX stream: RTX copies of recent
    /// packets, or padding bytes alone.
    pub padding_sent: u64,
    /// ICE restarts, ours and the peer's ([`PeerConnection::restart_ice`]).
    pub ice_restarts: u64,
    /// Offers of ours rolled back because the peer's offer crossed them
    /// ([`PeerConnection::set_remote_offer_with_rollback`]).
    pub implicit_rollbacks: u64,
    /// Data channels: open, on their way, and the last that closed
    /// ([`PeerConnection::data_channel_stats`]).
    pub data_channels: Vec<super::DataChannelStats>,
    /// The SCTP association's counters, once it started.
    pub sctp: Option<meshrtc_sctp::Stats>,
    /// SCTP packets that did not parse or came before the association.
    pub sctp_errors: u64,
}

impl PeerConnection {
    /// A getStats-like snapshot.
    pub fn stats(&self) -> PeerStats {
        let c = self.dtls_connected.as_deref();
        PeerStats {
            state: self.state,
            ice_state: self.ice_state,
            selected_pair: self.selected,
            ice_controlling: self.ice.as_ref().map(|i| i.is_controlling()),
            dtls_role: self.dtls_role.map(|r| match r {
                DtlsRole::Client => "client",
                DtlsRole::Server => "server",
            }),
            dtls_version: c.map(|c| match c.version {
                meshrtc_dtls::record::DTLS1_3 => "DTLS 1.3",
                _ => "DTLS 1.2",
            }),
            dtls_cipher: c.map(|c| c.cipher),
            dtls_group: c.map(|c| c.group),
            srtp_profile: c
                .and_then(|c| c.srtp.as_ref())
                .and_then(|k| srtp::Profile::from_dtls_id(k.profile.0))
                .map(|p| p.name()),
            outbound: self.senders.iter().map(|s| s.stats.clone()).collect(),
            inbound: self
                .receivers
                .iter()
                .map(|r| {
                    let mut o = r.out.clone();
                    o.packets_lost =
                        r.stats.packets_expected() as i64 - r.stats.packets_received() as i64;
                    o.jitter = f64::from(r.stats.jitter()) / f64::from(r.clock.max(1));
                    if let Some(n) = &r.nack {
                        o.nack_recovered = n.stats().recovered;
                        o.nack_given_up = n.stats().given_up;
                    }
                    o
                })
                .collect(),
            srtp_errors: self.srtp_errors,
            unroutable: self.unroutable,
            malformed: self.malformed,
            early_dropped: self.early_dropped + self.early_srtp.dropped + self.early_sctp.dropped,
            early_held: self.early_srtp.held + self.early_sctp.held,
            ice_restarts: self.ice_restarts,
            implicit_rollbacks: self.implicit_rollbacks,
            unvalidated_dropped: self.unvalidated_dropped,
            remote_candidates_dropped: self.remote_candidates_dropped,
            dtls: match self.dtls.as_ref().map(AnyDtls::stats) {
                Some(meshrtc_dtls::v13::AnyStats::V12(s)) => Some(s),
                _ => None,
            },
            dtls13: match self.dtls.as_ref().map(AnyDtls::stats) {
                Some(meshrtc_dtls::v13::AnyStats::V13(s)) => Some(s),
                _ => None,
            },
            transport_feedbacks_sent: self.transport_feedbacks_sent,
            transport_feedbacks_received: self.transport_feedbacks_received,
            remote_remb_bps: self.remote_remb_bps,
            congestion: self.cc.as_ref().map(|c| c.controller.state()),
            video_budget: self.target_bitrate().map(|t| {
                let audio = self.senders.iter().any(|s| s.kind == MediaKind::Audio);
                self.video_budget_of(t, audio)
            }),
            pacer: self.cc.as_ref().map(|c| c.pacer.stats()),
            padding_not_sent: self.cc.as_ref().map_or(0, |c| c.padding_skipped),
            padding_sent: self.cc.as_ref().map_or(0, |c| c.padding_sent),
            data_channels: self.data_channel_stats(),
            sctp: self.sctp_stats(),
            sctp_errors: self.data.sctp_errors,
        }
    }
}

//! Congestion control on one connection, both halves of transport-wide
//! congestion control (draft-holmer-rmcat-transport-wide-cc-extensions-01):
//!
//! - Receiving: the arrival of every transport-wide sequence number is
//!   recorded and reported in transport-cc feedback, so that the peer
//!   (Chromium, Firefox, another meshrtc) runs its send-side estimator on
//!   what we receive.
//! - Sending: every RTP packet (audio, video, RTX) goes through the pacer
//!   ([`meshrtc_cc::Pacer`]); the transport-wide sequence number is written
//!   into the packet when it leaves the pacer, so the numbers follow the
//!   order on the wire, and the packet is reported to the estimator
//!   ([`meshrtc_cc::CongestionController`], draft-ietf-rmcat-gcc-02) whose
//!   target the owner reads with [`PeerConnection::target_bitrate`]. The
//!   peer's feedback, report-block RTTs and REMB feed the estimator.
//!   Retransmissions spend a budget (a share of the media bytes sent in
//!   the last second), so a hostile NACK storm cannot multiply the uplink.

use super::*;
use meshrtc_cc::{
    CongestionController, Pacer, PacketClass as PaceClass, PacketResult, Payload, SendMix,
    SentPacket,
};
use meshrtc_rtp::session::Padding;

/// What an Opus stream at 32 kbit/s takes of a connection's estimate on the
/// wire: 50 packets a second of about 80 payload bytes, 12 of RTP header,
/// 12 of header extensions (MID, transport-wide number), a 16-byte SRTP tag
/// and 28 of UDP/IPv4: 148 bytes × 50 × 8 ≈ 60 kbit/s.
pub const AUDIO_ALLOWANCE: u64 = 60_000;

/// Share of what is left for video that its encoder is asked for before
/// anything is measured ([`PeerConnection::video_budget_of`] measures):
/// libvpx's rate control overshoots its target by up to 15%
/// (`rc_overshoot_pct`), and each packet's RTP, SRTP and UDP/IP overhead
/// comes on top. Measured with Chromium receiving through a full 500
/// kbit/s link: asking for the whole remainder kept a cycling queue
/// (jitter-buffer delay p95 181 ms), 85% of it kept the delay at 15 ms at
/// the same 30 fps.
pub const VIDEO_ENCODER_SHARE: f64 = 0.85;

/// The bitrate to ask of a video encoder for a connection whose send-side
/// estimate is `estimate_bps` (everything it sends), audio included or
/// not, from the fixed allowances: what a connection uses until it has
/// measured its own mix ([`PeerConnection::video_budget_of`]).
pub fn video_encoder_target(estimate_bps: u64, with_audio: bool) -> u64 {
    let rest = estimate_bps.saturating_sub(if with_audio { AUDIO_ALLOWANCE } else { 0 });
    (rest as f64 * VIDEO_ENCODER_SHARE) as u64
}

/// SRTP tag (16 for GCM; 10 for HMAC-SHA1-80) and IPv4 + UDP headers: what
/// a packet weighs on the link beyond its RTP bytes.
const WIRE_OVERHEAD: usize = 16 + 28;

/// The send-side estimator and pacer of one connection.
pub(super) struct Congestion {
    pub(super) controller: CongestionController,
    pub(super) pacer: Pacer<Vec<u8>>,
    /// The next transport-wide sequence number, unwrapped.
    next_seq: u64,
    /// Padding the pacer asked for and we did not send (no video stream
    /// with RTX to carry it).
    pub(super) padding_skipped: u64,
    /// Padding packets sent (RTX copies of recent packets, or padding
    /// alone).
    pub(super) padding_sent: u64,
    /// Audio, video and overhead as they left, against the encoded video.
    pub(super) mix: SendMix,
}

impl Congestion {
    /// A packet leaves: it takes the next transport-wide sequence number
    /// (written into its extension, so numbers follow the wire order) and
    /// the estimator learns of it.
    fn stamp(
        &mut self,
        now: Instant,
        mut item: Vec<u8>,
        twcc_ext: Option<u8>,
        probe_cluster: Option<u32>,
    ) -> Vec<u8> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let range = twcc_ext.and_then(|id| {
            RtpPacket::parse(&item)
                .ok()
                .and_then(|p| p.extension_range(id))
        });
        if let Some(r) = range.filter(|r| r.len() == 2) {
            item[r].copy_from_slice(&(seq as u16).to_be_bytes());
        }
        self.controller.on_packet_sent(SentPacket {
            seq,
            size: item.len() + WIRE_OVERHEAD,
            sent_at: now,
            probe_cluster,
        });
        item
    }

    pub(super) fn new(config: &PeerConfig) -> Congestion {
        let controller = CongestionController::new(config.bitrate);
        let mut pacer = Pacer::new(config.pacer);
        pacer.set_rates(controller.pacing_rate(), controller.padding_rate());
        Congestion {
            controller,
            pacer,
            next_seq: 1,
            padding_skipped: 0,
            padding_sent: 0,
            mix: SendMix::default(),
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        match (self.controller.poll_timeout(), self.pacer.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Receiver-clock arrival of a feedback entry as the estimator wants it: a
/// non-negative offset (the 24-bit reference time is signed, §3.1).
fn arrival(us: i64) -> Duration {
    const WRAP_US: i64 = (1 << 24) * 64_000;
    Duration::from_micros(us.rem_euclid(WRAP_US) as u64)
}

impl PeerConnection {
    /// Records the arrival of a packet's transport-wide sequence number.
    pub(super) fn on_transport_seq(&mut self, now: Instant, p: &RtpPacket<'_>) {
        let (Some(id), Some(rec)) = (self.twcc_ext, &mut self.twcc_rx) else {
            return;
        };
        if let Some(seq) = p
            .extension_by_id(id)
            .and_then(|d| meshrtc_rtp::ext::TransportSeq::parse(d).ok())
        {
            rec.on_packet(now, seq.0);
        }
    }

    /// Starts the estimator and the pacer once transport-cc is negotiated
    /// and we send something.
    pub(super) fn ensure_congestion(&mut self) {
        if self.cc.is_none() && self.twcc_ext.is_some() && !self.senders.is_empty() {
            self.cc = Some(Box::new(Congestion::new(&self.config)));
        }
    }

    /// What the owner's encoders should aim at, audio included (bits per
    /// second), once transport-cc is negotiated: the send-side estimate
    /// ([`PeerConnection::estimated_bitrate`]), less the data channels'
    /// guaranteed share ([`crate::DATA_MIN_SHARE`]) while data is queued
    /// or in flight (see `data_share.rs`).
    pub fn target_bitrate(&self) -> Option<u64> {
        Some(self.media_part_of(self.estimated_bitrate()?))
    }

    /// The part of `bps` (a rate for everything this connection sends) the
    /// media may use: all of it, or less the data channels' guaranteed
    /// share while data is queued or in flight. A mesh node applies it to
    /// a member's share of the uplink as to the estimate.
    pub fn media_part_of(&self, bps: u64) -> u64 {
        if self.data_pending() {
            super::data_share::DataShare::media_target(bps)
        } else {
            bps
        }
    }

    /// What a video encoder may be asked for of `bps` (a rate for all the
    /// media this connection sends, as [`PeerConnection::target_bitrate`]
    /// or a share of an uplink): `bps` less the audio's rate on the wire,
    /// over the wire bytes per encoded video byte (headers, SRTP tag,
    /// UDP/IP, retransmissions), both measured on the last one to two
    /// seconds of what left ([`meshrtc_cc::SendMix`]). Until measured, and
    /// without transport-cc, the fixed allowances of
    /// [`video_encoder_target`] (`with_audio`: whether audio is sent). An
    /// encoder that overshoots needs this divided by its overshoot
    /// ([`meshrtc_cc::EncoderOvershoot`]).
    pub fn video_budget_of(&self, bps: u64, with_audio: bool) -> u64 {
        self.cc
            .as_ref()
            .and_then(|c| c.mix.video_budget(bps))
            .unwrap_or_else(|| video_encoder_target(bps, with_audio))
    }

    /// The send-side estimate for everything this connection sends (bits
    /// per second, media and data), once transport-cc is negotiated.
    pub fn estimated_bitrate(&self) -> Option<u64> {
        self.cc.as_ref().map(|c| c.controller.target_bitrate())
    }

    /// Raises the send-side estimate to `bps` if it is lower (a mesh node
    /// handing a connection its share of a shared uplink, RFC 8699 §5; see
    /// `meshrtc_cc::CongestionController::raise_estimate`). No effect
    /// before transport-cc runs.
    pub fn raise_estimate(&mut self, now: Instant, bps: u64) {
        if let Some(cc) = self.cc.as_mut() {
            cc.controller.raise_estimate(now, bps);
        }
    }

    /// Tells the estimator whether this connection shares its bottleneck
    /// with the owner's other connections (a mesh node's coupled flows;
    /// see `meshrtc_cc::CongestionController::set_shared_bottleneck`). No
    /// effect before transport-cc runs.
    pub fn set_shared_bottleneck(&mut self, shared: bool) {
        if let Some(cc) = self.cc.as_mut() {
            cc.controller.set_shared_bottleneck(shared);
        }
    }

    /// Tells the estimator whether the owner sends other connections that
    /// may share this one's bottleneck (a mesh node's other members; see
    /// `meshrtc_cc::CongestionController::set_other_flows`). No effect
    /// before transport-cc runs.
    pub fn set_other_flows(&mut self, others: bool) {
        if let Some(cc) = self.cc.as_mut() {
            cc.controller.set_other_flows(others);
        }
    }

    /// A snapshot of the send-side estimator (delay verdict, queuing
    /// delay, acknowledged bitrate, ...), once transport-cc is negotiated.
    /// Cheaper than [`PeerConnection::stats`]: nothing is allocated.
    pub fn congestion_state(&self) -> Option<meshrtc_cc::CcState> {
        self.cc.as_ref().map(|c| c.controller.state())
    }

    /// Hands an RTP packet (unprotected) to the pacer, or straight to SRTP
    /// without congestion control. `false` if the pacer refused it (the
    /// retransmission budget is spent, or its queue is full).
    pub(super) fn send_rtp(&mut self, now: Instant, class: PaceClass, packet: Vec<u8>) -> bool {
        match &mut self.cc {
            Some(cc) => cc.pacer.enqueue(now, class, packet.len(), packet).is_ok(),
            None => {
                self.send_protected_rtp(packet);
                true
            }
        }
    }

    /// Runs the estimator's timers and releases what the pacer allows:
    /// each packet gets its transport-wide sequence number, is reported to
    /// the estimator, then protected and sent.
    pub(super) fn run_pacer(&mut self, now: Instant) {
        let twcc_ext = self.twcc_ext;
        // Taken out for the loop, so that each released packet is protected
        // and queued as it leaves, with no list in between.
        let Some(mut cc) = self.cc.take() else {
            return;
        };
        cc.controller.handle_timeout(now);
        if let Some(p) = cc.controller.poll_probe() {
            cc.pacer.start_probe(p);
        }
        cc.pacer
            .set_rates(cc.controller.pacing_rate(), cc.controller.padding_rate());
        while let Some(release) = cc.pacer.poll_send(now) {
            let cluster = release.probe_cluster;
            match release.payload {
                Payload::Media { item, class } => {
                    cc.mix.on_sent(now, class, item.len() + WIRE_OVERHEAD);
                    let item = cc.stamp(now, item, twcc_ext, cluster);
                    self.spend_data_budget(item.len() + WIRE_OVERHEAD);
                    self.send_protected_rtp(item);
                }
                Payload::Padding { size } => {
                    let packets = self.padding_packets(now, size);
                    if packets.is_empty() {
                        cc.padding_skipped += 1;
                    }
                    for item in packets {
                        cc.padding_sent += 1;
                        let item = cc.stamp(now, item, twcc_ext, cluster);
                        self.spend_data_budget(item.len() + WIRE_OVERHEAD);
                        self.send_protected_rtp(item);
                    }
                }
            }
        }
        self.cc = Some(cc);
    }

    /// Packets of about `size` bytes on the wire in all for the pacer's
    /// padding (probes, the padding rate), on the RTX stream of the first
    /// video sender that has one and has sent media: RTX copies of recent
    /// packets that fit, or RTX packets of padding bytes alone (RFC 3550
    /// §5.1: at most 255 each). Empty without such a stream: padding on a
    /// media stream would take its sequence numbers, and without RTX no
    /// resend may reuse an SRTP index; before the first media packet the
    /// receiver could not route the RTX stream yet.
    fn padding_packets(&mut self, now: Instant, size: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let Some(s) = self.senders.iter_mut().find(|s| {
            s.kind == MediaKind::Video
                && s.has_rtx
                && s.buffer.as_ref().is_some_and(|b| b.stats().stored > 0)
        }) else {
            return out;
        };
        let template: RtpHeader = s.stream.header().clone();
        let overhead = WIRE_OVERHEAD + template.header_len();
        let mut remaining = size;
        // A few packets at most per request: the pacer asks again.
        while remaining > overhead + 16 && out.len() < 8 {
            let room = remaining - overhead;
            let mut header = template.clone();
            let mut packet = Vec::new();
            let Some(b) = s.buffer.as_mut() else { break };
            let written = match b.poll_padding(now, room) {
                Some(Padding::Resend(r)) => r.write(&mut header, &mut packet).is_ok(),
                Some(Padding::Empty {
                    ssrc,
                    payload_type,
                    sequence_number,
                    timestamp,
                }) => {
                    header.ssrc = ssrc;
                    header.payload_type = payload_type;
                    header.sequence_number = sequence_number;
                    header.timestamp = timestamp;
                    header.marker = false;
                    let padding = room.clamp(1, 255) as u8;
                    header.write_parts(&[], padding, &mut packet).is_ok()
                }
                None => false,
            };
            if !written {
                break;
            }
            remaining = remaining.saturating_sub(packet.len() + WIRE_OVERHEAD);
            out.push(packet);
        }
        out
    }

    /// The peer's transport-cc feedback on what we sent.
    pub(super) fn on_transport_feedback(&mut self, now: Instant, fb: &TransportCc<'_>) {
        self.transport_feedbacks_received += 1;
        let Some(cc) = &mut self.cc else {
            return;
        };
        // Numbers are unwrapped around the last one sent: feedback only
        // speaks of packets already sent.
        let reference = cc.next_seq.saturating_sub(1);
        let results: Vec<PacketResult> = fb
            .packets()
            .map(|p| PacketResult {
                seq: meshrtc_rtp::extend_near(reference, p.seq),
                arrival: p.arrival_us.map(arrival),
            })
            .filter(|r| r.seq < cc.next_seq)
            .collect();
        cc.controller.on_feedback(now, &results);
        self.run_pacer(now);
    }

    /// A round-trip time measured from RTCP report blocks.
    pub(super) fn on_rtt_sample(&mut self, now: Instant, rtt: Duration) {
        if let Some(cc) = &mut self.cc {
            cc.controller.on_rtt(now, rtt);
        }
    }

    /// The peer's REMB estimate (a cap on what we send).
    pub(super) fn on_remb(&mut self, now: Instant, bps: u64) {
        self.remote_remb_bps = Some(bps);
        if let Some(cc) = &mut self.cc {
            cc.controller.on_remb(now, bps);
        }
    }

    /// Sends the transport-cc feedback that is due (every
    /// [`TwccConfig::interval`](meshrtc_rtp::session::TwccConfig), §3.1).
    pub(super) fn send_transport_feedback(&mut self, now: Instant) {
        if self.srtp_tx.is_none() {
            return;
        }
        let Some(rec) = &mut self.twcc_rx else {
            return;
        };
        if rec.poll_timeout().is_none_or(|t| t > now) {
            return;
        }
        // The media source is any SSRC of the peer's (the numbers are
        // transport-wide); the first receive stream, or 0 before one.
        let media_ssrc = self.receivers.first().map_or(0, |r| r.ssrc);
        let mut packets = Vec::new();
        while let Some(fb) = rec.build_feedback(now, self.local_ssrc, media_ssrc) {
            let mut buf = Vec::new();
            if RtcpPacket::TransportCc(fb).write_to(&mut buf).is_ok() {
                packets.push(buf);
            }
        }
        self.transport_feedbacks_sent += packets.len() as u64;
        for p in packets {
            self.send_protected_rtcp(p);
        }
    }
}

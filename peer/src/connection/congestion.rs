//! Transport-wide congestion control feedback
//! (draft-holmer-rmcat-transport-wide-cc-extensions-01): on the receive
//! side, the arrival of every transport-wide sequence number is recorded
//! and reported in transport-cc feedback, so that the peer (Chromium,
//! Firefox, another meshrtc) can run its send-side estimator on what we
//! receive.

use super::*;

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

    /// The peer's transport-cc feedback on what we sent.
    pub(super) fn on_transport_feedback(&mut self, _now: Instant, _fb: &TransportCc<'_>) {
        self.transport_feedbacks_received += 1;
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

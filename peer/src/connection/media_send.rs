//! Sending media: frames stamped per connection, key frame requests and
//! retransmission on NACK (RFC 4585, RFC 4588).

use super::*;

impl PeerConnection {
    /// Sends a frame packetized once (shared by every connection of a mesh
    /// node) on the m-line `mid`: this connection's SSRC, sequence
    /// numbers, payload type, timestamp offset and header extensions are
    /// stamped around the shared payloads, then SRTP-protected.
    pub fn send_frame(
        &mut self,
        now: Instant,
        mid: &str,
        frame: &PacketizedFrame,
    ) -> Result<(), PeerError> {
        self.check_open()?;
        let i = self
            .senders
            .iter()
            .position(|s| s.mid == mid)
            .ok_or_else(|| PeerError::UnknownMid(mid.to_string()))?;
        if !self.is_connected() {
            return Err(PeerError::NotConnected);
        }
        if frame.kind == MediaKind::Video {
            if let Some(cc) = &mut self.cc {
                cc.mix.on_video_encoded(now, frame.data.len());
            }
        }
        let n = frame.payloads.len();
        for p in 0..n {
            let Some(parts) = frame.parts(p) else {
                continue;
            };
            // With a pacer the number is written when the packet leaves it.
            if self.cc.is_none() {
                self.transport_seq = self.transport_seq.wrapping_add(1);
            }
            let s = &mut self.senders[i];
            let ts = frame.rtp_time.wrapping_add(s.ts_offset);
            let marker = s.kind == MediaKind::Video && p + 1 == n;
            let mut out = Vec::with_capacity(64 + parts[0].len() + parts[1].len());
            let Ok(seq) = s
                .stream
                .write(ts, marker, self.transport_seq, &parts, &mut out)
            else {
                continue;
            };
            if let Some(b) = &mut s.buffer {
                let _ = b.on_packet_sent(now, seq, ts, marker, &parts);
            }
            let len = parts[0].len() + parts[1].len();
            s.sender.on_packet_sent(now, ts, len);
            s.stats.packets_sent += 1;
            s.stats.bytes_sent += len as u64;
            let class = match s.kind {
                MediaKind::Audio => PaceClass::Audio,
                // No sender is ever made for the data m-line.
                MediaKind::Video | MediaKind::Application => PaceClass::Video,
            };
            if !self.send_rtp(now, class, out) {
                self.senders[i].stats.pacer_dropped += 1;
            }
        }
        let s = &mut self.senders[i];
        s.stats.frames_sent += 1;
        s.stats.keyframes_sent += u64::from(frame.keyframe);
        self.run_pacer(now);
        Ok(())
    }

    /// Convenience: packetizes and sends a whole encoded frame (VP8 frame
    /// or Opus packet) on `mid`.
    pub fn send_encoded(
        &mut self,
        now: Instant,
        mid: &str,
        packetizer: &mut meshrtc_rtp::vp8::Vp8Packetizer,
        data: &[u8],
        rtp_time: u32,
    ) -> Result<(), PeerError> {
        let kind = self
            .senders
            .iter()
            .find(|s| s.mid == mid)
            .map(|s| s.kind)
            .ok_or_else(|| PeerError::UnknownMid(mid.to_string()))?;
        let frame = match kind {
            MediaKind::Video => PacketizedFrame::vp8(
                packetizer,
                data.into(),
                rtp_time,
                self.config.mtu.saturating_sub(100),
            )
            .map_err(|_| PeerError::NotConnected)?,
            MediaKind::Audio => PacketizedFrame::opus(data.into(), rtp_time),
            MediaKind::Application => return Err(PeerError::UnknownMid(mid.to_string())),
        };
        self.send_frame(now, mid, &frame)
    }

    /// Asks the peer for a key frame on the m-line `mid` (PLI).
    pub fn request_keyframe(&mut self, now: Instant, mid: &str) {
        tracing::debug!(mid, "key frame requested by the application");
        for r in self.receivers.iter_mut().filter(|r| r.mid == mid) {
            if let Some(k) = &mut r.keyframes {
                k.request(now);
            }
        }
        self.send_feedback(now);
    }

    // ----- receiving -----

    pub(super) fn on_nack(&mut self, now: Instant, ssrc: u32, lost: Vec<u16>) {
        let Some(i) = self.senders.iter().position(|s| s.ssrc == ssrc) else {
            return;
        };
        let mut packets = Vec::new();
        {
            let s = &mut self.senders[i];
            s.stats.nacks_received += 1;
            if !s.has_rtx {
                // Without RTX a resend would reuse the packet's SRTP index
                // (and so its keystream or GCM nonce) for other bytes: its
                // header extensions change with every send. Not sent.
                s.stats.retransmissions_refused += lost.len() as u64;
                return;
            }
            let Some(b) = &mut s.buffer else { return };
            b.on_nack(now, lost);
            let mut header: RtpHeader = s.stream.header().clone();
            while let Some(r) = b.poll_retransmit() {
                let mut out = Vec::new();
                if r.write(&mut header, &mut out).is_ok() {
                    packets.push(out);
                }
            }
        }
        let mut sent = 0;
        let mut refused = 0;
        for p in packets {
            if self.send_rtp(now, PaceClass::Retransmission, p) {
                sent += 1;
            } else {
                refused += 1;
            }
        }
        let s = &mut self.senders[i];
        s.stats.retransmitted += sent;
        s.stats.retransmissions_refused += refused;
        self.run_pacer(now);
    }
}

//! RTCP (RFC 3550 §6, RFC 4585): reports, feedback we send, and what the
//! peer's RTCP tells us.

use super::*;

impl PeerConnection {
    pub(super) fn ntp(&self, now: Instant) -> u64 {
        let d = now.saturating_duration_since(self.origin);
        let secs = NTP_ORIGIN + d.as_secs();
        let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
        (secs << 32) | frac
    }

    pub(super) fn handle_rtcp(&mut self, now: Instant, data: &[u8]) {
        let Some(rx) = &mut self.srtp_rx else {
            self.hold_early_srtp(data);
            return;
        };
        let mut buf = data.to_vec();
        if let Err(e) = rx.unprotect_rtcp(&mut buf) {
            tracing::debug!(len = data.len(), "SRTCP packet dropped: {e}");
            self.srtp_errors += 1;
            return;
        }
        let now_mid = (self.ntp(now) >> 16) as u32;
        let mut keyframe_mids = Vec::new();
        let mut nacks: Vec<(u32, Vec<u16>)> = Vec::new();
        let mut rtt_sample = None;
        for pkt in Compound::new(&buf) {
            let Ok(pkt) = pkt else {
                self.malformed += 1;
                break;
            };
            let blocks: Vec<ReportBlock> = match &pkt {
                RtcpPacket::SenderReport(sr) => {
                    if let Some(r) = self.receivers.iter_mut().find(|r| r.ssrc == sr.ssrc) {
                        r.stats.on_sender_report(now, sr.info.ntp_time);
                    }
                    sr.reports.iter().collect()
                }
                RtcpPacket::ReceiverReport(rr) => rr.reports.iter().collect(),
                RtcpPacket::Nack(n) => {
                    nacks.push((n.media_ssrc, n.lost().collect()));
                    Vec::new()
                }
                RtcpPacket::Pli(p) => {
                    tracing::debug!(ssrc = p.media_ssrc, "the peer asked for a key frame (PLI)");
                    if let Some(s) = self.senders.iter_mut().find(|s| s.ssrc == p.media_ssrc) {
                        s.stats.plis_received += 1;
                        keyframe_mids.push(s.mid.clone());
                    }
                    Vec::new()
                }
                RtcpPacket::Fir(f) => {
                    tracing::debug!("the peer asked for a key frame (FIR)");
                    for e in f.entries.iter() {
                        if let Some(s) = self.senders.iter_mut().find(|s| s.ssrc == e.ssrc) {
                            s.stats.plis_received += 1;
                            keyframe_mids.push(s.mid.clone());
                        }
                    }
                    Vec::new()
                }
                RtcpPacket::TransportCc(fb) => {
                    self.on_transport_feedback(now, fb);
                    Vec::new()
                }
                RtcpPacket::Remb(r) => {
                    self.on_remb(now, r.bitrate());
                    Vec::new()
                }
                _ => Vec::new(),
            };
            for b in blocks {
                if let Some(s) = self.senders.iter_mut().find(|s| s.ssrc == b.ssrc) {
                    s.stats.fraction_lost = f64::from(b.fraction_lost) / 256.0;
                    s.stats.packets_lost = i64::from(b.cumulative_lost);
                    if let Some(rtt) = rtt_from_report_block(now_mid, &b) {
                        s.stats.rtt_ms = Some(rtt.as_secs_f64() * 1000.0);
                        for r in &mut self.receivers {
                            if let Some(n) = &mut r.nack {
                                n.set_rtt(rtt);
                            }
                            if let Some(k) = &mut r.keyframes {
                                k.set_rtt(rtt);
                            }
                        }
                        rtt_sample = Some(rtt);
                    }
                }
            }
        }
        if let Some(rtt) = rtt_sample {
            self.on_rtt_sample(now, rtt);
        }
        for mid in keyframe_mids {
            if !self
                .events
                .iter()
                .any(|e| matches!(e, PeerEvent::KeyframeRequested { mid: m } if *m == mid))
            {
                self.events.push_back(PeerEvent::KeyframeRequested { mid });
            }
        }
        for (ssrc, lost) in nacks {
            self.on_nack(now, ssrc, lost);
        }
    }

    /// Sends an RTCP compound the application built (APP packets, feedback
    /// of its own, or a test that plays a misbehaving peer), protected with
    /// SRTCP and sent on the selected pair like our own reports.
    ///
    /// The compound must frame and every packet in it must decode
    /// (RFC 3550 §6.1; reduced-size compounds, RFC 5506, are accepted, so
    /// the first packet need not be a report). Its SSRCs are not checked:
    /// the bytes are the caller's.
    pub fn send_rtcp(&mut self, compound: &[u8]) -> Result<(), PeerError> {
        if self.state() == ConnectionState::Closed {
            return Err(PeerError::Closed);
        }
        if self.srtp_tx.is_none() || self.route().is_none() {
            return Err(PeerError::NotConnected);
        }
        meshrtc_rtp::rtcp::validate_compound(compound, true).map_err(PeerError::Rtcp)?;
        self.send_protected_rtcp(compound.to_vec());
        Ok(())
    }

    pub(super) fn send_feedback(&mut self, now: Instant) {
        if self.srtp_tx.is_none() {
            return;
        }
        let mut packets = Vec::new();
        let sender_ssrc = self.local_ssrc;
        for r in &mut self.receivers {
            let lost = r.nack.as_mut().and_then(|n| n.poll_nack(now));
            let pli = r.keyframes.as_mut().is_some_and(|k| k.poll_pli(now));
            if lost.is_none() && !pli {
                continue;
            }
            let mut buf = Vec::new();
            let mut b = CompoundBuilder::new(&mut buf);
            let rr = RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: sender_ssrc,
                reports: WireList::new(&[]),
                extension: &[],
            });
            let _ = b.push(&rr);
            if let Some(lost) = lost {
                let pairs: Vec<NackPair> = nack_pairs(lost).collect();
                let _ = b.push(&RtcpPacket::Nack(Nack {
                    sender_ssrc,
                    media_ssrc: r.ssrc,
                    pairs: WireList::new(&pairs),
                }));
                r.out.nacks_sent += 1;
            }
            if pli {
                tracing::debug!(mid = %r.mid, ssrc = r.ssrc, "PLI sent: asking the sender for a key frame");
                let _ = b.push(&RtcpPacket::Pli(Pli {
                    sender_ssrc,
                    media_ssrc: r.ssrc,
                }));
                r.out.plis_sent += 1;
            }
            packets.push(buf);
        }
        for p in packets {
            self.send_protected_rtcp(p);
        }
    }

    pub(super) fn send_reports(&mut self, now: Instant) {
        if self.srtp_tx.is_none() {
            return;
        }
        let ntp = self.ntp(now);
        let blocks: Vec<ReportBlock> = self
            .receivers
            .iter_mut()
            .map(|r| r.stats.report_block(now, r.ssrc))
            .take(31)
            .collect();
        let mut buf = Vec::new();
        let mut b = CompoundBuilder::new(&mut buf);
        let mut first = true;
        for s in &self.senders {
            let Some(info) = s.sender.sender_info(now, ntp, s.clock) else {
                continue;
            };
            let info = meshrtc_rtp::rtcp::SenderInfo {
                rtp_time: info.rtp_time,
                ..info
            };
            let reports: &[ReportBlock] = if first { &blocks } else { &[] };
            let _ = b.push(&RtcpPacket::SenderReport(SenderReport {
                ssrc: s.ssrc,
                info,
                reports: WireList::new(reports),
                extension: &[],
            }));
            first = false;
        }
        if first {
            let _ = b.push(&RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: self.local_ssrc,
                reports: WireList::new(&blocks),
                extension: &[],
            }));
        }
        let ssrc = self.senders.first().map_or(self.local_ssrc, |s| s.ssrc);
        let items = [SdesItem {
            kind: SdesType::CNAME,
            value: self.cname.as_bytes(),
        }];
        let chunks = [SdesChunk {
            ssrc,
            items: SdesItems::new(&items),
        }];
        let _ = b.push(&RtcpPacket::Sdes(Sdes {
            chunks: meshrtc_rtp::rtcp::SdesChunks::new(&chunks),
        }));
        self.send_protected_rtcp(buf);
    }

    // ----- stats -----
}

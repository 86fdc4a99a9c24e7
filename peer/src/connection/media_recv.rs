//! Receiving media: routing RTP to its m-line (MID, SSRC, payload type),
//! NACK, reassembly and frames handed out in order.

use super::*;

impl PeerConnection {
    pub(super) fn handle_rtp(&mut self, now: Instant, data: &[u8]) {
        let Some(rx) = &mut self.srtp_rx else {
            self.hold_early_srtp(data);
            return;
        };
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.extend_from_slice(data);
        if let Err(e) = rx.unprotect_rtp(&mut buf) {
            tracing::debug!(len = data.len(), "SRTP packet dropped: {e}");
            self.srtp_errors += 1;
            self.scratch = buf;
            return;
        }
        match RtpPacket::parse(&buf) {
            Ok(p) => {
                self.on_transport_seq(now, &p);
                self.route_rtp(now, &p);
            }
            Err(_) => self.malformed += 1,
        }
        self.scratch = buf;
        self.send_feedback(now);
    }

    pub(super) fn find_line(&self, p: &RtpPacket<'_>) -> Option<usize> {
        // 1. The MID header extension (RFC 8843 §9.2).
        if let Some(id) = self.mid_ext {
            if let Some(m) = p.extension_by_id(id).and_then(|d| Mid::parse(d).ok()) {
                return self.lines.iter().position(|l| l.mid == m.0);
            }
        }
        // 2. a=ssrc lines (and their FID groups).
        let ssrc = p.ssrc();
        if let Some(i) = self.lines.iter().position(|l| {
            l.remote_ssrcs
                .iter()
                .any(|&(s, r)| s == ssrc || r == Some(ssrc))
        }) {
            return Some(i);
        }
        // 3. A payload type only one m-line has.
        let pt = p.payload_type();
        let mut it = self
            .lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.payload_types.contains(&pt) || l.rtx_pt == Some(pt));
        match (it.next(), it.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    }

    pub(super) fn route_rtp(&mut self, now: Instant, p: &RtpPacket<'_>) {
        let ssrc = p.ssrc();
        let idx = match self
            .receivers
            .iter()
            .position(|r| r.ssrc == ssrc || r.rtx.is_some_and(|(s, _)| s == ssrc))
        {
            Some(i) => i,
            None => {
                let Some(li) = self.find_line(p) else {
                    self.unroutable += 1;
                    return;
                };
                let line = &self.lines[li];
                if !line.receive {
                    self.unroutable += 1;
                    return;
                }
                let is_rtx = line.rtx_pt == Some(p.payload_type());
                if is_rtx {
                    // An RTX stream: bind it to the m-line's media stream.
                    let from_sdp = line
                        .remote_ssrcs
                        .iter()
                        .find(|&&(_, r)| r == Some(ssrc))
                        .map(|&(s, _)| s);
                    let mid = line.mid.clone();
                    let rtx_pt = p.payload_type();
                    match self.receivers.iter().position(|r| {
                        r.mid == mid && (from_sdp.is_none() || from_sdp == Some(r.ssrc))
                    }) {
                        Some(i) => {
                            self.receivers[i].rtx = Some((ssrc, rtx_pt));
                            i
                        }
                        None => {
                            self.unroutable += 1;
                            return;
                        }
                    }
                } else {
                    if !line.payload_types.contains(&p.payload_type()) {
                        self.unroutable += 1;
                        return;
                    }
                    let rtx_ssrc = line
                        .remote_ssrcs
                        .iter()
                        .find(|&&(s, _)| s == ssrc)
                        .and_then(|&(_, r)| r);
                    let rtx = match (rtx_ssrc, line.rtx_pt) {
                        (Some(s), Some(pt)) => Some((s, pt)),
                        _ => None,
                    };
                    let (mid, kind, clock, pts) = (
                        line.mid.clone(),
                        line.kind,
                        line.clock,
                        line.payload_types.clone(),
                    );
                    // One stream per m-line: a new SSRC replaces the old.
                    self.receivers.retain(|r| r.mid != mid);
                    let video = kind == MediaKind::Video;
                    let mut keyframes =
                        video.then(|| KeyframeRequester::new(Duration::from_millis(300)));
                    if let Some(k) = &mut keyframes {
                        k.request(now);
                    }
                    self.receivers.push(RecvState {
                        mid: mid.clone(),
                        kind,
                        ssrc,
                        rtx,
                        clock,
                        payload_types: pts,
                        stats: ReceiveStats::new(),
                        nack: video.then(|| {
                            // Packets reordered by a few milliseconds are
                            // not asked for: that would only double them.
                            NackGenerator::new(NackConfig {
                                reorder_delay: Duration::from_millis(15),
                                ..NackConfig::default()
                            })
                        }),
                        assembler: video.then(|| Vp8Assembler::new(AssemblerConfig::default())),
                        keyframes,
                        frames_dropped_seen: 0,
                        last_picture_id: None,
                        waiting_keyframe: false,
                        last_pt: 0,
                        out: InboundStats {
                            mid: mid.clone(),
                            kind: kind_name(kind),
                            ssrc,
                            ..InboundStats::default()
                        },
                    });
                    self.events
                        .push_back(PeerEvent::TrackAdded { mid, kind, ssrc });
                    self.receivers.len() - 1
                }
            }
        };
        let r = &mut self.receivers[idx];
        r.out.packets_received += 1;
        r.out.bytes_received += p.payload().len() as u64;
        let Some(received) = classify(p, r.ssrc, r.rtx) else {
            self.unroutable += 1;
            return;
        };
        let (seq, payload, rtx) = match received {
            Received::Media { seq, payload, rtx } => (seq, payload, rtx),
            Received::Padding { .. } => return,
        };
        if rtx {
            r.out.rtx_received += 1;
        } else if !r.payload_types.contains(&p.payload_type()) {
            self.unroutable += 1;
            return;
        } else {
            r.stats.on_packet(now, seq, p.timestamp(), r.clock);
        }
        if let Some(n) = &mut r.nack {
            n.on_packet(now, seq);
        }
        match &mut r.assembler {
            Some(a) => {
                let _ = a.push(seq, p.timestamp(), p.marker(), payload);
                r.last_pt = p.payload_type();
                pump_video(r, now, &mut self.events);
            }
            None => {
                r.out.frames_received += 1;
                self.events.push_back(PeerEvent::Frame(ReceivedFrame {
                    mid: r.mid.clone(),
                    kind: r.kind,
                    ssrc: r.ssrc,
                    payload_type: p.payload_type(),
                    rtp_timestamp: p.timestamp(),
                    keyframe: false,
                    data: payload.to_vec(),
                }));
            }
        }
    }
}

/// Gives up on packets the NACK generator gave up on, then hands out the
/// frames that completes: in order, and after a loss only from the next
/// key frame on (asking for one with PLI).
pub(super) fn pump_video(r: &mut RecvState, now: Instant, events: &mut VecDeque<PeerEvent>) {
    let (Some(a), Some(n)) = (&mut r.assembler, &r.nack) else {
        return;
    };
    // A number the assembler still waits for but the NACK generator no
    // longer asks for (past its retries or age) will not come: skip it.
    // (Nothing missing, the usual case, costs no allocation.)
    if a.missing().next().is_some() {
        let asked: Vec<u16> = n.missing().collect();
        let mut cut = None;
        for ext in a.missing() {
            if asked.contains(&(ext as u16)) {
                break;
            }
            cut = Some(ext + 1);
        }
        if let Some(c) = cut {
            a.discard_before(c);
        }
    }
    let mut buf = Vec::new();
    let mut dropped_seen = a.stats().frames_dropped;
    while let Some(f) = a.poll_frame(&mut buf) {
        // Frames the assembler gave up on just before this one, or whole
        // frames lost (a burst, a partition, which leave no trace in the
        // assembler: the picture id tells, RFC 7741 §4.2), make a delta
        // frame undecodable: nothing goes out until a key frame.
        let dropped = a.stats().frames_dropped;
        let lost_before = dropped > dropped_seen && r.last_picture_id.is_some();
        dropped_seen = dropped;
        let gap = lost_before
            || match (r.last_picture_id, f.picture_id) {
                (Some(last), Some(pid)) => pid != (last + 1) & 0x7fff,
                _ => false,
            };
        if f.picture_id.is_some() {
            r.last_picture_id = f.picture_id;
        }
        if gap && !f.keyframe {
            r.waiting_keyframe = true;
            tracing::debug!(
                mid = %r.mid,
                ssrc = r.ssrc,
                "key frame requested: {}",
                if lost_before {
                    "packets before this frame were lost"
                } else {
                    "the picture id skipped a frame"
                }
            );
            if let Some(k) = &mut r.keyframes {
                k.request(now);
            }
        }
        if r.waiting_keyframe && !f.keyframe {
            r.out.frames_dropped += 1;
            buf.clear();
            continue;
        }
        r.waiting_keyframe = false;
        if f.keyframe {
            if let Some(k) = &mut r.keyframes {
                k.on_keyframe();
            }
            r.out.keyframes_received += 1;
        }
        r.out.frames_received += 1;
        events.push_back(PeerEvent::Frame(ReceivedFrame {
            mid: r.mid.clone(),
            kind: r.kind,
            ssrc: r.ssrc,
            payload_type: r.last_pt,
            rtp_timestamp: f.timestamp,
            keyframe: f.keyframe,
            data: std::mem::take(&mut buf),
        }));
    }
    let dropped = a.stats().frames_dropped;
    if dropped > r.frames_dropped_seen {
        r.out.frames_dropped += dropped - r.frames_dropped_seen;
        r.frames_dropped_seen = dropped;
        // Frames given up after the stream started: the next delta frame
        // cannot be decoded, ask for a key frame now. (Before the first
        // key frame the assembler waits for one by itself.)
        if dropped > dropped_seen && r.last_picture_id.is_some() {
            r.waiting_keyframe = true;
            tracing::debug!(
                mid = %r.mid,
                ssrc = r.ssrc,
                "key frame requested: {} frame(s) unrecoverable",
                dropped - dropped_seen
            );
            if let Some(k) = &mut r.keyframes {
                k.request(now);
            }
        }
    }
}

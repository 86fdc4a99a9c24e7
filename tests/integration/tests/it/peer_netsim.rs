//! Two PeerConnections on the network simulator: offer/answer, ICE, DTLS,
//! SRTP, and audio and video both ways through a lossy, jittery link. The
//! receiver decodes what arrives and reads the frame numbers back (from the
//! pixels with real VP8, from the payload with the fake codec): after the
//! first key frame there must be no gap.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use meshrtc_media::audio_playout::AudioPlayout;
use meshrtc_media::fake::{read_frame, FakeConfig, FakeDecoder, FakeEncoder};
use meshrtc_media::opus::{OpusDecoder, OpusEncoder};
use meshrtc_media::source::{read_stamp, TestPattern, ToneSource, VoiceSource};
use meshrtc_media::vp8::{Vp8Decoder, Vp8Encoder, Vp8EncoderConfig};
use meshrtc_netsim::{Datagram, LinkConfig, Node, Sim};
use meshrtc_peer::{ConnectionState, PacketizedFrame, PeerConfig, PeerConnection, PeerEvent};
use meshrtc_rtp::vp8::Vp8Packetizer;
use meshrtc_sdp::negotiate::MediaKind;

const FPS: u32 = 15;
const FRAME: Duration = Duration::from_micros(1_000_000 / FPS as u64);
const AUDIO: Duration = Duration::from_millis(20);

enum VideoCodec {
    Real {
        pattern: TestPattern,
        encoder: Vp8Encoder,
        decoder: Vp8Decoder,
    },
    Fake {
        encoder: FakeEncoder,
        decoder: FakeDecoder,
    },
}

struct CallNode {
    pc: PeerConnection,
    origin: Instant,
    video: VideoCodec,
    frame_no: u32,
    force_key: bool,
    packetizer: Vp8Packetizer,
    next_video: Instant,
    tone: ToneSource,
    opus: OpusEncoder,
    opus_dec: OpusDecoder,
    /// The same audio through a jitter buffer, played out every 20 ms.
    playout: AudioPlayout,
    /// Send [`VoiceSource`] audio (which Opus protects with in-band FEC
    /// once told to expect loss) instead of the tone.
    voice: Option<VoiceSource>,
    /// When the playout made its first and its latest frame, and how many.
    played_out: Option<(Instant, Instant, u64)>,
    next_audio: Instant,
    audio_sent: u32,
    media_until: Instant,
    /// Frame numbers decoded, in order.
    decoded: Vec<u32>,
    decode_errors: u32,
    audio_decoded: u32,
    keyframe_requests: u32,
    /// The fake encoder aims at the connection's send-side estimate (less
    /// the audio) instead of its fixed rate.
    follow_estimate: bool,
    /// Key frames sent.
    keyframes_sent: u32,
}

impl CallNode {
    fn video_mid(&self) -> Option<String> {
        self.pc
            .sending_mids()
            .into_iter()
            .find(|m| m.1 == MediaKind::Video)
            .map(|m| m.0)
    }

    fn audio_mid(&self) -> Option<String> {
        self.pc
            .sending_mids()
            .into_iter()
            .find(|m| m.1 == MediaKind::Audio)
            .map(|m| m.0)
    }

    fn events(&mut self, now: Instant) {
        while let Some(e) = self.pc.poll_event() {
            if let PeerEvent::Frame(f) = &e {
                if f.kind == MediaKind::Audio {
                    self.playout.push(now, f.rtp_timestamp, f.data.clone());
                }
            }
            match e {
                PeerEvent::Frame(f) if f.kind == MediaKind::Video => match &mut self.video {
                    VideoCodec::Real { decoder, .. } => match decoder.decode(&f.data) {
                        Ok(Some(img)) => match read_stamp(&img) {
                            Some(s) => self.decoded.push(s.frame_number),
                            None => self.decode_errors += 1,
                        },
                        Ok(None) => {}
                        Err(_) => self.decode_errors += 1,
                    },
                    VideoCodec::Fake { decoder, .. } => match decoder.decode(&f.data) {
                        Ok(info) => self.decoded.push(info.frame_number),
                        Err(_) => {
                            // Before the first key frame a delta frame has
                            // no reference: that is not a gap.
                            if read_frame(&f.data).is_none() || !self.decoded.is_empty() {
                                self.decode_errors += 1;
                            }
                        }
                    },
                },
                PeerEvent::Frame(f) if self.opus_dec.decode(Some(&f.data)).is_ok() => {
                    self.audio_decoded += 1;
                }
                PeerEvent::KeyframeRequested { .. } => {
                    self.keyframe_requests += 1;
                    self.force_key = true;
                }
                _ => {}
            }
        }
    }

    fn send_media(&mut self, now: Instant) {
        if !self.pc.is_connected() || now >= self.media_until {
            return;
        }
        while self.next_video <= now {
            let t_us = (self.next_video - self.origin).as_micros() as u64;
            let key = self.force_key || self.frame_no == 0;
            self.force_key = false;
            let data = match &mut self.video {
                VideoCodec::Real {
                    pattern, encoder, ..
                } => {
                    let img = pattern.next_frame(t_us);
                    encoder
                        .encode(&img, t_us, key)
                        .unwrap()
                        .map(|f| f.data)
                        .unwrap_or_default()
                }
                VideoCodec::Fake { encoder, .. } => {
                    if let (true, Some(t)) = (self.follow_estimate, self.pc.target_bitrate()) {
                        encoder.set_bitrate(self.pc.video_budget_of(t, true).max(20_000) as u32);
                    }
                    encoder.encode(self.frame_no, t_us, key).data
                }
            };
            self.frame_no += 1;
            self.keyframes_sent += u32::from(key);
            if let (false, Some(mid)) = (data.is_empty(), self.video_mid()) {
                let ts = (t_us * 9 / 100) as u32;
                let f = PacketizedFrame::vp8(&mut self.packetizer, data.into(), ts, 1100).unwrap();
                self.pc.send_frame(now, &mid, &f).unwrap();
            }
            self.next_video += FRAME;
        }
        while self.playout.poll(now).is_some() {
            let p = self.played_out.get_or_insert((now, now, 0));
            p.1 = now;
            p.2 += 1;
        }
        while self.next_audio <= now {
            let pcm = match &mut self.voice {
                Some(v) => v.next_frame(),
                None => self.tone.next_frame(),
            };
            let packet = self.opus.encode(&pcm).unwrap();
            if let Some(mid) = self.audio_mid() {
                let f = PacketizedFrame::opus(packet.into(), self.audio_sent * 960);
                self.pc.send_frame(now, &mid, &f).unwrap();
            }
            self.audio_sent += 1;
            self.next_audio += AUDIO;
        }
    }
}

impl Node for CallNode {
    fn handle_datagram(&mut self, now: Instant, d: Datagram) {
        self.pc.handle_datagram(now, d.src, d.dst, &d.payload);
        self.events(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.pc.handle_timeout(now);
        self.events(now);
        self.send_media(now);
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        meshrtc_integration::sim::peer_transmit(&mut self.pc)
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        let media = (self.pc.is_connected() && self.next_video < self.media_until)
            .then(|| self.next_video.min(self.next_audio));
        [self.pc.poll_timeout(), media].into_iter().flatten().min()
    }
}

fn node(seed: u64, epoch: Instant, addr: SocketAddr, real: bool, media_for: Duration) -> CallNode {
    // The default DTLS versions: 1.3 between two meshrtc peers.
    let config = PeerConfig::with_fixed_seed(seed);
    let mut pc = PeerConnection::new(config, epoch).unwrap();
    pc.add_local_address(addr);
    let video = if real {
        VideoCodec::Real {
            pattern: TestPattern::new(320, 240, FPS),
            encoder: Vp8Encoder::new(Vp8EncoderConfig::new(320, 240, FPS, 300_000)).unwrap(),
            decoder: Vp8Decoder::new().unwrap(),
        }
    } else {
        VideoCodec::Fake {
            encoder: FakeEncoder::new(FakeConfig::new(600_000, FPS), seed),
            decoder: FakeDecoder::new(),
        }
    };
    CallNode {
        pc,
        origin: epoch,
        video,
        frame_no: 0,
        force_key: false,
        packetizer: Vp8Packetizer::new(seed as u16),
        next_video: epoch,
        tone: ToneSource::new(48_000, 1, 440.0),
        opus: OpusEncoder::new(48_000, 1, 32_000).unwrap(),
        opus_dec: OpusDecoder::new(48_000, 1).unwrap(),
        playout: AudioPlayout::new(1).unwrap(),
        voice: None,
        played_out: None,
        next_audio: epoch,
        audio_sent: 0,
        media_until: epoch + media_for,
        decoded: Vec::new(),
        decode_errors: 0,
        audio_decoded: 0,
        keyframe_requests: 0,
        follow_estimate: false,
        keyframes_sent: 0,
    }
}

/// Offer from `a`, answer from `b`, exchanged directly (complete SDP with
/// host candidates).
fn call(
    seed: u64,
    link: LinkConfig,
    real: bool,
    media_for: Duration,
) -> (Sim<CallNode>, [meshrtc_netsim::NodeId; 2]) {
    let mut sim: Sim<CallNode> = Sim::new(seed);
    sim.set_default_link(link);
    let epoch = sim.epoch();
    let (aa, ba): (SocketAddr, SocketAddr) = (
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.2:40000".parse().unwrap(),
    );
    let mut a = node(seed * 2 + 1, epoch, aa, real, media_for);
    let mut b = node(seed * 2 + 2, epoch, ba, real, media_for);
    a.pc.add_transceiver(MediaKind::Video, true, true);
    a.pc.add_transceiver(MediaKind::Audio, true, true);
    b.pc.add_answer_track(MediaKind::Video);
    b.pc.add_answer_track(MediaKind::Audio);
    meshrtc_integration::sim::offer_answer(&mut a.pc, &mut b.pc, epoch);
    let na = sim.add_node(a, &[aa.ip()]);
    let nb = sim.add_node(b, &[ba.ip()]);
    (sim, [na, nb])
}

fn assert_no_gaps(name: &str, decoded: &[u32], sent: u32, min_share: f64) {
    assert!(!decoded.is_empty(), "{name}: nothing decoded");
    for w in decoded.windows(2) {
        assert_eq!(
            w[1],
            w[0] + 1,
            "{name}: gap or reorder after frame {}",
            w[0]
        );
    }
    let share = decoded.len() as f64 / f64::from(sent);
    assert!(
        share >= min_share,
        "{name}: decoded {} of {sent}",
        decoded.len()
    );
}

/// Runs until both sides are connected (10 s at most), then `for` more.
fn connect_then_run(
    sim: &mut Sim<CallNode>,
    a: meshrtc_netsim::NodeId,
    b: meshrtc_netsim::NodeId,
    r#for: Duration,
) {
    sim.run_until(
        |s| {
            s.node(a).pc.state() == ConnectionState::Connected
                && s.node(b).pc.state() == ConnectionState::Connected
        },
        Duration::from_secs(10),
    )
    .expect("connected");
    sim.run_for(r#for).unwrap();
}

/// 20 ms each way, 5% loss, and this much jitter.
fn lossy_link(jitter: Duration) -> LinkConfig {
    LinkConfig {
        latency: Duration::from_millis(20),
        jitter,
        loss: 0.05,
        mtu: 1500,
        ..LinkConfig::default()
    }
}

#[test]
fn vp8_and_opus_both_ways_for_10_seconds_with_5_percent_loss_and_jitter() {
    let link = lossy_link(Duration::from_millis(10));
    let (mut sim, [a, b]) = call(7, link, true, Duration::from_secs(10));
    connect_then_run(&mut sim, a, b, Duration::from_secs(11));
    for (name, id) in [("a", a), ("b", b)] {
        let me = sim.node(id);
        let peer = sim.node(if id == a { b } else { a });
        assert_eq!(me.decode_errors, 0, "{name}");
        // The sender started sending when it connected; every frame from
        // the first key frame on is decoded.
        assert_no_gaps(name, &me.decoded, peer.frame_no, 0.9);
        let audio_share = f64::from(me.audio_decoded) / f64::from(peer.audio_sent);
        assert!(
            audio_share > 0.9,
            "{name}: audio {} of {}",
            me.audio_decoded,
            peer.audio_sent
        );
        let st = me.pc.stats();
        let video_in = st.inbound.iter().find(|i| i.kind == "video").unwrap();
        assert!(
            video_in.nacks_sent > 0,
            "{name}: loss was repaired with NACKs"
        );
        assert!(video_in.rtx_received > 0, "{name}: and RTX");
        // What went missing came back (RTX, or late), and the stats say
        // so: none given up.
        assert!(video_in.nack_recovered > 0, "{name}: {video_in:?}");
        assert_eq!(video_in.nack_given_up, 0, "{name}: {video_in:?}");
        assert!(
            st.outbound.iter().all(|o| o.rtt_ms.is_some()),
            "{name}: RTT known"
        );
    }
}

/// Issue 17: Opus through the jitter buffer at 5% loss with jitter.
/// Each side's encoder is told to expect the loss (in-band FEC, RFC 6716
/// §2.1.7), so a frame whose packet is lost is decoded from the next
/// packet; two in a row, or a packet too late, are concealed. The
/// playout never stops: every 20 ms of the call is a frame of one of the
/// three kinds, and every packet received is accounted for.
#[test]
fn opus_at_5_percent_loss_is_played_out_every_20_ms_recovered_by_fec_or_concealed() {
    let link = lossy_link(Duration::from_millis(15));
    let (mut sim, [a, b]) = call(5, link, false, Duration::from_secs(10));
    for id in [a, b] {
        let n = sim.node_mut(id);
        n.voice = Some(VoiceSource::new(48_000));
        n.opus.set_inband_fec(5).unwrap();
    }
    connect_then_run(&mut sim, a, b, Duration::from_secs(11));
    for (name, id) in [("a", a), ("b", b)] {
        let me = sim.node(id);
        let peer = sim.node(if id == a { b } else { a });
        let st = me.playout.stats();
        let audio_in = me
            .pc
            .stats()
            .inbound
            .into_iter()
            .find(|i| i.kind == "audio")
            .unwrap();
        let lost = audio_in.packets_lost.max(0) as u64;
        let sent = u64::from(peer.audio_sent);
        eprintln!(
            "{name}: {lost} lost of {sent}, {st:?}, delay {:?}, jitter {:?}",
            me.playout.buffer().delay(),
            me.playout.buffer().jitter()
        );
        assert!(lost >= sent / 40, "{name}: the link lost {lost} of {sent}");
        assert_eq!(st.received, audio_in.frames_received, "{name}: {st:?}");
        // Most lost frames come back from their successor's FEC.
        assert!(st.fec * 10 >= lost * 7, "{name}: {lost} lost, {st:?}");
        // The playout never stopped: one frame for every 20 ms from its
        // first to its last (polled in batches at the simulator's wake-ups,
        // so the first and last batch's times are off by up to a video
        // frame: a few frames either way).
        let (first, last, made) = me.played_out.unwrap();
        let slots = ((last - first).as_millis() / 20) as u64 + 1;
        assert!(
            made.abs_diff(slots) <= 4,
            "{name}: {made} frames in {slots} slots"
        );
        assert_eq!(made, st.played + st.fec + st.concealed, "{name}: {st:?}");
        // Every packet received was played, or dropped as late, as a
        // duplicate or to shrink the delay, or is still in the buffer.
        let gone = st.played + st.late + st.duplicates + st.shrunk;
        let buffered = st.received - gone;
        assert!(gone <= st.received && buffered <= 16, "{name}: {st:?}");
        assert_eq!(me.playout.decode_errors(), 0, "{name}");
    }
}

#[test]
fn fake_codec_call_for_60_seconds_survives_a_partition_in_the_middle() {
    let link = LinkConfig {
        latency: Duration::from_millis(30),
        jitter: Duration::from_millis(10),
        loss: 0.02,
        mtu: 1500,
        ..LinkConfig::default()
    };
    let (mut sim, [a, b]) = call(11, link, false, Duration::from_secs(60));
    // As a real sender does, both encoders aim at their connection's
    // estimate: a fixed 600 kbit/s after the partition's loss would be
    // more than the pacer lets out.
    sim.node_mut(a).follow_estimate = true;
    sim.node_mut(b).follow_estimate = true;
    sim.run_until(
        |s| s.node(a).pc.is_connected() && s.node(b).pc.is_connected(),
        Duration::from_secs(10),
    )
    .expect("connected");
    // A 3-second partition 25 s in: consent keeps the session (the
    // disconnected timeout is 8 s), media resumes with a key frame.
    sim.cut_at(Duration::from_secs(25), a, b);
    sim.heal_at(Duration::from_secs(28), a, b);
    sim.run_for(Duration::from_secs(62)).unwrap();
    for (name, id) in [("a", a), ("b", b)] {
        let me = sim.node(id);
        let peer = sim.node(if id == a { b } else { a });
        assert_eq!(me.decode_errors, 0, "{name}");
        assert!(me.pc.is_connected(), "{name}: still connected");
        // Frames lost in the partition are a gap the decoder recovers from
        // with a key frame: check order, and that most frames came.
        let d = &me.decoded;
        assert!(d.windows(2).all(|w| w[1] > w[0]), "{name}: in order");
        let share = d.len() as f64 / f64::from(peer.frame_no);
        assert!(
            share > 0.9,
            "{name}: decoded {} of {}",
            d.len(),
            peer.frame_no
        );
        assert!(
            d.last().copied().unwrap_or(0) + 5 >= peer.frame_no,
            "{name}: recovered to the end"
        );
        assert!(
            peer.keyframe_requests > 0,
            "{name}: asked for a key frame after the gap"
        );
    }
}

/// RTP bytes of audio, video and retransmissions the pacer released
/// (padding not counted).
fn media_bytes(pc: &PeerConnection) -> u64 {
    let b = pc
        .stats()
        .pacer
        .expect("transport-cc negotiated")
        .sent_bytes;
    b[0] + b[1] + b[2]
}

/// Congestion control end to end: a's uplink is a 500 kbit/s bottleneck
/// with a 300 ms queue (25 ms each way); its encoder follows the
/// connection's send-side estimate, fed by b's transport-cc feedback. Once
/// settled the estimate sits within 15% of the capacity, the queue stays
/// short (RTT), b decodes the frames without a gap, no key frame is
/// needed after the start, and the media fill the estimate.
#[test]
fn the_estimate_converges_on_a_500_kbit_bottleneck_and_the_queue_stays_short() {
    const CAPACITY: u64 = 500_000;
    let fast = LinkConfig {
        latency: Duration::from_millis(25),
        mtu: 1500,
        ..LinkConfig::default()
    };
    let (mut sim, [a, b]) = call(21, fast.clone(), false, Duration::from_secs(40));
    sim.set_link_oneway(
        a,
        b,
        LinkConfig {
            rate_bps: Some(CAPACITY),
            queue_bytes: (CAPACITY / 8 * 3 / 10) as usize,
            ..fast
        },
    );
    sim.node_mut(a).follow_estimate = true;
    sim.run_until(
        |s| s.node(a).pc.is_connected() && s.node(b).pc.is_connected(),
        Duration::from_secs(10),
    )
    .expect("connected");
    let mut targets = Vec::new();
    let mut rtts = Vec::new();
    let mut settled_from = 0;
    let mut keyframes_at_start = 0;
    let mut media_bytes_at_start = 0;
    for second in 1..=30 {
        sim.run_for(Duration::from_secs(1)).unwrap();
        let st = sim.node(a).pc.stats();
        let target = sim
            .node(a)
            .pc
            .target_bitrate()
            .expect("transport-cc negotiated");
        let rtt = st.outbound.iter().find_map(|o| o.rtt_ms);
        eprintln!(
            "t={second:2}s target={target} rtt={rtt:?} cc={:?}",
            st.congestion
                .map(|c| (c.delay_state, c.acked_bitrate, c.loss_fraction))
        );
        if second == 15 {
            settled_from = sim.node(a).frame_no;
            keyframes_at_start = sim.node(a).keyframes_sent;
            media_bytes_at_start = media_bytes(&sim.node(a).pc);
        }
        if second > 15 {
            targets.push(target);
            rtts.extend(rtt);
        }
    }
    let mean = targets.iter().sum::<u64>() / targets.len() as u64;
    let low = *targets.iter().min().unwrap();
    eprintln!(
        "settled: mean {mean} min {low}, rtt max {:?}",
        rtts.iter().cloned().fold(0.0, f64::max)
    );
    assert!(
        mean as f64 > 0.85 * CAPACITY as f64 && mean as f64 <= 1.15 * CAPACITY as f64,
        "mean target {mean} vs capacity {CAPACITY}"
    );
    assert!(low as f64 > 0.6 * CAPACITY as f64, "lowest target {low}");
    // The encoder follows the connection's video budget (the estimate less
    // the audio and overhead measured on the wire): the media's RTP bytes
    // fill the estimate but for the SRTP tags and UDP/IP headers (4-30%
    // of a packet). The fixed allowances (85% of the estimate less 60
    // kbit/s) left 0.83 of it.
    let media_bps = (media_bytes(&sim.node(a).pc) - media_bytes_at_start) as f64 * 8.0 / 15.0;
    eprintln!(
        "media RTP {media_bps:.0} bit/s, {:.3} of the mean target",
        media_bps / mean as f64
    );
    assert!(
        media_bps >= 0.88 * mean as f64 && media_bps <= mean as f64,
        "media {media_bps} vs mean target {mean}"
    );
    // 50 ms of propagation; a standing queue would add up to 300 ms.
    let worst = rtts.iter().cloned().fold(0.0, f64::max);
    assert!(!rtts.is_empty() && worst < 150.0, "RTT samples {rtts:?}");
    let rx = sim.node(b);
    let tx = sim.node(a);
    assert_eq!(rx.decode_errors, 0);
    let d = &rx.decoded;
    assert!(d.windows(2).all(|w| w[1] > w[0]), "in order");
    // The start-up probes may overflow the queue; once settled every frame
    // arrives.
    let settled = d.iter().filter(|&&n| n >= settled_from).count() as u32;
    let sent = tx.frame_no - settled_from;
    assert!(
        settled + 2 >= sent,
        "decoded {settled} of {sent} once settled"
    );
    eprintln!(
        "key frames: {keyframes_at_start} in the first 15 s, {} in all",
        tx.keyframes_sent
    );
    assert_eq!(
        tx.keyframes_sent, keyframes_at_start,
        "a key frame once settled"
    );
    let pacer = tx.pc.stats().pacer.unwrap();
    assert_eq!(pacer.dropped_video, 0, "{pacer:?}");
}

//! A mesh member on real sockets: `meshrtc join`, and each member of
//! `meshrtc demo`.
//!
//! The networking is the library's (`meshrtc_mesh::driver`: the sans-IO
//! mesh node, its signaling client and sockets in one task); this is the
//! media around it: every frame is encoded once (VP8 test pattern, texture
//! or Y4M file at the node's target bitrate, or an IVF file as it is; Opus
//! tone or a WAV file) and packetized once, then handed to every connected
//! member. What arrives is decoded per member; frame numbers and capture
//! times come back from the pixels.
//!
//! A member's counters live in its connection, which goes when the member
//! leaves; the app keeps running totals per member ([`MemberTotals`]) from
//! the snapshots it takes twice a second, so the final report counts the
//! members that left before the end.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshrtc_media::audio_playout::AudioPlayout;
use meshrtc_media::opus::OpusEncoder;
use meshrtc_media::sink::{i420_to_rgb, write_png, RgbImage};
use meshrtc_media::source::read_stamp;
use meshrtc_media::vp8::{I420Frame, Vp8Decoder};
use meshrtc_mesh::driver::{join, MemberConfig};
use meshrtc_mesh::{MeshEvent, MeshStats};
use meshrtc_peer::{PacketizedFrame, PeerStats};
use meshrtc_rtp::vp8::Vp8Packetizer;
use meshrtc_sdp::negotiate::MediaKind;
use serde_json::{json, Value};

use crate::sources::{wall_us, AudioIn, SourceKind, VideoIn, VideoSpec};

/// What a member is told to do.
#[derive(Debug, Clone)]
pub struct MemberOptions {
    /// `ws://host:port/ws` or `wss://host:port/ws`.
    pub server: String,
    /// Whom to trust for a `wss://` server.
    pub server_trust: Option<meshrtc_mesh::signaling::ServerTrust>,
    /// The room.
    pub room: String,
    /// Display name.
    pub name: String,
    /// The room's password, if the server requires one.
    pub password: Option<String>,
    /// Local addresses to bind (one socket per slot and address).
    pub bind: Vec<IpAddr>,
    /// Test pattern size and rate.
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// Run this long after joining.
    pub duration: Duration,
    /// Print the per-peer table every second on stderr.
    pub live: bool,
    /// Keep the last decoded frame of each member (for snapshots).
    pub keep_frames: bool,
    /// Write a PNG of each member's last decoded frame here.
    pub record: Option<PathBuf>,
    /// The synthetic video.
    pub source: SourceKind,
    /// Send this file instead: IVF (VP8 frames sent as they are) or Y4M
    /// (encoded live).
    pub video_in: Option<PathBuf>,
    /// Send this WAV (48 kHz mono 16-bit) instead of the tone.
    pub audio_in: Option<PathBuf>,
    /// White squares on the test pattern's ramp (the demo gives member k
    /// k squares).
    pub marks: Option<u32>,
    /// Video layers (simulcast): 1, or 2 with a half-size layer.
    pub layers: u32,
    /// Share a second video track, the "screen", `AT` after joining for
    /// `FOR` (`crate::screen`).
    pub screen: Option<(Duration, Duration)>,
    /// Where every datagram and secret goes (`--capture`).
    pub capture: Option<std::sync::Arc<dyn meshrtc_peer::tap::DatagramTap>>,
    /// Relay candidates only (`--ice-transport-policy relay`).
    pub relay_only: bool,
    /// Host addresses behind mDNS names (`--mdns-hide`).
    pub mdns_hide: bool,
    /// Room chat: stdin lines out, members' lines printed on stdout.
    pub chat: bool,
    /// DTLS versions (`--dtls`).
    pub dtls: meshrtc_peer::DtlsVersions,
    /// STUN/TURN servers of our own (`--ice-server`), as given.
    pub ice_servers: Vec<meshrtc_mesh::signaling::protocol::IceServer>,
    /// The addresses of the host names in `ice_servers`' URLs.
    pub ice_hosts: meshrtc_mesh::ice_servers::HostAddresses,
    /// Whom to trust for `turns:` servers (`--turn-ca`).
    pub turn_tls: Option<Arc<rustls::ClientConfig>>,
}

/// What one member saw of another.
#[derive(Debug, Default)]
pub struct PairReport {
    /// The sender's display name.
    pub name: String,
    /// Video frames decoded.
    pub frames_decoded: u64,
    /// Video frames the decoder refused.
    pub decode_errors: u64,
    /// Gaps in the frame numbers read from the pixels.
    pub stamp_gaps: u64,
    /// Mean end-to-end latency from the pixel timestamps.
    pub latency_ms: Option<f64>,
    /// Frames decoded from the member's second video track (its screen).
    pub screen_frames_decoded: u64,
    /// Audio frames decoded from their packets (the jitter buffer's
    /// playout).
    pub audio_decoded: u64,
    /// Audio frames recovered from the next packet's in-band FEC.
    pub audio_fec: u64,
    /// Audio frames concealed (nothing to decode in time).
    pub audio_concealed: u64,
    /// Audio packets that came after their turn was played.
    pub audio_late: u64,
    /// Size of the last decoded frame.
    pub size: (u32, u32),
    /// The last decoded frame, when asked to keep it.
    pub last_frame: Option<I420Frame>,
    latency_sum: f64,
    latency_n: u64,
    last_stamp: Option<u32>,
}

/// What a member did, for the summary and `--stats-json`.
#[derive(Debug, Default)]
pub struct MemberReport {
    /// Our display name.
    pub name: String,
    /// Our id in the room.
    pub id: Option<String>,
    /// Per remote member id.
    pub pairs: BTreeMap<String, PairReport>,
    /// Video frames encoded.
    pub frames_encoded: u64,
    /// Frames of the screen track sent (`--screen`).
    pub screen_frames_sent: u64,
    /// Mean encode time.
    pub encode_ms: f64,
    /// Key frames made on request.
    pub keyframes: u64,
    /// Payload bytes sent to all members, those that left included.
    pub bytes_sent: u64,
    /// Upstream bitrate over the run.
    pub upstream_kbps: f64,
    /// Every member this one had a connection to, by id, with its totals.
    pub members: BTreeMap<String, MemberTotals>,
    /// The node's final stats, as JSON.
    pub node: Value,
    /// Why it stopped early, if it did.
    pub error: Option<String>,
    /// Members removed and why.
    pub removed: Vec<(String, String)>,
}

struct Remote {
    vp8: Option<Vp8Decoder>,
    /// The m-line of the member's camera: its first video m-line.
    camera_mid: Option<String>,
    /// Its screen track's m-line and decoder (any other video m-line).
    screen: Option<(String, Vp8Decoder)>,
    audio: Option<AudioPlayout>,
}

/// Cumulative counters of one connection.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Payload bytes sent.
    pub bytes_sent: u64,
    /// RTP packets sent (retransmissions excluded).
    pub packets_sent: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// RTP packets received (RTX included).
    pub packets_received: u64,
    /// Packets expected and not received (RFC 3550 A.3), summed over the
    /// incoming streams, each clamped at zero.
    pub packets_lost: u64,
    /// NACKs sent.
    pub nacks_sent: u64,
    /// PLIs sent.
    pub plis_sent: u64,
}

impl Counters {
    fn of(ps: &PeerStats) -> Counters {
        Counters {
            bytes_sent: ps.outbound.iter().map(|o| o.bytes_sent).sum(),
            packets_sent: ps.outbound.iter().map(|o| o.packets_sent).sum(),
            bytes_received: ps.inbound.iter().map(|i| i.bytes_received).sum(),
            packets_received: ps.inbound.iter().map(|i| i.packets_received).sum(),
            packets_lost: ps
                .inbound
                .iter()
                .map(|i| i.packets_lost.max(0) as u64)
                .sum(),
            nacks_sent: ps.inbound.iter().map(|i| i.nacks_sent).sum(),
            plis_sent: ps.inbound.iter().map(|i| i.plis_sent).sum(),
        }
    }

    fn add(self, o: Counters) -> Counters {
        Counters {
            bytes_sent: self.bytes_sent + o.bytes_sent,
            packets_sent: self.packets_sent + o.packets_sent,
            bytes_received: self.bytes_received + o.bytes_received,
            packets_received: self.packets_received + o.packets_received,
            packets_lost: self.packets_lost + o.packets_lost,
            nacks_sent: self.nacks_sent + o.nacks_sent,
            plis_sent: self.plis_sent + o.plis_sent,
        }
    }
}

/// Loss as a fraction of the packets that should have arrived, between two
/// snapshots of the counters (or since the start, with `before` zero): lost
/// / (received + lost), in 0..=1. Late packets can lower the cumulative
/// lost count; that interval then counts no loss.
pub fn loss_fraction(before: Counters, now: Counters) -> f64 {
    let lost = now.packets_lost.saturating_sub(before.packets_lost);
    let received = now.packets_received.saturating_sub(before.packets_received);
    if lost + received == 0 {
        return 0.0;
    }
    (lost as f64 / (lost + received) as f64).clamp(0.0, 1.0)
}

/// What this member exchanged with one other member over the whole run,
/// kept when that member leaves.
#[derive(Debug, Default, Clone)]
pub struct MemberTotals {
    /// Its display name.
    pub name: String,
    /// Counters of connections to it that ended (one was replaced).
    closed: Counters,
    /// The last snapshot of the live connection's counters.
    current: Counters,
    /// At the last table line, for the loss of the interval.
    at_last_line: Counters,
    /// The connection's state at the last snapshot.
    pub state: String,
    /// The last round-trip time measured.
    pub rtt_ms: Option<f64>,
    /// The send-side estimate at the last snapshot (bit/s).
    pub target_bitrate: Option<u64>,
    /// The DTLS version ("DTLS 1.3").
    pub dtls_version: Option<&'static str>,
    /// The cipher suite.
    pub dtls_cipher: Option<&'static str>,
    /// The DTLS key exchange group.
    pub dtls_group: Option<&'static str>,
    /// The SRTP profile.
    pub srtp_profile: Option<&'static str>,
    /// The selected candidate pair.
    pub selected_pair: Option<String>,
    /// Why it was removed, if it was.
    pub removed: Option<String>,
}

impl MemberTotals {
    /// Everything exchanged with this member so far.
    pub fn counters(&self) -> Counters {
        self.closed.add(self.current)
    }

    fn update(&mut self, name: &str, ps: &PeerStats) {
        let c = Counters::of(ps);
        // Counters only grow within a connection: if they went down, the
        // connection was replaced; keep what the old one did.
        if c.bytes_sent < self.current.bytes_sent
            || c.packets_received < self.current.packets_received
        {
            self.closed = self.closed.add(self.current);
            self.at_last_line = Counters::default();
        }
        self.current = c;
        self.name = name.to_string();
        // A snapshot taken before the removal can come after it.
        if self.removed.is_none() {
            self.state = format!("{:?}", ps.state);
        }
        if let Some(r) = ps.outbound.iter().find_map(|o| o.rtt_ms) {
            self.rtt_ms = Some(r);
        }
        if let Some(cc) = &ps.congestion {
            self.target_bitrate = Some(cc.target);
        }
        self.dtls_version = ps.dtls_version.or(self.dtls_version);
        self.dtls_cipher = ps.dtls_cipher.or(self.dtls_cipher);
        self.dtls_group = ps.dtls_group.or(self.dtls_group);
        self.srtp_profile = ps.srtp_profile.or(self.srtp_profile);
        if let Some((l, r)) = ps.selected_pair {
            self.selected_pair = Some(format!("{l} -> {r}"));
        }
    }
}

/// Folds a stats snapshot into the running totals.
fn accumulate(totals: &mut BTreeMap<String, MemberTotals>, st: &MeshStats) {
    for (id, name, ps) in &st.members {
        totals.entry(id.clone()).or_default().update(name, ps);
    }
}

fn bytes_sent(totals: &BTreeMap<String, MemberTotals>) -> u64 {
    totals.values().map(|t| t.counters().bytes_sent).sum()
}

/// A random first VP8 picture id (RFC 7741 §4.2: 15 bits), from the OS.
pub fn first_picture_id() -> Result<u16, String> {
    let s = meshrtc_peer::driver::os_seed().map_err(|e| e.to_string())?;
    Ok(u16::from_le_bytes([s[0], s[1]]) & 0x7fff)
}

/// Runs one member until `duration` after it joined (or an error).
pub async fn run_member(o: MemberOptions) -> MemberReport {
    let mut report = MemberReport {
        name: o.name.clone(),
        ..MemberReport::default()
    };
    if let Err(e) = run(&o, &mut report).await {
        report.error = Some(e);
    }
    report
}

async fn run(o: &MemberOptions, report: &mut MemberReport) -> Result<(), String> {
    let mut cfg = MemberConfig::new(&o.server, &o.room, &o.name).map_err(|e| e.to_string())?;
    cfg.password = o.password.clone();
    cfg.server_trust = o.server_trust.clone();
    cfg.bind = o.bind.clone();
    if let Some(tap) = &o.capture {
        cfg.peer.key_log = true;
        cfg.tap = Some(tap.clone());
    }
    cfg.peer.ice.relay_only = o.relay_only;
    cfg.mdns_hide = o.mdns_hide;
    cfg.chat = o.chat;
    cfg.peer.dtls_versions = o.dtls;
    if let Some(skipped) =
        meshrtc_mesh::ice_servers::apply_resolved(&o.ice_servers, &o.ice_hosts, &mut cfg.peer.ice)
            .first()
    {
        return Err(format!("--ice-server {skipped}"));
    }
    cfg.turn_tls = o.turn_tls.clone();
    if o.layers >= 2 {
        // The full size for members whose estimate allows 250 kbit/s of
        // video, the half size for the others.
        cfg.layer_min_bitrates = vec![0, 250_000];
    }
    // The files first: a bad one is an error before joining anyone.
    let mut video = VideoIn::open(VideoSpec {
        file: o.video_in.as_deref(),
        source: o.source,
        width: o.width,
        height: o.height,
        fps: o.fps,
        bps: 600_000,
        marks: o.marks,
        layers: o.layers,
    })?;
    let fps = video.fps().unwrap_or(o.fps).max(1);
    let mut audio = AudioIn::open(o.audio_in.as_deref())?;
    let (member, mut events) = join(cfg).await.map_err(|e| e.to_string())?;
    let mut chat_lines = o.chat.then(stdin_lines);
    let mut opus = OpusEncoder::new(48_000, 1, 32_000).map_err(|e| e.to_string())?;
    let mut packetizer = Vp8Packetizer::new(first_picture_id()?);
    // One packetizer per simulcast layer, each set to the capture's
    // picture id before packetizing (see below).
    let mut layer_packetizers = vec![packetizer.clone(); video.layers()];
    let mut screen = match o.screen {
        Some(schedule) => Some(crate::screen::ScreenShare::new(
            schedule,
            first_picture_id()?,
        )?),
        None => None,
    };
    let mut next_screen: Option<tokio::time::Instant> = None;
    let mut remotes: BTreeMap<String, Remote> = BTreeMap::new();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let frame_interval = Duration::from_secs_f64(1.0 / f64::from(fps));
    let mut next_video = tokio::time::Instant::now();
    let mut next_audio = tokio::time::Instant::now();
    // Snapshots twice a second (the driver refreshes its stats that
    // often), the table every other one.
    let mut next_table = tokio::time::Instant::now() + Duration::from_millis(500);
    let mut snapshots: u64 = 0;
    let mut joined_at: Option<Instant> = None;
    let mut encode_time = Duration::ZERO;
    let mut video_no: u64 = 0;
    let mut audio_no: u32 = 0;
    let mut last_table: BTreeMap<String, u64> = BTreeMap::new();
    let mut last_sent = 0u64;
    let start = Instant::now();
    let mut deadline = start + o.duration + Duration::from_secs(30);

    loop {
        if Instant::now() >= deadline {
            break;
        }
        let wake = if joined_at.is_some() {
            let w = next_video.min(next_audio).min(next_table);
            next_screen.map_or(w, |n| w.min(n))
        } else {
            next_table
        };
        let event = tokio::select! {
            e = events.recv() => match e {
                Some(e) => Some(e),
                None => return Err(member.stopped().unwrap_or_else(|| "the member stopped".into())),
            },
            Some(line) = next_line(&mut chat_lines) => {
                member.send_chat(line).await;
                continue;
            }
            _ = tokio::time::sleep_until(wake) => None,
        };
        if let Some(e) = event {
            match e {
                MeshEvent::Joined { id, peers } => {
                    joined_at = Some(Instant::now());
                    deadline = Instant::now() + o.duration;
                    report.id = Some(id);
                    for p in peers {
                        names.insert(p.id, p.name);
                    }
                    next_video = tokio::time::Instant::now();
                    next_audio = tokio::time::Instant::now();
                }
                MeshEvent::MemberJoined(p) => {
                    names.insert(p.id, p.name);
                }
                MeshEvent::Chat { name, text, .. } => println!("{name}: {text}"),
                MeshEvent::SignalingError { code, message } if joined_at.is_none() => {
                    return Err(format!("signaling refused the join: {code}: {message}"));
                }
                MeshEvent::MemberRemoved { id, reason } => {
                    remotes.remove(&id);
                    // Kept with its totals (even one that never got as far
                    // as a snapshot).
                    let t = report.members.entry(id.clone()).or_default();
                    if t.name.is_empty() {
                        t.name = names.get(&id).cloned().unwrap_or_default();
                    }
                    t.removed = Some(reason.clone());
                    t.state = "Removed".into();
                    report.removed.push((id, reason));
                }
                MeshEvent::Frame { from, frame } => {
                    let r = remotes.entry(from.clone()).or_insert_with(|| Remote {
                        vp8: Vp8Decoder::new().ok(),
                        camera_mid: None,
                        screen: None,
                        audio: AudioPlayout::new(1).ok(),
                    });
                    let p = report.pairs.entry(from.clone()).or_default();
                    if p.name.is_empty() {
                        p.name = names.get(&from).cloned().unwrap_or_else(|| from.clone());
                    }
                    decode(o, r, p, &frame);
                }
                _ => {}
            }
            continue;
        }
        play_audio(&mut remotes, &mut report.pairs);
        if let (Some(sh), Some(at)) = (&mut screen, joined_at) {
            next_screen = sh
                .tick(Instant::now(), at, &member)
                .map(tokio::time::Instant::from_std);
            report.screen_frames_sent = sh.frames_sent;
        }
        let tnow = tokio::time::Instant::now();
        if joined_at.is_some() {
            while next_video <= tnow && video.layers() > 1 {
                let asked = member.take_keyframe_requests();
                let keys: Vec<bool> = (0..video.layers()).map(|i| asked.contains(&i)).collect();
                report.keyframes += asked.len() as u64;
                let t0 = Instant::now();
                let pts = video_no * 1_000_000 / u64::from(fps);
                let frames = video.next_layers(&keys, pts, &member.layer_targets());
                encode_time += t0.elapsed();
                report.frames_encoded += 1;
                let ts = (video_no * 90_000 / u64::from(fps)) as u32;
                // Each layer encoded once and packetized once; every layer
                // of the capture gets the same picture id and RTP time, so
                // a member moved between layers sees one stream.
                let pid = packetizer.next_picture_id();
                let mut layered = Vec::new();
                for (f, pk) in frames.into_iter().zip(&mut layer_packetizers) {
                    pk.set_next_picture_id(pid);
                    let Some((data, _)) = f else { break };
                    match PacketizedFrame::vp8(pk, data.into(), ts, 1100) {
                        Ok(p) => layered.push(Arc::new(p)),
                        Err(_) => break,
                    }
                }
                if !layered.is_empty() {
                    packetizer.set_next_picture_id(pid.wrapping_add(1));
                    member.send_layers(layered);
                }
                video_no += 1;
                next_video += frame_interval;
            }
            while next_video <= tnow {
                let key = member.take_keyframe_request();
                if key {
                    report.keyframes += 1;
                }
                let t0 = Instant::now();
                let pts = video_no * 1_000_000 / u64::from(fps);
                if let Some((data, _)) = video.next(key, pts, Some(member.target_bitrate())) {
                    encode_time += t0.elapsed();
                    report.frames_encoded += 1;
                    let ts = (video_no * 90_000 / u64::from(fps)) as u32;
                    // Encoded once and packetized once for every member.
                    if let Ok(p) = PacketizedFrame::vp8(&mut packetizer, data.into(), ts, 1100) {
                        member.send_frame(Arc::new(p));
                    }
                }
                video_no += 1;
                next_video += frame_interval;
            }
            while next_audio <= tnow {
                if let Ok(p) = opus.encode(&audio.next()) {
                    member.send_frame(Arc::new(PacketizedFrame::opus(p.into(), audio_no * 960)));
                }
                audio_no += 1;
                next_audio += Duration::from_millis(20);
            }
        }
        if tnow >= next_table {
            next_table += Duration::from_millis(500);
            snapshots += 1;
            if let Some(st) = member.stats() {
                accumulate(&mut report.members, &st);
                // In-band FEC for the worst path's reported loss (RFC 7587
                // §6.1: the members asked for it with useinbandfec=1).
                let _ = opus.set_inband_fec(fec_loss_percent(&st));
                if o.live && snapshots % 2 == 0 {
                    eprintln!(
                        "{}",
                        table(&o.name, &st, report, &mut last_table, &mut last_sent)
                    );
                }
            }
        }
    }
    let left_at = Instant::now();
    if let Some(st) = member.stats() {
        accumulate(&mut report.members, &st);
    }
    member.leave();
    // The member leaves, then its event channel closes.
    // (What it reports now is our own leaving: not kept.)
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_secs(2), events.recv()).await {}
    let st = member.stats();
    if let Some(st) = &st {
        accumulate(&mut report.members, st);
    }
    report.bytes_sent = bytes_sent(&report.members);
    report.node = node_json(st.as_ref(), &report.members);
    if let Some(j) = joined_at {
        let secs = left_at.duration_since(j).as_secs_f64().max(0.001);
        report.upstream_kbps = (report.bytes_sent * 8) as f64 / 1000.0 / secs;
    }
    report.encode_ms = if report.frames_encoded > 0 {
        encode_time.as_secs_f64() * 1000.0 / report.frames_encoded as f64
    } else {
        0.0
    };
    if let Some(dir) = &o.record {
        let _ = std::fs::create_dir_all(dir);
        for (id, p) in &report.pairs {
            if let Some(img) = &p.last_frame {
                if let Ok(f) = std::fs::File::create(dir.join(format!("{}-from-{id}.png", o.name)))
                {
                    let _ = write_png(&i420_to_rgb(img), std::io::BufWriter::new(f));
                }
            }
        }
    }
    if joined_at.is_none() {
        return Err("never joined".into());
    }
    Ok(())
}

/// The audio loss the members report (RTCP receiver reports, the worst
/// path's), in percent, for the encoder's in-band FEC: none without loss.
fn fec_loss_percent(st: &MeshStats) -> u8 {
    let worst = st
        .members
        .iter()
        .flat_map(|(_, _, ps)| ps.outbound.iter())
        .filter(|o| o.kind == "audio")
        .map(|o| o.fraction_lost)
        .fold(0.0, f64::max);
    (worst * 100.0).round().clamp(0.0, 100.0) as u8
}

/// Plays out what each member's jitter buffer has due (20 ms frames,
/// decoded, recovered from FEC or concealed) and keeps its counters.
fn play_audio(remotes: &mut BTreeMap<String, Remote>, pairs: &mut BTreeMap<String, PairReport>) {
    let now = std::time::Instant::now();
    for (id, r) in remotes.iter_mut() {
        let Some(a) = &mut r.audio else { continue };
        while a.poll(now).is_some() {}
        let st = a.stats();
        if let Some(p) = pairs.get_mut(id) {
            p.audio_decoded = st.played;
            p.audio_fec = st.fec;
            p.audio_concealed = st.concealed;
            p.audio_late = st.late;
        }
    }
}

fn decode(
    o: &MemberOptions,
    r: &mut Remote,
    p: &mut PairReport,
    frame: &meshrtc_peer::ReceivedFrame,
) {
    match frame.kind {
        MediaKind::Video if r.camera_mid.get_or_insert_with(|| frame.mid.clone()) != &frame.mid => {
            // A second video track: the member's screen (a new m-line
            // each time it starts sharing, so a new decoder then).
            if r.screen.as_ref().is_none_or(|(mid, _)| *mid != frame.mid) {
                r.screen = Vp8Decoder::new().ok().map(|d| (frame.mid.clone(), d));
            }
            if let Some((_, d)) = &mut r.screen {
                match d.decode(&frame.data) {
                    Ok(Some(_)) => p.screen_frames_decoded += 1,
                    Ok(None) => {}
                    Err(_) => p.decode_errors += 1,
                }
            }
        }
        MediaKind::Video => {
            let Some(d) = &mut r.vp8 else { return };
            match d.decode(&frame.data) {
                Ok(Some(img)) => {
                    p.frames_decoded += 1;
                    p.size = (img.width, img.height);
                    if let Some(s) = read_stamp(&img) {
                        let lat = wall_us().saturating_sub(s.capture_time_us) as f64 / 1000.0;
                        if lat < 10_000.0 {
                            p.latency_sum += lat;
                            p.latency_n += 1;
                            p.latency_ms = Some(p.latency_sum / p.latency_n as f64);
                        }
                        if p.last_stamp
                            .is_some_and(|l| s.frame_number != l.wrapping_add(1))
                        {
                            p.stamp_gaps += 1;
                        }
                        p.last_stamp = Some(s.frame_number);
                    }
                    if o.keep_frames || o.record.is_some() {
                        p.last_frame = Some(img);
                    }
                }
                Ok(None) => {}
                Err(_) => p.decode_errors += 1,
            }
        }
        MediaKind::Audio => {
            if let Some(a) = &mut r.audio {
                a.push(
                    std::time::Instant::now(),
                    frame.rtp_timestamp,
                    frame.data.clone(),
                );
            }
        }
        // Frames are audio or video only.
        MediaKind::Application => {}
    }
}

/// The lines typed on stdin, read on a thread of their own (reading
/// blocks); the channel closes at end of input.
fn stdin_lines() -> tokio::sync::mpsc::Receiver<String> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next typed line, or never (no chat, or stdin ended).
async fn next_line(lines: &mut Option<tokio::sync::mpsc::Receiver<String>>) -> Option<String> {
    match lines {
        Some(rx) => match rx.recv().await {
            Some(l) => Some(l),
            None => {
                *lines = None;
                std::future::pending().await
            }
        },
        None => std::future::pending().await,
    }
}

fn table(
    name: &str,
    st: &MeshStats,
    report: &mut MemberReport,
    last_decoded: &mut BTreeMap<String, u64>,
    last_sent: &mut u64,
) -> String {
    // Upstream from the running totals: a member that leaves takes its
    // connection's counters with it, which would read as a drop.
    let sent_now = bytes_sent(&report.members);
    let up = (sent_now.saturating_sub(*last_sent) * 8) as f64 / 1000.0;
    *last_sent = sent_now;
    let mut s = format!(
        "{name} ({}): {} members, up {up:.0} kbit/s, target {} kbit/s",
        st.id.as_deref().unwrap_or("-"),
        st.members.len(),
        st.target_bitrate / 1000
    );
    for (id, mname, ps) in &st.members {
        let decoded = report.pairs.get(id).map_or(0, |p| p.frames_decoded);
        let dec0 = last_decoded.insert(id.clone(), decoded).unwrap_or(decoded);
        let latency = report.pairs.get(id).and_then(|p| p.latency_ms);
        let Some(t) = report.members.get_mut(id) else {
            continue;
        };
        let now = t.counters();
        let before = std::mem::replace(&mut t.at_last_line, now);
        let loss = loss_fraction(before, now);
        s.push_str(&format!(
            "\n  {mname:>12} {id:>4} {:>12} rtt {:>7} target {:>5} kbit/s send {:>5} kB recv {:>5} kbit/s {:>3} fps loss {:>5.1}% latency {}",
            format!("{:?}", ps.state),
            t.rtt_ms.map_or("-".into(), |r| format!("{r:.1}ms")),
            t.target_bitrate.map_or("-".into(), |b| (b / 1000).to_string()),
            now.bytes_sent / 1000,
            (now.bytes_received.saturating_sub(before.bytes_received) * 8) / 1000,
            decoded.saturating_sub(dec0),
            loss * 100.0,
            latency.map_or("-".into(), |l| format!("{l:.1} ms")),
        ));
    }
    s
}

/// The node's final stats and every member's totals, as JSON.
fn node_json(st: Option<&MeshStats>, totals: &BTreeMap<String, MemberTotals>) -> Value {
    json!({
        "id": st.and_then(|s| s.id.clone()),
        "bytes_sent": bytes_sent(totals),
        "target_bitrate": st.map(|s| s.target_bitrate),
        "keyframes_requested": st.map(|s| s.keyframes_requested),
        "layer_targets": st.map(|s| s.layer_targets.clone()),
        "layer_switches": st.map(|s| s.layer_switches),
        "members_failed": st.map(|s| s.members_failed),
        "signaling_errors": st.map(|s| s.signaling_errors),
        "members": totals.iter().map(|(id, t)| {
            let c = t.counters();
            json!({
                "id": id, "name": t.name, "state": t.state, "removed": t.removed,
                "dtls_version": t.dtls_version, "dtls_cipher": t.dtls_cipher,
                "dtls_group": t.dtls_group, "srtp_profile": t.srtp_profile,
                "selected_pair": t.selected_pair,
                "rtt_ms": t.rtt_ms,
                "target_bitrate": t.target_bitrate,
                "bytes_sent": c.bytes_sent,
                "packets_sent": c.packets_sent,
                "bytes_received": c.bytes_received,
                "packets_received": c.packets_received,
                "packets_lost": c.packets_lost,
                "loss": loss_fraction(Counters::default(), c),
                "nacks_sent": c.nacks_sent,
                "plis_sent": c.plis_sent,
                "layer": st.and_then(|s| {
                    let k = s.members.iter().position(|(mid, _, _)| mid == id)?;
                    s.member_layers.get(k).copied()
                }),
            })
        }).collect::<Vec<_>>(),
    })
}

/// A member's report as JSON.
pub fn report_json(r: &MemberReport) -> Value {
    json!({
        "name": r.name,
        "id": r.id,
        "error": r.error,
        "frames_encoded": r.frames_encoded,
        "screen_frames_sent": r.screen_frames_sent,
        "encode_ms": r.encode_ms,
        "keyframes": r.keyframes,
        "bytes_sent": r.bytes_sent,
        "upstream_kbps": r.upstream_kbps,
        "members_seen": r.members.len(),
        "removed": r.removed.iter().map(|(id, why)| json!({"id": id, "reason": why})).collect::<Vec<_>>(),
        "pairs": r.pairs.iter().map(|(id, p)| json!({
            "from_id": id, "from": p.name, "frames_decoded": p.frames_decoded,
            "decode_errors": p.decode_errors, "stamp_gaps": p.stamp_gaps,
            "latency_ms": p.latency_ms, "audio_decoded": p.audio_decoded,
            "audio_fec": p.audio_fec, "audio_concealed": p.audio_concealed,
            "audio_late": p.audio_late, "screen_frames_decoded": p.screen_frames_decoded,
            "width": p.size.0, "height": p.size.1,
        })).collect::<Vec<_>>(),
        "node": r.node,
    })
}

/// A contact sheet: row `i` shows what member `i` decoded from each other
/// member (columns in the same order), scaled to `cell` pixels wide.
pub fn contact_sheet(reports: &[MemberReport], cell: (u32, u32)) -> RgbImage {
    let n = reports.len() as u32;
    let mut sheet = RgbImage::new(cell.0 * n.max(1), cell.1 * n.max(1));
    for (row, r) in reports.iter().enumerate() {
        for (col, sender) in reports.iter().enumerate() {
            if row == col {
                continue;
            }
            let Some(id) = &sender.id else { continue };
            let Some(img) = r.pairs.get(id).and_then(|p| p.last_frame.as_ref()) else {
                continue;
            };
            let rgb = i420_to_rgb(img);
            let scaled = scale(&rgb, cell);
            sheet.blit(&scaled, col as u32 * cell.0, row as u32 * cell.1);
        }
    }
    sheet
}

fn scale(src: &RgbImage, (w, h): (u32, u32)) -> RgbImage {
    let mut out = RgbImage::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let sx = (u64::from(x) * u64::from(src.width) / u64::from(w.max(1))) as usize;
            let sy = (u64::from(y) * u64::from(src.height) / u64::from(h.max(1))) as usize;
            let si = (sy * src.width as usize + sx) * 3;
            let di = (y as usize * w as usize + x as usize) * 3;
            if let (Some(s), Some(d)) = (src.data.get(si..si + 3), out.data.get_mut(di..di + 3)) {
                d.copy_from_slice(s);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(received: u64, lost: u64) -> Counters {
        Counters {
            packets_received: received,
            packets_lost: lost,
            ..Counters::default()
        }
    }

    #[test]
    fn loss_is_a_share_of_the_packets_expected_in_the_interval() {
        // 90 arrived and 10 went missing in the interval: 10%, not 10/90.
        assert_eq!(loss_fraction(at(100, 5), at(190, 15)), 0.1);
        // Everything lost is 100%, never more.
        assert_eq!(loss_fraction(at(100, 0), at(100, 50)), 1.0);
        // Late packets lowered the cumulative count: no loss, not negative.
        assert_eq!(loss_fraction(at(100, 10), at(150, 4)), 0.0);
        // Nothing expected: nothing lost.
        assert_eq!(loss_fraction(at(7, 1), at(7, 1)), 0.0);
    }
}

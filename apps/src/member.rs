//! A mesh member on real sockets: `meshrtc join`, and each member of
//! `meshrtc demo`.
//!
//! The networking is the library's (`meshrtc_mesh::driver`: the sans-IO
//! mesh node, its signaling client and sockets in one task); this is the
//! media around it: every frame is encoded once (VP8 test pattern or an IVF
//! file, Opus tone or a WAV file) and packetized once, then handed to every
//! connected member. What arrives is decoded per member; frame numbers and
//! capture times come back from the pixels.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshrtc_media::opus::{OpusDecoder, OpusEncoder};
use meshrtc_media::sink::{i420_to_rgb, write_png, RgbImage};
use meshrtc_media::source::read_stamp;
use meshrtc_media::vp8::{I420Frame, Vp8Decoder};
use meshrtc_mesh::driver::{join, MemberConfig};
use meshrtc_mesh::{MeshEvent, MeshStats};
use meshrtc_peer::PacketizedFrame;
use meshrtc_rtp::vp8::Vp8Packetizer;
use meshrtc_sdp::negotiate::MediaKind;
use serde_json::{json, Value};

use crate::sources::{wall_us, AudioIn, VideoIn};

/// What a member is told to do.
#[derive(Debug, Clone)]
pub struct MemberOptions {
    /// `ws://host:port/ws`.
    pub server: String,
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
    /// Send this IVF (VP8) file's frames instead of the test pattern.
    pub video_in: Option<PathBuf>,
    /// Send this WAV (48 kHz mono 16-bit) instead of the tone.
    pub audio_in: Option<PathBuf>,
    /// White squares on the test pattern's ramp (the demo gives member k
    /// k squares).
    pub marks: Option<u32>,
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
    /// Audio packets decoded.
    pub audio_decoded: u64,
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
    /// Mean encode time.
    pub encode_ms: f64,
    /// Key frames made on request.
    pub keyframes: u64,
    /// Payload bytes sent to all members.
    pub bytes_sent: u64,
    /// Upstream bitrate over the run.
    pub upstream_kbps: f64,
    /// The node's final stats, as JSON.
    pub node: Value,
    /// Why it stopped early, if it did.
    pub error: Option<String>,
    /// Members removed and why.
    pub removed: Vec<(String, String)>,
}

struct Remote {
    vp8: Option<Vp8Decoder>,
    opus: Option<OpusDecoder>,
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
    cfg.bind = o.bind.clone();
    let (member, mut events) = join(cfg).await.map_err(|e| e.to_string())?;
    let mut video = VideoIn::open(
        o.video_in.as_deref(),
        (o.width, o.height, o.fps),
        600_000,
        o.marks,
    )?;
    let mut audio = AudioIn::open(o.audio_in.as_deref())?;
    let mut opus = OpusEncoder::new(48_000, 1, 32_000).map_err(|e| e.to_string())?;
    let mut packetizer = Vp8Packetizer::new(first_picture_id()?);
    let mut remotes: BTreeMap<String, Remote> = BTreeMap::new();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let frame_interval = Duration::from_secs_f64(1.0 / f64::from(o.fps.max(1)));
    let mut next_video = tokio::time::Instant::now();
    let mut next_audio = tokio::time::Instant::now();
    let mut next_table = tokio::time::Instant::now() + Duration::from_secs(1);
    let mut joined_at: Option<Instant> = None;
    let mut encode_time = Duration::ZERO;
    let mut video_no: u64 = 0;
    let mut audio_no: u32 = 0;
    let mut last_table: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut last_sent = 0u64;
    let start = Instant::now();
    let mut deadline = start + o.duration + Duration::from_secs(30);

    loop {
        if Instant::now() >= deadline {
            break;
        }
        let wake = if joined_at.is_some() {
            next_video.min(next_audio).min(next_table)
        } else {
            next_table
        };
        let event = tokio::select! {
            e = events.recv() => match e {
                Some(e) => Some(e),
                None => return Err(member.stopped().unwrap_or_else(|| "the member stopped".into())),
            },
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
                MeshEvent::SignalingError { code, message } if joined_at.is_none() => {
                    return Err(format!("signaling refused the join: {code}: {message}"));
                }
                MeshEvent::MemberRemoved { id, reason } => {
                    remotes.remove(&id);
                    report.removed.push((id, reason));
                }
                MeshEvent::Frame { from, frame } => {
                    let r = remotes.entry(from.clone()).or_insert_with(|| Remote {
                        vp8: Vp8Decoder::new().ok(),
                        opus: OpusDecoder::new(48_000, 1).ok(),
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
        let tnow = tokio::time::Instant::now();
        if joined_at.is_some() {
            while next_video <= tnow {
                let key = member.take_keyframe_request();
                if key {
                    report.keyframes += 1;
                }
                let t0 = Instant::now();
                let pts = video_no * 1_000_000 / u64::from(o.fps.max(1));
                if let Some((data, _)) = video.next(key, pts, Some(member.target_bitrate())) {
                    encode_time += t0.elapsed();
                    report.frames_encoded += 1;
                    let ts = (video_no * 90_000 / u64::from(o.fps.max(1))) as u32;
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
            next_table += Duration::from_secs(1);
            if o.live {
                if let Some(st) = member.stats() {
                    eprintln!(
                        "{}",
                        table(&o.name, &st, report, &mut last_table, &mut last_sent)
                    );
                }
            }
        }
    }
    member.leave();
    // The member leaves, then its event channel closes.
    // (What it reports now is our own leaving: not kept.)
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_secs(2), events.recv()).await {}
    let st = member.stats();
    if let Some(st) = &st {
        report.bytes_sent = st.bytes_sent;
        report.node = node_json(st);
    }
    if let Some(j) = joined_at {
        let secs = j.elapsed().as_secs_f64().max(0.001);
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

fn decode(
    o: &MemberOptions,
    r: &mut Remote,
    p: &mut PairReport,
    frame: &meshrtc_peer::ReceivedFrame,
) {
    match frame.kind {
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
            if let Some(d) = &mut r.opus {
                if d.decode(Some(&frame.data)).is_ok() {
                    p.audio_decoded += 1;
                }
            }
        }
    }
}

fn table(
    name: &str,
    st: &MeshStats,
    report: &MemberReport,
    last: &mut BTreeMap<String, (u64, u64)>,
    last_sent: &mut u64,
) -> String {
    let up = (st.bytes_sent.saturating_sub(*last_sent) * 8) as f64 / 1000.0;
    *last_sent = st.bytes_sent;
    let mut s = format!(
        "{name} ({}): {} members, up {up:.0} kbit/s, target {} kbit/s",
        st.id.as_deref().unwrap_or("-"),
        st.members.len(),
        st.target_bitrate / 1000
    );
    for (id, mname, ps) in &st.members {
        let rtt = ps.outbound.iter().find_map(|o| o.rtt_ms);
        let sent: u64 = ps.outbound.iter().map(|o| o.bytes_sent).sum();
        let recv: u64 = ps.inbound.iter().map(|i| i.bytes_received).sum();
        let decoded = report.pairs.get(id).map_or(0, |p| p.frames_decoded);
        let (recv0, dec0) = last.get(id).copied().unwrap_or((recv, decoded));
        last.insert(id.clone(), (recv, decoded));
        let loss = ps
            .inbound
            .iter()
            .map(|i| i.packets_lost.max(0) as f64 / (i.packets_received.max(1) as f64))
            .fold(0.0, f64::max);
        let p = report.pairs.get(id);
        s.push_str(&format!(
            "\n  {mname:>12} {id:>4} {:>12} rtt {:>7} send {:>5} kB recv {:>5} kbit/s {:>3} fps loss {:>4.1}% latency {}",
            format!("{:?}", ps.state),
            rtt.map_or("-".into(), |r| format!("{r:.1}ms")),
            sent / 1000,
            ((recv - recv0.min(recv)) * 8) / 1000,
            decoded - dec0.min(decoded),
            loss * 100.0,
            p.and_then(|p| p.latency_ms).map_or("-".into(), |l| format!("{l:.1} ms")),
        ));
    }
    s
}

fn node_json(st: &MeshStats) -> Value {
    json!({
        "id": st.id,
        "bytes_sent": st.bytes_sent,
        "target_bitrate": st.target_bitrate,
        "keyframes_requested": st.keyframes_requested,
        "members_failed": st.members_failed,
        "signaling_errors": st.signaling_errors,
        "members": st.members.iter().map(|(id, name, s)| json!({
            "id": id, "name": name, "state": format!("{:?}", s.state),
            "dtls_cipher": s.dtls_cipher, "srtp_profile": s.srtp_profile,
            "selected_pair": s.selected_pair.map(|(l, r)| format!("{l} -> {r}")),
            "rtt_ms": s.outbound.iter().find_map(|o| o.rtt_ms),
            "packets_sent": s.outbound.iter().map(|o| o.packets_sent).sum::<u64>(),
            "packets_received": s.inbound.iter().map(|i| i.packets_received).sum::<u64>(),
            "nacks_sent": s.inbound.iter().map(|i| i.nacks_sent).sum::<u64>(),
            "plis_sent": s.inbound.iter().map(|i| i.plis_sent).sum::<u64>(),
        })).collect::<Vec<_>>(),
    })
}

/// A member's report as JSON.
pub fn report_json(r: &MemberReport) -> Value {
    json!({
        "name": r.name,
        "id": r.id,
        "error": r.error,
        "frames_encoded": r.frames_encoded,
        "encode_ms": r.encode_ms,
        "keyframes": r.keyframes,
        "bytes_sent": r.bytes_sent,
        "upstream_kbps": r.upstream_kbps,
        "removed": r.removed.iter().map(|(id, why)| json!({"id": id, "reason": why})).collect::<Vec<_>>(),
        "pairs": r.pairs.iter().map(|(id, p)| json!({
            "from_id": id, "from": p.name, "frames_decoded": p.frames_decoded,
            "decode_errors": p.decode_errors, "stamp_gaps": p.stamp_gaps,
            "latency_ms": p.latency_ms, "audio_decoded": p.audio_decoded,
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

//! `meshrtc offer` and `meshrtc answer`: the copy-paste call of the sandbox
//! app this project grew from, over the tokio driver.
//!
//! Only the SDP goes to stdout (followed by an empty line), so the commands
//! can be scripted; live stats and logs go to stderr. The call sends the
//! synthetic sources (a test pattern that carries its frame number and
//! capture time in its pixels, a tone with beeps) or IVF/WAV files, and
//! decodes what arrives: frames decoded, decode errors and end-to-end
//! latency (from the pixel timestamps; both ends on one machine share the
//! wall clock) are counted per remote track.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use meshrtc_cc::{EncoderOvershoot, FramePushback};
use meshrtc_media::audio_playout::AudioPlayout;
use meshrtc_media::opus::OpusEncoder;
use meshrtc_media::sink::{i420_to_rgb, write_png, IvfWriter, WavWriter};
use meshrtc_media::source::read_stamp;
use meshrtc_media::vp8::{I420Frame, Vp8Decoder};
use meshrtc_peer::driver::{spawn, DriverConfig, PeerHandle, DEFAULT_STUN};
use meshrtc_peer::{ConnectionState, PacketizedFrame, PeerEvent, PeerStats, SdpType};
use meshrtc_rtp::vp8::Vp8Packetizer;
use meshrtc_sdp::negotiate::MediaKind;
use serde_json::{json, Value};

use crate::ladder::ResolutionLadder;
use crate::sources::{runtime, wall_us, AudioIn, SourceKind, VideoIn, VideoSpec};

/// Options shared by `offer` and `answer`.
#[derive(Debug, Clone, clap::Args)]
pub struct CallArgs {
    /// How long to run the call once the SDP exchange is done, in seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Write what arrives there: one IVF per remote video track, one WAV
    /// per remote audio track, and a PNG of the last decoded frame.
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,
    /// Write the final statistics there as JSON.
    #[arg(long, value_name = "FILE")]
    stats_json: Option<PathBuf>,
    /// Wrap the SDP printed (and expect the SDP read) in base64, for
    /// pasting into a chat.
    #[arg(long)]
    base64: bool,
    /// A STUN server (`stun:host[:port]`); repeatable. Default: Google's.
    #[arg(long, value_name = "URL")]
    stun: Vec<String>,
    /// No STUN server: host candidates only.
    #[arg(long)]
    no_stun: bool,
    /// Bind only these local addresses (default: every IPv4 interface).
    #[arg(long, value_name = "IP")]
    bind: Vec<IpAddr>,
    /// Video size and rate of the test pattern.
    #[arg(long, default_value_t = 640)]
    width: u32,
    /// See `--width`.
    #[arg(long, default_value_t = 360)]
    height: u32,
    /// Frames per second.
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// Video bitrate in kbit/s to start at and never exceed; once the
    /// connection's congestion controller has an estimate, the encoder
    /// follows it below this.
    #[arg(long, default_value_t = 800)]
    video_kbps: u32,
    /// The synthetic video: `pattern` (colour bars, a bouncing box; cheap
    /// to encode) or `texture` (a panned detailed texture with noise, like a
    /// camera: about 2 Mbit/s at 640x360 and 30 fps).
    #[arg(
        long,
        value_enum,
        value_name = "pattern|texture",
        conflicts_with = "video_in"
    )]
    source: Option<SourceKind>,
    /// Send this file instead of the synthetic source (looped): a Y4M
    /// (YUV4MPEG2, 8-bit 4:2:0) file is encoded live and follows the
    /// congestion controller's target like the synthetic sources, at the
    /// file's own size and rate; an IVF file's VP8 frames are sent as they
    /// are, so their bitrate cannot adapt to the network.
    #[arg(long, value_name = "FILE")]
    video_in: Option<PathBuf>,
    /// Send this WAV (16-bit, 48 kHz) file instead of the tone (looped).
    #[arg(long, value_name = "FILE")]
    audio_in: Option<PathBuf>,
    /// Append NSS key log lines (`CLIENT_RANDOM ...`) to this file so
    /// Wireshark can decrypt the DTLS; `SSLKEYLOGFILE` works too.
    #[arg(long, value_name = "FILE")]
    keylog: Option<PathBuf>,
    /// Write every datagram sent and received to this pcapng file, with
    /// the DTLS key log embedded (Wireshark decrypts DTLS 1.2 with it)
    /// and the SRTP keys in a packet comment (`meshrtc decode` reads it).
    #[arg(long, value_name = "FILE.pcapng")]
    capture: Option<PathBuf>,
    /// Write the call's state changes and estimator decisions (every
    /// meshrtc `debug` event, whatever `--log` says) to this file, one JSON
    /// object a line with its wall-clock time; `meshrtc timeline` draws
    /// them beside the capture's packets.
    #[arg(long, value_name = "FILE.jsonl")]
    pub(crate) trace: Option<PathBuf>,
    /// Let the picture size follow the encoder's bitrate: each side halved
    /// when the link is too slow for the full size at the full frame rate,
    /// restored when it allows (see `ladder`). Each change is a key frame.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    adapt_resolution: bool,
    /// Print live statistics on stderr every second.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    live: bool,
    /// DTLS versions to speak: `1.2`, `1.3` or `both` (1.3 when the peer
    /// speaks it, else 1.2).
    #[arg(long, value_enum, value_name = "1.2|1.3|both", default_value = "both")]
    dtls: crate::dtls_flag::DtlsFlag,
    /// STUN/TURN servers (`--ice-server`, besides `--stun`).
    #[command(flatten)]
    ice: crate::ice_server_args::IceServerArgs,
    /// `relay`: gather and signal TURN relay candidates only (a browser's
    /// `iceTransportPolicy: "relay"`); needs a `turn:` `--ice-server`.
    #[arg(long, value_name = "all|relay", default_value = "all", value_parser = ["all", "relay"])]
    ice_transport_policy: String,
}

/// `meshrtc offer`.
#[derive(Debug, clap::Args)]
pub struct OfferArgs {
    #[command(flatten)]
    pub(crate) call: CallArgs,
    /// Read the answer from this file (waiting until it appears) instead
    /// of stdin.
    #[arg(long, value_name = "FILE")]
    answer_file: Option<PathBuf>,
}

/// `meshrtc answer`.
#[derive(Debug, clap::Args)]
pub struct AnswerArgs {
    #[command(flatten)]
    pub(crate) call: CallArgs,
    /// Read the offer from this file (waiting until it appears) instead of
    /// stdin.
    #[arg(long, value_name = "FILE")]
    offer_file: Option<PathBuf>,
}

/// Runs `meshrtc offer`.
pub fn offer(args: OfferArgs) -> ExitCode {
    finish(
        "offer",
        runtime().and_then(|rt| rt.block_on(run_offer(args))),
    )
}

/// Runs `meshrtc answer`.
pub fn answer(args: AnswerArgs) -> ExitCode {
    finish(
        "answer",
        runtime().and_then(|rt| rt.block_on(run_answer(args))),
    )
}

fn finish(cmd: &str, r: Result<(), String>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("meshrtc {cmd}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn driver_config(a: &CallArgs) -> Result<DriverConfig, String> {
    let mut peer = meshrtc_peer::driver::os_peer_config().map_err(|e| e.to_string())?;
    peer.key_log =
        a.keylog.is_some() || a.capture.is_some() || std::env::var_os("SSLKEYLOGFILE").is_some();
    peer.dtls_versions = a.dtls.into();
    let mut c = DriverConfig::new(peer);
    let (servers, hosts) = a.ice.ice_servers()?;
    let apply = meshrtc_mesh::ice_servers::apply_resolved;
    if let Some(skipped) = apply(&servers, &hosts, &mut c.peer.ice).first() {
        return Err(format!("--ice-server {skipped}"));
    }
    c.turn_tls = a.ice.turn_tls()?;
    c.peer.ice.relay_only = a.ice_transport_policy == "relay";
    if c.peer.ice.relay_only && c.peer.ice.turn_servers.is_empty() {
        return Err("--ice-transport-policy relay needs a turn: or turns: --ice-server".into());
    }
    c.bind = a.bind.clone();
    c.stun_urls = if a.no_stun {
        Vec::new()
    } else if a.stun.is_empty() {
        vec![DEFAULT_STUN.to_string()]
    } else {
        a.stun.clone()
    };
    Ok(c)
}

/// Prints an SDP (or its base64) and an empty line, then flushes.
fn print_sdp(sdp: &str, b64: bool) {
    let mut out = std::io::stdout().lock();
    if b64 {
        let _ = writeln!(
            out,
            "{}",
            base64::engine::general_purpose::STANDARD.encode(sdp)
        );
    } else {
        let _ = write!(out, "{sdp}");
    }
    let _ = writeln!(out);
    let _ = out.flush();
}

/// The SDP text from what the user gave: plain, or base64 of it.
fn decode_sdp(text: &str, b64: bool) -> Result<String, String> {
    let t = text.trim();
    if b64 || !t.starts_with("v=") {
        let compact: String = t.split_whitespace().collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|e| format!("the SDP is neither plain text nor base64: {e}"))?;
        return String::from_utf8(bytes).map_err(|_| "the base64 SDP is not UTF-8".into());
    }
    // Line endings as SDP wants them (a paste may have lost the CRs).
    let mut s: String = t.lines().map(|l| format!("{}\r\n", l.trim_end())).collect();
    if s.is_empty() {
        s.push_str("\r\n");
    }
    Ok(s)
}

/// Reads an SDP from stdin until EOF or an empty line.
fn read_sdp_stdin() -> Result<String, String> {
    let stdin = std::io::stdin();
    let mut text = String::new();
    for line in stdin.lock().lines() {
        let line = line.map_err(|e| format!("cannot read stdin: {e}"))?;
        if line.trim().is_empty() {
            if text.is_empty() {
                continue;
            }
            break;
        }
        text.push_str(&line);
        text.push('\n');
    }
    if text.is_empty() {
        return Err("no SDP on stdin".into());
    }
    Ok(text)
}

/// Waits until `path` holds a whole description (it ends with an empty
/// line, or parses as SDP), then returns it.
async fn read_sdp_file(path: &Path, b64: bool) -> Result<String, String> {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            let ended = text.ends_with("\n\n") || text.ends_with("\r\n\r\n");
            let parses = decode_sdp(&text, b64)
                .map(|s| meshrtc_sdp::SessionDescription::parse(&s).is_ok())
                .unwrap_or(false);
            if !text.trim().is_empty() && (ended || parses) {
                return Ok(text);
            }
        }
        if start.elapsed() > Duration::from_secs(600) {
            return Err(format!(
                "{} did not appear within 10 minutes",
                path.display()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for gathering to complete (at most `limit`), keeping the events.
async fn wait_gathered(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<PeerEvent>,
    kept: &mut Vec<PeerEvent>,
    limit: Duration,
) {
    let _ = tokio::time::timeout(limit, async {
        while let Some(e) = events.recv().await {
            let done = matches!(e, PeerEvent::GatheringComplete);
            kept.push(e);
            if done {
                return;
            }
        }
    })
    .await;
}

async fn run_offer(args: OfferArgs) -> Result<(), String> {
    let a = &args.call;
    let mut config = driver_config(a)?;
    let capture = crate::capture::attach(a.capture.as_deref(), "offer", &mut config.tap)?;
    let start_bps = config.peer.bitrate.start_bitrate;
    let (pc, mut events) = spawn(config).await.map_err(|e| e.to_string())?;
    pc.add_transceiver(MediaKind::Video, true, true)
        .await
        .map_err(|e| e.to_string())?;
    pc.add_transceiver(MediaKind::Audio, true, true)
        .await
        .map_err(|e| e.to_string())?;
    pc.create_offer().await.map_err(|e| e.to_string())?;
    let mut kept = Vec::new();
    wait_gathered(&mut events, &mut kept, Duration::from_secs(5)).await;
    let offer = pc
        .local_description()
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no local description")?;
    print_sdp(&offer, a.base64);
    eprintln!("meshrtc offer: offer printed; waiting for the answer");
    let text = match &args.answer_file {
        Some(p) => read_sdp_file(p, a.base64).await?,
        None => tokio::task::spawn_blocking(read_sdp_stdin)
            .await
            .map_err(|e| e.to_string())??,
    };
    let answer = decode_sdp(&text, a.base64)?;
    pc.set_remote_description(SdpType::Answer, answer)
        .await
        .map_err(|e| format!("the answer was refused: {e}"))?;
    let r = run_call("offer", a, start_bps, pc, events, kept).await;
    crate::capture::close(capture, "offer")?;
    r
}

async fn run_answer(args: AnswerArgs) -> Result<(), String> {
    let a = &args.call;
    let text = match &args.offer_file {
        Some(p) => read_sdp_file(p, a.base64).await?,
        None => tokio::task::spawn_blocking(read_sdp_stdin)
            .await
            .map_err(|e| e.to_string())??,
    };
    let offer = decode_sdp(&text, a.base64)?;
    let mut config = driver_config(a)?;
    let capture = crate::capture::attach(a.capture.as_deref(), "answer", &mut config.tap)?;
    let start_bps = config.peer.bitrate.start_bitrate;
    let (pc, mut events) = spawn(config).await.map_err(|e| e.to_string())?;
    pc.add_answer_track(MediaKind::Video)
        .map_err(|e| e.to_string())?;
    pc.add_answer_track(MediaKind::Audio)
        .map_err(|e| e.to_string())?;
    pc.set_remote_description(SdpType::Offer, offer)
        .await
        .map_err(|e| format!("the offer was refused: {e}"))?;
    pc.create_answer()
        .await
        .map_err(|e| format!("cannot answer: {e}"))?;
    let mut kept = Vec::new();
    wait_gathered(&mut events, &mut kept, Duration::from_secs(5)).await;
    let answer = pc
        .local_description()
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no local description")?;
    print_sdp(&answer, a.base64);
    let r = run_call("answer", a, start_bps, pc, events, kept).await;
    crate::capture::close(capture, "answer")?;
    r
}

/// Plays out each audio track's due frames (decoded from their packet or
/// its successor's FEC, or concealed) into its WAV recording, if any.
fn play_audio(remotes: &mut HashMap<u32, Remote>) {
    let now = Instant::now();
    for r in remotes.values_mut() {
        let Some(a) = &mut r.audio else { continue };
        while let Some(pcm) = a.poll(now) {
            if let Some(w) = &mut r.wav {
                let _ = w.write_samples(&pcm);
            }
        }
        let st = a.stats();
        r.decoded = st.played + st.fec;
        r.decode_errors = a.decode_errors();
    }
}

/// What arrives on one remote track.
#[derive(Default)]
struct Remote {
    kind: String,
    frames: u64,
    decoded: u64,
    decode_errors: u64,
    keyframes: u64,
    latency_sum_ms: f64,
    latency_n: u64,
    /// Latencies since the last timeline sample.
    latency_window: Vec<f64>,
    last_stamp: Option<u32>,
    stamp_gaps: u64,
    width: u32,
    height: u32,
    last_frame: Option<I420Frame>,
    vp8: Option<Vp8Decoder>,
    /// Opus through a jitter buffer, played out every 20 ms.
    audio: Option<AudioPlayout>,
    ivf: Option<IvfWriter<std::fs::File>>,
    wav: Option<WavWriter<std::fs::File>>,
}

/// How often the video encoder's bitrate follows the estimate.
const BITRATE_INTERVAL: Duration = Duration::from_millis(250);
/// The least bitrate asked of the video encoder, bit/s.
const MIN_VIDEO_BPS: u64 = 30_000;

/// The video encoder's share of a connection estimate: its fixed share
/// ([`meshrtc_peer::video_encoder_target`], audio left its allowance)
/// within `MIN_VIDEO_BPS..=cap`; the encoder is asked for it over its
/// measured overshoot (`follow_estimate`). Not the connection's measured
/// `video_budget`, which fills the estimate: with libvpx on a real 300
/// kbit/s `tc tbf` uplink that let the queue the estimator tolerates
/// stand (median latency under 12 ms in none of six calls, against three
/// of six; BENCHMARKS.md, "The encoder fills its estimate").
fn video_bitrate(estimate: u64, cap_kbps: u32) -> u32 {
    let video = meshrtc_peer::video_encoder_target(estimate, true);
    let cap = u64::from(cap_kbps.saturating_mul(1000)).max(MIN_VIDEO_BPS);
    video.clamp(MIN_VIDEO_BPS, cap) as u32
}

/// What the encoder's rate follows besides the estimate.
#[derive(Default)]
struct RateFollow {
    /// Skipping every other capture while the queue stands and skipping
    /// drains it.
    pushback: FramePushback,
    /// What the encoder produced against what it was asked for: it is
    /// asked for its share over that (libvpx overshot a 157 kbit/s target
    /// by 1.3-1.4 for seconds on a 300 kbit/s link, and the queue stood at
    /// 50-160 ms; BENCHMARKS.md, "Probes through a token bucket").
    overshoot: EncoderOvershoot,
}

async fn run_call(
    role: &str,
    a: &CallArgs,
    start_bps: u64,
    pc: PeerHandle,
    mut events: tokio::sync::mpsc::UnboundedReceiver<PeerEvent>,
    kept: Vec<PeerEvent>,
) -> Result<(), String> {
    // The encoder starts at its share of the estimator's first target
    // (not above `--video-kbps`): a first key frame far above the link
    // would fill its queue before the first feedback.
    let mut follow = RateFollow::default();
    let first_bps = video_bitrate(start_bps, a.video_kbps);
    let mut video = VideoIn::open(VideoSpec {
        file: a.video_in.as_deref(),
        source: a.source.unwrap_or_default(),
        width: a.width,
        height: a.height,
        fps: a.fps,
        bps: first_bps,
        marks: None,
        layers: 1,
    })?;
    let fps = video.fps().unwrap_or(a.fps).max(1);
    let mut video_bps: Option<u32> = Some(first_bps);
    // The picture's size follows the bitrate (`--adapt-resolution`).
    let mut ladder = a
        .adapt_resolution
        .then(|| video.size().map(|(w, h)| ResolutionLadder::new(w, h, fps)))
        .flatten();
    let mut next_bitrate = tokio::time::Instant::now() + BITRATE_INTERVAL;
    let mut frames_skipped = 0u64;
    let mut audio = AudioIn::open(a.audio_in.as_deref())?;
    let mut opus = OpusEncoder::new(48_000, 1, 32_000).map_err(|e| e.to_string())?;
    let mut packetizer = Vp8Packetizer::new(crate::member::first_picture_id()?);
    let keylog_path = a
        .keylog
        .clone()
        .or_else(|| std::env::var_os("SSLKEYLOGFILE").map(PathBuf::from));
    if let Some(dir) = &a.record {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut remotes: HashMap<u32, Remote> = HashMap::new();
    let mut connected_at: Option<Instant> = None;
    let mut failure: Option<String> = None;
    let mut force_key = true;
    let mut video_mid = None;
    let mut audio_mid = None;
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(a.duration.max(0.0));
    let frame_interval = Duration::from_secs_f64(1.0 / f64::from(fps));
    let mut next_video = tokio::time::Instant::now();
    let mut next_audio = tokio::time::Instant::now();
    let mut next_stats = tokio::time::Instant::now() + Duration::from_secs(1);
    let mut timeline: Vec<Value> = Vec::new();
    let mut video_sent = 0u64;
    let mut audio_sent = 0u32;
    let mut last_stats: Option<PeerStats> = None;
    let mut pending: std::collections::VecDeque<PeerEvent> = kept.into();

    loop {
        let now = Instant::now();
        if now >= deadline && connected_at.is_some() || now >= deadline + Duration::from_secs(20) {
            break;
        }
        if failure.is_some() {
            break;
        }
        let event = match pending.pop_front() {
            Some(e) => Some(e),
            None => {
                let wake = if connected_at.is_some() {
                    next_video.min(next_audio).min(next_stats).min(next_bitrate)
                } else {
                    next_stats
                };
                tokio::select! {
                    e = events.recv() => match e {
                        Some(e) => Some(e),
                        None => { failure = Some("the connection task stopped".into()); None }
                    },
                    _ = tokio::time::sleep_until(wake) => None,
                }
            }
        };
        if let Some(e) = event {
            match e {
                PeerEvent::ConnectionStateChanged(s) => {
                    eprintln!("meshrtc {role}: connection {s:?}");
                    match s {
                        ConnectionState::Connected if connected_at.is_none() => {
                            connected_at = Some(Instant::now());
                            let mids = pc.sending_mids().await.map_err(|e| e.to_string())?;
                            video_mid = mids
                                .iter()
                                .find(|m| m.1 == MediaKind::Video)
                                .map(|m| m.0.clone());
                            audio_mid = mids
                                .iter()
                                .find(|m| m.1 == MediaKind::Audio)
                                .map(|m| m.0.clone());
                            next_video = tokio::time::Instant::now();
                            next_audio = tokio::time::Instant::now();
                        }
                        ConnectionState::Failed | ConnectionState::Closed => {
                            failure = Some(format!("connection {s:?}"));
                        }
                        _ => {}
                    }
                }
                PeerEvent::Closed(why) => {
                    eprintln!("meshrtc {role}: closed: {why}");
                    failure.get_or_insert(why);
                }
                PeerEvent::KeyLog(line) => {
                    if let Some(p) = &keylog_path {
                        if let Ok(mut f) = std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(p)
                        {
                            let _ = writeln!(f, "{line}");
                        }
                    }
                }
                PeerEvent::TrackAdded { mid, kind, ssrc } => {
                    eprintln!(
                        "meshrtc {role}: remote {} track on mid {mid}, ssrc {ssrc:#010x}",
                        kind.as_str()
                    );
                    let mut r = Remote {
                        kind: kind.as_str().into(),
                        ..Remote::default()
                    };
                    match kind {
                        MediaKind::Video => {
                            r.vp8 = Vp8Decoder::new().ok();
                            if let Some(dir) = &a.record {
                                let path = dir.join(format!("video-{ssrc:08x}.ivf"));
                                r.ivf = std::fs::File::create(&path).ok().and_then(|f| {
                                    IvfWriter::new(f, *b"VP80", 0, 0, 1, 90_000).ok()
                                });
                            }
                        }
                        MediaKind::Audio => {
                            r.audio = AudioPlayout::new(1).ok();
                            if let Some(dir) = &a.record {
                                let path = dir.join(format!("audio-{ssrc:08x}.wav"));
                                r.wav = std::fs::File::create(&path)
                                    .ok()
                                    .and_then(|f| WavWriter::new(f, 48_000, 1).ok());
                            }
                        }
                        // No track is ever added on the data m-line.
                        MediaKind::Application => {}
                    }
                    remotes.insert(ssrc, r);
                }
                PeerEvent::Frame(f) => {
                    let r = remotes.entry(f.ssrc).or_default();
                    r.frames += 1;
                    r.keyframes += u64::from(f.keyframe);
                    if let Some(w) = &mut r.ivf {
                        let _ = w.write_frame(&f.data, u64::from(f.rtp_timestamp));
                    }
                    if let Some(d) = &mut r.vp8 {
                        match d.decode(&f.data) {
                            Ok(Some(img)) => {
                                r.decoded += 1;
                                r.width = img.width;
                                r.height = img.height;
                                if let Some(s) = read_stamp(&img) {
                                    let lat =
                                        wall_us().saturating_sub(s.capture_time_us) as f64 / 1000.0;
                                    if lat < 10_000.0 {
                                        r.latency_sum_ms += lat;
                                        r.latency_n += 1;
                                        r.latency_window.push(lat);
                                    }
                                    if let Some(last) = r.last_stamp {
                                        if s.frame_number != last.wrapping_add(1) {
                                            r.stamp_gaps += 1;
                                        }
                                    }
                                    r.last_stamp = Some(s.frame_number);
                                }
                                r.last_frame = Some(img);
                            }
                            Ok(None) => {}
                            Err(_) => r.decode_errors += 1,
                        }
                    }
                    if let Some(a) = &mut r.audio {
                        a.push(Instant::now(), f.rtp_timestamp, f.data.clone());
                    }
                }
                PeerEvent::KeyframeRequested { .. } => force_key = true,
                _ => {}
            }
            continue;
        }
        // Timers.
        play_audio(&mut remotes);
        let tnow = tokio::time::Instant::now();
        if connected_at.is_some() && Instant::now() < deadline {
            while next_video <= tnow {
                // Every other capture is skipped while the link's queue
                // stands (see `FramePushback`), not at a key frame.
                if follow.pushback.skipping() && !force_key && video_sent % 2 == 1 {
                    video_sent += 1;
                    next_video += frame_interval;
                    frames_skipped += 1;
                    continue;
                }
                let pts = video_sent * 1_000_000 / u64::from(fps);
                let (data, key) = video.next(force_key, pts, video_bps).unwrap_or_default();
                if key {
                    force_key = false;
                }
                if !data.is_empty() {
                    follow.overshoot.on_frame(
                        Instant::now(),
                        data.len(),
                        u64::from(video_bps.unwrap_or(first_bps)),
                    );
                }
                if let (false, Some(mid)) = (data.is_empty(), &video_mid) {
                    let ts = (video_sent * 90_000 / u64::from(fps)) as u32;
                    if let Ok(f) = PacketizedFrame::vp8(&mut packetizer, data.into(), ts, 1100) {
                        let _ = pc.send_frame(mid, Arc::new(f));
                    }
                }
                video_sent += 1;
                next_video += frame_interval;
            }
            while next_audio <= tnow {
                let pcm = audio.next();
                if let (Ok(p), Some(mid)) = (opus.encode(&pcm), &audio_mid) {
                    let _ = pc.send_frame(
                        mid,
                        Arc::new(PacketizedFrame::opus(p.into(), audio_sent * 960)),
                    );
                }
                audio_sent += 1;
                next_audio += Duration::from_millis(20);
            }
        }
        let stats_due = tnow >= next_stats;
        let bitrate_due = tnow >= next_bitrate;
        if bitrate_due {
            next_bitrate = tnow + BITRATE_INTERVAL;
        }
        if stats_due {
            next_stats += Duration::from_secs(1);
        }
        if stats_due || (bitrate_due && connected_at.is_some()) {
            if let Ok(st) = pc.stats().await {
                // In-band FEC for the loss the peer reports on our audio
                // (RFC 7587 §6.1); none without loss.
                if let Some(o) = st.outbound.iter().find(|o| o.kind == "audio") {
                    let _ = opus.set_inband_fec((o.fraction_lost * 100.0).round() as u8);
                }
                if stats_due && connected_at.is_some() {
                    timeline.push(timeline_sample(
                        start.elapsed(),
                        &st,
                        &mut remotes,
                        video.size(),
                    ));
                }
                follow_estimate(
                    &st,
                    a,
                    &mut video,
                    &mut video_bps,
                    &mut ladder,
                    &mut force_key,
                    &mut follow,
                )?;
                if stats_due {
                    if a.live {
                        eprintln!("{}", live_line(role, &st, last_stats.as_ref(), &remotes));
                    }
                    last_stats = Some(st);
                }
            }
        }
    }
    let st = pc.stats().await.ok();
    pc.close();
    // Let the close_notify leave.
    tokio::time::sleep(Duration::from_millis(50)).await;
    if let Some(dir) = &a.record {
        for (ssrc, r) in remotes.iter_mut() {
            if let Some(w) = r.ivf.take() {
                let _ = w.finish();
            }
            if let Some(w) = r.wav.take() {
                let _ = w.finish();
            }
            if let Some(img) = &r.last_frame {
                let path = dir.join(format!("snapshot-{ssrc:08x}.png"));
                if let Ok(f) = std::fs::File::create(&path) {
                    let _ = write_png(&i420_to_rgb(img), std::io::BufWriter::new(f));
                }
            }
        }
    }
    let mut report = report_json(
        role,
        st.as_ref(),
        &remotes,
        timeline,
        connected_at.map(|t| t - start),
        (video_sent, audio_sent),
        failure.as_deref(),
    );
    // Captures skipped while the queue stood (counted in frames sent).
    report["video_frames_skipped"] = json!(frames_skipped);
    // Times skipping stopped because it did not drain the queue.
    report["video_skipping_given_up"] = json!(follow.pushback.given_up());
    // What the encoder produced over what it was asked for, at the end
    // (at least 1; measured, not applied: see `video_bitrate`).
    report["encoder_overshoot"] = json!(follow.overshoot.factor());
    if let Some(p) = &a.stats_json {
        std::fs::write(p, serde_json::to_string_pretty(&report).unwrap_or_default())
            .map_err(|e| format!("{}: {e}", p.display()))?;
    }
    eprintln!("meshrtc {role}: done: {}", summary(&remotes));
    match failure {
        Some(f) if connected_at.is_none() => Err(format!("the call failed: {f}")),
        _ if connected_at.is_none() => Err("the call never connected".into()),
        _ => Ok(()),
    }
}

/// The encoder follows the connection's send-side estimate (which covers
/// audio too: audio keeps its allowance, see `video_bitrate`) over its
/// measured overshoot, and with a ladder its picture size follows the
/// encoder's bitrate; frames are
/// skipped while the queue stands and skipping drains it
/// ([`FramePushback`]).
fn follow_estimate(
    st: &PeerStats,
    a: &CallArgs,
    video: &mut VideoIn,
    video_bps: &mut Option<u32>,
    ladder: &mut Option<ResolutionLadder>,
    force_key: &mut bool,
    follow: &mut RateFollow,
) -> Result<(), String> {
    let Some(cc) = &st.congestion else {
        return Ok(());
    };
    follow
        .pushback
        .update(Instant::now(), cc.queue_delay, cc.competing);
    let share = video_bitrate(cc.target, a.video_kbps);
    let bps = (follow.overshoot.target_for(u64::from(share)) as u32).max(MIN_VIDEO_BPS as u32);
    // The ladder sees what the encoder is asked for: an encoder that
    // cannot come down to its share at this size gets a smaller picture.
    *video_bps = Some(bps);
    if let Some(step) = ladder
        .as_mut()
        .and_then(|l| l.on_target(Instant::now(), u64::from(bps)))
    {
        if let Some((w, h)) = video.set_scale(step, bps)? {
            eprintln!("meshrtc: video now {w}x{h} for {} kbit/s", bps / 1000);
            *force_key = true;
        }
    }
    Ok(())
}

fn summary(remotes: &HashMap<u32, Remote>) -> String {
    let mut v: Vec<String> = remotes
        .iter()
        .map(|(ssrc, r)| {
            format!(
                "{} {ssrc:08x}: {} decoded, {} errors",
                r.kind, r.decoded, r.decode_errors
            )
        })
        .collect();
    v.sort();
    v.join("; ")
}

fn live_line(
    role: &str,
    st: &PeerStats,
    last: Option<&PeerStats>,
    remotes: &HashMap<u32, Remote>,
) -> String {
    let rate = |now: u64, before: Option<u64>| {
        (now.saturating_sub(before.unwrap_or(0)) * 8) as f64 / 1000.0
    };
    let sent: u64 = st.outbound.iter().map(|o| o.bytes_sent).sum();
    let sent_before = last.map(|l| l.outbound.iter().map(|o| o.bytes_sent).sum());
    let recv: u64 = st.inbound.iter().map(|i| i.bytes_received).sum();
    let recv_before = last.map(|l| l.inbound.iter().map(|i| i.bytes_received).sum());
    let rtt = st.outbound.iter().filter_map(|o| o.rtt_ms).next();
    let loss = st
        .outbound
        .iter()
        .map(|o| o.fraction_lost)
        .fold(0.0, f64::max);
    let video: Vec<String> = remotes
        .values()
        .filter(|r| r.kind == "video")
        .map(|r| format!("{}x{} {} decoded", r.width, r.height, r.decoded))
        .collect();
    format!(
        "meshrtc {role}: {:?} | rtt {} | target {} | send {:.0} kbit/s | recv {:.0} kbit/s | peer loss {:.1}% | video {}",
        st.state,
        rtt.map_or("-".into(), |r| format!("{r:.1} ms")),
        st.congestion
            .map_or("-".into(), |c| format!("{} kbit/s", c.target / 1000)),
        rate(sent, sent_before),
        rate(recv, recv_before),
        loss * 100.0,
        if video.is_empty() { "-".into() } else { video.join(", ") }
    )
}

#[allow(clippy::too_many_arguments)]
/// One second of the call for `--stats-json`'s `timeline`: what was decoded
/// so far, the latency of the frames decoded in that second (from their
/// pixels), the send-side estimate and the round trip.
fn timeline_sample(
    t: Duration,
    st: &PeerStats,
    remotes: &mut HashMap<u32, Remote>,
    sending: Option<(u32, u32)>,
) -> Value {
    let video = remotes.values_mut().find(|r| r.kind == "video");
    let (decoded, keyframes, latency) = match video {
        Some(r) => {
            let mut w = std::mem::take(&mut r.latency_window);
            w.sort_by(f64::total_cmp);
            let p = |q: f64| {
                w.get(((w.len() as f64 - 1.0) * q).round() as usize)
                    .copied()
            };
            (
                r.decoded,
                r.keyframes,
                json!({"n": w.len(), "p50": p(0.5), "p95": p(0.95)}),
            )
        }
        None => (0, 0, Value::Null),
    };
    json!({
        "t_s": t.as_secs_f64(),
        "video_frames_decoded": decoded,
        "video_keyframes_received": keyframes,
        "latency_ms": latency,
        "target_bps": st.congestion.map(|c| c.target),
        "video_size_sent": sending.map(|(w, h)| format!("{w}x{h}")),
        "congestion": st.congestion.map(|c| json!({
            "delay_state": format!("{:?}", c.delay_state),
            "rate_control": format!("{:?}", c.rate_control),
            "delay_based_bps": c.delay_based,
            "loss_based_bps": c.loss_based,
            "probes": c.probes,
            "probe_raises": c.probe_raises,
            "probes_refuted": c.probes_refuted,
            "queue_delay_ms": c.queue_delay.map(|d| d.as_secs_f64() * 1000.0),
            "standing_queue_decreases": c.standing_queue_decreases,
            "competing": c.competing,
            "acked_bps": c.acked_bitrate,
            "loss_fraction": c.loss_fraction,
        })),
        "rtt_ms": st.outbound.iter().find_map(|o| o.rtt_ms),
        "video_bytes_sent": st.outbound.iter().filter(|o| o.kind == "video").map(|o| o.bytes_sent).sum::<u64>(),
        "bytes_received": st.inbound.iter().map(|i| i.bytes_received).sum::<u64>(),
    })
}

fn report_json(
    role: &str,
    st: Option<&PeerStats>,
    remotes: &HashMap<u32, Remote>,
    timeline: Vec<Value>,
    connect_time: Option<Duration>,
    (video_sent, audio_sent): (u64, u32),
    failure: Option<&str>,
) -> Value {
    let tracks: Vec<Value> = remotes
        .iter()
        .map(|(ssrc, r)| {
            json!({
                "ssrc": ssrc, "kind": r.kind, "frames_received": r.frames,
                "frames_decoded": r.decoded, "decode_errors": r.decode_errors,
                "keyframes": r.keyframes, "width": r.width, "height": r.height,
                "stamp_gaps": r.stamp_gaps,
                "audio": r.audio.as_ref().map(|a| {
                    let st = a.stats();
                    json!({
                        "packets": st.played, "fec": st.fec, "concealed": st.concealed,
                        "late": st.late, "duplicates": st.duplicates,
                        "delay_ms": a.buffer().delay().as_millis() as u64,
                    })
                }),
                "latency_ms": (r.latency_n > 0).then(|| r.latency_sum_ms / r.latency_n as f64),
            })
        })
        .collect();
    let stats = st.map(|s| {
        json!({
            "state": format!("{:?}", s.state),
            "ice_state": format!("{:?}", s.ice_state),
            "selected_pair": s.selected_pair.map(|(l, r)| json!({"local": l.to_string(), "remote": r.to_string()})),
            "dtls_role": s.dtls_role, "dtls_version": s.dtls_version,
            "dtls_cipher": s.dtls_cipher, "dtls_group": s.dtls_group, "srtp_profile": s.srtp_profile,
            "outbound": s.outbound.iter().map(|o| json!({
                "mid": o.mid, "kind": o.kind, "ssrc": o.ssrc, "packets_sent": o.packets_sent,
                "bytes_sent": o.bytes_sent, "frames_sent": o.frames_sent,
                "keyframes_sent": o.keyframes_sent, "retransmitted": o.retransmitted,
                "retransmissions_refused": o.retransmissions_refused, "pacer_dropped": o.pacer_dropped,
                "nacks_received": o.nacks_received, "plis_received": o.plis_received,
                "rtt_ms": o.rtt_ms, "fraction_lost": o.fraction_lost, "packets_lost": o.packets_lost,
            })).collect::<Vec<_>>(),
            "inbound": s.inbound.iter().map(|i| json!({
                "mid": i.mid, "kind": i.kind, "ssrc": i.ssrc, "packets_received": i.packets_received,
                "bytes_received": i.bytes_received, "frames_received": i.frames_received,
                "packets_lost": i.packets_lost, "jitter": i.jitter, "nacks_sent": i.nacks_sent,
                "nack_recovered": i.nack_recovered, "nack_given_up": i.nack_given_up,
                "plis_sent": i.plis_sent, "rtx_received": i.rtx_received, "frames_dropped": i.frames_dropped,
            })).collect::<Vec<_>>(),
            "srtp_errors": s.srtp_errors, "unroutable": s.unroutable, "malformed": s.malformed,
            "target_bitrate": s.congestion.map(|c| c.target),
        })
    });
    json!({
        "role": role,
        "connect_ms": connect_time.map(|d| d.as_secs_f64() * 1000.0),
        "video_frames_sent": video_sent, "audio_frames_sent": audio_sent,
        "failure": failure,
        "tracks": tracks,
        "timeline": timeline,
        "peer": stats,
    })
}

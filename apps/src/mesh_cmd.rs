//! `meshrtc join` (one mesh member) and `meshrtc demo` (a signaling server
//! and N members on this machine, the README's main command).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use meshrtc_media::sink::write_png;
use meshrtc_mesh::signaling::server::{bind, ServerConfig};
use meshrtc_mesh::signaling::ServerTrust;
use serde_json::json;

use crate::member::{contact_sheet, report_json, run_member, MemberOptions, MemberReport};
use crate::sources::SourceKind;

/// `meshrtc join`.
#[derive(Debug, clap::Args)]
pub struct JoinArgs {
    /// The signaling server's WebSocket URL (`ws://` or `wss://`).
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws")]
    server: String,
    /// For a `wss://` server: the SHA-256 fingerprint of its certificate,
    /// as `meshrtc serve --tls` prints it (hex, colons optional).
    #[arg(long, value_name = "HEX", conflicts_with = "server_ca")]
    server_fingerprint: Option<String>,
    /// For a `wss://` server: trust certificates signed by the CAs in this
    /// PEM file (the server's own certificate, if self-signed).
    #[arg(long, value_name = "PEM")]
    server_ca: Option<PathBuf>,
    /// The room to join.
    #[arg(long)]
    room: String,
    /// Display name (default: meshrtc-<pid>).
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// The room's password, for a server started with `--password` or
    /// `--room-password`.
    #[arg(long, value_name = "SECRET")]
    password: Option<String>,
    /// Leave after this many seconds (default: one hour).
    #[arg(long, default_value_t = 3600.0)]
    duration: f64,
    /// Test pattern size and rate.
    #[arg(long, default_value_t = 640)]
    width: u32,
    /// See `--width`.
    #[arg(long, default_value_t = 360)]
    height: u32,
    /// Frames per second.
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// Bind only these local addresses (default: every IPv4 interface).
    #[arg(long, value_name = "IP")]
    bind: Vec<IpAddr>,
    /// Write a PNG of the last frame decoded from each member here.
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,
    /// Write the final statistics here as JSON.
    #[arg(long, value_name = "FILE")]
    stats_json: Option<PathBuf>,
    /// Print the per-peer table every second on stderr.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    live: bool,
    /// Room chat over data channels: lines typed on stdin go to every
    /// member, theirs are printed on stdout as `name: text`.
    #[arg(long)]
    chat: bool,
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
    /// Send this WAV (48 kHz, mono, 16-bit) instead of the tone (looped).
    #[arg(long, value_name = "FILE")]
    audio_in: Option<PathBuf>,
    /// Simulcast: encode this many video layers (1 or 2; 2 adds a layer
    /// at half the width and height) and send each member the one its
    /// bandwidth estimate allows (the full size from 250 kbit/s of video).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=2))]
    layers: u32,
    /// Share a second video track, a "screen" (a 640x360 pattern at 5
    /// fps), AT seconds after joining for FOR seconds: added to every
    /// connection by renegotiation, then stopped.
    #[arg(long, value_name = "AT:FOR", value_parser = crate::screen::parse_schedule)]
    screen: Option<(Duration, Duration)>,
    /// Write every datagram sent and received to this pcapng file, with
    /// each connection's DTLS key log and SRTP keys (see `offer --capture`).
    #[arg(long, value_name = "FILE.pcapng")]
    capture: Option<PathBuf>,
    /// Write the state changes and estimator decisions (every meshrtc
    /// `debug` event) to this file, one JSON object a line with its
    /// wall-clock time, for `meshrtc timeline` (see `offer --trace`).
    #[arg(long, value_name = "FILE.jsonl")]
    pub(crate) trace: Option<PathBuf>,
    /// `relay`: gather and signal TURN relay candidates only (the room's
    /// TURN servers, from `welcome`), like a browser's
    /// `iceTransportPolicy: "relay"`: peers never learn our addresses, and
    /// the call tests the TURN path. `all` (the default): every candidate.
    #[arg(long, value_name = "all|relay", default_value = "all", value_parser = ["all", "relay"])]
    ice_transport_policy: String,
    /// DTLS versions to speak: `1.2`, `1.3` or `both` (1.3 when the peer
    /// speaks it, else 1.2).
    #[arg(long, value_enum, value_name = "1.2|1.3|both", default_value = "both")]
    dtls: crate::dtls_flag::DtlsFlag,
    /// STUN/TURN servers of our own, besides the room's.
    #[command(flatten)]
    ice: crate::ice_server_args::IceServerArgs,
    /// Hide our host addresses behind random `<uuid>.local` names, as
    /// browsers do, answering the members' mDNS queries for them.
    #[arg(long)]
    mdns_hide: bool,
}

/// `meshrtc demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Members to start (2 to 6).
    #[arg(long, default_value_t = 4)]
    peers: usize,
    /// Run the signaling server with TLS (a self-signed certificate made
    /// now); the members connect over `wss://`, pinning its fingerprint.
    #[arg(long)]
    tls: bool,
    /// Seconds of call after everyone joined.
    #[arg(long, default_value_t = 15.0)]
    duration: f64,
    /// Where the signaling server listens (it stays reachable there during
    /// the run); when the port is taken, a free one is used.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Test pattern size and rate of every member (six encoders and thirty
    /// decoders share this machine's cores).
    #[arg(long, default_value_t = 320)]
    width: u32,
    /// See `--width`.
    #[arg(long, default_value_t = 240)]
    height: u32,
    /// Frames per second.
    #[arg(long, default_value_t = 15)]
    fps: u32,
    /// The contact sheet: what each member decoded from each other one.
    #[arg(long, default_value = "meshrtc-demo.png")]
    sheet: PathBuf,
    /// Write every member's statistics here as JSON (with `frames_decoded`
    /// per directed pair).
    #[arg(long, value_name = "FILE")]
    stats_json: Option<PathBuf>,
    /// Print each member's table every second.
    #[arg(long)]
    live: bool,
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
    /// Every member sends this file instead of the synthetic source (looped): a Y4M
    /// (YUV4MPEG2, 8-bit 4:2:0) file is encoded live and follows the
    /// congestion controller's target like the synthetic sources, at the
    /// file's own size and rate; an IVF file's VP8 frames are sent as they
    /// are, so their bitrate cannot adapt to the network.
    #[arg(long, value_name = "FILE")]
    video_in: Option<PathBuf>,
    /// Simulcast: encode this many video layers (1 or 2; 2 adds a layer
    /// at half the width and height) and send each member the one its
    /// bandwidth estimate allows (the full size from 250 kbit/s of video).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=2))]
    layers: u32,
    /// member1 shares a second video track, a "screen" (a 640x360
    /// pattern at 5 fps), AT seconds after joining for FOR seconds.
    #[arg(long, value_name = "AT:FOR", value_parser = crate::screen::parse_schedule)]
    screen: Option<(Duration, Duration)>,
    /// Write every member's datagrams to this pcapng file, one interface
    /// per member (each datagram is there twice: sent and received), with
    /// every connection's DTLS key log and SRTP keys.
    #[arg(long, value_name = "FILE.pcapng")]
    capture: Option<PathBuf>,
    /// DTLS versions to speak: `1.2`, `1.3` or `both` (1.3 when the peer
    /// speaks it, else 1.2).
    #[arg(long, value_enum, value_name = "1.2|1.3|both", default_value = "both")]
    dtls: crate::dtls_flag::DtlsFlag,
    /// Write the state changes and estimator decisions (every meshrtc
    /// `debug` event) to this file, one JSON object a line with its
    /// wall-clock time, for `meshrtc timeline` (see `offer --trace`).
    #[arg(long, value_name = "FILE.jsonl")]
    pub(crate) trace: Option<PathBuf>,
}

/// Runs `meshrtc join`.
pub fn join(a: JoinArgs) -> ExitCode {
    let rt = match crate::sources::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("meshrtc join: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server_trust = match crate::tls_setup::client_trust(
        a.server_fingerprint.as_deref(),
        a.server_ca.as_deref(),
    ) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("meshrtc join: {e}");
            return ExitCode::from(2);
        }
    };
    let ((ice_servers, ice_hosts), turn_tls) = match (a.ice.ice_servers(), a.ice.turn_tls()) {
        (Ok(s), Ok(t)) => (s, t),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("meshrtc join: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = MemberOptions {
        server: a.server,
        server_trust,
        room: a.room,
        password: a.password,
        name: a
            .name
            .unwrap_or_else(|| format!("meshrtc-{}", std::process::id())),
        bind: a.bind,
        width: a.width,
        height: a.height,
        fps: a.fps,
        duration: Duration::from_secs_f64(a.duration.max(0.0)),
        live: a.live,
        keep_frames: false,
        record: a.record,
        source: a.source.unwrap_or_default(),
        video_in: a.video_in,
        audio_in: a.audio_in,
        marks: None,
        layers: a.layers,
        screen: a.screen,
        capture: None,
        relay_only: a.ice_transport_policy == "relay",
        mdns_hide: a.mdns_hide,
        chat: a.chat,
        dtls: a.dtls.into(),
        ice_servers,
        ice_hosts,
        turn_tls,
    };
    let mut opts = opts;
    let capture = match crate::capture::attach(a.capture.as_deref(), &opts.name, &mut opts.capture)
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("meshrtc join: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = rt.block_on(run_member(opts));
    if let Err(e) = crate::capture::close(capture, "join") {
        eprintln!("meshrtc join: {e}");
    }
    if let Some(p) = &a.stats_json {
        if let Err(e) = std::fs::write(
            p,
            serde_json::to_string_pretty(&report_json(&report)).unwrap_or_default(),
        ) {
            eprintln!("meshrtc join: {}: {e}", p.display());
        }
    }
    eprintln!("meshrtc join: {}", summary(&report));
    match &report.error {
        Some(e) => {
            eprintln!("meshrtc join: {e}");
            ExitCode::FAILURE
        }
        None => ExitCode::SUCCESS,
    }
}

fn summary(r: &MemberReport) -> String {
    let pairs: Vec<String> = r
        .pairs
        .values()
        .map(|p| format!("{}: {} frames", p.name, p.frames_decoded))
        .collect();
    format!(
        "{} sent {} frames ({:.0} kbit/s up, encode {:.2} ms); decoded {}",
        r.name,
        r.frames_encoded,
        r.upstream_kbps,
        r.encode_ms,
        if pairs.is_empty() {
            "nothing".into()
        } else {
            pairs.join(", ")
        }
    )
}

/// Runs `meshrtc demo`.
pub fn demo(a: DemoArgs) -> ExitCode {
    if !(2..=6).contains(&a.peers) {
        eprintln!("meshrtc demo: --peers must be 2 to 6 (a room holds 6)");
        return ExitCode::from(2);
    }
    let rt = match crate::sources::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("meshrtc demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (config, server_trust) = if a.tls {
        match crate::tls_setup::self_signed_for(&[a.listen.ip()]) {
            Ok(tls) => {
                let trust = ServerTrust::Fingerprint(tls.fingerprint);
                let config = ServerConfig {
                    tls: Some(tls),
                    ..ServerConfig::default()
                };
                (config, Some(trust))
            }
            Err(e) => {
                eprintln!("meshrtc demo: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        (ServerConfig::default(), None)
    };
    let server = match rt.block_on(async {
        match bind(a.listen, config.clone()).await {
            Ok(s) => Ok(s),
            Err(_) => bind(SocketAddr::new(a.listen.ip(), 0), config).await,
        }
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("meshrtc demo: cannot start the signaling server: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = server.local_addr();
    eprintln!(
        "meshrtc demo: signaling server on {} ({}); {} members join room \"demo\" for {} s",
        server.http_url(),
        server.ws_url(),
        a.peers,
        a.duration
    );
    // Each member on its own thread and runtime: its encoder and decoders
    // are CPU work.
    let cpu_start = crate::cpu::process_cpu();
    let wall_start = std::time::Instant::now();
    let mut threads = Vec::new();
    // One file, one pcapng interface per member.
    let capture = match a.capture.as_deref().map(crate::capture::Capture::create) {
        Some(Err(e)) => {
            eprintln!("meshrtc demo: {e}");
            return ExitCode::FAILURE;
        }
        Some(Ok(c)) => Some(c),
        None => None,
    };
    for k in 0..a.peers {
        let opts = MemberOptions {
            server: server.ws_url(),
            server_trust: server_trust.clone(),
            room: "demo".into(),
            password: None,
            name: format!("member{}", k + 1),
            bind: vec![a.listen.ip()],
            width: a.width,
            height: a.height,
            fps: a.fps,
            // Everyone ends together: the first joiners stay a little longer.
            duration: Duration::from_secs_f64(a.duration.max(1.0))
                + Duration::from_millis(300) * (a.peers - 1 - k) as u32,
            live: a.live,
            keep_frames: true,
            record: None,
            source: a.source.unwrap_or_default(),
            video_in: a.video_in.clone(),
            audio_in: None,
            marks: Some(k as u32 + 1),
            layers: a.layers,
            screen: if k == 0 { a.screen } else { None },
            capture: capture
                .as_ref()
                .map(|c| c.interface(&format!("member{}", k + 1))),
            relay_only: false,
            mdns_hide: false,
            chat: false,
            dtls: a.dtls.into(),
            ice_servers: Vec::new(),
            ice_hosts: Default::default(),
            turn_tls: None,
        };
        threads.push(std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(run_member(opts)))
                .unwrap_or_default()
        }));
        std::thread::sleep(Duration::from_millis(300));
    }
    let reports: Vec<MemberReport> = threads
        .into_iter()
        .map(|t| t.join().unwrap_or_default())
        .collect();
    if let Err(e) = crate::capture::close(capture, "demo") {
        eprintln!("meshrtc demo: {e}");
    }
    let cpu = cpu_start
        .zip(crate::cpu::process_cpu())
        .map(|(a, b)| (b - a).as_secs_f64());
    let wall = wall_start.elapsed().as_secs_f64();
    let stats = server.stats();
    rt.block_on(async {
        let _ = server.shutdown().await;
    });

    // The per-pair table: row = receiver, column = sender.
    let names: Vec<String> = reports.iter().map(|r| r.name.clone()).collect();
    let mut out = format!("\n{:>10} |", "decoded");
    for n in &names {
        out.push_str(&format!(" {n:>9}"));
    }
    out.push_str("   (frames each member decoded from each other one)\n");
    let mut pairs = Vec::new();
    let mut all_ok = true;
    for r in &reports {
        out.push_str(&format!("{:>10} |", r.name));
        for s in &reports {
            if s.name == r.name {
                out.push_str(&format!(" {:>9}", "-"));
                continue;
            }
            let p = s.id.as_ref().and_then(|id| r.pairs.get(id));
            let n = p.map_or(0, |p| p.frames_decoded);
            all_ok &= n > 0;
            out.push_str(&format!(" {n:>9}"));
            pairs.push(json!({
                "to": r.name, "from": s.name, "frames_decoded": n,
                "decode_errors": p.map_or(0, |p| p.decode_errors),
                "stamp_gaps": p.map_or(0, |p| p.stamp_gaps),
                "latency_ms": p.and_then(|p| p.latency_ms),
                "audio_decoded": p.map_or(0, |p| p.audio_decoded),
                "audio_fec": p.map_or(0, |p| p.audio_fec),
                "audio_concealed": p.map_or(0, |p| p.audio_concealed),
                "screen_frames_decoded": p.map_or(0, |p| p.screen_frames_decoded),
            }));
        }
        out.push('\n');
    }
    println!("{out}");
    for r in &reports {
        println!("  {}", summary(r));
        if let Some(e) = &r.error {
            println!("  {}: {e}", r.name);
            all_ok = false;
        }
    }
    let latencies: Vec<f64> = reports
        .iter()
        .flat_map(|r| r.pairs.values().filter_map(|p| p.latency_ms))
        .collect();
    if !latencies.is_empty() {
        println!(
            "  end-to-end latency (capture to decode): mean {:.1} ms over {} streams",
            latencies.iter().sum::<f64>() / latencies.len() as f64,
            latencies.len()
        );
    }
    if let Some(cpu) = cpu {
        println!(
            "  CPU: {cpu:.1} s over {wall:.1} s: {:.2} cores, {:.2} per member \
             (encoders, decoders and the stack)",
            cpu / wall,
            cpu / wall / a.peers as f64
        );
    }
    println!(
        "  signaling: {} messages relayed, {} errors",
        stats.rooms.messages_relayed,
        stats.rooms.errors.values().sum::<u64>()
    );
    let sheet = contact_sheet(&reports, (160, 120));
    match std::fs::File::create(&a.sheet).map(std::io::BufWriter::new) {
        Ok(f) => match write_png(&sheet, f) {
            Ok(()) => println!(
                "  contact sheet: {} (row: receiver, column: sender)",
                a.sheet.display()
            ),
            Err(e) => eprintln!("meshrtc demo: {}: {e}", a.sheet.display()),
        },
        Err(e) => eprintln!("meshrtc demo: {}: {e}", a.sheet.display()),
    }
    if let Some(p) = &a.stats_json {
        let v = json!({
            "server": addr.to_string(),
            "peers": a.peers,
            "duration_s": a.duration,
            "resolution": [a.width, a.height],
            "fps": a.fps,
            "cpu_s": cpu,
            "wall_s": wall,
            "pairs": pairs,
            "members": reports.iter().map(report_json).collect::<Vec<_>>(),
            "signaling": serde_json::to_value(&stats).unwrap_or_default(),
        });
        if let Err(e) = std::fs::write(p, serde_json::to_string_pretty(&v).unwrap_or_default()) {
            eprintln!("meshrtc demo: {}: {e}", p.display());
        }
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("meshrtc demo: some member decoded nothing from another");
        ExitCode::FAILURE
    }
}

//! `meshrtc`: the command-line entry point.
//!
//! Subcommands today: `decode` (the packet inspector), `sdp` (a session
//! description's summary), `stun-server`, the copy-paste call (`offer`,
//! `answer`) and the signaling server (`serve`). The mesh member and the
//! demo come with their issues.
#![forbid(unsafe_code)]

mod call;
mod capture;
mod cpu;
mod decode;
mod decode_capture;
mod dtls13view;
mod dtls_flag;
mod dtls_fragment;
mod dtlsview;
mod hexin;
mod ice_server_args;
mod ladder;
mod lan;
mod logging;
mod member;
mod mesh_cmd;
mod rtpview;
mod screen;
mod sdp_summary;
mod serve;
mod sources;
mod stun_server;
mod timeline;
mod tls_setup;
mod trace_layer;

use clap::{Parser, Subcommand};
use std::io::Read;
use std::process::ExitCode;

/// meshrtc: a WebRTC stack written from scratch, for mesh calls.
#[derive(Debug, Parser)]
#[command(name = "meshrtc", version, about, propagate_version = true)]
struct Cli {
    /// Which decisions to log to stderr, in RUST_LOG syntax (`debug`,
    /// `meshrtc_ice=debug,meshrtc_dtls=trace`); overrides RUST_LOG.
    #[arg(long, global = true, value_name = "FILTER")]
    log: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode datagrams given in hex: classify each one by its first byte
    /// (RFC 7983) and print its structure.
    ///
    /// Each non-empty input line is one datagram; spaces and colons inside a
    /// line are ignored, and `#` starts a comment.
    Decode(DecodeArgs),
    /// Run a STUN binding server (RFC 8489): answers Binding requests with
    /// the address they came from, so clients learn their server-reflexive
    /// address. For tests and local setups; users default to Google's
    /// `stun:stun.l.google.com:19302`.
    StunServer(stun_server::Args),
    /// Print a readable summary of a session description (per m-line:
    /// codecs, direction, ICE and DTLS parameters, candidates), or the
    /// exact parse error with its line.
    Sdp {
        /// The SDP file, or `-` for stdin.
        #[arg(value_name = "FILE | -")]
        input: String,
    },
    /// Start a call by printing an offer (plain SDP with every candidate,
    /// then an empty line) and reading the answer from stdin (until EOF or
    /// an empty line) or `--answer-file`; then send the synthetic sources
    /// and decode what arrives for `--duration` seconds.
    Offer(call::OfferArgs),
    /// Answer an offer read from stdin (until EOF or an empty line) or
    /// `--offer-file`: print the answer, then run the call like `offer`.
    Answer(call::AnswerArgs),
    /// Run the signaling server for mesh calls: WebSocket at /ws (JSON
    /// protocol, see docs/signaling.md), a page at /, counters at /stats.
    Serve(serve::Args),
    /// Join a mesh room as a member: one connection to every other member,
    /// the synthetic sources sent to all (encoded once), what arrives
    /// decoded, a live table of peers on stderr.
    Join(mesh_cmd::JoinArgs),
    /// The local mesh demo: a signaling server and N members on this
    /// machine form a full mesh, stream for a while, print a per-pair table
    /// and write a contact sheet of what each member decoded from each other.
    Demo(mesh_cmd::DemoArgs),
    /// Draw a call as one self-contained HTML page: a ladder diagram of the
    /// packets of one or more captures (`--capture`), grouped by phase, with
    /// the media folded into runs, the `--trace` files' decisions beside
    /// them, and every packet's `decode` explanation a click away.
    Timeline(timeline::Args),
}

#[derive(Debug, clap::Args)]
struct DecodeArgs {
    /// An ICE password (the receiving side's ice-pwd) to verify STUN
    /// MESSAGE-INTEGRITY with. Give it more than once for a capture with
    /// both directions: each message is checked against every password.
    #[arg(long, value_name = "PWD")]
    ice_pwd: Vec<String>,
    /// SRTP master key and salt, base64, to decrypt RTP/RTCP: key||salt as
    /// in an SDES inline key, or the whole DTLS-SRTP keying material (then
    /// say whose packets these are with --srtp-sender).
    #[arg(long, value_name = "BASE64")]
    srtp_key: Option<String>,
    /// SRTP profile: SRTP_AES128_CM_HMAC_SHA1_80 (default), _32,
    /// SRTP_AEAD_AES_128_GCM, SRTP_AEAD_AES_256_GCM, or the SDES names.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "SRTP_AES128_CM_HMAC_SHA1_80"
    )]
    profile: String,
    /// With full DTLS keying material: which side sent the packets (the
    /// DTLS client protects with the client's half, RFC 5764 §4.2).
    #[arg(long, value_name = "client|server")]
    srtp_sender: Option<String>,
    /// Name an RTP header extension id, as the SDP's a=extmap does:
    /// `ID=URI` or `ID=NAME` with NAME one of mid, abs-send-time,
    /// transport-cc, audio-level (e.g. `--extmap 9=mid`). Named elements
    /// are decoded; give it once per extension.
    #[arg(long, value_name = "ID=NAME", value_parser = rtpview::parse_extmap)]
    extmap: Vec<(u8, rtpview::ExtKind)>,
    /// Print JSON (one object per datagram, one per line) instead of text.
    #[arg(long)]
    json: bool,
    /// With a capture file: more NSS key log lines (`CLIENT_RANDOM ...`)
    /// besides those the file carries.
    #[arg(long, value_name = "FILE")]
    keylog: Option<std::path::PathBuf>,
    /// The datagram in hex, `-` to read lines of hex from stdin, or a
    /// pcap/pcapng capture file (every UDP datagram in it is decoded, with
    /// the keys the file carries: see `offer --capture`).
    #[arg(value_name = "HEX | - | FILE.pcapng")]
    input: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let trace = match &cli.command {
        Command::Offer(a) => a.call.trace.as_deref().map(|p| (p, "offer".to_string())),
        Command::Answer(a) => a.call.trace.as_deref().map(|p| (p, "answer".to_string())),
        Command::Join(a) => a.trace.as_deref().map(|p| {
            let name = a
                .name
                .clone()
                .unwrap_or_else(|| format!("meshrtc-{}", std::process::id()));
            (p, name)
        }),
        Command::Demo(a) => a.trace.as_deref().map(|p| (p, "demo".to_string())),
        _ => None,
    };
    let trace =
        match trace.map(|(p, who)| trace_layer::TraceLayer::create(p, &who).map_err(|e| (p, e))) {
            None => None,
            Some(Ok(t)) => Some(t),
            Some(Err((p, e))) => {
                eprintln!("meshrtc: --trace {}: {e}", p.display());
                return ExitCode::FAILURE;
            }
        };
    if let Err(e) = logging::init(cli.log.as_deref(), trace) {
        eprintln!("meshrtc: {e}");
        return ExitCode::from(2);
    }
    match cli.command {
        Command::Decode(args) => run_decode(args),
        Command::StunServer(args) => stun_server::run(args),
        Command::Sdp { input } => run_sdp(&input),
        Command::Offer(args) => call::offer(args),
        Command::Answer(args) => call::answer(args),
        Command::Join(args) => mesh_cmd::join(args),
        Command::Demo(args) => mesh_cmd::demo(args),
        Command::Serve(args) => serve::run(args),
        Command::Timeline(args) => timeline::run(args),
    }
}

fn run_decode(args: DecodeArgs) -> ExitCode {
    if args.input != "-" && std::path::Path::new(&args.input).is_file() {
        return decode_capture::run_file(
            std::path::Path::new(&args.input),
            args.keylog.as_deref(),
            &args.ice_pwd,
            args.extmap.clone(),
            args.json,
        );
    }
    let text = if args.input == "-" {
        let mut s = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut s) {
            eprintln!("meshrtc decode: cannot read stdin: {e}");
            return ExitCode::FAILURE;
        }
        s
    } else {
        args.input.clone()
    };
    let datagrams = match hexin::parse_lines(&text) {
        Ok(d) if d.is_empty() => {
            eprintln!("meshrtc decode: no datagram in the input");
            return ExitCode::FAILURE;
        }
        Ok(d) => d,
        Err(e) => {
            eprintln!("meshrtc decode: {e}");
            return ExitCode::FAILURE;
        }
    };
    let srtp = match srtp_context(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("meshrtc decode: {e}");
            return ExitCode::from(2);
        }
    };
    let mut opts = decode::Options::new(&args.ice_pwd, srtp, args.extmap.clone());
    let mut failed = false;
    for (i, dgram) in datagrams.iter().enumerate() {
        let report = decode::decode(dgram, &mut opts);
        failed |= report.is_error();
        if args.json {
            println!("{}", report.to_json());
        } else {
            if datagrams.len() > 1 {
                println!("── datagram {} of {} ──", i + 1, datagrams.len());
            }
            print!("{}", report.to_text());
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The receiving SRTP context the decode arguments describe, if any.
fn srtp_context(args: &DecodeArgs) -> Result<Option<meshrtc_srtp::Context>, String> {
    use base64::Engine;
    use meshrtc_srtp::{split_keying_material, Config, Context, MasterKey, Profile};
    let Some(b64) = &args.srtp_key else {
        return Ok(None);
    };
    let profile = Profile::from_name(&args.profile)
        .ok_or_else(|| format!("unknown SRTP profile {:?}", args.profile))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("--srtp-key is not base64: {e}"))?;
    let single = profile.master_key_len() + profile.master_salt_len();
    let key = if bytes.len() == profile.keying_material_len() {
        let (client, server) = split_keying_material(profile, &bytes).map_err(|e| e.to_string())?;
        match args.srtp_sender.as_deref() {
            Some("client") => client,
            Some("server") => server,
            _ => {
                return Err(format!(
                    "--srtp-key holds the whole DTLS keying material ({} bytes): add --srtp-sender client|server",
                    bytes.len()
                ))
            }
        }
    } else if bytes.len() == single {
        MasterKey::from_concatenated(profile, &bytes).map_err(|e| e.to_string())?
    } else {
        return Err(format!(
            "--srtp-key has {} bytes; {profile} needs {single} (key and salt) or {} (DTLS keying material)",
            bytes.len(),
            profile.keying_material_len()
        ));
    };
    Ok(Some(Context::new(&key, Config::default())))
}

fn run_sdp(input: &str) -> ExitCode {
    let text = if input == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map(|_| s)
    } else {
        std::fs::read_to_string(input)
    };
    let text = match text {
        Ok(t) => t,
        Err(e) => {
            eprintln!("meshrtc sdp: cannot read {input}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match meshrtc_sdp::SessionDescription::parse(&text) {
        Ok(d) => {
            print!("{}", sdp_summary::summary(&d));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("meshrtc sdp: {e}");
            ExitCode::FAILURE
        }
    }
}

//! Seeing the call (issue 21): logs that explain decisions (`RUST_LOG`,
//! `--log`) and captures (`--capture FILE.pcapng`) checked with tshark and
//! read back by `meshrtc decode`, on real calls between two `meshrtc`
//! processes on loopback.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};

/// The arguments of a short loopback call (no STUN server, 1.5 s).
const CALL: [&str; 12] = [
    "--no-stun",
    "--bind",
    "127.0.0.1",
    "--duration",
    "1.5",
    "--width",
    "160",
    "--height",
    "120",
    "--live",
    "false",
    "--fps=15",
];

fn spawn(cmd: &str, extra: &[&str], rust_log: Option<&str>) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_meshrtc"));
    c.arg(cmd)
        .args(CALL)
        .args(extra)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(f) = rust_log {
        c.env("RUST_LOG", f);
    }
    c.spawn().unwrap()
}

fn read_sdp(out: &mut BufReader<ChildStdout>) -> String {
    let mut sdp = String::new();
    loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "stdout closed early");
        if line.trim().is_empty() {
            return sdp;
        }
        sdp.push_str(&line);
    }
}

/// Runs `offer` and `answer` against each other; returns their stderr.
fn call(
    offer_extra: &[&str],
    answer_extra: &[&str],
    offer_log: Option<&str>,
    answer_log: Option<&str>,
) -> (String, String) {
    let mut offer = spawn("offer", offer_extra, offer_log);
    let mut offer_out = BufReader::new(offer.stdout.take().unwrap());
    let offer_sdp = read_sdp(&mut offer_out);
    let mut answer = spawn("answer", answer_extra, answer_log);
    writeln!(answer.stdin.take().unwrap(), "{offer_sdp}").unwrap();
    let mut answer_out = BufReader::new(answer.stdout.take().unwrap());
    let answer_sdp = read_sdp(&mut answer_out);
    writeln!(offer.stdin.take().unwrap(), "{answer_sdp}").unwrap();
    let mut errs = Vec::new();
    for (name, child) in [("offer", &mut offer), ("answer", &mut answer)] {
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "{name}: {err}");
        errs.push(err);
    }
    let answer_err = errs.pop().unwrap();
    (errs.pop().unwrap(), answer_err)
}

#[test]
fn rust_log_debug_explains_the_calls_decisions_and_no_filter_prints_none() {
    // The offerer logs through RUST_LOG, the answerer through --log (which
    // wins over an environment that asks for nothing).
    let (offer, answer) = call(&[], &["--log", "debug"], Some("debug"), Some("error"));
    for (side, log, dtls_role) in [("offer", &offer, "Server"), ("answer", &answer, "Client")] {
        for needle in [
            "ICE state New -> Checking",
            "nominated",
            "reason=",
            "DTLS handshake complete",
            "connection state Connecting -> Connected",
            "connection{local=[127.0.0.1:",
        ] {
            assert!(log.contains(needle), "{side}: {needle:?} missing in\n{log}");
        }
        let done = log
            .lines()
            .find(|l| l.contains("DTLS handshake complete"))
            .unwrap();
        assert!(
            done.contains(&format!("role={dtls_role}")),
            "{side}: {done}"
        );
        assert!(done.contains("meshrtc_dtls"), "{side}: {done}");
    }
    // The controlling side (the offerer, RFC 8445 §6.1.1) nominates with
    // USE-CANDIDATE; the controlled side follows.
    assert!(
        offer.contains("our USE-CANDIDATE check succeeded"),
        "{offer}"
    );
    assert!(answer.contains("the peer nominated it"), "{answer}");

    // No filter at all: not one debug line.
    let (offer, answer) = call(&[], &[], None, None);
    for log in [&offer, &answer] {
        assert!(!log.contains("DEBUG"), "{log}");
        assert!(!log.contains("nominated"), "{log}");
    }
}

#[test]
fn a_bad_log_filter_is_a_usage_error() {
    let o = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
        .args(["--log", "meshrtc_ice=loud", "sdp", "-"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad log filter"));
}

fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("meshrtc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn tshark(args: &[&str]) -> String {
    let o = Command::new("tshark")
        .args(args)
        .output()
        .expect("tshark is not installed: scripts/setup installs it (Debian package tshark)");
    assert!(
        o.status.success(),
        "tshark {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The SSRCs of the tracks a `--stats-json` report says were received.
fn received_ssrcs(report: &std::path::Path) -> Vec<u32> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    v["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["ssrc"].as_u64().unwrap() as u32)
        .collect()
}

/// A capture of a real call, as tshark (Wireshark 4.0) reads it: STUN
/// dissected, the DTLS 1.2 handshake decrypted with the key log the file
/// carries, RTP headers whose SSRCs are the streams both sides report, and
/// SRTCP headers from those senders.
#[test]
fn a_call_capture_opens_in_tshark_with_stun_decrypted_dtls_and_our_ssrcs() {
    let dir = scratch("capture");
    let pcap = dir.join("offer.pcapng");
    let offer_json = dir.join("offer.json");
    let answer_json = dir.join("answer.json");
    let (offer_err, _) = call(
        &[
            "--capture",
            pcap.to_str().unwrap(),
            "--stats-json",
            offer_json.to_str().unwrap(),
        ],
        &["--stats-json", answer_json.to_str().unwrap()],
        None,
        None,
    );
    assert!(offer_err.contains("packets written"), "{offer_err}");
    let file = pcap.to_str().unwrap();

    let stun = tshark(&["-r", file, "-Y", "stun"]);
    assert!(stun.lines().count() >= 2, "{stun}");
    assert!(stun.contains("Binding Request"), "{stun}");
    assert!(stun.contains("Binding Success Response"), "{stun}");

    // Finished is encrypted: tshark sees it only with the embedded keys.
    let finished = tshark(&["-r", file, "-Y", "dtls.handshake.type == 20"]);
    assert_eq!(finished.lines().count(), 2, "{finished}");
    assert!(finished.contains("Finished"), "{finished}");

    // RTP headers (heuristic: no SDP in the file): the video and audio
    // SSRCs each side decoded (RTX, payload type 97, has its own).
    let rtp = tshark(&[
        "-r",
        file,
        "-o",
        "rtp.heuristic_rtp:TRUE",
        "-Y",
        "rtp.p_type == 96 || rtp.p_type == 111",
        "-T",
        "fields",
        "-e",
        "rtp.ssrc",
    ]);
    let mut seen: Vec<u32> = rtp
        .lines()
        .map(|l| u32::from_str_radix(l.trim().trim_start_matches("0x"), 16).unwrap())
        .collect();
    seen.sort();
    seen.dedup();
    let mut expected = received_ssrcs(&offer_json);
    expected.extend(received_ssrcs(&answer_json));
    expected.sort();
    assert_eq!(seen, expected, "{rtp}");

    // SRTCP: the clear header of sender reports, from those senders.
    let srtcp = tshark(&[
        "-r",
        file,
        "-o",
        "rtp.heuristic_rtp:TRUE",
        "-Y",
        "srtcp && rtcp.pt == 200",
        "-T",
        "fields",
        "-e",
        "rtcp.senderssrc",
    ]);
    let senders: Vec<u32> = srtcp
        .lines()
        .map(|l| u32::from_str_radix(l.trim().trim_start_matches("0x"), 16).unwrap())
        .collect();
    assert!(!senders.is_empty(), "no SRTCP sender report seen");
    assert!(
        senders.iter().all(|s| expected.contains(s)),
        "{senders:x?} vs {expected:x?}"
    );

    // The SRTP keys ride in a packet comment.
    let comments = tshark(&[
        "-r",
        file,
        "-Y",
        "frame.comment",
        "-T",
        "fields",
        "-e",
        "frame.comment",
    ]);
    assert_eq!(comments.lines().count(), 1, "{comments}");
    assert!(
        comments.starts_with("meshrtc-srtp local=127.0.0.1:") && comments.contains(" dtls=server "),
        "{comments}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

//! Logs that explain decisions (issue 21): `RUST_LOG` / `--log` on a real
//! call between two `meshrtc` processes on loopback.

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
pub fn call(
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

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
    // DTLS 1.2: Debian 12's tshark (Wireshark 4.0) decrypts no DTLS 1.3.
    let (offer_err, _) = call(
        &[
            "--capture",
            pcap.to_str().unwrap(),
            "--stats-json",
            offer_json.to_str().unwrap(),
            "--dtls",
            "1.2",
        ],
        &[
            "--stats-json",
            answer_json.to_str().unwrap(),
            "--dtls",
            "1.2",
        ],
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

/// `meshrtc decode FILE.pcapng` reads a call's capture back: every
/// datagram, the SRTP and SRTCP decrypted with the keys in the file's
/// comment, in both directions.
#[test]
fn decode_reads_a_call_capture_and_decrypts_its_srtp_with_the_files_keys() {
    let dir = scratch("decode-capture");
    let pcap = dir.join("answer.pcapng");
    // DTLS 1.2: one `CLIENT_RANDOM` line per connection (a 1.3
    // connection logs five traffic secrets).
    let (_, answer_err) = call(
        &["--dtls", "1.2"],
        &["--capture", pcap.to_str().unwrap(), "--dtls", "1.2"],
        None,
        None,
    );
    let written: usize = answer_err
        .lines()
        .find_map(|l| l.strip_prefix("meshrtc answer: capture: "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{answer_err}"));
    let o = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
        .args(["decode", pcap.to_str().unwrap()])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.starts_with(&format!(
            "{written} packets; 1 DTLS key log line(s); SRTP keys for 1 connection(s)"
        )),
        "{}",
        &out[..out.len().min(300)]
    );
    assert_eq!(out.matches("── packet ").count(), written);
    let sent_rtp = out
        .split("── packet ")
        .filter(|p| p.contains("(sent)") && p.contains("RTP,") && p.contains("SRTP decrypted"))
        .count();
    let received_rtp = out
        .split("── packet ")
        .filter(|p| p.contains("(received)") && p.contains("RTP,") && p.contains("SRTP decrypted"))
        .count();
    assert!(
        sent_rtp > 50 && received_rtp > 50,
        "{sent_rtp} {received_rtp}"
    );
    assert!(out.contains("RTCP, ") && out.contains("SRTP decrypted"));
    assert!(
        out.contains("SR (sender report)"),
        "decrypted SRTCP shows its reports"
    );
    assert!(!out.contains("SRTP FAILED"));
    assert!(out.contains("STUN Binding request"));
    assert!(out.contains("ClientHello"));

    // JSON: one object per packet with its addresses.
    let o = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
        .args(["decode", "--json", pcap.to_str().unwrap()])
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), written);
    assert!(lines
        .iter()
        .any(|v| v["srtp"] == "decrypted" && v["src"].as_str().unwrap().starts_with("127.0.0.1:")));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Plain RTCP (no SRTCP trailer) is decoded in full, every packet of the
/// compound, without a key.
#[test]
fn decode_shows_every_packet_of_a_plain_rtcp_compound() {
    // RR with no blocks, then SDES with CNAME "me" (RFC 3550 §6.4.2, §6.5).
    let rr = "80c90001cafebabe";
    let sdes = "81ca0003cafebabe01026d6500000000";
    let o = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
        .args(["decode", &format!("{rr}{sdes}")])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("plain RTCP"), "{out}");
    assert!(out.contains("201 RR (receiver report)"), "{out}");
    assert!(out.contains("202 SDES"), "{out}");
    assert!(out.contains("ssrc 0xcafebabe cname \"me\""), "{out}");
    assert!(!out.contains("encrypted"), "{out}");
    // With a 10-byte tag and an index after it, the same bytes are SRTCP:
    // only the first header is readable.
    let o = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
        .args(["decode", &format!("{rr}{sdes}80000001{}", "00".repeat(10))])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("the rest is encrypted"), "{out}");
}

/// `meshrtc demo --capture`: one file, one interface per member, every
/// connection's secrets in it: tshark decrypts each DTLS handshake (two
/// Finished per connection, each seen by its sender and its receiver) and
/// `meshrtc decode` finds the SRTP keys of every connection.
#[test]
fn a_demo_capture_has_one_interface_per_member_and_every_connections_keys() {
    let dir = scratch("demo-capture");
    let pcap = dir.join("demo.pcapng");
    let o = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
        .args([
            "demo",
            "--peers",
            "3",
            "--duration",
            "1",
            "--listen",
            "127.0.0.1:0",
            "--width",
            "160",
            "--height",
            "120",
            "--sheet",
            dir.join("sheet.png").to_str().unwrap(),
            "--capture",
            pcap.to_str().unwrap(),
            // Debian 12's tshark decrypts no DTLS 1.3.
            "--dtls",
            "1.2",
        ])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let file = pcap.to_str().unwrap();
    let names = tshark(&["-r", file, "-T", "fields", "-e", "frame.interface_name"]);
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    names.dedup();
    assert_eq!(names, ["member1", "member2", "member3"]);
    // Three connections, two Finished each, each captured twice.
    let finished = tshark(&["-r", file, "-Y", "dtls.handshake.type == 20"]);
    assert_eq!(finished.lines().count(), 12, "{finished}");
    let o = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
        .args(["decode", file])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Each connection's keys, once from each of its two members.
    assert!(
        out.lines()
            .next()
            .unwrap()
            .ends_with("3 DTLS key log line(s); SRTP keys for 6 connection(s)"),
        "{}",
        out.lines().next().unwrap()
    );
    assert!(out.contains("SRTP decrypted"));
    assert!(!out.contains("SRTP FAILED"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Rewrites a (little-endian, ours) pcapng file without its Decryption
/// Secrets Blocks and packet options: what `tcpdump -w` would have.
fn strip_secrets(b: &[u8]) -> Vec<u8> {
    let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    let mut out = Vec::new();
    let mut at = 0;
    while at < b.len() {
        let (kind, len) = (u32_at(at), u32_at(at + 4) as usize);
        match kind {
            0x0A => {}
            6 => {
                let caplen = u32_at(at + 20) as usize;
                let body = &b[at + 8..at + 28 + caplen];
                let padded = body.len() + (4 - body.len() % 4) % 4;
                let total = (12 + padded) as u32;
                out.extend(6u32.to_le_bytes());
                out.extend(total.to_le_bytes());
                out.extend(body);
                out.resize(out.len() + padded - body.len(), 0);
                out.extend(total.to_le_bytes());
            }
            _ => out.extend(&b[at..at + len]),
        }
        at += len;
    }
    out
}

/// A capture with neither our comment nor the embedded key log still
/// decrypts when `--keylog` gives the DTLS master secret: the SRTP keys
/// are derived from it and the hellos in the capture (RFC 5764 §4.2).
#[test]
fn decode_derives_srtp_keys_from_a_key_log_and_the_captured_hellos() {
    let dir = scratch("decode-keylog");
    let pcap = dir.join("offer.pcapng");
    let keylog = dir.join("keys.log");
    // The 1.2 master secret (`CLIENT_RANDOM`) is what decode derives from.
    call(
        &["--capture", pcap.to_str().unwrap(), "--dtls", "1.2"],
        &["--keylog", keylog.to_str().unwrap(), "--dtls", "1.2"],
        None,
        None,
    );
    let bare = dir.join("bare.pcapng");
    std::fs::write(&bare, strip_secrets(&std::fs::read(&pcap).unwrap())).unwrap();
    let decode = |extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
            .arg("decode")
            .args(extra)
            .arg(&bare)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let without = decode(&[]);
    assert!(
        without
            .lines()
            .next()
            .unwrap()
            .ends_with("0 DTLS key log line(s); SRTP keys for 0 connection(s)"),
        "{}",
        without.lines().next().unwrap()
    );
    assert!(!without.contains("SRTP decrypted"));
    let with = decode(&["--keylog", keylog.to_str().unwrap()]);
    assert!(
        with.lines().next().unwrap().ends_with(
            "1 DTLS key log line(s); SRTP keys for 1 connection(s) (1 derived from the key log and the hellos)"
        ),
        "{}",
        with.lines().next().unwrap()
    );
    let decrypted = with.matches("SRTP decrypted").count();
    assert!(decrypted > 100, "{decrypted}");
    assert!(!with.contains("SRTP FAILED"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A DTLS 1.3 call (`--dtls both` on both sides, the default) keys its
/// capture with the 1.3 traffic secrets: the NSS key log lines go into
/// the file's Decryption Secrets Block and to `--keylog` as the 1.2
/// `CLIENT_RANDOM` line does, all five for the connection's one random.
#[test]
fn a_dtls13_call_logs_its_traffic_secrets_to_the_capture_and_the_key_log() {
    let dir = scratch("capture13");
    let pcap = dir.join("offer.pcapng");
    let keylog = dir.join("keys.log");
    call(
        &["--capture", pcap.to_str().unwrap()],
        &["--keylog", keylog.to_str().unwrap()],
        None,
        None,
    );
    let file = std::fs::read(&pcap).unwrap();
    let logged = std::fs::read_to_string(&keylog).unwrap();
    let labels = [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
        "EXPORTER_SECRET",
    ];
    let lines: Vec<&str> = logged.lines().collect();
    assert_eq!(lines.len(), labels.len(), "{logged}");
    let random = lines[0].split(' ').nth(1).unwrap();
    assert_eq!(random.len(), 64);
    for (line, label) in lines.iter().zip(labels) {
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts[0], label, "{line}");
        assert_eq!(parts[1], random, "one connection: {line}");
        // SHA-256 secrets (TLS_AES_128_GCM_SHA256, the browsers' choice).
        assert_eq!(parts[2].len(), 64, "{line}");
        // The offerer's capture holds the same lines.
        let needle = line.as_bytes();
        assert!(
            file.windows(needle.len()).any(|w| w == needle),
            "{label} not in the capture"
        );
    }
    assert!(!logged.contains("CLIENT_RANDOM"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `meshrtc decode` of a DTLS 1.3 call's capture (the default version)
/// decrypts the protected records with the 1.3 traffic secrets of the
/// file's Decryption Secrets Block: the handshake in epoch 2 from both
/// sides (EncryptedExtensions to Finished), and the SRTP with the keys of
/// the file's comment. Stripped of both, the capture still decrypts with
/// `--keylog`: the SRTP keys come from `EXPORTER_SECRET` (RFC 8446 §7.5,
/// RFC 5764 §4.2) and the profile in the decrypted EncryptedExtensions.
#[test]
fn decode_decrypts_a_dtls13_captures_handshake_and_srtp_with_its_keys() {
    let dir = scratch("decode13");
    let pcap = dir.join("offer.pcapng");
    let keylog = dir.join("keys.log");
    call(
        &["--capture", pcap.to_str().unwrap()],
        &["--keylog", keylog.to_str().unwrap()],
        None,
        None,
    );
    // With keys, every datagram decodes (the exit status says so).
    let decode = |file: &std::path::Path, extra: &[&str], keys: bool| {
        let o = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
            .arg("decode")
            .args(extra)
            .arg(file)
            .output()
            .unwrap();
        assert!(
            o.status.success() || !keys,
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    // Each side's Finished, decrypted, in a packet that side sent: two
    // source addresses (a stripped capture has no direction flags).
    let finished_from_both = |out: &str| {
        let senders: std::collections::HashSet<&str> = out
            .split("── packet ")
            .filter(|p| {
                p.contains("decrypted with the key log: epoch 2")
                    && p.contains("Finished message_seq")
                    && p.contains("verify_data")
            })
            .filter_map(|p| p.split(": ").nth(1)?.split(" → ").next())
            .collect();
        senders.len() == 2
    };
    // Decrypted RTP packets, by source address: both sides send.
    let srtp_both_ways = |out: &str| {
        let mut by_src = std::collections::HashMap::<&str, usize>::new();
        for p in out
            .split("── packet ")
            .filter(|p| p.contains("RTP,") && p.contains("SRTP decrypted"))
        {
            if let Some(src) = p.split(": ").nth(1).and_then(|l| l.split(" → ").next()) {
                *by_src.entry(src).or_default() += 1;
            }
        }
        by_src.len() == 2 && by_src.values().all(|&n| n > 50)
    };

    let out = decode(&pcap, &[], true);
    let head = out.lines().next().unwrap();
    assert!(
        head.ends_with("5 DTLS key log line(s); SRTP keys for 1 connection(s)"),
        "{head}"
    );
    assert!(finished_from_both(&out), "{out}");
    for m in [
        "EncryptedExtensions message_seq",
        "use_srtp        SRTP_",
        "Certificate message_seq",
        "CertificateVerify message_seq",
        "selected        DTLS 1.3",
        // The server acknowledges the client's last flight (RFC 9147 §7).
        "ACK of records  epoch 2 seq 0",
    ] {
        assert!(out.contains(m), "{m} missing");
    }
    assert!(!out.contains("FAILED"), "a record or packet failed");
    assert!(srtp_both_ways(&out), "SRTP in a 1.3 capture");

    let bare = dir.join("bare.pcapng");
    std::fs::write(&bare, strip_secrets(&std::fs::read(&pcap).unwrap())).unwrap();
    let without = decode(&bare, &[], false);
    assert!(without.contains("    encrypted\n") && !without.contains("SRTP decrypted"));
    let with = decode(&bare, &["--keylog", keylog.to_str().unwrap()], true);
    let head = with.lines().next().unwrap();
    assert!(
        head.ends_with(
            "5 DTLS key log line(s); SRTP keys for 1 connection(s) (1 derived from the key log and the hellos)"
        ),
        "{head}"
    );
    assert!(finished_from_both(&with));
    assert!(!with.contains("FAILED"));
    assert!(srtp_both_ways(&with));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Headless Chromium's view of `page` (after its script ran) with
/// `fragment` appended to the URL, as the serialized DOM.
fn chromium_dom(page: &std::path::Path, fragment: &str) -> String {
    let o = Command::new("chromium")
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--dump-dom",
        ])
        .arg(format!("file://{}{fragment}", page.display()))
        .output()
        .expect("chromium is not installed: scripts/setup installs it");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Frames tshark's display filter `filter` selects in `file`.
fn tshark_count(file: &str, filter: &str) -> usize {
    tshark(&[
        "-r",
        file,
        "-Y",
        filter,
        "-T",
        "fields",
        "-e",
        "frame.number",
    ])
    .lines()
    .filter(|l| !l.trim().is_empty())
    .count()
}

/// `meshrtc timeline` draws a real call's capture and trace: Chromium,
/// running the page's script, shows one STUN arrow per STUN frame and one
/// DTLS arrow per DTLS frame tshark counts in the same file, one note per
/// trace line, and a packet's `decode` explanation when it is selected;
/// the page is saved as a screenshot.
#[test]
fn the_timeline_of_a_call_has_an_arrow_per_stun_and_dtls_frame_in_chromium() {
    let dir = scratch("timeline");
    let pcap = dir.join("offer.pcapng");
    let trace = dir.join("offer.jsonl");
    // DTLS 1.2: tshark 4.0, the independent count, reads no DTLS 1.3
    // record.
    let (offer_err, _) = call(
        &[
            "--capture",
            pcap.to_str().unwrap(),
            "--trace",
            trace.to_str().unwrap(),
            "--dtls",
            "1.2",
        ],
        &["--dtls", "1.2"],
        None,
        None,
    );
    assert!(offer_err.contains("packets written"), "{offer_err}");
    // The trace holds the decisions, though stderr's filter is off.
    let trace_text = std::fs::read_to_string(&trace).unwrap();
    let trace_lines = trace_text.lines().count();
    assert!(trace_lines >= 3, "{trace_text}");
    for l in trace_text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["endpoint"], "offer", "{l}");
        assert!(v["t_us"].as_u64().unwrap() > 1_600_000_000_000_000, "{l}");
    }
    assert!(
        !offer_err.contains("DEBUG"),
        "--trace must not turn stderr logs on: {offer_err}"
    );

    let page = dir.join("call.html");
    let o = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
        .args(["timeline", "-o", page.to_str().unwrap()])
        .arg(&pcap)
        .arg(&trace)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let file = pcap.to_str().unwrap();
    let stun = tshark_count(file, "stun");
    let dtls = tshark_count(file, "dtls");
    assert!(stun >= 4 && dtls >= 4, "stun {stun} dtls {dtls}");
    let dom = chromium_dom(&page, "");
    assert_eq!(
        dom.matches("class=\"arrow k-stun\"").count(),
        stun,
        "STUN arrows"
    );
    assert_eq!(
        dom.matches("class=\"arrow k-dtls\"").count(),
        dtls,
        "DTLS arrows"
    );
    assert_eq!(
        dom.matches("class=\"note k-note\"").count(),
        trace_lines,
        "notes"
    );
    // Media folded into runs, first packets and phases shown.
    assert!(dom.contains("class=\"run k-rtp\""), "no media run");
    for phase in ["ICE checks", "DTLS flights", "first SRTP", "RTCP feedback"] {
        assert!(dom.contains(&format!(">{phase}</text>")), "phase {phase}");
    }
    assert!(
        dom.contains("flight 1: ClientHello"),
        "no ClientHello arrow"
    );
    // The first packet's explanation, as `meshrtc decode FILE` prints it.
    let decoded = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
        .args(["decode", file])
        .output()
        .unwrap();
    let decoded = String::from_utf8_lossy(&decoded.stdout);
    // Both Finished messages are opened with the embedded key log.
    assert_eq!(
        decoded.matches("decrypted with the key log").count(),
        decoded.matches("epoch 1 seq").count(),
        "{decoded}"
    );
    assert_eq!(decoded.matches("verify_data").count(), 2, "{decoded}");
    assert!(!decoded.contains("do not open it"), "{decoded}");
    let first_heading = decoded
        .lines()
        .find(|l| l.starts_with("── packet 1 "))
        .unwrap();
    let dom = chromium_dom(&page, "#x=0");
    let detail = &dom[dom.find("id=\"detail\"").unwrap()..];
    let detail = &detail[..detail.find("</pre>").unwrap()];
    assert!(detail.contains(first_heading), "{detail}");
    assert!(detail.contains("Binding"), "{detail}");

    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("timeline.png");
    let o = Command::new("chromium")
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1400,900",
        ])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}#x=0", page.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    eprintln!("timeline screenshot: {}", shot.display());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A classic pcap (raw IPv4) holding one UDP datagram `payload` from
/// 10.0.0.1:1000 to 10.0.0.2:2000 (checksums zero: the reader does not
/// need them).
fn pcap_of(payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend(0xa1b2_c3d4u32.to_le_bytes());
    f.extend(2u16.to_le_bytes());
    f.extend(4u16.to_le_bytes());
    f.extend([0u8; 8]);
    f.extend(65_535u32.to_le_bytes());
    f.extend(101u32.to_le_bytes()); // LINKTYPE_RAW
    let total = 20 + 8 + payload.len();
    let mut ip = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0,
        0,
        64,
        17,
        0,
        0,
    ];
    ip.extend([10, 0, 0, 1, 10, 0, 0, 2]);
    ip.extend(1000u16.to_be_bytes());
    ip.extend(2000u16.to_be_bytes());
    ip.extend(((8 + payload.len()) as u16).to_be_bytes());
    ip.extend([0, 0]);
    ip.extend(payload);
    f.extend(1_764_000_000u32.to_le_bytes());
    f.extend(0u32.to_le_bytes());
    f.extend((ip.len() as u32).to_le_bytes());
    f.extend((ip.len() as u32).to_le_bytes());
    f.extend(ip);
    f
}

/// A capture is untrusted: a STUN USERNAME full of markup shows as text
/// in the timeline, in Chromium, and adds no element and runs no script.
#[test]
fn a_hostile_capture_cannot_inject_markup_into_the_timeline() {
    let dir = scratch("timeline-hostile");
    let evil = "</script><script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\"><!--";
    let mut user = evil.as_bytes().to_vec();
    let len = user.len();
    while user.len() % 4 != 0 {
        user.push(0);
    }
    let mut stun = vec![0x00, 0x01];
    stun.extend(((4 + user.len()) as u16).to_be_bytes());
    stun.extend([0x21, 0x12, 0xa4, 0x42]);
    stun.extend([7u8; 12]);
    stun.extend([0x00, 0x06]);
    stun.extend((len as u16).to_be_bytes());
    stun.extend(user);
    let pcap = dir.join("hostile.pcap");
    std::fs::write(&pcap, pcap_of(&stun)).unwrap();
    let page = dir.join("hostile.html");
    let o = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
        .args(["timeline", "-o", page.to_str().unwrap()])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dom = chromium_dom(&page, "#x=0");
    assert_eq!(dom.matches("<script").count(), 2, "{dom}");
    assert!(!dom.contains("<img"), "{dom}");
    assert!(!dom.contains("pwned</title>"), "{dom}");
    assert!(
        dom.contains("<title>meshrtc timeline: hostile.pcap</title>"),
        "{dom}"
    );
    // One arrow, selected by `#x=0`.
    assert_eq!(dom.matches("class=\"arrow k-stun selected\"").count(), 1);
    // The text is there, as text, in the packet's explanation.
    let detail = &dom[dom.find("id=\"detail\"").unwrap()..];
    assert!(
        detail.contains("&lt;/script&gt;&lt;script&gt;document.title='pwned'"),
        "{detail}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

//! The `meshrtc` binary as a user runs it.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn meshrtc(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        pipe.write_all(s.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../fixtures/chromium-156/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

#[test]
fn decode_prints_every_attribute_and_verifies_with_the_password() {
    let hex = fixture("chromium_stun_binding_request.hex");
    let o = meshrtc(
        &[
            "decode",
            "--ice-pwd",
            "dPR+zd3QMw7rwvBB3GOuedwM",
            hex.trim(),
        ],
        None,
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.starts_with("STUN Binding request, 100 bytes\n"),
        "{out}"
    );
    for needle in [
        "transaction id  473432495469782f56557948",
        "USERNAME",
        "\"RGpn:gAt7\"  (ICE: to ufrag \"RGpn\", from ufrag \"gAt7\")",
        "GOOG-NETWORK-INFO",
        "network id 1, network cost 50",
        "ICE-CONTROLLING",
        "tie-breaker 0x91d332d9cdda01f3",
        "USE-CANDIDATE",
        "1853824767  (type preference 110, local preference 32542, component 1)",
        "message integrity         ok",
        "fingerprint               ok",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
}

#[test]
fn decode_reports_a_wrong_password_and_an_unchecked_integrity() {
    let hex = fixture("chromium_stun_binding_request.hex");
    let (out, _) = text(&meshrtc(&["decode", "--ice-pwd", "nope", hex.trim()], None));
    assert!(
        out.contains("message integrity         FAILED: MESSAGE-INTEGRITY does not match"),
        "{out}"
    );
    let (out, _) = text(&meshrtc(&["decode", hex.trim()], None));
    assert!(
        out.contains("message integrity         not checked (give --ice-pwd)"),
        "{out}"
    );
}

#[test]
fn decode_json_from_stdin_one_object_per_datagram() {
    let input = format!(
        "# two datagrams\n{}\n{}",
        fixture("chromium_stun_binding_success_response.hex").trim(),
        fixture("chromium_dtls_clienthello.hex")
    );
    let o = meshrtc(
        &[
            "decode",
            "--json",
            "--ice-pwd",
            "Hb3P1MICVmw4WkbABnMC6nn5",
            "-",
        ],
        Some(&input),
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let v: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(v.len(), 3);
    assert_eq!(v[0]["class"], "STUN");
    assert_eq!(v[0]["stun"]["class"], "success response");
    assert_eq!(v[0]["stun"]["attributes"][0]["type"], "XOR-MAPPED-ADDRESS");
    assert_eq!(v[0]["stun"]["attributes"][0]["value"], "127.0.0.1:52849");
    assert_eq!(v[0]["stun"]["message_integrity"], "ok");
    assert_eq!(v[0]["stun"]["fingerprint"], "ok");
    assert_eq!(
        (v[1]["class"].as_str(), v[1]["length"].as_u64()),
        (Some("DTLS"), Some(1200))
    );
    assert_eq!(
        (v[2]["class"].as_str(), v[2]["length"].as_u64()),
        (Some("DTLS"), Some(263))
    );
}

#[test]
fn garbage_gets_a_clear_error_and_a_failing_exit_code() {
    for (args, needle) in [
        (
            vec!["decode", "zz"],
            "line 1, column 1: 'z' is not a hex digit",
        ),
        (vec!["decode", "abc"], "odd number of hex digits"),
        (vec!["decode", "-"], "no datagram in the input"),
    ] {
        let o = meshrtc(&args, Some(""));
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // Bytes in no RFC 7983 range, and a STUN header that lies about length.
    let o = meshrtc(&["decode", "ff00ff00"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).0.contains("in no RFC 7983 range"));
    let o = meshrtc(
        &["decode", "000100502112a442000000000000000000000000"],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o)
        .0
        .contains("malformed: truncated STUN message: needed 100 bytes, got 20"));
}

#[test]
fn bad_arguments_are_a_usage_error() {
    let o = meshrtc(&["decode"], None);
    assert_eq!(o.status.code(), Some(2));
    let o = meshrtc(&["frobnicate"], None);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn decode_tries_every_password_given() {
    let input = format!(
        "{}\n{}",
        fixture("chromium_stun_binding_request.hex").trim(),
        fixture("chromium_stun_binding_success_response.hex").trim()
    );
    let o = meshrtc(
        &[
            "decode",
            "--ice-pwd",
            "Hb3P1MICVmw4WkbABnMC6nn5",
            "--ice-pwd",
            "dPR+zd3QMw7rwvBB3GOuedwM",
            "-",
        ],
        Some(&input),
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("── datagram 1 of 2 ──"));
    // The request verifies with the answerer's password, the response with
    // the offerer's.
    assert!(
        out.contains("message integrity         ok (with --ice-pwd number 2)"),
        "{out}"
    );
    assert!(
        out.contains("message integrity         ok (with --ice-pwd number 1)"),
        "{out}"
    );
    let o = meshrtc(
        &["decode", "--ice-pwd", "a", "--ice-pwd", "b", "-"],
        Some(&input),
    );
    assert!(text(&o).0.contains("FAILED: no given password matches"));
}

/// Starts `meshrtc stun-server` on a free loopback port; returns the child
/// and the address it printed.
fn stun_server() -> (std::process::Child, std::net::SocketAddr) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
        .args(["stun-server", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().rsplit(' ').next().unwrap().parse().unwrap();
    (child, addr)
}

#[test]
fn stun_server_answers_binding_requests_over_udp() {
    use meshrtc_ice::stun::{AttrType, Class, Message, MessageBuilder, Method, TransactionId};
    let (mut child, server) = stun_server();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut req = Vec::new();
    let mut b = MessageBuilder::new(
        &mut req,
        Class::Request,
        Method::BINDING,
        TransactionId([4; 12]),
    );
    b.add_fingerprint().unwrap();
    // Garbage first: it must not stop the server.
    sock.send_to(b"not stun at all", server).unwrap();
    sock.send_to(&req, server).unwrap();
    let mut buf = [0u8; 1500];
    let (n, from) = sock.recv_from(&mut buf).unwrap();
    assert_eq!(from, server);
    let m = Message::parse(&buf[..n]).unwrap();
    assert_eq!(
        (m.class(), m.transaction_id()),
        (Class::Success, TransactionId([4; 12]))
    );
    assert_eq!(
        m.mapped_address().unwrap(),
        Some(sock.local_addr().unwrap())
    );
    m.verify_fingerprint().unwrap();
    assert!(matches!(m.get(AttrType::SOFTWARE), Some(Ok(_))));
    // 420 for an unknown comprehension-required attribute.
    let mut req = Vec::new();
    let mut b = MessageBuilder::new(
        &mut req,
        Class::Request,
        Method::BINDING,
        TransactionId([5; 12]),
    );
    b.add_raw(AttrType(0x0003), &[0, 0, 0, 0]).unwrap();
    sock.send_to(&req, server).unwrap();
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    let m = Message::parse(&buf[..n]).unwrap();
    assert_eq!(m.error_code().unwrap().unwrap().code, 420);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn stun_server_refuses_a_bad_listen_address() {
    let o = meshrtc(&["stun-server", "--listen", "not-an-address"], None);
    assert_eq!(o.status.code(), Some(2));
}

mod srtp_decode {
    use super::{meshrtc, text};
    use base64::Engine;
    use meshrtc_srtp::{split_keying_material, Config, Context, MasterKey, Profile};

    fn b64(b: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    /// An RTP packet with a one-byte header extension (id 1, 2 bytes) and
    /// a 5-byte payload.
    fn rtp_packet() -> Vec<u8> {
        let mut p = vec![
            0x90,
            0x80 | 96,
            0x12,
            0x34,
            0,
            0,
            0x0b,
            0xb8,
            0xca,
            0xfe,
            0xba,
            0xbe,
        ];
        p.extend_from_slice(&[0xbe, 0xde, 0x00, 0x01, 0x11, 0xab, 0xcd, 0x00]);
        p.extend_from_slice(b"hello");
        p
    }

    fn rtcp_packet() -> Vec<u8> {
        let mut p = vec![0x80, 201, 0x00, 0x01, 0xca, 0xfe, 0xba, 0xbe];
        // SDES: one chunk, CNAME "me", then the null item that ends the
        // list, padded to 32 bits (RFC 3550 §6.5).
        p.extend_from_slice(&[
            0x81, 202, 0x00, 0x03, 0xca, 0xfe, 0xba, 0xbe, 1, 2, b'm', b'e', 0, 0, 0, 0,
        ]);
        p
    }

    #[test]
    fn decode_names_extensions_and_decodes_every_rtcp_packet() {
        // RTP with one-byte elements: 9 = mid "0", 4 = transport-wide
        // sequence 0x0102, 2 = abs-send-time 1.5 s (6.18 fixed point).
        let mut rtp = vec![0x90, 96, 0, 1, 0, 0, 0, 0, 0xca, 0xfe, 0xba, 0xbe];
        rtp.extend_from_slice(&[0xbe, 0xde, 0, 3]);
        rtp.extend_from_slice(&[0x90, b'0', 0x41, 1, 2, 0x22, 0x06, 0x00, 0x00, 0, 0, 0]);
        rtp.extend_from_slice(b"payload");
        let o = meshrtc(
            &[
                "decode",
                "--extmap",
                "9=mid",
                "--extmap",
                "4=http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
                "--extmap",
                "2=abs-send-time",
                &hex::encode(&rtp),
            ],
            None,
        );
        let (out, err) = text(&o);
        assert!(o.status.success(), "{err}\n{out}");
        for needle in [
            "id 9   mid            1 bytes  \"0\"",
            "id 4   transport-cc   2 bytes  seq 258",
            "id 2   abs-send-time  3 bytes  1.500000 s",
        ] {
            assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
        }
        // Unnamed ids stay hex.
        let (out, _) = text(&meshrtc(&["decode", &hex::encode(&rtp)], None));
        assert!(out.contains("id 9   1 bytes  30"), "{out}");
        // A bad --extmap is a usage error.
        for bad in ["9", "0=mid", "9=nope"] {
            let o = meshrtc(&["decode", "--extmap", bad, "00"], None);
            assert_eq!(o.status.code(), Some(2), "{bad}");
        }
        // RTCP compounds from the fuzz seeds, protected then decrypted:
        // every packet decoded.
        let ks: Vec<u8> = (0u8..30).collect();
        let key = MasterKey::from_concatenated(Profile::Aes128CmHmacSha1_80, &ks).unwrap();
        let mut tx = Context::new(&key, Config::default());
        let mut lines = String::new();
        for seed in ["rr_nack_pli_fir.bin", "remb.bin", "sr_sdes.bin"] {
            let path = format!("{}/../fuzz/seeds/rtcp/{seed}", env!("CARGO_MANIFEST_DIR"));
            let mut p = std::fs::read(path).unwrap();
            tx.protect_rtcp(&mut p).unwrap();
            lines += &hex::encode(&p);
            lines.push('\n');
        }
        let o = meshrtc(&["decode", "--srtp-key", &b64(&ks), "-"], Some(&lines));
        let (out, err) = text(&o);
        assert!(o.status.success(), "{err}\n{out}");
        for needle in [
            "205 RTPFB (transport feedback)",
            "lost [100, 101, 103]",
            "206 PSFB (payload-specific feedback)",
            "0x00000001 -> 0x00000002",
            "entries 1",
            "bitrate",
            "200 SR (sender report)",
            "block ssrc",
        ] {
            assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
        }
    }

    #[test]
    fn decode_decrypts_srtp_and_srtcp_with_a_key() {
        let ks: Vec<u8> = (0u8..30).collect();
        let key = MasterKey::from_concatenated(Profile::Aes128CmHmacSha1_80, &ks).unwrap();
        let mut tx = Context::new(&key, Config::default());
        let mut rtp = rtp_packet();
        tx.protect_rtp(&mut rtp).unwrap();
        let mut rtcp = rtcp_packet();
        tx.protect_rtcp(&mut rtcp).unwrap();
        let input = format!("{}\n{}\n", hex::encode(&rtp), hex::encode(&rtcp));
        let o = meshrtc(&["decode", "--srtp-key", &b64(&ks), "-"], Some(&input));
        let (out, err) = text(&o);
        assert!(o.status.success(), "{err}\n{out}");
        for needle in [
            "RTP, 35 bytes, SRTP decrypted",
            "payload type    96",
            "sequence        4660",
            "ssrc            0xcafebabe",
            "extension       0xbede one-byte (RFC 8285), 4 bytes",
            "id 1   2 bytes  abcd",
            "payload         5 bytes (decrypted)",
            "RTCP, 38 bytes, SRTP decrypted",
            "201 RR (receiver report)",
            "202 SDES",
            "ssrc 0xcafebabe cname \"me\"",
        ] {
            assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
        }
        // Without a key the headers still show; the payload is ciphertext.
        let (out, _) = text(&meshrtc(&["decode", &hex::encode(&rtp)], None));
        assert!(out.contains("RTP, 35 bytes, not decrypted"), "{out}");
        assert!(
            out.contains("payload         15 bytes (SRTP-encrypted"),
            "{out}"
        );
        // With the wrong key: a clear failure and a failing exit code.
        let wrong: Vec<u8> = (1u8..31).collect();
        let o = meshrtc(
            &["decode", "--srtp-key", &b64(&wrong), &hex::encode(&rtp)],
            None,
        );
        assert_eq!(o.status.code(), Some(1));
        assert!(
            text(&o).0.contains("SRTP FAILED: authentication failed"),
            "{}",
            text(&o).0
        );
    }

    #[test]
    fn decode_takes_dtls_keying_material_and_the_sender_side() {
        let material: Vec<u8> = (100u8..156).collect();
        let (_, server) = split_keying_material(Profile::AeadAes128Gcm, &material).unwrap();
        let mut tx = Context::new(&server, Config::default());
        let mut rtp = rtp_packet();
        tx.protect_rtp(&mut rtp).unwrap();
        let args = ["decode", "--profile", "AEAD_AES_128_GCM", "--srtp-key"];
        let mut with = args.to_vec();
        let k = b64(&material);
        let h = hex::encode(&rtp);
        with.extend([k.as_str(), "--srtp-sender", "server", h.as_str()]);
        let o = meshrtc(&with, None);
        assert!(o.status.success(), "{}", text(&o).0);
        assert!(text(&o).0.contains("SRTP decrypted"));
        // The client's half does not open the server's packets.
        let mut client = args.to_vec();
        client.extend([k.as_str(), "--srtp-sender", "client", h.as_str()]);
        assert_eq!(meshrtc(&client, None).status.code(), Some(1));
        // Whole keying material without saying whose: a usage error.
        let mut neither = args.to_vec();
        neither.extend([k.as_str(), h.as_str()]);
        let o = meshrtc(&neither, None);
        assert_eq!(o.status.code(), Some(2));
        assert!(text(&o).1.contains("add --srtp-sender client|server"));
    }

    #[test]
    fn decode_refuses_bad_srtp_arguments() {
        for (args, needle) in [
            (vec!["decode", "--srtp-key", "***", "80"], "not base64"),
            (
                vec!["decode", "--srtp-key", "AAAA", "80"],
                "--srtp-key has 3 bytes",
            ),
            (
                vec!["decode", "--srtp-key", "AAAA", "--profile", "ROT13", "80"],
                "unknown SRTP profile",
            ),
        ] {
            let o = meshrtc(&args, None);
            assert_eq!(o.status.code(), Some(2), "{args:?}");
            assert!(text(&o).1.contains(needle), "{args:?}: {}", text(&o).1);
        }
    }
}

#[test]
fn decode_reassembles_chromiums_fragmented_client_hello() {
    let input = fixture("chromium_dtls_clienthello.hex");
    let o = meshrtc(&["decode", "-"], Some(&input));
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}\n{out}");
    for needle in [
        "record Handshake DTLS 1.0 epoch 0 seq 0 1187 bytes",
        "ClientHello message_seq 0 bytes 0..1175 of 1413",
        "(a fragment: the rest is in another datagram)",
        "reassembled ClientHello message_seq 0, 1413 bytes",
        "ECDHE_ECDSA_AES_128_GCM_SHA256",
        "X25519MLKEM768, x25519, secp256r1",
        "versions        DTLS 1.3, DTLS 1.2",
        "SRTP_AEAD_AES_128_GCM",
        "extended_master_secret",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    // A truncated record is a malformed datagram (exit 1).
    let o = meshrtc(&["decode", "16fefd0000000000000000000005aa"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).0.contains("malformed record"), "{}", text(&o).0);
}

#[test]
fn decode_names_what_is_inside_our_server_flight() {
    // Our server's answer to Chromium's hello, one datagram per line.
    let cert = meshrtc_dtls::Certificate::generate("server").unwrap();
    let now = std::time::Instant::now();
    let mut server = meshrtc_dtls::Dtls::server(meshrtc_dtls::Config::new(cert.clone()), now);
    for line in fixture("chromium_dtls_clienthello.hex")
        .lines()
        .filter(|l| !l.is_empty())
    {
        server
            .handle_datagram(now, &hex::decode(line.trim()).unwrap())
            .unwrap();
    }
    let mut input = String::new();
    while let Some(d) = server.poll_transmit() {
        input.push_str(&hex::encode(d));
        input.push('\n');
    }
    let o = meshrtc(&["decode", "-"], Some(&input));
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}\n{out}");
    let fp = cert.fingerprint().to_string();
    for needle in [
        "ServerHello message_seq 0",
        "server_version  DTLS 1.2",
        "cipher suite    ECDHE_ECDSA_AES_128_GCM_SHA256",
        "extensions      renegotiation_info, extended_master_secret, ec_point_formats, use_srtp",
        "use_srtp        SRTP_AEAD_AES_128_GCM",
        &format!("sha-256 {fp}"),
        "ECDHE           x25519, 32-byte key, signature 0x0403",
        "cert types      [64], schemes [0403]",
        "ServerHelloDone message_seq 4",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
}

#[test]
fn sdp_summarises_chromium_offer_per_m_line() {
    let path = format!(
        "{}/../fixtures/chromium-156/chromium_offer.sdp",
        env!("CARGO_MANIFEST_DIR")
    );
    let o = meshrtc(&["sdp", &path], None);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    for needle in [
        "BUNDLE  0 1 2",
        "m-line 0: video mid 0  UDP/TLS/RTP/SAVPF",
        "codec 96   VP8/90000  feedback: goog-remb, transport-cc, ccm fir, nack, nack pli",
        "codec 97   rtx/90000  [apt=96]",
        "m-line 1: audio mid 1",
        "codec 111  opus/48000/2  [minptime=10;useinbandfec=1]",
        "dtls        setup:actpass",
        "m-line 2: application mid 2  UDP/DTLS/SCTP",
        "sctp-port   5000",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
}

#[test]
fn sdp_reports_the_broken_line() {
    let broken = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n";
    let o = meshrtc(&["sdp", "-"], Some(broken));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o)
            .1
            .contains("SDP line 6: a=rtpmap:0 PCMU: rtpmap needs a clock rate"),
        "{}",
        text(&o).1
    );
    let o = meshrtc(&["sdp", "/nonexistent/file.sdp"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("cannot read"));
}

/// `meshrtc offer` and `meshrtc answer` as two processes on 127.0.0.1,
/// wired through their stdin and stdout: media both ways, stats checked.
#[test]
fn offer_and_answer_processes_call_each_other_over_loopback() {
    use std::io::{BufRead, BufReader, Write};
    let dir = std::env::temp_dir().join(format!("meshrtc-cli-call-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let common = [
        "--no-stun",
        "--bind",
        "127.0.0.1",
        "--duration",
        "3",
        "--width",
        "320",
        "--height",
        "240",
        "--fps",
        "15",
        "--live",
        "false",
    ];
    let spawn = |cmd: &str, extra: &[String]| {
        Command::new(env!("CARGO_BIN_EXE_meshrtc"))
            .arg(cmd)
            .args(common)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let read_sdp = |out: &mut BufReader<std::process::ChildStdout>| {
        let mut sdp = String::new();
        loop {
            let mut line = String::new();
            assert!(out.read_line(&mut line).unwrap() > 0, "stdout closed early");
            if line.trim().is_empty() {
                return sdp;
            }
            sdp.push_str(&line);
        }
    };
    let offer_json = dir.join("offer.json");
    let answer_json = dir.join("answer.json");
    let rec = dir.join("rec");
    let mut offer = spawn(
        "offer",
        &[
            "--stats-json".into(),
            offer_json.display().to_string(),
            "--record".into(),
            rec.display().to_string(),
        ],
    );
    let mut offer_out = BufReader::new(offer.stdout.take().unwrap());
    let offer_sdp = read_sdp(&mut offer_out);
    assert!(offer_sdp.starts_with("v=0"), "{offer_sdp}");
    assert!(offer_sdp.contains("typ host"), "{offer_sdp}");
    let mut answer = spawn(
        "answer",
        &["--stats-json".into(), answer_json.display().to_string()],
    );
    {
        let mut stdin = answer.stdin.take().unwrap();
        writeln!(stdin, "{offer_sdp}").unwrap();
    }
    let mut answer_out = BufReader::new(answer.stdout.take().unwrap());
    let answer_sdp = read_sdp(&mut answer_out);
    assert!(answer_sdp.contains("a=setup:active"), "{answer_sdp}");
    {
        let mut stdin = offer.stdin.take().unwrap();
        writeln!(stdin, "{answer_sdp}").unwrap();
    }
    for (name, child) in [("offer", &mut offer), ("answer", &mut answer)] {
        let status = child.wait().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        assert!(status.success(), "{name}: {err}");
    }
    for (path, role, dtls) in [
        (&offer_json, "offer", "server"),
        (&answer_json, "answer", "client"),
    ] {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(v["role"], role);
        assert_eq!(v["peer"]["dtls_role"], dtls);
        // `--dtls both` (the default) on both sides: DTLS 1.3 with the
        // hybrid key share.
        assert_eq!(v["peer"]["dtls_version"], "DTLS 1.3");
        assert_eq!(v["peer"]["dtls_group"], "X25519MLKEM768");
        assert_eq!(v["peer"]["srtp_profile"], "SRTP_AEAD_AES_128_GCM");
        let tracks = v["tracks"].as_array().unwrap();
        let video = tracks
            .iter()
            .find(|t| t["kind"] == "video")
            .expect("a video track");
        let audio = tracks
            .iter()
            .find(|t| t["kind"] == "audio")
            .expect("an audio track");
        assert!(
            video["frames_decoded"].as_u64().unwrap() >= 30,
            "{role}: {video}"
        );
        assert_eq!(video["decode_errors"], 0, "{role}");
        assert_eq!(video["stamp_gaps"], 0, "{role}");
        assert_eq!(
            (video["width"].as_u64(), video["height"].as_u64()),
            (Some(320), Some(240))
        );
        assert!(
            video["latency_ms"].as_f64().unwrap() < 500.0,
            "{role}: {video}"
        );
        assert!(
            audio["frames_decoded"].as_u64().unwrap() >= 100,
            "{role}: {audio}"
        );
    }
    let names: Vec<String> = std::fs::read_dir(&rec)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for prefix in ["video-", "audio-", "snapshot-"] {
        assert!(
            names.iter().any(|n| n.starts_with(prefix)),
            "{prefix} in {names:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_prints_its_address_and_answers_http_there() {
    use std::io::{BufRead, Read};
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
        .args(["serve", "--listen", "127.0.0.1:0", "--max-members", "3"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: std::net::SocketAddr = line
        .strip_prefix("meshrtc serve: listening on http://")
        .and_then(|rest| rest.split_once(' '))
        .map(|(addr, _)| addr.parse().unwrap())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    assert_ne!(addr.port(), 0);
    assert!(
        line.trim_end().ends_with(&format!("(ws://{addr}/ws)")),
        "{line}"
    );
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    write!(
        tcp,
        "GET /stats HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"connections\": 0"), "{response}");
}

#[test]
fn serve_refuses_a_room_size_of_zero() {
    let o = meshrtc(&["serve", "--max-members", "0"], None);
    assert_eq!(o.status.code(), Some(2));
}

/// The README's main command with six members, short and small (six
/// encoders and thirty decoders share the machine): every directed pair
/// decoded frames, per `--stats-json`.
#[test]
fn demo_with_six_members_forms_the_full_mesh_and_every_pair_decodes() {
    let dir = std::env::temp_dir().join(format!("meshrtc-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("demo.json");
    let sheet = dir.join("sheet.png");
    let o = meshrtc(
        &[
            "demo",
            "--peers",
            "6",
            "--duration",
            "5",
            "--listen",
            "127.0.0.1:0",
            "--width",
            "320",
            "--height",
            "240",
            "--fps",
            "15",
            "--stats-json",
            json.to_str().unwrap(),
            "--sheet",
            sheet.to_str().unwrap(),
        ],
        None,
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}\n{out}");
    assert!(
        err.contains("signaling server on http://127.0.0.1:"),
        "{err}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let pairs = v["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 30, "6 x 5 directed pairs");
    for p in pairs {
        assert!(p["frames_decoded"].as_u64().unwrap() >= 20, "{p}");
        assert_eq!(p["decode_errors"], 0, "{p}");
        assert!(p["audio_decoded"].as_u64().unwrap() >= 50, "{p}");
    }
    for m in v["members"].as_array().unwrap() {
        assert!(m["error"].is_null(), "{m}");
        // Members leave at the end, one by one; none failed.
        assert_eq!(m["node"]["members_failed"], 0, "{m}");
        for r in m["removed"].as_array().unwrap() {
            let why = r["reason"].as_str().unwrap();
            assert!(
                why == "left the room" || why == "closed by the member",
                "{m}"
            );
        }
    }
    // The contact sheet is a 6x6 grid of 160x120 cells.
    let png = std::fs::read(&sheet).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 960);
    assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 720);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `meshrtc demo --layers 2`: every member encodes a half-size layer too
/// and moves members between layers at key frames (on loopback they
/// start on the small one and climb to the full size as their estimates
/// pass 250 kbit/s); the real VP8 decoders never break and the stamps in
/// the pixels show no gap.
#[test]
fn demo_with_two_layers_switches_members_at_key_frames_without_a_break() {
    let dir = std::env::temp_dir().join(format!("meshrtc-layers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("demo.json");
    let sheet = dir.join("sheet.png");
    let o = meshrtc(
        &[
            "demo",
            "--peers",
            "3",
            "--duration",
            "8",
            "--listen",
            "127.0.0.1:0",
            "--width",
            "640",
            "--height",
            "360",
            "--fps",
            "15",
            "--layers",
            "2",
            "--stats-json",
            json.to_str().unwrap(),
            "--sheet",
            sheet.to_str().unwrap(),
        ],
        None,
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}\n{out}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let pairs = v["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 6, "3 x 2 directed pairs");
    for p in pairs {
        assert!(p["frames_decoded"].as_u64().unwrap() >= 60, "{p}");
        assert_eq!(p["decode_errors"], 0, "{p}");
        assert_eq!(p["stamp_gaps"], 0, "{p}");
    }
    let switches: u64 = v["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["node"]["layer_switches"].as_u64().unwrap())
        .sum();
    assert!(switches >= 1, "{v}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `meshrtc serve` and two `meshrtc join` processes: each decodes the other.
#[test]
fn two_join_processes_meet_through_a_serve_process() {
    use std::io::BufRead;
    let dir = std::env::temp_dir().join(format!("meshrtc-join-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(server.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ws = line
        .split_once("(")
        .and_then(|(_, r)| r.trim_end().strip_suffix(')'))
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    let join = |name: &str| {
        let json = dir.join(format!("{name}.json"));
        let child = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
            .args([
                "join",
                "--server",
                &ws,
                "--room",
                "r",
                "--name",
                name,
                "--duration",
                "4",
                "--bind",
                "127.0.0.1",
                "--width",
                "320",
                "--height",
                "240",
                "--fps",
                "15",
                "--live",
                "false",
                "--stats-json",
                json.to_str().unwrap(),
            ])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        (child, json)
    };
    let (mut a, ja) = join("alice");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (mut b, jb) = join("bob");
    for (name, child) in [("alice", &mut a), ("bob", &mut b)] {
        let status = child.wait().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        assert!(status.success(), "{name}: {err}");
    }
    server.kill().unwrap();
    server.wait().unwrap();
    for (path, other) in [(&ja, "bob"), (&jb, "alice")] {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let p = &v["pairs"][0];
        assert_eq!(p["from"], other, "{v}");
        assert!(p["frames_decoded"].as_u64().unwrap() >= 20, "{v}");
        assert_eq!(p["stamp_gaps"], 0, "{v}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts `meshrtc serve` on a free port; returns it and its WebSocket URL.
fn serve() -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut server = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(server.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ws = line
        .split_once("(")
        .and_then(|(_, r)| r.trim_end().strip_suffix(')'))
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    (server, ws)
}

/// Bob leaves after two seconds, Alice stays five: Alice's final report
/// still counts what she sent Bob (his connection, and its counters, are
/// gone by then), her live table's loss is a percentage of the packets
/// expected, and the estimator's target is reported.
#[test]
fn a_member_that_left_early_still_counts_in_the_final_report() {
    let dir = std::env::temp_dir().join(format!("meshrtc-left-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (mut server, ws) = serve();
    let join = |name: &str, secs: &str| {
        let json = dir.join(format!("{name}.json"));
        let child = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
            .args([
                "join",
                "--server",
                &ws,
                "--room",
                "early",
                "--name",
                name,
                "--duration",
                secs,
                "--bind",
                "127.0.0.1",
                "--width",
                "320",
                "--height",
                "240",
                "--fps",
                "15",
                "--live",
                "true",
                "--stats-json",
            ])
            .arg(&json)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        (child, json)
    };
    let (mut alice, ja) = join("alice", "5");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (mut bob, _) = join("bob", "2");
    let mut alice_err = String::new();
    for (name, child) in [("bob", &mut bob), ("alice", &mut alice)] {
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "{name}: {err}");
        if name == "alice" {
            alice_err = err;
        }
    }
    server.kill().unwrap();
    server.wait().unwrap();

    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ja).unwrap()).unwrap();
    assert!(v["bytes_sent"].as_u64().unwrap() > 20_000, "{v}");
    assert!(v["upstream_kbps"].as_f64().unwrap() > 10.0, "{v}");
    assert_eq!(v["members_seen"], 1, "{v}");
    assert_eq!(v["node"]["bytes_sent"], v["bytes_sent"], "{v}");
    let members = v["node"]["members"].as_array().unwrap();
    assert_eq!(members.len(), 1, "{v}");
    let bob = &members[0];
    assert_eq!(bob["name"], "bob", "{v}");
    let why = bob["removed"].as_str().unwrap();
    assert!(
        why == "left the room" || why == "closed by the member",
        "{v}"
    );
    assert_eq!(bob["state"], "Removed", "{v}");
    assert_eq!(bob["bytes_sent"], v["bytes_sent"], "{v}");
    assert!(bob["bytes_received"].as_u64().unwrap() > 10_000, "{v}");
    assert!(bob["packets_received"].as_u64().unwrap() > 50, "{v}");
    let loss = bob["loss"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&loss), "{v}");
    assert!(bob["target_bitrate"].as_u64().unwrap() >= 30_000, "{v}");
    assert!(
        v["pairs"][0]["frames_decoded"].as_u64().unwrap() >= 10,
        "{v}"
    );

    // The live table: one line per member per second, loss in 0..=100 %
    // and the estimator's target.
    let rows: Vec<&str> = alice_err.lines().filter(|l| l.contains(" loss ")).collect();
    assert!(rows.len() >= 2, "{alice_err}");
    for row in &rows {
        let pct: f64 = row
            .split(" loss ")
            .nth(1)
            .and_then(|r| r.trim_start().split('%').next())
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("{row}"));
        assert!((0.0..=100.0).contains(&pct), "{row}");
        assert!(row.contains(" target "), "{row}");
    }
    assert!(
        rows.iter().any(|r| {
            r.split(" target ")
                .nth(1)
                .and_then(|t| t.split_whitespace().next())
                .and_then(|t| t.parse::<u64>().ok())
                .is_some_and(|k| k > 0)
        }),
        "{alice_err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A y4m file as a writer would make it: `n` pictures of `w` x `h` (4:2:0),
/// each a moving gradient.
fn write_y4m(path: &std::path::Path, w: usize, h: usize, fps: u32, n: usize) {
    let mut out = format!("YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n").into_bytes();
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    for k in 0..n {
        out.extend_from_slice(b"FRAME\n");
        for y in 0..h {
            for x in 0..w {
                out.push((16 + (x * 3 + y + k * 7) % 200) as u8);
            }
        }
        out.extend(std::iter::repeat_n(110u8, cw * ch));
        out.extend(std::iter::repeat_n(150u8, cw * ch));
    }
    std::fs::write(path, out).unwrap();
}

/// `meshrtc demo --video-in` a y4m: every member encodes the file live, at
/// its size, and every pair decodes it.
#[test]
fn demo_sends_a_y4m_file_encoded_live_and_every_pair_decodes_it() {
    let dir = std::env::temp_dir().join(format!("meshrtc-y4m-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let y4m = dir.join("in.y4m");
    write_y4m(&y4m, 64, 48, 15, 5);
    let json = dir.join("demo.json");
    let o = meshrtc(
        &[
            "demo",
            "--peers",
            "2",
            "--duration",
            "3",
            "--listen",
            "127.0.0.1:0",
            "--video-in",
            y4m.to_str().unwrap(),
            "--stats-json",
            json.to_str().unwrap(),
            "--sheet",
            dir.join("sheet.png").to_str().unwrap(),
        ],
        None,
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}\n{out}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for p in v["pairs"].as_array().unwrap() {
        // 3 s at the file's 15 fps, looping over its 5 pictures.
        assert!(p["frames_decoded"].as_u64().unwrap() >= 25, "{p}");
        assert_eq!(p["decode_errors"], 0, "{p}");
    }
    for m in v["members"].as_array().unwrap() {
        assert!(m["frames_encoded"].as_u64().unwrap() >= 30, "{m}");
        let pair = &m["pairs"][0];
        assert_eq!(
            (pair["width"].as_u64(), pair["height"].as_u64()),
            (Some(64), Some(48)),
            "{m}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Bad video files are refused before anyone is called, with the file and
/// the problem named.
#[test]
fn bad_video_files_are_clear_errors() {
    let dir = std::env::temp_dir().join(format!("meshrtc-badvid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases: &[(&str, &[u8], &str)] = &[
        ("magic.y4m", b"RIFF....", "neither an IVF"),
        (
            "chroma.y4m",
            b"YUV4MPEG2 W64 H48 F30:1 C444\nFRAME\n",
            "C444 is not supported",
        ),
        (
            "size.y4m",
            b"YUV4MPEG2 W0 H48 F30:1\n",
            "bad header field W",
        ),
        (
            "short.y4m",
            b"YUV4MPEG2 W64 H48 F30:1\nFRAME\n0123",
            "picture 0 is truncated",
        ),
        (
            "marker.y4m",
            b"YUV4MPEG2 W4 H2 F30:1\nFRAMX\n",
            "expected a FRAME marker",
        ),
        ("empty.y4m", b"YUV4MPEG2 W64 H48 F30:1\n", "no pictures"),
    ];
    for (name, bytes, want) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        // Nothing listens on this port: the file must be refused first.
        let o = meshrtc(
            &[
                "join",
                "--server",
                "ws://127.0.0.1:9/ws",
                "--room",
                "r",
                "--video-in",
                path.to_str().unwrap(),
            ],
            None,
        );
        let (_, err) = text(&o);
        assert!(!o.status.success(), "{name}");
        assert!(err.contains(want) && err.contains(name), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    let o = meshrtc(
        &[
            "join",
            "--room",
            "r",
            "--source",
            "texture",
            "--video-in",
            "x.y4m",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o).1);
    let o = meshrtc(&["demo", "--source", "camera"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("pattern"), "{}", text(&o).1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--source texture` through a two-member demo: the camera-like picture
/// goes through, its stamp with it (no frame numbers skipped).
#[test]
fn demo_with_the_texture_source_decodes_it_with_its_stamps() {
    let dir = std::env::temp_dir().join(format!("meshrtc-texture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("demo.json");
    let o = meshrtc(
        &[
            "demo",
            "--peers",
            "2",
            "--duration",
            "3",
            "--listen",
            "127.0.0.1:0",
            "--source",
            "texture",
            "--stats-json",
            json.to_str().unwrap(),
            "--sheet",
            dir.join("sheet.png").to_str().unwrap(),
        ],
        None,
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}\n{out}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for p in v["pairs"].as_array().unwrap() {
        assert!(p["frames_decoded"].as_u64().unwrap() >= 25, "{p}");
        // Stamps read back: latency comes from them.
        assert!(p["latency_ms"].as_f64().is_some(), "{p}");
        assert_eq!(p["stamp_gaps"], 0, "{p}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `meshrtc join --chat` (issue 20): three members; a line typed on one's
/// stdin is printed by the other two as `name: text`, over data channels.
#[test]
fn a_chat_line_typed_at_one_join_is_printed_by_the_other_two() {
    use std::io::Write;
    let (mut server, ws) = serve();
    let join = |name: &str| {
        Command::new(env!("CARGO_BIN_EXE_meshrtc"))
            .args([
                "join",
                "--server",
                &ws,
                "--room",
                "chat",
                "--name",
                name,
                "--duration",
                "5",
                "--bind",
                "127.0.0.1",
                "--width",
                "160",
                "--height",
                "120",
                "--fps",
                "10",
                "--live",
                "false",
                "--chat",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut members: Vec<_> = ["alice", "bob", "carol"]
        .into_iter()
        .map(|n| {
            let c = join(n);
            std::thread::sleep(std::time::Duration::from_millis(200));
            (n, c)
        })
        .collect();
    // Time to connect, then alice types a line.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let stdin = members[0].1.stdin.as_mut().unwrap();
    writeln!(stdin, "hello from alice, ✓").unwrap();
    stdin.flush().unwrap();
    let mut outputs = Vec::new();
    for (name, child) in &mut members {
        let status = child.wait().unwrap();
        let mut out = String::new();
        let mut err = String::new();
        std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        assert!(status.success(), "{name}: {err}");
        outputs.push((name.to_string(), out));
    }
    server.kill().unwrap();
    server.wait().unwrap();
    for (name, out) in &outputs[1..] {
        assert!(
            out.lines().any(|l| l == "alice: hello from alice, ✓"),
            "{name} printed: {out:?}"
        );
    }
    assert!(
        !outputs[0].1.contains("hello from alice"),
        "alice does not print her own line: {:?}",
        outputs[0].1
    );
}

//! `meshrtc serve` for a LAN, on loopback, as a person runs it: with `--tls` the server
//! prints its certificate's fingerprint, two `meshrtc join` processes pinned
//! to it (or trusting the certificate it wrote as a CA) meet over `wss://`
//! and decode each other's video, and a join with
//! a wrong fingerprint is refused with an error naming both; the ICE
//! servers it is given (and its own STUN port) reach members in `welcome`;
//! with `--turn-url`/`--turn-secret` each member gets its own TURN REST
//! credentials there, renewed by `ice-servers` half-way through their TTL
//! (the call through coturn with them is `tests/integration`'s
//! `turn_rest_coturn`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use meshrtc_mesh::signaling::{ClientMessage, IceServer, ServerMessage, SignalingClient};

struct Server {
    child: Child,
    ws_url: String,
    fingerprint: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `meshrtc serve --tls` and reads its address and fingerprint from
/// stderr.
fn serve_tls(extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
        .args(["serve", "--tls", "--listen", "127.0.0.1:0", "--no-qr"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .strip_prefix("meshrtc serve: listening on https://")
        .and_then(|rest| rest.split_once(' '))
        .map(|(addr, _)| addr.to_owned())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    assert!(first.ends_with(&format!("(wss://{addr}/ws)")), "{first}");
    let second = lines.next().unwrap().unwrap();
    let fingerprint = second
        .strip_prefix("meshrtc serve: certificate SHA-256 fingerprint ")
        .unwrap_or_else(|| panic!("unexpected second line {second:?}"))
        .to_owned();
    assert_eq!(fingerprint.len(), 95, "{fingerprint}");
    // Keep draining stderr so the server never blocks on it.
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        ws_url: format!("wss://{addr}/ws"),
        fingerprint,
    }
}

/// A `meshrtc join` trusting the server by `trust`: a fingerprint, or a
/// CA file (`ca:PATH`).
fn join(server: &Server, name: &str, trust: &str, json: &std::path::Path) -> Child {
    let (flag, value) = match trust.strip_prefix("ca:") {
        Some(path) => ("--server-ca", path),
        None => ("--server-fingerprint", trust),
    };
    Command::new(env!("CARGO_BIN_EXE_meshrtc"))
        .args([
            "join",
            "--server",
            &server.ws_url,
            flag,
            value,
            "--room",
            "tls",
            "--name",
            name,
            "--stats-json",
            json.to_str().unwrap(),
        ])
        // Three seconds of a small picture on loopback.
        .args(
            "--duration 3 --bind 127.0.0.1 --width 160 --height 120 --fps 15 --live false"
                .split(' '),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn two_joins_pinning_the_printed_fingerprint_call_each_other_over_wss() {
    let dir = std::env::temp_dir().join(format!("meshrtc-serve-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("cert.pem");
    let server = serve_tls(&["--cert-out", pem.to_str().unwrap()]);
    let (ja, jb) = (dir.join("a.json"), dir.join("b.json"));
    let a = join(&server, "alice", &server.fingerprint, &ja);
    std::thread::sleep(std::time::Duration::from_millis(300));
    // Bob trusts the certificate `--cert-out` wrote, as a CA.
    let b = join(&server, "bob", &format!("ca:{}", pem.display()), &jb);
    for (child, json, other) in [(a, &ja, "bob"), (b, &jb, "alice")] {
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
        let pair = v["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["from"] == other)
            .unwrap_or_else(|| panic!("no pair from {other}: {v}"));
        assert!(
            pair["frames_decoded"].as_u64().unwrap() >= 10,
            "{other}: {pair}"
        );
        assert_eq!(pair["width"], 160, "{pair}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_join_with_a_wrong_fingerprint_is_refused_naming_both() {
    let server = serve_tls(&[]);
    let mut wrong = server.fingerprint.clone();
    // Change the first byte.
    let replacement = if wrong.starts_with("00") { "11" } else { "00" };
    wrong.replace_range(0..2, replacement);
    let json = std::env::temp_dir().join(format!("meshrtc-wrong-fp-{}.json", std::process::id()));
    let out = join(&server, "mallory", &wrong, &json)
        .wait_with_output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("refused the TLS server"), "{err}");
    assert!(err.contains(&server.fingerprint), "{err}");
    assert!(err.contains(&wrong), "{err}");
    let _ = std::fs::remove_file(&json);

    // And no fingerprint at all: the join says what to give.
    let out = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
        .args([
            "join",
            "--server",
            &server.ws_url,
            "--room",
            "tls",
            "--duration",
            "1",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("--server-fingerprint"), "{err}");
}

/// Starts `meshrtc serve --listen 127.0.0.1:0 --no-qr EXTRA...` (plain
/// HTTP): the process, the stderr lines before the listening one, and the
/// WebSocket URL.
fn serve_plain(extra: &[&str]) -> (Child, Vec<String>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
        .args(["serve", "--listen", "127.0.0.1:0", "--no-qr"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut before = Vec::new();
    let ws_url = loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(rest) = line.strip_prefix("meshrtc serve: listening on http://") {
            break format!("ws://{}/ws", rest.split_once(' ').unwrap().0);
        }
        before.push(line);
    };
    std::thread::spawn(move || for _ in lines {});
    (child, before, ws_url)
}

/// Joins room `room` at `ws_url`; the next `count` messages (the first is
/// the `welcome`), each awaited at most `wait`.
fn join_and_read(ws_url: &str, room: &str, count: usize, wait: Duration) -> Vec<ServerMessage> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, mut events) = SignalingClient::connect(ws_url).await.unwrap();
        client
            .send(ClientMessage::Join {
                room: room.into(),
                name: "n".into(),
                password: None,
            })
            .unwrap();
        let mut got = Vec::new();
        for _ in 0..count {
            let m = tokio::time::timeout(wait, events.recv()).await.unwrap();
            got.push(m.unwrap());
        }
        got
    })
}

/// Given no ICE server, `serve` offers Google's public STUN server (as the
/// original call app did); `--no-public-stun` offers none.
#[test]
fn serve_offers_the_public_stun_server_by_default_and_none_when_told() {
    for (extra, want) in [
        (
            &[][..],
            vec![IceServer::url("stun:stun.l.google.com:19302")],
        ),
        (&["--no-public-stun"][..], vec![]),
    ] {
        let (mut child, _, ws_url) = serve_plain(extra);
        let welcome = join_and_read(&ws_url, "default", 1, Duration::from_secs(5)).remove(0);
        let _ = child.kill();
        let _ = child.wait();
        let ServerMessage::Welcome { ice_servers, .. } = welcome else {
            panic!("{welcome:?}");
        };
        assert_eq!(ice_servers, want, "{extra:?}");
    }
}

/// `--ice-server` and `--stun`: both reach members in `welcome` as
/// RTCIceServer objects, and the STUN port answers Binding requests with
/// the address they came from.
#[test]
fn serve_offers_its_ice_servers_in_welcome_and_answers_stun() {
    use meshrtc_ice::stun::{Class, Message, MessageBuilder, Method, TransactionId};
    let (mut child, before, ws_url) =
        serve_plain(&["--stun", "0", "--ice-server", "stun:192.0.2.1:3478"]);
    let stun = before
        .iter()
        .find_map(|l| l.strip_prefix("meshrtc serve: STUN on udp "))
        .map(|a| a.parse::<std::net::SocketAddr>().unwrap())
        .expect("the STUN address is printed first");
    assert_ne!(stun.port(), 0);

    let welcome = join_and_read(&ws_url, "ice", 1, Duration::from_secs(5)).remove(0);
    let ServerMessage::Welcome { ice_servers, .. } = welcome else {
        panic!("{welcome:?}");
    };
    assert_eq!(
        ice_servers,
        vec![
            IceServer::url("stun:192.0.2.1:3478"),
            IceServer::url(format!("stun:{stun}")),
        ]
    );

    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut req = Vec::new();
    MessageBuilder::new(
        &mut req,
        Class::Request,
        Method::BINDING,
        TransactionId([9; 12]),
    )
    .add_fingerprint()
    .unwrap();
    sock.send_to(&req, stun).unwrap();
    let mut buf = [0u8; 1500];
    let (n, from) = sock.recv_from(&mut buf).unwrap();
    assert_eq!(from, stun);
    let m = Message::parse(&buf[..n]).unwrap();
    assert_eq!(m.class(), Class::Success);
    assert_eq!(
        m.mapped_address().unwrap(),
        Some(sock.local_addr().unwrap())
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// `meshrtc demo --tls`: the server on HTTPS, its members over `wss://`
/// pinning the certificate made for the run; every pair decodes.
#[test]
fn demo_over_tls_forms_the_mesh_over_wss() {
    let out = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
        .args(
            "demo --tls --peers 2 --duration 2 --listen 127.0.0.1:0 --width 160 --height 120"
                .split(' '),
        )
        .arg("--sheet")
        .arg(std::env::temp_dir().join(format!("meshrtc-demo-tls-{}.png", std::process::id())))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{err}\n{stdout}");
    assert!(
        err.contains("signaling server on https://127.0.0.1:"),
        "{err}"
    );
    assert!(err.contains("(wss://127.0.0.1:"), "{err}");
    // The table's two rows each decoded frames from the other member.
    for row in ["member1 |", "member2 |"] {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(row))
            .unwrap();
        let counts: Vec<u64> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        assert!(counts.len() == 1 && counts[0] > 0, "{line}");
    }
}

// ----- `--turn-url` / `--turn-secret`: TURN REST credentials -----

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Checks that `server` holds credentials for member `id` that expire
/// `ttl` seconds after a moment in `[from, to]`; returns the expiry.
fn check_rest_entry(server: &IceServer, id: &str, ttl: u64, from: u64, to: u64) -> u64 {
    assert_eq!(server.urls, vec!["turn:192.0.2.7:3478".to_string()]);
    let username = server.username.as_deref().unwrap();
    let (expiry, user) = username.split_once(':').unwrap();
    assert_eq!(user, id);
    let expiry: u64 = expiry.parse().unwrap();
    assert!(
        (from + ttl..=to + ttl).contains(&expiry),
        "{expiry} {from}..{to}"
    );
    let want = meshrtc_ice::turn::rest_credentials(b"s3cret", id, expiry);
    assert_eq!(server.credential.as_deref(), Some(want.password.as_str()));
    expiry
}

#[test]
fn serve_hands_each_member_turn_rest_credentials_and_renews_them() {
    let before = unix_now();
    let (mut child, _, ws_url) = serve_plain(&[
        "--turn-url",
        "turn:192.0.2.7:3478",
        "--turn-secret",
        "s3cret",
        "--turn-ttl",
        "10",
    ]);
    let mut got = join_and_read(&ws_url, "turn", 2, Duration::from_secs(8));
    let renewal = got.pop().unwrap();
    let welcome = got.pop().unwrap();
    let after = unix_now();
    let ServerMessage::Welcome {
        id, ice_servers, ..
    } = welcome
    else {
        panic!("{welcome:?}");
    };
    assert_eq!(ice_servers.len(), 1, "{ice_servers:?}");
    let first = check_rest_entry(&ice_servers[0], &id, 10, before, after);
    // Half-way through the 10 s: the whole list again, with a later expiry.
    let ServerMessage::IceServers { ice_servers } = renewal else {
        panic!("{renewal:?}");
    };
    assert_eq!(ice_servers.len(), 1, "{ice_servers:?}");
    let second = check_rest_entry(&ice_servers[0], &id, 10, before + 4, after);
    assert!(second >= first + 4, "{first} then {second}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn turn_url_without_a_secret_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
        .args(["serve", "--no-qr", "--turn-url", "turn:192.0.2.7:3478"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--turn-secret"), "{err}");
}

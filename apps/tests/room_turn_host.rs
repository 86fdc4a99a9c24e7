//! `meshrtc serve --turn-url turn:localhost:3478 --turn-secret S`: the
//! room hands its members a TURN URL with a host name and TURN REST
//! credentials. The node resolves nothing; the `join` command's driver
//! resolves `localhost` before the `welcome` reaches the node, which then
//! allocates on coturn. Two members with `--ice-transport-policy relay`
//! and no `--ice-server` of their own call through coturn: the selected
//! pair is coturn's relayed address to coturn's relayed address, and video
//! is decoded.
//!
//! Runs in a private network namespace (re-running this test binary under
//! `unshare -n`); needs root or user namespaces, and `turnserver` (Debian
//! coturn).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

const NETNS_ENV: &str = "MESHRTC_ROOM_TURN_HOST_NETNS";
const TEST: &str = "two_joins_call_through_the_rooms_turn_server_named_by_host_name";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Re-runs this test inside a new network namespace with loopback up;
/// false when already inside (run the test body).
fn reran_in_netns() -> bool {
    if std::env::var_os(NETNS_ENV).is_some() {
        return false;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n");
    let out = Command::new("unshare")
        .arg(if root { "-n" } else { "-rn" })
        .args(["sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""])
        .arg(std::env::current_exe().unwrap())
        .args([TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(NETNS_ENV, "1")
        .output()
        .expect("unshare (util-linux) and ip (iproute2)");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "inside the namespace: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    true
}

#[test]
fn two_joins_call_through_the_rooms_turn_server_named_by_host_name() {
    if reran_in_netns() {
        return;
    }
    let t0 = Instant::now();
    let _coturn = Killed(
        Command::new("turnserver")
            .args([
                "-n",
                "--no-cli",
                "--no-dtls",
                "--no-tls",
                "--allow-loopback-peers",
                "--listening-ip=127.0.0.1",
                "--relay-ip=127.0.0.1",
                "--listening-port=3478",
                "--min-port=49152",
                "--max-port=49252",
                "--realm=meshrtc.test",
                "--use-auth-secret",
                "--static-auth-secret=room-secret",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("turnserver (Debian coturn): scripts/setup"),
    );
    // coturn listens once it accepts a TCP connection (UDP on the same
    // port comes up with it).
    let ready = Instant::now();
    while std::net::TcpStream::connect("127.0.0.1:3478").is_err() {
        assert!(
            ready.elapsed() < std::time::Duration::from_secs(5),
            "coturn did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut serve = Killed(
        Command::new(env!("CARGO_BIN_EXE_meshrtc"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--no-qr",
                "--no-public-stun",
                "--turn-url",
                "turn:localhost:3478",
                "--turn-secret",
                "room-secret",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(serve.0.stderr.take().unwrap()).lines();
    let ws = loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(rest) = line.strip_prefix("meshrtc serve: listening on http://") {
            break format!("ws://{}/ws", rest.split_once(' ').unwrap().0);
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let dir = std::env::temp_dir().join(format!("meshrtc-room-turn-host-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let join = |name: &str| {
        let json = dir.join(format!("{name}.json"));
        let child = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
            .args(["join", "--server", &ws, "--room", "relay", "--name", name])
            .args(["--ice-transport-policy", "relay"])
            .args(["--stats-json", json.to_str().unwrap()])
            .args(
                "--duration 4 --bind 127.0.0.1 --width 160 --height 120 --fps 15 --live false"
                    .split(' '),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        (child, json)
    };
    let a = join("ada");
    let b = join("grace");
    for ((child, json), other) in [(a, "grace"), (b, "ada")] {
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        eprintln!("{v}");
        let pair = v["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["from"] == other)
            .unwrap_or_else(|| panic!("no pair from {other}: {v}\n{err}"));
        assert!(
            pair["frames_decoded"].as_u64().unwrap() >= 10,
            "{other}: {pair}\n{err}"
        );
        // Relay only: both ends of the selected pair are relayed addresses
        // on coturn's relay ports.
        let member = v["node"]["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == other)
            .unwrap_or_else(|| panic!("no member {other}: {v}"));
        let sel = member["selected_pair"].as_str().unwrap();
        let (l, r) = sel.split_once(" -> ").unwrap();
        for end in [l, r] {
            let addr: std::net::SocketAddr = end.parse().unwrap();
            assert_eq!(addr.ip().to_string(), "127.0.0.1", "{sel}");
            assert!((49152..=49252).contains(&addr.port()), "{sel}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "two joins through the room's coturn named by host name: {:?}",
        t0.elapsed()
    );
}

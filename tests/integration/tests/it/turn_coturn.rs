//! TURN against coturn (Debian `coturn`, binary `turnserver`), live.
//!
//! - On loopback, in a private network namespace: two PeerConnections
//!   restricted to relay candidates (`relay_only`) connect through coturn,
//!   finish DTLS and exchange Opus audio that the other side decodes.
//! - Behind NATs: network namespaces for a "public" segment with coturn
//!   and two "homes", each behind a router doing nftables masquerade with
//!   random, fully random ports (a symmetric NAT: a new public port per
//!   destination). The members gather host, server-reflexive and relay
//!   candidates; the direct paths fail and the call goes through the relay.
//!   Each member runs as this test binary re-run inside its home namespace,
//!   signaling over its stdin and stdout.
//!
//! Both tests need root (namespaces) and `turnserver`; `ip` and `nft` for
//! the NAT test. scripts/setup installs them.

use meshrtc_ice::stun::{Class, Message, MessageBuilder, Method, TransactionId};
use meshrtc_ice::TurnServer;
use meshrtc_integration::browser::run_in_private_netns;
use meshrtc_media::opus::{OpusDecoder, OpusEncoder};
use meshrtc_media::source::ToneSource;
use meshrtc_peer::{PacketizedFrame, PeerConfig, PeerConnection, PeerEvent, SdpType};
use meshrtc_sdp::negotiate::MediaKind;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub(crate) const USER: &str = "alice";
pub(crate) const PASS: &str = "wonderland";
const REALM: &str = "meshrtc.test";
/// Audio frames each side must decode.
const FRAMES: usize = 25;

/// A coturn process, killed when dropped.
pub(crate) struct Coturn {
    child: Child,
    pub(crate) addr: SocketAddr,
    log: std::path::PathBuf,
    /// The command line, to start it again ([`Coturn::restart`]).
    netns: Option<String>,
    args: Vec<String>,
}

/// How coturn checks credentials.
pub(crate) enum CoturnAuth<'a> {
    /// `--lt-cred-mech` with the static user `USER:PASS`.
    StaticUser,
    /// `--use-auth-secret --static-auth-secret=SECRET`: TURN REST
    /// credentials (`expiry:user`, HMAC-SHA1 under the secret).
    RestSecret(&'a str),
}

impl Coturn {
    /// Starts `turnserver` on `ip:3478` (inside namespace `netns` when
    /// given) with a static long-term user. Without a namespace it waits
    /// until coturn answers a STUN Binding request; in one, the clients'
    /// retransmissions cover its start.
    pub(crate) fn start(netns: Option<&str>, ip: IpAddr) -> Coturn {
        Coturn::start_with(netns, ip, CoturnAuth::StaticUser)
    }

    /// [`Coturn::start`] with the credentials checked as `auth` says.
    pub(crate) fn start_with(netns: Option<&str>, ip: IpAddr, auth: CoturnAuth<'_>) -> Coturn {
        Coturn::launch(netns, ip, auth, None, &[])
    }

    /// [`Coturn::start_with`] on loopback with more options, e.g.
    /// `--permission-lifetime=6` (coturn's timers shortened for a test).
    pub(crate) fn start_with_options(ip: IpAddr, auth: CoturnAuth<'_>, extra: &[&str]) -> Coturn {
        Coturn::launch(None, ip, auth, None, extra)
    }

    /// [`Coturn::start`] on loopback with TLS too, on port 5349, with this
    /// certificate and key (PEM files).
    pub(crate) fn start_tls(ip: IpAddr, cert: &std::path::Path, key: &std::path::Path) -> Coturn {
        Coturn::launch(None, ip, CoturnAuth::StaticUser, Some((cert, key)), &[])
    }

    /// [`Coturn::start_tls`] with more options, e.g.
    /// `--alternate-server=IP:PORT`.
    pub(crate) fn start_tls_with_options(
        ip: IpAddr,
        cert: &std::path::Path,
        key: &std::path::Path,
        extra: &[&str],
    ) -> Coturn {
        Coturn::launch(None, ip, CoturnAuth::StaticUser, Some((cert, key)), extra)
    }

    fn launch(
        netns: Option<&str>,
        ip: IpAddr,
        auth: CoturnAuth<'_>,
        tls: Option<(&std::path::Path, &std::path::Path)>,
        extra: &[&str],
    ) -> Coturn {
        let mut args: Vec<String> = [
            "-n",
            "--no-cli",
            "--no-dtls",
            "--fingerprint",
            "--allow-loopback-peers",
            "--log-file=stdout",
            "--simple-log",
            "--min-port=49152",
            "--max-port=49252",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        args.push(format!("--listening-ip={ip}"));
        args.push(format!("--relay-ip={ip}"));
        args.push("--listening-port=3478".into());
        args.push(format!("--realm={REALM}"));
        match tls {
            None => args.push("--no-tls".into()),
            Some((cert, key)) => {
                args.push(format!("--cert={}", cert.display()));
                args.push(format!("--pkey={}", key.display()));
                args.push("--tls-listening-port=5349".into());
            }
        }
        match auth {
            CoturnAuth::StaticUser => {
                args.push("--lt-cred-mech".into());
                args.push(format!("--user={USER}:{PASS}"));
            }
            CoturnAuth::RestSecret(secret) => {
                args.push("--use-auth-secret".into());
                args.push(format!("--static-auth-secret={secret}"));
            }
        }
        args.extend(extra.iter().map(|a| a.to_string()));
        let log =
            std::env::temp_dir().join(format!("meshrtc-coturn-{}-{ip}.log", std::process::id()));
        let netns = netns.map(str::to_string);
        let child = Coturn::spawn(netns.as_deref(), &args, &log);
        let addr = SocketAddr::new(ip, 3478);
        let c = Coturn {
            child,
            addr,
            log,
            netns,
            args,
        };
        if c.netns.is_none() {
            c.wait_ready(ip);
        }
        c
    }

    fn spawn(netns: Option<&str>, args: &[String], log: &std::path::Path) -> Child {
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "turnserver"]);
                c
            }
            None => Command::new("turnserver"),
        };
        cmd.args(args);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        cmd.stdout(file).stderr(Stdio::null());
        cmd.spawn()
            .expect("turnserver (Debian coturn) must be installed: scripts/setup")
    }

    /// Kills coturn and starts it again with the same options: every
    /// allocation, permission and channel is gone, as after a crash.
    pub(crate) fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = Coturn::spawn(self.netns.as_deref(), &self.args, &self.log);
        if self.netns.is_none() {
            self.wait_ready(self.addr.ip());
        }
    }

    fn wait_ready(&self, from: IpAddr) {
        let s = UdpSocket::bind(SocketAddr::new(from, 0)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(100)))
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
        let end = Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 1500];
        while Instant::now() < end {
            let _ = s.send_to(&req, self.addr);
            if let Ok((n, _)) = s.recv_from(&mut buf) {
                if Message::parse(&buf[..n]).is_ok_and(|m| m.class() == Class::Success) {
                    return;
                }
            }
        }
        panic!("coturn did not answer on {}", self.addr);
    }
}

impl Coturn {
    /// The end of coturn's log, for failure messages.
    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// What a member signals, one JSON object per line.
pub(crate) fn signal(kind: &str, value: &str) -> String {
    json!({ kind: value }).to_string()
}

/// One call member: a PeerConnection on one UDP socket, sending Opus and
/// decoding what it receives.
pub(crate) struct Member {
    pub(crate) pc: PeerConnection,
    socket: UdpSocket,
    pub(crate) local: SocketAddr,
    offerer: bool,
    pub(crate) out: Vec<String>,
    tone: ToneSource,
    opus: OpusEncoder,
    opus_dec: OpusDecoder,
    next_audio: Instant,
    rtp_time: u32,
    pub(crate) sent: usize,
    pub(crate) decoded: usize,
    created: Instant,
    /// When DTLS finished and media could first be sent.
    pub(crate) connected_after: Option<Duration>,
    /// Our signaled candidates and the peer's.
    pub(crate) local_candidates: Vec<String>,
    remote_candidates: Vec<String>,
    buf: Vec<u8>,
    /// What left for the TURN server: datagrams and bytes, and of those
    /// the ChannelData messages (first byte 64-79, RFC 7983).
    pub(crate) to_server: WireCount,
    turn: SocketAddr,
    /// UDP sockets opened for new allocations after an ICE restart
    /// (`ice.new_relays_on_restart`), as the drivers open them.
    pub(crate) relay_sockets: Vec<(SocketAddr, UdpSocket)>,
    /// Those closed again once their allocation was deleted.
    pub(crate) relay_sockets_closed: Vec<SocketAddr>,
}

/// Datagrams sent to the TURN server, counted by kind.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WireCount {
    pub(crate) datagrams: u64,
    pub(crate) bytes: u64,
    pub(crate) channel_data: u64,
    pub(crate) channel_data_bytes: u64,
}

impl Member {
    fn new(
        seed: u8,
        bind: SocketAddr,
        turn: SocketAddr,
        relay_only: bool,
        offerer: bool,
    ) -> Member {
        Member::with(
            seed,
            bind,
            TurnServer::udp(turn, USER, PASS),
            offerer,
            |ice| {
                ice.relay_only = relay_only;
            },
        )
    }

    /// A member using `server`, its ICE configuration changed by `tweak`.
    pub(crate) fn with(
        seed: u8,
        bind: SocketAddr,
        server: TurnServer,
        offerer: bool,
        tweak: impl FnOnce(&mut meshrtc_ice::IceConfig),
    ) -> Member {
        let now = Instant::now();
        let cert = meshrtc_dtls::Certificate::generate("meshrtc").unwrap();
        let mut cfg = PeerConfig::new([seed; 32], cert);
        // coturn answers Binding requests too: server-reflexive candidates.
        let turn = server.addr;
        cfg.ice.stun_servers = vec![turn];
        cfg.ice.turn_servers = vec![server];
        tweak(&mut cfg.ice);
        let socket = UdpSocket::bind(bind).unwrap();
        socket.set_nonblocking(true).unwrap();
        let local = socket.local_addr().unwrap();
        let mut pc = PeerConnection::new(cfg, now).unwrap();
        pc.add_local_address(local);
        let mut out = Vec::new();
        if offerer {
            pc.add_transceiver(MediaKind::Audio, true, true);
            out.push(signal("offer", &pc.create_offer(now).unwrap()));
        } else {
            pc.add_answer_track(MediaKind::Audio);
        }
        Member {
            pc,
            socket,
            local,
            offerer,
            out,
            tone: ToneSource::new(48_000, 1, 440.0),
            opus: OpusEncoder::new(48_000, 1, 32_000).unwrap(),
            opus_dec: OpusDecoder::new(48_000, 1).unwrap(),
            next_audio: now,
            rtp_time: 0,
            sent: 0,
            decoded: 0,
            created: now,
            connected_after: None,
            local_candidates: Vec::new(),
            remote_candidates: Vec::new(),
            buf: vec![0; 2048],
            to_server: WireCount::default(),
            turn,
            relay_sockets: Vec::new(),
            relay_sockets_closed: Vec::new(),
        }
    }

    pub(crate) fn on_signal(&mut self, line: &str) {
        let now = Instant::now();
        let v: Value = serde_json::from_str(line).unwrap();
        if let Some(sdp) = v["offer"].as_str() {
            self.pc
                .set_remote_description(now, SdpType::Offer, sdp)
                .unwrap();
            let answer = self.pc.create_answer(now).unwrap();
            self.out.push(signal("answer", &answer));
        } else if let Some(sdp) = v["answer"].as_str() {
            assert!(self.offerer);
            self.pc
                .set_remote_description(now, SdpType::Answer, sdp)
                .unwrap();
        } else if let Some(c) = v["candidate"].as_str() {
            self.remote_candidates.push(c.to_string());
            self.pc.add_remote_candidate(now, Some(c)).unwrap();
        }
    }

    /// Socket in, timers, events, media out, socket out.
    pub(crate) fn pump(&mut self) {
        let now = Instant::now();
        while let Ok((n, from)) = self.socket.recv_from(&mut self.buf) {
            self.pc
                .handle_datagram(now, from, self.local, &self.buf[..n]);
        }
        for (local, s) in &self.relay_sockets {
            while let Ok((n, from)) = s.recv_from(&mut self.buf) {
                self.pc.handle_datagram(now, from, *local, &self.buf[..n]);
            }
        }
        self.serve_relay_transports(now);
        if self.pc.poll_timeout().is_some_and(|t| t <= now) {
            self.pc.handle_timeout(now);
        }
        while let Some(e) = self.pc.poll_event() {
            match e {
                PeerEvent::LocalCandidate(c) => {
                    self.local_candidates.push(c.candidate.clone());
                    self.out.push(signal("candidate", &c.candidate));
                }
                PeerEvent::Frame(f) if self.opus_dec.decode(Some(&f.data)).is_ok() => {
                    self.decoded += 1;
                }
                _ => {}
            }
        }
        if self.pc.is_connected() {
            if self.connected_after.is_none() {
                self.connected_after = Some(now - self.created);
            }
            let mid = self
                .pc
                .sending_mids()
                .into_iter()
                .find(|m| m.1 == MediaKind::Audio);
            while let (Some((mid, _)), true) = (&mid, self.next_audio <= now) {
                let pcm = self.tone.next_frame();
                let packet = self.opus.encode(&pcm).unwrap();
                let frame = PacketizedFrame::opus(packet.into(), self.rtp_time);
                if self.pc.send_frame(now, mid, &frame).is_ok() {
                    self.sent += 1;
                }
                self.rtp_time = self.rtp_time.wrapping_add(960);
                self.next_audio += Duration::from_millis(20);
            }
        } else {
            self.next_audio = now;
        }
        while let Some(t) = self.pc.poll_transmit() {
            let relay_socket = self.relay_sockets.iter().find(|(a, _)| *a == t.src);
            if let Some((_, s)) = relay_socket {
                if t.dst == self.turn {
                    self.to_server.datagrams += 1;
                }
                let _ = s.send_to(&t.payload, t.dst);
                continue;
            }
            assert_eq!(
                t.src, self.local,
                "every datagram leaves from a socket of ours"
            );
            if t.dst == self.turn {
                let n = t.payload.len() as u64;
                self.to_server.datagrams += 1;
                self.to_server.bytes += n;
                if t.payload.first().is_some_and(|b| (64..=79).contains(b)) {
                    self.to_server.channel_data += 1;
                    self.to_server.channel_data_bytes += n;
                }
            }
            let _ = self.socket.send_to(&t.payload, t.dst);
        }
    }

    /// Opens the UDP sockets the connection asks for (a new allocation per
    /// ICE restart) and closes those it hands back.
    fn serve_relay_transports(&mut self, now: Instant) {
        while let Some(req) = self.pc.poll_relay_transport_request() {
            let s = UdpSocket::bind(SocketAddr::new(req.bind, 0)).unwrap();
            s.set_nonblocking(true).unwrap();
            let local = s.local_addr().unwrap();
            self.pc
                .add_relay_transport(now, req.server, req.transport, local)
                .unwrap();
            self.relay_sockets.push((local, s));
        }
        while let Some(local) = self.pc.poll_relay_transport_release() {
            self.relay_sockets.retain(|(a, _)| *a != local);
            self.relay_sockets_closed.push(local);
        }
    }

    /// The addresses of the `typ relay` candidates in `cands`.
    pub(crate) fn relay_addrs(cands: &[String]) -> Vec<SocketAddr> {
        cands
            .iter()
            .filter(|c| c.contains(" typ relay"))
            .filter_map(|c| {
                let f: Vec<&str> = c.split_whitespace().collect();
                format!("{}:{}", f.get(4)?, f.get(5)?).parse().ok()
            })
            .collect()
    }

    pub(crate) fn result(&self) -> Value {
        let (l, r) = self.pc.stats().selected_pair.expect("a selected pair");
        json!({
            "selected": [l.to_string(), r.to_string()],
            "local_relays": Self::relay_addrs(&self.local_candidates).iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            "remote_relays": Self::relay_addrs(&self.remote_candidates).iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            "local_candidates": self.local_candidates,
            "sent": self.sent,
            "decoded": self.decoded,
            "dtls": self.pc.stats().dtls_cipher,
            "unvalidated_dropped": self.pc.stats().unvalidated_dropped,
            "connected_ms": self.connected_after.map(|d| d.as_millis() as u64),
        })
    }
}

/// Whether the member's selected pair goes through a TURN relay: its local
/// side is one of our relayed addresses, or its remote side one of the
/// peer's.
fn through_relay(r: &Value) -> bool {
    let sel = &r["selected"];
    let has = |list: &Value, a: &Value| list.as_array().is_some_and(|l| l.contains(a));
    has(&r["local_relays"], &sel[0]) || has(&r["remote_relays"], &sel[1])
}

#[test]
fn relay_only_peer_connections_call_through_coturn_on_loopback() {
    if !run_in_private_netns(
        "turn_coturn::relay_only_peer_connections_call_through_coturn_on_loopback",
    ) {
        return;
    }
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let coturn = Coturn::start(None, lo);
    let t0 = Instant::now();
    let bind = SocketAddr::new(lo, 0);
    let mut m = [
        Member::new(1, bind, coturn.addr, true, true),
        Member::new(2, bind, coturn.addr, true, false),
    ];
    let end = t0 + Duration::from_secs(20);
    while m.iter().any(|x| x.decoded < FRAMES) {
        assert!(
            Instant::now() < end,
            "no call through coturn: {} / {} decoded; candidates {:?} / {:?}; stats {:?}\ncoturn:\n{}",
            m[0].decoded,
            m[1].decoded,
            m[0].local_candidates,
            m[1].local_candidates,
            m[0].pc.stats(),
            coturn.log_tail()
        );
        for i in 0..2 {
            m[i].pump();
            for s in std::mem::take(&mut m[i].out) {
                m[1 - i].on_signal(&s);
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let took = t0.elapsed();
    // The attack of issue 16: a stranger on the permitted IP (coturn's
    // permissions are per IP, RFC 8656 §9) sends a DTLS record and an
    // SRTP-looking packet to member 0's relayed address. coturn relays
    // them in Data indications naming the stranger as the peer, and
    // member 0 checks that inner address, not coturn's: neither is a
    // validated path, so both are dropped before DTLS and SRTP.
    let (relayed, _) = m[0].pc.stats().selected_pair.unwrap();
    let before = m[0].pc.stats();
    let stranger = UdpSocket::bind(SocketAddr::new(lo, 0)).unwrap();
    let mut dtls = vec![0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, 12];
    dtls.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let mut srtp = vec![0x80, 111, 0, 1, 0, 0, 0, 160, 0x12, 0x34, 0x56, 0x78];
    srtp.extend_from_slice(&[0xab; 40]);
    for _ in 0..3 {
        stranger.send_to(&dtls, relayed).unwrap();
        stranger.send_to(&srtp, relayed).unwrap();
    }
    let decoded_before = m[0].decoded;
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        for i in 0..2 {
            m[i].pump();
            for s in std::mem::take(&mut m[i].out) {
                m[1 - i].on_signal(&s);
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let after = m[0].pc.stats();
    assert_eq!(
        after.unvalidated_dropped - before.unvalidated_dropped,
        6,
        "the stranger's datagrams through the relay: {after:?}"
    );
    assert_eq!(after.srtp_errors, before.srtp_errors);
    // Nothing reached DTLS, whichever version runs.
    assert_eq!(
        after.dtls.as_ref().map(|d| d.datagrams_received),
        before.dtls.as_ref().map(|d| d.datagrams_received)
    );
    assert_eq!(
        after
            .dtls13
            .as_ref()
            .map(|d| (d.records.clone(), d.malformed_plaintext)),
        before
            .dtls13
            .as_ref()
            .map(|d| (d.records.clone(), d.malformed_plaintext))
    );
    assert!(after.dtls.is_some() || after.dtls13.is_some());
    assert!(m[0].decoded > decoded_before + 25, "the call goes on");
    for (i, x) in m.iter().enumerate() {
        let r = x.result();
        eprintln!("member {i}: {r}");
        // Relay only: every candidate signaled is a relay candidate ...
        assert!(!x.local_candidates.is_empty());
        assert!(
            x.local_candidates
                .iter()
                .all(|c| c.contains(" typ relay raddr ")),
            "{r}"
        );
        // ... and the selected pair is relay to relay, on coturn's ports.
        let local_relays = Member::relay_addrs(&x.local_candidates);
        let (l, rem) = x.pc.stats().selected_pair.unwrap();
        assert!(local_relays.contains(&l), "{r}");
        assert!(
            Member::relay_addrs(&m[1 - i].local_candidates).contains(&rem),
            "{r}"
        );
        assert!((49152..=49252).contains(&l.port()) && (49152..=49252).contains(&rem.port()));
        assert_ne!(l, x.local);
        assert!(
            x.pc.stats().dtls_cipher.is_some(),
            "DTLS finished over the relay"
        );
        assert!(x.decoded >= FRAMES);
    }
    let connected = m
        .iter()
        .filter_map(|x| x.connected_after)
        .max()
        .unwrap_or_default();
    eprintln!(
        "relay-only call through coturn: media could flow after {connected:?}, \
         {FRAMES} Opus frames decoded each way after {took:?}"
    );
}

/// The member role of a re-run of this binary inside a home namespace.
const MEMBER_ENV: &str = "MESHRTC_TURN_MEMBER";

/// Network namespaces and links of the NAT topology, deleted when dropped.
struct Topology {
    id: u32,
    namespaces: Vec<String>,
}

fn sh(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Gives `dev` in namespace `ns` the address `cidr` and brings it up.
fn addr_up(ns: &str, dev: &str, cidr: &str) {
    sh(&["ip", "-n", ns, "addr", "add", cidr, "dev", dev]);
    sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
}

/// Runs a command inside network namespace `ns`.
fn in_ns(ns: &str, args: &[&str]) {
    let mut all = vec!["ip", "netns", "exec", ns];
    all.extend_from_slice(args);
    sh(&all);
}

impl Topology {
    /// `pub` (a bridge, 100.64.0.1/24, coturn), routers `ra`/`rb`
    /// (100.64.0.2 and .3 outside; 10.1.0.1 and 10.2.0.1 inside; symmetric
    /// masquerade), homes `ha`/`hb` (10.1.0.2 and 10.2.0.2, default route
    /// via their router).
    fn build() -> Topology {
        let id = std::process::id();
        let mut t = Topology {
            id,
            namespaces: Vec::new(),
        };
        for n in ["pub", "ra", "rb", "ha", "hb"] {
            let ns = t.ns(n);
            sh(&["ip", "netns", "add", &ns]);
            t.namespaces.push(ns.clone());
            sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        }
        let public = t.ns("pub");
        sh(&["ip", "-n", &public, "link", "add", "br0", "type", "bridge"]);
        sh(&[
            "ip",
            "-n",
            &public,
            "addr",
            "add",
            "100.64.0.1/24",
            "dev",
            "br0",
        ]);
        sh(&["ip", "-n", &public, "link", "set", "br0", "up"]);
        // The rest of the internet: a gateway that never answers, so
        // packets to the homes' private addresses vanish as they would
        // (without any route coturn's sendto fails and it ends the
        // session).
        sh(&[
            "ip",
            "-n",
            &public,
            "route",
            "add",
            "default",
            "via",
            "100.64.0.254",
        ]);
        for (side, outside, inside_net) in
            [("a", "100.64.0.2", "10.1.0"), ("b", "100.64.0.3", "10.2.0")]
        {
            let router = t.ns(&format!("r{side}"));
            let home = t.ns(&format!("h{side}"));
            // Router to the public bridge.
            let (p, r) = (format!("p{side}{id}"), format!("o{side}{id}"));
            sh(&["ip", "link", "add", &p, "type", "veth", "peer", "name", &r]);
            sh(&["ip", "link", "set", &p, "netns", &public]);
            sh(&[
                "ip", "-n", &public, "link", "set", &p, "master", "br0", "up",
            ]);
            sh(&["ip", "link", "set", &r, "netns", &router]);
            addr_up(&router, &r, &format!("{outside}/24"));
            // Home to router.
            let (h, l) = (format!("h{side}{id}"), format!("i{side}{id}"));
            sh(&["ip", "link", "add", &h, "type", "veth", "peer", "name", &l]);
            sh(&["ip", "link", "set", &h, "netns", &home]);
            sh(&["ip", "link", "set", &l, "netns", &router]);
            addr_up(&home, &h, &format!("{inside_net}.2/24"));
            let gateway = format!("{inside_net}.1");
            sh(&[
                "ip", "-n", &home, "route", "add", "default", "via", &gateway,
            ]);
            addr_up(&router, &l, &format!("{gateway}/24"));
            // The symmetric NAT.
            in_ns(&router, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
            in_ns(&router, &["nft", "add", "table", "ip", "nat"]);
            let hook = "{ type nat hook postrouting priority 100 ; }";
            in_ns(&router, &["nft", "add", "chain", "ip", "nat", "post", hook]);
            let nat = ["masquerade", "random,fully-random"];
            in_ns(
                &router,
                &[
                    "nft", "add", "rule", "ip", "nat", "post", "oifname", &r, nat[0], nat[1],
                ],
            );
        }
        t
    }

    fn ns(&self, name: &str) -> String {
        format!("mt{name}{}", self.id)
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

const NAT_TEST: &str =
    "turn_coturn::symmetric_nats_leave_only_the_relay_and_the_call_goes_through_coturn";

/// The member side: a PeerConnection in this namespace, signaling on
/// stdin/stdout (`SIG <json>` lines), a `RESULT <json>` line at the end.
fn run_member(role: &str) {
    let bind: SocketAddr = std::env::var("MESHRTC_TURN_BIND").unwrap().parse().unwrap();
    let server: SocketAddr = std::env::var("MESHRTC_TURN_SERVER")
        .unwrap()
        .parse()
        .unwrap();
    let offerer = role == "offerer";
    let mut m = Member::new(if offerer { 1 } else { 2 }, bind, server, false, offerer);
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let end = Instant::now() + Duration::from_secs(25);
    let mut done_at: Option<Instant> = None;
    while Instant::now() < end && done_at.is_none_or(|t| Instant::now() < t) {
        while let Ok(line) = rx.try_recv() {
            if let Some(s) = line.strip_prefix("SIG ") {
                m.on_signal(s);
            }
        }
        m.pump();
        let mut stdout = std::io::stdout().lock();
        for s in std::mem::take(&mut m.out) {
            let _ = writeln!(stdout, "SIG {s}");
        }
        let _ = stdout.flush();
        if done_at.is_none() && m.decoded >= FRAMES && m.sent >= FRAMES {
            // Keep sending a while so the other side gets its frames too.
            done_at = Some(Instant::now() + Duration::from_secs(2));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let r = if m.pc.stats().selected_pair.is_some() {
        m.result()
    } else {
        json!({ "decoded": m.decoded, "local_candidates": m.local_candidates })
    };
    println!("RESULT {r}");
}

#[test]
fn symmetric_nats_leave_only_the_relay_and_the_call_goes_through_coturn() {
    if let Ok(role) = std::env::var(MEMBER_ENV) {
        run_member(&role);
        return;
    }
    let t0 = Instant::now();
    let topo = Topology::build();
    let coturn = Coturn::start(Some(&topo.ns("pub")), "100.64.0.1".parse().unwrap());
    let exe = std::env::current_exe().unwrap();
    let mut children: Vec<Child> = Vec::new();
    let (tx, rx) = mpsc::channel::<(usize, String)>();
    for (i, (role, home, ip)) in [
        ("offerer", "ha", "10.1.0.2"),
        ("answerer", "hb", "10.2.0.2"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut c = Command::new("ip")
            .args(["netns", "exec", &topo.ns(home)])
            .arg(&exe)
            .args([NAT_TEST, "--exact", "--nocapture", "--test-threads=1"])
            .env(MEMBER_ENV, role)
            .env("MESHRTC_TURN_BIND", format!("{ip}:0"))
            .env("MESHRTC_TURN_SERVER", coturn.addr.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = c.stdout.take().unwrap();
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send((i, line)).is_err() {
                    return;
                }
            }
        });
        children.push(c);
    }
    drop(tx);
    let mut results: [Option<Value>; 2] = [None, None];
    let end = Instant::now() + Duration::from_secs(40);
    while results.iter().any(Option::is_none) && Instant::now() < end {
        let Ok((i, line)) = rx.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        // libtest may have written "test NAME ... " on the same line first.
        if let Some((_, s)) = line.split_once("SIG {") {
            if let Some(stdin) = children[1 - i].stdin.as_mut() {
                let _ = writeln!(stdin, "SIG {{{s}");
            }
        } else if let Some((_, r)) = line.split_once("RESULT {") {
            results[i] = Some(serde_json::from_str(&format!("{{{r}")).unwrap());
        }
    }
    for c in &mut children {
        drop(c.stdin.take());
        let _ = c.wait();
    }
    let coturn_log = coturn.log_tail();
    drop(coturn);
    drop(topo);
    if results
        .iter()
        .any(|r| r.as_ref().is_none_or(|r| !through_relay(r)))
    {
        eprintln!("coturn:\n{coturn_log}");
    }
    let took = t0.elapsed();
    for (i, r) in results.iter().enumerate() {
        eprintln!("member {i}: {r:?}");
    }
    for (i, r) in results.iter().enumerate() {
        let r = r
            .as_ref()
            .unwrap_or_else(|| panic!("member {i} gave no result"));
        let cands = r["local_candidates"].as_array().unwrap();
        let has = |typ: &str| {
            cands
                .iter()
                .any(|c| c.as_str().is_some_and(|c| c.contains(typ)))
        };
        // Host, server-reflexive (the router's public address) and relay
        // candidates were all offered ...
        assert!(
            has(" typ host") && has(" typ srflx raddr ") && has(" typ relay raddr "),
            "{r}"
        );
        assert!(
            cands.iter().any(|c| c
                .as_str()
                .is_some_and(|c| c.contains(" 100.64.0.") && c.contains("srflx"))),
            "{r}"
        );
        // ... and the path ICE selected goes through coturn.
        assert!(
            through_relay(r),
            "member {i} did not go through the relay: {r}"
        );
        assert!(r["dtls"].is_string(), "DTLS did not finish: {r}");
        assert!(r["decoded"].as_u64().unwrap() >= FRAMES as u64, "{r}");
    }
    eprintln!("call across two symmetric NATs through coturn: {took:?} including setup");
}

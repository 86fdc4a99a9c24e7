//! The local network on real sockets, in a private network namespace
//! (issue 17):
//!
//! - two mesh members in a call lose the address they use (`ip addr del`)
//!   and get another (`ip addr add`): the drivers notice within a second,
//!   gather the new address and restart ICE; media resumes on the same
//!   connections; the gone address's candidates have left ICE, so no offer
//!   or candidate signalled after the change names it;
//! - a member hiding its host addresses behind mDNS names is resolved and
//!   reached by another (Chromium and mDNS, across two namespaces: the
//!   `mdns_chromium` module).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use meshrtc_integration::browser::run_in_private_netns;
use meshrtc_media::source::TestPattern;
use meshrtc_media::vp8::{Vp8Decoder, Vp8Encoder, Vp8EncoderConfig};
use meshrtc_mesh::driver::{join, MemberConfig};
use meshrtc_mesh::signaling::{bind, ServerConfig};
use meshrtc_mesh::{MeshEvent, MeshStats};
use meshrtc_peer::PacketizedFrame;
use meshrtc_rtp::vp8::Vp8Packetizer;
use meshrtc_sdp::negotiate::MediaKind;

/// Runs `ip` commands (one per line) in this namespace.
fn ip(script: &str) {
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let out = Command::new("ip")
            .args(line.split_whitespace())
            .output()
            .expect("ip (iproute2)");
        assert!(
            out.status.success(),
            "ip {line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// What the signaling server sent its clients, in the order it came, with
/// when each piece came.
type SignalLog = Arc<Mutex<Vec<(Instant, Vec<u8>)>>>;

/// A TCP relay in front of the signaling server at `upstream` (an
/// `ip:port`): each client connection is passed on byte for byte, and what
/// the server sends is logged (server-to-client WebSocket frames are not
/// masked, RFC 6455 §5.1, so descriptions and candidates show as text).
/// Returns the relay's address.
fn logging_relay(upstream: String, log: SignalLog) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_in, &mut s_out);
            });
            let (mut s_in, mut c_out, log) = (server, client, log.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 16384];
                while let Ok(n) = s_in.read(&mut buf) {
                    if n == 0 || c_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    if let Ok(mut log) = log.lock() {
                        log.push((Instant::now(), buf[..n].to_vec()));
                    }
                }
            });
        }
    });
    addr
}

/// What one member saw of the call.
#[derive(Debug, Default)]
pub(crate) struct MemberRun {
    /// Frames decoded before and after the address change.
    pub(crate) before: u64,
    pub(crate) after: u64,
    /// The first frame decoded after the change, counted from it, once
    /// the address change had been seen.
    pub(crate) resumed_after: Option<Duration>,
    pub(crate) connected_events: usize,
    pub(crate) removed_events: usize,
    /// The mesh figures at the change (just before it) and at the end.
    pub(crate) stats_before: Option<MeshStats>,
    pub(crate) stats: Option<MeshStats>,
    pub(crate) address_changes: u64,
}

/// A member sending the test pattern at 15 fps and decoding the other's
/// video until `end`; the address changes at `change`.
async fn address_change_member(
    cfg: MemberConfig,
    change: tokio::time::Instant,
    end: tokio::time::Instant,
) -> MemberRun {
    let (m, mut events) = join(cfg).await.unwrap();
    let mut pattern = TestPattern::new(160, 120, 15);
    let mut enc = Vp8Encoder::new(Vp8EncoderConfig::new(160, 120, 15, 150_000)).unwrap();
    let mut pk = Vp8Packetizer::new(3);
    let mut decoders: BTreeMap<String, Vp8Decoder> = BTreeMap::new();
    let mut run = MemberRun::default();
    let mut tick = tokio::time::interval(Duration::from_millis(66));
    let mut n = 0u32;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(end) => break,
            _ = tick.tick() => {
                let img = pattern.next_frame(u64::from(n) * 66_000);
                if let Ok(Some(f)) = enc.encode(&img, u64::from(n) * 66_000, m.take_keyframe_request()) {
                    let p = PacketizedFrame::vp8(&mut pk, f.data.into(), n * 6000, 1100).unwrap();
                    m.send_frame(Arc::new(p));
                }
                n += 1;
            }
            e = events.recv() => match e {
                Some(MeshEvent::Frame { from, frame }) if frame.kind == MediaKind::Video => {
                    let dec = decoders.entry(from).or_insert_with(|| Vp8Decoder::new().unwrap());
                    if let Ok(Some(_)) = dec.decode(&frame.data) {
                        let now = tokio::time::Instant::now();
                        if now < change {
                            run.before += 1;
                            run.stats_before = m.stats();
                        } else {
                            run.after += 1;
                            // Frames still in flight at the change do not
                            // count as resumed: only those after the
                            // driver noticed it.
                            if run.resumed_after.is_none() && m.counters().address_changes > 0 {
                                run.resumed_after = Some(now - change);
                            }
                        }
                    }
                }
                Some(MeshEvent::MemberConnected { .. }) => run.connected_events += 1,
                // The other member's leave at the end is no removal.
                Some(MeshEvent::MemberRemoved { .. })
                    if tokio::time::Instant::now() + Duration::from_millis(500) < end =>
                {
                    run.removed_events += 1;
                }
                Some(_) => {}
                None => break,
            }
        }
    }
    run.stats = m.stats();
    run.address_changes = m.counters().address_changes;
    m.leave();
    run
}

/// The link whose address changes: `ac0` (a veth pair with `ac1`) holding
/// 10.77.0.1, up.
pub(crate) fn address_link() {
    ip("link add ac0 type veth peer name ac1
        addr add 10.77.0.1/24 dev ac0
        link set ac0 up
        link set ac1 up");
}

/// Members "a" and "b" (made by `config`) in a call on 10.77.0.1 (on
/// `ac0`), which is replaced by 10.77.0.2 `change_after` the start; the
/// call goes on for `run_after` more. What each saw.
pub(crate) fn call_through_an_address_change(
    rt: &tokio::runtime::Runtime,
    config: impl Fn(&str) -> MemberConfig,
    change_after: Duration,
    run_after: Duration,
) -> (MemberRun, MemberRun) {
    let change = tokio::time::Instant::now() + change_after;
    let end = change + run_after;
    let (a, b) = (config("a"), config("b"));
    rt.block_on(async {
        let a = tokio::spawn(address_change_member(a, change, end));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let b = tokio::spawn(address_change_member(b, change, end));
        tokio::time::sleep_until(change).await;
        ip("addr del 10.77.0.1/24 dev ac0
            addr add 10.77.0.2/24 dev ac0");
        (a.await.unwrap(), b.await.unwrap())
    })
}

#[test]
fn an_address_removed_and_another_added_mid_call_resumes_the_call_after_an_ice_restart() {
    if !run_in_private_netns(
        "local_network::an_address_removed_and_another_added_mid_call_resumes_the_call_after_an_ice_restart",
    ) {
        return;
    }
    // One link whose address the members use (loopback is left out of
    // their gathering, so it cannot carry the call instead).
    address_link();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(bind("127.0.0.1:0", ServerConfig::default()))
        .unwrap();
    // The members reach the server through a relay that logs what the
    // server sends them (the offers and candidates of the other member).
    let log = SignalLog::default();
    let upstream = server.ws_url();
    let upstream_addr = upstream
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let relay = logging_relay(upstream_addr.clone(), log.clone());
    let ws = upstream.replace(&upstream_addr, &relay.to_string());
    let config = |name: &str| {
        let mut cfg = MemberConfig::new(&ws, "moving", name).unwrap();
        cfg.loopback = false;
        cfg.send_audio = false;
        cfg.slots = 2;
        cfg
    };
    let started = Instant::now();
    let changed_at = started + Duration::from_secs(3);
    let (a, b) =
        call_through_an_address_change(&rt, config, Duration::from_secs(3), Duration::from_secs(5));
    rt.block_on(async { server.shutdown().await.unwrap() });
    eprintln!(
        "address change: a resumed after {:?}, b after {:?} ({} s in all)",
        a.resumed_after,
        b.resumed_after,
        started.elapsed().as_secs_f32()
    );
    for (name, r) in [("a", &a), ("b", &b)] {
        let stats = r.stats.as_ref().unwrap();
        assert!(r.before >= 10, "{name}: {r:?}");
        // The deletion and the addition are two commands: a poll between
        // them sees two changes (each restarts ICE).
        assert!((1..=2).contains(&r.address_changes), "{name}: {r:?}");
        assert_eq!(stats.address_changes, r.address_changes, "{name}");
        assert!(stats.ice_restarts >= 1, "{name}: {stats:?}");
        // About two seconds of video after the restart (15 fps).
        assert!(r.after >= 20, "{name}: {r:?}");
        let t = r.resumed_after.expect("media resumed");
        assert!(t <= Duration::from_secs(3), "{name}: resumed after {t:?}");
        // The same connection: it came up once, nobody was removed.
        assert_eq!(r.connected_events, 1, "{name}: {r:?}");
        assert_eq!(r.removed_events, 0, "{name}: {r:?}");
        assert_eq!(stats.members_failed, 0, "{name}");
    }
    // Before the change the descriptions named the first address. After
    // it, a member may still answer in the old terms until its own watch
    // sees the change (once a second), but then it restarts: the last
    // description each member sent names the new address and never the
    // gone one (its candidates left ICE), nor does any trickled candidate.
    let log = log.lock().unwrap();
    let text = |keep: &dyn Fn(Instant) -> bool| -> String {
        let bytes: Vec<u8> = (log.iter())
            .filter(|(t, _)| keep(*t))
            .flat_map(|(_, b)| b.clone())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let before = text(&|t| t < changed_at);
    let after = text(&|t| t >= changed_at);
    assert!(
        before.contains(" 10.77.0.1 "),
        "no candidate before the change"
    );
    // The messages after the change, as (type, sender, text).
    let messages: Vec<(&str, &str, &str)> = (after.split("{\"type\":\"").skip(1))
        .filter_map(|m| {
            let (kind, rest) = m.split_once('"')?;
            let from = rest.split("\"from\":\"").nth(1)?.split('"').next()?;
            Some((kind, from, m))
        })
        .collect();
    for (_, from, m) in messages.iter().filter(|(k, _, _)| *k == "candidate") {
        assert!(
            !m.contains(" 10.77.0.1 "),
            "{from} trickled the gone address: {m}"
        );
    }
    for member in ["p1", "p2"] {
        let last = (messages.iter().rev())
            .find(|(k, f, _)| *f == member && (*k == "offer" || *k == "answer"))
            .unwrap_or_else(|| panic!("no description from {member} after the change"));
        assert!(last.2.contains(" 10.77.0.2 "), "{member}: {}", last.2);
        assert!(
            !last.2.contains(" 10.77.0.1 "),
            "{member}'s last {} names the gone address: {}",
            last.0,
            last.2
        );
    }
}

/// What a member of the mDNS call saw.
#[derive(Debug, Default)]
struct HiddenRun {
    decoded: u64,
    counters: Option<meshrtc_mesh::driver::DriverCounters>,
}

/// A member sending the test pattern and decoding until `end`.
async fn plain_member(cfg: MemberConfig, end: tokio::time::Instant) -> HiddenRun {
    let (m, mut events) = join(cfg).await.unwrap();
    let mut pattern = TestPattern::new(160, 120, 15);
    let mut enc = Vp8Encoder::new(Vp8EncoderConfig::new(160, 120, 15, 150_000)).unwrap();
    let mut pk = Vp8Packetizer::new(5);
    let mut dec = Vp8Decoder::new().unwrap();
    let mut run = HiddenRun::default();
    let mut tick = tokio::time::interval(Duration::from_millis(66));
    let mut n = 0u32;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(end) => break,
            _ = tick.tick() => {
                let img = pattern.next_frame(u64::from(n) * 66_000);
                if let Ok(Some(f)) = enc.encode(&img, u64::from(n) * 66_000, m.take_keyframe_request()) {
                    let p = PacketizedFrame::vp8(&mut pk, f.data.into(), n * 6000, 1100).unwrap();
                    m.send_frame(Arc::new(p));
                }
                n += 1;
            }
            e = events.recv() => match e {
                Some(MeshEvent::Frame { frame, .. }) if frame.kind == MediaKind::Video => {
                    if let Ok(Some(_)) = dec.decode(&frame.data) {
                        run.decoded += 1;
                    }
                }
                Some(_) => {}
                None => break,
            }
        }
    }
    run.counters = Some(m.counters());
    m.leave();
    run
}

#[test]
fn a_member_hiding_its_addresses_behind_mdns_names_is_resolved_and_reached_by_another() {
    if !run_in_private_netns(
        "local_network::a_member_hiding_its_addresses_behind_mdns_names_is_resolved_and_reached_by_another",
    ) {
        return;
    }
    let started = Instant::now();
    ip("link add mh0 type veth peer name mh1
        addr add 10.78.0.1/24 dev mh0
        link set mh0 up
        link set mh1 up
        route add 224.0.0.0/4 dev mh0");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(bind("127.0.0.1:0", ServerConfig::default()))
        .unwrap();
    let ws = server.ws_url();
    let config = |name: &str, hide: bool| {
        let mut cfg = MemberConfig::new(&ws, "hidden", name).unwrap();
        cfg.loopback = false;
        cfg.send_audio = false;
        cfg.slots = 2;
        cfg.mdns_hide = hide;
        cfg
    };
    let end = tokio::time::Instant::now() + Duration::from_secs(4);
    let (hiding, resolving) = rt.block_on(async {
        let a = tokio::spawn(plain_member(config("hiding", true), end));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let b = tokio::spawn(plain_member(config("resolving", false), end));
        (a.await.unwrap(), b.await.unwrap())
    });
    rt.block_on(async { server.shutdown().await.unwrap() });
    let c = resolving.counters.unwrap();
    eprintln!(
        "mDNS hiding: resolver {c:?}; decoded {} and {} frames; {:.1} s",
        hiding.decoded,
        resolving.decoded,
        started.elapsed().as_secs_f32()
    );
    // The hiding member's candidates came as names, and were resolved by
    // its own responder's answers.
    assert!(c.mdns_candidates >= 1, "{c:?}");
    assert!(c.mdns_resolved >= 1, "{c:?}");
    assert_eq!(c.mdns_unresolved, 0, "{c:?}");
    // The hiding member resolved nothing: the other's are addresses.
    assert_eq!(hiding.counters.unwrap().mdns_candidates, 0);
    assert!(
        hiding.decoded >= 20 && resolving.decoded >= 20,
        "{hiding:?} {resolving:?}"
    );
}

//! The local network on real sockets, in a private network namespace
//! (issue 17):
//!
//! - two mesh members in a call lose the address they use (`ip addr del`)
//!   and get another (`ip addr add`): the drivers notice within a second,
//!   gather the new address and restart ICE; media resumes on the same
//!   connections;
//! - Chromium hiding its host addresses behind mDNS names (without the
//!   flags that turn that off) offers only `<uuid>.local` host candidates;
//!   our peer driver resolves them by multicast DNS over a veth link and
//!   reaches Chromium through them (our answer carries no candidate, so no
//!   other way exists), and decodes Chromium's video.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshrtc_integration::browser::{run_in_private_netns, Browser, PageServer};
use meshrtc_media::source::TestPattern;
use meshrtc_media::vp8::{Vp8Decoder, Vp8Encoder, Vp8EncoderConfig};
use meshrtc_mesh::driver::{join, MemberConfig};
use meshrtc_mesh::signaling::{bind, ServerConfig};
use meshrtc_mesh::{MeshEvent, MeshStats};
use meshrtc_peer::candidate::mdns_name;
use meshrtc_peer::driver::{spawn, DriverConfig};
use meshrtc_peer::{ConnectionState, PacketizedFrame, PeerConfig, PeerEvent, SdpType};
use meshrtc_rtp::vp8::Vp8Packetizer;
use meshrtc_sdp::negotiate::MediaKind;

use crate::chromium_call::{js, without_candidates, PAGE};

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

/// What one member saw of the call.
#[derive(Debug, Default)]
struct MemberRun {
    /// Frames decoded before and after the address change.
    before: u64,
    after: u64,
    /// The first frame decoded after the change, counted from it, once
    /// the address change had been seen.
    resumed_after: Option<Duration>,
    connected_events: usize,
    removed_events: usize,
    stats: Option<MeshStats>,
    address_changes: u64,
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

#[test]
fn an_address_removed_and_another_added_mid_call_resumes_the_call_after_an_ice_restart() {
    if !run_in_private_netns(
        "local_network::an_address_removed_and_another_added_mid_call_resumes_the_call_after_an_ice_restart",
    ) {
        return;
    }
    // One link whose address the members use (loopback is left out of
    // their gathering, so it cannot carry the call instead).
    ip("link add ac0 type veth peer name ac1
        addr add 10.77.0.1/24 dev ac0
        link set ac0 up
        link set ac1 up");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(bind("127.0.0.1:0", ServerConfig::default()))
        .unwrap();
    let ws = server.ws_url();
    let config = |name: &str| {
        let mut cfg = MemberConfig::new(&ws, "moving", name).unwrap();
        cfg.loopback = false;
        cfg.send_audio = false;
        cfg.slots = 2;
        cfg
    };
    let started = Instant::now();
    let t0 = tokio::time::Instant::now();
    let change = t0 + Duration::from_secs(3);
    let end = change + Duration::from_secs(5);
    let (a, b) = rt.block_on(async {
        let a = tokio::spawn(address_change_member(config("a"), change, end));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let b = tokio::spawn(address_change_member(config("b"), change, end));
        tokio::time::sleep_until(change).await;
        ip("addr del 10.77.0.1/24 dev ac0
            addr add 10.77.0.2/24 dev ac0");
        (a.await.unwrap(), b.await.unwrap())
    });
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
}

/// A page that sends a canvas's video (no camera: asking for one would
/// make Chromium reveal its host addresses) and makes an offer.
const CANVAS_OFFER: &str = "(async () => { \
    window.pc = new RTCPeerConnection(); \
    const c = document.createElement('canvas'); c.width = 320; c.height = 240; \
    document.body.appendChild(c); const g = c.getContext('2d'); let n = 0; \
    setInterval(() => { g.fillStyle = `hsl(${(n++ * 13) % 360}, 80%, 50%)`; \
      g.fillRect(0, 0, 320, 240); g.fillStyle = '#fff'; g.fillRect(n % 300, 100, 20, 20); }, 33); \
    const s = c.captureStream(15); pc.addTrack(s.getVideoTracks()[0], s); \
    await pc.setLocalDescription(await pc.createOffer()); return true; })()";

#[test]
fn chromium_hiding_its_addresses_behind_mdns_names_is_reached_through_a_resolved_local_candidate() {
    if !run_in_private_netns(
        "local_network::chromium_hiding_its_addresses_behind_mdns_names_is_reached_through_a_resolved_local_candidate",
    ) {
        return;
    }
    let started = Instant::now();
    // A veth link with multicast routed onto it: Chromium's responder and
    // our resolver meet on 224.0.0.251. Without media permission Chromium
    // gathers only on the default route's address (no adapter
    // enumeration), so the link carries the default route.
    ip("link add md0 type veth peer name md1
        addr add 10.9.0.1/24 dev md0
        addr add 10.9.0.2/24 dev md1
        link set md0 up
        link set md1 up
        route add 224.0.0.0/4 dev md0
        route add default dev md0");
    let page = PageServer::start(PAGE).unwrap();
    let mut browser = Browser::launch_hiding_host_addresses().unwrap();
    browser.navigate(&page.url).unwrap();
    browser.eval(CANVAS_OFFER).unwrap();
    // Registering the names takes Chromium's responder a moment: wait for
    // the end of gathering (up to 8 s).
    let offer = browser
        .eval(
            "new Promise(r => { const t0 = Date.now(); const f = () => \
               (pc.iceGatheringState === 'complete' || Date.now() - t0 > 8000) \
               ? r(pc.localDescription.sdp) : setTimeout(f, 100); f(); })",
        )
        .unwrap();
    let offer = offer.as_str().unwrap().to_string();
    let state = browser.eval("pc.iceGatheringState").unwrap();
    eprintln!("Chromium's gathering: {state}");
    let hosts: Vec<&str> = offer
        .lines()
        .filter(|l| l.starts_with("a=candidate:") && l.contains(" typ host") && l.contains(" udp "))
        .collect();
    assert!(!hosts.is_empty(), "no UDP host candidate:\n{offer}");
    for l in &hosts {
        assert!(mdns_name(l).is_some(), "a host address not hidden: {l}");
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut cfg = DriverConfig::new(PeerConfig::with_fixed_seed(41));
    cfg.bind = vec!["10.9.0.2".parse().unwrap()];
    cfg.stun_urls.clear();
    let (pc, mut events) = rt.block_on(spawn(cfg)).unwrap();
    let answer = rt.block_on(async {
        pc.set_remote_description(SdpType::Offer, offer.clone())
            .await
            .unwrap();
        pc.create_answer().await.unwrap()
    });
    // Our answer names no address: Chromium can only learn ours from our
    // checks, which go to the addresses its names resolved to.
    browser
        .eval(&format!(
            "pc.setRemoteDescription({{type: 'answer', sdp: {}}}).then(() => true)",
            js(&without_candidates(&answer))
        ))
        .unwrap();
    let mut dec = Vp8Decoder::new().unwrap();
    let (mut decoded, mut connected_at) = (0u32, None);
    let deadline = Instant::now() + Duration::from_secs(10);
    while decoded < 20 && Instant::now() < deadline {
        let next = rt.block_on(async {
            tokio::time::timeout(Duration::from_millis(100), events.recv()).await
        });
        match next {
            Ok(Some(PeerEvent::ConnectionStateChanged(ConnectionState::Connected))) => {
                connected_at.get_or_insert(started.elapsed());
            }
            Ok(Some(PeerEvent::Frame(f))) if f.kind == MediaKind::Video => {
                if let Ok(Some(img)) = dec.decode(&f.data) {
                    assert_eq!((img.width, img.height), (320, 240));
                    decoded += 1;
                }
            }
            Ok(Some(_)) | Err(_) => {}
            Ok(None) => break,
        }
    }
    let net = rt.block_on(pc.network_stats()).unwrap();
    let stats = rt.block_on(pc.stats()).unwrap();
    eprintln!(
        "{}: {} .local host candidates; {net:?}; selected {:?}; connected at {connected_at:?}, {decoded} frames decoded, {:.1} s in all",
        browser.version,
        hosts.len(),
        stats.selected_pair,
        started.elapsed().as_secs_f32()
    );
    assert_eq!(net.mdns_candidates, hosts.len() as u64, "{net:?}");
    assert!(net.mdns_resolved >= 1, "{net:?}");
    let (_, remote) = stats.selected_pair.expect("a selected pair");
    // The pair ends at a port Chromium gave only under a name.
    assert!(
        hosts
            .iter()
            .any(|l| l.split_whitespace().nth(5) == Some(&remote.port().to_string())),
        "{remote} is none of {hosts:?}"
    );
    assert!(connected_at.is_some(), "never connected");
    assert!(
        decoded >= 20,
        "decoded {decoded} frames of Chromium's canvas"
    );
    pc.close();
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

//! mDNS `.local` candidates with Chromium across two network namespaces
//! (issue 17): Chromium, launched without the flags that turn its mDNS
//! hiding off, runs in a namespace of its own; the test and meshrtc run in
//! another; a veth pair with multicast routed onto it joins them (10.9.0.1
//! ours, 10.9.0.2 Chromium's), and is the only link between them. DevTools
//! goes over a pipe ([`Browser::launch_hiding_host_addresses_in_own_netns`]),
//! so no control link exists that ICE could use instead.
//!
//! - Chromium's names resolved by us: its offer carries only `<uuid>.local`
//!   host candidates; our driver resolves them by multicast DNS
//!   (draft-ietf-mmusic-mdns-ice-candidates §3.2) and reaches Chromium at
//!   the resolved address (our answer carries no candidate, so no other way
//!   exists).
//! - Our names resolved by Chromium: our driver hides its host address
//!   behind a name (`mdns_hide`, §3.1.1) and its responder answers
//!   Chromium's query; Chromium gets its offer back without candidates
//!   being sent to us, so only its checks to our resolved name can connect.
//!   Video is decoded both ways.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshrtc_integration::browser::{run_in_private_netns, Browser};
use meshrtc_media::source::TestPattern;
use meshrtc_media::vp8::{Vp8Decoder, Vp8Encoder, Vp8EncoderConfig};
use meshrtc_peer::candidate::mdns_name;
use meshrtc_peer::driver::{spawn, DriverConfig, PeerHandle};
use meshrtc_peer::{ConnectionState, PacketizedFrame, PeerConfig, PeerEvent, SdpType};
use meshrtc_rtp::vp8::Vp8Packetizer;
use meshrtc_sdp::negotiate::MediaKind;
use tokio::sync::mpsc;

use crate::chromium_call::{js, without_candidates};

/// Runs `ip` commands (one per line), in the namespace of process `pid`
/// when given (through `nsenter`), else in this one.
fn ip_in(pid: Option<u32>, script: &str) {
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let mut cmd = match pid {
            Some(pid) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net=/proc/{pid}/ns/net")).arg("ip");
                c
            }
            None => Command::new("ip"),
        };
        let out = cmd
            .args(line.split_whitespace())
            .output()
            .expect("ip (iproute2) and nsenter (util-linux)");
        assert!(
            out.status.success(),
            "ip {line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Our address on the link, and Chromium's.
const OURS: &str = "10.9.0.1";
const CHROMIUM: &str = "10.9.0.2";

/// Chromium in its own namespace, joined to ours by the veth pair. Its
/// default route goes over the link: without media permission Chromium
/// gathers only on the default route's address (no adapter enumeration).
fn chromium_across_a_veth_link() -> Browser {
    let browser = Browser::launch_hiding_host_addresses_in_own_netns().unwrap();
    let pid = browser.pid();
    ip_in(
        None,
        &format!(
            "link add md0 type veth peer name md1 netns {pid}
             addr add {OURS}/24 dev md0
             link set md0 up
             route add 224.0.0.0/4 dev md0"
        ),
    );
    ip_in(
        Some(pid),
        &format!(
            "addr add {CHROMIUM}/24 dev md1
             link set md1 up
             route add 224.0.0.0/4 dev md1
             route add default via {OURS}"
        ),
    );
    browser
}

/// A page connection that sends a canvas's video (no camera: asking for
/// one would make Chromium reveal its host addresses) and receives video,
/// and makes an offer; evaluates to the offer once gathering ended
/// (Chromium's responder takes a moment to register its names; 8 s at
/// most).
const CANVAS_OFFER: &str = "(async () => { \
    window.pc = new RTCPeerConnection(); \
    const c = document.createElement('canvas'); c.width = 320; c.height = 240; \
    document.body.appendChild(c); const g = c.getContext('2d'); let n = 0; \
    setInterval(() => { g.fillStyle = `hsl(${(n++ * 13) % 360}, 80%, 50%)`; \
      g.fillRect(0, 0, 320, 240); g.fillStyle = '#fff'; g.fillRect(n % 300, 100, 20, 20); }, 33); \
    const s = c.captureStream(15); pc.addTrack(s.getVideoTracks()[0], s); \
    await pc.setLocalDescription(await pc.createOffer()); \
    const t0 = Date.now(); \
    while (pc.iceGatheringState !== 'complete' && Date.now() - t0 < 8000) \
      await new Promise(r => setTimeout(r, 100)); \
    return pc.localDescription.sdp; })()";

/// Chromium's view: frames decoded, and the selected pair's candidates
/// (type, address as the stats give it, port).
const PAGE_STATS: &str = "(async () => { const st = await pc.getStats(); \
    const out = { state: pc.connectionState, framesDecoded: 0, pair: null }; \
    st.forEach(s => { \
      if (s.type === 'inbound-rtp' && s.kind === 'video') out.framesDecoded = s.framesDecoded || 0; \
      if (s.type === 'transport' && s.selectedCandidatePairId) { \
        const p = st.get(s.selectedCandidatePairId); \
        const l = st.get(p.localCandidateId), r = st.get(p.remoteCandidateId); \
        out.pair = { local: [l.candidateType, l.address, l.port], \
                     remote: [r.candidateType, r.address, r.port] }; } }); \
    return out; })()";

/// UDP host candidate lines of `sdp`.
fn udp_hosts(sdp: &str) -> Vec<&str> {
    sdp.lines()
        .filter(|l| l.starts_with("a=candidate:") && l.contains(" typ host") && l.contains(" udp "))
        .collect()
}

/// A candidate line's port.
fn port_of(line: &str) -> Option<u16> {
    line.split_whitespace().nth(5)?.parse().ok()
}

/// Our side of the call: what it decoded of Chromium's canvas, and the
/// test pattern it sends (15 fps).
struct Ours {
    pc: PeerHandle,
    events: mpsc::UnboundedReceiver<PeerEvent>,
    connected_at: Option<Duration>,
    decoded: u32,
    sent: u32,
    dec: Vp8Decoder,
    pattern: TestPattern,
    enc: Vp8Encoder,
    pk: Vp8Packetizer,
    next_frame: Instant,
}

impl std::fmt::Debug for Ours {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ours")
            .field("connected_at", &self.connected_at)
            .field("decoded", &self.decoded)
            .field("sent", &self.sent)
            .finish()
    }
}

impl Ours {
    fn new(pc: PeerHandle, events: mpsc::UnboundedReceiver<PeerEvent>) -> Ours {
        Ours {
            pc,
            events,
            connected_at: None,
            decoded: 0,
            sent: 0,
            dec: Vp8Decoder::new().unwrap(),
            pattern: TestPattern::new(160, 120, 15),
            enc: Vp8Encoder::new(Vp8EncoderConfig::new(160, 120, 15, 150_000)).unwrap(),
            pk: Vp8Packetizer::new(7),
            next_frame: Instant::now(),
        }
    }

    /// Runs until `want` frames of Chromium's are decoded or `max` passed,
    /// sending on `send` (a mid) when given.
    fn run(
        &mut self,
        rt: &tokio::runtime::Runtime,
        send: Option<&str>,
        want: u32,
        max: Duration,
        started: Instant,
    ) {
        let deadline = Instant::now() + max;
        while self.decoded < want && Instant::now() < deadline {
            if let (Some(mid), true) = (send, Instant::now() >= self.next_frame) {
                let t = u64::from(self.sent) * 66_000;
                let img = self.pattern.next_frame(t);
                // A key frame every second: Chromium may start decoding late.
                if let Ok(Some(f)) = self.enc.encode(&img, t, self.sent % 15 == 0) {
                    let p =
                        PacketizedFrame::vp8(&mut self.pk, f.data.into(), self.sent * 6000, 1100);
                    let _ = self.pc.send_frame(mid, Arc::new(p.unwrap()));
                }
                self.sent += 1;
                self.next_frame += Duration::from_millis(66);
            }
            let events = &mut self.events;
            let next = rt.block_on(async {
                tokio::time::timeout(Duration::from_millis(20), events.recv()).await
            });
            match next {
                Ok(Some(PeerEvent::ConnectionStateChanged(ConnectionState::Connected))) => {
                    self.connected_at.get_or_insert(started.elapsed());
                }
                Ok(Some(PeerEvent::Frame(f))) if f.kind == MediaKind::Video => {
                    if let Ok(Some(img)) = self.dec.decode(&f.data) {
                        assert_eq!((img.width, img.height), (320, 240));
                        self.decoded += 1;
                    }
                }
                Ok(Some(_)) | Err(_) => {}
                Ok(None) => break,
            }
        }
    }
}

#[test]
fn chromium_in_another_namespace_is_reached_through_its_local_candidate_resolved_by_multicast() {
    if !run_in_private_netns(
        "mdns_chromium::chromium_in_another_namespace_is_reached_through_its_local_candidate_resolved_by_multicast",
    ) {
        return;
    }
    let started = Instant::now();
    let mut browser = chromium_across_a_veth_link();
    let offer = browser.eval(CANVAS_OFFER).unwrap();
    let offer = offer.as_str().unwrap().to_string();
    let hosts = udp_hosts(&offer);
    assert!(!hosts.is_empty(), "no UDP host candidate:\n{offer}");
    for l in &hosts {
        assert!(mdns_name(l).is_some(), "a host address not hidden: {l}");
    }
    assert!(
        !offer.contains(CHROMIUM),
        "Chromium's address shows:\n{offer}"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut cfg = DriverConfig::new(PeerConfig::with_fixed_seed(41));
    cfg.bind = vec![OURS.parse().unwrap()];
    cfg.stun_urls.clear();
    let (pc, events) = rt.block_on(spawn(cfg)).unwrap();
    let answer = rt.block_on(async {
        pc.set_remote_description(SdpType::Offer, offer.clone())
            .await
            .unwrap();
        pc.create_answer().await.unwrap()
    });
    // Our answer names no address: Chromium learns ours only from our
    // checks, which go to the address its names resolved to.
    browser
        .eval(&format!(
            "pc.setRemoteDescription({{type: 'answer', sdp: {}}}).then(() => true)",
            js(&without_candidates(&answer))
        ))
        .unwrap();
    let mut run = Ours::new(pc, events);
    run.run(&rt, None, 20, Duration::from_secs(10), started);
    let pc = &run.pc;
    let net = rt.block_on(pc.network_stats()).unwrap();
    let stats = rt.block_on(pc.stats()).unwrap();
    eprintln!(
        "{} in its own namespace: {} .local host candidates; {net:?}; selected {:?}; {run:?}; {:.1} s in all",
        browser.version,
        hosts.len(),
        stats.selected_pair,
        started.elapsed().as_secs_f32()
    );
    assert_eq!(net.mdns_candidates, hosts.len() as u64, "{net:?}");
    assert!(net.mdns_resolved >= 1, "{net:?}");
    let (local, remote) = stats.selected_pair.expect("a selected pair");
    // The pair crosses the veth link, to the address a name resolved to,
    // at a port Chromium gave only under a name.
    assert_eq!(local.ip().to_string(), OURS);
    assert_eq!(remote.ip().to_string(), CHROMIUM);
    assert!(
        hosts.iter().any(|l| port_of(l) == Some(remote.port())),
        "{remote} is none of {hosts:?}"
    );
    assert!(run.connected_at.is_some(), "never connected");
    assert!(run.decoded >= 20, "{run:?}");
    pc.close();
}

#[test]
fn chromium_in_another_namespace_resolves_our_hidden_local_candidate_and_video_flows_both_ways() {
    if !run_in_private_netns(
        "mdns_chromium::chromium_in_another_namespace_resolves_our_hidden_local_candidate_and_video_flows_both_ways",
    ) {
        return;
    }
    let started = Instant::now();
    let mut browser = chromium_across_a_veth_link();
    let offer = browser.eval(CANVAS_OFFER).unwrap();
    let offer = offer.as_str().unwrap().to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut cfg = DriverConfig::new(PeerConfig::with_fixed_seed(43));
    cfg.bind = vec![OURS.parse().unwrap()];
    cfg.stun_urls.clear();
    cfg.mdns_hide = true;
    let (pc, events) = rt.block_on(spawn(cfg)).unwrap();
    // Chromium's offer reaches us without its candidates: we cannot check
    // towards Chromium, so only its checks to our resolved name connect.
    let answer = rt.block_on(async {
        pc.add_answer_track(MediaKind::Video).unwrap();
        pc.set_remote_description(SdpType::Offer, without_candidates(&offer))
            .await
            .unwrap();
        pc.create_answer().await.unwrap()
    });
    let ours = udp_hosts(&answer);
    assert!(!ours.is_empty(), "no UDP host candidate:\n{answer}");
    for l in &ours {
        assert!(mdns_name(l).is_some(), "our address not hidden: {l}");
    }
    assert!(!answer.contains(OURS), "our address shows:\n{answer}");
    let mid = rt
        .block_on(pc.sending_mids())
        .unwrap()
        .into_iter()
        .find(|(_, k)| *k == MediaKind::Video)
        .map(|(m, _)| m)
        .expect("we send video");
    browser
        .eval(&format!(
            "pc.setRemoteDescription({{type: 'answer', sdp: {}}}).then(() => true)",
            js(&answer)
        ))
        .unwrap();
    let mut run = Ours::new(pc, events);
    run.run(&rt, Some(&mid), 20, Duration::from_secs(10), started);
    // Chromium decodes ours too: at least a second of it (15 fps).
    let mut page = serde_json::Value::Null;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        page = browser.eval(PAGE_STATS).unwrap();
        if page["framesDecoded"].as_u64().unwrap_or(0) >= 15 {
            break;
        }
        run.run(
            &rt,
            Some(&mid),
            u32::MAX,
            Duration::from_millis(300),
            started,
        );
    }
    let pc = &run.pc;
    let net = rt.block_on(pc.network_stats()).unwrap();
    let stats = rt.block_on(pc.stats()).unwrap();
    eprintln!(
        "{} resolving our name: {net:?}; ours selected {:?}; page {page}; {run:?}; {:.1} s in all",
        browser.version,
        stats.selected_pair,
        started.elapsed().as_secs_f32()
    );
    // Chromium asked for our name and our responder answered.
    assert!(net.mdns_queries_answered >= 1, "{net:?}");
    // We knew no candidate of Chromium's: nothing to resolve.
    assert_eq!(net.mdns_candidates, 0, "{net:?}");
    let (local, remote) = stats.selected_pair.expect("a selected pair");
    assert_eq!(local.ip().to_string(), OURS);
    assert_eq!(remote.ip().to_string(), CHROMIUM);
    // Chromium's pair ends at our hidden candidate: a host candidate at
    // the port we gave only under a name.
    let remote_seen = &page["pair"]["remote"];
    assert_eq!(remote_seen[0], "host", "{page}");
    assert!(
        ours.iter()
            .any(|l| port_of(l).map(u64::from) == remote_seen[2].as_u64()),
        "{page} is none of {ours:?}"
    );
    assert_eq!(page["state"], "connected", "{page}");
    assert!(run.connected_at.is_some(), "never connected");
    assert!(run.decoded >= 20, "{run:?}");
    assert!(page["framesDecoded"].as_u64().unwrap_or(0) >= 15, "{page}");
    pc.close();
}

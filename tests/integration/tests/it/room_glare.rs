//! Perfect negotiation between the room page and meshrtc members (issue
//! 17): a browser on the room page (`docs/room.html`) and two meshrtc
//! members start a renegotiation at the same moment: the page shares a
//! "screen" (a canvas's track, as getDisplayMedia would give) while both
//! members start their `--screen` track. Offers cross on every pair. The
//! page follows the W3C pattern (makingOffer, ignoreOffer, implicit
//! rollback), the members the same rule (polite = the larger id as byte
//! strings). Join order alice, browser, bob makes the browser polite
//! towards alice (it rolls back, alice ignores) and impolite towards bob
//! (it ignores, bob rolls back). Afterwards no one was dropped and every
//! screen is decoded: each member's by the page, the page's by each
//! member, and the members' by each other. With Chromium and Firefox.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshrtc_integration::browser::{run_in_private_netns, Browser};
use meshrtc_integration::firefox::Firefox;
use meshrtc_integration::page::JsPage;
use meshrtc_media::source::TestPattern;
use meshrtc_media::vp8::{Vp8Decoder, Vp8Encoder, Vp8EncoderConfig};
use meshrtc_mesh::driver::{join, MemberConfig};
use meshrtc_mesh::signaling::{bind, ServerConfig};
use meshrtc_mesh::{MeshEvent, MeshStats};
use meshrtc_peer::PacketizedFrame;
use meshrtc_rtp::vp8::Vp8Packetizer;
use meshrtc_sdp::negotiate::MediaKind;
use serde_json::Value;

use crate::chromium_mesh::member_config;
use crate::chromium_room::runtime;

/// The end of the test, in two steps: once `wanted` is set every member
/// takes its mesh figures, while all are still in the room; when the
/// `MEMBERS` have taken theirs, all leave. (Leaving at once would let a
/// member busy elsewhere for a tick see the other already gone.)
#[derive(Default)]
struct Finish {
    wanted: AtomicBool,
    taken: AtomicUsize,
}

/// The meshrtc members in the room.
const MEMBERS: usize = 2;

/// What a member saw: video frames decoded per (sender's name, mid), the
/// members it lost, and its mesh figures when the test was done
/// ([`Finish`]; then it leaves).
#[derive(Debug)]
struct Outcome {
    name: String,
    decoded: BTreeMap<(String, String), u64>,
    removed: Vec<String>,
    stats: Option<MeshStats>,
}

/// A member that sends its camera (the test pattern), starts a screen
/// track once `screen` is set, and decodes every video m-line of every
/// other member on its own decoder, until the test is done (90 s at most).
async fn member(cfg: MemberConfig, screen: Arc<AtomicBool>, done: Arc<Finish>) -> Outcome {
    let name = cfg.name.clone();
    let (m, mut events) = join(cfg).await.unwrap();
    let mut camera = TestPattern::new(320, 240, 15);
    let mut cam_enc = Vp8Encoder::new(Vp8EncoderConfig::new(320, 240, 15, 300_000)).unwrap();
    let mut cam_pk = Vp8Packetizer::new(7);
    let mut desktop = TestPattern::new(480, 270, 10);
    let mut scr_enc = Vp8Encoder::new(Vp8EncoderConfig::new(480, 270, 10, 300_000)).unwrap();
    let mut scr_pk = Vp8Packetizer::new(9);
    let mut decoders: BTreeMap<(String, String), Vp8Decoder> = BTreeMap::new();
    let mut decoded = BTreeMap::new();
    let mut names = BTreeMap::new();
    let mut removed = Vec::new();
    let mut sharing = false;
    let mut stats = None;
    let end = tokio::time::Instant::now() + Duration::from_secs(90);
    let mut tick = tokio::time::interval(Duration::from_millis(66));
    let mut n = 0u32;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(end) => break,
            _ = tick.tick() => {
                if stats.is_none() && done.wanted.load(Ordering::Relaxed) {
                    stats = m.stats();
                    done.taken.fetch_add(1, Ordering::Relaxed);
                }
                if stats.is_some() && done.taken.load(Ordering::Relaxed) >= MEMBERS {
                    break;
                }
                if !sharing && screen.load(Ordering::Relaxed) {
                    m.start_screen();
                    sharing = true;
                }
                let t = u64::from(n) * 66_000;
                if let Ok(Some(f)) = cam_enc.encode(&camera.next_frame(t), t, m.take_keyframe_request()) {
                    let p = PacketizedFrame::vp8(&mut cam_pk, f.data.into(), n * 6000, 1100).unwrap();
                    m.send_frame(Arc::new(p));
                }
                if sharing && n % 2 == 0 {
                    let key = m.screen_keyframe_wanted();
                    if let Ok(Some(f)) = scr_enc.encode(&desktop.next_frame(t), t, key) {
                        let p = PacketizedFrame::vp8(&mut scr_pk, f.data.into(), n * 6000, 1100).unwrap();
                        m.send_screen_frame(Arc::new(p));
                    }
                }
                n += 1;
            }
            e = events.recv() => match e {
                Some(MeshEvent::Joined { peers, .. }) => {
                    for p in peers { names.insert(p.id, p.name); }
                }
                Some(MeshEvent::MemberJoined(p)) => { names.insert(p.id, p.name); }
                // Once done, the other member leaving is no loss.
                Some(MeshEvent::MemberRemoved { id, reason }) if stats.is_none() => {
                    removed.push(format!("{id}: {reason}"));
                }
                Some(MeshEvent::Frame { from, frame }) if frame.kind == MediaKind::Video => {
                    let sender = names.get(&from).cloned().unwrap_or(from);
                    let key = (sender, frame.mid.clone());
                    let dec = decoders.entry(key.clone()).or_insert_with(|| Vp8Decoder::new().unwrap());
                    if let Ok(Some(_)) = dec.decode(&frame.data) {
                        *decoded.entry(key).or_insert(0u64) += 1;
                    }
                }
                Some(_) => {}
                None => break,
            },
        }
    }
    m.leave();
    Outcome {
        name,
        decoded,
        removed,
        stats,
    }
}

/// A canvas's video track on the page, repainted 30 times a second: the
/// "screen" the page shares (headless browsers have no getDisplayMedia).
const CANVAS_TRACK: &str = "(() => { const c = document.createElement('canvas'); c.width = 640; c.height = 360; \
    document.body.append(c); \
    const g = c.getContext('2d'); let n = 0; \
    setInterval(() => { n++; g.fillStyle = 'hsl(' + (n * 7 % 360) + ',70%,50%)'; g.fillRect(0, 0, 640, 360); \
      g.fillStyle = '#fff'; g.fillRect((n * 8) % 600, 150, 40, 40); }, 33); \
    window.canvasTrack = c.captureStream(30).getVideoTracks()[0]; return true; })()";

/// Holds the page's outgoing signaling messages (`releaseSignaling()`
/// sends them, in order), then shares the canvas and waits until the
/// page's offers to both members are made.
const HOLD_AND_SHARE: &str = "(async () => { const s = call.signaling, send = s.send, held = []; \
    s.send = m => held.push(m); \
    window.releaseSignaling = () => { s.send = send; held.forEach(send); return held.length; }; \
    await shareScreen(canvasTrack); \
    const end = performance.now() + 5000; \
    while (held.filter(m => m.type === 'offer').length < 2 && performance.now() < end) await sleep(2); \
    return held.length; })()";

fn page_stats(page: &mut dyn JsPage) -> Value {
    page.eval("negotiationStats().then(s => JSON.stringify(s))")
        .ok()
        .and_then(|v| v.as_str().and_then(|s| serde_json::from_str(s).ok()))
        .unwrap_or(Value::Null)
}

/// Waits until `done` holds for the page's negotiation figures, or
/// `limit` passes; the last figures.
fn wait_page(page: &mut dyn JsPage, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let v = page_stats(page);
        if done(&v) || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Frames decoded on each of a peer's video m-lines, by the page.
fn page_video(v: &Value, name: &str) -> Vec<u64> {
    let peers = v["peers"].as_object().cloned().unwrap_or_default();
    peers
        .values()
        .find(|p| p["name"] == name)
        .and_then(|p| p["video"].as_object().cloned())
        .map(|m| m.values().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

fn glare_with(page: &mut dyn JsPage) {
    let rt = runtime();
    let server = rt
        .block_on(bind("127.0.0.1:0", ServerConfig::default()))
        .unwrap();
    let ws = server.ws_url();
    let screen = Arc::new(AtomicBool::new(false));
    let done = Arc::new(Finish::default());
    // alice first (p1), then the page (p2), then bob (p3).
    let alice = rt.spawn(member(
        member_config(&ws, None, "room", "alice"),
        screen.clone(),
        done.clone(),
    ));
    std::thread::sleep(Duration::from_millis(300));
    let url = format!(
        "http://{}/room?room=room&name=browser&join=1",
        server.local_addr()
    );
    page.navigate(&url).unwrap();
    let joined = Instant::now();
    let v = wait_page(page, Duration::from_secs(15), |v| {
        page_video(v, "alice").iter().any(|&f| f >= 5)
    });
    eprintln!(
        "the page decodes alice {:?} after navigating: {v}",
        joined.elapsed()
    );
    assert_eq!(v["me"], "p2", "{v}");
    assert!(page_video(&v, "alice").iter().any(|&f| f >= 5), "{v}");
    let bob = rt.spawn(member(
        member_config(&ws, None, "room", "bob"),
        screen.clone(),
        done.clone(),
    ));
    let v = wait_page(page, Duration::from_secs(15), |v| {
        page_video(v, "bob").iter().any(|&f| f >= 5)
    });
    assert_eq!(v["peers"].as_object().map(|p| p.len()), Some(2), "{v}");
    assert!(page_video(&v, "bob").iter().any(|&f| f >= 5), "{v}");
    // Glare, made certain: the page's outgoing signaling is held while it
    // adds its screen and makes its offers; the members then start their
    // screens and offer; once the page has seen both crossing offers, its
    // own (and what followed) go out, to members whose offers are still
    // outstanding.
    page.eval(CANVAS_TRACK).unwrap();
    page.eval(HOLD_AND_SHARE).unwrap();
    screen.store(true, Ordering::Relaxed);
    let crossed = wait_page(page, Duration::from_secs(5), |v| {
        let peers = v["peers"].as_object().cloned().unwrap_or_default();
        peers.values().all(|p| {
            p["glareIgnored"].as_u64().unwrap_or(0) + p["glareRolledBack"].as_u64().unwrap_or(0)
                >= 1
        })
    });
    page.eval("releaseSignaling()").unwrap();
    eprintln!("crossing offers seen by the page: {crossed}");
    let started = Instant::now();
    let v = wait_page(page, Duration::from_secs(12), |v| {
        ["alice", "bob"].iter().all(|n| {
            let video = page_video(v, n);
            video.len() == 2 && video.iter().all(|&f| f >= 10)
        })
    });
    let settled = started.elapsed();
    // Three seconds more for the members to count ten frames of each
    // screen on a busy machine, then their figures while everyone is
    // still in the room.
    std::thread::sleep(Duration::from_secs(3));
    done.wanted.store(true, Ordering::Relaxed);
    let (alice, bob) = rt.block_on(async { (alice.await.unwrap(), bob.await.unwrap()) });
    eprintln!(
        "{}: screens decoded by the page after {settled:?}: {v}\nalice {alice:?}\nbob {bob:?}",
        page.version()
    );
    let peer = |name: &str| -> Value {
        v["peers"]
            .as_object()
            .unwrap()
            .values()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    // The page decodes both members' camera and screen, no one dropped.
    for name in ["alice", "bob"] {
        let p = peer(name);
        assert_eq!(p["state"], "connected", "{name}: {p}");
        assert_eq!(p["signaling"], "stable", "{name}: {p}");
        assert_eq!(p["errors"], 0, "{name}: {p}");
        let video = page_video(&v, name);
        assert_eq!(video.len(), 2, "{name}: {p}");
        assert!(video.iter().all(|&f| f >= 10), "{name}: {p}");
        assert_eq!(p["screenTiles"], 1, "{name}: {p}");
    }
    // Glare on both pairs, settled by the roles: towards alice (p1) the
    // page is polite (it rolled back, alice ignored); towards bob (p3) it
    // is impolite (it ignored, bob rolled back).
    let (a, b) = (peer("alice"), peer("bob"));
    assert_eq!(
        (a["polite"].as_bool(), b["polite"].as_bool()),
        (Some(true), Some(false))
    );
    let a_stats = alice.stats.as_ref().unwrap();
    let b_stats = bob.stats.as_ref().unwrap();
    assert!(a["glareRolledBack"].as_u64() >= Some(1), "{a}");
    assert!(a_stats.glare_ignored >= 1, "{a_stats:?}");
    assert!(b["glareIgnored"].as_u64() >= Some(1), "{b}");
    assert!(b_stats.glare_rollbacks >= 1, "{b_stats:?}");
    // Each member decodes the page's camera and screen and the other
    // member's camera and screen; no one was removed.
    for (o, other) in [(&alice, "bob"), (&bob, "alice")] {
        assert!(o.removed.is_empty(), "{}: {:?}", o.name, o.removed);
        for from in ["browser", other] {
            let mids: Vec<u64> = o
                .decoded
                .iter()
                .filter(|((n, _), _)| n == from)
                .map(|(_, &f)| f)
                .collect();
            assert_eq!(mids.len(), 2, "{} from {from}: {:?}", o.name, o.decoded);
            assert!(
                mids.iter().all(|&f| f >= 10),
                "{} from {from}: {:?}",
                o.name,
                o.decoded
            );
        }
        let st = o.stats.as_ref().unwrap();
        assert_eq!(st.members.len(), 2, "{}", o.name);
    }
    rt.block_on(async { server.shutdown().await.unwrap() });
}

#[test]
fn chromium_room_page_and_meshrtc_members_resolve_crossing_screen_offers() {
    if !run_in_private_netns(
        "room_glare::chromium_room_page_and_meshrtc_members_resolve_crossing_screen_offers",
    ) {
        return;
    }
    glare_with(&mut Browser::launch().unwrap());
}

#[test]
fn firefox_room_page_and_meshrtc_members_resolve_crossing_screen_offers() {
    if !run_in_private_netns(
        "room_glare::firefox_room_page_and_meshrtc_members_resolve_crossing_screen_offers",
    ) {
        return;
    }
    glare_with(&mut Firefox::launch().unwrap());
}

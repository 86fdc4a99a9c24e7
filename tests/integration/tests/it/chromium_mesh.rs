//! A browser in a mesh room: headless Chromium opens the signaling server's
//! room page (`docs/room.html`, served at `/room`) and joins two meshrtc
//! members already in the room, inside a private network namespace. The
//! browser is the newcomer, so it offers to both; each member decodes the
//! browser's 640x480 VP8, and the browser decodes both members' video.

use std::sync::Arc;
use std::time::{Duration, Instant};

use meshrtc_integration::browser::{run_in_private_netns, Browser};
use meshrtc_media::source::TestPattern;
use meshrtc_media::vp8::{Vp8Decoder, Vp8Encoder, Vp8EncoderConfig};
use meshrtc_mesh::driver::{join, MemberConfig};
use meshrtc_mesh::signaling::{bind, ServerConfig};
use meshrtc_mesh::MeshEvent;
use meshrtc_peer::PacketizedFrame;
use meshrtc_rtp::vp8::Vp8Packetizer;
use meshrtc_sdp::negotiate::MediaKind;
use serde_json::Value;

/// One meshrtc member: sends the test pattern, counts the browser's
/// frames it decodes.
async fn member(ws: String, name: &'static str, seconds: u64) -> (String, u64, (u32, u32)) {
    let mut cfg = MemberConfig::new(&ws, "room", name).unwrap();
    cfg.bind = vec!["127.0.0.1".parse().unwrap()];
    let (m, mut events) = join(cfg).await.unwrap();
    let mut pattern = TestPattern::new(320, 240, 15);
    let mut enc = Vp8Encoder::new(Vp8EncoderConfig::new(320, 240, 15, 300_000)).unwrap();
    let mut pk = Vp8Packetizer::new(7);
    let mut dec = Vp8Decoder::new().unwrap();
    let mut browser_frames = 0u64;
    let mut size = (0, 0);
    let mut names = std::collections::BTreeMap::new();
    let end = tokio::time::Instant::now() + Duration::from_secs(seconds);
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
                Some(MeshEvent::Joined { peers, .. }) => {
                    for p in peers { names.insert(p.id, p.name); }
                }
                Some(MeshEvent::MemberJoined(p)) => { names.insert(p.id, p.name); }
                Some(MeshEvent::Frame { from, frame }) if frame.kind == MediaKind::Video
                    && names.get(&from).is_some_and(|n| n == "chromium") =>
                {
                    if let Ok(Some(img)) = dec.decode(&frame.data) {
                        browser_frames += 1;
                        size = (img.width, img.height);
                    }
                }
                Some(_) => {}
                None => break,
            },
        }
    }
    m.leave();
    (name.to_string(), browser_frames, size)
}

#[test]
fn a_browser_joins_a_room_of_two_meshrtc_members_and_everyone_decodes_everyone() {
    if !run_in_private_netns(
        "chromium_mesh::a_browser_joins_a_room_of_two_meshrtc_members_and_everyone_decodes_everyone",
    ) {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt
        .block_on(bind("127.0.0.1:0", ServerConfig::default()))
        .unwrap();
    let ws = server.ws_url();
    let a = rt.spawn(member(ws.clone(), "alice", 14));
    let b = rt.spawn(member(ws, "bob", 14));
    std::thread::sleep(Duration::from_millis(500));
    let mut browser = Browser::launch().unwrap();
    let url = format!(
        "http://{}/room?room=room&name=chromium&join=1",
        server.local_addr()
    );
    browser.navigate(&url).unwrap();
    let deadline = Instant::now() + Duration::from_secs(12);
    let stats = loop {
        std::thread::sleep(Duration::from_millis(500));
        let v: Value = browser.eval("roomStats()").unwrap();
        let peers = v["peers"].as_object().cloned().unwrap_or_default();
        let done = peers.len() == 2
            && peers
                .values()
                .all(|p| p["framesDecoded"].as_u64().unwrap_or(0) >= 20);
        if done || Instant::now() > deadline {
            break v;
        }
    };
    let results = rt.block_on(async { (a.await.unwrap(), b.await.unwrap()) });
    eprintln!(
        "{} in a mesh room: browser {stats} | members {results:?}",
        browser.version
    );
    let peers = stats["peers"].as_object().unwrap();
    assert_eq!(peers.len(), 2, "{stats}");
    for p in peers.values() {
        assert!(
            p["framesDecoded"].as_u64().unwrap() >= 20,
            "the browser decoded a member: {p}"
        );
        assert_eq!(p["frameWidth"].as_u64(), Some(320), "{p}");
        assert!(p["audioPackets"].as_u64().is_some());
    }
    for (name, frames, size) in [results.0, results.1] {
        assert!(frames >= 20, "{name} decoded {frames} browser frames");
        assert_eq!(size, (640, 480), "{name}");
    }
    rt.block_on(async { server.shutdown().await.unwrap() });
}

//! A browser in a mesh room: headless Chromium opens the signaling server's
//! room page (`docs/room.html`, served at `/room`) and joins two meshrtc
//! members already in the room, inside a private network namespace. The
//! browser is the newcomer, so it offers to both; each member decodes the
//! browser's 640x480 VP8, and the browser decodes both members' video.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshrtc_integration::browser::{run_in_private_netns, Browser};
use meshrtc_media::opus::OpusDecoder;
use meshrtc_media::source::TestPattern;
use meshrtc_media::vp8::{Vp8Decoder, Vp8Encoder, Vp8EncoderConfig};
use meshrtc_mesh::driver::{join, MemberConfig};
use meshrtc_mesh::signaling::{bind, ServerConfig, ServerTrust};
use meshrtc_mesh::MeshEvent;
use meshrtc_peer::PacketizedFrame;
use meshrtc_rtp::vp8::Vp8Packetizer;
use meshrtc_sdp::negotiate::MediaKind;
use serde_json::Value;

/// What one meshrtc member decoded from one other member.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Seen {
    /// Video frames decoded.
    pub frames: u64,
    /// The last frame's size.
    pub size: (u32, u32),
    /// When the last frame whose mean luma is over 40 (not black) came.
    pub last_bright: Option<tokio::time::Instant>,
    /// When the last decoded frame came.
    pub last_frame: Option<tokio::time::Instant>,
    /// Audio packets decoded.
    pub audio: u64,
    /// When the last audio packet with an RMS over 300 (not silence) came.
    pub last_loud: Option<tokio::time::Instant>,
}

/// What one member decoded, by the sender's display name.
pub(crate) type Decoded = BTreeMap<String, Seen>;

/// A member of `room` on loopback, reaching the server at `ws`.
pub(crate) fn member_config(
    ws: &str,
    trust: Option<ServerTrust>,
    room: &str,
    name: &str,
) -> MemberConfig {
    let mut cfg = MemberConfig::new(ws, room, name).unwrap();
    cfg.bind = vec!["127.0.0.1".parse().unwrap()];
    cfg.server_trust = trust;
    cfg
}

/// A stop for [`member_until`]: the future completes when the sender
/// fires or is dropped, or after 90 s, which only ends a test that hangs.
pub(crate) fn stop_signal() -> (
    tokio::sync::oneshot::Sender<()>,
    impl std::future::Future<Output = ()>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let until = async move {
        tokio::select! {
            _ = stopped => {}
            () = tokio::time::sleep(Duration::from_secs(90)) => {}
        }
    };
    (stop, until)
}

/// One meshrtc member until `until` completes: sends the test pattern
/// (320x240), decodes every other member's video and audio. It stays in
/// the room until the test has checked what it needs, not for a fixed
/// time, so a browser slow to start on a busy machine still finds it.
pub(crate) async fn member_until(
    cfg: MemberConfig,
    until: impl std::future::Future<Output = ()>,
) -> (String, Decoded) {
    let name = cfg.name.clone();
    let (m, mut events) = join(cfg).await.unwrap();
    let mut opus: BTreeMap<String, OpusDecoder> = BTreeMap::new();
    let mut pattern = TestPattern::new(320, 240, 15);
    let mut enc = Vp8Encoder::new(Vp8EncoderConfig::new(320, 240, 15, 300_000)).unwrap();
    let mut pk = Vp8Packetizer::new(7);
    let mut decoders: BTreeMap<String, Vp8Decoder> = BTreeMap::new();
    let mut decoded = Decoded::new();
    let mut names = BTreeMap::new();
    tokio::pin!(until);
    let mut tick = tokio::time::interval(Duration::from_millis(66));
    let mut n = 0u32;
    loop {
        tokio::select! {
            () = &mut until => break,
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
                Some(MeshEvent::Frame { from, frame }) if frame.kind == MediaKind::Video => {
                    let dec = decoders
                        .entry(from.clone())
                        .or_insert_with(|| Vp8Decoder::new().unwrap());
                    if let Ok(Some(img)) = dec.decode(&frame.data) {
                        let sender = names.get(&from).cloned().unwrap_or(from);
                        let seen = decoded.entry(sender).or_default();
                        let now = tokio::time::Instant::now();
                        seen.frames += 1;
                        seen.size = (img.width, img.height);
                        seen.last_frame = Some(now);
                        let luma = img.y.iter().map(|&v| u64::from(v)).sum::<u64>()
                            / img.y.len().max(1) as u64;
                        if luma > 40 {
                            seen.last_bright = Some(now);
                        }
                    }
                }
                Some(MeshEvent::Frame { from, frame }) if frame.kind == MediaKind::Audio => {
                    let dec = opus
                        .entry(from.clone())
                        .or_insert_with(|| OpusDecoder::new(48_000, 1).unwrap());
                    if let Ok(pcm) = dec.decode(Some(&frame.data)) {
                        let sender = names.get(&from).cloned().unwrap_or(from);
                        let seen = decoded.entry(sender).or_default();
                        seen.audio += 1;
                        let energy = pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>();
                        if (energy / pcm.len().max(1) as f64).sqrt() > 300.0 {
                            seen.last_loud = Some(tokio::time::Instant::now());
                        }
                    }
                }
                Some(_) => {}
                None => break,
            },
        }
    }
    m.leave();
    (name, decoded)
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
    // The members stay until 3 s after the browser decoded them, however
    // long the browser took to start on a busy machine.
    let (stop_a, a_stops) = stop_signal();
    let (stop_b, b_stops) = stop_signal();
    let a = rt.spawn(member_until(
        member_config(&ws, None, "room", "alice"),
        a_stops,
    ));
    let b = rt.spawn(member_until(
        member_config(&ws, None, "room", "bob"),
        b_stops,
    ));
    std::thread::sleep(Duration::from_millis(500));
    let mut browser = Browser::launch().unwrap();
    let url = format!(
        "http://{}/room?room=room&name=chromium&join=1",
        server.local_addr()
    );
    browser.navigate(&url).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
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
    std::thread::sleep(Duration::from_secs(3));
    let _ = (stop_a.send(()), stop_b.send(()));
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
    for (name, decoded) in [results.0, results.1] {
        let seen = decoded.get("chromium").copied().unwrap_or_default();
        assert!(seen.frames >= 20, "{name} decoded {seen:?} of the browser");
        // 640x480, or a 4:3 size Chromium adapted down to on a busy
        // machine.
        let (w, h) = seen.size;
        assert!(w >= 320 && w * 3 == h * 4, "{name}: {seen:?}");
    }
    rt.block_on(async { server.shutdown().await.unwrap() });
}

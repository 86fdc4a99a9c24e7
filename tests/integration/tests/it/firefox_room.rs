//! Firefox in a mesh room: headless Firefox ESR and headless Chromium open
//! the signaling server's room page (`docs/room.html`, served at `/room`)
//! over HTTPS and join two meshrtc members (over `wss://`), inside a
//! private network namespace. The server has a self-signed test
//! certificate; Chromium trusts it by its SPKI hash, Firefox by the
//! certificate put in its profile as a trusted peer (`certutil`), neither by
//! turning checks off.
//! Everyone decodes everyone: each browser's `getStats()` shows frames
//! decoded from the three others (and the other browser's sound), each
//! member decodes both browsers' VP8 and Opus. The browsers are started before the members so the members'
//! fixed lifetime is spent in the call, not waiting for a browser.

use std::time::{Duration, Instant};

use meshrtc_integration::browser::{run_in_private_netns, Browser};
use meshrtc_integration::firefox::Firefox;
use meshrtc_integration::page::JsPage;
use meshrtc_mesh::signaling::ServerConfig;
use serde_json::Value;

use crate::chromium_mesh::{member_config, member_until, stop_signal};
use crate::chromium_room::{runtime, tls_server_and_pem};

/// The peers the page sees, once each has at least `frames` decoded
/// frames, or the last value after `limit`.
fn poll_stats(page: &mut dyn JsPage, limit: Duration, members: usize, frames: u64) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let v: Value = page.eval("roomStats()").unwrap();
        let peers = v["peers"].as_object().cloned().unwrap_or_default();
        let done = peers.len() == members
            && peers
                .values()
                .all(|p| p["framesDecoded"].as_u64().unwrap_or(0) >= frames);
        if done || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn firefox_chromium_and_two_meshrtc_members_in_one_room_over_https_all_decode_each_other() {
    if !run_in_private_netns(
        "firefox_room::firefox_chromium_and_two_meshrtc_members_in_one_room_over_https_all_decode_each_other",
    ) {
        return;
    }
    let rt = runtime();
    let (server, trust, flag, pem) = tls_server_and_pem(&rt, ServerConfig::default());
    let mut firefox = Firefox::launch_trusting(Some(&pem)).unwrap();
    let mut chromium = Browser::launch_with(&[flag]).unwrap();
    let ws = server.ws_url();
    assert!(ws.starts_with("wss://"), "{ws}");
    // The members stay until 2 s after the pages decoded everyone, however
    // long the browsers took on a busy machine.
    let (stop_a, a_stops) = stop_signal();
    let (stop_b, b_stops) = stop_signal();
    let a = rt.spawn(member_until(
        member_config(&ws, Some(trust.clone()), "room", "alice"),
        a_stops,
    ));
    let b = rt.spawn(member_until(
        member_config(&ws, Some(trust), "room", "bob"),
        b_stops,
    ));
    std::thread::sleep(Duration::from_millis(300));
    let base = server.http_url();
    assert!(base.starts_with("https://"), "{base}");
    let url = |name: &str| format!("{base}/room/room?name={name}&join=1");
    firefox.navigate(&url("firefox")).unwrap();
    chromium.navigate(&url("chromium")).unwrap();
    // A secure context in both: the camera is there.
    assert_eq!(firefox.eval("window.isSecureContext").unwrap(), true);
    let ff = poll_stats(&mut firefox, Duration::from_secs(13), 3, 20);
    let cr = poll_stats(&mut chromium, Duration::from_secs(4), 3, 20);
    std::thread::sleep(Duration::from_secs(2));
    let _ = (stop_a.send(()), stop_b.send(()));
    let results = rt.block_on(async { (a.await.unwrap(), b.await.unwrap()) });
    eprintln!(
        "{} and {} in a mesh room: firefox {ff} | chromium {cr} | members {results:?}",
        firefox.version, chromium.version
    );
    for (page, stats, others) in [
        ("firefox", &ff, ["alice", "bob", "chromium"]),
        ("chromium", &cr, ["alice", "bob", "firefox"]),
    ] {
        let peers = stats["peers"].as_object().unwrap();
        let mut names: Vec<&str> = peers.values().filter_map(|p| p["name"].as_str()).collect();
        names.sort();
        assert_eq!(names, others, "{page}: {stats}");
        for p in peers.values() {
            assert!(
                p["framesDecoded"].as_u64().unwrap_or(0) >= 20,
                "{page} decoded {p}"
            );
            // Members send 320x240; the browsers 640x480 or less, 4:3.
            let (w, h) = (
                p["frameWidth"].as_u64().unwrap_or(0),
                p["frameHeight"].as_u64().unwrap_or(0),
            );
            assert!(w >= 160 && w * 3 == h * 4, "{page}: {p}");
            if p["name"] == "alice" || p["name"] == "bob" {
                // meshrtc speaks DTLS 1.3 with the browsers, as they do
                // between themselves.
                assert_eq!(p["dtls"], "FEFC connected", "{page}: {p}");
            } else {
                // Only the browsers send sound (the members send video).
                assert!(p["audioPackets"].as_u64().unwrap_or(0) > 0, "{page}: {p}");
            }
        }
    }
    for (name, decoded) in [results.0, results.1] {
        for browser in ["firefox", "chromium"] {
            let seen = decoded.get(browser).copied().unwrap_or_default();
            assert!(seen.frames >= 20, "{name} decoded {seen:?} of {browser}");
            let (w, h) = seen.size;
            assert!(
                w >= 160 && w * 3 == h * 4,
                "{name} from {browser}: {seen:?}"
            );
            assert!(seen.audio >= 50, "{name} decoded {seen:?} of {browser}");
        }
    }
    rt.block_on(async { server.shutdown().await.unwrap() });
}

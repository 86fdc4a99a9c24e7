//! The room app over HTTPS, as phones and laptops use it: the signaling
//! server runs with TLS (a self-signed certificate made for the test),
//! headless Chromium trusts exactly that certificate
//! (`--ignore-certificate-errors-spki-list` with its SPKI hash, not by
//! turning checks off) and opens `https://.../room/NAME`; meshrtc members
//! join over `wss://`, pinning the certificate's fingerprint. Everything
//! runs inside a private network namespace.

use std::time::{Duration, Instant};

use meshrtc_integration::browser::{run_in_private_netns, Browser};
use meshrtc_mesh::signaling::{bind, ServerConfig, ServerHandle, ServerTls, ServerTrust};
use serde_json::Value;

use crate::chromium_mesh::member;

/// A TLS server on loopback and the Chromium flag that trusts its
/// certificate.
fn tls_server(rt: &tokio::runtime::Runtime, config: ServerConfig) -> (ServerHandle, ServerTrust, String) {
    let tls = ServerTls::self_signed(&["127.0.0.1".into(), "localhost".into()]).unwrap();
    let trust = ServerTrust::Fingerprint(tls.fingerprint);
    let flag = format!(
        "--ignore-certificate-errors-spki-list={}",
        tls.spki_sha256_base64().unwrap()
    );
    let config = ServerConfig {
        tls: Some(tls),
        ..config
    };
    let server = rt.block_on(bind("127.0.0.1:0", config)).unwrap();
    (server, trust, flag)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Polls `roomStats()` until `done` holds or `limit` passes; the last value.
fn poll_stats(browser: &mut Browser, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let v: Value = browser.eval("roomStats()").unwrap();
        if done(&v) || Instant::now() > deadline {
            return v;
        }
    }
}

fn decodes_all(v: &Value, members: usize, frames: u64) -> bool {
    let peers = v["peers"].as_object().cloned().unwrap_or_default();
    peers.len() == members
        && peers
            .values()
            .all(|p| p["framesDecoded"].as_u64().unwrap_or(0) >= frames)
}

/// Two browser pages, one on the WebSocket and one on the HTTPS event
/// stream (`?transport=sse`, as an iPhone falls back to), and two meshrtc
/// members in one room: every browser decodes the three others, every
/// member decodes both browsers.
#[test]
fn browsers_over_wss_and_over_the_event_stream_and_meshrtc_members_all_decode_each_other() {
    if !run_in_private_netns(
        "chromium_room::browsers_over_wss_and_over_the_event_stream_and_meshrtc_members_all_decode_each_other",
    ) {
        return;
    }
    let rt = runtime();
    let (server, trust, flag) = tls_server(&rt, ServerConfig::default());
    let ws = server.ws_url();
    assert!(ws.starts_with("wss://"), "{ws}");
    let a = rt.spawn(member(ws.clone(), Some(trust.clone()), "room", "alice", 22));
    let b = rt.spawn(member(ws, Some(trust), "room", "bob", 22));
    std::thread::sleep(Duration::from_millis(500));
    let base = server.http_url();
    let mut over_ws = Browser::launch_with(std::slice::from_ref(&flag)).unwrap();
    over_ws
        .navigate(&format!("{base}/room/room?name=chromium-ws&join=1"))
        .unwrap();
    let mut over_sse = Browser::launch_with(&[flag]).unwrap();
    over_sse
        .navigate(&format!("{base}/room/room?name=chromium-sse&join=1&transport=sse"))
        .unwrap();
    // A secure context: the camera is there.
    assert_eq!(over_ws.eval("window.isSecureContext").unwrap(), true);
    let sse_stats = poll_stats(&mut over_sse, Duration::from_secs(18), |v| decodes_all(v, 3, 20));
    let ws_stats = poll_stats(&mut over_ws, Duration::from_secs(4), |v| decodes_all(v, 3, 20));
    let results = rt.block_on(async { (a.await.unwrap(), b.await.unwrap()) });
    eprintln!(
        "{} over TLS: ws page {ws_stats} | sse page {sse_stats} | members {results:?} | server {:?}",
        over_ws.version,
        server.stats()
    );
    assert_eq!(ws_stats["transport"], "WebSocket", "{ws_stats}");
    assert_eq!(sse_stats["transport"], "HTTPS events", "{sse_stats}");
    for (page, stats) in [("ws", &ws_stats), ("sse", &sse_stats)] {
        let peers = stats["peers"].as_object().unwrap();
        assert_eq!(peers.len(), 3, "{page}: {stats}");
        for p in peers.values() {
            assert!(
                p["framesDecoded"].as_u64().unwrap() >= 20,
                "the {page} page decoded a member: {p}"
            );
            let width = p["frameWidth"].as_u64().unwrap();
            assert!(width == 320 || width == 640, "{page}: {p}");
        }
        assert_eq!(stats["tiles"], 4, "three members and the page's own tile: {stats}");
    }
    for (name, decoded) in [results.0, results.1] {
        for browser in ["chromium-ws", "chromium-sse"] {
            let (frames, size) = decoded.get(browser).copied().unwrap_or_default();
            assert!(frames >= 20, "{name} decoded {frames} frames of {browser}");
            assert_eq!(size, (640, 480), "{name} from {browser}");
        }
    }
    let stats = server.stats();
    assert_eq!(stats.sse_sessions, 1);
    assert_eq!(stats.tls_failures, 0, "every TLS client trusted the certificate");
    rt.block_on(async { server.shutdown().await.unwrap() });
}

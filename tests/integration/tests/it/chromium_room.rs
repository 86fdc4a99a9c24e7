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

use crate::chromium_mesh::{member_config, member_until, stop_signal};

/// A TLS server on loopback and the Chromium flag that trusts its
/// certificate.
fn tls_server(
    rt: &tokio::runtime::Runtime,
    config: ServerConfig,
) -> (ServerHandle, ServerTrust, String) {
    let (server, trust, flag, _) = tls_server_and_pem(rt, config);
    (server, trust, flag)
}

/// [`tls_server`], and its certificate in PEM (for Firefox's profile).
pub(crate) fn tls_server_and_pem(
    rt: &tokio::runtime::Runtime,
    config: ServerConfig,
) -> (ServerHandle, ServerTrust, String, String) {
    let tls = ServerTls::self_signed(&["127.0.0.1".into(), "localhost".into()]).unwrap();
    let pem = tls.certificate_pem();
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
    (server, trust, flag, pem)
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
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
    std::thread::sleep(Duration::from_millis(500));
    let base = server.http_url();
    let mut over_ws = Browser::launch_with(std::slice::from_ref(&flag)).unwrap();
    over_ws
        .navigate(&format!("{base}/room/room?name=chromium-ws&join=1"))
        .unwrap();
    let mut over_sse = Browser::launch_with(&[flag]).unwrap();
    over_sse
        .navigate(&format!(
            "{base}/room/room?name=chromium-sse&join=1&transport=sse"
        ))
        .unwrap();
    // A secure context: the camera is there.
    assert_eq!(over_ws.eval("window.isSecureContext").unwrap(), true);
    let sse_stats = poll_stats(&mut over_sse, Duration::from_secs(18), |v| {
        decodes_all(v, 3, 20)
    });
    let ws_stats = poll_stats(&mut over_ws, Duration::from_secs(4), |v| {
        decodes_all(v, 3, 20)
    });
    // The members decode the pages for 2 s more, then leave.
    std::thread::sleep(Duration::from_secs(2));
    let _ = (stop_a.send(()), stop_b.send(()));
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
            // Members send 320x240; a browser sends 640x480, or less when
            // Chromium adapts to this busy machine's CPU.
            let width = p["frameWidth"].as_u64().unwrap();
            assert!((320..=640).contains(&width), "{page}: {p}");
        }
        assert_eq!(
            stats["tiles"], 4,
            "three members and the page's own tile: {stats}"
        );
    }
    for (name, decoded) in [results.0, results.1] {
        for browser in ["chromium-ws", "chromium-sse"] {
            let seen = decoded.get(browser).copied().unwrap_or_default();
            assert!(seen.frames >= 20, "{name} decoded {seen:?} of {browser}");
            // 640x480, or a 4:3 size Chromium adapted down to.
            let (w, h) = seen.size;
            assert!(
                w >= 320 && w * 3 == h * 4,
                "{name} from {browser}: {seen:?}"
            );
            assert!(seen.audio >= 50, "{name} decoded {seen:?} of {browser}");
        }
    }
    // (`tls_failures` is not checked: Chromium sometimes opens a spare
    // connection and closes it mid-handshake, which counts there too.)
    assert_eq!(server.stats().sse_sessions, 1);
    rt.block_on(async { server.shutdown().await.unwrap() });
}

/// Where the screenshots go: `MESHRTC_SCREENSHOTS` if set (the README's
/// come from there), else the temporary directory.
fn screenshot_dir() -> std::path::PathBuf {
    std::env::var_os("MESHRTC_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("meshrtc-room-screenshots"))
}

fn lobby_message(browser: &mut Browser) -> String {
    let v = browser
        .eval("document.getElementById('lobby-message').textContent")
        .unwrap();
    v.as_str().unwrap_or_default().to_owned()
}

fn wait_for(browser: &mut Browser, js: &str, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let v = browser.eval(js).unwrap();
        if v.as_bool() != Some(false) && !v.is_null() || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The room app by its DOM state, next to a meshrtc member: a wrong
/// password and a full room get their messages; joined, the grid holds two
/// tiles (screenshots at a phone's and a desktop's viewport); mute and
/// camera off reach the member as silence and black frames while frames
/// still flow; leave takes the page out of the room.
#[test]
fn the_room_app_refuses_a_wrong_password_and_a_full_room_then_mutes_blacks_out_and_leaves() {
    if !run_in_private_netns(
        "chromium_room::the_room_app_refuses_a_wrong_password_and_a_full_room_then_mutes_blacks_out_and_leaves",
    ) {
        return;
    }
    let rt = runtime();
    let mut config = ServerConfig::default();
    config.rooms.max_members = 2;
    config.rooms.passwords.all = Some("s3cret".into());
    let (server, trust, flag) = tls_server(&rt, config);
    let mut cfg = member_config(&server.ws_url(), Some(trust), "ui", "alice");
    cfg.password = Some("s3cret".into());
    // Alice stays until the page has left and the server counted it; a
    // cap of 90 s only ends a test that hangs.
    let (stop_alice, alice_stops) = stop_signal();
    let alice = rt.spawn(member_until(cfg, alice_stops));
    std::thread::sleep(Duration::from_millis(500));
    let base = server.http_url();
    let mut page = Browser::launch_with(std::slice::from_ref(&flag)).unwrap();

    // A wrong password: back in the lobby with a message that says so.
    page.navigate(&format!("{base}/room/ui?name=chromium"))
        .unwrap();
    assert_eq!(
        page.eval("document.getElementById('room').value").unwrap(),
        "ui"
    );
    page.eval("document.getElementById('password').value = 'guess'; joinFromForm()")
        .unwrap();
    let msg = wait_for(
        &mut page,
        "document.getElementById('lobby-message').textContent.includes('Wrong password')",
        Duration::from_secs(5),
    );
    assert_eq!(msg, true, "{}", lobby_message(&mut page));
    assert_eq!(
        page.eval("document.body.classList.contains('in-call')")
            .unwrap(),
        false
    );

    // The right one: in the call, with alice's tile and our own.
    page.eval("document.getElementById('password').value = 's3cret'; joinFromForm()")
        .unwrap();
    let stats = poll_stats(&mut page, Duration::from_secs(20), |v| {
        decodes_all(v, 1, 20)
    });
    assert!(decodes_all(&stats, 1, 20), "{stats}");
    assert_eq!(stats["tiles"], 2, "{stats}");
    assert_eq!(
        page.eval("document.body.classList.contains('in-call')")
            .unwrap(),
        true
    );
    assert_eq!(page.eval("location.pathname").unwrap(), "/room/ui");
    let status = page
        .eval("document.getElementById('status').textContent")
        .unwrap();
    assert!(
        status.as_str().unwrap().contains("alice: connected"),
        "{status}"
    );

    // A third person: the room holds two.
    let mut late = Browser::launch_with(&[flag]).unwrap();
    late.navigate(&format!("{base}/room/ui?name=late")).unwrap();
    late.eval("document.getElementById('password').value = 's3cret'; joinFromForm()")
        .unwrap();
    let full = wait_for(
        &mut late,
        "document.getElementById('lobby-message').textContent.includes('full')",
        Duration::from_secs(10),
    );
    assert_eq!(full, true, "{}", lobby_message(&mut late));
    drop(late);

    // Screenshots at a phone's and a desktop's viewport; the grid's columns
    // follow the screen.
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let columns =
        "getComputedStyle(document.getElementById('grid')).gridTemplateColumns.split(' ').length";
    for (file, width, height, mobile, cols) in [
        ("room-phone.png", 390, 844, true, 1),
        ("room-desktop.png", 1280, 800, false, 2),
    ] {
        page.set_viewport(width, height, mobile).unwrap();
        std::thread::sleep(Duration::from_millis(700));
        assert_eq!(page.eval(columns).unwrap(), cols, "{file}");
        let png = page.screenshot().unwrap();
        assert_eq!(&png[1..4], b"PNG", "{file}");
        std::fs::write(dir.join(file), &png).unwrap();
    }

    // Mute and camera off, by the buttons.
    page.eval("document.getElementById('mute').click(); document.getElementById('camera').click()")
        .unwrap();
    let muted_at = tokio::time::Instant::now();
    let state = page
        .eval(
            "[document.getElementById('mute').textContent, document.getElementById('camera').textContent, \
              call.stream.getAudioTracks()[0].enabled, call.stream.getVideoTracks()[0].enabled]",
        )
        .unwrap();
    assert_eq!(
        state,
        serde_json::json!(["Unmute", "Camera on", false, false])
    );
    std::thread::sleep(Duration::from_secs(4));

    // Leave: the page is back in the lobby and the server's room has one
    // member left.
    page.eval("document.getElementById('leave').click()")
        .unwrap();
    let left = wait_for(
        &mut page,
        "!document.body.classList.contains('in-call') && document.getElementById('grid').children.length === 0",
        Duration::from_secs(6),
    );
    assert_eq!(left, true);
    assert!(lobby_message(&mut page).contains("You left"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.stats().rooms.members != 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(server.stats().rooms.members, 1, "alice alone");
    assert!(!alice.is_finished(), "alice was still in the room");
    stop_alice.send(()).unwrap();
    let (_, decoded) = rt.block_on(async { alice.await.unwrap() });
    eprintln!(
        "alice decoded {decoded:?}; screenshots in {}",
        dir.display()
    );
    let seen = decoded.get("chromium").copied().unwrap();
    let grace = Duration::from_secs(2);
    assert!(seen.frames >= 40, "{seen:?}");
    assert!(seen.audio >= 100, "{seen:?}");
    // Bright frames and loud audio before, none after the grace period,
    // while frames kept coming (black ones) until the page left.
    let (bright, loud, last) = (
        seen.last_bright.expect("bright frames before camera off"),
        seen.last_loud.expect("sound before mute"),
        seen.last_frame.unwrap(),
    );
    assert!(
        bright < muted_at + grace,
        "a bright frame {:?} after camera off",
        bright - muted_at
    );
    assert!(
        loud < muted_at + grace,
        "sound {:?} after mute",
        loud - muted_at
    );
    assert!(
        last > muted_at + Duration::from_secs(3),
        "black frames flowed after camera off"
    );
    rt.block_on(async { server.shutdown().await.unwrap() });
}

/// The page loses its signaling connection mid-call (its event stream ends
/// without a word, as a lost network does): it takes its place back with
/// the resume token, under the same id, and media never stops: the
/// meshrtc member keeps decoding it and never sees it leave.
#[test]
fn a_page_that_loses_signaling_resumes_its_place_while_media_flows() {
    if !run_in_private_netns(
        "chromium_room::a_page_that_loses_signaling_resumes_its_place_while_media_flows",
    ) {
        return;
    }
    let rt = runtime();
    let (server, trust, flag) = tls_server(&rt, ServerConfig::default());
    let (stop_alice, alice_stops) = stop_signal();
    let alice = rt.spawn(member_until(
        member_config(&server.ws_url(), Some(trust), "back", "alice"),
        alice_stops,
    ));
    std::thread::sleep(Duration::from_millis(500));
    let mut page = Browser::launch_with(&[flag]).unwrap();
    page.navigate(&format!(
        "{}/room/back?name=chromium&join=1&transport=sse",
        server.http_url()
    ))
    .unwrap();
    let before = poll_stats(&mut page, Duration::from_secs(10), |v| {
        decodes_all(v, 1, 20)
    });
    assert!(decodes_all(&before, 1, 20), "{before}");
    page.eval("dropSignaling()").unwrap();
    let dropped_at = tokio::time::Instant::now();
    let resumed = wait_for(
        &mut page,
        "document.getElementById('call-message').textContent.includes('Reconnected')",
        Duration::from_secs(6),
    );
    assert_eq!(
        resumed,
        true,
        "{}",
        page.eval("document.getElementById('call-message').textContent")
            .unwrap()
    );
    let after = page.eval("roomStats()").unwrap();
    assert_eq!(after["me"], before["me"], "the same id: {after}");
    assert_eq!(after["tiles"], 2, "{after}");
    let frames = |v: &Value| {
        v["peers"]
            .as_object()
            .and_then(|p| p.values().next())
            .and_then(|p| p["framesDecoded"].as_u64())
            .unwrap_or(0)
    };
    std::thread::sleep(Duration::from_secs(2));
    let later = page.eval("roomStats()").unwrap();
    assert!(
        frames(&later) > frames(&after),
        "still decoding: {after} then {later}"
    );
    let stats = server.stats();
    assert_eq!(
        (stats.rooms.resumed, stats.sse_sessions),
        (1, 2),
        "{stats:?}"
    );
    // Alice decodes the page for 3 s after the drop, however long the
    // steps above took on a busy machine.
    let until = dropped_at + Duration::from_secs(4);
    rt.block_on(async move { tokio::time::sleep_until(until).await });
    assert!(!alice.is_finished(), "alice was still in the room");
    stop_alice.send(()).unwrap();
    let (_, decoded) = rt.block_on(async { alice.await.unwrap() });
    let seen = decoded.get("chromium").copied().unwrap();
    assert!(
        seen.last_frame.unwrap() > dropped_at + Duration::from_secs(3),
        "alice kept decoding the page: {seen:?}"
    );
    rt.block_on(async { server.shutdown().await.unwrap() });
}

//! The room page's chat panel (issue 20), live: headless Chromium on the
//! room page and two `meshrtc join --chat` members (the same driver,
//! `MemberConfig::chat`) in one room over `wss://`, inside a private
//! network namespace. The page's line reaches both members over its data
//! channels, each member's line reaches the page (shown in its chat log
//! under the member's name) and the other member.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use meshrtc_integration::browser::{run_in_private_netns, Browser};
use meshrtc_mesh::driver::{join, MemberConfig};
use meshrtc_mesh::signaling::ServerConfig;
use meshrtc_mesh::MeshEvent;
use serde_json::Value;

use crate::chromium_mesh::member_config;
use crate::chromium_room::{runtime, tls_server_and_pem};

/// A chat member: says "hello from NAME" every second (its channels open
/// at different times) for `seconds`; returns the (name, line) pairs it
/// received.
async fn chat_member(mut cfg: MemberConfig, seconds: u64) -> BTreeSet<(String, String)> {
    cfg.chat = true;
    let line = format!("hello from {}", cfg.name);
    let (m, mut events) = join(cfg).await.unwrap();
    let mut got = BTreeSet::new();
    let end = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(end) => break,
            _ = tick.tick() => m.send_chat(line.clone()).await,
            e = events.recv() => match e {
                Some(MeshEvent::Chat { name, text, .. }) => { got.insert((name, text)); }
                Some(_) => {}
                None => break,
            },
        }
    }
    m.leave();
    got
}

#[test]
fn the_room_pages_chat_panel_talks_with_meshrtc_chat_members_both_ways() {
    if !run_in_private_netns(
        "room_chat::the_room_pages_chat_panel_talks_with_meshrtc_chat_members_both_ways",
    ) {
        return;
    }
    let started = Instant::now();
    let rt = runtime();
    let (server, trust, flag, _) = tls_server_and_pem(&rt, ServerConfig::default());
    let ws = server.ws_url();
    let secs = 14;
    let a = rt.spawn(chat_member(
        member_config(&ws, Some(trust.clone()), "talk", "alice"),
        secs,
    ));
    let b = rt.spawn(chat_member(
        member_config(&ws, Some(trust), "talk", "bob"),
        secs,
    ));
    std::thread::sleep(Duration::from_millis(500));
    let mut page = Browser::launch_with(&[flag]).unwrap();
    page.navigate(&format!(
        "{}/room/talk?name=chromium&join=1",
        server.http_url()
    ))
    .unwrap();
    // Type into the panel once both members' chat channels are open.
    let deadline = Instant::now() + Duration::from_secs(secs - 2);
    let mut sent_to = 0;
    while Instant::now() < deadline {
        let open = page
            .eval(
                "[...call.peers.values()].filter(p => p.chat && p.chat.readyState === 'open').length",
            )
            .unwrap();
        if open == 2 {
            sent_to = page
                .eval(
                    "$('chat-input').value = 'hello from chromium'; \
                     $('chat').requestSubmit(); \
                     [...call.peers.values()].filter(p => p.chat.readyState === 'open').length",
                )
                .unwrap()
                .as_u64()
                .unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(sent_to, 2, "both members' chat channels opened");
    let (got_a, got_b) = rt.block_on(async { (a.await.unwrap(), b.await.unwrap()) });
    let lines: Value = page.eval("JSON.stringify(chatLines)").unwrap();
    let lines: Vec<Value> = serde_json::from_str(lines.as_str().unwrap()).unwrap();
    let shown: BTreeSet<(String, String)> = lines
        .iter()
        .map(|l| {
            (
                l["from"].as_str().unwrap().to_string(),
                l["text"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let log = page.eval("$('chat-log').textContent").unwrap();
    eprintln!(
        "room chat in {:?}: page shows {shown:?}; alice got {got_a:?}; bob got {got_b:?}",
        started.elapsed()
    );
    for (name, got) in [("alice", &got_a), ("bob", &got_b)] {
        assert!(
            got.contains(&("chromium".into(), "hello from chromium".into())),
            "{name} got the page's line: {got:?}"
        );
        let other = if name == "alice" { "bob" } else { "alice" };
        assert!(
            got.contains(&(other.into(), format!("hello from {other}"))),
            "{name} got {other}'s line: {got:?}"
        );
    }
    for name in ["alice", "bob"] {
        assert!(
            shown.contains(&(name.into(), format!("hello from {name}"))),
            "the page shows {name}'s line: {shown:?}"
        );
        assert!(log
            .as_str()
            .unwrap()
            .contains(&format!("{name}: hello from {name}")));
    }
    assert!(shown.contains(&("me".into(), "hello from chromium".into())));
    rt.block_on(async { server.shutdown().await.unwrap() });
}

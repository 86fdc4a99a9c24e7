//! A real Chromium completes ICE with our agent, in both roles, inside a
//! private network namespace. These tests stop at ICE: the descriptions
//! carry a data-channel m-line with a placeholder fingerprint, so DTLS is
//! never attempted by us (Chromium's ClientHello, when it is the DTLS
//! client, is counted as a non-STUN datagram).

use meshrtc_ice::{IceAgent, IceConfig, IceState};
use meshrtc_integration::browser::{run_in_private_netns, Browser, PageServer};
use meshrtc_integration::sdp_template::{datachannel_sdp, ice_params};
use meshrtc_integration::udp::UdpAgent;
use serde_json::Value;
use std::time::{Duration, Instant};

const PAGE: &str = "<!doctype html><meta charset=utf-8><title>meshrtc ICE interop</title>";

/// Resolves with the page's `pc` local description once it has gathered
/// all its candidates, or after 3 s with what it has by then (with mDNS
/// hiding on, name registration never finishes in a loopback-only
/// namespace, so gathering never completes).
const GATHERED_SDP: &str = "new Promise(r => { const done = () => pc.iceGatheringState === 'complete'; \
    if (done()) r(pc.localDescription.sdp); \
    pc.addEventListener('icegatheringstatechange', () => { if (done()) r(pc.localDescription.sdp); }); \
    setTimeout(() => r(pc.localDescription.sdp), 3000); })";

/// Chromium's view: its ICE state and the selected pair's remote port.
const ICE_VIEW: &str = "(async () => { const st = await pc.getStats(); let remote = null; \
    st.forEach(s => { if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') \
        remote = st.get(s.remoteCandidateId).port; }); \
    return { state: pc.iceConnectionState, remotePort: remote }; })()";

fn js_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// Pumps our agent while polling Chromium until both are connected.
fn run_until_connected(browser: &mut Browser, ours: &mut UdpAgent) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last_poll = Instant::now();
    loop {
        ours.pump();
        if last_poll.elapsed() >= Duration::from_millis(50) {
            last_poll = Instant::now();
            let view = browser.eval(ICE_VIEW).unwrap();
            let theirs = view["state"].as_str().unwrap_or("").to_string();
            let ours_done = ours.agent.state() == IceState::Completed;
            if ours_done
                && matches!(theirs.as_str(), "connected" | "completed")
                && !view["remotePort"].is_null()
            {
                return view;
            }
            assert!(
                Instant::now() < deadline,
                "no connection after 20 s: Chromium {theirs}, ours {:?} {:?}",
                ours.agent.state(),
                ours.agent.stats()
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn chromium_offers_and_our_controlled_agent_completes_ice() {
    if !run_in_private_netns("ice_chromium::chromium_offers_and_our_controlled_agent_completes_ice")
    {
        return;
    }
    let page = PageServer::start(PAGE).unwrap();
    let mut browser = Browser::launch().unwrap();
    browser.navigate(&page.url).unwrap();
    browser
        .eval("window.pc = new RTCPeerConnection(); pc.createDataChannel('probe'); true")
        .unwrap();
    browser
        .eval("pc.createOffer().then(o => pc.setLocalDescription(o)).then(() => true)")
        .unwrap();
    let offer = browser.eval(GATHERED_SDP).unwrap();
    let offer = ice_params(offer.as_str().unwrap());
    assert!(
        !offer.candidates.is_empty(),
        "Chromium gathered no UDP candidate: {offer:?}"
    );

    let now = Instant::now();
    let mut ours = UdpAgent::bind(
        IceAgent::new(IceConfig::controlled(31), now),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    ours.agent
        .set_remote_credentials(now, &offer.ufrag, &offer.pwd)
        .unwrap();
    for c in &offer.candidates {
        ours.agent.add_remote_candidate(now, c.clone()).unwrap();
    }
    ours.agent.end_of_remote_candidates(now);
    let answer = datachannel_sdp(
        ours.agent.local_ufrag(),
        ours.agent.local_pwd(),
        ours.local_addr(),
        "active",
        &offer.mid,
    );
    browser
        .eval(&format!(
            "pc.setRemoteDescription({{type: 'answer', sdp: {}}}).then(() => true)",
            js_string(&answer)
        ))
        .unwrap();

    let view = run_until_connected(&mut browser, &mut ours);
    // Chromium is controlling and nominated a pair; we answered its checks
    // (with USE-CANDIDATE) and our own checks succeeded.
    assert!(!ours.agent.is_controlling());
    let (local, remote) = ours.agent.selected_pair().unwrap();
    assert_eq!(local, ours.local_addr());
    assert_eq!(
        view["remotePort"].as_u64(),
        Some(local.port() as u64),
        "Chromium's selected pair ends at our socket"
    );
    assert!(offer.candidates.iter().any(|c| c.addr == remote) || remote.ip().is_loopback());
    let s = ours.agent.stats();
    assert!(
        s.requests_received >= 1 && s.responses_sent >= 1 && s.unauthorized == 0,
        "{s:?}"
    );
    eprintln!(
        "{}: ICE connected, Chromium controlling; ours {s:?}",
        browser.version
    );
}

#[test]
fn we_offer_and_chromium_answers_with_our_agent_controlling() {
    if !run_in_private_netns(
        "ice_chromium::we_offer_and_chromium_answers_with_our_agent_controlling",
    ) {
        return;
    }
    let page = PageServer::start(PAGE).unwrap();
    let mut browser = Browser::launch().unwrap();
    browser.navigate(&page.url).unwrap();
    let now = Instant::now();
    let mut ours = UdpAgent::bind(
        IceAgent::new(IceConfig::controlling(32), now),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    let offer = datachannel_sdp(
        ours.agent.local_ufrag(),
        ours.agent.local_pwd(),
        ours.local_addr(),
        "actpass",
        "0",
    );
    browser
        .eval("window.pc = new RTCPeerConnection(); true")
        .unwrap();
    browser
        .eval(&format!(
            "pc.setRemoteDescription({{type: 'offer', sdp: {}}}).then(() => pc.createAnswer()).then(a => pc.setLocalDescription(a)).then(() => true)",
            js_string(&offer)
        ))
        .unwrap();
    // Chromium may check us before we know its credentials: we answer
    // anyway and remember it as peer-reflexive.
    let answer = browser.eval(GATHERED_SDP).unwrap();
    let answer = ice_params(answer.as_str().unwrap());
    assert_eq!(answer.mid, "0");
    let now = Instant::now();
    ours.pump();
    ours.agent
        .set_remote_credentials(now, &answer.ufrag, &answer.pwd)
        .unwrap();
    for c in &answer.candidates {
        ours.agent.add_remote_candidate(now, c.clone()).unwrap();
    }
    ours.agent.end_of_remote_candidates(now);

    let view = run_until_connected(&mut browser, &mut ours);
    assert!(ours.agent.is_controlling());
    let (local, _) = ours.agent.selected_pair().unwrap();
    assert_eq!(view["remotePort"].as_u64(), Some(local.port() as u64));
    // Chromium answered with setup:active, so once ICE is up it starts DTLS
    // towards us: its ClientHello shows it considers the path usable.
    let got_dtls = ours.pump_until(Duration::from_secs(5), |u| u.other_datagrams > 0);
    assert!(
        got_dtls,
        "no DTLS ClientHello from Chromium after ICE completed"
    );
    eprintln!(
        "{}: ICE connected, meshrtc controlling; ours {:?}",
        browser.version,
        ours.agent.stats()
    );
}

//! Chromium to meshrtc through TURN (coturn), live, in a private network
//! namespace on loopback: the page's RTCPeerConnection has coturn as its
//! only ICE server and `iceTransportPolicy: "relay"`, ours is relay-only
//! too (`IceConfig::relay_only`) with the same server. Chromium offers
//! with trickled candidates; both sides must select a relay-to-relay pair
//! (Chromium's `getStats()` candidate types, our agent's) and decode each
//! other's VP8 and Opus.
//!
//! Needs root (or user namespaces), Chromium and `turnserver`.

use std::time::Instant;

use meshrtc_ice::{CandidateKind, TurnServer};
use meshrtc_integration::browser::{run_in_private_netns, Browser, PageServer};
use meshrtc_peer::PeerConfig;

use crate::chromium_call::{check_call, chromium_offers, run_call, Ours, Setup, PAGE};
use crate::turn_coturn::{Coturn, PASS, USER};

/// The page's connection: coturn only, relay only; its fake camera and
/// microphone; its trickled candidates collected.
fn setup_js(turn: &str) -> String {
    format!(
        "(async () => {{ \
        window.pc = new RTCPeerConnection({{iceServers: [{{urls: '{turn}', username: '{USER}', \
          credential: '{PASS}'}}], iceTransportPolicy: 'relay'}}); \
        window.cands = []; window.gathered = false; \
        pc.onicecandidate = e => {{ if (e.candidate) cands.push(e.candidate.toJSON()); else gathered = true; }}; \
        const s = await navigator.mediaDevices.getUserMedia({{video: {{width: 640, height: 480}}, audio: true}}); \
        window.stream = s; return true; }})()"
    )
}

/// The selected pair's candidate types as Chromium reports them.
const PAIR_TYPES: &str = "(async () => { const st = await pc.getStats(); let out = null; \
    st.forEach(s => { if (s.type === 'transport' && s.selectedCandidatePairId) { \
      const p = st.get(s.selectedCandidatePairId); \
      out = [st.get(p.localCandidateId).candidateType, st.get(p.remoteCandidateId).candidateType, \
             st.get(p.localCandidateId).relayProtocol || null]; } }); \
    return JSON.stringify(out); })()";

#[test]
fn chromium_relay_only_calls_meshrtc_relay_only_through_coturn() {
    if !run_in_private_netns(
        "chromium_turn::chromium_relay_only_calls_meshrtc_relay_only_through_coturn",
    ) {
        return;
    }
    let t0 = Instant::now();
    let coturn = Coturn::start(None, "127.0.0.1".parse().unwrap());
    let page = PageServer::start(PAGE).unwrap();
    let mut browser = Browser::launch().unwrap();
    browser.navigate(&page.url).unwrap();
    browser
        .eval(&setup_js(&format!("turn:{}?transport=udp", coturn.addr)))
        .unwrap();
    let mut config = PeerConfig::with_fixed_seed(91);
    config.ice.turn_servers = vec![TurnServer::udp(coturn.addr, USER, PASS)];
    config.ice.relay_only = true;
    let mut s = Setup {
        browser,
        ours: Ours::with_config(config, 91),
        _page: page,
    };
    chromium_offers(&mut s, true);
    let theirs = run_call(&mut s, 4);
    let types = s.browser.eval(PAIR_TYPES).unwrap();
    let types: serde_json::Value = serde_json::from_str(types.as_str().unwrap()).unwrap();
    eprintln!(
        "Chromium's selected pair: {types}; ours: {:?} {:?}",
        s.ours.pc.selected_candidate_kinds(),
        s.ours.pc.stats().selected_pair
    );
    // Chromium: its relayed candidate (allocated over UDP) to ours.
    assert_eq!(types[0], "relay", "{types}\ncoturn:\n{}", coturn.log_tail());
    assert_eq!(types[1], "relay", "{types}");
    assert_eq!(types[2], "udp", "{types}");
    // Ours: relayed to relayed, both on coturn's relay ports.
    assert_eq!(
        s.ours.pc.selected_candidate_kinds(),
        Some((CandidateKind::Relayed, CandidateKind::Relayed))
    );
    let (l, r) = s.ours.pc.stats().selected_pair.unwrap();
    assert!((49152..=49252).contains(&l.port()) && (49152..=49252).contains(&r.port()));
    assert!(s
        .ours
        .local_candidates
        .iter()
        .all(|c| c.contains(" typ relay ")));
    // Media decoded both ways, negotiated values agreeing (the ports of the
    // pair each side selected match the other's).
    check_call("chromium through coturn", &s, &theirs, "client");
    eprintln!("Chromium through coturn, relay only: {:?}", t0.elapsed());
}

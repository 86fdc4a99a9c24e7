//! Live calls between our PeerConnection and headless Firefox ESR, inside a
//! private network namespace: both offer directions (Firefox as offerer is
//! ICE controlling and the DTLS server), complete and trickled candidates.
//! The steps and checks are the Chromium tests' own (`chromium_call`),
//! driven over Marionette instead of DevTools: each call carries VP8 and
//! Opus both ways; Firefox's `getStats()` must show our video decoded and
//! our audio received, we must decode its fake camera's VP8 and its Opus,
//! and both sides must agree on what was negotiated: DTLS 1.3 with the
//! X25519MLKEM768 share in both roles (Firefox set to 1.3 only when it
//! offers with trickled candidates), 1.2 when our side speaks only 1.2.

use std::time::Instant;

use meshrtc_integration::browser::{run_in_private_netns, PageServer};
use meshrtc_integration::firefox::Firefox;
use meshrtc_peer::DtlsVersions;

use crate::chromium_call::{
    check_call, chromium_offers, renegotiate_a_second_track_and_restart_ice, run_call, we_offer,
    Ours, Setup, PAGE, SETUP,
};

fn start(seed: u64) -> Setup<Firefox> {
    start_with(seed, "", DtlsVersions::Both)
}

/// Firefox set to DTLS 1.3 only (FIREFOX.md: 772 is DTLS 1.3).
const DTLS13_ONLY: &str = "user_pref(\"media.peerconnection.dtls.version.min\", 772);";

/// [`start`] with more Firefox prefs and our side speaking `dtls`.
fn start_with(seed: u64, prefs: &str, dtls: DtlsVersions) -> Setup<Firefox> {
    let t0 = Instant::now();
    let page = PageServer::start(PAGE).unwrap();
    let mut browser = Firefox::launch_with_prefs(prefs).unwrap();
    let launched = t0.elapsed();
    browser.navigate(&page.url).unwrap();
    let loaded = t0.elapsed();
    browser.eval(SETUP).unwrap();
    eprintln!(
        "{}: launched {launched:?}, page {loaded:?}, camera {:?}",
        browser.version,
        t0.elapsed()
    );
    Setup {
        browser,
        ours: Ours::with_dtls(seed, dtls),
        _page: page,
    }
}

/// Seconds of media once both sides are connected.
const MEDIA_SECS: u64 = 3;

#[test]
fn firefox_offers_meshrtc_answers_as_dtls_client() {
    if !run_in_private_netns("firefox_call::firefox_offers_meshrtc_answers_as_dtls_client") {
        return;
    }
    let mut s = start(61);
    chromium_offers(&mut s, false);
    let theirs = run_call(&mut s, MEDIA_SECS);
    check_call("firefox offers", &s, &theirs, "client");
}

#[test]
fn meshrtc_offers_firefox_answers_and_meshrtc_is_dtls_server() {
    if !run_in_private_netns(
        "firefox_call::meshrtc_offers_firefox_answers_and_meshrtc_is_dtls_server",
    ) {
        return;
    }
    let mut s = start(62);
    we_offer(&mut s, false);
    let theirs = run_call(&mut s, MEDIA_SECS);
    check_call("meshrtc offers to firefox", &s, &theirs, "server");
}

#[test]
fn firefox_offers_with_trickled_candidates() {
    if !run_in_private_netns("firefox_call::firefox_offers_with_trickled_candidates") {
        return;
    }
    // Firefox for DTLS 1.3 only calls us.
    let mut s = start_with(63, DTLS13_ONLY, DtlsVersions::Both);
    chromium_offers(&mut s, true);
    let theirs = run_call(&mut s, MEDIA_SECS);
    check_call("firefox offers, trickle", &s, &theirs, "client");
}

#[test]
fn meshrtc_offers_to_firefox_with_trickled_candidates() {
    if !run_in_private_netns("firefox_call::meshrtc_offers_to_firefox_with_trickled_candidates") {
        return;
    }
    // DTLS 1.2 stays covered live: our server for 1.2 only.
    let mut s = start_with(64, "", DtlsVersions::Dtls12Only);
    we_offer(&mut s, true);
    let theirs = run_call(&mut s, MEDIA_SECS);
    check_call("meshrtc offers to firefox, trickle", &s, &theirs, "server");
}

/// Firefox renegotiates with us mid-call, and we with it: it adds a second
/// camera track (a new offer), removes it and calls `restartIce()`; then we
/// add a video transceiver and offer. The Chromium test's steps: each side
/// decodes what the other sends on every m-line, over the same DTLS
/// association.
#[test]
fn firefox_and_meshrtc_renegotiate_a_second_video_track_and_an_ice_restart() {
    if !run_in_private_netns(
        "firefox_call::firefox_and_meshrtc_renegotiate_a_second_video_track_and_an_ice_restart",
    ) {
        return;
    }
    let mut s = start(65);
    renegotiate_a_second_track_and_restart_ice(&mut s);
}

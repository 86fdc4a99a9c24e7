//! Data channels between our PeerConnection and headless Firefox ESR
//! (issue 20), live, inside a private network namespace, data-only, both
//! offer directions: Firefox as offerer is the DTLS server (we are the
//! client), as answerer the DTLS client. The steps and checks are
//! `chromium_data`'s own, driven over Marionette: echoes of 0 B, 1 B,
//! 64 KiB, 256 KiB and a text message, 10 MB each way compared by SHA-256,
//! close on both sides, then a channel reopened each way. Firefox ships
//! usrsctp: its INIT does not offer zero checksum (RFC 9653), Chromium's
//! dcSCTP does; the test prints what it saw.

use std::time::Instant;

use meshrtc_integration::browser::{run_in_private_netns, PageServer};
use meshrtc_integration::firefox::Firefox;

use crate::chromium_data::{run_with, PAGE};

fn run(firefox_offers: bool) {
    let started = Instant::now();
    let page = PageServer::start(PAGE).unwrap();
    let mut b = Firefox::launch().unwrap();
    b.navigate(&page.url).unwrap();
    let ours = run_with(&mut b, firefox_offers, started);
    let (_, _, zero_checksum) = ours
        .pc
        .sctp_association()
        .and_then(|a| a.peer_features())
        .unwrap();
    // usrsctp does not implement RFC 9653.
    assert!(!zero_checksum, "Firefox's INIT offered zero checksum");
}

#[test]
fn firefox_offers_data_only_and_channels_work_both_ways() {
    if !run_in_private_netns("firefox_data::firefox_offers_data_only_and_channels_work_both_ways") {
        return;
    }
    run(true);
}

#[test]
fn meshrtc_offers_data_only_to_firefox_and_channels_work_both_ways() {
    if !run_in_private_netns(
        "firefox_data::meshrtc_offers_data_only_to_firefox_and_channels_work_both_ways",
    ) {
        return;
    }
    run(false);
}

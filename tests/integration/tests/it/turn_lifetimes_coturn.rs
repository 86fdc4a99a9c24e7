//! TURN lifetimes and a lost server, live against coturn on loopback in a
//! private network namespace; two relay-only PeerConnections (the members
//! of `turn_coturn.rs`) call each other with Opus.
//!
//! - coturn's timers shortened (`--max-allocate-lifetime`,
//!   `--permission-lifetime`, `--channel-lifetime`) and TURN REST
//!   credentials whose username expires 3 s into the call: the allocation,
//!   permission and channel are refreshed (RFC 8656 §8, §9, §12) several
//!   times over while media keeps being decoded, and coturn keeps accepting
//!   the refreshes of an allocation after its username's expiry (it checks
//!   the expiry when a session authenticates, not on later requests of the
//!   same allocation).
//! - coturn restarted mid-call: every allocation is gone; coturn answers
//!   the next permission refresh with 400, the client then refreshes the
//!   allocation, gets 437 Allocation Mismatch, allocates anew and trickles
//!   the new relayed candidate; the pairs on the lost relay fail, the
//!   offerer (controlling) nominates the new relay pair by itself, without
//!   an ICE restart (RFC 8445 §8.1.1), and media resumes. Closing then
//!   deletes the allocation.
//!
//! Needs root (or user namespaces) and `turnserver` (Debian coturn).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use meshrtc_ice::turn::rest_credentials;
use meshrtc_ice::{CandidateKind, IceConfig, TurnServer};
use meshrtc_integration::browser::run_in_private_netns;

use crate::turn_coturn::{Coturn, CoturnAuth, Member, PASS, USER};

const SECRET: &str = "meshrtc-lifetimes-secret";
/// Audio frames each side must decode before (and after) an event.
const FRAMES: usize = 25;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Pumps both members and passes their signaling, for `d` or until `done`.
fn run(m: &mut [Member; 2], d: Duration, done: impl Fn(&[Member; 2]) -> bool) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if done(m) {
            return true;
        }
        for i in 0..2 {
            m[i].pump();
            for s in std::mem::take(&mut m[i].out) {
                m[1 - i].on_signal(&s);
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    done(m)
}

/// Runs the call until both sides decoded `FRAMES` (at most 10 s).
fn connect(m: &mut [Member; 2], coturn: &Coturn) {
    assert!(
        run(m, Duration::from_secs(10), |m| m
            .iter()
            .all(|x| x.decoded >= FRAMES)),
        "no call: {} / {}\ncoturn:\n{}",
        m[0].result(),
        m[1].result(),
        coturn.log_tail()
    );
}

/// Both sides selected a pair whose local and remote candidates are relayed
/// ones, and the local one is the member's newest relayed candidate.
fn assert_relay_pair(m: &[Member; 2]) {
    for (i, x) in m.iter().enumerate() {
        assert_eq!(
            x.pc.selected_candidate_kinds(),
            Some((CandidateKind::Relayed, CandidateKind::Relayed)),
            "member {i}: {}",
            x.result()
        );
        let (l, r) = x.pc.stats().selected_pair.unwrap();
        assert_eq!(Member::relay_addrs(&x.local_candidates).last(), Some(&l));
        assert!(
            Member::relay_addrs(&m[1 - i].local_candidates).contains(&r),
            "member {i}: {}",
            x.result()
        );
    }
}

#[test]
fn allocation_permission_and_channel_are_refreshed_past_the_username_expiry() {
    if !run_in_private_netns(
        "turn_lifetimes_coturn::allocation_permission_and_channel_are_refreshed_past_the_username_expiry",
    ) {
        return;
    }
    let t0 = Instant::now();
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    // coturn grants at most 8 s per allocation (asked: 600 s), and keeps a
    // permission 6 s and a channel 8 s unless refreshed.
    let coturn = Coturn::start_with_options(
        lo,
        CoturnAuth::RestSecret(SECRET),
        &[
            "--max-allocate-lifetime=8",
            "--permission-lifetime=6",
            "--channel-lifetime=8",
        ],
    );
    let bind = SocketAddr::new(lo, 0);
    let expiry = unix_now() + 3;
    let member = |seed: u8, name: &str, offerer: bool| {
        let c = rest_credentials(SECRET.as_bytes(), name, expiry);
        let server = TurnServer::udp(coturn.addr, &c.username, &c.password);
        Member::with(seed, bind, server, offerer, |ice: &mut IceConfig| {
            ice.relay_only = true;
            ice.turn_permission_refresh = Duration::from_secs(4);
            ice.turn_channel_refresh = Duration::from_secs(5);
        })
    };
    let mut m = [member(1, "ada", true), member(2, "grace", false)];
    connect(&mut m, &coturn);
    let connected = t0.elapsed();
    // 13 s more, sampled every second: media is decoded in every second,
    // across the username's expiry (3 s), the allocation's (8 s) and the
    // permission's and channel's (6 s, 8 s) had they not been refreshed.
    let mut stalls = Vec::new();
    for second in 0..13 {
        let before = [m[0].decoded, m[1].decoded];
        run(&mut m, Duration::from_secs(1), |_| false);
        for i in 0..2 {
            if m[i].decoded < before[i] + 30 {
                stalls.push((second, i, m[i].decoded - before[i]));
            }
        }
    }
    assert!(unix_now() > expiry + 8, "the call outlived the username");
    assert!(
        stalls.is_empty(),
        "media stalled (second, member, frames): {stalls:?}\ncoturn:\n{}",
        coturn.log_tail()
    );
    assert_relay_pair(&m);
    for (i, x) in m.iter().enumerate() {
        let (turn, ice) = x.pc.turn_stats();
        let (_, s) = turn[0];
        eprintln!("member {i}: {s:?}\n{}", x.result());
        // Allocation refreshed at 4, 8, 12 s (half of 8 s) ...
        assert!(s.refreshes_sent >= 3, "member {i}: {s:?}");
        // ... permissions after 4 s, channels after 5 s (the first of each
        // and at least two refreshes) ...
        assert!(s.permissions_sent >= 3, "member {i}: {s:?}");
        assert!(s.channel_binds_sent >= 3, "member {i}: {s:?}");
        // ... all accepted after the username expired: nothing refused,
        // nothing lost, media in ChannelData all along.
        assert_eq!(s.unauthorized, 0, "member {i}: {s:?}");
        assert_eq!(ice.unwrap().relays_reallocated, 0, "member {i}");
        assert!(s.channel_data_sent > 500, "member {i}: {s:?}");
        assert!(x.to_server.channel_data > 500);
        let w = x.to_server;
        eprintln!(
            "member {i} to coturn: {} datagrams, {} bytes; {} ChannelData ({} bytes, 4 of \
             each the header), {} Send indications, {} requests",
            w.datagrams,
            w.bytes,
            w.channel_data,
            w.channel_data_bytes,
            s.send_indications,
            s.requests_sent + s.retransmits
        );
    }
    eprintln!(
        "refreshes through coturn with 8 s allocations, 6 s permissions, 8 s channels: \
         connected after {connected:?}, whole test {:?}",
        t0.elapsed()
    );
}

#[test]
fn media_resumes_after_coturn_restarts_mid_call() {
    if !run_in_private_netns("turn_lifetimes_coturn::media_resumes_after_coturn_restarts_mid_call")
    {
        return;
    }
    let t0 = Instant::now();
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let mut coturn = Coturn::start(None, lo);
    let addr = coturn.addr;
    let bind = SocketAddr::new(lo, 0);
    let member = |seed: u8, offerer: bool| {
        let server = TurnServer::udp(addr, USER, PASS);
        Member::with(seed, bind, server, offerer, |ice: &mut IceConfig| {
            ice.relay_only = true;
            // The first request after the restart finds the allocation
            // gone (437): a permission refresh, within 2 s.
            ice.turn_permission_refresh = Duration::from_secs(2);
        })
    };
    let mut m = [member(1, true), member(2, false)];
    connect(&mut m, &coturn);
    assert_relay_pair(&m);
    coturn.restart();
    let restarted = Instant::now();
    let decoded = [m[0].decoded, m[1].decoded];
    let resumed = |m: &[Member; 2]| {
        m.iter().enumerate().all(|(i, x)| {
            x.decoded >= decoded[i] + FRAMES
                && x.pc
                    .turn_stats()
                    .1
                    .is_some_and(|s| s.relays_reallocated >= 1)
        })
    };
    // Each side finds its allocation gone (437 to the allocation refresh
    // its refused permission refresh brings on, RFC 8656 §8), allocates
    // anew and trickles the new relayed candidate; the pairs on the lost
    // relay fail, both check the new pairs, and the offerer nominates the
    // new relay pair (RFC 8445 §8.1.1). No ICE restart, no new offer: DTLS
    // and SRTP stay.
    let resumed = run(&mut m, Duration::from_secs(10), resumed);
    assert!(
        resumed,
        "media did not resume: {} / {}\n{:?}\ncoturn:\n{}",
        m[0].result(),
        m[1].result(),
        m[0].pc.turn_stats(),
        coturn.log_tail()
    );
    let took = restarted.elapsed();
    assert_relay_pair(&m);
    for (i, x) in m.iter().enumerate() {
        let (turn, ice) = x.pc.turn_stats();
        eprintln!("member {i}: {:?} {ice:?}\n{}", turn[0].1, x.result());
        // One new allocation (the client's counters are the new one's).
        assert_eq!(ice.unwrap().relays_reallocated, 1, "member {i}");
        // A second relayed candidate was signalled and is the one in use;
        // unless the restarted coturn handed out the same relayed address
        // again (seen once in a CI rehearsal under load: member 1 got
        // 49188 before and after), which is then the one in use.
        let relays = Member::relay_addrs(&x.local_candidates);
        let now = x.pc.stats().selected_pair.unwrap().0;
        assert!(
            relays.len() == 2 || (relays.len() == 1 && relays[0] == now),
            "member {i}: {relays:?}, using {now}"
        );
        assert_eq!(relays.last(), Some(&now), "member {i}");
        assert!(x.pc.stats().dtls_cipher.is_some());
        assert_eq!(x.pc.stats().ice_restarts, 0, "member {i}");
    }
    assert!(
        took < Duration::from_secs(6),
        "media resumed only {took:?} after the restart"
    );
    // Closing deletes the allocation (RFC 8656 §8): the Refresh with
    // lifetime 0 leaves and coturn's answer ends the last timer (were it
    // lost, it would be sent again for 39.5 s).
    let sent = m[0].to_server.datagrams;
    m[0].pc.close();
    let closed = Instant::now();
    while m[0].pc.poll_timeout().is_some() {
        assert!(
            closed.elapsed() < Duration::from_secs(3),
            "the deallocation was not answered"
        );
        m[0].pump();
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(m[0].to_server.datagrams > sent);
    eprintln!(
        "coturn restarted mid-call: media decoded again {took:?} after the restart \
         (whole test {:?})",
        t0.elapsed()
    );
}

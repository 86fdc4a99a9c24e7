//! An ICE restart that allocates with fresh TURN REST credentials while
//! the old allocation carries media, live against coturn (issue 19), in a
//! private network namespace on loopback: two relay-only PeerConnections
//! (the members of `turn_coturn.rs`) call each other with Opus.
//!
//! The credentials expire 60 s into the call; at 90 s the members take
//! fresh ones (as a room's `ice-servers` renewal hands them out) and the
//! offerer restarts ICE. A TURN server keeps one allocation per 5-tuple
//! (RFC 8656 §7.3), so each side opens a new UDP socket and allocates on
//! it with the fresh credentials (the expired ones would get 401), while
//! the old allocation keeps carrying media on the old pair; once the
//! restart nominates the new relay pair the old allocation is deleted
//! (Refresh with lifetime 0, §8). Audio is decoded without a gap of a
//! second or more across all of it.
//!
//! It lasts about 95 s, nearly all of it waiting for the credentials to
//! expire (the times); it runs beside the other tests of the
//! binary, in its own namespace.
//!
//! Needs root (or user namespaces) and `turnserver` (Debian coturn).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use meshrtc_ice::turn::rest_credentials;
use meshrtc_ice::{CandidateKind, IceConfig, TurnServer};
use meshrtc_integration::browser::run_in_private_netns;

use crate::turn_coturn::{signal, Coturn, CoturnAuth, Member};

const SECRET: &str = "meshrtc-restart-secret";
const NAMES: [&str; 2] = ["ada", "grace"];
/// The credentials' lifetime, and when the restart happens.
const CREDENTIALS: u64 = 60;
const RESTART_AT: Duration = Duration::from_secs(90);

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Decoding watched over time: the longest time without a decoded frame.
struct Watch {
    last: [(usize, Instant); 2],
    longest_gap: [Duration; 2],
}

impl Watch {
    fn new(m: &[Member; 2]) -> Watch {
        let now = Instant::now();
        Watch {
            last: [(m[0].decoded, now), (m[1].decoded, now)],
            longest_gap: [Duration::ZERO; 2],
        }
    }

    fn see(&mut self, m: &[Member; 2]) {
        let now = Instant::now();
        for (i, x) in m.iter().enumerate() {
            let gap = now - self.last[i].1;
            self.longest_gap[i] = self.longest_gap[i].max(gap);
            if x.decoded > self.last[i].0 {
                self.last[i] = (x.decoded, now);
            }
        }
    }
}

/// Pumps both members and passes their signaling, for `d` or until `done`.
fn run(
    m: &mut [Member; 2],
    w: &mut Watch,
    d: Duration,
    done: impl Fn(&[Member; 2]) -> bool,
) -> bool {
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
        w.see(m);
        std::thread::sleep(Duration::from_millis(1));
    }
    done(m)
}

/// Both sides on a relay-to-relay pair whose local side is their newest
/// relayed candidate.
fn on_newest_relays(m: &[Member; 2]) -> bool {
    m.iter().all(|x| {
        x.pc.selected_candidate_kinds() == Some((CandidateKind::Relayed, CandidateKind::Relayed))
            && x.pc.stats().selected_pair.map(|p| p.0)
                == Member::relay_addrs(&x.local_candidates).last().copied()
    })
}

#[test]
fn an_ice_restart_allocates_with_fresh_credentials_on_a_new_socket_while_media_flows() {
    if !run_in_private_netns(
        "turn_restart_coturn::an_ice_restart_allocates_with_fresh_credentials_on_a_new_socket_while_media_flows",
    ) {
        return;
    }
    let t0 = Instant::now();
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let coturn = Coturn::start_with_options(lo, CoturnAuth::RestSecret(SECRET), &[]);
    let addr = coturn.addr;
    let bind = SocketAddr::new(lo, 0);
    let expiry = unix_now() + CREDENTIALS;
    let member = |i: usize| {
        let c = rest_credentials(SECRET.as_bytes(), NAMES[i], expiry);
        let server = TurnServer::udp(addr, &c.username, &c.password);
        Member::with(i as u8 + 1, bind, server, i == 0, |ice: &mut IceConfig| {
            ice.relay_only = true;
            ice.new_relays_on_restart = true;
        })
    };
    let mut m = [member(0), member(1)];
    let mut w = Watch::new(&m);
    assert!(
        run(&mut m, &mut w, Duration::from_secs(10), |m| m
            .iter()
            .all(|x| x.decoded >= 25)),
        "no call through coturn:\n{}",
        coturn.log_tail()
    );
    let connected = t0.elapsed();
    assert!(on_newest_relays(&m));
    let old: Vec<SocketAddr> = m
        .iter()
        .map(|x| x.pc.stats().selected_pair.unwrap().0)
        .collect();
    // The call goes on past the credentials' expiry (an allocation keeps
    // its username: coturn keeps accepting its refreshes) up to 90 s.
    w = Watch::new(&m);
    run(
        &mut m,
        &mut w,
        RESTART_AT.saturating_sub(t0.elapsed()),
        |_| false,
    );
    assert!(unix_now() > expiry, "the credentials have not expired yet");
    // Fresh credentials, as a room's renewal brings them, then the
    // restart.
    let fresh_expiry = unix_now() + CREDENTIALS;
    // (The expired ones would get 401 to a new Allocate: coturn checks a
    // REST username's expiry when a session authenticates, see
    // `turn_rest_coturn.rs`.)
    for (i, x) in m.iter_mut().enumerate() {
        let c = rest_credentials(SECRET.as_bytes(), NAMES[i], fresh_expiry);
        x.pc.set_turn_servers(vec![TurnServer::udp(addr, &c.username, &c.password)]);
    }
    let decoded = [m[0].decoded, m[1].decoded];
    let restarted = Instant::now();
    m[0].pc.restart_ice();
    let offer = m[0].pc.create_offer(Instant::now()).unwrap();
    m[0].out.push(signal("offer", &offer));
    let moved = run(&mut m, &mut w, Duration::from_secs(10), |m| {
        on_newest_relays(m) && (0..2).all(|i| m[i].decoded >= decoded[i] + 25)
    });
    let took = restarted.elapsed();
    assert!(
        moved,
        "no new relay pair after the restart: {} / {}\n{:?}\ncoturn:\n{}",
        m[0].result(),
        m[1].result(),
        m[0].pc.turn_stats(),
        coturn.log_tail()
    );
    // The old allocation is deleted once the new pair is nominated; its
    // Refresh (lifetime 0) answered (a lost one would be sent again for
    // 39.5 s), the relay is gone from the agent.
    let deleted = run(&mut m, &mut w, Duration::from_secs(3), |m| {
        m.iter().all(|x| x.pc.turn_stats().0.len() == 1)
    });
    // Media flowed across: a second of audio decoded after the switch.
    let after = [m[0].decoded, m[1].decoded];
    run(&mut m, &mut w, Duration::from_secs(1), |_| false);
    for (i, x) in m.iter().enumerate() {
        let (turn, ice) = x.pc.turn_stats();
        let ice = ice.unwrap();
        eprintln!("member {i}: {turn:?}\n{ice:?}\n{}", x.result());
        assert!(
            deleted,
            "member {i}: the old allocation was not deleted: {turn:?}"
        );
        // One new allocation, on a new socket (its own 5-tuple), the old
        // one deleted.
        assert_eq!(
            (ice.relays_renewed, ice.relays_retired),
            (1, 1),
            "member {i}"
        );
        assert_eq!(x.relay_sockets.len(), 1, "member {i}");
        let (new_socket, _) = &x.relay_sockets[0];
        assert_ne!(*new_socket, x.local);
        let relays = Member::relay_addrs(&x.local_candidates);
        assert_eq!(relays.len(), 2, "member {i}: {relays:?}");
        assert_eq!(relays[0], old[i]);
        assert_ne!(relays[1], old[i]);
        assert_eq!(x.pc.stats().selected_pair.unwrap().0, relays[1]);
        // coturn accepted the new Allocate with the fresh credentials: no
        // 401 to them (the first, unauthenticated request's 401 is the
        // normal challenge), and no 437 (a 5-tuple of its own).
        let s = turn[0].1;
        assert_eq!(s.unauthorized, 0, "member {i}: {s:?}");
        assert!(
            x.decoded >= after[i] + 30,
            "member {i}: no media after the switch"
        );
        assert_eq!(s.allocation_mismatches, 0, "member {i}: {s:?}");
        assert!(x.pc.stats().ice_restarts == 1);
        assert!(
            w.longest_gap[i] < Duration::from_secs(1),
            "member {i}: {:?} without decoded audio",
            w.longest_gap[i]
        );
    }
    eprintln!(
        "ICE restart with fresh credentials at {:?}: connected after {connected:?}, the new \
         relay pair carried media {took:?} after the restart, longest gap without decoded audio \
         {:?} / {:?}; whole test {:?}",
        restarted - t0,
        w.longest_gap[0],
        w.longest_gap[1],
        t0.elapsed()
    );
}

//! Two agents in memory: `a` on two addresses, `b` on one. The address of
//! `a`'s selected pair goes; its candidates and pairs leave `a`, nothing
//! is sent from it any more, and after an ICE restart `a` connects again
//! over its other address without ever naming the gone one.

use super::super::{IceAgent, IceConfig, IceEvent, IceState, Transmit};
use crate::candidate::Candidate;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

struct Side {
    agent: IceAgent,
    addrs: Vec<SocketAddr>,
    /// Where this side's transmits went from, since the last `clear`.
    sent_from: Vec<SocketAddr>,
}

fn side(controlling: bool, seed: u64, addrs: &[&str], now: Instant) -> Side {
    let cfg = if controlling {
        IceConfig::controlling(seed)
    } else {
        IceConfig::controlled(seed)
    };
    let mut agent = IceAgent::new(cfg, now);
    let addrs: Vec<SocketAddr> = addrs.iter().map(|a| a.parse().unwrap()).collect();
    for a in &addrs {
        agent.add_local_host(*a).unwrap();
    }
    agent.start_gathering(now);
    Side {
        agent,
        addrs,
        sent_from: Vec::new(),
    }
}

/// Gives each side the other's credentials and current candidates.
fn exchange(now: Instant, a: &mut Side, b: &mut Side) {
    let (au, ap) = (
        a.agent.local_ufrag().to_string(),
        a.agent.local_pwd().to_string(),
    );
    let (bu, bp) = (
        b.agent.local_ufrag().to_string(),
        b.agent.local_pwd().to_string(),
    );
    a.agent.set_remote_credentials(now, &bu, &bp).unwrap();
    b.agent.set_remote_credentials(now, &au, &ap).unwrap();
    let ac: Vec<Candidate> = a.agent.local_candidates().cloned().collect();
    let bc: Vec<Candidate> = b.agent.local_candidates().cloned().collect();
    for c in bc {
        a.agent.add_remote_candidate(now, c).unwrap();
    }
    for c in ac {
        b.agent.add_remote_candidate(now, c).unwrap();
    }
}

/// Delivers datagrams between the sides (to addresses they have) and runs
/// the timers, for `d`.
fn run(now: &mut Instant, a: &mut Side, b: &mut Side, d: Duration) {
    let end = *now + d;
    while *now < end {
        for _ in 0..10 {
            let mut moved = 0;
            while let Some(Transmit { src, dst, payload }) = a.agent.poll_transmit() {
                a.sent_from.push(src);
                if b.addrs.contains(&dst) {
                    let _ = b.agent.handle_datagram(*now, src, dst, &payload);
                    moved += 1;
                }
            }
            while let Some(Transmit { src, dst, payload }) = b.agent.poll_transmit() {
                b.sent_from.push(src);
                if a.addrs.contains(&dst) {
                    let _ = a.agent.handle_datagram(*now, src, dst, &payload);
                    moved += 1;
                }
            }
            if moved == 0 {
                break;
            }
        }
        *now += Duration::from_millis(10);
        a.agent.handle_timeout(*now);
        b.agent.handle_timeout(*now);
    }
}

fn drain(s: &mut Side) -> Vec<IceEvent> {
    std::iter::from_fn(|| s.agent.poll_event()).collect()
}

#[test]
fn a_gone_address_takes_its_candidates_and_pairs_out_of_the_agent_and_a_restart_reconnects_without_it(
) {
    let mut now = Instant::now();
    let mut a = side(true, 1, &["10.0.0.1:5000", "10.0.1.1:5000"], now);
    let mut b = side(false, 2, &["10.0.0.9:6000"], now);
    exchange(now, &mut a, &mut b);
    run(&mut now, &mut a, &mut b, Duration::from_secs(2));
    assert_eq!(a.agent.state(), IceState::Completed);
    let (used, _) = a.agent.selected_pair().expect("a selected pair");
    let other = a.addrs.iter().copied().find(|x| *x != used).unwrap();
    assert_eq!(a.agent.pairs().len(), 2);
    drain(&mut a);

    // The interface address of the selected pair goes.
    let ip: IpAddr = used.ip();
    a.addrs.retain(|x| *x != used);
    assert_eq!(a.agent.remove_local_address(ip), 1);
    // Twice is nothing more.
    assert_eq!(a.agent.remove_local_address(ip), 0);
    assert_eq!(a.agent.stats().local_candidates_removed, 1);
    let left: Vec<SocketAddr> = a.agent.local_candidates().map(|c| c.addr).collect();
    assert_eq!(left, [other]);
    let pairs = a.agent.pairs();
    assert_eq!(pairs.len(), 1, "{pairs:?}");
    assert!(pairs.iter().all(|(l, _, _, _)| *l == other), "{pairs:?}");
    assert_eq!(a.agent.selected_pair(), None);
    assert_eq!(a.agent.state(), IceState::Disconnected);
    assert!(drain(&mut a).contains(&IceEvent::StateChanged(IceState::Disconnected)));
    // Nothing goes out from the gone address any more (consent checks
    // and the like run for a few seconds).
    a.sent_from.clear();
    run(&mut now, &mut a, &mut b, Duration::from_secs(6));
    assert!(!a.sent_from.contains(&used), "{:?}", a.sent_from);

    // The restart (RFC 8445 §9) names only the address left, and connects
    // over it.
    a.agent.restart(now);
    b.agent.restart(now);
    let named: Vec<SocketAddr> = a.agent.local_candidates().map(|c| c.addr).collect();
    assert_eq!(named, [other]);
    exchange(now, &mut a, &mut b);
    run(&mut now, &mut a, &mut b, Duration::from_secs(2));
    assert_eq!(a.agent.state(), IceState::Completed);
    let (local, remote) = a.agent.selected_pair().unwrap();
    assert_eq!((local, remote), (other, b.addrs[0]));
    assert!(!a.sent_from.contains(&used));
}

#[test]
fn removing_an_address_that_is_not_the_selected_pairs_keeps_the_call_and_renumbers_the_pairs() {
    let mut now = Instant::now();
    let mut a = side(
        true,
        3,
        &["10.0.0.1:5000", "10.0.1.1:5000", "10.0.2.1:5000"],
        now,
    );
    let mut b = side(false, 4, &["10.0.0.9:6000"], now);
    exchange(now, &mut a, &mut b);
    run(&mut now, &mut a, &mut b, Duration::from_secs(2));
    let (used, _) = a.agent.selected_pair().expect("a selected pair");
    // Another address than the one in use goes (the first that is not).
    let gone = *a.addrs.iter().find(|x| **x != used).unwrap();
    a.addrs.retain(|x| *x != gone);
    drain(&mut a);
    assert_eq!(a.agent.remove_local_address(gone.ip()), 1);
    // The selected pair is the same one, still completed.
    assert_eq!(a.agent.selected_pair().map(|p| p.0), Some(used));
    assert_eq!(a.agent.state(), IceState::Completed);
    assert!(drain(&mut a).is_empty());
    let pairs = a.agent.pairs();
    assert_eq!(pairs.len(), 2, "{pairs:?}");
    assert!(pairs.iter().all(|(l, _, _, _)| *l != gone));
    // Consent goes on over the selected pair (its index moved): the call
    // stays up well past the consent timeout.
    a.sent_from.clear();
    run(&mut now, &mut a, &mut b, Duration::from_secs(40));
    assert_eq!(a.agent.state(), IceState::Completed);
    assert_eq!(b.agent.state(), IceState::Completed);
    assert!(a.sent_from.contains(&used));
    assert!(!a.sent_from.contains(&gone));
}

//! A local address goes mid-call ([`PeerConnection::remove_local_address`]):
//! its candidate leaves ICE, so the ICE restart's offer names only the
//! address left (RFC 8445 §9; trickle, RFC 8838, cannot withdraw a
//! candidate), and the call goes on over it on the same transport.

use meshrtc_ice::IceState;
use meshrtc_peer::ConnectionState;

mod pair;
use pair::*;

/// Host candidate lines of `sdp` at `ip`.
fn candidates_at(sdp: &str, ip: &str) -> usize {
    sdp.lines()
        .filter(|l| l.starts_with("a=candidate:") && l.contains(&format!(" {ip} ")))
        .count()
}

#[test]
fn a_removed_address_is_absent_from_the_ice_restarts_offer_and_the_call_goes_on() {
    let (mut now, mut a, mut b) = sides();
    // A second address of a's that nothing reaches (the harness delivers
    // only to a.addr, 127.0.0.1).
    a.pc.add_local_address("127.0.0.3:4001".parse().unwrap());
    let (offer, _) = renegotiate(now, &mut a, &mut b);
    assert_eq!(candidates_at(&offer, "127.0.0.3"), 1, "{offer}");
    run_until_settled(&mut now, &mut a, &mut b);
    assert_eq!(a.pc.state(), ConnectionState::Connected);
    assert_eq!(a.pc.stats().selected_pair.map(|p| p.0), Some(a.addr));

    assert_eq!(
        a.pc.remove_local_address(now, "127.0.0.3".parse().unwrap()),
        1
    );
    // Its pair on the address in use stays selected.
    assert_eq!(a.pc.stats().selected_pair.map(|p| p.0), Some(a.addr));
    a.pc.restart_ice();
    let (offer, answer) = renegotiate(now, &mut a, &mut b);
    assert_eq!(candidates_at(&offer, "127.0.0.3"), 0, "{offer}");
    assert_eq!(candidates_at(&offer, "127.0.0.1"), 1, "{offer}");
    assert_eq!(candidates_at(&answer, "127.0.0.1"), 1, "{answer}");
    for _ in 0..200 {
        step(&mut now, &mut a, &mut b);
    }
    assert_eq!(a.pc.state(), ConnectionState::Connected);
    assert!(matches!(
        a.pc.stats().ice_state,
        IceState::Connected | IceState::Completed
    ));
    assert_eq!(a.pc.stats().selected_pair.map(|p| p.0), Some(a.addr));
}

//! Two ICE agents over real UDP sockets on 127.0.0.1, with a real STUN
//! server socket for gathering.

use meshrtc_ice::{IceAgent, IceConfig, IceEvent, IceState, StunServer};
use meshrtc_integration::udp::UdpAgent;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

#[test]
fn two_agents_connect_over_loopback_sockets() {
    // A STUN server on its own thread, stopped when the test ends.
    let server_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    server_sock
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let stun = server_sock.local_addr().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let server = std::thread::spawn(move || {
        let mut s = StunServer::new(None);
        let (mut buf, mut out) = ([0u8; 1500], Vec::new());
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            if let Ok((n, from)) = server_sock.recv_from(&mut buf) {
                if let Ok(true) = s.handle(from, &buf[..n], &mut out) {
                    let _ = server_sock.send_to(&out, from);
                }
            }
        }
        s.stats().answered
    });

    let mut cfg_a = IceConfig::controlling(101);
    cfg_a.stun_servers = vec![stun];
    let mut cfg_b = IceConfig::controlled(102);
    cfg_b.stun_servers = vec![stun];
    let t0 = Instant::now();
    let mut a = UdpAgent::bind(IceAgent::new(cfg_a, t0), "127.0.0.1:0".parse().unwrap()).unwrap();
    let mut b = UdpAgent::bind(IceAgent::new(cfg_b, t0), "127.0.0.1:0".parse().unwrap()).unwrap();
    a.agent.start_gathering(t0);
    b.agent.start_gathering(t0);
    // Signaling by hand: credentials, then candidates as they are gathered.
    let (ua, pa) = (
        a.agent.local_ufrag().to_string(),
        a.agent.local_pwd().to_string(),
    );
    let (ub, pb) = (
        b.agent.local_ufrag().to_string(),
        b.agent.local_pwd().to_string(),
    );
    a.agent.set_remote_credentials(t0, &ub, &pb).unwrap();
    b.agent.set_remote_credentials(t0, &ua, &pa).unwrap();
    let (mut sent_a, mut sent_b) = (0, 0);
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        a.pump();
        b.pump();
        let now = Instant::now();
        let cands = |u: &UdpAgent| -> Vec<_> {
            u.events
                .iter()
                .filter_map(|(_, e)| match e {
                    IceEvent::LocalCandidate(c) => Some(c.clone()),
                    _ => None,
                })
                .collect()
        };
        for c in cands(&a).into_iter().skip(sent_a) {
            b.agent.add_remote_candidate(now, c).unwrap();
            sent_a += 1;
        }
        for c in cands(&b).into_iter().skip(sent_b) {
            a.agent.add_remote_candidate(now, c).unwrap();
            sent_b += 1;
        }
        let done = |u: &UdpAgent| {
            u.events
                .iter()
                .any(|(_, e)| *e == IceEvent::GatheringComplete)
        };
        if a.agent.state() == IceState::Completed
            && b.agent.state() == IceState::Completed
            && done(&a)
            && done(&b)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let answered = server.join().unwrap();
    assert_eq!(
        a.agent.state(),
        IceState::Completed,
        "{:?}",
        a.agent.stats()
    );
    assert_eq!(
        b.agent.state(),
        IceState::Completed,
        "{:?}",
        b.agent.stats()
    );
    assert_eq!(
        a.agent.selected_pair(),
        Some((a.local_addr(), b.local_addr()))
    );
    assert_eq!(
        b.agent.selected_pair(),
        Some((b.local_addr(), a.local_addr()))
    );
    // Both asked the STUN server; on loopback the reflexive address equals
    // the host address, so no server-reflexive candidate is signalled.
    assert_eq!(answered, 2);
    assert_eq!((sent_a, sent_b), (1, 1));
    // Over loopback the whole thing takes a few Ta, not seconds.
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
}

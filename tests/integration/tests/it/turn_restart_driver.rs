//! An ICE restart through the tokio peer driver, live against coturn
//! (issue 19): the driver opens the new local socket (TURN over UDP) or
//! TCP connection (TURN over TCP) the restart's allocation needs (RFC 8656
//! §7.3: one allocation per 5-tuple) and closes the old one after its
//! deletion. `turn_restart_coturn.rs` opens those sockets by hand; this
//! runs the drivers' own code (`peer/src/relay_transport.rs`).
//!
//! Two relay-only drivers call each other with Opus through coturn; the
//! offerer calls `PeerHandle::restart_ice` and offers again. Asserted: one
//! allocation renewed and one retired at each end, the new relayed
//! candidate's related address (the local end coturn saw) on a new port,
//! the new relay pair selected, the old allocation deleted, no 437, and
//! audio decoded across it with no gap of a second. A few seconds each.
//!
//! Needs root (or user namespaces) and `turnserver` (Debian coturn).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshrtc_ice::{TurnServer, TurnTransport};
use meshrtc_integration::browser::run_in_private_netns;
use meshrtc_media::opus::{OpusDecoder, OpusEncoder};
use meshrtc_media::source::ToneSource;
use meshrtc_peer::driver::{spawn, PeerHandle};
use meshrtc_peer::{PacketizedFrame, PeerEvent, SdpType};
use meshrtc_sdp::negotiate::MediaKind;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::turn_coturn::{Coturn, Member, PASS, USER};
use crate::turn_tcp_coturn::member_config;

/// Two drivers in a call: Opus both ways, candidates forwarded.
struct Call {
    handles: [PeerHandle; 2],
    events: [UnboundedReceiver<PeerEvent>; 2],
    encoders: [OpusEncoder; 2],
    decoders: [OpusDecoder; 2],
    tone: ToneSource,
    rtp_time: u32,
    decoded: [u64; 2],
    last_decoded: [Instant; 2],
    longest_gap: [Duration; 2],
    /// Our trickled candidates, per side.
    candidates: [Vec<String>; 2],
}

impl Call {
    /// Forgets the gaps seen so far.
    fn watch_gaps(&mut self) {
        self.last_decoded = [Instant::now(); 2];
        self.longest_gap = [Duration::ZERO; 2];
    }

    /// Runs the call for `d`, or until `done` holds (checked every 100 ms).
    async fn run(&mut self, d: Duration, done: impl Fn(&Call, &[Probe; 2]) -> bool) -> bool {
        let end = tokio::time::Instant::now() + d;
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut check = tokio::time::interval(Duration::from_millis(100));
        loop {
            let [e0, e1] = &mut self.events;
            let (i, e) = tokio::select! {
                _ = tokio::time::sleep_until(end) => return false,
                _ = check.tick() => {
                    let probes = [probe(&self.handles[0]).await, probe(&self.handles[1]).await];
                    if done(self, &probes) {
                        return true;
                    }
                    continue;
                }
                _ = tick.tick() => {
                    let pcm = self.tone.next_frame();
                    for k in 0..2 {
                        let mids = self.handles[k].sending_mids().await.unwrap_or_default();
                        if let Some((mid, _)) = mids.iter().find(|m| m.1 == MediaKind::Audio) {
                            let packet = self.encoders[k].encode(&pcm).unwrap();
                            let frame = PacketizedFrame::opus(packet.into(), self.rtp_time);
                            let _ = self.handles[k].send_frame(mid, Arc::new(frame));
                        }
                    }
                    self.rtp_time = self.rtp_time.wrapping_add(960);
                    continue;
                }
                e = e0.recv() => (0, e),
                e = e1.recv() => (1, e),
            };
            match e {
                Some(PeerEvent::LocalCandidate(c)) => {
                    self.candidates[i].push(c.candidate.clone());
                    let _ = self.handles[1 - i]
                        .add_remote_candidate(Some(c.candidate))
                        .await;
                }
                Some(PeerEvent::Frame(f)) if self.decoders[i].decode(Some(&f.data)).is_ok() => {
                    let now = Instant::now();
                    self.longest_gap[i] = self.longest_gap[i].max(now - self.last_decoded[i]);
                    self.last_decoded[i] = now;
                    self.decoded[i] += 1;
                }
                Some(_) => {}
                None => return false,
            }
        }
    }
}

/// One side's selected pair and allocations.
struct Probe {
    selected: Option<(SocketAddr, SocketAddr)>,
    allocations: usize,
}

async fn probe(h: &PeerHandle) -> Probe {
    let stats = h.stats().await.unwrap();
    let (turn, _) = h.turn_stats().await.unwrap();
    Probe {
        selected: stats.selected_pair,
        allocations: turn.len(),
    }
}

/// The related address (`raddr`/`rport`: the local end as coturn saw it)
/// of each relayed candidate in `cands`.
fn related_addrs(cands: &[String]) -> Vec<SocketAddr> {
    cands
        .iter()
        .filter(|c| c.contains(" typ relay"))
        .filter_map(|c| {
            let f: Vec<&str> = c.split_whitespace().collect();
            let at = |k: &str| f.iter().position(|w| *w == k).and_then(|p| f.get(p + 1));
            format!("{}:{}", at("raddr")?, at("rport")?).parse().ok()
        })
        .collect()
}

/// `a` offers, `b` answers.
async fn offer_answer(a: &PeerHandle, b: &PeerHandle) {
    let offer = a.create_offer().await.unwrap();
    b.set_remote_description(SdpType::Offer, offer)
        .await
        .unwrap();
    let answer = b.create_answer().await.unwrap();
    a.set_remote_description(SdpType::Answer, answer)
        .await
        .unwrap();
}

#[test]
fn a_driver_ice_restart_allocates_on_a_new_udp_socket() {
    if run_in_private_netns(
        "turn_restart_driver::a_driver_ice_restart_allocates_on_a_new_udp_socket",
    ) {
        restart_over(TurnTransport::Udp);
    }
}

#[test]
fn a_driver_ice_restart_allocates_on_a_new_tcp_connection() {
    if run_in_private_netns(
        "turn_restart_driver::a_driver_ice_restart_allocates_on_a_new_tcp_connection",
    ) {
        restart_over(TurnTransport::Tcp);
    }
}

fn restart_over(transport: TurnTransport) {
    let t0 = Instant::now();
    let lo = "127.0.0.1".parse().unwrap();
    let coturn = Coturn::start(None, lo);
    let server = TurnServer {
        transport,
        ..TurnServer::udp(coturn.addr, USER, PASS)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (a, ea) = spawn(member_config(1, "127.0.0.1", vec![server.clone()]))
            .await
            .unwrap();
        let (b, eb) = spawn(member_config(2, "127.0.0.1", vec![server]))
            .await
            .unwrap();
        a.add_transceiver(MediaKind::Audio, true, true)
            .await
            .unwrap();
        b.add_answer_track(MediaKind::Audio).unwrap();
        offer_answer(&a, &b).await;
        let mut call = Call {
            handles: [a.clone(), b.clone()],
            events: [ea, eb],
            encoders: [0, 1].map(|_| OpusEncoder::new(48_000, 1, 32_000).unwrap()),
            decoders: [0, 1].map(|_| OpusDecoder::new(48_000, 1).unwrap()),
            tone: ToneSource::new(48_000, 1, 440.0),
            rtp_time: 0,
            decoded: [0; 2],
            last_decoded: [Instant::now(); 2],
            longest_gap: [Duration::ZERO; 2],
            candidates: [Vec::new(), Vec::new()],
        };
        let connected = call
            .run(Duration::from_secs(10), |c, p| {
                c.decoded.iter().all(|d| *d >= 25) && p.iter().all(|p| p.selected.is_some())
            })
            .await;
        assert!(
            connected,
            "{transport:?}: no call through coturn: {:?}\ncoturn:\n{}",
            call.decoded,
            coturn.log_tail()
        );
        let connected_after = t0.elapsed();
        let old: Vec<SocketAddr> = [probe(&a).await, probe(&b).await]
            .iter()
            .map(|p| p.selected.unwrap().0)
            .collect();
        let old_related: Vec<Vec<SocketAddr>> =
            call.candidates.iter().map(|c| related_addrs(c)).collect();
        for (i, r) in old_related.iter().enumerate() {
            assert_eq!(r.len(), 1, "member {i}: {:?}", call.candidates[i]);
            assert_eq!(Member::relay_addrs(&call.candidates[i]), [old[i]]);
        }
        // The restart, and the offer/answer it needs.
        call.watch_gaps();
        let decoded = call.decoded;
        let restarted = Instant::now();
        a.restart_ice().unwrap();
        offer_answer(&a, &b).await;
        // Both on a new relay pair, audio decoded on it, and the old
        // allocation deleted (one left).
        let old_ = old.clone();
        let moved = call
            .run(Duration::from_secs(10), move |c, p| {
                (0..2).all(|i| {
                    p[i].selected.is_some_and(|s| s.0 != old_[i])
                        && p[i].allocations == 1
                        && c.decoded[i] >= decoded[i] + 25
                })
            })
            .await;
        let took = restarted.elapsed();
        let after = call.decoded;
        call.run(Duration::from_millis(500), |_, _| false).await;
        for (i, h) in [&a, &b].into_iter().enumerate() {
            let p = probe(h).await;
            let (turn, ice) = h.turn_stats().await.unwrap();
            let ice = ice.unwrap();
            eprintln!(
                "{transport:?} member {i}: {:?}\n{turn:?}\n{ice:?}",
                call.candidates[i]
            );
            assert!(
                moved,
                "{transport:?} member {i}: no new relay pair with the old allocation deleted \
                 after the restart: selected {:?} (old {}), {} allocations, decoded {:?}\n\
                 coturn:\n{}",
                p.selected,
                old[i],
                p.allocations,
                call.decoded,
                coturn.log_tail()
            );
            assert!(ice.relays_renewed >= 1, "member {i}: {ice:?}");
            assert!(ice.relays_retired >= 1, "member {i}: {ice:?}");
            // The new allocation: a new relayed candidate whose local end
            // (as coturn saw it) is a new port, and it is selected.
            let relays = Member::relay_addrs(&call.candidates[i]);
            let related = related_addrs(&call.candidates[i]);
            assert_eq!(relays.len(), 2, "member {i}: {relays:?}");
            assert_eq!(relays[0], old[i]);
            assert_ne!(relays[1], old[i]);
            assert_eq!(related.len(), 2, "member {i}: {related:?}");
            assert_ne!(related[1], related[0], "member {i}: the same local end");
            assert_eq!(p.selected.unwrap().0, relays[1], "member {i}");
            assert_eq!(turn.len(), 1, "member {i}: the old allocation left");
            let s = turn[0].1;
            assert_eq!(s.allocation_mismatches, 0, "member {i}: {s:?}");
            assert!(
                call.decoded[i] >= after[i] + 15,
                "member {i}: no audio after the switch"
            );
            assert!(
                call.longest_gap[i] < Duration::from_secs(1),
                "member {i}: {:?} without decoded audio",
                call.longest_gap[i]
            );
        }
        assert_eq!(a.stats().await.unwrap().ice_restarts, 1);
        eprintln!(
            "{transport:?}: connected after {connected_after:?}; the new relay pair carried \
             media with the old allocation deleted {took:?} after the restart; longest gap \
             without decoded audio {:?}; whole test {:?}",
            call.longest_gap,
            t0.elapsed()
        );
        a.close();
        b.close();
    });
}

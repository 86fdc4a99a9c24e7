//! TURN over TCP and over TLS to coturn (RFC 8656 §3.1, §12.5), live,
//! through the tokio peer driver.
//!
//! In a private network namespace: coturn on 127.0.0.1:3478 (UDP and TCP).
//! Member A's sockets are on 127.0.0.2, and an nftables rule in the
//! namespace's output hook drops every UDP datagram from 127.0.0.2, as a
//! firewall that lets only TCP out would. A is configured with coturn over
//! UDP and over TCP and uses relay candidates only: its UDP Allocate never
//! arrives (the rule's counter shows the drops), the driver's TCP
//! connection carries an allocation, and the call to member B (relay only,
//! UDP to coturn) flows through it: Opus both ways, decoded. The TLS
//! variant gives coturn a self-signed certificate for 127.0.0.1 (port
//! 5349) that A's rustls configuration trusts.
//!
//! Needs root (namespaces, nftables) and `turnserver`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshrtc_ice::{TurnServer, TurnTransport};
use meshrtc_integration::browser::run_in_private_netns;
use meshrtc_media::opus::{OpusDecoder, OpusEncoder};
use meshrtc_media::source::ToneSource;
use meshrtc_mesh::signaling::tls::read_certificates;
use meshrtc_mesh::signaling::ServerTrust;
use meshrtc_peer::driver::{spawn, DriverConfig, PeerHandle};
use meshrtc_peer::{PacketizedFrame, PeerConfig, PeerEvent, SdpType};
use meshrtc_sdp::negotiate::MediaKind;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::turn_coturn::{Coturn, PASS, USER};

/// Audio frames each side must decode.
pub(crate) const FRAMES: u64 = 25;

fn nft(args: &str) -> String {
    let out = Command::new("nft")
        .args(args.split(' '))
        .output()
        .expect("nft (Debian nftables) must be installed: scripts/setup");
    assert!(
        out.status.success(),
        "nft {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The firewall: an nftables rule in this namespace's output hook drops
/// every UDP datagram from 127.0.0.2 (and counts them).
pub(crate) fn drop_udp_from_127_0_0_2() {
    nft("add table inet mtfw");
    nft("add chain inet mtfw out { type filter hook output priority 0 ; }");
    nft("add rule inet mtfw out ip saddr 127.0.0.2 meta l4proto udp counter drop");
}

/// Packets the firewall rule dropped so far.
pub(crate) fn dropped_udp() -> u64 {
    let listing = nft("list chain inet mtfw out");
    listing
        .split_whitespace()
        .skip_while(|w| *w != "packets")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no counter in {listing}"))
}

pub(crate) fn member_config(seed: u8, ip: &str, turn: Vec<TurnServer>) -> DriverConfig {
    let cert = meshrtc_dtls::Certificate::generate("meshrtc").unwrap();
    let mut peer = PeerConfig::new([seed; 32], cert);
    peer.ice.turn_servers = turn;
    peer.ice.relay_only = true;
    let mut cfg = DriverConfig::new(peer);
    cfg.bind = vec![ip.parse().unwrap()];
    cfg.stun_urls.clear();
    cfg
}

/// What a member saw.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    pub(crate) candidates: Vec<String>,
    pub(crate) decoded: u64,
}

/// Forwards candidates to the other side, sends Opus once connected and
/// decodes what arrives, until both decoded `FRAMES` (or 12 s passed).
pub(crate) async fn call(
    peers: [(&PeerHandle, &mut UnboundedReceiver<PeerEvent>); 2],
) -> [Seen; 2] {
    let [(a, ea), (b, eb)] = peers;
    let handles = [a, b];
    let mut seen = [Seen::default(), Seen::default()];
    let mut decoders = [
        OpusDecoder::new(48_000, 1).unwrap(),
        OpusDecoder::new(48_000, 1).unwrap(),
    ];
    let mut encoders = [
        OpusEncoder::new(48_000, 1, 32_000).unwrap(),
        OpusEncoder::new(48_000, 1, 32_000).unwrap(),
    ];
    let mut tone = ToneSource::new(48_000, 1, 440.0);
    let mut rtp_time = 0u32;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let end = tokio::time::Instant::now() + Duration::from_secs(12);
    while seen.iter().any(|s| s.decoded < FRAMES) {
        let (i, e) = tokio::select! {
            _ = tokio::time::sleep_until(end) => break,
            _ = tick.tick() => {
                let pcm = tone.next_frame();
                for (k, h) in handles.iter().enumerate() {
                    let mids = h.sending_mids().await.unwrap_or_default();
                    if let Some((mid, _)) = mids.iter().find(|m| m.1 == MediaKind::Audio) {
                        let packet = encoders[k].encode(&pcm).unwrap();
                        let frame = PacketizedFrame::opus(packet.into(), rtp_time);
                        let _ = h.send_frame(mid, Arc::new(frame));
                    }
                }
                rtp_time = rtp_time.wrapping_add(960);
                continue;
            }
            e = ea.recv() => (0, e),
            e = eb.recv() => (1, e),
        };
        match e {
            Some(PeerEvent::LocalCandidate(c)) => {
                seen[i].candidates.push(c.candidate.clone());
                let _ = handles[1 - i].add_remote_candidate(Some(c.candidate)).await;
            }
            Some(PeerEvent::Frame(f)) if decoders[i].decode(Some(&f.data)).is_ok() => {
                seen[i].decoded += 1;
            }
            Some(_) => {}
            None => break,
        }
    }
    seen
}

#[test]
fn a_member_whose_udp_is_dropped_calls_through_coturn_over_tcp() {
    if run_in_private_netns(
        "turn_tcp_coturn::a_member_whose_udp_is_dropped_calls_through_coturn_over_tcp",
    ) {
        udp_blocked_member_calls_over(TurnTransport::Tcp);
    }
}

#[test]
fn a_member_whose_udp_is_dropped_calls_through_coturn_over_tls() {
    if run_in_private_netns(
        "turn_tcp_coturn::a_member_whose_udp_is_dropped_calls_through_coturn_over_tls",
    ) {
        udp_blocked_member_calls_over(TurnTransport::Tls);
    }
}

/// A self-signed certificate for 127.0.0.1 and its key (PEM files, made
/// by `openssl`).
fn tls_material(dir: &std::path::Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("turn-cert.pem"), dir.join("turn-key.pem"));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
        .args([
            "-subj",
            "/CN=coturn",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        // An end-entity certificate (openssl marks self-signed ones as
        // CAs by default, which webpki refuses for a server).
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// Member A's UDP is dropped; it reaches coturn over `transport` (TCP or
/// TLS) and calls member B.
fn udp_blocked_member_calls_over(transport: TurnTransport) {
    let t0 = Instant::now();
    drop_udp_from_127_0_0_2();
    let lo = "127.0.0.1".parse().unwrap();
    let dir = std::env::temp_dir().join(format!("meshrtc-turn-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (coturn, tls) = match transport {
        TurnTransport::Tls => {
            let (cert, key) = tls_material(&dir);
            // Trust exactly that certificate, for the server's IP address;
            // no ALPN (coturn names none).
            let roots = read_certificates(&cert).unwrap();
            let config = ServerTrust::Roots(roots).client_config().unwrap();
            let mut config = (*config).clone();
            config.alpn_protocols.clear();
            (Coturn::start_tls(lo, &cert, &key), Some(Arc::new(config)))
        }
        _ => (Coturn::start(None, lo), None),
    };
    let udp = TurnServer::udp(coturn.addr, USER, PASS);
    let stream = TurnServer {
        transport,
        addr: match transport {
            TurnTransport::Tls => SocketAddr::new(lo, 5349),
            _ => coturn.addr,
        },
        ..udp.clone()
    };
    let mut a_config = member_config(1, "127.0.0.2", vec![udp.clone(), stream]);
    a_config.turn_tls = tls;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (seen, stats) = rt.block_on(async {
        let (a, mut ea) = spawn(a_config).await.unwrap();
        let (b, mut eb) = spawn(member_config(2, "127.0.0.1", vec![udp]))
            .await
            .unwrap();
        a.add_transceiver(MediaKind::Audio, true, true)
            .await
            .unwrap();
        b.add_answer_track(MediaKind::Audio).unwrap();
        let offer = a.create_offer().await.unwrap();
        let answer = async {
            b.set_remote_description(SdpType::Offer, offer).await?;
            b.create_answer().await
        };
        let answer = answer.await.unwrap();
        a.set_remote_description(SdpType::Answer, answer)
            .await
            .unwrap();
        let seen = call([(&a, &mut ea), (&b, &mut eb)]).await;
        let stats = [a.stats().await.unwrap(), b.stats().await.unwrap()];
        a.close();
        b.close();
        (seen, stats)
    });
    let dropped = dropped_udp();
    eprintln!(
        "A: {:?}\nB: {:?}\nselected {:?} / {:?}; UDP dropped by the firewall: {dropped}; {:?}",
        seen[0],
        seen[1],
        stats[0].selected_pair,
        stats[1].selected_pair,
        t0.elapsed()
    );
    for (i, s) in seen.iter().enumerate() {
        assert!(
            s.decoded >= FRAMES,
            "member {i}: {s:?}\ncoturn:\n{}",
            coturn.log_tail()
        );
        assert!(s.candidates.iter().all(|c| c.contains(" typ relay ")));
    }
    // A tried UDP to coturn and the firewall took it ...
    assert!(dropped > 0);
    // ... so its one relay candidate is the TCP allocation's, whose related
    // address is A's TCP end as coturn saw it (127.0.0.1, not .2: the
    // kernel's source for a connection to 127.0.0.1).
    assert_eq!(seen[0].candidates.len(), 1, "{:?}", seen[0]);
    let (a_local, a_remote) = stats[0].selected_pair.unwrap();
    let (b_local, b_remote) = stats[1].selected_pair.unwrap();
    assert_eq!((a_local, a_remote), (b_remote, b_local));
    for port in [a_local.port(), b_local.port()] {
        assert!((49152..=49252).contains(&port), "relayed ports: {port}");
    }
    assert!(stats[0].dtls_cipher.is_some() && stats[1].dtls_cipher.is_some());
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("{transport:?}: whole test {:?}", t0.elapsed());
}

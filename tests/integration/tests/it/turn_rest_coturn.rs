//! TURN credentials from the signaling server (`meshrtc serve --turn-url
//! --turn-secret`), live against coturn with `use-auth-secret`.
//!
//! In a private network namespace on loopback: coturn shares a secret
//! with the signaling server; two meshrtc members restricted to relay
//! candidates join a room, take the credentials of their `welcome` (and
//! the renewal that follows half-way through their lifetime) and call
//! each other through coturn. Credentials past their expiry are refused by
//! coturn with 401 and counted by the TURN client.
//!
//! Needs root (or user namespaces) and `turnserver` (Debian coturn).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use meshrtc_ice::turn::{rest_credentials, TurnClient, TurnConfig, TurnError, TurnEvent};
use meshrtc_integration::browser::run_in_private_netns;
use meshrtc_media::opus::{OpusDecoder, OpusEncoder};
use meshrtc_media::source::ToneSource;
use meshrtc_mesh::driver::{join, MemberConfig};
use meshrtc_mesh::signaling::{bind, RoomsConfig, ServerConfig, ServerHandle, TurnRest};
use meshrtc_mesh::MeshEvent;
use meshrtc_peer::PacketizedFrame;
use meshrtc_sdp::negotiate::MediaKind;

use crate::turn_coturn::{Coturn, CoturnAuth};
use crate::turn_tcp_coturn::{drop_udp_from_127_0_0_2, dropped_udp};

pub(crate) const SECRET: &str = "meshrtc-shared-secret";
/// Audio frames each member must decode from the other.
const FRAMES: u64 = 25;
/// The credentials' lifetime: the renewal comes half-way, within the test.
const LIFETIME: Duration = Duration::from_secs(10);

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What one member saw by the end.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) decoded: BTreeMap<String, u64>,
    pub(crate) selected: Vec<(SocketAddr, SocketAddr)>,
    dtls: Vec<Option<&'static str>>,
    renewed: u64,
    skipped: u64,
}

/// A relay-only member on `bind` that sends Opus and decodes what it
/// receives, until it decoded `FRAMES` from someone (and saw a credential
/// renewal, with `renewal`), or `limit` passed.
async fn member(ws: String, name: &str, bind: &str, renewal: bool, limit: Duration) -> Outcome {
    let mut cfg = MemberConfig::new(&ws, "turn", name).unwrap();
    cfg.bind = vec![bind.parse().unwrap()];
    cfg.send_video = false;
    cfg.peer.ice.relay_only = true;
    let (m, mut events) = join(cfg).await.unwrap();
    let mut tone = ToneSource::new(48_000, 1, 440.0);
    let mut enc = OpusEncoder::new(48_000, 1, 32_000).unwrap();
    let mut decoders: BTreeMap<String, OpusDecoder> = BTreeMap::new();
    let mut decoded: BTreeMap<String, u64> = BTreeMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let end = tokio::time::Instant::now() + limit;
    let mut rtp_time = 0u32;
    let mut done_at: Option<tokio::time::Instant> = None;
    // The last statistics with the other member in them (it may leave
    // first, and take its connection's figures with it).
    let mut stats = None;
    loop {
        let now_stats = m.stats();
        if let Some(s) = now_stats.as_ref().filter(|s| !s.members.is_empty()) {
            stats = Some(s.clone());
        }
        let renewed = now_stats.map_or(0, |s| s.ice_servers_renewed);
        let renewed = renewed > 0 || !renewal;
        if done_at.is_none() && renewed && decoded.values().any(|&n| n >= FRAMES) {
            // A little longer, so that the other side gets its frames too.
            done_at = Some(tokio::time::Instant::now() + Duration::from_secs(1));
        }
        if done_at.is_some_and(|t| tokio::time::Instant::now() >= t) {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(end) => break,
            _ = tick.tick() => {
                let packet = enc.encode(&tone.next_frame()).unwrap();
                m.send_frame(Arc::new(PacketizedFrame::opus(packet.into(), rtp_time)));
                rtp_time = rtp_time.wrapping_add(960);
            }
            e = events.recv() => match e {
                Some(MeshEvent::Frame { from, frame }) if frame.kind == MediaKind::Audio => {
                    let dec = decoders
                        .entry(from.clone())
                        .or_insert_with(|| OpusDecoder::new(48_000, 1).unwrap());
                    if dec.decode(Some(&frame.data)).is_ok() {
                        *decoded.entry(from).or_default() += 1;
                    }
                }
                Some(_) => {}
                None => break,
            },
        }
    }
    let last = m.stats().expect("member stats");
    let mut stats = stats.unwrap_or_else(|| last.clone());
    stats.ice_servers_renewed = last.ice_servers_renewed;
    m.leave();
    Outcome {
        decoded,
        selected: stats
            .members
            .iter()
            .filter_map(|(_, _, p)| p.selected_pair)
            .collect(),
        dtls: stats
            .members
            .iter()
            .map(|(_, _, p)| p.dtls_cipher)
            .collect(),
        renewed: stats.ice_servers_renewed,
        skipped: stats.ice_servers_skipped,
    }
}

/// An Allocate with `username`/`password` from `from` to coturn at
/// `server`: the client's end state and counters.
fn allocate(from: IpAddr, server: SocketAddr, username: String, password: String) -> TurnClient {
    let socket = UdpSocket::bind(SocketAddr::new(from, 0)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut c = TurnClient::new(TurnConfig::new(server, &username, &password), [7; 32]);
    let t0 = Instant::now();
    c.allocate(t0);
    let mut buf = [0u8; 1500];
    while Instant::now() < t0 + Duration::from_secs(3) {
        while let Some(t) = c.poll_transmit() {
            socket.send_to(&t.payload, t.dst).unwrap();
        }
        if let Ok((n, src)) = socket.recv_from(&mut buf) {
            let _ = c.handle_input(Instant::now(), src, &buf[..n]);
        }
        if c.poll_timeout().is_some_and(|t| t <= Instant::now()) {
            c.handle_timeout(Instant::now());
        }
        let mut finished = false;
        while let Some(e) = c.poll_event() {
            finished |= matches!(e, TurnEvent::Allocated { .. } | TurnEvent::Failed(_));
            if let TurnEvent::Failed(err) = e {
                assert_eq!(err, TurnError::Unauthorized, "{:?}", c.stats());
            }
        }
        if finished {
            break;
        }
    }
    c
}

/// A room whose server hands out credentials for `urls`, and two members
/// in it (ada, grace) bound to `binds`; what they saw, and how many
/// credentials the server issued.
pub(crate) fn two_members(
    urls: Vec<String>,
    binds: [&'static str; 2],
    renewal: bool,
) -> (Outcome, Outcome, u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(room_server(urls));
    let ws = server.ws_url();
    let limit = Duration::from_secs(12);
    let a = rt.spawn(member(ws.clone(), "ada", binds[0], renewal, limit));
    let b = rt.spawn(member(ws, "grace", binds[1], renewal, limit));
    let (a, b) = rt.block_on(async { (a.await.unwrap(), b.await.unwrap()) });
    (a, b, server.stats().rooms.turn_credentials_issued)
}

/// A signaling server that hands out TURN REST credentials for `urls`.
async fn room_server(urls: Vec<String>) -> ServerHandle {
    let rooms = RoomsConfig {
        turn_rest: Some(TurnRest::new(
            urls,
            SECRET,
            LIFETIME,
            Instant::now(),
            unix_now(),
        )),
        ..RoomsConfig::default()
    };
    let config = ServerConfig {
        rooms,
        ..ServerConfig::default()
    };
    bind("127.0.0.1:0", config).await.unwrap()
}

/// The call went through coturn: `FRAMES` decoded, the served TURN entry
/// usable, the selected pair relayed address to relayed address, both on
/// coturn's relay ports (relay only), DTLS done over it.
fn assert_relayed_call(o: &Outcome, coturn: &Coturn) {
    assert!(
        o.decoded.values().any(|&n| n >= FRAMES),
        "{o:?}\ncoturn:\n{}",
        coturn.log_tail()
    );
    assert_eq!(o.skipped, 0);
    assert_eq!(o.selected.len(), 1, "{o:?}");
    let (l, r) = o.selected[0];
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    assert_eq!((l.ip(), r.ip()), (lo, lo));
    assert!((49152..=49252).contains(&l.port()), "{o:?}");
    assert!((49152..=49252).contains(&r.port()), "{o:?}");
    assert!(o.dtls[0].is_some(), "DTLS over the relay: {o:?}");
}

#[test]
fn members_call_through_coturn_with_credentials_from_the_signaling_server() {
    if !run_in_private_netns(
        "turn_rest_coturn::members_call_through_coturn_with_credentials_from_the_signaling_server",
    ) {
        return;
    }
    let t0 = Instant::now();
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let coturn = Coturn::start_with(None, lo, CoturnAuth::RestSecret(SECRET));
    let urls = vec![format!("turn:{}", coturn.addr)];
    let (a, b, issued) = two_members(urls, ["127.0.0.1", "127.0.0.1"], true);
    let took = t0.elapsed();
    eprintln!("ada: {a:?}\ngrace: {b:?}\ncall through coturn with served credentials: {took:?}");
    for o in [&a, &b] {
        assert_relayed_call(o, &coturn);
        // The renewal half-way through the 10 s lifetime reached the node.
        assert!(o.renewed >= 1, "{o:?}");
    }
    // Two welcomes and at least one renewal each.
    assert!(issued >= 4, "{issued}");

    // Credentials from the same secret whose expiry has passed: coturn
    // answers the signed Allocate with 401, which the client counts.
    let expired = rest_credentials(SECRET.as_bytes(), "p9", unix_now() - 5);
    let c = allocate(lo, coturn.addr, expired.username, expired.password);
    assert_eq!(c.stats().unauthorized, 1, "{:?}", c.stats());
    // The same name with a future expiry is accepted.
    let fresh = rest_credentials(SECRET.as_bytes(), "p9", unix_now() + 60);
    let c = allocate(lo, coturn.addr, fresh.username, fresh.password);
    assert_eq!(c.stats().unauthorized, 0);
    assert!(c.relayed_address().is_some(), "{:?}", c.stats());
    eprintln!("whole test: {:?}", t0.elapsed());
}

/// `meshrtc join` behind a firewall that lets no UDP out: the room names
/// coturn over UDP and over TCP (`?transport=tcp`); the mesh driver opens
/// a TCP connection per slot, and the member calls through it.
#[test]
fn a_mesh_member_whose_udp_is_dropped_joins_through_coturn_over_tcp() {
    if !run_in_private_netns(
        "turn_rest_coturn::a_mesh_member_whose_udp_is_dropped_joins_through_coturn_over_tcp",
    ) {
        return;
    }
    let t0 = Instant::now();
    drop_udp_from_127_0_0_2();
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let coturn = Coturn::start_with(None, lo, CoturnAuth::RestSecret(SECRET));
    let urls = vec![
        format!("turn:{}", coturn.addr),
        format!("turn:{}?transport=tcp", coturn.addr),
    ];
    let (a, b, _) = two_members(urls, ["127.0.0.2", "127.0.0.1"], false);
    let dropped = dropped_udp();
    eprintln!(
        "ada: {a:?}\ngrace: {b:?}\nUDP dropped: {dropped}; TCP mesh call: {:?}",
        t0.elapsed()
    );
    for o in [&a, &b] {
        assert_relayed_call(o, &coturn);
    }
    // ada's UDP to coturn was dropped: the firewall counted it.
    assert!(dropped > 0);
}

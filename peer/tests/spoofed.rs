//! Datagrams are accepted only from paths ICE validated (RFC 8445 §12):
//! a spoofed DTLS fragment and plaintext alert during a real handshake are
//! dropped before DTLS when they come from an address ICE never checked,
//! and dropped-and-counted by DTLS itself (RFC 6347 §4.1.2.7) when they
//! carry the peer's own validated address. Either way the handshake
//! completes, and spoofed SRTP afterwards costs nothing. Each DTLS case
//! runs with DTLS 1.2 and with DTLS 1.3 (RFC 9147 §4.5.2: records that
//! fail to deprotect are dropped and counted), where a tampered copy of
//! the peer's protected record is dropped too.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use meshrtc_peer::{
    ConnectionState, DtlsVersions, PacketizedFrame, PeerConfig, PeerConnection, PeerEvent, SdpType,
};
use meshrtc_rtp::vp8::Vp8Packetizer;
use meshrtc_sdp::negotiate::MediaKind;

/// A DTLS 1.2 plaintext record (epoch 0).
fn record(content_type: u8, seq: u64, body: &[u8]) -> Vec<u8> {
    let mut r = vec![content_type, 0xfe, 0xfd, 0, 0];
    r.extend_from_slice(&seq.to_be_bytes()[2..]);
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// A ClientHello fragment with `message_seq` 1 (the seq a second hello
/// only has after a HelloVerifyRequest): one forged datagram of this kind
/// used to make every real ClientHello wait for the 30 s deadline.
fn forged_hello_fragment() -> Vec<u8> {
    let mut h = vec![1, 0, 0, 40, 0, 1, 0, 0, 0, 0, 0, 10];
    h.extend_from_slice(&[0xAB; 10]);
    record(22, 7, &h)
}

/// A fatal handshake_failure alert in the clear.
fn forged_alert() -> Vec<u8> {
    record(21, 8, &[2, 40])
}

struct Side {
    pc: PeerConnection,
    addr: SocketAddr,
}

fn pair(versions: DtlsVersions) -> (Instant, Side, Side) {
    let now = Instant::now();
    let mk = |seed, addr: &str| {
        let addr: SocketAddr = addr.parse().unwrap();
        let mut config = PeerConfig::with_fixed_seed(seed);
        config.dtls_versions = versions;
        let mut pc = PeerConnection::new(config, now).unwrap();
        pc.add_local_address(addr);
        Side { pc, addr }
    };
    let mut a = mk(1, "127.0.0.1:4001");
    let mut b = mk(2, "127.0.0.1:4002");
    a.pc.add_transceiver(MediaKind::Video, true, true);
    b.pc.add_answer_track(MediaKind::Video);
    let offer = a.pc.create_offer(now).unwrap();
    b.pc.set_remote_description(now, SdpType::Offer, &offer)
        .unwrap();
    let answer = b.pc.create_answer(now).unwrap();
    a.pc.set_remote_description(now, SdpType::Answer, &answer)
        .unwrap();
    (now, a, b)
}

/// When the forgeries land.
#[derive(Clone, Copy)]
enum At {
    /// Right after the first datagram of b's DTLS reached a (a is the
    /// DTLS server: it offered actpass and b answered active).
    AfterFirstDtls,
    /// Right before b's first protected DTLS 1.3 record (a unified
    /// header, RFC 9147 §4) reaches a: a chose 1.3 and has its keys.
    BeforeFirstProtected,
}

/// Runs the call one datagram at a time; `inject` is called once, at
/// `at` in the middle of the handshake, with b's datagram of that moment.
fn run(
    versions: DtlsVersions,
    at: At,
    inject: impl FnOnce(Instant, &mut Side, &Side, &[u8]),
) -> (Side, Side) {
    let (mut now, mut a, mut b) = pair(versions);
    let mut inject = Some(inject);
    for _ in 0..3000 {
        let mut moved = false;
        while let Some(t) = b.pc.poll_transmit() {
            moved = true;
            let dtls = (20..=63).contains(&t.payload[0]);
            let protected = t.payload[0] & 0xe0 == 0x20;
            if let (At::BeforeFirstProtected, true) = (at, protected) {
                if let Some(f) = inject.take() {
                    f(now, &mut a, &b, &t.payload);
                }
            }
            a.pc.handle_datagram(now, t.src, t.dst, &t.payload);
            if let (At::AfterFirstDtls, true) = (at, dtls) {
                if let Some(f) = inject.take() {
                    f(now, &mut a, &b, &t.payload);
                }
            }
        }
        while let Some(t) = a.pc.poll_transmit() {
            moved = true;
            // Nothing is ever sent to a forger: flights and answers go
            // only to validated addresses.
            assert_eq!(t.dst, b.addr, "a sent to {}", t.dst);
            b.pc.handle_datagram(now, t.src, t.dst, &t.payload);
        }
        while a.pc.poll_event().is_some() || b.pc.poll_event().is_some() {}
        if a.pc.state() == ConnectionState::Connected && b.pc.state() == ConnectionState::Connected
        {
            break;
        }
        if !moved {
            let next = [a.pc.poll_timeout(), b.pc.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
                .unwrap();
            now = now.max(next);
            a.pc.handle_timeout(now);
            b.pc.handle_timeout(now);
        }
    }
    assert!(inject.is_none(), "b's DTLS never reached a");
    (a, b)
}

#[test]
fn forgeries_from_an_address_ice_never_checked_never_reach_dtls() {
    let spoofed: SocketAddr = "127.0.0.1:6666".parse().unwrap();
    for (versions, at) in [
        (DtlsVersions::Dtls12Only, At::AfterFirstDtls),
        (DtlsVersions::Both, At::BeforeFirstProtected),
    ] {
        let (a, b) = run(versions, at, |now, a, _b, _| {
            a.pc.handle_datagram(now, spoofed, a.addr, &forged_hello_fragment());
            a.pc.handle_datagram(now, spoofed, a.addr, &forged_alert());
        });
        assert_eq!(a.pc.state(), ConnectionState::Connected);
        assert_eq!(b.pc.state(), ConnectionState::Connected);
        let st = a.pc.stats();
        assert_eq!(st.unvalidated_dropped, 2, "{st:?}");
        // Not one counter of either version moved.
        if let Some(dtls) = &st.dtls {
            assert_eq!(dtls.plaintext_alerts, 0, "never reached DTLS: {dtls:?}");
            assert_eq!(dtls.unexpected_seq, 0, "{dtls:?}");
        } else {
            assert_eq!(st.dtls_version, Some("DTLS 1.3"), "{st:?}");
            let dtls = st.dtls13.unwrap();
            assert_eq!(dtls.plaintext_alerts, 0, "never reached DTLS: {dtls:?}");
            assert_eq!(dtls.plaintext_handshake_refused, 0, "{dtls:?}");
        }
    }
}

#[test]
fn spoofed_srtp_is_dropped_before_any_work_and_the_call_goes_on() {
    let (mut a, mut b) = run(DtlsVersions::Both, At::AfterFirstDtls, |_, _, _, _| {});
    let now = Instant::now() + Duration::from_secs(1);
    let mid = a.pc.sending_mids()[0].0.clone();
    let mut pk = Vp8Packetizer::new(1);
    let f: Vec<u8> = vec![0x10; 600];
    let frame = PacketizedFrame::vp8(&mut pk, f.into(), 0, 1100).unwrap();
    a.pc.send_frame(now, &mid, &frame).unwrap();
    let mut rtp = None;
    for _ in 0..100 {
        if let Some(t) = a.pc.poll_transmit() {
            if t.payload[0] >> 6 == 2 {
                rtp = Some(t);
                break;
            }
        } else {
            let next = a.pc.poll_timeout().unwrap();
            a.pc.handle_timeout(next.max(now));
        }
    }
    let t = rtp.expect("a sent the frame");
    let spoofed: SocketAddr = "127.0.0.1:6666".parse().unwrap();
    // The real packet replayed from elsewhere, and garbage RTP.
    b.pc.handle_datagram(now, spoofed, t.dst, &t.payload);
    b.pc.handle_datagram(
        now,
        spoofed,
        t.dst,
        &[0x80, 96, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4],
    );
    let st = b.pc.stats();
    assert_eq!(st.unvalidated_dropped, 2, "{st:?}");
    assert_eq!(st.srtp_errors, 0, "not even decrypted");
    // The same packet from the peer is taken.
    b.pc.handle_datagram(now, t.src, t.dst, &t.payload);
    let mut frames = 0;
    while let Some(e) = b.pc.poll_event() {
        frames += usize::from(matches!(e, PeerEvent::Frame(_)));
    }
    assert_eq!(frames, 1);
    assert_eq!(b.pc.state(), ConnectionState::Connected);
}

/// A forged hello fragment and a plaintext alert with the peer's own
/// (validated) address: counted by DTLS, the handshake completes. With
/// DTLS 1.3 also garbage in a unified header and a tampered copy of the
/// peer's first protected datagram, sent ahead of the real one.
#[test]
fn forgeries_with_the_peers_own_address_are_counted_by_dtls_and_the_handshake_completes() {
    for (versions, at) in [
        (DtlsVersions::Dtls12Only, At::AfterFirstDtls),
        (DtlsVersions::Both, At::BeforeFirstProtected),
    ] {
        let v13 = versions == DtlsVersions::Both;
        let (a, b) = run(versions, at, |now, a, b, real| {
            a.pc.handle_datagram(now, b.addr, a.addr, &forged_hello_fragment());
            a.pc.handle_datagram(now, b.addr, a.addr, &forged_alert());
            if v13 {
                // RFC 9147 §4: 0b001 prefix, epoch 2, 16-bit sequence.
                a.pc.handle_datagram(now, b.addr, a.addr, &[0x2a, 0x00, 0x01, 0xde, 0xad]);
                let mut tampered = real.to_vec();
                *tampered.last_mut().unwrap() ^= 0x5a;
                a.pc.handle_datagram(now, b.addr, a.addr, &tampered);
            }
        });
        assert_eq!(a.pc.state(), ConnectionState::Connected);
        assert_eq!(b.pc.state(), ConnectionState::Connected);
        let st = a.pc.stats();
        assert_eq!(st.unvalidated_dropped, 0, "{st:?}");
        if !v13 {
            let dtls = st.dtls.unwrap();
            assert_eq!(dtls.plaintext_alerts, 1, "{dtls:?}");
            assert!(
                dtls.unexpected_seq + dtls.late_handshake + dtls.conflicting_fragments >= 1,
                "the forged fragment was dropped and counted: {dtls:?}"
            );
            continue;
        }
        assert_eq!(st.dtls_version, Some("DTLS 1.3"), "{st:?}");
        let dtls = st.dtls13.unwrap();
        assert_eq!(dtls.plaintext_alerts, 1, "{dtls:?}");
        assert_eq!(dtls.plaintext_handshake_refused, 1, "{dtls:?}");
        // The garbage: too short to unmask, or unauthenticated.
        assert!(
            dtls.records.malformed + dtls.records.auth_failures >= 2,
            "{dtls:?}"
        );
        assert!(
            dtls.records.auth_failures >= 1,
            "the tampered copy was dropped and counted: {dtls:?}"
        );
    }
}

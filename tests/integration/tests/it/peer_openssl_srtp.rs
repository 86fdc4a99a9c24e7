//! SRTP keys in the right direction, proved against an independent keyer.
//!
//! The other side is a small peer made of our ICE agent, OpenSSL's DTLS and
//! libsrtp2 keyed by the `srtp` crate's OpenSSL helper (`session_pair`,
//! which takes the exporter output and the DTLS role from OpenSSL itself).
//! Our PeerConnection must exchange protected RTP with it whether we are
//! the DTLS server (we offer `actpass`, it answers `active`) or the DTLS
//! client (it offers `passive`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use meshrtc_ice::{IceAgent, IceConfig, IceEvent};
use meshrtc_integration::openssl_dtls::{
    self_signed_p256, OpensslDtls, OpensslDtlsConfig, Role as OsslRole,
};
use meshrtc_peer::candidate;
use meshrtc_peer::{
    ConnectionState, PacketizedFrame, PeerConfig, PeerConnection, PeerEvent, SdpType,
};
use meshrtc_rtp::vp8::Vp8Packetizer;
use meshrtc_rtp::RtpPacket;
use meshrtc_sdp::negotiate::{
    create_answer, create_offer, negotiate, Features, Fingerprint, LocalParams, MediaKind,
    SendTrack, Transceiver,
};
use meshrtc_sdp::SessionDescription;

const THEIR_SSRC: u32 = 0x0ddba11;

/// The independent peer.
struct Other {
    addr: SocketAddr,
    ice: IceAgent,
    dtls: Option<OpensslDtls>,
    dtls_config: OpensslDtlsConfig,
    role: OsslRole,
    selected: Option<(SocketAddr, SocketAddr)>,
    srtp: Option<(
        srtp::openssl::InboundSession,
        srtp::openssl::OutboundSession,
    )>,
    out: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    received: Vec<Vec<u8>>,
}

impl Other {
    fn new(role: OsslRole, controlling: bool, now: Instant) -> (Other, String) {
        let addr: SocketAddr = "127.0.0.1:6001".parse().unwrap();
        let mut cfg = IceConfig::controlled(99);
        cfg.controlling = controlling;
        let mut ice = IceAgent::new(cfg, now);
        ice.add_local_host(addr).unwrap();
        ice.start_gathering(now);
        let (cert, key) = self_signed_p256("other").unwrap();
        let der = openssl::x509::X509::from_pem(cert.as_bytes())
            .unwrap()
            .to_der()
            .unwrap();
        let fp = meshrtc_dtls::Fingerprint::of_der(&der).to_string();
        let dtls_config = OpensslDtlsConfig::webrtc(role, cert, key);
        (
            Other {
                addr,
                ice,
                dtls: None,
                dtls_config,
                role,
                selected: None,
                srtp: None,
                out: Vec::new(),
                received: Vec::new(),
            },
            fp,
        )
    }

    fn local_params(&self, fp: &str) -> LocalParams {
        LocalParams {
            ice_ufrag: self.ice.local_ufrag().into(),
            ice_pwd: self.ice.local_pwd().into(),
            fingerprint: Fingerprint {
                hash: "sha-256".into(),
                value: fp.into(),
            },
            cname: "other".into(),
            session_id: 42,
            session_version: 1,
            candidates: self.ice.local_candidates().map(candidate::to_sdp).collect(),
            end_of_candidates: true,
        }
    }

    fn learn(&mut self, now: Instant, local: &str, remote: &str, we_offered: bool) {
        let l = SessionDescription::parse(local).unwrap();
        let r = SessionDescription::parse(remote).unwrap();
        let n = negotiate(&l, &r, we_offered).unwrap();
        self.ice
            .set_remote_credentials(now, &n.remote_ufrag, &n.remote_pwd)
            .unwrap();
        for c in &n.remote_candidates {
            if let Ok(c) = candidate::from_sdp(c) {
                self.ice.add_remote_candidate(now, c).unwrap();
            }
        }
        if self.role == OsslRole::Server {
            self.dtls = Some(OpensslDtls::new(&self.dtls_config).unwrap());
        }
    }

    fn pump(&mut self) {
        while let Some(t) = self.ice.poll_transmit() {
            self.out.push((t.src, t.dst, t.payload));
        }
        while let Some(e) = self.ice.poll_event() {
            if let IceEvent::SelectedPair { local, remote, .. } = e {
                self.selected = Some((local, remote));
            }
        }
        if self.selected.is_some() && self.dtls.is_none() {
            let mut d = OpensslDtls::new(&self.dtls_config).unwrap();
            let _ = d.drive();
            self.dtls = Some(d);
        }
        if let (Some(d), Some((src, dst))) = (&mut self.dtls, self.selected) {
            while let Some(p) = d.poll_transmit() {
                self.out.push((src, dst, p));
            }
            if d.is_established() && self.srtp.is_none() {
                self.srtp = Some(
                    srtp::openssl::session_pair(d.ssl(), srtp::openssl::Config::default()).unwrap(),
                );
            }
        }
    }

    fn input(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        match data[0] {
            0..=3 => {
                let _ = self.ice.handle_datagram(now, from, self.addr, data);
            }
            20..=63 => {
                if self.selected.is_none() {
                    self.selected = Some((self.addr, from));
                }
                if let Some(d) = &mut self.dtls {
                    d.handle_datagram(data);
                }
            }
            128..=191 if !(192..=223).contains(&data[1]) => {
                if let Some((inbound, _)) = &mut self.srtp {
                    let mut buf = data.to_vec();
                    if inbound.unprotect(&mut buf).is_ok() {
                        self.received.push(buf);
                    }
                }
            }
            _ => {}
        }
        self.pump();
    }

    /// One VP8 key frame in one RTP packet, protected by libsrtp.
    fn send_rtp(&mut self, seq: u16, payload: &[u8]) {
        let (Some((_, outbound)), Some((src, dst))) = (&mut self.srtp, self.selected) else {
            return;
        };
        let mut p = vec![0x80, 0x80 | 96];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&(u32::from(seq) * 3000).to_be_bytes());
        p.extend_from_slice(&THEIR_SSRC.to_be_bytes());
        p.extend_from_slice(payload);
        outbound.protect(&mut p).unwrap();
        self.out.push((src, dst, p));
    }
}

fn vp8_key_frame(n: u8) -> Vec<u8> {
    // VP8 payload descriptor (S=1, PID 0), then a key frame (P bit clear).
    let mut v = vec![0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a];
    v.extend(std::iter::repeat_n(n, 200));
    v
}

fn run(we_offer: bool) {
    let mut now = Instant::now();
    let ours_addr: SocketAddr = "127.0.0.1:6000".parse().unwrap();
    let mut pc = PeerConnection::new(PeerConfig::with_fixed_seed(5), now).unwrap();
    pc.add_local_address(ours_addr);
    let track = SendTrack {
        stream_id: "s".into(),
        track_id: "t".into(),
        ssrc: THEIR_SSRC,
        rtx_ssrc: None,
    };
    // Who offers decides the roles: our actpass offer is answered
    // `active` (OpenSSL is the DTLS client); their offer says `passive`.
    let (mut other, ours_role) = if we_offer {
        let (mut o, fp) = Other::new(OsslRole::Client, false, now);
        pc.add_transceiver(MediaKind::Video, true, true);
        let offer = pc.create_offer(now).unwrap();
        let parsed = SessionDescription::parse(&offer).unwrap();
        let answer = create_answer(
            &parsed,
            &o.local_params(&fp),
            &Features::default(),
            &[(MediaKind::Video, track)],
        )
        .unwrap()
        .to_string();
        pc.set_remote_description(now, SdpType::Answer, &answer)
            .unwrap();
        o.learn(now, &answer, &offer, false);
        (o, "server")
    } else {
        let (mut o, fp) = Other::new(OsslRole::Server, true, now);
        let t = Transceiver {
            mid: "0".into(),
            kind: MediaKind::Video,
            send: Some(track),
            receive: true,
            stopped: false,
        };
        let offer = create_offer(&o.local_params(&fp), &Features::default(), &[t])
            .unwrap()
            .to_string()
            .replace("a=setup:actpass", "a=setup:passive");
        pc.add_answer_track(MediaKind::Video);
        pc.set_remote_description(now, SdpType::Offer, &offer)
            .unwrap();
        let answer = pc.create_answer(now).unwrap();
        assert!(answer.contains("a=setup:active"));
        o.learn(now, &offer, &answer, true);
        (o, "client")
    };
    other.pump();

    let mut pk = Vp8Packetizer::new(1);
    let mut sent = 0u16;
    let mut frames = Vec::new();
    for step in 0..3000 {
        for (src, dst, p) in std::mem::take(&mut other.out) {
            if dst == ours_addr {
                pc.handle_datagram(now, src, dst, &p);
            }
        }
        while let Some(t) = pc.poll_transmit() {
            if t.dst == other.addr {
                other.input(now, t.src, &t.payload);
            }
        }
        while let Some(e) = pc.poll_event() {
            if let PeerEvent::Frame(f) = e {
                frames.push(f.data);
            }
        }
        if pc.state() == ConnectionState::Connected && other.srtp.is_some() && sent < 5 {
            other.send_rtp(sent, &vp8_key_frame(sent as u8));
            let mut f = vec![0x10, 0, 0];
            f.extend(std::iter::repeat_n(sent as u8, 300));
            let frame =
                PacketizedFrame::vp8(&mut pk, f.into(), u32::from(sent) * 3000, 1100).unwrap();
            let mid = pc.sending_mids()[0].0.clone();
            pc.send_frame(now, &mid, &frame).unwrap();
            sent += 1;
        }
        if sent == 5 && frames.len() == 5 && other.received.len() == 5 {
            break;
        }
        now += Duration::from_millis(5);
        pc.handle_timeout(now);
        other.ice.handle_timeout(now);
        if let Some(d) = &mut other.dtls {
            d.handle_timeout();
        }
        other.pump();
        assert!(
            step < 2999,
            "stalled: {:?} {:?}",
            pc.stats().state,
            other.dtls
        );
    }
    assert_eq!(pc.stats().dtls_role, Some(ours_role));
    // libsrtp decrypted what we protected...
    assert_eq!(other.received.len(), 5);
    for (i, pkt) in other.received.iter().enumerate() {
        let p = RtpPacket::parse(pkt).unwrap();
        let mut frame = vec![0x10, 0, 0];
        frame.extend_from_slice(&[i as u8; 300]);
        // Our VP8 payload descriptor, then the frame.
        assert!(p.payload().ends_with(&frame), "frame {i}");
        assert_eq!(p.payload().len(), frame.len() + 4, "4-byte descriptor");
    }
    // ...and we decrypted what libsrtp protected.
    assert_eq!(frames.len(), 5);
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f, &vp8_key_frame(i as u8)[1..], "frame {i}");
    }
    assert_eq!(pc.stats().srtp_errors, 0);
}

#[test]
fn srtp_with_an_openssl_keyed_libsrtp_peer_when_we_are_the_dtls_server() {
    run(true);
}

#[test]
fn srtp_with_an_openssl_keyed_libsrtp_peer_when_we_are_the_dtls_client() {
    run(false);
}

//! Cross-implementation tests against libsrtp2 (the `srtp` crate, which
//! builds libsrtp from source and links it to OpenSSL): for every profile,
//! 10,000 RTP packets (across a sequence-number wrap) and 1,000 RTCP packets
//! protected by meshrtc unprotect with libsrtp2, and the other way round;
//! replayed and tampered packets are refused by both.

use meshrtc_srtp::{Config, Context, MasterKey, Profile, SrtpError};
use srtp::session::{Session, StreamPolicy};
use srtp::CryptoPolicy;

/// xorshift64*: deterministic packets.
struct Gen(u64);
impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const SSRC: u32 = 0x1234_5678;
const PACKETS: u32 = 10_000;
/// Sequence numbers start here, so the run crosses the 16-bit wrap.
const FIRST_SEQ: u16 = 60_000;

/// An RTP packet with sometimes CSRCs and a one-byte header extension, and
/// payloads from 0 to 1200 bytes.
fn rtp(g: &mut Gen, i: u32) -> Vec<u8> {
    let seq = FIRST_SEQ.wrapping_add(i as u16);
    let cc = if i % 7 == 0 { 2 } else { 0 };
    let ext = i % 5 == 0;
    let mut p = Vec::with_capacity(1500);
    p.push(0x80 | cc | if ext { 0x10 } else { 0 });
    p.push(if i % 30 == 29 { 0x80 | 96 } else { 96 });
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(i * 3000).to_be_bytes());
    p.extend_from_slice(&SSRC.to_be_bytes());
    for c in 0..cc {
        p.extend_from_slice(&(0xC000 + c as u32).to_be_bytes());
    }
    if ext {
        p.extend_from_slice(&[0xBE, 0xDE, 0x00, 0x01, 0x10, 0xAB, 0x00, 0x00]);
    }
    let n = (g.next() % 1201) as usize;
    p.extend_from_slice(&g.bytes(n));
    p
}

/// An RTCP receiver report with a report block, then SDES, as a compound.
fn rtcp(g: &mut Gen) -> Vec<u8> {
    let mut p = vec![0x81, 201, 0x00, 0x07];
    p.extend_from_slice(&SSRC.to_be_bytes());
    p.extend_from_slice(&g.bytes(24));
    p.extend_from_slice(&[0x81, 202, 0x00, 0x03]);
    p.extend_from_slice(&SSRC.to_be_bytes());
    p.extend_from_slice(&[1, 4, b'm', b'e', b's', b'h', 0, 0]);
    p
}

fn policies(profile: Profile) -> (CryptoPolicy, CryptoPolicy) {
    match profile {
        Profile::Aes128CmHmacSha1_80 => (
            CryptoPolicy::aes_cm_128_hmac_sha1_80(),
            CryptoPolicy::aes_cm_128_hmac_sha1_80(),
        ),
        // RFC 5764 §4.1.2: SRTCP keeps the 80-bit tag.
        Profile::Aes128CmHmacSha1_32 => (
            CryptoPolicy::aes_cm_128_hmac_sha1_32(),
            CryptoPolicy::aes_cm_128_hmac_sha1_80(),
        ),
        Profile::AeadAes128Gcm => (
            CryptoPolicy::aes_gcm_128_16_auth(),
            CryptoPolicy::aes_gcm_128_16_auth(),
        ),
        Profile::AeadAes256Gcm => (
            CryptoPolicy::aes_gcm_256_16_auth(),
            CryptoPolicy::aes_gcm_256_16_auth(),
        ),
    }
}

fn libsrtp(profile: Profile, key_salt: &[u8], inbound: bool) -> Session {
    let (rtp, rtcp) = policies(profile);
    let policy = StreamPolicy {
        rtp,
        rtcp,
        key: key_salt,
        window_size: 1024,
        allow_repeat_tx: false,
        encrypt_extension_headers: &[],
    };
    if inbound {
        Session::with_inbound_template(policy).unwrap()
    } else {
        Session::with_outbound_template(policy).unwrap()
    }
}

fn key_salt(profile: Profile, seed: u64) -> Vec<u8> {
    Gen(seed).bytes(profile.master_key_len() + profile.master_salt_len())
}

fn ours_to_libsrtp(profile: Profile) {
    let ks = key_salt(profile, 1);
    let master = MasterKey::from_concatenated(profile, &ks).unwrap();
    let mut tx = Context::new(&master, Config::default());
    let mut rx = libsrtp(profile, &ks, true);
    let mut g = Gen(42);
    let mut last = Vec::new();
    for i in 0..PACKETS {
        let plain = rtp(&mut g, i);
        let mut pkt = plain.clone();
        tx.protect_rtp(&mut pkt).unwrap();
        assert_eq!(pkt.len(), plain.len() + profile.rtp_tag_len());
        last = pkt.clone();
        rx.unprotect(&mut pkt)
            .unwrap_or_else(|e| panic!("{profile}: packet {i}: {e:?}"));
        assert_eq!(pkt, plain, "{profile}: packet {i}");
        if i % 10 == 0 {
            let plain = rtcp(&mut g);
            let mut pkt = plain.clone();
            tx.protect_rtcp(&mut pkt).unwrap();
            rx.unprotect_rtcp(&mut pkt)
                .unwrap_or_else(|e| panic!("{profile}: rtcp {i}: {e:?}"));
            assert_eq!(pkt, plain);
        }
    }
    assert_eq!(tx.roc(SSRC), Some(1), "the sequence number wrapped once");
    // libsrtp refuses a replay and a tampered packet of ours.
    let mut replay = last.clone();
    assert!(
        rx.unprotect(&mut replay).is_err(),
        "{profile}: replay accepted by libsrtp"
    );
    let mut pkt = rtp(&mut g, PACKETS);
    tx.protect_rtp(&mut pkt).unwrap();
    let n = pkt.len();
    pkt[n / 2] ^= 0x01;
    assert!(
        rx.unprotect(&mut pkt).is_err(),
        "{profile}: tampered packet accepted by libsrtp"
    );
}

fn libsrtp_to_ours(profile: Profile) {
    let ks = key_salt(profile, 2);
    let master = MasterKey::from_concatenated(profile, &ks).unwrap();
    let mut tx = libsrtp(profile, &ks, false);
    let mut rx = Context::new(&master, Config::default());
    let mut g = Gen(43);
    let mut last = Vec::new();
    let mut last_rtcp = Vec::new();
    for i in 0..PACKETS {
        let plain = rtp(&mut g, i);
        let mut pkt = plain.clone();
        tx.protect(&mut pkt).unwrap();
        last = pkt.clone();
        rx.unprotect_rtp(&mut pkt)
            .unwrap_or_else(|e| panic!("{profile}: packet {i}: {e}"));
        assert_eq!(pkt, plain, "{profile}: packet {i}");
        if i % 10 == 0 {
            let plain = rtcp(&mut g);
            let mut pkt = plain.clone();
            tx.protect_rtcp(&mut pkt).unwrap();
            last_rtcp = pkt.clone();
            rx.unprotect_rtcp(&mut pkt)
                .unwrap_or_else(|e| panic!("{profile}: rtcp {i}: {e}"));
            assert_eq!(pkt, plain);
        }
    }
    assert_eq!(rx.roc(SSRC), Some(1));
    // We refuse replays and tampering, and neither changes our state.
    let mut replay = last.clone();
    assert!(
        matches!(rx.unprotect_rtp(&mut replay), Err(SrtpError::Replayed(_))),
        "{profile}"
    );
    let mut replay = last_rtcp.clone();
    assert!(
        matches!(rx.unprotect_rtcp(&mut replay), Err(SrtpError::Replayed(_))),
        "{profile}"
    );
    let mut next = rtp(&mut g, PACKETS);
    let plain_next = next.clone();
    tx.protect(&mut next).unwrap();
    let mut forged = next.clone();
    let n = forged.len();
    forged[n - 1] ^= 0x80;
    assert_eq!(rx.unprotect_rtp(&mut forged), Err(SrtpError::AuthFailed));
    // A forged packet 30,000 ahead would move the replay window past every
    // real packet if it were accepted: it is refused and changes nothing.
    let mut far = next.clone();
    let seq = u16::from_be_bytes([far[2], far[3]]).wrapping_add(30_000);
    far[2..4].copy_from_slice(&seq.to_be_bytes());
    assert_eq!(rx.unprotect_rtp(&mut far), Err(SrtpError::AuthFailed));
    assert_eq!(rx.roc(SSRC), Some(1));
    rx.unprotect_rtp(&mut next).unwrap();
    assert_eq!(next, plain_next);
    // A forged packet of an unknown SSRC creates no stream.
    let mut stranger = rtp(&mut g, 0);
    stranger[8..12].copy_from_slice(&[9, 9, 9, 9]);
    stranger.extend_from_slice(&vec![0; profile.rtp_tag_len()]);
    assert_eq!(rx.unprotect_rtp(&mut stranger), Err(SrtpError::AuthFailed));
    assert_eq!(rx.roc(0x0909_0909), None);
}

#[test]
fn aes128_cm_sha1_80_interoperates_with_libsrtp2() {
    ours_to_libsrtp(Profile::Aes128CmHmacSha1_80);
    libsrtp_to_ours(Profile::Aes128CmHmacSha1_80);
}

#[test]
fn aes128_cm_sha1_32_interoperates_with_libsrtp2() {
    ours_to_libsrtp(Profile::Aes128CmHmacSha1_32);
    libsrtp_to_ours(Profile::Aes128CmHmacSha1_32);
}

#[test]
fn aead_aes128_gcm_interoperates_with_libsrtp2() {
    ours_to_libsrtp(Profile::AeadAes128Gcm);
    libsrtp_to_ours(Profile::AeadAes128Gcm);
}

#[test]
fn aead_aes256_gcm_interoperates_with_libsrtp2() {
    ours_to_libsrtp(Profile::AeadAes256Gcm);
    libsrtp_to_ours(Profile::AeadAes256Gcm);
}

#[test]
fn the_libsrtp_under_test_is_libsrtp2() {
    let v = srtp::get_version_string();
    assert!(v.starts_with("libsrtp2"), "{v}");
    eprintln!("oracle: {v}");
}

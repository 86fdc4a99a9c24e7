//! A fresh PeerConnection fed a fuzzed remote offer (then an answer of
//! ours), fuzzed trickled candidates, and fuzzed datagrams on its socket,
//! with a virtual clock: never a panic, and whatever it sends goes from
//! its own address.
//!
//! Input: `[len: u16 BE][offer text]`, then items `[tag][len: u16 BE][bytes]`
//! where tag 0 is a candidate, 1 a datagram, 2 a clock step of `len` ms.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use meshrtc_dtls::Certificate;
use meshrtc_peer::{PeerConfig, PeerConnection, SdpType};
use meshrtc_sdp::negotiate::MediaKind;

fn setup() -> &'static (Certificate, Instant) {
    static S: OnceLock<(Certificate, Instant)> = OnceLock::new();
    S.get_or_init(|| {
        (
            Certificate::generate("fuzz").expect("certificate"),
            Instant::now(),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let (cert, base) = setup();
    let mut now = *base;
    let cfg = PeerConfig::new([1; 32], cert.clone());
    let Ok(mut pc) = PeerConnection::new(cfg, now) else {
        return;
    };
    let local = "127.0.0.1:5000".parse().unwrap();
    let remote = "127.0.0.1:6000".parse().unwrap();
    pc.add_local_address(local);
    pc.add_answer_track(MediaKind::Video);
    pc.add_answer_track(MediaKind::Audio);
    if data.len() < 2 {
        return;
    }
    let n = usize::from(u16::from_be_bytes([data[0], data[1]])).min(data.len() - 2);
    let offer = String::from_utf8_lossy(&data[2..2 + n]);
    if pc
        .set_remote_description(now, SdpType::Offer, &offer)
        .is_ok()
    {
        let _ = pc.create_answer(now);
    }
    let mut rest = &data[2 + n..];
    while rest.len() >= 3 {
        let tag = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]])).min(rest.len() - 3);
        let item = &rest[3..3 + len];
        rest = &rest[3 + len..];
        match tag % 3 {
            0 => {
                let _ = pc.add_remote_candidate(now, Some(&String::from_utf8_lossy(item)));
            }
            1 => pc.handle_datagram(now, remote, local, item),
            _ => {
                now += Duration::from_millis(len as u64);
                pc.handle_timeout(now);
            }
        }
        while let Some(t) = pc.poll_transmit() {
            assert_eq!(t.src, local);
        }
        while pc.poll_event().is_some() {}
    }
    let _ = pc.stats();
});

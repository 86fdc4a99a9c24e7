//! A fresh PeerConnection fed a fuzzed remote offer (then an answer of
//! ours), fuzzed trickled candidates, fuzzed datagrams on its socket, and
//! renegotiation: subsequent remote offers and answers, our own offers,
//! rollbacks, transceivers added, stopped and redirected, ICE restarts,
//! data channels made, written to and closed,
//! with a virtual clock: never a panic, whatever it sends goes from its
//! own address, and the signaling state stays consistent with the calls.
//!
//! Input: `[len: u16 BE][offer text]`, then items `[tag][len: u16 BE][bytes]`
//! where tag 0 is a candidate, 1 a datagram, 2 a clock step of `len` ms,
//! 3 a remote offer (then our answer), 4 a remote answer, 5 an API call
//! chosen by the item's first byte (see `api`).
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use meshrtc_dtls::Certificate;
use meshrtc_peer::{PeerConfig, PeerConnection, SdpType, SignalingState};
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
        match tag % 6 {
            0 => {
                let _ = pc.add_remote_candidate(now, Some(&String::from_utf8_lossy(item)));
            }
            1 => pc.handle_datagram(now, remote, local, item),
            2 => {
                now += Duration::from_millis(len as u64);
                pc.handle_timeout(now);
            }
            3 => remote_offer(&mut pc, now, &String::from_utf8_lossy(item)),
            4 => {
                let before = pc.signaling_state();
                let r =
                    pc.set_remote_description(now, SdpType::Answer, &String::from_utf8_lossy(item));
                // A refused answer changes nothing.
                if r.is_err() {
                    assert_eq!(pc.signaling_state(), before);
                }
            }
            _ => api(&mut pc, now, item, &offer),
        }
        while let Some(t) = pc.poll_transmit() {
            assert_eq!(t.src, local);
        }
        while pc.poll_event().is_some() {}
    }
    let _ = pc.stats();
    let _ = pc.local_description();
});

/// A remote offer, answered if it is accepted.
fn remote_offer(pc: &mut PeerConnection, now: Instant, sdp: &str) {
    if pc.set_remote_description(now, SdpType::Offer, sdp).is_ok() {
        assert_eq!(pc.signaling_state(), SignalingState::HaveRemoteOffer);
        if pc.create_answer(now).is_ok() {
            assert_eq!(pc.signaling_state(), SignalingState::Stable);
        }
    }
}

/// The API calls of renegotiation, by `item[0]`; `item[1]` picks a
/// transceiver.
fn api(pc: &mut PeerConnection, now: Instant, item: &[u8], first_offer: &str) {
    let op = item.first().copied().unwrap_or(0);
    let pick = item.get(1).copied().unwrap_or(0);
    let mids: Vec<String> = pc
        .transceivers()
        .into_iter()
        .filter_map(|t| t.mid)
        .collect();
    let mid = (!mids.is_empty()).then(|| mids[usize::from(pick) % mids.len()].clone());
    match op % 9 {
        0 => {
            if pc.create_offer(now).is_ok() {
                assert_eq!(pc.signaling_state(), SignalingState::HaveLocalOffer);
            }
        }
        1 => {
            if pc.rollback().is_ok() {
                assert_eq!(pc.signaling_state(), SignalingState::Stable);
            }
        }
        2 => {
            let kind = if pick % 2 == 0 {
                MediaKind::Video
            } else {
                MediaKind::Audio
            };
            pc.add_transceiver(kind, pick & 2 != 0, pick & 4 != 0);
        }
        3 => {
            if let Some(m) = mid {
                let _ = pc.stop_transceiver(&m);
            }
        }
        4 => {
            if let Some(m) = mid {
                let _ = pc.set_direction(&m, pick & 2 != 0, pick & 4 != 0);
            }
        }
        5 => pc.restart_ice(),
        // The first offer again: a subsequent offer with nothing changed.
        6 => remote_offer(pc, now, first_offer),
        // Data channels (RFC 8831): made (the first adds the data m-line),
        // written to and closed, whatever the state.
        8 => {
            let options = meshrtc_peer::DataChannelOptions {
                ordered: pick & 1 != 0,
                max_retransmits: (pick & 2 != 0).then_some(u32::from(pick >> 4)),
                negotiated: (pick & 4 != 0).then_some(u16::from(pick)),
                ..Default::default()
            };
            let _ = pc.create_data_channel(now, "fuzz", options);
            for c in pc.data_channels() {
                let payload = meshrtc_peer::DataPayload::Binary(item.to_vec());
                let _ = pc.send_data(now, c.id, &payload);
                if pick & 8 != 0 {
                    let _ = pc.close_data_channel(now, c.id);
                }
            }
        }
        _ => {
            let _ = pc.create_answer(now);
        }
    }
}

//! SRTP on the hot path allocates nothing once a stream exists.

use meshrtc_integration::alloc::measure;
use meshrtc_srtp::{Config, Context, MasterKey, Profile};

#[test]
fn protect_and_unprotect_allocate_nothing_per_packet() {
    for profile in Profile::ALL {
        let ks: Vec<u8> = (0..profile.master_key_len() + profile.master_salt_len())
            .map(|i| i as u8)
            .collect();
        let key = MasterKey::from_concatenated(profile, &ks).unwrap();
        let (mut tx, mut rx) = (
            Context::new(&key, Config::default()),
            Context::new(&key, Config::default()),
        );
        let mut buf = Vec::with_capacity(1500);
        let packet = |buf: &mut Vec<u8>, seq: u16| {
            buf.clear();
            buf.extend_from_slice(&[0x80, 96]);
            buf.extend_from_slice(&seq.to_be_bytes());
            buf.extend_from_slice(&[0, 0, 0, 0, 0xca, 0xfe, 0xba, 0xbe]);
            buf.resize(1200, 7);
        };
        // The first packet creates the stream (and its replay window).
        packet(&mut buf, 0);
        tx.protect_rtp(&mut buf).unwrap();
        rx.unprotect_rtp(&mut buf).unwrap();
        let (_, usage) = measure(|| {
            for seq in 1..2000u16 {
                packet(&mut buf, seq);
                tx.protect_rtp(&mut buf).unwrap();
                rx.unprotect_rtp(&mut buf).unwrap();
            }
        });
        assert_eq!(usage.allocations, 0, "{profile}: {usage:?}");
    }
}

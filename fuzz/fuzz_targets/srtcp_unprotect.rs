//! SRTCP unprotect with a fixed key: never panics, and accepts a packet
//! only if it is exactly what the key protects at its SRTCP index.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_srtp::{Config, Context, MasterKey, Profile};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, pkt)) = data.split_first() else {
        return;
    };
    let profile = Profile::ALL[sel as usize % 4];
    let ks: Vec<u8> = (0..profile.master_key_len() + profile.master_salt_len())
        .map(|i| i as u8)
        .collect();
    let key = MasterKey::from_concatenated(profile, &ks).expect("fixed key has the right length");
    let mut rx = Context::new(&key, Config::default());
    let mut buf = pkt.to_vec();
    if rx.unprotect_rtcp(&mut buf).is_ok() {
        let at = if profile.is_aead() {
            pkt.len() - 4
        } else {
            pkt.len() - profile.rtcp_tag_len() - 4
        };
        let word = u32::from_be_bytes([pkt[at], pkt[at + 1], pkt[at + 2], pkt[at + 3]]);
        let ssrc = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        if word & 0x8000_0000 != 0 {
            let mut tx = Context::new(&key, Config::default());
            meshrtc_srtp::fuzzing::set_srtcp_index(&mut tx, ssrc, word & 0x7fff_ffff);
            let mut again = buf.clone();
            tx.protect_rtcp(&mut again)
                .expect("an accepted packet re-protects");
            assert_eq!(again, pkt, "accepted a packet the key did not protect");
        }
        let mut replay = pkt.to_vec();
        assert!(rx.unprotect_rtcp(&mut replay).is_err());
    }
});

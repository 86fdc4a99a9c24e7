//! SRTP unprotect with a fixed key: never panics, and accepts a packet only
//! if it is exactly what the key protects (re-protecting the plaintext
//! gives the same bytes). The first byte picks the profile.
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
    if rx.unprotect_rtp(&mut buf).is_ok() {
        // A fresh sender starts at ROC 0, as the fresh receiver guessed.
        let mut tx = Context::new(&key, Config::default());
        let mut again = buf.clone();
        tx.protect_rtp(&mut again)
            .expect("an accepted packet re-protects");
        assert_eq!(again, pkt, "accepted a packet the key did not protect");
        // The same packet again is a replay.
        let mut replay = pkt.to_vec();
        assert!(rx.unprotect_rtp(&mut replay).is_err());
    }
});

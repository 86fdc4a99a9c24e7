//! `meshrtc decode FILE` keys a DTLS 1.3 capture from what the file says
//! (issue 21): the hellos (a ServerHello reassembled across datagrams),
//! the 1.3 key log lines, datagrams mixing DTLSPlaintext and unified
//! headers, protected records opened with the key log's keys, and the
//! EncryptedExtensions read for the SRTP profile. None of it panics on
//! hostile bytes, and what opens is no longer than what was sealed.
//!
//! The apps crate is a binary, so its capture modules are compiled in
//! here from their files.
#![no_main]
#![allow(dead_code)]

// At the crate root, as the modules find their siblings through `super`.
#[path = "../../apps/src/capture/dtls13_keys.rs"]
mod dtls13_keys;
#[path = "../../apps/src/capture/ipframe.rs"]
mod ipframe;
#[path = "../../apps/src/capture/keylog_srtp.rs"]
mod keylog_srtp;
#[path = "../../apps/src/capture/pcapng.rs"]
mod pcapng;
#[path = "../../apps/src/capture/read.rs"]
mod read;
#[path = "../../apps/src/capture/srtp_comment.rs"]
mod srtp_comment;

use std::sync::Arc;

use dtls13_keys::{any_records, AnyRecord, Dtls13Keys, Secrets13};
use libfuzzer_sys::fuzz_target;
use meshrtc_dtls::v13::record::CipherSuite13;

fn framed_within(datagram: &[u8]) {
    let mut total = 0;
    for r in any_records(datagram) {
        match r {
            Ok(AnyRecord::Plain(p)) => total += p.header.len() + p.fragment.len(),
            Ok(AnyRecord::Unified(u)) => total += u.header.len() + u.ciphertext.len(),
            Err(_) => break,
        }
    }
    assert!(total <= datagram.len());
}

fuzz_target!(|data: &[u8]| {
    // The bytes as one datagram.
    framed_within(data);
    let Ok(file) = read::read(data) else {
        return;
    };
    let dgrams: Vec<_> = file
        .packets
        .iter()
        .filter_map(|p| p.datagram().ok())
        .collect();
    let mut scan = keylog_srtp::HelloScan::default();
    for d in &dgrams {
        framed_within(d.payload);
        scan.datagram(d.src, d.dst, d.payload);
    }
    let secrets = dtls13_keys::traffic_secrets(&file.key_log);
    let mut keys = dtls13_keys::dtls13_keys(&scan, &secrets);
    // Fixed keys for the first pair of addresses too, so records are
    // opened whatever the file's key log says.
    if let Some(d) = dgrams.first() {
        let s = Some(vec![7u8; 32]);
        keys.push(Dtls13Keys {
            client: d.src,
            server: d.dst,
            suite: CipherSuite13::Aes128GcmSha256,
            secrets: Arc::new(Secrets13 {
                client_handshake: s.clone(),
                server_handshake: s.clone(),
                client_application: s.clone(),
                server_application: s.clone(),
                exporter: s,
            }),
        });
    }
    for k in &keys {
        let _ = dtls13_keys::srtp_keys13(k, dgrams.iter().map(|d| d.payload));
        let mut dirs = [
            k.for_packet(k.client, k.server),
            k.for_packet(k.server, k.client),
        ];
        for d in &dgrams {
            for r in any_records(d.payload) {
                let Ok(AnyRecord::Unified(u)) = r else {
                    continue;
                };
                for dir in dirs.iter_mut().flatten() {
                    if let Ok(o) = dir.open(&u) {
                        assert!(o.content.len() < u.ciphertext.len());
                    }
                }
            }
        }
    }
});

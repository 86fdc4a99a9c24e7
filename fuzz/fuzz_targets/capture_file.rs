//! `meshrtc decode FILE` reads capture files someone hands it: the pcap
//! and pcapng reader, the IP/UDP unframing and the SRTP key comments never
//! panic on hostile bytes, and what they read writes back to the same
//! values through our pcapng writer and IP framing.
//!
//! The apps crate is a binary, so its capture modules are compiled in
//! here from their files.
#![no_main]
#![allow(dead_code)]

// At the crate root, as `read` finds its siblings through `super`.
#[path = "../../apps/src/capture/ipframe.rs"]
mod ipframe;
#[path = "../../apps/src/capture/pcapng.rs"]
mod pcapng;
#[path = "../../apps/src/capture/read.rs"]
mod read;
#[path = "../../apps/src/capture/srtp_comment.rs"]
mod srtp_comment;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = read::read(data) else {
        return;
    };
    let mut again = pcapng::section_header("fuzz");
    again.extend(pcapng::interface("x"));
    let mut kept = Vec::new();
    for p in &file.packets {
        for c in &p.comments {
            if let Some(k) = srtp_comment::parse(c) {
                assert!(k.for_packet(k.local, k.remote).is_some());
            }
        }
        if let Ok(d) = p.datagram() {
            if d.payload.len() <= 65_507 {
                let f = ipframe::frame(d.src, d.dst, d.payload);
                let back = ipframe::unframe(&f).expect("our framing reads back");
                assert_eq!(
                    (back.src, back.dst, back.payload),
                    (d.src, d.dst, d.payload)
                );
            }
        }
        if p.comments.iter().all(|c| c.len() <= 65_535) {
            let micros = p
                .time
                .0
                .saturating_mul(1_000_000)
                .saturating_add(u64::from(p.time.1 / 1000));
            again.extend(pcapng::packet(
                0,
                micros,
                p.outbound == Some(true),
                &p.data,
                &p.comments,
            ));
            kept.push(p);
        }
    }
    if !file.key_log.is_empty() {
        again.extend(pcapng::tls_key_log(&file.key_log));
    }
    let back = read::read(&again).expect("our pcapng reads back");
    assert_eq!(back.packets.len(), kept.len());
    for (a, b) in back.packets.iter().zip(kept) {
        assert_eq!(a.data, b.data);
        assert_eq!(a.comments, b.comments);
        assert_eq!(a.linktype, pcapng::LINKTYPE_RAW);
    }
    assert_eq!(back.key_log, file.key_log);
});

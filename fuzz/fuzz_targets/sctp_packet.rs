//! SCTP packet and chunk parsing never panics; every packet that parses is
//! written back, and the written packet carries a valid CRC32c, parses to
//! the same chunks and rewrites to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_sctp::packet::{ChecksumPolicy, Packet, PacketRepr};

fuzz_target!(|data: &[u8]| {
    let Ok(view) = Packet::new_checked(data) else {
        return;
    };
    let _ = view.verify_checksum();
    for raw in view.chunks().flatten() {
        let _ = format!("{:?}", meshrtc_sctp::chunk::Chunk::parse(raw));
    }
    let Ok(repr) = PacketRepr::parse(&view, ChecksumPolicy::Ignore) else {
        return;
    };
    let mut out = Vec::new();
    repr.emit(&mut out, false);
    assert_eq!(out.len(), repr.buffer_len());
    let view2 = Packet::new_checked(&out[..]).expect("header");
    view2.verify_checksum().expect("our own checksum");
    let again = PacketRepr::parse(&view2, ChecksumPolicy::Required).expect("reparse");
    assert_eq!(again, repr);
    let mut out2 = Vec::new();
    again.emit(&mut out2, false);
    assert_eq!(out, out2);
});

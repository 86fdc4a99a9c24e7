//! RTP parsing never panics; whatever parses writes back through
//! `RtpHeader` and parses again to the same header, extensions and payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_rtp::{RtpHeader, RtpPacket};

fuzz_target!(|data: &[u8]| {
    let Ok(p) = RtpPacket::parse(data) else {
        return;
    };
    let _ = format!("{p:?}");
    assert!(p.header_len() + p.payload().len() + p.padding_len() == data.len());
    let h = RtpHeader::from_packet(&p);
    let mut out = Vec::new();
    let padding = p.padding_len() as u8;
    h.write_packet(p.payload(), padding, &mut out)
        .expect("a parsed header can be written back");
    assert_eq!(
        out.len(),
        h.header_len() + p.payload().len() + p.padding_len()
    );
    let q = RtpPacket::parse(&out).expect("our own output parses");
    assert_eq!(
        (
            p.marker(),
            p.payload_type(),
            p.sequence_number(),
            p.timestamp(),
            p.ssrc()
        ),
        (
            q.marker(),
            q.payload_type(),
            q.sequence_number(),
            q.timestamp(),
            q.ssrc()
        )
    );
    assert!(p.csrcs().eq(q.csrcs()));
    assert!(p.extensions().eq(q.extensions()));
    if let Some(e) = p.extension().filter(|e| e.form().is_none()) {
        assert_eq!(q.extension(), Some(e));
    }
    assert_eq!(
        (p.payload(), p.padding_len()),
        (q.payload(), q.padding_len())
    );
    assert_eq!(RtpHeader::from_packet(&q), h);
    // Our own output is canonical: writing it again gives the same bytes.
    let mut again = Vec::new();
    RtpHeader::from_packet(&q)
        .write_packet(q.payload(), padding, &mut again)
        .unwrap();
    assert_eq!(again, out);
});

//! A stream whose payload type a renegotiation changed (RFC 8829 §5.3.1):
//! the sequence numbers run on under the new number, retransmissions and
//! RTX take the new numbers while the RTX stream's own sequence numbers
//! run on too (RFC 4588 §4), and without RTX the original is resent.

use crate::session::{RtxConfig, SendBuffer, SendBufferConfig, SendStream};
use crate::RtpPacket;
use std::time::Instant;

#[test]
fn a_renumbered_stream_continues_its_sequence_numbers_under_the_new_payload_type() {
    let mut s = SendStream::new(0x1234, 96, 65534, None, None).unwrap();
    let mut out = Vec::new();
    let mut seqs = Vec::new();
    for i in 0..2u32 {
        seqs.push(s.write(i * 3000, true, 0, &[b"ab"], &mut out).unwrap());
    }
    s.set_payload_type(120);
    out.clear();
    seqs.push(s.write(6000, true, 0, &[b"cd"], &mut out).unwrap());
    assert_eq!(seqs, [65534, 65535, 0]);
    let p = RtpPacket::parse(&out).unwrap();
    assert_eq!(
        (p.payload_type(), p.sequence_number(), p.ssrc()),
        (120, 0, 0x1234)
    );
}

#[test]
fn retransmissions_take_the_new_payload_types_and_rtx_keeps_its_sequence() {
    let now = Instant::now();
    let rtx = RtxConfig {
        ssrc: 0x5678,
        payload_type: 97,
        first_seq: 100,
    };
    let cfg = SendBufferConfig {
        rtx: Some(rtx),
        ..SendBufferConfig::default()
    };
    let mut b = SendBuffer::new(0x1234, 96, cfg);
    for seq in 10..13u16 {
        b.on_packet_sent(now, seq, 0, false, &[b"xy"]).unwrap();
    }
    assert_eq!(b.on_nack(now, [10]), 1);
    let r = b.poll_retransmit().unwrap();
    assert_eq!(
        (r.ssrc, r.payload_type, r.sequence_number),
        (0x5678, 97, 100)
    );

    b.set_payload_types(120, Some(121));
    assert_eq!(b.rtx().map(|r| r.payload_type), Some(121));
    assert_eq!(b.on_nack(now, [11]), 1);
    let r = b.poll_retransmit().unwrap();
    assert_eq!(
        (r.ssrc, r.payload_type, r.sequence_number),
        (0x5678, 121, 101)
    );
    assert_eq!(r.original_seq, Some(11));

    // RTX no longer negotiated: the original goes again, new number.
    b.set_payload_types(122, None);
    assert_eq!(b.rtx(), None);
    assert_eq!(b.on_nack(now, [12]), 1);
    let r = b.poll_retransmit().unwrap();
    assert_eq!(
        (r.ssrc, r.payload_type, r.sequence_number),
        (0x1234, 122, 12)
    );
    assert_eq!(r.original_seq, None);
}

use super::h;
use crate::ext::{AbsSendTime, AudioLevel, ExtensionElement, ExtensionForm, Mid, TransportSeq};
use crate::{extend_near, RtpError, RtpHeader, RtpPacket, SeqExtender};
use std::time::Duration;

/// RFC 3550 §5.1 header with two CSRCs and an RFC 8285 §4.2 one-byte
/// extension: MID "0" (id 1) and a transport-wide sequence number (id 3),
/// padded to 32 bits.
const ONE_BYTE: &str = "92 E0 1234 DEADBEEF 11223344 | AAAAAAAA BBBBBBBB |
                        BEDE 0002 | 10 30 31 0102 000000 | 68656C6C6F";

#[test]
fn rtp_header_with_csrcs_and_one_byte_extension() {
    let b = h(ONE_BYTE);
    let p = RtpPacket::parse(&b).unwrap();
    assert_eq!(p.version(), 2);
    assert!(p.marker());
    assert!(!p.has_padding());
    assert_eq!(p.payload_type(), 96);
    assert_eq!(p.sequence_number(), 0x1234);
    assert_eq!(p.timestamp(), 0xDEAD_BEEF);
    assert_eq!(p.ssrc(), 0x1122_3344);
    assert_eq!(p.csrcs().collect::<Vec<_>>(), [0xAAAA_AAAA, 0xBBBB_BBBB]);
    let e = p.extension().unwrap();
    assert_eq!(
        (e.profile, e.form()),
        (0xBEDE, Some(ExtensionForm::OneByte))
    );
    assert_eq!(e.body.len(), 8);
    let els: Vec<_> = p.extensions().collect();
    assert_eq!(
        els,
        [
            ExtensionElement { id: 1, data: b"0" },
            ExtensionElement {
                id: 3,
                data: &[1, 2]
            }
        ]
    );
    assert_eq!(Mid::parse(p.extension_by_id(1).unwrap()).unwrap(), Mid("0"));
    assert_eq!(
        TransportSeq::parse(p.extension_by_id(3).unwrap()).unwrap(),
        TransportSeq(0x0102)
    );
    assert_eq!(p.header_len(), 12 + 8 + 4 + 8);
    assert_eq!(p.payload(), b"hello");
    assert_eq!(p.padding_len(), 0);
}

#[test]
fn an_extension_value_is_rewritten_in_place() {
    let mut b = h(ONE_BYTE);
    let r = RtpPacket::parse(&b).unwrap().extension_range(3).unwrap();
    // Fixed header and CSRCs (20), extension header (4), MID element (2),
    // then the id-3 element's header byte.
    assert_eq!(r, 27..29);
    b[r].copy_from_slice(&TransportSeq(0xBEEF).to_bytes());
    let p = RtpPacket::parse(&b).unwrap();
    assert_eq!(
        TransportSeq::parse(p.extension_by_id(3).unwrap()).unwrap(),
        TransportSeq(0xBEEF)
    );
    assert_eq!(Mid::parse(p.extension_by_id(1).unwrap()).unwrap(), Mid("0"));
    assert_eq!(p.payload(), b"hello");
    assert_eq!(p.extension_range(9), None);
}

/// RFC 8285 §4.3: an empty element forces the two-byte form.
const TWO_BYTE: &str = "90 60 0001 00000002 00000003 | 1000 0002 | 01 00 14 03 616263 00 | CAFE";

#[test]
fn rtp_header_with_two_byte_extension() {
    let b = h(TWO_BYTE);
    let p = RtpPacket::parse(&b).unwrap();
    assert_eq!(
        p.extension().unwrap().form(),
        Some(ExtensionForm::TwoByte { appbits: 0 })
    );
    let els: Vec<_> = p.extensions().collect();
    assert_eq!(
        els,
        [
            ExtensionElement { id: 1, data: &[] },
            ExtensionElement {
                id: 20,
                data: b"abc"
            }
        ]
    );
    assert_eq!(p.payload(), [0xCA, 0xFE]);
}

/// RFC 3550 §5.1: P bit, the last octet counts the padding.
const PADDED: &str = "A0 08 FFFF 00000010 00000020 | 010203 | 00000004";

#[test]
fn rtp_padding_is_removed_from_the_payload() {
    let b = h(PADDED);
    let p = RtpPacket::parse(&b).unwrap();
    assert!(p.has_padding());
    assert_eq!(p.padding_len(), 4);
    assert_eq!(p.payload(), [1, 2, 3]);
    assert_eq!(p.payload_type(), 8);
}

#[test]
fn rtp_vectors_write_back_to_the_same_bytes() {
    for (v, padding) in [(ONE_BYTE, 0u8), (TWO_BYTE, 0), (PADDED, 4)] {
        let b = h(v);
        let p = RtpPacket::parse(&b).unwrap();
        let hdr = RtpHeader::from_packet(&p);
        assert_eq!(hdr.header_len(), p.header_len());
        let mut out = Vec::new();
        hdr.write_packet(p.payload(), padding, &mut out).unwrap();
        assert_eq!(out, b, "vector {v}");
    }
}

#[test]
fn rtp_header_chooses_the_extension_form() {
    let mut hdr = RtpHeader {
        payload_type: 111,
        ..RtpHeader::default()
    };
    let mut out = Vec::new();
    hdr.write(&mut out).unwrap();
    assert_eq!(out.len(), 12);
    assert_eq!(out[0], 0x80, "no X bit without extensions");

    hdr.extensions.set(14, &[0xAB; 16]).unwrap();
    assert_eq!(hdr.extensions.form(), Some(ExtensionForm::OneByte));
    hdr.extensions.set(15, &[1]).unwrap(); // id 15 needs two-byte
    assert_eq!(
        hdr.extensions.form(),
        Some(ExtensionForm::TwoByte { appbits: 0 })
    );
    hdr.extensions.remove(15);
    hdr.extensions.set(2, &[0xCD; 17]).unwrap(); // 17 bytes needs two-byte
    assert_eq!(
        hdr.extensions.form(),
        Some(ExtensionForm::TwoByte { appbits: 0 })
    );
    hdr.extensions.set(2, &[]).unwrap(); // empty needs two-byte
    assert_eq!(
        hdr.extensions.form(),
        Some(ExtensionForm::TwoByte { appbits: 0 })
    );
    hdr.extensions.remove(2);
    assert_eq!(hdr.extensions.form(), Some(ExtensionForm::OneByte));

    for len in 1..=16 {
        hdr.extensions.set(5, &vec![len as u8; len]).unwrap();
        out.clear();
        hdr.write_packet(b"x", 0, &mut out).unwrap();
        assert_eq!(out.len(), hdr.header_len() + 1);
        assert_eq!((out.len() - 12 - 1) % 4, 0);
        let p = RtpPacket::parse(&out).unwrap();
        assert_eq!(p.extension_by_id(5).unwrap(), &vec![len as u8; len][..]);
        assert_eq!(p.extension_by_id(14).unwrap(), &[0xAB; 16]);
        assert_eq!(RtpHeader::from_packet(&p), hdr);
    }
}

#[test]
fn rtp_header_updates_extensions_in_place() {
    let mut hdr = RtpHeader::default();
    hdr.extensions.set(1, b"a").unwrap();
    hdr.extensions.set(3, &[0, 0]).unwrap();
    hdr.extensions.set(3, &[0, 7]).unwrap();
    hdr.extensions.set(1, b"video").unwrap();
    assert_eq!(hdr.extensions.get(3), Some(&[0, 7][..]));
    assert_eq!(hdr.extensions.get(1), Some(&b"video"[..]));
    assert_eq!(hdr.extensions.iter().count(), 2);
    assert_eq!(
        hdr.extensions.set(0, b"x"),
        Err(RtpError::InvalidExtensionId(0))
    );
    assert_eq!(
        hdr.extensions.set(9, &[0; 256]),
        Err(RtpError::ExtensionTooLong(256))
    );
}

#[test]
fn rtp_raw_extension_round_trips() {
    let mut hdr = RtpHeader::default();
    hdr.extensions.set_raw(0xABCD, &[1, 2, 3, 4]).unwrap();
    assert_eq!(
        hdr.extensions.set_raw(1, &[1, 2, 3]),
        Err(RtpError::BadRawExtension(3))
    );
    let mut out = Vec::new();
    hdr.write(&mut out).unwrap();
    let p = RtpPacket::parse(&out).unwrap();
    let e = p.extension().unwrap();
    assert_eq!((e.profile, e.body), (0xABCD, &[1, 2, 3, 4][..]));
    assert_eq!(p.extensions().count(), 0);
    assert_eq!(RtpHeader::from_packet(&p), hdr);
}

#[test]
fn rtp_writer_rejects_what_the_wire_cannot_carry() {
    let mut hdr = RtpHeader {
        payload_type: 128,
        ..RtpHeader::default()
    };
    let mut out = Vec::new();
    assert_eq!(hdr.write(&mut out), Err(RtpError::InvalidPayloadType(128)));
    hdr.payload_type = 0;
    hdr.csrcs = vec![0; 16];
    assert_eq!(hdr.write(&mut out), Err(RtpError::TooManyCsrcs(16)));
    assert!(out.is_empty());
}

#[test]
fn one_byte_id_15_stops_the_walk_and_zero_bytes_are_padding() {
    // id 1 "A", padding, id 15 (stop), then garbage that would overflow.
    let b = h("90 00 0000 00000000 00000000 | BEDE 0002 | 10 41 00 00 F0 5F FF FF");
    let p = RtpPacket::parse(&b).unwrap();
    let els: Vec<_> = p.extensions().collect();
    assert_eq!(els, [ExtensionElement { id: 1, data: b"A" }]);
}

#[test]
fn malformed_rtp_packets_give_specific_errors() {
    let cases: &[(&str, &str, RtpError)] = &[
        (
            "empty",
            "",
            RtpError::TruncatedHeader { needed: 12, got: 0 },
        ),
        (
            "truncated fixed header",
            "80 00 0000 00000000 000000",
            RtpError::TruncatedHeader {
                needed: 12,
                got: 11,
            },
        ),
        (
            "version 1",
            "40 00 0000 00000000 00000000",
            RtpError::BadVersion(1),
        ),
        (
            "version 0",
            "00 00 0000 00000000 00000000",
            RtpError::BadVersion(0),
        ),
        (
            "CSRC list truncated",
            "83 00 0000 00000000 00000000 00000001 00000002",
            RtpError::TruncatedHeader {
                needed: 24,
                got: 20,
            },
        ),
        (
            "extension header truncated",
            "90 00 0000 00000000 00000000 BEDE",
            RtpError::TruncatedHeader {
                needed: 16,
                got: 14,
            },
        ),
        (
            "extension length overflow",
            "90 00 0000 00000000 00000000 BEDE 0002 10410000",
            RtpError::ExtensionOverflow {
                declared: 8,
                available: 4,
            },
        ),
        (
            "one-byte element overflow",
            "90 00 0000 00000000 00000000 BEDE 0001 13010203",
            RtpError::ExtensionElementOverflow { id: 1, offset: 0 },
        ),
        (
            "two-byte element length byte missing",
            "90 00 0000 00000000 00000000 1000 0001 00000007",
            RtpError::ExtensionElementOverflow { id: 7, offset: 3 },
        ),
        (
            "two-byte element overflow",
            "90 00 0000 00000000 00000000 1003 0001 0503AAAA",
            RtpError::ExtensionElementOverflow { id: 5, offset: 0 },
        ),
        (
            "padding longer than the payload",
            "A0 00 0000 00000000 00000000 01020A",
            RtpError::BadPadding {
                padding: 10,
                available: 3,
            },
        ),
        (
            "padding count zero",
            "A0 00 0000 00000000 00000000 010200",
            RtpError::BadPadding {
                padding: 0,
                available: 3,
            },
        ),
        (
            "padding bit without bytes after the header",
            "A0 00 0000 00000000 00000001",
            RtpError::BadPadding {
                padding: 1,
                available: 0,
            },
        ),
    ];
    for (name, hex, err) in cases {
        assert_eq!(RtpPacket::parse(&h(hex)), Err(*err), "{name}");
    }
}

#[test]
fn rtp_padding_may_take_the_whole_payload() {
    let b = h("A0 00 0000 00000000 00000000 00000004");
    let p = RtpPacket::parse(&b).unwrap();
    assert!(p.payload().is_empty());
}

#[test]
fn abs_send_time_is_6_18_fixed_point_wrapping_at_64_seconds() {
    let t = AbsSendTime::from_duration(Duration::from_millis(1500));
    assert_eq!(t.to_bytes(), [0x06, 0x00, 0x00]);
    assert_eq!(AbsSendTime::from_duration(Duration::from_millis(65_500)), t);
    assert_eq!(t.to_duration(), Duration::from_millis(1500));
    assert_eq!(AbsSendTime::parse(&[0x06, 0, 0]).unwrap(), t);
    assert_eq!(
        AbsSendTime::parse(&[1, 2]),
        Err(RtpError::BadExtensionLength {
            expected: 3,
            got: 2
        })
    );
    // 2^-18 s ≈ 3.815 µs: 4 µs rounds to one unit, 1 µs to zero.
    assert_eq!(AbsSendTime::from_nanos(4_000).raw(), 1);
    assert_eq!(AbsSendTime::from_nanos(1_000).raw(), 0);
    assert_eq!(
        AbsSendTime::from_nanos(u128::MAX).raw(),
        AbsSendTime::from_nanos(u128::MAX % 64_000_000_000).raw()
    );
    // Just under 64 s: the top value.
    assert_eq!(AbsSendTime::from_nanos(63_999_998_000).raw(), 0xFF_FFFF);
}

#[test]
fn audio_level_and_transport_seq_and_mid() {
    assert_eq!(
        AudioLevel::parse(&[0x85]).unwrap(),
        AudioLevel {
            voice: true,
            level: 5
        }
    );
    assert_eq!(
        AudioLevel {
            voice: false,
            level: 127
        }
        .to_bytes(),
        [0x7F]
    );
    assert_eq!(
        AudioLevel {
            voice: true,
            level: 200
        }
        .to_bytes(),
        [0xFF]
    );
    assert_eq!(
        AudioLevel::parse(&[1, 2]),
        Err(RtpError::BadExtensionLength {
            expected: 1,
            got: 2
        })
    );
    assert_eq!(TransportSeq(0xBEEF).to_bytes(), [0xBE, 0xEF]);
    assert_eq!(Mid::parse(b""), Err(RtpError::InvalidMid));
    assert_eq!(Mid::parse(&[0xFF]), Err(RtpError::InvalidMid));
    assert_eq!(Mid::parse(b"audio").unwrap().as_bytes(), b"audio");
}

#[test]
fn sequence_numbers_extend_across_the_wrap() {
    let mut e = SeqExtender::default();
    let first = e.extend(65_530);
    let mut last = first;
    for i in 1..20u16 {
        let x = e.extend(65_530u16.wrapping_add(i));
        assert_eq!(x, last + 1);
        last = x;
    }
    // A late packet from before the wrap keeps its place.
    assert_eq!(e.extend(65_531), first + 1);
    // A packet from before the first one.
    assert_eq!(e.extend(65_000), first - 530);
    assert_eq!(e.highest(), Some(last));
    // Many wraps forward.
    let mut seq = 0u16;
    let mut e = SeqExtender::default();
    let base = e.extend(0);
    for k in 1..=300_000u64 {
        seq = seq.wrapping_add(1);
        assert_eq!(e.extend(seq), base + k);
    }
    assert_eq!(extend_near(5, 65_535), 65_535, "never below zero");
    assert_eq!(extend_near(0x2_0005, 65_535), 0x1_FFFF);
    assert_eq!(extend_near(0x2_0005, 0x8004), 0x2_8004);
    assert_eq!(
        extend_near(0x2_0005, 0x8005),
        0x1_8005,
        "half-way goes back"
    );
}

//! Tests of the STUN codec: RFC 5769 vectors, Chromium 156 captures,
//! round trips and malformed input.

use super::*;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(s).unwrap()
}

const RFC5769_PWD: &[u8] = b"VOkJxbRl1RmTxUk/WvJxBt";

/// RFC 5769 §2.1, sample request (USERNAME padded with spaces, as printed).
fn rfc5769_request() -> Vec<u8> {
    unhex(
        "00010058 2112a442 b7e7a701 bc34d686 fa87dfae
         80220010 5354554e 20746573 7420636c 69656e74
         00240004 6e0001ff
         80290008 932ff9b1 51263b36
         00060009 6576746a 3a683676 59202020
         00080014 9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2
         80280004 e57a3bcf",
    )
}

/// RFC 5769 §2.2, sample IPv4 response.
fn rfc5769_ipv4_response() -> Vec<u8> {
    unhex(
        "0101003c 2112a442 b7e7a701 bc34d686 fa87dfae
         8022000b 74657374 20766563 746f7220
         00200008 0001a147 e112a643
         00080014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7
         80280004 c07d4c96",
    )
}

/// RFC 5769 §2.3, sample IPv6 response.
fn rfc5769_ipv6_response() -> Vec<u8> {
    unhex(
        "01010048 2112a442 b7e7a701 bc34d686 fa87dfae
         8022000b 74657374 20766563 746f7220
         00200014 0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9
         00080014 a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41
         80280004 c8fb0b4c",
    )
}

const RFC5769_TID: TransactionId = TransactionId([
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
]);

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../fixtures/chromium-156/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    unhex(&std::fs::read_to_string(&path).unwrap())
}

#[test]
fn rfc5769_sample_request_decodes_and_verifies() {
    let buf = rfc5769_request();
    let m = Message::parse(&buf).unwrap();
    assert_eq!((m.class(), m.method()), (Class::Request, Method::BINDING));
    assert_eq!(m.transaction_id(), RFC5769_TID);
    assert_eq!(
        m.get(AttrType::SOFTWARE),
        Some(Ok(Attribute::Software("STUN test client")))
    );
    assert_eq!(m.priority(), Ok(Some(0x6e0001ff)));
    assert_eq!(m.ice_controlled(), Ok(Some(0x932ff9b151263b36)));
    assert_eq!(m.ice_controlling(), Ok(None));
    assert!(!m.use_candidate());
    assert_eq!(m.username(), Ok(Some("evtj:h6vY")));
    m.verify_integrity(&ShortTermKey::new(RFC5769_PWD)).unwrap();
    m.verify_fingerprint().unwrap();
    assert_eq!(
        m.verify_integrity(&ShortTermKey::new(b"VOkJxbRl1RmTxUk/WvJxBT")),
        Err(StunError::IntegrityMismatch(AttrType::MESSAGE_INTEGRITY))
    );
    assert!(!m.has_unknown_required());
}

#[test]
fn rfc5769_ipv4_response_decodes_and_verifies() {
    let buf = rfc5769_ipv4_response();
    let m = Message::parse(&buf).unwrap();
    assert_eq!((m.class(), m.method()), (Class::Success, Method::BINDING));
    assert_eq!(
        m.get(AttrType::SOFTWARE),
        Some(Ok(Attribute::Software("test vector")))
    );
    assert_eq!(
        m.mapped_address(),
        Ok(Some("192.0.2.1:32853".parse().unwrap()))
    );
    m.verify_integrity(&ShortTermKey::new(RFC5769_PWD)).unwrap();
    m.verify_fingerprint().unwrap();
}

#[test]
fn rfc5769_ipv6_response_decodes_and_verifies() {
    let buf = rfc5769_ipv6_response();
    let m = Message::parse(&buf).unwrap();
    let ip: Ipv6Addr = "2001:db8:1234:5678:11:2233:4455:6677".parse().unwrap();
    assert_eq!(
        m.mapped_address(),
        Ok(Some(SocketAddr::new(IpAddr::V6(ip), 32853)))
    );
    m.verify_integrity(&ShortTermKey::new(RFC5769_PWD)).unwrap();
    m.verify_fingerprint().unwrap();
}

/// Re-encodes a parsed message attribute by attribute with our builder,
/// computing MESSAGE-INTEGRITY and FINGERPRINT afresh.
fn reencode(m: &Message<'_>, key: &ShortTermKey) -> Vec<u8> {
    let mut out = Vec::new();
    let mut b = MessageBuilder::new(&mut out, m.class(), m.method(), m.transaction_id());
    for raw in m.attributes() {
        match raw.attr {
            AttrType::MESSAGE_INTEGRITY => b.add_message_integrity(key).unwrap(),
            AttrType::FINGERPRINT => b.add_fingerprint().unwrap(),
            _ => b.add(&raw.decode(&m.transaction_id()).unwrap()).unwrap(),
        }
    }
    out
}

#[test]
fn chromium_binding_requests_are_reproduced_byte_for_byte() {
    for (file, pwd, user) in [
        (
            "chromium_stun_binding_request.hex",
            "dPR+zd3QMw7rwvBB3GOuedwM",
            "RGpn:gAt7",
        ),
        (
            "chromium_stun_binding_request_controlled.hex",
            "Hb3P1MICVmw4WkbABnMC6nn5",
            "gAt7:RGpn",
        ),
    ] {
        let buf = fixture(file);
        let m = Message::parse(&buf).unwrap();
        assert_eq!(m.class(), Class::Request);
        assert_eq!(m.username(), Ok(Some(user)));
        assert_eq!(m.priority(), Ok(Some(1853824767)));
        // GOOG-NETWORK-INFO is kept, skipped, and not a 420 reason.
        assert_eq!(
            m.get(AttrType::GOOG_NETWORK_INFO),
            Some(Ok(Attribute::Other {
                attr: AttrType::GOOG_NETWORK_INFO,
                value: &[0x00, 0x01, 0x00, 0x32]
            }))
        );
        assert!(!m.has_unknown_required());
        let key = ShortTermKey::new(pwd.as_bytes());
        m.verify_integrity(&key).unwrap();
        m.verify_fingerprint().unwrap();
        // Our builder writes exactly what Chromium wrote, integrity included.
        assert_eq!(reencode(&m, &key), buf, "{file}");
    }
    let controlling = fixture("chromium_stun_binding_request.hex");
    let m = Message::parse(&controlling).unwrap();
    assert!(m.use_candidate());
    assert_eq!(m.ice_controlling(), Ok(Some(0x91d332d9cdda01f3)));
    let controlled = fixture("chromium_stun_binding_request_controlled.hex");
    let m = Message::parse(&controlled).unwrap();
    assert!(!m.use_candidate());
    assert_eq!(m.ice_controlled(), Ok(Some(0xda72c8153bb8148b)));
}

#[test]
fn chromium_binding_response_is_reproduced_byte_for_byte() {
    let buf = fixture("chromium_stun_binding_success_response.hex");
    let m = Message::parse(&buf).unwrap();
    assert_eq!(m.class(), Class::Success);
    assert_eq!(
        m.mapped_address(),
        Ok(Some("127.0.0.1:52849".parse().unwrap()))
    );
    let key = ShortTermKey::new(b"Hb3P1MICVmw4WkbABnMC6nn5");
    m.verify_integrity(&key).unwrap();
    m.verify_fingerprint().unwrap();
    assert_eq!(reencode(&m, &key), buf);
}

#[test]
fn rfc5769_messages_reencode_with_zero_padding_and_still_verify() {
    // RFC 5769 pads with spaces; we pad with zeros (RFC 8489 §14: padding is
    // ignored). The values and both checks must survive.
    for buf in [
        rfc5769_request(),
        rfc5769_ipv4_response(),
        rfc5769_ipv6_response(),
    ] {
        let key = ShortTermKey::new(RFC5769_PWD);
        let m = Message::parse(&buf).unwrap();
        let out = reencode(&m, &key);
        assert_eq!(out.len(), buf.len());
        let m2 = Message::parse(&out).unwrap();
        m2.verify_integrity(&key).unwrap();
        m2.verify_fingerprint().unwrap();
        let a: Vec<_> = m.attributes().map(|r| (r.attr, r.value)).collect();
        let b: Vec<_> = m2.attributes().map(|r| (r.attr, r.value)).collect();
        // Same attributes, same values, except the recomputed MI and FP.
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.0, y.0);
            if !matches!(x.0, AttrType::MESSAGE_INTEGRITY | AttrType::FINGERPRINT) {
                assert_eq!(x.1, y.1);
            }
        }
    }
}

#[test]
fn verbatim_round_trip_keeps_every_byte() {
    let buf = fixture("chromium_stun_binding_request.hex");
    let m = Message::parse(&buf).unwrap();
    let mut out = Vec::new();
    let mut b = MessageBuilder::new(&mut out, m.class(), m.method(), m.transaction_id());
    for raw in m.attributes() {
        b.add(&raw.decode(&m.transaction_id()).unwrap()).unwrap();
    }
    assert_eq!(out, buf);
}

#[test]
fn tampering_is_detected_by_integrity_and_fingerprint() {
    let key = ShortTermKey::new(b"dPR+zd3QMw7rwvBB3GOuedwM");
    let orig = fixture("chromium_stun_binding_request.hex");
    // Flip one bit in every byte of the USERNAME value in turn.
    for i in 24..33 {
        let mut buf = orig.clone();
        buf[i] ^= 0x01;
        let m = Message::parse(&buf).unwrap();
        assert_eq!(
            m.verify_integrity(&key),
            Err(StunError::IntegrityMismatch(AttrType::MESSAGE_INTEGRITY))
        );
        assert!(matches!(
            m.verify_fingerprint(),
            Err(StunError::FingerprintMismatch { .. })
        ));
    }
    // A bad fingerprint alone leaves integrity intact.
    let mut buf = orig.clone();
    let n = buf.len();
    buf[n - 1] ^= 0xff;
    let m = Message::parse(&buf).unwrap();
    m.verify_integrity(&key).unwrap();
    assert_eq!(
        m.verify_fingerprint(),
        Err(StunError::FingerprintMismatch {
            got: 0x0d89e86b,
            computed: 0x0d89e894
        })
    );
}

fn binding_request(extra: impl FnOnce(&mut MessageBuilder<'_>)) -> Vec<u8> {
    let mut out = Vec::new();
    let mut b = MessageBuilder::new(&mut out, Class::Request, Method::BINDING, RFC5769_TID);
    extra(&mut b);
    out
}

#[test]
fn unknown_comprehension_required_attributes_are_reported_for_420() {
    let buf = binding_request(|b| {
        b.add_raw(AttrType(0x7001), b"x").unwrap();
        b.add_raw(AttrType(0xC001), b"optional").unwrap();
        b.add_raw(AttrType(0x0003), &[0, 0, 0, 0]).unwrap(); // RFC 3489 CHANGE-REQUEST
    });
    let m = Message::parse(&buf).unwrap();
    assert!(m.has_unknown_required());
    assert_eq!(
        m.unknown_required().collect::<Vec<_>>(),
        vec![AttrType(0x7001), AttrType(0x0003)]
    );
    // A server's 420 answer.
    let mut out = Vec::new();
    let mut b = MessageBuilder::new(&mut out, Class::Error, Method::BINDING, m.transaction_id());
    b.add(&Attribute::ErrorCode(ErrorCode {
        code: 420,
        reason: "Unknown Attribute",
    }))
    .unwrap();
    b.add_unknown_attributes(m.unknown_required()).unwrap();
    b.add_fingerprint().unwrap();
    let r = Message::parse(&out).unwrap();
    assert_eq!(
        r.error_code(),
        Ok(Some(ErrorCode {
            code: 420,
            reason: "Unknown Attribute"
        }))
    );
    match r.get(AttrType::UNKNOWN_ATTRIBUTES) {
        Some(Ok(Attribute::UnknownAttributes(u))) => {
            assert_eq!(
                u.iter().collect::<Vec<_>>(),
                vec![AttrType(0x7001), AttrType(0x0003)]
            )
        }
        other => panic!("{other:?}"),
    }
    r.verify_fingerprint().unwrap();
}

#[test]
fn more_unknown_required_than_reported_still_counts() {
    let buf = binding_request(|b| {
        for t in 0..12u16 {
            b.add_raw(AttrType(0x7100 + t), &[]).unwrap();
        }
    });
    let m = Message::parse(&buf).unwrap();
    assert!(m.has_unknown_required());
    assert_eq!(m.unknown_required().count(), MAX_UNKNOWN_REPORTED);
}

#[test]
fn attributes_after_message_integrity_are_ignored_except_sha256_and_fingerprint() {
    let key = ShortTermKey::new(b"pw");
    let mut buf = binding_request(|b| {
        b.add(&Attribute::Priority(7)).unwrap();
        b.add_message_integrity(&key).unwrap();
    });
    // Append USERNAME and an unknown required attribute after MI by hand (a
    // builder refuses to), then MESSAGE-INTEGRITY-SHA256 and FINGERPRINT.
    buf.extend_from_slice(&[0x00, 0x06, 0x00, 0x04, b'e', b'v', b'i', b'l']);
    buf.extend_from_slice(&[0x7f, 0x00, 0x00, 0x00]);
    let len = (buf.len() - 20) as u16;
    buf[2..4].copy_from_slice(&len.to_be_bytes());
    let m = Message::parse(&buf).unwrap();
    assert_eq!(m.username(), Ok(None));
    assert!(!m.has_unknown_required());
    assert_eq!(m.attributes().count(), 2);
    assert_eq!(m.all_attributes().count(), 4);
    let ignored: Vec<bool> = m.all_attributes().map(|a| m.is_ignored(&a)).collect();
    assert_eq!(ignored, vec![false, false, true, true]);
    // Integrity still verifies: the ignored bytes come after it.
    m.verify_integrity(&key).unwrap();
}

#[test]
fn message_integrity_sha256_full_and_truncated() {
    let key = ShortTermKey::new(b"secret");
    let buf = binding_request(|b| {
        b.add(&Attribute::Username("a:b")).unwrap();
        b.add_message_integrity(&key).unwrap();
        b.add_message_integrity_sha256(&key).unwrap();
        b.add_fingerprint().unwrap();
    });
    let m = Message::parse(&buf).unwrap();
    m.verify_integrity(&key).unwrap();
    m.verify_integrity_sha256(&key).unwrap();
    m.verify_fingerprint().unwrap();
    assert_eq!(
        m.verify_integrity_sha256(&ShortTermKey::new(b"Secret")),
        Err(StunError::IntegrityMismatch(
            AttrType::MESSAGE_INTEGRITY_SHA256
        ))
    );

    // A 16-byte truncated MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6), computed
    // here with the hmac crate directly from the RFC's description.
    use hmac::{Hmac, Mac};
    let mut msg = binding_request(|b| b.add(&Attribute::Username("a:b")).unwrap());
    let len_with_attr = (msg.len() - 20 + 4 + 16) as u16;
    msg[2..4].copy_from_slice(&len_with_attr.to_be_bytes());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"secret").unwrap();
    mac.update(&msg);
    let tag = mac.finalize().into_bytes();
    msg.extend_from_slice(&[0x00, 0x1c, 0x00, 0x10]);
    msg.extend_from_slice(&tag[..16]);
    let m = Message::parse(&msg).unwrap();
    m.verify_integrity_sha256(&key).unwrap();
    assert_eq!(
        m.verify_integrity(&key),
        Err(StunError::MissingAttribute(AttrType::MESSAGE_INTEGRITY))
    );
}

#[test]
fn builder_enforces_the_order_of_the_last_attributes() {
    let key = ShortTermKey::new(b"k");
    let mut out = Vec::new();
    let mut b = MessageBuilder::new(&mut out, Class::Request, Method::BINDING, RFC5769_TID);
    b.add_message_integrity(&key).unwrap();
    assert_eq!(
        b.add(&Attribute::UseCandidate),
        Err(StunError::OutOfOrder(AttrType::USE_CANDIDATE))
    );
    assert_eq!(
        b.add_message_integrity(&key),
        Err(StunError::OutOfOrder(AttrType::MESSAGE_INTEGRITY))
    );
    b.add_fingerprint().unwrap();
    assert_eq!(
        b.add_fingerprint(),
        Err(StunError::OutOfOrder(AttrType::FINGERPRINT))
    );
    // A refused attribute leaves the message as it was.
    assert_eq!(b.len(), 20 + 24 + 8);
    let m = Message::parse(&out).unwrap();
    m.verify_integrity(&key).unwrap();
    m.verify_fingerprint().unwrap();
}

#[test]
fn builder_refuses_values_that_do_not_fit() {
    let mut out = Vec::new();
    let mut b = MessageBuilder::new(&mut out, Class::Request, Method::BINDING, RFC5769_TID);
    let big = vec![0u8; 70_000];
    assert_eq!(b.add_raw(AttrType::SOFTWARE, &big), Err(StunError::TooLong));
    let bad = ErrorCode {
        code: 299,
        reason: "",
    };
    assert!(matches!(
        b.add(&Attribute::ErrorCode(bad)),
        Err(StunError::BadErrorCode { .. })
    ));
    assert_eq!(b.len(), 20);
    // Filling up to the 16-bit message length and one byte beyond.
    let chunk = vec![0u8; 65_000];
    b.add_raw(AttrType::SOFTWARE, &chunk).unwrap();
    assert_eq!(
        b.add_raw(AttrType::SOFTWARE, &chunk[..600]),
        Err(StunError::TooLong)
    );
    assert_eq!(b.len(), 20 + 4 + 65_000);
    Message::parse(&out).unwrap();
}

#[test]
fn malformed_messages_each_give_their_error() {
    let good = fixture("chromium_stun_binding_request.hex");
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    let cases: Vec<(&str, Vec<u8>, StunError)> = vec![
        ("empty", vec![], StunError::Truncated { needed: 20, got: 0 }),
        (
            "short header",
            good[..19].to_vec(),
            StunError::Truncated {
                needed: 20,
                got: 19,
            },
        ),
        (
            "top bits set",
            with(&|b| b[0] = 0x40),
            StunError::NotStun(0x40),
        ),
        (
            "old cookie",
            with(&|b| b[4] = 0),
            StunError::BadMagicCookie(0x0012a442),
        ),
        (
            "unaligned length",
            with(&|b| b[3] = 0x51),
            StunError::UnalignedLength(0x51),
        ),
        (
            "body cut",
            good[..60].to_vec(),
            StunError::Truncated {
                needed: 100,
                got: 60,
            },
        ),
        (
            "trailing bytes",
            with(&|b| b.extend_from_slice(&[0; 4])),
            StunError::LengthMismatch {
                declared: 80,
                actual: 84,
            },
        ),
        (
            "attribute overruns",
            with(&|b| b[22..24].copy_from_slice(&[0x00, 0xff])),
            StunError::TruncatedAttribute {
                attr: AttrType::USERNAME,
                offset: 20,
                declared: 255,
                available: 76,
            },
        ),
        (
            "attribute after fingerprint",
            with(&|b| {
                b.extend_from_slice(&[0x80, 0x22, 0x00, 0x00]);
                b[3] += 4;
            }),
            StunError::AttributeAfterFingerprint {
                attr: AttrType::SOFTWARE,
                offset: 100,
            },
        ),
    ];
    for (what, bytes, err) in cases {
        assert_eq!(Message::parse(&bytes).unwrap_err(), err, "{what}");
    }
}

#[test]
fn malformed_attribute_values_fail_alone() {
    let buf = binding_request(|b| {
        b.add_raw(AttrType::PRIORITY, &[1, 2, 3]).unwrap();
        b.add_raw(AttrType::USERNAME, &[0xff, 0xfe]).unwrap();
        b.add_raw(AttrType::XOR_MAPPED_ADDRESS, &[0, 3, 0, 0, 1, 2, 3, 4])
            .unwrap();
        b.add_raw(AttrType::MAPPED_ADDRESS, &[0, 1, 0, 0, 1, 2])
            .unwrap();
        b.add_raw(AttrType::ERROR_CODE, &[0, 0, 7, 0]).unwrap();
        b.add_raw(AttrType::USE_CANDIDATE, &[0]).unwrap();
        b.add_raw(AttrType::UNKNOWN_ATTRIBUTES, &[0]).unwrap();
        b.add_raw(AttrType::ICE_CONTROLLING, &[0; 8]).unwrap();
    });
    let m = Message::parse(&buf).unwrap();
    let tid = m.transaction_id();
    let errs: Vec<_> = m.attributes().map(|a| a.decode(&tid)).collect();
    assert_eq!(
        errs,
        vec![
            Err(StunError::BadAttributeLength {
                attr: AttrType::PRIORITY,
                len: 3
            }),
            Err(StunError::InvalidUtf8(AttrType::USERNAME)),
            Err(StunError::UnknownAddressFamily {
                attr: AttrType::XOR_MAPPED_ADDRESS,
                family: 3
            }),
            Err(StunError::BadAttributeLength {
                attr: AttrType::MAPPED_ADDRESS,
                len: 6
            }),
            Err(StunError::BadErrorCode {
                class: 7,
                number: 0
            }),
            Err(StunError::BadAttributeLength {
                attr: AttrType::USE_CANDIDATE,
                len: 1
            }),
            Err(StunError::BadAttributeLength {
                attr: AttrType::UNKNOWN_ATTRIBUTES,
                len: 1
            }),
            Ok(Attribute::IceControlling(0)),
        ]
    );
    assert_eq!(
        m.priority(),
        Err(StunError::BadAttributeLength {
            attr: AttrType::PRIORITY,
            len: 3
        })
    );
    assert_eq!(
        m.verify_integrity(&ShortTermKey::new(b"x")),
        Err(StunError::MissingAttribute(AttrType::MESSAGE_INTEGRITY))
    );
}

#[test]
fn every_typed_attribute_round_trips() {
    let v6: SocketAddr = "[2001:db8::1]:3478".parse().unwrap();
    let attrs = [
        Attribute::MappedAddress("10.0.0.1:9".parse().unwrap()),
        Attribute::XorMappedAddress(v6),
        Attribute::XorMappedAddress("127.0.0.1:52849".parse().unwrap()),
        Attribute::AlternateServer(v6),
        Attribute::Username("ufrag:other"),
        Attribute::Realm("example.org"),
        Attribute::Nonce("f//499k954d6OL34oL9FSTvy64sA"),
        Attribute::Software("meshrtc"),
        Attribute::ErrorCode(ErrorCode {
            code: 487,
            reason: "Role Conflict",
        }),
        Attribute::ErrorCode(ErrorCode {
            code: 699,
            reason: "class 6 is valid (§14.8)",
        }),
        Attribute::Priority(u32::MAX),
        Attribute::UseCandidate,
        Attribute::IceControlled(1),
        Attribute::IceControlling(u64::MAX),
        Attribute::Other {
            attr: AttrType(0xC0DE),
            value: b"abcde",
        },
    ];
    let mut out = Vec::new();
    let mut b = MessageBuilder::new(&mut out, Class::Indication, Method(0x123), RFC5769_TID);
    for a in &attrs {
        b.add(a).unwrap();
    }
    let m = Message::parse(&out).unwrap();
    assert_eq!((m.class(), m.method()), (Class::Indication, Method(0x123)));
    let back: Vec<_> = m
        .attributes()
        .map(|r| r.decode(&m.transaction_id()).unwrap())
        .collect();
    assert_eq!(back, attrs);
}

#[test]
fn tag_comparison_checks_every_byte_and_the_length() {
    use super::integrity::ct_eq;
    let a = [7u8; 20];
    for i in 0..20 {
        let mut b = a;
        b[i] ^= 0x80;
        assert!(!ct_eq(&a, &b), "difference at byte {i} missed");
    }
    assert!(ct_eq(&a, &a));
    assert!(!ct_eq(&a, &a[..19]));
    assert!(ct_eq(&[], &[]));
}

#[test]
fn attributes_beyond_offset_65535_are_addressed_correctly() {
    // A 65,552-byte message (bigger than UDP carries, but a parser must not
    // care): one large SOFTWARE, then MESSAGE-INTEGRITY and FINGERPRINT past
    // offset 65,535.
    let key = ShortTermKey::new(b"k");
    let buf = binding_request(|b| {
        b.add_raw(AttrType::SOFTWARE, &vec![b'x'; 65_496]).unwrap();
        b.add_message_integrity(&key).unwrap();
        b.add_fingerprint().unwrap();
    });
    assert!(buf.len() - 8 > 65_535, "FINGERPRINT starts past u16 range");
    let m = Message::parse(&buf).unwrap();
    m.verify_integrity(&key).unwrap();
    m.verify_fingerprint().unwrap();
}

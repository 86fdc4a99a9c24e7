use super::h;
use crate::rtcp::*;
use crate::RtpError;
use std::time::Duration;

/// RFC 3550 §6.4.1 SR with one report block, then an SDES with a CNAME
/// (§6.5.1): the compound every RTCP interval sends.
const SR_SDES: &str = "
    81 C8 000C | 11223344 | E1234567 89ABCDEF | 00015F90 | 00000064 | 00003E80 |
      55667788 | 40 FFFFFE | 00010005 | 00000020 | 45678912 | 00010000 |
    81 CA 0004 | 11223344 | 01 08 6162636431323334 | 00 00";

#[test]
fn sr_and_sdes_compound_parses_field_by_field() {
    let b = h(SR_SDES);
    assert_eq!(b.len(), 52 + 20);
    validate_compound(&b, false).unwrap();
    let packets: Vec<_> = Compound::new(&b).map(Result::unwrap).collect();
    assert_eq!(packets.len(), 2);
    let RtcpPacket::SenderReport(sr) = packets[0] else {
        panic!("not an SR: {:?}", packets[0])
    };
    assert_eq!(sr.ssrc, 0x1122_3344);
    assert_eq!(
        sr.info,
        SenderInfo {
            ntp_time: 0xE123_4567_89AB_CDEF,
            rtp_time: 90_000,
            packet_count: 100,
            octet_count: 16_000
        }
    );
    assert_eq!(sr.info.compact_ntp(), 0x4567_89AB);
    let blocks: Vec<_> = sr.reports.iter().collect();
    assert_eq!(
        blocks,
        [ReportBlock {
            ssrc: 0x5566_7788,
            fraction_lost: 64,
            cumulative_lost: -2,
            highest_seq: 0x1_0005,
            jitter: 32,
            last_sr: 0x4567_8912,
            delay_since_last_sr: 65_536,
        }]
    );
    assert!(sr.extension.is_empty());
    let RtcpPacket::Sdes(sdes) = packets[1] else {
        panic!()
    };
    let chunk = sdes.chunks.iter().next().unwrap();
    assert_eq!(chunk.ssrc, 0x1122_3344);
    assert_eq!(chunk.items.cname(), Some(&b"abcd1234"[..]));
    // Written back from the views: the same bytes.
    let mut out = Vec::new();
    let mut c = CompoundBuilder::new(&mut out);
    for p in &packets {
        c.push(p).unwrap();
    }
    assert_eq!(out, b);
}

#[test]
fn sr_and_sdes_built_from_values_match_the_vector() {
    let blocks = [ReportBlock {
        ssrc: 0x5566_7788,
        fraction_lost: 64,
        cumulative_lost: -2,
        highest_seq: 0x1_0005,
        jitter: 32,
        last_sr: 0x4567_8912,
        delay_since_last_sr: 65_536,
    }];
    let mut out = Vec::new();
    CompoundBuilder::new(&mut out)
        .push(&RtcpPacket::SenderReport(SenderReport {
            ssrc: 0x1122_3344,
            info: SenderInfo {
                ntp_time: 0xE123_4567_89AB_CDEF,
                rtp_time: 90_000,
                packet_count: 100,
                octet_count: 16_000,
            },
            reports: WireList::new(&blocks),
            extension: &[],
        }))
        .unwrap()
        .push(&RtcpPacket::Sdes(Sdes::cname(0x1122_3344, "abcd1234")))
        .unwrap();
    assert_eq!(out, h(SR_SDES));
}

/// RFC 4585 §6.2.1: PID 100, BLP 0b101 = 100, 101, 103 lost.
const NACK: &str = "81 CD 0003 | 00000001 | 00000002 | 0064 0005";

#[test]
fn generic_nack_with_blp() {
    let b = h(NACK);
    let p = Compound::new(&b).next().unwrap().unwrap();
    let RtcpPacket::Nack(n) = p else { panic!() };
    assert_eq!((n.sender_ssrc, n.media_ssrc), (1, 2));
    assert_eq!(n.lost().collect::<Vec<_>>(), [100, 101, 103]);
    let pairs: Vec<_> = nack_pairs([100, 101, 103]).collect();
    assert_eq!(pairs, [NackPair { pid: 100, blp: 5 }]);
    let mut out = Vec::new();
    RtcpPacket::Nack(Nack {
        sender_ssrc: 1,
        media_ssrc: 2,
        pairs: WireList::new(&pairs),
    })
    .write_to(&mut out)
    .unwrap();
    assert_eq!(out, b);
}

#[test]
fn nack_pairs_pack_and_expand_across_the_wrap() {
    let lost: Vec<u16> = [65_530u16, 65_531, 65_535, 0, 1, 10, 11, 30, 46, 47, 48]
        .into_iter()
        .collect();
    let pairs: Vec<_> = nack_pairs(lost.iter().copied()).collect();
    assert_eq!(
        pairs,
        [
            // 65531 (bit 0), 65535 (bit 4), 0 (bit 5), 1 (bit 6), 10 (bit 15)
            NackPair {
                pid: 65_530,
                blp: 0b1000_0000_0111_0001
            },
            NackPair { pid: 11, blp: 0 },
            // 46 (bit 15), 47 (bit 16 is out: new pair)
            NackPair {
                pid: 30,
                blp: 0b1000_0000_0000_0000
            },
            NackPair { pid: 47, blp: 0b1 },
        ]
    );
    let back: Vec<u16> = pairs.iter().flat_map(|p| p.lost()).collect();
    assert_eq!(back, lost);
    // Repeats are skipped; an empty list gives no pairs.
    assert_eq!(
        nack_pairs([5, 5, 6]).collect::<Vec<_>>(),
        [NackPair { pid: 5, blp: 1 }]
    );
    assert_eq!(nack_pairs([]).count(), 0);
}

/// RFC 4585 §6.3.1 PLI and RFC 5104 §4.3.1 FIR.
const PLI: &str = "81 CE 0002 | 00000001 | 00000002";
const FIR: &str = "84 CE 0004 | 00000001 | 00000000 | 55667788 07 000000";

#[test]
fn pli_and_fir() {
    let b = h(&format!("{PLI}{FIR}"));
    let packets: Vec<_> = Compound::new(&b).map(Result::unwrap).collect();
    assert_eq!(
        packets[0],
        RtcpPacket::Pli(Pli {
            sender_ssrc: 1,
            media_ssrc: 2
        })
    );
    let entries = [FirEntry {
        ssrc: 0x5566_7788,
        seq_nr: 7,
    }];
    assert_eq!(
        packets[1],
        RtcpPacket::Fir(Fir {
            sender_ssrc: 1,
            media_ssrc: 0,
            entries: WireList::new(&entries)
        })
    );
    let mut out = Vec::new();
    for p in &packets {
        p.write_to(&mut out).unwrap();
    }
    assert_eq!(out, b);
    // Reduced-size RTCP (RFC 5506): a lone feedback packet is fine...
    validate_compound(&b, true).unwrap();
    // ...but not in a full compound (RFC 3550 §6.1).
    assert_eq!(
        validate_compound(&b, false),
        Err(RtpError::RtcpFirstNotReport(206))
    );
}

/// draft-alvestrand-rmcat-remb §2.2: 1.5 Mbps = 187500 × 2^3.
const REMB: &str = "8F CE 0005 | 00000001 | 00000000 | 52454D42 | 01 0E DC6C | 55667788";

#[test]
fn remb_with_a_known_bitrate() {
    let b = h(REMB);
    let RtcpPacket::Remb(r) = Compound::new(&b).next().unwrap().unwrap() else {
        panic!()
    };
    assert_eq!((r.exponent, r.mantissa), (3, 187_500));
    assert_eq!(r.bitrate(), 1_500_000);
    assert_eq!(r.ssrcs.iter().collect::<Vec<_>>(), [0x5566_7788]);
    let ssrcs = [0x5566_7788];
    let built = Remb::new(1, 1_500_000, WireList::new(&ssrcs));
    assert_eq!(built, r);
    let mut out = Vec::new();
    RtcpPacket::Remb(built).write_to(&mut out).unwrap();
    assert_eq!(out, b);
}

#[test]
fn remb_bitrates_keep_18_significant_bits() {
    for rate in [
        0u64,
        1,
        262_143,
        262_144,
        1_000_001,
        2_500_000_000,
        u64::MAX >> 6,
    ] {
        let r = Remb::new(0, rate, SsrcList::default());
        assert!(r.mantissa < 1 << 18 && r.exponent < 64);
        assert!(r.bitrate() <= rate && rate - r.bitrate() < 1 << r.exponent.max(1));
    }
    let max = Remb {
        exponent: 63,
        mantissa: (1 << 18) - 1,
        ..Remb::new(0, 0, SsrcList::default())
    };
    assert_eq!(max.bitrate(), u64::MAX);
}

/// draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1: base 100,
/// 10 statuses, reference time 16 × 64 ms, feedback count 3. A run-length
/// chunk (7 × "small delta") and a 2-bit status vector (large, not
/// received, small); deltas 7 × 1 ms, −2 ms (16-bit), 50 ms (8-bit).
const TWCC: &str = "8F CD 0008 | 00000001 | 00000002 | 0064 000A | 000010 03 |
                    2007 E100 | 04040404040404 FFF8 C8 | 0000";

fn twcc_arrivals() -> Vec<(u16, Option<Duration>)> {
    let ms = Duration::from_millis;
    let mut a: Vec<_> = (0..7)
        .map(|i| (100 + i, Some(ms(1025 + u64::from(i)))))
        .collect();
    a.push((107, Some(ms(1029))));
    a.push((108, None));
    a.push((109, Some(ms(1079))));
    a
}

#[test]
fn twcc_feedback_with_run_length_and_two_bit_vector_chunks() {
    let b = h(TWCC);
    let RtcpPacket::TransportCc(t) = Compound::new(&b).next().unwrap().unwrap() else {
        panic!()
    };
    assert_eq!((t.sender_ssrc, t.media_ssrc, t.fb_pkt_count), (1, 2, 3));
    assert_eq!(
        (t.base_seq(), t.status_count(), t.reference_time()),
        (100, 10, 16)
    );
    let got: Vec<_> = t
        .packets()
        .map(|p| (p.seq, p.delta, p.arrival_us))
        .collect();
    let mut want = Vec::new();
    for i in 0..7u16 {
        want.push((100 + i, Some(4), Some(1_025_000 + 1000 * i64::from(i))));
    }
    want.push((107, Some(-8), Some(1_029_000)));
    want.push((108, None, None));
    want.push((109, Some(200), Some(1_079_000)));
    assert_eq!(got, want);
    assert_eq!(t.packets().nth(7).unwrap().delta_micros(), Some(-2000));

    // Built from arrival times: same feedback, same bytes.
    let arrivals = twcc_arrivals();
    let built = TransportCc::from_arrivals(1, 2, 3, &arrivals).unwrap();
    assert_eq!(built, t);
    let mut out = Vec::new();
    RtcpPacket::TransportCc(built).write_to(&mut out).unwrap();
    assert_eq!(out, b);
    // And the parsed view writes back to the same bytes too.
    out.clear();
    RtcpPacket::TransportCc(t).write_to(&mut out).unwrap();
    assert_eq!(out, b);
}

#[test]
fn twcc_one_bit_vectors_and_long_runs() {
    let ms = Duration::from_millis;
    // 14 alternating → one 1-bit vector; then 200 lost, then 1 received.
    let mut arrivals: Vec<(u16, Option<Duration>)> = (0..14u16)
        .map(|i| {
            (
                65_530u16.wrapping_add(i),
                (i % 2 == 0).then(|| ms(500 + u64::from(i))),
            )
        })
        .collect();
    arrivals.push((65_530u16.wrapping_add(214), Some(ms(560))));
    let t = TransportCc::from_arrivals(9, 9, 255, &arrivals).unwrap();
    assert_eq!(t.status_count(), 215);
    let mut out = Vec::new();
    RtcpPacket::TransportCc(t).write_to(&mut out).unwrap();
    // Chunks: 1-bit vector 0b1_0_10101010101010, run of 200 "not received",
    // run of 1 "small".
    assert_eq!(&out[20..26], &h("AAAA 00C8 2001")[..]);
    let RtcpPacket::TransportCc(p) = Compound::new(&out).next().unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(p, t);
    let received: Vec<_> = p
        .packets()
        .filter(|x| x.delta.is_some())
        .map(|x| x.seq)
        .collect();
    assert_eq!(received.len(), 8);
    assert_eq!(*received.last().unwrap(), 65_530u16.wrapping_add(214));
}

#[test]
fn twcc_reference_time_is_24_bit_signed() {
    // 2^23 + 5 units of 64 ms: the 24-bit field reads as negative.
    let base = Duration::from_millis(64 * ((1 << 23) + 5));
    let arrivals = [
        (7u16, Some(base)),
        (8, Some(base + Duration::from_micros(250))),
    ];
    let t = TransportCc::from_arrivals(1, 2, 0, &arrivals).unwrap();
    assert_eq!(t.reference_time(), -(1 << 23) + 5);
    let mut out = Vec::new();
    RtcpPacket::TransportCc(t).write_to(&mut out).unwrap();
    assert_eq!(&out[16..19], &[0x80, 0x00, 0x05]);
    let RtcpPacket::TransportCc(p) = Compound::new(&out).next().unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(p, t);
    let deltas: Vec<_> = p.packets().map(|x| x.delta).collect();
    assert_eq!(deltas, [Some(0), Some(1)]);
}

#[test]
fn twcc_builder_rejects_unsorted_and_oversized_input() {
    let ms = Duration::from_millis;
    assert_eq!(
        TransportCc::from_arrivals(0, 0, 0, &[]),
        Err(RtpError::TwccEmpty)
    );
    assert_eq!(
        TransportCc::from_arrivals(0, 0, 0, &[(5, Some(ms(1))), (4, Some(ms(2)))]),
        Err(RtpError::TwccUnsorted)
    );
    assert_eq!(
        TransportCc::from_arrivals(0, 0, 0, &[(5, Some(ms(1))), (5, Some(ms(2)))]),
        Err(RtpError::TwccUnsorted)
    );
    assert_eq!(
        TransportCc::from_arrivals(0, 0, 0, &[(0, Some(ms(0))), (1, Some(ms(9000)))]),
        Err(RtpError::TwccDeltaTooLarge(36_000))
    );
    // Out-of-order arrival: a negative delta is fine.
    let arrivals = [(0, Some(ms(100))), (1, Some(ms(90)))];
    let t = TransportCc::from_arrivals(0, 0, 0, &arrivals).unwrap();
    assert_eq!(
        t.packets().map(|p| p.delta).collect::<Vec<_>>(),
        [Some(144), Some(-40)]
    );
}

#[test]
fn bye_app_and_unknown_packets() {
    let b = h("82 CB 0004 | 00000001 00000002 | 05 6279652121 0000 |
               83 CC 0003 | 00000009 | 71776572 | 01020304 |
               80 CF 0001 | DEADBEEF |
               83 CD 0002 | 00000001 00000002");
    let packets: Vec<_> = Compound::new(&b).map(Result::unwrap).collect();
    let RtcpPacket::Bye(bye) = packets[0] else {
        panic!()
    };
    assert_eq!(bye.ssrcs.iter().collect::<Vec<_>>(), [1, 2]);
    assert_eq!(bye.reason, Some(&b"bye!!"[..]));
    let RtcpPacket::App(app) = packets[1] else {
        panic!()
    };
    assert_eq!(
        (app.subtype, app.ssrc, &app.name, app.data),
        (3, 9, b"qwer", &[1, 2, 3, 4][..])
    );
    // XR (207) and RTPFB FMT 3 (TMMBR) are not decoded, only kept.
    assert_eq!(
        packets[2],
        RtcpPacket::Unknown {
            pt: 207,
            fmt: 0,
            body: &[0xDE, 0xAD, 0xBE, 0xEF]
        }
    );
    assert!(matches!(
        packets[3],
        RtcpPacket::Unknown {
            pt: 205,
            fmt: 3,
            ..
        }
    ));
    let mut out = Vec::new();
    for p in &packets {
        p.write_to(&mut out).unwrap();
    }
    assert_eq!(out, b);
    let bye_without_reason = h("81 CB 0001 00000007");
    let RtcpPacket::Bye(bye) = Compound::new(&bye_without_reason).next().unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(bye.reason, None);
}

#[test]
fn sdes_with_several_chunks_and_items() {
    let items = [
        SdesItem {
            kind: SdesType::CNAME,
            value: b"x",
        },
        SdesItem {
            kind: SdesType::TOOL,
            value: b"meshrtc",
        },
        SdesItem {
            kind: SdesType(42),
            value: b"",
        },
    ];
    let chunks = [
        SdesChunk {
            ssrc: 1,
            items: SdesItems::new(&items),
        },
        SdesChunk {
            ssrc: 2,
            items: SdesItems::new(&[]),
        },
        SdesChunk {
            ssrc: 3,
            items: SdesItems::new(&items[1..2]),
        },
    ];
    let sdes = Sdes {
        chunks: SdesChunks::new(&chunks),
    };
    let mut out = Vec::new();
    RtcpPacket::Sdes(sdes).write_to(&mut out).unwrap();
    // chunk 1: 4 + 3 + 9 + 2 + 1 = 19 → 20; chunk 2: 4 + 1 → 8; chunk 3: 4 + 9 + 1 → 16.
    assert_eq!(out.len(), 4 + 20 + 8 + 16);
    let RtcpPacket::Sdes(p) = Compound::new(&out).next().unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(p, sdes);
    assert_eq!(p.chunks.len(), 3);
    assert_eq!(format!("{:?}", SdesType(42)), "SdesType(0x2a)");
    assert_eq!(format!("{:?}", SdesType::CNAME), "CNAME");
}

#[test]
fn a_compound_may_be_padded_on_its_last_packet() {
    let mut out = Vec::new();
    let mut c = CompoundBuilder::new(&mut out);
    c.push(&RtcpPacket::ReceiverReport(ReceiverReport {
        ssrc: 5,
        reports: WireList::default(),
        extension: &[],
    }))
    .unwrap();
    c.push(&RtcpPacket::Sdes(Sdes::cname(5, "c"))).unwrap();
    c.finish_padded(8).unwrap();
    assert_eq!(
        &out[8..],
        &h("A1 CA 0004 00000005 0101 6300 00000000 00000008")[..]
    );
    validate_compound(&out, false).unwrap();
    let p: Vec<_> = Compound::new(&out).map(Result::unwrap).collect();
    assert_eq!(p[1], RtcpPacket::Sdes(Sdes::cname(5, "c")));
}

#[test]
fn malformed_rtcp_gives_specific_errors() {
    let rr = "80 C9 0001 00000001";
    let cases: Vec<(&str, String, RtpError)> = vec![
        (
            "empty",
            String::new(),
            RtpError::RtcpTruncatedHeader { offset: 0, got: 0 },
        ),
        (
            "3 bytes",
            "80C900".into(),
            RtpError::RtcpTruncatedHeader { offset: 0, got: 3 },
        ),
        (
            "trailing bytes",
            format!("{rr} 80C9"),
            RtpError::RtcpTruncatedHeader { offset: 8, got: 2 },
        ),
        (
            "version 1",
            "40 C9 0001 00000001".into(),
            RtpError::BadVersion(1),
        ),
        (
            "length overflow",
            "80 C9 0007 00000001".into(),
            RtpError::RtcpLengthOverflow {
                offset: 0,
                declared: 32,
                available: 8,
            },
        ),
        (
            "second packet overflows",
            format!("{rr} 80 C9 0002 00000001"),
            RtpError::RtcpLengthOverflow {
                offset: 8,
                declared: 12,
                available: 8,
            },
        ),
        (
            "padding in a non-last packet",
            format!("A0 C9 0001 00000001 {rr}"),
            RtpError::RtcpPaddingNotLast { offset: 0 },
        ),
        (
            "padding longer than the body",
            "A0 C9 0001 00000009".into(),
            RtpError::RtcpBadPadding {
                padding: 9,
                available: 4,
            },
        ),
        (
            "padding count zero",
            "A0 C9 0001 00000000".into(),
            RtpError::RtcpBadPadding {
                padding: 0,
                available: 4,
            },
        ),
        (
            "SR with a missing report block",
            "82 C8 000C 00000001 0000000000000000 00000000 00000000 00000000
             000000000000000000000000000000000000000000000000"
                .into(),
            RtpError::RtcpBodyTooShort {
                pt: 200,
                needed: 72,
                got: 48,
            },
        ),
        (
            "RR count beyond the body",
            "81 C9 0001 00000001".into(),
            RtpError::RtcpBodyTooShort {
                pt: 201,
                needed: 28,
                got: 4,
            },
        ),
        (
            "SDES item past the end",
            "81 CA 0002 00000001 0109 6162".into(),
            RtpError::SdesTruncated { chunk: 0 },
        ),
        (
            "SDES without a terminator",
            "81 CA 0002 00000001 0102 6162".into(),
            RtpError::SdesTruncated { chunk: 0 },
        ),
        (
            "BYE reason past the end",
            "81 CB 0002 00000001 09 616263".into(),
            RtpError::ByeReasonOverflow {
                declared: 9,
                available: 3,
            },
        ),
        (
            "feedback without SSRCs",
            "81 CE 0001 00000001".into(),
            RtpError::RtcpBodyTooShort {
                pt: 206,
                needed: 8,
                got: 4,
            },
        ),
        (
            "REMB with a missing SSRC",
            "8F CE 0004 00000001 00000000 52454D42 020EDC6C".into(),
            RtpError::RtcpBodyTooShort {
                pt: 206,
                needed: 24,
                got: 16,
            },
        ),
        (
            "TWCC chunks missing",
            "8F CD 0004 00000001 00000002 0064 0020 00001003".into(),
            RtpError::TwccTruncated {
                what: "packet chunks",
            },
        ),
        (
            "TWCC deltas missing",
            "8F CD 0005 00000001 00000002 0064 0003 00001003 2003 0404".into(),
            RtpError::TwccTruncated {
                what: "receive deltas",
            },
        ),
        (
            "TWCC reserved symbol",
            "8F CD 0005 00000001 00000002 0064 0003 00001003 6003 0000".into(),
            RtpError::TwccReservedSymbol,
        ),
    ];
    for (name, hex, err) in cases {
        let b = h(&hex);
        let first_err = Compound::new(&b).find_map(Result::err);
        assert_eq!(first_err, Some(err), "{name}");
        assert_eq!(validate_compound(&b, true), Err(err), "{name}");
    }
}

#[test]
fn a_bad_body_does_not_hide_the_next_packets() {
    let b = h("81 C9 0001 00000001 | 80 C9 0001 00000002 | 81 CE 0002 00000001 00000002");
    let r: Vec<_> = Compound::new(&b).collect();
    assert_eq!(r.len(), 3);
    assert!(r[0].is_err());
    assert!(matches!(
        r[1],
        Ok(RtcpPacket::ReceiverReport(ReceiverReport { ssrc: 2, .. }))
    ));
    assert!(matches!(r[2], Ok(RtcpPacket::Pli(_))));
    // A framing error ends the walk.
    let b = h("80 C9 0001 00000002 | 40 C9 0001 00000002 | 80 C9 0001 00000002");
    let r: Vec<_> = Compound::new(&b).collect();
    assert_eq!(r.len(), 2);
    assert_eq!(r[1], Err(RtpError::BadVersion(1)));
}

#[test]
fn compound_rules_without_reduced_size() {
    let rr = h("80 C9 0001 00000001");
    assert_eq!(
        validate_compound(&rr, false),
        Err(RtpError::RtcpMissingCname)
    );
    validate_compound(&rr, true).unwrap();
    let sdes_first = h("81 CA 0002 00000001 0000 0000 80 C9 0001 00000001");
    assert_eq!(
        validate_compound(&sdes_first, false),
        Err(RtpError::RtcpFirstNotReport(202))
    );
}

#[test]
fn writers_reject_what_the_wire_cannot_carry() {
    let blocks = [ReportBlock::default(); 32];
    let mut out = vec![0xAA];
    let rr = RtcpPacket::ReceiverReport(ReceiverReport {
        ssrc: 0,
        reports: WireList::new(&blocks),
        extension: &[],
    });
    assert_eq!(
        rr.write_to(&mut out),
        Err(RtpError::TooManyItems {
            what: "report blocks",
            count: 32,
            max: 31
        })
    );
    assert_eq!(out, [0xAA], "nothing written on error");
    let app = RtcpPacket::App(App {
        subtype: 0,
        ssrc: 0,
        name: *b"abcd",
        data: &[1, 2, 3],
    });
    assert_eq!(app.write_to(&mut out), Err(RtpError::RtcpUnaligned(11)));
    let long = [b'x'; 256];
    let bye = RtcpPacket::Bye(Bye {
        ssrcs: SsrcList::default(),
        reason: Some(&long),
    });
    assert_eq!(bye.write_to(&mut out), Err(RtpError::TextTooLong(256)));
    let unknown = RtcpPacket::Unknown {
        pt: 210,
        fmt: 32,
        body: &[],
    };
    assert!(matches!(
        unknown.write_to(&mut out),
        Err(RtpError::ValueOutOfRange { .. })
    ));
    assert_eq!(out, [0xAA]);
    // Report blocks clamp the cumulative loss to 24 bits.
    let big = [ReportBlock {
        cumulative_lost: i32::MAX,
        ..ReportBlock::default()
    }];
    let mut out = Vec::new();
    RtcpPacket::ReceiverReport(ReceiverReport {
        ssrc: 0,
        reports: WireList::new(&big),
        extension: &[],
    })
    .write_to(&mut out)
    .unwrap();
    let RtcpPacket::ReceiverReport(p) = Compound::new(&out).next().unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(p.reports.get(0).unwrap().cumulative_lost, 0x7F_FFFF);
}

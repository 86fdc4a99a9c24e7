use super::*;

fn round_trip(c: &Chunk<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    c.emit(&mut out);
    assert_eq!(out.len(), c.buffer_len());
    assert_eq!(out.len() % 4, 0);
    let len = be16(&out, 2) as usize;
    let raw = RawChunk {
        ty: ChunkType(out[0]),
        flags: out[1],
        value: &out[4..len],
    };
    assert_eq!(&Chunk::parse(raw).unwrap(), c);
    out
}

#[test]
fn data_chunk_layout_matches_rfc9260_3_3_1() {
    let c = Chunk::Data(DataChunk {
        tsn: 0x0102_0304,
        stream_id: 5,
        ssn: 6,
        ppid: 51,
        unordered: true,
        beginning: true,
        ending: false,
        immediate: false,
        payload: b"hi!",
    });
    let out = round_trip(&c);
    assert_eq!(
        out,
        [0, 0b110, 0, 19, 1, 2, 3, 4, 0, 5, 0, 6, 0, 0, 0, 51, b'h', b'i', b'!', 0]
    );
}

#[test]
fn init_with_cookie_and_extensions_round_trips() {
    let c = Chunk::InitAck(InitChunk {
        initiate_tag: 0xdead_beef,
        a_rwnd: 131072,
        outbound_streams: 1024,
        inbound_streams: 1024,
        initial_tsn: 77,
        params: vec![
            Param::StateCookie(&[9; 37]),
            Param::ForwardTsnSupported,
            Param::SupportedExtensions(&[0xC0, 0x82]),
        ],
        unrecognized: vec![],
    });
    let out = round_trip(&c);
    assert_eq!(&out[..4], &[2, 0, 0, (4 + 16 + 44 + 4 + 8) as u8]);
    let Chunk::InitAck(i) = c else { unreachable!() };
    assert_eq!(i.state_cookie(), Some(&[9u8; 37][..]));
    assert!(i.forward_tsn_supported());
    assert!(i.supports(ChunkType::RE_CONFIG));
}

#[test]
fn init_parameters_stop_or_skip_by_their_upper_bits() {
    let mut v = vec![0u8; 16];
    emit_tlv(&mut v, 0x8123, &[1]); // skip silently
    emit_tlv(&mut v, 0xC124, &[2]); // skip and report
    emit_tlv(&mut v, 0xC000, &[]); // known
    emit_tlv(&mut v, 0x4125, &[3]); // stop and report
    emit_tlv(&mut v, 0x8008, &[0x82]); // never reached
    let i = InitChunk::parse("INIT", &v).unwrap();
    let types: Vec<u16> = i.params.iter().map(|p| p.param_type().0).collect();
    assert_eq!(types, [0x8123, 0xC124, 0xC000, 0x4125]);
    assert_eq!(
        i.unrecognized,
        vec![
            Tlv {
                ty: 0xC124,
                value: &[2]
            },
            Tlv {
                ty: 0x4125,
                value: &[3]
            }
        ]
    );
}

#[test]
fn sack_with_gaps_and_duplicates_round_trips() {
    let c = Chunk::Sack(SackChunk {
        cum_tsn_ack: 100,
        a_rwnd: 5000,
        gap_blocks: vec![(2, 3), (5, 9)],
        duplicate_tsns: vec![99, 98],
    });
    let out = round_trip(&c);
    assert_eq!(&out[..4], &[3, 0, 0, 32]);
    assert_eq!(&out[12..16], &[0, 2, 0, 2]);
}

#[test]
fn sack_whose_counts_overrun_the_chunk_is_malformed() {
    let v = [0, 0, 0, 1, 0, 0, 0, 1, 0, 3, 0, 0, 0, 1, 0, 2];
    let raw = RawChunk {
        ty: ChunkType::SACK,
        flags: 0,
        value: &v,
    };
    assert_eq!(Chunk::parse(raw), Err(Error::MalformedChunk("SACK")));
}

#[test]
fn control_chunks_round_trip() {
    for c in [
        Chunk::Heartbeat(&[1, 2, 3, 4, 5, 6]),
        Chunk::HeartbeatAck(&[1, 2, 3]),
        Chunk::Abort {
            reflected: true,
            causes: &[0, 12, 0, 4],
        },
        Chunk::Shutdown { cum_tsn_ack: 42 },
        Chunk::ShutdownAck,
        Chunk::Error(&[0, 6, 0, 8, 0x41, 0, 0, 4]),
        Chunk::CookieEcho(&[7; 13]),
        Chunk::CookieAck,
        Chunk::ShutdownComplete { reflected: false },
        Chunk::ForwardTsn {
            new_cum_tsn: 9,
            streams: vec![(1, 2), (3, 4)],
        },
        Chunk::ReConfig(vec![
            ReConfigParam::OutgoingReset {
                request_seq: 1,
                response_seq: 2,
                last_tsn: 3,
                streams: vec![4, 5, 6],
            },
            ReConfigParam::IncomingReset {
                request_seq: 7,
                streams: vec![],
            },
        ]),
        Chunk::ReConfig(vec![ReConfigParam::Response {
            response_seq: 1,
            result: reconfig_result::PERFORMED,
            next_tsns: None,
        }]),
        Chunk::IData(IDataChunk {
            tsn: 1,
            stream_id: 2,
            mid: 3,
            ppid_or_fsn: 53,
            unordered: false,
            beginning: true,
            ending: true,
            immediate: true,
            payload: &[1, 2, 3, 4, 5],
        }),
        Chunk::Unknown(RawChunk {
            ty: ChunkType(0x85),
            flags: 3,
            value: &[1, 2],
        }),
    ] {
        round_trip(&c);
    }
}

#[test]
fn forward_tsn_layout_matches_rfc3758_3_2() {
    let out = round_trip(&Chunk::ForwardTsn {
        new_cum_tsn: 0x10,
        streams: vec![(7, 8)],
    });
    assert_eq!(out, [192, 0, 0, 12, 0, 0, 0, 0x10, 0, 7, 0, 8]);
}

#[test]
fn i_data_layout_matches_rfc8260_2_1() {
    // A middle fragment: FSN in place of the PPID, no B or E.
    let out = round_trip(&Chunk::IData(IDataChunk {
        tsn: 0x0A0B_0C0D,
        stream_id: 3,
        mid: 0x0102_0304,
        ppid_or_fsn: 7,
        unordered: true,
        beginning: false,
        ending: false,
        immediate: false,
        payload: b"xyz",
    }));
    assert_eq!(
        out,
        [
            64, 0b100, 0, 23, 0x0A, 0x0B, 0x0C, 0x0D, 0, 3, 0, 0, 1, 2, 3, 4, 0, 0, 0, 7, b'x',
            b'y', b'z', 0
        ]
    );
    assert_eq!(I_DATA_HEADER_LEN, 20);
}

#[test]
fn i_forward_tsn_layout_matches_rfc8260_2_3_1() {
    let out = round_trip(&Chunk::IForwardTsn {
        new_cum_tsn: 0x20,
        entries: vec![
            IForwardEntry {
                stream_id: 5,
                unordered: false,
                mid: 9,
            },
            IForwardEntry {
                stream_id: 6,
                unordered: true,
                mid: 0x0100_0000,
            },
        ],
    });
    assert_eq!(
        out,
        [194, 0, 0, 24, 0, 0, 0, 0x20, 0, 5, 0, 0, 0, 0, 0, 9, 0, 6, 0, 1, 1, 0, 0, 0]
    );
}

#[test]
fn i_forward_tsn_with_a_partial_entry_is_malformed() {
    for len in [0usize, 3, 8, 11] {
        let v = vec![0u8; len];
        let raw = RawChunk {
            ty: ChunkType::I_FORWARD_TSN,
            flags: 0,
            value: &v,
        };
        assert_eq!(
            Chunk::parse(raw),
            Err(Error::MalformedChunk("I-FORWARD-TSN")),
            "{len}"
        );
    }
    let raw = RawChunk {
        ty: ChunkType::I_DATA,
        flags: 3,
        value: &[0; 15],
    };
    assert_eq!(Chunk::parse(raw), Err(Error::MalformedChunk("I-DATA")));
}

#[test]
fn outgoing_reset_layout_matches_rfc6525_4_1() {
    let out = round_trip(&Chunk::ReConfig(vec![ReConfigParam::OutgoingReset {
        request_seq: 1,
        response_seq: 2,
        last_tsn: 3,
        streams: vec![4],
    }]));
    assert_eq!(
        out,
        [130, 0, 0, 24, 0, 13, 0, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 4, 0, 0]
    );
}

#[test]
fn unknown_chunk_actions_follow_the_upper_two_bits() {
    assert_eq!(
        ChunkType(0x3f).unrecognized_action(),
        UnrecognizedAction::Stop
    );
    assert_eq!(
        ChunkType(0x7f).unrecognized_action(),
        UnrecognizedAction::StopAndReport
    );
    assert_eq!(
        ChunkType(0xbf).unrecognized_action(),
        UnrecognizedAction::Skip
    );
    assert_eq!(
        ChunkType(0xff).unrecognized_action(),
        UnrecognizedAction::SkipAndReport
    );
}

#[test]
fn truncated_fixed_fields_are_errors_not_panics() {
    for ty in [0u8, 1, 2, 3, 4, 5, 7, 64, 130, 192, 194] {
        for n in 0..16 {
            let v = vec![0u8; n];
            let _ = Chunk::parse(RawChunk {
                ty: ChunkType(ty),
                flags: 0xff,
                value: &v,
            });
        }
    }
    let raw = RawChunk {
        ty: ChunkType::DATA,
        flags: 0,
        value: &[0; 11],
    };
    assert_eq!(Chunk::parse(raw), Err(Error::MalformedChunk("DATA")));
}

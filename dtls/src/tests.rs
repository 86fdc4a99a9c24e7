//! The parsing layers against Chromium 156's fragmented ClientHello.

use crate::handshake::{fragments, HandshakeError, HandshakeType, Message, Pushed, Reassembler};
use crate::hello::{ext, ClientHello, HelloError};
use crate::record::{self, records, ContentType, RecordError};

fn fixture(name: &str) -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(format!(
        "{}/../fixtures/chromium-156/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| hex::decode(l.trim()).unwrap())
        .collect()
}

/// The two datagrams through records, fragments and the reassembler.
fn reassemble(datagrams: &[Vec<u8>]) -> Message {
    let mut r = Reassembler::new(0, 1 << 16, 4);
    for d in datagrams {
        for rec in records(d) {
            let rec = rec.unwrap();
            assert_eq!(rec.content_type, ContentType::Handshake);
            assert_eq!(rec.epoch, 0);
            for f in fragments(rec.fragment) {
                assert_eq!(r.push(&f.unwrap()), Ok(Pushed::Kept));
            }
        }
    }
    let m = r.pop().expect("complete");
    assert_eq!(r.pop(), None);
    assert_eq!(r.buffered(), 0);
    m
}

#[test]
fn chromium_fragmented_client_hello_reassembles_to_the_captured_message() {
    let datagrams = fixture("chromium_dtls_clienthello.hex");
    assert_eq!(datagrams.len(), 2);
    assert_eq!(datagrams[0].len(), 1200);
    let m = reassemble(&datagrams);
    assert_eq!(m.msg_type, HandshakeType::ClientHello);
    assert_eq!(m.body.len(), 1413);
    let mut whole = Vec::new();
    m.write_unfragmented(&mut whole);
    let expected = &fixture("chromium_dtls_clienthello_reassembled_handshake.hex")[0];
    assert_eq!(&whole, expected);
    // Either order, and with the first datagram duplicated.
    let swapped = [
        datagrams[1].clone(),
        datagrams[0].clone(),
        datagrams[0].clone(),
    ];
    assert_eq!(reassemble(&swapped), m);
}

#[test]
fn chromium_client_hello_offers_what_the_server_needs() {
    let m = reassemble(&fixture("chromium_dtls_clienthello.hex"));
    let h = ClientHello::parse(&m.body).unwrap();
    assert_eq!(h.version, 0xfefd);
    assert!(h.cookie.is_empty());
    let suites: Vec<u16> = h.cipher_suites().collect();
    assert!(suites.contains(&0xc02b), "ECDHE-ECDSA-AES128-GCM-SHA256");
    assert!(
        suites.contains(&0x1301),
        "and DTLS 1.3's suites, to be ignored"
    );
    let groups = h.supported_groups();
    assert!(groups.contains(&0x11ec) && groups.contains(&29) && groups.contains(&23));
    assert_eq!(h.supported_versions(), [0xfefc, 0xfefd]);
    let (profiles, mki) = h.use_srtp().unwrap();
    assert!(profiles.contains(&0x0007) && profiles.contains(&0x0001));
    assert!(mki.is_empty());
    assert!(h.extended_master_secret());
    assert!(h.extension(ext::RENEGOTIATION_INFO).is_some());
    assert!(
        h.signature_algorithms().contains(&0x0403),
        "ecdsa_secp256r1_sha256"
    );
    assert_eq!(
        h.extension(ext::KEY_SHARE).map(|k| k.len() > 1216),
        Some(true)
    );
}

#[test]
fn our_fragments_reassemble_and_fit_the_budget() {
    let m = reassemble(&fixture("chromium_dtls_clienthello.hex"));
    for budget in [13, 100, 500, 1187, 5000] {
        let frags = m.fragments(budget);
        assert!(frags.iter().all(|f| f.len() <= budget.max(13)));
        let mut r = Reassembler::new(0, 1 << 16, 4);
        for f in frags.iter().rev() {
            for f in fragments(f) {
                r.push(&f.unwrap()).unwrap();
            }
        }
        assert_eq!(r.pop().as_ref(), Some(&m), "budget {budget}");
    }
    let empty = Message {
        msg_type: HandshakeType::ServerHelloDone,
        message_seq: 3,
        body: Vec::new(),
    };
    assert_eq!(empty.fragments(1200).len(), 1);
}

#[test]
fn reassembler_orders_bounds_and_refuses_inconsistency() {
    let msg = |seq, len| Message {
        msg_type: HandshakeType::Certificate,
        message_seq: seq,
        body: (0..len).map(|i| i as u8).collect(),
    };
    let mut r = Reassembler::new(1, 4096, 2);
    let two = msg(2, 10).fragments(100);
    let one = msg(1, 10).fragments(100);
    let far = msg(3, 10).fragments(100);
    let old = msg(0, 10).fragments(100);
    let push = |r: &mut Reassembler, f: &Vec<u8>| r.push(&fragments(f).next().unwrap().unwrap());
    assert_eq!(push(&mut r, &two[0]), Ok(Pushed::Kept));
    assert_eq!(r.pop(), None, "message 1 first");
    assert_eq!(
        push(&mut r, &far[0]),
        Ok(Pushed::AheadOfWindow),
        "beyond the window"
    );
    assert_eq!(push(&mut r, &old[0]), Ok(Pushed::Old), "already handed out");
    assert_eq!(push(&mut r, &one[0]), Ok(Pushed::Kept));
    assert_eq!(r.pop().map(|m| m.message_seq), Some(1));
    assert_eq!(r.pop().map(|m| m.message_seq), Some(2));
    assert_eq!(r.next_seq(), 3);
    let big = msg(3, 5000).fragments(100);
    assert_eq!(
        push(&mut r, &big[0]),
        Err(HandshakeError::TooLong {
            length: 5000,
            limit: 4096
        })
    );
    let a = msg(3, 10).fragments(8);
    let mut b = msg(3, 11).fragments(8)[1].clone();
    b[0] = HandshakeType::Certificate.as_u8();
    assert_eq!(push(&mut r, &a[0]), Ok(Pushed::Kept));
    // Incomplete: the conflicting fragment replaces it (one is forged and
    // only the newer can still be completed).
    assert_eq!(push(&mut r, &b), Ok(Pushed::Replaced));
    assert_eq!(r.buffered(), 11);
    // Complete: a conflicting fragment is refused, the message stays.
    for f in &a {
        push(&mut r, f).unwrap();
    }
    assert_eq!(push(&mut r, &b), Err(HandshakeError::Inconsistent(3)));
    assert_eq!(r.pop(), Some(msg(3, 10)));
}

#[test]
fn ranges_merge_incrementally_and_are_capped() {
    let body: Vec<u8> = (0..200u32).map(|i| i as u8).collect();
    let m = Message {
        msg_type: HandshakeType::Certificate,
        message_seq: 0,
        body: body.clone(),
    };
    let piece = |off: usize, len: usize| {
        let mut f = vec![HandshakeType::Certificate.as_u8(), 0, 0, 200, 0, 0];
        f.extend_from_slice(&(off as u32).to_be_bytes()[1..]);
        f.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
        f.extend_from_slice(&body[off..off + len]);
        f
    };
    let mut r = Reassembler::new(0, 4096, 4);
    let push = |r: &mut Reassembler, f: &[u8]| r.push(&fragments(f).next().unwrap().unwrap());
    // Every other byte: 64 ranges, then the cap.
    for i in 0..64 {
        assert_eq!(push(&mut r, &piece(2 * i, 1)), Ok(Pushed::Kept));
    }
    assert_eq!(r.max_ranges(), 64);
    assert_eq!(
        push(&mut r, &piece(150, 1)),
        Err(HandshakeError::TooManyRanges {
            message_seq: 0,
            limit: 64
        })
    );
    // Touching a held range still merges, and a byte inside one is a
    // duplicate; neither opens a range.
    assert_eq!(push(&mut r, &piece(127, 1)), Ok(Pushed::Kept));
    assert_eq!(push(&mut r, &piece(4, 1)), Ok(Pushed::Kept));
    assert_eq!(r.max_ranges(), 64);
    // The gaps fill: 1, 3, 5, ... merge pairs into one range.
    for i in 0..63 {
        push(&mut r, &piece(2 * i + 1, 1)).unwrap();
    }
    assert_eq!(r.max_ranges(), 1);
    assert_eq!(r.pop(), None);
    assert_eq!(push(&mut r, &piece(128, 72)), Ok(Pushed::Kept));
    assert_eq!(r.pop(), Some(m));
    // 1 + 64 + 2 + 63 + 1 fragments of constant work each.
    assert!(r.work() <= 4 * 131, "work {}", r.work());
}

#[test]
fn incomplete_messages_are_capped_and_the_next_expected_one_gets_room() {
    let first_byte = |seq: u16| {
        let mut f = vec![HandshakeType::Certificate.as_u8(), 0, 0, 10];
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0xaa]);
        f
    };
    let mut r = Reassembler::new(0, 4096, 8);
    let push = |r: &mut Reassembler, f: &[u8]| r.push(&fragments(f).next().unwrap().unwrap());
    for seq in 3..7 {
        assert_eq!(push(&mut r, &first_byte(seq)), Ok(Pushed::Kept));
    }
    assert_eq!(r.partials(), 4);
    assert_eq!(
        push(&mut r, &first_byte(7)),
        Err(HandshakeError::TooManyPartials { limit: 4 })
    );
    // Message 0 is nearer: message 6 makes room.
    assert_eq!(push(&mut r, &first_byte(0)), Ok(Pushed::Evicted));
    assert_eq!(r.partials(), 4);
    // A whole message needs no partial slot.
    let whole = Message {
        msg_type: HandshakeType::ServerHelloDone,
        message_seq: 1,
        body: Vec::new(),
    };
    assert_eq!(push(&mut r, &whole.fragments(100)[0]), Ok(Pushed::Kept));
    assert_eq!(r.partials(), 4);
}

#[test]
fn broken_records_fragments_and_hellos_each_give_their_error() {
    let mut rec = Vec::new();
    record::write_record(
        &mut rec,
        ContentType::Handshake,
        record::DTLS1_2,
        0,
        7,
        &[1, 2, 3],
    );
    let (r, rest) = record::Record::parse(&rec).unwrap();
    assert_eq!(
        (r.sequence, r.fragment, rest.len()),
        (7, &[1u8, 2, 3][..], 0)
    );
    assert_eq!(
        record::Record::parse(&rec[..12]).unwrap_err(),
        RecordError::TruncatedHeader(12)
    );
    assert_eq!(
        record::Record::parse(&rec[..15]).unwrap_err(),
        RecordError::TruncatedFragment {
            length: 3,
            available: 2
        }
    );
    let mut v13 = rec.clone();
    v13[0] = 0x2c;
    assert!(matches!(
        record::Record::parse(&v13),
        Err(RecordError::NotDtls12 { first: 0x2c, .. })
    ));
    let mut tls = rec.clone();
    tls[1] = 0x03;
    assert!(matches!(
        record::Record::parse(&tls),
        Err(RecordError::NotDtls12 { .. })
    ));
    // Garbage after a good record: the good one, then one error, then nothing.
    let mut two = rec.clone();
    two.extend_from_slice(&[22, 0xfe]);
    let got: Vec<_> = records(&two).collect();
    assert_eq!(got.len(), 2);
    assert!(got[0].is_ok() && got[1].is_err());
    // Handshake fragments.
    let hs = Message {
        msg_type: HandshakeType::Finished,
        message_seq: 5,
        body: vec![9; 12],
    }
    .fragments(1200)
    .remove(0);
    assert!(matches!(
        fragments(&hs[..11]).next(),
        Some(Err(HandshakeError::TruncatedHeader(11)))
    ));
    assert!(matches!(
        fragments(&hs[..20]).next(),
        Some(Err(HandshakeError::TruncatedFragment { .. }))
    ));
    let mut out = hs.clone();
    out[8] = 1; // offset 1 + 12 > 12
    assert!(matches!(
        fragments(&out).next(),
        Some(Err(HandshakeError::FragmentOutOfRange { .. }))
    ));
    // ClientHello bodies.
    let m = reassemble(&fixture("chromium_dtls_clienthello.hex"));
    assert_eq!(
        ClientHello::parse(&m.body[..20]),
        Err(HelloError::Truncated("random"))
    );
    let mut trailing = m.body.clone();
    trailing.push(0);
    assert!(ClientHello::parse(&trailing).is_err());
    let mut no_suites = m.body[..2 + 32 + 1 + 1].to_vec();
    no_suites.extend_from_slice(&[0, 0, 1, 0]);
    assert_eq!(
        ClientHello::parse(&no_suites),
        Err(HelloError::BadLength("cipher_suites"))
    );
    let mut bare = m.body[..2 + 32 + 1 + 1].to_vec();
    bare.extend_from_slice(&[0, 2, 0xc0, 0x2b, 1, 0]);
    let h = ClientHello::parse(&bare).unwrap();
    assert!(h.extensions.is_empty() && h.use_srtp().is_none());
    let mut dup = bare.clone();
    dup.extend_from_slice(&[0, 8, 0, 23, 0, 0, 0, 23, 0, 0]);
    assert_eq!(
        ClientHello::parse(&dup),
        Err(HelloError::DuplicateExtension(23))
    );
}

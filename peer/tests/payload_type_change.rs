//! A renegotiation that numbers the codec anew (a peer's subsequent offer
//! maps VP8 to 120 where the first one had 96, as a browser's may): our
//! stream on that m-line goes on as the same stream. Only the payload type
//! of its packets changes; the SSRC's sequence numbers run on without a
//! jump, so its SRTP index does too and the receiver drops nothing
//! (RFC 3550 §5.1, RFC 3711 §3.3.1, RFC 8829 §5.3.1).

use std::time::{Duration, Instant};

use meshrtc_peer::{ConnectionState, PacketizedFrame, SdpType, Transmit};
use meshrtc_rtp::vp8::Vp8Packetizer;

mod pair;
use pair::*;

/// An RTP packet's header fields as they cross the wire (SRTP leaves the
/// header in the clear): SSRC, payload type, sequence number.
type Seen = (u32, u8, u16);

/// RTP rather than RTCP (RFC 5761 §4: RTCP packet types 192–223 read as
/// payload types 64–95) or DTLS/STUN (RFC 7983 §7).
fn rtp_header(d: &[u8]) -> Option<Seen> {
    if d.len() < 12 || !(128..=191).contains(&d[0]) || (64..=95).contains(&(d[1] & 0x7f)) {
        return None;
    }
    let seq = u16::from_be_bytes([d[2], d[3]]);
    let ssrc = u32::from_be_bytes([d[8], d[9], d[10], d[11]]);
    Some((ssrc, d[1] & 0x7f, seq))
}

/// Exchanges datagrams, recording the RTP `from` sends, then runs the
/// clock to the next timer (20 ms at most).
fn step_recording(now: &mut Instant, a: &mut Side, b: &mut Side, b_rtp: &mut Vec<Seen>) {
    for _ in 0..10 {
        let mut n = 0;
        while let Some(Transmit { src, dst, payload }) = b.pc.poll_transmit() {
            if dst == a.addr {
                b_rtp.extend(rtp_header(&payload));
                a.pc.handle_datagram(*now, src, dst, &payload);
                n += 1;
            }
        }
        n += deliver(*now, a, b);
        drain(a);
        drain(b);
        if n == 0 {
            break;
        }
    }
    let next = [a.pc.poll_timeout(), b.pc.poll_timeout()]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(*now + Duration::from_millis(20));
    *now = (*now).max(next).min(*now + Duration::from_millis(20));
    a.pc.handle_timeout(*now);
    b.pc.handle_timeout(*now);
}

/// b sends 10 video frames on mid 0 (the first a key frame, numbered from
/// `first`), then the pair runs 300 ms.
fn b_sends(now: &mut Instant, a: &mut Side, b: &mut Side, first: u32, b_rtp: &mut Vec<Seen>) {
    let mut pk = Vp8Packetizer::new(1);
    for i in first..first + 10 {
        let f = vp8_frame(i, i == first, 1500);
        let frame = PacketizedFrame::vp8(&mut pk, f.into(), i * 3000, 1100).unwrap();
        b.pc.send_frame(*now, "0", &frame).unwrap();
        step_recording(now, a, b, b_rtp);
    }
    let end = *now + Duration::from_millis(300);
    while *now < end {
        step_recording(now, a, b, b_rtp);
    }
}

/// The video payload types `from` → `to` (and its RTX `from + 1` →
/// `to + 1`) on the lines that name them.
fn renumber_vp8(sdp: &str, from: u8, to: u8) -> String {
    let swap = |tok: &str| -> String {
        if tok == from.to_string() {
            to.to_string()
        } else if tok == (from + 1).to_string() {
            (to + 1).to_string()
        } else {
            tok.to_string()
        }
    };
    sdp.split("\r\n")
        .map(|line| {
            if line.starts_with("m=video") {
                line.split(' ').map(swap).collect::<Vec<_>>().join(" ")
            } else if let Some((attr, rest)) = ["a=rtpmap:", "a=rtcp-fb:", "a=fmtp:"]
                .iter()
                .find_map(|a| line.strip_prefix(a).map(|r| (*a, r)))
            {
                let (pt, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let tail = tail.replace(&format!("apt={from}"), &format!("apt={to}"));
                format!("{attr}{} {tail}", swap(pt)).trim_end().to_string()
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[test]
fn a_payload_type_renumbered_by_a_renegotiation_continues_the_streams_sequence_numbers() {
    let (mut now, mut a, mut b) = sides();
    let (offer, _) = renegotiate(now, &mut a, &mut b);
    assert!(offer.contains("a=rtpmap:96 VP8/90000"), "{offer}");
    run_until_settled(&mut now, &mut a, &mut b);
    assert_eq!(b.pc.state(), ConnectionState::Connected);
    let mut before = Vec::new();
    b_sends(&mut now, &mut a, &mut b, 0, &mut before);

    // a offers again, its video numbered 120 (RTX 121) this time, as a
    // browser whose codec list changed would; b answers in its numbers.
    let offer = renumber_vp8(&a.pc.create_offer(now).unwrap(), 96, 120);
    assert!(offer.contains("a=rtpmap:120 VP8/90000"), "{offer}");
    assert!(offer.contains("a=fmtp:121 apt=120"), "{offer}");
    b.pc.set_remote_description(now, SdpType::Offer, &offer)
        .unwrap();
    let answer = b.pc.create_answer(now).unwrap();
    assert!(answer.contains("a=rtpmap:120 VP8/90000"), "{answer}");
    // a's own offer said 96 (only a browser numbers a subsequent offer
    // anew; ours keep the numbers): it takes the answer in its numbers, so
    // its description cannot map 120 and it decodes nothing of the new
    // numbers. What is tested is the stream b sends, on the wire and
    // through a's SRTP.
    a.pc.set_remote_description(now, SdpType::Answer, &renumber_vp8(&answer, 120, 96))
        .unwrap();
    let received = |s: &Side| s.pc.stats().inbound[0].packets_received;
    let received_before = received(&a);
    let mut after = Vec::new();
    b_sends(&mut now, &mut a, &mut b, 10, &mut after);

    let media = |v: &[Seen], pt: u8| -> Vec<Seen> {
        v.iter().copied().filter(|&(_, p, _)| p == pt).collect()
    };
    let (old, new) = (media(&before, 96), media(&after, 120));
    assert!(old.len() >= 20 && new.len() >= 20, "{before:?} {after:?}");
    assert!(
        media(&after, 96).is_empty(),
        "96 after the change: {after:?}"
    );
    // One stream: the same SSRC, and the sequence numbers go on by one
    // across the change (a new stream would start at a random number).
    let ssrc = old[0].0;
    assert!(new.iter().all(|&(s, _, _)| s == ssrc), "{new:?}");
    let seqs: Vec<u16> = old.iter().chain(&new).map(|&(_, _, q)| q).collect();
    for w in seqs.windows(2) {
        assert_eq!(w[1], w[0].wrapping_add(1), "{seqs:?}");
    }
    // a decrypted every packet (the SRTP index ran on) and counted each
    // on the stream it knew.
    let st = a.pc.stats();
    assert_eq!(st.srtp_errors, 0);
    assert_eq!(st.inbound.len(), 1, "{:?}", st.inbound);
    assert_eq!(st.inbound[0].ssrc, ssrc);
    assert_eq!(received(&a) - received_before, after.len() as u64);
}

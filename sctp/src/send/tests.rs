use super::*;
use crate::chunk::{Chunk, IForwardEntry};
use crate::param::padded;
use crate::tsn::initial;

const MTU: usize = 1200;

fn sender() -> Sender {
    let mut s = Sender::new(initial(100), MTU, 1 << 20);
    s.pr_supported = true;
    s
}

fn fill_all(s: &mut Sender, now: Instant) -> usize {
    let mut n = 0;
    loop {
        let mut out = Vec::new();
        if !s.fill(now, &mut out, MTU - 12).0 {
            return n;
        }
        n += 1;
    }
}

#[test]
fn messages_fragment_to_the_mtu_and_initial_cwnd_limits_the_flight() {
    let now = Instant::now();
    let mut s = sender();
    s.enqueue(now, 1, 53, &vec![7u8; 10_000], true, Reliability::Reliable);
    // 1172 bytes per fragment: 9 fragments.
    assert_eq!(s.pending.len(), 9);
    let frags: Vec<&Pending> = s.pending.iter().collect();
    assert!(frags[0].beginning && !frags[0].ending);
    assert!(frags[8].ending);
    assert_eq!(s.buffered(1), 10_000);
    // Initial cwnd 4380 bytes: 4 fragments go out (the fourth may
    // start while flight < cwnd).
    assert_eq!(fill_all(&mut s, now), 4);
    assert_eq!(s.flight_size(), 4 * 1172);
    assert_eq!(s.buffered(1), 10_000 - 4 * 1172);
}

#[test]
fn fragments_fit_an_mtu_that_is_not_a_multiple_of_four() {
    // 1163: 1200 minus a DTLS record's overhead. Unrounded, a 1135-byte
    // fragment padded to 1136 would never fit and nothing would leave.
    let now = Instant::now();
    let mut s = Sender::new(initial(100), 1163, 1 << 20);
    s.enqueue(now, 1, 53, &vec![7u8; 3000], true, Reliability::Reliable);
    let mut sent = 0;
    loop {
        let mut out = Vec::new();
        if !s.fill(now, &mut out, 1163 - 12).0 {
            break;
        }
        assert!(out.len() <= 1163 - 12, "{}", out.len());
        sent += 1;
    }
    assert_eq!(sent, 3);
    assert_eq!(s.buffered(1), 0);
}

#[test]
fn cumulative_acks_grow_cwnd_in_slow_start_and_measure_rtt() {
    let t0 = Instant::now();
    let mut s = sender();
    s.enqueue(t0, 1, 53, &vec![7u8; 10_000], true, Reliability::Reliable);
    fill_all(&mut s, t0);
    let cwnd = s.cwnd;
    let out = s.on_sack(t0 + Duration::from_millis(50), 101, 1 << 20, &[]);
    assert!(out.cum_advanced);
    assert_eq!(out.rtt, Some(Duration::from_millis(50)));
    assert_eq!(s.cwnd, cwnd + MTU.min(2 * 1172));
    assert_eq!(s.flight_size(), 2 * 1172);
}

#[test]
fn three_miss_indications_trigger_fast_retransmit_and_halve_cwnd() {
    let t0 = Instant::now();
    let mut s = sender();
    s.cwnd = 100_000;
    s.ssthresh = 100_000;
    for _ in 0..6 {
        s.enqueue(t0, 1, 53, &[1u8; 1000], true, Reliability::Reliable);
    }
    fill_all(&mut s, t0);
    // TSN 100 lost; 101, 102, 103 arrive one SACK each.
    for end in 1..=3u16 {
        let o = s.on_sack(t0, 99, 1 << 20, &[(2, end + 1)]);
        assert_eq!(o.fast_retransmit, (end == 3) as u32);
    }
    assert_eq!(s.cwnd, 50_000);
    let mut out = Vec::new();
    let (wrote, rtx) = s.fill(t0, &mut out, MTU);
    assert!(wrote && rtx);
    let raw = crate::chunk::RawChunk {
        ty: crate::chunk::ChunkType(out[0]),
        flags: out[1],
        value: &out[4..u16::from_be_bytes([out[2], out[3]]) as usize],
    };
    let Chunk::Data(d) = Chunk::parse(raw).unwrap() else {
        panic!()
    };
    assert_eq!(d.tsn, 100);
    assert_eq!(s.retransmissions, 1);
}

#[test]
fn t3_expiry_collapses_cwnd_and_marks_everything() {
    let t0 = Instant::now();
    let mut s = sender();
    s.enqueue(t0, 1, 53, &[1u8; 3000], true, Reliability::Reliable);
    fill_all(&mut s, t0);
    s.on_t3_expired();
    assert_eq!(s.cwnd, MTU);
    assert_eq!(s.ssthresh, 4 * MTU);
    assert_eq!(s.flight_size(), 0);
    // One full fragment (1172 bytes) stays below a cwnd of 1200, so
    // §6.1 B lets exactly one more packet follow.
    assert_eq!(fill_all(&mut s, t0), 2);
    assert_eq!(s.retransmissions, 2);
    assert!(s.flight_size() >= s.cwnd);
}

#[test]
fn max_retransmits_abandons_and_forward_tsn_follows() {
    let t0 = Instant::now();
    let mut s = sender();
    s.enqueue(t0, 3, 53, &[1u8; 100], true, Reliability::MaxRetransmits(1));
    s.enqueue(t0, 3, 53, &[2u8; 100], true, Reliability::Reliable);
    fill_all(&mut s, t0);
    s.on_t3_expired();
    fill_all(&mut s, t0); // first retransmission of both
    s.on_t3_expired();
    fill_all(&mut s, t0); // TSN 100 is abandoned now
    assert_eq!(s.abandoned_messages, 1);
    assert_eq!(
        s.forward_tsn(),
        Some(Chunk::ForwardTsn {
            new_cum_tsn: 100,
            streams: vec![(3, 0)]
        })
    );
    s.on_sack(t0, 100, 1 << 20, &[]);
    assert_eq!(s.forward_tsn(), None);
}

#[test]
fn expired_lifetime_drops_unsent_messages_without_using_a_tsn() {
    let t0 = Instant::now();
    let mut s = sender();
    s.cwnd = 0;
    s.enqueue(
        t0,
        1,
        53,
        &[1u8; 100],
        false,
        Reliability::MaxLifetime(Duration::from_millis(10)),
    );
    s.cwnd = 10_000;
    let mut out = Vec::new();
    assert!(!s.fill(t0 + Duration::from_millis(20), &mut out, MTU).0);
    assert_eq!(s.next_tsn(), initial(100));
    assert_eq!(s.buffered_total(), 0);
    assert_eq!(s.abandoned_messages, 1);
}

fn chunks_of(out: &[u8]) -> Vec<Chunk<'_>> {
    let mut v = Vec::new();
    let mut at = 0;
    while at + 4 <= out.len() {
        let len = u16::from_be_bytes([out[at + 2], out[at + 3]]) as usize;
        let raw = crate::chunk::RawChunk {
            ty: crate::chunk::ChunkType(out[at]),
            flags: out[at + 1],
            value: &out[at + 4..at + len],
        };
        v.push(Chunk::parse(raw).unwrap());
        at += padded(len);
    }
    v
}

#[test]
fn with_i_data_fragments_interleave_and_carry_mid_and_fsn() {
    let now = Instant::now();
    let mut s = sender();
    s.cwnd = 1 << 20;
    // Queued while DATA was assumed (1172-byte fragments), then split
    // again for I-DATA's longer header (1168 bytes).
    s.enqueue(now, 1, 53, &vec![1u8; 2400], true, Reliability::Reliable);
    s.enqueue(now, 2, 51, b"small", true, Reliability::Reliable);
    s.enqueue(now, 2, 51, b"unordered", false, Reliability::Reliable);
    s.set_interleaving(true);
    let mut seen = Vec::new();
    loop {
        let mut out = Vec::new();
        if !s.fill(now, &mut out, 1168 + 20).0 {
            break;
        }
        for c in chunks_of(&out) {
            let Chunk::IData(d) = c else { panic!("{c:?}") };
            seen.push((
                d.stream_id,
                d.mid,
                d.ppid_or_fsn,
                d.unordered,
                d.payload.len(),
            ));
        }
    }
    assert_eq!(
        seen,
        [
            (1, 0, 53, false, 1168),
            (2, 0, 51, false, 5),
            (1, 0, 1, false, 1168),
            (2, 0, 51, true, 9),
            (1, 0, 2, false, 64),
        ]
    );
    assert_eq!(s.i_data_chunks_sent, 5);
}

#[test]
fn i_forward_tsn_names_the_skipped_mids() {
    let t0 = Instant::now();
    let mut s = sender();
    s.set_interleaving(true);
    s.enqueue(t0, 3, 53, &[1u8; 100], true, Reliability::MaxRetransmits(0));
    s.enqueue(t0, 3, 53, &[2u8; 100], true, Reliability::MaxRetransmits(0));
    s.enqueue(
        t0,
        4,
        53,
        &[3u8; 100],
        false,
        Reliability::MaxRetransmits(0),
    );
    fill_all(&mut s, t0);
    s.on_t3_expired();
    fill_all(&mut s, t0); // all three abandoned
    assert_eq!(s.abandoned_messages, 3);
    let Some(Chunk::IForwardTsn {
        new_cum_tsn,
        mut entries,
    }) = s.forward_tsn()
    else {
        panic!("{:?}", s.forward_tsn())
    };
    entries.sort_by_key(|e| e.stream_id);
    assert_eq!(new_cum_tsn, 102);
    assert_eq!(
        entries,
        [
            IForwardEntry {
                stream_id: 3,
                unordered: false,
                mid: 1
            },
            IForwardEntry {
                stream_id: 4,
                unordered: true,
                mid: 0
            },
        ]
    );
}

#[test]
fn timed_messages_expire_among_reliable_ones_and_the_count_follows() {
    let t0 = Instant::now();
    let mut s = sender();
    s.cwnd = 0;
    let life = Reliability::MaxLifetime(Duration::from_millis(10));
    s.enqueue(t0, 1, 53, &[1u8; 3000], true, life);
    s.enqueue(t0, 1, 53, &[2u8; 100], true, Reliability::Reliable);
    s.enqueue(t0, 2, 53, &[3u8; 100], true, life);
    assert_eq!(s.pending_timed, 3 + 1);
    s.cwnd = 100_000;
    // One fragment of the first message leaves before its lifetime
    // ends. After it, the rest of that message still goes (a message
    // once started is finished; its lifetime acts on retransmission),
    // the reliable one goes, the unsent timed one is abandoned.
    let mut out = Vec::new();
    assert!(s.fill(t0, &mut out, 1300).0);
    assert_eq!(s.pending_timed, 3);
    let later = t0 + Duration::from_millis(20);
    assert_eq!(fill_all(&mut s, later), 2);
    assert_eq!(s.pending_timed, 0);
    assert!(s.pending.is_empty());
    assert_eq!(s.abandoned_messages, 1);
    assert_eq!(s.buffered_total(), 0);
    assert_eq!(s.flight_size(), 3000 + 100);
}

#[test]
fn hostile_sacks_do_not_break_accounting() {
    let t0 = Instant::now();
    let mut s = sender();
    s.enqueue(t0, 1, 53, &[1u8; 2000], true, Reliability::Reliable);
    fill_all(&mut s, t0);
    assert!(s.on_sack(t0, 500, 0, &[]).invalid);
    let o = s.on_sack(t0, 99, 0, &[(0, 65535), (9, 3), (1, 65535)]);
    assert!(!o.invalid);
    assert_eq!(s.flight_size(), 0);
    assert!(!s.has_outstanding());
}

//! Reassembly of I-DATA (RFC 8260 §2.1, §3.2): fragments are keyed by
//! stream, ordering and message identifier (MID), and placed by their
//! fragment sequence number (FSN), not by TSN, because fragments of
//! messages on different streams interleave. Ordered messages are
//! delivered by MID per stream; unordered ones as soon as they are whole.
//! I-FORWARD-TSN (RFC 8260 §2.3.2) skips messages by MID.
//!
//! TSN bookkeeping (cumulative TSN, gaps, duplicates, the window) stays in
//! [`crate::receive::Receiver`]; this type owns only what is stored per
//! message and tells the receiver how many bytes it let go, so the
//! advertised window stays exact.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::chunk::IDataChunk;
use crate::receive::Message;

/// Fragments of one message not yet whole.
#[derive(Debug, Default)]
struct Partial {
    /// The PPID, from the first fragment (B bit, FSN 0).
    ppid: Option<u32>,
    /// The message being built: the bytes of FSNs `0..in_order`, each
    /// fragment appended once as it arrives in order (no buffer of its
    /// own, no map entry, no second copy when the message is whole).
    head: Vec<u8>,
    /// How many fragments `head` holds (the next FSN in order).
    in_order: u32,
    /// Fragments past a gap, by FSN, until the gap fills (empty once
    /// `dropped`).
    later: BTreeMap<u32, Vec<u8>>,
    /// FSN of the last fragment (E bit), once seen.
    last_fsn: Option<u32>,
    bytes: usize,
    /// Larger than the largest message we take: bytes freed, FSNs kept so
    /// the message still completes (and an ordered MID still passes).
    dropped: bool,
}

impl Partial {
    fn has(&self, fsn: u32) -> bool {
        fsn < self.in_order || self.later.contains_key(&fsn)
    }

    fn is_empty(&self) -> bool {
        self.in_order == 0 && self.later.is_empty()
    }

    /// The highest FSN present.
    fn highest(&self) -> Option<u32> {
        self.later
            .keys()
            .next_back()
            .copied()
            .or(self.in_order.checked_sub(1))
    }

    fn count(&self) -> u64 {
        self.in_order as u64 + self.later.len() as u64
    }

    /// Stores fragment `fsn` (not present yet): appended to the message
    /// being built when it is the next in order, with whatever waited
    /// past the gap it fills; kept apart otherwise. Only FSNs are kept
    /// once the message is dropped.
    fn store(&mut self, fsn: u32, payload: &[u8]) {
        if fsn != self.in_order {
            let bytes = if self.dropped {
                Vec::new()
            } else {
                payload.to_vec()
            };
            self.later.insert(fsn, bytes);
            return;
        }
        if !self.dropped {
            self.head.extend_from_slice(payload);
        }
        self.in_order += 1;
        while let Some(e) = self.later.first_entry() {
            if *e.key() != self.in_order {
                break;
            }
            let bytes = e.remove();
            self.head.extend_from_slice(&bytes);
            self.in_order += 1;
        }
    }
}

/// Per stream, the ordered messages (RFC 8260 §2.1: MIDs count per
/// stream, ordered and unordered apart).
#[derive(Debug, Default)]
struct OrderedStream {
    next_mid: u32,
    /// Whole messages waiting for an earlier MID (`None`: dropped as
    /// oversized, its MID only passes).
    waiting: BTreeMap<u32, Option<Message>>,
}

/// Whether MID `a` comes at or after `b` (serial number arithmetic over
/// 32 bits, RFC 1982 as RFC 8260 §2.1 uses it).
fn at_or_after(a: u32, b: u32) -> bool {
    a.wrapping_sub(b) < 0x8000_0000
}

/// Most fragments one message may have: more than the 65535 TSNs the
/// receiver tracks cannot be outstanding at once.
const MAX_FSN: u32 = 1 << 20;

#[derive(Debug, Default)]
pub(crate) struct InterleavedReassembly {
    partial: HashMap<(u16, bool, u32), Partial>,
    ordered: HashMap<u16, OrderedStream>,
    /// Messages dropped for exceeding the largest we take.
    pub(crate) oversized_messages: u64,
    /// Fragments that contradict their message (FSN past its E fragment,
    /// a second E, an FSN reused): dropped.
    pub(crate) inconsistent_fragments: u64,
}

impl InterleavedReassembly {
    /// Stores one fragment whose TSN is new and whose bytes the receiver
    /// has counted; whole messages go to `ready` (ordered ones in MID
    /// order). Returns the bytes let go (the receiver uncounts them).
    pub(crate) fn insert(
        &mut self,
        c: &IDataChunk<'_>,
        max_message: usize,
        ready: &mut VecDeque<Message>,
    ) -> usize {
        let len = c.payload.len();
        let key = (c.stream_id, c.unordered, c.mid);
        if !c.unordered {
            let next = self.ordered.get(&c.stream_id).map_or(0, |s| s.next_mid);
            if !at_or_after(c.mid, next) {
                // A MID already delivered or skipped: stale.
                return len;
            }
        }
        let alone = c.beginning
            && c.ending
            && (self.partial.is_empty() || !self.partial.contains_key(&key));
        if alone {
            // A message in one chunk: no fragment of it to wait for.
            let (msg, freed) = if len > max_message {
                self.oversized_messages += 1;
                (None, len)
            } else {
                let msg = Message {
                    stream_id: c.stream_id,
                    ppid: c.ppid_or_fsn,
                    ordered: !c.unordered,
                    data: c.payload.to_vec(),
                };
                (Some(msg), 0)
            };
            self.complete(c.stream_id, c.unordered, c.mid, msg, ready);
            return freed;
        }
        // The first fragment carries the PPID in place of the FSN (0).
        let fsn = if c.beginning { 0 } else { c.ppid_or_fsn };
        let p = self.partial.entry(key).or_default();
        let contradicts = fsn > MAX_FSN
            || (!c.beginning && fsn == 0)
            || p.has(fsn)
            || p.last_fsn
                .is_some_and(|l| fsn > l || (c.ending && fsn != l))
            || (c.ending && p.highest().is_some_and(|k| k > fsn));
        if contradicts {
            self.inconsistent_fragments += 1;
            if p.is_empty() {
                self.partial.remove(&key);
            }
            return len;
        }
        if c.beginning {
            p.ppid = Some(c.ppid_or_fsn);
        }
        if c.ending {
            p.last_fsn = Some(fsn);
        }
        let mut freed = 0;
        p.store(fsn, c.payload);
        if p.dropped {
            freed += len;
        } else {
            p.bytes += len;
            // RFC 8841 §6.1: larger than our max-message-size: drop the
            // bytes as they come, keep the FSNs.
            if p.bytes > max_message {
                p.dropped = true;
                freed += p.bytes;
                p.bytes = 0;
                p.head = Vec::new();
                p.later.values_mut().for_each(|f| *f = Vec::new());
                self.oversized_messages += 1;
            }
        }
        let whole = p.ppid.is_some() && p.last_fsn.is_some_and(|l| p.count() == l as u64 + 1);
        if !whole {
            return freed;
        }
        let Some(p) = self.partial.remove(&key) else {
            return freed;
        };
        // Whole: every FSN from 0 is present, so all are in `head`.
        let msg = (!p.dropped).then_some(Message {
            stream_id: c.stream_id,
            ppid: p.ppid.unwrap_or(0),
            ordered: !c.unordered,
            data: p.head,
        });
        self.complete(c.stream_id, c.unordered, c.mid, msg, ready);
        freed
    }

    /// A whole message (`None`: dropped as oversized) goes to `ready`:
    /// at once if unordered, in MID order otherwise.
    fn complete(
        &mut self,
        stream_id: u16,
        unordered: bool,
        mid: u32,
        msg: Option<Message>,
        ready: &mut VecDeque<Message>,
    ) {
        if unordered {
            ready.extend(msg);
            return;
        }
        let s = self.ordered.entry(stream_id).or_default();
        if mid == s.next_mid && s.waiting.is_empty() {
            // Its turn, nothing held back behind it: straight out.
            s.next_mid = s.next_mid.wrapping_add(1);
            ready.extend(msg);
            return;
        }
        s.waiting.insert(mid, msg);
        Self::deliver_in_order(s, ready);
    }

    fn deliver_in_order(s: &mut OrderedStream, ready: &mut VecDeque<Message>) {
        while let Some(m) = s.waiting.remove(&s.next_mid) {
            s.next_mid = s.next_mid.wrapping_add(1);
            ready.extend(m);
        }
    }

    /// One I-FORWARD-TSN entry (RFC 8260 §2.3.2): an unordered message
    /// `mid` is forgotten; for ordered ones every message up to `mid` is
    /// delivered if whole or forgotten, and delivery goes on after it.
    /// Returns the bytes let go.
    pub(crate) fn skip(
        &mut self,
        stream_id: u16,
        unordered: bool,
        mid: u32,
        ready: &mut VecDeque<Message>,
    ) -> usize {
        if unordered {
            return self
                .partial
                .remove(&(stream_id, true, mid))
                .map_or(0, |p| p.bytes);
        }
        let s = self.ordered.entry(stream_id).or_default();
        if !at_or_after(mid, s.next_mid) {
            return 0; // already past it
        }
        let mut freed = 0;
        // Partial ordered messages of this stream up to `mid` never complete.
        let next = s.next_mid;
        self.partial.retain(|&(st, u, m), p| {
            let gone = st == stream_id
                && !u
                && at_or_after(m, next)
                && !at_or_after(m, mid.wrapping_add(1));
            if gone {
                freed += p.bytes;
            }
            !gone
        });
        while s.next_mid != mid.wrapping_add(1) {
            if let Some(Some(m)) = s.waiting.remove(&s.next_mid) {
                ready.push_back(m);
            }
            s.next_mid = s.next_mid.wrapping_add(1);
        }
        Self::deliver_in_order(s, ready);
        freed
    }

    /// The peer reset these outgoing streams (RFC 6525 §5.2.2; all when
    /// empty): their MIDs start again at 0 and what waited is dropped.
    /// Returns the bytes let go.
    pub(crate) fn reset_streams(&mut self, streams: &[u16]) -> usize {
        let hit = |s: u16| streams.is_empty() || streams.contains(&s);
        let mut freed = 0;
        self.partial.retain(|&(s, _, _), p| {
            if hit(s) {
                freed += p.bytes;
                false
            } else {
                true
            }
        });
        self.ordered.retain(|&s, o| {
            if hit(s) {
                freed += o
                    .waiting
                    .values()
                    .flatten()
                    .map(|m| m.data.len())
                    .sum::<usize>();
                false
            } else {
                true
            }
        });
        freed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(
        stream: u16,
        mid: u32,
        fsn_or_ppid: u32,
        b: bool,
        e: bool,
        u: bool,
        p: &[u8],
    ) -> IDataChunk<'_> {
        IDataChunk {
            tsn: 0,
            stream_id: stream,
            mid,
            ppid_or_fsn: fsn_or_ppid,
            unordered: u,
            beginning: b,
            ending: e,
            immediate: false,
            payload: p,
        }
    }

    fn data(ready: &mut VecDeque<Message>) -> Vec<Vec<u8>> {
        ready.drain(..).map(|m| m.data).collect()
    }

    #[test]
    fn fragments_of_two_streams_interleave_and_complete_by_fsn() {
        let mut r = InterleavedReassembly::default();
        let mut ready = VecDeque::new();
        // Stream 1's message in three fragments, stream 2's in one, mixed.
        r.insert(
            &frag(1, 0, 53, true, false, false, b"ab"),
            usize::MAX,
            &mut ready,
        );
        r.insert(
            &frag(2, 0, 51, true, true, false, b"small"),
            usize::MAX,
            &mut ready,
        );
        assert_eq!(data(&mut ready), [b"small".to_vec()]);
        r.insert(
            &frag(1, 0, 2, false, true, false, b"ef"),
            usize::MAX,
            &mut ready,
        );
        assert!(ready.is_empty());
        r.insert(
            &frag(1, 0, 1, false, false, false, b"cd"),
            usize::MAX,
            &mut ready,
        );
        let m = ready.pop_front().unwrap();
        assert_eq!((m.stream_id, m.ppid, m.data), (1, 53, b"abcdef".to_vec()));
    }

    #[test]
    fn in_order_fragments_build_the_message_and_a_gap_joins_it_when_filled() {
        let mut r = InterleavedReassembly::default();
        let mut ready = VecDeque::new();
        let key = (3, false, 0);
        r.insert(&frag(3, 0, 53, true, false, false, b"ab"), 99, &mut ready);
        r.insert(&frag(3, 0, 1, false, false, false, b"cd"), 99, &mut ready);
        // In order: appended to the message being built, nothing apart.
        let p = &r.partial[&key];
        assert_eq!(
            (p.head.as_slice(), p.in_order, p.later.len()),
            (&b"abcd"[..], 2, 0)
        );
        // FSN 1 again (already in the built part) contradicts.
        assert_eq!(
            r.insert(&frag(3, 0, 1, false, false, false, b"zz"), 99, &mut ready),
            2
        );
        assert_eq!(r.inconsistent_fragments, 1);
        // Past a gap: kept apart until FSN 2 fills it.
        r.insert(&frag(3, 0, 4, false, true, false, b"i"), 99, &mut ready);
        r.insert(&frag(3, 0, 3, false, false, false, b"gh"), 99, &mut ready);
        assert_eq!(r.partial[&key].later.len(), 2);
        assert!(ready.is_empty());
        r.insert(&frag(3, 0, 2, false, false, false, b"ef"), 99, &mut ready);
        let m = ready.pop_front().unwrap();
        assert_eq!((m.ppid, m.data), (53, b"abcdefghi".to_vec()));
        assert!(r.partial.is_empty());
    }

    #[test]
    fn ordered_messages_wait_for_their_mid_unordered_do_not() {
        let mut r = InterleavedReassembly::default();
        let mut ready = VecDeque::new();
        r.insert(
            &frag(1, 1, 53, true, true, false, b"second"),
            usize::MAX,
            &mut ready,
        );
        // An unordered MID 7 on the same stream: its own number space.
        r.insert(
            &frag(1, 7, 53, true, true, true, b"now"),
            usize::MAX,
            &mut ready,
        );
        assert_eq!(data(&mut ready), [b"now".to_vec()]);
        r.insert(
            &frag(1, 0, 53, true, true, false, b"first"),
            usize::MAX,
            &mut ready,
        );
        assert_eq!(data(&mut ready), [b"first".to_vec(), b"second".to_vec()]);
        // A stale MID is let go at once.
        assert_eq!(
            r.insert(
                &frag(1, 0, 53, true, true, false, b"old"),
                usize::MAX,
                &mut ready
            ),
            3
        );
    }

    #[test]
    fn skip_delivers_what_waited_and_forgets_the_partial() {
        let mut r = InterleavedReassembly::default();
        let mut ready = VecDeque::new();
        r.insert(
            &frag(4, 0, 53, true, false, false, b"lost"),
            usize::MAX,
            &mut ready,
        );
        r.insert(
            &frag(4, 1, 53, true, true, false, b"next"),
            usize::MAX,
            &mut ready,
        );
        r.insert(
            &frag(4, 5, 53, true, false, true, b"uu"),
            usize::MAX,
            &mut ready,
        );
        assert!(ready.is_empty());
        assert_eq!(r.skip(4, false, 0, &mut ready), 4);
        assert_eq!(data(&mut ready), [b"next".to_vec()]);
        assert_eq!(r.skip(4, true, 5, &mut ready), 2);
        assert!(r.partial.is_empty());
    }

    #[test]
    fn oversized_messages_free_their_bytes_and_their_mid_passes() {
        let mut r = InterleavedReassembly::default();
        let mut ready = VecDeque::new();
        assert_eq!(
            r.insert(&frag(1, 0, 53, true, false, false, b"abc"), 4, &mut ready),
            0
        );
        assert_eq!(
            r.insert(&frag(1, 0, 1, false, false, false, b"de"), 4, &mut ready),
            5
        );
        assert_eq!(
            r.insert(&frag(1, 0, 2, false, true, false, b"f"), 4, &mut ready),
            1
        );
        assert_eq!(r.oversized_messages, 1);
        r.insert(&frag(1, 1, 53, true, true, false, b"ok"), 4, &mut ready);
        assert_eq!(data(&mut ready), [b"ok".to_vec()]);
    }

    #[test]
    fn a_one_chunk_message_too_large_is_dropped_and_its_mid_passes() {
        let mut r = InterleavedReassembly::default();
        let mut ready = VecDeque::new();
        assert_eq!(
            r.insert(&frag(2, 0, 53, true, true, false, b"12345"), 4, &mut ready),
            5
        );
        assert_eq!(r.oversized_messages, 1);
        r.insert(&frag(2, 1, 53, true, true, false, b"ok"), 4, &mut ready);
        assert_eq!(data(&mut ready), [b"ok".to_vec()]);
        assert!(r.partial.is_empty());
    }

    #[test]
    fn contradicting_fragments_are_dropped_and_counted() {
        let mut r = InterleavedReassembly::default();
        let mut ready = VecDeque::new();
        r.insert(
            &frag(1, 0, 2, false, true, false, b"end"),
            usize::MAX,
            &mut ready,
        );
        // Past the end, a second end, a reused FSN, FSN 0 without B.
        assert_eq!(
            r.insert(
                &frag(1, 0, 3, false, false, false, b"x"),
                usize::MAX,
                &mut ready
            ),
            1
        );
        assert_eq!(
            r.insert(
                &frag(1, 0, 1, false, true, false, b"y"),
                usize::MAX,
                &mut ready
            ),
            1
        );
        assert_eq!(
            r.insert(
                &frag(1, 0, 2, false, true, false, b"z"),
                usize::MAX,
                &mut ready
            ),
            1
        );
        assert_eq!(
            r.insert(
                &frag(1, 0, 0, false, false, false, b"w"),
                usize::MAX,
                &mut ready
            ),
            1
        );
        assert_eq!(r.inconsistent_fragments, 4);
        r.insert(
            &frag(1, 0, 53, true, false, false, b"s"),
            usize::MAX,
            &mut ready,
        );
        r.insert(
            &frag(1, 0, 1, false, false, false, b"-"),
            usize::MAX,
            &mut ready,
        );
        assert_eq!(data(&mut ready), [b"s-end".to_vec()]);
    }

    #[test]
    fn reset_restarts_mids_and_frees_what_waited() {
        let mut r = InterleavedReassembly::default();
        let mut ready = VecDeque::new();
        r.insert(
            &frag(2, 3, 53, true, true, false, b"later"),
            usize::MAX,
            &mut ready,
        );
        assert_eq!(r.reset_streams(&[2]), 5);
        r.insert(
            &frag(2, 0, 53, true, true, false, b"again"),
            usize::MAX,
            &mut ready,
        );
        assert_eq!(data(&mut ready), [b"again".to_vec()]);
    }
}

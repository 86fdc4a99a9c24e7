//! The receiving side of an association: which TSNs arrived (the
//! cumulative TSN, gap blocks and duplicates a SACK reports, RFC 9260
//! §6.2), reassembly of fragmented user messages (§6.9), ordered delivery
//! per stream by SSN and unordered delivery (§6.6), the receive window
//! (§6.2.1's a_rwnd), FORWARD TSN (RFC 3758 §3.6) and incoming stream
//! resets (RFC 6525 §5.2.2). I-DATA (RFC 8260) shares the TSN side and
//! hands its fragments to [`crate::interleaved_reassembly`].

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use crate::chunk::{DataChunk, IDataChunk, IForwardEntry};
use crate::interleaved_reassembly::InterleavedReassembly;
use crate::tsn::unwrap_tsn;

/// A complete user message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Stream identifier.
    pub stream_id: u16,
    /// Payload protocol identifier.
    pub ppid: u32,
    /// Whether it was sent ordered.
    pub ordered: bool,
    /// The message bytes.
    pub data: Vec<u8>,
}

#[derive(Debug)]
struct Fragment {
    stream_id: u16,
    ssn: u16,
    ppid: u32,
    unordered: bool,
    beginning: bool,
    ending: bool,
    data: Vec<u8>,
    /// Part of a message larger than the largest we accept: its bytes
    /// were freed, the fragment stays as a marker until the message is
    /// complete (so its TSNs are acknowledged and its SSN passes).
    dropped: bool,
}

#[derive(Debug, Default)]
struct InStream {
    next_ssn: u16,
    /// Complete ordered messages waiting for an earlier SSN (`None`: an
    /// oversized message that was dropped, its SSN only passes).
    waiting: BTreeMap<u16, Option<Message>>,
}

/// The fragments of one message present at consecutive TSNs.
#[derive(Debug, Clone, Copy)]
struct Run {
    first: u64,
    last: u64,
    /// Their bytes.
    bytes: usize,
    /// Some were dropped (the message is oversized).
    dropped: bool,
    /// From a beginning to an ending fragment: the whole message.
    whole: bool,
}

/// What became of a DATA chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataOutcome {
    /// Stored.
    New,
    /// Already received (reported in the next SACK).
    Duplicate,
    /// Beyond what the receive window can track.
    OutOfWindow,
    /// The window is full and the TSN does not fill the cumulative gap.
    WindowFull,
    /// No user data (§3.3.1 forbids it).
    Empty,
}

/// How far beyond the cumulative TSN a chunk may be: gap blocks carry
/// 16-bit offsets (§3.3.4).
const MAX_TSN_AHEAD: u64 = 65_535;
/// Duplicates remembered for one SACK.
const MAX_DUPS: usize = 32;
/// Gap blocks in one SACK (keeps it well within the MTU).
pub(crate) const MAX_GAP_BLOCKS: usize = 64;

#[derive(Debug)]
pub(crate) struct Receiver {
    cum_tsn: u64,
    above: BTreeSet<u64>,
    dups: Vec<u32>,
    fragments: BTreeMap<u64, Fragment>,
    /// The message being built from fragments that arrive in order
    /// (§6.9), kept out of `fragments`: its last TSN and, as one
    /// fragment, its first fragment's fields and every byte so far. A
    /// fragment at the next TSN is appended (one copy, no buffer or map
    /// entry of its own). Anything else first puts it back in
    /// `fragments` as one B fragment at that last TSN, which reassembly
    /// joins like any other.
    building: Option<(u64, Fragment)>,
    streams: HashMap<u16, InStream>,
    ready: VecDeque<Message>,
    buffered: usize,
    capacity: usize,
    /// The largest user message we accept (our `a=max-message-size`,
    /// RFC 8841 §6.1): larger ones are dropped as their fragments come.
    max_message: usize,
    /// Messages dropped for exceeding `max_message`.
    pub(crate) oversized_messages: u64,
    /// Where I-DATA fragments go (RFC 8260).
    pub(crate) interleaved: InterleavedReassembly,
}

impl Receiver {
    /// `peer_initial_tsn` unwrapped; the cumulative TSN starts one below.
    /// Messages above `max_message` bytes are dropped and counted.
    pub(crate) fn new(peer_initial_tsn: u64, capacity: usize, max_message: usize) -> Self {
        Receiver {
            cum_tsn: peer_initial_tsn - 1,
            above: BTreeSet::new(),
            dups: Vec::new(),
            fragments: BTreeMap::new(),
            building: None,
            streams: HashMap::new(),
            ready: VecDeque::new(),
            buffered: 0,
            capacity,
            max_message,
            oversized_messages: 0,
            interleaved: InterleavedReassembly::default(),
        }
    }

    pub(crate) fn cum_tsn(&self) -> u64 {
        self.cum_tsn
    }

    pub(crate) fn unwrap(&self, tsn: u32) -> u64 {
        unwrap_tsn(self.cum_tsn, tsn)
    }

    /// The advertised receiver window (§6.2.1).
    pub(crate) fn a_rwnd(&self) -> u32 {
        self.capacity
            .saturating_sub(self.buffered)
            .min(u32::MAX as usize) as u32
    }

    pub(crate) fn has_gaps(&self) -> bool {
        !self.above.is_empty()
    }

    pub(crate) fn has_dups(&self) -> bool {
        !self.dups.is_empty()
    }

    /// Handles one DATA chunk (§6.2).
    pub(crate) fn on_data(&mut self, d: &DataChunk<'_>) -> DataOutcome {
        let tsn = match self.admit(d.tsn, d.payload.len()) {
            Ok(t) => t,
            Err(o) => return o,
        };
        if d.beginning && d.ending {
            // A message in one chunk: delivered from here, no map entry
            // (an oversized one is freed, counted, and its SSN passes).
            let data = if d.payload.len() > self.max_message {
                self.oversized_messages += 1;
                self.buffered -= d.payload.len();
                None
            } else {
                Some(d.payload.to_vec())
            };
            self.complete(d.stream_id, d.ssn, d.ppid, d.unordered, data);
            return DataOutcome::New;
        }
        if self.extend_building(tsn, d) {
            return DataOutcome::New;
        }
        self.flush_building();
        let fragment = Fragment {
            stream_id: d.stream_id,
            ssn: d.ssn,
            ppid: d.ppid,
            unordered: d.unordered,
            beginning: d.beginning,
            ending: d.ending,
            data: d.payload.to_vec(),
            dropped: false,
        };
        let starts_alone = d.beginning
            && d.payload.len() <= self.max_message
            && !self.fragments.contains_key(&(tsn + 1));
        if starts_alone {
            self.building = Some((tsn, fragment));
            return DataOutcome::New;
        }
        self.fragments.insert(tsn, fragment);
        if let Some(run) = self.run_of(tsn) {
            let run = self.drop_if_oversized(run);
            self.try_assemble(run);
        }
        DataOutcome::New
    }

    /// Appends `d` to the message being built when it is that message's
    /// next fragment and keeps it within our largest message; delivers
    /// the message when `d` ends it. Returns whether `d` was taken.
    fn extend_building(&mut self, tsn: u64, d: &DataChunk<'_>) -> bool {
        let Some((last, b)) = self.building.as_mut() else {
            return false;
        };
        let next = *last + 1 == tsn
            && !d.beginning
            && b.stream_id == d.stream_id
            && b.unordered == d.unordered
            && (b.unordered || b.ssn == d.ssn)
            && b.data.len() + d.payload.len() <= self.max_message;
        if !next {
            return false;
        }
        b.data.extend_from_slice(d.payload);
        *last = tsn;
        if d.ending {
            let Some((_, b)) = self.building.take() else {
                return true;
            };
            self.complete(b.stream_id, b.ssn, b.ppid, b.unordered, Some(b.data));
        } else if self.fragments.contains_key(&(tsn + 1)) {
            // What follows arrived earlier: join it the general way.
            self.flush_building();
            if let Some(run) = self.run_of(tsn) {
                let run = self.drop_if_oversized(run);
                self.try_assemble(run);
            }
        }
        true
    }

    /// Puts the message being built back among the fragments.
    fn flush_building(&mut self) {
        if let Some((last, b)) = self.building.take() {
            self.fragments.insert(last, b);
        }
    }

    /// Handles one I-DATA chunk (RFC 8260 §2.1): the TSN as for DATA,
    /// the fragment by (stream, U, MID) and FSN.
    pub(crate) fn on_idata(&mut self, d: &IDataChunk<'_>) -> DataOutcome {
        if let Err(o) = self.admit(d.tsn, d.payload.len()) {
            return o;
        }
        let freed = self
            .interleaved
            .insert(d, self.max_message, &mut self.ready);
        self.buffered -= freed;
        DataOutcome::New
    }

    /// The TSN side of a DATA or I-DATA chunk (§6.2): duplicates, the
    /// trackable range, empty chunks and the window. On success the TSN is
    /// marked received and `len` bytes are counted as buffered.
    fn admit(&mut self, raw_tsn: u32, len: usize) -> Result<u64, DataOutcome> {
        let tsn = self.unwrap(raw_tsn);
        if tsn <= self.cum_tsn || self.above.contains(&tsn) {
            if self.dups.len() < MAX_DUPS {
                self.dups.push(raw_tsn);
            }
            return Err(DataOutcome::Duplicate);
        }
        if tsn - self.cum_tsn > MAX_TSN_AHEAD {
            return Err(DataOutcome::OutOfWindow);
        }
        if len == 0 {
            return Err(DataOutcome::Empty);
        }
        // §6.2: when the window is exhausted, new data is dropped. The one
        // exception is the TSN that advances the cumulative ack while
        // out-of-order data waits for it, so the buffer cannot stay full of
        // chunks that wait for one that never gets in; even then the
        // buffer never holds more than twice the window.
        if self.buffered + len > self.capacity {
            let unblocks = tsn == self.cum_tsn + 1
                && !self.above.is_empty()
                && self.buffered + len <= 2 * self.capacity;
            if !unblocks {
                return Err(DataOutcome::WindowFull);
            }
        }
        if tsn == self.cum_tsn + 1 && self.above.is_empty() {
            // In order with no gap: the common case, no set to update.
            self.cum_tsn = tsn;
        } else {
            self.above.insert(tsn);
            while self.above.remove(&(self.cum_tsn + 1)) {
                self.cum_tsn += 1;
            }
        }
        self.buffered += len;
        Ok(tsn)
    }

    /// The fragments present that belong to the same message as `tsn`
    /// and are consecutive with it (§6.9): one walk each way through the
    /// ordered map (no lookup per TSN: a message of n fragments arriving
    /// in order costs n²/2 steps, not n² searches).
    fn run_of(&self, tsn: u64) -> Option<Run> {
        let f = self.fragments.get(&tsn)?;
        let mut run = Run {
            first: tsn,
            last: tsn,
            bytes: f.data.len(),
            dropped: f.dropped,
            whole: false,
        };
        let mut cur = f;
        for (&t, p) in self.fragments.range(..tsn).rev() {
            if cur.beginning || t + 1 != run.first || !Self::same_message(p, cur) || p.ending {
                break;
            }
            run.first = t;
            run.bytes += p.data.len();
            run.dropped |= p.dropped;
            cur = p;
        }
        let starts = cur.beginning;
        let mut cur = f;
        for (&t, n) in self.fragments.range(tsn + 1..) {
            if cur.ending || t != run.last + 1 || !Self::same_message(n, cur) || n.beginning {
                break;
            }
            run.last = t;
            run.bytes += n.data.len();
            run.dropped |= n.dropped;
            cur = n;
        }
        run.whole = starts && cur.ending;
        Some(run)
    }

    /// RFC 8841 §6.1: a message larger than our `a=max-message-size` is
    /// not delivered. Once the fragments known of it add up to more, or
    /// join a part already dropped, their bytes are freed (the window
    /// stays open, the association goes on); the first time a message is
    /// dropped it is counted. Returns the run as it is after.
    fn drop_if_oversized(&mut self, mut run: Run) -> Run {
        if !run.dropped && run.bytes <= self.max_message {
            return run;
        }
        if !run.dropped {
            self.oversized_messages += 1;
        }
        for f in self
            .fragments
            .range_mut(run.first..=run.last)
            .map(|(_, f)| f)
        {
            if !f.dropped {
                self.buffered -= f.data.len();
                f.data = Vec::new();
                f.dropped = true;
            }
        }
        run.dropped = true;
        run.bytes = 0;
        run
    }

    fn same_message(a: &Fragment, b: &Fragment) -> bool {
        a.stream_id == b.stream_id && a.unordered == b.unordered && (a.unordered || a.ssn == b.ssn)
    }

    /// Completes the message of `run` if all its fragments (consecutive
    /// TSNs from a B to an E fragment, §6.9) are present.
    fn try_assemble(&mut self, run: Run) {
        if !run.whole {
            return;
        }
        let single = run.first == run.last;
        let mut data = Vec::with_capacity(if single { 0 } else { run.bytes });
        let mut head = None;
        for t in run.first..=run.last {
            if let Some(frag) = self.fragments.remove(&t) {
                if single {
                    // One fragment: its bytes are the message, no copy.
                    data = frag.data;
                } else {
                    data.extend_from_slice(&frag.data);
                }
                head.get_or_insert((frag.stream_id, frag.ssn, frag.ppid, frag.unordered));
            }
        }
        let Some((stream_id, ssn, ppid, unordered)) = head else {
            return;
        };
        // An oversized message: its bytes are gone; an ordered one still
        // takes its turn so the messages after it are delivered.
        self.complete(
            stream_id,
            ssn,
            ppid,
            unordered,
            (!run.dropped).then_some(data),
        );
    }

    /// A whole message (`None`: dropped as oversized) goes to delivery:
    /// at once if unordered, in SSN order otherwise (§6.6).
    fn complete(
        &mut self,
        stream_id: u16,
        ssn: u16,
        ppid: u32,
        unordered: bool,
        data: Option<Vec<u8>>,
    ) {
        let msg = data.map(|data| Message {
            stream_id,
            ppid,
            ordered: !unordered,
            data,
        });
        if unordered {
            self.ready.extend(msg);
            return;
        }
        let s = self.streams.entry(stream_id).or_default();
        let ahead = ssn.wrapping_sub(s.next_ssn);
        if ahead >= 0x8000 {
            // An SSN already delivered: stale, drop it.
            self.buffered -= msg.map_or(0, |m| m.data.len());
            return;
        }
        if ahead == 0 && s.waiting.is_empty() {
            // Its turn, nothing held back behind it: straight out.
            s.next_ssn = s.next_ssn.wrapping_add(1);
            self.ready.extend(msg);
            return;
        }
        s.waiting.insert(ssn, msg);
        self.deliver_in_order(stream_id);
    }

    fn deliver_in_order(&mut self, stream_id: u16) {
        let Some(s) = self.streams.get_mut(&stream_id) else {
            return;
        };
        while let Some(m) = s.waiting.remove(&s.next_ssn) {
            s.next_ssn = s.next_ssn.wrapping_add(1);
            self.ready.extend(m);
        }
    }

    /// The next complete message, in delivery order.
    pub(crate) fn poll_message(&mut self) -> Option<Message> {
        let m = self.ready.pop_front()?;
        self.buffered -= m.data.len();
        Some(m)
    }

    /// FORWARD TSN (RFC 3758 §3.6): moves the cumulative TSN, drops the
    /// fragments it skips and delivers ordered messages the skipped SSNs
    /// held back. Returns false when the new TSN is out of range.
    pub(crate) fn on_forward_tsn(&mut self, new_cum: u32, skipped: &[(u16, u16)]) -> bool {
        let nc = self.unwrap(new_cum);
        if nc > self.cum_tsn + MAX_TSN_AHEAD {
            return false;
        }
        self.flush_building();
        if nc > self.cum_tsn {
            let keep = self.fragments.split_off(&(nc + 1));
            for f in std::mem::replace(&mut self.fragments, keep).into_values() {
                self.buffered -= f.data.len();
            }
            self.above = self.above.split_off(&(nc + 1));
            self.cum_tsn = nc;
            while self.above.remove(&(self.cum_tsn + 1)) {
                self.cum_tsn += 1;
            }
        }
        for &(stream_id, ssn) in skipped {
            let s = self.streams.entry(stream_id).or_default();
            if ssn.wrapping_sub(s.next_ssn) >= 0x8000 {
                continue; // already past it
            }
            // Deliver what waited up to the skipped SSN, then go past it.
            let mut upto = Vec::new();
            while s.next_ssn != ssn.wrapping_add(1) {
                if let Some(Some(m)) = s.waiting.remove(&s.next_ssn) {
                    upto.push(m);
                }
                s.next_ssn = s.next_ssn.wrapping_add(1);
            }
            self.ready.extend(upto);
            self.deliver_in_order(stream_id);
        }
        true
    }

    /// I-FORWARD-TSN (RFC 8260 §2.3.2): moves the cumulative TSN like
    /// FORWARD TSN, but fragments are dropped by the (stream, U, MID)
    /// entries, not by TSN: below the new cumulative TSN there may be
    /// fragments of messages on other streams that are still coming.
    /// Returns false when the new TSN is out of range.
    pub(crate) fn on_i_forward_tsn(&mut self, new_cum: u32, entries: &[IForwardEntry]) -> bool {
        let nc = self.unwrap(new_cum);
        if nc > self.cum_tsn + MAX_TSN_AHEAD {
            return false;
        }
        if nc > self.cum_tsn {
            self.above = self.above.split_off(&(nc + 1));
            self.cum_tsn = nc;
            while self.above.remove(&(self.cum_tsn + 1)) {
                self.cum_tsn += 1;
            }
        }
        for e in entries {
            let freed = self
                .interleaved
                .skip(e.stream_id, e.unordered, e.mid, &mut self.ready);
            self.buffered -= freed;
        }
        true
    }

    /// RFC 6525 §5.2.2: the peer reset its outgoing streams (all if
    /// `streams` is empty); their SSNs (or MIDs) start again at 0.
    pub(crate) fn reset_streams(&mut self, streams: &[u16]) {
        self.buffered -= self.interleaved.reset_streams(streams);
        let mut drop_stream = |s: &mut InStream| {
            for m in std::mem::take(&mut s.waiting).into_values().flatten() {
                self.buffered -= m.data.len();
            }
            s.next_ssn = 0;
        };
        if streams.is_empty() {
            self.streams.values_mut().for_each(&mut drop_stream);
        } else {
            for id in streams {
                if let Some(s) = self.streams.get_mut(id) {
                    drop_stream(s);
                }
            }
        }
    }

    /// Gap ack blocks relative to the cumulative TSN (§3.3.4), at most
    /// [`MAX_GAP_BLOCKS`].
    pub(crate) fn gap_blocks(&self) -> Vec<(u16, u16)> {
        let mut out: Vec<(u16, u16)> = Vec::new();
        for &t in &self.above {
            let off = (t - self.cum_tsn) as u16;
            match out.last_mut() {
                Some((_, end)) if *end + 1 == off => *end = off,
                _ => {
                    if out.len() == MAX_GAP_BLOCKS {
                        break;
                    }
                    out.push((off, off));
                }
            }
        }
        out
    }

    /// Duplicates since the last call.
    pub(crate) fn take_dups(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.dups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsn::initial;

    fn data(
        tsn: u32,
        ssn: u16,
        b: bool,
        e: bool,
        unordered: bool,
        payload: &[u8],
    ) -> DataChunk<'_> {
        DataChunk {
            tsn,
            stream_id: 1,
            ssn,
            ppid: 53,
            unordered,
            beginning: b,
            ending: e,
            immediate: false,
            payload,
        }
    }

    #[test]
    fn fragments_reassemble_in_any_arrival_order() {
        let mut r = Receiver::new(initial(10), 1 << 20, usize::MAX);
        assert_eq!(
            r.on_data(&data(12, 0, false, true, false, b"c")),
            DataOutcome::New
        );
        assert_eq!(
            r.on_data(&data(10, 0, true, false, false, b"a")),
            DataOutcome::New
        );
        assert_eq!(r.gap_blocks(), vec![(2, 2)]);
        assert!(r.poll_message().is_none());
        r.on_data(&data(11, 0, false, false, false, b"b"));
        assert_eq!(r.poll_message().unwrap().data, b"abc");
        assert_eq!(r.cum_tsn(), initial(12));
        assert_eq!(r.a_rwnd(), 1 << 20);
    }

    #[test]
    fn in_order_fragments_build_the_message_without_storing_each() {
        let mut r = Receiver::new(initial(0), 1 << 20, usize::MAX);
        r.on_data(&data(0, 0, true, false, false, b"ab"));
        r.on_data(&data(1, 0, false, false, false, b"cd"));
        assert!(r.fragments.is_empty());
        let built = r.building.as_ref().map(|(t, f)| (*t, f.data.as_slice()));
        assert_eq!(built, Some((initial(1), &b"abcd"[..])));
        assert!(r.poll_message().is_none());
        r.on_data(&data(2, 0, false, true, false, b"ef"));
        assert_eq!(r.poll_message().unwrap().data, b"abcdef");
        // A message in one chunk is delivered without being stored.
        r.on_data(&data(3, 1, true, true, false, b"x"));
        assert!(r.fragments.is_empty() && r.building.is_none());
        assert_eq!(r.poll_message().unwrap().data, b"x");
        // A FORWARD TSN over (the rest of) a message being built frees
        // its bytes.
        r.on_data(&data(4, 2, true, false, false, b"12"));
        assert_eq!(r.a_rwnd(), (1 << 20) - 2);
        assert!(r.on_forward_tsn(5, &[(1, 2)]));
        assert!(r.fragments.is_empty() && r.building.is_none());
        assert_eq!(r.a_rwnd(), 1 << 20);
        r.on_data(&data(6, 3, true, true, false, b"next"));
        assert_eq!(r.poll_message().unwrap().data, b"next");
    }

    #[test]
    fn a_single_chunk_message_too_large_is_dropped_and_its_ssn_passes() {
        let mut r = Receiver::new(initial(0), 1 << 20, 4);
        r.on_data(&data(0, 0, true, true, false, b"12345"));
        assert_eq!(r.oversized_messages, 1);
        assert_eq!(r.a_rwnd(), 1 << 20);
        r.on_data(&data(1, 1, true, true, false, b"ok"));
        assert_eq!(r.poll_message().unwrap().data, b"ok");
    }

    #[test]
    fn an_oversized_message_is_dropped_counted_and_the_next_ones_delivered() {
        // At most 4 bytes per message; the window (16 bytes) is smaller
        // than the oversized message, so only freeing its fragments as
        // they come keeps the association going.
        let mut r = Receiver::new(initial(0), 16, 4);
        r.on_data(&data(0, 0, true, false, false, b"abc"));
        assert_eq!(r.oversized_messages, 0);
        r.on_data(&data(1, 0, false, false, false, b"def"));
        assert_eq!(r.oversized_messages, 1);
        assert_eq!(r.a_rwnd(), 16, "the dropped bytes are freed");
        for tsn in 2..10 {
            assert_eq!(
                r.on_data(&data(tsn, 0, false, false, false, b"ghijkl")),
                DataOutcome::New
            );
        }
        r.on_data(&data(10, 0, false, true, false, b"end"));
        assert!(r.poll_message().is_none());
        r.on_data(&data(11, 1, true, true, false, b"ok"));
        let m = r.poll_message().unwrap();
        assert_eq!((m.data.as_slice(), r.oversized_messages), (&b"ok"[..], 1));
        assert_eq!(r.cum_tsn(), initial(11));
        assert_eq!(r.a_rwnd(), 16);
    }

    #[test]
    fn an_oversized_message_arriving_backwards_is_dropped_once_it_joins() {
        let mut r = Receiver::new(initial(0), 1 << 20, 4);
        // The end first, then the start: each part alone fits.
        r.on_data(&data(2, 0, false, true, true, b"ef"));
        r.on_data(&data(0, 0, true, false, true, b"ab"));
        assert_eq!(r.oversized_messages, 0);
        r.on_data(&data(1, 0, false, false, true, b"cd"));
        assert_eq!(r.oversized_messages, 1);
        assert!(r.poll_message().is_none());
        // A message of exactly the limit passes.
        r.on_data(&data(3, 0, true, true, true, b"wxyz"));
        assert_eq!(r.poll_message().unwrap().data, b"wxyz");
        assert_eq!(r.a_rwnd(), 1 << 20);
    }

    #[test]
    fn ordered_messages_wait_for_their_ssn_and_unordered_do_not() {
        let mut r = Receiver::new(initial(0), 1 << 20, usize::MAX);
        r.on_data(&data(1, 1, true, true, false, b"second"));
        r.on_data(&data(2, 0, true, true, true, b"unordered"));
        assert_eq!(r.poll_message().unwrap().data, b"unordered");
        assert!(r.poll_message().is_none());
        r.on_data(&data(0, 0, true, true, false, b"first"));
        assert_eq!(r.poll_message().unwrap().data, b"first");
        assert_eq!(r.poll_message().unwrap().data, b"second");
    }

    #[test]
    fn duplicates_and_far_tsns_are_reported_not_stored() {
        let mut r = Receiver::new(initial(100), 1 << 20, usize::MAX);
        r.on_data(&data(100, 0, true, true, false, b"x"));
        assert_eq!(
            r.on_data(&data(100, 0, true, true, false, b"x")),
            DataOutcome::Duplicate
        );
        assert_eq!(r.take_dups(), vec![100]);
        assert_eq!(
            r.on_data(&data(100 + 70_000, 1, true, true, false, b"x")),
            DataOutcome::OutOfWindow
        );
        assert_eq!(
            r.on_data(&data(101, 1, true, true, false, b"")),
            DataOutcome::Empty
        );
    }

    #[test]
    fn in_order_data_beyond_the_window_is_dropped_when_nothing_waits_for_it() {
        let mut r = Receiver::new(initial(0), 4, usize::MAX);
        let d0 = data(0, 0, true, true, false, b"abcd");
        assert_eq!(r.on_data(&d0), DataOutcome::New);
        // The application has not taken "abcd": the next TSN is refused.
        let d1 = data(1, 1, true, true, false, b"e");
        assert_eq!(r.on_data(&d1), DataOutcome::WindowFull);
        assert_eq!(r.poll_message().unwrap().data, b"abcd");
        assert_eq!(r.on_data(&d1), DataOutcome::New);
    }

    #[test]
    fn a_full_window_only_admits_the_tsn_that_unblocks_waiting_data() {
        let mut r = Receiver::new(initial(0), 4, usize::MAX);
        assert_eq!(
            r.on_data(&data(1, 1, true, true, false, b"abcd")),
            DataOutcome::New
        );
        assert_eq!(r.a_rwnd(), 0);
        assert_eq!(
            r.on_data(&data(2, 2, true, true, false, b"e")),
            DataOutcome::WindowFull
        );
        assert_eq!(
            r.on_data(&data(0, 0, true, true, false, b"z")),
            DataOutcome::New
        );
        assert_eq!(r.poll_message().unwrap().data, b"z");
        assert_eq!(r.poll_message().unwrap().data, b"abcd");
    }

    #[test]
    fn forward_tsn_skips_a_lost_message_and_releases_the_next() {
        let mut r = Receiver::new(initial(0), 1 << 20, usize::MAX);
        // TSN 0-1 (SSN 0) lost in part: only the first fragment arrived.
        r.on_data(&data(0, 0, true, false, false, b"lost"));
        r.on_data(&data(2, 1, true, true, false, b"next"));
        assert!(r.poll_message().is_none());
        assert!(r.on_forward_tsn(1, &[(1, 0)]));
        assert_eq!(r.cum_tsn(), initial(2));
        assert_eq!(r.poll_message().unwrap().data, b"next");
        assert!(r.poll_message().is_none());
        assert_eq!(r.a_rwnd(), 1 << 20);
    }

    #[test]
    fn stream_reset_restarts_ssns_at_zero() {
        let mut r = Receiver::new(initial(0), 1 << 20, usize::MAX);
        r.on_data(&data(0, 0, true, true, false, b"a"));
        r.poll_message();
        r.reset_streams(&[1]);
        r.on_data(&data(1, 0, true, true, false, b"b"));
        assert_eq!(r.poll_message().unwrap().data, b"b");
    }
}

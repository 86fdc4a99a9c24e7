//! The queue of message fragments waiting for their first transmission,
//! one FIFO per stream, served round-robin between messages: a stream
//! that queued many messages cannot hold back another stream's message
//! for longer than one of its own (RFC 8260 §1 describes the head-of-line
//! problem; without I-DATA, fragments of one message still go out with
//! consecutive TSNs, RFC 9260 §6.9, so the turn changes only between
//! messages). With I-DATA (RFC 8260 §3.2) the turn changes after every
//! fragment: one fragment per stream per turn, so a small message queued
//! behind a large one on another stream leaves before the large one ends.

use std::collections::{BTreeMap, VecDeque};

/// What the queue needs to know of a fragment.
pub(crate) trait Fragment {
    fn stream(&self) -> u16;
    /// First fragment of its message.
    fn is_first(&self) -> bool;
    /// Last fragment of its message.
    fn is_last(&self) -> bool;
}

#[derive(Debug)]
pub(crate) struct StreamQueues<T> {
    queues: BTreeMap<u16, VecDeque<T>>,
    /// The stream whose message is part sent (its next fragment must follow).
    current: Option<u16>,
    /// Where the round-robin turn goes next.
    next_turn: u16,
    len: usize,
    /// Turns per fragment (I-DATA) rather than per message.
    interleave: bool,
}

impl<T: Fragment> StreamQueues<T> {
    pub(crate) fn new() -> Self {
        StreamQueues {
            queues: BTreeMap::new(),
            current: None,
            next_turn: 0,
            len: 0,
            interleave: false,
        }
    }

    /// One fragment per stream per turn (RFC 8260 §3.2) when `on`.
    pub(crate) fn set_interleaving(&mut self, on: bool) {
        self.interleave = on;
        self.current = None;
    }

    /// Takes every fragment out, stream by stream, each stream's in order.
    pub(crate) fn drain(&mut self) -> Vec<T> {
        self.len = 0;
        self.current = None;
        std::mem::take(&mut self.queues)
            .into_values()
            .flatten()
            .collect()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn push_back(&mut self, f: T) {
        self.queues.entry(f.stream()).or_default().push_back(f);
        self.len += 1;
    }

    /// The stream whose fragment goes next.
    fn turn(&self) -> Option<u16> {
        if let Some(s) = self.current {
            // Still mid-message unless that message was removed.
            if self
                .queues
                .get(&s)
                .and_then(|q| q.front())
                .is_some_and(|f| !f.is_first())
            {
                return Some(s);
            }
        }
        self.queues
            .range(self.next_turn..)
            .chain(self.queues.range(..self.next_turn))
            .find(|(_, q)| !q.is_empty())
            .map(|(s, _)| *s)
    }

    pub(crate) fn front(&self) -> Option<&T> {
        self.queues.get(&self.turn()?)?.front()
    }

    pub(crate) fn pop_front(&mut self) -> Option<T> {
        let s = self.turn()?;
        let q = self.queues.get_mut(&s)?;
        let f = q.pop_front()?;
        if q.is_empty() {
            self.queues.remove(&s);
        }
        self.len -= 1;
        if f.is_last() || self.interleave {
            self.current = None;
            self.next_turn = s.wrapping_add(1);
        } else {
            self.current = Some(s);
        }
        Some(f)
    }

    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let mut len = 0;
        self.queues.retain(|_, q| {
            q.retain(&mut keep);
            len += q.len();
            !q.is_empty()
        });
        self.len = len;
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.queues.values().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct F(u16, bool, bool, &'static str);

    impl Fragment for F {
        fn stream(&self) -> u16 {
            self.0
        }
        fn is_first(&self) -> bool {
            self.1
        }
        fn is_last(&self) -> bool {
            self.2
        }
    }

    #[test]
    fn streams_take_turns_between_messages_not_within_them() {
        let mut q = StreamQueues::new();
        q.push_back(F(1, true, false, "a1"));
        q.push_back(F(1, false, true, "a2"));
        q.push_back(F(1, true, true, "b"));
        q.push_back(F(1, true, true, "c"));
        q.push_back(F(3, true, true, "x"));
        q.push_back(F(2, true, true, "y"));
        assert_eq!(q.len(), 6);
        let order: Vec<&str> = std::iter::from_fn(|| q.pop_front()).map(|f| f.3).collect();
        assert_eq!(order, ["a1", "a2", "y", "x", "b", "c"]);
        assert!(q.is_empty());
    }

    #[test]
    fn interleaving_takes_one_fragment_per_stream_per_turn() {
        let mut q = StreamQueues::new();
        q.set_interleaving(true);
        q.push_back(F(1, true, false, "a1"));
        q.push_back(F(1, false, false, "a2"));
        q.push_back(F(1, false, true, "a3"));
        q.push_back(F(2, true, true, "b"));
        q.push_back(F(3, true, false, "c1"));
        q.push_back(F(3, false, true, "c2"));
        let order: Vec<&str> = std::iter::from_fn(|| q.pop_front()).map(|f| f.3).collect();
        assert_eq!(order, ["a1", "b", "c1", "a2", "c2", "a3"]);
    }

    #[test]
    fn removing_the_rest_of_a_message_ends_its_turn() {
        let mut q = StreamQueues::new();
        q.push_back(F(5, true, false, "m1"));
        q.push_back(F(5, false, false, "m2"));
        q.push_back(F(5, false, true, "m3"));
        q.push_back(F(5, true, true, "n"));
        q.push_back(F(6, true, true, "o"));
        assert_eq!(q.pop_front().unwrap().3, "m1");
        q.retain(|f| !f.3.starts_with('m'));
        assert_eq!(q.len(), 2);
        // The turn moves on from stream 5's abandoned message in order.
        assert_eq!(q.pop_front().unwrap().3, "n");
        assert_eq!(q.pop_front().unwrap().3, "o");
    }
}

//! Handshake message framing (RFC 6347 §4.2.2–4.2.3): the 12-byte header,
//! fragments, reassembly in `message_seq` order, and fragmenting our own
//! messages to an MTU budget.
//!
//! ```text
//! struct {
//!     HandshakeType msg_type;     // 1 byte
//!     uint24 length;              // the whole message body
//!     uint16 message_seq;
//!     uint24 fragment_offset;
//!     uint24 fragment_length;
//!     opaque body[fragment_length];
//! } Handshake;
//! ```
//!
//! The transcript hashes every message as if it had come in one piece
//! (offset 0, fragment length = length): [`Message::write_unfragmented`].

/// The handshake header's length.
pub const HEADER_LEN: usize = 12;

/// Handshake message types (RFC 5246 §7.4, RFC 6347 §4.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandshakeType {
    /// 0.
    HelloRequest,
    /// 1.
    ClientHello,
    /// 2.
    ServerHello,
    /// 3.
    HelloVerifyRequest,
    /// 11.
    Certificate,
    /// 12.
    ServerKeyExchange,
    /// 13.
    CertificateRequest,
    /// 14.
    ServerHelloDone,
    /// 15.
    CertificateVerify,
    /// 16.
    ClientKeyExchange,
    /// 20.
    Finished,
    /// Anything else.
    Other(u8),
}

impl HandshakeType {
    /// From the wire byte.
    pub fn from_u8(b: u8) -> HandshakeType {
        use HandshakeType::*;
        match b {
            0 => HelloRequest,
            1 => ClientHello,
            2 => ServerHello,
            3 => HelloVerifyRequest,
            11 => Certificate,
            12 => ServerKeyExchange,
            13 => CertificateRequest,
            14 => ServerHelloDone,
            15 => CertificateVerify,
            16 => ClientKeyExchange,
            20 => Finished,
            o => Other(o),
        }
    }

    /// The wire byte.
    pub fn as_u8(self) -> u8 {
        use HandshakeType::*;
        match self {
            HelloRequest => 0,
            ClientHello => 1,
            ServerHello => 2,
            HelloVerifyRequest => 3,
            Certificate => 11,
            ServerKeyExchange => 12,
            CertificateRequest => 13,
            ServerHelloDone => 14,
            CertificateVerify => 15,
            ClientKeyExchange => 16,
            Finished => 20,
            Other(o) => o,
        }
    }
}

/// Why a handshake fragment was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// Fewer than 12 bytes left in the record.
    #[error("truncated handshake header ({0} bytes)")]
    TruncatedHeader(usize),
    /// The fragment runs past the record.
    #[error("handshake fragment of {length} bytes exceeds the {available} left")]
    TruncatedFragment {
        /// The fragment_length field.
        length: usize,
        /// Bytes left.
        available: usize,
    },
    /// offset + fragment_length > length.
    #[error("fragment {offset}+{fragment_length} lies outside a {length}-byte message")]
    FragmentOutOfRange {
        /// fragment_offset.
        offset: usize,
        /// fragment_length.
        fragment_length: usize,
        /// length.
        length: usize,
    },
    /// A message longer than the reassembler accepts.
    #[error("handshake message of {length} bytes is over the {limit}-byte limit")]
    TooLong {
        /// The declared length.
        length: usize,
        /// The limit.
        limit: usize,
    },
    /// A fragment of a message whose type or length differs from the
    /// earlier fragments with the same `message_seq`.
    #[error("fragments of message {0} disagree on its type or length")]
    Inconsistent(u16),
    /// A fragment that would split its message into more than
    /// [`MAX_RANGES`] pieces.
    #[error("message {message_seq} is already held in {limit} pieces")]
    TooManyRanges {
        /// The message.
        message_seq: u16,
        /// [`MAX_RANGES`].
        limit: usize,
    },
    /// A fragment of another message while [`MAX_PARTIALS`] incomplete
    /// ones nearer the expected one are held.
    #[error("{limit} incomplete messages are held already")]
    TooManyPartials {
        /// [`MAX_PARTIALS`].
        limit: usize,
    },
}

/// One handshake fragment, borrowed from a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// The message type.
    pub msg_type: HandshakeType,
    /// The whole message's body length.
    pub length: usize,
    /// The message's sequence number.
    pub message_seq: u16,
    /// Where this piece starts in the body.
    pub offset: usize,
    /// The piece.
    pub body: &'a [u8],
}

fn u24(b: &[u8]) -> usize {
    (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2])
}

impl<'a> Fragment<'a> {
    /// Reads the first fragment of a handshake record's fragment; returns
    /// it and what follows (several messages may share a record).
    pub fn parse(data: &'a [u8]) -> Result<(Fragment<'a>, &'a [u8]), HandshakeError> {
        if data.len() < HEADER_LEN {
            return Err(HandshakeError::TruncatedHeader(data.len()));
        }
        let length = u24(&data[1..4]);
        let message_seq = u16::from_be_bytes([data[4], data[5]]);
        let offset = u24(&data[6..9]);
        let fragment_length = u24(&data[9..12]);
        let available = data.len() - HEADER_LEN;
        if fragment_length > available {
            return Err(HandshakeError::TruncatedFragment {
                length: fragment_length,
                available,
            });
        }
        if offset + fragment_length > length {
            return Err(HandshakeError::FragmentOutOfRange {
                offset,
                fragment_length,
                length,
            });
        }
        let f = Fragment {
            msg_type: HandshakeType::from_u8(data[0]),
            length,
            message_seq,
            offset,
            body: &data[HEADER_LEN..HEADER_LEN + fragment_length],
        };
        Ok((f, &data[HEADER_LEN + fragment_length..]))
    }

    /// Whether this fragment is the whole message.
    pub fn is_whole(&self) -> bool {
        self.offset == 0 && self.body.len() == self.length
    }
}

/// The fragments of a handshake record, in order; stops after an error.
pub fn fragments(
    record_fragment: &[u8],
) -> impl Iterator<Item = Result<Fragment<'_>, HandshakeError>> {
    let mut rest = record_fragment;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match Fragment::parse(rest) {
            Ok((f, r)) => {
                rest = r;
                Some(Ok(f))
            }
            Err(e) => {
                rest = &[];
                Some(Err(e))
            }
        }
    })
}

/// A whole handshake message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its type.
    pub msg_type: HandshakeType,
    /// Its sequence number.
    pub message_seq: u16,
    /// The whole body.
    pub body: Vec<u8>,
}

fn put_u24(out: &mut Vec<u8>, v: usize) {
    out.extend_from_slice(&(v as u32).to_be_bytes()[1..]);
}

impl Message {
    /// Appends the message as one fragment (offset 0, fragment length =
    /// length): the form the handshake transcript hashes (RFC 6347 §4.2.6).
    pub fn write_unfragmented(&self, out: &mut Vec<u8>) {
        out.push(self.msg_type.as_u8());
        put_u24(out, self.body.len());
        out.extend_from_slice(&self.message_seq.to_be_bytes());
        put_u24(out, 0);
        put_u24(out, self.body.len());
        out.extend_from_slice(&self.body);
    }

    /// Splits the message into handshake fragments (header included) of at
    /// most `max_fragment` bytes each, header included (so a record of
    /// 13 + `max_fragment` bytes fits the path MTU). An empty body gives one
    /// fragment. `max_fragment` below 13 is raised to 13.
    pub fn fragments(&self, max_fragment: usize) -> Vec<Vec<u8>> {
        let room = max_fragment.max(HEADER_LEN + 1) - HEADER_LEN;
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let n = room.min(self.body.len() - offset);
            let mut f = Vec::with_capacity(HEADER_LEN + n);
            f.push(self.msg_type.as_u8());
            put_u24(&mut f, self.body.len());
            f.extend_from_slice(&self.message_seq.to_be_bytes());
            put_u24(&mut f, offset);
            put_u24(&mut f, n);
            f.extend_from_slice(&self.body[offset..offset + n]);
            out.push(f);
            offset += n;
            if offset >= self.body.len() {
                return out;
            }
        }
    }
}

/// The most disjoint byte ranges one message may be held in while it is
/// reassembled. A fragment that would open another range is dropped (the
/// peer's retransmission, which overlaps what is held, merges instead), so
/// a flood of one-byte fragments costs constant work per fragment.
pub const MAX_RANGES: usize = 64;
/// The most incomplete messages held at once.
pub const MAX_PARTIALS: usize = 4;

/// A message being reassembled.
#[derive(Debug)]
struct Partial {
    msg_type: HandshakeType,
    message_seq: u16,
    body: Vec<u8>,
    /// Received byte ranges `[start, end)`: sorted, disjoint and not
    /// touching (adjacent ranges are merged).
    have: Vec<(usize, usize)>,
}

impl Partial {
    /// Where `[s, e)` would go: the ranges in `have[i..j]` overlap or touch
    /// it and merge with it.
    fn span(&self, s: usize, e: usize) -> (usize, usize) {
        let i = self.have.partition_point(|&(_, b)| b < s);
        let j = self.have.partition_point(|&(a, _)| a <= e);
        (i, j.max(i))
    }

    /// Whether adding `[s, e)` keeps the range count within `limit`.
    fn fits(&self, s: usize, e: usize, limit: usize) -> bool {
        let (i, j) = self.span(s, e);
        i < j || self.have.len() < limit
    }

    /// Copies the fragment in and merges its range with the ones it
    /// overlaps or touches; returns how many held ranges it visited.
    fn add(&mut self, offset: usize, data: &[u8]) -> usize {
        self.body[offset..offset + data.len()].copy_from_slice(data);
        let (s, e) = (offset, offset + data.len());
        let (i, j) = self.span(s, e);
        if i == j {
            self.have.insert(i, (s, e));
        } else {
            self.have[i] = (s.min(self.have[i].0), e.max(self.have[j - 1].1));
            self.have.drain(i + 1..j);
        }
        j - i
    }

    fn complete(&self) -> bool {
        self.body.is_empty() || self.have == [(0, self.body.len())]
    }
}

/// What [`Reassembler::push`] did with a fragment it did not refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Kept (new bytes, or bytes already held).
    Kept,
    /// Kept in place of an incomplete message with the same `message_seq`
    /// but another type or length, which was discarded: one of the two is
    /// forged, and only the newer can still be completed (the peer's
    /// retransmissions complete it if it is the real one).
    Replaced,
    /// Kept; the incomplete message furthest ahead was discarded to stay
    /// within [`MAX_PARTIALS`] (the message expected next is never
    /// crowded out).
    Evicted,
    /// Its message was handed out already: a retransmission, which the
    /// caller may answer with its last flight (RFC 6347 §4.2.4).
    Old,
    /// Too far ahead of the next expected message: dropped.
    AheadOfWindow,
}

/// Reassembles handshake messages from fragments in any order, duplicated
/// or overlapping, and hands them out in `message_seq` order (RFC 6347
/// §4.2.2). Memory and work are bounded: messages above `max_message`
/// bytes are refused, only `window` messages ahead of the next expected
/// one are buffered (later ones are dropped; the peer retransmits), at
/// most [`MAX_PARTIALS`] of them incomplete, each in at most
/// [`MAX_RANGES`] ranges, and a fragment costs a binary search plus the
/// ranges it merges, so reassembly is linear in the bytes received.
#[derive(Debug)]
pub struct Reassembler {
    next_seq: u16,
    max_message: usize,
    window: u16,
    pending: Vec<Partial>,
    work: u64,
}

impl Reassembler {
    /// Expects `message_seq` `first` next. Messages up to `max_message`
    /// bytes; `window` messages of look-ahead.
    pub fn new(first: u16, max_message: usize, window: u16) -> Reassembler {
        Reassembler {
            next_seq: first,
            max_message,
            window,
            pending: Vec::new(),
            work: 0,
        }
    }

    /// The `message_seq` expected next.
    pub fn next_seq(&self) -> u16 {
        self.next_seq
    }

    /// Expects `message_seq` again, after the message popped with it was
    /// dropped (it did not decode): the peer's retransmission brings it
    /// back. Only moves backwards.
    pub fn expect_again(&mut self, message_seq: u16) {
        if message_seq < self.next_seq {
            self.next_seq = message_seq;
            self.pending.retain(|p| p.message_seq >= message_seq);
        }
    }

    /// Adds a fragment. `Err` means it was refused and nothing changed:
    /// a message over the size limit, a fragment conflicting with a
    /// complete message held for the same `message_seq`, or one over the
    /// range or partial-message caps.
    pub fn push(&mut self, f: &Fragment<'_>) -> Result<Pushed, HandshakeError> {
        if f.length > self.max_message {
            return Err(HandshakeError::TooLong {
                length: f.length,
                limit: self.max_message,
            });
        }
        if f.message_seq < self.next_seq {
            return Ok(Pushed::Old);
        }
        if f.message_seq - self.next_seq >= self.window {
            return Ok(Pushed::AheadOfWindow);
        }
        self.work += self.pending.len() as u64 + 1;
        let (s, e) = (f.offset, f.offset + f.body.len());
        let mut outcome = Pushed::Kept;
        let held = self
            .pending
            .iter()
            .position(|p| p.message_seq == f.message_seq);
        let i = match held {
            Some(i)
                if self.pending[i].msg_type == f.msg_type
                    && self.pending[i].body.len() == f.length =>
            {
                if !self.pending[i].fits(s, e, MAX_RANGES) {
                    return Err(HandshakeError::TooManyRanges {
                        message_seq: f.message_seq,
                        limit: MAX_RANGES,
                    });
                }
                i
            }
            Some(i) => {
                if self.pending[i].complete() {
                    return Err(HandshakeError::Inconsistent(f.message_seq));
                }
                self.pending[i] = Partial::new(f);
                outcome = Pushed::Replaced;
                i
            }
            None => {
                let whole = f.offset == 0 && f.body.len() == f.length;
                let incomplete = self.pending.iter().filter(|p| !p.complete()).count();
                if !whole && incomplete >= MAX_PARTIALS {
                    // Make room only for a message nearer the one
                    // expected next than the furthest one held.
                    let far = self
                        .pending
                        .iter()
                        .enumerate()
                        .filter(|(_, p)| !p.complete())
                        .max_by_key(|(_, p)| p.message_seq)
                        .map(|(i, p)| (i, p.message_seq));
                    match far {
                        Some((j, seq)) if seq > f.message_seq => {
                            self.pending.swap_remove(j);
                            outcome = Pushed::Evicted;
                        }
                        _ => {
                            return Err(HandshakeError::TooManyPartials {
                                limit: MAX_PARTIALS,
                            })
                        }
                    }
                }
                self.pending.push(Partial::new(f));
                self.pending.len() - 1
            }
        };
        self.work += self.pending[i].add(f.offset, f.body) as u64;
        Ok(outcome)
    }

    /// The next whole message in order, if it is complete.
    pub fn pop(&mut self) -> Option<Message> {
        let i = self
            .pending
            .iter()
            .position(|p| p.message_seq == self.next_seq && p.complete())?;
        let p = self.pending.swap_remove(i);
        self.next_seq = self.next_seq.wrapping_add(1);
        Some(Message {
            msg_type: p.msg_type,
            message_seq: p.message_seq,
            body: p.body,
        })
    }

    /// Bytes buffered for incomplete or future messages.
    pub fn buffered(&self) -> usize {
        self.pending.iter().map(|p| p.body.len()).sum()
    }

    /// Incomplete messages held (at most [`MAX_PARTIALS`]).
    pub fn partials(&self) -> usize {
        self.pending.iter().filter(|p| !p.complete()).count()
    }

    /// The most ranges any held message is in (at most [`MAX_RANGES`]).
    pub fn max_ranges(&self) -> usize {
        self.pending.iter().map(|p| p.have.len()).max().unwrap_or(0)
    }

    /// Work done so far, in held messages scanned plus ranges visited:
    /// bounded by a constant per fragment.
    pub fn work(&self) -> u64 {
        self.work
    }
}

impl Partial {
    fn new(f: &Fragment<'_>) -> Partial {
        Partial {
            msg_type: f.msg_type,
            message_seq: f.message_seq,
            body: vec![0; f.length],
            have: Vec::new(),
        }
    }
}

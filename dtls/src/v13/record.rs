//! The DTLS 1.3 record layer (RFC 9147 §4): the unified header of
//! protected records, record number encryption (§4.2.3), AEAD protection
//! with the per-record nonce (RFC 8446 §5.3), the inner plaintext with its
//! real content type (§4, RFC 8446 §5.2), sequence number reconstruction
//! (§4.2.2) and an anti-replay window per epoch (§4.5.1). Epoch 0 records
//! are DTLSPlaintext and framed by [`crate::record`].
//!
//! ```text
//!  0 1 2 3 4 5 6 7
//! +-+-+-+-+-+-+-+-+
//! |0|0|1|C|S|L|E E|   C: connection id (never negotiated here: refused)
//! +-+-+-+-+-+-+-+-+   S: 16-bit sequence number, L: length present
//! | 8/16 bit seq  |   E: low two bits of the epoch
//! | 16 bit length |
//! ```
//!
//! The additional data is the header as sent but with the sequence number
//! in clear (§4); the nonce is the static iv XOR the 64-bit record
//! sequence number (RFC 8446 §5.3), the sequence number within the epoch
//! as deployed implementations (NSS, wolfSSL, dimpl) read RFC 9147.

use ring::aead::{self, quic, Aad, LessSafeKey, Nonce, UnboundKey};

use super::key_schedule::{HashAlg, TrafficKeys};
use crate::cipher::ReplayWindow;

/// Content type of ACK records (RFC 9147 §7).
pub const CONTENT_ACK: u8 = 26;
/// Content type of handshake records.
pub const CONTENT_HANDSHAKE: u8 = 22;
/// Content type of alert records.
pub const CONTENT_ALERT: u8 = 21;
/// Content type of application data records.
pub const CONTENT_APPLICATION_DATA: u8 = 23;

/// The AEAD tag length of every suite here.
pub const TAG_LEN: usize = 16;
/// The header we write: flags, 16-bit sequence number, 16-bit length.
pub const WRITTEN_HEADER_LEN: usize = 5;
/// The largest ciphertext (RFC 8446 §5.2: 2^14 + 256).
pub const MAX_CIPHERTEXT: usize = (1 << 14) + 256;

/// TLS 1.3 cipher suites (RFC 8446 §B.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CipherSuite13 {
    /// TLS_AES_128_GCM_SHA256 (0x1301).
    Aes128GcmSha256,
    /// TLS_AES_256_GCM_SHA384 (0x1302).
    Aes256GcmSha384,
    /// TLS_CHACHA20_POLY1305_SHA256 (0x1303).
    Chacha20Poly1305Sha256,
}

impl CipherSuite13 {
    /// The IANA code point.
    pub fn id(self) -> u16 {
        match self {
            CipherSuite13::Aes128GcmSha256 => 0x1301,
            CipherSuite13::Aes256GcmSha384 => 0x1302,
            CipherSuite13::Chacha20Poly1305Sha256 => 0x1303,
        }
    }

    /// From a code point.
    pub fn from_id(id: u16) -> Option<CipherSuite13> {
        match id {
            0x1301 => Some(CipherSuite13::Aes128GcmSha256),
            0x1302 => Some(CipherSuite13::Aes256GcmSha384),
            0x1303 => Some(CipherSuite13::Chacha20Poly1305Sha256),
            _ => None,
        }
    }

    /// The suite's hash.
    pub fn hash(self) -> HashAlg {
        match self {
            CipherSuite13::Aes256GcmSha384 => HashAlg::Sha384,
            _ => HashAlg::Sha256,
        }
    }

    /// The AEAD (and sn) key length.
    pub fn key_len(self) -> usize {
        match self {
            CipherSuite13::Aes128GcmSha256 => 16,
            _ => 32,
        }
    }

    fn algorithms(self) -> (&'static aead::Algorithm, &'static quic::Algorithm) {
        match self {
            CipherSuite13::Aes128GcmSha256 => (&aead::AES_128_GCM, &quic::AES_128),
            CipherSuite13::Aes256GcmSha384 => (&aead::AES_256_GCM, &quic::AES_256),
            CipherSuite13::Chacha20Poly1305Sha256 => (&aead::CHACHA20_POLY1305, &quic::CHACHA20),
        }
    }
}

/// Why a protected record was refused. Each is counted by the caller and
/// the record dropped (RFC 9147 §4.5.2: invalid records are discarded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Record13Error {
    /// Shorter than its header or its length field says.
    #[error("truncated DTLS 1.3 record")]
    Truncated,
    /// The first byte is not `001xxxxx`.
    #[error("not a DTLS 1.3 unified header (first byte {0:#04x})")]
    NotUnifiedHeader(u8),
    /// The C bit is set; no connection id is ever negotiated here.
    #[error("connection id present but not negotiated")]
    ConnectionIdNotNegotiated,
    /// Ciphertext under 16 bytes: no sample for the sequence number mask
    /// (§4.2.3: rejected as a deprotection failure).
    #[error("ciphertext of {0} bytes is shorter than the 16-byte sample")]
    ShortCiphertext(usize),
    /// Longer than 2^14 + 256.
    #[error("ciphertext of {0} bytes is too long")]
    TooLong(usize),
    /// No keys for an epoch with these low bits.
    #[error("no keys for epoch bits {0}")]
    UnknownEpoch(u8),
    /// The AEAD tag did not verify (tampered, or wrong keys).
    #[error("record failed authentication")]
    AuthenticationFailed,
    /// Already received, or behind the window.
    #[error("replayed record (epoch {epoch}, sequence {sequence})")]
    Replayed {
        /// The epoch.
        epoch: u64,
        /// The reconstructed sequence number.
        sequence: u64,
    },
    /// The inner plaintext is all zeros: no content type (RFC 8446 §5.4).
    #[error("inner plaintext without a content type")]
    NoContentType,
    /// We ran out of sequence numbers (2^48) in this epoch.
    #[error("sequence numbers exhausted")]
    SequenceExhausted,
}

/// A unified header, framed but not yet deprotected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnifiedRecord<'a> {
    /// The flags byte.
    pub flags: u8,
    /// The header bytes as received (sequence number still encrypted).
    pub header: &'a [u8],
    /// The encrypted record.
    pub ciphertext: &'a [u8],
}

impl<'a> UnifiedRecord<'a> {
    /// Whether `first` starts a unified header (`001xxxxx`, §4.1).
    pub fn is_unified(first: u8) -> bool {
        first & 0xe0 == 0x20
    }

    /// Frames the first protected record of `data`; returns it and what
    /// follows it in the datagram.
    pub fn parse(data: &'a [u8]) -> Result<(UnifiedRecord<'a>, &'a [u8]), Record13Error> {
        let flags = *data.first().ok_or(Record13Error::Truncated)?;
        if !Self::is_unified(flags) {
            return Err(Record13Error::NotUnifiedHeader(flags));
        }
        if flags & 0x10 != 0 {
            return Err(Record13Error::ConnectionIdNotNegotiated);
        }
        let seq_len = if flags & 0x08 != 0 { 2 } else { 1 };
        let mut header_len = 1 + seq_len;
        let length = if flags & 0x04 != 0 {
            header_len += 2;
            let l = data
                .get(1 + seq_len..header_len)
                .ok_or(Record13Error::Truncated)?;
            Some(usize::from(u16::from_be_bytes([l[0], l[1]])))
        } else {
            None
        };
        if data.len() < header_len {
            return Err(Record13Error::Truncated);
        }
        let body_len = match length {
            Some(l) if l > data.len() - header_len => return Err(Record13Error::Truncated),
            Some(l) => l,
            None => data.len() - header_len,
        };
        if body_len > MAX_CIPHERTEXT {
            return Err(Record13Error::TooLong(body_len));
        }
        if body_len < 16 {
            return Err(Record13Error::ShortCiphertext(body_len));
        }
        let record = UnifiedRecord {
            flags,
            header: &data[..header_len],
            ciphertext: &data[header_len..header_len + body_len],
        };
        Ok((record, &data[header_len + body_len..]))
    }

    /// The epoch's low two bits.
    pub fn epoch_bits(&self) -> u8 {
        self.flags & 0x03
    }

    /// The length of the sequence number field (1 or 2).
    pub fn seq_len(&self) -> usize {
        if self.flags & 0x08 != 0 {
            2
        } else {
            1
        }
    }
}

/// The full sequence number whose low `bits` bits are `low`, closest to
/// `expected` (RFC 9147 §4.2.2).
pub fn reconstruct_sequence(expected: u64, low: u64, bits: u32) -> u64 {
    let span = 1u64 << bits;
    let mask = span - 1;
    let candidate = (expected & !mask) | low;
    let half = span / 2;
    if candidate + half < expected && candidate.checked_add(span).is_some() {
        candidate + span
    } else if candidate > expected + half && candidate >= span {
        candidate - span
    } else {
        candidate
    }
}

/// Record protection for one direction of one epoch.
pub struct EpochKeys {
    suite: CipherSuite13,
    key: LessSafeKey,
    iv: [u8; 12],
    sn: quic::HeaderProtectionKey,
}

impl std::fmt::Debug for EpochKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpochKeys")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

impl EpochKeys {
    /// From derived traffic keys (lengths as the suite needs them).
    pub fn new(suite: CipherSuite13, keys: &TrafficKeys) -> EpochKeys {
        let (aead_alg, sn_alg) = suite.algorithms();
        // The key lengths come from our own schedule for this suite.
        let key = LessSafeKey::new(
            UnboundKey::new(aead_alg, &keys.key).expect("key length matches the suite"),
        );
        let sn = quic::HeaderProtectionKey::new(sn_alg, &keys.sn_key)
            .expect("sn key length matches the suite");
        let mut iv = [0u8; 12];
        iv.copy_from_slice(&keys.iv[..12]);
        EpochKeys { suite, key, iv, sn }
    }

    /// The suite.
    pub fn suite(&self) -> CipherSuite13 {
        self.suite
    }

    fn nonce(&self, sequence: u64) -> Nonce {
        let mut n = self.iv;
        for (b, s) in n[4..].iter_mut().zip(sequence.to_be_bytes()) {
            *b ^= s;
        }
        Nonce::assume_unique_for_key(n)
    }

    fn mask(&self, ciphertext: &[u8]) -> [u8; 2] {
        // §4.2.3: the first 16 bytes of the ciphertext are the sample;
        // `parse` and `seal` guarantee there are 16.
        let m = self.sn.new_mask(&ciphertext[..16]).unwrap_or([0; 5]);
        [m[0], m[1]]
    }

    /// Appends one protected record: header (16-bit sequence number,
    /// length present), `content || type`, tag; then encrypts the
    /// sequence number. Empty content is padded so the ciphertext has a
    /// 16-byte sample.
    pub fn seal(
        &self,
        epoch: u64,
        sequence: u64,
        content_type: u8,
        content: &[u8],
        out: &mut Vec<u8>,
    ) {
        let start = out.len();
        let inner_len = content.len() + 1;
        let padding = (16usize.saturating_sub(TAG_LEN)).saturating_sub(inner_len);
        let body_len = inner_len + padding + TAG_LEN;
        out.push(0x20 | 0x08 | 0x04 | (epoch & 0x03) as u8);
        out.extend_from_slice(&((sequence & 0xffff) as u16).to_be_bytes());
        out.extend_from_slice(&(body_len as u16).to_be_bytes());
        let header_end = out.len();
        out.extend_from_slice(content);
        out.push(content_type);
        out.resize(out.len() + padding, 0);
        let (header, body) = out[start..].split_at_mut(header_end - start);
        let tag = self
            .key
            .seal_in_place_separate_tag(self.nonce(sequence), Aad::from(&*header), body)
            .expect("record within AEAD limits");
        out.extend_from_slice(tag.as_ref());
        let mask = self.mask(&out[header_end..]);
        out[start + 1] ^= mask[0];
        out[start + 2] ^= mask[1];
    }

    /// Decrypts the sequence number bits of `record` (§4.2.3).
    pub fn sequence_bits(&self, record: &UnifiedRecord<'_>) -> u64 {
        let mask = self.mask(record.ciphertext);
        let h = record.header;
        if record.seq_len() == 2 {
            u64::from(u16::from_be_bytes([h[1] ^ mask[0], h[2] ^ mask[1]]))
        } else {
            u64::from(h[1] ^ mask[0])
        }
    }

    /// Opens `record` whose full sequence number is `sequence` (low bits
    /// already decrypted): returns `(content_type, content)`.
    pub fn open(
        &self,
        record: &UnifiedRecord<'_>,
        sequence: u64,
    ) -> Result<(u8, Vec<u8>), Record13Error> {
        let mut aad = record.header.to_vec();
        if record.seq_len() == 2 {
            aad[1..3].copy_from_slice(&((sequence & 0xffff) as u16).to_be_bytes());
        } else {
            aad[1] = sequence as u8;
        }
        let mut buf = record.ciphertext.to_vec();
        let plain_len = self
            .key
            .open_in_place(self.nonce(sequence), Aad::from(&aad), &mut buf)
            .map_err(|_| Record13Error::AuthenticationFailed)?
            .len();
        buf.truncate(plain_len);
        // RFC 8446 §5.4: the content type is the last non-zero byte.
        let type_at = buf
            .iter()
            .rposition(|&b| b != 0)
            .ok_or(Record13Error::NoContentType)?;
        let content_type = buf[type_at];
        buf.truncate(type_at);
        Ok((content_type, buf))
    }
}

/// Counters of the 1.3 record layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record13Stats {
    /// Records that did not frame (truncated, CID, short, too long).
    pub malformed: u64,
    /// Records for an epoch we have no keys for.
    pub unknown_epoch: u64,
    /// Records whose tag did not verify (tampering).
    pub auth_failures: u64,
    /// Replayed records.
    pub replayed: u64,
    /// Records without a content type.
    pub no_content_type: u64,
    /// Records opened.
    pub opened: u64,
    /// Records sealed.
    pub sealed: u64,
}

#[derive(Debug)]
struct ReadEpoch {
    epoch: u64,
    keys: EpochKeys,
    window: ReplayWindow,
    next_expected: u64,
}

#[derive(Debug)]
struct WriteEpoch {
    epoch: u64,
    keys: EpochKeys,
    next_seq: u64,
}

/// A record opened by [`RecordLayer13::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The epoch it was protected in.
    pub epoch: u64,
    /// Its full sequence number.
    pub sequence: u64,
    /// The inner content type.
    pub content_type: u8,
    /// The content.
    pub content: Vec<u8>,
}

/// The protected epochs of one association: the read keys of the epochs
/// still accepted (at most four: the handshake's 2, 3 and a KeyUpdate's
/// next), and the write keys of every epoch a retransmission may still
/// need (RFC 9147 §4.2.1: retransmit under the original epoch).
#[derive(Debug, Default)]
pub struct RecordLayer13 {
    read: Vec<ReadEpoch>,
    write: Vec<WriteEpoch>,
    /// Epoch-0 sequence number for DTLSPlaintext records.
    pub plaintext_seq: u64,
    /// Counters.
    pub stats: Record13Stats,
}

impl RecordLayer13 {
    /// No protected epochs yet.
    pub fn new() -> RecordLayer13 {
        RecordLayer13::default()
    }

    /// Installs read keys for `epoch`; the oldest is dropped past four.
    pub fn install_read(&mut self, epoch: u64, keys: EpochKeys) {
        self.read.retain(|r| r.epoch != epoch);
        self.read.push(ReadEpoch {
            epoch,
            keys,
            window: ReplayWindow::default(),
            next_expected: 0,
        });
        if self.read.len() > 4 {
            self.read.remove(0);
        }
    }

    /// Installs write keys for `epoch`, numbering from 0.
    pub fn install_write(&mut self, epoch: u64, keys: EpochKeys) {
        self.write.retain(|w| w.epoch != epoch);
        self.write.push(WriteEpoch {
            epoch,
            keys,
            next_seq: 0,
        });
        if self.write.len() > 4 {
            self.write.remove(0);
        }
    }

    /// Forgets the read keys of epochs below `epoch`.
    pub fn drop_read_below(&mut self, epoch: u64) {
        self.read.retain(|r| r.epoch >= epoch);
    }

    /// Whether write keys for `epoch` are installed.
    pub fn can_write(&self, epoch: u64) -> bool {
        self.write.iter().any(|w| w.epoch == epoch)
    }

    /// The highest epoch with read keys.
    pub fn read_epoch(&self) -> Option<u64> {
        self.read.iter().map(|r| r.epoch).max()
    }

    /// Whether a record with these epoch bits is of the epoch whose read
    /// keys come next (2 before any, else one above the highest), which
    /// are not installed yet: a record that may be held until they are
    /// (RFC 6347 §4.1: a receiver may buffer them).
    pub fn is_next_epoch(&self, bits: u8) -> bool {
        let next = self.read_epoch().map_or(2, |e| e + 1);
        u64::from(bits) == next & 3 && !self.read.iter().any(|r| r.epoch & 3 == u64::from(bits))
    }

    /// Appends a protected record in `epoch`; returns its sequence number.
    pub fn seal(
        &mut self,
        epoch: u64,
        content_type: u8,
        content: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<u64, Record13Error> {
        let w = self
            .write
            .iter_mut()
            .find(|w| w.epoch == epoch)
            .ok_or(Record13Error::UnknownEpoch((epoch & 3) as u8))?;
        if w.next_seq >= 1 << 48 {
            return Err(Record13Error::SequenceExhausted);
        }
        let seq = w.next_seq;
        w.next_seq += 1;
        w.keys.seal(epoch, seq, content_type, content, out);
        self.stats.sealed += 1;
        Ok(seq)
    }

    /// Deprotects one framed record: the newest epoch with matching low
    /// bits, the sequence number reconstructed, tag checked, then the
    /// replay window (§4.5.1: the window moves only after the tag
    /// verified). Every refusal is counted.
    pub fn open(&mut self, record: &UnifiedRecord<'_>) -> Result<Opened, Record13Error> {
        let bits = record.epoch_bits();
        let Some(r) = self
            .read
            .iter_mut()
            .filter(|r| r.epoch & 3 == u64::from(bits))
            .max_by_key(|r| r.epoch)
        else {
            self.stats.unknown_epoch += 1;
            return Err(Record13Error::UnknownEpoch(bits));
        };
        let low = r.keys.sequence_bits(record);
        let sequence = reconstruct_sequence(r.next_expected, low, 8 * record.seq_len() as u32);
        let (content_type, content) = match r.keys.open(record, sequence) {
            Ok(x) => x,
            Err(e) => {
                match e {
                    Record13Error::NoContentType => self.stats.no_content_type += 1,
                    _ => self.stats.auth_failures += 1,
                }
                return Err(e);
            }
        };
        if !r.window.check(sequence) {
            self.stats.replayed += 1;
            return Err(Record13Error::Replayed {
                epoch: r.epoch,
                sequence,
            });
        }
        r.window.record(sequence);
        r.next_expected = r.next_expected.max(sequence + 1);
        self.stats.opened += 1;
        Ok(Opened {
            epoch: r.epoch,
            sequence,
            content_type,
            content,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v13::key_schedule::Schedule;

    fn keys(suite: CipherSuite13, secret: u8) -> EpochKeys {
        let s = Schedule::dtls13(suite.hash());
        EpochKeys::new(
            suite,
            &s.traffic_keys(&vec![secret; suite.hash().output_len()], suite.key_len()),
        )
    }

    fn pair(suite: CipherSuite13) -> (RecordLayer13, RecordLayer13) {
        let (mut a, mut b) = (RecordLayer13::new(), RecordLayer13::new());
        a.install_write(2, keys(suite, 1));
        b.install_read(2, keys(suite, 1));
        (a, b)
    }

    const SUITES: [CipherSuite13; 3] = [
        CipherSuite13::Aes128GcmSha256,
        CipherSuite13::Aes256GcmSha384,
        CipherSuite13::Chacha20Poly1305Sha256,
    ];

    #[test]
    fn seal_then_open_round_trips_in_every_suite() {
        for suite in SUITES {
            let (mut a, mut b) = pair(suite);
            for i in 0..3u8 {
                let mut wire = Vec::new();
                a.seal(2, CONTENT_HANDSHAKE, &[i; 40], &mut wire).unwrap();
                assert_eq!(wire[0], 0x2e, "001 0 1 1 10: S and L set, epoch 2");
                assert_eq!(wire.len(), 5 + 40 + 1 + 16);
                let (rec, rest) = UnifiedRecord::parse(&wire).unwrap();
                assert!(rest.is_empty());
                let o = b.open(&rec).unwrap();
                assert_eq!((o.epoch, o.sequence, o.content_type), (2, u64::from(i), 22));
                assert_eq!(o.content, vec![i; 40]);
            }
        }
    }

    #[test]
    fn sequence_number_is_encrypted_on_the_wire() {
        let (mut a, _) = pair(CipherSuite13::Aes128GcmSha256);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..8 {
            let mut wire = Vec::new();
            a.seal(
                2,
                CONTENT_APPLICATION_DATA,
                b"same content, same length",
                &mut wire,
            )
            .unwrap();
            seen.insert([wire[1], wire[2]]);
        }
        // Plain numbers would be 0000..0007 with a constant first byte.
        assert!(seen.iter().any(|s| s[0] != 0), "{seen:?}");
        assert_eq!(seen.len(), 8);
    }

    #[test]
    fn tampered_record_fails_authentication_and_is_counted() {
        let (mut a, mut b) = pair(CipherSuite13::Aes128GcmSha256);
        let mut wire = Vec::new();
        a.seal(
            2,
            CONTENT_APPLICATION_DATA,
            b"hello world, a record",
            &mut wire,
        )
        .unwrap();
        let last = wire.len() - 1;
        wire[last] ^= 1;
        let (rec, _) = UnifiedRecord::parse(&wire).unwrap();
        assert_eq!(b.open(&rec), Err(Record13Error::AuthenticationFailed));
        assert_eq!(b.stats.auth_failures, 1);
        assert_eq!(b.stats.opened, 0);
    }

    #[test]
    fn replayed_record_is_refused_and_counted() {
        let (mut a, mut b) = pair(CipherSuite13::Chacha20Poly1305Sha256);
        let mut wire = Vec::new();
        a.seal(
            2,
            CONTENT_APPLICATION_DATA,
            b"only once please!!",
            &mut wire,
        )
        .unwrap();
        let (rec, _) = UnifiedRecord::parse(&wire).unwrap();
        assert!(b.open(&rec).is_ok());
        assert_eq!(
            b.open(&rec),
            Err(Record13Error::Replayed {
                epoch: 2,
                sequence: 0
            })
        );
        assert_eq!(b.stats.replayed, 1);
    }

    #[test]
    fn unknown_epoch_cid_and_short_records_are_refused() {
        let (mut a, mut b) = pair(CipherSuite13::Aes128GcmSha256);
        a.install_write(3, keys(CipherSuite13::Aes128GcmSha256, 9));
        let mut wire = Vec::new();
        a.seal(3, CONTENT_APPLICATION_DATA, b"epoch three data", &mut wire)
            .unwrap();
        let (rec, _) = UnifiedRecord::parse(&wire).unwrap();
        assert_eq!(b.open(&rec), Err(Record13Error::UnknownEpoch(3)));
        assert_eq!(b.stats.unknown_epoch, 1);
        assert_eq!(
            UnifiedRecord::parse(&[0x30, 0, 0]),
            Err(Record13Error::ConnectionIdNotNegotiated)
        );
        assert_eq!(
            UnifiedRecord::parse(&[0x2c, 0, 0, 0, 4, 1, 2, 3, 4]),
            Err(Record13Error::ShortCiphertext(4))
        );
        assert_eq!(
            UnifiedRecord::parse(&[0x2c, 0, 0, 0, 40]),
            Err(Record13Error::Truncated)
        );
        assert_eq!(
            UnifiedRecord::parse(&[0x16]),
            Err(Record13Error::NotUnifiedHeader(0x16))
        );
    }

    #[test]
    fn minimal_header_without_length_takes_the_rest_of_the_datagram() {
        let mut data = vec![0x22, 7];
        data.extend_from_slice(&[0u8; 20]);
        let (rec, rest) = UnifiedRecord::parse(&data).unwrap();
        assert_eq!(
            (rec.header.len(), rec.ciphertext.len(), rest.len()),
            (2, 20, 0)
        );
        assert_eq!((rec.seq_len(), rec.epoch_bits()), (1, 2));
    }

    #[test]
    fn several_records_in_one_datagram_and_reordering_within_the_window() {
        let (mut a, mut b) = pair(CipherSuite13::Aes256GcmSha384);
        let mut first = Vec::new();
        a.seal(2, CONTENT_HANDSHAKE, b"first record here", &mut first)
            .unwrap();
        let mut datagram = Vec::new();
        a.seal(2, CONTENT_HANDSHAKE, b"second record here", &mut datagram)
            .unwrap();
        a.seal(2, CONTENT_ACK, b"third record here!", &mut datagram)
            .unwrap();
        let (r2, rest) = UnifiedRecord::parse(&datagram).unwrap();
        let (r3, rest) = UnifiedRecord::parse(rest).unwrap();
        assert!(rest.is_empty());
        assert_eq!(b.open(&r3).unwrap().sequence, 2);
        assert_eq!(b.open(&r2).unwrap().sequence, 1);
        let (r1, _) = UnifiedRecord::parse(&first).unwrap();
        assert_eq!(b.open(&r1).unwrap().content, b"first record here");
    }

    #[test]
    fn sequence_reconstruction_picks_the_closest_value() {
        assert_eq!(reconstruct_sequence(0, 5, 8), 5);
        assert_eq!(reconstruct_sequence(0x1fe, 0x01, 8), 0x201);
        assert_eq!(reconstruct_sequence(0x201, 0xff, 8), 0x1ff);
        assert_eq!(reconstruct_sequence(0x12345, 0x2346, 16), 0x12346);
        assert_eq!(reconstruct_sequence(3, 0xfffe, 16), 0xfffe);
    }

    #[test]
    fn sixteen_bit_wrap_is_followed_across_many_records() {
        let (mut a, mut b) = pair(CipherSuite13::Aes128GcmSha256);
        for i in 0..70_000u64 {
            let mut wire = Vec::new();
            a.seal(2, CONTENT_APPLICATION_DATA, b"x", &mut wire)
                .unwrap();
            if i % 997 == 0 || i > 65_530 && i < 65_545 {
                let (rec, _) = UnifiedRecord::parse(&wire).unwrap();
                assert_eq!(b.open(&rec).unwrap().sequence, i);
            }
        }
    }
}

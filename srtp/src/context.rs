//! An SRTP/SRTCP cryptographic context for one direction (RFC 3711 §3.2):
//! session keys derived once, per-SSRC state created on first use, packets
//! protected and unprotected in place.

use crate::kdf::{self, derive};
use crate::profile::{MasterKey, Profile};
use crate::replay::ReplayWindow;
use crate::SrtpError;
use aes::cipher::{InnerIvInit, KeyInit, StreamCipher};
use aes::Aes128;
use hmac::{Hmac, Mac};
use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use sha1::Sha1;

type Ctr = ctr::Ctr128BE<Aes128>;

/// Settings of a [`Context`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Replay window in packets (RFC 3711 §3.3.2 asks for at least 64;
    /// browsers use 1024 so that late retransmissions are not refused).
    pub replay_window: u64,
    /// Most SSRCs tracked; a packet of a further SSRC is refused. Streams
    /// are only created by authenticated packets.
    pub max_streams: usize,
    /// Sending: allow protecting a packet index again. Off by default, as in
    /// libsrtp: the same index with other bytes reuses the AES-CM keystream
    /// and, worse, the AES-GCM nonce (which gives away the authentication
    /// key). Turn it on only to resend byte-identical packets (NACK without
    /// RTX).
    pub allow_repeat_tx: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            replay_window: 1024,
            max_streams: 128,
            allow_repeat_tx: false,
        }
    }
}

/// The transform of one of RTP or RTCP.
// Built once per context and never moved per packet: boxing the larger
// variant would only add an indirection on the hot path.
#[allow(clippy::large_enum_variant)]
enum Cipher {
    /// AES-128 counter mode with HMAC-SHA1 (RFC 3711 §4.1.1, §4.2.1). The
    /// AES key is expanded and the HMAC pads are hashed here, once.
    Cm {
        aes: Aes128,
        hmac: Hmac<Sha1>,
        salt: [u8; 14],
        tag_len: usize,
    },
    /// AES-GCM (RFC 7714).
    Gcm { key: LessSafeKey, salt: [u8; 12] },
}

impl Cipher {
    fn new(master: &MasterKey, labels: [u8; 3], tag_len: usize) -> Cipher {
        let p = master.profile();
        if p.is_aead() {
            let mut k = [0u8; 32];
            let klen = p.master_key_len();
            derive(master, labels[0], &mut k[..klen]);
            let mut salt = [0u8; 12];
            derive(master, labels[2], &mut salt);
            let alg = if klen == 32 {
                &aead::AES_256_GCM
            } else {
                &aead::AES_128_GCM
            };
            let key = match UnboundKey::new(alg, &k[..klen]) {
                Ok(k) => LessSafeKey::new(k),
                Err(_) => unreachable!("the key length matches the algorithm"),
            };
            Cipher::Gcm { key, salt }
        } else {
            let mut ke = [0u8; 16];
            derive(master, labels[0], &mut ke);
            let mut ka = [0u8; 20];
            derive(master, labels[1], &mut ka);
            let mut salt = [0u8; 14];
            derive(master, labels[2], &mut salt);
            let hmac = match <Hmac<Sha1> as Mac>::new_from_slice(&ka) {
                Ok(h) => h,
                Err(_) => unreachable!("HMAC takes keys of every length"),
            };
            Cipher::Cm {
                aes: Aes128::new(&ke.into()),
                hmac,
                salt,
                tag_len,
            }
        }
    }

    /// AES-CM keystream over `data` for (SSRC, 48-bit index) (§4.1.1):
    /// IV = (salt × 2^16) XOR (SSRC × 2^64) XOR (index × 2^16).
    fn cm_apply(aes: &Aes128, salt: &[u8; 14], ssrc: u32, index: u64, data: &mut [u8]) {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(salt);
        for (b, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *b ^= s;
        }
        for (b, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *b ^= s;
        }
        let mut c = Ctr::from_core(ctr::CtrCore::inner_iv_init(aes.clone(), &iv.into()));
        c.apply_keystream(data);
    }

    /// GCM nonce: salt XOR (0x0000 || SSRC || `mid` || `low`) (RFC 7714
    /// §8.1 for RTP with ROC and SEQ, §9.1 for RTCP with the SRTCP index).
    fn gcm_nonce(salt: &[u8; 12], ssrc: u32, mid: &[u8], low: &[u8]) -> Nonce {
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
        let start = 12 - low.len() - mid.len();
        iv[start..start + mid.len()].copy_from_slice(mid);
        iv[12 - low.len()..].copy_from_slice(low);
        for (b, s) in iv.iter_mut().zip(salt) {
            *b ^= s;
        }
        Nonce::assume_unique_for_key(iv)
    }
}

/// Constant-time comparison of a computed tag with a received one.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// RTP state of one SSRC: the highest sequence number and its rollover
/// counter (§3.3.1), and on the receive side the replay window.
#[derive(Debug, Clone)]
struct RtpStream {
    roc: u32,
    s_l: u16,
    window: Option<ReplayWindow>,
}

/// SRTCP state of one SSRC: the next index to send, or the receive window.
#[derive(Debug, Clone)]
struct RtcpStream {
    next_index: u32,
    window: Option<ReplayWindow>,
}

/// The packet index estimate of RFC 3711 §3.3.1: the ROC guess `v` for a
/// sequence number given the highest one seen (`s_l`) and its ROC. `None`
/// when the guess would be ROC − 1 below zero (a packet from before the
/// stream started).
fn estimate(roc: u32, s_l: u16, seq: u16) -> Option<(u32, u64)> {
    let v = if s_l < 32768 {
        if seq as i32 - s_l as i32 > 32768 {
            roc.checked_sub(1)?
        } else {
            roc
        }
    } else if (s_l as i32 - 32768) > seq as i32 {
        roc.wrapping_add(1)
    } else {
        roc
    };
    Some((v, ((v as u64) << 16) | seq as u64))
}

/// The sender SSRC of an RTCP packet that must be at least `needed` bytes
/// long and of version 2 (RFC 3550 §6.4).
fn rtcp_ssrc(pkt: &[u8], needed: usize) -> Result<u32, SrtpError> {
    if pkt.len() < needed {
        return Err(SrtpError::TooShort {
            needed,
            got: pkt.len(),
        });
    }
    let version = pkt[0] >> 6;
    if version != 2 {
        return Err(SrtpError::BadVersion(version));
    }
    Ok(u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]))
}

/// Length of the RTP header (fixed part, CSRCs, extension) in `pkt`.
fn rtp_header_len(pkt: &[u8]) -> Result<usize, SrtpError> {
    if pkt.len() < 12 {
        return Err(SrtpError::TooShort {
            needed: 12,
            got: pkt.len(),
        });
    }
    let version = pkt[0] >> 6;
    if version != 2 {
        return Err(SrtpError::BadVersion(version));
    }
    let mut len = 12 + 4 * (pkt[0] & 0x0f) as usize;
    if pkt[0] & 0x10 != 0 {
        if pkt.len() < len + 4 {
            return Err(SrtpError::TooShort {
                needed: len + 4,
                got: pkt.len(),
            });
        }
        let words = u16::from_be_bytes([pkt[len + 2], pkt[len + 3]]) as usize;
        len += 4 + 4 * words;
    }
    if pkt.len() < len {
        return Err(SrtpError::TooShort {
            needed: len,
            got: pkt.len(),
        });
    }
    Ok(len)
}

/// Per-SSRC state in a small vector: a context holds a handful of SSRCs
/// (a media stream, its RTX, perhaps audio), for which a linear search is
/// faster than hashing (SipHash cost more than the rest of a GCM packet's
/// bookkeeping; BENCHMARKS.md). The last stream used is checked first.
#[derive(Debug, Clone)]
struct Streams<V> {
    items: Vec<(u32, V)>,
    last: usize,
}

impl<V> Streams<V> {
    fn new() -> Self {
        Streams {
            items: Vec::new(),
            last: 0,
        }
    }

    fn position(&self, ssrc: u32) -> Option<usize> {
        if self.items.get(self.last).is_some_and(|(s, _)| *s == ssrc) {
            return Some(self.last);
        }
        self.items.iter().position(|(s, _)| *s == ssrc)
    }

    fn get(&self, ssrc: u32) -> Option<&V> {
        self.position(ssrc).map(|i| &self.items[i].1)
    }

    /// The stream of `ssrc`, created with `make` if there is room.
    fn get_or_insert(
        &mut self,
        ssrc: u32,
        max: usize,
        make: impl FnOnce() -> V,
    ) -> Result<&mut V, SrtpError> {
        let i = match self.position(ssrc) {
            Some(i) => i,
            None => {
                if self.items.len() >= max {
                    return Err(SrtpError::TooManyStreams(max));
                }
                self.items.push((ssrc, make()));
                self.items.len() - 1
            }
        };
        self.last = i;
        Ok(&mut self.items[i].1)
    }

    fn has_room_for(&self, ssrc: u32, max: usize) -> Result<(), SrtpError> {
        if self.position(ssrc).is_none() && self.items.len() >= max {
            return Err(SrtpError::TooManyStreams(max));
        }
        Ok(())
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

/// A cryptographic context for one direction of one SRTP session: use one
/// to protect what you send and another to unprotect what you receive.
pub struct Context {
    profile: Profile,
    config: Config,
    rtp: Cipher,
    rtcp: Cipher,
    rtp_streams: Streams<RtpStream>,
    rtcp_streams: Streams<RtcpStream>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("profile", &self.profile)
            .field("rtp_streams", &self.rtp_streams.len())
            .field("rtcp_streams", &self.rtcp_streams.len())
            .finish()
    }
}

impl Context {
    /// Derives the session keys from a master key.
    pub fn new(master: &MasterKey, config: Config) -> Context {
        let p = master.profile();
        Context {
            profile: p,
            config,
            rtp: Cipher::new(
                master,
                [
                    kdf::LABEL_RTP_ENCRYPTION,
                    kdf::LABEL_RTP_AUTH,
                    kdf::LABEL_RTP_SALT,
                ],
                p.rtp_tag_len(),
            ),
            rtcp: Cipher::new(
                master,
                [
                    kdf::LABEL_RTCP_ENCRYPTION,
                    kdf::LABEL_RTCP_AUTH,
                    kdf::LABEL_RTCP_SALT,
                ],
                p.rtcp_tag_len(),
            ),
            rtp_streams: Streams::new(),
            rtcp_streams: Streams::new(),
        }
    }

    /// A GCM context from session keys, for RFC 7714's vectors (which
    /// skip the KDF).
    #[cfg(test)]
    pub(crate) fn from_gcm_session_keys(profile: Profile, key: &[u8], salt: [u8; 12]) -> Context {
        let alg = if key.len() == 32 {
            &aead::AES_256_GCM
        } else {
            &aead::AES_128_GCM
        };
        let mk = || Cipher::Gcm {
            key: LessSafeKey::new(UnboundKey::new(alg, key).unwrap()),
            salt,
        };
        Context {
            profile,
            config: Config::default(),
            rtp: mk(),
            rtcp: mk(),
            rtp_streams: Streams::new(),
            rtcp_streams: Streams::new(),
        }
    }

    /// Sets the next SRTCP index of an SSRC (tests and fuzz targets).
    #[cfg(any(test, fuzzing))]
    pub(crate) fn set_srtcp_index(&mut self, ssrc: u32, index: u32) {
        if let Ok(st) = self
            .rtcp_streams
            .get_or_insert(ssrc, usize::MAX, || RtcpStream {
                next_index: 0,
                window: None,
            })
        {
            st.next_index = index;
        }
    }

    /// AES-CM keystream for tests of §4.1.1.
    #[cfg(test)]
    pub(crate) fn cm_keystream(
        key: [u8; 16],
        salt: [u8; 14],
        ssrc: u32,
        index: u64,
        out: &mut [u8],
    ) {
        Cipher::cm_apply(&Aes128::new(&key.into()), &salt, ssrc, index, out)
    }

    /// The profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The rollover counter of an SSRC's RTP stream, if it has one.
    pub fn roc(&self, ssrc: u32) -> Option<u32> {
        self.rtp_streams.get(ssrc).map(|s| s.roc)
    }

    /// Protects the RTP packet in `pkt` in place: encrypts the payload and
    /// appends the tag (`pkt` needs `rtp_tag_len` bytes of spare capacity
    /// to avoid a reallocation).
    pub fn protect_rtp(&mut self, pkt: &mut Vec<u8>) -> Result<(), SrtpError> {
        let hlen = rtp_header_len(pkt)?;
        let seq = u16::from_be_bytes([pkt[2], pkt[3]]);
        let ssrc = u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]);
        let st = self
            .rtp_streams
            .get_or_insert(ssrc, self.config.max_streams, || RtpStream {
                roc: 0,
                s_l: seq,
                window: None,
            })?;
        // The sender's ROC: the same estimate as a receiver's, so a packet
        // resent with an old sequence number keeps its index.
        let (roc, index) = estimate(st.roc, st.s_l, seq).unwrap_or((0, seq as u64));
        // Refuse to use an index twice (or one older than the window, whose
        // use we cannot know), before anything changes.
        if let Some(Err(e)) = st.window.as_ref().map(|w| w.check(index)) {
            let repeat = matches!(e, SrtpError::Replayed(_));
            if !(repeat && self.config.allow_repeat_tx) {
                return Err(e);
            }
        }
        ReplayWindow::record(&mut st.window, self.config.replay_window, index);
        if index > ((st.roc as u64) << 16 | st.s_l as u64) {
            st.roc = roc;
            st.s_l = seq;
        }
        match &self.rtp {
            Cipher::Cm {
                aes,
                hmac,
                salt,
                tag_len,
            } => {
                Cipher::cm_apply(aes, salt, ssrc, index, &mut pkt[hlen..]);
                let mut mac = hmac.clone();
                mac.update(pkt);
                mac.update(&roc.to_be_bytes());
                let tag = mac.finalize().into_bytes();
                pkt.extend_from_slice(&tag[..*tag_len]);
            }
            Cipher::Gcm { key, salt } => {
                let nonce = Cipher::gcm_nonce(salt, ssrc, &roc.to_be_bytes(), &seq.to_be_bytes());
                let (head, payload) = pkt.split_at_mut(hlen);
                let tag = key
                    .seal_in_place_separate_tag(nonce, Aad::from(&*head), payload)
                    .map_err(|_| SrtpError::TooShort { needed: 0, got: 0 })?;
                pkt.extend_from_slice(tag.as_ref());
            }
        }
        Ok(())
    }

    /// Unprotects the SRTP packet in `pkt` in place: checks the replay
    /// window and the tag, decrypts, removes the tag. On error the context
    /// is unchanged (a forged packet moves neither the ROC nor the window
    /// and creates no stream); for AES-CM the buffer is unchanged too, for
    /// GCM its payload bytes are unspecified.
    pub fn unprotect_rtp(&mut self, pkt: &mut Vec<u8>) -> Result<(), SrtpError> {
        let tag_len = self.profile.rtp_tag_len();
        if pkt.len() < 12 + tag_len {
            return Err(SrtpError::TooShort {
                needed: 12 + tag_len,
                got: pkt.len(),
            });
        }
        let body = pkt.len() - tag_len;
        let hlen = rtp_header_len(&pkt[..body])?;
        let seq = u16::from_be_bytes([pkt[2], pkt[3]]);
        let ssrc = u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]);
        let known = self.rtp_streams.get(ssrc);
        let (roc, index) = match known {
            Some(st) => estimate(st.roc, st.s_l, seq).ok_or(SrtpError::TooOld(seq as u64))?,
            None => {
                self.rtp_streams
                    .has_room_for(ssrc, self.config.max_streams)?;
                (0, seq as u64)
            }
        };
        if let Some(w) = known.and_then(|s| s.window.as_ref()) {
            w.check(index)?;
        }
        match &self.rtp {
            Cipher::Cm {
                aes,
                hmac,
                salt,
                tag_len,
            } => {
                let mut mac = hmac.clone();
                mac.update(&pkt[..body]);
                mac.update(&roc.to_be_bytes());
                let tag = mac.finalize().into_bytes();
                if !ct_eq(&tag[..*tag_len], &pkt[body..]) {
                    return Err(SrtpError::AuthFailed);
                }
                Cipher::cm_apply(aes, salt, ssrc, index, &mut pkt[hlen..body]);
            }
            Cipher::Gcm { key, salt } => {
                let nonce = Cipher::gcm_nonce(salt, ssrc, &roc.to_be_bytes(), &seq.to_be_bytes());
                let (head, rest) = pkt.split_at_mut(hlen);
                key.open_in_place(nonce, Aad::from(&*head), rest)
                    .map_err(|_| SrtpError::AuthFailed)?;
            }
        }
        pkt.truncate(body);
        let window = self.config.replay_window;
        let st = self
            .rtp_streams
            .get_or_insert(ssrc, usize::MAX, || RtpStream {
                roc,
                s_l: seq,
                window: None,
            })?;
        ReplayWindow::record(&mut st.window, window, index);
        if index >= ((st.roc as u64) << 16 | st.s_l as u64) {
            st.roc = roc;
            st.s_l = seq;
        }
        Ok(())
    }

    /// Protects the RTCP compound packet in `pkt` in place (RFC 3711 §3.4):
    /// encrypts everything after the first 8 bytes, appends E || SRTCP
    /// index and the tag (AES-CM), or the tag then E || index (GCM,
    /// RFC 7714 §9).
    pub fn protect_rtcp(&mut self, pkt: &mut Vec<u8>) -> Result<(), SrtpError> {
        let ssrc = rtcp_ssrc(pkt, 8)?;
        let st = self
            .rtcp_streams
            .get_or_insert(ssrc, self.config.max_streams, || RtcpStream {
                next_index: 0,
                window: None,
            })?;
        let index = st.next_index;
        if index > 0x7fff_ffff {
            return Err(SrtpError::IndexExhausted);
        }
        st.next_index += 1;
        let e_index = (0x8000_0000 | index).to_be_bytes();
        match &self.rtcp {
            Cipher::Cm {
                aes,
                hmac,
                salt,
                tag_len,
            } => {
                Cipher::cm_apply(aes, salt, ssrc, index as u64, &mut pkt[8..]);
                pkt.extend_from_slice(&e_index);
                let mut mac = hmac.clone();
                mac.update(pkt);
                let tag = mac.finalize().into_bytes();
                pkt.extend_from_slice(&tag[..*tag_len]);
            }
            Cipher::Gcm { key, salt } => {
                let nonce = Cipher::gcm_nonce(salt, ssrc, &[0, 0], &index.to_be_bytes());
                let mut aad = [0u8; 12];
                aad[..8].copy_from_slice(&pkt[..8]);
                aad[8..].copy_from_slice(&e_index);
                let tag = key
                    .seal_in_place_separate_tag(nonce, Aad::from(aad), &mut pkt[8..])
                    .map_err(|_| SrtpError::TooShort { needed: 0, got: 0 })?;
                pkt.extend_from_slice(tag.as_ref());
                pkt.extend_from_slice(&e_index);
            }
        }
        Ok(())
    }

    /// Unprotects the SRTCP packet in `pkt` in place. On error the context
    /// is unchanged.
    pub fn unprotect_rtcp(&mut self, pkt: &mut Vec<u8>) -> Result<(), SrtpError> {
        let tag_len = self.profile.rtcp_tag_len();
        let ssrc = rtcp_ssrc(pkt, 8 + 4 + tag_len)?;
        // Where E || index sits: before the tag (AES-CM), after it (GCM).
        let idx_at = if self.profile.is_aead() {
            pkt.len() - 4
        } else {
            pkt.len() - tag_len - 4
        };
        let word = u32::from_be_bytes([
            pkt[idx_at],
            pkt[idx_at + 1],
            pkt[idx_at + 2],
            pkt[idx_at + 3],
        ]);
        let (encrypted, index) = (word & 0x8000_0000 != 0, word & 0x7fff_ffff);
        match self.rtcp_streams.get(ssrc).and_then(|s| s.window.as_ref()) {
            Some(w) => w.check(index as u64)?,
            None => self
                .rtcp_streams
                .has_room_for(ssrc, self.config.max_streams)?,
        }
        let plain_len = pkt.len() - tag_len - 4;
        match &self.rtcp {
            Cipher::Cm {
                aes,
                hmac,
                salt,
                tag_len,
            } => {
                let body = pkt.len() - tag_len;
                let mut mac = hmac.clone();
                mac.update(&pkt[..body]);
                let tag = mac.finalize().into_bytes();
                if !ct_eq(&tag[..*tag_len], &pkt[body..]) {
                    return Err(SrtpError::AuthFailed);
                }
                if encrypted {
                    Cipher::cm_apply(aes, salt, ssrc, index as u64, &mut pkt[8..plain_len]);
                }
            }
            Cipher::Gcm { key, salt } => {
                let nonce = Cipher::gcm_nonce(salt, ssrc, &[0, 0], &index.to_be_bytes());
                let e_index = word.to_be_bytes();
                if encrypted {
                    let mut aad = [0u8; 12];
                    aad[..8].copy_from_slice(&pkt[..8]);
                    aad[8..].copy_from_slice(&e_index);
                    key.open_in_place(nonce, Aad::from(aad), &mut pkt[8..idx_at])
                        .map_err(|_| SrtpError::AuthFailed)?;
                } else {
                    // RFC 7714 §9.2: unencrypted SRTCP authenticates the
                    // whole packet as AAD; only the tag is "ciphertext".
                    let mut aad = Vec::with_capacity(plain_len + 4);
                    aad.extend_from_slice(&pkt[..plain_len]);
                    aad.extend_from_slice(&e_index);
                    key.open_in_place(nonce, Aad::from(aad), &mut pkt[plain_len..idx_at])
                        .map_err(|_| SrtpError::AuthFailed)?;
                }
            }
        }
        pkt.truncate(plain_len);
        let window = self.config.replay_window;
        let st = self
            .rtcp_streams
            .get_or_insert(ssrc, usize::MAX, || RtcpStream {
                next_index: 0,
                window: None,
            })?;
        ReplayWindow::record(&mut st.window, window, index as u64);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_estimation_follows_rfc_3711_3_3_1() {
        // Normal progression.
        assert_eq!(estimate(0, 100, 101), Some((0, 101)));
        // Wrap forward: highest near the top, a small sequence number.
        assert_eq!(estimate(0, 65_530, 3), Some((1, 65_536 + 3)));
        // A late packet from before the wrap.
        assert_eq!(estimate(1, 5, 65_534), Some((0, 65_534)));
        // ... which cannot exist at the very start of a stream.
        assert_eq!(estimate(0, 5, 65_534), None);
        // Far ahead but same ROC.
        assert_eq!(estimate(3, 40_000, 10_000), Some((3, (3 << 16) + 10_000)));
    }

    #[test]
    fn header_length_counts_csrcs_and_extensions() {
        let mut p = vec![0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(rtp_header_len(&p), Ok(12));
        p[0] = 0x92; // X=1, CC=2
        p.extend_from_slice(&[0; 8]); // two CSRCs
        p.extend_from_slice(&[0xBE, 0xDE, 0, 1, 1, 2, 3, 4]);
        assert_eq!(rtp_header_len(&p), Ok(12 + 8 + 8));
        p.truncate(25);
        assert!(matches!(
            rtp_header_len(&p),
            Err(SrtpError::TooShort { .. })
        ));
        assert_eq!(rtp_header_len(&[0x40; 12]), Err(SrtpError::BadVersion(1)));
    }
}

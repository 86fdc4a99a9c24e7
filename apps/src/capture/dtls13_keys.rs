//! DTLS 1.3 record keys from a key log (issue 21), so `meshrtc decode`
//! can show what the protected records of a 1.3 capture carry: the
//! EncryptedExtensions, Certificate, CertificateVerify and Finished, the
//! ACKs (RFC 9147 §7), alerts and the application data.
//!
//! The key log gives the traffic secrets by client random (NSS format:
//! `CLIENT_HANDSHAKE_TRAFFIC_SECRET`, `SERVER_HANDSHAKE_TRAFFIC_SECRET`
//! for epoch 2, `CLIENT_TRAFFIC_SECRET_0`, `SERVER_TRAFFIC_SECRET_0` for
//! epoch 3, and `EXPORTER_SECRET`); the capture's hellos give the client
//! random, the addresses and the suite. Each secret gives its direction's
//! key, iv and record number key through `HKDF-Expand-Label` with the
//! `"dtls13"` prefix (RFC 8446 §7.3, RFC 9147 §5.9 and §4.2.3), computed by
//! `meshrtc-dtls`'s own 1.3 key schedule and record layer.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use meshrtc_dtls::v13::key_schedule::Schedule;
use meshrtc_dtls::v13::record::{
    reconstruct_sequence, CipherSuite13, EpochKeys, Record13Error, UnifiedRecord,
};

use meshrtc_dtls::handshake::fragments;
use meshrtc_dtls::hello::ext;
use meshrtc_dtls::messages::parse_use_srtp_answer;
use meshrtc_dtls::record::{Record, RecordError};
use meshrtc_dtls::v13::messages::{msg, parse_encrypted_extensions};
use meshrtc_srtp::{split_keying_material, Profile};

use super::keylog_srtp::HelloScan;
use super::srtp_comment::{unhex, ConnectionKeys};

/// The 1.3 secrets a key log holds for one client random.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets13 {
    /// client_handshake_traffic_secret (epoch 2, client to server).
    pub client_handshake: Option<Vec<u8>>,
    /// server_handshake_traffic_secret (epoch 2, server to client).
    pub server_handshake: Option<Vec<u8>>,
    /// client_application_traffic_secret_0 (epoch 3).
    pub client_application: Option<Vec<u8>>,
    /// server_application_traffic_secret_0 (epoch 3).
    pub server_application: Option<Vec<u8>>,
    /// exporter_master_secret (RFC 8446 §7.5).
    pub exporter: Option<Vec<u8>>,
}

/// The 1.3 secrets of a key log, by client random. Lines with another
/// label, or a random or secret that is not hex of the right length
/// (32 bytes; 32 or 48 for a secret), are skipped.
pub fn traffic_secrets(key_log: &str) -> HashMap<[u8; 32], Secrets13> {
    let mut m: HashMap<[u8; 32], Secrets13> = HashMap::new();
    for line in key_log.lines() {
        let mut f = line.split_ascii_whitespace();
        let (Some(label), Some(cr), Some(secret)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let Some(cr) = unhex(cr).and_then(|v| <[u8; 32]>::try_from(v).ok()) else {
            continue;
        };
        let Some(secret) = unhex(secret).filter(|s| s.len() == 32 || s.len() == 48) else {
            continue;
        };
        let entry = m.entry(cr).or_default();
        let slot = match label {
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => &mut entry.client_handshake,
            "SERVER_HANDSHAKE_TRAFFIC_SECRET" => &mut entry.server_handshake,
            "CLIENT_TRAFFIC_SECRET_0" => &mut entry.client_application,
            "SERVER_TRAFFIC_SECRET_0" => &mut entry.server_application,
            "EXPORTER_SECRET" => &mut entry.exporter,
            _ => continue,
        };
        *slot = Some(secret);
    }
    m.retain(|_, s| *s != Secrets13::default());
    m
}

/// One 1.3 association's secrets, matched to its addresses by the
/// client random of the captured ClientHello.
#[derive(Debug, Clone)]
pub struct Dtls13Keys {
    /// The client's address.
    pub client: SocketAddr,
    /// The server's address.
    pub server: SocketAddr,
    /// The suite the ServerHello chose.
    pub suite: CipherSuite13,
    /// The secrets.
    pub secrets: Arc<Secrets13>,
}

impl Dtls13Keys {
    /// The keys for a datagram from `src` to `dst`, if it belongs here:
    /// the sender's epoch 2 and 3 keys.
    pub fn for_packet(&self, src: SocketAddr, dst: SocketAddr) -> Option<Dtls13Direction> {
        let s = &self.secrets;
        let (hs, ap) = if (src, dst) == (self.client, self.server) {
            (&s.client_handshake, &s.client_application)
        } else if (src, dst) == (self.server, self.client) {
            (&s.server_handshake, &s.server_application)
        } else {
            return None;
        };
        let schedule = Schedule::dtls13(self.suite.hash());
        let epochs = [(2, hs), (3, ap)]
            .into_iter()
            .filter_map(|(epoch, secret)| {
                let keys = schedule.traffic_keys(secret.as_ref()?, self.suite.key_len());
                Some(Epoch13 {
                    epoch,
                    keys: Arc::new(EpochKeys::new(self.suite, &keys)),
                    next_expected: 0,
                })
            })
            .collect();
        Some(Dtls13Direction { epochs })
    }
}

/// The 1.3 associations of `scan` whose secrets `secrets` has.
pub fn dtls13_keys(scan: &HelloScan, secrets: &HashMap<[u8; 32], Secrets13>) -> Vec<Dtls13Keys> {
    scan.associations13()
        .filter_map(|(client, server, cr, suite)| {
            let s = secrets.get(&cr)?;
            Some(Dtls13Keys {
                client,
                server,
                suite,
                secrets: Arc::new(s.clone()),
            })
        })
        .collect()
}

/// One record of a datagram that may mix DTLSPlaintext (epoch 0, RFC
/// 9147 §4: the 1.2 header) and protected records (the unified header).
#[derive(Debug, Clone, Copy)]
pub enum AnyRecord<'a> {
    /// A record with the 13-byte DTLSPlaintext/DTLSCiphertext header.
    Plain(Record<'a>),
    /// A DTLS 1.3 protected record.
    Unified(UnifiedRecord<'a>),
}

/// Why the rest of a datagram could not be framed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError13 {
    /// A record with the 13-byte header.
    #[error("{0}")]
    Plain(#[from] RecordError),
    /// A unified header.
    #[error("DTLS 1.3 record: {0}")]
    Unified(#[from] Record13Error),
}

/// The records of a datagram in order; after an error, nothing more.
pub fn any_records(datagram: &[u8]) -> Vec<Result<AnyRecord<'_>, FrameError13>> {
    let mut out = Vec::new();
    let mut rest = datagram;
    while let Some(&first) = rest.first() {
        let framed = if UnifiedRecord::is_unified(first) {
            UnifiedRecord::parse(rest)
                .map(|(r, after)| (AnyRecord::Unified(r), after))
                .map_err(FrameError13::from)
        } else {
            Record::parse(rest)
                .map(|(r, after)| (AnyRecord::Plain(r), after))
                .map_err(FrameError13::from)
        };
        match framed {
            Ok((r, after)) => {
                out.push(Ok(r));
                rest = after;
            }
            Err(e) => {
                out.push(Err(e));
                break;
            }
        }
    }
    out
}

/// The SRTP keys of a 1.3 association (RFC 5764 §4.2 on RFC 8446 §7.5):
/// the profile from `use_srtp` in the server's EncryptedExtensions, read
/// from the server's datagrams `from_server` (in capture order) with the
/// epoch 2 keys; the keying material `HKDF-Expand-Label(Derive-Secret(
/// exporter_master_secret, "EXTRACTOR-dtls_srtp", ""), "exporter",
/// Hash(""), L)` with the `"dtls13"` prefix, split into the client's and
/// the server's key and salt.
pub fn srtp_keys13<'a>(
    k: &Dtls13Keys,
    from_server: impl IntoIterator<Item = &'a [u8]>,
) -> Option<ConnectionKeys> {
    let exporter = k.secrets.exporter.as_ref()?;
    let mut dir = k.for_packet(k.server, k.client)?;
    let profile = from_server.into_iter().find_map(|d| {
        any_records(d).into_iter().find_map(|r| {
            let Ok(AnyRecord::Unified(u)) = r else {
                return None;
            };
            let o = dir.open(&u).ok()?;
            if o.content_type != meshrtc_dtls::v13::record::CONTENT_HANDSHAKE {
                return None;
            }
            let profile = fragments(&o.content).find_map(|f| {
                let f = f.ok()?;
                if f.msg_type.as_u8() != msg::ENCRYPTED_EXTENSIONS || !f.is_whole() {
                    return None;
                }
                let exts = parse_encrypted_extensions(f.body).ok()?;
                let (_, d) = exts.iter().find(|(t, _)| *t == ext::USE_SRTP)?;
                let (p, _) = parse_use_srtp_answer(d).ok()?;
                Profile::from_dtls_id(p)
            });
            profile
        })
    })?;
    let material = Schedule::dtls13(k.suite.hash()).export(
        exporter,
        b"EXTRACTOR-dtls_srtp",
        b"",
        profile.keying_material_len(),
    );
    let (c, s) = split_keying_material(profile, &material).ok()?;
    Some(ConnectionKeys {
        local: k.client,
        remote: k.server,
        local_sends: c,
        remote_sends: s,
    })
}

#[derive(Debug, Clone)]
struct Epoch13 {
    epoch: u64,
    keys: Arc<EpochKeys>,
    /// One past the highest sequence number opened, for RFC 9147
    /// §4.2.2's reconstruction.
    next_expected: u64,
}

/// The read keys of one direction of a 1.3 association, carried from
/// datagram to datagram of a capture.
#[derive(Debug, Clone)]
pub struct Dtls13Direction {
    epochs: Vec<Epoch13>,
}

/// A record opened with the key log's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened13 {
    /// Its epoch.
    pub epoch: u64,
    /// Its full sequence number (decrypted, RFC 9147 §4.2.3, and
    /// reconstructed, §4.2.2).
    pub sequence: u64,
    /// The inner content type (RFC 8446 §5.2).
    pub content_type: u8,
    /// The content, without the type and padding.
    pub content: Vec<u8>,
}

/// Why a protected record could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Open13Error {
    /// The key log has no secret for an epoch with these low bits (epochs
    /// after a KeyUpdate are not followed).
    #[error("the key log has no secret for epoch bits {0}")]
    NoKeys(u8),
    /// The keys did not open it: tampered, or not this association's.
    #[error("epoch {epoch} sequence {sequence}: {source}")]
    Refused {
        /// The epoch tried.
        epoch: u64,
        /// The sequence number its encrypted bits gave.
        sequence: u64,
        /// What the record layer said.
        source: Record13Error,
    },
}

impl Dtls13Direction {
    /// Opens one framed record: the epoch from its low bits, the sequence
    /// number decrypted and reconstructed, the AEAD checked. A capture
    /// may hold retransmissions: there is no replay window here.
    pub fn open(&mut self, record: &UnifiedRecord<'_>) -> Result<Opened13, Open13Error> {
        let bits = record.epoch_bits();
        let e = self
            .epochs
            .iter_mut()
            .find(|e| e.epoch & 3 == u64::from(bits))
            .ok_or(Open13Error::NoKeys(bits))?;
        let low = e.keys.sequence_bits(record);
        let sequence = reconstruct_sequence(e.next_expected, low, 8 * record.seq_len() as u32);
        let (content_type, content) =
            e.keys
                .open(record, sequence)
                .map_err(|source| Open13Error::Refused {
                    epoch: e.epoch,
                    sequence,
                    source,
                })?;
        e.next_expected = e.next_expected.max(sequence + 1);
        Ok(Opened13 {
            epoch: e.epoch,
            sequence,
            content_type,
            content,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_traffic_secrets_and_the_exporter_are_read_by_client_random() {
        let cr = "ab".repeat(32);
        let log = format!(
            "CLIENT_RANDOM {cr} {}\nCLIENT_HANDSHAKE_TRAFFIC_SECRET {cr} {}\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {cr} {}\nCLIENT_TRAFFIC_SECRET_0 {cr} {}\n\
             SERVER_TRAFFIC_SECRET_0 {cr} {}\nEXPORTER_SECRET {cr} {}\n\
             SERVER_TRAFFIC_SECRET_0 short {}\nCLIENT_TRAFFIC_SECRET_0 {cr} 0102\n",
            "cd".repeat(48),
            "01".repeat(32),
            "02".repeat(32),
            "03".repeat(48),
            "04".repeat(32),
            "05".repeat(32),
            "06".repeat(32),
        );
        let m = traffic_secrets(&log);
        assert_eq!(m.len(), 1);
        let s = &m[&[0xab; 32]];
        assert_eq!(s.client_handshake, Some(vec![1; 32]));
        assert_eq!(s.server_handshake, Some(vec![2; 32]));
        assert_eq!(s.client_application, Some(vec![3; 48]));
        assert_eq!(s.server_application, Some(vec![4; 32]));
        assert_eq!(s.exporter, Some(vec![5; 32]));
    }
}

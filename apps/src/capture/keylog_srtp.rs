//! SRTP keys from a DTLS key log (issue 21): for a capture without our
//! `meshrtc-srtp` comments (`tcpdump -w` beside `offer --keylog`), the
//! keys are derived the way both ends derived them.
//!
//! The key log gives the master secret by client random (NSS format,
//! `CLIENT_RANDOM <client random> <master secret>`). The capture's
//! ClientHello gives the client random and the client's address; the
//! ServerHello the server random, the cipher suite (whose PRF hash the
//! exporter uses) and the SRTP profile chosen in `use_srtp`. Then the
//! keying material is RFC 5705's exporter with the label
//! `EXTRACTOR-dtls_srtp` (RFC 5764 §4.2), split into the client's and the
//! server's key and salt.

use std::collections::HashMap;
use std::net::SocketAddr;

use meshrtc_dtls::cipher::Suite;
use meshrtc_dtls::handshake::{fragments, HandshakeType, Reassembler};
use meshrtc_dtls::hello::ext;
use meshrtc_dtls::messages::{parse_use_srtp_answer, ServerHello};
use meshrtc_dtls::prf::export_keying_material;
use meshrtc_dtls::record::{records, ContentType, DTLS1_3};
use meshrtc_dtls::v13::messages::ServerHello13;
use meshrtc_dtls::v13::record::CipherSuite13;
use meshrtc_srtp::{split_keying_material, Profile};

use super::srtp_comment::ConnectionKeys;

/// The master secrets of a key log, by client random.
pub fn master_secrets(key_log: &str) -> HashMap<[u8; 32], [u8; 48]> {
    let mut m = HashMap::new();
    for line in key_log.lines() {
        let mut f = line.split_ascii_whitespace();
        if f.next() != Some("CLIENT_RANDOM") {
            continue;
        }
        let (Some(cr), Some(ms)) = (
            f.next().and_then(unhex::<32>),
            f.next().and_then(unhex::<48>),
        ) else {
            continue;
        };
        m.insert(cr, ms);
    }
    m
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// What the hellos of one association said.
#[derive(Default)]
struct Association {
    client_random: Option<[u8; 32]>,
    /// Server random, suite, and the SRTP profile if one was agreed.
    server: Option<([u8; 32], Suite, Option<Profile>)>,
    /// A DTLS 1.3 ServerHello's suite (its SRTP profile is in the
    /// encrypted EncryptedExtensions).
    server13: Option<CipherSuite13>,
}

/// Collects the hellos from the datagrams (src, dst, payload) of a
/// capture, in order.
#[derive(Default)]
pub struct HelloScan {
    /// Keyed by (client address, server address).
    seen: HashMap<(SocketAddr, SocketAddr), Association>,
    /// The epoch-0 handshake of each direction, reassembled.
    reassembly: HashMap<(SocketAddr, SocketAddr), Reassembler>,
}

impl HelloScan {
    /// Looks at one datagram (anything not a plaintext DTLS handshake is
    /// skipped).
    pub fn datagram(&mut self, src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
        if !(20..=63).contains(payload.first().unwrap_or(&0)) {
            return;
        }
        for r in records(payload) {
            let Ok(r) = r else { return };
            if r.content_type != ContentType::Handshake || r.epoch != 0 {
                continue;
            }
            for f in fragments(r.fragment) {
                let Ok(f) = f else { break };
                // The random follows client_version; the first fragment
                // has it even when the hello is split.
                if f.msg_type == HandshakeType::ClientHello && f.offset == 0 {
                    if let Some(cr) = f.body.get(2..34).and_then(|b| b.try_into().ok()) {
                        self.seen.entry((src, dst)).or_default().client_random = Some(cr);
                    }
                }
                // A ServerHello with an X25519MLKEM768 share (RFC 9147
                // §5.5) is larger than a datagram: the whole handshake of
                // each direction is reassembled. Retransmissions may not
                // fit its order: not an error here.
                let r = self
                    .reassembly
                    .entry((src, dst))
                    .or_insert_with(|| Reassembler::new(0, 1 << 16, 16));
                let _ = r.push(&f);
                let whole: Vec<_> = std::iter::from_fn(|| r.pop()).collect();
                for m in whole {
                    if m.msg_type == HandshakeType::ServerHello {
                        self.server_hello(src, dst, &m.body);
                    }
                }
            }
        }
    }

    /// What a whole ServerHello from `src` to `dst` says: the 1.3 suite,
    /// or the 1.2 random, suite and SRTP profile.
    fn server_hello(&mut self, src: SocketAddr, dst: SocketAddr, body: &[u8]) {
        // DTLS 1.3 (RFC 8446 §4.1.3): supported_versions
        // selects it; a HelloRetryRequest chooses no keys.
        if let Ok(h) = ServerHello13::parse(body) {
            if h.selected_version() == Some(DTLS1_3) {
                if let (false, Some(suite)) =
                    (h.is_hello_retry_request(), CipherSuite13::from_id(h.suite))
                {
                    self.seen.entry((dst, src)).or_default().server13 = Some(suite);
                }
                return;
            }
        }
        let Ok(h) = ServerHello::parse(body) else {
            return;
        };
        let profile = h
            .extension(ext::USE_SRTP)
            .and_then(|d| parse_use_srtp_answer(d).ok())
            .and_then(|(p, _)| Profile::from_dtls_id(p));
        if let Some(suite) = Suite::from_id(h.cipher_suite) {
            // The server sends it: the client is `dst`.
            self.seen.entry((dst, src)).or_default().server = Some((h.random, suite, profile));
        }
    }

    /// The keys of every association whose hellos were seen and whose
    /// master secret the key log has.
    pub fn keys(&self, masters: &HashMap<[u8; 32], [u8; 48]>) -> Vec<ConnectionKeys> {
        let mut out = Vec::new();
        for (&(client, server), a) in &self.seen {
            let (Some(cr), Some((sr, suite, Some(profile)))) = (a.client_random, a.server) else {
                continue;
            };
            let Some(master) = masters.get(&cr) else {
                continue;
            };
            let mut material = vec![0u8; profile.keying_material_len()];
            export_keying_material(
                suite.prf_hash(),
                master,
                b"EXTRACTOR-dtls_srtp",
                &cr,
                &sr,
                &mut material,
            );
            let Ok((c, s)) = split_keying_material(profile, &material) else {
                continue;
            };
            out.push(ConnectionKeys {
                local: client,
                remote: server,
                local_sends: c,
                remote_sends: s,
            });
        }
        out
    }
}

impl HelloScan {
    /// Every association whose both hellos were seen: client address,
    /// server address, client random, server random, suite.
    pub fn associations(
        &self,
    ) -> impl Iterator<Item = (SocketAddr, SocketAddr, [u8; 32], [u8; 32], Suite)> + '_ {
        self.seen.iter().filter_map(|(&(c, s), a)| {
            let (cr, (sr, suite, _)) = (a.client_random?, a.server?);
            Some((c, s, cr, sr, suite))
        })
    }

    /// Every DTLS 1.3 association whose ClientHello and ServerHello were
    /// seen: client address, server address, client random, suite.
    pub fn associations13(
        &self,
    ) -> impl Iterator<Item = (SocketAddr, SocketAddr, [u8; 32], CipherSuite13)> + '_ {
        self.seen
            .iter()
            .filter_map(|(&(c, s), a)| Some((c, s, a.client_random?, a.server13?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_log_lines_are_read_and_others_skipped() {
        let cr = "ab".repeat(32);
        let ms = "cd".repeat(48);
        let log = format!(
            "# comment\nCLIENT_RANDOM {cr} {ms}\nCLIENT_RANDOM short {ms}\nCLIENT_HANDSHAKE_TRAFFIC_SECRET {cr} {ms}\n"
        );
        let m = master_secrets(&log);
        assert_eq!(m.len(), 1);
        assert_eq!(m[&[0xab; 32]], [0xcd; 48]);
    }
}

//! DTLS 1.2 record keys from a key log (issue 21), so `meshrtc decode`
//! can show what the encrypted records of a capture carry: the Finished
//! messages and the application data (SCTP for data channels).
//!
//! The master secret comes from the key log by client random
//! (`CLIENT_RANDOM`, the Decryption Secrets Block or `--keylog`); the
//! client and server randoms and the suite from the capture's hellos
//! ([`super::keylog_srtp::HelloScan`]). The key block is
//! `PRF(master_secret, "key expansion", server_random + client_random)`
//! (RFC 5246 §6.3), split by `meshrtc-dtls`'s own record layer into the
//! client's and the server's write key and implicit nonce (RFC 5288 §3),
//! which opens the records as the peers' own connection did.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use meshrtc_dtls::cipher::{CipherPair, RecordCipher};
use meshrtc_dtls::prf::key_block;

use super::keylog_srtp::HelloScan;

/// One association's record keys.
#[derive(Debug, Clone)]
pub struct DtlsKeys {
    /// The client's address.
    pub client: SocketAddr,
    /// The server's address.
    pub server: SocketAddr,
    ciphers: Arc<CipherPair>,
}

/// The keys of one direction of an association.
#[derive(Debug, Clone)]
pub struct DtlsDirection {
    ciphers: Arc<CipherPair>,
    client_sends: bool,
}

impl DtlsDirection {
    /// The cipher its sender protects with.
    pub fn cipher(&self) -> &RecordCipher {
        if self.client_sends {
            &self.ciphers.client_write
        } else {
            &self.ciphers.server_write
        }
    }
}

impl DtlsKeys {
    /// The keys for a datagram from `src` to `dst`, if it belongs here.
    pub fn for_packet(&self, src: SocketAddr, dst: SocketAddr) -> Option<DtlsDirection> {
        let client_sends = if (src, dst) == (self.client, self.server) {
            true
        } else if (src, dst) == (self.server, self.client) {
            false
        } else {
            return None;
        };
        Some(DtlsDirection {
            ciphers: self.ciphers.clone(),
            client_sends,
        })
    }
}

/// The record keys of every association in `scan` whose master secret
/// `masters` has.
pub fn dtls_keys(scan: &HelloScan, masters: &HashMap<[u8; 32], [u8; 48]>) -> Vec<DtlsKeys> {
    let mut out = Vec::new();
    for (client, server, cr, sr, suite) in scan.associations() {
        let Some(master) = masters.get(&cr) else {
            continue;
        };
        let mut block = vec![0u8; suite.key_block_len()];
        key_block(suite.prf_hash(), master, &cr, &sr, &mut block);
        let Ok(ciphers) = CipherPair::from_key_block(suite, &block) else {
            continue;
        };
        out.push(DtlsKeys {
            client,
            server,
            ciphers: Arc::new(ciphers),
        });
    }
    out
}

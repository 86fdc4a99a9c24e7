//! What a [`Dtls`] hands out: its role, the negotiated SRTP profile and
//! keying material (RFC 5764 §4.2), events and close reasons.

use super::*;

/// Which side of the handshake we are (WebRTC: `a=setup:active` is the
/// client, RFC 5763 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sends the ClientHello.
    Client,
    /// Answers it.
    Server,
}

/// SRTP protection profiles of `use_srtp` (RFC 5764 §4.1.2, RFC 7714
/// §14.2) and their key and salt lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SrtpProfileId(pub u16);

impl SrtpProfileId {
    /// SRTP_AES128_CM_HMAC_SHA1_80.
    pub const AES128_CM_SHA1_80: SrtpProfileId = SrtpProfileId(0x0001);
    /// SRTP_AES128_CM_HMAC_SHA1_32.
    pub const AES128_CM_SHA1_32: SrtpProfileId = SrtpProfileId(0x0002);
    /// SRTP_AEAD_AES_128_GCM.
    pub const AEAD_AES_128_GCM: SrtpProfileId = SrtpProfileId(0x0007);
    /// SRTP_AEAD_AES_256_GCM.
    pub const AEAD_AES_256_GCM: SrtpProfileId = SrtpProfileId(0x0008);

    /// (master key, master salt) lengths, for profiles we know.
    pub fn key_salt_len(self) -> Option<(usize, usize)> {
        match self.0 {
            1 | 2 => Some((16, 14)),
            7 => Some((16, 12)),
            8 => Some((32, 12)),
            _ => None,
        }
    }
}

/// DTLS-SRTP keys, split per RFC 5764 §4.2. The client protects what it
/// sends with the client key and salt, the server with the server's.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKeyingMaterial {
    /// The negotiated profile.
    pub profile: SrtpProfileId,
    /// client_write_SRTP_master_key.
    pub client_key: Vec<u8>,
    /// server_write_SRTP_master_key.
    pub server_key: Vec<u8>,
    /// client_write_SRTP_master_salt.
    pub client_salt: Vec<u8>,
    /// server_write_SRTP_master_salt.
    pub server_salt: Vec<u8>,
    /// The exporter output as one block (key, key, salt, salt).
    pub exported: Vec<u8>,
}

impl std::fmt::Debug for SrtpKeyingMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpKeyingMaterial")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

/// What both sides agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    /// Always DTLS 1.2 (0xfefd).
    pub version: u16,
    /// The cipher suite.
    pub suite: Suite,
    /// The ECDHE group.
    pub group: Group,
    /// The SRTP keys, when `use_srtp` was agreed.
    pub srtp: Option<SrtpKeyingMaterial>,
    /// The peer's certificate (DER), fingerprint checked.
    pub peer_certificate: Vec<u8>,
}

/// Why an association ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer sent close_notify.
    PeerClosed,
    /// We called [`Dtls::close`].
    LocalClose,
    /// A fatal error (ours or a fatal alert from the peer).
    Error(Error),
}

/// What happened, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The handshake finished and the peer's fingerprint matched.
    Connected(Box<Connected>),
    /// An application data record (data channels).
    ApplicationData(Vec<u8>),
    /// An NSS key log line (`CLIENT_RANDOM <random> <master secret>`),
    /// when [`Config::key_log`] is on: append it to an `SSLKEYLOGFILE` so
    /// Wireshark can decrypt a capture.
    KeyLog(String),
    /// The association is over; nothing more will be sent or received.
    Closed(CloseReason),
}

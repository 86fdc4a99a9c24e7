//! Long-term credentials (RFC 8489 §9.2) as TURN uses them (RFC 8656 §5).
//!
//! The key is `MD5(username ":" realm ":" password)` (§9.2.2, the MD5
//! algorithm of PASSWORD-ALGORITHM, the only one coturn and browsers use),
//! and MESSAGE-INTEGRITY is HMAC-SHA1 under those 16 bytes. RFC 8489 asks
//! for the username to go through UsernameCasePreserved and the password
//! through OpaqueString (RFC 8265) first; meshrtc uses both as given, so a
//! caller with non-ASCII credentials passes them already prepared (for
//! ASCII, which TURN REST credentials always are, the preparation is the
//! identity).

use crate::stun::ShortTermKey;
use md5::{Digest, Md5};

/// A TURN server's username and password.
#[derive(Clone, PartialEq, Eq)]
pub struct TurnCredentials {
    /// USERNAME sent in every authenticated request.
    pub username: String,
    /// The password (never sent).
    pub password: String,
}

impl std::fmt::Debug for TurnCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnCredentials")
            .field("username", &self.username)
            .field("password", &"..")
            .finish()
    }
}

/// The 16-byte long-term key `MD5(username ":" realm ":" password)`
/// (RFC 8489 §9.2.2).
pub fn long_term_key(username: &str, realm: &str, password: &str) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update(username.as_bytes());
    md5.update(b":");
    md5.update(realm.as_bytes());
    md5.update(b":");
    md5.update(password.as_bytes());
    md5.finalize().into()
}

/// Time-limited credentials in the TURN REST form that coturn's
/// `use-auth-secret` checks (draft-uberti-behave-turn-rest-00 §2.2): the
/// username is `expiry:user` with `expiry` in seconds since the Unix epoch,
/// the password `base64(HMAC-SHA1(secret, username))`.
pub fn rest_credentials(secret: &[u8], user: &str, expiry_unix_secs: u64) -> TurnCredentials {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let username = format!("{expiry_unix_secs}:{user}");
    let mut mac = match Hmac::<sha1::Sha1>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of every length"),
    };
    mac.update(username.as_bytes());
    let password = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    TurnCredentials { username, password }
}

/// What an authenticated request carries once the server named its realm
/// and nonce (RFC 8489 §9.2.3): the prepared HMAC key, the realm and the
/// current nonce.
#[derive(Clone)]
pub(crate) struct LongTermAuth {
    pub realm: String,
    pub nonce: String,
    pub key: ShortTermKey,
}

impl std::fmt::Debug for LongTermAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LongTermAuth")
            .field("realm", &self.realm)
            .field("nonce", &self.nonce)
            .finish()
    }
}

impl LongTermAuth {
    pub fn new(creds: &TurnCredentials, realm: &str, nonce: &str) -> LongTermAuth {
        LongTermAuth {
            realm: realm.to_string(),
            nonce: nonce.to_string(),
            key: ShortTermKey::new(&long_term_key(&creds.username, realm, &creds.password)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stun::{AttrType, Attribute, Message};

    #[test]
    fn rfc_5769_long_term_vector_verifies_with_the_md5_key() {
        // RFC 5769 §2.4: a request with long-term authentication. The
        // username is "マトリックス", the password "The\u{AD}M\u{AA}tr\u{2168}",
        // which SASLprep turns into "TheMatrIX", the realm "example.org".
        let bytes = hex::decode(concat!(
            "000100602112a44278ad3433c6ad72c029da412e",
            "00060012e3839ee38388e383aae38383e382afe382b90000",
            "0015001c662f2f3439396b39353464364f4c33346f4c39465354767936347341",
            "0014000b6578616d706c652e6f726700",
            "00080014f67024656dd64a3e02b8e0712e85c9a28ca89666",
        ))
        .unwrap();
        let msg = Message::parse(&bytes).unwrap();
        assert_eq!(msg.username(), Ok(Some("マトリックス")));
        assert_eq!(
            msg.get(AttrType::REALM),
            Some(Ok(Attribute::Realm("example.org")))
        );
        assert_eq!(
            msg.get(AttrType::NONCE),
            Some(Ok(Attribute::Nonce("f//499k954d6OL34oL9FSTvy64sA")))
        );
        let creds = TurnCredentials {
            username: "マトリックス".into(),
            password: "TheMatrIX".into(),
        };
        let auth = LongTermAuth::new(&creds, "example.org", "f//499k954d6OL34oL9FSTvy64sA");
        msg.verify_integrity(&auth.key).unwrap();
        // The unprepared password gives another key, which must fail.
        let raw = TurnCredentials {
            password: "The\u{AD}M\u{AA}tr\u{2168}".into(),
            ..creds
        };
        let wrong = LongTermAuth::new(&raw, "example.org", "x");
        assert!(msg.verify_integrity(&wrong.key).is_err());
    }

    #[test]
    fn rest_credentials_are_hmac_sha1_of_expiry_and_user() {
        // Computed independently with Python's hmac and base64 modules.
        let c = rest_credentials(b"north", "alice", 1_700_000_000);
        assert_eq!(c.username, "1700000000:alice");
        assert_eq!(c.password, "Cd/49soE35ICqcJF/bCTn8Z4OyE=");
    }

    #[test]
    fn long_term_key_is_md5_of_user_realm_password() {
        // MD5("user:realm:pass"), computed independently with md5sum.
        assert_eq!(
            hex::encode(long_term_key("user", "realm", "pass")),
            "8493fbc53ba582fb4c044c456bdc40eb"
        );
    }
}

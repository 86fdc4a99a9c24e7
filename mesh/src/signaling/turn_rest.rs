//! Time-limited TURN credentials for room members, in the TURN REST form
//! (draft-uberti-behave-turn-rest-00 §2.2) that coturn checks with
//! `use-auth-secret` / `static-auth-secret`: the username is
//! `expiry:member` (`expiry` in seconds since the Unix epoch), the password
//! `base64(HMAC-SHA1(secret, username))`. The signaling server and the TURN
//! server share the secret and nothing else: no per-user state on either.
//!
//! Sans-IO like the rest of the room logic: the wall clock comes in once,
//! as a pairing of an [`Instant`] with the Unix time at that instant
//! ([`TurnRest::new`]); later `now: Instant` values are mapped through it.

use std::fmt;
use std::time::{Duration, Instant};

use super::protocol::IceServer;

/// The shortest lifetime accepted: renewal happens at half of it, and a
/// member needs a few seconds to use what it was given.
pub const MIN_LIFETIME: Duration = Duration::from_secs(10);

/// The TURN servers of a signaling server's rooms and the secret shared
/// with them.
#[derive(Clone, PartialEq, Eq)]
pub struct TurnRest {
    /// `turn:` / `turns:` URLs of the servers that share the secret
    /// (RFC 7065 §3.1); one `RTCIceServer` entry carries them all.
    pub urls: Vec<String>,
    secret: String,
    /// How long credentials stay valid (the `expiry` is issue time plus
    /// this); a member gets fresh ones after half of it.
    pub lifetime: Duration,
    /// An instant and the Unix time (seconds) at that instant.
    clock: (Instant, u64),
}

impl TurnRest {
    /// Credentials for `urls` under `secret`, valid for `lifetime` (at
    /// least [`MIN_LIFETIME`]); `at` is an instant whose Unix time is
    /// `unix_secs`.
    pub fn new(
        urls: Vec<String>,
        secret: impl Into<String>,
        lifetime: Duration,
        at: Instant,
        unix_secs: u64,
    ) -> TurnRest {
        TurnRest {
            urls,
            secret: secret.into(),
            lifetime: lifetime.max(MIN_LIFETIME),
            clock: (at, unix_secs),
        }
    }

    /// The Unix time (seconds) at `now`.
    pub fn unix_secs(&self, now: Instant) -> u64 {
        let (at, unix) = self.clock;
        if now >= at {
            unix.saturating_add(now.duration_since(at).as_secs())
        } else {
            unix.saturating_sub(at.duration_since(now).as_secs())
        }
    }

    /// The `RTCIceServer` entry for `member` issued at `now`.
    pub fn ice_server(&self, now: Instant, member: &str) -> IceServer {
        let expiry = self.unix_secs(now).saturating_add(self.lifetime.as_secs());
        let c = meshrtc_ice::turn::rest_credentials(self.secret.as_bytes(), member, expiry);
        IceServer {
            urls: self.urls.clone(),
            username: Some(c.username),
            credential: Some(c.password),
        }
    }

    /// When credentials issued at `issued` are renewed: half-way through
    /// their lifetime, which leaves the member the other half to use them.
    pub fn renew_at(&self, issued: Instant) -> Instant {
        issued + self.lifetime / 2
    }
}

// The secret stays out of logs and panics.
impl fmt::Debug for TurnRest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TurnRest")
            .field("urls", &self.urls)
            .field("secret", &"<redacted>")
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_name_the_expiry_and_member_and_sign_under_the_secret() {
        let t0 = Instant::now();
        let rest = TurnRest::new(
            vec!["turn:192.0.2.1:3478".into()],
            "north",
            Duration::from_secs(600),
            t0,
            1_700_000_000,
        );
        let s = rest.ice_server(t0 + Duration::from_secs(5), "p3");
        assert_eq!(s.urls, vec!["turn:192.0.2.1:3478".to_string()]);
        assert_eq!(s.username.as_deref(), Some("1700000605:p3"));
        // base64(HMAC-SHA1("north", "1700000605:p3")), as coturn computes it.
        let want = meshrtc_ice::turn::rest_credentials(b"north", "p3", 1_700_000_605).password;
        assert_eq!(s.credential.as_deref(), Some(want.as_str()));
        assert_eq!(s.credential.as_ref().map(String::len), Some(28));
        assert_eq!(rest.renew_at(t0), t0 + Duration::from_secs(300));
        assert!(!format!("{rest:?}").contains("north"));
    }

    #[test]
    fn a_too_short_lifetime_is_raised_to_the_minimum() {
        let t0 = Instant::now();
        let rest = TurnRest::new(Vec::new(), "s", Duration::from_secs(1), t0, 100);
        assert_eq!(rest.lifetime, MIN_LIFETIME);
        assert_eq!(rest.unix_secs(t0 + Duration::from_millis(2500)), 102);
    }
}

//! A STUN binding server (RFC 8489 §6.3), sans-IO: it answers Binding
//! requests with XOR-MAPPED-ADDRESS, the source address it saw, so clients
//! learn their server-reflexive address. No authentication (as public STUN
//! servers run), FINGERPRINT on every answer, 420 for unknown
//! comprehension-required attributes.

use crate::stun::{Attribute, Class, ErrorCode, Message, MessageBuilder, Method, StunError};
use std::net::SocketAddr;

/// Counters of a [`StunServer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StunServerStats {
    /// Binding requests answered with success.
    pub answered: u64,
    /// Requests answered with 420 Unknown Attribute.
    pub unknown_attribute: u64,
    /// Datagrams that were not STUN, or malformed, or with a bad FINGERPRINT.
    pub malformed: u64,
    /// Valid STUN that was not a Binding request (indications, responses,
    /// other methods): ignored.
    pub ignored: u64,
}

/// The server. Feed it each datagram; it writes the answer, if any.
#[derive(Debug, Clone, Default)]
pub struct StunServer {
    software: Option<String>,
    stats: StunServerStats,
}

impl StunServer {
    /// A server that names itself in SOFTWARE (or not, with `None`).
    pub fn new(software: Option<String>) -> StunServer {
        StunServer {
            software,
            stats: StunServerStats::default(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> StunServerStats {
        self.stats
    }

    /// Handles a datagram from `from`. On `Ok(true)` the answer to send back
    /// to `from` is in `out` (cleared first); `Ok(false)` means no answer.
    /// Malformed input is counted and returned as the error.
    pub fn handle(
        &mut self,
        from: SocketAddr,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<bool, StunError> {
        out.clear();
        let msg = Message::parse(data).inspect_err(|_| self.stats.malformed += 1)?;
        if msg.has_fingerprint() {
            msg.verify_fingerprint()
                .inspect_err(|_| self.stats.malformed += 1)?;
        }
        if (msg.class(), msg.method()) != (Class::Request, Method::BINDING) {
            self.stats.ignored += 1;
            return Ok(false);
        }
        let tid = msg.transaction_id();
        if msg.has_unknown_required() {
            self.stats.unknown_attribute += 1;
            let mut b = MessageBuilder::new(out, Class::Error, Method::BINDING, tid);
            b.add(&Attribute::ErrorCode(ErrorCode {
                code: ErrorCode::UNKNOWN_ATTRIBUTE,
                reason: ErrorCode::default_reason(ErrorCode::UNKNOWN_ATTRIBUTE),
            }))?;
            b.add_unknown_attributes(msg.unknown_required())?;
            b.add_fingerprint()?;
            return Ok(true);
        }
        let mut b = MessageBuilder::new(out, Class::Success, Method::BINDING, tid);
        b.add(&Attribute::XorMappedAddress(from))?;
        if let Some(s) = &self.software {
            b.add(&Attribute::Software(s))?;
        }
        b.add_fingerprint()?;
        self.stats.answered += 1;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stun::{AttrType, TransactionId};

    fn request(extra: &[(AttrType, &[u8])]) -> Vec<u8> {
        let mut v = Vec::new();
        let mut b = MessageBuilder::new(
            &mut v,
            Class::Request,
            Method::BINDING,
            TransactionId([9; 12]),
        );
        for (t, val) in extra {
            b.add_raw(*t, val).unwrap();
        }
        b.add_fingerprint().unwrap();
        v
    }

    #[test]
    fn binding_request_gets_the_source_address_back() {
        let mut s = StunServer::new(Some("meshrtc".into()));
        let from: SocketAddr = "[2001:db8::7]:61000".parse().unwrap();
        let mut out = Vec::new();
        assert_eq!(s.handle(from, &request(&[]), &mut out), Ok(true));
        let m = Message::parse(&out).unwrap();
        assert_eq!(
            (m.class(), m.transaction_id()),
            (Class::Success, TransactionId([9; 12]))
        );
        assert_eq!(m.mapped_address(), Ok(Some(from)));
        m.verify_fingerprint().unwrap();
        assert_eq!(
            m.get(AttrType::SOFTWARE),
            Some(Ok(Attribute::Software("meshrtc")))
        );
        assert_eq!(s.stats().answered, 1);
    }

    #[test]
    fn unknown_required_attribute_gets_420_listing_it() {
        let mut s = StunServer::new(None);
        let mut out = Vec::new();
        let req = request(&[(AttrType(0x0003), &[0, 0, 0, 6])]);
        assert_eq!(
            s.handle("1.2.3.4:5".parse().unwrap(), &req, &mut out),
            Ok(true)
        );
        let m = Message::parse(&out).unwrap();
        assert_eq!(m.class(), Class::Error);
        assert_eq!(m.error_code().unwrap().unwrap().code, 420);
        match m.get(AttrType::UNKNOWN_ATTRIBUTES) {
            Some(Ok(Attribute::UnknownAttributes(u))) => {
                assert_eq!(u.iter().collect::<Vec<_>>(), vec![AttrType(0x0003)])
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.stats().unknown_attribute, 1);
    }

    #[test]
    fn garbage_responses_and_bad_fingerprints_get_no_answer() {
        let mut s = StunServer::new(None);
        let mut out = Vec::new();
        let from = "1.2.3.4:5".parse().unwrap();
        assert!(s.handle(from, b"\x16\xfe\xfd garbage", &mut out).is_err());
        let mut bad_fp = request(&[]);
        let n = bad_fp.len();
        bad_fp[n - 1] ^= 1;
        assert!(s.handle(from, &bad_fp, &mut out).is_err());
        let mut resp = request(&[]);
        resp[1] = 0x01; // success class
        resp[0] = 0x01;
        // Re-sign the fingerprint: it covers the type.
        let msg = resp[..resp.len() - 8].to_vec();
        let mut v = Vec::new();
        let mut b = MessageBuilder::new(
            &mut v,
            Class::Success,
            Method::BINDING,
            TransactionId([9; 12]),
        );
        b.add_fingerprint().unwrap();
        let _ = msg;
        assert_eq!(s.handle(from, &v, &mut out), Ok(false));
        assert!(out.is_empty());
        assert_eq!(
            s.stats(),
            StunServerStats {
                answered: 0,
                unknown_attribute: 0,
                malformed: 2,
                ignored: 1
            }
        );
    }
}

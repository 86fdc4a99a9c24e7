//! The packet inspector behind `meshrtc decode`.
//!
//! A datagram is classified by its first byte (RFC 7983) and then decoded by
//! the crate that owns its protocol. STUN is decoded fully; RTP and RTCP
//! print their headers and every RTCP packet, and with an SRTP key they are
//! decrypted first; DTLS prints its records and, in epoch 0, the handshake
//! messages.

use crate::{dtlsview, rtpview};
use meshrtc_ice::stun::{AttrType, Attribute, Message, RawAttribute, ShortTermKey, StunError};
use meshrtc_peer::demux::{classify, PacketClass};
use meshrtc_srtp::Context as SrtpContext;
use serde_json::{json, Value};
use std::fmt::Write;

/// What the user gave besides the bytes.
pub struct Options {
    /// ICE passwords for MESSAGE-INTEGRITY, with their prepared keys.
    keys: Vec<ShortTermKey>,
    /// The receiving SRTP context, carried from datagram to datagram (so
    /// the rollover counter and replay window follow a capture).
    srtp: Option<SrtpContext>,
    /// RTP header extension ids and what they are (`--extmap`).
    extmap: Vec<(u8, rtpview::ExtKind)>,
    /// The epoch-0 DTLS handshake, reassembled across datagrams.
    handshake: meshrtc_dtls::handshake::Reassembler,
    /// The DTLS 1.2 record keys of this direction, from a key log.
    dtls: Option<crate::capture::dtls_keys::DtlsDirection>,
    /// The DTLS 1.3 read keys of this direction, from a key log.
    dtls13: Option<crate::capture::dtls13_keys::Dtls13Direction>,
}

impl Options {
    /// Options with these ICE passwords, maybe an SRTP context, and the
    /// extension ids to name.
    pub fn new(
        ice_pwds: &[String],
        srtp: Option<SrtpContext>,
        extmap: Vec<(u8, rtpview::ExtKind)>,
    ) -> Options {
        let keys = ice_pwds
            .iter()
            .map(|p| ShortTermKey::new(p.as_bytes()))
            .collect();
        Options {
            keys,
            srtp,
            extmap,
            handshake: dtlsview::reassembler(),
            dtls: None,
            dtls13: None,
        }
    }

    /// The same options, opening DTLS records with `keys` (issue 21).
    pub fn with_dtls(mut self, keys: Option<crate::capture::dtls_keys::DtlsDirection>) -> Options {
        self.dtls = keys;
        self
    }

    /// The same options, opening DTLS 1.3 records with `keys` (issue 21).
    pub fn with_dtls13(
        mut self,
        keys: Option<crate::capture::dtls13_keys::Dtls13Direction>,
    ) -> Options {
        self.dtls13 = keys;
        self
    }
}

/// The outcome of one integrity or fingerprint check.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Check {
    Absent,
    Unchecked,
    /// Verified with the password at this index (of several).
    Ok(Option<usize>),
    Failed(String),
}

impl Check {
    fn json(&self) -> Value {
        match self {
            Check::Absent => json!("absent"),
            Check::Unchecked => json!("unchecked"),
            Check::Ok(_) => json!("ok"),
            Check::Failed(why) => json!({ "failed": why }),
        }
    }
}

struct AttrLine {
    attr: AttrType,
    len: usize,
    text: String,
    json: Value,
    ignored: bool,
}

struct StunReport {
    method: String,
    class: &'static str,
    tid: String,
    attrs: Vec<AttrLine>,
    integrity: Check,
    integrity_sha256: Check,
    fingerprint: Check,
    unknown_required: Vec<AttrType>,
}

enum Body {
    Stun(Box<StunReport>),
    /// RTP or RTCP: the printed headers, their JSON, and what SRTP did.
    Media {
        text: String,
        json: Value,
        srtp: Srtp,
    },
    Malformed(String),
    /// DTLS records: text, JSON, whether something was malformed.
    Dtls {
        text: String,
        json: Value,
        malformed: bool,
    },
    Unknown,
}

/// What happened with SRTP for an RTP/RTCP datagram.
enum Srtp {
    NoKey,
    /// RTCP whose packets' lengths add up to the datagram: plain RTCP,
    /// not SRTCP (which ends with an index and a tag past the packets).
    Plain,
    Decrypted,
    Failed(String),
}

/// The decoded form of one datagram, printable as text or JSON.
pub struct Report {
    class: PacketClass,
    len: usize,
    body: Body,
}

/// Decodes one datagram.
pub fn decode(dgram: &[u8], opts: &mut Options) -> Report {
    let class = classify(dgram);
    let body = match class {
        PacketClass::Stun => match decode_stun(dgram, opts) {
            Ok(r) => Body::Stun(Box::new(r)),
            Err(e) => Body::Malformed(e.to_string()),
        },
        PacketClass::Rtp | PacketClass::Rtcp => decode_media(dgram, class, opts),
        PacketClass::Dtls => {
            let (text, json, malformed) = dtlsview::dtls(
                dgram,
                &mut opts.handshake,
                opts.dtls.as_ref().map(|d| d.cipher()),
                opts.dtls13.as_mut(),
            );
            Body::Dtls {
                text,
                json,
                malformed,
            }
        }
        _ => Body::Unknown,
    };
    Report {
        class,
        len: dgram.len(),
        body,
    }
}

/// RTP/RTCP: unprotect with the SRTP context if there is one, then print
/// the headers (which SRTP leaves in the clear anyway).
fn decode_media(dgram: &[u8], class: PacketClass, opts: &mut Options) -> Body {
    let rtcp = class == PacketClass::Rtcp;
    let mut buf = dgram.to_vec();
    let srtp = match opts.srtp.as_mut() {
        None if rtcp && rtpview::rtcp_is_plain(dgram) => Srtp::Plain,
        None => Srtp::NoKey,
        Some(ctx) => {
            let r = if rtcp {
                ctx.unprotect_rtcp(&mut buf)
            } else {
                ctx.unprotect_rtp(&mut buf)
            };
            match r {
                Ok(()) => Srtp::Decrypted,
                Err(e) => {
                    buf = dgram.to_vec();
                    Srtp::Failed(e.to_string())
                }
            }
        }
    };
    let note = match srtp {
        Srtp::Decrypted => " (decrypted)",
        _ => " (SRTP-encrypted, tag included: give --srtp-key to decrypt)",
    };
    let shown = if rtcp {
        let clear = if matches!(srtp, Srtp::Decrypted | Srtp::Plain) {
            buf.len()
        } else {
            8
        };
        rtpview::rtcp(&buf, clear)
    } else {
        rtpview::rtp(&buf, note, &opts.extmap)
    };
    match shown {
        Ok((text, json)) => Body::Media { text, json, srtp },
        Err(e) => Body::Malformed(e),
    }
}

fn decode_stun(dgram: &[u8], opts: &Options) -> Result<StunReport, StunError> {
    let msg = Message::parse(dgram)?;
    let tid = msg.transaction_id();
    let attrs = msg
        .all_attributes()
        .map(|raw| attr_line(&msg, &raw))
        .collect();
    let check = |present: bool, verify: &dyn Fn(&ShortTermKey) -> Result<(), StunError>| {
        if !present {
            return Check::Absent;
        }
        let mut last_err = None;
        for (i, k) in opts.keys.iter().enumerate() {
            match verify(k) {
                Ok(()) => return Check::Ok((opts.keys.len() > 1).then_some(i)),
                Err(e) => last_err = Some(e),
            }
        }
        match last_err {
            None => Check::Unchecked,
            Some(e) if opts.keys.len() > 1 => {
                Check::Failed(format!("no given password matches ({e})"))
            }
            Some(e) => Check::Failed(e.to_string()),
        }
    };
    let integrity = check(msg.has_integrity(), &|k| msg.verify_integrity(k));
    let integrity_sha256 = check(msg.has_integrity_sha256(), &|k| {
        msg.verify_integrity_sha256(k)
    });
    let fingerprint = if !msg.has_fingerprint() {
        Check::Absent
    } else {
        match msg.verify_fingerprint() {
            Ok(()) => Check::Ok(None),
            Err(e) => Check::Failed(e.to_string()),
        }
    };
    Ok(StunReport {
        method: match msg.method().name() {
            Some(n) => n.to_string(),
            None => format!("method {:#05x}", msg.method().0),
        },
        class: msg.class().name(),
        tid: tid.to_string(),
        attrs,
        integrity,
        integrity_sha256,
        fingerprint,
        unknown_required: msg.unknown_required().collect(),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attr_line(msg: &Message<'_>, raw: &RawAttribute<'_>) -> AttrLine {
    let tid = msg.transaction_id();
    let (text, value) = match raw.decode(&tid) {
        Ok(a) => describe(&a),
        Err(e) => (
            format!("malformed: {e} (raw {})", hex(raw.value)),
            json!({"malformed": e.to_string(), "raw": hex(raw.value)}),
        ),
    };
    AttrLine {
        attr: raw.attr,
        len: raw.value.len(),
        text,
        json: value,
        ignored: msg.is_ignored(raw),
    }
}

/// Human text and JSON value of a decoded attribute.
fn describe(a: &Attribute<'_>) -> (String, Value) {
    match *a {
        Attribute::MappedAddress(s)
        | Attribute::XorMappedAddress(s)
        | Attribute::AlternateServer(s) => (s.to_string(), json!(s.to_string())),
        Attribute::Username(u) => {
            let text = match u.split_once(':') {
                // RFC 8445 §7.2.2: the receiver's ufrag, a colon, the sender's.
                Some((to, from)) => format!("{u:?}  (ICE: to ufrag {to:?}, from ufrag {from:?})"),
                None => format!("{u:?}"),
            };
            (text, json!(u))
        }
        Attribute::Realm(s) | Attribute::Nonce(s) | Attribute::Software(s) => {
            (format!("{s:?}"), json!(s))
        }
        Attribute::MessageIntegrity(v) | Attribute::MessageIntegritySha256(v) => {
            (hex(v), json!(hex(v)))
        }
        Attribute::Fingerprint(f) => (format!("{f:#010x}"), json!(f)),
        Attribute::ErrorCode(e) => (
            format!("{} {:?}", e.code, e.reason),
            json!({"code": e.code, "reason": e.reason}),
        ),
        Attribute::UnknownAttributes(u) => {
            let list: Vec<String> = u.iter().map(|t| t.to_string()).collect();
            (list.join(", "), json!(list))
        }
        Attribute::Priority(p) => {
            // RFC 8445 §5.1.2.1: type preference, local preference, component.
            let text = format!(
                "{p}  (type preference {}, local preference {}, component {})",
                p >> 24,
                (p >> 8) & 0xFFFF,
                256 - (p & 0xFF)
            );
            (text, json!(p))
        }
        Attribute::UseCandidate => ("(flag: nominate this pair)".into(), json!(true)),
        Attribute::IceControlled(t) => (
            format!("tie-breaker {t:#018x}"),
            json!({ "tie_breaker": format!("{t:#018x}") }),
        ),
        Attribute::IceControlling(t) => (
            format!("tie-breaker {t:#018x}"),
            json!({ "tie_breaker": format!("{t:#018x}") }),
        ),
        Attribute::Other { attr, value }
            if attr == AttrType::GOOG_NETWORK_INFO && value.len() == 4 =>
        {
            let id = u16::from_be_bytes([value[0], value[1]]);
            let cost = u16::from_be_bytes([value[2], value[3]]);
            (
                format!("network id {id}, network cost {cost}  (Chromium; optional, skipped)"),
                json!({"network_id": id, "network_cost": cost}),
            )
        }
        Attribute::Other { attr, value } => {
            let what = if attr.is_comprehension_required() {
                "unknown, comprehension-required: a server answers 420"
            } else {
                "unknown, comprehension-optional: skipped"
            };
            (
                format!("{}  ({what})", hex(value)),
                json!({ "raw": hex(value) }),
            )
        }
        // Attribute is non_exhaustive only for other crates; every variant
        // is handled above.
        #[allow(unreachable_patterns)]
        _ => (String::from("?"), Value::Null),
    }
}

impl Report {
    /// Whether the datagram could not be decoded (garbage or malformed).
    pub fn is_error(&self) -> bool {
        matches!(
            self.body,
            Body::Malformed(_)
                | Body::Unknown
                | Body::Dtls {
                    malformed: true,
                    ..
                }
                | Body::Media {
                    srtp: Srtp::Failed(_),
                    ..
                }
        )
    }

    /// The JSON form: `{"class", "length", ...}`.
    pub fn to_json(&self) -> Value {
        let mut v = json!({ "class": self.class.name(), "length": self.len });
        match &self.body {
            Body::Stun(r) => {
                let attrs: Vec<Value> = r
                    .attrs
                    .iter()
                    .map(|a| {
                        json!({
                            "type": a.attr.to_string(),
                            "code": a.attr.0,
                            "length": a.len,
                            "value": a.json,
                            "ignored": a.ignored,
                        })
                    })
                    .collect();
                v["stun"] = json!({
                    "method": r.method,
                    "class": r.class,
                    "transaction_id": r.tid,
                    "attributes": attrs,
                    "message_integrity": r.integrity.json(),
                    "message_integrity_sha256": r.integrity_sha256.json(),
                    "fingerprint": r.fingerprint.json(),
                    "unknown_comprehension_required": r.unknown_required.iter().map(|t| t.0).collect::<Vec<_>>(),
                });
            }
            Body::Media { json, srtp, .. } => {
                let key = if self.class == PacketClass::Rtcp {
                    "rtcp"
                } else {
                    "rtp"
                };
                v[key] = json.clone();
                v["srtp"] = match srtp {
                    Srtp::NoKey => json!("not decrypted"),
                    Srtp::Plain => json!("plain"),
                    Srtp::Decrypted => json!("decrypted"),
                    Srtp::Failed(e) => json!({ "failed": e }),
                };
            }
            Body::Malformed(e) => v["error"] = json!(e),
            Body::Dtls { json, .. } => v["dtls"] = json.clone(),
            Body::Unknown => {
                v["error"] =
                    json!("first byte is in no RFC 7983 range: not STUN, DTLS, RTP or RTCP")
            }
        }
        v
    }

    /// The human form.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let first = "first byte";
        match &self.body {
            Body::Stun(r) => {
                let _ = writeln!(s, "STUN {} {}, {} bytes", r.method, r.class, self.len);
                let _ = writeln!(s, "  transaction id  {}", r.tid);
                let _ = writeln!(s, "  attributes      {}", r.attrs.len());
                for a in &r.attrs {
                    let name = a
                        .attr
                        .name()
                        .map_or_else(|| "(unknown)".to_string(), str::to_string);
                    let _ = writeln!(
                        s,
                        "    {name:<25} {:#06x} {:>4} B  {}{}",
                        a.attr.0,
                        a.len,
                        a.text,
                        if a.ignored {
                            "  [ignored: follows MESSAGE-INTEGRITY, RFC 8489 §14.5]"
                        } else {
                            ""
                        }
                    );
                }
                let line = |label: &str, c: &Check, how: &str| match c {
                    Check::Absent => String::new(),
                    Check::Unchecked => format!("  {label:<26}not checked ({how})\n"),
                    Check::Ok(None) => format!("  {label:<26}ok\n"),
                    Check::Ok(Some(i)) => {
                        format!("  {label:<26}ok (with --ice-pwd number {})\n", i + 1)
                    }
                    Check::Failed(why) => format!("  {label:<26}FAILED: {why}\n"),
                };
                s += &line("message integrity", &r.integrity, "give --ice-pwd");
                s += &line(
                    "message integrity sha256",
                    &r.integrity_sha256,
                    "give --ice-pwd",
                );
                s += &line("fingerprint", &r.fingerprint, "");
                if !r.unknown_required.is_empty() {
                    let list: Vec<String> =
                        r.unknown_required.iter().map(|t| t.to_string()).collect();
                    let _ = writeln!(
                        s,
                        "  unknown comprehension-required attributes: {} (a server answers 420)",
                        list.join(", ")
                    );
                }
            }
            Body::Media { text, srtp, .. } => {
                let what = match srtp {
                    Srtp::Decrypted => "SRTP decrypted".to_string(),
                    Srtp::NoKey => "not decrypted".to_string(),
                    Srtp::Plain => "plain RTCP (no SRTCP trailer)".to_string(),
                    Srtp::Failed(e) => {
                        format!("SRTP FAILED: {e} (wrong key, profile or direction?)")
                    }
                };
                let _ = writeln!(s, "{}, {} bytes, {what}", self.class.name(), self.len);
                s += text;
            }
            Body::Malformed(e) => {
                let _ = writeln!(
                    s,
                    "{} ({first} in its RFC 7983 range), {} bytes, malformed: {e}",
                    self.class.name(),
                    self.len
                );
            }
            Body::Dtls { text, .. } => {
                let _ = writeln!(s, "{}, {} bytes", self.class.name(), self.len);
                s += text;
            }
            Body::Unknown => {
                let _ = writeln!(
                    s,
                    "unknown datagram, {} bytes: {first} is in no RFC 7983 range (not STUN, DTLS, RTP or RTCP)",
                    self.len
                );
            }
        }
        s
    }
}

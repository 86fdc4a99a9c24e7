//! Typed `a=` attributes of the WebRTC profile of SDP (RFC 8866 §6, RFC 8829
//! §5, RFC 8843, RFC 8839, RFC 8122, RFC 4145, RFC 8285, RFC 5576, RFC 4585,
//! RFC 8830, RFC 8841). Attributes meshrtc does not model are kept as
//! [`Attribute::Other`] and written back as they came.

use crate::candidate::CandidateAttr;
use std::fmt;

/// Why an attribute value could not be read (the parser adds the line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadValue(pub &'static str);

/// Media direction (RFC 8866 §6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `sendrecv`.
    SendRecv,
    /// `sendonly`.
    SendOnly,
    /// `recvonly`.
    RecvOnly,
    /// `inactive`.
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// From an attribute name.
    pub fn from_name(s: &str) -> Option<Direction> {
        Some(match s {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }
}

/// DTLS role negotiation (RFC 4145 §4, RFC 8842).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setup {
    /// `active`: will be the DTLS client.
    Active,
    /// `passive`: will be the DTLS server.
    Passive,
    /// `actpass`: either (offers).
    ActPass,
    /// `holdconn`.
    HoldConn,
}

impl Setup {
    fn as_str(self) -> &'static str {
        match self {
            Setup::Active => "active",
            Setup::Passive => "passive",
            Setup::ActPass => "actpass",
            Setup::HoldConn => "holdconn",
        }
    }
}

/// A typed attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Attribute {
    /// `group:<semantics> <mid>...` (RFC 5888; BUNDLE per RFC 8843).
    Group {
        /// e.g. `BUNDLE`.
        semantics: String,
        /// The mids.
        mids: Vec<String>,
    },
    /// `extmap-allow-mixed` (RFC 8285 §6).
    ExtmapAllowMixed,
    /// `msid-semantic: <semantic> [ids]` (Chromium's legacy attribute).
    MsidSemantic {
        /// e.g. `WMS`.
        semantic: String,
        /// Stream ids, often none.
        ids: Vec<String>,
    },
    /// `ice-lite` (RFC 8839 §5.3).
    IceLite,
    /// `ice-ufrag:<ufrag>` (RFC 8839 §5.4).
    IceUfrag(String),
    /// `ice-pwd:<pwd>` (RFC 8839 §5.4).
    IcePwd(String),
    /// `ice-options:<tokens>` (RFC 8839 §5.6).
    IceOptions(Vec<String>),
    /// `fingerprint:<hash> <hex:hex:...>` (RFC 8122 §5).
    Fingerprint {
        /// Hash function, e.g. `sha-256`.
        hash: String,
        /// Colon-separated upper- or lower-case hex.
        value: String,
    },
    /// `setup:<role>` (RFC 4145).
    Setup(Setup),
    /// `mid:<id>` (RFC 5888).
    Mid(String),
    /// `msid:<stream> [<track>]` (RFC 8830).
    Msid {
        /// Stream id (`-` for none).
        stream: String,
        /// Track id.
        track: Option<String>,
    },
    /// `sendrecv`, `sendonly`, `recvonly`, `inactive`.
    Direction(Direction),
    /// `rtcp-mux` (RFC 5761).
    RtcpMux,
    /// `rtcp-mux-only` (RFC 8858).
    RtcpMuxOnly,
    /// `rtcp-rsize` (RFC 5506).
    RtcpRsize,
    /// `rtpmap:<pt> <name>/<clock>[/<channels>]`.
    Rtpmap {
        /// Payload type.
        pt: u8,
        /// Encoding name, e.g. `VP8`, `opus`.
        encoding: String,
        /// Clock rate.
        clock: u32,
        /// Channels (audio).
        channels: Option<u16>,
    },
    /// `fmtp:<pt> <parameters>`; parameters kept as written.
    Fmtp {
        /// Payload type.
        pt: u8,
        /// e.g. `minptime=10;useinbandfec=1`.
        params: String,
    },
    /// `rtcp-fb:<pt|*> <type> [<subtype>]` (RFC 4585 §4.2).
    RtcpFb {
        /// Payload type, `None` for `*`.
        pt: Option<u8>,
        /// Feedback type and parameters, e.g. `nack pli`.
        feedback: String,
    },
    /// `extmap:<id>[/<direction>] <uri> [<attributes>]` (RFC 8285 §8).
    Extmap {
        /// 1–14 (one-byte) or 1–255 (two-byte).
        id: u16,
        /// Optional direction.
        direction: Option<Direction>,
        /// Extension URI.
        uri: String,
        /// Extension attributes.
        attributes: Option<String>,
    },
    /// `ssrc:<ssrc> <attribute>[:<value>]` (RFC 5576 §4.1).
    Ssrc {
        /// The SSRC.
        ssrc: u32,
        /// e.g. `cname`, `msid`.
        attribute: String,
        /// Its value.
        value: Option<String>,
    },
    /// `ssrc-group:<semantics> <ssrc>...` (RFC 5576 §4.2), e.g. FID for RTX.
    SsrcGroup {
        /// e.g. `FID`.
        semantics: String,
        /// The SSRCs.
        ssrcs: Vec<u32>,
    },
    /// `candidate:...` (RFC 8839 §5.1).
    Candidate(CandidateAttr),
    /// `end-of-candidates` (RFC 8840 §8.2).
    EndOfCandidates,
    /// `sctp-port:<port>` (RFC 8841 §5).
    SctpPort(u16),
    /// `max-message-size:<bytes>` (RFC 8841 §6).
    MaxMessageSize(u64),
    /// Anything else, kept verbatim.
    Other {
        /// The name.
        name: String,
        /// The value after the colon, if any.
        value: Option<String>,
    },
}

fn num<T: std::str::FromStr>(s: &str, what: &'static str) -> Result<T, BadValue> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadValue(what));
    }
    s.parse().map_err(|_| BadValue(what))
}

fn words(s: &str) -> Vec<String> {
    s.split_ascii_whitespace().map(str::to_string).collect()
}

impl Attribute {
    /// Parses the text after `a=`.
    pub(crate) fn parse(text: &str) -> Result<Attribute, BadValue> {
        let (name, value) = match text.split_once(':') {
            Some((n, v)) => (n, Some(v)),
            None => (text, None),
        };
        let need = |what: &'static str| value.ok_or(BadValue(what));
        Ok(match name {
            "group" => {
                let v = need("group needs semantics")?;
                let mut w = words(v);
                if w.is_empty() {
                    return Err(BadValue("group needs semantics"));
                }
                let semantics = w.remove(0);
                Attribute::Group { semantics, mids: w }
            }
            "extmap-allow-mixed" => Attribute::ExtmapAllowMixed,
            "msid-semantic" => {
                let mut w = words(need("msid-semantic needs a value")?);
                if w.is_empty() {
                    return Err(BadValue("msid-semantic needs a semantic"));
                }
                let semantic = w.remove(0);
                Attribute::MsidSemantic { semantic, ids: w }
            }
            "ice-lite" => Attribute::IceLite,
            "ice-ufrag" => Attribute::IceUfrag(need("ice-ufrag needs a value")?.trim().to_string()),
            "ice-pwd" => Attribute::IcePwd(need("ice-pwd needs a value")?.trim().to_string()),
            "ice-options" => Attribute::IceOptions(words(need("ice-options needs a value")?)),
            "fingerprint" => {
                let v = need("fingerprint needs a value")?;
                let (hash, value) = v
                    .trim()
                    .split_once(' ')
                    .ok_or(BadValue("fingerprint needs hash and value"))?;
                let value = value.trim();
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
                    return Err(BadValue("fingerprint value must be colon-separated hex"));
                }
                Attribute::Fingerprint {
                    hash: hash.to_string(),
                    value: value.to_string(),
                }
            }
            "setup" => Attribute::Setup(match need("setup needs a role")?.trim() {
                "active" => Setup::Active,
                "passive" => Setup::Passive,
                "actpass" => Setup::ActPass,
                "holdconn" => Setup::HoldConn,
                _ => {
                    return Err(BadValue(
                        "setup must be active, passive, actpass or holdconn",
                    ))
                }
            }),
            "mid" => {
                let v = need("mid needs a value")?.trim();
                if v.is_empty() || v.contains(char::is_whitespace) {
                    return Err(BadValue("mid must be one token"));
                }
                Attribute::Mid(v.to_string())
            }
            "msid" => {
                let mut w = words(need("msid needs a value")?).into_iter();
                let stream = w.next().ok_or(BadValue("msid needs a stream id"))?;
                Attribute::Msid {
                    stream,
                    track: w.next(),
                }
            }
            "sendrecv" | "sendonly" | "recvonly" | "inactive" if value.is_none() => {
                Attribute::Direction(Direction::from_name(name).ok_or(BadValue("direction"))?)
            }
            "rtcp-mux" => Attribute::RtcpMux,
            "rtcp-mux-only" => Attribute::RtcpMuxOnly,
            "rtcp-rsize" => Attribute::RtcpRsize,
            "rtpmap" => {
                let v = need("rtpmap needs a value")?;
                let (pt, enc) = v
                    .trim()
                    .split_once(' ')
                    .ok_or(BadValue("rtpmap needs <pt> <encoding>"))?;
                let pt: u8 = num(pt, "rtpmap payload type")?;
                let mut parts = enc.trim().split('/');
                let encoding = parts
                    .next()
                    .filter(|e| !e.is_empty())
                    .ok_or(BadValue("rtpmap encoding"))?;
                let clock: u32 = num(
                    parts.next().ok_or(BadValue("rtpmap needs a clock rate"))?,
                    "rtpmap clock rate",
                )?;
                let channels = parts
                    .next()
                    .map(|c| num(c, "rtpmap channels"))
                    .transpose()?;
                if parts.next().is_some() || pt > 127 {
                    return Err(BadValue(
                        "rtpmap has extra fields or a payload type above 127",
                    ));
                }
                Attribute::Rtpmap {
                    pt,
                    encoding: encoding.to_string(),
                    clock,
                    channels,
                }
            }
            "fmtp" => {
                let v = need("fmtp needs a value")?;
                let (pt, params) = v.trim().split_once(' ').unwrap_or((v.trim(), ""));
                let pt: u8 = num(pt, "fmtp payload type")?;
                Attribute::Fmtp {
                    pt,
                    params: params.trim().to_string(),
                }
            }
            "rtcp-fb" => {
                let v = need("rtcp-fb needs a value")?;
                let (pt, fb) = v
                    .trim()
                    .split_once(' ')
                    .ok_or(BadValue("rtcp-fb needs a type"))?;
                let pt = if pt == "*" {
                    None
                } else {
                    Some(num(pt, "rtcp-fb payload type")?)
                };
                let feedback = words(fb).join(" ");
                if feedback.is_empty() {
                    return Err(BadValue("rtcp-fb needs a type"));
                }
                Attribute::RtcpFb { pt, feedback }
            }
            "extmap" => {
                let v = need("extmap needs a value")?;
                let mut w = v.split_ascii_whitespace();
                let idd = w.next().ok_or(BadValue("extmap needs an id"))?;
                let (id, direction) = match idd.split_once('/') {
                    Some((i, d)) => (
                        i,
                        Some(Direction::from_name(d).ok_or(BadValue("extmap direction"))?),
                    ),
                    None => (idd, None),
                };
                let id: u16 = num(id, "extmap id")?;
                if !(1..=255).contains(&id) {
                    return Err(BadValue("extmap id must be 1 to 255"));
                }
                let uri = w.next().ok_or(BadValue("extmap needs a URI"))?.to_string();
                let rest: Vec<&str> = w.collect();
                let attributes = (!rest.is_empty()).then(|| rest.join(" "));
                Attribute::Extmap {
                    id,
                    direction,
                    uri,
                    attributes,
                }
            }
            "ssrc" => {
                let v = need("ssrc needs a value")?;
                let (ssrc, attr) = v
                    .trim()
                    .split_once(' ')
                    .ok_or(BadValue("ssrc needs an attribute"))?;
                let ssrc: u32 = num(ssrc, "ssrc")?;
                let attr = attr.trim();
                let (attribute, value) = match attr.split_once(':') {
                    Some((a, v)) => (a.to_string(), Some(v.to_string())),
                    None => (attr.to_string(), None),
                };
                if attribute.is_empty() {
                    return Err(BadValue("ssrc needs an attribute"));
                }
                Attribute::Ssrc {
                    ssrc,
                    attribute,
                    value,
                }
            }
            "ssrc-group" => {
                let mut w = words(need("ssrc-group needs a value")?).into_iter();
                let semantics = w.next().ok_or(BadValue("ssrc-group needs semantics"))?;
                let ssrcs = w
                    .map(|s| num(&s, "ssrc-group ssrc"))
                    .collect::<Result<Vec<u32>, _>>()?;
                Attribute::SsrcGroup { semantics, ssrcs }
            }
            "candidate" => Attribute::Candidate(
                CandidateAttr::parse(text).map_err(|_| BadValue("malformed candidate"))?,
            ),
            "end-of-candidates" => Attribute::EndOfCandidates,
            "sctp-port" => {
                Attribute::SctpPort(num(need("sctp-port needs a port")?.trim(), "sctp-port")?)
            }
            "max-message-size" => Attribute::MaxMessageSize(num(
                need("max-message-size needs a value")?.trim(),
                "max-message-size",
            )?),
            _ => {
                if name.is_empty() || name.contains(char::is_whitespace) {
                    return Err(BadValue("attribute name must be a token"));
                }
                Attribute::Other {
                    name: name.to_string(),
                    value: value.map(str::to_string),
                }
            }
        })
    }
}

impl fmt::Display for Attribute {
    /// The text after `a=`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Attribute::Group { semantics, mids } => {
                write!(f, "group:{semantics}")?;
                mids.iter().try_for_each(|m| write!(f, " {m}"))
            }
            Attribute::ExtmapAllowMixed => f.write_str("extmap-allow-mixed"),
            Attribute::MsidSemantic { semantic, ids } => {
                write!(f, "msid-semantic: {semantic}")?;
                ids.iter().try_for_each(|m| write!(f, " {m}"))
            }
            Attribute::IceLite => f.write_str("ice-lite"),
            Attribute::IceUfrag(u) => write!(f, "ice-ufrag:{u}"),
            Attribute::IcePwd(p) => write!(f, "ice-pwd:{p}"),
            Attribute::IceOptions(o) => write!(f, "ice-options:{}", o.join(" ")),
            Attribute::Fingerprint { hash, value } => write!(f, "fingerprint:{hash} {value}"),
            Attribute::Setup(s) => write!(f, "setup:{}", s.as_str()),
            Attribute::Mid(m) => write!(f, "mid:{m}"),
            Attribute::Msid { stream, track } => {
                write!(f, "msid:{stream}")?;
                track.iter().try_for_each(|t| write!(f, " {t}"))
            }
            Attribute::Direction(d) => f.write_str(d.as_str()),
            Attribute::RtcpMux => f.write_str("rtcp-mux"),
            Attribute::RtcpMuxOnly => f.write_str("rtcp-mux-only"),
            Attribute::RtcpRsize => f.write_str("rtcp-rsize"),
            Attribute::Rtpmap {
                pt,
                encoding,
                clock,
                channels,
            } => {
                write!(f, "rtpmap:{pt} {encoding}/{clock}")?;
                channels.iter().try_for_each(|c| write!(f, "/{c}"))
            }
            Attribute::Fmtp { pt, params } => write!(f, "fmtp:{pt} {params}"),
            Attribute::RtcpFb { pt, feedback } => match pt {
                Some(pt) => write!(f, "rtcp-fb:{pt} {feedback}"),
                None => write!(f, "rtcp-fb:* {feedback}"),
            },
            Attribute::Extmap {
                id,
                direction,
                uri,
                attributes,
            } => {
                write!(f, "extmap:{id}")?;
                direction
                    .iter()
                    .try_for_each(|d| write!(f, "/{}", d.as_str()))?;
                write!(f, " {uri}")?;
                attributes.iter().try_for_each(|a| write!(f, " {a}"))
            }
            Attribute::Ssrc {
                ssrc,
                attribute,
                value,
            } => {
                write!(f, "ssrc:{ssrc} {attribute}")?;
                value.iter().try_for_each(|v| write!(f, ":{v}"))
            }
            Attribute::SsrcGroup { semantics, ssrcs } => {
                write!(f, "ssrc-group:{semantics}")?;
                ssrcs.iter().try_for_each(|s| write!(f, " {s}"))
            }
            Attribute::Candidate(c) => write!(f, "{c}"),
            Attribute::EndOfCandidates => f.write_str("end-of-candidates"),
            Attribute::SctpPort(p) => write!(f, "sctp-port:{p}"),
            Attribute::MaxMessageSize(m) => write!(f, "max-message-size:{m}"),
            Attribute::Other { name, value } => match value {
                Some(v) => write!(f, "{name}:{v}"),
                None => f.write_str(name),
            },
        }
    }
}

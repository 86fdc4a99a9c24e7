//! Typed `a=` attributes of the WebRTC profile of SDP (RFC 8866 §6, RFC 8829
//! §5, RFC 8843, RFC 8839, RFC 8122, RFC 4145, RFC 8285, RFC 5576, RFC 4585,
//! RFC 8830, RFC 8841). Attributes meshrtc does not model are kept as
//! [`Attribute::Other`] and written back as they came.

use crate::candidate::CandidateAttr;
use std::borrow::Cow;
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

/// A typed attribute. Text fields borrow from the parsed description
/// ([`Attribute::into_owned`] detaches them).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Attribute<'a> {
    /// `group:<semantics> <mid>...` (RFC 5888; BUNDLE per RFC 8843).
    Group {
        /// e.g. `BUNDLE`.
        semantics: Cow<'a, str>,
        /// The mids.
        mids: Vec<Cow<'a, str>>,
    },
    /// `extmap-allow-mixed` (RFC 8285 §6).
    ExtmapAllowMixed,
    /// `msid-semantic: <semantic> [ids]` (Chromium's legacy attribute).
    MsidSemantic {
        /// e.g. `WMS`.
        semantic: Cow<'a, str>,
        /// Stream ids, often none.
        ids: Vec<Cow<'a, str>>,
    },
    /// `ice-lite` (RFC 8839 §5.3).
    IceLite,
    /// `ice-ufrag:<ufrag>` (RFC 8839 §5.4).
    IceUfrag(Cow<'a, str>),
    /// `ice-pwd:<pwd>` (RFC 8839 §5.4).
    IcePwd(Cow<'a, str>),
    /// `ice-options:<tokens>` (RFC 8839 §5.6), the tokens separated by
    /// single spaces.
    IceOptions(Cow<'a, str>),
    /// `fingerprint:<hash> <hex:hex:...>` (RFC 8122 §5).
    Fingerprint {
        /// Hash function, e.g. `sha-256`.
        hash: Cow<'a, str>,
        /// Colon-separated upper- or lower-case hex.
        value: Cow<'a, str>,
    },
    /// `setup:<role>` (RFC 4145).
    Setup(Setup),
    /// `mid:<id>` (RFC 5888).
    Mid(Cow<'a, str>),
    /// `msid:<stream> [<track>]` (RFC 8830).
    Msid {
        /// Stream id (`-` for none).
        stream: Cow<'a, str>,
        /// Track id.
        track: Option<Cow<'a, str>>,
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
        encoding: Cow<'a, str>,
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
        params: Cow<'a, str>,
    },
    /// `rtcp-fb:<pt|*> <type> [<subtype>]` (RFC 4585 §4.2).
    RtcpFb {
        /// Payload type, `None` for `*`.
        pt: Option<u8>,
        /// Feedback type and parameters separated by single spaces, e.g.
        /// `nack pli`.
        feedback: Cow<'a, str>,
    },
    /// `extmap:<id>[/<direction>] <uri> [<attributes>]` (RFC 8285 §8).
    Extmap {
        /// 1–14 (one-byte) or 1–255 (two-byte).
        id: u16,
        /// Optional direction.
        direction: Option<Direction>,
        /// Extension URI.
        uri: Cow<'a, str>,
        /// Extension attributes.
        attributes: Option<Cow<'a, str>>,
    },
    /// `ssrc:<ssrc> <attribute>[:<value>]` (RFC 5576 §4.1).
    Ssrc {
        /// The SSRC.
        ssrc: u32,
        /// e.g. `cname`, `msid`.
        attribute: Cow<'a, str>,
        /// Its value.
        value: Option<Cow<'a, str>>,
    },
    /// `ssrc-group:<semantics> <ssrc>...` (RFC 5576 §4.2), e.g. FID for RTX.
    SsrcGroup {
        /// e.g. `FID`.
        semantics: Cow<'a, str>,
        /// The SSRCs.
        ssrcs: Vec<u32>,
    },
    /// `candidate:...` (RFC 8839 §5.1), boxed: it is the largest variant.
    Candidate(Box<CandidateAttr<'a>>),
    /// `end-of-candidates` (RFC 8840 §8.2).
    EndOfCandidates,
    /// `sctp-port:<port>` (RFC 8841 §5).
    SctpPort(u16),
    /// `max-message-size:<bytes>` (RFC 8841 §6).
    MaxMessageSize(u64),
    /// Anything else, kept verbatim.
    Other {
        /// The name.
        name: Cow<'a, str>,
        /// The value after the colon, if any.
        value: Option<Cow<'a, str>>,
    },
}

/// Decimal digits only (no sign, no spaces: `FromStr` would take a `+`),
/// in one pass with an overflow check.
fn num<T: TryFrom<u64>>(s: &str, what: &'static str) -> Result<T, BadValue> {
    if s.is_empty() || s.len() > 19 {
        return Err(BadValue(what));
    }
    let mut v: u64 = 0;
    for &b in s.as_bytes() {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return Err(BadValue(what));
        }
        v = v * 10 + u64::from(d);
    }
    T::try_from(v).map_err(|_| BadValue(what))
}

fn words(s: &str) -> Vec<Cow<'_, str>> {
    s.split_ascii_whitespace().map(Cow::Borrowed).collect()
}

/// `s`'s words separated by single spaces: borrowed when `s` is already
/// written that way (the common case), joined otherwise.
pub(crate) fn spaced(s: &str) -> Cow<'_, str> {
    let s = s.trim_ascii();
    let tidy = crate::scan::single_spaced(s.as_bytes());
    if tidy {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.split_ascii_whitespace().collect::<Vec<_>>().join(" "))
    }
}

fn own(c: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(c.into_owned())
}

fn own_vec(v: Vec<Cow<'_, str>>) -> Vec<Cow<'static, str>> {
    v.into_iter().map(own).collect()
}

/// Splits at the first `sep` (short fields: a byte loop).
fn cut(s: &str, sep: u8) -> (&str, Option<&str>) {
    match s.bytes().position(|b| b == sep) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// Splits at the first run of spaces or tabs (the only separators a line
/// can hold once it is cut and trimmed).
fn split_word(s: &str) -> Option<(&str, &str)> {
    let i = crate::scan::find(s.as_bytes(), 0, b' ', b'\t')?;
    let rest = &s[i + 1..];
    Some((&s[..i], rest.trim_ascii_start()))
}

impl<'a> Attribute<'a> {
    /// Parses the text after `a=` and appends it to `out`. The frequent
    /// kinds push in their own arm, where the value is built, which saves
    /// a copy of the 56-byte value through a return slot.
    pub(crate) fn parse_into(text: &'a str, out: &mut Vec<Attribute<'a>>) -> Result<(), BadValue> {
        let (name, value) = match crate::scan::find(text.as_bytes(), 0, b':', b':') {
            Some(i) => (&text[..i], Some(&text[i + 1..])),
            None => (text, None),
        };
        let need = |what: &'static str| value.ok_or(BadValue(what));
        let a = match name {
            "rtcp-fb" => {
                let v = need("rtcp-fb needs a value")?.trim_ascii();
                let (pt, fb) = split_word(v).ok_or(BadValue("rtcp-fb needs a type"))?;
                let pt = if pt == "*" {
                    None
                } else {
                    Some(num(pt, "rtcp-fb payload type")?)
                };
                let feedback = spaced(fb);
                if feedback.is_empty() {
                    return Err(BadValue("rtcp-fb needs a type"));
                }
                out.push(Attribute::RtcpFb { pt, feedback });
                return Ok(());
            }
            "rtpmap" => {
                let v = need("rtpmap needs a value")?.trim_ascii();
                let (pt, enc) = split_word(v).ok_or(BadValue("rtpmap needs <pt> <encoding>"))?;
                let pt: u8 = num(pt, "rtpmap payload type")?;
                let (encoding, rest) = cut(enc, b'/');
                if encoding.is_empty() {
                    return Err(BadValue("rtpmap encoding"));
                }
                let (clock, channels) =
                    cut(rest.ok_or(BadValue("rtpmap needs a clock rate"))?, b'/');
                let clock: u32 = num(clock, "rtpmap clock rate")?;
                let channels = channels.map(|c| num(c, "rtpmap channels")).transpose()?;
                if pt > 127 {
                    return Err(BadValue(
                        "rtpmap has extra fields or a payload type above 127",
                    ));
                }
                out.push(Attribute::Rtpmap {
                    pt,
                    encoding: Cow::Borrowed(encoding),
                    clock,
                    channels,
                });
                return Ok(());
            }
            "fmtp" => {
                let v = need("fmtp needs a value")?.trim_ascii();
                let (pt, params) = split_word(v).unwrap_or((v, ""));
                let pt: u8 = num(pt, "fmtp payload type")?;
                out.push(Attribute::Fmtp {
                    pt,
                    params: Cow::Borrowed(params),
                });
                return Ok(());
            }
            "extmap" => {
                let v = need("extmap needs a value")?.trim_ascii();
                let (idd, rest) = split_word(v).ok_or(BadValue("extmap needs a URI"))?;
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
                let (uri, attrs) = split_word(rest).unwrap_or((rest, ""));
                if uri.is_empty() {
                    return Err(BadValue("extmap needs a URI"));
                }
                out.push(Attribute::Extmap {
                    id,
                    direction,
                    uri: Cow::Borrowed(uri),
                    attributes: (!attrs.is_empty()).then(|| spaced(attrs)),
                });
                return Ok(());
            }
            "ssrc" => {
                let v = need("ssrc needs a value")?.trim_ascii();
                let (ssrc, attr) = split_word(v).ok_or(BadValue("ssrc needs an attribute"))?;
                let ssrc: u32 = num(ssrc, "ssrc")?;
                let (attribute, value) = match attr.split_once(':') {
                    Some((a, v)) => (a, Some(Cow::Borrowed(v))),
                    None => (attr, None),
                };
                if attribute.is_empty() {
                    return Err(BadValue("ssrc needs an attribute"));
                }
                out.push(Attribute::Ssrc {
                    ssrc,
                    attribute: Cow::Borrowed(attribute),
                    value,
                });
                return Ok(());
            }
            "candidate" => Attribute::Candidate(Box::new(
                CandidateAttr::parse(text).map_err(|_| BadValue("malformed candidate"))?,
            )),
            "group" => {
                let mut w = words(need("group needs semantics")?).into_iter();
                let semantics = w.next().ok_or(BadValue("group needs semantics"))?;
                Attribute::Group {
                    semantics,
                    mids: w.collect(),
                }
            }
            "extmap-allow-mixed" => Attribute::ExtmapAllowMixed,
            "msid-semantic" => {
                let mut w = words(need("msid-semantic needs a value")?).into_iter();
                let semantic = w.next().ok_or(BadValue("msid-semantic needs a semantic"))?;
                Attribute::MsidSemantic {
                    semantic,
                    ids: w.collect(),
                }
            }
            "ice-lite" => Attribute::IceLite,
            "ice-ufrag" => {
                Attribute::IceUfrag(Cow::Borrowed(need("ice-ufrag needs a value")?.trim_ascii()))
            }
            "ice-pwd" => {
                Attribute::IcePwd(Cow::Borrowed(need("ice-pwd needs a value")?.trim_ascii()))
            }
            "ice-options" => Attribute::IceOptions(spaced(need("ice-options needs a value")?)),
            "fingerprint" => {
                let v = need("fingerprint needs a value")?.trim_ascii();
                let (hash, value) =
                    split_word(v).ok_or(BadValue("fingerprint needs hash and value"))?;
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
                    return Err(BadValue("fingerprint value must be colon-separated hex"));
                }
                Attribute::Fingerprint {
                    hash: Cow::Borrowed(hash),
                    value: Cow::Borrowed(value),
                }
            }
            "setup" => Attribute::Setup(match need("setup needs a role")?.trim_ascii() {
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
                let v = need("mid needs a value")?.trim_ascii();
                if v.is_empty() || v.contains(|c: char| c.is_ascii_whitespace()) {
                    return Err(BadValue("mid must be one token"));
                }
                Attribute::Mid(Cow::Borrowed(v))
            }
            "msid" => {
                let mut w = need("msid needs a value")?.split_ascii_whitespace();
                let stream = w.next().ok_or(BadValue("msid needs a stream id"))?;
                Attribute::Msid {
                    stream: Cow::Borrowed(stream),
                    track: w.next().map(Cow::Borrowed),
                }
            }
            "sendrecv" | "sendonly" | "recvonly" | "inactive" if value.is_none() => {
                Attribute::Direction(Direction::from_name(name).ok_or(BadValue("direction"))?)
            }
            "rtcp-mux" => Attribute::RtcpMux,
            "rtcp-mux-only" => Attribute::RtcpMuxOnly,
            "rtcp-rsize" => Attribute::RtcpRsize,
            "ssrc-group" => {
                let mut w = need("ssrc-group needs a value")?.split_ascii_whitespace();
                let semantics = w.next().ok_or(BadValue("ssrc-group needs semantics"))?;
                let ssrcs = w
                    .map(|s| num(s, "ssrc-group ssrc"))
                    .collect::<Result<Vec<u32>, _>>()?;
                Attribute::SsrcGroup {
                    semantics: Cow::Borrowed(semantics),
                    ssrcs,
                }
            }
            "end-of-candidates" => Attribute::EndOfCandidates,
            "sctp-port" => Attribute::SctpPort(num(
                need("sctp-port needs a port")?.trim_ascii(),
                "sctp-port",
            )?),
            "max-message-size" => Attribute::MaxMessageSize(num(
                need("max-message-size needs a value")?.trim_ascii(),
                "max-message-size",
            )?),
            _ => {
                if name.is_empty() || name.contains(|c: char| c.is_ascii_whitespace()) {
                    return Err(BadValue("attribute name must be a token"));
                }
                Attribute::Other {
                    name: Cow::Borrowed(name),
                    value: value.map(Cow::Borrowed),
                }
            }
        };
        out.push(a);
        Ok(())
    }

    /// The same attribute, owning its text.
    pub fn into_owned(self) -> Attribute<'static> {
        use Attribute as A;
        match self {
            A::Group { semantics, mids } => A::Group {
                semantics: own(semantics),
                mids: own_vec(mids),
            },
            A::ExtmapAllowMixed => A::ExtmapAllowMixed,
            A::MsidSemantic { semantic, ids } => A::MsidSemantic {
                semantic: own(semantic),
                ids: own_vec(ids),
            },
            A::IceLite => A::IceLite,
            A::IceUfrag(u) => A::IceUfrag(own(u)),
            A::IcePwd(p) => A::IcePwd(own(p)),
            A::IceOptions(o) => A::IceOptions(own(o)),
            A::Fingerprint { hash, value } => A::Fingerprint {
                hash: own(hash),
                value: own(value),
            },
            A::Setup(s) => A::Setup(s),
            A::Mid(m) => A::Mid(own(m)),
            A::Msid { stream, track } => A::Msid {
                stream: own(stream),
                track: track.map(own),
            },
            A::Direction(d) => A::Direction(d),
            A::RtcpMux => A::RtcpMux,
            A::RtcpMuxOnly => A::RtcpMuxOnly,
            A::RtcpRsize => A::RtcpRsize,
            A::Rtpmap {
                pt,
                encoding,
                clock,
                channels,
            } => A::Rtpmap {
                pt,
                encoding: own(encoding),
                clock,
                channels,
            },
            A::Fmtp { pt, params } => A::Fmtp {
                pt,
                params: own(params),
            },
            A::RtcpFb { pt, feedback } => A::RtcpFb {
                pt,
                feedback: own(feedback),
            },
            A::Extmap {
                id,
                direction,
                uri,
                attributes,
            } => A::Extmap {
                id,
                direction,
                uri: own(uri),
                attributes: attributes.map(own),
            },
            A::Ssrc {
                ssrc,
                attribute,
                value,
            } => A::Ssrc {
                ssrc,
                attribute: own(attribute),
                value: value.map(own),
            },
            A::SsrcGroup { semantics, ssrcs } => A::SsrcGroup {
                semantics: own(semantics),
                ssrcs,
            },
            A::Candidate(c) => A::Candidate(Box::new(c.into_owned())),
            A::EndOfCandidates => A::EndOfCandidates,
            A::SctpPort(p) => A::SctpPort(p),
            A::MaxMessageSize(m) => A::MaxMessageSize(m),
            A::Other { name, value } => A::Other {
                name: own(name),
                value: value.map(own),
            },
        }
    }
}

impl fmt::Display for Attribute<'_> {
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
            Attribute::IceOptions(o) => write!(f, "ice-options:{o}"),
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

//! The ICE candidate attribute (RFC 8839 §5.1, with `tcptype` from
//! RFC 6544 §4.5): its own parser and writer, since trickled candidates
//! arrive one by one, outside any description.
//!
//! ```text
//! candidate:<foundation> <component> <transport> <priority> <address> <port>
//!           typ <type> [raddr <address>] [rport <port>] *(<name> <value>)
//! ```

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

/// Why a candidate attribute could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CandidateError {
    /// The value does not start with `candidate:`.
    #[error("not a candidate attribute (expected \"candidate:\")")]
    NotACandidate,
    /// A required field is missing.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A field has an invalid value.
    #[error("invalid {field}: {value:?}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// What it said.
        value: String,
    },
    /// An extension name without its value.
    #[error("extension {0:?} has no value")]
    ExtensionWithoutValue(String),
}

/// A candidate's address: an IP address, or a name (browsers hide host
/// addresses behind random `<uuid>.local` mDNS names).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CandidateAddress<'a> {
    /// IPv4 or IPv6.
    Ip(IpAddr),
    /// A fully qualified domain name, e.g. an mDNS `.local` name.
    Fqdn(Cow<'a, str>),
}

impl<'a> CandidateAddress<'a> {
    fn parse(s: &'a str, field: &'static str) -> Result<CandidateAddress<'a>, CandidateError> {
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(CandidateAddress::Ip(ip));
        }
        let valid = !s.is_empty()
            && s.len() <= 253
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            && !s.starts_with('.')
            && s.bytes().any(|b| b.is_ascii_alphabetic());
        if valid {
            Ok(CandidateAddress::Fqdn(Cow::Borrowed(s)))
        } else {
            Err(CandidateError::Invalid {
                field,
                value: s.to_string(),
            })
        }
    }

    /// The same address, owning its name.
    pub fn into_owned(self) -> CandidateAddress<'static> {
        match self {
            CandidateAddress::Ip(ip) => CandidateAddress::Ip(ip),
            CandidateAddress::Fqdn(n) => CandidateAddress::Fqdn(Cow::Owned(n.into_owned())),
        }
    }
}

impl fmt::Display for CandidateAddress<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CandidateAddress::Ip(ip) => write!(f, "{ip}"),
            CandidateAddress::Fqdn(n) => f.write_str(n),
        }
    }
}

/// The candidate type (`typ`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CandidateType<'a> {
    /// `host`.
    Host,
    /// `srflx`.
    Srflx,
    /// `prflx`.
    Prflx,
    /// `relay`.
    Relay,
    /// Any other token, kept.
    Other(Cow<'a, str>),
}

impl CandidateType<'_> {
    fn as_str(&self) -> &str {
        match self {
            CandidateType::Host => "host",
            CandidateType::Srflx => "srflx",
            CandidateType::Prflx => "prflx",
            CandidateType::Relay => "relay",
            CandidateType::Other(s) => s,
        }
    }
}

/// An `a=candidate` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateAttr<'a> {
    /// 1 to 32 ice-chars.
    pub foundation: Cow<'a, str>,
    /// Component id, 1 to 256 (1 with rtcp-mux).
    pub component: u16,
    /// Transport as written (`udp`, `UDP`, `tcp`, …); compare case-insensitively.
    pub transport: Cow<'a, str>,
    /// Priority.
    pub priority: u32,
    /// Connection address.
    pub address: CandidateAddress<'a>,
    /// Port (TCP active candidates carry 9).
    pub port: u16,
    /// `typ`.
    pub typ: CandidateType<'a>,
    /// `raddr`.
    pub raddr: Option<CandidateAddress<'a>>,
    /// `rport`.
    pub rport: Option<u16>,
    /// Every other name/value pair in order (`tcptype`, `generation`,
    /// `ufrag`, `network-id`, `network-cost` and unknown ones alike) as
    /// written, separated by single spaces: `generation 0 network-cost 50`.
    /// Read them with [`CandidateAttr::extensions`] and
    /// [`CandidateAttr::extension`]. Kept as one text so that parsing a
    /// candidate allocates nothing for them.
    pub extensions: Cow<'a, str>,
}

fn is_ice_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

fn number<T: TryFrom<u64>>(s: &str, field: &'static str) -> Result<T, CandidateError> {
    // Digits only: no sign, no spaces (FromStr would accept a leading '+').
    let invalid = || CandidateError::Invalid {
        field,
        value: s.to_string(),
    };
    if s.is_empty() || s.len() > 19 {
        return Err(invalid());
    }
    let mut v: u64 = 0;
    for &b in s.as_bytes() {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return Err(invalid());
        }
        v = v * 10 + u64::from(d);
    }
    T::try_from(v).map_err(|_| invalid())
}

impl<'a> CandidateAttr<'a> {
    /// Parses the value, with or without a leading `a=`; whitespace between
    /// fields may be any run of spaces or tabs. The result borrows from
    /// `value`; [`CandidateAttr::into_owned`] detaches it.
    pub fn parse(value: &'a str) -> Result<CandidateAttr<'a>, CandidateError> {
        let v = value.trim_ascii();
        let v = v.strip_prefix("a=").unwrap_or(v);
        let v = v
            .strip_prefix("candidate:")
            .ok_or(CandidateError::NotACandidate)?;
        let mut f = v.split_ascii_whitespace();
        let mut next = |name: &'static str| f.next().ok_or(CandidateError::Missing(name));
        let foundation = next("foundation")?;
        if foundation.len() > 32 || !foundation.bytes().all(is_ice_char) {
            return Err(CandidateError::Invalid {
                field: "foundation",
                value: foundation.into(),
            });
        }
        let component: u16 = number(next("component")?, "component")?;
        if !(1..=256).contains(&component) {
            return Err(CandidateError::Invalid {
                field: "component",
                value: component.to_string(),
            });
        }
        let transport = next("transport")?;
        if !transport
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(CandidateError::Invalid {
                field: "transport",
                value: transport.into(),
            });
        }
        let priority: u32 = number(next("priority")?, "priority")?;
        let address = CandidateAddress::parse(next("address")?, "address")?;
        let port: u16 = number(next("port")?, "port")?;
        if next("typ")? != "typ" {
            return Err(CandidateError::Missing("typ"));
        }
        let typ = match next("candidate type")? {
            "host" => CandidateType::Host,
            "srflx" => CandidateType::Srflx,
            "prflx" => CandidateType::Prflx,
            "relay" => CandidateType::Relay,
            t if t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => {
                CandidateType::Other(Cow::Borrowed(t))
            }
            t => {
                return Err(CandidateError::Invalid {
                    field: "candidate type",
                    value: t.into(),
                })
            }
        };
        let mut c = CandidateAttr {
            foundation: Cow::Borrowed(foundation),
            component,
            transport: Cow::Borrowed(transport),
            priority,
            address,
            port,
            typ,
            raddr: None,
            rport: None,
            extensions: Cow::Borrowed(""),
        };
        // Extensions are borrowed as one slice from the first to the last;
        // only a raddr/rport written after an extension (legal, rare) makes
        // the pairs be joined into an owned text.
        let offset = |s: &str| s.as_ptr() as usize - v.as_ptr() as usize;
        let mut first_ext: Option<usize> = None;
        let mut interleaved = false;
        while let Some(name) = f.next() {
            let Some(value) = f.next() else {
                return Err(CandidateError::ExtensionWithoutValue(name.to_string()));
            };
            match name {
                "raddr" if c.raddr.is_none() => {
                    c.raddr = Some(CandidateAddress::parse(value, "raddr")?);
                    interleaved |= first_ext.is_some();
                }
                "rport" if c.rport.is_none() => {
                    c.rport = Some(number(value, "rport")?);
                    interleaved |= first_ext.is_some();
                }
                _ => {
                    first_ext.get_or_insert(offset(name));
                }
            }
        }
        if let Some(start) = first_ext {
            let rest = &v[start..];
            c.extensions = if interleaved {
                let mut out = String::new();
                let mut w = rest.split_ascii_whitespace();
                let (mut raddr_seen, mut rport_seen) = (false, false);
                while let (Some(n), Some(val)) = (w.next(), w.next()) {
                    let skip = match n {
                        "raddr" if !raddr_seen => {
                            raddr_seen = true;
                            true
                        }
                        "rport" if !rport_seen => {
                            rport_seen = true;
                            true
                        }
                        _ => false,
                    };
                    if !skip {
                        if !out.is_empty() {
                            out.push(' ');
                        }
                        out.push_str(n);
                        out.push(' ');
                        out.push_str(val);
                    }
                }
                Cow::Owned(out)
            } else {
                crate::attribute::spaced(rest)
            };
        }
        Ok(c)
    }

    /// Whether the transport is UDP.
    pub fn is_udp(&self) -> bool {
        self.transport.eq_ignore_ascii_case("udp")
    }

    /// The extension pairs in order.
    pub fn extensions(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut w = self.extensions.split_ascii_whitespace();
        std::iter::from_fn(move || Some((w.next()?, w.next()?)))
    }

    /// The value of an extension (`tcptype`, `ufrag`, `generation`, …).
    pub fn extension(&self, name: &str) -> Option<&str> {
        self.extensions().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The same candidate, owning its text.
    pub fn into_owned(self) -> CandidateAttr<'static> {
        let own = |c: Cow<'_, str>| Cow::Owned(c.into_owned());
        CandidateAttr {
            foundation: own(self.foundation),
            component: self.component,
            transport: own(self.transport),
            priority: self.priority,
            address: self.address.into_owned(),
            port: self.port,
            typ: match self.typ {
                CandidateType::Host => CandidateType::Host,
                CandidateType::Srflx => CandidateType::Srflx,
                CandidateType::Prflx => CandidateType::Prflx,
                CandidateType::Relay => CandidateType::Relay,
                CandidateType::Other(o) => CandidateType::Other(own(o)),
            },
            raddr: self.raddr.map(CandidateAddress::into_owned),
            rport: self.rport,
            extensions: own(self.extensions),
        }
    }
}

impl fmt::Display for CandidateAttr<'_> {
    /// Writes the value without `a=` (as `RTCIceCandidate.candidate` holds it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "candidate:{} {} {} {} {} {} typ {}",
            self.foundation,
            self.component,
            self.transport,
            self.priority,
            self.address,
            self.port,
            self.typ.as_str()
        )?;
        if let Some(a) = &self.raddr {
            write!(f, " raddr {a}")?;
        }
        if let Some(p) = self.rport {
            write!(f, " rport {p}")?;
        }
        if !self.extensions.is_empty() {
            write!(f, " {}", self.extensions)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chromium_trickled_candidates_parse_and_write_back_identically() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/chromium-156/chromium_session_trickled_candidates.json"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("\"candidate:"))
            .map(|l| l.trim_end_matches(',').trim_matches('"'))
            .collect();
        assert_eq!(lines.len(), 3);
        for l in lines {
            let c = CandidateAttr::parse(l).unwrap();
            assert_eq!(c.to_string(), l);
            assert_eq!(c.typ, CandidateType::Host);
            assert!(c.is_udp());
            assert_eq!(
                c.address,
                CandidateAddress::Ip("127.0.0.1".parse().unwrap())
            );
            assert_eq!(c.priority, 2_122_260_223);
            assert_eq!(c.extension("network-cost"), Some("50"));
        }
    }

    #[test]
    fn tcp_mdns_srflx_and_ipv6_candidates() {
        let tcp = CandidateAttr::parse(
            "a=candidate:2036777327 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active generation 0",
        )
        .unwrap();
        assert!(!tcp.is_udp());
        assert_eq!((tcp.port, tcp.extension("tcptype")), (9, Some("active")));
        let mdns = CandidateAttr::parse(
            "candidate:1 1 udp 2122260223 3c1a9d3e-4b2f-4e5a-9c1d-0a1b2c3d4e5f.local 54321 typ host",
        )
        .unwrap();
        assert!(matches!(mdns.address, CandidateAddress::Fqdn(ref n) if n.ends_with(".local")));
        let srflx = CandidateAttr::parse(
            "candidate:842163049 1 UDP 1677729535 203.0.113.7 61000 typ srflx raddr 192.168.1.2 rport 5000",
        )
        .unwrap();
        assert_eq!(srflx.typ, CandidateType::Srflx);
        assert_eq!(
            srflx.raddr,
            Some(CandidateAddress::Ip("192.168.1.2".parse().unwrap()))
        );
        assert_eq!(srflx.rport, Some(5000));
        assert_eq!(srflx.to_string(), "candidate:842163049 1 UDP 1677729535 203.0.113.7 61000 typ srflx raddr 192.168.1.2 rport 5000");
        // raddr/rport after an extension, and runs of spaces: the
        // extensions are what is left, single-spaced, in order.
        let odd = CandidateAttr::parse(
            "candidate:1 1 udp 1 203.0.113.7 5 typ srflx generation 0  raddr 10.0.0.1 ufrag ab rport 9 raddr 10.0.0.2",
        )
        .unwrap();
        assert_eq!(
            odd.raddr,
            Some(CandidateAddress::Ip("10.0.0.1".parse().unwrap()))
        );
        assert_eq!(odd.rport, Some(9));
        assert_eq!(odd.extensions, "generation 0 ufrag ab raddr 10.0.0.2");
        assert_eq!(
            odd.extensions().collect::<Vec<_>>(),
            [("generation", "0"), ("ufrag", "ab"), ("raddr", "10.0.0.2")]
        );
        assert_eq!(CandidateAttr::parse(&odd.to_string()).unwrap(), odd);
        let v6 = CandidateAttr::parse("candidate:1 1 udp 1 2001:db8::1 3478 typ host").unwrap();
        assert_eq!(
            v6.address,
            CandidateAddress::Ip("2001:db8::1".parse().unwrap())
        );
    }

    #[test]
    fn broken_candidates_each_give_their_error() {
        use CandidateError::*;
        let inv = |field: &'static str, value: &str| Invalid {
            field,
            value: value.into(),
        };
        for (text, err) in [
            ("foo:1 1 udp 1 1.2.3.4 5 typ host", NotACandidate),
            ("candidate:", Missing("foundation")),
            ("candidate:1 1 udp 1 1.2.3.4", Missing("port")),
            ("candidate:1 1 udp 1 1.2.3.4 5 host", Missing("typ")),
            (
                "candidate:1 1 udp 1 1.2.3.4 5 typ",
                Missing("candidate type"),
            ),
            (
                "candidate:f*o 1 udp 1 1.2.3.4 5 typ host",
                inv("foundation", "f*o"),
            ),
            (
                "candidate:1 0 udp 1 1.2.3.4 5 typ host",
                inv("component", "0"),
            ),
            (
                "candidate:1 1 udp -1 1.2.3.4 5 typ host",
                inv("priority", "-1"),
            ),
            (
                "candidate:1 1 udp 4294967296 1.2.3.4 5 typ host",
                inv("priority", "4294967296"),
            ),
            (
                "candidate:1 1 udp 1 1.2.3.4 65536 typ host",
                inv("port", "65536"),
            ),
            ("candidate:1 1 udp 1 1.2.3.4 +5 typ host", inv("port", "+5")),
            (
                "candidate:1 1 udp 1 ..bad 5 typ host",
                inv("address", "..bad"),
            ),
            (
                "candidate:1 1 udp 1 1.2.3.4 5 typ host raddr",
                ExtensionWithoutValue("raddr".into()),
            ),
            (
                "candidate:1 1 udp 1 1.2.3.4 5 typ host rport x",
                inv("rport", "x"),
            ),
        ] {
            assert_eq!(CandidateAttr::parse(text), Err(err), "{text}");
        }
    }
}

//! The session description (RFC 8866 §5): parsing what browsers send, and
//! writing with CRLF. Attributes are kept in order; line types meshrtc does
//! not model (`i=`, `u=`, `e=`, `p=`, `b=`, `r=`, `z=`, `k=`) are kept too.

use crate::attribute::{Attribute, Direction, Setup};
use std::fmt;

/// Where and why an SDP could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SDP line {line}: {reason}")]
pub struct SdpError {
    /// 1-based line number (0 when the error is about the whole text).
    pub line: usize,
    /// What was wrong.
    pub reason: String,
}

fn err(line: usize, reason: impl Into<String>) -> SdpError {
    SdpError {
        line,
        reason: reason.into(),
    }
}

/// `o=` (RFC 8866 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Username (`-` from browsers).
    pub username: String,
    /// Session id (digits).
    pub session_id: String,
    /// Session version (digits).
    pub session_version: String,
    /// `IN`.
    pub net_type: String,
    /// `IP4` or `IP6`.
    pub addr_type: String,
    /// Unicast address.
    pub address: String,
}

/// `c=` (RFC 8866 §5.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// `IN`.
    pub net_type: String,
    /// `IP4` or `IP6`.
    pub addr_type: String,
    /// The address as written (may carry `/ttl` for multicast).
    pub address: String,
}

/// One `m=` section (RFC 8866 §5.14) and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSection {
    /// `audio`, `video`, `application`, …
    pub kind: String,
    /// Port (0 rejects the section).
    pub port: u16,
    /// `/<count>` after the port, if any.
    pub port_count: Option<u16>,
    /// e.g. `UDP/TLS/RTP/SAVPF`, `UDP/DTLS/SCTP`.
    pub protocol: String,
    /// Payload types or `webrtc-datachannel`.
    pub formats: Vec<String>,
    /// `c=`.
    pub connection: Option<Connection>,
    /// `a=` lines in order.
    pub attributes: Vec<Attribute>,
    /// Other lines (`i=`, `b=`, `k=`) in order, as (type, value).
    pub other: Vec<(char, String)>,
}

/// A whole session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=`.
    pub origin: Origin,
    /// `s=` (`-` from browsers).
    pub session_name: String,
    /// `c=` at session level.
    pub connection: Option<Connection>,
    /// `t=` lines as (start, stop).
    pub timing: Vec<(u64, u64)>,
    /// Session-level `a=` lines in order.
    pub attributes: Vec<Attribute>,
    /// Other session-level lines in order, as (type, value).
    pub other: Vec<(char, String)>,
    /// The media sections.
    pub media: Vec<MediaSection>,
}

fn parse_connection(v: &str, line: usize) -> Result<Connection, SdpError> {
    let w: Vec<&str> = v.split_ascii_whitespace().collect();
    if w.len() != 3 {
        return Err(err(line, "c= needs <nettype> <addrtype> <address>"));
    }
    Ok(Connection {
        net_type: w[0].into(),
        addr_type: w[1].into(),
        address: w[2].into(),
    })
}

fn parse_media(v: &str, line: usize) -> Result<MediaSection, SdpError> {
    let w: Vec<&str> = v.split_ascii_whitespace().collect();
    if w.len() < 3 {
        return Err(err(line, "m= needs <media> <port> <proto> [<fmt>...]"));
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (port, count) = match w[1].split_once('/') {
        Some((p, c)) => (p, Some(c)),
        None => (w[1], None),
    };
    let port: u16 = port
        .parse()
        .ok()
        .filter(|_| digits(port))
        .ok_or_else(|| err(line, format!("m= port {:?} is not a port number", w[1])))?;
    let port_count = match count {
        Some(c) => Some(
            c.parse()
                .ok()
                .filter(|_| digits(c))
                .ok_or_else(|| err(line, format!("m= port count {c:?} is not a number")))?,
        ),
        None => None,
    };
    Ok(MediaSection {
        kind: w[0].into(),
        port,
        port_count,
        protocol: w[2].into(),
        formats: w[3..].iter().map(|s| s.to_string()).collect(),
        connection: None,
        attributes: Vec::new(),
        other: Vec::new(),
    })
}

impl SessionDescription {
    /// Parses an SDP. Accepts CRLF or LF, trailing whitespace and blank
    /// lines; requires `v=0` first, then `o=` and `s=`; refuses lines that
    /// are not `<letter>=<value>`, and malformed values of the lines and
    /// attributes it models (each error names its line).
    pub fn parse(text: &str) -> Result<SessionDescription, SdpError> {
        let mut lines = text
            .split('\n')
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim_end_matches(['\r', ' ', '\t'])))
            .filter(|(_, l)| !l.is_empty());
        let mut next_line = |expect: char| -> Result<(usize, String), SdpError> {
            let (n, l) = lines
                .next()
                .ok_or_else(|| err(0, format!("the description ends before its {expect}= line")))?;
            match l.split_once('=') {
                Some((t, v)) if t.len() == 1 && t.starts_with(expect) => Ok((n, v.to_string())),
                _ => Err(err(n, format!("expected a {expect}= line, found {l:?}"))),
            }
        };
        let (n, v) = next_line('v')?;
        if v != "0" {
            return Err(err(n, format!("unsupported version v={v}")));
        }
        let (n, o) = next_line('o')?;
        let w: Vec<&str> = o.split_ascii_whitespace().collect();
        if w.len() != 6 {
            return Err(err(n, "o= needs 6 fields"));
        }
        let origin = Origin {
            username: w[0].into(),
            session_id: w[1].into(),
            session_version: w[2].into(),
            net_type: w[3].into(),
            addr_type: w[4].into(),
            address: w[5].into(),
        };
        let (_, session_name) = next_line('s')?;
        let mut sd = SessionDescription {
            origin,
            session_name,
            connection: None,
            timing: Vec::new(),
            attributes: Vec::new(),
            other: Vec::new(),
            media: Vec::new(),
        };
        for (n, l) in lines {
            let Some((t, v)) = l
                .split_once('=')
                .filter(|(t, _)| t.len() == 1 && t.as_bytes()[0].is_ascii_lowercase())
            else {
                return Err(err(n, format!("not a <type>=<value> line: {l:?}")));
            };
            let t = t.as_bytes()[0] as char;
            let in_media = !sd.media.is_empty();
            match t {
                'm' => sd.media.push(parse_media(v, n)?),
                'a' => {
                    let a = Attribute::parse(v).map_err(|e| err(n, format!("a={v}: {}", e.0)))?;
                    match sd.media.last_mut() {
                        Some(m) => m.attributes.push(a),
                        None => sd.attributes.push(a),
                    }
                }
                'c' => {
                    let c = parse_connection(v, n)?;
                    match sd.media.last_mut() {
                        Some(m) => m.connection = Some(c),
                        None => sd.connection = Some(c),
                    }
                }
                't' if !in_media => {
                    let w: Vec<&str> = v.split_ascii_whitespace().collect();
                    let parsed = (w.len() == 2)
                        .then(|| Some((w[0].parse().ok()?, w[1].parse().ok()?)))
                        .flatten();
                    sd.timing
                        .push(parsed.ok_or_else(|| err(n, "t= needs <start> <stop>"))?);
                }
                'v' | 'o' | 's' | 't' => {
                    return Err(err(n, format!("{t}= cannot appear here")));
                }
                _ => match sd.media.last_mut() {
                    Some(m) => m.other.push((t, v.to_string())),
                    None => sd.other.push((t, v.to_string())),
                },
            }
        }
        Ok(sd)
    }

    /// The first session-level attribute `f` picks out.
    pub fn find<T>(&self, f: impl Fn(&Attribute) -> Option<T>) -> Option<T> {
        self.attributes.iter().find_map(f)
    }

    /// The mids of `a=group:BUNDLE`, if any.
    pub fn bundle(&self) -> Option<&[String]> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Group { semantics, mids } if semantics == "BUNDLE" => Some(mids.as_slice()),
            _ => None,
        })
    }
}

impl MediaSection {
    /// The first attribute `f` picks out.
    pub fn find<T>(&self, f: impl Fn(&Attribute) -> Option<T>) -> Option<T> {
        self.attributes.iter().find_map(f)
    }

    /// `a=mid`.
    pub fn mid(&self) -> Option<&str> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Mid(m) => Some(m.as_str()),
            _ => None,
        })
    }

    /// The direction attribute, `sendrecv` when absent (RFC 8866 §6.7).
    pub fn direction(&self) -> Direction {
        self.find(|a| match a {
            Attribute::Direction(d) => Some(*d),
            _ => None,
        })
        .unwrap_or(Direction::SendRecv)
    }

    /// `a=setup`.
    pub fn setup(&self) -> Option<Setup> {
        self.find(|a| match a {
            Attribute::Setup(s) => Some(*s),
            _ => None,
        })
    }

    /// `a=ice-ufrag` and `a=ice-pwd`.
    pub fn ice_credentials(&self) -> Option<(&str, &str)> {
        let u = self.attributes.iter().find_map(|a| match a {
            Attribute::IceUfrag(u) => Some(u.as_str()),
            _ => None,
        })?;
        let p = self.attributes.iter().find_map(|a| match a {
            Attribute::IcePwd(p) => Some(p.as_str()),
            _ => None,
        })?;
        Some((u, p))
    }

    /// Whether `a=rtcp-mux` is present.
    pub fn rtcp_mux(&self) -> bool {
        self.attributes.contains(&Attribute::RtcpMux)
    }
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.net_type, self.addr_type, self.address)
    }
}

impl fmt::Display for SessionDescription {
    /// Writes the description with CRLF line ends, in RFC 8866 order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        write!(f, "v=0\r\n")?;
        write!(
            f,
            "o={} {} {} {} {} {}\r\n",
            o.username, o.session_id, o.session_version, o.net_type, o.addr_type, o.address
        )?;
        write!(f, "s={}\r\n", self.session_name)?;
        for (t, v) in &self.other {
            write!(f, "{t}={v}\r\n")?;
        }
        if let Some(c) = &self.connection {
            write!(f, "c={c}\r\n")?;
        }
        for (start, stop) in &self.timing {
            write!(f, "t={start} {stop}\r\n")?;
        }
        for a in &self.attributes {
            write!(f, "a={a}\r\n")?;
        }
        for m in &self.media {
            write!(f, "m={} {}", m.kind, m.port)?;
            if let Some(c) = m.port_count {
                write!(f, "/{c}")?;
            }
            write!(f, " {}", m.protocol)?;
            for fmt in &m.formats {
                write!(f, " {fmt}")?;
            }
            write!(f, "\r\n")?;
            for (t, v) in &m.other {
                write!(f, "{t}={v}\r\n")?;
            }
            if let Some(c) = &m.connection {
                write!(f, "c={c}\r\n")?;
            }
            for a in &m.attributes {
                write!(f, "a={a}\r\n")?;
            }
        }
        Ok(())
    }
}

//! The session description (RFC 8866 §5): parsing what browsers send, and
//! writing with CRLF. Attributes are kept in order; line types meshrtc does
//! not model (`i=`, `u=`, `e=`, `p=`, `b=`, `r=`, `z=`, `k=`) are kept too.

use crate::attribute::{Attribute, Direction, Setup};
use std::borrow::Cow;
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
pub struct Origin<'a> {
    /// Username (`-` from browsers).
    pub username: Cow<'a, str>,
    /// Session id (digits).
    pub session_id: Cow<'a, str>,
    /// Session version (digits).
    pub session_version: Cow<'a, str>,
    /// `IN`.
    pub net_type: Cow<'a, str>,
    /// `IP4` or `IP6`.
    pub addr_type: Cow<'a, str>,
    /// Unicast address.
    pub address: Cow<'a, str>,
}

/// `c=` (RFC 8866 §5.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection<'a> {
    /// `IN`.
    pub net_type: Cow<'a, str>,
    /// `IP4` or `IP6`.
    pub addr_type: Cow<'a, str>,
    /// The address as written (may carry `/ttl` for multicast).
    pub address: Cow<'a, str>,
}

/// One `m=` section (RFC 8866 §5.14) and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSection<'a> {
    /// `audio`, `video`, `application`, …
    pub kind: Cow<'a, str>,
    /// Port (0 rejects the section).
    pub port: u16,
    /// `/<count>` after the port, if any.
    pub port_count: Option<u16>,
    /// e.g. `UDP/TLS/RTP/SAVPF`, `UDP/DTLS/SCTP`.
    pub protocol: Cow<'a, str>,
    /// Payload types or `webrtc-datachannel`.
    pub formats: Vec<Cow<'a, str>>,
    /// `c=`.
    pub connection: Option<Connection<'a>>,
    /// `a=` lines in order.
    pub attributes: Vec<Attribute<'a>>,
    /// Other lines (`i=`, `b=`, `k=`) in order, as (type, value).
    pub other: Vec<(char, Cow<'a, str>)>,
}

/// A whole session description. Parsing borrows the text (no copy of any
/// field); [`SessionDescription::into_owned`] detaches the result, and
/// descriptions built in code use `Cow::Borrowed` for constant text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription<'a> {
    /// `o=`.
    pub origin: Origin<'a>,
    /// `s=` (`-` from browsers).
    pub session_name: Cow<'a, str>,
    /// `c=` at session level.
    pub connection: Option<Connection<'a>>,
    /// `t=` lines as (start, stop).
    pub timing: Vec<(u64, u64)>,
    /// Session-level `a=` lines in order.
    pub attributes: Vec<Attribute<'a>>,
    /// Other session-level lines in order, as (type, value).
    pub other: Vec<(char, Cow<'a, str>)>,
    /// The media sections.
    pub media: Vec<MediaSection<'a>>,
}

fn own(c: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(c.into_owned())
}

fn parse_connection(v: &str, line: usize) -> Result<Connection<'_>, SdpError> {
    let mut w = v.split_ascii_whitespace();
    match (w.next(), w.next(), w.next(), w.next()) {
        (Some(n), Some(a), Some(addr), None) => Ok(Connection {
            net_type: Cow::Borrowed(n),
            addr_type: Cow::Borrowed(a),
            address: Cow::Borrowed(addr),
        }),
        _ => Err(err(line, "c= needs <nettype> <addrtype> <address>")),
    }
}

/// The non-blank lines with their 1-based numbers, trailing `\r`, spaces
/// and tabs cut.
struct Lines<'a> {
    text: &'a str,
    start: usize,
    n: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<(usize, &'a str)> {
        while self.start < self.text.len() {
            self.n += 1;
            let end = crate::scan::find(self.text.as_bytes(), self.start, b'\n', b'\n')
                .unwrap_or(self.text.len());
            let line = &self.text[self.start..end];
            self.start = end + 1;
            let mut len = line.len();
            while len > 0 && matches!(line.as_bytes()[len - 1], b'\r' | b' ' | b'\t') {
                len -= 1;
            }
            if len > 0 {
                return Some((self.n, &line[..len]));
            }
        }
        None
    }
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn parse_media(v: &str, line: usize, capacity: usize) -> Result<MediaSection<'_>, SdpError> {
    let mut w = v.split_ascii_whitespace();
    let (Some(kind), Some(port_text), Some(protocol)) = (w.next(), w.next(), w.next()) else {
        return Err(err(line, "m= needs <media> <port> <proto> [<fmt>...]"));
    };
    let (port, count) = match port_text.split_once('/') {
        Some((p, c)) => (p, Some(c)),
        None => (port_text, None),
    };
    let port: u16 = port
        .parse()
        .ok()
        .filter(|_| digits(port))
        .ok_or_else(|| err(line, format!("m= port {port_text:?} is not a port number")))?;
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
        kind: Cow::Borrowed(kind),
        port,
        port_count,
        protocol: Cow::Borrowed(protocol),
        formats: {
            // Sized once: at most one format per space left (23 for
            // Chromium's video line).
            let mut f = Vec::with_capacity(v.bytes().filter(|&b| b == b' ').count());
            f.extend(w.map(Cow::Borrowed));
            f
        },
        connection: None,
        attributes: Vec::with_capacity(capacity),
        other: Vec::new(),
    })
}

impl<'a> SessionDescription<'a> {
    /// Parses an SDP. Accepts CRLF or LF, trailing whitespace and blank
    /// lines; requires `v=0` first, then `o=` and `s=`; refuses lines that
    /// are not `<letter>=<value>`, and malformed values of the lines and
    /// attributes it models (each error names its line). The result
    /// borrows from `text`.
    pub fn parse(text: &'a str) -> Result<SessionDescription<'a>, SdpError> {
        // One pass over the lines (numbered from 1; blank ones skipped).
        // Each section's attribute list is sized from the text left (below).
        let mut lines = Lines {
            text,
            start: 0,
            n: 0,
        };
        let mut next_line = |expect: char| -> Result<(usize, &'a str), SdpError> {
            let (n, l) = lines
                .next()
                .ok_or_else(|| err(0, format!("the description ends before its {expect}= line")))?;
            match l.split_once('=') {
                Some((t, v)) if t.len() == 1 && t.starts_with(expect) => Ok((n, v)),
                _ => Err(err(n, format!("expected a {expect}= line, found {l:?}"))),
            }
        };
        let (n, v) = next_line('v')?;
        if v != "0" {
            return Err(err(n, format!("unsupported version v={v}")));
        }
        let (n, o) = next_line('o')?;
        let mut w = o.split_ascii_whitespace().map(Cow::Borrowed);
        let mut field = || w.next().ok_or_else(|| err(n, "o= needs 6 fields"));
        let origin = Origin {
            username: field()?,
            session_id: field()?,
            session_version: field()?,
            net_type: field()?,
            addr_type: field()?,
            address: field()?,
        };
        if w.next().is_some() {
            return Err(err(n, "o= needs 6 fields"));
        }
        let (_, session_name) = next_line('s')?;
        let mut sd = SessionDescription {
            origin,
            session_name: Cow::Borrowed(session_name),
            connection: None,
            timing: Vec::new(),
            attributes: Vec::with_capacity(8),
            other: Vec::new(),
            media: Vec::new(),
        };
        for (n, l) in lines {
            let b = l.as_bytes();
            if b.len() < 2 || b[1] != b'=' || !b[0].is_ascii_lowercase() {
                return Err(err(n, format!("not a <type>=<value> line: {l:?}")));
            }
            let t = b[0] as char;
            let v = &l[2..];
            match t {
                'a' => {
                    let list = match sd.media.last_mut() {
                        Some(m) => &mut m.attributes,
                        None => &mut sd.attributes,
                    };
                    if let Err(e) = Attribute::parse_into(v, list) {
                        return Err(err(n, format!("a={v}: {}", e.0)));
                    }
                }
                'm' => {
                    // Room for the rest of the text at ~40 bytes a line
                    // (Chromium's lines average 35), so a section's list
                    // is seldom regrown.
                    let at = l.as_ptr() as usize - text.as_ptr() as usize;
                    let m = parse_media(v, n, ((text.len() - at) / 40).clamp(4, 256))?;
                    sd.media.push(m);
                }
                'c' => {
                    let c = parse_connection(v, n)?;
                    match sd.media.last_mut() {
                        Some(m) => m.connection = Some(c),
                        None => sd.connection = Some(c),
                    }
                }
                't' if sd.media.is_empty() => {
                    let mut w = v.split_ascii_whitespace();
                    let parsed = match (w.next(), w.next(), w.next()) {
                        (Some(a), Some(b), None) if digits(a) && digits(b) => {
                            a.parse().ok().zip(b.parse().ok())
                        }
                        _ => None,
                    };
                    sd.timing
                        .push(parsed.ok_or_else(|| err(n, "t= needs <start> <stop>"))?);
                }
                'v' | 'o' | 's' | 't' => {
                    return Err(err(n, format!("{t}= cannot appear here")));
                }
                _ => match sd.media.last_mut() {
                    Some(m) => m.other.push((t, Cow::Borrowed(v))),
                    None => sd.other.push((t, Cow::Borrowed(v))),
                },
            }
        }
        Ok(sd)
    }

    /// The same description, owning its text.
    pub fn into_owned(self) -> SessionDescription<'static> {
        SessionDescription {
            origin: self.origin.into_owned(),
            session_name: own(self.session_name),
            connection: self.connection.map(Connection::into_owned),
            timing: self.timing,
            attributes: self
                .attributes
                .into_iter()
                .map(Attribute::into_owned)
                .collect(),
            other: self.other.into_iter().map(|(t, v)| (t, own(v))).collect(),
            media: self
                .media
                .into_iter()
                .map(MediaSection::into_owned)
                .collect(),
        }
    }

    /// The first session-level attribute `f` picks out.
    pub fn find<'s, T>(&'s self, f: impl Fn(&'s Attribute<'a>) -> Option<T>) -> Option<T> {
        self.attributes.iter().find_map(f)
    }

    /// The mids of `a=group:BUNDLE`, if any.
    pub fn bundle(&self) -> Option<&[Cow<'a, str>]> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Group { semantics, mids } if semantics == "BUNDLE" => Some(mids.as_slice()),
            _ => None,
        })
    }
}

impl<'a> MediaSection<'a> {
    /// The first attribute `f` picks out.
    pub fn find<'s, T>(&'s self, f: impl Fn(&'s Attribute<'a>) -> Option<T>) -> Option<T> {
        self.attributes.iter().find_map(f)
    }

    /// The same section, owning its text.
    pub fn into_owned(self) -> MediaSection<'static> {
        MediaSection {
            kind: own(self.kind),
            port: self.port,
            port_count: self.port_count,
            protocol: own(self.protocol),
            formats: self.formats.into_iter().map(own).collect(),
            connection: self.connection.map(Connection::into_owned),
            attributes: self
                .attributes
                .into_iter()
                .map(Attribute::into_owned)
                .collect(),
            other: self.other.into_iter().map(|(t, v)| (t, own(v))).collect(),
        }
    }

    /// `a=mid`.
    pub fn mid(&self) -> Option<&str> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Mid(m) => Some(m.as_ref()),
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
            Attribute::IceUfrag(u) => Some(u.as_ref()),
            _ => None,
        })?;
        let p = self.attributes.iter().find_map(|a| match a {
            Attribute::IcePwd(p) => Some(p.as_ref()),
            _ => None,
        })?;
        Some((u, p))
    }

    /// Whether `a=rtcp-mux` is present.
    pub fn rtcp_mux(&self) -> bool {
        self.attributes.contains(&Attribute::RtcpMux)
    }

    /// Whether `a=bundle-only` is present (RFC 9143 §6).
    pub fn bundle_only(&self) -> bool {
        self.attributes
            .iter()
            .any(|a| matches!(a, Attribute::Other { name, value: None } if name == "bundle-only"))
    }

    /// Whether the m-line is disabled: port 0 without `a=bundle-only`. RFC
    /// 9143 §6 (updating RFC 3264) lets an offerer give a zero port to an
    /// m-line it wants only inside the BUNDLE group, with `a=bundle-only`:
    /// that m-line is live, not rejected. Firefox offers every m-line it
    /// adds in a subsequent offer this way.
    pub fn is_disabled(&self) -> bool {
        self.port == 0 && !self.bundle_only()
    }
}

impl Origin<'_> {
    /// The same origin, owning its text.
    pub fn into_owned(self) -> Origin<'static> {
        Origin {
            username: own(self.username),
            session_id: own(self.session_id),
            session_version: own(self.session_version),
            net_type: own(self.net_type),
            addr_type: own(self.addr_type),
            address: own(self.address),
        }
    }
}

impl Connection<'_> {
    /// The same connection line, owning its text.
    pub fn into_owned(self) -> Connection<'static> {
        Connection {
            net_type: own(self.net_type),
            addr_type: own(self.addr_type),
            address: own(self.address),
        }
    }
}

impl fmt::Display for Connection<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.net_type, self.addr_type, self.address)
    }
}

impl fmt::Display for SessionDescription<'_> {
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

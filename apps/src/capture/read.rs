//! Reading captures back: classic pcap (the libpcap format, draft-ietf-
//! opsawg-pcap) and pcapng (draft-ietf-opsawg-pcapng), in either byte
//! order, as `meshrtc decode FILE` needs them: each packet's link-layer
//! bytes with its interface's link type, time, direction flag and
//! comments, and the TLS key log lines of Decryption Secrets Blocks.
//!
//! Input is untrusted: every length is checked, every failure is a typed
//! [`ReadError`], nothing panics (fuzzed by `fuzz/fuzz_targets/capture_file.rs`).

use super::ipframe::{self, Datagram, FrameError};
use super::pcapng::{block, opt, BYTE_ORDER_MAGIC, SECRETS_TLS_KEYLOG};

/// Link types we take UDP datagrams out of (www.tcpdump.org/linktypes.html).
pub mod linktype {
    /// BSD loopback: a 4-byte address family in host order.
    pub const NULL: u16 = 0;
    /// Ethernet II.
    pub const ETHERNET: u16 = 1;
    /// Raw IPv4 or IPv6.
    pub const RAW: u16 = 101;
    /// Linux "cooked" capture v1 (`tcpdump -i any`).
    pub const LINUX_SLL: u16 = 113;
    /// Raw IPv4.
    pub const IPV4: u16 = 228;
    /// Raw IPv6.
    pub const IPV6: u16 = 229;
}

/// Why a file is not a capture we can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// Neither a pcap magic number nor a pcapng section header.
    #[error("not a pcap or pcapng file (first bytes {0:02x?})")]
    Magic(Vec<u8>),
    /// The file ends inside a header or block.
    #[error("truncated at byte {offset}: {what}")]
    Truncated {
        /// Where.
        offset: usize,
        /// What was being read.
        what: &'static str,
    },
    /// A block whose length is not a multiple of 4, too small, or whose
    /// trailing length differs.
    #[error("bad block length {length} at byte {offset}")]
    BlockLength {
        /// Where the block starts.
        offset: usize,
        /// The length it claims.
        length: u32,
    },
    /// A packet on an interface no Interface Description Block declared.
    #[error("packet at byte {offset} names interface {interface}, which was not described")]
    UnknownInterface {
        /// Where.
        offset: usize,
        /// The interface id.
        interface: u32,
    },
}

/// One captured packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Its interface's link type.
    pub linktype: u16,
    /// The interface (0 in classic pcap).
    pub interface: u32,
    /// Seconds and nanoseconds since the Unix epoch.
    pub time: (u64, u32),
    /// `epb_flags`' direction: `Some(true)` outbound, `Some(false)`
    /// inbound, `None` unknown.
    pub outbound: Option<bool>,
    /// The packet's comments (`opt_comment`).
    pub comments: Vec<String>,
    /// The captured bytes, from the link-layer header on.
    pub data: Vec<u8>,
}

impl Packet {
    /// The UDP datagram inside, for the link types we know.
    pub fn datagram(&self) -> Result<Datagram<'_>, FrameError> {
        let d = &self.data[..];
        let ip = match self.linktype {
            linktype::RAW | linktype::IPV4 | linktype::IPV6 => d,
            linktype::NULL => d.get(4..).ok_or(FrameError::Truncated { got: d.len() })?,
            linktype::ETHERNET => {
                let mut at = 12;
                // 802.1Q tags before the EtherType.
                while d.get(at..at + 2) == Some(&[0x81, 0x00]) {
                    at += 4;
                }
                d.get(at + 2..)
                    .ok_or(FrameError::Truncated { got: d.len() })?
            }
            linktype::LINUX_SLL => d.get(16..).ok_or(FrameError::Truncated { got: d.len() })?,
            _ => return Err(FrameError::Version(0)),
        };
        ipframe::unframe(ip)
    }
}

/// A whole capture file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureFile {
    /// Its packets, in file order.
    pub packets: Vec<Packet>,
    /// The key log lines of every Decryption Secrets Block of type TLSK.
    pub key_log: String,
    /// Interfaces' names, by id (pcapng), per section in order.
    pub interfaces: Vec<String>,
}

struct Cursor<'a> {
    b: &'a [u8],
    little: bool,
}

impl Cursor<'_> {
    fn u16(&self, at: usize, what: &'static str) -> Result<u16, ReadError> {
        let s = self
            .b
            .get(at..at + 2)
            .ok_or(ReadError::Truncated { offset: at, what })?;
        let a = [s[0], s[1]];
        Ok(if self.little {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        })
    }

    fn u32(&self, at: usize, what: &'static str) -> Result<u32, ReadError> {
        let s = self
            .b
            .get(at..at + 4)
            .ok_or(ReadError::Truncated { offset: at, what })?;
        let a = [s[0], s[1], s[2], s[3]];
        Ok(if self.little {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    }
}

/// Reads a pcap or pcapng file.
pub fn read(b: &[u8]) -> Result<CaptureFile, ReadError> {
    let magic = b.get(..4).ok_or(ReadError::Truncated {
        offset: 0,
        what: "magic number",
    })?;
    let m = u32::from_le_bytes([magic[0], magic[1], magic[2], magic[3]]);
    match m {
        block::SHB => read_pcapng(b),
        0xa1b2_c3d4 | 0xa1b2_3c4d => read_pcap(b, true, m == 0xa1b2_3c4d),
        0xd4c3_b2a1 | 0x4d3c_b2a1 => read_pcap(b, false, m == 0x4d3c_b2a1),
        _ => Err(ReadError::Magic(magic.to_vec())),
    }
}

fn read_pcap(b: &[u8], little: bool, nanos: bool) -> Result<CaptureFile, ReadError> {
    let c = Cursor { b, little };
    // The link type's low 16 bits; the high ones carry FCS information.
    let linktype = (c.u32(20, "pcap file header")? & 0xffff) as u16;
    let mut out = CaptureFile::default();
    let mut at = 24;
    while at < b.len() {
        let secs = c.u32(at, "record header")?;
        let frac = c.u32(at + 4, "record header")?;
        let incl = c.u32(at + 8, "record header")? as usize;
        let data = b
            .get(at + 16..(at + 16).saturating_add(incl))
            .ok_or(ReadError::Truncated {
                offset: at + 16,
                what: "packet data",
            })?;
        let nanos = if nanos {
            frac
        } else {
            frac.saturating_mul(1000)
        };
        out.packets.push(Packet {
            linktype,
            interface: 0,
            time: (u64::from(secs), nanos.min(999_999_999)),
            outbound: None,
            comments: Vec::new(),
            data: data.to_vec(),
        });
        at += 16 + incl;
    }
    Ok(out)
}

/// An interface of the current section: link type and ticks per second.
struct Interface {
    linktype: u16,
    ticks: u64,
}

/// Options from `at` to `end`: (code, value) pairs, up to `opt_endofopt`.
fn options<'a>(
    c: &Cursor<'a>,
    mut at: usize,
    end: usize,
) -> Result<Vec<(u16, &'a [u8])>, ReadError> {
    let mut v = Vec::new();
    while at + 4 <= end {
        let code = c.u16(at, "option")?;
        let len = usize::from(c.u16(at + 2, "option")?);
        if code == opt::END {
            break;
        }
        let value =
            c.b.get(at + 4..at + 4 + len)
                .filter(|_| at + 4 + len <= end)
                .ok_or(ReadError::Truncated {
                    offset: at,
                    what: "option value",
                })?;
        v.push((code, value));
        at += 4 + len + (4 - len % 4) % 4;
    }
    Ok(v)
}

fn ticks_per_second(tsresol: u8) -> u64 {
    let exp = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 != 0 {
        1u64.checked_shl(exp).unwrap_or(u64::MAX)
    } else {
        10u64.checked_pow(exp).unwrap_or(u64::MAX)
    }
}

fn read_pcapng(b: &[u8]) -> Result<CaptureFile, ReadError> {
    let mut out = CaptureFile::default();
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut c = Cursor { b, little: true };
    let mut at = 0;
    while at < b.len() {
        // A section header sets the byte order of what follows.
        let raw_kind =
            u32::from_le_bytes(b.get(at..at + 4).and_then(|s| s.try_into().ok()).ok_or(
                ReadError::Truncated {
                    offset: at,
                    what: "block type",
                },
            )?);
        if raw_kind == block::SHB {
            let m = b.get(at + 8..at + 12).ok_or(ReadError::Truncated {
                offset: at,
                what: "byte-order magic",
            })?;
            c.little = u32::from_le_bytes([m[0], m[1], m[2], m[3]]) == BYTE_ORDER_MAGIC;
            interfaces.clear();
        }
        let kind = c.u32(at, "block type")?;
        let length = c.u32(at + 4, "block length")?;
        let len = length as usize;
        if len < 12 || len % 4 != 0 {
            return Err(ReadError::BlockLength { offset: at, length });
        }
        let end = at
            .checked_add(len)
            .filter(|&e| e <= b.len())
            .ok_or(ReadError::Truncated {
                offset: at,
                what: "block",
            })?;
        if c.u32(end - 4, "block trailer")? != length {
            return Err(ReadError::BlockLength { offset: at, length });
        }
        let body = at + 8;
        let body_end = end - 4;
        match kind {
            block::IDB => {
                let linktype = c.u16(body, "interface description")?;
                let mut ticks = 1_000_000;
                let mut name = String::new();
                for (code, v) in options(&c, body + 8, body_end)? {
                    match code {
                        opt::IF_TSRESOL if !v.is_empty() => ticks = ticks_per_second(v[0]),
                        opt::IF_NAME => name = String::from_utf8_lossy(v).into_owned(),
                        _ => {}
                    }
                }
                interfaces.push(Interface { linktype, ticks });
                out.interfaces.push(name);
            }
            block::EPB => {
                let interface = c.u32(body, "packet block")?;
                let hi = c.u32(body + 4, "packet block")?;
                let lo = c.u32(body + 8, "packet block")?;
                let caplen = c.u32(body + 12, "packet block")? as usize;
                let data_at = body + 20;
                let data = b
                    .get(data_at..data_at.saturating_add(caplen))
                    .filter(|_| data_at + caplen <= body_end)
                    .ok_or(ReadError::Truncated {
                        offset: data_at,
                        what: "packet data",
                    })?;
                let i = interfaces
                    .get(interface as usize)
                    .ok_or(ReadError::UnknownInterface {
                        offset: at,
                        interface,
                    })?;
                let mut p = Packet {
                    linktype: i.linktype,
                    interface,
                    time: split_time((u64::from(hi) << 32) | u64::from(lo), i.ticks),
                    outbound: None,
                    comments: Vec::new(),
                    data: data.to_vec(),
                };
                let opts_at = data_at + caplen + (4 - caplen % 4) % 4;
                for (code, v) in options(&c, opts_at, body_end)? {
                    match code {
                        opt::COMMENT => p.comments.push(String::from_utf8_lossy(v).into_owned()),
                        opt::EPB_FLAGS if v.len() == 4 => {
                            let a = [v[0], v[1], v[2], v[3]];
                            let f = if c.little {
                                u32::from_le_bytes(a)
                            } else {
                                u32::from_be_bytes(a)
                            };
                            p.outbound = match f & 3 {
                                1 => Some(false),
                                2 => Some(true),
                                _ => None,
                            };
                        }
                        _ => {}
                    }
                }
                out.packets.push(p);
            }
            block::SPB => {
                let i = interfaces.first().ok_or(ReadError::UnknownInterface {
                    offset: at,
                    interface: 0,
                })?;
                let orig = c.u32(body, "simple packet block")? as usize;
                let data = &b[(body + 4).min(body_end)..body_end];
                out.packets.push(Packet {
                    linktype: i.linktype,
                    interface: 0,
                    time: (0, 0),
                    outbound: None,
                    comments: Vec::new(),
                    data: data[..orig.min(data.len())].to_vec(),
                });
            }
            block::DSB => {
                let secrets_type = c.u32(body, "decryption secrets")?;
                let slen = c.u32(body + 4, "decryption secrets")? as usize;
                let data = b
                    .get(body + 8..(body + 8).saturating_add(slen))
                    .filter(|_| body + 8 + slen <= body_end)
                    .ok_or(ReadError::Truncated {
                        offset: body + 8,
                        what: "decryption secrets",
                    })?;
                if secrets_type == SECRETS_TLS_KEYLOG {
                    let text = String::from_utf8_lossy(data);
                    out.key_log.push_str(&text);
                    if !text.ends_with('\n') {
                        out.key_log.push('\n');
                    }
                }
            }
            // Section headers were handled above; other blocks (name
            // resolution, statistics, custom) say nothing we show.
            _ => {}
        }
        at = end;
    }
    Ok(out)
}

fn split_time(ticks: u64, per_second: u64) -> (u64, u32) {
    let per_second = per_second.max(1);
    let secs = ticks / per_second;
    let rem = u128::from(ticks % per_second);
    let nanos = (rem * 1_000_000_000 / u128::from(per_second)) as u32;
    (secs, nanos)
}

#[cfg(test)]
mod tests {
    use super::super::{ipframe, pcapng};
    use super::*;

    fn sample() -> (Vec<u8>, Vec<u8>) {
        let src = "127.0.0.1:4000".parse().unwrap();
        let dst = "127.0.0.1:5000".parse().unwrap();
        let ip = ipframe::frame(src, dst, b"\x00\x01\x00\x00payload");
        let mut f = pcapng::section_header("test");
        f.extend(pcapng::interface("lo"));
        f.extend(pcapng::tls_key_log("CLIENT_RANDOM aa bb\n"));
        f.extend(pcapng::packet(
            0,
            1_700_000_000_123_456,
            true,
            &ip,
            &["meshrtc-srtp x".into()],
        ));
        f.extend(pcapng::packet(0, 1_700_000_001_000_000, false, &ip, &[]));
        (f, ip)
    }

    #[test]
    fn our_pcapng_reads_back_with_times_flags_comments_and_secrets() {
        let (f, ip) = sample();
        let c = read(&f).unwrap();
        assert_eq!(c.key_log, "CLIENT_RANDOM aa bb\n");
        assert_eq!(c.interfaces, vec!["lo".to_string()]);
        assert_eq!(c.packets.len(), 2);
        let p = &c.packets[0];
        assert_eq!(p.linktype, linktype::RAW);
        assert_eq!(p.time, (1_700_000_000, 123_456_000));
        assert_eq!(p.outbound, Some(true));
        assert_eq!(p.comments, vec!["meshrtc-srtp x".to_string()]);
        assert_eq!(p.data, ip);
        assert_eq!(p.datagram().unwrap().payload, b"\x00\x01\x00\x00payload");
        assert_eq!(c.packets[1].outbound, Some(false));
    }

    #[test]
    fn classic_pcap_with_ethernet_in_both_byte_orders() {
        let src = "10.0.0.1:1".parse().unwrap();
        let dst = "10.0.0.2:2".parse().unwrap();
        let mut frame = vec![0u8; 12];
        frame.extend([0x08, 0x00]);
        frame.extend(ipframe::frame(src, dst, b"xyz"));
        for little in [true, false] {
            let w32 = |v: u32| {
                if little {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                }
            };
            let w16 = |v: u16| {
                if little {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                }
            };
            let mut f = Vec::new();
            f.extend(w32(0xa1b2_c3d4));
            f.extend(w16(2));
            f.extend(w16(4));
            f.extend([0; 8]);
            f.extend(w32(65535));
            f.extend(w32(1));
            f.extend(w32(10));
            f.extend(w32(500));
            f.extend(w32(frame.len() as u32));
            f.extend(w32(frame.len() as u32));
            f.extend(&frame);
            let c = read(&f).unwrap();
            assert_eq!(c.packets.len(), 1);
            assert_eq!(c.packets[0].time, (10, 500_000));
            let d = c.packets[0].datagram().unwrap();
            assert_eq!((d.src, d.dst, d.payload), (src, dst, &b"xyz"[..]));
        }
    }

    #[test]
    fn broken_files_are_typed_errors() {
        let (f, _) = sample();
        assert!(matches!(read(b"GIF89a"), Err(ReadError::Magic(_))));
        assert!(matches!(
            read(&f[..f.len() - 2]),
            Err(ReadError::Truncated { .. })
        ));
        let mut bad = f.clone();
        bad[4] = 13; // SHB length not a multiple of 4
        assert!(matches!(read(&bad), Err(ReadError::BlockLength { .. })));
        // A packet on interface 7 of a file with one.
        let mut orphan = pcapng::section_header("t");
        orphan.extend(pcapng::packet(7, 0, true, b"", &[]));
        assert!(matches!(
            read(&orphan),
            Err(ReadError::UnknownInterface { interface: 7, .. })
        ));
        // Every prefix of a good file reads or fails; none panics.
        for n in 0..f.len() {
            let _ = read(&f[..n]);
        }
    }
}

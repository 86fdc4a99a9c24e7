//! IP and UDP headers around a datagram, as a capture needs them: an
//! IPv4 header (RFC 791 §3.1) or an IPv6 header (RFC 8200 §3), then UDP
//! (RFC 768). And the reverse, for reading captures back.
//!
//! The UDP checksum is computed over the pseudo-header (RFC 768; RFC 8200
//! §8.1 makes it mandatory over IPv6), so tools that check it agree.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const IPV4_HEADER: usize = 20;
const IPV6_HEADER: usize = 40;
const UDP_HEADER: usize = 8;
const PROTO_UDP: u8 = 17;
/// The TTL / hop limit we write.
const TTL: u8 = 64;

/// Why a captured packet is not one UDP datagram we can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// Fewer bytes than the headers need.
    #[error("truncated IP/UDP packet: {got} bytes")]
    Truncated {
        /// The bytes there.
        got: usize,
    },
    /// Not IP version 4 or 6.
    #[error("IP version {0} (expected 4 or 6)")]
    Version(u8),
    /// Not UDP (or an IPv6 extension header, which we do not follow).
    #[error("IP protocol {0} is not UDP")]
    NotUdp(u8),
    /// A length field that does not fit the packet.
    #[error("bad length field")]
    Length,
}

fn sum16(mut acc: u32, bytes: &[u8]) -> u32 {
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The UDP header and payload with its checksum over the pseudo-header.
fn udp(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let len = (UDP_HEADER + payload.len()) as u16;
    let mut u = Vec::with_capacity(usize::from(len));
    u.extend_from_slice(&src.port().to_be_bytes());
    u.extend_from_slice(&dst.port().to_be_bytes());
    u.extend_from_slice(&len.to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    let mut acc = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => sum16(sum16(0, &s.octets()), &d.octets()),
        (s, d) => sum16(sum16(0, &v6(s).octets()), &v6(d).octets()),
    };
    acc += u32::from(PROTO_UDP) + u32::from(len);
    let mut c = fold(sum16(acc, &u));
    // RFC 768: a computed zero is sent as all ones.
    if c == 0 {
        c = 0xffff;
    }
    u[6..8].copy_from_slice(&c.to_be_bytes());
    u
}

fn v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

/// `payload` from `src` to `dst` in IPv4+UDP, or IPv6+UDP when either
/// address is IPv6 (an IPv4 one then mapped). Datagrams above 65507 bytes
/// do not exist on UDP; their length fields would wrap, so they are cut.
pub fn frame(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let payload = &payload[..payload.len().min(65_507)];
    let u = udp(src, dst, payload);
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = (IPV4_HEADER + u.len()) as u16;
            let mut h = [0u8; IPV4_HEADER];
            h[0] = 0x45;
            h[2..4].copy_from_slice(&total.to_be_bytes());
            // Don't fragment: these datagrams went out whole.
            h[6] = 0x40;
            h[8] = TTL;
            h[9] = PROTO_UDP;
            h[12..16].copy_from_slice(&s.octets());
            h[16..20].copy_from_slice(&d.octets());
            let c = fold(sum16(0, &h));
            h[10..12].copy_from_slice(&c.to_be_bytes());
            let mut v = h.to_vec();
            v.extend_from_slice(&u);
            v
        }
        (s, d) => {
            let mut h = [0u8; IPV6_HEADER];
            h[0] = 0x60;
            h[4..6].copy_from_slice(&(u.len() as u16).to_be_bytes());
            h[6] = PROTO_UDP;
            h[7] = TTL;
            h[8..24].copy_from_slice(&v6(s).octets());
            h[24..40].copy_from_slice(&v6(d).octets());
            let mut v = h.to_vec();
            v.extend_from_slice(&u);
            v
        }
    }
}

/// A UDP datagram read back from a raw IP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram<'a> {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// The UDP payload.
    pub payload: &'a [u8],
}

/// Reads the addresses and payload of an IPv4 or IPv6 UDP packet.
pub fn unframe(p: &[u8]) -> Result<Datagram<'_>, FrameError> {
    let first = *p.first().ok_or(FrameError::Truncated { got: 0 })?;
    let (src, dst, rest) = match first >> 4 {
        4 => {
            let ihl = usize::from(first & 0x0f) * 4;
            if p.len() < IPV4_HEADER.max(ihl) || ihl < IPV4_HEADER {
                return Err(FrameError::Truncated { got: p.len() });
            }
            if p[9] != PROTO_UDP {
                return Err(FrameError::NotUdp(p[9]));
            }
            let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
            if total < ihl || total > p.len() {
                return Err(FrameError::Length);
            }
            let s = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
            let d = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
            (IpAddr::V4(s), IpAddr::V4(d), &p[ihl..total])
        }
        6 => {
            if p.len() < IPV6_HEADER {
                return Err(FrameError::Truncated { got: p.len() });
            }
            if p[6] != PROTO_UDP {
                return Err(FrameError::NotUdp(p[6]));
            }
            let len = usize::from(u16::from_be_bytes([p[4], p[5]]));
            if IPV6_HEADER + len > p.len() {
                return Err(FrameError::Length);
            }
            let mut s = [0u8; 16];
            let mut d = [0u8; 16];
            s.copy_from_slice(&p[8..24]);
            d.copy_from_slice(&p[24..40]);
            (
                IpAddr::V6(Ipv6Addr::from(s)),
                IpAddr::V6(Ipv6Addr::from(d)),
                &p[IPV6_HEADER..IPV6_HEADER + len],
            )
        }
        v => return Err(FrameError::Version(v)),
    };
    if rest.len() < UDP_HEADER {
        return Err(FrameError::Truncated { got: p.len() });
    }
    let sport = u16::from_be_bytes([rest[0], rest[1]]);
    let dport = u16::from_be_bytes([rest[2], rest[3]]);
    let ulen = usize::from(u16::from_be_bytes([rest[4], rest[5]]));
    if ulen < UDP_HEADER || ulen > rest.len() {
        return Err(FrameError::Length);
    }
    Ok(Datagram {
        src: SocketAddr::new(src, sport),
        dst: SocketAddr::new(dst, dport),
        payload: &rest[UDP_HEADER..ulen],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_frame_has_valid_checksums_and_reads_back() {
        let src: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let dst: SocketAddr = "198.51.100.7:6000".parse().unwrap();
        let f = frame(src, dst, b"hello");
        assert_eq!(f.len(), 20 + 8 + 5);
        assert_eq!(&f[2..4], &[0, 33]);
        // A header with its checksum in sums to all ones (RFC 1071).
        assert_eq!(fold(sum16(0, &f[..20])), 0);
        // So does the UDP part with its pseudo-header.
        let pseudo = sum16(sum16(0, &f[12..16]), &f[16..20]) + 17 + 13;
        assert_eq!(fold(sum16(pseudo, &f[20..])), 0);
        let d = unframe(&f).unwrap();
        assert_eq!((d.src, d.dst, d.payload), (src, dst, &b"hello"[..]));
    }

    #[test]
    fn ipv6_frame_reads_back_with_its_checksum_set() {
        let src: SocketAddr = "[2001:db8::1]:5000".parse().unwrap();
        let dst: SocketAddr = "[2001:db8::2]:6000".parse().unwrap();
        let f = frame(src, dst, b"abc");
        assert_eq!(f[0] >> 4, 6);
        assert_eq!(f.len(), 40 + 8 + 3);
        assert_ne!(&f[46..48], &[0, 0]);
        let pseudo = sum16(sum16(0, &f[8..24]), &f[24..40]) + 17 + 11;
        assert_eq!(fold(sum16(pseudo, &f[40..])), 0);
        let d = unframe(&f).unwrap();
        assert_eq!((d.src, d.dst, d.payload), (src, dst, &b"abc"[..]));
    }

    #[test]
    fn bad_packets_are_typed_errors() {
        let src: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let f = frame(src, src, b"x");
        assert_eq!(unframe(&[]), Err(FrameError::Truncated { got: 0 }));
        assert_eq!(unframe(&f[..10]), Err(FrameError::Truncated { got: 10 }));
        let mut tcp = f.clone();
        tcp[9] = 6;
        assert_eq!(unframe(&tcp), Err(FrameError::NotUdp(6)));
        let mut long = f.clone();
        long[3] = 200;
        assert_eq!(unframe(&long), Err(FrameError::Length));
        assert_eq!(unframe(&[0x50; 40]), Err(FrameError::Version(5)));
    }
}

//! Demultiplexing of datagrams on one bundled 5-tuple by their first byte
//! (RFC 7983 §7, updating RFC 5764 §5.1.2).

/// What a datagram is, judged by its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketClass {
    /// 0..=3: STUN (RFC 8489).
    Stun,
    /// 16..=19: ZRTP (RFC 6189); never used by WebRTC.
    Zrtp,
    /// 20..=63: DTLS (RFC 6347).
    Dtls,
    /// 64..=79: TURN channel data (RFC 8656).
    TurnChannel,
    /// 128..=191 with a second byte (payload type with marker) outside
    /// 192..=223: RTP (RFC 3550).
    Rtp,
    /// 128..=191 with a packet type of 192..=223: RTCP (RFC 5761 §4).
    Rtcp,
    /// Anything else: to be dropped (and counted).
    Unknown,
}

impl PacketClass {
    /// A short name for logs and the packet inspector.
    pub fn name(self) -> &'static str {
        match self {
            PacketClass::Stun => "STUN",
            PacketClass::Zrtp => "ZRTP",
            PacketClass::Dtls => "DTLS",
            PacketClass::TurnChannel => "TURN ChannelData",
            PacketClass::Rtp => "RTP",
            PacketClass::Rtcp => "RTCP",
            PacketClass::Unknown => "unknown",
        }
    }
}

/// Classifies a datagram (RFC 7983 §7). An empty datagram is `Unknown`.
pub fn classify(datagram: &[u8]) -> PacketClass {
    let Some(&first) = datagram.first() else {
        return PacketClass::Unknown;
    };
    match first {
        0..=3 => PacketClass::Stun,
        16..=19 => PacketClass::Zrtp,
        20..=63 => PacketClass::Dtls,
        64..=79 => PacketClass::TurnChannel,
        128..=191 => match datagram.get(1) {
            // RFC 5761 §4: RTCP packet types 192..=223 occupy the byte where
            // RTP has marker + payload type; RTP payload types 64..=95 are
            // avoided so the two never collide.
            Some(192..=223) => PacketClass::Rtcp,
            Some(_) => PacketClass::Rtp,
            None => PacketClass::Unknown,
        },
        _ => PacketClass::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_first_byte_lands_in_the_rfc_7983_range() {
        for b in 0..=255u8 {
            let c = classify(&[b, 0x60]);
            let expect = match b {
                0..=3 => PacketClass::Stun,
                16..=19 => PacketClass::Zrtp,
                20..=63 => PacketClass::Dtls,
                64..=79 => PacketClass::TurnChannel,
                128..=191 => PacketClass::Rtp,
                _ => PacketClass::Unknown,
            };
            assert_eq!(c, expect, "first byte {b}");
        }
    }

    #[test]
    fn rtcp_is_told_from_rtp_by_its_packet_type() {
        assert_eq!(classify(&[0x80, 200]), PacketClass::Rtcp); // SR
        assert_eq!(classify(&[0x81, 205]), PacketClass::Rtcp); // RTPFB
        assert_eq!(classify(&[0x80, 96]), PacketClass::Rtp); // VP8, no marker
        assert_eq!(classify(&[0x80, 0x80 | 96]), PacketClass::Rtp); // VP8 with marker
        assert_eq!(classify(&[0x80]), PacketClass::Unknown);
        assert_eq!(classify(&[]), PacketClass::Unknown);
    }
}

//! Packets that came before what reads them: SRTP and SRTCP before our
//! SRTP keys, SCTP before our association.
//!
//! In DTLS 1.3 the client is done when it sends its Finished (the last
//! handshake message, RFC 8446 §2), so its first media and its SCTP
//! INIT leave at once and, reordered or with the Finished lost, reach the
//! server before the server has keys. RFC 6347 §4.1 lets a receiver
//! buffer records of a future epoch; the DTLS layer does so for its own
//! records, and the connection holds the SRTP that rides beside them the
//! same way: bounded in count and bytes, the excess dropped and counted,
//! and only what came over a path ICE validated (the caller checks).

use super::{MAX_EARLY_PACKETS, MAX_EARLY_PACKET_BYTES};

/// A bounded queue of early packets.
#[derive(Debug, Default)]
pub(super) struct EarlyPackets {
    packets: Vec<Vec<u8>>,
    bytes: usize,
    /// Packets held so far.
    pub held: u64,
    /// Packets dropped: over the bounds, or never readable.
    pub dropped: u64,
}

impl EarlyPackets {
    /// Holds a copy of `packet` if it fits [`MAX_EARLY_PACKETS`] and
    /// [`MAX_EARLY_PACKET_BYTES`]; otherwise counts it dropped.
    pub fn hold(&mut self, packet: &[u8]) {
        if self.packets.len() < MAX_EARLY_PACKETS
            && self.bytes + packet.len() <= MAX_EARLY_PACKET_BYTES
        {
            self.bytes += packet.len();
            self.packets.push(packet.to_vec());
            self.held += 1;
        } else {
            self.dropped += 1;
        }
    }

    /// Hands out what is held, in arrival order.
    pub fn take(&mut self) -> Vec<Vec<u8>> {
        self.bytes = 0;
        std::mem::take(&mut self.packets)
    }

    /// Forgets what is held (nothing will read it), counted dropped.
    pub fn discard(&mut self) {
        self.dropped += self.packets.len() as u64;
        self.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_up_to_the_count_and_byte_bounds_and_counts_the_rest() {
        let mut e = EarlyPackets::default();
        for i in 0..40u8 {
            e.hold(&[i; 100]);
        }
        assert_eq!((e.held, e.dropped), (32, 8));
        let out = e.take();
        assert_eq!(out.len(), 32);
        assert_eq!(out[0], vec![0; 100], "arrival order");
        assert_eq!(out[31], vec![31; 100]);
        assert!(e.take().is_empty());
        // Bytes: 64 KiB of 10,000-byte packets is 6.
        for _ in 0..8 {
            e.hold(&[0; 10_000]);
        }
        assert_eq!((e.held, e.dropped), (38, 10));
        e.discard();
        assert_eq!(e.dropped, 16);
        assert!(e.take().is_empty());
        e.hold(&[1; 60_000]);
        assert_eq!(e.held, 39, "the bytes were released");
    }
}

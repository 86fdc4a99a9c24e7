//! The per-connection ends of a media stream: stamping each outgoing
//! packet (sequence number, timestamp, transport-wide sequence number) and
//! sorting each incoming one (RTX unwrapped, padding-only packets counted
//! but not handed on), and asking for key frames with PLI (RFC 4585 §6.3.1)
//! until one arrives.

use crate::ext::TransportSeq;
use crate::session::unwrap_rtx;
use crate::{RtpError, RtpHeader, RtpPacket};
use std::time::{Duration, Instant};

/// Stamps the packets of one outgoing stream on one connection. The payload
/// (a VP8 frame split once for every peer, say) is shared; this is what
/// differs per connection: SSRC, payload type, sequence numbers, and, when
/// transport-cc is negotiated, the transport-wide sequence number in the
/// negotiated header extension on every packet (the counter is the
/// transport's, shared by all streams of a connection, so it is passed in).
#[derive(Debug, Clone)]
pub struct SendStream {
    header: RtpHeader,
    twcc_id: Option<u8>,
}

impl SendStream {
    /// A stream starting at `first_seq` (random, RFC 3550 §5.1). `mid` is
    /// written with its negotiated id on every packet when given
    /// (RFC 8843 §15), `twcc_id` is the transport-wide-cc extension id.
    pub fn new(
        ssrc: u32,
        payload_type: u8,
        first_seq: u16,
        mid: Option<(u8, &str)>,
        twcc_id: Option<u8>,
    ) -> Result<SendStream, RtpError> {
        let mut header = RtpHeader {
            ssrc,
            payload_type,
            sequence_number: first_seq.wrapping_sub(1),
            ..RtpHeader::default()
        };
        if let Some((id, mid)) = mid {
            header.extensions.set(id, mid.as_bytes())?;
        }
        Ok(SendStream { header, twcc_id })
    }

    /// Writes the next packet of the stream into `out` (appended):
    /// sequence number advanced, `timestamp` and `marker` as given,
    /// `transport_seq` in its extension when transport-cc is on. Returns
    /// the sequence number used (for the send buffer).
    pub fn write(
        &mut self,
        timestamp: u32,
        marker: bool,
        transport_seq: u16,
        payload: &[&[u8]],
        out: &mut Vec<u8>,
    ) -> Result<u16, RtpError> {
        self.header.sequence_number = self.header.sequence_number.wrapping_add(1);
        self.header.timestamp = timestamp;
        self.header.marker = marker;
        if let Some(id) = self.twcc_id {
            self.header
                .extensions
                .set(id, &TransportSeq(transport_seq).to_bytes())?;
        }
        self.header.write_parts(payload, 0, out)?;
        Ok(self.header.sequence_number)
    }

    /// The header as last written (for retransmissions, which keep its
    /// extensions).
    pub fn header(&self) -> &RtpHeader {
        &self.header
    }

    /// Writes later packets with another payload type (a renegotiation
    /// numbered the codec anew, RFC 8829 §5.2.2/§5.3.1). Only the number
    /// changes: the SSRC's sequence numbers run on, so its SRTP index
    /// (RFC 3711 §3.3.1) and the receivers' loss accounting do too. A new
    /// stream on the same SSRC would restart them at a random number, and
    /// a receiver would drop its packets as replayed or far out of order.
    pub fn set_payload_type(&mut self, payload_type: u8) {
        self.header.payload_type = payload_type;
    }
}

/// What a received packet is, once sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received<'a> {
    /// Media: its (original) sequence number and payload; `rtx` when it
    /// came as a retransmission.
    Media {
        /// The original sequence number.
        seq: u16,
        /// The payload.
        payload: &'a [u8],
        /// Whether it was unwrapped from RTX.
        rtx: bool,
    },
    /// Padding only (bandwidth probing): counted in the sequence tracking,
    /// nothing to decode.
    Padding {
        /// Its sequence number (in the stream it came on).
        seq: u16,
    },
}

/// Sorts a packet of a stream whose media SSRC is `media_ssrc` and whose
/// RTX stream is `rtx` (SSRC, payload type). Packets of other streams are
/// `None`. An RTX packet without its 2-byte original sequence number, or a
/// padding-only RTX packet, is `Padding` of the RTX stream (RFC 4588 §4:
/// RTX padding probes carry no original).
pub fn classify<'a>(
    p: &RtpPacket<'a>,
    media_ssrc: u32,
    rtx: Option<(u32, u8)>,
) -> Option<Received<'a>> {
    if p.ssrc() == media_ssrc {
        return Some(if p.payload().is_empty() {
            Received::Padding {
                seq: p.sequence_number(),
            }
        } else {
            Received::Media {
                seq: p.sequence_number(),
                payload: p.payload(),
                rtx: false,
            }
        });
    }
    match rtx {
        Some((ssrc, pt)) if p.ssrc() == ssrc && p.payload_type() == pt => {
            Some(match unwrap_rtx(p.payload()) {
                Some((seq, payload)) if !payload.is_empty() => Received::Media {
                    seq,
                    payload,
                    rtx: true,
                },
                _ => Received::Padding {
                    seq: p.sequence_number(),
                },
            })
        }
        _ => None,
    }
}

/// Asks for a key frame with PLI until one arrives (RFC 4585 §6.3.1,
/// RFC 5104 §4.3.1.1): a decoder that starts, or loses a frame it cannot
/// recover, needs one; the first PLI may be lost, so it is repeated every
/// `interval` (by default max(RTT, 200 ms)) until [`KeyframeRequester::on_keyframe`].
#[derive(Debug, Clone)]
pub struct KeyframeRequester {
    interval: Duration,
    rtt: Option<Duration>,
    waiting_since: Option<Instant>,
    last_sent: Option<Instant>,
    sent: u64,
}

impl Default for KeyframeRequester {
    fn default() -> Self {
        KeyframeRequester::new(Duration::from_millis(200))
    }
}

impl KeyframeRequester {
    /// Repeats at least `interval` apart.
    pub fn new(interval: Duration) -> KeyframeRequester {
        KeyframeRequester {
            interval,
            rtt: None,
            waiting_since: None,
            last_sent: None,
            sent: 0,
        }
    }

    /// The round-trip time; repeats are at least this far apart.
    pub fn set_rtt(&mut self, rtt: Duration) {
        self.rtt = Some(rtt);
    }

    /// A key frame is needed (the decoder starts, or a frame was lost for
    /// good). Repeated calls while waiting change nothing.
    pub fn request(&mut self, now: Instant) {
        if self.waiting_since.is_none() {
            self.waiting_since = Some(now);
            self.last_sent = None;
        }
    }

    /// A key frame arrived: stop asking.
    pub fn on_keyframe(&mut self) {
        self.waiting_since = None;
        self.last_sent = None;
    }

    /// Whether one is being waited for.
    pub fn waiting(&self) -> bool {
        self.waiting_since.is_some()
    }

    /// PLIs sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    fn spacing(&self) -> Duration {
        self.rtt.map_or(self.interval, |r| r.max(self.interval))
    }

    /// Whether to send a PLI now (then it counts as sent).
    #[must_use]
    pub fn poll_pli(&mut self, now: Instant) -> bool {
        let due = match (self.waiting_since, self.last_sent) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(_), Some(t)) => t.checked_add(self.spacing()).is_some_and(|d| now >= d),
        };
        if due {
            self.last_sent = Some(now);
            self.sent += 1;
        }
        due
    }

    /// When [`KeyframeRequester::poll_pli`] will next say yes.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.waiting_since?;
        match self.last_sent {
            None => self.waiting_since,
            Some(t) => t.checked_add(self.spacing()),
        }
    }
}

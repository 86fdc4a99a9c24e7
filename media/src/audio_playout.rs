//! Received Opus to PCM on a steady 20 ms clock: an
//! [`AudioJitterBuffer`] in front of an [`OpusDecoder`]. Each frame comes
//! out decoded from its packet, recovered from the next packet's in-band
//! FEC, or concealed by the decoder (Opus packet loss concealment,
//! RFC 6716 §4.4), and counted as which.

use std::time::Instant;

use crate::audio_jitter::{AudioJitterBuffer, JitterStats, Playout, PushOutcome};
use crate::opus::OpusDecoder;
use crate::MediaError;

/// See the module documentation.
#[derive(Debug)]
pub struct AudioPlayout {
    buffer: AudioJitterBuffer,
    decoder: OpusDecoder,
}

impl AudioPlayout {
    /// 48 kHz playout with `channels` channels.
    pub fn new(channels: u8) -> Result<AudioPlayout, MediaError> {
        Ok(AudioPlayout {
            buffer: AudioJitterBuffer::new(),
            decoder: OpusDecoder::new(48_000, channels)?,
        })
    }

    /// An Opus packet with this RTP timestamp arrived at `now`.
    pub fn push(&mut self, now: Instant, rtp_timestamp: u32, packet: Vec<u8>) -> PushOutcome {
        self.buffer.push(now, rtp_timestamp, packet)
    }

    /// The next 20 ms of PCM, if due at `now`; call until `None`. A frame
    /// that does not decode is concealed in its place.
    pub fn poll(&mut self, now: Instant) -> Option<Vec<i16>> {
        let pcm = match self.buffer.poll(now)? {
            Playout::Packet(p) => self.decoder.decode(Some(&p)),
            Playout::Fec(next) => self.decoder.decode_fec(&next),
            Playout::Conceal => self.decoder.decode(None),
        };
        Some(
            pcm.or_else(|_| self.decoder.decode(None))
                .unwrap_or_default(),
        )
    }

    /// The jitter buffer's counters.
    pub fn stats(&self) -> JitterStats {
        self.buffer.stats()
    }

    /// Packets the decoder refused.
    pub fn decode_errors(&self) -> u64 {
        self.decoder.decode_errors
    }

    /// The jitter buffer (its delay and jitter estimate).
    pub fn buffer(&self) -> &AudioJitterBuffer {
        &self.buffer
    }
}

//! Opus (RFC 6716) encode and decode on the system libopus, via `audiopus`.
//!
//! Frames are 20 ms of interleaved 16-bit PCM, the WebRTC default packet
//! time (`a=ptime:20`; RFC 7587 §4.2). `audiopus-sys` finds libopus with
//! pkg-config, so nothing is built from source.

use audiopus::coder::{Decoder, Encoder};
use audiopus::packet::Packet;
use audiopus::{Application, Bitrate, Channels, MutSignals, SampleRate};

use crate::MediaError;

/// Frame duration in milliseconds.
pub const FRAME_MS: u32 = 20;
/// Largest Opus packet duration (RFC 6716 §3.2.5), for decode buffers.
const MAX_PACKET_MS: u32 = 120;
/// Output buffer for one encoded packet; RFC 6716 §3.2.1 caps a frame at
/// 1275 bytes and a 20 ms packet holds one frame, with room to spare here.
const MAX_PACKET_BYTES: usize = 4000;

fn opus_err(op: &'static str) -> impl Fn(audiopus::Error) -> MediaError {
    move |e| MediaError::Opus {
        op,
        detail: e.to_string(),
    }
}

fn params(sample_rate: u32, channels: u8) -> Result<(SampleRate, Channels), MediaError> {
    let rate = match sample_rate {
        8000 => SampleRate::Hz8000,
        12000 => SampleRate::Hz12000,
        16000 => SampleRate::Hz16000,
        24000 => SampleRate::Hz24000,
        48000 => SampleRate::Hz48000,
        _ => {
            return Err(MediaError::InvalidConfig(
                "Opus sample rate must be 8, 12, 16, 24 or 48 kHz",
            ))
        }
    };
    let ch = match channels {
        1 => Channels::Mono,
        2 => Channels::Stereo,
        _ => return Err(MediaError::InvalidConfig("Opus channels must be 1 or 2")),
    };
    Ok((rate, ch))
}

/// Samples per channel in one 20 ms frame at `sample_rate`.
pub fn frame_samples(sample_rate: u32) -> usize {
    (sample_rate * FRAME_MS / 1000) as usize
}

/// An Opus encoder for 20 ms frames (VoIP application mode).
pub struct OpusEncoder {
    inner: Encoder,
    channels: u8,
    frame_len: usize,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder")
            .field("channels", &self.channels)
            .field("frame_len", &self.frame_len)
            .finish_non_exhaustive()
    }
}

impl OpusEncoder {
    /// Creates an encoder. `sample_rate` is normally 48000 (WebRTC always
    /// signals Opus at 48 kHz), `channels` 1 or 2.
    pub fn new(sample_rate: u32, channels: u8, bitrate_bps: u32) -> Result<Self, MediaError> {
        let (rate, ch) = params(sample_rate, channels)?;
        let mut inner =
            Encoder::new(rate, ch, Application::Voip).map_err(opus_err("encoder init"))?;
        inner
            .set_bitrate(Bitrate::BitsPerSecond(
                bitrate_bps.clamp(6000, 510_000) as i32
            ))
            .map_err(opus_err("set bitrate"))?;
        Ok(OpusEncoder {
            inner,
            channels,
            frame_len: frame_samples(sample_rate) * channels as usize,
        })
    }

    /// Interleaved samples (all channels) in one frame: what
    /// [`encode`](Self::encode) expects.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// Encodes exactly one 20 ms frame of interleaved PCM into one packet.
    pub fn encode(&mut self, pcm: &[i16]) -> Result<Vec<u8>, MediaError> {
        if pcm.len() != self.frame_len {
            return Err(MediaError::BadPcmLength {
                expected: self.frame_len,
                got: pcm.len(),
            });
        }
        let mut out = vec![0u8; MAX_PACKET_BYTES];
        let n = self
            .inner
            .encode(pcm, &mut out)
            .map_err(opus_err("encode"))?;
        out.truncate(n);
        Ok(out)
    }

    /// In-band FEC (RFC 6716 §2.1.7) for a path that loses about
    /// `loss_percent` of its packets: each packet then carries a
    /// low-bitrate copy of the previous frame, which a receiver that lost
    /// that frame decodes instead ([`OpusDecoder::decode_fec`]). What the
    /// receiver asks for with `useinbandfec=1` (RFC 7587 §6.1). `0` turns
    /// it off. The copy is only made in Opus's SILK and hybrid modes
    /// (speech-like signals at voice bitrates).
    pub fn set_inband_fec(&mut self, loss_percent: u8) -> Result<(), MediaError> {
        self.inner
            .set_inband_fec(loss_percent > 0)
            .map_err(opus_err("set inband FEC"))?;
        self.inner
            .set_packet_loss_perc(loss_percent.min(100))
            .map_err(opus_err("set packet loss"))
    }

    /// Changes the target bitrate (clamped to Opus's 6..=510 kbps).
    pub fn set_bitrate(&mut self, bps: u32) -> Result<(), MediaError> {
        self.inner
            .set_bitrate(Bitrate::BitsPerSecond(bps.clamp(6000, 510_000) as i32))
            .map_err(opus_err("set bitrate"))
    }
}

/// An Opus decoder.
pub struct OpusDecoder {
    inner: Decoder,
    channels: u8,
    sample_rate: u32,
    /// Packets that failed to decode.
    pub decode_errors: u64,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("channels", &self.channels)
            .field("sample_rate", &self.sample_rate)
            .field("decode_errors", &self.decode_errors)
            .finish_non_exhaustive()
    }
}

impl OpusDecoder {
    /// Creates a decoder producing `channels` channels at `sample_rate`.
    pub fn new(sample_rate: u32, channels: u8) -> Result<Self, MediaError> {
        let (rate, ch) = params(sample_rate, channels)?;
        let inner = Decoder::new(rate, ch).map_err(opus_err("decoder init"))?;
        Ok(OpusDecoder {
            inner,
            channels,
            sample_rate,
            decode_errors: 0,
        })
    }

    /// Decodes one packet into interleaved PCM. `None` means the packet was
    /// lost: the decoder conceals it and returns 20 ms of plausible audio.
    pub fn decode(&mut self, packet: Option<&[u8]>) -> Result<Vec<i16>, MediaError> {
        let ch = self.channels as usize;
        let result = match packet {
            Some(data) => {
                let max = frame_samples(self.sample_rate) * (MAX_PACKET_MS / FRAME_MS) as usize;
                let mut out = vec![0i16; max * ch];
                Packet::try_from(data)
                    .and_then(|p| {
                        let signals = MutSignals::try_from(&mut out)?;
                        self.inner.decode(Some(p), signals, false)
                    })
                    .map(|n| {
                        out.truncate(n * ch);
                        out
                    })
            }
            None => {
                let mut out = vec![0i16; frame_samples(self.sample_rate) * ch];
                MutSignals::try_from(&mut out)
                    .and_then(|signals| self.inner.decode(None, signals, false))
                    .map(|n| {
                        out.truncate(n * ch);
                        out
                    })
            }
        };
        result.map_err(|e| {
            self.decode_errors += 1;
            tracing::debug!(error = %e, "Opus decode error");
            opus_err("decode")(e)
        })
    }

    /// The 20 ms frame *before* `next_packet`, from its in-band FEC data
    /// (RFC 6716 §2.1.7), for a frame whose own packet was lost. A packet
    /// without FEC data conceals the frame instead, as `decode(None)`.
    pub fn decode_fec(&mut self, next_packet: &[u8]) -> Result<Vec<i16>, MediaError> {
        let ch = self.channels as usize;
        let mut out = vec![0i16; frame_samples(self.sample_rate) * ch];
        Packet::try_from(next_packet)
            .and_then(|p| {
                let signals = MutSignals::try_from(&mut out)?;
                self.inner.decode(Some(p), signals, true)
            })
            .map(|n| {
                out.truncate(n * ch);
                out
            })
            .map_err(|e| {
                self.decode_errors += 1;
                tracing::debug!(error = %e, "Opus FEC decode error");
                opus_err("decode FEC")(e)
            })
    }
}

//! The crate's one error type.

/// Everything that can go wrong in `meshrtc-media`.
///
/// Bad input (a corrupt VP8 frame, a truncated IVF file) is one of these,
/// never a panic. Caller mistakes (a frame of the wrong size, a PCM buffer of
/// the wrong length) have variants of their own.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// libvpx refused to set up an encoder or decoder.
    #[error("libvpx init failed: {detail}")]
    VpxInit {
        /// libvpx's own description.
        detail: String,
    },
    /// libvpx failed to encode a frame.
    #[error("libvpx encode failed: {detail}")]
    VpxEncode {
        /// libvpx's own description.
        detail: String,
    },
    /// libvpx could not decode the data (corrupt, truncated, or a delta frame
    /// whose reference is missing).
    #[error("VP8 decode failed: {detail}")]
    VpxDecode {
        /// libvpx's own description.
        detail: String,
    },
    /// libopus reported an error.
    #[error("opus {op} failed: {detail}")]
    Opus {
        /// What was being done (`"encoder init"`, `"decode"`...).
        op: &'static str,
        /// The library's description.
        detail: String,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(&'static str),
    /// The caller passed a frame whose size does not match the encoder's.
    #[error("frame is {got_width}x{got_height}, encoder expects {width}x{height}")]
    FrameSizeMismatch {
        /// Configured width.
        width: u32,
        /// Configured height.
        height: u32,
        /// Width of the frame passed in.
        got_width: u32,
        /// Height of the frame passed in.
        got_height: u32,
    },
    /// An [`I420Frame`](crate::vp8::I420Frame)'s planes do not have the
    /// lengths its width and height call for.
    #[error("I420 planes have the wrong lengths for {width}x{height}")]
    BadPlanes {
        /// The frame's width.
        width: u32,
        /// The frame's height.
        height: u32,
    },
    /// A PCM buffer is not exactly one frame long.
    #[error("PCM buffer has {got} samples, expected {expected}")]
    BadPcmLength {
        /// Samples (all channels) in one 20 ms frame.
        expected: usize,
        /// Samples passed in.
        got: usize,
    },
    /// Input ended before a structure was complete.
    #[error("truncated input: needed {needed} bytes, got {got}")]
    Truncated {
        /// Bytes the structure needs.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// A file does not start with the expected signature.
    #[error("not a {0} file")]
    BadMagic(&'static str),
    /// A file is well formed but uses something this crate does not read
    /// (a WAV that is not 16-bit PCM, for instance).
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// A length field is larger than any sane frame or chunk.
    #[error("length {0} is too large")]
    TooLarge(u64),
    /// A VP8 key frame declares a picture larger than the decoder admits
    /// ([`Vp8DecoderConfig`](crate::vp8::Vp8DecoderConfig)); it was refused
    /// before libvpx allocated anything for it.
    #[error(
        "VP8 key frame is {width}x{height}, the decoder admits at most {max_width}x{max_height}"
    )]
    PictureTooLarge {
        /// Width the key frame declares.
        width: u32,
        /// Height the key frame declares.
        height: u32,
        /// The configured maximum width.
        max_width: u32,
        /// The configured maximum height.
        max_height: u32,
    },
    /// A VP8 frame header (RFC 6386 §9.1) is malformed: a key frame without
    /// the start code, or with a zero width or height.
    #[error("malformed VP8 frame header: {0}")]
    BadVp8Header(&'static str),
    /// A fake-codec frame failed its structure or checksum checks.
    #[error("corrupt fake frame")]
    CorruptFrame,
    /// A delta frame arrived but the decoder has no valid reference (a frame
    /// was lost since the last key frame): a key frame is needed.
    #[error("delta frame {sequence} without reference (last good: {last_good:?})")]
    MissingReference {
        /// The encoder sequence number of the frame that could not be decoded.
        sequence: u32,
        /// The sequence number of the last frame decoded, if the chain is
        /// intact up to one.
        last_good: Option<u32>,
    },
    /// PNG encoding failed.
    #[error("PNG encoding failed: {0}")]
    Png(String),
    /// Reading or writing a file or stream failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

//! Media for meshrtc: codecs, synthetic sources and sinks.
//!
//! This crate will hold the VP8 encoder and decoder on libvpx (`vpx-sys`),
//! the Opus encoder and decoder on libopus (`audiopus`), a synthetic video
//! pattern that carries its frame number and capture time in its pixels, an
//! audio tone, a fake codec for simulator tests, and IVF/WAV/PNG sinks. It is
//! the only crate where `unsafe` may appear (around the C libraries). It is
//! not written yet.

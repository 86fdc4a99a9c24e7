//! SCTP over DTLS for WebRTC data channels, sans-IO.
#![forbid(unsafe_code)]

pub mod chunk;
pub mod crc32c;
mod error;
pub mod packet;
pub mod param;

pub use error::{Error, Result};
pub mod association;
mod config;
mod cookie;
pub mod dcep;
mod receive;
mod rng;
pub mod rto;
mod send;
mod tsn;
pub use association::{Association, CloseReason, Event, State, Stats};
pub use config::Config;
pub use dcep::{ChannelEvent, ChannelOptions, ChannelState, DataChannels, DcepMessage, Payload};
pub use receive::Message;
pub use send::Reliability;

/// Hooks for the cargo-fuzz targets (built with `--cfg fuzzing` only).
#[cfg(fuzzing)]
pub mod fuzzing {
    use std::time::Instant;

    use crate::DataChannels;

    /// Exchanges packets between two endpoints at `now` until both are
    /// quiet (at most 64 rounds), discarding events.
    pub fn pump(a: &mut DataChannels, b: &mut DataChannels, now: Instant) {
        let mut buf = Vec::new();
        for _ in 0..64 {
            let mut any = false;
            while a.poll_transmit(now, &mut buf) {
                let _ = b.handle_input(now, &buf);
                any = true;
            }
            while b.poll_transmit(now, &mut buf) {
                let _ = a.handle_input(now, &buf);
                any = true;
            }
            while a.poll_event().is_some() {}
            while b.poll_event().is_some() {}
            if !any {
                break;
            }
        }
    }
}

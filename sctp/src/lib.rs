//! SCTP over DTLS for WebRTC data channels, sans-IO.
//!
//! # Design
//!
//! - Wire format (RFC 9260 §3), smoltcp style: [`packet::Packet`] is a
//!   checked view of the common header with the CRC32c ([`crc32c`], §6.8);
//!   [`packet::PacketRepr`] decodes every chunk ([`chunk::Chunk`]: DATA,
//!   INIT, INIT ACK, SACK, HEARTBEAT (ACK), ABORT, SHUTDOWN (ACK,
//!   COMPLETE), ERROR, COOKIE ECHO/ACK, FORWARD TSN of RFC 3758, RE-CONFIG
//!   of RFC 6525, I-DATA of RFC 8260) and writes them back. Unknown chunk
//!   and parameter types follow their upper two bits (§3.2, §3.2.1).
//! - [`Association`]: one association per DTLS connection as RFC 8831 and
//!   RFC 8261 use it (ports from SDP, one path, no multihoming): the cookie
//!   handshake, data transfer with SACKs, retransmission, congestion
//!   control, heartbeats, shutdown and abort, partial reliability and
//!   stream reset. [`Config`] carries the secrets (tag seed, cookie key).
//! - [`DataChannels`]: DCEP (RFC 8832) and the channel API of RFC 8831 §6
//!   on top of an association.
//!
//! Like every meshrtc protocol crate it is sans-IO: time comes in as
//! `now: Instant`, randomness from the seed in [`Config`], bytes through
//! `handle_input`, and everything leaves through `poll_transmit`,
//! `poll_event` and `poll_timeout`. It depends on no other meshrtc crate.
//!
//! # Run loop
//!
//! Two associations connected back to back (in WebRTC, each packet travels
//! as one DTLS application data record):
//!
//! ```
//! use std::time::Instant;
//! use meshrtc_sctp::{Association, Config, Event, Reliability};
//!
//! let now = Instant::now();
//! let mut a = Association::new(Config::new([1; 32], [2; 32]));
//! let mut b = Association::new(Config::new([3; 32], [4; 32]));
//! a.connect(now);
//! b.connect(now);
//! a.send(now, 0, 51, b"hello", true, Reliability::Reliable)?;
//! let mut buf = Vec::new();
//! let mut got = None;
//! for _ in 0..20 {
//!     while a.poll_transmit(now, &mut buf) {
//!         b.handle_input(now, &buf)?;
//!     }
//!     while b.poll_transmit(now, &mut buf) {
//!         a.handle_input(now, &buf)?;
//!     }
//!     while let Some(e) = b.poll_event() {
//!         if let Event::Message(m) = e {
//!             got = Some(m.data);
//!         }
//!     }
//!     // A real driver sleeps until poll_timeout() and calls handle_timeout.
//!     if let Some(t) = a.poll_timeout().filter(|t| *t <= now) {
//!         a.handle_timeout(t);
//!     }
//! }
//! assert_eq!(got.as_deref(), Some(&b"hello"[..]));
//! # Ok::<(), meshrtc_sctp::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod association;
pub mod chunk;
mod config;
mod cookie;
pub mod crc32c;
pub mod dcep;
mod error;
mod interleaved_reassembly;
pub mod packet;
pub mod param;
mod receive;
mod rng;
pub mod rto;
mod send;
mod send_queue;
mod tsn;

pub use association::{Association, CloseReason, Event, PeerInit, State, Stats};
pub use config::Config;
pub use dcep::{ChannelEvent, ChannelOptions, ChannelState, DataChannels, DcepMessage, Payload};
pub use error::{Error, Result};
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

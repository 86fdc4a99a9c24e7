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
mod receive;
mod rng;
pub mod rto;
mod send;
mod tsn;
pub use association::{Association, CloseReason, Event, State, Stats};
pub use config::Config;
pub use receive::Message;
pub use send::Reliability;

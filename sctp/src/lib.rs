//! SCTP over DTLS for WebRTC data channels, sans-IO.
#![forbid(unsafe_code)]

pub mod chunk;
pub mod crc32c;
mod error;
pub mod packet;
pub mod param;

pub use error::{Error, Result};

//! Session logic above the wire formats, sans-IO: every call takes `now`
//! from the caller, nothing reads a clock.
//!
//! - [`ReceiveStats`]: per remote source, the counts and jitter behind a
//!   report block (RFC 3550 §6.4.1, §A.3, §A.8), and
//!   [`rtt_from_report_block`] for the sender that gets the block back.
//! - [`SenderStats`]: counts and timestamp extrapolation for the sender
//!   information of an SR (RFC 3550 §6.4.1).
//! - [`NackGenerator`]: which lost sequence numbers to request in generic
//!   NACKs, and when to ask again (RFC 4585 §6.2.1).

mod nack;
mod receive;
mod sender;

pub use nack::{NackConfig, NackGenerator, NackStats};
pub use receive::{rtt_from_report_block, ReceiveStats};
pub use sender::SenderStats;

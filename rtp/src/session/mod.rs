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
//! - [`SendBuffer`]: recently sent packets, resent as they were or as RTX
//!   (RFC 4588 §4) when a NACK asks; [`unwrap_rtx`] on the receive side.
//! - [`SendStream`]: stamps a connection's packets around a shared payload
//!   (sequence number, timestamp, mid and transport-wide sequence number);
//!   [`classify`] sorts received packets (RTX unwrapped, padding-only
//!   counted, not decoded); [`KeyframeRequester`] repeats PLI until a key
//!   frame arrives.
//! - [`JitterBuffer`]: complete frames released in timestamp order at an
//!   adaptive playout delay (jitter per RFC 3550 §6.4.1).
//! - [`TwccRecorder`]: arrival times of transport-wide sequence numbers
//!   and the transport-cc feedback that reports them
//!   (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3).
//!
//! Loss recovery between two peers:
//!
//! ```
//! use meshrtc_rtp::session::{unwrap_rtx, NackGenerator, RtxConfig, SendBuffer, SendBufferConfig};
//! use meshrtc_rtp::{rtcp::nack_pairs, RtpHeader, RtpPacket};
//! use std::time::{Duration, Instant};
//! let now = Instant::now();
//! let rtx = RtxConfig { ssrc: 0x2222, payload_type: 97, first_seq: 500 };
//! let config = SendBufferConfig { rtx: Some(rtx), ..SendBufferConfig::default() };
//! let mut sender = SendBuffer::new(0x1111, 96, config);
//! let mut receiver = NackGenerator::default();
//! for seq in 10..13u16 {
//!     sender.on_packet_sent(now, seq, 3000, false, &[b"frame part"])?;
//!     if seq != 11 {
//!         receiver.on_packet(now, seq); // 11 is lost on the way
//!     }
//! }
//! let lost = receiver.poll_nack(now).unwrap_or_default();
//! assert_eq!(nack_pairs(lost.iter().copied()).count(), 1); // one NACK entry
//! sender.on_nack(now + Duration::from_millis(30), lost);
//! let mut header = RtpHeader::default();
//! let mut datagram = Vec::new();
//! while let Some(r) = sender.poll_retransmit() {
//!     r.write(&mut header, &mut datagram)?;
//! }
//! let p = RtpPacket::parse(&datagram)?;
//! assert_eq!((p.ssrc(), p.payload_type(), p.sequence_number()), (0x2222, 97, 500));
//! let (seq, payload) = unwrap_rtx(p.payload()).unwrap_or_default();
//! assert_eq!((seq, payload), (11, &b"frame part"[..]));
//! receiver.on_packet(now, seq);
//! assert_eq!(receiver.poll_timeout(), None);
//! # Ok::<(), meshrtc_rtp::RtpError>(())
//! ```

mod jitter;
mod nack;
mod receive;
mod send_buffer;
mod sender;
mod stream;
mod twcc;

pub use jitter::{JitterBuffer, JitterConfig, JitterStats};
pub use nack::{NackConfig, NackGenerator, NackStats};
pub use receive::{rtt_from_report_block, ReceiveStats};
pub use send_buffer::{
    unwrap_rtx, Padding, Retransmission, RtxConfig, SendBuffer, SendBufferConfig, SendBufferStats,
};
pub use sender::SenderStats;
pub use stream::{classify, KeyframeRequester, Received, SendStream};
pub use twcc::{TwccConfig, TwccRecorder, TwccStats};

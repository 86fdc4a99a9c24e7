//! RTP and RTCP wire formats (RFC 3550, 4585, 5104, 5506, 8285) with the
//! VP8 (RFC 7741) and Opus (RFC 7587) payload formats, and the session
//! logic above them (reports, NACK, RTX), sans-IO: bytes and `now` in,
//! bytes out, no sockets, clocks or threads.
//!
//! What exists:
//!
//! - [`RtpPacket`]: a checked zero-copy view of a received RTP packet
//!   (fixed header, CSRCs, header extension, payload, padding), with the
//!   RFC 8285 one-byte and two-byte extension elements ([`ext`]) and typed
//!   values for sdes:mid, abs-send-time, the transport-wide sequence number
//!   and the audio level.
//! - [`RtpHeader`]: an owned header to send, kept per connection and
//!   stamped per packet, written into a caller-owned `Vec<u8>`.
//! - [`rtcp`]: compound packets — SR, RR, SDES, BYE, APP, generic NACK,
//!   transport-cc feedback, PLI, FIR, REMB, unknown types kept — parsed as
//!   views and written from plain values, with the RFC 3550 §6.1 compound
//!   rules in [`rtcp::validate_compound`].
//! - [`vp8`]: the payload descriptor, key frame detection, a packetizer that
//!   splits a frame once for all connections without copying it, and a
//!   frame assembler that reorders, drops duplicates, reports missing
//!   sequence numbers and hands out complete frames within bounded memory.
//! - [`opus`]: the 48 kHz RTP clock and the TOC byte (frame duration and
//!   count).
//! - [`SeqExtender`]: 16-bit sequence numbers extended across wraps.
//! - [`session`]: the session logic, fed `now` by the caller —
//!   [`ReceiveStats`] (per remote source: loss, jitter, LSR/DLSR, the
//!   report block of an SR/RR, RFC 3550 §6.4.1) with
//!   [`session::rtt_from_report_block`], [`SenderStats`] (the sender
//!   information of an SR), [`NackGenerator`] (which lost packets to NACK
//!   and when to ask again, RFC 4585 §6.2.1) and [`SendBuffer`] (recently
//!   sent packets resent as they were or as RFC 4588 RTX, with
//!   [`session::unwrap_rtx`] on the receive side), [`JitterBuffer`]
//!   (complete frames, audio or video, released in timestamp order at an
//!   adaptive playout delay) and [`TwccRecorder`] (arrival times of
//!   transport-wide sequence numbers, reported as transport-cc feedback).
//!
//! Still to come: congestion control (the sender side of transport-cc),
//! and the scheduling of RTCP reports (RFC 3550 §6.2 intervals; the values
//! they carry exist).
//!
//! Receiving, in a connection's run loop (after SRTP unprotect):
//!
//! ```
//! use meshrtc_rtp::{rtcp, vp8::Vp8Assembler, RtpPacket};
//! # use meshrtc_rtp::{vp8::Vp8Packetizer, RtpHeader};
//! # let frame = [0x00u8, 0x9d, 0x01, 0x2a, 7, 7];
//! # let p = Vp8Packetizer::new(0).packetize(&frame, 1200)?.get(0).unwrap();
//! # let h = RtpHeader { payload_type: 96, marker: true, ..RtpHeader::default() };
//! # let mut datagram = Vec::new();
//! # h.write_parts(&[p.descriptor(), p.data()], 0, &mut datagram)?;
//! let mut video = Vp8Assembler::default();
//! let mut frame_buf = Vec::new();
//! // RFC 7983 / RFC 5761: RTCP when the second byte is 192..=223.
//! if (192..=223).contains(&datagram[1]) {
//!     for packet in rtcp::Compound::new(&datagram) {
//!         let _ = packet?; // feedback to the sender side
//!     }
//! } else {
//!     let rtp = RtpPacket::parse(&datagram)?;
//!     if rtp.payload_type() == 96 {
//!         video.push(rtp.sequence_number(), rtp.timestamp(), rtp.marker(), rtp.payload())?;
//!         while let Some(f) = video.poll_frame(&mut frame_buf) {
//!             assert!(f.keyframe); // … hand `frame_buf` to the decoder
//!         }
//!     }
//! }
//! # Ok::<(), meshrtc_rtp::RtpError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod ext;
pub mod opus;
pub mod rtcp;
mod rtp;
mod seq;
pub mod session;
pub mod vp8;

pub use error::RtpError;
pub use rtp::{HeaderExtensions, RtpHeader, RtpPacket, FIXED_HEADER_LEN, RTP_VERSION};
pub use seq::{extend_near, SeqExtender};
pub use session::{
    JitterBuffer, NackGenerator, ReceiveStats, SendBuffer, SenderStats, TwccRecorder,
};

#[cfg(test)]
mod tests;

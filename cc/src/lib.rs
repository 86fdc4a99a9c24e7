//! Send-side congestion control for WebRTC media, in the style of Google
//! Congestion Control (draft-ietf-rmcat-gcc-02), and a pacer.
//!
//! # Design
//!
//! The sender stamps every packet with a transport-wide sequence number and
//! the receiver reports, for each, its arrival time or its loss
//! (draft-ietf-rmcat-gcc-02 §3; transport-cc feedback or RFC 8888). All the
//! estimation runs at the sender (§2 of the draft, "send-side"):
//!
//! - [`feedback`]: [`SendHistory`] pairs feedback with what was sent and
//!   measures the *acknowledged bitrate*, the throughput the receiver saw.
//! - [`delay`]: packets are grouped into bursts sent within 5 ms (§5.2);
//!   the delay variation between groups feeds a *trendline* filter — the
//!   slope of a least-squares line through smoothed accumulated delay, as
//!   current libwebrtc does in place of the draft's Kalman filter (§5.3) —
//!   and an over-use detector with an adaptive threshold (§5.4) says
//!   Overusing, Underusing or Normal.
//! - [`aimd`]: the rate controller of §5.5: multiplicative increase far from
//!   the last known capacity, additive near it, decrease to 0.85 × the
//!   acknowledged bitrate on over-use.
//! - [`loss`]: the loss-based bound of §6.
//! - [`probe`] and [`probe_estimator`]: short bursts above the estimate at
//!   start, periodically and on demand, and the rate the path delivered them
//!   at; a good result raises the estimate at once instead of at 8 %/s.
//! - [`controller`]: [`CongestionController`] ties them together; the
//!   target is `min(delay-based, loss-based, REMB)` within the configured
//!   bounds.
//! - [`pacer`]: [`Pacer`] releases packets at 2.5 × the target (§4), audio
//!   first, sends probe clusters at their rate, and keeps retransmissions
//!   within a share of the media.
//! - [`send_mix`] and [`encoder_overshoot`]: what of the estimate the
//!   video encoder may be asked for, from the audio, packet overhead and
//!   retransmissions measured on the wire and the encoder's measured
//!   overshoot.
//! - [`frame_pushback`]: [`FramePushback`] tells an encoder's owner to skip
//!   every other capture while the queue stands and skipping drains it
//!   (libwebrtc's congestion-window pushback plays that part).
//!
//! Like every meshrtc protocol crate it is sans-IO: time comes in as
//! `now: Instant` (and receiver time as the `Duration`s in the feedback),
//! decisions leave through return values, `poll_probe` and `poll_timeout`.
//! No clock, socket, thread or randomness inside, so runs are
//! deterministic. It depends on no other meshrtc crate.
//!
//! # Run loop
//!
//! ```
//! use std::time::{Duration, Instant};
//! use meshrtc_cc::{
//!     CongestionController, Config, PacketClass, PacketResult, Pacer, PacerConfig, Payload,
//!     SentPacket,
//! };
//!
//! let mut cc = CongestionController::new(Config {
//!     start_bitrate: 300_000,
//!     min_bitrate: 30_000,
//!     max_bitrate: 2_500_000,
//! });
//! let mut pacer: Pacer<Vec<u8>> = Pacer::new(PacerConfig::default());
//! let now = Instant::now();
//! pacer.set_rates(cc.pacing_rate(), cc.padding_rate());
//! while let Some(cluster) = cc.poll_probe() {
//!     pacer.start_probe(cluster);
//! }
//! pacer.enqueue(now, PacketClass::Video, 1200, vec![0u8; 1200])?;
//! let mut seq = 0;
//! while let Some(release) = pacer.poll_send(now) {
//!     let size = match release.payload {
//!         Payload::Media { item, .. } => item.len(),
//!         Payload::Padding { size } => size,
//!     };
//!     // ... stamp `seq`, protect, send on the socket ...
//!     cc.on_packet_sent(SentPacket { seq, size, sent_at: now, probe_cluster: release.probe_cluster });
//!     seq += 1;
//! }
//! // Later, transport feedback arrives:
//! cc.on_feedback(now + Duration::from_millis(100), &[PacketResult {
//!     seq: 0,
//!     arrival: Some(Duration::from_millis(40)),
//! }]);
//! let encoder_bitrate = cc.target_bitrate();
//! assert!(encoder_bitrate >= 30_000);
//! # Ok::<(), meshrtc_cc::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod aimd;
pub mod controller;
pub mod delay;
pub mod encoder_overshoot;
mod error;
pub mod feedback;
pub mod frame_pushback;
pub mod loss;
pub mod pacer;
pub mod probe;
pub mod probe_estimator;
pub mod queue_delay;
pub mod rate_window;
pub mod send_mix;

pub use controller::{CcState, Config, CongestionController};
pub use delay::overuse::BandwidthUsage;
pub use encoder_overshoot::EncoderOvershoot;
pub use error::Error;
pub use feedback::{AckedPacket, PacketResult, SendHistory, SentPacket};
pub use frame_pushback::FramePushback;
pub use pacer::{Pacer, PacerConfig, PacerStats, PacketClass, Payload, Release};
pub use probe::ProbeCluster;
pub use send_mix::SendMix;

//! A WebRTC peer connection, sans-IO.
//!
//! This crate will hold `PeerConnection`: transceivers, offer/answer through
//! `meshrtc-sdp`, and ICE → DTLS → SRTP keys → RTP/RTCP on one BUNDLEd
//! 5-tuple, with a tokio driver behind a feature. Today it holds the
//! datagram demultiplexer every layer above the socket shares ([`demux`])
//! and the conversion of SDP candidates to and from the ICE agent's
//! ([`candidate`]).
#![forbid(unsafe_code)]

#[cfg(feature = "tokio")]
pub mod address_watch;
pub mod candidate;
pub mod connection;
pub mod demux;
#[cfg(feature = "tokio")]
pub mod driver;
pub mod frame;
#[cfg(feature = "tokio")]
pub mod mdns_service;
#[cfg(feature = "tokio")]
pub mod relay_transport;
pub mod tap;
#[cfg(feature = "tokio")]
mod turn_redirect;
#[cfg(feature = "tokio")]
pub mod turn_stream;

pub use connection::{video_encoder_target, AUDIO_ALLOWANCE, DATA_MIN_SHARE, VIDEO_ENCODER_SHARE};
pub use connection::{
    ConnectionState, DataChannelId, DataChannelInfo, DataChannelOptions, DataChannelState,
    DataChannelStats, DataPayload, DtlsState, InboundStats, LocalCandidate, OutboundStats,
    PeerConfig, PeerConnection, PeerError, PeerEvent, PeerStats, SdpType, SignalingState,
    SrtpKeyLog, TransceiverInfo, Transmit,
};
pub use frame::{PacketizedFrame, ReceivedFrame};
/// Which DTLS versions a connection speaks ([`PeerConfig::dtls_versions`]).
pub use meshrtc_dtls::v13::Versions as DtlsVersions;

//! The states, events, transmits and errors a [`PeerConnection`] hands out.

use super::*;

/// The W3C `RTCPeerConnectionState` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// Nothing negotiated yet.
    New,
    /// ICE or DTLS in progress.
    Connecting,
    /// ICE connected and DTLS done: media flows.
    Connected,
    /// ICE lost consent for a while (may recover).
    Disconnected,
    /// ICE or DTLS failed.
    Failed,
    /// [`PeerConnection::close`] was called.
    Closed,
}

/// The W3C `RTCDtlsTransportState` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DtlsState {
    /// Not started.
    New,
    /// Handshaking.
    Connecting,
    /// Keys exported.
    Connected,
    /// Closed by either side.
    Closed,
    /// Failed (error or fatal alert).
    Failed,
}

/// The offer/answer state (RFC 8829 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignalingState {
    /// No offer outstanding.
    Stable,
    /// We made an offer and wait for the answer.
    HaveLocalOffer,
    /// We received an offer and owe an answer.
    HaveRemoteOffer,
}

/// Whether a description is an offer or an answer (RFC 8829 §4.1.8; the
/// `type` of an `RTCSessionDescription`), initial or subsequent. A
/// rollback is [`PeerConnection::rollback`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SdpType {
    /// An offer.
    Offer,
    /// An answer.
    Answer,
}

/// A local candidate to signal, as browsers express it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCandidate {
    /// `sdpMid`: the BUNDLE-tagged m-line.
    pub mid: String,
    /// `sdpMLineIndex`.
    pub mline_index: u32,
    /// `candidate`: `candidate:...` as in `RTCIceCandidate.candidate`.
    pub candidate: String,
    /// `usernameFragment`.
    pub ufrag: String,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerEvent {
    /// The ICE connection state changed.
    IceStateChanged(IceState),
    /// The DTLS transport state changed.
    DtlsStateChanged(DtlsState),
    /// The overall connection state changed.
    ConnectionStateChanged(ConnectionState),
    /// A local candidate (trickle ICE).
    LocalCandidate(LocalCandidate),
    /// No more local candidates.
    GatheringComplete,
    /// A remote stream started arriving on an m-line.
    TrackAdded {
        /// The m-line.
        mid: String,
        /// Audio or video.
        kind: MediaKind,
        /// The sender's SSRC.
        ssrc: u32,
    },
    /// A whole frame arrived.
    Frame(ReceivedFrame),
    /// The peer asked for a key frame on an m-line we send (PLI or FIR).
    KeyframeRequested {
        /// The m-line.
        mid: String,
    },
    /// A remote stream stopped: its m-line no longer sends to us (the
    /// peer changed its direction, stopped the transceiver or its m-line
    /// was rejected).
    TrackRemoved {
        /// The m-line.
        mid: String,
        /// Audio or video.
        kind: MediaKind,
    },
    /// Something changed that needs an offer (a transceiver added or
    /// stopped, a direction changed, an ICE restart): make one when the
    /// signaling state is stable (W3C webrtc-pc §4.7.3).
    NegotiationNeeded,
    /// A transceiver of ours not offered yet had the mid the peer just
    /// offered for a new m-line: ours got another one.
    MidChanged {
        /// The mid [`PeerConnection::add_transceiver`] gave.
        old: String,
        /// Its mid now.
        new: String,
    },
    /// An NSS key log line (when [`PeerConfig::key_log`] is on).
    KeyLog(String),
    /// The SRTP keys DTLS exported (when [`PeerConfig::key_log`] is on),
    /// for a capture's reader to decrypt the media with.
    SrtpKeys(SrtpKeyLog),
    /// A data channel can carry data: one we created
    /// ([`PeerConnection::create_data_channel`]) or, `by_peer`, one the
    /// peer opened (W3C `ondatachannel`).
    DataChannelOpen {
        /// Its handle.
        id: DataChannelId,
        /// Label.
        label: String,
        /// Sub-protocol.
        protocol: String,
        /// Opened by the peer (DATA_CHANNEL_OPEN received, RFC 8832 §6).
        by_peer: bool,
    },
    /// A message on a data channel.
    DataChannelMessage {
        /// The channel.
        id: DataChannelId,
        /// The message.
        payload: DataPayload,
    },
    /// The channel's buffered amount fell to its threshold
    /// ([`PeerConnection::set_buffered_amount_low_threshold`]).
    DataChannelBufferedAmountLow {
        /// The channel.
        id: DataChannelId,
    },
    /// A data channel could not be opened (no stream id left, say).
    DataChannelError {
        /// The channel.
        id: DataChannelId,
        /// Why.
        reason: String,
    },
    /// A data channel is closed (both directions reset, or the association
    /// or connection ended); its handle is no longer valid.
    DataChannelClosed {
        /// The channel.
        id: DataChannelId,
    },
    /// The SCTP association ended (its reason).
    SctpClosed(String),
    /// The connection is over.
    Closed(String),
}

/// The SRTP keying material of one connection (RFC 5764 §4.2), with
/// the addresses and role that say whose half protects which direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpKeyLog {
    /// Our address on the selected pair.
    pub local: SocketAddr,
    /// The peer's address on the selected pair.
    pub remote: SocketAddr,
    /// Whether we are the DTLS client (we then send with the client's
    /// key and salt).
    pub dtls_client: bool,
    /// The protection profile.
    pub profile: meshrtc_srtp::Profile,
    /// `EXTRACTOR-dtls_srtp` as exported: client key, server key, client
    /// salt, server salt.
    pub keying_material: Vec<u8>,
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Our local address to send from.
    pub src: SocketAddr,
    /// The destination.
    pub dst: SocketAddr,
    /// The bytes.
    pub payload: Vec<u8>,
}

/// Errors of the API (misuse or a bad description from the peer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// The remote description is not valid SDP.
    #[error("remote description is not valid SDP: {0}")]
    Sdp(String),
    /// Offer/answer rules broken (by the peer's description or ours).
    #[error("negotiation failed: {0}")]
    Negotiation(#[from] negotiate::NegotiationError),
    /// An API call that does not fit the signaling state (an answer for an
    /// offer we never made, say).
    #[error("{call} is not allowed in signaling state {state:?}")]
    WrongState {
        /// The call.
        call: &'static str,
        /// The state.
        state: SignalingState,
    },
    /// The remote fingerprint is not a SHA-256 one we can check.
    #[error("remote fingerprint: {0}")]
    Fingerprint(String),
    /// A remote candidate that does not parse.
    #[error("remote candidate: {0}")]
    Candidate(String),
    /// A trickled candidate was refused: too many are already queued
    /// waiting for the remote description (see
    /// [`PeerConnection::add_remote_candidate`]). The peer is misbehaving
    /// or flooding; the candidate is dropped and the connection goes on.
    #[error("remote candidate dropped: {queued} candidates ({bytes} bytes) already wait for the description")]
    CandidateQueueFull {
        /// Candidates queued.
        queued: usize,
        /// Their bytes.
        bytes: usize,
    },
    /// No such m-line, or we do not send on it.
    #[error("no sending transceiver with mid {0:?}")]
    UnknownMid(String),
    /// Media cannot flow yet (or any more).
    #[error("not connected")]
    NotConnected,
    /// No open data channel with this handle.
    #[error("no open data channel {0}")]
    UnknownDataChannel(DataChannelId),
    /// The data channel layer refused (message too large, buffer full,
    /// bad options).
    #[error("data channel: {0}")]
    DataChannel(String),
    /// The connection is closed.
    #[error("closed")]
    Closed,
    /// An RTCP compound given to [`PeerConnection::send_rtcp`] does not
    /// frame or decode (RFC 3550 §6.1).
    #[error("RTCP compound refused: {0}")]
    Rtcp(meshrtc_rtp::RtpError),
}

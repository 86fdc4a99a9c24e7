//! What the association tells its user ([`Event`]): established, user
//! messages (RFC 8831 §6.6), stream resets (RFC 6525 §5), and the end of
//! the association with its [`CloseReason`] (RFC 9260 §9).

use crate::receive::Message;

/// Why the association ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Graceful shutdown completed (§9.2).
    Shutdown,
    /// The peer sent ABORT.
    AbortedByPeer,
    /// We aborted (`abort`).
    AbortedLocally,
    /// INIT or COOKIE ECHO went unanswered Max.Init.Retransmits times.
    InitTimeout,
    /// Association.Max.Retrans retransmissions or heartbeats unanswered.
    PeerUnreachable,
    /// The peer broke the protocol (DATA where I-DATA was negotiated or
    /// the reverse, RFC 8260 §2.2): we aborted with a Protocol Violation.
    ProtocolViolation,
}

/// What the association tells its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The association is established.
    Connected,
    /// A complete user message.
    Message(Message),
    /// The peer reset these outgoing streams of its own (our incoming):
    /// RFC 6525 §5.2.2. Empty means all.
    IncomingStreamsReset(Vec<u16>),
    /// Our request to reset these outgoing streams was performed.
    OutgoingStreamsReset(Vec<u16>),
    /// The association ended.
    Closed(CloseReason),
}

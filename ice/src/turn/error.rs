//! Errors of the TURN client (RFC 8656).

use crate::stun::StunError;
use std::net::SocketAddr;

/// What went wrong with a TURN message or allocation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TurnError {
    /// A STUN message from the server that does not parse.
    #[error("malformed STUN from the TURN server: {0}")]
    Stun(#[from] StunError),
    /// Fewer bytes than the ChannelData header or its length field says.
    #[error("truncated ChannelData: needed {needed} bytes, got {got}")]
    TruncatedChannelData {
        /// Bytes required.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// More bytes after the ChannelData payload than padding allows.
    #[error("ChannelData says {declared} bytes but {got} follow the header")]
    ChannelDataTrailingBytes {
        /// The length field.
        declared: usize,
        /// Bytes after the header.
        got: usize,
    },
    /// A channel number outside 0x4000–0x4FFF (RFC 8656 §12).
    #[error("invalid channel number {0:#06x}")]
    InvalidChannelNumber(u16),
    /// ChannelData on a channel we never bound.
    #[error("ChannelData on unbound channel {0:#06x}")]
    UnknownChannel(u16),
    /// Data to relay longer than a DATA attribute or ChannelData can hold.
    #[error("{0} bytes are too many to relay in one message")]
    DataTooLong(usize),
    /// A datagram that claims to come from the TURN server but does not.
    #[error("datagram from {0}, which is not our TURN server")]
    UnexpectedSource(SocketAddr),
    /// A response whose transaction id matches no request in flight.
    #[error("response matches no TURN request in flight")]
    UnmatchedTransaction,
    /// A response whose MESSAGE-INTEGRITY does not match our long-term key
    /// (or a success response without one to an authenticated request).
    #[error("TURN response failed integrity")]
    BadIntegrity,
    /// A Data indication without a valid XOR-PEER-ADDRESS or DATA.
    #[error("Data indication without a valid XOR-PEER-ADDRESS and DATA")]
    BadDataIndication,
    /// Data from a peer we gave no permission to (the server should have
    /// dropped it, RFC 8656 §11.4).
    #[error("data from {0}, a peer without a permission")]
    NoPermission(SocketAddr),
    /// A STUN message the client has no use for (a request, another method).
    #[error("unexpected {0} from the TURN server")]
    Unexpected(&'static str),
    /// The stream to the server carried something that is neither STUN nor
    /// ChannelData; the connection must be closed.
    #[error("stream to the TURN server lost framing")]
    StreamDesynchronised,
    // ----- allocation outcomes ------------------------------------------
    /// The server rejected our credentials (a 401 after we authenticated).
    #[error("TURN server rejected the credentials")]
    Unauthorized,
    /// A 401 without REALM and NONCE, or a 438 without NONCE.
    #[error("TURN error response {0} lacks REALM or NONCE")]
    MissingRealmOrNonce(u16),
    /// The server kept answering 438 Stale Nonce.
    #[error("TURN server kept answering 438 Stale Nonce")]
    StaleNonceLoop,
    /// 437 Allocation Mismatch persisted after deleting the old allocation
    /// (RFC 8656 §7.3): another allocation holds this 5-tuple; the owner
    /// should allocate from another local port.
    #[error("437 Allocation Mismatch: the 5-tuple is in use")]
    AllocationMismatch,
    /// Too many 300 Try-Alternate redirections, or one without
    /// ALTERNATE-SERVER.
    #[error("TURN redirection failed")]
    BadRedirect,
    /// A success response to Allocate without XOR-RELAYED-ADDRESS.
    #[error("Allocate success without XOR-RELAYED-ADDRESS")]
    MissingRelayedAddress,
    /// An error response we cannot act on (403, 486, 508, ...).
    #[error("TURN server answered {0}")]
    ErrorResponse(u16),
    /// No answer after every retransmission (RFC 8489 §6.2.1).
    #[error("TURN server did not answer")]
    Timeout,
    /// The allocation expired or the server forgot it (437 to a Refresh).
    #[error("the TURN allocation is gone")]
    AllocationLost,
    /// Sending before the allocation exists, or after it ended.
    #[error("no TURN allocation")]
    NotAllocated,
}

//! The crate's error type.

/// Why the pacer refused a packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Retransmissions would exceed their share of the media sent in the
    /// last second; the packet was not queued.
    #[error("retransmission budget exceeded: {used} + {size} bytes > {budget} allowed")]
    RetransmissionBudgetExceeded {
        /// Retransmitted bytes sent or queued in the window.
        used: usize,
        /// Size of the refused packet.
        size: usize,
        /// Bytes the window allows.
        budget: usize,
    },
    /// The queue is full of packets that may not be dropped (audio,
    /// retransmissions); the packet was not queued.
    #[error("pacer queue full ({queued_bytes} bytes, {queued_items} packets)")]
    QueueFull {
        /// Bytes queued.
        queued_bytes: usize,
        /// Packets queued.
        queued_items: usize,
    },
}

//! Per-channel statistics of the data channels (W3C `RTCDataChannelStats`,
//! webrtc-stats §5.5): state, messages and bytes each way, and what is
//! buffered, for open channels and the last ones that closed.

use super::data_channels::Slot;
use super::*;

/// How many closed channels' last counters [`PeerStats`] keeps.
pub(super) const CLOSED_CHANNELS_KEPT: usize = 64;

/// A channel's state (W3C `RTCDataChannelState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataChannelState {
    /// Created, waiting for the association or the peer's DCEP ACK.
    Connecting,
    /// Carries data.
    Open,
    /// Closed by us, waiting for the peer to reset its stream.
    Closing,
    /// Gone.
    Closed,
}

/// Messages and payload bytes of one channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct ChannelCounters {
    pub(super) messages_sent: u64,
    pub(super) bytes_sent: u64,
    pub(super) messages_received: u64,
    pub(super) bytes_received: u64,
}

/// One channel's counters (W3C `RTCDataChannelStats`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataChannelStats {
    /// Its handle.
    pub id: DataChannelId,
    /// Label.
    pub label: String,
    /// Sub-protocol.
    pub protocol: String,
    /// The SCTP stream id (`dataChannelIdentifier`), once known.
    pub stream: Option<u16>,
    /// State.
    pub state: DataChannelState,
    /// Messages handed to [`PeerConnection::send_data`] and accepted.
    pub messages_sent: u64,
    /// Their payload bytes.
    pub bytes_sent: u64,
    /// Messages delivered to the application.
    pub messages_received: u64,
    /// Their payload bytes.
    pub bytes_received: u64,
    /// Bytes queued and not yet sent (`bufferedAmount`).
    pub buffered_amount: usize,
}

impl PeerConnection {
    /// Counters of every channel: open or on its way, then the last
    /// [`CLOSED_CHANNELS_KEPT`] that closed.
    pub fn data_channel_stats(&self) -> Vec<DataChannelStats> {
        let mut out: Vec<DataChannelStats> = self
            .data
            .slots
            .iter()
            .map(|(id, slot)| self.slot_stats(*id, slot))
            .collect();
        out.extend(self.data.closed.iter().cloned());
        out
    }

    fn slot_stats(&self, id: DataChannelId, slot: &Slot) -> DataChannelStats {
        let state = if slot.closing {
            DataChannelState::Closing
        } else if slot.open {
            DataChannelState::Open
        } else {
            DataChannelState::Connecting
        };
        DataChannelStats {
            id,
            label: slot.label.clone(),
            protocol: slot.options.protocol.clone(),
            stream: slot.stream,
            state,
            messages_sent: slot.counters.messages_sent,
            bytes_sent: slot.counters.bytes_sent,
            messages_received: slot.counters.messages_received,
            bytes_received: slot.counters.bytes_received,
            buffered_amount: self.buffered_amount(id),
        }
    }

    /// Removes a channel, keeping its last counters as closed.
    pub(super) fn forget_channel(&mut self, id: DataChannelId) {
        let Some(slot) = self.data.slots.get(&id) else {
            return;
        };
        let mut last = self.slot_stats(id, slot);
        last.state = DataChannelState::Closed;
        last.buffered_amount = 0;
        self.data.slots.remove(&id);
        if self.data.closed.len() == CLOSED_CHANNELS_KEPT {
            self.data.closed.pop_front();
        }
        self.data.closed.push_back(last);
    }
}

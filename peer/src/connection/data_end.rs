//! The SCTP association ends with its connection (issue 20): when the
//! [`PeerConnection`] goes [`ConnectionState::Failed`] (ICE or DTLS
//! failed) or is closed, every data channel moves to closed at once
//! (W3C webrtc-pc §6.1.4: the SCTP transport closes with its DTLS
//! transport, and its channels with it), instead of when SCTP would give
//! up on its own (Association.Max.Retrans unanswered retransmissions or
//! heartbeats, RFC 9260 §8.1: minutes).
//!
//! Ending means: an ABORT is sent if it still can be (RFC 9260 §9.1;
//! over a failed path it is lost, harmlessly), the association is dropped
//! with everything queued in it, [`PeerEvent::SctpClosed`] and one
//! [`PeerEvent::DataChannelClosed`] per channel are queued, each channel's
//! last counters are kept with state closed and nothing buffered, and no
//! association starts again on this connection (a new channel is refused).

use super::*;

impl PeerConnection {
    /// Ends the association and closes every channel; `why` goes in the
    /// [`PeerEvent::SctpClosed`] event. Nothing happens twice.
    pub(super) fn end_data_channels(&mut self, why: &str) {
        if self.data.ended {
            return;
        }
        self.data.ended = true;
        self.data.share.wakeup = None;
        self.early_sctp.take();
        if let Some(mut sctp) = self.data.sctp.take() {
            let was_open = sctp.association().state() != meshrtc_sctp::State::Terminated;
            sctp.association_mut().abort();
            let mut buf = Vec::new();
            let now = self.origin;
            while sctp.association_mut().poll_transmit(now, &mut buf) {
                if let Some(d) = &mut self.dtls {
                    let _ = d.send_application_data(&buf);
                }
            }
            self.drain_dtls_transmits();
            self.data.ended_stats = Some(sctp.association().stats());
            if was_open {
                self.events
                    .push_back(PeerEvent::SctpClosed(why.to_string()));
            }
            // Dropped here, with its queues: buffered data is discarded.
        }
        self.data.by_stream.clear();
        let ids: Vec<DataChannelId> = self.data.slots.keys().copied().collect();
        for id in ids {
            self.forget_channel(id);
            self.events.push_back(PeerEvent::DataChannelClosed { id });
        }
    }

    /// The association's counters: live, or the last ones once it ended.
    pub(super) fn sctp_stats(&self) -> Option<meshrtc_sctp::Stats> {
        self.sctp_association()
            .map(|a| a.stats())
            .or_else(|| self.data.ended_stats.clone())
    }
}

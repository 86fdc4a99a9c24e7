//! DATA and I-DATA, FORWARD TSN and I-FORWARD-TSN as the association
//! receives them, and which of each pair the association uses: I-DATA
//! (RFC 8260) only when both INITs listed it in Supported Extensions
//! (RFC 5061 §4.2.7, RFC 8260 §2.2), DATA otherwise. A peer that sends
//! the other kind commits a protocol violation and is aborted (RFC 8260
//! §2.2 for I-DATA, §2.3 for I-FORWARD-TSN).

use super::{Association, CloseReason, State};
use crate::chunk::{Chunk, ChunkType};
use crate::param::{cause, emit_tlv, Param};
use crate::receive::DataOutcome;

/// Supported Extensions we list without and with I-DATA (RFC 8260 §2.2:
/// with partial reliability, I-FORWARD-TSN too).
const EXTENSIONS: [u8; 2] = [ChunkType::FORWARD_TSN.0, ChunkType::RE_CONFIG.0];
const EXTENSIONS_WITH_I_DATA: [u8; 4] = [
    ChunkType::FORWARD_TSN.0,
    ChunkType::RE_CONFIG.0,
    ChunkType::I_DATA.0,
    ChunkType::I_FORWARD_TSN.0,
];

impl Association {
    /// The Supported Extensions parameter of our INIT and INIT ACK.
    pub(super) fn supported_extensions(&self) -> Param<'static> {
        if self.config.interleaving {
            Param::SupportedExtensions(&EXTENSIONS_WITH_I_DATA)
        } else {
            Param::SupportedExtensions(&EXTENSIONS)
        }
    }

    /// Whether I-DATA is in use on this association (RFC 8260 §2.2: both
    /// sides listed it).
    pub fn interleaving(&self) -> bool {
        self.peer.is_some_and(|p| p.i_data)
    }

    /// DATA, I-DATA, FORWARD TSN or I-FORWARD-TSN from the peer.
    pub(super) fn on_user_data_chunk(&mut self, chunk: &Chunk<'_>) {
        let idata = self.interleaving();
        let wrong_kind = match chunk {
            Chunk::Data(_) | Chunk::ForwardTsn { .. } => idata && self.peer.is_some(),
            Chunk::IData(_) | Chunk::IForwardTsn { .. } => !idata,
            _ => return,
        };
        if matches!(chunk, Chunk::IData(_)) {
            self.stats.i_data_chunks_received += 1;
        }
        if wrong_kind {
            let what: &[u8] = match chunk {
                Chunk::Data(_) => b"DATA chunk while I-DATA is in use",
                Chunk::ForwardTsn { .. } => b"FORWARD TSN while I-DATA is in use",
                Chunk::IData(_) => b"I-DATA chunk without negotiating it",
                _ => b"I-FORWARD-TSN without negotiating I-DATA",
            };
            self.abort_protocol_violation(what);
            return;
        }
        let is_data = matches!(chunk, Chunk::Data(_) | Chunk::IData(_));
        if self.receiver.is_none() || (is_data && !self.receiving_data()) {
            self.stats.unexpected_chunks += 1;
            return;
        }
        let Some(rx) = self.receiver.as_mut() else {
            return;
        };
        let (outcome, immediate) = match chunk {
            Chunk::Data(d) => (rx.on_data(d), d.immediate),
            Chunk::IData(d) => (rx.on_idata(d), d.immediate),
            Chunk::ForwardTsn {
                new_cum_tsn,
                streams,
            } => {
                let ok = rx.on_forward_tsn(*new_cum_tsn, streams);
                self.forward_tsn_received(ok);
                return;
            }
            Chunk::IForwardTsn {
                new_cum_tsn,
                entries,
            } => {
                let ok = rx.on_i_forward_tsn(*new_cum_tsn, entries);
                self.forward_tsn_received(ok);
                return;
            }
            _ => return,
        };
        self.stats.data_chunks_received += 1;
        match outcome {
            DataOutcome::New => {}
            DataOutcome::Duplicate => {
                self.stats.duplicate_tsns += 1;
                self.ack_now = true;
            }
            _ => self.stats.data_dropped += 1,
        }
        self.ack_pending = true;
        let rx = self.receiver.as_ref();
        if immediate || rx.is_some_and(|r| r.has_gaps() || r.has_dups()) {
            self.ack_now = true;
        }
    }

    fn receiving_data(&self) -> bool {
        matches!(
            self.state,
            State::Established | State::ShutdownPending | State::ShutdownSent
        )
    }

    fn forward_tsn_received(&mut self, in_range: bool) {
        if !in_range {
            self.stats.data_dropped += 1;
        }
        // RFC 3758 §3.6: SACK at once.
        self.ack_pending = true;
        self.ack_now = true;
    }

    /// ABORT with a Protocol Violation cause (RFC 9260 §3.3.10.13) and the
    /// reason as its additional information.
    fn abort_protocol_violation(&mut self, why: &[u8]) {
        self.stats.protocol_violations += 1;
        if let Some(p) = self.peer {
            let mut causes = Vec::new();
            emit_tlv(&mut causes, cause::PROTOCOL_VIOLATION, why);
            let mut c = Vec::new();
            Chunk::Abort {
                reflected: false,
                causes: &causes,
            }
            .emit(&mut c);
            self.solo.push_back((p.tag, c));
        }
        self.terminate(CloseReason::ProtocolViolation);
    }
}

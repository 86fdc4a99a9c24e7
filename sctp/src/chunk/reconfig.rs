//! The RE-CONFIG chunk's parameters (RFC 6525 §4): Outgoing and
//! Incoming SSN Reset Requests (§4.1, §4.2), the Re-configuration
//! Response (§4.4) with its result codes, and the others kept as they
//! came.

use super::be32;
use crate::error::{Error, Result};
use crate::param::{emit_tlv, Tlv};

/// A reconfiguration parameter (RFC 6525 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReConfigParam<'a> {
    /// Outgoing SSN Reset Request (§4.1): the sender resets its outgoing
    /// streams (the receiver's incoming).
    OutgoingReset {
        /// Re-configuration request sequence number.
        request_seq: u32,
        /// The last request this sender responds to with it.
        response_seq: u32,
        /// The sender's last assigned TSN.
        last_tsn: u32,
        /// Streams to reset (empty: all).
        streams: Vec<u16>,
    },
    /// Incoming SSN Reset Request (§4.2): asks the receiver to reset its
    /// outgoing streams.
    IncomingReset {
        /// Request sequence number.
        request_seq: u32,
        /// Streams (empty: all).
        streams: Vec<u16>,
    },
    /// Re-configuration Response (§4.4).
    Response {
        /// The request answered.
        response_seq: u32,
        /// Result (§4.4: 0 nothing to do, 1 performed, 2 denied, 6 in progress...).
        result: u32,
        /// Sender's and receiver's next TSN (only for SSN/TSN resets).
        next_tsns: Option<(u32, u32)>,
    },
    /// Anything else (SSN/TSN reset, add streams), kept as it came.
    Other(Tlv<'a>),
}

/// Re-configuration results (RFC 6525 §4.4).
pub mod reconfig_result {
    /// Success - Nothing to do.
    pub const NOTHING_TO_DO: u32 = 0;
    /// Success - Performed.
    pub const PERFORMED: u32 = 1;
    /// Denied.
    pub const DENIED: u32 = 2;
    /// Error - Wrong SSN.
    pub const WRONG_SSN: u32 = 3;
    /// Error - Request already in progress.
    pub const REQUEST_IN_PROGRESS: u32 = 4;
    /// Error - Bad Sequence Number.
    pub const BAD_SEQUENCE_NUMBER: u32 = 5;
    /// In progress.
    pub const IN_PROGRESS: u32 = 6;
}

const OUTGOING_RESET: u16 = 13;
const INCOMING_RESET: u16 = 14;
const RECONFIG_RESPONSE: u16 = 16;

impl<'a> ReConfigParam<'a> {
    pub(super) fn parse(tlv: Tlv<'a>) -> Result<Self> {
        let v = tlv.value;
        let streams = |from: usize| -> Result<Vec<u16>> {
            let rest = &v[from..];
            if rest.len() % 2 != 0 {
                return Err(Error::MalformedChunk("RE-CONFIG stream list"));
            }
            Ok(rest
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect())
        };
        Ok(match tlv.ty {
            OUTGOING_RESET => {
                if v.len() < 12 {
                    return Err(Error::MalformedChunk("outgoing reset request"));
                }
                ReConfigParam::OutgoingReset {
                    request_seq: be32(v, 0),
                    response_seq: be32(v, 4),
                    last_tsn: be32(v, 8),
                    streams: streams(12)?,
                }
            }
            INCOMING_RESET => {
                if v.len() < 4 {
                    return Err(Error::MalformedChunk("incoming reset request"));
                }
                ReConfigParam::IncomingReset {
                    request_seq: be32(v, 0),
                    streams: streams(4)?,
                }
            }
            RECONFIG_RESPONSE => match v.len() {
                8 => ReConfigParam::Response {
                    response_seq: be32(v, 0),
                    result: be32(v, 4),
                    next_tsns: None,
                },
                16 => ReConfigParam::Response {
                    response_seq: be32(v, 0),
                    result: be32(v, 4),
                    next_tsns: Some((be32(v, 8), be32(v, 12))),
                },
                _ => return Err(Error::MalformedChunk("re-configuration response")),
            },
            _ => ReConfigParam::Other(tlv),
        })
    }

    pub(super) fn value_len(&self) -> usize {
        match self {
            ReConfigParam::OutgoingReset { streams, .. } => 12 + 2 * streams.len(),
            ReConfigParam::IncomingReset { streams, .. } => 4 + 2 * streams.len(),
            ReConfigParam::Response { next_tsns, .. } => {
                if next_tsns.is_some() {
                    16
                } else {
                    8
                }
            }
            ReConfigParam::Other(t) => t.value.len(),
        }
    }

    pub(super) fn emit(&self, out: &mut Vec<u8>) {
        let mut v = Vec::with_capacity(self.value_len());
        let ty = match self {
            ReConfigParam::OutgoingReset {
                request_seq,
                response_seq,
                last_tsn,
                streams,
            } => {
                v.extend_from_slice(&request_seq.to_be_bytes());
                v.extend_from_slice(&response_seq.to_be_bytes());
                v.extend_from_slice(&last_tsn.to_be_bytes());
                streams
                    .iter()
                    .for_each(|s| v.extend_from_slice(&s.to_be_bytes()));
                OUTGOING_RESET
            }
            ReConfigParam::IncomingReset {
                request_seq,
                streams,
            } => {
                v.extend_from_slice(&request_seq.to_be_bytes());
                streams
                    .iter()
                    .for_each(|s| v.extend_from_slice(&s.to_be_bytes()));
                INCOMING_RESET
            }
            ReConfigParam::Response {
                response_seq,
                result,
                next_tsns,
            } => {
                v.extend_from_slice(&response_seq.to_be_bytes());
                v.extend_from_slice(&result.to_be_bytes());
                if let Some((a, b)) = next_tsns {
                    v.extend_from_slice(&a.to_be_bytes());
                    v.extend_from_slice(&b.to_be_bytes());
                }
                RECONFIG_RESPONSE
            }
            ReConfigParam::Other(t) => {
                v.extend_from_slice(t.value);
                t.ty
            }
        };
        emit_tlv(out, ty, &v);
    }
}

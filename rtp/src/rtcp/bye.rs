//! Goodbye, PT 203 (RFC 3550 §6.6), and application-defined, PT 204
//! (RFC 3550 §6.7).
//!
//! ```text
//! BYE: header (count = SC) | SSRC/CSRC × SC | [length (8) | reason | zero padding]
//! APP: header (count = subtype) | SSRC/CSRC | name (4 ASCII) | data (× 32 bits)
//! ```

use super::list::{SsrcList, WireList};
use super::{be32, begin_packet, check_count, end_packet, need, pt};
use crate::RtpError;

/// A goodbye packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bye<'a> {
    /// The sources leaving, at most 31.
    pub ssrcs: SsrcList<'a>,
    /// The reason for leaving, up to 255 bytes of text.
    pub reason: Option<&'a [u8]>,
}

impl<'a> Bye<'a> {
    pub(crate) fn parse(count: u8, body: &'a [u8]) -> Result<Bye<'a>, RtpError> {
        let ssrcs_end = 4 * usize::from(count);
        need(pt::BYE, body, ssrcs_end)?;
        let rest = &body[ssrcs_end..];
        let reason = match rest.split_first() {
            None => None,
            Some((&len, text)) => {
                let len = usize::from(len);
                let reason = text.get(..len).ok_or(RtpError::ByeReasonOverflow {
                    declared: len,
                    available: text.len(),
                })?;
                Some(reason)
            }
        };
        Ok(Bye {
            ssrcs: WireList::from_wire(&body[..ssrcs_end]),
            reason,
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) -> Result<(), RtpError> {
        let count = check_count("BYE sources", self.ssrcs.len())?;
        let start = begin_packet(out, count, pt::BYE)?;
        self.ssrcs.write_all(out);
        if let Some(reason) = self.reason {
            if reason.len() > 255 {
                return Err(RtpError::TextTooLong(reason.len()));
            }
            out.push(reason.len() as u8);
            out.extend_from_slice(reason);
            let len = out.len() - start;
            out.resize(start + len.next_multiple_of(4), 0);
        }
        end_packet(out, start)
    }
}

/// An application-defined packet, kept opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct App<'a> {
    /// The 5-bit subtype (the count field).
    pub subtype: u8,
    /// The source.
    pub ssrc: u32,
    /// The 4-character name.
    pub name: [u8; 4],
    /// Application data (a multiple of 4 bytes when written).
    pub data: &'a [u8],
}

impl<'a> App<'a> {
    pub(crate) fn parse(subtype: u8, body: &'a [u8]) -> Result<App<'a>, RtpError> {
        need(pt::APP, body, 8)?;
        Ok(App {
            subtype,
            ssrc: be32(body, 0),
            name: [body[4], body[5], body[6], body[7]],
            data: &body[8..],
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) -> Result<(), RtpError> {
        let start = begin_packet(out, self.subtype, pt::APP)?;
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(&self.name);
        out.extend_from_slice(self.data);
        end_packet(out, start)
    }
}

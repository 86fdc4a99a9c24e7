//! The data channel m-line (RFC 8841): `m=application 9 UDP/DTLS/SCTP
//! webrtc-datachannel` with `a=sctp-port` (§5) and `a=max-message-size`
//! (§6). The SCTP association runs over the BUNDLE transport's DTLS
//! (RFC 8261, RFC 8831 §5); its m-line carries no RTP, codecs or
//! direction.

use std::borrow::Cow;

use crate::attribute::Attribute;
use crate::session::MediaSection;

use super::{blank_connection, MediaKind};

/// The proto of the data m-line over UDP (RFC 8841 §4.1).
pub const DATA_PROTOCOL: &str = "UDP/DTLS/SCTP";
/// Its only format (RFC 8841 §4.1: the `webrtc-datachannel` fmt).
pub const DATA_FORMAT: &str = "webrtc-datachannel";
/// The SCTP port meshrtc announces and the default when a description
/// has no `a=sctp-port` (RFC 8841 §5.1).
pub const SCTP_PORT: u16 = 5000;
/// The largest message meshrtc receives (`a=max-message-size`): 256 KiB,
/// what browsers announce.
pub const MAX_MESSAGE_SIZE: u64 = 262_144;
/// The peer's limit when its description says nothing (RFC 8841 §6.1).
const DEFAULT_MAX_MESSAGE_SIZE: u64 = 65_536;

/// What the data m-line agreed, from the local side's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedData {
    /// Its mid.
    pub mid: String,
    /// Our SCTP port (our `a=sctp-port`).
    pub local_port: u16,
    /// The peer's SCTP port (its `a=sctp-port`, 5000 if absent).
    pub remote_port: u16,
    /// The largest message the peer accepts (its `a=max-message-size`;
    /// 65536 if absent, RFC 8841 §6.1). `None`: no limit (the value 0).
    pub remote_max_message_size: Option<u64>,
}

/// Whether an m-line is the data channel m-line of RFC 8841 §4.1 (over
/// UDP or TCP, with the `webrtc-datachannel` format). The older
/// `DTLS/SCTP 5000` + `a=sctpmap` form of draft-ietf-mmusic-sctp-sdp-05 is
/// not: browsers stopped writing it.
pub(super) fn is_data_line(m: &MediaSection<'_>) -> bool {
    MediaKind::from_token(&m.kind) == Some(MediaKind::Application)
        && matches!(m.protocol.as_ref(), "UDP/DTLS/SCTP" | "TCP/DTLS/SCTP")
        && m.formats.iter().any(|f| f == DATA_FORMAT)
}

/// Our SCTP attributes.
pub(super) fn data_attributes() -> Vec<Attribute<'static>> {
    vec![
        Attribute::SctpPort(SCTP_PORT),
        Attribute::MaxMessageSize(MAX_MESSAGE_SIZE),
    ]
}

/// A data m-line with `attributes` (the transport's, then ours).
pub(super) fn data_line(
    protocol: &str,
    attributes: Vec<Attribute<'static>>,
) -> MediaSection<'static> {
    MediaSection {
        kind: Cow::Borrowed("application"),
        port: 9,
        port_count: None,
        protocol: Cow::Owned(protocol.to_string()),
        formats: vec![Cow::Borrowed(DATA_FORMAT)],
        connection: blank_connection(),
        attributes: if attributes
            .iter()
            .any(|a| matches!(a, Attribute::SctpPort(_)))
        {
            attributes
        } else {
            let mut a = attributes;
            a.extend(data_attributes());
            a
        },
        other: Vec::new(),
    }
}

/// The agreed SCTP parameters of the data m-line: `local` is our m-line,
/// `remote` the peer's.
pub(super) fn negotiated_data(
    mid: &str,
    local: &MediaSection<'_>,
    remote: &MediaSection<'_>,
) -> NegotiatedData {
    let port = |m: &MediaSection<'_>| {
        m.find(|a| match a {
            Attribute::SctpPort(p) => Some(*p),
            _ => None,
        })
        .unwrap_or(SCTP_PORT)
    };
    let max = remote
        .find(|a| match a {
            Attribute::MaxMessageSize(m) => Some(*m),
            _ => None,
        })
        .unwrap_or(DEFAULT_MAX_MESSAGE_SIZE);
    NegotiatedData {
        mid: mid.to_string(),
        local_port: port(local),
        remote_port: port(remote),
        remote_max_message_size: (max != 0).then_some(max),
    }
}

//! Offer/answer: the JSEP subset a WebRTC peer needs (RFC 8829 §5.2–5.3,
//! RFC 3264 §5–6, RFC 8843 for BUNDLE, RFC 8842 for the DTLS role).
//!
//! Three steps, each a plain function of descriptions and local settings:
//! - [`create_offer`]: an offer for a list of [`Transceiver`]s, promising
//!   only the [`Features`] the caller says exist.
//! - [`create_answer`]: an answer to a remote offer under the rules
//!   browsers enforce (same m-lines and mids, the offerer's payload types,
//!   codecs, feedback and header extensions intersected, `rtcp-mux`
//!   required, the DTLS role and directions per RFC 8842 / RFC 3264 §6.1,
//!   m-lines we cannot serve rejected with port 0 and left out of BUNDLE).
//! - [`negotiate`]: local and remote description in, the [`Negotiated`]
//!   result out — per mid the codecs with their payload types and RTX
//!   pairs, header extension ids and the remote SSRCs; from the remote
//!   BUNDLE-tagged m-line the ICE credentials, candidates, fingerprint and
//!   the DTLS role. The offerer calls it with the answer, the answerer with
//!   the offer and its own answer.

use crate::attribute::{Attribute, Direction, Setup};
use crate::candidate::CandidateAttr;
use crate::session::{Connection, MediaSection, Origin, SessionDescription};
use std::borrow::Cow;

mod data;
pub use data::{NegotiatedData, DATA_FORMAT, DATA_PROTOCOL, MAX_MESSAGE_SIZE, SCTP_PORT};

/// Header extension URIs meshrtc can negotiate (RFC 8285 §5 names them by
/// URI; the id is per session).
pub mod ext {
    /// `sdes:mid` (RFC 8843 §15.1): demultiplexes BUNDLE; always offered.
    pub const MID: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
    /// Absolute send time (webrtc.org), used by goog-remb.
    pub const ABS_SEND_TIME: &str = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";
    /// Transport-wide sequence number
    /// (draft-holmer-rmcat-transport-wide-cc-extensions-01).
    pub const TRANSPORT_CC: &str =
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
    /// Client-to-mixer audio level (RFC 6464), audio only.
    pub const AUDIO_LEVEL: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
}

/// What the stack really implements, so that offers and answers never
/// promise more: a browser that is promised transport-cc or rtx relies on
/// it. NACK, PLI and FIR feedback and the `sdes:mid` extension are always
/// offered (the RTP layer always does them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features {
    /// RTX retransmission (RFC 4588) for video.
    pub rtx: bool,
    /// transport-cc feedback and the transport-wide sequence number.
    pub transport_cc: bool,
    /// goog-remb feedback.
    pub remb: bool,
    /// The abs-send-time header extension.
    pub abs_send_time: bool,
    /// The ssrc-audio-level header extension.
    pub audio_level: bool,
}

impl Features {
    /// Everything in this list turned on.
    pub fn all() -> Features {
        Features {
            rtx: true,
            transport_cc: true,
            remb: true,
            abs_send_time: true,
            audio_level: true,
        }
    }

    /// The header extensions enabled for `kind`, with their stable ids: the
    /// same URI always gets the same id, as BUNDLE requires (RFC 8843 §9.2).
    fn extensions(&self, kind: MediaKind) -> Vec<(u16, &'static str)> {
        let mut v = Vec::new();
        if self.audio_level && kind == MediaKind::Audio {
            v.push((1, ext::AUDIO_LEVEL));
        }
        if self.abs_send_time {
            v.push((2, ext::ABS_SEND_TIME));
        }
        if self.transport_cc {
            v.push((3, ext::TRANSPORT_CC));
        }
        v.push((4, ext::MID));
        v
    }

    fn supports_extension(&self, kind: MediaKind, uri: &str) -> bool {
        self.extensions(kind).iter().any(|(_, u)| *u == uri)
    }

    /// The feedback meshrtc does for a codec (RFC 4585 §4.2 spelling).
    fn feedback(&self, kind: MediaKind) -> Vec<&'static str> {
        let mut v = Vec::new();
        if kind == MediaKind::Video {
            if self.remb {
                v.push("goog-remb");
            }
            if self.transport_cc {
                v.push("transport-cc");
            }
            v.extend(["ccm fir", "nack", "nack pli"]);
        } else if self.transport_cc {
            v.push("transport-cc");
        }
        v
    }
}

/// Audio, video, or the data channel m-line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// `m=audio`.
    Audio,
    /// `m=video`.
    Video,
    /// `m=application ... UDP/DTLS/SCTP webrtc-datachannel` (RFC 8841):
    /// the SCTP association of the data channels. At most one per session.
    Application,
}

impl MediaKind {
    /// The `m=` media token.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Application => "application",
        }
    }

    /// The kind of an `m=` media token, `None` for one meshrtc has no use
    /// for (`text`, `message`, ...).
    pub fn from_token(s: &str) -> Option<MediaKind> {
        match s {
            "audio" => Some(MediaKind::Audio),
            "video" => Some(MediaKind::Video),
            "application" => Some(MediaKind::Application),
            _ => None,
        }
    }
}

/// The codecs meshrtc has (libopus and libvpx in `media`), with the payload
/// types it offers (Chromium's, so logs line up).
const OPUS_PT: u8 = 111;
const VP8_PT: u8 = 96;
const VP8_RTX_PT: u8 = 97;
const OPUS_FMTP: &str = "minptime=10;useinbandfec=1";

fn codec_supported(kind: MediaKind, name: &str, clock: u32, channels: Option<u16>) -> bool {
    match kind {
        MediaKind::Audio => {
            name.eq_ignore_ascii_case("opus") && clock == 48000 && channels == Some(2)
        }
        MediaKind::Video => {
            name.eq_ignore_ascii_case("VP8") && clock == 90000 && channels.is_none()
        }
        MediaKind::Application => false,
    }
}

/// A local track sent on a transceiver: the stream and track ids Chromium
/// turns into `event.streams` (RFC 8830), and its SSRCs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendTrack {
    /// MediaStream id (`a=msid` first field).
    pub stream_id: String,
    /// Track id (`a=msid` second field).
    pub track_id: String,
    /// The media SSRC.
    pub ssrc: u32,
    /// The RTX SSRC, used when RTX is negotiated (video).
    pub rtx_ssrc: Option<u32>,
}

/// One m-line of an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transceiver {
    /// Its mid (unique in the session).
    pub mid: String,
    /// Audio, video or the data m-line.
    pub kind: MediaKind,
    /// What we send, if anything.
    pub send: Option<SendTrack>,
    /// Whether we want to receive.
    pub receive: bool,
    /// Stopped (RFC 8829 §4.2.1, §5.2.2): its m-line is written with
    /// port 0 and left out of BUNDLE; in an answer, its m-line is rejected.
    pub stopped: bool,
}

/// A certificate fingerprint (RFC 8122 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// Hash function name, e.g. `sha-256`.
    pub hash: String,
    /// Upper-case colon-separated hex.
    pub value: String,
}

/// What the local side puts in every description it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalParams {
    /// ICE ufrag: 4 to 256 ice-chars (RFC 8839 §5.4).
    pub ice_ufrag: String,
    /// ICE password: 22 to 256 ice-chars.
    pub ice_pwd: String,
    /// Our DTLS certificate's fingerprint.
    pub fingerprint: Fingerprint,
    /// RTCP CNAME for our SSRCs.
    pub cname: String,
    /// `o=` session id (digits; random, below 2^63).
    pub session_id: u64,
    /// `o=` version, incremented by the caller on each new description.
    pub session_version: u64,
    /// Candidates gathered so far (written into the BUNDLE-tagged m-line).
    pub candidates: Vec<CandidateAttr<'static>>,
    /// Whether gathering is complete (`a=end-of-candidates`).
    pub end_of_candidates: bool,
}

/// Our side of the DTLS handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtlsRole {
    /// We send the ClientHello (`setup:active`).
    Client,
    /// We wait for it (`setup:passive`).
    Server,
}

/// Why an offer or answer could not be made or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NegotiationError {
    /// A local ICE ufrag or password of the wrong length or alphabet.
    #[error("invalid local ICE {0}: ufrag needs 4-256 and pwd 22-256 ice-chars")]
    InvalidLocalCredentials(&'static str),
    /// The remote ICE ufrag or password is malformed.
    #[error("invalid remote ICE {0} (RFC 8839 §5.4)")]
    InvalidRemoteCredentials(&'static str),
    /// Two transceivers (or m-lines) share a mid, or a mid is missing.
    #[error("m-line {index}: {reason}")]
    BadMid {
        /// The m-line's index.
        index: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The description has no BUNDLE group though it has several m-lines
    /// (meshrtc runs everything over one transport).
    #[error("the description has several m-lines but no a=group:BUNDLE")]
    NotBundled,
    /// An RTP m-line without `a=rtcp-mux` (RFC 8829 §5.3.1 requires it).
    #[error("m-line {mid:?} does not offer a=rtcp-mux")]
    NoRtcpMux {
        /// Its mid.
        mid: String,
    },
    /// No m-line of the offer's BUNDLE group can be served, so no m-line
    /// could carry the transport (RFC 9143 §7.3.1: a rejected tagged
    /// m-line alone is fine, the next accepted one is tagged instead).
    #[error("cannot accept any m-line of the BUNDLE group tagged {mid:?}: the whole bundle would be rejected")]
    BundleTransportRejected {
        /// The offerer's tagged mid.
        mid: String,
    },
    /// The BUNDLE-tagged m-line lacks a required attribute.
    #[error("the BUNDLE-tagged m-line {mid:?} has no {what}")]
    Missing {
        /// Its mid.
        mid: String,
        /// e.g. `a=fingerprint`.
        what: &'static str,
    },
    /// `setup` values that cannot pair (RFC 8842 §5).
    #[error("DTLS setup: {0}")]
    Setup(&'static str),
    /// The answer's m-lines do not match the offer's (count, order, kind,
    /// mid).
    #[error("the answer's m-line {index} does not match the offer: {reason}")]
    AnswerMismatch {
        /// The m-line's index.
        index: usize,
        /// What differs.
        reason: &'static str,
    },
    /// The answer uses a payload type the offer did not have, or changes
    /// its codec.
    #[error("m-line {mid:?}: the answer's payload type {pt} is not one of the offer's")]
    UnknownPayloadType {
        /// The m-line's mid.
        mid: String,
        /// The payload type.
        pt: u8,
    },
    /// The answer's direction is not allowed for the offered one
    /// (RFC 3264 §6.1).
    #[error(
        "m-line {mid:?}: answer direction {answer:?} is not allowed for offer direction {offer:?}"
    )]
    DirectionMismatch {
        /// The m-line's mid.
        mid: String,
        /// The offer's direction.
        offer: Direction,
        /// The answer's direction.
        answer: Direction,
    },
}

fn is_ice_chars(s: &str, min: usize) -> bool {
    (min..=256).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

fn check_local(local: &LocalParams) -> Result<(), NegotiationError> {
    if !is_ice_chars(&local.ice_ufrag, 4) {
        return Err(NegotiationError::InvalidLocalCredentials("ufrag"));
    }
    if !is_ice_chars(&local.ice_pwd, 22) {
        return Err(NegotiationError::InvalidLocalCredentials("pwd"));
    }
    Ok(())
}

fn owned(s: &str) -> Cow<'static, str> {
    Cow::Owned(s.to_string())
}

fn session_head(
    local: &LocalParams,
    bundle: Vec<Cow<'static, str>>,
) -> SessionDescription<'static> {
    SessionDescription {
        origin: Origin {
            username: Cow::Borrowed("-"),
            session_id: Cow::Owned(local.session_id.to_string()),
            session_version: Cow::Owned(local.session_version.to_string()),
            net_type: Cow::Borrowed("IN"),
            addr_type: Cow::Borrowed("IP4"),
            address: Cow::Borrowed("127.0.0.1"),
        },
        session_name: Cow::Borrowed("-"),
        connection: None,
        timing: vec![(0, 0)],
        attributes: vec![
            Attribute::Group {
                semantics: Cow::Borrowed("BUNDLE"),
                mids: bundle,
            },
            Attribute::MsidSemantic {
                semantic: Cow::Borrowed("WMS"),
                ids: Vec::new(),
            },
        ],
        other: Vec::new(),
        media: Vec::new(),
    }
}

fn blank_connection() -> Option<Connection<'static>> {
    Some(Connection {
        net_type: Cow::Borrowed("IN"),
        addr_type: Cow::Borrowed("IP4"),
        address: Cow::Borrowed("0.0.0.0"),
    })
}

/// The transport attributes of an m-line: ICE, DTLS, and (on the tagged
/// m-line only) the candidates.
fn transport_attributes(
    local: &LocalParams,
    setup: Setup,
    mid: &str,
    tagged: bool,
) -> Vec<Attribute<'static>> {
    let mut a = vec![Attribute::Other {
        name: Cow::Borrowed("rtcp"),
        value: Some(Cow::Borrowed("9 IN IP4 0.0.0.0")),
    }];
    if tagged {
        for c in &local.candidates {
            a.push(Attribute::Candidate(Box::new(c.clone())));
        }
        if local.end_of_candidates {
            a.push(Attribute::EndOfCandidates);
        }
    }
    a.extend([
        Attribute::IceUfrag(owned(&local.ice_ufrag)),
        Attribute::IcePwd(owned(&local.ice_pwd)),
        Attribute::IceOptions(Cow::Borrowed("trickle")),
        Attribute::Fingerprint {
            hash: owned(&local.fingerprint.hash),
            value: owned(&local.fingerprint.value),
        },
        Attribute::Setup(setup),
        Attribute::Mid(owned(mid)),
    ]);
    a
}

fn extmap(id: u16, uri: &str) -> Attribute<'static> {
    Attribute::Extmap {
        id,
        direction: None,
        uri: owned(uri),
        attributes: None,
    }
}

fn rtpmap(pt: u8, name: &str, clock: u32, channels: Option<u16>) -> Attribute<'static> {
    Attribute::Rtpmap {
        pt,
        encoding: owned(name),
        clock,
        channels,
    }
}

fn fb(pt: u8, f: &str) -> Attribute<'static> {
    Attribute::RtcpFb {
        pt: Some(pt),
        feedback: owned(f),
    }
}

fn fmtp(pt: u8, p: &str) -> Attribute<'static> {
    Attribute::Fmtp {
        pt,
        params: owned(p),
    }
}

/// `a=msid`, `a=ssrc-group:FID` and `a=ssrc` lines for a sent track
/// (RFC 8830 §2, RFC 5576 §4). `rtx` says whether RTX was negotiated.
fn track_attributes(t: &SendTrack, cname: &str, rtx: bool) -> Vec<Attribute<'static>> {
    let mut a = vec![Attribute::Msid {
        stream: owned(&t.stream_id),
        track: Some(owned(&t.track_id)),
    }];
    let rtx_ssrc = t.rtx_ssrc.filter(|_| rtx);
    if let Some(r) = rtx_ssrc {
        a.push(Attribute::SsrcGroup {
            semantics: Cow::Borrowed("FID"),
            ssrcs: vec![t.ssrc, r],
        });
    }
    for ssrc in std::iter::once(t.ssrc).chain(rtx_ssrc) {
        a.push(Attribute::Ssrc {
            ssrc,
            attribute: Cow::Borrowed("cname"),
            value: Some(owned(cname)),
        });
        a.push(Attribute::Ssrc {
            ssrc,
            attribute: Cow::Borrowed("msid"),
            value: Some(Cow::Owned(format!("{} {}", t.stream_id, t.track_id))),
        });
    }
    a
}

fn direction_of(send: bool, receive: bool) -> Direction {
    match (send, receive) {
        (true, true) => Direction::SendRecv,
        (true, false) => Direction::SendOnly,
        (false, true) => Direction::RecvOnly,
        (false, false) => Direction::Inactive,
    }
}

fn sends(d: Direction) -> bool {
    matches!(d, Direction::SendRecv | Direction::SendOnly)
}

fn receives(d: Direction) -> bool {
    matches!(d, Direction::SendRecv | Direction::RecvOnly)
}

/// Builds an offer (RFC 8829 §5.2.1) for `transceivers`, all in one BUNDLE
/// group tagged by the first, with `rtcp-mux` and `rtcp-rsize`,
/// `setup:actpass`, and only the codecs, feedback and header extensions of
/// `features`. See [`create_offer_tagged`] for subsequent offers.
pub fn create_offer(
    local: &LocalParams,
    features: &Features,
    transceivers: &[Transceiver],
) -> Result<SessionDescription<'static>, NegotiationError> {
    create_offer_tagged(local, features, transceivers, None)
}

/// Builds an initial or subsequent offer (RFC 8829 §5.2.1, §5.2.2).
/// `transceivers` are in m-line order: a subsequent offer keeps the order
/// and mids of the current description. A stopped transceiver is written
/// as a rejected m-line (port 0, its mid kept, outside BUNDLE). `tag`
/// names the m-line that carries the BUNDLE transport: in a subsequent
/// offer the tag of the current negotiation (RFC 9143 §7.2.1, §7.3.3);
/// `None`, or a tag that is stopped, means the first live m-line.
pub fn create_offer_tagged(
    local: &LocalParams,
    features: &Features,
    transceivers: &[Transceiver],
    tag: Option<&str>,
) -> Result<SessionDescription<'static>, NegotiationError> {
    create_subsequent_offer(local, features, transceivers, tag, None)
}

/// The header extensions of an offer for `kind` with their ids: those of
/// `current` (the session's current local description) where it has the
/// URI, so a subsequent offer keeps the ids both sides negotiated (RFC
/// 8829 §5.2.2; RFC 8285 §6: an id must not be remapped mid-session, which
/// Firefox enforces); otherwise our default id, or, if `current` gives
/// that id to another URI, the lowest id that is neither in use nor
/// one of our defaults. The same URI gets
/// the same id on every m-line (RFC 9143 §7.2.1).
fn offer_extensions(
    features: &Features,
    kind: MediaKind,
    current: Option<&SessionDescription<'_>>,
) -> Vec<(u16, &'static str)> {
    let in_use: Vec<(u16, &str)> = current
        .into_iter()
        .flat_map(|d| &d.media)
        .flat_map(|m| &m.attributes)
        .filter_map(|a| match a {
            Attribute::Extmap { id, uri, .. } => Some((*id, uri.as_ref())),
            _ => None,
        })
        .collect();
    // Every URI we may offer, in one order for all kinds, so a free id is
    // handed out the same way on every m-line.
    let all = features.extensions(MediaKind::Audio);
    let mut ids: Vec<(u16, &'static str)> = Vec::with_capacity(all.len());
    for &(default, uri) in &all {
        let id = match in_use.iter().find(|(_, u)| *u == uri) {
            Some((id, _)) => *id,
            None if !in_use.iter().any(|(i, _)| *i == default) => default,
            None => (1..=14)
                .find(|i| {
                    !in_use.iter().any(|(u, _)| u == i)
                        && !ids.iter().any(|(u, _)| u == i)
                        && !all.iter().any(|(d, _)| d == i)
                })
                .unwrap_or(default),
        };
        ids.push((id, uri));
    }
    let wanted = features.extensions(kind);
    ids.retain(|(_, uri)| wanted.iter().any(|(_, u)| u == uri));
    ids
}

/// [`create_offer_tagged`] for a session that already has a local
/// description: `current` keeps the header extension ids negotiated
/// before (see [`offer_extensions`]).
pub fn create_subsequent_offer(
    local: &LocalParams,
    features: &Features,
    transceivers: &[Transceiver],
    tag: Option<&str>,
    current: Option<&SessionDescription<'_>>,
) -> Result<SessionDescription<'static>, NegotiationError> {
    check_local(local)?;
    for (index, t) in transceivers.iter().enumerate() {
        if t.mid.is_empty() || !t.mid.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(NegotiationError::BadMid {
                index,
                reason: "a mid must be one non-empty token",
            });
        }
        if transceivers[..index].iter().any(|o| o.mid == t.mid) {
            return Err(NegotiationError::BadMid {
                index,
                reason: "duplicate mid",
            });
        }
    }
    let live = || transceivers.iter().filter(|t| !t.stopped);
    let tag = tag
        .filter(|tag| live().any(|t| t.mid == *tag))
        .or_else(|| live().next().map(|t| t.mid.as_str()));
    // The offerer's tagged m-line comes first in the group (RFC 9143
    // §7.2.1), the others in m-line order.
    let bundle = tag
        .into_iter()
        .chain(live().map(|t| t.mid.as_str()).filter(|m| Some(*m) != tag))
        .map(owned)
        .collect();
    let mut sd = session_head(local, bundle);
    for t in transceivers {
        if t.stopped {
            sd.media.push(stopped_line(t));
            continue;
        }
        let mut a =
            transport_attributes(local, Setup::ActPass, &t.mid, Some(t.mid.as_str()) == tag);
        if t.kind == MediaKind::Application {
            sd.media.push(data::data_line(DATA_PROTOCOL, a));
            continue;
        }
        for (id, uri) in offer_extensions(features, t.kind, current) {
            a.push(extmap(id, uri));
        }
        a.push(Attribute::Direction(direction_of(
            t.send.is_some(),
            t.receive,
        )));
        a.extend([Attribute::RtcpMux, Attribute::RtcpRsize]);
        // The payload types the session uses (RFC 8829 §5.2.2): when the
        // peer offered first, its numbers (Firefox: VP8 120, Opus 109),
        // not ours; a changed number would restart the stream mid-call.
        let (codec_pt, rtx_pt) = session_payload_types(current, &t.mid, t.kind);
        let formats = match t.kind {
            MediaKind::Audio => {
                let opus = codec_pt.unwrap_or(OPUS_PT);
                a.push(rtpmap(opus, "opus", 48000, Some(2)));
                for f in features.feedback(MediaKind::Audio) {
                    a.push(fb(opus, f));
                }
                a.push(fmtp(opus, OPUS_FMTP));
                vec![opus]
            }
            MediaKind::Video => {
                let (vp8, rtx) = match codec_pt {
                    Some(vp8) => (vp8, rtx_pt.unwrap_or(VP8_RTX_PT)),
                    None => (VP8_PT, VP8_RTX_PT),
                };
                a.push(rtpmap(vp8, "VP8", 90000, None));
                for f in features.feedback(MediaKind::Video) {
                    a.push(fb(vp8, f));
                }
                if features.rtx && rtx != vp8 {
                    a.push(rtpmap(rtx, "rtx", 90000, None));
                    a.push(fmtp(rtx, &format!("apt={vp8}")));
                    vec![vp8, rtx]
                } else {
                    vec![vp8]
                }
            }
            MediaKind::Application => Vec::new(),
        };
        if let Some(track) = &t.send {
            a.extend(track_attributes(track, &local.cname, features.rtx));
        }
        sd.media.push(MediaSection {
            kind: Cow::Borrowed(t.kind.as_str()),
            port: 9,
            port_count: None,
            protocol: Cow::Borrowed("UDP/TLS/RTP/SAVPF"),
            formats: formats.iter().map(|p| Cow::Owned(p.to_string())).collect(),
            connection: blank_connection(),
            attributes: a,
            other: Vec::new(),
        });
    }
    Ok(sd)
}

/// The payload types of our codec (VP8 and its RTX, or Opus) in the
/// current local description: on the m-line `mid` if it has one, else on
/// another live m-line of the same kind (one number per codec in the
/// BUNDLE group, RFC 8843 §9.1). `(None, None)` when there is none.
fn session_payload_types(
    current: Option<&SessionDescription<'_>>,
    mid: &str,
    kind: MediaKind,
) -> (Option<u8>, Option<u8>) {
    let Some(current) = current else {
        return (None, None);
    };
    let codec = match kind {
        MediaKind::Audio => "opus",
        MediaKind::Video => "VP8",
        MediaKind::Application => return (None, None),
    };
    let pts_of = |m: &MediaSection<'_>| {
        let pt = rtpmaps(m)
            .find(|(_, enc, _, _)| enc.eq_ignore_ascii_case(codec))
            .map(|(pt, ..)| pt)?;
        let rtx = rtpmaps(m)
            .filter(|(_, enc, _, _)| enc.eq_ignore_ascii_case("rtx"))
            .map(|(p, ..)| p)
            .find(|&p| apt(m, p) == Some(pt));
        Some((Some(pt), rtx))
    };
    let same_kind = |m: &&MediaSection<'_>| m.kind == kind.as_str() && m.port != 0;
    current
        .media
        .iter()
        .filter(same_kind)
        .find(|m| m.mid() == Some(mid))
        .and_then(pts_of)
        .or_else(|| current.media.iter().filter(same_kind).find_map(pts_of))
        .unwrap_or((None, None))
}

/// The m-line of a stopped transceiver in an offer (RFC 8829 §5.2.2): port
/// 0, its mid kept so the answer can name it, nothing else.
fn stopped_line(t: &Transceiver) -> MediaSection<'static> {
    let (protocol, format) = match t.kind {
        MediaKind::Audio => ("UDP/TLS/RTP/SAVPF", OPUS_PT.to_string()),
        MediaKind::Video => ("UDP/TLS/RTP/SAVPF", VP8_PT.to_string()),
        MediaKind::Application => (DATA_PROTOCOL, DATA_FORMAT.to_string()),
    };
    MediaSection {
        kind: Cow::Borrowed(t.kind.as_str()),
        port: 0,
        port_count: None,
        protocol: Cow::Borrowed(protocol),
        formats: vec![Cow::Owned(format)],
        connection: blank_connection(),
        attributes: vec![Attribute::Mid(owned(&t.mid))],
        other: Vec::new(),
    }
}

/// The `apt=` of an RTX fmtp (RFC 4588 §8.6).
fn apt(m: &MediaSection<'_>, pt: u8) -> Option<u8> {
    m.attributes.iter().find_map(|a| match a {
        Attribute::Fmtp { pt: p, params } if *p == pt => params
            .split(';')
            .find_map(|kv| kv.trim().strip_prefix("apt="))
            .and_then(|v| v.trim().parse().ok()),
        _ => None,
    })
}

fn rtpmaps<'m, 'a>(
    m: &'m MediaSection<'a>,
) -> impl Iterator<Item = (u8, &'m str, u32, Option<u16>)> + 'm {
    m.attributes.iter().filter_map(|a| match a {
        Attribute::Rtpmap {
            pt,
            encoding,
            clock,
            channels,
        } => Some((*pt, encoding.as_ref(), *clock, *channels)),
        _ => None,
    })
}

fn offered_feedback<'m>(m: &'m MediaSection<'_>, pt: u8) -> impl Iterator<Item = &'m str> + 'm {
    m.attributes.iter().filter_map(move |a| match a {
        Attribute::RtcpFb { pt: p, feedback } if *p == Some(pt) || p.is_none() => {
            Some(feedback.as_ref())
        }
        _ => None,
    })
}

/// A rejected m-line in an answer (RFC 8829 §5.3.1: port 0, the mid kept,
/// nothing else).
fn rejected(m: &MediaSection<'_>, mid: &str) -> MediaSection<'static> {
    MediaSection {
        kind: owned(&m.kind),
        port: 0,
        port_count: None,
        protocol: owned(&m.protocol),
        formats: m.formats.iter().map(|f| owned(f)).collect(),
        connection: blank_connection(),
        attributes: vec![Attribute::Mid(owned(mid))],
        other: Vec::new(),
    }
}

/// The answer's m-line attributes for an RTP m-line we accept, or `None`
/// when no codec is in common.
fn answer_codecs(
    offer: &MediaSection<'_>,
    kind: MediaKind,
    features: &Features,
) -> Option<(Vec<Cow<'static, str>>, Vec<Attribute<'static>>)> {
    let ours = features.feedback(kind);
    let mut formats = Vec::new();
    let mut attrs = Vec::new();
    let mut kept = Vec::new();
    for (pt, name, clock, channels) in rtpmaps(offer) {
        if !offer.formats.iter().any(|f| f.as_ref() == pt.to_string()) {
            continue;
        }
        if !codec_supported(kind, name, clock, channels) || kept.contains(&pt) {
            continue;
        }
        kept.push(pt);
        formats.push(Cow::Owned(pt.to_string()));
        attrs.push(rtpmap(pt, name, clock, channels));
        for f in offered_feedback(offer, pt) {
            if ours.contains(&f) && !attrs.contains(&fb(pt, f)) {
                attrs.push(fb(pt, f));
            }
        }
        if kind == MediaKind::Audio {
            attrs.push(fmtp(pt, OPUS_FMTP));
        }
    }
    if kept.is_empty() {
        return None;
    }
    // RTX types only for a kept codec (RFC 4588 §8.6), and only if we do RTX.
    if features.rtx && kind == MediaKind::Video {
        for (pt, name, clock, _) in rtpmaps(offer) {
            let apt = apt(offer, pt);
            if name.eq_ignore_ascii_case("rtx")
                && clock == 90000
                && apt.is_some_and(|a| kept.contains(&a))
                && offer.formats.iter().any(|f| f.as_ref() == pt.to_string())
            {
                formats.push(Cow::Owned(pt.to_string()));
                attrs.push(rtpmap(pt, "rtx", 90000, None));
                attrs.push(fmtp(pt, &format!("apt={}", apt.unwrap_or_default())));
            }
        }
    }
    Some((formats, attrs))
}

/// Our answer's direction for an offered one (RFC 3264 §6.1, RFC 8829
/// §5.3.1): we send only if the offerer receives, we receive only if it
/// sends.
fn answer_direction(offered: Direction, send: bool, receive: bool) -> Direction {
    direction_of(send && receives(offered), receive && sends(offered))
}

/// The BUNDLE group of a description: its mids, or the one mid of a
/// single-m-line description without a group.
fn bundle_mids<'d>(d: &'d SessionDescription<'_>) -> Result<Vec<&'d str>, NegotiationError> {
    match d.bundle() {
        Some(mids) => Ok(mids.iter().map(|m| m.as_ref()).collect()),
        None if d.media.len() <= 1 => Ok(d.media.iter().filter_map(|m| m.mid()).collect()),
        None => Err(NegotiationError::NotBundled),
    }
}

fn mids_checked<'d>(d: &'d SessionDescription<'_>) -> Result<Vec<&'d str>, NegotiationError> {
    let mut mids = Vec::with_capacity(d.media.len());
    for (index, m) in d.media.iter().enumerate() {
        let mid = m.mid().ok_or(NegotiationError::BadMid {
            index,
            reason: "no a=mid",
        })?;
        if mids.contains(&mid) {
            return Err(NegotiationError::BadMid {
                index,
                reason: "duplicate mid",
            });
        }
        mids.push(mid);
    }
    Ok(mids)
}

/// Answers `offer` (RFC 8829 §5.3.1). `tracks` are the local tracks to
/// send: each goes on the first offered m-line of its kind, in order, whose
/// direction lets us send. We always want to receive. See
/// [`create_answer_for`] for answers from a list of transceivers.
pub fn create_answer(
    offer: &SessionDescription<'_>,
    local: &LocalParams,
    features: &Features,
    tracks: &[(MediaKind, SendTrack)],
) -> Result<SessionDescription<'static>, NegotiationError> {
    let mids = mids_checked(offer)?;
    let mut unused: Vec<Option<&(MediaKind, SendTrack)>> = tracks.iter().map(Some).collect();
    let mut transceivers = Vec::with_capacity(offer.media.len());
    for (m, &mid) in offer.media.iter().zip(&mids) {
        // Audio and video only: tracks carry no data channels, so a data
        // m-line is rejected here (see create_answer_for).
        let Some(kind) = MediaKind::from_token(&m.kind).filter(|k| *k != MediaKind::Application)
        else {
            continue;
        };
        let send = if !m.is_disabled() && receives(m.direction()) {
            unused
                .iter_mut()
                .find(|t| t.is_some_and(|(k, _)| *k == kind))
                .and_then(Option::take)
                .map(|(_, t)| t.clone())
        } else {
            None
        };
        transceivers.push(Transceiver {
            mid: mid.to_string(),
            kind,
            send,
            receive: true,
            stopped: false,
        });
    }
    create_answer_for(offer, local, features, &transceivers, None)
}

/// Answers `offer` (RFC 8829 §5.3.1, §5.3.2) from `transceivers` matched
/// to its m-lines by mid: an m-line without a transceiver of its kind, or
/// whose transceiver is stopped, is rejected (port 0). `role` keeps the
/// DTLS role of an existing association in a subsequent answer (RFC 8842
/// §5.3); `None` takes the role the offer leaves us (`active` unless it
/// says `active`).
///
/// BUNDLE (RFC 9143 §7.3.1): if we reject the offerer's tagged m-line,
/// the next m-line of its group that we accept becomes our tagged m-line
/// and carries the transport; an offer whose whole group we reject is an
/// error.
pub fn create_answer_for(
    offer: &SessionDescription<'_>,
    local: &LocalParams,
    features: &Features,
    transceivers: &[Transceiver],
    role: Option<DtlsRole>,
) -> Result<SessionDescription<'static>, NegotiationError> {
    check_local(local)?;
    let mids = mids_checked(offer)?;
    let group = bundle_mids(offer)?;
    // What we do with each m-line: accepted with its codecs, or rejected.
    let mut plans = Vec::with_capacity(offer.media.len());
    for (m, &mid) in offer.media.iter().zip(&mids) {
        let kind = MediaKind::from_token(&m.kind);
        let rtp = m.protocol.contains("RTP");
        // Everything runs over one transport: an m-line outside the offer's
        // BUNDLE group is rejected like one we cannot serve.
        let in_bundle = group.contains(&mid);
        let t = transceivers
            .iter()
            .find(|t| t.mid == mid && Some(t.kind) == kind && !t.stopped);
        let plan = match (kind, t) {
            (Some(MediaKind::Application), Some(t)) if !m.is_disabled() && in_bundle => {
                data::is_data_line(m).then(|| {
                    let formats = vec![Cow::Borrowed(DATA_FORMAT)];
                    (
                        MediaKind::Application,
                        t,
                        (formats, data::data_attributes()),
                    )
                })
            }
            (Some(kind), Some(t)) if rtp && !m.is_disabled() && in_bundle => {
                answer_codecs(m, kind, features).map(|c| (kind, t, c))
            }
            _ => None,
        };
        plans.push(plan);
    }
    // Our tagged m-line: the first of the offer's group we accept.
    let tagged = group.iter().copied().find(|g| {
        mids.iter()
            .position(|m| m == g)
            .is_some_and(|i| plans[i].is_some())
    });
    let Some(tagged) = tagged else {
        let mid = group.first().copied().unwrap_or_default();
        return Err(NegotiationError::BundleTransportRejected { mid: mid.into() });
    };
    // DTLS role (RFC 8842 §5.3): taken from the offerer's tagged m-line
    // (every bundled m-line says the same), kept in a subsequent answer.
    let offer_setup = group
        .iter()
        .chain(std::iter::once(&tagged))
        .filter_map(|t| offer.media.iter().find(|m| m.mid() == Some(*t)))
        .find_map(|m| m.setup());
    let setup = match (offer_setup, role) {
        (Some(Setup::HoldConn), _) => {
            return Err(NegotiationError::Setup("the offer says holdconn"))
        }
        (None | Some(Setup::ActPass), Some(DtlsRole::Client)) => Setup::Active,
        (None | Some(Setup::ActPass), Some(DtlsRole::Server)) => Setup::Passive,
        (Some(Setup::Active), Some(DtlsRole::Client))
        | (Some(Setup::Passive), Some(DtlsRole::Server)) => {
            return Err(NegotiationError::Setup(
                "the offer would change the DTLS role of the association",
            ))
        }
        (None | Some(Setup::ActPass) | Some(Setup::Passive), _) => Setup::Active,
        (Some(Setup::Active), _) => Setup::Passive,
    };
    let mut accepted = Vec::new();
    let mut media = Vec::with_capacity(offer.media.len());
    for ((m, &mid), plan) in offer.media.iter().zip(&mids).zip(plans) {
        let Some((kind, t, (formats, codec_attrs))) = plan else {
            media.push(rejected(m, mid));
            continue;
        };
        if kind == MediaKind::Application {
            // RFC 8841 §5, §6: no RTP, no direction; our port and our
            // largest message.
            let mut a = transport_attributes(local, setup, mid, mid == tagged);
            a.extend(codec_attrs);
            accepted.push(mid);
            media.push(data::data_line(&m.protocol, a));
            continue;
        }
        if !m.rtcp_mux() {
            return Err(NegotiationError::NoRtcpMux { mid: mid.into() });
        }
        let offered = m.direction();
        let track = t.send.as_ref().filter(|_| receives(offered));
        let rtx = codec_attrs
            .iter()
            .any(|a| matches!(a, Attribute::Rtpmap { encoding, .. } if encoding == "rtx"));
        // Candidates go on our tagged m-line (RFC 9143 §7.3.1).
        let mut a = transport_attributes(local, setup, mid, mid == tagged);
        for e in &m.attributes {
            if let Attribute::Extmap { id, uri, .. } = e {
                if features.supports_extension(kind, uri) {
                    a.push(extmap(*id, uri));
                }
            }
        }
        a.push(Attribute::Direction(answer_direction(
            offered,
            track.is_some(),
            t.receive,
        )));
        a.push(Attribute::RtcpMux);
        if m.attributes.contains(&Attribute::RtcpRsize) {
            a.push(Attribute::RtcpRsize);
        }
        a.extend(codec_attrs);
        if let Some(t) = track {
            a.extend(track_attributes(t, &local.cname, rtx));
        }
        accepted.push(mid);
        media.push(MediaSection {
            kind: owned(&m.kind),
            port: 9,
            port_count: None,
            protocol: owned(&m.protocol),
            formats,
            connection: blank_connection(),
            attributes: a,
            other: Vec::new(),
        });
    }
    // The answer's group keeps the offer's order, so its first mid is our
    // tagged m-line (RFC 9143 §7.3.1).
    let group_mids = group
        .iter()
        .filter(|m| accepted.contains(*m))
        .map(|m| owned(m))
        .collect();
    let mut sd = session_head(local, group_mids);
    sd.media = media;
    Ok(sd)
}

/// A negotiated codec: the payload type both sides use for it (the
/// offerer's), with its RTX payload type when RTX was negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedCodec {
    /// Payload type.
    pub pt: u8,
    /// Encoding name as the answer wrote it (`VP8`, `opus`).
    pub name: String,
    /// RTP clock rate.
    pub clock: u32,
    /// Channels (audio).
    pub channels: Option<u16>,
    /// Format parameters, if any.
    pub fmtp: Option<String>,
    /// Feedback both sides agreed (`nack`, `nack pli`, `ccm fir`, …).
    pub feedback: Vec<String>,
    /// The RTX payload type paired with this codec.
    pub rtx_pt: Option<u8>,
}

/// An SSRC the remote side announced (RFC 5576), with its RTX SSRC from
/// `ssrc-group:FID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSsrc {
    /// The media SSRC.
    pub ssrc: u32,
    /// Its RTX SSRC.
    pub rtx: Option<u32>,
    /// Its CNAME.
    pub cname: Option<String>,
}

/// One negotiated m-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedMedia {
    /// The mid.
    pub mid: String,
    /// Audio, video, the data m-line (its SCTP parameters are in
    /// [`Negotiated::data`]; no RTP flows on it, `send` and `receive` stay
    /// false), or `None` for another kind (always rejected).
    pub kind: Option<MediaKind>,
    /// Whether the answer rejected it (port 0). Nothing flows then.
    pub rejected: bool,
    /// Whether we send on it.
    pub send: bool,
    /// Whether we receive on it.
    pub receive: bool,
    /// The codecs, in the answer's order (the first is preferred).
    pub codecs: Vec<NegotiatedCodec>,
    /// Header extensions as (id, URI).
    pub extensions: Vec<(u16, String)>,
    /// The remote side's SSRCs.
    pub remote_ssrcs: Vec<RemoteSsrc>,
    /// The remote `a=msid` (stream id, track id).
    pub remote_msid: Option<(String, Option<String>)>,
    /// Whether reduced-size RTCP was negotiated (RFC 5506).
    pub rtcp_rsize: bool,
}

impl NegotiatedMedia {
    /// The header extension id negotiated for `uri`.
    pub fn extension_id(&self, uri: &str) -> Option<u16> {
        self.extensions
            .iter()
            .find(|(_, u)| u == uri)
            .map(|(id, _)| *id)
    }
}

/// The transport and media parameters both sides agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The mid of the remote BUNDLE-tagged m-line, whose transport is used.
    pub bundle_mid: String,
    /// The mids in the BUNDLE group.
    pub bundle: Vec<String>,
    /// Remote ICE ufrag.
    pub remote_ufrag: String,
    /// Remote ICE password.
    pub remote_pwd: String,
    /// Remote candidates of the tagged m-line.
    pub remote_candidates: Vec<CandidateAttr<'static>>,
    /// Whether the remote side said `end-of-candidates`.
    pub remote_end_of_candidates: bool,
    /// The remote certificate fingerprint the DTLS handshake must match.
    pub remote_fingerprint: Fingerprint,
    /// Our DTLS role.
    pub dtls_role: DtlsRole,
    /// Every m-line, in order.
    pub media: Vec<NegotiatedMedia>,
    /// The data channel m-line, when one was accepted (RFC 8841).
    pub data: Option<NegotiatedData>,
}

fn remote_ssrcs(m: &MediaSection<'_>) -> Vec<RemoteSsrc> {
    let mut rtx_of: Vec<(u32, u32)> = Vec::new();
    for a in &m.attributes {
        if let Attribute::SsrcGroup { semantics, ssrcs } = a {
            if semantics == "FID" && ssrcs.len() == 2 {
                rtx_of.push((ssrcs[0], ssrcs[1]));
            }
        }
    }
    let mut out: Vec<RemoteSsrc> = Vec::new();
    for a in &m.attributes {
        let Attribute::Ssrc {
            ssrc,
            attribute,
            value,
        } = a
        else {
            continue;
        };
        if rtx_of.iter().any(|&(_, r)| r == *ssrc) {
            continue;
        }
        let entry = match out.iter_mut().position(|s| s.ssrc == *ssrc) {
            Some(i) => &mut out[i],
            None => {
                out.push(RemoteSsrc {
                    ssrc: *ssrc,
                    rtx: rtx_of.iter().find(|&&(p, _)| p == *ssrc).map(|&(_, r)| r),
                    cname: None,
                });
                let last = out.len() - 1;
                &mut out[last]
            }
        };
        if attribute == "cname" {
            entry.cname = value.as_ref().map(|v| v.to_string());
        }
    }
    out
}

/// Checks the answer against the offer and computes what was agreed,
/// from the local side's point of view. `local` is the description we
/// sent (offer or answer), `remote` the one we received; `we_offered`
/// says which of them is the offer.
pub fn negotiate(
    local: &SessionDescription<'_>,
    remote: &SessionDescription<'_>,
    we_offered: bool,
) -> Result<Negotiated, NegotiationError> {
    let (offer, answer) = if we_offered {
        (local, remote)
    } else {
        (remote, local)
    };
    let offer_mids = mids_checked(offer)?;
    if answer.media.len() != offer.media.len() {
        return Err(NegotiationError::AnswerMismatch {
            index: answer.media.len().min(offer.media.len()),
            reason: "a different number of m-lines",
        });
    }
    for (index, (o, a)) in offer.media.iter().zip(&answer.media).enumerate() {
        if o.kind != a.kind {
            return Err(NegotiationError::AnswerMismatch {
                index,
                reason: "a different media kind",
            });
        }
        if a.mid() != Some(offer_mids[index]) {
            return Err(NegotiationError::AnswerMismatch {
                index,
                reason: "a different mid",
            });
        }
    }
    let remote_group = bundle_mids(remote)?;
    // The BUNDLE transport is the answerer's tagged m-line, the first mid
    // of the answer's group: the offerer's tag unless the answerer
    // rejected it and tagged the next one (RFC 9143 §7.3.1).
    let answer_group = bundle_mids(answer)?;
    let bundle_mid = answer_group
        .first()
        .copied()
        .or_else(|| {
            answer
                .media
                .iter()
                .filter(|m| m.port != 0)
                .find_map(|m| m.mid())
        })
        .ok_or(NegotiationError::NotBundled)?;
    let tagged = remote
        .media
        .iter()
        .find(|m| m.mid() == Some(bundle_mid) && m.port != 0)
        .ok_or(NegotiationError::NotBundled)?;
    // The remote side's own tagged m-line, where an offerer wrote its
    // candidates (the same as `tagged` unless we rejected the offerer's).
    let remote_tagged = remote_group
        .first()
        .and_then(|t| remote.media.iter().find(|m| m.mid() == Some(*t)))
        .unwrap_or(tagged);
    let missing = |what| NegotiationError::Missing {
        mid: bundle_mid.into(),
        what,
    };
    let (ufrag, pwd) = tagged
        .ice_credentials()
        .or_else(|| remote_session_credentials(remote))
        .ok_or(missing("a=ice-ufrag/a=ice-pwd"))?;
    if !is_ice_chars(ufrag, 4) {
        return Err(NegotiationError::InvalidRemoteCredentials("ufrag"));
    }
    if !is_ice_chars(pwd, 22) {
        return Err(NegotiationError::InvalidRemoteCredentials("pwd"));
    }
    let fingerprint = tagged
        .find(fingerprint_of)
        .or_else(|| remote.find(fingerprint_of))
        .ok_or(missing("a=fingerprint"))?;
    let remote_setup = tagged.setup().ok_or(missing("a=setup"))?;
    let local_tagged = local.media.iter().find(|m| m.mid() == Some(bundle_mid));
    let local_setup = local_tagged.and_then(|m| m.setup());
    let dtls_role = match (we_offered, remote_setup, local_setup) {
        (true, Setup::Active, _) => DtlsRole::Server,
        (true, Setup::Passive, _) => DtlsRole::Client,
        (true, _, _) => {
            return Err(NegotiationError::Setup(
                "the answer must say active or passive",
            ))
        }
        (false, _, Some(Setup::Active)) => DtlsRole::Client,
        (false, _, Some(Setup::Passive)) => DtlsRole::Server,
        (false, _, _) => {
            return Err(NegotiationError::Setup(
                "our answer must say active or passive",
            ))
        }
    };
    let mut media = Vec::with_capacity(offer.media.len());
    let mut data = None;
    for (i, (o, a)) in offer.media.iter().zip(&answer.media).enumerate() {
        let mid = offer_mids[i].to_string();
        let kind = MediaKind::from_token(&o.kind);
        let (l, r) = if we_offered { (o, a) } else { (a, o) };
        let bad_data = kind == Some(MediaKind::Application)
            && (!data::is_data_line(o) || !data::is_data_line(a) || data.is_some());
        let rejected = a.is_disabled() || o.is_disabled() || kind.is_none() || bad_data;
        // A rejected m-line, or the data m-line (no RTP flows on either).
        if rejected || kind == Some(MediaKind::Application) {
            if !rejected {
                data = Some(data::negotiated_data(&mid, l, r));
            }
            media.push(NegotiatedMedia {
                mid,
                kind,
                rejected,
                send: false,
                receive: false,
                codecs: Vec::new(),
                extensions: Vec::new(),
                remote_ssrcs: Vec::new(),
                remote_msid: None,
                rtcp_rsize: false,
            });
            continue;
        }
        let (od, ad) = (o.direction(), a.direction());
        if (sends(ad) && !receives(od)) || (receives(ad) && !sends(od)) {
            return Err(NegotiationError::DirectionMismatch {
                mid,
                offer: od,
                answer: ad,
            });
        }
        let codecs = negotiated_codecs(o, a, &mid)?;
        let extensions = a
            .attributes
            .iter()
            .filter_map(|x| match x {
                Attribute::Extmap { id, uri, .. } => Some((*id, uri.to_string())),
                _ => None,
            })
            .filter(|(id, uri)| {
                o.attributes.iter().any(
                    |x| matches!(x, Attribute::Extmap { id: i, uri: u, .. } if i == id && u == uri),
                )
            })
            .collect();
        let remote_msid = r.find(|x| match x {
            Attribute::Msid { stream, track } => {
                Some((stream.to_string(), track.as_ref().map(|t| t.to_string())))
            }
            _ => None,
        });
        media.push(NegotiatedMedia {
            mid,
            kind,
            rejected: false,
            send: sends(l.direction()) && receives(r.direction()),
            receive: receives(l.direction()) && sends(r.direction()),
            codecs,
            extensions,
            remote_ssrcs: remote_ssrcs(r),
            remote_msid,
            rtcp_rsize: o.attributes.contains(&Attribute::RtcpRsize)
                && a.attributes.contains(&Attribute::RtcpRsize),
        });
    }
    Ok(Negotiated {
        bundle_mid: bundle_mid.to_string(),
        bundle: remote_group.iter().map(|m| m.to_string()).collect(),
        remote_ufrag: ufrag.to_string(),
        remote_pwd: pwd.to_string(),
        remote_candidates: remote_candidates(tagged, remote_tagged),
        remote_end_of_candidates: tagged.attributes.contains(&Attribute::EndOfCandidates)
            || remote_tagged
                .attributes
                .contains(&Attribute::EndOfCandidates),
        remote_fingerprint: fingerprint,
        dtls_role,
        media,
        data,
    })
}

/// The candidates of the transport m-line and of the remote side's own
/// tagged m-line, each once.
fn remote_candidates(
    tagged: &MediaSection<'_>,
    remote_tagged: &MediaSection<'_>,
) -> Vec<CandidateAttr<'static>> {
    let mut out: Vec<CandidateAttr<'static>> = Vec::new();
    for m in [tagged, remote_tagged] {
        for a in &m.attributes {
            if let Attribute::Candidate(c) = a {
                let c = c.as_ref().clone().into_owned();
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
    }
    out
}

fn remote_session_credentials<'d>(d: &'d SessionDescription<'_>) -> Option<(&'d str, &'d str)> {
    let u = d.find(|a| match a {
        Attribute::IceUfrag(u) => Some(u.as_ref()),
        _ => None,
    })?;
    let p = d.find(|a| match a {
        Attribute::IcePwd(p) => Some(p.as_ref()),
        _ => None,
    })?;
    Some((u, p))
}

fn fingerprint_of(a: &Attribute<'_>) -> Option<Fingerprint> {
    match a {
        Attribute::Fingerprint { hash, value } => Some(Fingerprint {
            hash: hash.to_string(),
            value: value.to_string(),
        }),
        _ => None,
    }
}

/// The answer's codecs, checked against the offer's payload types, with
/// RTX types attached to their `apt` codec.
fn negotiated_codecs(
    offer: &MediaSection<'_>,
    answer: &MediaSection<'_>,
    mid: &str,
) -> Result<Vec<NegotiatedCodec>, NegotiationError> {
    let offered: Vec<_> = rtpmaps(offer).collect();
    let mut codecs: Vec<NegotiatedCodec> = Vec::new();
    let mut rtx = Vec::new();
    for f in &answer.formats {
        let Ok(pt) = f.parse::<u8>() else { continue };
        let Some((_, name, clock, channels)) = rtpmaps(answer).find(|c| c.0 == pt) else {
            continue;
        };
        let same = offered.iter().any(|&(p, n, c, ch)| {
            p == pt && n.eq_ignore_ascii_case(name) && c == clock && ch == channels
        });
        if !same {
            return Err(NegotiationError::UnknownPayloadType {
                mid: mid.into(),
                pt,
            });
        }
        if name.eq_ignore_ascii_case("rtx") {
            rtx.push((pt, apt(answer, pt)));
            continue;
        }
        let offered_fb: Vec<&str> = offered_feedback(offer, pt).collect();
        codecs.push(NegotiatedCodec {
            pt,
            name: name.to_string(),
            clock,
            channels,
            fmtp: answer.find(|a| match a {
                Attribute::Fmtp { pt: p, params } if *p == pt => Some(params.to_string()),
                _ => None,
            }),
            feedback: offered_feedback(answer, pt)
                .filter(|f| offered_fb.contains(f))
                .map(str::to_string)
                .collect(),
            rtx_pt: None,
        });
    }
    for (pt, apt) in rtx {
        if let Some(c) = codecs.iter_mut().find(|c| Some(c.pt) == apt) {
            c.rtx_pt = Some(pt);
        }
    }
    Ok(codecs)
}

//! Data channels over the association: the Data Channel Establishment
//! Protocol (RFC 8832) and the channel layer of RFC 8831 §6.
//!
//! - [`DcepMessage`]: DATA_CHANNEL_OPEN (§5.1: channel type, priority,
//!   reliability parameter, label, protocol) and DATA_CHANNEL_ACK (§5.2),
//!   carried with PPID 50.
//! - [`DataChannels`]: opens channels (in-band with OPEN/ACK, or
//!   negotiated out of band with an agreed id), picks stream ids by DTLS
//!   role (§6: the DTLS client uses even ids, the server odd), maps the
//!   channel type to ordered/unordered delivery and partial reliability,
//!   sends strings and binary (PPIDs 51 and 53, empty ones as one byte
//!   with 56 and 57, RFC 8831 §6.6), closes a channel by resetting its
//!   stream in both directions (RFC 8831 §6.7), and reports the amount
//!   buffered per channel with a low-water event.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crate::association::{Association, CloseReason, Event};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::send::Reliability;

/// Payload protocol identifiers of WebRTC (RFC 8831 §8, RFC 8832 §8.1).
pub mod ppid {
    /// DCEP.
    pub const DCEP: u32 = 50;
    /// UTF-8 string.
    pub const STRING: u32 = 51;
    /// Binary.
    pub const BINARY: u32 = 53;
    /// Empty string (one byte of padding on the wire).
    pub const STRING_EMPTY: u32 = 56;
    /// Empty binary message.
    pub const BINARY_EMPTY: u32 = 57;
}

const OPEN: u8 = 0x03;
const ACK: u8 = 0x02;

/// Channel type byte of DATA_CHANNEL_OPEN (RFC 8832 §5.1): high bit for
/// unordered, low bits for the reliability kind.
fn channel_type(ordered: bool, r: Reliability) -> (u8, u32) {
    let (kind, param) = match r {
        Reliability::Reliable => (0x00, 0),
        Reliability::MaxRetransmits(n) => (0x01, n),
        Reliability::MaxLifetime(d) => (0x02, d.as_millis().min(u32::MAX as u128) as u32),
    };
    (kind | if ordered { 0 } else { 0x80 }, param)
}

/// A DCEP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DcepMessage {
    /// DATA_CHANNEL_OPEN.
    Open {
        /// Ordered delivery (channel type high bit clear).
        ordered: bool,
        /// Reliability (channel type low bits and the parameter).
        reliability: Reliability,
        /// Priority (RFC 8832 §5.1; WebRTC uses 128, 256, 512, 1024).
        priority: u16,
        /// Label.
        label: String,
        /// Sub-protocol.
        protocol: String,
    },
    /// DATA_CHANNEL_ACK.
    Ack,
}

impl DcepMessage {
    /// Parses a PPID 50 payload. Label and protocol must be UTF-8.
    pub fn parse(b: &[u8]) -> Result<Self> {
        match b.first() {
            Some(&ACK) if b.len() == 1 => Ok(DcepMessage::Ack),
            Some(&OPEN) if b.len() >= 12 => {
                let ty = b[1];
                let priority = u16::from_be_bytes([b[2], b[3]]);
                let param = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                let label_len = u16::from_be_bytes([b[8], b[9]]) as usize;
                let proto_len = u16::from_be_bytes([b[10], b[11]]) as usize;
                if b.len() != 12 + label_len + proto_len {
                    return Err(Error::MalformedDcep);
                }
                let label = std::str::from_utf8(&b[12..12 + label_len])
                    .map_err(|_| Error::MalformedDcep)?;
                let protocol =
                    std::str::from_utf8(&b[12 + label_len..]).map_err(|_| Error::MalformedDcep)?;
                let reliability = match ty & 0x7f {
                    0x00 => Reliability::Reliable,
                    0x01 => Reliability::MaxRetransmits(param),
                    0x02 => Reliability::MaxLifetime(Duration::from_millis(param as u64)),
                    _ => return Err(Error::MalformedDcep),
                };
                Ok(DcepMessage::Open {
                    ordered: ty & 0x80 == 0,
                    reliability,
                    priority,
                    label: label.to_owned(),
                    protocol: protocol.to_owned(),
                })
            }
            _ => Err(Error::MalformedDcep),
        }
    }

    /// Writes it. Label and protocol longer than 65535 bytes are cut.
    pub fn emit(&self, out: &mut Vec<u8>) {
        match self {
            DcepMessage::Ack => out.push(ACK),
            DcepMessage::Open {
                ordered,
                reliability,
                priority,
                label,
                protocol,
            } => {
                let (ty, param) = channel_type(*ordered, *reliability);
                let label = &label.as_bytes()[..label.len().min(65535)];
                let protocol = &protocol.as_bytes()[..protocol.len().min(65535)];
                out.push(OPEN);
                out.push(ty);
                out.extend_from_slice(&priority.to_be_bytes());
                out.extend_from_slice(&param.to_be_bytes());
                out.extend_from_slice(&(label.len() as u16).to_be_bytes());
                out.extend_from_slice(&(protocol.len() as u16).to_be_bytes());
                out.extend_from_slice(label);
                out.extend_from_slice(protocol);
            }
        }
    }
}

/// How a channel delivers (RTCDataChannelInit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelOptions {
    /// Ordered delivery.
    pub ordered: bool,
    /// Partial reliability.
    pub reliability: Reliability,
    /// Sub-protocol name.
    pub protocol: String,
    /// Priority (RFC 8832 §5.1).
    pub priority: u16,
    /// `Some(id)`: negotiated out of band on stream `id`, no OPEN/ACK.
    pub negotiated: Option<u16>,
}

impl Default for ChannelOptions {
    fn default() -> Self {
        ChannelOptions {
            ordered: true,
            reliability: Reliability::Reliable,
            protocol: String::new(),
            priority: 256,
            negotiated: None,
        }
    }
}

/// A data channel message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Binary(Vec<u8>),
}

/// What the channel layer reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelEvent {
    /// The association is up.
    Connected,
    /// A channel we opened can carry data.
    Open {
        /// Stream id.
        id: u16,
    },
    /// The peer opened a channel (DATA_CHANNEL_OPEN received and acknowledged).
    Incoming {
        /// Stream id.
        id: u16,
        /// Label.
        label: String,
        /// Sub-protocol.
        protocol: String,
        /// Ordered delivery.
        ordered: bool,
        /// Reliability.
        reliability: Reliability,
    },
    /// A message on a channel.
    Message {
        /// Stream id.
        id: u16,
        /// The message.
        payload: Payload,
    },
    /// The amount buffered on the channel fell to its threshold or below.
    BufferedAmountLow {
        /// Stream id.
        id: u16,
    },
    /// The channel is closed in both directions; its id may be reused.
    Closed {
        /// Stream id.
        id: u16,
    },
    /// The association ended.
    AssociationClosed(CloseReason),
}

/// State of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelState {
    /// Waiting for the association.
    Connecting,
    /// Carries data.
    Open,
    /// Stream reset under way.
    Closing,
}

#[derive(Debug)]
struct Channel {
    label: String,
    options: ChannelOptions,
    state: ChannelState,
    /// The peer acknowledged our OPEN (or the channel was negotiated or
    /// opened by the peer): until then messages go ordered (RFC 8832 §6).
    acked: bool,
    open_sent: bool,
    low_threshold: usize,
    above_threshold: bool,
    outgoing_reset: bool,
    incoming_reset: bool,
}

/// Counters of the channel layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelStats {
    /// DCEP messages that did not parse, or OPENs for a stream in use.
    pub bad_dcep: u64,
    /// Messages on a stream without a channel, or with an unknown PPID.
    pub orphan_messages: u64,
    /// Text messages that were not UTF-8.
    pub bad_text: u64,
}

/// Data channels on one association (one per DTLS connection).
#[derive(Debug)]
pub struct DataChannels {
    assoc: Association,
    dtls_client: bool,
    channels: BTreeMap<u16, Channel>,
    events: VecDeque<ChannelEvent>,
    stats: ChannelStats,
}

impl DataChannels {
    /// Over a new association. `dtls_client`: our DTLS role, which decides
    /// the parity of the stream ids we pick (RFC 8832 §6).
    pub fn new(config: Config, dtls_client: bool) -> Self {
        DataChannels {
            assoc: Association::new(config),
            dtls_client,
            channels: BTreeMap::new(),
            events: VecDeque::new(),
            stats: ChannelStats::default(),
        }
    }

    /// The association underneath (state, counters).
    pub fn association(&self) -> &Association {
        &self.assoc
    }

    /// The association, for what the channel layer does not cover
    /// (messages with other PPIDs). Messages sent here bypass the
    /// channels' bookkeeping.
    pub fn association_mut(&mut self) -> &mut Association {
        &mut self.assoc
    }

    /// Counters.
    pub fn stats(&self) -> ChannelStats {
        self.stats.clone()
    }

    /// Starts the association (both WebRTC peers do, RFC 8831 §6.1).
    pub fn connect(&mut self, now: Instant) {
        self.assoc.connect(now);
    }

    /// One SCTP packet from DTLS.
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) -> Result<()> {
        let r = self.assoc.handle_input(now, bytes);
        self.process(now);
        r
    }

    /// Timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.assoc.handle_timeout(now);
        self.process(now);
    }

    /// Next timer.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.assoc.poll_timeout()
    }

    /// Next SCTP packet for DTLS (see [`Association::poll_transmit`]).
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool {
        let sent = self.assoc.poll_transmit(now, buf);
        self.check_buffered();
        self.process(now);
        sent
    }

    /// Next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ChannelEvent> {
        self.events.pop_front()
    }

    /// Graceful shutdown of the association.
    pub fn close(&mut self, now: Instant) {
        self.assoc.close(now);
    }

    /// Opens a channel; returns its stream id. In-band channels send
    /// DATA_CHANNEL_OPEN once the association is up.
    pub fn open_channel(
        &mut self,
        now: Instant,
        label: &str,
        options: ChannelOptions,
    ) -> Result<u16> {
        let id = match options.negotiated {
            Some(id) => {
                if self.channels.contains_key(&id) {
                    return Err(Error::InvalidStream(id));
                }
                id
            }
            None => self.free_id()?,
        };
        if id >= self.assoc.outbound_streams() {
            return Err(Error::InvalidStream(id));
        }
        let negotiated = options.negotiated.is_some();
        self.channels.insert(
            id,
            Channel {
                label: label.to_owned(),
                options,
                state: ChannelState::Connecting,
                acked: negotiated,
                open_sent: negotiated,
                low_threshold: 0,
                above_threshold: false,
                outgoing_reset: false,
                incoming_reset: false,
            },
        );
        if self.assoc.is_established() {
            self.start_channel(now, id);
        }
        Ok(id)
    }

    fn free_id(&self) -> Result<u16> {
        let max = self.assoc.outbound_streams();
        let mut id: u16 = if self.dtls_client { 0 } else { 1 };
        while id < max {
            if !self.channels.contains_key(&id) {
                return Ok(id);
            }
            id = match id.checked_add(2) {
                Some(n) => n,
                None => break,
            };
        }
        Err(Error::NoStreamLeft)
    }

    fn start_channel(&mut self, now: Instant, id: u16) {
        let Some(ch) = self.channels.get_mut(&id) else {
            return;
        };
        if ch.state != ChannelState::Connecting {
            return;
        }
        ch.state = ChannelState::Open;
        if !ch.open_sent {
            ch.open_sent = true;
            let mut b = Vec::new();
            DcepMessage::Open {
                ordered: ch.options.ordered,
                reliability: ch.options.reliability,
                priority: ch.options.priority,
                label: ch.label.clone(),
                protocol: ch.options.protocol.clone(),
            }
            .emit(&mut b);
            // DCEP goes ordered and reliable (RFC 8832 §6).
            let _ = self
                .assoc
                .send(now, id, ppid::DCEP, &b, true, Reliability::Reliable);
        }
        self.events.push_back(ChannelEvent::Open { id });
    }

    /// Current state of a channel.
    pub fn channel_state(&self, id: u16) -> Option<ChannelState> {
        self.channels.get(&id).map(|c| c.state)
    }

    /// Label of a channel.
    pub fn label(&self, id: u16) -> Option<&str> {
        self.channels.get(&id).map(|c| c.label.as_str())
    }

    /// Sends a message on an open channel.
    pub fn send(&mut self, now: Instant, id: u16, payload: &Payload) -> Result<()> {
        let ch = match self.channels.get(&id) {
            Some(c) if c.state == ChannelState::Open => c,
            _ => return Err(Error::NoSuchChannel(id)),
        };
        let (ppid, bytes): (u32, &[u8]) = match payload {
            Payload::Text(t) if t.is_empty() => (ppid::STRING_EMPTY, &[0]),
            Payload::Text(t) => (ppid::STRING, t.as_bytes()),
            Payload::Binary(b) if b.is_empty() => (ppid::BINARY_EMPTY, &[0]),
            Payload::Binary(b) => (ppid::BINARY, b),
        };
        let ordered = ch.options.ordered || !ch.acked;
        let reliability = ch.options.reliability;
        self.assoc
            .send(now, id, ppid, bytes, ordered, reliability)?;
        if let Some(ch) = self.channels.get_mut(&id) {
            ch.above_threshold = self.assoc.buffered_amount(id) > ch.low_threshold;
        }
        Ok(())
    }

    /// Bytes queued on the channel and not yet sent (bufferedAmount).
    pub fn buffered_amount(&self, id: u16) -> usize {
        self.assoc.buffered_amount(id)
    }

    /// Sets the threshold of [`ChannelEvent::BufferedAmountLow`].
    pub fn set_buffered_amount_low_threshold(&mut self, id: u16, threshold: usize) {
        let buffered = self.assoc.buffered_amount(id);
        if let Some(ch) = self.channels.get_mut(&id) {
            ch.low_threshold = threshold;
            ch.above_threshold = buffered > threshold;
        }
    }

    /// Closes a channel: its outgoing stream is reset once queued data is
    /// sent; the peer resets its side in answer (RFC 8831 §6.7).
    pub fn close_channel(&mut self, id: u16) -> Result<()> {
        let Some(ch) = self.channels.get_mut(&id) else {
            return Err(Error::NoSuchChannel(id));
        };
        if ch.state == ChannelState::Closing {
            return Ok(());
        }
        ch.state = ChannelState::Closing;
        self.assoc.reset_streams(&[id]);
        Ok(())
    }

    fn check_buffered(&mut self) {
        for (&id, ch) in self.channels.iter_mut() {
            if ch.above_threshold && self.assoc.buffered_amount(id) <= ch.low_threshold {
                ch.above_threshold = false;
                self.events
                    .push_back(ChannelEvent::BufferedAmountLow { id });
            }
        }
    }

    fn process(&mut self, now: Instant) {
        while let Some(e) = self.assoc.poll_event() {
            match e {
                Event::Connected => {
                    self.events.push_back(ChannelEvent::Connected);
                    let ids: Vec<u16> = self.channels.keys().copied().collect();
                    for id in ids {
                        self.start_channel(now, id);
                    }
                }
                Event::Message(m) => self.on_message(now, m),
                Event::IncomingStreamsReset(streams) => {
                    for id in streams {
                        let Some(ch) = self.channels.get_mut(&id) else {
                            continue;
                        };
                        ch.incoming_reset = true;
                        if ch.state != ChannelState::Closing {
                            // RFC 8831 §6.7: answer by resetting ours.
                            ch.state = ChannelState::Closing;
                            self.assoc.reset_streams(&[id]);
                        }
                        self.maybe_closed(id);
                    }
                }
                Event::OutgoingStreamsReset(streams) => {
                    for id in streams {
                        if let Some(ch) = self.channels.get_mut(&id) {
                            ch.outgoing_reset = true;
                        }
                        self.maybe_closed(id);
                    }
                }
                Event::Closed(reason) => {
                    let ids: Vec<u16> = self.channels.keys().copied().collect();
                    for id in ids {
                        self.channels.remove(&id);
                        self.events.push_back(ChannelEvent::Closed { id });
                    }
                    self.events
                        .push_back(ChannelEvent::AssociationClosed(reason));
                }
            }
        }
    }

    fn maybe_closed(&mut self, id: u16) {
        if self
            .channels
            .get(&id)
            .is_some_and(|c| c.incoming_reset && c.outgoing_reset)
        {
            self.channels.remove(&id);
            self.events.push_back(ChannelEvent::Closed { id });
        }
    }

    fn on_message(&mut self, now: Instant, m: crate::receive::Message) {
        let id = m.stream_id;
        match m.ppid {
            ppid::DCEP => match DcepMessage::parse(&m.data) {
                Ok(DcepMessage::Open {
                    ordered,
                    reliability,
                    priority,
                    label,
                    protocol,
                }) => {
                    // The opener's ids have the other parity (RFC 8832 §6).
                    let theirs = (id % 2 == 0) != self.dtls_client;
                    if self.channels.contains_key(&id) || !theirs {
                        self.stats.bad_dcep += 1;
                        return;
                    }
                    self.channels.insert(
                        id,
                        Channel {
                            label: label.clone(),
                            options: ChannelOptions {
                                ordered,
                                reliability,
                                protocol: protocol.clone(),
                                priority,
                                negotiated: None,
                            },
                            state: ChannelState::Open,
                            acked: true,
                            open_sent: true,
                            low_threshold: 0,
                            above_threshold: false,
                            outgoing_reset: false,
                            incoming_reset: false,
                        },
                    );
                    let mut b = Vec::new();
                    DcepMessage::Ack.emit(&mut b);
                    let _ = self
                        .assoc
                        .send(now, id, ppid::DCEP, &b, true, Reliability::Reliable);
                    self.events.push_back(ChannelEvent::Incoming {
                        id,
                        label,
                        protocol,
                        ordered,
                        reliability,
                    });
                }
                Ok(DcepMessage::Ack) => match self.channels.get_mut(&id) {
                    Some(ch) => ch.acked = true,
                    None => self.stats.bad_dcep += 1,
                },
                Err(_) => self.stats.bad_dcep += 1,
            },
            p @ (ppid::STRING | ppid::BINARY | ppid::STRING_EMPTY | ppid::BINARY_EMPTY) => {
                if !self
                    .channels
                    .get(&id)
                    .is_some_and(|c| c.state != ChannelState::Connecting)
                {
                    self.stats.orphan_messages += 1;
                    return;
                }
                let payload = match p {
                    ppid::STRING => match String::from_utf8(m.data) {
                        Ok(s) => Payload::Text(s),
                        Err(_) => {
                            self.stats.bad_text += 1;
                            return;
                        }
                    },
                    ppid::BINARY => Payload::Binary(m.data),
                    ppid::STRING_EMPTY => Payload::Text(String::new()),
                    _ => Payload::Binary(Vec::new()),
                };
                // Data on a channel we opened also proves the peer has it.
                if let Some(ch) = self.channels.get_mut(&id) {
                    ch.acked = true;
                }
                self.events.push_back(ChannelEvent::Message { id, payload });
            }
            _ => self.stats.orphan_messages += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_layout_matches_rfc8832_5_1() {
        let m = DcepMessage::Open {
            ordered: false,
            reliability: Reliability::MaxRetransmits(3),
            priority: 256,
            label: "chat".into(),
            protocol: "x".into(),
        };
        let mut b = Vec::new();
        m.emit(&mut b);
        assert_eq!(
            b,
            [3, 0x81, 1, 0, 0, 0, 0, 3, 0, 4, 0, 1, b'c', b'h', b'a', b't', b'x']
        );
        assert_eq!(DcepMessage::parse(&b).unwrap(), m);
    }

    #[test]
    fn timed_and_reliable_types_round_trip() {
        for (ordered, r, ty) in [
            (true, Reliability::Reliable, 0x00),
            (false, Reliability::Reliable, 0x80),
            (
                true,
                Reliability::MaxLifetime(Duration::from_millis(1500)),
                0x02,
            ),
            (
                false,
                Reliability::MaxLifetime(Duration::from_millis(7)),
                0x82,
            ),
        ] {
            let m = DcepMessage::Open {
                ordered,
                reliability: r,
                priority: 128,
                label: "é".into(),
                protocol: String::new(),
            };
            let mut b = Vec::new();
            m.emit(&mut b);
            assert_eq!(b[1], ty);
            assert_eq!(DcepMessage::parse(&b).unwrap(), m);
        }
        let mut b = Vec::new();
        DcepMessage::Ack.emit(&mut b);
        assert_eq!(b, [2]);
        assert_eq!(DcepMessage::parse(&b).unwrap(), DcepMessage::Ack);
    }

    #[test]
    fn malformed_dcep_is_an_error() {
        assert_eq!(DcepMessage::parse(&[]), Err(Error::MalformedDcep));
        assert_eq!(DcepMessage::parse(&[2, 0]), Err(Error::MalformedDcep));
        // Label length beyond the message.
        assert_eq!(
            DcepMessage::parse(&[3, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, b'a']),
            Err(Error::MalformedDcep)
        );
        // Unknown channel type.
        assert_eq!(
            DcepMessage::parse(&[3, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(Error::MalformedDcep)
        );
        // Label not UTF-8.
        assert_eq!(
            DcepMessage::parse(&[3, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0xff]),
            Err(Error::MalformedDcep)
        );
    }
}

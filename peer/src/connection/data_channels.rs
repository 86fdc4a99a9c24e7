//! Data channels on a [`PeerConnection`] (RFC 8831): one SCTP association
//! ([`meshrtc_sctp`]) per connection, carried in DTLS application data
//! records over the BUNDLE transport (RFC 8261 §3, RFC 8831 §5), started
//! once DTLS is up and the data m-line (RFC 8841) is negotiated. DCEP
//! (RFC 8832) opens in-band channels; the stream ids we pick are even as
//! DTLS client and odd as DTLS server (RFC 8832 §6).
//!
//! Channels have a handle, [`DataChannelId`], from the moment they are
//! created: the SCTP stream id is only known once the DTLS role is (and a
//! channel made before the first offer waits for the association).
//!
//! What SCTP sends shares the connection's congestion budget when the
//! send-side estimator runs (transport-cc negotiated and media sent): see
//! [`super::data_share`] for the split (media first, data what is left
//! plus a guaranteed tenth of the estimate while data is pending; the
//! encoders' target leaves that tenth free). SCTP's own congestion control
//! (RFC 9260 §7) works beneath. Without an estimator (a data-only session,
//! no transport-cc) SCTP's congestion window alone paces the data.
//!
//! When the connection fails or closes, the association ends with it
//! ([`super::data_end`]).

use std::collections::BTreeMap;

use meshrtc_sctp::{self as sctp, ChannelEvent, ChannelOptions, Reliability};

use super::data_channel_stats::{ChannelCounters, DataChannelStats};
use super::*;

/// A data channel on one connection (its handle; stable from
/// [`PeerConnection::create_data_channel`] or the
/// [`PeerEvent::DataChannelOpen`] of a channel the peer opened until
/// [`PeerEvent::DataChannelClosed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DataChannelId(pub u32);

impl std::fmt::Display for DataChannelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "dc{}", self.0)
    }
}

/// A data channel message: text (PPID 51, 56 when empty) or binary (53,
/// 57 when empty), RFC 8831 §8.
pub use meshrtc_sctp::Payload as DataPayload;

/// How a channel delivers (W3C `RTCDataChannelInit`, RFC 8832 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataChannelOptions {
    /// In-order delivery (default true).
    pub ordered: bool,
    /// Partial reliability: a message is given up after this many
    /// retransmissions (RFC 7496 §4).
    pub max_retransmits: Option<u32>,
    /// Partial reliability: a message is given up when not delivered
    /// within this time (RFC 3758 timed reliability). Not with
    /// `max_retransmits`.
    pub max_packet_life_time: Option<Duration>,
    /// Negotiated out of band on this SCTP stream id: no DCEP, both sides
    /// create it with the same id.
    pub negotiated: Option<u16>,
    /// Sub-protocol name.
    pub protocol: String,
}

impl Default for DataChannelOptions {
    fn default() -> Self {
        DataChannelOptions {
            ordered: true,
            max_retransmits: None,
            max_packet_life_time: None,
            negotiated: None,
            protocol: String::new(),
        }
    }
}

/// A channel as the application sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataChannelInfo {
    /// Its handle.
    pub id: DataChannelId,
    /// Label.
    pub label: String,
    /// Sub-protocol.
    pub protocol: String,
    /// The SCTP stream id, once the association has it.
    pub stream: Option<u16>,
    /// Whether it carries data now.
    pub open: bool,
}

/// One channel of the connection.
#[derive(Debug)]
pub(super) struct Slot {
    pub(super) label: String,
    pub(super) options: ChannelOptions,
    pub(super) stream: Option<u16>,
    pub(super) open: bool,
    low_threshold: usize,
    /// Closed by us, waiting for the peer's reset.
    pub(super) closing: bool,
    /// Messages and payload bytes both ways (W3C RTCDataChannelStats).
    pub(super) counters: ChannelCounters,
}

impl Slot {
    fn new(label: String, options: ChannelOptions, stream: Option<u16>, open: bool) -> Self {
        Slot {
            label,
            options,
            stream,
            open,
            low_threshold: 0,
            closing: false,
            counters: ChannelCounters::default(),
        }
    }
}

/// DTLS 1.2 AES-GCM record overhead: 13-byte header, 8-byte explicit
/// nonce, 16-byte tag (RFC 5246 §6.2.3.3, RFC 6347 §4.1): what an SCTP
/// packet gains on its way into a datagram.
const DTLS_RECORD_OVERHEAD: usize = 13 + 8 + 16;
/// IPv4 and UDP headers, counted in the congestion budget.
const IP_UDP_OVERHEAD: usize = 28;

/// The data channels of one connection.
#[derive(Default)]
pub(super) struct DataState {
    pub(super) sctp: Option<Box<sctp::DataChannels>>,
    pub(super) slots: BTreeMap<DataChannelId, Slot>,
    pub(super) by_stream: BTreeMap<u16, DataChannelId>,
    next_id: u32,
    /// The peer's `a=max-message-size` (`None`: no limit).
    remote_max_message_size: Option<u64>,
    /// SCTP's part of the congestion budget.
    pub(super) share: super::data_share::DataShare,
    /// The association ended with the connection (failed or closed): no
    /// new one starts and no channel opens.
    pub(super) ended: bool,
    /// The association's last counters, once it ended.
    pub(super) ended_stats: Option<sctp::Stats>,
    /// SCTP packets the peer sent that did not parse or were refused.
    pub(super) sctp_errors: u64,
    /// SCTP bytes handed to DTLS, counted against the budget.
    pub(super) sctp_bytes_sent: u64,
    /// The last counters of channels that closed, oldest first (at most
    /// [`super::data_channel_stats::CLOSED_CHANNELS_KEPT`]).
    pub(super) closed: std::collections::VecDeque<DataChannelStats>,
    /// Test loss ([`PeerConnection::set_sctp_test_drop`]): drop every
    /// n-th SCTP packet out and in (0: none), the counts so far, and how
    /// many were dropped.
    test_drop: [u32; 2],
    test_count: [u32; 2],
    pub(super) test_dropped: u64,
}

impl DataState {
    fn fresh_id(&mut self) -> DataChannelId {
        self.next_id += 1;
        DataChannelId(self.next_id)
    }
}

/// The message's size in bytes.
fn payload_len(p: &DataPayload) -> usize {
    match p {
        DataPayload::Text(t) => t.len(),
        DataPayload::Binary(b) => b.len(),
    }
}

fn reliability(o: &DataChannelOptions) -> Result<Reliability, PeerError> {
    match (o.max_retransmits, o.max_packet_life_time) {
        (Some(_), Some(_)) => Err(PeerError::DataChannel(
            "max_retransmits and max_packet_life_time together".into(),
        )),
        (Some(n), None) => Ok(Reliability::MaxRetransmits(n)),
        (None, Some(t)) => Ok(Reliability::MaxLifetime(t)),
        (None, None) => Ok(Reliability::Reliable),
    }
}

impl PeerConnection {
    /// Creates a data channel (W3C `createDataChannel`). Without a data
    /// m-line yet, one is added and [`PeerEvent::NegotiationNeeded`] asks
    /// for an offer; the channel opens ([`PeerEvent::DataChannelOpen`])
    /// once the association is up. A data-only session is a connection
    /// whose only m-line is this one.
    pub fn create_data_channel(
        &mut self,
        now: Instant,
        label: &str,
        options: DataChannelOptions,
    ) -> Result<DataChannelId, PeerError> {
        self.check_open()?;
        if self.data.ended {
            return Err(PeerError::DataChannel(
                "the connection failed: its SCTP association ended".into(),
            ));
        }
        let reliability = reliability(&options)?;
        if label.len() > usize::from(u16::MAX) || options.protocol.len() > usize::from(u16::MAX) {
            return Err(PeerError::DataChannel(
                "label or protocol longer than 65535 bytes".into(),
            ));
        }
        if let Some(n) = options.negotiated {
            let taken = self.data.slots.values().any(|s| s.stream == Some(n))
                || self.data.by_stream.contains_key(&n);
            if taken || n == u16::MAX {
                return Err(PeerError::DataChannel(format!("stream id {n} is in use")));
            }
        }
        self.ensure_data_transceiver();
        let id = self.data.fresh_id();
        self.data.slots.insert(
            id,
            Slot::new(
                label.to_string(),
                ChannelOptions {
                    ordered: options.ordered,
                    reliability,
                    protocol: options.protocol,
                    negotiated: options.negotiated,
                    ..ChannelOptions::default()
                },
                None,
                false,
            ),
        );
        if self.data.sctp.is_some() {
            self.open_on_association(now, id)?;
            self.pump_sctp(now);
        }
        Ok(id)
    }

    /// Sends a message on an open channel. Refused when the channel is not
    /// open, when the message exceeds the peer's `a=max-message-size`
    /// (RFC 8841 §6), or when the send buffer is full.
    pub fn send_data(
        &mut self,
        now: Instant,
        id: DataChannelId,
        payload: &DataPayload,
    ) -> Result<(), PeerError> {
        self.check_open()?;
        let stream = self
            .data
            .slots
            .get(&id)
            .filter(|s| s.open)
            .and_then(|s| s.stream)
            .ok_or(PeerError::UnknownDataChannel(id))?;
        let len = payload_len(payload);
        if let Some(max) = self.data.remote_max_message_size {
            if len as u64 > max {
                return Err(PeerError::DataChannel(format!(
                    "a {len}-byte message exceeds the peer's max-message-size {max}"
                )));
            }
        }
        let Some(sctp) = &mut self.data.sctp else {
            return Err(PeerError::UnknownDataChannel(id));
        };
        sctp.send(now, stream, payload)
            .map_err(|e| PeerError::DataChannel(e.to_string()))?;
        if let Some(slot) = self.data.slots.get_mut(&id) {
            slot.counters.messages_sent += 1;
            slot.counters.bytes_sent += len as u64;
        }
        self.pump_sctp(now);
        Ok(())
    }

    /// Bytes queued on the channel and not yet sent (W3C `bufferedAmount`).
    pub fn buffered_amount(&self, id: DataChannelId) -> usize {
        let stream = self.data.slots.get(&id).and_then(|s| s.stream);
        match (stream, &self.data.sctp) {
            (Some(s), Some(sctp)) => sctp.buffered_amount(s),
            _ => 0,
        }
    }

    /// [`PeerEvent::DataChannelBufferedAmountLow`] fires when the buffered
    /// amount falls to `threshold` or below (W3C
    /// `bufferedAmountLowThreshold`).
    pub fn set_buffered_amount_low_threshold(&mut self, id: DataChannelId, threshold: usize) {
        let Some(slot) = self.data.slots.get_mut(&id) else {
            return;
        };
        slot.low_threshold = threshold;
        if let (Some(s), Some(sctp)) = (slot.stream, &mut self.data.sctp) {
            sctp.set_buffered_amount_low_threshold(s, threshold);
        }
    }

    /// Closes a channel: what is queued is sent, then its stream is reset
    /// (RFC 8831 §6.7); [`PeerEvent::DataChannelClosed`] follows once the
    /// peer reset its side.
    pub fn close_data_channel(&mut self, now: Instant, id: DataChannelId) -> Result<(), PeerError> {
        let slot = self
            .data
            .slots
            .get_mut(&id)
            .ok_or(PeerError::UnknownDataChannel(id))?;
        slot.open = false;
        slot.closing = true;
        match (slot.stream, &mut self.data.sctp) {
            (Some(s), Some(sctp)) => {
                sctp.close_channel(s)
                    .map_err(|e| PeerError::DataChannel(e.to_string()))?;
                self.pump_sctp(now);
            }
            _ => {
                // Never reached the association: gone at once.
                self.forget_channel(id);
                self.events.push_back(PeerEvent::DataChannelClosed { id });
            }
        }
        Ok(())
    }

    /// The channels, open or on their way.
    pub fn data_channels(&self) -> Vec<DataChannelInfo> {
        self.data
            .slots
            .iter()
            .map(|(id, s)| DataChannelInfo {
                id: *id,
                label: s.label.clone(),
                protocol: s.options.protocol.clone(),
                stream: s.stream,
                open: s.open,
            })
            .collect()
    }

    /// A test hook, since the test machines have no netem: drops every
    /// `out_nth`-th SCTP packet we would send and every `in_nth`-th one
    /// that arrives (0 turns a direction off), before DTLS on the way out
    /// and after it on the way in, so SCTP sees loss and recovers.
    pub fn set_sctp_test_drop(&mut self, out_nth: u32, in_nth: u32) {
        self.data.test_drop = [out_nth, in_nth];
        self.data.test_count = [0, 0];
    }

    /// SCTP packets the test hook dropped.
    pub fn sctp_test_dropped(&self) -> u64 {
        self.data.test_dropped
    }

    /// Whether the test hook drops this packet (0: out, 1: in).
    fn test_drops(&mut self, dir: usize) -> bool {
        let nth = self.data.test_drop[dir];
        if nth == 0 {
            return false;
        }
        self.data.test_count[dir] += 1;
        if self.data.test_count[dir] < nth {
            return false;
        }
        self.data.test_count[dir] = 0;
        self.data.test_dropped += 1;
        true
    }

    /// The SCTP association underneath, once started (state, counters,
    /// congestion window).
    pub fn sctp_association(&self) -> Option<&sctp::Association> {
        self.data.sctp.as_deref().map(|d| d.association())
    }

    /// The live data m-line transceiver, made if there is none.
    fn ensure_data_transceiver(&mut self) {
        if self
            .transceivers
            .iter()
            .any(|t| t.kind == MediaKind::Application && !t.stopped)
        {
            return;
        }
        self.add_transceiver(MediaKind::Application, false, true);
    }

    /// Starts the association once DTLS is up and the data m-line is
    /// negotiated (either may come last: a channel made mid-call adds the
    /// m-line by renegotiation).
    pub(super) fn maybe_start_sctp(&mut self, now: Instant) {
        if self.data.sctp.is_some() || self.data.ended || self.dtls_state != DtlsState::Connected {
            return;
        }
        let Some(data) = self.negotiated.as_ref().and_then(|n| n.data.clone()) else {
            return;
        };
        let mut config = sctp::Config::new(self.rng.seed32(), self.rng.seed32());
        config.local_port = data.local_port;
        config.remote_port = data.remote_port;
        config.mtu = self.config.mtu.saturating_sub(DTLS_RECORD_OVERHEAD);
        // What we announced we take (RFC 8841 §6): larger messages are
        // dropped and counted; our limit on what we send is the peer's,
        // checked in send_data.
        config.max_receive_message_size =
            usize::try_from(meshrtc_sdp::negotiate::MAX_MESSAGE_SIZE).unwrap_or(usize::MAX);
        config.max_message_size = match data.remote_max_message_size {
            Some(m) => usize::try_from(m).unwrap_or(usize::MAX),
            None => config.send_buffer,
        };
        self.data.remote_max_message_size = data.remote_max_message_size;
        let client = self.dtls_role == Some(DtlsRole::Client);
        let mut dc = Box::new(sctp::DataChannels::new(config, client));
        // Both sides send INIT (RFC 8831 §6.1); SCTP resolves the
        // collision (RFC 9260 §5.2.4).
        dc.connect(now);
        self.data.sctp = Some(dc);
        let waiting: Vec<DataChannelId> = self
            .data
            .slots
            .iter()
            .filter(|(_, s)| s.stream.is_none())
            .map(|(id, _)| *id)
            .collect();
        for id in waiting {
            if let Err(e) = self.open_on_association(now, id) {
                self.forget_channel(id);
                self.events.push_back(PeerEvent::DataChannelError {
                    id,
                    reason: e.to_string(),
                });
                self.events.push_back(PeerEvent::DataChannelClosed { id });
            }
        }
        self.pump_sctp(now);
        // What the peer's association sent before ours existed.
        for p in self.early_sctp.take() {
            self.on_sctp_packet(now, &p);
        }
    }

    fn open_on_association(&mut self, now: Instant, id: DataChannelId) -> Result<(), PeerError> {
        let (Some(sctp), Some(slot)) = (&mut self.data.sctp, self.data.slots.get_mut(&id)) else {
            return Err(PeerError::UnknownDataChannel(id));
        };
        let stream = sctp
            .open_channel(now, &slot.label, slot.options.clone())
            .map_err(|e| PeerError::DataChannel(e.to_string()))?;
        if slot.low_threshold > 0 {
            sctp.set_buffered_amount_low_threshold(stream, slot.low_threshold);
        }
        slot.stream = Some(stream);
        self.data.by_stream.insert(stream, id);
        Ok(())
    }

    /// One SCTP packet out of a DTLS application data record.
    pub(super) fn on_sctp_packet(&mut self, now: Instant, packet: &[u8]) {
        if self.test_drops(1) {
            return;
        }
        let Some(sctp) = &mut self.data.sctp else {
            // Before the data m-line is negotiated here (the peer applied
            // the description first): held, bounded, for the association.
            // Once it ended with the connection: dropped.
            if !self.data.ended {
                self.early_sctp.hold(packet);
            }
            return;
        };
        if sctp.handle_input(now, packet).is_err() {
            self.data.sctp_errors += 1;
        }
        self.pump_sctp(now);
    }

    /// SCTP timers.
    pub(super) fn sctp_timeout(&mut self, now: Instant) {
        if let Some(sctp) = &mut self.data.sctp {
            if sctp.poll_timeout().is_some_and(|t| t <= now) {
                sctp.handle_timeout(now);
            }
        }
        self.pump_sctp(now);
    }

    /// When SCTP needs the clock next (its timers, or the budget).
    pub(super) fn sctp_poll_timeout(&self) -> Option<Instant> {
        let t = self.data.sctp.as_ref().and_then(|s| s.poll_timeout());
        match (t, self.data.share.wakeup) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A media packet of `wire` bytes on the link left the pacer: it takes
    /// its share of the budget SCTP sends from.
    pub(super) fn spend_data_budget(&mut self, wire: usize) {
        if self.data.sctp.is_some() {
            self.data.share.on_media(wire);
        }
    }

    /// Whether data waits in SCTP or is in flight: while it does, the
    /// media target leaves the data's share free.
    pub(super) fn data_pending(&self) -> bool {
        let Some(sctp) = &self.data.sctp else {
            return false;
        };
        let a = sctp.association();
        a.is_established()
            && (a.flight_size() > 0
                || self
                    .data
                    .by_stream
                    .keys()
                    .any(|&s| a.buffered_amount(s) > 0))
    }

    /// Hands what SCTP has to send to DTLS, within the budget, and its
    /// events to the application.
    pub(super) fn pump_sctp(&mut self, now: Instant) {
        if self.data.sctp.is_none() {
            return;
        }
        self.data.share.wakeup = None;
        let estimate = self.cc.as_ref().map(|cc| cc.controller.target_bitrate());
        let media_waiting = self.cc.as_ref().is_some_and(|cc| !cc.pacer.is_empty());
        if let Some(e) = estimate {
            self.data.share.refill(now, e);
        }
        let mut buf = std::mem::take(&mut self.scratch);
        loop {
            let source = match estimate {
                Some(e) => match self.data.share.source(media_waiting) {
                    Some(s) => Some(s),
                    None => {
                        self.data.share.wait(now, e, media_waiting);
                        break;
                    }
                },
                None => None,
            };
            let Some(sctp) = &mut self.data.sctp else {
                break;
            };
            buf.clear();
            if !sctp.poll_transmit(now, &mut buf) {
                break;
            }
            if self.test_drops(0) {
                continue;
            }
            let Some(d) = &mut self.dtls else { break };
            if d.send_application_data(&buf).is_ok() {
                let wire = buf.len() + DTLS_RECORD_OVERHEAD + IP_UDP_OVERHEAD;
                self.data.sctp_bytes_sent += wire as u64;
                if let Some(source) = source {
                    self.data.share.on_data(source, wire);
                }
            }
        }
        self.scratch = buf;
        self.drain_dtls_transmits();
        self.drain_sctp_events();
    }

    fn drain_sctp_events(&mut self) {
        while let Some(e) = self.data.sctp.as_mut().and_then(|s| s.poll_event()) {
            match e {
                ChannelEvent::Connected => {}
                ChannelEvent::Open { id: stream } => {
                    let Some(&id) = self.data.by_stream.get(&stream) else {
                        continue;
                    };
                    if let Some(slot) = self.data.slots.get_mut(&id) {
                        slot.open = true;
                        self.events.push_back(PeerEvent::DataChannelOpen {
                            id,
                            label: slot.label.clone(),
                            protocol: slot.options.protocol.clone(),
                            by_peer: false,
                        });
                    }
                }
                ChannelEvent::Incoming {
                    id: stream,
                    label,
                    protocol,
                    ordered,
                    reliability,
                } => {
                    let id = self.data.fresh_id();
                    self.data.by_stream.insert(stream, id);
                    self.data.slots.insert(
                        id,
                        Slot::new(
                            label.clone(),
                            ChannelOptions {
                                ordered,
                                reliability,
                                protocol: protocol.clone(),
                                ..ChannelOptions::default()
                            },
                            Some(stream),
                            true,
                        ),
                    );
                    self.events.push_back(PeerEvent::DataChannelOpen {
                        id,
                        label,
                        protocol,
                        by_peer: true,
                    });
                }
                ChannelEvent::Message {
                    id: stream,
                    payload,
                } => {
                    if let Some(&id) = self.data.by_stream.get(&stream) {
                        if let Some(slot) = self.data.slots.get_mut(&id) {
                            slot.counters.messages_received += 1;
                            slot.counters.bytes_received += payload_len(&payload) as u64;
                        }
                        self.events
                            .push_back(PeerEvent::DataChannelMessage { id, payload });
                    }
                }
                ChannelEvent::BufferedAmountLow { id: stream } => {
                    if let Some(&id) = self.data.by_stream.get(&stream) {
                        self.events
                            .push_back(PeerEvent::DataChannelBufferedAmountLow { id });
                    }
                }
                ChannelEvent::Closed { id: stream } => {
                    if let Some(id) = self.data.by_stream.remove(&stream) {
                        self.forget_channel(id);
                        self.events.push_back(PeerEvent::DataChannelClosed { id });
                    }
                }
                ChannelEvent::AssociationClosed(reason) => {
                    self.events
                        .push_back(PeerEvent::SctpClosed(format!("{reason:?}")));
                }
            }
        }
    }
}

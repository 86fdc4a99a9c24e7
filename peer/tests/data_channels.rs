//! Data channels between two meshrtc PeerConnections in memory (RFC 8831,
//! RFC 8832, RFC 8841): data-only and bundled sessions, both DTLS roles,
//! message sizes from 0 B to 256 KiB, a 10 MB transfer checked by hash,
//! loss, partial reliability, 64 channels, close and reopen, negotiated
//! channels, the peer's max-message-size and the buffered amount.

mod pair;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use meshrtc_peer::{
    ConnectionState, DataChannelId, DataChannelOptions, DataChannelState, DataPayload, PeerConfig,
    PeerConnection, PeerError, PeerEvent, SdpType,
};
use meshrtc_sdp::negotiate::MediaKind;
use pair::{drain, Side};
use sha2::{Digest, Sha256};

/// Drops datagrams with probability `loss` (deterministic).
struct Lossy {
    state: u64,
    loss: f64,
    dropped: u64,
}

impl Lossy {
    fn none() -> Lossy {
        Lossy::new(0.0)
    }
    fn new(loss: f64) -> Lossy {
        Lossy {
            state: 0x9E37_79B9_7F4A_7C15,
            loss,
            dropped: 0,
        }
    }
    fn drop_next(&mut self) -> bool {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let drop = (self.state % 10_000) as f64 / 10_000.0 < self.loss;
        self.dropped += u64::from(drop);
        drop
    }
}

fn step(now: &mut Instant, a: &mut Side, b: &mut Side, net: &mut Lossy) {
    pair::step_lossy(now, a, b, &mut || net.drop_next());
}

fn run_until(
    now: &mut Instant,
    a: &mut Side,
    b: &mut Side,
    net: &mut Lossy,
    max_steps: usize,
    mut done: impl FnMut(&Side, &Side) -> bool,
) {
    for _ in 0..max_steps {
        if done(a, b) {
            return;
        }
        step(now, a, b, net);
    }
    assert!(done(a, b), "not done after {max_steps} steps");
}

fn side(seed: u64, port: u16, now: Instant) -> Side {
    let mut s = Side {
        pc: PeerConnection::new(PeerConfig::with_fixed_seed(seed), now).unwrap(),
        addr: format!("127.0.0.1:{port}").parse().unwrap(),
        events: vec![],
    };
    s.pc.add_local_address(s.addr);
    s
}

/// `x` offers, `y` answers; `offerer_is_dtls_client` makes the offer say
/// `setup:active` instead of actpass (else the answerer is the client).
/// `answer_edit` may change the answer's text.
fn negotiate(
    now: Instant,
    x: &mut Side,
    y: &mut Side,
    offerer_is_dtls_client: bool,
    answer_edit: impl Fn(String) -> String,
) {
    let mut offer = x.pc.create_offer(now).unwrap();
    if offerer_is_dtls_client {
        offer = offer.replace("a=setup:actpass", "a=setup:active");
    }
    y.pc.set_remote_description(now, SdpType::Offer, &offer)
        .unwrap();
    let answer = answer_edit(y.pc.create_answer(now).unwrap());
    x.pc.set_remote_description(now, SdpType::Answer, &answer)
        .unwrap();
}

fn opens(s: &Side) -> Vec<(DataChannelId, String, bool)> {
    s.events
        .iter()
        .filter_map(|e| match e {
            PeerEvent::DataChannelOpen {
                id, label, by_peer, ..
            } => Some((*id, label.clone(), *by_peer)),
            _ => None,
        })
        .collect()
}

fn incoming(s: &Side, label: &str) -> Option<DataChannelId> {
    opens(s)
        .into_iter()
        .find(|(_, l, by_peer)| *by_peer && l == label)
        .map(|(id, _, _)| id)
}

fn messages(s: &Side, id: DataChannelId) -> Vec<DataPayload> {
    s.events
        .iter()
        .filter_map(|e| match e {
            PeerEvent::DataChannelMessage { id: i, payload } if *i == id => Some(payload.clone()),
            _ => None,
        })
        .collect()
}

fn closed(s: &Side, id: DataChannelId) -> bool {
    s.events
        .iter()
        .any(|e| matches!(e, PeerEvent::DataChannelClosed { id: i } if *i == id))
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed)
        .collect()
}

/// A data-only session, `a` offering with a channel "a2b" made before the
/// offer; returns once both see it open and `b` answered with "b2a".
struct Session {
    now: Instant,
    a: Side,
    b: Side,
    a2b: DataChannelId,
    a2b_at_b: DataChannelId,
    b2a: DataChannelId,
    b2a_at_a: DataChannelId,
}

fn data_only_session(offerer_is_dtls_client: bool, net: &mut Lossy) -> Session {
    let mut now = Instant::now();
    let mut a = side(1, 4101, now);
    let mut b = side(2, 4102, now);
    let a2b =
        a.pc.create_data_channel(now, "a2b", DataChannelOptions::default())
            .unwrap();
    assert!(a.pc.negotiation_needed());
    // The data m-line is no transceiver to the application.
    assert!(a.pc.transceivers().is_empty());
    negotiate(now, &mut a, &mut b, offerer_is_dtls_client, |s| s);
    let a2b_at_b = {
        run_until(&mut now, &mut a, &mut b, net, 3000, |_, b| {
            incoming(b, "a2b").is_some()
        });
        incoming(&b, "a2b").unwrap()
    };
    assert_eq!(a.pc.state(), ConnectionState::Connected);
    assert_eq!(b.pc.state(), ConnectionState::Connected);
    let b2a =
        b.pc.create_data_channel(now, "b2a", DataChannelOptions::default())
            .unwrap();
    run_until(&mut now, &mut a, &mut b, net, 3000, |a, _| {
        incoming(a, "b2a").is_some()
    });
    let b2a_at_a = incoming(&a, "b2a").unwrap();
    Session {
        now,
        a,
        b,
        a2b,
        a2b_at_b,
        b2a,
        b2a_at_a,
    }
}

fn sizes_both_ways(offerer_is_dtls_client: bool) {
    let mut net = Lossy::none();
    let mut s = data_only_session(offerer_is_dtls_client, &mut net);
    // Stream id parity by DTLS role (RFC 8832 §6): the client's are even.
    let stream_of = |pc: &PeerConnection, id| {
        pc.data_channels()
            .into_iter()
            .find(|c| c.id == id)
            .and_then(|c| c.stream)
            .unwrap()
    };
    let a_stream = stream_of(&s.a.pc, s.a2b);
    let b_stream = stream_of(&s.b.pc, s.b2a);
    assert_eq!(a_stream % 2 == 0, offerer_is_dtls_client);
    assert_eq!(b_stream % 2 == 0, !offerer_is_dtls_client);
    let sizes = [0usize, 1, 64 * 1024, 256 * 1024];
    let mut sent_ab = Vec::new();
    let mut sent_ba = Vec::new();
    for (i, &len) in sizes.iter().enumerate() {
        let bin = DataPayload::Binary(pattern(len, i as u8));
        let text = DataPayload::Text("é".repeat(len / 2));
        for p in [bin, text] {
            s.a.pc.send_data(s.now, s.a2b, &p).unwrap();
            s.b.pc.send_data(s.now, s.b2a, &p).unwrap();
            sent_ab.push(p.clone());
            sent_ba.push(p);
        }
    }
    let (a2b_at_b, b2a_at_a) = (s.a2b_at_b, s.b2a_at_a);
    let n = sent_ab.len();
    run_until(&mut s.now, &mut s.a, &mut s.b, &mut net, 5000, |a, b| {
        messages(b, a2b_at_b).len() == n && messages(a, b2a_at_a).len() == n
    });
    assert_eq!(messages(&s.b, a2b_at_b), sent_ab);
    assert_eq!(messages(&s.a, b2a_at_a), sent_ba);
    // Nothing left buffered.
    assert_eq!(s.a.pc.buffered_amount(s.a2b), 0);
    // The stats count them (W3C RTCDataChannelStats).
    let bytes: u64 = sizes.iter().map(|&l| (l + l / 2 * 2) as u64).sum();
    let sent = s.a.pc.stats().data_channels;
    let a2b = sent.iter().find(|c| c.id == s.a2b).unwrap();
    assert_eq!(
        (
            a2b.state,
            a2b.messages_sent,
            a2b.bytes_sent,
            a2b.buffered_amount
        ),
        (DataChannelState::Open, n as u64, bytes, 0)
    );
    let got = s.b.pc.stats().data_channels;
    let at_b = got.iter().find(|c| c.id == a2b_at_b).unwrap();
    assert_eq!(
        (
            at_b.label.as_str(),
            at_b.messages_received,
            at_b.bytes_received
        ),
        ("a2b", n as u64, bytes)
    );
    assert_eq!(at_b.messages_sent, 0);
}

#[test]
fn data_only_session_carries_0_1_64k_256k_both_ways_answerer_dtls_client() {
    sizes_both_ways(false);
}

#[test]
fn data_only_session_carries_0_1_64k_256k_both_ways_offerer_dtls_client() {
    sizes_both_ways(true);
}

fn transfer(s: &mut Session, net: &mut Lossy, total: usize, chunk: usize) -> Duration {
    let start = s.now;
    let data = pattern(total, 7);
    let want = Sha256::digest(&data);
    let mut got = Sha256::new();
    let mut got_len = 0usize;
    let mut offset = 0;
    let mut seen = 0;
    s.a.pc.set_buffered_amount_low_threshold(s.a2b, 256 * 1024);
    let mut low_events = 0;
    for _ in 0..200_000 {
        // Keep about 1 MB queued, as an application following
        // bufferedAmountLow would.
        while offset < total && s.a.pc.buffered_amount(s.a2b) < 1024 * 1024 {
            let end = (offset + chunk).min(total);
            s.a.pc
                .send_data(
                    s.now,
                    s.a2b,
                    &DataPayload::Binary(data[offset..end].to_vec()),
                )
                .unwrap();
            offset = end;
        }
        step(&mut s.now, &mut s.a, &mut s.b, net);
        for e in s.b.events.drain(seen..) {
            if let PeerEvent::DataChannelMessage {
                id,
                payload: DataPayload::Binary(m),
            } = e
            {
                if id == s.a2b_at_b {
                    got.update(&m);
                    got_len += m.len();
                }
            }
        }
        seen = s.b.events.len();
        low_events +=
            s.a.events
                .drain(..)
                .filter(|e| matches!(e, PeerEvent::DataChannelBufferedAmountLow { .. }))
                .count();
        if got_len == total {
            break;
        }
    }
    assert_eq!(got_len, total);
    assert_eq!(
        got.finalize(),
        want,
        "the bytes arrived in order and intact"
    );
    assert!(
        low_events > 0,
        "bufferedAmountLow fired while the queue drained"
    );
    s.now - start
}

#[test]
fn ten_megabytes_ordered_reliable_arrive_with_the_same_hash() {
    let mut net = Lossy::none();
    let mut s = data_only_session(false, &mut net);
    let took = transfer(&mut s, &mut net, 10 * 1024 * 1024, 64 * 1024);
    eprintln!("10 MB in {took:?} of simulated time");
}

#[test]
fn the_test_drop_hook_loses_sctp_packets_both_ways_and_sctp_recovers() {
    let mut net = Lossy::none();
    let mut s = data_only_session(false, &mut net);
    // Every 3rd SCTP packet out of `a`, every 5th into it.
    s.a.pc.set_sctp_test_drop(3, 5);
    transfer(&mut s, &mut net, 512 * 1024, 16 * 1024);
    let dropped = s.a.pc.sctp_test_dropped();
    let sctp = s.a.pc.stats().sctp.unwrap();
    assert!(dropped > 100, "{dropped} dropped");
    assert!(sctp.retransmissions > 0, "{sctp:?}");
    assert_eq!(sctp.cwnd_overruns, 0);
    assert_eq!(net.dropped, 0, "only the hook dropped");
    // Off again: nothing more is dropped.
    s.a.pc.set_sctp_test_drop(0, 0);
    transfer(&mut s, &mut net, 2 * 1024 * 1024, 64 * 1024);
    assert_eq!(s.a.pc.sctp_test_dropped(), dropped);
}

#[test]
fn transfer_completes_through_ten_percent_loss() {
    let mut net = Lossy::new(0.10);
    let mut s = data_only_session(false, &mut net);
    transfer(&mut s, &mut net, 1024 * 1024, 16 * 1024);
    assert!(
        net.dropped > 50,
        "the network dropped {} datagrams",
        net.dropped
    );
    let st = s.a.pc.sctp_association().unwrap().stats();
    assert!(st.retransmissions + st.fast_retransmits > 0, "{st:?}");
}

#[test]
fn unordered_channel_without_retransmissions_loses_some_and_never_stalls() {
    partially_reliable_under_loss(DataChannelOptions {
        ordered: false,
        max_retransmits: Some(0),
        ..DataChannelOptions::default()
    });
}

#[test]
fn unordered_channel_with_a_1_ms_lifetime_loses_some_and_never_stalls() {
    partially_reliable_under_loss(DataChannelOptions {
        ordered: false,
        max_packet_life_time: Some(Duration::from_millis(1)),
        ..DataChannelOptions::default()
    });
}

fn partially_reliable_under_loss(opts: DataChannelOptions) {
    let mut net = Lossy::new(0.10);
    let mut s = data_only_session(false, &mut net);
    let pr = s.a.pc.create_data_channel(s.now, "pr", opts).unwrap();
    run_until(&mut s.now, &mut s.a, &mut s.b, &mut net, 3000, |_, b| {
        incoming(b, "pr").is_some()
    });
    let pr_at_b = incoming(&s.b, "pr").unwrap();
    // Once open, the channel goes unordered (after the DCEP ACK).
    for _ in 0..50 {
        step(&mut s.now, &mut s.a, &mut s.b, &mut net);
    }
    let n = 300u32;
    for i in 0..n {
        s.a.pc
            .send_data(s.now, pr, &DataPayload::Binary(i.to_be_bytes().to_vec()))
            .unwrap();
        // And the reliable channel alongside.
        s.a.pc
            .send_data(s.now, s.a2b, &DataPayload::Binary(i.to_be_bytes().to_vec()))
            .unwrap();
        step(&mut s.now, &mut s.a, &mut s.b, &mut net);
    }
    let a2b_at_b = s.a2b_at_b;
    run_until(&mut s.now, &mut s.a, &mut s.b, &mut net, 5000, |_, b| {
        messages(b, a2b_at_b).len() == n as usize
    });
    for _ in 0..300 {
        step(&mut s.now, &mut s.a, &mut s.b, &mut net);
    }
    let got: Vec<u32> = messages(&s.b, pr_at_b)
        .into_iter()
        .map(|p| match p {
            DataPayload::Binary(b) => u32::from_be_bytes(b.try_into().unwrap()),
            other => panic!("{other:?}"),
        })
        .collect();
    // Lost ones are abandoned (FORWARD-TSN), the others delivered once.
    assert!(
        got.len() < n as usize,
        "{} of {n}: nothing lost?",
        got.len()
    );
    assert!(got.len() > n as usize * 7 / 10, "only {} of {n}", got.len());
    let mut sorted = got.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), got.len(), "no duplicates");
    assert!(
        got.contains(&(n - 1)) || got.contains(&(n - 2)),
        "the last ones arrive"
    );
    let reliable: Vec<_> = messages(&s.b, a2b_at_b);
    assert_eq!(reliable.len(), n as usize);
}

#[test]
fn sixty_four_channels_open_at_once_and_each_carries_its_own_messages() {
    let mut net = Lossy::none();
    let mut s = data_only_session(false, &mut net);
    let ids: Vec<_> = (0..64)
        .map(|i| {
            s.a.pc
                .create_data_channel(s.now, &format!("ch{i}"), DataChannelOptions::default())
                .unwrap()
        })
        .collect();
    run_until(&mut s.now, &mut s.a, &mut s.b, &mut net, 3000, |_, b| {
        opens(b).iter().filter(|o| o.1.starts_with("ch")).count() == 64
    });
    for (i, id) in ids.iter().enumerate() {
        s.a.pc
            .send_data(s.now, *id, &DataPayload::Text(format!("message on ch{i}")))
            .unwrap();
    }
    run_until(&mut s.now, &mut s.a, &mut s.b, &mut net, 3000, |_, b| {
        b.events
            .iter()
            .filter(|e| matches!(e, PeerEvent::DataChannelMessage { .. }))
            .count()
            == 64
    });
    for i in 0..64 {
        let at_b = incoming(&s.b, &format!("ch{i}")).unwrap();
        assert_eq!(
            messages(&s.b, at_b),
            [DataPayload::Text(format!("message on ch{i}"))]
        );
    }
    assert_eq!(s.a.pc.data_channels().len(), 66);
}

#[test]
fn closed_channel_closes_on_both_sides_and_a_new_one_opens() {
    let mut net = Lossy::none();
    let mut s = data_only_session(false, &mut net);
    s.a.pc
        .send_data(s.now, s.a2b, &DataPayload::Text("last".into()))
        .unwrap();
    s.a.pc.close_data_channel(s.now, s.a2b).unwrap();
    assert!(matches!(
        s.a.pc
            .send_data(s.now, s.a2b, &DataPayload::Text("late".into())),
        Err(PeerError::UnknownDataChannel(_))
    ));
    let (a2b, a2b_at_b) = (s.a2b, s.a2b_at_b);
    run_until(&mut s.now, &mut s.a, &mut s.b, &mut net, 3000, |a, b| {
        closed(a, a2b) && closed(b, a2b_at_b)
    });
    // What was queued before the close arrived first.
    assert_eq!(messages(&s.b, a2b_at_b), [DataPayload::Text("last".into())]);
    assert_eq!(s.a.pc.data_channels().len(), 1);
    // The closed channel's last counters stay in the stats.
    let stats = s.a.pc.stats().data_channels;
    let gone = stats.iter().find(|c| c.id == a2b).unwrap();
    assert_eq!(
        (gone.state, gone.messages_sent, gone.bytes_sent),
        (DataChannelState::Closed, 1, 4)
    );
    // Reopen under the same label: a new handle, data flows again.
    s.b.events.clear();
    let again =
        s.a.pc
            .create_data_channel(s.now, "a2b", DataChannelOptions::default())
            .unwrap();
    assert_ne!(again, a2b);
    run_until(&mut s.now, &mut s.a, &mut s.b, &mut net, 3000, |_, b| {
        incoming(b, "a2b").is_some()
    });
    s.a.pc
        .send_data(s.now, again, &DataPayload::Text("again".into()))
        .unwrap();
    let at_b = incoming(&s.b, "a2b").unwrap();
    run_until(&mut s.now, &mut s.a, &mut s.b, &mut net, 3000, |_, b| {
        !messages(b, at_b).is_empty()
    });
    assert_eq!(messages(&s.b, at_b), [DataPayload::Text("again".into())]);
}

#[test]
fn negotiated_channel_needs_no_dcep_and_both_sides_use_the_same_stream() {
    let mut net = Lossy::none();
    let mut s = data_only_session(false, &mut net);
    let opts = DataChannelOptions {
        negotiated: Some(40),
        protocol: "chat".into(),
        ..DataChannelOptions::default()
    };
    let at_a =
        s.a.pc
            .create_data_channel(s.now, "x", opts.clone())
            .unwrap();
    let at_b = s.b.pc.create_data_channel(s.now, "x", opts).unwrap();
    // Stream 40 is taken now.
    let again = DataChannelOptions {
        negotiated: Some(40),
        ..DataChannelOptions::default()
    };
    assert!(s.a.pc.create_data_channel(s.now, "y", again).is_err());
    s.a.pc
        .send_data(s.now, at_a, &DataPayload::Text("hi".into()))
        .unwrap();
    run_until(&mut s.now, &mut s.a, &mut s.b, &mut net, 3000, |_, b| {
        !messages(b, at_b).is_empty()
    });
    assert_eq!(messages(&s.b, at_b), [DataPayload::Text("hi".into())]);
    assert!(incoming(&s.b, "x").is_none(), "no DATA_CHANNEL_OPEN for it");
}

#[test]
fn peers_max_message_size_is_respected() {
    let mut now = Instant::now();
    let mut a = side(1, 4201, now);
    let mut b = side(2, 4202, now);
    let mut net = Lossy::none();
    let ch =
        a.pc.create_data_channel(now, "c", DataChannelOptions::default())
            .unwrap();
    negotiate(now, &mut a, &mut b, false, |s| {
        s.replace("a=max-message-size:262144", "a=max-message-size:1000")
    });
    run_until(&mut now, &mut a, &mut b, &mut net, 3000, |a, _| {
        opens(a).iter().any(|o| o.0 == ch)
    });
    let too_big =
        a.pc.send_data(now, ch, &DataPayload::Binary(vec![1; 1001]))
            .unwrap_err();
    assert!(
        too_big.to_string().contains("max-message-size 1000"),
        "{too_big}"
    );
    a.pc.send_data(now, ch, &DataPayload::Binary(vec![1; 1000]))
        .unwrap();
    run_until(&mut now, &mut a, &mut b, &mut net, 3000, |_, b| {
        incoming(b, "c").is_some_and(|id| messages(b, id).len() == 1)
    });
}

#[test]
fn a_message_above_our_max_message_size_is_dropped_and_counted_and_the_channel_goes_on() {
    let mut now = Instant::now();
    let mut a = side(1, 4301, now);
    let mut b = side(2, 4302, now);
    let mut net = Lossy::none();
    let ch =
        a.pc.create_data_channel(now, "c", DataChannelOptions::default())
            .unwrap();
    // `a` is told `b` takes 1 MiB; `b` announced (and enforces) 256 KiB.
    negotiate(now, &mut a, &mut b, false, |s| {
        s.replace("a=max-message-size:262144", "a=max-message-size:1048576")
    });
    run_until(&mut now, &mut a, &mut b, &mut net, 3000, |a, _| {
        opens(a).iter().any(|o| o.0 == ch)
    });
    a.pc.send_data(now, ch, &DataPayload::Binary(pattern(512 * 1024, 3)))
        .unwrap();
    a.pc.send_data(now, ch, &DataPayload::Binary(pattern(256 * 1024, 4)))
        .unwrap();
    a.pc.send_data(now, ch, &DataPayload::Text("after".into()))
        .unwrap();
    run_until(&mut now, &mut a, &mut b, &mut net, 5000, |_, b| {
        incoming(b, "c").is_some_and(|id| messages(b, id).len() == 2)
    });
    let at_b = incoming(&b, "c").unwrap();
    assert_eq!(
        messages(&b, at_b),
        [
            DataPayload::Binary(pattern(256 * 1024, 4)),
            DataPayload::Text("after".into())
        ]
    );
    let stats = b.pc.stats();
    assert_eq!(stats.sctp.unwrap().oversized_messages, 1);
    assert!(b.pc.is_connected() && a.pc.is_connected());
}

#[test]
fn data_channel_bundles_with_video_and_one_made_mid_call_adds_the_m_line() {
    let (mut now, mut a, mut b) = pair::sides();
    let mut net = Lossy::none();
    negotiate(now, &mut a, &mut b, false, |s| s);
    run_until(&mut now, &mut a, &mut b, &mut net, 3000, |a, b| {
        a.pc.state() == ConnectionState::Connected && b.pc.state() == ConnectionState::Connected
    });
    // Mid-call: the channel needs an offer that adds the data m-line.
    let ch =
        a.pc.create_data_channel(now, "late", DataChannelOptions::default())
            .unwrap();
    assert!(a.pc.negotiation_needed());
    negotiate(now, &mut a, &mut b, false, |s| s);
    let offer = a.pc.local_description().unwrap();
    assert!(offer.contains("m=application 9 UDP/DTLS/SCTP webrtc-datachannel"));
    assert!(offer.contains("a=group:BUNDLE 0 1"));
    run_until(&mut now, &mut a, &mut b, &mut net, 3000, |_, b| {
        incoming(b, "late").is_some()
    });
    a.pc.send_data(now, ch, &DataPayload::Text("with video".into()))
        .unwrap();
    let at_b = incoming(&b, "late").unwrap();
    run_until(&mut now, &mut a, &mut b, &mut net, 3000, |_, b| {
        !messages(b, at_b).is_empty()
    });
    // Video still negotiated on the same transport.
    let kinds: Vec<_> = a.pc.transceivers().iter().map(|t| t.kind).collect();
    assert_eq!(kinds, [MediaKind::Video]);
    assert!(a.pc.is_connected());
}

#[test]
fn channels_end_with_the_connection() {
    let mut net = Lossy::none();
    let mut s = data_only_session(false, &mut net);
    s.a.pc.close();
    drain(&mut s.a);
    assert!(closed(&s.a, s.a2b) && closed(&s.a, s.b2a_at_a));
    let (b2a, a2b_at_b) = (s.b2a, s.a2b_at_b);
    run_until(&mut s.now, &mut s.a, &mut s.b, &mut net, 500, |_, b| {
        closed(b, b2a) && closed(b, a2b_at_b)
    });
    let mut by_kind = BTreeMap::new();
    for e in &s.b.events {
        if let PeerEvent::SctpClosed(r) = e {
            *by_kind.entry(r.clone()).or_insert(0) += 1;
        }
    }
    assert_eq!(by_kind.len(), 1, "{by_kind:?}");
}

#[test]
fn data_beside_video_stays_within_the_congestion_estimate_and_video_keeps_flowing() {
    let (mut now, mut a, mut b) = pair::sides();
    let mut net = Lossy::none();
    let ch =
        a.pc.create_data_channel(now, "bulk", DataChannelOptions::default())
            .unwrap();
    negotiate(now, &mut a, &mut b, false, |s| s);
    run_until(&mut now, &mut a, &mut b, &mut net, 3000, |a, b| {
        opens(a).iter().any(|o| o.0 == ch) && incoming(b, "bulk").is_some()
    });
    let at_b = incoming(&b, "bulk").unwrap();
    let video = a.pc.sending_mids()[0].0.clone();
    let mut pk = meshrtc_rtp::vp8::Vp8Packetizer::new(1);
    // 2 MB queued at once: without an estimator it would all leave in
    // tens of milliseconds (see the 10 MB test).
    for i in 0..32u8 {
        a.pc.send_data(now, ch, &DataPayload::Binary(vec![i; 64 * 1024]))
            .unwrap();
    }
    let start = now;
    let mut budget_bits = 0.0;
    let mut frames_sent = 0u32;
    let mut next_frame = now;
    while now - start < Duration::from_secs(2) {
        if now >= next_frame {
            let f = meshrtc_peer::PacketizedFrame::vp8(
                &mut pk,
                pair::vp8_frame(frames_sent, frames_sent == 0, 1500).into(),
                frames_sent * 6000,
                1100,
            )
            .unwrap();
            a.pc.send_frame(now, &video, &f).unwrap();
            frames_sent += 1;
            next_frame += Duration::from_millis(66);
        }
        let before = now;
        step(&mut now, &mut a, &mut b, &mut net);
        // The whole estimate (media and data); the encoders' target is
        // a tenth lower while data is pending.
        let target = a.pc.estimated_bitrate().expect("the estimator runs");
        if a.pc.sctp_association().is_some_and(|s| s.flight_size() > 0) {
            assert!(a.pc.target_bitrate().unwrap() < target);
            // The same part of any rate (a mesh member's share).
            assert_eq!(a.pc.media_part_of(1_000_000), 900_000);
            assert_eq!(a.pc.media_part_of(target), a.pc.target_bitrate().unwrap());
        }
        budget_bits += target as f64 * (now - before).as_secs_f64();
    }
    let data_bytes: usize = messages(&b, at_b)
        .iter()
        .map(|p| match p {
            DataPayload::Binary(b) => b.len(),
            DataPayload::Text(t) => t.len(),
        })
        .sum();
    let frames_got = b
        .events
        .iter()
        .filter(|e| matches!(e, PeerEvent::Frame(_)))
        .count() as u32;
    let media_bytes = a.pc.stats().outbound[0].bytes_sent as f64;
    eprintln!(
        "2 s: estimate allowed {:.0} kB, media {:.0} kB, data delivered {} kB, {frames_got}/{frames_sent} frames",
        budget_bits / 8000.0,
        media_bytes / 1000.0,
        data_bytes / 1000
    );
    // Data flows, but media and data together stay within the estimate
    // (plus one 40 ms burst and the DTLS/UDP overhead of the data packets).
    assert!(data_bytes > 20_000, "data starved: {data_bytes} bytes");
    assert!(
        (data_bytes as f64) + media_bytes < budget_bits / 8.0 * 1.05 + 20_000.0,
        "data {data_bytes} + media {media_bytes} beyond the estimate's {:.0} bytes",
        budget_bits / 8.0
    );
    assert!(
        data_bytes < 2 * 1024 * 1024,
        "all 2 MB left: no budget applied"
    );
    assert!(
        frames_got + 2 >= frames_sent,
        "video starved: {frames_got}/{frames_sent}"
    );
}

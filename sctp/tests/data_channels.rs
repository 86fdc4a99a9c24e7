//! Data channels (RFC 8831, RFC 8832 DCEP) between two `DataChannels`
//! over a deterministic in-memory link.
#![allow(missing_docs)]

mod pair;

use std::time::Duration;

use meshrtc_sctp::dcep::ppid;
use meshrtc_sctp::{ChannelEvent, ChannelOptions, ChannelState, Payload, Reliability};
use pair::{Link, Pair};

fn link(loss: f64) -> Link {
    Link {
        loss,
        duplicate: 0.0,
        latency: Duration::from_millis(10),
        jitter: Duration::from_millis(10),
    }
}

fn messages(events: &[ChannelEvent], id: u16) -> Vec<Payload> {
    events
        .iter()
        .filter_map(|e| match e {
            ChannelEvent::Message { id: i, payload } if *i == id => Some(payload.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn in_band_channels_open_with_dcep_and_ids_follow_the_dtls_role() {
    let mut d = Pair::channels(link(0.0), 1);
    let chat =
        d.a.open_channel(
            d.now,
            "chat",
            ChannelOptions {
                protocol: "p1".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let back =
        d.b.open_channel(d.now, "back", ChannelOptions::default())
            .unwrap();
    assert_eq!((chat, back), (0, 1), "client even, server odd");
    let chat2 =
        d.a.open_channel(d.now, "chat2", ChannelOptions::default())
            .unwrap();
    assert_eq!(chat2, 2);
    d.a.send(d.now, chat, &Payload::Text("hello".into()))
        .unwrap();
    d.run_until(Duration::from_secs(5), |d| {
        !messages(&d.b_events, chat).is_empty()
    });
    assert!(d.b_events.contains(&ChannelEvent::Incoming {
        id: 0,
        label: "chat".into(),
        protocol: "p1".into(),
        ordered: true,
        reliability: Reliability::Reliable,
    }));
    assert!(d.a_events.contains(&ChannelEvent::Open { id: 0 }));
    assert!(d
        .a_events
        .iter()
        .any(|e| matches!(e, ChannelEvent::Incoming { id: 1, label, .. } if label == "back")));
    assert_eq!(
        messages(&d.b_events, 0),
        vec![Payload::Text("hello".into())]
    );
    assert_eq!(d.b.label(0), Some("chat"));
    assert_eq!(d.a.stats().bad_dcep + d.b.stats().bad_dcep, 0);
}

#[test]
fn empty_small_and_large_messages_arrive_intact() {
    let mut d = Pair::channels(link(0.05), 2);
    let id =
        d.a.open_channel(d.now, "files", ChannelOptions::default())
            .unwrap();
    let sizes = [0usize, 1, 65_536, 262_144];
    for (k, &n) in sizes.iter().enumerate() {
        let b: Vec<u8> = (0..n).map(|i| (i * 7 + k) as u8).collect();
        d.a.send(d.now, id, &Payload::Binary(b)).unwrap();
    }
    d.a.send(d.now, id, &Payload::Text(String::new())).unwrap();
    d.a.send(d.now, id, &Payload::Text("ünïcode".into()))
        .unwrap();
    d.run_until(Duration::from_secs(120), |d| {
        messages(&d.b_events, id).len() == 6
    });
    let got = messages(&d.b_events, id);
    assert_eq!(got.len(), 6);
    for (k, &n) in sizes.iter().enumerate() {
        let want: Vec<u8> = (0..n).map(|i| (i * 7 + k) as u8).collect();
        assert_eq!(got[k], Payload::Binary(want), "size {n}");
    }
    assert_eq!(got[4], Payload::Text(String::new()));
    assert_eq!(got[5], Payload::Text("ünïcode".into()));
}

#[test]
fn negotiated_channels_skip_dcep() {
    let mut d = Pair::channels(link(0.0), 3);
    let opts = ChannelOptions {
        negotiated: Some(7),
        ..Default::default()
    };
    assert_eq!(d.a.open_channel(d.now, "n", opts.clone()).unwrap(), 7);
    assert_eq!(d.b.open_channel(d.now, "n", opts).unwrap(), 7);
    d.b.send(d.now, 7, &Payload::Binary(vec![1, 2, 3])).unwrap();
    d.run_until(Duration::from_secs(5), |d| {
        !messages(&d.a_events, 7).is_empty()
    });
    assert_eq!(
        messages(&d.a_events, 7),
        vec![Payload::Binary(vec![1, 2, 3])]
    );
    assert!(!d
        .a_events
        .iter()
        .any(|e| matches!(e, ChannelEvent::Incoming { .. })));
    // No DCEP message crossed: the server's stream 7 carried one data message only.
    assert_eq!(d.a.association().stats().data_chunks_received, 1);
}

#[test]
fn closing_a_channel_resets_both_directions_and_frees_the_id() {
    let mut d = Pair::channels(link(0.1), 4);
    let id =
        d.a.open_channel(d.now, "a", ChannelOptions::default())
            .unwrap();
    for i in 0..10u8 {
        d.a.send(d.now, id, &Payload::Binary(vec![i; 100])).unwrap();
    }
    d.a.close_channel(id).unwrap();
    assert_eq!(d.a.channel_state(id), Some(ChannelState::Closing));
    assert!(d.a.send(d.now, id, &Payload::Binary(vec![1])).is_err());
    d.run_until(Duration::from_secs(60), |d| {
        d.a_events.contains(&ChannelEvent::Closed { id })
            && d.b_events.contains(&ChannelEvent::Closed { id })
    });
    assert!(d.a_events.contains(&ChannelEvent::Closed { id }));
    assert!(d.b_events.contains(&ChannelEvent::Closed { id }));
    // Every message sent before the close arrived.
    assert_eq!(messages(&d.b_events, id).len(), 10);
    // The id is free again, and the new channel works.
    let again =
        d.a.open_channel(d.now, "b", ChannelOptions::default())
            .unwrap();
    assert_eq!(again, id);
    d.a.send(d.now, again, &Payload::Text("again".into()))
        .unwrap();
    d.run_until(Duration::from_secs(30), |d| {
        messages(&d.b_events, id).len() == 11
    });
    assert_eq!(messages(&d.b_events, id)[10], Payload::Text("again".into()));
}

#[test]
fn buffered_amount_drains_and_signals_low_water() {
    let mut d = Pair::channels(link(0.0), 5);
    let id =
        d.a.open_channel(d.now, "bulk", ChannelOptions::default())
            .unwrap();
    d.a.set_buffered_amount_low_threshold(id, 10_000);
    for _ in 0..10 {
        d.a.send(d.now, id, &Payload::Binary(vec![0; 20_000]))
            .unwrap();
    }
    assert!(d.a.buffered_amount(id) > 150_000);
    d.run_until(Duration::from_secs(60), |d| {
        d.a_events.contains(&ChannelEvent::BufferedAmountLow { id })
    });
    let low_events = d
        .a_events
        .iter()
        .filter(|e| **e == ChannelEvent::BufferedAmountLow { id })
        .count();
    assert_eq!(low_events, 1);
    assert!(d.a.buffered_amount(id) <= 10_000);
}

#[test]
fn sixty_four_channels_at_once_with_an_unreliable_unordered_one() {
    let mut d = Pair::channels(link(0.1), 6);
    let mut ids = Vec::new();
    for i in 0..64 {
        let opts = if i == 0 {
            ChannelOptions {
                ordered: false,
                reliability: Reliability::MaxRetransmits(0),
                ..Default::default()
            }
        } else {
            ChannelOptions::default()
        };
        ids.push(d.a.open_channel(d.now, &format!("ch{i}"), opts).unwrap());
    }
    for round in 0..5u8 {
        for &id in &ids {
            d.a.send(d.now, id, &Payload::Binary(vec![round; 300]))
                .unwrap();
        }
    }
    d.run_until(Duration::from_secs(120), |d| {
        ids[1..]
            .iter()
            .all(|&id| messages(&d.b_events, id).len() == 5)
    });
    for &id in &ids[1..] {
        let got = messages(&d.b_events, id);
        let rounds: Vec<u8> = got
            .iter()
            .map(|p| match p {
                Payload::Binary(b) => b[0],
                _ => 255,
            })
            .collect();
        assert_eq!(rounds, vec![0, 1, 2, 3, 4], "channel {id}");
    }
    assert!(messages(&d.b_events, ids[0]).len() <= 5);
    let incoming = d
        .b_events
        .iter()
        .filter(|e| matches!(e, ChannelEvent::Incoming { .. }))
        .count();
    assert_eq!(incoming, 64);
}

#[test]
fn an_open_with_our_own_parity_is_refused_and_counted() {
    let mut d = Pair::channels(link(0.0), 7);
    // The server sends a DATA_CHANNEL_OPEN on stream 4: even, the
    // client's parity (RFC 8832 §6), so the client must refuse it.
    let mut open = Vec::new();
    meshrtc_sctp::DcepMessage::Open {
        ordered: true,
        reliability: Reliability::Reliable,
        priority: 0,
        label: "evil".into(),
        protocol: String::new(),
    }
    .emit(&mut open);
    d.b.association_mut()
        .send(d.now, 4, ppid::DCEP, &open, true, Reliability::Reliable)
        .unwrap();
    d.run_until(Duration::from_secs(5), |d| d.a.stats().bad_dcep > 0);
    assert_eq!(d.a.stats().bad_dcep, 1);
    assert!(!d
        .a_events
        .iter()
        .any(|e| matches!(e, ChannelEvent::Incoming { .. })));
}

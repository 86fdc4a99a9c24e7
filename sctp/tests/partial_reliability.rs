//! Partial reliability (RFC 3758 FORWARD TSN, RFC 7496 limits) and stream
//! reset (RFC 6525) between two associations over the lossy pipe.
#![allow(missing_docs)]

mod pair;

use std::time::Duration;

use meshrtc_sctp::{Event, Reliability};
use pair::{Link, Pair};

fn lossy(loss: f64) -> Link {
    Link {
        loss,
        duplicate: 0.0,
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(10),
    }
}

fn index(m: &meshrtc_sctp::Message) -> u32 {
    u32::from_be_bytes(m.data[..4].try_into().unwrap())
}

#[test]
fn unreliable_messages_are_abandoned_without_stalling_reliable_ones() {
    let mut p = Pair::connected(lossy(0.2), 21);
    let n = 200u32;
    for i in 0..n {
        let mut data = vec![0u8; 600];
        data[..4].copy_from_slice(&i.to_be_bytes());
        if i % 2 == 0 {
            p.a.send(p.now, 1, 53, &data, false, Reliability::MaxRetransmits(0))
                .unwrap();
        } else {
            p.a.send(p.now, 2, 53, &data, true, Reliability::Reliable)
                .unwrap();
        }
    }
    p.run_until(Duration::from_secs(300), |p| {
        p.messages_at_b()
            .iter()
            .filter(|m| m.stream_id == 2)
            .count()
            == n as usize / 2
    });
    let msgs = p.messages_at_b();
    let reliable: Vec<u32> = msgs
        .iter()
        .filter(|m| m.stream_id == 2)
        .map(|m| index(m))
        .collect();
    assert_eq!(reliable, (0..n).filter(|i| i % 2 == 1).collect::<Vec<_>>());
    let mut unreliable: Vec<u32> = msgs
        .iter()
        .filter(|m| m.stream_id == 1)
        .map(|m| index(m))
        .collect();
    let got = unreliable.len();
    unreliable.sort();
    unreliable.dedup();
    assert_eq!(unreliable.len(), got, "no unreliable message twice");
    assert!(
        got < n as usize / 2,
        "20% loss with no retransmission loses some: {got}"
    );
    assert!(got > n as usize / 4, "most still arrive: {got}");
    let s = p.a.stats();
    assert!(s.abandoned_messages > 0 && s.forward_tsns_sent > 0, "{s:?}");
    // Everything was either delivered or skipped: nothing left in flight.
    p.run_until(Duration::from_secs(30), |p| p.a.flight_size() == 0);
    assert_eq!(p.a.flight_size(), 0);
}

#[test]
fn ordered_messages_with_a_lifetime_are_skipped_in_order() {
    let mut p = Pair::connected(lossy(0.25), 22);
    let n = 150u32;
    for i in 0..n {
        let mut data = vec![0u8; 2500]; // three fragments each
        data[..4].copy_from_slice(&i.to_be_bytes());
        p.a.send(
            p.now,
            3,
            51,
            &data,
            true,
            Reliability::MaxLifetime(Duration::from_millis(150)),
        )
        .unwrap();
    }
    p.run_until(Duration::from_secs(120), |p| {
        p.a.flight_size() == 0 && p.a.buffered_amount(3) == 0
    });
    p.run_until(Duration::from_secs(5), |_| false);
    let got: Vec<u32> = p.messages_at_b().iter().map(|m| index(m)).collect();
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "ordered and never twice: {got:?}"
    );
    assert!(
        got.len() < n as usize && !got.is_empty(),
        "{} of {n}",
        got.len()
    );
    assert!(
        p.messages_at_b().iter().all(|m| m.data.len() == 2500),
        "no partial message delivered"
    );
    assert!(p.a.stats().abandoned_messages > 0);
    // The stream is still usable afterwards, reliably.
    p.a.send(
        p.now,
        3,
        51,
        b"\xff\xff\xff\xfflast",
        true,
        Reliability::Reliable,
    )
    .unwrap();
    p.run_until(Duration::from_secs(60), |p| {
        p.messages_at_b()
            .last()
            .is_some_and(|m| m.data == b"\xff\xff\xff\xfflast")
    });
    assert_eq!(
        p.messages_at_b().last().unwrap().data,
        b"\xff\xff\xff\xfflast"
    );
}

#[test]
fn stream_reset_follows_the_data_and_restarts_ssns() {
    let mut p = Pair::connected(lossy(0.2), 23);
    for i in 0..20u32 {
        p.a.send(p.now, 5, 51, &i.to_be_bytes(), true, Reliability::Reliable)
            .unwrap();
    }
    p.a.reset_streams(&[5]);
    p.run_until(Duration::from_secs(120), |p| {
        p.a_events.contains(&Event::OutgoingStreamsReset(vec![5]))
    });
    // b saw all 20 messages, then the reset, in that order.
    let pos_reset = p
        .b_events
        .iter()
        .position(|e| *e == Event::IncomingStreamsReset(vec![5]))
        .expect("reset reached b");
    let before: Vec<u32> = p.b_events[..pos_reset]
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(index(m)),
            _ => None,
        })
        .collect();
    assert_eq!(before, (0..20).collect::<Vec<_>>());
    assert!(p.a_events.contains(&Event::OutgoingStreamsReset(vec![5])));
    // The stream is reused with SSN 0 and b delivers in order again.
    for i in 100..105u32 {
        p.a.send(p.now, 5, 51, &i.to_be_bytes(), true, Reliability::Reliable)
            .unwrap();
    }
    p.run_until(Duration::from_secs(60), |p| p.messages_at_b().len() == 25);
    let after: Vec<u32> = p.messages_at_b()[20..].iter().map(|m| index(m)).collect();
    assert_eq!(after, (100..105).collect::<Vec<_>>());
}

//! DCEP (RFC 8832) and the data channel layer fed hostile messages: a
//! genuine association carries fuzzed (stream, PPID, payload) messages to a
//! `DataChannels`, interleaved with channel opens, sends and closes on its
//! side. No panic, and every DCEP message that parses is written back and
//! parses to the same message.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use meshrtc_sctp::fuzzing::pump;
use meshrtc_sctp::{ChannelOptions, Config, DataChannels, DcepMessage, Payload, Reliability};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = DcepMessage::parse(data) {
        let mut out = Vec::new();
        m.emit(&mut out);
        assert_eq!(DcepMessage::parse(&out).expect("reparse"), m);
    }
    let mut now = Instant::now();
    let mut a = DataChannels::new(Config::new([1; 32], [2; 32]), true);
    let mut b = DataChannels::new(Config::new([3; 32], [4; 32]), false);
    a.connect(now);
    b.connect(now);
    pump(&mut a, &mut b, now);
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        let len = (tail.first().copied().unwrap_or(0) as usize).min(tail.len().saturating_sub(1));
        let body = tail.get(1..1 + len).unwrap_or(&[]);
        rest = tail.get(1 + len..).unwrap_or(&[]);
        let stream = body.first().copied().unwrap_or(0) as u16 % 8;
        match op % 6 {
            0 | 1 => {
                let ppid = [50, 51, 53, 56, 57, 52][body.get(1).copied().unwrap_or(0) as usize % 6];
                let _ = a.association_mut().send(
                    now,
                    stream,
                    ppid,
                    body.get(2..).unwrap_or(&[]),
                    op & 0x10 == 0,
                    Reliability::Reliable,
                );
            }
            2 => {
                let opts = ChannelOptions {
                    ordered: op & 0x10 == 0,
                    negotiated: (op & 0x20 != 0).then_some(stream),
                    ..Default::default()
                };
                let _ = b.open_channel(now, "f", opts);
            }
            3 => {
                let _ = b.send(now, stream, &Payload::Binary(body.to_vec()));
            }
            4 => {
                let _ = b.close_channel(stream);
            }
            _ => now += Duration::from_millis(body.len() as u64 * 10),
        }
        pump(&mut a, &mut b, now);
        if b.poll_timeout().is_some_and(|t| t <= now) {
            b.handle_timeout(now);
        }
        if a.poll_timeout().is_some_and(|t| t <= now) {
            a.handle_timeout(now);
        }
    }
});

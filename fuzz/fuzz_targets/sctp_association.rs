//! An established SCTP association (under the data channel layer) fed a script of hostile input: raw
//! packets, packets with the right tag and a valid CRC around fuzzed
//! chunks (so they get past the checksum and tag checks), user sends,
//! closes, stream resets and time. No panic; the flight never exceeds what
//! was sent; the next timeout moves past `now` after `handle_timeout`.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use meshrtc_sctp::fuzzing::pump;
use meshrtc_sctp::packet::Packet;
use meshrtc_sctp::{Config, DataChannels, Reliability};

fuzz_target!(|data: &[u8]| {
    let mut now = Instant::now();
    let mut a = DataChannels::new(Config::new([1; 32], [2; 32]), true);
    let mut b = DataChannels::new(Config::new([3; 32], [4; 32]), false);
    a.connect(now);
    pump(&mut a, &mut b, now);
    // The tag b expects on packets from a, learned from a's next packet.
    let _ = a
        .association_mut()
        .send(now, 0, 53, b"x", true, Reliability::Reliable);
    let mut probe = Vec::new();
    let tag = if a.poll_transmit(now, &mut probe) {
        let _ = b.handle_input(now, &probe);
        u32::from_be_bytes([probe[4], probe[5], probe[6], probe[7]])
    } else {
        0
    };
    let mut rest = data;
    let mut buf = Vec::new();
    while let Some((&op, tail)) = rest.split_first() {
        let len = (tail.first().copied().unwrap_or(0) as usize).min(tail.len().saturating_sub(1));
        let body = tail.get(1..1 + len).unwrap_or(&[]);
        rest = tail.get(1 + len..).unwrap_or(&[]);
        match op % 8 {
            0 => {
                let _ = b.handle_input(now, body);
            }
            1 | 2 => {
                // Our header with b's tag and a valid CRC around fuzzed chunks.
                buf.clear();
                buf.extend_from_slice(&5000u16.to_be_bytes());
                buf.extend_from_slice(&5000u16.to_be_bytes());
                buf.extend_from_slice(&tag.to_be_bytes());
                buf.extend_from_slice(&[0; 4]);
                buf.extend_from_slice(body);
                Packet::new_unchecked(&mut buf[..]).fill_checksum();
                let _ = b.handle_input(now, &buf);
            }
            3 => {
                let stream = body.first().copied().unwrap_or(0) as u16 % 4;
                let rel = match body.get(1).copied().unwrap_or(0) % 3 {
                    0 => Reliability::Reliable,
                    1 => Reliability::MaxRetransmits(1),
                    _ => Reliability::MaxLifetime(Duration::from_millis(50)),
                };
                let size = body.len() * 97;
                let _ = b
                    .association_mut()
                    .send(now, stream, 53, &vec![7; size], op & 8 == 0, rel);
            }
            4 => {
                now += Duration::from_millis(body.first().copied().unwrap_or(1) as u64 * 20);
                if b.poll_timeout().is_some_and(|t| t <= now) {
                    b.handle_timeout(now);
                }
                if a.poll_timeout().is_some_and(|t| t <= now) {
                    a.handle_timeout(now);
                }
            }
            5 => pump(&mut a, &mut b, now),
            6 => b
                .association_mut()
                .reset_streams(&[body.first().copied().unwrap_or(0) as u16 % 4]),
            _ => {
                if op & 0x80 != 0 {
                    b.close(now);
                }
            }
        }
        while b.poll_transmit(now, &mut buf) {}
        while b.poll_event().is_some() {}
    }
    // Timers always move forward.
    for _ in 0..8 {
        let Some(t) = b.poll_timeout() else { break };
        now = now.max(t);
        b.handle_timeout(now);
        while b.poll_transmit(now, &mut buf) {}
        while b.poll_event().is_some() {}
        if let Some(next) = b.poll_timeout() {
            assert!(
                next > now || b.poll_timeout() != Some(t),
                "timer stuck at {t:?}"
            );
        }
    }
});

//! I-DATA (RFC 8260) reassembly and I-FORWARD-TSN, fed hostile chunks:
//! two associations negotiate I-DATA, then `b` receives a script of
//! I-DATA chunks near its cumulative TSN (any stream, MID, FSN, flags and
//! size), I-FORWARD-TSNs with any entries, raw chunks, genuine traffic
//! from `a` and time. No panic and no window accounting underflow (debug
//! assertions are on in fuzz builds); no message larger than the largest
//! `b` takes is delivered; `b` keeps using I-DATA until it terminates.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use meshrtc_sctp::chunk::{Chunk, IDataChunk, IForwardEntry};
use meshrtc_sctp::packet::{Packet, PacketRepr};
use meshrtc_sctp::{Association, Config, Event, Reliability, State};

fn pump(a: &mut Association, b: &mut Association, now: Instant, max: usize) {
    let mut buf = Vec::new();
    for _ in 0..64 {
        let mut any = false;
        while a.poll_transmit(now, &mut buf) {
            let _ = b.handle_input(now, &buf);
            any = true;
        }
        while b.poll_transmit(now, &mut buf) {
            let _ = a.handle_input(now, &buf);
            any = true;
        }
        drain(a, max);
        drain(b, max);
        if !any {
            break;
        }
    }
}

fn drain(x: &mut Association, max: usize) {
    while let Some(e) = x.poll_event() {
        if let Event::Message(m) = e {
            assert!(m.data.len() <= max, "oversized message delivered");
        }
    }
}

const MAX: usize = 8192;

fuzz_target!(|data: &[u8]| {
    let mut now = Instant::now();
    let mut ca = Config::new([1; 32], [2; 32]);
    let mut cb = Config::new([3; 32], [4; 32]);
    for c in [&mut ca, &mut cb] {
        c.max_message_size = MAX;
        c.max_receive_message_size = MAX;
        c.receive_window = 64 * 1024;
    }
    let mut a = Association::new(ca);
    let mut b = Association::new(cb);
    a.connect(now);
    b.connect(now);
    pump(&mut a, &mut b, now, MAX);
    assert!(a.interleaving() && b.interleaving());
    // b's tag and next TSN, from a's next packet.
    let _ = a.send(now, 0, 53, b"x", true, Reliability::Reliable);
    let mut probe = Vec::new();
    if !a.poll_transmit(now, &mut probe) {
        return;
    }
    let tag = u32::from_be_bytes([probe[4], probe[5], probe[6], probe[7]]);
    let mut base_tsn = u32::from_be_bytes([probe[16], probe[17], probe[18], probe[19]]);
    let _ = b.handle_input(now, &probe);

    let mut rest = data;
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let wrap = |chunks: Vec<Chunk<'_>>, out: &mut Vec<u8>| {
        out.clear();
        PacketRepr {
            src_port: 5000,
            dst_port: 5000,
            verification_tag: tag,
            chunks,
        }
        .emit(out, false);
    };
    while let Some((&op, tail)) = rest.split_first() {
        let len = (tail.first().copied().unwrap_or(0) as usize).min(tail.len().saturating_sub(1));
        let body = tail.get(1..1 + len).unwrap_or(&[]);
        rest = tail.get(1 + len..).unwrap_or(&[]);
        let byte = |i: usize| body.get(i).copied().unwrap_or(0);
        match op % 6 {
            0 | 1 => {
                // I-DATA near the expected TSN.
                let payload = body.get(6..).unwrap_or(&[]);
                let c = Chunk::IData(IDataChunk {
                    tsn: base_tsn.wrapping_add(byte(0) as u32 % 64),
                    stream_id: byte(1) as u16 % 4,
                    mid: byte(2) as u32 % 8,
                    ppid_or_fsn: byte(3) as u32 % 16,
                    unordered: byte(4) & 4 != 0,
                    beginning: byte(4) & 2 != 0,
                    ending: byte(4) & 1 != 0,
                    immediate: byte(4) & 8 != 0,
                    payload: &payload.repeat(1 + byte(5) as usize % 8),
                });
                wrap(vec![c], &mut out);
                let _ = b.handle_input(now, &out);
                if op & 0x40 != 0 {
                    base_tsn = base_tsn.wrapping_add(1);
                }
            }
            2 => {
                let entries = body
                    .get(1..)
                    .unwrap_or(&[])
                    .chunks(3)
                    .map(|e| IForwardEntry {
                        stream_id: e[0] as u16 % 4,
                        unordered: e.get(1).is_some_and(|u| u & 1 != 0),
                        mid: e.get(2).copied().unwrap_or(0) as u32 % 8,
                    })
                    .collect();
                let c = Chunk::IForwardTsn {
                    new_cum_tsn: base_tsn.wrapping_add(byte(0) as u32 % 32),
                    entries,
                };
                wrap(vec![c], &mut out);
                let _ = b.handle_input(now, &out);
            }
            3 => {
                // Raw chunk bytes after a genuine header and CRC.
                buf.clear();
                buf.extend_from_slice(&5000u16.to_be_bytes());
                buf.extend_from_slice(&5000u16.to_be_bytes());
                buf.extend_from_slice(&tag.to_be_bytes());
                buf.extend_from_slice(&[0; 4]);
                buf.extend_from_slice(body);
                Packet::new_unchecked(&mut buf[..]).fill_checksum();
                let _ = b.handle_input(now, &buf);
            }
            4 => {
                let size = body.len() * 61;
                let stream = byte(0) as u16 % 4;
                let rel = match byte(1) % 3 {
                    0 => Reliability::Reliable,
                    1 => Reliability::MaxRetransmits(0),
                    _ => Reliability::MaxLifetime(Duration::from_millis(30)),
                };
                let _ = a.send(now, stream, 53, &vec![5; size], op & 0x80 == 0, rel);
                pump(&mut a, &mut b, now, MAX);
            }
            _ => {
                now += Duration::from_millis(byte(0) as u64 * 10);
                if b.poll_timeout().is_some_and(|t| t <= now) {
                    b.handle_timeout(now);
                }
                if a.poll_timeout().is_some_and(|t| t <= now) {
                    a.handle_timeout(now);
                }
                pump(&mut a, &mut b, now, MAX);
            }
        }
        while b.poll_transmit(now, &mut buf) {}
        drain(&mut b, MAX);
        assert!(b.interleaving() || b.state() == State::Terminated);
    }
});

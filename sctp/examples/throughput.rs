//! In-memory reliable ordered throughput of two associations back to back
//! (no loss, no latency: the virtual clock only advances for timers), and
//! the CPU time per megabyte.
//!
//! `cargo run --release -p meshrtc-sctp --example throughput [MEGABYTES]`

use std::time::{Duration, Instant};

use meshrtc_sctp::{Association, Config, Event, Reliability};

fn main() {
    let megabytes: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let message = vec![0x5au8; 64 * 1024];
    let total = megabytes * 1024 * 1024;
    let mut now = Instant::now();
    let mut a = Association::new(Config::new([1; 32], [2; 32]));
    let mut b = Association::new(Config::new([3; 32], [4; 32]));
    a.connect(now);
    b.connect(now);
    let mut buf = Vec::new();
    let mut queued = 0usize;
    let mut received = 0usize;
    let wall = Instant::now();
    while received < total {
        while queued < total && a.buffered_amount(0) < 1024 * 1024 && a.is_established() {
            a.send(now, 0, 53, &message, true, Reliability::Reliable)
                .expect("send");
            queued += message.len();
        }
        let mut moved = false;
        while a.poll_transmit(now, &mut buf) {
            b.handle_input(now, &buf).expect("a's packet");
            moved = true;
        }
        while b.poll_transmit(now, &mut buf) {
            a.handle_input(now, &buf).expect("b's packet");
            moved = true;
        }
        while let Some(e) = b.poll_event() {
            if let Event::Message(m) = e {
                received += m.data.len();
            }
        }
        while a.poll_event().is_some() {}
        if !moved {
            // Only timers (the delayed SACK) can make progress: jump to them.
            let t = [a.poll_timeout(), b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            now = t.unwrap_or(now + Duration::from_millis(1)).max(now);
            a.handle_timeout(now);
            b.handle_timeout(now);
        }
    }
    let secs = wall.elapsed().as_secs_f64();
    println!(
        "{megabytes} MB in {secs:.3} s: {:.0} MB/s, {:.2} ms of CPU per MB (both ends, one thread); {} retransmissions",
        megabytes as f64 / secs,
        secs * 1000.0 / megabytes as f64,
        a.stats().retransmissions
    );
}

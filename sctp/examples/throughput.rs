//! In-memory reliable ordered throughput of two associations back to back
//! (no loss, no latency: the virtual clock only advances for timers), per
//! second of CPU time, and the CPU time per megabyte.
//!
//! `cargo run --release -p meshrtc-sctp --example throughput [MEGABYTES]`

use std::time::{Duration, Instant};

use meshrtc_sctp::{Association, Config, Event, Reliability};

/// This thread's time on a CPU (Linux `/proc/thread-self/schedstat`), which
/// a loaded machine does not inflate the way it inflates wall time.
fn cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

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
    let cpu_start = cpu_time();
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
    let cpu = cpu_time()
        .zip(cpu_start)
        .map(|(end, start)| (end - start).as_secs_f64());
    let cpu_secs = cpu.unwrap_or(secs);
    println!(
        "{megabytes} MB in {secs:.3} s wall, {cpu_secs:.3} s CPU: {:.0} MB/s of CPU time, {:.2} ms of CPU per MB (both ends, one thread); {} retransmissions",
        megabytes as f64 / cpu_secs,
        cpu_secs * 1000.0 / megabytes as f64,
        a.stats().retransmissions
    );
}

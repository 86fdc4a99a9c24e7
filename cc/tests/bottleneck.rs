//! The controller and pacer driving video through a simulated bottleneck.
//!
//! The model, stepped in 1 ms ticks: a 30 fps video source encodes each
//! frame at the current target into 1200-byte packets and queues them in
//! the pacer; what the pacer releases enters a FIFO bottleneck of rate R
//! with a queue limit (tail drop) and optional random loss (seeded
//! xorshift), then 25 ms of propagation. The receiver sends transport
//! feedback every 100 ms, which takes 25 ms back. Capacity changes follow a
//! schedule. Figures are printed with `eprintln!` for the record.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use meshrtc_cc::{
    Config, CongestionController, Pacer, PacerConfig, PacketClass, PacketResult, Payload,
    SentPacket,
};

const PROPAGATION: f64 = 0.025;
const FEEDBACK_INTERVAL: f64 = 0.100;
const FPS: f64 = 30.0;
const MTU: usize = 1200;
const TICK: f64 = 0.001;

struct Scenario {
    /// (from second, capacity bit/s)
    capacity: Vec<(f64, f64)>,
    queue_limit: f64,
    loss: f64,
    duration: f64,
    config: Config,
    /// The sender's real rate over its target (an encoder that overshoots,
    /// overheads it does not count): 1.0 follows the target exactly.
    overshoot: f64,
    /// A `tc tbf`-like shaper instead of the plain FIFO: its bucket in
    /// bytes (sent at once when full), the queue limit then being what
    /// `queue_limit` seconds drain plus the bucket, as `tbf` computes it.
    /// `None`: the FIFO.
    tbf_burst: Option<f64>,
    /// One-way propagation, seconds.
    propagation: f64,
    /// A call as the applications send it: an Opus stream (50 packets of
    /// 148 bytes a second) first, the video encoder aiming at 85% of what
    /// the target leaves (`meshrtc_peer::video_encoder_target`).
    audio: bool,
    /// A loss-based flow sharing the bottleneck from this second on: a
    /// rate form of TCP's AIMD (`competitor_alpha` 1500-byte packets more
    /// per round trip each round trip, times `competitor_beta` at most
    /// once a round trip when one of its packets is dropped).
    competitor_from: Option<f64>,
    /// Reno's 1 and 0.5 (RFC 5681); CUBIC's in its Reno-friendly region,
    /// where a small link's window stays (RFC 9438 §4.3, §4.6): 0.53
    /// and 0.7.
    competitor_alpha: f64,
    competitor_beta: f64,
    /// When the call's first frame is sent, seconds (a call that joins a
    /// link the competitor already fills).
    call_from: f64,
}

impl Scenario {
    /// A steady link of `capacity` with a 300 ms queue, video only.
    fn steady(capacity: f64, duration: f64) -> Scenario {
        Scenario {
            capacity: vec![(0.0, capacity)],
            queue_limit: 0.3,
            loss: 0.0,
            duration,
            config: config(300_000),
            overshoot: 1.0,
            tbf_burst: None,
            propagation: PROPAGATION,
            audio: false,
            competitor_from: None,
            competitor_alpha: 1.0,
            competitor_beta: 0.5,
            call_from: 0.0,
        }
    }
}

/// What an Opus packet weighs on the wire, bytes (see `audio`).
const AUDIO_PACKET: usize = 148;
/// The applications' allowance for audio, bit/s.
const AUDIO_ALLOWANCE: f64 = 60_000.0;

/// The token bucket of `tc tbf`: packets leave at once while the bucket
/// holds their size, otherwise when it has refilled; the backlog is
/// limited in bytes.
struct TokenBucket {
    tokens: f64,
    burst: f64,
    /// Departure of the last packet accepted.
    last_departure: f64,
    /// (departure, bytes) of packets still queued.
    queued: VecDeque<(f64, usize)>,
    limit: f64,
}

impl TokenBucket {
    /// `Some(departure)`, or `None` when the backlog is full (tail drop).
    fn offer(&mut self, t: f64, size: usize, rate_bytes: f64) -> Option<f64> {
        while self.queued.front().is_some_and(|q| q.0 <= t) {
            self.queued.pop_front();
        }
        let backlog: usize = self.queued.iter().map(|q| q.1).sum();
        if (backlog + size) as f64 > self.limit {
            return None;
        }
        let start = t.max(self.last_departure);
        let tokens = (self.tokens + (start - self.last_departure) * rate_bytes).min(self.burst);
        let (depart, left) = if tokens >= size as f64 {
            (start, tokens - size as f64)
        } else {
            (start + (size as f64 - tokens) / rate_bytes, 0.0)
        };
        self.tokens = left;
        self.last_departure = depart;
        self.queued.push_back((depart, size));
        Some(depart)
    }
}

#[derive(Default)]
struct Trace {
    /// (time, target) every 10 ms.
    targets: Vec<(f64, u64)>,
    /// (departure from the bottleneck, bytes).
    delivered: Vec<(f64, usize)>,
    /// (departure, time waited in the bottleneck queue).
    waits: Vec<(f64, f64)>,
    dropped: usize,
    probes: u64,
    /// (departure, bytes) of the competitor's packets.
    competitor: Vec<(f64, usize)>,
}

struct Xorshift(u64);

impl Xorshift {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn capacity_at(s: &Scenario, t: f64) -> f64 {
    s.capacity
        .iter()
        .rev()
        .find(|(from, _)| t >= *from)
        .map_or(s.capacity[0].1, |&(_, r)| r)
}

fn run(s: &Scenario) -> Trace {
    let t0 = Instant::now();
    let at = |t: f64| t0 + Duration::from_secs_f64(t);
    let receiver_origin = Duration::from_secs(1000);

    let mut cc = CongestionController::new(s.config);
    let mut pacer: Pacer<usize> = Pacer::new(PacerConfig::default());
    let mut rng = Xorshift(0x9e37_79b9_7f4a_7c15);
    let mut trace = Trace::default();

    let mut sent_at: Vec<f64> = Vec::new();
    let mut link_busy_until = 0.0f64;
    let mut tbf = s.tbf_burst.map(|burst| TokenBucket {
        tokens: burst,
        burst,
        last_departure: 0.0,
        queued: VecDeque::new(),
        limit: capacity_at(s, 0.0) / 8.0 * s.queue_limit + burst,
    });
    let mut next_audio = s.call_from;
    // (delivery time at the receiver, seq)
    let mut in_flight: VecDeque<(f64, u64)> = VecDeque::new();
    // receiver state
    let mut arrivals: Vec<Option<f64>> = Vec::new();
    let mut next_report = 0u64;
    let mut next_feedback = FEEDBACK_INTERVAL;
    // (arrival at the sender, results, rtt)
    let mut feedback_in_flight: VecDeque<(f64, Vec<PacketResult>, f64)> = VecDeque::new();
    let mut next_frame = s.call_from;
    // The competitor: rate, byte credit, last halving.
    let mut cross = (100_000.0f64, 0.0f64, f64::NEG_INFINITY);

    let ticks = (s.duration / TICK) as u64;
    for tick in 0..=ticks {
        let t = tick as f64 * TICK;
        let now = at(t);

        // Feedback reaching the sender.
        while feedback_in_flight.front().is_some_and(|f| f.0 <= t) {
            let (_, results, rtt) = feedback_in_flight.pop_front().unwrap();
            cc.on_rtt(now, Duration::from_secs_f64(rtt));
            cc.on_feedback(now, &results);
        }
        if cc.poll_timeout().is_some_and(|d| d <= now) {
            cc.handle_timeout(now);
        }
        while let Some(cluster) = cc.poll_probe() {
            pacer.start_probe(cluster);
        }

        if s.competitor_from.is_some_and(|from| t >= from) {
            const MSS: f64 = 1500.0;
            let queued = match &tbf {
                Some(b) => b.last_departure - t,
                None => link_busy_until - t,
            };
            let rtt = (2.0 * s.propagation + queued.max(0.0)).max(0.005);
            cross.0 += s.competitor_alpha * MSS * 8.0 / (rtt * rtt) * TICK;
            cross.1 += cross.0 * TICK / 8.0;
            while cross.1 >= MSS {
                cross.1 -= MSS;
                let departure = match &mut tbf {
                    Some(b) => b.offer(t, MSS as usize, capacity_at(s, t) / 8.0),
                    None => {
                        let start = t.max(link_busy_until);
                        (start - t <= s.queue_limit)
                            .then(|| start + MSS * 8.0 / capacity_at(s, start))
                    }
                };
                let Some(departure) = departure else {
                    if t - cross.2 > rtt {
                        cross.0 = (cross.0 * s.competitor_beta).max(MSS * 8.0 / rtt);
                        cross.2 = t;
                    }
                    continue;
                };
                link_busy_until = link_busy_until.max(departure);
                trace.competitor.push((departure, MSS as usize));
            }
        }

        // The encoder produces a frame at the current target.
        if t >= next_frame {
            next_frame += 1.0 / FPS;
            let target = cc.target_bitrate() as f64;
            let video = if s.audio {
                ((target - AUDIO_ALLOWANCE).max(0.0) * 0.85).max(30_000.0)
            } else {
                target
            };
            let mut bytes = (video * s.overshoot / FPS / 8.0) as usize;
            while bytes > 0 {
                let size = bytes.min(MTU);
                bytes -= size;
                pacer.enqueue(now, PacketClass::Video, size, size).unwrap();
            }
        }

        if s.audio && t >= next_audio {
            next_audio += 0.020;
            pacer
                .enqueue(now, PacketClass::Audio, AUDIO_PACKET, AUDIO_PACKET)
                .unwrap();
        }

        pacer.set_rates(cc.pacing_rate(), cc.padding_rate());
        while let Some(release) = (t >= s.call_from).then(|| pacer.poll_send(now)).flatten() {
            let size = match release.payload {
                Payload::Media { item, .. } => item,
                Payload::Padding { size } => size,
            };
            let seq = sent_at.len() as u64;
            sent_at.push(t);
            arrivals.push(None);
            cc.on_packet_sent(SentPacket {
                seq,
                size,
                sent_at: now,
                probe_cluster: release.probe_cluster,
            });
            // The bottleneck.
            if s.loss > 0.0 && rng.next_f64() < s.loss {
                trace.dropped += 1;
                continue;
            }
            let (depart, wait) = if let Some(b) = &mut tbf {
                match b.offer(t, size, capacity_at(s, t) / 8.0) {
                    Some(d) => (d, d - t),
                    None => {
                        trace.dropped += 1;
                        continue;
                    }
                }
            } else {
                let start = t.max(link_busy_until);
                if start - t > s.queue_limit {
                    trace.dropped += 1;
                    continue;
                }
                (start + size as f64 * 8.0 / capacity_at(s, start), start - t)
            };
            link_busy_until = link_busy_until.max(depart);
            trace.delivered.push((depart, size));
            trace.waits.push((depart, wait));
            in_flight.push_back((depart + s.propagation, seq));
        }

        // The receiver.
        while in_flight.front().is_some_and(|p| p.0 <= t) {
            let (arrival, seq) = in_flight.pop_front().unwrap();
            arrivals[seq as usize] = Some(arrival);
        }
        if t >= next_feedback {
            next_feedback += FEEDBACK_INTERVAL;
            let highest = arrivals.iter().rposition(|a| a.is_some());
            if let Some(highest) = highest.filter(|&h| h as u64 >= next_report) {
                let results: Vec<PacketResult> = (next_report..=highest as u64)
                    .map(|seq| PacketResult {
                        seq,
                        arrival: arrivals[seq as usize]
                            .map(|a| receiver_origin + Duration::from_secs_f64(a)),
                    })
                    .collect();
                let last = highest;
                let rtt = arrivals[last].unwrap() - sent_at[last] + s.propagation;
                next_report = highest as u64 + 1;
                feedback_in_flight.push_back((t + s.propagation, results, rtt));
            }
        }

        if std::env::var("CC_DEBUG").is_ok() && tick % 100 == 0 {
            let st = cc.state();
            eprintln!(
                "t={t:.1} target={} delay={} loss={} acked={:?} {:?} {:?} trend={:.1} th={:.1} lossf={:.3} q={:.0}ms pq={} qd={:?} competing={} cross={:.0}",
                st.target, st.delay_based, st.loss_based, st.acked_bitrate, st.delay_state,
                st.rate_control, st.trend, st.threshold, st.loss_fraction,
                (link_busy_until - t).max(0.0) * 1000.0, pacer.len(),
                st.queue_delay, st.competing, cross.0
            );
        }
        if tick % 10 == 0 {
            trace.targets.push((t, cc.target_bitrate()));
        }
    }
    trace.probes = cc.state().probes;
    trace
}

/// Mean target over the second before each sample.
fn smoothed_targets(trace: &Trace) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let mut sum = 0.0;
    let mut window: VecDeque<f64> = VecDeque::new();
    for &(t, v) in &trace.targets {
        window.push_back(v as f64);
        sum += v as f64;
        if window.len() > 100 {
            sum -= window.pop_front().unwrap();
        }
        out.push((t, sum / window.len() as f64));
    }
    out
}

/// Seconds after `from` until the one-second mean target enters and stays
/// within ±`tolerance` of `capacity` until `to`.
fn convergence_time(trace: &Trace, from: f64, to: f64, capacity: f64, tolerance: f64) -> f64 {
    let smoothed = smoothed_targets(trace);
    let mut since = None;
    for &(t, v) in smoothed.iter().filter(|(t, _)| *t >= from && *t < to) {
        let inside = (v - capacity).abs() <= tolerance * capacity;
        match (inside, since) {
            (true, None) => since = Some(t),
            (false, _) => since = None,
            _ => {}
        }
    }
    since.map_or(f64::INFINITY, |s| s - from)
}

/// The competing flow's share of the link from `from` to `to`.
fn competitor_utilisation(trace: &Trace, from: f64, to: f64, capacity: f64) -> f64 {
    trace
        .competitor
        .iter()
        .filter(|(t, _)| (from..to).contains(t))
        .map(|(_, b)| b)
        .sum::<usize>() as f64
        * 8.0
        / (to - from)
        / capacity
}

fn utilisation(trace: &Trace, from: f64, to: f64, capacity: f64) -> f64 {
    let bytes: usize = trace
        .delivered
        .iter()
        .filter(|(t, _)| *t >= from && *t < to)
        .map(|(_, b)| b)
        .sum();
    bytes as f64 * 8.0 / (capacity * (to - from))
}

fn wait_percentile(trace: &Trace, from: f64, to: f64, p: f64) -> f64 {
    let mut w: Vec<f64> = trace
        .waits
        .iter()
        .filter(|(t, _)| *t >= from && *t < to)
        .map(|(_, w)| *w)
        .collect();
    w.sort_by(|a, b| a.total_cmp(b));
    w[((w.len() - 1) as f64 * p).round() as usize]
}

fn mean_target(trace: &Trace, from: f64, to: f64) -> f64 {
    let v: Vec<f64> = trace
        .targets
        .iter()
        .filter(|(t, _)| *t >= from && *t < to)
        .map(|(_, v)| *v as f64)
        .collect();
    v.iter().sum::<f64>() / v.len() as f64
}

fn min_target(trace: &Trace, from: f64, to: f64) -> u64 {
    trace
        .targets
        .iter()
        .filter(|(t, _)| *t >= from && *t < to)
        .map(|(_, v)| *v)
        .min()
        .unwrap()
}

fn config(start: u64) -> Config {
    Config {
        start_bitrate: start,
        min_bitrate: 30_000,
        max_bitrate: 5_000_000,
    }
}

#[test]
fn converges_within_five_seconds_after_capacity_drops() {
    let s = Scenario {
        capacity: vec![(0.0, 2_500_000.0), (15.0, 600_000.0)],
        queue_limit: 0.3,
        loss: 0.0,
        duration: 25.0,
        config: config(300_000),
        overshoot: 1.0,
        tbf_burst: None,
        propagation: PROPAGATION,
        audio: false,
        competitor_from: None,
        competitor_alpha: 1.0,
        competitor_beta: 0.5,
        call_from: 0.0,
    };
    let trace = run(&s);
    let start = convergence_time(&trace, 0.0, 15.0, 2_500_000.0, 0.15);
    let after_drop = convergence_time(&trace, 15.0, 25.0, 600_000.0, 0.15);
    let p95 = wait_percentile(&trace, 20.0, 25.0, 0.95);
    eprintln!(
        "drop 2.5 -> 0.6 Mbit/s: start convergence {start:.2} s, after drop {after_drop:.2} s, \
         mean target 20-25 s {:.0} bit/s, util {:.1} %, queue p95 {:.1} ms, probes {}",
        mean_target(&trace, 20.0, 25.0),
        100.0 * utilisation(&trace, 20.0, 25.0, 600_000.0),
        p95 * 1000.0,
        trace.probes
    );
    assert!(after_drop <= 5.0, "{after_drop}");
}

#[test]
fn converges_within_ten_seconds_after_capacity_rises() {
    for high in [1_000_000.0, 2_500_000.0] {
        let s = Scenario {
            capacity: vec![(0.0, 600_000.0), (12.0, high)],
            queue_limit: 0.3,
            loss: 0.0,
            duration: 27.0,
            config: config(300_000),
            overshoot: 1.0,
            tbf_burst: None,
            propagation: PROPAGATION,
            audio: false,
            competitor_from: None,
            competitor_alpha: 1.0,
            competitor_beta: 0.5,
            call_from: 0.0,
        };
        let trace = run(&s);
        let before = convergence_time(&trace, 0.0, 12.0, 600_000.0, 0.15);
        let after = convergence_time(&trace, 12.0, 27.0, high, 0.15);
        eprintln!(
            "rise 0.6 -> {:.1} Mbit/s: initial convergence {before:.2} s, after rise {after:.2} s, \
             mean target 22-27 s {:.0} bit/s, util {:.1} %",
            high / 1e6,
            mean_target(&trace, 22.0, 27.0),
            100.0 * utilisation(&trace, 22.0, 27.0, high),
        );
        assert!(after <= 10.0, "{high}: {after}");
    }
}

#[test]
fn steady_link_is_used_at_ninety_percent_with_short_queues() {
    let s = Scenario {
        capacity: vec![(0.0, 1_000_000.0)],
        queue_limit: 0.3,
        loss: 0.0,
        duration: 30.0,
        config: config(300_000),
        overshoot: 1.0,
        tbf_burst: None,
        propagation: PROPAGATION,
        audio: false,
        competitor_from: None,
        competitor_alpha: 1.0,
        competitor_beta: 0.5,
        call_from: 0.0,
    };
    let trace = run(&s);
    let util = utilisation(&trace, 10.0, 30.0, 1_000_000.0);
    let p50 = wait_percentile(&trace, 10.0, 30.0, 0.5);
    let p95 = wait_percentile(&trace, 10.0, 30.0, 0.95);
    eprintln!(
        "steady 1 Mbit/s: util {:.1} %, queue p50 {:.1} ms p95 {:.1} ms, mean target {:.0}, \
         convergence {:.2} s, drops {}",
        util * 100.0,
        p50 * 1000.0,
        p95 * 1000.0,
        mean_target(&trace, 10.0, 30.0),
        convergence_time(&trace, 0.0, 30.0, 1_000_000.0, 0.15),
        trace.dropped
    );
    assert!(util >= 0.90, "{util}");
    assert!(p95 < 0.100, "{p95}");
}

#[test]
fn slow_link_with_short_queue_settles_below_capacity() {
    let s = Scenario {
        capacity: vec![(0.0, 150_000.0)],
        queue_limit: 0.3,
        loss: 0.0,
        duration: 30.0,
        config: config(300_000),
        overshoot: 1.0,
        tbf_burst: None,
        propagation: PROPAGATION,
        audio: false,
        competitor_from: None,
        competitor_alpha: 1.0,
        competitor_beta: 0.5,
        call_from: 0.0,
    };
    let trace = run(&s);
    let mean = mean_target(&trace, 10.0, 30.0);
    let p50 = wait_percentile(&trace, 10.0, 30.0, 0.5);
    let p95 = wait_percentile(&trace, 10.0, 30.0, 0.95);
    let util = utilisation(&trace, 10.0, 30.0, 150_000.0);
    eprintln!(
        "150 kbit/s, 300 ms queue: mean target {mean:.0}, util {:.1} %, queue p50 {:.1} ms \
         p95 {:.1} ms, drops {}",
        util * 100.0,
        p50 * 1000.0,
        p95 * 1000.0,
        trace.dropped
    );
    assert!(mean < 150_000.0, "{mean}");
    assert!(p95 < 0.100, "{p95}");
}

#[test]
fn two_percent_random_loss_does_not_collapse_the_rate() {
    let s = Scenario {
        capacity: vec![(0.0, 1_000_000.0)],
        queue_limit: 0.3,
        loss: 0.02,
        duration: 30.0,
        config: config(300_000),
        overshoot: 1.0,
        tbf_burst: None,
        propagation: PROPAGATION,
        audio: false,
        competitor_from: None,
        competitor_alpha: 1.0,
        competitor_beta: 0.5,
        call_from: 0.0,
    };
    let trace = run(&s);
    let min = min_target(&trace, 10.0, 30.0);
    let mean = mean_target(&trace, 10.0, 30.0);
    eprintln!(
        "1 Mbit/s with 2 % loss: min target 10-30 s {min}, mean {mean:.0}, util {:.1} %, \
         drops {}",
        100.0 * utilisation(&trace, 10.0, 30.0, 1_000_000.0),
        trace.dropped
    );
    assert!(min > 500_000, "{min}");
}

/// A sender whose real rate is 15% over its target (libvpx's overshoot
/// limit; audio and packet overheads the encoder's target leaves out) fills
/// the queue once and keeps it full: no trend, few drops. The standing
/// queue detector (`queue_delay`) drains it.
#[test]
fn a_sender_overshooting_its_target_does_not_keep_a_standing_queue() {
    let s = Scenario {
        capacity: vec![(0.0, 1_000_000.0)],
        queue_limit: 0.3,
        loss: 0.0,
        duration: 30.0,
        config: config(300_000),
        overshoot: 1.15,
        tbf_burst: None,
        propagation: PROPAGATION,
        audio: false,
        competitor_from: None,
        competitor_alpha: 1.0,
        competitor_beta: 0.5,
        call_from: 0.0,
    };
    let trace = run(&s);
    let util = utilisation(&trace, 10.0, 30.0, 1_000_000.0);
    let p50 = wait_percentile(&trace, 10.0, 30.0, 0.5);
    let p95 = wait_percentile(&trace, 10.0, 30.0, 0.95);
    eprintln!(
        "1 Mbit/s, sender 15% over target: util {:.1} %, queue p50 {:.1} ms p95 {:.1} ms, \
         mean target {:.0}, drops {}",
        util * 100.0,
        p50 * 1000.0,
        p95 * 1000.0,
        mean_target(&trace, 10.0, 30.0),
        trace.dropped
    );
    assert!(util >= 0.85, "{util}");
    assert!(p95 < 0.100, "{p95}");
}

/// A call (audio and video) through `tc tbf` as `scripts/shaped-call`
/// shapes it: a 6 KB bucket, a 300 ms queue, a link of `rate` with 1 ms of
/// round trip.
fn tbf_call(rate: f64, duration: f64) -> Scenario {
    Scenario {
        tbf_burst: Some(6144.0),
        propagation: 0.0005,
        audio: true,
        ..Scenario::steady(rate, duration)
    }
}

/// The token bucket delivers its burst at once: a short window of
/// arrivals reads above the link and a short probe cluster passes at line
/// rate. Neither may push the converged rate over the link: once settled,
/// no second's queuing delay p95 reaches 100 ms and the link stays used.
#[test]
fn a_call_through_a_tbf_link_stays_off_its_queue() {
    for rate in [150_000.0, 300_000.0] {
        let trace = run(&tbf_call(rate, 40.0));
        let util = utilisation(&trace, 10.0, 40.0, rate);
        let p50 = wait_percentile(&trace, 10.0, 40.0, 0.5);
        let p95 = wait_percentile(&trace, 10.0, 40.0, 0.95);
        let worst = (10..40)
            .map(|t| wait_percentile(&trace, t as f64, t as f64 + 1.0, 0.95))
            .fold(0.0, f64::max);
        eprintln!(
            "tbf {rate}: util {:.1} %, queue p50 {:.1} ms p95 {:.1} ms worst second's p95 \
             {:.1} ms, mean target {:.0}, drops {}, probes {}",
            util * 100.0,
            p50 * 1000.0,
            p95 * 1000.0,
            worst * 1000.0,
            mean_target(&trace, 10.0, 40.0),
            trace.dropped,
            trace.probes
        );
        assert!(worst < 0.100, "{rate}: {worst}");
        assert!(util >= 0.90, "{rate}: {util}");
    }
}

/// RFC 8867 §5.6 on the model: a long loss-based flow (TCP's AIMD in rate
/// form) joins a 1 Mbit/s FIFO with a 300 ms queue at 5 s and keeps it
/// full. Its queue is not ours to drain (`queue_delay`'s competing flow):
/// the call keeps a share instead of backing off to its minimum (3.9% of
/// the link before the competing mode; about 21% with its first form,
/// 24% since it backs off at a queue near the buffer's depth, counts a
/// loss event only once regrown and is no longer held by the loss bound;
/// 44% since session 12, where its decrease is from the rate, its
/// increase counted in TCP segments and "full" 0.8 of the depth).
#[test]
fn a_competing_loss_based_flow_does_not_starve_the_call() {
    let s = Scenario {
        competitor_from: Some(5.0),
        ..Scenario::steady(1_000_000.0, 40.0)
    };
    let trace = run(&s);
    let ours = utilisation(&trace, 20.0, 40.0, 1_000_000.0);
    let theirs = competitor_utilisation(&trace, 20.0, 40.0, 1_000_000.0);
    eprintln!(
        "1 Mbit/s FIFO with a loss-based flow from 5 s: call {:.1} %, competitor {:.1} % of \
         the link (20-40 s), mean target {:.0}, lowest {}",
        ours * 100.0,
        theirs * 100.0,
        mean_target(&trace, 20.0, 40.0),
        min_target(&trace, 20.0, 40.0)
    );
    assert!(ours >= 0.35, "{ours}");
    assert!(theirs >= 0.4, "{theirs}");
}

/// The same on the model of `scripts/shaped-call --tcp --router`: a call
/// (audio and video) and a loss-based flow as Linux's CUBIC behaves on a
/// small link (its Reno-friendly region, RFC 9438 §4.3), started
/// together, through a `tbf` with a 300 ms queue limited in bytes, so
/// that the competitor's 1500-byte packets are dropped where the call's
/// smaller ones may still fit. The call gets within 0.15 of a fair half
/// of what the two get (measured 0.56, 0.41, 0.37 and 0.36 at 150 kbit/s,
/// 300 kbit/s, 1 and 2 Mbit/s; 0.56, 0.33, 0.15 and 0.10 before the
/// competing decrease was taken from the rate, the increase counted in
/// TCP segments and the buffer taken as full at 0.8 of its depth,
/// BENCHMARKS.md).
#[test]
fn a_call_and_a_loss_based_flow_started_together_share_a_tbf_link_fairly() {
    for rate in [150_000.0, 300_000.0, 1_000_000.0, 2_000_000.0] {
        let share = tbf_share_with_a_cubic_flow(rate, 0.0);
        assert!((0.35..=0.65).contains(&share), "{rate}: {share}");
    }
}

/// A call that joins a link the loss-based flow already fills (the
/// call's first packet 1 s after the flow's) never sees the queue empty,
/// so its base one-way delay includes the competitor's standing queue:
/// the queuing delay it measures swings between 15 and 110 ms where the
/// real one is 300-450 ms. The quiet criteria's stands last through dips
/// shorter than `STAND_GAP`, and competing mode comes on, but late (13 s
/// at 2 Mbit/s), and the call is still growing towards its share at 40 s:
/// 0.34, 0.26 and 0.28 of 10-40 s at 300 kbit/s, 1 and 2 Mbit/s (0.30,
/// 0.16 and 0.28 when any dip ended every stand; 0.30, 0.10 and 0.11
/// before session 12's competing changes). Short of a fair half: this
/// asserts what holds.
#[test]
fn a_call_joining_a_link_a_loss_based_flow_fills_keeps_a_share() {
    for rate in [300_000.0, 1_000_000.0, 2_000_000.0] {
        let share = tbf_share_with_a_cubic_flow(rate, 1.0);
        assert!(share >= 0.2, "{rate}: {share}");
    }
}

/// The call's share of what it and a CUBIC-like flow from 0 s got through
/// a `tbf` link of `rate` from 10 to 40 s, the call starting at
/// `call_from`.
fn tbf_share_with_a_cubic_flow(rate: f64, call_from: f64) -> f64 {
    let mut s = Scenario {
        competitor_from: Some(0.0),
        competitor_alpha: 3.0 * 0.3 / 1.7,
        competitor_beta: 0.7,
        call_from,
        ..tbf_call(rate, 40.0)
    };
    // The floor `PeerConnection` gives its controller.
    s.config.min_bitrate = 50_000;
    let trace = run(&s);
    let ours = utilisation(&trace, 10.0, 40.0, rate);
    let theirs = competitor_utilisation(&trace, 10.0, 40.0, rate);
    let share = ours / (ours + theirs);
    eprintln!(
        "{rate} bit/s tbf, a CUBIC-like flow from 0 s, the call from {call_from} s: call \
         {:.1} %, competitor {:.1} % of the link (10-40 s), share {share:.2}, mean target \
         {:.0}, lowest {}",
        ours * 100.0,
        theirs * 100.0,
        mean_target(&trace, 10.0, 40.0),
        min_target(&trace, 10.0, 40.0)
    );
    assert!(ours + theirs >= 0.9, "{rate}: {}", ours + theirs);
    share
}

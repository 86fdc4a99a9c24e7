//! What a probe cluster showed: the rate the path delivered it at.
//!
//! For each cluster, the send rate is the bytes sent after the first
//! packet over the send span, and the receive rate the bytes received after
//! the first arrival over the arrival span (the first packet only opens each
//! span). The path carried at least the smaller of the two. When the
//! receive rate is clearly below the send rate (under 90 %) the cluster
//! filled the bottleneck, and 95 % of the receive rate is taken: the
//! bottleneck's rate with a little headroom. Clusters with fewer than 80 %
//! of their packets or bytes acknowledged say too little and are ignored, as
//! are implausible ones (receive rate above twice the send rate, spans
//! longer than a second).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::feedback::AckedPacket;
use crate::probe::ProbeCluster;

/// Fraction of a cluster's packets and bytes that must be acknowledged.
pub const MIN_ACKED_FRACTION: f64 = 0.8;
/// Receive/send ratio below which the cluster saturated the path.
pub const SATURATED_RATIO: f64 = 0.9;
/// Share of the receive rate taken from a saturated cluster.
pub const SATURATED_UTILISATION: f64 = 0.95;
/// Clusters remembered.
const MAX_CLUSTERS: usize = 16;
/// Longest plausible span of a cluster.
const MAX_SPAN: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
struct Stats {
    cluster: ProbeCluster,
    packets: usize,
    bytes: usize,
    first_send: Option<(Instant, usize)>,
    last_send: Option<Instant>,
    first_arrival: Option<(Duration, usize)>,
    last_arrival: Option<Duration>,
}

/// Accumulates acknowledged probe packets per cluster.
#[derive(Debug, Default)]
pub struct ProbeEstimator {
    clusters: BTreeMap<u32, Stats>,
}

impl ProbeEstimator {
    /// An estimator that knows no cluster.
    pub fn new() -> Self {
        Self::default()
    }

    /// A cluster was handed to the pacer; its packets will be counted.
    pub fn on_cluster(&mut self, cluster: ProbeCluster) {
        self.clusters.insert(
            cluster.id,
            Stats {
                cluster,
                packets: 0,
                bytes: 0,
                first_send: None,
                last_send: None,
                first_arrival: None,
                last_arrival: None,
            },
        );
        while self.clusters.len() > MAX_CLUSTERS {
            self.clusters.pop_first();
        }
    }

    /// One acknowledged packet. Returns the cluster's estimate, bit/s, when
    /// it has enough packets for one.
    pub fn on_packet(&mut self, p: &AckedPacket) -> Option<u64> {
        let id = p.probe_cluster?;
        let s = self.clusters.get_mut(&id)?;
        s.packets += 1;
        s.bytes += p.size;
        if s.first_send.is_none_or(|(t, _)| p.sent_at < t) {
            s.first_send = Some((p.sent_at, p.size));
        }
        if s.last_send.is_none_or(|t| p.sent_at > t) {
            s.last_send = Some(p.sent_at);
        }
        if s.first_arrival.is_none_or(|(t, _)| p.arrival < t) {
            s.first_arrival = Some((p.arrival, p.size));
        }
        if s.last_arrival.is_none_or(|t| p.arrival > t) {
            s.last_arrival = Some(p.arrival);
        }
        estimate(s)
    }
}

fn estimate(s: &Stats) -> Option<u64> {
    let c = &s.cluster;
    if (s.packets as f64) < MIN_ACKED_FRACTION * c.min_packets as f64
        || (s.bytes as f64) < MIN_ACKED_FRACTION * c.min_bytes as f64
    {
        return None;
    }
    let (first_send, first_send_size) = s.first_send?;
    let send_span = s.last_send? - first_send;
    let (first_arrival, first_arrival_size) = s.first_arrival?;
    let recv_span = s.last_arrival? - first_arrival;
    if send_span.is_zero() || recv_span.is_zero() || send_span > MAX_SPAN || recv_span > MAX_SPAN {
        return None;
    }
    let send_rate = (s.bytes - first_send_size) as f64 * 8.0 / send_span.as_secs_f64();
    let recv_rate = (s.bytes - first_arrival_size) as f64 * 8.0 / recv_span.as_secs_f64();
    if recv_rate > 2.0 * send_rate {
        return None;
    }
    let rate = if recv_rate < SATURATED_RATIO * send_rate {
        SATURATED_UTILISATION * recv_rate
    } else {
        send_rate.min(recv_rate)
    };
    Some(rate.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> ProbeCluster {
        ProbeCluster {
            id: 7,
            target_bitrate: 2_000_000,
            min_packets: 5,
            min_bytes: 3750,
        }
    }

    /// Six 1000-byte packets sent every 4 ms (2 Mbit/s) through a link that
    /// spaces them by `spacing_us`.
    fn run(spacing_us: u64) -> Vec<Option<u64>> {
        let t0 = Instant::now();
        let mut e = ProbeEstimator::new();
        e.on_cluster(cluster());
        (0..6u64)
            .map(|i| {
                e.on_packet(&AckedPacket {
                    seq: i,
                    size: 1000,
                    sent_at: t0 + Duration::from_millis(4 * i),
                    arrival: Duration::from_secs(3) + Duration::from_micros(spacing_us * i),
                    probe_cluster: Some(7),
                })
            })
            .collect()
    }

    #[test]
    fn unsaturated_probe_reports_the_send_rate() {
        let r = run(4000);
        assert_eq!(r[2], None, "3 of 5 packets is too few");
        assert_eq!(r[3], Some(2_000_000));
        assert_eq!(r[5], Some(2_000_000));
    }

    #[test]
    fn saturated_probe_reports_95_percent_of_receive_rate() {
        // Arrivals 8 ms apart: 1 Mbit/s.
        let r = run(8000);
        assert_eq!(r[5], Some(950_000));
    }

    #[test]
    fn packets_of_unknown_clusters_and_implausible_spacing_are_ignored() {
        let mut e = ProbeEstimator::new();
        let p = AckedPacket {
            seq: 1,
            size: 1000,
            sent_at: Instant::now(),
            arrival: Duration::ZERO,
            probe_cluster: Some(3),
        };
        assert_eq!(e.on_packet(&p), None);
        // Arrivals 1 ms apart for 4 ms sending: 8 Mbit/s "received".
        assert_eq!(run(1000)[5], None);
    }
}

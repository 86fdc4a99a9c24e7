//! Delay-based detection: grouping (§5.2), the trendline arrival-time
//! filter (§5.3) and the over-use detector (§5.4) of
//! draft-ietf-rmcat-gcc-02, chained.

pub mod inter_arrival;
pub mod overuse;
pub mod trendline;

use crate::feedback::AckedPacket;
use inter_arrival::InterArrival;
use overuse::{BandwidthUsage, OveruseDetector};
use trendline::Trendline;

/// Feeds acknowledged packets through grouping, trendline and detector.
#[derive(Debug, Default)]
pub struct DelayDetector {
    inter_arrival: InterArrival,
    trendline: Trendline,
    detector: OveruseDetector,
    trend: f64,
}

impl DelayDetector {
    /// A detector with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// One acknowledged packet, in send order. Returns the verdict after it.
    pub fn on_packet(&mut self, p: &AckedPacket) -> BandwidthUsage {
        if let Some(delta) = self.inter_arrival.on_packet(p.sent_at, p.arrival, p.size) {
            self.trend = self
                .trendline
                .update(delta.delay_variation_ms(), delta.arrival);
            let at_ms = delta.arrival.as_secs_f64() * 1000.0;
            self.detector.detect(
                self.trend,
                delta.send_delta_ms,
                self.trendline.num_deltas(),
                at_ms,
            );
        }
        self.detector.state()
    }

    /// Current verdict.
    pub fn state(&self) -> BandwidthUsage {
        self.detector.state()
    }

    /// Last modified trend m(i), ms-equivalent.
    pub fn trend(&self) -> f64 {
        self.trend
    }

    /// Current adaptive threshold, ms.
    pub fn threshold(&self) -> f64 {
        self.detector.threshold()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn run(send_interval_ms: u64, service_ms: u64, n: u64) -> DelayDetector {
        // One 1000-byte packet per send interval through a link that needs
        // `service_ms` per packet.
        let t0 = Instant::now();
        let mut d = DelayDetector::new();
        let mut link_free = 0u64;
        for i in 0..n {
            let sent = i * send_interval_ms;
            let depart = sent.max(link_free) + service_ms;
            link_free = depart;
            d.on_packet(&AckedPacket {
                seq: i,
                size: 1000,
                sent_at: t0 + Duration::from_millis(sent),
                arrival: Duration::from_millis(1_000 + depart),
                probe_cluster: None,
            });
        }
        d
    }

    #[test]
    fn link_with_room_is_normal() {
        let d = run(10, 8, 300);
        assert_eq!(d.state(), BandwidthUsage::Normal);
        assert!(d.trend().abs() < 1e-6);
    }

    #[test]
    fn sending_ten_percent_over_capacity_is_overuse() {
        let d = run(10, 11, 100);
        assert_eq!(d.state(), BandwidthUsage::Overusing);
        assert!(d.trend() > d.threshold());
    }
}

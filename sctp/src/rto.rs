//! Retransmission timeout computation (RFC 9260 §6.3.1).

use std::time::Duration;

/// RTO.Alpha = 1/8, RTO.Beta = 1/4, clock granularity G = 1 ms.
const GRANULARITY: Duration = Duration::from_millis(1);

/// SRTT, RTTVAR and RTO of the one path.
#[derive(Debug, Clone)]
pub struct RtoEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    rto: Duration,
    min: Duration,
    max: Duration,
}

impl RtoEstimator {
    /// Before any measurement the RTO is `initial` (§6.3.1 C1).
    pub fn new(initial: Duration, min: Duration, max: Duration) -> Self {
        RtoEstimator {
            srtt: None,
            rttvar: Duration::ZERO,
            rto: initial.clamp(min, max),
            min,
            max,
        }
    }

    /// Current RTO.
    pub fn rto(&self) -> Duration {
        self.rto
    }

    /// Smoothed RTT, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// A new RTT measurement R (§6.3.1 C2, C3).
    pub fn measure(&mut self, r: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                let diff = srtt.abs_diff(r);
                self.rttvar = self.rttvar * 3 / 4 + diff / 4;
                self.srtt = Some(srtt * 7 / 8 + r / 8);
            }
        }
        let var = self.rttvar.max(GRANULARITY);
        self.rto = (self.srtt.unwrap_or(r) + 4 * var).clamp(self.min, self.max);
    }

    /// After a T3-rtx expiry: RTO = min(RTO * 2, RTO.Max) (§6.3.3 E2).
    pub fn back_off(&mut self) {
        self.rto = (self.rto * 2).min(self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn first_measurement_sets_srtt_and_half_rttvar() {
        let mut e = RtoEstimator::new(ms(1000), ms(100), ms(60_000));
        assert_eq!(e.rto(), ms(1000));
        e.measure(ms(200));
        // RTO = 200 + 4 * 100.
        assert_eq!(e.srtt(), Some(ms(200)));
        assert_eq!(e.rto(), ms(600));
    }

    #[test]
    fn later_measurements_smooth_with_alpha_and_beta() {
        let mut e = RtoEstimator::new(ms(1000), ms(100), ms(60_000));
        e.measure(ms(200));
        e.measure(ms(400));
        // RTTVAR = 3/4 * 100 + 1/4 * 200 = 125; SRTT = 7/8 * 200 + 1/8 * 400 = 225.
        assert_eq!(e.srtt(), Some(ms(225)));
        assert_eq!(e.rto(), ms(225 + 500));
    }

    #[test]
    fn rto_is_clamped_and_backs_off_to_the_max() {
        let mut e = RtoEstimator::new(ms(1000), ms(1000), ms(3000));
        e.measure(ms(10));
        assert_eq!(e.rto(), ms(1000));
        e.back_off();
        e.back_off();
        assert_eq!(e.rto(), ms(3000));
    }
}

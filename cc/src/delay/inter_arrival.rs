//! Pre-filtering: packets grouped into bursts, and the delay variation
//! between consecutive groups (draft-ietf-rmcat-gcc-02 §5.1, §5.2).
//!
//! A group is the packets sent within [`BURST_TIME`] of its first packet
//! (§5.2: a video frame leaves as a burst and its inner spacing says nothing
//! about the path). A packet that arrives less than [`BURST_TIME`] after the
//! previous one *and* earlier than its send spacing predicts also joins the
//! group: it was held up with the rest by a channel outage and released in a
//! burst, and counting it as a new group would show a fake negative delay
//! variation. Such merging stops once a group spans [`MAX_BURST_SPAN`] of
//! arrival time.

use std::time::{Duration, Instant};

/// Packets sent within this of a group's first packet belong to it (§5.2).
pub const BURST_TIME: Duration = Duration::from_millis(5);
/// A burst merged on arrival never spans more than this.
pub const MAX_BURST_SPAN: Duration = Duration::from_millis(100);
/// Arrival and send spacing that disagree by more than this mean the
/// receiver's clock jumped (a new feedback series): start again.
const RESET_GAP: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy)]
struct Group {
    first_send: Instant,
    last_send: Instant,
    first_arrival: Duration,
    last_arrival: Duration,
    size: usize,
}

/// The measurement between two consecutive groups, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupDelta {
    /// Send time of the newer group's last packet minus the older one's.
    pub send_delta_ms: f64,
    /// The same for arrival times.
    pub arrival_delta_ms: f64,
    /// Bytes of the newer group minus the older one's.
    pub size_delta: i64,
    /// Arrival time of the newer group's last packet (receiver clock).
    pub arrival: Duration,
}

impl GroupDelta {
    /// d(i) of §5.1: how much longer the groups took to arrive than to
    /// leave. Positive when a queue grows.
    pub fn delay_variation_ms(&self) -> f64 {
        self.arrival_delta_ms - self.send_delta_ms
    }
}

/// Groups packets and measures consecutive groups against each other.
#[derive(Debug, Default)]
pub struct InterArrival {
    current: Option<Group>,
    previous: Option<Group>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn signed_ms(a: Duration, b: Duration) -> f64 {
    ms(a) - ms(b)
}

impl InterArrival {
    /// A grouper with nothing seen.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one received packet, in send order. Returns the delta between
    /// the two previous groups when this packet starts a new one.
    pub fn on_packet(
        &mut self,
        sent_at: Instant,
        arrival: Duration,
        size: usize,
    ) -> Option<GroupDelta> {
        let Some(mut cur) = self.current else {
            self.current = Some(Group {
                first_send: sent_at,
                last_send: sent_at,
                first_arrival: arrival,
                last_arrival: arrival,
                size,
            });
            return None;
        };
        if sent_at < cur.first_send {
            // Reordered across groups: it cannot be placed, leave it out.
            return None;
        }
        if self.belongs_to(&cur, sent_at, arrival) {
            cur.last_send = cur.last_send.max(sent_at);
            cur.last_arrival = cur.last_arrival.max(arrival);
            cur.size += size;
            self.current = Some(cur);
            return None;
        }
        let mut delta = None;
        if let Some(prev) = self.previous {
            let d = GroupDelta {
                send_delta_ms: ms(cur.last_send - prev.last_send),
                arrival_delta_ms: signed_ms(cur.last_arrival, prev.last_arrival),
                size_delta: cur.size as i64 - prev.size as i64,
                arrival: cur.last_arrival,
            };
            if (d.arrival_delta_ms - d.send_delta_ms).abs() > ms(RESET_GAP) {
                self.previous = None;
                self.current = None;
                return self.on_packet(sent_at, arrival, size);
            }
            delta = Some(d);
        }
        self.previous = Some(cur);
        self.current = Some(Group {
            first_send: sent_at,
            last_send: sent_at,
            first_arrival: arrival,
            last_arrival: arrival,
            size,
        });
        delta
    }

    fn belongs_to(&self, cur: &Group, sent_at: Instant, arrival: Duration) -> bool {
        if sent_at - cur.first_send <= BURST_TIME {
            return true;
        }
        // §5.2 burst: arrived close to the previous packet and earlier than
        // the send spacing predicts.
        let arrival_gap = signed_ms(arrival, cur.last_arrival);
        let send_gap = ms(sent_at.saturating_duration_since(cur.last_send));
        arrival_gap >= 0.0
            && arrival_gap < ms(BURST_TIME)
            && arrival_gap - send_gap < 0.0
            && arrival.saturating_sub(cur.first_arrival) < MAX_BURST_SPAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_within_five_ms_form_one_group() {
        let t0 = Instant::now();
        let base = Duration::from_secs(7);
        let mut ia = InterArrival::new();
        let ms = Duration::from_millis;
        // Group A: sent 0, 2, 4 ms. Group B: 20, 22 ms. Group C: 40 ms.
        assert_eq!(ia.on_packet(t0, base + ms(30), 100), None);
        assert_eq!(ia.on_packet(t0 + ms(2), base + ms(32), 100), None);
        assert_eq!(ia.on_packet(t0 + ms(4), base + ms(34), 100), None);
        assert_eq!(ia.on_packet(t0 + ms(20), base + ms(52), 100), None);
        assert_eq!(ia.on_packet(t0 + ms(22), base + ms(58), 300), None);
        let d = ia.on_packet(t0 + ms(40), base + ms(80), 100).unwrap();
        // Last of B minus last of A: sent 18 ms apart, arrived 24 ms apart.
        assert!((d.send_delta_ms - 18.0).abs() < 1e-9);
        assert!((d.arrival_delta_ms - 24.0).abs() < 1e-9);
        assert!((d.delay_variation_ms() - 6.0).abs() < 1e-9);
        assert_eq!(d.size_delta, 400 - 300);
        assert_eq!(d.arrival, base + ms(58));
    }

    #[test]
    fn a_burst_released_after_an_outage_joins_the_group() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut ia = InterArrival::new();
        ia.on_packet(t0, ms(100), 100);
        // Sent 10 ms apart each but held and released 1 ms apart.
        assert_eq!(ia.on_packet(t0 + ms(10), ms(200), 100), None);
        assert_eq!(ia.on_packet(t0 + ms(20), ms(201), 100), None);
        assert_eq!(ia.on_packet(t0 + ms(30), ms(202), 100), None);
        let d = ia.on_packet(t0 + ms(60), ms(240), 100).unwrap();
        // Groups are {0} and {10, 20, 30}: without burst merging the delta
        // would be between 20 and 30 and show -9 ms.
        assert!((d.send_delta_ms - 30.0).abs() < 1e-9);
        assert!((d.arrival_delta_ms - 102.0).abs() < 1e-9);
        assert_eq!(d.size_delta, 200);
    }

    #[test]
    fn reordered_packet_from_an_older_group_is_ignored() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut ia = InterArrival::new();
        ia.on_packet(t0 + ms(10), ms(10), 100);
        assert_eq!(ia.on_packet(t0, ms(11), 100), None);
        ia.on_packet(t0 + ms(30), ms(30), 100);
        let d = ia.on_packet(t0 + ms(50), ms(50), 100).unwrap();
        assert_eq!(d.size_delta, 0);
    }
}

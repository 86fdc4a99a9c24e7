//! The mesh node's uplink budget never panics, has no capacity until a
//! joint congestion, never gives a flow more than its own estimate, and
//! never hands out more in total than twice the capacity (the split is in
//! the estimates' units, the capacity over a fill of at least one half).
//!
//! Input: records `dt, n, then n flows of 6 bytes` on a deterministic
//! clock that moves `dt` × 10 ms first; `n` is the low 3 bits (0 to 7
//! flows). A flow: estimate (u16, × 1000 bit/s), acknowledged rate (u16,
//! × 1000 bit/s, 0: none yet), queuing delay (u8, × 2 ms, 255: none),
//! flags (bit 0: over-use).
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_mesh::uplink_budget::{BudgetConfig, FlowSignal, UplinkBudget};
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let mut budget = UplinkBudget::new(BudgetConfig::default());
    let mut now = Instant::now();
    let mut rest = data;
    let mut events = 0;
    while let [dt, n, tail @ ..] = rest {
        let n = usize::from(n & 7);
        if tail.len() < 6 * n {
            return;
        }
        let (flows_bytes, tail) = tail.split_at(6 * n);
        rest = tail;
        now += Duration::from_millis(u64::from(*dt) * 10);
        let flows: Vec<FlowSignal> = flows_bytes
            .chunks_exact(6)
            .map(|f| {
                let estimate = u64::from(u16::from_be_bytes([f[0], f[1]])) * 1000;
                let acked = u64::from(u16::from_be_bytes([f[2], f[3]])) * 1000;
                FlowSignal {
                    estimate,
                    acked: (acked > 0).then_some(acked),
                    queue_delay: (f[4] != 255).then(|| Duration::from_millis(u64::from(f[4]) * 2)),
                    overusing: f[5] & 1 != 0,
                }
            })
            .collect();
        budget.update(now, &flows);
        assert!(budget.events() >= events);
        events = budget.events();
        assert_eq!(budget.capacity().is_some(), events > 0);
        let estimates: Vec<u64> = flows.iter().map(|f| f.estimate).collect();
        let shares = budget.shares(&estimates);
        assert_eq!(shares.len(), estimates.len());
        for (s, e) in shares.iter().zip(&estimates) {
            assert!(s <= e, "share {s} over estimate {e}");
        }
        match budget.capacity() {
            None => assert_eq!(shares, estimates),
            Some(c) => {
                let total: u64 = shares.iter().sum();
                assert!(total <= 2 * c + n as u64 + 2, "{total} handed out of {c}");
            }
        }
    }
});

//! ICE: time (virtual and wall) and datagrams until two agents are connected
//! and completed, for 1, 4 and 16 candidate pairs, on a simulated clean link
//! with a 20 ms round trip.
//!
//! `cargo bench --bench ice` prints the virtual-time table first, then
//! criterion's wall-clock figures for the whole simulated connection.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use meshrtc_ice::{IceConfig, IceState};
use meshrtc_integration::sim::{completed, Call};
use meshrtc_netsim::LinkConfig;
use std::time::Duration;

const RTT: Duration = Duration::from_millis(20);

fn connect(hosts: u8) -> Call {
    let mut c = Call::with_hosts(
        1,
        IceConfig::controlling(1),
        IceConfig::controlled(2),
        LinkConfig::with_latency(RTT / 2),
        hosts,
    );
    c.start();
    c.drive(completed, Duration::from_secs(10));
    c
}

fn ice(c: &mut Criterion) {
    println!("| pairs | connected (virtual) | completed (virtual) | datagrams to completed | checks sent by a |");
    println!("| ---: | ---: | ---: | ---: | ---: |");
    for hosts in [1u8, 2, 4] {
        let call = connect(hosts);
        let con = call.first_time_in(call.a, IceState::Connected).unwrap();
        let done = call.first_time_in(call.a, IceState::Completed).unwrap();
        println!(
            "| {} | {:?} ({:.1} RTT) | {:?} ({:.1} RTT) | {} | {} |",
            hosts as u32 * hosts as u32,
            con,
            con.as_secs_f64() / RTT.as_secs_f64(),
            done,
            done.as_secs_f64() / RTT.as_secs_f64(),
            call.sim.stats().delivered,
            call.agent(call.a).stats().checks_sent,
        );
    }
    let mut g = c.benchmark_group("ice");
    for hosts in [1u8, 2, 4] {
        let pairs = hosts as u32 * hosts as u32;
        g.bench_with_input(
            BenchmarkId::new("meshrtc/connect-on-netsim", pairs),
            &hosts,
            |b, &h| b.iter(|| connect(h)),
        );
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = ice
}
criterion_main!(benches);

//! Unit tests of the node: the key frame bucket and the layer choice.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use meshrtc_peer::PeerConfig;

use super::layers::wanted_layer;
use super::*;

fn node() -> MeshNode {
    let peer = PeerConfig::with_fixed_seed(7);
    let addr: SocketAddr = "10.0.0.1:4000".parse().unwrap();
    MeshNode::new(MeshConfig::new("room", "a", peer, vec![vec![addr]]))
}

/// Asks `take_keyframe_request` at every frame of a 30 fps encoder for
/// `secs`, with `ask` setting requests before each frame; returns the
/// times key frames were made.
fn run(
    n: &mut MeshNode,
    t0: Instant,
    secs: u64,
    mut ask: impl FnMut(&mut MeshNode, Duration),
) -> Vec<Duration> {
    let frame = Duration::from_micros(33_333);
    let mut made = Vec::new();
    let mut t = Duration::ZERO;
    while t < Duration::from_secs(secs) {
        ask(n, t);
        if n.take_keyframe_request(t0 + t) {
            made.push(t);
        }
        t += frame;
    }
    made
}

#[test]
fn newcomers_every_50_ms_get_no_more_than_the_bucket_allows() {
    let mut n = node();
    let t0 = Instant::now();
    // A newcomer's connection comes up every 50 ms for 10 s: without
    // the bucket each would be served at once (200 key frames).
    let made = run(&mut n, t0, 10, |n, _| {
        n.keyframes[0].wanted = true;
        n.keyframes[0].urgent = true;
    });
    // burst 2 + one per 500 ms.
    assert!(made.len() <= 2 + 20, "{}", made.len());
    assert!(made.len() >= 19, "{}", made.len());
    for w in made.windows(2) {
        assert!(w[1] - w[0] >= Duration::from_millis(250), "{made:?}");
    }
    let st = n.stats();
    assert_eq!(st.keyframes_requested, made.len() as u64);
    assert_eq!(st.keyframes_urgent, made.len() as u64);
}

#[test]
fn a_newcomer_is_served_at_once_after_a_quiet_spell_and_plis_wait_the_interval() {
    let mut n = node();
    let t0 = Instant::now();
    // One newcomer at 1 s, PLIs at 1.1 s and 1.2 s.
    let made = run(&mut n, t0, 3, |n, t| {
        let ms = t.as_millis();
        if (1000..1034).contains(&ms) {
            n.keyframes[0].wanted = true;
            n.keyframes[0].urgent = true;
        }
        if (1100..1134).contains(&ms) || (1200..1234).contains(&ms) {
            n.keyframes[0].wanted = true;
        }
    });
    assert_eq!(made.len(), 2, "{made:?}");
    assert!(made[0] - Duration::from_secs(1) < Duration::from_millis(34));
    // The PLIs were merged into one, 500 ms after the newcomer's.
    let gap = made[1] - made[0];
    assert!(
        gap >= Duration::from_millis(500) && gap < Duration::from_millis(534),
        "{made:?}"
    );
}

#[test]
fn a_member_gets_the_highest_layer_its_target_reaches_and_holds_it_down_to_60_percent() {
    let mins = [0, 250_000, 800_000];
    // No estimate yet: the smallest layer.
    assert_eq!(wanted_layer(&mins, 2, None), 0);
    assert_eq!(wanted_layer(&mins, 0, Some(120_000)), 0);
    assert_eq!(wanted_layer(&mins, 0, Some(250_000)), 1);
    assert_eq!(wanted_layer(&mins, 0, Some(2_000_000)), 2);
    // Under layer 1's minimum: a member on it stays down to 60%
    // (150 kbit/s), one below does not climb.
    assert_eq!(wanted_layer(&mins, 1, Some(220_000)), 1);
    assert_eq!(wanted_layer(&mins, 1, Some(150_000)), 1);
    assert_eq!(wanted_layer(&mins, 0, Some(220_000)), 0);
    // Well under: it goes down, as far as its target says.
    assert_eq!(wanted_layer(&mins, 1, Some(149_000)), 0);
    assert_eq!(wanted_layer(&mins, 2, Some(470_000)), 1);
    assert_eq!(wanted_layer(&mins, 2, Some(480_000)), 2);
    // No layers configured: one layer.
    assert_eq!(wanted_layer(&[], 0, Some(1_000_000)), 0);
}

#[test]
fn each_layer_has_its_own_key_frame_requests_and_bucket() {
    let peer = PeerConfig::with_fixed_seed(7);
    let addr: SocketAddr = "10.0.0.1:4000".parse().unwrap();
    let mut cfg = MeshConfig::new("room", "a", peer, vec![vec![addr]]);
    cfg.layer_min_bitrates = vec![0, 250_000];
    let mut n = MeshNode::new(cfg);
    let t0 = Instant::now();
    assert!(n.take_keyframe_requests(t0).is_empty());
    // Only layer 1 asked: only layer 1 is told.
    n.keyframes[1].wanted = true;
    assert_eq!(n.take_keyframe_requests(t0), vec![1]);
    assert!(n.take_keyframe_requests(t0).is_empty());
    // Layer 1 asks at every frame for 10 s, layer 0 never: layer 1's
    // encoder makes at most burst + 10 s / 500 ms, layer 0's none.
    let mut made = [0usize; 2];
    let mut t = Duration::ZERO;
    while t < Duration::from_secs(10) {
        n.keyframes[1].wanted = true;
        for l in n.take_keyframe_requests(t0 + Duration::from_secs(1) + t) {
            made[l] += 1;
        }
        t += Duration::from_micros(33_333);
    }
    assert_eq!(made[0], 0);
    assert!((19..=22).contains(&made[1]), "{made:?}");
    // Layer 0's bucket is untouched: a newcomer there is served at once.
    n.keyframes[0].wanted = true;
    n.keyframes[0].urgent = true;
    assert_eq!(
        n.take_keyframe_requests(t0 + Duration::from_secs(11)),
        vec![0]
    );
    // No members: each layer's target is its minimum (within bounds).
    assert_eq!(n.layer_targets(), vec![30_000, 250_000]);
}

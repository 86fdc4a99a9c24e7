//! A call over a real kernel link shaped with `tc tbf` (two network
//! namespaces and a veth pair, made and deleted by `scripts/shaped-call`):
//! the offerer's uplink is 300 kbit/s with a 300 ms queue, the offerer
//! sends 640x360 at 30 fps and its encoder follows its send-side estimate,
//! fed by the answerer's transport-cc feedback. The figures are the
//! answerer's, read from the pixels of what it decoded.
//!
//! Needs root (CI runs as root; so does the development machine).

use std::process::Command;

#[test]
fn a_call_through_a_300_kbit_tbf_uplink_keeps_its_frame_rate_without_a_key_frame_storm() {
    let out = std::env::temp_dir().join(format!("meshrtc-shaped-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/shaped-call");
    let run = Command::new("bash")
        .arg(script)
        .args([
            "--rate",
            "300",
            "--queue",
            "300",
            "--duration",
            "20",
            "--settle",
            "10",
        ])
        .arg("--out")
        .arg(&out)
        .args(["--", "--width", "640", "--height", "360", "--fps", "30"])
        .env("MESHRTC_BIN", env!("CARGO_BIN_EXE_meshrtc"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    eprintln!("{stdout}");
    assert!(run.status.success(), "{stderr}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let fps = summary["fps_settled"].as_f64().unwrap();
    assert!(fps >= 25.0, "frames per second once settled: {summary}");
    assert_eq!(
        summary["keyframes_after_settling"], 0,
        "a key frame after settling: {summary}"
    );
    let sent = summary["shaper_sent_packets"].as_f64().unwrap();
    let dropped = summary["shaper_dropped_packets"].as_f64().unwrap();
    assert!(
        dropped <= 0.03 * sent,
        "the shaper dropped {dropped} of {sent}"
    );
    // The call does not live on a full queue: the median second's median
    // latency stays under the queue's 300 ms (the 150 ms target is
    // not met yet; see BENCHMARKS.md).
    let p50 = summary["latency_p50_median_settled_ms"].as_f64().unwrap();
    assert!(p50 < 300.0, "median latency once settled: {summary}");
    // The offerer adapted: its estimate sits below the link, not at the
    // start value or the ceiling.
    let offer: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("offer.json")).unwrap()).unwrap();
    let targets: Vec<f64> = offer["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["t_s"].as_f64().unwrap() >= 10.0)
        .filter_map(|s| s["target_bps"].as_f64())
        .collect();
    let mean = targets.iter().sum::<f64>() / targets.len() as f64;
    assert!(
        (100_000.0..=360_000.0).contains(&mean),
        "mean target once settled {mean}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

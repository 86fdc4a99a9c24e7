//! IPv6 on real sockets: a mesh whose members have no IPv4 address to
//! use. In a private network namespace (`unshare -n`, made and gone with
//! the test), the signaling server and every member's sockets are on a
//! unique local address (`fd00::2`), and every selected pair is on it.
//! Which addresses a member gathers by default (IPv6 included, link-local
//! and deprecated ones left out) is tested in `meshrtc_peer::driver`.
//! Needs root (CI runs as root).

use std::process::Command;

#[test]
fn a_three_member_mesh_on_an_ipv6_address_decodes_every_pair_over_ipv6() {
    let json = std::env::temp_dir().join(format!("meshrtc-ipv6-{}.json", std::process::id()));
    let bin = env!("CARGO_BIN_EXE_meshrtc");
    let script = format!(
        "set -e; ip link set lo up; ip -6 addr add fd00::2/128 dev lo; \
         exec {bin} demo --peers 3 --listen '[fd00::2]:0' --duration 2 \
         --width 160 --height 120 --fps 15 --stats-json {}",
        json.display()
    );
    let out = Command::new("unshare")
        .args(["-n", "bash", "-c", &script])
        .output()
        .expect("unshare (util-linux) and ip (iproute2) must be installed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(&json);
    let pairs = v["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 6, "3 x 2 directed pairs");
    for p in pairs {
        assert!(p["frames_decoded"].as_u64().unwrap() >= 10, "{p}");
        assert!(p["audio_decoded"].as_u64().unwrap() >= 25, "{p}");
        assert_eq!(p["decode_errors"], 0, "{p}");
    }
    for m in v["members"].as_array().unwrap() {
        for c in m["node"]["members"].as_array().unwrap() {
            let pair = c["selected_pair"].as_str().unwrap();
            assert!(
                pair.starts_with("[fd00::2]:") && pair.contains("-> [fd00::2]:"),
                "{pair}"
            );
        }
    }
}

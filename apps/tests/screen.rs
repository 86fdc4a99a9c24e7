//! `meshrtc demo --screen AT:FOR`: member1 shares a second video track
//! (its "screen") mid-call, added to both of its connections by
//! renegotiation and stopped again, while every camera keeps flowing.

use std::process::Command;

#[test]
fn a_screen_shared_mid_call_reaches_every_member_beside_the_cameras() {
    let json = std::env::temp_dir().join(format!("meshrtc-screen-{}.json", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_meshrtc"))
        .args([
            "demo",
            "--peers",
            "3",
            "--duration",
            "4",
            "--width",
            "160",
            "--height",
            "120",
            "--fps",
            "15",
            "--screen",
            "1:2",
            "--stats-json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(&json);
    let members = v["members"].as_array().unwrap();
    let sent = |name: &str| {
        members.iter().find(|m| m["name"] == name).unwrap()["screen_frames_sent"]
            .as_u64()
            .unwrap()
    };
    // 2 s at 5 frames a second from member1; nobody else shares.
    let shared = sent("member1");
    assert!((9..=11).contains(&shared), "{shared}");
    assert_eq!((sent("member2"), sent("member3")), (0, 0));
    for p in v["pairs"].as_array().unwrap() {
        assert_eq!(p["decode_errors"], 0, "{p}");
        assert!(p["frames_decoded"].as_u64().unwrap() >= 30, "{p}");
        let screen = p["screen_frames_decoded"].as_u64().unwrap();
        if p["from"] == "member1" {
            // The first frames go before the renegotiation completes.
            assert!(screen * 10 >= shared * 6 && screen <= shared, "{p}");
        } else {
            assert_eq!(screen, 0, "{p}");
        }
    }
}

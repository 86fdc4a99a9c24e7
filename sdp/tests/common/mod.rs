//! What the offer/answer tests share.

use meshrtc_sdp::*;

/// Our local parameters with `ufrag` and the fingerprint `fp`.
pub fn local(ufrag: &str, fp: &str) -> LocalParams {
    LocalParams {
        ice_ufrag: ufrag.into(),
        ice_pwd: "abcdefghijklmnopqrstuvwx".into(),
        fingerprint: Fingerprint {
            hash: "sha-256".into(),
            value: fp.into(),
        },
        cname: "meshrtc-cname".into(),
        session_id: 4_611_686_018_427_387_904,
        session_version: 1,
        candidates: vec![CandidateAttr::parse(
            "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host generation 0",
        )
        .unwrap()
        .into_owned()],
        end_of_candidates: true,
    }
}

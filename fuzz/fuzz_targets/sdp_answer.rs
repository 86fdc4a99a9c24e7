//! A fuzzed offer is answered: no panic, the answer parses back to itself,
//! and negotiating it against the offer does not panic either. With flag
//! bit 6 the answer comes from a transceiver per offered m-line, data
//! m-lines (RFC 8841) included, as the PeerConnection answers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_sdp::{
    create_answer, create_answer_for, negotiate, Features, Fingerprint, LocalParams, MediaKind,
    SendTrack, SessionDescription, Transceiver,
};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(offer) = SessionDescription::parse(text) else {
        return;
    };
    let features = Features {
        rtx: flags & 1 != 0,
        transport_cc: flags & 2 != 0,
        remb: flags & 4 != 0,
        abs_send_time: flags & 8 != 0,
        audio_level: flags & 16 != 0,
    };
    let local = LocalParams {
        ice_ufrag: "fuzz".into(),
        ice_pwd: "fuzzfuzzfuzzfuzzfuzzfuzz".into(),
        fingerprint: Fingerprint {
            hash: "sha-256".into(),
            value: "AB:CD".into(),
        },
        cname: "c".into(),
        session_id: 1,
        session_version: 1,
        candidates: Vec::new(),
        end_of_candidates: flags & 32 != 0,
    };
    let track = |id: &str, ssrc| SendTrack {
        stream_id: "s".into(),
        track_id: id.into(),
        ssrc,
        rtx_ssrc: Some(ssrc + 1),
    };
    let tracks = [
        (MediaKind::Video, track("v", 10)),
        (MediaKind::Audio, track("a", 20)),
    ];
    let made = if flags & 64 != 0 {
        let transceivers: Vec<Transceiver> = offer
            .media
            .iter()
            .filter_map(|m| {
                Some(Transceiver {
                    mid: m.mid()?.to_string(),
                    kind: MediaKind::from_token(&m.kind)?,
                    send: None,
                    receive: true,
                    stopped: false,
                })
            })
            .collect();
        create_answer_for(&offer, &local, &features, &transceivers, None)
    } else {
        create_answer(&offer, &local, &features, &tracks)
    };
    let Ok(answer) = made else {
        return;
    };
    let written = answer.to_string();
    let again = SessionDescription::parse(&written)
        .unwrap_or_else(|e| panic!("our answer does not parse: {e}\n{written}"));
    assert_eq!(again, answer);
    let _ = negotiate(&again, &offer, false);
});

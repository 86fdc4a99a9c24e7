//! What meshrtc writes is read without error by two independent SDP parsers:
//! `webrtc-sdp` (Firefox's) and `sdp-types`.

use meshrtc_sdp::SessionDescription;

#[test]
fn our_written_descriptions_parse_in_webrtc_sdp_and_sdp_types() {
    for name in [
        "chromium_offer.sdp",
        "chromium_answer.sdp",
        "chromium_session_offer.sdp",
        "chromium_session_answer.sdp",
    ] {
        let path = format!(
            "{}/../fixtures/chromium-156/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(path).unwrap();
        let d = SessionDescription::parse(&text).unwrap();
        let ours = d.to_string();
        // Non-strict, as Firefox runs it: attributes it does not know
        // (Chromium's own a=rtcp-xr among them) are warnings, not errors.
        let ff = webrtc_sdp::parse_sdp(&ours, false)
            .unwrap_or_else(|e| panic!("{name}: webrtc-sdp refuses our output: {e:?}"));
        assert_eq!(ff.media.len(), d.media.len(), "{name}");
        let st = sdp_types::Session::parse(ours.as_bytes())
            .unwrap_or_else(|e| panic!("{name}: sdp-types refuses our output: {e:?}"));
        assert_eq!(st.medias.len(), d.media.len(), "{name}");
    }
}

//! RTCP compound parsing never panics; every packet that decodes is written
//! back, and the written compound parses to equal packets and rewrites to
//! the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_rtp::rtcp::{validate_compound, Compound, RawPackets, RtcpPacket};

fn touch(p: &RtcpPacket<'_>) -> usize {
    let _ = format!("{p:?}");
    match p {
        RtcpPacket::SenderReport(s) => s.reports.iter().count(),
        RtcpPacket::ReceiverReport(r) => r.reports.iter().count(),
        RtcpPacket::Sdes(s) => s.chunks.iter().map(|c| c.items.iter().count()).sum(),
        RtcpPacket::Bye(b) => b.ssrcs.iter().count(),
        RtcpPacket::Nack(n) => n.lost().count(),
        RtcpPacket::TransportCc(t) => t.packets().count(),
        RtcpPacket::Fir(f) => f.entries.iter().count(),
        RtcpPacket::Remb(r) => r.ssrcs.iter().count() + r.bitrate() as usize % 2,
        _ => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = validate_compound(data, false);
    let _ = validate_compound(data, true);
    for raw in RawPackets::new(data).flatten() {
        assert_eq!(raw.bytes.len() % 4, 0);
    }
    let mut out = Vec::new();
    let mut kept = Vec::new();
    for p in Compound::new(data).flatten() {
        touch(&p);
        let before = out.len();
        match p.write_to(&mut out) {
            Ok(()) => kept.push(p),
            Err(_) => assert_eq!(out.len(), before, "a failed write leaves the buffer"),
        }
    }
    if out.is_empty() {
        // An empty datagram is not a compound.
        return;
    }
    let again: Vec<_> = Compound::new(&out)
        .map(|r| r.expect("our own output parses"))
        .collect();
    assert_eq!(again, kept);
    let mut out2 = Vec::new();
    for p in &again {
        p.write_to(&mut out2).expect("a re-parsed packet writes");
    }
    assert_eq!(out2, out);
});

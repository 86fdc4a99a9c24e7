//! A small, bounds-checked RTP/RTCP header printer for the packet inspector
//! (RFC 3550 §5.1, §6.4–6.6, RFC 4585 §6, RFC 8285). The full wire formats
//! will live in `meshrtc-rtp`; this only reads what it prints.

use serde_json::{json, Value};
use std::fmt::Write;

/// The header fields of an RTP packet, or why they cannot be read.
pub fn rtp(pkt: &[u8], payload_note: &str) -> Result<(String, Value), String> {
    if pkt.len() < 12 {
        return Err(format!("RTP header needs 12 bytes, got {}", pkt.len()));
    }
    let (v, p, x, cc) = (
        pkt[0] >> 6,
        pkt[0] & 0x20 != 0,
        pkt[0] & 0x10 != 0,
        pkt[0] & 0x0f,
    );
    let (m, pt) = (pkt[1] & 0x80 != 0, pkt[1] & 0x7f);
    let seq = u16::from_be_bytes([pkt[2], pkt[3]]);
    let ts = u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]);
    let ssrc = u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]);
    let mut off = 12;
    let mut csrcs = Vec::new();
    for _ in 0..cc {
        let c = pkt
            .get(off..off + 4)
            .ok_or("CSRC list runs past the packet")?;
        csrcs.push(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
        off += 4;
    }
    let mut s = String::new();
    let _ = writeln!(s, "  version {v}, padding {p}, extension {x}, marker {m}");
    let _ = writeln!(s, "  payload type    {pt}");
    let _ = writeln!(s, "  sequence        {seq}");
    let _ = writeln!(s, "  timestamp       {ts}");
    let _ = writeln!(s, "  ssrc            {ssrc:#010x}");
    for c in &csrcs {
        let _ = writeln!(s, "  csrc            {c:#010x}");
    }
    let mut ext = Value::Null;
    if x {
        let h = pkt
            .get(off..off + 4)
            .ok_or("extension header runs past the packet")?;
        let profile = u16::from_be_bytes([h[0], h[1]]);
        let words = u16::from_be_bytes([h[2], h[3]]) as usize;
        let body = pkt
            .get(off + 4..off + 4 + 4 * words)
            .ok_or("extension runs past the packet")?;
        off += 4 + 4 * words;
        let elems = extension_elements(profile, body);
        let kind = match profile {
            0xBEDE => "one-byte (RFC 8285)",
            p if p & 0xFFF0 == 0x1000 => "two-byte (RFC 8285)",
            _ => "profile-specific",
        };
        let _ = writeln!(
            s,
            "  extension       {profile:#06x} {kind}, {} bytes",
            4 * words
        );
        for (id, data) in &elems {
            let _ = writeln!(s, "    id {id:<3} {} bytes  {}", data.len(), hex(data));
        }
        ext = json!({
            "profile": profile,
            "elements": elems.iter().map(|(id, d)| json!({"id": id, "data": hex(d)})).collect::<Vec<_>>(),
        });
    }
    let payload = pkt.len() - off;
    let _ = writeln!(s, "  payload         {payload} bytes{payload_note}");
    let v = json!({
        "version": v, "padding": p, "marker": m, "payload_type": pt, "sequence": seq,
        "timestamp": ts, "ssrc": ssrc, "csrcs": csrcs, "extension": ext, "payload_length": payload,
    });
    Ok((s, v))
}

/// RFC 8285 elements of a one-byte or two-byte extension block.
fn extension_elements(profile: u16, body: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    let two_byte = profile & 0xFFF0 == 0x1000;
    if profile != 0xBEDE && !two_byte {
        return out;
    }
    while i < body.len() {
        if body[i] == 0 {
            i += 1; // padding
            continue;
        }
        let (id, len, hdr) = if two_byte {
            match body.get(i + 1) {
                Some(&l) => (body[i], l as usize, 2),
                None => break,
            }
        } else {
            let id = body[i] >> 4;
            if id == 15 {
                break; // reserved: stop (RFC 8285 §4.2)
            }
            (id, (body[i] & 0x0f) as usize + 1, 1)
        };
        match body.get(i + hdr..i + hdr + len) {
            Some(d) => out.push((id, d)),
            None => break,
        }
        i += hdr + len;
    }
    out
}

fn rtcp_name(pt: u8) -> &'static str {
    match pt {
        200 => "SR (sender report)",
        201 => "RR (receiver report)",
        202 => "SDES",
        203 => "BYE",
        204 => "APP",
        205 => "RTPFB (transport feedback)",
        206 => "PSFB (payload-specific feedback)",
        207 => "XR",
        _ => "unknown",
    }
}

/// The packets of an RTCP compound packet: type, count, length, SSRC.
/// `clear` is how many bytes are readable (all when decrypted; the first
/// 8 when still encrypted).
pub fn rtcp(pkt: &[u8], clear: usize) -> Result<(String, Value), String> {
    let mut s = String::new();
    let mut list = Vec::new();
    let mut off = 0;
    let clear = clear.min(pkt.len());
    while off + 4 <= clear {
        let h = &pkt[off..off + 4];
        let (count, pt) = (h[0] & 0x1f, h[1]);
        let words = u16::from_be_bytes([h[2], h[3]]) as usize;
        let len = 4 * (words + 1);
        let ssrc = pkt
            .get(off + 4..off + 8)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let _ = writeln!(
            s,
            "  {:<34} count {count:<2} {len:>4} bytes  ssrc {}",
            format!("{pt} {}", rtcp_name(pt)),
            ssrc.map_or("-".to_string(), |x| format!("{x:#010x}"))
        );
        list.push(
            json!({"type": pt, "name": rtcp_name(pt), "count": count, "length": len, "ssrc": ssrc}),
        );
        if off + len > pkt.len() {
            return Err(format!(
                "RTCP packet at offset {off} says {len} bytes but {} remain",
                pkt.len() - off
            ));
        }
        off += len;
        if clear < pkt.len() {
            break; // the rest is encrypted
        }
    }
    Ok((s, json!(list)))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

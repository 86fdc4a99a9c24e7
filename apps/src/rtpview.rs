//! RTP and RTCP for the packet inspector, read with `meshrtc-rtp`: the RTP
//! header with its RFC 8285 extension elements (named and decoded when
//! `--extmap` says which id is which), and every packet of an RTCP compound
//! packet with its fields.

use meshrtc_rtp::ext::{uri, AbsSendTime, AudioLevel, ExtensionForm, Mid, TransportSeq};
use meshrtc_rtp::rtcp::{Compound, RtcpPacket};
use meshrtc_rtp::RtpPacket;
use serde_json::{json, Value};
use std::fmt::Write;

/// A header extension meshrtc knows how to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtKind {
    /// `sdes:mid`.
    Mid,
    /// abs-send-time.
    AbsSendTime,
    /// transport-wide sequence number.
    TransportCc,
    /// ssrc-audio-level.
    AudioLevel,
}

impl ExtKind {
    /// From a URI or a short name (`mid`, `abs-send-time`, `transport-cc`,
    /// `audio-level`).
    pub fn from_name(s: &str) -> Option<ExtKind> {
        Some(match s {
            "mid" | uri::MID => ExtKind::Mid,
            "abs-send-time" | uri::ABS_SEND_TIME => ExtKind::AbsSendTime,
            "transport-cc" | uri::TRANSPORT_CC => ExtKind::TransportCc,
            "audio-level" | uri::AUDIO_LEVEL => ExtKind::AudioLevel,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            ExtKind::Mid => "mid",
            ExtKind::AbsSendTime => "abs-send-time",
            ExtKind::TransportCc => "transport-cc",
            ExtKind::AudioLevel => "audio-level",
        }
    }

    /// The element's value in words, or why it does not read.
    fn show(self, data: &[u8]) -> String {
        let r = match self {
            ExtKind::Mid => Mid::parse(data).map(|m| format!("{:?}", m.0)),
            ExtKind::AbsSendTime => AbsSendTime::parse(data)
                .map(|t| format!("{:.6} s (mod 64 s)", t.to_duration().as_secs_f64())),
            ExtKind::TransportCc => TransportSeq::parse(data).map(|s| format!("seq {}", s.0)),
            ExtKind::AudioLevel => {
                AudioLevel::parse(data).map(|a| format!("-{} dBov, voice {}", a.level, a.voice))
            }
        };
        r.unwrap_or_else(|e| format!("malformed: {e}"))
    }
}

/// Parses `ID=NAME` (NAME a URI or short name) for `--extmap`.
pub fn parse_extmap(s: &str) -> Result<(u8, ExtKind), String> {
    let (id, name) = s
        .split_once('=')
        .ok_or_else(|| format!("--extmap {s:?}: expected ID=URI or ID=NAME"))?;
    let id: u8 = id
        .parse()
        .ok()
        .filter(|i| (1..=255).contains(i))
        .ok_or_else(|| format!("--extmap {s:?}: the id must be 1 to 255"))?;
    let kind = ExtKind::from_name(name).ok_or_else(|| {
        format!("--extmap {s:?}: unknown extension (mid, abs-send-time, transport-cc, audio-level, or their URIs)")
    })?;
    Ok((id, kind))
}

/// The header of an RTP packet, or why it cannot be read.
pub fn rtp(
    pkt: &[u8],
    payload_note: &str,
    extmap: &[(u8, ExtKind)],
) -> Result<(String, Value), String> {
    let p = RtpPacket::parse(pkt).map_err(|e| e.to_string())?;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "  version {}, padding {}, extension {}, marker {}",
        p.version(),
        p.has_padding(),
        p.extension().is_some(),
        p.marker()
    );
    let _ = writeln!(s, "  payload type    {}", p.payload_type());
    let _ = writeln!(s, "  sequence        {}", p.sequence_number());
    let _ = writeln!(s, "  timestamp       {}", p.timestamp());
    let _ = writeln!(s, "  ssrc            {:#010x}", p.ssrc());
    let csrcs: Vec<u32> = p.csrcs().collect();
    for c in &csrcs {
        let _ = writeln!(s, "  csrc            {c:#010x}");
    }
    let mut ext = Value::Null;
    if let Some(x) = p.extension() {
        let kind = match x.form() {
            Some(ExtensionForm::OneByte) => "one-byte (RFC 8285)",
            Some(ExtensionForm::TwoByte { .. }) => "two-byte (RFC 8285)",
            None => "profile-specific",
        };
        let _ = writeln!(
            s,
            "  extension       {:#06x} {kind}, {} bytes",
            x.profile,
            x.body.len()
        );
        let mut elems = Vec::new();
        for e in x.elements() {
            let named = extmap.iter().find(|(id, _)| *id == e.id).map(|&(_, k)| k);
            let shown = named.map(|k| k.show(e.data));
            let _ = match (named, &shown) {
                (Some(k), Some(v)) => writeln!(
                    s,
                    "    id {:<3} {:<14} {} bytes  {v}",
                    e.id,
                    k.name(),
                    e.data.len()
                ),
                _ => writeln!(
                    s,
                    "    id {:<3} {} bytes  {}",
                    e.id,
                    e.data.len(),
                    hex(e.data)
                ),
            };
            elems.push(json!({
                "id": e.id,
                "name": named.map(ExtKind::name),
                "value": shown,
                "data": hex(e.data),
            }));
        }
        ext = json!({ "profile": x.profile, "elements": elems });
    }
    let payload = p.payload().len();
    let _ = writeln!(s, "  payload         {payload} bytes{payload_note}");
    if p.padding_len() > 0 {
        let _ = writeln!(s, "  padding         {} bytes", p.padding_len());
    }
    let v = json!({
        "version": p.version(), "padding": p.padding_len(), "marker": p.marker(),
        "payload_type": p.payload_type(), "sequence": p.sequence_number(),
        "timestamp": p.timestamp(), "ssrc": p.ssrc(), "csrcs": csrcs, "extension": ext,
        "payload_length": payload,
    });
    Ok((s, v))
}

fn ssrc(x: u32) -> String {
    format!("{x:#010x}")
}

/// One line (and its JSON) for a decoded RTCP packet.
fn describe(p: &RtcpPacket<'_>) -> (String, Value) {
    match p {
        RtcpPacket::SenderReport(sr) => {
            let mut t = format!(
                "ssrc {} ntp {:#018x} rtp {} packets {} octets {}",
                ssrc(sr.ssrc),
                sr.info.ntp_time,
                sr.info.rtp_time,
                sr.info.packet_count,
                sr.info.octet_count
            );
            let blocks: Vec<Value> = sr.reports.iter().map(|b| block(&mut t, &b)).collect();
            (
                t,
                json!({"type": "SR", "ssrc": sr.ssrc, "ntp": sr.info.ntp_time, "rtp": sr.info.rtp_time,
                       "packets": sr.info.packet_count, "octets": sr.info.octet_count, "reports": blocks}),
            )
        }
        RtcpPacket::ReceiverReport(rr) => {
            let mut t = format!("ssrc {}", ssrc(rr.ssrc));
            let blocks: Vec<Value> = rr.reports.iter().map(|b| block(&mut t, &b)).collect();
            (t, json!({"type": "RR", "ssrc": rr.ssrc, "reports": blocks}))
        }
        RtcpPacket::Sdes(sd) => {
            let mut t = String::new();
            let mut chunks = Vec::new();
            for c in sd.chunks.iter() {
                let cname = c
                    .items
                    .cname()
                    .map(|v| String::from_utf8_lossy(v).into_owned());
                let _ = write!(
                    t,
                    "ssrc {} cname {:?}",
                    ssrc(c.ssrc),
                    cname.as_deref().unwrap_or("-")
                );
                chunks.push(json!({"ssrc": c.ssrc, "cname": cname}));
            }
            (t, json!({"type": "SDES", "chunks": chunks}))
        }
        RtcpPacket::Bye(b) => {
            let ssrcs: Vec<u32> = b.ssrcs.iter().collect();
            let reason = b.reason.map(|r| String::from_utf8_lossy(r).into_owned());
            (
                format!(
                    "ssrcs {:?} reason {:?}",
                    ssrcs.iter().map(|&x| ssrc(x)).collect::<Vec<_>>(),
                    reason.as_deref().unwrap_or("-")
                ),
                json!({"type": "BYE", "ssrcs": ssrcs, "reason": reason}),
            )
        }
        RtcpPacket::App(a) => (
            format!(
                "ssrc {} name {:?} subtype {} {} bytes",
                ssrc(a.ssrc),
                String::from_utf8_lossy(&a.name),
                a.subtype,
                a.data.len()
            ),
            json!({"type": "APP", "ssrc": a.ssrc, "subtype": a.subtype, "length": a.data.len()}),
        ),
        RtcpPacket::Nack(n) => {
            let lost: Vec<u16> = n.lost().collect();
            (
                format!(
                    "{} -> {} lost {lost:?}",
                    ssrc(n.sender_ssrc),
                    ssrc(n.media_ssrc)
                ),
                json!({"type": "NACK", "sender_ssrc": n.sender_ssrc, "media_ssrc": n.media_ssrc, "lost": lost}),
            )
        }
        RtcpPacket::TransportCc(t) => {
            let pkts: Vec<_> = t.packets().collect();
            let received = pkts.iter().filter(|p| p.delta.is_some()).count();
            let first = pkts.first().map(|p| p.seq);
            (
                format!(
                    "{} -> {} fb #{} base seq {} packets {} received {received}",
                    ssrc(t.sender_ssrc),
                    ssrc(t.media_ssrc),
                    t.fb_pkt_count,
                    first.map_or("-".into(), |s| s.to_string()),
                    pkts.len()
                ),
                json!({"type": "TWCC", "sender_ssrc": t.sender_ssrc, "media_ssrc": t.media_ssrc,
                       "fb_pkt_count": t.fb_pkt_count, "base_seq": first, "packets": pkts.len(), "received": received}),
            )
        }
        RtcpPacket::Pli(p) => (
            format!("{} -> {}", ssrc(p.sender_ssrc), ssrc(p.media_ssrc)),
            json!({"type": "PLI", "sender_ssrc": p.sender_ssrc, "media_ssrc": p.media_ssrc}),
        ),
        RtcpPacket::Fir(f) => {
            let e: Vec<Value> = f
                .entries
                .iter()
                .map(|x| json!({"ssrc": x.ssrc, "seq": x.seq_nr}))
                .collect();
            (
                format!("sender {} entries {}", ssrc(f.sender_ssrc), e.len()),
                json!({"type": "FIR", "sender_ssrc": f.sender_ssrc, "entries": e}),
            )
        }
        RtcpPacket::Remb(r) => (
            format!(
                "sender {} bitrate {} bit/s",
                ssrc(r.sender_ssrc),
                r.bitrate()
            ),
            json!({"type": "REMB", "sender_ssrc": r.sender_ssrc, "bitrate": r.bitrate()}),
        ),
        RtcpPacket::Unknown { pt, fmt, body } => (
            format!("fmt {fmt}: {} bytes, not decoded", body.len()),
            json!({"type": pt, "fmt": fmt, "length": body.len()}),
        ),
    }
}

fn block(t: &mut String, b: &meshrtc_rtp::rtcp::ReportBlock) -> Value {
    let _ = write!(
        t,
        "\n      block ssrc {} lost {}/256 (total {}) highest {} jitter {} lsr {:#x} dlsr {}",
        ssrc(b.ssrc),
        b.fraction_lost,
        b.cumulative_lost,
        b.highest_seq,
        b.jitter,
        b.last_sr,
        b.delay_since_last_sr
    );
    json!({"ssrc": b.ssrc, "fraction_lost": b.fraction_lost, "cumulative_lost": b.cumulative_lost,
           "highest_seq": b.highest_seq, "jitter": b.jitter, "lsr": b.last_sr, "dlsr": b.delay_since_last_sr})
}

/// Whether `pkt` is a plain RTCP compound: its packets' length fields
/// (RFC 3550 §6.4.1: 32-bit words minus one), each with version 2, add up
/// to exactly its length. SRTCP (RFC 3711 §3.4) has the E flag, index and
/// tag after the packets, and its packets after the first are encrypted.
pub fn rtcp_is_plain(pkt: &[u8]) -> bool {
    let mut at = 0;
    while at < pkt.len() {
        let Some(h) = pkt.get(at..at + 4) else {
            return false;
        };
        if h[0] >> 6 != 2 {
            return false;
        }
        at += 4 * (usize::from(u16::from_be_bytes([h[2], h[3]])) + 1);
    }
    at == pkt.len() && at > 0
}

/// The packets of an RTCP compound packet. `clear` is how many bytes are
/// readable: all when decrypted or plain (every packet is decoded); the
/// first 8 when still encrypted (only the first header is shown).
pub fn rtcp(pkt: &[u8], clear: usize) -> Result<(String, Value), String> {
    let mut s = String::new();
    if clear < pkt.len() {
        let h = pkt.get(..8).ok_or("RTCP header needs 8 bytes")?;
        let words = u16::from_be_bytes([h[2], h[3]]) as usize;
        let first = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
        let _ = writeln!(
            s,
            "  first packet: type {} count {} {} bytes  ssrc {}  (the rest is encrypted)",
            h[1],
            h[0] & 0x1f,
            4 * (words + 1),
            ssrc(first)
        );
        return Ok((s, json!([{"type": h[1], "ssrc": first, "encrypted": true}])));
    }
    let mut list = Vec::new();
    for p in Compound::new(pkt) {
        match p {
            Ok(p) => {
                let (t, v) = describe(&p);
                let pt = p.packet_type();
                let _ = writeln!(s, "  {:<34} {t}", format!("{pt} {}", rtcp_name(pt)));
                list.push(v);
            }
            Err(e) => {
                let _ = writeln!(s, "  malformed: {e}");
                list.push(json!({"malformed": e.to_string()}));
            }
        }
    }
    if list.is_empty() {
        return Err("empty RTCP packet".into());
    }
    Ok((s, json!(list)))
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

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

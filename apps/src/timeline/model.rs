//! What `meshrtc timeline` draws, built from captures and traces: the
//! lanes (one per endpoint), and rows in time order, each an arrow for
//! one signalling packet, a run of media packets (one stream, one
//! second), or a note (a traced state change or decision).
//!
//! Every packet goes through the same inspector as `meshrtc decode FILE`
//! ([`crate::decode_capture::for_each_datagram`]), so the explanation a
//! click shows is that command's text for the packet, and the phase and
//! label are read from its JSON:
//!
//! - STUN: *ICE checks* (RFC 8445 §7.2); a USERNAME with a new ufrag on a
//!   pair of lanes already checked is an ICE restart: *renegotiation*
//!   (RFC 8445 §9).
//! - DTLS: *DTLS flights* (RFC 6347 §4.2.4), numbered as the sender
//!   changes; application data (SCTP) is *data channel* (RFC 8261).
//! - The first RTP packet of each stream in each direction: *first SRTP*
//!   (RFC 3711 §3.3); the rest fold into runs per stream and second.
//! - RTCP: *RTCP feedback* (RFC 3550 §6, RFC 4585 §6).

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;

use serde_json::{json, Value};

use super::trace::TraceRecord;
use crate::capture::read::CaptureFile;
use crate::decode_capture::{connection_keys, for_each_datagram, packet_heading, CaptureOptions};

/// The kind of a row, which its filter checkbox names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A STUN message.
    Stun,
    /// A DTLS datagram.
    Dtls,
    /// An RTP packet or a run of them.
    Rtp,
    /// An RTCP compound.
    Rtcp,
    /// Anything else (garbage, not UDP).
    Other,
}

impl Kind {
    /// The class name the page uses.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Stun => "stun",
            Kind::Dtls => "dtls",
            Kind::Rtp => "rtp",
            Kind::Rtcp => "rtcp",
            Kind::Other => "other",
        }
    }
}

/// One packet: when, between which lanes, its one-line label and its
/// explanation (an index into [`Timeline::explanations`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Arrow {
    /// Seconds from the timeline's start.
    pub t: f64,
    /// Sender's lane.
    pub from: usize,
    /// Receiver's lane.
    pub to: usize,
    /// A short label ("Binding request", "flight 1: ClientHello").
    pub label: String,
    /// Index of its explanation.
    pub explain: usize,
}

/// A row of the diagram.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    /// One packet.
    Arrow {
        /// STUN, DTLS, first RTP, RTCP or other.
        kind: Kind,
        /// The phase it belongs to.
        phase: &'static str,
        /// The packet.
        arrow: Arrow,
    },
    /// Media packets of one stream in one second, folded.
    Run {
        /// The stream's SSRC.
        ssrc: u32,
        /// Bytes in all.
        bytes: usize,
        /// Its packets, in time order.
        packets: Vec<Arrow>,
    },
    /// A traced event on a lane.
    Note {
        /// Seconds from the timeline's start.
        t: f64,
        /// Its lane.
        lane: usize,
        /// The message.
        label: String,
        /// The message with its fields, spans and target.
        detail: String,
    },
}

impl Row {
    fn time(&self) -> f64 {
        match self {
            Row::Arrow { arrow, .. } => arrow.t,
            Row::Run { packets, .. } => packets.first().map_or(0.0, |a| a.t),
            Row::Note { t, .. } => *t,
        }
    }
}

/// The whole diagram.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    /// Lane names: endpoints (capture interfaces, trace endpoints) and
    /// remote addresses no capture names.
    pub lanes: Vec<String>,
    /// Rows, in time order.
    pub rows: Vec<Row>,
    /// Every packet's `meshrtc decode` text, heading included.
    pub explanations: Vec<String>,
    /// Packets read, and packets merged into another capture's copy of
    /// the same datagram.
    pub packets: usize,
    /// See `packets`.
    pub merged: usize,
    /// Microseconds since the Unix epoch at time 0.
    pub start_us: u64,
}

/// Names of the DTLS handshake types (RFC 6347 §4.3.2, RFC 9147 §5).
fn handshake_name(t: u64) -> String {
    match t {
        1 => "ClientHello".into(),
        2 => "ServerHello".into(),
        3 => "HelloVerifyRequest".into(),
        4 => "NewSessionTicket".into(),
        8 => "EncryptedExtensions".into(),
        11 => "Certificate".into(),
        12 => "ServerKeyExchange".into(),
        13 => "CertificateRequest".into(),
        14 => "ServerHelloDone".into(),
        15 => "CertificateVerify".into(),
        16 => "ClientKeyExchange".into(),
        20 => "Finished".into(),
        n => format!("handshake {n}"),
    }
}

/// The label of a DTLS datagram from its records, and whether it is
/// application data only.
fn dtls_label(records: &Value) -> (String, bool) {
    let mut parts: Vec<String> = Vec::new();
    let mut app_only = true;
    for r in records.as_array().into_iter().flatten() {
        let ct = r["content_type"].as_u64().unwrap_or(0);
        app_only &= ct == 23;
        let epoch = r["epoch"].as_u64().unwrap_or(0);
        let part = match ct {
            22 if epoch > 0 => "encrypted handshake (Finished)".to_string(),
            22 => r["handshake"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["type"].as_u64())
                .map(handshake_name)
                .collect::<Vec<_>>()
                .join(", "),
            20 => "ChangeCipherSpec".into(),
            21 => "Alert".into(),
            23 => "application data".into(),
            n => format!("record type {n}"),
        };
        if !part.is_empty() && parts.last() != Some(&part) {
            parts.push(part);
        }
    }
    if parts.is_empty() {
        app_only = false;
        parts.push("DTLS".into());
    }
    (parts.join(", "), app_only)
}

/// The label of a STUN message and its USERNAME's first ufrag.
fn stun_label(stun: &Value) -> (String, Option<String>) {
    let method = stun["method"].as_str().unwrap_or("?");
    let class = stun["class"].as_str().unwrap_or("?");
    let attrs = stun["attributes"].as_array();
    let has = |name: &str| {
        attrs
            .into_iter()
            .flatten()
            .any(|a| a["type"].as_str() == Some(name))
    };
    let username = attrs
        .into_iter()
        .flatten()
        .find(|a| a["type"].as_str() == Some("USERNAME"))
        .and_then(|a| a["value"].as_str())
        .and_then(|u| u.split(':').next())
        .map(str::to_string);
    let mut label = format!("{method} {class}");
    if has("USE-CANDIDATE") {
        label.push_str(" USE-CANDIDATE");
    }
    (label, username)
}

/// The label of an RTCP compound: its packet types.
fn rtcp_label(rtcp: &Value) -> String {
    let types: Vec<String> = rtcp
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| match &p["type"] {
            Value::String(s) => s.clone(),
            Value::Number(n) => format!("type {n}"),
            _ => "?".into(),
        })
        .collect();
    if types.is_empty() {
        "RTCP".into()
    } else {
        format!("RTCP {}", types.join(" + "))
    }
}

fn micros(t: (u64, u32)) -> u64 {
    t.0.saturating_mul(1_000_000)
        .saturating_add(u64::from(t.1 / 1000))
}

/// One packet as the builder sees it, from any capture.
struct Seen {
    time_us: u64,
    src: SocketAddr,
    dst: SocketAddr,
    outbound: Option<bool>,
    lane: Option<String>,
    digest: u64,
    json: Value,
    explain: String,
}

/// Builds the timeline of `captures` (each with its name, for lanes
/// when two files name an interface alike) and trace `records`.
pub fn build(
    captures: &[(String, CaptureFile)],
    records: &[TraceRecord],
    o: &CaptureOptions<'_>,
) -> Timeline {
    let mut seen: Vec<Seen> = Vec::new();
    let mut not_udp: Vec<(u64, String)> = Vec::new();
    let mut lane_names: Vec<String> = Vec::new();
    for (name, file) in captures {
        let keys = connection_keys(file, o);
        // The same interface name in two files (two `join`s named alike)
        // stays two lanes.
        let clash = captures.len() > 1
            && lane_names
                .iter()
                .any(|l| file.interfaces.iter().any(|i| i == l));
        for_each_datagram(file, &keys, o, |n, t, p, iface, dgram, report| {
            let lane = (!iface.is_empty()).then(|| {
                if clash {
                    format!("{name}:{iface}")
                } else {
                    iface.to_string()
                }
            });
            match (dgram, report) {
                (Ok(d), Some(r)) => {
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    d.payload.hash(&mut h);
                    seen.push(Seen {
                        time_us: micros(p.time),
                        src: d.src,
                        dst: d.dst,
                        outbound: p.outbound,
                        lane: lane.clone(),
                        digest: h.finish(),
                        json: r.to_json(),
                        explain: format!("{}\n{}", packet_heading(n, t, p, iface, d), r.to_text()),
                    })
                }
                (d, _) => not_udp.push((
                    micros(p.time),
                    format!(
                        "packet {} of {name}: not a UDP datagram ({})",
                        n + 1,
                        d.err().map(|e| e.to_string()).unwrap_or_default()
                    ),
                )),
            }
        });
        for i in &file.interfaces {
            let l = if clash {
                format!("{name}:{i}")
            } else {
                i.clone()
            };
            if !lane_names.contains(&l) {
                lane_names.push(l);
            }
        }
    }
    seen.sort_by_key(|s| s.time_us);
    // Which lane each local address is: the interface whose packets it
    // sends from or receives at.
    let mut addr_lane: HashMap<SocketAddr, String> = HashMap::new();
    for s in &seen {
        if let (Some(out), Some(l)) = (s.outbound, &s.lane) {
            let local = if out { s.src } else { s.dst };
            addr_lane.entry(local).or_insert_with(|| l.clone());
        }
    }
    let mut tl = Timeline {
        start_us: seen
            .first()
            .map(|s| s.time_us)
            .into_iter()
            .chain(records.iter().map(|r| r.time_us))
            .chain(not_udp.iter().map(|n| n.0))
            .min()
            .unwrap_or(0),
        ..Timeline::default()
    };
    let lane_of = |name: &str, lanes: &mut Vec<String>| match lanes.iter().position(|l| l == name) {
        Some(i) => i,
        None => {
            lanes.push(name.to_string());
            lanes.len() - 1
        }
    };
    let mut lanes = lane_names;
    let secs = |us: u64, start: u64| us.saturating_sub(start) as f64 / 1e6;
    // Copies of one datagram from another interface (its sender's and its
    // receiver's) wait here to be merged into one arrow.
    let mut pending: HashMap<(SocketAddr, SocketAddr, u64), VecDeque<bool>> = HashMap::new();
    let mut flight: HashMap<(usize, usize), (usize, usize)> = HashMap::new();
    let mut ufrags: HashMap<(usize, usize), String> = HashMap::new();
    let mut first_rtp: std::collections::HashSet<(usize, usize, u64)> = Default::default();
    let mut runs: HashMap<(usize, usize, u32, u64), usize> = HashMap::new();
    for s in seen {
        tl.packets += 1;
        let key = (s.src, s.dst, s.digest);
        if let Some(out) = s.outbound {
            let q = pending.entry(key).or_default();
            if let Some(pos) = q.iter().position(|o| *o != out) {
                q.remove(pos);
                tl.merged += 1;
                continue;
            }
            q.push_back(out);
        }
        let src_lane = addr_lane
            .get(&s.src)
            .cloned()
            .unwrap_or_else(|| s.src.to_string());
        let dst_lane = addr_lane
            .get(&s.dst)
            .cloned()
            .unwrap_or_else(|| s.dst.to_string());
        let from = lane_of(&src_lane, &mut lanes);
        let to = lane_of(&dst_lane, &mut lanes);
        let t = secs(s.time_us, tl.start_us);
        let explain = tl.explanations.len();
        tl.explanations.push(s.explain);
        let arrow = |label: String| Arrow {
            t,
            from,
            to,
            label,
            explain,
        };
        let pair = (from.min(to), from.max(to));
        let row = match s.json["class"].as_str() {
            Some("STUN") => {
                let (label, ufrag) = stun_label(&s.json["stun"]);
                let phase = match (ufrag, ufrags.get(&(from, to))) {
                    (Some(u), Some(old)) if *old != u => {
                        ufrags.insert((from, to), u);
                        "renegotiation"
                    }
                    (Some(u), None) => {
                        ufrags.insert((from, to), u);
                        "ICE checks"
                    }
                    _ => "ICE checks",
                };
                Row::Arrow {
                    kind: Kind::Stun,
                    phase,
                    arrow: arrow(label),
                }
            }
            Some("DTLS") => {
                let (label, app) = dtls_label(&s.json["dtls"]);
                if app {
                    Row::Arrow {
                        kind: Kind::Dtls,
                        phase: "data channel",
                        arrow: arrow(label),
                    }
                } else {
                    let f = flight.entry(pair).or_insert((0, usize::MAX));
                    if f.1 != from {
                        *f = (f.0 + 1, from);
                    }
                    Row::Arrow {
                        kind: Kind::Dtls,
                        phase: "DTLS flights",
                        arrow: arrow(format!("flight {}: {label}", f.0)),
                    }
                }
            }
            Some("RTP") => {
                let ssrc = s.json["rtp"]["ssrc"].as_u64().unwrap_or(0);
                let a = arrow(format!(
                    "RTP ssrc {ssrc:#010x} seq {}",
                    s.json["rtp"]["sequence"].as_u64().unwrap_or(0)
                ));
                if first_rtp.insert((from, to, ssrc)) {
                    Row::Arrow {
                        kind: Kind::Rtp,
                        phase: "first SRTP",
                        arrow: a,
                    }
                } else {
                    let k = (from, to, ssrc as u32, (t.max(0.0)) as u64);
                    let len = s.json["length"].as_u64().unwrap_or(0) as usize;
                    match runs.get(&k) {
                        Some(&i) => {
                            if let Some(Row::Run { packets, bytes, .. }) = tl.rows.get_mut(i) {
                                packets.push(a);
                                *bytes += len;
                            }
                            continue;
                        }
                        None => {
                            runs.insert(k, tl.rows.len());
                            Row::Run {
                                ssrc: ssrc as u32,
                                bytes: len,
                                packets: vec![a],
                            }
                        }
                    }
                }
            }
            Some("RTCP") => Row::Arrow {
                kind: Kind::Rtcp,
                phase: "RTCP feedback",
                arrow: arrow(rtcp_label(&s.json["rtcp"])),
            },
            _ => Row::Arrow {
                kind: Kind::Other,
                phase: "other",
                arrow: arrow(format!(
                    "{} ({} bytes)",
                    s.json["class"].as_str().unwrap_or("unknown"),
                    s.json["length"]
                )),
            },
        };
        tl.rows.push(row);
    }
    for r in records {
        let lane = lane_of(&r.endpoint, &mut lanes);
        let mut detail = r.message.clone();
        for (k, v) in r.fields.iter().chain(&r.spans) {
            detail.push_str(&format!("\n  {k} = {v}"));
        }
        detail.push_str(&format!("\n  ({} {}, {})", r.level, r.target, r.endpoint));
        let mut label = r.message.clone();
        if label.is_empty() {
            label = r
                .fields
                .first()
                .map(|(k, v)| format!("{k}={v}"))
                .unwrap_or_default();
        }
        tl.rows.push(Row::Note {
            t: secs(r.time_us, tl.start_us),
            lane,
            label,
            detail,
        });
    }
    for (us, text) in not_udp {
        let lane = lane_of("(not UDP)", &mut lanes);
        tl.rows.push(Row::Note {
            t: secs(us, tl.start_us),
            lane,
            label: "not a UDP datagram".into(),
            detail: text,
        });
    }
    tl.rows.sort_by(|a, b| a.time().total_cmp(&b.time()));
    tl.lanes = lanes;
    tl
}

impl Timeline {
    /// The data the page draws, as JSON.
    pub fn to_json(&self) -> Value {
        let arrow = |a: &Arrow| json!({"t": a.t, "from": a.from, "to": a.to, "label": a.label, "x": a.explain});
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| match r {
                Row::Arrow { kind, phase, arrow: a } => {
                    let mut v = arrow(a);
                    v["type"] = json!("arrow");
                    v["kind"] = json!(kind.name());
                    v["phase"] = json!(phase);
                    v
                }
                Row::Run { ssrc, bytes, packets } => {
                    let first = &packets[0];
                    json!({
                        "type": "run", "kind": "rtp", "phase": "media",
                        "t": first.t, "t_end": packets.last().map_or(first.t, |a| a.t),
                        "from": first.from, "to": first.to,
                        "label": format!("RTP ssrc {ssrc:#010x}: {} packets, {bytes} bytes", packets.len()),
                        "packets": packets.iter().map(arrow).collect::<Vec<_>>(),
                    })
                }
                Row::Note { t, lane, label, detail } => json!({
                    "type": "note", "kind": "note", "t": t, "lane": lane,
                    "label": label, "detail": detail,
                }),
            })
            .collect();
        json!({
            "lanes": self.lanes,
            "rows": rows,
            "explain": self.explanations,
            "start_us": self.start_us,
            "packets": self.packets,
            "merged": self.merged,
        })
    }
}

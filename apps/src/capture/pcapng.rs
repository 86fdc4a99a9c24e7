//! pcapng blocks, written (draft-ietf-opsawg-pcapng, "PCAP Next
//! Generation Dump File Format"): the Section Header Block (§4.1), the
//! Interface Description Block (§4.2), the Enhanced Packet Block (§4.3)
//! and the Decryption Secrets Block (§4.7), in little-endian byte order.
//!
//! Every block is `type, total length, body, total length`; the body and
//! each option value are padded to 32 bits. Options are `code, length,
//! value` and end with `opt_endofopt` (§3.5).

/// Block types (§11.1).
pub mod block {
    /// Section Header Block.
    pub const SHB: u32 = 0x0A0D_0D0A;
    /// Interface Description Block.
    pub const IDB: u32 = 0x0000_0001;
    /// Simple Packet Block.
    pub const SPB: u32 = 0x0000_0003;
    /// Enhanced Packet Block.
    pub const EPB: u32 = 0x0000_0006;
    /// Decryption Secrets Block.
    pub const DSB: u32 = 0x0000_000A;
}

/// The byte-order magic of the Section Header Block (§4.1).
pub const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// `LINKTYPE_RAW`: the packet starts with an IPv4 or IPv6 header, told
/// apart by its version nibble.
pub const LINKTYPE_RAW: u16 = 101;
/// The Decryption Secrets Block's secrets type for a TLS key log ("TLSK",
/// §4.7): NSS key log lines, which DTLS uses too.
pub const SECRETS_TLS_KEYLOG: u32 = 0x544c_534b;

/// Option codes (§3.5, §4.2, §4.3).
pub mod opt {
    /// End of options.
    pub const END: u16 = 0;
    /// `opt_comment`: UTF-8 text, on any block.
    pub const COMMENT: u16 = 1;
    /// `shb_userappl`: the application that wrote the section.
    pub const SHB_USERAPPL: u16 = 4;
    /// `if_name`.
    pub const IF_NAME: u16 = 2;
    /// `if_tsresol`: 6 = microseconds (the default, written anyway).
    pub const IF_TSRESOL: u16 = 9;
    /// `epb_flags`: bits 0-1 the direction (1 inbound, 2 outbound).
    pub const EPB_FLAGS: u16 = 2;
}

/// `epb_flags` direction values (§4.3.1).
pub const FLAG_INBOUND: u32 = 1;
/// See [`FLAG_INBOUND`].
pub const FLAG_OUTBOUND: u32 = 2;

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

/// Options of one block, encoded as they go.
#[derive(Debug, Default)]
pub struct Options(Vec<u8>);

impl Options {
    /// No options yet.
    pub fn new() -> Options {
        Options::default()
    }

    /// Adds an option; values longer than 65535 bytes are cut (no option
    /// we write comes near).
    pub fn push(&mut self, code: u16, value: &[u8]) -> &mut Options {
        let value = &value[..value.len().min(usize::from(u16::MAX))];
        self.0.extend_from_slice(&code.to_le_bytes());
        self.0
            .extend_from_slice(&(value.len() as u16).to_le_bytes());
        self.0.extend_from_slice(value);
        self.0.extend(std::iter::repeat_n(0, pad4(value.len())));
        self
    }

    /// The encoded options with their end marker, or nothing when empty.
    fn finish(&self) -> Vec<u8> {
        if self.0.is_empty() {
            return Vec::new();
        }
        let mut v = self.0.clone();
        v.extend_from_slice(&opt::END.to_le_bytes());
        v.extend_from_slice(&0u16.to_le_bytes());
        v
    }
}

/// A whole block: type, length, `body` (padded), options, length.
fn block(kind: u32, body: &[u8], options: &Options) -> Vec<u8> {
    let options = options.finish();
    let total = 12 + body.len() + pad4(body.len()) + options.len();
    let mut v = Vec::with_capacity(total);
    v.extend_from_slice(&kind.to_le_bytes());
    v.extend_from_slice(&(total as u32).to_le_bytes());
    v.extend_from_slice(body);
    v.extend(std::iter::repeat_n(0, pad4(body.len())));
    v.extend_from_slice(&options);
    v.extend_from_slice(&(total as u32).to_le_bytes());
    v
}

/// A Section Header Block (version 1.0, section length unknown) naming
/// the application.
pub fn section_header(application: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(16);
    body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&(-1i64).to_le_bytes());
    let mut o = Options::new();
    o.push(opt::SHB_USERAPPL, application.as_bytes());
    block(block::SHB, &body, &o)
}

/// An Interface Description Block: `LINKTYPE_RAW`, no snap length limit,
/// microsecond timestamps, the interface's `name`.
pub fn interface(name: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(8);
    body.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&0u32.to_le_bytes());
    let mut o = Options::new();
    o.push(opt::IF_NAME, name.as_bytes());
    o.push(opt::IF_TSRESOL, &[6]);
    block(block::IDB, &body, &o)
}

/// An Enhanced Packet Block on `interface_id` at `micros` since the Unix
/// epoch, with the direction flag and any comments.
pub fn packet(
    interface_id: u32,
    micros: u64,
    outbound: bool,
    data: &[u8],
    comments: &[String],
) -> Vec<u8> {
    let mut body = Vec::with_capacity(20 + data.len());
    body.extend_from_slice(&interface_id.to_le_bytes());
    body.extend_from_slice(&((micros >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(micros as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(data);
    let mut o = Options::new();
    for c in comments {
        o.push(opt::COMMENT, c.as_bytes());
    }
    let flags = if outbound {
        FLAG_OUTBOUND
    } else {
        FLAG_INBOUND
    };
    o.push(opt::EPB_FLAGS, &flags.to_le_bytes());
    block(block::EPB, &body, &o)
}

/// A Decryption Secrets Block holding NSS key log `lines` (each ends with
/// a newline).
pub fn tls_key_log(lines: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(8 + lines.len());
    body.extend_from_slice(&SECRETS_TLS_KEYLOG.to_le_bytes());
    body.extend_from_slice(&(lines.len() as u32).to_le_bytes());
    body.extend_from_slice(lines.as_bytes());
    block(block::DSB, &body, &Options::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(b: &[u8], i: usize) -> u32 {
        u32::from_le_bytes(b[i..i + 4].try_into().unwrap())
    }

    #[test]
    fn section_header_has_the_magic_version_and_matching_lengths() {
        let b = section_header("meshrtc");
        assert_eq!(u32_at(&b, 0), block::SHB);
        assert_eq!(u32_at(&b, 4) as usize, b.len());
        assert_eq!(u32_at(&b, b.len() - 4) as usize, b.len());
        assert_eq!(u32_at(&b, 8), BYTE_ORDER_MAGIC);
        assert_eq!(&b[12..16], &[1, 0, 0, 0]);
        assert_eq!(&b[16..24], &[0xff; 8]);
        // shb_userappl "meshrtc" (7 bytes, one byte of padding), then the end.
        assert_eq!(&b[24..28], &[4, 0, 7, 0]);
        assert_eq!(&b[28..35], b"meshrtc");
        assert_eq!(b[35], 0);
        assert_eq!(&b[36..40], &[0, 0, 0, 0]);
        assert_eq!(b.len(), 44);
    }

    #[test]
    fn interface_is_raw_ip_with_microsecond_stamps() {
        let b = interface("p1");
        assert_eq!(u32_at(&b, 0), block::IDB);
        assert_eq!(&b[8..10], &LINKTYPE_RAW.to_le_bytes());
        assert_eq!(u32_at(&b, 12), 0, "snaplen");
        assert_eq!(&b[16..22], &[2, 0, 2, 0, b'p', b'1']);
        assert_eq!(&b[24..29], &[9, 0, 1, 0, 6]);
        assert_eq!(b.len() % 4, 0);
        assert_eq!(u32_at(&b, b.len() - 4) as usize, b.len());
    }

    #[test]
    fn packet_pads_its_data_and_carries_time_direction_and_comment() {
        let micros = 0x0000_0001_2345_6789u64;
        let b = packet(3, micros, true, &[1, 2, 3, 4, 5], &["hi".into()]);
        assert_eq!(u32_at(&b, 0), block::EPB);
        assert_eq!(u32_at(&b, 8), 3);
        assert_eq!(u32_at(&b, 12), 1);
        assert_eq!(u32_at(&b, 16), 0x2345_6789);
        assert_eq!((u32_at(&b, 20), u32_at(&b, 24)), (5, 5));
        assert_eq!(&b[28..36], &[1, 2, 3, 4, 5, 0, 0, 0]);
        assert_eq!(&b[36..42], &[1, 0, 2, 0, b'h', b'i']);
        assert_eq!(&b[44..52], &[2, 0, 4, 0, 2, 0, 0, 0], "outbound flag");
        assert_eq!(&b[52..56], &[0; 4]);
        assert_eq!(u32_at(&b, 4) as usize, b.len());
        assert_eq!(u32_at(&b, b.len() - 4) as usize, b.len());
    }

    #[test]
    fn key_log_block_is_tlsk_with_the_lines() {
        let lines = "CLIENT_RANDOM 00 11\n";
        let b = tls_key_log(lines);
        assert_eq!(u32_at(&b, 0), block::DSB);
        assert_eq!(u32_at(&b, 8), SECRETS_TLS_KEYLOG);
        assert_eq!(&b[8..12], b"KSLT", "'TLSK' little-endian");
        assert_eq!(u32_at(&b, 12) as usize, lines.len());
        assert_eq!(&b[16..16 + lines.len()], lines.as_bytes());
        assert_eq!(b.len() % 4, 0);
    }
}

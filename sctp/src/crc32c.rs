//! CRC32c (Castagnoli), the SCTP checksum (RFC 9260 §6.8 and Appendix A;
//! first specified for SCTP by RFC 3309).
//!
//! Reflected polynomial 0x82F63B78, initial value and final XOR all ones.
//! Table-driven, eight bytes per step ("slicing-by-8"); the tables are built
//! at compile time.

const POLY: u32 = 0x82F6_3B78;

const fn make_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut s = 1;
    while s < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        s += 1;
    }
    t
}

static TABLES: [[u32; 256]; 8] = make_tables();

/// Continues a CRC32c over `data` from a raw (not yet inverted) state.
fn update(mut crc: u32, data: &[u8]) -> u32 {
    let t = &TABLES;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let lo = crc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        crc = t[7][(lo & 0xff) as usize]
            ^ t[6][((lo >> 8) & 0xff) as usize]
            ^ t[5][((lo >> 16) & 0xff) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][c[4] as usize]
            ^ t[2][c[5] as usize]
            ^ t[1][c[6] as usize]
            ^ t[0][c[7] as usize];
    }
    for &b in chunks.remainder() {
        crc = (crc >> 8) ^ t[0][((crc ^ b as u32) & 0xff) as usize];
    }
    crc
}

/// CRC32c of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    !update(!0, data)
}

/// CRC32c of an SCTP packet as if its checksum field (bytes 8..12) were
/// zero (RFC 9260 §6.8), without copying the packet. `packet` must be at
/// least 12 bytes long.
pub(crate) fn sctp_checksum(packet: &[u8]) -> u32 {
    let crc = update(!0, &packet[..8]);
    let crc = update(crc, &[0u8; 4]);
    !update(crc, &packet[12..])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The "check" value of CRC-32C (the CRC catalogue's standard test).
    #[test]
    fn crc32c_of_123456789_is_the_catalogue_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    /// RFC 3720 §B.4 (iSCSI uses the same CRC32c) test vectors.
    #[test]
    fn crc32c_matches_rfc3720_vectors() {
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
        let inc: Vec<u8> = (0u8..32).collect();
        assert_eq!(crc32c(&inc), 0x46DD_794E);
        let dec: Vec<u8> = (0u8..32).rev().collect();
        assert_eq!(crc32c(&dec), 0x113F_DB5C);
    }

    #[test]
    fn sliced_and_bytewise_paths_agree_at_every_length() {
        let data: Vec<u8> = (0..100u32).map(|i| (i * 37 + 11) as u8).collect();
        for n in 0..data.len() {
            let mut crc = !0u32;
            for &b in &data[..n] {
                crc = (crc >> 8) ^ TABLES[0][((crc ^ b as u32) & 0xff) as usize];
            }
            assert_eq!(crc32c(&data[..n]), !crc, "length {n}");
        }
    }

    #[test]
    fn sctp_checksum_treats_the_checksum_field_as_zero() {
        let mut p: Vec<u8> = (0..40u8).collect();
        let want = {
            let mut z = p.clone();
            z[8..12].fill(0);
            crc32c(&z)
        };
        p[8..12].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(sctp_checksum(&p), want);
    }
}

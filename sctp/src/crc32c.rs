//! CRC32c (Castagnoli), the SCTP checksum (RFC 9260 §6.8 and Appendix A;
//! first specified for SCTP by RFC 3309).
//!
//! Reflected polynomial 0x82F63B78, initial value and final XOR all ones.
//! Computed by the `crc32c` crate, which uses the CPU's CRC instructions
//! (SSE 4.2, ARMv8) where present; the tests check it against the RFC 3720
//! vectors and a table-driven implementation written from the definition.

/// CRC32c of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    ::crc32c::crc32c(data)
}

/// CRC32c of an SCTP packet as if its checksum field (bytes 8..12) were
/// zero (RFC 9260 §6.8), without copying the packet. `packet` must be at
/// least 12 bytes long.
pub(crate) fn sctp_checksum(packet: &[u8]) -> u32 {
    let crc = ::crc32c::crc32c(&packet[..8]);
    let crc = ::crc32c::crc32c_append(crc, &[0u8; 4]);
    ::crc32c::crc32c_append(crc, &packet[12..])
}

/// A table-driven CRC32c written from the definition, the oracle the
/// library is checked against.
#[cfg(test)]
mod reference {
    const POLY: u32 = 0x82F6_3B78;

    pub fn crc32c(data: &[u8]) -> u32 {
        let mut table = [0u32; 256];
        for (i, t) in table.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            }
            *t = c;
        }
        let mut crc = !0u32;
        for &b in data {
            crc = (crc >> 8) ^ table[((crc ^ b as u32) & 0xff) as usize];
        }
        !crc
    }
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
    fn library_agrees_with_the_reference_at_every_length_and_offset() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 37 + 11) as u8).collect();
        for start in 0..9 {
            for end in start..data.len() {
                let d = &data[start..end];
                assert_eq!(crc32c(d), reference::crc32c(d), "{start}..{end}");
            }
        }
        assert_eq!(reference::crc32c(b"123456789"), 0xE306_9283);
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

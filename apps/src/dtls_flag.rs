//! `--dtls 1.2|1.3|both`: which DTLS versions a call speaks (RFC 6347,
//! RFC 9147), for `offer`, `answer`, `join` and `demo`.

use meshrtc_peer::DtlsVersions;

/// The `--dtls` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DtlsFlag {
    /// DTLS 1.2 only.
    #[value(name = "1.2")]
    V12,
    /// DTLS 1.3 only.
    #[value(name = "1.3")]
    V13,
    /// Both: 1.3 when the peer speaks it, else 1.2.
    #[default]
    #[value(name = "both")]
    Both,
}

impl From<DtlsFlag> for DtlsVersions {
    fn from(f: DtlsFlag) -> DtlsVersions {
        match f {
            DtlsFlag::V12 => DtlsVersions::Dtls12Only,
            DtlsFlag::V13 => DtlsVersions::Dtls13Only,
            DtlsFlag::Both => DtlsVersions::Both,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn flag_values_map_to_versions() {
        let parse = |s| DtlsVersions::from(DtlsFlag::from_str(s, false).unwrap());
        assert_eq!(parse("1.2"), DtlsVersions::Dtls12Only);
        assert_eq!(parse("1.3"), DtlsVersions::Dtls13Only);
        assert_eq!(parse("both"), DtlsVersions::Both);
        assert!(DtlsFlag::from_str("1.1", false).is_err());
    }
}

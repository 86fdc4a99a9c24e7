//! Alert descriptions (RFC 5246 §7.2, RFC 8446 §6) and their names.

/// The TLS alert descriptions we send or name (RFC 5246 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertDescription(pub u8);

impl AlertDescription {
    /// The name RFC 5246 §7.2 (and RFC 8446 §6 for later ones) gives it.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "close_notify",
            10 => "unexpected_message",
            20 => "bad_record_mac",
            22 => "record_overflow",
            40 => "handshake_failure",
            42 => "bad_certificate",
            43 => "unsupported_certificate",
            44 => "certificate_revoked",
            45 => "certificate_expired",
            46 => "certificate_unknown",
            47 => "illegal_parameter",
            48 => "unknown_ca",
            49 => "access_denied",
            50 => "decode_error",
            51 => "decrypt_error",
            70 => "protocol_version",
            71 => "insufficient_security",
            80 => "internal_error",
            86 => "inappropriate_fallback",
            90 => "user_canceled",
            100 => "no_renegotiation",
            109 => "missing_extension",
            110 => "unsupported_extension",
            _ => return None,
        })
    }
}

impl std::fmt::Display for AlertDescription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{} ({n})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

pub(super) fn alert_level_name(level: u8) -> &'static str {
    match level {
        1 => "warning",
        2 => "fatal",
        _ => "unknown-level",
    }
}

#[allow(missing_docs)]
impl AlertDescription {
    pub const CLOSE_NOTIFY: AlertDescription = AlertDescription(0);
    pub const UNEXPECTED_MESSAGE: AlertDescription = AlertDescription(10);
    pub const BAD_RECORD_MAC: AlertDescription = AlertDescription(20);
    pub const HANDSHAKE_FAILURE: AlertDescription = AlertDescription(40);
    pub const BAD_CERTIFICATE: AlertDescription = AlertDescription(42);
    pub const UNSUPPORTED_CERTIFICATE: AlertDescription = AlertDescription(43);
    pub const ILLEGAL_PARAMETER: AlertDescription = AlertDescription(47);
    pub const DECODE_ERROR: AlertDescription = AlertDescription(50);
    pub const DECRYPT_ERROR: AlertDescription = AlertDescription(51);
    pub const PROTOCOL_VERSION: AlertDescription = AlertDescription(70);
    pub const INSUFFICIENT_SECURITY: AlertDescription = AlertDescription(71);
    pub const INTERNAL_ERROR: AlertDescription = AlertDescription(80);
    pub const UNSUPPORTED_EXTENSION: AlertDescription = AlertDescription(110);
}

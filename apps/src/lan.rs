//! What `meshrtc serve` prints so that a phone on the same network can
//! join: a URL per interface address and a QR code of each.

use std::net::{IpAddr, SocketAddr};

use qrcode::render::unicode::Dense1x2;
use qrcode::QrCode;

/// This machine's interface addresses (from the OS, no network traffic),
/// IPv4 before IPv6, loopback only if `with_loopback`. IPv6 link-local
/// addresses are left out: a URL cannot carry their zone portably.
pub fn interface_addresses(with_loopback: bool) -> Vec<IpAddr> {
    let mut addrs: Vec<IpAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|i| i.ip())
        .filter(|ip| with_loopback || !ip.is_loopback())
        .filter(|ip| match ip {
            IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
            IpAddr::V4(_) => true,
        })
        .collect();
    addrs.sort_by_key(|ip| (ip.is_ipv6(), ip.is_loopback(), *ip));
    addrs.dedup();
    addrs
}

/// The room page's URLs a browser can open: one per interface address for
/// a server listening on every address (loopback last), else the one
/// address it listens on.
pub fn room_urls(listen: SocketAddr, https: bool) -> Vec<String> {
    let scheme = if https { "https" } else { "http" };
    reachable_ips(listen)
        .into_iter()
        .map(|ip| format!("{scheme}://{}/room", SocketAddr::new(ip, listen.port())))
        .collect()
}

/// The addresses a socket bound to `listen` answers at: every interface
/// address of its family for an unspecified address (loopback last), else
/// that address.
pub fn reachable_ips(listen: SocketAddr) -> Vec<IpAddr> {
    if listen.ip().is_unspecified() {
        // A socket on 0.0.0.0 takes IPv4 only.
        interface_addresses(true)
            .into_iter()
            .filter(|ip| listen.is_ipv6() || ip.is_ipv4())
            .collect()
    } else {
        vec![listen.ip()]
    }
}

/// A QR code of `text` for a terminal: two modules per character cell
/// (half blocks), dark on light with the quiet zone, so phones read it
/// from a dark or a light terminal alike.
pub fn qr_for_terminal(text: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_urls_name_the_listening_address_and_port() {
        let urls = room_urls("127.0.0.1:8443".parse().unwrap(), true);
        assert_eq!(urls, vec!["https://127.0.0.1:8443/room".to_owned()]);
        let all = room_urls("0.0.0.0:8080".parse().unwrap(), false);
        // Every machine has at least its loopback interface.
        assert!(
            all.contains(&"http://127.0.0.1:8080/room".to_owned()),
            "{all:?}"
        );
        assert!(all
            .iter()
            .all(|u| u.starts_with("http://") && u.ends_with(":8080/room")));
        assert_eq!(
            all.last().unwrap(),
            "http://127.0.0.1:8080/room",
            "loopback last"
        );
    }

    #[test]
    fn qr_code_is_square_and_has_finder_patterns() {
        let qr = qr_for_terminal("https://192.168.1.20:8443/room").unwrap();
        let lines: Vec<&str> = qr.lines().collect();
        let width = lines[0].chars().count();
        // Version 3 (29 modules) with a 4-module quiet zone on each side:
        // 37 columns and 37 rows, two rows per line.
        assert_eq!(width, 37);
        assert_eq!(lines.len(), 37_usize.div_ceil(2));
        assert!(lines.iter().all(|l| l.chars().count() == width));
        // The top-left finder pattern: a row of 7 dark modules after the
        // quiet zone, drawn as blank (dark on a light rendering is space).
        let row = lines[2];
        let cells: Vec<char> = row.chars().collect();
        assert!(cells[4..11].iter().all(|&c| c != '█'), "{row:?}");
    }
}

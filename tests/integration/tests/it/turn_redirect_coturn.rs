//! 300 Try Alternate over TCP and over TLS (RFC 8489 §10, RFC 8656 §7.2),
//! and TLS to a `turns:` server checked for its host name, live with
//! coturn, through the tokio peer driver.
//!
//! In a private network namespace: coturn "A" on 127.0.0.1 answers every
//! Allocate with 300 naming coturn "B" on 127.0.0.3
//! (`--alternate-server`, `--tls-alternate-server`). Member A knows only
//! coturn A, over TCP or over TLS, and uses relay candidates only; the
//! driver opens a new connection to B and the allocation is made there:
//! A's only relay candidate is on 127.0.0.3. Member B (relay only, UDP to
//! coturn B) calls A; Opus is decoded both ways.
//!
//! Both coturns present one self-signed certificate valid for the name
//! `localhost` only (no IP address in it). A names coturn A as
//! `turns:localhost` (resolved by the caller into 127.0.0.1, host name
//! kept): the handshake passes only because the name, not the address,
//! is checked, and B's certificate is checked for the same name (§10:
//! no ALTERNATE-DOMAIN, so the original one). A certificate for another
//! name is refused, with a clear error and a counter.
//!
//! Needs root (namespaces) and `turnserver`.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshrtc_ice::{TurnServer, TurnTransport};
use meshrtc_integration::browser::run_in_private_netns;
use meshrtc_mesh::signaling::tls::read_certificates;
use meshrtc_mesh::signaling::ServerTrust;
use meshrtc_peer::driver::{spawn, DriverConfig};
use meshrtc_peer::turn_stream::{TurnStream, TurnStreamError};
use meshrtc_peer::SdpType;
use meshrtc_sdp::negotiate::MediaKind;

use crate::turn_coturn::{Coturn, CoturnAuth, PASS, USER};
use crate::turn_rest_coturn::{two_members, SECRET};
use crate::turn_tcp_coturn::{call, member_config, FRAMES};

/// A self-signed end-entity certificate valid for the DNS name `name`
/// only, and its key (PEM files, made by `openssl`).
fn certificate_for(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
        .args(["-subj", &format!("/CN={name}")])
        .args(["-addext", &format!("subjectAltName=DNS:{name}")])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// `config` trusts exactly `cert` for TURN over TLS, no ALPN (coturn
/// names none).
fn trust(config: &mut DriverConfig, cert: &Path) {
    let roots = read_certificates(cert).unwrap();
    let tls = ServerTrust::Roots(roots).client_config().unwrap();
    let mut tls = (*tls).clone();
    tls.alpn_protocols.clear();
    config.turn_tls = Some(Arc::new(tls));
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("meshrtc-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_300_over_tcp_moves_the_allocation_to_the_alternate_server() {
    if run_in_private_netns(
        "turn_redirect_coturn::a_300_over_tcp_moves_the_allocation_to_the_alternate_server",
    ) {
        redirected_call_over(TurnTransport::Tcp);
    }
}

#[test]
fn a_300_over_tls_moves_the_allocation_to_the_alternate_server_checked_by_name() {
    if run_in_private_netns(
        "turn_redirect_coturn::a_300_over_tls_moves_the_allocation_to_the_alternate_server_checked_by_name",
    ) {
        redirected_call_over(TurnTransport::Tls);
    }
}

fn redirected_call_over(transport: TurnTransport) {
    let t0 = Instant::now();
    let dir = temp_dir("turn-redirect");
    let (cert, key) = certificate_for(&dir, "localhost");
    let (first_ip, alt_ip): (IpAddr, IpAddr) =
        ("127.0.0.1".parse().unwrap(), "127.0.0.3".parse().unwrap());
    let redirect = [
        format!("--alternate-server={alt_ip}:3478"),
        format!("--tls-alternate-server={alt_ip}:5349"),
    ];
    let redirect: Vec<&str> = redirect.iter().map(String::as_str).collect();
    let first = Coturn::start_tls_with_options(first_ip, &cert, &key, &redirect);
    let alternate = Coturn::start_tls(alt_ip, &cert, &key);
    let to_first = match transport {
        TurnTransport::Tls => TurnServer {
            transport,
            // `turns:localhost`, resolved by the caller; the name is kept
            // for the certificate check.
            host: Some("localhost".into()),
            ..TurnServer::udp(SocketAddr::new(first_ip, 5349), USER, PASS)
        },
        _ => TurnServer {
            transport,
            ..TurnServer::udp(first.addr, USER, PASS)
        },
    };
    let mut a_config = member_config(1, "127.0.0.2", vec![to_first]);
    trust(&mut a_config, &cert);
    let b_config = member_config(
        2,
        "127.0.0.4",
        vec![TurnServer::udp(alternate.addr, USER, PASS)],
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (seen, stats, net) = rt.block_on(async {
        let (a, mut ea) = spawn(a_config).await.unwrap();
        let (b, mut eb) = spawn(b_config).await.unwrap();
        a.add_transceiver(MediaKind::Audio, true, true)
            .await
            .unwrap();
        b.add_answer_track(MediaKind::Audio).unwrap();
        let offer = a.create_offer().await.unwrap();
        b.set_remote_description(SdpType::Offer, offer)
            .await
            .unwrap();
        let answer = b.create_answer().await.unwrap();
        a.set_remote_description(SdpType::Answer, answer)
            .await
            .unwrap();
        let seen = call([(&a, &mut ea), (&b, &mut eb)]).await;
        let stats = [a.stats().await.unwrap(), b.stats().await.unwrap()];
        let net = a.network_stats().await.unwrap();
        a.close();
        b.close();
        (seen, stats, net)
    });
    eprintln!(
        "{transport:?}: A {:?}\nB {:?}\nselected {:?} / {:?}; {:?}",
        seen[0],
        seen[1],
        stats[0].selected_pair,
        stats[1].selected_pair,
        t0.elapsed()
    );
    for (i, s) in seen.iter().enumerate() {
        assert!(
            s.decoded >= FRAMES,
            "member {i}: {s:?}\nfirst coturn:\n{}\nalternate:\n{}",
            first.log_tail(),
            alternate.log_tail()
        );
    }
    // A's one relay candidate is on the alternate server's relay address,
    // and the call runs on it.
    assert_eq!(seen[0].candidates.len(), 1, "{:?}", seen[0]);
    assert!(
        seen[0].candidates[0].contains(&format!(" {alt_ip} ")),
        "{:?}",
        seen[0].candidates
    );
    let (a_local, _) = stats[0].selected_pair.unwrap();
    assert_eq!(a_local.ip(), alt_ip);
    assert_eq!(net.turn_streams_failed, 0);
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("{transport:?} redirect: whole test {:?}", t0.elapsed());
}

#[test]
fn tls_to_a_turn_server_checks_its_host_name_not_its_address() {
    if !run_in_private_netns(
        "turn_redirect_coturn::tls_to_a_turn_server_checks_its_host_name_not_its_address",
    ) {
        return;
    }
    let dir = temp_dir("turn-tls-name");
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let (right, right_key) = certificate_for(&dir, "localhost");
    let (wrong, _) = certificate_for(&dir, "turn.example");
    let coturn = Coturn::start_tls(lo, &right, &right_key);
    let server = SocketAddr::new(lo, 5349);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (tx, _rx) = tokio::sync::mpsc::channel(8);
        let timeout = Duration::from_secs(3);
        let open = |host: Option<&'static str>, cert: &Path| {
            let mut c = member_config(9, "127.0.0.2", Vec::new());
            trust(&mut c, cert);
            let tls = c.turn_tls.unwrap();
            TurnStream::connect_tls(server, host, tls, timeout, tx.clone())
        };
        // The URL's name, which the certificate holds: accepted.
        let ok = open(Some("localhost"), &right).await;
        assert!(ok.is_ok(), "{:?}\n{}", ok.err(), coturn.log_tail());
        // The same certificate checked for the IP address (an IP-literal
        // URL): it holds no IP address, so it is refused.
        match open(None, &right).await {
            Err(TurnStreamError::Tls { name, source, .. }) => {
                assert_eq!(name, "127.0.0.1");
                let text = source.to_string();
                assert!(text.contains("not valid for name"), "{text}");
            }
            other => panic!("{other:?}"),
        }
        // A client that trusts the certificate of another name (a server
        // impersonating turn.example is not this one): refused, with the
        // name in the error.
        let e = open(Some("turn.example"), &wrong).await.err().unwrap();
        let text = e.to_string();
        assert!(
            text.contains("turn.example") && text.contains("127.0.0.1:5349"),
            "{text}"
        );
    });
    // Through the driver: the `turns:` server whose certificate is not
    // valid for the configured name is left out and counted.
    let mut config = member_config(
        1,
        "127.0.0.2",
        vec![TurnServer {
            transport: TurnTransport::Tls,
            host: Some("turn.example".into()),
            ..TurnServer::udp(server, USER, PASS)
        }],
    );
    trust(&mut config, &right);
    let net = rt.block_on(async {
        let (a, _ea) = spawn(config).await.unwrap();
        let net = a.network_stats().await.unwrap();
        a.close();
        net
    });
    assert_eq!(net.turn_streams_failed, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn mesh_members_follow_a_300_over_tcp_from_the_rooms_turn_server() {
    if run_in_private_netns(
        "turn_redirect_coturn::mesh_members_follow_a_300_over_tcp_from_the_rooms_turn_server",
    ) {
        mesh_call_through_a_redirecting_room_server();
    }
}

/// Two relay-only mesh members; the room names a coturn over TCP that
/// sends every Allocate to another one.
fn mesh_call_through_a_redirecting_room_server() {
    let t0 = Instant::now();
    let (first_ip, alt_ip): (IpAddr, IpAddr) =
        ("127.0.0.1".parse().unwrap(), "127.0.0.3".parse().unwrap());
    let redirect = format!("--alternate-server={alt_ip}:3478");
    let auth = CoturnAuth::RestSecret(SECRET);
    let first = Coturn::start_with_options(first_ip, auth, &[redirect.as_str()]);
    let alternate = Coturn::start_with(None, alt_ip, CoturnAuth::RestSecret(SECRET));
    // The room names only the first server, over TCP; both members are
    // relay only.
    let urls = vec![format!("turn:{}?transport=tcp", first.addr)];
    let (a, b, _) = two_members(urls, ["127.0.0.2", "127.0.0.4"], false);
    eprintln!(
        "ada: {a:?}\ngrace: {b:?}\nmesh redirect: {:?}",
        t0.elapsed()
    );
    for o in [&a, &b] {
        assert!(
            o.decoded.values().any(|&n| n >= FRAMES),
            "{o:?}\nfirst:\n{}\nalternate:\n{}",
            first.log_tail(),
            alternate.log_tail()
        );
        // Relayed address to relayed address, both on the alternate.
        assert_eq!(o.selected.len(), 1, "{o:?}");
        let (l, r) = o.selected[0];
        assert_eq!((l.ip(), r.ip()), (alt_ip, alt_ip), "{o:?}");
    }
}

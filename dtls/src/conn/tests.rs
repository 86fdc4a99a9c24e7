//! Unit tests that need the state machine's insides.

use super::*;

/// A Finished whose verify_data is wrong but whose record is properly
/// protected (as only a holder of the keys could make it) fails the
/// handshake with `BadFinished` and a decrypt_error alert.
#[test]
fn a_finished_with_wrong_verify_data_fails_with_decrypt_error() {
    let c = Certificate::generate("c").unwrap();
    let s = Certificate::generate("s").unwrap();
    let mut cc = Config::new(c.clone());
    cc.remote_fingerprint = Some(*s.fingerprint());
    let mut sc = Config::new(s);
    sc.remote_fingerprint = Some(*c.fingerprint());
    let now = Instant::now();
    let mut client = Dtls::client(cc, now);
    let mut server = Dtls::server(sc, now);
    let hello = client.poll_transmit().unwrap();
    server.handle_datagram(now, &hello).unwrap();
    while let Some(d) = server.poll_transmit() {
        client.handle_datagram(now, &d).unwrap();
    }
    let mut flight5: Vec<Vec<u8>> = std::iter::from_fn(|| client.poll_transmit()).collect();
    // Re-seal the last record (Finished) with one verify_data bit flipped.
    let last = flight5.pop().unwrap();
    let mut rebuilt = Vec::new();
    let cipher = client.write_cipher.as_ref().unwrap();
    for rec in record::records(&last) {
        let rec = rec.unwrap();
        if rec.epoch == 1 {
            let mut plain = Vec::new();
            cipher.open(&rec, &mut plain).unwrap();
            assert_eq!(plain[0], HandshakeType::Finished.as_u8());
            plain[HS_HEADER] ^= 1;
            cipher.seal(
                rec.content_type,
                DTLS1_2,
                1,
                rec.sequence,
                &plain,
                &mut rebuilt,
            );
        } else {
            rebuilt.extend_from_slice(rec.header);
            rebuilt.extend_from_slice(rec.fragment);
        }
    }
    flight5.push(rebuilt);
    let mut result = Ok(());
    for d in &flight5 {
        result = result.and(server.handle_datagram(now, d));
    }
    assert_eq!(result, Err(Error::BadFinished));
    let alert = server.poll_transmit().unwrap();
    assert_eq!(alert[0], 21);
    assert_eq!(&alert[13..], [2, 51], "plaintext fatal decrypt_error");
    assert!(server.is_closed());
    // Plaintext, so the client only notes it; its handshake then
    // times out, and the error names the alert.
    client.handle_datagram(now, &alert).unwrap();
    assert_eq!(client.stats().plaintext_alerts, 1);
    assert!(!client.is_closed());
    client.handle_timeout(now + client.config.handshake_timeout);
    assert_eq!(
        client.poll_event(),
        Some(Event::Closed(CloseReason::Error(
            Error::AfterPlaintextAlert {
                level: 2,
                alert: 51,
                cause: Box::new(Error::HandshakeTimeout(Duration::from_secs(30))),
            }
        )))
    );
}

/// Without randomness from the OS (and no seed configured) a connection
/// ends before it sends anything: no clock-derived substitute.
#[test]
fn without_randomness_from_the_os_nothing_is_sent_and_the_reason_says_why() {
    let now = Instant::now();
    let cert = Certificate::generate("c").unwrap();
    for mut d in [
        Dtls::client_with_rng(Config::new(cert.clone()), now, None),
        Dtls::server_with_rng(Config::new(cert.clone()), now, None),
    ] {
        assert!(d.is_closed());
        assert!(d.poll_transmit().is_none());
        assert!(d.poll_timeout().is_none());
        match d.poll_event() {
            Some(Event::Closed(CloseReason::Error(Error::Internal(why)))) => {
                assert!(why.contains("randomness"), "{why}")
            }
            e => panic!("{e:?}"),
        }
    }
    // With the OS's randomness the same calls start a handshake.
    let mut c = Dtls::client(Config::new(cert), now);
    assert!(!c.is_closed());
    assert!(c.poll_transmit().is_some());
}

//! Two tokio-driven connections on 127.0.0.1: real sockets, real timers.
#![cfg(feature = "tokio")]

use std::sync::Arc;
use std::time::Duration;

use meshrtc_peer::driver::{spawn, DriverConfig};
use meshrtc_peer::{ConnectionState, PacketizedFrame, PeerConfig, PeerEvent, SdpType};
use meshrtc_rtp::vp8::Vp8Packetizer;
use meshrtc_sdp::negotiate::MediaKind;
use tokio::sync::mpsc::UnboundedReceiver;

fn config(seed: u64) -> DriverConfig {
    let mut c = DriverConfig::new(PeerConfig::with_fixed_seed(seed));
    c.bind = vec!["127.0.0.1".parse().unwrap()];
    c.stun_urls.clear();
    c
}

async fn wait_connected(rx: &mut UnboundedReceiver<PeerEvent>) {
    loop {
        match rx.recv().await.expect("events") {
            PeerEvent::ConnectionStateChanged(ConnectionState::Connected) => return,
            PeerEvent::ConnectionStateChanged(ConnectionState::Failed) => panic!("failed"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn two_driven_peers_connect_over_loopback_and_exchange_frames() {
    let (a, mut ea) = spawn(config(11)).await.unwrap();
    let (b, mut eb) = spawn(config(12)).await.unwrap();
    let video = a
        .add_transceiver(MediaKind::Video, true, true)
        .await
        .unwrap();
    b.add_answer_track(MediaKind::Video).unwrap();
    let offer = a.create_offer().await.unwrap();
    assert!(offer.contains("a=candidate:"), "{offer}");
    assert!(offer.contains("127.0.0.1"), "{offer}");
    b.set_remote_description(SdpType::Offer, offer)
        .await
        .unwrap();
    let answer = b.create_answer().await.unwrap();
    a.set_remote_description(SdpType::Answer, answer)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        wait_connected(&mut ea).await;
        wait_connected(&mut eb).await;
    })
    .await
    .expect("connected within 10 s");

    let mut pk = Vp8Packetizer::new(3);
    let sent: Vec<Vec<u8>> = (0..20u32)
        .map(|i| {
            let mut f = vec![(i as u8).wrapping_mul(3); 3000];
            f[0] = if i == 0 { 0x10 } else { 0x11 };
            f
        })
        .collect();
    for (i, f) in sent.iter().enumerate() {
        let i = i as u32;
        let frame = PacketizedFrame::vp8(&mut pk, f.clone().into(), i * 3000, 1100).unwrap();
        a.send_frame(&video, Arc::new(frame)).unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // What b decoded: each frame whole, in the order sent, its RTP
    // timestamps 3000 apart (a's random offset aside).
    let received = tokio::time::timeout(Duration::from_secs(5), async {
        let mut got = Vec::new();
        while got.len() < sent.len() {
            if let PeerEvent::Frame(f) = eb.recv().await.expect("events") {
                got.push((f.rtp_timestamp, f.data));
            }
        }
        got
    })
    .await
    .expect("20 frames within 5 s");
    let data: Vec<&Vec<u8>> = received.iter().map(|(_, d)| d).collect();
    assert!(
        data.iter().zip(&sent).all(|(a, b)| *a == b),
        "frames differ from those sent: {:?}",
        data.iter()
            .map(|d| (d.len(), d.get(1).copied()))
            .collect::<Vec<_>>()
    );
    let first = received[0].0;
    for (i, (ts, _)) in received.iter().enumerate() {
        assert_eq!(ts.wrapping_sub(first), i as u32 * 3000, "frame {i}");
    }
    let st = b.stats().await.unwrap();
    assert_eq!(st.inbound[0].frames_received, 20);
    assert!(st.selected_pair.unwrap().0.ip().is_loopback());
    a.close();
    b.close();
}

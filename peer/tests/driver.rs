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
    for i in 0..20u32 {
        let mut f = vec![(i as u8).wrapping_mul(3); 3000];
        f[0] = if i == 0 { 0x10 } else { 0x11 };
        let frame = PacketizedFrame::vp8(&mut pk, f.into(), i * 3000, 1100).unwrap();
        a.send_frame(&video, Arc::new(frame)).unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let frames = tokio::time::timeout(Duration::from_secs(5), async {
        let mut n = 0;
        while n < 20 {
            if let Some(PeerEvent::Frame(f)) = eb.recv().await {
                assert_eq!(f.data.len(), 3000);
                n += 1;
            }
        }
        n
    })
    .await
    .expect("20 frames within 5 s");
    assert_eq!(frames, 20);
    let st = b.stats().await.unwrap();
    assert_eq!(st.inbound[0].frames_received, 20);
    assert!(st.selected_pair.unwrap().0.ip().is_loopback());
    a.close();
    b.close();
}

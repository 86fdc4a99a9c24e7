//! A member whose signaling connection drops mid-call keeps its call: the
//! media between members never went through the server, the driver opens
//! the connection again and takes its place back (`resume`), nobody hears
//! it left, and signaling works again after (a renegotiation).
//!
//! The member reaches the server through a TCP relay the test controls;
//! cutting the relay's connections drops the WebSocket without a close
//! frame, as a phone changing networks does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use meshrtc_mesh::driver::{join, MemberConfig, MemberHandle};
use meshrtc_mesh::signaling::{bind, ServerConfig};
use meshrtc_mesh::MeshEvent;
use meshrtc_peer::PacketizedFrame;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};

/// Relays TCP connections to `to`; `cut` ends every open one at once.
async fn relay(to: std::net::SocketAddr) -> (std::net::SocketAddr, Arc<Notify>, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = listener.local_addr().unwrap();
    let cut = Arc::new(Notify::new());
    let refusing = Arc::new(AtomicBool::new(false));
    let (c, r) = (cut.clone(), refusing.clone());
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            if r.load(Ordering::SeqCst) {
                continue;
            }
            let cut = c.clone();
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(to).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    () = cut.notified() => {}
                }
            });
        }
    });
    (at, cut, refusing)
}

/// Audio frames (opaque bytes: the receiver only counts them) every 20 ms
/// until the handle is dropped.
fn send_audio(member: MemberHandle) {
    tokio::spawn(async move {
        let mut ts = 0u32;
        loop {
            member.send_frame(Arc::new(PacketizedFrame::opus(
                vec![0xf8, 1, 2, 3].into(),
                ts,
            )));
            ts = ts.wrapping_add(960);
            tokio::time::sleep(Duration::from_millis(20)).await;
            if member.stopped().is_some() {
                return;
            }
        }
    });
}

#[derive(Default, Debug)]
struct Seen {
    frames: u64,
    removed: Vec<String>,
}

async fn watch(mut events: mpsc::Receiver<MeshEvent>, seen: Arc<std::sync::Mutex<Seen>>) {
    while let Some(e) = events.recv().await {
        let mut s = seen.lock().unwrap();
        match e {
            MeshEvent::Frame { .. } => s.frames += 1,
            MeshEvent::MemberRemoved { id, .. } => s.removed.push(id),
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_whose_signaling_drops_resumes_its_place_and_keeps_its_call() {
    let server = bind("127.0.0.1:0", ServerConfig::default()).await.unwrap();
    let (relay_at, cut, refusing) = relay(server.local_addr()).await;
    let mut a_cfg = MemberConfig::new(&format!("ws://{relay_at}/ws"), "r", "ada").unwrap();
    a_cfg.send_video = false;
    let mut b_cfg = MemberConfig::new(&server.ws_url(), "r", "bob").unwrap();
    b_cfg.send_video = false;
    let (a, a_events) = join(a_cfg).await.unwrap();
    let (b, b_events) = join(b_cfg).await.unwrap();
    let (seen_a, seen_b) = (Arc::default(), Arc::default());
    tokio::spawn(watch(a_events, Arc::clone(&seen_a)));
    tokio::spawn(watch(b_events, Arc::clone(&seen_b)));
    send_audio(a.clone());
    send_audio(b.clone());
    let frames = |s: &Arc<std::sync::Mutex<Seen>>| s.lock().unwrap().frames;
    // The call is up: frames both ways.
    for _ in 0..100 {
        if frames(&seen_a) > 10 && frames(&seen_b) > 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        frames(&seen_b) > 10,
        "no call: {:?}",
        seen_b.lock().unwrap()
    );
    // The signaling connection drops, and stays down for a second.
    refusing.store(true, Ordering::SeqCst);
    cut.notify_waiters();
    let before = frames(&seen_b);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(a.stopped().is_none(), "{:?}", a.stopped());
    // Media went on meanwhile (50 frames a second).
    assert!(
        frames(&seen_b) >= before + 30,
        "{} then {}",
        before,
        frames(&seen_b)
    );
    refusing.store(false, Ordering::SeqCst);
    let mut resumed = 0;
    for _ in 0..100 {
        resumed = a.stats().map_or(0, |s| s.signaling_resumes);
        if resumed > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(resumed, 1, "ada took its place back");
    // Signaling works again: ada shares a screen, which needs an offer
    // and an answer through the server.
    let renegotiations = |m: &MemberHandle| m.stats().map_or(0, |s| s.renegotiations);
    assert_eq!((renegotiations(&a), renegotiations(&b)), (0, 0));
    a.start_screen();
    for _ in 0..100 {
        if renegotiations(&a) > 0 && renegotiations(&b) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!((renegotiations(&a), renegotiations(&b)), (1, 1));
    let (sa, sb) = (seen_a.lock().unwrap(), seen_b.lock().unwrap());
    assert!(
        sa.removed.is_empty() && sb.removed.is_empty(),
        "{sa:?} {sb:?}"
    );
    assert!(a.stopped().is_none() && b.stopped().is_none());
    let st = server.stats().rooms;
    assert_eq!((st.members, st.resumed), (2, 1), "{st:?}");
}

//! 300 Try Alternate on a TURN server reached over TCP or TLS (RFC 8489
//! §10): the ICE agent asks for a stream to the alternate, which the
//! owner opens and hands in with [`PeerConnection::add_turn_stream`].

use super::*;
use meshrtc_ice::TurnStreamRedirect;

impl PeerConnection {
    /// The next stream to open to an alternate TURN server (a 300 Try
    /// Alternate on a stream): open it and hand it in with
    /// [`PeerConnection::add_turn_stream`], or report
    /// [`PeerConnection::turn_stream_failed`]. The stream it replaces
    /// carries none of this connection's allocations any more.
    pub fn poll_turn_redirect(&mut self) -> Option<TurnStreamRedirect> {
        let r = self.ice.as_mut()?.poll_turn_redirect()?;
        self.turn_streams.retain(|&(_, local)| local != r.replaces);
        Some(r)
    }

    /// The stream to the alternate `server` could not be opened.
    pub fn turn_stream_failed(&mut self, now: Instant, server: SocketAddr) {
        if let Some(ice) = &mut self.ice {
            ice.turn_stream_failed(now, server);
            self.drain_ice(now);
        }
    }
}

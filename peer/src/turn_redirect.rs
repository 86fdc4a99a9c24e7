//! The tokio driver's side of a 300 Try Alternate on a TURN server reached
//! over TCP or TLS (RFC 8489 §10, RFC 8656 §3.1): the connection asks for
//! a stream to the alternate ([`PeerConnection::poll_turn_redirect`]); the
//! dialer drops the stream to the first server, opens the new one in a
//! task (TLS checked for the first server's host name, as §10 says when
//! the response names no ALTERNATE-DOMAIN) and hands it to the connection
//! when it is up, or reports that it could not be opened.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::driver::Received;
use crate::turn_stream::{TurnStream, TurnStreamError};
use crate::PeerConnection;

/// The outcome of one stream opened for a redirection: the server, and
/// the stream or why there is none.
pub(crate) type Dialed = (SocketAddr, Result<TurnStream, TurnStreamError>);

/// Opens the streams a connection's redirections ask for.
pub(crate) struct TurnDialer {
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
    input: mpsc::Sender<Received>,
    done_tx: mpsc::UnboundedSender<Dialed>,
    /// Where the outcomes arrive; hand each to [`TurnDialer::dialed`].
    pub(crate) done: mpsc::UnboundedReceiver<Dialed>,
}

impl TurnDialer {
    pub(crate) fn new(
        tls: Option<Arc<rustls::ClientConfig>>,
        timeout: Duration,
        input: mpsc::Sender<Received>,
    ) -> TurnDialer {
        let (done_tx, done) = mpsc::unbounded_channel();
        TurnDialer {
            tls,
            timeout,
            input,
            done_tx,
            done,
        }
    }

    /// Follows `pc`'s redirections: the replaced streams are closed, the
    /// new ones opened in tasks.
    pub(crate) fn follow(&self, pc: &mut PeerConnection, streams: &mut Vec<TurnStream>) {
        while let Some(r) = pc.poll_turn_redirect() {
            streams.retain(|s| s.local != r.replaces);
            tracing::debug!(server = %r.server, "TURN redirected: opening a {:?} stream to the alternate", r.transport);
            let (tls, timeout, input, done) = (
                self.tls.clone(),
                self.timeout,
                self.input.clone(),
                self.done_tx.clone(),
            );
            tokio::spawn(async move {
                let host = r.host.as_deref();
                let got = TurnStream::connect(r.server, r.transport, host, tls, timeout, input);
                let _ = done.send((r.server, got.await));
            });
        }
    }

    /// A stream opened (or not) for a redirection: handed to `pc`, or the
    /// failure reported to it and counted in `failed`.
    pub(crate) fn dialed(
        pc: &mut PeerConnection,
        streams: &mut Vec<TurnStream>,
        failed: &mut u64,
        (server, got): Dialed,
    ) {
        let now = Instant::now();
        match got {
            Ok(s) => {
                if pc.add_turn_stream(now, s.server, s.local).is_ok() {
                    streams.push(s);
                }
            }
            Err(e) => {
                tracing::warn!("{e}");
                *failed += 1;
                pc.turn_stream_failed(now, server);
            }
        }
    }
}

//! Opening the signaling connection again after it dropped, with backoff,
//! for a member whose media goes on meanwhile (`MeshNode::resume_request`
//! is what it sends first on the new connection).

use std::time::Duration;

use tokio::sync::mpsc;

use super::client::SignalingClient;
use super::protocol::ServerMessage;
use super::tls::ServerTrust;

/// The first wait before trying again; doubled after each failure.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait between two tries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// When to give up: within the server's default resume window (30 s),
/// after which the place is gone anyway.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(25);

/// Connects to `url` again, waiting [`FIRST_BACKOFF`] first and doubling
/// up to [`MAX_BACKOFF`] between tries, for at most [`GIVE_UP_AFTER`].
/// The last error when it gives up.
pub async fn reconnect(
    url: String,
    trust: Option<ServerTrust>,
) -> Result<(SignalingClient, mpsc::Receiver<ServerMessage>), String> {
    let deadline = tokio::time::Instant::now() + GIVE_UP_AFTER;
    let mut wait = FIRST_BACKOFF;
    loop {
        tokio::time::sleep(wait).await;
        match SignalingClient::connect_with_trust(&url, trust.as_ref()).await {
            Ok(c) => return Ok(c),
            Err(e) if tokio::time::Instant::now() + wait >= deadline => {
                return Err(e.to_string());
            }
            Err(e) => {
                tracing::debug!(error = %e, "signaling reconnect failed, trying again");
                wait = (wait * 2).min(MAX_BACKOFF);
            }
        }
    }
}

//! Keeping a member's place while its connection is down, and giving it
//! back (`resume`), so that a phone that lost the signaling connection for
//! a moment comes back without the others tearing down media that still
//! flows: they hear no `peer-left`, and what was relayed to the member
//! meanwhile is held and delivered after its new `welcome`.
//!
//! The server calls [`Rooms::suspend`] for a connection that dropped
//! without a goodbye (no close frame, an idle timeout, a client that did
//! not read), [`Rooms::handle_timeout`] at [`Rooms::poll_timeout`], and the
//! client sends `{"type":"resume","token":...}` on a new connection in
//! place of `join`.

use std::collections::VecDeque;
use std::time::Instant;

use rand_chacha::rand_core::RngCore;

use super::{ClientId, CloseReason, ErrorCode, Output, Rooms, ServerMessage};

/// Messages held for one suspended member; past that its place is given
/// up (the others get `peer-left`, its `resume` fails).
pub const MAX_HELD_MESSAGES: usize = 256;

/// Bytes of randomness in a resume token (hex on the wire).
const TOKEN_BYTES: usize = 16;

/// A member whose connection dropped.
#[derive(Debug)]
pub(super) struct Suspended {
    deadline: Instant,
    token: String,
    /// Messages for the member, in order, to send after its `welcome`.
    held: Vec<String>,
}

impl Rooms {
    /// A connection dropped without a goodbye (`closed`: the transport
    /// closed it for that reason, which is counted): a member keeps its id
    /// and place for [`RoomsConfig::resume_window`](super::RoomsConfig)
    /// (the others hear nothing; messages for it are held), then leaves. A
    /// client in no room, or a server without a resume window, is simply
    /// disconnected ([`Rooms::disconnect`], or [`Rooms::close_client`]).
    #[must_use]
    pub fn suspend(
        &mut self,
        now: Instant,
        client: ClientId,
        closed: Option<CloseReason>,
    ) -> Vec<Output> {
        let window = self.config.resume_window;
        let token = self
            .clients
            .get(&client)
            .and_then(|c| c.joined.as_ref())
            .and_then(|j| j.resume.clone());
        match token {
            Some(token) if !window.is_zero() && !self.suspended.contains_key(&client) => {
                tracing::debug!(%client, "signaling member suspended");
                if let Some(reason) = closed {
                    self.stats.closes += 1;
                    *self.stats.closed.entry(reason).or_insert(0) += 1;
                }
                self.suspended.insert(
                    client,
                    Suspended {
                        deadline: now + window,
                        token,
                        held: Vec::new(),
                    },
                );
                Vec::new()
            }
            _ => match closed {
                Some(reason) => self.close_client(client, reason),
                None => self.disconnect(client),
            },
        }
    }

    /// Whether a member is suspended (its connection dropped, its place
    /// kept).
    pub fn is_suspended(&self, client: ClientId) -> bool {
        self.suspended.contains_key(&client)
    }

    /// When [`Rooms::handle_timeout`] has something to do: the earliest
    /// end of a suspension.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let renewal = self.turn_renewals.values().min().copied();
        let suspension = self.suspended.values().map(|s| s.deadline).min();
        renewal.into_iter().chain(suspension).min()
    }

    /// Ends the suspensions that are due: those members leave their rooms
    /// (the others get `peer-left`); renews the TURN credentials that are
    /// due (`ice-servers` to their members).
    #[must_use]
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Output> {
        let due: Vec<ClientId> = self
            .suspended
            .iter()
            .filter(|(_, s)| s.deadline <= now)
            .map(|(&c, _)| c)
            .collect();
        let mut out = Vec::new();
        for client in due {
            // One at a time: what one departure sends to another member
            // that is due too must be held (and dropped with it), not sent
            // to a connection that is gone.
            let mut left = Vec::new();
            self.expire(client, &mut left);
            out.extend(self.hold_for_suspended(left));
        }
        self.renew_turn_credentials(now, &mut out);
        out
    }

    /// A fresh resume token, or none without a resume window.
    pub(super) fn new_token(&mut self) -> Option<String> {
        if self.config.resume_window.is_zero() {
            return None;
        }
        let mut bytes = [0u8; TOKEN_BYTES];
        self.rng.fill_bytes(&mut bytes);
        Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// `resume` on connection `client`: it takes the member's place (id,
    /// room, name, position), gets a `welcome` with a new token, then what
    /// was held. The member may be suspended, or still connected when the
    /// client noticed the drop before the server did: that old connection
    /// is closed ([`CloseReason::Replaced`](super::CloseReason)).
    pub(super) fn resume(
        &mut self,
        now: Instant,
        client: ClientId,
        token: &str,
        out: &mut Vec<Output>,
    ) {
        if let Some(current) = self.room_of(client) {
            let message = format!("already in room {current:?}");
            self.refuse(client, ErrorCode::AlreadyJoined, message, out);
            return;
        }
        let Some(old) = self.resume_tokens.remove(token) else {
            let message = "no place to resume (it expired, or the token is unknown): join anew";
            self.refuse(client, ErrorCode::ResumeFailed, message, out);
            return;
        };
        let held = match self.suspended.remove(&old) {
            Some(suspended) => suspended.held,
            None => {
                out.push(Output::Close {
                    client: old,
                    reason: CloseReason::Replaced,
                });
                self.stats.closes += 1;
                *self.stats.closed.entry(CloseReason::Replaced).or_insert(0) += 1;
                Vec::new()
            }
        };
        let Some(previous) = self.clients.remove(&old) else {
            return;
        };
        self.turn_renewals.remove(&old);
        let Some(mut joined) = previous.joined else {
            return;
        };
        joined.resume = self.new_token();
        let room = joined.room.clone();
        if let Some(r) = self.rooms.get_mut(&room) {
            for m in &mut r.members {
                if *m == old {
                    *m = client;
                }
            }
        }
        let resume = joined.resume.clone();
        if let Some(token) = &resume {
            self.resume_tokens.insert(token.clone(), client);
        }
        if let Some(c) = self.clients.get_mut(&client) {
            c.wire = previous.wire;
            c.joined = Some(joined);
            c.ever_joined = true;
        }
        let peers = self
            .rooms
            .get(&room)
            .map(|r| r.members.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|&m| m != client)
            .filter_map(|m| self.peer_info(m))
            .collect();
        let welcome = ServerMessage::Welcome {
            id: previous.wire.peer_id(),
            room,
            peers,
            max_members: self.config.max_members,
            ice_servers: self.member_ice_servers(now, client, previous.wire),
            resume,
        };
        out.push(Output::Send {
            to: client,
            text: welcome.to_json(),
        });
        for text in held {
            out.push(Output::Send { to: client, text });
        }
        self.stats.resumed += 1;
        tracing::debug!(%client, %old, "signaling member resumed");
    }

    /// Gives a suspended member's place up: it leaves its room.
    fn expire(&mut self, client: ClientId, out: &mut Vec<Output>) {
        let Some(suspended) = self.suspended.remove(&client) else {
            return;
        };
        self.resume_tokens.remove(&suspended.token);
        self.stats.resume_expired += 1;
        self.leave_room(client, out);
        self.clients.remove(&client);
    }

    /// Takes the messages for suspended members out of `outputs` and holds
    /// them; a member with too many held loses its place (and what that
    /// sends the others goes through the same filter).
    pub(super) fn hold_for_suspended(&mut self, outputs: Vec<Output>) -> Vec<Output> {
        if self.suspended.is_empty() {
            return outputs;
        }
        let mut queue = VecDeque::from(outputs);
        let mut kept = Vec::with_capacity(queue.len());
        while let Some(output) = queue.pop_front() {
            let Output::Send { to, text } = output else {
                kept.push(output);
                continue;
            };
            let Some(suspended) = self.suspended.get_mut(&to) else {
                kept.push(Output::Send { to, text });
                continue;
            };
            if suspended.held.len() < MAX_HELD_MESSAGES {
                suspended.held.push(text);
                continue;
            }
            let mut more = Vec::new();
            self.expire(to, &mut more);
            queue.extend(more);
        }
        kept
    }
}

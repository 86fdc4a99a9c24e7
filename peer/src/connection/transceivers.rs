//! Transceivers (RFC 8829 §3.4.1, §4.1.1–§4.1.4, §5.2.2, §5.10): what we
//! want to send and receive per m-line, the m-line layout kept across
//! offers (order and mids never change; a stopped m-line is recycled by a
//! new transceiver), the association of remote m-lines with our
//! transceivers, the negotiation-needed flag (W3C webrtc-pc §4.7.3) and
//! the snapshot a rollback restores.

use super::*;

/// One transceiver: an m-line, once negotiated.
#[derive(Debug, Clone)]
pub(super) struct TransceiverState {
    /// Its mid; `None` for a track added for answering
    /// ([`PeerConnection::add_answer_track`]) until a remote m-line takes it.
    pub(super) mid: Option<String>,
    pub(super) kind: MediaKind,
    /// Our SSRCs on it, made the first time it sends.
    pub(super) track: Option<SendTrack>,
    /// The direction we want.
    pub(super) send: bool,
    pub(super) receive: bool,
    /// Stopped locally or by the peer (a rejected m-line); its m-line is
    /// port 0 from the next description on.
    pub(super) stopped: bool,
    /// Its index in the descriptions; `None` until offered or answered.
    pub(super) mline: Option<usize>,
    /// Added for answering: the first remote m-line of its kind that lets
    /// us send takes it (RFC 8829 §5.10, like `addTrack`).
    pub(super) associable: bool,
    /// Made for a remote offer's new m-line: gone if the offer is rolled
    /// back.
    pub(super) from_remote: bool,
    /// The (send, receive) wish of the last completed negotiation, to
    /// notice a change (negotiation needed).
    pub(super) negotiated_wish: Option<(bool, bool)>,
    /// Whether the last completed negotiation left its m-line rejected.
    pub(super) negotiated_stopped: bool,
}

impl TransceiverState {
    /// Gone for good: stopped and no longer on an m-line (its m-line was
    /// recycled, or it never had one).
    pub(super) fn is_dead(&self) -> bool {
        self.stopped && self.mline.is_none()
    }

    /// As a description writes it (every sender has a track:
    /// `add_transceiver` and `set_direction` make one).
    fn to_sdp(&self) -> Transceiver {
        Transceiver {
            mid: self.mid.clone().unwrap_or_default(),
            kind: self.kind,
            send: self.track.clone().filter(|_| self.send && !self.stopped),
            receive: self.receive,
            stopped: self.stopped,
        }
    }
}

/// A transceiver as the application sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransceiverInfo {
    /// Its mid (`None` for an answer track no m-line took yet).
    pub mid: Option<String>,
    /// Audio or video.
    pub kind: MediaKind,
    /// Whether we want to send.
    pub send: bool,
    /// Whether we want to receive.
    pub receive: bool,
    /// Whether it is stopped.
    pub stopped: bool,
    /// Its m-line index, once negotiated.
    pub mline: Option<usize>,
}

/// What a rollback restores of one transceiver.
#[derive(Debug, Clone)]
pub(super) struct Snapshot {
    mid: Option<String>,
    mline: Option<usize>,
    stopped: bool,
}

impl PeerConnection {
    /// Adds a transceiver: `send` and `receive` as in its direction.
    /// Returns its mid. Mid-call it is offered in the next offer
    /// ([`PeerEvent::NegotiationNeeded`] says when), on a recycled stopped
    /// m-line if there is one. If the peer offers a new m-line with the
    /// same mid before ours was offered, ours is given another one
    /// ([`PeerEvent::MidChanged`]).
    pub fn add_transceiver(&mut self, kind: MediaKind, send: bool, receive: bool) -> String {
        let mid = self.fresh_mid();
        let track = send.then(|| self.new_send_track(kind));
        self.transceivers.push(TransceiverState {
            mid: Some(mid.clone()),
            kind,
            track,
            send,
            receive,
            stopped: false,
            mline: None,
            associable: false,
            from_remote: false,
            negotiated_wish: None,
            negotiated_stopped: false,
        });
        self.update_negotiation_needed();
        mid
    }

    /// Declares a track to send when answering: it goes on the first
    /// offered m-line of its kind that lets us send (RFC 8829 §5.10).
    pub fn add_answer_track(&mut self, kind: MediaKind) {
        let track = Some(self.new_send_track(kind));
        self.transceivers.push(TransceiverState {
            mid: None,
            kind,
            track,
            send: true,
            receive: true,
            stopped: false,
            mline: None,
            associable: true,
            from_remote: false,
            negotiated_wish: None,
            negotiated_stopped: false,
        });
    }

    /// Changes what we want on the m-line `mid` (RFC 8829 §4.2.3,
    /// `transceiver.direction`); takes effect at the next negotiation.
    pub fn set_direction(&mut self, mid: &str, send: bool, receive: bool) -> Result<(), PeerError> {
        self.check_open()?;
        let i = self.live_transceiver(mid)?;
        if send && self.transceivers[i].track.is_none() {
            let kind = self.transceivers[i].kind;
            self.transceivers[i].track = Some(self.new_send_track(kind));
        }
        let t = &mut self.transceivers[i];
        t.send = send;
        t.receive = receive;
        self.update_negotiation_needed();
        Ok(())
    }

    /// Stops the transceiver on `mid` (RFC 8829 §4.2.1,
    /// `transceiver.stop()`): it sends nothing from now on, and the next
    /// offer or answer rejects its m-line (port 0), which a later new
    /// transceiver may recycle.
    pub fn stop_transceiver(&mut self, mid: &str) -> Result<(), PeerError> {
        self.check_open()?;
        let i = self.live_transceiver(mid)?;
        self.transceivers[i].stopped = true;
        // Nothing more leaves on it at once.
        self.park_sender(mid);
        self.update_negotiation_needed();
        Ok(())
    }

    /// The transceivers, in the order they were made (dead ones left out).
    pub fn transceivers(&self) -> Vec<TransceiverInfo> {
        // The data m-line is no transceiver to the application (W3C
        // getTransceivers): see PeerConnection::data_channels.
        self.transceivers
            .iter()
            .filter(|t| !t.is_dead() && t.kind != MediaKind::Application)
            .map(|t| TransceiverInfo {
                mid: t.mid.clone(),
                kind: t.kind,
                send: t.send,
                receive: t.receive,
                stopped: t.stopped,
                mline: t.mline,
            })
            .collect()
    }

    /// Whether an offer is needed to carry what changed since the last
    /// negotiation (W3C webrtc-pc §4.7.3 "check if negotiation is needed").
    pub fn negotiation_needed(&self) -> bool {
        self.negotiation_needed
    }

    fn live_transceiver(&self, mid: &str) -> Result<usize, PeerError> {
        self.transceivers
            .iter()
            .position(|t| {
                t.mid.as_deref() == Some(mid) && !t.stopped && t.kind != MediaKind::Application
            })
            .ok_or_else(|| PeerError::UnknownMid(mid.to_string()))
    }

    pub(super) fn new_send_track(&mut self, kind: MediaKind) -> SendTrack {
        let ssrc = self.rng.u32();
        let rtx_ssrc =
            (kind == MediaKind::Video && self.config.features.rtx).then(|| self.rng.u32());
        SendTrack {
            stream_id: format!("meshrtc-{}", self.cname),
            track_id: format!("{}-{:08x}", kind.as_str(), ssrc),
            ssrc,
            rtx_ssrc,
        }
    }

    /// The smallest number, as a mid, that no transceiver and no
    /// description of either side uses.
    pub(super) fn fresh_mid(&self) -> String {
        (0u64..)
            .map(|n| n.to_string())
            .find(|m| self.fresh_mid_free(m))
            .unwrap_or_default()
    }

    /// Recomputes the negotiation-needed flag; a [`PeerEvent::NegotiationNeeded`]
    /// when it becomes set in the stable state (W3C webrtc-pc §4.7.3).
    pub(super) fn update_negotiation_needed(&mut self) {
        if self.closed || self.signaling != SignalingState::Stable {
            return;
        }
        let needed = self.ice_restart_pending
            || self.transceivers.iter().any(|t| {
                if t.is_dead() || (t.associable && t.mid.is_none()) {
                    return false;
                }
                match t.mline {
                    // Never offered: only a live one needs an offer.
                    None => !t.stopped,
                    Some(_) if t.stopped => !t.negotiated_stopped,
                    Some(_) => t.negotiated_wish != Some((t.send, t.receive)),
                }
            });
        if needed && !self.negotiation_needed {
            tracing::debug!(
                ice_restart = self.ice_restart_pending,
                "negotiation needed: a transceiver or the ICE credentials changed"
            );
            self.events.push_back(PeerEvent::NegotiationNeeded);
        }
        self.negotiation_needed = needed;
    }

    /// The transceivers of our next offer, in m-line order (RFC 8829
    /// §5.2.2): the current m-lines in place, a stopped m-line the last
    /// negotiation rejected recycled by a new transceiver, the other new
    /// ones appended. Sets each transceiver's `mline`.
    /// The second list names the m-lines to copy from the current local
    /// description as they are (remote m-lines we rejected without a
    /// transceiver, `m=application` say: their kind is kept).
    pub(super) fn offer_layout(&mut self) -> (Vec<Transceiver>, Vec<usize>) {
        let current = self.current_local.as_ref().map_or(0, |d| d.media.len());
        let mut slots: Vec<Option<usize>> = vec![None; current];
        for (i, t) in self.transceivers.iter().enumerate() {
            if let Some(m) = t.mline.filter(|&m| m < current) {
                slots[m] = Some(i);
            }
        }
        let rejected_now = |m: usize| {
            self.current_local
                .as_ref()
                .and_then(|d| d.media.get(m))
                .is_some_and(|x| x.port == 0)
        };
        // Rejected m-lines whose transceiver is stopped, or that have none
        // (a remote m-line we rejected, `m=application` say).
        let mut recyclable: VecDeque<usize> = (0..current)
            .filter(|&m| rejected_now(m) && slots[m].is_none_or(|i| self.transceivers[i].stopped))
            .collect();
        let new: Vec<usize> = (0..self.transceivers.len())
            .filter(|&i| {
                let t = &self.transceivers[i];
                t.mline.is_none() && !t.stopped && !(t.associable && t.mid.is_none())
            })
            .collect();
        for i in new {
            let slot = match recyclable.pop_front() {
                Some(m) => {
                    if let Some(old) = slots[m] {
                        self.transceivers[old].mline = None;
                    }
                    slots[m] = Some(i);
                    m
                }
                None => {
                    slots.push(Some(i));
                    slots.len() - 1
                }
            };
            self.transceivers[i].mline = Some(slot);
        }
        let mut out = Vec::with_capacity(slots.len());
        let mut kept = Vec::new();
        for (m, slot) in slots.iter().enumerate() {
            match slot {
                Some(i) => out.push(self.transceivers[*i].to_sdp()),
                // A remote m-line we had rejected: stays rejected.
                None => {
                    kept.push(m);
                    let (mid, kind) = self
                        .current_local
                        .as_ref()
                        .and_then(|d| d.media.get(m))
                        .map(|x| {
                            (
                                x.mid().unwrap_or_default().to_string(),
                                MediaKind::from_token(&x.kind).unwrap_or(MediaKind::Video),
                            )
                        })
                        .unwrap_or_else(|| (String::new(), MediaKind::Video));
                    out.push(Transceiver {
                        mid,
                        kind,
                        send: None,
                        receive: false,
                        stopped: true,
                    });
                }
            }
        }
        (out, kept)
    }

    /// Matches a remote offer's m-lines to our transceivers (RFC 8829
    /// §5.10): a known mid keeps its transceiver (stopped if the offer
    /// rejects it), a new m-line takes an answer track of its kind or a new
    /// receive-only transceiver. Checks that the offer keeps the order and
    /// mids of the current m-lines (only a rejected one may be recycled).
    pub(super) fn associate_remote_offer(
        &mut self,
        offer: &SessionDescription<'_>,
    ) -> Result<(), PeerError> {
        let bad =
            |index, reason| PeerError::Negotiation(NegotiationError::BadMid { index, reason });
        if let Some(cur) = &self.current_local {
            if offer.media.len() < cur.media.len() {
                return Err(bad(offer.media.len(), "the offer drops m-lines"));
            }
            for (i, (c, o)) in cur.media.iter().zip(&offer.media).enumerate() {
                if c.mid() != o.mid() && c.port != 0 {
                    return Err(bad(i, "the offer changes the mid of a live m-line"));
                }
            }
        }
        for (i, m) in offer.media.iter().enumerate() {
            let mid = m.mid().ok_or(bad(i, "no a=mid"))?;
            let kind = MediaKind::from_token(&m.kind);
            if let Some(t) = self
                .transceivers
                .iter_mut()
                .find(|t| t.mid.as_deref() == Some(mid) && t.mline.is_some())
            {
                if Some(t.kind) != kind {
                    return Err(bad(i, "the offer changes the kind of an m-line"));
                }
                t.mline = Some(i);
                if m.is_disabled() {
                    t.stopped = true;
                }
                continue;
            }
            // A new m-line (or one recycling a rejected slot): what was on
            // the slot is gone.
            for t in self.transceivers.iter_mut().filter(|t| t.mline == Some(i)) {
                t.mline = None;
                t.stopped = true;
            }
            // One of ours not offered yet with the same mid gets another.
            if let Some(j) = self
                .transceivers
                .iter()
                .position(|t| t.mid.as_deref() == Some(mid) && t.mline.is_none() && !t.is_dead())
            {
                let new_mid = self.fresh_mid_besides(offer);
                let old = self.transceivers[j].mid.replace(new_mid.clone());
                self.events.push_back(PeerEvent::MidChanged {
                    old: old.unwrap_or_default(),
                    new: new_mid,
                });
            }
            let Some(kind) = kind.filter(|_| !m.is_disabled()) else {
                continue;
            };
            if kind == MediaKind::Application {
                self.associate_data_line(mid, i);
                continue;
            }
            let lets_us_send = matches!(
                m.direction(),
                meshrtc_sdp::Direction::SendRecv | meshrtc_sdp::Direction::RecvOnly
            );
            let waiting = self.transceivers.iter().position(|t| {
                t.associable && t.mid.is_none() && t.kind == kind && !t.stopped && lets_us_send
            });
            match waiting {
                Some(j) => {
                    let t = &mut self.transceivers[j];
                    t.mid = Some(mid.to_string());
                    t.mline = Some(i);
                    t.from_remote = true;
                }
                None => self.transceivers.push(TransceiverState {
                    mid: Some(mid.to_string()),
                    kind,
                    track: None,
                    send: false,
                    receive: true,
                    stopped: false,
                    mline: Some(i),
                    associable: false,
                    from_remote: true,
                    negotiated_wish: None,
                    negotiated_stopped: false,
                }),
            }
        }
        Ok(())
    }

    /// The peer offers a new data m-line: our data transceiver not offered
    /// yet takes it, or a new one is made; a second data m-line gets none
    /// (and is rejected: one association per connection, RFC 8831 §5).
    fn associate_data_line(&mut self, mid: &str, index: usize) {
        let live = |t: &TransceiverState| t.kind == MediaKind::Application && !t.stopped;
        if self
            .transceivers
            .iter()
            .any(|t| live(t) && t.mline.is_some())
        {
            return;
        }
        if let Some(t) = self
            .transceivers
            .iter_mut()
            .find(|t| live(t) && t.mline.is_none())
        {
            t.mid = Some(mid.to_string());
            t.mline = Some(index);
            t.from_remote = true;
            return;
        }
        self.transceivers.push(TransceiverState {
            mid: Some(mid.to_string()),
            kind: MediaKind::Application,
            track: None,
            send: false,
            receive: true,
            stopped: false,
            mline: Some(index),
            associable: false,
            from_remote: true,
            negotiated_wish: None,
            negotiated_stopped: false,
        });
    }

    /// A mid no transceiver, no description and not `offer` uses.
    fn fresh_mid_besides(&self, offer: &SessionDescription<'_>) -> String {
        (0u64..)
            .map(|n| n.to_string())
            .find(|m| {
                self.fresh_mid_free(m) && !offer.media.iter().any(|x| x.mid() == Some(m.as_str()))
            })
            .unwrap_or_default()
    }

    fn fresh_mid_free(&self, m: &str) -> bool {
        !self
            .transceivers
            .iter()
            .any(|t| t.mid.as_deref() == Some(m))
            && ![
                &self.current_local,
                &self.current_remote,
                &self.pending_local,
                &self.pending_remote,
            ]
            .into_iter()
            .flatten()
            .any(|d| d.media.iter().any(|x| x.mid() == Some(m)))
    }

    /// The transceivers of our answer, matched to the offer by mid.
    pub(super) fn answer_layout(&self) -> Vec<Transceiver> {
        self.transceivers
            .iter()
            .filter(|t| t.mline.is_some())
            .map(TransceiverState::to_sdp)
            .collect()
    }

    /// What a rollback restores: taken when an offer is set.
    pub(super) fn take_snapshot(&mut self) {
        self.snapshot = Some(
            self.transceivers
                .iter()
                .map(|t| Snapshot {
                    mid: t.mid.clone(),
                    mline: t.mline,
                    stopped: t.stopped,
                })
                .collect(),
        );
    }

    /// Puts the transceivers back as they were before the offer
    /// (RFC 8829 §4.1.8.2): those made for a remote offer go, those added
    /// since keep their wish and wait for the next offer.
    pub(super) fn restore_snapshot(&mut self) {
        let Some(snap) = self.snapshot.take() else {
            return;
        };
        let mut i = 0;
        self.transceivers.retain(|t| {
            let keep = i < snap.len() || !t.from_remote;
            i += 1;
            keep
        });
        for (t, s) in self.transceivers.iter_mut().zip(&snap) {
            t.mid = s.mid.clone();
            t.mline = s.mline;
            t.stopped = s.stopped;
            t.from_remote = false;
        }
        for t in self.transceivers.iter_mut().skip(snap.len()) {
            t.mline = None;
        }
    }

    /// A negotiation completed: each transceiver on a rejected m-line is
    /// stopped, its wish recorded; dead ones are dropped.
    pub(super) fn settle_transceivers(&mut self, n: &Negotiated) {
        self.snapshot = None;
        for t in &mut self.transceivers {
            t.from_remote = false;
            let Some(mid) = t.mid.as_deref().filter(|_| t.mline.is_some()) else {
                continue;
            };
            if let Some((i, m)) = n.media.iter().enumerate().find(|(_, m)| m.mid == mid) {
                t.mline = Some(i);
                if m.rejected {
                    t.stopped = true;
                }
                t.negotiated_stopped = m.rejected;
                t.negotiated_wish = Some((t.send, t.receive));
            }
        }
        // Stopped transceivers whose m-line was recycled are gone; an
        // associable track no m-line took stays for the next offer.
        self.transceivers.retain(|t| !t.is_dead());
    }
}

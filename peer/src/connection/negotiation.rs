//! Offer/answer (RFC 8829 JSEP): transceivers, descriptions, trickled
//! candidates, and turning a negotiation into send and receive state.

use super::*;

impl PeerConnection {
    pub(super) fn local_params(&self) -> LocalParams {
        let ice = self.ice.as_ref();
        let candidates = ice
            .map(|i| {
                i.local_candidates()
                    .map(|c| candidate::to_sdp_hiding(c, &self.config.host_names))
                    .collect()
            })
            .unwrap_or_default();
        LocalParams {
            ice_ufrag: ice.map(|i| i.local_ufrag().to_string()).unwrap_or_default(),
            ice_pwd: ice.map(|i| i.local_pwd().to_string()).unwrap_or_default(),
            fingerprint: negotiate::Fingerprint {
                hash: "sha-256".into(),
                value: self.certificate.fingerprint().to_string(),
            },
            cname: self.cname.clone(),
            session_id: self.session_id,
            session_version: self.session_version,
            candidates,
            end_of_candidates: self.gathering_done,
        }
    }

    /// Makes an offer and sets it as the local description (with every
    /// candidate gathered so far; more come as
    /// [`PeerEvent::LocalCandidate`]). The first offer carries the
    /// transceivers added so far; a subsequent one (RFC 8829 §5.2.2) keeps
    /// the current m-lines in their order with their mids, writes stopped
    /// transceivers with port 0, puts new transceivers on recycled stopped
    /// m-lines or at the end, and keeps the BUNDLE tag and the transport.
    /// Only in the stable state.
    pub fn create_offer(&mut self, now: Instant) -> Result<String, PeerError> {
        self.check_open()?;
        if self.signaling != SignalingState::Stable {
            return Err(PeerError::WrongState {
                call: "create_offer",
                state: self.signaling,
            });
        }
        tracing::debug!(
            renegotiation = self.negotiated.is_some(),
            ice_restart = self.ice_restart_pending,
            "creating an offer"
        );
        self.ensure_ice(true, now);
        self.take_snapshot();
        // ICE restart (RFC 8445 §9, RFC 8829 §5.2.1): new credentials in
        // this offer; the old pair carries media until a new one is
        // selected.
        self.offer_restarts_ice = false;
        if self.ice_restart_pending && self.negotiated.is_some() {
            if let Some(ice) = &mut self.ice {
                ice.restart(now);
                self.ice_restarts += 1;
                self.offer_restarts_ice = true;
            }
            self.ice_restart_pending = false;
            self.reopen_gathering();
            self.drain_ice(now);
        }
        let (layout, kept) = self.offer_layout();
        let tag = self.negotiated.as_ref().map(|n| n.bundle_mid.clone());
        self.session_version += u64::from(self.current_local.is_some());
        let made = negotiate::create_subsequent_offer(
            &self.local_params(),
            &self.config.features,
            &layout,
            tag.as_deref(),
            self.current_local.as_ref(),
        );
        let mut sdp = match made {
            Ok(sdp) => sdp,
            Err(e) => {
                self.restore_snapshot();
                return Err(e.into());
            }
        };
        if let Some(cur) = &self.current_local {
            for m in kept {
                if let (Some(line), Some(old)) = (sdp.media.get_mut(m), cur.media.get(m)) {
                    *line = old.clone();
                }
            }
        }
        let text = sdp.to_string();
        self.pending_local = Some(sdp);
        self.signaling = SignalingState::HaveLocalOffer;
        self.negotiation_needed = false;
        if self.current_local.is_none() {
            self.set_state(ConnectionState::Connecting);
        }
        Ok(text)
    }

    /// Applies the peer's offer or answer (`RTCSessionDescription`'s
    /// `type` and `sdp`), initial or subsequent (RFC 8829 §5.10). An answer
    /// without an offer of ours, or an offer while ours is outstanding
    /// (glare: [`PeerConnection::rollback`] ours first, or use
    /// [`PeerConnection::set_remote_offer_with_rollback`]), is a
    /// [`PeerError::WrongState`]. A description that fails leaves the state
    /// as it was.
    pub fn set_remote_description(
        &mut self,
        now: Instant,
        kind: SdpType,
        sdp: &str,
    ) -> Result<(), PeerError> {
        self.check_open()?;
        tracing::debug!(
            ?kind,
            renegotiation = self.negotiated.is_some(),
            "remote description"
        );
        let parsed = SessionDescription::parse(sdp)
            .map_err(|e| PeerError::Sdp(e.to_string()))?
            .into_owned();
        match (kind, self.signaling) {
            (SdpType::Answer, SignalingState::HaveLocalOffer) => {
                let local = self.pending_local.take().ok_or(PeerError::WrongState {
                    call: "set_remote_description",
                    state: self.signaling,
                })?;
                let n = match negotiate::negotiate(&local, &parsed, true)
                    .map_err(PeerError::from)
                    .and_then(|n| self.check_continuity(&n).map(|()| n))
                {
                    Ok(n) => n,
                    Err(e) => {
                        self.pending_local = Some(local);
                        return Err(e);
                    }
                };
                self.complete_negotiation(now, local, parsed, n)?;
            }
            (SdpType::Offer, SignalingState::Stable) => {
                // Checked as a whole when we answer; its m-lines are
                // matched to our transceivers now, its candidates and
                // credentials used at once on a first offer.
                self.take_snapshot();
                if let Err(e) = self.associate_remote_offer(&parsed) {
                    self.restore_snapshot();
                    return Err(e);
                }
                let first = self.current_remote.is_none();
                self.pending_remote = Some(parsed);
                self.signaling = SignalingState::HaveRemoteOffer;
                if first {
                    // A first offer of ours rolled back made the agent
                    // controlling; the answerer is controlled (RFC 8445
                    // §6.1.1, RFC 8829 §5.10).
                    if let Some(ice) = self.ice.as_mut().filter(|i| i.is_controlling()) {
                        ice.set_controlling(false);
                    }
                    self.ensure_ice(false, now);
                    self.set_state(ConnectionState::Connecting);
                }
            }
            (SdpType::Offer, state) => {
                return Err(PeerError::WrongState {
                    call: "set_remote_description(offer)",
                    state,
                })
            }
            (SdpType::Answer, state) => {
                return Err(PeerError::WrongState {
                    call: "set_remote_description(answer)",
                    state,
                })
            }
        }
        Ok(())
    }

    /// Answers the remote offer and sets the answer as the local
    /// description (RFC 8829 §5.3.1, §5.3.2 for a subsequent one: the DTLS
    /// role and the transport stay).
    pub fn create_answer(&mut self, now: Instant) -> Result<String, PeerError> {
        self.check_open()?;
        if self.signaling != SignalingState::HaveRemoteOffer {
            return Err(PeerError::WrongState {
                call: "create_answer",
                state: self.signaling,
            });
        }
        self.ensure_ice(false, now);
        let offer = self.pending_remote.take().ok_or(PeerError::WrongState {
            call: "create_answer",
            state: self.signaling,
        })?;
        let layout = self.answer_layout();
        // The peer restarts ICE (new credentials in its offer): so do we,
        // in this answer (RFC 8839 §4.4.1.1.1, RFC 8829 §5.3.2).
        let restart = self
            .negotiated
            .as_ref()
            .is_some_and(|n| offer_ice_ufrag(&offer).is_some_and(|u| u != n.remote_ufrag));
        if restart {
            if let Some(ice) = &mut self.ice {
                ice.restart(now);
                self.ice_restarts += 1;
            }
            self.ice_restart_pending = false;
            self.reopen_gathering();
            self.drain_ice(now);
        }
        self.session_version += u64::from(self.current_local.is_some());
        let made = negotiate::create_answer_for(
            &offer,
            &self.local_params(),
            &self.config.features,
            &layout,
            self.negotiated.as_ref().map(|n| n.dtls_role),
        )
        .map_err(PeerError::from)
        .and_then(|answer| {
            let n = negotiate::negotiate(&answer, &offer, false)?;
            self.check_continuity(&n)?;
            Ok((answer, n))
        });
        let (answer, n) = match made {
            Ok(x) => x,
            Err(e) => {
                self.pending_remote = Some(offer);
                return Err(e);
            }
        };
        let text = answer.to_string();
        self.complete_negotiation(now, answer, offer, n)?;
        Ok(text)
    }

    /// Rolls back the outstanding offer, ours or the peer's (RFC 8829
    /// §4.1.8.2, `setLocalDescription({type: "rollback"})`): the signaling
    /// state is stable again and the transceivers are as before the offer;
    /// transceivers added meanwhile wait for the next offer. The transport
    /// is untouched. What perfect negotiation's polite side does when the
    /// peer's offer crosses its own.
    pub fn rollback(&mut self) -> Result<(), PeerError> {
        self.check_open()?;
        self.roll_back_outstanding()?;
        self.negotiation_needed = false;
        self.update_negotiation_needed();
        Ok(())
    }

    /// Applies the peer's offer, first rolling back an offer of ours that
    /// is outstanding: W3C webrtc-pc §4.4.1.6 (`setRemoteDescription` of
    /// an offer in `have-local-offer` runs the rollback steps first, the
    /// "implicit rollback"; RFC 8829 §5.10, §4.1.8.2). What the polite side
    /// of perfect negotiation does with a crossing offer, in one call.
    ///
    /// Returns whether an offer of ours was rolled back. In the stable
    /// state it is [`PeerConnection::set_remote_description`] of an offer.
    /// If the peer's offer then fails, the rollback stays (as browsers do):
    /// the state is stable, the transceivers as before our offer, and our
    /// change still waits for an offer ([`PeerEvent::NegotiationNeeded`]).
    pub fn set_remote_offer_with_rollback(
        &mut self,
        now: Instant,
        sdp: &str,
    ) -> Result<bool, PeerError> {
        self.check_open()?;
        let rolled_back = self.signaling == SignalingState::HaveLocalOffer;
        if rolled_back {
            tracing::debug!("implicit rollback of our offer for the peer's");
            self.roll_back_outstanding()?;
            self.implicit_rollbacks += 1;
            // Re-evaluated once stable again (after our answer, or now if
            // the offer fails), not in between (W3C webrtc-pc §4.7.3).
            self.negotiation_needed = false;
        }
        match self.set_remote_description(now, SdpType::Offer, sdp) {
            Ok(()) => Ok(rolled_back),
            Err(e) => {
                self.update_negotiation_needed();
                Err(e)
            }
        }
    }

    /// The rollback steps (RFC 8829 §4.1.8.2) without the
    /// negotiation-needed check that follows them.
    fn roll_back_outstanding(&mut self) -> Result<(), PeerError> {
        match self.signaling {
            SignalingState::Stable => {
                return Err(PeerError::WrongState {
                    call: "rollback",
                    state: self.signaling,
                })
            }
            SignalingState::HaveLocalOffer => {
                self.pending_local = None;
                // The session version stays increasing (RFC 3264 §8). Our
                // credentials stay new: the next offer carries them.
                self.ice_restart_pending |= self.offer_restarts_ice;
            }
            SignalingState::HaveRemoteOffer => self.pending_remote = None,
        }
        self.restore_snapshot();
        self.signaling = SignalingState::Stable;
        Ok(())
    }

    /// Restarts ICE (RFC 8445 §9, W3C `restartIce()`): the next offer
    /// carries new credentials ([`PeerEvent::NegotiationNeeded`] says
    /// when to make it), both agents check pairs anew, and media goes on
    /// over the old pair until a new one is selected; DTLS and SRTP stay.
    /// An offer from the peer with new credentials restarts ICE on our
    /// side too.
    pub fn restart_ice(&mut self) {
        if self.closed {
            return;
        }
        self.ice_restart_pending = true;
        self.update_negotiation_needed();
    }

    /// A subsequent negotiation runs on the same DTLS association: the
    /// peer's certificate and our role cannot change (RFC 8842 §5.5; a new
    /// association would need a new transport, which BUNDLE here does not
    /// make).
    fn check_continuity(&self, n: &Negotiated) -> Result<(), PeerError> {
        let Some(old) = &self.negotiated else {
            return Ok(());
        };
        if !old
            .remote_fingerprint
            .value
            .eq_ignore_ascii_case(&n.remote_fingerprint.value)
        {
            return Err(PeerError::Fingerprint(
                "the peer's certificate changed in a renegotiation".into(),
            ));
        }
        if old.dtls_role != n.dtls_role {
            return Err(PeerError::Negotiation(NegotiationError::Setup(
                "a renegotiation cannot change the DTLS role",
            )));
        }
        Ok(())
    }

    /// Both descriptions are set: stable again, and what was agreed is put
    /// to work.
    fn complete_negotiation(
        &mut self,
        now: Instant,
        local: SessionDescription<'static>,
        remote: SessionDescription<'static>,
        n: Negotiated,
    ) -> Result<(), PeerError> {
        self.current_local = Some(local);
        self.current_remote = Some(remote);
        self.pending_local = None;
        self.pending_remote = None;
        self.signaling = SignalingState::Stable;
        self.settle_transceivers(&n);
        let r = self.apply_negotiated(now, n);
        self.update_negotiation_needed();
        r
    }

    /// Our description as it stands now: the outstanding offer, or the
    /// last offer or answer, with every candidate gathered since and
    /// `a=end-of-candidates` once gathering is complete (what
    /// `localDescription` gives in a browser). `None` before an offer or
    /// answer was made.
    pub fn local_description(&self) -> Option<String> {
        let mut sdp = self
            .pending_local
            .as_ref()
            .or(self.current_local.as_ref())?
            .clone();
        let tag = sdp.bundle().and_then(|g| g.first()).map(|t| t.to_string());
        let params = self.local_params();
        let line = sdp
            .media
            .iter_mut()
            .find(|m| tag.is_none() || m.mid() == tag.as_deref())?;
        line.attributes
            .retain(|a| !matches!(a, Attribute::Candidate(_) | Attribute::EndOfCandidates));
        // After `a=rtcp`, where our descriptions write them.
        let at = usize::from(
            matches!(line.attributes.first(), Some(Attribute::Other { name, .. }) if name == "rtcp"),
        );
        let mut add: Vec<Attribute<'static>> = params
            .candidates
            .into_iter()
            .map(|c| Attribute::Candidate(Box::new(c)))
            .collect();
        if params.end_of_candidates {
            add.push(Attribute::EndOfCandidates);
        }
        line.attributes.splice(at..at, add);
        Some(sdp.to_string())
    }

    /// Whether local candidate gathering is complete.
    pub fn gathering_complete(&self) -> bool {
        self.gathering_done
    }

    /// A trickled remote candidate (`candidate:...` or the bare attribute
    /// value); `None` is end-of-candidates. Queued until the remote
    /// description is there: at most 100 of them and 64 KiB in all, so a peer that trickles
    /// thousands before its description costs bounded memory. Beyond that
    /// the candidate is dropped with [`PeerError::CandidateQueueFull`]
    /// (the caller counts it; the connection goes on with the candidates
    /// of the description and those queued). End-of-candidates is always
    /// kept.
    ///
    /// An empty candidate string is end-of-candidates too: browsers
    /// trickle one per m-line when gathering ends (Firefox always does,
    /// before the final `null`), and W3C webrtc-pc's `addIceCandidate`
    /// reads it as the end-of-candidates indication (RFC 8840 §8.2). With BUNDLE there is one transport, so it ends the
    /// remote candidates.
    pub fn add_remote_candidate(
        &mut self,
        now: Instant,
        candidate: Option<&str>,
    ) -> Result<(), PeerError> {
        self.check_open()?;
        let candidate = candidate.filter(|c| !c.trim().is_empty());
        if let Some(c) = candidate {
            let v = normalize_candidate(c);
            CandidateAttr::parse(&v).map_err(|e| PeerError::Candidate(e.to_string()))?;
        }
        if self.negotiated.is_none() && self.pending_remote.is_none() {
            return self.queue_remote_candidate(candidate);
        }
        self.apply_remote_candidate(now, candidate);
        Ok(())
    }

    /// Queues a candidate for the remote description, within the bounds.
    fn queue_remote_candidate(&mut self, candidate: Option<&str>) -> Result<(), PeerError> {
        let queued = self.pending_remote_candidates.len();
        // At most MAX_PENDING_CANDIDATES entries: summing them is cheap.
        let bytes: usize = self
            .pending_remote_candidates
            .iter()
            .flatten()
            .map(String::len)
            .sum();
        let Some(c) = candidate else {
            // End-of-candidates: one entry, kept whatever the queue holds.
            if !self.pending_remote_candidates.iter().any(Option::is_none) {
                self.pending_remote_candidates.push(None);
            }
            return Ok(());
        };
        // The end-of-candidates entry does not take a place.
        let counted =
            queued - usize::from(self.pending_remote_candidates.iter().any(Option::is_none));
        if counted >= MAX_PENDING_CANDIDATES || bytes + c.len() > MAX_PENDING_CANDIDATE_BYTES {
            self.remote_candidates_dropped += 1;
            return Err(PeerError::CandidateQueueFull { queued, bytes });
        }
        self.pending_remote_candidates.push(Some(c.to_string()));
        Ok(())
    }

    pub(super) fn apply_remote_candidate(&mut self, now: Instant, candidate: Option<&str>) {
        let Some(ice) = &mut self.ice else {
            // No agent yet: wait with the others (within the same bounds;
            // one over them is dropped, as in add_remote_candidate).
            let _ = self.queue_remote_candidate(candidate);
            return;
        };
        match candidate {
            None => ice.end_of_remote_candidates(now),
            Some(c) => {
                let v = normalize_candidate(c);
                if let Ok(attr) = CandidateAttr::parse(&v) {
                    if let Ok(cand) = candidate::from_sdp(&attr) {
                        let _ = ice.add_remote_candidate(now, cand);
                    }
                }
            }
        }
        self.drain_ice(now);
    }

    pub(super) fn apply_negotiated(
        &mut self,
        now: Instant,
        n: Negotiated,
    ) -> Result<(), PeerError> {
        // ICE: credentials and candidates from the description.
        if let Some(ice) = &mut self.ice {
            ice.set_remote_credentials(now, &n.remote_ufrag, &n.remote_pwd)
                .map_err(|e| PeerError::Candidate(e.to_string()))?;
            for c in &n.remote_candidates {
                if let Ok(cand) = candidate::from_sdp(c) {
                    let _ = ice.add_remote_candidate(now, cand);
                }
            }
            if n.remote_end_of_candidates {
                ice.end_of_remote_candidates(now);
            }
        }
        // Media lines, streams, extension ids.
        let was_receiving: Vec<(String, MediaKind)> = self
            .lines
            .iter()
            .filter(|l| l.receive)
            .map(|l| (l.mid.clone(), l.kind))
            .collect();
        self.lines.clear();
        for m in n.media.iter().filter(|m| !m.rejected) {
            let Some(kind) = m.kind else { continue };
            let Some(first) = m.codecs.first() else {
                continue;
            };
            self.lines.push(MediaLine {
                mid: m.mid.clone(),
                kind,
                send: m.send,
                receive: m.receive,
                payload_types: m.codecs.iter().map(|c| c.pt).collect(),
                rtx_pt: first.rtx_pt,
                clock: first.clock,
                remote_ssrcs: m.remote_ssrcs.iter().map(|r| (r.ssrc, r.rtx)).collect(),
            });
            for (id, uri) in &m.extensions {
                let id = u8::try_from(*id).ok();
                if uri == ext::MID {
                    self.mid_ext = self.mid_ext.or(id);
                }
                if uri == ext::TRANSPORT_CC {
                    self.twcc_ext = self.twcc_ext.or(id);
                    if self.twcc_rx.is_none() {
                        self.twcc_rx = Some(TwccRecorder::new(TwccConfig::default()));
                    }
                }
            }
        }
        self.setup_senders();
        // A track the peer stopped sending (or whose m-line went): its
        // receive state goes, and the application hears of it.
        for (mid, kind) in was_receiving {
            if !self.lines.iter().any(|l| l.mid == mid && l.receive) {
                self.receivers.retain(|r| r.mid != mid);
                self.events.push_back(PeerEvent::TrackRemoved { mid, kind });
            }
        }
        self.receivers
            .retain(|r| self.lines.iter().any(|l| l.mid == r.mid && l.receive));
        self.ensure_congestion();
        // DTLS: role and fingerprint.
        let fp_text = &n.remote_fingerprint.value;
        if !n.remote_fingerprint.hash.eq_ignore_ascii_case("sha-256") {
            return Err(PeerError::Fingerprint(format!(
                "hash {} (only sha-256 is checked)",
                n.remote_fingerprint.hash
            )));
        }
        let fp = dtls::Fingerprint::parse_sdp(fp_text)
            .map_err(|e| PeerError::Fingerprint(e.to_string()))?;
        self.dtls_role = Some(n.dtls_role);
        self.negotiated = Some(n);
        match &mut self.dtls {
            Some(d) => {
                let _ = d.set_remote_fingerprint(fp);
            }
            None => {
                let mut cfg = dtls::Config::new(self.certificate.clone());
                cfg.remote_fingerprint = Some(fp);
                cfg.mtu = self.config.mtu;
                cfg.initial_rto = self.config.dtls_initial_rto;
                cfg.handshake_timeout = self.config.dtls_timeout;
                cfg.key_log = self.config.key_log;
                cfg.srtp_profiles = (self.config.srtp_profiles.iter())
                    .map(|p| dtls::SrtpProfileId(p.dtls_id()))
                    .collect();
                cfg.rng_seed = Some(self.rng.seed32());
                cfg.versions = self.config.dtls_versions;
                cfg.x25519mlkem768 = self.config.dtls_x25519mlkem768;
                if self.dtls_role == Some(DtlsRole::Server) {
                    self.dtls = Some(AnyDtls::server(cfg, now));
                    self.set_dtls_state(DtlsState::Connecting);
                } else {
                    // The client starts once ICE has a pair.
                    self.pending_dtls_client = Some(cfg);
                }
            }
        }
        for c in std::mem::take(&mut self.pending_remote_candidates) {
            self.apply_remote_candidate(now, c.as_deref());
        }
        self.maybe_start_dtls_client(now);
        for (from, to, d) in std::mem::take(&mut self.early_dtls) {
            self.early_bytes = self.early_bytes.saturating_sub(d.len());
            self.handle_dtls(now, from, to, &d);
        }
        self.drain_ice(now);
        self.drain_dtls(now);
        self.maybe_start_sctp(now);
        Ok(())
    }

    /// Send state per m-line we send on. A stream that goes on sending
    /// (same m-line, same SSRC) keeps its state, so its sequence numbers
    /// and SRTP indexes run on across a renegotiation; one that stops is
    /// parked with its state, and resumes where it stopped.
    pub(super) fn setup_senders(&mut self) {
        let mut tracks: Vec<(String, MediaKind, SendTrack)> = Vec::new();
        for t in &self.transceivers {
            let (Some(mid), Some(track)) = (&t.mid, &t.track) else {
                continue;
            };
            if t.send && !t.stopped && t.mline.is_some() {
                tracks.push((mid.clone(), t.kind, track.clone()));
            }
        }
        let mut old: Vec<SendState> = std::mem::take(&mut self.senders);
        old.append(&mut self.parked_senders);
        for (mid, kind, track) in tracks {
            let Some(line) = self.lines.iter().find(|l| l.mid == mid && l.send) else {
                continue;
            };
            let Some(&pt) = line.payload_types.first() else {
                continue;
            };
            // The same m-line and SSRC go on as one stream even when the
            // renegotiation numbered the codec anew (a peer's offer with
            // other payload types): only the number changes, its sequence
            // numbers, timestamps and SRTP index run on (RFC 3550 §5.1,
            // RFC 3711 §3.3.1).
            if let Some(i) = old
                .iter()
                .position(|s| s.mid == mid && s.ssrc == track.ssrc)
            {
                let mut s = old.swap_remove(i);
                if s.stream.header().payload_type != pt {
                    s.stream.set_payload_type(pt);
                }
                if let Some(b) = &mut s.buffer {
                    b.set_payload_types(pt, line.rtx_pt);
                    s.has_rtx = b.rtx().is_some();
                }
                s.clock = line.clock;
                self.senders.push(s);
                continue;
            }
            let mid_ext = self.mid_ext.map(|id| (id, mid.as_str()));
            let Ok(stream) = SendStream::new(
                track.ssrc,
                pt,
                self.rng.u32() as u16,
                mid_ext,
                self.twcc_ext,
            ) else {
                continue;
            };
            let has_rtx =
                kind == MediaKind::Video && track.rtx_ssrc.is_some() && line.rtx_pt.is_some();
            let buffer = (kind == MediaKind::Video).then(|| {
                let rtx = match (track.rtx_ssrc, line.rtx_pt) {
                    (Some(ssrc), Some(payload_type)) => Some(RtxConfig {
                        ssrc,
                        payload_type,
                        first_seq: self.rng.u32() as u16,
                    }),
                    _ => None,
                };
                SendBuffer::new(
                    track.ssrc,
                    pt,
                    SendBufferConfig {
                        rtx,
                        max_payload: self.config.mtu,
                        ..SendBufferConfig::default()
                    },
                )
            });
            self.senders.push(SendState {
                mid: mid.clone(),
                kind,
                ssrc: track.ssrc,
                clock: line.clock,
                stream,
                buffer,
                has_rtx,
                sender: SenderStats::new(),
                ts_offset: self.rng.u32(),
                stats: OutboundStats {
                    mid,
                    kind: kind_name(kind),
                    ssrc: track.ssrc,
                    ..OutboundStats::default()
                },
            });
        }
        // Streams that stopped keep their state (and an SSRC whose SRTP
        // indexes must never repeat) for a later resume.
        self.parked_senders = old;
    }

    /// Stops sending on `mid` at once (a stopped transceiver).
    pub(super) fn park_sender(&mut self, mid: &str) {
        while let Some(i) = self.senders.iter().position(|s| s.mid == mid) {
            let s = self.senders.swap_remove(i);
            self.parked_senders.push(s);
        }
    }

    // ----- state -----

    /// What was agreed, once both descriptions are set.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// The mids we send on, with their kinds.
    pub fn sending_mids(&self) -> Vec<(String, MediaKind)> {
        self.senders
            .iter()
            .map(|s| (s.mid.clone(), s.kind))
            .collect()
    }

    /// What a negotiated m-line carries (for reports).
    pub fn media(&self) -> Vec<NegotiatedMedia> {
        self.negotiated
            .as_ref()
            .map(|n| n.media.clone())
            .unwrap_or_default()
    }
}

/// Most trickled remote candidates queued before the remote description
/// (more than the ICE agent takes, `IceConfig::max_remote_candidates`).
pub(super) const MAX_PENDING_CANDIDATES: usize = 100;
/// Most bytes of trickled remote candidates queued before the remote
/// description.
pub(super) const MAX_PENDING_CANDIDATE_BYTES: usize = 64 * 1024;

/// A trickled candidate as `candidate:...`, however it was written
/// (`a=candidate:...`, `candidate:...`, or the bare value).
pub(super) fn normalize_candidate(c: &str) -> String {
    let v = c.trim().trim_start_matches("a=");
    if v.starts_with("candidate:") {
        v.to_string()
    } else {
        format!("candidate:{v}")
    }
}

/// The ICE ufrag of an offer: its first m-line that has one (every bundled
/// m-line carries the same), else the session level.
fn offer_ice_ufrag<'d>(offer: &'d SessionDescription<'_>) -> Option<&'d str> {
    offer
        .media
        .iter()
        .filter(|m| m.port != 0)
        .find_map(|m| m.ice_credentials().map(|c| c.0))
        .or_else(|| {
            offer.find(|a| match a {
                Attribute::IceUfrag(u) => Some(u.as_ref()),
                _ => None,
            })
        })
}

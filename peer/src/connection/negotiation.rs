//! Offer/answer (RFC 8829 JSEP): transceivers, descriptions, trickled
//! candidates, and turning a negotiation into send and receive state.

use super::*;

impl PeerConnection {
    /// Adds a transceiver for an offer: `send` and `receive` as in its
    /// direction. Returns its mid.
    pub fn add_transceiver(&mut self, kind: MediaKind, send: bool, receive: bool) -> String {
        let mid = self.transceivers.len().to_string();
        let send = send.then(|| self.new_send_track(kind));
        self.transceivers.push(Transceiver {
            mid: mid.clone(),
            kind,
            send,
            receive,
        });
        mid
    }

    /// Declares a track to send when answering: it goes on the first
    /// offered m-line of its kind (RFC 8829 §5.3.1).
    pub fn add_answer_track(&mut self, kind: MediaKind) {
        let t = self.new_send_track(kind);
        self.answer_tracks.push((kind, t));
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

    pub(super) fn local_params(&self) -> LocalParams {
        let ice = self.ice.as_ref();
        let candidates = ice
            .map(|i| i.local_candidates().map(candidate::to_sdp).collect())
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

    /// Makes an offer of the transceivers added so far and sets it as the
    /// local description (with every candidate gathered so far; more come
    /// as [`PeerEvent::LocalCandidate`]).
    pub fn create_offer(&mut self, now: Instant) -> Result<String, PeerError> {
        self.check_open()?;
        if self.signaling != SignalingState::Stable || self.local_sdp.is_some() {
            return Err(PeerError::WrongState {
                call: "create_offer",
                state: self.signaling,
            });
        }
        self.ensure_ice(true, now);
        let sdp = negotiate::create_offer(
            &self.local_params(),
            &self.config.features,
            &self.transceivers,
        )?;
        let text = sdp.to_string();
        self.local_sdp = Some(sdp);
        self.we_offered = Some(true);
        self.signaling = SignalingState::HaveLocalOffer;
        self.set_state(ConnectionState::Connecting);
        Ok(text)
    }

    /// Applies the peer's offer or answer (`RTCSessionDescription`'s
    /// `type` and `sdp`). An answer without an offer of ours, or an offer
    /// while ours is outstanding, is a [`PeerError::WrongState`].
    pub fn set_remote_description(
        &mut self,
        now: Instant,
        kind: SdpType,
        sdp: &str,
    ) -> Result<(), PeerError> {
        self.check_open()?;
        let parsed = SessionDescription::parse(sdp)
            .map_err(|e| PeerError::Sdp(e.to_string()))?
            .into_owned();
        match (kind, self.signaling) {
            (SdpType::Answer, SignalingState::HaveLocalOffer) => {
                let local = self.local_sdp.as_ref().ok_or(PeerError::WrongState {
                    call: "set_remote_description",
                    state: self.signaling,
                })?;
                let n = negotiate::negotiate(local, &parsed, true)?;
                self.remote_sdp = Some(parsed);
                self.signaling = SignalingState::Stable;
                self.apply_negotiated(now, n)?;
            }
            (SdpType::Offer, SignalingState::Stable)
                if self.local_sdp.is_none() && self.remote_sdp.is_none() =>
            {
                // An offer: checked when we answer. Its candidates and
                // credentials can be used at once.
                self.remote_sdp = Some(parsed);
                self.signaling = SignalingState::HaveRemoteOffer;
                self.ensure_ice(false, now);
                self.set_state(ConnectionState::Connecting);
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
    /// description.
    pub fn create_answer(&mut self, now: Instant) -> Result<String, PeerError> {
        self.check_open()?;
        if self.signaling != SignalingState::HaveRemoteOffer {
            return Err(PeerError::WrongState {
                call: "create_answer",
                state: self.signaling,
            });
        }
        self.ensure_ice(false, now);
        let offer = self.remote_sdp.as_ref().ok_or(PeerError::WrongState {
            call: "create_answer",
            state: self.signaling,
        })?;
        let answer = negotiate::create_answer(
            offer,
            &self.local_params(),
            &self.config.features,
            &self.answer_tracks,
        )?;
        let n = negotiate::negotiate(&answer, offer, false)?;
        let text = answer.to_string();
        self.local_sdp = Some(answer);
        self.we_offered = Some(false);
        self.signaling = SignalingState::Stable;
        self.apply_negotiated(now, n)?;
        Ok(text)
    }

    /// Our description as it stands now: the offer or answer made
    /// earlier, with every candidate gathered since and
    /// `a=end-of-candidates` once gathering is complete (what
    /// `localDescription` gives in a browser). `None` before an offer or
    /// answer was made.
    pub fn local_description(&self) -> Option<String> {
        let sdp = match self.we_offered? {
            true => negotiate::create_offer(
                &self.local_params(),
                &self.config.features,
                &self.transceivers,
            ),
            false => negotiate::create_answer(
                self.remote_sdp.as_ref()?,
                &self.local_params(),
                &self.config.features,
                &self.answer_tracks,
            ),
        };
        sdp.ok().map(|d| d.to_string())
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
    pub fn add_remote_candidate(
        &mut self,
        now: Instant,
        candidate: Option<&str>,
    ) -> Result<(), PeerError> {
        self.check_open()?;
        if let Some(c) = candidate {
            let v = normalize_candidate(c);
            CandidateAttr::parse(&v).map_err(|e| PeerError::Candidate(e.to_string()))?;
        }
        if self.negotiated.is_none() && self.remote_sdp.is_none() {
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
        self.setup_senders(&n);
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
                if self.dtls_role == Some(DtlsRole::Server) {
                    self.dtls = Some(Dtls::server(cfg, now));
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
        Ok(())
    }

    pub(super) fn setup_senders(&mut self, n: &Negotiated) {
        let mut tracks: Vec<(String, MediaKind, SendTrack)> = Vec::new();
        // Which of our tracks went on which m-line: read our own local
        // description's a=ssrc lines back through the transceivers and
        // answer tracks we gave it.
        for t in &self.transceivers {
            if let Some(s) = &t.send {
                tracks.push((t.mid.clone(), t.kind, s.clone()));
            }
        }
        if tracks.is_empty() {
            let mut used = vec![false; self.answer_tracks.len()];
            for m in n.media.iter().filter(|m| !m.rejected && m.send) {
                let Some(kind) = m.kind else { continue };
                if let Some(i) =
                    (0..used.len()).find(|&i| !used[i] && self.answer_tracks[i].0 == kind)
                {
                    used[i] = true;
                    tracks.push((m.mid.clone(), kind, self.answer_tracks[i].1.clone()));
                }
            }
        }
        self.senders.clear();
        for (mid, kind, track) in tracks {
            let Some(line) = self.lines.iter().find(|l| l.mid == mid && l.send) else {
                continue;
            };
            let Some(&pt) = line.payload_types.first() else {
                continue;
            };
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

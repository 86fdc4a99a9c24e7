//! The bundled transport: the ICE agent, the DTLS handshake (RFC 5764)
//! and SRTP protection of what leaves.

use super::*;

impl PeerConnection {
    /// The owner opened a TCP or TLS connection from `local` to the TURN
    /// server `server` (configured in `ice.turn_servers` with a stream
    /// transport, RFC 8656 §3.1): an allocation is made over it. Transmits
    /// with `src == local` are written to that stream; each message read
    /// from it (split with `meshrtc_ice::turn::StreamFramer`) comes in
    /// through [`PeerConnection::handle_datagram`] from `server` to `local`.
    pub fn add_turn_stream(
        &mut self,
        now: Instant,
        server: SocketAddr,
        local: SocketAddr,
    ) -> Result<(), meshrtc_ice::IceError> {
        if let Some(ice) = &mut self.ice {
            ice.add_turn_stream(now, server, local)?;
            self.drain_ice(now);
        } else if !self
            .config
            .ice
            .turn_servers
            .iter()
            .any(|t| t.addr == server && t.transport.is_stream())
        {
            return Err(meshrtc_ice::IceError::UnknownTurnServer(server));
        }
        if !self.turn_streams.contains(&(server, local)) {
            self.turn_streams.push((server, local));
        }
        Ok(())
    }

    /// The counters of each TURN allocation (with its server) and of the
    /// ICE agent; empty and `None` before the agent exists.
    pub fn turn_stats(
        &self,
    ) -> (
        Vec<(SocketAddr, meshrtc_ice::turn::TurnStats)>,
        Option<meshrtc_ice::IceStats>,
    ) {
        match &self.ice {
            Some(ice) => (ice.turn_stats(), Some(ice.stats())),
            None => (Vec::new(), None),
        }
    }

    /// The candidate types (local, remote) of the selected pair.
    pub fn selected_candidate_kinds(
        &self,
    ) -> Option<(meshrtc_ice::CandidateKind, meshrtc_ice::CandidateKind)> {
        self.ice.as_ref()?.selected_kinds()
    }

    /// After [`PeerConnection::close`]: the ICE agent's deallocating
    /// Refresh requests (RFC 8656 §8) leave and are retransmitted (at
    /// `now`, when given) until answered; nothing else runs.
    pub(super) fn pump_closed_ice(&mut self, now: Option<Instant>) {
        let Some(ice) = &mut self.ice else { return };
        if let Some(now) = now {
            ice.handle_timeout(now);
        }
        while let Some(t) = ice.poll_transmit() {
            self.outbox.push_back(Transmit {
                src: t.src,
                dst: t.dst,
                payload: t.payload,
            });
        }
        while ice.poll_event().is_some() {}
    }

    /// After close: a TURN server's answer to a deallocation goes to the
    /// agent; everything else is dropped.
    pub(super) fn closed_relay_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) {
        if let Some(ice) = &mut self.ice {
            if ice.is_relay_server(to, from) {
                let _ = ice.handle_relay_datagram(now, from, to, data);
            }
        }
        self.pump_closed_ice(None);
    }

    pub(super) fn ensure_ice(&mut self, controlling: bool, now: Instant) {
        if self.ice.is_some() {
            return;
        }
        let mut cfg = self.config.ice.clone();
        cfg.controlling = controlling;
        cfg.seed = self.rng.seed32();
        let mut ice = IceAgent::new(cfg, now);
        for a in &self.local_addrs {
            let _ = ice.add_local_host(*a);
        }
        for &(server, local) in &self.turn_streams {
            let _ = ice.add_turn_stream(now, server, local);
        }
        ice.start_gathering(now);
        self.ice = Some(ice);
        for (from, to, d) in std::mem::take(&mut self.early_stun) {
            self.early_bytes = self.early_bytes.saturating_sub(d.len());
            self.handle_stun(now, from, to, &d);
        }
        self.drain_ice(now);
    }

    pub(super) fn handle_stun(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) {
        let Some(ice) = &mut self.ice else {
            if self.early_stun.len() < MAX_EARLY && self.early_bytes + data.len() <= MAX_EARLY_BYTES
            {
                self.early_bytes += data.len();
                self.early_stun.push((from, to, data.to_vec()));
            } else {
                self.early_dropped += 1;
            }
            return;
        };
        if ice.handle_datagram(now, from, to, data).is_err() {
            self.malformed += 1;
        }
        self.drain_ice(now);
    }

    pub(super) fn handle_dtls(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) {
        if self.dtls.is_none() {
            if self.early_dtls.len() < MAX_EARLY && self.early_bytes + data.len() <= MAX_EARLY_BYTES
            {
                self.early_bytes += data.len();
                self.early_dtls.push((from, to, data.to_vec()));
            } else {
                self.early_dropped += 1;
            }
            return;
        };
        match self.path_status(to, from) {
            PathStatus::Validated => {}
            // The peer's check on this pair succeeded (so it started DTLS);
            // ours is on its way: hold, bounded, until it validates.
            PathStatus::Checking => {
                let held: usize = self.held_dtls.iter().map(|h| h.2.len()).sum();
                if self.held_dtls.len() < MAX_HELD && held + data.len() <= MAX_HELD_BYTES {
                    self.held_dtls.push((from, to, data.to_vec()));
                } else {
                    self.unvalidated_dropped += 1;
                }
                return;
            }
            // Not a path ICE knows: a spoofed source. Dropped before DTLS
            // reads it, and never answered (no reflected flights).
            PathStatus::Unknown => {
                self.unvalidated_dropped += 1;
                return;
            }
        }
        self.last_remote = Some((to, from));
        if let Some(d) = &mut self.dtls {
            let _ = d.handle_datagram(now, data);
        }
        self.drain_dtls(now);
    }

    /// A datagram from one of our TURN servers goes to the ICE agent's
    /// relays (RFC 8656); what a peer sent through the relay comes back with
    /// the 5-tuple (our relayed address, the peer's address), which is the
    /// one ICE validated, and is demultiplexed like any datagram. Returns
    /// whether the datagram was the relay's.
    pub(super) fn handle_from_relay_server(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> bool {
        let Some(ice) = &mut self.ice else {
            return false;
        };
        if !ice.is_relay_server(to, from) {
            return false;
        }
        match ice.handle_relay_datagram(now, from, to, data) {
            Ok(Some(r)) => {
                let (relay, peer) = (r.relay, r.peer);
                self.handle_demuxed(now, peer, relay, r.data);
            }
            Ok(None) => {}
            Err(_) => self.malformed += 1,
        }
        self.drain_ice(now);
        true
    }

    /// What leaves from one of our relayed addresses is wrapped for its
    /// TURN server and sent from the relay's host base.
    pub(super) fn wrap_relayed(&mut self, t: Transmit) -> Option<Transmit> {
        let Some(ice) = &mut self.ice else {
            return Some(t);
        };
        // Relayed addresses are wrapped; one whose allocation was lost
        // drops the datagram (the agent counts it).
        let w = ice.wrap_relayed(meshrtc_ice::Transmit {
            src: t.src,
            dst: t.dst,
            payload: t.payload,
        })?;
        Some(Transmit {
            src: w.src,
            dst: w.dst,
            payload: w.payload,
        })
    }

    /// What ICE knows of the path `from` → our `to`.
    pub(super) fn path_status(&self, to: SocketAddr, from: SocketAddr) -> PathStatus {
        self.ice
            .as_ref()
            .map_or(PathStatus::Unknown, |ice| ice.path_status(to, from))
    }

    /// Hands held DTLS to the handshake once its pair validated; drops what
    /// ICE gave up on.
    pub(super) fn release_held_dtls(&mut self, now: Instant) {
        if self.held_dtls.is_empty() {
            return;
        }
        for (from, to, d) in std::mem::take(&mut self.held_dtls) {
            // Checking again re-holds it; Unknown counts it dropped.
            self.handle_dtls(now, from, to, &d);
        }
    }

    pub(super) fn drain_ice(&mut self, now: Instant) {
        let Some(ice) = &mut self.ice else { return };
        while let Some(t) = ice.poll_transmit() {
            self.outbox.push_back(Transmit {
                src: t.src,
                dst: t.dst,
                payload: t.payload,
            });
        }
        let mut changed = false;
        while let Some(e) = ice.poll_event() {
            match e {
                IceEvent::LocalCandidate(c) => {
                    let attr = candidate::to_sdp_hiding(&c, &self.config.host_names);
                    // sdpMid: the m-line that carries the transport.
                    let mid = self
                        .negotiated
                        .as_ref()
                        .map(|n| n.bundle_mid.clone())
                        .or_else(|| {
                            let d = self.pending_local.as_ref()?;
                            let tag = d.bundle()?.first()?;
                            Some(tag.to_string())
                        })
                        .unwrap_or_else(|| "0".into());
                    let mline_index = [&self.current_local, &self.pending_local]
                        .into_iter()
                        .flatten()
                        .find_map(|d| d.media.iter().position(|m| m.mid() == Some(mid.as_str())))
                        .unwrap_or(0) as u32;
                    self.events
                        .push_back(PeerEvent::LocalCandidate(LocalCandidate {
                            mid,
                            mline_index,
                            candidate: attr.to_string(),
                            ufrag: ice.local_ufrag().to_string(),
                        }));
                }
                IceEvent::GatheringComplete => {
                    self.gathering_done = true;
                    self.events.push_back(PeerEvent::GatheringComplete);
                }
                IceEvent::StateChanged(s) => {
                    self.ice_state = s;
                    changed = true;
                    self.events.push_back(PeerEvent::IceStateChanged(s));
                }
                IceEvent::SelectedPair { local, remote, .. } => {
                    self.selected = Some((local, remote));
                }
                IceEvent::RoleChanged { .. } => {}
            }
        }
        if changed {
            self.update_state();
        }
        self.maybe_start_dtls_client(now);
        self.release_held_dtls(now);
    }

    pub(super) fn maybe_start_dtls_client(&mut self, now: Instant) {
        if self.selected.is_none() {
            return;
        }
        if let Some(mut cfg) = self.pending_dtls_client.take() {
            // A ClientHello sent as ICE just connected may reach a peer
            // whose DTLS server is not up yet: retransmit soon
            // (`PeerConfig::dtls_client_initial_rto`).
            cfg.initial_rto = cfg.initial_rto.min(self.config.dtls_client_initial_rto);
            self.dtls = Some(AnyDtls::client(cfg, now));
            self.set_dtls_state(DtlsState::Connecting);
            self.drain_dtls(now);
        }
    }

    /// Where DTLS and media go: the selected pair, or where the peer's
    /// DTLS came from before ICE selected one here.
    pub(super) fn route(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.selected.or(self.last_remote)
    }

    pub(super) fn drain_dtls_transmits(&mut self) {
        let route = self.route();
        let Some(d) = &mut self.dtls else { return };
        while let Some(p) = d.poll_transmit() {
            if let Some((src, dst)) = route {
                self.outbox.push_back(Transmit {
                    src,
                    dst,
                    payload: p,
                });
            }
        }
    }

    pub(super) fn drain_dtls(&mut self, now: Instant) {
        self.drain_dtls_transmits();
        let Some(d) = &mut self.dtls else { return };
        let mut events = Vec::new();
        while let Some(e) = d.poll_event() {
            events.push(e.common());
        }
        for e in events {
            match e {
                CommonEvent::Connected(c) => self.on_dtls_connected(now, c),
                // SCTP over DTLS (RFC 8261 §3): one packet per record.
                CommonEvent::ApplicationData(d) => self.on_sctp_packet(now, &d),
                // NSS key log lines of either version (1.2 CLIENT_RANDOM,
                // 1.3 traffic secrets) go the same way.
                CommonEvent::KeyLog(l) => self.events.push_back(PeerEvent::KeyLog(l)),
                reason @ (CommonEvent::PeerClosed
                | CommonEvent::LocalClose
                | CommonEvent::Failed(_)) => {
                    let failed = matches!(reason, CommonEvent::Failed(_));
                    self.set_dtls_state(if failed {
                        DtlsState::Failed
                    } else {
                        DtlsState::Closed
                    });
                    if let CommonEvent::Failed(e) = &reason {
                        self.events
                            .push_back(PeerEvent::Closed(format!("DTLS: {e}")));
                        self.state = ConnectionState::Failed;
                        self.events
                            .push_back(PeerEvent::ConnectionStateChanged(ConnectionState::Failed));
                    } else if !self.closed {
                        self.events
                            .push_back(PeerEvent::Closed("the peer closed DTLS".into()));
                        self.set_state(ConnectionState::Closed);
                        self.closed = true;
                    }
                }
            }
        }
    }

    pub(super) fn on_dtls_connected(&mut self, now: Instant, c: Box<dtls::v13::Negotiated>) {
        let rtp_negotiated = self.negotiated.as_ref().is_none_or(|n| {
            n.media
                .iter()
                .any(|m| !m.rejected && m.kind != Some(MediaKind::Application))
        });
        if c.srtp.is_none() && !rtp_negotiated {
            // A data-only session (RFC 8831): no SRTP keys are needed,
            // and no early SRTP will ever be read.
            self.early_srtp.discard();
            self.dtls_connected = Some(c);
            self.set_dtls_state(DtlsState::Connected);
            self.update_state();
            self.maybe_start_sctp(now);
            return;
        }
        let Some(keys) = &c.srtp else {
            self.events
                .push_back(PeerEvent::Closed("DTLS agreed no SRTP profile".into()));
            self.set_dtls_state(DtlsState::Failed);
            self.update_state();
            return;
        };
        let Some(profile) = srtp::Profile::from_dtls_id(keys.profile.0) else {
            self.set_dtls_state(DtlsState::Failed);
            self.update_state();
            return;
        };
        let client = self.dtls_role == Some(DtlsRole::Client);
        if let (true, Some((local, remote))) = (self.config.key_log, self.route()) {
            self.events.push_back(PeerEvent::SrtpKeys(SrtpKeyLog {
                local,
                remote,
                dtls_client: client,
                profile,
                keying_material: keys.exported.clone(),
            }));
        }
        let (tx_key, tx_salt, rx_key, rx_salt) = if client {
            (
                &keys.client_key,
                &keys.client_salt,
                &keys.server_key,
                &keys.server_salt,
            )
        } else {
            (
                &keys.server_key,
                &keys.server_salt,
                &keys.client_key,
                &keys.client_salt,
            )
        };
        let (Ok(tx), Ok(rx)) = (
            srtp::MasterKey::new(profile, tx_key, tx_salt),
            srtp::MasterKey::new(profile, rx_key, rx_salt),
        ) else {
            self.set_dtls_state(DtlsState::Failed);
            self.update_state();
            return;
        };
        // Every retransmission goes out as RTX (its own SSRC and sequence
        // numbers), so no SRTP index is ever used twice: the context may
        // refuse any repeat.
        let tx_cfg = srtp::Config {
            allow_repeat_tx: false,
            ..srtp::Config::default()
        };
        self.srtp_tx = Some(srtp::Context::new(&tx, tx_cfg));
        self.srtp_rx = Some(srtp::Context::new(&rx, srtp::Config::default()));
        self.dtls_connected = Some(c);
        self.next_rtcp = Some(now + self.config.rtcp_interval / 2);
        self.set_dtls_state(DtlsState::Connected);
        self.update_state();
        self.maybe_start_sctp(now);
        self.replay_early_srtp(now);
    }

    /// SRTP or SRTCP over a validated path before our SRTP keys: held
    /// (bounded, see [`EarlyPackets`]) while the handshake may still give
    /// them; dropped and counted once it cannot.
    pub(super) fn hold_early_srtp(&mut self, data: &[u8]) {
        if self.closed || matches!(self.dtls_state, DtlsState::Failed | DtlsState::Closed) {
            self.early_srtp.dropped += 1;
        } else {
            self.early_srtp.hold(data);
        }
    }

    /// Reads the SRTP and SRTCP held for the keys, in arrival order.
    fn replay_early_srtp(&mut self, now: Instant) {
        for d in self.early_srtp.take() {
            match demux(&d) {
                PacketClass::Rtp => self.handle_rtp(now, &d),
                PacketClass::Rtcp => self.handle_rtcp(now, &d),
                _ => self.early_srtp.dropped += 1,
            }
        }
    }

    pub(super) fn send_protected_rtp(&mut self, mut packet: Vec<u8>) {
        let route = self.route();
        let (Some(tx), Some((src, dst))) = (&mut self.srtp_tx, route) else {
            return;
        };
        if tx.protect_rtp(&mut packet).is_ok() {
            self.outbox.push_back(Transmit {
                src,
                dst,
                payload: packet,
            });
        }
    }

    pub(super) fn send_protected_rtcp(&mut self, mut packet: Vec<u8>) {
        let route = self.route();
        let (Some(tx), Some((src, dst))) = (&mut self.srtp_tx, route) else {
            return;
        };
        if tx.protect_rtcp(&mut packet).is_ok() {
            self.outbox.push_back(Transmit {
                src,
                dst,
                payload: packet,
            });
        }
    }

    // ----- sending media -----
}

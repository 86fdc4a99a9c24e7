//! meshrtc's workspace-level tests: one binary, a module per area.

#[global_allocator]
static ALLOC: meshrtc_integration::alloc::Counting = meshrtc_integration::alloc::Counting;

mod alloc_hot_path;
mod cc_mesh_netsim;
mod chromium_call;
mod chromium_data;
mod chromium_mesh;
mod chromium_room;
mod chromium_turn;
mod data_media_netsim;
mod data_netsim;
mod dtls_interop;
mod dtls_netsim;
mod dtls_openssl;
mod firefox_call;
mod firefox_data;
mod firefox_interleave;
mod firefox_room;
mod ice_chromium;
mod ice_netsim;
mod ice_regressions;
mod ice_sockets;
mod local_network;
mod mdns_chromium;
mod mesh_netsim;
mod peer_netsim;
mod peer_openssl_srtp;
mod room_chat;
mod room_glare;
mod rtp_netsim;
mod setup_time;
mod srtp;
mod stun;
mod turn_address_change_coturn;
mod turn_coturn;
mod turn_latency_coturn;
mod turn_lifetimes_coturn;
mod turn_netsim;
mod turn_redirect_coturn;
mod turn_rest_coturn;
mod turn_restart_coturn;
mod turn_restart_driver;
mod turn_restart_netsim;
mod turn_tcp_coturn;

//! Multicast DNS for ICE candidates (draft-ietf-mmusic-mdns-ice-candidates):
//! the DNS message codec ([`message`], RFC 1035 §4 with RFC 6762's
//! changes) and a sans-IO resolver and responder ([`Mdns`]).

pub mod message;
mod resolver;

pub use message::{MdnsError, Message, Question, Record, RecordData, RecordType};
pub use resolver::{
    is_local_name, random_local_name, Mdns, MdnsConfig, MdnsEvent, MdnsStats, MdnsTransmit,
    ResolveError, MDNS_PORT, MDNS_V4, MDNS_V6,
};

//! [`Endpoint`]: the sans-IO loop every association of this crate runs,
//! whichever version ([`crate::Dtls`], [`crate::v13::Dtls13`],
//! [`crate::v13::AnyDtls`]), so drivers, simulators and tests can run any
//! of them: datagrams and time in, datagrams, events and a timeout out.

use std::time::Instant;

use crate::conn::{Dtls, Error, Event};
use crate::v13::{AnyDtls, AnyError, AnyEvent, Dtls13, Error13, Event13};

/// One side of a DTLS association, driven from outside.
pub trait Endpoint {
    /// What happened (connected, data, key log, closed).
    type Event;
    /// A fatal error.
    type Error;
    /// Feeds one datagram; refused input is counted, not an error.
    fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) -> Result<(), Self::Error>;
    /// Runs the timers due at `now`.
    fn handle_timeout(&mut self, now: Instant);
    /// The next datagram to send.
    fn poll_transmit(&mut self) -> Option<Vec<u8>>;
    /// The next event.
    fn poll_event(&mut self) -> Option<Self::Event>;
    /// When to call [`Endpoint::handle_timeout`].
    fn poll_timeout(&self) -> Option<Instant>;
    /// Whether the association is over.
    fn is_closed(&self) -> bool;
}

/// Implements [`Endpoint`] with the type's own methods of those names.
macro_rules! endpoint {
    ($t:ty, $event:ty, $error:ty) => {
        impl Endpoint for $t {
            type Event = $event;
            type Error = $error;
            fn handle_datagram(&mut self, now: Instant, d: &[u8]) -> Result<(), $error> {
                <$t>::handle_datagram(self, now, d)
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$t>::handle_timeout(self, now)
            }
            fn poll_transmit(&mut self) -> Option<Vec<u8>> {
                <$t>::poll_transmit(self)
            }
            fn poll_event(&mut self) -> Option<$event> {
                <$t>::poll_event(self)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$t>::poll_timeout(self)
            }
            fn is_closed(&self) -> bool {
                <$t>::is_closed(self)
            }
        }
    };
}

endpoint!(Dtls, Event, Error);
endpoint!(Dtls13, Event13, Error13);
endpoint!(AnyDtls, AnyEvent, AnyError);

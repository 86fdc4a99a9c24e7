//! Datagrams from the members' sockets, taken in turn: one queue per
//! connection slot, read round-robin, so that one member flooding its
//! sockets cannot delay another member's packets. A flooder fills its own
//! queue only; its socket reader then waits and the kernel drops the rest
//! of its datagrams, as it would for any slow reader of that socket.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::task::Poll;

use tokio::sync::mpsc;

/// One received datagram: (from, to, bytes).
pub type Datagram = (SocketAddr, SocketAddr, Vec<u8>);

/// Per-slot queues read in turn.
#[derive(Debug)]
pub struct FairInput {
    queues: Vec<mpsc::Receiver<Datagram>>,
    next: usize,
}

impl FairInput {
    /// `slots` queues of `capacity` datagrams each; the senders go to the
    /// slots' socket readers.
    pub fn new(slots: usize, capacity: usize) -> (FairInput, Vec<mpsc::Sender<Datagram>>) {
        let (senders, queues) = (0..slots.max(1))
            .map(|_| mpsc::channel(capacity.max(1)))
            .unzip();
        (FairInput { queues, next: 0 }, senders)
    }

    /// The next datagram, the queue after the last one served first; `None`
    /// once every queue has closed. Cancel-safe: a datagram is only taken
    /// when it is returned.
    pub async fn recv(&mut self) -> Option<Datagram> {
        poll_fn(|cx| {
            let n = self.queues.len();
            let mut closed = 0;
            for k in 0..n {
                let i = (self.next + k) % n;
                match self.queues[i].poll_recv(cx) {
                    Poll::Ready(Some(d)) => {
                        self.next = (i + 1) % n;
                        return Poll::Ready(Some(d));
                    }
                    Poll::Ready(None) => closed += 1,
                    Poll::Pending => {}
                }
            }
            if closed == n {
                Poll::Ready(None)
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(slot: u16, n: u8) -> Datagram {
        (
            SocketAddr::from(([10, 0, 0, 1], 1000 + slot)),
            SocketAddr::from(([127, 0, 0, 1], 2000 + slot)),
            vec![n],
        )
    }

    /// A flooding slot with a full queue and a quiet one with a few
    /// datagrams: the quiet one's come out every other turn, not after the
    /// flood.
    #[tokio::test]
    async fn a_flooding_slot_cannot_hold_back_another() {
        let (mut input, tx) = FairInput::new(3, 1000);
        for n in 0..200 {
            tx[0].send(d(0, n)).await.unwrap();
        }
        for n in 0..5 {
            tx[2].send(d(2, n)).await.unwrap();
        }
        let mut order = Vec::new();
        for _ in 0..12 {
            let (from, _, data) = input.recv().await.unwrap();
            order.push((from.port() - 1000, data[0]));
        }
        assert_eq!(
            order,
            [
                (0, 0),
                (2, 0),
                (0, 1),
                (2, 1),
                (0, 2),
                (2, 2),
                (0, 3),
                (2, 3),
                (0, 4),
                (2, 4),
                (0, 5),
                (0, 6)
            ]
        );
    }

    #[tokio::test]
    async fn it_ends_when_every_reader_has_gone() {
        let (mut input, tx) = FairInput::new(2, 4);
        tx[1].send(d(1, 7)).await.unwrap();
        drop(tx);
        assert_eq!(input.recv().await.map(|x| x.2), Some(vec![7]));
        assert_eq!(input.recv().await, None);
    }
}

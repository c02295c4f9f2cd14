//! One client connection on a worker: its socket, its session and what it writes.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use super::tls::Socket;
use crate::event::{ConnectionId, ConnectionStats, DisconnectReason};
use crate::hub::{PublisherId, Stream};
use crate::session::WriteQueue;
use crate::session::{RequestId, ServerSession};

/// A publish in progress on this connection.
pub(crate) struct Publishing {
    pub stream_id: u32,
    pub name: String,
    pub stream: Arc<Stream>,
}

/// A play in progress on this connection.
pub(crate) struct Player {
    pub stream_id: u32,
    pub name: String,
    pub stream: Arc<Stream>,
    /// Sequence number of the next frame to send.
    pub cursor: u64,
    /// The publish generation the cursor belongs to (0: none seen yet).
    pub generation: u64,
    /// Whether the current generation's metadata and sequence headers were sent.
    pub primed: bool,
    /// Whether the stream had a publisher when the player last looked (`None`: not yet).
    pub live: Option<bool>,
    pub metadata_version: u64,
    pub paused: bool,
    /// The connection's queue was full when frames were waiting: pump again once it drains.
    pub starved: bool,
}

/// A decision the application owes for this connection, with what acting on it needs.
pub(crate) enum PendingDecision {
    Connect,
    Publish { stream_id: u32, name: String },
    Play { stream_id: u32, name: String },
}

pub(crate) struct Conn {
    pub id: ConnectionId,
    pub socket: Socket,
    pub peer: SocketAddr,
    pub session: ServerSession,
    out: WriteQueue,
    pub app: String,
    pub publishing: Option<Publishing>,
    pub players: Vec<Player>,
    pub pending: Vec<(RequestId, PendingDecision)>,
    pub stats: ConnectionStats,
    pub created: Instant,
    /// Worker clock (ms) of the last byte received.
    pub last_input: u64,
    pub ping_outstanding: bool,
    /// Set when the connection must close; the reason is reported once.
    pub close: Option<DisconnectReason>,
    /// Reading stopped because input waits for a decision; resume after it.
    pub read_paused: bool,
    /// Media is held for one write until then (write coalescing).
    pub hold_until: Option<Instant>,
    /// Queued output past which the connection is closed.
    output_limit: usize,
}

/// Output beyond this is written even while held: a burst (a keyframe) gains nothing
/// from waiting.
const HOLD_MAX_BYTES: usize = 128 * 1024;

/// What a read pass found.
pub(crate) enum ReadOutcome {
    /// The socket has no more data for now.
    Drained,
    /// The per-pass budget ran out; read again soon.
    MoreLater,
    /// The peer closed or the session failed; `close` says why.
    Closed,
}

impl Conn {
    /// `output_limit`: queued output past which the peer is taken not to read (see
    /// [`Conn::flush`]).
    pub fn new(
        id: ConnectionId,
        socket: Socket,
        peer: SocketAddr,
        session: ServerSession,
        now: u64,
        output_limit: usize,
    ) -> Self {
        Conn {
            id,
            socket,
            peer,
            session,
            out: WriteQueue::default(),
            app: String::new(),
            publishing: None,
            players: Vec::new(),
            pending: Vec::new(),
            stats: ConnectionStats::default(),
            created: Instant::now(),
            last_input: now,
            ping_outstanding: false,
            close: None,
            read_paused: false,
            hold_until: None,
            output_limit,
        }
    }

    /// Bytes waiting to be written (the session's queue included).
    pub fn queued_bytes(&self) -> usize {
        self.out.len()
    }

    /// The publisher id this connection claims streams with.
    pub fn publisher_id(&self) -> PublisherId {
        PublisherId::Connection(self.id.0)
    }

    pub fn fail(&mut self, reason: DisconnectReason) {
        if self.close.is_none() {
            self.close = Some(reason);
        }
    }

    /// Reads what the socket has (up to `budget` bytes) into the session.
    pub fn read(&mut self, scratch: &mut [u8], mut budget: usize, now: u64) -> ReadOutcome {
        while budget > 0 {
            if self.read_paused || self.close.is_some() {
                return ReadOutcome::Drained;
            }
            match self.socket.read(scratch) {
                Ok(0) => {
                    self.fail(DisconnectReason::PeerClosed);
                    return ReadOutcome::Closed;
                }
                Ok(n) => {
                    self.stats.bytes_in += n as u64;
                    self.last_input = now;
                    self.ping_outstanding = false;
                    budget = budget.saturating_sub(n);
                    if let Err(e) = self.session.feed(&scratch[..n], now) {
                        self.fail(DisconnectReason::ProtocolError(e.to_string()));
                        return ReadOutcome::Closed;
                    }
                    if self.session.is_awaiting_decision() {
                        // Stop reading: what arrives meanwhile stays in the kernel's buffer
                        // and back-pressures the client.
                        self.read_paused = true;
                        return ReadOutcome::Drained;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return ReadOutcome::Drained,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.fail(DisconnectReason::Io(e.to_string()));
                    return ReadOutcome::Closed;
                }
            }
        }
        ReadOutcome::MoreLater
    }

    /// Moves the session's output into the write queue and writes as much as the socket
    /// takes, in vectored writes; while the connection is held, only a large queue is
    /// written. A queue over the output limit closes the connection: media stops being
    /// queued at the player's bound, so only a peer that keeps asking (pings, commands)
    /// without reading the answers gets there.
    pub fn flush(&mut self) {
        while let Some(out) = self.session.poll_transmit() {
            self.out.push(out);
        }
        if self.close.is_some() {
            return;
        }
        if self.out.len() > self.output_limit {
            let limit = self.output_limit;
            self.fail(DisconnectReason::ProtocolError(format!(
                "over {limit} bytes of output queued: the peer does not read"
            )));
            return;
        }
        if self.hold_until.is_some() {
            if self.out.len() < HOLD_MAX_BYTES {
                return;
            }
            self.hold_until = None;
        }
        let before = self.out.written();
        let result = self
            .out
            .flush(&mut self.socket)
            .and_then(|()| self.socket.send_pending());
        self.stats.bytes_out += self.out.written() - before;
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WriteZero => {
                self.fail(DisconnectReason::PeerClosed)
            }
            Err(e) => self.fail(DisconnectReason::Io(e.to_string())),
        }
    }

    pub fn has_output(&self) -> bool {
        !self.out.is_empty() || self.session.has_pending_output() || self.socket.has_pending()
    }
}

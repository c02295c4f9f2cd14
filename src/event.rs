//! What an embedded server tells the application.

use std::net::SocketAddr;
use std::time::Duration;

use crate::hub::Frame;
use crate::protocol::amf0::Amf0Value;
use crate::protocol::command::{Connect, PublishType};
use crate::session::RequestId;

/// Identifies one client connection for its whole life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

impl ConnectionId {
    /// The worker thread the connection lives on (kept in the id's top bits).
    pub(crate) fn worker(self) -> usize {
        (self.0 >> 48) as usize
    }

    pub(crate) fn new(worker: usize, serial: u64) -> Self {
        ConnectionId(((worker as u64) << 48) | (serial & 0xFFFF_FFFF_FFFF))
    }
}

impl std::fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}.{}", self.worker(), self.0 & 0xFFFF_FFFF_FFFF)
    }
}

/// A decision the application owes (connect, publish or play), when the server was built
/// with manual decisions. Answer it with `Server::accept` or `Server::reject`; unanswered
/// decisions are rejected after the decision timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decision {
    pub conn: ConnectionId,
    pub(crate) request: RequestId,
}

impl Decision {
    /// The request part, for bindings that pass a decision as two integers.
    pub fn request_id(&self) -> u64 {
        self.request.0
    }

    /// Rebuilds a decision from [`conn`](Self::conn) and [`request_id`](Self::request_id).
    pub fn from_parts(conn: ConnectionId, request_id: u64) -> Self {
        Decision {
            conn,
            request: RequestId(request_id),
        }
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The peer closed the connection.
    PeerClosed,
    /// The peer broke the protocol or a limit; the text says which.
    ProtocolError(String),
    /// The handshake, a decision or the peer's liveness timed out.
    Timeout(String),
    /// The application rejected the connect.
    Rejected,
    /// A socket error.
    Io(String),
    /// The server shut down.
    Shutdown,
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DisconnectReason::PeerClosed => f.write_str("peer closed"),
            DisconnectReason::ProtocolError(e) => write!(f, "protocol error: {e}"),
            DisconnectReason::Timeout(what) => write!(f, "timeout: {what}"),
            DisconnectReason::Rejected => f.write_str("rejected"),
            DisconnectReason::Io(e) => write!(f, "I/O error: {e}"),
            DisconnectReason::Shutdown => f.write_str("server shutdown"),
        }
    }
}

/// Statistics of one connection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectionStats {
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub frames_in: u64,
    pub frames_out: u64,
    /// Frames a slow player skipped (whole GOPs).
    pub frames_dropped: u64,
    /// Bytes waiting to be written.
    pub queued_bytes: usize,
    pub uptime: Duration,
}

/// Statistics of one stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamStats {
    /// `app/name`.
    pub key: String,
    pub publishing: bool,
    pub players: u64,
    pub frames_in: u64,
    pub bytes_in: u64,
    /// Media bytes per second over the stream's life so far (publisher side).
    pub bitrate_bps: f64,
}

/// Everything the server reports. Connect, publish and play carry a [`Decision`] when the
/// server was built with manual decisions; otherwise they are notifications of what the
/// server already accepted.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    Connect {
        conn: ConnectionId,
        decision: Option<Decision>,
        peer: SocketAddr,
        app: String,
        tc_url: Option<String>,
        /// The whole connect command object (flashVer, fourCcList, capsEx, ...).
        connect: Box<Connect>,
    },
    Publish {
        conn: ConnectionId,
        decision: Option<Decision>,
        app: String,
        stream: String,
        publish_type: PublishType,
    },
    Play {
        conn: ConnectionId,
        decision: Option<Decision>,
        app: String,
        stream: String,
    },
    /// A publish ended (the publisher stopped or disconnected).
    Unpublish {
        conn: ConnectionId,
        app: String,
        stream: String,
    },
    /// A player stopped.
    PlayStop {
        conn: ConnectionId,
        app: String,
        stream: String,
    },
    /// A publisher sent stream metadata.
    Metadata {
        app: String,
        stream: String,
        metadata: Amf0Value,
    },
    /// A frame of a tapped stream (see `Server::tap`).
    Frame {
        app: String,
        stream: String,
        frame: Frame,
    },
    Disconnect {
        conn: ConnectionId,
        reason: DisconnectReason,
    },
}

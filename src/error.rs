//! The crate's error type.

use crate::media::enhanced::MediaError;
use crate::media::flv::FlvError;
use crate::protocol::amf::AmfError;
use crate::protocol::chunk::ChunkError;
use crate::protocol::command::CommandError;
use crate::protocol::handshake::HandshakeError;
use crate::protocol::message::MessageError;

/// Everything that can go wrong in rtmp_core. Protocol variants mean the peer broke the
/// protocol or a limit and the connection must close; nothing else is affected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("handshake failed: {0}")]
    Handshake(#[from] HandshakeError),
    #[error("chunk stream: {0}")]
    Chunk(#[from] ChunkError),
    #[error("AMF: {0}")]
    Amf(#[from] AmfError),
    #[error("command: {0}")]
    Command(#[from] CommandError),
    #[error("message: {0}")]
    Message(#[from] MessageError),
    /// A malformed or unsupported FLV file or tag.
    #[error("FLV: {0}")]
    Flv(#[from] FlvError),
    /// Encoder output or a codec configuration that cannot be packaged.
    #[error("media: {0}")]
    Media(#[from] MediaError),
    /// The peer sent something valid on the wire but wrong at this point of the session.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// A deadline passed (handshake, a decision, an answer from the peer).
    #[error("timed out: {0}")]
    Timeout(&'static str),
    /// The session or connection is closed.
    #[error("closed")]
    Closed,
    /// The request id is unknown or was already answered.
    #[error("unknown or already answered request")]
    UnknownRequest,
    /// The call is not valid in the session's current state.
    #[error("invalid state: {0}")]
    InvalidState(&'static str),
    #[error("invalid RTMP URL {0}")]
    InvalidUrl(String),
    /// The client's send queue is over its byte bound: the network does not keep up.
    #[error("send queue full")]
    QueueFull,
    /// TLS (rtmps://): a certificate or key that cannot be used, a server certificate
    /// that fails verification, or a TLS protocol failure.
    #[error("TLS: {0}")]
    Tls(String),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! Server session settings, events and rejections.

use bytes::Bytes;

use crate::protocol::amf::AmfLimits;
use crate::protocol::amf0::Amf0Value;
use crate::protocol::chunk::ChunkLimits;
use crate::protocol::command::{Command, Connect, DataMessage, PublishType};
use crate::session::{MediaKind, Millis, RequestId};

/// Settings of a server session.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Chunk size announced to clients after connect (nginx-rtmp and SRS use 4096 too).
    pub chunk_size: u32,
    /// Window Acknowledgement Size and Set Peer Bandwidth sent to clients.
    pub window_ack_size: u32,
    /// The handshake must finish within this long.
    pub handshake_timeout: Millis,
    /// A connect, publish or play the application has not answered in this long is
    /// rejected.
    pub decision_timeout: Millis,
    /// NetStreams (createStream) one connection may hold.
    pub max_streams: usize,
    pub chunk_limits: ChunkLimits,
    pub amf_limits: AmfLimits,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            chunk_size: 4096,
            window_ack_size: 2_500_000,
            handshake_timeout: 10_000,
            decision_timeout: 10_000,
            max_streams: 16,
            chunk_limits: ChunkLimits::default(),
            amf_limits: AmfLimits::default(),
        }
    }
}

/// Why a request was refused: the status code and description the client receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// A status code such as `NetStream.Publish.BadName`; `None` picks the usual one for the
    /// request (Connect.Rejected, Publish.BadName, Play.StreamNotFound).
    pub code: Option<String>,
    pub description: String,
}

impl Rejection {
    /// A rejection with the usual code for the request.
    pub fn new(description: impl Into<String>) -> Self {
        Rejection {
            code: None,
            description: description.into(),
        }
    }

    /// A rejection with a specific status code.
    pub fn with_code(code: &str, description: impl Into<String>) -> Self {
        Rejection {
            code: Some(code.to_owned()),
            description: description.into(),
        }
    }
}

/// What a server session reports to the application.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// The handshake finished; `peer_digest` tells whether the client used the FP9 digest.
    HandshakeDone { peer_digest: bool },
    /// A client asks to connect to an application. Answer with accept or reject.
    ConnectRequest {
        request: RequestId,
        connect: Connect,
    },
    /// A client asks to publish on one of its streams. Answer with accept or reject.
    PublishRequest {
        request: RequestId,
        stream_id: u32,
        stream_name: String,
        publish_type: PublishType,
    },
    /// A client asks to play a stream. Answer with accept or reject.
    PlayRequest {
        request: RequestId,
        stream_id: u32,
        stream_name: String,
        start: f64,
        duration: f64,
        reset: bool,
    },
    /// A publisher stopped (FCUnpublish, closeStream or deleteStream).
    PublishFinished { stream_id: u32, stream_name: String },
    /// A player stopped (closeStream or deleteStream).
    PlayFinished { stream_id: u32, stream_name: String },
    /// Stream metadata from a publisher (`@setDataFrame onMetaData`).
    Metadata {
        stream_id: u32,
        timestamp: u32,
        metadata: Amf0Value,
    },
    /// An audio or video message from a publisher: an FLV tag body.
    Media {
        stream_id: u32,
        kind: MediaKind,
        timestamp: u32,
        payload: Bytes,
    },
    /// Another data message from a publisher (onTextData, onCuePoint, ...).
    Data {
        stream_id: u32,
        timestamp: u32,
        message: DataMessage,
    },
    /// A player paused or resumed.
    Pause {
        stream_id: u32,
        pause: bool,
        position_ms: f64,
    },
    /// A player asked for audio or video to be left out or sent again.
    ReceiveMedia {
        stream_id: u32,
        kind: MediaKind,
        enable: bool,
    },
    /// The client answered a ping (see [`ServerSession::ping`](super::ServerSession::ping)).
    PingResponse { timestamp: u32 },
    /// The client acknowledged this many bytes (modulo 2^32).
    Acknowledgement { sequence_number: u32 },
    /// A command this session does not handle itself, for the application to answer.
    Command { stream_id: u32, command: Command },
    /// A pending request was rejected because the application did not answer in time.
    DecisionTimedOut { request: RequestId },
}

//! Sans-IO RTMP sessions: bytes in, events and bytes out.
//!
//! A session never touches a socket or reads a clock. The caller drives it:
//!
//! 1. [`feed`](ServerSession::feed) it the bytes that arrived, with the current time;
//! 2. send what [`poll_transmit`](ServerSession::poll_transmit) returns until `None`;
//! 3. handle what [`poll_event`](ServerSession::poll_event) returns until `None`;
//! 4. call [`on_timeout`](ServerSession::on_timeout) when
//!    [`next_timeout`](ServerSession::next_timeout) passes.
//!
//! Decisions (accept a connect, a publish, a play) come back asynchronously through
//! [`ServerSession::accept`] and [`ServerSession::reject`] with the request's id.

mod client;
mod server;
pub(crate) mod transport;
mod write_queue;

pub use client::{ClientConfig, ClientEvent, ClientSession, ClientState};
pub use server::{Rejection, ServerConfig, ServerEvent, ServerSession};
pub use transport::Outgoing;
pub use write_queue::WriteQueue;

/// The two kinds of media an RTMP stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Audio,
    Video,
}

impl MediaKind {
    /// The message type id this kind travels as.
    pub fn type_id(self) -> u8 {
        match self {
            MediaKind::Audio => 8,
            MediaKind::Video => 9,
        }
    }

    /// The chunk stream this kind is sent on.
    pub fn chunk_stream_id(self) -> u32 {
        match self {
            MediaKind::Audio => crate::protocol::message::chunk_stream::AUDIO,
            MediaKind::Video => crate::protocol::message::chunk_stream::VIDEO,
        }
    }

    /// The kind for a message type id, if it is a media type.
    pub fn from_type_id(type_id: u8) -> Option<Self> {
        match type_id {
            8 => Some(MediaKind::Audio),
            9 => Some(MediaKind::Video),
            _ => None,
        }
    }
}

/// Identifies a decision the application owes a session (accept or reject).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// Time in milliseconds on the caller's clock. Sessions only compare and subtract it.
pub type Millis = u64;

#[cfg(test)]
mod tests;

//! The RTMP chunk stream: messages cut into chunks of at most `chunk_size` payload bytes,
//! each chunk prefixed by a basic header (format + chunk stream id) and a message header
//! whose size depends on the format (0: full, 1: no stream id, 2: timestamp delta only,
//! 3: nothing).
//!
//! [`ChunkDecoder`] turns received bytes into [`RawMessage`]s; [`ChunkEncoder`] turns
//! messages into [`ChunkedMessage`]s, which hold only the chunk headers and a shared handle to
//! the payload, so a vectored write can send them without copying the payload.

mod decoder;
mod encoder;

pub use decoder::{ChunkDecoder, ChunkLimits};
pub use encoder::{ChunkEncoder, ChunkedMessage, Segments};

use bytes::Bytes;

/// The chunk size every RTMP connection starts with, in both directions.
pub const DEFAULT_CHUNK_SIZE: u32 = 128;
/// The largest chunk size a Set Chunk Size message may carry (the top bit must be zero).
pub const MAX_CHUNK_SIZE: u32 = 0x7FFF_FFFF;
/// The smallest chunk stream id a message may use (0 and 1 encode longer basic headers).
pub const MIN_CHUNK_STREAM_ID: u32 = 2;
/// The largest chunk stream id the 3-byte basic header can express.
pub const MAX_CHUNK_STREAM_ID: u32 = 65_599;
/// A timestamp field of this value means "the real value is in the extended timestamp".
pub(crate) const EXTENDED_TIMESTAMP_MARKER: u32 = 0x00FF_FFFF;
/// Message length is a 24-bit field.
pub const MAX_MESSAGE_LENGTH: u32 = 0x00FF_FFFF;

/// The header of one RTMP message as carried by the chunk stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageHeader {
    /// Chunk stream the message travelled on (2..=65599).
    pub chunk_stream_id: u32,
    /// Absolute timestamp in milliseconds; wraps around at 2^32.
    pub timestamp: u32,
    /// Message type id (see [`crate::protocol::message::MessageType`]).
    pub type_id: u8,
    /// Message stream id (0 for the NetConnection, otherwise a NetStream).
    pub stream_id: u32,
}

/// One complete message: its header and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    pub header: MessageHeader,
    pub payload: Bytes,
}

/// Errors raised by the chunk stream codec. Each one means the peer broke the protocol or a
/// configured limit; the connection should be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChunkError {
    #[error(
        "chunk with format {fmt} on chunk stream {chunk_stream_id}, which has no previous header"
    )]
    NoPreviousHeader { chunk_stream_id: u32, fmt: u8 },
    #[error("invalid chunk size {0} (must be 1..=2147483647)")]
    InvalidChunkSize(u32),
    #[error("message of {length} bytes exceeds the limit of {limit}")]
    MessageTooLarge { length: u32, limit: u32 },
    #[error("messages being reassembled would exceed {limit} bytes")]
    ReassemblyLimit { limit: usize },
    #[error("more than {limit} chunk streams in use")]
    TooManyChunkStreams { limit: usize },
    #[error("malformed protocol control message (type {type_id})")]
    MalformedControl { type_id: u8 },
}

/// Writes the basic header for `fmt` and `csid` into `out`, returning its length (1-3).
#[inline]
pub(crate) fn write_basic_header(out: &mut [u8], fmt: u8, csid: u32) -> usize {
    debug_assert!((MIN_CHUNK_STREAM_ID..=MAX_CHUNK_STREAM_ID).contains(&csid));
    let fmt_bits = fmt << 6;
    if csid < 64 {
        out[0] = fmt_bits | csid as u8;
        1
    } else if csid < 320 {
        out[0] = fmt_bits;
        out[1] = (csid - 64) as u8;
        2
    } else {
        let v = csid - 64;
        out[0] = fmt_bits | 1;
        out[1] = (v & 0xFF) as u8;
        out[2] = (v >> 8) as u8;
        3
    }
}

#[cfg(test)]
mod tests;

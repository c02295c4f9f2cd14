//! Chunk stream decoder: received bytes in, complete messages out.

use bytes::{Buf, Bytes, BytesMut};

use super::{
    ChunkError, MessageHeader, RawMessage, DEFAULT_CHUNK_SIZE, EXTENDED_TIMESTAMP_MARKER,
    MAX_CHUNK_SIZE, MAX_MESSAGE_LENGTH,
};
use crate::protocol::message::MessageType;

/// Bounds on what one peer may make the decoder hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLimits {
    /// Largest message accepted; longer messages close the connection.
    pub max_message_size: u32,
    /// Total bytes of all partly received messages at once, counting each message at its
    /// declared length (the buffer for it is reserved when its first chunk arrives).
    pub max_reassembly_bytes: usize,
    /// Distinct chunk stream ids a peer may use.
    pub max_chunk_streams: usize,
}

impl Default for ChunkLimits {
    fn default() -> Self {
        ChunkLimits {
            max_message_size: MAX_MESSAGE_LENGTH,
            max_reassembly_bytes: 64 << 20,
            max_chunk_streams: 64,
        }
    }
}

/// What the decoder remembers of one chunk stream: the last header (fields omitted by
/// formats 1-3 come from it) and the message being reassembled.
#[derive(Debug)]
struct StreamState {
    chunk_stream_id: u32,
    timestamp: u32,
    delta: u32,
    length: u32,
    type_id: u8,
    stream_id: u32,
    /// The extended timestamp field of the last format 0-2 header, if it had one; peers
    /// disagree on whether format 3 chunks repeat it.
    extended_field: Option<u32>,
    partial: Option<BytesMut>,
}

/// The outcome of trying to decode one chunk.
enum Step {
    NeedMore,
    Chunk,
    Message(RawMessage),
}

/// Decodes a received chunk stream into messages.
///
/// Feed it bytes with [`push`](Self::push) and drain it with
/// [`next_message`](Self::next_message) until that returns `Ok(None)`. Set Chunk Size and
/// Abort take effect inside the decoder, at the exact point of the stream where they
/// arrive, and are still returned so the session can see them.
///
/// ```
/// use bytes::Bytes;
/// use rtmp_core::protocol::chunk::{ChunkDecoder, ChunkEncoder, MessageHeader};
///
/// let mut encoder = ChunkEncoder::new();
/// let header = MessageHeader { chunk_stream_id: 6, timestamp: 40, type_id: 9, stream_id: 1 };
/// let mut wire = Vec::new();
/// encoder.encode(&header, Bytes::from(vec![0x17; 300])).write_to(&mut wire);
///
/// let mut decoder = ChunkDecoder::default();
/// decoder.push(&wire);
/// let message = decoder.next_message().unwrap().unwrap();
/// assert_eq!(message.header, header);
/// assert_eq!(message.payload.len(), 300);
/// assert!(decoder.next_message().unwrap().is_none());
/// ```
#[derive(Debug)]
pub struct ChunkDecoder {
    buf: BytesMut,
    chunk_size: u32,
    limits: ChunkLimits,
    /// Index + 1 into `streams` for chunk stream ids below 64, the ones real peers use.
    low_index: [u16; 64],
    streams: Vec<StreamState>,
    reassembly_bytes: usize,
    /// Set once the peer has been seen repeating the extended timestamp on a format 3 chunk.
    peer_repeats_extended: bool,
    bytes_received: u64,
}

impl Default for ChunkDecoder {
    fn default() -> Self {
        Self::new(ChunkLimits::default())
    }
}

impl ChunkDecoder {
    /// A decoder at the default chunk size of 128.
    pub fn new(limits: ChunkLimits) -> Self {
        ChunkDecoder {
            buf: BytesMut::new(),
            chunk_size: DEFAULT_CHUNK_SIZE,
            limits,
            low_index: [0; 64],
            streams: Vec::new(),
            reassembly_bytes: 0,
            peer_repeats_extended: false,
            bytes_received: 0,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.bytes_received += data.len() as u64;
        self.buf.extend_from_slice(data);
    }

    /// Counts bytes that reached the connection but not the decoder (the handshake), so
    /// [`bytes_received`](Self::bytes_received) matches what the peer sent.
    pub fn count_received(&mut self, bytes: usize) {
        self.bytes_received += bytes as u64;
    }

    /// Bytes received but not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Total bytes pushed since creation (what Acknowledgement messages count).
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received
    }

    /// The peer's current chunk size.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Sets the peer's chunk size, as a Set Chunk Size message from it would.
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), ChunkError> {
        if size == 0 || size > MAX_CHUNK_SIZE {
            return Err(ChunkError::InvalidChunkSize(size));
        }
        self.chunk_size = size;
        Ok(())
    }

    /// Decodes the next complete message, or returns `Ok(None)` when more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<RawMessage>, ChunkError> {
        loop {
            match self.decode_chunk()? {
                Step::NeedMore => return Ok(None),
                Step::Chunk => continue,
                Step::Message(message) => {
                    self.apply_control(&message)?;
                    return Ok(Some(message));
                }
            }
        }
    }

    /// Applies the two control messages that change how the following chunks are read.
    fn apply_control(&mut self, message: &RawMessage) -> Result<(), ChunkError> {
        let type_id = message.header.type_id;
        if type_id != MessageType::SetChunkSize as u8 && type_id != MessageType::Abort as u8 {
            return Ok(());
        }
        let value = match message.payload.get(..4) {
            Some(b) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            None => return Err(ChunkError::MalformedControl { type_id }),
        };
        if type_id == MessageType::SetChunkSize as u8 {
            // The top bit is reserved; peers are expected to send it as zero.
            self.set_chunk_size(value & MAX_CHUNK_SIZE)
        } else {
            if let Some(index) = self.find_stream(value) {
                self.discard_partial(index);
            }
            Ok(())
        }
    }

    fn find_stream(&self, csid: u32) -> Option<usize> {
        if csid < 64 {
            match self.low_index[csid as usize] {
                0 => None,
                n => Some(n as usize - 1),
            }
        } else {
            self.streams.iter().position(|s| s.chunk_stream_id == csid)
        }
    }

    fn add_stream(&mut self, csid: u32) -> Result<usize, ChunkError> {
        if self.streams.len() >= self.limits.max_chunk_streams.min(u16::MAX as usize - 1) {
            return Err(ChunkError::TooManyChunkStreams {
                limit: self.limits.max_chunk_streams,
            });
        }
        self.streams.push(StreamState {
            chunk_stream_id: csid,
            timestamp: 0,
            delta: 0,
            length: 0,
            type_id: 0,
            stream_id: 0,
            extended_field: None,
            partial: None,
        });
        let index = self.streams.len() - 1;
        if csid < 64 {
            self.low_index[csid as usize] = index as u16 + 1;
        }
        Ok(index)
    }

    fn discard_partial(&mut self, index: usize) {
        let stream = &mut self.streams[index];
        if stream.partial.take().is_some() {
            self.reassembly_bytes -= stream.length as usize;
        }
    }

    /// Decodes one chunk if all of it is buffered. Nothing changes when more bytes are
    /// needed, so the same chunk is simply parsed again once they arrive.
    fn decode_chunk(&mut self) -> Result<Step, ChunkError> {
        let b = &self.buf[..];
        let Some(&first) = b.first() else {
            return Ok(Step::NeedMore);
        };
        let fmt = first >> 6;
        let (csid, mut pos) = match first & 0x3F {
            0 => match b.get(1) {
                Some(&v) => (64 + v as u32, 2),
                None => return Ok(Step::NeedMore),
            },
            1 => match b.get(1..3) {
                Some(v) => (64 + v[0] as u32 + ((v[1] as u32) << 8), 3),
                None => return Ok(Step::NeedMore),
            },
            n => (n as u32, 1),
        };
        let header_len = match fmt {
            0 => 11,
            1 => 7,
            2 => 3,
            _ => 0,
        };
        let Some(h) = b.get(pos..pos + header_len) else {
            return Ok(Step::NeedMore);
        };
        pos += header_len;
        let index = self.find_stream(csid);
        if fmt != 0 && index.is_none() {
            return Err(ChunkError::NoPreviousHeader {
                chunk_stream_id: csid,
                fmt,
            });
        }

        // Work out this chunk's header without touching the stream state yet.
        let (mut timestamp, mut delta, length, type_id, stream_id, continuation);
        let mut extended_field = None;
        if fmt < 3 {
            let field = be24(&h[0..3]);
            let value = if field == EXTENDED_TIMESTAMP_MARKER {
                let Some(e) = b.get(pos..pos + 4) else {
                    return Ok(Step::NeedMore);
                };
                pos += 4;
                let v = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
                extended_field = Some(v);
                v
            } else {
                field
            };
            continuation = false;
            if fmt == 0 {
                timestamp = value;
                // A format 3 message after a format 0 one repeats its timestamp field as the
                // delta, as ffmpeg and librtmp read it.
                delta = value;
                length = be24(&h[3..6]);
                type_id = h[6];
                stream_id = u32::from_le_bytes([h[7], h[8], h[9], h[10]]);
            } else {
                let prev = &self.streams[index.unwrap_or_default()];
                delta = value;
                timestamp = prev.timestamp.wrapping_add(value);
                stream_id = prev.stream_id;
                if fmt == 1 {
                    length = be24(&h[3..6]);
                    type_id = h[6];
                } else {
                    length = prev.length;
                    type_id = prev.type_id;
                }
            }
        } else {
            let prev = &self.streams[index.unwrap_or_default()];
            continuation = prev.partial.is_some();
            delta = prev.delta;
            length = prev.length;
            type_id = prev.type_id;
            stream_id = prev.stream_id;
            timestamp = if continuation {
                prev.timestamp
            } else {
                prev.timestamp.wrapping_add(prev.delta)
            };
            if let Some(expected) = prev.extended_field {
                let Some(e) = b.get(pos..pos + 4) else {
                    return Ok(Step::NeedMore);
                };
                let repeated = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
                if self.peer_repeats_extended || repeated == expected {
                    pos += 4;
                    self.peer_repeats_extended = true;
                    if !continuation {
                        // A new message: the repeated field is its delta (or timestamp).
                        delta = repeated;
                        timestamp = prev.timestamp.wrapping_add(repeated);
                    }
                }
                extended_field = Some(expected);
            }
        }

        if !continuation && length > self.limits.max_message_size {
            return Err(ChunkError::MessageTooLarge {
                length,
                limit: self.limits.max_message_size,
            });
        }
        let received = match index {
            Some(i) if continuation => self.streams[i].partial.as_ref().map_or(0, |p| p.len()),
            _ => 0,
        };
        let chunk_len = (length as usize - received).min(self.chunk_size as usize);
        if b.len() < pos + chunk_len {
            return Ok(Step::NeedMore);
        }

        // The whole chunk is here: commit.
        let index = match index {
            Some(i) => i,
            None => self.add_stream(csid)?,
        };
        if !continuation {
            self.discard_partial(index);
        }
        let stream = &mut self.streams[index];
        stream.timestamp = timestamp;
        stream.delta = delta;
        stream.length = length;
        stream.type_id = type_id;
        stream.stream_id = stream_id;
        stream.extended_field = extended_field;
        self.buf.advance(pos);
        let header = MessageHeader {
            chunk_stream_id: csid,
            timestamp,
            type_id,
            stream_id,
        };

        if !continuation && chunk_len == length as usize {
            // The common case at large chunk sizes: the payload is a view of the input.
            let payload = self.buf.split_to(chunk_len).freeze();
            return Ok(Step::Message(RawMessage { header, payload }));
        }
        if !continuation {
            let budget = self.reassembly_bytes + length as usize;
            if budget > self.limits.max_reassembly_bytes {
                return Err(ChunkError::ReassemblyLimit {
                    limit: self.limits.max_reassembly_bytes,
                });
            }
            self.reassembly_bytes = budget;
            stream.partial = Some(BytesMut::with_capacity(length as usize));
        }
        let partial = stream.partial.as_mut().expect("partial message exists");
        partial.extend_from_slice(&self.buf[..chunk_len]);
        self.buf.advance(chunk_len);
        // The following chunks of a message usually come back to back: take them here,
        // without the general path's header parsing and stream lookup.
        if csid < 64 && extended_field.is_none() {
            let marker = 0xC0 | csid as u8;
            let chunk_size = self.chunk_size as usize;
            loop {
                let n = (length as usize - partial.len()).min(chunk_size);
                if n == 0 || self.buf.len() <= n || self.buf[0] != marker {
                    break;
                }
                partial.extend_from_slice(&self.buf[1..=n]);
                self.buf.advance(1 + n);
            }
        }
        if partial.len() < length as usize {
            return Ok(Step::Chunk);
        }
        let payload: Bytes = stream
            .partial
            .take()
            .map(BytesMut::freeze)
            .unwrap_or_default();
        self.reassembly_bytes -= length as usize;
        Ok(Step::Message(RawMessage { header, payload }))
    }
}

#[inline]
fn be24(b: &[u8]) -> u32 {
    (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32
}

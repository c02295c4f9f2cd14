//! Chunk stream encoder: messages in, chunk headers plus a shared payload out.

use std::io::IoSlice;

use bytes::{BufMut, Bytes};

use super::{
    write_basic_header, ChunkError, MessageHeader, DEFAULT_CHUNK_SIZE, EXTENDED_TIMESTAMP_MARKER,
    MAX_CHUNK_SIZE, MAX_MESSAGE_LENGTH,
};

/// A message cut into chunks, held as the first chunk's header, the header every following
/// chunk repeats, and the payload. Nothing is copied: sending it means interleaving those
/// headers with slices of the payload, which [`segments`](Self::segments) and
/// [`io_slices`](Self::io_slices) do for a vectored write. Cloning shares the payload, so
/// one encoding can go to many peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedMessage {
    first_header: [u8; 18],
    first_len: u8,
    continuation_header: [u8; 7],
    continuation_len: u8,
    chunk_size: u32,
    payload: Bytes,
}

impl ChunkedMessage {
    /// Encodes `payload` with a self-contained (format 0) first header, independent of
    /// anything sent before on the chunk stream: the form a relay shares among players.
    ///
    /// # Panics
    /// If the chunk stream id is outside 2..=65599 or the payload exceeds 2^24-1 bytes.
    pub fn standalone(header: &MessageHeader, payload: Bytes, chunk_size: u32) -> Self {
        let mut message = ChunkedMessage::empty(chunk_size, payload);
        message.write_headers(0, header, header.timestamp);
        message
    }

    fn empty(chunk_size: u32, payload: Bytes) -> Self {
        assert!(
            payload.len() <= MAX_MESSAGE_LENGTH as usize,
            "payload too long"
        );
        ChunkedMessage {
            first_header: [0; 18],
            first_len: 0,
            continuation_header: [0; 7],
            continuation_len: 0,
            chunk_size: chunk_size.clamp(1, MAX_CHUNK_SIZE),
            payload,
        }
    }

    /// Writes the first and continuation headers. `field` is the timestamp (format 0) or
    /// delta (formats 1-2, and 3 when it starts a message) the header carries.
    fn write_headers(&mut self, fmt: u8, h: &MessageHeader, field: u32) {
        let extended = field >= EXTENDED_TIMESTAMP_MARKER;
        let out = &mut self.first_header;
        let mut n = write_basic_header(out, fmt, h.chunk_stream_id);
        let len = self.payload.len() as u32;
        if fmt <= 2 {
            put_be24(&mut out[n..], field.min(EXTENDED_TIMESTAMP_MARKER));
            n += 3;
        }
        if fmt <= 1 {
            put_be24(&mut out[n..], len);
            out[n + 3] = h.type_id;
            n += 4;
        }
        if fmt == 0 {
            out[n..n + 4].copy_from_slice(&h.stream_id.to_le_bytes());
            n += 4;
        }
        if extended {
            out[n..n + 4].copy_from_slice(&field.to_be_bytes());
            n += 4;
        }
        self.first_len = n as u8;
        // Continuation chunks repeat the extended field, as ffmpeg, librtmp and FMS do.
        let cont = &mut self.continuation_header;
        let mut m = write_basic_header(cont, 3, h.chunk_stream_id);
        if extended {
            cont[m..m + 4].copy_from_slice(&field.to_be_bytes());
            m += 4;
        }
        self.continuation_len = m as u8;
    }

    /// The payload this message carries.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// The chunk size the message was cut with.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Number of chunks (at least one, even for an empty payload).
    pub fn chunk_count(&self) -> usize {
        self.payload.len().div_ceil(self.chunk_size as usize).max(1)
    }

    /// Bytes on the wire: headers plus payload.
    pub fn encoded_len(&self) -> usize {
        self.first_len as usize
            + (self.chunk_count() - 1) * self.continuation_len as usize
            + self.payload.len()
    }

    /// The wire bytes as a sequence of slices: header, payload piece, header, ...
    pub fn segments(&self) -> Segments<'_> {
        Segments {
            message: self,
            next: 0,
            skip: 0,
        }
    }

    /// The wire bytes from `offset` on, for resuming after a partial write.
    pub fn segments_from(&self, offset: usize) -> Segments<'_> {
        let mut segments = self.segments();
        segments.advance(offset);
        segments
    }

    /// Appends the wire bytes as `IoSlice`s for `write_vectored`.
    pub fn io_slices<'a>(&'a self, out: &mut Vec<IoSlice<'a>>) {
        out.extend(self.segments().map(IoSlice::new));
    }

    /// Appends the wire bytes to `out` (one copy of the payload).
    pub fn write_to(&self, out: &mut impl BufMut) {
        for segment in self.segments() {
            out.put_slice(segment);
        }
    }

    fn segment(&self, index: usize) -> &[u8] {
        let chunk = index / 2;
        if index % 2 == 0 {
            if chunk == 0 {
                &self.first_header[..self.first_len as usize]
            } else {
                &self.continuation_header[..self.continuation_len as usize]
            }
        } else {
            let start = chunk * self.chunk_size as usize;
            let end = (start + self.chunk_size as usize).min(self.payload.len());
            &self.payload[start..end]
        }
    }
}

/// Iterator over the wire bytes of a [`ChunkedMessage`], one header or payload slice at a
/// time (empty slices are skipped).
#[derive(Debug, Clone)]
pub struct Segments<'a> {
    message: &'a ChunkedMessage,
    next: usize,
    skip: usize,
}

impl Segments<'_> {
    /// Skips `bytes` bytes of what is left to iterate.
    pub fn advance(&mut self, mut bytes: usize) {
        let total = self.message.chunk_count() * 2;
        while bytes > 0 && self.next < total {
            let available = self.message.segment(self.next).len() - self.skip;
            if bytes < available {
                self.skip += bytes;
                return;
            }
            bytes -= available;
            self.next += 1;
            self.skip = 0;
        }
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let total = self.message.chunk_count() * 2;
        while self.next < total {
            let segment = &self.message.segment(self.next)[self.skip..];
            self.next += 1;
            self.skip = 0;
            if !segment.is_empty() {
                return Some(segment);
            }
        }
        None
    }
}

/// What the encoder remembers of the last message on a chunk stream, to pick the smallest
/// header format for the next one.
#[derive(Debug, Clone, Copy)]
struct LastHeader {
    chunk_stream_id: u32,
    timestamp: u32,
    /// The delta of the last format 1/2 header; `None` after a format 0 header, because
    /// peers disagree on what delta a format 3 message following one implies.
    delta: Option<u32>,
    length: u32,
    type_id: u8,
    stream_id: u32,
}

/// Encodes messages into chunks, compressing each header against the previous message on
/// the same chunk stream (formats 1, 2 and 3) as the specification intends.
#[derive(Debug)]
pub struct ChunkEncoder {
    chunk_size: u32,
    last: Vec<LastHeader>,
}

impl Default for ChunkEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkEncoder {
    /// An encoder at the default chunk size of 128.
    pub fn new() -> Self {
        ChunkEncoder {
            chunk_size: DEFAULT_CHUNK_SIZE,
            last: Vec::new(),
        }
    }

    /// The chunk size messages are cut with.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Changes the chunk size for the messages encoded from now on. The peer must learn it
    /// from a Set Chunk Size message encoded before the next message.
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), ChunkError> {
        if size == 0 || size > MAX_CHUNK_SIZE {
            return Err(ChunkError::InvalidChunkSize(size));
        }
        self.chunk_size = size;
        Ok(())
    }

    /// Forgets every chunk stream's last header, so the next message on each is sent with a
    /// full header (after an Abort, or when another writer interleaved standalone messages).
    pub fn reset(&mut self) {
        self.last.clear();
    }

    /// Forgets one chunk stream's last header.
    pub fn forget(&mut self, chunk_stream_id: u32) {
        self.last.retain(|l| l.chunk_stream_id != chunk_stream_id);
    }

    /// Cuts one message into chunks.
    ///
    /// # Panics
    /// If the chunk stream id is outside 2..=65599 or the payload exceeds 2^24-1 bytes.
    pub fn encode(&mut self, header: &MessageHeader, payload: Bytes) -> ChunkedMessage {
        let mut message = ChunkedMessage::empty(self.chunk_size, payload);
        let length = message.payload.len() as u32;
        let slot = self
            .last
            .iter()
            .position(|l| l.chunk_stream_id == header.chunk_stream_id);
        let delta = slot.and_then(|i| {
            let last = &self.last[i];
            let delta = header.timestamp.wrapping_sub(last.timestamp);
            // A timestamp that went backwards (delta above 2^31) needs an absolute header.
            (last.stream_id == header.stream_id && delta < 0x8000_0000).then_some((last, delta))
        });
        let (fmt, field, new_delta) = match delta {
            None => (0, header.timestamp, None),
            Some((last, delta)) => {
                if last.length != length || last.type_id != header.type_id {
                    (1, delta, Some(delta))
                } else if last.delta == Some(delta) {
                    (3, delta, Some(delta))
                } else {
                    (2, delta, Some(delta))
                }
            }
        };
        message.write_headers(fmt, header, field);
        let record = LastHeader {
            chunk_stream_id: header.chunk_stream_id,
            timestamp: header.timestamp,
            delta: new_delta,
            length,
            type_id: header.type_id,
            stream_id: header.stream_id,
        };
        match slot {
            Some(i) => self.last[i] = record,
            None => self.last.push(record),
        }
        message
    }
}

#[inline]
fn put_be24(out: &mut [u8], v: u32) {
    out[0] = (v >> 16) as u8;
    out[1] = (v >> 8) as u8;
    out[2] = v as u8;
}

//! FLV files: the header, tags and PreviousTagSize fields around them, plus the few questions
//! a relay asks of a tag body (keyframe? sequence header?) for legacy FLV and Enhanced RTMP.
//!
//! ```text
//! file   = header(9+) PreviousTagSize0(u32 = 0) { tag PreviousTagSize(u32 = 11 + body) }
//! header = "FLV" version(u8) flags(u8: 0x04 audio, 0x01 video) data_offset(u32 BE, >= 9)
//! tag    = type(u8: 8 audio, 9 video, 18 script; 0x20 = filter) body_size(u24 BE)
//!          timestamp(u24 BE) timestamp_extended(u8, bits 24-31) stream_id(u24 = 0) body
//! ```
//!
//! Parsing is sans-IO on byte slices ([`FlvHeader::decode`], [`TagHeader::decode`]) with
//! two readers on top: [`FlvReader::from_bytes`] borrows every tag body out of one [`Bytes`]
//! buffer without copying, [`FlvReader::from_read`] reads tag by tag from any
//! [`std::io::Read`]. [`FlvWriter`] writes a file to any [`std::io::Write`];
//! [`FlvTag::encode`] produces the same bytes into a buffer.
//!
//! The readers are lenient where real files are sloppy (PreviousTagSize values and stream ids
//! are not checked, a missing final PreviousTagSize is accepted) and strict where the structure
//! would be lost (bad signature, data offset below 9, truncated tag).

use std::io::{self, Read, Write};

use bytes::{BufMut, Bytes};

use crate::session::MediaKind;

/// Bytes of the FLV header as this module writes it (and the smallest valid data offset).
pub const HEADER_LEN: usize = 9;
/// Bytes of a tag header (type, size, timestamp, extended timestamp, stream id).
pub const TAG_HEADER_LEN: usize = 11;
/// Bytes of a PreviousTagSize field.
pub const PREVIOUS_TAG_SIZE_LEN: usize = 4;
/// The largest tag body the 24-bit size field can describe.
pub const MAX_BODY_LEN: usize = 0x00FF_FFFF;

const SIGNATURE: &[u8; 3] = b"FLV";
const FLAG_AUDIO: u8 = 0x04;
const FLAG_VIDEO: u8 = 0x01;
const TAG_FILTER: u8 = 0x20;

/// What can go wrong reading or writing FLV.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlvError {
    /// The data does not start with "FLV".
    #[error("not an FLV file (bad signature)")]
    BadSignature,
    /// The header's data offset points inside the header.
    #[error("FLV data offset {0} is smaller than the 9-byte header")]
    BadDataOffset(u32),
    /// The data ended inside a header, a tag or a PreviousTagSize field.
    #[error("FLV data truncated at byte {offset}: {needed} more bytes needed")]
    Truncated { offset: u64, needed: u64 },
    /// A tag type other than audio (8), video (9) or script data (18). The reader skips it;
    /// iteration can continue.
    #[error("unsupported FLV tag type {tag_type} at byte {offset}")]
    UnsupportedTagType { tag_type: u8, offset: u64 },
    /// The tag's filter bit is set (encrypted content, which this module does not handle).
    /// The reader skips it; iteration can continue.
    #[error("filtered (encrypted) FLV tag at byte {offset}")]
    Filtered { offset: u64 },
    /// A body longer than the 24-bit size field allows (writing).
    #[error("FLV tag body of {0} bytes exceeds 16777215")]
    BodyTooLarge(usize),
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
}

/// Shorthand for FLV results.
pub type Result<T, E = FlvError> = std::result::Result<T, E>;

/// The FLV file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlvHeader {
    /// 1 for every FLV file in practice.
    pub version: u8,
    /// The TypeFlagsAudio bit: the file announces audio tags.
    pub has_audio: bool,
    /// The TypeFlagsVideo bit: the file announces video tags.
    pub has_video: bool,
    /// Where the body starts (9 unless the file has extra header bytes). Informational:
    /// [`encode`](Self::encode) always writes a 9-byte header.
    pub data_offset: u32,
}

impl Default for FlvHeader {
    /// Version 1 with audio and video.
    fn default() -> Self {
        FlvHeader {
            version: 1,
            has_audio: true,
            has_video: true,
            data_offset: HEADER_LEN as u32,
        }
    }
}

impl FlvHeader {
    /// Parses the header at the start of `input` (at least 9 bytes). The body starts at
    /// `data_offset`, which may be past the 9 bytes parsed.
    pub fn decode(input: &[u8]) -> Result<FlvHeader> {
        let sig_len = input.len().min(SIGNATURE.len());
        if input[..sig_len] != SIGNATURE[..sig_len] {
            return Err(FlvError::BadSignature);
        }
        if input.len() < HEADER_LEN {
            return Err(truncated(input.len() as u64, HEADER_LEN - input.len()));
        }
        let data_offset = u32::from_be_bytes([input[5], input[6], input[7], input[8]]);
        if (data_offset as usize) < HEADER_LEN {
            return Err(FlvError::BadDataOffset(data_offset));
        }
        Ok(FlvHeader {
            version: input[3],
            has_audio: input[4] & FLAG_AUDIO != 0,
            has_video: input[4] & FLAG_VIDEO != 0,
            data_offset,
        })
    }

    /// Appends the 9-byte header followed by PreviousTagSize0, i.e. everything before the
    /// first tag.
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_slice(SIGNATURE);
        out.put_u8(self.version);
        let mut flags = 0;
        if self.has_audio {
            flags |= FLAG_AUDIO;
        }
        if self.has_video {
            flags |= FLAG_VIDEO;
        }
        out.put_u8(flags);
        out.put_u32(HEADER_LEN as u32);
        out.put_u32(0);
    }
}

/// The three kinds of FLV tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TagKind {
    /// Type 8: an audio tag body (AudioTagHeader or ExAudioTagHeader, then data).
    Audio,
    /// Type 9: a video tag body (VideoTagHeader or ExVideoTagHeader, then data).
    Video,
    /// Type 18: script data (AMF0), e.g. `onMetaData`.
    Script,
}

impl TagKind {
    /// The tag type byte (which is also the RTMP message type id).
    pub fn type_id(self) -> u8 {
        match self {
            TagKind::Audio => 8,
            TagKind::Video => 9,
            TagKind::Script => 18,
        }
    }

    /// The kind for a tag type byte (filter and reserved bits cleared), if it is one.
    pub fn from_type_id(type_id: u8) -> Option<TagKind> {
        match type_id {
            8 => Some(TagKind::Audio),
            9 => Some(TagKind::Video),
            18 => Some(TagKind::Script),
            _ => None,
        }
    }

    /// The media an audio or video tag carries; `None` for script data.
    pub fn media(self) -> Option<MediaKind> {
        match self {
            TagKind::Audio => Some(MediaKind::Audio),
            TagKind::Video => Some(MediaKind::Video),
            TagKind::Script => None,
        }
    }
}

impl From<MediaKind> for TagKind {
    fn from(kind: MediaKind) -> Self {
        match kind {
            MediaKind::Audio => TagKind::Audio,
            MediaKind::Video => TagKind::Video,
        }
    }
}

/// The 11-byte header in front of each tag body, as it is on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagHeader {
    /// The 5-bit tag type (8, 9, 18, or anything for a file this module does not know).
    pub tag_type: u8,
    /// The filter bit: the body is encrypted.
    pub filtered: bool,
    /// Body length in bytes.
    pub body_len: u32,
    /// Milliseconds; the extended byte supplies bits 24-31.
    pub timestamp: u32,
    /// Always 0 in valid files; not checked.
    pub stream_id: u32,
}

impl TagHeader {
    /// Parses a tag header from the first 11 bytes of `input`.
    pub fn decode(input: &[u8]) -> Result<TagHeader> {
        let Some(h) = input.get(..TAG_HEADER_LEN) else {
            return Err(truncated(input.len() as u64, TAG_HEADER_LEN - input.len()));
        };
        Ok(TagHeader {
            tag_type: h[0] & 0x1F,
            filtered: h[0] & TAG_FILTER != 0,
            body_len: be24(&h[1..4]),
            timestamp: be24(&h[4..7]) | (h[7] as u32) << 24,
            stream_id: be24(&h[8..11]),
        })
    }

    /// The tag kind, or the error a reader reports for a tag it cannot hand out.
    fn kind(&self, offset: u64) -> Result<TagKind> {
        if self.filtered {
            return Err(FlvError::Filtered { offset });
        }
        TagKind::from_type_id(self.tag_type).ok_or(FlvError::UnsupportedTagType {
            tag_type: self.tag_type,
            offset,
        })
    }
}

/// One audio, video or script tag: the unit an FLV file and an RTMP media message share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlvTag {
    pub kind: TagKind,
    /// Milliseconds (32 bits: the 24-bit field plus the extended byte).
    pub timestamp: u32,
    /// The tag body, which is also the RTMP message payload.
    pub body: Bytes,
}

impl FlvTag {
    /// A tag of `kind` at `timestamp`.
    pub fn new(kind: TagKind, timestamp: u32, body: impl Into<Bytes>) -> Self {
        FlvTag {
            kind,
            timestamp,
            body: body.into(),
        }
    }

    /// Bytes [`encode`](Self::encode) appends: tag header, body, PreviousTagSize.
    pub fn encoded_len(&self) -> usize {
        TAG_HEADER_LEN + self.body.len() + PREVIOUS_TAG_SIZE_LEN
    }

    /// Appends the tag header, the body and the PreviousTagSize that follows it.
    pub fn encode(&self, out: &mut impl BufMut) -> Result<()> {
        let header = encode_tag_header(self.kind, self.timestamp, self.body.len())?;
        out.put_slice(&header);
        out.put_slice(&self.body);
        out.put_u32((TAG_HEADER_LEN + self.body.len()) as u32);
        Ok(())
    }
}

fn encode_tag_header(kind: TagKind, timestamp: u32, len: usize) -> Result<[u8; TAG_HEADER_LEN]> {
    if len > MAX_BODY_LEN {
        return Err(FlvError::BodyTooLarge(len));
    }
    let mut h = [0u8; TAG_HEADER_LEN];
    h[0] = kind.type_id();
    h[1..4].copy_from_slice(&(len as u32).to_be_bytes()[1..]);
    h[4..7].copy_from_slice(&timestamp.to_be_bytes()[1..]);
    h[7] = (timestamp >> 24) as u8;
    Ok(h)
}

fn be24(b: &[u8]) -> u32 {
    (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32
}

fn truncated(offset: u64, needed: usize) -> FlvError {
    FlvError::Truncated {
        offset,
        needed: needed as u64,
    }
}

/// Where a reader takes its bytes from.
enum Source<R> {
    /// One buffer holding the whole file; tag bodies are slices of it.
    Buffer { data: Bytes, pos: usize },
    /// A stream read tag by tag.
    Stream { reader: R, pos: u64 },
}

/// Reads the tags of an FLV file in order: an iterator of `Result<FlvTag>`.
///
/// Iteration ends cleanly where a PreviousTagSize or a tag would start. A truncated or
/// unreadable tag ends it with one error. Tags that are well-formed but unusable (an unknown
/// type, the filter bit) produce an error and are skipped, so iteration can continue past
/// them; `.filter_map(Result::ok)` keeps only the usable tags.
pub struct FlvReader<R = io::Empty> {
    header: FlvHeader,
    source: Source<R>,
    done: bool,
}

impl FlvReader<io::Empty> {
    /// Reads from a buffer holding a whole file (or a prefix of one). Tag bodies share the
    /// buffer: nothing is copied.
    pub fn from_bytes(data: Bytes) -> Result<Self> {
        let header = FlvHeader::decode(&data)?;
        let pos = header.data_offset as usize;
        if pos > data.len() {
            return Err(truncated(data.len() as u64, pos - data.len()));
        }
        Ok(FlvReader {
            header,
            source: Source::Buffer { data, pos },
            done: false,
        })
    }
}

impl<R: Read> FlvReader<R> {
    /// Reads from a stream: the header now, then one tag per call to `next`. Each body is one
    /// allocation, grown as bytes arrive (never sized from the untrusted length field alone).
    pub fn from_read(mut reader: R) -> Result<Self> {
        let mut head = [0u8; HEADER_LEN];
        let n = read_full(&mut reader, &mut head)?;
        let header = FlvHeader::decode(&head[..n])?;
        let skip = header.data_offset as u64 - HEADER_LEN as u64;
        let skipped = io::copy(&mut (&mut reader).take(skip), &mut io::sink())?;
        if skipped < skip {
            return Err(truncated(
                HEADER_LEN as u64 + skipped,
                (skip - skipped) as usize,
            ));
        }
        Ok(FlvReader {
            header,
            source: Source::Stream {
                reader,
                pos: header.data_offset as u64,
            },
            done: false,
        })
    }
}

impl<R> std::fmt::Debug for FlvReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlvReader")
            .field("header", &self.header)
            .field("position", &self.position())
            .field("done", &self.done)
            .finish()
    }
}

impl<R> FlvReader<R> {
    /// The file header.
    pub fn header(&self) -> &FlvHeader {
        &self.header
    }

    /// Byte offset of the next PreviousTagSize field (where reading continues).
    pub fn position(&self) -> u64 {
        match &self.source {
            Source::Buffer { pos, .. } => *pos as u64,
            Source::Stream { pos, .. } => *pos,
        }
    }
}

impl<R: Read> FlvReader<R> {
    fn next_tag(&mut self) -> Result<Option<FlvTag>> {
        match &mut self.source {
            Source::Buffer { data, pos } => next_from_buffer(data, pos),
            Source::Stream { reader, pos } => next_from_stream(reader, pos),
        }
    }
}

impl<R: Read> Iterator for FlvReader<R> {
    type Item = Result<FlvTag>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_tag() {
            Ok(Some(tag)) => Some(Ok(tag)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                // Skippable errors leave the reader after the tag; the rest end reading.
                self.done = !matches!(
                    e,
                    FlvError::UnsupportedTagType { .. } | FlvError::Filtered { .. }
                );
                Some(Err(e))
            }
        }
    }
}

/// PreviousTagSize, then a tag, from `data[*pos..]`; `None` at a clean end.
fn next_from_buffer(data: &Bytes, pos: &mut usize) -> Result<Option<FlvTag>> {
    let rest = &data[*pos..];
    if rest.is_empty() {
        return Ok(None);
    }
    if rest.len() < PREVIOUS_TAG_SIZE_LEN {
        return Err(truncated(
            data.len() as u64,
            PREVIOUS_TAG_SIZE_LEN - rest.len(),
        ));
    }
    let start = *pos + PREVIOUS_TAG_SIZE_LEN;
    if start == data.len() {
        *pos = start;
        return Ok(None);
    }
    let header = TagHeader::decode(&data[start..])
        .map_err(|_| truncated(data.len() as u64, start + TAG_HEADER_LEN - data.len()))?;
    let body_start = start + TAG_HEADER_LEN;
    let body_end = body_start + header.body_len as usize;
    if body_end > data.len() {
        return Err(truncated(data.len() as u64, body_end - data.len()));
    }
    // Skippable errors still move past the tag.
    *pos = body_end;
    let kind = header.kind(start as u64)?;
    Ok(Some(FlvTag {
        kind,
        timestamp: header.timestamp,
        body: data.slice(body_start..body_end),
    }))
}

fn next_from_stream(reader: &mut impl Read, pos: &mut u64) -> Result<Option<FlvTag>> {
    let mut head = [0u8; PREVIOUS_TAG_SIZE_LEN + TAG_HEADER_LEN];
    let n = read_full(reader, &mut head)?;
    if n == 0 || n == PREVIOUS_TAG_SIZE_LEN {
        *pos += n as u64;
        return Ok(None);
    }
    if n < PREVIOUS_TAG_SIZE_LEN {
        return Err(truncated(*pos + n as u64, PREVIOUS_TAG_SIZE_LEN - n));
    }
    if n < head.len() {
        return Err(truncated(*pos + n as u64, head.len() - n));
    }
    let start = *pos + PREVIOUS_TAG_SIZE_LEN as u64;
    let header = TagHeader::decode(&head[PREVIOUS_TAG_SIZE_LEN..])?;
    let len = header.body_len as u64;
    // Grows with the bytes that really arrive; a lying size field costs nothing up front.
    let mut body = Vec::new();
    let got = reader.take(len).read_to_end(&mut body)? as u64;
    let body_start = start + TAG_HEADER_LEN as u64;
    if got < len {
        return Err(truncated(body_start + got, (len - got) as usize));
    }
    *pos = body_start + len;
    let kind = header.kind(start)?;
    Ok(Some(FlvTag {
        kind,
        timestamp: header.timestamp,
        body: body.into(),
    }))
}

/// Reads until `buf` is full or the stream ends; returns how many bytes were read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Writes an FLV file to `W`: the header at construction, then one tag per call.
#[derive(Debug)]
pub struct FlvWriter<W: Write> {
    inner: W,
}

impl<W: Write> FlvWriter<W> {
    /// Writes the header and PreviousTagSize0.
    pub fn new(mut inner: W, header: &FlvHeader) -> Result<Self> {
        let mut head = Vec::with_capacity(HEADER_LEN + PREVIOUS_TAG_SIZE_LEN);
        header.encode(&mut head);
        inner.write_all(&head)?;
        Ok(FlvWriter { inner })
    }

    /// Writes one tag and the PreviousTagSize after it.
    pub fn write_tag(&mut self, tag: &FlvTag) -> Result<()> {
        self.write(tag.kind, tag.timestamp, &tag.body)
    }

    /// Writes one tag from its parts (e.g. an RTMP message's type, timestamp and payload).
    pub fn write(&mut self, kind: TagKind, timestamp: u32, body: &[u8]) -> Result<()> {
        let header = encode_tag_header(kind, timestamp, body.len())?;
        let trailer = ((TAG_HEADER_LEN + body.len()) as u32).to_be_bytes();
        self.inner.write_all(&header)?;
        self.inner.write_all(body)?;
        self.inner.write_all(&trailer)?;
        Ok(())
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> Result<()> {
        Ok(self.inner.flush()?)
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Gives back the underlying writer (not flushed).
    pub fn into_inner(self) -> W {
        self.inner
    }
}

// ---------------------------------------------------------------------------------------
// Tag body inspection: legacy FLV and Enhanced RTMP (v1/v2) headers.
// ---------------------------------------------------------------------------------------

/// Legacy video codec ids whose second byte is an AVCPacketType (0 = sequence header).
const CODEC_AVC: u8 = 7;
/// The widespread (non-Adobe) legacy HEVC codec id, packaged like AVC.
const CODEC_HEVC_LEGACY: u8 = 12;
/// Sound format 10: AAC, whose second byte is an AACPacketType (0 = sequence header).
const SOUND_AAC: u8 = 10;
/// Sound format 9: an ExAudioTagHeader follows (Enhanced RTMP).
const SOUND_EX_HEADER: u8 = 9;
/// VideoFrameType 1: a seekable frame.
const FRAME_KEY: u8 = 1;
/// VideoFrameType 5: a command frame without video data.
const FRAME_COMMAND: u8 = 5;
/// The packet type that announces a ModEx block (same value for audio and video).
const PACKET_MOD_EX: u8 = 7;
/// VideoPacketType Multitrack: a byte with AvMultitrackType and the tracks' packet type follows.
const PACKET_VIDEO_MULTITRACK: u8 = 6;
/// AudioPacketType Multitrack, laid out like the video one.
const PACKET_AUDIO_MULTITRACK: u8 = 5;

/// What a video tag body carries, read from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoPacket {
    /// Codec configuration: AVC/HEVC-legacy AVCPacketType 0, or Enhanced RTMP SequenceStart
    /// (0) or MPEG2TSSequenceStart (5).
    SequenceHeader,
    /// Coded frames: AVCPacketType 1, CodedFrames (1), CodedFramesX (3), or any legacy codec
    /// without a packet type (VP6, H.263, ...).
    CodedFrames,
    /// End of sequence: AVCPacketType 2 or SequenceEnd (2).
    SequenceEnd,
    /// Enhanced RTMP Metadata (4): AMF-encoded video metadata, no picture.
    Metadata,
    /// A command frame (frame type 5), no picture.
    Command,
    /// A packet type this module does not know.
    Unknown(u8),
}

/// What an audio tag body carries, read from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioPacket {
    /// Codec configuration: AAC AACPacketType 0 or Enhanced RTMP SequenceStart (0).
    SequenceHeader,
    /// Coded audio: AAC raw (1), CodedFrames (1), or any legacy format without a packet type.
    CodedFrames,
    /// Enhanced RTMP SequenceEnd (2).
    SequenceEnd,
    /// Enhanced RTMP MultichannelConfig (4): channel layout, configuration like a sequence
    /// header but not the codec's.
    MultichannelConfig,
    /// A packet type this module does not know.
    Unknown(u8),
}

/// Parsed first byte(s) of a video tag body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoTagInfo {
    /// True for an ExVideoTagHeader (bit 0x80 set).
    pub enhanced: bool,
    /// VideoFrameType: 1 key, 2 inter, 3 disposable, 4 generated key, 5 command.
    pub frame_type: u8,
    pub packet: VideoPacket,
}

impl VideoTagInfo {
    /// A key frame (frame type 1) carrying a picture: coded frames, not a sequence header,
    /// end of sequence, metadata or command.
    pub fn is_keyframe(&self) -> bool {
        self.frame_type == FRAME_KEY && self.packet == VideoPacket::CodedFrames
    }
}

/// Reads the video tag header at the start of `body`: legacy (frame type in bits 4-7, codec
/// id in bits 0-3, then AVCPacketType for AVC/HEVC) or Enhanced RTMP (bit 7 set, frame type
/// in bits 4-6, VideoPacketType in bits 0-3, through ModEx blocks and a Multitrack header to
/// the effective packet type). `None` if the body is too short to say.
pub fn video_tag_info(body: &[u8]) -> Option<VideoTagInfo> {
    let first = *body.first()?;
    let enhanced = first & 0x80 != 0;
    let frame_type = (first >> 4) & if enhanced { 0x07 } else { 0x0F };
    let packet = if enhanced {
        let packet_type = ex_packet_type(body, PACKET_VIDEO_MULTITRACK)?;
        match packet_type {
            _ if frame_type == FRAME_COMMAND && packet_type != 4 => VideoPacket::Command,
            0 | 5 => VideoPacket::SequenceHeader,
            1 | 3 => VideoPacket::CodedFrames,
            2 => VideoPacket::SequenceEnd,
            4 => VideoPacket::Metadata,
            other => VideoPacket::Unknown(other),
        }
    } else if frame_type == FRAME_COMMAND {
        VideoPacket::Command
    } else if matches!(first & 0x0F, CODEC_AVC | CODEC_HEVC_LEGACY) {
        match *body.get(1)? {
            0 => VideoPacket::SequenceHeader,
            1 => VideoPacket::CodedFrames,
            2 => VideoPacket::SequenceEnd,
            other => VideoPacket::Unknown(other),
        }
    } else {
        VideoPacket::CodedFrames
    };
    Some(VideoTagInfo {
        enhanced,
        frame_type,
        packet,
    })
}

/// Reads the audio tag header at the start of `body`: legacy (sound format in bits 4-7, then
/// AACPacketType for AAC) or Enhanced RTMP (sound format 9, AudioPacketType in bits 0-3,
/// through ModEx blocks and a Multitrack header). `None` if the body is too short to say.
pub fn audio_packet(body: &[u8]) -> Option<AudioPacket> {
    let first = *body.first()?;
    Some(match first >> 4 {
        SOUND_EX_HEADER => match ex_packet_type(body, PACKET_AUDIO_MULTITRACK)? {
            0 => AudioPacket::SequenceHeader,
            1 => AudioPacket::CodedFrames,
            2 => AudioPacket::SequenceEnd,
            4 => AudioPacket::MultichannelConfig,
            other => AudioPacket::Unknown(other),
        },
        SOUND_AAC => match *body.get(1)? {
            0 => AudioPacket::SequenceHeader,
            1 => AudioPacket::CodedFrames,
            other => AudioPacket::Unknown(other),
        },
        _ => AudioPacket::CodedFrames,
    })
}

/// The effective packet type of an Ex(Audio|Video)TagHeader: the low nibble of the first
/// byte, after following ModEx blocks (size UI8+1, or UI16+1 when that is 256; the data; then
/// a byte whose low nibble is the next packet type) and a Multitrack header (a byte whose low
/// nibble is the tracks' packet type). The layout is the same for audio and video.
/// `multitrack` is the packet type that announces multitrack (video 6, audio 5).
fn ex_packet_type(body: &[u8], multitrack: u8) -> Option<u8> {
    ex_header(body, multitrack).map(|h| h.packet_type)
}

/// Where an Ex(Audio|Video)TagHeader's fixed part ends.
struct ExHeader {
    packet_type: u8,
    /// Offset of the (first) FourCC.
    fourcc_at: usize,
    multitrack: bool,
}

fn ex_header(body: &[u8], multitrack: u8) -> Option<ExHeader> {
    let mut packet_type = *body.first()? & 0x0F;
    let mut pos = 1usize;
    while packet_type == PACKET_MOD_EX {
        let mut size = *body.get(pos)? as usize + 1;
        pos += 1;
        if size == 256 {
            let hi = *body.get(pos)? as usize;
            let lo = *body.get(pos + 1)? as usize;
            size = (hi << 8 | lo) + 1;
            pos += 2;
        }
        pos = pos.checked_add(size)?;
        packet_type = *body.get(pos)? & 0x0F;
        pos += 1;
    }
    let is_multitrack = packet_type == multitrack;
    if is_multitrack {
        packet_type = *body.get(pos)? & 0x0F;
        pos += 1;
    }
    Some(ExHeader {
        packet_type,
        fourcc_at: pos,
        multitrack: is_multitrack,
    })
}

/// For an Enhanced RTMP body (`video` or audio): its FourCC and track id (0 unless the
/// body is multitrack; then the first track's), through ModEx blocks. `None` for legacy
/// bodies and bodies too short to say.
pub fn ex_fourcc_and_track(body: &[u8], video: bool) -> Option<([u8; 4], u8)> {
    let first = *body.first()?;
    let (enhanced, multitrack) = if video {
        (first & 0x80 != 0, PACKET_VIDEO_MULTITRACK)
    } else {
        (first >> 4 == 9, PACKET_AUDIO_MULTITRACK)
    };
    if !enhanced || (video && (first >> 4) & 0x07 == FRAME_COMMAND) {
        return None;
    }
    let h = ex_header(body, multitrack)?;
    let fourcc: [u8; 4] = body.get(h.fourcc_at..h.fourcc_at + 4)?.try_into().ok()?;
    let track = if h.multitrack {
        *body.get(h.fourcc_at + 4)?
    } else {
        0
    };
    Some((fourcc, track))
}

/// True if the video body is a key frame (frame type 1) carrying a picture: coded frames,
/// not a sequence header, end of sequence, metadata or command. A relay that must start a
/// player on a decodable picture waits for one of these.
pub fn video_is_keyframe(body: &[u8]) -> bool {
    video_tag_info(body).is_some_and(|i| i.is_keyframe())
}

/// True if the video body is codec configuration: AVC/legacy-HEVC AVCPacketType 0, or an
/// Enhanced RTMP SequenceStart / MPEG2TSSequenceStart (also inside ModEx or Multitrack).
pub fn video_is_sequence_header(body: &[u8]) -> bool {
    video_tag_info(body).is_some_and(|i| i.packet == VideoPacket::SequenceHeader)
}

/// True if the audio body is codec configuration: AAC AACPacketType 0, or an Enhanced RTMP
/// SequenceStart (also inside ModEx or Multitrack). MultichannelConfig is configuration as
/// well but not the codec's; see [`audio_packet`].
pub fn audio_is_sequence_header(body: &[u8]) -> bool {
    audio_packet(body) == Some(AudioPacket::SequenceHeader)
}

#[cfg(test)]
#[path = "flv_tests.rs"]
mod tests;

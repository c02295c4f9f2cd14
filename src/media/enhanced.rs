//! FLV tag headers as types, both directions: Enhanced RTMP (v1 and v2: FourCC, ModEx,
//! multitrack) and the legacy FLV video/audio headers the codec modules also speak.
//!
//! ```text
//! ExVideoTagHeader = isEx(1) frameType(3) packetType(4)
//!                    { ModEx: sizeMinusOne(u8 | 0xFF u16) data modExType(4) packetType(4) }
//!                    [ Command frame: videoCommand(u8), nothing else ]
//!                    [ Multitrack(6): multitrackType(4) packetType(4) [fourCC unless ManyCodecs] ]
//!                    fourCC                                     (single track)
//! track              = [fourCC if ManyTracksManyCodecs] [trackId(u8)] [size(u24) unless OneTrack]
//!                      [compositionTime(si24) for CodedFrames of avc1/hvc1/vvc1] data
//! ExAudioTagHeader = soundFormat 9(4) packetType(4) { ModEx } [Multitrack(5) ...] fourCC
//! ```
//!
//! [`ExVideoHeader`] and [`ExAudioHeader`] cover the single-track header a codec packager
//! writes; [`ExVideoTag`] and [`ExAudioTag`] parse and write whole bodies, multitrack and
//! command frames included. The TimestampOffsetNano ModEx is kept as a value; other ModEx
//! types are skipped. [`LegacyVideoHeader`] covers pre-2023 FLV video (AVC codec id 7 and
//! the widespread HEVC codec id 12); the legacy audio header (AAC, MP3, ...) is
//! [`LegacyAudioHeader`](super::aac::LegacyAudioHeader).
//!
//! The module also holds what the codec modules share: the error type [`MediaError`], the
//! packager output types [`PackagedVideo`] / [`PackagedAudio`], and [`VideoFrame`], a frame
//! taken back out of a tag body.

use bytes::{BufMut, Bytes};

/// What can go wrong packaging or unpacking media. Parsers return these for malformed input;
/// none of them panics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// The data ends inside the named structure.
    #[error("{0}: data ends early")]
    Truncated(&'static str),
    /// The named field or structure holds a value the specification forbids.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// Valid, but outside what this implementation handles (documented per function).
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// A frame came before the codec configuration it needs (SPS/PPS, sequence header, ...).
    #[error("no codec configuration yet: {0}")]
    MissingConfig(&'static str),
    /// pts - dts does not fit the signed 24-bit composition time offset.
    #[error("composition time offset {0} ms does not fit in 24 bits")]
    CompositionTimeOutOfRange(i64),
}

/// Shorthand for media results.
pub type Result<T, E = MediaError> = std::result::Result<T, E>;

/// A four-character code identifying a codec in Enhanced RTMP.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FourCc(pub [u8; 4]);

impl FourCc {
    pub const AVC1: FourCc = FourCc(*b"avc1");
    pub const HVC1: FourCc = FourCc(*b"hvc1");
    pub const VVC1: FourCc = FourCc(*b"vvc1");
    pub const AV01: FourCc = FourCc(*b"av01");
    pub const VP09: FourCc = FourCc(*b"vp09");
    pub const VP08: FourCc = FourCc(*b"vp08");
    pub const OPUS: FourCc = FourCc(*b"Opus");
    pub const FLAC: FourCc = FourCc(*b"fLaC");
    pub const AC3: FourCc = FourCc(*b"ac-3");
    pub const EAC3: FourCc = FourCc(*b"ec-3");
    pub const MP3: FourCc = FourCc(*b".mp3");
    pub const MP4A: FourCc = FourCc(*b"mp4a");

    /// The code as the big-endian number onMetaData's codec ids use.
    pub fn to_u32(self) -> u32 {
        u32::from_be_bytes(self.0)
    }

    /// True for the NAL-unit codecs whose CodedFrames carry a composition time offset.
    pub fn has_composition_time(self) -> bool {
        matches!(self, FourCc::AVC1 | FourCc::HVC1 | FourCc::VVC1)
    }
}

impl std::fmt::Debug for FourCc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.iter().all(|b| b.is_ascii_graphic()) {
            write!(
                f,
                "FourCc({:?})",
                std::str::from_utf8(&self.0).unwrap_or("")
            )
        } else {
            write!(f, "FourCc(0x{:08x})", self.to_u32())
        }
    }
}

/// Declares a `#[repr(u8)]` enum and its `from_u8`, which is `None` for reserved values.
macro_rules! u8_enum {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $variant:ident = $value:expr,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name { $($(#[$vm])* $variant = $value,)* }

        impl $name {
            /// The value for a number, `None` if it is reserved or unknown.
            pub fn from_u8(v: u8) -> Option<Self> {
                match v {
                    $(x if x == $value => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}
pub(crate) use u8_enum;

u8_enum! {
    /// VideoFrameType (legacy and Enhanced RTMP share the values; 0, 6 and 7 are reserved).
    pub enum VideoFrameType {
        /// A seekable frame (for AVC/HEVC an IDR/IRAP picture).
        Key = 1,
        Inter = 2,
        /// H.263 only.
        DisposableInter = 3,
        /// Reserved for server use.
        GeneratedKey = 4,
        /// No picture: a video info/command byte follows (or Enhanced RTMP Metadata).
        Command = 5,
    }
}

impl VideoFrameType {
    /// `Key` or `Inter`.
    pub fn key_if(keyframe: bool) -> Self {
        if keyframe {
            Self::Key
        } else {
            Self::Inter
        }
    }
}

u8_enum! {
    /// Enhanced RTMP VideoPacketType, without the two structural values (Multitrack 6 and
    /// ModEx 7), which [`ExVideoTag`] represents as structure.
    pub enum VideoPacketType {
        /// Codec configuration record (avcC, hvcC, av1C, vpcC).
        SequenceStart = 0,
        /// Coded frames; for avc1/hvc1/vvc1 preceded by a composition time offset.
        CodedFrames = 1,
        SequenceEnd = 2,
        /// Coded frames of avc1/hvc1/vvc1 with an implied composition time offset of 0.
        CodedFramesX = 3,
        /// AMF-encoded metadata (e.g. `colorInfo`), no picture.
        Metadata = 4,
        /// AV1 in MPEG-2 TS form: an AV1 video descriptor.
        Mpeg2TsSequenceStart = 5,
    }
}

u8_enum! {
    /// Enhanced RTMP AudioPacketType, without Multitrack (5) and ModEx (7).
    pub enum AudioPacketType {
        /// Codec configuration (AudioSpecificConfig, OpusHead, FLAC STREAMINFO, ...).
        SequenceStart = 0,
        CodedFrames = 1,
        SequenceEnd = 2,
        /// Channel layout; see [`MultichannelConfig`].
        MultichannelConfig = 4,
    }
}

u8_enum! {
    /// How the tracks of a v2 multitrack message are laid out.
    pub enum AvMultitrackType {
        /// One track with a track id, no size field.
        OneTrack = 0,
        /// Several tracks of one codec (one FourCC in the header), each with a size.
        ManyTracks = 1,
        /// Several tracks, each with its own FourCC and a size.
        ManyTracksManyCodecs = 2,
    }
}

const EX_VIDEO_FLAG: u8 = 0x80;
const SOUND_FORMAT_EX: u8 = 9;
const PACKET_MOD_EX: u8 = 7;
const VIDEO_MULTITRACK: u8 = 6;
const AUDIO_MULTITRACK: u8 = 5;
const MOD_EX_TIMESTAMP_OFFSET_NANO: u8 = 0;
/// The largest track size a multitrack size field (UI24) can describe.
const MAX_TRACK_LEN: usize = 0x00FF_FFFF;

/// A cursor over bytes where every read checks the length (tag headers, configuration
/// records).
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pub(crate) pos: usize,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8], what: &'static str) -> Self {
        Cursor { data, pos: 0, what }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(MediaError::Truncated(self.what));
        }
        self.pos += n;
        Ok(&self.data[self.pos - n..self.pos])
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u24(&mut self) -> Result<u32> {
        let b = self.take(3)?;
        Ok((b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32)
    }

    pub(crate) fn si24(&mut self) -> Result<i32> {
        let v = self.u24()?;
        Ok(((v << 8) as i32) >> 8)
    }

    fn fourcc(&mut self) -> Result<FourCc> {
        let b = self.take(4)?;
        Ok(FourCc([b[0], b[1], b[2], b[3]]))
    }

    /// `count` NAL units, each with a u16 length (avcC and hvcC lists).
    pub(crate) fn nal_list(&mut self, count: usize) -> Result<Vec<Bytes>> {
        let mut out = Vec::with_capacity(count.min(self.remaining() / 2));
        for _ in 0..count {
            let len = self.u16()? as usize;
            out.push(Bytes::copy_from_slice(self.take(len)?));
        }
        Ok(out)
    }
}

/// Reads the ModEx blocks that follow a packet type of 7; returns the next packet type and
/// the TimestampOffsetNano value if one was present (the last one wins).
fn read_mod_ex(cur: &mut Cursor<'_>, mut packet_type: u8) -> Result<(u8, Option<u32>)> {
    let mut nanos = None;
    while packet_type == PACKET_MOD_EX {
        let mut size = cur.u8()? as usize + 1;
        if size == 256 {
            let b = cur.take(2)?;
            size = u16::from_be_bytes([b[0], b[1]]) as usize + 1;
        }
        let data = cur.take(size)?;
        let next = cur.u8()?;
        if next >> 4 == MOD_EX_TIMESTAMP_OFFSET_NANO {
            if data.len() < 3 {
                return Err(MediaError::Invalid("TimestampOffsetNano ModEx (< 3 bytes)"));
            }
            nanos = Some((data[0] as u32) << 16 | (data[1] as u32) << 8 | data[2] as u32);
        }
        packet_type = next & 0x0F;
    }
    Ok((packet_type, nanos))
}

/// Writes the first byte's high bits with packet type ModEx and the TimestampOffsetNano
/// block, ending with the real packet type.
fn write_mod_ex(out: &mut impl BufMut, high_bits: u8, nanos: u32, packet_type: u8) {
    out.put_u8(high_bits | PACKET_MOD_EX);
    out.put_u8(2); // three bytes of data
    out.put_slice(&nanos.to_be_bytes()[1..]);
    out.put_u8(MOD_EX_TIMESTAMP_OFFSET_NANO << 4 | packet_type);
}

fn put_u24(out: &mut impl BufMut, v: u32) {
    out.put_slice(&v.to_be_bytes()[1..]);
}

/// The single-track ExVideoTagHeader a packager writes in front of a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExVideoHeader {
    pub frame_type: VideoFrameType,
    pub packet_type: VideoPacketType,
    pub fourcc: FourCc,
    /// Milliseconds, signed 24-bit. On the wire only for CodedFrames of avc1/hvc1/vvc1;
    /// otherwise 0 when parsed and ignored when written.
    pub composition_time: i32,
    /// The TimestampOffsetNano ModEx (nanoseconds added to the message timestamp,
    /// 0..=999_999), when present.
    pub timestamp_offset_nanos: Option<u32>,
}

impl ExVideoHeader {
    /// A header without composition time or ModEx.
    pub fn new(frame_type: VideoFrameType, packet_type: VideoPacketType, fourcc: FourCc) -> Self {
        ExVideoHeader {
            frame_type,
            packet_type,
            fourcc,
            composition_time: 0,
            timestamp_offset_nanos: None,
        }
    }

    /// The header for coded frames the way ffmpeg writes them: codecs with a composition
    /// time use CodedFramesX when it is 0 and CodedFrames otherwise; the others CodedFrames.
    pub fn coded_frames(fourcc: FourCc, keyframe: bool, composition_time: i32) -> Self {
        let x = fourcc.has_composition_time() && composition_time == 0;
        let packet_type = if x {
            VideoPacketType::CodedFramesX
        } else {
            VideoPacketType::CodedFrames
        };
        ExVideoHeader {
            composition_time,
            ..Self::new(VideoFrameType::key_if(keyframe), packet_type, fourcc)
        }
    }

    fn carries_composition_time(&self) -> bool {
        self.packet_type == VideoPacketType::CodedFrames && self.fourcc.has_composition_time()
    }

    /// Parses the header of a single-track Enhanced RTMP video body; returns it and the
    /// offset where the payload starts. Multitrack bodies and command frames are errors
    /// here ([`MediaError::Unsupported`]); [`ExVideoTag::parse`] takes every form.
    pub fn parse(body: &[u8]) -> Result<(ExVideoHeader, usize)> {
        let mut cur = Cursor::new(body, "ExVideoTagHeader");
        let (first, packet_type, nanos) = read_ex_video_start(&mut cur)?;
        if packet_type == VIDEO_MULTITRACK {
            return Err(MediaError::Unsupported(
                "multitrack body (use ExVideoTag::parse)",
            ));
        }
        let frame_type = ex_frame_type(first)?;
        let packet_type = video_packet_type(packet_type)?;
        if frame_type == VideoFrameType::Command && packet_type != VideoPacketType::Metadata {
            return Err(MediaError::Unsupported(
                "command frame (use ExVideoTag::parse)",
            ));
        }
        let fourcc = cur.fourcc()?;
        let mut header = ExVideoHeader {
            frame_type,
            packet_type,
            fourcc,
            composition_time: 0,
            timestamp_offset_nanos: nanos,
        };
        if header.carries_composition_time() {
            header.composition_time = cur.si24()?;
        }
        Ok((header, cur.pos))
    }

    /// Bytes [`write`](Self::write) appends.
    pub fn encoded_len(&self) -> usize {
        let mod_ex = if self.timestamp_offset_nanos.is_some() {
            5
        } else {
            0
        };
        1 + mod_ex
            + 4
            + if self.carries_composition_time() {
                3
            } else {
                0
            }
    }

    /// Appends the header (ModEx block, FourCC, composition time where the format has one).
    pub fn write(&self, out: &mut impl BufMut) {
        let high = EX_VIDEO_FLAG | (self.frame_type as u8) << 4;
        match self.timestamp_offset_nanos {
            Some(nanos) => write_mod_ex(out, high, nanos, self.packet_type as u8),
            None => out.put_u8(high | self.packet_type as u8),
        }
        out.put_slice(&self.fourcc.0);
        if self.carries_composition_time() {
            put_u24(out, self.composition_time as u32 & 0x00FF_FFFF);
        }
    }

    /// The header followed by `payload`, as one tag body.
    pub fn to_body(&self, payload: &[u8]) -> Bytes {
        let mut out = Vec::with_capacity(self.encoded_len() + payload.len());
        self.write(&mut out);
        out.extend_from_slice(payload);
        out.into()
    }
}

fn read_ex_video_start(cur: &mut Cursor<'_>) -> Result<(u8, u8, Option<u32>)> {
    let first = cur.u8()?;
    if first & EX_VIDEO_FLAG == 0 {
        return Err(MediaError::Invalid(
            "ExVideoTagHeader (IsExHeader bit clear)",
        ));
    }
    let (packet_type, nanos) = read_mod_ex(cur, first & 0x0F)?;
    Ok((first, packet_type, nanos))
}

fn ex_frame_type(first: u8) -> Result<VideoFrameType> {
    VideoFrameType::from_u8((first >> 4) & 0x07).ok_or(MediaError::Invalid("VideoFrameType"))
}

fn video_packet_type(v: u8) -> Result<VideoPacketType> {
    VideoPacketType::from_u8(v).ok_or(MediaError::Invalid("VideoPacketType"))
}

/// One track of an E-RTMP v2 multitrack message (audio or video).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    pub track_id: u8,
    pub fourcc: FourCc,
    /// As in [`ExVideoHeader::composition_time`]; always 0 for audio.
    pub composition_time: i32,
    pub data: Bytes,
}

/// Reads the multitrack byte, the shared FourCC and the tracks up to the end of `body`.
/// `cts(packet_type, fourcc)` says whether a track body starts with a composition time.
fn read_tracks(
    cur: &mut Cursor<'_>,
    body: &Bytes,
    cts: impl Fn(u8, FourCc) -> bool,
) -> Result<(u8, AvMultitrackType, Vec<Track>)> {
    let byte = cur.u8()?;
    let kind =
        AvMultitrackType::from_u8(byte >> 4).ok_or(MediaError::Invalid("AvMultitrackType"))?;
    let packet_type = byte & 0x0F;
    let shared = match kind {
        AvMultitrackType::ManyTracksManyCodecs => None,
        _ => Some(cur.fourcc()?),
    };
    let mut tracks = Vec::new();
    while cur.pos < body.len() || tracks.is_empty() {
        let fourcc = match shared {
            Some(f) => f,
            None => cur.fourcc()?,
        };
        let track_id = cur.u8()?;
        let len = match kind {
            AvMultitrackType::OneTrack => body.len() - cur.pos,
            _ => cur.u24()? as usize,
        };
        let start = cur.pos;
        let data = cur.take(len)?;
        let mut track = Track {
            track_id,
            fourcc,
            composition_time: 0,
            data: body.slice(start..start + len),
        };
        if cts(packet_type, fourcc) {
            track.composition_time = Cursor::new(data, "multitrack composition time").si24()?;
            track.data = track.data.slice(3..);
        }
        tracks.push(track);
        if kind == AvMultitrackType::OneTrack {
            break;
        }
    }
    Ok((packet_type, kind, tracks))
}

/// Writes the multitrack byte, the shared FourCC and the tracks. Fails if the layout does
/// not fit the type (OneTrack with other than one track, ManyTracks with differing
/// FourCCs, no tracks, a track over 16 MiB).
fn write_tracks(
    out: &mut impl BufMut,
    packet_type: u8,
    kind: AvMultitrackType,
    tracks: &[Track],
    cts: bool,
) -> Result<()> {
    let first = tracks
        .first()
        .ok_or(MediaError::Invalid("multitrack without tracks"))?;
    if kind == AvMultitrackType::OneTrack && tracks.len() != 1 {
        return Err(MediaError::Invalid(
            "OneTrack multitrack with other than one track",
        ));
    }
    if kind == AvMultitrackType::ManyTracks && tracks.iter().any(|t| t.fourcc != first.fourcc) {
        return Err(MediaError::Invalid("ManyTracks with differing FourCCs"));
    }
    out.put_u8((kind as u8) << 4 | packet_type);
    if kind != AvMultitrackType::ManyTracksManyCodecs {
        out.put_slice(&first.fourcc.0);
    }
    for track in tracks {
        let cts = cts && track.fourcc.has_composition_time();
        if kind == AvMultitrackType::ManyTracksManyCodecs {
            out.put_slice(&track.fourcc.0);
        }
        out.put_u8(track.track_id);
        if kind != AvMultitrackType::OneTrack {
            let len = track.data.len() + if cts { 3 } else { 0 };
            if len > MAX_TRACK_LEN {
                return Err(MediaError::Invalid("multitrack track over 16 MiB"));
            }
            put_u24(out, len as u32);
        }
        if cts {
            put_u24(out, track.composition_time as u32 & 0x00FF_FFFF);
        }
        out.put_slice(&track.data);
    }
    Ok(())
}

/// A whole Enhanced RTMP video body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExVideoTag {
    /// The usual form: one header, one payload.
    Single {
        header: ExVideoHeader,
        payload: Bytes,
    },
    /// E-RTMP v2 multitrack: frame type and packet type apply to every track.
    Multitrack {
        frame_type: VideoFrameType,
        packet_type: VideoPacketType,
        timestamp_offset_nanos: Option<u32>,
        multitrack_type: AvMultitrackType,
        tracks: Vec<Track>,
    },
    /// A command frame: frame type Command and a VideoCommand byte (0 start seek, 1 end
    /// seek), no FourCC and no video. `packet_type` is the (ignored) nibble next to it.
    Command {
        packet_type: u8,
        command: u8,
        timestamp_offset_nanos: Option<u32>,
    },
}

fn video_cts(packet_type: u8, fourcc: FourCc) -> bool {
    packet_type == VideoPacketType::CodedFrames as u8 && fourcc.has_composition_time()
}

impl ExVideoTag {
    /// Parses a whole ExVideoTagHeader body. Payloads share `body`'s buffer.
    pub fn parse(body: &Bytes) -> Result<ExVideoTag> {
        let mut cur = Cursor::new(body, "ExVideoTagHeader");
        let (first, raw_packet_type, nanos) = read_ex_video_start(&mut cur)?;
        let frame_type = ex_frame_type(first)?;
        if frame_type == VideoFrameType::Command
            && raw_packet_type != VideoPacketType::Metadata as u8
        {
            return Ok(ExVideoTag::Command {
                packet_type: raw_packet_type,
                command: cur.u8()?,
                timestamp_offset_nanos: nanos,
            });
        }
        if raw_packet_type != VIDEO_MULTITRACK {
            let (header, start) = ExVideoHeader::parse(body)?;
            return Ok(ExVideoTag::Single {
                header,
                payload: body.slice(start..),
            });
        }
        let (packet_type, multitrack_type, tracks) = read_tracks(&mut cur, body, video_cts)?;
        Ok(ExVideoTag::Multitrack {
            frame_type,
            packet_type: video_packet_type(packet_type)?,
            timestamp_offset_nanos: nanos,
            multitrack_type,
            tracks,
        })
    }

    /// Appends the body; fails on an inconsistent multitrack layout (see [`Track`]).
    pub fn encode(&self, out: &mut impl BufMut) -> Result<()> {
        let (high, nanos, nibble) = match self {
            ExVideoTag::Single { header, payload } => {
                header.write(out);
                out.put_slice(payload);
                return Ok(());
            }
            ExVideoTag::Command {
                packet_type,
                timestamp_offset_nanos,
                ..
            } => (
                VideoFrameType::Command,
                timestamp_offset_nanos,
                packet_type & 0x0F,
            ),
            ExVideoTag::Multitrack {
                frame_type,
                timestamp_offset_nanos,
                ..
            } => (*frame_type, timestamp_offset_nanos, VIDEO_MULTITRACK),
        };
        let high = EX_VIDEO_FLAG | (high as u8) << 4;
        match nanos {
            Some(n) => write_mod_ex(out, high, *n, nibble),
            None => out.put_u8(high | nibble),
        }
        match self {
            ExVideoTag::Command { command, .. } => out.put_u8(*command),
            ExVideoTag::Multitrack {
                packet_type,
                multitrack_type,
                tracks,
                ..
            } => {
                let cts = *packet_type == VideoPacketType::CodedFrames;
                write_tracks(out, *packet_type as u8, *multitrack_type, tracks, cts)?;
            }
            ExVideoTag::Single { .. } => {}
        }
        Ok(())
    }

    /// The encoded body.
    pub fn to_bytes(&self) -> Result<Bytes> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out.into())
    }
}

/// The single-track ExAudioTagHeader (sound format 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExAudioHeader {
    pub packet_type: AudioPacketType,
    pub fourcc: FourCc,
    /// The TimestampOffsetNano ModEx, when present.
    pub timestamp_offset_nanos: Option<u32>,
}

impl ExAudioHeader {
    pub fn new(packet_type: AudioPacketType, fourcc: FourCc) -> Self {
        ExAudioHeader {
            packet_type,
            fourcc,
            timestamp_offset_nanos: None,
        }
    }

    /// Parses the header of a single-track Enhanced RTMP audio body; returns it and the
    /// payload offset. Multitrack bodies are [`MediaError::Unsupported`] here.
    pub fn parse(body: &[u8]) -> Result<(ExAudioHeader, usize)> {
        let mut cur = Cursor::new(body, "ExAudioTagHeader");
        let (packet_type, nanos) = read_ex_audio_start(&mut cur)?;
        if packet_type == AUDIO_MULTITRACK {
            return Err(MediaError::Unsupported(
                "multitrack body (use ExAudioTag::parse)",
            ));
        }
        let header = ExAudioHeader {
            packet_type: audio_packet_type(packet_type)?,
            fourcc: cur.fourcc()?,
            timestamp_offset_nanos: nanos,
        };
        Ok((header, cur.pos))
    }

    /// Bytes [`write`](Self::write) appends.
    pub fn encoded_len(&self) -> usize {
        if self.timestamp_offset_nanos.is_some() {
            10
        } else {
            5
        }
    }

    /// Appends the header.
    pub fn write(&self, out: &mut impl BufMut) {
        let high = SOUND_FORMAT_EX << 4;
        match self.timestamp_offset_nanos {
            Some(n) => write_mod_ex(out, high, n, self.packet_type as u8),
            None => out.put_u8(high | self.packet_type as u8),
        }
        out.put_slice(&self.fourcc.0);
    }

    /// The header followed by `payload`, as one tag body.
    pub fn to_body(&self, payload: &[u8]) -> Bytes {
        let mut out = Vec::with_capacity(self.encoded_len() + payload.len());
        self.write(&mut out);
        out.extend_from_slice(payload);
        out.into()
    }
}

fn read_ex_audio_start(cur: &mut Cursor<'_>) -> Result<(u8, Option<u32>)> {
    let first = cur.u8()?;
    if first >> 4 != SOUND_FORMAT_EX {
        return Err(MediaError::Invalid(
            "ExAudioTagHeader (sound format is not 9)",
        ));
    }
    read_mod_ex(cur, first & 0x0F)
}

fn audio_packet_type(v: u8) -> Result<AudioPacketType> {
    AudioPacketType::from_u8(v).ok_or(MediaError::Invalid("AudioPacketType"))
}

/// A whole Enhanced RTMP audio body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExAudioTag {
    Single {
        header: ExAudioHeader,
        payload: Bytes,
    },
    Multitrack {
        packet_type: AudioPacketType,
        timestamp_offset_nanos: Option<u32>,
        multitrack_type: AvMultitrackType,
        tracks: Vec<Track>,
    },
}

impl ExAudioTag {
    /// Parses a whole ExAudioTagHeader body. Payloads share `body`'s buffer.
    pub fn parse(body: &Bytes) -> Result<ExAudioTag> {
        let mut cur = Cursor::new(body, "ExAudioTagHeader");
        let (raw_packet_type, nanos) = read_ex_audio_start(&mut cur)?;
        if raw_packet_type != AUDIO_MULTITRACK {
            let (header, start) = ExAudioHeader::parse(body)?;
            return Ok(ExAudioTag::Single {
                header,
                payload: body.slice(start..),
            });
        }
        let (packet_type, multitrack_type, tracks) = read_tracks(&mut cur, body, |_, _| false)?;
        Ok(ExAudioTag::Multitrack {
            packet_type: audio_packet_type(packet_type)?,
            timestamp_offset_nanos: nanos,
            multitrack_type,
            tracks,
        })
    }

    /// Appends the body; fails on an inconsistent multitrack layout.
    pub fn encode(&self, out: &mut impl BufMut) -> Result<()> {
        match self {
            ExAudioTag::Single { header, payload } => {
                header.write(out);
                out.put_slice(payload);
            }
            ExAudioTag::Multitrack {
                packet_type,
                timestamp_offset_nanos,
                multitrack_type,
                tracks,
            } => {
                let high = SOUND_FORMAT_EX << 4;
                match timestamp_offset_nanos {
                    Some(n) => write_mod_ex(out, high, *n, AUDIO_MULTITRACK),
                    None => out.put_u8(high | AUDIO_MULTITRACK),
                }
                write_tracks(out, *packet_type as u8, *multitrack_type, tracks, false)?;
            }
        }
        Ok(())
    }

    /// The encoded body.
    pub fn to_bytes(&self) -> Result<Bytes> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out.into())
    }
}

/// The payload of an AudioPacketType.MultichannelConfig message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultichannelConfig {
    pub channel_count: u8,
    pub layout: ChannelLayout,
}

/// How a [`MultichannelConfig`] names its channels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelLayout {
    /// AudioChannelOrder 0: only the count is known.
    Unspecified,
    /// AudioChannelOrder 1: the channels present, as AudioChannelMask bits (FrontLeft =
    /// 0x1, FrontRight = 0x2, FrontCenter = 0x4, ...), in that order.
    Native(u32),
    /// AudioChannelOrder 2: one AudioChannel value per channel, in bitstream order.
    Custom(Vec<u8>),
}

impl MultichannelConfig {
    /// Parses a MultichannelConfig payload (after the ExAudioTagHeader).
    pub fn parse(payload: &[u8]) -> Result<MultichannelConfig> {
        let mut cur = Cursor::new(payload, "MultichannelConfig");
        let order = cur.u8()?;
        let channel_count = cur.u8()?;
        let layout = match order {
            0 => ChannelLayout::Unspecified,
            1 => {
                let b = cur.take(4)?;
                ChannelLayout::Native(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            }
            2 => ChannelLayout::Custom(cur.take(channel_count as usize)?.to_vec()),
            _ => return Err(MediaError::Invalid("AudioChannelOrder")),
        };
        Ok(MultichannelConfig {
            channel_count,
            layout,
        })
    }

    /// Appends the payload.
    pub fn write(&self, out: &mut impl BufMut) {
        match &self.layout {
            ChannelLayout::Unspecified => {
                out.put_u8(0);
                out.put_u8(self.channel_count);
            }
            ChannelLayout::Native(mask) => {
                out.put_u8(1);
                out.put_u8(self.channel_count);
                out.put_u32(*mask);
            }
            ChannelLayout::Custom(map) => {
                out.put_u8(2);
                out.put_u8(self.channel_count);
                out.put_slice(map);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Legacy FLV headers.
// ---------------------------------------------------------------------------------------

/// Legacy codec id of AVC.
pub const CODEC_ID_AVC: u8 = 7;
/// The widespread (non-Adobe) legacy codec id for HEVC, packaged like AVC.
pub const CODEC_ID_HEVC: u8 = 12;

u8_enum! {
    /// AVCPacketType of legacy AVC (and codec id 12 HEVC) bodies.
    pub enum AvcPacketType {
        SequenceHeader = 0,
        Nalu = 1,
        EndOfSequence = 2,
    }
}

/// A legacy VideoTagHeader: frame type and codec id, plus the AVCPacketType and composition
/// time for codec ids 7 and 12, or the command byte of a command frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegacyVideoHeader {
    pub frame_type: VideoFrameType,
    pub codec_id: u8,
    /// For codec ids 7 and 12 (not for command frames).
    pub avc_packet_type: Option<AvcPacketType>,
    /// Milliseconds; for codec ids 7 and 12, 0 unless a NALU packet.
    pub composition_time: i32,
    /// The VideoCommand byte of a command frame.
    pub command: Option<u8>,
}

impl LegacyVideoHeader {
    /// An AVC (codec id 7) header.
    pub fn avc(frame_type: VideoFrameType, packet_type: AvcPacketType, cts: i32) -> Self {
        LegacyVideoHeader {
            frame_type,
            codec_id: CODEC_ID_AVC,
            avc_packet_type: Some(packet_type),
            composition_time: cts,
            command: None,
        }
    }

    /// Parses a legacy video header; returns it and the payload offset.
    pub fn parse(body: &[u8]) -> Result<(LegacyVideoHeader, usize)> {
        let mut cur = Cursor::new(body, "VideoTagHeader");
        let first = cur.u8()?;
        if first & EX_VIDEO_FLAG != 0 {
            return Err(MediaError::Invalid("VideoTagHeader (IsExHeader bit set)"));
        }
        let frame_type =
            VideoFrameType::from_u8(first >> 4).ok_or(MediaError::Invalid("VideoFrameType"))?;
        let mut header = LegacyVideoHeader {
            frame_type,
            codec_id: first & 0x0F,
            avc_packet_type: None,
            composition_time: 0,
            command: None,
        };
        if frame_type == VideoFrameType::Command {
            header.command = Some(cur.u8()?);
        } else if matches!(header.codec_id, CODEC_ID_AVC | CODEC_ID_HEVC) {
            let pt = AvcPacketType::from_u8(cur.u8()?);
            header.avc_packet_type = Some(pt.ok_or(MediaError::Invalid("AVCPacketType"))?);
            header.composition_time = cur.si24()?;
        }
        Ok((header, cur.pos))
    }

    /// Appends the header.
    pub fn write(&self, out: &mut impl BufMut) {
        out.put_u8((self.frame_type as u8) << 4 | (self.codec_id & 0x0F));
        if let Some(command) = self.command {
            out.put_u8(command);
        } else if let Some(pt) = self.avc_packet_type {
            out.put_u8(pt as u8);
            put_u24(out, self.composition_time as u32 & 0x00FF_FFFF);
        }
    }

    /// The header followed by `payload`, as one tag body.
    pub fn to_body(&self, payload: &[u8]) -> Bytes {
        let mut out = Vec::with_capacity(5 + payload.len());
        self.write(&mut out);
        out.extend_from_slice(payload);
        out.into()
    }
}

// ---------------------------------------------------------------------------------------
// What the codec modules produce and take back.
// ---------------------------------------------------------------------------------------

/// Which video tag header a packager writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VideoTagFormat {
    /// Pre-2023 FLV: a codec id (7 for AVC, 12 for the non-Adobe HEVC convention) and an
    /// AVCPacketType; what every RTMP server and player understands for AVC.
    Legacy,
    /// Enhanced RTMP: ExVideoTagHeader with the codec's FourCC.
    #[default]
    Enhanced,
}

/// What a video packager makes of one encoded frame: FLV/RTMP video tag bodies (message
/// type 9), all for the frame's decode timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PackagedVideo {
    /// A sequence header (configuration record), when the configuration appeared or
    /// changed; send it before `frame`.
    pub sequence_header: Option<Bytes>,
    /// The frame, or `None` when the input held only configuration.
    pub frame: Option<Bytes>,
    /// The frame is a random access point.
    pub keyframe: bool,
    /// pts - dts in milliseconds, as written into the frame (0 for codecs without one).
    pub composition_time: i32,
}

/// What an audio packager makes of one encoded frame: audio tag bodies (message type 8).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PackagedAudio {
    /// A sequence header, when the configuration appeared or changed; send it first.
    pub sequence_header: Option<Bytes>,
    /// The frame's tag body.
    pub frame: Bytes,
}

/// A frame taken back out of a video tag body, in the form a decoder takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoFrame {
    /// The coded frame (Annex-B for AVC/HEVC, an OBU temporal unit for AV1, the frame for
    /// VP8/VP9).
    pub data: Bytes,
    /// The tag said key frame (and for AVC/HEVC the parameter sets were prepended).
    pub keyframe: bool,
    /// pts - dts in milliseconds.
    pub composition_time: i32,
}

#[cfg(test)]
#[path = "enhanced_tests.rs"]
pub(crate) mod tests;

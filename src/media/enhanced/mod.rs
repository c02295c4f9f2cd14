//! FLV tag headers of Enhanced RTMP (v1 and v2: FourCC, ModEx, multitrack) as types, both
//! directions.
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
//! types are skipped. The legacy FLV video and audio headers (AVC codec id 7, the
//! widespread HEVC codec id 12, AAC, MP3, ...) are in [`legacy`](super::legacy).
//!
//! The module also holds what the codec modules share: the error type [`MediaError`], the
//! packager output types [`PackagedVideo`] / [`PackagedAudio`], and [`VideoFrame`], a frame
//! taken back out of a tag body.
//!
//! Video headers and bodies live in the private `video` submodule, audio ones and
//! [`MultichannelConfig`] in `audio`, and the v2 multitrack layout ([`Track`]) in
//! `multitrack`; their public items are re-exported here.

use bytes::{BufMut, Bytes};

mod audio;
mod multitrack;
mod video;

pub use audio::{ChannelLayout, ExAudioHeader, ExAudioTag, MultichannelConfig};
pub use multitrack::Track;
pub use video::{ExVideoHeader, ExVideoTag};

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
    /// A presentation or decode time that an FLV tag cannot carry (tags hold 0..2^32 ms).
    #[error("{what} {ms} ms is negative or past 2^32 ms: shift timestamps so they start at 0")]
    TimestampOutOfRange { what: &'static str, ms: i64 },
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

/// The IsExHeader bit of a video tag's first byte.
pub(crate) const EX_VIDEO_FLAG: u8 = 0x80;
const SOUND_FORMAT_EX: u8 = 9;
const PACKET_MOD_EX: u8 = 7;
const VIDEO_MULTITRACK: u8 = 6;
const AUDIO_MULTITRACK: u8 = 5;
const MOD_EX_TIMESTAMP_OFFSET_NANO: u8 = 0;

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

pub(crate) fn put_u24(out: &mut impl BufMut, v: u32) {
    out.put_slice(&v.to_be_bytes()[1..]);
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

/// The configuration record a packager sent last as a sequence header: it sends one
/// again only when the record changes.
#[derive(Debug, Clone, Default)]
pub(crate) struct SentRecord(Option<Bytes>);

impl SentRecord {
    /// `record` if it differs from the one sent last, which it then is; `None` if not.
    pub(crate) fn update(&mut self, record: Bytes) -> Option<Bytes> {
        if self.0.as_ref() == Some(&record) {
            return None;
        }
        self.0 = Some(record.clone());
        Some(record)
    }
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
pub(crate) mod tests;

//! VP9 and VP8 packaging: encoder frames (a VP9 frame or superframe, a VP8 frame) to
//! Enhanced RTMP `vp09` / `vp08` tag bodies, and back.
//!
//! ```text
//! vpcC body = version:8 = 1, flags:24 = 0            (the FullBox header, as ffmpeg writes it)
//!             profile:8 level:8 (bitDepth:4 chromaSubsampling:3 videoFullRangeFlag:1)
//!             colourPrimaries:8 transferCharacteristics:8 matrixCoefficients:8
//!             codecInitializationDataSize:16 = 0
//! frame     = ExVideoTagHeader "vp09"/"vp08" CodedFrames, then the frame as the encoder made it
//! ```
//!
//! [`VpxPackager`] fills the VPCodecConfigurationRecord (VP codec ISO binding v1.0) from the
//! first key frame's uncompressed header: profile, bit depth, chroma subsampling (4:2:0 is
//! written as 1, "colocated with luma", as ffmpeg does when the siting is unknown), the
//! full-range flag, and the matrix coefficients implied by VP9's color_space. Colour
//! primaries and transfer characteristics are not in a VP9 header and stay 2
//! (unspecified) unless set with [`VpxPackager::with_colour`]. The level is derived from
//! the picture size (and the frame rate, if given) with the VP9 level table, as ffmpeg does.
//! VP8 frames give profile (version) and size; the rest are defaults (8-bit 4:2:0, limited
//! range). A sequence header is emitted on the first key frame and whenever the record
//! changes. Key frames: frame_type 0 in the first frame of a VP9 superframe; the key-frame
//! bit of the VP8 frame tag.

use bytes::{BufMut, Bytes};

use super::enhanced::{
    ExVideoHeader, FourCc, MediaError, PackagedVideo, Result, SentRecord, VideoFrame,
    VideoFrameType, VideoPacketType,
};
use super::nal::BitReader;

/// Which VP codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VpxCodec {
    Vp8,
    Vp9,
}

impl VpxCodec {
    pub fn fourcc(self) -> FourCc {
        match self {
            VpxCodec::Vp8 => FourCc::VP08,
            VpxCodec::Vp9 => FourCc::VP09,
        }
    }
}

/// The start of a VP9 uncompressed header (VP9 bitstream specification 6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vp9FrameHeader {
    pub profile: u8,
    pub show_existing_frame: bool,
    pub keyframe: bool,
    pub show_frame: bool,
    pub intra_only: bool,
    /// The rest is known for key frames (and intra-only frames of profile > 0).
    pub bit_depth: u8,
    /// 0 unknown, 1 BT.601, 2 BT.709, 3 SMPTE-170, 4 SMPTE-240, 5 BT.2020, 7 sRGB.
    pub color_space: u8,
    pub full_range: bool,
    pub subsampling_x: bool,
    pub subsampling_y: bool,
    pub width: u32,
    pub height: u32,
}

const VP9_SYNC_CODE: u32 = 0x49_8342;
const CS_RGB: u8 = 7;

impl Vp9FrameHeader {
    /// Parses the uncompressed header of one frame (not a superframe; see
    /// [`vp9_frames`]).
    pub fn parse(frame: &[u8]) -> Result<Vp9FrameHeader> {
        let mut r = BitReader::new(frame, "VP9 uncompressed header");
        if r.bits(2)? != 2 {
            return Err(MediaError::Invalid("VP9 frame_marker"));
        }
        let low = r.bits(1)?;
        let profile = (r.bits(1)? << 1 | low) as u8;
        if profile == 3 {
            r.skip(1)?;
        }
        let mut h = Vp9FrameHeader {
            profile,
            show_existing_frame: r.bit()?,
            keyframe: false,
            show_frame: true,
            intra_only: false,
            bit_depth: 8,
            color_space: 1,
            full_range: false,
            subsampling_x: true,
            subsampling_y: true,
            width: 0,
            height: 0,
        };
        if h.show_existing_frame {
            return Ok(h);
        }
        h.keyframe = !r.bit()?;
        h.show_frame = r.bit()?;
        let error_resilient = r.bit()?;
        if !h.keyframe {
            h.intra_only = !h.show_frame && r.bit()?;
            if !error_resilient {
                r.skip(2)?; // reset_frame_context
            }
            if !h.intra_only {
                return Ok(h);
            }
        }
        if r.bits(24)? != VP9_SYNC_CODE {
            return Err(MediaError::Invalid("VP9 frame_sync_code"));
        }
        if h.keyframe || profile > 0 {
            h.read_color_config(&mut r)?;
        }
        if h.intra_only {
            r.skip(8)?; // refresh_frame_flags
        }
        h.width = r.bits(16)? + 1;
        h.height = r.bits(16)? + 1;
        Ok(h)
    }

    fn read_color_config(&mut self, r: &mut BitReader<'_>) -> Result<()> {
        if self.profile >= 2 {
            self.bit_depth = if r.bit()? { 12 } else { 10 };
        }
        self.color_space = r.bits(3)? as u8;
        let odd_profile = self.profile == 1 || self.profile == 3;
        if self.color_space != CS_RGB {
            self.full_range = r.bit()?;
            if odd_profile {
                self.subsampling_x = r.bit()?;
                self.subsampling_y = r.bit()?;
                r.skip(1)?;
            }
        } else {
            self.full_range = true;
            if odd_profile {
                (self.subsampling_x, self.subsampling_y) = (false, false);
                r.skip(1)?;
            }
        }
        Ok(())
    }
}

/// The frames of a VP9 packet: the frames of a superframe (by its index), or the packet
/// itself. An index whose sizes do not add up is treated as no index.
pub fn vp9_frames(data: &[u8]) -> Vec<&[u8]> {
    let Some(&marker) = data.last() else {
        return Vec::new();
    };
    if marker & 0xE0 == 0xC0 {
        let count = (marker & 7) as usize + 1;
        let size_bytes = ((marker >> 3) & 3) as usize + 1;
        let index_len = 2 + size_bytes * count;
        if data.len() >= index_len && data[data.len() - index_len] == marker {
            let index = &data[data.len() - index_len + 1..data.len() - 1];
            let mut frames = Vec::with_capacity(count);
            let mut pos = 0usize;
            for size in index.chunks(size_bytes) {
                let len = size.iter().rev().fold(0usize, |a, &b| a << 8 | b as usize);
                match data.get(pos..pos + len) {
                    Some(f) if pos + len <= data.len() - index_len => frames.push(f),
                    _ => return vec![data],
                }
                pos += len;
            }
            return frames;
        }
    }
    vec![data]
}

/// The VP8 frame tag and, for key frames, the picture size (RFC 6386 9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vp8FrameHeader {
    pub keyframe: bool,
    /// The version number (0-3), which vpcC calls the profile.
    pub version: u8,
    pub show_frame: bool,
    pub width: u16,
    pub height: u16,
}

impl Vp8FrameHeader {
    pub fn parse(frame: &[u8]) -> Result<Vp8FrameHeader> {
        let tag = frame
            .get(..3)
            .ok_or(MediaError::Truncated("VP8 frame tag"))?;
        let mut h = Vp8FrameHeader {
            keyframe: tag[0] & 1 == 0,
            version: (tag[0] >> 1) & 7,
            show_frame: tag[0] & 0x10 != 0,
            width: 0,
            height: 0,
        };
        if h.keyframe {
            let k = frame
                .get(3..10)
                .ok_or(MediaError::Truncated("VP8 key frame header"))?;
            if k[..3] != [0x9D, 0x01, 0x2A] {
                return Err(MediaError::Invalid("VP8 key frame start code"));
            }
            h.width = u16::from_le_bytes([k[3], k[4]]) & 0x3FFF;
            h.height = u16::from_le_bytes([k[5], k[6]]) & 0x3FFF;
        }
        Ok(h)
    }
}

/// The VP9 level (10 = 1.0 ... 62 = 6.2) for a picture size and, if known, frame rate:
/// the lowest level whose maximum picture size and luma sample rate both fit; 0 when
/// nothing fits. Without a frame rate only the picture size counts (as in ffmpeg's vpcC).
pub fn vp9_level(width: u32, height: u32, frame_rate: Option<f64>) -> u8 {
    const LEVELS: [(u8, u64, u64); 14] = [
        (10, 829_440, 36_864),
        (11, 2_764_800, 73_728),
        (20, 4_608_000, 122_880),
        (21, 9_216_000, 245_760),
        (30, 20_736_000, 552_960),
        (31, 36_864_000, 983_040),
        (40, 83_558_400, 2_228_224),
        (41, 160_432_128, 2_228_224),
        (50, 311_951_360, 8_912_896),
        (51, 588_251_136, 8_912_896),
        (52, 1_176_502_272, 8_912_896),
        (60, 1_176_502_272, 35_651_584),
        (61, 2_353_004_544, 35_651_584),
        (62, 4_706_009_088, 35_651_584),
    ];
    let size = width as u64 * height as u64;
    let rate = frame_rate.map_or(0, |f| (size as f64 * f.max(0.0)) as u64);
    if size == 0 {
        return 0;
    }
    LEVELS
        .iter()
        .find(|&&(_, max_rate, max_size)| rate <= max_rate && size <= max_size)
        .map_or(0, |l| l.0)
}

/// A VPCodecConfigurationRecord (vpcC, version 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpxConfig {
    pub profile: u8,
    pub level: u8,
    pub bit_depth: u8,
    /// 0 4:2:0 vertical, 1 4:2:0 colocated with luma, 2 4:2:2, 3 4:4:4.
    pub chroma_subsampling: u8,
    pub full_range: bool,
    pub colour_primaries: u8,
    pub transfer_characteristics: u8,
    pub matrix_coefficients: u8,
    pub codec_init_data: Bytes,
}

impl VpxConfig {
    /// Parses a sequence-start payload: the 4-byte FullBox header (version 1) and the
    /// record. Version 0 records are [`MediaError::Unsupported`].
    pub fn parse(payload: &[u8]) -> Result<VpxConfig> {
        let b = payload.get(..12).ok_or(MediaError::Truncated("vpcC"))?;
        if b[0] != 1 {
            return Err(MediaError::Unsupported("vpcC version other than 1"));
        }
        let init_len = u16::from_be_bytes([b[10], b[11]]) as usize;
        let init = payload
            .get(12..12 + init_len)
            .ok_or(MediaError::Truncated("vpcC init data"))?;
        Ok(VpxConfig {
            profile: b[4],
            level: b[5],
            bit_depth: b[6] >> 4,
            chroma_subsampling: (b[6] >> 1) & 7,
            full_range: b[6] & 1 != 0,
            colour_primaries: b[7],
            transfer_characteristics: b[8],
            matrix_coefficients: b[9],
            codec_init_data: Bytes::copy_from_slice(init),
        })
    }

    /// Appends the FullBox header and the record.
    pub fn write(&self, out: &mut impl BufMut) {
        out.put_u32(1 << 24); // version 1, flags 0
        out.put_u8(self.profile);
        out.put_u8(self.level);
        out.put_u8(
            self.bit_depth << 4 | (self.chroma_subsampling & 7) << 1 | self.full_range as u8,
        );
        out.put_u8(self.colour_primaries);
        out.put_u8(self.transfer_characteristics);
        out.put_u8(self.matrix_coefficients);
        let init = &self.codec_init_data[..self.codec_init_data.len().min(u16::MAX as usize)];
        out.put_u16(init.len() as u16);
        out.put_slice(init);
    }

    /// The FullBox header and record as bytes.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::with_capacity(12 + self.codec_init_data.len());
        self.write(&mut out);
        out.into()
    }
}

/// ISO/IEC 23001-8 matrix coefficients for a VP9 color_space.
fn vp9_matrix(color_space: u8) -> u8 {
    match color_space {
        1 => 5, // BT.601 (625)
        2 => 1, // BT.709
        3 => 6, // SMPTE 170M
        4 => 7, // SMPTE 240M
        5 => 9, // BT.2020 non-constant
        7 => 0, // identity (RGB)
        _ => 2, // unspecified
    }
}

/// Turns VP9 or VP8 frames from an encoder into Enhanced RTMP tag bodies.
#[derive(Debug, Clone)]
pub struct VpxPackager {
    codec: VpxCodec,
    frame_rate: Option<f64>,
    colour: Option<(u8, u8)>,
    config: Option<VpxConfig>,
    sent: SentRecord,
}

impl VpxPackager {
    /// A VP9 (`vp09`) packager.
    pub fn vp9() -> Self {
        Self::new(VpxCodec::Vp9)
    }

    /// A VP8 (`vp08`) packager.
    pub fn vp8() -> Self {
        Self::new(VpxCodec::Vp8)
    }

    fn new(codec: VpxCodec) -> Self {
        VpxPackager {
            codec,
            frame_rate: None,
            colour: None,
            config: None,
            sent: SentRecord::default(),
        }
    }

    /// Takes the frame rate into the level computation.
    pub fn with_frame_rate(mut self, frames_per_second: f64) -> Self {
        self.frame_rate = Some(frames_per_second);
        self
    }

    /// Sets colour primaries and transfer characteristics (ISO/IEC 23001-8 codes), which the
    /// bitstream does not carry.
    pub fn with_colour(mut self, primaries: u8, transfer: u8) -> Self {
        self.colour = Some((primaries, transfer));
        self
    }

    /// The current record, once a key frame was seen.
    pub fn config(&self) -> Option<&VpxConfig> {
        self.config.as_ref()
    }

    /// Packages one encoded frame (for VP9 a frame or superframe). The tag timestamp is the
    /// frame's presentation time; VP8/VP9 have no composition offset.
    ///
    /// Fails with [`MediaError::MissingConfig`] for frames before the first key frame.
    pub fn package(&mut self, frame: &[u8]) -> Result<PackagedVideo> {
        let (keyframe, config) = match self.codec {
            VpxCodec::Vp9 => {
                let first = *vp9_frames(frame)
                    .first()
                    .ok_or(MediaError::Truncated("VP9 frame"))?;
                let h = Vp9FrameHeader::parse(first)?;
                (h.keyframe, h.keyframe.then(|| self.vp9_config(&h)))
            }
            VpxCodec::Vp8 => {
                let h = Vp8FrameHeader::parse(frame)?;
                let config = h.keyframe.then(|| VpxConfig {
                    profile: h.version.min(3),
                    level: vp9_level(h.width as u32, h.height as u32, self.frame_rate),
                    ..self.default_config()
                });
                (h.keyframe, config)
            }
        };
        if config.is_some() {
            self.config = config;
        }
        let Some(config) = &self.config else {
            return Err(MediaError::MissingConfig(
                "VP8/VP9 frame before the first key frame",
            ));
        };
        let fourcc = self.codec.fourcc();
        let sequence_header = self
            .sent
            .update(config.to_bytes())
            .map(|record| ExVideoHeader::sequence_start(fourcc).to_body(&record));
        let header = ExVideoHeader::coded_frames(fourcc, keyframe, 0);
        Ok(PackagedVideo {
            sequence_header,
            frame: Some(header.to_body(frame)),
            keyframe,
            composition_time: 0,
        })
    }

    /// The SequenceEnd body.
    pub fn end_of_sequence(&self) -> Bytes {
        ExVideoHeader::sequence_end(self.codec.fourcc()).to_body(&[])
    }

    fn default_config(&self) -> VpxConfig {
        let (primaries, transfer) = self.colour.unwrap_or((2, 2));
        VpxConfig {
            profile: 0,
            level: 0,
            bit_depth: 8,
            chroma_subsampling: 1,
            full_range: false,
            colour_primaries: primaries,
            transfer_characteristics: transfer,
            matrix_coefficients: 2,
            codec_init_data: Bytes::new(),
        }
    }

    fn vp9_config(&self, h: &Vp9FrameHeader) -> VpxConfig {
        let chroma_subsampling = match (h.subsampling_x, h.subsampling_y) {
            (true, true) => 1,
            (true, false) => 2,
            _ => 3,
        };
        VpxConfig {
            profile: h.profile,
            level: vp9_level(h.width, h.height, self.frame_rate),
            bit_depth: h.bit_depth,
            chroma_subsampling,
            full_range: h.full_range,
            matrix_coefficients: vp9_matrix(h.color_space),
            ..self.default_config()
        }
    }
}

/// Turns Enhanced RTMP `vp09`/`vp08` tag bodies back into frames for a decoder.
#[derive(Debug, Clone)]
pub struct VpxUnpacker {
    codec: VpxCodec,
    config: Option<VpxConfig>,
}

impl VpxUnpacker {
    pub fn new(codec: VpxCodec) -> Self {
        VpxUnpacker {
            codec,
            config: None,
        }
    }

    /// The last record received.
    pub fn config(&self) -> Option<&VpxConfig> {
        self.config.as_ref()
    }

    /// Takes one single-track tag body: a sequence start updates the record and returns
    /// `None`; coded frames return the frame as the encoder made it.
    pub fn push(&mut self, body: &Bytes) -> Result<Option<VideoFrame>> {
        let (h, start) = ExVideoHeader::parse(body)?;
        if h.packet_type == VideoPacketType::Metadata {
            return Ok(None);
        }
        if h.fourcc != self.codec.fourcc() {
            return Err(MediaError::Invalid("video FourCC for this VP codec"));
        }
        match h.packet_type {
            VideoPacketType::SequenceStart => {
                self.config = Some(VpxConfig::parse(&body[start..])?);
                Ok(None)
            }
            VideoPacketType::CodedFrames | VideoPacketType::CodedFramesX => Ok(Some(VideoFrame {
                data: body.slice(start..),
                keyframe: h.frame_type == VideoFrameType::Key,
                composition_time: 0,
            })),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
#[path = "vpx_tests.rs"]
mod tests;

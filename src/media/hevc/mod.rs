//! H.265/HEVC packaging: Annex-B access units to Enhanced RTMP `hvc1` tag bodies (or the
//! non-Adobe legacy codec id 12), and back to Annex-B.
//!
//! ```text
//! HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1)
//!   = 01 (profile_space:2 tier:1 profile_idc:5) compat_flags:32 constraint_flags:48 level:8
//!     (1111 min_spatial_segmentation_idc:12) (111111 parallelismType:2)
//!     (111111 chroma_format:2) (11111 luma_depth-8:3) (11111 chroma_depth-8:3)
//!     avgFrameRate:16 (constantFrameRate:2 numTemporalLayers:3 temporalIdNested:1
//!     lengthSizeMinusOne:2) numOfArrays:8
//!     { (array_completeness:1 0 NAL_unit_type:6) numNalus:16 { len:16 NAL unit } }
//! frame tag body = ExVideoTagHeader "hvc1" (CodedFrames + cts:si24 | CodedFramesX)
//!                  { u32 len, NAL unit }
//! ```
//!
//! [`HevcPackager`] keeps the VPS/SPS/PPS an encoder sends in-band and builds the record the
//! way ffmpeg does: the general profile/tier/level merged over every VPS and SPS
//! (profile_tier_level parsed from each), chroma format and bit depths from the SPS,
//! min_spatial_segmentation_idc from the SPS VUI, parallelismType from the PPS, the number
//! of temporal layers, avgFrameRate and constantFrameRate 0. One difference, on purpose:
//! array_completeness is 1 for the three parameter-set arrays, as ISO/IEC 14496-15 requires
//! for `hvc1`, since the packager removes them from the frames (ffmpeg writes 0). SEI NAL
//! units stay in the frames. Key frames are access units with an IRAP picture of types 16
//! to 21 (BLA, IDR, CRA).
//!
//! Parsing the VPS, SPS and PPS fields the record needs is in the private
//! `parameter_sets` submodule; its types are re-exported here.

use bytes::{BufMut, Bytes};

use super::enhanced::{
    Cursor, FourCc, MediaError, PackagedVideo, Result, SentRecord, VideoFrame, VideoTagFormat,
};
use super::legacy::CODEC_ID_HEVC;
use super::nal::{
    composition_time, length_prefixed, nal_payload_to_annexb, put_nal_list, split_annexb,
    NalPacket, NalTags, ParamSets,
};

mod parameter_sets;

use parameter_sets::parse_pps;
pub use parameter_sets::{HevcSps, HevcVps, ProfileTierLevel};

pub const NAL_VPS: u8 = 32;
pub const NAL_SPS: u8 = 33;
pub const NAL_PPS: u8 = 34;
pub const NAL_AUD: u8 = 35;
pub const NAL_SEI_PREFIX: u8 = 39;
pub const NAL_SEI_SUFFIX: u8 = 40;

/// How HEVC tag headers say so: Enhanced FourCC `hvc1`, or the non-Adobe legacy codec id 12.
const TAGS: NalTags = NalTags {
    legacy_codec_id: CODEC_ID_HEVC,
    fourcc: FourCc::HVC1,
};

/// The NAL unit type of an HEVC NAL unit (bits 1-6 of the first header byte).
pub fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| (b >> 1) & 0x3F)
}

/// True for the IRAP types a decoder can start at: BLA (16-18), IDR (19-20), CRA (21).
pub fn is_keyframe_nal(nal_type: u8) -> bool {
    (16..=21).contains(&nal_type)
}

/// One array of an [`HevcConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NalArray {
    pub completeness: bool,
    pub nal_type: u8,
    pub nalus: Vec<Bytes>,
}

/// An HEVCDecoderConfigurationRecord (hvcC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HevcConfig {
    pub general: ProfileTierLevel,
    pub min_spatial_segmentation_idc: u16,
    pub parallelism_type: u8,
    pub chroma_format_idc: u8,
    pub bit_depth_luma: u8,
    pub bit_depth_chroma: u8,
    pub avg_frame_rate: u16,
    pub constant_frame_rate: u8,
    pub num_temporal_layers: u8,
    pub temporal_id_nested: bool,
    /// Bytes of each NAL unit length in frames (this module writes 4).
    pub length_size: u8,
    pub arrays: Vec<NalArray>,
}

impl HevcConfig {
    /// Builds a record from VPS, SPS and PPS NAL units (see the module documentation for
    /// how each field is derived). Needs at least one of each.
    pub fn from_parameter_sets(vps: &[Bytes], sps: &[Bytes], pps: &[Bytes]) -> Result<Self> {
        if vps.is_empty() || sps.is_empty() || pps.is_empty() {
            return Err(MediaError::MissingConfig("HEVC VPS, SPS and PPS"));
        }
        let mut general = ProfileTierLevel {
            profile_compatibility_flags: u32::MAX,
            constraint_indicator_flags: 0xFFFF_FFFF_FFFF,
            ..Default::default()
        };
        let mut merge = |ptl: &ProfileTierLevel| {
            general.profile_space = ptl.profile_space;
            general.level_idc = if ptl.tier_flag && !general.tier_flag {
                ptl.level_idc
            } else {
                general.level_idc.max(ptl.level_idc)
            };
            general.tier_flag |= ptl.tier_flag;
            general.profile_idc = general.profile_idc.max(ptl.profile_idc);
            general.profile_compatibility_flags &= ptl.profile_compatibility_flags;
            general.constraint_indicator_flags &= ptl.constraint_indicator_flags;
        };
        let mut layers = 0;
        for nal in vps {
            let v = HevcVps::parse(nal)?;
            merge(&v.ptl);
            layers = layers.max(v.max_sub_layers);
        }
        let mut last = None;
        let mut min_spatial = u32::MAX;
        for nal in sps {
            let s = HevcSps::parse(nal)?;
            merge(&s.ptl);
            layers = layers.max(s.max_sub_layers);
            if let Some(m) = s.min_spatial_segmentation_idc {
                min_spatial = min_spatial.min(m as u32);
            }
            last = Some(s);
        }
        let last = last.ok_or(MediaError::MissingConfig("SPS"))?;
        let mut parallelism_type = 0;
        for nal in pps {
            parallelism_type = parse_pps(nal)?.1;
        }
        let min_spatial = if min_spatial > 4095 {
            0
        } else {
            min_spatial as u16
        };
        if min_spatial == 0 {
            parallelism_type = 0;
        }
        let array = |nal_type, nalus: &[Bytes]| NalArray {
            completeness: true,
            nal_type,
            nalus: nalus.to_vec(),
        };
        Ok(HevcConfig {
            general,
            min_spatial_segmentation_idc: min_spatial,
            parallelism_type,
            chroma_format_idc: last.chroma_format_idc,
            bit_depth_luma: last.bit_depth_luma,
            bit_depth_chroma: last.bit_depth_chroma,
            avg_frame_rate: 0,
            constant_frame_rate: 0,
            num_temporal_layers: layers,
            temporal_id_nested: last.temporal_id_nesting,
            length_size: 4,
            arrays: vec![
                array(NAL_VPS, vps),
                array(NAL_SPS, sps),
                array(NAL_PPS, pps),
            ],
        })
    }

    /// Parses a record (version 1).
    pub fn parse(record: &[u8]) -> Result<HevcConfig> {
        let mut c = Cursor::new(record, "HEVCDecoderConfigurationRecord");
        if c.u8()? != 1 {
            return Err(MediaError::Invalid("hvcC configurationVersion"));
        }
        let b = c.u8()?;
        let compat = c.take(4)?;
        let constraint = c.take(6)?;
        let general = ProfileTierLevel {
            profile_space: b >> 6,
            tier_flag: b & 0x20 != 0,
            profile_idc: b & 0x1F,
            profile_compatibility_flags: u32::from_be_bytes([
                compat[0], compat[1], compat[2], compat[3],
            ]),
            constraint_indicator_flags: constraint.iter().fold(0, |a, &x| a << 8 | x as u64),
            level_idc: c.u8()?,
        };
        let min_spatial_segmentation_idc = c.u16()? & 0x0FFF;
        let parallelism_type = c.u8()? & 3;
        let chroma_format_idc = c.u8()? & 3;
        let bit_depth_luma = (c.u8()? & 7) + 8;
        let bit_depth_chroma = (c.u8()? & 7) + 8;
        let avg_frame_rate = c.u16()?;
        let b = c.u8()?;
        let count = c.u8()?;
        let mut arrays = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let head = c.u8()?;
            let n = c.u16()? as usize;
            arrays.push(NalArray {
                completeness: head & 0x80 != 0,
                nal_type: head & 0x3F,
                nalus: c.nal_list(n)?,
            });
        }
        Ok(HevcConfig {
            general,
            min_spatial_segmentation_idc,
            parallelism_type,
            chroma_format_idc,
            bit_depth_luma,
            bit_depth_chroma,
            avg_frame_rate,
            constant_frame_rate: b >> 6,
            num_temporal_layers: (b >> 3) & 7,
            temporal_id_nested: b & 4 != 0,
            length_size: (b & 3) + 1,
            arrays,
        })
    }

    /// Appends the record.
    pub fn write(&self, out: &mut impl BufMut) {
        let g = &self.general;
        out.put_u8(1);
        out.put_u8((g.profile_space & 3) << 6 | (g.tier_flag as u8) << 5 | g.profile_idc & 0x1F);
        out.put_u32(g.profile_compatibility_flags);
        out.put_slice(&g.constraint_indicator_flags.to_be_bytes()[2..]);
        out.put_u8(g.level_idc);
        out.put_u16(0xF000 | self.min_spatial_segmentation_idc & 0x0FFF);
        out.put_u8(0xFC | self.parallelism_type & 3);
        out.put_u8(0xFC | self.chroma_format_idc & 3);
        out.put_u8(0xF8 | self.bit_depth_luma.saturating_sub(8) & 7);
        out.put_u8(0xF8 | self.bit_depth_chroma.saturating_sub(8) & 7);
        out.put_u16(self.avg_frame_rate);
        out.put_u8(
            (self.constant_frame_rate & 3) << 6
                | (self.num_temporal_layers & 7) << 3
                | (self.temporal_id_nested as u8) << 2
                | (self.length_size.clamp(1, 4) - 1),
        );
        let arrays = &self.arrays[..self.arrays.len().min(255)];
        out.put_u8(arrays.len() as u8);
        for a in arrays {
            out.put_u8((a.completeness as u8) << 7 | a.nal_type & 0x3F);
            let nalus = &a.nalus[..a.nalus.len().min(u16::MAX as usize)];
            out.put_u16(nalus.len() as u16);
            put_nal_list(out, nalus);
        }
    }

    /// The record as bytes.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::new();
        self.write(&mut out);
        out.into()
    }

    /// Every NAL unit of every array, in record order (VPS, SPS, PPS, then any SEI).
    pub fn parameter_sets(&self) -> impl Iterator<Item = &Bytes> {
        self.arrays.iter().flat_map(|a| a.nalus.iter())
    }
}

const KIND_VPS: usize = 0;
const KIND_SPS: usize = 1;
const KIND_PPS: usize = 2;

/// Turns HEVC access units from an encoder into FLV video tag bodies: Enhanced RTMP `hvc1`
/// by default, or legacy codec id 12 with [`with_format`](Self::with_format).
#[derive(Debug, Clone, Default)]
pub struct HevcPackager {
    format: VideoTagFormat,
    sets: ParamSets,
    config: Option<HevcConfig>,
    sent: SentRecord,
}

impl HevcPackager {
    /// An Enhanced RTMP (`hvc1`) packager.
    pub fn new() -> Self {
        Self::default()
    }

    /// A packager for `format` (Legacy means the non-Adobe codec id 12).
    pub fn with_format(format: VideoTagFormat) -> Self {
        HevcPackager {
            format,
            ..Default::default()
        }
    }

    /// The current configuration record, once VPS, SPS and PPS were seen.
    pub fn config(&self) -> Option<&HevcConfig> {
        self.config.as_ref()
    }

    /// Takes parameter sets delivered out of band: Annex-B VPS/SPS/PPS or an hvcC record
    /// (first byte 1). SEI NAL units among them (x265 puts some in its global header) are
    /// not kept. The next [`package`](Self::package) emits the sequence header.
    pub fn set_parameter_sets(&mut self, extradata: &[u8]) -> Result<()> {
        if extradata.first() == Some(&1) {
            let record = HevcConfig::parse(extradata)?;
            for nal in record.parameter_sets() {
                self.store(nal)?;
            }
        } else {
            for nal in split_annexb(extradata) {
                self.store(nal)?;
            }
        }
        self.rebuild()
    }

    /// Packages one access unit (Annex-B) with pts and dts in milliseconds; see
    /// [`AvcPackager::package`](super::avc::AvcPackager::package). VPS, SPS, PPS and access
    /// unit delimiters go into the record or nowhere; everything else into the frame.
    pub fn package(&mut self, access_unit: &[u8], pts: i64, dts: i64) -> Result<PackagedVideo> {
        let cts = composition_time(pts, dts)?;
        let mut frame_nals = Vec::new();
        let (mut keyframe, mut changed) = (false, false);
        for nal in split_annexb(access_unit) {
            match nal_type(nal) {
                NAL_VPS | NAL_SPS | NAL_PPS => changed |= self.store(nal)?,
                NAL_AUD => {}
                t => {
                    keyframe |= is_keyframe_nal(t);
                    frame_nals.push(nal);
                }
            }
        }
        if changed {
            self.rebuild()?;
        }
        if !frame_nals.is_empty() && self.config.is_none() {
            return Err(MediaError::MissingConfig("HEVC frame before VPS/SPS/PPS"));
        }
        let sequence_header = self.take_sequence_header();
        Ok(TAGS.packaged(self.format, sequence_header, &frame_nals, keyframe, cts))
    }

    /// The end-of-sequence body.
    pub fn end_of_sequence(&self) -> Bytes {
        TAGS.end_of_sequence(self.format)
    }

    fn store(&mut self, nal: &[u8]) -> Result<bool> {
        let (kind, id) = match nal_type(nal) {
            NAL_VPS => (KIND_VPS, HevcVps::parse(nal)?.id as u32),
            NAL_SPS => (KIND_SPS, HevcSps::parse(nal)?.id),
            NAL_PPS => (KIND_PPS, parse_pps(nal)?.0),
            _ => return Ok(false), // SEI in a record: kept by the record, not by us
        };
        if id > 63 || nal.len() > u16::MAX as usize {
            return Err(MediaError::Invalid("parameter set id or size"));
        }
        Ok(self.sets.insert(kind, id, nal))
    }

    fn rebuild(&mut self) -> Result<()> {
        let lists = [KIND_VPS, KIND_SPS, KIND_PPS].map(|k| self.sets.list(k));
        if lists.iter().all(|l| !l.is_empty()) {
            self.config = Some(HevcConfig::from_parameter_sets(
                &lists[0], &lists[1], &lists[2],
            )?);
        }
        Ok(())
    }

    fn take_sequence_header(&mut self) -> Option<Bytes> {
        let record = self.sent.update(self.config.as_ref()?.to_bytes())?;
        Some(TAGS.sequence_header(self.format, &record))
    }
}

/// Length-prefixed HEVC frame data to Annex-B with 4-byte start codes; on key frames every
/// NAL unit of the record (VPS, SPS, PPS, SEI arrays) goes first.
pub fn hvcc_to_annexb(payload: &[u8], config: &HevcConfig, keyframe: bool) -> Result<Vec<u8>> {
    let prefix = config.parameter_sets().filter(|_| keyframe);
    nal_payload_to_annexb(payload, config.length_size, prefix)
}

/// True if a length-prefixed payload holds an IRAP picture.
pub fn payload_has_keyframe(payload: &[u8], length_size: u8) -> Result<bool> {
    for nal in length_prefixed(payload, length_size) {
        if is_keyframe_nal(nal_type(nal?)) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Turns FLV video tag bodies (Enhanced `hvc1` or legacy codec id 12) back into Annex-B
/// frames for a decoder.
#[derive(Debug, Clone, Default)]
pub struct HevcUnpacker {
    config: Option<HevcConfig>,
}

impl HevcUnpacker {
    pub fn new() -> Self {
        Self::default()
    }

    /// The last configuration record received.
    pub fn config(&self) -> Option<&HevcConfig> {
        self.config.as_ref()
    }

    /// Takes one single-track tag body; like [`AvcUnpacker::push`](super::avc::AvcUnpacker::push).
    pub fn push(&mut self, body: &Bytes) -> Result<Option<VideoFrame>> {
        match TAGS.read(body)? {
            NalPacket::Config(record) => {
                self.config = Some(HevcConfig::parse(&record)?);
                Ok(None)
            }
            // No picture: nothing for a decoder (and no parameter sets to repeat).
            NalPacket::Frame { payload, .. } if payload.is_empty() => Ok(None),
            NalPacket::Frame {
                payload,
                keyframe,
                cts,
            } => {
                let config = self.config.as_ref().ok_or(MediaError::MissingConfig(
                    "HEVC frame before sequence header",
                ))?;
                Ok(Some(VideoFrame {
                    data: hvcc_to_annexb(&payload, config, keyframe)?.into(),
                    keyframe,
                    composition_time: cts,
                }))
            }
            NalPacket::Other => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests;

//! H.264/AVC packaging: Annex-B access units from an encoder to FLV tag bodies (legacy codec
//! id 7 or Enhanced RTMP `avc1`), and tag bodies back to Annex-B for a decoder.
//!
//! ```text
//! Annex-B        = { 00 00 01 | 00 00 00 01 } NAL unit ...   (emulation prevention kept)
//! AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1)
//!   = 01 profile compat level (111111 lengthSizeMinusOne:2) (111 numSPS:5)
//!     { u16 len, SPS } numPPS:u8 { u16 len, PPS }
//!     [ for the High family: (111111 chroma:2) (11111 lumaDepth-8:3) (11111 chromaDepth-8:3)
//!       numSPSExt:u8 { u16 len, SPSExt } ]
//! frame tag body = (frame type:4 | 7) 01 cts:si24 { u32 len, NAL unit }   (legacy)
//!                | ExVideoTagHeader "avc1" [cts:si24] { u32 len, NAL unit } (enhanced)
//! ```
//!
//! [`AvcPackager`] takes what an encoder emits (one access unit of Annex-B bytes with its
//! pts and dts), keeps the SPS/PPS/SPS-extension it sees, emits an
//! AVCDecoderConfigurationRecord whenever they appear or change, and turns the rest into a
//! frame body with 4-byte lengths (SPS, PPS, SPS extension and access unit delimiters
//! removed). [`AvcUnpacker`] goes back: it keeps the record from sequence headers and
//! returns Annex-B frames with the parameter sets in front of every key frame.
//!
//! The record carries the High-profile extension (chroma format, bit depths, SPS
//! extensions) for every profile whose SPS has those fields (100, 110, 122, 244, 44 and the
//! SVC/MVC profiles) and for 144, which ISO/IEC 14496-15 lists; that is what ffmpeg writes.
//!
//! The NAL-unit plumbing it shares with HEVC (Annex-B splitting, length-prefixed
//! iteration, the Exp-Golomb bit reader) is in [`nal`](super::nal).

use bytes::{BufMut, Bytes};

use super::enhanced::{
    Cursor, FourCc, MediaError, PackagedVideo, Result, SentRecord, VideoFrame, VideoTagFormat,
};
use super::legacy::CODEC_ID_AVC;
use super::nal::{
    composition_time, nal_payload_to_annexb, put_nal_list, remove_emulation_prevention,
    split_annexb, BitReader, NalPacket, NalTags, ParamSets,
};

/// NAL unit type of an IDR slice.
pub const NAL_IDR: u8 = 5;
/// NAL unit type of a sequence parameter set.
pub const NAL_SPS: u8 = 7;
/// NAL unit type of a picture parameter set.
pub const NAL_PPS: u8 = 8;
/// NAL unit type of an access unit delimiter.
pub const NAL_AUD: u8 = 9;
/// NAL unit type of a sequence parameter set extension.
pub const NAL_SPS_EXT: u8 = 13;

/// How H.264 tag headers say so: legacy codec id 7, Enhanced FourCC `avc1`.
const TAGS: NalTags = NalTags {
    legacy_codec_id: CODEC_ID_AVC,
    fourcc: FourCc::AVC1,
};

/// The NAL unit type of an H.264 NAL unit (0 for an empty slice).
pub fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| b & 0x1F)
}

// ---------------------------------------------------------------------------------------
// SPS and the configuration record.
// ---------------------------------------------------------------------------------------

/// Profiles whose SPS carries chroma_format_idc and bit depths.
fn high_family(profile_idc: u8) -> bool {
    matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 134 | 135 | 138 | 139
    )
}

/// Profiles for which the record carries the extension fields.
fn record_has_ext(profile_idc: u8) -> bool {
    high_family(profile_idc) || profile_idc == 144
}

/// The fields of an H.264 sequence parameter set the configuration record needs (parsing
/// stops after the bit depths).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvcSps {
    pub profile_idc: u8,
    /// The constraint_set flags byte (profile_compatibility in the record).
    pub constraint_flags: u8,
    pub level_idc: u8,
    pub id: u32,
    /// 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4 (1 unless the profile signals it).
    pub chroma_format_idc: u8,
    pub bit_depth_luma: u8,
    pub bit_depth_chroma: u8,
}

impl AvcSps {
    /// Parses an SPS NAL unit (header byte included, emulation prevention in place).
    pub fn parse(nal: &[u8]) -> Result<AvcSps> {
        if nal_type(nal) != NAL_SPS || nal.len() < 4 {
            return Err(MediaError::Invalid("SPS NAL unit"));
        }
        let rbsp = remove_emulation_prevention(&nal[1..]);
        let mut r = BitReader::new(&rbsp, "SPS");
        let mut sps = AvcSps {
            profile_idc: r.bits(8)? as u8,
            constraint_flags: r.bits(8)? as u8,
            level_idc: r.bits(8)? as u8,
            id: r.ue()?,
            chroma_format_idc: 1,
            bit_depth_luma: 8,
            bit_depth_chroma: 8,
        };
        if sps.id > 31 {
            return Err(MediaError::Invalid("seq_parameter_set_id"));
        }
        if high_family(sps.profile_idc) {
            let chroma = r.ue()?;
            if chroma > 3 {
                return Err(MediaError::Invalid("chroma_format_idc"));
            }
            if chroma == 3 {
                r.skip(1)?; // separate_colour_plane_flag
            }
            let (luma, chroma_depth) = (r.ue()?, r.ue()?);
            if luma > 6 || chroma_depth > 6 {
                return Err(MediaError::Invalid("SPS bit depth"));
            }
            sps.chroma_format_idc = chroma as u8;
            sps.bit_depth_luma = luma as u8 + 8;
            sps.bit_depth_chroma = chroma_depth as u8 + 8;
        }
        Ok(sps)
    }
}

/// The id of a PPS (pic_parameter_set_id) or SPS extension (seq_parameter_set_id): the
/// first ue(v) after the NAL header.
fn first_ue(nal: &[u8], what: &'static str) -> Result<u32> {
    let rbsp = remove_emulation_prevention(nal.get(1..).unwrap_or_default());
    BitReader::new(&rbsp, what).ue()
}

/// The High-profile fields of an [`AvcConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcConfigExt {
    pub chroma_format: u8,
    pub bit_depth_luma: u8,
    pub bit_depth_chroma: u8,
    pub sps_ext: Vec<Bytes>,
}

/// An AVCDecoderConfigurationRecord (avcC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcConfig {
    pub profile: u8,
    pub compatibility: u8,
    pub level: u8,
    /// Bytes of each NAL unit length in frames: 1, 2 or 4 (this module writes 4).
    pub length_size: u8,
    pub sps: Vec<Bytes>,
    pub pps: Vec<Bytes>,
    pub ext: Option<AvcConfigExt>,
}

impl AvcConfig {
    /// Builds a record from parameter set NAL units: profile, compatibility and level come
    /// from the first SPS, the extension fields from its parsed body. Sets are written in
    /// the order given (ascending id is what the specification asks for).
    pub fn from_parameter_sets(sps: &[Bytes], pps: &[Bytes], sps_ext: &[Bytes]) -> Result<Self> {
        let first = sps.first().ok_or(MediaError::MissingConfig("SPS"))?;
        if pps.is_empty() {
            return Err(MediaError::MissingConfig("PPS"));
        }
        if sps.len() > 31 || pps.len() > 255 || sps_ext.len() > 255 {
            return Err(MediaError::Invalid("parameter set count for avcC"));
        }
        let all = sps.iter().chain(pps).chain(sps_ext);
        if all.clone().any(|n| n.len() > u16::MAX as usize) {
            return Err(MediaError::Invalid("parameter set over 65535 bytes"));
        }
        let parsed = AvcSps::parse(first)?;
        let ext = record_has_ext(parsed.profile_idc).then(|| AvcConfigExt {
            chroma_format: parsed.chroma_format_idc,
            bit_depth_luma: parsed.bit_depth_luma,
            bit_depth_chroma: parsed.bit_depth_chroma,
            sps_ext: sps_ext.to_vec(),
        });
        Ok(AvcConfig {
            profile: parsed.profile_idc,
            compatibility: parsed.constraint_flags,
            level: parsed.level_idc,
            length_size: 4,
            sps: sps.to_vec(),
            pps: pps.to_vec(),
            ext,
        })
    }

    /// Parses a record. The extension is read for profiles other than 66, 77 and 88 when
    /// at least four bytes follow the PPS list (some writers omit it).
    pub fn parse(record: &[u8]) -> Result<AvcConfig> {
        let mut r = Cursor::new(record, "AVCDecoderConfigurationRecord");
        if r.u8()? != 1 {
            return Err(MediaError::Invalid("avcC configurationVersion"));
        }
        let profile = r.u8()?;
        let compatibility = r.u8()?;
        let level = r.u8()?;
        let length_size = (r.u8()? & 3) + 1;
        let sps_count = r.u8()? & 0x1F;
        let sps = r.nal_list(sps_count as usize)?;
        let pps_count = r.u8()?;
        let pps = r.nal_list(pps_count as usize)?;
        let mut ext = None;
        if !matches!(profile, 66 | 77 | 88) && r.remaining() >= 4 {
            let chroma_format = r.u8()? & 3;
            let bit_depth_luma = (r.u8()? & 7) + 8;
            let bit_depth_chroma = (r.u8()? & 7) + 8;
            let count = r.u8()?;
            ext = Some(AvcConfigExt {
                chroma_format,
                bit_depth_luma,
                bit_depth_chroma,
                sps_ext: r.nal_list(count as usize)?,
            });
        }
        Ok(AvcConfig {
            profile,
            compatibility,
            level,
            length_size,
            sps,
            pps,
            ext,
        })
    }

    /// Appends the record.
    pub fn write(&self, out: &mut impl BufMut) {
        out.put_slice(&[1, self.profile, self.compatibility, self.level]);
        out.put_u8(0xFC | (self.length_size.clamp(1, 4) - 1));
        out.put_u8(0xE0 | self.sps.len().min(31) as u8);
        put_nal_list(out, &self.sps[..self.sps.len().min(31)]);
        out.put_u8(self.pps.len().min(255) as u8);
        put_nal_list(out, &self.pps[..self.pps.len().min(255)]);
        if let Some(ext) = &self.ext {
            out.put_u8(0xFC | ext.chroma_format);
            out.put_u8(0xF8 | ext.bit_depth_luma.saturating_sub(8) & 7);
            out.put_u8(0xF8 | ext.bit_depth_chroma.saturating_sub(8) & 7);
            out.put_u8(ext.sps_ext.len().min(255) as u8);
            put_nal_list(out, &ext.sps_ext[..ext.sps_ext.len().min(255)]);
        }
    }

    /// The record as bytes.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::new();
        self.write(&mut out);
        out.into()
    }

    /// SPS, PPS and SPS extension NAL units, in that order.
    pub fn parameter_sets(&self) -> impl Iterator<Item = &Bytes> {
        let ext = self.ext.iter().flat_map(|e| e.sps_ext.iter());
        self.sps.iter().chain(&self.pps).chain(ext)
    }
}

// ---------------------------------------------------------------------------------------
// Packager and unpacker.
// ---------------------------------------------------------------------------------------

const KIND_SPS: usize = 0;
const KIND_PPS: usize = 1;
const KIND_SPS_EXT: usize = 2;

/// Turns H.264 access units from an encoder into FLV video tag bodies.
///
/// ```
/// use rtmp_core::media::avc::AvcPackager;
/// # fn main() -> Result<(), rtmp_core::media::enhanced::MediaError> {
/// // Constrained Baseline, 160x120, as x264 writes it.
/// let sps = b"\x67\x42\xc0\x0a\xd9\x02\x84\x7e\x5c\x04\x40\x00\x00\x03\x00\x40\x00\x00\x07\x83\xc4\x89\x92";
/// let pps = [0x68, 0xcb, 0x83, 0xcb, 0x20];
/// let idr = [0x65, 0x88, 0x84, 0x00, 0x33];
/// let mut access_unit = Vec::new();
/// for nal in [&sps[..], &pps[..], &idr[..]] {
///     access_unit.extend_from_slice(&[0, 0, 0, 1]);
///     access_unit.extend_from_slice(nal);
/// }
/// let mut packager = AvcPackager::new(); // legacy FLV, codec id 7
/// let out = packager.package(&access_unit, 40, 40)?;
/// // First the AVCDecoderConfigurationRecord, then the frame, both at dts 40.
/// let header = out.sequence_header.unwrap();
/// assert_eq!(&header[..6], [0x17, 0x00, 0, 0, 0, 0x01]);
/// let frame = out.frame.unwrap();
/// assert_eq!(&frame[..], [0x17, 0x01, 0, 0, 0, 0, 0, 0, 5, 0x65, 0x88, 0x84, 0x00, 0x33]);
/// assert!(out.keyframe);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct AvcPackager {
    format: VideoTagFormat,
    sets: ParamSets,
    config: Option<AvcConfig>,
    sent: SentRecord,
}

impl AvcPackager {
    /// A packager writing legacy FLV bodies (codec id 7), which every player understands.
    pub fn new() -> Self {
        Self::with_format(VideoTagFormat::Legacy)
    }

    /// A packager writing `format` (Enhanced: FourCC `avc1`, CodedFramesX when pts = dts).
    pub fn with_format(format: VideoTagFormat) -> Self {
        AvcPackager {
            format,
            ..Default::default()
        }
    }

    /// The current configuration record, once an SPS and a PPS were seen.
    pub fn config(&self) -> Option<&AvcConfig> {
        self.config.as_ref()
    }

    /// Takes parameter sets delivered out of band (an encoder's global header): Annex-B
    /// SPS/PPS, or an AVCDecoderConfigurationRecord (first byte 1). The next
    /// [`package`](Self::package) emits the sequence header.
    pub fn set_parameter_sets(&mut self, extradata: &[u8]) -> Result<()> {
        if extradata.first() == Some(&1) {
            let record = AvcConfig::parse(extradata)?;
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

    /// Packages one access unit (Annex-B, 3- or 4-byte start codes) with its presentation
    /// and decode timestamps in milliseconds. The tag timestamp for every body returned is
    /// `dts`; the frame carries `pts - dts` as composition time. A key frame is an access
    /// unit with an IDR slice.
    ///
    /// Fails with [`MediaError::MissingConfig`] for picture data before any SPS/PPS, and
    /// [`MediaError::CompositionTimeOutOfRange`] if `pts - dts` needs more than 24 bits.
    pub fn package(&mut self, access_unit: &[u8], pts: i64, dts: i64) -> Result<PackagedVideo> {
        let cts = composition_time(pts, dts)?;
        let mut frame_nals = Vec::new();
        let mut keyframe = false;
        let mut changed = false;
        for nal in split_annexb(access_unit) {
            match nal_type(nal) {
                NAL_SPS | NAL_PPS | NAL_SPS_EXT => changed |= self.store(nal)?,
                NAL_AUD => {}
                t => {
                    keyframe |= t == NAL_IDR;
                    frame_nals.push(nal);
                }
            }
        }
        if changed {
            self.rebuild()?;
        }
        if !frame_nals.is_empty() && self.config.is_none() {
            return Err(MediaError::MissingConfig("H.264 frame before SPS/PPS"));
        }
        let sequence_header = self.take_sequence_header();
        Ok(TAGS.packaged(self.format, sequence_header, &frame_nals, keyframe, cts))
    }

    /// The end-of-sequence body (legacy AVCPacketType 2, or SequenceEnd).
    pub fn end_of_sequence(&self) -> Bytes {
        TAGS.end_of_sequence(self.format)
    }

    fn store(&mut self, nal: &[u8]) -> Result<bool> {
        let (kind, id) = match nal_type(nal) {
            NAL_SPS => (KIND_SPS, AvcSps::parse(nal)?.id),
            NAL_PPS => (KIND_PPS, first_ue(nal, "PPS")?),
            _ => (KIND_SPS_EXT, first_ue(nal, "SPS extension")?),
        };
        if id > 255 || nal.len() > u16::MAX as usize {
            return Err(MediaError::Invalid("parameter set id or size"));
        }
        Ok(self.sets.insert(kind, id, nal))
    }

    fn rebuild(&mut self) -> Result<()> {
        let (sps, pps) = (self.sets.list(KIND_SPS), self.sets.list(KIND_PPS));
        if !sps.is_empty() && !pps.is_empty() {
            let ext = self.sets.list(KIND_SPS_EXT);
            self.config = Some(AvcConfig::from_parameter_sets(&sps, &pps, &ext)?);
        }
        Ok(())
    }

    /// The sequence header body if the record differs from the last one sent.
    fn take_sequence_header(&mut self) -> Option<Bytes> {
        let record = self.sent.update(self.config.as_ref()?.to_bytes())?;
        Some(TAGS.sequence_header(self.format, &record))
    }
}

/// Length-prefixed H.264 frame data (an AVCC sample, the payload of a frame tag) to
/// Annex-B with 4-byte start codes; on key frames the record's SPS, PPS and SPS
/// extensions go first.
pub fn avcc_to_annexb(payload: &[u8], config: &AvcConfig, keyframe: bool) -> Result<Vec<u8>> {
    let prefix = config.parameter_sets().filter(|_| keyframe);
    nal_payload_to_annexb(payload, config.length_size, prefix)
}

/// Turns FLV video tag bodies (legacy codec id 7 or Enhanced `avc1`) back into Annex-B
/// frames for a decoder.
#[derive(Debug, Clone, Default)]
pub struct AvcUnpacker {
    config: Option<AvcConfig>,
}

impl AvcUnpacker {
    pub fn new() -> Self {
        Self::default()
    }

    /// The last configuration record received.
    pub fn config(&self) -> Option<&AvcConfig> {
        self.config.as_ref()
    }

    /// Takes one single-track tag body. A sequence header updates the configuration and
    /// returns `None`, as do end of sequence, metadata and command frames. A frame returns
    /// Annex-B data, with the parameter sets in front when the tag says key frame.
    pub fn push(&mut self, body: &Bytes) -> Result<Option<VideoFrame>> {
        match TAGS.read(body)? {
            NalPacket::Config(record) => {
                self.config = Some(AvcConfig::parse(&record)?);
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
                    "H.264 frame before sequence header",
                ))?;
                Ok(Some(VideoFrame {
                    data: avcc_to_annexb(&payload, config, keyframe)?.into(),
                    keyframe,
                    composition_time: cts,
                }))
            }
            NalPacket::Other => Ok(None),
        }
    }
}

#[cfg(test)]
#[path = "avc_tests.rs"]
mod tests;

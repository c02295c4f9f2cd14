//! AV1 packaging: temporal units in the low-overhead OBU format (what encoders emit, with
//! temporal delimiters and size fields) to Enhanced RTMP `av01` tag bodies, and back.
//!
//! ```text
//! OBU     = (0 type:4 extension:1 has_size:1 0) [temporal_id:3 spatial_id:2 000] [leb128 size] payload
//! av1C    = (1 version=1:7) (seq_profile:3 seq_level_idx_0:5)
//!           (tier:1 high_bitdepth:1 twelve_bit:1 monochrome:1 subsampling_x:1 subsampling_y:1
//!            chroma_sample_position:2) (000 delay_present:1 delay_minus_one:4) configOBUs
//! frame   = ExVideoTagHeader "av01" CodedFrames, then the temporal unit's OBUs
//! ```
//!
//! [`Av1Packager`] builds the AV1CodecConfigurationRecord (AV1-ISOBMFF 2.3) from the
//! sequence header OBU, whose bytes become configOBUs (always with a size field), and emits
//! it as a SequenceStart whenever the sequence header appears or changes. Frames carry the
//! temporal unit without its temporal delimiter OBUs (as ISOBMFF samples do; ffmpeg keeps
//! them in FLV). Sequence headers repeated in key frames stay in the frame.
//!
//! Key frames: a temporal unit is a key frame when its first frame header (OBU_FRAME or
//! OBU_FRAME_HEADER) has frame_type KEY_FRAME and show_frame set, i.e. a random access point
//! (a reduced still-picture header always is). The presence of a sequence header is not
//! used: encoders may repeat it anywhere. A hidden key frame shown later by
//! show_existing_frame (a "delayed random access point") is not flagged.

use bytes::{BufMut, Bytes};

use super::enhanced::{
    ExVideoHeader, FourCc, MediaError, PackagedVideo, Result, SentRecord, VideoFrame,
    VideoFrameType, VideoPacketType,
};
use super::nal::BitReader;

pub const OBU_SEQUENCE_HEADER: u8 = 1;
pub const OBU_TEMPORAL_DELIMITER: u8 = 2;
pub const OBU_FRAME_HEADER: u8 = 3;
pub const OBU_FRAME: u8 = 6;

/// One OBU of a low-overhead stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Obu<'a> {
    pub obu_type: u8,
    /// temporal_id and spatial_id, when the extension header is present.
    pub extension: Option<(u8, u8)>,
    /// The whole OBU: header, size field (if any) and payload.
    pub raw: &'a [u8],
    /// The payload alone.
    pub payload: &'a [u8],
}

/// Reads a leb128 value (at most 8 bytes, value below 2^32); returns it and its length.
pub fn read_leb128(data: &[u8]) -> Result<(u64, usize)> {
    let mut value = 0u64;
    for i in 0..8 {
        let b = *data.get(i).ok_or(MediaError::Truncated("leb128"))?;
        value |= ((b & 0x7F) as u64) << (7 * i);
        if b & 0x80 == 0 {
            if value > u32::MAX as u64 {
                return Err(MediaError::Invalid("leb128 over 2^32 - 1"));
            }
            return Ok((value, i + 1));
        }
    }
    Err(MediaError::Invalid("leb128 longer than 8 bytes"))
}

/// Appends `value` as leb128 (minimal length).
pub fn write_leb128(out: &mut impl BufMut, mut value: u64) {
    loop {
        let b = (value & 0x7F) as u8;
        value >>= 7;
        if value == 0 {
            out.put_u8(b);
            return;
        }
        out.put_u8(b | 0x80);
    }
}

/// Iterates the OBUs of a low-overhead stream or temporal unit. An OBU without a size
/// field runs to the end of the data. A malformed OBU yields one error and ends iteration.
pub fn obus(data: &[u8]) -> Obus<'_> {
    Obus { data }
}

/// The iterator [`obus`] returns.
#[derive(Debug, Clone)]
pub struct Obus<'a> {
    data: &'a [u8],
}

impl<'a> Iterator for Obus<'a> {
    type Item = Result<Obu<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.data.is_empty() {
            return None;
        }
        let result = parse_obu(self.data);
        match &result {
            Ok(obu) => self.data = &self.data[obu.raw.len()..],
            Err(_) => self.data = &[],
        }
        Some(result)
    }
}

fn parse_obu(data: &[u8]) -> Result<Obu<'_>> {
    let h = data[0];
    if h & 0x80 != 0 {
        return Err(MediaError::Invalid("OBU forbidden bit"));
    }
    let mut pos = 1;
    let extension = if h & 0x04 != 0 {
        let e = *data
            .get(1)
            .ok_or(MediaError::Truncated("OBU extension header"))?;
        pos = 2;
        Some((e >> 5, (e >> 3) & 3))
    } else {
        None
    };
    let size = if h & 0x02 != 0 {
        let (size, n) = read_leb128(&data[pos..])?;
        pos += n;
        size as usize
    } else {
        data.len() - pos
    };
    let end = pos
        .checked_add(size)
        .filter(|&e| e <= data.len())
        .ok_or(MediaError::Truncated("OBU payload"))?;
    Ok(Obu {
        obu_type: (h >> 3) & 0x0F,
        extension,
        raw: &data[..end],
        payload: &data[pos..end],
    })
}

/// `obu` rewritten with a size field if it has none.
fn with_size_field(obu: &Obu<'_>) -> Vec<u8> {
    if obu.raw[0] & 0x02 != 0 {
        return obu.raw.to_vec();
    }
    let header_len = 1 + obu.extension.is_some() as usize;
    let mut out = Vec::with_capacity(obu.raw.len() + 5);
    out.push(obu.raw[0] | 0x02);
    out.extend_from_slice(&obu.raw[1..header_len]);
    write_leb128(&mut out, obu.payload.len() as u64);
    out.extend_from_slice(obu.payload);
    out
}

/// The sequence header fields av1C repeats, plus what key-frame detection needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceHeader {
    pub seq_profile: u8,
    pub still_picture: bool,
    pub reduced_still_picture_header: bool,
    /// For operating point 0.
    pub seq_level_idx_0: u8,
    pub seq_tier_0: bool,
    /// initial_display_delay_minus_1 of operating point 0, when present.
    pub initial_display_delay_minus_one: Option<u8>,
    pub max_frame_width: u32,
    pub max_frame_height: u32,
    pub bit_depth: u8,
    pub monochrome: bool,
    pub subsampling_x: bool,
    pub subsampling_y: bool,
    pub chroma_sample_position: u8,
    pub color_primaries: u8,
    pub transfer_characteristics: u8,
    pub matrix_coefficients: u8,
    pub full_range: bool,
}

impl SequenceHeader {
    /// Parses a sequence header OBU payload (AV1 spec 5.5), through color_config().
    pub fn parse(payload: &[u8]) -> Result<SequenceHeader> {
        let mut r = BitReader::new(payload, "AV1 sequence header");
        let seq_profile = r.bits(3)? as u8;
        if seq_profile > 2 {
            return Err(MediaError::Invalid("seq_profile"));
        }
        let still_picture = r.bit()?;
        let reduced = r.bit()?;
        let (mut level, mut tier, mut delay) = (0, false, None);
        if reduced {
            level = r.bits(5)? as u8;
        } else {
            let mut decoder_model = false;
            let mut buffer_delay_len = 0;
            if r.bit()? {
                // timing_info
                r.skip(64)?;
                if r.bit()? {
                    let mut zeros = 0;
                    while !r.bit()? {
                        zeros += 1;
                        if zeros >= 32 {
                            return Err(MediaError::Invalid("uvlc"));
                        }
                    }
                    r.skip(zeros)?; // num_ticks_per_picture_minus_1
                }
                decoder_model = r.bit()?;
                if decoder_model {
                    buffer_delay_len = r.bits(5)? as usize + 1;
                    r.skip(32 + 5 + 5)?;
                }
            }
            let display_delay_present = r.bit()?;
            let points = r.bits(5)? + 1;
            for i in 0..points {
                r.skip(12)?; // operating_point_idc
                let idx = r.bits(5)? as u8;
                let t = idx > 7 && r.bit()?;
                if decoder_model && r.bit()? {
                    r.skip(2 * buffer_delay_len + 1)?;
                }
                let mut d = None;
                if display_delay_present && r.bit()? {
                    d = Some(r.bits(4)? as u8);
                }
                if i == 0 {
                    (level, tier, delay) = (idx, t, d);
                }
            }
        }
        let width_bits = r.bits(4)? + 1;
        let height_bits = r.bits(4)? + 1;
        let max_frame_width = r.bits(width_bits)? + 1;
        let max_frame_height = r.bits(height_bits)? + 1;
        if !reduced && r.bit()? {
            r.skip(7)?; // delta_frame_id_length_minus_2, additional_frame_id_length_minus_1
        }
        r.skip(3)?; // use_128x128_superblock, enable_filter_intra, enable_intra_edge_filter
        if !reduced {
            r.skip(4)?; // interintra, masked compound, warped motion, dual filter
            let order_hint = r.bit()?;
            if order_hint {
                r.skip(2)?; // enable_jnt_comp, enable_ref_frame_mvs
            }
            let force_screen_content = if r.bit()? { 2 } else { r.bits(1)? };
            if force_screen_content > 0 && !r.bit()? {
                r.skip(1)?; // seq_force_integer_mv
            }
            if order_hint {
                r.skip(3)?;
            }
        }
        r.skip(3)?; // enable_superres, enable_cdef, enable_restoration
        let mut header = SequenceHeader {
            seq_profile,
            still_picture,
            reduced_still_picture_header: reduced,
            seq_level_idx_0: level,
            seq_tier_0: tier,
            initial_display_delay_minus_one: delay,
            max_frame_width,
            max_frame_height,
            bit_depth: 8,
            monochrome: false,
            subsampling_x: true,
            subsampling_y: true,
            chroma_sample_position: 0,
            color_primaries: 2,
            transfer_characteristics: 2,
            matrix_coefficients: 2,
            full_range: false,
        };
        header.parse_color_config(&mut r)?;
        Ok(header)
    }

    fn parse_color_config(&mut self, r: &mut BitReader<'_>) -> Result<()> {
        let high = r.bit()?;
        self.bit_depth = match (self.seq_profile, high) {
            (2, true) => {
                if r.bit()? {
                    12
                } else {
                    10
                }
            }
            (_, true) => 10,
            _ => 8,
        };
        self.monochrome = self.seq_profile != 1 && r.bit()?;
        if r.bit()? {
            self.color_primaries = r.bits(8)? as u8;
            self.transfer_characteristics = r.bits(8)? as u8;
            self.matrix_coefficients = r.bits(8)? as u8;
        }
        if self.monochrome {
            self.full_range = r.bit()?;
            return Ok(());
        }
        let srgb = (
            self.color_primaries,
            self.transfer_characteristics,
            self.matrix_coefficients,
        ) == (1, 13, 0);
        if srgb {
            self.full_range = true;
            (self.subsampling_x, self.subsampling_y) = (false, false);
            return Ok(());
        }
        self.full_range = r.bit()?;
        (self.subsampling_x, self.subsampling_y) = match self.seq_profile {
            0 => (true, true),
            1 => (false, false),
            _ if self.bit_depth == 12 => {
                let x = r.bit()?;
                (x, x && r.bit()?)
            }
            _ => (true, false),
        };
        if self.subsampling_x && self.subsampling_y {
            self.chroma_sample_position = r.bits(2)? as u8;
        }
        Ok(())
    }
}

/// An AV1CodecConfigurationRecord (av1C).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Av1Config {
    pub seq_profile: u8,
    pub seq_level_idx_0: u8,
    pub seq_tier_0: bool,
    pub high_bitdepth: bool,
    pub twelve_bit: bool,
    pub monochrome: bool,
    pub chroma_subsampling_x: bool,
    pub chroma_subsampling_y: bool,
    pub chroma_sample_position: u8,
    pub initial_presentation_delay_minus_one: Option<u8>,
    /// The sequence header OBU (and any metadata OBUs), low-overhead format.
    pub config_obus: Bytes,
}

impl Av1Config {
    /// The record for a sequence header OBU (header included). The presentation delay is
    /// left absent (it describes the muxed stream, not the sequence header).
    pub fn from_sequence_header(obu: &[u8]) -> Result<Av1Config> {
        let parsed = parse_obu(
            obu.get(..)
                .filter(|o| !o.is_empty())
                .ok_or(MediaError::Truncated("OBU"))?,
        )?;
        if parsed.obu_type != OBU_SEQUENCE_HEADER {
            return Err(MediaError::Invalid("sequence header OBU type"));
        }
        let h = SequenceHeader::parse(parsed.payload)?;
        Ok(Av1Config {
            seq_profile: h.seq_profile,
            seq_level_idx_0: h.seq_level_idx_0,
            seq_tier_0: h.seq_tier_0,
            high_bitdepth: h.bit_depth > 8,
            twelve_bit: h.bit_depth == 12,
            monochrome: h.monochrome,
            chroma_subsampling_x: h.subsampling_x,
            chroma_subsampling_y: h.subsampling_y,
            chroma_sample_position: h.chroma_sample_position,
            initial_presentation_delay_minus_one: None,
            config_obus: with_size_field(&parsed).into(),
        })
    }

    /// Parses a record (marker 1, version 1).
    pub fn parse(record: &[u8]) -> Result<Av1Config> {
        let b = record.get(..4).ok_or(MediaError::Truncated("av1C"))?;
        if b[0] != 0x81 {
            return Err(MediaError::Invalid("av1C marker/version"));
        }
        Ok(Av1Config {
            seq_profile: b[1] >> 5,
            seq_level_idx_0: b[1] & 0x1F,
            seq_tier_0: b[2] & 0x80 != 0,
            high_bitdepth: b[2] & 0x40 != 0,
            twelve_bit: b[2] & 0x20 != 0,
            monochrome: b[2] & 0x10 != 0,
            chroma_subsampling_x: b[2] & 0x08 != 0,
            chroma_subsampling_y: b[2] & 0x04 != 0,
            chroma_sample_position: b[2] & 3,
            initial_presentation_delay_minus_one: (b[3] & 0x10 != 0).then_some(b[3] & 0x0F),
            config_obus: Bytes::copy_from_slice(&record[4..]),
        })
    }

    /// Appends the record.
    pub fn write(&self, out: &mut impl BufMut) {
        out.put_u8(0x81);
        out.put_u8((self.seq_profile & 7) << 5 | self.seq_level_idx_0 & 0x1F);
        out.put_u8(
            (self.seq_tier_0 as u8) << 7
                | (self.high_bitdepth as u8) << 6
                | (self.twelve_bit as u8) << 5
                | (self.monochrome as u8) << 4
                | (self.chroma_subsampling_x as u8) << 3
                | (self.chroma_subsampling_y as u8) << 2
                | self.chroma_sample_position & 3,
        );
        out.put_u8(match self.initial_presentation_delay_minus_one {
            Some(d) => 0x10 | d & 0x0F,
            None => 0,
        });
        out.put_slice(&self.config_obus);
    }

    /// The record as bytes.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::with_capacity(4 + self.config_obus.len());
        self.write(&mut out);
        out.into()
    }
}

/// Key frame test of a temporal unit's OBUs (see the module documentation).
fn is_key_frame(obu: &Obu<'_>, reduced_still_picture_header: bool) -> Result<bool> {
    if reduced_still_picture_header {
        return Ok(true);
    }
    let mut r = BitReader::new(obu.payload, "AV1 frame header");
    if r.bit()? {
        return Ok(false); // show_existing_frame
    }
    let frame_type = r.bits(2)?;
    Ok(frame_type == 0 && r.bit()?)
}

/// Turns AV1 temporal units from an encoder into Enhanced RTMP `av01` tag bodies.
#[derive(Debug, Clone, Default)]
pub struct Av1Packager {
    sequence_header: Option<SequenceHeader>,
    config: Option<Av1Config>,
    sent: SentRecord,
}

impl Av1Packager {
    pub fn new() -> Self {
        Self::default()
    }

    /// The current configuration record, once a sequence header was seen.
    pub fn config(&self) -> Option<&Av1Config> {
        self.config.as_ref()
    }

    /// Packages one temporal unit (low-overhead OBUs). AV1 has no composition offset: the
    /// tag timestamp for both bodies is the temporal unit's presentation time.
    ///
    /// Fails with [`MediaError::MissingConfig`] for frames before any sequence header.
    pub fn package(&mut self, temporal_unit: &[u8]) -> Result<PackagedVideo> {
        let mut keep = Vec::new();
        let mut keyframe = None;
        for obu in obus(temporal_unit) {
            let obu = obu?;
            match obu.obu_type {
                OBU_TEMPORAL_DELIMITER => continue,
                OBU_SEQUENCE_HEADER => {
                    let config = Av1Config::from_sequence_header(obu.raw)?;
                    self.sequence_header = Some(SequenceHeader::parse(obu.payload)?);
                    self.config = Some(config);
                }
                OBU_FRAME | OBU_FRAME_HEADER if keyframe.is_none() => {
                    let reduced = self
                        .sequence_header
                        .is_some_and(|h| h.reduced_still_picture_header);
                    keyframe = Some(is_key_frame(&obu, reduced)?);
                }
                _ => {}
            }
            keep.push(obu.raw);
        }
        let sequence_header = self.take_sequence_header();
        let has_frame = keyframe.is_some();
        if keep.is_empty()
            || (!has_frame
                && keep
                    .iter()
                    .all(|o| (o[0] >> 3) & 0x0F == OBU_SEQUENCE_HEADER))
        {
            return Ok(PackagedVideo {
                sequence_header,
                ..Default::default()
            });
        }
        if self.config.is_none() {
            return Err(MediaError::MissingConfig(
                "AV1 frame before a sequence header",
            ));
        }
        let keyframe = keyframe.unwrap_or(false);
        let header = ExVideoHeader::coded_frames(FourCc::AV01, keyframe, 0);
        let size: usize = keep.iter().map(|o| o.len()).sum();
        let mut body = Vec::with_capacity(header.encoded_len() + size);
        header.write(&mut body);
        for obu in keep {
            body.extend_from_slice(obu);
        }
        Ok(PackagedVideo {
            sequence_header,
            frame: Some(body.into()),
            keyframe,
            composition_time: 0,
        })
    }

    /// The SequenceEnd body.
    pub fn end_of_sequence(&self) -> Bytes {
        ExVideoHeader::sequence_end(FourCc::AV01).to_body(&[])
    }

    fn take_sequence_header(&mut self) -> Option<Bytes> {
        let record = self.sent.update(self.config.as_ref()?.to_bytes())?;
        Some(ExVideoHeader::sequence_start(FourCc::AV01).to_body(&record))
    }
}

/// Turns Enhanced RTMP `av01` tag bodies back into temporal units for a decoder: a temporal
/// delimiter, on key frames the record's configOBUs if the frame has no sequence header of
/// its own, then the frame's OBUs.
#[derive(Debug, Clone, Default)]
pub struct Av1Unpacker {
    config: Option<Av1Config>,
}

impl Av1Unpacker {
    pub fn new() -> Self {
        Self::default()
    }

    /// The last configuration record received.
    pub fn config(&self) -> Option<&Av1Config> {
        self.config.as_ref()
    }

    /// Takes one single-track tag body. Sequence starts update the configuration (an empty
    /// one, which ffmpeg sends before it knows the record, is ignored) and return `None`.
    pub fn push(&mut self, body: &Bytes) -> Result<Option<VideoFrame>> {
        let (h, start) = ExVideoHeader::parse(body)?;
        if h.packet_type == VideoPacketType::Metadata {
            return Ok(None);
        }
        if h.fourcc != FourCc::AV01 {
            return Err(MediaError::Invalid("video FourCC for AV1"));
        }
        let payload = &body[start..];
        match h.packet_type {
            VideoPacketType::SequenceStart if !payload.is_empty() => {
                self.config = Some(Av1Config::parse(payload)?);
                Ok(None)
            }
            VideoPacketType::CodedFrames | VideoPacketType::CodedFramesX => {
                let config = self
                    .config
                    .as_ref()
                    .ok_or(MediaError::MissingConfig("AV1 frame before sequence start"))?;
                let keyframe = h.frame_type == VideoFrameType::Key;
                let mut out = Vec::with_capacity(payload.len() + config.config_obus.len() + 2);
                out.extend_from_slice(&[OBU_TEMPORAL_DELIMITER << 3 | 0x02, 0]);
                let mut has_sequence_header = false;
                for obu in obus(payload) {
                    has_sequence_header |= obu?.obu_type == OBU_SEQUENCE_HEADER;
                }
                if keyframe && !has_sequence_header {
                    out.extend_from_slice(&config.config_obus);
                }
                for obu in obus(payload) {
                    let obu = obu?;
                    if obu.obu_type != OBU_TEMPORAL_DELIMITER {
                        out.extend_from_slice(obu.raw);
                    }
                }
                Ok(Some(VideoFrame {
                    data: out.into(),
                    keyframe,
                    composition_time: 0,
                }))
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
#[path = "av1_tests.rs"]
mod tests;

//! NAL-unit streams and the pieces the H.264 ([`avc`](super::avc)) and HEVC
//! ([`hevc`](super::hevc)) modules share.
//!
//! ```text
//! Annex-B            = { 00 00 01 | 00 00 00 01 } NAL unit ...   (emulation prevention kept)
//! length-prefixed    = { len:1-4 bytes, NAL unit } ...            (AVCC/HVCC sample data)
//! RBSP               = NAL unit payload with 00 00 03 turned back into 00 00
//! ```
//!
//! Annex-B splitting ([`split_annexb`]), length-prefixed iteration ([`length_prefixed`]),
//! emulation-prevention removal ([`remove_emulation_prevention`]), the MSB-first
//! Exp-Golomb bit reader (which the AAC, AV1 and VP8/VP9 parsers use too), and what the AVC
//! and HEVC packagers have in common: the parameter-set store, frame and sequence header
//! bodies in either tag format, and reading such a body back.

use std::borrow::Cow;
use std::collections::BTreeMap;

use bytes::{BufMut, Bytes};

use super::enhanced::{
    ExVideoHeader, FourCc, MediaError, PackagedVideo, Result, VideoFrameType, VideoPacketType,
    VideoTagFormat,
};
use super::legacy::{AvcPacketType, LegacyVideoHeader};

// ---------------------------------------------------------------------------------------
// Annex-B and length-prefixed NAL unit streams.
// ---------------------------------------------------------------------------------------

/// Splits an Annex-B byte stream into NAL units (without start codes). Takes 3- and 4-byte
/// start codes; bytes before the first start code and zero bytes trailing a NAL unit
/// (the first byte of a 4-byte start code, trailing_zero_8bits) are dropped. Emulation
/// prevention bytes are left alone. Works for H.264 and HEVC alike.
///
/// ```
/// use rtmp_core::media::nal::split_annexb;
/// let stream = [0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68, 0xce, 0, 0, 3, 1];
/// let nals: Vec<&[u8]> = split_annexb(&stream).collect();
/// assert_eq!(nals, [&[0x67, 0x42][..], &[0x68, 0xce, 0, 0, 3, 1][..]]);
/// ```
pub fn split_annexb(data: &[u8]) -> AnnexBNalUnits<'_> {
    let pos = find_start_code(data, 0).map_or(data.len(), |i| i + 3);
    AnnexBNalUnits { data, pos }
}

/// The iterator [`split_annexb`] returns.
#[derive(Debug, Clone)]
pub struct AnnexBNalUnits<'a> {
    data: &'a [u8],
    /// Start of the next NAL unit (just after a start code), or the end.
    pos: usize,
}

impl<'a> Iterator for AnnexBNalUnits<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while self.pos < self.data.len() {
            let start = self.pos;
            let end = match find_start_code(self.data, start) {
                Some(i) => {
                    self.pos = i + 3;
                    i
                }
                None => {
                    self.pos = self.data.len();
                    self.data.len()
                }
            };
            let mut nal = &self.data[start..end];
            while let [rest @ .., 0] = nal {
                nal = rest;
            }
            if !nal.is_empty() {
                return Some(nal);
            }
        }
        None
    }
}

/// Index of the next `00 00 01` at or after `from`.
fn find_start_code(data: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 2 < data.len() {
        match data[i + 2] {
            0 => i += 1,
            1 if data[i] == 0 && data[i + 1] == 0 => return Some(i),
            _ => i += 3,
        }
    }
    None
}

/// Iterates the NAL units of a length-prefixed buffer (AVCC/HVCC sample data) with
/// `length_size`-byte big-endian lengths (1 to 4). A length running past the end yields one
/// error and ends the iteration.
pub fn length_prefixed(data: &[u8], length_size: u8) -> LengthPrefixedNalUnits<'_> {
    LengthPrefixedNalUnits {
        data,
        length_size: length_size.clamp(1, 4) as usize,
    }
}

/// The iterator [`length_prefixed`] returns.
#[derive(Debug, Clone)]
pub struct LengthPrefixedNalUnits<'a> {
    data: &'a [u8],
    length_size: usize,
}

impl<'a> Iterator for LengthPrefixedNalUnits<'a> {
    type Item = Result<&'a [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.data.is_empty() {
            return None;
        }
        let n = self.length_size;
        let Some(prefix) = self.data.get(..n) else {
            self.data = &[];
            return Some(Err(MediaError::Truncated("NAL unit length")));
        };
        let len = prefix.iter().fold(0usize, |acc, &b| acc << 8 | b as usize);
        let Some(nal) = self.data.get(n..n + len) else {
            self.data = &[];
            return Some(Err(MediaError::Truncated("length-prefixed NAL unit")));
        };
        self.data = &self.data[n + len..];
        Some(Ok(nal))
    }
}

/// The RBSP of a NAL unit: `00 00 03` becomes `00 00`. Borrows when there is nothing to
/// remove.
pub fn remove_emulation_prevention(nal: &[u8]) -> Cow<'_, [u8]> {
    let has_epb = nal.windows(3).any(|w| w == [0, 0, 3]);
    if !has_epb {
        return Cow::Borrowed(nal);
    }
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    Cow::Owned(out)
}

// ---------------------------------------------------------------------------------------
// The Exp-Golomb bit reader.
// ---------------------------------------------------------------------------------------

/// An MSB-first bit reader with Exp-Golomb codes, over an RBSP or any bit-packed header.
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8], what: &'static str) -> Self {
        BitReader { data, pos: 0, what }
    }

    pub(crate) fn bits_left(&self) -> usize {
        (self.data.len() * 8).saturating_sub(self.pos)
    }

    pub(crate) fn bit(&mut self) -> Result<bool> {
        let byte = *self
            .data
            .get(self.pos / 8)
            .ok_or(MediaError::Truncated(self.what))?;
        let bit = byte >> (7 - self.pos % 8) & 1;
        self.pos += 1;
        Ok(bit == 1)
    }

    /// Up to 64 bits.
    pub(crate) fn bits64(&mut self, n: u32) -> Result<u64> {
        debug_assert!(n <= 64);
        if (n as usize) > self.bits_left() {
            return Err(MediaError::Truncated(self.what));
        }
        let mut v = 0u64;
        for _ in 0..n {
            v = v << 1 | self.bit()? as u64;
        }
        Ok(v)
    }

    /// Up to 32 bits.
    pub(crate) fn bits(&mut self, n: u32) -> Result<u32> {
        debug_assert!(n <= 32);
        Ok(self.bits64(n)? as u32)
    }

    pub(crate) fn skip(&mut self, n: usize) -> Result<()> {
        if n > self.bits_left() {
            return Err(MediaError::Truncated(self.what));
        }
        self.pos += n;
        Ok(())
    }

    /// Unsigned Exp-Golomb, ue(v) (at most 31 leading zeros).
    pub(crate) fn ue(&mut self) -> Result<u32> {
        let mut zeros = 0;
        while !self.bit()? {
            zeros += 1;
            if zeros > 31 {
                return Err(MediaError::Invalid("Exp-Golomb code"));
            }
        }
        Ok(((1u64 << zeros) - 1 + self.bits64(zeros)?) as u32)
    }

    /// Signed Exp-Golomb, se(v).
    pub(crate) fn se(&mut self) -> Result<i32> {
        let k = self.ue()? as i64;
        Ok(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) } as i32)
    }
}

// ---------------------------------------------------------------------------------------
// Pieces the AVC and HEVC packagers share.
// ---------------------------------------------------------------------------------------

/// pts - dts as an SI24 composition time offset.
pub(crate) fn composition_time(pts: i64, dts: i64) -> Result<i32> {
    let cts = pts.saturating_sub(dts);
    if !(-0x80_0000..=0x7F_FFFF).contains(&cts) {
        return Err(MediaError::CompositionTimeOutOfRange(cts));
    }
    Ok(cts as i32)
}

/// Parameter sets by kind (three kinds per codec) and id, kept in id order.
#[derive(Debug, Clone, Default)]
pub(crate) struct ParamSets {
    pub(crate) kinds: [BTreeMap<u32, Bytes>; 3],
}

impl ParamSets {
    /// Stores a set; true if it is new or different.
    pub(crate) fn insert(&mut self, kind: usize, id: u32, nal: &[u8]) -> bool {
        let map = &mut self.kinds[kind];
        if map.get(&id).is_some_and(|old| old[..] == *nal) {
            return false;
        }
        map.insert(id, Bytes::copy_from_slice(nal));
        true
    }

    pub(crate) fn list(&self, kind: usize) -> Vec<Bytes> {
        self.kinds[kind].values().cloned().collect()
    }
}

/// How tag headers name one NAL codec: its legacy FLV codec id and its Enhanced RTMP
/// FourCC. Writes the bodies its packager returns and reads them back, in either format.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NalTags {
    pub(crate) legacy_codec_id: u8,
    pub(crate) fourcc: FourCc,
}

impl NalTags {
    /// What a packager returns for one access unit: `sequence_header`, and unless `nals` is
    /// empty a frame body with each of them behind a u32 length.
    pub(crate) fn packaged(
        &self,
        format: VideoTagFormat,
        sequence_header: Option<Bytes>,
        nals: &[&[u8]],
        keyframe: bool,
        cts: i32,
    ) -> PackagedVideo {
        if nals.is_empty() {
            return PackagedVideo {
                sequence_header,
                ..Default::default()
            };
        }
        let size: usize = nals.iter().map(|n| n.len() + 4).sum();
        let mut body = Vec::with_capacity(8 + size);
        let frame_type = VideoFrameType::key_if(keyframe);
        match format {
            VideoTagFormat::Legacy => LegacyVideoHeader {
                codec_id: self.legacy_codec_id,
                ..LegacyVideoHeader::avc(frame_type, AvcPacketType::Nalu, cts)
            }
            .write(&mut body),
            VideoTagFormat::Enhanced => {
                ExVideoHeader::coded_frames(self.fourcc, keyframe, cts).write(&mut body)
            }
        }
        for nal in nals {
            body.put_u32(nal.len() as u32);
            body.extend_from_slice(nal);
        }
        PackagedVideo {
            sequence_header,
            frame: Some(body.into()),
            keyframe,
            composition_time: cts,
        }
    }

    /// The sequence header body carrying `record`.
    pub(crate) fn sequence_header(&self, format: VideoTagFormat, record: &[u8]) -> Bytes {
        match format {
            VideoTagFormat::Legacy => self
                .legacy_config_header(AvcPacketType::SequenceHeader)
                .to_body(record),
            VideoTagFormat::Enhanced => ExVideoHeader::sequence_start(self.fourcc).to_body(record),
        }
    }

    /// The end-of-sequence body.
    pub(crate) fn end_of_sequence(&self, format: VideoTagFormat) -> Bytes {
        match format {
            VideoTagFormat::Legacy => self
                .legacy_config_header(AvcPacketType::EndOfSequence)
                .to_body(&[]),
            VideoTagFormat::Enhanced => ExVideoHeader::sequence_end(self.fourcc).to_body(&[]),
        }
    }

    /// The legacy header of a key-frame configuration body of this codec.
    fn legacy_config_header(&self, packet_type: AvcPacketType) -> LegacyVideoHeader {
        LegacyVideoHeader {
            codec_id: self.legacy_codec_id,
            ..LegacyVideoHeader::avc(VideoFrameType::Key, packet_type, 0)
        }
    }

    /// Reads a tag body of this codec in either format.
    pub(crate) fn read(&self, body: &Bytes) -> Result<NalPacket> {
        let first = *body
            .first()
            .ok_or(MediaError::Truncated("video tag body"))?;
        if first & 0x80 != 0 {
            let (h, start) = ExVideoHeader::parse(body)?;
            if h.packet_type == VideoPacketType::Metadata {
                return Ok(NalPacket::Other);
            }
            if h.fourcc != self.fourcc {
                return Err(MediaError::Invalid("video FourCC for this codec"));
            }
            let payload = body.slice(start..);
            return Ok(match h.packet_type {
                VideoPacketType::SequenceStart => NalPacket::Config(payload),
                VideoPacketType::CodedFrames | VideoPacketType::CodedFramesX => NalPacket::Frame {
                    payload,
                    keyframe: h.frame_type == VideoFrameType::Key,
                    cts: h.composition_time,
                },
                _ => NalPacket::Other,
            });
        }
        let (h, start) = LegacyVideoHeader::parse(body)?;
        if h.command.is_some() {
            return Ok(NalPacket::Other);
        }
        if h.codec_id != self.legacy_codec_id {
            return Err(MediaError::Invalid("legacy video codec id for this codec"));
        }
        let payload = body.slice(start..);
        Ok(match h.avc_packet_type {
            Some(AvcPacketType::SequenceHeader) => NalPacket::Config(payload),
            Some(AvcPacketType::Nalu) => NalPacket::Frame {
                payload,
                keyframe: h.frame_type == VideoFrameType::Key,
                cts: h.composition_time,
            },
            _ => NalPacket::Other,
        })
    }
}

/// What a NAL-codec tag body holds.
pub(crate) enum NalPacket {
    Config(Bytes),
    Frame {
        payload: Bytes,
        keyframe: bool,
        cts: i32,
    },
    /// End of sequence, metadata and the like.
    Other,
}

/// Length-prefixed NAL units to Annex-B (4-byte start codes), `prefix` sets first.
pub(crate) fn nal_payload_to_annexb<'a>(
    payload: &[u8],
    length_size: u8,
    prefix: impl Iterator<Item = &'a Bytes>,
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(payload.len() + 64);
    for nal in prefix {
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(nal);
    }
    for nal in length_prefixed(payload, length_size) {
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(nal?);
    }
    Ok(out)
}

/// Appends `nals`, each with a u16 length (the avcC and hvcC parameter set lists).
pub(crate) fn put_nal_list(out: &mut impl BufMut, nals: &[Bytes]) {
    for nal in nals {
        out.put_u16(nal.len() as u16);
        out.put_slice(nal);
    }
}

#[cfg(test)]
#[path = "nal_tests.rs"]
mod tests;

//! Opus packaging: encoder packets to Enhanced RTMP audio (ExAudioTagHeader, FourCC
//! `Opus`) and back.
//!
//! ```text
//! OpusHead (RFC 7845 5.1) = "OpusHead" version:8 (1) channels:8 pre_skip:u16le
//!                           input_sample_rate:u32le output_gain:i16le (Q7.8 dB)
//!                           mapping_family:8 [stream_count:8 coupled_count:8 mapping[channels]]
//! SequenceStart body = ExAudioTagHeader(SequenceStart, "Opus") OpusHead
//! CodedFrames body   = ExAudioTagHeader(CodedFrames, "Opus") one Opus packet
//! ```
//!
//! ffmpeg also sends a MultichannelConfig message (channel order and mask) after the
//! sequence start; [`OpusUnpacker`] keeps it, see
//! [`MultichannelConfig`].

use bytes::{BufMut, Bytes};

use super::enhanced::{
    AudioPacketType, ExAudioHeader, FourCc, MediaError, MultichannelConfig, PackagedAudio, Result,
};

const MAGIC: &[u8; 8] = b"OpusHead";

/// The channel mapping table of an OpusHead with a mapping family other than 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelMapping {
    pub stream_count: u8,
    pub coupled_count: u8,
    /// One entry per output channel.
    pub mapping: Vec<u8>,
}

/// The Opus identification header (RFC 7845 section 5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusHead {
    /// 1 when written; any version below 16 parses.
    pub version: u8,
    pub channels: u8,
    /// Samples (at 48 kHz) to discard from the decoder output at the start.
    pub pre_skip: u16,
    /// The input's sample rate, informational (0 = unspecified).
    pub input_sample_rate: u32,
    /// Q7.8 dB.
    pub output_gain: i16,
    pub mapping_family: u8,
    /// Present exactly when `mapping_family` is not 0.
    pub mapping: Option<ChannelMapping>,
}

impl OpusHead {
    /// A mono or stereo header (mapping family 0), no gain.
    pub fn new(channels: u8, pre_skip: u16, input_sample_rate: u32) -> Result<Self> {
        if !(1..=2).contains(&channels) {
            return Err(MediaError::Invalid("channel count for mapping family 0"));
        }
        Ok(OpusHead {
            version: 1,
            channels,
            pre_skip,
            input_sample_rate,
            output_gain: 0,
            mapping_family: 0,
            mapping: None,
        })
    }

    /// Parses an OpusHead packet.
    pub fn parse(data: &[u8]) -> Result<OpusHead> {
        let fixed = data.get(..19).ok_or(MediaError::Truncated("OpusHead"))?;
        if &fixed[..8] != MAGIC {
            return Err(MediaError::Invalid("OpusHead magic"));
        }
        if fixed[8] >= 16 {
            return Err(MediaError::Unsupported("OpusHead major version"));
        }
        let channels = fixed[9];
        let mapping_family = fixed[18];
        if channels == 0 {
            return Err(MediaError::Invalid("OpusHead channel count 0"));
        }
        let mapping = if mapping_family == 0 {
            if channels > 2 {
                return Err(MediaError::Invalid(
                    "mapping family 0 with more than 2 channels",
                ));
            }
            None
        } else {
            let table = data
                .get(19..21 + channels as usize)
                .ok_or(MediaError::Truncated("OpusHead channel mapping"))?;
            let (stream_count, coupled_count) = (table[0], table[1]);
            if stream_count == 0 || coupled_count > stream_count {
                return Err(MediaError::Invalid("OpusHead stream counts"));
            }
            Some(ChannelMapping {
                stream_count,
                coupled_count,
                mapping: table[2..].to_vec(),
            })
        };
        Ok(OpusHead {
            version: fixed[8],
            channels,
            pre_skip: u16::from_le_bytes([fixed[10], fixed[11]]),
            input_sample_rate: u32::from_le_bytes([fixed[12], fixed[13], fixed[14], fixed[15]]),
            output_gain: i16::from_le_bytes([fixed[16], fixed[17]]),
            mapping_family,
            mapping,
        })
    }

    /// Appends the header. A non-zero family without a table writes none (and is invalid
    /// to readers); keep the two consistent.
    pub fn write(&self, out: &mut impl BufMut) {
        out.put_slice(MAGIC);
        out.put_u8(self.version);
        out.put_u8(self.channels);
        out.put_u16_le(self.pre_skip);
        out.put_u32_le(self.input_sample_rate);
        out.put_i16_le(self.output_gain);
        out.put_u8(self.mapping_family);
        if let Some(m) = &self.mapping {
            out.put_u8(m.stream_count);
            out.put_u8(m.coupled_count);
            out.put_slice(&m.mapping);
        }
    }

    /// The header as bytes.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::with_capacity(21 + self.channels as usize);
        self.write(&mut out);
        out.into()
    }

    /// Number of Opus streams in each packet (1 for mapping family 0).
    pub fn stream_count(&self) -> u8 {
        self.mapping.as_ref().map_or(1, |m| m.stream_count)
    }
}

/// Samples (at 48 kHz) in an Opus packet, from its TOC byte and frame count (RFC 6716 3.1).
pub fn packet_samples(packet: &[u8]) -> Result<u32> {
    let toc = *packet.first().ok_or(MediaError::Truncated("Opus TOC"))?;
    let config = toc >> 3;
    let frame = match config {
        0..=11 => [480, 960, 1920, 2880][(config % 4) as usize],
        12..=15 => [480, 960][(config % 2) as usize],
        _ => [120, 240, 480, 960][(config % 4) as usize],
    };
    let frames = match toc & 3 {
        0 => 1,
        1 | 2 => 2,
        _ => {
            let count = *packet
                .get(1)
                .ok_or(MediaError::Truncated("Opus frame count"))?
                & 0x3F;
            if count == 0 {
                return Err(MediaError::Invalid("Opus frame count 0"));
            }
            count as u32
        }
    };
    let samples = frame * frames;
    if samples > 5760 {
        return Err(MediaError::Invalid("Opus packet over 120 ms"));
    }
    Ok(samples)
}

/// Turns Opus packets into Enhanced RTMP audio tag bodies: the OpusHead as SequenceStart
/// with the first packet (and again after [`set_head`](Self::set_head) changes it), then
/// one CodedFrames body per packet.
///
/// ```
/// use rtmp_core::media::opus::{OpusHead, OpusPackager};
/// # fn main() -> Result<(), rtmp_core::media::enhanced::MediaError> {
/// let mut packager = OpusPackager::new(OpusHead::new(2, 312, 48000)?);
/// let out = packager.package(&[0xFC, 0xFF, 0xFE]);
/// let head = out.sequence_header.unwrap();
/// assert_eq!(&head[..13], b"\x90OpusOpusHead");
/// assert_eq!(&out.frame[..], b"\x91Opus\xfc\xff\xfe");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct OpusPackager {
    head: OpusHead,
    sent: bool,
}

impl OpusPackager {
    pub fn new(head: OpusHead) -> Self {
        OpusPackager { head, sent: false }
    }

    pub fn head(&self) -> &OpusHead {
        &self.head
    }

    /// Replaces the header; the next packet carries a new sequence start if it differs.
    pub fn set_head(&mut self, head: OpusHead) {
        if head != self.head {
            self.head = head;
            self.sent = false;
        }
    }

    /// Packages one Opus packet (for multistream, the packets of all streams in the
    /// self-delimited layout RFC 7845 uses in Ogg). The tag timestamp is the packet's
    /// presentation time in milliseconds.
    pub fn package(&mut self, packet: &[u8]) -> PackagedAudio {
        let sequence_header = (!self.sent).then(|| {
            self.sent = true;
            ExAudioHeader::new(AudioPacketType::SequenceStart, FourCc::OPUS)
                .to_body(&self.head.to_bytes())
        });
        PackagedAudio {
            sequence_header,
            frame: ExAudioHeader::new(AudioPacketType::CodedFrames, FourCc::OPUS).to_body(packet),
        }
    }

    /// The SequenceEnd body.
    pub fn end_of_sequence(&self) -> Bytes {
        ExAudioHeader::new(AudioPacketType::SequenceEnd, FourCc::OPUS).to_body(&[])
    }
}

/// Turns Enhanced RTMP `Opus` audio bodies back into packets, keeping the OpusHead and any
/// MultichannelConfig.
#[derive(Debug, Clone, Default)]
pub struct OpusUnpacker {
    head: Option<OpusHead>,
    channel_config: Option<MultichannelConfig>,
}

impl OpusUnpacker {
    pub fn new() -> Self {
        Self::default()
    }

    /// The last OpusHead received (`None` also after an empty sequence start, which means
    /// mono/stereo defaults or the MultichannelConfig).
    pub fn head(&self) -> Option<&OpusHead> {
        self.head.as_ref()
    }

    /// The last MultichannelConfig received.
    pub fn channel_config(&self) -> Option<&MultichannelConfig> {
        self.channel_config.as_ref()
    }

    /// Takes one single-track body; returns the packet of CodedFrames, `None` otherwise.
    pub fn push(&mut self, body: &Bytes) -> Result<Option<Bytes>> {
        let (h, start) = ExAudioHeader::parse(body)?;
        if h.fourcc != FourCc::OPUS {
            return Err(MediaError::Invalid("audio FourCC for Opus"));
        }
        let payload = &body[start..];
        match h.packet_type {
            AudioPacketType::SequenceStart => {
                self.head = if payload.is_empty() {
                    None
                } else {
                    Some(OpusHead::parse(payload)?)
                };
            }
            AudioPacketType::MultichannelConfig => {
                self.channel_config = Some(MultichannelConfig::parse(payload)?);
            }
            AudioPacketType::CodedFrames => return Ok(Some(body.slice(start..))),
            AudioPacketType::SequenceEnd => {}
        }
        Ok(None)
    }
}

#[cfg(test)]
#[path = "opus_tests.rs"]
mod tests;

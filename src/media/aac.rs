//! AAC packaging: ADTS streams (what `-f adts` and most encoders emit) or raw frames with an
//! AudioSpecificConfig, to FLV audio tag bodies, and back to ADTS. The legacy FLV
//! AudioTagHeader itself, which AAC and MP3 use, is [`LegacyAudioHeader`] in
//! [`legacy`](super::legacy).
//!
//! ```text
//! ADTS  = syncword:12=FFF ID:1 layer:2=0 protection_absent:1 profile:2 (object type - 1)
//!         sampling_frequency_index:4 private:1 channel_configuration:3 original:1 home:1
//!         copyright_id_bit:1 copyright_id_start:1 aac_frame_length:13 buffer_fullness:11
//!         number_of_raw_data_blocks_in_frame:2 [crc:16 if protection_absent = 0] raw frame
//! ASC   = audioObjectType:5 [+6 if 31] samplingFrequencyIndex:4 [frequency:24 if 15]
//!         channelConfiguration:4 ... (ISO/IEC 14496-3 1.6.2.1); AAC-LC from ADTS: 2 bytes
//! legacy tag body = 0xAF (AAC, 44 kHz, 16-bit, stereo) AACPacketType (0 = ASC, 1 = raw) data
//! enhanced body   = ExAudioTagHeader "mp4a" (SequenceStart | CodedFrames) data
//! ```
//!
//! Limits: ADTS frames with more than one raw data block are [`MediaError::Unsupported`]
//! (their blocks cannot be split without decoding, unless CRC-protected), as is channel
//! configuration 0 (the channel layout lives in a PCE inside the raw data). [`to_adts`]
//! writes MPEG-4 ADTS without CRC and with buffer fullness 0x7FF (VBR), as ffmpeg does.

use bytes::{BufMut, Bytes};

use super::enhanced::{
    AudioPacketType, ExAudioHeader, FourCc, MediaError, PackagedAudio, Result, SentRecord,
};
use super::legacy::{AacPacketType, LegacyAudioHeader};
use super::nal::BitReader;

/// Sampling frequencies by samplingFrequencyIndex (13 and 14 reserved, 15 explicit).
pub const SAMPLE_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// An ADTS frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdtsHeader {
    /// The ID bit: MPEG-2 (true) or MPEG-4 (false).
    pub mpeg2: bool,
    pub protection_absent: bool,
    /// audioObjectType - 1 (0 Main, 1 LC, 2 SSR, 3 LTP).
    pub profile: u8,
    pub sampling_index: u8,
    pub private_bit: bool,
    pub channel_config: u8,
    pub original_copy: bool,
    pub home: bool,
    pub copyright_id_bit: bool,
    pub copyright_id_start: bool,
    /// The whole frame, header included.
    pub frame_length: u16,
    pub buffer_fullness: u16,
    /// number_of_raw_data_blocks_in_frame (blocks - 1).
    pub raw_blocks_minus_one: u8,
}

impl AdtsHeader {
    /// Parses the header at the start of `data` (7 bytes, 9 with CRC).
    pub fn parse(data: &[u8]) -> Result<AdtsHeader> {
        let h = data.get(..7).ok_or(MediaError::Truncated("ADTS header"))?;
        if h[0] != 0xFF || h[1] & 0xF6 != 0xF0 {
            return Err(MediaError::Invalid("ADTS syncword/layer"));
        }
        let header = AdtsHeader {
            mpeg2: h[1] & 0x08 != 0,
            protection_absent: h[1] & 1 != 0,
            profile: h[2] >> 6,
            sampling_index: (h[2] >> 2) & 0x0F,
            private_bit: h[2] & 2 != 0,
            channel_config: (h[2] & 1) << 2 | h[3] >> 6,
            original_copy: h[3] & 0x20 != 0,
            home: h[3] & 0x10 != 0,
            copyright_id_bit: h[3] & 0x08 != 0,
            copyright_id_start: h[3] & 0x04 != 0,
            frame_length: ((h[3] & 3) as u16) << 11 | (h[4] as u16) << 3 | (h[5] >> 5) as u16,
            buffer_fullness: ((h[5] & 0x1F) as u16) << 6 | (h[6] >> 2) as u16,
            raw_blocks_minus_one: h[6] & 3,
        };
        if (header.frame_length as usize) < header.header_len() {
            return Err(MediaError::Invalid("ADTS aac_frame_length"));
        }
        Ok(header)
    }

    /// 7, or 9 with a CRC.
    pub fn header_len(&self) -> usize {
        if self.protection_absent {
            7
        } else {
            9
        }
    }

    /// The sampling frequency, if the index is not reserved.
    pub fn sample_rate(&self) -> Option<u32> {
        SAMPLE_RATES.get(self.sampling_index as usize).copied()
    }

    /// Appends the 7-byte header (no CRC is written: `protection_absent` is forced on) for
    /// a raw frame of `payload_len` bytes.
    pub fn write(&self, payload_len: usize, out: &mut impl BufMut) -> Result<()> {
        let len = payload_len + 7;
        if len > 0x1FFF {
            return Err(MediaError::Invalid("AAC frame too long for ADTS"));
        }
        out.put_u8(0xFF);
        out.put_u8(0xF1 | (self.mpeg2 as u8) << 3);
        out.put_u8(
            (self.profile & 3) << 6
                | (self.sampling_index & 0x0F) << 2
                | (self.private_bit as u8) << 1
                | (self.channel_config >> 2) & 1,
        );
        out.put_u8(
            (self.channel_config & 3) << 6
                | (self.original_copy as u8) << 5
                | (self.home as u8) << 4
                | (self.copyright_id_bit as u8) << 3
                | (self.copyright_id_start as u8) << 2
                | (len >> 11) as u8 & 3,
        );
        out.put_u8((len >> 3) as u8);
        out.put_u8(((len & 7) as u8) << 5 | (self.buffer_fullness >> 6) as u8 & 0x1F);
        out.put_u8(((self.buffer_fullness & 0x3F) as u8) << 2 | self.raw_blocks_minus_one & 3);
        Ok(())
    }
}

/// One frame of an ADTS stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdtsFrame<'a> {
    pub header: AdtsHeader,
    /// The raw AAC frame (after the header and CRC).
    pub payload: &'a [u8],
}

/// Iterates the frames of an ADTS buffer (several frames per buffer are fine). The buffer
/// must start with a frame; a bad or truncated frame yields one error and ends iteration.
pub fn adts_frames(data: &[u8]) -> AdtsFrames<'_> {
    AdtsFrames { data }
}

/// The iterator [`adts_frames`] returns.
#[derive(Debug, Clone)]
pub struct AdtsFrames<'a> {
    data: &'a [u8],
}

impl<'a> Iterator for AdtsFrames<'a> {
    type Item = Result<AdtsFrame<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.data.is_empty() {
            return None;
        }
        let result = AdtsHeader::parse(self.data).and_then(|header| {
            let end = header.frame_length as usize;
            let frame = self
                .data
                .get(..end)
                .ok_or(MediaError::Truncated("ADTS frame"))?;
            Ok(AdtsFrame {
                header,
                payload: &frame[header.header_len()..],
            })
        });
        match &result {
            Ok(f) => self.data = &self.data[f.header.frame_length as usize..],
            Err(_) => self.data = &[],
        }
        Some(result)
    }
}

/// An AudioSpecificConfig: the fields a muxer needs, plus the bytes as received (which are
/// what [`write`](Self::write) reproduces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioSpecificConfig {
    /// audioObjectType (2 = AAC-LC, 5 = SBR, 29 = PS, ...).
    pub object_type: u8,
    pub sampling_index: u8,
    /// The sampling frequency (from the table, or explicit when the index is 15).
    pub sample_rate: u32,
    pub channel_config: u8,
    /// For SBR/PS (object types 5 and 29) signalled explicitly: the core object type and
    /// the extension's sampling index; otherwise `None`.
    pub sbr: Option<(u8, u8)>,
    /// The whole config.
    pub data: Bytes,
}

impl AudioSpecificConfig {
    /// A 2-byte config: object type (< 31), sampling index (< 13), channel configuration,
    /// with an all-zero GASpecificConfig (1024-sample frames, no core coder, no extension).
    pub fn new(object_type: u8, sampling_index: u8, channel_config: u8) -> Result<Self> {
        if !(1..31).contains(&object_type) || sampling_index > 12 || channel_config > 15 {
            return Err(MediaError::Invalid("AudioSpecificConfig fields"));
        }
        let v = (object_type as u16) << 11
            | (sampling_index as u16) << 7
            | (channel_config as u16) << 3;
        Ok(AudioSpecificConfig {
            object_type,
            sampling_index,
            sample_rate: SAMPLE_RATES[sampling_index as usize],
            channel_config,
            sbr: None,
            data: Bytes::copy_from_slice(&v.to_be_bytes()),
        })
    }

    /// The config an ADTS header describes. Channel configuration 0 is
    /// [`MediaError::Unsupported`].
    pub fn from_adts(h: &AdtsHeader) -> Result<Self> {
        if h.channel_config == 0 {
            return Err(MediaError::Unsupported(
                "ADTS channel configuration 0 (PCE)",
            ));
        }
        Self::new(h.profile + 1, h.sampling_index, h.channel_config)
    }

    /// Parses a config (its first fields; the rest is kept in `data`).
    pub fn parse(data: &[u8]) -> Result<Self> {
        let mut r = BitReader::new(data, "AudioSpecificConfig");
        let object_type = |r: &mut BitReader<'_>| -> Result<u8> {
            let t = r.bits(5)? as u8;
            Ok(if t == 31 { 32 + r.bits(6)? as u8 } else { t })
        };
        let frequency = |r: &mut BitReader<'_>| -> Result<(u8, u32)> {
            let index = r.bits(4)? as u8;
            let rate = match index {
                15 => r.bits(24)?,
                i => *SAMPLE_RATES
                    .get(i as usize)
                    .ok_or(MediaError::Invalid("samplingFrequencyIndex"))?,
            };
            Ok((index, rate))
        };
        let ot = object_type(&mut r)?;
        if ot == 0 {
            return Err(MediaError::Invalid("audioObjectType 0"));
        }
        let (sampling_index, sample_rate) = frequency(&mut r)?;
        let channel_config = r.bits(4)? as u8;
        let mut sbr = None;
        if ot == 5 || ot == 29 {
            let (ext_index, _) = frequency(&mut r)?;
            sbr = Some((object_type(&mut r)?, ext_index));
        }
        Ok(AudioSpecificConfig {
            object_type: ot,
            sampling_index,
            sample_rate,
            channel_config,
            sbr,
            data: Bytes::copy_from_slice(data),
        })
    }

    /// Appends the config bytes.
    pub fn write(&self, out: &mut impl BufMut) {
        out.put_slice(&self.data);
    }

    /// The ADTS header fields for frames of this config (core object type and rate for
    /// explicit SBR/PS, which ADTS signals implicitly).
    pub fn adts_header(&self) -> Result<AdtsHeader> {
        let core = self.sbr.map_or(self.object_type, |(core, _)| core);
        if !(1..=4).contains(&core) {
            return Err(MediaError::Unsupported(
                "object type not expressible in ADTS",
            ));
        }
        if self.sampling_index > 12 || !(1..=7).contains(&self.channel_config) {
            return Err(MediaError::Unsupported(
                "explicit frequency or channel config 0 in ADTS",
            ));
        }
        Ok(AdtsHeader {
            mpeg2: false,
            protection_absent: true,
            profile: core - 1,
            sampling_index: self.sampling_index,
            private_bit: false,
            channel_config: self.channel_config,
            original_copy: false,
            home: false,
            copyright_id_bit: false,
            copyright_id_start: false,
            frame_length: 0,
            buffer_fullness: 0x7FF,
            raw_blocks_minus_one: 0,
        })
    }
}

/// A raw AAC frame with its config as one ADTS frame.
pub fn to_adts(raw: &[u8], config: &AudioSpecificConfig) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len() + 7);
    config.adts_header()?.write(raw.len(), &mut out)?;
    out.extend_from_slice(raw);
    Ok(out)
}

/// Turns AAC from an encoder (ADTS, or raw frames plus a config) into FLV audio tag
/// bodies: legacy `0xAF` by default, Enhanced RTMP `mp4a` with [`enhanced`](Self::enhanced).
///
/// ```
/// use rtmp_core::media::aac::AacPackager;
/// # fn main() -> Result<(), rtmp_core::media::enhanced::MediaError> {
/// // One ADTS frame: AAC-LC, 44.1 kHz, mono, 2 bytes of raw data.
/// let adts = [0xFF, 0xF1, 0x50, 0x40, 0x01, 0x3F, 0xFC, 0x21, 0x10];
/// let mut packager = AacPackager::new();
/// let out = packager.push_adts(&adts)?;
/// assert_eq!(out[0].sequence_header.as_deref(), Some(&[0xAF, 0x00, 0x12, 0x08][..]));
/// assert_eq!(&out[0].frame[..], [0xAF, 0x01, 0x21, 0x10]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct AacPackager {
    enhanced: bool,
    config: Option<AudioSpecificConfig>,
    sent: SentRecord,
}

impl AacPackager {
    /// Legacy FLV (sound format 10).
    pub fn new() -> Self {
        Self::default()
    }

    /// Enhanced RTMP (FourCC `mp4a`).
    pub fn enhanced() -> Self {
        AacPackager {
            enhanced: true,
            ..Default::default()
        }
    }

    /// The current config.
    pub fn config(&self) -> Option<&AudioSpecificConfig> {
        self.config.as_ref()
    }

    /// Sets the config of the raw frames to come (e.g. an encoder's extradata).
    pub fn set_config(&mut self, config: AudioSpecificConfig) {
        self.config = Some(config);
    }

    /// Packages every frame of an ADTS buffer; each frame is 1024 samples later than the
    /// one before it. The config comes from the headers; a sequence header goes with the
    /// first frame and with any frame whose header implies a different config.
    pub fn push_adts(&mut self, data: &[u8]) -> Result<Vec<PackagedAudio>> {
        let mut out = Vec::new();
        for frame in adts_frames(data) {
            let frame = frame?;
            if frame.header.raw_blocks_minus_one != 0 {
                return Err(MediaError::Unsupported(
                    "ADTS frame with several raw data blocks",
                ));
            }
            let config = AudioSpecificConfig::from_adts(&frame.header)?;
            if self.config.as_ref().map(|c| &c.data) != Some(&config.data) {
                self.config = Some(config);
            }
            out.push(self.push_raw(frame.payload)?);
        }
        Ok(out)
    }

    /// Packages one raw AAC frame with the config set before.
    pub fn push_raw(&mut self, raw: &[u8]) -> Result<PackagedAudio> {
        let config = self
            .config
            .as_ref()
            .ok_or(MediaError::MissingConfig("AudioSpecificConfig"))?;
        let sequence_header = self
            .sent
            .update(config.data.clone())
            .map(|record| self.body(true, &record));
        Ok(PackagedAudio {
            sequence_header,
            frame: self.body(false, raw),
        })
    }

    fn body(&self, config: bool, payload: &[u8]) -> Bytes {
        if self.enhanced {
            let pt = if config {
                AudioPacketType::SequenceStart
            } else {
                AudioPacketType::CodedFrames
            };
            ExAudioHeader::new(pt, FourCc::MP4A).to_body(payload)
        } else {
            let pt = if config {
                AacPacketType::SequenceHeader
            } else {
                AacPacketType::Raw
            };
            LegacyAudioHeader::aac(pt).to_body(payload)
        }
    }
}

/// Turns FLV AAC tag bodies (legacy sound format 10 or Enhanced `mp4a`) back into raw
/// frames; [`to_adts`] with [`config`](Self::config) makes ADTS of them.
#[derive(Debug, Clone, Default)]
pub struct AacUnpacker {
    config: Option<AudioSpecificConfig>,
}

impl AacUnpacker {
    pub fn new() -> Self {
        Self::default()
    }

    /// The last config received.
    pub fn config(&self) -> Option<&AudioSpecificConfig> {
        self.config.as_ref()
    }

    /// Takes one tag body: a sequence header updates the config (an empty one, which
    /// ffmpeg sends before it knows the config, is ignored) and returns `None`; a raw
    /// frame returns its bytes.
    pub fn push(&mut self, body: &Bytes) -> Result<Option<Bytes>> {
        let (is_config, start) = if body.first().is_some_and(|b| b >> 4 == 9) {
            let (h, start) = ExAudioHeader::parse(body)?;
            if h.fourcc != FourCc::MP4A {
                return Err(MediaError::Invalid("audio FourCC for AAC"));
            }
            match h.packet_type {
                AudioPacketType::SequenceStart => (true, start),
                AudioPacketType::CodedFrames => (false, start),
                _ => return Ok(None),
            }
        } else {
            let (h, start) = LegacyAudioHeader::parse(body)?;
            match h.aac_packet_type {
                Some(pt) => (pt == AacPacketType::SequenceHeader, start),
                None => return Err(MediaError::Invalid("legacy sound format for AAC")),
            }
        };
        if !is_config {
            return Ok(Some(body.slice(start..)));
        }
        if body.len() > start {
            self.config = Some(AudioSpecificConfig::parse(&body[start..])?);
        }
        Ok(None)
    }
}

#[cfg(test)]
#[path = "aac_tests.rs"]
mod tests;

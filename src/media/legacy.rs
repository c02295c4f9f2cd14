//! Legacy (pre-2023, non-Enhanced) FLV tag headers, both directions.
//!
//! ```text
//! VideoTagHeader = frameType(4) codecId(4)
//!                  [ videoCommand(u8)                  if frameType = 5 (command frame) ]
//!                  [ AVCPacketType(u8) cts(si24)       if codecId = 7 (AVC) or 12 (HEVC) ]
//! AudioTagHeader = soundFormat(4) soundRate(2) soundSize(1) soundType(1)
//!                  [ AACPacketType(u8)                 if soundFormat = 10 (AAC) ]
//! ```
//!
//! [`LegacyVideoHeader`] covers AVC (codec id 7), the widespread non-Adobe HEVC codec id 12
//! and command frames; [`LegacyAudioHeader`] covers AAC, MP3 and the other sound formats.
//! A first video byte with the high bit set, or sound format 9, is an Enhanced RTMP header
//! instead: see [`enhanced`](super::enhanced).

use bytes::{BufMut, Bytes};

use super::enhanced::{
    put_u24, u8_enum, Cursor, MediaError, Result, VideoFrameType, EX_VIDEO_FLAG,
};

// ---------------------------------------------------------------------------------------
// Video.
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
// Audio.
// ---------------------------------------------------------------------------------------

u8_enum! {
    /// Legacy SoundFormat (the high nibble of an AudioTagHeader; 9 means ExAudioTagHeader,
    /// 12 and 13 are reserved).
    pub enum SoundFormat {
        LinearPcmPlatformEndian = 0,
        Adpcm = 1,
        Mp3 = 2,
        LinearPcmLittleEndian = 3,
        Nellymoser16kHzMono = 4,
        Nellymoser8kHzMono = 5,
        Nellymoser = 6,
        G711ALaw = 7,
        G711MuLaw = 8,
        Aac = 10,
        Speex = 11,
        Mp3At8kHz = 14,
        DeviceSpecific = 15,
    }
}

u8_enum! {
    /// AACPacketType of legacy AAC bodies.
    pub enum AacPacketType {
        /// AudioSpecificConfig.
        SequenceHeader = 0,
        /// One raw AAC frame (an access unit without ADTS header).
        Raw = 1,
    }
}

/// A legacy AudioTagHeader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegacyAudioHeader {
    pub format: SoundFormat,
    /// SoundRate: 0 = 5.5 kHz (or "special"), 1 = 11 kHz, 2 = 22 kHz, 3 = 44 kHz.
    pub rate: u8,
    /// SoundSize: 16-bit samples (always set for compressed formats).
    pub sixteen_bit: bool,
    /// SoundType: stereo.
    pub stereo: bool,
    /// For AAC only.
    pub aac_packet_type: Option<AacPacketType>,
}

impl LegacyAudioHeader {
    /// The AAC header every writer uses (0xAF: 44 kHz, 16-bit, stereo, whatever the
    /// stream; the AudioSpecificConfig is what counts).
    pub fn aac(packet_type: AacPacketType) -> Self {
        LegacyAudioHeader {
            format: SoundFormat::Aac,
            rate: 3,
            sixteen_bit: true,
            stereo: true,
            aac_packet_type: Some(packet_type),
        }
    }

    /// The header for MP3 (sound format 2) at `sample_rate` with `channels`, as ffmpeg
    /// picks it: 44100 and 48000 Hz are rate 3, 22050 is 2, 11025 is 1; 8000 Hz is sound
    /// format 14 (MP3 8 kHz) with rate 0; other rates are [`MediaError::Unsupported`].
    pub fn mp3(sample_rate: u32, channels: u8) -> Result<Self> {
        let (format, rate) = match sample_rate {
            44100 | 48000 => (SoundFormat::Mp3, 3),
            22050 => (SoundFormat::Mp3, 2),
            11025 => (SoundFormat::Mp3, 1),
            8000 => (SoundFormat::Mp3At8kHz, 0),
            _ => return Err(MediaError::Unsupported("MP3 sample rate in legacy FLV")),
        };
        Ok(LegacyAudioHeader {
            format,
            rate,
            sixteen_bit: true,
            stereo: channels > 1,
            aac_packet_type: None,
        })
    }

    /// Parses a legacy audio header; returns it and the payload offset. Sound format 9
    /// (Enhanced RTMP) is [`MediaError::Invalid`] here.
    pub fn parse(body: &[u8]) -> Result<(LegacyAudioHeader, usize)> {
        let first = *body
            .first()
            .ok_or(MediaError::Truncated("AudioTagHeader"))?;
        let format = SoundFormat::from_u8(first >> 4).ok_or(MediaError::Invalid("SoundFormat"))?;
        let mut aac_packet_type = None;
        if format == SoundFormat::Aac {
            let pt = *body.get(1).ok_or(MediaError::Truncated("AACPacketType"))?;
            aac_packet_type =
                Some(AacPacketType::from_u8(pt).ok_or(MediaError::Invalid("AACPacketType"))?);
        }
        let header = LegacyAudioHeader {
            format,
            rate: (first >> 2) & 3,
            sixteen_bit: first & 2 != 0,
            stereo: first & 1 != 0,
            aac_packet_type,
        };
        Ok((header, 1 + aac_packet_type.is_some() as usize))
    }

    /// The first byte.
    pub fn flags(&self) -> u8 {
        (self.format as u8) << 4
            | (self.rate & 3) << 2
            | (self.sixteen_bit as u8) << 1
            | self.stereo as u8
    }

    /// Appends the header.
    pub fn write(&self, out: &mut impl BufMut) {
        out.put_u8(self.flags());
        if let Some(pt) = self.aac_packet_type {
            out.put_u8(pt as u8);
        }
    }

    /// The header followed by `payload`, as one tag body.
    pub fn to_body(&self, payload: &[u8]) -> Bytes {
        let mut out = Vec::with_capacity(2 + payload.len());
        self.write(&mut out);
        out.extend_from_slice(payload);
        out.into()
    }
}

#[cfg(test)]
#[path = "legacy_tests.rs"]
mod tests;

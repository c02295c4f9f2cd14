//! Enhanced RTMP audio: the single-track [`ExAudioHeader`], whole bodies ([`ExAudioTag`])
//! and the MultichannelConfig payload.

use bytes::{BufMut, Bytes};

use super::multitrack::{read_tracks, write_tracks, Track};
use super::{
    read_mod_ex, write_mod_ex, AudioPacketType, AvMultitrackType, Cursor, FourCc, MediaError,
    Result, AUDIO_MULTITRACK, SOUND_FORMAT_EX,
};

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

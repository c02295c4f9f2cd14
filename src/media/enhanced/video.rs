//! Enhanced RTMP video: the single-track [`ExVideoHeader`] and whole bodies, [`ExVideoTag`].

use bytes::{BufMut, Bytes};

use super::multitrack::{read_tracks, write_tracks, Track};
use super::{
    put_u24, read_mod_ex, write_mod_ex, AvMultitrackType, Cursor, FourCc, MediaError, Result,
    VideoFrameType, VideoPacketType, EX_VIDEO_FLAG, VIDEO_MULTITRACK,
};

/// The single-track ExVideoTagHeader a packager writes in front of a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExVideoHeader {
    pub frame_type: VideoFrameType,
    pub packet_type: VideoPacketType,
    pub fourcc: FourCc,
    /// Milliseconds, signed 24-bit. On the wire only for CodedFrames of avc1/hvc1/vvc1;
    /// otherwise 0 when parsed and ignored when written.
    pub composition_time: i32,
    /// The TimestampOffsetNano ModEx (nanoseconds added to the message timestamp,
    /// 0..=999_999), when present.
    pub timestamp_offset_nanos: Option<u32>,
}

impl ExVideoHeader {
    /// A header without composition time or ModEx.
    pub fn new(frame_type: VideoFrameType, packet_type: VideoPacketType, fourcc: FourCc) -> Self {
        ExVideoHeader {
            frame_type,
            packet_type,
            fourcc,
            composition_time: 0,
            timestamp_offset_nanos: None,
        }
    }

    /// The header of a SequenceStart body (the configuration record follows).
    pub(crate) fn sequence_start(fourcc: FourCc) -> Self {
        Self::new(VideoFrameType::Key, VideoPacketType::SequenceStart, fourcc)
    }

    /// The header of a SequenceEnd body (nothing follows).
    pub(crate) fn sequence_end(fourcc: FourCc) -> Self {
        Self::new(VideoFrameType::Key, VideoPacketType::SequenceEnd, fourcc)
    }

    /// The header for coded frames the way ffmpeg writes them: codecs with a composition
    /// time use CodedFramesX when it is 0 and CodedFrames otherwise; the others CodedFrames.
    pub fn coded_frames(fourcc: FourCc, keyframe: bool, composition_time: i32) -> Self {
        let x = fourcc.has_composition_time() && composition_time == 0;
        let packet_type = if x {
            VideoPacketType::CodedFramesX
        } else {
            VideoPacketType::CodedFrames
        };
        ExVideoHeader {
            composition_time,
            ..Self::new(VideoFrameType::key_if(keyframe), packet_type, fourcc)
        }
    }

    fn carries_composition_time(&self) -> bool {
        self.packet_type == VideoPacketType::CodedFrames && self.fourcc.has_composition_time()
    }

    /// Parses the header of a single-track Enhanced RTMP video body; returns it and the
    /// offset where the payload starts. Multitrack bodies and command frames are errors
    /// here ([`MediaError::Unsupported`]); [`ExVideoTag::parse`] takes every form.
    pub fn parse(body: &[u8]) -> Result<(ExVideoHeader, usize)> {
        let mut cur = Cursor::new(body, "ExVideoTagHeader");
        let (first, packet_type, nanos) = read_ex_video_start(&mut cur)?;
        if packet_type == VIDEO_MULTITRACK {
            return Err(MediaError::Unsupported(
                "multitrack body (use ExVideoTag::parse)",
            ));
        }
        let frame_type = ex_frame_type(first)?;
        let packet_type = video_packet_type(packet_type)?;
        if frame_type == VideoFrameType::Command && packet_type != VideoPacketType::Metadata {
            return Err(MediaError::Unsupported(
                "command frame (use ExVideoTag::parse)",
            ));
        }
        let fourcc = cur.fourcc()?;
        let mut header = ExVideoHeader {
            frame_type,
            packet_type,
            fourcc,
            composition_time: 0,
            timestamp_offset_nanos: nanos,
        };
        if header.carries_composition_time() {
            header.composition_time = cur.si24()?;
        }
        Ok((header, cur.pos))
    }

    /// Bytes [`write`](Self::write) appends.
    pub fn encoded_len(&self) -> usize {
        let mod_ex = if self.timestamp_offset_nanos.is_some() {
            5
        } else {
            0
        };
        1 + mod_ex
            + 4
            + if self.carries_composition_time() {
                3
            } else {
                0
            }
    }

    /// Appends the header (ModEx block, FourCC, composition time where the format has one).
    pub fn write(&self, out: &mut impl BufMut) {
        let high = EX_VIDEO_FLAG | (self.frame_type as u8) << 4;
        match self.timestamp_offset_nanos {
            Some(nanos) => write_mod_ex(out, high, nanos, self.packet_type as u8),
            None => out.put_u8(high | self.packet_type as u8),
        }
        out.put_slice(&self.fourcc.0);
        if self.carries_composition_time() {
            put_u24(out, self.composition_time as u32 & 0x00FF_FFFF);
        }
    }

    /// The header followed by `payload`, as one tag body.
    pub fn to_body(&self, payload: &[u8]) -> Bytes {
        let mut out = Vec::with_capacity(self.encoded_len() + payload.len());
        self.write(&mut out);
        out.extend_from_slice(payload);
        out.into()
    }
}

fn read_ex_video_start(cur: &mut Cursor<'_>) -> Result<(u8, u8, Option<u32>)> {
    let first = cur.u8()?;
    if first & EX_VIDEO_FLAG == 0 {
        return Err(MediaError::Invalid(
            "ExVideoTagHeader (IsExHeader bit clear)",
        ));
    }
    let (packet_type, nanos) = read_mod_ex(cur, first & 0x0F)?;
    Ok((first, packet_type, nanos))
}

fn ex_frame_type(first: u8) -> Result<VideoFrameType> {
    VideoFrameType::from_u8((first >> 4) & 0x07).ok_or(MediaError::Invalid("VideoFrameType"))
}

fn video_packet_type(v: u8) -> Result<VideoPacketType> {
    VideoPacketType::from_u8(v).ok_or(MediaError::Invalid("VideoPacketType"))
}

/// A whole Enhanced RTMP video body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExVideoTag {
    /// The usual form: one header, one payload.
    Single {
        header: ExVideoHeader,
        payload: Bytes,
    },
    /// E-RTMP v2 multitrack: frame type and packet type apply to every track.
    Multitrack {
        frame_type: VideoFrameType,
        packet_type: VideoPacketType,
        timestamp_offset_nanos: Option<u32>,
        multitrack_type: AvMultitrackType,
        tracks: Vec<Track>,
    },
    /// A command frame: frame type Command and a VideoCommand byte (0 start seek, 1 end
    /// seek), no FourCC and no video. `packet_type` is the (ignored) nibble next to it.
    Command {
        packet_type: u8,
        command: u8,
        timestamp_offset_nanos: Option<u32>,
    },
}

fn video_cts(packet_type: u8, fourcc: FourCc) -> bool {
    packet_type == VideoPacketType::CodedFrames as u8 && fourcc.has_composition_time()
}

impl ExVideoTag {
    /// Parses a whole ExVideoTagHeader body. Payloads share `body`'s buffer.
    pub fn parse(body: &Bytes) -> Result<ExVideoTag> {
        let mut cur = Cursor::new(body, "ExVideoTagHeader");
        let (first, raw_packet_type, nanos) = read_ex_video_start(&mut cur)?;
        let frame_type = ex_frame_type(first)?;
        if frame_type == VideoFrameType::Command
            && raw_packet_type != VideoPacketType::Metadata as u8
        {
            return Ok(ExVideoTag::Command {
                packet_type: raw_packet_type,
                command: cur.u8()?,
                timestamp_offset_nanos: nanos,
            });
        }
        if raw_packet_type != VIDEO_MULTITRACK {
            let (header, start) = ExVideoHeader::parse(body)?;
            return Ok(ExVideoTag::Single {
                header,
                payload: body.slice(start..),
            });
        }
        let (packet_type, multitrack_type, tracks) = read_tracks(&mut cur, body, video_cts)?;
        Ok(ExVideoTag::Multitrack {
            frame_type,
            packet_type: video_packet_type(packet_type)?,
            timestamp_offset_nanos: nanos,
            multitrack_type,
            tracks,
        })
    }

    /// Appends the body; fails on an inconsistent multitrack layout (see [`Track`]).
    pub fn encode(&self, out: &mut impl BufMut) -> Result<()> {
        let (high, nanos, nibble) = match self {
            ExVideoTag::Single { header, payload } => {
                header.write(out);
                out.put_slice(payload);
                return Ok(());
            }
            ExVideoTag::Command {
                packet_type,
                timestamp_offset_nanos,
                ..
            } => (
                VideoFrameType::Command,
                timestamp_offset_nanos,
                packet_type & 0x0F,
            ),
            ExVideoTag::Multitrack {
                frame_type,
                timestamp_offset_nanos,
                ..
            } => (*frame_type, timestamp_offset_nanos, VIDEO_MULTITRACK),
        };
        let high = EX_VIDEO_FLAG | (high as u8) << 4;
        match nanos {
            Some(n) => write_mod_ex(out, high, *n, nibble),
            None => out.put_u8(high | nibble),
        }
        match self {
            ExVideoTag::Command { command, .. } => out.put_u8(*command),
            ExVideoTag::Multitrack {
                packet_type,
                multitrack_type,
                tracks,
                ..
            } => {
                let cts = *packet_type == VideoPacketType::CodedFrames;
                write_tracks(out, *packet_type as u8, *multitrack_type, tracks, cts)?;
            }
            ExVideoTag::Single { .. } => {}
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

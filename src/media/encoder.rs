//! Encoder output in, relay-ready [`Frame`]s out: one packager per track for every codec
//! the codec modules handle, so the bindings (C, Python) and applications need not know
//! FLV. Also names the codec of an FLV tag body, for frames going the other way.
//!
//! ```
//! use rtmp_core::media::encoder::{AudioCodec, AudioPackager};
//! # fn main() -> Result<(), rtmp_core::media::enhanced::MediaError> {
//! let mut aac = AudioPackager::new(AudioCodec::Aac)?;
//! // One ADTS frame (48 kHz stereo AAC-LC) holding 3 payload bytes.
//! let adts = [0xFF, 0xF1, 0x4C, 0x80, 0x01, 0x5F, 0xFC, 1, 2, 3];
//! let frames = aac.package(&adts, 0)?;
//! assert!(frames[0].sequence_header && !frames[1].sequence_header);
//! # Ok(()) }
//! ```

use bytes::Bytes;

use super::aac::{AacPackager, AudioSpecificConfig};
use super::av1::Av1Packager;
use super::avc::AvcPackager;
use super::enhanced::{
    AvMultitrackType, ExAudioTag, ExVideoTag, MediaError, PackagedAudio, PackagedVideo, Result,
    Track, VideoTagFormat,
};
use super::flv;
use super::hevc::HevcPackager;
use super::legacy::LegacyAudioHeader;
use super::opus::{OpusHead, OpusPackager};
use super::vpx::VpxPackager;
use crate::hub::Frame;
use crate::session::MediaKind;

/// A video codec an encoder emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    /// H.264 Annex-B access units with in-band SPS/PPS; sent as legacy FLV AVC, which
    /// every server and player understands.
    H264,
    /// HEVC Annex-B access units with in-band VPS/SPS/PPS; Enhanced RTMP `hvc1`.
    Hevc,
    /// AV1 temporal units (low-overhead OBUs); Enhanced RTMP `av01`.
    Av1,
    /// VP9 frames or superframes; Enhanced RTMP `vp09`.
    Vp9,
    /// VP8 frames; Enhanced RTMP `vp08`.
    Vp8,
}

impl VideoCodec {
    /// Parses a lower-case name: h264 (or avc), hevc (or h265), av1, vp9, vp8.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "h264" | "avc" => VideoCodec::H264,
            "hevc" | "h265" => VideoCodec::Hevc,
            "av1" => VideoCodec::Av1,
            "vp9" => VideoCodec::Vp9,
            "vp8" => VideoCodec::Vp8,
            _ => return None,
        })
    }
}

/// An audio codec an encoder emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    /// AAC in ADTS frames (one or more per call); legacy FLV AAC.
    Aac,
    /// Raw AAC frames, one per call; the AudioSpecificConfig comes from
    /// [`AudioPackager::set_config`].
    AacRaw,
    /// Opus packets; Enhanced RTMP `Opus`.
    Opus { channels: u8, sample_rate: u32 },
    /// MPEG-1/2 Layer III frames, one per call; legacy FLV MP3 (44.1/48, 22.05, 11.025
    /// or 8 kHz).
    Mp3 { channels: u8, sample_rate: u32 },
}

enum VideoInner {
    Avc(AvcPackager),
    Hevc(HevcPackager),
    Av1(Av1Packager),
    Vpx(VpxPackager),
}

/// Packages one video track's encoder output.
pub struct VideoPackager {
    inner: VideoInner,
    /// E-RTMP v2 track id; bodies of tracks other than 0 are OneTrack multitrack bodies.
    track: u8,
}

impl std::fmt::Debug for VideoPackager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VideoPackager")
    }
}

impl VideoPackager {
    /// A packager for `codec`: H.264 with legacy FLV tags, the others Enhanced RTMP.
    pub fn new(codec: VideoCodec) -> Self {
        let inner = match codec {
            VideoCodec::H264 => VideoInner::Avc(AvcPackager::with_format(VideoTagFormat::Legacy)),
            VideoCodec::Hevc => VideoInner::Hevc(HevcPackager::new()),
            VideoCodec::Av1 => VideoInner::Av1(Av1Packager::new()),
            VideoCodec::Vp9 => VideoInner::Vpx(VpxPackager::vp9()),
            VideoCodec::Vp8 => VideoInner::Vpx(VpxPackager::vp8()),
        };
        VideoPackager { inner, track: 0 }
    }

    /// A packager writing `format` tag headers. Legacy exists for H.264 and HEVC (codec
    /// id 12, the non-Adobe convention) only: [`MediaError::Unsupported`] otherwise.
    pub fn with_format(codec: VideoCodec, format: VideoTagFormat) -> Result<Self> {
        let mut packager = Self::new(codec);
        match &mut packager.inner {
            VideoInner::Avc(p) => *p = AvcPackager::with_format(format),
            VideoInner::Hevc(p) => *p = HevcPackager::with_format(format),
            _ if format == VideoTagFormat::Legacy => {
                return Err(MediaError::Unsupported(
                    "legacy FLV tags for AV1, VP8 or VP9 (Enhanced RTMP only)",
                ))
            }
            _ => {}
        }
        Ok(packager)
    }

    /// Configuration an encoder delivers out of band (its extradata): H.264 or HEVC
    /// parameter sets, in Annex-B or as a decoder configuration record. The next
    /// package call sends the sequence header. AV1, VP8 and VP9 carry theirs in band
    /// ([`MediaError::Unsupported`]).
    pub fn set_config(&mut self, extradata: &[u8]) -> Result<()> {
        match &mut self.inner {
            VideoInner::Avc(p) => p.set_parameter_sets(extradata),
            VideoInner::Hevc(p) => p.set_parameter_sets(extradata),
            _ => Err(MediaError::Unsupported(
                "out-of-band configuration for AV1, VP8 or VP9 (it is in band)",
            )),
        }
    }

    /// A packager for track `track_id` of an E-RTMP v2 multitrack stream (several video
    /// renditions or angles in one RTMP stream). Track 0 is the default track and is sent
    /// as an ordinary body; other tracks' bodies are OneTrack multitrack bodies, Enhanced
    /// RTMP whatever the codec (H.264 as `avc1`).
    pub fn with_track(codec: VideoCodec, track_id: u8) -> Result<Self> {
        let mut packager = if track_id == 0 {
            Self::new(codec)
        } else {
            Self::with_format(codec, VideoTagFormat::Enhanced)?
        };
        packager.track = track_id;
        Ok(packager)
    }

    /// Packages one access unit / temporal unit / frame with its presentation and decode
    /// times in milliseconds (`dts` = `pts` for codecs without reordering). Returns the
    /// frames to send in order: a sequence header first when the configuration appeared
    /// or changed, then the frame (none when the input held only configuration). Frame
    /// timestamps are the decode time for H.264 and HEVC (which carry pts - dts in the
    /// body) and the presentation time for AV1, VP8 and VP9 (which have no such field).
    pub fn package(&mut self, data: &[u8], pts: i64, dts: i64) -> Result<Vec<Frame>> {
        // Checked before packaging: a refused call leaves the packager as it was (a
        // sequence header it would have marked sent is still sent with the next frame).
        let timestamp = match self.inner {
            VideoInner::Avc(_) | VideoInner::Hevc(_) => timestamp_ms(dts, "dts")?,
            VideoInner::Av1(_) | VideoInner::Vpx(_) => timestamp_ms(pts, "pts")?,
        };
        let packaged = match &mut self.inner {
            VideoInner::Avc(p) => p.package(data, pts, dts)?,
            VideoInner::Hevc(p) => p.package(data, pts, dts)?,
            VideoInner::Av1(p) => p.package(data)?,
            VideoInner::Vpx(p) => p.package(data)?,
        };
        let packaged = if self.track == 0 {
            packaged
        } else {
            PackagedVideo {
                sequence_header: packaged
                    .sequence_header
                    .map(|b| video_on_track(&b, self.track))
                    .transpose()?,
                frame: packaged
                    .frame
                    .map(|b| video_on_track(&b, self.track))
                    .transpose()?,
                ..packaged
            }
        };
        let PackagedVideo {
            sequence_header,
            frame,
            keyframe,
            ..
        } = packaged;
        let mut out = Vec::with_capacity(2);
        if let Some(body) = sequence_header {
            out.push(Frame {
                kind: MediaKind::Video,
                timestamp,
                keyframe: false,
                sequence_header: true,
                payload: body,
            });
        }
        if let Some(body) = frame {
            out.push(Frame {
                kind: MediaKind::Video,
                timestamp,
                keyframe,
                sequence_header: false,
                payload: body,
            });
        }
        Ok(out)
    }
}

enum AudioInner {
    Aac(AacPackager),
    Opus(OpusPackager),
    /// MP3 has no configuration record: every body is this header plus a frame.
    Mp3(LegacyAudioHeader),
}

/// Packages one audio track's encoder output.
pub struct AudioPackager {
    inner: AudioInner,
    /// AAC arrives raw (one frame per call) rather than in ADTS.
    raw: bool,
    /// E-RTMP v2 track id; bodies of tracks other than 0 are OneTrack multitrack bodies.
    track: u8,
}

impl std::fmt::Debug for AudioPackager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AudioPackager")
    }
}

impl AudioPackager {
    /// A packager for `codec`. Opus here is mono or stereo; more channels need a full
    /// OpusHead: use [`OpusPackager`] directly.
    pub fn new(codec: AudioCodec) -> Result<Self> {
        let inner = match codec {
            AudioCodec::Aac | AudioCodec::AacRaw => AudioInner::Aac(AacPackager::new()),
            AudioCodec::Opus {
                channels,
                sample_rate,
            } => {
                // 3840 samples (80 ms) is the pre-skip libopus-based encoders use.
                AudioInner::Opus(OpusPackager::new(OpusHead::new(
                    channels,
                    3840,
                    sample_rate,
                )?))
            }
            AudioCodec::Mp3 {
                channels,
                sample_rate,
            } => AudioInner::Mp3(LegacyAudioHeader::mp3(sample_rate, channels)?),
        };
        Ok(AudioPackager {
            inner,
            raw: codec == AudioCodec::AacRaw,
            track: 0,
        })
    }

    /// A packager writing `format` tag headers: for AAC legacy (sound format 10, the
    /// default) or Enhanced RTMP `mp4a`; Opus is Enhanced RTMP only
    /// ([`MediaError::Unsupported`] for legacy).
    pub fn with_format(codec: AudioCodec, format: VideoTagFormat) -> Result<Self> {
        let mut packager = Self::new(codec)?;
        match &mut packager.inner {
            AudioInner::Aac(p) if format == VideoTagFormat::Enhanced => {
                let config = p.config().cloned();
                *p = AacPackager::enhanced();
                if let Some(config) = config {
                    p.set_config(config);
                }
            }
            AudioInner::Opus(_) if format == VideoTagFormat::Legacy => {
                return Err(MediaError::Unsupported("legacy FLV tags for Opus"))
            }
            AudioInner::Mp3(_) if format == VideoTagFormat::Enhanced => {
                return Err(MediaError::Unsupported("Enhanced RTMP tags for MP3 here"))
            }
            _ => {}
        }
        Ok(packager)
    }

    /// Configuration delivered out of band: an AAC AudioSpecificConfig (required for
    /// [`AudioCodec::AacRaw`]) or an OpusHead (for layouts beyond stereo).
    pub fn set_config(&mut self, data: &[u8]) -> Result<()> {
        match &mut self.inner {
            AudioInner::Aac(p) => p.set_config(AudioSpecificConfig::parse(data)?),
            AudioInner::Opus(p) => p.set_head(OpusHead::parse(data)?),
            AudioInner::Mp3(_) => {
                return Err(MediaError::Unsupported("MP3 has no configuration record"))
            }
        }
        Ok(())
    }

    /// A packager for track `track_id` of an E-RTMP v2 multitrack stream (several
    /// languages or mixes in one RTMP stream). Track 0 is sent as an ordinary body; other
    /// tracks' bodies are OneTrack multitrack bodies, Enhanced RTMP whatever the codec
    /// (AAC as `mp4a`).
    pub fn with_track(codec: AudioCodec, track_id: u8) -> Result<Self> {
        let format = match codec {
            AudioCodec::Aac | AudioCodec::AacRaw if track_id == 0 => VideoTagFormat::Legacy,
            _ => VideoTagFormat::Enhanced,
        };
        let mut packager = Self::with_format(codec, format)?;
        packager.track = track_id;
        Ok(packager)
    }

    /// Packages encoder output that starts at `pts` milliseconds: for AAC any number of
    /// ADTS frames (each 1024 samples after the one before, rounded to the nearest
    /// millisecond as ffmpeg's FLV muxer does), for raw AAC and Opus one frame.
    pub fn package(&mut self, data: &[u8], pts: i64) -> Result<Vec<Frame>> {
        let start = timestamp_ms(pts, "pts")?;
        let track = self.track;
        let mut out = Vec::new();
        let raw = self.raw;
        let mut push = |packaged: PackagedAudio, timestamp: u32| -> Result<()> {
            let on_track = |body: Bytes| {
                if track == 0 {
                    Ok(body)
                } else {
                    audio_on_track(&body, track)
                }
            };
            if let Some(body) = packaged.sequence_header {
                out.push(audio_frame(timestamp, true, on_track(body)?));
            }
            out.push(audio_frame(timestamp, false, on_track(packaged.frame)?));
            Ok(())
        };
        match &mut self.inner {
            AudioInner::Aac(p) if raw => push(p.push_raw(data)?, start)?,
            AudioInner::Aac(p) => {
                let packaged = p.push_adts(data)?;
                let rate = u64::from(p.config().map_or(48_000, |c| c.sample_rate.max(1)));
                for (i, one) in packaged.into_iter().enumerate() {
                    let offset = (i as u64 * 1024 * 1000 + rate / 2) / rate;
                    // RTMP timestamps wrap at 2^32 ms.
                    push(one, start.wrapping_add(offset as u32))?;
                }
            }
            AudioInner::Opus(p) => push(p.package(data), start)?,
            AudioInner::Mp3(header) => push(
                PackagedAudio {
                    sequence_header: None,
                    frame: header.to_body(data),
                },
                start,
            )?,
        }
        Ok(out)
    }
}

fn audio_frame(timestamp: u32, sequence_header: bool, payload: Bytes) -> Frame {
    Frame {
        kind: MediaKind::Audio,
        timestamp,
        keyframe: false,
        sequence_header,
        payload,
    }
}

/// Rewrites a single-track Enhanced RTMP video body as a OneTrack multitrack body.
fn video_on_track(body: &Bytes, track_id: u8) -> Result<Bytes> {
    let ExVideoTag::Single { header, payload } = ExVideoTag::parse(body)? else {
        return Err(MediaError::Invalid(
            "packager output is not a single-track body",
        ));
    };
    ExVideoTag::Multitrack {
        frame_type: header.frame_type,
        packet_type: header.packet_type,
        timestamp_offset_nanos: header.timestamp_offset_nanos,
        multitrack_type: AvMultitrackType::OneTrack,
        tracks: vec![Track {
            track_id,
            fourcc: header.fourcc,
            composition_time: header.composition_time,
            data: payload,
        }],
    }
    .to_bytes()
}

/// Rewrites a single-track Enhanced RTMP audio body as a OneTrack multitrack body.
fn audio_on_track(body: &Bytes, track_id: u8) -> Result<Bytes> {
    let ExAudioTag::Single { header, payload } = ExAudioTag::parse(body)? else {
        return Err(MediaError::Invalid(
            "packager output is not a single-track body",
        ));
    };
    ExAudioTag::Multitrack {
        packet_type: header.packet_type,
        timestamp_offset_nanos: header.timestamp_offset_nanos,
        multitrack_type: AvMultitrackType::OneTrack,
        tracks: vec![Track {
            track_id,
            fourcc: header.fourcc,
            composition_time: 0,
            data: payload,
        }],
    }
    .to_bytes()
}

fn timestamp_ms(ms: i64, what: &'static str) -> Result<u32> {
    u32::try_from(ms).map_err(|_| MediaError::TimestampOutOfRange { what, ms })
}

/// The codec of an FLV tag body, as a short lower-case name ("h264", "hevc", "av1",
/// "vp9", "vp8", "aac", "opus", "mp3", "flac", "ac3", "eac3", ...), or "unknown".
pub fn codec_name(kind: MediaKind, body: &[u8]) -> &'static str {
    let Some(&first) = body.first() else {
        return "unknown";
    };
    if let Some((fourcc, _)) = flv::ex_fourcc_and_track(body, kind == MediaKind::Video) {
        return match (kind, &fourcc) {
            (MediaKind::Video, b"avc1") => "h264",
            (MediaKind::Video, b"hvc1") => "hevc",
            (MediaKind::Video, b"av01") => "av1",
            (MediaKind::Video, b"vp09") => "vp9",
            (MediaKind::Video, b"vp08") => "vp8",
            (MediaKind::Audio, b"Opus") => "opus",
            (MediaKind::Audio, b"fLaC") => "flac",
            (MediaKind::Audio, b"ac-3") => "ac3",
            (MediaKind::Audio, b"ec-3") => "eac3",
            (MediaKind::Audio, b".mp3") => "mp3",
            (MediaKind::Audio, b"mp4a") => "aac",
            // A video FourCC in an audio tag (or the reverse) names nothing.
            _ => "unknown",
        };
    }
    match kind {
        // Enhanced, but a command frame or too short to name.
        MediaKind::Video if first & 0x80 != 0 => "unknown",
        MediaKind::Video => match first & 0x0F {
            2 => "h263",
            3 => "screen",
            4 | 5 => "vp6",
            6 => "screen2",
            7 => "h264",
            12 => "hevc",
            _ => "unknown",
        },
        MediaKind::Audio => match first >> 4 {
            0 | 3 => "pcm",
            1 => "adpcm",
            2 | 14 => "mp3",
            4..=6 => "nellymoser",
            7 => "alaw",
            8 => "mulaw",
            10 => "aac",
            11 => "speex",
            _ => "unknown",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annexb(nals: &[&[u8]]) -> Vec<u8> {
        nals.iter()
            .flat_map(|n| [&[0, 0, 0, 1][..], n].concat())
            .collect()
    }

    #[test]
    fn aac_frames_are_spaced_by_1024_samples() {
        let one = [0xFF, 0xF1, 0x4C, 0x80, 0x01, 0x5F, 0xFC, 1, 2, 3];
        let two = [one, one].concat();
        let mut p = AudioPackager::new(AudioCodec::Aac).unwrap();
        let frames = p.package(&two, 1000).unwrap();
        let stamps: Vec<_> = frames
            .iter()
            .map(|f| (f.timestamp, f.sequence_header))
            .collect();
        assert_eq!(stamps, [(1000, true), (1000, false), (1021, false)]);
        assert!(frames
            .iter()
            .all(|f| codec_name(f.kind, &f.payload) == "aac"));
    }

    #[test]
    fn raw_aac_takes_its_config_out_of_band_and_formats_are_checked() {
        let mut p = AudioPackager::new(AudioCodec::AacRaw).unwrap();
        assert!(p.package(&[1, 2, 3], 0).is_err());
        p.set_config(&[0x11, 0x90]).unwrap(); // AAC-LC, 48 kHz, stereo
        let frames = p.package(&[1, 2, 3], 5).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(&frames[1].payload[..], &[0xAF, 1, 1, 2, 3]);
        let enhanced = AudioPackager::with_format(AudioCodec::Aac, VideoTagFormat::Enhanced)
            .unwrap()
            .package(&[0xFF, 0xF1, 0x4C, 0x80, 0x01, 0x5F, 0xFC, 1, 2, 3], 0)
            .unwrap();
        assert_eq!(&enhanced[1].payload[..5], b"\x91mp4a");
        assert!(VideoPackager::with_format(VideoCodec::Av1, VideoTagFormat::Legacy).is_err());
        assert!(VideoPackager::new(VideoCodec::Vp9)
            .set_config(b"x")
            .is_err());
        let opus = AudioCodec::Opus {
            channels: 2,
            sample_rate: 48_000,
        };
        assert!(AudioPackager::with_format(opus, VideoTagFormat::Legacy).is_err());
    }

    #[test]
    fn mp3_frames_get_a_legacy_header_and_no_sequence_header() {
        let mut p = AudioPackager::new(AudioCodec::Mp3 {
            channels: 2,
            sample_rate: 44_100,
        })
        .unwrap();
        let frames = p.package(&[0xFF, 0xFB, 0x90, 0x64], 26).unwrap();
        assert_eq!(frames.len(), 1);
        assert_eq!(&frames[0].payload[..], &[0x2F, 0xFF, 0xFB, 0x90, 0x64]);
        assert_eq!(codec_name(MediaKind::Audio, &frames[0].payload), "mp3");
        let mut d = crate::media::decoder::Depacketizer::new();
        assert_eq!(
            &d.push(&frames[0]).unwrap()[0].data[..],
            &[0xFF, 0xFB, 0x90, 0x64]
        );
        assert!(AudioPackager::new(AudioCodec::Mp3 {
            channels: 2,
            sample_rate: 32_000
        })
        .is_err());
    }

    #[test]
    fn opus_gets_a_sequence_start_once() {
        let mut p = AudioPackager::new(AudioCodec::Opus {
            channels: 2,
            sample_rate: 48_000,
        })
        .unwrap();
        assert_eq!(p.package(&[0xFC, 1], 0).unwrap().len(), 2);
        let again = p.package(&[0xFC, 2], 20).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(codec_name(MediaKind::Audio, &again[0].payload), "opus");
    }

    #[test]
    fn h264_access_unit_becomes_header_and_keyframe_at_dts() {
        // SPS (baseline, 320x240 area), PPS, IDR slice.
        let sps = [0x67, 0x42, 0xC0, 0x1E, 0xD9, 0x01, 0x40, 0x7B, 0x20];
        let pps = [0x68, 0xCE, 0x3C, 0x80];
        let idr = [0x65, 0x88, 0x84, 0x00, 0x33];
        let mut p = VideoPackager::new(VideoCodec::H264);
        let frames = p.package(&annexb(&[&sps, &pps, &idr]), 80, 40).unwrap();
        assert_eq!(frames.len(), 2);
        assert!(frames[0].sequence_header && frames[1].keyframe);
        assert!(frames.iter().all(|f| f.timestamp == 40));
        assert_eq!(
            frames[1],
            Frame::from_tag(MediaKind::Video, 40, frames[1].payload.clone())
        );
        assert_eq!(codec_name(MediaKind::Video, &frames[1].payload), "h264");
        assert!(matches!(
            p.package(&annexb(&[&idr]), -1, -1),
            Err(MediaError::TimestampOutOfRange {
                what: "dts",
                ms: -1
            })
        ));
        // A refused call changes nothing: a new packager's header still comes first.
        let mut fresh = VideoPackager::new(VideoCodec::H264);
        assert!(fresh.package(&annexb(&[&sps, &pps, &idr]), 0, -40).is_err());
        let again = fresh.package(&annexb(&[&sps, &pps, &idr]), 80, 40).unwrap();
        assert!(again[0].sequence_header && again[1].keyframe);
    }

    #[test]
    fn other_tracks_are_one_track_multitrack_bodies_the_relay_classifies() {
        let sps = [0x67, 0x42, 0xC0, 0x1E, 0xD9, 0x01, 0x40, 0x7B, 0x20];
        let pps = [0x68, 0xCE, 0x3C, 0x80];
        let idr = [0x65, 0x88, 0x84, 0x00, 0x33];
        let mut p = VideoPackager::with_track(VideoCodec::H264, 2).unwrap();
        let frames = p.package(&annexb(&[&sps, &pps, &idr]), 0, 0).unwrap();
        for f in &frames {
            // Enhanced, packet type Multitrack; OneTrack (0) with the tracks' packet type.
            assert_eq!(f.payload[0] & 0x8F, 0x86);
            assert_eq!(codec_name(f.kind, &f.payload), "h264");
            let again = Frame::from_tag(f.kind, f.timestamp, f.payload.clone());
            assert_eq!(
                (again.keyframe, again.sequence_header),
                (f.keyframe, f.sequence_header)
            );
            let ExVideoTag::Multitrack { tracks, .. } = ExVideoTag::parse(&f.payload).unwrap()
            else {
                panic!("not multitrack");
            };
            assert_eq!((tracks.len(), tracks[0].track_id), (1, 2));
        }
        assert!(frames[0].sequence_header && frames[1].keyframe);

        let adts = [0xFF, 0xF1, 0x4C, 0x80, 0x01, 0x5F, 0xFC, 1, 2, 3];
        let mut a = AudioPackager::with_track(AudioCodec::Aac, 1).unwrap();
        let frames = a.package(&adts, 0).unwrap();
        assert!(frames[0].sequence_header && !frames[1].sequence_header);
        let ExAudioTag::Multitrack { tracks, .. } = ExAudioTag::parse(&frames[1].payload).unwrap()
        else {
            panic!("not multitrack");
        };
        assert_eq!(
            (tracks[0].track_id, &tracks[0].data[..]),
            (1, &[1u8, 2, 3][..])
        );
    }

    #[test]
    fn enhanced_fourccs_are_named() {
        assert_eq!(codec_name(MediaKind::Video, b"\x90hvc1"), "hevc");
        assert_eq!(codec_name(MediaKind::Video, b"\x96\x00av01\x01"), "av1");
        assert_eq!(codec_name(MediaKind::Audio, b"\x91Opus"), "opus");
        assert_eq!(codec_name(MediaKind::Audio, b""), "unknown");
        // Through a ModEx block (TimestampOffsetNano: 3 bytes, then the packet type 1).
        assert_eq!(
            codec_name(MediaKind::Video, b"\x97\x02\x00\x00\x01\x01hvc1"),
            "hevc"
        );
        assert_eq!(VideoCodec::from_name("h265"), Some(VideoCodec::Hevc));
    }
}

//! Relay frames in, decoder-ready data out: the reverse of [`super::encoder`], for
//! players. H.264/HEVC come out as Annex-B (parameter sets in front of keyframes), AV1
//! as temporal units, VP8/VP9 as frames, AAC as ADTS, Opus as packets, MP3 as frames;
//! E-RTMP v2 multitrack streams track by track.
//!
//! ```
//! use rtmp_core::media::decoder::Depacketizer;
//! use rtmp_core::media::encoder::{AudioCodec, AudioPackager};
//! # fn main() -> Result<(), rtmp_core::media::enhanced::MediaError> {
//! let adts = [0xFF, 0xF1, 0x4C, 0x80, 0x01, 0x5F, 0xFC, 1, 2, 3];
//! let frames = AudioPackager::new(AudioCodec::Aac)?.package(&adts, 0)?;
//! let mut depacketizer = Depacketizer::new();
//! assert!(depacketizer.push(&frames[0])?.is_empty()); // the AudioSpecificConfig
//! let decoded = depacketizer.push(&frames[1])?;
//! assert_eq!((decoded[0].codec, &decoded[0].data[..]), ("aac", &adts[..]));
//! # Ok(()) }
//! ```

use bytes::Bytes;

use super::aac::{to_adts, AacUnpacker};
use super::av1::Av1Unpacker;
use super::avc::AvcUnpacker;
use super::encoder::codec_name;
use super::enhanced::{
    ExAudioHeader, ExAudioTag, ExVideoHeader, ExVideoTag, MediaError, Result, VideoFrame,
};
use super::flv::{video_tag_info, VideoPacket};
use super::hevc::HevcUnpacker;
use super::opus::OpusUnpacker;
use super::vpx::{VpxCodec, VpxUnpacker};
use crate::hub::Frame;
use crate::session::MediaKind;

/// One frame as a decoder takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedFrame {
    pub kind: MediaKind,
    /// As [`codec_name`] names it.
    pub codec: &'static str,
    pub data: Bytes,
    /// Presentation and decode time in milliseconds (equal unless video reorders).
    pub pts: i64,
    pub dts: i64,
    pub keyframe: bool,
    /// The E-RTMP v2 track (0 for ordinary single-track streams); audio and video number
    /// their tracks separately.
    pub track_id: u8,
}

/// Turns one played stream's frames (audio and video, every E-RTMP v2 track) into
/// decoder input, keeping each track's codec configuration from its sequence headers.
#[derive(Debug)]
pub struct Depacketizer {
    /// Track 0 (ordinary bodies) first, then other tracks as they appear; at most 256.
    tracks: Vec<(u8, TrackUnpackers)>,
}

impl Default for Depacketizer {
    fn default() -> Self {
        Depacketizer {
            tracks: vec![(0, TrackUnpackers::default())],
        }
    }
}

impl Depacketizer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one frame and returns the decoder input it made: nothing for frames without
    /// media (sequence headers, end of sequence, video metadata and command frames, empty
    /// frames), one frame otherwise, or one per track for an E-RTMP v2 message that
    /// carries several. A frame this module cannot unpack (a codec without a depacketizer,
    /// a configuration it cannot express) is [`MediaError::Unsupported`]; media before its
    /// track's sequence header is [`MediaError::MissingConfig`]. In a message with several
    /// tracks, a track that fails is skipped (logged at debug) and the others still come
    /// out; the error is returned when every track failed.
    pub fn push(&mut self, frame: &Frame) -> Result<Vec<DecodedFrame>> {
        let mut out = Vec::new();
        if !carries_media(frame) {
            return Ok(out);
        }
        let tracks = match split_tracks(frame) {
            None => {
                out.extend(
                    self.track(0)
                        .push(frame.kind, frame.timestamp, &frame.payload, 0)?,
                );
                return Ok(out);
            }
            Some(tracks) => tracks?,
        };
        let mut failure = None;
        let mut any_ok = false;
        for (track_id, body) in tracks {
            match self
                .track(track_id)
                .push(frame.kind, frame.timestamp, &body, track_id)
            {
                Ok(made) => {
                    any_ok = true;
                    out.extend(made);
                }
                Err(e) => {
                    log::debug!("{:?} track {track_id} skipped: {e}", frame.kind);
                    failure.get_or_insert(e);
                }
            }
        }
        match failure {
            Some(e) if !any_ok => Err(e),
            _ => Ok(out),
        }
    }

    fn track(&mut self, track_id: u8) -> &mut TrackUnpackers {
        let at = match self.tracks.iter().position(|(id, _)| *id == track_id) {
            Some(at) => at,
            None => {
                self.tracks.push((track_id, TrackUnpackers::default()));
                self.tracks.len() - 1
            }
        };
        &mut self.tracks[at].1
    }
}

/// False for frames that hold no media in any codec: empty bodies, and video metadata and
/// command frames (ffmpeg sends colour metadata with HEVC, AV1 and VP9).
fn carries_media(frame: &Frame) -> bool {
    match frame.kind {
        _ if frame.payload.is_empty() => false,
        MediaKind::Video => !matches!(
            video_tag_info(&frame.payload).map(|info| info.packet),
            Some(VideoPacket::Command | VideoPacket::Metadata)
        ),
        MediaKind::Audio => true,
    }
}

/// An E-RTMP v2 multitrack body as one single-track body per track (what the per-codec
/// unpackers read); `None` for every other body, which goes to track 0 as it is.
fn split_tracks(frame: &Frame) -> Option<Result<Vec<(u8, Bytes)>>> {
    let body = &frame.payload;
    let first = *body.first()?;
    match frame.kind {
        MediaKind::Video if first & 0x80 != 0 => match ExVideoTag::parse(body) {
            Ok(ExVideoTag::Multitrack {
                frame_type,
                packet_type,
                tracks,
                ..
            }) => Some(Ok(tracks
                .into_iter()
                .map(|t| {
                    let header = ExVideoHeader {
                        composition_time: t.composition_time,
                        ..ExVideoHeader::new(frame_type, packet_type, t.fourcc)
                    };
                    (t.track_id, header.to_body(&t.data))
                })
                .collect())),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        },
        MediaKind::Audio if first >> 4 == 9 => match ExAudioTag::parse(body) {
            Ok(ExAudioTag::Multitrack {
                packet_type,
                tracks,
                ..
            }) => Some(Ok(tracks
                .into_iter()
                .map(|t| {
                    let header = ExAudioHeader::new(packet_type, t.fourcc);
                    (t.track_id, header.to_body(&t.data))
                })
                .collect())),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        },
        _ => None,
    }
}

/// One track's codec state: the configuration each codec's sequence header set.
#[derive(Debug, Default)]
struct TrackUnpackers {
    avc: AvcUnpacker,
    hevc: HevcUnpacker,
    av1: Av1Unpacker,
    vp9: Option<VpxUnpacker>,
    vp8: Option<VpxUnpacker>,
    aac: AacUnpacker,
    opus: OpusUnpacker,
}

impl TrackUnpackers {
    /// Takes one single-track body.
    fn push(
        &mut self,
        kind: MediaKind,
        timestamp: u32,
        body: &Bytes,
        track_id: u8,
    ) -> Result<Option<DecodedFrame>> {
        let codec = codec_name(kind, body);
        let dts = timestamp as i64;
        let video = |unpacked: Option<VideoFrame>| {
            unpacked.map(|v| DecodedFrame {
                kind: MediaKind::Video,
                codec,
                data: v.data,
                pts: dts + v.composition_time as i64,
                dts,
                keyframe: v.keyframe,
                track_id,
            })
        };
        let audio = |data: Option<Bytes>| {
            data.map(|data| DecodedFrame {
                kind: MediaKind::Audio,
                codec,
                data,
                pts: dts,
                dts,
                keyframe: false,
                track_id,
            })
        };
        Ok(match codec {
            "h264" => video(self.avc.push(body)?),
            "hevc" => video(self.hevc.push(body)?),
            "av1" => video(self.av1.push(body)?),
            "vp9" => video(
                self.vp9
                    .get_or_insert_with(|| VpxUnpacker::new(VpxCodec::Vp9))
                    .push(body)?,
            ),
            "vp8" => video(
                self.vp8
                    .get_or_insert_with(|| VpxUnpacker::new(VpxCodec::Vp8))
                    .push(body)?,
            ),
            "aac" => match self.aac.push(body)? {
                Some(raw) => {
                    let config = self
                        .aac
                        .config()
                        .ok_or(MediaError::MissingConfig("AAC frame before its config"))?;
                    audio(Some(Bytes::from(to_adts(&raw, config)?)))
                }
                None => None,
            },
            "opus" => audio(self.opus.push(body)?),
            // Legacy MP3 tags: one header byte, then the MPEG audio frame.
            "mp3" if body.first().is_some_and(|b| b >> 4 != 9) => {
                audio((body.len() > 1).then(|| body.slice(1..)))
            }
            _ => return Err(MediaError::Unsupported("codec without a depacketizer")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::encoder::{VideoCodec, VideoPackager};

    #[test]
    fn h264_round_trips_through_encoder_and_decoder() {
        let sps = [0x67, 0x42, 0xC0, 0x1E, 0xD9, 0x01, 0x40, 0x7B, 0x20];
        let pps = [0x68, 0xCE, 0x3C, 0x80];
        let idr = [0x65, 0x88, 0x84, 0x00, 0x33];
        let p_slice = [0x41, 0x9A, 0x02, 0x04];
        let annexb = |nals: &[&[u8]]| -> Vec<u8> {
            nals.iter()
                .flat_map(|n| [&[0, 0, 0, 1][..], n].concat())
                .collect()
        };
        let mut packager = VideoPackager::new(VideoCodec::H264);
        let mut frames = packager
            .package(&annexb(&[&sps, &pps, &idr]), 80, 0)
            .unwrap();
        frames.extend(packager.package(&annexb(&[&p_slice]), 40, 40).unwrap());
        let mut depacketizer = Depacketizer::new();
        let out: Vec<_> = frames
            .iter()
            .flat_map(|f| depacketizer.push(f).unwrap())
            .collect();
        assert_eq!(out.len(), 2);
        assert_eq!(&out[0].data[..], &annexb(&[&sps, &pps, &idr])[..]);
        assert!(out[0].keyframe && out[0].pts == 80 && out[0].dts == 0);
        assert_eq!(&out[1].data[..], &annexb(&[&p_slice])[..]);
        assert_eq!((out[1].pts, out[1].dts, out[1].keyframe), (40, 40, false));
    }

    fn annexb(nals: &[&[u8]]) -> Vec<u8> {
        nals.iter()
            .flat_map(|n| [&[0, 0, 0, 1][..], n].concat())
            .collect()
    }

    #[test]
    fn multitrack_streams_come_out_track_by_track_each_with_its_own_configuration() {
        use crate::media::encoder::{AudioCodec, AudioPackager};
        // Track 0 at one resolution (ordinary bodies), track 3 at another (OneTrack
        // multitrack bodies, as OBS sends renditions): each SPS belongs to its track.
        let sps0 = [0x67, 0x42, 0xC0, 0x1E, 0xD9, 0x01, 0x40, 0x7B, 0x20];
        let sps3 = [0x67, 0x42, 0xC0, 0x0A, 0xD9, 0x02, 0x84, 0x7E, 0x5C];
        let pps = [0x68, 0xCE, 0x3C, 0x80];
        let idr = [0x65, 0x88, 0x84, 0x00, 0x33];
        let mut track0 = VideoPackager::with_track(VideoCodec::H264, 0).unwrap();
        let mut track3 = VideoPackager::with_track(VideoCodec::H264, 3).unwrap();
        let mut frames = track0.package(&annexb(&[&sps0, &pps, &idr]), 0, 0).unwrap();
        frames.extend(track3.package(&annexb(&[&sps3, &pps, &idr]), 0, 0).unwrap());
        let adts = [0xFF, 0xF1, 0x4C, 0x80, 0x01, 0x5F, 0xFC, 1, 2, 3];
        frames.extend(
            AudioPackager::with_track(AudioCodec::Aac, 1)
                .unwrap()
                .package(&adts, 0)
                .unwrap(),
        );
        let mut d = Depacketizer::new();
        let out: Vec<_> = frames.iter().flat_map(|f| d.push(f).unwrap()).collect();
        let summary: Vec<_> = out.iter().map(|o| (o.kind, o.codec, o.track_id)).collect();
        assert_eq!(
            summary,
            [
                (MediaKind::Video, "h264", 0),
                (MediaKind::Video, "h264", 3),
                (MediaKind::Audio, "aac", 1)
            ]
        );
        assert_eq!(&out[0].data[..], &annexb(&[&sps0, &pps, &idr])[..]);
        assert_eq!(&out[1].data[..], &annexb(&[&sps3, &pps, &idr])[..]);
        assert_eq!(&out[2].data[..], &adts[..]);

        // A track whose sequence header never came is not decoded with another's.
        let mut fresh = Depacketizer::new();
        fresh.push(&frames[0]).unwrap();
        assert!(matches!(
            fresh.push(&frames[3]),
            Err(MediaError::MissingConfig(_))
        ));
    }

    #[test]
    fn a_message_carrying_several_tracks_makes_one_frame_per_track() {
        use crate::media::enhanced::{
            AvMultitrackType, FourCc, Track, VideoFrameType, VideoPacketType,
        };
        let record = |sps: &[u8]| {
            let mut p = VideoPackager::with_track(VideoCodec::H264, 1).unwrap();
            let frames = p.package(&annexb(&[sps, &[0x68, 0xCE, 0x3C, 0x80]]), 0, 0);
            let ExVideoTag::Multitrack { tracks, .. } =
                ExVideoTag::parse(&frames.unwrap()[0].payload).unwrap()
            else {
                panic!("not multitrack");
            };
            tracks[0].data.clone()
        };
        let sps = [0x67, 0x42, 0xC0, 0x1E, 0xD9, 0x01, 0x40, 0x7B, 0x20];
        let message = |packet_type, frame_type, data: [Bytes; 2]| {
            let [a, b] = data;
            let track = |track_id, data| Track {
                track_id,
                fourcc: FourCc::AVC1,
                composition_time: 0,
                data,
            };
            let tag = ExVideoTag::Multitrack {
                frame_type,
                packet_type,
                timestamp_offset_nanos: None,
                multitrack_type: AvMultitrackType::ManyTracks,
                tracks: vec![track(1, a), track(2, b)],
            };
            Frame::from_tag(MediaKind::Video, 80, tag.to_bytes().unwrap())
        };
        let config = record(&sps);
        let headers = message(
            VideoPacketType::SequenceStart,
            VideoFrameType::Key,
            [config.clone(), config],
        );
        // AVCC: 4-byte lengths (the packager's record says so).
        let idr = Bytes::from_static(&[0, 0, 0, 5, 0x65, 0x88, 0x84, 0x00, 0x33]);
        let p_slice = Bytes::from_static(&[0, 0, 0, 4, 0x41, 0x9A, 0x02, 0x04]);
        let pictures = message(
            VideoPacketType::CodedFrames,
            VideoFrameType::Key,
            [idr, p_slice],
        );
        let mut d = Depacketizer::new();
        assert!(d.push(&headers).unwrap().is_empty());
        let out = d.push(&pictures).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].track_id, out[1].track_id), (1, 2));
        assert!(out
            .iter()
            .all(|o| o.keyframe && o.pts == 80 && o.codec == "h264"));
        assert!(out[0]
            .data
            .ends_with(&[0, 0, 0, 1, 0x65, 0x88, 0x84, 0x00, 0x33]));
        assert!(out[1].data.ends_with(&[0, 0, 0, 1, 0x41, 0x9A, 0x02, 0x04]));

        // A track this module cannot unpack (VVC) does not cost the others theirs.
        let mixed = |packet_type, data: [Bytes; 2]| {
            let [vvc, avc] = data;
            let tag = ExVideoTag::Multitrack {
                frame_type: VideoFrameType::Key,
                packet_type,
                timestamp_offset_nanos: None,
                multitrack_type: AvMultitrackType::ManyTracksManyCodecs,
                tracks: vec![
                    Track {
                        track_id: 2,
                        fourcc: FourCc(*b"vvc1"),
                        composition_time: 0,
                        data: vvc,
                    },
                    Track {
                        track_id: 1,
                        fourcc: FourCc::AVC1,
                        composition_time: 0,
                        data: avc,
                    },
                ],
            };
            Frame::from_tag(MediaKind::Video, 120, tag.to_bytes().unwrap())
        };
        let mut d = Depacketizer::new();
        let vvc = Bytes::from_static(b"vvc");
        let headers = mixed(VideoPacketType::SequenceStart, [vvc.clone(), record(&sps)]);
        assert_eq!(d.push(&headers).unwrap(), []);
        let idr = Bytes::from_static(&[0, 0, 0, 5, 0x65, 0x88, 0x84, 0x00, 0x33]);
        let mixed_pictures = mixed(VideoPacketType::CodedFrames, [vvc, idr]);
        let out = d.push(&mixed_pictures).unwrap();
        assert_eq!((out.len(), out[0].track_id, out[0].codec), (1, 1, "h264"));
        // Every track failing (VVC, and H.264 before its configuration) is the message's
        // error: the first track's.
        let mut fresh = Depacketizer::new();
        assert!(matches!(
            fresh.push(&mixed_pictures),
            Err(MediaError::Unsupported(_))
        ));
    }

    #[test]
    fn unknown_codecs_are_an_error_not_a_panic() {
        let mut d = Depacketizer::new();
        let speex = Frame::from_tag(MediaKind::Audio, 0, Bytes::from_static(b"\xB2abc"));
        assert!(matches!(d.push(&speex), Err(MediaError::Unsupported(_))));
        // Frames without media are not errors: they make nothing.
        let empty = Frame::from_tag(MediaKind::Video, 0, Bytes::new());
        assert_eq!(d.push(&empty).unwrap(), []);
        // ffmpeg's colour metadata (E-RTMP Metadata, frame type Command) and a seek command.
        let metadata = Frame::from_tag(
            MediaKind::Video,
            0,
            Bytes::from_static(b"\xd4hvc1\x02\x00\x09colorInfo"),
        );
        assert_eq!(d.push(&metadata).unwrap(), []);
        let seek = Frame::from_tag(MediaKind::Video, 0, Bytes::from_static(b"\x50\x00"));
        assert_eq!(d.push(&seek).unwrap(), []);
    }
}

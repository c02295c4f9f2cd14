//! Relay frames in, decoder-ready data out: the reverse of [`super::encoder`], for
//! players. H.264/HEVC come out as Annex-B (parameter sets in front of keyframes), AV1
//! as temporal units, VP8/VP9 as frames, AAC as ADTS, Opus as packets, MP3 as frames.
//!
//! ```
//! use rtmp_core::media::decoder::Depacketizer;
//! use rtmp_core::media::encoder::{AudioCodec, AudioPackager};
//! # fn main() -> Result<(), rtmp_core::media::enhanced::MediaError> {
//! let adts = [0xFF, 0xF1, 0x4C, 0x80, 0x01, 0x5F, 0xFC, 1, 2, 3];
//! let frames = AudioPackager::new(AudioCodec::Aac)?.package(&adts, 0)?;
//! let mut depacketizer = Depacketizer::new();
//! assert!(depacketizer.push(&frames[0])?.is_none()); // the AudioSpecificConfig
//! let decoded = depacketizer.push(&frames[1])?.unwrap();
//! assert_eq!((decoded.codec, &decoded.data[..]), ("aac", &adts[..]));
//! # Ok(()) }
//! ```

use bytes::Bytes;

use super::aac::{to_adts, AacUnpacker};
use super::av1::Av1Unpacker;
use super::avc::AvcUnpacker;
use super::encoder::codec_name;
use super::enhanced::{MediaError, Result, VideoFrame};
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
}

/// Turns one played stream's frames (both tracks) into decoder input, keeping each
/// codec's configuration from its sequence headers.
#[derive(Debug, Default)]
pub struct Depacketizer {
    avc: AvcUnpacker,
    hevc: HevcUnpacker,
    av1: Av1Unpacker,
    vp9: Option<VpxUnpacker>,
    vp8: Option<VpxUnpacker>,
    aac: AacUnpacker,
    opus: OpusUnpacker,
}

impl Depacketizer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one frame. Sequence headers (and end-of-sequence, metadata, empty frames)
    /// update the state and return `None`; media returns the decoder's input. Codecs
    /// this module does not unpack, and E-RTMP v2 multitrack bodies (one depacketizer
    /// serves one track), are [`MediaError::Unsupported`].
    pub fn push(&mut self, frame: &Frame) -> Result<Option<DecodedFrame>> {
        let codec = codec_name(frame.kind, &frame.payload);
        let dts = frame.timestamp as i64;
        let body = &frame.payload;
        let video = |unpacked: Option<VideoFrame>| {
            unpacked.map(|v| DecodedFrame {
                kind: MediaKind::Video,
                codec,
                data: v.data,
                pts: dts + v.composition_time as i64,
                dts,
                keyframe: v.keyframe,
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
            .filter_map(|f| depacketizer.push(f).unwrap())
            .collect();
        assert_eq!(out.len(), 2);
        assert_eq!(&out[0].data[..], &annexb(&[&sps, &pps, &idr])[..]);
        assert!(out[0].keyframe && out[0].pts == 80 && out[0].dts == 0);
        assert_eq!(&out[1].data[..], &annexb(&[&p_slice])[..]);
        assert_eq!((out[1].pts, out[1].dts, out[1].keyframe), (40, 40, false));
    }

    #[test]
    fn unknown_codecs_are_an_error_not_a_panic() {
        let mut d = Depacketizer::new();
        let speex = Frame::from_tag(MediaKind::Audio, 0, Bytes::from_static(b"\xB2abc"));
        assert!(matches!(d.push(&speex), Err(MediaError::Unsupported(_))));
        let empty = Frame::from_tag(MediaKind::Video, 0, Bytes::new());
        assert!(d.push(&empty).is_err());
    }
}

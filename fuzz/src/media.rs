//! Fuzz target `media`: what a publisher's or a file's bytes reach in `media`: the FLV
//! file reader, tag classification and codec naming, the depacketizer (tag bodies to
//! decoder input, every codec), and the packagers (encoder output to tag bodies).
//!
//! Input: `[flags] [records ...]`, each record `[selector] [len_hi] [len_lo] [body]`
//! (a short last record takes what is left). Selector bit 0: audio (1) or video (0);
//! bits 1-3 pick the packager that also gets the body (0-4: H.264, HEVC, AV1, VP9, VP8;
//! 5: AAC ADTS; 6: Opus; 7: none). Flags bit 0: also read the whole input after the flags
//! byte as an FLV file.
//!
//! Checks: no panic; a depacketized frame's codec is the tag's codec name, its dts the
//! tag's timestamp; packaged frames classify (`Frame::from_tag`) exactly as the packager
//! flagged them.

use bytes::Bytes;
use rtmp_core::media::decoder::Depacketizer;
use rtmp_core::media::encoder::{codec_name, AudioCodec, AudioPackager, VideoCodec, VideoPackager};
use rtmp_core::media::enhanced::{ExAudioTag, ExVideoTag};
use rtmp_core::media::flv::FlvReader;
use rtmp_core::{Frame, MediaKind};

pub fn run(data: &[u8]) {
    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };
    if flags & 1 != 0 {
        for tag in FlvReader::from_bytes(Bytes::copy_from_slice(rest))
            .into_iter()
            .flatten()
            .take(10_000)
        {
            let _ = tag;
        }
    }
    let mut depacketizer = Depacketizer::new();
    let mut video: Vec<(VideoCodec, VideoPackager)> = Vec::new();
    let mut audio: Vec<(u8, AudioPackager)> = Vec::new();
    let mut timestamp = 0u32;
    while let Some((&selector, after)) = rest.split_first() {
        let len = match after {
            [hi, lo, ..] => usize::from(*hi) << 8 | usize::from(*lo),
            _ => after.len(),
        };
        let after = after.get(2..).unwrap_or(&[]);
        let (body, next) = after.split_at(len.min(after.len()));
        rest = next;
        timestamp = timestamp.wrapping_add(u32::from(selector));
        let kind = if selector & 1 != 0 {
            MediaKind::Audio
        } else {
            MediaKind::Video
        };
        let frame = Frame::from_tag(kind, timestamp, Bytes::copy_from_slice(body));
        let decoded = depacketizer.push(&frame).unwrap_or_default();
        for decoded in &decoded {
            assert_ne!(decoded.codec, "unknown");
            assert_eq!(decoded.dts, i64::from(timestamp));
            assert_eq!(decoded.kind, kind);
        }
        // An ordinary body is one track: it names the codec of what it made.
        if let [only] = &decoded[..] {
            if only.track_id == 0 && !body.is_empty() && !is_multitrack(kind, &frame.payload) {
                assert_eq!(only.codec, codec_name(kind, body));
            }
        }
        let packaged = match (selector >> 1) & 7 {
            n @ 0..=4 => {
                let codec = [
                    VideoCodec::H264,
                    VideoCodec::Hevc,
                    VideoCodec::Av1,
                    VideoCodec::Vp9,
                    VideoCodec::Vp8,
                ][usize::from(n)];
                let packager = match video.iter().position(|(c, _)| *c == codec) {
                    Some(i) => &mut video[i].1,
                    None => {
                        video.push((codec, VideoPackager::new(codec)));
                        &mut video.last_mut().unwrap().1
                    }
                };
                let pts = i64::from(timestamp) + i64::from(selector & 0x30);
                packager.package(body, pts, i64::from(timestamp))
            }
            n @ 5..=6 => {
                let packager = match audio.iter().position(|(c, _)| *c == n) {
                    Some(i) => &mut audio[i].1,
                    None => {
                        let codec = if n == 5 {
                            AudioCodec::Aac
                        } else {
                            AudioCodec::Opus {
                                channels: 2,
                                sample_rate: 48_000,
                            }
                        };
                        audio.push((n, AudioPackager::new(codec).unwrap()));
                        &mut audio.last_mut().unwrap().1
                    }
                };
                packager.package(body, i64::from(timestamp))
            }
            _ => continue,
        };
        for out in packaged.into_iter().flatten() {
            let again = Frame::from_tag(out.kind, out.timestamp, out.payload.clone());
            assert_eq!(
                (again.keyframe, again.sequence_header),
                (out.keyframe, out.sequence_header),
                "packager flags disagree with the tag's"
            );
        }
    }
}

/// An E-RTMP v2 multitrack body, which the depacketizer splits into tracks.
fn is_multitrack(kind: MediaKind, body: &Bytes) -> bool {
    match (kind, body.first()) {
        (MediaKind::Video, Some(b)) if b & 0x80 != 0 => {
            matches!(ExVideoTag::parse(body), Ok(ExVideoTag::Multitrack { .. }))
        }
        (MediaKind::Audio, Some(b)) if b >> 4 == 9 => {
            matches!(ExAudioTag::parse(body), Ok(ExAudioTag::Multitrack { .. }))
        }
        _ => false,
    }
}

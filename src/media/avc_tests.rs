//! H.264 tests: SPS and avcC parsing, and packaging checked byte for byte against
//! ffmpeg's FLV muxer on the same encoded stream.

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::media::enhanced::tests::{annexb_access_units, fixture, flv_tags, packets};
use crate::media::enhanced::{ExVideoHeader, VideoPacketType};
use crate::media::flv::{self, TagKind};
use crate::media::legacy::LegacyVideoHeader;
use crate::media::nal::length_prefixed;

fn nals(data: &[u8]) -> Vec<&[u8]> {
    split_annexb(data).collect()
}

/// The access units of an Annex-B fixture: each starts at an access unit delimiter.
fn access_units(data: &[u8]) -> Vec<&[u8]> {
    annexb_access_units(data, |n| nal_type(n) == NAL_AUD)
}

/// Packages `NAME.h264` with the timestamps of `NAME.flv` and compares every body with
/// what ffmpeg's FLV muxer wrote for the same packets.
fn packages_like_ffmpeg(name: &str) -> (usize, usize) {
    let annexb = fixture(&format!("{name}.h264"));
    let units = access_units(&annexb);
    let tags = flv_tags(&format!("{name}.flv"), TagKind::Video);
    let (seq, rest) = tags.split_first().unwrap();
    assert!(flv::video_is_sequence_header(&seq.body));
    let frames: Vec<_> = rest.iter().filter(|t| t.body[1] == 1).collect();
    assert_eq!(units.len(), frames.len());
    let probed = packets(&format!("{name}.h264"));
    assert_eq!(probed.len(), units.len());

    let mut packager = AvcPackager::new();
    let mut keyframes = 0;
    for (i, (au, tag)) in units.iter().zip(&frames).enumerate() {
        let (h, _) = LegacyVideoHeader::parse(&tag.body).unwrap();
        let dts = tag.timestamp as i64;
        let out = packager
            .package(au, dts + h.composition_time as i64, dts)
            .unwrap();
        if i == 0 {
            assert_eq!(
                out.sequence_header.as_ref(),
                Some(&seq.body),
                "avcC differs from ffmpeg's"
            );
        } else {
            assert_eq!(
                out.sequence_header, None,
                "repeated SPS/PPS made a new header"
            );
        }
        assert_eq!(out.frame.as_ref(), Some(&tag.body), "frame {i} differs");
        assert_eq!(out.keyframe, probed[i].key, "keyframe flag of frame {i}");
        assert_eq!(out.keyframe, flv::video_is_keyframe(&tag.body));
        keyframes += out.keyframe as usize;
    }
    // The record parses and writes back unchanged.
    let record = &seq.body[5..];
    assert_eq!(AvcConfig::parse(record).unwrap().to_bytes(), record);
    assert_eq!(packager.config().unwrap().to_bytes(), record);
    (units.len(), keyframes)
}

#[test]
fn high_profile_with_b_frames_matches_ffmpeg() {
    assert_eq!(packages_like_ffmpeg("avc"), (30, 3));
    let config = AvcConfig::parse(&flv_tags("avc.flv", TagKind::Video)[0].body[5..]).unwrap();
    assert_eq!(
        (config.profile, config.level, config.length_size),
        (100, 10, 4)
    );
    let ext = config.ext.unwrap();
    assert_eq!(
        (ext.chroma_format, ext.bit_depth_luma, ext.bit_depth_chroma),
        (1, 8, 8)
    );
}

#[test]
fn baseline_without_extension_matches_ffmpeg() {
    assert_eq!(packages_like_ffmpeg("avc_baseline"), (3, 1));
    let config =
        AvcConfig::parse(&flv_tags("avc_baseline.flv", TagKind::Video)[0].body[5..]).unwrap();
    assert_eq!(
        (config.profile, config.compatibility, config.ext),
        (66, 0xc0, None)
    );
}

#[test]
fn high_422_10_bit_extension_matches_ffmpeg() {
    assert_eq!(packages_like_ffmpeg("avc_high422"), (3, 1));
    let sps = AvcSps::parse(
        &AvcConfig::parse(&flv_tags("avc_high422.flv", TagKind::Video)[0].body[5..])
            .unwrap()
            .sps[0],
    )
    .unwrap();
    assert_eq!(
        (
            sps.profile_idc,
            sps.chroma_format_idc,
            sps.bit_depth_luma,
            sps.bit_depth_chroma
        ),
        (122, 2, 10, 10)
    );
}

#[test]
fn enhanced_avc1_carries_the_same_payload() {
    let annexb = fixture("avc.h264");
    let tags = flv_tags("avc.flv", TagKind::Video);
    let mut legacy = AvcPackager::new();
    let mut enhanced = AvcPackager::with_format(VideoTagFormat::Enhanced);
    for (au, tag) in access_units(&annexb).iter().zip(tags.iter().skip(1)) {
        let (h, _) = LegacyVideoHeader::parse(&tag.body).unwrap();
        let (dts, pts) = (
            tag.timestamp as i64,
            tag.timestamp as i64 + h.composition_time as i64,
        );
        let a = legacy.package(au, pts, dts).unwrap();
        let b = enhanced.package(au, pts, dts).unwrap();
        if let Some(seq) = &b.sequence_header {
            let (eh, start) = ExVideoHeader::parse(seq).unwrap();
            assert_eq!(
                (eh.packet_type, eh.fourcc),
                (VideoPacketType::SequenceStart, FourCc::AVC1)
            );
            assert_eq!(seq[start..], a.sequence_header.as_ref().unwrap()[5..]);
        }
        let frame = b.frame.unwrap();
        let (eh, start) = ExVideoHeader::parse(&frame).unwrap();
        assert_eq!(eh.composition_time, h.composition_time);
        let x = if h.composition_time == 0 {
            VideoPacketType::CodedFramesX
        } else {
            VideoPacketType::CodedFrames
        };
        assert_eq!(eh.packet_type, x);
        assert_eq!(frame[start..], a.frame.unwrap()[5..]);
        assert_eq!(flv::video_is_keyframe(&frame), b.keyframe);
    }
}

#[test]
fn unpacking_ffmpeg_flv_gives_back_the_nal_units() {
    let annexb = fixture("avc.h264");
    let mut unpacker = AvcUnpacker::new();
    let mut units = access_units(&annexb).into_iter();
    let is_ps = |n: &&[u8]| matches!(nal_type(n), NAL_SPS | NAL_PPS | NAL_AUD);
    for tag in flv_tags("avc.flv", TagKind::Video) {
        let Some(frame) = unpacker.push(&tag.body).unwrap() else {
            continue;
        };
        let input: Vec<&[u8]> = nals(units.next().unwrap())
            .into_iter()
            .filter(|n| !is_ps(n))
            .collect();
        let output = nals(&frame.data);
        let body: Vec<&[u8]> = output.iter().copied().filter(|n| !is_ps(n)).collect();
        assert_eq!(body, input);
        if frame.keyframe {
            assert_eq!(nal_type(output[0]), NAL_SPS);
            assert_eq!(nal_type(output[1]), NAL_PPS);
        }
    }
    assert!(units.next().is_none());
}

#[test]
fn parameter_set_changes_and_errors() {
    let baseline =
        AvcConfig::parse(&flv_tags("avc_baseline.flv", TagKind::Video)[0].body[5..]).unwrap();
    let high = AvcConfig::parse(&flv_tags("avc.flv", TagKind::Video)[0].body[5..]).unwrap();
    let au = |sets: &AvcConfig, slice: &[u8]| {
        let mut out = Vec::new();
        for n in sets.parameter_sets().map(|b| &b[..]).chain([slice]) {
            out.extend_from_slice(&[0, 0, 1]);
            out.extend_from_slice(n);
        }
        out
    };
    let mut p = AvcPackager::new();
    assert!(matches!(
        p.package(b"\x00\x00\x01\x41\x9a", 0, 0),
        Err(MediaError::MissingConfig(_))
    ));
    let out = p.package(&au(&baseline, b"\x65\x88"), 0, 0).unwrap();
    assert_eq!(out.sequence_header.unwrap()[5..], baseline.to_bytes());
    // A new SPS/PPS with the same ids replaces the old ones: a new sequence header.
    let out = p.package(&au(&high, b"\x65\x88"), 40, 40).unwrap();
    assert_eq!(out.sequence_header.unwrap()[5..], high.to_bytes());
    // Parameter sets alone: a header, no frame.
    let mut p = AvcPackager::new();
    let out = p.package(&au(&high, b"\x09\xf0"), 0, 0).unwrap();
    assert!(out.sequence_header.is_some() && out.frame.is_none());
    // Composition time must fit 24 bits.
    assert_eq!(
        p.package(b"\x00\x00\x01\x41\x9a", 0x80_0000, 0),
        Err(MediaError::CompositionTimeOutOfRange(0x80_0000))
    );
    let out = p.package(b"\x00\x00\x01\x41\x9a", 0, 10).unwrap();
    assert_eq!(&out.frame.unwrap()[..5], b"\x27\x01\xff\xff\xf6");
    assert_eq!(p.end_of_sequence(), &b"\x17\x02\x00\x00\x00"[..]);
    // Out-of-band extradata: avcC or Annex-B.
    for extradata in [
        high.to_bytes().to_vec(),
        au(&high, b"")[..au(&high, b"").len() - 3].to_vec(),
    ] {
        let mut p = AvcPackager::with_format(VideoTagFormat::Enhanced);
        p.set_parameter_sets(&extradata).unwrap();
        let out = p.package(b"\x00\x00\x01\x65\x88", 0, 0).unwrap();
        assert_eq!(out.sequence_header.unwrap()[5..], high.to_bytes());
        assert_eq!(&out.frame.unwrap()[..], b"\x93avc1\x00\x00\x00\x02\x65\x88");
    }
}

#[test]
fn unpacker_errors() {
    let mut u = AvcUnpacker::new();
    assert!(matches!(
        u.push(&Bytes::from_static(b"\x27\x01\0\0\0\0\0\0\x01\x41")),
        Err(MediaError::MissingConfig(_))
    ));
    assert!(u.push(&Bytes::from_static(b"\x1c\x00\0\0\0")).is_err()); // codec id 12
    assert!(u.push(&Bytes::from_static(b"\x90hvc1")).is_err()); // another FourCC
    assert_eq!(u.push(&Bytes::from_static(b"\x17\x02\0\0\0")), Ok(None));
    assert_eq!(u.push(&Bytes::from_static(b"\x57\x01")), Ok(None)); // command frame
}

proptest! {
    #[test]
    fn hostile_input_never_panics(data in prop::collection::vec(any::<u8>(), 0..120)) {
        let _ = AvcConfig::parse(&data);
        let _ = AvcSps::parse(&data);
        for _ in length_prefixed(&data, 4) {}
        let mut p = AvcPackager::new();
        let _ = p.set_parameter_sets(&data);
        let _ = p.package(&data, 0, 0);
        let mut u = AvcUnpacker::new();
        let body = Bytes::from(data);
        let _ = u.push(&body);
        let mut with_record = b"\x17\x00\x00\x00\x00".to_vec();
        with_record.extend_from_slice(&body);
        let _ = u.push(&Bytes::from(with_record));
        let _ = u.push(&body);
    }

    #[test]
    fn hostile_annexb_sps(tail in prop::collection::vec(any::<u8>(), 0..40), profile in prop::sample::select(vec![66u8, 100, 122, 244])) {
        let mut au = vec![0, 0, 1, 0x67, profile, 0, 10];
        au.extend_from_slice(&tail);
        au.extend_from_slice(&[0, 0, 1, 0x68, 0xce, 0x3c, 0x80, 0, 0, 1, 0x65, 0x88]);
        let _ = AvcPackager::new().package(&au, 0, 0);
    }

    #[test]
    fn mutated_records_never_panic(name in prop::sample::select(vec!["avc", "avc_high422"]),
                                   edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let mut record = flv_tags(&format!("{name}.flv"), TagKind::Video)[0].body[5..].to_vec();
        for &(pos, value) in &edits {
            let len = record.len();
            record[pos % len] ^= value;
        }
        if let Ok(config) = AvcConfig::parse(&record) {
            for sps in &config.sps {
                let _ = AvcSps::parse(sps);
            }
            let mut p = AvcPackager::new();
            let _ = p.set_parameter_sets(&record);
            let _ = p.package(b"\x00\x00\x01\x65\x88", 0, 0);
        }
    }
}

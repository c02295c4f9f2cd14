//! HEVC tests: VPS/SPS/PPS parsing, hvcC built from in-band parameter sets compared with
//! the record ffmpeg writes into Enhanced RTMP FLV, frames compared byte for byte.

use bytes::Bytes;
use proptest::prelude::*;

use super::parameter_sets::{parse_ptl, rbsp, sps_tail};
use super::*;
use crate::media::enhanced::tests::{annexb_access_units, fixture, flv_tags, packets};
use crate::media::enhanced::{ExVideoHeader, VideoPacketType};
use crate::media::flv::{self, TagKind};
use crate::media::legacy::LegacyVideoHeader;
use crate::media::nal::{length_prefixed, BitReader};

/// The access units of an Annex-B fixture: each starts at an access unit delimiter.
fn access_units(data: &[u8]) -> Vec<&[u8]> {
    annexb_access_units(data, |n| nal_type(n) == NAL_AUD)
}

/// ffmpeg's record with array_completeness set, which is the only thing this module
/// writes differently (see the module documentation).
fn ffmpeg_record_completed(record: &[u8]) -> Bytes {
    let mut config = HevcConfig::parse(record).unwrap();
    assert_eq!(config.to_bytes(), record, "hvcC parse/write round trip");
    for a in &mut config.arrays {
        assert!(!a.completeness, "ffmpeg writes array_completeness 0");
        a.completeness = true;
    }
    config.to_bytes()
}

/// Packages `NAME.h265` with the timestamps of `NAME.flv`; compares with ffmpeg's bodies.
fn packages_like_ffmpeg(name: &str) -> (usize, usize) {
    let annexb = fixture(&format!("{name}.h265"));
    let units = access_units(&annexb);
    let tags = flv_tags(&format!("{name}.flv"), TagKind::Video);
    let (seq, _) = ExVideoHeader::parse(&tags[0].body).unwrap();
    assert_eq!(
        (seq.packet_type, seq.fourcc),
        (VideoPacketType::SequenceStart, FourCc::HVC1)
    );
    let frames: Vec<_> = tags
        .iter()
        .filter(|t| {
            let (h, _) = ExVideoHeader::parse(&t.body).unwrap();
            matches!(
                h.packet_type,
                VideoPacketType::CodedFrames | VideoPacketType::CodedFramesX
            )
        })
        .collect();
    assert_eq!(units.len(), frames.len());
    let probed = packets(&format!("{name}.h265"));
    assert_eq!(probed.len(), units.len());

    let mut packager = HevcPackager::new();
    let mut keyframes = 0;
    for (i, (au, tag)) in units.iter().zip(&frames).enumerate() {
        let (h, _) = ExVideoHeader::parse(&tag.body).unwrap();
        let dts = tag.timestamp as i64;
        let out = packager
            .package(au, dts + h.composition_time as i64, dts)
            .unwrap();
        if i == 0 {
            let ours = out.sequence_header.unwrap();
            assert_eq!(ours[..5], tags[0].body[..5]);
            assert_eq!(
                ours[5..],
                ffmpeg_record_completed(&tags[0].body[5..]),
                "hvcC differs"
            );
        } else {
            assert_eq!(out.sequence_header, None);
        }
        assert_eq!(out.frame.as_ref(), Some(&tag.body), "frame {i} differs");
        assert_eq!(out.keyframe, probed[i].key);
        assert_eq!(out.keyframe, flv::video_is_keyframe(&tag.body));
        keyframes += out.keyframe as usize;
    }
    (units.len(), keyframes)
}

#[test]
fn main_profile_with_b_frames_matches_ffmpeg() {
    assert_eq!(packages_like_ffmpeg("hevc"), (30, 3));
    let config = HevcConfig::parse(&flv_tags("hevc.flv", TagKind::Video)[0].body[5..]).unwrap();
    assert_eq!(config.general.profile_idc, 1);
    assert_eq!(config.general.level_idc, 30);
    assert_eq!(
        (config.num_temporal_layers, config.temporal_id_nested),
        (1, true)
    );
    let types: Vec<u8> = config.arrays.iter().map(|a| a.nal_type).collect();
    assert_eq!(types, [NAL_VPS, NAL_SPS, NAL_PPS]);
    let sps = HevcSps::parse(&config.arrays[1].nalus[0]).unwrap();
    assert_eq!(
        (
            sps.width,
            sps.height,
            sps.chroma_format_idc,
            sps.bit_depth_luma
        ),
        (160, 120, 1, 8)
    );
    assert_eq!(
        HevcVps::parse(&config.arrays[0].nalus[0]).unwrap().ptl,
        sps.ptl
    );
}

#[test]
fn range_extension_422_10_bit_matches_ffmpeg() {
    assert_eq!(packages_like_ffmpeg("hevc_rext"), (3, 1));
    let config =
        HevcConfig::parse(&flv_tags("hevc_rext.flv", TagKind::Video)[0].body[5..]).unwrap();
    assert_eq!(config.general.profile_idc, 4);
    assert_eq!(config.general.constraint_indicator_flags >> 40, 0x9d);
    assert_eq!(
        (
            config.chroma_format_idc,
            config.bit_depth_luma,
            config.bit_depth_chroma
        ),
        (2, 10, 10)
    );
}

/// For encoders whose stream differs from ffmpeg's FLV by where NAL units live: kvazaar
/// repeats VPS/SPS/PPS in-band (ffmpeg keeps them in the frames), and x265 with HRD puts
/// an active-parameter-sets SEI into its global header (ffmpeg keeps it in hvcC; the
/// Annex-B filter re-inserts it before each IRAP, where we keep it in the frame). So: the
/// records must match without SEI arrays, and the frames NAL for NAL without parameter
/// sets and without those record SEIs.
fn packages_like_ffmpeg_modulo_placement(name: &str) -> HevcConfig {
    let annexb = fixture(&format!("{name}.h265"));
    let tags = flv_tags(&format!("{name}.flv"), TagKind::Video);
    let mut theirs = HevcConfig::parse(&tags[0].body[5..]).unwrap();
    let record_seis: Vec<Bytes> = theirs
        .arrays
        .iter()
        .filter(|a| a.nal_type == NAL_SEI_PREFIX || a.nal_type == NAL_SEI_SUFFIX)
        .flat_map(|a| a.nalus.clone())
        .collect();
    theirs
        .arrays
        .retain(|a| matches!(a.nal_type, NAL_VPS | NAL_SPS | NAL_PPS));
    for a in &mut theirs.arrays {
        a.completeness = true;
    }
    let frames: Vec<_> = tags
        .iter()
        .filter(|t| {
            ExVideoHeader::parse(&t.body).unwrap().0.packet_type != VideoPacketType::Metadata
        })
        .skip(1)
        .collect();
    let units = access_units(&annexb);
    let probed = packets(&format!("{name}.h265"));
    assert_eq!((units.len(), frames.len(), probed.len()), (3, 3, 3));
    let keep = |n: &&[u8]| {
        !matches!(nal_type(n), NAL_VPS | NAL_SPS | NAL_PPS | NAL_AUD)
            && !record_seis.iter().any(|s| s[..] == **n)
    };
    let mut packager = HevcPackager::new();
    for (i, (au, tag)) in units.iter().zip(&frames).enumerate() {
        let (h, start) = ExVideoHeader::parse(&tag.body).unwrap();
        let dts = tag.timestamp as i64;
        let out = packager
            .package(au, dts + h.composition_time as i64, dts)
            .unwrap();
        if i == 0 {
            assert_eq!(
                out.sequence_header.unwrap()[5..],
                theirs.to_bytes(),
                "hvcC differs"
            );
        }
        let frame = out.frame.unwrap();
        let (ours, ours_start) = ExVideoHeader::parse(&frame).unwrap();
        assert_eq!(
            (ours.packet_type, ours.composition_time),
            (h.packet_type, h.composition_time)
        );
        let a: Vec<&[u8]> = length_prefixed(&frame[ours_start..], 4)
            .map(Result::unwrap)
            .filter(keep)
            .collect();
        let b: Vec<&[u8]> = length_prefixed(&tag.body[start..], 4)
            .map(Result::unwrap)
            .filter(keep)
            .collect();
        assert_eq!(a, b, "frame {i}");
        assert_eq!(out.keyframe, probed[i].key);
    }
    packager.config().unwrap().clone()
}

/// Reads an SPS to its rbsp_trailing_bits: proof that the VUI/HRD/RPS skipping stays
/// aligned (a misread would not land on the stop bit followed by zeros).
fn sps_ends_cleanly(nal: &[u8]) -> bool {
    let rbsp = rbsp(nal, NAL_SPS, "SPS").unwrap();
    let mut r = BitReader::new(&rbsp, "SPS");
    r.skip(4).unwrap();
    let max_sub_layers_minus1 = r.bits(3).unwrap();
    r.skip(1).unwrap();
    parse_ptl(&mut r, max_sub_layers_minus1).unwrap();
    r.ue().unwrap();
    if r.ue().unwrap() == 3 {
        r.skip(1).unwrap();
    }
    r.ue().unwrap();
    r.ue().unwrap();
    if r.bit().unwrap() {
        for _ in 0..4 {
            r.ue().unwrap(); // conformance window
        }
    }
    r.ue().unwrap();
    r.ue().unwrap();
    assert_eq!(sps_tail(&mut r, max_sub_layers_minus1), Ok(None));
    if r.bit().unwrap() {
        // sps_extension_present: range extension flag, four others that must be 0.
        let range = r.bit().unwrap();
        assert_eq!(r.bits(7).unwrap(), 0);
        if range {
            r.skip(9).unwrap();
        }
    }
    r.bit().unwrap() && (0..r.bits_left()).all(|_| !r.bit().unwrap())
}

#[test]
fn kvazaar_with_two_temporal_layers_matches_ffmpeg() {
    let config = packages_like_ffmpeg_modulo_placement("hevc_kvazaar");
    assert_eq!(
        (config.num_temporal_layers, config.temporal_id_nested),
        (2, false)
    );
    let sps = &config.arrays[1].nalus[0];
    assert_eq!(HevcSps::parse(sps).unwrap().max_sub_layers, 2);
    assert!(sps_ends_cleanly(sps));
}

#[test]
fn x265_with_hrd_parameters_matches_ffmpeg() {
    let config = packages_like_ffmpeg_modulo_placement("hevc_hrd");
    assert_eq!(config.general.level_idc, 60);
    assert!(
        sps_ends_cleanly(&config.arrays[1].nalus[0]),
        "VUI with HRD parameters"
    );
    for name in ["hevc", "hevc_rext"] {
        let tags = flv_tags(&format!("{name}.flv"), TagKind::Video);
        let config = HevcConfig::parse(&tags[0].body[5..]).unwrap();
        assert!(sps_ends_cleanly(&config.arrays[1].nalus[0]), "{name}");
    }
}

#[test]
fn unpacking_ffmpeg_flv_gives_back_the_nal_units() {
    let annexb = fixture("hevc.h265");
    let mut units = access_units(&annexb).into_iter();
    let mut unpacker = HevcUnpacker::new();
    let is_ps = |n: &&[u8]| matches!(nal_type(n), NAL_VPS | NAL_SPS | NAL_PPS | NAL_AUD);
    for tag in flv_tags("hevc.flv", TagKind::Video) {
        let Some(frame) = unpacker.push(&tag.body).unwrap() else {
            continue;
        };
        let input: Vec<&[u8]> = split_annexb(units.next().unwrap())
            .filter(|n| !is_ps(n))
            .collect();
        let output: Vec<&[u8]> = split_annexb(&frame.data).collect();
        assert_eq!(
            output
                .iter()
                .copied()
                .filter(|n| !is_ps(n))
                .collect::<Vec<_>>(),
            input
        );
        if frame.keyframe {
            let first: Vec<u8> = output[..3].iter().map(|n| nal_type(n)).collect();
            assert_eq!(first, [NAL_VPS, NAL_SPS, NAL_PPS]);
        }
    }
    assert!(units.next().is_none());
}

#[test]
fn legacy_codec_id_12_and_out_of_band_records() {
    let record = flv_tags("hevc.flv", TagKind::Video)[0].body.slice(5..);
    let mut p = HevcPackager::with_format(VideoTagFormat::Legacy);
    p.set_parameter_sets(&record).unwrap();
    let out = p.package(b"\x00\x00\x01\x26\x01\xaf", 33, 0).unwrap();
    let seq = out.sequence_header.unwrap();
    assert_eq!(seq[..5], *b"\x1c\x00\x00\x00\x00");
    assert_eq!(seq[5..], ffmpeg_record_completed(&record));
    let frame = out.frame.unwrap();
    let (h, _) = LegacyVideoHeader::parse(&frame).unwrap();
    assert_eq!((h.codec_id, h.composition_time), (12, 33));
    assert!(out.keyframe); // NAL type 19, IDR_W_RADL
    assert_eq!(frame[5..], *b"\x00\x00\x00\x03\x26\x01\xaf");
    assert_eq!(p.end_of_sequence(), &b"\x1c\x02\x00\x00\x00"[..]);
    // The unpacker takes the legacy form too.
    let mut u = HevcUnpacker::new();
    assert_eq!(u.push(&seq), Ok(None));
    let f = u.push(&frame).unwrap().unwrap();
    assert_eq!(f.composition_time, 33);
    assert_eq!(split_annexb(&f.data).count(), 4);
}

#[test]
fn keyframe_types_and_missing_config() {
    for t in 0..64 {
        assert_eq!(is_keyframe_nal(t), (16..=21).contains(&t), "type {t}");
    }
    let mut p = HevcPackager::new();
    assert!(matches!(
        p.package(b"\x00\x00\x01\x02\x01\xd0", 0, 0),
        Err(MediaError::MissingConfig(_))
    ));
    assert!(payload_has_keyframe(b"\x00\x00\x00\x02\x2a\x01", 4).unwrap()); // CRA
    assert!(!payload_has_keyframe(b"\x00\x00\x00\x02\x02\x01", 4).unwrap());
    assert!(HevcConfig::from_parameter_sets(&[], &[], &[]).is_err());
}

/// Real VPS/SPS/PPS with a few bytes changed reach the deep parsing paths (VUI, HRD,
/// reference picture sets) that random bytes rarely do.
fn mutate(data: &[u8], edits: &[(usize, u8)], cut: usize) -> Vec<u8> {
    let mut out = data.to_vec();
    for &(pos, value) in edits {
        let len = out.len();
        out[pos % len] ^= value;
    }
    out.truncate(out.len() - cut % out.len().max(1));
    out
}

proptest! {
    #[test]
    fn hostile_input_never_panics(data in prop::collection::vec(any::<u8>(), 0..160)) {
        let _ = HevcConfig::parse(&data);
        let _ = HevcVps::parse(&data);
        let _ = HevcSps::parse(&data);
        let _ = payload_has_keyframe(&data, 4);
        let mut p = HevcPackager::new();
        let _ = p.set_parameter_sets(&data);
        let _ = p.package(&data, 0, 0);
        let mut u = HevcUnpacker::new();
        let _ = u.push(&Bytes::from(data.clone()));
        let mut body = b"\x90hvc1".to_vec();
        body.extend_from_slice(&data);
        let _ = u.push(&Bytes::from(body));
    }

    #[test]
    fn hostile_parameter_sets(vps in prop::collection::vec(any::<u8>(), 0..40),
                              sps in prop::collection::vec(any::<u8>(), 0..80),
                              pps in prop::collection::vec(any::<u8>(), 0..20)) {
        let mut au = Vec::new();
        for (header, body) in [([0x40, 0x01], vps), ([0x42, 0x01], sps), ([0x44, 0x01], pps)] {
            au.extend_from_slice(&[0, 0, 1]);
            au.extend_from_slice(&header);
            au.extend_from_slice(&body);
        }
        au.extend_from_slice(b"\x00\x00\x01\x26\x01\xaf");
        let _ = HevcPackager::new().package(&au, 0, 0);
    }

    #[test]
    fn mutated_parameter_sets_never_panic(which in 0usize..3, edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4), cut: usize) {
        let record = flv_tags("hevc_rext.flv", TagKind::Video)[0].body.slice(5..);
        let config = HevcConfig::parse(&record).unwrap();
        let mut sets: Vec<Bytes> = config.parameter_sets().cloned().collect();
        sets[which] = mutate(&sets[which], &edits, cut % 4).into();
        let _ = HevcVps::parse(&sets[0]);
        let _ = HevcSps::parse(&sets[1]);
        let _ = HevcConfig::from_parameter_sets(&sets[..1], &sets[1..2], &sets[2..]);
        let mut au = Vec::new();
        for s in &sets {
            au.extend_from_slice(&[0, 0, 1]);
            au.extend_from_slice(s);
        }
        au.extend_from_slice(b"\x00\x00\x01\x26\x01\xaf");
        let _ = HevcPackager::new().package(&au, 0, 0);
    }
}

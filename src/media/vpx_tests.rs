//! VP9/VP8 tests: uncompressed headers, superframes, vpcC compared with the record ffmpeg
//! writes into Enhanced RTMP FLV, frames compared byte for byte.

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::media::enhanced::tests::{fixture, flv_tags, from_bits, ivf_frames, packets};
use crate::media::flv::{self, TagKind};

fn packages_vp9_like_ffmpeg(name: &str) -> (usize, usize) {
    let ivf = fixture(&format!("{name}.ivf"));
    let frames = ivf_frames(&ivf);
    let tags = flv_tags(&format!("{name}.flv"), TagKind::Video);
    let theirs: Vec<_> = tags.iter().filter(|t| t.body[0] & 0x0f == 1).collect();
    assert_eq!(frames.len(), theirs.len());
    let mut packager = VpxPackager::vp9();
    let mut keyframes = 0;
    for (i, (frame, tag)) in frames.iter().zip(&theirs).enumerate() {
        let out = packager.package(frame).unwrap();
        if i == 0 {
            assert_eq!(
                out.sequence_header.as_ref(),
                Some(&tags[0].body),
                "vpcC differs from ffmpeg's"
            );
        } else {
            assert_eq!(out.sequence_header, None);
        }
        assert_eq!(out.frame.as_ref(), Some(&tag.body), "frame {i} differs");
        assert_eq!(out.keyframe, flv::video_is_keyframe(&tag.body));
        keyframes += out.keyframe as usize;
    }
    (frames.len(), keyframes)
}

#[test]
fn vp9_matches_ffmpeg_and_ffprobe() {
    assert_eq!(packages_vp9_like_ffmpeg("vp9"), (30, 3));
    let probed = packets("vp9.ivf");
    let ivf = fixture("vp9.ivf");
    let frames = ivf_frames(&ivf);
    assert_eq!(probed.len(), frames.len());
    let mut packager = VpxPackager::vp9();
    for (frame, p) in frames.iter().zip(&probed) {
        assert_eq!(packager.package(frame).unwrap().keyframe, p.key);
        assert_eq!(frame.len(), p.size);
    }
    let config = packager.config().unwrap();
    assert_eq!(
        (
            config.profile,
            config.level,
            config.bit_depth,
            config.chroma_subsampling
        ),
        (0, 10, 8, 1)
    );
    assert_eq!(
        VpxConfig::parse(&flv_tags("vp9.flv", TagKind::Video)[0].body[5..]).unwrap(),
        *config
    );
}

#[test]
fn vp9_profile_2_10_bit_matches_ffmpeg() {
    assert_eq!(packages_vp9_like_ffmpeg("vp9_10bit"), (3, 1));
    let h = Vp9FrameHeader::parse(ivf_frames(&fixture("vp9_10bit.ivf"))[0]).unwrap();
    assert_eq!(
        (h.profile, h.bit_depth, h.keyframe, h.width, h.height),
        (2, 10, true, 160, 120)
    );
}

#[test]
fn superframes_are_split_by_their_index() {
    // Two frames of 2 and 3 bytes, 1-byte sizes: marker 0b11000_001.
    let data = b"\x82\x49\x83\x42\x00\xc1\x05\x04\xc1";
    let with_index = [&data[..], b""].concat();
    let mut sf = b"ab".to_vec();
    sf.extend_from_slice(b"cde");
    sf.extend_from_slice(&[0xc1, 2, 3, 0xc1]);
    assert_eq!(vp9_frames(&sf), [&b"ab"[..], b"cde"]);
    // Sizes that do not add up: the packet is one frame.
    let bad = [b'a', 0xc1, 9, 3, 0xc1];
    assert_eq!(vp9_frames(&bad), [&bad[..]]);
    assert_eq!(vp9_frames(&with_index), [&with_index[..]]);
    assert!(vp9_frames(b"").is_empty());
    // The fixture has superframes (hidden alt-ref + shown frame); the first frame decides.
    let ivf = fixture("vp9.ivf");
    let supers = ivf_frames(&ivf)
        .into_iter()
        .filter(|f| vp9_frames(f).len() > 1)
        .count();
    assert!(supers > 0);
}

#[test]
fn vp9_headers_by_hand() {
    // Profile 1 key frame, 4:4:4 (subsampling 0/0), BT.709, full range, 64x32.
    // marker 10, profile 1 (low bit 1, high bit 0), show_existing 0, key 0, show 1,
    // error resilient 0, sync code, color_space 010, range 1, ss_x 0, ss_y 0, reserved 0,
    // width-1 and height-1 in 16 bits each.
    let bytes = from_bits(
        "10 1 0 0 0 1 0 010010011000001101000010 010 1 0 0 0 0000000000111111 0000000000011111",
    );
    let h = Vp9FrameHeader::parse(&bytes).unwrap();
    assert_eq!(
        (
            h.profile,
            h.keyframe,
            h.show_frame,
            h.color_space,
            h.full_range
        ),
        (1, true, true, 2, true)
    );
    assert_eq!(
        (h.subsampling_x, h.subsampling_y, h.width, h.height),
        (false, false, 64, 32)
    );
    let mut p = VpxPackager::vp9().with_colour(1, 1);
    let out = p.package(&bytes).unwrap();
    let config = VpxConfig::parse(&out.sequence_header.unwrap()[5..]).unwrap();
    assert_eq!(
        (
            config.chroma_subsampling,
            config.full_range,
            config.matrix_coefficients
        ),
        (3, true, 1)
    );
    assert_eq!(
        (config.colour_primaries, config.transfer_characteristics),
        (1, 1)
    );
    // An inter frame: 10 0 0 0 1 (not key) 1 (show) 0.
    let h = Vp9FrameHeader::parse(&[0b1000_0110, 0]).unwrap();
    assert!(!h.keyframe && h.show_frame && !h.intra_only);
    // show_existing_frame.
    assert!(
        Vp9FrameHeader::parse(&[0b1000_1000])
            .unwrap()
            .show_existing_frame
    );
    assert!(Vp9FrameHeader::parse(&[0b0000_0000]).is_err()); // frame marker
                                                             // Inter frames before the first key frame have no record.
    assert!(matches!(
        VpxPackager::vp9().package(&[0b1000_0110, 0]),
        Err(MediaError::MissingConfig(_))
    ));
}

#[test]
fn vp8_from_ivf() {
    let ivf = fixture("vp8.ivf");
    let frames = ivf_frames(&ivf);
    let probed = packets("vp8.ivf");
    assert_eq!(frames.len(), probed.len());
    let mut packager = VpxPackager::vp8().with_frame_rate(15.0);
    let mut unpacker = VpxUnpacker::new(VpxCodec::Vp8);
    let mut keyframes = 0;
    for (i, (frame, p)) in frames.iter().zip(&probed).enumerate() {
        let out = packager.package(frame).unwrap();
        assert_eq!(out.keyframe, p.key, "frame {i}");
        keyframes += out.keyframe as usize;
        if let Some(seq) = &out.sequence_header {
            assert_eq!(i, 0);
            assert_eq!(&seq[..5], b"\x90vp08");
            assert_eq!(unpacker.push(seq), Ok(None));
        }
        let body = out.frame.unwrap();
        assert_eq!(&body[1..5], b"vp08");
        let back = unpacker.push(&body).unwrap().unwrap();
        assert_eq!((&back.data[..], back.keyframe), (*frame, out.keyframe));
    }
    assert_eq!(keyframes, 3);
    let h = Vp8FrameHeader::parse(frames[0]).unwrap();
    assert_eq!(
        (h.keyframe, h.version, h.width, h.height),
        (true, 0, 160, 120)
    );
    let config = unpacker.config().unwrap();
    assert_eq!(
        (
            config.profile,
            config.level,
            config.bit_depth,
            config.chroma_subsampling
        ),
        (0, 10, 8, 1)
    );
    assert_eq!(packager.end_of_sequence(), &b"\x92vp08"[..]);
}

#[test]
fn levels_follow_the_vp9_table() {
    assert_eq!(vp9_level(160, 120, None), 10);
    assert_eq!(vp9_level(1920, 1080, None), 40);
    assert_eq!(vp9_level(1920, 1080, Some(60.0)), 41);
    assert_eq!(vp9_level(3840, 2160, Some(30.0)), 50);
    assert_eq!(vp9_level(0, 0, None), 0);
    assert_eq!(vp9_level(16384, 16384, None), 0);
}

#[test]
fn unpacker_round_trip_and_errors() {
    let mut u = VpxUnpacker::new(VpxCodec::Vp9);
    let tags = flv_tags("vp9.flv", TagKind::Video);
    let ivf = fixture("vp9.ivf");
    let mut frames = ivf_frames(&ivf).into_iter();
    for tag in &tags {
        if let Some(f) = u.push(&tag.body).unwrap() {
            assert_eq!(&f.data[..], frames.next().unwrap());
        }
    }
    assert!(frames.next().is_none());
    assert!(u.push(&Bytes::from_static(b"\x90av01")).is_err());
    assert!(u
        .push(&Bytes::from_static(b"\x90vp09\x00\x00\x00\x00"))
        .is_err()); // version 0
    assert!(VpxConfig::parse(b"\x01\x00\x00\x00\x00\x0a\x82\x02\x02\x02\x00\x05ab").is_err());
}

proptest! {
    #[test]
    fn hostile_input_never_panics(data in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = vp9_frames(&data);
        let _ = Vp9FrameHeader::parse(&data);
        let _ = Vp8FrameHeader::parse(&data);
        let _ = VpxConfig::parse(&data);
        let _ = VpxPackager::vp9().package(&data);
        let _ = VpxPackager::vp8().package(&data);
        let mut body = b"\x90vp09".to_vec();
        body.extend_from_slice(&data);
        let _ = VpxUnpacker::new(VpxCodec::Vp9).push(&Bytes::from(body));
    }

    #[test]
    fn superframe_frames_stay_inside(data in prop::collection::vec(any::<u8>(), 1..64), marker in 0xc0u8..0xe0) {
        let mut data = data;
        data.push(marker);
        for f in vp9_frames(&data) {
            prop_assert!(data.as_ptr_range().contains(&f.as_ptr()) || f.is_empty());
        }
    }

    #[test]
    fn mutated_key_frames_never_panic(edits in prop::collection::vec((0usize..12, any::<u8>()), 1..4)) {
        let ivf = fixture("vp9_10bit.ivf");
        let mut frame = ivf_frames(&ivf)[0][..16].to_vec();
        for &(pos, value) in &edits {
            frame[pos] ^= value;
        }
        let _ = Vp9FrameHeader::parse(&frame);
        let _ = VpxPackager::vp9().package(&frame);
    }
}

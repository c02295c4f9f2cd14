//! AV1 tests: OBU parsing, the sequence header, av1C compared with the record ffmpeg writes
//! into Enhanced RTMP FLV, frames compared with ffmpeg's minus the temporal delimiters.

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::media::enhanced::tests::{fixture, flv_tags, from_bits, packets};
use crate::media::flv::{self, TagKind};

/// The temporal units of a low-overhead stream: each starts at a temporal delimiter.
fn temporal_units(data: &[u8]) -> Vec<&[u8]> {
    let base = data.as_ptr() as usize;
    let starts: Vec<usize> = obus(data)
        .map(Result::unwrap)
        .filter(|o| o.obu_type == OBU_TEMPORAL_DELIMITER)
        .map(|o| o.raw.as_ptr() as usize - base)
        .collect();
    (0..starts.len())
        .map(|i| &data[starts[i]..starts.get(i + 1).copied().unwrap_or(data.len())])
        .collect()
}

#[test]
fn leb128_both_ways() {
    for (value, bytes) in [
        (0u64, &[0u8][..]),
        (127, &[0x7f]),
        (128, &[0x80, 0x01]),
        (0xFFFF_FFFF, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
    ] {
        assert_eq!(read_leb128(bytes).unwrap(), (value, bytes.len()));
        let mut out = Vec::new();
        write_leb128(&mut out, value);
        assert_eq!(out, bytes);
    }
    // Non-minimal encodings are valid; values over 2^32 - 1 and 9-byte codes are not.
    assert_eq!(read_leb128(&[0x80, 0x00]).unwrap(), (0, 2));
    assert!(read_leb128(&[0x80, 0x80, 0x80, 0x80, 0x10]).is_err());
    assert!(read_leb128(&[0x80; 9]).is_err());
    assert!(read_leb128(&[0x80]).is_err());
}

#[test]
fn obu_headers() {
    // Temporal delimiter; a frame OBU with extension (tid 2, sid 1) and size 2; one
    // without size field running to the end.
    let data = b"\x12\x00\x36\x48\x02ab\x30xyz";
    let all: Vec<Obu<'_>> = obus(data).map(Result::unwrap).collect();
    assert_eq!(all.len(), 3);
    assert_eq!(
        (all[0].obu_type, all[0].payload),
        (OBU_TEMPORAL_DELIMITER, &b""[..])
    );
    assert_eq!(
        (all[1].obu_type, all[1].extension, all[1].payload),
        (OBU_FRAME, Some((2, 1)), &b"ab"[..])
    );
    assert_eq!(
        (all[2].obu_type, all[2].payload, all[2].raw),
        (OBU_FRAME, &b"xyz"[..], &b"\x30xyz"[..])
    );
    assert!(obus(b"\x92\x00").next().unwrap().is_err()); // forbidden bit
    assert!(obus(b"\x12\x05ab").next().unwrap().is_err()); // size past the end
    assert_eq!(with_size_field(&all[2]), b"\x32\x03xyz");
}

#[test]
fn sequence_header_of_the_fixture() {
    let tags = flv_tags("av1.flv", TagKind::Video);
    let record = Av1Config::parse(&tags[1].body[5..]).unwrap();
    let obu = obus(&record.config_obus).next().unwrap().unwrap();
    let h = SequenceHeader::parse(obu.payload).unwrap();
    assert_eq!(
        (h.seq_profile, h.seq_level_idx_0, h.seq_tier_0),
        (0, 0, false)
    );
    assert_eq!(
        (h.max_frame_width, h.max_frame_height, h.bit_depth),
        (160, 120, 8)
    );
    assert_eq!(
        (h.monochrome, h.subsampling_x, h.subsampling_y),
        (false, true, true)
    );
    assert!(!h.reduced_still_picture_header && !h.still_picture);
}

#[test]
fn packages_like_ffmpeg_without_temporal_delimiters() {
    let stream = fixture("av1.obu");
    let units = temporal_units(&stream);
    let tags = flv_tags("av1.flv", TagKind::Video);
    // ffmpeg sends an empty sequence start first (no extradata yet), then the record.
    assert_eq!(&tags[0].body[..], b"\x90av01");
    let record = &tags[1].body;
    let frames: Vec<_> = tags.iter().filter(|t| t.body[0] & 0x0f == 1).collect();
    let probed = packets("av1.obu");
    assert_eq!((units.len(), frames.len(), probed.len()), (30, 30, 30));

    let mut packager = Av1Packager::new();
    let mut keyframes = 0;
    for (i, (tu, tag)) in units.iter().zip(&frames).enumerate() {
        let out = packager.package(tu).unwrap();
        if i == 0 {
            assert_eq!(
                out.sequence_header.as_ref(),
                Some(record),
                "av1C differs from ffmpeg's"
            );
        } else {
            assert_eq!(out.sequence_header, None);
        }
        // ffmpeg's body keeps the temporal delimiter (12 00) after the 5-byte header.
        let theirs = &tag.body;
        assert_eq!(theirs[5..7], *b"\x12\x00");
        let ours = out.frame.unwrap();
        assert_eq!(ours[..5], theirs[..5], "frame {i} header");
        assert_eq!(ours[5..], theirs[7..], "frame {i} OBUs");
        assert_eq!(out.keyframe, probed[i].key, "keyframe flag of frame {i}");
        assert!(!flv::video_is_keyframe(&ours) || out.keyframe);
        keyframes += out.keyframe as usize;
    }
    assert_eq!(keyframes, 3);
}

#[test]
fn unpacking_gives_back_the_temporal_units() {
    let stream = fixture("av1.obu");
    let mut units = temporal_units(&stream).into_iter();
    let mut unpacker = Av1Unpacker::new();
    for tag in flv_tags("av1.flv", TagKind::Video) {
        if let Some(frame) = unpacker.push(&tag.body).unwrap() {
            assert_eq!(&frame.data[..], units.next().unwrap());
        }
    }
    assert!(units.next().is_none());
    // A key frame without its own sequence header gets the record's.
    let config = unpacker.config().unwrap().clone();
    let body = Bytes::from_static(b"\x91av01\x32\x01\x10");
    let frame = unpacker.push(&body).unwrap().unwrap();
    let mut expected = b"\x12\x00".to_vec();
    expected.extend_from_slice(&config.config_obus);
    expected.extend_from_slice(b"\x32\x01\x10");
    assert_eq!(&frame.data[..], expected);
}

#[test]
fn keyframe_detection_and_errors() {
    let record = flv_tags("av1.flv", TagKind::Video)[1].body.slice(5..);
    let seq = Av1Config::parse(&record).unwrap().config_obus;
    let mut p = Av1Packager::new();
    // A frame before any sequence header.
    assert!(matches!(
        p.package(b"\x12\x00\x32\x01\x10"),
        Err(MediaError::MissingConfig(_))
    ));
    // The sequence header alone: a header, no frame.
    let out = p.package(&seq).unwrap();
    assert!(out.sequence_header.is_some() && out.frame.is_none());
    // Frame OBU payloads: 0 | 00 | 1 = shown key frame; show_existing_frame; hidden key
    // frame; shown inter frame.
    for (payload, key) in [(0x10u8, true), (0x80, false), (0x00, false), (0x30, false)] {
        let out = p.package(&[0x12, 0x00, 0x32, 0x01, payload]).unwrap();
        assert_eq!(out.keyframe, key, "{payload:#x}");
        assert_eq!(out.frame.unwrap()[0], if key { 0x91 } else { 0xa1 });
    }
    assert_eq!(p.end_of_sequence(), &b"\x92av01"[..]);
    // Record round trip and errors.
    assert_eq!(Av1Config::parse(&record).unwrap().to_bytes(), record);
    assert!(Av1Config::parse(b"\x01\x00\x0c\x00").is_err());
    assert!(Av1Config::from_sequence_header(b"\x12\x00").is_err());
    let mut with_delay = Av1Config::parse(&record).unwrap();
    with_delay.initial_presentation_delay_minus_one = Some(3);
    assert_eq!(with_delay.to_bytes()[3], 0x13);
    assert_eq!(
        Av1Config::parse(&with_delay.to_bytes()).unwrap(),
        with_delay
    );
}

#[test]
fn reduced_still_picture_header() {
    // seq_profile 0, still 1, reduced 1, level 31 (5 bits), then frame size bits 4+4,
    // width-1 (7 bits = 127), height-1 (7 bits = 63), three tool flags, superres/cdef/
    // restoration, color_config (high_bitdepth 0, mono 0, no description, range 1,
    // chroma_sample_position 2), film grain 0.
    let bytes = from_bits("000 1 1 11111 0110 0110 1111111 0111111 000 000 0 0 0 1 10 0 0");
    let h = SequenceHeader::parse(&bytes).unwrap();
    assert!(h.reduced_still_picture_header && h.still_picture);
    assert_eq!(
        (h.seq_level_idx_0, h.max_frame_width, h.max_frame_height),
        (31, 128, 64)
    );
    assert_eq!((h.full_range, h.chroma_sample_position), (true, 2));
    let mut obu = vec![0x0a, bytes.len() as u8];
    obu.extend_from_slice(&bytes);
    let config = Av1Config::from_sequence_header(&obu).unwrap();
    assert_eq!(config.to_bytes()[..3], [0x81, 31, 0x0e]);
    // Every frame of a reduced-header stream is a key frame.
    let mut p = Av1Packager::new();
    p.package(&obu).unwrap();
    assert!(p.package(b"\x32\x01\x00").unwrap().keyframe);
}

proptest! {
    #[test]
    fn hostile_input_never_panics(data in prop::collection::vec(any::<u8>(), 0..120)) {
        for _ in obus(&data) {}
        let _ = SequenceHeader::parse(&data);
        let _ = Av1Config::parse(&data);
        let _ = Av1Config::from_sequence_header(&data);
        let _ = read_leb128(&data);
        let mut p = Av1Packager::new();
        let _ = p.package(&data);
        let mut u = Av1Unpacker::new();
        let mut body = b"\x91av01".to_vec();
        body.extend_from_slice(&data);
        let _ = u.push(&Bytes::from(body));
        let _ = u.push(&Bytes::from(data));
    }

    #[test]
    fn hostile_sequence_headers(payload in prop::collection::vec(any::<u8>(), 0..40)) {
        let mut tu = vec![0x12, 0x00, 0x0a, payload.len() as u8];
        tu.extend_from_slice(&payload);
        tu.extend_from_slice(b"\x32\x01\x10");
        let _ = Av1Packager::new().package(&tu);
    }

    #[test]
    fn mutated_sequence_headers_never_panic(edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4), cut in 0usize..4) {
        let record = flv_tags("av1.flv", TagKind::Video)[1].body.slice(5..);
        let seq = Av1Config::parse(&record).unwrap().config_obus;
        let mut payload = seq[2..].to_vec();
        for &(pos, value) in &edits {
            let len = payload.len();
            payload[pos % len] ^= value;
        }
        payload.truncate(payload.len() - cut);
        let _ = SequenceHeader::parse(&payload);
        let mut tu = vec![0x12, 0x00, 0x0a, payload.len() as u8];
        tu.extend_from_slice(&payload);
        tu.extend_from_slice(b"\x32\x01\x10");
        let _ = Av1Packager::new().package(&tu);
    }
}

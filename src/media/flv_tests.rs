//! FLV reader, writer and tag-body inspection tests.

use std::io::Cursor;

use bytes::Bytes;
use proptest::prelude::*;

use super::*;

/// Header (audio + video), PreviousTagSize0, then `tags` written by hand.
fn file(tags: &[(u8, u32, &[u8])]) -> Vec<u8> {
    let mut out = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00".to_vec();
    for &(tag_type, ts, body) in tags {
        out.push(tag_type);
        out.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        out.extend_from_slice(&ts.to_be_bytes()[1..]);
        out.push((ts >> 24) as u8);
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(body);
        out.extend_from_slice(&(11 + body.len() as u32).to_be_bytes());
    }
    out
}

fn read_all_bytes(data: &[u8]) -> Result<Vec<FlvTag>> {
    FlvReader::from_bytes(Bytes::copy_from_slice(data))?.collect()
}

fn read_all_stream(data: &[u8]) -> Result<Vec<FlvTag>> {
    FlvReader::from_read(Cursor::new(data))?.collect()
}

#[test]
fn header_decode_and_encode() {
    let h = FlvHeader::decode(b"FLV\x01\x05\x00\x00\x00\x09").unwrap();
    assert_eq!(h, FlvHeader::default());
    let h = FlvHeader::decode(b"FLV\x01\x01\x00\x00\x00\x0d").unwrap();
    assert!(h.has_video && !h.has_audio);
    assert_eq!(h.data_offset, 13);
    let h = FlvHeader::decode(b"FLV\x01\x04\x00\x00\x00\x09").unwrap();
    assert!(!h.has_video && h.has_audio);

    let mut out = Vec::new();
    FlvHeader::default().encode(&mut out);
    assert_eq!(out, b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00");

    assert!(matches!(
        FlvHeader::decode(b"FLX\x01\x05\x00\x00\x00\x09"),
        Err(FlvError::BadSignature)
    ));
    assert!(matches!(
        FlvHeader::decode(b"FL"),
        Err(FlvError::Truncated { .. })
    ));
    assert!(matches!(
        FlvHeader::decode(b"FLV\x01\x05\x00\x00\x00\x08"),
        Err(FlvError::BadDataOffset(8))
    ));
}

#[test]
fn tag_encode_matches_hand_written_bytes() {
    let tag = FlvTag::new(TagKind::Video, 0x0102_0304, &b"\x17\x01ab"[..]);
    let mut out = Vec::new();
    tag.encode(&mut out).unwrap();
    assert_eq!(
        out,
        [
            9, 0, 0, 4, // type, size
            2, 3, 4, 1, // timestamp 0x020304, extended 0x01
            0, 0, 0, // stream id
            0x17, 0x01, b'a', b'b', // body
            0, 0, 0, 15, // PreviousTagSize
        ]
    );
    assert_eq!(out.len(), tag.encoded_len());
    let header = TagHeader::decode(&out).unwrap();
    assert_eq!(
        header,
        TagHeader {
            tag_type: 9,
            filtered: false,
            body_len: 4,
            timestamp: 0x0102_0304,
            stream_id: 0
        }
    );
}

#[test]
fn reads_tags_without_copying_bodies() {
    let data = Bytes::from(file(&[
        (18, 0, b"\x02\x00\x0aonMetaData"),
        (9, 0, b"\x17\x00\x00\x00\x00"),
        (8, 0, b"\xaf\x00\x12\x10"),
        (9, 0xFF00_0021, b"\x27\x01\x00\x00\x00xyz"),
    ]));
    let mut reader = FlvReader::from_bytes(data.clone()).unwrap();
    assert_eq!(*reader.header(), FlvHeader::default());
    let tags: Vec<FlvTag> = reader.by_ref().map(Result::unwrap).collect();
    assert_eq!(reader.position(), data.len() as u64);
    let kinds: Vec<_> = tags.iter().map(|t| (t.kind, t.timestamp)).collect();
    assert_eq!(
        kinds,
        [
            (TagKind::Script, 0),
            (TagKind::Video, 0),
            (TagKind::Audio, 0),
            (TagKind::Video, 0xFF00_0021)
        ]
    );
    assert_eq!(&tags[3].body[..], b"\x27\x01\x00\x00\x00xyz");
    let range = data.as_ptr_range();
    for tag in &tags {
        assert!(range.contains(&tag.body.as_ptr()), "body was copied");
    }
    assert_eq!(read_all_stream(&data).unwrap(), tags);
}

#[test]
fn writer_output_reads_back() {
    let tags = vec![
        FlvTag::new(TagKind::Script, 0, &b"\x02\x00\x01x"[..]),
        FlvTag::new(TagKind::Audio, 23, &b"\xaf\x01\x01\x02"[..]),
        FlvTag::new(TagKind::Video, 0x0100_0000, Bytes::new()),
    ];
    let mut writer = FlvWriter::new(Vec::new(), &FlvHeader::default()).unwrap();
    for tag in &tags {
        writer.write_tag(tag).unwrap();
    }
    writer.flush().unwrap();
    let out = writer.into_inner();
    let mut encoded = Vec::new();
    FlvHeader::default().encode(&mut encoded);
    for tag in &tags {
        tag.encode(&mut encoded).unwrap();
    }
    assert_eq!(out, encoded);
    assert_eq!(read_all_bytes(&out).unwrap(), tags);
    assert_eq!(read_all_stream(&out).unwrap(), tags);
}

#[test]
fn oversized_body_is_refused_when_writing() {
    let body = vec![0u8; MAX_BODY_LEN + 1];
    let mut writer = FlvWriter::new(Vec::new(), &FlvHeader::default()).unwrap();
    assert!(matches!(
        writer.write(TagKind::Video, 0, &body),
        Err(FlvError::BodyTooLarge(_))
    ));
    let tag = FlvTag::new(TagKind::Video, 0, body);
    assert!(matches!(
        tag.encode(&mut Vec::new()),
        Err(FlvError::BodyTooLarge(_))
    ));
}

#[test]
fn data_offset_past_the_header_is_skipped() {
    let mut data = b"FLV\x01\x05\x00\x00\x00\x0c???".to_vec();
    data.extend_from_slice(&file(&[(8, 5, b"\x2f")])[9..]);
    let tags = read_all_bytes(&data).unwrap();
    assert_eq!(tags, [FlvTag::new(TagKind::Audio, 5, &b"\x2f"[..])]);
    assert_eq!(read_all_stream(&data).unwrap(), tags);
    // An offset past the end is a truncation, not a panic.
    let short = b"FLV\x01\x05\xff\xff\xff\xff";
    assert!(matches!(
        FlvReader::from_bytes(Bytes::from_static(short)),
        Err(FlvError::Truncated { .. })
    ));
    assert!(matches!(
        FlvReader::from_read(&short[..]),
        Err(FlvError::Truncated { .. })
    ));
}

#[test]
fn unknown_and_filtered_tags_are_skipped_with_an_error() {
    let data = file(&[
        (8, 1, b"a"),
        (7, 2, b"bb"),
        (0x20 | 9, 3, b"ccc"),
        (9, 4, b"dddd"),
    ]);
    for results in [
        FlvReader::from_bytes(Bytes::from(data.clone()))
            .unwrap()
            .collect::<Vec<_>>(),
        FlvReader::from_read(&data[..]).unwrap().collect(),
    ] {
        assert_eq!(results.len(), 4);
        assert!(matches!(
            results[1],
            Err(FlvError::UnsupportedTagType {
                tag_type: 7,
                offset: 29
            })
        ));
        assert!(matches!(results[2], Err(FlvError::Filtered { .. })));
        assert_eq!(
            *results[3].as_ref().unwrap(),
            FlvTag::new(TagKind::Video, 4, &b"dddd"[..])
        );
    }
}

#[test]
fn missing_final_previous_tag_size_ends_cleanly() {
    let mut data = file(&[(8, 1, b"a"), (9, 2, b"b")]);
    data.truncate(data.len() - 4);
    assert_eq!(read_all_bytes(&data).unwrap().len(), 2);
    assert_eq!(read_all_stream(&data).unwrap().len(), 2);
}

#[test]
fn hostile_size_field_costs_nothing() {
    // A tag claiming 16 MiB with three bytes behind it.
    let mut data = file(&[]);
    data.extend_from_slice(&[9, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]);
    for result in [read_all_bytes(&data), read_all_stream(&data)] {
        assert!(matches!(
            result,
            Err(FlvError::Truncated {
                offset: 27,
                needed: 0xFF_FFFC
            })
        ));
    }
}

/// Every prefix of a valid file reads as a prefix of its tags, then ends cleanly or with
/// one error; nothing panics.
fn check_prefixes(data: &[u8]) {
    let all = read_all_bytes(data).unwrap();
    for len in 0..=data.len() {
        let prefix = &data[..len];
        for results in [
            FlvReader::from_bytes(Bytes::copy_from_slice(prefix)).map(|r| r.collect::<Vec<_>>()),
            FlvReader::from_read(prefix).map(|r| r.collect::<Vec<_>>()),
        ] {
            let Ok(results) = results else { continue };
            let ok: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
            assert!(ok.len() <= all.len());
            assert!(ok.iter().zip(&all).all(|(a, b)| *a == b), "at {len}");
            let errors = results.iter().filter(|r| r.is_err()).count();
            assert!(errors <= 1, "at {len}: {results:?}");
            if errors == 1 {
                assert!(results.last().unwrap().is_err());
            }
        }
    }
}

#[test]
fn every_truncation_is_an_error_or_a_clean_end() {
    check_prefixes(&file(&[
        (
            18,
            0,
            b"\x02\x00\x0aonMetaData\x08\x00\x00\x00\x00\x00\x00\x09",
        ),
        (9, 0, b"\x17\x00\x00\x00\x00\x01\x64"),
        (8, 0x0100_0000, b"\xaf\x00\x12\x10"),
        (9, 33, b""),
    ]));
}

#[test]
fn reads_the_ffmpeg_fixture() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/media/small.flv"
    );
    let data = Bytes::from(std::fs::read(path).unwrap());
    let reader = FlvReader::from_bytes(data.clone()).unwrap();
    assert!(reader.header().has_audio && reader.header().has_video);
    let tags: Vec<FlvTag> = reader.map(Result::unwrap).collect();
    let count = |kind| tags.iter().filter(|t| t.kind == kind).count();
    let video: Vec<&FlvTag> = tags.iter().filter(|t| t.kind == TagKind::Video).collect();
    let audio: Vec<&FlvTag> = tags.iter().filter(|t| t.kind == TagKind::Audio).collect();
    let seq_v = video
        .iter()
        .filter(|t| video_is_sequence_header(&t.body))
        .count();
    let seq_a = audio
        .iter()
        .filter(|t| audio_is_sequence_header(&t.body))
        .count();
    let end_v = video
        .iter()
        .filter(|t| video_tag_info(&t.body).unwrap().packet == VideoPacket::SequenceEnd)
        .count();
    // Measured with `ffprobe -v error -count_packets -show_entries
    // stream=codec_type,nb_read_packets small.flv` (ffmpeg 5.1.9): video 120, audio 174.
    // ffprobe counts coded frames only; the file also holds one onMetaData, one AVC and one
    // AAC sequence header, and the AVC end-of-sequence tag ffmpeg's muxer writes last.
    assert_eq!(count(TagKind::Script), 1);
    assert_eq!((seq_v, end_v, video.len() - seq_v - end_v), (1, 1, 120));
    assert_eq!((seq_a, audio.len() - seq_a), (1, 174));
    // -g 30 over 4 s at 30 fps: four key frames.
    let keys = video.iter().filter(|t| video_is_keyframe(&t.body)).count();
    assert_eq!(keys, 4);
    assert!(video_is_sequence_header(&video[0].body) && audio_is_sequence_header(&audio[0].body));
    assert!(video.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    // The stream reader agrees, and writing the tags back gives a file that reads the same.
    assert_eq!(read_all_stream(&data).unwrap(), tags);
    let mut writer = FlvWriter::new(Vec::new(), &FlvHeader::default()).unwrap();
    tags.iter().for_each(|t| writer.write_tag(t).unwrap());
    let written = writer.into_inner();
    assert_eq!(read_all_bytes(&written).unwrap(), tags);
    // ffmpeg's file is byte for byte what FlvWriter writes for these tags.
    assert_eq!(written, data);
    let mut writer = FlvWriter::new(Vec::new(), &FlvHeader::default()).unwrap();
    tags[..6].iter().for_each(|t| writer.write_tag(t).unwrap());
    check_prefixes(&writer.into_inner());
}

#[test]
fn legacy_video_headers() {
    let info = |b: &[u8]| video_tag_info(b).map(|i| (i.enhanced, i.frame_type, i.packet));
    // AVC: frame type 1/2, codec 7, AVCPacketType.
    assert_eq!(
        info(b"\x17\x00"),
        Some((false, 1, VideoPacket::SequenceHeader))
    );
    assert!(video_is_sequence_header(b"\x17\x00\x00\x00\x00\x01"));
    assert!(!video_is_keyframe(b"\x17\x00\x00\x00\x00"));
    assert!(video_is_keyframe(b"\x17\x01\x00\x00\x00"));
    assert!(!video_is_keyframe(b"\x27\x01\x00\x00\x00"));
    assert!(!video_is_sequence_header(b"\x27\x01"));
    assert_eq!(
        info(b"\x17\x02"),
        Some((false, 1, VideoPacket::SequenceEnd))
    );
    // Legacy HEVC (codec id 12) is packaged like AVC.
    assert!(video_is_sequence_header(b"\x1c\x00\x00\x00\x00"));
    assert!(video_is_keyframe(b"\x1c\x01\x00\x00\x00"));
    // Codecs without a packet type: VP6 (4), H.263 (2).
    assert!(video_is_keyframe(b"\x14\x00"));
    assert!(!video_is_sequence_header(b"\x14\x00"));
    assert!(!video_is_keyframe(b"\x32"));
    // Command frame, and bodies too short to tell.
    assert_eq!(info(b"\x57\x00"), Some((false, 5, VideoPacket::Command)));
    assert_eq!(video_tag_info(b""), None);
    assert_eq!(video_tag_info(b"\x17"), None);
    assert!(!video_is_keyframe(b"") && !video_is_sequence_header(b"\x17"));
}

#[test]
fn enhanced_video_headers() {
    let info = |b: &[u8]| video_tag_info(b).map(|i| (i.enhanced, i.frame_type, i.packet));
    // 0x80 | frame type << 4 | packet type, then the FourCC.
    assert_eq!(
        info(b"\x90hvc1"),
        Some((true, 1, VideoPacket::SequenceHeader))
    );
    assert!(video_is_sequence_header(b"\x90av01\x81"));
    assert!(video_is_sequence_header(b"\x95av01")); // MPEG2TSSequenceStart
    assert!(video_is_keyframe(b"\x91hvc1\x00\x00\x00"));
    assert!(video_is_keyframe(b"\x93hvc1")); // CodedFramesX
    assert!(!video_is_keyframe(b"\xa1hvc1\x00\x00\x00")); // inter frame
    assert!(!video_is_keyframe(b"\xa3vp09"));
    assert_eq!(info(b"\x92hvc1"), Some((true, 1, VideoPacket::SequenceEnd)));
    assert_eq!(info(b"\x94hvc1"), Some((true, 1, VideoPacket::Metadata)));
    assert!(!video_is_keyframe(b"\x94hvc1"));
    assert_eq!(info(b"\xd1hvc1\x00"), Some((true, 5, VideoPacket::Command)));
    // Multitrack (6): AvMultitrackType << 4 | the tracks' packet type, then FourCC, track id.
    assert!(video_is_sequence_header(b"\x96\x00hvc1\x00"));
    assert!(video_is_keyframe(b"\x96\x11av01\x00\x00\x00\x10"));
    assert!(!video_is_sequence_header(b"\x96\x21"));
    // ModEx (7): size - 1, data, then modExType << 4 | packet type.
    assert!(video_is_sequence_header(b"\x97\x02abc\x00hvc1"));
    assert!(video_is_keyframe(b"\x97\x02abc\x01hvc1"));
    // Two ModEx blocks, the second with a 16-bit size (UI8 255 means UI16 + 1 follows).
    let mut body = b"\x97\x00z\x07\xff\x01\x00".to_vec();
    body.extend_from_slice(&[0u8; 257]);
    body.extend_from_slice(b"\x06\x00hvc1\x00");
    assert!(video_is_sequence_header(&body), "ModEx then Multitrack");
    body.truncate(200);
    assert_eq!(video_tag_info(&body), None);
    assert_eq!(video_tag_info(b"\x97\x05ab"), None);
    assert_eq!(info(b"\x98"), Some((true, 1, VideoPacket::Unknown(8))));
}

#[test]
fn audio_headers() {
    // AAC (10): AACPacketType 0 is the AudioSpecificConfig.
    assert!(audio_is_sequence_header(b"\xaf\x00\x12\x10"));
    assert!(!audio_is_sequence_header(b"\xaf\x01\x21"));
    assert_eq!(audio_packet(b"\xaf\x01"), Some(AudioPacket::CodedFrames));
    assert_eq!(audio_packet(b"\xaf"), None);
    // MP3 (2), Speex (11): no packet type.
    assert_eq!(audio_packet(b"\x2f"), Some(AudioPacket::CodedFrames));
    assert!(!audio_is_sequence_header(b"\xb6\x00"));
    // ExAudioTagHeader: sound format 9, AudioPacketType, FourCC.
    assert!(audio_is_sequence_header(b"\x90Opus\x01"));
    assert_eq!(audio_packet(b"\x91Opus"), Some(AudioPacket::CodedFrames));
    assert_eq!(audio_packet(b"\x92fLaC"), Some(AudioPacket::SequenceEnd));
    assert_eq!(
        audio_packet(b"\x94Opus"),
        Some(AudioPacket::MultichannelConfig)
    );
    assert!(!audio_is_sequence_header(b"\x94Opus"));
    // Multitrack (5) and ModEx (7).
    assert!(audio_is_sequence_header(b"\x95\x00mp4a\x00"));
    assert_eq!(audio_packet(b"\x95\x11"), Some(AudioPacket::CodedFrames));
    assert!(audio_is_sequence_header(b"\x97\x02abc\x00Opus"));
    assert_eq!(audio_packet(b"\x97\x02ab"), None);
    assert_eq!(audio_packet(b""), None);
}

fn arb_tag() -> impl Strategy<Value = FlvTag> {
    (
        prop_oneof![
            Just(TagKind::Audio),
            Just(TagKind::Video),
            Just(TagKind::Script)
        ],
        any::<u32>(),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(kind, ts, body)| FlvTag::new(kind, ts, body))
}

proptest! {
    #[test]
    fn write_then_read_round_trips(
        tags in proptest::collection::vec(arb_tag(), 0..20),
        has_audio: bool,
        has_video: bool,
    ) {
        let header = FlvHeader { version: 1, has_audio, has_video, data_offset: 9 };
        let mut writer = FlvWriter::new(Vec::new(), &header).unwrap();
        for tag in &tags {
            writer.write_tag(tag).unwrap();
        }
        let out = writer.into_inner();
        let reader = FlvReader::from_bytes(Bytes::from(out.clone())).unwrap();
        prop_assert_eq!(*reader.header(), header);
        prop_assert_eq!(&reader.collect::<Result<Vec<_>>>().unwrap(), &tags);
        prop_assert_eq!(&read_all_stream(&out).unwrap(), &tags);
    }

    #[test]
    fn hostile_input_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut data = b"FLV\x01\x05\x00\x00\x00\x09".to_vec();
        data.extend_from_slice(&tail);
        let a: Vec<_> = FlvReader::from_bytes(Bytes::from(data.clone())).unwrap().collect();
        let b: Vec<_> = FlvReader::from_read(&data[..]).unwrap().collect();
        // Both readers see the same tags and fail at the same place.
        prop_assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            match (x, y) {
                (Ok(x), Ok(y)) => prop_assert_eq!(x, y),
                (Err(x), Err(y)) => prop_assert_eq!(x.to_string(), y.to_string()),
                _ => prop_assert!(false, "{:?} vs {:?}", x, y),
            }
        }
        for tag in a.iter().flatten() {
            let _ = (video_tag_info(&tag.body), audio_packet(&tag.body));
        }
        let _ = (video_tag_info(&tail), audio_packet(&tail));
    }

    #[test]
    fn corrupted_files_never_panic(
        tags in proptest::collection::vec(arb_tag(), 1..8),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut writer = FlvWriter::new(Vec::new(), &FlvHeader::default()).unwrap();
        tags.iter().for_each(|t| writer.write_tag(t).unwrap());
        let mut data = writer.into_inner();
        for (at, byte) in flips {
            let i = at.index(data.len());
            data[i] = byte;
        }
        data.truncate(cut.index(data.len() + 1));
        if let Ok(reader) = FlvReader::from_bytes(Bytes::from(data.clone())) {
            reader.take(100).for_each(drop);
        }
        if let Ok(reader) = FlvReader::from_read(&data[..]) {
            reader.take(100).for_each(drop);
        }
    }
}

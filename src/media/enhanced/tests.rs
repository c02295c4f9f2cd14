//! Enhanced RTMP tag header tests, plus the fixture readers the codec tests
//! share (FLV tags, ffprobe packet lists, IVF, Ogg, Annex-B access units, bit strings).

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::media::flv::{self, FlvReader, FlvTag, TagKind};
use crate::media::legacy::LegacyVideoHeader;
use crate::media::nal::split_annexb;

// ---------------------------------------------------------------------------------------
// Fixture helpers (tests/fixtures/elementary, see its README.md).
// ---------------------------------------------------------------------------------------

pub(crate) fn fixture(name: &str) -> Bytes {
    let path = format!(
        "{}/tests/fixtures/elementary/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .into()
}

/// The audio or video tags of an FLV fixture, in order.
pub(crate) fn flv_tags(name: &str, kind: TagKind) -> Vec<FlvTag> {
    FlvReader::from_bytes(fixture(name))
        .unwrap()
        .map(Result::unwrap)
        .filter(|t| t.kind == kind)
        .collect()
}

/// One line of a `NAME.packets.csv` (ffprobe: pts, dts, size, flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Packet {
    pub pts: Option<i64>,
    pub size: usize,
    pub key: bool,
}

pub(crate) fn packets(name: &str) -> Vec<Packet> {
    let text = fixture(&format!("{name}.packets.csv"));
    std::str::from_utf8(&text)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            Packet {
                pts: f[0].parse().ok(),
                size: f[2].parse().unwrap(),
                key: f[3].starts_with('K'),
            }
        })
        .collect()
}

/// The frames of an IVF file (32-byte header; per frame u32 size, u64 pts, data).
pub(crate) fn ivf_frames(data: &[u8]) -> Vec<&[u8]> {
    assert_eq!(&data[..4], b"DKIF");
    let mut pos = u16::from_le_bytes([data[6], data[7]]) as usize;
    let mut frames = Vec::new();
    while pos + 12 <= data.len() {
        let size = u32::from_le_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
        frames.push(&data[pos + 12..pos + 12 + size]);
        pos += 12 + size;
    }
    frames
}

/// The packets of a single-stream Ogg file, reassembled from the pages' lacing values.
pub(crate) fn ogg_packets(data: &[u8]) -> Vec<Vec<u8>> {
    let (mut packets, mut current, mut pos) = (Vec::new(), Vec::new(), 0);
    while pos + 27 <= data.len() {
        assert_eq!(&data[pos..pos + 4], b"OggS");
        let segments = data[pos + 26] as usize;
        let lacing = &data[pos + 27..pos + 27 + segments];
        let mut body = pos + 27 + segments;
        for &len in lacing {
            current.extend_from_slice(&data[body..body + len as usize]);
            body += len as usize;
            if len < 255 {
                packets.push(std::mem::take(&mut current));
            }
        }
        pos = body;
    }
    packets
}

/// Bytes from `0`/`1` digits, first bit first (white space between fields is ignored, the
/// last byte is padded with zeros): a bit-packed header written out field by field.
pub(crate) fn from_bits(digits: &str) -> Vec<u8> {
    let bits: String = digits.split_whitespace().collect();
    let mut bytes = vec![0u8; bits.len().div_ceil(8)];
    for (i, b) in bits.bytes().enumerate() {
        bytes[i / 8] |= (b - b'0') << (7 - i % 8);
    }
    bytes
}

/// The access units of an Annex-B fixture: each starts at a NAL unit `is_delimiter` picks
/// (the codec's access unit delimiter).
pub(crate) fn annexb_access_units(data: &[u8], is_delimiter: impl Fn(&[u8]) -> bool) -> Vec<&[u8]> {
    let base = data.as_ptr() as usize;
    let starts: Vec<usize> = split_annexb(data)
        .filter(|n| is_delimiter(n))
        .map(|n| n.as_ptr() as usize - base - 3)
        .collect();
    let mut out = Vec::new();
    for (i, &s) in starts.iter().enumerate() {
        out.push(&data[s..starts.get(i + 1).copied().unwrap_or(data.len())]);
    }
    out
}

// ---------------------------------------------------------------------------------------
// Enhanced RTMP video.
// ---------------------------------------------------------------------------------------

#[test]
fn video_header_with_timestamp_offset_nano() {
    let body = b"\x97\x02\x01\x02\x03\x01hvc1\x00\x00\x21payload";
    let (h, start) = ExVideoHeader::parse(body).unwrap();
    assert_eq!(
        h,
        ExVideoHeader {
            frame_type: VideoFrameType::Key,
            packet_type: VideoPacketType::CodedFrames,
            fourcc: FourCc::HVC1,
            composition_time: 0x21,
            timestamp_offset_nanos: Some(0x01_0203),
        }
    );
    assert_eq!(&body[start..], b"payload");
    assert_eq!(h.encoded_len(), start);
    assert_eq!(h.to_body(b"payload"), &body[..]);
}

#[test]
fn mod_ex_with_16_bit_size_and_unknown_types() {
    // Size byte 0xFF: a u16 size-1 follows (here 3 + 1 = 4 bytes of data).
    let body = b"\xa7\xff\x00\x03\x00\x00\x07\x09\x03av01rest";
    let (h, start) = ExVideoHeader::parse(body).unwrap();
    assert_eq!(h.timestamp_offset_nanos, Some(7));
    assert_eq!(h.packet_type, VideoPacketType::CodedFramesX);
    assert_eq!(h.composition_time, 0);
    assert_eq!(&body[start..], b"rest");
    // A ModEx type this module does not know (5) is skipped; two blocks in a row.
    let body = b"\x97\x00\x2a\x57\x02\x00\x00\x09\x00vp09";
    let (h, start) = ExVideoHeader::parse(body).unwrap();
    assert_eq!(h.packet_type, VideoPacketType::SequenceStart);
    assert_eq!(h.timestamp_offset_nanos, Some(9));
    assert_eq!(start, body.len());
    // TimestampOffsetNano with fewer than three bytes is invalid.
    assert_eq!(
        ExVideoHeader::parse(b"\x97\x00\x01\x01hvc1\0\0\0"),
        Err(MediaError::Invalid("TimestampOffsetNano ModEx (< 3 bytes)"))
    );
}

#[test]
fn coded_frames_choose_x_like_ffmpeg() {
    let h = ExVideoHeader::coded_frames(FourCc::HVC1, true, 0);
    assert_eq!(h.to_body(b""), &b"\x93hvc1"[..]);
    let h = ExVideoHeader::coded_frames(FourCc::HVC1, false, -1);
    assert_eq!(h.to_body(b""), &b"\xa1hvc1\xff\xff\xff"[..]);
    // No composition time on the wire for AV1/VP9, whatever the field says.
    let h = ExVideoHeader::coded_frames(FourCc::AV01, true, 0);
    assert_eq!(h.to_body(b"x"), &b"\x91av01x"[..]);
}

#[test]
fn command_and_metadata_frames() {
    let body = Bytes::from_static(b"\xd0\x01");
    assert_eq!(
        ExVideoTag::parse(&body).unwrap(),
        ExVideoTag::Command {
            packet_type: 0,
            command: 1,
            timestamp_offset_nanos: None
        }
    );
    assert_eq!(ExVideoTag::parse(&body).unwrap().to_bytes().unwrap(), body);
    assert!(matches!(
        ExVideoHeader::parse(&body),
        Err(MediaError::Unsupported(_))
    ));
    // Metadata with frame type Command, as ffmpeg sends colorInfo.
    let body = Bytes::from_static(b"\xd4hvc1\x02\x00\x09colorInfo");
    let ExVideoTag::Single { header, payload } = ExVideoTag::parse(&body).unwrap() else {
        panic!("not single");
    };
    assert_eq!(header.packet_type, VideoPacketType::Metadata);
    assert_eq!(header.frame_type, VideoFrameType::Command);
    assert_eq!(&payload[..3], b"\x02\x00\x09");
}

fn track(id: u8, fourcc: FourCc, cts: i32, data: &'static [u8]) -> Track {
    Track {
        track_id: id,
        fourcc,
        composition_time: cts,
        data: Bytes::from_static(data),
    }
}

#[test]
fn multitrack_video_all_three_layouts() {
    let cases: [(&[u8], ExVideoTag); 3] = [
        (
            b"\x96\x01av01\x02frame",
            ExVideoTag::Multitrack {
                frame_type: VideoFrameType::Key,
                packet_type: VideoPacketType::CodedFrames,
                timestamp_offset_nanos: None,
                multitrack_type: AvMultitrackType::OneTrack,
                tracks: vec![track(2, FourCc::AV01, 0, b"frame")],
            },
        ),
        (
            // Track sizes count the composition time of avc1 CodedFrames.
            b"\xa6\x11avc1\x00\x00\x00\x05\x00\x00\x10ab\x01\x00\x00\x04\xff\xff\xffc",
            ExVideoTag::Multitrack {
                frame_type: VideoFrameType::Inter,
                packet_type: VideoPacketType::CodedFrames,
                timestamp_offset_nanos: None,
                multitrack_type: AvMultitrackType::ManyTracks,
                tracks: vec![
                    track(0, FourCc::AVC1, 16, b"ab"),
                    track(1, FourCc::AVC1, -1, b"c"),
                ],
            },
        ),
        (
            b"\x97\x02\x00\x00\x2a\x06\x20vp09\x00\x00\x00\x02xyav01\x01\x00\x00\x01z",
            ExVideoTag::Multitrack {
                frame_type: VideoFrameType::Key,
                packet_type: VideoPacketType::SequenceStart,
                timestamp_offset_nanos: Some(42),
                multitrack_type: AvMultitrackType::ManyTracksManyCodecs,
                tracks: vec![
                    track(0, FourCc::VP09, 0, b"xy"),
                    track(1, FourCc::AV01, 0, b"z"),
                ],
            },
        ),
    ];
    for (bytes, expected) in cases {
        let body = Bytes::copy_from_slice(bytes);
        let parsed = ExVideoTag::parse(&body).unwrap();
        assert_eq!(parsed, expected);
        assert_eq!(parsed.to_bytes().unwrap(), body);
        // flv.rs sees through the same structure.
        let info = flv::video_tag_info(&body).unwrap();
        assert!(info.enhanced);
    }
    assert!(matches!(
        ExVideoHeader::parse(b"\x96\x01av01\x02"),
        Err(MediaError::Unsupported(_))
    ));
}

#[test]
fn multitrack_layout_errors() {
    let tag = |kind, tracks| ExVideoTag::Multitrack {
        frame_type: VideoFrameType::Key,
        packet_type: VideoPacketType::CodedFrames,
        timestamp_offset_nanos: None,
        multitrack_type: kind,
        tracks,
    };
    let two = vec![
        track(0, FourCc::AV01, 0, b"a"),
        track(1, FourCc::VP09, 0, b"b"),
    ];
    assert!(tag(AvMultitrackType::OneTrack, two.clone())
        .to_bytes()
        .is_err());
    assert!(tag(AvMultitrackType::ManyTracks, two.clone())
        .to_bytes()
        .is_err());
    assert!(tag(AvMultitrackType::ManyTracksManyCodecs, two)
        .to_bytes()
        .is_ok());
    assert!(tag(AvMultitrackType::ManyTracks, vec![])
        .to_bytes()
        .is_err());
    let twice = vec![
        track(7, FourCc::AV01, 0, b"a"),
        track(7, FourCc::AV01, 0, b"b"),
    ];
    assert!(tag(AvMultitrackType::ManyTracks, twice).to_bytes().is_err());
    // Parse errors: reserved multitrack type, a size past the end, a reserved packet type.
    for bad in [
        &b"\x96\x31av01\x00x"[..],
        b"\x96\x11av01\x00\x00\x00\x09x",
        b"\x96\x1fav01\x00x",
        // ManyTracks with track id 7 twice.
        b"\x96\x11av01\x07\x00\x00\x01x\x07\x00\x00\x01y",
        b"\x98av01",
        b"\x00",
        b"",
    ] {
        assert!(
            ExVideoTag::parse(&Bytes::copy_from_slice(bad)).is_err(),
            "{bad:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Enhanced RTMP audio, MultichannelConfig.
// ---------------------------------------------------------------------------------------

#[test]
fn audio_headers_single_and_multitrack() {
    let (h, start) = ExAudioHeader::parse(b"\x90OpusOpusHead").unwrap();
    assert_eq!(
        h,
        ExAudioHeader::new(AudioPacketType::SequenceStart, FourCc::OPUS)
    );
    assert_eq!(start, 5);
    let body = b"\x97\x02\x00\x00\x05\x01mp4a\x21";
    let (h, start) = ExAudioHeader::parse(body).unwrap();
    assert_eq!(h.timestamp_offset_nanos, Some(5));
    assert_eq!(h.packet_type, AudioPacketType::CodedFrames);
    assert_eq!(h.to_body(&body[start..]), &body[..]);

    let body = Bytes::from_static(b"\x95\x11Opus\x00\x00\x00\x01a\x01\x00\x00\x02bc");
    let parsed = ExAudioTag::parse(&body).unwrap();
    assert_eq!(
        parsed,
        ExAudioTag::Multitrack {
            packet_type: AudioPacketType::CodedFrames,
            timestamp_offset_nanos: None,
            multitrack_type: AvMultitrackType::ManyTracks,
            tracks: vec![
                track(0, FourCc::OPUS, 0, b"a"),
                track(1, FourCc::OPUS, 0, b"bc")
            ],
        }
    );
    assert_eq!(parsed.to_bytes().unwrap(), body);
    assert_eq!(
        flv::audio_packet(&body),
        Some(flv::AudioPacket::CodedFrames)
    );
    assert!(ExAudioHeader::parse(b"\xafx").is_err());
    assert!(ExAudioHeader::parse(b"\x93Opus").is_err()); // packet type 3 is reserved
}

#[test]
fn multichannel_config_layouts() {
    for (bytes, expected) in [
        (&b"\x01\x02\x00\x00\x00\x03"[..], ChannelLayout::Native(3)),
        (
            b"\x02\x03\x00\x01\x03",
            ChannelLayout::Custom(vec![0, 1, 3]),
        ),
        (b"\x00\x06", ChannelLayout::Unspecified),
    ] {
        let config = MultichannelConfig::parse(bytes).unwrap();
        assert_eq!(config.layout, expected);
        let mut out = Vec::new();
        config.write(&mut out);
        assert_eq!(out, bytes);
    }
    assert!(MultichannelConfig::parse(b"\x03\x02").is_err());
    assert!(MultichannelConfig::parse(b"\x02\x03\x00").is_err());
}

#[test]
fn fourcc_helpers() {
    assert_eq!(FourCc::HVC1.to_u32(), 0x6876_6331);
    assert_eq!(format!("{:?}", FourCc::OPUS), "FourCc(\"Opus\")");
    assert_eq!(format!("{:?}", FourCc([0, 1, 2, 3])), "FourCc(0x00010203)");
    assert!(FourCc::AVC1.has_composition_time() && !FourCc::VP09.has_composition_time());
}

// ---------------------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------------------

fn arb_fourcc() -> impl Strategy<Value = FourCc> {
    prop::sample::select(vec![
        FourCc::AVC1,
        FourCc::HVC1,
        FourCc::AV01,
        FourCc::VP09,
        FourCc::OPUS,
    ])
}

fn arb_track() -> impl Strategy<Value = Track> {
    (
        any::<u8>(),
        arb_fourcc(),
        -0x80_0000..0x80_0000i32,
        prop::collection::vec(any::<u8>(), 0..20),
    )
        .prop_map(|(id, fourcc, cts, data)| Track {
            track_id: id,
            fourcc,
            composition_time: cts,
            data: data.into(),
        })
}

proptest! {
    #[test]
    fn multitrack_video_round_trips(
        frame_type in 1u8..=4,
        packet_type in prop::sample::select(vec![0u8, 1, 2, 3, 5]),
        nanos in prop::option::of(0u32..1_000_000),
        kind in 0u8..3,
        tracks in prop::collection::vec(arb_track(), 1..4),
    ) {
        let kind = AvMultitrackType::from_u8(kind).unwrap();
        let packet_type = VideoPacketType::from_u8(packet_type).unwrap();
        let mut tracks = tracks;
        if kind == AvMultitrackType::OneTrack {
            tracks.truncate(1);
        }
        let shared = tracks[0].fourcc;
        // Track ids are distinct within a message.
        let base = tracks[0].track_id;
        for (i, t) in tracks.iter_mut().enumerate() {
            t.track_id = base.wrapping_add(i as u8);
        }
        for t in &mut tracks {
            if kind == AvMultitrackType::ManyTracks {
                t.fourcc = shared;
            }
            if !(packet_type == VideoPacketType::CodedFrames && t.fourcc.has_composition_time()) {
                t.composition_time = 0;
            }
        }
        let tag = ExVideoTag::Multitrack {
            frame_type: VideoFrameType::from_u8(frame_type).unwrap(),
            packet_type,
            timestamp_offset_nanos: nanos,
            multitrack_type: kind,
            tracks,
        };
        let bytes = tag.to_bytes().unwrap();
        prop_assert_eq!(ExVideoTag::parse(&bytes).unwrap(), tag);
    }

    #[test]
    fn single_headers_round_trip(
        frame_type in 1u8..=5,
        packet_type in 0u8..=5,
        fourcc in arb_fourcc(),
        cts in -0x80_0000..0x80_0000i32,
        nanos in prop::option::of(0u32..1_000_000),
    ) {
        let frame_type = VideoFrameType::from_u8(frame_type).unwrap();
        let packet_type = VideoPacketType::from_u8(packet_type).unwrap();
        prop_assume!(frame_type != VideoFrameType::Command || packet_type == VideoPacketType::Metadata);
        let mut h = ExVideoHeader::new(frame_type, packet_type, fourcc);
        h.timestamp_offset_nanos = nanos;
        if packet_type == VideoPacketType::CodedFrames && fourcc.has_composition_time() {
            h.composition_time = cts;
        }
        let body = h.to_body(b"xyz");
        prop_assert_eq!(ExVideoHeader::parse(&body).unwrap(), (h, h.encoded_len()));
        // flv.rs agrees on what the body is.
        let info = flv::video_tag_info(&body).unwrap();
        prop_assert_eq!(info.frame_type, frame_type as u8);
    }

    #[test]
    fn hostile_input_never_panics(data in prop::collection::vec(any::<u8>(), 0..64)) {
        let bytes = Bytes::from(data.clone());
        if let Ok(tag) = ExVideoTag::parse(&bytes) {
            // Whatever parses re-encodes to something that parses to the same value.
            if let Ok(again) = tag.to_bytes() {
                prop_assert_eq!(ExVideoTag::parse(&again).unwrap(), tag);
            }
        }
        if let Ok(tag) = ExAudioTag::parse(&bytes) {
            if let Ok(again) = tag.to_bytes() {
                prop_assert_eq!(ExAudioTag::parse(&again).unwrap(), tag);
            }
        }
        let _ = ExVideoHeader::parse(&data);
        let _ = ExAudioHeader::parse(&data);
        let _ = LegacyVideoHeader::parse(&data);
        let _ = MultichannelConfig::parse(&data);
    }

    #[test]
    fn hostile_ex_bodies_never_panic(tail in prop::collection::vec(any::<u8>(), 0..48), first in 0x80u8..=0xff) {
        // Start with the IsExHeader bit so the deeper paths run.
        let mut data = vec![first];
        data.extend_from_slice(&tail);
        let _ = ExVideoTag::parse(&Bytes::from(data.clone()));
        data[0] = 0x90 | (first & 0x0f);
        let _ = ExAudioTag::parse(&Bytes::from(data));
    }
}

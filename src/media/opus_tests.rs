//! Opus tests: OpusHead both ways, packets from an Ogg file packaged and compared with
//! ffmpeg's Enhanced RTMP FLV of the same packets.

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::media::enhanced::tests::{fixture, flv_tags, ogg_packets, packets};
use crate::media::enhanced::ChannelLayout;
use crate::media::flv::TagKind;

#[test]
fn packages_like_ffmpeg() {
    let ogg = fixture("opus.ogg");
    let ogg = ogg_packets(&ogg);
    let (head, rest) = ogg.split_first().unwrap();
    assert_eq!(&rest[0][..8], b"OpusTags");
    let audio = &rest[1..];
    let head = OpusHead::parse(head).unwrap();
    assert_eq!(head, OpusHead::new(2, 312, 48000).unwrap());
    let tags = flv_tags("opus.flv", TagKind::Audio);
    // ffmpeg: SequenceStart with the OpusHead, a MultichannelConfig, then the packets.
    assert_eq!(&tags[1].body[..], b"\x94Opus\x01\x02\x00\x00\x00\x03");
    let frames = &tags[2..];
    assert_eq!(
        (audio.len(), frames.len(), packets("opus.ogg").len()),
        (51, 51, 51)
    );

    let mut packager = OpusPackager::new(head.clone());
    for (i, (packet, tag)) in audio.iter().zip(frames).enumerate() {
        let out = packager.package(packet);
        if i == 0 {
            assert_eq!(
                out.sequence_header.as_ref(),
                Some(&tags[0].body),
                "OpusHead differs"
            );
        } else {
            assert_eq!(out.sequence_header, None);
        }
        assert_eq!(out.frame, tag.body, "packet {i}");
        assert_eq!(packet_samples(packet).unwrap(), 960); // 20 ms
    }
    assert_eq!(head.to_bytes(), tags[0].body[5..]);
}

#[test]
fn unpacks_ffmpeg_flv() {
    let ogg = fixture("opus.ogg");
    let ogg = ogg_packets(&ogg);
    let mut unpacker = OpusUnpacker::new();
    let mut audio = ogg[2..].iter();
    for tag in flv_tags("opus.flv", TagKind::Audio) {
        if let Some(packet) = unpacker.push(&tag.body).unwrap() {
            assert_eq!(packet, audio.next().unwrap()[..]);
        }
    }
    assert!(audio.next().is_none());
    assert_eq!(unpacker.head().unwrap().channels, 2);
    let config = unpacker.channel_config().unwrap();
    assert_eq!(
        (config.channel_count, &config.layout),
        (2, &ChannelLayout::Native(3))
    );
    // An empty sequence start resets the header (defaults apply).
    assert_eq!(unpacker.push(&Bytes::from_static(b"\x90Opus")), Ok(None));
    assert!(unpacker.head().is_none());
    assert!(unpacker.push(&Bytes::from_static(b"\x91mp4ax")).is_err());
}

#[test]
fn opus_head_with_channel_mapping() {
    // 6 channels, family 1 (Vorbis order), 4 streams, 2 coupled, gain -256 (-1 dB).
    let bytes =
        b"OpusHead\x01\x06\x38\x01\x44\xac\x00\x00\x00\xff\x01\x04\x02\x00\x04\x01\x02\x03\x05";
    let head = OpusHead::parse(bytes).unwrap();
    assert_eq!(
        (
            head.channels,
            head.pre_skip,
            head.input_sample_rate,
            head.output_gain
        ),
        (6, 312, 44100, -256)
    );
    assert_eq!(
        head.mapping,
        Some(ChannelMapping {
            stream_count: 4,
            coupled_count: 2,
            mapping: vec![0, 4, 1, 2, 3, 5]
        })
    );
    assert_eq!(head.stream_count(), 4);
    assert_eq!(head.to_bytes(), &bytes[..]);
    // set_head resends the sequence start only when the header changes.
    let mut p = OpusPackager::new(OpusHead::new(1, 0, 0).unwrap());
    assert!(p.package(b"\x08").sequence_header.is_some());
    p.set_head(OpusHead::new(1, 0, 0).unwrap());
    assert!(p.package(b"\x08").sequence_header.is_none());
    p.set_head(head);
    assert!(p.package(b"\x08").sequence_header.is_some());
    assert_eq!(p.end_of_sequence(), &b"\x92Opus"[..]);
}

#[test]
fn opus_head_errors_and_packet_durations() {
    assert!(OpusHead::parse(b"OpusHead\x01\x03\x00\x00\x80\xbb\x00\x00\x00\x00\x00").is_err()); // 3ch family 0
    assert!(OpusHead::parse(b"OpusHeaX\x01\x02\x00\x00\x80\xbb\x00\x00\x00\x00\x00").is_err());
    assert!(OpusHead::parse(b"OpusHead\x10\x02\x00\x00\x80\xbb\x00\x00\x00\x00\x00").is_err()); // v16
    assert!(OpusHead::parse(
        b"OpusHead\x01\x02\x00\x00\x80\xbb\x00\x00\x00\x00\x01\x00\x00\x00\x01"
    )
    .is_err());
    assert!(OpusHead::parse(b"OpusHead\x01\x02").is_err());
    assert!(OpusHead::new(3, 0, 0).is_err());
    // TOC config 0 (SILK 10 ms) code 0; config 3 (SILK 60 ms) code 1; CELT 2.5 ms code 3 x 4.
    assert_eq!(packet_samples(&[0x00]).unwrap(), 480);
    assert_eq!(packet_samples(&[0x19]).unwrap(), 5760);
    assert_eq!(packet_samples(&[0x83, 0x04]).unwrap(), 480);
    assert_eq!(packet_samples(&[0x78]).unwrap(), 960); // hybrid FB 20 ms
    assert!(packet_samples(&[0x1b, 0x03]).is_err()); // 3 x 60 ms > 120 ms
    assert!(packet_samples(&[0x03, 0x00]).is_err());
    assert!(packet_samples(&[]).is_err());
}

proptest! {
    #[test]
    fn hostile_input_never_panics(data in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(head) = OpusHead::parse(&data) {
            prop_assert_eq!(OpusHead::parse(&head.to_bytes()).unwrap(), head);
        }
        let _ = packet_samples(&data);
        let mut u = OpusUnpacker::new();
        for prefix in [&b"\x90Opus"[..], b"\x94Opus", b"\x91Opus", b""] {
            let mut body = prefix.to_vec();
            body.extend_from_slice(&data);
            let _ = u.push(&Bytes::from(body));
        }
    }

    #[test]
    fn heads_round_trip(channels in 1u8..=8, pre_skip: u16, rate: u32, gain: i16, coupled in 0u8..4) {
        let mut head = OpusHead::new(1, pre_skip, rate).unwrap();
        head.output_gain = gain;
        if channels > 2 {
            head.channels = channels;
            head.mapping_family = 1;
            head.mapping = Some(ChannelMapping {
                stream_count: channels - coupled.min(channels / 2),
                coupled_count: coupled.min(channels / 2),
                mapping: (0..channels).collect(),
            });
        }
        let mut p = OpusPackager::new(head.clone());
        let out = p.package(b"\xfc");
        let mut u = OpusUnpacker::new();
        prop_assert_eq!(u.push(out.sequence_header.as_ref().unwrap()), Ok(None));
        prop_assert_eq!(u.head(), Some(&head));
    }
}

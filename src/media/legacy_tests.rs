//! Legacy FLV video and audio tag header tests.

use super::*;
use crate::media::enhanced::tests::flv_tags;
use crate::media::flv::{self, TagKind};

#[test]
fn legacy_video_headers() {
    let (h, start) = LegacyVideoHeader::parse(b"\x17\x01\xff\xff\xfedata").unwrap();
    assert_eq!(
        h,
        LegacyVideoHeader::avc(VideoFrameType::Key, AvcPacketType::Nalu, -2)
    );
    assert_eq!(start, 5);
    assert_eq!(h.to_body(b"data"), &b"\x17\x01\xff\xff\xfedata"[..]);
    let (h, start) = LegacyVideoHeader::parse(b"\x22h263").unwrap();
    assert_eq!((h.codec_id, h.avc_packet_type, start), (2, None, 1));
    let (h, _) = LegacyVideoHeader::parse(b"\x57\x00").unwrap();
    assert_eq!(h.command, Some(0));
    assert!(LegacyVideoHeader::parse(b"\x07\x01\0\0\0").is_err()); // frame type 0
    assert!(LegacyVideoHeader::parse(b"\x17\x03\0\0\0").is_err()); // AVCPacketType 3
    assert!(LegacyVideoHeader::parse(b"\x17\x01\0").is_err());
    assert!(LegacyVideoHeader::parse(b"\x97\x01\0\0\0").is_err()); // an ExVideoTagHeader
}

#[test]
fn legacy_headers_and_mp3() {
    let tags = flv_tags("mp3.flv", TagKind::Audio);
    let (h, start) = LegacyAudioHeader::parse(&tags[0].body).unwrap();
    assert_eq!(
        (h.format, h.rate, h.sixteen_bit, h.stereo, start),
        (SoundFormat::Mp3, 3, true, false, 1)
    );
    assert_eq!(LegacyAudioHeader::mp3(44100, 1).unwrap(), h);
    assert_eq!(h.flags(), 0x2e);
    assert_eq!(&tags[0].body[1..3], b"\xff\xfb"); // an MPEG-1 layer III frame follows
    assert!(tags
        .iter()
        .all(|t| t.body[0] == 0x2e
            && flv::audio_packet(&t.body) == Some(flv::AudioPacket::CodedFrames)));
    assert_eq!(LegacyAudioHeader::mp3(48000, 2).unwrap().flags(), 0x2f);
    assert_eq!(LegacyAudioHeader::mp3(8000, 1).unwrap().flags(), 0xe2);
    assert!(LegacyAudioHeader::mp3(32000, 2).is_err());
    assert_eq!(
        LegacyAudioHeader::aac(AacPacketType::Raw).to_body(b"x"),
        &b"\xaf\x01x"[..]
    );
    assert!(LegacyAudioHeader::parse(b"\x9f").is_err()); // ExAudioTagHeader
    assert!(LegacyAudioHeader::parse(b"\xaf\x02").is_err());
    assert!(LegacyAudioHeader::parse(b"\xaf").is_err());
    assert!(LegacyAudioHeader::parse(b"").is_err());
}

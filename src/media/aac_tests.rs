//! AAC tests: ADTS parsing (with and without CRC), AudioSpecificConfig, packaging compared
//! with ffmpeg's FLV of the same ADTS stream, ADTS round trip.

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::media::enhanced::tests::{fixture, flv_tags, from_bits, packets};
use crate::media::flv::{self, TagKind};

#[test]
fn packages_adts_like_ffmpeg() {
    let adts = fixture("aac.adts");
    let tags = flv_tags("aac.flv", TagKind::Audio);
    // ffmpeg writes an empty sequence header first (no extradata when the header is
    // written), then the real one once the ADTS-to-ASC filter has run.
    assert_eq!(&tags[0].body[..], b"\xaf\x00");
    assert_eq!(&tags[1].body[..], b"\xaf\x00\x12\x08");
    let probed = packets("aac.adts");
    let out = AacPackager::new().push_adts(&adts).unwrap();
    assert_eq!(out.len(), probed.len());
    assert_eq!(out.len(), tags.len() - 2);
    assert_eq!(out[0].sequence_header.as_ref(), Some(&tags[1].body));
    for (i, (ours, theirs)) in out.iter().zip(&tags[2..]).enumerate() {
        assert_eq!(ours.frame, theirs.body, "frame {i}");
        assert!(i == 0 || ours.sequence_header.is_none());
        assert_eq!(ours.frame.len() - 2 + 7, probed[i].size);
    }
    let config = AudioSpecificConfig::parse(&tags[1].body[2..]).unwrap();
    assert_eq!(
        (
            config.object_type,
            config.sample_rate,
            config.channel_config,
            config.sbr
        ),
        (2, 44100, 1, None)
    );
}

#[test]
fn adts_round_trips_through_flv() {
    let adts = fixture("aac.adts");
    let mut unpacker = AacUnpacker::new();
    let mut rebuilt = Vec::new();
    for tag in flv_tags("aac.flv", TagKind::Audio) {
        if let Some(raw) = unpacker.push(&tag.body).unwrap() {
            rebuilt.extend_from_slice(&to_adts(&raw, unpacker.config().unwrap()).unwrap());
        }
    }
    assert_eq!(rebuilt, adts);
    // And frame by frame through our own packager.
    let mut packager = AacPackager::new();
    let mut unpacker = AacUnpacker::new();
    for frame in adts_frames(&adts) {
        let frame = frame.unwrap();
        let whole = &adts[frame.payload.as_ptr() as usize - adts.as_ptr() as usize - 7..]
            [..frame.header.frame_length as usize];
        let out = packager.push_adts(whole).unwrap().remove(0);
        if let Some(seq) = &out.sequence_header {
            assert_eq!(unpacker.push(seq), Ok(None));
        }
        let raw = unpacker.push(&out.frame).unwrap().unwrap();
        assert_eq!(to_adts(&raw, unpacker.config().unwrap()).unwrap(), whole);
    }
}

#[test]
fn adts_with_crc_and_several_frames() {
    // Protected frame (9-byte header: CRC AB CD), LC, 44.1 kHz, stereo, 3 bytes of data,
    // followed by an unprotected one.
    let mut data = b"\xff\xf0\x50\x80\x01\x9f\xfc\xab\xcdxyz".to_vec();
    data.extend_from_slice(b"\xff\xf1\x50\x80\x01\x3f\xfcab");
    let frames: Vec<_> = adts_frames(&data).map(Result::unwrap).collect();
    assert_eq!(frames.len(), 2);
    assert!(!frames[0].header.protection_absent);
    assert_eq!(
        (frames[0].header.header_len(), frames[0].payload),
        (9, &b"xyz"[..])
    );
    assert_eq!(
        (frames[1].header.frame_length, frames[1].payload),
        (9, &b"ab"[..])
    );
    assert_eq!(frames[0].header.sample_rate(), Some(44100));
    let out = AacPackager::new().push_adts(&data).unwrap();
    assert_eq!(
        out[0].sequence_header.as_deref(),
        Some(&b"\xaf\x00\x12\x10"[..])
    );
    assert_eq!(
        (&out[0].frame[..], &out[1].frame[..]),
        (&b"\xaf\x01xyz"[..], &b"\xaf\x01ab"[..])
    );
    // Rewritten without CRC.
    let config = AudioSpecificConfig::from_adts(&frames[0].header).unwrap();
    assert_eq!(
        to_adts(b"xyz", &config).unwrap(),
        b"\xff\xf1\x50\x80\x01\x5f\xfcxyz"
    );
}

#[test]
fn adts_limits() {
    let two_blocks = b"\xff\xf1\x50\x80\x01\x3f\xfdab";
    assert!(matches!(
        AacPackager::new().push_adts(two_blocks),
        Err(MediaError::Unsupported(_))
    ));
    let pce = b"\xff\xf1\x50\x00\x01\x3f\xfcab"; // channel configuration 0
    assert!(matches!(
        AacPackager::new().push_adts(pce),
        Err(MediaError::Unsupported(_))
    ));
    let mut it = adts_frames(b"\xff\xf1\x50\x80\x01\x3f\xfca"); // one byte short
    assert!(matches!(it.next(), Some(Err(MediaError::Truncated(_)))));
    assert!(it.next().is_none());
    assert!(AdtsHeader::parse(b"\xff\xf1\x50\x80\x00\x1f\xfc").is_err()); // length < 7
    assert!(AdtsHeader::parse(b"\xff\xe1\x50\x80\x01\x1f\xfc").is_err()); // bad sync
    assert!(AacPackager::new().push_raw(b"x").is_err()); // no config
    assert!(to_adts(&[0; 8200], &AudioSpecificConfig::new(2, 4, 2).unwrap()).is_err());
}

#[test]
fn audio_specific_configs() {
    // Explicit HE-AAC: object type 5, 24 kHz core, stereo, extension 48 kHz, core type 2.
    let asc = AudioSpecificConfig::parse(b"\x2b\x11\x88\x00").unwrap();
    assert_eq!(
        (
            asc.object_type,
            asc.sample_rate,
            asc.channel_config,
            asc.sbr
        ),
        (5, 24000, 2, Some((2, 3)))
    );
    let h = asc.adts_header().unwrap();
    assert_eq!((h.profile, h.sampling_index, h.channel_config), (1, 6, 2));
    // Escape object type (31 + 6 bits) and explicit frequency (index 15 + 24 bits).
    let bytes = from_bits("11111 000001 1111 000000000111111101110111 0010");
    let asc = AudioSpecificConfig::parse(&bytes).unwrap();
    assert_eq!(asc.channel_config, 2);
    assert_eq!(
        (asc.object_type, asc.sampling_index, asc.sample_rate),
        (32 + 1, 15, 0x7f_77)
    );
    assert!(asc.adts_header().is_err());
    assert!(AudioSpecificConfig::parse(b"\x00\x00").is_err());
    assert!(AudioSpecificConfig::parse(b"\x17").is_err());
    assert!(AudioSpecificConfig::new(2, 13, 2).is_err());
    assert_eq!(
        &AudioSpecificConfig::new(2, 3, 2).unwrap().data[..],
        b"\x11\x90"
    );
}

#[test]
fn enhanced_mp4a_bodies() {
    let mut p = AacPackager::enhanced();
    p.set_config(AudioSpecificConfig::new(2, 3, 2).unwrap());
    let out = p.push_raw(b"raw").unwrap();
    assert_eq!(
        out.sequence_header.as_deref(),
        Some(&b"\x90mp4a\x11\x90"[..])
    );
    assert_eq!(&out.frame[..], b"\x91mp4araw");
    assert!(flv::audio_is_sequence_header(
        out.sequence_header.as_ref().unwrap()
    ));
    let mut u = AacUnpacker::new();
    assert_eq!(u.push(out.sequence_header.as_ref().unwrap()), Ok(None));
    assert_eq!(u.push(&out.frame).unwrap().as_deref(), Some(&b"raw"[..]));
    assert_eq!(u.config().unwrap().sample_rate, 48000);
    assert!(u.push(&Bytes::from_static(b"\x91Opusx")).is_err());
    assert!(u.push(&Bytes::from_static(b"\x2ex")).is_err()); // MP3
}

proptest! {
    #[test]
    fn hostile_input_never_panics(data in prop::collection::vec(any::<u8>(), 0..80)) {
        for _ in adts_frames(&data) {}
        let _ = AdtsHeader::parse(&data);
        let _ = AudioSpecificConfig::parse(&data);
        let _ = LegacyAudioHeader::parse(&data);
        let _ = AacPackager::new().push_adts(&data);
        let mut u = AacUnpacker::new();
        let _ = u.push(&Bytes::from(data.clone()));
        let mut body = b"\xaf\x00".to_vec();
        body.extend_from_slice(&data);
        if u.push(&Bytes::from(body)).is_ok() {
            if let Some(config) = u.config() {
                let _ = to_adts(&data, config);
            }
        }
    }

    #[test]
    fn adts_round_trip(profile in 0u8..4, index in 0u8..13, channels in 1u8..8,
                       raw in prop::collection::vec(any::<u8>(), 0..300)) {
        let config = AudioSpecificConfig::new(profile + 1, index, channels).unwrap();
        let adts = to_adts(&raw, &config).unwrap();
        let out = AacPackager::new().push_adts(&adts).unwrap();
        prop_assert_eq!(out.len(), 1);
        prop_assert_eq!(&out[0].frame[2..], &raw[..]);
        prop_assert_eq!(&out[0].sequence_header.as_ref().unwrap()[2..], &config.data[..]);
    }
}

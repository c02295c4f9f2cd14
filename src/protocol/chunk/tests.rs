use bytes::Bytes;
use proptest::prelude::*;

use super::*;

fn header(csid: u32, timestamp: u32, type_id: u8, stream_id: u32) -> MessageHeader {
    MessageHeader {
        chunk_stream_id: csid,
        timestamp,
        type_id,
        stream_id,
    }
}

fn encode_all(encoder: &mut ChunkEncoder, messages: &[RawMessage]) -> Vec<u8> {
    let mut wire = Vec::new();
    for m in messages {
        encoder
            .encode(&m.header, m.payload.clone())
            .write_to(&mut wire);
    }
    wire
}

fn decode_all(decoder: &mut ChunkDecoder, wire: &[u8]) -> Vec<RawMessage> {
    decoder.push(wire);
    std::iter::from_fn(|| decoder.next_message().unwrap()).collect()
}

fn message(csid: u32, timestamp: u32, type_id: u8, stream_id: u32, len: usize) -> RawMessage {
    RawMessage {
        header: header(csid, timestamp, type_id, stream_id),
        payload: (0..len).map(|i| (i * 7 + csid as usize) as u8).collect(),
    }
}

#[test]
fn set_chunk_size_has_the_specified_bytes() {
    let mut encoder = ChunkEncoder::new();
    let mut wire = Vec::new();
    encoder
        .encode(
            &header(2, 0, 1, 0),
            Bytes::copy_from_slice(&4096u32.to_be_bytes()),
        )
        .write_to(&mut wire);
    assert_eq!(
        wire,
        [0x02, 0, 0, 0, 0, 0, 4, 0x01, 0, 0, 0, 0, 0, 0, 0x10, 0x00]
    );
}

#[test]
fn basic_header_forms_cover_every_chunk_stream_id() {
    let cases: [(u32, &[u8]); 6] = [
        (2, &[0x02]),
        (63, &[0x3F]),
        (64, &[0x00, 0x00]),
        (319, &[0x00, 0xFF]),
        (320, &[0x01, 0x00, 0x01]),
        (65_599, &[0x01, 0xFF, 0xFF]),
    ];
    for (csid, expected) in cases {
        let mut out = [0u8; 3];
        let n = write_basic_header(&mut out, 0, csid);
        assert_eq!(&out[..n], expected, "csid {csid}");
        let m = message(csid, 1, 9, 1, 10);
        let wire = encode_all(&mut ChunkEncoder::new(), std::slice::from_ref(&m));
        assert_eq!(&wire[..n], expected);
        assert_eq!(decode_all(&mut ChunkDecoder::default(), &wire), vec![m]);
    }
}

#[test]
fn headers_compress_to_formats_1_2_and_3() {
    let mut encoder = ChunkEncoder::new();
    let first = encoder.encode(&header(6, 1000, 9, 1), Bytes::from_static(b"abcd"));
    let length_changed = encoder.encode(&header(6, 1033, 9, 1), Bytes::from_static(b"abcdef"));
    let delta_changed = encoder.encode(&header(6, 1066, 9, 1), Bytes::from_static(b"ghijkl"));
    let same_delta = encoder.encode(&header(6, 1099, 9, 1), Bytes::from_static(b"mnopqr"));
    let first_byte = |m: &ChunkedMessage| m.segments().next().unwrap()[0] >> 6;
    assert_eq!(first_byte(&first), 0);
    assert_eq!(first_byte(&length_changed), 1);
    assert_eq!(first_byte(&same_delta), 3);
    assert_eq!(same_delta.encoded_len(), 1 + 6);
    // Delta 33 twice: the second could be format 3 but the first after format 1 sets it.
    assert_eq!(first_byte(&delta_changed), 3);
}

#[test]
fn backwards_timestamps_and_new_stream_ids_use_full_headers() {
    let mut encoder = ChunkEncoder::new();
    encoder.encode(&header(4, 5000, 8, 1), Bytes::from_static(b"a"));
    let back = encoder.encode(&header(4, 4000, 8, 1), Bytes::from_static(b"a"));
    let other_stream = encoder.encode(&header(4, 4001, 8, 2), Bytes::from_static(b"a"));
    assert_eq!(back.segments().next().unwrap()[0] >> 6, 0);
    assert_eq!(other_stream.segments().next().unwrap()[0] >> 6, 0);
}

#[test]
fn messages_span_chunks_and_interleave_across_chunk_streams() {
    let video = message(6, 40, 9, 1, 1000);
    let audio = message(4, 41, 8, 1, 300);
    let mut encoder = ChunkEncoder::new();
    let v = encoder.encode(&video.header, video.payload.clone());
    let a = encoder.encode(&audio.header, audio.payload.clone());
    assert_eq!(v.chunk_count(), 8);
    // Interleave: the audio chunks go between the video's chunks, as a muxer may do.
    let vs: Vec<&[u8]> = v.segments().collect();
    let as_: Vec<&[u8]> = a.segments().collect();
    let mut wire = Vec::new();
    for pair in vs.chunks(2).take(3) {
        pair.iter().for_each(|s| wire.extend_from_slice(s));
    }
    as_.iter().for_each(|s| wire.extend_from_slice(s));
    for pair in vs.chunks(2).skip(3) {
        pair.iter().for_each(|s| wire.extend_from_slice(s));
    }
    assert_eq!(
        decode_all(&mut ChunkDecoder::default(), &wire),
        vec![audio, video]
    );
}

#[test]
fn extended_timestamps_repeated_on_continuation_chunks() {
    let m = message(6, 0x0123_4567, 9, 1, 300);
    let wire = encode_all(&mut ChunkEncoder::new(), std::slice::from_ref(&m));
    // fmt0 header 12 + ext 4 + 128, then (1 + 4 + 128), then (1 + 4 + 44)
    assert_eq!(wire.len(), 16 + 128 + 5 + 128 + 5 + 44);
    assert_eq!(&wire[144..149], &[0xC6, 0x01, 0x23, 0x45, 0x67]);
    assert_eq!(decode_all(&mut ChunkDecoder::default(), &wire), vec![m]);
}

#[test]
fn extended_timestamps_not_repeated_on_continuation_chunks() {
    // A peer that follows the older reading of the specification and omits the field.
    let m = message(6, 0x0123_4567, 9, 1, 300);
    let wire = encode_all(&mut ChunkEncoder::new(), std::slice::from_ref(&m));
    let mut omitted = wire[..144].to_vec();
    omitted.push(0xC6);
    omitted.extend_from_slice(&wire[149..277]);
    omitted.push(0xC6);
    omitted.extend_from_slice(&wire[282..]);
    assert_eq!(decode_all(&mut ChunkDecoder::default(), &omitted), vec![m]);
}

#[test]
fn timestamps_wrap_around() {
    let messages: Vec<_> = [0xFFFF_FF00u32, 0xFFFF_FFF0, 0x10, 0x50]
        .iter()
        .map(|&t| message(4, t, 8, 1, 20))
        .collect();
    let wire = encode_all(&mut ChunkEncoder::new(), &messages);
    assert_eq!(decode_all(&mut ChunkDecoder::default(), &wire), messages);
}

#[test]
fn format_3_after_format_0_adds_the_timestamp_field_as_delta() {
    // fmt 0 at ts 20 then a fmt 3 new message: ffmpeg and librtmp read ts 40.
    let mut wire = vec![0x04, 0, 0, 20, 0, 0, 2, 8, 1, 0, 0, 0, b'a', b'b'];
    wire.extend_from_slice(&[0xC4, b'c', b'd']);
    let got = decode_all(&mut ChunkDecoder::default(), &wire);
    assert_eq!(got[1].header.timestamp, 40);
    assert_eq!(&got[1].payload[..], b"cd");
}

#[test]
fn set_chunk_size_applies_from_the_next_chunk() {
    let mut encoder = ChunkEncoder::new();
    let mut wire = Vec::new();
    let set = ControlMessageBytes::set_chunk_size(4096);
    encoder.encode(&header(2, 0, 1, 0), set).write_to(&mut wire);
    encoder.set_chunk_size(4096).unwrap();
    let big = message(6, 0, 9, 1, 5000);
    encoder
        .encode(&big.header, big.payload.clone())
        .write_to(&mut wire);
    let mut decoder = ChunkDecoder::default();
    let got = decode_all(&mut decoder, &wire);
    assert_eq!(got.len(), 2);
    assert_eq!(got[1], big);
    assert_eq!(decoder.chunk_size(), 4096);
}

struct ControlMessageBytes;
impl ControlMessageBytes {
    fn set_chunk_size(size: u32) -> Bytes {
        Bytes::copy_from_slice(&size.to_be_bytes())
    }
}

#[test]
fn invalid_chunk_sizes_are_rejected() {
    let mut wire = vec![0x02, 0, 0, 0, 0, 0, 4, 0x01, 0, 0, 0, 0];
    wire.extend_from_slice(&0u32.to_be_bytes());
    let mut decoder = ChunkDecoder::default();
    decoder.push(&wire);
    assert_eq!(decoder.next_message(), Err(ChunkError::InvalidChunkSize(0)));
    assert!(ChunkEncoder::new().set_chunk_size(0x8000_0000).is_err());
    assert!(ChunkDecoder::default()
        .set_chunk_size(MAX_CHUNK_SIZE)
        .is_ok());
}

#[test]
fn abort_discards_the_partial_message() {
    let mut encoder = ChunkEncoder::new();
    let big = message(6, 0, 9, 1, 300);
    let chunked = encoder.encode(&big.header, big.payload.clone());
    let mut wire: Vec<u8> = chunked.segments().take(2).flatten().copied().collect();
    let mut abort = ChunkEncoder::new();
    abort
        .encode(
            &header(2, 0, 2, 0),
            Bytes::copy_from_slice(&6u32.to_be_bytes()),
        )
        .write_to(&mut wire);
    let next = message(6, 10, 9, 1, 50);
    let mut fresh = ChunkEncoder::new();
    fresh
        .encode(&next.header, next.payload.clone())
        .write_to(&mut wire);
    let got = decode_all(&mut ChunkDecoder::default(), &wire);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].header.type_id, 2);
    assert_eq!(got[1], next);
}

#[test]
fn continuation_without_a_previous_header_is_an_error() {
    for fmt in 1..=3u8 {
        let mut decoder = ChunkDecoder::default();
        decoder.push(&[(fmt << 6) | 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            decoder.next_message(),
            Err(ChunkError::NoPreviousHeader {
                chunk_stream_id: 5,
                fmt
            })
        );
    }
}

#[test]
fn limits_close_hostile_streams() {
    let limits = ChunkLimits {
        max_message_size: 1000,
        max_reassembly_bytes: 1500,
        max_chunk_streams: 3,
    };
    let mut decoder = ChunkDecoder::new(limits);
    decoder.push(&[0x06, 0, 0, 0, 0, 0x03, 0xE9, 9, 1, 0, 0, 0]);
    assert_eq!(
        decoder.next_message(),
        Err(ChunkError::MessageTooLarge {
            length: 1001,
            limit: 1000
        })
    );

    let mut decoder = ChunkDecoder::new(limits);
    decoder.push(&[0x06, 0, 0, 0, 0, 0x03, 0xE8, 9, 1, 0, 0, 0]);
    decoder.push(&[0u8; 128]);
    decoder.push(&[0x07, 0, 0, 0, 0, 0x03, 0xE8, 9, 1, 0, 0, 0]);
    decoder.push(&[0u8; 128]);
    assert_eq!(
        decoder.next_message(),
        Err(ChunkError::ReassemblyLimit { limit: 1500 })
    );

    let mut decoder = ChunkDecoder::new(limits);
    for csid in 3..7u8 {
        decoder.push(&[csid, 0, 0, 0, 0, 0, 1, 8, 1, 0, 0, 0, 0xAF]);
    }
    for _ in 0..3 {
        assert!(decoder.next_message().unwrap().is_some());
    }
    assert_eq!(
        decoder.next_message(),
        Err(ChunkError::TooManyChunkStreams { limit: 3 })
    );
}

#[test]
fn segments_resume_after_partial_writes() {
    let m = message(6, 0x0200_0000, 9, 1, 700);
    let chunked = ChunkEncoder::new().encode(&m.header, m.payload.clone());
    let mut whole = Vec::new();
    chunked.write_to(&mut whole);
    assert_eq!(whole.len(), chunked.encoded_len());
    for offset in 0..=whole.len() {
        let rest: Vec<u8> = chunked.segments_from(offset).flatten().copied().collect();
        assert_eq!(rest, whole[offset..], "offset {offset}");
    }
    let mut slices = Vec::new();
    chunked.io_slices(&mut slices);
    assert_eq!(slices.len(), 2 * chunked.chunk_count());
}

#[test]
fn empty_messages_round_trip() {
    let messages = vec![message(3, 0, 20, 0, 0), message(3, 5, 20, 0, 0)];
    let wire = encode_all(&mut ChunkEncoder::new(), &messages);
    assert_eq!(decode_all(&mut ChunkDecoder::default(), &wire), messages);
}

#[test]
fn standalone_messages_decode_after_anything() {
    let a = message(6, 100, 9, 1, 400);
    let b = message(6, 0x0100_0000, 9, 1, 400);
    let mut wire = Vec::new();
    ChunkedMessage::standalone(&a.header, a.payload.clone(), 128).write_to(&mut wire);
    ChunkedMessage::standalone(&b.header, b.payload.clone(), 128).write_to(&mut wire);
    assert_eq!(decode_all(&mut ChunkDecoder::default(), &wire), vec![a, b]);
}

fn arb_message() -> impl Strategy<Value = RawMessage> {
    (
        prop_oneof![Just(2u32), Just(3), Just(4), Just(6), 2u32..=65_599],
        prop_oneof![0u32..1000, 0xFF_FFF0u32..0x100_0010, any::<u32>()],
        prop_oneof![Just(8u8), Just(9), Just(18), Just(20), any::<u8>()],
        prop_oneof![Just(0u32), Just(1), any::<u32>()],
        proptest::collection::vec(any::<u8>(), 0..1500),
    )
        .prop_map(
            |(csid, timestamp, type_id, stream_id, payload)| RawMessage {
                header: header(csid, timestamp, type_id, stream_id),
                payload: payload.into(),
            },
        )
        // Chunk-level control messages would change the decoder's state mid-test.
        .prop_filter("not chunk control", |m| m.header.type_id > 2)
}

proptest! {
    #[test]
    fn encoder_and_decoder_round_trip(
        messages in proptest::collection::vec(arb_message(), 1..40),
        chunk_size in prop_oneof![Just(1u32), Just(128), Just(4096), 1u32..3000],
        split in 1usize..5000,
    ) {
        let mut encoder = ChunkEncoder::new();
        encoder.set_chunk_size(chunk_size).unwrap();
        let wire = encode_all(&mut encoder, &messages);
        let mut decoder = ChunkDecoder::new(ChunkLimits { max_chunk_streams: 100, ..Default::default() });
        decoder.set_chunk_size(chunk_size).unwrap();
        let mut got = Vec::new();
        for piece in wire.chunks(split) {
            decoder.push(piece);
            while let Some(m) = decoder.next_message().unwrap() {
                got.push(m);
            }
        }
        prop_assert_eq!(got, messages);
        prop_assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn decoder_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4000)) {
        let mut decoder = ChunkDecoder::default();
        decoder.push(&bytes);
        while let Ok(Some(_)) = decoder.next_message() {}
    }
}

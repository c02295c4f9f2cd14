//! Fuzz target `chunk_decoder`: a `ChunkDecoder` with small limits, and every message it
//! produces through the message-level parsers.
//!
//! Input: `[flags] [split header] [chunk stream bytes]` (see `common`). flags bits 0-1 pick
//! the largest message, bits 2-3 the reassembly budget, bits 4-5 the number of chunk streams,
//! bits 6-7 the chunk size of the re-encoding below; the AMF limits come from `flags >> 3`.
//!
//! Checks:
//! - fed whole, or in the fuzzer's pieces (drained with `next_message` after each piece until
//!   `None` or an error), the decoder yields the same messages and the same final error, and
//!   never a message over the size limit or with an impossible chunk stream id;
//! - re-encoding those messages with a `ChunkEncoder` (following their Set Chunk Size
//!   messages) and decoding the result gives them back exactly;
//! - every message (and every part of it read as an aggregate) goes through
//!   `ControlMessage::decode` (which must round-trip through `encode`), `split_aggregate`,
//!   `Command::decode` + `NetCommand::from_command`, and `DataMessage::decode`, none of which
//!   may panic.

use rtmp_core::protocol::amf::AmfLimits;
use rtmp_core::protocol::chunk::{
    ChunkDecoder, ChunkEncoder, ChunkError, ChunkLimits, RawMessage, MAX_CHUNK_SIZE,
    MAX_CHUNK_STREAM_ID, MAX_MESSAGE_LENGTH, MIN_CHUNK_STREAM_ID,
};
use rtmp_core::protocol::message::{split_aggregate, ControlMessage};

use super::common;

pub fn run(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let limits = ChunkLimits {
        max_message_size: [64, 1024, 65_536, MAX_MESSAGE_LENGTH][usize::from(flags & 3)],
        max_reassembly_bytes: [128, 4096, 1 << 20, 64 << 20][usize::from((flags >> 2) & 3)],
        max_chunk_streams: [1, 4, 64, 1000][usize::from((flags >> 4) & 3)],
    };
    let amf_limits = common::amf_limits(flags >> 3);
    let input = common::split(rest);

    let (whole, whole_error) = decode(limits, std::iter::once(input.payload), input.payload.len());
    let (pieces, pieces_error) = decode(limits, input.pieces(), input.payload.len());
    assert_eq!(
        whole_error, pieces_error,
        "whole and pieces end differently"
    );
    assert_eq!(
        whole.len(),
        pieces.len(),
        "whole and pieces give different message counts"
    );
    for (a, b) in whole.iter().zip(&pieces) {
        assert_eq!(a.header, b.header);
        assert!(
            a.payload == b.payload,
            "whole and pieces give different payloads"
        );
    }

    for message in &whole {
        assert!(message.payload.len() <= limits.max_message_size as usize);
        assert!(
            (MIN_CHUNK_STREAM_ID..=MAX_CHUNK_STREAM_ID).contains(&message.header.chunk_stream_id),
            "chunk stream id {}",
            message.header.chunk_stream_id
        );
        check_message(message, amf_limits);
        if let Ok(parts) = split_aggregate(message) {
            let mut total = 0usize;
            for part in &parts {
                total += part.payload.len() + 11;
                assert_eq!(part.header.stream_id, message.header.stream_id);
                check_message(part, amf_limits);
            }
            assert!(
                total <= message.payload.len(),
                "aggregate parts longer than the whole"
            );
        }
    }

    let chunk_size = [128, 1, 4096, MAX_CHUNK_SIZE][usize::from(flags >> 6)];
    re_encode(&whole, chunk_size, limits.max_chunk_streams);
}

/// Pushes `pieces` and drains after each; stops at the first error.
fn decode<'a>(
    limits: ChunkLimits,
    pieces: impl Iterator<Item = &'a [u8]>,
    len: usize,
) -> (Vec<RawMessage>, Option<ChunkError>) {
    let mut decoder = ChunkDecoder::new(limits);
    let mut messages = Vec::new();
    let mut pushed = 0usize;
    for piece in pieces {
        decoder.push(piece);
        pushed += piece.len();
        assert_eq!(decoder.bytes_received(), pushed as u64);
        loop {
            match decoder.next_message() {
                Ok(Some(message)) => messages.push(message),
                Ok(None) => break,
                Err(error) => return (messages, Some(error)),
            }
        }
        assert!(decoder.buffered() <= pushed);
    }
    assert_eq!(pushed, len);
    (messages, None)
}

/// The parsers a session runs on a message, which must not panic.
fn check_message(message: &RawMessage, amf_limits: AmfLimits) {
    let type_id = message.header.type_id;
    match ControlMessage::decode(type_id, &message.payload) {
        Ok(Some(control)) => {
            assert!(
                matches!(type_id, 1..=6),
                "control message of type {type_id}"
            );
            let (encoded_type, body) = control.encode();
            assert_eq!(encoded_type as u8, type_id);
            assert_eq!(
                ControlMessage::decode(type_id, &body),
                Ok(Some(control.clone())),
                "control message does not round-trip"
            );
            assert_eq!(control.header(7).type_id, type_id);
        }
        Ok(None) => assert!(!matches!(type_id, 1..=6), "type {type_id} not parsed"),
        Err(_) => {}
    }
    let amf3 = matches!(type_id, 15 | 17);
    super::amf0::command(&message.payload, amf3, amf_limits);
    super::amf0::data_message(&message.payload, amf3, amf_limits);
}

/// Encodes `messages` again and decodes the result: the same messages must come out.
fn re_encode(messages: &[RawMessage], chunk_size: u32, max_chunk_streams: usize) {
    let mut encoder = ChunkEncoder::new();
    encoder
        .set_chunk_size(chunk_size)
        .expect("valid chunk size");
    let mut wire = Vec::new();
    for message in messages {
        encoder
            .encode(&message.header, message.payload.clone())
            .write_to(&mut wire);
        if message.header.type_id == 1 {
            // The decoder applied it (or failed and the message never came out).
            let size = u32::from_be_bytes(common::bytes_at(&message.payload, 0)) & MAX_CHUNK_SIZE;
            encoder
                .set_chunk_size(size)
                .expect("the decoder accepted this chunk size");
        }
    }
    let limits = ChunkLimits {
        max_chunk_streams,
        ..ChunkLimits::default()
    };
    let mut decoder = ChunkDecoder::new(limits);
    decoder
        .set_chunk_size(chunk_size)
        .expect("valid chunk size");
    decoder.push(&wire);
    for (i, expected) in messages.iter().enumerate() {
        let got = match decoder.next_message() {
            Ok(Some(m)) => m,
            other => panic!("re-encoded message {i} of {}: {other:?}", messages.len()),
        };
        assert_eq!(
            got.header, expected.header,
            "re-encoded message {i}: header"
        );
        assert!(
            got.payload == expected.payload,
            "re-encoded message {i}: payload"
        );
    }
    assert_eq!(decoder.next_message(), Ok(None));
    assert_eq!(
        decoder.buffered(),
        0,
        "bytes left over after the re-encoded messages"
    );
}

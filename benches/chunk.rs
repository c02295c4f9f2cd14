//! Chunk stream decode and encode for a realistic live mix, against rml_rtmp 0.8.
//!
//! The mix is 10 s of a 30 fps, ~6 Mbit/s H.264 stream (a ~150 KB keyframe every 2 s,
//! ~22 KB delta frames) with 128 kbit/s AAC (~43 frames/s), interleaved by timestamp, at
//! chunk sizes 128 and 4096. Decoding is fed 64 KiB at a time, as socket reads deliver it.
//! Encoding produces what a vectored write sends: for rtmp_core the chunk headers plus
//! slices of the shared payload (`IoSlice`s), for rml_rtmp its serialized packet.

use std::hint::black_box;
use std::io::IoSlice;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rml_rtmp::chunk_io::{ChunkDeserializer, ChunkSerializer};
use rml_rtmp::messages::MessagePayload;
use rml_rtmp::time::RtmpTimestamp;
use rtmp_core::protocol::chunk::{ChunkDecoder, ChunkEncoder, MessageHeader, RawMessage};

const READ_SIZE: usize = 64 * 1024;

/// A deterministic live mix: (header, payload) in send order.
fn live_mix() -> Vec<RawMessage> {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut messages = Vec::new();
    let (mut video_ms, mut audio_ms) = (0f64, 0f64);
    while video_ms < 10_000.0 || audio_ms < 10_000.0 {
        let (kind, timestamp, len) = if video_ms <= audio_ms {
            let frame = (video_ms / (1000.0 / 30.0)).round() as u64;
            let len = if frame % 60 == 0 {
                150_000
            } else {
                19_000 + (rand() % 6_000) as usize
            };
            let t = video_ms;
            video_ms += 1000.0 / 30.0;
            (9u8, t, len)
        } else {
            let t = audio_ms;
            audio_ms += 1024.0 * 1000.0 / 44_100.0;
            (8u8, t, 330 + (rand() % 80) as usize)
        };
        let payload: Bytes = (0..len).map(|i| (i as u64 ^ rand()) as u8).collect();
        messages.push(RawMessage {
            header: MessageHeader {
                chunk_stream_id: if kind == 9 { 6 } else { 4 },
                timestamp: timestamp as u32,
                type_id: kind,
                stream_id: 1,
            },
            payload,
        });
    }
    messages
}

fn encode_wire(messages: &[RawMessage], chunk_size: u32) -> Vec<u8> {
    let mut encoder = ChunkEncoder::new();
    encoder.set_chunk_size(chunk_size).unwrap();
    let mut wire = Vec::new();
    for m in messages {
        encoder
            .encode(&m.header, m.payload.clone())
            .write_to(&mut wire);
    }
    wire
}

fn rml_payload(m: &RawMessage) -> MessagePayload {
    MessagePayload {
        timestamp: RtmpTimestamp::new(m.header.timestamp),
        type_id: m.header.type_id,
        message_stream_id: m.header.stream_id,
        data: m.payload.clone(),
    }
}

fn decode(c: &mut Criterion) {
    let messages = live_mix();
    let mut group = c.benchmark_group("decode");
    for chunk_size in [128u32, 4096] {
        let wire = encode_wire(&messages, chunk_size);
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("rtmp_core", chunk_size),
            &wire,
            |b, wire| {
                b.iter(|| {
                    let mut decoder = ChunkDecoder::default();
                    decoder.set_chunk_size(chunk_size).unwrap();
                    let mut count = 0usize;
                    for read in wire.chunks(READ_SIZE) {
                        decoder.push(read);
                        while let Some(m) = decoder.next_message().unwrap() {
                            black_box(&m);
                            count += 1;
                        }
                    }
                    assert_eq!(count, messages.len());
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("rml_rtmp", chunk_size),
            &wire,
            |b, wire| {
                b.iter(|| {
                    let mut decoder = ChunkDeserializer::new();
                    decoder.set_max_chunk_size(chunk_size as usize).unwrap();
                    let mut count = 0usize;
                    for read in wire.chunks(READ_SIZE) {
                        let mut input: &[u8] = read;
                        while let Some(m) = decoder.get_next_message(input).unwrap() {
                            black_box(&m);
                            count += 1;
                            input = &[];
                        }
                    }
                    assert_eq!(count, messages.len());
                })
            },
        );
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let messages = live_mix();
    let rml_messages: Vec<_> = messages.iter().map(rml_payload).collect();
    let mut group = c.benchmark_group("encode");
    for chunk_size in [128u32, 4096] {
        let wire_len = encode_wire(&messages, chunk_size).len();
        group.throughput(Throughput::Bytes(wire_len as u64));
        group.bench_function(BenchmarkId::new("rtmp_core", chunk_size), |b| {
            b.iter(|| {
                let mut encoder = ChunkEncoder::new();
                encoder.set_chunk_size(chunk_size).unwrap();
                let mut total = 0usize;
                for m in &messages {
                    let chunked = encoder.encode(&m.header, m.payload.clone());
                    // What a writer puts into its iovec array.
                    for segment in chunked.segments() {
                        let slice = IoSlice::new(segment);
                        total += slice.len();
                        black_box(&slice);
                    }
                }
                assert_eq!(total, wire_len);
            })
        });
        group.bench_function(BenchmarkId::new("rml_rtmp", chunk_size), |b| {
            b.iter(|| {
                let mut serializer = ChunkSerializer::new();
                serializer
                    .set_max_chunk_size(chunk_size, RtmpTimestamp::new(0))
                    .unwrap();
                let mut total = 0usize;
                for m in &rml_messages {
                    let packet = serializer.serialize(m, false, false).unwrap();
                    total += packet.bytes.len();
                    black_box(&packet);
                }
                black_box(total);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);

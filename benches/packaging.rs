//! Packaging throughput: encoder output (Annex-B H.264/HEVC, AV1 temporal units, VP9
//! frames, AAC ADTS, Opus packets) into FLV tag bodies with `media::encoder`, the path
//! `Client::write_video`/`write_audio` in the bindings take for every frame.
//!
//! The encoder output is regenerated from the FLV fixtures that ffmpeg 9 made
//! (tests/fixtures/elementary) with the matching unpackers, so it is real encoder output
//! with in-band parameter sets on every keyframe. Each iteration packages the whole
//! stream with a fresh packager (sequence headers included).

use std::hint::black_box;
use std::path::Path;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rtmp_core::media::aac::{to_adts, AacUnpacker};
use rtmp_core::media::av1::Av1Unpacker;
use rtmp_core::media::avc::AvcUnpacker;
use rtmp_core::media::encoder::{AudioCodec, AudioPackager, VideoCodec, VideoPackager};
use rtmp_core::media::flv::{FlvReader, TagKind};
use rtmp_core::media::hevc::HevcUnpacker;
use rtmp_core::media::opus::OpusUnpacker;
use rtmp_core::media::vpx::{VpxCodec, VpxUnpacker};

fn tags(name: &str, kind: TagKind) -> Vec<(u32, Bytes)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/elementary")
        .join(name);
    let data = Bytes::from(std::fs::read(&path).unwrap());
    FlvReader::from_bytes(data)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|t| t.kind == kind)
        .map(|t| (t.timestamp, t.body))
        .collect()
}

/// (pts, dts, access unit) of a video fixture.
fn video_units(name: &str) -> Vec<(i64, i64, Bytes)> {
    let mut avc = AvcUnpacker::new();
    let mut hevc = HevcUnpacker::new();
    let mut av1 = Av1Unpacker::new();
    let mut vp9 = VpxUnpacker::new(VpxCodec::Vp9);
    tags(name, TagKind::Video)
        .into_iter()
        .filter_map(|(ts, body)| {
            let frame = match name {
                "avc.flv" => avc.push(&body),
                "hevc.flv" => hevc.push(&body),
                "av1.flv" => av1.push(&body),
                _ => vp9.push(&body),
            }
            .unwrap()?;
            let dts = ts as i64;
            Some((dts + frame.composition_time as i64, dts, frame.data))
        })
        .collect()
}

fn bench_video(c: &mut Criterion) {
    let mut group = c.benchmark_group("package_video");
    for (name, codec) in [
        ("avc.flv", VideoCodec::H264),
        ("hevc.flv", VideoCodec::Hevc),
        ("av1.flv", VideoCodec::Av1),
        ("vp9.flv", VideoCodec::Vp9),
    ] {
        let units = video_units(name);
        assert!(units.len() > 10, "{name}: {} units", units.len());
        let bytes: usize = units.iter().map(|u| u.2.len()).sum();
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_with_input(
            BenchmarkId::new(format!("{codec:?}"), units.len()),
            &units,
            |b, units| {
                b.iter(|| {
                    let mut packager = VideoPackager::new(codec);
                    for (pts, dts, unit) in units {
                        black_box(packager.package(unit, *pts, *dts).unwrap());
                    }
                })
            },
        );
    }
    group.finish();
}

fn bench_audio(c: &mut Criterion) {
    let mut group = c.benchmark_group("package_audio");
    let mut aac = AacUnpacker::new();
    let adts: Vec<(i64, Vec<u8>)> = tags("aac.flv", TagKind::Audio)
        .into_iter()
        .filter_map(|(ts, body)| {
            let raw = aac.push(&body).unwrap()?;
            Some((ts as i64, to_adts(&raw, aac.config().unwrap()).unwrap()))
        })
        .collect();
    let mut opus = OpusUnpacker::new();
    let packets: Vec<(i64, Vec<u8>)> = tags("opus.flv", TagKind::Audio)
        .into_iter()
        .filter_map(|(ts, body)| Some((ts as i64, opus.push(&body).unwrap()?.to_vec())))
        .collect();
    for (codec, frames) in [
        (AudioCodec::Aac, adts),
        (
            AudioCodec::Opus {
                channels: 2,
                sample_rate: 48_000,
            },
            packets,
        ),
    ] {
        assert!(frames.len() > 10);
        let bytes: usize = frames.iter().map(|f| f.1.len()).sum();
        group.throughput(Throughput::Bytes(bytes as u64));
        let label = if codec == AudioCodec::Aac {
            "Aac"
        } else {
            "Opus"
        };
        group.bench_with_input(
            BenchmarkId::new(label, frames.len()),
            &frames,
            |b, frames| {
                b.iter(|| {
                    let mut packager = AudioPackager::new(codec).unwrap();
                    for (pts, data) in frames {
                        black_box(packager.package(data, *pts).unwrap());
                    }
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench_video, bench_audio);
criterion_main!(benches);

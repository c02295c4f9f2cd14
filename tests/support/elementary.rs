//! What encoders emit, made by ffmpeg in the test and read back into frames: Annex-B
//! (H.264, HEVC) split into access units at the AUDs ffmpeg inserts, AV1 OBU streams split
//! into temporal units, IVF (VP9), Ogg (Opus) and ADTS (AAC). The codec packagers of
//! `rtmp_core::media` turn them into tag bodies, in timestamp order, ready for a Client.

use std::path::PathBuf;

use bytes::Bytes;
use rtmp_core::media::{aac, av1, avc, hevc, nal, opus, vpx};
use rtmp_core::{Frame, MediaKind};

use super::{run_modern_ffmpeg, scratch};

/// Video frames per second of every generated stream.
pub const FPS: u32 = 30;

/// A generated elementary stream and the tag bodies our packagers made of it.
pub struct Track {
    pub path: PathBuf,
    /// Sequence headers and frames with their timestamps, in order.
    pub frames: Vec<Frame>,
    /// Coded frames (not sequence headers) in the stream.
    pub coded: usize,
}

/// The video codecs and audio codecs the tests generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    H264,
    Hevc,
    Av1,
    Vp9,
    Aac,
    Opus,
}

impl Codec {
    /// ffmpeg's name of the codec, as its demuxers report it.
    pub fn ffmpeg_name(self) -> &'static str {
        match self {
            Codec::H264 => "h264",
            Codec::Hevc => "hevc",
            Codec::Av1 => "av1",
            Codec::Vp9 => "vp9",
            Codec::Aac => "aac",
            Codec::Opus => "opus",
        }
    }
}

/// Makes `seconds` of testsrc2 (320x240, 30 fps, no B-frames: encoder output in decode
/// order is presentation order) or of a sine, encoded with `codec` in the form an encoder
/// hands out, and packages it.
pub fn track(codec: Codec, seconds: u32) -> Track {
    let video = format!("-f lavfi -i testsrc2=size=320x240:rate={FPS} -t {seconds}");
    let audio =
        |rate: u32| format!("-f lavfi -i sine=frequency=440:sample_rate={rate} -t {seconds}");
    let (input, ext, encode) = match codec {
        Codec::H264 => (
            video,
            "h264",
            "-c:v libx264 -preset ultrafast -bf 0 -g 30 -bsf:v h264_metadata=aud=insert -f h264",
        ),
        Codec::Hevc => (
            video,
            "h265",
            "-c:v libx265 -preset ultrafast -bf 0 -g 30 -x265-params log-level=error \
             -bsf:v hevc_metadata=aud=insert -f hevc",
        ),
        Codec::Av1 => (
            video,
            "obu",
            "-c:v libaom-av1 -usage realtime -cpu-used 8 -g 30 -f obu",
        ),
        Codec::Vp9 => (
            video,
            "ivf",
            "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -g 30 -b:v 500k -f ivf",
        ),
        Codec::Aac => (audio(44_100), "adts", "-c:a aac -b:a 64k -f adts"),
        Codec::Opus => (audio(48_000), "ogg", "-ac 2 -c:a libopus -b:a 64k -f ogg"),
    };
    let path = scratch().join(format!(
        "elementary-{}-{seconds}s.{ext}",
        codec.ffmpeg_name()
    ));
    let mut args: Vec<&str> = input.split_whitespace().collect();
    args.extend(encode.split_whitespace());
    args.push(path.to_str().unwrap());
    run_modern_ffmpeg(&args);
    let data = std::fs::read(&path).unwrap();
    let (frames, coded) = match codec {
        Codec::H264 => package_h264(&data),
        Codec::Hevc => package_hevc(&data),
        Codec::Av1 => package_av1(&data),
        Codec::Vp9 => package_vp9(&data),
        Codec::Aac => package_aac(&data),
        Codec::Opus => package_opus(&data),
    };
    Track {
        path,
        frames,
        coded,
    }
}

/// Both tracks' frames in one list, in timestamp order (video first on a tie).
pub fn interleave(video: &Track, audio: &Track) -> Vec<Frame> {
    let mut all: Vec<Frame> = video.frames.iter().chain(&audio.frames).cloned().collect();
    // A stable sort keeps each track's order, sequence headers first.
    all.sort_by_key(|f| (f.timestamp, f.kind == MediaKind::Audio));
    all
}

fn video_ms(index: usize) -> u32 {
    (index as u64 * 1000 / FPS as u64) as u32
}

fn push_video(out: &mut Vec<Frame>, ts: u32, header: Option<Bytes>, frame: Option<Bytes>) -> bool {
    if let Some(h) = header {
        out.push(Frame::from_tag(MediaKind::Video, ts, h));
    }
    match frame {
        Some(f) => {
            out.push(Frame::from_tag(MediaKind::Video, ts, f));
            true
        }
        None => false,
    }
}

/// Splits an Annex-B stream into access units at its access unit delimiters.
fn access_units(data: &[u8], is_aud: impl Fn(&[u8]) -> bool) -> Vec<Vec<u8>> {
    let mut units: Vec<Vec<u8>> = Vec::new();
    for unit in nal::split_annexb(data) {
        if is_aud(unit) || units.is_empty() {
            units.push(Vec::new());
        }
        let current = units.last_mut().unwrap();
        current.extend_from_slice(&[0, 0, 0, 1]);
        current.extend_from_slice(unit);
    }
    units
}

fn package_h264(data: &[u8]) -> (Vec<Frame>, usize) {
    let mut packager = avc::AvcPackager::new();
    let mut out = Vec::new();
    let mut coded = 0;
    for unit in access_units(data, |n| avc::nal_type(n) == 9) {
        let ts = video_ms(coded) as i64;
        let p = packager.package(&unit, ts, ts).unwrap();
        coded += push_video(&mut out, ts as u32, p.sequence_header, p.frame) as usize;
    }
    (out, coded)
}

fn package_hevc(data: &[u8]) -> (Vec<Frame>, usize) {
    let mut packager = hevc::HevcPackager::new();
    let mut out = Vec::new();
    let mut coded = 0;
    for unit in access_units(data, |n| hevc::nal_type(n) == 35) {
        let ts = video_ms(coded) as i64;
        let p = packager.package(&unit, ts, ts).unwrap();
        coded += push_video(&mut out, ts as u32, p.sequence_header, p.frame) as usize;
    }
    (out, coded)
}

fn package_av1(data: &[u8]) -> (Vec<Frame>, usize) {
    // Temporal units start with a temporal delimiter (OBU type 2).
    let mut units: Vec<Vec<u8>> = Vec::new();
    for obu in av1::obus(data) {
        let obu = obu.unwrap();
        if obu.obu_type == 2 || units.is_empty() {
            units.push(Vec::new());
        }
        units.last_mut().unwrap().extend_from_slice(obu.raw);
    }
    let mut packager = av1::Av1Packager::new();
    let mut out = Vec::new();
    let mut coded = 0;
    for unit in units {
        let p = packager.package(&unit).unwrap();
        coded += push_video(&mut out, video_ms(coded), p.sequence_header, p.frame) as usize;
    }
    (out, coded)
}

fn package_vp9(data: &[u8]) -> (Vec<Frame>, usize) {
    // IVF: a 32-byte file header (its length at offset 6), then 12-byte frame headers
    // (size, 64-bit pts) before each frame.
    let header_len = u16::from_le_bytes([data[6], data[7]]) as usize;
    let mut rest = &data[header_len..];
    let mut packager = vpx::VpxPackager::vp9().with_frame_rate(FPS as f64);
    let mut out = Vec::new();
    let mut coded = 0;
    while rest.len() >= 12 {
        let size = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let frame = &rest[12..12 + size];
        rest = &rest[12 + size..];
        let p = packager.package(frame).unwrap();
        coded += push_video(&mut out, video_ms(coded), p.sequence_header, p.frame) as usize;
    }
    (out, coded)
}

fn package_aac(data: &[u8]) -> (Vec<Frame>, usize) {
    let mut packager = aac::AacPackager::new();
    let mut out = Vec::new();
    let packaged = packager.push_adts(data).unwrap();
    let coded = packaged.len();
    for (i, p) in packaged.into_iter().enumerate() {
        let ts = (i as u64 * 1024 * 1000 / 44_100) as u32;
        if let Some(h) = p.sequence_header {
            out.push(Frame::from_tag(MediaKind::Audio, ts, h));
        }
        out.push(Frame::from_tag(MediaKind::Audio, ts, p.frame));
    }
    (out, coded)
}

/// The packets of the first logical stream of an Ogg file.
fn ogg_packets(mut data: &[u8]) -> Vec<Vec<u8>> {
    let mut packets = Vec::new();
    let mut current = Vec::new();
    while data.len() >= 27 {
        assert_eq!(&data[..4], b"OggS", "not an Ogg page");
        let segments = data[26] as usize;
        let table = &data[27..27 + segments];
        let mut body = &data[27 + segments..];
        for &lacing in table {
            current.extend_from_slice(&body[..lacing as usize]);
            body = &body[lacing as usize..];
            if lacing < 255 {
                packets.push(std::mem::take(&mut current));
            }
        }
        let page_len = 27 + segments + table.iter().map(|&l| l as usize).sum::<usize>();
        data = &data[page_len..];
    }
    packets
}

fn package_opus(data: &[u8]) -> (Vec<Frame>, usize) {
    let packets = ogg_packets(data);
    let head = opus::OpusHead::parse(&packets[0]).unwrap();
    let mut packager = opus::OpusPackager::new(head);
    let mut out = Vec::new();
    let mut samples = 0u64;
    // packets[1] is OpusTags.
    for packet in &packets[2..] {
        let ts = (samples * 1000 / 48_000) as u32;
        let p = packager.package(packet);
        if let Some(h) = p.sequence_header {
            out.push(Frame::from_tag(MediaKind::Audio, ts, h));
        }
        out.push(Frame::from_tag(MediaKind::Audio, ts, p.frame));
        samples += opus::packet_samples(packet).unwrap() as u64;
    }
    (out, packets.len() - 2)
}

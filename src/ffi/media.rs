//! Encoder output to FLV tag bodies over the C ABI: a packager handle that takes one
//! access unit (H.264/HEVC Annex-B, an AV1 temporal unit, AAC ADTS or raw, an Opus
//! packet) with its timestamps and lends back 0..n packets, and the shortcuts that write
//! H.264 and AAC straight into a publishing client.

use super::{
    boundary, bytes_arg, fail, fail_with, handle, out_param, RtmpClient, RtmpFrame, RtmpFrameInfo,
    RtmpMediaKind, RtmpResult,
};
use crate::hub::Frame;
use crate::media::encoder::{AudioCodec, AudioPackager, VideoCodec, VideoPackager};
use crate::media::enhanced::{MediaError, VideoTagFormat};
use crate::media::opus::OpusHead;

/// What a packager takes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtmpCodec {
    /// H.264 access units in Annex-B (start codes); SPS/PPS in band or set with
    /// `rtmp_packager_set_config`.
    H264 = 1,
    /// HEVC access units in Annex-B; VPS/SPS/PPS in band or set with
    /// `rtmp_packager_set_config`.
    Hevc = 2,
    /// AV1 temporal units (low-overhead OBUs, sequence header in band). Enhanced only.
    Av1 = 3,
    /// AAC in ADTS: one push may hold several frames, 1024 samples apart.
    AacAdts = 4,
    /// Raw AAC frames; the AudioSpecificConfig comes from `rtmp_packager_set_config`.
    AacRaw = 5,
    /// Opus packets; made with `rtmp_packager_new_opus`. Enhanced only.
    Opus = 6,
}

/// Which FLV tag headers a packager writes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtmpTagFormat {
    /// Pre-2023 FLV (codec ids): what every server and player understands for H.264/AAC.
    Legacy = 0,
    /// Enhanced RTMP (FourCC headers): needed for HEVC, AV1 and Opus on most peers.
    Enhanced = 1,
}

/// One FLV tag body a packager made. Borrowed from the packager until its next push or
/// its free; `rtmp_frame_retain(packet->frame, ...)` keeps it longer.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RtmpPacket {
    pub media: RtmpMediaKind,
    /// The tag timestamp in milliseconds (the decode time for video).
    pub timestamp: u32,
    pub keyframe: bool,
    pub sequence_header: bool,
    /// pts - dts in milliseconds, as written into the body (video; 0 otherwise).
    pub composition_time: i32,
    pub data: *const u8,
    pub len: usize,
    /// The same packet as a frame, e.g. for `rtmp_client_write_frame`.
    pub frame: *const RtmpFrame,
}

/// The one-call packagers of `media::encoder`; H.264 and HEVC frames carry pts - dts.
enum Inner {
    Video(VideoPackager, VideoCodec),
    Audio(AudioPackager),
}

/// Turns encoder output into FLV tag bodies, keeping the codec configuration between
/// calls and emitting a sequence header whenever it appears or changes. Made by
/// `rtmp_packager_new` / `rtmp_packager_new_opus`, released by `rtmp_packager_free`. Not
/// thread-safe: one encoder thread uses it.
pub struct RtmpPackager {
    inner: Inner,
    /// What the last push lent out.
    frames: Vec<RtmpFrame>,
    packets: Vec<RtmpPacket>,
}

/// The frames one push makes, in sending order, with composition times.
pub(crate) type Packaged = Vec<(Frame, i32)>;

fn media_error(e: MediaError) -> RtmpResult {
    fail(&e.into())
}

impl Inner {
    /// From `rtmp_codec` and `rtmp_tag_format` arguments (integers: see
    /// `RtmpMediaKind::from_arg`).
    fn new(codec: i32, format: i32) -> Result<Self, RtmpResult> {
        let format = match format {
            0 => VideoTagFormat::Legacy,
            1 => VideoTagFormat::Enhanced,
            _ => return Err(fail_with(RtmpResult::InvalidArgument, "unknown tag format")),
        };
        let video = |codec| {
            VideoPackager::with_format(codec, format)
                .map(|p| Inner::Video(p, codec))
                .map_err(media_error)
        };
        let audio = |codec| {
            AudioPackager::with_format(codec, format)
                .map(Inner::Audio)
                .map_err(media_error)
        };
        match codec {
            1 => video(VideoCodec::H264),
            2 => video(VideoCodec::Hevc),
            3 => video(VideoCodec::Av1),
            4 => audio(AudioCodec::Aac),
            5 => audio(AudioCodec::AacRaw),
            6 => Err(fail_with(
                RtmpResult::InvalidArgument,
                "Opus packagers are made by rtmp_packager_new_opus",
            )),
            _ => Err(fail_with(RtmpResult::InvalidArgument, "unknown codec")),
        }
    }

    /// An Opus packager with the encoder's pre-skip and input rate.
    fn opus(channels: u8, pre_skip: u16, input_sample_rate: u32) -> Result<Self, RtmpResult> {
        let head = OpusHead::new(channels, pre_skip, input_sample_rate).map_err(media_error)?;
        let mut packager = AudioPackager::new(AudioCodec::Opus {
            channels,
            sample_rate: input_sample_rate,
        })
        .map_err(media_error)?;
        packager.set_config(&head.to_bytes()).map_err(media_error)?;
        Ok(Inner::Audio(packager))
    }

    fn push(&mut self, data: &[u8], pts: i64, dts: i64) -> Result<Packaged, RtmpResult> {
        match self {
            Inner::Video(p, codec) => {
                let cts = match codec {
                    // Saturating: the packager refuses an out-of-range offset itself.
                    VideoCodec::H264 | VideoCodec::Hevc => {
                        pts.saturating_sub(dts)
                            .clamp(i32::MIN.into(), i32::MAX.into()) as i32
                    }
                    _ => 0,
                };
                let frames = p.package(data, pts, dts).map_err(media_error)?;
                Ok(frames
                    .into_iter()
                    .map(|f| {
                        let cts = if f.sequence_header { 0 } else { cts };
                        (f, cts)
                    })
                    .collect())
            }
            Inner::Audio(p) => Ok(p
                .package(data, pts)
                .map_err(media_error)?
                .into_iter()
                .map(|f| (f, 0))
                .collect()),
        }
    }

    fn set_config(&mut self, data: &[u8]) -> Result<(), RtmpResult> {
        match self {
            Inner::Video(p, _) => p.set_config(data),
            Inner::Audio(p) => p.set_config(data),
        }
        .map_err(media_error)
    }
}

impl RtmpPackager {
    fn boxed(inner: Inner) -> *mut RtmpPackager {
        Box::into_raw(Box::new(RtmpPackager {
            inner,
            frames: Vec::new(),
            packets: Vec::new(),
        }))
    }
}

/// Makes a packager for `codec` (an `rtmp_codec`) writing `format` (an `rtmp_tag_format`)
/// tag headers. On success `*out` gets a
/// packager to release with `rtmp_packager_free`; on error (AV1 with LEGACY, OPUS, an
/// unknown value: INVALID_ARGUMENT) `*out` is untouched. Thread-safe.
///
/// # Safety
/// `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rtmp_packager_new(
    codec: i32,
    format: i32,
    out: *mut *mut RtmpPackager,
) -> RtmpResult {
    boundary(|| {
        let out = out_param!(out);
        match Inner::new(codec, format) {
            Ok(inner) => {
                // SAFETY: out is writable per the contract.
                unsafe { *out = RtmpPackager::boxed(inner) };
                RtmpResult::Ok
            }
            Err(code) => code,
        }
    })
}

/// Makes an Opus packager (Enhanced RTMP) for `channels` channels (1..=2; more need an
/// OpusHead with a mapping table through `rtmp_packager_set_config`), with the encoder's
/// `pre_skip` samples and `input_sample_rate`. Otherwise as `rtmp_packager_new`.
///
/// # Safety
/// `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rtmp_packager_new_opus(
    channels: u8,
    pre_skip: u16,
    input_sample_rate: u32,
    out: *mut *mut RtmpPackager,
) -> RtmpResult {
    boundary(|| {
        let out = out_param!(out);
        match Inner::opus(channels, pre_skip, input_sample_rate) {
            Ok(inner) => {
                // SAFETY: out is writable per the contract.
                unsafe { *out = RtmpPackager::boxed(inner) };
                RtmpResult::Ok
            }
            Err(code) => code,
        }
    })
}

/// Gives the packager configuration delivered out of band (an encoder's global header /
/// extradata): H.264 or HEVC parameter sets in Annex-B or as a decoder configuration
/// record, an AAC AudioSpecificConfig (needed for AAC_RAW), an OpusHead. The next push
/// emits the sequence header. INVALID_ARGUMENT (last error says why) if it does not parse.
///
/// # Safety
/// `packager` live and not used by another thread; `data` readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmp_packager_set_config(
    packager: *mut RtmpPackager,
    data: *const u8,
    len: usize,
) -> RtmpResult {
    boundary(|| {
        if packager.is_null() {
            return fail_with(RtmpResult::NullParameter, "packager is NULL");
        }
        // SAFETY: live, used by this thread only, per the contract.
        let packager = unsafe { &mut *packager };
        // SAFETY: per the contract.
        match unsafe { bytes_arg(data, len) } {
            Ok(data) => match packager.inner.set_config(data) {
                Ok(()) => RtmpResult::Ok,
                Err(code) => code,
            },
            Err(code) => code,
        }
    })
}

/// Packages one access unit with its presentation and decode timestamps in milliseconds
/// (`dts` is used for H.264/HEVC only; pass `pts` again for other codecs). On success
/// `*packets` points to `*count` packets in sending order (a sequence header first when
/// the configuration appeared or changed; 0 packets when the input held only
/// configuration): borrowed until the next push or free of this packager. On error both
/// are untouched: INVALID_ARGUMENT for input that does not parse, picture data before any
/// parameter set, or a timestamp outside 0..=UINT32_MAX (shift timestamps so dts starts
/// at 0).
///
/// # Safety
/// `packager` live and not used by another thread; `data` readable for `len` bytes;
/// `packets` and `count` writable.
#[no_mangle]
pub unsafe extern "C" fn rtmp_packager_push(
    packager: *mut RtmpPackager,
    data: *const u8,
    len: usize,
    pts_ms: i64,
    dts_ms: i64,
    packets: *mut *const RtmpPacket,
    count: *mut usize,
) -> RtmpResult {
    boundary(|| {
        if packager.is_null() {
            return fail_with(RtmpResult::NullParameter, "packager is NULL");
        }
        let packets = out_param!(packets);
        let count = out_param!(count);
        // SAFETY: live, used by this thread only, per the contract.
        let packager = unsafe { &mut *packager };
        // SAFETY: per the contract.
        let data = match unsafe { bytes_arg(data, len) } {
            Ok(d) => d,
            Err(code) => return code,
        };
        let made = match packager.inner.push(data, pts_ms, dts_ms) {
            Ok(m) => m,
            Err(code) => return code,
        };
        // Frames first, then the packets that point into them: the vector does not move
        // once the pointers are taken.
        packager.packets.clear();
        packager.frames = made
            .iter()
            .map(|(f, _)| RtmpFrame::new(f.clone()))
            .collect();
        for (frame, (_, composition_time)) in packager.frames.iter().zip(&made) {
            let info: RtmpFrameInfo = frame.info();
            packager.packets.push(RtmpPacket {
                media: info.media,
                timestamp: info.timestamp,
                keyframe: info.keyframe,
                sequence_header: info.sequence_header,
                composition_time: *composition_time,
                data: info.data,
                len: info.len,
                frame,
            });
        }
        // SAFETY: both writable per the contract.
        unsafe {
            *packets = packager.packets.as_ptr();
            *count = packager.packets.len();
        }
        RtmpResult::Ok
    })
}

/// Releases a packager and the packets it lent. NULL is ignored.
///
/// # Safety
/// `packager` NULL or from `rtmp_packager_new*`, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn rtmp_packager_free(packager: *mut RtmpPackager) {
    let _ = boundary(|| {
        if !packager.is_null() {
            // SAFETY: per the contract, a Box we handed out.
            drop(unsafe { Box::from_raw(packager) });
        }
        RtmpResult::Ok
    });
}

/// The packagers behind `rtmp_client_write_h264` / `rtmp_client_write_aac_adts`, made on
/// first use (legacy tags, which every server takes for H.264 and AAC).
#[derive(Default)]
pub(crate) struct ClientPackagers {
    h264: Option<Inner>,
    aac: Option<Inner>,
}

/// Packages with the client's packager `slot` and queues the result.
fn write_packaged(
    client: &RtmpClient,
    codec: RtmpCodec,
    data: &[u8],
    pts: i64,
    dts: i64,
) -> RtmpResult {
    let made = {
        let mut packagers = client.packagers.lock();
        let slot = if codec == RtmpCodec::H264 {
            &mut packagers.h264
        } else {
            &mut packagers.aac
        };
        let inner = match slot {
            Some(inner) => inner,
            None => match Inner::new(codec as i32, RtmpTagFormat::Legacy as i32) {
                Ok(inner) => slot.insert(inner),
                Err(code) => return code,
            },
        };
        match inner.push(data, pts, dts) {
            Ok(m) => m,
            Err(code) => return code,
        }
    };
    for (frame, _) in made {
        let result = client.send(frame);
        if result != RtmpResult::Ok {
            return result;
        }
    }
    RtmpResult::Ok
}

/// Packages one H.264 access unit in Annex-B (SPS/PPS in band, as x264, NVENC and
/// VideoToolbox in Annex-B mode emit them with each keyframe) and queues it on a
/// publishing client: a sequence header when the parameter sets appear or change, then
/// the frame at `dts_ms` with `pts_ms - dts_ms` as composition time. The client keeps the
/// packager; `annexb` stays yours. Errors as `rtmp_packager_push` and
/// `rtmp_client_write`. Call it from one thread at a time per client.
///
/// # Safety
/// `client` live; `annexb` readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_write_h264(
    client: *const RtmpClient,
    annexb: *const u8,
    len: usize,
    pts_ms: i64,
    dts_ms: i64,
) -> RtmpResult {
    boundary(|| {
        let client = handle!(client);
        // SAFETY: per the contract.
        match unsafe { bytes_arg(annexb, len) } {
            Ok(data) => write_packaged(client, RtmpCodec::H264, data, pts_ms, dts_ms),
            Err(code) => code,
        }
    })
}

/// Packages AAC in ADTS (one or more frames; each is 1024 samples after the one before,
/// the first at `pts_ms`) and queues it on a publishing client, with the
/// AudioSpecificConfig sequence header first and whenever it changes. Otherwise as
/// `rtmp_client_write_h264`.
///
/// # Safety
/// `client` live; `adts` readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_write_aac_adts(
    client: *const RtmpClient,
    adts: *const u8,
    len: usize,
    pts_ms: i64,
) -> RtmpResult {
    boundary(|| {
        let client = handle!(client);
        // SAFETY: per the contract.
        match unsafe { bytes_arg(adts, len) } {
            Ok(data) => write_packaged(client, RtmpCodec::AacAdts, data, pts_ms, pts_ms),
            Err(code) => code,
        }
    })
}

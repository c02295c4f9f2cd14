//! Frames the application owns: an FLV tag body with its kind, timestamp and flags, shared
//! by reference count. A callback keeps a frame beyond its return with
//! `rtmp_frame_retain`; a relay hands one to a client or a local publisher without a copy.

use super::{boundary, bytes_arg, fail_with, handle, out_param, RtmpResult};
use crate::hub::Frame;
use crate::session::MediaKind;

/// One frame: an FLV audio or video tag body, its timestamp and flags. Opaque; read it
/// with `rtmp_frame_get_info`. A `const rtmp_frame *` in an event or a packet is borrowed
/// like the rest of it; `rtmp_frame_retain`, `rtmp_frame_new` and `rtmp_flv_reader_next`
/// make owned ones, released with `rtmp_frame_free`. Owned frames are immutable and may be used from any thread.
pub struct RtmpFrame {
    pub(crate) frame: Frame,
}

/// Audio or video.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtmpMediaKind {
    None = 0,
    Audio = 8,
    Video = 9,
}

impl RtmpMediaKind {
    pub(crate) fn of(kind: MediaKind) -> Self {
        match kind {
            MediaKind::Audio => RtmpMediaKind::Audio,
            MediaKind::Video => RtmpMediaKind::Video,
        }
    }

    /// The Rust kind of an `rtmp_media_kind` argument, or INVALID_ARGUMENT (with the last
    /// error set) for NONE or junk. Arguments arrive as integers, never as the enum: a value
    /// C passes that is no variant would be undefined behaviour as a Rust enum.
    pub(crate) fn from_arg(kind: i32) -> Result<MediaKind, RtmpResult> {
        match kind {
            8 => Ok(MediaKind::Audio),
            9 => Ok(MediaKind::Video),
            _ => Err(fail_with(
                RtmpResult::InvalidArgument,
                "media kind must be RTMP_MEDIA_KIND_AUDIO or RTMP_MEDIA_KIND_VIDEO",
            )),
        }
    }
}

/// What a frame holds. `data` points into the frame and stays valid as long as the frame
/// it was read from.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RtmpFrameInfo {
    pub media: RtmpMediaKind,
    /// Milliseconds.
    pub timestamp: u32,
    /// A video frame a decoder can start at.
    pub keyframe: bool,
    /// A codec configuration record (AVC/HEVC/AV1 sequence header, AAC config).
    pub sequence_header: bool,
    /// The FLV tag body.
    pub data: *const u8,
    pub len: usize,
}

impl RtmpFrame {
    pub(crate) fn new(frame: Frame) -> Self {
        RtmpFrame { frame }
    }

    pub(crate) fn info(&self) -> RtmpFrameInfo {
        let f = &self.frame;
        RtmpFrameInfo {
            media: RtmpMediaKind::of(f.kind),
            timestamp: f.timestamp,
            keyframe: f.keyframe,
            sequence_header: f.sequence_header,
            data: if f.payload.is_empty() {
                std::ptr::null()
            } else {
                f.payload.as_ptr()
            },
            len: f.payload.len(),
        }
    }
}

/// Reads a frame given as (kind, timestamp, data, len) into a `Frame` (copying the bytes);
/// keyframe and sequence-header flags come from the tag body.
///
/// # Safety
/// `data` must be NULL (with `len` 0) or readable for `len` bytes.
pub(crate) unsafe fn frame_arg(
    kind: i32,
    timestamp: u32,
    data: *const u8,
    len: usize,
) -> Result<Frame, RtmpResult> {
    let kind = RtmpMediaKind::from_arg(kind)?;
    // SAFETY: forwarded from the caller's contract.
    let body = unsafe { bytes_arg(data, len) }?;
    if body.is_empty() {
        return Err(fail_with(RtmpResult::InvalidArgument, "empty frame"));
    }
    Ok(Frame::from_tag(
        kind,
        timestamp,
        bytes::Bytes::copy_from_slice(body),
    ))
}

/// Makes an owned frame of an FLV tag body (copied), with keyframe and sequence-header
/// flags read from the body. On success `*out` gets a frame to release with
/// `rtmp_frame_free`; on error `*out` is untouched. `kind` is an `rtmp_media_kind`, AUDIO
/// or VIDEO; `len` must be non-zero. Thread-safe.
///
/// # Safety
/// `data` readable for `len` bytes; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rtmp_frame_new(
    kind: i32,
    timestamp: u32,
    data: *const u8,
    len: usize,
    out: *mut *mut RtmpFrame,
) -> RtmpResult {
    boundary(|| {
        let out = out_param!(out);
        // SAFETY: per the contract above.
        let frame = match unsafe { frame_arg(kind, timestamp, data, len) } {
            Ok(f) => f,
            Err(code) => return code,
        };
        // SAFETY: out is writable per the contract.
        unsafe { *out = Box::into_raw(Box::new(RtmpFrame::new(frame))) };
        RtmpResult::Ok
    })
}

/// Makes an owned reference to `frame` (no copy of the bytes: they are reference
/// counted), for example to keep a frame an event or a packager lent you past the call.
/// Release it with `rtmp_frame_free`; the original stays as it was. On error `*out` is
/// untouched. Thread-safe.
///
/// # Safety
/// `frame` must be a live frame (borrowed or owned); `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rtmp_frame_retain(
    frame: *const RtmpFrame,
    out: *mut *mut RtmpFrame,
) -> RtmpResult {
    boundary(|| {
        let frame = handle!(frame);
        let out = out_param!(out);
        let copy = Box::new(RtmpFrame::new(frame.frame.clone()));
        // SAFETY: out is writable per the contract.
        unsafe { *out = Box::into_raw(copy) };
        RtmpResult::Ok
    })
}

/// Describes `frame` in `*out`; the data pointer is valid as long as `frame` is. On error
/// `*out` is untouched. Thread-safe.
///
/// # Safety
/// `frame` must be a live frame; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rtmp_frame_get_info(
    frame: *const RtmpFrame,
    out: *mut RtmpFrameInfo,
) -> RtmpResult {
    boundary(|| {
        let frame = handle!(frame);
        let out = out_param!(out);
        // SAFETY: out is writable per the contract.
        unsafe { *out = frame.info() };
        RtmpResult::Ok
    })
}

/// Releases an owned frame (from `rtmp_frame_new` or `rtmp_frame_retain`; never a
/// borrowed one). NULL is ignored. Safe from any thread and inside callbacks.
///
/// # Safety
/// `frame` must be NULL or an owned frame not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn rtmp_frame_free(frame: *mut RtmpFrame) {
    let _ = boundary(|| {
        if !frame.is_null() {
            // SAFETY: per the contract, an owned frame we boxed.
            drop(unsafe { Box::from_raw(frame) });
        }
        RtmpResult::Ok
    });
}

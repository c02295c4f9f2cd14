//! Played frames to decoder input over the C ABI: a depacketizer handle takes the frames a
//! server event or a client notice lends (or any `rtmp_frame`) and lends back what a
//! decoder takes: Annex-B H.264/HEVC with parameter sets before keyframes, AV1 temporal
//! units, VP8/VP9 frames, ADTS AAC, Opus packets, MP3 frames.

use std::ffi::{c_char, CStr};

use super::{boundary, fail_with, handle, out_param, RtmpFrame, RtmpMediaKind, RtmpResult};
use crate::media::decoder::{DecodedFrame, Depacketizer};
use crate::media::enhanced::MediaError;

/// One frame as a decoder takes it, borrowed from the depacketizer until its next push or
/// its free.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RtmpDecodedFrame {
    pub media: RtmpMediaKind,
    /// "h264", "hevc", "av1", "vp9", "vp8", "aac", "opus" or "mp3". A static string:
    /// never freed, valid for the life of the process.
    pub codec: *const c_char,
    pub data: *const u8,
    pub len: usize,
    /// Presentation time in milliseconds.
    pub pts: i64,
    /// Decode time in milliseconds (equal to `pts` unless video frames are reordered).
    pub dts: i64,
    /// A video frame a decoder can start at.
    pub keyframe: bool,
    /// The E-RTMP v2 track (0 for ordinary single-track streams); audio and video number
    /// their tracks separately.
    pub track_id: u8,
}

/// Turns one played stream's frames (audio and video, every E-RTMP v2 track) into decoder
/// input, keeping each track's codec configuration from its sequence headers. Made by `rtmp_depacketizer_new`,
/// released by `rtmp_depacketizer_free`. Not thread-safe: one thread pushes into it (the
/// server's dispatcher, or the thread that polls).
pub struct RtmpDepacketizer {
    inner: Depacketizer,
    /// What the last push made, and the views of it that were lent out.
    made: Vec<DecodedFrame>,
    lent: Vec<RtmpDecodedFrame>,
}

/// The codec name as a C string with static storage.
fn codec_cstr(name: &str) -> &'static CStr {
    match name {
        "h264" => c"h264",
        "hevc" => c"hevc",
        "av1" => c"av1",
        "vp9" => c"vp9",
        "vp8" => c"vp8",
        "aac" => c"aac",
        "opus" => c"opus",
        "mp3" => c"mp3",
        _ => c"",
    }
}

fn view(d: &DecodedFrame) -> RtmpDecodedFrame {
    RtmpDecodedFrame {
        media: RtmpMediaKind::of(d.kind),
        codec: codec_cstr(d.codec).as_ptr(),
        data: if d.data.is_empty() {
            std::ptr::null()
        } else {
            d.data.as_ptr()
        },
        len: d.data.len(),
        pts: d.pts,
        dts: d.dts,
        keyframe: d.keyframe,
        track_id: d.track_id,
    }
}

/// What a C caller does about each kind of failure: skip the codec, wait for the next
/// sequence header, or treat the frame as corrupt.
fn depacketize_error(e: MediaError) -> RtmpResult {
    let code = match e {
        MediaError::Unsupported(_) => RtmpResult::Unsupported,
        MediaError::MissingConfig(_) => RtmpResult::InvalidState,
        _ => RtmpResult::InvalidArgument,
    };
    fail_with(code, &e.to_string())
}

/// Makes a depacketizer. On success `*out` gets a handle to release with
/// `rtmp_depacketizer_free`; on error `*out` is untouched. Thread-safe.
///
/// # Safety
/// `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rtmp_depacketizer_new(out: *mut *mut RtmpDepacketizer) -> RtmpResult {
    boundary(|| {
        let out = out_param!(out);
        let depacketizer = Box::new(RtmpDepacketizer {
            inner: Depacketizer::new(),
            made: Vec::new(),
            lent: Vec::new(),
        });
        // SAFETY: out is writable per the contract.
        unsafe { *out = Box::into_raw(depacketizer) };
        RtmpResult::Ok
    })
}

/// Takes one frame of the stream, in the order it was played, without copying its bytes
/// (an event's or notice's `frame`, or one from `rtmp_frame_new`). On success `*frames`
/// points to `*count` decoder inputs, borrowed until the next push or free of this
/// depacketizer (the pushed frame itself may be released at once): 0 (and NULL) when the
/// frame held no media (a sequence header, an end of sequence, video metadata or a
/// command, an empty frame), 1 for media, one per track for an E-RTMP v2 message that
/// carries several. On error both are untouched and the frame is skipped: UNSUPPORTED for
/// a frame this library cannot unpack (a codec without a depacketizer, such as VP6, Speex
/// or FLAC, or a configuration ADTS cannot express), INVALID_STATE for media before its
/// track's sequence header (frames after the next one decode), INVALID_ARGUMENT for a
/// body that does not parse. In a message with several tracks a failing track is skipped
/// and the others still come out; the error is returned when every track failed.
///
/// # Safety
/// `depacketizer` live and not used by another thread; `frame` a live frame; `frames` and
/// `count` writable.
#[no_mangle]
pub unsafe extern "C" fn rtmp_depacketizer_push(
    depacketizer: *mut RtmpDepacketizer,
    frame: *const RtmpFrame,
    frames: *mut *const RtmpDecodedFrame,
    count: *mut usize,
) -> RtmpResult {
    boundary(|| {
        if depacketizer.is_null() {
            return fail_with(RtmpResult::NullParameter, "depacketizer is NULL");
        }
        let frame = handle!(frame);
        let frames = out_param!(frames);
        let count = out_param!(count);
        // SAFETY: live, used by this thread only, per the contract.
        let depacketizer = unsafe { &mut *depacketizer };
        match depacketizer.inner.push(&frame.frame) {
            Ok(made) => {
                depacketizer.lent = made.iter().map(view).collect();
                depacketizer.made = made;
                // SAFETY: both writable per the contract.
                unsafe {
                    *frames = if depacketizer.lent.is_empty() {
                        std::ptr::null()
                    } else {
                        depacketizer.lent.as_ptr()
                    };
                    *count = depacketizer.lent.len();
                }
                RtmpResult::Ok
            }
            Err(e) => depacketize_error(e),
        }
    })
}

/// Releases a depacketizer and what it lent. NULL is ignored.
///
/// # Safety
/// `depacketizer` NULL or from `rtmp_depacketizer_new`, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn rtmp_depacketizer_free(depacketizer: *mut RtmpDepacketizer) {
    let _ = boundary(|| {
        if !depacketizer.is_null() {
            // SAFETY: per the contract, a Box we handed out.
            drop(unsafe { Box::from_raw(depacketizer) });
        }
        RtmpResult::Ok
    });
}

#[cfg(test)]
mod tests {
    use super::super::tests_abi::last_error;
    use super::super::{rtmp_frame_free, rtmp_frame_new};
    use super::*;
    use crate::media::encoder::{AudioCodec, AudioPackager, VideoCodec, VideoPackager};
    use crate::session::MediaKind;

    fn c_frame(frame: &crate::hub::Frame) -> *mut RtmpFrame {
        let kind = match frame.kind {
            MediaKind::Audio => RtmpMediaKind::Audio,
            MediaKind::Video => RtmpMediaKind::Video,
        } as i32;
        let mut out = std::ptr::null_mut();
        // SAFETY: the payload is readable for its length; out is writable.
        let rc = unsafe {
            rtmp_frame_new(
                kind,
                frame.timestamp,
                frame.payload.as_ptr(),
                frame.payload.len(),
                &mut out,
            )
        };
        assert_eq!(rc, RtmpResult::Ok);
        out
    }

    /// Pushes a copy of `frame`; the views stay valid until the next push on `d`.
    fn push(
        d: *mut RtmpDepacketizer,
        frame: &crate::hub::Frame,
    ) -> (RtmpResult, Option<&'static [RtmpDecodedFrame]>) {
        let c = c_frame(frame);
        let (mut frames, mut count) = (std::ptr::null(), usize::MAX);
        // SAFETY: handles from this library, out-parameters writable.
        let rc = unsafe { rtmp_depacketizer_push(d, c, &mut frames, &mut count) };
        // SAFETY: from rtmp_frame_new; the decoded views do not borrow it.
        unsafe { rtmp_frame_free(c) };
        if count == usize::MAX {
            assert!(frames.is_null(), "one out-parameter written, not both");
            return (rc, None);
        }
        if count == 0 {
            assert!(frames.is_null(), "NULL with no frames");
            return (rc, Some(&[]));
        }
        // SAFETY: `count` views at `frames`, alive until the next push (the tests do not
        // keep them past it).
        (
            rc,
            Some(unsafe { std::slice::from_raw_parts(frames, count) }),
        )
    }

    #[test]
    fn h264_and_aac_come_out_as_annex_b_and_adts() {
        let mut d = std::ptr::null_mut();
        // SAFETY: out writable.
        assert_eq!(unsafe { rtmp_depacketizer_new(&mut d) }, RtmpResult::Ok);
        let mut video = VideoPackager::new(VideoCodec::H264);
        let annexb = [
            &[0, 0, 0, 1, 0x67, 0x42, 0xC0, 0x1E, 0xD9, 0x01, 0x40][..],
            &[0, 0, 0, 1, 0x68, 0xCE, 0x3C, 0x80],
            &[0, 0, 0, 1, 0x65, 0x88, 0x84, 0x00, 0x33],
        ]
        .concat();
        let frames = video.package(&annexb, 40, 40).unwrap();
        assert!(frames[0].sequence_header);
        let (rc, made) = push(d, &frames[0]);
        assert_eq!((rc, made.map(<[_]>::len)), (RtmpResult::Ok, Some(0)));
        let (rc, pictures) = push(d, &frames[1]);
        assert_eq!(rc, RtmpResult::Ok);
        let [picture] = pictures.unwrap() else {
            panic!("one picture");
        };
        assert_eq!((picture.media, picture.track_id), (RtmpMediaKind::Video, 0));
        // SAFETY: a static NUL-terminated string.
        assert_eq!(unsafe { CStr::from_ptr(picture.codec) }, c"h264");
        assert!(picture.keyframe);
        assert_eq!((picture.pts, picture.dts), (40, 40));
        // SAFETY: borrowed from the depacketizer until its next push.
        let data = unsafe { std::slice::from_raw_parts(picture.data, picture.len) };
        assert_eq!(data, &annexb[..]);

        let adts = [0xFF, 0xF1, 0x4C, 0x80, 0x01, 0x5F, 0xFC, 1, 2, 3];
        let mut audio = AudioPackager::new(AudioCodec::Aac).unwrap();
        let frames = audio.package(&adts, 0).unwrap();
        assert_eq!(push(d, &frames[0]).1.map(<[_]>::len), Some(0));
        let (rc, sounds) = push(d, &frames[1]);
        assert_eq!(rc, RtmpResult::Ok);
        let [sound] = sounds.unwrap() else {
            panic!("one sound");
        };
        // SAFETY: as above.
        assert_eq!(unsafe { CStr::from_ptr(sound.codec) }, c"aac");
        // SAFETY: as above.
        assert_eq!(
            unsafe { std::slice::from_raw_parts(sound.data, sound.len) },
            &adts
        );
        // SAFETY: from rtmp_depacketizer_new, not used afterwards.
        unsafe { rtmp_depacketizer_free(d) };
    }

    #[test]
    fn failures_say_whether_to_skip_wait_or_drop_and_leave_out_alone() {
        let mut d = std::ptr::null_mut();
        // SAFETY: out writable.
        assert_eq!(unsafe { rtmp_depacketizer_new(&mut d) }, RtmpResult::Ok);
        // AVC NALU before any sequence header: wait for one.
        let nalu = crate::hub::Frame::from_tag(
            MediaKind::Video,
            0,
            bytes::Bytes::from_static(&[0x17, 1, 0, 0, 0, 0, 0, 0, 2, 0x65, 0x88]),
        );
        let (rc, made) = push(d, &nalu);
        assert_eq!(rc, RtmpResult::InvalidState);
        assert!(made.is_none(), "out-parameters untouched on error");
        assert!(last_error().contains("configuration"), "{}", last_error());
        // VP6 (codec id 4): no depacketizer.
        let vp6 = crate::hub::Frame::from_tag(
            MediaKind::Video,
            0,
            bytes::Bytes::from_static(&[0x14, 0, 1, 2]),
        );
        assert_eq!(push(d, &vp6).0, RtmpResult::Unsupported);
        // An AVC sequence header that ends inside its record.
        let broken = crate::hub::Frame::from_tag(
            MediaKind::Video,
            0,
            bytes::Bytes::from_static(&[0x17, 0, 0, 0, 0, 1, 0x42]),
        );
        assert_eq!(push(d, &broken).0, RtmpResult::InvalidArgument);
        // SAFETY: NULL handles are refused, not dereferenced.
        let rc = unsafe {
            rtmp_depacketizer_push(
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        assert_eq!(rc, RtmpResult::NullParameter);
        // SAFETY: from rtmp_depacketizer_new; NULL is ignored.
        unsafe {
            rtmp_depacketizer_free(d);
            rtmp_depacketizer_free(std::ptr::null_mut());
        }
    }
}

//! FLV files over the C ABI: a writer that records frames and metadata (what a server event
//! or a client notice lends, or the application's own), and a reader that hands a file's
//! tags back as owned frames and metadata, e.g. to publish them.

use std::ffi::c_char;
use std::fs::File;
use std::io::{BufReader, BufWriter};

use super::{boundary, fail_with, handle, out_param, str_arg, RtmpFrame, RtmpMetadata, RtmpResult};
use crate::media::flv::{FlvError, FlvHeader, FlvReader, FlvWriter, TagKind};
use crate::protocol::amf::AmfLimits;
use crate::protocol::command::DataMessage;

/// Writes an FLV file. Made by `rtmp_flv_writer_new`, closed by `rtmp_flv_writer_close`
/// (or `rtmp_flv_writer_free`). Belongs to one thread, like a packager.
pub struct RtmpFlvWriter {
    /// `None` once closed.
    inner: Option<FlvWriter<BufWriter<File>>>,
    /// The first write error: a tag may be half written, so nothing more is appended.
    failed: Option<String>,
}

/// Reads an FLV file one tag at a time. Made by `rtmp_flv_reader_open`, released by
/// `rtmp_flv_reader_free`. Belongs to one thread.
pub struct RtmpFlvReader {
    inner: FlvReader<BufReader<File>>,
}

fn io_error(what: &str, e: impl std::fmt::Display) -> RtmpResult {
    fail_with(RtmpResult::Io, &format!("{what}: {e}"))
}

/// IO for what the file system did, INVALID_ARGUMENT for what the data is.
fn flv_error(what: &str, e: FlvError) -> RtmpResult {
    let code = match e {
        FlvError::Io(_) => RtmpResult::Io,
        _ => RtmpResult::InvalidArgument,
    };
    fail_with(code, &format!("{what}: {e}"))
}

/// Creates (or truncates) the file at `path` and writes an FLV header announcing audio and
/// video. On success `*out` gets a writer; on error (IO with the reason) `*out` is
/// untouched. Thread-safe.
///
/// # Safety
/// `path` a NUL-terminated string; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rtmp_flv_writer_new(
    path: *const c_char,
    out: *mut *mut RtmpFlvWriter,
) -> RtmpResult {
    boundary(|| {
        let out = out_param!(out);
        // SAFETY: per the contract.
        let path = match unsafe { str_arg(path, "path") } {
            Ok(p) => p,
            Err(code) => return code,
        };
        let file = match File::create(path) {
            Ok(f) => f,
            Err(e) => return io_error(path, e),
        };
        let writer = match FlvWriter::new(BufWriter::new(file), &FlvHeader::default()) {
            Ok(w) => w,
            Err(e) => return flv_error(path, e),
        };
        let writer = Box::new(RtmpFlvWriter {
            inner: Some(writer),
            failed: None,
        });
        // SAFETY: out is writable per the contract.
        unsafe { *out = Box::into_raw(writer) };
        RtmpResult::Ok
    })
}

/// Writes one tag through `writer`: NULL_PARAMETER, CLOSED after close, IO again after
/// an earlier write failed, INVALID_ARGUMENT for a body over 16 MiB (nothing written).
///
/// # Safety
/// `writer` NULL or live and used by this thread only.
unsafe fn write_tag(
    writer: *mut RtmpFlvWriter,
    kind: TagKind,
    timestamp: u32,
    body: &[u8],
) -> RtmpResult {
    if writer.is_null() {
        return fail_with(RtmpResult::NullParameter, "writer is NULL");
    }
    // SAFETY: live, used by this thread only, per the caller's contract.
    let writer = unsafe { &mut *writer };
    let Some(inner) = writer.inner.as_mut() else {
        return fail_with(RtmpResult::Closed, "the FLV writer is closed");
    };
    if let Some(first) = &writer.failed {
        return fail_with(
            RtmpResult::Io,
            &format!("an earlier FLV write failed: {first}"),
        );
    }
    match inner.write(kind, timestamp, body) {
        Ok(()) => RtmpResult::Ok,
        Err(e @ FlvError::BodyTooLarge(_)) => flv_error("FLV write", e),
        Err(e) => {
            writer.failed = Some(e.to_string());
            flv_error("FLV write", e)
        }
    }
}

/// Appends `frame` as an audio or video tag with its timestamp. IO on a write error (and
/// on every write after one: the file may end in half a tag), CLOSED after
/// `rtmp_flv_writer_close`.
///
/// # Safety
/// `writer` live and not used by another thread; `frame` a live frame.
#[no_mangle]
pub unsafe extern "C" fn rtmp_flv_writer_write(
    writer: *mut RtmpFlvWriter,
    frame: *const RtmpFrame,
) -> RtmpResult {
    boundary(|| {
        let frame = &handle!(frame).frame;
        // SAFETY: forwarded from the caller's contract.
        unsafe { write_tag(writer, frame.kind.into(), frame.timestamp, &frame.payload) }
    })
}

/// Appends `metadata` as an `onMetaData` script tag at `timestamp` (players read the one
/// before the first frame; write it first). Errors as `rtmp_flv_writer_write`.
///
/// # Safety
/// `writer` live and not used by another thread; `metadata` live (owned or borrowed).
#[no_mangle]
pub unsafe extern "C" fn rtmp_flv_writer_write_metadata(
    writer: *mut RtmpFlvWriter,
    timestamp: u32,
    metadata: *const RtmpMetadata,
) -> RtmpResult {
    boundary(|| {
        let metadata = handle!(metadata);
        let body = DataMessage::on_metadata(metadata.to_amf()).encode();
        // SAFETY: forwarded from the caller's contract.
        unsafe { write_tag(writer, TagKind::Script, timestamp, &body) }
    })
}

/// Flushes what is buffered and closes the file, reporting a write that failed (IO; it
/// does not fsync, so errors only the disk's sync would show are not seen). Later writes
/// fail with CLOSED; closing again does nothing. The writer still goes to
/// `rtmp_flv_writer_free`.
///
/// # Safety
/// `writer` live and not used by another thread.
#[no_mangle]
pub unsafe extern "C" fn rtmp_flv_writer_close(writer: *mut RtmpFlvWriter) -> RtmpResult {
    boundary(|| {
        if writer.is_null() {
            return fail_with(RtmpResult::NullParameter, "writer is NULL");
        }
        // SAFETY: live, used by this thread only, per the contract.
        let writer = unsafe { &mut *writer };
        let Some(mut inner) = writer.inner.take() else {
            return RtmpResult::Ok;
        };
        if let Some(first) = writer.failed.take() {
            return fail_with(RtmpResult::Io, &format!("an FLV write failed: {first}"));
        }
        match inner.flush() {
            Ok(()) => RtmpResult::Ok,
            Err(e) => flv_error("FLV flush", e),
        }
    })
}

/// Closes the file if `rtmp_flv_writer_close` did not (errors are lost: close first to
/// see them) and releases the writer. NULL is ignored.
///
/// # Safety
/// `writer` NULL or from `rtmp_flv_writer_new`, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn rtmp_flv_writer_free(writer: *mut RtmpFlvWriter) {
    let _ = boundary(|| {
        if !writer.is_null() {
            // SAFETY: per the contract, a Box we handed out.
            let mut writer = unsafe { Box::from_raw(writer) };
            if let Some(mut w) = writer.inner.take() {
                let _ = w.flush();
            }
        }
        RtmpResult::Ok
    });
}

/// Opens the FLV file at `path` and reads its header. On success `*out` gets a reader; on
/// error (IO for a file that cannot be read, INVALID_ARGUMENT for one that is not FLV)
/// `*out` is untouched. Meant for files: on a pipe or device that never ends, reads wait
/// for data. Thread-safe.
///
/// # Safety
/// `path` a NUL-terminated string; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rtmp_flv_reader_open(
    path: *const c_char,
    out: *mut *mut RtmpFlvReader,
) -> RtmpResult {
    boundary(|| {
        let out = out_param!(out);
        // SAFETY: per the contract.
        let path = match unsafe { str_arg(path, "path") } {
            Ok(p) => p,
            Err(code) => return code,
        };
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => return io_error(path, e),
        };
        let reader = match FlvReader::from_read(BufReader::new(file)) {
            Ok(r) => r,
            Err(e) => return flv_error(path, e),
        };
        // SAFETY: out is writable per the contract.
        unsafe { *out = Box::into_raw(Box::new(RtmpFlvReader { inner: reader })) };
        RtmpResult::Ok
    })
}

/// Reads the next tag: an audio or video tag sets `*frame` to an owned frame (release it
/// with `rtmp_frame_free`) and `*metadata` to NULL; an `onMetaData` script tag sets
/// `*metadata` to owned metadata (`rtmp_metadata_free`) and `*frame` to NULL. `*timestamp`
/// (when not NULL) gets the tag's timestamp in milliseconds. Metadata is an `onMetaData`
/// or `@setDataFrame onMetaData` script tag; other script tags, script tags whose AMF
/// does not decode and empty audio or video tags are skipped. END after the last tag.
/// INVALID_ARGUMENT (with the reason) for a tag that cannot be used, such as an unknown
/// type or an encrypted tag: it is skipped, and the next call goes on after it; a file
/// cut short ends with one such error, then END. IO when reading the file failed (then
/// END: what was read is all there is). On error `*frame` and `*metadata` are untouched.
///
/// # Safety
/// `reader` live and not used by another thread; `frame` and `metadata` writable;
/// `timestamp` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtmp_flv_reader_next(
    reader: *mut RtmpFlvReader,
    frame: *mut *mut RtmpFrame,
    metadata: *mut *mut RtmpMetadata,
    timestamp: *mut u32,
) -> RtmpResult {
    boundary(|| {
        if reader.is_null() {
            return fail_with(RtmpResult::NullParameter, "reader is NULL");
        }
        let frame = out_param!(frame);
        let metadata = out_param!(metadata);
        // SAFETY: live, used by this thread only, per the contract.
        let reader = unsafe { &mut *reader };
        loop {
            let tag = match reader.inner.next() {
                None => return fail_with(RtmpResult::End, "end of the FLV file"),
                Some(Err(e)) => return flv_error("FLV read", e),
                Some(Ok(tag)) => tag,
            };
            let (made_frame, made_metadata) = match tag.kind.media() {
                // An empty tag is no frame: it could not be published or decoded.
                Some(_) if tag.body.is_empty() => continue,
                Some(kind) => {
                    let made = crate::hub::Frame::from_tag(kind, tag.timestamp, tag.body);
                    (
                        Box::into_raw(Box::new(RtmpFrame::new(made))),
                        std::ptr::null_mut(),
                    )
                }
                None => {
                    let Ok(message) = DataMessage::decode(&tag.body, false, AmfLimits::default())
                    else {
                        continue;
                    };
                    let Some(properties) = message.metadata() else {
                        continue;
                    };
                    let made = Box::new(RtmpMetadata::of(properties));
                    (std::ptr::null_mut(), Box::into_raw(made))
                }
            };
            // SAFETY: all writable per the contract (timestamp only when not NULL).
            unsafe {
                *frame = made_frame;
                *metadata = made_metadata;
                if !timestamp.is_null() {
                    *timestamp = tag.timestamp;
                }
            }
            return RtmpResult::Ok;
        }
    })
}

/// Releases a reader and closes its file. NULL is ignored.
///
/// # Safety
/// `reader` NULL or from `rtmp_flv_reader_open`, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn rtmp_flv_reader_free(reader: *mut RtmpFlvReader) {
    let _ = boundary(|| {
        if !reader.is_null() {
            // SAFETY: per the contract, a Box we handed out.
            drop(unsafe { Box::from_raw(reader) });
        }
        RtmpResult::Ok
    });
}

#[cfg(test)]
mod tests {
    use super::super::{rtmp_frame_free, rtmp_frame_get_info, rtmp_frame_new, RtmpMediaKind};
    use super::*;
    use std::ffi::CString;

    fn path(name: &str) -> CString {
        let dir = std::env::temp_dir().join(format!("rtmp_core-ffi-flv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        CString::new(dir.join(name).to_str().unwrap()).unwrap()
    }

    fn next(reader: *mut RtmpFlvReader) -> (RtmpResult, *mut RtmpFrame, *mut RtmpMetadata, u32) {
        let (mut frame, mut metadata, mut timestamp) =
            (std::ptr::null_mut(), std::ptr::null_mut(), u32::MAX);
        // SAFETY: a live reader; out-parameters writable.
        let rc = unsafe { rtmp_flv_reader_next(reader, &mut frame, &mut metadata, &mut timestamp) };
        (rc, frame, metadata, timestamp)
    }

    #[test]
    fn frames_and_metadata_written_read_back_in_order_then_end() {
        let file = path("round-trip.flv");
        let mut writer = std::ptr::null_mut();
        // SAFETY: a C string; out writable.
        assert_eq!(
            unsafe { rtmp_flv_writer_new(file.as_ptr(), &mut writer) },
            RtmpResult::Ok
        );
        let metadata = RtmpMetadata::of(&crate::protocol::amf0::Amf0Value::EcmaArray(vec![(
            "width".into(),
            1280.0.into(),
        )]));
        // SAFETY: live handles.
        assert_eq!(
            unsafe { rtmp_flv_writer_write_metadata(writer, 0, &metadata) },
            RtmpResult::Ok
        );
        let body = [0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65];
        let mut frame = std::ptr::null_mut();
        // SAFETY: body readable; out writable.
        let rc = unsafe {
            rtmp_frame_new(
                RtmpMediaKind::Video as i32,
                40,
                body.as_ptr(),
                body.len(),
                &mut frame,
            )
        };
        assert_eq!(rc, RtmpResult::Ok);
        // SAFETY: live handles; the writer is closed once, then freed.
        unsafe {
            assert_eq!(rtmp_flv_writer_write(writer, frame), RtmpResult::Ok);
            assert_eq!(rtmp_flv_writer_close(writer), RtmpResult::Ok);
            assert_eq!(rtmp_flv_writer_write(writer, frame), RtmpResult::Closed);
            assert_eq!(rtmp_flv_writer_close(writer), RtmpResult::Ok);
            rtmp_flv_writer_free(writer);
            rtmp_frame_free(frame);
        }

        let mut reader = std::ptr::null_mut();
        // SAFETY: a C string; out writable.
        assert_eq!(
            unsafe { rtmp_flv_reader_open(file.as_ptr(), &mut reader) },
            RtmpResult::Ok
        );
        let (rc, frame, read_metadata, timestamp) = next(reader);
        assert_eq!((rc, frame.is_null(), timestamp), (RtmpResult::Ok, true, 0));
        // SAFETY: owned metadata from the reader, released once.
        unsafe {
            assert_eq!((*read_metadata).properties, metadata.properties);
            super::super::rtmp_metadata_free(read_metadata);
        }
        let (rc, frame, read_metadata, timestamp) = next(reader);
        assert_eq!(
            (rc, read_metadata.is_null(), timestamp),
            (RtmpResult::Ok, true, 40)
        );
        let mut info = std::mem::MaybeUninit::uninit();
        // SAFETY: an owned frame from the reader, read then released once.
        let info = unsafe {
            assert_eq!(
                rtmp_frame_get_info(frame, info.as_mut_ptr()),
                RtmpResult::Ok
            );
            info.assume_init()
        };
        assert!(info.keyframe && info.media == RtmpMediaKind::Video);
        // SAFETY: as above; the data pointer is read before the frame is released.
        unsafe {
            assert_eq!(std::slice::from_raw_parts(info.data, info.len), &body);
            rtmp_frame_free(frame);
        }
        assert_eq!(next(reader).0, RtmpResult::End);
        assert_eq!(next(reader).0, RtmpResult::End);
        // SAFETY: from rtmp_flv_reader_open, not used afterwards.
        unsafe { rtmp_flv_reader_free(reader) };
    }

    #[test]
    fn bad_paths_and_files_are_errors_not_handles() {
        let mut writer = std::ptr::null_mut();
        let missing = CString::new("/nonexistent-dir/x.flv").unwrap();
        // SAFETY: C strings; out writable.
        unsafe {
            assert_eq!(
                rtmp_flv_writer_new(missing.as_ptr(), &mut writer),
                RtmpResult::Io
            );
            assert!(writer.is_null());
            let mut reader = std::ptr::null_mut();
            assert_eq!(
                rtmp_flv_reader_open(missing.as_ptr(), &mut reader),
                RtmpResult::Io
            );
            let not_flv = path("not.flv");
            std::fs::write(not_flv.to_str().unwrap(), b"RIFF....WAVE").unwrap();
            assert_eq!(
                rtmp_flv_reader_open(not_flv.as_ptr(), &mut reader),
                RtmpResult::InvalidArgument
            );
            assert!(reader.is_null());
            // A file cut inside its only tag: one error, then the end.
            let cut = path("cut.flv");
            let mut data = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00".to_vec();
            data.extend_from_slice(&[9, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0x17, 1]);
            std::fs::write(cut.to_str().unwrap(), data).unwrap();
            assert_eq!(
                rtmp_flv_reader_open(cut.as_ptr(), &mut reader),
                RtmpResult::Ok
            );
            let (rc, frame, metadata, timestamp) = next(reader);
            assert_eq!(rc, RtmpResult::InvalidArgument);
            assert!(frame.is_null() && metadata.is_null() && timestamp == u32::MAX);
            assert_eq!(next(reader).0, RtmpResult::End);
            rtmp_flv_reader_free(reader);
            assert_eq!(
                rtmp_flv_writer_close(std::ptr::null_mut()),
                RtmpResult::NullParameter
            );
            rtmp_flv_writer_free(std::ptr::null_mut());
            rtmp_flv_reader_free(std::ptr::null_mut());
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn after_a_failed_write_nothing_more_is_appended_and_close_says_so() {
        let full = CString::new("/dev/full").unwrap();
        let mut writer = std::ptr::null_mut();
        // SAFETY: a C string; out writable.
        assert_eq!(
            unsafe { rtmp_flv_writer_new(full.as_ptr(), &mut writer) },
            RtmpResult::Ok
        );
        // Larger than the write buffer, so it reaches the device and fails there.
        let body = vec![0x2F; 64 * 1024];
        let mut frame = std::ptr::null_mut();
        // SAFETY: body readable; out writable; the handles are live until freed below.
        unsafe {
            let kind = RtmpMediaKind::Audio as i32;
            assert_eq!(
                rtmp_frame_new(kind, 0, body.as_ptr(), body.len(), &mut frame),
                RtmpResult::Ok
            );
            assert_eq!(rtmp_flv_writer_write(writer, frame), RtmpResult::Io);
            let small = [0x2F, 1];
            let mut tiny = std::ptr::null_mut();
            rtmp_frame_new(kind, 1, small.as_ptr(), small.len(), &mut tiny);
            assert_eq!(rtmp_flv_writer_write(writer, tiny), RtmpResult::Io);
            assert_eq!(rtmp_flv_writer_close(writer), RtmpResult::Io);
            assert_eq!(rtmp_flv_writer_write(writer, tiny), RtmpResult::Closed);
            rtmp_flv_writer_free(writer);
            rtmp_frame_free(frame);
            rtmp_frame_free(tiny);
        }
    }
}

//! Local publishing over the C ABI: the application's own frames into a stream of the
//! embedded server, played by RTMP players like any other.

use std::ffi::c_char;

use super::frame::frame_arg;
use super::{
    boundary, fail, fail_with, handle, out_param, str_arg, RtmpFrame, RtmpMetadata, RtmpResult,
    RtmpServer,
};
use crate::LocalPublisher;

/// Publishes the application's frames into one stream of a server. Made by
/// `rtmp_server_publisher_new`, released (the publish ends) by `rtmp_publisher_free`.
/// Thread-safe: any thread may write, also from inside a server callback.
pub struct RtmpPublisher {
    publisher: LocalPublisher,
}

/// Claims `app`/`stream` on `server` and publishes into it. On success `*out` gets a
/// publisher to release with `rtmp_publisher_free`; when someone already publishes that
/// stream it fails with INVALID_STATE and `*out` is untouched. A publisher freed after
/// its server is harmless (its writes go nowhere). May be called from a callback.
///
/// # Safety
/// `server` live; `app` and `stream` NUL-terminated strings; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rtmp_server_publisher_new(
    server: *const RtmpServer,
    app: *const c_char,
    stream: *const c_char,
    out: *mut *mut RtmpPublisher,
) -> RtmpResult {
    boundary(|| {
        let server = handle!(server);
        let out = out_param!(out);
        // SAFETY: strings are valid per the contract.
        let (app, stream) = match unsafe { (str_arg(app, "app"), str_arg(stream, "stream")) } {
            (Ok(a), Ok(s)) => (a, s),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        match server.handle.publisher(app, stream) {
            Ok(publisher) => {
                let made = Box::new(RtmpPublisher { publisher });
                // SAFETY: out is writable per the contract.
                unsafe { *out = Box::into_raw(made) };
                RtmpResult::Ok
            }
            Err(e) => fail(&e),
        }
    })
}

/// Publishes one FLV tag body (copied) of `kind` (an `rtmp_media_kind`) at `timestamp` ms; flags are read from the body.
/// Sequence headers are kept for late joiners. INVALID_ARGUMENT for an empty body or a
/// kind other than AUDIO/VIDEO.
///
/// # Safety
/// `publisher` live; `data` readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmp_publisher_write(
    publisher: *const RtmpPublisher,
    kind: i32,
    timestamp: u32,
    data: *const u8,
    len: usize,
) -> RtmpResult {
    boundary(|| {
        let publisher = handle!(publisher);
        // SAFETY: per the contract.
        match unsafe { frame_arg(kind, timestamp, data, len) } {
            Ok(frame) => {
                publisher.publisher.send(frame);
                RtmpResult::Ok
            }
            Err(code) => code,
        }
    })
}

/// Publishes a frame without copying its bytes (one an event lent you relays at no
/// cost). `frame` stays yours.
///
/// # Safety
/// `publisher` live; `frame` a live (borrowed or owned) frame.
#[no_mangle]
pub unsafe extern "C" fn rtmp_publisher_write_frame(
    publisher: *const RtmpPublisher,
    frame: *const RtmpFrame,
) -> RtmpResult {
    boundary(|| {
        let publisher = handle!(publisher);
        let frame = handle!(frame);
        if frame.frame.payload.is_empty() {
            return fail_with(RtmpResult::InvalidArgument, "empty frame");
        }
        publisher.publisher.send(frame.frame.clone());
        RtmpResult::Ok
    })
}

/// Sets the metadata players receive as onMetaData. `metadata` stays yours.
///
/// # Safety
/// `publisher` and `metadata` live.
#[no_mangle]
pub unsafe extern "C" fn rtmp_publisher_set_metadata(
    publisher: *const RtmpPublisher,
    metadata: *const RtmpMetadata,
) -> RtmpResult {
    boundary(|| {
        let publisher = handle!(publisher);
        let metadata = handle!(metadata);
        publisher.publisher.set_metadata(metadata.to_amf());
        RtmpResult::Ok
    })
}

/// Ends the publish (players see the stream end) and releases the publisher. NULL is
/// ignored. Allowed anywhere, callbacks included.
///
/// # Safety
/// `publisher` NULL or from `rtmp_server_publisher_new`, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn rtmp_publisher_free(publisher: *mut RtmpPublisher) {
    let _ = boundary(|| {
        if !publisher.is_null() {
            // SAFETY: per the contract, a Box we handed out.
            drop(unsafe { Box::from_raw(publisher) });
        }
        RtmpResult::Ok
    });
}

//! The library's log records to a C callback, through the process-wide forwarding logger
//! in `crate::logging` (which the Python bridge shares).

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use log::LevelFilter;
use parking_lot::Mutex;

use super::callback::UserData;
use super::{boundary, cstring, fail, fail_with, RtmpResult};
use crate::logging::{add_sink, remove_sink, SinkId};

/// Severity of a log record, and the threshold of a log callback.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtmpLogLevel {
    Off = 0,
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

impl RtmpLogLevel {
    fn of(level: log::Level) -> Self {
        match level {
            log::Level::Error => RtmpLogLevel::Error,
            log::Level::Warn => RtmpLogLevel::Warn,
            log::Level::Info => RtmpLogLevel::Info,
            log::Level::Debug => RtmpLogLevel::Debug,
            log::Level::Trace => RtmpLogLevel::Trace,
        }
    }
}

/// Receives one log record: `target` is the module ("rtmp_core::runtime::worker"),
/// `message` the text; both borrowed until it returns. It runs on whichever thread
/// logged (often an I/O worker, possibly several at once), so it must be quick,
/// thread-safe and must not block.
pub type RtmpLogCallback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        level: RtmpLogLevel,
        target: *const c_char,
        message: *const c_char,
    ),
>;

/// The C sink now registered, if any.
static C_SINK: Mutex<Option<SinkId>> = Mutex::new(None);

/// Sends the library's log records at `level` (an `rtmp_log_level`) or more severe to `callback(userdata,
/// level, target, message)`, replacing the callback set before; a NULL callback (or level
/// OFF) removes it. Once this returns the previous callback is running on no other thread
/// and gets no new records, so its userdata may be freed (called from inside that
/// callback, only its own call may still be running). Fails with INVALID_STATE when the
/// process already installed another `log` logger (a Rust host application's). Thread-safe.
///
/// # Safety
/// `callback` must be safe to call from any thread, concurrently, with `userdata` until it
/// is replaced or removed.
#[no_mangle]
pub unsafe extern "C" fn rtmp_set_log_callback(
    level: i32,
    callback: RtmpLogCallback,
    userdata: *mut c_void,
) -> RtmpResult {
    boundary(|| {
        let filter = match level {
            0 => LevelFilter::Off,
            1 => LevelFilter::Error,
            2 => LevelFilter::Warn,
            3 => LevelFilter::Info,
            4 => LevelFilter::Debug,
            5 => LevelFilter::Trace,
            _ => return fail_with(RtmpResult::InvalidArgument, "unknown log level"),
        };
        let mut current = C_SINK.lock();
        if let Some(id) = current.take() {
            remove_sink(id);
        }
        let Some(callback) = callback.filter(|_| filter != LevelFilter::Off) else {
            return RtmpResult::Ok;
        };
        let userdata = UserData(userdata);
        let sink = Arc::new(move |record: &log::Record<'_>| {
            let userdata = &userdata;
            let target = cstring(record.target());
            let message = cstring(&record.args().to_string());
            // SAFETY: the application registered this callback for exactly this use.
            unsafe {
                callback(
                    userdata.0,
                    RtmpLogLevel::of(record.level()),
                    target.as_ptr(),
                    message.as_ptr(),
                )
            };
        });
        match add_sink(filter, sink) {
            Ok(id) => {
                *current = Some(id);
                RtmpResult::Ok
            }
            Err(e) => fail(&e),
        }
    })
}

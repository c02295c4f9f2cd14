//! The C ABI: the only module with `extern "C"` and `unsafe`. `build.rs` turns it into
//! `include/rtmp_core.h` with cbindgen.
//!
//! Conventions (the header repeats them): functions return an `rtmp_result` (0 or a
//! negative code) and write out-parameters only on success; `rtmp_last_error` copies the
//! calling thread's last error message; handles come from `_new`/`_start` and go to
//! `_free` (NULL-safe); strings are UTF-8 and NUL-terminated; data handed to a callback or
//! returned by a poll is borrowed until the callback returns or the next poll. No panic
//! crosses the boundary: it becomes `RTMP_RESULT_PANIC`.
//!
//! One file per C concept: `server` (embedded server, events), `client` (publishing and
//! playing) with `client_options`, `frame` (refcounted frames), `metadata`, `media`
//! (encoder output to FLV bodies), `decoder` (played frames to decoder input), `flv`
//! (FLV files), `publisher` (local publishing into the server), `stats`, `logging`;
//! `callback` holds what the dispatcher threads share and `lent` what the borrowed event
//! and notice views point into.

mod callback;
mod client;
mod client_options;
mod decoder;
mod flv;
mod frame;
mod lent;
mod logging;
mod media;
mod metadata;
mod publisher;
mod server;
mod stats;

use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

pub use client::*;
pub use client_options::*;
pub use decoder::*;
pub use flv::*;
pub use frame::*;
pub use logging::*;
pub use media::*;
pub use metadata::*;
pub use publisher::*;
pub use server::*;
pub use stats::*;

/// Result codes. Numbers are stable and never reused.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtmpResult {
    Ok = 0,
    /// A required pointer argument was NULL.
    NullParameter = -1,
    /// An argument is invalid (bad address, not UTF-8, out of range).
    InvalidArgument = -2,
    /// A socket or thread error.
    Io = -3,
    /// The peer broke the protocol.
    Protocol = -4,
    /// Nothing happened within the timeout (polls), or a deadline passed.
    Timeout = -5,
    /// The server or client is closed.
    Closed = -6,
    /// A bug inside the library panicked; the call did nothing else.
    Panic = -7,
    /// The call is not valid now (e.g. calling back into a busy handle).
    InvalidState = -8,
    /// The caller's buffer is too small.
    BufferTooSmall = -9,
    /// A client's send queue is over its byte bound: the network does not keep up.
    QueueFull = -10,
    /// Valid input this library does not handle (e.g. a codec without a depacketizer).
    Unsupported = -11,
    /// Nothing more to read: the end of a file.
    End = -12,
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

#[cfg(test)]
thread_local! {
    /// Tests only: the next export called on this thread panics inside its boundary, as a
    /// bug in the library would.
    pub(crate) static FORCE_PANIC: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn set_last_error(message: impl Into<String>) {
    LAST_ERROR.with(|e| *e.borrow_mut() = message.into());
}

impl From<&crate::Error> for RtmpResult {
    fn from(e: &crate::Error) -> Self {
        use crate::Error::*;
        match e {
            Io(_) => RtmpResult::Io,
            Timeout(_) => RtmpResult::Timeout,
            Closed => RtmpResult::Closed,
            InvalidState(_) | UnknownRequest => RtmpResult::InvalidState,
            InvalidUrl(_) | Flv(_) | Media(_) => RtmpResult::InvalidArgument,
            QueueFull => RtmpResult::QueueFull,
            _ => RtmpResult::Protocol,
        }
    }
}

/// Records `error` as the thread's last error and returns its code.
pub(crate) fn fail(error: &crate::Error) -> RtmpResult {
    set_last_error(error.to_string());
    error.into()
}

/// Records a message and returns `code`.
pub(crate) fn fail_with(code: RtmpResult, message: &str) -> RtmpResult {
    set_last_error(message);
    code
}

/// Runs `body` behind a panic boundary: a panic becomes `RTMP_RESULT_PANIC`.
pub(crate) fn boundary(body: impl FnOnce() -> RtmpResult) -> RtmpResult {
    let body = || {
        #[cfg(test)]
        if FORCE_PANIC.with(|f| f.replace(false)) {
            panic!("forced by a test");
        }
        body()
    };
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last_error(format!("internal panic: {what}"));
            RtmpResult::Panic
        }
    }
}

/// Makes a shared handle reference from a pointer, or returns NULL_PARAMETER from the
/// enclosing function. Handles are only ever borrowed shared: whatever they change sits
/// behind a lock or an atomic, so two threads may use one handle at once.
macro_rules! handle {
    ($ptr:expr) => {{
        let ptr = $ptr;
        if ptr.is_null() {
            return $crate::ffi::fail_with(
                $crate::ffi::RtmpResult::NullParameter,
                concat!(stringify!($ptr), " is NULL"),
            );
        }
        // SAFETY: the caller passes a pointer it got from this library and has not freed
        // (every export's contract); only shared access is taken.
        unsafe { &*ptr }
    }};
}
pub(crate) use handle;

/// Writes `value` to the out-parameter `out`, or returns NULL_PARAMETER if it is NULL.
macro_rules! out_param {
    ($out:expr) => {{
        let out = $out;
        if out.is_null() {
            return $crate::ffi::fail_with(
                $crate::ffi::RtmpResult::NullParameter,
                concat!(stringify!($out), " is NULL"),
            );
        }
        out
    }};
}
pub(crate) use out_param;

/// Borrows `len` bytes at `data` (NULL is fine when `len` is 0).
///
/// # Safety
/// `data` must be NULL or readable for `len` bytes for the lifetime the caller picks.
pub(crate) unsafe fn bytes_arg<'a>(data: *const u8, len: usize) -> Result<&'a [u8], RtmpResult> {
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(fail_with(RtmpResult::NullParameter, "data is NULL"));
    }
    // SAFETY: the caller guarantees `len` readable bytes at `data`.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// Makes a C string of `s`, dropping any interior NUL.
pub(crate) fn cstring(s: &str) -> std::ffi::CString {
    std::ffi::CString::new(s.replace('\0', "")).unwrap_or_default()
}

/// Reads a NUL-terminated UTF-8 argument.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string valid for the call.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, RtmpResult> {
    if ptr.is_null() {
        return Err(fail_with(
            RtmpResult::NullParameter,
            &format!("{what} is NULL"),
        ));
    }
    // SAFETY: the caller guarantees a NUL-terminated string that outlives the call.
    let s = unsafe { CStr::from_ptr(ptr) };
    s.to_str()
        .map_err(|_| fail_with(RtmpResult::InvalidArgument, &format!("{what} is not UTF-8")))
}

/// Copies `text` and a NUL into `buf` (of `len` bytes) if it fits; returns the length
/// needed including the NUL.
pub(crate) fn copy_out(text: &str, buf: *mut c_char, len: usize) -> usize {
    let needed = text.len() + 1;
    if !buf.is_null() && len >= needed {
        // SAFETY: the caller gave a writable buffer of `len` bytes; we write `needed` ≤ len.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
            *buf.add(text.len()) = 0;
        }
    }
    needed
}

/// The library version as a NUL-terminated string, e.g. "0.1.0". The pointer is static:
/// never free it. Thread-safe.
#[no_mangle]
pub extern "C" fn rtmp_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Copies the calling thread's last error message into `buf` (`len` bytes, NUL
/// included) when it fits, and returns the length it needs including the NUL (1 when
/// there is no error). `buf` may be NULL to ask for the length. Thread-safe: each thread
/// has its own last error.
#[no_mangle]
pub extern "C" fn rtmp_last_error(buf: *mut c_char, len: usize) -> usize {
    catch_unwind(|| LAST_ERROR.with(|e| copy_out(&e.borrow(), buf, len))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_matches_the_crate_and_the_header() {
        let version = std::ffi::CStr::from_bytes_until_nul(
            concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
        )
        .unwrap();
        assert!(!rtmp_version().is_null());
        let header = include_str!(concat!(env!("OUT_DIR"), "/rtmp_core.h"));
        assert!(header.contains(&format!(
            "#define RTMP_CORE_VERSION \"{}\"",
            version.to_str().unwrap()
        )));
        let checked_in = include_str!("../../include/rtmp_core.h");
        assert_eq!(
            checked_in, header,
            "include/rtmp_core.h is stale: rebuild in a git checkout and commit it"
        );
    }

    #[test]
    fn panics_become_a_result_code_and_a_message() {
        let result = boundary(|| panic!("deliberate"));
        assert_eq!(result, RtmpResult::Panic);
        let mut buf = [0 as c_char; 64];
        let needed = rtmp_last_error(buf.as_mut_ptr(), buf.len());
        let text = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap();
        assert_eq!(text, "internal panic: deliberate");
        assert_eq!(needed, text.len() + 1);
        assert_eq!(rtmp_last_error(std::ptr::null_mut(), 0), needed);
    }

    #[test]
    fn a_panic_inside_a_real_export_is_a_result_and_leaves_out_parameters_alone() {
        let url = std::ffi::CString::new("rtmp://127.0.0.1:1/live/x").unwrap();
        let mut client = std::ptr::null_mut();
        FORCE_PANIC.with(|f| f.set(true));
        // SAFETY: valid arguments; the call panics before using them.
        let result = unsafe { rtmp_client_publish(url.as_ptr(), std::ptr::null(), &mut client) };
        assert_eq!(result, RtmpResult::Panic);
        assert!(client.is_null());
        let mut buf = [0 as c_char; 64];
        rtmp_last_error(buf.as_mut_ptr(), buf.len());
        // SAFETY: rtmp_last_error wrote a NUL-terminated message that fits the buffer.
        let text = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap();
        assert_eq!(text, "internal panic: forced by a test");
        // An export returning nothing swallows it (the process goes on).
        FORCE_PANIC.with(|f| f.set(true));
        // SAFETY: NULL is a valid argument.
        unsafe { rtmp_frame_free(std::ptr::null_mut()) };
        assert!(!FORCE_PANIC.with(|f| f.get()));
    }

    #[test]
    fn every_export_is_behind_the_panic_boundary() {
        // Each `extern "C"` function body must start with `boundary(` (or be one of the
        // two that cannot panic); a new export without it fails here.
        for (name, source) in [
            ("mod.rs", include_str!("mod.rs")),
            ("server.rs", include_str!("server.rs")),
            ("client.rs", include_str!("client.rs")),
            ("client_options.rs", include_str!("client_options.rs")),
            ("frame.rs", include_str!("frame.rs")),
            ("logging.rs", include_str!("logging.rs")),
            ("media.rs", include_str!("media.rs")),
            ("metadata.rs", include_str!("metadata.rs")),
            ("publisher.rs", include_str!("publisher.rs")),
            ("stats.rs", include_str!("stats.rs")),
        ] {
            let mut rest = source;
            while let Some(at) = rest.find("extern \"C\" fn ") {
                let after = &rest[at + "extern \"C\" fn ".len()..];
                let body_start = after.find('{').unwrap();
                let fn_name: String = after.chars().take_while(|c| *c != '(').collect();
                let body = after[body_start + 1..].trim_start();
                // These catch panics themselves (they return no rtmp_result).
                let exempt = matches!(
                    fn_name.as_str(),
                    "rtmp_version"
                        | "rtmp_last_error"
                        | "rtmp_server_config_new"
                        | "rtmp_server_config_free"
                        | "rtmp_server_local_addr"
                        | "rtmp_client_options_new"
                        | "rtmp_metadata_new"
                        | "rtmp_metadata_count"
                );
                assert!(
                    exempt
                        || body.starts_with("boundary(")
                        || body.starts_with("let _ = boundary(")
                        || body.starts_with("// SAFETY: forwarded contract.\n    boundary("),
                    "{name}: {fn_name} has no panic boundary"
                );
                rest = &after[body_start..];
            }
        }
    }
}

#[cfg(test)]
mod tests_abi;

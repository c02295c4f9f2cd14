//! Server statistics over the C ABI: streams and connections, each handed to a callback
//! one at a time (no buffer to size, strings borrowed for the call).

use std::ffi::{c_char, c_void};

use super::{boundary, cstring, handle, RtmpResult, RtmpServer};

/// One stream's counters. `key` ("app/stream") is borrowed for the callback's duration.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RtmpStreamStats {
    pub key: *const c_char,
    /// Someone (a client or a local publisher) publishes it now.
    pub publishing: bool,
    pub players: u64,
    pub frames_in: u64,
    pub bytes_in: u64,
    /// Media bits per second over the stream's life so far.
    pub bitrate_bps: f64,
}

/// One connection's counters.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RtmpConnectionStats {
    /// The connection, as in events.
    pub conn: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub frames_in: u64,
    pub frames_out: u64,
    /// Frames a slow player skipped (whole GOPs).
    pub frames_dropped: u64,
    /// Bytes waiting to be written.
    pub queued_bytes: usize,
    pub uptime_ms: u64,
}

/// Receives one stream's statistics; `stats` is borrowed until it returns.
pub type RtmpStreamStatsCallback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, stats: *const RtmpStreamStats)>;

/// Receives one connection's statistics; `stats` is borrowed until it returns.
pub type RtmpConnectionStatsCallback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, stats: *const RtmpConnectionStats)>;

/// Calls `callback(userdata, stats)` for every known stream, on the calling thread,
/// before returning; `*count` (if not NULL) gets the number of streams. A NULL callback
/// only counts. Thread-safe; may be called from an event callback.
///
/// # Safety
/// `server` live; `count` NULL or writable; `callback` safe to call with `userdata`.
#[no_mangle]
pub unsafe extern "C" fn rtmp_server_stream_stats(
    server: *const RtmpServer,
    callback: RtmpStreamStatsCallback,
    userdata: *mut c_void,
    count: *mut usize,
) -> RtmpResult {
    boundary(|| {
        let server = handle!(server);
        let all = server.handle.stream_stats();
        if let Some(callback) = callback {
            for s in &all {
                let key = cstring(&s.key);
                let stats = RtmpStreamStats {
                    key: key.as_ptr(),
                    publishing: s.publishing,
                    players: s.players,
                    frames_in: s.frames_in,
                    bytes_in: s.bytes_in,
                    bitrate_bps: s.bitrate_bps,
                };
                // SAFETY: the caller vouches for the callback and its userdata.
                unsafe { callback(userdata, &stats) };
            }
        }
        if !count.is_null() {
            // SAFETY: writable per the contract.
            unsafe { *count = all.len() };
        }
        RtmpResult::Ok
    })
}

/// Calls `callback(userdata, stats)` for every open connection, on the calling thread,
/// before returning (it asks each worker, waiting up to 2 s for an answer); `*count` (if
/// not NULL) gets the number of connections. A NULL callback only counts. Thread-safe;
/// may be called from an event callback.
///
/// # Safety
/// `server` live; `count` NULL or writable; `callback` safe to call with `userdata`.
#[no_mangle]
pub unsafe extern "C" fn rtmp_server_connection_stats(
    server: *const RtmpServer,
    callback: RtmpConnectionStatsCallback,
    userdata: *mut c_void,
    count: *mut usize,
) -> RtmpResult {
    boundary(|| {
        let server = handle!(server);
        let all = server.handle.connection_stats();
        if let Some(callback) = callback {
            for (id, s) in &all {
                let stats = RtmpConnectionStats {
                    conn: id.0,
                    bytes_in: s.bytes_in,
                    bytes_out: s.bytes_out,
                    frames_in: s.frames_in,
                    frames_out: s.frames_out,
                    frames_dropped: s.frames_dropped,
                    queued_bytes: s.queued_bytes,
                    uptime_ms: s.uptime.as_millis() as u64,
                };
                // SAFETY: the caller vouches for the callback and its userdata.
                unsafe { callback(userdata, &stats) };
            }
        }
        if !count.is_null() {
            // SAFETY: writable per the contract.
            unsafe { *count = all.len() };
        }
        RtmpResult::Ok
    })
}

//! Client options over the C ABI: what `rtmp_client_publish` / `rtmp_client_play` take.

use std::ffi::c_char;
use std::time::Duration;

use super::{boundary, bytes_arg, fail_with, str_arg, RtmpResult};
use crate::client::{ClientOptions, ReconnectPolicy};
use crate::protocol::command::PublishType;
use crate::protocol::handshake::HandshakeMode;

/// Client settings, made by `rtmp_client_options_new` and released by
/// `rtmp_client_options_free`. Starts with what an encoder usually wants (digest
/// handshake, 10 s connect timeout, live publishing, no reconnects). Not thread-safe:
/// configure from one thread.
pub struct RtmpClientOptions {
    pub(crate) options: ClientOptions,
}

/// How a publisher asks the server to treat the stream.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtmpPublishType {
    Live = 0,
    Record = 1,
    Append = 2,
}

/// The RTMP handshake a client starts.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtmpHandshake {
    /// Signed C1 (what Flash Player and OBS send); falls back when the server does not sign.
    Digest = 0,
    /// Plain handshake.
    Simple = 1,
}

/// New client options with the defaults; release them with `rtmp_client_options_free`.
/// NULL only if memory ran out.
#[no_mangle]
pub extern "C" fn rtmp_client_options_new() -> *mut RtmpClientOptions {
    let made = std::panic::catch_unwind(|| {
        Box::into_raw(Box::new(RtmpClientOptions {
            options: ClientOptions::default(),
        }))
    });
    made.unwrap_or(std::ptr::null_mut())
}

/// Releases client options. NULL is ignored. Clients started with them keep a copy.
///
/// # Safety
/// `options` must be NULL or from `rtmp_client_options_new`, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_options_free(options: *mut RtmpClientOptions) {
    let _ = boundary(|| {
        if !options.is_null() {
            // SAFETY: per the contract, a Box we handed out.
            drop(unsafe { Box::from_raw(options) });
        }
        RtmpResult::Ok
    });
}

/// Mutable options from a pointer, or NULL_PARAMETER.
macro_rules! options_mut {
    ($ptr:expr) => {{
        if $ptr.is_null() {
            return fail_with(RtmpResult::NullParameter, "options is NULL");
        }
        // SAFETY: live options that, per their documentation, one thread uses.
        &mut unsafe { &mut *$ptr }.options
    }};
}

/// Sets the flashVer sent in connect (default "FMLE/3.0 (compatible; rtmp_core)").
///
/// # Safety
/// `options` live; `flash_ver` a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_options_flash_ver(
    options: *mut RtmpClientOptions,
    flash_ver: *const c_char,
) -> RtmpResult {
    boundary(|| {
        let options = options_mut!(options);
        // SAFETY: per the contract.
        match unsafe { str_arg(flash_ver, "flash_ver") } {
            Ok(v) => {
                options.flash_ver = v.to_owned();
                RtmpResult::Ok
            }
            Err(code) => code,
        }
    })
}

/// Sets how long connecting (TCP, handshake, connect, publish/play) may take
/// (default 10000 ms; 0 is INVALID_ARGUMENT).
///
/// # Safety
/// `options` live.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_options_connect_timeout(
    options: *mut RtmpClientOptions,
    timeout_ms: u32,
) -> RtmpResult {
    boundary(|| {
        let options = options_mut!(options);
        if timeout_ms == 0 {
            return fail_with(RtmpResult::InvalidArgument, "timeout 0");
        }
        options.connect_timeout = Duration::from_millis(timeout_ms as u64);
        RtmpResult::Ok
    })
}

/// Sets the publish type, an `rtmp_publish_type` (default LIVE).
///
/// # Safety
/// `options` live.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_options_publish_type(
    options: *mut RtmpClientOptions,
    publish_type: i32,
) -> RtmpResult {
    boundary(|| {
        let options = options_mut!(options);
        options.publish_type = match publish_type {
            0 => PublishType::Live,
            1 => PublishType::Record,
            2 => PublishType::Append,
            _ => return fail_with(RtmpResult::InvalidArgument, "unknown publish type"),
        };
        RtmpResult::Ok
    })
}

/// Sets the handshake, an `rtmp_handshake` (default DIGEST).
///
/// # Safety
/// `options` live.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_options_handshake(
    options: *mut RtmpClientOptions,
    handshake: i32,
) -> RtmpResult {
    boundary(|| {
        let options = options_mut!(options);
        options.handshake_mode = match handshake {
            0 => HandshakeMode::Digest,
            1 => HandshakeMode::Simple,
            _ => return fail_with(RtmpResult::InvalidArgument, "unknown handshake"),
        };
        RtmpResult::Ok
    })
}

/// Turns automatic reconnection on (`enabled`) or off (the default). On: after a lost
/// connection the client waits `initial_backoff_ms`, doubling up to `max_backoff_ms`,
/// for at most `max_attempts` attempts (0: forever); sequence headers and metadata are
/// sent again. INVALID_ARGUMENT when on with `initial_backoff_ms` > `max_backoff_ms`.
///
/// # Safety
/// `options` live.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_options_reconnect(
    options: *mut RtmpClientOptions,
    enabled: bool,
    max_attempts: u32,
    initial_backoff_ms: u32,
    max_backoff_ms: u32,
) -> RtmpResult {
    boundary(|| {
        let options = options_mut!(options);
        if !enabled {
            options.reconnect = None;
            return RtmpResult::Ok;
        }
        if initial_backoff_ms > max_backoff_ms {
            return fail_with(RtmpResult::InvalidArgument, "initial backoff > max backoff");
        }
        options.reconnect = Some(ReconnectPolicy {
            max_attempts,
            initial_backoff: Duration::from_millis(initial_backoff_ms as u64),
            max_backoff: Duration::from_millis(max_backoff_ms as u64),
        });
        RtmpResult::Ok
    })
}

/// Sets the congestion thresholds: with more than `drop_disposable_after_ms` of media
/// queued, non-reference video frames are dropped; above `drop_inter_after_ms`, inter
/// frames until the next keyframe (audio, keyframes and headers never); above
/// `max_queued_bytes`, writes fail with RTMP_RESULT_QUEUE_FULL. Defaults 700, 900, 64 MiB.
/// INVALID_ARGUMENT when `drop_disposable_after_ms` > `drop_inter_after_ms`.
///
/// # Safety
/// `options` live.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_options_congestion(
    options: *mut RtmpClientOptions,
    drop_disposable_after_ms: u32,
    drop_inter_after_ms: u32,
    max_queued_bytes: usize,
) -> RtmpResult {
    boundary(|| {
        let options = options_mut!(options);
        if drop_disposable_after_ms > drop_inter_after_ms {
            return fail_with(
                RtmpResult::InvalidArgument,
                "drop_disposable_after_ms > drop_inter_after_ms",
            );
        }
        options.congestion.drop_disposable_after =
            Duration::from_millis(drop_disposable_after_ms as u64);
        options.congestion.drop_inter_after = Duration::from_millis(drop_inter_after_ms as u64);
        options.congestion.max_queued_bytes = max_queued_bytes;
        RtmpResult::Ok
    })
}

/// Playing: the start position in seconds (-2: live or recorded, the default; -1: live
/// only) and duration (-1: all, the default).
///
/// # Safety
/// `options` live.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_options_play_range(
    options: *mut RtmpClientOptions,
    start: f64,
    duration: f64,
) -> RtmpResult {
    boundary(|| {
        let options = options_mut!(options);
        options.play_start = start;
        options.play_duration = duration;
        RtmpResult::Ok
    })
}

/// For rtmps:// URLs: trusts the certificates in `ca_pem` (`len` bytes of PEM, copied; a
/// private CA or a self-signed server certificate) instead of the system's roots; `len`
/// 0 goes back to the system's roots. The PEM is parsed when the client starts
/// (`rtmp_client_publish`/`_play` fail with the reason if it does not parse).
///
/// # Safety
/// `options` live; `ca_pem` readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_options_tls_ca(
    options: *mut RtmpClientOptions,
    ca_pem: *const u8,
    len: usize,
) -> RtmpResult {
    boundary(|| {
        let options = options_mut!(options);
        // SAFETY: per the contract.
        match unsafe { bytes_arg(ca_pem, len) } {
            Ok(pem) => {
                options.tls.ca_pem = (!pem.is_empty()).then(|| pem.to_vec());
                RtmpResult::Ok
            }
            Err(code) => code,
        }
    })
}

/// For rtmps:// URLs: the name sent as SNI and checked against the certificate, when it
/// is not the URL's host (connecting by IP address); NULL goes back to the URL's host.
///
/// # Safety
/// `options` live; `name` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_options_tls_server_name(
    options: *mut RtmpClientOptions,
    name: *const c_char,
) -> RtmpResult {
    boundary(|| {
        let options = options_mut!(options);
        if name.is_null() {
            options.tls.server_name = None;
            return RtmpResult::Ok;
        }
        // SAFETY: per the contract.
        match unsafe { str_arg(name, "name") } {
            Ok(n) => {
                options.tls.server_name = Some(n.to_owned());
                RtmpResult::Ok
            }
            Err(code) => code,
        }
    })
}

/// For rtmps:// URLs: `insecure` true accepts any certificate. The connection is still
/// encrypted but not authenticated (anyone on the path can impersonate the server): for
/// test servers with throwaway certificates only. Default false.
///
/// # Safety
/// `options` live.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_options_tls_insecure(
    options: *mut RtmpClientOptions,
    insecure: bool,
) -> RtmpResult {
    boundary(|| {
        let options = options_mut!(options);
        options.tls.insecure_skip_verify = insecure;
        RtmpResult::Ok
    })
}

//! The C ABI driven from Rust exactly as C drives it: raw pointers, extern "C" callbacks,
//! out-parameters; a real server and real clients over loopback TCP. Helpers here; the
//! tests in `live` (publish and play), `reentry` (calls from callbacks) and `values`
//! (packagers, metadata, logging, argument checks).

mod live;
mod reentry;
mod tls;
mod values;

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::*;

/// Constrained Baseline 160x120 SPS and PPS as x264 writes them, an IDR and a P slice.
const SPS: &[u8] =
    b"\x67\x42\xc0\x0a\xd9\x02\x84\x7e\x5c\x04\x40\x00\x00\x03\x00\x40\x00\x00\x07\x83\xc4\x89\x92";
const PPS: &[u8] = &[0x68, 0xcb, 0x83, 0xcb, 0x20];
const IDR: &[u8] = &[0x65, 0x88, 0x84, 0x00, 0x33];
const P_SLICE: &[u8] = &[0x41, 0x9a, 0x02, 0x03];

fn annexb(nals: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for nal in nals {
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(nal);
    }
    out
}

/// An ADTS frame: AAC-LC, 44.1 kHz (index 4), stereo, with a 2-byte payload.
fn adts(payload: &[u8]) -> Vec<u8> {
    let len = 7 + payload.len();
    let mut out = vec![
        0xFF,
        0xF1,
        (1 << 6) | (4 << 2),
        (2 << 6) | ((len >> 11) as u8 & 0x03),
        (len >> 3) as u8,
        ((len as u8 & 0x07) << 5) | 0x1F,
        0xFC,
    ];
    out.extend_from_slice(payload);
    out
}

/// The calling thread's last error message.
pub(super) fn last_error() -> String {
    let mut buf = [0 as c_char; 256];
    rtmp_last_error(buf.as_mut_ptr(), buf.len());
    // SAFETY: rtmp_last_error NUL-terminates what it writes.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

fn text(ptr: *const c_char) -> String {
    assert!(!ptr.is_null());
    // SAFETY: the library's strings are NUL-terminated and borrowed for the call.
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned()
}

fn start_server(manual: bool, tap_all: bool, coalesce_ms: u32) -> (*mut RtmpServer, String) {
    let config = rtmp_server_config_new();
    let addr = CString::new("127.0.0.1:0").unwrap();
    let mut server = null_mut();
    // SAFETY: a live config and valid strings.
    unsafe {
        assert_eq!(
            rtmp_server_config_listen(config, addr.as_ptr()),
            RtmpResult::Ok
        );
        rtmp_server_config_workers(config, 1);
        rtmp_server_config_manual_decisions(config, manual);
        rtmp_server_config_tap_all(config, tap_all);
        assert_eq!(
            rtmp_server_config_write_coalescing_ms(config, coalesce_ms),
            RtmpResult::Ok
        );
        assert_eq!(rtmp_server_start(config, &mut server), RtmpResult::Ok);
        rtmp_server_config_free(config);
    }
    let mut buf = [0 as c_char; 64];
    // SAFETY: a live server and a 64-byte buffer.
    unsafe { rtmp_server_local_addr(server, buf.as_mut_ptr(), buf.len()) };
    (server, text(buf.as_ptr()))
}

/// What a test keeps of a polled event.
#[derive(Debug, Clone)]
struct Seen {
    kind: RtmpEventType,
    stream: String,
    media: RtmpMediaKind,
    sequence_header: bool,
}

/// Polls until `stop` says so; panics after 10 s.
fn poll_until(
    server: *const RtmpServer,
    mut stop: impl FnMut(&RtmpEvent, &Seen) -> bool,
) -> Vec<Seen> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "no such event; saw {seen:?}");
        let mut event = std::mem::MaybeUninit::<RtmpEvent>::uninit();
        // SAFETY: a live server and a writable event.
        match unsafe { rtmp_server_poll(server, 100, event.as_mut_ptr()) } {
            RtmpResult::Timeout => continue,
            RtmpResult::Ok => {}
            other => panic!("poll: {other:?} {}", last_error()),
        }
        // SAFETY: written on OK.
        let event = unsafe { event.assume_init() };
        let s = Seen {
            kind: event.event_type,
            stream: text(event.stream),
            media: event.media,
            sequence_header: event.sequence_header,
        };
        let done = stop(&event, &s);
        seen.push(s);
        if done {
            return seen;
        }
    }
}

fn url(addr: &str, stream: &str) -> CString {
    CString::new(format!("rtmp://{addr}/live/{stream}")).unwrap()
}

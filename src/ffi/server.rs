//! The embedded server over the C ABI: configuration, start, events by poll or callback,
//! decisions, taps, shutdown.

use std::cell::Cell;
use std::ffi::{c_char, c_void, CString};
use std::time::Duration;

use super::{boundary, copy_out, fail, fail_with, str_arg, RtmpResult};
use crate::event::{ConnectionId, Decision, Event};
use crate::session::{MediaKind, Rejection};
use crate::{Server, ServerBuilder, ServerHandle};

/// Server settings, made by `rtmp_server_config_new` and released by
/// `rtmp_server_config_free`. Not thread-safe: configure from one thread.
pub struct RtmpServerConfig {
    builder: ServerBuilder,
}

/// A running server, made by `rtmp_server_start` and released (shut down) by
/// `rtmp_server_free`.
pub struct RtmpServer {
    server: Server,
    /// What the last polled event's pointers refer to.
    polled: Option<EventStorage>,
}

/// What an event is about.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtmpEventType {
    /// A client connects (`app`; `detail` is the peer address).
    Connect = 1,
    /// A client starts publishing `app`/`stream` (`detail`: live, record or append).
    Publish = 2,
    /// A client starts playing `app`/`stream`.
    Play = 3,
    /// A publish ended.
    Unpublish = 4,
    /// A player stopped.
    PlayStop = 5,
    /// A publisher sent metadata.
    Metadata = 6,
    /// A frame of a tapped stream: `media`, `timestamp`, flags, `data`/`len`.
    Frame = 7,
    /// A connection closed (`detail` says why).
    Disconnect = 8,
}

/// Audio or video.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtmpMediaKind {
    None = 0,
    Audio = 8,
    Video = 9,
}

/// One server event. Pointers are borrowed: valid until the callback returns, or until
/// the next `rtmp_server_poll` on the same server. Copy what you keep.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RtmpEvent {
    pub event_type: RtmpEventType,
    /// The connection, for decisions and to match events to clients.
    pub conn: u64,
    /// Non-zero when the server was built with manual decisions and waits for
    /// `rtmp_server_accept` / `rtmp_server_reject` with `conn` and this value.
    pub decision: u64,
    /// Application name (never NULL; "" when not applicable).
    pub app: *const c_char,
    /// Stream name (never NULL; "" when not applicable).
    pub stream: *const c_char,
    /// Peer address, publish type or disconnect reason (never NULL).
    pub detail: *const c_char,
    pub media: RtmpMediaKind,
    /// Milliseconds.
    pub timestamp: u32,
    pub keyframe: bool,
    pub sequence_header: bool,
    /// The frame's FLV tag body (Frame events), else NULL.
    pub data: *const u8,
    pub len: usize,
}

/// Owns what an `RtmpEvent`'s pointers refer to.
struct EventStorage {
    _strings: [CString; 3],
    _payload: bytes::Bytes,
    event: RtmpEvent,
}

fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

fn convert(event: &Event) -> EventStorage {
    let mut payload = bytes::Bytes::new();
    let (event_type, conn, decision, app, stream, detail) = match event {
        Event::Connect {
            conn,
            decision,
            peer,
            app,
            ..
        } => (
            RtmpEventType::Connect,
            conn.0,
            *decision,
            app.as_str(),
            "",
            peer.to_string(),
        ),
        Event::Publish {
            conn,
            decision,
            app,
            stream,
            publish_type,
        } => (
            RtmpEventType::Publish,
            conn.0,
            *decision,
            app.as_str(),
            stream.as_str(),
            publish_type.as_str().to_owned(),
        ),
        Event::Play {
            conn,
            decision,
            app,
            stream,
        } => (
            RtmpEventType::Play,
            conn.0,
            *decision,
            app.as_str(),
            stream.as_str(),
            String::new(),
        ),
        Event::Unpublish { conn, app, stream } => (
            RtmpEventType::Unpublish,
            conn.0,
            None,
            app.as_str(),
            stream.as_str(),
            String::new(),
        ),
        Event::PlayStop { conn, app, stream } => (
            RtmpEventType::PlayStop,
            conn.0,
            None,
            app.as_str(),
            stream.as_str(),
            String::new(),
        ),
        Event::Metadata { app, stream, .. } => (
            RtmpEventType::Metadata,
            0,
            None,
            app.as_str(),
            stream.as_str(),
            String::new(),
        ),
        Event::Frame { app, stream, frame } => {
            payload = frame.payload.clone();
            (
                RtmpEventType::Frame,
                0,
                None,
                app.as_str(),
                stream.as_str(),
                String::new(),
            )
        }
        Event::Disconnect { conn, reason } => (
            RtmpEventType::Disconnect,
            conn.0,
            None,
            "",
            "",
            reason.to_string(),
        ),
    };
    let strings = [cstring(app), cstring(stream), cstring(&detail)];
    let (media, timestamp, keyframe, sequence_header) = match event {
        Event::Frame { frame, .. } => (
            match frame.kind {
                MediaKind::Audio => RtmpMediaKind::Audio,
                MediaKind::Video => RtmpMediaKind::Video,
            },
            frame.timestamp,
            frame.keyframe,
            frame.sequence_header,
        ),
        _ => (RtmpMediaKind::None, 0, false, false),
    };
    let event = RtmpEvent {
        event_type,
        conn,
        decision: decision.map_or(0, |d| d.request_id()),
        app: strings[0].as_ptr(),
        stream: strings[1].as_ptr(),
        detail: strings[2].as_ptr(),
        media,
        timestamp,
        keyframe,
        sequence_header,
        data: if payload.is_empty() {
            std::ptr::null()
        } else {
            payload.as_ptr()
        },
        len: payload.len(),
    };
    EventStorage {
        _strings: strings,
        _payload: payload,
        event,
    }
}

/// Called with each event on the library's dispatcher thread.
pub type RtmpEventCallback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, event: *const RtmpEvent)>;

/// Carries the application's userdata to the dispatcher thread.
struct UserData(*mut c_void);
// SAFETY: `rtmp_server_set_callback` documents that userdata is used from the dispatcher
// thread; the caller vouches that this is safe for what it points to.
unsafe impl Send for UserData {}

thread_local! {
    /// Set while a callback runs on this thread: calls that would wait for the
    /// dispatcher itself are refused.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// Makes a handle reference from a pointer, or fails with NULL_PARAMETER.
macro_rules! handle {
    ($ptr:expr) => {{
        if $ptr.is_null() {
            return fail_with(
                RtmpResult::NullParameter,
                concat!(stringify!($ptr), " is NULL"),
            );
        }
        // SAFETY: the caller passes a pointer it got from this library and has not freed.
        unsafe { &mut *$ptr }
    }};
}

/// A new configuration: listen on nothing yet, one worker per core, automatic decisions.
/// Free it with `rtmp_server_config_free`. Never NULL.
#[no_mangle]
pub extern "C" fn rtmp_server_config_new() -> *mut RtmpServerConfig {
    let config = std::panic::catch_unwind(|| RtmpServerConfig {
        builder: Server::builder(),
    });
    config.map_or(std::ptr::null_mut(), |c| Box::into_raw(Box::new(c)))
}

/// Releases a configuration. NULL is ignored.
///
/// # Safety
/// `config` must come from `rtmp_server_config_new` and not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn rtmp_server_config_free(config: *mut RtmpServerConfig) {
    if !config.is_null() {
        // SAFETY: per the contract above, the pointer is a live Box we handed out. The
        // config is dropped either way, so no broken invariant can be observed after a
        // panic (rustls's configuration holds trait objects that are not `RefUnwindSafe`).
        let free = std::panic::AssertUnwindSafe(|| drop(unsafe { Box::from_raw(config) }));
        let _ = std::panic::catch_unwind(free);
    }
}

/// Adds a listen address such as `0.0.0.0:1935` or `[::1]:1935` (port 0 picks one).
///
/// # Safety
/// `config` must be a live configuration; `addr` a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rtmp_server_config_listen(
    config: *mut RtmpServerConfig,
    addr: *const c_char,
) -> RtmpResult {
    boundary(|| {
        let config = handle!(config);
        // SAFETY: per the contract, addr is NULL or a valid C string.
        let addr = match unsafe { str_arg(addr, "addr") } {
            Ok(a) => a,
            Err(code) => return code,
        };
        let Ok(addr) = addr.parse() else {
            return fail_with(RtmpResult::InvalidArgument, "addr is not IP:PORT");
        };
        config.builder = std::mem::take(&mut config.builder).listen(addr);
        RtmpResult::Ok
    })
}

/// Sets the number of worker threads (0 keeps the default, one per core).
///
/// # Safety
/// `config` must be a live configuration.
#[no_mangle]
pub unsafe extern "C" fn rtmp_server_config_workers(
    config: *mut RtmpServerConfig,
    workers: u32,
) -> RtmpResult {
    boundary(|| {
        let config = handle!(config);
        if workers > 0 {
            config.builder = std::mem::take(&mut config.builder).workers(workers as usize);
        }
        RtmpResult::Ok
    })
}

/// When true, connect, publish and play wait for `rtmp_server_accept` /
/// `rtmp_server_reject` (events carry a non-zero `decision`).
///
/// # Safety
/// `config` must be a live configuration.
#[no_mangle]
pub unsafe extern "C" fn rtmp_server_config_manual_decisions(
    config: *mut RtmpServerConfig,
    manual: bool,
) -> RtmpResult {
    boundary(|| {
        let config = handle!(config);
        config.builder = std::mem::take(&mut config.builder).manual_decisions(manual);
        RtmpResult::Ok
    })
}

/// When true, every stream is tapped from its first frame: Frame events for all of them.
///
/// # Safety
/// `config` must be a live configuration.
#[no_mangle]
pub unsafe extern "C" fn rtmp_server_config_tap_all(
    config: *mut RtmpServerConfig,
    on: bool,
) -> RtmpResult {
    boundary(|| {
        let config = handle!(config);
        config.builder = std::mem::take(&mut config.builder).tap_all(on);
        RtmpResult::Ok
    })
}

/// Binds the listeners and starts the server; on success writes the handle to `*out`
/// (release it with `rtmp_server_free`). The configuration stays yours.
///
/// # Safety
/// `config` must be a live configuration and `out` a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn rtmp_server_start(
    config: *const RtmpServerConfig,
    out: *mut *mut RtmpServer,
) -> RtmpResult {
    boundary(|| {
        if config.is_null() || out.is_null() {
            return fail_with(RtmpResult::NullParameter, "config or out is NULL");
        }
        // SAFETY: config is a live configuration per the contract.
        let builder = unsafe { &*config }.builder.clone();
        match builder.build() {
            Ok(server) => {
                let handle = Box::new(RtmpServer {
                    server,
                    polled: None,
                });
                // SAFETY: out is writable per the contract.
                unsafe { *out = Box::into_raw(handle) };
                RtmpResult::Ok
            }
            Err(e) => fail(&e),
        }
    })
}

/// Shuts the server down (players and publishers are told, connections closed, threads
/// joined) and releases it. NULL is ignored. Must not be called from an event callback:
/// there it does nothing and sets the last error.
///
/// # Safety
/// `server` must come from `rtmp_server_start` and not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn rtmp_server_free(server: *mut RtmpServer) {
    let _ = boundary(|| {
        if server.is_null() {
            return RtmpResult::Ok;
        }
        if IN_CALLBACK.with(Cell::get) {
            return fail_with(
                RtmpResult::InvalidState,
                "rtmp_server_free from inside a callback",
            );
        }
        // SAFETY: per the contract the pointer is a live Box we handed out.
        drop(unsafe { Box::from_raw(server) });
        RtmpResult::Ok
    });
}

/// Copies the first listen address ("127.0.0.1:1935") into `buf`; returns the length
/// needed including the NUL, or 0 if `server` is NULL. Thread-safe.
///
/// # Safety
/// `server` must be a live server; `buf` NULL or writable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmp_server_local_addr(
    server: *const RtmpServer,
    buf: *mut c_char,
    len: usize,
) -> usize {
    if server.is_null() {
        return 0;
    }
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: server is live per the contract.
        let server = unsafe { &*server };
        let addr = server
            .server
            .local_addrs()
            .first()
            .map(|a| a.to_string())
            .unwrap_or_default();
        copy_out(&addr, buf, len)
    }))
    .unwrap_or(0)
}

use std::panic::AssertUnwindSafe;

/// Waits up to `timeout_ms` for the next event and writes it to `*out`. Returns
/// RTMP_RESULT_TIMEOUT when none came. The event's pointers stay valid until the next
/// poll on this server. Poll from one thread at a time, and not together with a callback.
///
/// # Safety
/// `server` must be a live server and `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rtmp_server_poll(
    server: *mut RtmpServer,
    timeout_ms: u32,
    out: *mut RtmpEvent,
) -> RtmpResult {
    boundary(|| {
        let server = handle!(server);
        if out.is_null() {
            return fail_with(RtmpResult::NullParameter, "out is NULL");
        }
        match server
            .server
            .next_event(Duration::from_millis(timeout_ms as u64))
        {
            Some(event) => {
                let storage = convert(&event);
                // SAFETY: out is writable per the contract.
                unsafe { *out = storage.event };
                server.polled = Some(storage);
                RtmpResult::Ok
            }
            None => RtmpResult::Timeout,
        }
    })
}

/// Delivers every event to `callback(userdata, event)` on a dispatcher thread the library
/// owns, from now on (polling then returns nothing). `userdata` is passed as is and used
/// from that thread. Inside the callback, accept/reject/tap may be called; freeing the
/// server may not. A second call fails with RTMP_RESULT_INVALID_STATE.
///
/// # Safety
/// `server` must be a live server; `callback` must be safe to call from another thread
/// with `userdata` until the server is freed.
#[no_mangle]
pub unsafe extern "C" fn rtmp_server_set_callback(
    server: *mut RtmpServer,
    callback: RtmpEventCallback,
    userdata: *mut c_void,
) -> RtmpResult {
    boundary(|| {
        let server = handle!(server);
        let Some(callback) = callback else {
            return fail_with(RtmpResult::NullParameter, "callback is NULL");
        };
        let userdata = UserData(userdata);
        let result = server.server.dispatch(move |_: &ServerHandle, event| {
            let userdata = &userdata;
            let storage = convert(&event);
            IN_CALLBACK.with(|f| f.set(true));
            // SAFETY: the application registered this callback for exactly this use.
            unsafe { callback(userdata.0, &storage.event) };
            IN_CALLBACK.with(|f| f.set(false));
        });
        match result {
            Ok(()) => RtmpResult::Ok,
            Err(e) => fail(&e),
        }
    })
}

/// Accepts the decision `decision` of connection `conn` (both from the event).
/// Thread-safe; may be called from a callback.
///
/// # Safety
/// `server` must be a live server.
#[no_mangle]
pub unsafe extern "C" fn rtmp_server_accept(
    server: *const RtmpServer,
    conn: u64,
    decision: u64,
) -> RtmpResult {
    boundary(|| {
        if server.is_null() {
            return fail_with(RtmpResult::NullParameter, "server is NULL");
        }
        if decision == 0 {
            return fail_with(RtmpResult::InvalidArgument, "decision 0 means none is owed");
        }
        // SAFETY: server is live per the contract; only shared access is used.
        let server = unsafe { &*server };
        server
            .server
            .accept(Decision::from_parts(ConnectionId(conn), decision));
        RtmpResult::Ok
    })
}

/// Rejects a decision with a status `code` (NULL: the usual one, e.g.
/// NetStream.Publish.BadName) and a `description` the client sees. Thread-safe.
///
/// # Safety
/// `server` must be a live server; strings NULL (code only) or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rtmp_server_reject(
    server: *const RtmpServer,
    conn: u64,
    decision: u64,
    code: *const c_char,
    description: *const c_char,
) -> RtmpResult {
    boundary(|| {
        if server.is_null() {
            return fail_with(RtmpResult::NullParameter, "server is NULL");
        }
        // SAFETY: strings are valid per the contract.
        let description = match unsafe { str_arg(description, "description") } {
            Ok(d) => d,
            Err(e) => return e,
        };
        let rejection = if code.is_null() {
            Rejection::new(description)
        } else {
            // SAFETY: as above.
            match unsafe { str_arg(code, "code") } {
                Ok(c) => Rejection::with_code(c, description),
                Err(e) => return e,
            }
        };
        // SAFETY: server is live per the contract.
        let server = unsafe { &*server };
        server.server.reject(
            Decision::from_parts(ConnectionId(conn), decision),
            rejection,
        );
        RtmpResult::Ok
    })
}

/// Starts (`on` true) or stops delivering `app`/`stream`'s frames as Frame events.
/// Thread-safe.
///
/// # Safety
/// `server` must be a live server; strings NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rtmp_server_tap(
    server: *const RtmpServer,
    app: *const c_char,
    stream: *const c_char,
    on: bool,
) -> RtmpResult {
    boundary(|| {
        if server.is_null() {
            return fail_with(RtmpResult::NullParameter, "server is NULL");
        }
        // SAFETY: strings are valid per the contract.
        let (app, stream) = match unsafe { (str_arg(app, "app"), str_arg(stream, "stream")) } {
            (Ok(a), Ok(s)) => (a, s),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        // SAFETY: server is live per the contract.
        unsafe { &*server }.server.tap(app, stream, on);
        RtmpResult::Ok
    })
}

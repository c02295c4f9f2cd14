//! The embedded server over the C ABI: configuration, start, events by poll or callback,
//! decisions, taps, shutdown.

use std::ffi::{c_char, c_void};
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_channel::Receiver;
use parking_lot::Mutex;

use super::callback::{become_dispatcher_of, is_dispatcher_of, UserData};
use super::lent::{Lent, Parts};
use super::{
    boundary, bytes_arg, copy_out, fail, fail_with, handle, out_param, str_arg, RtmpFrame,
    RtmpMediaKind, RtmpMetadata, RtmpResult,
};
use crate::event::{ConnectionId, Decision, Event};
use crate::session::Rejection;
use crate::{Server, ServerBuilder, ServerHandle};

/// Server settings, made by `rtmp_server_config_new` and released by
/// `rtmp_server_config_free`. Not thread-safe: configure from one thread.
pub struct RtmpServerConfig {
    builder: ServerBuilder,
}

/// A running server, made by `rtmp_server_start` and released (shut down) by
/// `rtmp_server_free`. Every function taking a server is thread-safe unless its comment
/// says otherwise.
pub struct RtmpServer {
    server: Mutex<Server>,
    pub(crate) handle: ServerHandle,
    events: Receiver<Event>,
    addrs: Vec<SocketAddr>,
    /// What the last polled event's pointers refer to.
    polled: Mutex<Option<Lent<RtmpEvent>>>,
    /// A callback was set: events go to the dispatcher, polls are refused.
    dispatching: AtomicBool,
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
    /// Frame events: the frame, borrowed like the event; `rtmp_frame_retain` keeps it
    /// beyond. NULL otherwise.
    pub frame: *const RtmpFrame,
    /// Metadata events: the metadata, borrowed like the event. NULL otherwise.
    pub metadata: *const RtmpMetadata,
}

fn convert(event: &Event) -> Lent<RtmpEvent> {
    let mut frame = None;
    let mut metadata = None;
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
        Event::Metadata {
            app,
            stream,
            metadata: value,
        } => {
            metadata = Some(value);
            (
                RtmpEventType::Metadata,
                0,
                None,
                app.as_str(),
                stream.as_str(),
                String::new(),
            )
        }
        Event::Frame {
            app,
            stream,
            frame: f,
        } => {
            frame = Some(f);
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
    let parts = Parts::new([app, stream, &detail], frame, metadata);
    let media = parts.media();
    let event = RtmpEvent {
        event_type,
        conn,
        decision: decision.map_or(0, |d| d.request_id()),
        app: parts.string(0),
        stream: parts.string(1),
        detail: parts.string(2),
        media: media.media,
        timestamp: media.timestamp,
        keyframe: media.keyframe,
        sequence_header: media.sequence_header,
        data: media.data,
        len: media.len,
        frame: media.frame,
        metadata: media.metadata,
    };
    parts.lend(event)
}

/// A mutable configuration from a pointer, or NULL_PARAMETER.
macro_rules! config_mut {
    ($ptr:expr) => {{
        if $ptr.is_null() {
            return fail_with(RtmpResult::NullParameter, "config is NULL");
        }
        // SAFETY: a live configuration that, per its documentation, one thread uses.
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
        let config = config_mut!(config);
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

/// Adds an rtmps:// (TLS) listen address, with the certificate chain and its private key
/// in PEM (`cert_pem`/`key_pem` of `cert_len`/`key_len` bytes, copied: they stay yours).
/// One server may listen on plain and TLS addresses at once. INVALID_ARGUMENT (the last
/// error says why) for a bad address or PEM that does not parse; the configuration is
/// unchanged then.
///
/// # Safety
/// `config` must be a live configuration; `addr` a NUL-terminated string; `cert_pem` and
/// `key_pem` readable for their lengths.
#[no_mangle]
pub unsafe extern "C" fn rtmp_server_config_listen_tls(
    config: *mut RtmpServerConfig,
    addr: *const c_char,
    cert_pem: *const u8,
    cert_len: usize,
    key_pem: *const u8,
    key_len: usize,
) -> RtmpResult {
    boundary(|| {
        let config = config_mut!(config);
        // SAFETY: per the contract, addr is NULL or a valid C string.
        let addr = match unsafe { str_arg(addr, "addr") } {
            Ok(a) => a,
            Err(code) => return code,
        };
        let Ok(addr) = addr.parse() else {
            return fail_with(RtmpResult::InvalidArgument, "addr is not IP:PORT");
        };
        // SAFETY: per the contract, both are readable for their lengths.
        let (cert, key) =
            match unsafe { (bytes_arg(cert_pem, cert_len), bytes_arg(key_pem, key_len)) } {
                (Ok(c), Ok(k)) => (c, k),
                (Err(code), _) | (_, Err(code)) => return code,
            };
        // Validated on a copy, so a failure leaves the configuration as it was.
        match config.builder.clone().listen_tls(addr, cert, key) {
            Ok(builder) => {
                config.builder = builder;
                RtmpResult::Ok
            }
            Err(e) => fail_with(RtmpResult::InvalidArgument, &e.to_string()),
        }
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
        let config = config_mut!(config);
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
        let config = config_mut!(config);
        config.builder = std::mem::take(&mut config.builder).manual_decisions(manual);
        RtmpResult::Ok
    })
}

/// Lets each player's media wait up to `ms` milliseconds to share one write (default 0:
/// write every frame at once). Fewer, larger writes cost the kernel less per player, for
/// up to `ms` more latency; see the README's relay benchmark.
///
/// # Safety
/// `config` must be a live configuration.
#[no_mangle]
pub unsafe extern "C" fn rtmp_server_config_write_coalescing_ms(
    config: *mut RtmpServerConfig,
    ms: u32,
) -> RtmpResult {
    boundary(|| {
        let config = config_mut!(config);
        config.builder = std::mem::take(&mut config.builder)
            .write_coalescing(std::time::Duration::from_millis(u64::from(ms)));
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
        let config = config_mut!(config);
        config.builder = std::mem::take(&mut config.builder).tap_all(on);
        RtmpResult::Ok
    })
}

/// Binds the listeners and starts the server; on success writes the handle to `*out`
/// (release it with `rtmp_server_free`); on error `*out` is untouched. The configuration
/// stays yours and may be reused.
///
/// # Safety
/// `config` must be a live configuration and `out` a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn rtmp_server_start(
    config: *const RtmpServerConfig,
    out: *mut *mut RtmpServer,
) -> RtmpResult {
    boundary(|| {
        let config = handle!(config);
        let out = out_param!(out);
        match config.builder.clone().build() {
            Ok(server) => {
                let handle = Box::new(RtmpServer {
                    handle: server.handle(),
                    events: server.events().clone(),
                    addrs: server.local_addrs().to_vec(),
                    server: Mutex::new(server),
                    polled: Mutex::new(None),
                    dispatching: AtomicBool::new(false),
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
/// joined, the callback's last events delivered) and releases it. NULL is ignored.
/// Called from the server's own event callback it would wait for itself: there it does
/// nothing and sets the last error (RTMP_RESULT_INVALID_STATE). Local publishers may be
/// freed before or after it.
///
/// # Safety
/// `server` must come from `rtmp_server_start` and not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn rtmp_server_free(server: *mut RtmpServer) {
    let _ = boundary(|| {
        if server.is_null() {
            return RtmpResult::Ok;
        }
        if is_dispatcher_of(server) {
            return fail_with(
                RtmpResult::InvalidState,
                "rtmp_server_free from inside the server's own callback",
            );
        }
        // Shut down through a shared borrow first: the dispatcher thread may still be in a
        // callback that calls in with this pointer. The Box is reclaimed only once that
        // thread is joined, and no lock of ours is held while joining.
        // SAFETY: per the contract the pointer is live; only shared access until the join.
        let dispatcher = unsafe { &*server }.server.lock().stop_runtime();
        if let Some(thread) = dispatcher {
            let _ = thread.join();
        }
        // SAFETY: per the contract, a Box we handed out; no other thread uses it now.
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
            .addrs
            .first()
            .map(|a| a.to_string())
            .unwrap_or_default();
        copy_out(&addr, buf, len)
    }))
    .unwrap_or(0)
}

/// Waits up to `timeout_ms` (0: just look) for the next event and writes it to `*out`.
/// Returns RTMP_RESULT_TIMEOUT when none came (`*out` untouched). The event's pointers
/// stay valid until the next poll on this server. Poll from one thread at a time. Once a
/// callback is set (and so inside it) polling fails with RTMP_RESULT_INVALID_STATE.
///
/// # Safety
/// `server` must be a live server and `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rtmp_server_poll(
    server: *const RtmpServer,
    timeout_ms: u32,
    out: *mut RtmpEvent,
) -> RtmpResult {
    boundary(|| {
        let server = handle!(server);
        let out = out_param!(out);
        if server.dispatching.load(Ordering::Acquire) {
            return fail_with(
                RtmpResult::InvalidState,
                "events go to the callback: polling is off",
            );
        }
        let event = if timeout_ms == 0 {
            server.events.try_recv().ok()
        } else {
            server
                .events
                .recv_timeout(Duration::from_millis(timeout_ms as u64))
                .ok()
        };
        match event {
            Some(event) => {
                let storage = convert(&event);
                // SAFETY: out is writable per the contract.
                unsafe { *out = storage.view };
                *server.polled.lock() = Some(storage);
                RtmpResult::Ok
            }
            None => RtmpResult::Timeout,
        }
    })
}

/// Called with each event on the library's dispatcher thread. `event` and everything it
/// points to are borrowed until the callback returns.
pub type RtmpEventCallback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, event: *const RtmpEvent)>;

/// Delivers every event to `callback(userdata, event)` on a dispatcher thread the library
/// owns, from now on (polling is then refused). `userdata` is passed as is and used from
/// that thread. Inside the callback every function may be called except `rtmp_server_free`
/// and `rtmp_server_poll` of this server (refused with RTMP_RESULT_INVALID_STATE). A
/// NULL callback, or a second call, fails (NULL_PARAMETER, INVALID_STATE).
///
/// # Safety
/// `server` must be a live server; `callback` must be safe to call from another thread
/// with `userdata` until the server is freed.
#[no_mangle]
pub unsafe extern "C" fn rtmp_server_set_callback(
    server: *const RtmpServer,
    callback: RtmpEventCallback,
    userdata: *mut c_void,
) -> RtmpResult {
    boundary(|| {
        let server = handle!(server);
        let Some(callback) = callback else {
            return fail_with(RtmpResult::NullParameter, "callback is NULL");
        };
        let owner = server as *const RtmpServer as usize;
        let userdata = UserData(userdata);
        let mut rust_server = server.server.lock();
        if server.dispatching.swap(true, Ordering::AcqRel) {
            return fail_with(RtmpResult::InvalidState, "a callback is already set");
        }
        let result = rust_server.dispatch(move |_: &ServerHandle, event| {
            become_dispatcher_of(owner as *const RtmpServer);
            let userdata = &userdata;
            let storage = convert(&event);
            // SAFETY: the application registered this callback for exactly this use.
            unsafe { callback(userdata.0, &storage.view) };
        });
        match result {
            Ok(()) => RtmpResult::Ok,
            Err(e) => {
                server.dispatching.store(false, Ordering::Release);
                fail(&e)
            }
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
        let server = handle!(server);
        if decision == 0 {
            return fail_with(RtmpResult::InvalidArgument, "decision 0 means none is owed");
        }
        server
            .handle
            .accept(Decision::from_parts(ConnectionId(conn), decision));
        RtmpResult::Ok
    })
}

/// Rejects a decision with a status `code` (NULL: the usual one, e.g.
/// NetStream.Publish.BadName) and a `description` the client sees. Thread-safe; may be
/// called from a callback.
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
        let server = handle!(server);
        if decision == 0 {
            return fail_with(RtmpResult::InvalidArgument, "decision 0 means none is owed");
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
        server.handle.reject(
            Decision::from_parts(ConnectionId(conn), decision),
            rejection,
        );
        RtmpResult::Ok
    })
}

/// Starts (`on` true) or stops delivering `app`/`stream`'s frames as Frame events.
/// Thread-safe; may be called from a callback.
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
        let server = handle!(server);
        // SAFETY: strings are valid per the contract.
        let (app, stream) = match unsafe { (str_arg(app, "app"), str_arg(stream, "stream")) } {
            (Ok(a), Ok(s)) => (a, s),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        server.handle.tap(app, stream, on);
        RtmpResult::Ok
    })
}

//! Publishing and playing clients over the C ABI: options, start, frames and metadata
//! out, notices in (by poll or by callback), statistics, close and free.

use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use parking_lot::{Mutex, RwLock};

use super::callback::{become_dispatcher_of, is_dispatcher_of, UserData};
use super::frame::frame_arg;
use super::lent::{Lent, Parts};
use super::media::ClientPackagers;
use super::{
    boundary, fail, fail_with, handle, out_param, str_arg, RtmpClientOptions, RtmpFrame,
    RtmpMediaKind, RtmpMetadata, RtmpResult,
};
use crate::client::{Client, ClientNotice, ClientOptions, ClientStats};
use crate::hub::Frame;

/// A publishing or playing client, made by `rtmp_client_publish` / `rtmp_client_play`
/// and released by `rtmp_client_free`. Every function taking a client is thread-safe
/// unless its comment says otherwise: an encoder thread may write while another polls.
pub struct RtmpClient {
    /// `None` once closed.
    client: RwLock<Option<Client>>,
    notices: Receiver<ClientNotice>,
    /// Counters as they were at close.
    final_stats: Mutex<Option<ClientStats>>,
    polled: Mutex<Option<Lent<RtmpClientNotice>>>,
    dispatching: AtomicBool,
    dispatcher: Mutex<Option<JoinHandle<()>>>,
    pub(crate) packagers: Mutex<ClientPackagers>,
}

impl RtmpClient {
    /// Closes the client if it is open, keeping its last counters for stats. The lock is
    /// released before closing, so callbacks asking for stats meanwhile are not blocked.
    fn close_now(&self) {
        let taken = self.client.write().take();
        if let Some(mut c) = taken {
            *self.final_stats.lock() = Some(c.stats());
            c.close_in_place();
            *self.final_stats.lock() = Some(c.stats());
        }
    }

    /// Runs `body` with the open client, or fails with CLOSED.
    pub(crate) fn with_client(&self, body: impl FnOnce(&Client) -> RtmpResult) -> RtmpResult {
        match self.client.read().as_ref() {
            Some(client) => body(client),
            None => fail_with(RtmpResult::Closed, "the client is closed"),
        }
    }

    /// Queues one frame.
    pub(crate) fn send(&self, frame: Frame) -> RtmpResult {
        self.with_client(|c| match c.send(frame) {
            Ok(()) => RtmpResult::Ok,
            Err(e) => fail(&e),
        })
    }
}

/// What a client notice is about.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtmpClientNoticeType {
    /// Connected to the application.
    Connected = 1,
    /// The server accepted the publish: frames flow.
    PublishStarted = 2,
    /// The server accepted the play: frames arrive.
    PlayStarted = 3,
    /// An onStatus from the server (`code`, `level`, `text`).
    Status = 4,
    /// A frame while playing (`media`, `timestamp`, flags, `data`/`len`, `frame`).
    Frame = 5,
    /// Metadata while playing (`metadata`).
    Metadata = 6,
    /// The played stream's publisher stopped; the server may resume it.
    StreamEnd = 7,
    /// The connection was lost; attempt `attempt` follows after `retry_after_ms` (`text`
    /// says why).
    Reconnecting = 8,
    /// The client stopped for good (`text` says why); no notice follows.
    Disconnected = 9,
}

/// One client notice. Pointers are borrowed: valid until the callback returns, or until
/// the next `rtmp_client_poll` on the same client. Strings are never NULL ("" when not
/// applicable); `data`, `frame` and `metadata` are NULL unless the type says otherwise.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RtmpClientNotice {
    pub notice_type: RtmpClientNoticeType,
    /// Status: the onStatus code, e.g. "NetStream.Play.Reset".
    pub code: *const c_char,
    /// Status: "status", "warning" or "error".
    pub level: *const c_char,
    /// Status description, or why the client reconnects or stopped.
    pub text: *const c_char,
    /// Reconnecting: the attempt number, from 1.
    pub attempt: u32,
    /// Reconnecting: milliseconds until the attempt.
    pub retry_after_ms: u32,
    pub media: RtmpMediaKind,
    /// Milliseconds.
    pub timestamp: u32,
    pub keyframe: bool,
    pub sequence_header: bool,
    /// The frame's FLV tag body.
    pub data: *const u8,
    pub len: usize,
    /// The frame, for `rtmp_frame_retain`.
    pub frame: *const RtmpFrame,
    pub metadata: *const RtmpMetadata,
}

fn convert(notice: &ClientNotice) -> Lent<RtmpClientNotice> {
    use RtmpClientNoticeType as T;
    let mut frame = None;
    let mut metadata = None;
    let (mut attempt, mut retry_after_ms) = (0, 0);
    let (notice_type, code, level, text) = match notice {
        ClientNotice::Connected => (T::Connected, "", "", String::new()),
        ClientNotice::PublishStarted => (T::PublishStarted, "", "", String::new()),
        ClientNotice::PlayStarted => (T::PlayStarted, "", "", String::new()),
        ClientNotice::Status(status) => (
            T::Status,
            status.code.as_str(),
            status.level.as_str(),
            status.description.clone(),
        ),
        ClientNotice::Frame(f) => {
            frame = Some(f);
            (T::Frame, "", "", String::new())
        }
        ClientNotice::Metadata(value) => {
            metadata = Some(value);
            (T::Metadata, "", "", String::new())
        }
        ClientNotice::StreamEnd => (T::StreamEnd, "", "", String::new()),
        ClientNotice::Reconnecting {
            attempt: n,
            after,
            reason,
        } => {
            attempt = *n;
            retry_after_ms = after.as_millis().min(u32::MAX as u128) as u32;
            (T::Reconnecting, "", "", reason.clone())
        }
        ClientNotice::Disconnected { reason } => (T::Disconnected, "", "", reason.clone()),
    };
    let parts = Parts::new([code, level, &text], frame, metadata);
    let media = parts.media();
    let notice = RtmpClientNotice {
        notice_type,
        code: parts.string(0),
        level: parts.string(1),
        text: parts.string(2),
        attempt,
        retry_after_ms,
        media: media.media,
        timestamp: media.timestamp,
        keyframe: media.keyframe,
        sequence_header: media.sequence_header,
        data: media.data,
        len: media.len,
        frame: media.frame,
        metadata: media.metadata,
    };
    parts.lend(notice)
}

/// Starts a client: `publish` true to publish, false to play.
///
/// # Safety
/// As for `rtmp_client_publish`.
unsafe fn start(
    url: *const c_char,
    options: *const RtmpClientOptions,
    out: *mut *mut RtmpClient,
    publish: bool,
) -> RtmpResult {
    let out = out_param!(out);
    // SAFETY: per the contract.
    let url = match unsafe { str_arg(url, "url") } {
        Ok(u) => u,
        Err(code) => return code,
    };
    let options = if options.is_null() {
        ClientOptions::default()
    } else {
        // SAFETY: live options per the contract.
        unsafe { &*options }.options.clone()
    };
    let started = if publish {
        Client::publish(url, options)
    } else {
        Client::play(url, options)
    };
    match started {
        Ok(client) => {
            let handle = Box::new(RtmpClient {
                notices: client.notices().clone(),
                client: RwLock::new(Some(client)),
                final_stats: Mutex::new(None),
                polled: Mutex::new(None),
                dispatching: AtomicBool::new(false),
                dispatcher: Mutex::new(None),
                packagers: Mutex::new(ClientPackagers::default()),
            });
            // SAFETY: out is writable per the contract.
            unsafe { *out = Box::into_raw(handle) };
            RtmpResult::Ok
        }
        Err(e) => fail(&e),
    }
}

/// Connects to `url` (`rtmp://host[:port]/app/stream`) and publishes, on a thread the
/// library owns. Returns at once: frames written before the publish starts wait in the
/// queue; `rtmp_client_wait_started` waits for it. `options` may be NULL (defaults) and
/// stays yours. On success `*out` gets a client to release with `rtmp_client_free`; on
/// error (bad URL: INVALID_ARGUMENT) `*out` is untouched.
///
/// # Safety
/// `url` a NUL-terminated string; `options` NULL or live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_publish(
    url: *const c_char,
    options: *const RtmpClientOptions,
    out: *mut *mut RtmpClient,
) -> RtmpResult {
    // SAFETY: forwarded contract.
    boundary(|| unsafe { start(url, options, out, true) })
}

/// Connects to `url` and plays it; frames and metadata arrive as notices. Otherwise as
/// `rtmp_client_publish`.
///
/// # Safety
/// `url` a NUL-terminated string; `options` NULL or live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_play(
    url: *const c_char,
    options: *const RtmpClientOptions,
    out: *mut *mut RtmpClient,
) -> RtmpResult {
    // SAFETY: forwarded contract.
    boundary(|| unsafe { start(url, options, out, false) })
}

/// Waits up to `timeout_ms` until publishing or playing started: OK, TIMEOUT, PROTOCOL
/// when the server refused (the last error has its reason), CLOSED after
/// `rtmp_client_close`. Blocks the caller; fine in a callback, but it delays the notices
/// behind it.
///
/// # Safety
/// `client` live.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_wait_started(
    client: *const RtmpClient,
    timeout_ms: u32,
) -> RtmpResult {
    boundary(|| {
        let client = handle!(client);
        // Waited in short slices, each under the lock for a moment only, so that
        // rtmp_client_close from another thread ends the wait (CLOSED) within one slice
        // and writes never queue behind a waiting close.
        let deadline = Instant::now() + Duration::from_millis(timeout_ms as u64);
        loop {
            let slice = deadline
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(20));
            let result = client.with_client(|c| match c.wait_started(slice) {
                Ok(()) => RtmpResult::Ok,
                Err(e) => fail(&e),
            });
            if result != RtmpResult::Timeout || Instant::now() >= deadline {
                return result;
            }
        }
    })
}

/// Queues one frame: an FLV audio or video tag body (`data`/`len`, copied) of `kind` (an
/// `rtmp_media_kind`) with its timestamp in milliseconds; keyframe and sequence-header flags are read from the body.
/// Never blocks. Fails with QUEUE_FULL when the queue is over its byte bound, CLOSED
/// after close, INVALID_STATE on a playing client.
///
/// # Safety
/// `client` live; `data` readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_write(
    client: *const RtmpClient,
    kind: i32,
    timestamp: u32,
    data: *const u8,
    len: usize,
) -> RtmpResult {
    boundary(|| {
        let client = handle!(client);
        // SAFETY: per the contract.
        match unsafe { frame_arg(kind, timestamp, data, len) } {
            Ok(frame) => client.send(frame),
            Err(code) => code,
        }
    })
}

/// Queues a frame without copying its bytes (e.g. one a server event lent you, or one
/// from `rtmp_frame_new`). `frame` stays yours. Otherwise as `rtmp_client_write`.
///
/// # Safety
/// `client` live; `frame` a live (borrowed or owned) frame.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_write_frame(
    client: *const RtmpClient,
    frame: *const RtmpFrame,
) -> RtmpResult {
    boundary(|| {
        let client = handle!(client);
        let frame = handle!(frame);
        client.send(frame.frame.clone())
    })
}

/// Queues stream metadata, sent as `@setDataFrame onMetaData` and again after a
/// reconnect. `metadata` stays yours.
///
/// # Safety
/// `client` live; `metadata` live.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_set_metadata(
    client: *const RtmpClient,
    metadata: *const RtmpMetadata,
) -> RtmpResult {
    boundary(|| {
        let client = handle!(client);
        let metadata = handle!(metadata);
        client.with_client(|c| match c.set_metadata(metadata.to_amf()) {
            Ok(()) => RtmpResult::Ok,
            Err(e) => fail(&e),
        })
    })
}

/// Waits up to `timeout_ms` (0: just look) for the next notice and writes it to `*out`;
/// TIMEOUT when none came (`*out` untouched). Its pointers stay valid until the next poll
/// of this client. After DISCONNECTED, polls return CLOSED. Poll from one thread at a
/// time; once a callback is set (and inside it) polling fails with INVALID_STATE.
///
/// # Safety
/// `client` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_poll(
    client: *const RtmpClient,
    timeout_ms: u32,
    out: *mut RtmpClientNotice,
) -> RtmpResult {
    boundary(|| {
        let client = handle!(client);
        let out = out_param!(out);
        if client.dispatching.load(Ordering::Acquire) {
            return fail_with(
                RtmpResult::InvalidState,
                "notices go to the callback: polling is off",
            );
        }
        let received = if timeout_ms == 0 {
            client.notices.try_recv().map_err(|e| e.is_disconnected())
        } else {
            client
                .notices
                .recv_timeout(Duration::from_millis(timeout_ms as u64))
                .map_err(|e| e.is_disconnected())
        };
        match received {
            Ok(notice) => {
                let storage = convert(&notice);
                // SAFETY: out is writable per the contract.
                unsafe { *out = storage.view };
                *client.polled.lock() = Some(storage);
                RtmpResult::Ok
            }
            Err(true) => fail_with(RtmpResult::Closed, "the client stopped"),
            Err(false) => RtmpResult::Timeout,
        }
    })
}

/// Called with each client notice on a dispatcher thread the library owns; `notice` and
/// what it points to are borrowed until the callback returns.
pub type RtmpClientCallback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, notice: *const RtmpClientNotice)>;

/// Delivers every notice to `callback(userdata, notice)` on a dispatcher thread the
/// library owns, from now on (polling is then refused). Inside the callback every
/// function may be called except `rtmp_client_free` and `rtmp_client_poll` of this client
/// (refused with INVALID_STATE); `rtmp_client_close` is fine there. The last call is the
/// DISCONNECTED notice; `rtmp_client_free` waits for it. A NULL callback fails with
/// NULL_PARAMETER, a second call with INVALID_STATE.
///
/// # Safety
/// `client` live; `callback` safe to call from another thread with `userdata` until the
/// client is freed.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_set_callback(
    client: *const RtmpClient,
    callback: RtmpClientCallback,
    userdata: *mut c_void,
) -> RtmpResult {
    boundary(|| {
        let client = handle!(client);
        let Some(callback) = callback else {
            return fail_with(RtmpResult::NullParameter, "callback is NULL");
        };
        let mut dispatcher = client.dispatcher.lock();
        if client.dispatching.swap(true, Ordering::AcqRel) {
            return fail_with(RtmpResult::InvalidState, "a callback is already set");
        }
        let owner = client as *const RtmpClient as usize;
        let userdata = UserData(userdata);
        let notices = client.notices.clone();
        let spawned = std::thread::Builder::new()
            .name("rtmp-client-dispatcher".into())
            .spawn(move || {
                become_dispatcher_of(owner as *const RtmpClient);
                let userdata = userdata;
                for notice in notices.iter() {
                    let call = std::panic::AssertUnwindSafe(|| {
                        let storage = convert(&notice);
                        // SAFETY: the application registered this callback for this use.
                        unsafe { callback(userdata.0, &storage.view) };
                    });
                    if std::panic::catch_unwind(call).is_err() {
                        log::error!("converting a client notice panicked; dispatching goes on");
                    }
                }
            });
        match spawned {
            Ok(thread) => {
                *dispatcher = Some(thread);
                RtmpResult::Ok
            }
            Err(e) => {
                client.dispatching.store(false, Ordering::Release);
                fail(&crate::Error::Io(e))
            }
        }
    })
}

/// Counters of a client.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct RtmpClientStats {
    /// Media duration waiting in the send queue, milliseconds.
    pub queued_ms: u64,
    pub queued_bytes: usize,
    pub bytes_sent: u64,
    pub frames_sent: u64,
    /// Frames the congestion policy dropped.
    pub frames_dropped: u64,
    /// Bits per second sent over the client's life.
    pub bitrate_bps: f64,
    /// Latest round trip measured with a ping in microseconds; 0 when none yet.
    pub rtt_us: u64,
    pub reconnects: u32,
}

impl From<&ClientStats> for RtmpClientStats {
    fn from(s: &ClientStats) -> Self {
        RtmpClientStats {
            queued_ms: s.queued.as_millis() as u64,
            queued_bytes: s.queued_bytes,
            bytes_sent: s.bytes_sent,
            frames_sent: s.frames_sent,
            frames_dropped: s.frames_dropped,
            bitrate_bps: s.bitrate_bps,
            rtt_us: s.rtt.map_or(0, |r| r.as_micros() as u64),
            reconnects: s.reconnects,
        }
    }
}

/// Writes the client's counters to `*out` (after close: as they were at close). On error
/// `*out` is untouched.
///
/// # Safety
/// `client` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_get_stats(
    client: *const RtmpClient,
    out: *mut RtmpClientStats,
) -> RtmpResult {
    boundary(|| {
        let client = handle!(client);
        let out = out_param!(out);
        let stats = match client.client.read().as_ref() {
            Some(c) => c.stats(),
            None => client.final_stats.lock().clone().unwrap_or_default(),
        };
        // SAFETY: out is writable per the contract.
        unsafe { *out = (&stats).into() };
        RtmpResult::Ok
    })
}

/// Sends what is queued (up to 5 s), unpublishes and disconnects, then returns. The
/// handle stays valid for stats and for the last notices (DISCONNECTED); writes then
/// fail with CLOSED. Closing twice is fine. Allowed inside the client's own callback.
///
/// # Safety
/// `client` live.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_close(client: *const RtmpClient) -> RtmpResult {
    boundary(|| {
        handle!(client).close_now();
        RtmpResult::Ok
    })
}

/// Closes the client (as `rtmp_client_close`), waits for its callback to see the last
/// notice, and releases it. NULL is ignored. Inside the client's own callback it would
/// wait for itself: there it does nothing and sets the last error (INVALID_STATE); close
/// it there and free it elsewhere.
///
/// # Safety
/// `client` NULL or from `rtmp_client_publish`/`rtmp_client_play`, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn rtmp_client_free(client: *mut RtmpClient) {
    let _ = boundary(|| {
        if client.is_null() {
            return RtmpResult::Ok;
        }
        if is_dispatcher_of(client) {
            return fail_with(
                RtmpResult::InvalidState,
                "rtmp_client_free from inside the client's own callback",
            );
        }
        // Close through a shared borrow first: the dispatcher thread may still be in a
        // callback that calls in with this pointer (stats on the last notice). The Box is
        // reclaimed only once that thread is joined.
        // SAFETY: per the contract the pointer is live; only shared access until the join.
        let shared = unsafe { &*client };
        shared.close_now();
        let dispatcher = shared.dispatcher.lock().take();
        if let Some(thread) = dispatcher {
            let _ = thread.join();
        }
        // SAFETY: per the contract, a Box we handed out; no other thread uses it now.
        drop(unsafe { Box::from_raw(client) });
        RtmpResult::Ok
    });
}

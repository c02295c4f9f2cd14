//! The C ABI driven from Rust exactly as C drives it: raw pointers, extern "C" callbacks,
//! out-parameters; a real server and real clients over loopback TCP.

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

fn last_error() -> String {
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

fn start_server(manual: bool, tap_all: bool) -> (*mut RtmpServer, String) {
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

#[test]
fn a_client_publishes_through_packagers_and_the_server_sees_it_all() {
    let (server, addr) = start_server(false, true);
    let options = rtmp_client_options_new();
    let mut client = null_mut();
    let flash = CString::new("test/1.0").unwrap();
    // SAFETY: live handles, valid strings, writable out-parameters throughout.
    unsafe {
        assert_eq!(
            rtmp_client_options_flash_ver(options, flash.as_ptr()),
            RtmpResult::Ok
        );
        assert_eq!(
            rtmp_client_options_congestion(options, 900, 700, 1 << 20),
            RtmpResult::InvalidArgument
        );
        assert_eq!(
            rtmp_client_options_reconnect(options, true, 3, 100, 1000),
            RtmpResult::Ok
        );
        let bad = CString::new("http://nowhere/x/y").unwrap();
        assert_eq!(
            rtmp_client_publish(bad.as_ptr(), options, &mut client),
            RtmpResult::InvalidArgument
        );
        assert!(client.is_null(), "out-parameters stay untouched on error");
        let url = url(&addr, "packaged");
        assert_eq!(
            rtmp_client_publish(url.as_ptr(), options, &mut client),
            RtmpResult::Ok
        );
        rtmp_client_options_free(options);
        assert_eq!(rtmp_client_wait_started(client, 5000), RtmpResult::Ok);

        let metadata = rtmp_metadata_new();
        let key = CString::new("width").unwrap();
        rtmp_metadata_set_number(metadata, key.as_ptr(), 160.0);
        let enc = CString::new("encoder").unwrap();
        rtmp_metadata_set_string(metadata, enc.as_ptr(), flash.as_ptr());
        assert_eq!(rtmp_client_set_metadata(client, metadata), RtmpResult::Ok);
        rtmp_metadata_free(metadata);

        let key_frame = annexb(&[SPS, PPS, IDR]);
        let inter = annexb(&[P_SLICE]);
        assert_eq!(
            rtmp_client_write_h264(client, inter.as_ptr(), inter.len(), 0, 0),
            RtmpResult::InvalidArgument,
            "a frame before any SPS/PPS"
        );
        for i in 0..10i64 {
            let au = if i % 5 == 0 { &key_frame } else { &inter };
            assert_eq!(
                rtmp_client_write_h264(client, au.as_ptr(), au.len(), i * 40 + 40, i * 40),
                RtmpResult::Ok,
                "{}",
                last_error()
            );
            let aac = adts(&[0x21, 0x10]);
            assert_eq!(
                rtmp_client_write_aac_adts(client, aac.as_ptr(), aac.len(), i * 40 + 20),
                RtmpResult::Ok
            );
        }
        assert_eq!(
            rtmp_client_write(client, RtmpMediaKind::None as i32, 0, [1u8].as_ptr(), 1),
            RtmpResult::InvalidArgument
        );
    }

    let mut kept: *mut RtmpFrame = null_mut();
    let mut metadata_width = 0.0;
    let seen = poll_until(server, |event, s| {
        if s.kind == RtmpEventType::Metadata {
            let key = CString::new("width").unwrap();
            // SAFETY: the event's metadata is borrowed until the next poll.
            unsafe { rtmp_metadata_get_number(event.metadata, key.as_ptr(), &mut metadata_width) };
        }
        if s.kind == RtmpEventType::Frame && kept.is_null() {
            assert!(!event.frame.is_null() && !event.data.is_null());
            // SAFETY: a borrowed frame, retained past the poll.
            unsafe { rtmp_frame_retain(event.frame, &mut kept) };
        }
        s.kind == RtmpEventType::Frame
            && s.media == RtmpMediaKind::Audio
            && event.timestamp == 9 * 40 + 20
    });
    assert_eq!(metadata_width, 160.0);
    let frames = |media| {
        seen.iter()
            .filter(|s| s.kind == RtmpEventType::Frame && s.media == media && !s.sequence_header)
            .count()
    };
    assert_eq!(
        (frames(RtmpMediaKind::Video), frames(RtmpMediaKind::Audio)),
        (10, 10)
    );
    assert!(seen
        .iter()
        .any(|s| s.kind == RtmpEventType::Publish && s.stream == "packaged"));

    // The retained frame outlives later polls: it is the AVC sequence header.
    let mut info = std::mem::MaybeUninit::<RtmpFrameInfo>::uninit();
    // SAFETY: an owned frame and a writable info.
    let info = unsafe {
        assert_eq!(rtmp_frame_get_info(kept, info.as_mut_ptr()), RtmpResult::Ok);
        info.assume_init()
    };
    assert!(info.sequence_header && info.media == RtmpMediaKind::Video);
    // SAFETY: data/len describe the frame's body while it lives.
    let body = unsafe { std::slice::from_raw_parts(info.data, info.len) };
    assert_eq!(&body[..2], [0x17, 0x00]);

    let mut streams = 0;
    let mut stats = std::mem::MaybeUninit::<RtmpClientStats>::uninit();
    // SAFETY: live handles, writable out-parameters.
    unsafe {
        assert_eq!(
            rtmp_server_stream_stats(server, None, null_mut(), &mut streams),
            RtmpResult::Ok
        );
        assert_eq!(
            rtmp_client_get_stats(client, stats.as_mut_ptr()),
            RtmpResult::Ok
        );
        assert!(stats.assume_init().frames_sent >= 20);
        assert_eq!(rtmp_client_close(client), RtmpResult::Ok);
        assert_eq!(
            rtmp_client_write(
                client,
                RtmpMediaKind::Audio as i32,
                0,
                [0xAF, 1].as_ptr(),
                2
            ),
            RtmpResult::Closed
        );
        rtmp_client_free(client);
    }
    assert_eq!(streams, 1);
    poll_until(server, |_, s| s.kind == RtmpEventType::Unpublish);
    // SAFETY: owned handles, each freed once.
    unsafe {
        rtmp_server_free(server);
        rtmp_frame_free(kept);
    }
}

#[test]
fn a_client_plays_what_a_local_publisher_sends() {
    let (server, addr) = start_server(false, false);
    let mut publisher = null_mut();
    let mut client = null_mut();
    let (app, stream) = (
        CString::new("live").unwrap(),
        CString::new("local").unwrap(),
    );
    let mut packager = null_mut();
    // SAFETY: live handles, valid strings, writable out-parameters throughout.
    unsafe {
        assert_eq!(
            rtmp_server_publisher_new(server, app.as_ptr(), stream.as_ptr(), &mut publisher),
            RtmpResult::Ok
        );
        let mut second = null_mut();
        assert_eq!(
            rtmp_server_publisher_new(server, app.as_ptr(), stream.as_ptr(), &mut second),
            RtmpResult::InvalidState
        );
        let url = url(&addr, "local");
        assert_eq!(
            rtmp_client_play(url.as_ptr(), null(), &mut client),
            RtmpResult::Ok
        );
        assert_eq!(rtmp_client_wait_started(client, 5000), RtmpResult::Ok);
        assert_eq!(
            rtmp_packager_new(
                RtmpCodec::H264 as i32,
                RtmpTagFormat::Legacy as i32,
                &mut packager
            ),
            RtmpResult::Ok
        );
        for i in 0..5i64 {
            let au = annexb(if i == 0 { &[SPS, PPS, IDR] } else { &[P_SLICE] });
            let mut packets: *const RtmpPacket = null();
            let mut count = 0;
            assert_eq!(
                rtmp_packager_push(
                    packager,
                    au.as_ptr(),
                    au.len(),
                    i * 40,
                    i * 40,
                    &mut packets,
                    &mut count
                ),
                RtmpResult::Ok
            );
            assert_eq!(count, if i == 0 { 2 } else { 1 });
            for p in std::slice::from_raw_parts(packets, count) {
                assert_eq!(
                    rtmp_publisher_write_frame(publisher, p.frame),
                    RtmpResult::Ok
                );
            }
        }
    }
    let mut frames = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while frames < 6 {
        assert!(Instant::now() < deadline, "got {frames} frames");
        let mut notice = std::mem::MaybeUninit::<RtmpClientNotice>::uninit();
        // SAFETY: a live client, a writable notice.
        if unsafe { rtmp_client_poll(client, 100, notice.as_mut_ptr()) } == RtmpResult::Ok {
            // SAFETY: written on OK.
            let notice = unsafe { notice.assume_init() };
            if notice.notice_type == RtmpClientNoticeType::Frame {
                assert_eq!(notice.media, RtmpMediaKind::Video);
                frames += 1;
            }
        }
    }
    let mut connections = 0;
    // SAFETY: owned handles, each freed once; the publisher after its server.
    unsafe {
        rtmp_server_connection_stats(server, None, null_mut(), &mut connections);
        rtmp_client_free(client);
        rtmp_packager_free(packager);
        rtmp_server_free(server);
        rtmp_publisher_free(publisher);
    }
    assert_eq!(connections, 1);
}

/// What the re-entrancy callbacks record.
#[derive(Default)]
struct Reentry {
    server: usize,
    results: Mutex<Vec<(&'static str, RtmpResult, String)>>,
}

impl Reentry {
    fn record(&self, what: &'static str, result: RtmpResult) {
        self.results
            .lock()
            .unwrap()
            .push((what, result, last_error()));
    }

    fn result(&self, what: &str) -> Option<(RtmpResult, String)> {
        let results = self.results.lock().unwrap();
        results
            .iter()
            .find(|r| r.0 == what)
            .map(|r| (r.1, r.2.clone()))
    }
}

unsafe extern "C" fn server_reentry(userdata: *mut c_void, event: *const RtmpEvent) {
    // SAFETY: the test passes a Reentry that outlives the server.
    let state = unsafe { &*(userdata as *const Reentry) };
    let server = state.server as *mut RtmpServer;
    // SAFETY: the event is borrowed for the call; the server is live.
    unsafe {
        let event = &*event;
        if event.decision != 0 && event.event_type == RtmpEventType::Play {
            let why = CString::new("no players here").unwrap();
            state.record(
                "reject",
                rtmp_server_reject(server, event.conn, event.decision, null(), why.as_ptr()),
            );
        } else if event.decision != 0 {
            state.record(
                "accept",
                rtmp_server_accept(server, event.conn, event.decision),
            );
        }
        if event.event_type == RtmpEventType::Publish {
            state.record(
                "tap",
                rtmp_server_tap(server, event.app, event.stream, true),
            );
            let mut ev = std::mem::MaybeUninit::uninit();
            state.record("poll", rtmp_server_poll(server, 0, ev.as_mut_ptr()));
            rtmp_server_free(server);
            state.record("free", RtmpResult::InvalidState);
            let mut publisher = null_mut();
            let other = CString::new("from-callback").unwrap();
            state.record(
                "publisher",
                rtmp_server_publisher_new(server, event.app, other.as_ptr(), &mut publisher),
            );
            rtmp_publisher_free(publisher);
        }
    }
}

#[test]
fn server_callbacks_may_decide_tap_and_publish_but_not_poll_or_free() {
    let (server, addr) = start_server(true, false);
    let state = Box::new(Reentry {
        server: server as usize,
        ..Default::default()
    });
    let userdata = &*state as *const Reentry as *mut c_void;
    let mut client = null_mut();
    // SAFETY: live handles; state outlives the server.
    unsafe {
        assert_eq!(
            rtmp_server_set_callback(server, Some(server_reentry), userdata),
            RtmpResult::Ok
        );
        assert_eq!(
            rtmp_server_set_callback(server, Some(server_reentry), userdata),
            RtmpResult::InvalidState
        );
        let mut event = std::mem::MaybeUninit::uninit();
        assert_eq!(
            rtmp_server_poll(server, 0, event.as_mut_ptr()),
            RtmpResult::InvalidState
        );
        let url = url(&addr, "decided");
        assert_eq!(
            rtmp_client_publish(url.as_ptr(), null(), &mut client),
            RtmpResult::Ok
        );
        assert_eq!(
            rtmp_client_wait_started(client, 5000),
            RtmpResult::Ok,
            "{}",
            last_error()
        );
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while state.result("publisher").is_none() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(state.result("accept").unwrap().0, RtmpResult::Ok);
    assert_eq!(state.result("tap").unwrap().0, RtmpResult::Ok);
    assert_eq!(state.result("poll").unwrap().0, RtmpResult::InvalidState);
    let (_, message) = state.result("free").unwrap();
    assert!(message.contains("own callback"), "{message}");
    assert_eq!(state.result("publisher").unwrap().0, RtmpResult::Ok);
    let mut player = null_mut();
    // SAFETY: live handles, valid strings.
    unsafe {
        let url = url(&addr, "decided");
        assert_eq!(
            rtmp_client_play(url.as_ptr(), null(), &mut player),
            RtmpResult::Ok
        );
        assert_eq!(rtmp_client_wait_started(player, 5000), RtmpResult::Protocol);
        assert!(last_error().contains("no players here"), "{}", last_error());
        rtmp_client_free(player);
    }
    // The callback records after the call returns, which may be after the client heard.
    let deadline = Instant::now() + Duration::from_secs(5);
    while state.result("reject").is_none() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(state.result("reject").unwrap().0, RtmpResult::Ok);
    // SAFETY: owned handles freed once, outside any callback.
    unsafe {
        rtmp_client_free(client);
        rtmp_server_free(server);
    }
}

/// What the client re-entrancy callback records, and the client it acts on.
#[derive(Default)]
struct ClientReentry {
    client: AtomicUsize,
    results: Mutex<Vec<(&'static str, RtmpResult, String)>>,
    disconnected: AtomicUsize,
}

unsafe extern "C" fn client_reentry(userdata: *mut c_void, notice: *const RtmpClientNotice) {
    // SAFETY: the test passes a ClientReentry that outlives the client.
    let state = unsafe { &*(userdata as *const ClientReentry) };
    let client = state.client.load(Ordering::Acquire) as *mut RtmpClient;
    let record = |what, result| {
        state
            .results
            .lock()
            .unwrap()
            .push((what, result, last_error()))
    };
    // SAFETY: the notice is borrowed for the call; the client is live until freed by the
    // test, which waits for the Disconnected notice first.
    unsafe {
        match (*notice).notice_type {
            RtmpClientNoticeType::PublishStarted => {
                let mut n = std::mem::MaybeUninit::uninit();
                record("poll", rtmp_client_poll(client, 0, n.as_mut_ptr()));
                rtmp_client_free(client);
                record("free", RtmpResult::InvalidState);
                record(
                    "write",
                    rtmp_client_write(
                        client,
                        RtmpMediaKind::Audio as i32,
                        0,
                        [0xAF, 1, 0].as_ptr(),
                        3,
                    ),
                );
                record("close", rtmp_client_close(client));
            }
            RtmpClientNoticeType::Disconnected => {
                state.disconnected.fetch_add(1, Ordering::AcqRel);
            }
            _ => {}
        }
    }
}

#[test]
fn client_callbacks_may_write_and_close_but_not_poll_or_free() {
    let (server, addr) = start_server(false, false);
    let state = Box::new(ClientReentry::default());
    let userdata = &*state as *const ClientReentry as *mut c_void;
    let mut client = null_mut();
    let url = url(&addr, "self");
    // SAFETY: live handles; state outlives the client.
    unsafe {
        assert_eq!(
            rtmp_client_publish(url.as_ptr(), null(), &mut client),
            RtmpResult::Ok
        );
        state.client.store(client as usize, Ordering::Release);
        assert_eq!(
            rtmp_client_set_callback(client, Some(client_reentry), userdata),
            RtmpResult::Ok
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while state.disconnected.load(Ordering::Acquire) == 0 {
        assert!(
            Instant::now() < deadline,
            "{:?}",
            state.results.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let results = state.results.lock().unwrap().clone();
    let get = |w: &str| results.iter().find(|r| r.0 == w).cloned().unwrap();
    assert_eq!(get("poll").1, RtmpResult::InvalidState);
    assert!(get("free").2.contains("own callback"), "{results:?}");
    assert_eq!(get("write").1, RtmpResult::Ok);
    assert_eq!(get("close").1, RtmpResult::Ok);
    // SAFETY: owned handles freed once, outside any callback.
    unsafe {
        assert_eq!(
            rtmp_client_close(client),
            RtmpResult::Ok,
            "closing twice is fine"
        );
        rtmp_client_free(client);
        rtmp_server_free(server);
    }
    assert_eq!(state.disconnected.load(Ordering::Acquire), 1);
}

static LOGGED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn count_log(
    userdata: *mut c_void,
    level: RtmpLogLevel,
    target: *const c_char,
    message: *const c_char,
) {
    assert_eq!(userdata as usize, 0x1234);
    assert!(level != RtmpLogLevel::Off);
    // SAFETY: both strings are borrowed for the call.
    let (target, _) = unsafe { (CStr::from_ptr(target), CStr::from_ptr(message)) };
    if target.to_bytes().starts_with(b"rtmp_core::ffi::tests") {
        LOGGED.fetch_add(1, Ordering::AcqRel);
    }
}

#[test]
fn log_records_reach_the_c_callback_until_it_is_removed() {
    // SAFETY: count_log is thread-safe and ignores userdata beyond comparing it.
    unsafe {
        assert_eq!(
            rtmp_set_log_callback(
                RtmpLogLevel::Info as i32,
                Some(count_log),
                0x1234 as *mut c_void
            ),
            RtmpResult::Ok
        );
        // Replacing keeps exactly one C sink.
        assert_eq!(
            rtmp_set_log_callback(
                RtmpLogLevel::Info as i32,
                Some(count_log),
                0x1234 as *mut c_void
            ),
            RtmpResult::Ok
        );
    }
    log::debug!("below the level");
    log::warn!("counted once");
    assert_eq!(LOGGED.load(Ordering::Acquire), 1);
    // SAFETY: removing needs no callback.
    unsafe { rtmp_set_log_callback(RtmpLogLevel::Info as i32, None, null_mut()) };
    log::warn!("after removal");
    assert_eq!(LOGGED.load(Ordering::Acquire), 1);
}

#[test]
fn packagers_emit_headers_then_frames_and_refuse_what_they_cannot_package() {
    let mut packager = null_mut();
    let mut packets: *const RtmpPacket = null();
    let mut count = 0;
    // SAFETY: live handles and writable out-parameters throughout.
    unsafe {
        assert_eq!(
            rtmp_packager_new(
                RtmpCodec::Av1 as i32,
                RtmpTagFormat::Legacy as i32,
                &mut packager
            ),
            RtmpResult::InvalidArgument
        );
        assert!(packager.is_null());
        assert_eq!(
            rtmp_packager_new(
                RtmpCodec::H264 as i32,
                RtmpTagFormat::Legacy as i32,
                &mut packager
            ),
            RtmpResult::Ok
        );
        let au = annexb(&[SPS, PPS, IDR]);
        assert_eq!(
            rtmp_packager_push(
                packager,
                au.as_ptr(),
                au.len(),
                0,
                -40,
                &mut packets,
                &mut count
            ),
            RtmpResult::InvalidArgument
        );
        assert!(last_error().contains("dts -40"), "{}", last_error());
        assert_eq!(
            rtmp_packager_push(
                packager,
                au.as_ptr(),
                au.len(),
                80,
                40,
                &mut packets,
                &mut count
            ),
            RtmpResult::Ok
        );
        let out = std::slice::from_raw_parts(packets, count);
        assert_eq!(out.len(), 2);
        assert!(out[0].sequence_header && out[1].keyframe);
        assert_eq!((out[1].timestamp, out[1].composition_time), (40, 40));
        let body = std::slice::from_raw_parts(out[1].data, out[1].len);
        assert_eq!(&body[..5], [0x17, 0x01, 0, 0, 40]);
        // Configuration only: nothing to send.
        let sets = annexb(&[SPS, PPS]);
        rtmp_packager_push(
            packager,
            sets.as_ptr(),
            sets.len(),
            80,
            80,
            &mut packets,
            &mut count,
        );
        assert_eq!(count, 0);
        rtmp_packager_free(packager);

        let mut aac = null_mut();
        assert_eq!(
            rtmp_packager_new(
                RtmpCodec::AacAdts as i32,
                RtmpTagFormat::Legacy as i32,
                &mut aac
            ),
            RtmpResult::Ok
        );
        let mut two = adts(&[0x21, 0x10]);
        two.extend(adts(&[0x21, 0x11]));
        assert_eq!(
            rtmp_packager_push(
                aac,
                two.as_ptr(),
                two.len(),
                1000,
                1000,
                &mut packets,
                &mut count
            ),
            RtmpResult::Ok
        );
        let out = std::slice::from_raw_parts(packets, count);
        let times: Vec<_> = out
            .iter()
            .map(|p| (p.sequence_header, p.timestamp))
            .collect();
        assert_eq!(times, [(true, 1000), (false, 1000), (false, 1023)]);
        let header = std::slice::from_raw_parts(out[0].data, out[0].len);
        assert_eq!(header, [0xAF, 0x00, 0x12, 0x10]);
        rtmp_packager_free(aac);

        let mut raw = null_mut();
        rtmp_packager_new(
            RtmpCodec::AacRaw as i32,
            RtmpTagFormat::Enhanced as i32,
            &mut raw,
        );
        assert_eq!(
            rtmp_packager_push(raw, [0x21].as_ptr(), 1, 0, 0, &mut packets, &mut count),
            RtmpResult::InvalidArgument,
            "raw AAC needs a config first"
        );
        assert_eq!(
            rtmp_packager_set_config(raw, [0x12, 0x10].as_ptr(), 2),
            RtmpResult::Ok
        );
        assert_eq!(
            rtmp_packager_push(raw, [0x21].as_ptr(), 1, 0, 0, &mut packets, &mut count),
            RtmpResult::Ok
        );
        assert_eq!(count, 2);
        rtmp_packager_free(raw);

        let mut opus = null_mut();
        assert_eq!(
            rtmp_packager_new_opus(2, 312, 48000, &mut opus),
            RtmpResult::Ok
        );
        rtmp_packager_push(
            opus,
            [0xFC, 0xFF, 0xFE].as_ptr(),
            3,
            20,
            20,
            &mut packets,
            &mut count,
        );
        let out = std::slice::from_raw_parts(packets, count);
        assert_eq!(
            std::slice::from_raw_parts(out[1].data, out[1].len),
            b"\x91Opus\xfc\xff\xfe"
        );
        rtmp_packager_free(opus);
    }
}

#[test]
fn metadata_round_trips_through_an_flv_script_body() {
    use crate::protocol::amf0::Amf0Value;
    use crate::protocol::command::DataMessage;
    let body = DataMessage::on_metadata(Amf0Value::EcmaArray(vec![
        ("duration".into(), Amf0Value::Number(6.0)),
        ("encoder".into(), Amf0Value::String("Lavf59".into())),
    ]))
    .encode();
    let mut metadata = null_mut();
    let mut duration = 0.0;
    let mut buf = [0 as c_char; 4];
    let mut needed = 0;
    let (duration_key, encoder_key) = (
        CString::new("duration").unwrap(),
        CString::new("encoder").unwrap(),
    );
    // SAFETY: live handles and writable out-parameters throughout.
    unsafe {
        assert_eq!(
            rtmp_metadata_from_flv_body(b"\x02\x00\x01x".as_ptr(), 4, &mut metadata),
            RtmpResult::InvalidArgument
        );
        assert_eq!(
            rtmp_metadata_from_flv_body(body.as_ptr(), body.len(), &mut metadata),
            RtmpResult::Ok
        );
        assert_eq!(rtmp_metadata_count(metadata), 2);
        rtmp_metadata_get_number(metadata, duration_key.as_ptr(), &mut duration);
        assert_eq!(
            rtmp_metadata_get_string(
                metadata,
                encoder_key.as_ptr(),
                buf.as_mut_ptr(),
                4,
                &mut needed
            ),
            RtmpResult::BufferTooSmall
        );
        assert_eq!(needed, 7);
        let mut big = [0 as c_char; 8];
        assert_eq!(
            rtmp_metadata_get_string(
                metadata,
                encoder_key.as_ptr(),
                big.as_mut_ptr(),
                7,
                null_mut()
            ),
            RtmpResult::Ok
        );
        assert_eq!(text(big.as_ptr()), "Lavf59");
        assert_eq!(
            rtmp_metadata_key(metadata, 1, big.as_mut_ptr(), 8, null_mut()),
            RtmpResult::Ok
        );
        assert_eq!(text(big.as_ptr()), "encoder");
        assert_eq!(
            rtmp_metadata_get_number(metadata, encoder_key.as_ptr(), &mut duration),
            RtmpResult::InvalidArgument
        );
        rtmp_metadata_free(metadata);
    }
    assert_eq!(duration, 6.0);
}

#[test]
fn enum_arguments_outside_their_values_are_refused_not_trusted() {
    let options = rtmp_client_options_new();
    let mut packager = null_mut();
    let mut frame = null_mut();
    // SAFETY: live handles and writable out-parameters; the odd values are the point.
    unsafe {
        assert_eq!(
            rtmp_client_options_publish_type(options, 7),
            RtmpResult::InvalidArgument
        );
        assert_eq!(
            rtmp_client_options_handshake(options, -1),
            RtmpResult::InvalidArgument
        );
        rtmp_client_options_free(options);
        assert_eq!(
            rtmp_packager_new(99, RtmpTagFormat::Legacy as i32, &mut packager),
            RtmpResult::InvalidArgument
        );
        assert_eq!(
            rtmp_packager_new(RtmpCodec::H264 as i32, 2, &mut packager),
            RtmpResult::InvalidArgument
        );
        assert!(packager.is_null());
        assert_eq!(
            rtmp_frame_new(42, 0, [0xAF, 1].as_ptr(), 2, &mut frame),
            RtmpResult::InvalidArgument
        );
        assert!(frame.is_null());
        assert_eq!(
            rtmp_set_log_callback(6, None, null_mut()),
            RtmpResult::InvalidArgument
        );
    }
}

//! Calls into the library from inside its callbacks: what works and what is refused.

use super::*;

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
    let (server, addr) = start_server(true, false, 0);
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
    let (server, addr) = start_server(false, false, 0);
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

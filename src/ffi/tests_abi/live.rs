//! A client publishes and the server sees it; a client plays a local publisher.

use super::*;

#[test]
fn a_client_publishes_through_packagers_and_the_server_sees_it_all() {
    let (server, addr) = start_server(false, true, 0);
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

/// The player is served with 5 ms of write coalescing.
#[test]
fn a_client_plays_what_a_local_publisher_sends() {
    let (server, addr) = start_server(false, false, 5);
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

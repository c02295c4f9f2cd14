//! The server's Rust API with in-process clients: decisions, callbacks, taps, local
//! publishing, limits, slow players, statistics and shutdown.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtmp_core::protocol::command::{status_code, PublishType};
use rtmp_core::session::{ClientEvent, Rejection};
use rtmp_core::{DisconnectReason, Event, Frame, MediaKind, Server};
use support::{connect_client, drive};

fn server(manual: bool) -> Server {
    Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .workers(2)
        .manual_decisions(manual)
        .handshake_timeout(Duration::from_millis(500))
        .player_queue_bytes(256 * 1024)
        .max_message_size(1 << 20)
        .build()
        .unwrap()
}

fn wait_for(server: &Server, what: &str, mut f: impl FnMut(&Event) -> bool) -> Event {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Some(e) = server.next_event(Duration::from_millis(50)) {
            if f(&e) {
                return e;
            }
        }
    }
    panic!("no {what} event");
}

fn video(ts: u32, keyframe: bool, len: usize) -> Frame {
    let mut body = vec![if keyframe { 0x17 } else { 0x27 }, 1, 0, 0, 0];
    body.resize(len, (ts % 251) as u8);
    Frame::from_tag(MediaKind::Video, ts, body.into())
}

fn avc_header() -> Frame {
    Frame::from_tag(
        MediaKind::Video,
        0,
        Bytes::from_static(&[0x17, 0, 0, 0, 0, 1, 0x64]),
    )
}

#[test]
fn manual_decisions_reject_and_accept() {
    let server = server(true);
    let addr = server.local_addrs()[0];
    let handle = server.handle();
    let decider = std::thread::spawn(move || {
        // Reject the first connect, accept the second; reject its publish.
        let (mut connects, mut out) = (0, Vec::new());
        let deadline = Instant::now() + Duration::from_secs(10);
        while out.len() < 3 && Instant::now() < deadline {
            let Some(e) = server.next_event(Duration::from_millis(50)) else {
                continue;
            };
            match &e {
                Event::Connect {
                    decision: Some(d), ..
                } => {
                    connects += 1;
                    if connects == 1 {
                        handle.reject(*d, Rejection::new("go away"));
                    } else {
                        handle.accept(*d);
                    }
                    out.push(e);
                }
                Event::Publish {
                    decision: Some(d), ..
                } => {
                    handle.reject(
                        *d,
                        Rejection::with_code(status_code::PUBLISH_DENIED, "not you"),
                    );
                    out.push(e);
                }
                _ => {}
            }
        }
        (server, out)
    });
    let (client, _socket) = connect_client(addr);
    assert_eq!(client.state(), rtmp_core::session::ClientState::Closed);
    let (mut client, mut socket) = connect_client(addr);
    client.publish("secret", PublishType::Live).unwrap();
    let mut failed = None;
    drive(&mut client, &mut socket, Duration::from_secs(5), |_, e| {
        if let ClientEvent::StreamFailed { status, .. } = e {
            failed = Some(status.clone());
        }
        failed.is_some()
    });
    assert_eq!(failed.unwrap().code, status_code::PUBLISH_DENIED);
    let (_server, events) = decider.join().unwrap();
    assert_eq!(events.len(), 3);
}

#[test]
fn dispatcher_delivers_events_and_survives_a_panicking_handler() {
    let mut server = server(false);
    let addr = server.local_addrs()[0];
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    server
        .dispatch(move |_, event| {
            if matches!(event, Event::Connect { .. }) && sink.lock().unwrap().is_empty() {
                sink.lock().unwrap().push("panic".to_string());
                panic!("a handler bug");
            }
            sink.lock()
                .unwrap()
                .push(format!("{event:?}").chars().take(12).collect());
        })
        .unwrap();
    let _a = connect_client(addr);
    let _b = connect_client(addr);
    let deadline = Instant::now() + Duration::from_secs(5);
    while seen.lock().unwrap().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0], "panic");
    assert!(seen[1].starts_with("Connect"), "{seen:?}");
    assert!(server.dispatch(|_, _| {}).is_err(), "only one dispatcher");
}

#[test]
fn local_publisher_reaches_rtmp_players_and_taps_see_frames() {
    let server = server(false);
    let addr = server.local_addrs()[0];
    server.tap("live", "game", true);
    let publisher = server.publisher("live", "game").unwrap();
    assert!(
        server.publisher("live", "game").is_err(),
        "one publisher per stream"
    );
    publisher.set_metadata(rtmp_core::protocol::amf0::Amf0Value::object([(
        "width",
        1280.0.into(),
    )]));
    publisher.send(avc_header());
    publisher.send(video(0, true, 3000));

    let (mut client, mut socket) = connect_client(addr);
    client.play("game", -2.0, -1.0, true).unwrap();
    drive(&mut client, &mut socket, Duration::from_secs(5), |_, e| {
        matches!(e, ClientEvent::PlayStarted { .. })
    });
    let sender = std::thread::spawn(move || {
        for i in 1..60u32 {
            publisher.send(video(i * 33, i % 30 == 0, 2000 + i as usize));
            std::thread::sleep(Duration::from_millis(2));
        }
        publisher
    });
    let mut received = Vec::new();
    let mut metadata = false;
    drive(&mut client, &mut socket, Duration::from_secs(5), |_, e| {
        match e {
            ClientEvent::Media {
                timestamp, payload, ..
            } => received.push((*timestamp, payload.len())),
            ClientEvent::Metadata { metadata: m, .. } => metadata = m.get("width").is_some(),
            _ => {}
        }
        received.len() == 61
    });
    assert!(metadata);
    // Header, the cached keyframe, then every frame in order.
    assert_eq!(received[0], (0, 7));
    assert_eq!(received[1], (0, 3000));
    for (i, (ts, len)) in received[2..].iter().enumerate() {
        let i = i as u32 + 1;
        assert_eq!((*ts, *len), (i * 33, 2000 + i as usize));
    }
    drop(sender.join().unwrap());
    let stats = server.stream_stats();
    assert!(stats
        .iter()
        .any(|s| s.key == "live/game" && !s.publishing && s.frames_in == 61));
}

#[test]
fn taps_deliver_a_remote_publishers_frames_with_flags() {
    let server = server(false);
    let addr = server.local_addrs()[0];
    server.tap("live", "cam", true);
    let (mut client, mut socket) = connect_client(addr);
    client.publish("cam", PublishType::Live).unwrap();
    drive(&mut client, &mut socket, Duration::from_secs(5), |_, e| {
        matches!(e, ClientEvent::PublishStarted { .. })
    });
    for frame in [avc_header(), video(0, true, 900), video(33, false, 300)] {
        client
            .send_media(frame.kind, frame.timestamp, frame.payload)
            .unwrap();
    }
    support::send_pending(&mut client, &mut socket);
    let frames: Vec<Frame> = (0..3)
        .map(
            |_| match wait_for(&server, "frame", |e| matches!(e, Event::Frame { .. })) {
                Event::Frame { app, stream, frame } => {
                    assert_eq!((app.as_str(), stream.as_str()), ("live", "cam"));
                    frame
                }
                _ => unreachable!(),
            },
        )
        .collect();
    assert!(frames[0].sequence_header && !frames[0].keyframe);
    assert!(frames[1].keyframe && !frames[1].sequence_header);
    assert_eq!(frames[1].payload.len(), 900);
    assert!(!frames[2].keyframe && frames[2].timestamp == 33);
}

#[test]
fn hostile_connection_is_closed_and_others_are_unharmed() {
    let server = server(false);
    let addr = server.local_addrs()[0];
    let publisher = server.publisher("live", "safe").unwrap();
    publisher.send(avc_header());
    let (mut player, mut player_socket) = connect_client(addr);
    player.play("safe", -2.0, -1.0, true).unwrap();
    drive(
        &mut player,
        &mut player_socket,
        Duration::from_secs(5),
        |_, e| matches!(e, ClientEvent::PlayStarted { .. }),
    );

    // After a valid connect: a continuation chunk on a chunk stream never opened, and a
    // message larger than the server's limit.
    let (_, mut evil) = connect_client(addr);
    let _ = evil.write_all(&[0x40 | 60, 0, 0, 0, 0, 0, 9, 9]);
    let (_, mut greedy) = connect_client(addr);
    let _ = greedy.write_all(&[0x0A, 0, 0, 0, 0xFF, 0xFF, 0xFF, 9, 1, 0, 0, 0]);
    // A silent connection that never finishes the handshake.
    let _silent = TcpStream::connect(addr).unwrap();

    let mut reasons = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while reasons.len() < 3 && Instant::now() < deadline {
        if let Some(Event::Disconnect { reason, .. }) = server.next_event(Duration::from_millis(50))
        {
            reasons.push(reason);
        }
    }
    let protocol_errors: Vec<_> = reasons
        .iter()
        .filter_map(|r| match r {
            DisconnectReason::ProtocolError(e) => Some(e.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(protocol_errors.len(), 2, "{reasons:?}");
    assert!(
        protocol_errors
            .iter()
            .any(|e| e.contains("no previous header")),
        "{reasons:?}"
    );
    assert!(
        protocol_errors
            .iter()
            .any(|e| e.contains("exceeds the limit")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| matches!(r, DisconnectReason::Timeout(_))),
        "{reasons:?}"
    );

    // The player still gets every frame.
    for i in 0..20u32 {
        publisher.send(video(i * 40, i == 0, 500));
    }
    let mut frames = 0;
    drive(
        &mut player,
        &mut player_socket,
        Duration::from_secs(5),
        |_, e| {
            if matches!(e, ClientEvent::Media { .. }) {
                frames += 1;
            }
            frames == 21
        },
    );
}

#[test]
fn slow_player_loses_whole_gops_and_nobody_else_waits() {
    let server = server(false);
    let addr = server.local_addrs()[0];
    let publisher = server.publisher("live", "fast").unwrap();
    publisher.send(avc_header());
    let (mut good, mut good_socket) = connect_client(addr);
    good.play("fast", -2.0, -1.0, true).unwrap();
    drive(
        &mut good,
        &mut good_socket,
        Duration::from_secs(5),
        |_, e| matches!(e, ClientEvent::PlayStarted { .. }),
    );
    let (mut slow, mut slow_socket) = connect_client(addr);
    slow.play("fast", -2.0, -1.0, true).unwrap();
    drive(
        &mut slow,
        &mut slow_socket,
        Duration::from_secs(5),
        |_, e| matches!(e, ClientEvent::PlayStarted { .. }),
    );
    // From here the slow player reads nothing. The publisher runs at most half a GOP
    // ahead of the reading player: that player keeps up by construction (however the
    // machine schedules the test), so any frame it misses would be the slow one's fault.
    let total = 600u32;
    let started = Instant::now();
    let received = Arc::new(AtomicUsize::new(0));
    let progress = received.clone();
    let sender = std::thread::spawn(move || {
        for i in 0..total {
            while (i as usize) > progress.load(Ordering::Acquire) + 15 {
                std::thread::sleep(Duration::from_millis(1));
            }
            publisher.send(video(i * 33, i % 30 == 0, 20_000));
        }
        publisher
    });
    let mut frames = Vec::new();
    drive(
        &mut good,
        &mut good_socket,
        Duration::from_secs(20),
        |_, e| {
            if let ClientEvent::Media { timestamp, .. } = e {
                frames.push(*timestamp);
                received.store(frames.len(), Ordering::Release);
            }
            frames.len() == total as usize + 1
        },
    );
    // The AVC sequence header comes first.
    frames.remove(0);
    let publisher = sender.join().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20));
    let expected: Vec<u32> = (0..total).map(|i| i * 33).collect();
    assert_eq!(
        frames, expected,
        "the reading player gets every frame in order"
    );

    let stats = server.connection_stats();
    let dropped: Vec<u64> = stats.iter().map(|(_, s)| s.frames_dropped).collect();
    assert!(
        dropped.iter().any(|&d| d > 0),
        "the slow player lost frames: {dropped:?}"
    );
    // The slow player still decodes: what it got next is a keyframe, after headers.
    let mut got = Vec::new();
    drive(
        &mut slow,
        &mut slow_socket,
        Duration::from_secs(10),
        |_, e| {
            if let ClientEvent::Media {
                payload, timestamp, ..
            } = e
            {
                got.push((payload[0], *timestamp));
            }
            got.last().is_some_and(|g| g.1 == (total - 1) * 33)
        },
    );
    let jump = got
        .windows(2)
        .position(|w| w[1].1 > w[0].1 + 33)
        .expect("the slow player skipped frames");
    // After a jump comes the AVC sequence header, then a keyframe.
    let after: Vec<u8> = got[jump + 1..].iter().take(2).map(|g| g.0).collect();
    assert_eq!(
        after[0] & 0xF0,
        0x10,
        "a keyframe-type tag follows the jump: {after:?}"
    );
    drop(publisher);
}

#[test]
fn shutdown_tells_players_and_finishes_promptly() {
    let server = server(false);
    let addr = server.local_addrs()[0];
    let publisher = server.publisher("live", "bye").unwrap();
    publisher.send(avc_header());
    let (mut player, mut socket) = connect_client(addr);
    player.play("bye", -2.0, -1.0, true).unwrap();
    drive(&mut player, &mut socket, Duration::from_secs(5), |_, e| {
        matches!(e, ClientEvent::PlayStarted { .. })
    });
    assert_eq!(server.connection_count(), 1);
    let stats = server.connection_stats();
    assert_eq!(stats.len(), 1);
    assert!(stats[0].1.bytes_in > 3000 && stats[0].1.bytes_out > 3000);

    let started = Instant::now();
    let stopper = std::thread::spawn(move || server.shutdown());
    let mut told = false;
    drive(&mut player, &mut socket, Duration::from_secs(5), |_, e| {
        told |= matches!(e, ClientEvent::Status { status, .. }
            if status.code == status_code::PLAY_UNPUBLISH_NOTIFY);
        told && matches!(e, ClientEvent::StreamEof { .. })
    });
    stopper.join().unwrap();
    assert!(started.elapsed() < Duration::from_secs(4));
    drop(publisher);
}

#[test]
fn write_coalescing_holds_media_for_its_window_but_not_bursts() {
    let window = Duration::from_millis(800);
    let server = Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .write_coalescing(window)
        .build()
        .unwrap();
    let addr = server.local_addrs()[0];
    let publisher = server.publisher("live", "held").unwrap();
    publisher.send(avc_header());
    publisher.send(video(0, true, 3000));

    let (mut client, mut socket) = connect_client(addr);
    client.play("held", -2.0, -1.0, true).unwrap();
    let mut received = Vec::new();
    let mut stream_id = 0;
    // The play's replies and the cached frames it starts with are not held.
    drive(&mut client, &mut socket, Duration::from_secs(5), |_, e| {
        match e {
            ClientEvent::PlayStarted { stream_id: id, .. } => stream_id = *id,
            ClientEvent::Media { payload, .. } => received.push(payload.len()),
            _ => {}
        }
        received.len() == 2
    });

    // Ten small frames within one window go out together, no sooner than the window.
    let sent = Instant::now();
    for i in 1..=10u32 {
        publisher.send(video(i * 33, false, 1000 + i as usize));
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut arrivals = Vec::new();
    drive(&mut client, &mut socket, Duration::from_secs(5), |_, e| {
        if let ClientEvent::Media { payload, .. } = e {
            arrivals.push((sent.elapsed(), payload.len()));
        }
        arrivals.len() == 10
    });
    let lengths: Vec<usize> = arrivals.iter().map(|(_, len)| *len).collect();
    assert_eq!(lengths, (1..=10).map(|i| 1000 + i).collect::<Vec<_>>());
    assert!(
        arrivals[0].0 >= window - Duration::from_millis(50),
        "the first frame was held only {:?}",
        arrivals[0].0
    );

    // A burst larger than the hold limit (a big keyframe) is written at once.
    let sent = Instant::now();
    publisher.send(video(400, true, 300_000));
    let mut burst = None;
    drive(&mut client, &mut socket, Duration::from_secs(5), |_, e| {
        if let ClientEvent::Media { payload, .. } = e {
            burst = Some((sent.elapsed(), payload.len()));
        }
        burst.is_some()
    });
    let (delay, len) = burst.unwrap();
    assert_eq!(len, 300_000);
    assert!(delay < window, "a burst waited {delay:?}");

    // What the player sends is answered at once, and the held media goes with the answer.
    std::thread::sleep(window); // the burst's window ends
    publisher.send(video(433, false, 1234));
    std::thread::sleep(Duration::from_millis(100)); // held until 700 ms from now
    let sent = Instant::now();
    client.pause(stream_id, true, 433.0).unwrap();
    let mut seen = Vec::new();
    drive(&mut client, &mut socket, Duration::from_secs(5), |_, e| {
        match e {
            ClientEvent::Media { payload, .. } => seen.push(format!("media {}", payload.len())),
            ClientEvent::Status { status, .. } => seen.push(status.code.clone()),
            _ => {}
        }
        seen.iter().any(|s| s == status_code::PAUSE_NOTIFY)
    });
    assert!(
        sent.elapsed() < window / 2,
        "the pause reply waited {:?}",
        sent.elapsed()
    );
    assert_eq!(seen[0], "media 1234");
}

/// A server whose per-connection output bound is small: 64 KiB player queues, GOP cache
/// and messages, so the output limit is about 1.2 MiB.
fn small_server() -> Server {
    Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .player_queue_bytes(64 * 1024)
        .gop_cache_bytes(64 * 1024)
        .max_message_size(64 * 1024)
        .build()
        .unwrap()
}

#[test]
fn a_peer_that_asks_without_reading_is_closed_and_others_are_unharmed() {
    let server = small_server();
    let addr = server.local_addrs()[0];
    let (_, flooder) = connect_client(addr);
    // Ping requests (user control event 6) on chunk stream 2, never reading the answers.
    let ping = [2u8, 0, 0, 0, 0, 0, 6, 4, 0, 0, 0, 0, 0, 6, 0, 0, 0, 1];
    let burst: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 20_000)
        .collect();
    let mut writer = flooder.try_clone().unwrap();
    let flood = std::thread::spawn(move || {
        // Up to 6 M pings; the server closes the connection long before.
        for _ in 0..300 {
            if writer.write_all(&burst).is_err() {
                return true;
            }
        }
        false
    });
    // The kernel takes megabytes of answers first (the socket buffers grow); then the
    // queue does, up to the limit.
    let started = Instant::now();
    let reason = loop {
        assert!(started.elapsed() < Duration::from_secs(60), "no disconnect");
        if let Some(Event::Disconnect { reason, .. }) = server.next_event(Duration::from_millis(50))
        {
            break reason;
        }
    };
    assert!(
        matches!(&reason, DisconnectReason::ProtocolError(e) if e.contains("does not read")),
        "{reason:?}"
    );
    assert!(
        flood.join().unwrap(),
        "the server kept reading a peer that never reads"
    );

    // A well-behaved client still gets its answers.
    let (mut client, mut socket) = connect_client(addr);
    client.play("after", -2.0, -1.0, true).unwrap();
    drive(&mut client, &mut socket, Duration::from_secs(5), |_, e| {
        matches!(e, ClientEvent::PlayStarted { .. })
    });
}

#[test]
fn metadata_floods_do_not_grow_a_stalled_players_queue() {
    use rtmp_core::protocol::amf0::Amf0Value;
    let server = small_server();
    let addr = server.local_addrs()[0];
    let publisher = server.publisher("live", "meta").unwrap();
    let (mut player, mut socket) = connect_client(addr);
    socket2::SockRef::from(&socket)
        .set_recv_buffer_size(4096)
        .unwrap();
    player.play("meta", -2.0, -1.0, true).unwrap();
    drive(&mut player, &mut socket, Duration::from_secs(5), |_, e| {
        matches!(e, ClientEvent::PlayStarted { .. })
    });
    // The player stops reading; the publisher sends 200 metadata updates of 32 KiB.
    for i in 0..200 {
        let big = "x".repeat(32 * 1024);
        publisher.set_metadata(Amf0Value::EcmaArray(vec![
            ("n".into(), Amf0Value::Number(i as f64)),
            ("pad".into(), Amf0Value::String(big)),
        ]));
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(300));
    let stats = server.connection_stats();
    assert_eq!(
        stats.len(),
        1,
        "the stalled player is still connected: {stats:?}"
    );
    // Its queue holds at most what its bound lets in plus one message: not 6.4 MB.
    let queued = stats[0].1.queued_bytes;
    assert!(queued <= 64 * 1024 + 2 * 33 * 1024, "{queued} bytes queued");
}

#[test]
fn an_unpause_without_a_pause_does_not_replay_the_gop() {
    let server = small_server();
    let addr = server.local_addrs()[0];
    let publisher = server.publisher("live", "resume").unwrap();
    publisher.send(avc_header());
    let (mut client, mut socket) = connect_client(addr);
    client.play("resume", -2.0, -1.0, true).unwrap();
    let mut stream_id = 0;
    drive(&mut client, &mut socket, Duration::from_secs(5), |_, e| {
        if let ClientEvent::PlayStarted { stream_id: id } = e {
            stream_id = *id;
        }
        stream_id != 0
    });
    let mut timestamps = Vec::new();
    let mut take = |client: &mut _, socket: &mut _, until: u32| {
        drive(client, socket, Duration::from_secs(5), |_, e| {
            if let ClientEvent::Media { timestamp, .. } = e {
                timestamps.push(*timestamp);
            }
            timestamps.last() == Some(&until)
        });
    };
    for i in 0..10u32 {
        publisher.send(video(i * 40, i == 0, 300));
    }
    take(&mut client, &mut socket, 360);
    // "Unpause" while playing: nothing to resume, so nothing is sent again.
    client.pause(stream_id, false, 360.0).unwrap();
    for i in 10..15u32 {
        publisher.send(video(i * 40, false, 300));
    }
    take(&mut client, &mut socket, 560);
    let media: Vec<u32> = timestamps.into_iter().filter(|t| *t > 0).collect();
    assert_eq!(media, (1..15).map(|i| i * 40).collect::<Vec<u32>>());
}

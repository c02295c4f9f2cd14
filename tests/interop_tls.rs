//! rtmps:// against real peers over loopback, with a self-signed certificate made for the
//! test run: ffmpeg 5.1 (GnuTLS) publishes to our TLS listener while ffmpeg 9 (OpenSSL),
//! rtmpdump (librtmp, GnuTLS) and our client play over rtmps:// and rtmp:// from the same
//! server; GStreamer (GIO's TLS) publishes over rtmps:// too, and ffmpeg 9 publishes
//! HEVC + Opus (Enhanced RTMP) over rtmps:// to ffmpeg 9 players; our client
//! publishes through nginx's TLS (OpenSSL) to nginx-rtmp; certificate checks refuse what
//! they must; stalled and garbled TLS handshakes are closed without disturbing others;
//! a TLS player that stops reading loses whole GOPs while the others get every frame;
//! and the client reconnects over rtmps://.

mod support;

use std::time::Duration;

use rtmp_core::client::{Client, ClientNotice, ClientOptions, ReconnectPolicy, TlsOptions};
use rtmp_core::{Error, Event, Server};
use support::{
    bodies, collect_play, decode_errors, flv_media_tags, modern_ffmpeg, packet_counts,
    publish_tags, scratch, source_flv, Nginx, Peer, TestCert,
};

/// Our client trusting exactly the test certificate.
fn trusting(cert: &TestCert) -> ClientOptions {
    ClientOptions {
        tls: TlsOptions {
            ca_pem: Some(cert.cert_pem()),
            ..TlsOptions::default()
        },
        ..ClientOptions::default()
    }
}

/// ffmpeg 9 playing `url` into an FLV file, verifying the server's certificate.
fn modern_ffmpeg_player(name: &str, url: &str, cert: &TestCert) -> (Peer, std::path::PathBuf) {
    let out = scratch().join(format!("{name}.flv"));
    let peer = Peer::spawn(
        name,
        modern_ffmpeg().to_str().unwrap(),
        &[
            "-v",
            "error",
            "-y",
            "-tls_verify",
            "1",
            "-ca_file",
            cert.cert.to_str().unwrap(),
            "-i",
            url,
            "-c",
            "copy",
            // Every packet reaches the file at once, whatever way ffmpeg is stopped.
            "-flush_packets",
            "1",
            "-f",
            "flv",
            out.to_str().unwrap(),
        ],
    );
    (peer, out)
}

fn assert_same_bodies(
    received: &[(u8, bytes::Bytes)],
    sent: &[(u8, u32, bytes::Bytes)],
    who: &str,
) {
    let sent: Vec<(u8, bytes::Bytes)> = sent.iter().map(|t| (t.0, t.2.clone())).collect();
    for kind in [8, 9] {
        let (got, want) = (bodies(received, kind), bodies(&sent, kind));
        assert_eq!(got.len(), want.len(), "{who}: frames of type {kind}");
        assert!(
            got == want,
            "{who}: type {kind}: other bytes than were published"
        );
    }
}

#[test]
fn ffmpeg_publishes_rtmps_and_players_get_every_packet_over_rtmps_and_rtmp() {
    let cert = TestCert::new("relay");
    let server = Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .listen_tls(
            "127.0.0.1:0".parse().unwrap(),
            &cert.cert_pem(),
            &cert.key_pem(),
        )
        .unwrap()
        .workers(2)
        .build()
        .unwrap();
    let (plain, tls) = (server.local_addrs()[0], server.local_addrs()[1]);
    let tls_url = format!("rtmps://{tls}/live/secure");
    let plain_url = format!("rtmp://{plain}/live/secure");
    let (source, (video, audio)) = source_flv().clone();
    let tags = flv_media_tags(&source);

    // Players waiting before the publish: ffmpeg 9 and rtmpdump (librtmp with GnuTLS,
    // which does not verify) over TLS, ours over TLS and plain TCP.
    let (mut ffmpeg_player, ffmpeg_out) =
        modern_ffmpeg_player("tls-relay-ffmpeg9", &tls_url, &cert);
    let rtmpdump_out = scratch().join("tls-relay-rtmpdump.flv");
    let mut rtmpdump = Peer::spawn(
        "tls-relay-rtmpdump",
        "rtmpdump",
        &[
            "-q",
            "-r",
            &tls_url,
            "-o",
            rtmpdump_out.to_str().unwrap(),
            "-m",
            "3",
        ],
    );
    let ours_tls = collect_play(tls_url.clone(), trusting(&cert));
    let ours_plain = collect_play(plain_url, ClientOptions::default());
    std::thread::sleep(Duration::from_millis(1500));

    // Debian's ffmpeg 5.1 (GnuTLS) publishes, verifying our certificate too.
    let mut publisher = Peer::spawn(
        "tls-relay-publisher",
        "ffmpeg",
        &[
            "-v",
            "error",
            "-re",
            "-i",
            source.to_str().unwrap(),
            "-c",
            "copy",
            "-tls_verify",
            "1",
            "-ca_file",
            cert.cert.to_str().unwrap(),
            "-f",
            "flv",
            &tls_url,
        ],
    );
    publisher.finish(Duration::from_secs(20));
    ffmpeg_player.finish(Duration::from_secs(15));
    // rtmpdump exits 1 or 2 when a live stream ends; what it wrote counts.
    rtmpdump.wait(Duration::from_secs(15));

    assert_eq!(
        packet_counts(&ffmpeg_out),
        (video, audio),
        "ffmpeg 9 over rtmps"
    );
    assert_eq!(
        packet_counts(&rtmpdump_out),
        (video, audio),
        "rtmpdump over rtmps"
    );
    for out in [&ffmpeg_out, &rtmpdump_out] {
        let errors = decode_errors(out);
        assert!(errors.trim().is_empty(), "{}: {errors}", out.display());
    }
    assert_same_bodies(&ours_tls.join().unwrap(), &tags, "our player over rtmps");
    assert_same_bodies(&ours_plain.join().unwrap(), &tags, "our player over rtmp");

    let mut publishes = 0;
    while let Some(event) = server.next_event(Duration::from_millis(300)) {
        if matches!(event, Event::Publish { ref stream, .. } if stream == "secure") {
            publishes += 1;
        }
    }
    assert_eq!(publishes, 1);
}

#[test]
fn client_publishes_rtmps_through_nginx_tls_to_nginx_rtmp() {
    let cert = TestCert::new("nginx");
    let nginx = Nginx::start_tls("client-rtmps", &cert);
    let (source, (video, audio)) = source_flv().clone();
    let tags = flv_media_tags(&source);

    let dump = scratch().join("client-rtmps-rtmpdump.flv");
    let mut rtmpdump = Peer::spawn(
        "client-rtmps-rtmpdump",
        "rtmpdump",
        &[
            "-q",
            "-r",
            &nginx.url("tls"),
            "-o",
            dump.to_str().unwrap(),
            "-m",
            "3",
        ],
    );
    let (mut ffmpeg_player, ffmpeg_out) = modern_ffmpeg_player(
        "client-rtmps-ffmpeg9",
        &nginx.tls_url("127.0.0.1", "tls"),
        &cert,
    );
    // By host name: SNI is sent and the certificate's DNS name checked.
    let ours = collect_play(nginx.tls_url("localhost", "tls"), trusting(&cert));
    std::thread::sleep(Duration::from_millis(1500));

    let client = Client::publish(&nginx.tls_url("127.0.0.1", "tls"), trusting(&cert)).unwrap();
    client.wait_started(Duration::from_secs(5)).unwrap();
    publish_tags(&client, &tags, 2);
    let stats = client.stats();
    client.close();
    assert_eq!(stats.frames_dropped, 0);

    // rtmpdump exits 1 or 2 on a live stream that ends at nginx; ffmpeg keeps waiting
    // for a republish there, until interrupted.
    rtmpdump.wait(Duration::from_secs(20));
    // The first SIGINT asks ffmpeg to stop; the second interrupts its blocking read (and
    // its file output: hence -flush_packets).
    ffmpeg_player.interrupt();
    std::thread::sleep(Duration::from_millis(300));
    ffmpeg_player.interrupt();
    ffmpeg_player.wait(Duration::from_secs(10));
    assert_eq!(packet_counts(&dump), (video, audio), "rtmpdump over rtmp");
    // Stopped by signals, ffmpeg's muxer loses the audio packets its interleaving still
    // held (those after the last video frame); everything before them is there.
    let (ffmpeg_video, ffmpeg_audio) = packet_counts(&ffmpeg_out);
    assert_eq!(ffmpeg_video, video, "ffmpeg 9 over rtmps: video");
    assert!(
        ffmpeg_audio <= audio && ffmpeg_audio + 3 >= audio,
        "ffmpeg 9 over rtmps: audio {ffmpeg_audio} of {audio}"
    );
    for out in [&dump, &ffmpeg_out] {
        let errors = decode_errors(out);
        assert!(errors.trim().is_empty(), "{}: {errors}", out.display());
    }
    assert_same_bodies(&ours.join().unwrap(), &tags, "our player over rtmps");
}

#[test]
fn certificate_checks_refuse_unknown_and_misnamed_servers() {
    let cert = TestCert::new("checks");
    let server = Server::builder()
        .listen_tls(
            "127.0.0.1:0".parse().unwrap(),
            &cert.cert_pem(),
            &cert.key_pem(),
        )
        .unwrap()
        .workers(1)
        .build()
        .unwrap();
    let url = format!("rtmps://{}/live/check", server.local_addrs()[0]);
    let retrying = ReconnectPolicy {
        max_attempts: 5,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(50),
    };

    // The system's roots do not know a self-signed certificate; a certificate failure is
    // final (no reconnect attempts), and typed.
    let options = ClientOptions {
        reconnect: Some(retrying),
        ..ClientOptions::default()
    };
    let client = Client::publish(&url, options).unwrap();
    let err = client.wait_started(Duration::from_secs(5)).unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    assert!(err.to_string().contains("certificate"), "{err}");
    let notices: Vec<ClientNotice> = client.notices().try_iter().collect();
    assert!(
        !notices
            .iter()
            .any(|n| matches!(n, ClientNotice::Reconnecting { .. })),
        "{notices:?}"
    );
    assert_eq!(client.stats().reconnects, 0);

    // Trusted, but for another name.
    let mut options = trusting(&cert);
    options.tls.server_name = Some("other.example".into());
    let client = Client::publish(&url, options).unwrap();
    let err = client.wait_started(Duration::from_secs(5)).unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");

    // Trusted and named: it connects, as does a client that skips verification.
    let client = Client::publish(&url, trusting(&cert)).unwrap();
    client.wait_started(Duration::from_secs(5)).unwrap();
    client.close();
    let mut options = ClientOptions::default();
    options.tls.insecure_skip_verify = true;
    let client = Client::publish(&url, options).unwrap();
    client.wait_started(Duration::from_secs(5)).unwrap();
    client.close();

    // Plain RTMP to the TLS port goes nowhere: the server drops it.
    let client = Client::publish(
        &url.replace("rtmps://", "rtmp://"),
        ClientOptions::default(),
    )
    .unwrap();
    assert!(client.wait_started(Duration::from_secs(5)).is_err());
}

#[test]
fn stalled_and_garbled_tls_handshakes_are_closed_while_others_are_served() {
    use std::io::Write;
    let cert = TestCert::new("hostile");
    let server = Server::builder()
        .listen_tls(
            "127.0.0.1:0".parse().unwrap(),
            &cert.cert_pem(),
            &cert.key_pem(),
        )
        .unwrap()
        .workers(1)
        .handshake_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let addr = server.local_addrs()[0];
    // One client says nothing; another sends a TLS record header and then junk.
    let _silent = std::net::TcpStream::connect(addr).unwrap();
    let mut garbled = std::net::TcpStream::connect(addr).unwrap();
    garbled.write_all(&[0x16, 0x03, 0x01, 0x00, 0x40]).unwrap();
    garbled.write_all(&[0xAB; 64]).unwrap();
    // A real client is served meanwhile.
    let url = format!("rtmps://{addr}/live/ok");
    let client = Client::publish(&url, trusting(&cert)).unwrap();
    client.wait_started(Duration::from_secs(5)).unwrap();

    let mut reasons = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while reasons.len() < 2 && std::time::Instant::now() < deadline {
        if let Some(Event::Disconnect { reason, .. }) = server.next_event(Duration::from_millis(50))
        {
            reasons.push(reason);
        }
    }
    assert!(
        reasons
            .iter()
            .any(|r| matches!(r, rtmp_core::DisconnectReason::Timeout(_))),
        "the silent client times out: {reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| matches!(
            r,
            rtmp_core::DisconnectReason::Io(_) | rtmp_core::DisconnectReason::ProtocolError(_)
        )),
        "the garbled handshake fails: {reasons:?}"
    );
    assert_eq!(server.connection_count(), 1, "the real client stays");
    client.close();
}

#[test]
fn client_reconnects_over_rtmps_to_a_returning_server_and_resumes_at_a_keyframe() {
    use rtmp_core::{Frame, MediaKind};
    let cert = TestCert::new("reconnect");
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap();
    let start_server = || {
        let server = Server::builder()
            .listen_tls(addr, &cert.cert_pem(), &cert.key_pem())
            .unwrap()
            .workers(1)
            .build()
            .unwrap();
        server.tap("live", "back", true);
        server
    };
    let first = start_server();
    let mut options = trusting(&cert);
    options.reconnect = Some(ReconnectPolicy {
        max_attempts: 20,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(400),
    });
    let client = Client::publish(&format!("rtmps://{addr}/live/back"), options).unwrap();
    client.wait_started(Duration::from_secs(5)).unwrap();
    client
        .send(Frame::from_tag(
            MediaKind::Video,
            0,
            vec![0x17, 0, 0, 0, 0, 1, 0x64].into(),
        ))
        .unwrap();
    let sender = std::thread::spawn(move || {
        for i in 0..150u32 {
            let keyframe = i % 30 == 0;
            let body = vec![if keyframe { 0x17 } else { 0x27 }, 1, 0, 0, 0, i as u8];
            client
                .send(Frame::from_tag(MediaKind::Video, i * 33, body.into()))
                .unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        client
    });
    std::thread::sleep(Duration::from_millis(600));
    first.shutdown();
    std::thread::sleep(Duration::from_millis(300));
    let second = start_server();
    let mut video = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline && video.len() < 3 {
        if let Some(Event::Frame { frame, .. }) = second.next_event(Duration::from_millis(50)) {
            video.push(frame);
        }
    }
    let client = sender.join().unwrap();
    assert!(video.len() >= 3, "frames after the reconnect: {video:?}");
    assert!(video[0].sequence_header, "the sequence header comes first");
    assert!(video[1].keyframe, "then a keyframe: {:?}", video[1]);
    assert!(client.stats().reconnects >= 1);
    client.close();
}

/// A player over TLS of our own making (rustls in blocking mode, the sans-IO client
/// session on top), driven until `stop` says so.
fn drive_tls(
    session: &mut rtmp_core::session::ClientSession,
    stream: &mut (impl std::io::Read + std::io::Write),
    timeout: Duration,
    mut stop: impl FnMut(&rtmp_core::session::ClientEvent) -> bool,
) {
    let start = std::time::Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let mut wire = Vec::new();
        while let Some(out) = session.poll_transmit() {
            out.write_to(&mut wire);
        }
        if !wire.is_empty() {
            stream.write_all(&wire).unwrap();
            stream.flush().unwrap();
        }
        while let Some(event) = session.poll_event() {
            if stop(&event) {
                return;
            }
        }
        assert!(start.elapsed() < timeout, "timed out after {timeout:?}");
        match stream.read(&mut buf) {
            Ok(0) => panic!("the server closed the connection"),
            Ok(n) => session
                .feed(&buf[..n], start.elapsed().as_millis() as u64)
                .unwrap(),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn slow_tls_player_loses_whole_gops_and_the_others_get_every_frame() {
    use rtmp_core::session::{ClientConfig, ClientEvent, ClientSession};
    use rtmp_core::{Frame, MediaKind};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    let cert = TestCert::new("slow");
    let server = Server::builder()
        .listen_tls(
            "127.0.0.1:0".parse().unwrap(),
            &cert.cert_pem(),
            &cert.key_pem(),
        )
        .unwrap()
        .workers(2)
        .player_queue_bytes(256 * 1024)
        .build()
        .unwrap();
    let addr = server.local_addrs()[0];
    let url = format!("rtmps://localhost:{}/live/fast", addr.port());
    let publisher = server.publisher("live", "fast").unwrap();
    publisher.send(Frame::from_tag(
        MediaKind::Video,
        0,
        bytes::Bytes::from_static(&[0x17, 0, 0, 0, 0, 1, 0x64]),
    ));

    // The slow player: plays, then reads nothing.
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&cert.cert_pem()) {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let name = "localhost".try_into().unwrap();
    let connection = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let mut slow_stream = rustls::StreamOwned::new(connection, tcp);
    let tc_url = format!("rtmps://localhost:{}/live", addr.port());
    let mut slow = ClientSession::new(ClientConfig::new("live", tc_url), [5; 32], 0);
    drive_tls(&mut slow, &mut slow_stream, Duration::from_secs(5), |e| {
        matches!(e, ClientEvent::Connected { .. })
    });
    slow.play("fast", -2.0, -1.0, true).unwrap();
    drive_tls(&mut slow, &mut slow_stream, Duration::from_secs(5), |e| {
        matches!(e, ClientEvent::PlayStarted { .. })
    });

    // The good player: our client over rtmps://.
    let good = Client::play(&url, trusting(&cert)).unwrap();
    good.wait_started(Duration::from_secs(5)).unwrap();
    let total = 600u32;
    let sender = std::thread::spawn(move || {
        for i in 0..total {
            let mut body = vec![if i % 30 == 0 { 0x17 } else { 0x27 }, 1, 0, 0, 0];
            body.resize(20_000, (i % 251) as u8);
            publisher.send(Frame::from_tag(MediaKind::Video, i * 33, body.into()));
            std::thread::sleep(Duration::from_millis(2));
        }
        publisher
    });
    let mut timestamps = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while timestamps.len() < total as usize && std::time::Instant::now() < deadline {
        if let Some(ClientNotice::Frame(f)) = good.next_notice(Duration::from_millis(50)) {
            if !f.sequence_header {
                timestamps.push(f.timestamp);
            }
        }
    }
    let _publisher = sender.join().unwrap();
    let expected: Vec<u32> = (0..total).map(|i| i * 33).collect();
    assert!(
        timestamps == expected,
        "the reading player gets every frame in order ({} of {total})",
        timestamps.len()
    );
    let dropped: Vec<u64> = server
        .connection_stats()
        .iter()
        .map(|(_, s)| s.frames_dropped)
        .collect();
    assert!(
        dropped.iter().any(|&d| d > 0),
        "the slow TLS player lost frames: {dropped:?}"
    );
    good.close();
}

#[test]
fn gstreamer_publishes_rtmps_and_ffmpeg_plays_it_over_rtmp() {
    let cert = TestCert::new("gstreamer");
    let server = Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .listen_tls(
            "127.0.0.1:0".parse().unwrap(),
            &cert.cert_pem(),
            &cert.key_pem(),
        )
        .unwrap()
        .workers(2)
        .build()
        .unwrap();
    let (plain, tls) = (server.local_addrs()[0], server.local_addrs()[1]);
    let out = scratch().join("tls-gstreamer-player.flv");
    let mut player = Peer::spawn(
        "tls-gstreamer-player",
        "ffmpeg",
        &[
            "-v",
            "error",
            "-y",
            "-i",
            &format!("rtmp://{plain}/live/gst"),
            "-c",
            "copy",
            "-f",
            "flv",
            out.to_str().unwrap(),
        ],
    );
    std::thread::sleep(Duration::from_millis(1000));
    // GIO's TLS (GnuTLS): every check but the unknown CA, so the name must match.
    let mut publisher = support::gstreamer_publisher(
        "tls-gstreamer-publisher",
        &format!("rtmps://{tls}/live/gst"),
        &["tls-validation-flags=bad-identity+not-activated+expired+revoked+insecure+generic-error"],
    );
    publisher.finish(Duration::from_secs(20));
    player.finish(Duration::from_secs(10));
    let (video, audio) = packet_counts(&out);
    assert_eq!(video, 90, "every GStreamer video frame arrives");
    assert!(
        (129..=131).contains(&audio),
        "GStreamer audio: {audio} of ~130"
    );
    let errors = decode_errors(&out);
    assert!(errors.trim().is_empty(), "{errors}");
}

#[test]
fn ffmpeg9_publishes_hevc_and_opus_over_rtmps_and_players_get_every_packet() {
    use support::{run_modern_ffmpeg, stream_summary};
    let cert = TestCert::new("enhanced");
    // 4 s of HEVC + Opus in Enhanced RTMP FLV, by ffmpeg 9.
    let source = scratch().join("tls-hevc-opus.flv");
    let source_str = source.to_str().unwrap();
    run_modern_ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=30",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        "4",
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-g",
        "30",
        "-x265-params",
        "log-level=error",
        "-c:a",
        "libopus",
        "-b:a",
        "64k",
        "-f",
        "flv",
        source_str,
    ]);
    let expected = stream_summary(&source);
    assert_eq!(expected.len(), 2, "{expected:?}");

    let server = Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .listen_tls(
            "127.0.0.1:0".parse().unwrap(),
            &cert.cert_pem(),
            &cert.key_pem(),
        )
        .unwrap()
        .workers(2)
        .build()
        .unwrap();
    let (plain, tls) = (server.local_addrs()[0], server.local_addrs()[1]);
    let tls_url = format!("rtmps://{tls}/live/enhanced");
    let tls_out = scratch().join("tls-hevc-opus-ffmpeg9.mkv");
    let plain_out = scratch().join("tls-hevc-opus-ffmpeg9-plain.mkv");
    let player = |name: &str, url: &str, out: &std::path::Path| {
        let mut args = vec!["-v", "error", "-y"];
        if url.starts_with("rtmps://") {
            args.extend(["-ca_file", cert.cert.to_str().unwrap()]);
        }
        args.extend(["-i", url, "-map", "0", "-c", "copy", "-f", "matroska"]);
        args.push(out.to_str().unwrap());
        Peer::spawn(name, modern_ffmpeg().to_str().unwrap(), &args)
    };
    let mut tls_player = player("tls-hevc-opus-player", &tls_url, &tls_out);
    let mut plain_player = player(
        "tls-hevc-opus-plain-player",
        &format!("rtmp://{plain}/live/enhanced"),
        &plain_out,
    );
    std::thread::sleep(Duration::from_millis(1500));
    let mut publisher = Peer::spawn(
        "tls-hevc-opus-publisher",
        modern_ffmpeg().to_str().unwrap(),
        &[
            "-v",
            "error",
            "-re",
            "-i",
            source_str,
            "-c",
            "copy",
            "-ca_file",
            cert.cert.to_str().unwrap(),
            "-f",
            "flv",
            &tls_url,
        ],
    );
    publisher.finish(Duration::from_secs(20));
    tls_player.finish(Duration::from_secs(15));
    plain_player.finish(Duration::from_secs(15));
    for out in [&tls_out, &plain_out] {
        assert_eq!(stream_summary(out), expected, "{}", out.display());
        let errors = support::modern_decode_errors(out);
        assert!(errors.trim().is_empty(), "{}: {errors}", out.display());
    }
}

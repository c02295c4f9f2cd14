//! The client against real peers: it publishes to nginx-rtmp while rtmpdump and our own
//! player receive; it plays from nginx-rtmp while ffmpeg publishes; it reconnects to a
//! server that went away, resuming at a keyframe; and it publishes what encoders emit
//! (H.264/HEVC Annex-B, AV1 OBUs, VP9, AAC ADTS, Opus), packaged by `rtmp_core::media`,
//! to ffmpeg 9 listening for a publisher, which must receive and decode every frame.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rtmp_core::client::{Client, ClientNotice, ClientOptions, ClientStats, ReconnectPolicy};
use rtmp_core::{Event, Frame, MediaKind, Server};
use support::elementary::{interleave, track, Codec};
use support::{
    bodies, collect_play, decode_errors, flv_media_tags, free_port, modern_decode_errors,
    modern_ffmpeg, packet_counts, publish_frames, publish_tags, scratch, source_flv,
    stream_summary, Nginx, Peer,
};

#[test]
fn client_publishes_to_nginx_and_every_player_gets_the_exact_frames() {
    let nginx = Nginx::start("client-publish");
    let url = nginx.url("from-client");
    let (source, (video, audio)) = source_flv().clone();
    let tags = flv_media_tags(&source);

    let dump = scratch().join("client-publish-rtmpdump.flv");
    let mut rtmpdump = Peer::spawn(
        "client-publish-rtmpdump",
        "rtmpdump",
        &["-q", "-r", &url, "-o", dump.to_str().unwrap(), "-m", "3"],
    );
    let ours = collect_play(url.clone(), ClientOptions::default());
    std::thread::sleep(Duration::from_millis(1000));

    let client = Client::publish(&url, ClientOptions::default()).unwrap();
    client.wait_started(Duration::from_secs(5)).unwrap();
    publish_tags(&client, &tags, 2);
    let stats = client.stats();
    client.close();
    assert_eq!(stats.frames_dropped, 0);

    // rtmpdump exits 1 or 2 on a live stream that ends at nginx; what it wrote counts.
    rtmpdump.wait(Duration::from_secs(20));
    assert_eq!(packet_counts(&dump), (video, audio), "rtmpdump");
    let errors = decode_errors(&dump);
    assert!(errors.trim().is_empty(), "{errors}");
    let received = ours.join().unwrap();
    let sent: Vec<(u8, bytes::Bytes)> = tags.iter().map(|t| (t.0, t.2.clone())).collect();
    for kind in [8, 9] {
        let (got, want) = (bodies(&received, kind), bodies(&sent, kind));
        assert_eq!(got.len(), want.len(), "type {kind}");
        assert!(got == want, "type {kind}: other bytes than were published");
    }
}

#[test]
fn client_plays_from_nginx_while_ffmpeg_publishes() {
    let nginx = Nginx::start("client-play");
    let url = nginx.url("from-ffmpeg");
    let (source, _) = source_flv().clone();
    let tags = flv_media_tags(&source);
    let ours = collect_play(url.clone(), ClientOptions::default());
    std::thread::sleep(Duration::from_millis(1000));
    let mut ffmpeg = Peer::spawn(
        "client-play-ffmpeg",
        "ffmpeg",
        &[
            "-v",
            "error",
            "-re",
            "-i",
            source.to_str().unwrap(),
            "-c",
            "copy",
            "-f",
            "flv",
            &url,
        ],
    );
    ffmpeg.finish(Duration::from_secs(20));
    let received = ours.join().unwrap();
    let sent: Vec<(u8, bytes::Bytes)> = tags.iter().map(|t| (t.0, t.2.clone())).collect();
    for kind in [8, 9] {
        let (got, want) = (bodies(&received, kind), bodies(&sent, kind));
        assert_eq!(got.len(), want.len(), "type {kind}");
        assert!(
            got == want,
            "type {kind}: other bytes than ffmpeg published"
        );
    }
}

#[test]
fn client_reconnects_to_a_returning_server_and_resumes_at_a_keyframe() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let start_server = || {
        let server = Server::builder().listen(addr).workers(1).build().unwrap();
        server.tap("live", "back", true);
        server
    };
    let first = start_server();
    let options = ClientOptions {
        reconnect: Some(ReconnectPolicy {
            max_attempts: 20,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(400),
        }),
        ..ClientOptions::default()
    };
    let client = Client::publish(&format!("rtmp://{addr}/live/back"), options).unwrap();
    client.wait_started(Duration::from_secs(5)).unwrap();
    client
        .set_metadata(rtmp_core::protocol::amf0::Amf0Value::object([(
            "width",
            320.0.into(),
        )]))
        .unwrap();
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
    let mut metadata = false;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && video.len() < 3 {
        match second.next_event(Duration::from_millis(50)) {
            Some(Event::Frame { frame, .. }) => video.push(frame),
            Some(Event::Metadata { .. }) => metadata = true,
            _ => {}
        }
    }
    let client = sender.join().unwrap();
    assert!(metadata, "metadata is resent after the reconnect");
    assert!(video[0].sequence_header, "the sequence header comes first");
    assert!(video[1].keyframe, "then a keyframe: {:?}", video[1]);
    assert!(client.stats().reconnects >= 1);
    let notices: Vec<ClientNotice> = client.notices().try_iter().collect();
    assert!(notices
        .iter()
        .any(|n| matches!(n, ClientNotice::Reconnecting { .. })));
    client.close();
}

/// ffmpeg 9 listening for one publisher on rtmp://127.0.0.1:PORT/live/key, writing what it
/// receives with `-c copy` in `format`; it exits when the publisher leaves.
fn ffmpeg_listener(name: &str, format: &str) -> (Peer, String, PathBuf) {
    let port = free_port();
    let url = format!("rtmp://127.0.0.1:{port}/live/key");
    let out = scratch().join(format!("{name}.{format}"));
    let peer = Peer::spawn(
        name,
        modern_ffmpeg().to_str().unwrap(),
        &[
            "-v",
            "error",
            "-y",
            "-listen",
            "1",
            "-i",
            &url,
            "-map",
            "0",
            "-c",
            "copy",
            "-f",
            format,
            out.to_str().unwrap(),
        ],
    );
    (peer, url, out)
}

/// Publishes `frames` to `url` at twice real time with our client, retrying the connection
/// until the listener is up; returns the client's final counters.
fn publish_to(url: &str, frames: &[Frame]) -> ClientStats {
    let options = ClientOptions {
        reconnect: Some(ReconnectPolicy {
            max_attempts: 50,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(100),
        }),
        ..ClientOptions::default()
    };
    let client = Client::publish(url, options).unwrap();
    client.wait_started(Duration::from_secs(10)).unwrap();
    publish_frames(&client, frames, 2);
    let stats = client.stats();
    client.close();
    stats
}

#[test]
fn client_publishes_hevc_av1_and_vp9_with_aac_and_opus_to_ffmpeg() {
    for (video, audio) in [
        (Codec::Hevc, Codec::Aac),
        (Codec::Av1, Codec::Opus),
        (Codec::Vp9, Codec::Opus),
        (Codec::Vp9, Codec::Aac),
    ] {
        let what = format!("{video:?} + {audio:?}");
        let (video_track, audio_track) = (track(video, 2), track(audio, 2));
        assert!(
            video_track.coded >= 59,
            "{what}: {} frames",
            video_track.coded
        );
        let name = format!("ffmpeg-listens-{video:?}-{audio:?}").to_lowercase();
        let (mut ffmpeg, url, out) = ffmpeg_listener(&name, "matroska");
        let stats = publish_to(&url, &interleave(&video_track, &audio_track));
        assert_eq!(stats.frames_dropped, 0, "{what}");
        ffmpeg.finish(Duration::from_secs(20));

        let streams = stream_summary(&out);
        let find = |kind: &str| {
            streams
                .iter()
                .find(|s| s.media_type == kind)
                .unwrap_or_else(|| panic!("{what}: no {kind} in {streams:?}"))
                .clone()
        };
        let (v, a) = (find("video"), find("audio"));
        assert_eq!(v.codec, video.ffmpeg_name(), "{what}");
        assert_eq!(a.codec, audio.ffmpeg_name(), "{what}");
        assert_eq!(v.packets, video_track.coded, "{what}: video packets");
        assert_eq!(a.packets, audio_track.coded, "{what}: audio packets");
        let errors = modern_decode_errors(&out);
        assert!(errors.trim().is_empty(), "{what}: {errors}");
    }
}

#[test]
fn client_publishes_annexb_h264_and_adts_aac_that_ffmpeg_decodes_cleanly() {
    let (video, audio) = (track(Codec::H264, 4), track(Codec::Aac, 4));
    // Our split into access units and ADTS frames agrees with ffprobe's.
    assert_eq!(packet_counts(&video.path).0, video.coded);
    assert_eq!(packet_counts(&audio.path).1, audio.coded);
    assert_eq!(video.coded, 120);

    let (mut ffmpeg, url, out) = ffmpeg_listener("ffmpeg-listens-annexb", "flv");
    let stats = publish_to(&url, &interleave(&video, &audio));
    assert_eq!(stats.frames_dropped, 0);
    ffmpeg.finish(Duration::from_secs(20));

    assert_eq!(packet_counts(&out), (video.coded, audio.coded));
    let errors = decode_errors(&out);
    assert!(errors.trim().is_empty(), "ffmpeg 5.1: {errors}");
    let errors = modern_decode_errors(&out);
    assert!(errors.trim().is_empty(), "ffmpeg 9: {errors}");
}

/// A TCP proxy on loopback that forwards one connection to `target`, the client's bytes
/// at `bytes_per_second` (a token bucket of 16 KiB), the server's unthrottled: a slow
/// uplink. It ends with the connection.
fn throttling_proxy(target: std::net::SocketAddr, bytes_per_second: u64) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let Ok((client, _)) = listener.accept() else {
            return;
        };
        let server = std::net::TcpStream::connect(target).unwrap();
        let (mut client_in, mut server_out) =
            (client.try_clone().unwrap(), server.try_clone().unwrap());
        let (mut server_in, mut client_out) = (server, client);
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut server_in, &mut client_out);
            let _ = client_out.shutdown(std::net::Shutdown::Write);
        });
        let start = Instant::now();
        let mut forwarded = 0u64;
        let mut buf = [0u8; 4096];
        loop {
            match client_in.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if server_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    forwarded += n as u64;
                }
            }
            let due = start
                + Duration::from_secs_f64(
                    forwarded.saturating_sub(16 << 10) as f64 / bytes_per_second as f64,
                );
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let _ = server_out.shutdown(std::net::Shutdown::Write);
    });
    port
}

#[test]
fn congested_uplink_drops_video_by_policy_keeps_all_audio_and_stays_decodable() {
    // 10 s of noisy 640x360 H.264 at ~6 Mbit/s (a 160 KB keyframe a second) and AAC at
    // 128 kbit/s, through a 2 Mbit/s uplink.
    let source = scratch().join("congested-source.flv");
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=30",
        ])
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=44100",
            "-t",
            "10",
        ])
        .args([
            "-vf",
            "noise=alls=30:allf=t",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ])
        .args(["-g", "30", "-b:v", "6M", "-maxrate", "6M", "-bufsize", "3M"])
        .args(["-c:a", "aac", "-b:a", "128k", "-f", "flv"])
        .arg(&source)
        .status()
        .unwrap();
    assert!(status.success(), "cannot make the source");
    let tags = flv_media_tags(&source);
    let bytes: usize = tags.iter().map(|t| t.2.len()).sum();
    let bitrate = bytes as f64 * 8.0 / 10.0;
    assert!(bitrate > 5.5e6, "source at {bitrate} bit/s");
    let (video, audio) = packet_counts(&source);

    let server = Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .build()
        .unwrap();
    let addr = server.local_addrs()[0];
    let out = scratch().join("congested-received.flv");
    let mut player = Peer::spawn(
        "congested-player",
        "ffmpeg",
        &[
            "-v",
            "error",
            "-y",
            "-i",
            &format!("rtmp://{addr}/live/congested"),
            "-c",
            "copy",
            "-f",
            "flv",
            out.to_str().unwrap(),
        ],
    );
    std::thread::sleep(Duration::from_millis(1000));

    let proxy = throttling_proxy(addr, 2_000_000 / 8);
    let url = format!("rtmp://127.0.0.1:{proxy}/live/congested");
    let client = Client::publish(&url, ClientOptions::default()).unwrap();
    client.wait_started(Duration::from_secs(5)).unwrap();
    let started = Instant::now();
    publish_tags(&client, &tags, 1);
    let stats = client.stats();
    client.close();
    let elapsed = started.elapsed();
    player.finish(Duration::from_secs(30));

    let (got_video, got_audio) = packet_counts(&out);
    eprintln!(
        "congestion: sent {} of {} frames in {elapsed:?}, {} dropped, {} queued ({:?}) at \
         the end; the player got {got_video} of {video} video and {got_audio} of {audio} \
         audio frames",
        stats.frames_sent,
        tags.len(),
        stats.frames_dropped,
        stats.queued_bytes,
        stats.queued,
    );
    assert!(stats.frames_dropped > 0, "the policy dropped nothing");
    assert!(
        stats.queued <= Duration::from_millis(1500),
        "the queue held {:?}",
        stats.queued
    );
    assert_eq!(got_audio, audio, "every audio frame arrives");
    assert_eq!(
        got_video as u64 + stats.frames_dropped,
        video as u64,
        "every video frame arrives or was dropped by the policy"
    );
    let errors = decode_errors(&out);
    assert!(errors.trim().is_empty(), "{errors}");
}

//! The embedded server against real peers over loopback: ffmpeg publishes while ffmpeg,
//! rtmpdump and GStreamer play; GStreamer publishes while ffmpeg plays. What arrives is
//! checked: packet counts against the source, and that ffmpeg decodes it without errors.

mod support;

use std::net::TcpStream;
use std::time::Duration;

use rtmp_core::session::{ClientConfig, ClientEvent, ClientSession};
use rtmp_core::{Event, Server};
use support::{decode_errors, drive, packet_counts, scratch, source_flv, Peer};

fn start_server() -> (Server, String) {
    let server = Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .workers(2)
        .build()
        .expect("server starts");
    let url = format!("rtmp://{}/live", server.local_addrs()[0]);
    (server, url)
}

fn events_until_quiet(server: &Server) -> Vec<Event> {
    let mut events = Vec::new();
    while let Some(e) = server.next_event(Duration::from_millis(300)) {
        events.push(e);
    }
    events
}

fn publish_source(name: &str, url: &str) -> Peer {
    let (source, _) = source_flv();
    let source = source.to_str().unwrap();
    Peer::spawn(
        name,
        "ffmpeg",
        &[
            "-v", "error", "-re", "-i", source, "-c", "copy", "-f", "flv", url,
        ],
    )
}

fn ffmpeg_player(name: &str, url: &str) -> (Peer, std::path::PathBuf) {
    let out = scratch().join(format!("{name}.flv"));
    let peer = Peer::spawn(
        name,
        "ffmpeg",
        &[
            "-v",
            "error",
            "-y",
            "-i",
            url,
            "-c",
            "copy",
            "-f",
            "flv",
            out.to_str().unwrap(),
        ],
    );
    (peer, out)
}

fn assert_decodes(path: &std::path::Path) {
    let errors = decode_errors(path);
    assert!(errors.trim().is_empty(), "{}: {errors}", path.display());
}

#[test]
fn ffmpeg_publish_is_relayed_to_ffmpeg_rtmpdump_and_gstreamer() {
    let (server, base) = start_server();
    let url = format!("{base}/relay");
    let (_, (video, audio)) = *source_flv();

    // Players that wait before the publish starts.
    let (mut early, early_out) = ffmpeg_player("relay-ffmpeg-early", &url);
    let rtmpdump_out = scratch().join("relay-rtmpdump.flv");
    let mut rtmpdump = Peer::spawn(
        "relay-rtmpdump",
        "rtmpdump",
        &[
            "-q",
            "-r",
            &url,
            "-o",
            rtmpdump_out.to_str().unwrap(),
            "-m",
            "3",
        ],
    );
    let gst_out = scratch().join("relay-gstreamer.flv");
    let gst_location = format!("location={url}");
    let gst_sink = format!("location={}", gst_out.display());
    let mut gstreamer = Peer::spawn(
        "relay-gstreamer",
        "gst-launch-1.0",
        &[
            "-q",
            "-e",
            "rtmp2src",
            &gst_location,
            "!",
            "filesink",
            &gst_sink,
        ],
    );
    std::thread::sleep(Duration::from_millis(1500));

    let mut publisher = publish_source("relay-publisher", &url);
    // A player that joins 2.5 s into the stream gets the GOP cache first.
    std::thread::sleep(Duration::from_millis(2500));
    let (mut late, late_out) = ffmpeg_player("relay-ffmpeg-late", &url);

    publisher.finish(Duration::from_secs(20));
    early.finish(Duration::from_secs(10));
    late.finish(Duration::from_secs(10));
    rtmpdump.finish(Duration::from_secs(15));
    std::thread::sleep(Duration::from_millis(500));
    gstreamer.interrupt();
    gstreamer.finish(Duration::from_secs(10));

    assert_eq!(
        packet_counts(&early_out),
        (video, audio),
        "ffmpeg waiting before the publish"
    );
    assert_eq!(packet_counts(&rtmpdump_out), (video, audio), "rtmpdump");
    // GStreamer's rtmp2src drops the final audio tag at end of stream (seen with nginx
    // too); everything before it must be there.
    let (gst_video, gst_audio) = packet_counts(&gst_out);
    assert_eq!(gst_video, video, "GStreamer video");
    assert!(
        gst_audio + 1 >= audio && gst_audio <= audio,
        "GStreamer audio {gst_audio} of {audio}"
    );
    // The late joiner starts at a keyframe 2-3 s in: about half the stream, all decodable.
    let (late_video, late_audio) = packet_counts(&late_out);
    assert!(
        late_video >= video / 3 && late_video < video,
        "late video {late_video}"
    );
    assert!(
        late_audio >= audio / 3 && late_audio < audio,
        "late audio {late_audio}"
    );
    for out in [&early_out, &rtmpdump_out, &gst_out, &late_out] {
        assert_decodes(out);
    }

    let events = events_until_quiet(&server);
    let count = |f: &dyn Fn(&Event) -> bool| events.iter().filter(|e| f(e)).count();
    assert_eq!(
        count(&|e| matches!(e, Event::Publish { stream, .. } if stream == "relay")),
        1
    );
    assert_eq!(
        count(&|e| matches!(e, Event::Play { stream, .. } if stream == "relay")),
        4
    );
    assert_eq!(
        count(&|e| matches!(e, Event::Unpublish { stream, .. } if stream == "relay")),
        1
    );
    assert!(count(&|e| matches!(e, Event::Metadata { .. })) >= 1);
}

#[test]
fn gstreamer_publish_is_relayed_to_ffmpeg() {
    let (_server, base) = start_server();
    let url = format!("{base}/gst");
    let (mut player, out) = ffmpeg_player("gst-ffmpeg-player", &url);
    std::thread::sleep(Duration::from_millis(1000));
    let mut publisher = support::gstreamer_publisher("gst-publisher", &url, &[]);
    publisher.finish(Duration::from_secs(20));
    player.finish(Duration::from_secs(10));
    let (video, audio) = packet_counts(&out);
    assert_eq!(video, 90, "every GStreamer video frame arrives");
    assert!(audio > 100, "audio arrives ({audio})");
    assert_decodes(&out);
}

#[test]
fn second_publisher_is_rejected_and_the_first_is_unharmed() {
    let (server, base) = start_server();
    let url = format!("{base}/busy");
    let (_, (video, audio)) = *source_flv();
    let (mut player, out) = ffmpeg_player("busy-player", &url);
    std::thread::sleep(Duration::from_millis(800));
    let mut first = publish_source("busy-first", &url);
    std::thread::sleep(Duration::from_millis(1500));
    let mut second = publish_source("busy-second", &url);
    let status = second.wait(Duration::from_secs(15));
    assert!(!status.success(), "the second publisher must be refused");
    first.finish(Duration::from_secs(20));
    player.finish(Duration::from_secs(10));
    assert_eq!(packet_counts(&out), (video, audio));
    assert_decodes(&out);
    let events = events_until_quiet(&server);
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::Unpublish { .. }))
            .count(),
        1,
        "only the first publisher ever published"
    );
}

#[test]
fn players_wait_through_unpublish_and_resume_on_republish() {
    let (server, base) = start_server();
    let addr = server.local_addrs()[0];
    let url = format!("{base}/again");
    let mut socket = TcpStream::connect(addr).unwrap();
    let mut client = ClientSession::new(ClientConfig::new("live", base.clone()), [3; 32], 0);
    drive(&mut client, &mut socket, Duration::from_secs(5), |c, e| {
        if matches!(e, ClientEvent::Connected { .. }) {
            c.play("again", -2.0, -1.0, true).unwrap();
        }
        matches!(e, ClientEvent::PlayStarted { .. })
    });

    let mut videos = [0usize; 2];
    for (round, count) in videos.iter_mut().enumerate() {
        let mut publisher = publish_source(&format!("again-publisher-{round}"), &url);
        let mut eof = false;
        drive(&mut client, &mut socket, Duration::from_secs(20), |_, e| {
            match e {
                ClientEvent::Media {
                    kind: rtmp_core::MediaKind::Video,
                    ..
                } => *count += 1,
                ClientEvent::StreamEof { .. } => eof = true,
                _ => {}
            }
            eof
        });
        publisher.finish(Duration::from_secs(10));
    }
    let (_, (video, _)) = *source_flv();
    // Each publish carries the AVC sequence header, every frame and ffmpeg's AVC
    // end-of-sequence tag.
    assert_eq!(videos, [video + 2, video + 2]);
}

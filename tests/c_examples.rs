//! The C examples against real peers: publish.c sends an FLV file to nginx-rtmp while
//! rtmpdump records it, and raw encoder output (H.264 Annex-B + AAC ADTS from ffmpeg) to
//! our server; poll_loop.c relays what ffmpeg publishes to a copy rtmpdump records; ingest.c
//! turns what ffmpeg publishes (one track, or ffmpeg 9's E-RTMP multitrack) into Annex-B
//! and ADTS files that decode to the source's pictures and sound. Every recording must
//! hold the source's frame counts and decode without a single error.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rtmp_core::media::flv::{FlvHeader, FlvWriter, TagKind};
use rtmp_core::{Event, MediaKind, Server};
use support::c_build::{compile, prefix, Link};
use support::{decode_errors, free_port, packet_counts, scratch, source_flv, Nginx, Peer};

/// Compiles a C example for one test (`test` names the binary: tests run in parallel),
/// against the shared library.
fn example(name: &str, test: &str) -> PathBuf {
    let binary = scratch().join(format!("example-{name}-{test}"));
    compile(&format!("examples/c/{name}.c"), &binary, Link::Shared);
    std::env::set_var("LD_LIBRARY_PATH", prefix().join("lib"));
    binary
}

fn wait_for_port(port: u16, peer: &Peer) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{}", peer.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn publish_c_sends_an_flv_file_to_nginx_and_rtmpdump_records_it_whole() {
    let binary = example("publish", "flv");
    let nginx = Nginx::start("publish-c");
    let url = nginx.url("from-c");
    let (source, (video, audio)) = source_flv().clone();
    let dump = scratch().join("publish-c-rtmpdump.flv");
    let _ = std::fs::remove_file(&dump);
    let mut rtmpdump = Peer::spawn(
        "publish-c-rtmpdump",
        "rtmpdump",
        &["-q", "-r", &url, "-o", dump.to_str().unwrap(), "-m", "3"],
    );
    std::thread::sleep(Duration::from_millis(500));
    let mut publisher = Peer::spawn(
        "publish-c",
        binary.to_str().unwrap(),
        &[source.to_str().unwrap(), &url],
    );
    publisher.finish(Duration::from_secs(30));
    // ffmpeg's FLV ends video with an AVC end-of-sequence tag, which publish.c counts.
    let log = publisher.log_text();
    let expected = format!("published video={} audio={audio}", video + 1);
    assert!(log.contains(&expected), "expected {expected:?} in:\n{log}");
    assert!(log.contains(" 0 dropped"), "{log}");
    rtmpdump.wait(Duration::from_secs(20));
    assert_eq!(
        packet_counts(&dump),
        (video, audio),
        "{}",
        rtmpdump.log_text()
    );
    assert_eq!(decode_errors(&dump), "");
}

/// Raw encoder output made by ffmpeg: 3 s of H.264 Annex-B without B-frames (30 fps, GOP
/// 30) and of AAC in ADTS, with their packet counts.
fn raw_sources() -> (PathBuf, PathBuf, usize, usize) {
    let h264 = scratch().join("raw.h264");
    let aac = scratch().join("raw.aac");
    for (args, out) in [
        (
            &[
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=320x240:rate=30",
                "-t",
                "3",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-bf",
                "0",
                "-g",
                "30",
                "-f",
                "h264",
            ][..],
            &h264,
        ),
        (
            &[
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=440:sample_rate=44100",
                "-t",
                "3",
                "-c:a",
                "aac",
                "-b:a",
                "64k",
                "-f",
                "adts",
            ][..],
            &aac,
        ),
    ] {
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-y"])
            .args(args)
            .arg(out)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let count = |path: &Path| {
        let out = Command::new("ffprobe")
            .args(["-v", "error", "-count_packets", "-show_entries"])
            .args(["stream=nb_read_packets", "-of", "csv=p=0"])
            .arg(path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    let (v, a) = (count(&h264), count(&aac));
    (h264, aac, v, a)
}

#[test]
fn publish_c_packages_raw_h264_and_aac_that_decode_cleanly() {
    let binary = example("publish", "raw");
    let (h264, aac, video, audio) = raw_sources();
    let server = Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .tap_all(true)
        .build()
        .unwrap();
    let url = format!("rtmp://{}/live/raw", server.local_addrs()[0]);
    let mut publisher = Peer::spawn(
        "publish-c-raw",
        binary.to_str().unwrap(),
        &[
            "--h264",
            h264.to_str().unwrap(),
            "--fps",
            "30",
            "--aac",
            aac.to_str().unwrap(),
            &url,
        ],
    );
    // Record what the server receives, as an FLV file.
    let recording = scratch().join("publish-c-raw.flv");
    let file = std::fs::File::create(&recording).unwrap();
    let mut writer = FlvWriter::new(file, &FlvHeader::default()).unwrap();
    let (mut frames, mut headers) = ((0, 0), (0, 0));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "{}", publisher.log_text());
        match server.next_event(Duration::from_millis(100)) {
            Some(Event::Frame { frame, .. }) => {
                let (kind, count, header) = match frame.kind {
                    MediaKind::Video => (TagKind::Video, &mut frames.0, &mut headers.0),
                    MediaKind::Audio => (TagKind::Audio, &mut frames.1, &mut headers.1),
                };
                if frame.sequence_header {
                    *header += 1;
                } else {
                    *count += 1;
                }
                writer.write(kind, frame.timestamp, &frame.payload).unwrap();
            }
            Some(Event::Unpublish { .. }) => break,
            _ => {}
        }
    }
    writer.flush().unwrap();
    publisher.finish(Duration::from_secs(10));
    let log = publisher.log_text();
    assert!(
        log.contains(&format!("published video={video} audio={audio}")),
        "{log}"
    );
    assert_eq!(frames, (video, audio));
    assert_eq!(
        headers,
        (1, 1),
        "one sequence header each: the config never changed"
    );
    assert_eq!(packet_counts(&recording), (video, audio));
    assert_eq!(decode_errors(&recording), "");
}

#[test]
fn poll_loop_c_relays_what_ffmpeg_publishes_to_a_copy_without_loss() {
    let binary = example("poll_loop", "relay");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut relay = Peer::spawn(
        "poll-loop-c",
        binary.to_str().unwrap(),
        &["--listen", &listen],
    );
    wait_for_port(port, &relay);
    let (source, (video, audio)) = source_flv().clone();
    let copy = scratch().join("poll-loop-copy.flv");
    let _ = std::fs::remove_file(&copy);
    // The player asks for the copy before anything is published.
    let copy_url = format!("rtmp://{listen}/live/src.copy");
    let mut rtmpdump = Peer::spawn(
        "poll-loop-rtmpdump",
        "rtmpdump",
        &[
            "-q",
            "-r",
            &copy_url,
            "-o",
            copy.to_str().unwrap(),
            "-m",
            "3",
        ],
    );
    std::thread::sleep(Duration::from_millis(500));
    let mut ffmpeg = Peer::spawn(
        "poll-loop-ffmpeg",
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
            &format!("rtmp://{listen}/live/src"),
        ],
    );
    ffmpeg.finish(Duration::from_secs(30));
    rtmpdump.wait(Duration::from_secs(20));
    relay.interrupt();
    relay.finish(Duration::from_secs(10));
    let log = relay.log_text();
    let expected = format!(
        "unpublish live/src relayed video={} audio={audio}",
        video + 1
    );
    assert!(log.contains(&expected), "expected {expected:?} in:\n{log}");
    assert!(
        log.contains("live/src.copy: ") && log.ends_with("stopped\n"),
        "{log}"
    );
    assert_eq!(
        packet_counts(&copy),
        (video, audio),
        "{}",
        rtmpdump.log_text()
    );
    assert_eq!(decode_errors(&copy), "");
}

/// The decoded pictures (or sound) of one stream of a file, as ffmpeg's per-frame hashes
/// without timestamps: equal lists mean a decoder saw the same media.
fn decoded_hashes(path: &Path, stream: &str) -> Vec<String> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-map", stream, "-f", "framemd5", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit(',').next().map(|h| h.trim().to_owned()))
        .collect()
}

/// An empty scratch directory for one test's files.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = scratch().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs examples/c/ingest.c writing into `out_dir` while `ffmpeg` publishes `source`
/// (`-c copy`, after `maps`) to `rtmp://ADDR/{path}`; returns ingest's log once that
/// publish has ended and ingest has stopped.
fn ingest_publish(
    test: &str,
    ffmpeg: &str,
    source: &Path,
    maps: &[&str],
    path: &str,
    out_dir: &Path,
) -> String {
    let binary = example("ingest", test);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut ingest = Peer::spawn(
        &format!("ingest-c-{test}"),
        binary.to_str().unwrap(),
        &["--listen", &listen, "--out", out_dir.to_str().unwrap()],
    );
    wait_for_port(port, &ingest);
    let url = format!("rtmp://{listen}/{path}");
    let mut args = vec!["-v", "error", "-i", source.to_str().unwrap()];
    args.extend_from_slice(maps);
    args.extend_from_slice(&["-c", "copy", "-f", "flv", &url]);
    let mut publisher = Peer::spawn(&format!("ingest-{test}-ffmpeg"), ffmpeg, &args);
    publisher.finish(Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ingest.log_text().contains(&format!("unpublish {path}")) {
        assert!(Instant::now() < deadline, "{}", ingest.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    ingest.interrupt();
    ingest.finish(Duration::from_secs(10));
    ingest.log_text()
}

#[test]
fn ingest_c_turns_what_ffmpeg_publishes_into_elementary_streams_that_decode_identically() {
    let out_dir = fresh_dir("ingest-c");
    let (source, (video, audio)) = source_flv().clone();
    let log = ingest_publish("ffmpeg", "ffmpeg", &source, &[], "live/cam/1", &out_dir);
    // ffmpeg ends the video with an AVC end-of-sequence tag: configuration, not a picture.
    let expected = format!("unpublish live/cam/1 video={video} audio={audio} skipped=0");
    assert!(log.contains(&expected), "expected {expected:?} in:\n{log}");

    // ffmpeg sends app "live/cam" and stream "1"; the '/' cannot stay in a file name.
    let h264 = out_dir.join("live_cam-1.h264");
    let aac = out_dir.join("live_cam-1.aac");
    assert_eq!(packet_counts(&h264), (video, 0));
    assert_eq!(packet_counts(&aac), (0, audio));
    assert_eq!(decode_errors(&h264), "");
    assert_eq!(decode_errors(&aac), "");
    let pictures = decoded_hashes(&source, "0:v");
    assert_eq!(pictures.len(), video);
    assert_eq!(
        decoded_hashes(&h264, "0:v"),
        pictures,
        "the Annex-B stream decodes to the source's pictures"
    );
    assert_eq!(
        decoded_hashes(&aac, "0:a"),
        decoded_hashes(&source, "0:a"),
        "the ADTS stream decodes to the source's sound"
    );
}

#[test]
fn ingest_c_splits_an_enhanced_rtmp_multitrack_publish_from_ffmpeg_9_by_track() {
    let out_dir = fresh_dir("ingest-c-multitrack");
    // Two renditions of one picture and a sound, in a container that holds them all.
    let source = out_dir.join("renditions.mkv");
    support::run_modern_ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=30",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        "3",
        "-filter_complex",
        "[0:v]split[a][b];[b]scale=160:120[small]",
        "-map",
        "[a]",
        "-map",
        "[small]",
        "-map",
        "1:a",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "30",
        "-c:a",
        "aac",
        source.to_str().unwrap(),
    ]);
    // ffmpeg 9 sends the second video stream as E-RTMP v2 multitrack track 1.
    let modern = support::modern_ffmpeg().to_str().unwrap();
    let log = ingest_publish(
        "multitrack",
        modern,
        &source,
        &["-map", "0"],
        "live/mt",
        &out_dir,
    );
    assert!(log.contains("skipped=0"), "{log}");
    for (file, stream) in [
        ("live-mt.h264", "0:v:0"),
        ("live-mt-t1.h264", "0:v:1"),
        ("live-mt.aac", "0:a"),
    ] {
        let path = out_dir.join(file);
        assert_eq!(decode_errors(&path), "", "{file}");
        let expected = decoded_hashes(&source, stream);
        assert!(expected.len() >= 90, "{stream}: 3 s of frames");
        assert_eq!(
            decoded_hashes(&path, "0"),
            expected,
            "{file} against {stream}"
        );
    }
}

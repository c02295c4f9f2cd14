//! Helpers for tests that run real peers (ffmpeg, rtmpdump, GStreamer) against the server.
#![allow(dead_code)]

pub mod c_build;
pub mod elementary;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Panics with a clear message if a peer the test needs is not installed: interop tests
/// never skip silently. `bash scripts/install-test-deps.sh` installs them all.
pub fn require(program: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        found,
        "{program} is not installed: run `bash scripts/install-test-deps.sh` first"
    );
}

/// A child process killed when dropped, so a failing test leaves nothing behind.
pub struct Peer {
    pub name: String,
    child: Child,
    log: PathBuf,
}

impl Peer {
    pub fn spawn(name: &str, program: &str, args: &[&str]) -> Peer {
        require(program);
        let log = scratch().join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        Peer {
            name: name.to_owned(),
            child,
            log,
        }
    }

    /// Waits for the process to exit; panics after `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!(
                    "{} did not finish in {timeout:?}; log:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGINT (GStreamer's -e turns it into a clean end of stream).
    pub fn interrupt(&self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` without failing; kills the process if it is still running.
    pub fn wait_quiet(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        None
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits and checks the exit status is success.
    pub fn finish(&mut self, timeout: Duration) {
        let status = self.wait(timeout);
        assert!(
            status.success(),
            "{} failed ({status}):\n{}",
            self.name,
            self.log_text()
        );
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory for this test run's files.
pub fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Video and audio packet counts of a media file, by ffprobe.
pub fn packet_counts(path: &Path) -> (usize, usize) {
    require("ffprobe");
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_packets", "-show_entries"])
        .args(["stream=codec_type,nb_read_packets", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let (mut video, mut audio) = (0, 0);
    for line in text.lines() {
        let mut parts = line.split(',');
        let kind = parts.next().unwrap_or("");
        let count: usize = parts
            .next()
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or(0);
        match kind {
            "video" => video = count,
            "audio" => audio = count,
            _ => {}
        }
    }
    (video, audio)
}

/// What ffmpeg reports while decoding every frame of a file (empty: decodes cleanly).
pub fn decode_errors(path: &Path) -> String {
    require("ffmpeg");
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        text.push_str(&format!("\nffmpeg exited with {}", out.status));
    }
    text
}

/// A 6 s H.264 (30 fps, GOP 30) + AAC FLV made once per test run, and its packet counts.
pub fn source_flv() -> &'static (PathBuf, (usize, usize)) {
    static SOURCE: OnceLock<(PathBuf, (usize, usize))> = OnceLock::new();
    SOURCE.get_or_init(|| {
        require("ffmpeg");
        let path = scratch().join("source.flv");
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-y"])
            .args(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30"])
            .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"])
            .args([
                "-t",
                "6",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-g",
                "30",
            ])
            .args(["-b:v", "500k", "-c:a", "aac", "-b:a", "64k", "-f", "flv"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success(), "cannot make the source file");
        let counts = packet_counts(&path);
        (path, counts)
    })
}

/// Drives a `ClientSession` over a blocking socket until `stop` returns true for an event;
/// panics after `timeout`.
pub fn drive(
    session: &mut rtmp_core::session::ClientSession,
    socket: &mut TcpStream,
    timeout: Duration,
    mut stop: impl FnMut(
        &mut rtmp_core::session::ClientSession,
        &rtmp_core::session::ClientEvent,
    ) -> bool,
) {
    let start = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    loop {
        let mut wire = Vec::new();
        while let Some(out) = session.poll_transmit() {
            out.write_to(&mut wire);
        }
        socket.write_all(&wire).unwrap();
        while let Some(event) = session.poll_event() {
            if stop(session, &event) {
                return;
            }
        }
        assert!(start.elapsed() < timeout, "timed out after {timeout:?}");
        match socket.read(&mut buf) {
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

/// Writes what a `ClientSession` has queued.
pub fn send_pending(session: &mut rtmp_core::session::ClientSession, socket: &mut TcpStream) {
    let mut wire = Vec::new();
    while let Some(out) = session.poll_transmit() {
        out.write_to(&mut wire);
    }
    socket.write_all(&wire).unwrap();
}

/// Connects a `ClientSession` to `addr` for app "live" and waits for the connect result.
pub fn connect_client(
    addr: std::net::SocketAddr,
) -> (rtmp_core::session::ClientSession, TcpStream) {
    use rtmp_core::session::{ClientConfig, ClientEvent, ClientSession};
    let mut socket = TcpStream::connect(addr).unwrap();
    let config = ClientConfig::new("live", format!("rtmp://{addr}/live"));
    let mut client = ClientSession::new(config, [3; 32], 0);
    drive(&mut client, &mut socket, Duration::from_secs(5), |_, e| {
        matches!(
            e,
            ClientEvent::Connected { .. } | ClientEvent::ConnectFailed { .. }
        )
    });
    (client, socket)
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough for a test's own peers).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A throwaway nginx-rtmp (tests/tools/run_nginx_rtmp.sh), stopped when dropped.
pub struct Nginx {
    pub port: u16,
    /// The rtmps:// port, where nginx's stream module terminates TLS (OpenSSL).
    pub tls_port: Option<u16>,
    peer: Peer,
}

impl Nginx {
    pub fn start(name: &str) -> Nginx {
        Self::start_with(name, None)
    }

    /// nginx-rtmp with TLS in front of it on a second port, with `cert`.
    pub fn start_tls(name: &str, cert: &TestCert) -> Nginx {
        Self::start_with(name, Some(cert))
    }

    fn start_with(name: &str, cert: Option<&TestCert>) -> Nginx {
        require("nginx");
        let port = free_port();
        let tls_port = cert.map(|_| free_port());
        let dir = scratch().join(format!("nginx-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/run_nginx_rtmp.sh");
        // `env` execs the script, which execs nginx: the pid stays the master's.
        let mut args = Vec::new();
        if let (Some(cert), Some(tls_port)) = (cert, tls_port) {
            args.push(format!("NGINX_RTMPS_PORT={tls_port}"));
            args.push(format!("NGINX_RTMPS_CERT={}", cert.cert.display()));
            args.push(format!("NGINX_RTMPS_KEY={}", cert.key.display()));
        }
        args.extend([
            "bash".to_owned(),
            script.to_str().unwrap().to_owned(),
            port.to_string(),
            dir.to_str().unwrap().to_owned(),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let peer = Peer::spawn(&format!("nginx-{name}"), "env", &args);
        let deadline = Instant::now() + Duration::from_secs(10);
        for port in std::iter::once(port).chain(tls_port) {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "nginx did not start:\n{}",
                    peer.log_text()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Nginx {
            port,
            tls_port,
            peer,
        }
    }

    pub fn url(&self, stream: &str) -> String {
        format!("rtmp://127.0.0.1:{}/live/{stream}", self.port)
    }

    /// The rtmps:// URL of `stream` (for `start_tls`), with `host` (the certificate
    /// names localhost and 127.0.0.1).
    pub fn tls_url(&self, host: &str, stream: &str) -> String {
        let port = self.tls_port.expect("nginx started without TLS");
        format!("rtmps://{host}:{port}/live/{stream}")
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // nginx's master quits on TERM; Peer's drop then reaps it.
        let _ = Command::new("kill")
            .args(["-TERM", &self.peer.pid().to_string()])
            .status();
        let _ = self.peer.wait_quiet(Duration::from_secs(5));
    }
}

/// The audio and video tags of an FLV file: (type id, timestamp, body).
pub fn flv_media_tags(path: &Path) -> Vec<(u8, u32, bytes::Bytes)> {
    use rtmp_core::media::flv::{FlvReader, TagKind};
    let data = bytes::Bytes::from(std::fs::read(path).unwrap());
    FlvReader::from_bytes(data)
        .unwrap()
        .map(|t| t.unwrap())
        .filter(|t| t.kind != TagKind::Script)
        .map(|t| (t.kind.type_id(), t.timestamp, t.body))
        .collect()
}

/// The modern static ffmpeg (9.x: Enhanced RTMP, HEVC/AV1/VP9/Opus encoders, OpenSSL) from
/// imageio-ffmpeg in this repository's `target/test-venv`.
pub fn modern_ffmpeg() -> &'static Path {
    static FFMPEG: OnceLock<PathBuf> = OnceLock::new();
    FFMPEG.get_or_init(|| {
        let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venv/bin/python");
        let out = Command::new(&python)
            .args([
                "-c",
                "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())",
            ])
            .output();
        let path = match out {
            Ok(out) if out.status.success() => {
                PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
            }
            _ => panic!(
                "{} cannot find imageio-ffmpeg: run `bash scripts/install-test-deps.sh` first",
                python.display()
            ),
        };
        assert!(path.exists(), "{} is missing", path.display());
        path
    })
}

/// A throwaway self-signed certificate for `localhost` and `127.0.0.1` (an end-entity
/// certificate, not a CA), made with the openssl CLI in the scratch directory.
pub struct TestCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCert {
    pub fn new(name: &str) -> TestCert {
        require("openssl");
        let dir = scratch().join(format!("cert-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let out = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
            .args(["-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl req failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        TestCert { cert, key }
    }

    pub fn cert_pem(&self) -> Vec<u8> {
        std::fs::read(&self.cert).unwrap()
    }

    pub fn key_pem(&self) -> Vec<u8> {
        std::fs::read(&self.key).unwrap()
    }
}

/// One stream of a media file as the modern ffmpeg demuxes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSummary {
    /// "video" or "audio".
    pub media_type: String,
    /// ffmpeg's codec name: h264, hevc, av1, vp9, aac, opus, ...
    pub codec: String,
    pub packets: usize,
}

/// The streams of a file (or URL) with their codecs and packet counts, from the modern
/// ffmpeg's framemd5 (it reads Enhanced RTMP FLV, which Debian's ffprobe 5.1 does not).
pub fn stream_summary(path: &Path) -> Vec<StreamSummary> {
    let out = Command::new(modern_ffmpeg())
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-map", "0", "-c", "copy", "-f", "framemd5", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg cannot read {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut streams: Vec<StreamSummary> = Vec::new();
    let stream = |streams: &mut Vec<StreamSummary>, index: usize| -> usize {
        while streams.len() <= index {
            streams.push(StreamSummary {
                media_type: String::new(),
                codec: String::new(),
                packets: 0,
            });
        }
        index
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix('#') {
            // "#codec_id 0: h264", "#media_type 1: audio"
            let Some((key, value)) = rest.split_once(": ") else {
                continue;
            };
            let Some((name, index)) = key.split_once(' ') else {
                continue;
            };
            let Ok(index) = index.trim().parse::<usize>() else {
                continue;
            };
            let i = stream(&mut streams, index);
            match name {
                "codec_id" => streams[i].codec = value.trim().to_owned(),
                "media_type" => streams[i].media_type = value.trim().to_owned(),
                _ => {}
            }
        } else if let Some(Ok(index)) = line.split(',').next().map(|s| s.trim().parse::<usize>()) {
            let i = stream(&mut streams, index);
            streams[i].packets += 1;
        }
    }
    streams
}

/// What the modern ffmpeg reports while decoding every frame of a file (empty: clean).
pub fn modern_decode_errors(path: &Path) -> String {
    let out = Command::new(modern_ffmpeg())
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        text.push_str(&format!("\nffmpeg exited with {}", out.status));
    }
    text
}

/// Runs the modern ffmpeg with `args` to completion (file generation); panics on failure.
pub fn run_modern_ffmpeg(args: &[&str]) {
    let out = Command::new(modern_ffmpeg())
        .args(["-hide_banner", "-v", "error", "-y"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A client frame from an FLV tag (type id, timestamp, body).
pub fn frame_of(tag: &(u8, u32, bytes::Bytes)) -> rtmp_core::Frame {
    let kind = if tag.0 == 9 {
        rtmp_core::MediaKind::Video
    } else {
        rtmp_core::MediaKind::Audio
    };
    rtmp_core::Frame::from_tag(kind, tag.1, tag.2.clone())
}

/// Plays `url` with our client in a thread, collecting (type id, body) of every frame
/// until the stream ends.
pub fn collect_play(
    url: String,
    options: rtmp_core::client::ClientOptions,
) -> std::thread::JoinHandle<Vec<(u8, bytes::Bytes)>> {
    use rtmp_core::client::{Client, ClientNotice};
    std::thread::spawn(move || {
        let client = Client::play(&url, options).unwrap();
        client.wait_started(Duration::from_secs(10)).unwrap();
        let mut frames = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            match client.next_notice(Duration::from_millis(100)) {
                Some(ClientNotice::Frame(f)) => frames.push((f.kind.type_id(), f.payload)),
                Some(ClientNotice::StreamEnd) | Some(ClientNotice::Disconnected { .. }) => break,
                _ => {}
            }
        }
        frames
    })
}

/// The bodies of one kind (8 audio, 9 video), in order. Servers may interleave the two
/// kinds differently at the start (nginx sends the audio header first), but each kind's
/// order is the publisher's.
pub fn bodies(frames: &[(u8, bytes::Bytes)], type_id: u8) -> Vec<bytes::Bytes> {
    frames
        .iter()
        .filter(|f| f.0 == type_id)
        .map(|f| f.1.clone())
        .collect()
}

/// Publishes FLV tags with `client`, paced at `speed` times real time.
pub fn publish_tags(
    client: &rtmp_core::client::Client,
    tags: &[(u8, u32, bytes::Bytes)],
    speed: u32,
) {
    let frames: Vec<rtmp_core::Frame> = tags.iter().map(frame_of).collect();
    publish_frames(client, &frames, speed);
}

/// Sends `frames` with `client`, paced by their timestamps at `speed` times real time.
pub fn publish_frames(client: &rtmp_core::client::Client, frames: &[rtmp_core::Frame], speed: u32) {
    let start = Instant::now();
    for frame in frames {
        let due = start + Duration::from_millis(frame.timestamp as u64 / speed as u64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        client.send(frame.clone()).unwrap();
    }
}

/// GStreamer publishing 3 s of 320x240 30 fps H.264 (90 frames, keyframe every 30) and
/// ~130 AAC frames through rtmp2sink to `url`; `sink_options` go to rtmp2sink. The
/// sources are not live: their timestamps count samples and rtmp2sink paces them (live
/// sources under load hand flvmux late audio, which it clamps to equal timestamps, and
/// ffmpeg rightly flags those).
pub fn gstreamer_publisher(name: &str, url: &str, sink_options: &[&str]) -> Peer {
    let location = format!("location={url}");
    let mut args = vec![
        "-q",
        "-e",
        "videotestsrc",
        "num-buffers=90",
        "is-live=false",
        "!",
        "video/x-raw,width=320,height=240,framerate=30/1",
        "!",
        "x264enc",
        "tune=zerolatency",
        "key-int-max=30",
        "!",
        "h264parse",
        "!",
        "flvmux",
        "streamable=true",
        "name=mux",
        "!",
        "rtmp2sink",
        &location,
    ];
    args.extend_from_slice(sink_options);
    args.extend_from_slice(&[
        "audiotestsrc",
        "is-live=false",
        "num-buffers=130",
        "!",
        "audioconvert",
        "!",
        "voaacenc",
        "!",
        "aacparse",
        "!",
        "mux.",
    ]);
    Peer::spawn(name, "gst-launch-1.0", &args)
}

//! Helpers for tests that run real peers (ffmpeg, rtmpdump, GStreamer) against the server.
#![allow(dead_code)]

pub mod c_build;

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
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
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
    peer: Peer,
}

impl Nginx {
    pub fn start(name: &str) -> Nginx {
        require("nginx");
        let port = free_port();
        let dir = scratch().join(format!("nginx-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/run_nginx_rtmp.sh");
        let peer = Peer::spawn(
            &format!("nginx-{name}"),
            "bash",
            &[
                script.to_str().unwrap(),
                &port.to_string(),
                dir.to_str().unwrap(),
            ],
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not start:\n{}",
                peer.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx { port, peer }
    }

    pub fn url(&self, stream: &str) -> String {
        format!("rtmp://127.0.0.1:{}/live/{stream}", self.port)
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

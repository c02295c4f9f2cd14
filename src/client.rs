//! A publishing or playing RTMP client on a library-owned I/O thread, over rtmp:// or
//! rtmps:// (TLS with rustls; see [`TlsOptions`]).
//!
//! An encoder hands frames to [`Client::send`], which never blocks: frames go into a
//! bounded send queue that the I/O thread drains as the network allows. When the queue
//! grows, the congestion policy drops what a decoder can do without (non-reference
//! frames first, then inter frames until the next keyframe), never audio, keyframes,
//! metadata or sequence headers.
//!
//! ```no_run
//! use rtmp_core::client::{Client, ClientOptions};
//! use rtmp_core::{Frame, MediaKind};
//!
//! let client = Client::publish("rtmp://127.0.0.1/live/key", ClientOptions::default())?;
//! client.wait_started(std::time::Duration::from_secs(5))?;
//! client.send(Frame::from_tag(MediaKind::Video, 0, vec![0x17, 0, 0, 0, 0].into()))?;
//! client.close();
//! # Ok::<(), rtmp_core::Error>(())
//! ```

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::hub::Frame;
use crate::protocol::amf0::Amf0Value;
use crate::protocol::command::{PublishType, Status};
use crate::protocol::handshake::HandshakeMode;
use crate::runtime::{client_io, tls};
use crate::session::MediaKind;

/// A parsed rtmp:// URL: `rtmp://host[:port]/app[/instance]/stream[?query]`.
///
/// The application is the first path segment; the stream name is the rest, with its
/// query string (services read tokens from it). Use [`RtmpUrl::with_stream`] when the
/// application itself has several segments (OBS's "server" + "stream key" split).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpUrl {
    pub secure: bool,
    pub host: String,
    pub port: u16,
    pub app: String,
    pub stream: String,
    /// The URL of the application, sent as tcUrl in connect.
    pub tc_url: String,
}

impl RtmpUrl {
    /// Parses a full URL including the stream name.
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |why: &str| Error::InvalidUrl(format!("{url:?}: {why}"));
        let (secure, rest) = if let Some(r) = url.strip_prefix("rtmp://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("rtmps://") {
            (true, r)
        } else {
            return Err(bad("scheme must be rtmp:// or rtmps://"));
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        let port = match port {
            Some(p) => p.parse::<u16>().map_err(|_| bad("invalid port"))?,
            None if secure => 443,
            None => 1935,
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let (app, stream) = path.split_once('/').unwrap_or((path, ""));
        if app.is_empty() {
            return Err(bad("no application"));
        }
        let scheme = if secure { "rtmps" } else { "rtmp" };
        Ok(RtmpUrl {
            secure,
            host: host.to_owned(),
            port,
            app: app.to_owned(),
            stream: stream.to_owned(),
            tc_url: format!("{scheme}://{authority}/{app}"),
        })
    }

    /// Parses a server URL (`rtmp://host/app/instance`, all of the path being the
    /// application) and takes the stream name separately, as OBS asks for them.
    pub fn with_stream(server: &str, stream: &str) -> Result<Self> {
        let mut url = Self::parse(server)?;
        if !url.stream.is_empty() {
            url.app = format!("{}/{}", url.app, url.stream);
        }
        url.tc_url = server.trim_end_matches('/').to_owned();
        url.stream = stream.to_owned();
        Ok(url)
    }
}

/// When the send queue is over these durations (by media timestamps), frames are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CongestionPolicy {
    /// Above this, non-reference video frames (B-frames, disposable frames) are dropped.
    pub drop_disposable_after: Duration,
    /// Above this, inter frames are dropped until the next keyframe.
    pub drop_inter_after: Duration,
    /// Above this many queued bytes, `send` fails with [`Error::QueueFull`].
    pub max_queued_bytes: usize,
}

impl Default for CongestionPolicy {
    fn default() -> Self {
        CongestionPolicy {
            drop_disposable_after: Duration::from_millis(700),
            drop_inter_after: Duration::from_millis(900),
            max_queued_bytes: 64 << 20,
        }
    }
}

/// Automatic reconnection after a lost connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// Attempts before giving up (0: forever).
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            max_attempts: 0,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(15),
        }
    }
}

/// How an rtmps:// client checks the server's certificate. The default verifies it
/// against the operating system's trusted roots, for the URL's host name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Trust these certificates (PEM, one or more) instead of the system's roots: a
    /// private CA, or a self-signed server certificate itself.
    pub ca_pem: Option<Vec<u8>>,
    /// Accept any certificate, valid or not. The connection is still encrypted but not
    /// authenticated: anyone on the path can impersonate the server. For test servers
    /// with throwaway certificates only.
    pub insecure_skip_verify: bool,
    /// The name sent as SNI and checked against the certificate, when it is not the URL's
    /// host (connecting by IP address to a server whose certificate names a host).
    pub server_name: Option<String>,
}

/// Client settings; `Default` is what an encoder usually wants.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub flash_ver: String,
    pub handshake_mode: HandshakeMode,
    pub connect_timeout: Duration,
    pub publish_type: PublishType,
    pub congestion: CongestionPolicy,
    /// `None`: a lost connection ends the client.
    pub reconnect: Option<ReconnectPolicy>,
    /// Playing: start position (-2 live or recorded, -1 live only) and duration (-1 all).
    pub play_start: f64,
    pub play_duration: f64,
    /// Certificate checks for rtmps:// URLs (ignored for rtmp://).
    pub tls: TlsOptions,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            flash_ver: "FMLE/3.0 (compatible; rtmp_core)".into(),
            handshake_mode: HandshakeMode::Digest,
            connect_timeout: Duration::from_secs(10),
            publish_type: PublishType::Live,
            congestion: CongestionPolicy::default(),
            reconnect: None,
            play_start: -2.0,
            play_duration: -1.0,
            tls: TlsOptions::default(),
        }
    }
}

/// What a client reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientNotice {
    Connected,
    PublishStarted,
    PlayStarted,
    /// Any onStatus from the server.
    Status(Status),
    /// A frame while playing.
    Frame(Frame),
    /// Metadata while playing.
    Metadata(Amf0Value),
    /// The played stream's publisher stopped (StreamEOF); the server may resume it.
    StreamEnd,
    /// The connection was lost or refused; a reconnect follows after `after`.
    Reconnecting {
        attempt: u32,
        after: Duration,
        reason: String,
    },
    /// The client stopped for good (closed, refused, or out of reconnect attempts).
    Disconnected {
        reason: String,
    },
}

/// Counters of a client.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientStats {
    /// Media duration waiting in the send queue.
    pub queued: Duration,
    pub queued_bytes: usize,
    pub bytes_sent: u64,
    pub frames_sent: u64,
    pub frames_dropped: u64,
    /// Bits per second sent over the client's life.
    pub bitrate_bps: f64,
    /// Latest round trip measured with a ping, if any.
    pub rtt: Option<Duration>,
    pub reconnects: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Publish,
    Play,
}

/// What the application queued for the I/O thread.
#[derive(Debug)]
pub(crate) enum Outbound {
    Frame(Frame),
    Metadata(Amf0Value),
}

/// The send queue with the congestion policy applied on every push.
#[derive(Debug, Default)]
pub(crate) struct SendQueue {
    pub items: VecDeque<Outbound>,
    pub bytes: usize,
    /// Dropping inter frames until the next keyframe.
    pub waiting_for_keyframe: bool,
    pub dropped: u64,
}

impl SendQueue {
    /// Media time between the earliest and latest queued frames. Audio and video
    /// interleave with timestamps slightly out of order (an audio frame a few ms before
    /// the video frame queued ahead of it), and timestamps wrap after 2^32 ms: offsets
    /// are taken from the first frame, signed.
    pub fn duration(&self) -> Duration {
        let mut times = self.items.iter().filter_map(|i| match i {
            Outbound::Frame(f) => Some(f.timestamp),
            Outbound::Metadata(_) => None,
        });
        let Some(first) = times.next() else {
            return Duration::ZERO;
        };
        let (mut low, mut high) = (0i64, 0i64);
        for t in times {
            let offset = i64::from(t.wrapping_sub(first) as i32);
            low = low.min(offset);
            high = high.max(offset);
        }
        Duration::from_millis((high - low) as u64)
    }

    pub fn pop(&mut self) -> Option<Outbound> {
        let item = self.items.pop_front()?;
        if let Outbound::Frame(f) = &item {
            self.bytes -= f.payload.len();
        }
        Some(item)
    }

    fn push(&mut self, frame: Frame, policy: &CongestionPolicy) -> Result<()> {
        // Sequence headers are always taken: a packager sends one only when the
        // configuration appears or changes, so a refused header would leave every later
        // frame undecodable. They are small.
        if !frame.sequence_header && self.bytes + frame.payload.len() > policy.max_queued_bytes {
            return Err(Error::QueueFull);
        }
        let droppable_video = is_inter_picture(&frame);
        if frame.kind == MediaKind::Video && frame.keyframe {
            self.waiting_for_keyframe = false;
        }
        if droppable_video && self.waiting_for_keyframe {
            self.dropped += 1;
            return Ok(());
        }
        self.bytes += frame.payload.len();
        self.items.push_back(Outbound::Frame(frame));
        let queued = self.duration();
        if queued > policy.drop_inter_after {
            self.drop_where(is_inter_picture);
            self.waiting_for_keyframe = true;
        } else if queued > policy.drop_disposable_after {
            self.drop_where(is_disposable);
        }
        Ok(())
    }

    fn drop_where(&mut self, mut drop: impl FnMut(&Frame) -> bool) {
        let before = self.items.len();
        let mut freed = 0;
        self.items.retain(|item| match item {
            Outbound::Frame(f) if drop(f) => {
                freed += f.payload.len();
                false
            }
            _ => true,
        });
        self.bytes -= freed;
        self.dropped += (before - self.items.len()) as u64;
    }
}

/// A video frame with a picture that is not a keyframe: what the policy may drop until the
/// next keyframe. Sequence headers, ends of sequence, metadata and command frames stay.
fn is_inter_picture(frame: &Frame) -> bool {
    frame.kind == MediaKind::Video
        && !frame.keyframe
        && !frame.sequence_header
        && crate::media::flv::video_tag_info(&frame.payload)
            .is_some_and(|info| info.packet == crate::media::flv::VideoPacket::CodedFrames)
}

/// A video frame no other frame refers to: FLV's disposable frame type, or an AVC frame
/// whose NAL units all have nal_ref_idc 0 (B-frames as x264 and NVENC emit them).
pub(crate) fn is_disposable(frame: &Frame) -> bool {
    if !is_inter_picture(frame) {
        return false;
    }
    let body = &frame.payload[..];
    let Some(&first) = body.first() else {
        return false;
    };
    if first & 0x80 == 0 && (first >> 4) & 0x07 == 3 {
        return true;
    }
    if first & 0x80 != 0 || first & 0x0F != 7 || body.get(1) != Some(&1) {
        return false;
    }
    // AVCC: 4-byte lengths after the 5-byte tag header.
    let mut rest = &body[5.min(body.len())..];
    let mut slices = 0;
    while rest.len() >= 5 {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let nal = rest[4];
        let nal_type = nal & 0x1F;
        if (1..=5).contains(&nal_type) {
            if (nal >> 5) & 0x03 != 0 {
                return false;
            }
            slices += 1;
        }
        rest = rest.get(4 + len..).unwrap_or(&[]);
    }
    slices > 0
}

/// State shared by the application's handle and the I/O thread.
#[derive(Debug)]
pub(crate) struct ClientShared {
    pub url: RtmpUrl,
    pub options: ClientOptions,
    pub mode: Mode,
    /// Set for rtmps:// URLs.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub queue: Mutex<SendQueue>,
    pub started: Mutex<Option<std::result::Result<(), StartFailure>>>,
    pub started_changed: Condvar,
    pub closing: AtomicBool,
    pub bytes_sent: AtomicU64,
    pub frames_sent: AtomicU64,
    pub rtt_us: AtomicU64,
    pub reconnects: AtomicU64,
    pub created: Instant,
    /// Metadata and sequence headers, resent after a reconnect.
    pub replay: Mutex<Replay>,
    pub waker: Mutex<Option<Arc<mio::Waker>>>,
}

/// Why publishing or playing did not start.
#[derive(Debug, Clone)]
pub(crate) enum StartFailure {
    /// TLS failed: the certificate was rejected, or the handshake failed.
    Tls(String),
    Other(String),
}

#[derive(Debug, Default)]
pub(crate) struct Replay {
    pub metadata: Option<Amf0Value>,
    pub headers: crate::hub::SequenceHeaders,
}

impl ClientShared {
    pub fn wake(&self) {
        if let Some(w) = self.waker.lock().as_ref() {
            let _ = w.wake();
        }
    }
}

/// A publishing or playing RTMP client. Dropping it closes it.
pub struct Client {
    shared: Arc<ClientShared>,
    notices: Receiver<ClientNotice>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.shared.url.tc_url)
            .field("stream", &self.shared.url.stream)
            .finish()
    }
}

impl Client {
    /// Connects and publishes to `url` (rtmp://host/app/stream). Returns at once; frames
    /// sent before the publish starts wait in the queue.
    pub fn publish(url: &str, options: ClientOptions) -> Result<Client> {
        Self::start(RtmpUrl::parse(url)?, options, Mode::Publish)
    }

    /// Like [`publish`](Self::publish) with an already parsed URL.
    pub fn publish_url(url: RtmpUrl, options: ClientOptions) -> Result<Client> {
        Self::start(url, options, Mode::Publish)
    }

    /// Connects and plays `url`; frames arrive as [`ClientNotice::Frame`].
    pub fn play(url: &str, options: ClientOptions) -> Result<Client> {
        Self::start(RtmpUrl::parse(url)?, options, Mode::Play)
    }

    fn start(url: RtmpUrl, options: ClientOptions, mode: Mode) -> Result<Client> {
        if url.stream.is_empty() {
            return Err(Error::InvalidState("the URL names no stream"));
        }
        let tls = if url.secure {
            tls::check_server_name(options.tls.server_name.as_ref().unwrap_or(&url.host))?;
            Some(tls::client_config(&options.tls)?)
        } else {
            None
        };
        let shared = Arc::new(ClientShared {
            url,
            options,
            mode,
            tls,
            queue: Mutex::new(SendQueue::default()),
            started: Mutex::new(None),
            started_changed: Condvar::new(),
            closing: AtomicBool::new(false),
            bytes_sent: AtomicU64::new(0),
            frames_sent: AtomicU64::new(0),
            rtt_us: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            created: Instant::now(),
            replay: Mutex::new(Replay::default()),
            waker: Mutex::new(None),
        });
        let (tx, notices) = crossbeam_channel::unbounded();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("rtmp-client".into())
            .spawn(move || client_io::run(thread_shared, tx))?;
        Ok(Client {
            shared,
            notices,
            thread: Some(thread),
        })
    }

    /// Waits until publishing or playing started; the error says why it did not.
    pub fn wait_started(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut started = self.shared.started.lock();
        loop {
            match started.as_ref() {
                Some(Ok(())) => return Ok(()),
                Some(Err(StartFailure::Tls(reason))) => return Err(Error::Tls(reason.clone())),
                Some(Err(StartFailure::Other(reason))) => {
                    return Err(Error::Protocol(reason.clone()))
                }
                None => {}
            }
            if self
                .shared
                .started_changed
                .wait_until(&mut started, deadline)
                .timed_out()
            {
                return Err(Error::Timeout("publish or play did not start"));
            }
        }
    }

    /// Queues a frame (an FLV tag body with its flags; see [`Frame::from_tag`]). Never
    /// blocks. Sequence headers are remembered and resent after a reconnect.
    pub fn send(&self, frame: Frame) -> Result<()> {
        if self.shared.mode != Mode::Publish {
            return Err(Error::InvalidState("the client is playing, not publishing"));
        }
        if self.shared.closing.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        if frame.sequence_header {
            self.shared.replay.lock().headers.remember(&frame);
        }
        self.shared
            .queue
            .lock()
            .push(frame, &self.shared.options.congestion)?;
        self.shared.wake();
        Ok(())
    }

    /// Queues stream metadata (sent as `@setDataFrame onMetaData`).
    pub fn set_metadata(&self, metadata: Amf0Value) -> Result<()> {
        if self.shared.mode != Mode::Publish {
            return Err(Error::InvalidState("the client is playing, not publishing"));
        }
        self.shared.replay.lock().metadata = Some(metadata.clone());
        self.shared
            .queue
            .lock()
            .items
            .push_back(Outbound::Metadata(metadata));
        self.shared.wake();
        Ok(())
    }

    /// Waits up to `timeout` for the next notice.
    pub fn next_notice(&self, timeout: Duration) -> Option<ClientNotice> {
        self.notices.recv_timeout(timeout).ok()
    }

    /// The notice channel, for `select!`.
    pub fn notices(&self) -> &Receiver<ClientNotice> {
        &self.notices
    }

    /// Current counters.
    pub fn stats(&self) -> ClientStats {
        let queue = self.shared.queue.lock();
        let bytes_sent = self.shared.bytes_sent.load(Ordering::Relaxed);
        let secs = self.shared.created.elapsed().as_secs_f64().max(1e-3);
        let rtt = self.shared.rtt_us.load(Ordering::Relaxed);
        ClientStats {
            queued: queue.duration(),
            queued_bytes: queue.bytes,
            bytes_sent,
            frames_sent: self.shared.frames_sent.load(Ordering::Relaxed),
            frames_dropped: queue.dropped,
            bitrate_bps: bytes_sent as f64 * 8.0 / secs,
            rtt: (rtt > 0).then(|| Duration::from_micros(rtt)),
            reconnects: self.shared.reconnects.load(Ordering::Relaxed) as u32,
        }
    }

    /// Sends what is queued (up to 5 s), unpublishes and closes.
    pub fn close(mut self) {
        self.stop();
    }

    /// Like [`close`](Self::close), keeping the client for a last look at its
    /// [`stats`](Self::stats) (the C binding's close-then-free).
    pub(crate) fn close_in_place(&mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.closing.store(true, Ordering::Release);
        self.shared.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_app_and_stream() {
        let u = RtmpUrl::parse("rtmp://a.example:1936/live/key?token=x").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("a.example", 1936));
        assert_eq!(u.app, "live");
        assert_eq!(u.stream, "key?token=x");
        assert_eq!(u.tc_url, "rtmp://a.example:1936/live");
        let u = RtmpUrl::parse("rtmp://127.0.0.1/live/nested/name").unwrap();
        assert_eq!(
            (u.port, u.app.as_str(), u.stream.as_str()),
            (1935, "live", "nested/name")
        );
        let u = RtmpUrl::parse("rtmps://[::1]/app/s").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.secure), ("::1", 443, true));
        let u = RtmpUrl::with_stream("rtmp://h/app/instance", "key").unwrap();
        assert_eq!((u.app.as_str(), u.stream.as_str()), ("app/instance", "key"));
        assert_eq!(u.tc_url, "rtmp://h/app/instance");
        for bad in ["http://h/a/s", "rtmp:///a/s", "rtmp://h", "rtmp://h:x/a/s"] {
            assert!(RtmpUrl::parse(bad).is_err(), "{bad}");
        }
    }

    fn frame(kind: MediaKind, ts: u32, body: &[u8]) -> Frame {
        Frame::from_tag(kind, ts, bytes::Bytes::copy_from_slice(body))
    }

    /// An AVC inter frame whose one slice has the given nal_ref_idc.
    fn avc_inter(ts: u32, ref_idc: u8) -> Frame {
        let nal = [(ref_idc << 5) | 1, 0x9A, 0x00];
        let mut body = vec![0x27, 1, 0, 0, 0];
        body.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        body.extend_from_slice(&nal);
        frame(MediaKind::Video, ts, &body)
    }

    #[test]
    fn queued_duration_spans_interleaved_and_wrapping_timestamps() {
        let policy = CongestionPolicy::default();
        let mut q = SendQueue::default();
        // Video queued ahead of audio that is 6 ms older: 6 ms, not 49 days.
        q.push(frame(MediaKind::Video, 9_967, &[0x27, 1, 0, 0, 0]), &policy)
            .unwrap();
        q.push(frame(MediaKind::Audio, 9_961, &[0xAF, 1, 0]), &policy)
            .unwrap();
        assert_eq!(q.duration(), Duration::from_millis(6));
        assert_eq!(q.dropped, 0, "nothing is dropped for a 6 ms queue");
        q.push(frame(MediaKind::Audio, 10_100, &[0xAF, 1, 0]), &policy)
            .unwrap();
        assert_eq!(q.duration(), Duration::from_millis(139));
        let mut q = SendQueue::default();
        for ts in [u32::MAX - 20, u32::MAX, 30] {
            q.push(frame(MediaKind::Audio, ts, &[0xAF, 1, 0]), &policy)
                .unwrap();
        }
        assert_eq!(q.duration(), Duration::from_millis(51));
    }

    #[test]
    fn disposable_frames_are_recognised() {
        assert!(is_disposable(&avc_inter(0, 0)));
        assert!(!is_disposable(&avc_inter(0, 2)));
        assert!(is_disposable(&frame(MediaKind::Video, 0, &[0x32, 0, 0])));
        assert!(!is_disposable(&frame(
            MediaKind::Video,
            0,
            &[0x17, 1, 0, 0, 0]
        )));
        assert!(!is_disposable(&frame(MediaKind::Audio, 0, &[0xAF, 1])));
    }

    #[test]
    fn congestion_drops_b_frames_then_inter_frames_never_audio_or_keyframes() {
        let policy = CongestionPolicy::default();
        let mut q = SendQueue::default();
        q.push(frame(MediaKind::Video, 0, &[0x17, 0, 0, 0, 0, 1]), &policy)
            .unwrap();
        q.push(frame(MediaKind::Video, 0, &[0x17, 1, 0, 0, 0]), &policy)
            .unwrap();
        let mut ts = 0;
        // 800 ms queued: the B-frames go, P-frames and audio stay.
        while ts < 800 {
            ts += 20;
            q.push(avc_inter(ts, if ts % 40 == 0 { 2 } else { 0 }), &policy)
                .unwrap();
            q.push(frame(MediaKind::Audio, ts, &[0xAF, 1, 0]), &policy)
                .unwrap();
        }
        let kept = |q: &SendQueue, f: &dyn Fn(&Frame) -> bool| {
            q.items
                .iter()
                .filter(|i| matches!(i, Outbound::Frame(fr) if f(fr)))
                .count()
        };
        assert_eq!(kept(&q, &|f| is_disposable(f)), 0);
        assert!(kept(&q, &|f| f.kind == MediaKind::Video && !f.keyframe) > 10);
        let dropped_b = q.dropped;
        assert!(dropped_b >= 15);
        // Past 900 ms: every inter frame goes until a keyframe comes.
        while ts < 1000 {
            ts += 20;
            q.push(avc_inter(ts, 2), &policy).unwrap();
            q.push(frame(MediaKind::Audio, ts, &[0xAF, 1, 0]), &policy)
                .unwrap();
        }
        assert_eq!(
            kept(&q, &|f| f.kind == MediaKind::Video
                && !f.keyframe
                && !f.sequence_header),
            0
        );
        assert_eq!(kept(&q, &|f| f.kind == MediaKind::Audio), 50);
        assert_eq!(kept(&q, &|f| f.sequence_header || f.keyframe), 2);
        q.push(avc_inter(ts + 20, 2), &policy).unwrap();
        assert_eq!(
            kept(&q, &|f| f.kind == MediaKind::Video
                && !f.keyframe
                && !f.sequence_header),
            0
        );
        // An end of sequence is no picture: it is never dropped, even while waiting.
        let eos = ts + 25;
        q.push(frame(MediaKind::Video, eos, &[0x17, 2, 0, 0, 0]), &policy)
            .unwrap();
        q.push(frame(MediaKind::Audio, eos + 100, &[0xAF, 1, 0]), &policy)
            .unwrap();
        assert_eq!(
            kept(&q, &|f| f.kind == MediaKind::Video && f.timestamp == eos),
            1
        );
        // The network catches up; inter frames flow again from the next keyframe.
        while q.pop().is_some() {}
        assert_eq!(q.bytes, 0);
        q.push(avc_inter(ts + 30, 2), &policy).unwrap();
        assert_eq!(q.items.len(), 0, "still waiting for a keyframe");
        q.push(
            frame(MediaKind::Video, ts + 40, &[0x17, 1, 0, 0, 0]),
            &policy,
        )
        .unwrap();
        q.push(avc_inter(ts + 60, 2), &policy).unwrap();
        assert_eq!(kept(&q, &|f| f.timestamp == ts + 60), 1);
        let limit = CongestionPolicy {
            max_queued_bytes: 10,
            ..policy
        };
        let mut full = SendQueue::default();
        assert!(matches!(
            full.push(frame(MediaKind::Audio, 0, &[0; 11]), &limit),
            Err(Error::QueueFull)
        ));
        // A configuration record is taken even over the bound.
        let asc = frame(
            MediaKind::Audio,
            0,
            &[0xAF, 0, 0x12, 0x10, 0, 0, 0, 0, 0, 0, 0],
        );
        assert!(asc.sequence_header);
        full.push(asc, &limit).unwrap();
    }
}

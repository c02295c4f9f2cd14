//! RTMP relay load generator: N players (and optionally one publisher) on one mio thread.
//!
//! ```sh
//! cargo run --release --example rtmp_load -- --url rtmp://127.0.0.1:1935/live/bench \
//!     --players 100 [--publish FILE.flv] [--duration SECS] [--ramp-ms MS] [--drain-ms MS] [--json]
//! ```
//!
//! The publisher loops FILE.flv in real time, paced by its tag timestamps (metadata and
//! sequence headers once, then the media with timestamps that keep increasing across loops).
//! Players connect `--ramp-ms` apart once publishing started, and play the stream.
//!
//! Publisher and players share this process, so each media frame the publisher sends is
//! recorded as (timestamp -> send instant) per media kind, and a player that receives a frame
//! finds it by timestamp: delivery latency is the receive instant minus the send instant
//! (both taken on this thread, so the figure includes this loop's own delays). Loss counts,
//! per player and media kind, the frames sent from the first one it received after its
//! PlayStarted (servers may start a player at a key frame) that never arrived: gaps, and a
//! tail cut off by a disconnect. Join time is play request to first video frame. Sequence
//! headers are not counted (servers resend them to late joiners with other timestamps). After
//! `--duration` the publisher stops, players get `--drain-ms` to receive what is in flight,
//! then the report is printed (one JSON object with `--json`).
//!
//! Without `--publish` it only plays (e.g. against an external publisher): bytes and frames
//! are measured, loss and latency are not. Only loopback addresses are accepted.

use std::io::{self, Read};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rtmp_core::media::flv::{
    audio_is_sequence_header, video_is_sequence_header, video_tag_info, FlvReader, TagKind,
    VideoPacket,
};
use rtmp_core::protocol::amf::AmfLimits;
use rtmp_core::protocol::amf0::Amf0Value;
use rtmp_core::protocol::command::{DataMessage, PublishType};
use rtmp_core::session::{ClientConfig, ClientEvent, ClientSession, MediaKind, WriteQueue};

const MAX_PLAYERS: usize = 20_000;
const MAX_DURATION_S: f64 = 3600.0;
const READ_BUF: usize = 256 * 1024;
const PUBLISHER: Token = Token(0);

const USAGE: &str = "usage: rtmp_load --url rtmp://127.0.0.1:PORT/APP/STREAM --players N \
[--publish FILE.flv] [--duration SECS (10)] [--ramp-ms MS (5)] [--drain-ms MS (1000)] [--json]";

struct Args {
    url: String,
    players: usize,
    publish: Option<String>,
    duration: Duration,
    ramp: Duration,
    drain: Duration,
    json: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        url: String::new(),
        players: 0,
        publish: None,
        duration: Duration::from_secs(10),
        ramp: Duration::from_millis(5),
        drain: Duration::from_millis(1000),
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        let number = |s: String| match s.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
            _ => Err(format!("{flag}: {s} is not a number >= 0")),
        };
        match flag.as_str() {
            "--url" => args.url = value("--url")?,
            "--players" => {
                args.players = value("--players")?.parse().map_err(|e| format!("{e}"))?
            }
            "--publish" => args.publish = Some(value("--publish")?),
            "--duration" => {
                let s = number(value("--duration")?)?;
                if !(s > 0.0 && s <= MAX_DURATION_S) {
                    return Err(format!("--duration must be in (0, {MAX_DURATION_S}]"));
                }
                args.duration = Duration::from_secs_f64(s);
            }
            "--ramp-ms" => {
                args.ramp =
                    Duration::from_secs_f64(number(value("--ramp-ms")?)?.clamp(0.0, 1e4) / 1e3)
            }
            "--drain-ms" => {
                args.drain =
                    Duration::from_secs_f64(number(value("--drain-ms")?)?.clamp(0.0, 6e4) / 1e3)
            }
            "--json" => args.json = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if args.url.is_empty() {
        return Err(USAGE.into());
    }
    if args.players > MAX_PLAYERS {
        return Err(format!("at most {MAX_PLAYERS} players"));
    }
    if args.players == 0 && args.publish.is_none() {
        return Err("nothing to do: give --players and/or --publish".into());
    }
    Ok(args)
}

/// rtmp://host[:port]/app/stream -> (address, app, tcUrl, stream).
fn parse_url(url: &str) -> Result<(SocketAddr, String, String, String), String> {
    let rest = url.strip_prefix("rtmp://").ok_or("only rtmp:// URLs")?;
    let (authority, path) = rest.split_once('/').ok_or("URL needs /app/stream")?;
    let (app, stream) = path.split_once('/').ok_or("URL needs /app/stream")?;
    if app.is_empty() || stream.is_empty() {
        return Err("URL needs /app/stream".into());
    }
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_string()
    } else {
        format!("{authority}:1935")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| format!("{authority}: {e}"))?
        .find(|a| a.ip().is_loopback())
        .ok_or("only loopback addresses (127.0.0.1, ::1, localhost) are allowed")?;
    Ok((
        addr,
        app.into(),
        format!("rtmp://{authority}/{app}"),
        stream.into(),
    ))
}

fn kind_index(kind: MediaKind) -> usize {
    match kind {
        MediaKind::Audio => 0,
        MediaKind::Video => 1,
    }
}

/// Log-linear latency histogram in microseconds (64 sub-buckets per power of two: < 1.6 %
/// error), fixed size whatever the number of samples.
struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Histogram {
    const SUB: u64 = 64;

    fn new() -> Self {
        Histogram {
            counts: vec![0; (2 * Self::SUB + 58 * Self::SUB) as usize],
            total: 0,
            max: 0,
        }
    }

    fn index(us: u64) -> usize {
        if us < 2 * Self::SUB {
            return us as usize;
        }
        let shift = 63 - us.leading_zeros() as u64 - 6; // us >> shift is in [64, 128)
        (2 * Self::SUB + (shift - 1) * Self::SUB + ((us >> shift) - Self::SUB)) as usize
    }

    /// The middle of bucket `i`, in microseconds.
    fn value(i: usize) -> f64 {
        let i = i as u64;
        if i < 2 * Self::SUB {
            return i as f64;
        }
        let shift = (i - 2 * Self::SUB) / Self::SUB + 1;
        let low = ((i - 2 * Self::SUB) % Self::SUB + Self::SUB) << shift;
        low as f64 + ((1u64 << shift) as f64 - 1.0) / 2.0
    }

    fn record(&mut self, us: u64) {
        let i = Self::index(us).min(self.counts.len() - 1);
        self.counts[i] += 1;
        self.total += 1;
        self.max = self.max.max(us);
    }

    /// The q-quantile in milliseconds.
    fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some((Self::value(i) / 1000.0).min(self.max as f64 / 1000.0));
            }
        }
        Some(self.max as f64 / 1000.0)
    }
}

/// What the publisher sent, per media kind (audio 0, video 1): (timestamp, send instant) with
/// strictly increasing timestamps, so the index is the frame's sequence number.
#[derive(Default)]
struct SentLog {
    frames: [Vec<(u32, Instant)>; 2],
}

impl SentLog {
    /// The sequence number of the frame with `ts`, trying `hint` (the expected next) first.
    fn find(&self, k: usize, ts: u32, hint: usize) -> Option<(usize, Instant)> {
        let frames = &self.frames[k];
        if let Some(&(t, at)) = frames.get(hint) {
            if t == ts {
                return Some((hint, at));
            }
        }
        let i = frames.binary_search_by_key(&ts, |&(t, _)| t).ok()?;
        Some((i, frames[i].1))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Connected,
    Playing,
    Failed,
    Closed,
}

/// Per-player measurements (small: players can be many).
struct PlayerStats {
    phase: Phase,
    /// Per kind, the next sequence number the publisher would send when PlayStarted arrived:
    /// frames before it are not counted.
    start_seq: [u32; 2],
    /// One past the highest sequence number received, per kind.
    next_seq: [u32; 2],
    /// Distinct frames received with a sequence number >= start_seq, per kind.
    counted: [u32; 2],
    /// Sequence number of the first frame counted, per kind (u32::MAX: none yet). A server
    /// may start a player at a key frame; loss counts from here.
    first_seq: [u32; 2],
    /// Milliseconds since t0 when play was requested, and when the first video frame (not a
    /// sequence header) arrived after PlayStarted (0: not yet).
    play_ms: u32,
    first_video_ms: u32,
    frames: u64,
    wire_bytes: u64,
    media_bytes: u64,
}

/// One TCP connection and its session.
struct Conn {
    stream: TcpStream,
    session: ClientSession,
    out: WriteQueue,
    tcp_up: bool,
}

impl Conn {
    fn open(
        addr: SocketAddr,
        config: ClientConfig,
        now_ms: u64,
        poll: &Poll,
        token: Token,
    ) -> io::Result<Conn> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        poll.registry()
            .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)?;
        let mut seed = [0u8; 32];
        // A fixed per-connection seed would do as well; the handshake only needs bytes.
        if getrandom::fill(&mut seed).is_err() {
            seed = [token.0 as u8; 32];
        }
        Ok(Conn {
            stream,
            session: ClientSession::new(config, seed, now_ms),
            out: WriteQueue::default(),
            tcp_up: false,
        })
    }

    /// Checks a pending connect on a writable event: Ok(true) once connected.
    fn check_connected(&mut self) -> io::Result<bool> {
        if self.tcp_up {
            return Ok(true);
        }
        if let Some(e) = self.stream.take_error()? {
            return Err(e);
        }
        match self.stream.peer_addr() {
            Ok(_) => {
                self.tcp_up = true;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes what the session has to send, vectored, until done or the socket is full.
    fn flush(&mut self) -> io::Result<()> {
        while let Some(o) = self.session.poll_transmit() {
            self.out.push(o);
        }
        if !self.tcp_up {
            return Ok(());
        }
        self.out.flush(&mut self.stream)
    }
}

/// The file a publisher loops: metadata and sequence headers once, then the media.
struct Media {
    metadata: Option<Amf0Value>,
    headers: Vec<(MediaKind, Bytes)>,
    frames: Vec<(MediaKind, u32, Bytes)>,
    /// Timestamp span of one loop, including one frame interval.
    loop_ms: u64,
}

fn load_media(path: &str) -> Result<Media, String> {
    let data = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let reader = FlvReader::from_bytes(data.into()).map_err(|e| format!("{path}: {e}"))?;
    let mut media = Media {
        metadata: None,
        headers: Vec::new(),
        frames: Vec::new(),
        loop_ms: 0,
    };
    let mut seen_header = [false; 2];
    for tag in reader {
        let tag = tag.map_err(|e| format!("{path}: {e}"))?;
        let kind = match tag.kind {
            TagKind::Script => {
                if media.metadata.is_none() {
                    media.metadata = DataMessage::decode(&tag.body, false, AmfLimits::default())
                        .ok()
                        .and_then(|d| d.metadata().cloned());
                }
                continue;
            }
            TagKind::Audio => MediaKind::Audio,
            TagKind::Video => MediaKind::Video,
        };
        let header = match kind {
            MediaKind::Audio => audio_is_sequence_header(&tag.body),
            MediaKind::Video => video_is_sequence_header(&tag.body),
        };
        if header {
            if !std::mem::replace(&mut seen_header[kind_index(kind)], true) {
                media.headers.push((kind, tag.body));
            }
        } else if kind == MediaKind::Video
            && video_tag_info(&tag.body).is_some_and(|i| i.packet == VideoPacket::SequenceEnd)
        {
            // An end of sequence in the middle of a looped stream would only confuse players.
        } else {
            media.frames.push((kind, tag.timestamp, tag.body));
        }
    }
    let (first, last) = match (media.frames.first(), media.frames.last()) {
        (Some(f), Some(l)) => (f.1, media.frames.iter().map(|f| f.1).max().unwrap_or(l.1)),
        _ => return Err(format!("{path}: no audio or video frames")),
    };
    let span = last.saturating_sub(first) as u64;
    let interval = span / media.frames.len().max(2) as u64 * 2;
    media.loop_ms = span + interval.clamp(1, 100);
    for frame in &mut media.frames {
        frame.1 -= first;
    }
    Ok(media)
}

/// Pacing state of the publisher.
struct Publisher {
    media: Media,
    /// When the frame at timestamp 0 of loop 0 was due; set at PublishStarted.
    started: Option<Instant>,
    next: usize,
    loops: u64,
    last_ts: [Option<u32>; 2],
    bytes_sent: u64,
    stopped: bool,
}

impl Publisher {
    fn next_due(&self) -> Option<Instant> {
        let start = self.started?;
        if self.stopped {
            return None;
        }
        let (_, ts, _) = self.media.frames[self.next];
        Some(start + Duration::from_millis(self.loops * self.media.loop_ms + ts as u64))
    }

    /// Sends every frame that is due; records each in `log`.
    fn pump(&mut self, conn: &mut Conn, log: &mut SentLog, now: Instant) -> rtmp_core::Result<()> {
        while let Some(due) = self.next_due() {
            if due > now {
                break;
            }
            let (kind, ts, ref body) = self.media.frames[self.next];
            let k = kind_index(kind);
            let nominal = (self.loops * self.media.loop_ms + ts as u64) as u32;
            // Strictly increasing per kind, so a timestamp names one frame.
            let ts = match self.last_ts[k] {
                Some(last) if nominal <= last => last + 1,
                _ => nominal,
            };
            self.last_ts[k] = Some(ts);
            self.bytes_sent += body.len() as u64;
            conn.session.send_media(kind, ts, body.clone())?;
            log.frames[k].push((ts, now));
            self.next += 1;
            if self.next == self.media.frames.len() {
                self.next = 0;
                self.loops += 1;
            }
        }
        Ok(())
    }
}

struct Run {
    args: Args,
    addr: SocketAddr,
    app: String,
    tc_url: String,
    stream_name: String,
    poll: Poll,
    t0: Instant,
    conns: Vec<Option<Conn>>,
    players: Vec<PlayerStats>,
    publisher: Option<Publisher>,
    log: SentLog,
    latency: Histogram,
    launched: usize,
    ramp_start: Option<Instant>,
    run_start: Option<Instant>,
    connect_failures: usize,
    disconnects: usize,
    unmatched: u64,
    errors: Vec<String>,
    window_bytes_at_ramp_end: Option<(Instant, u64)>,
    /// Total bytes received when the publisher stopped (end of `--duration`).
    bytes_at_end: Option<u64>,
    publisher_failed: Option<String>,
}

impl Run {
    fn now_ms(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }

    fn config(&self) -> ClientConfig {
        let mut c = ClientConfig::new(self.app.clone(), self.tc_url.clone());
        c.flash_ver = "LNX 9,0,124,2".into();
        c
    }

    fn note_error(&mut self, what: String) {
        if self.errors.len() < 10 {
            self.errors.push(what);
        }
    }

    fn launch_player(&mut self) {
        let i = self.launched;
        self.launched += 1;
        let token = Token(i + 1);
        match Conn::open(self.addr, self.config(), self.now_ms(), &self.poll, token) {
            Ok(conn) => self.conns[token.0] = Some(conn),
            Err(e) => {
                self.players[i].phase = Phase::Failed;
                self.connect_failures += 1;
                self.note_error(format!("player {i}: connect: {e}"));
            }
        }
    }

    fn fail(&mut self, token: Token, why: String) {
        if let Some(mut conn) = self.conns[token.0].take() {
            let _ = self.poll.registry().deregister(&mut conn.stream);
        }
        if token == PUBLISHER {
            if let Some(p) = &mut self.publisher {
                p.stopped = true;
            }
            self.publisher_failed.get_or_insert(why);
            return;
        }
        let p = &mut self.players[token.0 - 1];
        match p.phase {
            Phase::Playing => {
                p.phase = Phase::Closed;
                self.disconnects += 1;
            }
            Phase::Connecting | Phase::Connected => {
                p.phase = Phase::Failed;
                self.connect_failures += 1;
            }
            Phase::Failed | Phase::Closed => {}
        }
        self.note_error(format!("player {}: {why}", token.0 - 1));
    }

    fn on_ready(&mut self, token: Token, readable: bool, buf: &mut [u8]) {
        let Some(conn) = self.conns.get_mut(token.0).and_then(Option::as_mut) else {
            return;
        };
        match conn.check_connected() {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => return self.fail(token, format!("connect: {e}")),
        }
        if readable {
            loop {
                let conn = self.conns[token.0].as_mut().expect("open");
                let n = match conn.stream.read(buf) {
                    Ok(0) => return self.fail(token, "closed by server".into()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return self.fail(token, format!("read: {e}")),
                };
                let now = Instant::now();
                let now_ms = now.duration_since(self.t0).as_millis() as u64;
                if let Err(e) = conn.session.feed(&buf[..n], now_ms) {
                    return self.fail(token, format!("protocol: {e}"));
                }
                if token != PUBLISHER {
                    self.players[token.0 - 1].wire_bytes += n as u64;
                }
                if let Err(why) = self.handle_events(token, now) {
                    return self.fail(token, why);
                }
            }
        }
        let conn = self.conns[token.0].as_mut().expect("open");
        if let Err(e) = conn.flush() {
            self.fail(token, format!("write: {e}"));
        }
    }

    fn handle_events(&mut self, token: Token, now: Instant) -> Result<(), String> {
        let conn = self.conns[token.0].as_mut().expect("open");
        while let Some(event) = conn.session.poll_event() {
            match event {
                ClientEvent::Connected { .. } => {
                    let r = if token == PUBLISHER {
                        conn.session.publish(&self.stream_name, PublishType::Live)
                    } else {
                        let p = &mut self.players[token.0 - 1];
                        p.phase = Phase::Connected;
                        p.play_ms = now.duration_since(self.t0).as_millis().max(1) as u32;
                        conn.session.play(&self.stream_name, -2.0, -1.0, true)
                    };
                    r.map_err(|e| e.to_string())?;
                }
                ClientEvent::ConnectFailed { status } => {
                    return Err(format!("connect refused: {status:?}"));
                }
                ClientEvent::StreamFailed { status, .. } => {
                    return Err(format!("{}: {}", status.code, status.description));
                }
                ClientEvent::PublishStarted { .. } if token == PUBLISHER => {
                    let p = self.publisher.as_mut().expect("publisher");
                    if let Some(metadata) = p.media.metadata.clone() {
                        conn.session
                            .send_metadata(metadata)
                            .map_err(|e| e.to_string())?;
                    }
                    for (kind, body) in &p.media.headers {
                        conn.session
                            .send_media(*kind, 0, body.clone())
                            .map_err(|e| e.to_string())?;
                    }
                    p.started = Some(now);
                    self.run_start.get_or_insert(now);
                    self.ramp_start.get_or_insert(now);
                }
                ClientEvent::PlayStarted { .. } if token != PUBLISHER => {
                    let p = &mut self.players[token.0 - 1];
                    p.phase = Phase::Playing;
                    for k in 0..2 {
                        let seq = self.log.frames[k].len() as u32;
                        p.start_seq[k] = seq;
                        p.next_seq[k] = seq;
                    }
                }
                ClientEvent::Media {
                    kind,
                    timestamp,
                    payload,
                    ..
                } if token != PUBLISHER => {
                    let p = &mut self.players[token.0 - 1];
                    p.frames += 1;
                    p.media_bytes += payload.len() as u64;
                    let header = match kind {
                        MediaKind::Audio => audio_is_sequence_header(&payload),
                        MediaKind::Video => video_is_sequence_header(&payload),
                    };
                    if header || p.phase != Phase::Playing {
                        continue;
                    }
                    if kind == MediaKind::Video && p.first_video_ms == 0 {
                        p.first_video_ms = now.duration_since(self.t0).as_millis().max(1) as u32;
                    }
                    if self.publisher.is_none() {
                        continue;
                    }
                    let k = kind_index(kind);
                    match self.log.find(k, timestamp, p.next_seq[k] as usize) {
                        Some((seq, sent_at)) => {
                            let seq = seq as u32;
                            if seq >= p.start_seq[k] && seq >= p.next_seq[k] {
                                if p.first_seq[k] == u32::MAX {
                                    p.first_seq[k] = seq;
                                }
                                p.counted[k] += 1;
                                p.next_seq[k] = seq + 1;
                                let us = now.saturating_duration_since(sent_at).as_micros();
                                self.latency.record(us as u64);
                            }
                        }
                        None => self.unmatched += 1,
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn total_wire_bytes(&self) -> u64 {
        self.players.iter().map(|p| p.wire_bytes).sum()
    }

    /// Fails sessions whose connect did not finish in time.
    fn check_timeouts(&mut self) {
        let now_ms = self.now_ms();
        let expired: Vec<Token> = self
            .conns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let c = c.as_ref()?;
                (c.session.next_timeout()? <= now_ms).then_some(Token(i))
            })
            .collect();
        for token in expired {
            self.fail(token, "connect timed out".into());
        }
    }
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(args) {
        eprintln!("rtmp_load: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), String> {
    let (addr, app, tc_url, stream_name) = parse_url(&args.url)?;
    let media = args.publish.as_deref().map(load_media).transpose()?;
    let poll = Poll::new().map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let mut run = Run {
        addr,
        app,
        tc_url,
        stream_name,
        poll,
        t0,
        conns: (0..=args.players).map(|_| None).collect(),
        players: (0..args.players)
            .map(|_| PlayerStats {
                phase: Phase::Connecting,
                start_seq: [0; 2],
                next_seq: [0; 2],
                counted: [0; 2],
                first_seq: [u32::MAX; 2],
                play_ms: 0,
                first_video_ms: 0,
                frames: 0,
                wire_bytes: 0,
                media_bytes: 0,
            })
            .collect(),
        publisher: media.map(|media| Publisher {
            media,
            started: None,
            next: 0,
            loops: 0,
            last_ts: [None; 2],
            bytes_sent: 0,
            stopped: false,
        }),
        log: SentLog::default(),
        latency: Histogram::new(),
        launched: 0,
        ramp_start: None,
        run_start: None,
        connect_failures: 0,
        disconnects: 0,
        unmatched: 0,
        errors: Vec::new(),
        window_bytes_at_ramp_end: None,
        bytes_at_end: None,
        publisher_failed: None,
        args,
    };
    if run.publisher.is_some() {
        let conn = Conn::open(run.addr, run.config(), 0, &run.poll, PUBLISHER)
            .map_err(|e| format!("publisher: {e}"))?;
        run.conns[0] = Some(conn);
    } else {
        run.run_start = Some(t0);
        run.ramp_start = Some(t0);
    }

    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; READ_BUF];
    let mut last_sweep = t0;
    let mut last_progress = t0;
    let mut drain_until: Option<Instant> = None;
    loop {
        let now = Instant::now();
        // Publishing never started (refused, or the server is not there): give up after 10 s.
        if run.run_start.is_none()
            && (now - t0 > Duration::from_secs(10) || run.publisher_failed.is_some())
        {
            return Err(format!(
                "publishing did not start: {}",
                run.publisher_failed
                    .clone()
                    .unwrap_or_else(|| "timeout".into())
            ));
        }
        let end = run.run_start.map(|s| s + run.args.duration);
        if drain_until.is_none() && end.is_some_and(|e| now >= e) {
            if let Some(p) = &mut run.publisher {
                p.stopped = true;
            }
            drain_until = Some(now + run.args.drain);
            run.bytes_at_end = Some(run.total_wire_bytes());
        }
        if drain_until.is_some_and(|d| now >= d) {
            break;
        }
        // Launch the players that are due.
        if let Some(ramp_start) = run.ramp_start {
            while run.launched < run.args.players
                && ramp_start + run.args.ramp * run.launched as u32 <= now
                && drain_until.is_none()
            {
                run.launch_player();
            }
            if run.launched == run.args.players && run.window_bytes_at_ramp_end.is_none() {
                run.window_bytes_at_ramp_end = Some((now, run.total_wire_bytes()));
            }
        }
        // Pace the publisher.
        if let (Some(p), Some(conn)) = (run.publisher.as_mut(), run.conns[0].as_mut()) {
            if let Err(e) = p.pump(conn, &mut run.log, now) {
                run.fail(PUBLISHER, format!("send: {e}"));
            } else if let Err(e) = conn.flush() {
                run.fail(PUBLISHER, format!("write: {e}"));
            }
        }
        if now - last_sweep >= Duration::from_millis(250) {
            last_sweep = now;
            run.check_timeouts();
        }
        if now - last_progress >= Duration::from_secs(5) {
            last_progress = now;
            let playing = run
                .players
                .iter()
                .filter(|p| p.phase == Phase::Playing)
                .count();
            eprintln!(
                "[{:5.1}s] players playing {playing}/{}, received {:.1} MB",
                (now - t0).as_secs_f64(),
                run.args.players,
                run.total_wire_bytes() as f64 / 1e6
            );
        }
        // Sleep until the next thing to do.
        let mut wake = now + Duration::from_millis(50);
        if let Some(d) = run.publisher.as_ref().and_then(Publisher::next_due) {
            wake = wake.min(d);
        }
        if let Some(r) = run.ramp_start.filter(|_| run.launched < run.args.players) {
            wake = wake.min(r + run.args.ramp * run.launched as u32);
        }
        for t in [end.filter(|_| drain_until.is_none()), drain_until]
            .into_iter()
            .flatten()
        {
            wake = wake.min(t);
        }
        let timeout = wake.saturating_duration_since(Instant::now());
        if let Err(e) = run.poll.poll(&mut events, Some(timeout)) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(format!("poll: {e}"));
            }
        }
        for event in events.iter() {
            let readable = event.is_readable() || event.is_read_closed() || event.is_error();
            run.on_ready(event.token(), readable, &mut buf);
        }
    }
    report(&run);
    Ok(())
}

fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Peak resident memory of this process in MB (Linux /proc).
fn own_peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// CPU seconds this process used so far (Linux /proc; 100 ticks per second).
fn own_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

fn json_num(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.3}"),
        _ => "null".into(),
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn report(run: &Run) {
    let end = Instant::now();
    let duration = run.args.duration.as_secs_f64();
    let bytes: u64 = run.total_wire_bytes();
    let media_bytes: u64 = run.players.iter().map(|p| p.media_bytes).sum();
    let frames: u64 = run.players.iter().map(|p| p.frames).sum();
    let started = run
        .players
        .iter()
        .filter(|p| matches!(p.phase, Phase::Playing | Phase::Closed))
        .count();
    // From the last player's launch to the end of --duration (drain excluded).
    let window = run.window_bytes_at_ramp_end.and_then(|(at, b0)| {
        let stop = run.run_start? + run.args.duration;
        let secs = stop.saturating_duration_since(at).as_secs_f64();
        let b1 = run.bytes_at_end?;
        (secs > 0.5).then(|| b1.saturating_sub(b0) as f64 / secs)
    });
    let sent = [
        run.log.frames[0].len() as u64,
        run.log.frames[1].len() as u64,
    ];
    // Loss per player that started playing: frames sent after its PlayStarted, not received.
    let measured = run.publisher.is_some();
    let mut loss_frames = Vec::new();
    let mut loss_ratio = Vec::new();
    let (mut total_lost, mut total_expected) = (0u64, 0u64);
    for p in run
        .players
        .iter()
        .filter(|p| matches!(p.phase, Phase::Playing | Phase::Closed))
    {
        // From the first frame received (servers may start a player at a key frame), or from
        // PlayStarted if nothing of that kind arrived.
        let from = |k: usize| match p.first_seq[k] {
            u32::MAX => p.start_seq[k] as u64,
            first => first as u64,
        };
        let expected: u64 = (0..2).map(|k| sent[k] - from(k).min(sent[k])).sum();
        let got: u64 = p.counted.iter().map(|&c| c as u64).sum();
        let lost = expected.saturating_sub(got);
        total_lost += lost;
        total_expected += expected;
        loss_frames.push(lost as f64);
        loss_ratio.push(if expected > 0 {
            lost as f64 / expected as f64
        } else {
            0.0
        });
    }
    // Join time: play request to the first video frame after PlayStarted.
    let mut join_ms: Vec<f64> = run
        .players
        .iter()
        .filter(|p| p.first_video_ms > 0 && p.play_ms > 0)
        .map(|p| p.first_video_ms.saturating_sub(p.play_ms) as f64)
        .collect();
    join_ms.sort_by(f64::total_cmp);
    let join_p90 = |v: &[f64]| v[((v.len() as f64 * 0.9).ceil() as usize).clamp(1, v.len()) - 1];
    loss_frames.sort_by(f64::total_cmp);
    loss_ratio.sort_by(f64::total_cmp);
    let with_loss = loss_frames.iter().filter(|&&l| l > 0.0).count();
    let stat = |v: &[f64], f: fn(&[f64]) -> f64| (measured && !v.is_empty()).then(|| f(v));
    let jstat = |v: &[f64], f: fn(&[f64]) -> f64| (!v.is_empty()).then(|| f(v));
    let first = |v: &[f64]| v[0];
    let last = |v: &[f64]| v[v.len() - 1];
    let q = |x| {
        if measured {
            run.latency.quantile_ms(x)
        } else {
            None
        }
    };
    let max_ms = (measured && run.latency.total > 0).then(|| run.latency.max as f64 / 1000.0);
    let elapsed = end.duration_since(run.t0).as_secs_f64();
    let pub_bytes = run.publisher.as_ref().map(|p| p.bytes_sent).unwrap_or(0);
    let cpu = own_cpu_seconds();

    if run.args.json {
        let mut j = String::from("{");
        let mut field = |k: &str, v: String| {
            if j.len() > 1 {
                j.push_str(", ");
            }
            j.push_str(&format!("{}: {v}", json_str(k)));
        };
        field("url", json_str(&run.args.url));
        field("players", run.args.players.to_string());
        field("publisher", measured.to_string());
        field("duration_s", format!("{duration:.3}"));
        field("elapsed_s", format!("{elapsed:.3}"));
        field("players_started", started.to_string());
        field("connect_failures", run.connect_failures.to_string());
        field("disconnects", run.disconnects.to_string());
        field("bytes_received", bytes.to_string());
        field("media_bytes_received", media_bytes.to_string());
        field("frames_received", frames.to_string());
        field(
            "throughput_bytes_per_s",
            format!("{:.0}", bytes as f64 / duration),
        );
        field("steady_throughput_bytes_per_s", json_num(window));
        field(
            "frames_sent",
            format!("{{\"audio\": {}, \"video\": {}}}", sent[0], sent[1]),
        );
        field("media_bytes_sent", pub_bytes.to_string());
        field("unmatched_frames", run.unmatched.to_string());
        field(
            "loss",
            format!(
                "{{\"players_with_loss\": {}, \"lost_frames\": {}, \"expected_frames\": {}, \
                 \"frames_min\": {}, \"frames_median\": {}, \"frames_max\": {}, \
                 \"ratio_min\": {}, \"ratio_median\": {}, \"ratio_max\": {}}}",
                if measured {
                    with_loss.to_string()
                } else {
                    "null".into()
                },
                if measured {
                    total_lost.to_string()
                } else {
                    "null".into()
                },
                if measured {
                    total_expected.to_string()
                } else {
                    "null".into()
                },
                json_num(stat(&loss_frames, first)),
                json_num(stat(&loss_frames, median)),
                json_num(stat(&loss_frames, last)),
                json_num(stat(&loss_ratio, first)),
                json_num(stat(&loss_ratio, median)),
                json_num(stat(&loss_ratio, last)),
            ),
        );
        field(
            "latency_ms",
            format!(
                "{{\"samples\": {}, \"p50\": {}, \"p90\": {}, \"p99\": {}, \"max\": {}}}",
                run.latency.total,
                json_num(q(0.5)),
                json_num(q(0.9)),
                json_num(q(0.99)),
                json_num(max_ms)
            ),
        );
        field(
            "join_ms",
            format!(
                "{{\"players\": {}, \"p50\": {}, \"p90\": {}, \"max\": {}}}",
                join_ms.len(),
                json_num(jstat(&join_ms, median)),
                json_num(jstat(&join_ms, join_p90)),
                json_num(jstat(&join_ms, last)),
            ),
        );
        field("load_tool_cpu_s", json_num(cpu));
        field("load_tool_peak_rss_mb", json_num(own_peak_rss_mb()));
        field(
            "publisher_error",
            run.publisher_failed
                .as_deref()
                .map(json_str)
                .unwrap_or("null".into()),
        );
        let errors: Vec<String> = run.errors.iter().map(|e| json_str(e)).collect();
        field("first_errors", format!("[{}]", errors.join(", ")));
        j.push('}');
        println!("{j}");
        return;
    }
    let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2} ms"));
    let num = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0}"));
    let pct = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.3}%", v * 100.0));
    println!(
        "rtmp_load: {} players on {} for {duration:.1} s (+{:.1} s drain), elapsed {elapsed:.1} s",
        run.args.players,
        run.args.url,
        run.args.drain.as_secs_f64()
    );
    println!(
        "  players started      {started} ({} connect failures, {} disconnects)",
        run.connect_failures, run.disconnects
    );
    println!(
        "  received             {:.3} GB, {frames} frames, {:.1} MB/s average, {} steady",
        bytes as f64 / 1e9,
        bytes as f64 / duration / 1e6,
        window.map_or("-".into(), |w| format!("{:.1} MB/s", w / 1e6))
    );
    if measured {
        println!(
            "  published            {} video + {} audio frames, {:.1} MB",
            sent[1],
            sent[0],
            pub_bytes as f64 / 1e6
        );
        let frames3 = [first, median, last].map(|f| num(stat(&loss_frames, f)));
        let ratio3 = [first, median, last].map(|f| pct(stat(&loss_ratio, f)));
        println!(
            "  loss                 {total_lost} of {total_expected} frames; {with_loss} players \
             lost some; per player min/median/max {} frames ({})",
            frames3.join("/"),
            ratio3.join("/")
        );
        println!(
            "  latency              p50 {} p90 {} p99 {} max {} ({} samples)",
            ms(q(0.5)),
            ms(q(0.9)),
            ms(q(0.99)),
            ms(max_ms),
            run.latency.total
        );
        if run.unmatched > 0 {
            println!(
                "  unmatched frames     {} (timestamps the publisher never sent)",
                run.unmatched
            );
        }
    }
    println!(
        "  join (play -> video) p50 {} p90 {} max {} ({} players)",
        ms(jstat(&join_ms, median)),
        ms(jstat(&join_ms, join_p90)),
        ms(jstat(&join_ms, last)),
        join_ms.len()
    );
    if let Some(cpu) = cpu {
        println!(
            "  load tool            {cpu:.2} CPU s, peak RSS {:.1} MB",
            own_peak_rss_mb().unwrap_or(0.0)
        );
    }
    if let Some(e) = &run.publisher_failed {
        println!("  publisher error      {e}");
    }
    for e in &run.errors {
        println!("  error                {e}");
    }
}

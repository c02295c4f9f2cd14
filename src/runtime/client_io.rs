//! A client's I/O thread: connects, runs the session, drains the send queue as the socket
//! allows, and reconnects with backoff when the connection is lost.

use std::io::{self, Read};
use std::net::ToSocketAddrs;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};

use super::tls::{self, Socket};
use crate::client::{ClientNotice, ClientShared, Mode, Outbound, StartFailure};
use crate::hub::Frame;
use crate::session::WriteQueue;
use crate::session::{ClientConfig, ClientEvent, ClientSession, ClientState, MediaKind};

const SOCKET: Token = Token(0);
const WAKE: Token = Token(1);
/// Frames move from the send queue to the socket while less than this is unsent, so the
/// queue, not the socket buffer, is where congestion shows and is handled.
const IN_FLIGHT: usize = 256 * 1024;
/// Unsent bytes the kernel may hold beyond those in flight (TCP_NOTSENT_LOWAT, Linux).
/// Without a bound, Linux grows a socket's send buffer to megabytes, and on a slow uplink
/// seconds of media would wait there, out of the congestion policy's sight.
#[cfg(any(target_os = "linux", target_os = "android"))]
const KERNEL_UNSENT: u32 = 64 * 1024;
/// How long `close` keeps sending what is queued.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// After that, how long the socket may take to deliver what the kernel still holds and
/// see the server's end of the connection.
const LINGER: Duration = Duration::from_secs(2);

/// How one connection ended.
enum Ended {
    /// The application closed the client.
    Closed,
    /// Lost or failed; a reconnect may help.
    Lost(String),
    /// The server asked for a reconnect (Enhanced RTMP).
    ReconnectRequested,
    /// Refused (connect or publish/play rejected): retrying would not help.
    Refused(String),
    /// TLS failed (the certificate was rejected, most likely): retrying would not help.
    TlsFailed(String),
}

pub(crate) fn run(shared: Arc<ClientShared>, notices: Sender<ClientNotice>) {
    let mut attempt = 0u32;
    loop {
        let reason = match connection(&shared, &notices, attempt) {
            Ended::Closed => "closed".to_owned(),
            Ended::Refused(reason) => {
                fail_start(&shared, StartFailure::Other(reason.clone()));
                let _ = notices.send(ClientNotice::Disconnected { reason });
                return;
            }
            Ended::TlsFailed(reason) => {
                fail_start(&shared, StartFailure::Tls(reason.clone()));
                let _ = notices.send(ClientNotice::Disconnected { reason });
                return;
            }
            Ended::ReconnectRequested => {
                attempt = 0;
                shared.reconnects.fetch_add(1, Ordering::Relaxed);
                let _ = notices.send(ClientNotice::Reconnecting {
                    attempt: 1,
                    after: Duration::ZERO,
                    reason: "the server asked for a reconnect".into(),
                });
                continue;
            }
            Ended::Lost(reason) => reason,
        };
        let policy = shared.options.reconnect;
        let give_up = shared.closing.load(Ordering::Acquire)
            || policy.is_none_or(|p| p.max_attempts > 0 && attempt >= p.max_attempts);
        if give_up {
            fail_start(&shared, StartFailure::Other(reason.clone()));
            let _ = notices.send(ClientNotice::Disconnected { reason });
            return;
        }
        let policy = policy.unwrap_or_default();
        attempt += 1;
        let backoff = policy
            .initial_backoff
            .saturating_mul(1 << (attempt - 1).min(16))
            .min(policy.max_backoff);
        let _ = notices.send(ClientNotice::Reconnecting {
            attempt,
            after: backoff,
            reason,
        });
        let until = Instant::now() + backoff;
        while Instant::now() < until {
            if shared.closing.load(Ordering::Acquire) {
                let _ = notices.send(ClientNotice::Disconnected {
                    reason: "closed".into(),
                });
                return;
            }
            std::thread::sleep(Duration::from_millis(20).min(until - Instant::now()));
        }
        shared.reconnects.fetch_add(1, Ordering::Relaxed);
    }
}

fn fail_start(shared: &ClientShared, failure: StartFailure) {
    let mut started = shared.started.lock();
    if started.is_none() {
        *started = Some(Err(failure));
        shared.started_changed.notify_all();
    }
}

fn now_ms(shared: &ClientShared) -> u64 {
    shared.created.elapsed().as_millis() as u64
}

/// One connection, from TCP connect to its end.
fn connection(shared: &Arc<ClientShared>, notices: &Sender<ClientNotice>, attempt: u32) -> Ended {
    let url = &shared.url;
    let addr = match (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map(|mut a| a.next())
    {
        Ok(Some(addr)) => addr,
        Ok(None) => return Ended::Lost(format!("{} resolves to nothing", url.host)),
        Err(e) => return Ended::Lost(format!("cannot resolve {}: {e}", url.host)),
    };
    let (mut poll, mut socket) = match open(shared, addr) {
        Ok(v) => v,
        Err(e) => return Ended::Lost(format!("cannot connect to {addr}: {e}")),
    };
    // A TLS failure before the session is established (a certificate rejected, no
    // common version) would fail the same way again; one after it is a lost connection.
    let ended = |what: &str, e: io::Error, handshaking: bool| {
        if handshaking && tls::is_tls_failure(&e) {
            Ended::TlsFailed(format!("TLS with {}: {e}", url.host))
        } else {
            Ended::Lost(format!("{what}: {e}"))
        }
    };
    let mut config = ClientConfig::new(url.app.clone(), url.tc_url.clone());
    config.flash_ver = shared.options.flash_ver.clone();
    config.handshake_mode = shared.options.handshake_mode;
    config.connect_timeout = shared.options.connect_timeout.as_millis() as u64;
    let mut seed = [0u8; 32];
    let _ = getrandom::fill(&mut seed);
    let mut session = ClientSession::new(config, seed, now_ms(shared));
    let mut out = WriteQueue::default();
    let mut events = Events::with_capacity(16);
    let mut buf = vec![0u8; 64 * 1024];
    let mut streaming = false;
    // After a reconnect, video resumes at a keyframe so the decoder starts clean.
    let mut await_keyframe = attempt > 0;
    let mut connect_sent: Option<Instant> = None;
    let mut close_deadline: Option<Instant> = None;
    let sent_before = shared.bytes_sent.load(Ordering::Relaxed);

    loop {
        if let Err(e) = poll.poll(&mut events, Some(Duration::from_millis(50))) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Ended::Lost(format!("poll: {e}"));
            }
        }
        for event in events.iter() {
            if event.token() == SOCKET
                && (event.is_readable() || event.is_read_closed() || event.is_error())
            {
                if let Err(e) = read(&mut socket, &mut buf, &mut session, shared) {
                    let handshaking = socket.tls_handshaking();
                    return e.map_or_else(|e| ended("read", e, handshaking), Ended::Lost);
                }
            }
        }
        if connect_sent.is_none() && session.state() == ClientState::Connecting {
            connect_sent = Some(Instant::now());
        }
        while let Some(event) = session.poll_event() {
            match event {
                ClientEvent::Connected { .. } => {
                    if let Some(sent) = connect_sent {
                        shared
                            .rtt_us
                            .store(sent.elapsed().as_micros().max(1) as u64, Ordering::Relaxed);
                    }
                    let _ = notices.send(ClientNotice::Connected);
                    let stream = url.stream.clone();
                    let result = match shared.mode {
                        Mode::Publish => session.publish(&stream, shared.options.publish_type),
                        Mode::Play => session.play(
                            &stream,
                            shared.options.play_start,
                            shared.options.play_duration,
                            true,
                        ),
                    };
                    if let Err(e) = result {
                        return Ended::Lost(e.to_string());
                    }
                }
                ClientEvent::ConnectFailed { status } => {
                    let why = status.map_or("connect refused".into(), |s| {
                        format!("{}: {}", s.code, s.description)
                    });
                    return Ended::Refused(why);
                }
                ClientEvent::PublishStarted { .. } | ClientEvent::PlayStarted { .. } => {
                    streaming = true;
                    if attempt > 0 && shared.mode == Mode::Publish {
                        replay(shared, &mut session);
                    }
                    {
                        let mut started = shared.started.lock();
                        *started = Some(Ok(()));
                        shared.started_changed.notify_all();
                    }
                    let _ = notices.send(if shared.mode == Mode::Publish {
                        ClientNotice::PublishStarted
                    } else {
                        ClientNotice::PlayStarted
                    });
                }
                ClientEvent::StreamFailed { status, .. } => {
                    return Ended::Refused(format!("{}: {}", status.code, status.description));
                }
                ClientEvent::Status { status, .. } => {
                    let _ = notices.send(ClientNotice::Status(status));
                }
                ClientEvent::ReconnectRequest { .. } => return Ended::ReconnectRequested,
                ClientEvent::Media {
                    kind,
                    timestamp,
                    payload,
                    ..
                } => {
                    let _ = notices.send(ClientNotice::Frame(Frame::from_tag(
                        kind, timestamp, payload,
                    )));
                }
                ClientEvent::Metadata { metadata, .. } => {
                    let _ = notices.send(ClientNotice::Metadata(metadata));
                }
                ClientEvent::StreamEof { .. } => {
                    let _ = notices.send(ClientNotice::StreamEnd);
                }
                _ => {}
            }
        }
        while let Some(item) = session.poll_transmit() {
            out.push(item);
        }
        if streaming && shared.mode == Mode::Publish {
            // Fill up to the in-flight bound, write, and go on while the socket takes it.
            while drain_queue(shared, &mut session, &mut out, &mut await_keyframe) {
                if let Err(e) = out.flush(&mut socket) {
                    return ended("write", e, socket.tls_handshaking());
                }
                if out.len() >= IN_FLIGHT {
                    break;
                }
            }
        }
        if let Err(e) = out.flush(&mut socket).and_then(|()| socket.send_pending()) {
            return ended("write", e, socket.tls_handshaking());
        }
        shared
            .bytes_sent
            .store(sent_before + out.written(), Ordering::Relaxed);
        if session.next_timeout().is_some_and(|t| t <= now_ms(shared)) {
            if let Err(e) = session.on_timeout(now_ms(shared)) {
                return Ended::Lost(e.to_string());
            }
        }
        if shared.closing.load(Ordering::Acquire) {
            let deadline = *close_deadline.get_or_insert_with(|| Instant::now() + CLOSE_GRACE);
            let queue_empty = shared.queue.lock().items.is_empty();
            if !streaming || (queue_empty && out.is_empty()) || Instant::now() >= deadline {
                if streaming && shared.mode == Mode::Publish {
                    let _ = session.unpublish();
                }
                while let Some(item) = session.poll_transmit() {
                    out.push(item);
                }
                linger(&mut poll, &mut socket, &mut out, Instant::now() + LINGER);
                return Ended::Closed;
            }
        }
    }
}

fn open(shared: &ClientShared, addr: std::net::SocketAddr) -> io::Result<(Poll, Socket)> {
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
    *shared.waker.lock() = Some(waker);
    // A blocking connect with a timeout, then non-blocking I/O: simpler than tracking a
    // pending connect, and it happens once per connection.
    let std_socket = std::net::TcpStream::connect_timeout(&addr, shared.options.connect_timeout)?;
    std_socket.set_nodelay(true)?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Err(e) = socket2::SockRef::from(&std_socket).set_tcp_notsent_lowat(KERNEL_UNSENT) {
        log::debug!("TCP_NOTSENT_LOWAT: {e}");
    }
    std_socket.set_nonblocking(true)?;
    let tcp = TcpStream::from_std(std_socket);
    let mut socket = match &shared.tls {
        None => Socket::Plain(tcp),
        Some(config) => {
            let name = shared.options.tls.server_name.as_ref();
            let name = name.unwrap_or(&shared.url.host);
            Socket::connect_tls(tcp, config.clone(), name)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?
        }
    };
    poll.registry().register(
        socket.tcp_mut(),
        SOCKET,
        Interest::READABLE | Interest::WRITABLE,
    )?;
    Ok((poll, socket))
}

/// Ends the connection gracefully: writes what is left (then TLS's close_notify),
/// half-closes, and reads (and discards) until the server closes too. Closing a socket with unread input makes the
/// kernel reset the connection and discard what it has not sent yet: the stream's last
/// frames and the unpublish, or, on a congested link, seconds of media.
fn linger(poll: &mut Poll, socket: &mut Socket, out: &mut WriteQueue, until: Instant) {
    let mut events = Events::with_capacity(4);
    let mut buf = vec![0u8; 16 * 1024];
    let mut half_closed = false;
    let mut notified = false;
    loop {
        if !half_closed {
            if out
                .flush(socket)
                .and_then(|()| socket.send_pending())
                .is_err()
            {
                return;
            }
            if out.is_empty() && !notified {
                notified = true;
                socket.close_notify();
            }
            if out.is_empty() && !socket.has_pending() {
                let _ = socket.tcp_mut().shutdown(std::net::Shutdown::Write);
                half_closed = true;
            }
        }
        loop {
            match socket.tcp_mut().read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
        let Some(left) = until.checked_duration_since(Instant::now()) else {
            log::debug!("closing without the server's end of the connection");
            return;
        };
        let _ = poll.poll(&mut events, Some(left.min(Duration::from_millis(50))));
    }
}

/// Feeds what the socket has to the session. The error is a reason (the peer closed,
/// the session failed) or the socket's error.
fn read(
    socket: &mut Socket,
    buf: &mut [u8],
    session: &mut ClientSession,
    shared: &ClientShared,
) -> Result<(), Result<String, io::Error>> {
    loop {
        match socket.read(buf) {
            Ok(0) => return Err(Ok("the server closed the connection".into())),
            Ok(n) => session
                .feed(&buf[..n], now_ms(shared))
                .map_err(|e| Ok(e.to_string()))?,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Err(e)),
        }
    }
}

/// Moves queued frames into the session while the socket keeps up.
/// Returns true if frames are left that did not fit.
fn drain_queue(
    shared: &ClientShared,
    session: &mut ClientSession,
    out: &mut WriteQueue,
    await_keyframe: &mut bool,
) -> bool {
    while out.len() < IN_FLIGHT {
        let Some(item) = shared.queue.lock().pop() else {
            return false;
        };
        match item {
            Outbound::Frame(frame) => {
                if *await_keyframe && frame.kind == MediaKind::Video && !frame.sequence_header {
                    if !frame.keyframe {
                        shared.queue.lock().dropped += 1;
                        continue;
                    }
                    *await_keyframe = false;
                }
                if session
                    .send_media(frame.kind, frame.timestamp, frame.payload)
                    .is_ok()
                {
                    shared.frames_sent.fetch_add(1, Ordering::Relaxed);
                }
            }
            Outbound::Metadata(metadata) => {
                let _ = session.send_metadata(metadata);
            }
        }
        while let Some(item) = session.poll_transmit() {
            out.push(item);
        }
    }
    true
}

/// After a reconnect: metadata and sequence headers first, as a new publish needs them.
fn replay(shared: &ClientShared, session: &mut ClientSession) {
    let replay = shared.replay.lock();
    if let Some(metadata) = &replay.metadata {
        let _ = session.send_metadata(metadata.clone());
    }
    for header in replay.headers.iter() {
        let _ = session.send_media(header.kind, header.timestamp, header.payload.clone());
    }
}

//! A worker thread: one mio event loop over the connections it owns.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::{Events, Interest, Poll, Token};

use super::conn::{Conn, PendingDecision, Player, Publishing, ReadOutcome};
use super::tls::Socket;
use super::{Shared, WorkerCommand};
use crate::event::{ConnectionId, Decision, DisconnectReason, Event};
use crate::hub::{Frame, Hub, Stream};
use crate::protocol::command::status_code;
use crate::session::{Rejection, RequestId, ServerEvent, ServerSession};

pub(crate) const WAKE: Token = Token(usize::MAX - 1);

/// How much one connection may read before others get a turn.
const READ_BUDGET: usize = 256 * 1024;
/// Frames moved to one player per pass.
const FANOUT_BATCH: usize = 256;
const TICK: Duration = Duration::from_millis(100);

pub(crate) struct Worker {
    index: usize,
    poll: Poll,
    commands: Receiver<WorkerCommand>,
    shared: Arc<Shared>,
    conns: HashMap<Token, Conn>,
    tokens: HashMap<ConnectionId, Token>,
    next_serial: u64,
    /// Players on this worker, by stream key.
    watchers: HashMap<String, Vec<Token>>,
    /// Connections whose read budget ran out: read again before sleeping.
    read_again: Vec<Token>,
    scratch: Vec<u8>,
    batch: Vec<Frame>,
    /// Connections whose media is held for write coalescing, by deadline (the window is
    /// fixed, so the deadlines arrive in order).
    held: VecDeque<(Instant, Token)>,
    shutdown_deadline: Option<Instant>,
}

impl Worker {
    pub fn new(
        index: usize,
        poll: Poll,
        commands: Receiver<WorkerCommand>,
        shared: Arc<Shared>,
    ) -> Self {
        Worker {
            index,
            poll,
            commands,
            shared,
            conns: HashMap::new(),
            tokens: HashMap::new(),
            next_serial: 1,
            watchers: HashMap::new(),
            read_again: Vec::new(),
            scratch: vec![0; 64 * 1024],
            batch: Vec::new(),
            held: VecDeque::new(),
            shutdown_deadline: None,
        }
    }

    pub fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let mut last_tick = Instant::now();
        loop {
            let timeout = if !self.read_again.is_empty() {
                Duration::ZERO
            } else if let Some(&(deadline, _)) = self.held.front() {
                deadline.saturating_duration_since(Instant::now()).min(TICK)
            } else {
                TICK
            };
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    log::error!("worker {} poll failed: {e}", self.index);
                    return;
                }
            }
            for event in events.iter() {
                let token = event.token();
                if token == WAKE {
                    continue;
                }
                if event.is_readable() || event.is_read_closed() || event.is_error() {
                    self.read(token);
                }
                if event.is_writable() {
                    self.on_writable(token);
                }
            }
            for token in std::mem::take(&mut self.read_again) {
                self.read(token);
            }
            self.handle_commands();
            self.release_held();
            if last_tick.elapsed() >= TICK {
                last_tick = Instant::now();
                self.tick();
            }
            if let Some(deadline) = self.shutdown_deadline {
                let flushed = self.conns.values().all(|c| !c.has_output());
                if flushed || Instant::now() >= deadline {
                    let tokens: Vec<Token> = self.conns.keys().copied().collect();
                    for token in tokens {
                        if let Some(conn) = self.conns.get_mut(&token) {
                            conn.fail(DisconnectReason::Shutdown);
                        }
                        self.settle(token);
                    }
                    return;
                }
            }
        }
    }

    /// Handles the commands queued when it starts: those that arrive meanwhile (fan-outs
    /// from other workers, a batch asking to come back) wait for the next pass, so reads
    /// and timers get their turn. Each of them woke the waker: the next poll returns at once.
    fn handle_commands(&mut self) {
        for _ in 0..self.commands.len() {
            let Ok(command) = self.commands.try_recv() else {
                break;
            };
            match command {
                WorkerCommand::Adopt(socket, peer, tls) => self.adopt(socket, peer, tls),
                WorkerCommand::Decide {
                    conn,
                    request,
                    rejection,
                } => {
                    if let Some(&token) = self.tokens.get(&conn) {
                        self.decide(token, request, rejection);
                        self.read(token);
                    }
                }
                WorkerCommand::Fanout(stream) => {
                    stream.clear_wake(self.index);
                    let tokens = self.watchers.get(stream.key()).cloned().unwrap_or_default();
                    for token in tokens {
                        self.pump(token, &stream);
                        self.hold(token);
                        self.settle(token);
                    }
                }
                WorkerCommand::Stats(reply) => {
                    let stats = self
                        .conns
                        .values()
                        .map(|c| {
                            let mut s = c.stats.clone();
                            s.queued_bytes = c.queued_bytes();
                            s.uptime = c.created.elapsed();
                            (c.id, s)
                        })
                        .collect();
                    let _ = reply.send(stats);
                }
                WorkerCommand::Shutdown => self.begin_shutdown(),
            }
        }
    }

    fn adopt(
        &mut self,
        socket: mio::net::TcpStream,
        peer: std::net::SocketAddr,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) {
        let serial = self.next_serial;
        self.next_serial += 1;
        let id = ConnectionId::new(self.index, serial);
        let token = Token(serial as usize);
        let mut socket = match tls {
            None => Socket::Plain(socket),
            Some(config) => match Socket::accept_tls(socket, config) {
                Ok(socket) => socket,
                Err(e) => {
                    log::warn!("cannot start TLS with {peer}: {e}");
                    self.shared.connections.fetch_sub(1, Ordering::Relaxed);
                    return;
                }
            },
        };
        if let Err(e) = self.poll.registry().register(
            socket.tcp_mut(),
            token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            log::warn!("cannot register {peer}: {e}");
            self.shared.connections.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let mut seed = [0u8; 32];
        if getrandom::fill(&mut seed).is_err() {
            // The handshake's random bytes protect nothing (its keys are public);
            // still, make them differ per connection.
            seed[..8].copy_from_slice(&serial.to_le_bytes());
        }
        let now = self.shared.now();
        let session = ServerSession::new(self.shared.config.session.clone(), seed, now);
        log::debug!("{id} accepted from {peer}");
        // A player's queue takes media up to its bound, plus one batch from the stream's
        // log and one metadata message; what is beyond that by more than 1 MiB is replies
        // the peer never reads.
        let config = &self.shared.config;
        let output_limit = config.player_queue_bytes
            + config.stream_limits.max_cached_bytes
            + config.session.chunk_limits.max_message_size as usize
            + (1 << 20);
        self.conns.insert(
            token,
            Conn::new(id, socket, peer, session, now, output_limit),
        );
        self.tokens.insert(id, token);
        if self.shutdown_deadline.is_some() {
            if let Some(conn) = self.conns.get_mut(&token) {
                conn.fail(DisconnectReason::Shutdown);
            }
            self.settle(token);
        }
    }

    fn read(&mut self, token: Token) {
        let now = self.shared.now();
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        // Replies to what the peer sends are not held back with its media.
        conn.hold_until = None;
        if let ReadOutcome::MoreLater = conn.read(&mut self.scratch, READ_BUDGET, now) {
            self.read_again.push(token);
        }
        self.settle(token);
    }

    /// With write coalescing, holds a connection's new media until the window ends, so
    /// that what arrives meanwhile shares its write.
    fn hold(&mut self, token: Token) {
        let window = self.shared.config.write_coalescing;
        if window.is_zero() || self.shutdown_deadline.is_some() {
            return;
        }
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        // Only a connection that had nothing left to write: one that is behind writes as
        // soon as its socket takes more.
        let was_idle = conn.queued_bytes() == 0 && !conn.socket.has_pending();
        if conn.hold_until.is_none() && was_idle && conn.has_output() {
            let deadline = Instant::now() + window;
            conn.hold_until = Some(deadline);
            self.held.push_back((deadline, token));
        }
    }

    /// Writes the held connections whose window has ended.
    fn release_held(&mut self) {
        let now = Instant::now();
        while let Some(&(deadline, token)) = self.held.front() {
            if deadline > now {
                break;
            }
            self.held.pop_front();
            if let Some(conn) = self.conns.get_mut(&token) {
                if conn.hold_until == Some(deadline) {
                    conn.hold_until = None;
                    // As if the socket became writable: a player whose frames waited for
                    // the held queue to drain takes them now.
                    self.on_writable(token);
                }
            }
        }
    }

    /// After anything touched a connection: handle its session's events, write, and
    /// clean up if it must close.
    fn settle(&mut self, token: Token) {
        while let Some(event) = self
            .conns
            .get_mut(&token)
            .and_then(|c| c.session.poll_event())
        {
            self.on_session_event(token, event);
        }
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        conn.flush();
        if conn.session.is_closing() && !conn.has_output() {
            conn.fail(DisconnectReason::Rejected);
        }
        if conn.close.is_some() {
            self.remove(token);
        }
    }

    fn on_session_event(&mut self, token: Token, event: ServerEvent) {
        let manual = self.shared.config.manual_decisions;
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let id = conn.id;
        match event {
            ServerEvent::ConnectRequest { request, connect } => {
                conn.app = connect.app().to_owned();
                let decision = manual.then_some(Decision { conn: id, request });
                if manual {
                    conn.pending.push((request, PendingDecision::Connect));
                }
                self.shared.emit(Event::Connect {
                    conn: id,
                    decision,
                    peer: conn.peer,
                    app: connect.app().to_owned(),
                    tc_url: connect.tc_url().map(str::to_owned),
                    connect: Box::new(connect),
                });
                if !manual {
                    self.answer_session(token, request, None);
                }
            }
            ServerEvent::PublishRequest {
                request,
                stream_id,
                stream_name,
                publish_type,
            } => {
                let key = Hub::key(&conn.app, &stream_name);
                let taken = self
                    .shared
                    .hub
                    .get(&key)
                    .is_some_and(|s| s.log().publisher.is_some());
                if taken {
                    let rejection = Rejection::with_code(
                        status_code::PUBLISH_BAD_NAME,
                        format!("{stream_name} is already being published."),
                    );
                    self.answer_session(token, request, Some(rejection));
                    return;
                }
                let decision = manual.then_some(Decision { conn: id, request });
                conn.pending.push((
                    request,
                    PendingDecision::Publish {
                        stream_id,
                        name: stream_name.clone(),
                    },
                ));
                self.shared.emit(Event::Publish {
                    conn: id,
                    decision,
                    app: conn.app.clone(),
                    stream: stream_name,
                    publish_type,
                });
                if !manual {
                    self.decide(token, request, None);
                }
            }
            ServerEvent::PlayRequest {
                request,
                stream_id,
                stream_name,
                ..
            } => {
                let decision = manual.then_some(Decision { conn: id, request });
                conn.pending.push((
                    request,
                    PendingDecision::Play {
                        stream_id,
                        name: stream_name.clone(),
                    },
                ));
                self.shared.emit(Event::Play {
                    conn: id,
                    decision,
                    app: conn.app.clone(),
                    stream: stream_name,
                });
                if !manual {
                    self.decide(token, request, None);
                }
            }
            ServerEvent::PublishFinished { .. } => self.stop_publishing(token),
            ServerEvent::PlayFinished { stream_id, .. } => self.stop_playing(token, stream_id),
            ServerEvent::Media {
                kind,
                timestamp,
                payload,
                ..
            } => {
                let Some(publishing) = &conn.publishing else {
                    return;
                };
                conn.stats.frames_in += 1;
                let frame = Frame::from_tag(kind, timestamp, payload);
                let stream = publishing.stream.clone();
                stream.counters.frames_in.fetch_add(1, Ordering::Relaxed);
                stream
                    .counters
                    .bytes_in
                    .fetch_add(frame.payload.len() as u64, Ordering::Relaxed);
                if stream.is_tapped() {
                    self.shared.emit(Event::Frame {
                        app: conn.app.clone(),
                        stream: publishing.name.clone(),
                        frame: frame.clone(),
                    });
                }
                stream.log().push(frame, self.shared.hub.limits());
                self.shared.notify(&stream);
            }
            ServerEvent::Metadata { metadata, .. } => {
                let Some(publishing) = &conn.publishing else {
                    return;
                };
                let stream = publishing.stream.clone();
                self.shared.emit(Event::Metadata {
                    app: conn.app.clone(),
                    stream: publishing.name.clone(),
                    metadata: metadata.clone(),
                });
                stream.log().set_metadata(metadata);
                self.shared.notify(&stream);
            }
            ServerEvent::Pause {
                stream_id, pause, ..
            } => {
                if let Some(player) = conn.players.iter_mut().find(|p| p.stream_id == stream_id) {
                    let was_paused = std::mem::replace(&mut player.paused, pause);
                    if was_paused && !pause {
                        // Resume live: a player left behind the newest keyframe skips to
                        // it (whole GOPs, headers again); one still inside the current GOP
                        // takes what it missed.
                        let join = player.stream.log().join_point();
                        if player.cursor < join {
                            conn.stats.frames_dropped += join - player.cursor;
                            player.cursor = join;
                            player.primed = false;
                        }
                        let stream = player.stream.clone();
                        self.pump(token, &stream);
                    }
                }
            }
            other => log::trace!("{id}: {other:?}"),
        }
    }

    /// Passes an answer to the session, failing the connection on a protocol error in the
    /// input it then handles.
    fn answer_session(&mut self, token: Token, request: RequestId, rejection: Option<Rejection>) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let result = match rejection {
            None => conn.session.accept(request),
            Some(r) => conn.session.reject(request, r),
        };
        if let Err(e) = result {
            if !matches!(e, crate::Error::UnknownRequest) {
                conn.fail(DisconnectReason::ProtocolError(e.to_string()));
            }
        }
        if !conn.session.is_awaiting_decision() {
            conn.read_paused = false;
        }
    }

    /// Acts on the application's (or the default) answer to a request.
    fn decide(&mut self, token: Token, request: RequestId, rejection: Option<Rejection>) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let Some(index) = conn.pending.iter().position(|(r, _)| *r == request) else {
            // Already answered, or timed out in the session.
            return;
        };
        let (_, pending) = conn.pending.remove(index);
        match (pending, rejection) {
            (_, Some(rejection)) => self.answer_session(token, request, Some(rejection)),
            (PendingDecision::Connect, None) => self.answer_session(token, request, None),
            (PendingDecision::Publish { stream_id, name }, None) => {
                let key = Hub::key(&conn.app, &name);
                match self.shared.hub.claim(&key, conn.publisher_id()) {
                    Ok(stream) => {
                        conn.publishing = Some(Publishing {
                            stream_id,
                            name,
                            stream: stream.clone(),
                        });
                        self.answer_session(token, request, None);
                        self.shared.notify(&stream);
                    }
                    Err(_) => {
                        let rejection = Rejection::with_code(
                            status_code::PUBLISH_BAD_NAME,
                            format!("{name} is already being published."),
                        );
                        self.answer_session(token, request, Some(rejection));
                    }
                }
            }
            (PendingDecision::Play { stream_id, name }, None) => {
                let key = Hub::key(&conn.app, &name);
                let stream = self.shared.hub.stream(&key);
                stream.watch(self.index, true);
                let (cursor, generation) = {
                    let log = stream.log();
                    // Joining a live stream starts at its GOP cache; a player that waits
                    // for a publisher starts at its first frame.
                    let cursor = if log.publisher.is_some() {
                        log.join_point()
                    } else {
                        log.head()
                    };
                    (cursor, log.generation)
                };
                conn.players.push(Player {
                    stream_id,
                    name,
                    stream: stream.clone(),
                    cursor,
                    generation,
                    primed: false,
                    live: None,
                    metadata_version: 0,
                    paused: false,
                    starved: false,
                });
                self.watchers.entry(key).or_default().push(token);
                self.answer_session(token, request, None);
                self.pump(token, &stream);
            }
        }
        self.settle(token);
    }

    /// The socket took data: write more, and let players that stopped taking frames for a
    /// full queue catch up.
    fn on_writable(&mut self, token: Token) {
        let limit = self.shared.config.player_queue_bytes;
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        conn.flush();
        let starved: Vec<Arc<Stream>> = if conn.queued_bytes() < limit {
            conn.players
                .iter()
                .filter(|p| p.starved)
                .map(|p| p.stream.clone())
                .collect()
        } else {
            Vec::new()
        };
        for stream in starved {
            self.pump(token, &stream);
        }
        self.settle(token);
    }

    /// Moves a stream's new frames (and publish changes) to one connection's players of it.
    fn pump(&mut self, token: Token, stream: &Arc<Stream>) {
        let queue_limit = self.shared.config.player_queue_bytes;
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        // Bytes written to the socket's queue and not yet sent; frames wait in the stream's
        // log while it is over the bound, and a player that stays over it loses GOPs.
        let mut queued = conn.queued_bytes();
        for player in conn.players.iter_mut() {
            if !Arc::ptr_eq(&player.stream, stream) || player.paused {
                continue;
            }
            let mut send_metadata = None;
            let mut headers = Vec::new();
            let mut notify = None;
            self.batch.clear();
            {
                let log = stream.log();
                if log.generation != player.generation {
                    // A new publish: a player that was waiting starts at its first frame.
                    player.generation = log.generation;
                    player.cursor = log.base();
                    player.primed = false;
                    player.metadata_version = 0;
                }
                let publishing = log.publisher.is_some();
                if player.live != Some(publishing) {
                    // A player learns of changes, not of the state it joined in.
                    if player.live.is_some() {
                        notify = Some(publishing);
                    }
                    player.live = Some(publishing);
                }
                // Frames of the current publish go out even after the publisher left:
                // its last frames may still be in the log.
                // A player whose queue is over its bound takes nothing more, metadata
                // included (the latest version goes out once it drains).
                player.starved = queued >= queue_limit;
                if log.generation > 0 {
                    if !player.starved && log.metadata_version() != player.metadata_version {
                        player.metadata_version = log.metadata_version();
                        send_metadata = log.metadata_body();
                    }
                    let resume = log.resume_point(player.cursor);
                    if resume != player.cursor {
                        // The frames skipped may have held new sequence headers.
                        conn.stats.frames_dropped += resume.saturating_sub(player.cursor);
                        player.cursor = resume;
                        player.primed = false;
                    }
                    if !player.primed {
                        player.primed = true;
                        headers.extend(log.headers.iter().cloned());
                    }
                    if !player.starved {
                        log.frames_from(player.cursor, FANOUT_BATCH, &mut self.batch);
                    }
                }
            }
            let session = &mut conn.session;
            let stream_id = player.stream_id;
            if notify == Some(true) {
                let _ = session.send_publish_notify(stream_id);
            }
            if let Some(body) = send_metadata {
                let _ = session.send_metadata_body(stream_id, body);
            }
            for frame in headers.iter().chain(self.batch.iter()) {
                if session
                    .send_media(
                        stream_id,
                        frame.kind,
                        frame.timestamp,
                        frame.payload.clone(),
                    )
                    .is_ok()
                {
                    conn.stats.frames_out += 1;
                    queued += frame.payload.len();
                }
            }
            player.cursor += self.batch.len() as u64;
            if self.batch.len() == FANOUT_BATCH {
                // More is waiting: come back after the socket took this.
                self.shared.notify(stream);
            }
            if notify == Some(false) {
                let _ = session.send_unpublish_notify(stream_id);
            }
        }
    }

    fn stop_publishing(&mut self, token: Token) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let Some(publishing) = conn.publishing.take() else {
            return;
        };
        let released = self
            .shared
            .hub
            .release(&publishing.stream, conn.publisher_id());
        if released {
            self.shared.emit(Event::Unpublish {
                conn: conn.id,
                app: conn.app.clone(),
                stream: publishing.name,
            });
            self.shared.notify(&publishing.stream);
        }
    }

    fn stop_playing(&mut self, token: Token, stream_id: u32) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let Some(index) = conn.players.iter().position(|p| p.stream_id == stream_id) else {
            return;
        };
        let player = conn.players.remove(index);
        player.stream.watch(self.index, false);
        if let Some(list) = self.watchers.get_mut(player.stream.key()) {
            if let Some(i) = list.iter().position(|t| *t == token) {
                list.swap_remove(i);
            }
            if list.is_empty() {
                self.watchers.remove(player.stream.key());
            }
        }
        self.shared.emit(Event::PlayStop {
            conn: conn.id,
            app: conn.app.clone(),
            stream: player.name,
        });
    }

    fn remove(&mut self, token: Token) {
        self.stop_publishing(token);
        let stream_ids: Vec<u32> = self
            .conns
            .get(&token)
            .map(|c| c.players.iter().map(|p| p.stream_id).collect())
            .unwrap_or_default();
        for stream_id in stream_ids {
            self.stop_playing(token, stream_id);
        }
        let Some(mut conn) = self.conns.remove(&token) else {
            return;
        };
        if !matches!(conn.close, Some(DisconnectReason::Io(_))) {
            conn.socket.close_notify();
        }
        let _ = self.poll.registry().deregister(conn.socket.tcp_mut());
        self.tokens.remove(&conn.id);
        self.shared.connections.fetch_sub(1, Ordering::Relaxed);
        let reason = conn.close.take().unwrap_or(DisconnectReason::PeerClosed);
        log::debug!("{} closed: {reason}", conn.id);
        self.shared.emit(Event::Disconnect {
            conn: conn.id,
            reason,
        });
    }

    /// Timers: session deadlines, liveness pings, idle connections.
    fn tick(&mut self) {
        let now = self.shared.now();
        let ping_ms = self.shared.config.ping_interval.as_millis() as u64;
        let idle_ms = self.shared.config.idle_timeout.as_millis() as u64;
        let tokens: Vec<Token> = self.conns.keys().copied().collect();
        for token in tokens {
            let Some(conn) = self.conns.get_mut(&token) else {
                continue;
            };
            if conn.session.next_timeout().is_some_and(|t| t <= now) {
                if let Err(e) = conn.session.on_timeout(now) {
                    conn.fail(DisconnectReason::Timeout(e.to_string()));
                }
            }
            let silent = now.saturating_sub(conn.last_input);
            if silent >= idle_ms {
                conn.fail(DisconnectReason::Timeout(format!(
                    "no data for {silent} ms"
                )));
            } else if silent >= ping_ms && !conn.ping_outstanding && conn.session.is_connected() {
                conn.ping_outstanding = true;
                let _ = conn.session.ping(now as u32);
            }
            self.settle(token);
        }
        if self.index == 0 {
            self.shared.hub.collect_idle();
        }
    }

    /// Tells players and publishers the server is going away and gives their sockets a
    /// bounded time to drain.
    fn begin_shutdown(&mut self) {
        if self.shutdown_deadline.is_some() {
            return;
        }
        self.shutdown_deadline = Some(Instant::now() + self.shared.config.shutdown_grace);
        self.held.clear();
        let tokens: Vec<Token> = self.conns.keys().copied().collect();
        for token in tokens {
            if let Some(conn) = self.conns.get_mut(&token) {
                conn.hold_until = None;
                for player in &conn.players {
                    let _ = conn.session.send_unpublish_notify(player.stream_id);
                }
                if let Some(publishing) = &conn.publishing {
                    let status = crate::protocol::command::Status::new(
                        crate::protocol::command::StatusLevel::Status,
                        status_code::UNPUBLISH_SUCCESS,
                        "The server is shutting down.",
                    );
                    conn.session.send_status(publishing.stream_id, status);
                }
                conn.flush();
            }
        }
    }
}

//! The embedded RTMP server: a relay that OBS, ffmpeg, GStreamer and rtmpdump publish to
//! and play from, running on worker threads the library owns, reporting to the
//! application through [`Event`]s.
//!
//! ```no_run
//! use std::time::Duration;
//! use rtmp_core::{Event, Server};
//!
//! let server = Server::builder().listen("127.0.0.1:1935".parse().unwrap()).build()?;
//! while let Some(event) = server.next_event(Duration::from_secs(1)) {
//!     if let Event::Publish { app, stream, .. } = event {
//!         println!("publishing {app}/{stream}");
//!     }
//! }
//! # Ok::<(), rtmp_core::Error>(())
//! ```

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Receiver;

use crate::error::{Error, Result};
use crate::event::{ConnectionId, ConnectionStats, Decision, Event, StreamStats};
use crate::hub::{Frame, Hub, PublisherId, Stream, StreamLimits};
use crate::protocol::amf0::Amf0Value;
use crate::runtime::{tls, Listener, Runtime, RuntimeConfig, Shared, WorkerCommand};
use crate::session::{Rejection, ServerConfig};

/// Configures and starts a [`Server`].
#[derive(Debug, Clone)]
pub struct ServerBuilder {
    config: RuntimeConfig,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder {
            config: RuntimeConfig {
                listen: Vec::new(),
                workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
                session: ServerConfig::default(),
                manual_decisions: false,
                max_connections: 10_000,
                player_queue_bytes: 4 << 20,
                write_coalescing: Duration::ZERO,
                ping_interval: Duration::from_secs(10),
                idle_timeout: Duration::from_secs(40),
                shutdown_grace: Duration::from_secs(2),
                stream_limits: StreamLimits::default(),
                tap_backlog: 4096,
            },
        }
    }
}

impl ServerBuilder {
    /// Adds a TCP address to listen on for rtmp:// (several may be given; port 0 picks a
    /// free one).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.config.listen.push(Listener { addr, tls: None });
        self
    }

    /// Adds an address to listen on for rtmps:// (RTMP over TLS), with the server's
    /// certificate chain (leaf first) and private key in PEM. One server may listen for
    /// rtmp:// and rtmps:// at once; the relay, events and limits are the same for both.
    /// Fails if the certificate or key cannot be used.
    ///
    /// ```no_run
    /// let cert = std::fs::read("cert.pem")?;
    /// let key = std::fs::read("key.pem")?;
    /// let server = rtmp_core::Server::builder()
    ///     .listen("0.0.0.0:1935".parse().unwrap())
    ///     .listen_tls("0.0.0.0:443".parse().unwrap(), &cert, &key)?
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn listen_tls(mut self, addr: SocketAddr, cert_pem: &[u8], key_pem: &[u8]) -> Result<Self> {
        let tls = Some(tls::server_config(cert_pem, key_pem)?);
        self.config.listen.push(Listener { addr, tls });
        Ok(self)
    }

    /// Worker threads (default: one per core).
    pub fn workers(mut self, workers: usize) -> Self {
        self.config.workers = workers.max(1);
        self
    }

    /// Chunk size the server sends with (default 4096).
    pub fn chunk_size(mut self, size: u32) -> Self {
        self.config.session.chunk_size = size;
        self
    }

    /// The handshake must finish within this long (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.config.session.handshake_timeout = timeout.as_millis() as u64;
        self
    }

    /// Requests the application has not answered within this long are rejected
    /// (default 10 s).
    pub fn decision_timeout(mut self, timeout: Duration) -> Self {
        self.config.session.decision_timeout = timeout.as_millis() as u64;
        self
    }

    /// A connection that sends nothing for this long, not even a ping response, is closed
    /// (default 40 s; pings go out after a quarter of it).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout;
        self.config.ping_interval = timeout / 4;
        self
    }

    /// When true, connect, publish and play wait for [`ServerHandle::accept`] or
    /// [`ServerHandle::reject`]; when false (the default) they are accepted at once and reported.
    pub fn manual_decisions(mut self, manual: bool) -> Self {
        self.config.manual_decisions = manual;
        self
    }

    /// Connections beyond this are refused at accept (default 10 000).
    pub fn max_connections(mut self, max: usize) -> Self {
        self.config.max_connections = max;
        self
    }

    /// Largest RTMP message accepted (default 16 MiB - 1, the protocol's maximum).
    pub fn max_message_size(mut self, bytes: u32) -> Self {
        self.config.session.chunk_limits.max_message_size = bytes;
        self
    }

    /// Bytes of partly received messages one connection may hold (default 64 MiB).
    pub fn max_reassembly_bytes(mut self, bytes: usize) -> Self {
        self.config.session.chunk_limits.max_reassembly_bytes = bytes;
        self
    }

    /// Chunk streams one connection may use (default 64).
    pub fn max_chunk_streams(mut self, count: usize) -> Self {
        self.config.session.chunk_limits.max_chunk_streams = count;
        self
    }

    /// AMF nesting depth accepted in commands and metadata (default 32).
    pub fn max_amf_depth(mut self, depth: usize) -> Self {
        self.config.session.amf_limits.max_depth = depth;
        self
    }

    /// Bytes queued for one player before it stops taking new frames and, if it stays
    /// behind, skips whole GOPs (default 4 MiB).
    pub fn player_queue_bytes(mut self, bytes: usize) -> Self {
        self.config.player_queue_bytes = bytes;
        self
    }

    /// Lets each player's media wait up to `window` so that the frames arriving meanwhile
    /// go out in one write (default zero: every frame is written as soon as it arrives).
    ///
    /// Relaying to many players costs the kernel mostly per write rather than per byte
    /// (a 370-byte audio frame costs about two thirds of a 25 KB video frame), so fewer,
    /// larger writes serve more players per CPU, at the price of up to `window` more
    /// latency for each frame. A 30 ms window cuts the writes of a 30 fps stream with
    /// audio from ~77 to ~30 per second per player; the README has measured figures. Players that
    /// fell behind, replies to what a player sent and bursts over 128 KiB (a keyframe) are
    /// not held. Windows over one second are taken as one second. Held bytes count in
    /// [`ConnectionStats::queued_bytes`].
    ///
    /// ```no_run
    /// use std::time::Duration;
    ///
    /// let server = rtmp_core::Server::builder()
    ///     .listen("0.0.0.0:1935".parse().unwrap())
    ///     .write_coalescing(Duration::from_millis(30))
    ///     .build()?;
    /// # Ok::<(), rtmp_core::Error>(())
    /// ```
    pub fn write_coalescing(mut self, window: Duration) -> Self {
        self.config.write_coalescing = window.min(Duration::from_secs(1));
        self
    }

    /// Bytes of media each stream keeps for late joiners and briefly slow players
    /// (default 32 MiB; normally two GOPs are kept).
    pub fn gop_cache_bytes(mut self, bytes: usize) -> Self {
        self.config.stream_limits.max_cached_bytes = bytes;
        self
    }

    /// Taps every stream from its first frame (see [`ServerHandle::tap`]), so an
    /// application that counts or records everything misses nothing.
    pub fn tap_all(mut self, on: bool) -> Self {
        self.config.stream_limits.tap_all = on;
        self
    }

    /// Events waiting for the application before new frame and metadata events are
    /// dropped (default 4096); other events are never dropped.
    pub fn tap_backlog(mut self, frames: usize) -> Self {
        self.config.tap_backlog = frames;
        self
    }

    /// Binds the listeners and starts the workers.
    pub fn build(self) -> Result<Server> {
        if self.config.listen.is_empty() {
            return Err(Error::InvalidState("no listen address"));
        }
        let (runtime, events) = Runtime::start(self.config)?;
        Ok(Server::new(runtime, events))
    }
}

/// A running embedded RTMP server. Dropping it shuts it down.
///
/// Everything that acts on the server lives on [`ServerHandle`], which `Server`
/// dereferences to and which callbacks receive.
pub struct Server {
    runtime: Runtime,
    handle: ServerHandle,
    events: Receiver<Event>,
    dispatcher: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addrs", &self.runtime.local_addrs)
            .finish()
    }
}

impl std::ops::Deref for Server {
    type Target = ServerHandle;

    fn deref(&self) -> &ServerHandle {
        &self.handle
    }
}

impl Server {
    /// A builder with safe defaults.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    fn new(runtime: Runtime, events: Receiver<Event>) -> Self {
        let handle = ServerHandle {
            shared: runtime.shared.clone(),
        };
        Server {
            runtime,
            handle,
            events,
            dispatcher: None,
        }
    }

    /// The addresses the server listens on, rtmp:// and rtmps:// in the order they were
    /// added (with the real port when 0 was asked).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.runtime.local_addrs
    }

    /// A cloneable handle for other threads.
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// The event channel, for `select!` or iteration on the application's own thread.
    pub fn events(&self) -> &Receiver<Event> {
        &self.events
    }

    /// Waits up to `timeout` for the next event; `None` on timeout or after shutdown.
    pub fn next_event(&self, timeout: Duration) -> Option<Event> {
        self.events.recv_timeout(timeout).ok()
    }

    /// Delivers every event to `handler` on a dispatcher thread the library owns, instead
    /// of [`next_event`](Self::next_event). The handler runs on no I/O worker, so a slow
    /// handler delays only the events behind it; a panic in it is logged and the
    /// dispatcher goes on. Fails if a dispatcher already runs.
    pub fn dispatch<F>(&mut self, mut handler: F) -> Result<()>
    where
        F: FnMut(&ServerHandle, Event) + Send + 'static,
    {
        if self.dispatcher.is_some() {
            return Err(Error::InvalidState("a dispatcher already runs"));
        }
        let events = self.events.clone();
        let handle = self.handle.clone();
        let thread = std::thread::Builder::new()
            .name("rtmp-dispatcher".into())
            .spawn(move || loop {
                match events.recv_timeout(Duration::from_millis(100)) {
                    Ok(event) => {
                        let call = std::panic::AssertUnwindSafe(|| handler(&handle, event));
                        if std::panic::catch_unwind(call).is_err() {
                            log::error!("an event handler panicked; dispatching goes on");
                        }
                    }
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                        if handle.shared.shutting_down.load(Ordering::Acquire) && events.is_empty()
                        {
                            return;
                        }
                    }
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
                }
            })?;
        self.dispatcher = Some(thread);
        Ok(())
    }

    /// Stops accepting, tells players and publishers, closes every connection within the
    /// grace period and joins the threads (the dispatcher's after it delivered the last
    /// events). Also done on drop.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(thread) = self.stop_runtime() {
            let _ = thread.join();
        }
    }

    /// Shuts the runtime down (idempotent) and hands back the dispatcher thread, for a
    /// caller that must join it without holding its own locks (the C ABI's free).
    pub(crate) fn stop_runtime(&mut self) -> Option<std::thread::JoinHandle<()>> {
        self.runtime.shutdown();
        self.dispatcher.take()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Acts on a running server from any thread: decisions, taps, local publishing,
/// statistics.
#[derive(Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle").finish_non_exhaustive()
    }
}

impl ServerHandle {
    fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Accepts a pending connect, publish or play.
    pub fn accept(&self, decision: Decision) {
        self.decide(decision, None);
    }

    /// Rejects a pending connect, publish or play with a status code and description.
    pub fn reject(&self, decision: Decision, rejection: Rejection) {
        self.decide(decision, Some(rejection));
    }

    fn decide(&self, decision: Decision, rejection: Option<Rejection>) {
        self.shared().command(
            decision.conn.worker(),
            WorkerCommand::Decide {
                conn: decision.conn,
                request: decision.request,
                rejection,
            },
        );
    }

    /// Starts (or stops) delivering a stream's frames as [`Event::Frame`]. The relay works
    /// whether or not a stream is tapped.
    pub fn tap(&self, app: &str, stream: &str, on: bool) {
        self.shared().hub.set_tap(&Hub::key(app, stream), on);
    }

    /// Publishes frames from the application into `app/stream`; RTMP players play it like
    /// any other stream. Fails if someone already publishes it.
    pub fn publisher(&self, app: &str, stream: &str) -> Result<LocalPublisher> {
        let hub = &self.shared().hub;
        let id = hub.local_publisher_id();
        let key = Hub::key(app, stream);
        let stream = hub
            .claim(&key, id)
            .map_err(|_| Error::InvalidState("the stream is already being published"))?;
        self.shared().notify(&stream);
        Ok(LocalPublisher {
            shared: self.shared().clone(),
            stream,
            id,
        })
    }

    /// Statistics of every open connection.
    pub fn connection_stats(&self) -> Vec<(ConnectionId, ConnectionStats)> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let workers = self.shared().workers.len();
        for worker in 0..workers {
            self.shared()
                .command(worker, WorkerCommand::Stats(tx.clone()));
        }
        drop(tx);
        let mut all = Vec::new();
        for _ in 0..workers {
            match rx.recv_timeout(Duration::from_secs(2)) {
                Ok(stats) => all.extend(stats),
                Err(_) => break,
            }
        }
        all.sort_by_key(|(id, _)| *id);
        all
    }

    /// Statistics of every known stream.
    pub fn stream_stats(&self) -> Vec<StreamStats> {
        let uptime = self.shared().started.elapsed().as_secs_f64().max(1e-3);
        self.shared()
            .hub
            .streams()
            .iter()
            .map(|s| {
                let bytes_in = s.counters.bytes_in.load(Ordering::Relaxed);
                StreamStats {
                    key: s.key().to_owned(),
                    publishing: s.log().publisher.is_some(),
                    players: s.players(),
                    frames_in: s.counters.frames_in.load(Ordering::Relaxed),
                    bytes_in,
                    bitrate_bps: bytes_in as f64 * 8.0 / uptime,
                }
            })
            .collect()
    }

    /// Open connections.
    pub fn connection_count(&self) -> usize {
        self.shared().connections.load(Ordering::Relaxed)
    }
}

/// Publishes the application's frames into a stream. Dropping it ends the publish.
pub struct LocalPublisher {
    shared: Arc<Shared>,
    stream: Arc<Stream>,
    id: PublisherId,
}

impl std::fmt::Debug for LocalPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalPublisher")
            .field("stream", &self.stream.key())
            .finish()
    }
}

impl LocalPublisher {
    /// Sends one frame (an FLV tag body; see [`Frame::from_tag`]). Sequence headers are
    /// kept for late joiners, like a remote publisher's.
    pub fn send(&self, frame: Frame) {
        self.stream
            .counters
            .frames_in
            .fetch_add(1, Ordering::Relaxed);
        self.stream
            .counters
            .bytes_in
            .fetch_add(frame.payload.len() as u64, Ordering::Relaxed);
        self.stream.log().push(frame, self.shared.hub.limits());
        self.shared.notify(&self.stream);
    }

    /// Sets the metadata players receive as onMetaData.
    pub fn set_metadata(&self, metadata: Amf0Value) {
        self.stream.log().set_metadata(metadata);
        self.shared.notify(&self.stream);
    }
}

impl Drop for LocalPublisher {
    fn drop(&mut self) {
        if self.shared.hub.release(&self.stream, self.id) {
            self.shared.notify(&self.stream);
        }
    }
}

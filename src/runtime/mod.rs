//! The only code with sockets and threads: a fixed pool of worker threads, each running a
//! mio event loop over the connections it owns, and an acceptor thread that hands new
//! connections to the workers in turn. A connection stays on one worker for life, so its
//! session needs no lock.

pub(crate) mod client_io;
mod conn;
pub(crate) mod tls;
mod worker;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::event::{ConnectionId, ConnectionStats, Event};
use crate::hub::{Hub, Stream, StreamLimits};
use crate::session::{Rejection, RequestId, ServerConfig};

/// One address to listen on; with a TLS configuration it serves rtmps://.
#[derive(Debug, Clone)]
pub(crate) struct Listener {
    pub addr: SocketAddr,
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// Everything the runtime needs to know, fixed when the server starts.
#[derive(Debug, Clone)]
pub(crate) struct RuntimeConfig {
    pub listen: Vec<Listener>,
    pub workers: usize,
    pub session: ServerConfig,
    pub manual_decisions: bool,
    pub max_connections: usize,
    pub player_queue_bytes: usize,
    /// How long a player's media may wait to share one write (zero: write at once).
    pub write_coalescing: Duration,
    pub ping_interval: Duration,
    pub idle_timeout: Duration,
    pub shutdown_grace: Duration,
    pub stream_limits: StreamLimits,
    pub tap_backlog: usize,
}

/// What the application (or another worker) asks a worker to do.
pub(crate) enum WorkerCommand {
    /// A new connection, with the TLS configuration of the listener that accepted it.
    Adopt(TcpStream, SocketAddr, Option<Arc<rustls::ServerConfig>>),
    Decide {
        conn: ConnectionId,
        request: RequestId,
        rejection: Option<Rejection>,
    },
    /// New frames (or a publish change) on a stream this worker has players of.
    Fanout(Arc<Stream>),
    Stats(Sender<Vec<(ConnectionId, ConnectionStats)>>),
    Shutdown,
}

pub(crate) struct WorkerHandle {
    pub commands: Sender<WorkerCommand>,
    pub waker: Arc<Waker>,
}

/// State shared by the workers, the acceptor and the application's handle.
pub(crate) struct Shared {
    pub config: RuntimeConfig,
    pub hub: Hub,
    pub events: Sender<Event>,
    pub workers: Vec<WorkerHandle>,
    pub connections: AtomicUsize,
    pub shutting_down: AtomicBool,
    pub started: Instant,
}

impl Shared {
    /// Sends a command to a worker and wakes it.
    pub fn command(&self, worker: usize, command: WorkerCommand) {
        if let Some(w) = self.workers.get(worker) {
            if w.commands.send(command).is_ok() {
                let _ = w.waker.wake();
            }
        }
    }

    /// Wakes the workers that have players of `stream` (once per burst of frames).
    pub fn notify(&self, stream: &Arc<Stream>) {
        for worker in stream.workers_to_wake() {
            self.command(worker, WorkerCommand::Fanout(stream.clone()));
        }
    }

    /// Reports an event to the application; frames of tapped streams and metadata (which a
    /// publisher may send as often as frames) are dropped rather than queued without bound
    /// when the application does not keep up.
    pub fn emit(&self, event: Event) {
        if matches!(event, Event::Frame { .. } | Event::Metadata { .. })
            && self.events.len() >= self.config.tap_backlog
        {
            log::debug!("event backlog full: dropping a frame or metadata event");
            return;
        }
        let _ = self.events.send(event);
    }

    /// Milliseconds since the runtime started: the clock sessions are driven with.
    pub fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

/// The running pool: join handles and the acceptor's waker.
pub(crate) struct Runtime {
    pub shared: Arc<Shared>,
    pub local_addrs: Vec<SocketAddr>,
    threads: Vec<JoinHandle<()>>,
    acceptor_waker: Arc<Waker>,
}

const ACCEPTOR_WAKE: Token = Token(usize::MAX);

impl Runtime {
    /// Binds the listeners and starts the threads.
    pub fn start(config: RuntimeConfig) -> io::Result<(Runtime, Receiver<Event>)> {
        let workers = config.workers.max(1);
        let mut listeners = Vec::new();
        for listener in &config.listen {
            listeners.push((TcpListener::bind(listener.addr)?, listener.tls.clone()));
        }
        let local_addrs = listeners
            .iter()
            .map(|(l, _)| l.local_addr())
            .collect::<io::Result<Vec<_>>>()?;
        let (event_tx, event_rx) = crossbeam_channel::unbounded();
        let mut polls = Vec::new();
        let mut handles = Vec::new();
        let mut receivers = Vec::new();
        for _ in 0..workers {
            let poll = Poll::new()?;
            let waker = Arc::new(Waker::new(poll.registry(), worker::WAKE)?);
            let (tx, rx) = crossbeam_channel::unbounded();
            handles.push(WorkerHandle {
                commands: tx,
                waker,
            });
            polls.push(poll);
            receivers.push(rx);
        }
        let shared = Arc::new(Shared {
            hub: Hub::new(workers, config.stream_limits),
            config,
            events: event_tx,
            workers: handles,
            connections: AtomicUsize::new(0),
            shutting_down: AtomicBool::new(false),
            started: Instant::now(),
        });
        let mut threads = Vec::new();
        for (index, (poll, commands)) in polls.into_iter().zip(receivers).enumerate() {
            let shared = shared.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("rtmp-worker-{index}"))
                    .spawn(move || worker::Worker::new(index, poll, commands, shared).run())?,
            );
        }
        let acceptor_poll = Poll::new()?;
        let acceptor_waker = Arc::new(Waker::new(acceptor_poll.registry(), ACCEPTOR_WAKE)?);
        for (i, (listener, _)) in listeners.iter_mut().enumerate() {
            acceptor_poll
                .registry()
                .register(listener, Token(i), Interest::READABLE)?;
        }
        let acceptor_shared = shared.clone();
        threads.push(
            std::thread::Builder::new()
                .name("rtmp-acceptor".into())
                .spawn(move || accept_loop(acceptor_poll, listeners, acceptor_shared))?,
        );
        Ok((
            Runtime {
                shared,
                local_addrs,
                threads,
                acceptor_waker,
            },
            event_rx,
        ))
    }

    /// Stops accepting, tells every worker to close its connections (players and
    /// publishers are told first), and joins the threads.
    pub fn shutdown(&mut self) {
        if self.shared.shutting_down.swap(true, Ordering::AcqRel) {
            return;
        }
        let _ = self.acceptor_waker.wake();
        for worker in 0..self.shared.workers.len() {
            self.shared.command(worker, WorkerCommand::Shutdown);
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown();
    }
}

type Listening = (TcpListener, Option<Arc<rustls::ServerConfig>>);

fn accept_loop(mut poll: Poll, listeners: Vec<Listening>, shared: Arc<Shared>) {
    let mut events = Events::with_capacity(64);
    let mut next_worker = 0usize;
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            log::error!("acceptor poll failed: {e}");
            return;
        }
        if shared.shutting_down.load(Ordering::Acquire) {
            return;
        }
        for event in events.iter() {
            let Some((listener, tls)) = listeners.get(event.token().0) else {
                continue;
            };
            loop {
                match listener.accept() {
                    Ok((socket, peer)) => {
                        let live = shared.connections.load(Ordering::Relaxed);
                        if live >= shared.config.max_connections {
                            log::warn!("refusing {peer}: {live} connections is the limit");
                            continue;
                        }
                        shared.connections.fetch_add(1, Ordering::Relaxed);
                        let _ = socket.set_nodelay(true);
                        let command = WorkerCommand::Adopt(socket, peer, tls.clone());
                        shared.command(next_worker, command);
                        next_worker = (next_worker + 1) % shared.workers.len();
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        // Out of descriptors and the like: back off instead of spinning.
                        log::warn!("accept failed: {e}");
                        std::thread::sleep(Duration::from_millis(10));
                        break;
                    }
                }
            }
        }
    }
}

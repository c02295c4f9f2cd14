//! `rtmp_core._native.Server` and `LocalPublisher`: the embedded relay server. The
//! Python package's `rtmp_core.Server` adds callbacks, iteration and asyncio on top.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use parking_lot::Mutex;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use rtmp_core::{Event as CoreEvent, ServerHandle};

use crate::amf;
use crate::errors::{self, IntoPyResult};
use crate::event::Event;
use crate::frame::Frame;
use crate::packaging::Tracks;

/// How long a blocking wait sleeps between checks for Ctrl-C.
pub const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// Waits on `receiver` for up to `timeout` (forever for None), in slices so Ctrl-C gets
/// through, without the GIL. Returns up to `max` items; an empty Vec on timeout, None once
/// the channel is closed (or `closed` is set) and drained.
pub fn receive_batch<T: Send>(
    py: Python<'_>,
    receiver: &Receiver<T>,
    closed: &AtomicBool,
    timeout: Option<f64>,
    max: usize,
) -> PyResult<Option<Vec<T>>> {
    let deadline = timeout.map(|t| Instant::now() + Duration::from_secs_f64(t.max(0.0)));
    loop {
        let slice = match deadline {
            Some(deadline) => deadline
                .saturating_duration_since(Instant::now())
                .min(SIGNAL_CHECK),
            None => SIGNAL_CHECK,
        };
        let first = py.detach(|| receiver.recv_timeout(slice));
        match first {
            Ok(item) => {
                let mut batch = Vec::with_capacity(max.clamp(1, 64));
                batch.push(item);
                while batch.len() < max {
                    match receiver.try_recv() {
                        Ok(item) => batch.push(item),
                        Err(_) => break,
                    }
                }
                return Ok(Some(batch));
            }
            Err(RecvTimeoutError::Disconnected) => return Ok(None),
            Err(RecvTimeoutError::Timeout) => {
                if closed.load(Ordering::Acquire) && receiver.is_empty() {
                    return Ok(None);
                }
                py.check_signals()?;
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(Some(Vec::new()));
                }
            }
        }
    }
}

fn secs(value: Option<f64>, what: &str) -> PyResult<Option<Duration>> {
    value
        .map(|v| {
            Duration::try_from_secs_f64(v).map_err(|_| {
                PyValueError::new_err(format!("{what} must be a positive number of seconds"))
            })
        })
        .transpose()
}

/// The native server; see `rtmp_core.Server` for the documented Python API.
#[pyclass(module = "rtmp_core._native", frozen)]
pub struct NativeServer {
    server: Mutex<Option<rtmp_core::Server>>,
    handle: ServerHandle,
    events: Receiver<CoreEvent>,
    closed: AtomicBool,
    local_addrs: Vec<String>,
}

#[pymethods]
impl NativeServer {
    #[new]
    #[pyo3(signature = (
        listen, *, workers = None, chunk_size = None, handshake_timeout = None,
        idle_timeout = None, decision_timeout = None, manual_decisions = false,
        max_connections = None, max_message_size = None, max_reassembly_bytes = None,
        max_chunk_streams = None, max_amf_depth = None, player_queue_bytes = None,
        gop_cache_bytes = None, tap_all = false, tap_backlog = None, write_coalescing = None,
        tls = Vec::new(),
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        listen: Vec<String>,
        workers: Option<usize>,
        chunk_size: Option<u32>,
        handshake_timeout: Option<f64>,
        idle_timeout: Option<f64>,
        decision_timeout: Option<f64>,
        manual_decisions: bool,
        max_connections: Option<usize>,
        max_message_size: Option<u32>,
        max_reassembly_bytes: Option<usize>,
        max_chunk_streams: Option<usize>,
        max_amf_depth: Option<usize>,
        player_queue_bytes: Option<usize>,
        gop_cache_bytes: Option<usize>,
        tap_all: bool,
        tap_backlog: Option<usize>,
        write_coalescing: Option<f64>,
        tls: Vec<(String, Vec<u8>, Vec<u8>)>,
    ) -> PyResult<Self> {
        let mut builder = rtmp_core::Server::builder()
            .manual_decisions(manual_decisions)
            .tap_all(tap_all);
        let parse = |addr: &str| -> PyResult<SocketAddr> {
            addr.parse().map_err(|_| {
                PyValueError::new_err(format!("listen address {addr:?} is not HOST:PORT"))
            })
        };
        for addr in &listen {
            builder = builder.listen(parse(addr)?);
        }
        for (addr, cert_pem, key_pem) in &tls {
            builder = builder
                .listen_tls(parse(addr)?, cert_pem, key_pem)
                .py_err()?;
        }
        if let Some(v) = workers {
            builder = builder.workers(v);
        }
        if let Some(v) = chunk_size {
            builder = builder.chunk_size(v);
        }
        if let Some(v) = secs(handshake_timeout, "handshake_timeout")? {
            builder = builder.handshake_timeout(v);
        }
        if let Some(v) = secs(idle_timeout, "idle_timeout")? {
            builder = builder.idle_timeout(v);
        }
        if let Some(v) = secs(decision_timeout, "decision_timeout")? {
            builder = builder.decision_timeout(v);
        }
        if let Some(v) = max_connections {
            builder = builder.max_connections(v);
        }
        if let Some(v) = max_message_size {
            builder = builder.max_message_size(v);
        }
        if let Some(v) = max_reassembly_bytes {
            builder = builder.max_reassembly_bytes(v);
        }
        if let Some(v) = max_chunk_streams {
            builder = builder.max_chunk_streams(v);
        }
        if let Some(v) = max_amf_depth {
            builder = builder.max_amf_depth(v);
        }
        if let Some(v) = player_queue_bytes {
            builder = builder.player_queue_bytes(v);
        }
        if let Some(v) = gop_cache_bytes {
            builder = builder.gop_cache_bytes(v);
        }
        if let Some(v) = tap_backlog {
            builder = builder.tap_backlog(v);
        }
        if let Some(v) = secs(write_coalescing, "write_coalescing")? {
            builder = builder.write_coalescing(v);
        }
        let server = py.detach(|| builder.build()).py_err()?;
        let local_addrs = server.local_addrs().iter().map(|a| a.to_string()).collect();
        Ok(NativeServer {
            handle: server.handle(),
            events: server.events().clone(),
            server: Mutex::new(Some(server)),
            closed: AtomicBool::new(false),
            local_addrs,
        })
    }

    /// The bound addresses as "host:port" (the real port when 0 was asked).
    #[getter]
    fn local_addrs(&self) -> Vec<String> {
        self.local_addrs.clone()
    }

    /// Up to `max` events, waiting up to `timeout` seconds (None: until one comes) for the
    /// first. [] on timeout; None once the server is closed and every event delivered.
    #[pyo3(signature = (timeout = None, max = 256))]
    fn next_events(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
        max: usize,
    ) -> PyResult<Option<Py<PyList>>> {
        let Some(batch) = receive_batch(py, &self.events, &self.closed, timeout, max)? else {
            return Ok(None);
        };
        let list = PyList::empty(py);
        for event in batch {
            list.append(Event::new(event, &self.handle))?;
        }
        Ok(Some(list.unbind()))
    }

    /// Starts or stops delivering `app`/`stream`'s frames as "frame" events.
    #[pyo3(signature = (app, stream, on = true))]
    fn tap(&self, app: &str, stream: &str, on: bool) {
        self.handle.tap(app, stream, on);
    }

    /// A publisher for the application's own frames into `app`/`stream`.
    fn publisher(&self, app: &str, stream: &str) -> PyResult<LocalPublisher> {
        let inner = self.handle.publisher(app, stream).py_err()?;
        Ok(LocalPublisher {
            inner: Mutex::new(Some(inner)),
            tracks: Mutex::new(Tracks::default()),
        })
    }

    /// Statistics of every open connection, as dicts.
    fn connection_stats(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        let handle = self.handle.clone();
        let all = py.detach(move || handle.connection_stats());
        let list = PyList::empty(py);
        for (id, s) in all {
            let d = PyDict::new(py);
            d.set_item("conn", id.0)?;
            d.set_item("bytes_in", s.bytes_in)?;
            d.set_item("bytes_out", s.bytes_out)?;
            d.set_item("frames_in", s.frames_in)?;
            d.set_item("frames_out", s.frames_out)?;
            d.set_item("frames_dropped", s.frames_dropped)?;
            d.set_item("queued_bytes", s.queued_bytes)?;
            d.set_item("uptime", s.uptime.as_secs_f64())?;
            list.append(d)?;
        }
        Ok(list.unbind())
    }

    /// Statistics of every known stream, as dicts.
    fn stream_stats(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        let list = PyList::empty(py);
        for s in self.handle.stream_stats() {
            let d = PyDict::new(py);
            let (app, stream) = s.key.split_once('/').unwrap_or((&s.key, ""));
            d.set_item("app", app)?;
            d.set_item("stream", stream)?;
            d.set_item("publishing", s.publishing)?;
            d.set_item("players", s.players)?;
            d.set_item("frames_in", s.frames_in)?;
            d.set_item("bytes_in", s.bytes_in)?;
            d.set_item("bitrate_bps", s.bitrate_bps)?;
            list.append(d)?;
        }
        Ok(list.unbind())
    }

    /// Open connections.
    #[getter]
    fn connection_count(&self) -> usize {
        self.handle.connection_count()
    }

    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Stops accepting, tells publishers and players, closes every connection (bounded
    /// time) and joins the library's threads. Events already queued can still be read.
    /// Idempotent.
    fn close(&self, py: Python<'_>) {
        let server = self.server.lock().take();
        if let Some(server) = server {
            py.detach(move || server.shutdown());
        }
        self.closed.store(true, Ordering::Release);
    }
}

impl Drop for NativeServer {
    /// Dropped without close(): shutting down joins threads, so never with the GIL held.
    fn drop(&mut self) {
        if let Some(server) = self.server.get_mut().take() {
            Python::attach(|py| py.detach(move || server.shutdown()));
        }
    }
}

/// Publishes the application's own frames into a stream of the server; RTMP players play
/// it like any other stream. `close()` (or the end of a `with` block) ends the publish.
#[pyclass(module = "rtmp_core", frozen)]
pub struct LocalPublisher {
    inner: Mutex<Option<rtmp_core::LocalPublisher>>,
    tracks: Mutex<Tracks>,
}

impl LocalPublisher {
    /// Runs `f` with the open publisher, or raises ClosedError.
    fn with<T>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&rtmp_core::LocalPublisher) -> T,
    ) -> PyResult<T> {
        match self.inner.lock().as_ref() {
            Some(publisher) => Ok(f(publisher)),
            None => Err(errors::error(
                py,
                "ClosedError",
                "the publisher is closed".into(),
            )),
        }
    }

    fn send_all(&self, py: Python<'_>, frames: Vec<rtmp_core::Frame>) -> PyResult<usize> {
        let count = frames.len();
        self.with(py, |publisher| {
            frames.into_iter().for_each(|f| publisher.send(f))
        })?;
        Ok(count)
    }
}

#[pymethods]
impl LocalPublisher {
    /// Sends a `Frame` (an FLV tag body).
    fn send(&self, py: Python<'_>, frame: &Frame) -> PyResult<()> {
        self.send_all(py, vec![frame.inner.clone()]).map(drop)
    }

    /// Packages and sends one encoded video access unit (Annex-B for h264/hevc, a
    /// temporal unit for av1, a frame for vp9/vp8) at `pts` (and `dts`) milliseconds.
    /// Returns the number of frames sent (a sequence header goes first when the
    /// configuration appears or changes).
    #[pyo3(signature = (data, pts, dts = None, codec = "h264", track = 0))]
    fn write_video(
        &self,
        py: Python<'_>,
        data: &[u8],
        pts: i64,
        dts: Option<i64>,
        codec: &str,
        track: u8,
    ) -> PyResult<usize> {
        let frames = self.tracks.lock().video(codec, track, data, pts, dts)?;
        self.send_all(py, frames)
    }

    /// Packages and sends encoded audio at `pts` milliseconds: ADTS frames for "aac", one
    /// packet for "opus", one MPEG audio frame for "mp3" (`channels`, `sample_rate`
    /// describe Opus and MP3 streams).
    #[pyo3(signature = (data, pts, codec = "aac", channels = 2, sample_rate = 48000, track = 0))]
    #[allow(clippy::too_many_arguments)]
    fn write_audio(
        &self,
        py: Python<'_>,
        data: &[u8],
        pts: i64,
        codec: &str,
        channels: u8,
        sample_rate: u32,
        track: u8,
    ) -> PyResult<usize> {
        let frames = self
            .tracks
            .lock()
            .audio(codec, track, data, pts, channels, sample_rate)?;
        self.send_all(py, frames)
    }

    /// Sets the onMetaData players receive (a dict of numbers, strings and booleans).
    fn set_metadata(&self, py: Python<'_>, metadata: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = amf::from_python(metadata)?;
        self.with(py, |publisher| publisher.set_metadata(value))
    }

    /// Ends the publish (players get UnpublishNotify and keep waiting). Idempotent.
    fn close(&self) {
        self.inner.lock().take();
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        _exc_type: &Bound<'_, PyAny>,
        _exc: &Bound<'_, PyAny>,
        _tb: &Bound<'_, PyAny>,
    ) -> bool {
        self.close();
        false
    }
}

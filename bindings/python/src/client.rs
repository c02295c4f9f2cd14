//! `rtmp_core.Client`: publish to or play from an RTMP server.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use rtmp_core::client::{ClientNotice, ClientOptions, ReconnectPolicy, TlsOptions};
use rtmp_core::protocol::command::PublishType;

use crate::amf;
use crate::errors::{self, IntoPyResult};
use crate::frame::Frame;
use crate::packaging::Tracks;
use crate::server::receive_batch;

/// Something a client reports. `type` is one of "connected", "publish_started",
/// "play_started", "status", "metadata", "stream_end", "reconnecting", "disconnected".
/// Frames arrive as `Frame` objects instead.
#[pyclass(module = "rtmp_core", frozen, get_all)]
pub struct Notice {
    r#type: &'static str,
    /// onStatus code ("NetStream.Publish.Start", ...), for "status".
    code: Option<String>,
    /// "status", "warning" or "error", for "status".
    level: Option<String>,
    description: Option<String>,
    /// Why the connection ended or is being retried.
    reason: Option<String>,
    /// Reconnect attempt number, for "reconnecting".
    attempt: Option<u32>,
    /// Seconds until the reconnect, for "reconnecting".
    after: Option<f64>,
    /// onMetaData as a dict, for "metadata".
    metadata: Option<Py<PyAny>>,
}

#[pymethods]
impl Notice {
    fn __repr__(&self) -> String {
        let detail = [&self.code, &self.reason]
            .into_iter()
            .flatten()
            .map(|s| format!(" {s:?}"))
            .collect::<String>();
        format!("Notice({}{detail})", self.r#type)
    }
}

fn notice(py: Python<'_>, n: ClientNotice) -> PyResult<Py<PyAny>> {
    let mut out = Notice {
        r#type: "",
        code: None,
        level: None,
        description: None,
        reason: None,
        attempt: None,
        after: None,
        metadata: None,
    };
    out.r#type = match n {
        ClientNotice::Frame(frame) => {
            return Ok(Py::new(py, Frame::wrap(frame))?.into_any());
        }
        ClientNotice::Connected => "connected",
        ClientNotice::PublishStarted => "publish_started",
        ClientNotice::PlayStarted => "play_started",
        ClientNotice::Status(status) => {
            out.code = Some(status.code);
            out.level = Some(status.level.as_str().to_owned());
            out.description = Some(status.description);
            "status"
        }
        ClientNotice::Metadata(value) => {
            out.metadata = Some(amf::to_python(py, &value)?);
            "metadata"
        }
        ClientNotice::StreamEnd => "stream_end",
        ClientNotice::Reconnecting {
            attempt,
            after,
            reason,
        } => {
            out.attempt = Some(attempt);
            out.after = Some(after.as_secs_f64());
            out.reason = Some(reason);
            "reconnecting"
        }
        ClientNotice::Disconnected { reason } => {
            out.reason = Some(reason);
            "disconnected"
        }
        _ => "other",
    };
    Ok(Py::new(py, out)?.into_any())
}

/// A publishing or playing RTMP client on a library-owned I/O thread. Make one with
/// `Client.publish(url)` or `Client.play(url)`.
#[pyclass(module = "rtmp_core", frozen)]
pub struct Client {
    /// Shared so that a blocking wait runs on a clone, without this lock: a thread that
    /// waits with the GIL released must not hold a lock that a thread holding the GIL
    /// (writing frames) needs.
    inner: Mutex<Option<Arc<rtmp_core::client::Client>>>,
    notices: crossbeam_channel::Receiver<ClientNotice>,
    /// Set by close(): iteration ends once the queued notices are read.
    closed: AtomicBool,
    tracks: Mutex<Tracks>,
}

#[allow(clippy::too_many_arguments)]
fn options(
    connect_timeout: f64,
    flash_ver: Option<String>,
    publish_type: &str,
    reconnect: bool,
    reconnect_attempts: u32,
    drop_disposable_after: Option<f64>,
    drop_inter_after: Option<f64>,
    start: f64,
    duration: f64,
    tls: TlsOptions,
) -> PyResult<ClientOptions> {
    let mut o = ClientOptions {
        connect_timeout: Duration::try_from_secs_f64(connect_timeout)
            .map_err(|_| PyValueError::new_err("connect_timeout must be positive"))?,
        ..ClientOptions::default()
    };
    if let Some(v) = flash_ver {
        o.flash_ver = v;
    }
    o.publish_type = match publish_type {
        "live" => PublishType::Live,
        "record" => PublishType::Record,
        "append" => PublishType::Append,
        other => {
            return Err(PyValueError::new_err(format!(
                "publish_type must be live, record or append, not {other:?}"
            )))
        }
    };
    if reconnect {
        o.reconnect = Some(ReconnectPolicy {
            max_attempts: reconnect_attempts,
            ..ReconnectPolicy::default()
        });
    }
    let positive = |v: f64, what: &str| {
        Duration::try_from_secs_f64(v)
            .map_err(|_| PyValueError::new_err(format!("{what} must be positive")))
    };
    if let Some(v) = drop_disposable_after {
        o.congestion.drop_disposable_after = positive(v, "drop_disposable_after")?;
    }
    if let Some(v) = drop_inter_after {
        o.congestion.drop_inter_after = positive(v, "drop_inter_after")?;
    }
    o.play_start = start;
    o.play_duration = duration;
    o.tls = tls;
    Ok(o)
}

impl Client {
    fn start(py: Python<'_>, url: &str, options: ClientOptions, publish: bool) -> PyResult<Self> {
        let client = py
            .detach(|| {
                if publish {
                    rtmp_core::client::Client::publish(url, options)
                } else {
                    rtmp_core::client::Client::play(url, options)
                }
            })
            .py_err()?;
        Ok(Client {
            notices: client.notices().clone(),
            inner: Mutex::new(Some(Arc::new(client))),
            closed: AtomicBool::new(false),
            tracks: Mutex::new(Tracks::default()),
        })
    }

    fn client(&self, py: Python<'_>) -> PyResult<Arc<rtmp_core::client::Client>> {
        self.inner
            .lock()
            .clone()
            .ok_or_else(|| errors::error(py, "ClosedError", "the client is closed".into()))
    }

    fn with<T>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&rtmp_core::client::Client) -> Result<T, rtmp_core::Error>,
    ) -> PyResult<T> {
        f(self.client(py)?.as_ref()).map_err(|e| errors::to_py(py, e))
    }

    fn send_all(&self, py: Python<'_>, frames: Vec<rtmp_core::Frame>) -> PyResult<usize> {
        let count = frames.len();
        self.with(py, |c| frames.into_iter().try_for_each(|f| c.send(f)))?;
        Ok(count)
    }
}

/// Closes the client once no other thread holds it (a `wait_started` slice lasts at most
/// 100 ms), without the GIL.
fn close_when_unshared(mut client: Arc<rtmp_core::client::Client>) {
    loop {
        match Arc::try_unwrap(client) {
            Ok(client) => return client.close(),
            Err(shared) => {
                client = shared;
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
    }
}

impl Drop for Client {
    /// Dropped without close(): closing joins the I/O thread, so never with the GIL held.
    fn drop(&mut self) {
        if let Some(client) = self.inner.get_mut().take() {
            Python::attach(|py| py.detach(move || close_when_unshared(client)));
        }
    }
}

#[pymethods]
impl Client {
    /// Connects to `url` (rtmp:// or rtmps://host[:port]/app/stream) and publishes.
    /// rtmps:// verifies the server against the system's roots, or `ca_pem` (PEM bytes),
    /// for the URL's host or `server_name`; `insecure_skip_verify` accepts any
    /// certificate (test servers only). Returns at once;
    /// frames written before the publish starts wait in the send queue.
    #[staticmethod]
    #[pyo3(signature = (
        url, *, connect_timeout = 10.0, flash_ver = None, publish_type = "live",
        reconnect = false, reconnect_attempts = 0, drop_disposable_after = None,
        drop_inter_after = None, ca_pem = None, insecure_skip_verify = false,
        server_name = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn publish(
        py: Python<'_>,
        url: &str,
        connect_timeout: f64,
        flash_ver: Option<String>,
        publish_type: &str,
        reconnect: bool,
        reconnect_attempts: u32,
        drop_disposable_after: Option<f64>,
        drop_inter_after: Option<f64>,
        ca_pem: Option<Vec<u8>>,
        insecure_skip_verify: bool,
        server_name: Option<String>,
    ) -> PyResult<Self> {
        let tls = TlsOptions {
            ca_pem,
            insecure_skip_verify,
            server_name,
        };
        let o = options(
            connect_timeout,
            flash_ver,
            publish_type,
            reconnect,
            reconnect_attempts,
            drop_disposable_after,
            drop_inter_after,
            -2.0,
            -1.0,
            tls,
        )?;
        Self::start(py, url, o, true)
    }

    /// Connects to `url` and plays; frames arrive through `frames()` or `notices()`.
    /// `start` is -2 (live or recorded), -1 (live only) or a position in seconds;
    /// `duration` -1 plays to the end.
    #[staticmethod]
    #[pyo3(signature = (
        url, *, connect_timeout = 10.0, flash_ver = None, reconnect = false,
        reconnect_attempts = 0, start = -2.0, duration = -1.0, ca_pem = None,
        insecure_skip_verify = false, server_name = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn play(
        py: Python<'_>,
        url: &str,
        connect_timeout: f64,
        flash_ver: Option<String>,
        reconnect: bool,
        reconnect_attempts: u32,
        start: f64,
        duration: f64,
        ca_pem: Option<Vec<u8>>,
        insecure_skip_verify: bool,
        server_name: Option<String>,
    ) -> PyResult<Self> {
        let tls = TlsOptions {
            ca_pem,
            insecure_skip_verify,
            server_name,
        };
        let o = options(
            connect_timeout,
            flash_ver,
            "live",
            reconnect,
            reconnect_attempts,
            None,
            None,
            start,
            duration,
            tls,
        )?;
        Self::start(py, url, o, false)
    }

    /// Waits until the publish or play started; raises with the server's reason if it was
    /// refused, or RtmpTimeoutError.
    #[pyo3(signature = (timeout = 10.0))]
    fn wait_started(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        let timeout = Duration::try_from_secs_f64(timeout)
            .map_err(|_| PyValueError::new_err("timeout must be positive"))?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let slice = deadline
                .saturating_duration_since(std::time::Instant::now())
                .min(crate::server::SIGNAL_CHECK);
            let client = self.client(py)?;
            let result = py.detach(|| client.wait_started(slice));
            match result {
                Ok(()) => return Ok(()),
                Err(rtmp_core::Error::Timeout(_)) if std::time::Instant::now() < deadline => {
                    py.check_signals()?;
                }
                Err(e) => return Err(errors::to_py(py, e)),
            }
        }
    }

    /// Queues a `Frame` (an FLV tag body). Never blocks; raises QueueFullError when the
    /// send queue is over its byte bound.
    fn send(&self, py: Python<'_>, frame: &Frame) -> PyResult<()> {
        self.send_all(py, vec![frame.inner.clone()]).map(drop)
    }

    /// Packages and queues one encoded video access unit (Annex-B for h264/hevc, a
    /// temporal unit for av1, a frame for vp9/vp8) at `pts` (and `dts`) milliseconds.
    /// Returns the number of frames queued. `track` > 0 sends an E-RTMP v2 multitrack
    /// track (several renditions in one stream).
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

    /// Packages and queues encoded audio at `pts` milliseconds: ADTS frames for "aac",
    /// one packet for "opus", one MPEG audio frame for "mp3".
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

    /// Queues stream metadata (sent as @setDataFrame onMetaData).
    fn set_metadata(&self, py: Python<'_>, metadata: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = amf::from_python(metadata)?;
        self.with(py, |c| c.set_metadata(value))
    }

    /// Up to `max` notices and frames, waiting up to `timeout` seconds (None: until one
    /// comes) for the first. [] on timeout; None once the client stopped and every
    /// notice was read.
    #[pyo3(signature = (timeout = None, max = 256))]
    fn next_notices(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
        max: usize,
    ) -> PyResult<Option<Py<PyList>>> {
        let Some(batch) = receive_batch(py, &self.notices, &self.closed, timeout, max)? else {
            return Ok(None);
        };
        let list = PyList::empty(py);
        for n in batch {
            list.append(notice(py, n)?)?;
        }
        Ok(Some(list.unbind()))
    }

    /// Counters as a dict: queued (seconds), queued_bytes, bytes_sent, frames_sent,
    /// frames_dropped, bitrate_bps, rtt (seconds or None), reconnects.
    fn stats(&self, py: Python<'_>) -> PyResult<Py<PyDict>> {
        let s = self.with(py, |c| Ok(c.stats()))?;
        let d = PyDict::new(py);
        d.set_item("queued", s.queued.as_secs_f64())?;
        d.set_item("queued_bytes", s.queued_bytes)?;
        d.set_item("bytes_sent", s.bytes_sent)?;
        d.set_item("frames_sent", s.frames_sent)?;
        d.set_item("frames_dropped", s.frames_dropped)?;
        d.set_item("bitrate_bps", s.bitrate_bps)?;
        d.set_item("rtt", s.rtt.map(|r| r.as_secs_f64()))?;
        d.set_item("reconnects", s.reconnects)?;
        Ok(d.unbind())
    }

    /// Sends what is queued (up to 5 s), unpublishes and closes. Idempotent.
    fn close(&self, py: Python<'_>) {
        let client = self.inner.lock().take();
        if let Some(client) = client {
            py.detach(move || close_when_unshared(client));
        }
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
    }

    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Acquire)
    }
}

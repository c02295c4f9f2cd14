//! `rtmp_core.Event`: what the embedded server reports. Attributes are made on first
//! access, so an event that is only counted costs one small object.

use pyo3::prelude::*;

use rtmp_core::session::Rejection;
use rtmp_core::{Event as CoreEvent, ServerHandle};

use crate::amf;
use crate::errors;
use crate::frame::Frame;

/// A server event. `type` is one of "connect", "publish", "play", "unpublish",
/// "play_stop", "metadata", "frame", "disconnect"; attributes that do not apply are None.
///
/// Connect, publish and play events of a server with manual decisions carry a pending
/// decision: answer it with `accept()` or `reject()` (unanswered ones are rejected after
/// the server's decision timeout).
#[pyclass(module = "rtmp_core", frozen)]
pub struct Event {
    inner: CoreEvent,
    /// Set for events that carry a decision.
    handle: Option<ServerHandle>,
}

impl Event {
    pub fn new(inner: CoreEvent, handle: &ServerHandle) -> Self {
        let decides = matches!(
            &inner,
            CoreEvent::Connect {
                decision: Some(_),
                ..
            } | CoreEvent::Publish {
                decision: Some(_),
                ..
            } | CoreEvent::Play {
                decision: Some(_),
                ..
            }
        );
        Event {
            inner,
            handle: decides.then(|| handle.clone()),
        }
    }

    fn decision(&self) -> Option<rtmp_core::Decision> {
        match &self.inner {
            CoreEvent::Connect { decision, .. }
            | CoreEvent::Publish { decision, .. }
            | CoreEvent::Play { decision, .. } => *decision,
            _ => None,
        }
    }
}

#[pymethods]
impl Event {
    #[getter]
    fn r#type(&self) -> &'static str {
        match &self.inner {
            CoreEvent::Connect { .. } => "connect",
            CoreEvent::Publish { .. } => "publish",
            CoreEvent::Play { .. } => "play",
            CoreEvent::Unpublish { .. } => "unpublish",
            CoreEvent::PlayStop { .. } => "play_stop",
            CoreEvent::Metadata { .. } => "metadata",
            CoreEvent::Frame { .. } => "frame",
            CoreEvent::Disconnect { .. } => "disconnect",
            _ => "other",
        }
    }

    /// The connection's id (None for metadata and frame events).
    #[getter]
    fn conn(&self) -> Option<u64> {
        match &self.inner {
            CoreEvent::Connect { conn, .. }
            | CoreEvent::Publish { conn, .. }
            | CoreEvent::Play { conn, .. }
            | CoreEvent::Unpublish { conn, .. }
            | CoreEvent::PlayStop { conn, .. }
            | CoreEvent::Disconnect { conn, .. } => Some(conn.0),
            _ => None,
        }
    }

    #[getter]
    fn app(&self) -> Option<&str> {
        match &self.inner {
            CoreEvent::Connect { app, .. }
            | CoreEvent::Publish { app, .. }
            | CoreEvent::Play { app, .. }
            | CoreEvent::Unpublish { app, .. }
            | CoreEvent::PlayStop { app, .. }
            | CoreEvent::Metadata { app, .. }
            | CoreEvent::Frame { app, .. } => Some(app),
            _ => None,
        }
    }

    #[getter]
    fn stream(&self) -> Option<&str> {
        match &self.inner {
            CoreEvent::Publish { stream, .. }
            | CoreEvent::Play { stream, .. }
            | CoreEvent::Unpublish { stream, .. }
            | CoreEvent::PlayStop { stream, .. }
            | CoreEvent::Metadata { stream, .. }
            | CoreEvent::Frame { stream, .. } => Some(stream),
            _ => None,
        }
    }

    /// Connect: the client's address as "host:port".
    #[getter]
    fn peer(&self) -> Option<String> {
        match &self.inner {
            CoreEvent::Connect { peer, .. } => Some(peer.to_string()),
            _ => None,
        }
    }

    /// Connect: the tcUrl the client sent.
    #[getter]
    fn tc_url(&self) -> Option<&str> {
        match &self.inner {
            CoreEvent::Connect { tc_url, .. } => tc_url.as_deref(),
            _ => None,
        }
    }

    /// Connect: the whole command object as a dict (flashVer, fourCcList, capsEx, ...).
    #[getter]
    fn connect(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match &self.inner {
            CoreEvent::Connect { connect, .. } => Ok(Some(
                amf::properties_to_dict(py, &connect.properties)?
                    .into_any()
                    .unbind(),
            )),
            _ => Ok(None),
        }
    }

    /// Publish: "live", "record" or "append".
    #[getter]
    fn publish_type(&self) -> Option<&'static str> {
        match &self.inner {
            CoreEvent::Publish { publish_type, .. } => Some(publish_type.as_str()),
            _ => None,
        }
    }

    /// Metadata: the onMetaData object as a dict.
    #[getter]
    fn metadata(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match &self.inner {
            CoreEvent::Metadata { metadata, .. } => Ok(Some(amf::to_python(py, metadata)?)),
            _ => Ok(None),
        }
    }

    /// Frame: the frame.
    #[getter]
    fn frame(&self) -> Option<Frame> {
        match &self.inner {
            CoreEvent::Frame { frame, .. } => Some(Frame::wrap(frame.clone())),
            _ => None,
        }
    }

    /// Disconnect: why the connection ended.
    #[getter]
    fn reason(&self) -> Option<String> {
        match &self.inner {
            CoreEvent::Disconnect { reason, .. } => Some(reason.to_string()),
            _ => None,
        }
    }

    /// True when the server waits for `accept()` or `reject()`.
    #[getter]
    fn pending(&self) -> bool {
        self.handle.is_some()
    }

    /// Accepts the pending connect, publish or play.
    fn accept(&self, py: Python<'_>) -> PyResult<()> {
        let (handle, decision) = self.pending_decision(py)?;
        handle.accept(decision);
        Ok(())
    }

    /// Rejects the pending connect, publish or play; `code` defaults to the usual status
    /// code (NetConnection.Connect.Rejected, NetStream.Publish.BadName,
    /// NetStream.Play.StreamNotFound).
    #[pyo3(signature = (description = "rejected", code = None))]
    fn reject(&self, py: Python<'_>, description: &str, code: Option<&str>) -> PyResult<()> {
        let (handle, decision) = self.pending_decision(py)?;
        let rejection = match code {
            Some(code) => Rejection::with_code(code, description),
            None => Rejection::new(description),
        };
        handle.reject(decision, rejection);
        Ok(())
    }

    fn __repr__(&self) -> String {
        let mut text = format!("Event({}", self.r#type());
        if let Some(conn) = self.conn() {
            text.push_str(&format!(" conn={conn}"));
        }
        if let Some(app) = self.app() {
            text.push_str(&format!(" app={app:?}"));
        }
        if let Some(stream) = self.stream() {
            text.push_str(&format!(" stream={stream:?}"));
        }
        if let Some(reason) = self.reason() {
            text.push_str(&format!(" reason={reason:?}"));
        }
        text.push(')');
        text
    }
}

impl Event {
    fn pending_decision(&self, py: Python<'_>) -> PyResult<(&ServerHandle, rtmp_core::Decision)> {
        match (&self.handle, self.decision()) {
            (Some(handle), Some(decision)) => Ok((handle, decision)),
            _ => Err(errors::error(
                py,
                "InvalidStateError",
                format!(
                    "this {} event has no pending decision (the server decides by itself \
                     unless built with manual_decisions=True)",
                    self.r#type()
                ),
            )),
        }
    }
}

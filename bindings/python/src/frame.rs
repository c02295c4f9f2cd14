//! `rtmp_core.Frame`: one audio or video message (an FLV tag body) with its flags.

use bytes::Bytes;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyBytes;

use rtmp_core::media::encoder::codec_name;
use rtmp_core::MediaKind;

/// One audio or video frame: an FLV tag body with its timestamp and flags.
///
/// The payload stays in the library's reference-counted buffer; `data` makes a `bytes`
/// copy the first time it is read and keeps it.
#[pyclass(module = "rtmp_core", frozen)]
pub struct Frame {
    pub inner: rtmp_core::Frame,
    data: PyOnceLock<Py<PyBytes>>,
}

impl Frame {
    pub fn wrap(inner: rtmp_core::Frame) -> Self {
        Frame {
            inner,
            data: PyOnceLock::new(),
        }
    }
}

pub fn parse_kind(kind: &str) -> PyResult<MediaKind> {
    match kind {
        "audio" => Ok(MediaKind::Audio),
        "video" => Ok(MediaKind::Video),
        other => Err(PyValueError::new_err(format!(
            "kind must be 'audio' or 'video', not {other:?}"
        ))),
    }
}

pub fn kind_name(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Audio => "audio",
        MediaKind::Video => "video",
    }
}

#[pymethods]
impl Frame {
    /// A frame from an FLV tag body; keyframe and sequence-header flags are read from it.
    #[new]
    fn new(kind: &str, timestamp: u32, data: &[u8]) -> PyResult<Self> {
        Ok(Frame::wrap(rtmp_core::Frame::from_tag(
            parse_kind(kind)?,
            timestamp,
            Bytes::copy_from_slice(data),
        )))
    }

    /// "audio" or "video".
    #[getter]
    fn kind(&self) -> &'static str {
        kind_name(self.inner.kind)
    }

    /// Milliseconds (the decode time for video).
    #[getter]
    fn timestamp(&self) -> u32 {
        self.inner.timestamp
    }

    /// A video frame a decoder can start at.
    #[getter]
    fn keyframe(&self) -> bool {
        self.inner.keyframe
    }

    /// A codec configuration record rather than media.
    #[getter]
    fn sequence_header(&self) -> bool {
        self.inner.sequence_header
    }

    /// "h264", "hevc", "av1", "vp9", "aac", "opus", "mp3", ... or "unknown".
    #[getter]
    fn codec(&self) -> &'static str {
        codec_name(self.inner.kind, &self.inner.payload)
    }

    /// The FLV tag body.
    #[getter]
    fn data(&self, py: Python<'_>) -> Py<PyBytes> {
        self.data
            .get_or_init(py, || PyBytes::new(py, &self.inner.payload).unbind())
            .clone_ref(py)
    }

    fn __bytes__(&self, py: Python<'_>) -> Py<PyBytes> {
        self.data(py)
    }

    fn __len__(&self) -> usize {
        self.inner.payload.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "Frame({} {} ts={} len={}{}{})",
            self.kind(),
            self.codec(),
            self.inner.timestamp,
            self.inner.payload.len(),
            if self.inner.keyframe { " key" } else { "" },
            if self.inner.sequence_header {
                " header"
            } else {
                ""
            },
        )
    }
}

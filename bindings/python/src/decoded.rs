//! `rtmp_core.Depacketizer`: played frames to decoder input (Annex-B, ADTS, OBUs, ...).

use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use rtmp_core::media::decoder::{DecodedFrame as CoreDecoded, Depacketizer as CoreDepacketizer};

use crate::errors::IntoPyResult;
use crate::frame::{kind_name, Frame};

/// A frame in the form a decoder takes: Annex-B H.264/HEVC (parameter sets in front of
/// keyframes), AV1 temporal units, VP8/VP9 frames, AAC as ADTS, Opus packets, MP3 frames.
#[pyclass(module = "rtmp_core", frozen, get_all)]
pub struct DecodedFrame {
    kind: &'static str,
    codec: &'static str,
    data: Py<PyBytes>,
    /// Milliseconds.
    pts: i64,
    dts: i64,
    keyframe: bool,
    /// The E-RTMP v2 track (0 for ordinary single-track streams).
    track_id: u8,
}

#[pymethods]
impl DecodedFrame {
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "DecodedFrame({} {} pts={} dts={} len={}{}{})",
            self.kind,
            self.codec,
            self.pts,
            self.dts,
            self.data.bind(py).as_bytes().len(),
            if self.keyframe { " key" } else { "" },
            match self.track_id {
                0 => String::new(),
                id => format!(" track={id}"),
            }
        )
    }
}

/// Turns one stream's frames (audio and video, every E-RTMP v2 track) into decoder input,
/// keeping each track's codec configuration from the sequence headers it sees.
///
/// ```python
/// depacketizer = rtmp_core.Depacketizer()
/// for frame in client.frames():
///     for decoded in depacketizer.push(frame):   # [] for sequence headers
///         if decoded.codec == "h264" and decoded.track_id == 0:
///             decoder.decode(decoded.data)
/// ```
#[pyclass(module = "rtmp_core", frozen)]
pub struct Depacketizer {
    inner: Mutex<CoreDepacketizer>,
}

#[pymethods]
impl Depacketizer {
    #[new]
    fn new() -> Self {
        Depacketizer {
            inner: Mutex::new(CoreDepacketizer::new()),
        }
    }

    /// The decoder input `frame` made: [] for configuration (sequence headers, end of
    /// sequence), one frame for media, one per track for an E-RTMP v2 message carrying
    /// several. Raises MediaError for codecs it cannot unpack, media before its sequence
    /// header, or broken frames.
    fn push(&self, py: Python<'_>, frame: &Frame) -> PyResult<Vec<DecodedFrame>> {
        let decoded = self.inner.lock().push(&frame.inner).py_err()?;
        Ok(decoded
            .into_iter()
            .map(|d: CoreDecoded| DecodedFrame {
                kind: kind_name(d.kind),
                codec: d.codec,
                data: PyBytes::new(py, &d.data).unbind(),
                pts: d.pts,
                dts: d.dts,
                keyframe: d.keyframe,
                track_id: d.track_id,
            })
            .collect())
    }
}

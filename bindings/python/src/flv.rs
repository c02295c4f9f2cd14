//! FLV files: `read_flv` and `FlvWriter`, over the core's reader and writer.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use bytes::Bytes;
use parking_lot::Mutex;
use pyo3::prelude::*;

use rtmp_core::media::flv::{FlvHeader, FlvReader, FlvWriter as CoreWriter, TagKind};
use rtmp_core::protocol::command::DataMessage;
use rtmp_core::Error;

use crate::amf;
use crate::errors::{self, IntoPyResult};
use crate::frame::Frame;

/// The audio and video tags of an FLV file, in file order, as Frames (script tags such
/// as onMetaData are skipped).
#[pyfunction]
pub fn read_flv(py: Python<'_>, path: PathBuf) -> PyResult<Vec<Frame>> {
    let frames = py
        .detach(|| -> Result<Vec<rtmp_core::Frame>, Error> {
            let data = Bytes::from(std::fs::read(&path)?);
            let mut frames = Vec::new();
            for tag in FlvReader::from_bytes(data)? {
                let tag = tag?;
                let Some(kind) = tag.kind.media() else {
                    continue;
                };
                frames.push(rtmp_core::Frame::from_tag(kind, tag.timestamp, tag.body));
            }
            Ok(frames)
        })
        .py_err()?;
    Ok(frames.into_iter().map(Frame::wrap).collect())
}

/// Writes Frames into an FLV file (audio and video announced in the header).
///
/// ```python
/// with rtmp_core.FlvWriter("out.flv") as out:
///     out.write_metadata({"width": 1280.0, "height": 720.0})
///     for frame in client.frames():
///         out.write(frame)
/// ```
#[pyclass(module = "rtmp_core", frozen)]
pub struct FlvWriter {
    inner: Mutex<Option<CoreWriter<BufWriter<File>>>>,
}

#[pymethods]
impl FlvWriter {
    #[new]
    fn new(path: PathBuf) -> PyResult<Self> {
        let file = File::create(&path).map_err(Error::Io).py_err()?;
        let writer = CoreWriter::new(BufWriter::new(file), &FlvHeader::default())
            .map_err(Error::Flv)
            .py_err()?;
        Ok(FlvWriter {
            inner: Mutex::new(Some(writer)),
        })
    }

    /// Appends one frame as a tag.
    fn write(&self, py: Python<'_>, frame: &Frame) -> PyResult<()> {
        let mut inner = self.inner.lock();
        let writer = inner
            .as_mut()
            .ok_or_else(|| errors::error(py, "ClosedError", "the FLV writer is closed".into()))?;
        writer
            .write(
                frame.inner.kind.into(),
                frame.inner.timestamp,
                &frame.inner.payload,
            )
            .map_err(|e| errors::to_py(py, Error::Flv(e)))
    }

    /// Appends stream metadata (a dict, as `Client.set_metadata` takes) as an `onMetaData`
    /// tag at `timestamp` milliseconds; players read the one before the first frame.
    #[pyo3(signature = (metadata, timestamp = 0))]
    fn write_metadata(
        &self,
        py: Python<'_>,
        metadata: &Bound<'_, PyAny>,
        timestamp: u32,
    ) -> PyResult<()> {
        let body = DataMessage::on_metadata(amf::from_python(metadata)?).encode();
        let mut inner = self.inner.lock();
        let writer = inner
            .as_mut()
            .ok_or_else(|| errors::error(py, "ClosedError", "the FLV writer is closed".into()))?;
        writer
            .write(TagKind::Script, timestamp, &body)
            .map_err(|e| errors::to_py(py, Error::Flv(e)))
    }

    /// Flushes and closes the file. Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        if let Some(mut writer) = self.inner.lock().take() {
            writer
                .flush()
                .map_err(|e| errors::to_py(py, Error::Flv(e)))?;
        }
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: &Bound<'_, PyAny>,
        _exc: &Bound<'_, PyAny>,
        _tb: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }
}

//! One mapping from the core's `Error` to the Python exception hierarchy, which lives in
//! `rtmp_core/errors.py` so that its classes can also derive from the matching built-ins
//! (`TimeoutError`, `ValueError`, `OSError`, ...).

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use rtmp_core::Error;

/// Builds an exception of class `name` from `rtmp_core.errors`.
pub fn error(py: Python<'_>, name: &str, message: String) -> PyErr {
    let class = py
        .import("rtmp_core.errors")
        .and_then(|module| module.getattr(name));
    match class.and_then(|class| class.call1((message.clone(),))) {
        Ok(instance) => PyErr::from_value(instance),
        // The package is broken (errors.py missing): still say what went wrong.
        Err(_) => PyRuntimeError::new_err(message),
    }
}

/// The exception class for each core error.
fn class_of(e: &Error) -> &'static str {
    match e {
        Error::Timeout(_) => "RtmpTimeoutError",
        Error::Closed => "ClosedError",
        Error::InvalidState(_) | Error::UnknownRequest => "InvalidStateError",
        Error::InvalidUrl(_) => "InvalidUrlError",
        Error::Flv(_) | Error::Media(_) => "MediaError",
        Error::QueueFull => "QueueFullError",
        Error::Io(_) => "RtmpIOError",
        Error::Tls(_) => "TlsError",
        _ => "ProtocolError",
    }
}

/// Converts a core error (with the interpreter attached).
pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    error(py, class_of(&e), e.to_string())
}

/// `Result` conversion for code that has no `Python` token at hand.
pub trait IntoPyResult<T> {
    fn py_err(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, Error> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(|e| Python::attach(|py| to_py(py, e)))
    }
}

impl<T> IntoPyResult<T> for Result<T, rtmp_core::media::enhanced::MediaError> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(|e| Python::attach(|py| to_py(py, Error::Media(e))))
    }
}

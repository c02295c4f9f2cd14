//! `rtmp_core._native`: the PyO3 layer over the rtmp_core Rust API. The Python package
//! (`bindings/python/python/rtmp_core`) re-exports it and adds callbacks, iteration,
//! asyncio and the exception classes.

mod amf;
mod client;
mod decoded;
mod errors;
mod event;
mod flv;
mod frame;
mod logs;
mod packaging;
mod server;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<frame::Frame>()?;
    m.add_class::<event::Event>()?;
    m.add_class::<server::NativeServer>()?;
    m.add_class::<server::LocalPublisher>()?;
    m.add_class::<client::Client>()?;
    m.add_class::<client::Notice>()?;
    m.add_class::<flv::FlvWriter>()?;
    m.add_class::<decoded::Depacketizer>()?;
    m.add_class::<decoded::DecodedFrame>()?;
    m.add_function(wrap_pyfunction!(flv::read_flv, m)?)?;
    m.add_function(wrap_pyfunction!(logs::set_log_level, m)?)?;
    m.add_function(wrap_pyfunction!(logs::drain_logs, m)?)?;
    m.add_function(wrap_pyfunction!(logs::dropped_logs, m)?)?;
    Ok(())
}

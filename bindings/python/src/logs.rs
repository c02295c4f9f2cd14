//! The library's `log` records to Python's `logging`. The sink runs on whichever thread
//! logged (often an I/O worker), so it never touches the interpreter: it queues the
//! record, and a Python thread (`rtmp_core._logging`) drains the queue into loggers
//! named after the record's target ("rtmp_core.runtime.worker", ...).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use log::LevelFilter;
use parking_lot::Mutex;
use pyo3::prelude::*;

use rtmp_core::logging::{add_sink, remove_sink, SinkId};

use crate::server::receive_batch;

/// Records waiting for the Python thread; beyond this they are counted and dropped, so
/// a stalled interpreter never grows memory or blocks an I/O worker.
const QUEUE: usize = 10_000;

type Record = (u8, String, String);

struct Bridge {
    tx: Sender<Record>,
    rx: Receiver<Record>,
    sink: Mutex<Option<SinkId>>,
    dropped: Arc<AtomicU64>,
    never_closed: AtomicBool,
}

static BRIDGE: OnceLock<Bridge> = OnceLock::new();

fn bridge() -> &'static Bridge {
    BRIDGE.get_or_init(|| {
        let (tx, rx) = crossbeam_channel::bounded(QUEUE);
        Bridge {
            tx,
            rx,
            sink: Mutex::new(None),
            dropped: Arc::new(AtomicU64::new(0)),
            never_closed: AtomicBool::new(false),
        }
    })
}

/// Python logging's number for a `log` level (TRACE is 5, below DEBUG).
fn python_level(level: log::Level) -> u8 {
    match level {
        log::Level::Error => 40,
        log::Level::Warn => 30,
        log::Level::Info => 20,
        log::Level::Debug => 10,
        log::Level::Trace => 5,
    }
}

fn level_filter(python_level: i32) -> LevelFilter {
    match python_level {
        i32::MIN..=0 => LevelFilter::Trace,
        1..=5 => LevelFilter::Trace,
        6..=10 => LevelFilter::Debug,
        11..=20 => LevelFilter::Info,
        21..=30 => LevelFilter::Warn,
        31..=50 => LevelFilter::Error,
        _ => LevelFilter::Off,
    }
}

/// Forwards records at `level` (a Python logging level) or above; replaces the previous
/// setting. Returns False when the process already has another Rust logger.
#[pyfunction]
pub fn set_log_level(level: i32) -> bool {
    let bridge = bridge();
    let mut sink = bridge.sink.lock();
    if let Some(id) = sink.take() {
        remove_sink(id);
    }
    let filter = level_filter(level);
    if filter == LevelFilter::Off {
        return true;
    }
    let tx = bridge.tx.clone();
    let dropped = bridge.dropped.clone();
    let forward = move |record: &log::Record<'_>| {
        let item = (
            python_level(record.level()),
            record.target().to_owned(),
            record.args().to_string(),
        );
        if let Err(TrySendError::Full(_)) = tx.try_send(item) {
            dropped.fetch_add(1, Ordering::Relaxed);
        }
    };
    match add_sink(filter, Arc::new(forward)) {
        Ok(id) => {
            *sink = Some(id);
            true
        }
        Err(_) => false,
    }
}

/// Waits up to `timeout` seconds for records; returns a list of (level, target, message).
#[pyfunction]
#[pyo3(signature = (timeout = 0.5, max = 512))]
pub fn drain_logs(py: Python<'_>, timeout: f64, max: usize) -> PyResult<Vec<Record>> {
    let bridge = bridge();
    Ok(
        receive_batch(py, &bridge.rx, &bridge.never_closed, Some(timeout), max)?
            .unwrap_or_default(),
    )
}

/// Records dropped because the queue was full.
#[pyfunction]
pub fn dropped_logs() -> u64 {
    bridge().dropped.load(Ordering::Relaxed)
}

//! One process-wide `log` logger that forwards the library's records to the sinks the
//! bindings register: a C callback, Python's `logging`, or both.
//!
//! A Rust application that embeds the crate installs its own logger as usual and never
//! calls this module. The bindings call [`add_sink`], which installs the forwarding logger
//! on first use; if the process already has another logger, [`add_sink`] says so.
//!
//! ```
//! use std::sync::Arc;
//! let id = rtmp_core::logging::add_sink(
//!     log::LevelFilter::Info,
//!     Arc::new(|record: &log::Record<'_>| eprintln!("{}: {}", record.level(), record.args())),
//! )
//! .unwrap();
//! log::info!("goes to the sink");
//! rtmp_core::logging::remove_sink(id);
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use log::{LevelFilter, Log, Metadata, Record};
use parking_lot::RwLock;

use crate::{Error, Result};

/// A destination for log records. It runs on whichever thread logged (often an I/O
/// worker), so it must be quick and must not block.
pub type Sink = dyn Fn(&Record<'_>) + Send + Sync;

/// Names a registered sink, for [`remove_sink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SinkId(u64);

#[derive(Clone)]
struct Registered {
    id: u64,
    level: LevelFilter,
    sink: Arc<Sink>,
}

/// The sinks as an immutable snapshot: logging clones the `Arc` and calls the sinks with
/// no lock held, so a sink that logs (or registers a sink) cannot deadlock.
struct Forwarder {
    sinks: RwLock<Arc<Vec<Registered>>>,
}

impl Log for Forwarder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.sinks
            .read()
            .iter()
            .any(|s| metadata.level() <= s.level)
    }

    fn log(&self, record: &Record<'_>) {
        let sinks = self.sinks.read().clone();
        let outer = DELIVERING.replace(true);
        for s in sinks.iter().filter(|s| record.level() <= s.level) {
            (s.sink)(record);
        }
        DELIVERING.set(outer);
    }

    fn flush(&self) {}
}

static FORWARDER: OnceLock<Forwarder> = OnceLock::new();

thread_local! {
    /// This thread is inside a sink (which may log, or remove a sink, itself).
    static DELIVERING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}
static INSTALLED: OnceLock<bool> = OnceLock::new();
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn forwarder() -> Result<&'static Forwarder> {
    let forwarder = FORWARDER.get_or_init(|| Forwarder {
        sinks: RwLock::new(Arc::new(Vec::new())),
    });
    let installed = *INSTALLED.get_or_init(|| log::set_logger(forwarder).is_ok());
    if installed {
        Ok(forwarder)
    } else {
        Err(Error::InvalidState(
            "another logger is installed in this process; its records go there",
        ))
    }
}

/// Registers `sink` for records at `level` or more severe, installing the forwarding
/// logger if this is the first sink. Fails if the process installed another logger.
pub fn add_sink(level: LevelFilter, sink: Arc<Sink>) -> Result<SinkId> {
    let forwarder = forwarder()?;
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut sinks = forwarder.sinks.write();
    let mut next = Vec::clone(&sinks);
    next.push(Registered { id, level, sink });
    update_max_level(&next);
    *sinks = Arc::new(next);
    Ok(SinkId(id))
}

/// Unregisters a sink. When this returns, no thread is inside the sink any more and none
/// will enter it, so what it captured (a C callback's userdata) may be freed. Called from
/// inside a sink, it does not wait for deliveries on its own thread. Unknown ids are
/// ignored.
pub fn remove_sink(id: SinkId) {
    let Some(forwarder) = FORWARDER.get() else {
        return;
    };
    let removed = {
        let mut sinks = forwarder.sinks.write();
        let removed = sinks.iter().find(|s| s.id == id.0).map(|s| s.sink.clone());
        let next: Vec<Registered> = sinks.iter().filter(|s| s.id != id.0).cloned().collect();
        update_max_level(&next);
        *sinks = Arc::new(next);
        removed
    };
    // Deliveries in flight hold the old snapshot, and with it a clone of the sink.
    if let Some(sink) = removed {
        if !DELIVERING.get() {
            while Arc::strong_count(&sink) > 1 {
                std::thread::yield_now();
            }
        }
    }
}

fn update_max_level(sinks: &[Registered]) {
    let max = sinks
        .iter()
        .map(|s| s.level)
        .max()
        .unwrap_or(LevelFilter::Off);
    log::set_max_level(max);
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    #[test]
    fn sinks_get_records_at_their_level_until_removed() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen_in_sink = seen.clone();
        let id = add_sink(
            LevelFilter::Info,
            Arc::new(move |r: &Record<'_>| {
                seen_in_sink.lock().push((r.level(), r.args().to_string()))
            }),
        )
        .unwrap();
        log::debug!(target: "rtmp_core::test", "too verbose");
        log::warn!(target: "rtmp_core::test", "kept {}", 1);
        remove_sink(id);
        log::warn!(target: "rtmp_core::test", "after removal");
        let seen = seen.lock();
        let ours: Vec<_> = seen.iter().filter(|(_, m)| m.starts_with("kept")).collect();
        assert_eq!(ours, [&(log::Level::Warn, "kept 1".to_string())]);
        assert!(!seen
            .iter()
            .any(|(_, m)| m == "too verbose" || m == "after removal"));
    }

    #[test]
    fn removal_waits_for_deliveries_in_flight() {
        use std::sync::atomic::AtomicBool;
        let inside = Arc::new(AtomicBool::new(false));
        let finished = Arc::new(AtomicBool::new(false));
        let (inside_sink, finished_sink) = (inside.clone(), finished.clone());
        let id = add_sink(
            LevelFilter::Trace,
            Arc::new(move |r: &Record<'_>| {
                if r.target() == "rtmp_core::slow" {
                    inside_sink.store(true, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    finished_sink.store(true, Ordering::SeqCst);
                }
            }),
        )
        .unwrap();
        let logger = std::thread::spawn(|| log::info!(target: "rtmp_core::slow", "slow"));
        while !inside.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        remove_sink(id);
        assert!(
            finished.load(Ordering::SeqCst),
            "returned while the sink ran"
        );
        logger.join().unwrap();
    }

    #[test]
    fn a_sink_that_logs_does_not_deadlock() {
        let id = add_sink(
            LevelFilter::Trace,
            Arc::new(|r: &Record<'_>| {
                if r.target() == "rtmp_core::outer" {
                    log::info!(target: "rtmp_core::inner", "nested");
                }
            }),
        )
        .unwrap();
        log::info!(target: "rtmp_core::outer", "outer");
        remove_sink(id);
    }
}

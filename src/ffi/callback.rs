//! What the dispatcher threads that call C callbacks share: the userdata carrier and the
//! record of whose callback the current thread is running, so that a call which would
//! wait for that very thread (freeing its handle) is refused instead of deadlocking.

use std::cell::Cell;
use std::ffi::c_void;

/// Carries the application's userdata to a library thread.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UserData(pub *mut c_void);

// SAFETY: every export that takes userdata documents that it is used from a library
// thread; the caller vouches that this is safe for what it points to.
unsafe impl Send for UserData {}
// SAFETY: as above; the pointer itself is only copied, never dereferenced by us.
unsafe impl Sync for UserData {}

thread_local! {
    /// The address of the handle whose dispatcher this thread is (0: none).
    static DISPATCHER_OF: Cell<usize> = const { Cell::new(0) };
}

/// Marks the current thread as the dispatcher of the handle at `owner` for its life.
pub(crate) fn become_dispatcher_of<T>(owner: *const T) {
    DISPATCHER_OF.with(|d| d.set(owner as usize));
}

/// Whether the current thread is the dispatcher of the handle at `owner`.
pub(crate) fn is_dispatcher_of<T>(owner: *const T) -> bool {
    DISPATCHER_OF.with(|d| d.get() == owner as usize && !owner.is_null())
}

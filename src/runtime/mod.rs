//! The runtime: goroutines (G) on OS threads (M) holding processors (P).
//!
//! SKELETON: the GMP scheduler lands here (issue 2). Until then only the
//! hooks other modules use exist: `block_on`, `blocking`, `set_wait_reason`.

mod park;
mod wait;

pub use wait::WaitReason;

pub(crate) use park::ThreadParker;

use std::future::Future;

/// Drives a future to completion on the current ordinary thread, parking
/// the thread between polls. Inside a G the P is handed off first.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    blocking(|| park::block_on_thread(fut))
}

/// Runs a blocking closure on the current thread (Go's syscall path).
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Records why the current G is about to park (no-op outside a G).
pub(crate) fn set_wait_reason(_r: WaitReason) {}

//! Parking an ordinary thread on a future: `goro::block_on`.
//!
//! A `ThreadParker` is a flag under a mutex plus a condition variable; its
//! Waker sets the flag and notifies. `block_on` polls, and parks until the
//! flag is set, then polls again. No runtime is needed: this is how
//! `*_blocking` channel operations and `goro::block_on` work on plain threads.
//! Called from inside a G, `block_on` runs under `blocking`, so the P is
//! handed to another M while this thread waits (Go's entersyscall).
//!
//! Every thread inside `block_on_thread` is counted process-wide
//! (`threads_in_blocking_ops`): the deadlock check of every runtime stays
//! quiet while any thread waits in a goro blocking operation, since that
//! thread may be the one that feeds the parked Gs (`trace.rs`, "The
//! deadlock rule").

use crate::loom::{Condvar, Mutex};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Wake, Waker};

/// Wakes one parked ordinary thread.
#[derive(Default, Debug)]
pub(crate) struct ThreadParker {
    /// Set by any waker, cleared by the parked thread. Guarded by the mutex.
    notified: Mutex<bool>,
    cv: Condvar,
}

impl ThreadParker {
    pub(crate) fn new() -> Self {
        ThreadParker {
            notified: Mutex::new(false),
            cv: Condvar::new(),
        }
    }

    /// Parks until `unpark` (or returns at once if it already happened).
    pub(crate) fn park(&self) {
        let mut n = self.notified.lock();
        while !*n {
            self.cv.wait(&mut n);
        }
        *n = false;
    }

    pub(crate) fn unpark(&self) {
        let mut n = self.notified.lock();
        if !*n {
            *n = true;
            drop(n);
            self.cv.notify_one();
        }
    }
}

impl Wake for ThreadParker {
    fn wake(self: std::sync::Arc<Self>) {
        self.unpark();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.unpark();
    }
}

/// Threads of the process inside `block_on_thread`. A process-wide hint
/// read only by the deadlock check (no handshake pairs with it, so it is a
/// plain std atomic: loom's cannot be a static). Written by the threads
/// entering and leaving (`InBlockingOp`).
static IN_BLOCKING_OPS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many threads of the process are inside a goro blocking operation
/// now (`*_blocking`, `goro::block_on`).
pub(crate) fn threads_in_blocking_ops() -> usize {
    // SeqCst: a thread that entered before the deadlock check's scans is
    // seen by them (it is counted before its first poll).
    IN_BLOCKING_OPS.load(std::sync::atomic::Ordering::SeqCst)
}

/// Counts this thread in `IN_BLOCKING_OPS` while it lives (also when the
/// future's poll panics).
struct InBlockingOp;

impl InBlockingOp {
    fn enter() -> Self {
        // SeqCst: see `threads_in_blocking_ops`.
        IN_BLOCKING_OPS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        InBlockingOp
    }
}

impl Drop for InBlockingOp {
    fn drop(&mut self) {
        IN_BLOCKING_OPS.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Drives `fut` to completion on this thread, parking it between polls.
pub(crate) fn block_on_thread<F: Future>(fut: F) -> F::Output {
    let _counted = InBlockingOp::enter();
    let parker = std::sync::Arc::new(ThreadParker::new());
    let waker = Waker::from(parker.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        parker.park();
    }
}

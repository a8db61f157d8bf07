//! Parking an ordinary thread on a future: `goro::block_on`.
//!
//! A `ThreadParker` is a flag under a mutex plus a condition variable; its
//! Waker sets the flag and notifies. `block_on` polls, and parks until the
//! flag is set, then polls again. No runtime is needed: this is how
//! `*_blocking` channel operations and `goro::block_on` work on plain threads.
//! Called from inside a G, `block_on` runs under `blocking`, so the P is
//! handed to another M while this thread waits (Go's entersyscall).

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

/// Drives `fut` to completion on this thread, parking it between polls.
pub(crate) fn block_on_thread<F: Future>(fut: F) -> F::Output {
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

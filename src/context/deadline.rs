//! The deadline timer of a `with_deadline` context (Go's `timerCtx.timer`,
//! armed with `time.AfterFunc` in `WithDeadlineCause`).
//!
//! [`arm_deadline`] starts a timer that cancels the node with
//! `DeadlineExceeded` (and the given cause) when it fires; the node keeps the
//! [`DeadlineTimer`] and stops it when cancelled first. The timer's closure
//! holds the node strongly (as Go's timer holds the `timerCtx`), so a
//! forgotten deadline context lives until its deadline, then is freed.

use super::cancel::CancelCtx;
use super::{Cause, ContextError};
use crate::loom::Arc;
use crate::loom::atomic::{AtomicBool, Ordering};
use crate::runtime::ThreadParker;
use std::time::{Duration, Instant};

/// A running deadline timer; `stop` disarms it.
pub(crate) struct DeadlineTimer {
    shared: Arc<Shared>,
}

struct Shared {
    /// Set by `stop` (any thread); read by the timer thread after waking.
    stopped: AtomicBool,
    parker: ThreadParker,
}

impl DeadlineTimer {
    /// Disarms the timer (Go's `t.timer.Stop()`); the closure is dropped.
    pub(crate) fn stop(&self) {
        // Release: pairs with the timer thread's Acquire load.
        self.shared.stopped.store(true, Ordering::Release);
        self.shared.parker.unpark();
    }
}

/// Arms the timer that cancels `node` after `d`, and gives it to the node
/// (which stops it at once if it is already done).
pub(crate) fn arm_deadline(node: &Arc<CancelCtx>, d: Duration, cause: Option<Cause>) {
    let shared = Arc::new(Shared { stopped: AtomicBool::new(false), parker: ThreadParker::new() });
    let deadline = Instant::now() + d;
    let n = node.clone();
    let s = shared.clone();
    crate::loom::thread::spawn(move || {
        loop {
            // Acquire: pairs with `stop`'s Release store.
            if s.stopped.load(Ordering::Acquire) {
                return;
            }
            if Instant::now() >= deadline {
                break;
            }
            s.parker.park_until(deadline);
        }
        n.cancel(true, ContextError::DeadlineExceeded, cause);
    });
    if let Some(t) = node.set_timer(DeadlineTimer { shared }) {
        t.stop();
    }
}

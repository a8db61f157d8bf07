//! The deadline timer of a `with_deadline` context (Go's `timerCtx.timer`,
//! armed with `time.AfterFunc` in `WithDeadlineCause`).
//!
//! [`arm_deadline`] starts a `goro::time::after_func` timer that cancels the
//! node with `DeadlineExceeded` (and the given cause) when it fires; the node
//! keeps the [`DeadlineTimer`] and stops it when cancelled first.
//!
//! The timer's closure reaches the node through a one-shot `slot` (a leaf
//! lock): firing takes the node out and cancels it; stopping takes it out
//! and drops it. So the timer keeps a forgotten deadline context alive until
//! its deadline at most (as Go's timer does), and a cancelled one is freed
//! at once even while the stopped timer's entry waits for the heap's lazy
//! clean-up.

use super::cancel::NodeRef;
use super::{Cause, ContextError};
use crate::loom::{Arc, Mutex};
use std::time::Duration;

/// What the timer will cancel, taken once (by the firing or by `stop`).
type Slot = Mutex<Option<(NodeRef, Option<Cause>)>>;

/// A running deadline timer; `stop` disarms it.
pub(crate) struct DeadlineTimer {
    timer: crate::time::Timer,
    slot: Arc<Slot>,
}

impl DeadlineTimer {
    /// Disarms the timer (Go's `t.timer.Stop()`) and lets go of the node.
    /// Called with no context lock held (it may drop the last handle).
    pub(crate) fn stop(self) {
        self.timer.stop();
        let taken = self.slot.lock().take();
        drop(taken);
    }
}

/// Arms the timer that cancels `node` after `d`, and gives it to the node
/// (which stops it at once if it is already done).
pub(crate) fn arm_deadline(node: &NodeRef, d: Duration, cause: Option<Cause>) {
    let slot: Arc<Slot> = Arc::new(Mutex::new(Some((node.clone(), cause))));
    let s = slot.clone();
    let timer = crate::time::after_func(d, move || {
        let taken = s.lock().take();
        if let Some((n, cause)) = taken {
            n.cancel(true, ContextError::DeadlineExceeded, cause);
        }
    });
    if let Some(t) = node.set_timer(DeadlineTimer { timer, slot }) {
        t.stop();
    }
}

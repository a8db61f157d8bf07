//! The deadline timer of a `with_deadline` context (Go's `timerCtx.timer`,
//! armed with `time.AfterFunc` in `WithDeadlineCause`).
//!
//! [`arm_deadline`] starts a `goro::time::after_func` timer that cancels the
//! node with `DeadlineExceeded` (and the given cause) when it fires; the node
//! keeps the [`DeadlineTimer`] and stops it when cancelled first, or when
//! its last handle goes (nothing can observe the deadline any more, so the
//! timer must not keep the context, its ancestors and their values alive
//! until then).
//!
//! The timer's closure reaches the node through a one-shot `slot` (a leaf
//! lock) holding a [`WeakNode`]: a pointer that does not keep the node
//! alive. Firing takes the slot's content and, still under the slot lock,
//! upgrades the pointer (a CAS on the node's count from a non-zero value);
//! stopping takes the content and drops it.
//!
//! # Invariants
//! - The slot holds the node's pointer only while the node's memory is
//!   allocated: every path that takes the node's `DeadlineTimer` out of the
//!   node (its cancel, under the node's lock; its `Drop`, before the memory
//!   is freed) empties the slot at once, under the slot lock. So a firing
//!   that finds the pointer in the slot, holding the slot lock, may read
//!   the node's count: the node is alive, or dropping (count 0, its `Drop`
//!   waiting for the slot lock).
//!
//! # Deadlock safety
//! The slot lock is a leaf: held only to move its content and to CAS the
//! node's count. It is taken under node locks (by the cancel), never the
//! other way round, and nothing is dropped or run under it (a cause is
//! dropped after it is released).

use super::cancel::{NodeRef, WeakNode};
use super::{Cause, ContextError};
use crate::loom::{Arc, Mutex};
use std::time::Duration;

/// What the timer will cancel (the node, weakly, and the cause), taken once.
type Slot = Mutex<Option<(WeakNode, Option<Cause>)>>;

/// A running deadline timer; `stop` disarms it.
pub(crate) struct DeadlineTimer {
    timer: crate::time::Timer,
    slot: Arc<Slot>,
}

impl DeadlineTimer {
    /// Empties the slot (the node may be freed from now on); returns the
    /// cause to drop once no lock is held. Called under the node's lock by
    /// its cancel, and by its `Drop`.
    pub(crate) fn disarm(&self) -> Option<Cause> {
        let taken = self.slot.lock().take();
        taken.and_then(|(_, cause)| cause)
    }

    /// Disarms the timer (Go's `t.timer.Stop()`) and lets go of its cause.
    /// Called with no context lock held (the cause's drop is user code).
    pub(crate) fn stop(self) {
        self.timer.stop();
        drop(self.disarm());
    }
}

/// Arms the timer that cancels `node` after `d`, and gives it to the node
/// (which stops it at once if it is already done).
pub(crate) fn arm_deadline(node: &NodeRef, d: Duration, cause: Option<Cause>) {
    let slot: Arc<Slot> = Arc::new(Mutex::new(Some((node.downgrade(), cause))));
    let s = slot.clone();
    let timer = crate::time::after_func(d, move || {
        let mut guard = s.lock();
        let taken = guard.take();
        // SAFETY: the pointer was still in the slot and the slot lock is
        // held, so the node's memory is allocated (see the invariants).
        let node = taken.as_ref().and_then(|(w, _)| unsafe { w.upgrade() });
        drop(guard);
        if let (Some(n), Some((_, cause))) = (node, taken) {
            n.cancel(true, ContextError::DeadlineExceeded, cause);
        }
    });
    if let Some(t) = node.set_timer(DeadlineTimer { timer, slot }) {
        t.stop();
    }
}

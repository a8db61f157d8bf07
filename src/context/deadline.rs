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

use super::cancel::CancelCtx;
use super::{Cause, ContextError};
use crate::loom::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the timer will cancel, taken once (by the firing or by `stop`).
type Slot = Mutex<Option<(Arc<CancelCtx>, Option<Cause>)>>;

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
pub(crate) fn arm_deadline(node: &Arc<CancelCtx>, d: Duration, cause: Option<Cause>) {
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

/// An `Option<Instant>` in 8 bytes (half of `Option<Instant>`), so that a
/// cancel node stays small: signed nanoseconds from a process-wide base
/// instant, `i64::MIN` for none.
///
/// Exact within about 292 years of the base (the range of Go's
/// `time.Duration`, which bounds Go's `WithTimeout` the same way); an
/// instant further away is clamped to that range.
#[derive(Clone, Copy)]
pub(crate) struct PackedInstant(i64);

impl PackedInstant {
    /// Packs `t`.
    pub(crate) fn new(t: Option<Instant>) -> PackedInstant {
        let Some(t) = t else {
            return PackedInstant(i64::MIN);
        };
        let base = base();
        let n = if t >= base {
            i64::try_from(t.duration_since(base).as_nanos()).unwrap_or(i64::MAX)
        } else {
            // Never i64::MIN: the magnitude is capped at i64::MAX.
            -i64::try_from((base - t).as_nanos()).unwrap_or(i64::MAX)
        };
        PackedInstant(n)
    }

    /// Unpacks it.
    #[inline]
    pub(crate) fn get(self) -> Option<Instant> {
        match self.0 {
            i64::MIN => None,
            n if n >= 0 => Some(base() + Duration::from_nanos(n as u64)),
            n => base().checked_sub(Duration::from_nanos(n.unsigned_abs())),
        }
    }
}

/// The base of [`PackedInstant`]: the first time it is needed.
fn base() -> Instant {
    static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::PackedInstant;
    use std::time::{Duration, Instant};

    #[test]
    fn packed_instant_round_trips() {
        let now = Instant::now();
        assert_eq!(PackedInstant::new(None).get(), None);
        for t in [
            now,
            now + Duration::from_nanos(1),
            now + Duration::from_secs(86_400 * 365 * 100),
            now - Duration::from_millis(1),
        ] {
            assert_eq!(PackedInstant::new(Some(t)).get(), Some(t));
        }
    }

    #[test]
    fn cancel_node_is_small() {
        // One 64-byte allocation a with_cancel node on 64-bit targets (with
        // the Arc's counts): the W11 tree's build time is mostly memory.
        if cfg!(target_pointer_width = "64") {
            assert!(std::mem::size_of::<super::CancelCtx>() <= 40);
        }
    }
}

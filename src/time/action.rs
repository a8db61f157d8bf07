//! What the time package's timers do when they fire: the actions the
//! runtime's heaps call (`runtime/timers.rs`, [`TimerAction`]).
//!
//! - [`ChanAction`]: send the deadline on the timer's channel (Go's
//!   `sendTime`), for `Timer`, `after`, `Ticker` and `tick`. The channel
//!   has capacity 1; a full one drops the value (a slow ticker receiver),
//!   as Go's does. The timer is observed while the channel has a receiver.
//! - [`FuncAction`]: start the `after_func` function in a new G of the
//!   runtime that armed it (Go's `goFunc`), through the runtime's
//!   [`Spawner`].
//!
//! Also the timer channel itself ([`timer_chan`], [`drain`]). The send
//! happens under the timer's send lock (the commit of
//! [`Firing::run_if_current`]); the spawn after it, under no lock.

use crate::chan::{Receiver, Sender};
use crate::loom::Mutex;
use crate::loom::atomic::Ordering;
use crate::runtime::Spawner;
use crate::runtime::timers::{Firing, TimerAction};
use std::time::Instant;

/// Sends the deadline on a timer channel.
pub(super) struct ChanAction {
    pub(super) tx: Sender<Instant>,
}

impl TimerAction for ChanAction {
    fn fire(&self, firing: Firing<'_>) -> bool {
        let v = firing.when();
        // A full channel drops the value (a slow ticker receiver); a
        // channel nobody can receive from drops it too.
        matches!(firing.run_if_current(|| self.tx.try_send(v)), Some(Ok(())))
    }

    fn is_observed(&self) -> bool {
        // The receiver count never rises again once it is 0 (a receiver is
        // made only from another one).
        self.tx.hchan().receivers.load(Ordering::Relaxed) > 0
    }
}

/// The function of an `after_func` timer (`Fn`: a reset runs it again).
pub(super) type AfterFn = std::sync::Arc<dyn Fn() + Send + Sync>;

/// Starts an `after_func` function in a new G.
pub(super) struct FuncAction {
    /// The function; the owner takes it out when it drops a timer that is
    /// not pending (`release`), so a zombie entry never holds user code
    /// whose drop could run under a heap lock. A leaf lock.
    pub(super) f: Mutex<Option<AfterFn>>,
    /// The runtime of the `after_func` call.
    pub(super) home: Spawner,
}

impl TimerAction for FuncAction {
    fn fire(&self, firing: Firing<'_>) -> bool {
        match firing.run_if_current(|| self.f.lock().clone()) {
            Some(Some(f)) => {
                // After the send lock is released: a spawn may drop `f`.
                self.home.spawn_fn(move || f());
                true
            }
            _ => false,
        }
    }

    fn release(&self) {
        let f = self.f.lock().take();
        drop(f);
    }
}

/// A timer channel: never closed (Go never closes a timer's channel), even
/// after the timer is freed: it counts one sender that is never dropped.
/// The channel itself is freed with its last receiver.
pub(super) fn timer_chan(cap: usize) -> (Sender<Instant>, Receiver<Instant>) {
    let (tx, rx) = crate::chan::chan(cap);
    // The phantom sender (a count, not a reference: it holds no memory).
    tx.hchan().senders.fetch_add(1, Ordering::Relaxed);
    (tx, rx)
}

/// Takes the buffered value of a timer channel, if any: after a stop or
/// reset no value of an older arming may be received (Go 1.23).
pub(super) fn drain(rx: Option<&Receiver<Instant>>) -> bool {
    rx.is_some_and(|rx| rx.try_recv().is_ok())
}

//! One-shot timers: `time::after`, [`Timer`] and `time::after_func` (Go's
//! `time.After`, `time.NewTimer`, `time.AfterFunc`, `Timer.Stop`,
//! `Timer.Reset`), with Go 1.23 semantics.
//!
//! A channel timer is a `Kind::Deliver` timer whose action sends the
//! deadline on a capacity-1 channel (action.rs); `stop`/`reset` drain that
//! channel under the timer's send lock, so no value of an older arming is
//! received after they return. An `after_func` timer is a `Kind::Func`
//! timer whose action starts `f` in a new G of the runtime that called
//! `after_func` (the runtime's `Spawner`), whatever thread fires it.

use super::action::{AfterFn, ChanAction, FuncAction, drain, timer_chan};
use super::start_new;
use crate::chan::Receiver;
use crate::runtime::Spawner;
use crate::runtime::timers::{Kind, TimerRef, nanos_after};
use std::time::{Duration, Instant};

/// Arms `t` for `when` (encoded) with `period`, draining `rx` (if any)
/// under the timer's send lock; returns Go 1.23's Stop/Reset result.
pub(super) fn arm(t: &TimerRef, when: u64, period: u64, rx: Option<&Receiver<Instant>>) -> bool {
    let (prevented, needs_add) = t.modify(when, period, None, || drain(rx));
    if needs_add {
        super::start(t.clone());
    }
    prevented
}

/// A channel that receives the deadline once `d` has elapsed (Go:
/// `time.After(d)`). Usable in `select!` for timeouts.
///
/// The timer cannot be stopped; when that matters use [`Timer`]. It is freed
/// once it fires, or, once the receiver is dropped, when it comes due or by
/// the next sweep of its heap, whichever is first (a loop of `select!`s on
/// `after(long)` keeps memory bounded, as Go 1.23's garbage-collected timers
/// do). A duration too long to represent never fires.
///
/// ```
/// use std::time::Duration;
/// let rx = goro::time::after(Duration::from_millis(2));
/// assert!(rx.recv_blocking().is_some());
/// ```
pub fn after(d: Duration) -> Receiver<Instant> {
    let (tx, rx) = timer_chan(1);
    start_new(Kind::Deliver, nanos_after(d), 0, ChanAction { tx });
    rx
}

/// A one-shot timer (Go: `time.Timer` from `time.NewTimer` or
/// `time.AfterFunc`), with Go 1.23 semantics: after [`stop`](Timer::stop) or
/// [`reset`](Timer::reset) returns, no value of an earlier arming is ever
/// received from [`c`](Timer::c).
///
/// Dropping a `Timer` does not stop it while its channel can still be
/// received from (a clone of [`c`](Timer::c) exists) or for an
/// [`after_func`] timer; otherwise it is stopped, and freed.
///
/// Unlike Go's (where `len` and `cap` of a timer channel are 0), the channel
/// has capacity 1 and `len()` may report a fired, unreceived value. The
/// channel is never closed.
///
/// ```
/// use std::time::Duration;
/// use goro::time::Timer;
/// let t = Timer::new(Duration::from_secs(60));
/// assert!(t.stop()); // it was pending
/// assert!(!t.stop());
/// t.reset(Duration::from_millis(1));
/// assert!(t.c().recv_blocking().is_some());
/// ```
pub struct Timer {
    t: TimerRef,
    rx: Receiver<Instant>,
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer")
            .field("pending", &self.t.is_pending())
            .finish()
    }
}

impl Timer {
    /// A timer that sends the deadline on [`c`](Timer::c) once `d` has
    /// elapsed (Go: `time.NewTimer(d)`). A zero `d` fires at once; a
    /// duration too long to represent never fires.
    ///
    /// # Examples
    ///
    /// A timeout with a timer (Go's `timer := time.NewTimer(d)` and a `select`):
    ///
    /// ```
    /// use goro::time::Timer;
    /// use std::time::Duration;
    /// let timed_out = goro::run(async {
    ///     let (_tx, rx) = goro::chan::<i32>(0); // nobody sends
    ///     let timer = Timer::new(Duration::from_millis(5));
    ///     goro::select! {
    ///         recv(rx) -> _ => false,
    ///         recv(timer.c()) -> _ => true,
    ///     }
    /// });
    /// assert!(timed_out);
    /// ```
    pub fn new(d: Duration) -> Timer {
        let (tx, rx) = timer_chan(1);
        let t = start_new(Kind::Deliver, nanos_after(d), 0, ChanAction { tx });
        Timer { t, rx }
    }

    /// The channel the deadline is sent on (capacity 1). For an
    /// [`after_func`] timer it never receives (Go's nil `C`).
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::time::Timer;
    /// use std::time::{Duration, Instant};
    /// let t0 = Instant::now();
    /// let timer = Timer::new(Duration::from_millis(2));
    /// let fired_at = timer.c().recv_blocking().unwrap(); // <-timer.C
    /// assert!(fired_at >= t0 + Duration::from_millis(2));
    /// ```
    pub fn c(&self) -> &Receiver<Instant> {
        &self.rx
    }

    /// Stops the timer (Go: `Timer.Stop`). Returns true if the call
    /// prevented a delivery: the timer was pending, or its value had been
    /// sent but not yet received (it is discarded). For an [`after_func`]
    /// timer, true means `f` will not run for this arming. Never blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::chan::TryRecvError;
    /// use goro::time::Timer;
    /// use std::time::Duration;
    /// let timer = Timer::new(Duration::from_millis(1));
    /// std::thread::sleep(Duration::from_millis(5)); // it fires; nobody receives
    /// // Go 1.23: Stop reports a pending timer or an unreceived value (which
    /// // it discards) alike.
    /// assert!(timer.stop());
    /// assert_eq!(timer.c().try_recv(), Err(TryRecvError::Empty));
    /// assert!(!timer.stop()); // nothing left to prevent
    /// ```
    pub fn stop(&self) -> bool {
        self.t.stop(|| drain(self.chan_rx()))
    }

    /// Re-arms the timer to fire after `d` (Go: `Timer.Reset`), discarding
    /// any unreceived value of the earlier arming. Returns true if the timer
    /// was pending or such a value was discarded (same meaning as
    /// [`stop`](Timer::stop)). An [`after_func`] timer runs `f` again (in a
    /// G of the runtime that called `after_func`).
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::time::Timer;
    /// use std::time::Duration;
    /// let timer = Timer::new(Duration::from_secs(3600));
    /// // Re-arm a pending timer to fire soon (returns true: it was pending).
    /// assert!(timer.reset(Duration::from_millis(1)));
    /// assert!(timer.c().recv_blocking().is_some());
    /// // Fired and received: nothing was pending.
    /// assert!(!timer.reset(Duration::from_millis(1)));
    /// assert!(timer.c().recv_blocking().is_some());
    /// ```
    pub fn reset(&self, d: Duration) -> bool {
        arm(&self.t, nanos_after(d), 0, self.chan_rx())
    }

    fn chan_rx(&self) -> Option<&Receiver<Instant>> {
        match self.t.kind() {
            Kind::Deliver => Some(&self.rx),
            _ => None,
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        match self.t.kind() {
            Kind::Deliver => {
                // Nobody else can receive: stopping is unobservable and
                // frees the heap entry early (Go 1.23 collects such timers).
                let rx = self
                    .rx
                    .hchan()
                    .receivers
                    .load(crate::loom::atomic::Ordering::Relaxed);
                if rx == 1 {
                    self.t.stop(|| false);
                }
            }
            Kind::Func => {
                // Not pending and no handle left: it can never run again.
                // Drop `f` here, not later in a heap's clean-up (under its
                // lock), since dropping user code may wake Gs.
                if !self.t.is_pending() {
                    self.t.action().release();
                }
            }
            Kind::Wake => {}
        }
    }
}

/// Runs `f` after `d` has elapsed (Go: `time.AfterFunc(d, f)`), in its own
/// new G, as Go runs it in its own goroutine.
///
/// The G is started on the runtime whose G called `after_func`, whichever
/// thread fires the timer (one of its Ms, or its monitor thread when every
/// M is busy): `f` may call [`goro::go`](crate::go), and a panic in `f`
/// ends [`goro::run`](crate::run) like any G's. If that runtime has shut
/// down by then, `f` does not run. Called outside any runtime (from a plain
/// thread), the timer is served by goro's timer thread and `f` runs on a
/// new OS thread of its own; if a G re-arms such a timer, an M of that G's
/// runtime may fire it, and `f` then runs in a G there.
///
/// The returned [`Timer`] stops it ([`Timer::stop`] is true iff `f` was
/// prevented from running) or re-arms it ([`Timer::reset`] runs `f` again).
/// Dropping the `Timer` does not cancel `f`.
///
/// ```
/// use std::time::Duration;
/// let n = goro::run(async {
///     let (tx, rx) = goro::chan::<usize>(1);
///     let _t = goro::time::after_func(Duration::from_millis(1), move || {
///         // A G of this runtime: it can spawn, and sees the other Gs.
///         let _ = tx.try_send(goro::num_goroutine());
///     });
///     rx.recv().await.unwrap()
/// });
/// assert!(n >= 2); // main and f's own G
/// ```
pub fn after_func<F>(d: Duration, f: F) -> Timer
where
    F: Fn() + Send + Sync + 'static,
{
    // Never sent on and never closed: blocks forever, like Go's nil `C`.
    let (_, rx) = timer_chan(0);
    let f: AfterFn = std::sync::Arc::new(f);
    let action = FuncAction {
        f: crate::loom::Mutex::new(Some(f)),
        home: Spawner::current(),
    };
    let t = start_new(Kind::Func, nanos_after(d), 0, action);
    Timer { t, rx }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn dropped_timer_nobody_can_receive_is_stopped() {
        let t = Timer::new(Duration::from_secs(3600));
        let inner = t.t.clone();
        assert!(inner.is_pending());
        drop(t);
        assert!(
            !inner.is_pending(),
            "a dropped Timer with no other receiver stops"
        );
    }

    #[test]
    fn dropped_timer_with_receiver_clone_keeps_running() {
        let t = Timer::new(Duration::from_secs(3600));
        let inner = t.t.clone();
        let rx = t.c().clone();
        drop(t);
        assert!(inner.is_pending());
        drop(rx);
        inner.stop(|| false);
    }

    #[test]
    fn dropped_after_func_keeps_running() {
        let t = after_func(Duration::from_secs(3600), || {});
        let inner = t.t.clone();
        drop(t);
        assert!(inner.is_pending());
        inner.stop(|| false);
    }

    #[test]
    fn dropping_a_stopped_after_func_drops_f_at_once() {
        use crate::loom::atomic::{AtomicBool, Ordering};
        struct Flag(std::sync::Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let dropped = std::sync::Arc::new(AtomicBool::new(false));
        let flag = Flag(dropped.clone());
        let t = after_func(Duration::from_secs(3600), move || {
            let _ = &flag;
        });
        let inner = t.t.clone();
        assert!(t.stop());
        drop(t);
        assert!(dropped.load(Ordering::SeqCst), "f outlived its handle");
        drop(inner);
    }
}

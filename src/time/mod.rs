//! `goro::time`: Go's timers (`time.Sleep`, `time.After`, `time.NewTimer`,
//! `time.AfterFunc`, `time.NewTicker`) with Go 1.23 semantics.
//!
//! This file owns the public types and the glue to the heaps; the heaps
//! themselves (Go's `runtime/time.go`: per-P 4-ary heaps, lazy deletion,
//! batched firing) are in `timers.rs`, and the thread serving timers armed
//! outside any runtime in `fallback.rs`.
//!
//! Arming a timer (`start`) hands it to the current P's heap through
//! `crate::runtime::add_timer`; on a thread that is not an M of a runtime it
//! goes to the fallback heap instead. Stopping or resetting never takes a
//! heap lock unless a new entry is needed (Go's `timer.modify`/`stop`).
//!
//! Lock order (see `timers.rs`): the timer's send lock, then a heap lock,
//! then the timer lock; a timer channel is touched only under the send lock.
//!
//! # Examples
//!
//! ```
//! use goro::time::{Ticker, sleep};
//! use std::time::Duration;
//! let ticks = goro::run(async {
//!     sleep(Duration::from_millis(1)).await; // time.Sleep
//!     let ticker = Ticker::new(Duration::from_millis(1));
//!     let timeout = goro::time::after(Duration::from_secs(10));
//!     let mut ticks = 0;
//!     while ticks < 3 {
//!         goro::select! {
//!             recv(ticker.c()) -> _ => ticks += 1,
//!             recv(timeout) -> _ => panic!("no tick for 10 s"),
//!         }
//!     }
//!     ticks
//! });
//! assert_eq!(ticks, 3);
//! ```

mod fallback;
pub(crate) mod timers;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::chan::{Receiver, Sender};
use timers::{Kind, TimerRef, TimerShared, nanos_after, to_nanos};

/// Hands an armed timer to the current P's heap, or to the fallback heap
/// outside a runtime. The caller holds no timer lock. (Also arms the
/// network poller's deadline timers.)
pub(crate) fn start(t: TimerRef) {
    if let Err(t) = crate::runtime::add_timer(t) {
        fallback::add(t);
    }
}

/// Allocates a timer armed for `when` and hands it to a heap.
fn start_new(kind: Kind, when: u64, period: u64, waker: Option<std::task::Waker>) -> TimerRef {
    let t = TimerShared::new_armed(kind, when, period, waker);
    start(t.clone());
    t
}

/// Runs an `after_func` function: in a new G inside a runtime, on a fresh
/// thread otherwise.
/// (The timer fires on an M of the runtime whose P armed it, or on the
/// fallback thread for timers armed outside any runtime.)
fn spawn_func(f: std::sync::Arc<dyn Fn() + Send + Sync>) {
    if crate::runtime::current_sched().is_some() {
        drop(crate::runtime::go(async move { f() }));
    } else {
        crate::loom::thread::spawn(move || f());
    }
}

/// Fires a popped channel/func timer or ticker if no stop/reset happened
/// since it was popped (`seq` unchanged); true if it fired. Called by
/// `Timers::run_due` outside the heap lock.
pub(crate) fn fire_timer(t: &TimerRef, seq: u64, when: u64) -> bool {
    match t.kind() {
        Kind::Wake => false,
        Kind::Chan(tx) => {
            // The value is the deadline it fired for (Go sends `Now()`
            // minus the lateness, i.e. the same instant).
            let v = timers::from_nanos(when).unwrap_or_else(Instant::now);
            // A full channel drops the value (a slow ticker receiver); a
            // channel nobody can receive from drops it too.
            matches!(t.fire_if_current(seq, || tx.try_send(v)), Some(Ok(())))
        }
        Kind::Func(f) => match t.fire_if_current(seq, || f.lock().clone()) {
            Some(Some(f)) => {
                spawn_func(f);
                true
            }
            _ => false,
        },
    }
}

// ---------------------------------------------------------------------------
// sleep

/// Pauses the current G for at least `d` (Go: `time.Sleep(d)`).
///
/// Parks the G, never the OS thread; a zero duration completes at once.
/// Works outside a runtime too (`goro::block_on(time::sleep(d))`).
/// Cancel safety: dropping the future before it completes stops its timer.
///
/// ```
/// use std::time::{Duration, Instant};
/// let t0 = Instant::now();
/// goro::block_on(goro::time::sleep(Duration::from_millis(5)));
/// assert!(t0.elapsed() >= Duration::from_millis(5));
/// ```
pub fn sleep(d: Duration) -> Sleep {
    Sleep {
        when: nanos_after(d),
        timer: None,
    }
}

/// Pauses the current G until `deadline` (Go: `time.Sleep(time.Until(t))`).
/// A deadline in the past completes at once. Same blocking and cancel
/// safety as [`sleep`].
///
/// ```
/// use std::time::{Duration, Instant};
/// let deadline = Instant::now() + Duration::from_millis(3);
/// goro::block_on(goro::time::sleep_until(deadline));
/// assert!(Instant::now() >= deadline);
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        when: to_nanos(deadline),
        timer: None,
    }
}

/// The future returned by [`sleep`] and [`sleep_until`]. The timer is armed
/// on the first poll, on the P of the G that polls it.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// let elapsed = goro::run(async {
///     let t0 = Instant::now();
///     let a = goro::go(goro::time::sleep(Duration::from_millis(3)));
///     let b = goro::go(goro::time::sleep(Duration::from_millis(3)));
///     a.await.unwrap();
///     b.await.unwrap();
///     t0.elapsed()
/// });
/// assert!(elapsed >= Duration::from_millis(3));
/// ```
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct Sleep {
    /// Encoded deadline (see `timers::to_nanos`).
    when: u64,
    /// The armed timer, `None` before the first poll and after completion.
    timer: Option<TimerRef>,
}

impl Sleep {
    /// The instant this sleep completes at (`None` only for a deadline too
    /// far in the future to represent).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let t0 = Instant::now();
    /// let s = goro::time::sleep(Duration::from_millis(2));
    /// let deadline = s.deadline().unwrap();
    /// assert!(deadline >= t0 + Duration::from_millis(2));
    /// goro::block_on(s);
    /// assert!(Instant::now() >= deadline);
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        timers::from_nanos(self.when)
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        match &this.timer {
            None => {
                if to_nanos(Instant::now()) >= this.when {
                    return Poll::Ready(());
                }
                let waker = Some(cx.waker().clone());
                this.timer = Some(start_new(Kind::Wake, this.when, 0, waker));
            }
            Some(t) => {
                if t.poll_fired(cx.waker()) {
                    this.timer = None;
                    return Poll::Ready(());
                }
            }
        }
        crate::runtime::set_wait_reason(crate::runtime::WaitReason::Sleep);
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(t) = self.timer.take() {
            t.stop(|| false);
        }
    }
}

/// Arms `t` for `when` (encoded) with `period`, draining `rx` (if any)
/// under the timer's send lock; returns Go 1.23's Stop/Reset result.
fn arm(t: &TimerRef, when: u64, period: u64, rx: Option<&Receiver<Instant>>) -> bool {
    let (prevented, needs_add) = t.modify(when, period, None, || drain(rx));
    if needs_add {
        start(t.clone());
    }
    prevented
}

/// A timer channel: capacity 1, and never closed (Go never closes a timer's
/// channel), even after the timer is freed: it counts one sender that is
/// never dropped. The channel itself is freed with its last receiver.
fn timer_chan(cap: usize) -> (Sender<Instant>, Receiver<Instant>) {
    let (tx, rx) = crate::chan::chan(cap);
    // The phantom sender (a count, not a reference: it holds no memory).
    tx.hchan()
        .senders
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    (tx, rx)
}

/// Takes the buffered value of a timer channel, if any: after a stop or
/// reset no value of an older arming may be received (Go 1.23).
fn drain(rx: Option<&Receiver<Instant>>) -> bool {
    rx.is_some_and(|rx| rx.try_recv().is_ok())
}

// ---------------------------------------------------------------------------
// after, Timer, after_func

/// A channel that receives the deadline once `d` has elapsed (Go:
/// `time.After(d)`). Usable in `select!` for timeouts.
///
/// The timer cannot be stopped; when that matters use [`Timer`]. It is freed
/// once it fires, or, once the receiver is dropped, by the next sweep of its
/// heap (a loop of `select!`s on `after(long)` keeps memory bounded, as Go
/// 1.23's garbage-collected timers do).
///
/// ```
/// use std::time::Duration;
/// let rx = goro::time::after(Duration::from_millis(2));
/// assert!(rx.recv_blocking().is_some());
/// ```
pub fn after(d: Duration) -> Receiver<Instant> {
    let (tx, rx) = timer_chan(1);
    start_new(Kind::Chan(tx), nanos_after(d), 0, None);
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
    /// elapsed (Go: `time.NewTimer(d)`). A zero `d` fires at once.
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
        let t = start_new(Kind::Chan(tx), nanos_after(d), 0, None);
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
    /// [`stop`](Timer::stop)). An [`after_func`] timer runs `f` again.
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
            Kind::Chan(_) => Some(&self.rx),
            _ => None,
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        match self.t.kind() {
            Kind::Chan(_) => {
                // Nobody else can receive: stopping is unobservable and
                // frees the heap entry early (Go 1.23 collects such timers).
                let rx = self
                    .rx
                    .hchan()
                    .receivers
                    .load(std::sync::atomic::Ordering::Relaxed);
                if rx == 1 {
                    self.t.stop(|| false);
                }
            }
            Kind::Func(f) => {
                // Not pending and no handle left: it can never run again.
                // Drop `f` here, not later in a heap's clean-up (under its
                // lock), since dropping user code may wake Gs.
                if !self.t.is_pending() {
                    let f = f.lock().take();
                    drop(f);
                }
            }
            Kind::Wake => {}
        }
    }
}

/// Runs `f` after `d` has elapsed (Go: `time.AfterFunc(d, f)`): in a new G
/// when the timer fires inside a runtime, on a fresh thread otherwise. The
/// returned [`Timer`] stops it ([`Timer::stop`] is true iff `f` was
/// prevented from running) or re-arms it ([`Timer::reset`] runs `f` again).
/// Dropping the `Timer` does not cancel `f`.
///
/// ```
/// use std::time::Duration;
/// let (tx, rx) = goro::chan::<u32>(1);
/// let _t = goro::time::after_func(Duration::from_millis(1), move || {
///     let _ = tx.try_send(7);
/// });
/// assert_eq!(rx.recv_blocking(), Some(7));
/// ```
pub fn after_func<F>(d: Duration, f: F) -> Timer
where
    F: Fn() + Send + Sync + 'static,
{
    // Never sent on and never closed: blocks forever, like Go's nil `C`.
    let (_, rx) = timer_chan(0);
    let f: timers::AfterFn = std::sync::Arc::new(f);
    let kind = Kind::Func(crate::loom::Mutex::new(Some(f)));
    let t = start_new(kind, nanos_after(d), 0, None);
    Timer { t, rx }
}

// ---------------------------------------------------------------------------
// Ticker

/// Sends the time on [`c`](Ticker::c) every period (Go: `time.Ticker`).
/// The channel holds one value: ticks a slow receiver has not taken are
/// dropped, and late ticks are skipped so the phase is kept. Dropping the
/// `Ticker` stops it. Go 1.23 semantics: after `stop`/`reset` returns no
/// stale tick is received.
///
/// ```
/// use std::time::Duration;
/// let t = goro::time::Ticker::new(Duration::from_millis(1));
/// for _ in 0..3 {
///     t.c().recv_blocking().unwrap();
/// }
/// t.stop();
/// ```
pub struct Ticker {
    t: TimerRef,
    rx: Receiver<Instant>,
}

impl std::fmt::Debug for Ticker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticker")
            .field("running", &self.t.is_pending())
            .finish()
    }
}

impl Ticker {
    /// A ticker with period `d`; the first tick comes after `d` (Go:
    /// `time.NewTicker(d)`).
    ///
    /// # Panics
    /// If `d` is zero, with Go's message `non-positive interval for NewTicker`.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::time::Ticker;
    /// use std::time::Duration;
    /// let ticks = goro::run(async {
    ///     let ticker = Ticker::new(Duration::from_millis(1));
    ///     let mut ticks = 0;
    ///     while ticks < 3 {
    ///         ticker.c().recv().await.unwrap(); // <-ticker.C
    ///         ticks += 1;
    ///     }
    ///     ticker.stop();
    ///     ticks
    /// });
    /// assert_eq!(ticks, 3);
    /// ```
    pub fn new(d: Duration) -> Ticker {
        if d.is_zero() {
            panic!("non-positive interval for NewTicker");
        }
        let (tx, rx) = timer_chan(1);
        let t = start_new(Kind::Chan(tx), nanos_after(d), period_nanos(d), None);
        Ticker { t, rx }
    }

    /// The channel ticks are sent on (capacity 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::time::Ticker;
    /// use std::time::Duration;
    /// goro::run(async {
    ///     let ticker = Ticker::new(Duration::from_millis(1));
    ///     let timeout = goro::time::after(Duration::from_secs(10));
    ///     let mut ticks = 0;
    ///     while ticks < 3 {
    ///         goro::select! {
    ///             recv(ticker.c()) -> _ => ticks += 1,
    ///             recv(timeout) -> _ => panic!("no tick for 10 s"),
    ///         }
    ///     }
    ///     assert_eq!(ticks, 3);
    /// });
    /// ```
    pub fn c(&self) -> &Receiver<Instant> {
        &self.rx
    }

    /// Stops the ticker (Go: `Ticker.Stop`); an unreceived tick is
    /// discarded, and no tick is received after it returns.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::chan::TryRecvError;
    /// use goro::time::Ticker;
    /// use std::time::Duration;
    /// let ticker = Ticker::new(Duration::from_millis(1));
    /// std::thread::sleep(Duration::from_millis(5)); // a tick is (likely) waiting
    /// ticker.stop(); // discards it: no tick is received after stop returns
    /// assert_eq!(ticker.c().try_recv(), Err(TryRecvError::Empty));
    /// ```
    pub fn stop(&self) {
        self.t.stop(|| drain(Some(&self.rx)));
    }

    /// Stops the ticker and restarts it with period `d`, the next tick after
    /// `d` (Go: `Ticker.Reset`); an unreceived tick is discarded.
    ///
    /// # Panics
    /// If `d` is zero, with Go's message `non-positive interval for Ticker.Reset`.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::time::Ticker;
    /// use std::time::Duration;
    /// let ticker = Ticker::new(Duration::from_secs(3600));
    /// ticker.reset(Duration::from_millis(1)); // tick every millisecond instead
    /// assert!(ticker.c().recv_blocking().is_some());
    /// assert!(ticker.c().recv_blocking().is_some());
    /// ```
    pub fn reset(&self, d: Duration) {
        if d.is_zero() {
            panic!("non-positive interval for Ticker.Reset");
        }
        arm(&self.t, nanos_after(d), period_nanos(d), Some(&self.rx));
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.t.stop(|| false);
    }
}

/// A period in ns, at least 1 and saturating.
fn period_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
}

/// Crate internals for the loom models (`loom-tests/tests/time.rs`). Under
/// loom there is no timer thread and no real time: a model arms timers
/// through the public API and runs the heap by hand with a chosen `now`.
#[cfg(loom)]
#[doc(hidden)]
pub mod __loom {
    use std::time::Instant;

    /// Runs the model's timers due at `now`; returns how many fired.
    pub fn run_due(now: Instant) -> usize {
        super::fallback::timers().run_due(now)
    }

    /// Live timers in the model's heap.
    pub fn len() -> usize {
        super::fallback::timers().len()
    }

    /// Entries in the model's heap, zombies included.
    pub fn entries() -> usize {
        super::fallback::timers().entries()
    }

    /// Zombie entries counted in the model's heap.
    pub fn zombies() -> usize {
        super::fallback::timers().zombies()
    }

    /// A standalone heap (a P's), for models of the heap itself.
    #[derive(Debug, Default)]
    pub struct Heap(super::timers::Timers);

    /// A sleep-kind timer armed on a [`Heap`].
    #[derive(Debug)]
    pub struct HeapTimer(super::TimerRef);

    impl Heap {
        /// An empty heap.
        pub fn new() -> Self {
            Heap(super::timers::Timers::new())
        }
        /// Arms a timer an hour from now on this heap.
        pub fn arm_far(&self) -> HeapTimer {
            let when = super::nanos_after(std::time::Duration::from_secs(3600));
            let waker = Some(std::task::Waker::noop().clone());
            let t = super::TimerShared::new_armed(super::Kind::Wake, when, 0, waker);
            self.0.add(t.clone());
            HeapTimer(t)
        }
        /// `Timers::run_due`.
        pub fn run_due(&self, now: Instant) -> usize {
            self.0.run_due(now)
        }
        /// `Timers::move_all_to`.
        pub fn move_all_to(&self, dst: &Heap) -> bool {
            self.0.move_all_to(&dst.0)
        }
        /// `Timers::len`.
        pub fn len(&self) -> usize {
            self.0.len()
        }
        /// Whether no live timers remain.
        pub fn is_empty(&self) -> bool {
            self.0.len() == 0
        }
    }

    impl HeapTimer {
        /// Stops the timer; true if it was pending.
        pub fn stop(&self) -> bool {
            self.0.stop(|| false)
        }
    }
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
        struct Flag(std::sync::Arc<std::sync::atomic::AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Flag(dropped.clone());
        let t = after_func(Duration::from_secs(3600), move || {
            let _ = &flag;
        });
        let inner = t.t.clone();
        assert!(t.stop());
        drop(t);
        assert!(
            dropped.load(std::sync::atomic::Ordering::SeqCst),
            "f outlived its handle"
        );
        drop(inner);
    }

    #[test]
    fn dropped_ticker_is_stopped() {
        let tk = Ticker::new(Duration::from_secs(3600));
        let inner = tk.t.clone();
        drop(tk);
        assert!(!inner.is_pending());
    }
}

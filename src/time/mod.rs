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
//! Lock order (see `timers.rs`): heap lock, then the timer lock, then the
//! timer channel's lock.

mod fallback;
pub(crate) mod timers;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use timers::{Kind, TimerRef, TimerShared, nanos_after, to_nanos};

/// Shim until the runtime's `add_timer` lands: no thread is an M yet.
fn add_timer(t: TimerRef) -> Result<(), TimerRef> {
    Err(t)
}

/// Hands an armed timer to the current P's heap, or to the fallback heap
/// outside a runtime. The caller holds no timer lock.
fn start(t: TimerRef) {
    if let Err(t) = add_timer(t) {
        fallback::add(t);
    }
}

/// Runs an `after_func` function: in a new G inside a runtime, on a fresh
/// thread otherwise.
fn spawn_func(f: std::sync::Arc<dyn Fn() + Send + Sync>) {
    crate::loom::thread::spawn(move || f());
}

/// Fires a popped channel/func timer or ticker if no stop/reset happened
/// since it was popped (`seq` unchanged); true if it fired. Called by
/// `Timers::run_due` outside the heap lock.
pub(crate) fn fire_timer(t: &TimerRef, seq: u64, _when: u64) -> bool {
    match t.kind() {
        Kind::Wake => false,
        Kind::Func(f) => match t.fire_if_current(seq, || f.clone()) {
            Some(f) => {
                spawn_func(f);
                true
            }
            None => false,
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
                let t = TimerShared::new(Kind::Wake);
                let (_, needs_add, _) = t.modify(this.when, 0, Some(cx.waker().clone()));
                debug_assert!(needs_add);
                start(t.clone());
                this.timer = Some(t);
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
            t.stop();
        }
    }
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
}

//! `time::sleep` and `time::sleep_until` (Go's `time.Sleep`): the
//! [`Sleep`] future, a `Kind::Wake` timer of the runtime's heap.
//!
//! The hot path of the package: the first poll that finds the deadline
//! ahead makes one allocation (the timer, holding the G's waker) and adds it
//! to the current P's heap; the heap wakes the waker directly when the
//! timer fires (no action call). Later polls only swap the waker if it
//! changed; dropping the future stops the timer (a zombie in the heap).

use super::start;
use crate::runtime::timers::{TimerRef, TimerShared, from_nanos, nanos_after, to_nanos};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Pauses the current G for at least `d` (Go: `time.Sleep(d)`).
///
/// Parks the G, never the OS thread; a zero duration completes at once.
/// A duration too long to represent saturates: the sleep never ends.
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
    /// Encoded deadline (see `runtime::timers::to_nanos`).
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
        from_nanos(self.when)
    }

    /// `poll` without recording a wait reason (for [`super::Timeout`],
    /// whose G waits on its inner future as much as on the clock).
    pub(super) fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &self.timer {
            None => {
                if to_nanos(Instant::now()) >= self.when {
                    return Poll::Ready(());
                }
                let t = TimerShared::new_sleep(self.when, Some(cx.waker().clone()));
                start(t.clone());
                self.timer = Some(t);
            }
            Some(t) => {
                if t.poll_fired(cx.waker()) {
                    self.timer = None;
                    return Poll::Ready(());
                }
            }
        }
        Poll::Pending
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let r = self.get_mut().poll_timer(cx);
        if r.is_pending() {
            crate::runtime::set_wait_reason(crate::runtime::WaitReason::Sleep);
        }
        r
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(t) = self.timer.take() {
            t.stop(|| false);
        }
    }
}

//! Periodic timers: [`Ticker`] and `time::tick` (Go's `time.NewTicker`,
//! `Ticker.Stop`, `Ticker.Reset`, `time.Tick`).
//!
//! A ticker is a `Kind::Deliver` timer with a period: the heap re-keys its
//! entry to the next tick after each firing (late ticks are skipped, so the
//! phase is kept), and its action sends on a capacity-1 channel, dropping
//! the tick if the channel is full (a slow receiver), as Go's does. A
//! `Ticker` stops it when dropped; a `tick` has no handle, and the heap
//! drops it at its first tick after its last receiver is gone (nobody can
//! observe it any more).

use super::action::{ChanAction, drain, timer_chan};
use super::start_new;
use super::timer::arm;
use crate::chan::Receiver;
use crate::runtime::timers::{Kind, TimerRef, nanos_after};
use std::time::{Duration, Instant};

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
    #[track_caller]
    pub fn new(d: Duration) -> Ticker {
        if d.is_zero() {
            panic!("non-positive interval for NewTicker");
        }
        let (tx, rx) = timer_chan(1);
        let t = start_new(
            Kind::Deliver,
            nanos_after(d),
            period_nanos(d),
            ChanAction { tx },
        );
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
    #[track_caller]
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

/// A channel that receives the time every `d` (Go: `time.Tick(d)`): a
/// ticker with no handle, which lives as long as the channel can be
/// received from.
///
/// Ticks a slow receiver has not taken are dropped and late ticks skipped,
/// as for [`Ticker`]. Once the returned receiver and all its clones are
/// dropped, nothing is sent any more and the ticker is freed at its next
/// tick at the latest (Go 1.23 lets the garbage collector take it), so
/// `tick` is safe to call in a loop or a short-lived G. Use [`Ticker`] to
/// stop or reset it. A zero `d` gives a channel that never receives (Go
/// returns a nil channel for `d <= 0`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let n = goro::run(async {
///     let ticks = goro::time::tick(Duration::from_millis(1)); // time.Tick
///     let mut n = 0;
///     while n < 3 {
///         ticks.recv().await.unwrap(); // for range time.Tick(d)
///         n += 1;
///     }
///     n
/// }); // `ticks` is gone: the ticker stops
/// assert_eq!(n, 3);
/// ```
pub fn tick(d: Duration) -> Receiver<Instant> {
    if d.is_zero() {
        // Never sent on and never closed, like Go's nil channel.
        return timer_chan(0).1;
    }
    let (tx, rx) = timer_chan(1);
    start_new(
        Kind::Deliver,
        nanos_after(d),
        period_nanos(d),
        ChanAction { tx },
    );
    rx
}

/// A period in ns, at least 1 and saturating.
fn period_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn dropped_ticker_is_stopped() {
        let tk = Ticker::new(Duration::from_secs(3600));
        let inner = tk.t.clone();
        drop(tk);
        assert!(!inner.is_pending());
    }
}

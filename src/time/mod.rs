//! `goro::time`: Go's timers (`time.Sleep`, `time.After`, `time.NewTimer`,
//! `time.AfterFunc`, `time.NewTicker`, `time.Tick`) with Go 1.23 semantics,
//! and [`timeout()`] (tokio's, for futures that are not channels).
//!
//! The timer heaps are the runtime's (`runtime/timers.rs`, Go's
//! `runtime/time.go`): they know a timer only as a waker to wake (a sleep)
//! or an action to call when it fires. This package supplies the actions
//! (action.rs: the channel send of `Timer`/`Ticker`/`after`/`tick`, the
//! spawn of `after_func`) and the public types: sleep.rs ([`sleep()`],
//! [`Sleep`]), timer.rs ([`after`], [`Timer`], [`after_func`]), ticker.rs
//! ([`Ticker`], [`tick`]), timeout.rs ([`timeout()`], [`Elapsed`]), and
//! fallback.rs (the thread serving timers armed outside any runtime).
//!
//! Arming a timer (`start`) hands it to the current P's heap through
//! `crate::runtime::add_timer`; on a thread that is not an M of a runtime it
//! goes to the fallback heap instead. Stopping or resetting never takes a
//! heap lock unless a new entry is needed (Go's `timer.modify`/`stop`).
//!
//! Lock order (see `runtime/timers.rs`): the timer's send lock, then a heap
//! lock, then the timer lock; a timer channel is touched only under the
//! send lock.
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

mod action;
mod fallback;
mod sleep;
mod ticker;
mod timeout;
mod timer;

pub use sleep::{Sleep, sleep, sleep_until};
pub use ticker::{Ticker, tick};
pub use timeout::{Elapsed, Timeout, timeout};
pub use timer::{Timer, after, after_func};

use crate::runtime::timers::{Kind, TimerAction, TimerRef, TimerShared};

/// Hands an armed timer to the current P's heap, or to the fallback heap
/// outside a runtime. The caller holds no timer lock. (Also arms the
/// network poller's deadline timers.)
pub(crate) fn start(t: TimerRef) {
    if let Err(t) = crate::runtime::add_timer(t) {
        fallback::add(t);
    }
}

/// Allocates a timer of `kind` doing `action`, armed for `when` (encoded)
/// with `period`, and hands it to a heap.
fn start_new<A: TimerAction>(kind: Kind, when: u64, period: u64, action: A) -> TimerRef {
    let t = TimerShared::new_armed(kind, when, period, None, action);
    start(t.clone());
    t
}

/// Entries in the fallback heap (timers armed outside any runtime),
/// zombies included: for tests that check forgotten timers are freed.
#[doc(hidden)]
pub fn __fallback_entries() -> usize {
    fallback::timers().entries()
}

/// Crate internals for the loom models (`loom-tests/tests/time.rs`). Under
/// loom there is no timer thread and no real time: a model arms timers
/// through the public API and runs the heap by hand with a chosen `now`.
#[cfg(loom)]
#[doc(hidden)]
pub mod __loom {
    use crate::runtime::timers::{TimerRef, TimerShared, Timers, nanos_after};
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
    pub struct Heap(Timers);

    /// A sleep-kind timer armed on a [`Heap`].
    #[derive(Debug)]
    pub struct HeapTimer(TimerRef);

    impl Heap {
        /// An empty heap.
        pub fn new() -> Self {
            Heap(Timers::new())
        }
        /// Arms a timer an hour from now on this heap.
        pub fn arm_far(&self) -> HeapTimer {
            let when = nanos_after(std::time::Duration::from_secs(3600));
            let waker = Some(std::task::Waker::noop().clone());
            let t = TimerShared::new_sleep(when, waker);
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

//! The fallback timer thread: timers armed outside any runtime.
//!
//! When `crate::runtime::add_timer` finds no P (a plain thread, e.g.
//! `goro::block_on(time::sleep(d))` on `main`), the timer goes into one
//! process-wide heap (the runtime's [`Timers`]) served by a thread started
//! on first use. That thread belongs to no runtime: an `after_func` armed
//! off any runtime runs on a new thread of its own when it fires here. The
//! thread runs due timers, then parks on a condition variable until the
//! earliest deadline (no fixed tick, no busy wait); an `add` that makes a new
//! earliest deadline notifies it. Go has no equivalent (every Go thread is an
//! M); this is what lets goro's timers work with no runtime at all.
//!
//! Protocol: the thread reads `next_when` while holding `state`, and waits
//! on `cv` with the lock released atomically; an adder whose entry became the
//! earliest sets `notified` under the same lock and signals, so a new
//! deadline is seen either by that read or by the wake-up. Lock order: the
//! heap lock is never held while taking `state`.
//!
//! Under `cfg(loom)` there is no thread: the heap is a per-model static
//! driven by hand through `time::__loom`.

use crate::runtime::timers::{TimerRef, Timers};

#[cfg(not(loom))]
mod imp {
    use super::{TimerRef, Timers};
    use crate::loom::{Condvar, Mutex};
    use std::sync::OnceLock;
    use std::time::Instant;

    struct Fallback {
        timers: Timers,
        /// Whether the thread started, and whether an earlier deadline
        /// arrived since it last read `next_when`. Written by adders and by
        /// the timer thread, under this lock.
        state: Mutex<State>,
        cv: Condvar,
    }

    #[derive(Default)]
    struct State {
        started: bool,
        notified: bool,
    }

    fn get() -> &'static Fallback {
        static FALLBACK: OnceLock<Fallback> = OnceLock::new();
        FALLBACK.get_or_init(|| Fallback {
            timers: Timers::new(),
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
        })
    }

    /// The fallback heap (for tests counting its entries).
    pub(crate) fn timers() -> &'static Timers {
        &get().timers
    }

    /// Adds `t` to the fallback heap, waking (or starting) its thread when
    /// `t` is the new earliest deadline.
    pub(crate) fn add(t: TimerRef) {
        let fb = get();
        if !fb.timers.add(t) {
            return;
        }
        let mut st = fb.state.lock();
        st.notified = true;
        if !st.started {
            st.started = true;
            crate::loom::thread::Builder::new()
                .name("goro-timers".into())
                .spawn(move || run(fb))
                .expect("goro: failed to start the timer thread");
        }
        drop(st);
        fb.cv.notify_one();
    }

    /// The timer thread's loop.
    fn run(fb: &'static Fallback) {
        loop {
            fb.timers.run_due(Instant::now());
            let mut st = fb.state.lock();
            if std::mem::take(&mut st.notified) {
                continue;
            }
            match fb.timers.next_when() {
                Some(w) if w <= Instant::now() => continue,
                Some(w) => {
                    fb.cv.wait_until(&mut st, w);
                }
                None => fb.cv.wait(&mut st),
            }
            st.notified = false;
        }
    }
}

#[cfg(loom)]
mod imp {
    use super::{TimerRef, Timers};

    loom::lazy_static! {
        static ref TIMERS: Timers = Timers::new();
    }

    /// Adds `t` to the model's heap (no thread: the model runs it).
    pub(crate) fn add(t: TimerRef) {
        TIMERS.add(t);
    }

    /// The model's heap.
    pub(crate) fn timers() -> &'static Timers {
        &TIMERS
    }
}

pub(crate) use imp::*;

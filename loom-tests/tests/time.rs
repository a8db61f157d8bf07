//! loom models of goro's timers: stop/reset racing with the firing step,
//! an `after_func` stopped while it fires, and a `tick` whose receiver goes
//! while it ticks.
//!
//! Run: RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --manifest-path loom-tests/Cargo.toml --test time
//!
//! Under loom no timer thread runs and no real time passes: timers are armed
//! through the public API (they land in the model's heap, since no runtime
//! exists) and the heap is run by hand with `__loom::run_due(far_future)`.
#![cfg(loom)]

use std::time::{Duration, Instant};

use goro::time::{__loom, Ticker, Timer, after_func, tick};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};

/// Later than every deadline a model arms (they are at most an hour out).
fn far() -> Instant {
    Instant::now() + Duration::from_secs(4 * 3600)
}

/// Stop racing with firing, a receiver polling: exactly one of "a value was
/// delivered" and "stop returned true"; nothing is left in the channel.
#[test]
fn stop_races_fire_exactly_one() {
    loom::model(|| {
        let t = Arc::new(Timer::new(Duration::ZERO));
        let runner = loom::thread::spawn(|| {
            __loom::run_due(far());
        });
        let t2 = t.clone();
        let receiver = loom::thread::spawn(move || t2.c().try_recv().is_ok());
        let stopped = t.stop();
        runner.join().unwrap();
        let delivered = receiver.join().unwrap();
        assert!(
            stopped != delivered,
            "stopped={stopped} delivered={delivered}"
        );
        assert!(
            t.c().try_recv().is_err(),
            "value received after stop returned"
        );
    });
}

/// Reset racing with firing, nobody receiving: reset always prevented the
/// delivery (pending, or the value was discarded) and no stale value is
/// received after it returns.
#[test]
fn reset_races_fire_no_stale_value() {
    loom::model(|| {
        let t = Timer::new(Duration::ZERO);
        let runner = loom::thread::spawn(|| {
            __loom::run_due(far());
        });
        assert!(t.reset(Duration::from_secs(5 * 3600))); // after `far()`
        assert!(t.c().try_recv().is_err(), "stale value after reset");
        runner.join().unwrap();
        assert!(t.c().try_recv().is_err(), "stale value after reset");
        assert!(t.stop(), "the new arming is still pending");
    });
}

/// Two resets racing each other and the firing step (the late-add case):
/// once both returned, exactly one value (the latest arming's) is received,
/// and the heap's zombie accounting ends exact.
#[test]
fn resets_race_each_other_and_fire() {
    loom::model(|| {
        // Both resets move the deadline earlier: each orphans the entry it
        // finds and asks for an add, so one add may land after the other
        // arming was already popped for firing.
        let t = Arc::new(Timer::new(Duration::from_secs(3600)));
        let runner = loom::thread::spawn(|| {
            __loom::run_due(far());
        });
        let t2 = t.clone();
        let other = loom::thread::spawn(move || {
            t2.reset(Duration::ZERO);
        });
        t.reset(Duration::ZERO);
        runner.join().unwrap();
        other.join().unwrap();
        __loom::run_due(far());
        assert!(t.c().try_recv().is_ok(), "the latest arming fires");
        assert!(t.c().try_recv().is_err(), "one value only");
        assert_eq!(__loom::entries(), 0);
        assert_eq!(__loom::zombies(), 0);
    });
}

/// A ticker stopped while a tick is being sent: no tick after stop returns.
#[test]
fn ticker_stop_races_tick() {
    loom::model(|| {
        let tk = Ticker::new(Duration::from_nanos(1));
        let runner = loom::thread::spawn(|| {
            __loom::run_due(far());
        });
        tk.stop();
        assert!(tk.c().try_recv().is_err(), "tick after stop");
        runner.join().unwrap();
        assert!(tk.c().try_recv().is_err(), "tick after stop");
        assert_eq!(__loom::len(), 0);
    });
}

/// Two heaps: a timer is stopped while its heap hands everything to another
/// (a P removed by procresize). The zombie accounting stays exact.
#[test]
fn stop_races_move_all_to() {
    loom::model(|| {
        let src = Arc::new(__loom::Heap::new());
        let dst = __loom::Heap::new();
        let a = src.arm_far();
        let _b = src.arm_far();
        let src2 = src.clone();
        let mover = loom::thread::spawn(move || {
            src2.move_all_to(&dst);
            dst
        });
        assert!(a.stop());
        let dst = mover.join().unwrap();
        assert_eq!(src.len(), 0);
        assert_eq!(dst.len(), 1);
        assert_eq!(dst.run_due(far() + Duration::from_secs(7200)), 1);
        assert_eq!(dst.len(), 0);
    });
}

/// An `after_func` stopped while the heap fires it (the firing step's
/// commit against `stop`, then the spawn outside the locks): exactly one of
/// "f ran" and "stop returned true". Off any runtime, f runs on a thread of
/// its own, which the model waits for through `ran`.
#[test]
fn after_func_stop_races_fire() {
    loom::model(|| {
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let t = after_func(Duration::ZERO, move || {
            r.fetch_add(1, Ordering::SeqCst);
        });
        let runner = loom::thread::spawn(|| {
            __loom::run_due(far());
        });
        let stopped = t.stop();
        runner.join().unwrap();
        if !stopped {
            // f was handed to its thread: wait for it.
            while ran.load(Ordering::SeqCst) == 0 {
                loom::thread::yield_now();
            }
        }
        assert_eq!(ran.load(Ordering::SeqCst), usize::from(!stopped));
        assert!(!t.stop(), "nothing left to stop");
    });
}

/// A `tick` whose last receiver is dropped while the heap runs it: the
/// ticker stops (no entry left once the heap ran again) whichever came
/// first, and the heap's zombie accounting ends exact.
#[test]
fn tick_receiver_dropped_while_ticking() {
    loom::model(|| {
        let rx = tick(Duration::from_nanos(1));
        let runner = loom::thread::spawn(|| {
            __loom::run_due(far());
        });
        drop(rx);
        runner.join().unwrap();
        __loom::run_due(far() + Duration::from_secs(3600));
        assert_eq!(__loom::entries(), 0);
        assert_eq!(__loom::zombies(), 0);
    });
}

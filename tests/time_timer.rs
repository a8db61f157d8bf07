//! `Timer`, `after`, `after_func`: durations, Go 1.23 stop/reset results,
//! no stale values.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use goro::chan::TryRecvError;
use goro::time::{Timer, after, after_func};

/// Runs `f` on a thread; fails the test if it does not finish in 30 s.
fn guarded(f: impl FnOnce() + Send + 'static) {
    common::guard(30, f)
}

const SLACK: Duration = Duration::from_secs(2);
const MS: Duration = Duration::from_millis(1);

#[test]
fn timer_fires_after_its_duration() {
    guarded(|| {
        let t0 = Instant::now();
        let t = Timer::new(10 * MS);
        let v = t.c().recv_blocking().unwrap();
        assert!(v >= t0 + 10 * MS, "value is the deadline");
        let e = t0.elapsed();
        assert!(e >= 10 * MS && e < 10 * MS + SLACK, "{e:?}");
        assert!(!t.stop(), "fired and received: nothing to prevent");
    });
}

#[test]
fn after_delivers_once() {
    guarded(|| {
        let t0 = Instant::now();
        let rx = after(5 * MS);
        assert!(rx.recv_blocking().unwrap() >= t0 + 5 * MS);
        assert!(t0.elapsed() >= 5 * MS);
        std::thread::sleep(10 * MS);
        // One value only, and the channel is never closed (as in Go).
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn stop_pending_timer() {
    guarded(|| {
        let t = Timer::new(5 * MS);
        assert!(t.stop());
        assert!(!t.stop(), "second stop");
        std::thread::sleep(30 * MS);
        assert_eq!(t.c().try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn stop_after_unreceived_fire_discards_value() {
    // Go 1.23: a value sent but not received counts as pending; Stop
    // discards it and reports true.
    guarded(|| {
        let t = Timer::new(MS);
        std::thread::sleep(30 * MS);
        assert!(t.stop());
        assert_eq!(t.c().try_recv(), Err(TryRecvError::Empty));
        assert!(!t.stop());
    });
}

#[test]
fn reset_discards_stale_value() {
    guarded(|| {
        let t = Timer::new(MS);
        std::thread::sleep(30 * MS);
        let r0 = Instant::now();
        assert!(t.reset(40 * MS), "an unreceived value counts as pending");
        assert_eq!(
            t.c().try_recv(),
            Err(TryRecvError::Empty),
            "stale value after reset"
        );
        let v = t.c().recv_blocking().unwrap();
        assert!(v >= r0 + 40 * MS, "value of the new arming");
        assert!(r0.elapsed() >= 40 * MS);
    });
}

#[test]
fn reset_stopped_timer_returns_false_and_fires() {
    guarded(|| {
        let t = Timer::new(Duration::from_secs(60));
        assert!(t.stop());
        assert!(!t.reset(5 * MS));
        assert!(t.c().recv_blocking().is_some());
        assert!(!t.reset(5 * MS), "expired and received");
        assert!(t.c().recv_blocking().is_some());
    });
}

#[test]
fn reset_earlier_and_later() {
    guarded(|| {
        // Earlier: a far timer brought in.
        let t0 = Instant::now();
        let t = Timer::new(Duration::from_secs(60));
        assert!(t.reset(10 * MS));
        t.c().recv_blocking().unwrap();
        let e = t0.elapsed();
        assert!(e >= 10 * MS && e < 10 * MS + SLACK, "{e:?}");
        // Later: a near timer pushed out.
        let t0 = Instant::now();
        let t = Timer::new(5 * MS);
        assert!(t.reset(60 * MS));
        std::thread::sleep(20 * MS);
        assert_eq!(
            t.c().try_recv(),
            Err(TryRecvError::Empty),
            "fired at the old time"
        );
        t.c().recv_blocking().unwrap();
        assert!(t0.elapsed() >= 60 * MS);
    });
}

#[test]
fn many_resets_deliver_one_value() {
    guarded(|| {
        let t = Timer::new(MS);
        for i in 0..200 {
            t.reset(Duration::from_micros(i % 7));
        }
        t.c().recv_blocking().unwrap();
        std::thread::sleep(20 * MS);
        assert_eq!(t.c().try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn stop_never_leaves_a_value_behind() {
    // Racing stop with firing, nobody receiving: the value is either
    // undelivered (stop true: pending) or buffered and discarded (stop true).
    guarded(|| {
        for i in 0..500u64 {
            let t = Timer::new(Duration::from_micros(i % 50));
            if i % 3 == 0 {
                std::thread::yield_now();
            }
            assert!(t.stop(), "nobody received, so stop prevented the delivery");
            assert_eq!(t.c().try_recv(), Err(TryRecvError::Empty));
        }
    });
}

#[test]
fn stop_racing_receiver_exactly_one() {
    // A receiver thread and a stop: exactly one of "received" and
    // "stop returned true".
    guarded(|| {
        for i in 0..200u64 {
            let t = Arc::new(Timer::new(Duration::from_micros(i % 40)));
            let t2 = t.clone();
            let r = std::thread::spawn(move || {
                let deadline = Instant::now() + 5 * MS;
                while Instant::now() < deadline {
                    if t2.c().try_recv().is_ok() {
                        return true;
                    }
                    std::hint::spin_loop();
                }
                false
            });
            std::thread::sleep(Duration::from_micros(i % 30));
            let stopped = t.stop();
            let received = r.join().unwrap();
            assert!(
                stopped != received,
                "iteration {i}: stop={stopped} received={received}"
            );
        }
    });
}

#[test]
fn after_func_runs_once() {
    guarded(|| {
        let n = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = goro::chan::<()>(1);
        let n2 = n.clone();
        let t0 = Instant::now();
        let t = after_func(5 * MS, move || {
            n2.fetch_add(1, Ordering::SeqCst);
            let _ = tx.try_send(());
        });
        rx.recv_blocking().unwrap();
        assert!(t0.elapsed() >= 5 * MS);
        std::thread::sleep(20 * MS);
        assert_eq!(n.load(Ordering::SeqCst), 1);
        assert!(!t.stop(), "already ran");
        assert_eq!(
            t.c().try_recv(),
            Err(TryRecvError::Empty),
            "after_func's C never receives"
        );
    });
}

#[test]
fn after_func_stop_prevents_and_reset_reruns() {
    guarded(|| {
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = n.clone();
        let t = after_func(10 * MS, move || {
            n2.fetch_add(1, Ordering::SeqCst);
        });
        assert!(t.stop());
        std::thread::sleep(30 * MS);
        assert_eq!(n.load(Ordering::SeqCst), 0);
        assert!(!t.reset(MS));
        let t0 = Instant::now();
        while n.load(Ordering::SeqCst) == 0 {
            assert!(t0.elapsed() < SLACK, "reset after_func never ran");
            std::thread::sleep(MS);
        }
        t.reset(MS);
        while n.load(Ordering::SeqCst) == 1 {
            assert!(t0.elapsed() < SLACK * 2, "second reset never ran");
            std::thread::sleep(MS);
        }
    });
}

#[test]
fn dropping_after_func_timer_does_not_cancel() {
    guarded(|| {
        let (tx, rx) = goro::chan::<u8>(1);
        drop(after_func(2 * MS, move || {
            let _ = tx.try_send(1);
        }));
        assert_eq!(rx.recv_blocking(), Some(1));
    });
}

#[test]
fn dropped_timer_with_cloned_receiver_still_fires() {
    guarded(|| {
        let t = Timer::new(3 * MS);
        let rx = t.c().clone();
        drop(t);
        assert!(rx.recv_blocking().is_some());
    });
}

#[test]
fn zero_duration_timer_fires() {
    // Go: TestZeroTimer (shortened).
    guarded(|| {
        for _ in 0..1000 {
            let t = Timer::new(Duration::ZERO);
            t.c().recv_blocking().unwrap();
        }
    });
}

//! Go's time tests (src/time/sleep_test.go, tick_test.go), in goro. Each
//! test names the Go test it mirrors; durations are Go's `-short` ones.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use goro::chan::{Sender, TryRecvError};
use goro::time::{Ticker, Timer, after, after_func, sleep, tick};

const MS: Duration = Duration::from_millis(1);

/// Runs `f` on a thread; fails the test if it does not finish in 30 s.
fn guarded(f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(()) => h.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(p) = h.join() {
                std::panic::resume_unwind(p)
            }
        }
        Err(_) => panic!("test body did not finish within 30 s"),
    }
}

// Go: TestSleep
#[test]
fn sleep_sleeps() {
    guarded(|| {
        let delay = 100 * MS;
        let start = Instant::now();
        goro::block_on(sleep(delay));
        assert!(
            start.elapsed() >= delay,
            "Sleep({delay:?}) slept for only {:?}",
            start.elapsed()
        );
    });
}

fn after_func_step(i: Arc<AtomicI32>, c: Sender<bool>) {
    // Go: `i--; if i >= 0`.
    if i.fetch_sub(1, Ordering::SeqCst) > 0 {
        let (i2, c2) = (i.clone(), c.clone());
        after_func(Duration::ZERO, move || {
            after_func_step(i2.clone(), c2.clone())
        });
    } else {
        let _ = c.try_send(true);
    }
}

// Go: TestAfterFunc
#[test]
fn after_func_chain() {
    guarded(|| {
        let i = Arc::new(AtomicI32::new(10));
        let (tx, rx) = goro::chan::<bool>(1);
        after_func(Duration::ZERO, move || {
            after_func_step(i.clone(), tx.clone())
        });
        assert_eq!(rx.recv_blocking(), Some(true));
    });
}

// Go: TestAfterStress
#[test]
fn after_stress() {
    guarded(|| {
        let ticker = Ticker::new(Duration::from_nanos(1));
        for _ in 0..100 {
            ticker.c().recv_blocking().unwrap();
        }
        ticker.stop();
    });
}

// Go: TestAfter
#[test]
fn after_value() {
    guarded(|| {
        let delay = 100 * MS;
        let start = Instant::now();
        let end = after(delay).recv_blocking().unwrap();
        assert!(start.elapsed() >= delay);
        assert!(
            end >= start + delay,
            "After({delay:?}) value before start+delay"
        );
    });
}

// Go: TestAfterTick (-short: Delta = 10ms)
#[test]
fn after_tick() {
    guarded(|| {
        let (count, delta) = (10u32, 10 * MS);
        let t0 = Instant::now();
        for _ in 0..count {
            after(delta).recv_blocking().unwrap();
        }
        let d = t0.elapsed();
        let target = delta * count;
        assert!(
            d >= target * 9 / 10,
            "{count} ticks of {delta:?} too fast: took {d:?}"
        );
    });
}

// Go: TestAfterStop (retried up to five times, as Go does, against noise)
#[test]
fn after_stop() {
    guarded(|| {
        let mut errs = Vec::new();
        for _ in 0..5 {
            after_func(100 * MS, || {});
            let t0 = Timer::new(50 * MS);
            let (c1tx, c1) = goro::chan::<bool>(1);
            let t1 = after_func(150 * MS, move || {
                let _ = c1tx.try_send(true);
            });
            let c2 = after(200 * MS);
            if !t0.stop() {
                errs.push("failed to stop event 0");
                continue;
            }
            if !t1.stop() {
                errs.push("failed to stop event 1");
                continue;
            }
            c2.recv_blocking().unwrap();
            if t0.c().try_recv().is_ok() {
                errs.push("event 0 was not stopped");
                continue;
            }
            if c1.try_recv().is_ok() {
                errs.push("event 1 was not stopped");
                continue;
            }
            if t1.stop() {
                errs.push("Stop returned true twice");
                continue;
            }
            return;
        }
        panic!("saw errors: {errs:?}");
    });
}

fn after_queuing(delta: Duration) -> Result<(), String> {
    let slots = [5u32, 3, 6, 6, 6, 1, 1, 2, 7, 9, 4, 8, 0];
    let (tx, rx) = goro::chan::<(u32, Instant)>(slots.len());
    let t0 = Instant::now();
    for slot in slots {
        let ac = after(delta * slot);
        let tx = tx.clone();
        std::thread::spawn(move || {
            let t = ac.recv_blocking().unwrap();
            tx.send_blocking((slot, t)).unwrap();
        });
    }
    let mut order = Vec::new();
    for _ in slots {
        let (slot, t) = rx.recv_blocking().unwrap();
        order.push(slot);
        let dt = t - t0;
        let target = delta * slot;
        if dt + delta / 2 < target || dt > target + delta * 10 {
            return Err(format!("After({target:?}) arrived at {dt:?}"));
        }
    }
    if order.windows(2).any(|w| w[1] < w[0]) {
        return Err(format!("After calls returned out of order: {order:?}"));
    }
    Ok(())
}

// Go: TestAfterQueuing
#[test]
fn after_queuing_order() {
    guarded(|| {
        let mut err = Ok(());
        for i in 0..5 {
            err = after_queuing(MS * (20 + i * 50));
            if err.is_ok() {
                return;
            }
        }
        panic!("{err:?}");
    });
}

fn test_reset(d: Duration) -> Result<(), &'static str> {
    let t0 = Timer::new(2 * d);
    std::thread::sleep(d);
    if !t0.reset(3 * d) {
        return Err("resetting unfired timer returned false");
    }
    std::thread::sleep(2 * d);
    if t0.c().try_recv().is_ok() {
        return Err("timer fired early");
    }
    std::thread::sleep(2 * d);
    if t0.c().try_recv().is_err() {
        return Err("reset timer did not fire");
    }
    if t0.reset(50 * MS) {
        return Err("resetting expired timer returned true");
    }
    Ok(())
}

// Go: TestReset
#[test]
fn reset_results() {
    guarded(|| {
        let unit = 25 * MS;
        let mut err = Ok(());
        for k in [1, 3, 7, 15] {
            err = test_reset(unit * k);
            if err.is_ok() {
                return;
            }
        }
        panic!("{err:?}");
    });
}

// Go: TestOverflowSleep (the positive half: Duration cannot be negative)
#[test]
fn overflow_sleep() {
    guarded(|| {
        let big = after(Duration::MAX);
        after(25 * MS).recv_blocking().unwrap();
        assert_eq!(
            big.try_recv(),
            Err(TryRecvError::Empty),
            "big timeout fired"
        );
        let t0 = Instant::now();
        goro::block_on(async {
            let mut s = std::pin::pin!(sleep(Duration::MAX));
            let done = futures::poll!(s.as_mut());
            assert!(done.is_pending());
        });
        assert!(t0.elapsed() < Duration::from_secs(5));
    });
}

// Go: TestZeroTimer (1,000 rounds instead of 1,000,000)
#[test]
fn zero_timer() {
    guarded(|| {
        for _ in 0..1000 {
            let s = Instant::now();
            let ti = Timer::new(Duration::ZERO);
            ti.c().recv_blocking().unwrap();
            assert!(s.elapsed() < Duration::from_secs(2));
        }
    });
}

// Go: TestTicker (10 ticks of 20 ms, the period doubled halfway by Reset)
#[test]
fn ticker_ticks() {
    guarded(|| {
        let (count, delta) = (10u32, 20 * MS);
        let ticker = Ticker::new(delta);
        let t0 = Instant::now();
        for _ in 0..count / 2 {
            ticker.c().recv_blocking().unwrap();
        }
        ticker.reset(delta * 2);
        for _ in count / 2..count {
            ticker.c().recv_blocking().unwrap();
        }
        ticker.stop();
        let dt = t0.elapsed();
        let target = 3 * delta * count / 2;
        assert!(
            dt >= target * 9 / 10,
            "{count} ticks too fast: {dt:?} < {target:?}"
        );
        std::thread::sleep(2 * delta);
        assert_eq!(
            ticker.c().try_recv(),
            Err(TryRecvError::Empty),
            "Ticker did not shut down"
        );
    });
}

// Go: TestTeardown
#[test]
fn ticker_teardown() {
    guarded(|| {
        for _ in 0..3 {
            let ticker = Ticker::new(MS);
            ticker.c().recv_blocking().unwrap();
            ticker.stop();
        }
    });
}

// Go: TestNewTickerLtZeroDuration
#[test]
#[should_panic(expected = "non-positive interval for NewTicker")]
fn new_ticker_zero_duration() {
    let _ = Ticker::new(Duration::ZERO);
}

// Go: TestTickerResetLtZeroDuration
#[test]
#[should_panic(expected = "non-positive interval for Ticker.Reset")]
fn ticker_reset_zero_duration() {
    let tk = Ticker::new(Duration::from_secs(1));
    tk.reset(Duration::ZERO);
}

// Go: TestChan / testTimerChan (tick_test.go), the Go 1.23 synchronous
// channel rules: Stop and Reset discard a fired, unreceived value and
// report true; nothing stale is received afterwards.
#[test]
fn timer_chan_no_stale_values() {
    guarded(|| {
        let t = Timer::new(MS);
        std::thread::sleep(20 * MS);
        assert!(t.stop(), "Stop of fired, unreceived timer reports true");
        assert_eq!(t.c().try_recv(), Err(TryRecvError::Empty));
        assert!(!t.reset(MS));
        std::thread::sleep(20 * MS);
        assert!(
            t.reset(Duration::from_secs(3600)),
            "Reset of fired, unreceived timer"
        );
        assert_eq!(t.c().try_recv(), Err(TryRecvError::Empty));
        assert!(t.stop());

        let tk = Ticker::new(MS);
        std::thread::sleep(20 * MS);
        tk.reset(Duration::from_secs(3600));
        assert_eq!(
            tk.c().try_recv(),
            Err(TryRecvError::Empty),
            "stale tick after Reset"
        );
    });
}

// Go: TestTick. Go's `Tick(d)` returns nil for `d <= 0`; goro's `tick` takes
// an unsigned `Duration`, so zero gives the analogue: a channel that never
// receives and is never closed.
#[test]
fn tick_zero_is_a_nil_channel() {
    guarded(|| {
        let c = tick(Duration::ZERO);
        std::thread::sleep(5 * MS);
        assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
        assert!(!c.is_closed());
        // A positive period ticks (Go's TestTicker on the `Tick` wrapper).
        let c = tick(MS);
        for _ in 0..3 {
            c.recv_blocking().unwrap();
        }
    });
}

// Go: TestTimerGC. Go checks that 10,000 forgotten `After(Hour)`,
// `Tick(Hour)`, `NewTimer(Hour)` and `NewTicker(Hour)` leave fewer than
// 10,000 allocations after a GC. goro has no GC: a forgotten timer is freed
// when its last handle or receiver goes (`Timer`, `Ticker`), or by the heap
// sweep that runs as the heap grows (`after`, `tick`). Armed on this plain
// thread, they all land in the fallback heap, whose entries are counted.
#[test]
fn timer_gc() {
    guarded(|| {
        const N: usize = 10_000;
        let hour = Duration::from_secs(3600);
        type Forget = fn(Duration);
        let runs: [(&str, Forget); 4] = [
            ("After", |d| drop(after(d))),
            ("Tick", |d| drop(tick(d))),
            ("NewTimer", |d| drop(Timer::new(d))),
            ("NewTicker", |d| drop(Ticker::new(d))),
        ];
        for (what, f) in runs {
            let before = goro::time::__fallback_entries();
            for _ in 0..N {
                f(hour);
            }
            let after = goro::time::__fallback_entries();
            let inuse = after.saturating_sub(before);
            assert!(inuse < N, "{what} did not get freed: {inuse} heap entries");
        }
    });
}

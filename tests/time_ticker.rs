//! `Ticker` and `tick`: periods, dropped ticks for slow receivers,
//! stop/reset, panics, and a `tick` that stops with its last receiver.

mod common;

use std::time::{Duration, Instant};

use goro::chan::TryRecvError;
use goro::time::{Ticker, tick};

/// Runs `f` on a thread; fails the test if it does not finish in 30 s.
fn guarded(f: impl FnOnce() + Send + 'static) {
    common::guard(30, f)
}

const SLACK: Duration = Duration::from_secs(2);
const MS: Duration = Duration::from_millis(1);

#[test]
fn ticks_every_period() {
    guarded(|| {
        let t0 = Instant::now();
        let tk = Ticker::new(10 * MS);
        let mut last = t0;
        for i in 1..=5u32 {
            let v = tk.c().recv_blocking().unwrap();
            assert!(v > last, "tick values increase");
            assert!(v >= t0 + 10 * MS * i, "tick {i} early");
            last = v;
        }
        let e = t0.elapsed();
        assert!(e >= 50 * MS && e < 50 * MS + SLACK, "{e:?}");
        tk.stop();
    });
}

#[test]
fn slow_receiver_drops_ticks() {
    guarded(|| {
        let tk = Ticker::new(2 * MS);
        std::thread::sleep(60 * MS);
        assert!(tk.c().len() <= 1);
        let mut n = 0;
        while tk.c().try_recv().is_ok() {
            n += 1;
        }
        assert_eq!(n, 1, "one buffered tick, the rest dropped");
        // Still ticking after the drops.
        assert!(tk.c().recv_blocking().is_some());
    });
}

#[test]
fn stop_ends_ticks_and_discards_buffered() {
    guarded(|| {
        let tk = Ticker::new(2 * MS);
        std::thread::sleep(10 * MS);
        tk.stop();
        assert_eq!(tk.c().try_recv(), Err(TryRecvError::Empty));
        std::thread::sleep(20 * MS);
        assert_eq!(tk.c().try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn reset_changes_period_and_restarts_stopped() {
    guarded(|| {
        let tk = Ticker::new(Duration::from_secs(3600));
        let t0 = Instant::now();
        tk.reset(5 * MS);
        tk.c().recv_blocking().unwrap();
        tk.c().recv_blocking().unwrap();
        assert!(t0.elapsed() >= 10 * MS && t0.elapsed() < 10 * MS + SLACK);
        tk.stop();
        tk.reset(3 * MS);
        assert!(
            tk.c().recv_blocking().is_some(),
            "reset restarts a stopped ticker"
        );
    });
}

#[test]
fn reset_discards_stale_tick() {
    guarded(|| {
        let tk = Ticker::new(MS);
        std::thread::sleep(10 * MS);
        let r0 = Instant::now();
        tk.reset(Duration::from_millis(50));
        assert_eq!(tk.c().try_recv(), Err(TryRecvError::Empty));
        let v = tk.c().recv_blocking().unwrap();
        assert!(v >= r0 + 50 * MS);
    });
}

#[test]
#[should_panic(expected = "non-positive interval for NewTicker")]
fn zero_interval_panics() {
    let _ = Ticker::new(Duration::ZERO);
}

#[test]
#[should_panic(expected = "non-positive interval for Ticker.Reset")]
fn zero_reset_panics() {
    let tk = Ticker::new(MS);
    tk.reset(Duration::ZERO);
}

#[test]
fn dropped_ticker_stops() {
    guarded(|| {
        let tk = Ticker::new(MS);
        let rx = tk.c().clone();
        rx.recv_blocking().unwrap();
        drop(tk);
        let _ = rx.try_recv(); // a tick may have been buffered before the drop
        std::thread::sleep(20 * MS);
        // No more ticks, and (as in Go) the channel is never closed.
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "tick after drop");
    });
}

#[test]
fn tick_ticks_every_period() {
    guarded(|| {
        let t0 = Instant::now();
        let rx = tick(5 * MS);
        let rx2 = rx.clone(); // one channel, shared
        for i in 1..=4u32 {
            let v = if i % 2 == 0 { &rx } else { &rx2 }.recv_blocking().unwrap();
            assert!(v >= t0 + 5 * MS * i, "tick {i} early");
        }
        assert_eq!(rx.cap(), 1);
        assert!(!rx.is_closed(), "a tick channel is never closed");
    });
}

#[test]
fn tick_zero_never_ticks() {
    guarded(|| {
        let rx = tick(Duration::ZERO);
        std::thread::sleep(10 * MS);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert!(!rx.is_closed());
    });
}

#[test]
fn tick_in_a_g_loop() {
    guarded(|| {
        let n = goro::run(async {
            let mut n = 0;
            for _ in 0..3 {
                // A fresh `tick` per round, the old one dropped: each
                // stops with its receiver.
                let rx = tick(MS);
                rx.recv().await.unwrap();
                n += 1;
            }
            n
        });
        assert_eq!(n, 3);
    });
}

// A `tick` whose receivers are all gone stops at its next tick: nothing
// is sent any more and its heap entry is freed. Armed on this plain thread,
// the ticks live in the fallback heap, whose entries are counted (fewer
// than its sweep size, so only the stop can free them).
#[test]
fn tick_stops_when_its_receiver_is_dropped() {
    guarded(|| {
        const N: usize = 500;
        let before = goro::time::__fallback_entries();
        let ticks: Vec<_> = (0..N).map(|_| tick(MS)).collect();
        ticks[0].recv_blocking().unwrap();
        assert!(goro::time::__fallback_entries() >= before + N - 50);
        drop(ticks);
        let t0 = Instant::now();
        let mut left = goro::time::__fallback_entries();
        while left >= before + 50 && t0.elapsed() < SLACK {
            std::thread::sleep(MS);
            left = goro::time::__fallback_entries();
        }
        assert!(left < before + 50, "{left} entries left, {before} before");
    });
}

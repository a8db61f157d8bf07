//! `Ticker`: periods, dropped ticks for slow receivers, stop/reset, panics.

mod common;

use std::time::{Duration, Instant};

use goro::chan::TryRecvError;
use goro::time::Ticker;

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

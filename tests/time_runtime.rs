//! Timers inside a goro runtime: per-P heaps, after_func in a G, select!
//! timeouts, timers surviving a P removed by `gomaxprocs`, no false deadlock.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use goro::time::{Ticker, Timer, after, after_func, sleep};

/// Runs `f` on a thread; fails the test if it does not finish in 30 s.
fn guarded(f: impl FnOnce() + Send + 'static) {
    common::guard(30, f)
}

const MS: Duration = Duration::from_millis(1);
const SLACK: Duration = Duration::from_secs(3);

fn rt(procs: usize) -> goro::Runtime {
    goro::Runtime::builder().max_procs(procs).build()
}

#[test]
fn many_gs_sleep_and_all_wake() {
    guarded(|| {
        let rt = rt(2);
        let t0 = Instant::now();
        let woke = rt.block_on(async {
            let woke = Arc::new(AtomicUsize::new(0));
            let mut hs = Vec::new();
            for i in 0..10_000u64 {
                let woke = woke.clone();
                hs.push(goro::go(async move {
                    let d = MS * (1 + (i % 10) as u32);
                    let s = Instant::now();
                    sleep(d).await;
                    assert!(s.elapsed() >= d);
                    woke.fetch_add(1, Ordering::Relaxed);
                }));
            }
            for h in hs {
                h.await.unwrap();
            }
            woke.load(Ordering::Relaxed)
        });
        assert_eq!(woke, 10_000);
        assert!(t0.elapsed() < 10 * MS + SLACK * 3);
    });
}

#[test]
fn sleep_in_run_is_not_a_deadlock() {
    guarded(|| {
        let t0 = Instant::now();
        goro::run(async {
            sleep(30 * MS).await;
            let t = Timer::new(10 * MS);
            t.c().recv().await.unwrap();
        });
        assert!(t0.elapsed() >= 40 * MS);
    });
}

#[test]
fn after_func_runs_in_a_g() {
    guarded(|| {
        let rt = rt(2);
        rt.block_on(async {
            let (tx, rx) = goro::chan::<u32>(1);
            let _t = after_func(5 * MS, move || {
                // `goro::go` panics outside a runtime: f runs in a G.
                let tx = tx.clone();
                drop(goro::go(async move {
                    tx.send(42).await.unwrap();
                }));
            });
            assert_eq!(rx.recv().await, Some(42));
        });
    });
}

#[test]
fn select_with_after_timeout() {
    guarded(|| {
        let rt = rt(2);
        rt.block_on(async {
            let (_tx, rx) = goro::chan::<u32>(0);
            let t0 = Instant::now();
            let timed_out = goro::select! {
                recv(rx) -> _v => false,
                recv(after(20 * MS)) -> _ => true,
            };
            assert!(timed_out);
            let e = t0.elapsed();
            assert!(e >= 20 * MS && e < 20 * MS + SLACK, "{e:?}");

            // The value wins over a later timeout.
            let (tx, rx) = goro::chan::<u32>(1);
            tx.send(7).await.unwrap();
            let got = goro::select! {
                recv(rx) -> v => v,
                recv(after(Duration::from_secs(60))) -> _ => None,
            };
            assert_eq!(got, Some(7));
        });
    });
}

#[test]
fn timer_stop_reset_from_gs() {
    guarded(|| {
        let rt = rt(2);
        rt.block_on(async {
            let t = Arc::new(Timer::new(Duration::from_secs(60)));
            let t2 = t.clone();
            goro::go(async move {
                assert!(t2.reset(5 * MS));
            })
            .await
            .unwrap();
            let v = t.c().recv().await.unwrap();
            assert!(v <= Instant::now());
            assert!(!t.stop());
            let tk = Ticker::new(2 * MS);
            for _ in 0..3 {
                tk.c().recv().await.unwrap();
            }
            tk.stop();
            sleep(10 * MS).await;
            assert!(tk.c().try_recv().is_err());
        });
    });
}

// A P removed by gomaxprocs hands its timers to P 0 (this once
// self-deadlocked on the scheduler's idle lock).
#[test]
fn timers_survive_shrinking_gomaxprocs() {
    guarded(|| {
        let rt = rt(4);
        rt.block_on(async {
            let woke = Arc::new(AtomicUsize::new(0));
            let mut hs = Vec::new();
            for _ in 0..200 {
                let woke = woke.clone();
                hs.push(goro::go(async move {
                    sleep(40 * MS).await;
                    woke.fetch_add(1, Ordering::Relaxed);
                }));
            }
            // Let the Gs arm their timers on several Ps, then remove Ps.
            sleep(5 * MS).await;
            let prev = goro::gomaxprocs(1);
            assert_eq!(prev, 4);
            for h in hs {
                h.await.unwrap();
            }
            assert_eq!(woke.load(Ordering::Relaxed), 200);
            goro::gomaxprocs(4);
        });
    });
}

/// What an `after_func` callback saw of its thread: a G of a runtime
/// (`num_goroutine() > 0`, `goro::go` works), or not.
#[derive(Default)]
struct Seen {
    in_g: AtomicUsize,
    off_runtime: AtomicUsize,
}

impl Seen {
    fn record(&self) {
        let spawned = std::panic::catch_unwind(|| drop(goro::go(async {}))).is_ok();
        if goro::num_goroutine() > 0 && spawned {
            self.in_g.fetch_add(1, Ordering::SeqCst);
        } else {
            self.off_runtime.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn total(&self) -> usize {
        self.in_g.load(Ordering::SeqCst) + self.off_runtime.load(Ordering::SeqCst)
    }
}

/// Blocks the calling thread inside a G's poll (a P hog: no `blocking`).
fn hog(d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        std::thread::sleep(MS);
    }
}

// The only P is held by a G that never yields, so the runtime's monitor
// thread fires the overdue timers: each callback must still start in a G
// of the runtime that armed it.
#[test]
fn after_func_fired_behind_a_hog_runs_in_a_g() {
    guarded(|| {
        let rt = rt(1);
        let seen = Arc::new(Seen::default());
        let s = seen.clone();
        rt.block_on(async move {
            let mut timers = Vec::new();
            for _ in 0..100 {
                let s = s.clone();
                timers.push(after_func(2 * MS, move || s.record()));
            }
            hog(300 * MS);
            let t0 = Instant::now();
            while s.total() < 100 && t0.elapsed() < SLACK * 3 {
                sleep(MS).await;
            }
        });
        assert_eq!(
            seen.off_runtime.load(Ordering::SeqCst),
            0,
            "ran off the runtime"
        );
        assert_eq!(seen.in_g.load(Ordering::SeqCst), 100);
    });
}

// A panic in an `after_func` callback ends `run` (it is a G's panic), also
// when the monitor thread fires it behind a hog.
#[test]
fn after_func_panic_ends_run() {
    guarded(|| {
        let t0 = Instant::now();
        let r = std::panic::catch_unwind(|| {
            let rt = goro::Runtime::builder()
                .max_procs(1)
                .detect_deadlock(true) // as `goro::run`: a G's panic ends it
                .build();
            rt.block_on(async {
                let _t = after_func(2 * MS, || panic!("boom in after_func"));
                hog(100 * MS);
                sleep(Duration::from_secs(5)).await;
            })
        });
        let p = r.expect_err("the callback's panic must end the runtime's block_on");
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        assert!(msg.contains("boom in after_func"), "{msg:?}");
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "ended only with main"
        );
    });
}

// Armed from a plain thread (no runtime), the callback runs on a thread of
// its own: the documented fallback.
#[test]
fn after_func_armed_off_runtime_runs_on_a_thread() {
    guarded(|| {
        let seen = Arc::new(Seen::default());
        let s = seen.clone();
        let _t = after_func(MS, move || s.record());
        let t0 = Instant::now();
        while seen.total() == 0 && t0.elapsed() < SLACK {
            std::thread::sleep(MS);
        }
        assert_eq!(seen.off_runtime.load(Ordering::SeqCst), 1);
    });
}

// A callback whose runtime has shut down does not run (as a Go program's
// exit drops its pending AfterFuncs), even when the timer is re-armed from
// a plain thread and fired by the fallback timer thread.
#[test]
fn after_func_of_a_shut_down_runtime_does_not_run() {
    guarded(|| {
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let rt = rt(1);
        let t = rt.block_on(async move {
            after_func(Duration::from_secs(3600), move || {
                r.fetch_add(1, Ordering::SeqCst);
            })
        });
        rt.shutdown();
        drop(rt);
        assert!(t.reset(MS), "still pending");
        std::thread::sleep(50 * MS);
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    });
}

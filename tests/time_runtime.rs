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

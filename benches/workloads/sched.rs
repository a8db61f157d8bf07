//! Scheduler workloads W7 `spawn`, W9 `yield` and W13 `waitgroup`, mirroring
//! `spawn`, `yield` and `waitgroup` of the Go anchor.
//!
//! Needs `goro::run`, `goro::go`, `goro::gosched`, `goro::num_goroutine` and
//! `goro::sync::WaitGroup`. A WaitGroup shared by many Gs is leaked to a
//! `&'static`, as a Go closure captures it by reference (no reference count
//! per G).

use crate::{check, emit, leak, ns_per, scaled};
use goro::sync::WaitGroup;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// This module's workloads.
pub(crate) const WORKLOADS: &[(&str, fn())] = &[
    ("spawn", spawn),
    ("yield", yield_),
    ("waitgroup", waitgroup),
];

/// Waits (outside any timed region) until only `base` Gs are live, failing
/// after 10 s: every G spawned by the workload ran to its end.
async fn all_exited(w: &str, base: usize) {
    let t = Instant::now();
    while goro::num_goroutine() > base {
        check(t.elapsed() < Duration::from_secs(10), || {
            format!(
                "{w}: {} Gs still live 10 s after the end",
                goro::num_goroutine() - base
            )
        });
        goro::gosched().await;
    }
}

/// W7: main adds N, spawns N Gs that each call `done`, then waits.
fn spawn() {
    let n = scaled(1_000_000, 1);
    goro::run(async move {
        let wg: &'static WaitGroup = leak(WaitGroup::new());
        let base = goro::num_goroutine();
        let start = Instant::now();
        wg.add(n as isize);
        for _ in 0..n {
            drop(goro::go(async move { wg.done() }));
        }
        // returns only once exactly N `done` calls happened (more would panic)
        wg.wait().await;
        let el = start.elapsed();
        all_exited("spawn", base).await;
        emit("spawn", "ns_per_g", ns_per(el, n));
    });
}

/// W9: 100 Gs each yield 10,000 times.
fn yield_() {
    let gs = scaled(100, 1).min(100);
    let per = scaled(1_000_000, 100) / 100;
    goro::run(async move {
        let wg: &'static WaitGroup = leak(WaitGroup::new());
        let count: &'static AtomicU64 = leak(AtomicU64::new(0));
        let start = Instant::now();
        wg.add(gs as isize);
        for _ in 0..gs {
            drop(goro::go(async move {
                let mut c = 0;
                for _ in 0..per {
                    goro::gosched().await;
                    c += 1;
                }
                count.fetch_add(c, Ordering::Relaxed);
                wg.done();
            }));
        }
        wg.wait().await;
        let el = start.elapsed();
        let c = count.load(Ordering::Relaxed);
        check(c == gs * per, || format!("yield count {c}"));
        emit("yield", "ns_per_yield", ns_per(el, gs * per));
    });
}

/// W13: 2 Gs share one WaitGroup; each does N/2 `add(1)` / `done()` pairs.
fn waitgroup() {
    let n = scaled(10_000_000, 2);
    goro::run(async move {
        let wg: &'static WaitGroup = leak(WaitGroup::new());
        let both = WaitGroup::new();
        let pairs: &'static AtomicU64 = leak(AtomicU64::new(0));
        let start = Instant::now();
        both.add(2);
        for _ in 0..2 {
            let both = both.clone();
            drop(goro::go(async move {
                let mut c = 0;
                for _ in 0..n / 2 {
                    wg.add(1);
                    wg.done();
                    c += 1;
                }
                pairs.fetch_add(c, Ordering::Relaxed);
                both.done();
            }));
        }
        both.wait().await;
        let el = start.elapsed();
        wg.wait().await; // the counter must be back at zero
        let p = pairs.load(Ordering::Relaxed);
        check(p == n, || format!("waitgroup pairs {p}"));
        emit("waitgroup", "ns_per_pair", ns_per(el, n));
    });
}

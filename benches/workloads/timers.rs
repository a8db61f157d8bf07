//! W12 `timers`, mirroring `timers` of the Go anchor: N Gs, G `i` sleeps
//! `1 ms + (i mod 10) ms`; wall time, and the mean and p99 lateness (wake
//! time minus deadline). A wake before the deadline fails the run.
//!
//! Needs `goro::run`, `goro::go`, `goro::time::sleep` and
//! `goro::sync::WaitGroup`.

use crate::{emit, fail, leak, ms, scaled};
use goro::sync::WaitGroup;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// This module's workloads.
pub(crate) const WORKLOADS: &[(&str, fn())] = &[("timers", timers)];

/// Signed nanoseconds from `deadline` to `now` (negative: early).
fn lateness(now: Instant, deadline: Instant) -> i64 {
    if now >= deadline {
        (now - deadline).as_nanos() as i64
    } else {
        -((deadline - now).as_nanos() as i64)
    }
}

/// W12: N sleeping Gs; main waits for all.
fn timers() {
    let n = scaled(100_000, 1) as usize;
    goro::run(async move {
        let late: &'static [AtomicI64] = Box::leak((0..n).map(|_| AtomicI64::new(0)).collect());
        let wg: &'static WaitGroup = leak(WaitGroup::new());
        let start = Instant::now();
        wg.add(n as isize);
        for (i, slot) in late.iter().enumerate() {
            let d = Duration::from_millis(1 + (i % 10) as u64);
            drop(goro::go(async move {
                let deadline = Instant::now() + d;
                goro::time::sleep(d).await;
                slot.store(lateness(Instant::now(), deadline), Ordering::Relaxed);
                wg.done();
            }));
        }
        wg.wait().await;
        let wall = start.elapsed();
        let mut v: Vec<i64> = late.iter().map(|a| a.load(Ordering::Relaxed)).collect();
        if let Some(e) = v.iter().find(|&&l| l < 0) {
            fail(&format!("timers: woke {} ns early", -e));
        }
        let mean = v.iter().sum::<i64>() as f64 / n as f64;
        v.sort_unstable();
        let p99 = v[(n * 99).div_ceil(100) - 1];
        emit("timers", "wall_ms", ms(wall));
        emit("timers", "late_mean_us", mean / 1e3);
        emit("timers", "late_p99_us", p99 as f64 / 1e3);
    });
}

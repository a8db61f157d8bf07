//! Sync workloads W18 `mutex` and W19 `rwmutex`, mirroring `mutex` and
//! `rwmutex` of the Go anchor (`shared/anchors/go/netsync.go`).
//!
//! Needs `goro::run`, `goro::sync::{Mutex, RwMutex, WaitGroup}`. The lock
//! and the group are leaked to `&'static`, as a Go closure captures them by
//! reference; the counter lives inside the lock (Go keeps it beside).

use crate::{check, emit, leak, ns_per, scaled};
use goro::sync::{Mutex, RwMutex, WaitGroup};
use std::time::Instant;

/// This module's workloads.
pub(crate) const WORKLOADS: &[(&str, fn())] = &[("mutex", mutex), ("rwmutex", rwmutex)];

/// Gs sharing the lock.
const GS: u64 = 8;

/// W18: 8 Gs each do N/8 lock, `counter += 1`, unlock on one Mutex.
fn mutex() {
    let n = scaled(2_000_000, GS * 10);
    goro::run(async move {
        let mu: &'static Mutex<u64> = leak(Mutex::new(0));
        let wg = WaitGroup::new();
        let start = Instant::now();
        for _ in 0..GS {
            wg.go(async move {
                for _ in 0..n / GS {
                    *mu.lock().await += 1;
                }
            });
        }
        wg.wait().await;
        let el = start.elapsed();
        let c = *mu.lock().await;
        check(c == n, || format!("mutex counter {c}"));
        emit("mutex", "ns_per_op", ns_per(el, n));
    });
}

/// W19: 8 Gs each do N/8 operations on one RwMutex: every 10th a write
/// lock and `counter += 1`, the rest a read lock and a read.
fn rwmutex() {
    let n = scaled(2_000_000, GS * 10);
    goro::run(async move {
        let mu: &'static RwMutex<u64> = leak(RwMutex::new(0));
        let seen: &'static Mutex<u64> = leak(Mutex::new(0));
        let wg = WaitGroup::new();
        let start = Instant::now();
        for _ in 0..GS {
            wg.go(async move {
                let mut local = 0u64;
                for i in 0..n / GS {
                    if i % 10 == 0 {
                        *mu.write().await += 1;
                    } else {
                        local += *mu.read().await & 1;
                    }
                }
                *seen.lock().await += local;
            });
        }
        wg.wait().await;
        let el = start.elapsed();
        let c = *mu.read().await;
        check(c == n / 10, || format!("rwmutex counter {c}"));
        emit("rwmutex", "ns_per_op", ns_per(el, n));
    });
}

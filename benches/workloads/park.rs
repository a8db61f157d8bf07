//! W10 `parked`, mirroring `parked` of the Go anchor, and `Arrivals`, the
//! "all N Gs are parked" signal it shares with W11.
//!
//! Needs `goro::run`, `goro::go`, `goro::chan` (`close`),
//! `goro::sync::WaitGroup` and `goro::time::sleep`. VmRSS is read from
//! /proc/self/status before the Gs are spawned and 50 ms after the last one
//! arrived, as in Go (which also runs a GC first; Rust has none to run).

use crate::{check, emit, leak, ns_per, scaled, vm_rss};
use goro::chan;
use goro::chan::{Receiver, Sender};
use goro::sync::WaitGroup;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// This module's workloads.
pub(crate) const WORKLOADS: &[(&str, fn())] = &[("parked", parked)];

/// Counts arrivals; the `target`-th one closes a channel main waits on (Go:
/// `if ready.Add(1) == n { close(allParked) }`).
pub(crate) struct Arrivals {
    /// Arrivals so far; every arriving G increments it.
    n: AtomicUsize,
    target: usize,
    all_tx: Sender<()>,
    all_rx: Receiver<()>,
}

impl Arrivals {
    /// A signal for `target` arrivals, leaked like a Go closure's capture.
    pub(crate) fn new(target: usize) -> &'static Self {
        let (all_tx, all_rx) = chan::<()>(0);
        leak(Arrivals {
            n: AtomicUsize::new(0),
            target,
            all_tx,
            all_rx,
        })
    }

    /// One G arrived; the last one closes the channel.
    pub(crate) fn arrive(&self) {
        // AcqRel: the last arrival sees every earlier one (pairs with itself).
        if self.n.fetch_add(1, Ordering::AcqRel) + 1 == self.target {
            self.all_tx.close();
        }
    }

    /// Parks until every G arrived.
    pub(crate) async fn wait(&self) {
        let v = self.all_rx.recv().await;
        check(v.is_none(), || {
            "arrivals: a value on the all-parked channel".into()
        });
    }
}

/// W10: N Gs each park receiving from its own unbuffered channel.
fn parked() {
    let n = scaled(100_000, 1);
    goro::run(async move {
        let ready = Arrivals::new(n as usize);
        let wg: &'static WaitGroup = leak(WaitGroup::new());
        let exited: &'static AtomicU64 = leak(AtomicU64::new(0));
        let mut chans = Vec::with_capacity(n as usize);
        let rss0 = vm_rss();
        let start = Instant::now();
        wg.add(n as isize);
        for _ in 0..n {
            let (tx, rx) = chan::<()>(0);
            chans.push(tx);
            drop(goro::go(async move {
                ready.arrive();
                if rx.recv().await.is_none() {
                    exited.fetch_add(1, Ordering::Relaxed);
                }
                wg.done();
            }));
        }
        ready.wait().await;
        let up = start.elapsed();
        goro::time::sleep(Duration::from_millis(50)).await;
        let rss1 = vm_rss();
        let t = Instant::now();
        for c in &chans {
            c.close();
        }
        wg.wait().await;
        let down = t.elapsed();
        let e = exited.load(Ordering::Relaxed);
        check(e == n, || format!("parked exited {e}"));
        emit("parked", "bytes_per_g", (rss1 - rss0) as f64 / n as f64);
        emit("parked", "ns_per_g", ns_per(up + down, n));
    });
}

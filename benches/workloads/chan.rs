//! Channel workloads W1 `pingpong`, W2 `spsc/{0,1,1024}`, W3 `mpmc/{0,1024}`,
//! W4 `mpsc/1024` and W8 `spawn_chain`, mirroring `pingpong`, `spsc`,
//! `manyToMany` and `spawnChain` of the Go anchor.
//!
//! Needs `goro::run`, `goro::go` and `goro::chan`. Like the Go program, no
//! channel is closed on purpose; a G's `Sender` is dropped when the G ends,
//! after every value it sends was received.

use crate::{check, emit, ns_per, scaled, triangle};
use goro::chan;
use goro::chan::{Receiver, Sender};
use std::time::Instant;

/// This module's workloads.
pub(crate) const WORKLOADS: &[(&str, fn())] = &[
    ("pingpong", pingpong),
    ("spsc/0", || spsc("spsc/0", 0)),
    ("spsc/1", || spsc("spsc/1", 1)),
    ("spsc/1024", || spsc("spsc/1024", 1024)),
    ("mpmc/0", || many("mpmc/0", 0, 4)),
    ("mpmc/1024", || many("mpmc/1024", 1024, 4)),
    ("mpsc/1024", || many("mpsc/1024", 1024, 1)),
    ("spawn_chain", spawn_chain),
];

/// W2..W6 message count (Go: `nMsg`).
pub(crate) fn n_msg() -> u64 {
    scaled(2_000_000, 4)
}

/// W1: G A sends `i` on unbuffered `ab`, G B sends it back on unbuffered `ba`.
fn pingpong() {
    let n = scaled(1_000_000, 1);
    goro::run(async move {
        let (ab_tx, ab_rx) = chan::<u64>(0);
        let (ba_tx, ba_rx) = chan::<u64>(0);
        let (done_tx, done_rx) = chan::<u64>(0);
        let start = Instant::now();
        drop(goro::go(async move {
            // B
            for _ in 0..n {
                let v = ab_rx.recv().await.expect("ab closed");
                ba_tx.send(v).await.expect("ba closed");
            }
        }));
        drop(goro::go(async move {
            // A
            let mut sum = 0;
            for i in 0..n {
                ab_tx.send(i).await.expect("ab closed");
                sum += ba_rx.recv().await.expect("ba closed");
            }
            done_tx.send(sum).await.expect("done closed");
        }));
        let sum = done_rx.recv().await.expect("done closed");
        let el = start.elapsed();
        check(sum == triangle(n), || format!("pingpong sum {sum}"));
        emit("pingpong", "ns_per_rt", ns_per(el, n));
    });
}

/// W2: one sender G sends `0..N`, one receiver G receives and sums.
fn spsc(w: &'static str, cap: usize) {
    let n = n_msg();
    goro::run(async move {
        let (tx, rx) = chan::<u64>(cap);
        let (done_tx, done_rx) = chan::<u64>(0);
        let start = Instant::now();
        drop(goro::go(async move {
            for i in 0..n {
                tx.send(i).await.expect("closed");
            }
        }));
        drop(goro::go(async move {
            let mut sum = 0;
            for _ in 0..n {
                sum += rx.recv().await.expect("closed");
            }
            done_tx.send(sum).await.expect("done closed");
        }));
        let sum = done_rx.recv().await.expect("done closed");
        let el = start.elapsed();
        check(sum == triangle(n), || format!("spsc sum {sum}"));
        emit(w, "ns_per_msg", ns_per(el, n));
    });
}

/// Sender `k` of 4 sends `k*q .. (k+1)*q` (Go: `sendRange`).
pub(crate) async fn send_range(tx: Sender<u64>, k: u64, n: u64) {
    let q = n / 4;
    for v in k * q..(k + 1) * q {
        tx.send(v).await.expect("closed");
    }
}

/// W3 / W4: 4 sender Gs each send N/4; `receivers` Gs share the receiving.
fn many(w: &'static str, cap: usize, receivers: u64) {
    let n = n_msg();
    goro::run(async move {
        let (tx, rx) = chan::<u64>(cap);
        let (sums_tx, sums_rx) = chan::<u64>(receivers as usize);
        let start = Instant::now();
        for k in 0..4 {
            drop(goro::go(send_range(tx.clone(), k, n)));
        }
        let per = n / receivers;
        for _ in 0..receivers {
            let (rx, sums_tx) = (rx.clone(), sums_tx.clone());
            drop(goro::go(async move {
                let mut sum = 0;
                for _ in 0..per {
                    sum += rx.recv().await.expect("closed");
                }
                sums_tx.send(sum).await.expect("sums closed");
            }));
        }
        let mut sum = 0;
        for _ in 0..receivers {
            sum += sums_rx.recv().await.expect("sums closed");
        }
        let el = start.elapsed();
        check(sum == triangle(n), || format!("{w} sum {sum}"));
        emit(w, "ns_per_msg", ns_per(el, n));
        drop((tx, rx, sums_tx));
    });
}

/// W8 step: G `i` spawns G `i+1` and exits; the last one sends on `done`.
fn chain_step(i: u64, n: u64, done: Sender<u64>) {
    drop(goro::go(async move {
        if i == n - 1 {
            done.send(i).await.expect("done closed");
        } else {
            chain_step(i + 1, n, done);
        }
    }));
}

/// W8: a chain of N Gs, each spawning the next.
fn spawn_chain() {
    let n = scaled(1_000_000, 1);
    goro::run(async move {
        let (done_tx, done_rx): (Sender<u64>, Receiver<u64>) = chan(0);
        let start = Instant::now();
        chain_step(0, n, done_tx);
        let last = done_rx.recv().await.expect("done closed");
        let el = start.elapsed();
        check(last == n - 1, || format!("spawn_chain last {last}"));
        emit("spawn_chain", "ns_per_g", ns_per(el, n));
    });
}

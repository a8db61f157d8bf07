//! Select workloads W5 `select_rx` and W6 `select_both`, mirroring
//! `selectRx`, `selectBoth` and `selRecv` of the Go anchor.
//!
//! Needs `goro::run`, `goro::go`, `goro::chan` and `goro::select!`. As in Go,
//! main keeps every channel's `Sender` alive, so no channel is ever closed and
//! a receive case that wins always carries a value.

use crate::chan_w::{n_msg, send_range};
use crate::{check, emit, fail, ns_per, triangle};
use goro::chan;
use goro::chan::{Receiver, Sender};
use std::time::Instant;

/// This module's workloads.
pub(crate) const WORKLOADS: &[(&str, fn())] =
    &[("select_rx", select_rx), ("select_both", select_both)];

/// One select over the 4 receive cases (Go: `selRecv`).
async fn sel_recv(cs: &[Receiver<u64>; 4]) -> u64 {
    let v: Option<u64> = goro::select! {
        recv(cs[0]) -> v => { v },
        recv(cs[1]) -> v => { v },
        recv(cs[2]) -> v => { v },
        recv(cs[3]) -> v => { v },
    };
    v.unwrap_or_else(|| fail("select received from a closed channel"))
}

/// Four channels of capacity 1024.
fn four() -> ([Sender<u64>; 4], [Receiver<u64>; 4]) {
    let (t0, r0) = chan::<u64>(1024);
    let (t1, r1) = chan::<u64>(1024);
    let (t2, r2) = chan::<u64>(1024);
    let (t3, r3) = chan::<u64>(1024);
    ([t0, t1, t2, t3], [r0, r1, r2, r3])
}

/// W5: sender G `k` sends N/4 on channel `k`; one receiver G does N selects.
fn select_rx() {
    let n = n_msg();
    goro::run(async move {
        let (txs, rxs) = four();
        let (done_tx, done_rx) = chan::<u64>(0);
        let start = Instant::now();
        for (k, tx) in txs.iter().enumerate() {
            drop(goro::go(send_range(tx.clone(), k as u64, n)));
        }
        drop(goro::go(async move {
            let mut sum = 0;
            for _ in 0..n {
                sum += sel_recv(&rxs).await;
            }
            done_tx.send(sum).await.expect("done closed");
        }));
        let sum = done_rx.recv().await.expect("done closed");
        let el = start.elapsed();
        check(sum == triangle(n), || format!("select_rx sum {sum}"));
        emit("select_rx", "ns_per_msg", ns_per(el, n));
        drop(txs);
    });
}

/// W6 sender `k`: N/4 selects over the 4 send cases.
async fn select_sender(cs: [Sender<u64>; 4], k: u64, q: u64) {
    for v in k * q..(k + 1) * q {
        let r = goro::select! {
            send(cs[0], v) -> r => { r },
            send(cs[1], v) -> r => { r },
            send(cs[2], v) -> r => { r },
            send(cs[3], v) -> r => { r },
        };
        if r.is_err() {
            fail("select_both: send on a closed channel");
        }
    }
}

/// W6: 4 sender Gs each do N/4 send selects; 4 receiver Gs N/4 receive selects.
fn select_both() {
    let n = n_msg();
    let q = n / 4;
    goro::run(async move {
        let (txs, rxs) = four();
        let (sums_tx, sums_rx) = chan::<u64>(4);
        let start = Instant::now();
        for k in 0..4 {
            drop(goro::go(select_sender(txs.clone(), k, q)));
        }
        for _ in 0..4 {
            let (rxs, sums_tx) = (rxs.clone(), sums_tx.clone());
            drop(goro::go(async move {
                let mut sum = 0;
                for _ in 0..q {
                    sum += sel_recv(&rxs).await;
                }
                sums_tx.send(sum).await.expect("sums closed");
            }));
        }
        let mut sum = 0;
        for _ in 0..4 {
            sum += sums_rx.recv().await.expect("sums closed");
        }
        let el = start.elapsed();
        // a value a select both delivered and dropped, or delivered twice,
        // shows up here as a wrong sum (or as a hang caught by the watchdog)
        check(sum == triangle(n), || {
            format!("select_both sum {sum} want {}", triangle(n))
        });
        emit("select_both", "ns_per_msg", ns_per(el, n));
        drop((txs, rxs));
    });
}

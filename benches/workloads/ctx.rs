//! Context workloads W11 `ctx_tree` and W14 `ctx_cancel`, mirroring `ctxTree`
//! and `ctxCancel` of the Go anchor.
//!
//! Needs `goro::run`, `goro::go`, `goro::chan`, `goro::context`,
//! `goro::sync::WaitGroup` and `goro::time::sleep`. Go discards the cancel
//! funcs of the tree's inner contexts (`m, _ := context.WithCancel(root)`);
//! here they and the mid contexts are kept in vectors until the end, since a
//! goro parent holds its children weakly (API.md) and dropping them inside
//! the timed loop would measure their teardown too.

use crate::park_w::Arrivals;
use crate::{check, emit, fail, leak, ms, ns_per, scaled};
use goro::chan;
use goro::context::{self, ContextError};
use goro::sync::WaitGroup;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// This module's workloads.
pub(crate) const WORKLOADS: &[(&str, fn())] = &[("ctx_tree", ctx_tree), ("ctx_cancel", ctx_cancel)];

/// W11: root; 1,000 children; 100 children under each; 10,000 Gs wait on
/// every 10th leaf's done channel; cancel root and wait for all to exit.
fn ctx_tree() {
    let mids = scaled(1_000, 1) as usize;
    let per_mid = 100;
    let waiters = mids * per_mid / 10;
    let total = (1 + mids + mids * per_mid) as u64;
    goro::run(async move {
        let start = Instant::now();
        let (root, cancel) = context::with_cancel(&context::background());
        let mut inner = Vec::with_capacity(mids * (per_mid + 1));
        let mut leaves = Vec::with_capacity(mids * per_mid);
        for _ in 0..mids {
            let (m, mc) = context::with_cancel(&root); // cancelled through root
            for _ in 0..per_mid {
                let (l, lc) = context::with_cancel(&m);
                leaves.push(l);
                inner.push(lc);
            }
            inner.push(mc);
            drop(m); // its leaves keep it alive, as in Go
        }
        let build = start.elapsed();
        let ready = Arrivals::new(waiters);
        let wg: &'static WaitGroup = leak(WaitGroup::new());
        let cancelled: &'static AtomicU64 = leak(AtomicU64::new(0));
        wg.add(waiters as isize);
        for i in 0..waiters {
            let leaf = leaves[i * 10].clone();
            drop(goro::go(async move {
                let d = leaf.done();
                ready.arrive();
                let v = d.recv().await;
                if v.is_none() && leaf.err() == Some(ContextError::Canceled) {
                    cancelled.fetch_add(1, Ordering::Relaxed);
                }
                wg.done();
            }));
        }
        ready.wait().await;
        goro::time::sleep(Duration::from_millis(50)).await;
        let t = Instant::now();
        cancel.cancel();
        wg.wait().await;
        let el = t.elapsed();
        let c = cancelled.load(Ordering::Relaxed);
        check(c == waiters as u64, || format!("ctx_tree cancelled {c}"));
        if leaves.iter().any(|l| l.err().is_none()) {
            fail("ctx_tree leaf not cancelled");
        }
        emit("ctx_tree", "ns_per_ctx", ns_per(build, total));
        emit("ctx_tree", "cancel_ms", ms(el));
        drop(inner);
    });
}

/// W14: one G creates a cancel child of a long-lived parent and cancels it.
fn ctx_cancel() {
    let n = scaled(1_000_000, 1);
    goro::run(async move {
        let (parent, pcancel) = context::with_cancel(&context::background());
        let (done_tx, done_rx) = chan::<u64>(0);
        let start = Instant::now();
        let p = parent.clone();
        drop(goro::go(async move {
            let mut c = 0;
            for _ in 0..n {
                let (ctx, cancel) = context::with_cancel(&p);
                cancel.cancel();
                if ctx.err().is_some() {
                    c += 1;
                }
            }
            done_tx.send(c).await.expect("done closed");
        }));
        let c = done_rx.recv().await.expect("done closed");
        let el = start.elapsed();
        check(c == n && parent.err().is_none(), || {
            format!("ctx_cancel count {c}")
        });
        emit("ctx_cancel", "ns_per_op", ns_per(el, n));
        pcancel.cancel();
    });
}

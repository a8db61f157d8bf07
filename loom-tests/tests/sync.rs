//! loom models of WaitGroup: add/done racing with wait (no lost wake-up, no
//! early return), a pending wait dropped while the last done races, and two
//! waiters released by one done.
//!
//! Run: RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//!      --manifest-path loom-tests/Cargo.toml --test sync
#![cfg(loom)]

use goro::block_on;
use goro::sync::WaitGroup;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use std::future::Future;
use std::task::{Context, Poll, Waker};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.max_branches = 100_000;
    b.check(f);
}

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn done_races_with_wait() {
    model(|| {
        let wg = WaitGroup::new();
        let work = Arc::new(AtomicUsize::new(0));
        wg.add(1);
        let t = {
            let (wg, work) = (wg.clone(), work.clone());
            thread::spawn(move || {
                work.store(1, Ordering::Relaxed);
                wg.done();
            })
        };
        block_on(wg.wait());
        // No early return: the done's work is visible (Release/Acquire).
        assert_eq!(work.load(Ordering::Relaxed), 1);
        t.join().unwrap();
    });
}

#[test]
fn two_dones_two_waiters() {
    model(|| {
        let wg = WaitGroup::new();
        wg.add(2);
        let done1 = {
            let wg = wg.clone();
            thread::spawn(move || wg.done())
        };
        let waiter = {
            let wg = wg.clone();
            thread::spawn(move || block_on(wg.wait()))
        };
        wg.done();
        block_on(wg.wait());
        done1.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(wg.__counter(), 0);
    });
}

#[test]
fn dropped_wait_races_with_done() {
    model(|| {
        let wg = WaitGroup::new();
        wg.add(1);
        let t = {
            let wg = wg.clone();
            thread::spawn(move || wg.done())
        };
        {
            let mut w = std::pin::pin!(wg.wait());
            let _ = poll_once(w.as_mut());
            // dropped here, pending or not
        }
        t.join().unwrap();
        // The group is clean: reuse works and a new add is no misuse.
        wg.add(1);
        wg.done();
        block_on(wg.wait());
    });
}

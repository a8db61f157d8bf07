//! loom models of `goro::sync::Cond` and `Semaphore` (src/sync/cond.rs,
//! semaphore.rs on src/task/sema.rs).
//!
//! Run: RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//!      --manifest-path loom-tests/Cargo.toml --test sync_cond
#![cfg(loom)]

use goro::sync::{Cond, Mutex, Semaphore};
use loom::sync::Arc;
use loom::thread;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.max_branches = 100_000;
    b.check(f);
}

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

/// `signal` racing `wait`: the waiter registers before it unlocks, so a
/// signal sent after the flag is set (under the mutex) is never lost.
#[test]
fn cond_signal_vs_wait() {
    model(|| {
        let s = Arc::new((Mutex::new(false), Cond::new()));
        let t = {
            let s = s.clone();
            thread::spawn(move || {
                goro::block_on(async {
                    let mut ready = s.0.lock().await;
                    while !*ready {
                        ready = s.1.wait(ready).await;
                    }
                })
            })
        };
        *s.0.lock_blocking() = true;
        s.1.signal();
        t.join().unwrap();
    });
}

/// A waiter signalled and dropped before it returns (while still queued
/// on the Cond, or while re-locking the mutex) passes the signal on: the
/// other waiter is woken by the single `signal`. (If the dropped waiter's
/// one poll returned, it consumed the signal legitimately, and the model
/// signals once more.)
#[test]
fn cond_dropped_waiter_passes_signal() {
    model(|| {
        let s = Arc::new((Mutex::new(false), Cond::new()));
        let dropped = {
            let s = s.clone();
            thread::spawn(move || {
                let g = s.0.lock_blocking();
                let mut w = pin!(s.1.wait(g));
                poll_once(w.as_mut()).is_ready()
            })
        };
        let waiter = {
            let s = s.clone();
            thread::spawn(move || {
                goro::block_on(async {
                    let mut ready = s.0.lock().await;
                    while !*ready {
                        ready = s.1.wait(ready).await;
                    }
                })
            })
        };
        *s.0.lock_blocking() = true;
        s.1.signal();
        if dropped.join().unwrap() {
            s.1.signal();
        }
        waiter.join().unwrap();
    });
}

/// An `acquire` dropped exactly when `release` grants it its permit: the
/// permit goes back and reaches the other waiter.
#[test]
fn semaphore_cancel_vs_release() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire(1).unwrap();
        held.forget();
        let t1 = {
            let sem = sem.clone();
            thread::spawn(move || {
                let mut f = pin!(sem.acquire(1));
                let _ = poll_once(f.as_mut());
            })
        };
        let t2 = {
            let sem = sem.clone();
            thread::spawn(move || drop(sem.acquire_blocking(1)))
        };
        sem.release(1);
        t1.join().unwrap();
        t2.join().unwrap();
        assert!(sem.try_acquire(1).is_some(), "a permit was lost");
    });
}

/// x/sync's TestAllocCancelDoesntStarve: a large request at the head is
/// dropped while a small one waits behind it; the small one must be served.
#[test]
fn semaphore_head_cancel_serves_next() {
    model(|| {
        let sem = Arc::new(Semaphore::new(2));
        sem.try_acquire(1).unwrap().forget();
        let big = {
            let sem = sem.clone();
            thread::spawn(move || {
                let mut f = pin!(sem.acquire(2));
                let _ = poll_once(f.as_mut());
            })
        };
        let small = {
            let sem = sem.clone();
            thread::spawn(move || drop(sem.acquire_blocking(1)))
        };
        big.join().unwrap();
        small.join().unwrap();
        sem.release(1);
        assert!(sem.try_acquire(2).is_some());
    });
}

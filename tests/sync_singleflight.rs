//! singleflight: duplicate suppression, forget, a cancelled leader, panics.

mod common;

use goro::sync::singleflight::Group;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(futures::task::noop_waker_ref()))
}

/// A leader dropped mid-call hands the key to a waiter, which runs its own
/// future (instead of hanging).
#[test]
fn cancelled_leader_lets_a_waiter_run() {
    let g = Group::<&str, u32>::new();
    let mut waiter = pin!(g.run("k", async { 2 }));
    {
        let mut leader = pin!(g.run("k", std::future::pending()));
        assert!(poll_once(leader.as_mut()).is_pending());
        assert!(poll_once(waiter.as_mut()).is_pending());
        assert_eq!(g.waiters(&"k"), 1);
    }
    assert_eq!(poll_once(waiter.as_mut()), Poll::Ready((2, false)));
}

/// x/sync's TestForget: after `forget`, a new call runs even while the old
/// one is in flight, and later callers join the new one.
#[test]
fn forget_starts_a_new_call() {
    let g = Group::<&str, u32>::new();
    let (tx1, rx1) = goro::chan::<()>(0);
    let (tx2, rx2) = goro::chan::<()>(0);
    let mut first = pin!(g.run("k", async move {
        rx1.recv().await;
        1
    }));
    assert!(poll_once(first.as_mut()).is_pending());
    g.forget(&"k");
    let mut second = pin!(g.run("k", async move {
        rx2.recv().await;
        2
    }));
    assert!(poll_once(second.as_mut()).is_pending());
    drop(tx1);
    assert_eq!(poll_once(first.as_mut()), Poll::Ready((1, false)));
    let mut third = pin!(g.run("k", async { 3 }));
    assert!(poll_once(third.as_mut()).is_pending()); // joined `second`
    drop(tx2);
    assert_eq!(poll_once(second.as_mut()), Poll::Ready((2, true)));
    assert_eq!(poll_once(third.as_mut()), Poll::Ready((2, true)));
}

#[test]
fn distinct_keys_run_separately() {
    let calls = common::guard(30, || {
        goro::run(async {
            let g = Arc::new(Group::<u32, u32>::new());
            let calls = Arc::new(AtomicU32::new(0));
            let wg = goro::sync::WaitGroup::new();
            for k in 0..4u32 {
                let (g, calls) = (g.clone(), calls.clone());
                wg.go(async move {
                    let (v, _) = g
                        .run(k, async move {
                            calls.fetch_add(1, Ordering::SeqCst);
                            k * 10
                        })
                        .await;
                    assert_eq!(v, k * 10);
                });
            }
            wg.wait().await;
            calls.load(Ordering::SeqCst)
        })
    });
    assert_eq!(calls, 4);
}

//! Semaphore: permits, FIFO, the head never bypassed, contexts, cancel
//! safety, misuse panics.

mod common;

use goro::context::{self, ContextError};
use goro::sync::{Semaphore, WaitGroup};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(futures::task::noop_waker_ref()))
}

#[test]
fn never_more_than_size_in_use() {
    let most = common::guard(30, || {
        goro::run(async {
            let sem = Arc::new(Semaphore::new(5));
            let used = Arc::new(AtomicUsize::new(0));
            let most = Arc::new(AtomicUsize::new(0));
            let wg = WaitGroup::new();
            for k in 0..12usize {
                let (sem, used, most) = (sem.clone(), used.clone(), most.clone());
                wg.go(async move {
                    for i in 0..50 {
                        let n = 1 + (k + i) % 3;
                        let p = sem.acquire(n).await;
                        let now = used.fetch_add(n, Ordering::SeqCst) + n;
                        most.fetch_max(now, Ordering::SeqCst);
                        goro::gosched().await;
                        used.fetch_sub(n, Ordering::SeqCst);
                        drop(p);
                    }
                });
            }
            wg.wait().await;
            most.load(Ordering::SeqCst)
        })
    });
    assert!(most <= 5, "{most} permits in use");
}

/// x/sync's rule: a waiting request at the head is not bypassed by a
/// smaller one that would fit.
#[test]
fn head_is_never_bypassed() {
    let sem = Semaphore::new(3);
    let held = sem.try_acquire(2).unwrap();
    let mut big = pin!(sem.acquire(3));
    assert!(poll_once(big.as_mut()).is_pending());
    assert!(
        sem.try_acquire(1).is_none(),
        "try_acquire bypassed the queue"
    );
    let mut small = pin!(sem.acquire(1));
    assert!(poll_once(small.as_mut()).is_pending());
    drop(held);
    let b = match poll_once(big.as_mut()) {
        Poll::Ready(p) => p,
        Poll::Pending => panic!("the head was not served"),
    };
    assert!(poll_once(small.as_mut()).is_pending());
    drop(b);
    assert!(poll_once(small.as_mut()).is_ready());
}

/// A dropped head lets the smaller request behind it in at once (x/sync's
/// TestAllocCancelDoesntStarve shape), and a granted but dropped request
/// gives its permits back.
#[test]
fn dropped_requests_give_everything_back() {
    let sem = Semaphore::new(10);
    let one = sem.try_acquire(1).unwrap();
    let mut small = pin!(sem.acquire(1));
    {
        let mut big = pin!(sem.acquire(10));
        assert!(poll_once(big.as_mut()).is_pending());
        assert!(poll_once(small.as_mut()).is_pending());
    }
    let p = match poll_once(small.as_mut()) {
        Poll::Ready(p) => p,
        Poll::Pending => panic!("the request behind a dropped head starved"),
    };
    drop(one);
    assert!(sem.try_acquire(10).is_none()); // `p` still holds 1
    drop(p);
    assert!(sem.try_acquire(10).is_some());
    let sem = Semaphore::new(1);
    let held = sem.try_acquire(1).unwrap();
    {
        let mut f = pin!(sem.acquire(1));
        assert!(poll_once(f.as_mut()).is_pending());
        drop(held); // grants the waiter, which is dropped unpolled
    }
    assert!(sem.try_acquire(1).is_some(), "the granted permit was lost");
}

#[test]
fn acquire_ctx_gives_up_when_done() {
    let (timeout, cancelled) = common::guard(30, || {
        goro::run(async {
            let sem = Semaphore::new(1);
            let _held = sem.acquire(1).await;
            let (ctx, _c) = context::with_timeout(&context::background(), Duration::from_millis(5));
            let timeout = sem.acquire_ctx(&ctx, 1).await.map(|p| p.permits());
            let (ctx, cancel) = context::with_cancel(&context::background());
            let waiter = sem.acquire_ctx(&ctx, 1);
            cancel.cancel();
            let cancelled = waiter.await.map(|p| p.permits());
            assert!(format!("{sem:?}").contains("waiters: 0"), "{sem:?}");
            (timeout, cancelled)
        })
    });
    assert_eq!(timeout, Err(ContextError::DeadlineExceeded));
    assert_eq!(cancelled, Err(ContextError::Canceled));
}

/// A request larger than the size waits for its context (it never fits)
/// and does not hold back smaller requests behind it.
#[test]
fn oversized_request_waits_for_ctx_without_blocking_others() {
    let r = common::guard(30, || {
        goro::run(async {
            let sem: &'static Semaphore = Box::leak(Box::new(Semaphore::new(2)));
            let (ctx, cancel) = context::with_cancel(&context::background());
            let big = goro::go(async move { sem.acquire_ctx(&ctx, 3).await.map(drop) });
            goro::time::sleep(Duration::from_millis(2)).await;
            for _ in 0..6 {
                drop(sem.acquire(1).await);
            }
            cancel.cancel();
            big.await.unwrap()
        })
    });
    assert_eq!(r, Err(ContextError::Canceled));
}

#[test]
fn free_permits_are_taken_even_with_a_done_ctx() {
    let sem = Semaphore::new(1);
    let (ctx, cancel) = context::with_cancel(&context::background());
    cancel.cancel();
    assert!(goro::block_on(sem.acquire_ctx(&ctx, 1)).is_ok());
}

#[test]
fn forget_and_release() {
    let sem = Semaphore::new(2);
    sem.acquire_blocking(2).forget();
    assert!(sem.try_acquire(1).is_none());
    sem.release(1);
    assert!(sem.try_acquire(1).is_some());
    sem.release(1);
    let e = std::panic::catch_unwind(|| sem.release(1)).unwrap_err();
    assert_eq!(
        e.downcast_ref::<&str>().copied(),
        Some("semaphore: released more than held")
    );
}

#[test]
fn waiting_g_shows_semacquire() {
    let shown = common::guard(30, || {
        goro::run(async {
            let sem: &'static Semaphore = Box::leak(Box::new(Semaphore::new(1)));
            let p = sem.acquire(1).await;
            let h = goro::go(async move { drop(sem.acquire(1).await) });
            let mut shown = false;
            for _ in 0..5000 {
                if goro::runtime::stack().contains("[semacquire") {
                    shown = true;
                    break;
                }
                goro::time::sleep(Duration::from_millis(1)).await;
            }
            drop(p);
            h.await.unwrap();
            shown
        })
    });
    assert!(shown);
}

/// Dropping a zero-permit `Permit` is x/sync's `Release(0)`: it serves a
/// waiter that fits now (found by proptest_sync).
#[test]
fn zero_release_serves_a_fitting_head() {
    let sem = Semaphore::new(1);
    let one = sem.try_acquire(1).unwrap();
    let zero = sem.try_acquire(0).unwrap(); // fits: nobody waits
    let mut z2 = pin!(sem.acquire(0));
    {
        let mut big = pin!(sem.acquire(1));
        assert!(poll_once(big.as_mut()).is_pending());
        assert!(poll_once(z2.as_mut()).is_pending()); // behind `big`
    } // `big` leaves; no permit is free, so nobody is served yet
    assert!(poll_once(z2.as_mut()).is_pending());
    drop(zero); // Release(0): the zero request at the head fits
    assert!(poll_once(z2.as_mut()).is_ready());
    drop(one);
}

#[test]
fn futures_are_send() {
    fn assert_send<T: Send>(_: T) {}
    let sem = Semaphore::new(1);
    let ctx = context::background();
    assert_send(sem.acquire(1));
    assert_send(sem.acquire_ctx(&ctx, 1));
    let g = goro::sync::singleflight::Group::<u32, String>::new();
    assert_send(g.run(1, async { String::new() }));
}

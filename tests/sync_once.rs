//! Once and OnceCell: one run, every caller waits for it, panics and
//! cancellation.

mod common;

use goro::sync::{Once, OnceCell, WaitGroup};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(futures::task::noop_waker_ref()))
}

/// Every caller returns only after the (slow) first call has finished.
#[test]
fn callers_wait_for_the_running_call() {
    let (runs, seen) = common::guard(30, || {
        goro::run(async {
            let once: &'static Once = Box::leak(Box::new(Once::new()));
            let runs: &'static AtomicU32 = Box::leak(Box::new(AtomicU32::new(0)));
            let seen = Arc::new(AtomicU32::new(0));
            let wg = WaitGroup::new();
            for _ in 0..10 {
                let seen = seen.clone();
                wg.go(async move {
                    once.call_once(async {
                        goro::time::sleep(Duration::from_millis(5)).await;
                        runs.fetch_add(1, Ordering::SeqCst);
                    })
                    .await;
                    seen.fetch_add(runs.load(Ordering::SeqCst), Ordering::SeqCst);
                });
            }
            wg.wait().await;
            (runs.load(Ordering::SeqCst), seen.load(Ordering::SeqCst))
        })
    });
    assert_eq!(runs, 1);
    assert_eq!(seen, 10, "a caller returned before the call finished");
}

/// A cancelled first call counts for nothing: the next caller runs.
#[test]
fn cancelled_call_lets_the_next_run() {
    let once = Once::new();
    {
        let mut first = pin!(once.call_once(std::future::pending::<()>()));
        assert!(poll_once(first.as_mut()).is_pending());
        let mut waiter = pin!(once.call_once(async { unreachable!("ran while another runs") }));
        assert!(poll_once(waiter.as_mut()).is_pending());
        // `waiter` is dropped (it queued), then `first` (running).
    }
    assert!(!once.is_completed());
    let mut ran = false;
    goro::block_on(once.call_once(async { ran = true }));
    assert!(ran && once.is_completed());
}

/// The head waiter runs its own future when the running call is dropped.
#[test]
fn waiter_takes_over_from_a_cancelled_call() {
    let once = Once::new();
    let ran = AtomicU32::new(0);
    let mut waiter = pin!(once.call_once(async {
        ran.fetch_add(1, Ordering::SeqCst);
    }));
    {
        let mut first = pin!(once.call_once(std::future::pending::<()>()));
        assert!(poll_once(first.as_mut()).is_pending());
        assert!(poll_once(waiter.as_mut()).is_pending());
    }
    assert!(poll_once(waiter.as_mut()).is_ready());
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert!(once.is_completed());
}

/// Go's TestOncePanic: a panicking call counts as done.
#[test]
fn panicking_call_counts_as_done() {
    let once = Once::new();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        goro::block_on(once.call_once(async { panic!("failed") }))
    }));
    assert!(r.is_err());
    assert!(once.is_completed());
    goro::block_on(once.call_once(async { panic!("Once called twice") }));
}

#[test]
fn once_cell_one_value_for_all() {
    let (v, inits) = common::guard(30, || {
        goro::run(async {
            let cell: &'static OnceCell<String> = Box::leak(Box::new(OnceCell::new()));
            let inits: &'static AtomicU32 = Box::leak(Box::new(AtomicU32::new(0)));
            let (tx, rx) = goro::chan::<String>(10);
            for i in 0..10 {
                let tx = tx.clone();
                drop(goro::go(async move {
                    let v = cell
                        .get_or_init(async move {
                            inits.fetch_add(1, Ordering::SeqCst);
                            goro::time::sleep(Duration::from_millis(2)).await;
                            format!("value {i}")
                        })
                        .await;
                    tx.send(v.clone()).await.unwrap();
                }));
            }
            drop(tx);
            let mut all = Vec::new();
            while let Some(v) = rx.recv().await {
                all.push(v);
            }
            assert!(all.iter().all(|v| v == &all[0]));
            (cell.get().cloned(), inits.load(Ordering::SeqCst))
        })
    });
    assert!(v.is_some());
    assert_eq!(inits, 1);
}

/// A panicking or cancelled initializer leaves the cell empty and usable.
#[test]
fn once_cell_panic_or_cancel_leaves_it_empty() {
    let cell = OnceCell::<u32>::new();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        goro::block_on(cell.get_or_init(async { panic!("init failed") }))
    }));
    assert!(r.is_err());
    assert_eq!(cell.get(), None);
    {
        let mut f = pin!(cell.get_or_init(std::future::pending()));
        assert!(poll_once(f.as_mut()).is_pending());
    }
    assert_eq!(cell.get(), None);
    assert_eq!(*goro::block_on(cell.get_or_init(async { 3 })), 3);
    assert_eq!(format!("{cell:?}"), "OnceCell { value: Some(3) }");
}

#[test]
fn once_cell_drops_its_value() {
    let v = Arc::new(());
    let cell = OnceCell::new();
    goro::block_on(cell.get_or_init(async { v.clone() }));
    assert_eq!(Arc::strong_count(&v), 2);
    drop(cell);
    assert_eq!(Arc::strong_count(&v), 1);
}

#[test]
fn futures_are_send() {
    fn assert_send<T: Send>(_: T) {}
    static ONCE: Once = Once::new();
    static CELL: OnceCell<String> = OnceCell::new();
    assert_send(ONCE.call_once(async {}));
    assert_send(CELL.get_or_init(async { String::new() }));
}

//! Cond: signal and broadcast, FIFO (ticket) order, cancel safety of a
//! signalled waiter, wait reason.

mod common;

use goro::sync::{Cond, Mutex, WaitGroup};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Duration;

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(futures::task::noop_waker_ref()))
}

type Shared = &'static (Mutex<u32>, Cond);

fn shared() -> Shared {
    Box::leak(Box::new((Mutex::new(0), Cond::new())))
}

/// Each `signal` wakes exactly the waiter that has waited longest.
#[test]
fn signal_wakes_in_fifo_order() {
    let order = common::guard(30, || {
        goro::run(async {
            let s = shared();
            let (tx, rx) = goro::chan::<u32>(16);
            for i in 0..5u32 {
                let tx = tx.clone();
                drop(goro::go(async move {
                    let mut g = s.0.lock().await;
                    *g += 1;
                    let _g = s.1.wait(g).await; // registered before it unlocks
                    tx.send(i).await.unwrap();
                }));
                // Once the count shows it, G i waits (it unlocked in `wait`).
                while *s.0.lock().await < i + 1 {
                    goro::gosched().await;
                }
            }
            let mut order = Vec::new();
            for _ in 0..5 {
                s.1.signal();
                order.push(rx.recv().await.unwrap());
            }
            order
        })
    });
    assert_eq!(order, vec![0, 1, 2, 3, 4]);
}

#[test]
fn broadcast_wakes_everyone_once() {
    let n = common::guard(30, || {
        goro::run(async {
            let s = shared();
            let wg = WaitGroup::new();
            let woken: &'static std::sync::atomic::AtomicU32 =
                Box::leak(Box::new(std::sync::atomic::AtomicU32::new(0)));
            for _ in 0..20 {
                wg.go(async move {
                    let mut g = s.0.lock().await;
                    while *g == 0 {
                        g = s.1.wait(g).await;
                    }
                    woken.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                });
            }
            goro::time::sleep(Duration::from_millis(5)).await;
            *s.0.lock().await = 1;
            s.1.broadcast();
            wg.wait().await;
            woken.load(std::sync::atomic::Ordering::SeqCst)
        })
    });
    assert_eq!(n, 20);
}

/// A signalled waiter dropped before it returns passes the signal to the
/// next waiter; an unsignalled one just leaves.
#[test]
fn dropped_waiters_pass_signals_on() {
    common::guard(30, || {
        let s = shared();
        let g = s.0.lock_blocking();
        let mut second;
        {
            let mut first = pin!(s.1.wait(g));
            assert!(poll_once(first.as_mut()).is_pending()); // unlocked, queued
            second = Box::pin(async {
                let g = s.0.lock().await;
                s.1.wait(g).await
            });
            assert!(poll_once(second.as_mut()).is_pending());
            s.1.signal(); // to `first`, the head
        } // `first` dropped: the signal goes on to `second`
        assert!(poll_once(second.as_mut()).is_ready());
    });
    common::guard(30, || {
        let s = shared();
        {
            let g = s.0.lock_blocking();
            let mut w = pin!(s.1.wait(g));
            assert!(poll_once(w.as_mut()).is_pending());
        } // dropped unsignalled: leaves the list
        assert_eq!(format!("{:?}", s.1), "Cond { waiters: 0 }");
        assert!(s.0.try_lock().is_some(), "wait left the mutex locked");
    });
}

#[test]
fn waiting_g_shows_wait_reason() {
    let shown = common::guard(30, || {
        goro::run(async {
            let s = shared();
            let h = goro::go(async move {
                let g = s.0.lock().await;
                drop(s.1.wait(g).await);
            });
            let mut shown = false;
            for _ in 0..5000 {
                if goro::runtime::stack().contains("[sync.Cond.Wait") {
                    shown = true;
                    break;
                }
                goro::time::sleep(Duration::from_millis(1)).await;
            }
            s.1.signal();
            h.await.unwrap();
            shown
        })
    });
    assert!(shown);
}

#[test]
fn wait_future_is_send() {
    fn assert_send<T: Send>(_: T) {}
    let s = shared();
    assert_send(async move {
        let g = s.0.lock().await;
        let g = s.1.wait(g).await;
        drop(g);
    });
}

//! A waker's drop may run user code, and that code may use the very channel
//! whose lock the waker was stored under: a channel never drops a waker
//! while holding its lock (the lock is not re-entrant and never wakes its
//! sleepers, so such a drop would hang the thread for good). Each test
//! parks an operation with a waker whose last clone then lives in the
//! channel's sudog, and makes the channel drop that clone: on re-poll with
//! another waker, on cancel, on completion.

mod common;

use goro::chan::TrySendError;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// Each test is bounded: a drop under the lock hangs, and fails it here.
fn guard(f: impl FnOnce() + Send + 'static) {
    common::guard(20, f)
}

/// A waker that does nothing when woken and runs `on_drop` when its last
/// clone is dropped.
struct DropHook {
    on_drop: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Wake for DropHook {
    fn wake(self: Arc<Self>) {}
}

impl Drop for DropHook {
    fn drop(&mut self) {
        if let Some(f) = self.on_drop.lock().unwrap().take() {
            f();
        }
    }
}

/// The waker, and a count of its drop hook's runs.
fn hook_waker(on_drop: impl FnOnce() + Send + 'static) -> (Waker, Arc<AtomicUsize>) {
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let hook = DropHook {
        on_drop: Mutex::new(Some(Box::new(move || {
            on_drop();
            r.fetch_add(1, Ordering::SeqCst);
        }))),
    };
    (Waker::from(Arc::new(hook)), ran)
}

fn poll_with<F: Future>(f: std::pin::Pin<&mut F>, w: &Waker) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(w))
}

/// A parked receive re-polled with another waker: the replaced waker's
/// drop sends on the same channel (which takes its lock).
#[test]
fn recv_repoll_with_new_waker_drops_old_waker_unlocked() {
    guard(|| {
        let (tx, rx) = goro::chan::<u32>(1);
        let tx2 = tx.clone();
        let (w, ran) = hook_waker(move || {
            // The receive is parked: the value goes straight to it.
            assert_eq!(tx2.try_send(7), Ok(()));
        });
        let mut f = pin!(rx.recv());
        assert!(poll_with(f.as_mut(), &w).is_pending());
        drop(w); // the sudog holds the last clone
        assert!(poll_with(f.as_mut(), Waker::noop()).is_pending());
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert_eq!(poll_with(f.as_mut(), Waker::noop()), Poll::Ready(Some(7)));
        drop(tx);
    });
}

/// A parked receive dropped (cancelled): its waker's drop sends on the
/// channel.
#[test]
fn recv_cancel_drops_waker_unlocked() {
    guard(|| {
        let (tx, rx) = goro::chan::<u32>(1);
        let tx2 = tx.clone();
        let (w, ran) = hook_waker(move || {
            assert_eq!(tx2.try_send(8), Ok(()));
        });
        {
            let mut f = pin!(rx.recv());
            assert!(poll_with(f.as_mut(), &w).is_pending());
            drop(w);
        } // cancel_recv
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert_eq!(rx.try_recv(), Ok(8));
        drop(tx);
    });
}

/// A parked send re-polled with another waker: the replaced waker's drop
/// receives from the channel (taking the parked send's value).
#[test]
fn send_repoll_with_new_waker_drops_old_waker_unlocked() {
    guard(|| {
        let (tx, rx) = goro::chan::<u32>(0);
        let rx2 = rx.clone();
        let (w, ran) = hook_waker(move || {
            assert_eq!(rx2.try_recv(), Ok(9));
        });
        let mut f = pin!(tx.send(9));
        assert!(poll_with(f.as_mut(), &w).is_pending());
        drop(w);
        let _ = poll_with(f.as_mut(), Waker::noop());
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert_eq!(poll_with(f.as_mut(), Waker::noop()), Poll::Ready(Ok(())));
        drop(rx);
    });
}

/// A parked send dropped (cancelled): its waker's drop closes the channel
/// (which always takes its lock).
#[test]
fn send_cancel_drops_waker_unlocked() {
    guard(|| {
        let (tx, rx) = goro::chan::<u32>(0);
        let tx2 = tx.clone();
        let (w, ran) = hook_waker(move || tx2.close());
        {
            let mut f = pin!(tx.send(1));
            assert!(poll_with(f.as_mut(), &w).is_pending());
            drop(w);
        } // cancel_send
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert_eq!(rx.try_recv(), Err(goro::chan::TryRecvError::Closed));
    });
}

/// The `Stream` impl's parked receive re-polled with another waker: the
/// replaced waker's drop sends on the channel.
#[test]
fn stream_repoll_with_new_waker_drops_old_waker_unlocked() {
    use futures_core::Stream;
    guard(|| {
        let (tx, mut rx) = goro::chan::<u32>(1);
        let tx2 = tx.clone();
        let (w, ran) = hook_waker(move || {
            assert!(matches!(
                tx2.try_send(3),
                Ok(()) | Err(TrySendError::Full(_))
            ));
        });
        let mut rx_pin = std::pin::Pin::new(&mut rx);
        let poll = |rx: &mut std::pin::Pin<&mut goro::chan::Receiver<u32>>, w: &Waker| {
            rx.as_mut().poll_next(&mut Context::from_waker(w))
        };
        assert!(poll(&mut rx_pin, &w).is_pending());
        drop(w);
        assert!(poll(&mut rx_pin, Waker::noop()).is_pending());
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert_eq!(poll(&mut rx_pin, Waker::noop()), Poll::Ready(Some(3)));
        drop(tx);
    });
}

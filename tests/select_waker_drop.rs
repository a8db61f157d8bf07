//! A select never drops a waker while it holds its channels' locks: a
//! waker's drop may run user code that uses one of those channels (the
//! locks are not re-entrant, so that would hang the thread for good). Each
//! test parks a select with a waker whose last clone then lives in the
//! select's sudogs, and makes the select let go of it: re-polled with
//! another waker, cancelled, or completed (pass 3 unlinks the losers).

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

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

/// `select! { recv(a), recv(b) }`, as a future.
async fn select2(
    a: &goro::chan::Receiver<u32>,
    b: &goro::chan::Receiver<u32>,
) -> (u8, Option<u32>) {
    goro::select! {
        recv(a) -> v => (0, v),
        recv(b) -> v => (1, v),
    }
}

/// Re-polled with another waker: the replaced clones are dropped after
/// the locks are released; the last one's drop sends on one of the
/// select's channels, which completes the select.
#[test]
fn select_repoll_with_new_waker_drops_old_waker_unlocked() {
    guard(|| {
        let (ta, ra) = goro::chan::<u32>(1);
        let (_tb, rb) = goro::chan::<u32>(1);
        let ta2 = ta.clone();
        let (w, ran) = hook_waker(move || ta2.try_send(4).unwrap());
        let mut f = pin!(select2(&ra, &rb));
        assert!(poll_with(f.as_mut(), &w).is_pending());
        drop(w); // the two sudogs hold the last clones
        assert!(poll_with(f.as_mut(), Waker::noop()).is_pending());
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert_eq!(
            poll_with(f.as_mut(), Waker::noop()),
            Poll::Ready((0, Some(4)))
        );
    });
}

/// Dropped while parked: the drop hook runs once the select let go of its
/// locks, and its send lands in the channel (nothing listens any more).
#[test]
fn select_cancel_drops_waker_unlocked() {
    guard(|| {
        let (ta, ra) = goro::chan::<u32>(1);
        let (_tb, rb) = goro::chan::<u32>(1);
        let ta2 = ta.clone();
        let (w, ran) = hook_waker(move || ta2.try_send(5).unwrap());
        {
            let mut f = pin!(select2(&ra, &rb));
            assert!(poll_with(f.as_mut(), &w).is_pending());
            drop(w);
        }
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert_eq!(ra.try_recv(), Ok(5));
    });
}

/// Completed: a sender takes case 0 (and consumes that sudog's waker by
/// waking it); pass 3 then unlinks case 1, whose sudog holds the last
/// clone; its drop sends on case 1's channel.
#[test]
fn select_pass3_drops_loser_waker_unlocked() {
    guard(|| {
        let (ta, ra) = goro::chan::<u32>(1);
        let (tb, rb) = goro::chan::<u32>(1);
        let tb2 = tb.clone();
        let (w, ran) = hook_waker(move || tb2.try_send(6).unwrap());
        let mut f = pin!(select2(&ra, &rb));
        assert!(poll_with(f.as_mut(), &w).is_pending());
        drop(w);
        ta.try_send(1).unwrap(); // completes case 0, wakes (drops) its clone
        assert_eq!(
            poll_with(f.as_mut(), Waker::noop()),
            Poll::Ready((0, Some(1)))
        );
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert_eq!(rb.try_recv(), Ok(6));
    });
}

/// The run-time `Select`, re-polled with another waker, as the first test.
#[test]
fn dynamic_select_repoll_with_new_waker_drops_old_waker_unlocked() {
    guard(|| {
        let (ta, ra) = goro::chan::<u32>(1);
        let (_tb, rb) = goro::chan::<u32>(1);
        let ta2 = ta.clone();
        let (w, ran) = hook_waker(move || ta2.try_send(7).unwrap());
        let mut sel = goro::Select::new();
        let a = sel.recv(&ra);
        sel.recv(&rb);
        let mut f = pin!(sel.select());
        assert!(poll_with(f.as_mut(), &w).is_pending());
        drop(w);
        assert!(poll_with(f.as_mut(), Waker::noop()).is_pending());
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        match poll_with(f.as_mut(), Waker::noop()) {
            Poll::Ready(op) => {
                assert_eq!(op.index(), a);
                assert_eq!(op.recv(&ra), Some(7));
            }
            Poll::Pending => panic!("the select did not complete"),
        }
    });
}

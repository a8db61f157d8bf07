//! loom models of the park/wake handshake of an ordinary thread in
//! `goro::block_on` (`src/task/park.rs`: `ThreadParker`, a flag under a
//! mutex plus a condition variable; its Waker sets the flag and notifies).
//! The property is Go's "no lost wake-up" for a thread parked in
//! `notesleep`: a wake that happens before, during or after the poll that
//! returned `Pending` always lets `block_on` return. A lost wake-up shows
//! up in loom as a deadlock (the main thread parked, nobody left to wake
//! it).
//!
//! The futures here are tiny hand-written primitives whose wake side runs on
//! other loom threads. The runtime's own M park/wake, on a whole `Runtime`,
//! is in `runtime_park.rs` (it has far more branch points).
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --test park` in `loom-tests/` (these also pass at 3).

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(2);
    }
    b.check(f);
}

/// A one-shot event: `set` from any thread, awaited by one future.
#[derive(Default)]
struct Event {
    set: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Event {
    fn set(&self) {
        // Release: pairs with the Acquire loads in `poll`.
        self.set.store(true, Ordering::Release);
        let w = self.waker.lock().unwrap().take();
        if let Some(w) = w {
            w.wake();
        }
    }
}

fn wait(ev: &Arc<Event>) -> Wait {
    Wait(ev.clone())
}

struct Wait(Arc<Event>);

impl Future for Wait {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.set.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        *self.0.waker.lock().unwrap() = Some(cx.waker().clone());
        // Re-check after publishing the waker: `set` may have run between.
        if self.0.set.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

/// `block_on` of a future woken once from another thread.
#[test]
fn block_on_woken_from_other_thread() {
    model(|| {
        let ev = Arc::new(Event::default());
        let e = ev.clone();
        let t = thread::spawn(move || e.set());
        goro::block_on(wait(&ev));
        t.join().unwrap();
    });
}

/// Two wakers on two threads; the future is ready once both fired. Each
/// wake may land while the thread polls, before it parks, or while parked.
#[test]
fn block_on_two_wakers() {
    model(|| {
        let a = Arc::new(Event::default());
        let b = Arc::new(Event::default());
        let (a2, b2) = (a.clone(), b.clone());
        let ta = thread::spawn(move || a2.set());
        let tb = thread::spawn(move || b2.set());
        goro::block_on(async {
            wait(&a).await;
            wait(&b).await;
        });
        ta.join().unwrap();
        tb.join().unwrap();
    });
}

/// A future that wakes itself during poll (a yield): the wake arrives
/// before the thread parks and must not be lost. Then a second, real wait.
#[test]
fn block_on_self_wake_then_remote_wake() {
    model(|| {
        let ev = Arc::new(Event::default());
        let e = ev.clone();
        let t = thread::spawn(move || e.set());
        goro::block_on(async {
            let mut yielded = false;
            std::future::poll_fn(|cx| {
                if yielded {
                    return Poll::Ready(());
                }
                yielded = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            })
            .await;
            wait(&ev).await;
        });
        t.join().unwrap();
    });
}

/// Many wakes for one park: a counter bumped and woken by a thread twice;
/// the waiter needs both. Extra notifications must not be lost or make the
/// parker spin forever.
#[test]
fn block_on_repeated_wakes() {
    model(|| {
        let n = Arc::new(AtomicUsize::new(0));
        let slot: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
        let (n2, s2) = (n.clone(), slot.clone());
        let t = thread::spawn(move || {
            for _ in 0..2 {
                n2.fetch_add(1, Ordering::Release);
                let w = s2.lock().unwrap().clone();
                if let Some(w) = w {
                    w.wake();
                }
            }
        });
        goro::block_on(std::future::poll_fn(|cx| {
            if n.load(Ordering::Acquire) == 2 {
                return Poll::Ready(());
            }
            *slot.lock().unwrap() = Some(cx.waker().clone());
            if n.load(Ordering::Acquire) == 2 {
                return Poll::Ready(());
            }
            Poll::Pending
        }));
        t.join().unwrap();
    });
}

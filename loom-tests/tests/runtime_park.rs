//! loom models of the runtime's own M park/wake on a whole one-P `Runtime`
//! (its M is a loom thread): procresize's wakep → startm → newm, the M's
//! schedule/findRunnable/stop dance, the main G's JoinHandle wake of the
//! thread blocked in `Runtime::block_on`, and shutdown handing `None` to
//! the parked M. No lost wake-up shows as no deadlock.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --test runtime_park` in `loom-tests/`.

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

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

/// The runtime's own M park/wake, on a one-P `Runtime` (its M is a loom
/// thread): `Runtime::block_on` of a G that finishes at once. Covers
/// procresize's wakep → startm → newm, the M's schedule/findRunnable/stop
/// dance, the main G's JoinHandle wake of the blocked thread, and shutdown
/// handing `None` to the parked M.
#[test]
fn runtime_block_on_one_p() {
    runtime_model(|| {
        let rt = goro::Runtime::builder().max_procs(1).build();
        assert_eq!(rt.block_on(async { 7 }), 7);
        rt.shutdown();
    });
}

/// As above, but the G parks and is woken (Go's `ready`) from another loom
/// thread: the wake goes to the global queue and wakep must get the
/// parked M to run it (no lost wake-up between the M's last re-check and
/// its park).
#[test]
fn runtime_g_woken_from_other_thread() {
    runtime_model(|| {
        let rt = goro::Runtime::builder().max_procs(1).build();
        let ev = Arc::new(Event::default());
        let e = ev.clone();
        let t = thread::spawn(move || e.set());
        rt.block_on(wait(&ev));
        t.join().unwrap();
        rt.shutdown();
    });
}

/// Whole-runtime models: bound 1 unless `LOOM_MAX_PREEMPTIONS` says more
/// (they have more threads and branch points than the others), and room
/// for the ~1 000 branch points of a `Sched` drop (all `allp` slots).
fn runtime_model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(1);
    }
    b.max_branches = b.max_branches.max(50_000);
    b.check(f);
}

//! loom models of a G's completion against its `JoinHandle`
//! (`src/runtime/g.rs`: the join word and the join waker), driven through
//! the hidden hook `goro::runtime::testing::TestG`, whose `run` does what an
//! M's `execute` and `goexit` do to the G.
//!
//! Each model races one M completing the G against one handle operation:
//! the handle's drop (who reports a panic nobody will observe, and who
//! drops the registered waker), its first poll (a lost wake-up), and a poll
//! with a new waker (the waker swap).
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --test join` in `loom-tests/`.

use goro::JoinHandle;
use goro::runtime::testing::TestG;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// Runs a model with a preemption bound of 2 unless `LOOM_MAX_PREEMPTIONS`
/// says otherwise, and room for the branch points of a `Sched` drop (it
/// visits every `allp` slot).
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(2);
    }
    b.max_branches = b.max_branches.max(20_000);
    b.check(f);
}

/// A waker that counts its wakes; its clones are counted by the `Arc`.
struct CountWaker(AtomicUsize);

impl Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn count_waker() -> (Arc<CountWaker>, Waker) {
    let c = Arc::new(CountWaker(AtomicUsize::new(0)));
    let w = Waker::from(c.clone());
    (c, w)
}

fn poll_join<T>(h: &mut JoinHandle<T>, w: &Waker) -> Poll<Result<T, goro::JoinError>> {
    Pin::new(h).poll(&mut Context::from_waker(w))
}

/// A G that panics (without the panic hook, so the models print nothing).
fn panicking() -> impl Future<Output = ()> + Send + 'static {
    async { std::panic::resume_unwind(Box::new("boom")) }
}

/// The handle is dropped while the G panics: the handle's drop (clear the
/// interest, look for completion) against the completion (mark complete,
/// look for interest) is the store-buffer pattern, where both sides can
/// miss the other and the panic is lost. Exactly one side must report it.
#[test]
fn handle_drop_races_panicking_completion() {
    model(|| {
        let (g, h) = TestG::new(panicking());
        let m = thread::spawn(move || {
            assert!(g.run(), "the G did not finish");
            g
        });
        drop(h);
        let g = m.join().unwrap();
        let p = g.take_reported_panic().expect("the detached G's panic was lost");
        assert_eq!(*p.downcast::<&str>().unwrap(), "boom");
    });
}

/// The handle's first poll (register the waker, look for completion)
/// against the completion (mark complete, wake the registered waker): a
/// `Pending` poll must be followed by a wake, and the output reaches the
/// handle.
#[test]
fn join_poll_races_completion() {
    model(|| {
        let (g, mut h) = TestG::new(async { 7u32 });
        let m = thread::spawn(move || {
            assert!(g.run());
            g
        });
        let (c, w) = count_waker();
        let first = poll_join(&mut h, &w);
        let g = m.join().unwrap();
        let v = match first {
            Poll::Ready(r) => r,
            Poll::Pending => {
                assert_eq!(c.0.load(SeqCst), 1, "a pending join was never woken");
                match poll_join(&mut h, &w) {
                    Poll::Ready(r) => r,
                    Poll::Pending => panic!("pending after completion"),
                }
            }
        };
        assert_eq!(v.unwrap(), 7);
        drop((h, g, w));
        assert_eq!(Arc::strong_count(&c), 1, "a waker clone leaked");
    });
}

/// A handle with a registered waker is polled again with another waker
/// while the G completes: the swap (take the waker back, store the new one,
/// publish it) against the completion's wake. The new waker is woken or
/// the poll sees the result; the old one is dropped exactly once.
#[test]
fn join_waker_swap_races_completion() {
    model(|| {
        let (g, mut h) = TestG::new(async { 7u32 });
        let (c1, w1) = count_waker();
        assert!(poll_join(&mut h, &w1).is_pending());
        drop(w1);
        let m = thread::spawn(move || {
            assert!(g.run());
            g
        });
        let (c2, w2) = count_waker();
        let second = poll_join(&mut h, &w2);
        let g = m.join().unwrap();
        if second.is_pending() {
            assert_eq!(c2.0.load(SeqCst), 1, "the new waker was never woken");
            assert!(poll_join(&mut h, &w2).is_ready());
        }
        drop((h, w2));
        assert_eq!(Arc::strong_count(&c1), 1, "the old waker leaked");
        assert_eq!(Arc::strong_count(&c2), 1, "the new waker leaked");
        drop(g);
    });
}

/// A handle with a registered waker is dropped while the G panics: the
/// panic is reported once, and the registered waker is dropped (by the
/// handle or by the completion, never both) before the G is freed.
#[test]
fn handle_drop_with_waker_races_panicking_completion() {
    model(|| {
        let (g, mut h) = TestG::new(panicking());
        let (c, w) = count_waker();
        assert!(poll_join(&mut h, &w).is_pending());
        drop(w);
        let m = thread::spawn(move || {
            assert!(g.run());
            g
        });
        drop(h);
        let g = m.join().unwrap();
        assert!(g.take_reported_panic().is_some(), "the panic was lost");
        assert_eq!(Arc::strong_count(&c), 1, "the registered waker leaked");
        drop(g);
    });
}

//! The done channel: lazily made, closed on cancel, shared, never closed for
//! contexts that are never done; many Gs parked on done channels of a tree.

use goro::chan::TryRecvError;
use goro::context::{self, ContextError};
use goro::sync::WaitGroup;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Runs `fut` as the main G of a runtime, failing if it takes over 30 s.
fn rt<F>(fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        let out = goro::run(fut);
        let _ = tx.send(());
        out
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match h.join() {
            Ok(v) => v,
            Err(e) => std::panic::resume_unwind(e),
        },
        Err(_) => panic!("test hung"),
    }
}

#[test]
fn done_closed_on_cancel_and_shared() {
    let (ctx, cancel) = context::with_cancel(&context::background());
    let d1 = ctx.done();
    let d2 = ctx.clone().done();
    assert!(d1.same_channel(&d2), "done() must return the same channel");
    assert_eq!(d1.try_recv(), Err(TryRecvError::Empty));
    cancel.cancel();
    assert_eq!(d1.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(d2.recv_blocking(), None);
    // Asked for the first time after the cancel: already closed.
    let (ctx, cancel) = context::with_cancel(&context::background());
    cancel.cancel();
    assert_eq!(ctx.done().try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn done_of_value_child_is_parents() {
    let (ctx, cancel) = context::with_cancel(&context::background());
    let v = context::with_value(&ctx, 1i32);
    assert!(v.done().same_channel(&ctx.done()));
    cancel.cancel();
    assert_eq!(v.done().try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn never_done_contexts() {
    let (ctx, cancel) = context::with_cancel(&context::background());
    let w = context::without_cancel(&ctx);
    cancel.cancel();
    for c in [context::background(), context::todo(), w] {
        assert_eq!(c.done().try_recv(), Err(TryRecvError::Empty));
        assert!(!c.done().is_closed());
    }
}

#[test]
fn deadline_closes_done() {
    let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(10));
    let d = ctx.done();
    let t = std::thread::spawn(move || d.recv_blocking());
    assert_eq!(t.join().unwrap(), None);
    assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
}

#[test]
fn gs_parked_on_tree_done_channels_all_exit() {
    // A small W11: root, 20 children, 50 leaves each; 200 Gs each wait on
    // the done channel of every 5th leaf; cancel the root.
    let exited = rt(async {
        let (root, cancel) = context::with_cancel(&context::background());
        let mut leaves = Vec::new();
        let mut mids = Vec::new();
        for _ in 0..20 {
            let (m, mc) = context::with_cancel(&root);
            for _ in 0..50 {
                leaves.push(context::with_cancel(&m));
            }
            mids.push((m, mc));
        }
        let wg = WaitGroup::new();
        let exited = Arc::new(AtomicUsize::new(0));
        for (leaf, _) in leaves.iter().step_by(5) {
            let done = leaf.done();
            let leaf = leaf.clone();
            let exited = exited.clone();
            wg.go(async move {
                assert_eq!(done.recv().await, None);
                assert_eq!(leaf.err(), Some(ContextError::Canceled));
                exited.fetch_add(1, Ordering::SeqCst);
            });
        }
        goro::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(exited.load(Ordering::SeqCst), 0);
        cancel.cancel();
        wg.wait().await;
        exited.load(Ordering::SeqCst)
    });
    assert_eq!(exited, 200);
}

#[test]
fn cancelled_future() {
    let e = rt(async {
        let (ctx, cancel) = context::with_timeout(&context::background(), Duration::from_secs(60));
        let c = ctx.clone();
        let h = goro::go(async move { c.cancelled().await });
        goro::time::sleep(Duration::from_millis(2)).await;
        cancel.cancel();
        h.await.unwrap()
    });
    assert_eq!(e, ContextError::Canceled);
}

#[test]
fn after_func_runs_in_a_g() {
    let ran = rt(async {
        let (ctx, cancel) = context::with_cancel(&context::background());
        let (tx, rx) = goro::chan::<()>(0);
        let stop = context::after_func(&ctx, move || {
            // Inside a G: goro::go works here.
            drop(goro::go(async move {
                tx.send(()).await.unwrap();
            }));
        });
        cancel.cancel();
        let got = rx.recv().await;
        assert!(!stop.stop());
        got
    });
    assert_eq!(ran, Some(()));
}

// A timeout too long to represent saturates to a deadline that never
// comes, as `time::sleep(Duration::MAX)` does (it used to panic on Instant
// overflow).
#[test]
fn huge_timeouts_saturate() {
    let bg = context::background();
    let (ctx, cancel) = context::with_timeout(&bg, Duration::MAX);
    assert_eq!(ctx.err(), None);
    assert_eq!(ctx.deadline(), None, "a deadline that never comes");
    let why: context::Cause = Arc::new(std::io::Error::other("never"));
    let (c2, cancel2) = context::with_timeout_cause(&ctx, Duration::MAX, Some(why));
    assert_eq!(c2.err(), None);
    // A finite parent deadline still applies to a child with a huge timeout.
    let (p, _pc) = context::with_timeout(&bg, Duration::from_secs(3600));
    let (c3, _c3c) = context::with_timeout(&p, Duration::MAX);
    assert_eq!(c3.deadline(), p.deadline());
    // Deadlines far beyond what the timer heaps represent work too.
    let far = std::time::Instant::now() + Duration::from_secs(1000 * 365 * 86_400);
    let (c4, c4c) = context::with_deadline(&bg, far);
    assert_eq!(c4.deadline(), Some(far));
    assert_eq!(c4.err(), None);
    c4c.cancel();
    assert_eq!(c4.err(), Some(ContextError::Canceled));
    // And the time package saturates the same way.
    let t0 = std::time::Instant::now();
    goro::block_on(async {
        let mut s = std::pin::pin!(goro::time::sleep(Duration::MAX));
        assert!(futures::poll!(s.as_mut()).is_pending());
    });
    assert!(t0.elapsed() < Duration::from_secs(5));
    cancel2.cancel();
    cancel.cancel();
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
    assert_eq!(c2.err(), Some(ContextError::Canceled));
}

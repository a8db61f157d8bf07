//! Go's context tests (src/context/context_test.go, x_test.go), in goro.
//! Each test names the Go test it mirrors.

use goro::context::{self, Cause, Context, ContextError};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Runs `f` on a thread and fails if it does not finish within 30 s.
fn guarded<F: FnOnce() + Send + 'static>(f: F) {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(()) => h.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(h.join().unwrap_err())
        }
        Err(_) => panic!("test hung"),
    }
}

/// Waits (polling `err`) until `ctx` is done or `limit` passes.
fn wait_done(ctx: &Context, limit: Duration) -> Option<ContextError> {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if let Some(e) = ctx.err() {
            return Some(e);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    ctx.err()
}

#[derive(Debug)]
struct MyErr(&'static str);
impl std::fmt::Display for MyErr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}
impl std::error::Error for MyErr {}

fn cause_str(c: &Context) -> Option<String> {
    context::cause(c).map(|c| c.to_string())
}

fn is_err(c: &Cause, e: ContextError) -> bool {
    c.downcast_ref::<ContextError>() == Some(&e)
}

// Go: TestBackground, TestTODO
#[test]
fn background_and_todo() {
    let b = context::background();
    assert_eq!(b.err(), None);
    assert_eq!(b.deadline(), None);
    assert_eq!(b.to_string(), "context.Background");
    assert_eq!(context::todo().to_string(), "context.TODO");
    assert!(context::cause(&b).is_none());
}

// Go: TestWithCancel
#[test]
fn with_cancel() {
    let (c1, cancel) = context::with_cancel(&context::background());
    assert_eq!(c1.to_string(), "context.Background.WithCancel");
    let o = context::with_value(&c1, 1u8);
    let (c2, _cancel2) = context::with_cancel(&o);
    let all = [c1.clone(), o.clone(), c2.clone()];
    for c in &all {
        assert_eq!(c.err(), None);
        assert!(
            c.done().try_recv().is_err() && !c.done().is_closed(),
            "{c} done before cancel"
        );
    }
    cancel.cancel();
    for c in &all {
        assert_eq!(c.err(), Some(ContextError::Canceled));
        assert_eq!(c.done().recv_blocking(), None, "{c} done not closed");
    }
    assert_eq!(ContextError::Canceled.to_string(), "context canceled");
    assert_eq!(
        ContextError::DeadlineExceeded.to_string(),
        "context deadline exceeded"
    );
}

// Go: TestParentFinishesChild
#[test]
fn parent_finishes_child() {
    let (parent, cancel) = context::with_cancel(&context::background());
    let (cancel_child, _stop1) = context::with_cancel(&parent);
    let (timer_child, _stop2) = context::with_timeout(&parent, Duration::from_secs(3600));
    let value_child = context::with_value(&parent, "value");
    let (after_value, _stop3) = context::with_cancel(&value_child);
    // cancel_child, timer_child and after_value are in parent's set.
    assert_eq!(parent.__num_children(), 3);
    for c in [
        &parent,
        &cancel_child,
        &timer_child,
        &value_child,
        &after_value,
    ] {
        assert_eq!(c.err(), None);
    }
    cancel.cancel();
    for c in [
        &parent,
        &cancel_child,
        &timer_child,
        &value_child,
        &after_value,
    ] {
        assert_eq!(c.err(), Some(ContextError::Canceled));
    }
    assert_eq!(parent.__num_children(), 0);
    // Children of a done context are done at once, and not added.
    let (late, _s) = context::with_cancel(&parent);
    assert_eq!(late.err(), Some(ContextError::Canceled));
    assert_eq!(parent.__num_children(), 0);
}

// Go: TestChildFinishesFirst
#[test]
fn child_finishes_first() {
    let (cancelable, stop) = context::with_cancel(&context::background());
    for (parent, registered) in [(context::background(), 0), (cancelable.clone(), 1)] {
        let (child, cancel) = context::with_cancel(&parent);
        assert_eq!(parent.__num_children(), registered);
        cancel.cancel();
        assert_eq!(child.err(), Some(ContextError::Canceled));
        assert_eq!(parent.err(), None);
        assert_eq!(parent.__num_children(), 0);
    }
    stop.cancel();
}

// Go: TestCancelRemoves
#[test]
fn cancel_removes() {
    let (parent, _pc) = context::with_cancel(&context::background());
    let (_c, cancel) = context::with_cancel(&parent);
    assert_eq!(parent.__num_children(), 1);
    cancel.cancel();
    assert_eq!(parent.__num_children(), 0);
    let (_c, cancel) = context::with_timeout(&parent, Duration::from_secs(60));
    assert_eq!(parent.__num_children(), 1);
    cancel.cancel();
    assert_eq!(parent.__num_children(), 0);
    let stop = context::after_func(&parent, || {});
    assert_eq!(parent.__num_children(), 1);
    assert!(stop.stop());
    assert_eq!(parent.__num_children(), 0);
}

// Go: TestWithCancelCanceledParent
#[test]
fn with_cancel_canceled_parent() {
    let (parent, pcancel) = context::with_cancel_cause(&context::background());
    pcancel.cancel(Some(Arc::new(MyErr("parent cause"))));
    let (c, _cancel) = context::with_cancel(&context::with_value(&parent, 3i64));
    assert_eq!(c.err(), Some(ContextError::Canceled));
    assert_eq!(cause_str(&c).as_deref(), Some("parent cause"));
}

// Go: TestDeadline
#[test]
fn deadline() {
    guarded(|| {
        let start = Instant::now();
        let (c, _cancel) =
            context::with_deadline(&context::background(), start + Duration::from_millis(50));
        assert!(
            c.to_string()
                .starts_with("context.Background.WithDeadline("),
            "{c}"
        );
        assert_eq!(c.deadline(), Some(start + Duration::from_millis(50)));
        assert_eq!(
            wait_done(&c, Duration::from_secs(10)),
            Some(ContextError::DeadlineExceeded)
        );
        assert!(start.elapsed() >= Duration::from_millis(50));

        let (o, _c1) = context::with_deadline(
            &context::background(),
            Instant::now() + Duration::from_millis(50),
        );
        let (c, _c2) = context::with_deadline(&o, Instant::now() + Duration::from_secs(3600));
        // The parent's earlier deadline wins.
        assert_eq!(c.deadline(), o.deadline());
        assert_eq!(
            wait_done(&c, Duration::from_secs(10)),
            Some(ContextError::DeadlineExceeded)
        );

        // A deadline in the past: done at once.
        let (c, _c3) = context::with_deadline(
            &context::background(),
            Instant::now() - Duration::from_secs(1),
        );
        assert_eq!(c.err(), Some(ContextError::DeadlineExceeded));
    });
}

// Go: TestTimeout
#[test]
fn timeout() {
    guarded(|| {
        let (c, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(30));
        let o = context::with_value(&c, 5u16);
        let (c2, _cancel2) = context::with_timeout(&o, Duration::from_secs(3600));
        assert_eq!(
            wait_done(&c2, Duration::from_secs(10)),
            Some(ContextError::DeadlineExceeded)
        );
        assert!(is_err(
            &context::cause(&c2).unwrap(),
            ContextError::DeadlineExceeded
        ));
    });
}

// Go: TestCanceledTimeout
#[test]
fn canceled_timeout() {
    let (c, _c1) = context::with_timeout(&context::background(), Duration::from_secs(1));
    let o = context::with_value(&c, 'x');
    let (c, cancel) = context::with_timeout(&o, Duration::from_secs(2));
    cancel.cancel();
    assert_eq!(c.err(), Some(ContextError::Canceled));
}

#[derive(Clone, Debug, PartialEq)]
struct K1(&'static str);
#[derive(Clone, Debug, PartialEq)]
struct K2(&'static str);
#[derive(Clone, Debug, PartialEq)]
struct K3(&'static str);

// Go: TestValues
#[test]
fn values() {
    let check = |c: &Context, name: &str, v1: Option<&str>, v2: Option<&str>, v3: Option<&str>| {
        assert_eq!(c.value::<K1>().map(|k| k.0), v1, "{name} k1");
        assert_eq!(c.value::<K2>().map(|k| k.0), v2, "{name} k2");
        assert_eq!(c.value_ref::<K3>().map(|k| k.0), v3, "{name} k3");
    };
    let c0 = context::background();
    check(&c0, "c0", None, None, None);
    let c1 = context::with_value(&context::background(), K1("c1k1"));
    check(&c1, "c1", Some("c1k1"), None, None);
    assert!(
        c1.to_string().starts_with("context.Background.WithValue("),
        "{c1}"
    );
    let c2 = context::with_value(&c1, K2("c2k2"));
    check(&c2, "c2", Some("c1k1"), Some("c2k2"), None);
    let c3 = context::with_value(&c2, K3("c3k3"));
    check(&c3, "c2", Some("c1k1"), Some("c2k2"), Some("c3k3"));
    let c4 = context::with_value(&c3, K1("c4k1"));
    check(&c4, "c4", Some("c4k1"), Some("c2k2"), Some("c3k3"));
    let (o0, _c) = context::with_cancel(&c4);
    check(&o0, "o0", Some("c4k1"), Some("c2k2"), Some("c3k3"));
    let o1 = context::with_value(&context::background(), K1("c1k1"));
    let o2 = context::with_value(&o1, K2("o2k2"));
    check(&o2, "o2", Some("c1k1"), Some("o2k2"), None);
    let (o3, _c) = context::with_timeout(&o2, Duration::from_secs(60));
    let o4 = context::with_value(&o3, K3("o4k3"));
    check(&o4, "o4", Some("c1k1"), Some("o2k2"), Some("o4k3"));
}

// Go: TestSimultaneousCancels
#[test]
fn simultaneous_cancels() {
    guarded(|| {
        let (root, cancel) = context::with_cancel(&context::background());
        let mut all = vec![(root.clone(), cancel)];
        // A tree: each node gets children until there are 100 nodes.
        let mut i = 0;
        while all.len() < 100 {
            let parent = all[i].0.clone();
            i += 1;
            for _ in 0..3 {
                if all.len() < 100 {
                    all.push(context::with_cancel(&parent));
                }
            }
        }
        let all = Arc::new(all);
        let threads: Vec<_> = (0..all.len())
            .map(|k| {
                let all = all.clone();
                std::thread::spawn(move || all[k].1.cancel())
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        for (c, _) in all.iter() {
            assert_eq!(c.err(), Some(ContextError::Canceled));
            assert_eq!(c.__num_children(), 0);
        }
    });
}

// Go: TestInterlockedCancels
#[test]
fn interlocked_cancels() {
    guarded(|| {
        goro::run(async {
            let (parent, cancel_parent) = context::with_cancel(&context::background());
            let (child, cancel_child) = context::with_cancel(&parent);
            let p = parent.clone();
            goro::go(async move {
                let _ = p.done().recv().await;
                cancel_child.cancel();
            });
            cancel_parent.cancel();
            let timeout = goro::time::sleep(Duration::from_secs(1));
            let done = child.done();
            let closed = async { done.recv().await.is_none() };
            // Poll the two by hand: whichever finishes first.
            let mut timeout = std::pin::pin!(timeout);
            let mut closed = std::pin::pin!(closed);
            let ok = std::future::poll_fn(|cx| {
                if let std::task::Poll::Ready(b) = closed.as_mut().poll(cx) {
                    return std::task::Poll::Ready(b);
                }
                timeout.as_mut().poll(cx).map(|_| false)
            })
            .await;
            assert!(ok, "child context not cancelled");
        });
    });
}

// Go: TestLayersCancel, TestLayersTimeout
#[test]
fn layers() {
    guarded(|| {
        use rand::Rng;
        let mut rng = rand::rng();
        for timeout in [false, true] {
            let mut ctx = context::background();
            let mut cancels = Vec::new();
            let mut vals = Vec::new();
            for i in 0..10u32 {
                match rng.random_range(0..3) {
                    0 => {
                        ctx = context::with_value(&ctx, i);
                        vals.push(i);
                    }
                    1 => {
                        let (c, f) = context::with_cancel(&ctx);
                        ctx = c;
                        cancels.push(f);
                    }
                    _ => {
                        let (c, f) = context::with_timeout(&ctx, Duration::from_secs(3600));
                        ctx = c;
                        cancels.push(f);
                    }
                }
            }
            if let Some(last) = vals.last() {
                assert_eq!(ctx.value::<u32>(), Some(*last));
            }
            let (top, cancel_top) = if timeout {
                context::with_timeout(&ctx, Duration::from_millis(20))
            } else {
                context::with_cancel(&ctx)
            };
            assert_eq!(top.err(), None);
            if timeout {
                assert_eq!(
                    wait_done(&top, Duration::from_secs(10)),
                    Some(ContextError::DeadlineExceeded)
                );
            } else if let Some(f) = cancels.first() {
                f.cancel();
                assert_eq!(top.err(), Some(ContextError::Canceled));
            } else {
                cancel_top.cancel();
                assert_eq!(top.err(), Some(ContextError::Canceled));
            }
        }
    });
}

// Go: TestCause (the table, case by case)
#[test]
fn cause() {
    let bg = context::background();
    // no error
    assert!(context::cause(&bg).is_none());
    // with_cancel, cancelled: cause is the error itself
    let (c, f) = context::with_cancel(&bg);
    f.cancel();
    assert!(is_err(&context::cause(&c).unwrap(), ContextError::Canceled));
    // with_cancel_cause: given cause
    let (c, f) = context::with_cancel_cause(&bg);
    f.cancel(Some(Arc::new(MyErr("cause"))));
    assert_eq!(c.err(), Some(ContextError::Canceled));
    assert_eq!(cause_str(&c).as_deref(), Some("cause"));
    // nil cause
    let (c, f) = context::with_cancel_cause(&bg);
    f.cancel(None);
    assert!(is_err(&context::cause(&c).unwrap(), ContextError::Canceled));
    // parent cancelled with cause, child sees it
    let (p, pf) = context::with_cancel_cause(&bg);
    let (c, _f) = context::with_cancel_cause(&p);
    pf.cancel(Some(Arc::new(MyErr("parent"))));
    assert_eq!(cause_str(&c).as_deref(), Some("parent"));
    // child cancelled first keeps its own cause
    let (p, pf) = context::with_cancel_cause(&bg);
    let (c, f) = context::with_cancel_cause(&p);
    f.cancel(Some(Arc::new(MyErr("child"))));
    pf.cancel(Some(Arc::new(MyErr("parent"))));
    assert_eq!(cause_str(&c).as_deref(), Some("child"));
    assert_eq!(cause_str(&p).as_deref(), Some("parent"));
    // first cancel wins
    let (c, f) = context::with_cancel_cause(&bg);
    f.cancel(Some(Arc::new(MyErr("first"))));
    f.cancel(Some(Arc::new(MyErr("second"))));
    assert_eq!(cause_str(&c).as_deref(), Some("first"));
    // deadline with cause, past deadline
    let (c, _f) = context::with_deadline_cause(
        &bg,
        Instant::now() - Duration::from_secs(1),
        Some(Arc::new(MyErr("late"))),
    );
    assert_eq!(c.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(cause_str(&c).as_deref(), Some("late"));
    // deadline cancelled before it fires: Canceled, cause Canceled
    let (c, f) = context::with_timeout_cause(
        &bg,
        Duration::from_secs(3600),
        Some(Arc::new(MyErr("late"))),
    );
    f.cancel();
    assert_eq!(c.err(), Some(ContextError::Canceled));
    assert!(is_err(&context::cause(&c).unwrap(), ContextError::Canceled));
    // a value child sees the cause of its cancel parent
    let (p, pf) = context::with_cancel_cause(&bg);
    let v = context::with_value(&p, 1u64);
    pf.cancel(Some(Arc::new(MyErr("through value"))));
    assert_eq!(cause_str(&v).as_deref(), Some("through value"));
    // without_cancel: never done, no cause
    let w = context::without_cancel(&p);
    assert!(context::cause(&w).is_none());
}

// Go: TestCauseRace
#[test]
fn cause_race() {
    guarded(|| {
        let (ctx, cancel) = context::with_cancel_cause(&context::background());
        let t = std::thread::spawn(move || cancel.cancel(Some(Arc::new(MyErr("race")))));
        loop {
            if ctx.err().is_some() {
                // Once err is visible, the cause must be the one given.
                assert_eq!(cause_str(&ctx).as_deref(), Some("race"));
                break;
            }
            assert!(context::cause(&ctx).is_none() || ctx.err().is_some());
            std::thread::yield_now();
        }
        t.join().unwrap();
    });
}

// Go: TestWithoutCancel
#[test]
fn without_cancel() {
    let (parent, cancel) = context::with_timeout(
        &context::with_value(&context::background(), K1("v")),
        Duration::from_secs(60),
    );
    let c = context::without_cancel(&parent);
    cancel.cancel();
    assert_eq!(parent.err(), Some(ContextError::Canceled));
    assert_eq!(c.err(), None);
    assert_eq!(c.deadline(), None);
    assert_eq!(c.value::<K1>(), Some(K1("v")));
    assert!(c.to_string().ends_with(".WithoutCancel"));
    // A cancellable child of it is independent of the cancelled parent.
    let (cc, ccancel) = context::with_cancel(&c);
    assert_eq!(cc.err(), None);
    ccancel.cancel();
    assert_eq!(cc.err(), Some(ContextError::Canceled));
}

/// Waits for an atomic to reach `n`.
fn wait_count(a: &AtomicUsize, n: usize) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if a.load(Ordering::SeqCst) >= n {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

// Go: TestAfterFuncCalledAfterCancel
#[test]
fn after_func_called_after_cancel() {
    guarded(|| {
        let (ctx, cancel) = context::with_cancel(&context::background());
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = n.clone();
        let stop = context::after_func(&ctx, move || {
            n2.fetch_add(1, Ordering::SeqCst);
        });
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(n.load(Ordering::SeqCst), 0, "f ran before cancel");
        cancel.cancel();
        assert!(wait_count(&n, 1));
        assert!(!stop.stop(), "stop after f started must return false");
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(n.load(Ordering::SeqCst), 1);
    });
}

// Go: TestAfterFuncCalledAfterTimeout
#[test]
fn after_func_called_after_timeout() {
    guarded(|| {
        let (ctx, _cancel) =
            context::with_timeout(&context::background(), Duration::from_millis(10));
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = n.clone();
        let _stop = context::after_func(&ctx, move || {
            n2.fetch_add(1, Ordering::SeqCst);
        });
        assert!(wait_count(&n, 1));
    });
}

// Go: TestAfterFuncCalledImmediately
#[test]
fn after_func_called_immediately() {
    guarded(|| {
        let (ctx, cancel) = context::with_cancel(&context::background());
        cancel.cancel();
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = n.clone();
        let stop = context::after_func(&ctx, move || {
            n2.fetch_add(1, Ordering::SeqCst);
        });
        assert!(wait_count(&n, 1));
        assert!(!stop.stop());
    });
}

// Go: TestAfterFuncNotCalledAfterStop
#[test]
fn after_func_not_called_after_stop() {
    guarded(|| {
        let (ctx, cancel) = context::with_cancel(&context::background());
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = n.clone();
        let stop = context::after_func(&ctx, move || {
            n2.fetch_add(1, Ordering::SeqCst);
        });
        assert!(stop.stop(), "first stop returns true");
        assert!(!stop.stop(), "second stop returns false");
        cancel.cancel();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(n.load(Ordering::SeqCst), 0);
    });
}

// Go: TestAfterFuncCalledAsynchronously
#[test]
fn after_func_called_asynchronously() {
    guarded(|| {
        let (ctx, cancel) = context::with_cancel(&context::background());
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let _stop = context::after_func(&ctx, move || {
            started_tx.send(()).unwrap();
            // Blocks until the canceller has returned: f must not run
            // inside cancel.
            rx.recv().unwrap();
        });
        cancel.cancel();
        tx.send(()).unwrap();
        started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    });
}

// Go: TestAfterFuncNotCalledForBackground (a never-done context)
#[test]
fn after_func_never_done_context() {
    let stop = context::after_func(&context::background(), || panic!("must not run"));
    assert!(stop.stop());
    assert!(!stop.stop());
}

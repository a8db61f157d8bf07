//! The cancel tree beyond Go's tests: weak child edges (no leak without
//! cancel), deep and wide trees, and cancels racing with creation and drops.

mod common;

use goro::context::{self, ContextError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Runs `f` on a thread and fails if it does not finish within 30 s.
fn guarded(f: impl FnOnce() + Send + 'static) {
    common::guard(30, f)
}

#[test]
fn dropped_children_do_not_grow_the_parent() {
    let (parent, cancel) = context::with_cancel(&context::background());
    for _ in 0..100_000 {
        let (child, child_cancel) = context::with_cancel(&parent);
        let _v = context::with_value(&child, 1u8);
        drop(child_cancel);
        // never cancelled
    }
    assert_eq!(parent.__num_children(), 0);
    assert!(
        parent.__children_capacity() <= 64,
        "{}",
        parent.__children_capacity()
    );
    // All at once, then all dropped.
    let kids: Vec<_> = (0..100_000)
        .map(|_| context::with_cancel(&parent))
        .collect();
    assert_eq!(parent.__num_children(), 100_000);
    drop(kids);
    assert_eq!(parent.__num_children(), 0);
    assert!(parent.__children_capacity() <= 64);
    cancel.cancel();
}

#[test]
fn child_kept_alive_by_its_handle_or_cancel_func() {
    let (parent, cancel) = context::with_cancel(&context::background());
    let (child, child_cancel) = context::with_cancel(&parent);
    drop(child);
    assert_eq!(parent.__num_children(), 1, "the cancel func keeps it");
    let (child2, child2_cancel) = context::with_cancel(&parent);
    drop(child2_cancel);
    assert_eq!(parent.__num_children(), 2, "the handle keeps it");
    cancel.cancel();
    assert_eq!(child2.err(), Some(ContextError::Canceled));
    child_cancel.cancel();
    assert_eq!(parent.__num_children(), 0);
}

#[test]
fn grandchild_keeps_child_registered() {
    let (root, cancel) = context::with_cancel(&context::background());
    let (child, child_cancel) = context::with_cancel(&root);
    let (grandchild, _g) = context::with_cancel(&child);
    drop((child, child_cancel));
    assert_eq!(root.__num_children(), 1);
    cancel.cancel();
    assert_eq!(grandchild.err(), Some(ContextError::Canceled));
}

#[test]
fn deep_chain_cancels() {
    guarded(|| {
        let (root, cancel) = context::with_cancel(&context::background());
        let mut ctx = root.clone();
        let mut all = Vec::new();
        for i in 0..1000u32 {
            ctx = if i % 3 == 0 {
                context::with_value(&ctx, i)
            } else {
                context::with_cancel(&ctx).0
            };
            all.push(ctx.clone());
        }
        cancel.cancel();
        for c in &all {
            assert_eq!(c.err(), Some(ContextError::Canceled));
        }
        drop(all);
        drop(ctx);
    });
}

#[test]
fn wide_tree_cancel() {
    guarded(|| {
        let (root, cancel) = context::with_cancel(&context::background());
        let mut leaves = Vec::new();
        for _ in 0..100 {
            let (mid, _) = context::with_cancel(&root);
            for _ in 0..100 {
                leaves.push(context::with_cancel(&mid).0);
            }
        }
        assert_eq!(root.__num_children(), 100);
        cancel.cancel();
        assert!(
            leaves
                .iter()
                .all(|l| l.err() == Some(ContextError::Canceled))
        );
    });
}

#[test]
fn cancel_races_with_create_and_drop() {
    guarded(|| {
        for _ in 0..200 {
            let (root, cancel) = context::with_cancel(&context::background());
            let go = Arc::new(AtomicBool::new(false));
            let makers: Vec<_> = (0..3)
                .map(|k| {
                    let (root, go) = (root.clone(), go.clone());
                    std::thread::spawn(move || {
                        while !go.load(Ordering::Acquire) {
                            std::hint::spin_loop();
                        }
                        let mut kept = Vec::new();
                        for i in 0..50 {
                            let (c, f) = context::with_cancel(&root);
                            match (i + k) % 3 {
                                0 => f.cancel(),
                                1 => drop((c.clone(), f)),
                                _ => kept.push(c.clone()),
                            }
                        }
                        kept
                    })
                })
                .collect();
            go.store(true, Ordering::Release);
            cancel.cancel();
            for m in makers {
                for c in m.join().unwrap() {
                    assert_eq!(c.err(), Some(ContextError::Canceled));
                }
            }
            assert_eq!(root.__num_children(), 0);
        }
    });
}

#[test]
fn handles_and_futures_are_send_sync() {
    fn send_sync<T: Send + Sync + 'static>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<context::Context>();
    send_sync::<context::CancelFunc>();
    send_sync::<context::CancelCauseFunc>();
    send_sync::<context::AfterFuncStop>();
    send_sync::<goro::sync::WaitGroup>();
    send_sync::<goro::sync::ErrGroup<String>>();
    let ctx = context::background();
    send(&ctx.cancelled());
    let wg = goro::sync::WaitGroup::new();
    send(&wg.wait());
    let g = goro::sync::ErrGroup::<String>::new();
    send(&g.wait());
    send(&g.go_async(async { Ok(()) }));
}

/// Sets its flag when dropped: a value stored with `with_value` whose
/// lifetime a test watches.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

// A deadline child nobody can observe (its handles and cancel function all
// dropped) must not keep its ancestors, and their values, alive until its
// deadline: its timer is stopped when it goes.
#[test]
fn dropped_deadline_child_frees_its_ancestors() {
    use std::time::{Duration, Instant};
    let freed = Arc::new(AtomicBool::new(false));
    let (root, cancel_root) = context::with_cancel(&context::background());
    let v = context::with_value(&root, DropFlag(freed.clone()));
    let (mid, mid_cancel) = context::with_cancel(&v);
    let (t1, t1_cancel) = context::with_timeout(&mid, Duration::from_secs(3600));
    let at = Instant::now() + Duration::from_secs(7200);
    let (t2, t2_cancel) = context::with_deadline(&t1, at);
    let leaf = context::with_value(&t2, 5u8);
    assert_eq!(root.__num_children(), 1);
    drop((v, mid, mid_cancel, t1, t1_cancel, t2, t2_cancel));
    assert!(
        !freed.load(Ordering::SeqCst),
        "the leaf still holds the chain"
    );
    assert_eq!(leaf.value::<u8>(), Some(5));
    drop(leaf);
    assert!(
        freed.load(Ordering::SeqCst),
        "a deadline timer kept the chain alive"
    );
    assert_eq!(root.__num_children(), 0);
    cancel_root.cancel();
}

// The same while the deadline timers may be firing: many short deadline
// children are dropped around their deadlines; each chain is freed, and
// nothing is left registered in the parent.
#[test]
fn dropped_deadline_children_racing_their_timers() {
    use std::time::Duration;
    guarded(|| {
        let (root, cancel_root) = context::with_cancel(&context::background());
        let flags: Vec<_> = (0..2000)
            .map(|i| {
                let freed = Arc::new(AtomicBool::new(false));
                let v = context::with_value(&root, DropFlag(freed.clone()));
                let d = Duration::from_micros(i % 500);
                let (c, f) = context::with_timeout(&v, d);
                if i % 3 == 0 {
                    std::thread::sleep(Duration::from_micros(50));
                }
                drop((v, c, f));
                freed
            })
            .collect();
        for f in &flags {
            let t0 = std::time::Instant::now();
            // A timer that already fired may be cancelling its context in
            // a moment: give it that moment.
            while !f.load(Ordering::SeqCst) && t0.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(1));
            }
            assert!(f.load(Ordering::SeqCst), "a chain outlived its handles");
        }
        assert_eq!(root.__num_children(), 0);
        cancel_root.cancel();
    });
}

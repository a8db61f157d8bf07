//! loom models of the context cancel tree: a parent's cancel racing with
//! the creation of a child, with the child's own cancel, and with the drop
//! of the child's last handle (the weak edge); a deadline timer firing
//! while its context's last handle goes (the timer's weak pointer).
//!
//! Run: RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//!      --manifest-path loom-tests/Cargo.toml --test context
#![cfg(loom)]

use goro::context::{self, ContextError};
use loom::thread;
use std::sync::Arc;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.max_branches = 100_000;
    b.check(f);
}

#[derive(Debug)]
struct Why(&'static str);
impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}
impl std::error::Error for Why {}

fn cause_str(c: &context::Context) -> String {
    context::cause(c).map(|c| c.to_string()).unwrap_or_default()
}

#[test]
fn parent_cancel_races_with_child_creation() {
    model(|| {
        let (parent, cancel) = context::with_cancel_cause(&context::background());
        let p = parent.clone();
        let t = thread::spawn(move || {
            let (child, _f) = context::with_cancel(&p);
            child
        });
        cancel.cancel(Some(Arc::new(Why("parent"))));
        let child = t.join().unwrap();
        // Created before or after the cancel, the child is done with the
        // parent's error and cause, and not left in the parent's set.
        assert_eq!(child.err(), Some(ContextError::Canceled));
        assert_eq!(cause_str(&child), "parent");
        assert_eq!(parent.__num_children(), 0);
    });
}

#[test]
fn parent_cancel_races_with_child_cancel() {
    model(|| {
        let (parent, cancel) = context::with_cancel_cause(&context::background());
        let (child, child_cancel) = context::with_cancel_cause(&parent);
        let t = thread::spawn(move || child_cancel.cancel(Some(Arc::new(Why("child")))));
        cancel.cancel(Some(Arc::new(Why("parent"))));
        t.join().unwrap();
        assert_eq!(child.err(), Some(ContextError::Canceled));
        let c = cause_str(&child);
        assert!(c == "child" || c == "parent", "{c}");
        assert_eq!(cause_str(&parent), "parent");
        assert_eq!(parent.__num_children(), 0);
    });
}

#[test]
fn parent_cancel_races_with_child_drop() {
    model(|| {
        let (parent, cancel) = context::with_cancel(&context::background());
        let (child, child_cancel) = context::with_cancel(&parent);
        let (grandchild, _g) = context::with_cancel(&child);
        let t = thread::spawn(move || {
            // The child's last handles go (the grandchild keeps it, then
            // goes too): it unlinks itself while the parent may cancel it.
            drop((child, child_cancel));
            let e = grandchild.err();
            drop(grandchild);
            e
        });
        cancel.cancel();
        let e = t.join().unwrap();
        assert!(e.is_none() || e == Some(ContextError::Canceled));
        assert_eq!(parent.__num_children(), 0);
    });
}

#[test]
fn done_channel_made_while_cancelling() {
    model(|| {
        let (ctx, cancel) = context::with_cancel(&context::background());
        let c = ctx.clone();
        let t = thread::spawn(move || {
            // Made before or after the cancel, the channel ends up closed.
            let d = c.done();
            goro::block_on(d.recv())
        });
        cancel.cancel();
        assert_eq!(t.join().unwrap(), None);
    });
}

#[test]
fn after_func_stop_races_with_cancel() {
    model(|| {
        let (ctx, cancel) = context::with_cancel(&context::background());
        let stop = context::after_func(&ctx, || {});
        let t = thread::spawn(move || cancel.cancel());
        let stopped = stop.stop();
        t.join().unwrap();
        // Either way the entry has left the context's set, and a second
        // stop reports that nothing was left to stop.
        assert_eq!(ctx.__num_children(), 0);
        assert!(!stop.stop());
        let _ = stopped;
    });
}

#[test]
fn siblings_leave_while_parent_cancels() {
    // The child set is a dense vector: a leaving child moves the last one
    // into its place and rewrites that sibling's index, while the sibling
    // may itself be leaving and the parent may be cancelling them all.
    model(|| {
        let (parent, cancel) = context::with_cancel(&context::background());
        let (a, a_cancel) = context::with_cancel(&parent);
        let (b, b_cancel) = context::with_cancel(&parent);
        let (c, _c_cancel) = context::with_cancel(&parent);
        let t1 = thread::spawn(move || drop((a, a_cancel)));
        let t2 = thread::spawn(move || {
            b_cancel.cancel();
            b.err()
        });
        // c is the last entry: it is moved by whichever sibling leaves.
        let left = parent.__num_children();
        assert!((1..=3).contains(&left), "{left}");
        cancel.cancel();
        t1.join().unwrap();
        assert_eq!(t2.join().unwrap(), Some(ContextError::Canceled));
        assert_eq!(c.err(), Some(ContextError::Canceled));
        assert_eq!(parent.__num_children(), 0);
    });
}

/// Later than every deadline a model arms.
fn far() -> std::time::Instant {
    std::time::Instant::now() + std::time::Duration::from_secs(4 * 3600)
}

/// The deadline timer fires (its callback upgrades its weak pointer to the
/// node, on a thread of its own off any runtime) while the context's last
/// handles are dropped (the node's `Drop` disarms the timer): the upgrade
/// either wins and cancels a live node, or finds the node gone; never a
/// freed node.
#[test]
fn deadline_fires_while_last_handle_drops() {
    model(|| {
        let (parent, cancel_parent) = context::with_cancel(&context::background());
        let (ctx, cancel) = context::with_timeout(&parent, std::time::Duration::from_secs(3600));
        let runner = thread::spawn(|| {
            goro::time::__loom::run_due(far());
        });
        drop((ctx, cancel));
        runner.join().unwrap();
        // Once the node is gone it has left the parent's set; a firing that
        // won the upgrade removes it when it has cancelled it.
        let mut spins = 0;
        while parent.__num_children() != 0 {
            spins += 1;
            assert!(spins < 1000, "the deadline child stayed registered");
            thread::yield_now();
        }
        cancel_parent.cancel();
    });
}

/// A parent's cancel takes a deadline child's timer (and disarms its weak
/// pointer under the child's lock) while the timer fires and the child's
/// last handle goes: once the parent marked the child DETACHED the child may
/// be freed, so the firing must already find the pointer gone.
#[test]
fn parent_cancel_races_deadline_fire_and_child_drop() {
    model(|| {
        let (parent, cancel_parent) = context::with_cancel(&context::background());
        let (ctx, cancel) = context::with_timeout(&parent, std::time::Duration::from_secs(3600));
        let runner = thread::spawn(|| {
            goro::time::__loom::run_due(far());
        });
        let dropper = thread::spawn(move || drop((ctx, cancel)));
        cancel_parent.cancel();
        runner.join().unwrap();
        dropper.join().unwrap();
        assert_eq!(parent.__num_children(), 0);
    });
}

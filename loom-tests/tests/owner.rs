//! The hand-off of a P between sysmon and its M (src/runtime/owner.rs):
//! whatever the interleaving, the P has exactly one owner at a time, and
//! exactly one side ends up holding it.

use goro::runtime::testing::{TestPollOwner, TestRunQueue};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;

/// Enters and leaves an owner-only section, checking nobody else is in it.
fn own(owners: &AtomicUsize) {
    assert_eq!(owners.fetch_add(1, SeqCst), 0, "two owners of one P");
    owners.fetch_sub(1, SeqCst);
}

#[test]
fn retake_races_owner_op_during_a_poll() {
    loom::model(|| {
        let p = Arc::new(TestPollOwner::new());
        let owners = Arc::new(AtomicUsize::new(0));
        let v = TestPollOwner::value(1, 1);
        p.begin_poll(v);
        let (p2, o2) = (p.clone(), owners.clone());
        let sysmon = thread::spawn(move || {
            let took = p2.try_retake(v);
            if took {
                own(&o2); // sysmon hands the P off: a new owner uses it
            }
            took
        });
        let did = p.owner_op(v, || own(&owners));
        let kept = p.end_poll(v);
        let retaken = sysmon.join().unwrap();
        assert_eq!(kept, !retaken, "exactly one side keeps the P");
        if did.is_none() {
            assert!(retaken, "an owner op was refused without a retake");
        }
    });
}

#[test]
fn retake_races_return_from_blocking_call() {
    loom::model(|| {
        let p = Arc::new(TestPollOwner::new());
        let owners = Arc::new(AtomicUsize::new(0));
        let v = TestPollOwner::value(2, 7);
        p.begin_poll(v);
        p.enter_syscall(v);
        let seen = p.load();
        let (p2, o2) = (p.clone(), owners.clone());
        let sysmon = thread::spawn(move || {
            let took = p2.try_retake(seen);
            if took {
                own(&o2);
            }
            took
        });
        let back = p.exit_syscall(v);
        if back {
            p.owner_op(v, || own(&owners))
                .expect("kept P refused an owner op");
            assert!(p.end_poll(v));
        } else {
            assert!(p.owner_op(v, || own(&owners)).is_none());
        }
        let retaken = sysmon.join().unwrap();
        assert_eq!(
            back, !retaken,
            "exactly one of: M kept the P, sysmon retook it"
        );
    });
}

#[test]
fn stale_observation_cannot_retake_a_later_poll() {
    loom::model(|| {
        let p = Arc::new(TestPollOwner::new());
        let v1 = TestPollOwner::value(3, 1);
        let v2 = TestPollOwner::value(3, 2);
        p.begin_poll(v1);
        let p2 = p.clone();
        let sysmon = thread::spawn(move || p2.try_retake(v1));
        let first = p.end_poll(v1);
        if first {
            p.begin_poll(v2);
            assert!(p.owner_op(v2, || ()).is_some() || !first);
        }
        let retaken = sysmon.join().unwrap();
        assert_eq!(first, !retaken);
        if first {
            assert!(p.end_poll(v2), "a retake of poll 1 took poll 2's P");
        }
    });
}

/// A waker swaps a G into its P's empty runnext without the ownership
/// handshake (`m::ready_put_local`) while sysmon retakes the P and a new
/// owner runs its queue: the G is taken exactly once, by the new owner,
/// by the waker's take-back (right after the swap or at the end of its
/// poll), or is still queued.
#[test]
fn runnext_swap_races_retake() {
    loom::model(|| {
        let q = Arc::new(TestRunQueue::new());
        let p = Arc::new(TestPollOwner::new());
        let v = TestPollOwner::value(4, 1);
        p.begin_poll(v);
        let (q2, p2) = (q.clone(), p.clone());
        let sysmon = thread::spawn(move || {
            if p2.try_retake(v) {
                // SAFETY: the retake made this thread the P's owner.
                unsafe { q2.get() }.map(|(id, _)| id)
            } else {
                None
            }
        });
        let (old, token) = q.swap_runnext(7);
        assert_eq!(old, None);
        let mut mine = None;
        if !p.is_current(v) {
            mine = q.take_back_runnext(token);
        } else if !p.end_poll(v) {
            mine = q.take_back_runnext(token);
        }
        let theirs = sysmon.join().unwrap();
        let left = q.drain();
        let n = usize::from(mine.is_some()) + usize::from(theirs.is_some()) + left.len();
        assert_eq!(n, 1, "G taken {n} times: {mine:?} {theirs:?} {left:?}");
    });
}

//! The hand-off of a P between sysmon, shutdown and its M
//! (src/runtime/owner.rs), driven through the real `PollOwner` by the
//! hidden hook `TestPollOwner`: whatever the interleaving, the P has
//! exactly one owner at a time, and exactly one side ends up holding it.

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
        assert!(p.enter_syscall(v));
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

/// Sysmon retakes the P of a G that ran long in one poll and hands it to
/// a new M, which starts polling on it; then the old M's G enters a
/// blocking call (`m::entersyscall`: `enter_syscall`, and on success the P
/// is the retaker's until `exit_syscall`). The old M must find the P gone
/// and stay off it (it runs the call without a P), whatever the order of
/// the retake, the new M's poll and the old M's calls; with a plain store
/// instead of the CAS the old M takes the P back and both use it.
#[test]
fn sysmon_retakes_then_old_m_enters_syscall() {
    loom::model(|| {
        let p = Arc::new(TestPollOwner::new());
        let owners = Arc::new(AtomicUsize::new(0));
        let v1 = TestPollOwner::value(1, 1);
        p.begin_poll(v1);
        let (p2, o2) = (p.clone(), owners.clone());
        // sysmon, then the M it hands the P to (one thread: the hand-off is
        // ordered by the retake CAS).
        let new_m = thread::spawn(move || {
            if !p2.try_retake(v1) {
                return false;
            }
            let v2 = TestPollOwner::value(2, 1);
            p2.begin_poll(v2);
            let did = p2.owner_op(v2, || own(&o2));
            let kept = p2.end_poll(v2);
            assert!(did.is_some() && kept, "the new owner lost its P");
            true
        });
        // The old M: its G hogged the poll, then calls `blocking`.
        let mut old_kept = false;
        if p.enter_syscall(v1) {
            if p.exit_syscall(v1) {
                // (sysmon may still retake the P from this long poll)
                let _ = p.owner_op(v1, || own(&owners));
                old_kept = p.end_poll(v1);
            }
        } else {
            // Lost before the call: the M never touches the word again.
            assert!(p.owner_op(v1, || own(&owners)).is_none());
        }
        let retaken = new_m.join().unwrap();
        assert!(!(old_kept && retaken), "two Ms kept one P");
        assert_eq!(p.load(), 0, "the word is left owned");
    });
}

/// Shutdown closes a P while its M returns from a blocking call (or, in
/// another order, while sysmon retakes it and hands it to a new M that
/// exits at once and closes it itself): the P ends closed, and the M does
/// not get it back.
#[test]
fn shutdown_close_races_exit_syscall_and_retake() {
    loom::model(|| {
        let p = Arc::new(TestPollOwner::new());
        let v = TestPollOwner::value(3, 1);
        p.begin_poll(v);
        assert!(p.enter_syscall(v));
        let seen = p.load();
        let p2 = p.clone();
        let sysmon = thread::spawn(move || {
            if p2.try_retake(seen) {
                // handed to an M that sees the shutdown and exits
                p2.close_owned();
                true
            } else {
                false
            }
        });
        let p3 = p.clone();
        let closer = thread::spawn(move || {
            while !p3.close(false) {
                loom::thread::yield_now();
            }
        });
        let back = p.exit_syscall(v);
        if back {
            // kept it: the poll goes on and ends (end_poll may fail if the
            // closer took it meanwhile), or the M exits between polls
            if p.end_poll(v) {
                p.close_owned();
            }
        }
        let retaken = sysmon.join().unwrap();
        closer.join().unwrap();
        assert!(!(back && retaken), "both the M and sysmon kept the P");
        assert!(p.is_closed(), "the P was not closed");
    });
}

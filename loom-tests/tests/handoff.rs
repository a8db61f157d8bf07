//! `goro::blocking`'s immediate hand-off of its P (src/runtime/m.rs,
//! `entersyscallblock`, and `Sched::retake_for_pwait`), driven through the
//! real `PollOwner` by the hidden hook `TestPollOwner`: an M entering a
//! blocking call takes its own P back from the syscall state by the CAS
//! sysmon's retake uses, while another M, waiting for a P, tries the same
//! on the word it saw; then the first M comes back from its call.

use goro::runtime::testing::TestPollOwner;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;

/// Enters and leaves an owner-only section, checking nobody else is in it.
fn own(owners: &AtomicUsize) {
    assert_eq!(owners.fetch_add(1, SeqCst), 0, "two owners of one P");
    owners.fetch_sub(1, SeqCst);
}

/// The interleavings of the two retakes and the return from the call:
/// exactly one retaker gets the P (and hands it off: one new owner), and
/// the returning M never gets it back once it was retaken.
#[test]
fn self_handoff_races_retake_for_a_waiting_m() {
    loom::model(|| {
        let p = Arc::new(TestPollOwner::new());
        let owners = Arc::new(AtomicUsize::new(0));
        let v = TestPollOwner::value(3, 1);
        p.begin_poll(v);
        assert!(p.enter_syscall(v));
        let in_call = p.load();
        let (p2, o2) = (p.clone(), owners.clone());
        let waiter = thread::spawn(move || {
            // `retake_for_pwait`: a poll value in the syscall state.
            let seen = p2.load();
            let took = seen == in_call && p2.try_retake(seen);
            if took {
                own(&o2);
            }
            took
        });
        // `entersyscallblock`: the P has work, hand it off.
        let mine = p.try_retake(in_call);
        if mine {
            own(&owners);
        }
        // `exitsyscall`.
        let back = p.exit_syscall(v);
        if back {
            own(&owners);
        }
        let theirs = waiter.join().unwrap();
        assert!(!back, "the M got back a P it had handed off");
        assert_eq!(
            usize::from(mine) + usize::from(theirs),
            1,
            "retaken {mine} by the M, {theirs} by the waiter"
        );
        assert_eq!(p.load(), 0, "the word is left owned");
    });
}

//! Who owns a P during a poll: the handshake between an M, sysmon's retake
//! and shutdown (Go's `retake`/`handoffp` against `entersyscall` and
//! `exitsyscall`, where Go CASes the P's status `_Prunning → _Psyscall →
//! _Pidle`).
//!
//! # Protocol
//! One atomic word, `pollgen`, so the handshake needs no store-load
//! ordering (and loom, which models SeqCst as AcqRel, checks it exactly):
//! - 0: nobody polls on the P. It is idle, or its owner M is between two
//!   polls (the owner then uses it without touching the word: sysmon and
//!   shutdown never take a P whose word is 0 from an M).
//! - `v` (odd, unique per M and poll): the owner M is polling a G.
//!   `begin_poll` stores it; `end_poll` CASes `v → 0`.
//! - `v | IN_SYSCALL`: the polled G is inside `blocking`, and the M does not
//!   touch the P (`enter_syscall` CASes `v → v | IN_SYSCALL`,
//!   `exit_syscall` CASes it back).
//! - `v | BUSY`: the owner is in the middle of a queue operation made from
//!   inside the poll (`owner_op` CASes `v → v | BUSY` and stores `v` after).
//!   Not a wake into an empty runnext: that is one atomic swap, safe
//!   whoever owns the P, followed by `is_current` (a load); a waker that
//!   finds it lost the P takes its G back if nobody took it (`m.rs`).
//! - `CLOSED`: terminal, set by shutdown (`close`, `close_owned`); no M
//!   owns the P again and no CAS above can succeed.
//!
//! sysmon retakes by CASing exactly the value it saw (`try_retake`, a poll
//! value or one with `IN_SYSCALL`, never with `BUSY`) to 0; so does an M
//! that hands off a P in the syscall state (its own, entering `blocking`,
//! or another M's, for an M waiting for a P: `m::entersyscallblock`,
//! `Sched::retake_for_pwait`), in sysmon's role; shutdown CASes it to
//! `CLOSED` instead. An M whose CAS then fails (`end_poll`,
//! `enter_syscall`, `exit_syscall`, `owner_op`) has lost the P and never
//! writes the word again during that poll.
//!
//! Every transition away from a value another party may also move is a CAS
//! from the exact expected value. Two writes are plain stores, because
//! nobody else can move the word at that moment: `begin_poll` (the word is
//! 0 and the P was handed to this M through the idle lock, `handoffp` or a
//! retake, none of which leaves it at anything else; debug builds check it)
//! and the end of `owner_op` (while `BUSY` is set every other CAS fails).
//! So at any time exactly one of the M, sysmon and shutdown owns the P.

use crate::loom::atomic::{AtomicU64, Ordering};

/// `pollgen` bit: the polling G is inside `blocking` (Go's _Psyscall).
pub(crate) const IN_SYSCALL: u64 = 2;
/// `pollgen` bit: the owner M is in the middle of a queue operation.
const BUSY: u64 = 4;
/// `pollgen` value: shut down (even, so never a poll value; no bit of
/// `IN_SYSCALL`, `BUSY` or a poll's low bit).
pub(crate) const CLOSED: u64 = !7;

/// The ownership word of one P.
#[derive(Debug, Default)]
pub(crate) struct PollOwner {
    /// Written by the owner M (begin/end/syscall/busy), by sysmon's retake
    /// CAS and by shutdown's close CAS.
    pollgen: AtomicU64,
}

impl PollOwner {
    pub(crate) fn new() -> Self {
        PollOwner {
            pollgen: AtomicU64::new(0),
        }
    }

    /// The value an M stores for poll number `seq` (odd, unique per M).
    pub(crate) fn value(mid: usize, seq: u64) -> u64 {
        ((((mid as u64) << 40) ^ seq) << 3) | 1
    }

    /// sysmon's observation (a poll value, 0, `CLOSED`, or a poll value
    /// with `IN_SYSCALL`); the transient `BUSY` bit is hidden.
    pub(crate) fn load(&self) -> u64 {
        // Acquire: pairs with the Release of the last transition.
        self.pollgen.load(Ordering::Acquire) & !BUSY
    }

    /// The owner starts poll `v`. The P was handed to this M with the word
    /// at 0 (see the module docs); debug builds count a violation in
    /// `owner_clashes`.
    #[inline]
    pub(crate) fn begin_poll(&self, v: u64) {
        #[cfg(debug_assertions)]
        {
            // Release: as below.
            let prev = self.pollgen.swap(v, Ordering::Release);
            if prev != 0 {
                clash();
            }
        }
        // Release: pairs with sysmon's Acquire load and retake CAS.
        #[cfg(not(debug_assertions))]
        self.pollgen.store(v, Ordering::Release);
    }

    /// The owner ends poll `v`; false if sysmon or shutdown took the P.
    #[inline]
    pub(crate) fn end_poll(&self, v: u64) -> bool {
        // AcqRel: Release hands the poll's queue effects to the next
        // observer; Acquire, on failure, sees the retake.
        self.pollgen
            .compare_exchange(v, 0, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The owner enters a blocking call during poll `v`: the P becomes
    /// retakeable. False if the P was already taken (a poll that ran long
    /// enough for sysmon to retake it): the M then holds no P.
    pub(crate) fn enter_syscall(&self, v: u64) -> bool {
        // AcqRel: Release hands the poll's queue effects to the retaker;
        // Acquire, on failure, sees the retake.
        self.pollgen
            .compare_exchange(v, v | IN_SYSCALL, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The owner is back from the blocking call; false if the P was retaken.
    pub(crate) fn exit_syscall(&self, v: u64) -> bool {
        // AcqRel: Acquire sees the last owner's effects if sysmon retook
        // and handed the P back around.
        self.pollgen
            .compare_exchange(v | IN_SYSCALL, v, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Whether poll `v` still owns the P (sysmon has not retaken it): the
    /// check after a runnext swap (`m::ready_put`). Acquire: pairs with
    /// sysmon's retake CAS.
    #[inline]
    pub(crate) fn is_current(&self, v: u64) -> bool {
        self.pollgen.load(Ordering::Acquire) == v
    }

    /// Runs `f` as the owner of the P during poll `v`, unless sysmon retook
    /// it (then `None`, and `f` does not run).
    #[inline]
    pub(crate) fn owner_op<R>(&self, v: u64, f: impl FnOnce() -> R) -> Option<R> {
        // Acquire: pairs with the Release of whoever stored `v` last.
        if self
            .pollgen
            .compare_exchange(v, v | BUSY, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        let r = f();
        // Release: the operation happens before sysmon's Acquire CAS that
        // may retake the P afterwards. A store: while BUSY is set, every
        // other party's CAS fails.
        self.pollgen.store(v, Ordering::Release);
        Some(r)
    }

    /// sysmon takes the P from the poll it saw as `v`. True if it now owns
    /// the P (and may hand it off).
    pub(crate) fn try_retake(&self, v: u64) -> bool {
        // AcqRel: Acquire sees the M's last queue operation; Release orders
        // the retake before the M's failing CAS.
        self.pollgen
            .compare_exchange(v, 0, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Shutdown takes the P from whoever holds it in a poll or a blocking
    /// call, or from the idle list (the caller holds the idle lock and the
    /// P is on it: word 0). Returns true once the word is `CLOSED` (by this
    /// call or an earlier one); false while the word is 0 and `idle` is
    /// false (an owner between polls: it closes the P itself with
    /// `close_owned`, or starts a poll that this can then take) or `BUSY`
    /// (an owner in the middle of a queue operation): the caller retries.
    pub(crate) fn close(&self, idle: bool) -> bool {
        // Acquire: the old owner's queue effects happen before the
        // closer's drain.
        let w = self.pollgen.load(Ordering::Acquire);
        if w == CLOSED {
            return true;
        }
        if w & BUSY != 0 || (w == 0 && !idle) {
            return false;
        }
        // AcqRel: as in `try_retake`.
        self.pollgen
            .compare_exchange(w, CLOSED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The owner of the P, between polls (word 0), closes it at shutdown:
    /// it never uses it again, and the shutdown drains it.
    pub(crate) fn close_owned(&self) {
        // AcqRel: Release hands the owner's queue effects to the closer's
        // Acquire load; a CAS so that a violation of "word 0 between polls"
        // shows in debug builds instead of being overwritten.
        let r = self
            .pollgen
            .compare_exchange(0, CLOSED, Ordering::AcqRel, Ordering::Acquire);
        if r.is_err_and(|w| w != CLOSED) {
            clash();
        }
    }

    /// Whether the P is shut down (no M owns it any more).
    pub(crate) fn is_closed(&self) -> bool {
        self.pollgen.load(Ordering::Acquire) == CLOSED
    }

    /// Debug builds: counts (`owner_clashes`) a P found with a non-zero
    /// word where only an unowned P may be (the idle list).
    #[inline]
    pub(crate) fn debug_check_unowned(&self) {
        #[cfg(debug_assertions)]
        if self.pollgen.load(Ordering::Relaxed) != 0 {
            clash();
        }
    }
}

/// Times a broken ownership invariant was detected (debug builds; always
/// 0 in release builds, which do not check).
static CLASHES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Records a broken ownership invariant (two Ms on one P).
#[cold]
pub(crate) fn clash() {
    CLASHES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// How many broken ownership invariants were detected in this process.
pub(crate) fn clashes() -> usize {
    CLASHES.load(std::sync::atomic::Ordering::Relaxed)
}

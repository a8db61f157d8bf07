//! Who owns a P during a poll: the handshake between an M and sysmon's
//! retake (Go's `retake`/`handoffp` against `exitsyscall`, where Go uses
//! the P's status CAS `_Psyscall → _Pidle`).
//!
//! # Protocol
//! One atomic word, `pollgen`, so the handshake needs no store-load
//! ordering (and loom, which models SeqCst as AcqRel, checks it exactly):
//! - 0 between polls. Before a poll the owner M stores a value unique to
//!   (M, poll) (`begin_poll`); after it, the M CASes it back to 0
//!   (`end_poll`). Inside `blocking` the value carries `IN_SYSCALL`
//!   (`enter_syscall` / `exit_syscall`), and the M does not touch the P.
//! - A queue operation the M makes on the P from inside a poll
//!   (`owner_op`) first CASes `v → v | BUSY` and stores `v` back after it.
//!   Not a wake into an empty runnext: that is one atomic swap, safe
//!   whoever owns the P, followed by `is_current` (a load); a waker that
//!   finds it lost the P takes its G back if nobody took it (`m.rs`).
//! - sysmon retakes by CASing exactly the value it saw (`try_retake`, never
//!   with `BUSY` set) to 0. An M whose CAS then fails has lost the P; a
//!   sysmon CAS that meets `BUSY` fails and is retried next round.
//!
//! Every transition is a CAS from the exact expected value, so at any time
//! exactly one of the M and sysmon owns the P.

use crate::loom::atomic::{AtomicU64, Ordering};

/// `pollgen` bit: the polling G is inside `blocking` (Go's _Psyscall).
pub(crate) const IN_SYSCALL: u64 = 2;
/// `pollgen` bit: the owner M is in the middle of a queue operation.
const BUSY: u64 = 4;

/// The ownership word of one P.
#[derive(Debug, Default)]
pub(crate) struct PollOwner {
    /// Written by the owner M (begin/end/syscall/busy) and by sysmon's
    /// retake CAS.
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

    /// sysmon's observation (a poll value, 0, or with `IN_SYSCALL`); the
    /// transient `BUSY` bit is hidden.
    pub(crate) fn load(&self) -> u64 {
        self.pollgen.load(Ordering::Acquire) & !BUSY
    }

    /// The owner starts poll `v`.
    pub(crate) fn begin_poll(&self, v: u64) {
        self.pollgen.store(v, Ordering::Release);
    }

    /// The owner ends poll `v`; false if sysmon retook the P.
    pub(crate) fn end_poll(&self, v: u64) -> bool {
        // AcqRel: Release hands the poll's queue effects to the next
        // observer; Acquire, on failure, sees sysmon's retake.
        self.pollgen
            .compare_exchange(v, 0, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The owner enters a blocking call during poll `v`: the P becomes
    /// retakeable.
    pub(crate) fn enter_syscall(&self, v: u64) {
        self.pollgen.store(v | IN_SYSCALL, Ordering::Release);
    }

    /// The owner is back from the blocking call; false if the P was retaken.
    pub(crate) fn exit_syscall(&self, v: u64) -> bool {
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
        // may retake the P afterwards.
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
}

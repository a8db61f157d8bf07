//! P: a processor, the right to run Gs (Go's `p` in runtime2.go).
//!
//! A P owns a local run queue and `runnext`, its scheduling tick, and (with
//! the timers) its timer heap. At any moment a P is idle (on the idle list),
//! owned by exactly one M (running, or in a blocking call), or dead (its id is
//! at or above `gomaxprocs`). Only the owning M touches the owner-only parts.

use super::runq::LocalQueue;
use crate::loom::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use crate::time::timers::Timers;

/// On the idle list.
pub(crate) const P_IDLE: u8 = 0;
/// Owned by an M that runs Gs.
pub(crate) const P_RUNNING: u8 = 1;

/// A processor.
pub(crate) struct P {
    /// Index in `allp`.
    pub(crate) id: usize,
    /// Local run queue + runnext.
    pub(crate) runq: LocalQueue,
    /// P_IDLE / P_RUNNING. Written by whoever moves the P between the idle
    /// list and an M, under the scheduler's idle lock.
    pub(crate) status: AtomicU8,
    /// Incremented on every schedule (Go's `schedtick`). Owner only.
    pub(crate) schedtick: AtomicU32,
    /// Consecutive runnext picks in the current time slice. Owner only.
    pub(crate) next_streak: AtomicU32,
    /// This P's timer heap (Go 1.14+ per-P timers). Its own lock.
    pub(crate) timers: Timers,
    /// Which poll of which M holds this P (sysmon's retake protocol; see
    /// `m.rs`): 0 between polls, `pollval` during one (bit 1 set while the
    /// G is inside `blocking`), `RETAKEN` once sysmon took the P away.
    /// Written by the owner M, and by sysmon's CAS to `RETAKEN`.
    pub(crate) pollgen: AtomicU64,
    /// Set by the owner M around a queue operation made from inside a poll,
    /// so sysmon never hands the P off in the middle of one (SeqCst, paired
    /// with sysmon's SeqCst CAS of `pollgen` then load of `busy`).
    pub(crate) busy: AtomicBool,
}

/// `P::pollgen` after sysmon retook the P.
pub(crate) const RETAKEN: u64 = u64::MAX;
/// `P::pollgen` bit: the polling G is inside `blocking` (Go's _Psyscall).
pub(crate) const IN_SYSCALL: u64 = 2;

impl P {
    pub(crate) fn new(id: usize) -> Self {
        P {
            id,
            runq: LocalQueue::new(),
            status: AtomicU8::new(P_IDLE),
            schedtick: AtomicU32::new(0),
            next_streak: AtomicU32::new(0),
            timers: Timers::new(),
            pollgen: AtomicU64::new(0),
            busy: AtomicBool::new(false),
        }
    }

    /// Owner-only tick bump; returns the new value.
    #[inline]
    pub(crate) fn tick(&self) -> u32 {
        let t = self.schedtick.load(Ordering::Relaxed).wrapping_add(1);
        self.schedtick.store(t, Ordering::Relaxed);
        t
    }
}

//! P: a processor, the right to run Gs (Go's `p` in runtime2.go).
//!
//! A P owns a local run queue and `runnext`, its scheduling tick, and (with
//! the timers) its timer heap. At any moment a P is idle (on the idle list),
//! owned by exactly one M (running, or in a blocking call), dead (its id is
//! at or above `gomaxprocs`), or closed by shutdown. Only the owning M
//! touches the owner-only parts.
//!
//! `yields` holds the Gs that called `gosched` on this P and have not been
//! queued again yet: the owner moves them behind its local queue once that
//! runs dry (`Sched::yields_to_local`), or to the global queue in one batch
//! (`Sched::flush_yields`, see `m::gosched_put`), instead of taking the
//! global lock once per yield. Ownership of a P moves only through the idle
//! lock, `handoffp`, the retake handshake or shutdown's close (`owner.rs`),
//! each of which orders the old owner's last access before the new owner's
//! first.
use super::g::GRef;
use super::owner::PollOwner;
use super::runq::LocalQueue;
use super::timers::Timers;
use crate::loom::UnsafeCell;
use crate::loom::atomic::{AtomicU8, AtomicU32, AtomicUsize, Ordering};

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
    /// Which poll of which M owns this P (sysmon's retake handshake).
    pub(crate) owner: PollOwner,
    /// Yielded Gs not queued again yet, oldest first. Owner only.
    yields: UnsafeCell<Vec<GRef>>,
    /// `yields.len()`, written by the owner (Relaxed: a hint for sysmon's
    /// retake and `handoffp`, like `runq.is_empty()`).
    nyield: AtomicUsize,
}

// `P` is Send by its fields. It is not Sync by them only because of
// `yields` (an `UnsafeCell`), which needs no lock: it is touched only by
// the P's owner (`push_yield`, `drain_yields` are `unsafe fn`s with that
// contract), and every change of owner orders the old owner's accesses
// before the new one's (module docs). Every other field is atomic or has
// its own lock.
// SAFETY: as above.
unsafe impl Sync for P {}

impl P {
    pub(crate) fn new(id: usize) -> Self {
        P {
            id,
            runq: LocalQueue::new(),
            status: AtomicU8::new(P_IDLE),
            schedtick: AtomicU32::new(0),
            next_streak: AtomicU32::new(0),
            timers: Timers::new(),
            owner: PollOwner::new(),
            yields: UnsafeCell::new(Vec::new()),
            nyield: AtomicUsize::new(0),
        }
    }

    /// True if the local queue, runnext or the yield buffer holds a G.
    #[inline]
    pub(crate) fn has_local_work(&self) -> bool {
        !self.runq.is_empty() || self.nyield.load(Ordering::Relaxed) > 0
    }

    /// Whether the yield buffer is non-empty (owner, or a hint for others).
    #[inline]
    pub(crate) fn has_yields(&self) -> bool {
        self.nyield.load(Ordering::Relaxed) > 0
    }

    /// Appends a yielded G to the buffer; returns the new length.
    ///
    /// # Safety
    /// The caller owns the P.
    #[inline]
    pub(crate) unsafe fn push_yield(&self, g: GRef) -> usize {
        // SAFETY: owner only (caller's contract).
        let n = self.yields.with_mut(|v| unsafe {
            (*v).push(g);
            (*v).len()
        });
        self.nyield.store(n, Ordering::Relaxed);
        n
    }

    /// Hands every buffered yielded G to `f`, oldest first, emptying the
    /// buffer (its capacity is kept).
    ///
    /// # Safety
    /// The caller owns the P.
    #[inline]
    pub(crate) unsafe fn drain_yields(&self, f: impl FnMut(GRef)) {
        if !self.has_yields() {
            return;
        }
        // SAFETY: owner only (caller's contract).
        self.yields
            .with_mut(|v| unsafe { (*v).drain(..).for_each(f) });
        self.nyield.store(0, Ordering::Relaxed);
    }

    /// Owner-only tick bump; returns the new value.
    #[inline]
    pub(crate) fn tick(&self) -> u32 {
        let t = self.schedtick.load(Ordering::Relaxed).wrapping_add(1);
        self.schedtick.store(t, Ordering::Relaxed);
        t
    }
}

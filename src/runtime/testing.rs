//! Hidden hooks for tests outside the crate (proptest models in `tests/`,
//! loom models in `loom-tests/`, integration tests): the scheduler's own
//! run-queue functions on a P of dummy Gs identified by their goid, the P
//! ownership word, an ownership-violation counter, and a fault injector
//! for thread creation. Not part of the public API.
//!
//! Every hook calls the function the scheduler itself calls (`runqput` is
//! `LocalQueue::put`, `runqget` is `m::runqget` with `execute`'s time-slice
//! reset, `runqsteal` is `LocalQueue::steal_from`), so the models check
//! the real code. Nothing here lets safe code break an invariant the
//! runtime relies on: the owner-only operations are `unsafe fn`s with the
//! runtime's own contract, and the fault injector only makes thread
//! creation report an error, which the runtime must handle anyway.

use super::Runtime;
use super::g::GRef;
pub use super::g::TestG;
use super::owner::PollOwner;
use super::p::P;
use super::runq::RUNQ_SIZE;
use super::sched::Sched;
use std::panic::Location;
use std::sync::{Arc, Weak};

/// The poll descriptor's waiter word, for loom-tests/tests/netpoll.rs.
pub use super::netpoll::TestWaiter;

/// A P's local run queue of dummy Gs, identified by number.
pub struct TestRunQueue {
    p: P,
    sched: Arc<Sched>,
}

/// Capacity of a local run queue (256; 4 under loom).
pub const TEST_RUNQ_SIZE: usize = RUNQ_SIZE as usize;

/// Runnext picks one time slice may chain (`m::RUNNEXT_BUDGET`).
pub const TEST_RUNNEXT_BUDGET: u32 = super::m::RUNNEXT_BUDGET;

impl Default for TestRunQueue {
    fn default() -> Self {
        Self::new()
    }
}

fn ids(gs: impl IntoIterator<Item = GRef>) -> Vec<u64> {
    gs.into_iter().map(|g| g.header().id).collect()
}

impl TestRunQueue {
    /// An empty queue (no M or thread is started).
    pub fn new() -> Self {
        TestRunQueue {
            p: P::new(0),
            sched: Sched::new_detached(),
        }
    }

    fn g(&self, id: u64) -> GRef {
        let (a, b) = GRef::new(async {}, self.sched.clone(), id, 0, Location::caller());
        drop(b);
        a
    }

    /// runqput (owner only). Returns the ids moved out by an overflow.
    ///
    /// # Safety
    /// Only one thread (the owner) may call `put`, `get` and `steal_from`.
    pub unsafe fn put(&self, id: u64, next: bool) -> Vec<u64> {
        // SAFETY: forwarded owner contract.
        ids(unsafe { self.p.runq.put(self.g(id), next) }.unwrap_or_default())
    }

    /// runqget as findRunnable calls it, then `execute`'s time-slice
    /// bookkeeping (owner only): `(id, from_runnext)`. A runnext chain
    /// longer than `TEST_RUNNEXT_BUDGET` sends runnext to the tail and
    /// returns the oldest G instead.
    ///
    /// # Safety
    /// As for `put`.
    pub unsafe fn get(&self) -> Option<(u64, bool)> {
        let (g, inherit) = super::m::runqget(&self.sched, &self.p)?;
        super::m::new_slice(&self.p, inherit);
        Some((g.header().id, inherit))
    }

    /// runqsteal from `victim` into this queue (this queue's owner only);
    /// returns the id to run, and leaves the rest in this queue (what does
    /// not fit goes to the global queue, returned last by `drain`).
    ///
    /// # Safety
    /// As for `put`, for this queue.
    pub unsafe fn steal_from(&self, victim: &TestRunQueue, steal_next: bool) -> Option<u64> {
        let spill = |over| self.sched.global_push_batch(over);
        // SAFETY: forwarded owner contract.
        unsafe { self.p.runq.steal_from(&victim.p.runq, steal_next, spill) }.map(|g| g.header().id)
    }

    /// Everything left, in run order (runnext first), then anything that
    /// went to this queue's global queue; the time slice ends too (the
    /// runnext chain count restarts).
    pub fn drain(&self) -> Vec<u64> {
        super::m::new_slice(&self.p, false);
        let mut out = ids(self.p.runq.drain());
        out.extend(ids(self.sched.global_drain()));
        out
    }

    /// Racy length.
    pub fn len(&self) -> usize {
        self.p.runq.len()
    }

    /// Racy emptiness.
    pub fn is_empty(&self) -> bool {
        self.p.runq.is_empty()
    }

    /// A waker's runnext swap (any thread, no ownership): G `id` becomes
    /// runnext. Returns the displaced id, and a token for
    /// `take_back_runnext`.
    pub fn swap_runnext(&self, id: u64) -> (Option<u64>, usize) {
        let g = self.g(id);
        let token = g.header() as *const _ as usize;
        (self.p.runq.swap_runnext(g).map(|g| g.header().id), token)
    }

    /// Takes the G of `token` back out of runnext if it is still there.
    pub fn take_back_runnext(&self, token: usize) -> Option<u64> {
        self.p
            .runq
            .take_back_runnext(token as *const _)
            .map(|g| g.header().id)
    }
}

/// The P ownership word (`owner.rs`), for loom models: each method is the
/// one an M, sysmon or shutdown calls.
#[derive(Default)]
pub struct TestPollOwner(PollOwner);

impl TestPollOwner {
    /// A P between polls.
    pub fn new() -> Self {
        TestPollOwner(PollOwner::new())
    }
    /// The word an M stores for its poll `seq`.
    pub fn value(mid: usize, seq: u64) -> u64 {
        PollOwner::value(mid, seq)
    }
    /// sysmon's observation.
    pub fn load(&self) -> u64 {
        self.0.load()
    }
    /// The M starts poll `v` (it was handed the P).
    pub fn begin_poll(&self, v: u64) {
        self.0.begin_poll(v)
    }
    /// The M ends poll `v`; false if the P was taken.
    pub fn end_poll(&self, v: u64) -> bool {
        self.0.end_poll(v)
    }
    /// The M enters a blocking call; false if the P was already taken.
    pub fn enter_syscall(&self, v: u64) -> bool {
        self.0.enter_syscall(v)
    }
    /// The M leaves it; false if the P was taken.
    pub fn exit_syscall(&self, v: u64) -> bool {
        self.0.exit_syscall(v)
    }
    /// Runs `f` as owner during poll `v`, unless the P was taken.
    pub fn owner_op<R>(&self, v: u64, f: impl FnOnce() -> R) -> Option<R> {
        self.0.owner_op(v, f)
    }
    /// sysmon retakes the P it saw as `v`.
    pub fn try_retake(&self, v: u64) -> bool {
        self.0.try_retake(v)
    }
    /// Whether poll `v` still owns the P.
    pub fn is_current(&self, v: u64) -> bool {
        self.0.is_current(v)
    }
    /// Shutdown's close (`idle`: the P is on the idle list); true once
    /// closed.
    pub fn close(&self, idle: bool) -> bool {
        self.0.close(idle)
    }
    /// The owner closes its P between polls (an M exiting at shutdown).
    pub fn close_owned(&self) {
        self.0.close_owned()
    }
    /// Whether the P is closed.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// How many times debug builds saw two Ms act as the owner of one P (a
/// poll begun on a P whose word was not 0, overlapping `runqput`s, an idle
/// P with a poll value) in this process. Always 0 in release builds.
pub fn owner_clashes() -> usize {
    super::owner::clashes()
}

/// Makes the next `n` OS threads that `rt` would start for an M fail to
/// start, as when the system's thread limit is reached (Go's `newm`
/// failing: `runtime: failed to create new OS thread`).
pub fn fail_thread_spawns(rt: &Runtime, n: usize) {
    rt.sched.inject_spawn_faults(n);
}

/// Tells whether a runtime's scheduler has been freed (nothing, not even
/// a G, a timer or a detached thread, still holds it).
pub struct SchedProbe(Weak<Sched>);

impl SchedProbe {
    /// A probe on `rt`'s scheduler.
    pub fn new(rt: &Runtime) -> Self {
        SchedProbe(Arc::downgrade(&rt.sched))
    }
    /// True once the scheduler has been freed.
    pub fn is_freed(&self) -> bool {
        self.0.strong_count() == 0
    }
}

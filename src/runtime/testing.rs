//! Hidden hooks for tests outside the crate (proptest models in `tests/`,
//! loom models in `loom-tests/`): a run queue over dummy Gs identified by
//! their goid. Not part of the public API.

use super::g::GRef;
use super::runq::{LocalQueue, RUNQ_SIZE};
use super::sched::Sched;
use std::panic::Location;
use std::sync::Arc;

// [netpoll] the waiter word, for loom-tests/tests/netpoll.rs.
pub use super::netpoll::TestWaiter;

/// A local run queue of dummy Gs, identified by number.
pub struct TestRunQueue {
    q: LocalQueue,
    sched: Arc<Sched>,
}

/// Capacity of a local run queue (256; 4 under loom).
pub const TEST_RUNQ_SIZE: usize = RUNQ_SIZE as usize;

impl Default for TestRunQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl TestRunQueue {
    /// An empty queue.
    pub fn new() -> Self {
        TestRunQueue {
            q: LocalQueue::new(),
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
    /// Only one thread (the owner) may call `put`, `get` and `steal_into`.
    pub unsafe fn put(&self, id: u64, next: bool) -> Vec<u64> {
        // SAFETY: forwarded owner contract.
        let over = unsafe { self.q.put(self.g(id), next) };
        over.unwrap_or_default()
            .iter()
            .map(|g| g.header().id)
            .collect()
    }

    /// runqget (owner only): `(id, from_runnext)`.
    ///
    /// # Safety
    /// As for `put`.
    pub unsafe fn get(&self) -> Option<(u64, bool)> {
        // SAFETY: forwarded owner contract.
        unsafe { self.q.get() }.map(|(g, n)| (g.header().id, n))
    }

    /// runqsteal from `victim` into this queue (this queue's owner only);
    /// returns the id to run, and leaves the rest in this queue.
    ///
    /// # Safety
    /// As for `put`, for this queue.
    pub unsafe fn steal_from(&self, victim: &TestRunQueue, steal_next: bool) -> Option<u64> {
        // SAFETY: forwarded owner contract.
        unsafe { self.q.steal_from(&victim.q, steal_next) }.map(|g| g.header().id)
    }

    /// Everything left, in run order (runnext first).
    pub fn drain(&self) -> Vec<u64> {
        self.q.drain().iter().map(|g| g.header().id).collect()
    }

    /// Racy length.
    pub fn len(&self) -> usize {
        self.q.len()
    }

    /// Racy emptiness.
    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    /// A waker's runnext swap (any thread, no ownership): G `id` becomes
    /// runnext. Returns the displaced id, and a token for
    /// `take_back_runnext`.
    pub fn swap_runnext(&self, id: u64) -> (Option<u64>, usize) {
        let g = self.g(id);
        let token = g.header() as *const _ as usize;
        (self.q.swap_runnext(g).map(|g| g.header().id), token)
    }

    /// Takes the G of `token` back out of runnext if it is still there.
    pub fn take_back_runnext(&self, token: usize) -> Option<u64> {
        self.q
            .take_back_runnext(token as *const _)
            .map(|g| g.header().id)
    }
}

/// The P ownership handshake between an M and sysmon (`owner.rs`), for
/// loom models.
#[derive(Default)]
pub struct TestPollOwner(super::owner::PollOwner);

impl TestPollOwner {
    /// A P between polls.
    pub fn new() -> Self {
        TestPollOwner(super::owner::PollOwner::new())
    }
    /// The word an M stores for its poll `seq`.
    pub fn value(mid: usize, seq: u64) -> u64 {
        super::owner::PollOwner::value(mid, seq)
    }
    /// sysmon's observation.
    pub fn load(&self) -> u64 {
        self.0.load()
    }
    /// The M starts poll `v`.
    pub fn begin_poll(&self, v: u64) {
        self.0.begin_poll(v)
    }
    /// The M ends poll `v`; false if the P was retaken.
    pub fn end_poll(&self, v: u64) -> bool {
        self.0.end_poll(v)
    }
    /// The M enters a blocking call.
    pub fn enter_syscall(&self, v: u64) {
        self.0.enter_syscall(v)
    }
    /// The M leaves it; false if the P was retaken.
    pub fn exit_syscall(&self, v: u64) -> bool {
        self.0.exit_syscall(v)
    }
    /// Runs `f` as owner during poll `v`, unless retaken.
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
}

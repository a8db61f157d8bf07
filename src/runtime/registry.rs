//! allgs: every live G of one runtime, for shutdown, dumps and deadlock
//! checks (Go's `allgs`).
//!
//! Sharded by goid (runs of `SHARD_RUN` consecutive goids per shard) so
//! that spawns and exits on different Ms rarely meet on one lock. Each
//! shard is a slab of `GRef`s under its own lock: the registry holds one
//! reference per live G, dropped when the G ends. Each shard also keeps
//! its count of live Gs, written under its lock with a plain load and
//! store (no read-modify-write), so `len` (Go's `NumGoroutine`, the
//! deadlock check's "some G is alive") costs a spawn or an exit no atomic
//! instruction of its own. Shutdown closes every
//! shard under its lock (tokio's `OwnedTasks` close), so a spawn racing
//! it either registers its G before (and shutdown cancels it) or is
//! refused (and cancels it itself).

use super::g::GRef;
use crate::loom::Mutex;
use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::util::CachePadded;

const SHARDS: usize = 16;
/// Consecutive goids share a shard in runs of this many: a spawner fills
/// one shard's slab (its lock and slots stay in the spawner's cache) while
/// the Ms running its earlier Gs remove them from another shard.
const SHARD_RUN: usize = 64;

#[derive(Default)]
struct Slab {
    slots: Vec<Option<GRef>>,
    free: Vec<usize>,
    /// Set by shutdown (`close_and_take_all`): no G is added again.
    closed: bool,
}

/// One shard: its slab and its count of live Gs.
struct Shard {
    slab: Mutex<Slab>,
    /// Live Gs in `slab`. Written only under `slab`'s lock; read without
    /// it by `Registry::len` (a snapshot).
    live: AtomicUsize,
}

/// All live Gs.
pub(crate) struct Registry {
    /// Each shard on its own cache lines: a spawner inserting into one shard
    /// does not invalidate the lock of the shard another M removes from.
    shards: Box<[CachePadded<Shard>]>,
}

impl Registry {
    pub(crate) fn new() -> Self {
        Registry {
            shards: (0..SHARDS)
                .map(|_| {
                    CachePadded(Shard {
                        slab: Mutex::new(Slab::default()),
                        live: AtomicUsize::new(0),
                    })
                })
                .collect(),
        }
    }

    /// Adds `g` (taking its reference); records the key in its header.
    /// `Err(g)` once shutdown closed the registry: the G must not run.
    pub(crate) fn insert(&self, g: GRef) -> Result<(), GRef> {
        let shard = (g.header().id as usize / SHARD_RUN) % SHARDS;
        let h = g.header() as *const super::g::Header;
        let sh = &self.shards[shard];
        let mut s = sh.slab.lock();
        if s.closed {
            return Err(g);
        }
        // Relaxed: under the shard's lock, the only writer.
        sh.live
            .store(sh.live.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        let idx = match s.free.pop() {
            Some(i) => {
                s.slots[i] = Some(g);
                i
            }
            None => {
                s.slots.push(Some(g));
                s.slots.len() - 1
            }
        };
        // SAFETY: h is alive: the slab holds a reference to it.
        let hdr = unsafe { &*h };
        hdr.reg_key.store(idx * SHARDS + shard, Ordering::Relaxed);
        Ok(())
    }

    /// Removes `g`, returning the registry's reference.
    pub(crate) fn remove(&self, g: &GRef) -> Option<GRef> {
        let key = g.header().reg_key.load(Ordering::Relaxed);
        if key == usize::MAX {
            return None;
        }
        let (idx, shard) = (key / SHARDS, key % SHARDS);
        let sh = &self.shards[shard];
        let mut s = sh.slab.lock();
        let taken = match s.slots.get_mut(idx) {
            Some(slot) if slot.as_ref().is_some_and(|x| x.ptr_eq(g)) => slot.take(),
            _ => None,
        };
        if taken.is_some() {
            s.free.push(idx);
            // Relaxed: under the shard's lock, the only writer.
            sh.live
                .store(sh.live.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
        }
        taken
    }

    /// How many Gs are live (Go's `NumGoroutine`): a snapshot of the
    /// shards' counts, read without their locks.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|sh| sh.live.load(Ordering::Relaxed))
            .sum()
    }

    /// Whether `f` holds for every live G; stops at the first that fails.
    /// No references are taken and nothing is sorted: one shard lock at a
    /// time (sysmon's deadlock check, which may scan many Gs).
    pub(crate) fn all(&self, mut f: impl FnMut(&super::g::Header) -> bool) -> bool {
        self.shards
            .iter()
            .all(|sh| sh.slab.lock().slots.iter().flatten().all(|g| f(g.header())))
    }

    /// New references to every live G, in goid order.
    pub(crate) fn snapshot(&self) -> Vec<GRef> {
        let mut all = Vec::new();
        for sh in self.shards.iter() {
            let s = sh.slab.lock();
            all.extend(s.slots.iter().flatten().map(GRef::clone_ref));
        }
        all.sort_by_key(|g| g.header().id);
        all
    }

    /// Closes the registry and takes every G out (shutdown). A shard is
    /// closed and emptied under its lock, so an `insert` either lands
    /// before (and its G is returned here) or fails.
    pub(crate) fn close_and_take_all(&self) -> Vec<GRef> {
        let mut all = Vec::new();
        for sh in self.shards.iter() {
            let mut s = sh.slab.lock();
            s.closed = true;
            all.extend(s.slots.drain(..).flatten());
            s.free.clear();
            sh.live.store(0, Ordering::Relaxed);
        }
        all.sort_by_key(|g| g.header().id);
        all
    }
}

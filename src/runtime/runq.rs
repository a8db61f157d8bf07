//! A P's local run queue: a fixed ring of `RUNQ_SIZE` slots plus `runnext`.
//!
//! Mirrors Go's `runqput`, `runqputslow`, `runqgrab`, `runqsteal` and the
//! two halves of `runqget` (`take_runnext`, `pop_head`; the policy between
//! them, inheritTime, is `m::runqget`) (proc.go). Single producer (the P's
//! owner M), many consumers (the owner and stealing Ms); debug builds
//! count overlapping producers (`owner::clash`).
//!
//! # Protocol
//! - `tail` is written only by the owner: it fills slot `tail % N` (Relaxed
//!   slot store) and then publishes with a Release store of `tail`.
//! - `head` is advanced by CAS by any consumer after it has read the slots it
//!   takes; the CAS is Release, and the owner's Acquire load of `head`
//!   before reusing a slot pairs with it, so a slot is never overwritten
//!   before its reader is done.
//! - Slots are `AtomicPtr`s holding an owned `GRef` (raw): a consumer that
//!   loses the `head` CAS discards what it read without touching the count.
//! - `runnext` is an atomic pointer: the owner swaps it; a thief may CAS it
//!   to null in its last steal round. A waker on the owner's M swaps into
//!   it without the ownership handshake (`swap_runnext`; see `m.rs`), so a
//!   waker that lost the P to sysmon mid-poll may swap into a P it no
//!   longer owns: every access to `runnext` is an atomic swap or CAS, so a
//!   G in it is taken exactly once whoever takes it, and only the ring
//!   (`tail`) is the owner's alone.
//!
//! When the ring is full the owner moves half of it, plus the new G, to the
//! global queue in one batch (`runqputslow`); a steal hands what does not
//! fit to its caller for the global queue too. No G is ever dropped or
//! leaked by the queue.

use super::g::{GRef, Header};
use crate::loom::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::ptr;

/// Slots in a local run queue (Go: 256). Tiny under loom so models reach
/// the overflow paths.
#[cfg(not(loom))]
pub(crate) const RUNQ_SIZE: u32 = 256;
#[cfg(loom)]
pub(crate) const RUNQ_SIZE: u32 = 4;

/// The local run queue of one P.
pub(crate) struct LocalQueue {
    /// Next slot to take. Advanced by CAS by the owner and by thieves.
    head: AtomicU32,
    /// Next slot to fill. Written only by the owner.
    tail: AtomicU32,
    /// The ring; slot `i % N` is owned by the queue for `head <= i < tail`.
    buf: Box<[AtomicPtr<Header>]>,
    /// A G to run next, ahead of the ring (Go's `runnext`). Owner (and a
    /// waker on the owner's M, `swap_runnext`) swaps; thieves CAS to null.
    runnext: AtomicPtr<Header>,
    /// Debug builds: set while the owner is inside `put`, so two Ms that
    /// both believe they own the P are seen (`owner::clash`) when their
    /// puts overlap. A detector, not part of the protocol: a std atomic,
    /// which loom does not explore.
    #[cfg(debug_assertions)]
    producing: std::sync::atomic::AtomicBool,
}

/// Debug builds: marks one `put` in progress; a second at the same time
/// means two producers on a single-producer ring.
#[cfg(debug_assertions)]
struct OneProducer<'a>(&'a std::sync::atomic::AtomicBool);

#[cfg(debug_assertions)]
impl<'a> OneProducer<'a> {
    fn enter(flag: &'a std::sync::atomic::AtomicBool) -> Self {
        if flag.swap(true, std::sync::atomic::Ordering::Relaxed) {
            super::owner::clash();
        }
        OneProducer(flag)
    }
}

#[cfg(debug_assertions)]
impl Drop for OneProducer<'_> {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// What `put` could not keep: half the ring plus the new G, for the global
/// queue, in order.
pub(crate) type Overflow = Vec<GRef>;

impl LocalQueue {
    pub(crate) fn new() -> Self {
        let buf = (0..RUNQ_SIZE)
            .map(|_| AtomicPtr::new(ptr::null_mut()))
            .collect();
        LocalQueue {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            buf,
            runnext: AtomicPtr::new(ptr::null_mut()),
            #[cfg(debug_assertions)]
            producing: std::sync::atomic::AtomicBool::new(false),
        }
    }

    #[inline]
    fn slot(&self, i: u32) -> &AtomicPtr<Header> {
        &self.buf[(i % RUNQ_SIZE) as usize]
    }

    /// Number of Gs in the ring plus runnext (racy, but never 0 while the
    /// queue holds a G throughout the call: see `is_empty`).
    pub(crate) fn len(&self) -> usize {
        loop {
            let h = self.head.load(Ordering::Acquire);
            let t = self.tail.load(Ordering::Acquire);
            let next = self.runnext.load(Ordering::Acquire);
            // Go's runqempty: a put with `next` swaps runnext and then
            // bumps tail; re-reading tail makes sure we did not see the
            // old runnext gone and the old tail both.
            if t == self.tail.load(Ordering::Acquire) {
                let n = t.wrapping_sub(h).min(RUNQ_SIZE) as usize;
                return n + usize::from(!next.is_null());
            }
        }
    }

    /// True if the ring and runnext are both empty (Go's `runqempty`).
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Go's `runqput`. Owner only. With `next`, `g` becomes runnext and the
    /// old runnext goes to the tail. Returns a batch for the global queue if
    /// the ring overflowed.
    ///
    /// # Safety
    /// Only the P's owner may call this.
    pub(crate) unsafe fn put(&self, g: GRef, next: bool) -> Option<Overflow> {
        #[cfg(debug_assertions)]
        let _one = OneProducer::enter(&self.producing);
        let mut g = g;
        if next {
            // AcqRel: Release publishes `g`'s state to a thief's Acquire
            // CAS/load; Acquire takes ownership of the old runnext.
            let old = self.runnext.swap(g.into_raw(), Ordering::AcqRel);
            if old.is_null() {
                return None;
            }
            // SAFETY: the slot owned one reference, now ours.
            g = unsafe { GRef::from_raw(old) };
        }
        loop {
            // Acquire: pairs with consumers' Release CAS of head.
            let h = self.head.load(Ordering::Acquire);
            let t = self.tail.load(Ordering::Relaxed);
            if t.wrapping_sub(h) < RUNQ_SIZE {
                self.slot(t).store(g.into_raw(), Ordering::Relaxed);
                // Release: publishes the slot to consumers' Acquire of tail.
                self.tail.store(t.wrapping_add(1), Ordering::Release);
                return None;
            }
            match self.put_slow(g, h, t) {
                Ok(batch) => return Some(batch),
                Err(back) => g = back,
            }
        }
    }

    /// Go's `runqputslow`: takes half the ring (oldest first) plus `g`.
    fn put_slow(&self, g: GRef, h: u32, t: u32) -> Result<Overflow, GRef> {
        let n = t.wrapping_sub(h) / 2;
        debug_assert_eq!(n, RUNQ_SIZE / 2);
        let mut raw = Vec::with_capacity(n as usize + 1);
        for i in 0..n {
            raw.push(self.slot(h.wrapping_add(i)).load(Ordering::Relaxed));
        }
        // Release: our slot reads happen before the owner reuses the slots.
        if self
            .head
            .compare_exchange(h, h.wrapping_add(n), Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            return Err(g);
        }
        // SAFETY: the CAS made us the owner of those slots' references.
        let mut batch: Overflow = raw
            .into_iter()
            .map(|p| unsafe { GRef::from_raw(p) })
            .collect();
        batch.push(g);
        Ok(batch)
    }

    /// The first half of `put(g, true)`, safe for any M (one atomic swap):
    /// `g` becomes runnext; returns the G it displaced, which only the
    /// owner may then put in the ring (`put(old, false)`). A waker that
    /// finds runnext empty needs nothing else (`m::ready_put`).
    pub(crate) fn swap_runnext(&self, g: GRef) -> Option<GRef> {
        // AcqRel: as in `put`.
        let old = self.runnext.swap(g.into_raw(), Ordering::AcqRel);
        // SAFETY: the slot owned one reference, now ours.
        (!old.is_null()).then(|| unsafe { GRef::from_raw(old) })
    }

    /// Takes `g` out of runnext if it is still there (a waker that swapped
    /// it in and then learned it had lost the P). Any M.
    pub(crate) fn take_back_runnext(&self, g: *const Header) -> Option<GRef> {
        // AcqRel: as in `take_runnext`.
        self.runnext
            .compare_exchange(
                g as *mut Header,
                ptr::null_mut(),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .ok()
            // SAFETY: the CAS took the slot's reference.
            .map(|p| unsafe { GRef::from_raw(p) })
    }

    /// Takes runnext (owner, or a thief in its last round).
    pub(crate) fn take_runnext(&self) -> Option<GRef> {
        let next = self.runnext.load(Ordering::Acquire);
        if next.is_null() {
            return None;
        }
        // AcqRel: Acquire pairs with the owner's Release swap that
        // published it; Release makes an observer that sees runnext empty
        // also see the ring writes made before (is_empty's re-check).
        match self.runnext.compare_exchange(
            next,
            ptr::null_mut(),
            Ordering::AcqRel,
            Ordering::Relaxed,
        ) {
            // SAFETY: we took the slot's reference.
            Ok(p) => Some(unsafe { GRef::from_raw(p) }),
            Err(_) => None,
        }
    }

    /// Takes the oldest G of the ring, skipping runnext.
    pub(crate) fn pop_head(&self) -> Option<GRef> {
        loop {
            let h = self.head.load(Ordering::Acquire);
            // Acquire: pairs with the owner's Release store of tail.
            let t = self.tail.load(Ordering::Acquire);
            if t == h {
                return None;
            }
            let p = self.slot(h).load(Ordering::Relaxed);
            if self
                .head
                .compare_exchange(h, h.wrapping_add(1), Ordering::Release, Ordering::Relaxed)
                .is_ok()
            {
                // SAFETY: the CAS gave us the slot's reference.
                return Some(unsafe { GRef::from_raw(p) });
            }
        }
    }

    /// Go's `runqgrab` + `runqsteal`: moves half (rounded up) of `victim`'s
    /// ring into this (the thief's own, empty-ish) queue and returns one G to
    /// run. With `steal_next`, an empty ring yields the victim's runnext.
    /// Should this queue have no room (findRunnable steals only when its
    /// local queue is empty, so it does), what overflows goes to `spill`
    /// (the global queue), as in `put`.
    ///
    /// # Safety
    /// Only this queue's owner may call this (it fills its own ring).
    pub(crate) unsafe fn steal_from(
        &self,
        victim: &LocalQueue,
        steal_next: bool,
        mut spill: impl FnMut(Overflow),
    ) -> Option<GRef> {
        // On the stack (at most half the ring): a steal allocates nothing.
        let mut grabbed = [std::ptr::null_mut::<Header>(); (RUNQ_SIZE / 2) as usize];
        let n = loop {
            let h = victim.head.load(Ordering::Acquire);
            let t = victim.tail.load(Ordering::Acquire);
            let n = t.wrapping_sub(h);
            let n = n - n / 2;
            if n == 0 {
                if steal_next {
                    return victim.take_runnext();
                }
                return None;
            }
            if n > RUNQ_SIZE / 2 {
                continue; // read an inconsistent h/t pair
            }
            for (i, g) in grabbed.iter_mut().take(n as usize).enumerate() {
                *g = victim
                    .slot(h.wrapping_add(i as u32))
                    .load(Ordering::Relaxed);
            }
            // Release: our slot reads happen before the victim reuses them.
            if victim
                .head
                .compare_exchange(h, h.wrapping_add(n), Ordering::Release, Ordering::Relaxed)
                .is_ok()
            {
                break n as usize;
            }
        };
        // The last one grabbed runs now (as before); the rest go to our ring.
        for &p in &grabbed[..n - 1] {
            // SAFETY: the CAS gave us these references; we are this queue's
            // owner.
            if let Some(batch) = unsafe { self.put(GRef::from_raw(p), false) } {
                spill(batch);
            }
        }
        // SAFETY: as above.
        Some(unsafe { GRef::from_raw(grabbed[n - 1]) })
    }

    /// Empties the queue in run order (runnext first). Owner only or with
    /// the P stopped.
    pub(crate) fn drain(&self) -> Vec<GRef> {
        let mut out = Vec::new();
        out.extend(self.take_runnext());
        while let Some(g) = self.pop_head() {
            out.push(g);
        }
        out
    }
}

impl Drop for LocalQueue {
    fn drop(&mut self) {
        drop(self.drain());
    }
}

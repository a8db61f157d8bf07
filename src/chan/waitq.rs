//! Sudogs and the wait queues of a channel (Go's `sudog` and `waitq`,
//! `runtime2.go` / `chan.go`: `enqueue`, `dequeue`, `dequeueSudoG`).
//!
//! A [`Sudog`] is one waiting channel operation. It lives *inside* the pinned
//! future (or select case) that waits, so parking allocates nothing. The
//! channel links it into its `recvq` or `sendq`, an intrusive doubly linked
//! list of raw pointers.
//!
//! # Protocol
//! - Every field except `state` is touched only under the lock of the one
//!   channel whose queue the sudog is (or is about to be) linked into, or by
//!   the owner while the sudog is not linked and not yet completed.
//! - The completer (a peer `chansend`/`chanrecv`/`closechan`, under the
//!   channel lock) dequeues the sudog, moves the value, takes the waker, and
//!   then stores `state` with `Release` as its very last access: from that
//!   moment the owner may free the sudog without taking the lock (it loads
//!   `state` with `Acquire`). The waker is woken after the lock is released.
//! - No waker is dropped under a channel lock (a waker's drop may run user
//!   code that uses the same channel): `prepare` and `set_waker` return the
//!   waker they replace (nothing is replaced when the stored one
//!   `will_wake` the new one, the common case), `take_waker` and `complete`
//!   hand theirs out, and the caller drops or wakes them after unlocking.
//!   An unlinked sudog may keep its last waker until it is dropped or
//!   prepared again.
//! - A select's sudogs all point at one shared done word ([`SELECT_UNDECIDED`]
//!   until a case wins). [`WaitQ::dequeue`] only returns a select sudog after
//!   winning the CAS on that word; a sudog whose select already won (or was
//!   cancelled) is unlinked and skipped, as Go's `dequeue` does.

use crate::loom::UnsafeCell;
use crate::loom::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::cell::Cell;
use std::marker::PhantomPinned;
use std::mem::MaybeUninit;
use std::ptr;
use std::task::Waker;

/// `Sudog::state`: still waiting (or not parked at all).
pub(crate) const WAITING: u8 = 0;
/// `Sudog::state`: completed with a value transfer (Go's `success == true`).
pub(crate) const DONE_OK: u8 = 1;
/// `Sudog::state`: woken by `close` (or, for a send, by the last receiver
/// going away); Go's `success == false`.
pub(crate) const DONE_CLOSED: u8 = 2;

/// A select's done word: no case has won yet.
pub(crate) const SELECT_UNDECIDED: usize = 0;
/// A select's done word: the select was dropped while parked.
pub(crate) const SELECT_CANCELLED: usize = usize::MAX;

/// One waiting send or receive, linked into a channel's queue.
pub(crate) struct Sudog<T> {
    /// Queue links. Written under the channel lock only.
    next: Cell<*const Sudog<T>>,
    prev: Cell<*const Sudog<T>>,
    /// Whether the sudog is linked. Written under the channel lock only.
    queued: Cell<bool>,
    /// The select's shared done word, or null for a plain send/recv. Written
    /// by the owner under the channel lock before linking.
    sel: Cell<*const AtomicUsize>,
    /// This sudog's case index in its select. Written like `sel`.
    sel_index: Cell<usize>,
    /// The waiting task. Written by the owner under the lock (park and
    /// re-register), taken by the completer under the lock.
    waker: UnsafeCell<Option<Waker>>,
    /// The value: a send's value to deliver, or the slot a receive gets.
    /// Owner writes before linking / reads after `state != WAITING`
    /// (Acquire); the completer accesses it under the lock while linked.
    elem: UnsafeCell<Option<T>>,
    /// `WAITING`, `DONE_OK` or `DONE_CLOSED`. Stored (Release) by the
    /// completer under the channel lock as its last access; loaded (Acquire)
    /// by the owner.
    state: AtomicU8,
    /// Linked sudogs must not move.
    _pin: PhantomPinned,
}

// SAFETY: all shared access to a sudog's cells follows the protocol above
// (channel lock, or the Release/Acquire hand-over on `state`); the value
// and waker it carries move between threads, hence `T: Send`.
unsafe impl<T: Send> Send for Sudog<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send> Sync for Sudog<T> {}

impl<T> Sudog<T> {
    /// A fresh, unlinked sudog.
    pub(crate) fn new() -> Self {
        Sudog {
            next: Cell::new(ptr::null()),
            prev: Cell::new(ptr::null()),
            queued: Cell::new(false),
            sel: Cell::new(ptr::null()),
            sel_index: Cell::new(0),
            waker: UnsafeCell::new(None),
            elem: UnsafeCell::new(None),
            state: AtomicU8::new(WAITING),
            _pin: PhantomPinned,
        }
    }

    /// The completion state (Acquire: pairs with the completer's Release in
    /// [`Sudog::complete`], so the value it wrote is visible).
    #[inline]
    pub(crate) fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    /// Prepares for linking: select word (or null), index and waker.
    /// Returns the waker it replaced, if any (a sudog reused after a
    /// completed wait may still hold its last one), for the caller to drop
    /// after unlocking.
    ///
    /// # Safety
    /// Caller holds the channel lock and the sudog is not linked.
    #[inline]
    #[must_use = "a replaced waker must be dropped after unlocking"]
    pub(crate) unsafe fn prepare(
        &self,
        sel: *const AtomicUsize,
        index: usize,
        waker: &Waker,
    ) -> Option<Waker> {
        self.sel.set(sel);
        self.sel_index.set(index);
        // Reset after a completed wait (the Stream reuses its sudog). Only
        // when needed: a fresh sudog is already WAITING.
        if self.state.load(Ordering::Relaxed) != WAITING {
            self.state.store(WAITING, Ordering::Relaxed);
        }
        // SAFETY: lock held / owner access per the protocol.
        self.waker
            .with_mut(|w| unsafe { replace_waker(&mut *w, waker) })
    }

    /// Registers `waker` unless the stored one already wakes the same task
    /// (the common case: nothing is cloned or dropped). Returns the waker
    /// it replaced, for the caller to drop after unlocking: dropping a
    /// waker can run user code, which must never run under the lock.
    ///
    /// # Safety
    /// Caller holds the lock of the channel the sudog is linked into.
    #[inline]
    #[must_use = "a replaced waker must be dropped after unlocking"]
    pub(crate) unsafe fn set_waker(&self, waker: &Waker) -> Option<Waker> {
        // SAFETY: lock held (protocol).
        self.waker
            .with_mut(|w| unsafe { replace_waker(&mut *w, waker) })
    }

    /// Moves the value out of `elem`.
    ///
    /// # Safety
    /// Caller holds the channel lock while the sudog is linked, or is the
    /// owner after observing `state != WAITING` (or before linking).
    #[inline]
    pub(crate) unsafe fn take_elem(&self) -> Option<T> {
        // SAFETY: exclusive access per the caller's contract.
        self.elem.with_mut(|e| unsafe { (*e).take() })
    }

    /// Stores `v` in `elem`.
    ///
    /// # Safety
    /// As for [`Sudog::take_elem`].
    #[inline]
    pub(crate) unsafe fn put_elem(&self, v: T) {
        // SAFETY: exclusive access per the caller's contract. The slot is
        // empty (every completed value is taken), so no `T` is dropped
        // here, possibly under the lock.
        self.elem.with_mut(|e| unsafe {
            debug_assert!((*e).is_none(), "sudog value slot already full");
            ptr::write(e, Some(v));
        });
    }

    /// Completes a dequeued sudog: takes its waker, then publishes `state`.
    /// The sudog must not be touched after this returns.
    ///
    /// # Safety
    /// Caller holds the channel lock and has just dequeued the sudog.
    #[inline]
    pub(crate) unsafe fn complete(this: *const Self, state: u8) -> Option<Waker> {
        // SAFETY: the sudog is alive until `state` is published (its owner
        // must lock the channel or see `state != WAITING` before freeing it).
        unsafe {
            let w = (*this).waker.with_mut(|w| (*w).take());
            // Release: pairs with the owner's Acquire in `state()`, making
            // the `elem` write (and the waker take) visible before it may free.
            (*this).state.store(state, Ordering::Release);
            w
        }
    }

    /// Takes the stored waker out (owner, after completion or unlinking),
    /// for the caller to drop or keep; it must not be dropped under a
    /// channel lock.
    ///
    /// # Safety
    /// Caller holds the lock, or owns the sudog after completion or
    /// unlinking.
    #[inline]
    #[must_use = "drop the waker after unlocking"]
    pub(crate) unsafe fn take_waker(&self) -> Option<Waker> {
        // SAFETY: exclusive access per the caller's contract.
        self.waker.with_mut(|w| unsafe { (*w).take() })
    }
}

/// A sudog built on the first park: the paths that complete at once (the
/// common case) never initialize it, keeping `send`/`recv` futures cheap to
/// create. Owner-only bookkeeping; once initialized it never moves (it lives
/// in a pinned future or a pinned box).
pub(crate) struct LazySudog<T> {
    slot: MaybeUninit<Sudog<T>>,
    /// Whether `slot` is initialized. Owner-only.
    init: bool,
}

impl<T> LazySudog<T> {
    #[inline]
    pub(crate) const fn new() -> Self {
        LazySudog {
            slot: MaybeUninit::uninit(),
            init: false,
        }
    }

    /// The sudog, building it if needed.
    #[inline]
    pub(crate) fn init(&mut self) -> &Sudog<T> {
        if !self.init {
            self.slot.write(Sudog::new());
            self.init = true;
        }
        // SAFETY: initialized just above or earlier.
        unsafe { self.slot.assume_init_ref() }
    }

    /// The sudog; it must have been built by [`LazySudog::init`] (every
    /// caller first checks the owner's `parked` flag, set after `init`).
    #[inline]
    pub(crate) fn get(&self) -> &Sudog<T> {
        assert!(self.init, "goro: sudog used before it was built");
        // SAFETY: checked just above.
        unsafe { self.slot.assume_init_ref() }
    }
}

impl<T> Drop for LazySudog<T> {
    fn drop(&mut self) {
        if self.init {
            // SAFETY: initialized, and dropped exactly once here; the owner
            // unlinked it (cancel_*) before its fields are dropped.
            unsafe { self.slot.assume_init_drop() };
        }
    }
}

/// Stores a clone of `waker` in `slot` unless the stored one `will_wake`
/// the same task; returns what it replaced (never drops it).
#[inline]
fn replace_waker(slot: &mut Option<Waker>, waker: &Waker) -> Option<Waker> {
    match slot {
        Some(w) if w.will_wake(waker) => None,
        _ => slot.replace(waker.clone()),
    }
}

/// A FIFO of parked sudogs (Go's `waitq`). Lives in the channel's locked state.
pub(crate) struct WaitQ<T> {
    first: *const Sudog<T>,
    last: *const Sudog<T>,
}

impl<T> WaitQ<T> {
    pub(crate) const fn new() -> Self {
        WaitQ {
            first: ptr::null(),
            last: ptr::null(),
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_null()
    }

    /// Links `sg` at the tail (Go's `enqueue`).
    ///
    /// # Safety
    /// Caller holds the channel lock; `sg` is pinned, unlinked, and stays
    /// alive until it is unlinked or completed.
    #[inline]
    pub(crate) unsafe fn enqueue(&mut self, sg: *const Sudog<T>) {
        // SAFETY: per the contract, `sg` and every linked sudog are alive.
        unsafe {
            (*sg).next.set(ptr::null());
            (*sg).prev.set(self.last);
            (*sg).queued.set(true);
            if self.last.is_null() {
                self.first = sg;
            } else {
                (*self.last).next.set(sg);
            }
        }
        self.last = sg;
    }

    /// Unlinks `sg` if it is linked (Go's `dequeueSudoG`).
    ///
    /// # Safety
    /// Caller holds the channel lock; `sg` is alive and, if linked, is
    /// linked in this queue.
    pub(crate) unsafe fn remove(&mut self, sg: *const Sudog<T>) {
        // SAFETY: per the contract.
        unsafe {
            if !(*sg).queued.get() {
                return;
            }
            let (prev, next) = ((*sg).prev.get(), (*sg).next.get());
            if prev.is_null() {
                self.first = next;
            } else {
                (*prev).next.set(next);
            }
            if next.is_null() {
                self.last = prev;
            } else {
                (*next).prev.set(prev);
            }
            (*sg).queued.set(false);
            (*sg).next.set(ptr::null());
            (*sg).prev.set(ptr::null());
        }
    }

    /// Unlinks and returns the first sudog that may be completed (Go's
    /// `dequeue`): a select sudog is returned only if this call won its
    /// select's done word; one whose select already finished is skipped.
    ///
    /// # Safety
    /// Caller holds the channel lock.
    #[inline]
    pub(crate) unsafe fn dequeue(&mut self) -> Option<*const Sudog<T>> {
        loop {
            let sg = self.first;
            if sg.is_null() {
                return None;
            }
            // SAFETY: linked sudogs are alive while the lock is held.
            unsafe {
                let next = (*sg).next.get();
                self.first = next;
                if next.is_null() {
                    self.last = ptr::null();
                } else {
                    (*next).prev.set(ptr::null());
                }
                (*sg).queued.set(false);
                (*sg).next.set(ptr::null());
                let sel = (*sg).sel.get();
                if !sel.is_null() {
                    let won = (*sg).sel_index.get() + 1;
                    // AcqRel: the winner's Release pairs with the select
                    // owner's Acquire load of the done word; Acquire orders
                    // us after a cancelling owner's CAS.
                    if (*sel)
                        .compare_exchange(
                            SELECT_UNDECIDED,
                            won,
                            Ordering::AcqRel,
                            Ordering::Acquire,
                        )
                        .is_err()
                    {
                        continue;
                    }
                }
            }
            return Some(sg);
        }
    }
}

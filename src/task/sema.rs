//! The sema wait queue: one FIFO of parked waiters per primitive, in our
//! own words after Go's `runtime/sema.go` (`semaRoot`, `semacquire1`,
//! `semrelease1` with `handoff`, the `sudog` queue).
//!
//! Every `goro::sync` primitive (WaitGroup, Mutex, RwMutex, Cond, Once,
//! OnceCell, Semaphore, singleflight, ErrGroup's limit) keeps its own
//! state word(s) and, behind one lock of its own (Go's `semaRoot.lock`), a
//! [`WaitList`] of [`Waiter`]s. A waiting future holds its `Waiter` inside
//! a [`Parked`]; a releaser *grants* the head (or every waiter) a non-zero
//! value that says what it was handed (a permit, ownership, "your turn",
//! "done"). That is Go's `semrelease1(handoff = true)`: what is released
//! goes straight to a waiter, so a newcomer cannot take it first unless
//! the primitive's own fast path lets it (Mutex's normal mode does).
//!
//! # Protocol
//! - A `Waiter`'s links, data and waker are touched only under the lock of
//!   the queue it is (or is about to be) linked into, or by its owner while
//!   it is not linked.
//! - A granter (holding the lock) unlinks the node, takes its waker and
//!   then stores the grant into `state` with `Release` as its *last* access
//!   to the node; it wakes the waker after unlocking. From that store on
//!   the owner may free the node without the lock (it loads `state` with
//!   `Acquire`).
//! - Under the lock, a node whose `state` is still `WAITING` and whose
//!   owner enqueued it is linked: only a grant or the owner's own removal
//!   unlinks a node.
//! - Wakers are never dropped or woken under the lock: grants push them
//!   into a [`Wakers`] declared before the lock guard, and removal returns
//!   the waker to the caller, who drops it after unlocking.
//!
//! # Cancel safety
//! A dropped [`Parked`] either was not granted yet (it unlinks itself under
//! the lock and tells the primitive, [`Queue::unlinked`], which may have to
//! wake the next waiter, as a semaphore whose head leaves does), or had
//! already been granted something it never used: it hands it on with
//! [`Queue::pass_on`] (a permit is released again, ownership is unlocked,
//! a signal is re-signalled). Nothing handed to a waiter is ever lost.
//!
//! # Why intrusive nodes are sound
//! The node lives inside the waiting future and is linked only through
//! `Pin<&mut Parked>`. `Parked` is `!Unpin`, so by `Pin`'s drop guarantee
//! its memory is not reused or invalidated before its `Drop` runs, and that
//! `Drop` unlinks it (or sees the grant) under the lock. What safe code can
//! do to a pinned future does not break this:
//! - `mem::forget` of the `Pin<&mut _>` forgets a reference, not the
//!   future; a future pinned on the stack with `pin!` cannot be moved or
//!   forgotten, only dropped when its scope ends (or unwinds).
//! - `mem::forget` of a `Pin<Box<_>>` (or an `Rc` cycle) leaks the heap
//!   block: it is never freed, so the queue's pointer stays valid forever.
//!   The waiter just never wakes; a grant handed to it is lost with it (the
//!   primitive stays sound but may then wait forever, as leaking a
//!   `MutexGuard` would). A leaked node may outlive the primitive: nodes
//!   link only to other nodes, never to the list head, and neither the list
//!   nor the primitive's `Drop` touches them.
//!
//! Lock order: a queue's lock is a leaf. Under it the primitives only
//! update their own atomics and this list: no other lock, no user code, no
//! waking.

use crate::loom::MutexGuard;
use crate::loom::UnsafeCell;
use crate::loom::atomic::{AtomicU32, Ordering};
use std::cell::Cell;
use std::future::Future;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::ptr;
use std::task::{Context, Poll, Waker};

/// `Waiter::state` before a grant. Grants are non-zero values chosen by
/// each primitive.
pub(crate) const WAITING: u32 = 0;

/// One parked waiter (Go's `sudog` on a `semaRoot`).
pub(crate) struct Waiter {
    /// Queue links. Written under the queue's lock only.
    next: Cell<*const Waiter>,
    prev: Cell<*const Waiter>,
    /// What the waiter asks for (a semaphore weight, a reader or writer
    /// mark). Written by the owner under the lock before linking; read by
    /// granters under the lock and by the owner.
    data: Cell<usize>,
    /// The owner's waker. Written by the owner under the lock (link,
    /// re-poll); taken by a granter or by the owner's removal, under the
    /// lock.
    waker: UnsafeCell<Option<Waker>>,
    /// `WAITING`, or the grant. Stored (Release) by the granter under the
    /// lock as its last access (pairs with the owner's Acquire load in
    /// [`Waiter::granted`]); reset (Relaxed) by the owner while unlinked.
    state: AtomicU32,
    /// A linked node must not move.
    _pin: PhantomPinned,
}

// SAFETY: every shared access follows the protocol of the module header
// (the queue's lock, or the Release/Acquire hand-over on `state`); the
// waker inside is `Send + Sync`.
unsafe impl Send for Waiter {}
// SAFETY: as for `Send`.
unsafe impl Sync for Waiter {}

impl Waiter {
    fn new() -> Self {
        Waiter {
            next: Cell::new(ptr::null()),
            prev: Cell::new(ptr::null()),
            data: Cell::new(0),
            waker: UnsafeCell::new(None),
            state: AtomicU32::new(WAITING),
            _pin: PhantomPinned,
        }
    }

    /// The grant, if any. Acquire: pairs with the granter's Release store,
    /// so whatever it published before granting is visible.
    #[inline]
    fn granted(&self) -> Option<u32> {
        let v = self.state.load(Ordering::Acquire);
        (v != WAITING).then_some(v)
    }

    /// Replaces the stored waker unless it already wakes the same task;
    /// returns the old one for the caller to drop after unlocking.
    ///
    /// # Safety
    /// The caller holds the lock of the queue the node is linked into.
    unsafe fn set_waker(&self, waker: &Waker) -> Option<Waker> {
        // SAFETY: exclusive access under the lock (protocol).
        self.waker.with_mut(|w| unsafe {
            match &*w {
                Some(old) if old.will_wake(waker) => None,
                _ => (*w).replace(waker.clone()),
            }
        })
    }
}

/// Wakers taken out under a lock, woken after it (never under it).
///
/// Declare it before the lock guard, so that even on an early return the
/// guard is dropped first.
#[derive(Default)]
pub(crate) struct Wakers {
    first: Option<Waker>,
    rest: Vec<Waker>,
}

impl Wakers {
    pub(crate) fn new() -> Self {
        Wakers::default()
    }

    /// Keeps `w` for [`wake_all`](Wakers::wake_all).
    pub(crate) fn push(&mut self, w: Option<Waker>) {
        let Some(w) = w else { return };
        if self.first.is_none() {
            self.first = Some(w);
        } else {
            self.rest.push(w);
        }
    }

    /// Wakes every kept waker (call it with no lock held).
    pub(crate) fn wake_all(self) {
        if let Some(w) = self.first {
            w.wake();
        }
        for w in self.rest {
            w.wake();
        }
    }
}

/// An intrusive FIFO of [`Waiter`]s. It lives behind its primitive's lock;
/// every method must be called with that lock held (which `&mut self`
/// through the guard ensures for the safe ones).
pub(crate) struct WaitList {
    head: *const Waiter,
    tail: *const Waiter,
    len: usize,
}

// SAFETY: the list only stores pointers to `Waiter`s (which are `Send +
// Sync`) and is only used under its primitive's lock.
unsafe impl Send for WaitList {}

impl Default for WaitList {
    fn default() -> Self {
        Self::new()
    }
}

impl WaitList {
    pub(crate) const fn new() -> Self {
        WaitList {
            head: ptr::null(),
            tail: ptr::null(),
            len: 0,
        }
    }

    /// Number of linked waiters.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Links `node` at the tail (or the head when `front`).
    ///
    /// # Safety
    /// `node` is alive, pinned and not linked, and stays alive until it is
    /// granted or removed (its owner's `Drop` removes it under the lock).
    unsafe fn link(&mut self, node: *const Waiter, front: bool) {
        // SAFETY: every linked node is alive (this function's contract);
        // links change only under the lock the caller holds.
        unsafe {
            if self.head.is_null() {
                (*node).prev.set(ptr::null());
                (*node).next.set(ptr::null());
                self.head = node;
                self.tail = node;
            } else if front {
                (*node).prev.set(ptr::null());
                (*node).next.set(self.head);
                (*self.head).prev.set(node);
                self.head = node;
            } else {
                (*node).next.set(ptr::null());
                (*node).prev.set(self.tail);
                (*self.tail).next.set(node);
                self.tail = node;
            }
        }
        self.len += 1;
    }

    /// Unlinks `node`; returns whether it was the head.
    ///
    /// # Safety
    /// `node` is linked into this list.
    unsafe fn unlink(&mut self, node: *const Waiter) -> bool {
        // SAFETY: `node` and its neighbours are linked, hence alive.
        unsafe {
            let prev = (*node).prev.get();
            let next = (*node).next.get();
            if prev.is_null() {
                self.head = next;
            } else {
                (*prev).next.set(next);
            }
            if next.is_null() {
                self.tail = prev;
            } else {
                (*next).prev.set(prev);
            }
            (*node).prev.set(ptr::null());
            (*node).next.set(ptr::null());
            self.len -= 1;
            prev.is_null()
        }
    }

    /// The head waiter's data (its request), if any.
    pub(crate) fn front_data(&self) -> Option<usize> {
        // SAFETY: a linked node is alive (`link`'s contract).
        (!self.head.is_null()).then(|| unsafe { (*self.head).data.get() })
    }

    /// Unlinks the head and grants it `value` (non-zero); its waker goes to
    /// `wakers`. False if the list was empty.
    pub(crate) fn grant_front(&mut self, value: u32, wakers: &mut Wakers) -> bool {
        debug_assert_ne!(value, WAITING);
        let node = self.head;
        if node.is_null() {
            return false;
        }
        // SAFETY: the head is linked, hence alive until the grant below;
        // `state` is stored last, after which the node is not touched.
        unsafe {
            self.unlink(node);
            wakers.push((*node).waker.with_mut(|w| (*w).take()));
            // Release: pairs with the owner's Acquire in `granted`.
            (*node).state.store(value, Ordering::Release);
        }
        true
    }

    /// Grants every waiter `value`, in FIFO order; returns how many.
    pub(crate) fn grant_all(&mut self, value: u32, wakers: &mut Wakers) -> usize {
        let mut n = 0;
        while self.grant_front(value, wakers) {
            n += 1;
        }
        n
    }
}

/// What a primitive tells [`Parked`] about its queue.
pub(crate) trait Queue {
    /// The state behind the primitive's lock (it contains the list).
    type Locked;
    /// Takes the primitive's lock.
    fn lock(&self) -> MutexGuard<'_, Self::Locked>;
    /// The list inside the locked state that holds waiters asking for
    /// `data` (a primitive may keep several lists, e.g. readers and
    /// writers).
    fn list(locked: &mut Self::Locked, data: usize) -> &mut WaitList;
    /// A waiter with request `data` left the queue without a grant (its
    /// future was dropped); `was_front` says whether it was the head.
    /// Called under the lock; wakers to wake go to `wakers`.
    fn unlinked(
        &self,
        locked: &mut Self::Locked,
        data: usize,
        was_front: bool,
        wakers: &mut Wakers,
    ) {
        let _ = (locked, data, was_front, wakers);
    }
    /// A waiter with request `data` was granted `value` but dropped before
    /// using it: hand it on. Called without the lock.
    fn pass_on(&self, value: u32, data: usize);
}

/// A waiter parked on a [`Queue`]: Go's `semacquire` after enqueueing.
///
/// Made idle by [`Parked::new`]; [`Parked::enqueue`] links it (under the
/// primitive's lock, after the primitive decided to wait); awaiting it
/// yields the grant. Dropping it while queued is cancel safe (see the
/// module header). It can be enqueued again once it has yielded a grant.
pub(crate) struct Parked<'a, Q: Queue> {
    q: &'a Q,
    node: Waiter,
    /// Linked, or granted and not yet polled. Owner-only.
    queued: bool,
    /// Called each time the future returns `Pending` (the caller records
    /// the G's wait reason there).
    on_park: fn(),
}

impl<Q: Queue> std::fmt::Debug for Parked<'_, Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parked")
            .field("queued", &self.queued)
            .finish_non_exhaustive()
    }
}

impl<'a, Q: Queue> Parked<'a, Q> {
    /// An idle waiter on `q`; `on_park` runs whenever it returns `Pending`.
    pub(crate) fn new(q: &'a Q, on_park: fn()) -> Self {
        Parked {
            q,
            node: Waiter::new(),
            queued: false,
            on_park,
        }
    }

    /// Whether the waiter is linked or holds an unread grant.
    #[inline]
    pub(crate) fn is_queued(&self) -> bool {
        self.queued
    }

    /// Runs the `on_park` hook (for a caller that returns `Pending` right
    /// after [`enqueue`](Parked::enqueue)).
    #[inline]
    pub(crate) fn on_park(&self) {
        (self.on_park)();
    }

    /// Links the waiter with request `data` at the tail (head if `front`),
    /// storing `waker` (or none until the first poll).
    ///
    /// # Safety
    /// `locked` is the state behind `self`'s queue's lock, which the caller
    /// holds.
    pub(crate) unsafe fn enqueue(
        self: Pin<&mut Self>,
        locked: &mut Q::Locked,
        data: usize,
        front: bool,
        waker: Option<&Waker>,
    ) {
        // SAFETY: nothing is moved out of the pinned future.
        let this = unsafe { self.get_unchecked_mut() };
        assert!(!this.queued, "sema: waiter enqueued twice");
        let node = &this.node;
        // Relaxed: the node is not linked, only its owner sees it.
        node.state.store(WAITING, Ordering::Relaxed);
        node.data.set(data);
        // SAFETY: not linked yet: owner access under the lock.
        let old = node
            .waker
            .with_mut(|w| unsafe { std::mem::replace(&mut *w, waker.cloned()) });
        debug_assert!(old.is_none());
        // SAFETY: the node is pinned (`self` is), not linked, and `Drop`
        // unlinks it under this lock unless it was granted first.
        unsafe { Q::list(locked, data).link(node, front) };
        this.queued = true;
    }
}

impl<Q: Queue> Future for Parked<'_, Q> {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        // SAFETY: nothing is moved out of the pinned future.
        let this = unsafe { self.get_unchecked_mut() };
        assert!(this.queued, "sema: waiter polled while not queued");
        if let Some(v) = this.node.granted() {
            this.queued = false;
            return Poll::Ready(v);
        }
        let locked = this.q.lock();
        if let Some(v) = this.node.granted() {
            drop(locked);
            this.queued = false;
            return Poll::Ready(v);
        }
        // SAFETY: the lock is held and the node is not granted, so linked.
        let old = unsafe { this.node.set_waker(cx.waker()) };
        drop(locked);
        drop(old);
        (this.on_park)();
        Poll::Pending
    }
}

impl<Q: Queue> Drop for Parked<'_, Q> {
    fn drop(&mut self) {
        if !self.queued {
            return;
        }
        self.queued = false;
        let data = self.node.data.get();
        if let Some(v) = self.node.granted() {
            self.q.pass_on(v, data);
            return;
        }
        let mut wakers = Wakers::new();
        let mut locked = self.q.lock();
        if let Some(v) = self.node.granted() {
            drop(locked);
            self.q.pass_on(v, data);
            return;
        }
        let list = Q::list(&mut locked, data);
        // SAFETY: lock held and not granted: the node is linked here.
        let was_front = unsafe { list.unlink(&self.node) };
        // SAFETY: unlinked under the lock: only the owner sees it now.
        let w = self.node.waker.with_mut(|w| unsafe { (*w).take() });
        self.q.unlinked(&mut locked, data, was_front, &mut wakers);
        drop(locked);
        drop(w);
        wakers.wake_all();
    }
}

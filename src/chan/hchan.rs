//! The channel itself (Go's `hchan`) and its algorithms: `chansend`,
//! `chanrecv`, `closechan`, `full`, `empty`, `send`/`recv` (direct hand-off)
//! from Go's `src/runtime/chan.go`, plus the future-side halves of a parked
//! operation (park, re-poll, cancel).
//!
//! # Invariants
//! - One lock (`lock`, a raw mutex so selectgo can hold several in address
//!   order) guards `state` and the ring buffer `buf`. A single send or
//!   receive takes it with randomised back-off, then short sleeps, under
//!   contention (`lock_op`, see `RawMutex::lock_backoff`); selectgo takes
//!   it plainly (`lock`).
//! - At most one of `recvq`/`sendq` is non-empty, except for one select
//!   parked with a send and a receive case on the same unbuffered channel.
//!   A buffered channel with items has no parked receivers; one with room has
//!   no parked senders.
//! - `qcount` and `flags` mirror the locked state for the lock-free
//!   `full()`/`empty()` checks; they are written only under the lock.
//!   `qcount` is stored with every change; `flags` by `unlock` (`publish`).
//!   A buffer-only send or receive (`send_to_buf`, `recv_from_buf`)
//!   changes no queue, so it releases the raw lock without publishing.
//! - `returned` holds values handed to a receiver that was then dropped and
//!   which found no other receiver and no room in the buffer; receivers take
//!   them before the buffer. It is empty (and unallocated) in normal use.
//!
//! # Fast paths
//! The common blocking and non-blocking operations on a buffered channel
//! (room or a value, nothing parked, open) are inlined into the caller:
//! lock, one ring-buffer step, unlock (`poll_send`, `poll_recv`,
//! `send_unlock`, `recv_unlock`, through `send_buf_unlock` and
//! `recv_buf_unlock`). Everything else in chansend's and chanrecv's order
//! (`try_send_locked`, `try_recv_locked`) and parking run out of
//! line, under the same lock: no path takes the lock twice.
//!
//! # Deadlock safety
//! A channel lock is never held while waking a task, dropping a waker,
//! dropping a value or calling any other user code (`RawMutex`'s rule: a
//! waker's drop may use this very channel, and the lock is not
//! re-entrant): completed wakers are woken, replaced or taken wakers and
//! values are dropped, after the unlock. Nor is another lock taken under
//! it, except in selectgo, which takes several channel locks in address
//! order only.

use super::waitq::{DONE_CLOSED, DONE_OK, LazySudog, Sudog, WAITING, WaitQ};
use crate::loom::RawMutex;
use crate::loom::UnsafeCell;
use crate::loom::atomic::{AtomicUsize, Ordering};
use std::collections::VecDeque;
use std::mem::MaybeUninit;
use std::task::Waker;

/// `flags`: the channel is closed.
const CLOSED: usize = 1;
/// `flags`: every receiver is gone; sends fail.
const RX_GONE: usize = 2;
/// `flags`: `sendq` is non-empty.
const SENDQ: usize = 4;
/// `flags`: `recvq` is non-empty.
const RECVQ: usize = 8;
/// `flags`: `returned` is non-empty.
const RETURNED: usize = 16;

/// The locked part of a channel. `repr(C)`, the fields every buffered send
/// or receive writes first (see `HChan`).
#[repr(C)]
pub(crate) struct State<T> {
    /// Next slot to write / read in `buf`.
    sendx: usize,
    recvx: usize,
    /// Number of values in `buf`.
    qcount: usize,
    /// CLOSED | RX_GONE, plus the last published queue bits.
    flags: usize,
    pub(crate) recvq: WaitQ<T>,
    pub(crate) sendq: WaitQ<T>,
    /// Values given back by dropped receivers (see the module invariants).
    returned: Returned<T>,
}

/// The `returned` list: boxed, so the rare case costs a channel one word
/// instead of a `VecDeque`'s four.
#[allow(clippy::box_collection)]
struct Returned<T>(Option<Box<VecDeque<T>>>);

impl<T> Returned<T> {
    #[inline]
    fn pop_front(&mut self) -> Option<T> {
        self.0.as_mut()?.pop_front()
    }
    fn push_back(&mut self, v: T) {
        self.0.get_or_insert_with(Default::default).push_back(v);
    }
    #[inline]
    fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|q| q.is_empty())
    }
    fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |q| q.len())
    }
    fn take(&mut self) -> VecDeque<T> {
        self.0.take().map_or_else(VecDeque::new, |q| *q)
    }
}

/// A channel (Go's `hchan`): 128 bytes for any `T` (checked by a test), so
/// with its `Arc` header a channel is one 144-byte allocation (the
/// parked-G memory benchmark counts it in every parked G). Not
/// over-aligned on purpose: an alignment above 16 sends every `make(chan)`
/// through the allocator's slow aligned path and wastes up to the
/// alignment per channel; on the channel benchmarks, cache padding bought
/// nothing that noise could not hide.
///
/// `repr(C)`, in this order: what every send or receive that neither parks
/// nor wakes writes (the lock, the `qcount` mirror, then in `state`
/// `sendx`, `recvx`, `qcount`) takes the first 48 bytes (checked by a
/// test): at most two cache lines move per operation under contention
/// (the default layout spread those fields over 100 bytes, up to three
/// lines); the rest is read-mostly. It measured faster on the contended
/// channel and select benchmarks.
#[repr(C)]
pub(crate) struct HChan<T> {
    /// Guards `state` and `buf`.
    lock: RawMutex,
    /// Mirror of `state.flags`, written (Release) under the lock only; read
    /// lock-free (Acquire) by `full`/`empty`/`is_closed`.
    flags: AtomicUsize,
    /// Mirror of `state.qcount`, written (Release) under the lock only.
    qcount: AtomicUsize,
    state: UnsafeCell<State<T>>,
    /// The ring of `cap` slots (its length is the capacity).
    buf: Box<[UnsafeCell<MaybeUninit<T>>]>,
    /// Live `Sender`s / `Receiver`s. Incremented on clone (Relaxed),
    /// decremented on drop (AcqRel: the last one sees every other's work).
    pub(crate) senders: AtomicUsize,
    pub(crate) receivers: AtomicUsize,
    /// Under loom, selectgo's lock order uses this creation-order id instead
    /// of the address, so every model run is deterministic.
    #[cfg(loom)]
    id: usize,
}

// SAFETY: the state and buffer are only accessed under `lock`; values of
// type T move between threads, hence `T: Send`.
unsafe impl<T: Send> Send for HChan<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send> Sync for HChan<T> {}

/// The outcome of a send attempted under the lock.
pub(crate) enum SendTry<T> {
    /// Delivered or buffered; wake this task (a receiver) after unlocking.
    Sent(Option<Waker>),
    /// Closed (or no receivers left): the value comes back.
    Closed(T),
    /// Would block: the value comes back.
    Full(T),
}

/// The outcome of a receive attempted under the lock.
pub(crate) enum RecvTry<T> {
    /// Got a value; wake this task (a sender) after unlocking.
    Got(T, Option<Waker>),
    /// Closed and drained.
    Closed,
    /// Would block.
    Empty,
}

/// Go's `makechan` limit on a channel buffer, in bytes (`maxAlloc` on
/// 64-bit Linux: the heap's address space). Rust's own limit, `isize::MAX`,
/// is higher; neither is reachable by a real allocation, which is tried
/// first (see `make_buf`).
const MAX_BUF_BYTES: usize = 1 << 48;

/// The ring of `cap` uninitialized slots, or Go's `makechan: size out of
/// range` panic if it cannot be had: a byte size over Go's limit (or
/// overflowing), or an allocation that fails (tried fallibly, so it
/// panics instead of aborting the process). A zero-sized `T` allocates
/// nothing whatever `cap` is, and no slot is visited.
#[track_caller]
fn make_buf<T>(cap: usize) -> Box<[UnsafeCell<MaybeUninit<T>>]> {
    let bytes = std::mem::size_of::<T>().checked_mul(cap);
    if bytes.is_none_or(|b| b > MAX_BUF_BYTES) {
        panic!("makechan: size out of range");
    }
    let mut v: Vec<UnsafeCell<MaybeUninit<T>>> = Vec::new();
    if v.try_reserve_exact(cap).is_err() {
        panic!("makechan: size out of range");
    }
    #[cfg(not(loom))]
    // SAFETY: the capacity is `cap` (reserved above), and an
    // `UnsafeCell<MaybeUninit<T>>` (std's, `repr(transparent)` in
    // `crate::loom`) is valid uninitialized, so the slots need no writes.
    unsafe {
        v.set_len(cap)
    };
    #[cfg(loom)]
    v.extend((0..cap).map(|_| UnsafeCell::new(MaybeUninit::uninit())));
    v.into_boxed_slice()
}

impl<T> HChan<T> {
    /// `make(chan T, cap)`. Panics `makechan: size out of range` if the
    /// buffer cannot be allocated.
    #[track_caller]
    pub(crate) fn new(cap: usize) -> Self {
        HChan {
            lock: RawMutex::new(),
            flags: AtomicUsize::new(0),
            qcount: AtomicUsize::new(0),
            state: UnsafeCell::new(State {
                sendx: 0,
                recvx: 0,
                qcount: 0,
                recvq: WaitQ::new(),
                sendq: WaitQ::new(),
                returned: Returned(None),
                flags: 0,
            }),
            buf: make_buf(cap),
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
            #[cfg(loom)]
            id: {
                // Not a model operation: a plain std counter.
                static NEXT: std::sync::atomic::AtomicUsize =
                    std::sync::atomic::AtomicUsize::new(1);
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            },
        }
    }

    /// The key selectgo sorts (and identifies) channels by: the address,
    /// or under loom a deterministic creation-order id. Never 0.
    #[inline]
    pub(crate) fn lock_key(&self) -> usize {
        #[cfg(not(loom))]
        return self as *const Self as usize;
        #[cfg(loom)]
        return self.id;
    }

    #[inline]
    pub(crate) fn cap(&self) -> usize {
        self.buf.len()
    }

    /// Takes the channel lock.
    #[inline]
    pub(crate) fn lock(&self) {
        self.lock.lock();
    }

    /// Select's pass 0 is about to check this channel lock-free and then
    /// lock it (see `RawMutex::prefetch_for_lock`).
    #[inline(always)]
    pub(crate) fn prefetch_for_lock(&self) {
        self.lock.prefetch_for_lock();
    }

    /// Takes the channel lock for a single channel operation (with
    /// back-off under contention; see `RawMutex::lock_backoff`).
    #[inline]
    pub(crate) fn lock_op(&self) {
        self.lock.lock_backoff();
    }

    /// Publishes the mirrors and releases the lock.
    ///
    /// # Safety
    /// Caller holds the lock.
    #[inline]
    pub(crate) unsafe fn unlock(&self) {
        // SAFETY: lock held.
        unsafe {
            self.publish();
            self.lock.unlock();
        }
    }

    /// The locked state.
    ///
    /// # Safety
    /// Caller holds the lock and keeps no other reference from `st` alive.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn st(&self) -> &mut State<T> {
        // SAFETY: the lock gives exclusive access (caller's contract).
        self.state.with_mut(|s| unsafe { &mut *s })
    }

    /// Stores the queue bits of `flags` if they changed.
    ///
    /// # Safety
    /// Caller holds the lock.
    #[inline]
    unsafe fn publish(&self) {
        // SAFETY: lock held.
        let st = unsafe { self.st() };
        let mut f = st.flags & (CLOSED | RX_GONE);
        if !st.sendq.is_empty() {
            f |= SENDQ;
        }
        if !st.recvq.is_empty() {
            f |= RECVQ;
        }
        if !st.returned.is_empty() {
            f |= RETURNED;
        }
        if f != st.flags {
            st.flags = f;
            // Release: pairs with the Acquire loads in full/empty/is_closed.
            self.flags.store(f, Ordering::Release);
        }
    }

    #[inline]
    fn set_qcount(&self, st: &mut State<T>, n: usize) {
        st.qcount = n;
        // Release: pairs with the Acquire load in `empty`/`full`/`len`.
        self.qcount.store(n, Ordering::Release);
    }

    /// Whether `close` has been called (lock-free).
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.flags.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Number of values waiting to be received (lock-free snapshot).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        let n = self.qcount.load(Ordering::Acquire);
        if self.flags.load(Ordering::Acquire) & RETURNED != 0 {
            self.lock();
            // SAFETY: lock held.
            let n = unsafe { self.st().qcount + self.st().returned.len() };
            // SAFETY: lock held.
            unsafe { self.unlock() };
            return n;
        }
        n
    }

    /// Go's `full`: a send would block (no parked receiver / no room).
    #[inline]
    fn full(&self) -> bool {
        if self.cap() == 0 {
            return self.flags.load(Ordering::Acquire) & RECVQ == 0;
        }
        self.qcount.load(Ordering::Acquire) >= self.cap()
    }

    /// Go's `empty`: a receive would block (no parked sender / no value).
    #[inline]
    fn empty(&self) -> bool {
        let f = self.flags.load(Ordering::Acquire);
        if f & RETURNED != 0 {
            return false;
        }
        if self.cap() == 0 {
            return f & SENDQ == 0;
        }
        self.qcount.load(Ordering::Acquire) == 0
    }

    #[inline]
    fn buf_write(&self, i: usize, v: T) {
        // SAFETY: lock held by every caller; slot `i` is free.
        self.buf[i].with_mut(|p| unsafe { (*p).write(v) });
    }

    #[inline]
    fn buf_read(&self, i: usize) -> T {
        // SAFETY: lock held by every caller; slot `i` holds a value.
        self.buf[i].with_mut(|p| unsafe { (*p).assume_init_read() })
    }

    /// The lock-free early return of a non-blocking send (Go's chansend with
    /// `block == false`: not closed and full means it would block).
    #[inline]
    pub(crate) fn send_would_block(&self) -> bool {
        self.flags.load(Ordering::Acquire) & (CLOSED | RX_GONE) == 0 && self.full()
    }

    /// The lock-free early return of a non-blocking receive: `Some(closed)`
    /// when it can answer without the lock. Order matters (Go's chanrecv):
    /// empty, then closed, then empty again.
    #[inline]
    pub(crate) fn recv_fast_fail(&self) -> Option<bool> {
        if !self.empty() {
            return None;
        }
        if !self.is_closed() {
            return Some(false);
        }
        if self.empty() { Some(true) } else { None }
    }

    /// chansend's locked order: closed, a parked receiver (Go's
    /// send/sendDirect), room in the buffer, else full. Inlined into its
    /// callers: select's pass 1 (`try_complete`) and the out-of-line halves
    /// of the single operations (`send_locked`, `send_unlock_slow`).
    ///
    /// # Safety
    /// Caller holds the lock.
    #[inline(always)]
    pub(crate) unsafe fn try_send_locked(&self, v: T) -> SendTry<T> {
        // SAFETY: lock held.
        let st = unsafe { self.st() };
        if st.flags & (CLOSED | RX_GONE) != 0 {
            return SendTry::Closed(v);
        }
        // SAFETY: lock held; a dequeued sudog stays alive until completed.
        if let Some(sg) = unsafe { st.recvq.dequeue() } {
            // Go's send/sendDirect: the buffer is empty, hand over directly.
            // SAFETY: as above.
            return SendTry::Sent(unsafe {
                (*sg).put_elem(v);
                Sudog::complete(sg, DONE_OK)
            });
        }
        if st.qcount < self.cap() {
            self.buf_push(st, v);
            return SendTry::Sent(None);
        }
        SendTry::Full(v)
    }

    /// A send that does not park, from the lock on: the common case
    /// (`send_to_buf`) inline, chansend's full order out of line; releases
    /// the lock. A returned waker (a receiver) is woken by the caller,
    /// after the unlock. Used by `try_send` and select's pass 0.
    ///
    /// # Safety
    /// Caller holds the lock.
    #[inline(always)]
    pub(crate) unsafe fn send_unlock(&self, v: T) -> SendTry<T> {
        // SAFETY: lock held (caller's contract); each branch releases it.
        unsafe {
            match self.send_buf_unlock(v) {
                Ok(()) => SendTry::Sent(None),
                Err(v) => self.send_unlock_slow(v),
            }
        }
    }

    /// chansend's common case (`send_to_buf`), from the lock on: appends
    /// `v` and releases the lock, or hands `v` back with the lock still
    /// held for the full order.
    ///
    /// # Safety
    /// Caller holds the lock.
    #[inline(always)]
    unsafe fn send_buf_unlock(&self, v: T) -> Result<(), T> {
        // SAFETY: lock held.
        let st = unsafe { self.st() };
        if !self.send_to_buf(st) {
            return Err(v);
        }
        self.buf_push(st, v);
        // SAFETY: lock held. No queue changed, so the `flags` mirror is
        // current and `unlock`'s publish would store nothing.
        unsafe { self.lock.unlock() };
        Ok(())
    }

    /// `send_unlock` past its fast path.
    ///
    /// # Safety
    /// Caller holds the lock.
    #[inline(never)]
    unsafe fn send_unlock_slow(&self, v: T) -> SendTry<T> {
        // SAFETY: lock held; released once.
        unsafe {
            let r = self.try_send_locked(v);
            self.unlock();
            r
        }
    }

    /// A receive that does not park, from the lock on: the common case
    /// (`recv_from_buf`) inline, chanrecv's full order out of line;
    /// releases the lock. A returned waker (a sender) is woken by the
    /// caller, after the unlock. Used by `try_recv` and select's pass 0.
    ///
    /// # Safety
    /// Caller holds the lock.
    #[inline(always)]
    pub(crate) unsafe fn recv_unlock(&self) -> RecvTry<T> {
        // SAFETY: lock held (caller's contract); each branch releases it.
        unsafe {
            match self.recv_buf_unlock() {
                Some(v) => RecvTry::Got(v, None),
                None => self.recv_unlock_slow(),
            }
        }
    }

    /// chanrecv's common case (`recv_from_buf`), from the lock on: takes
    /// the head and releases the lock, or returns `None` with the lock
    /// still held for the full order.
    ///
    /// # Safety
    /// Caller holds the lock.
    #[inline(always)]
    unsafe fn recv_buf_unlock(&self) -> Option<T> {
        // SAFETY: lock held.
        let st = unsafe { self.st() };
        if !Self::recv_from_buf(st) {
            return None;
        }
        let v = self.buf_pop(st);
        // SAFETY: lock held. No queue changed (see `send_buf_unlock`).
        unsafe { self.lock.unlock() };
        Some(v)
    }

    /// `recv_unlock` past its fast path.
    ///
    /// # Safety
    /// Caller holds the lock.
    #[inline(never)]
    unsafe fn recv_unlock_slow(&self) -> RecvTry<T> {
        // SAFETY: lock held; released once.
        unsafe {
            let r = self.try_recv_locked();
            self.unlock();
            r
        }
    }

    /// chansend's common case: room in the buffer, open, and no parked
    /// receiver (then the buffer is where chansend's full order would put
    /// the value too).
    #[inline(always)]
    fn send_to_buf(&self, st: &State<T>) -> bool {
        st.qcount < self.cap() && st.flags & (CLOSED | RX_GONE) == 0 && st.recvq.is_empty()
    }

    /// chanrecv's common case: values in the buffer and nothing parked or
    /// given back (then the buffer's head is what chanrecv's full order
    /// would take too).
    #[inline(always)]
    fn recv_from_buf(st: &State<T>) -> bool {
        st.qcount > 0 && st.sendq.is_empty() && st.returned.is_empty()
    }

    /// Appends `v` at `sendx` (the caller checked there is room).
    #[inline(always)]
    fn buf_push(&self, st: &mut State<T>, v: T) {
        self.buf_write(st.sendx, v);
        st.sendx += 1;
        if st.sendx == self.cap() {
            st.sendx = 0;
        }
        let n = st.qcount + 1;
        self.set_qcount(st, n);
    }

    /// Takes the value at `recvx` (the caller checked there is one).
    #[inline(always)]
    fn buf_pop(&self, st: &mut State<T>) -> T {
        let v = self.buf_read(st.recvx);
        st.recvx += 1;
        if st.recvx == self.cap() {
            st.recvx = 0;
        }
        let n = st.qcount - 1;
        self.set_qcount(st, n);
        v
    }

    /// chanrecv's locked order: a given-back value, a parked sender (Go's
    /// `recv`), the buffer, else closed or empty. Inlined into its callers,
    /// as `try_send_locked`.
    ///
    /// # Safety
    /// Caller holds the lock.
    #[inline(always)]
    pub(crate) unsafe fn try_recv_locked(&self) -> RecvTry<T> {
        // SAFETY: lock held.
        let st = unsafe { self.st() };
        if let Some(v) = st.returned.pop_front() {
            return RecvTry::Got(v, None);
        }
        if st.flags & CLOSED == 0 {
            // SAFETY: lock held.
            if let Some(sg) = unsafe { st.sendq.dequeue() } {
                // SAFETY: a dequeued sudog is alive until completed.
                let sv = unsafe { (*sg).take_elem() }.expect("parked sender without a value");
                let v = if self.cap() == 0 {
                    sv
                } else {
                    // Full buffer: take the head, the sender's value goes to
                    // the tail (the slot just freed).
                    let v = self.buf_read(st.recvx);
                    self.buf_write(st.recvx, sv);
                    st.recvx += 1;
                    if st.recvx == self.cap() {
                        st.recvx = 0;
                    }
                    st.sendx = st.recvx;
                    v
                };
                // SAFETY: dequeued under the lock.
                return RecvTry::Got(v, unsafe { Sudog::complete(sg, DONE_OK) });
            }
        }
        if st.qcount > 0 {
            return RecvTry::Got(self.buf_pop(st), None);
        }
        if st.flags & CLOSED != 0 {
            RecvTry::Closed
        } else {
            RecvTry::Empty
        }
    }

    /// Puts back a value that was handed to a receiver which was then
    /// dropped: to another parked receiver, else the buffer's head, else the
    /// `returned` list. Returns the receiver to wake.
    ///
    /// # Safety
    /// Caller holds the lock.
    pub(crate) unsafe fn give_back_locked(&self, v: T) -> Option<Waker> {
        // SAFETY: lock held.
        let st = unsafe { self.st() };
        // SAFETY: lock held; dequeued sudogs are alive until completed.
        if let Some(sg) = unsafe { st.recvq.dequeue() } {
            // SAFETY: as above.
            return unsafe {
                (*sg).put_elem(v);
                Sudog::complete(sg, DONE_OK)
            };
        }
        if st.qcount < self.cap() && st.returned.is_empty() {
            st.recvx = if st.recvx == 0 {
                self.cap() - 1
            } else {
                st.recvx - 1
            };
            self.buf_write(st.recvx, v);
            let n = st.qcount + 1;
            self.set_qcount(st, n);
        } else {
            st.returned.push_back(v);
        }
        None
    }

    /// Go's `closechan`. Panics `close of closed channel` unless `quiet`.
    #[track_caller]
    pub(crate) fn close(&self, quiet: bool) {
        self.lock();
        // SAFETY: lock held.
        let st = unsafe { self.st() };
        if st.flags & CLOSED != 0 {
            // SAFETY: lock held.
            unsafe { self.unlock() };
            if quiet {
                return;
            }
            panic!("close of closed channel");
        }
        st.flags |= CLOSED;
        // Release: pairs with the Acquire loads of the lock-free paths.
        self.flags.store(st.flags, Ordering::Release);
        let mut wakers = Vec::new();
        // SAFETY: lock held.
        unsafe {
            while let Some(sg) = st.recvq.dequeue() {
                wakers.extend(Sudog::complete(sg, DONE_CLOSED));
            }
            while let Some(sg) = st.sendq.dequeue() {
                wakers.extend(Sudog::complete(sg, DONE_CLOSED));
            }
            self.unlock();
        }
        for w in wakers {
            w.wake();
        }
    }

    /// The last receiver is gone: every send fails from now on, parked
    /// senders are woken with their value, buffered values are dropped.
    pub(crate) fn receivers_gone(&self) {
        self.lock();
        // SAFETY: lock held.
        let st = unsafe { self.st() };
        st.flags |= RX_GONE;
        // Release: pairs with the Acquire loads of the lock-free paths.
        self.flags.store(st.flags, Ordering::Release);
        let mut wakers = Vec::new();
        let mut dropped = st.returned.take();
        // SAFETY: lock held.
        unsafe {
            while let Some(sg) = st.sendq.dequeue() {
                wakers.extend(Sudog::complete(sg, DONE_CLOSED));
            }
            if let RecvTry::Got(v, _) = self.drain_buf_locked() {
                dropped.push_back(v);
                while let RecvTry::Got(v, _) = self.drain_buf_locked() {
                    dropped.push_back(v);
                }
            }
            self.unlock();
        }
        drop(dropped);
        for w in wakers {
            w.wake();
        }
    }

    /// Pops one buffered value (no sender involvement).
    ///
    /// # Safety
    /// Caller holds the lock.
    unsafe fn drain_buf_locked(&self) -> RecvTry<T> {
        // SAFETY: lock held.
        let st = unsafe { self.st() };
        if st.qcount == 0 {
            return RecvTry::Empty;
        }
        RecvTry::Got(self.buf_pop(st), None)
    }

    // ---- non-blocking operations -------------------------------------

    /// chansend with `block == false`.
    #[inline]
    pub(crate) fn try_send(&self, v: T) -> SendTry<T> {
        if self.send_would_block() {
            return SendTry::Full(v);
        }
        self.lock_op();
        // SAFETY: lock held; `send_unlock` releases it.
        let r = unsafe { self.send_unlock(v) };
        if let SendTry::Sent(Some(w)) = r {
            w.wake();
            return SendTry::Sent(None);
        }
        r
    }

    /// chanrecv with `block == false`.
    #[inline]
    pub(crate) fn try_recv(&self) -> RecvTry<T> {
        match self.recv_fast_fail() {
            Some(true) => return RecvTry::Closed,
            Some(false) => return RecvTry::Empty,
            None => {}
        }
        self.lock_op();
        // SAFETY: lock held; `recv_unlock` releases it.
        let r = unsafe { self.recv_unlock() };
        if let RecvTry::Got(v, Some(w)) = r {
            w.wake();
            return RecvTry::Got(v, None);
        }
        r
    }
}

impl<T> Drop for HChan<T> {
    fn drop(&mut self) {
        // No sudog of a live operation can be linked: every operation
        // borrows a handle. The buffered values are dropped without the
        // lock (no user code under it): `&mut self` already excludes every
        // other access, which is all the lock would add.
        // SAFETY: exclusive access through `&mut self` stands in for the
        // lock that `drain_buf_locked` asks for.
        while let RecvTry::Got(v, _) = unsafe { self.drain_buf_locked() } {
            drop(v);
        }
    }
}

// ---- blocking operations: the future-side halves ------------------------

/// A receive in progress: the sudog it parks with, and whether it is parked.
pub(crate) struct RecvOp<T> {
    pub(crate) sudog: LazySudog<T>,
    /// Owner-only: the sudog was linked (and not yet observed complete).
    pub(crate) parked: bool,
}

/// A send in progress: the sudog it parks with (holding the value while
/// parked), and whether it is parked.
pub(crate) struct SendOp<T> {
    pub(crate) sudog: LazySudog<T>,
    /// Owner-only: the sudog was linked (and not yet observed complete).
    pub(crate) parked: bool,
}

impl<T> RecvOp<T> {
    pub(crate) fn new() -> Self {
        RecvOp {
            sudog: LazySudog::new(),
            parked: false,
        }
    }
}

impl<T> SendOp<T> {
    pub(crate) fn new() -> Self {
        SendOp {
            sudog: LazySudog::new(),
            parked: false,
        }
    }
}

/// The result of a completed parked operation, read by its owner.
#[inline]
fn finish_recv<T>(op: &mut RecvOp<T>, state: u8) -> Option<T> {
    op.parked = false;
    // SAFETY: `state != WAITING` was observed with Acquire (or under the
    // lock, now released): the completer is done with the sudog, and no
    // lock is held, so the waker may be dropped here.
    unsafe {
        drop(op.sudog.get().take_waker());
        if state == DONE_OK {
            op.sudog.get().take_elem()
        } else {
            None
        }
    }
}

impl<T> HChan<T> {
    /// chanrecv with `block == true`, as a poll: park on the first call,
    /// then wait for the completer.
    ///
    /// Only the common case is inline (not parked; a value in the buffer,
    /// nothing parked or given back): lock, take the head, unlock. The
    /// rest of chanrecv's order runs out of line in `recv_locked`, still
    /// under the same lock, so no path locks twice.
    #[inline(always)]
    pub(crate) fn poll_recv(
        &self,
        op: &mut RecvOp<T>,
        waker: &Waker,
    ) -> std::task::Poll<Option<T>> {
        if op.parked {
            return self.poll_recv_parked(op, waker);
        }
        self.lock_op();
        // SAFETY: lock held; released by either branch.
        unsafe {
            match self.recv_buf_unlock() {
                Some(v) => std::task::Poll::Ready(Some(v)),
                None => self.recv_locked(op, waker),
            }
        }
    }

    /// `poll_recv` past its fast path, with the lock held: complete, or
    /// park. Unlocks.
    ///
    /// # Safety
    /// Caller holds the lock; `op` is not parked.
    #[inline(never)]
    unsafe fn recv_locked(&self, op: &mut RecvOp<T>, waker: &Waker) -> std::task::Poll<Option<T>> {
        use std::task::Poll;
        // SAFETY: lock held (caller's contract).
        match unsafe { self.try_recv_locked() } {
            RecvTry::Got(v, w) => {
                // SAFETY: lock held.
                unsafe { self.unlock() };
                if let Some(w) = w {
                    w.wake();
                }
                Poll::Ready(Some(v))
            }
            RecvTry::Closed => {
                // SAFETY: lock held.
                unsafe { self.unlock() };
                Poll::Ready(None)
            }
            // SAFETY: lock held; the sudog is pinned inside the future,
            // whose Drop unlinks it (cancel_recv).
            RecvTry::Empty => unsafe {
                let sg = op.sudog.init();
                let stale = sg.prepare(std::ptr::null(), 0, waker);
                self.st().recvq.enqueue(sg);
                op.parked = true;
                self.unlock();
                drop(stale);
                crate::runtime::set_wait_reason(crate::runtime::WaitReason::ChanReceive);
                Poll::Pending
            },
        }
    }

    /// A parked receive polled again: done, or still waiting.
    #[inline(never)]
    fn poll_recv_parked(&self, op: &mut RecvOp<T>, waker: &Waker) -> std::task::Poll<Option<T>> {
        use crate::runtime::WaitReason;
        match self.repoll_parked(op.sudog.get(), waker, WaitReason::ChanReceive) {
            Some(s) => std::task::Poll::Ready(finish_recv(op, s)),
            None => std::task::Poll::Pending,
        }
    }

    /// A parked operation's sudog polled again: `Some(state)` once its
    /// completer is done with it, else `None` after refreshing the waker
    /// under the lock (a G may be polled with a new waker) and recording
    /// the wait reason again. Inlined into both (out-of-line) callers.
    #[inline(always)]
    fn repoll_parked(
        &self,
        sg: &Sudog<T>,
        waker: &Waker,
        reason: crate::runtime::WaitReason,
    ) -> Option<u8> {
        let s = sg.state();
        if s != WAITING {
            return Some(s);
        }
        self.lock();
        let s = sg.state();
        if s != WAITING {
            // SAFETY: lock held.
            unsafe { self.unlock() };
            return Some(s);
        }
        // SAFETY: lock held, the sudog is linked here (still WAITING).
        let stale = unsafe {
            let stale = sg.set_waker(waker);
            self.unlock();
            stale
        };
        // A replaced waker is dropped only now, with no lock held.
        drop(stale);
        crate::runtime::set_wait_reason(reason);
        None
    }

    /// Cancels a parked receive: unlinks it, or, if a value was already
    /// handed to it, gives the value back to the channel.
    // Out of line: the future's drop glue, which runs after every
    // operation, then stays small enough to inline.
    #[inline(never)]
    pub(crate) fn cancel_recv(&self, op: &mut RecvOp<T>) {
        if !op.parked {
            return;
        }
        op.parked = false;
        let s = op.sudog.get().state();
        if s == DONE_CLOSED {
            return;
        }
        self.lock();
        let s = op.sudog.get().state();
        let mut wake = None;
        // SAFETY: lock held; the sudog is ours and linked here if queued.
        unsafe {
            if s == WAITING {
                self.st().recvq.remove(op.sudog.get());
            } else if let Some(v) = op.sudog.get().take_elem() {
                wake = self.give_back_locked(v);
            }
            self.unlock();
        }
        // SAFETY: unlinked or completed above: the sudog is the owner's
        // alone. Its waker is dropped with no lock held.
        drop(unsafe { op.sudog.get().take_waker() });
        if let Some(w) = wake {
            w.wake();
        }
    }

    /// chansend with `block == true`, as a poll. `value` is `Some` on the
    /// first call.
    ///
    /// Only the common case is inline (not parked; room in the buffer,
    /// open, no parked receiver): lock, append, unlock. The rest of
    /// chansend's order runs out of line in `send_locked`, still under the
    /// same lock, so no path locks twice.
    #[inline(always)]
    pub(crate) fn poll_send(
        &self,
        op: &mut SendOp<T>,
        value: &mut Option<T>,
        waker: &Waker,
    ) -> std::task::Poll<Result<(), T>> {
        if op.parked {
            return self.poll_send_parked(op, waker);
        }
        let v = value.take().expect("send future polled after completion");
        self.lock_op();
        // SAFETY: lock held; released by either branch.
        unsafe {
            match self.send_buf_unlock(v) {
                Ok(()) => std::task::Poll::Ready(Ok(())),
                Err(v) => self.send_locked(op, v, waker),
            }
        }
    }

    /// `poll_send` past its fast path, with the lock held: complete, or
    /// park holding `v`. Unlocks.
    ///
    /// # Safety
    /// Caller holds the lock; `op` is not parked.
    #[inline(never)]
    unsafe fn send_locked(
        &self,
        op: &mut SendOp<T>,
        v: T,
        waker: &Waker,
    ) -> std::task::Poll<Result<(), T>> {
        use std::task::Poll;
        // SAFETY: lock held (caller's contract).
        match unsafe { self.try_send_locked(v) } {
            SendTry::Sent(w) => {
                // SAFETY: lock held.
                unsafe { self.unlock() };
                if let Some(w) = w {
                    w.wake();
                }
                Poll::Ready(Ok(()))
            }
            SendTry::Closed(v) => {
                // SAFETY: lock held.
                unsafe { self.unlock() };
                Poll::Ready(Err(v))
            }
            // SAFETY: lock held; the sudog is pinned inside the future,
            // whose Drop unlinks it (cancel_send).
            SendTry::Full(v) => unsafe {
                let sg = op.sudog.init();
                let stale = sg.prepare(std::ptr::null(), 0, waker);
                sg.put_elem(v);
                self.st().sendq.enqueue(sg);
                op.parked = true;
                self.unlock();
                drop(stale);
                crate::runtime::set_wait_reason(crate::runtime::WaitReason::ChanSend);
                Poll::Pending
            },
        }
    }

    /// A parked send polled again: done, or still waiting.
    #[inline(never)]
    fn poll_send_parked(
        &self,
        op: &mut SendOp<T>,
        waker: &Waker,
    ) -> std::task::Poll<Result<(), T>> {
        use crate::runtime::WaitReason;
        match self.repoll_parked(op.sudog.get(), waker, WaitReason::ChanSend) {
            Some(s) => std::task::Poll::Ready(finish_send(op, s)),
            None => std::task::Poll::Pending,
        }
    }

    /// Cancels a parked send: unlinks it (its value is dropped with the
    /// future). A send that already completed stays completed.
    // Out of line: the future's drop glue, which runs after every
    // operation, then stays small enough to inline.
    #[inline(never)]
    pub(crate) fn cancel_send(&self, op: &mut SendOp<T>) {
        if !op.parked {
            return;
        }
        op.parked = false;
        if op.sudog.get().state() != WAITING {
            return;
        }
        self.lock();
        // SAFETY: lock held; the sudog is ours and linked here if queued.
        unsafe {
            if op.sudog.get().state() == WAITING {
                self.st().sendq.remove(op.sudog.get());
            }
            self.unlock();
        }
        // SAFETY: unlinked or completed above: the sudog is the owner's
        // alone. Its waker is dropped with no lock held.
        drop(unsafe { op.sudog.get().take_waker() });
    }
}

#[inline]
fn finish_send<T>(op: &mut SendOp<T>, state: u8) -> Result<(), T> {
    op.parked = false;
    // SAFETY: completion observed: the completer is done with the sudog;
    // no lock is held, so the waker may be dropped here.
    unsafe {
        drop(op.sudog.get().take_waker());
        if state == DONE_OK {
            Ok(())
        } else {
            Err(op
                .sudog
                .get()
                .take_elem()
                .expect("closed send lost its value"))
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::HChan;
    use std::mem::{align_of, size_of};

    /// The parked-G memory benchmark counts the channel in each parked G's
    /// bytes: keep it at 128
    /// bytes whatever `T` is (the values live in the separate ring) and
    /// without over-alignment.
    #[test]
    fn hchan_is_128_bytes() {
        assert!(align_of::<HChan<u64>>() <= 16);
        assert_eq!(size_of::<HChan<u64>>(), 128);
        assert_eq!(size_of::<HChan<[u8; 1000]>>(), 128);
        assert_eq!(size_of::<HChan<()>>(), 128);
    }

    /// The fields a plain buffered send or receive writes stay together at
    /// the front (see `HChan`'s docs).
    #[test]
    fn hot_fields_lead() {
        use super::State;
        use std::mem::offset_of;
        type H = HChan<u64>;
        type S = State<u64>;
        let state = offset_of!(H, state);
        let hot = [
            offset_of!(H, lock),
            offset_of!(H, qcount),
            state + offset_of!(S, sendx),
            state + offset_of!(S, recvx),
            state + offset_of!(S, qcount),
        ];
        assert!(hot.iter().all(|&o| o + 8 <= 48), "{hot:?}");
    }
}

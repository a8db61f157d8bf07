//! Go's `selectgo` (`src/runtime/select.go`): the core of `select!` and
//! `goro::Select`.
//!
//! # Final interface (what the macro and `Select` use)
//! - `pub unsafe trait Case: Send` — object safe; its methods are
//!   crate-internal details (`#[doc(hidden)]`). Implemented only by
//!   [`RecvCase`] and [`SendCase`]. (`Send` is a supertrait so that a
//!   `select!` inside a goroutine stays `Send`: the channel's `T` must be
//!   `Send`, as it must be to send it anywhere.)
//! - `RecvCase::new(Option<&Receiver<T>>)`, `RecvCase::take() -> Option<T>`
//!   (after it won; `None` = closed and drained).
//! - `SendCase::new(Option<&Sender<T>>, T)`,
//!   `SendCase::take() -> Result<(), SendError<T>>` (after it won). A losing
//!   send case keeps its value, dropped with the case.
//! - `unsafe fn selectgo(&'c mut [&'c mut dyn Case], block) -> SelectGo<'c>`,
//!   a future of `Option<usize>`: `Some(i)` = case `i` won; `None` only
//!   when `block == false` and nothing was ready. With no non-nil case and
//!   `block == true` it never resolves (wait reason `select (no cases)`).
//!   Its callers are `select!`'s expansion and `Select`; see "Soundness".
//! - `PollOrder::new([live; N])`, `coop_yield_point()`, `wake(w)` and
//!   `SelectGo::after_pass0(bool)`: `select!`'s pass 0 (see below).
//! - `Case::chan_addr(&self) -> usize` (the channel's identity and lock-order
//!   key: its address, or a creation-order id under loom; 0 for nil) and
//!   `Case::is_recv()` are public helpers for type-erased bookkeeping.
//!
//! # Algorithm
//! - Pass 1: the non-nil cases are shuffled (inside-out Fisher–Yates with a
//!   cheap per-thread wyrand seeded from `rand`; a fixed seed under loom)
//!   and sorted by channel address; every distinct channel is locked in
//!   address order; the cases are tried in the random order (a closed
//!   channel's receive is ready with `None`, a send on a closed channel is
//!   ready with `Err`). Non-blocking: unlock and return `None`.
//!   Before pass 1, with several cases, goro adds a "pass 0" (an
//!   optimisation, same semantics): in the same random order, a case that
//!   looks ready lock-free is completed under its own lock alone, so a busy
//!   select takes one lock instead of all of them. `select!` runs pass 0 in
//!   its own expansion ([`PollOrder`], no `SelectGo` built when a case is
//!   ready at once; the random index picks a case out of an array, so the
//!   branch predictor has no random choice of code to guess) and then
//!   `selectgo(..).after_pass0(true)` draws a fresh random order for
//!   pass 1; `Select` uses `SelectGo`'s.
//! - Pass 2: one sudog per case (inside the case) is linked into its
//!   channel's queue, all pointing at this future's done word; unlock; park.
//! - Pass 3 (woken): relock all, unlink the losers, read the winner.
//!   A peer that dequeues one of our sudogs must first win the CAS of the
//!   done word from undecided to `index + 1` (see `waitq.rs`).
//! - Drop while parked: relock all, CAS the done word to cancelled; if a
//!   case had already won and it is a receive, its value goes back into the
//!   channel.
//!
//! # Soundness: why `selectgo` is `unsafe`
//! A parked select links one sudog per case into its channel's wait queue.
//! The sudog lives inside the case, and it points at the `done` word inside
//! the `SelectGo`; the channel writes through those pointers until the
//! `SelectGo`'s drop unlinks them. For the `SelectGo`'s own memory, pinning
//! is enough: a pinned value's memory is not reused before its drop runs,
//! and a leaked one (`Box::pin`, then `mem::forget`) stays allocated for
//! good. The cases are not pinned, only borrowed: were `selectgo` safe, a
//! caller could leak a polled `SelectGo`, which ends its borrow, and then
//! drop or move the cases while the channels still point into them (the
//! `compile_fail` example on [`selectgo`] is that program). So `selectgo`
//! is `unsafe`, and its contract is the missing half: once polled, the cases
//! stay in place and unused until the `SelectGo` is dropped, and if it is
//! leaked they are leaked too. Its two callers keep it by construction:
//! `select!` declares the cases and then awaits the `SelectGo` in the same
//! async frame (so the frame drops the `SelectGo` first, during completion,
//! cancellation or unwinding alike, and a leaked frame leaks both), and
//! `Select` keeps its cases in boxes that a leaked `select()` future makes
//! it leak (see `dynamic.rs`). The rest of the interface is safe to call in
//! any order: the cases' safe methods (`new`, `take`, `take_result`,
//! `try_alone`, `would_block`, `chan_addr`) never link a sudog, `Case`'s
//! linking methods are `unsafe`, and `Case` is an `unsafe trait`. The
//! `unsafe` costs nothing at run time: the fast paths are unchanged.
//!
//! # Deadlock safety
//! Channel locks are taken in increasing address order, each distinct
//! channel once; nothing else is locked meanwhile, and no waker is woken or
//! dropped until every lock is released (`RawMutex`'s rule: no user code
//! under the lock). A waker replaced while the locks are held (re-poll
//! with a new waker, or a reused case's old one) is collected and dropped
//! after `selunlock`; a winner's or loser's sudog keeps its waker after
//! unlinking, dropped with the case (or replaced by its next wait).

use crate::chan::waitq::{DONE_OK, LazySudog, SELECT_CANCELLED, SELECT_UNDECIDED, WAITING};
use crate::chan::{HChan, Receiver, RecvTry, SendError, SendTry, Sender};
use crate::loom::atomic::{AtomicUsize, Ordering};
use std::future::Future;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// One case of a select (Go's `scase`). Implemented by [`RecvCase`] and
/// [`SendCase`] only; the methods are internal to goro.
///
/// # Safety
/// Implementations must uphold the sudog protocol of `chan/waitq.rs`; only
/// goro's own cases do.
#[doc(hidden)]
pub unsafe trait Case: Send {
    /// The channel's address (lock order and identity); 0 for a nil channel.
    fn chan_addr(&self) -> usize;
    /// Whether this is a receive case.
    fn is_recv(&self) -> bool;
    /// Lock-free check that the case cannot proceed now (Go's `full`/`empty`
    /// early return of `selectnbsend`/`selectnbrecv`).
    #[doc(hidden)]
    fn would_block(&self) -> bool;
    /// A hint before `would_block` then `lock` (pass 0): bring the
    /// channel's lock line in for writing. Does nothing by default.
    #[doc(hidden)]
    #[inline(always)]
    fn prefetch_for_lock(&self) {}
    /// Locks the channel.
    #[doc(hidden)]
    unsafe fn lock(&self);
    /// Unlocks the channel.
    #[doc(hidden)]
    unsafe fn unlock(&self);
    /// Pass 1: try to complete now (locked). `Some(waker to wake)` if done.
    #[doc(hidden)]
    unsafe fn try_complete(&mut self) -> Option<Option<Waker>>;
    /// Pass 0: `would_block`, then `lock`, `try_complete`, `unlock`, in one
    /// call (one dynamic dispatch instead of four on the hot path).
    #[doc(hidden)]
    #[inline(always)]
    fn try_alone(&mut self) -> Option<Option<Waker>> {
        self.prefetch_for_lock();
        if self.would_block() {
            return None;
        }
        // SAFETY: one lock only, released before returning.
        unsafe {
            self.lock();
            let r = self.try_complete();
            self.unlock();
            r
        }
    }
    /// Pass 2: link the sudog (locked). Returns the waker the sudog held
    /// from an earlier wait if `waker` replaced it, to drop after unlocking.
    #[doc(hidden)]
    unsafe fn enqueue(
        &mut self,
        done: *const AtomicUsize,
        index: usize,
        waker: &Waker,
    ) -> Option<Waker>;
    /// Re-register a new waker (locked, still linked or lost). Returns the
    /// replaced waker, to drop after unlocking.
    #[doc(hidden)]
    unsafe fn set_waker(&mut self, waker: &Waker) -> Option<Waker>;
    /// Pass 3 / cancel: unlink a losing sudog (locked). Its waker stays in
    /// it (dropped with the case, or replaced by its next wait).
    #[doc(hidden)]
    unsafe fn dequeue(&mut self);
    /// Pass 3: this case won; move its result into the case (locked). The
    /// waker stays in the sudog, as for `dequeue`.
    #[doc(hidden)]
    unsafe fn finish(&mut self);
    /// Cancel: this case won but the select is dropped (locked). A received
    /// value goes back to the channel; returns a receiver to wake.
    #[doc(hidden)]
    unsafe fn give_back(&mut self) -> Option<Waker>;
}

/// A receive case: `recv(rx) -> v`.
#[doc(hidden)]
pub struct RecvCase<'a, T> {
    chan: Option<&'a HChan<T>>,
    /// Built when the case parks (pass 2); untouched if pass 1 completes.
    sudog: LazySudog<T>,
    result: Option<Option<T>>,
}

/// A send case: `send(tx, value) -> res`.
#[doc(hidden)]
pub struct SendCase<'a, T> {
    chan: Option<&'a HChan<T>>,
    value: Option<T>,
    /// Built when the case parks (pass 2); untouched if pass 1 completes.
    sudog: LazySudog<T>,
    result: Option<Result<(), SendError<T>>>,
}

impl<'a, T> RecvCase<'a, T> {
    /// A receive case on `rx` (`None` = nil channel, never ready).
    pub fn new(rx: Option<&'a Receiver<T>>) -> Self {
        RecvCase {
            chan: rx.map(|r| r.hchan()),
            sudog: LazySudog::new(),
            result: None,
        }
    }

    /// The received value after this case won (`None` = closed and drained).
    /// Panics if the case did not win.
    pub fn take(&mut self) -> Option<T> {
        self.result
            .take()
            .expect("goro: RecvCase::take on a case that did not win")
    }

    /// Records a receive attempt's outcome: `Some(waker to wake)` if the
    /// case completed (a value, or closed), `None` if it would block.
    #[inline(always)]
    fn settle(&mut self, r: RecvTry<T>) -> Option<Option<Waker>> {
        match r {
            RecvTry::Got(v, w) => {
                self.result = Some(Some(v));
                Some(w)
            }
            RecvTry::Closed => {
                self.result = Some(None);
                Some(None)
            }
            RecvTry::Empty => None,
        }
    }

    /// The result if this case won, else `None`; no branch on which case
    /// won (`select!` calls it on every case).
    #[inline(always)]
    pub fn take_result(&mut self) -> Option<Option<T>> {
        self.result.take()
    }
}

impl<'a, T> SendCase<'a, T> {
    /// A send case of `value` on `tx` (`None` = nil channel, never ready).
    pub fn new(tx: Option<&'a Sender<T>>, value: T) -> Self {
        SendCase {
            chan: tx.map(|t| t.hchan()),
            value: Some(value),
            sudog: LazySudog::new(),
            result: None,
        }
    }

    /// The send's result after this case won. Panics if it did not win.
    pub fn take(&mut self) -> Result<(), SendError<T>> {
        self.result
            .take()
            .expect("goro: SendCase::take on a case that did not win")
    }

    /// Records a send attempt's outcome: `Some(waker to wake)` if the case
    /// completed (sent, or closed), `None` if it would block (the value
    /// stays in the case).
    #[inline(always)]
    fn settle(&mut self, r: SendTry<T>) -> Option<Option<Waker>> {
        match r {
            SendTry::Sent(w) => {
                self.result = Some(Ok(()));
                Some(w)
            }
            SendTry::Closed(v) => {
                self.result = Some(Err(SendError(v)));
                Some(None)
            }
            SendTry::Full(v) => {
                self.value = Some(v);
                None
            }
        }
    }

    /// The result if this case won, else `None` (see `RecvCase::take_result`).
    #[inline(always)]
    pub fn take_result(&mut self) -> Option<Result<(), SendError<T>>> {
        self.result.take()
    }
}

#[inline]
fn addr<T>(c: Option<&HChan<T>>) -> usize {
    c.map_or(0, |c| c.lock_key())
}

// SAFETY: follows the sudog protocol: the sudog is only touched under its
// channel's lock while it may be linked, and `finish`/`give_back` run
// under the lock after the completer published the state.
unsafe impl<T: Send> Case for RecvCase<'_, T> {
    fn chan_addr(&self) -> usize {
        addr(self.chan)
    }
    fn is_recv(&self) -> bool {
        true
    }
    #[inline(always)]
    fn prefetch_for_lock(&self) {
        if let Some(c) = self.chan {
            c.prefetch_for_lock();
        }
    }
    fn would_block(&self) -> bool {
        self.chan.is_none_or(|c| c.recv_fast_fail() == Some(false))
    }
    unsafe fn lock(&self) {
        if let Some(c) = self.chan {
            c.lock();
        }
    }
    unsafe fn unlock(&self) {
        if let Some(c) = self.chan {
            // SAFETY: the caller locked it.
            unsafe { c.unlock() };
        }
    }
    // Pass 0 without the trait's four steps: the channel's `recv_unlock`
    // completes the common case and unlocks with no call.
    #[inline(always)]
    fn try_alone(&mut self) -> Option<Option<Waker>> {
        let c = self.chan?;
        c.prefetch_for_lock();
        if c.recv_fast_fail() == Some(false) {
            return None;
        }
        c.lock();
        // SAFETY: locked just above; `recv_unlock` releases it.
        self.settle(unsafe { c.recv_unlock() })
    }
    unsafe fn try_complete(&mut self) -> Option<Option<Waker>> {
        let c = self.chan?;
        // SAFETY: locked by the caller.
        self.settle(unsafe { c.try_recv_locked() })
    }
    unsafe fn enqueue(
        &mut self,
        done: *const AtomicUsize,
        index: usize,
        waker: &Waker,
    ) -> Option<Waker> {
        let c = self.chan?;
        // SAFETY: locked; `selectgo`'s caller keeps the case alive and in
        // place until the SelectGo, which unlinks, is dropped.
        unsafe {
            let sg = self.sudog.init();
            let stale = sg.prepare(done, index, waker);
            c.st().recvq.enqueue(sg);
            stale
        }
    }
    unsafe fn set_waker(&mut self, waker: &Waker) -> Option<Waker> {
        // SAFETY: locked by the caller.
        unsafe { self.sudog.get().set_waker(waker) }
    }
    unsafe fn dequeue(&mut self) {
        if let Some(c) = self.chan {
            // SAFETY: locked by the caller; the sudog, if linked, is in recvq.
            unsafe { c.st().recvq.remove(self.sudog.get()) };
        }
    }
    unsafe fn finish(&mut self) {
        let s = self.sudog.get().state();
        debug_assert_ne!(s, WAITING);
        // SAFETY: completed (state published) and locked.
        unsafe {
            self.result = Some(if s == DONE_OK {
                self.sudog.get().take_elem()
            } else {
                None
            });
        }
    }
    unsafe fn give_back(&mut self) -> Option<Waker> {
        let c = self.chan?;
        // SAFETY: completed and locked by the caller.
        unsafe {
            if self.sudog.get().state() == DONE_OK {
                if let Some(v) = self.sudog.get().take_elem() {
                    return c.give_back_locked(v);
                }
            }
        }
        None
    }
}

// SAFETY: as for RecvCase.
unsafe impl<T: Send> Case for SendCase<'_, T> {
    fn chan_addr(&self) -> usize {
        addr(self.chan)
    }
    fn is_recv(&self) -> bool {
        false
    }
    #[inline(always)]
    fn prefetch_for_lock(&self) {
        if let Some(c) = self.chan {
            c.prefetch_for_lock();
        }
    }
    fn would_block(&self) -> bool {
        self.chan.is_none_or(|c| c.send_would_block())
    }
    unsafe fn lock(&self) {
        if let Some(c) = self.chan {
            c.lock();
        }
    }
    unsafe fn unlock(&self) {
        if let Some(c) = self.chan {
            // SAFETY: the caller locked it.
            unsafe { c.unlock() };
        }
    }
    // As RecvCase's: the channel's `send_unlock` does the locked part.
    #[inline(always)]
    fn try_alone(&mut self) -> Option<Option<Waker>> {
        let c = self.chan?;
        c.prefetch_for_lock();
        if c.send_would_block() {
            return None;
        }
        let v = self.value.take().expect("goro: send case without a value");
        c.lock();
        // SAFETY: locked just above; `send_unlock` releases it.
        self.settle(unsafe { c.send_unlock(v) })
    }
    unsafe fn try_complete(&mut self) -> Option<Option<Waker>> {
        let c = self.chan?;
        let v = self.value.take().expect("goro: send case without a value");
        // SAFETY: locked by the caller.
        self.settle(unsafe { c.try_send_locked(v) })
    }
    unsafe fn enqueue(
        &mut self,
        done: *const AtomicUsize,
        index: usize,
        waker: &Waker,
    ) -> Option<Waker> {
        let c = self.chan?;
        let v = self.value.take().expect("goro: send case without a value");
        // SAFETY: locked; `selectgo`'s caller keeps the case alive and in
        // place until the SelectGo, which unlinks, is dropped.
        unsafe {
            let sg = self.sudog.init();
            let stale = sg.prepare(done, index, waker);
            sg.put_elem(v);
            c.st().sendq.enqueue(sg);
            stale
        }
    }
    unsafe fn set_waker(&mut self, waker: &Waker) -> Option<Waker> {
        // SAFETY: locked by the caller.
        unsafe { self.sudog.get().set_waker(waker) }
    }
    unsafe fn dequeue(&mut self) {
        if let Some(c) = self.chan {
            // SAFETY: locked by the caller; the sudog, if linked, is in sendq.
            // A loser keeps its value (the slot `value` is empty: it was
            // moved into the sudog, so nothing is dropped here).
            unsafe {
                c.st().sendq.remove(self.sudog.get());
                if let Some(v) = self.sudog.get().take_elem() {
                    self.value = Some(v);
                }
            }
        }
    }
    unsafe fn finish(&mut self) {
        let s = self.sudog.get().state();
        debug_assert_ne!(s, WAITING);
        // SAFETY: completed (state published) and locked.
        unsafe {
            self.result = Some(if s == DONE_OK {
                Ok(())
            } else {
                Err(SendError(
                    self.sudog
                        .get()
                        .take_elem()
                        .expect("goro: closed send lost its value"),
                ))
            });
        }
    }
    unsafe fn give_back(&mut self) -> Option<Waker> {
        // The send happened (or failed on close, and the value is dropped
        // with the case): nothing to give back.
        None
    }
}

// ---- the per-thread cheap random generator (Go's cheaprandn) ------------

/// wyrand, seeded once per select from this thread's `cheaprand` stream.
struct Rng(u64);

impl Rng {
    #[inline]
    fn new() -> Self {
        Rng(crate::util::cheaprand())
    }

    #[inline]
    fn next(&mut self) -> u64 {
        crate::util::wyrand(&mut self.0)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift, as Go's cheaprandn).
    #[inline]
    fn below(&mut self, n: usize) -> usize {
        (((self.next() >> 32) * n as u64) >> 32) as usize
    }
}

// ---- index buffers without allocation for small selects ------------------

const INLINE: usize = 32;

/// A list of case indices, inline up to 32 cases.
struct Idx {
    len: usize,
    inline: [u16; INLINE],
    heap: Vec<u16>,
}

impl Idx {
    fn new(n: usize) -> Self {
        assert!(n <= u16::MAX as usize, "goro: too many select cases");
        Idx {
            len: 0,
            inline: [0; INLINE],
            heap: if n > INLINE { vec![0; n] } else { Vec::new() },
        }
    }
    #[inline]
    fn slice(&self) -> &[u16] {
        if self.heap.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.heap[..self.len]
        }
    }
    #[inline]
    fn slice_mut(&mut self) -> &mut [u16] {
        if self.heap.is_empty() {
            &mut self.inline[..self.len]
        } else {
            &mut self.heap[..self.len]
        }
    }
}

/// Inside-out Fisher–Yates over the live (non-nil) case indices: writes a
/// uniform random permutation of them to the front of `out` and returns
/// how many there are.
#[inline]
fn shuffle_live(live: impl Iterator<Item = bool>, out: &mut [u16]) -> usize {
    let mut rng = Rng::new();
    let mut n = 0;
    for (i, is_live) in live.enumerate() {
        if !is_live {
            continue;
        }
        let j = rng.below(n + 1);
        out[n] = out[j];
        out[j] = i as u16;
        n += 1;
    }
    n
}

/// `select!`'s own pass 0: the poll order of its `N` cases, computed in the
/// macro's expansion so that pass 0 builds no `SelectGo` when a case is
/// ready at once. The expansion indexes an array of the cases with the
/// order (one `try_alone` call site, whose target is the same for cases of
/// one type) rather than matching on it: a match on a random index costs a
/// mispredicted branch on every step that tests it, which measured slower
/// on the select benchmarks. If none completes, the expansion runs
/// [`selectgo`] with
/// [`SelectGo::after_pass0`], which draws a fresh order for pass 1.
#[doc(hidden)]
#[derive(Debug)]
pub struct PollOrder<const N: usize> {
    /// Up to `PACKED` indices, 16 bits each, lowest first (selects of up to
    /// four cases: the order stays in one register-sized word, so reading
    /// it back never waits on a store of a narrower element).
    packed: u64,
    /// The order for selects of more than `PACKED` cases.
    order: [u16; N],
    len: usize,
}

/// Cases whose order `PollOrder` keeps packed in one word.
const PACKED: usize = 4;

impl<const N: usize> PollOrder<N> {
    /// A random order of the cases whose `live` entry is true (non-nil).
    #[inline]
    pub fn new(live: [bool; N]) -> Self {
        assert!(N <= u16::MAX as usize, "goro: too many select cases");
        let mut order = [0u16; N];
        if N <= PACKED {
            let (packed, len) = shuffle_packed(live);
            return PollOrder { packed, order, len };
        }
        let len = shuffle_live(live.into_iter(), &mut order);
        PollOrder {
            packed: 0,
            order,
            len,
        }
    }

    /// How many cases are live (non-nil).
    #[inline]
    pub fn live(&self) -> usize {
        self.len
    }

    /// The `i`-th live case's index in poll order (`i < live()`).
    #[inline]
    pub fn get(&self, i: usize) -> usize {
        if N <= PACKED {
            ((self.packed >> (16 * i)) & 0xffff) as usize
        } else {
            self.order[i] as usize
        }
    }

    /// Whether pass 0 applies: with one live case (or none) `selectgo`
    /// takes its own paths (Go's compiler turns those selects into plain
    /// channel operations).
    #[inline]
    pub fn runs_pass0(&self) -> bool {
        self.len > 1
    }
}

/// `shuffle_live` for at most `PACKED` cases, into 16-bit lanes of a word.
/// With every case live (the usual select) one draw picks one of the `N!`
/// permutations from `PERMS`; otherwise `shuffle_live` runs on the side.
#[inline]
fn shuffle_packed<const N: usize>(live: [bool; N]) -> (u64, usize) {
    if N >= 2 && live.iter().all(|&l| l) {
        let perm = PERMS[N.min(PACKED)][Rng::new().below(FACT[N.min(PACKED)])];
        return (perm, N);
    }
    let mut order = [0u16; PACKED];
    let n = shuffle_live(live.into_iter(), &mut order);
    let lanes = order
        .iter()
        .rev()
        .fold(0u64, |acc, &i| (acc << 16) | i as u64);
    (lanes, n)
}

/// `n!` for `n <= PACKED`.
const FACT: [usize; PACKED + 1] = [1, 1, 2, 6, 24];

/// Every permutation of `0..n` for `n <= PACKED`, as 16-bit lanes.
const PERMS: [[u64; 24]; PACKED + 1] = {
    let mut t = [[0u64; 24]; PACKED + 1];
    let mut n = 2;
    while n <= PACKED {
        // the i-th permutation from i's factorial-base digits (Lehmer code)
        let mut i = 0;
        while i < FACT[n] {
            let mut avail = [0u64, 1, 2, 3];
            let mut left = n;
            let mut x = i;
            let mut lanes = 0u64;
            let mut k = 0;
            while k < n {
                let f = FACT[left - 1];
                let d = x / f;
                x %= f;
                lanes |= avail[d] << (16 * k);
                let mut m = d;
                while m + 1 < left {
                    avail[m] = avail[m + 1];
                    m += 1;
                }
                left -= 1;
                k += 1;
            }
            t[n][i] = lanes;
            i += 1;
        }
        n += 1;
    }
    t
};

/// The yield point of a blocking `select!` (see `coop_proceed`), taken once
/// before its pass 0.
#[doc(hidden)]
pub async fn coop_yield_point() {
    std::future::poll_fn(crate::runtime::coop_proceed_select).await
}

/// The fast half of the yield point: charges the budget and returns true
/// if it allows; false means await [`coop_yield_point`].
#[doc(hidden)]
#[inline]
pub fn coop_spend() -> bool {
    crate::runtime::coop_spend()
}

/// Wakes the task a pass-0 completion returned, if any.
#[doc(hidden)]
#[inline]
pub fn wake(w: Option<Waker>) {
    if let Some(w) = w {
        w.wake();
    }
}

// ---- selectgo -------------------------------------------------------------

enum Phase {
    Start,
    Parked,
    Done,
    Forever,
}

/// The future of [`selectgo`]. Must be polled in place (it is `!Unpin`).
#[doc(hidden)]
#[must_use = "futures do nothing unless awaited"]
pub struct SelectGo<'c> {
    cases: &'c mut [&'c mut dyn Case],
    block: bool,
    /// `select!` already ran pass 0 and the yield point
    /// (`after_pass0`).
    pass0_done: bool,
    phase: Phase,
    /// The select's done word shared by its sudogs: `SELECT_UNDECIDED`, the
    /// winner's index + 1 (CAS by a completer under its channel lock), or
    /// `SELECT_CANCELLED` (CAS by drop, all locks held).
    done: AtomicUsize,
    /// Non-nil case indices sorted by channel address (Go's lockorder).
    lockorder: Idx,
    _pin: PhantomPinned,
}

/// Go's `selectgo`: see the module docs. `block == false` is a select with
/// `default`. Used by `select!`'s expansion and by [`Select`](crate::Select).
///
/// # Safety
///
/// Once the returned `SelectGo` has been polled, its cases may be linked
/// into their channels' wait queues, pointing into the cases' own memory
/// (which the `SelectGo` only borrows). The caller guarantees that the
/// cases are not moved, used, freed or reused until the `SelectGo` has been
/// dropped, and that if the `SelectGo` is never dropped (leaked), the cases
/// are never moved, used, freed or reused afterwards either. Awaiting the
/// `SelectGo` in place in the async frame that owns the cases, declared
/// after them, keeps this: the frame drops the `SelectGo` first, and a
/// leaked frame leaks both. The module docs say why this is `unsafe`.
///
/// The safe pattern that used to be allowed, and let a channel write into
/// freed memory, no longer compiles:
///
/// ```compile_fail,E0133
/// use goro::select::{selectgo, Case, RecvCase};
/// let (tx, rx) = goro::chan::<i32>(0);
/// let mut case = RecvCase::new(Some(&rx));
/// let mut cases = [&mut case as &mut dyn Case];
/// let mut fut = Box::pin(selectgo(&mut cases, true)); // error: unsafe call
/// let cx = &mut std::task::Context::from_waker(std::task::Waker::noop());
/// let _ = std::future::Future::poll(fut.as_mut(), cx); // parks: links `case`
/// std::mem::forget(fut); // the SelectGo is leaked, its borrow of `case` ends
/// drop(case); // `case` is gone, but the channel still points into it
/// let _ = tx.try_send(1); // and would write the value there
/// ```
#[doc(hidden)]
pub unsafe fn selectgo<'c>(cases: &'c mut [&'c mut dyn Case], block: bool) -> SelectGo<'c> {
    SelectGo {
        lockorder: Idx::new(cases.len()),
        cases,
        block,
        pass0_done: false,
        phase: Phase::Start,
        done: AtomicUsize::new(SELECT_UNDECIDED),
        _pin: PhantomPinned,
    }
}

impl SelectGo<'_> {
    /// Marks pass 0 (and a blocking select's yield point) as already done
    /// by the caller, `select!`'s expansion (see [`PollOrder`]), when
    /// `done` is true.
    #[doc(hidden)]
    pub fn after_pass0(mut self, done: bool) -> Self {
        self.pass0_done = done;
        self
    }

    /// Go's `sellock`: each distinct channel once, in address order.
    fn sellock(&self) {
        let mut prev = 0;
        for &i in self.lockorder.slice() {
            let c = &self.cases[i as usize];
            let a = c.chan_addr();
            if a != prev {
                // SAFETY: locks are taken in address order; see module docs.
                unsafe { c.lock() };
                prev = a;
            }
        }
    }

    /// Go's `selunlock`.
    fn selunlock(&self) {
        let mut prev = 0;
        for &i in self.lockorder.slice() {
            let c = &self.cases[i as usize];
            let a = c.chan_addr();
            if a != prev {
                // SAFETY: locked by `sellock`.
                unsafe { c.unlock() };
                prev = a;
            }
        }
    }

    /// Pass 0 (goro's addition, an optimisation only): in the same random
    /// order, find a case that looks ready without locking (the `full` /
    /// `empty` checks) and complete it under its own channel's lock alone.
    /// A case that proves not ready once locked is skipped; if none
    /// completes, Go's pass 1 runs as usual over all locked channels. The
    /// chosen case was ready when it completed, and every ready case had the
    /// same chance to be looked at first, so the semantics are Go's; a busy
    /// select takes one lock instead of all of them.
    fn pass0(&mut self, pollorder: &Idx) -> Option<usize> {
        for &i in pollorder.slice() {
            if let Some(w) = self.cases[i as usize].try_alone() {
                wake(w);
                return Some(i as usize);
            }
        }
        None
    }

    /// Pass 1 (and 2): poll in random order; park if nothing is ready.
    fn start(&mut self, waker: &Waker) -> Poll<Option<usize>> {
        let n = self.cases.len();
        let mut pollorder = Idx::new(n);
        pollorder.len = n;
        let cases = &*self.cases;
        let norder = shuffle_live(
            cases.iter().map(|c| c.chan_addr() != 0),
            pollorder.slice_mut(),
        );
        pollorder.len = norder;
        if norder == 0 {
            if !self.block {
                self.phase = Phase::Done;
                return Poll::Ready(None);
            }
            self.phase = Phase::Forever;
            crate::runtime::set_wait_reason(crate::runtime::WaitReason::SelectNoCases);
            return Poll::Pending;
        }
        if !self.block && norder == 1 {
            // Go's selectnbsend/selectnbrecv: lock-free early return.
            let i = pollorder.slice()[0] as usize;
            if self.cases[i].would_block() {
                self.phase = Phase::Done;
                return Poll::Ready(None);
            }
        }
        if norder > 1 && !self.pass0_done {
            if let Some(i) = self.pass0(&pollorder) {
                self.phase = Phase::Done;
                return Poll::Ready(Some(i));
            }
        }
        self.lockorder.len = norder;
        self.lockorder
            .slice_mut()
            .copy_from_slice(pollorder.slice());
        let cases = &*self.cases;
        self.lockorder
            .slice_mut()
            .sort_unstable_by_key(|&i| cases[i as usize].chan_addr());

        self.sellock();
        for &i in pollorder.slice() {
            // SAFETY: every channel is locked.
            if let Some(w) = unsafe { self.cases[i as usize].try_complete() } {
                self.selunlock();
                if let Some(w) = w {
                    w.wake();
                }
                self.phase = Phase::Done;
                return Poll::Ready(Some(i as usize));
            }
        }
        if !self.block {
            self.selunlock();
            self.phase = Phase::Done;
            return Poll::Ready(None);
        }
        // Pass 2: enqueue one sudog per case, in lock order.
        let done: *const AtomicUsize = &self.done;
        let mut stale = Vec::new();
        for k in 0..norder {
            let i = self.lockorder.slice()[k] as usize;
            // SAFETY: locked; this future is pinned, so `done` stays put, and
            // its Drop unlinks every sudog.
            stale.extend(unsafe { self.cases[i].enqueue(done, i, waker) });
        }
        self.selunlock();
        // Wakers left from a case's earlier wait, dropped with no lock held.
        drop(stale);
        self.phase = Phase::Parked;
        crate::runtime::set_wait_reason(crate::runtime::WaitReason::Select);
        Poll::Pending
    }

    /// Woken (or polled spuriously) while parked.
    fn repoll(&mut self, waker: &Waker) -> Poll<Option<usize>> {
        // Acquire: pairs with the completer's AcqRel CAS on the done word.
        if self.done.load(Ordering::Acquire) == SELECT_UNDECIDED {
            self.sellock();
            if self.done.load(Ordering::Acquire) == SELECT_UNDECIDED {
                let mut stale = Vec::new();
                for k in 0..self.lockorder.len {
                    let i = self.lockorder.slice()[k] as usize;
                    // SAFETY: locked.
                    stale.extend(unsafe { self.cases[i].set_waker(waker) });
                }
                self.selunlock();
                // Replaced wakers are dropped only now, with no lock held.
                drop(stale);
                crate::runtime::set_wait_reason(crate::runtime::WaitReason::Select);
                return Poll::Pending;
            }
        } else {
            self.sellock();
        }
        // Pass 3: the winner completed under its channel lock, which we now
        // hold; unlink every loser.
        let won = self.done.load(Ordering::Acquire) - 1;
        for k in 0..self.lockorder.len {
            let i = self.lockorder.slice()[k] as usize;
            // SAFETY: locked.
            unsafe {
                if i == won {
                    self.cases[i].finish();
                } else {
                    self.cases[i].dequeue();
                }
            }
        }
        self.selunlock();
        self.phase = Phase::Done;
        Poll::Ready(Some(won))
    }
}

impl Future for SelectGo<'_> {
    type Output = Option<usize>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<usize>> {
        // SAFETY: nothing is moved out; `done` stays where it is.
        let this = unsafe { self.get_unchecked_mut() };
        match this.phase {
            Phase::Start => {
                if this.block && !this.pass0_done {
                    // a blocking select is a yield point (see coop_proceed)
                    std::task::ready!(crate::runtime::coop_proceed_select(cx));
                }
                this.start(cx.waker())
            }
            Phase::Parked => this.repoll(cx.waker()),
            Phase::Forever => {
                crate::runtime::set_wait_reason(crate::runtime::WaitReason::SelectNoCases);
                Poll::Pending
            }
            Phase::Done => panic!("goro: select polled after completion"),
        }
    }
}

impl Drop for SelectGo<'_> {
    fn drop(&mut self) {
        if !matches!(self.phase, Phase::Parked) {
            return;
        }
        self.sellock();
        // AcqRel: orders us with a completer's CAS (either we cancel first
        // and every later dequeue skips us, or we see its winner).
        let won = match self.done.compare_exchange(
            SELECT_UNDECIDED,
            SELECT_CANCELLED,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => usize::MAX,
            Err(w) => w - 1,
        };
        let mut wake = None;
        for k in 0..self.lockorder.len {
            let i = self.lockorder.slice()[k] as usize;
            // SAFETY: locked.
            unsafe {
                if i == won {
                    wake = self.cases[i].give_back();
                } else {
                    self.cases[i].dequeue();
                }
            }
        }
        self.selunlock();
        if let Some(w) = wake {
            w.wake();
        }
    }
}

impl std::fmt::Debug for SelectGo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelectGo")
            .field("cases", &self.cases.len())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn perms_hold_every_permutation_once() {
        for n in 2..=PACKED {
            let mut seen = std::collections::HashSet::new();
            for &p in &PERMS[n][..FACT[n]] {
                let mut lanes: Vec<u64> = (0..n).map(|k| (p >> (16 * k)) & 0xffff).collect();
                assert!(seen.insert(lanes.clone()), "n={n}: {lanes:?} twice");
                lanes.sort_unstable();
                assert_eq!(lanes, (0..n as u64).collect::<Vec<_>>(), "n={n}");
            }
        }
    }

    #[test]
    fn poll_order_with_nil_cases_lists_the_live_ones() {
        for _ in 0..1000 {
            let o = PollOrder::new([true, false, true, true]);
            let mut got: Vec<usize> = (0..o.live()).map(|i| o.get(i)).collect();
            got.sort_unstable();
            assert_eq!(got, [0, 2, 3]);
            let o = PollOrder::new([true; 6]);
            let mut got: Vec<usize> = (0..o.live()).map(|i| o.get(i)).collect();
            got.sort_unstable();
            assert_eq!(got, [0, 1, 2, 3, 4, 5]);
        }
    }
}

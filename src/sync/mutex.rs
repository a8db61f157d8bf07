//! `Mutex<T>`: Go's `sync.Mutex` (src/internal/sync/mutex.go: `Lock`,
//! `lockSlow`, `TryLock`, `Unlock`, `unlockSlow`) for Gs, with a guard.
//!
//! [`LockCore`] is the lock without data (RwMutex uses it for its writers'
//! lock). One atomic `state` word holds `LOCKED`, `WOKEN`, `STARVING` and
//! the number of parked waiters (`state >> WAITER_SHIFT`); the waiters
//! park on a sema wait queue (`crate::task::sema`) behind the `sema` lock.
//!
//! - Fast paths: lock is one CAS `0 -> LOCKED` (and, when that fails only
//!   because waiters are parked, one more CAS setting `LOCKED`, as the
//!   first round of `lockSlow` would), unlock one `fetch_sub`. The lock
//!   future builds its waiter only when it has to wait, and charges no
//!   cooperative budget.
//! - Normal mode (`lockSlow`): a locker spins a few rounds on a multi-core
//!   machine while the holder runs, then registers as a waiter and parks.
//!   An unlock with waiters and no `WOKEN` waiter takes one waiter off the
//!   count, sets `WOKEN` and grants the queue's head `GRANT_WOKEN`: the
//!   woken waiter *competes* with newcomers for the lock and, if it loses,
//!   parks again at the head of the queue.
//! - Starvation mode: a woken waiter that has waited over 1 ms (under
//!   loom, which has no time: any woken waiter) sets `STARVING` when it
//!   parks again; from then on an unlock grants the head
//!   `GRANT_HANDOFF` (ownership: `LOCKED` is set by the new owner) and
//!   newcomers neither take the lock nor spin. The owner that was the last
//!   waiter, or waited under 1 ms, switches back to normal mode.
//!
//! # Invariants
//! - The waiter count rises only under the `sema` lock, in the same
//!   critical section that links the waiter (so an unlocker that saw a
//!   waiter finds it queued once it takes the lock). It falls by an
//!   unlocker's wake CAS (no lock), by a hand-off's new owner, and by a
//!   dropped waiter (under the lock).
//! - At most one `GRANT_WOKEN` is outstanding: `WOKEN` is set with it and
//!   cleared only by the waiter that uses it (or by `give_up_woken` on its
//!   behalf). `STARVING` is set only by such a woken waiter, so no
//!   `GRANT_WOKEN` is in flight in starvation mode.
//! - `debt` (under `sema`) counts `GRANT_WOKEN`s in flight whose waiter
//!   left the queue after the wake CAS took its count: the next such grant
//!   is absorbed, and its `WOKEN` given up as the waiter would have.
//!
//! # Cancel safety
//! A dropped lock future that was still queued leaves the queue and gives
//! back its waiter count (or, with its wake already in flight, records a
//! debt). One that had been granted passes the grant on: a `GRANT_WOKEN`
//! is given up (`WOKEN` cleared, or the next waiter woken if the lock is
//! free), a `GRANT_HANDOFF` is taken and unlocked at once (handing the lock
//! to the next waiter).
//!
//! # Deadlock safety
//! The `sema` lock is a leaf: under it only `state` CASes and the wait list
//! change; wakers are woken after it is released.
//!
//! Spinning follows Go's `runtime_canSpin`: at most `ACTIVE_SPIN` rounds,
//! several cores, another P running and nothing else queued on this P
//! (`runtime::sync_can_spin`).

use crate::loom::atomic::{AtomicU32, Ordering};
use crate::loom::{Mutex as LockMutex, MutexGuard as LockGuard, UnsafeCell};
use crate::task::sema::{Parked, Queue, WaitList, Wakers};
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

/// The lock is held.
const LOCKED: u32 = 1;
/// A waiter has been woken (or a spinner is about to take the lock): an
/// unlock need not wake another.
const WOKEN: u32 = 2;
/// Starvation mode: ownership is handed to the queue's head.
const STARVING: u32 = 4;
/// The waiter count starts at this bit.
const WAITER_SHIFT: u32 = 3;
/// One waiter.
const WAITER: u32 = 1 << WAITER_SHIFT;

/// Grant: you were woken in normal mode; compete for the lock.
const GRANT_WOKEN: u32 = 1;
/// Grant: starvation mode; the lock is yours.
const GRANT_HANDOFF: u32 = 2;

/// A waiter that waited longer than this switches to starvation mode
/// (Go's `starvationThresholdNs`).
const STARVATION_THRESHOLD: std::time::Duration = std::time::Duration::from_millis(1);

/// Spin rounds before parking (Go's `active_spin`), and pause hints per
/// round (Go's `active_spin_cnt`). No spinning under loom.
#[cfg_attr(loom, allow(dead_code))]
const ACTIVE_SPIN: u32 = 4;
const ACTIVE_SPIN_CNT: u32 = 30;

#[inline]
fn waiters(state: u32) -> u32 {
    state >> WAITER_SHIFT
}

/// The mutex's sema root: its wait list and the absorbed-wake debt.
pub(crate) struct SemaRoot {
    list: WaitList,
    debt: u32,
}

/// A mutex without data: Go's `sync.Mutex` state machine.
pub(crate) struct LockCore {
    /// `LOCKED | WOKEN | STARVING | waiters << WAITER_SHIFT`. Written by
    /// lockers and unlockers with CAS/RMW from any thread; the waiter count
    /// rises only under `sema` (see the module header).
    state: AtomicU32,
    /// Parked waiters. Written under its own lock.
    sema: LockMutex<SemaRoot>,
}

impl fmt::Debug for LockCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.load(Ordering::Relaxed);
        f.debug_struct("LockCore")
            .field("locked", &(s & LOCKED != 0))
            .field("starving", &(s & STARVING != 0))
            .field("waiters", &waiters(s))
            .finish()
    }
}

impl LockCore {
    pub(crate) fn new() -> Self {
        LockCore {
            state: AtomicU32::new(0),
            sema: LockMutex::new(SemaRoot {
                list: WaitList::new(),
                debt: 0,
            }),
        }
    }

    /// Whether the lock is free and in normal mode, so that a newcomer may
    /// take it ahead of parked waiters (Go's barging; a hint: one load, no
    /// ordering).
    #[inline]
    pub(crate) fn is_free_normal(&self) -> bool {
        self.state.load(Ordering::Relaxed) & (LOCKED | STARVING) == 0
    }

    /// The fast path of `Lock`: one CAS from the unlocked, idle state; if
    /// that fails because waiters are parked (or one is woken) but the lock
    /// is free in normal mode, one more CAS takes it anyway, as the first
    /// round of Go's `lockSlow` would (a running G beats a woken one).
    #[inline]
    pub(crate) fn try_lock_fast(&self) -> bool {
        // Acquire: pairs with the Release `fetch_sub` of the last unlock.
        match self
            .state
            .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => true,
            Err(old) => old & (LOCKED | STARVING) == 0 && self.try_lock_from(old),
        }
    }

    /// One CAS setting `LOCKED` on `old` (free, normal mode).
    #[cold]
    fn try_lock_from(&self, old: u32) -> bool {
        // Acquire: as in `try_lock_fast`.
        self.state
            .compare_exchange(old, old | LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Go's `TryLock`: takes the lock if it is free and not in starvation
    /// mode (a parked waiter may still be competing).
    #[inline]
    pub(crate) fn try_lock(&self) -> bool {
        let old = self.state.load(Ordering::Relaxed);
        if old & (LOCKED | STARVING) != 0 {
            return false;
        }
        // Acquire: as in `try_lock_fast`.
        self.state
            .compare_exchange(old, old | LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Go's `Unlock`. The caller holds the lock.
    #[inline]
    pub(crate) fn unlock(&self) {
        // Release: publishes the critical section to the next owner (its
        // Acquire CAS or hand-off).
        let new = self
            .state
            .fetch_sub(LOCKED, Ordering::Release)
            .wrapping_sub(LOCKED);
        if new != 0 {
            self.unlock_slow(new);
        }
    }

    /// Go's `unlockSlow`: wake one waiter (normal mode) or hand the lock
    /// to the head (starvation mode).
    #[cold]
    fn unlock_slow(&self, new: u32) {
        debug_assert!(
            new.wrapping_add(LOCKED) & LOCKED != 0,
            "sync: unlock of unlocked mutex"
        );
        if new & STARVING != 0 {
            self.semrelease(GRANT_HANDOFF);
            return;
        }
        let mut old = new;
        loop {
            // Nobody to wake, someone already woken, the lock taken again,
            // or starvation mode begun (not ours to hand off): done.
            if waiters(old) == 0 || old & (LOCKED | WOKEN | STARVING) != 0 {
                return;
            }
            // Take the right to wake one waiter.
            match self.state.compare_exchange_weak(
                old,
                (old - WAITER) | WOKEN,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.semrelease(GRANT_WOKEN);
                    return;
                }
                Err(now) => old = now,
            }
        }
    }

    /// Go's `semrelease`: grants the queue's head `grant`. A
    /// `GRANT_WOKEN` whose waiter left is absorbed by the debt (and its
    /// wake given up); a `GRANT_HANDOFF` that finds nobody left ends
    /// starvation mode, leaving the lock free.
    fn semrelease(&self, mut grant: u32) {
        loop {
            let mut wakers = Wakers::new();
            let mut root = self.sema.lock();
            if grant == GRANT_WOKEN && root.debt > 0 {
                root.debt -= 1;
                drop(root);
                if self.give_up_woken() {
                    continue;
                }
                return;
            }
            if root.list.grant_front(grant, &mut wakers) {
                drop(root);
                wakers.wake_all();
                return;
            }
            if grant == GRANT_HANDOFF {
                // Nobody can register meanwhile: registration needs `sema`.
                self.leave_starvation_free();
                return;
            }
            // A woken grant always finds a waiter or a debt (module
            // header); should it not, it is given up like an absorbed one.
            debug_assert!(false, "sync: mutex wake with no waiter");
            drop(root);
            grant = GRANT_WOKEN;
            if !self.give_up_woken() {
                return;
            }
        }
    }

    /// Under `sema`, with an empty queue and ownership in transit: clear
    /// `STARVING`, so the lock is simply free.
    fn leave_starvation_free(&self) {
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            debug_assert!(old & LOCKED == 0 && old & STARVING != 0);
            match self.state.compare_exchange_weak(
                old,
                old & !STARVING,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => old = now,
            }
        }
    }

    /// The woken waiter (`WOKEN` is its flag) is gone: if the lock is free
    /// and others wait, wake one of them in its place (keeping `WOKEN`;
    /// returns true, and the caller grants `GRANT_WOKEN`), else clear
    /// `WOKEN` (returns false).
    fn give_up_woken(&self) -> bool {
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            debug_assert!(old & WOKEN != 0, "sync: inconsistent mutex state");
            let (new, wake) = if waiters(old) != 0 && old & (LOCKED | STARVING) == 0 {
                (old - WAITER, true)
            } else {
                (old & !WOKEN, false)
            };
            match self
                .state
                .compare_exchange_weak(old, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return wake,
                Err(now) => old = now,
            }
        }
    }

    /// A waiter granted `GRANT_HANDOFF` takes the lock: sets `LOCKED`,
    /// leaves the waiter count, and ends starvation mode if it did not
    /// starve or was the last waiter (Go's fix-up after `semacquire`).
    fn take_handoff(&self, starving: bool) {
        let old = self.state.load(Ordering::Relaxed);
        debug_assert!(
            old & (LOCKED | WOKEN) == 0 && old & STARVING != 0 && waiters(old) != 0,
            "sync: inconsistent mutex state"
        );
        let mut delta = LOCKED.wrapping_sub(WAITER);
        if !starving || waiters(old) == 1 {
            delta = delta.wrapping_sub(STARVING);
        }
        // Acquire: with the grant's Release/Acquire, the previous owner's
        // critical section is visible.
        self.state.fetch_add(delta, Ordering::Acquire);
    }

    /// Registers as a waiter and links `parked`, under `sema` (Go's CAS
    /// that adds a waiter, then `semacquire`). If the lock turned free
    /// meanwhile, takes it instead and returns `Ready`.
    fn park(
        &self,
        st: &mut SlowState,
        parked: Pin<&mut Parked<'_, Self>>,
        cx: &Context<'_>,
    ) -> Poll<()> {
        let mut root = self.sema.lock();
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            if old & (LOCKED | STARVING) == 0 {
                let new = if st.awoke {
                    (old | LOCKED) & !WOKEN
                } else {
                    old | LOCKED
                };
                // Acquire: pairs with the last unlock's Release.
                match self.state.compare_exchange_weak(
                    old,
                    new,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Poll::Ready(()),
                    Err(now) => old = now,
                }
                continue;
            }
            let mut new = old + WAITER;
            if st.starving && old & LOCKED != 0 {
                new |= STARVING;
            }
            if st.awoke {
                debug_assert!(new & WOKEN != 0, "sync: inconsistent mutex state");
                new &= !WOKEN;
            }
            // AcqRel: an unlocker's wake CAS reads this count.
            match self
                .state
                .compare_exchange_weak(old, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => old = now,
            }
        }
        // A waiter that waited before goes back to the head (Go's LIFO).
        let front = st.wait_start.is_some();
        if st.wait_start.is_none() {
            st.wait_start = Some(now());
        }
        st.awoke = false;
        let mut parked = parked;
        // SAFETY: `root` is this core's sema state, held.
        unsafe {
            parked
                .as_mut()
                .enqueue(&mut root, 0, front, Some(cx.waker()))
        };
        drop(root);
        parked.on_park();
        Poll::Pending
    }

    /// Go's `lockSlow` up to parking: spin while the holder runs, take the
    /// lock if it is free (and not starving), else park.
    fn lock_slow(
        &self,
        st: &mut SlowState,
        parked: Pin<&mut Parked<'_, Self>>,
        cx: &Context<'_>,
    ) -> Poll<()> {
        let mut iter = 0;
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            if old & (LOCKED | STARVING) == LOCKED && can_spin(iter) {
                // Tell unlockers not to wake anyone: this spinner will take it.
                if !st.awoke
                    && old & WOKEN == 0
                    && waiters(old) != 0
                    && self
                        .state
                        .compare_exchange_weak(
                            old,
                            old | WOKEN,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        )
                        .is_ok()
                {
                    st.awoke = true;
                }
                do_spin();
                iter += 1;
                old = self.state.load(Ordering::Relaxed);
                continue;
            }
            if old & (LOCKED | STARVING) != 0 {
                return self.park(st, parked, cx);
            }
            let new = if st.awoke {
                (old | LOCKED) & !WOKEN
            } else {
                old | LOCKED
            };
            // Acquire: pairs with the last unlock's Release.
            match self
                .state
                .compare_exchange_weak(old, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return Poll::Ready(()),
                Err(now) => old = now,
            }
        }
    }
}

impl Queue for LockCore {
    type Locked = SemaRoot;

    fn lock(&self) -> LockGuard<'_, SemaRoot> {
        self.sema.lock()
    }

    fn list(locked: &mut SemaRoot, _data: usize) -> &mut WaitList {
        &mut locked.list
    }

    /// Gives back the waiter count; if an unlocker's wake already took it
    /// (count 0: its `GRANT_WOKEN` is in flight), absorb that grant.
    fn unlinked(&self, root: &mut SemaRoot, _data: usize, _was_front: bool, _wakers: &mut Wakers) {
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            if waiters(old) == 0 {
                root.debt += 1;
                return;
            }
            match self.state.compare_exchange_weak(
                old,
                old - WAITER,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => old = now,
            }
        }
    }

    fn pass_on(&self, grant: u32, _data: usize) {
        if grant == GRANT_HANDOFF {
            // Take the lock (staying in starvation mode unless last), then
            // unlock: the next waiter gets it.
            self.take_handoff(true);
            self.unlock();
        } else if self.give_up_woken() {
            self.semrelease(GRANT_WOKEN);
        }
    }
}

/// `lockSlow`'s variables that live across parks.
#[derive(Debug, Default)]
struct SlowState {
    /// When this locker first parked (Go's `waitStartTime`).
    wait_start: Option<Instant>,
    /// It has waited over the threshold (Go's `starving`).
    starving: bool,
    /// It was woken, or is a spinner that set `WOKEN` (Go's `awoke`).
    awoke: bool,
}

#[inline]
fn now() -> Instant {
    Instant::now()
}

/// Whether a waiter that started waiting at `start` is starving. Under
/// loom (no time) every waiter that parked before is, so the models reach
/// starvation mode.
fn waited_too_long(start: Option<Instant>) -> bool {
    if cfg!(loom) {
        return start.is_some();
    }
    start.is_some_and(|s| s.elapsed() > STARVATION_THRESHOLD)
}

/// Go's `runtime_canSpin`: a few rounds, only where another core can be
/// running the holder, and, inside a G, only while another P runs and this
/// P has no other G queued (`runtime::sync_can_spin`). Never under loom.
#[inline]
fn can_spin(iter: u32) -> bool {
    #[cfg(loom)]
    {
        let _ = iter;
        false
    }
    #[cfg(not(loom))]
    {
        iter < ACTIVE_SPIN && multicore() && crate::runtime::sync_can_spin()
    }
}

/// Whether this machine has more than one core (cached).
#[cfg(not(loom))]
fn multicore() -> bool {
    use crate::loom::atomic::AtomicU8;
    // 0: unknown, 1: one core, 2: more.
    static NCPU: AtomicU8 = AtomicU8::new(0);
    match NCPU.load(Ordering::Relaxed) {
        0 => {
            let many = std::thread::available_parallelism().map_or(1, |n| n.get()) > 1;
            NCPU.store(if many { 2 } else { 1 }, Ordering::Relaxed);
            many
        }
        n => n == 2,
    }
}

/// Go's `runtime_doSpin`: a short burst of pause hints.
#[inline]
fn do_spin() {
    for _ in 0..ACTIVE_SPIN_CNT {
        crate::loom::spin_loop();
    }
}

/// Waits for a [`LockCore`]: the slow path of `Lock` as a future. Cancel
/// safe (module header).
pub(crate) struct LockWait<'a> {
    core: &'a LockCore,
    parked: Parked<'a, LockCore>,
    st: SlowState,
}

impl fmt::Debug for LockWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockWait")
            .field("parked", &self.parked.is_queued())
            .finish_non_exhaustive()
    }
}

impl<'a> LockWait<'a> {
    /// A lock attempt on `core`; `on_park` records the G's wait reason.
    pub(crate) fn new(core: &'a LockCore, on_park: fn()) -> Self {
        LockWait {
            core,
            parked: Parked::new(core, on_park),
            st: SlowState::default(),
        }
    }
}

impl Future for LockWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: nothing is moved out of the pinned future.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: `parked` is structurally pinned: it stays inside `this`,
        // which is pinned, and is never moved out.
        let mut parked = unsafe { Pin::new_unchecked(&mut this.parked) };
        if parked.is_queued() {
            let grant = ready!(parked.as_mut().poll(cx));
            this.st.starving |= waited_too_long(this.st.wait_start);
            if grant == GRANT_HANDOFF {
                this.core.take_handoff(this.st.starving);
                return Poll::Ready(());
            }
            this.st.awoke = true;
        }
        this.core.lock_slow(&mut this.st, parked, cx)
    }
}

fn park_mutex() {
    crate::runtime::set_wait_reason(crate::runtime::WaitReason::SyncMutexLock);
}

/// A mutual exclusion lock for Gs: Go's `sync.Mutex`, holding the data it
/// protects.
///
/// - [`lock`](Mutex::lock) parks the calling G (never its thread) while the
///   lock is held, with wait reason `sync.Mutex.Lock`;
///   [`lock_blocking`](Mutex::lock_blocking) blocks an ordinary thread.
/// - The [`MutexGuard`] unlocks on drop and may be held across `.await`:
///   a future holding it stays `Send` when `T: Send`.
/// - Fairness is Go's: in normal mode a woken waiter competes with newly
///   arriving lockers (which usually win: they are already running), so a
///   G can lock many times in a row; a waiter that has waited over 1 ms
///   switches the mutex to starvation mode, where the lock is handed to
///   the longest waiter directly. No G starves.
/// - Cancel safe: dropping a pending `lock()` future never loses a wake-up
///   or the lock; if the lock had just been handed to it, it passes to the
///   next waiter.
///
/// ```
/// use goro::sync::Mutex;
/// use std::sync::Arc;
/// let n = goro::run(async {
///     let counter = Arc::new(Mutex::new(0u64));
///     let wg = goro::sync::WaitGroup::new();
///     for _ in 0..8 {
///         let counter = counter.clone();
///         wg.go(async move {
///             for _ in 0..100 {
///                 *counter.lock().await += 1; // mu.Lock(); counter++; mu.Unlock()
///             }
///         });
///     }
///     wg.wait().await;
///     let n = *counter.lock().await;
///     n
/// });
/// assert_eq!(n, 800);
/// ```
pub struct Mutex<T: ?Sized> {
    core: LockCore,
    data: UnsafeCell<T>,
}

// SAFETY: the mutex gives access to `T` to one holder at a time, possibly
// on another thread: `T: Send` suffices (as for `std::sync::Mutex`).
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// A new, unlocked mutex holding `value` (Go: the zero `sync.Mutex`
    /// beside the data it guards).
    ///
    /// # Examples
    ///
    /// ```
    /// let m = goro::sync::Mutex::new(vec![1, 2]);
    /// m.lock_blocking().push(3);
    /// assert_eq!(m.into_inner(), vec![1, 2, 3]);
    /// ```
    pub fn new(value: T) -> Self {
        Mutex {
            core: LockCore::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex and returns the data.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = goro::sync::Mutex::new(String::from("go"));
    /// assert_eq!(m.into_inner(), "go");
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks the mutex, parking the calling G until it is free: Go's
    /// `mu.Lock()`.
    ///
    /// Cancel safe (see [`Mutex`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::Mutex;
    /// goro::run(async {
    ///     let m = Mutex::new(1);
    ///     let mut g = m.lock().await;
    ///     *g += 1;
    ///     goro::gosched().await; // the guard may be held across .await
    ///     assert_eq!(*g, 2);
    /// });
    /// ```
    pub fn lock(&self) -> Lock<'_, T> {
        Lock {
            mutex: self,
            wait: None,
            done: false,
        }
    }

    /// Locks the mutex if it is free now: Go's `mu.TryLock()`. Fails while
    /// the lock is held or in starvation mode (then it belongs to the
    /// longest waiter).
    ///
    /// # Examples
    ///
    /// ```
    /// let m = goro::sync::Mutex::new(0);
    /// let g = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_none()); // held
    /// drop(g);
    /// assert!(m.try_lock().is_some());
    /// ```
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.core.try_lock().then(|| MutexGuard { mutex: self })
    }

    /// Locks the mutex from an ordinary thread, blocking it until the lock
    /// is free. Inside a G it hands the P off while it blocks (prefer
    /// [`lock`](Mutex::lock) there).
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::Mutex;
    /// use std::sync::Arc;
    /// let m = Arc::new(Mutex::new(0));
    /// let threads: Vec<_> = (0..4)
    ///     .map(|_| {
    ///         let m = m.clone();
    ///         std::thread::spawn(move || *m.lock_blocking() += 1)
    ///     })
    ///     .collect();
    /// for t in threads {
    ///     t.join().unwrap();
    /// }
    /// assert_eq!(*m.lock_blocking(), 4);
    /// ```
    pub fn lock_blocking(&self) -> MutexGuard<'_, T> {
        if self.core.try_lock_fast() {
            return MutexGuard { mutex: self };
        }
        crate::runtime::block_on(self.lock())
    }

    /// The data, through a unique borrow (no locking needed).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut m = goro::sync::Mutex::new(1);
    /// *m.get_mut() = 5;
    /// assert_eq!(*m.lock_blocking(), 5);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` is unique: no guard exists.
        self.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(v: T) -> Self {
        Mutex::new(v)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(g) => d.field("data", &&*g),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// The future of [`Mutex::lock`]: resolves to the guard.
///
/// # Examples
///
/// ```
/// use goro::sync::Mutex;
/// let m = Mutex::new(0);
/// let lock = m.lock(); // nothing happens until it is awaited
/// *goro::block_on(lock) += 1;
/// assert_eq!(*m.lock_blocking(), 1);
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Lock<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    /// The slow path, made on the first poll that finds the lock taken
    /// (the fast path builds no waiter). Structurally pinned.
    wait: Option<LockWait<'a>>,
    /// The guard was returned.
    done: bool,
}

impl<T: ?Sized> fmt::Debug for Lock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("waiting", &self.wait.is_some())
            .field("done", &self.done)
            .finish()
    }
}

impl<'a, T: ?Sized> Future for Lock<'a, T> {
    type Output = MutexGuard<'a, T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        // SAFETY: nothing is moved out of the pinned future.
        let this = unsafe { self.get_unchecked_mut() };
        assert!(!this.done, "`Lock` polled after completion");
        let wait = match &mut this.wait {
            Some(w) => w,
            None => {
                if this.mutex.core.try_lock_fast() {
                    this.done = true;
                    return Poll::Ready(MutexGuard { mutex: this.mutex });
                }
                // Nothing is pinned inside `None`: writing the slow path's
                // state into the pinned slot moves nothing that was pinned.
                this.wait
                    .insert(LockWait::new(&this.mutex.core, park_mutex))
            }
        };
        // SAFETY: `wait` is structurally pinned: it stays in the pinned
        // `this` until the future is dropped, and is never moved out.
        ready!(unsafe { Pin::new_unchecked(wait) }.poll(cx));
        this.done = true;
        Poll::Ready(MutexGuard { mutex: this.mutex })
    }
}

/// Holds a [`Mutex`] locked; unlocks it on drop. Derefs to the data.
///
/// `Send` when `T: Send` (it may be held across `.await` in a G that moves
/// between threads); `Sync` when `T: Sync`.
///
/// # Examples
///
/// ```
/// let m = goro::sync::Mutex::new(vec![1]);
/// {
///     let mut g = m.lock_blocking();
///     g.push(2); // DerefMut
/// } // unlocked here
/// assert_eq!(m.lock_blocking().len(), 2);
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    pub(crate) mutex: &'a Mutex<T>,
}

// SAFETY: sharing `&MutexGuard` gives `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock: no other access to the data.
        self.mutex.data.with(|p| unsafe { &*p })
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock, and `&mut self` is unique.
        self.mutex.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.mutex.core.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

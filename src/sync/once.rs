//! `Once` and `OnceCell<T>`: Go's `sync.Once` (src/sync/once.go: `Do`,
//! `doSlow`) and `sync.OnceValue`, for futures.
//!
//! [`OnceCore`] is the shared state machine: `state` is `INCOMPLETE`,
//! `RUNNING` or `COMPLETE`; callers that find it `RUNNING` park FIFO on a
//! wait list (Go parks them on the `Once`'s mutex). The caller that moves
//! it from `INCOMPLETE` to `RUNNING` (under the lock) runs its future;
//! when that finishes it stores `COMPLETE` and grants every waiter `DONE`.
//! If the running future is dropped (cancelled), the head waiter is
//! granted `RUN` and runs its own future instead; with nobody waiting the
//! state goes back to `INCOMPLETE`. A panic in the running future counts
//! as completion for [`Once`] (Go: "if f panics, Do considers it to have
//! returned") and as cancellation for [`OnceCell`] (no value was made).
//!
//! # Cancel safety
//! A dropped waiter leaves the list; one that had been granted `RUN`
//! passes the turn on exactly as a cancelled runner does.
//!
//! Lock order: the list's lock is a leaf; user futures run without it.

use super::CatchUnwind;
use crate::loom::atomic::{AtomicU8, Ordering};
use crate::loom::{Mutex as LockMutex, MutexGuard as LockGuard, UnsafeCell};
use crate::task::sema::{Parked, Queue, WaitList, Wakers};
use std::fmt;
use std::future::Future;
use std::mem::MaybeUninit;
use std::pin::pin;

const INCOMPLETE: u8 = 0;
const RUNNING: u8 = 1;
const COMPLETE: u8 = 2;

/// Grant: the first call finished; return.
const GRANT_DONE: u32 = 1;
/// Grant: the running call was abandoned; run yours.
const GRANT_RUN: u32 = 2;

/// The once state machine.
struct OnceCore {
    /// `INCOMPLETE`, `RUNNING` or `COMPLETE`. Written under `list`'s lock;
    /// `COMPLETE` is stored with Release (pairs with the Acquire loads of
    /// `is_completed`), read without the lock by the fast path.
    state: AtomicU8,
    /// Callers waiting for the running call. Written under its own lock.
    list: LockMutex<WaitList>,
}

impl OnceCore {
    #[cfg(loom)]
    fn new() -> Self {
        OnceCore {
            state: AtomicU8::new(INCOMPLETE),
            list: LockMutex::new(WaitList::new()),
        }
    }

    #[inline]
    fn is_completed(&self) -> bool {
        // Acquire: pairs with `complete`'s Release store.
        self.state.load(Ordering::Acquire) == COMPLETE
    }

    /// Waits for a turn: true when this caller must run its future (the
    /// state is now `RUNNING` on its behalf), false once complete.
    async fn begin(&self) -> bool {
        if self.is_completed() {
            return false;
        }
        let mut parked = pin!(Parked::new(self, park_once));
        {
            let mut list = self.list.lock();
            match self.state.load(Ordering::Acquire) {
                COMPLETE => return false,
                INCOMPLETE => {
                    self.state.store(RUNNING, Ordering::Relaxed);
                    return true;
                }
                _ => {
                    // SAFETY: `list` is this core's list, held.
                    unsafe { parked.as_mut().enqueue(&mut list, 0, false, None) };
                }
            }
        }
        parked.await == GRANT_RUN
    }

    /// The running call finished: `COMPLETE`, and every waiter returns.
    fn complete(&self) {
        let mut wakers = Wakers::new();
        let mut list = self.list.lock();
        // Release: publishes what the call did (the cell's value).
        self.state.store(COMPLETE, Ordering::Release);
        list.grant_all(GRANT_DONE, &mut wakers);
        drop(list);
        wakers.wake_all();
    }

    /// The running call was abandoned: the head waiter runs next.
    fn abandon(&self) {
        let mut wakers = Wakers::new();
        let mut list = self.list.lock();
        if !list.grant_front(GRANT_RUN, &mut wakers) {
            self.state.store(INCOMPLETE, Ordering::Relaxed);
        }
        drop(list);
        wakers.wake_all();
    }
}

impl Queue for OnceCore {
    type Locked = WaitList;

    fn lock(&self) -> LockGuard<'_, WaitList> {
        self.list.lock()
    }

    fn list(locked: &mut WaitList, _data: usize) -> &mut WaitList {
        locked
    }

    fn pass_on(&self, grant: u32, _data: usize) {
        if grant == GRANT_RUN {
            self.abandon();
        }
    }
}

fn park_once() {
    crate::runtime::set_wait_reason(crate::runtime::WaitReason::SyncMutexLock);
}

/// Abandons the turn unless disarmed (the running future was dropped).
struct Turn<'a> {
    core: &'a OnceCore,
}

impl Turn<'_> {
    fn complete(self) {
        let core = self.core;
        std::mem::forget(self);
        core.complete();
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.core.abandon();
    }
}

/// Runs a future once: Go's `sync.Once`.
///
/// The first [`call_once`](Once::call_once) runs its future; every other
/// caller (concurrent or later) waits until it has finished and then
/// returns without running its own. Waiting parks the G (FIFO).
///
/// What happens when the first call does not finish normally:
/// - it **panics**: as Go's `Once.Do`, the call counts as done — the panic
///   propagates to that caller only, the waiters return, and no later
///   call runs its future (`is_completed()` is true);
/// - it is **cancelled** (its `call_once` future dropped while running):
///   nothing counts as done — the longest waiter runs its own future
///   instead, or, with nobody waiting, the next caller does.
///
/// ```
/// use goro::sync::Once;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// static INIT: Once = Once::new();
/// static CALLS: AtomicU32 = AtomicU32::new(0);
/// goro::run(async {
///     let wg = goro::sync::WaitGroup::new();
///     for _ in 0..4 {
///         wg.go(async {
///             INIT.call_once(async { CALLS.fetch_add(1, Ordering::SeqCst); }).await;
///         });
///     }
///     wg.wait().await;
/// });
/// assert_eq!(CALLS.load(Ordering::SeqCst), 1);
/// ```
pub struct Once {
    core: OnceCore,
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("completed", &self.is_completed())
            .finish()
    }
}

impl Default for Once {
    fn default() -> Self {
        Once::new()
    }
}

impl Once {
    /// A `Once` that has not run (Go: the zero `sync.Once`).
    ///
    /// # Examples
    ///
    /// ```
    /// let once = goro::sync::Once::new();
    /// assert!(!once.is_completed());
    /// ```
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Once {
            core: OnceCore {
                state: AtomicU8::new(INCOMPLETE),
                list: LockMutex::new(WaitList::new()),
            },
        }
    }

    /// A `Once` that has not run.
    #[cfg(loom)]
    pub fn new() -> Self {
        Once {
            core: OnceCore::new(),
        }
    }

    /// Runs `fut` if no call has completed yet, else waits for the running
    /// one: Go's `once.Do(f)`. Returns once the first call has finished
    /// (see [`Once`] for panics and cancellation).
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::Once;
    /// goro::run(async {
    ///     let once = Once::new();
    ///     let mut ran = 0;
    ///     once.call_once(async { ran += 1 }).await;
    ///     once.call_once(async { ran += 1 }).await; // not run
    ///     assert_eq!(ran, 1);
    /// });
    /// ```
    pub async fn call_once<F: Future<Output = ()>>(&self, fut: F) {
        if !self.core.begin().await {
            return;
        }
        let turn = Turn { core: &self.core };
        let res = CatchUnwind(fut).await;
        turn.complete();
        if let Err(p) = res {
            std::panic::resume_unwind(p);
        }
    }

    /// [`call_once`](Once::call_once) for an ordinary thread: runs or
    /// waits by blocking it (inside a G the P is handed off meanwhile).
    ///
    /// # Examples
    ///
    /// ```
    /// let once = goro::sync::Once::new();
    /// let mut n = 0;
    /// once.call_once_blocking(async { n += 1 });
    /// once.call_once_blocking(async { n += 1 });
    /// assert_eq!(n, 1);
    /// ```
    pub fn call_once_blocking<F: Future<Output = ()>>(&self, fut: F) {
        crate::runtime::block_on(self.call_once(fut));
    }

    /// Whether a call has completed (or panicked).
    ///
    /// # Examples
    ///
    /// ```
    /// let once = goro::sync::Once::new();
    /// goro::block_on(once.call_once(async {}));
    /// assert!(once.is_completed());
    /// ```
    pub fn is_completed(&self) -> bool {
        self.core.is_completed()
    }
}

/// A value computed once by an async initializer: Go's `sync.OnceValue`.
///
/// [`get_or_init`](OnceCell::get_or_init) runs the first caller's future
/// and stores its output; concurrent callers wait (parked, FIFO) and all
/// get a reference to that one value. If the initializer panics or is
/// cancelled, the cell stays empty and the longest waiter (or the next
/// caller) runs its own initializer; the panic propagates to its caller.
///
/// ```
/// use goro::sync::OnceCell;
/// static CONFIG: OnceCell<String> = OnceCell::new();
/// let v = goro::run(async {
///     CONFIG.get_or_init(async { "loaded".to_string() }).await.clone()
/// });
/// assert_eq!(v, "loaded");
/// assert_eq!(CONFIG.get().map(String::as_str), Some("loaded"));
/// ```
pub struct OnceCell<T> {
    core: OnceCore,
    /// Written once by the running initializer before `COMPLETE` is
    /// stored (Release); read only after `COMPLETE` is seen (Acquire).
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the value is written once (by one caller, possibly on another
// thread: `T: Send`) and then shared by reference (`T: Sync`).
unsafe impl<T: Send + Sync> Sync for OnceCell<T> {}
// SAFETY: moving the cell moves the value.
unsafe impl<T: Send> Send for OnceCell<T> {}

impl<T> Default for OnceCell<T> {
    fn default() -> Self {
        OnceCell::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceCell")
            .field("value", &self.get())
            .finish()
    }
}

impl<T> OnceCell<T> {
    /// An empty cell.
    ///
    /// # Examples
    ///
    /// ```
    /// let cell = goro::sync::OnceCell::<u32>::new();
    /// assert!(cell.get().is_none());
    /// ```
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        OnceCell {
            core: OnceCore {
                state: AtomicU8::new(INCOMPLETE),
                list: LockMutex::new(WaitList::new()),
            },
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// An empty cell.
    #[cfg(loom)]
    pub fn new() -> Self {
        OnceCell {
            core: OnceCore::new(),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// The value, if initialized.
    ///
    /// # Examples
    ///
    /// ```
    /// let cell = goro::sync::OnceCell::new();
    /// assert_eq!(cell.get(), None);
    /// goro::block_on(cell.get_or_init(async { 7 }));
    /// assert_eq!(cell.get(), Some(&7));
    /// ```
    pub fn get(&self) -> Option<&T> {
        if !self.core.is_completed() {
            return None;
        }
        // SAFETY: COMPLETE (Acquire) is stored only after the value was
        // written, and it is never written again.
        Some(self.value.with(|p| unsafe { (*p).assume_init_ref() }))
    }

    /// The value, running `init` to make it if the cell is empty and no
    /// other initializer is running; otherwise waits for the running one.
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::OnceCell;
    /// goro::run(async {
    ///     let cell = OnceCell::new();
    ///     let a = cell.get_or_init(async { 1 }).await;
    ///     let b = cell.get_or_init(async { 2 }).await; // already set
    ///     assert_eq!((*a, *b), (1, 1));
    /// });
    /// ```
    pub async fn get_or_init<F: Future<Output = T>>(&self, init: F) -> &T {
        if let Some(v) = self.get() {
            return v;
        }
        if self.core.begin().await {
            // A panic or a drop in `init` drops `turn`: the next waiter runs.
            let turn = Turn { core: &self.core };
            let v = init.await;
            // SAFETY: this caller holds the turn (state RUNNING): nobody
            // else writes or reads the value until COMPLETE is stored.
            self.value.with_mut(|p| unsafe { (*p).write(v) });
            turn.complete();
        }
        // SAFETY: `begin` returned false only once COMPLETE, or this caller
        // completed it above.
        self.value.with(|p| unsafe { (*p).assume_init_ref() })
    }
}

impl<T> OnceCell<T> {
    /// [`get_or_init`](OnceCell::get_or_init) for an ordinary thread:
    /// blocks it (inside a G the P is handed off meanwhile).
    ///
    /// # Examples
    ///
    /// ```
    /// let cell = goro::sync::OnceCell::new();
    /// assert_eq!(*cell.get_or_init_blocking(async { 5 }), 5);
    /// ```
    pub fn get_or_init_blocking<F: Future<Output = T>>(&self, init: F) -> &T {
        crate::runtime::block_on(self.get_or_init(init))
    }
}

impl<T> Drop for OnceCell<T> {
    fn drop(&mut self) {
        if self.core.is_completed() {
            // SAFETY: initialized (COMPLETE), and dropped only here.
            self.value.with_mut(|p| unsafe { (*p).assume_init_drop() });
        }
    }
}

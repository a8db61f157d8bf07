//! `WaitGroup`: Go's `sync.WaitGroup` (src/sync/waitgroup.go, Go 1.25).
//!
//! One atomic 64-bit `state` word holds the counter in its high 32 bits (a
//! signed `i32`, like Go's `v`) and the number of waiters in its low 32 bits
//! (Go's `w`). `add`/`done` are a single `fetch_add` when nobody waits or the
//! counter stays above zero: the fast path never takes a lock.
//!
//! Go parks waiters on a runtime semaphore; here they park on the sema
//! wait queue (`crate::task::sema`) behind the `waiters` lock. The
//! protocol:
//!
//! - `wait` (Go's `Wait`): loads `state`; counter 0 means return at once.
//!   Otherwise, *under the `waiters` lock*, it CASes the waiter count up
//!   (only while the counter is above zero) and links its waiter.
//! - `add` that brings the counter to 0 with waiters (Go's `Add` slow path):
//!   takes the `waiters` lock, checks the counter is still 0 (else Go's
//!   "Add called concurrently with Wait" panic), stores 0 into `state`,
//!   grants every linked waiter, unlocks, then wakes them all.
//!
//! Because the waiter count only grows under the lock together with the
//! link, and the release resets it under the same lock, the waiter count
//! equals the number of linked waiters whenever the lock is free: no lost
//! wake-up, no early return. A dropped `wait` future that was not released
//! unlinks itself and gives its waiter count back, under the lock.
//!
//! Go's three programming-error panics are kept, with Go's messages:
//! `sync: negative WaitGroup counter`, `sync: WaitGroup misuse: Add called
//! concurrently with Wait`, `sync: WaitGroup is reused before previous Wait
//! has returned`. A counter that would leave the `i32` range panics with
//! `sync: WaitGroup counter overflow` instead of wrapping. Both counter
//! panics first undo their own `add`, so the group stays consistent (a
//! released waiter does not report a reuse because of it).

use crate::loom::atomic::{AtomicU64, Ordering};
use crate::loom::{Arc, Mutex, MutexGuard};
use crate::task::sema::{Parked, Queue, WaitList, Wakers};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

const NEGATIVE: &str = "sync: negative WaitGroup counter";
const MISUSE_ADD: &str = "sync: WaitGroup misuse: Add called concurrently with Wait";
const MISUSE_REUSE: &str = "sync: WaitGroup is reused before previous Wait has returned";
const OVERFLOW: &str = "sync: WaitGroup counter overflow";

/// Grant: the counter reached zero.
const RELEASED: u32 = 1;

/// Shared state of one group (all clones point at one).
struct Inner {
    /// Counter (high 32 bits, `i32`) and waiter count (low 32 bits).
    /// Written by `add` (`fetch_add`, any thread, no lock), by `wait`
    /// (waiter CAS, under `waiters`), by a dropped `wait` (decrement, under
    /// `waiters`) and by the release (store 0, under `waiters`).
    state: AtomicU64,
    /// Parked waiters (Go: the semaphore's queue). Written by `wait` and
    /// the release, under the lock.
    waiters: Mutex<WaitList>,
}

impl Queue for Inner {
    type Locked = WaitList;

    fn lock(&self) -> MutexGuard<'_, WaitList> {
        self.waiters.lock()
    }

    fn list(locked: &mut WaitList, _data: usize) -> &mut WaitList {
        locked
    }

    /// A dropped, unreleased waiter gives its count back (its count is
    /// still in `state`: only the release, under this lock, resets it).
    fn unlinked(&self, _list: &mut WaitList, _data: usize, _front: bool, _wakers: &mut Wakers) {
        // AcqRel: a plain RMW under the lock; the release re-loads.
        self.state.fetch_sub(1, Ordering::AcqRel);
    }

    /// A release grants every waiter: nothing to hand on.
    fn pass_on(&self, _grant: u32, _data: usize) {}
}

fn park_wait() {
    crate::runtime::set_wait_reason(crate::runtime::WaitReason::WaitGroupWait);
}

#[inline]
fn counter(state: u64) -> i32 {
    (state >> 32) as i32
}

#[inline]
fn waiters(state: u64) -> u32 {
    state as u32
}

/// Waits for a collection of Gs (or threads) to finish: Go's `sync.WaitGroup`.
///
/// `add` adds to the counter, `done` takes one off, and `wait` parks until
/// the counter is zero. Cloning gives another handle to the *same* group
/// (Go passes `*sync.WaitGroup`).
///
/// - `add`/`done` never block and are one atomic operation unless they
///   bring the counter to zero while someone waits.
/// - `wait` parks the calling G (wait reason `sync.WaitGroup.Wait`);
///   [`wait_blocking`](WaitGroup::wait_blocking) parks an ordinary thread.
///   All waiters are released together when the counter reaches zero.
/// - Dropping a pending `wait` future is safe (cancel safe): it leaves the
///   waiter list and the group behaves as if it never waited.
///
/// ```
/// let wg = goro::sync::WaitGroup::new();
/// let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
/// for _ in 0..4 {
///     wg.add(1);
///     let (wg, hits) = (wg.clone(), hits.clone());
///     std::thread::spawn(move || {
///         hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
///         wg.done();
///     });
/// }
/// wg.wait_blocking();
/// assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 4);
/// ```
#[derive(Clone)]
pub struct WaitGroup {
    inner: Arc<Inner>,
}

// A panic inside `add` (Go's misuse panics) leaves the state word as Go
// leaves it; the waiter lock never stays held across a panic.
impl std::panic::UnwindSafe for WaitGroup {}
impl std::panic::RefUnwindSafe for WaitGroup {}

impl Default for WaitGroup {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.inner.state.load(Ordering::Relaxed);
        f.debug_struct("WaitGroup")
            .field("counter", &counter(s))
            .field("waiters", &waiters(s))
            .finish()
    }
}

impl WaitGroup {
    /// A new group with counter 0 (Go: the zero `sync.WaitGroup`).
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = goro::sync::WaitGroup::new(); // var wg sync.WaitGroup
    /// wg.wait_blocking(); // counter 0: returns at once
    /// ```
    pub fn new() -> Self {
        WaitGroup {
            inner: Arc::new(Inner {
                state: AtomicU64::new(0),
                waiters: Mutex::new(WaitList::new()),
            }),
        }
    }

    /// Adds `delta` (which may be negative) to the counter: Go's `Add`.
    ///
    /// When the counter reaches zero every waiter is released. Never blocks.
    ///
    /// # Panics
    ///
    /// With Go's messages: if the counter goes negative
    /// (`sync: negative WaitGroup counter`), or if a positive `add` starting
    /// from zero races with a `wait` (`sync: WaitGroup misuse: Add called
    /// concurrently with Wait`). If the counter would leave the `i32` range
    /// (`sync: WaitGroup counter overflow`); Go wraps silently there. A
    /// counter panic leaves the counter as it was before this call.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::WaitGroup;
    /// let done = goro::run(async {
    ///     let wg = WaitGroup::new();
    ///     let (tx, rx) = goro::chan::<u32>(3);
    ///     wg.add(3); // wg.Add(3) before starting the Gs
    ///     for i in 0..3 {
    ///         let (wg, tx) = (wg.clone(), tx.clone());
    ///         goro::go(async move {
    ///             tx.send(i).await.unwrap();
    ///             wg.done();
    ///         });
    ///     }
    ///     wg.wait().await;
    ///     rx.len()
    /// });
    /// assert_eq!(done, 3);
    /// ```
    #[inline]
    #[track_caller]
    pub fn add(&self, delta: isize) {
        let Ok(delta32) = i32::try_from(delta) else {
            panic!("{OVERFLOW}: add({delta})");
        };
        let d = (i64::from(delta32) as u64) << 32;
        // AcqRel: the Release half publishes the caller's work to whoever
        // sees the counter reach zero (`wait`'s Acquire load, or the
        // releaser's Acquire re-load); the Acquire half lets the releaser
        // see every earlier `done`'s work before it wakes the waiters.
        let prev = self.inner.state.fetch_add(d, Ordering::AcqRel);
        let state = prev.wrapping_add(d);
        let v = i64::from(counter(prev)) + i64::from(delta32);
        if v < 0 || v > i64::from(i32::MAX) {
            self.undo_add(d, v < 0);
        }
        let w = waiters(state);
        if w != 0 && delta32 > 0 && v == i64::from(delta32) {
            panic!("{MISUSE_ADD}");
        }
        if v > 0 || w == 0 {
            return;
        }
        self.release();
    }

    /// Takes back an `add` of `d` that left the counter out of range, then
    /// panics (negative, or past `i32::MAX`).
    #[cold]
    #[track_caller]
    fn undo_add(&self, d: u64, negative: bool) -> ! {
        // AcqRel: as in `add`; the counter is back where it was.
        self.inner.state.fetch_sub(d, Ordering::AcqRel);
        if negative {
            panic!("{NEGATIVE}");
        }
        panic!("{OVERFLOW}");
    }

    /// Takes one off the counter: Go's `Done` (`add(-1)`).
    ///
    /// # Panics
    ///
    /// `sync: negative WaitGroup counter` if the counter goes negative.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::WaitGroup;
    /// let wg = WaitGroup::new();
    /// wg.add(2);
    /// let workers: Vec<_> = (0..2)
    ///     .map(|_| {
    ///         let wg = wg.clone();
    ///         std::thread::spawn(move || wg.done()) // defer wg.Done()
    ///     })
    ///     .collect();
    /// wg.wait_blocking();
    /// for w in workers {
    ///     w.join().unwrap();
    /// }
    /// ```
    #[inline]
    #[track_caller]
    pub fn done(&self) {
        self.add(-1);
    }

    /// The slow path of `add`: the counter reached 0 with waiters parked.
    #[cold]
    #[track_caller]
    fn release(&self) {
        let mut wakers = Wakers::new();
        let mut list = self.inner.waiters.lock();
        // Acquire: pairs with the waiters' CAS and the dones' AcqRel adds.
        let cur = self.inner.state.load(Ordering::Acquire);
        if counter(cur) != 0 {
            drop(list);
            panic!("{MISUSE_ADD}");
        }
        if waiters(cur) == 0 {
            // Another release (or dropped waiters) already emptied the round.
            return;
        }
        debug_assert_eq!(waiters(cur) as usize, list.len());
        // Release: pairs with `wait`'s Acquire load of a zero counter.
        self.inner.state.store(0, Ordering::Release);
        list.grant_all(RELEASED, &mut wakers);
        drop(list);
        wakers.wake_all();
    }

    /// Parks the calling G until the counter is zero: Go's `Wait`.
    ///
    /// Returns at once if the counter is already zero. Cancel safe: dropping
    /// the future before it completes removes the waiter.
    ///
    /// # Panics
    ///
    /// `sync: WaitGroup is reused before previous Wait has returned` if,
    /// after this waiter was released, the group was reused (a new `add`)
    /// before this future observed the release, as Go does.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::WaitGroup;
    /// use std::sync::{Arc, Mutex};
    /// let results = goro::run(async {
    ///     let wg = WaitGroup::new();
    ///     let results = Arc::new(Mutex::new(Vec::new()));
    ///     for i in 0..4 {
    ///         let results = results.clone();
    ///         wg.go(async move { results.lock().unwrap().push(i) });
    ///     }
    ///     wg.wait().await; // wg.Wait()
    ///     let mut v = results.lock().unwrap().clone();
    ///     v.sort();
    ///     v
    /// });
    /// assert_eq!(results, vec![0, 1, 2, 3]);
    /// ```
    pub fn wait(&self) -> Wait<'_> {
        Wait {
            wg: self,
            parked: Parked::new(&self.inner, park_wait),
            state: WaitState::Init,
        }
    }

    /// Blocks the calling ordinary thread until the counter is zero.
    ///
    /// Inside a G it hands the P off while it blocks (prefer
    /// [`wait`](WaitGroup::wait) there).
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::WaitGroup;
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// let rt = goro::Runtime::new();
    /// let wg = WaitGroup::new();
    /// let n = Arc::new(AtomicUsize::new(0));
    /// for _ in 0..3 {
    ///     wg.add(1);
    ///     let (wg, n) = (wg.clone(), n.clone());
    ///     rt.spawn(async move {
    ///         n.fetch_add(1, Ordering::SeqCst);
    ///         wg.done();
    ///     });
    /// }
    /// wg.wait_blocking(); // this thread is not a G
    /// assert_eq!(n.load(Ordering::SeqCst), 3);
    /// ```
    pub fn wait_blocking(&self) {
        crate::runtime::block_on(self.wait());
    }

    /// Registers and links the waiter under the lock; false if the counter
    /// is 0 (nothing to wait for).
    fn register(&self, parked: Pin<&mut Parked<'_, Inner>>, waker: &std::task::Waker) -> bool {
        let mut list = self.inner.waiters.lock();
        // Acquire: pairs with the dones' Release adds (a zero counter means
        // their work is visible).
        let mut s = self.inner.state.load(Ordering::Acquire);
        loop {
            if counter(s) == 0 {
                return false;
            }
            // AcqRel on success: the release re-loads `state` under the lock;
            // Acquire on failure: same as the load above.
            match self.inner.state.compare_exchange_weak(
                s,
                s + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => s = now,
            }
        }
        // SAFETY: `list` is this group's waiter list, held.
        unsafe { parked.enqueue(&mut list, 0, false, Some(waker)) };
        true
    }

    /// Runs `fut` in a new G and adds it to the group: Go 1.25's
    /// `wg.Go(f)`.
    ///
    /// It is `add(1)`, then spawn, then `done()` when the future finishes,
    /// panics, or is dropped (the runtime shutting down): a drop guard, like
    /// Go's `defer wg.Done()`. Never blocks.
    ///
    /// # Panics
    ///
    /// Outside a goro runtime (spawning needs one), like `goro::go`.
    ///
    /// ```
    /// use goro::sync::WaitGroup;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let n = goro::run(async {
    ///     let wg = WaitGroup::new();
    ///     let n = Arc::new(AtomicUsize::new(0));
    ///     for _ in 0..10 {
    ///         let n = n.clone();
    ///         wg.go(async move { n.fetch_add(1, Ordering::SeqCst); });
    ///     }
    ///     wg.wait().await;
    ///     n.load(Ordering::SeqCst)
    /// });
    /// assert_eq!(n, 10);
    /// ```
    #[track_caller]
    pub fn go<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.add(1);
        let wg = self.clone();
        super::spawn_g(async move {
            let _done = DoneGuard(wg);
            fut.await;
        });
    }

    /// Current counter (for tests and debugging).
    #[doc(hidden)]
    pub fn __counter(&self) -> i32 {
        counter(self.inner.state.load(Ordering::Acquire))
    }
}

/// Calls `done` when dropped (`defer wg.Done()`).
struct DoneGuard(WaitGroup);

impl Drop for DoneGuard {
    fn drop(&mut self) {
        self.0.done();
    }
}

/// Where a [`Wait`] future is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WaitState {
    Init,
    /// Linked on the waiter list.
    Waiting,
    Done,
}

/// The future of [`WaitGroup::wait`].
///
/// # Examples
///
/// ```
/// use goro::sync::WaitGroup;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// let wg = WaitGroup::new();
/// let flag = Arc::new(AtomicBool::new(false));
/// wg.add(1);
/// let wait = wg.wait(); // a future: nothing happens until it is awaited
/// let t = {
///     let (wg, flag) = (wg.clone(), flag.clone());
///     std::thread::spawn(move || {
///         flag.store(true, Ordering::SeqCst);
///         wg.done();
///     })
/// };
/// goro::block_on(wait);
/// assert!(flag.load(Ordering::SeqCst)); // done() happened before wait returned
/// t.join().unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Wait<'a> {
    wg: &'a WaitGroup,
    parked: Parked<'a, Inner>,
    state: WaitState,
}

impl fmt::Debug for Wait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait").field("state", &self.state).finish()
    }
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: nothing is moved out of the pinned future.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: `parked` is structurally pinned (never moved out of the
        // pinned `this`).
        let mut parked = unsafe { Pin::new_unchecked(&mut this.parked) };
        match this.state {
            WaitState::Init => {
                // Fast path: Acquire pairs with the dones' Release adds.
                if counter(this.wg.inner.state.load(Ordering::Acquire)) == 0
                    || !this.wg.register(parked.as_mut(), cx.waker())
                {
                    this.state = WaitState::Done;
                    return Poll::Ready(());
                }
                this.state = WaitState::Waiting;
                parked.on_park();
                Poll::Pending
            }
            WaitState::Waiting => {
                ready!(parked.poll(cx));
                this.state = WaitState::Done;
                // Go's check after semacquire: the group must not have been
                // reused while this waiter was being released. (A negative
                // counter is a bad `done` being undone, reported there.)
                let s = this.wg.inner.state.load(Ordering::Acquire);
                if s != 0 && counter(s) >= 0 {
                    panic!("{MISUSE_REUSE}");
                }
                Poll::Ready(())
            }
            WaitState::Done => Poll::Ready(()),
        }
    }
}

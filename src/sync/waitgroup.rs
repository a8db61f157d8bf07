//! `WaitGroup`: Go's `sync.WaitGroup` (src/sync/waitgroup.go, Go 1.25).
//!
//! One atomic 64-bit `state` word holds the counter in its high 32 bits (a
//! signed `i32`, like Go's `v`) and the number of waiters in its low 32 bits
//! (Go's `w`). `add`/`done` are a single `fetch_add` when nobody waits or the
//! counter stays above zero: the fast path never takes a lock.
//!
//! Go parks waiters on a runtime semaphore; here the waiters are wakers in a
//! [`Slab`] behind the `waiters` lock, tagged with an `epoch` that the
//! release bumps (Go's `semrelease` loop). The protocol:
//!
//! - `wait` (Go's `Wait`): loads `state`; counter 0 means return at once.
//!   Otherwise, *under the `waiters` lock*, it CASes the waiter count up
//!   (only while the counter is above zero), stores its waker and records
//!   the current `epoch`. It is ready once `epoch` has moved on.
//! - `add` that brings the counter to 0 with waiters (Go's `Add` slow path):
//!   takes the `waiters` lock, checks the counter is still 0 (else Go's
//!   "Add called concurrently with Wait" panic), stores 0 into `state`,
//!   bumps `epoch`, takes every waker, unlocks, then wakes them all.
//!
//! Because the waiter count only grows under the lock and the release
//! resets it under the same lock, a waiter registered in epoch `e` is
//! released exactly by the release that moves `epoch` past `e`: no lost
//! wake-up, no early return. A dropped `wait` future that was not released
//! takes its waker out and gives its waiter count back, under the lock.
//!
//! Go's three programming-error panics are kept, with Go's messages:
//! `sync: negative WaitGroup counter`, `sync: WaitGroup misuse: Add called
//! concurrently with Wait`, `sync: WaitGroup is reused before previous Wait
//! has returned`.

use super::slab::Slab;
use crate::loom::Arc;
use crate::loom::Mutex;
use crate::loom::atomic::{AtomicU64, Ordering};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

const NEGATIVE: &str = "sync: negative WaitGroup counter";
const MISUSE_ADD: &str = "sync: WaitGroup misuse: Add called concurrently with Wait";
const MISUSE_REUSE: &str = "sync: WaitGroup is reused before previous Wait has returned";

/// Shared state of one group (all clones point at one).
struct Inner {
    /// Counter (high 32 bits, `i32`) and waiter count (low 32 bits).
    /// Written by `add` (`fetch_add`, any thread, no lock), by `wait`
    /// (waiter CAS, under `waiters`), by a dropped `wait` (decrement, under
    /// `waiters`) and by the release (store 0, under `waiters`).
    state: AtomicU64,
    /// Parked waiters. Written by `wait` and the release, under the lock.
    waiters: Mutex<Waiters>,
}

/// The waiter list (Go: the semaphore's queue).
struct Waiters {
    /// Bumped by every release; a waiter is released when it moves past the
    /// value it registered under.
    epoch: u64,
    /// Wakers of the waiters registered in the current epoch.
    wakers: Slab<Waker>,
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
                waiters: Mutex::new(Waiters {
                    epoch: 0,
                    wakers: Slab::new(),
                }),
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
    /// concurrently with Wait`).
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
    pub fn add(&self, delta: isize) {
        let d = (delta as i64 as u64) << 32;
        // AcqRel: the Release half publishes the caller's work to whoever
        // sees the counter reach zero (`wait`'s Acquire load, or the
        // releaser's Acquire re-load); the Acquire half lets the releaser
        // see every earlier `done`'s work before it wakes the waiters.
        let state = self
            .inner
            .state
            .fetch_add(d, Ordering::AcqRel)
            .wrapping_add(d);
        let v = counter(state);
        let w = waiters(state);
        if v < 0 {
            panic!("{NEGATIVE}");
        }
        if w != 0 && delta > 0 && i64::from(v) == delta as i64 {
            panic!("{MISUSE_ADD}");
        }
        if v > 0 || w == 0 {
            return;
        }
        self.release();
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
    pub fn done(&self) {
        self.add(-1);
    }

    /// The slow path of `add`: the counter reached 0 with waiters parked.
    #[cold]
    fn release(&self) {
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
        // Release: pairs with `wait`'s Acquire load of a zero counter.
        self.inner.state.store(0, Ordering::Release);
        list.epoch = list.epoch.wrapping_add(1);
        let wakers: Vec<Waker> = list.wakers.drain().collect();
        drop(list);
        for w in wakers {
            w.wake();
        }
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

    /// Registers the waiter under the lock; `None` if the counter is 0.
    fn register(&self, waker: &Waker) -> Option<(u64, usize)> {
        let mut list = self.inner.waiters.lock();
        // Acquire: pairs with the dones' Release adds (a zero counter means
        // their work is visible).
        let mut s = self.inner.state.load(Ordering::Acquire);
        loop {
            if counter(s) == 0 {
                return None;
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
        let idx = list.wakers.insert(waker.clone());
        Some((list.epoch, idx))
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
#[derive(Debug, Clone, Copy)]
enum WaitState {
    Init,
    /// Registered in `epoch` at slab index `idx`.
    Waiting {
        epoch: u64,
        idx: usize,
    },
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
        let this = self.get_mut();
        match this.state {
            WaitState::Init => {
                // Fast path: Acquire pairs with the dones' Release adds.
                if counter(this.wg.inner.state.load(Ordering::Acquire)) == 0 {
                    this.state = WaitState::Done;
                    return Poll::Ready(());
                }
                match this.wg.register(cx.waker()) {
                    None => {
                        this.state = WaitState::Done;
                        Poll::Ready(())
                    }
                    Some((epoch, idx)) => {
                        this.state = WaitState::Waiting { epoch, idx };
                        crate::runtime::set_wait_reason(crate::runtime::WaitReason::WaitGroupWait);
                        Poll::Pending
                    }
                }
            }
            WaitState::Waiting { epoch, idx } => {
                let mut list = this.wg.inner.waiters.lock();
                if list.epoch == epoch {
                    if let Some(w) = list.wakers.get_mut(idx) {
                        if !w.will_wake(cx.waker()) {
                            w.clone_from(cx.waker());
                        }
                    }
                    drop(list);
                    crate::runtime::set_wait_reason(crate::runtime::WaitReason::WaitGroupWait);
                    return Poll::Pending;
                }
                drop(list);
                this.state = WaitState::Done;
                // Go's check after semacquire: the group must not have been
                // reused while this waiter was being released.
                if this.wg.inner.state.load(Ordering::Acquire) != 0 {
                    panic!("{MISUSE_REUSE}");
                }
                Poll::Ready(())
            }
            WaitState::Done => Poll::Ready(()),
        }
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if let WaitState::Waiting { epoch, idx } = self.state {
            let mut list = self.wg.inner.waiters.lock();
            if list.epoch == epoch {
                // Not released yet: our waiter count is still in `state`
                // (only the release, under this lock, resets it).
                list.wakers.remove(idx);
                // AcqRel: a plain RMW under the lock; the release re-loads.
                self.wg.inner.state.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}

//! `Semaphore`: golang.org/x/sync/semaphore's `Weighted` (`NewWeighted`,
//! `Acquire`, `TryAcquire`, `Release`, `notifyWaiters`).
//!
//! `size` permits; `cur` of them held; waiters linked FIFO with their
//! request as the node's data, all under one lock. A request is served at
//! once only if it fits *and* nobody waits (so it cannot overtake the
//! queue). `release` gives permits back and grants waiters from the head
//! while the head's request fits, stopping at the first that does not: a
//! large request at the head is never bypassed by smaller ones behind it
//! (x/sync's rule, so a writer-like `acquire(size)` cannot starve). A
//! request larger than `size` never fits: as in x/sync it does not queue
//! (it would block everyone behind it) and waits until its context is done
//! — forever without one.
//!
//! # Cancel safety
//! A dropped waiter that was not granted leaves the queue; if it was the
//! head and permits are free, the new head may now fit, so it re-runs
//! `notify_waiters` (x/sync's `isFront` case). A waiter granted its
//! permits but dropped before returning them as a [`Permit`] releases
//! them (x/sync keeps them instead when it notices the grant; here the
//! future is gone, so they go back).
//!
//! Lock order: the lock is a leaf; wakers are woken after it.

use crate::context::{Context, ContextError};
use crate::loom::{Mutex as LockMutex, MutexGuard as LockGuard};
use crate::task::sema::{Parked, Queue, WaitList, Wakers};
use std::fmt;
use std::pin::pin;
use std::task::Poll;

/// Grant: the requested permits are yours (already counted in `cur`).
const GRANTED: u32 = 1;

/// The state behind the lock.
struct SemState {
    /// Permits held. Written under the lock.
    cur: usize,
    /// Waiting requests, FIFO; a node's data is its request.
    list: WaitList,
}

struct SemCore {
    /// Total permits. Immutable.
    size: usize,
    state: LockMutex<SemState>,
}

impl SemCore {
    /// x/sync's `notifyWaiters`: grant from the head while it fits.
    fn notify_waiters(&self, st: &mut SemState, wakers: &mut Wakers) {
        while let Some(n) = st.list.front_data() {
            if self.size - st.cur < n {
                break;
            }
            st.cur += n;
            st.list.grant_front(GRANTED, wakers);
        }
    }

    #[track_caller]
    fn release(&self, n: usize) {
        let mut wakers = Wakers::new();
        let mut st = self.state.lock();
        let Some(cur) = st.cur.checked_sub(n) else {
            drop(st);
            panic!("semaphore: released more than held");
        };
        st.cur = cur;
        self.notify_waiters(&mut st, &mut wakers);
        drop(st);
        wakers.wake_all();
    }

    fn try_acquire(&self, n: usize) -> bool {
        let mut st = self.state.lock();
        let ok = self.size - st.cur >= n && st.list.is_empty();
        if ok {
            st.cur += n;
        }
        ok
    }
}

impl Queue for SemCore {
    type Locked = SemState;

    fn lock(&self) -> LockGuard<'_, SemState> {
        self.state.lock()
    }

    fn list(locked: &mut SemState, _data: usize) -> &mut WaitList {
        &mut locked.list
    }

    fn unlinked(&self, st: &mut SemState, _n: usize, was_front: bool, wakers: &mut Wakers) {
        if was_front && self.size > st.cur {
            self.notify_waiters(st, wakers);
        }
    }

    fn pass_on(&self, _grant: u32, n: usize) {
        self.release(n);
    }
}

fn park_sem() {
    crate::runtime::set_wait_reason(crate::runtime::WaitReason::Semacquire);
}

/// A weighted semaphore for Gs: golang.org/x/sync/semaphore's `Weighted`.
///
/// - [`acquire(k)`](Semaphore::acquire) parks the G until `k` permits are
///   free and returns them as a [`Permit`] (dropping it releases them);
///   [`acquire_ctx`](Semaphore::acquire_ctx) gives up when a context is
///   done; [`try_acquire`](Semaphore::try_acquire) never waits;
///   [`release`](Semaphore::release) returns permits taken with
///   [`Permit::forget`].
/// - FIFO: requests are served in arrival order, and a request at the head
///   is never bypassed by smaller ones behind it.
/// - A request for more than the semaphore's size never succeeds: it waits
///   until its context is done (forever for `acquire`), as in x/sync.
/// - Cancel safe: a dropped `acquire` future takes no permits (permits
///   granted to it just before are released again).
///
/// ```
/// use goro::sync::Semaphore;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
/// let most = goro::run(async {
///     let sem = Arc::new(Semaphore::new(3)); // at most 3 workers at a time
///     let (active, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
///     let wg = goro::sync::WaitGroup::new();
///     for _ in 0..10 {
///         let (sem, active, most) = (sem.clone(), active.clone(), most.clone());
///         wg.go(async move {
///             let _permit = sem.acquire(1).await;
///             most.fetch_max(active.fetch_add(1, SeqCst) + 1, SeqCst);
///             goro::gosched().await;
///             active.fetch_sub(1, SeqCst);
///         });
///     }
///     wg.wait().await;
///     most.load(SeqCst)
/// });
/// assert!((1..=3).contains(&most));
/// ```
pub struct Semaphore {
    core: SemCore,
}

// `release`'s misuse panic leaves the state as it was; the lock is never
// held across a panic.
impl std::panic::UnwindSafe for Semaphore {}
impl std::panic::RefUnwindSafe for Semaphore {}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.core.state.lock();
        f.debug_struct("Semaphore")
            .field("size", &self.core.size)
            .field("held", &st.cur)
            .field("waiters", &st.list.len())
            .finish()
    }
}

impl Semaphore {
    /// A semaphore of `n` permits, all free: x/sync's `NewWeighted(n)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(2);
    /// assert!(sem.try_acquire(2).is_some());
    /// ```
    pub fn new(n: usize) -> Self {
        Semaphore {
            core: SemCore {
                size: n,
                state: LockMutex::new(SemState {
                    cur: 0,
                    list: WaitList::new(),
                }),
            },
        }
    }

    /// Takes `n` permits, parking the G until they are free (FIFO): x/sync's
    /// `Acquire(context.Background(), n)`. Wait reason `semacquire`.
    ///
    /// With `n` larger than the semaphore's size it never completes (there
    /// is no context to end it). Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::Semaphore;
    /// goro::run(async {
    ///     let sem = Semaphore::new(4);
    ///     let a = sem.acquire(3).await;
    ///     assert!(sem.try_acquire(2).is_none());
    ///     drop(a); // releases 3
    ///     let _b = sem.acquire(4).await;
    /// });
    /// ```
    pub async fn acquire(&self, n: usize) -> Permit<'_> {
        let mut parked = pin!(Parked::new(&self.core, park_sem));
        let never = n > self.core.size;
        {
            let mut st = self.core.state.lock();
            if self.core.size - st.cur >= n && st.list.is_empty() {
                st.cur += n;
                return Permit { sem: self, n };
            }
            if !never {
                // SAFETY: `st` is this semaphore's state, held.
                unsafe { parked.as_mut().enqueue(&mut st, n, false, None) };
            }
        }
        if never {
            // x/sync: a request that can never fit does not queue (it
            // would hold back everyone behind it); it waits forever.
            return std::future::poll_fn(|_| {
                park_sem();
                Poll::Pending
            })
            .await;
        }
        parked.await;
        Permit { sem: self, n }
    }

    /// Like [`acquire`](Semaphore::acquire), but gives up with the
    /// context's error once `ctx` is done: x/sync's `Acquire(ctx, n)`.
    ///
    /// Free permits are taken even if `ctx` is already done (as in x/sync);
    /// permits granted at the moment `ctx` ends are kept (`Ok`). On `Err`
    /// the semaphore is unchanged. A request larger than the size waits
    /// for `ctx` and fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::context::{self, ContextError};
    /// use goro::sync::Semaphore;
    /// use std::time::Duration;
    /// goro::run(async {
    ///     let sem = Semaphore::new(1);
    ///     let _held = sem.acquire(1).await;
    ///     let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(5));
    ///     let r = sem.acquire_ctx(&ctx, 1).await;
    ///     assert_eq!(r.unwrap_err(), ContextError::DeadlineExceeded);
    /// });
    /// ```
    pub async fn acquire_ctx(&self, ctx: &Context, n: usize) -> Result<Permit<'_>, ContextError> {
        if let Some(p) = self.try_acquire(n) {
            return Ok(p);
        }
        if let Some(e) = ctx.err() {
            return Err(e);
        }
        let done = ctx.done();
        let mut acquire = pin!(self.acquire(n));
        let mut cancelled = pin!(done.recv());
        std::future::poll_fn(|cx| {
            if let Poll::Ready(p) = acquire.as_mut().poll(cx) {
                return Poll::Ready(Ok(p));
            }
            if cancelled.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(ctx.err().unwrap_or(ContextError::Canceled)));
            }
            park_sem();
            Poll::Pending
        })
        .await
    }

    /// Takes `n` permits if they are free and nobody waits: x/sync's
    /// `TryAcquire`.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(2);
    /// let a = sem.try_acquire(1).unwrap();
    /// assert!(sem.try_acquire(2).is_none());
    /// drop(a);
    /// assert!(sem.try_acquire(2).is_some());
    /// ```
    pub fn try_acquire(&self, n: usize) -> Option<Permit<'_>> {
        self.core.try_acquire(n).then(|| Permit { sem: self, n })
    }

    /// Returns `n` permits (taken with [`Permit::forget`]) and serves the
    /// waiters they let in: x/sync's `Release`.
    ///
    /// # Panics
    ///
    /// `semaphore: released more than held` if more permits are released
    /// than are held, as x/sync does.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(1);
    /// sem.try_acquire(1).unwrap().forget(); // s.TryAcquire(1)
    /// assert!(sem.try_acquire(1).is_none());
    /// sem.release(1); // s.Release(1)
    /// assert!(sem.try_acquire(1).is_some());
    /// ```
    #[track_caller]
    pub fn release(&self, n: usize) {
        self.core.release(n);
    }

    /// Permits held now (for `ErrGroup`'s limit check).
    pub(crate) fn held(&self) -> usize {
        self.core.state.lock().cur
    }

    /// Blocking form of [`acquire`](Semaphore::acquire) for an ordinary
    /// thread (inside a G the P is handed off meanwhile).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(1);
    /// let p = sem.acquire_blocking(1);
    /// assert_eq!(p.permits(), 1);
    /// ```
    pub fn acquire_blocking(&self, n: usize) -> Permit<'_> {
        if let Some(p) = self.try_acquire(n) {
            return p;
        }
        crate::runtime::block_on(self.acquire(n))
    }
}

/// Permits taken from a [`Semaphore`]; dropping it releases them.
///
/// # Examples
///
/// ```
/// let sem = goro::sync::Semaphore::new(3);
/// {
///     let p = sem.try_acquire(2).unwrap();
///     assert_eq!(p.permits(), 2);
/// } // released
/// assert!(sem.try_acquire(3).is_some());
/// ```
#[must_use = "dropping a Permit releases it at once"]
pub struct Permit<'a> {
    sem: &'a Semaphore,
    n: usize,
}

impl Permit<'_> {
    /// Keeps the permits taken without releasing them on drop; give them
    /// back later with [`Semaphore::release`] (x/sync's explicit style).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(1);
    /// sem.try_acquire(1).unwrap().forget();
    /// assert!(sem.try_acquire(1).is_none());
    /// sem.release(1);
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }

    /// How many permits this holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(5);
    /// assert_eq!(sem.try_acquire(3).unwrap().permits(), 3);
    /// ```
    pub fn permits(&self) -> usize {
        self.n
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").field("permits", &self.n).finish()
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        // Even for 0 permits: as x/sync's `Release(0)`, it serves waiters
        // that fit now (a zero request behind a dropped head).
        self.sem.core.release(self.n);
    }
}

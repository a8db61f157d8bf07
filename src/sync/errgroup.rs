//! `ErrGroup`: Go's `golang.org/x/sync/errgroup` (`Group`, `WithContext`,
//! `Go`, `TryGo`, `SetLimit`, `Wait`).
//!
//! As in Go, a group is a [`WaitGroup`] counting its Gs, an optional
//! limiter `sem` (Go: a channel of capacity `limit`; here a [`Semaphore`]
//! of `limit` permits, one taken per G and released when it ends), a
//! first-error slot (Go's `errOnce` + `err`), and an optional cancel
//! function of the context made by `with_context`.
//!
//! Go's `g.Go` blocks its caller until a slot is free. A plain function
//! cannot park a G, so here `go` never waits: with no slot free it starts
//! the G at once and that G parks first on the semaphore (FIFO, wait
//! reason `semacquire`) before running the future. The number of futures
//! *running* is bounded as in Go, the caller is never blocked (a G that
//! calls `go` for its children makes progress on one P), and a group whose
//! slots are all held by Gs waiting for their own children is a deadlock
//! the runtime reports, as Go does. [`ErrGroup::go_async`] keeps Go's
//! back-pressure (the caller parks until a slot is free).
//!
//! Locks: `sem` and `err` are leaf locks, never held together and never
//! held while spawning, cancelling or waking.

use super::{Semaphore, WaitGroup};
use crate::context::{self, CancelCauseFunc, Cause, Context};
use crate::loom::{Arc, Mutex};
use std::fmt;
use std::future::Future;

/// The limiter: one permit per G in flight.
type Sem = Arc<Semaphore>;

/// Turns the first error into the context's cancel cause.
type MakeCause<E> = fn(&E) -> Cause;

struct Inner<E> {
    wg: WaitGroup,
    /// The limiter (`None`: no limit). Written by `set_limit`.
    sem: Mutex<Option<Sem>>,
    /// The first error (Go: `errOnce` + `err`). Written by the group's Gs
    /// and taken by `wait`.
    err: Mutex<ErrSlot<E>>,
    /// `with_context`'s cancel function. Immutable.
    cancel: Option<(CancelCauseFunc, MakeCause<E>)>,
}

struct ErrSlot<E> {
    /// Set by the first error ever (Go's `errOnce`): later errors are dropped.
    seen: bool,
    err: Option<E>,
}

/// A group of Gs working on subtasks of one task, collecting the first
/// error: Go's `errgroup.Group`.
///
/// - [`go`](ErrGroup::go) spawns a G running a future that returns
///   `Result<(), E>`; [`wait`](ErrGroup::wait) waits for all of them and
///   returns the first error.
/// - With [`with_context`](ErrGroup::with_context), the first error (and
///   `wait` returning) cancels the derived context, so the other Gs can
///   stop early.
/// - [`set_limit`](ErrGroup::set_limit) bounds the number of futures
///   running at once. [`go`](ErrGroup::go) never blocks: with no slot
///   free, the new G waits (parked) for one before running its future.
///   [`go_async`](ErrGroup::go_async) instead parks the caller until a
///   slot is free (Go's back-pressure); [`try_go`](ErrGroup::try_go) runs
///   the future only if a slot is free now.
///
/// Cloning gives another handle to the same group.
///
/// ```
/// use goro::sync::ErrGroup;
/// let sum = goro::run(async {
///     let g = ErrGroup::<String>::new();
///     for i in 0..4 {
///         g.go(async move {
///             if i == 2 { Err(format!("task {i} failed")) } else { Ok(()) }
///         });
///     }
///     g.wait().await
/// });
/// assert_eq!(sum, Err("task 2 failed".to_string()));
/// ```
pub struct ErrGroup<E> {
    inner: Arc<Inner<E>>,
}

impl<E> Clone for ErrGroup<E> {
    fn clone(&self) -> Self {
        ErrGroup {
            inner: self.inner.clone(),
        }
    }
}

impl<E> fmt::Debug for ErrGroup<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrGroup")
            .field("active", &self.inner.wg.__counter())
            .finish_non_exhaustive()
    }
}

impl<E: Send + 'static> Default for ErrGroup<E> {
    fn default() -> Self {
        Self::new()
    }
}

/// The cancel cause `with_context` gives when a G fails: the error's message.
///
/// # Examples
///
/// ```
/// use goro::context;
/// use goro::sync::{ErrGroup, GroupError};
/// let cause = goro::run(async {
///     let (g, ctx) = ErrGroup::<String>::with_context(&context::background());
///     g.go(async { Err("disk full".to_string()) });
///     let _ = g.wait().await;
///     context::cause(&ctx).unwrap()
/// });
/// let e = cause.downcast_ref::<GroupError>().unwrap();
/// assert_eq!(e.to_string(), "disk full");
/// ```
#[derive(Debug, Clone)]
pub struct GroupError(String);

impl fmt::Display for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GroupError {}

fn group_cause<E: fmt::Display>(e: &E) -> Cause {
    std::sync::Arc::new(GroupError(e.to_string()))
}

impl<E: Send + 'static> ErrGroup<E> {
    /// An empty group with no limit and no context (Go's zero `Group`).
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::ErrGroup;
    /// let res = goro::run(async {
    ///     let g = ErrGroup::<std::num::ParseIntError>::new();
    ///     for s in ["1", "2", "3"] {
    ///         g.go(async move { s.parse::<i32>().map(drop) });
    ///     }
    ///     g.wait().await
    /// });
    /// assert!(res.is_ok());
    /// ```
    pub fn new() -> Self {
        Self::make(None)
    }

    fn make(cancel: Option<(CancelCauseFunc, MakeCause<E>)>) -> Self {
        ErrGroup {
            inner: Arc::new(Inner {
                wg: WaitGroup::new(),
                sem: Mutex::new(None),
                err: Mutex::new(ErrSlot {
                    seen: false,
                    err: None,
                }),
                cancel,
            }),
        }
    }

    /// A group and a context derived from `ctx`, cancelled when a G of the
    /// group first returns an error or when `wait` returns, whichever comes
    /// first: Go's `errgroup.WithContext`.
    ///
    /// The context's [`cause`](crate::context::cause) is then a
    /// [`GroupError`] carrying the first error's message (the error value
    /// itself goes to `wait`), or `Canceled` if there was no error.
    ///
    /// ```
    /// use goro::context::{self, ContextError};
    /// use goro::sync::ErrGroup;
    /// let (res, err) = goro::run(async {
    ///     let (g, ctx) = ErrGroup::<String>::with_context(&context::background());
    ///     let c = ctx.clone();
    ///     g.go(async move {
    ///         c.cancelled().await; // stops when a sibling fails
    ///         Ok(())
    ///     });
    ///     g.go(async { Err("failed".to_string()) });
    ///     (g.wait().await, ctx.err())
    /// });
    /// assert_eq!(res, Err("failed".to_string()));
    /// assert_eq!(err, Some(ContextError::Canceled));
    /// ```
    pub fn with_context(ctx: &Context) -> (ErrGroup<E>, Context)
    where
        E: fmt::Display,
    {
        let (ctx, cancel) = context::with_cancel_cause(ctx);
        (Self::make(Some((cancel, group_cause::<E>))), ctx)
    }

    /// Limits the number of futures running at once to `n` (Go's
    /// `SetLimit`): a G started by `go` waits for a slot before running its
    /// future, `go_async` waits before starting it. `set_limit(0)` makes
    /// every new G wait forever, as Go's `Go` would.
    ///
    /// # Panics
    ///
    /// `errgroup: modify limit while N goroutines in the group are still
    /// active` if Gs of the group are running, as Go does.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::ErrGroup;
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    /// let most = goro::run(async {
    ///     let g = ErrGroup::<String>::new();
    ///     g.set_limit(2); // at most 2 Gs at a time
    ///     let active = Arc::new(AtomicUsize::new(0));
    ///     let most = Arc::new(AtomicUsize::new(0));
    ///     for _ in 0..6 {
    ///         let (active, most) = (active.clone(), most.clone());
    ///         g.go_async(async move {
    ///             let n = active.fetch_add(1, SeqCst) + 1;
    ///             most.fetch_max(n, SeqCst);
    ///             goro::time::sleep(std::time::Duration::from_millis(1)).await;
    ///             active.fetch_sub(1, SeqCst);
    ///             Ok(())
    ///         })
    ///         .await;
    ///     }
    ///     g.wait().await.unwrap();
    ///     most.load(SeqCst)
    /// });
    /// assert!((1..=2).contains(&most));
    /// ```
    #[track_caller]
    pub fn set_limit(&self, n: usize) {
        self.replace_sem(Some(Arc::new(Semaphore::new(n))));
    }

    /// Removes the limit (Go's `SetLimit(-1)`).
    ///
    /// # Panics
    ///
    /// As [`set_limit`](ErrGroup::set_limit).
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::ErrGroup;
    /// goro::run(async {
    ///     let g = ErrGroup::<()>::new();
    ///     g.set_limit(1);
    ///     g.clear_limit(); // no limit again
    ///     let (tx, rx) = goro::chan::<()>(0);
    ///     let rx2 = rx.clone();
    ///     assert!(g.try_go(async move { rx.recv().await; Ok(()) }));
    ///     assert!(g.try_go(async move { rx2.recv().await; Ok(()) })); // no slot needed
    ///     drop(tx);
    ///     g.wait().await.unwrap();
    /// });
    /// ```
    #[track_caller]
    pub fn clear_limit(&self) {
        self.replace_sem(None);
    }

    #[track_caller]
    fn replace_sem(&self, new: Option<Sem>) {
        let mut sem = self.inner.sem.lock();
        if let Some(s) = &*sem {
            let active = s.held();
            if active != 0 {
                drop(sem);
                panic!(
                    "errgroup: modify limit while {active} goroutines in the group are still active"
                );
            }
        }
        *sem = new;
    }

    fn sem(&self) -> Option<Sem> {
        self.inner.sem.lock().clone()
    }

    /// Runs `fut` in a new G (Go's `g.Go(f)`). The first `Err` it returns
    /// is kept for [`wait`](ErrGroup::wait) (and cancels the group's
    /// context, if any); later errors are dropped.
    ///
    /// Never blocks. With a limit set and no slot free, the new G first
    /// waits for a slot (parked, FIFO, wait reason `semacquire`), then runs
    /// `fut`; [`wait`](ErrGroup::wait) counts it from this call on. Use
    /// [`go_async`](ErrGroup::go_async) to make the caller wait instead.
    ///
    /// # Panics
    ///
    /// Outside a goro runtime (spawning needs one), like `goro::go`.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::ErrGroup;
    /// let res = goro::run(async {
    ///     let g = ErrGroup::<String>::new();
    ///     for url in ["a.example", "b.example", "bad"] {
    ///         g.go(async move {
    ///             if url.ends_with(".example") {
    ///                 Ok(())
    ///             } else {
    ///                 Err(format!("fetch {url}: invalid"))
    ///             }
    ///         });
    ///     }
    ///     g.wait().await
    /// });
    /// assert_eq!(res, Err("fetch bad: invalid".to_string()));
    /// ```
    #[track_caller]
    pub fn go<F>(&self, fut: F)
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        let sem = self.sem();
        let slot = match &sem {
            None => true,
            Some(s) => s.try_acquire(1).map(|p| p.forget()).is_some(),
        };
        self.spawn(fut, sem, slot);
    }

    /// Like [`go`](ErrGroup::go), but waits for a slot by parking the
    /// calling G (wait reason `semacquire`), as Go's `g.Go` blocks its
    /// caller. Cancel safe: dropping it before it completes takes no slot
    /// and spawns nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::ErrGroup;
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// let total = goro::run(async {
    ///     let g = ErrGroup::<String>::new();
    ///     g.set_limit(2);
    ///     let total = Arc::new(AtomicU32::new(0));
    ///     for i in 1..=5 {
    ///         let total = total.clone();
    ///         // Parks this G (not the thread) while 2 Gs are already running.
    ///         g.go_async(async move {
    ///             total.fetch_add(i, Ordering::SeqCst);
    ///             Ok(())
    ///         })
    ///         .await;
    ///     }
    ///     g.wait().await.unwrap();
    ///     total.load(Ordering::SeqCst)
    /// });
    /// assert_eq!(total, 15);
    /// ```
    pub async fn go_async<F>(&self, fut: F)
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        let sem = self.sem();
        if let Some(s) = &sem {
            s.acquire(1).await.forget();
        }
        self.spawn(fut, sem, true);
    }

    /// Runs `fut` in a new G only if a slot is free now (Go's `TryGo`);
    /// returns whether it did. Without a limit it always does.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::ErrGroup;
    /// goro::run(async {
    ///     let g = ErrGroup::<()>::new();
    ///     g.set_limit(1);
    ///     let (tx, rx) = goro::chan::<()>(0);
    ///     assert!(g.try_go(async move { rx.recv().await; Ok(()) }));
    ///     assert!(!g.try_go(async { Ok(()) })); // the only slot is taken
    ///     drop(tx); // lets the first G finish
    ///     g.wait().await.unwrap();
    ///     assert!(g.try_go(async { Ok(()) }));
    ///     g.wait().await.unwrap();
    /// });
    /// ```
    #[track_caller]
    pub fn try_go<F>(&self, fut: F) -> bool
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        let sem = self.sem();
        if let Some(s) = &sem {
            match s.try_acquire(1) {
                Some(p) => p.forget(),
                None => return false,
            }
        }
        self.spawn(fut, sem, true);
        true
    }

    /// Adds a G to the group and spawns it; without `slot` (a limit, and
    /// no slot taken yet) the G takes one first.
    #[track_caller]
    fn spawn<F>(&self, fut: F, sem: Option<Sem>, slot: bool)
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        self.inner.wg.add(1);
        let inner = self.inner.clone();
        super::spawn_g(async move {
            // Go's `defer g.done()`: runs even if `fut` panics or the G is
            // dropped while waiting for its slot.
            let mut done = Done {
                inner: &inner,
                sem: sem.clone(),
                slot,
            };
            if let (Some(s), false) = (&sem, slot) {
                s.acquire(1).await.forget();
                done.slot = true;
            }
            if let Err(e) = fut.await {
                inner.record(e);
            }
        });
    }

    /// Waits until every G of the group has finished, then returns the
    /// first error, if any (Go's `Wait`); with a context, cancels it.
    ///
    /// The error is moved out to the caller, so a later `wait` returns
    /// `Ok(())` (only the first error of the group is ever kept, as with
    /// Go's `errOnce`). Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::ErrGroup;
    /// let (first, second) = goro::run(async {
    ///     let g = ErrGroup::<&'static str>::new();
    ///     g.go(async { Err("only error") });
    ///     let first = g.wait().await;
    ///     let second = g.wait().await; // the error was moved out by the first wait
    ///     (first, second)
    /// });
    /// assert_eq!(first, Err("only error"));
    /// assert_eq!(second, Ok(()));
    /// ```
    pub async fn wait(&self) -> Result<(), E> {
        self.inner.wg.wait().await;
        let err = self.inner.err.lock().err.take();
        if let Some((cancel, make)) = &self.inner.cancel {
            cancel.cancel(err.as_ref().map(make));
        }
        match err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// [`wait`](ErrGroup::wait) for an ordinary thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::ErrGroup;
    /// let rt = goro::Runtime::new();
    /// let g = ErrGroup::<String>::new();
    /// rt.block_on(async {
    ///     g.go(async { Ok(()) });
    ///     g.go(async { Err("failed".to_string()) });
    /// });
    /// // Wait from this ordinary thread while the Gs run on `rt`.
    /// assert_eq!(g.wait_blocking(), Err("failed".to_string()));
    /// ```
    pub fn wait_blocking(&self) -> Result<(), E> {
        crate::runtime::block_on(self.wait())
    }
}

impl<E> Inner<E> {
    /// Keeps the first error and cancels the context (Go's `errOnce.Do`).
    fn record(&self, e: E) {
        let mut slot = self.err.lock();
        if slot.seen {
            drop(slot);
            drop(e);
            return;
        }
        slot.seen = true;
        let cause = self.cancel.as_ref().map(|(_, make)| make(&e));
        slot.err = Some(e);
        drop(slot);
        if let (Some((cancel, _)), Some(cause)) = (&self.cancel, cause) {
            cancel.cancel(Some(cause));
        }
    }
}

/// Go's `g.done()`: gives the slot back (if taken), then marks the G done.
struct Done<'a, E> {
    inner: &'a Inner<E>,
    sem: Option<Sem>,
    /// Whether the G holds a permit of `sem`.
    slot: bool,
}

impl<E> Drop for Done<'_, E> {
    fn drop(&mut self) {
        if let (Some(s), true) = (&self.sem, self.slot) {
            s.release(1);
        }
        self.inner.wg.done();
    }
}

//! G: one goroutine, one allocation (header + future), and its handles.
//!
//! Mirrors Go's `g` (runtime2.go) and `newproc`/`goexit`/`ready` (proc.go).
//! A G is a `Task<F>`: a `Header` followed by the future's stage, reached
//! through a type-erased `GRef` (a counted pointer to the header) and a
//! `Vtable`. The Waker is a `GRef` in disguise: cloning it bumps the count,
//! waking it is Go's `goready` (the current P's `runnext`), so a wake never
//! allocates.
//!
//! # Scheduling states (`Header::state`, one atomic byte)
//! `IDLE` (parked, waiting for a wake) → `SCHEDULED` (in exactly one run
//! queue) → `RUNNING` (being polled by one M) → back to `IDLE`, or to
//! `NOTIFIED` if woken while running (the M re-queues it after the poll),
//! or `DONE`. Only the transition into `SCHEDULED` enqueues, so a G is in at
//! most one queue; only `SCHEDULED → RUNNING` polls, so one M polls it.
//!
//! # References (`Header::refs`)
//! Held by: the registry (until the G ends), the `JoinHandle`, every queue
//! slot holding it, every Waker clone. The last release frees the task.

use super::sched::Sched;
use super::wait::WaitReason;
use crate::loom::Mutex;
use crate::loom::UnsafeCell;
use crate::loom::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering, fence};
use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, Location};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

pub(crate) const IDLE: u8 = 0;
pub(crate) const SCHEDULED: u8 = 1;
pub(crate) const RUNNING: u8 = 2;
pub(crate) const NOTIFIED: u8 = 3;
pub(crate) const DONE: u8 = 4;

/// The type-erased part of every G.
pub(crate) struct Header {
    /// Reference count (see the module docs). Any thread.
    refs: AtomicUsize,
    /// Scheduling state. Written by wakers (IDLE→SCHEDULED, RUNNING→NOTIFIED)
    /// and by the polling M (the rest).
    pub(crate) state: AtomicU8,
    /// True while a `JoinHandle` exists. Written by the handle's drop.
    join_interest: AtomicBool,
    /// Claimed (false→true) by whoever takes the output: the handle, or the
    /// panic reporter when no handle is left. Exactly one reads the stage.
    output_claimed: AtomicBool,
    /// The JoinHandle's waker. Written by the handle, taken by completion.
    join_waker: Mutex<Option<Waker>>,
    vtable: &'static Vtable,
    /// The runtime this G belongs to.
    pub(crate) sched: Arc<Sched>,
    /// goid, unique per runtime.
    pub(crate) id: u64,
    /// goid of the G that spawned this one (0: a plain thread).
    pub(crate) parent: u64,
    /// Where `go` was called (`created by … at file:line`).
    pub(crate) site: &'static Location<'static>,
    /// Why the G is parked (`WaitReason::to_u8`). Written by the G itself.
    pub(crate) wait_reason: AtomicU8,
    /// When the G last parked, in ns since the runtime's epoch. Written by the M.
    pub(crate) wait_since: AtomicU64,
    /// Registry slot; written once at spawn, before the G is published.
    pub(crate) reg_key: AtomicUsize,
    /// Set (Relaxed) by the M at the G's first poll; read by the global run
    /// queue to tell started Gs from never-run ones (a hint: no ordering).
    started: AtomicBool,
}

impl Header {
    /// Whether the G has been polled at least once.
    #[inline]
    pub(crate) fn has_run(&self) -> bool {
        self.started.load(Ordering::Relaxed)
    }

    /// Marks the G as started (its first poll).
    #[inline]
    pub(crate) fn mark_started(&self) {
        if !self.started.load(Ordering::Relaxed) {
            self.started.store(true, Ordering::Relaxed);
        }
    }
}

struct Vtable {
    /// Polls the future; `Ready(true)` if it panicked.
    poll: unsafe fn(NonNull<Header>, &mut Context<'_>) -> Poll<bool>,
    /// Drops the future (shutdown), storing `JoinError::Cancelled`.
    cancel: unsafe fn(NonNull<Header>),
    /// Moves the output to `*dst` (a `Option<Result<T, JoinError>>`).
    read_output: unsafe fn(NonNull<Header>, *mut ()),
    /// Takes a panic payload out of a finished stage, if it holds one.
    take_panic: unsafe fn(NonNull<Header>) -> Option<Box<dyn Any + Send>>,
    dealloc: unsafe fn(NonNull<Header>),
}

enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

#[repr(C)]
struct Task<F: Future> {
    header: Header,
    /// Accessed only by the M holding `RUNNING` (or the canceller holding the
    /// claim), and after `DONE` only by the `output_claimed` winner.
    stage: UnsafeCell<Stage<F>>,
}

/// A counted reference to a G.
pub(crate) struct GRef(NonNull<Header>);

// SAFETY: a G's header is Sync (atomics and locks) and its future is Send;
// the stage is only touched under the state protocol above.
unsafe impl Send for GRef {}
// SAFETY: as above.
unsafe impl Sync for GRef {}

impl GRef {
    /// Allocates a G for `fut` with one reference per returned handle:
    /// (registry/queue ref, JoinHandle ref).
    pub(crate) fn new<F>(
        fut: F,
        sched: Arc<Sched>,
        id: u64,
        parent: u64,
        site: &'static Location<'static>,
    ) -> (GRef, GRef)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let task = Task {
            header: Header {
                refs: AtomicUsize::new(2),
                state: AtomicU8::new(SCHEDULED),
                join_interest: AtomicBool::new(true),
                output_claimed: AtomicBool::new(false),
                join_waker: Mutex::new(None),
                vtable: vtable_of::<F>(),
                sched,
                id,
                parent,
                site,
                wait_reason: AtomicU8::new(0),
                wait_since: AtomicU64::new(0),
                reg_key: AtomicUsize::new(usize::MAX),
                started: AtomicBool::new(false),
            },
            stage: UnsafeCell::new(Stage::Running(fut)),
        };
        let layout = std::alloc::Layout::new::<Task<F>>();
        let mem = super::gcache::alloc(layout).cast::<Task<F>>();
        let Some(mem) = NonNull::new(mem) else {
            std::alloc::handle_alloc_error(layout)
        };
        // SAFETY: fresh memory with Task<F>'s size and (at least) alignment.
        unsafe { mem.as_ptr().write(task) };
        let ptr = mem.cast::<Header>();
        (GRef(ptr), GRef(ptr))
    }

    #[inline]
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: we hold a reference, so the task is alive.
        unsafe { self.0.as_ref() }
    }

    #[inline]
    pub(crate) fn into_raw(self) -> *mut Header {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }

    /// # Safety
    /// `p` came from `into_raw` and its reference is transferred here.
    #[inline]
    pub(crate) unsafe fn from_raw(p: *mut Header) -> GRef {
        // SAFETY: the caller passes a non-null pointer from into_raw.
        GRef(unsafe { NonNull::new_unchecked(p) })
    }

    /// A new reference to the same G.
    #[inline]
    pub(crate) fn clone_ref(&self) -> GRef {
        self.header().refs.fetch_add(1, Ordering::Relaxed);
        GRef(self.0)
    }

    pub(crate) fn ptr_eq(&self, other: &GRef) -> bool {
        self.0 == other.0
    }

    /// Polls the G's future; `Ready(panicked)` when it finished.
    ///
    /// # Safety
    /// The caller moved the state to `RUNNING`.
    pub(crate) unsafe fn poll(&self, cx: &mut Context<'_>) -> Poll<bool> {
        // SAFETY: forwarded contract.
        unsafe { (self.header().vtable.poll)(self.0, cx) }
    }

    /// Drops the future of a G claimed by the caller (state moved to
    /// `RUNNING` from `IDLE` or `SCHEDULED`), then completes it as cancelled.
    pub(crate) fn cancel_claimed(&self) {
        // SAFETY: the caller claimed the G, so nobody else touches the stage.
        unsafe { (self.header().vtable.cancel)(self.0) };
        self.complete(false);
    }

    /// Marks the G done, wakes its joiner, and reports a panic nobody can
    /// observe (no JoinHandle left) to the runtime.
    pub(crate) fn complete(&self, panicked: bool) {
        let h = self.header();
        // Release: pairs with the Acquire load in JoinHandle::poll, making
        // the stored output visible to the joiner. A swap, not a store: it
        // orders with a racing goready CAS (RUNNING -> NOTIFIED), which then
        // fails and leaves the G done.
        h.state.swap(DONE, Ordering::AcqRel);
        let w = h.join_waker.lock().take();
        if let Some(w) = w {
            w.wake();
        }
        if panicked && !h.join_interest.load(Ordering::Acquire) {
            self.report_panic();
        }
    }

    fn report_panic(&self) {
        let h = self.header();
        if h.output_claimed
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // SAFETY: we won the output claim and the state is DONE.
            if let Some(p) = unsafe { (h.vtable.take_panic)(self.0) } {
                h.sched.report_panic(p);
            }
        }
    }
}

impl Drop for GRef {
    #[inline]
    fn drop(&mut self) {
        // Release: our uses of the task happen before the free below.
        if self.header().refs.fetch_sub(1, Ordering::Release) == 1 {
            // Acquire: pairs with every other holder's Release decrement.
            fence(Ordering::Acquire);
            // SAFETY: the last reference is gone.
            unsafe { (self.header().vtable.dealloc)(self.0) };
        }
    }
}

fn vtable_of<F>() -> &'static Vtable
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    struct V<F>(PhantomData<F>);
    impl<F> V<F>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        const VT: Vtable = Vtable {
            poll: poll_fn::<F>,
            cancel: cancel_fn::<F>,
            read_output: read_output_fn::<F>,
            take_panic: take_panic_fn::<F>,
            dealloc: dealloc_fn::<F>,
        };
    }
    &V::<F>::VT
}

/// # Safety
/// `h` heads a live `Task<F>`, the caller has exclusive stage access.
unsafe fn stage<'a, F: Future>(h: NonNull<Header>) -> &'a mut Stage<F> {
    let task = h.cast::<Task<F>>();
    // SAFETY: per the function contract.
    unsafe { task.as_ref().stage.with_mut(|s| &mut *s) }
}

unsafe fn poll_fn<F: Future>(h: NonNull<Header>, cx: &mut Context<'_>) -> Poll<bool> {
    // SAFETY: the polling M holds RUNNING.
    let st = unsafe { stage::<F>(h) };
    let Stage::Running(fut) = st else {
        return Poll::Ready(false);
    };
    // SAFETY: the future lives inside the heap task and is never moved.
    let fut = unsafe { Pin::new_unchecked(fut) };
    match std::panic::catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(v)) => {
            *st = Stage::Finished(Ok(v));
            Poll::Ready(false)
        }
        Err(p) => {
            // Dropping the future may panic too; the payload we keep is the first.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| *st = Stage::Consumed));
            *st = Stage::Finished(Err(JoinError {
                repr: Repr::Panic(p),
            }));
            Poll::Ready(true)
        }
    }
}

unsafe fn cancel_fn<F: Future>(h: NonNull<Header>) {
    // SAFETY: the canceller claimed the G.
    let st = unsafe { stage::<F>(h) };
    if let Stage::Running(_) = st {
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| *st = Stage::Consumed));
        *st = Stage::Finished(Err(JoinError {
            repr: Repr::Cancelled,
        }));
    }
}

unsafe fn read_output_fn<F: Future>(h: NonNull<Header>, dst: *mut ()) {
    // SAFETY: the JoinHandle won the output claim after DONE.
    let st = unsafe { stage::<F>(h) };
    if let Stage::Finished(r) = std::mem::replace(st, Stage::Consumed) {
        // SAFETY: the JoinHandle<F::Output> passes a matching slot.
        unsafe { *(dst as *mut Option<Result<F::Output, JoinError>>) = Some(r) };
    }
}

unsafe fn take_panic_fn<F: Future>(h: NonNull<Header>) -> Option<Box<dyn Any + Send>> {
    // SAFETY: the caller won the output claim after DONE.
    let st = unsafe { stage::<F>(h) };
    if let Stage::Finished(Err(JoinError {
        repr: Repr::Panic(_),
    })) = st
    {
        if let Stage::Finished(Err(JoinError {
            repr: Repr::Panic(p),
        })) = std::mem::replace(st, Stage::Consumed)
        {
            return Some(p);
        }
    }
    None
}

unsafe fn dealloc_fn<F: Future>(h: NonNull<Header>) {
    let task = h.cast::<Task<F>>().as_ptr();
    // A future or output whose drop panics must not unwind into a waker drop.
    // SAFETY: the last reference is gone: nobody else reaches the task.
    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| unsafe { task.drop_in_place() }));
    // SAFETY: allocated by `GRef::new` with this layout; the value is gone.
    unsafe { super::gcache::dealloc(task.cast(), std::alloc::Layout::new::<Task<F>>()) };
}

// ---- the Waker ------------------------------------------------------------

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

unsafe fn waker_clone(p: *const ()) -> RawWaker {
    // SAFETY: p is a live header (the waker owns a reference).
    unsafe { (*(p as *const Header)).refs.fetch_add(1, Ordering::Relaxed) };
    RawWaker::new(p, &WAKER_VTABLE)
}

unsafe fn waker_wake(p: *const ()) {
    // SAFETY: the waker's reference moves into the GRef.
    let g = unsafe { GRef::from_raw(p as *mut Header) };
    goready(g);
}

unsafe fn waker_wake_by_ref(p: *const ()) {
    // SAFETY: p is live while the waker exists; we take a new reference.
    let g = unsafe { std::mem::ManuallyDrop::new(GRef::from_raw(p as *mut Header)) };
    goready(g.clone_ref());
}

unsafe fn waker_drop(p: *const ()) {
    // SAFETY: the waker's reference is released here.
    drop(unsafe { GRef::from_raw(p as *mut Header) });
}

/// The Waker vtable of every G.
pub(crate) fn waker_vtable() -> &'static RawWakerVTable {
    &WAKER_VTABLE
}

/// Go's `ready`: makes a parked G runnable. A G already queued or done is
/// left alone; a running one is marked to run again after this poll.
pub(crate) fn goready(g: GRef) {
    if let Some(g) = ready_state(g) {
        super::m::ready_g(g);
    }
}

/// The state step of `goready` without the placement: a parked G moves to
/// SCHEDULED and is given back for the caller to queue (the network
/// poller queues a batch at once, Go's `injectglist`); None if it was
/// running (now NOTIFIED), already queued, or done.
#[inline]
pub(crate) fn ready_state(g: GRef) -> Option<GRef> {
    let h = g.header();
    let mut s = h.state.load(Ordering::Acquire);
    loop {
        let next = match s {
            IDLE => SCHEDULED,
            RUNNING => NOTIFIED,
            _ => return None,
        };
        // AcqRel: pairs with the M's RUNNING→IDLE release so the poll's
        // effects are visible to whoever polls next.
        match h
            .state
            .compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) if next == SCHEDULED => return Some(g),
            Ok(_) => return None,
            Err(cur) => s = cur,
        }
    }
}

// ---- JoinHandle -------------------------------------------------------------

/// An owned permission to await a G's result (Go has none: use a channel or
/// a `WaitGroup` there).
///
/// `impl Future<Output = Result<T, JoinError>>`. Dropping the handle
/// detaches the G: it keeps running. Awaiting it parks the awaiting G (wait
/// reason `join`) and is cancel-safe: dropping the await loses nothing, the
/// handle can be polled again.
///
/// # Examples
///
/// ```
/// let total = goro::run(async {
///     let handles: Vec<_> = (1..=4).map(|i| goro::go(async move { i * 10 })).collect();
///     let mut total = 0;
///     for h in handles {
///         total += h.await.unwrap();
///     }
///     total
/// });
/// assert_eq!(total, 100);
/// ```
pub struct JoinHandle<T> {
    g: Option<GRef>,
    _t: PhantomData<fn() -> T>,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(g: GRef) -> Self {
        JoinHandle {
            g: Some(g),
            _t: PhantomData,
        }
    }

    /// True once the G has finished (its result is ready).
    ///
    /// # Examples
    ///
    /// ```
    /// goro::run(async {
    ///     let (tx, rx) = goro::chan::<()>(0);
    ///     let h = goro::go(async move { rx.recv().await });
    ///     assert!(!h.is_finished()); // still waiting for a value
    ///     tx.send(()).await.unwrap();
    ///     while !h.is_finished() {
    ///         goro::gosched().await;
    ///     }
    ///     assert_eq!(h.await.unwrap(), Some(()));
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.g
            .as_ref()
            .is_none_or(|g| g.header().state.load(Ordering::Acquire) == DONE)
    }

    /// The G's id, as shown in `goro::runtime::stack()`.
    ///
    /// # Examples
    ///
    /// ```
    /// goro::run(async {
    ///     let (tx, rx) = goro::chan::<()>(0);
    ///     let h = goro::go(async move { rx.recv().await });
    ///     assert!(h.id() > 0);
    ///     let dump = goro::runtime::stack();
    ///     assert!(dump.contains(&format!("goroutine {} [", h.id())));
    ///     drop(tx);
    ///     h.await.unwrap();
    /// });
    /// ```
    pub fn id(&self) -> u64 {
        self.g.as_ref().map_or(0, |g| g.header().id)
    }
}

impl<T> Unpin for JoinHandle<T> {}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let g = self.g.as_ref().expect("JoinHandle polled after completion");
        let h = g.header();
        // Acquire: pairs with the Release store of DONE in complete().
        if h.state.load(Ordering::Acquire) != DONE {
            let mut w = h.join_waker.lock();
            if h.state.load(Ordering::Acquire) != DONE {
                match &*w {
                    Some(old) if old.will_wake(cx.waker()) => {}
                    _ => *w = Some(cx.waker().clone()),
                }
                drop(w);
                super::set_wait_reason(WaitReason::JoinHandle);
                return Poll::Pending;
            }
        }
        let mut out: Option<Result<T, JoinError>> = None;
        if h.output_claimed
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // SAFETY: DONE and we won the claim; `out` matches F::Output = T.
            unsafe { (h.vtable.read_output)(g.0, &mut out as *mut _ as *mut ()) };
        }
        let g = self.g.take();
        drop(g);
        Poll::Ready(out.unwrap_or(Err(JoinError {
            repr: Repr::Cancelled,
        })))
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(g) = self.g.take() {
            let h = g.header();
            h.join_interest.store(false, Ordering::Release);
            // A panic that finished before we let go and was never observed
            // is reported now, as Go would end the program.
            if h.state.load(Ordering::Acquire) == DONE {
                g.report_panic();
            }
        }
    }
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .finish()
    }
}

/// Why a G gave no value: it panicked, or it was dropped at shutdown.
///
/// # Examples
///
/// ```
/// async fn work(n: u32) -> u32 {
///     if n == 0 {
///         panic!("boom");
///     }
///     100 / n
/// }
/// let err = goro::run(async { goro::go(work(0)).await.unwrap_err() });
/// assert!(err.is_panic());
/// assert_eq!(err.to_string(), "goroutine panicked: boom");
/// ```
pub struct JoinError {
    repr: Repr,
}

enum Repr {
    Panic(Box<dyn Any + Send>),
    Cancelled,
}

impl JoinError {
    /// True if the G panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// let res = goro::run(async {
    ///     goro::go(async {
    ///         let v: Vec<u32> = Vec::new();
    ///         v[1] // index out of range: the G panics
    ///     })
    ///     .await
    /// });
    /// assert!(res.unwrap_err().is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// True if the G was dropped before finishing (runtime shutdown).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = goro::Runtime::new();
    /// let (tx, rx) = goro::chan::<u8>(0);
    /// let h = rt.spawn(async move { rx.recv().await });
    /// drop(rt); // shuts down: the waiting G is dropped
    /// let err = goro::block_on(h).unwrap_err();
    /// assert!(err.is_cancelled());
    /// assert!(!err.is_panic());
    /// drop(tx);
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// The panic payload. Panics if the G did not panic.
    ///
    /// # Examples
    ///
    /// ```
    /// async fn parse(s: &'static str) -> i32 {
    ///     match s.parse() {
    ///         Ok(v) => v,
    ///         Err(_) => panic!("bad input"),
    ///     }
    /// }
    /// let err = goro::run(async { goro::go(parse("x")).await.unwrap_err() });
    /// let payload = err.into_panic();
    /// assert_eq!(payload.downcast_ref::<&str>(), Some(&"bad input"));
    /// ```
    pub fn into_panic(self) -> Box<dyn Any + Send> {
        match self.repr {
            Repr::Panic(p) => p,
            Repr::Cancelled => panic!("JoinError::into_panic on a G that did not panic"),
        }
    }

    /// The panic payload, or `Err(self)` if the G did not panic.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = goro::Runtime::new();
    /// let (tx, rx) = goro::chan::<u8>(0);
    /// let h = rt.spawn(async move { rx.recv().await });
    /// rt.shutdown();
    /// let err = goro::block_on(h).unwrap_err();
    /// // Not a panic: the error comes back.
    /// let err = err.try_into_panic().unwrap_err();
    /// assert!(err.is_cancelled());
    /// drop(tx);
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        match self.repr {
            Repr::Panic(p) => Ok(p),
            Repr::Cancelled => Err(self),
        }
    }
}

fn panic_message(p: &(dyn Any + Send)) -> &str {
    if let Some(s) = p.downcast_ref::<&str>() {
        s
    } else if let Some(s) = p.downcast_ref::<String>() {
        s
    } else {
        "Box<dyn Any>"
    }
}

impl std::fmt::Debug for JoinError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.repr {
            Repr::Panic(p) => write!(f, "JoinError::Panic({:?})", panic_message(p.as_ref())),
            Repr::Cancelled => f.write_str("JoinError::Cancelled"),
        }
    }
}

impl std::fmt::Display for JoinError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.repr {
            Repr::Panic(p) => write!(f, "goroutine panicked: {}", panic_message(p.as_ref())),
            Repr::Cancelled => f.write_str("goroutine was dropped at runtime shutdown"),
        }
    }
}

impl std::error::Error for JoinError {}

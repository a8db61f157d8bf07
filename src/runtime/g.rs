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
//! `complete` stores `DONE` (a racing wake's `RUNNING → NOTIFIED` is then
//! overwritten or fails: nothing requeues a finished G). Completion itself
//! is read from the join word, never from this one.
//!
//! # The join word (`Header::join`, one atomic byte; tokio's task state)
//! Completion and the `JoinHandle` meet on one word, changed only by
//! read-modify-writes, so each side sees what the other did before it:
//! - `JOIN_INTEREST`: a handle exists. Set at spawn, cleared by the handle's
//!   drop (or after its final poll).
//! - `COMPLETE`: the stage holds the result. Set once, by `complete`.
//! - `JOIN_WAKER`: `join_waker` holds the handle's waker and completion
//!   may read it. Set and cleared by the handle's poll (CAS, refused once
//!   `COMPLETE` is set); cleared by completion after waking it.
//!
//! Who owns what:
//! - The stage after `COMPLETE`: the handle, if `JOIN_INTEREST` was set
//!   when `COMPLETE` was (it reads the output or, on drop, reports a
//!   panic); otherwise completion, which reports a panic nobody can
//!   observe. The handle's drop clears `JOIN_INTEREST` with one
//!   `fetch_and`, completion sets `COMPLETE` with one `fetch_or`: exactly
//!   one of them sees the other's bit, so a detached G's panic is reported
//!   exactly once.
//! - `join_waker`: the handle's alone while `JOIN_WAKER` is clear; shared
//!   (read only: `will_wake`, `wake_by_ref`) while it is set; completion's
//!   when it clears `JOIN_WAKER` and finds `JOIN_INTEREST` gone (it then
//!   drops the waker). No lock: a waker's drop or wake may run any code.
//!
//! # Panics
//! A panic in a poll, or in the drop of the future once it is ready (it is
//! dropped inside the same `catch_unwind`), finishes the G with
//! `JoinError::Panic`; the M goes on. The handle gets the payload, or the
//! runtime does if no handle is left (`goro::run` then ends with it).
//!
//! # References (`Header::refs`)
//! Held by: the registry (until the G ends), the `JoinHandle`, every queue
//! slot holding it, every Waker clone. The last release frees the task.

use super::sched::Sched;
use crate::loom::UnsafeCell;
use crate::loom::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering, fence};
use crate::task::wait::WaitReason;
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

/// Join word: the stage holds the G's result.
const COMPLETE: u8 = 1;
/// Join word: a `JoinHandle` exists.
const JOIN_INTEREST: u8 = 2;
/// Join word: `join_waker` holds the handle's waker, readable by completion.
const JOIN_WAKER: u8 = 4;

/// The type-erased part of every G.
pub(crate) struct Header {
    /// Reference count (see the module docs). Any thread.
    refs: AtomicUsize,
    /// Scheduling state. Written by wakers (IDLE→SCHEDULED, RUNNING→NOTIFIED)
    /// and by the polling M (the rest).
    pub(crate) state: AtomicU8,
    /// The join word (`COMPLETE | JOIN_INTEREST | JOIN_WAKER`, see the
    /// module docs). Written by `complete` and by the `JoinHandle`.
    join: AtomicU8,
    /// The JoinHandle's waker. Written by the handle while `JOIN_WAKER` is
    /// clear; dropped by completion if it clears `JOIN_WAKER` after the
    /// handle is gone (module docs).
    join_waker: UnsafeCell<Option<Waker>>,
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
    /// claim), and after `COMPLETE` only by its owner (module docs).
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
    /// Whether the G has completed (its output or panic is in the stage):
    /// read from the join word, which carries completion (the scheduling
    /// state's `DONE` is a plain store, see `complete`). Acquire: pairs
    /// with `complete`'s AcqRel `fetch_or`.
    pub(crate) fn is_complete(&self) -> bool {
        self.header().join.load(Ordering::Acquire) & COMPLETE != 0
    }

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
        let layout = std::alloc::Layout::new::<Task<F>>();
        let mem = super::gcache::alloc(layout).cast::<Task<F>>();
        let Some(mem) = NonNull::new(mem) else {
            std::alloc::handle_alloc_error(layout)
        };
        // Written in place, field by field: building the `Task` first and
        // moving it in would copy the whole G twice.
        let t = mem.as_ptr();
        // SAFETY: fresh memory with Task<F>'s size and (at least) alignment;
        // both fields are written before any reference to the task exists.
        unsafe {
            (&raw mut (*t).header).write(Header {
                refs: AtomicUsize::new(2),
                state: AtomicU8::new(SCHEDULED),
                join: AtomicU8::new(JOIN_INTEREST),
                join_waker: UnsafeCell::new(None),
                vtable: vtable_of::<F>(),
                sched,
                id,
                parent,
                site,
                wait_reason: AtomicU8::new(0),
                wait_since: AtomicU64::new(0),
                reg_key: AtomicUsize::new(usize::MAX),
                started: AtomicBool::new(false),
            });
            (&raw mut (*t).stage).write(UnsafeCell::new(Stage::Running(fut)));
        }
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

    /// Marks the G done (Go's `goexit`; the stage holds its result): wakes
    /// its joiner, or, with no `JoinHandle` left, reports a panic to the
    /// runtime (nobody else can observe it).
    pub(crate) fn complete(&self, panicked: bool) {
        let h = self.header();
        // A racing goready CAS (RUNNING -> NOTIFIED) either comes first
        // and is overwritten, or sees DONE and fails: nothing requeues a
        // finished G. (loom can let this store land inside that CAS,
        // tokio-rs/loom#254, leaving NOTIFIED: harmless too, since nothing
        // reads completion from this word.) Release: pairs with the dumps'
        // Acquire load (trace.rs); the join word publishes the stage.
        h.state.store(DONE, Ordering::Release);
        // Release: publishes the stage to the handle (its Acquire loads).
        // Acquire: pairs with the handle's Release clearing JOIN_INTEREST
        // (its last use of the stage) and setting JOIN_WAKER (the waker).
        let prev = h.join.fetch_or(COMPLETE, Ordering::AcqRel);
        if prev & JOIN_INTEREST == 0 {
            if panicked {
                // SAFETY: the handle let go before COMPLETE: the stage is ours.
                unsafe { self.report_panic() };
            }
            return;
        }
        if prev & JOIN_WAKER != 0 {
            // SAFETY: JOIN_WAKER is set: the handle only reads the cell now.
            h.join_waker.with(|w| {
                // SAFETY: the cell is only read while JOIN_WAKER is set.
                if let Some(w) = unsafe { &*w } {
                    w.wake_by_ref();
                }
            });
            // AcqRel: Release ends our read of the cell before the handle
            // writes it again; Acquire pairs with a drop that cleared
            // JOIN_INTEREST meanwhile (the cell is then ours to empty).
            let prev = h.join.fetch_and(!JOIN_WAKER, Ordering::AcqRel);
            if prev & JOIN_INTEREST == 0 {
                // SAFETY: the handle is gone and left the cell to us.
                let w = h.join_waker.with_mut(|w| unsafe { (*w).take() });
                drop(w);
            }
        }
    }

    /// Reports the panic in the finished stage, if it holds one.
    ///
    /// # Safety
    /// The caller owns the stage after `COMPLETE` (module docs).
    unsafe fn report_panic(&self) {
        let h = self.header();
        // SAFETY: forwarded contract.
        if let Some(p) = unsafe { (h.vtable.take_panic)(self.0) } {
            h.sched.report_panic(p);
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

/// Polls the future; once it is ready, drops it inside the same unwind
/// guard, so a panic in its `Drop` is the G's panic like any other.
unsafe fn poll_fn<F: Future>(h: NonNull<Header>, cx: &mut Context<'_>) -> Poll<bool> {
    // SAFETY: the polling M holds RUNNING.
    let st = unsafe { stage::<F>(h) };
    let res = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let Stage::Running(fut) = &mut *st else {
            return Poll::Ready(None);
        };
        // SAFETY: the future lives inside the heap task and is never moved.
        let v = std::task::ready!(unsafe { Pin::new_unchecked(fut) }.poll(cx));
        // Drops the future; if its drop unwinds, the stage is still
        // `Consumed` (an assignment stores its value on unwind too).
        *st = Stage::Consumed;
        Poll::Ready(Some(v))
    }));
    match res {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(None)) => Poll::Ready(false),
        Ok(Poll::Ready(Some(v))) => {
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
    // SAFETY: the JoinHandle owns the stage after COMPLETE (module docs).
    let st = unsafe { stage::<F>(h) };
    if let Stage::Finished(r) = std::mem::replace(st, Stage::Consumed) {
        // SAFETY: the JoinHandle<F::Output> passes a matching slot.
        unsafe { *(dst as *mut Option<Result<F::Output, JoinError>>) = Some(r) };
    }
}

unsafe fn take_panic_fn<F: Future>(h: NonNull<Header>) -> Option<Box<dyn Any + Send>> {
    // SAFETY: the caller owns the stage after COMPLETE (module docs).
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

// ---- test hook --------------------------------------------------------------

/// A G outside any scheduler, for the loom models of the JoinHandle protocol
/// (`loom-tests/tests/join.rs`): `run` does what an M's `execute` and
/// `goexit` do to it. Not part of the public API.
#[doc(hidden)]
pub struct TestG(GRef);

impl TestG {
    /// A G for `fut` on a runtime of its own with no Ms, and its handle.
    #[track_caller]
    pub fn new<F>(fut: F) -> (TestG, JoinHandle<F::Output>)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let sched = Sched::new_detached();
        let (run, join) = GRef::new(fut, sched, 1, 0, Location::caller());
        (TestG(run), JoinHandle::new(join))
    }

    /// Claims the G (`SCHEDULED → RUNNING`, as `execute`), polls it once
    /// with a no-op waker and, if it finished, completes it (as `goexit`).
    /// True if it finished; false if it was not runnable or is pending (it
    /// is then runnable again).
    pub fn run(&self) -> bool {
        let h = self.0.header();
        // Acquire: as execute's claim.
        if h.state
            .compare_exchange(SCHEDULED, RUNNING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        let mut cx = Context::from_waker(Waker::noop());
        // SAFETY: we moved the state to RUNNING above.
        match unsafe { self.0.poll(&mut cx) } {
            Poll::Ready(panicked) => {
                self.0.complete(panicked);
                true
            }
            Poll::Pending => {
                // Release: publishes the poll to the next claim.
                h.state.store(SCHEDULED, Ordering::Release);
                false
            }
        }
    }

    /// The panic reported to the G's runtime (no handle was left to
    /// observe it), if any.
    pub fn take_reported_panic(&self) -> Option<Box<dyn Any + Send>> {
        self.0.header().sched.take_panic()
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
            .is_none_or(|g| g.header().join.load(Ordering::Acquire) & COMPLETE != 0)
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
        if !g.join_ready(cx.waker()) {
            super::set_wait_reason(WaitReason::JoinHandle);
            return Poll::Pending;
        }
        let mut out: Option<Result<T, JoinError>> = None;
        // SAFETY: COMPLETE was seen with JOIN_INTEREST held: the stage is
        // ours; `out` matches the task's F::Output = T.
        unsafe { (g.header().vtable.read_output)(g.0, &mut out as *mut _ as *mut ()) };
        if let Some(g) = self.g.take() {
            g.join_release();
        }
        Poll::Ready(out.unwrap_or(Err(JoinError {
            repr: Repr::Cancelled,
        })))
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(g) = self.g.take() {
            g.join_release();
        }
    }
}

// ---- the handle's side of the join word ------------------------------------

impl GRef {
    /// The handle's poll: true once the G is complete (the stage is then
    /// the handle's); otherwise `waker` is registered for the completion's
    /// wake. No lock is held while any waker is cloned or dropped.
    fn join_ready(&self, waker: &Waker) -> bool {
        let h = self.header();
        // Acquire: pairs with complete's fetch_or (the stage is written).
        let s = h.join.load(Ordering::Acquire);
        if s & COMPLETE != 0 {
            return true;
        }
        if s & JOIN_WAKER != 0 {
            // SAFETY: JOIN_WAKER is set: the cell is only read meanwhile.
            let same = h
                .join_waker
                .with(|w| unsafe { &*w }.as_ref().is_some_and(|w| w.will_wake(waker)));
            if same || self.join_update(|s| s & !JOIN_WAKER).is_err() {
                return !same; // registered already, or complete
            }
        }
        // JOIN_WAKER is clear: the cell is ours until we set it again.
        // SAFETY: as above; no other access to the cell now.
        let old = h
            .join_waker
            .with_mut(|w| unsafe { (*w).replace(waker.clone()) });
        let published = self.join_update(|s| s | JOIN_WAKER).is_ok();
        let new = if published {
            None
        } else {
            // Complete meanwhile: the cell stays ours; empty it.
            // SAFETY: JOIN_WAKER is still clear.
            h.join_waker.with_mut(|w| unsafe { (*w).take() })
        };
        drop((old, new)); // after publishing: a waker's drop may run user code
        !published
    }

    /// CAS loop on the join word applying `f`, refused (`Err`) once
    /// `COMPLETE` is set. AcqRel: Release publishes the handle's write of
    /// the cell (setting JOIN_WAKER) to complete's Acquire fetch_or;
    /// Acquire pairs with complete's Release clearing of JOIN_WAKER (its
    /// last read of the cell) and its fetch_or (the stage).
    fn join_update(&self, f: impl Fn(u8) -> u8) -> Result<(), ()> {
        let join = &self.header().join;
        let mut s = join.load(Ordering::Acquire);
        loop {
            if s & COMPLETE != 0 {
                return Err(());
            }
            match join.compare_exchange_weak(s, f(s), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(()),
                Err(cur) => s = cur,
            }
        }
    }

    /// The handle lets go (its drop, or the poll that took the output):
    /// clears `JOIN_INTEREST`; if the G completed first, reports a panic
    /// the stage still holds (as Go would end the program); drops the
    /// registered waker unless completion still reads it.
    fn join_release(self) {
        let h = self.header();
        // AcqRel: Release ends our uses of the stage and the cell before
        // completion takes them; Acquire pairs with complete's fetch_or
        // (the stage) and its clearing of JOIN_WAKER (its last read).
        let prev = h
            .join
            .fetch_and(!(JOIN_INTEREST | JOIN_WAKER), Ordering::AcqRel);
        if prev & COMPLETE != 0 {
            // SAFETY: COMPLETE came first: the stage is ours. A stage
            // whose output was read holds no panic.
            unsafe { self.report_panic() };
        }
        if prev & (COMPLETE | JOIN_WAKER) == COMPLETE | JOIN_WAKER {
            return; // completion is waking it and will drop it
        }
        if prev & (COMPLETE | JOIN_WAKER) != 0 {
            // SAFETY: completion is done with the cell, or never reads it
            // (JOIN_WAKER was clear before COMPLETE): it is ours.
            let w = h.join_waker.with_mut(|w| unsafe { (*w).take() });
            drop(w);
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

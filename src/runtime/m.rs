//! M: an OS thread running the scheduling loop (Go's `m` and `g0`).
//!
//! Mirrors Go's `mstart`, `schedule`, `findRunnable`, `execute`,
//! `stealWork`, `runqget`'s inheritTime, `resetspinning`, `stopm`, and
//! `entersyscall`/`exitsyscall` (proc.go).
//!
//! # The loop
//! `findRunnable`: due timers → every 61st tick one G from the global queue
//! → runnext / local queue → global queue (a fair batch) → steal (4 rounds
//! over the other Ps in random order; the last round also runs their due
//! timers and takes their runnext) → stop: give the P up, re-check
//! everything if we were spinning, then park until handed a P (or, for one
//! M, until the earliest timer).
//!
//! # Retake
//! Each poll is bracketed by `owner.begin_poll`/`end_poll`, a blocking call
//! by `enter_syscall`/`exit_syscall`, and queue operations made from inside
//! a poll go through `owner_op` (`owner.rs` has the handshake; every step
//! that another party may race is a CAS from the exact expected value),
//! except a wake into an empty runnext: runnext is only ever swapped or
//! CASed, so the waker swaps without the handshake and checks ownership
//! after (`ready_put_local`), saving a CAS per wake. If the P was retaken,
//! the woken G is taken back, unless someone already took it, right after
//! the swap or at the end of the poll. `MCtx::p` is this M's belief: inside
//! a poll it may be stale (sysmon retook the P), so nothing inside a poll
//! touches the P but through those CASes (`owned_put`, `with_owned_p`).
//!
//! An M that loses its P to sysmon in the middle of a poll finishes the
//! poll without one (a future cannot be preempted), then looks for a P like
//! any idle M. An M back from a blocking call whose P was retaken (or that
//! had lost it before the call began) waits for a P before the poll goes on
//! (`wait_for_p`, Go's exitsyscall0): it joins `pwait`, and a P goes to the
//! longest waiter when one is put idle or handed off (also one taken for
//! it from another M's blocking call: `Sched::retake_for_pwait`), and from
//! a running M every 61st tick or when its local queue is empty.
//!
//! `blocking` is Go's `entersyscallblock`: the P is handed off at once
//! when it has work (`entersyscallblock`), else left in the syscall state
//! for sysmon. `syscall` is Go's plain `entersyscall`, for calls that
//! usually return at once (a name lookup that is mostly an address
//! literal): the P always stays in the syscall state, for sysmon to
//! retake if the call lasts.
//!
//! # Shutdown
//! Shutdown closes every P (`owner.rs`'s `CLOSED`): an M inside a poll or a
//! blocking call then fails its next CAS, finishes the poll without a P,
//! and drops the G's future itself (`lost_after_poll`); an M between polls
//! exits and gives its P up.
//!
//! # Thread-local state
//! `CURRENT` points at the `MCtx` on this M's stack while it runs; Gs find
//! their P through it (for `goready`'s runnext and `go`'s runqput). It,
//! `cur_g` and `in_syscall` are reset by guards (`MExit`, `Polling`,
//! `Syscall`), so a panic unwinding through the loop or a blocking call
//! leaves none of them pointing at a dead frame.

use super::g::{self, GRef, Header};
use super::owner::PollOwner;
use super::p::P;
use super::runq::Overflow;
use super::sched::Sched;
use crate::loom::atomic::Ordering;
use crate::loom::{Arc as LArc, Condvar, Mutex};
use std::cell::Cell;
use std::mem::ManuallyDrop;
use std::ptr;
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, Waker};
use std::time::Instant;

/// Runnext picks one time slice may chain before the next runnext G goes
/// to the tail (so a ping-pong pair cannot starve the rest of the queue).
pub(super) const RUNNEXT_BUDGET: u32 = 64;

/// How an M parks: its slot says what it was handed.
#[derive(Default)]
pub(crate) struct MPark {
    slot: Mutex<MSlot>,
    cv: Condvar,
}

#[derive(Default)]
struct MSlot {
    /// Set by `hand`: woken with this P (None = exit or re-check).
    woken: bool,
    p: Option<usize>,
    spinning: bool,
    /// Set by `poke`: re-check timers, no P handed.
    poked: bool,
}

impl MPark {
    /// Wakes the M, handing it `p` (None: shutdown).
    pub(crate) fn hand(&self, p: Option<usize>, spinning: bool) {
        let mut s = self.slot.lock();
        s.woken = true;
        s.p = p;
        s.spinning = spinning;
        drop(s);
        self.cv.notify_one();
    }

    /// Wakes a timer-sleeping M to re-check the timers.
    pub(crate) fn poke(&self) {
        let mut s = self.slot.lock();
        s.poked = true;
        drop(s);
        self.cv.notify_one();
    }

    /// Parks until handed something (Some(P)), poked, or past `deadline`
    /// (None).
    pub(crate) fn park(&self, deadline: Option<Instant>) -> Option<(usize, bool)> {
        let mut s = self.slot.lock();
        loop {
            if s.woken {
                s.woken = false;
                return s.p.take().map(|p| (p, std::mem::take(&mut s.spinning)));
            }
            if s.poked {
                s.poked = false;
                return None;
            }
            match deadline {
                Some(d) => {
                    if Instant::now() >= d || self.cv.wait_until(&mut s, d) {
                        if s.woken {
                            continue;
                        }
                        return None;
                    }
                }
                None => self.cv.wait(&mut s),
            }
        }
    }
}

/// The state of the M running on this thread.
pub(crate) struct MCtx {
    pub(crate) sched: Arc<Sched>,
    pub(crate) park: LArc<MPark>,
    pub(crate) id: usize,
    /// The P this M holds (null: none).
    p: Cell<*const P>,
    spinning: Cell<bool>,
    /// The G being polled (null: none).
    pub(crate) cur_g: Cell<*const Header>,
    /// Set by gosched: after this poll the G goes to its P's yield buffer
    /// (`gosched_put`), not to sleep.
    pub(crate) yield_global: Cell<bool>,
    /// The value this M stored in its P's `pollgen` (0 between polls).
    pollval: Cell<u64>,
    /// Polls started by this M (makes `pollval` unique).
    pollseq: Cell<u64>,
    /// Channel operations left before the current G must yield
    /// (`coop_proceed`).
    budget: Cell<u32>,
    /// Selects left before the current G must yield (`coop_spend`).
    select_budget: Cell<u32>,
    /// The G this M last swapped into its P's empty runnext during the
    /// current poll, and that P (`ready_put`): taken back, if nobody has
    /// taken it, when the M learns it lost the P (`lost_p`).
    swapped: Cell<(*const P, *const Header)>,
    /// True while the polled G is inside `blocking` (Go's _Gsyscall): its P
    /// was handed off on purpose, so `go` must not wait for one.
    in_syscall: Cell<bool>,
}

/// Channel operations a G may complete in one poll before it yields: the
/// futures stand-in for Go's asynchronous preemption, so a G looping over
/// ready channels never holds its P long enough for sysmon to retake it,
/// and the other Gs of its P wait a few microseconds at most (tokio's
/// budget).
const COOP_BUDGET: u32 = 128;

/// Selects a G may complete in one poll before it yields (a select counts
/// against this budget, not `COOP_BUDGET`).
///
/// Why more selects than operations: a `for { select { … } }` loop is Go's
/// event loop, and a G that yields goes to the back of its P's queue, from
/// where an idle P steals it. Yielding a select loop as often as a plain
/// operation loop kept moving it, and the Gs it had just woken, between
/// Ps, so its senders parked far more often (BENCHMARKS.md, W5 and W6,
/// has the measurements behind this value and the ones that lost).
const SELECT_BUDGET: u32 = 512;

/// Charges one operation to the running G's budget. `Pending` (after
/// waking the G, so it goes to the back of its P's queue) when the budget
/// is spent; always `Ready` off the runtime. Call it before doing anything,
/// so yielding loses nothing.
#[inline]
pub(crate) fn coop_proceed(cx: &mut std::task::Context<'_>) -> Poll<()> {
    if coop_charge(|m| &m.budget) {
        return Poll::Ready(());
    }
    cx.waker().wake_by_ref();
    Poll::Pending
}

/// `coop_proceed` for a select: charges `SELECT_BUDGET`.
#[inline]
pub(crate) fn coop_proceed_select(cx: &mut std::task::Context<'_>) -> Poll<()> {
    if coop_spend() {
        return Poll::Ready(());
    }
    cx.waker().wake_by_ref();
    Poll::Pending
}

/// `coop_proceed_select` without a context (`select!` awaits its yield
/// point only when this returns false): charges one select and returns
/// true, or returns false (charging nothing) when the budget is spent.
/// Always true off the runtime.
#[inline]
pub(crate) fn coop_spend() -> bool {
    coop_charge(|m| &m.select_budget)
}

/// Go's `sync_runtime_canSpin` past its round count and core count, for
/// the sync package's spinning lockers: on an M, spinning pays only while
/// another P is running (so a holder may be running and about to unlock)
/// and this M's P has nothing else to run (else the P is better spent on
/// it); off the runtime, always (the caller checks the cores). `p` may be
/// stale inside a poll (sysmon retook it): it is only read, as a hint.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn sync_can_spin() -> bool {
    with_m(|m| {
        let Some(m) = m else { return true };
        let s = &m.sched;
        let procs = s.gomaxprocs.load(Ordering::Relaxed);
        let busy = s.npidle.load(Ordering::Relaxed) + s.nmspinning.load(Ordering::Relaxed) + 1;
        if procs <= busy {
            return false;
        }
        m.p().is_none_or(|p| !p.has_local_work())
    })
}

/// Takes one from the running G's budget `which`; false (taking nothing)
/// when it is spent. Inside `blocking` there is no budget (tokio's
/// `block_in_place` stops its budget too): the thread is not the P's, and
/// a `block_on` in there that yields would only poll itself again, for
/// ever. Checked only once the budget is spent, so it costs the fast path
/// nothing; `blocking` restores the G's budget when it returns.
#[inline(always)]
fn coop_charge(which: impl FnOnce(&MCtx) -> &Cell<u32>) -> bool {
    with_m(|m| {
        let Some(m) = m else { return true };
        if m.cur_g.get().is_null() {
            return true;
        }
        let budget = which(m);
        let b = budget.get();
        if b == 0 {
            return m.in_syscall.get();
        }
        budget.set(b - 1);
        true
    })
}

// A const initialiser spares every access the lazy-init check (std's
// macro); loom's macro takes no const block.
#[cfg(not(loom))]
crate::loom::thread_local! {
    static CURRENT: Cell<*const MCtx> = const { Cell::new(ptr::null()) };
}
#[cfg(loom)]
crate::loom::thread_local! {
    static CURRENT: Cell<*const MCtx> = Cell::new(ptr::null());
}

/// Runs `f` with this thread's M, if it is one.
#[inline]
pub(crate) fn with_m<R>(f: impl FnOnce(Option<&MCtx>) -> R) -> R {
    CURRENT.with(|c| {
        let p = c.get();
        // SAFETY: CURRENT is set only while the MCtx lives on this stack.
        f(unsafe { p.as_ref() })
    })
}

impl MCtx {
    #[inline]
    pub(crate) fn p(&self) -> Option<&P> {
        // SAFETY: Ps live as long as the Sched this M holds.
        unsafe { self.p.get().as_ref() }
    }

    fn set_p(&self, p: Option<&P>) {
        self.p.set(p.map_or(ptr::null(), |p| p as *const P));
    }
}

/// Go's `newproc` placement: puts a new G on this thread's P if it runs one
/// of `sched`'s Ps; gives it back otherwise.
///
/// A G whose P sysmon retook in the middle of its poll (a hog) stops here
/// until it holds a P again (`wait_for_p`), as a Go G is preempted at a
/// call: without the stop, a hog that keeps spawning runs beside the M
/// that took its P over, one thread more than `gomaxprocs`, and every lock
/// it takes can be descheduled with it.
pub(crate) fn spawn_put_local(sched: &Arc<Sched>, g: GRef) -> Option<GRef> {
    match put_local(sched, g, true, false) {
        Ok(_) => None,
        Err(g) if preempted(sched) => put_local(sched, g, true, false).err(),
        Err(g) => Some(g),
    }
}

/// If this thread is an M of `sched` in the middle of a poll whose P was
/// retaken (and not inside `blocking`), waits for a P and returns true.
fn preempted(sched: &Arc<Sched>) -> bool {
    with_m(|m| {
        let Some(m) = m else { return false };
        if !Arc::ptr_eq(&m.sched, sched)
            || m.pollval.get() == 0
            || m.in_syscall.get()
            || m.p().is_some()
        {
            return false;
        }
        wait_for_p(m);
        m.p().is_some()
    })
}

/// This thread's M and its P, if the M runs one of `sched`'s Ps.
#[inline]
fn local_p<'m>(m: Option<&'m MCtx>, sched: &Arc<Sched>) -> Option<(&'m MCtx, &'m P)> {
    let m = m?;
    if !Arc::ptr_eq(&m.sched, sched) {
        return None;
    }
    Some((m, m.p()?))
}

/// `p.runq.put(g, next)` under the ownership handshake (`owner_op`), for
/// this M's poll: `Ok` with the ring's overflow batch (for the global
/// queue), or `Err(g)` if sysmon took the P meanwhile (the M then holds
/// none: `lost_p`).
#[inline]
fn owned_put(m: &MCtx, p: &P, g: GRef, next: bool) -> Result<Option<Overflow>, GRef> {
    let mut slot = Some(g);
    let put = || {
        let g = slot.take().expect("put once");
        // SAFETY: owner_op runs this only while this M owns p.
        unsafe { p.runq.put(g, next) }
    };
    match p.owner.owner_op(m.pollval.get(), put) {
        Some(over) => Ok(over),
        None => {
            m.lost_p(); // sysmon took the P while we were polling
            Err(slot.take().expect("not put"))
        }
    }
}

impl MCtx {
    /// Whether a G is being polled on this M and is not inside `blocking`
    /// (where the thread is not the P's: `gosched` then yields the thread).
    #[inline]
    pub(crate) fn polling_g(&self) -> bool {
        !self.cur_g.get().is_null() && !self.in_syscall.get()
    }

    /// Runs `f` on this M's P if the M provably owns it: between polls
    /// (only its owner reaches a P then), or inside a poll under the
    /// ownership handshake (`owner_op`). None, without running `f`, if the
    /// M holds no P or lost it during this poll (it then holds none).
    pub(crate) fn with_owned_p<R>(&self, f: impl FnOnce(&P) -> R) -> Option<R> {
        let p = self.p()?;
        let v = self.pollval.get();
        if v == 0 {
            return Some(f(p));
        }
        let r = p.owner.owner_op(v, || f(p));
        if r.is_none() {
            self.lost_p();
        }
        r
    }
}

/// Puts `g` on this thread's P (runnext with `next`) if it runs one of
/// `sched`'s Ps, else gives it back. With `check_alone`, also tells whether
/// `g` is now all the P's queue holds (runnext included); without, `false`.
fn put_local(sched: &Arc<Sched>, g: GRef, next: bool, check_alone: bool) -> Result<bool, GRef> {
    with_m(|m| {
        let Some((m, p)) = local_p(m, sched) else {
            return Err(g);
        };
        if let Some(batch) = owned_put(m, p, g, next)? {
            sched.global_push_batch(batch);
            return Ok(false);
        }
        Ok(check_alone && p.runq.len() <= 1)
    })
}

/// Go's `ready` placement: runnext of this M's P. True if another M should
/// be woken (`wakep`): the G went to the global queue, or the P's queue now
/// holds more than the woken G. When the woken G is all the P has, this M
/// runs it as soon as the current poll ends, so nobody is woken to steal it
/// (as tokio's LIFO slot; Go wakes a spinning M, which then waits 3 µs
/// before stealing runnext). A poll that runs on for long after the wake
/// loses the P to sysmon, with the woken G in its queue.
pub(crate) fn ready_put(sched: &Arc<Sched>, g: GRef) -> bool {
    match ready_put_local(sched, g) {
        Ok(alone) => !alone,
        Err(g) => {
            sched.global_push_batch(Some(g));
            true
        }
    }
}

/// `put_local(g, next, check_alone)` for a wake, without the ownership
/// handshake when runnext is empty (the usual case: the M took it to run
/// the G that is waking this one): runnext is only ever swapped or CASed,
/// so the swap is safe whoever owns the P; only the displaced G, which
/// goes to the ring, needs `owner_op`. If the P turns out to have been
/// retaken (checked right after, and again at the end of the poll), the
/// G is taken back unless somebody already took it.
fn ready_put_local(sched: &Arc<Sched>, g: GRef) -> Result<bool, GRef> {
    with_m(|m| {
        let Some((m, p)) = local_p(m, sched) else {
            return Err(g);
        };
        let v = m.pollval.get();
        let raw = g.header() as *const Header;
        let displaced = p.runq.swap_runnext(g);
        // From here on a loss of the P takes `g` back (`lost_p`).
        m.swapped.set((p as *const P, raw));
        if let Some(old) = displaced {
            match owned_put(m, p, old, false) {
                Ok(None) => {}
                Ok(Some(batch)) => {
                    sched.global_push_batch(batch);
                    return Ok(false);
                }
                Err(old) => {
                    sched.global_push_batch(Some(old));
                    return Ok(false);
                }
            }
        }
        if p.owner.is_current(v) {
            return Ok(p.runq.len() <= 1);
        }
        m.lost_p();
        Ok(false)
    })
}

/// Go's `ready` for a G whose state just moved to SCHEDULED: runnext of
/// this thread's P when it runs one of the G's runtime's Ps (borrowing the
/// M's own `Arc<Sched>`, so a wake costs no reference-count traffic on the
/// shared scheduler), else `Sched::ready` through the G's own handle.
pub(crate) fn ready_g(g: GRef) {
    let rest = with_m(|m| {
        let Some(m) = m else { return Some(g) };
        if !Arc::ptr_eq(&m.sched, &g.header().sched) {
            return Some(g);
        }
        m.sched.ready(g);
        None
    });
    if let Some(g) = rest {
        let sched = g.header().sched.clone();
        sched.ready(g);
    }
}

impl MCtx {
    /// Marks the start of a poll on `p` (a value unique to this M and poll).
    fn begin_poll(&self, p: &P) {
        let seq = self.pollseq.get().wrapping_add(1);
        self.pollseq.set(seq);
        let v = PollOwner::value(self.id, seq);
        self.pollval.set(v);
        self.budget.set(COOP_BUDGET);
        self.select_budget.set(SELECT_BUDGET);
        self.swapped.set((ptr::null(), ptr::null()));
        p.owner.begin_poll(v);
    }

    /// This M learned that sysmon retook its P mid-poll: it holds no P, and
    /// a G it swapped into that P's runnext (`ready_put_local`) that nobody
    /// has taken yet goes to the global queue.
    fn lost_p(&self) {
        self.set_p(None);
        let (p, g) = self.swapped.replace((ptr::null(), ptr::null()));
        if p.is_null() {
            return;
        }
        // SAFETY: Ps live as long as the Sched.
        let p = unsafe { &*p };
        if let Some(g) = p.runq.take_back_runnext(g) {
            self.sched.global_push_batch(Some(g));
            self.sched.wakep();
        }
    }

    /// Ends the poll: false if sysmon retook the P meanwhile (we then hold
    /// no P).
    fn end_poll(&self) -> bool {
        let v = self.pollval.replace(0);
        let Some(p) = self.p() else {
            self.lost_p(); // a G swapped in before the loss was noticed
            return false;
        };
        if p.owner.end_poll(v) {
            self.swapped.set((ptr::null(), ptr::null()));
            return true;
        }
        self.lost_p();
        false
    }
}

/// The M thread's body.
pub(crate) fn mstart(sched: Arc<Sched>, id: usize, p: Option<usize>, spinning: bool) {
    let ctx = MCtx {
        park: LArc::new(MPark::default()),
        id,
        p: Cell::new(ptr::null()),
        spinning: Cell::new(spinning),
        cur_g: Cell::new(ptr::null()),
        yield_global: Cell::new(false),
        pollval: Cell::new(0),
        pollseq: Cell::new(0),
        budget: Cell::new(COOP_BUDGET),
        select_budget: Cell::new(SELECT_BUDGET),
        swapped: Cell::new((ptr::null(), ptr::null())),
        in_syscall: Cell::new(false),
        sched,
    };
    ctx.set_p(p.and_then(|i| ctx.sched.p(i)));
    let exit = MExit::enter(&ctx);
    schedule(&ctx);
    drop(exit);
}

/// Sets `CURRENT` for the M's life and, when the M ends (shutdown, or a
/// panic unwinding out of the loop), clears it and gives up what the M
/// holds: its P if it is between polls (a P inside a poll keeps this M's
/// poll value, which sysmon or shutdown takes), and its spinning count.
struct MExit<'a>(&'a MCtx);

impl<'a> MExit<'a> {
    fn enter(ctx: &'a MCtx) -> Self {
        CURRENT.with(|c| c.set(ctx as *const MCtx));
        MExit(ctx)
    }
}

impl Drop for MExit<'_> {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(ptr::null()));
        let ctx = self.0;
        let sched = &ctx.sched;
        if ctx.spinning.replace(false) {
            sched.nmspinning.fetch_sub(1, Ordering::SeqCst);
        }
        if ctx.pollval.get() == 0 {
            if let Some(p) = ctx.p() {
                ctx.set_p(None);
                sched.pidleput(p); // closes it after shutdown
                // Unwinding: work published while we held the P found no
                // idle P to wake an M for (the consumer half of the dance).
                crate::loom::atomic::fence(Ordering::SeqCst);
                if !sched.shutdown.load(Ordering::SeqCst)
                    && (sched.global_len() > 0 || sched.any_local_work())
                {
                    sched.wakep();
                }
            }
        }
        sched.mcount.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Go's `schedule`: find a G, run it, forever (until shutdown).
fn schedule(ctx: &MCtx) {
    while let Some((g, inherit)) = find_runnable(ctx) {
        if ctx.spinning.get() {
            resetspinning(ctx);
        }
        execute(ctx, g, inherit);
    }
}

fn resetspinning(ctx: &MCtx) {
    ctx.spinning.set(false);
    ctx.sched.nmspinning.fetch_sub(1, Ordering::SeqCst);
    ctx.sched.wakep();
}

/// `cur_g` for the length of one poll: cleared when dropped, also by a
/// panic unwinding out of the poll, before the G's reference goes.
struct Polling<'a>(&'a MCtx);

impl<'a> Polling<'a> {
    #[inline]
    fn enter(ctx: &'a MCtx, h: &Header) -> Self {
        ctx.cur_g.set(h as *const Header);
        Polling(ctx)
    }
}

impl Drop for Polling<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.cur_g.set(ptr::null());
    }
}

/// Go's `execute`: polls `g` once on this M.
fn execute(ctx: &MCtx, g: GRef, inherit: bool) {
    let h = g.header();
    // Acquire: pairs with the waker's AcqRel CAS into SCHEDULED.
    if h.state
        .compare_exchange(
            g::SCHEDULED,
            g::RUNNING,
            Ordering::Acquire,
            Ordering::Relaxed,
        )
        .is_err()
    {
        return; // cancelled by shutdown
    }
    let p = ctx.p().expect("execute without a P");
    new_slice(p, inherit);
    h.wait_reason.store(0, Ordering::Relaxed);
    h.mark_started();
    let polling = Polling::enter(ctx, h);
    // A waker borrowing the registry's/queue's reference: no count traffic.
    // SAFETY: `g` keeps the header alive for the whole poll; clones of this
    // waker take their own references.
    let waker = ManuallyDrop::new(unsafe {
        Waker::from_raw(RawWaker::new(
            h as *const Header as *const (),
            g::waker_vtable(),
        ))
    });
    let mut cx = Context::from_waker(&waker);
    ctx.yield_global.set(false); // a gosched of a G that then finished
    ctx.begin_poll(p);
    // SAFETY: we moved the state to RUNNING above.
    let res = unsafe { g.poll(&mut cx) };
    let kept = ctx.end_poll();
    drop(polling);
    match res {
        Poll::Ready(panicked) => goexit(ctx, g, panicked),
        Poll::Pending if kept => park_or_requeue(ctx, g),
        Poll::Pending => lost_after_poll(ctx, g),
    }
}

/// After a Pending poll that lost its P (sysmon retook it, or shutdown
/// closed it): at shutdown the G's future is dropped here, by the M that
/// holds it (shutdown's `cancel_all` skips a G being polled); otherwise
/// the G parks or goes to the global queue.
#[cold]
fn lost_after_poll(ctx: &MCtx, g: GRef) {
    if !ctx.sched.shutdown.load(Ordering::Acquire) {
        park_or_requeue(ctx, g);
        return;
    }
    ctx.yield_global.set(false);
    let reg = ctx.sched.registry.remove(&g);
    // We hold the poll (RUNNING, or NOTIFIED by a wake since): the claim.
    g.cancel_claimed();
    drop(reg);
}

/// Go's `goexit0`: the G finished.
fn goexit(ctx: &MCtx, g: GRef, panicked: bool) {
    let reg = ctx.sched.registry.remove(&g);
    g.complete(panicked);
    drop(reg);
}

/// A yielded G can wait in its P's buffer for this many before the P's M
/// moves the batch to the global queue.
const YIELD_BATCH: usize = 64;

/// Go's `goschedImpl` after the state change: the G goes behind everything
/// this P has queued, then `wakep`. Go sends it to the global queue's tail;
/// goro first keeps it in the P's yield buffer. When the P's local queue
/// runs dry, findRunnable takes the P's fair share of the global queue (as
/// Go does) and then moves the buffer behind that share into the local
/// queue (`Sched::yields_to_local`): the order Go would have served them
/// in, without one global lock per yield and without sending the G to
/// another core's cache. Every 61st tick queues the buffer as well, so Gs
/// that keep the local queue busy cannot starve it. The buffer goes to the
/// global queue instead at once if another P is idle (checked here), when
/// `YIELD_BATCH` are waiting, and when the P goes idle. A G that hogs the P
/// meanwhile gets the P retaken by sysmon (the buffer counts as work).
fn gosched_put(ctx: &MCtx, g: GRef) {
    let sched = &ctx.sched;
    let Some(p) = ctx.p() else {
        sched.global_push_batch(Some(g));
        sched.wakep();
        return;
    };
    // SAFETY: this M owns p.
    let n = unsafe { p.push_yield(g) };
    if n >= YIELD_BATCH || sched.npidle.load(Ordering::SeqCst) > 0 {
        sched.flush_yields(p);
        sched.wakep();
    }
}

/// After a Pending poll: the G parks (IDLE), or, if it was woken during the
/// poll, goes back on a queue (the tail: a G that wakes itself yields).
fn park_or_requeue(ctx: &MCtx, g: GRef) {
    let h = g.header();
    h.wait_since.store(
        ctx.sched.coarse_now.load(Ordering::Relaxed),
        Ordering::Relaxed,
    );
    if ctx.yield_global.replace(false) {
        // gosched: back on the global queue, woken or not (gosched does not
        // wake the G through its own waker; a wake racing with this store
        // either lands first, RUNNING→NOTIFIED, and is overwritten, or sees
        // SCHEDULED and leaves it alone). Release: pairs with execute's
        // Acquire CAS, publishing this poll's effects.
        h.state.store(g::SCHEDULED, Ordering::Release);
        gosched_put(ctx, g);
        return;
    }
    // Release: pairs with goready's Acquire, publishing this poll's effects.
    match h
        .state
        .compare_exchange(g::RUNNING, g::IDLE, Ordering::AcqRel, Ordering::Acquire)
    {
        Ok(_) => {}
        Err(_) => {
            // NOTIFIED: run it again.
            h.state.store(g::SCHEDULED, Ordering::Release);
            if let Some(p) = ctx.p() {
                // SAFETY: this M owns p.
                if let Some(batch) = unsafe { p.runq.put(g, false) } {
                    ctx.sched.global_push_batch(batch);
                }
            } else {
                ctx.sched.global_push_batch(Some(g));
                ctx.sched.wakep();
            }
        }
    }
}

/// Go's `findRunnable`. None on shutdown.
fn find_runnable(ctx: &MCtx) -> Option<(GRef, bool)> {
    let sched = &ctx.sched;
    loop {
        if sched.shutdown.load(Ordering::Acquire) {
            return None;
        }
        let Some(p) = ctx.p() else {
            if !acquire_or_stop(ctx) {
                return None;
            }
            continue;
        };
        if p.id >= sched.gomaxprocs.load(Ordering::Acquire) {
            // procresize shrank below us: give the P up (pidleput retires it).
            ctx.set_p(None);
            sched.pidleput(p);
            continue;
        }
        let tick = p.tick();
        if let Some(w) = p.timers.next_when() {
            let now = sched.now();
            if w <= now {
                p.timers.run_due(now);
            }
        }
        if tick % 61 == 0 && give_p_to_waiter(ctx, p) {
            continue;
        }
        if tick % 61 == 0 {
            // Gs that keep waking each other can keep the local queue from
            // ever running dry: the 61st tick queues the yielded Gs too (in
            // Go they wait in the global queue this tick serves).
            if let Some(g) = global_then_yields(sched, p, 1) {
                return Some((g, false));
            }
        }
        if let Some(r) = runqget(sched, p) {
            return Some(r);
        }
        if give_p_to_waiter(ctx, p) {
            continue;
        }
        if let Some(g) = global_then_yields(sched, p, 0) {
            return Some((g, false));
        }
        if let Some(r) = runqget(sched, p) {
            return Some(r); // a yielded G
        }
        // [netpoll] Gs whose sockets became ready (Go: netpoll(0)).
        if let Some(g) = super::netpoll::poll_ready(sched, p) {
            return Some((g, false));
        }
        if let Some(g) = try_steal(ctx, p) {
            return Some((g, false));
        }
        stop(ctx, p);
    }
}

/// `globrunqget(p, max)`, then `p`'s yielded Gs go to its local queue,
/// behind the share of the global queue just taken (see `gosched_put`).
fn global_then_yields(sched: &Sched, p: &P, max: usize) -> Option<GRef> {
    let g = sched.globrunqget(p, max);
    if p.has_yields() {
        sched.yields_to_local(p);
    }
    g
}

/// An M waiting for a P in the middle of a G's poll (`wait_for_p`) is
/// like Go's preempted G in the global queue: every 61st tick, and whenever
/// the local queue is empty, a P goes to the longest waiter. True if `p`
/// was handed over (this M then holds no P).
fn give_p_to_waiter(ctx: &MCtx, p: &P) -> bool {
    if ctx.spinning.get() || !ctx.sched.pwait_hand(p) {
        return false;
    }
    ctx.set_p(None);
    true
}

/// runqget with Go's inheritTime, bounded: a chain of runnext picks longer
/// than `RUNNEXT_BUDGET` sends the next one to the tail when others wait.
/// The caller owns `p`.
pub(super) fn runqget(sched: &Sched, p: &P) -> Option<(GRef, bool)> {
    if let Some(g) = p.runq.take_runnext() {
        let streak = p.next_streak.load(Ordering::Relaxed);
        if streak < RUNNEXT_BUDGET || p.runq.is_empty() {
            p.next_streak.store(streak + 1, Ordering::Relaxed);
            return Some((g, true));
        }
        p.next_streak.store(0, Ordering::Relaxed);
        // The slice is used up: the oldest G runs, runnext goes to the tail
        // (there is room: we just took a slot and only the owner puts; an
        // overflow would still go to the global queue, never be lost).
        let head = p.runq.pop_head();
        // SAFETY: the caller owns p.
        if let Some(over) = unsafe { p.runq.put(g, false) } {
            sched.global_push_batch(over);
        }
        return head.map(|g| (g, false));
    }
    p.runq.pop_head().map(|g| (g, false))
}

/// Go's `execute`'s time-slice bookkeeping for a G taken from anywhere but
/// runnext (`inherit` false): a new slice starts. The caller owns `p`.
#[inline]
pub(super) fn new_slice(p: &P, inherit: bool) {
    if !inherit {
        p.next_streak.store(0, Ordering::Relaxed);
    }
}

/// The spinning and stealing part of findRunnable.
fn try_steal(ctx: &MCtx, p: &P) -> Option<GRef> {
    let sched = &ctx.sched;
    let procs = sched.gomaxprocs.load(Ordering::Relaxed);
    let busy = procs.saturating_sub(sched.npidle.load(Ordering::SeqCst));
    if !ctx.spinning.get() && 2 * sched.nmspinning.load(Ordering::SeqCst) >= busy {
        return None;
    }
    if !ctx.spinning.get() {
        ctx.spinning.set(true);
        sched.nmspinning.fetch_add(1, Ordering::SeqCst);
    }
    steal_work(ctx, p)
}

/// Go's `stealWork`.
fn steal_work(ctx: &MCtx, p: &P) -> Option<GRef> {
    let sched = &ctx.sched;
    const ROUNDS: usize = 4;
    for round in 0..ROUNDS {
        let last = round == ROUNDS - 1;
        let n = sched.gomaxprocs.load(Ordering::Relaxed);
        let start = (crate::util::cheaprand() % n as u64) as usize;
        for i in 0..n {
            if sched.shutdown.load(Ordering::Relaxed) {
                return None;
            }
            let id = (start + i) % n;
            if id == p.id {
                continue;
            }
            let Some(victim) = sched.p(id) else { continue };
            if last {
                if victim.timers.next_when().is_some_and(|w| w <= sched.now()) {
                    victim.timers.run_due(sched.now());
                    if let Some((g, _)) = runqget(sched, p) {
                        return Some(g);
                    }
                }
                backoff_for_runnext(victim);
            }
            let spill = |over| sched.global_push_batch(over);
            // SAFETY: this M owns p.
            if let Some(g) = unsafe { p.runq.steal_from(&victim.runq, last, spill) } {
                return Some(g);
            }
        }
        if let Some(g) = sched.globrunqget(p, 0) {
            return Some(g);
        }
    }
    None
}

/// Before stealing a running P's runnext, give its owner a few µs to take
/// it itself (Go: usleep(3)), so a ping-pong pair keeps its P.
fn backoff_for_runnext(victim: &P) {
    if victim.runq.is_empty() || victim.status.load(Ordering::Relaxed) != super::p::P_RUNNING {
        return;
    }
    let until = Instant::now() + std::time::Duration::from_micros(3);
    while Instant::now() < until {
        crate::loom::spin_loop();
    }
}

/// The stop half of findRunnable (Go's "delicate dance"): give the P up,
/// re-check for work if we were spinning, then park.
fn stop(ctx: &MCtx, p: &P) {
    let sched = &ctx.sched;
    if !sched.release_p_for_stop(p, ctx.spinning.get()) {
        if !ctx.spinning.get() && sched.global_len() == 0 {
            ctx.spinning.set(true);
            sched.nmspinning.fetch_add(1, Ordering::SeqCst);
        }
        return; // keep the P: global work appeared, or a spinner is needed
    }
    ctx.set_p(None);
    if ctx.spinning.replace(false) {
        sched.nmspinning.fetch_sub(1, Ordering::SeqCst);
        // SeqCst: the consumer half of the dance; orders the decrement
        // before the re-checks below.
        crate::loom::atomic::fence(Ordering::SeqCst);
        if sched.global_len() > 0 || sched.any_local_work() {
            if let Some(np) = sched.pidleget() {
                ctx.set_p(Some(np));
                ctx.spinning.set(true);
                sched.nmspinning.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

/// With no P: run due timers, take an idle P if there is work, or park
/// until handed one. False on shutdown.
fn acquire_or_stop(ctx: &MCtx) -> bool {
    let sched = &ctx.sched;
    loop {
        if sched.shutdown.load(Ordering::Acquire) {
            return false;
        }
        let now = sched.now();
        sched.run_all_timers(now);
        if sched.global_len() > 0 || sched.any_local_work() {
            if let Some(p) = sched.pidleget() {
                ctx.set_p(Some(p));
                return true;
            }
        }
        // [netpoll] The last idle M blocks in the poller instead (Go:
        // netpoll(delay) in findRunnable).
        match super::netpoll::block_idle(sched) {
            super::netpoll::Idle::Park => {}
            super::netpoll::Idle::Again => continue,
            super::netpoll::Idle::Run(p) => {
                ctx.set_p(Some(p));
                return true;
            }
        }
        let deadline = sched.earliest_timer();
        if let Some((p, spinning)) = sched.stopm(&ctx.park, deadline) {
            ctx.set_p(sched.p(p));
            ctx.spinning.set(spinning);
            return true;
        }
        // timed out / poked: loop to run timers and re-park
    }
}

// ---- blocking calls (entersyscall / exitsyscall) ------------------------------

/// Go's `entersyscallblock`: if this thread is an M polling a G, its P is
/// handed to another M at once when it has work (`entersyscallblock`),
/// else it stays with the call, for sysmon to retake after one of its
/// rounds if work appears (so a call that returns quickly costs no thread
/// switch); afterwards the M waits for a P (exitsyscall) before the G's
/// poll continues. An M that lost its P earlier in this poll (sysmon
/// retook it from a long poll) runs `f` without one, and waits for a P
/// after it too. Inside `f` the G has no cooperative budget
/// (`coop_charge`).
pub(crate) fn blocking<R>(f: impl FnOnce() -> R) -> R {
    in_syscall(true, f)
}

/// Go's plain `entersyscall`/`exitsyscall`, for a call that usually
/// returns at once but may block (a name lookup): the P stays in the
/// syscall state however much work it has, so a quick call costs two CASes
/// and no thread switch; if the call lasts, sysmon retakes the P within
/// one of its rounds (it is woken if asleep) and hands it off. Otherwise
/// as [`blocking`].
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn syscall<R>(f: impl FnOnce() -> R) -> R {
    in_syscall(false, f)
}

/// Runs `f` in the syscall state (`entersyscall`, then exitsyscall when
/// the guard drops, also on a panic), handing the P off at once if
/// `block` and it has work (`entersyscallblock`), else leaving it for
/// sysmon, which is woken if asleep. Outside a poll, or already inside a
/// call, `f` just runs.
fn in_syscall<R>(block: bool, f: impl FnOnce() -> R) -> R {
    let entered = with_m(|m| {
        let m = m?;
        if m.cur_g.get().is_null() || m.in_syscall.get() {
            return None; // not inside a poll, or already inside `blocking`
        }
        let s = entersyscall(m);
        // After the guard exists: a panic from starting an M (the thread
        // limit) runs exitsyscall on its way out.
        if block {
            entersyscallblock(m, &s);
        } else if !s.p.is_null() {
            m.sched.wake_sysmon();
        }
        Some(s)
    });
    let _exit = entered;
    f()
}

/// An M inside `blocking`: what `exitsyscall` needs, run when dropped (also
/// by a panic unwinding out of `f`).
struct Syscall {
    /// The P handed off (null: the M held none when the call began).
    p: *const P,
    /// The G's cooperative budgets when the call began.
    budget: (u32, u32),
}

impl Drop for Syscall {
    fn drop(&mut self) {
        with_m(|m| {
            let m = m.expect("exitsyscall off an M");
            exitsyscall(m, self);
        });
    }
}

/// Go's `entersyscall`: the P's word goes from this poll's value to "in a
/// system call" by CAS, so a P that sysmon already retook (and may have
/// handed to another M) is never claimed back by a stale owner.
fn entersyscall(m: &MCtx) -> Syscall {
    let v = m.pollval.get();
    m.sched.nsyscall.fetch_add(1, Ordering::SeqCst);
    m.in_syscall.set(true);
    let budget = (m.budget.get(), m.select_budget.get());
    let p = match m.p() {
        Some(p) if p.owner.enter_syscall(v) => {
            // From here the P is sysmon's to retake (or ours to hand off:
            // `entersyscallblock`).
            m.set_p(None);
            p as *const P
        }
        Some(_) => {
            m.lost_p(); // sysmon retook it while the G ran
            ptr::null()
        }
        None => ptr::null(),
    };
    Syscall { p, budget }
}

/// A timer on the P due within this long makes a blocking call hand the P
/// off at once; a later one is left to sysmon, whose retake (it counts a
/// P's timers as work) comes within two of its longest rounds.
const SYSCALL_TIMER_HORIZON: std::time::Duration = std::time::Duration::from_millis(20);

/// Go's `entersyscallblock`'s `handoffp`, when it pays: the caller said it
/// will block, so if the P it just left in the syscall state has work (a
/// queued or yielded G, a timer due within `SYSCALL_TIMER_HORIZON`), or
/// the global queue does, or an M back from its own blocking call waits
/// for a P (`pwait`), this M takes the P back from the syscall state, as
/// sysmon's retake does (a CAS from the exact value, so it races sysmon
/// and shutdown safely), and hands it off: to the longest waiter in
/// `pwait`, else to an idle M, else to a new one (`handoffp`, `startm`).
/// A P with no work stays with the call (no thread switch for a call that
/// returns quickly; sysmon wakes to retake it if work appears).
///
/// The SeqCst fence pairs with the one in `Sched::retake_for_pwait`: an M
/// joining `pwait` while this P enters the syscall state either is seen
/// here (`npwait`), or sees the P's word and retakes it itself.
fn entersyscallblock(m: &MCtx, s: &Syscall) {
    // SAFETY: Ps live as long as the Sched.
    let Some(p) = (unsafe { s.p.as_ref() }) else {
        return;
    };
    let sched = &m.sched;
    // SeqCst: orders our IN_SYSCALL word before the loads below (see above).
    crate::loom::atomic::fence(Ordering::SeqCst);
    let work = p.has_local_work()
        || sched.global_len() > 0
        || sched.npwait.load(Ordering::Relaxed) > 0
        || p.timers
            .next_when()
            .is_some_and(|w| w <= Instant::now() + SYSCALL_TIMER_HORIZON);
    if !work {
        sched.wake_sysmon();
        return;
    }
    if p.owner
        .try_retake(m.pollval.get() | super::owner::IN_SYSCALL)
    {
        sched.handoffp(p);
    }
}

/// Go's `exitsyscall`: keep the old P if sysmon did not retake it (fast
/// path), else wait for any P and start a new poll on it.
fn exitsyscall(m: &MCtx, s: &Syscall) {
    m.sched.nsyscall.fetch_sub(1, Ordering::SeqCst);
    m.in_syscall.set(false);
    m.budget.set(s.budget.0);
    m.select_budget.set(s.budget.1);
    // SAFETY: Ps live as long as the Sched.
    if let Some(p) = unsafe { s.p.as_ref() } {
        if p.owner.exit_syscall(m.pollval.get()) {
            m.set_p(Some(p));
            return;
        }
    }
    // The P was retaken: like Go's exitsyscall0, wait for a P before the
    // G goes on (we are in the middle of its poll, so the M waits with it).
    wait_for_p(m);
}

/// The G polled on this M came back from a blocking call whose P was
/// retaken: take an idle P, or wait in `pwait` until a P is handed over,
/// then start a new poll on it. Go's exitsyscall puts such a G in the
/// global queue and parks the M; a future cannot leave its poll, so its M
/// waits with it instead, and the G goes on only when it holds a P again
/// (at most `gomaxprocs` Gs run user code at once, as in Go).
///
/// A G that loses its P in the middle of one long poll (sysmon's
/// forcePreempt) cannot be stopped at an arbitrary point as Go's is: it
/// goes on without a P until its next `go`, which waits here
/// (`spawn_put_local`); wakes from it go to the global queue.
fn wait_for_p(m: &MCtx) {
    let sched = &m.sched;
    let p = match sched.pwait_enter(&m.park) {
        Ok(p) => p,
        Err(()) => {
            // Queued: a P left idle in another M's blocking call is taken
            // for the queue now, not at sysmon's next round.
            sched.retake_for_pwait();
            loop {
                if let Some((id, _)) = m.park.park(None) {
                    break sched.p(id);
                }
                if sched.shutdown.load(Ordering::SeqCst) {
                    sched.pwait_leave(&m.park);
                    break None;
                }
            }
        }
    };
    m.set_p(p);
    match p {
        Some(p) => m.begin_poll(p),
        None => m.pollval.set(0), // shutdown: finish the poll without a P
    }
}

/// Shutdown (`Sched::close_ps`) called on an M of `sched` between polls:
/// the M closes its own P, which the shutdown would otherwise wait for,
/// and goes on without it (to its exit).
pub(crate) fn close_own_p(sched: &Sched) {
    with_m(|m| {
        let Some(m) = m else { return };
        if !ptr::eq(Arc::as_ptr(&m.sched), sched) || m.pollval.get() != 0 {
            return;
        }
        if let Some(p) = m.p() {
            m.set_p(None);
            p.owner.close_owned();
        }
    })
}

/// The G being polled on this thread, if any.
pub(crate) fn with_current_g<R>(f: impl FnOnce(&Header) -> R) -> Option<R> {
    with_m(|m| {
        let m = m?;
        // SAFETY: cur_g is set only during a poll, while the G is alive.
        let h = unsafe { m.cur_g.get().as_ref()? };
        Some(f(h))
    })
}

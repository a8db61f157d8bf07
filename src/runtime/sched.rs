//! The scheduler's shared state: global run queue, idle P and M lists,
//! spinning accounting, and the functions that move Ps between Ms.
//!
//! Mirrors Go's `schedt` (runtime2.go) and `globrunqput`, `globrunqget`,
//! `pidleput`, `pidleget`, `wakep`, `startm`, `stopm`, `newm`, `handoffp`,
//! `procresize` (proc.go).
//!
//! # Locks
//! In the order they may be taken: `idle` (idle Ps, idle Ms, `pwait`) →
//! `global` (the global run queue; taken under `idle` when a P put idle
//! flushes its yielded Gs or a retired P's queue moves to the global
//! queue) → a P's timer heap lock (a retired P's timers move to P 0) →
//! `sleeper` → an M's park slot (`MPark::hand`/`poke`, a leaf). `threads`
//! is held while a thread starts (`newm`), which takes `idle` only after
//! releasing it on failure; `watchers`, `panic` and `sysmon_note` are
//! leaves taken under none of the others. Code that only needs the global queue's length reads
//! `global_len` (an atomic mirror) instead of taking `global`.
//!
//! # Deadlock safety
//! No lock here is held while calling user code or dropping a G (whose
//! future's or output's drop is user code): Gs refused by the closed
//! global queue (`global_push_batch`, `global_push_head`, `flush_yields`)
//! are dropped after `global` is released, and none of those runs under
//! `idle` by then (the idle list closes first, and a P put on a closed
//! idle list is closed, not flushed); everything shutdown drains is
//! dropped with no lock held. Waking a thread (`MPark::hand`, condvar
//! notifications) takes only the leaf lock of that thread's slot.
//!
//! # Invariants
//! - A P is on the idle list iff its status is `P_IDLE`; `npidle` is the
//!   list's length.
//! - A P with id ≥ `gomaxprocs` is never on the idle list; one still owned
//!   by an M is retired by that M at its next schedule.
//! - `nmspinning` counts Ms with `spinning == true`.
//! - An idle P's ownership word (`owner.rs`) is 0 (debug builds check it).
//!
//! # Lost wake-ups (Go's "delicate dance")
//! A producer publishes work, then (SeqCst fence) reads `nmspinning` and
//! `npidle` in `wakep`. A spinning M that gives up puts its P idle
//! (`npidle` += 1), decrements `nmspinning` (SeqCst), then re-checks every
//! queue and the timers. Either the producer sees an idle P and no spinner
//! and starts an M, or the M sees the work.
//!
//! One producer skips `wakep` on purpose: `ready` from a running G whose P
//! then holds only the woken G (in runnext). That M runs it when the
//! current poll ends; if the poll goes on, sysmon retakes the P (it has a
//! queued G) and hands it to another M. So the work is never stranded.
//!
//! # Shutdown
//! Close bits, as tokio's worker has for spawns during shutdown: after the
//! `shutdown` flag, `shutdown()` wakes every M and joins them, giving those
//! still inside a poll or a blocking call one grace period in all
//! (`SHUTDOWN_GRACE`), then:
//! 1. closes every P (`close_ps`): the idle list is closed under `idle`
//!    (no P is taken from it or put on it again: a P given up from then on
//!    is closed by its owner), and every other P is taken by the CAS to
//!    the terminal owner state, from a poll or a blocking call, or closed
//!    by its M as it exits. After this no M owns a P, so this thread may
//!    drain them all, yield buffers included;
//! 2. closes the registry (`Registry::close_and_take_all`: a spawn that
//!    loses the race gets a cancelled G) and drops the future of every G
//!    not being polled; an M polling one when its P closed drops that G's
//!    future itself after the poll (`m::lost_after_poll`);
//! 3. closes the global queue and drains it and every P: a G pushed later
//!    is dropped at once, so no G is left holding the runtime alive.

use super::g::{GRef, Header};
use super::globrunq::GlobalRunq;
use super::m::{self, MPark};
use super::owner::IN_SYSCALL;
use super::p::{P, P_IDLE, P_RUNNING};
use super::registry::Registry;
use crate::loom::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering, fence};
use crate::loom::{Arc as LArc, Condvar, Mutex};
use crate::util::CachePadded;
use std::any::Any;
use std::collections::VecDeque;
use std::sync::Arc;
use std::task::Waker;
use std::time::Instant;

/// Upper bound on `gomaxprocs` (small under loom, whose models touch
/// every slot).
#[cfg(not(loom))]
pub(crate) const MAX_PROCS: usize = 1024;
#[cfg(loom)]
pub(crate) const MAX_PROCS: usize = 4;
/// Go's default limit on OS threads (`debug.SetMaxThreads`); a runtime's
/// own is `Builder::max_threads`.
pub(crate) const MAX_THREADS: usize = 10_000;
/// How long shutdown waits, in all, for Ms still inside a poll or a
/// blocking call before it leaves them to finish on their own.
#[cfg(not(loom))]
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_millis(100);
/// P status: retired by `procresize`.
pub(crate) const P_DEAD: u8 = 2;

#[derive(Default)]
struct Idle {
    /// Set once by shutdown (`close_ps`): no P is taken from or put on the
    /// idle list again.
    closed: bool,
    /// Idle Ps (ids).
    ps: Vec<usize>,
    /// Parked Ms waiting for a P.
    ms: Vec<LArc<MPark>>,
    /// Ms that lost their P in the middle of a G's poll and wait for one
    /// before the poll goes on (FIFO; see `m::wait_for_p`). Go's analogue
    /// is the preempted (or back-from-syscall) G in the global queue.
    pwait: VecDeque<LArc<MPark>>,
}

/// One runtime's scheduler.
///
/// The fields every M writes often (the global queue and its length, the
/// idle and spinning counts, the G counters, the coarse clock) each sit in
/// a `CachePadded` of their own, so those writes do not slow down the
/// read-mostly fields every schedule loads (`allp`, `gomaxprocs`,
/// `shutdown`).
pub(crate) struct Sched {
    /// allp: lazily allocated Ps, freed on drop. Entries are written once
    /// (null → P) under `idle`, read lock-free.
    allp: Box<[AtomicPtr<P>]>,
    /// Number of usable Ps. Written under `idle` by procresize.
    pub(crate) gomaxprocs: AtomicUsize,
    /// The global run queue (two classes, see `globrunq.rs`).
    global: CachePadded<Mutex<GlobalRunq>>,
    /// Mirror of `global.len()`, written under `global`.
    global_len: CachePadded<AtomicUsize>,
    idle: Mutex<Idle>,
    /// Idle Ps. Written under `idle`; read lock-free (SeqCst, see the dance).
    pub(crate) npidle: CachePadded<AtomicUsize>,
    /// Spinning Ms. Any M (SeqCst, see the dance).
    pub(crate) nmspinning: CachePadded<AtomicUsize>,
    /// Set by a wakep that found no P; consumed by a stopping M.
    pub(crate) needspinning: AtomicBool,
    /// Ms parked idle. Written under `idle`.
    pub(crate) nmidle: AtomicUsize,
    /// Mirror of `idle.pwait.len()`, written under `idle`; read lock-free
    /// (Relaxed) as a hint by the Ms that hand their P over, and by an M
    /// entering a blocking call after a SeqCst fence that pairs with the
    /// one in `retake_for_pwait` (`m::entersyscallblock`).
    pub(crate) npwait: AtomicUsize,
    /// Ms created and not exited.
    pub(crate) mcount: AtomicUsize,
    /// Ms inside a blocking call.
    pub(crate) nsyscall: AtomicUsize,
    /// Set once by shutdown (SeqCst, read at the top of every schedule).
    pub(crate) shutdown: AtomicBool,
    next_goid: CachePadded<AtomicU64>,
    next_mid: AtomicUsize,
    pub(crate) registry: Registry,
    /// The first unobserved panic of a detached G.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    pub(crate) has_panic: AtomicBool,
    /// Wakers of threads waiting in block_on (woken on panic/shutdown).
    watchers: Mutex<Vec<Waker>>,
    threads: Mutex<Vec<crate::loom::thread::JoinHandle<()>>>,
    /// The M (if any) parked until the earliest timer, with its deadline.
    sleeper: Mutex<Option<(LArc<MPark>, Instant)>>,
    pub(crate) epoch: Instant,
    /// A coarse clock (ns since epoch), refreshed whenever an M reads time.
    pub(crate) coarse_now: CachePadded<AtomicU64>,
    pub(crate) detect_deadlock: bool,
    /// The most Ms this runtime may have (Go's `debug.SetMaxThreads`).
    max_threads: usize,
    /// Thread starts `newm` is to fail (`testing::fail_thread_spawns`).
    spawn_faults: AtomicUsize,
    /// Set once when the first M starts sysmon.
    sysmon_started: AtomicBool,
    /// True while sysmon sleeps deeply (all Ps idle); it then waits on
    /// `sysmon_note` for a poke.
    sysmon_sleeping: AtomicBool,
    sysmon_note: Mutex<bool>,
    sysmon_cv: Condvar,
    /// [netpoll] The network poller, created on first use.
    pub(crate) net: super::netpoll::NetSlot,
}

// `Sched` is Send and Sync by its fields. `allp`'s `AtomicPtr<P>` would
// make it so whatever `P` is; sharing `&P` between Ms is sound because `P`
// is Send and Sync itself, which this checks.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<P>();
};

impl Sched {
    pub(crate) fn new(procs: usize, detect_deadlock: bool, max_threads: usize) -> Arc<Sched> {
        let procs = procs.clamp(1, MAX_PROCS);
        let allp: Box<[AtomicPtr<P>]> = (0..MAX_PROCS)
            .map(|_| AtomicPtr::new(std::ptr::null_mut()))
            .collect();
        let s = Arc::new(Sched {
            allp,
            gomaxprocs: AtomicUsize::new(0),
            global: CachePadded(Mutex::new(GlobalRunq::default())),
            global_len: CachePadded(AtomicUsize::new(0)),
            idle: Mutex::new(Idle::default()),
            npidle: CachePadded(AtomicUsize::new(0)),
            nmspinning: CachePadded(AtomicUsize::new(0)),
            needspinning: AtomicBool::new(false),
            nmidle: AtomicUsize::new(0),
            npwait: AtomicUsize::new(0),
            mcount: AtomicUsize::new(0),
            nsyscall: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            next_goid: CachePadded(AtomicU64::new(1)),
            next_mid: AtomicUsize::new(1),
            registry: Registry::new(),
            panic: Mutex::new(None),
            has_panic: AtomicBool::new(false),
            watchers: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::new()),
            sleeper: Mutex::new(None),
            epoch: Instant::now(),
            coarse_now: CachePadded(AtomicU64::new(0)),
            detect_deadlock,
            max_threads: max_threads.max(1),
            spawn_faults: AtomicUsize::new(0),
            sysmon_started: AtomicBool::new(false),
            sysmon_sleeping: AtomicBool::new(false),
            sysmon_note: Mutex::new(false),
            sysmon_cv: Condvar::new(),
            net: Default::default(),
        });
        s.procresize(procs);
        s
    }

    /// A scheduler with no Ps and no Ms (for test queues).
    pub(crate) fn new_detached() -> Arc<Sched> {
        Sched::new(1, false, MAX_THREADS)
    }

    /// P `i`, if allocated.
    #[inline]
    pub(crate) fn p(&self, i: usize) -> Option<&P> {
        // Acquire: pairs with the Release store in `ensure_p`.
        let ptr = self.allp.get(i)?.load(Ordering::Acquire);
        // SAFETY: Ps are never freed before the Sched.
        unsafe { ptr.as_ref() }
    }

    fn ensure_p(&self, i: usize) -> &P {
        if let Some(p) = self.p(i) {
            return p;
        }
        let ptr = Box::into_raw(Box::new(P::new(i)));
        // Release: publishes the initialised P to lock-free readers.
        self.allp[i].store(ptr, Ordering::Release);
        // SAFETY: just stored; lives until Sched drops.
        unsafe { &*ptr }
    }

    pub(crate) fn next_goid(&self) -> u64 {
        self.next_goid.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn next_mid(&self) -> usize {
        self.next_mid.fetch_add(1, Ordering::Relaxed)
    }

    /// Refreshes and returns the coarse clock.
    pub(crate) fn now(&self) -> Instant {
        let now = Instant::now();
        let ns = now.saturating_duration_since(self.epoch).as_nanos() as u64;
        self.coarse_now.store(ns, Ordering::Relaxed);
        now
    }

    // ---- the global run queue ----------------------------------------------

    pub(crate) fn global_len(&self) -> usize {
        self.global_len.load(Ordering::Acquire)
    }

    /// Go's `globrunqput` (tail) for a batch, keeping order. After
    /// shutdown closed the queue, the batch is dropped instead, after the
    /// lock is released.
    pub(crate) fn global_push_batch(&self, batch: impl IntoIterator<Item = GRef>) {
        let mut q = self.global.lock();
        if q.is_closed() {
            drop(q);
            drop(batch);
            return;
        }
        for g in batch {
            q.push(g);
        }
        // Release: pairs with the Acquire in global_len.
        self.global_len.store(q.len(), Ordering::Release);
    }

    /// Go's `globrunqputhead` for a batch, keeping the batch's order
    /// (dropped, after unlocking, once the queue is closed).
    pub(crate) fn global_push_head(&self, batch: Vec<GRef>) {
        let mut q = self.global.lock();
        if q.is_closed() {
            drop(q);
            drop(batch);
            return;
        }
        q.push_head(batch);
        self.global_len.store(q.len(), Ordering::Release);
    }

    /// Moves `p`'s buffered yields to the global queue's tail, in order.
    /// The caller owns `p`.
    pub(crate) fn flush_yields(&self, p: &P) {
        if !p.has_yields() {
            return;
        }
        let mut q = self.global.lock();
        if q.is_closed() {
            drop(q);
            let mut gs = Vec::new();
            // SAFETY: the caller owns p.
            unsafe { p.drain_yields(|g| gs.push(g)) };
            drop(gs);
            return;
        }
        // SAFETY: the caller owns p.
        unsafe { p.drain_yields(|g| q.push(g)) };
        // Release: pairs with the Acquire in global_len.
        self.global_len.store(q.len(), Ordering::Release);
    }

    /// Takes every G out of the global queue (test queues; shutdown uses
    /// `close_global`).
    pub(crate) fn global_drain(&self) -> Vec<GRef> {
        let mut q = self.global.lock();
        let gs = q.drain_all();
        self.global_len.store(0, Ordering::Release);
        gs
    }

    /// Moves `p`'s buffered yields to the tail of its own local queue, in
    /// order (what overflows goes to the global queue, as `runqput` does).
    /// Called when the local queue ran dry, right after `globrunqget` took
    /// its share of the global queue: the yielded Gs then run after every
    /// G that was queued on this P and after that share, which is where
    /// Go's global queue would have served them on a P that found it empty.
    /// The caller owns `p`.
    pub(crate) fn yields_to_local(&self, p: &P) {
        let mut over = Vec::new();
        // SAFETY: the caller owns p (both the buffer and the local queue).
        unsafe {
            p.drain_yields(|g| {
                if let Some(batch) = p.runq.put(g, false) {
                    over.extend(batch);
                }
            })
        };
        if !over.is_empty() {
            self.global_push_batch(over);
        }
    }

    /// Go's `globrunqget`: one G to run, and up to a fair share more moved
    /// into `p`'s local queue (under the lock, as Go does). `max == 0`
    /// means no extra limit. The caller owns `p`.
    pub(crate) fn globrunqget(&self, p: &P, max: usize) -> Option<GRef> {
        if self.global_len() == 0 {
            return None;
        }
        let mut q = self.global.lock();
        let n = q.len();
        if n == 0 {
            self.global_len.store(0, Ordering::Release);
            return None;
        }
        let procs = self.gomaxprocs.load(Ordering::Relaxed).max(1);
        let mut take = (n / procs + 1)
            .min(n)
            .min(super::runq::RUNQ_SIZE as usize / 2);
        if max > 0 {
            take = take.min(max);
        }
        let mut first = None;
        let mut spill = Vec::new();
        q.take_each(take, |g| {
            if first.is_none() {
                first = Some(g);
            // SAFETY: only p's owner calls globrunqget with p.
            } else if let Some(over) = unsafe { p.runq.put(g, false) } {
                spill.extend(over); // only if the local queue was over half full
            }
        });
        for g in spill {
            q.push(g);
        }
        // Release: pairs with the Acquire in global_len.
        self.global_len.store(q.len(), Ordering::Release);
        first
    }

    // ---- idle Ps ------------------------------------------------------------

    /// Go's `pidleget`: takes an idle P (status becomes running).
    pub(crate) fn pidleget(&self) -> Option<&P> {
        let mut idle = self.idle.lock();
        self.pidleget_locked(&mut idle)
    }

    fn pidleget_locked(&self, idle: &mut Idle) -> Option<&P> {
        if idle.closed {
            return None;
        }
        let id = idle.ps.pop()?;
        self.npidle.fetch_sub(1, Ordering::SeqCst);
        let p = self.p(id).expect("idle P not allocated");
        p.owner.debug_check_unowned();
        p.status.store(P_RUNNING, Ordering::Relaxed);
        Some(p)
    }

    /// Go's `pidleput`: gives `p` up.
    pub(crate) fn pidleput(&self, p: &P) {
        let mut idle = self.idle.lock();
        self.pidleput_locked(&mut idle, p);
    }

    fn pidleput_locked(&self, idle: &mut Idle, p: &P) {
        if idle.closed {
            // Shutdown: the caller, the P's owner, closes it instead; the
            // shutdown drains its Gs.
            p.owner.close_owned();
            return;
        }
        p.owner.debug_check_unowned();
        // An idle P holds no G: yielded ones go where Go put them.
        self.flush_yields(p);
        if p.id >= self.gomaxprocs.load(Ordering::Relaxed) {
            self.retire_locked(idle, p);
            return;
        }
        if self.pwait_hand_locked(idle, p) {
            return; // an M mid-poll was waiting for exactly this
        }
        p.status.store(P_IDLE, Ordering::Relaxed);
        idle.ps.push(p.id);
        self.npidle.fetch_add(1, Ordering::SeqCst);
    }

    /// Retires a P above `gomaxprocs` (procresize): its Gs go to the head of
    /// the global queue (runnext first, order kept), its timers to P 0.
    fn retire_locked(&self, idle: &Idle, p: &P) {
        p.status.store(P_DEAD, Ordering::Relaxed);
        let gs = p.runq.drain();
        if !gs.is_empty() {
            self.global_push_head(gs);
        }
        let p0 = self.p(0).expect("P 0 exists");
        if p.timers.move_all_to(&p0.timers) {
            self.timer_changed_locked(idle);
        }
    }

    // ---- Ms waiting for a P mid-poll ----------------------------------------

    /// An M whose G's poll lost its P: takes an idle P, or joins `pwait`
    /// (then it parks until `pwait_hand_locked` hands it one). None after
    /// shutdown, or when the caller was queued.
    pub(crate) fn pwait_enter(&self, m: &LArc<MPark>) -> Result<Option<&P>, ()> {
        let mut idle = self.idle.lock();
        if self.shutdown.load(Ordering::SeqCst) {
            return Ok(None);
        }
        if let Some(p) = self.pidleget_locked(&mut idle) {
            return Ok(Some(p));
        }
        idle.pwait.push_back(m.clone());
        self.npwait.store(idle.pwait.len(), Ordering::Relaxed);
        Err(())
    }

    /// Called by an M right after it joined `pwait`: takes a P whose M is
    /// inside a blocking call, as sysmon's retake would (the P has work:
    /// the waiting M), and hands it off (`handoffp` serves `pwait` first).
    /// The consumer half of the check in `m::entersyscallblock`: that M
    /// moves its P's word to `IN_SYSCALL`, then reads `npwait`; this M
    /// raised `npwait`, then reads the words; a SeqCst fence on each side,
    /// so at least one of them sees the other and the P is not left idle
    /// in a blocking call while an M waits for it until sysmon's next
    /// round.
    pub(crate) fn retake_for_pwait(self: &Arc<Self>) {
        // SeqCst: pairs with the fence in `m::entersyscallblock`.
        fence(Ordering::SeqCst);
        let n = self.gomaxprocs.load(Ordering::Relaxed);
        for i in 0..n {
            let Some(p) = self.p(i) else { continue };
            let v = p.owner.load();
            if v & 1 != 0 && v & IN_SYSCALL != 0 && p.owner.try_retake(v) {
                self.handoffp(p);
                return;
            }
        }
    }

    /// Removes `m` from `pwait` if it is still there (shutdown).
    pub(crate) fn pwait_leave(&self, m: &LArc<MPark>) {
        let mut idle = self.idle.lock();
        if let Some(i) = idle.pwait.iter().position(|x| LArc::ptr_eq(x, m)) {
            idle.pwait.remove(i);
            self.npwait.store(idle.pwait.len(), Ordering::Relaxed);
        }
    }

    /// Hands `p` (held by the caller) to the longest-waiting M in `pwait`.
    /// False if nobody waits (the caller keeps `p`).
    pub(crate) fn pwait_hand(&self, p: &P) -> bool {
        if self.npwait.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let mut idle = self.idle.lock();
        self.pwait_hand_locked(&mut idle, p)
    }

    fn pwait_hand_locked(&self, idle: &mut Idle, p: &P) -> bool {
        let Some(m) = idle.pwait.pop_front() else {
            return false;
        };
        self.npwait.store(idle.pwait.len(), Ordering::Relaxed);
        p.status.store(P_RUNNING, Ordering::Relaxed);
        m.hand(Some(p.id), false);
        true
    }

    // ---- Ms -----------------------------------------------------------------

    /// Go's `wakep`: starts a spinning M if there is an idle P and no spinner.
    pub(crate) fn wakep(self: &Arc<Self>) {
        // SeqCst: orders the caller's publication of work before these loads
        // (the producer half of the dance).
        fence(Ordering::SeqCst);
        self.wakep_local();
    }

    /// `wakep` for work the caller just put on the P its own M holds (a
    /// spawn into runnext, Go's `newproc`): without the producer's fence.
    /// If the loads below miss a spinner that is giving up, that M runs
    /// the work itself: a missed wake costs parallelism, never progress
    /// (Go's `newproc` calls `wakep` with no fence either).
    pub(crate) fn wakep_local(self: &Arc<Self>) {
        if self.nmspinning.load(Ordering::SeqCst) != 0 || self.npidle.load(Ordering::SeqCst) == 0 {
            return;
        }
        if self
            .nmspinning
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return;
        }
        match self.pidleget() {
            Some(p) => self.startm(p.id, true),
            None => {
                self.needspinning.store(true, Ordering::SeqCst);
                self.nmspinning.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// Go's `startm`: hands P `p` (owned by the caller) to an idle M, or a
    /// new one. After shutdown the P goes back instead (`pidleput`, which
    /// closes it once the idle list is closed): no M starts any more.
    pub(crate) fn startm(self: &Arc<Self>, p: usize, spinning: bool) {
        let m = {
            let mut idle = self.idle.lock();
            if self.shutdown.load(Ordering::SeqCst) {
                let p = self.p(p).expect("startm: P not allocated");
                self.pidleput_locked(&mut idle, p);
                drop(idle);
                if spinning {
                    self.nmspinning.fetch_sub(1, Ordering::SeqCst);
                }
                return;
            }
            let m = idle.ms.pop();
            if m.is_some() {
                self.nmidle.fetch_sub(1, Ordering::Relaxed);
            }
            m
        };
        match m {
            Some(m) => m.hand(Some(p), spinning),
            None => self.newm(Some(p), spinning),
        }
        self.wake_sysmon();
    }

    /// Sleeps sysmon for `d` (forever if None, until poked when `deep`).
    pub(crate) fn sysmon_sleep(&self, d: Option<std::time::Duration>, deep: bool) {
        if !deep {
            if let Some(d) = d {
                std::thread::sleep(d);
            }
            return;
        }
        let mut poked = self.sysmon_note.lock();
        self.sysmon_sleeping.store(true, Ordering::SeqCst);
        if !*poked && !self.shutdown.load(Ordering::SeqCst) {
            match d {
                Some(d) => {
                    self.sysmon_cv.wait_until(&mut poked, Instant::now() + d);
                }
                None => self.sysmon_cv.wait(&mut poked),
            }
        }
        *poked = false;
        self.sysmon_sleeping.store(false, Ordering::SeqCst);
    }

    /// Wakes sysmon from a deep sleep (work appeared, or a blocking call
    /// began). Cheap when it is awake.
    pub(crate) fn wake_sysmon(&self) {
        if self.sysmon_sleeping.load(Ordering::SeqCst) {
            let mut poked = self.sysmon_note.lock();
            *poked = true;
            drop(poked);
            self.sysmon_cv.notify_one();
        }
    }

    #[cfg(not(loom))]
    fn start_sysmon(self: &Arc<Self>) {
        if self.sysmon_started.swap(true, Ordering::SeqCst) {
            return;
        }
        let sched = self.clone();
        // Under `threads`, as in `newm`: shutdown joins every thread.
        let mut threads = self.threads.lock();
        if self.shutdown.load(Ordering::SeqCst) {
            return;
        }
        let h = std::thread::Builder::new()
            .name("goro-sysmon".into())
            .spawn(move || super::sysmon::sysmon(sched))
            .expect("runtime: failed to create the sysmon thread");
        threads.push(h);
    }

    #[cfg(loom)]
    fn start_sysmon(self: &Arc<Self>) {}

    /// Go's `newm`: a new M (OS thread) that starts with P `p`. The thread
    /// starts under the `threads` lock, after a check of the shutdown flag:
    /// every M is either in the list that shutdown joins, or never starts
    /// (its P goes back). Panics, as Go throws, when no thread can be
    /// created; it first gives `p` and the spinning slot back, so the
    /// runtime stays consistent for whoever catches the panic.
    ///
    /// Beyond `max_threads` Ms, Go's `runtime: program exceeds N-thread
    /// limit`: the panic is also reported to the runtime (as a detached
    /// G's panic is), so `run` ends with it whichever thread hit the limit
    /// (a G's, or sysmon handing off a P), as Go's fatal error ends the
    /// program.
    fn newm(self: &Arc<Self>, p: Option<usize>, spinning: bool) {
        self.start_sysmon();
        let n = self.mcount.fetch_add(1, Ordering::Relaxed);
        if n >= self.max_threads {
            self.unstart(p, spinning);
            let msg = format!("runtime: program exceeds {}-thread limit", self.max_threads);
            self.report_panic(Box::new(msg.clone()));
            std::panic::panic_any(msg);
        }
        let sched = self.clone();
        let id = self.next_mid();
        let mut threads = self.threads.lock();
        if self.shutdown.load(Ordering::SeqCst) {
            drop(threads);
            self.unstart(p, spinning);
            return;
        }
        let h = if self.take_spawn_fault() {
            Err(std::io::Error::other(
                "thread start failed on purpose (testing)",
            ))
        } else {
            crate::loom::thread::Builder::new()
                .name(format!("goro-m{id}"))
                .spawn(move || m::mstart(sched, id, p, spinning))
        };
        match h {
            Ok(h) => threads.push(h),
            Err(e) => {
                drop(threads);
                self.unstart(p, spinning);
                panic!("runtime: failed to create new OS thread: {e}")
            }
        }
    }

    /// Undoes, for an M that never started, what `newm` and its caller
    /// did for it: the thread count, the spinning slot, the P.
    #[cold]
    fn unstart(&self, p: Option<usize>, spinning: bool) {
        self.mcount.fetch_sub(1, Ordering::Relaxed);
        if spinning {
            self.nmspinning.fetch_sub(1, Ordering::SeqCst);
        }
        if let Some(p) = p.and_then(|i| self.p(i)) {
            self.pidleput(p);
        }
    }

    /// Makes the next `n` thread starts of `newm` fail (testing hook).
    pub(crate) fn inject_spawn_faults(&self, n: usize) {
        self.spawn_faults.store(n, Ordering::SeqCst);
    }

    /// Whether this thread start is to fail (testing hook); counts it.
    fn take_spawn_fault(&self) -> bool {
        self.spawn_faults.load(Ordering::Relaxed) > 0
            && self
                .spawn_faults
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
    }

    /// Go's `stopm` (the list half): parks `m` on the idle list until handed
    /// a P. Returns the P and spinning flag, or None on shutdown/timeout.
    pub(crate) fn stopm(
        &self,
        m: &LArc<MPark>,
        deadline: Option<Instant>,
    ) -> Option<(usize, bool)> {
        {
            let mut idle = self.idle.lock();
            if self.shutdown.load(Ordering::SeqCst) {
                return None;
            }
            idle.ms.push(m.clone());
            self.nmidle.fetch_add(1, Ordering::Relaxed);
        }
        // Only one M sleeps until the earliest timer (Go: the one in netpoll);
        // the others park until handed a P.
        let deadline = deadline.filter(|&d| {
            let mut sl = self.sleeper.lock();
            if sl.as_ref().is_none_or(|(_, w)| *w > d) {
                *sl = Some((m.clone(), d));
                true
            } else {
                false
            }
        });
        let got = m.park(deadline);
        if deadline.is_some() {
            let mut sl = self.sleeper.lock();
            if sl.as_ref().is_some_and(|(s, _)| LArc::ptr_eq(s, m)) {
                *sl = None;
            }
        }
        if got.is_some() {
            if deadline.is_some() {
                self.timer_changed(); // someone else must watch the timers now
            }
            return got;
        }
        if self.shutdown.load(Ordering::SeqCst) {
            return None;
        }
        // Timed out or poked: leave the idle list, unless someone already
        // took us off it and is handing us a P.
        let mut idle = self.idle.lock();
        if let Some(i) = idle.ms.iter().position(|x| LArc::ptr_eq(x, m)) {
            idle.ms.swap_remove(i);
            self.nmidle.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        drop(idle);
        loop {
            if let Some(got) = m.park(None) {
                return Some(got);
            }
            if self.shutdown.load(Ordering::SeqCst) {
                return None;
            }
        }
    }

    /// Go's `handoffp`: gives away the P of an M entering a blocking call.
    pub(crate) fn handoffp(self: &Arc<Self>, p: &P) {
        if self.pwait_hand(p) {
            return; // an M mid-poll waits for a P: it is the oldest work
        }
        if p.has_local_work() || self.global_len() > 0 {
            self.startm(p.id, false);
            return;
        }
        // Go: no local work; start a spinner only if nobody is spinning
        // and no P is idle (otherwise our help is not needed).
        if self.nmspinning.load(Ordering::SeqCst) + self.npidle.load(Ordering::SeqCst) == 0
            && self
                .nmspinning
                .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            self.startm(p.id, true);
            return;
        }
        if !p.timers.is_empty() {
            self.startm(p.id, false);
            return;
        }
        let mut idle = self.idle.lock();
        if self.global_len() > 0 {
            drop(idle);
            self.startm(p.id, false);
            return;
        }
        self.pidleput_locked(&mut idle, p);
    }

    /// The idle-list half of findRunnable's stop: under the idle lock,
    /// either take global work (returns false: keep the P) or give the P up.
    pub(crate) fn release_p_for_stop(&self, p: &P, spinning: bool) -> bool {
        let mut idle = self.idle.lock();
        if self.global_len() > 0 || self.shutdown.load(Ordering::SeqCst) {
            return false;
        }
        if !spinning && self.needspinning.swap(false, Ordering::SeqCst) {
            return false;
        }
        self.pidleput_locked(&mut idle, p);
        true
    }

    /// Called when a timer became the earliest of its heap (Go's
    /// `wakeNetPoller`): wake the sleeping M if it would sleep past it, or
    /// start one.
    pub(crate) fn timer_changed(&self) {
        let idle = self.idle.lock();
        self.timer_changed_locked(&idle);
    }

    /// `timer_changed` with the idle lock held (lock order: idle, then the
    /// sleeper slot, then an M's park slot).
    fn timer_changed_locked(&self, idle: &Idle) {
        // [netpoll] The M blocked in the poller watches the timers: break
        // its poll (Go's wakeNetPoller).
        if super::netpoll::timer_changed(self) {
            return;
        }
        if let Some((m, _)) = self.sleeper.lock().as_ref() {
            m.poke();
            return;
        }
        if let Some(m) = idle.ms.last() {
            m.poke();
        }
    }

    /// The earliest timer over all usable Ps.
    pub(crate) fn earliest_timer(&self) -> Option<Instant> {
        let n = self.gomaxprocs.load(Ordering::Relaxed);
        (0..n).filter_map(|i| self.p(i)?.timers.next_when()).min()
    }

    /// Runs every P's due timers (an M with no P, or a thief).
    pub(crate) fn run_all_timers(&self, now: Instant) -> usize {
        let n = self.gomaxprocs.load(Ordering::Relaxed);
        let mut fired = 0;
        for i in 0..n {
            if let Some(p) = self.p(i) {
                if p.timers.next_when().is_some_and(|w| w <= now) {
                    fired += p.timers.run_due(now);
                }
            }
        }
        fired
    }

    /// True if any usable P has a non-empty local queue.
    pub(crate) fn any_local_work(&self) -> bool {
        let n = self.gomaxprocs.load(Ordering::Relaxed);
        (0..n).any(|i| self.p(i).is_some_and(|p| !p.runq.is_empty()))
    }

    // ---- readying Gs --------------------------------------------------------

    /// Go's `ready` after the state moved to SCHEDULED: runnext of the
    /// current P if this thread runs one of our Ps, else the global queue;
    /// then `wakep` unless the G is all the P has (see `m::ready_put`).
    pub(crate) fn ready(self: &Arc<Self>, g: GRef) {
        if self.shutdown.load(Ordering::Acquire) {
            return; // the G's future was or will be dropped by shutdown
        }
        if m::ready_put(self, g) {
            self.wakep();
        }
    }

    // ---- procresize ---------------------------------------------------------

    /// Go's `procresize`: changes the number of Ps; returns the old value.
    pub(crate) fn procresize(self: &Arc<Self>, n: usize) -> usize {
        let n = n.clamp(1, MAX_PROCS);
        let old;
        {
            let mut idle = self.idle.lock();
            old = self.gomaxprocs.load(Ordering::Relaxed);
            self.gomaxprocs.store(n, Ordering::SeqCst);
            for i in 0..n {
                let p = self.ensure_p(i);
                if i >= old && p.status.load(Ordering::Relaxed) != P_RUNNING {
                    // a new or previously retired P (one still owned keeps
                    // running: its M sees it is usable again).
                    if !idle.ps.contains(&i) {
                        self.pidleput_locked(&mut idle, p);
                    }
                }
            }
            if n < old {
                let dead: Vec<usize> = idle.ps.iter().copied().filter(|&i| i >= n).collect();
                idle.ps.retain(|&i| i < n);
                self.npidle.fetch_sub(dead.len(), Ordering::SeqCst);
                for i in dead {
                    let p = self.p(i).expect("idle P allocated");
                    self.retire_locked(&idle, p);
                }
            }
        }
        if self.global_len() > 0 || self.any_local_work() {
            self.wakep(); // new Ps can take queued work now
        }
        old
    }

    // ---- panics, watchers, shutdown -------------------------------------------

    /// Keeps the first panic of a detached G (or the deadlock report) for
    /// `run`/`block_on` to raise, and wakes them. A later payload is
    /// dropped after the lock is released: its drop may run user code.
    pub(crate) fn report_panic(&self, p: Box<dyn Any + Send>) {
        let rest = {
            let mut slot = self.panic.lock();
            if slot.is_none() {
                *slot = Some(p);
                None
            } else {
                Some(p)
            }
        };
        drop(rest);
        self.has_panic.store(true, Ordering::SeqCst);
        self.wake_watchers();
    }

    pub(crate) fn take_panic(&self) -> Option<Box<dyn Any + Send>> {
        self.panic.lock().take()
    }

    pub(crate) fn add_watcher(&self, w: &Waker) {
        let mut ws = self.watchers.lock();
        if !ws.iter().any(|x| x.will_wake(w)) {
            ws.push(w.clone());
        }
    }

    pub(crate) fn remove_watcher(&self, w: &Waker) {
        self.watchers.lock().retain(|x| !x.will_wake(w));
    }

    pub(crate) fn wake_watchers(&self) {
        let ws: Vec<Waker> = self.watchers.lock().clone();
        for w in ws {
            w.wake();
        }
    }

    /// Stops every M and joins their threads (not the caller's own; one
    /// grace period in all for Ms still inside a poll or a blocking call,
    /// which are then left to finish it), closes every P, the registry and
    /// the global queue, and drops every remaining G's future (see the
    /// module docs, "Shutdown").
    pub(crate) fn shutdown(self: &Arc<Self>) {
        if self.shutdown.swap(true, Ordering::SeqCst) {
            return;
        }
        let parked: Vec<LArc<MPark>> = {
            let mut idle = self.idle.lock();
            self.npwait.store(0, Ordering::Relaxed);
            let waiting: Vec<_> = idle.pwait.drain(..).collect();
            idle.ms.drain(..).chain(waiting).collect::<Vec<_>>()
        };
        for m in parked {
            m.hand(None, false);
        }
        if let Some((m, _)) = self.sleeper.lock().take() {
            m.poke();
        }
        super::netpoll::shutdown(self); // [netpoll] the M blocked in the poller
        {
            let mut poked = self.sysmon_note.lock();
            *poked = true;
            drop(poked);
            self.sysmon_cv.notify_all();
        }
        let threads: Vec<_> = self.threads.lock().drain(..).collect();
        join_ms(threads);
        self.close_ps();
        self.cancel_all();
        self.wake_watchers();
    }

    /// Shutdown's step 1: every P to the terminal owner state (`CLOSED`).
    /// Idle and retired Ps are closed under the idle lock; a P in a poll or
    /// a blocking call is taken by CAS; a P whose M is between polls is
    /// waited for (the M exits and closes it, or starts a poll this then
    /// takes: neither takes long).
    fn close_ps(&self) {
        {
            let mut idle = self.idle.lock();
            idle.closed = true;
            let n = idle.ps.len();
            for id in idle.ps.drain(..) {
                let p = self.p(id).expect("idle P not allocated");
                let closed = p.owner.close(true);
                debug_assert!(closed, "an idle P was owned");
            }
            self.npidle.fetch_sub(n, Ordering::SeqCst);
            for i in 0..MAX_PROCS {
                if let Some(p) = self.p(i) {
                    if p.status.load(Ordering::Relaxed) == P_DEAD {
                        p.owner.close(true);
                    }
                }
            }
        }
        // The caller may itself be an M of this runtime between polls.
        m::close_own_p(self);
        for i in 0..MAX_PROCS {
            let Some(p) = self.p(i) else { continue };
            while !p.owner.close(false) {
                crate::loom::yield_now();
            }
        }
    }

    /// Claims a G that is not being polled (IDLE or SCHEDULED → RUNNING)
    /// and drops its future; false if it is done or being polled.
    fn claim_and_cancel(&self, g: &GRef) -> bool {
        let h: &Header = g.header();
        let mut s = h.state.load(Ordering::Acquire);
        loop {
            if s != super::g::IDLE && s != super::g::SCHEDULED {
                return false;
            }
            // AcqRel: Acquire sees the last poll's effects before we drop
            // the future; Release orders the claim before a waker's CAS.
            match h.state.compare_exchange(
                s,
                super::g::RUNNING,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    g.cancel_claimed();
                    return true;
                }
                Err(cur) => s = cur,
            }
        }
    }

    /// Cancels `g` (a G of this runtime whose future borrows from a frame
    /// that is unwinding: `Runtime::block_on`) and returns once its future
    /// is dropped or finished: claimed here if nobody polls it, else waited
    /// for until the M polling it lets go (its poll ends).
    pub(crate) fn cancel_and_wait(&self, g: &GRef) {
        loop {
            if g.is_complete() {
                return;
            }
            if self.claim_and_cancel(g) {
                drop(self.registry.remove(g));
                return;
            }
            crate::loom::yield_now();
        }
    }

    /// Shutdown's steps 2 and 3 (after `close_ps`: this thread owns every
    /// P): drops the futures of every G not being polled, then every queued
    /// reference, with no lock held.
    fn cancel_all(&self) {
        let gs = self.registry.close_and_take_all();
        for g in &gs {
            self.claim_and_cancel(g);
        }
        drop(gs);
        let mut drained: Vec<GRef> = {
            let mut q = self.global.lock();
            let gs = q.close_and_drain();
            self.global_len.store(0, Ordering::Release);
            gs
        };
        for i in 0..MAX_PROCS {
            if let Some(p) = self.p(i) {
                debug_assert!(p.owner.is_closed(), "P {i} not closed at shutdown");
                drained.extend(p.runq.drain());
                // SAFETY: `close_ps` closed every P: no M owns one.
                unsafe { p.drain_yields(|g| drained.push(g)) };
            }
        }
        drop(drained);
    }
}

/// Joins the Ms' threads but the caller's own. Ms that have not finished
/// after `SHUTDOWN_GRACE` (in all, not each) are left detached: they are
/// inside a poll or a user's blocking call that may never return, and exit
/// when it does (their P is closed, see `close_ps`).
#[cfg(not(loom))]
fn join_ms(threads: Vec<std::thread::JoinHandle<()>>) {
    let me = std::thread::current().id();
    let deadline = Instant::now() + SHUTDOWN_GRACE;
    for t in threads {
        if t.thread().id() == me {
            continue;
        }
        while !t.is_finished() && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        if t.is_finished() {
            let _ = t.join();
        }
    }
}

#[cfg(loom)]
fn join_ms(threads: Vec<loom::thread::JoinHandle<()>>) {
    for t in threads {
        let _ = t.join();
    }
}

impl Drop for Sched {
    fn drop(&mut self) {
        for slot in self.allp.iter() {
            let p = slot.load(Ordering::Acquire);
            if !p.is_null() {
                // SAFETY: allocated by ensure_p with Box::into_raw, freed once.
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }
}

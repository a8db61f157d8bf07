//! The scheduler's side of the poller (Go's `findRunnable` netpoll
//! calls, `injectglist`, `netpollBreak`, sysmon's poll, `netpollWaiters`).
//!
//! - `poll_ready`: findRunnable's non-blocking poll, after the local and
//!   global queues and before stealing, when any G waits on I/O. With
//!   per-P instances (poller.rs) it polls the P's own instance (and, with
//!   fewer Ps than instances, every instance `k` with `k % GOMAXPROCS`
//!   equal to the P's id), even while an M is blocked in the main poll:
//!   what a P's own sockets wake runs on that P. Only if that finds
//!   nothing does it poll the other instances (their P may be in a long
//!   system call or a long poll), as Go's one poll would. Without
//!   instances it polls the main poll when no M is blocked there (Go's
//!   rule). The first woken G runs; the rest are injected (`inject`,
//!   Go's `injectglist`): as many as there are idle Ps to the global
//!   queue with an M started per P, the rest onto this P.
//! - `block_idle`: an M with nothing to do and no P blocks in the main
//!   poll (which holds every instance) until the earliest timer, instead
//!   of parking on its futex, when Gs wait on I/O. One M at a time
//!   (`blocker`, Go's `sched.lastpoll == 0`). It first polls each
//!   instance without blocking: events an instance already holds give its
//!   descriptor no new edge in the main poll. It blocks only if it polled
//!   every instance itself: one that another thread was polling may hold
//!   an event that came just after that poll, whose edge an earlier wake
//!   of the blocker took while the instance was locked (it looks again).
//! - `timer_changed`/`shutdown` break that M's wait (Go's `netpollBreak`);
//!   `break_pending` coalesces breaks (Go's `netpollWakeSig`). `shutdown`
//!   also wakes, to fail, the waits other threads parked on the runtime's
//!   sockets (poller.rs, "Shutdown").
//! - `sysmon_poll`: sysmon polls (the main poll and every instance) when
//!   nobody has polled the main poll for 10 ms.
//! - `io_waiters`: the deadlock check counts Gs waiting on I/O as alive.

use super::poller::{NetPoll, SYSMON_POLL};
use crate::loom::atomic::Ordering;
use crate::runtime::g::{self, GRef, Header};
use crate::runtime::p::P;
use crate::runtime::sched::Sched;
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};

/// Readies the Gs behind `wakers`: a G of `sched` moves to SCHEDULED
/// and goes into `gs` for the caller to queue; any other waker (a G of
/// another runtime, a thread) is woken.
fn collect_gs(sched: &Arc<Sched>, wakers: Vec<Waker>, gs: &mut Vec<GRef>) {
    for w in wakers {
        if std::ptr::eq(w.vtable(), g::waker_vtable()) {
            let h = w.data() as *const Header;
            // SAFETY: a G waker's data is its header, kept alive by
            // the reference the waker holds.
            if Arc::ptr_eq(&unsafe { &*h }.sched, sched) {
                let w = std::mem::ManuallyDrop::new(w);
                // SAFETY: the waker's reference moves into the GRef
                // (the waker is not dropped).
                let gr = unsafe { GRef::from_raw(w.data() as *mut Header) };
                gs.extend(g::ready_state(gr));
                continue;
            }
        }
        w.wake();
    }
}

/// Go's `injectglist`: with no P, every G goes to the global queue
/// and an M is started for each idle P (up to one per G); with `p`,
/// as many Gs as there are idle Ps go that way and the rest onto `p`'s
/// local queue (the caller owns `p`).
fn inject(sched: &Arc<Sched>, p: Option<&P>, gs: Vec<GRef>) {
    if gs.is_empty() || sched.shutdown.load(Ordering::Acquire) {
        return; // shutdown drops every G's future
    }
    let n = gs.len();
    let Some(p) = p else {
        sched.global_push_batch(gs);
        start_idle(sched, n);
        return;
    };
    let nidle = sched.npidle.load(Ordering::SeqCst).min(n);
    let mut it = gs.into_iter();
    if nidle > 0 {
        sched.global_push_batch(it.by_ref().take(nidle));
        start_idle(sched, nidle);
    }
    let mut over = Vec::new();
    for g in it {
        // SAFETY: the caller owns p.
        if let Some(batch) = unsafe { p.runq.put(g, false) } {
            over.extend(batch);
        }
    }
    if !over.is_empty() {
        sched.global_push_batch(over);
        sched.wakep();
    }
}

/// Go's `startIdle`: hands up to `n` idle Ps to Ms.
fn start_idle(sched: &Arc<Sched>, n: usize) {
    for _ in 0..n {
        match sched.pidleget() {
            Some(p) => sched.startm(p.id, false),
            None => break,
        }
    }
}

/// findRunnable's non-blocking poll (between the global queue and
/// stealing), when Gs wait on I/O: with instances, `p`'s own, then the
/// others if that found nothing (`poll_instances`); without, the main
/// poll if no M is blocked in it. Returns a woken G to run and queues the
/// others. The caller owns `p`.
pub(crate) fn poll_ready(sched: &Arc<Sched>, p: &P) -> Option<GRef> {
    let net = sched.net.get()?;
    let wakers = if net.insts.is_empty() {
        if net.main.waiters.load(Ordering::Relaxed) == 0 || net.blocker.load(Ordering::Relaxed) {
            return None;
        }
        let st = net.main.poll.try_lock()?;
        net.poll_once(st, Some(Duration::ZERO), false)
    } else {
        poll_instances(sched, net, p)
    };
    let mut gs = Vec::new();
    collect_gs(sched, wakers, &mut gs);
    if gs.is_empty() {
        return None;
    }
    let first = gs.remove(0);
    inject(sched, Some(p), gs);
    Some(first)
}

/// The instance part of `poll_ready`: the instances of `p` (with fewer
/// Ps than instances, as GOMAXPROCS shrank since the poller was made, P
/// `i` serves every instance `k` with `k % GOMAXPROCS == i`); if they
/// hold nothing, the others (their P may be in a long system call or
/// busy), as Go's single poll would, before the caller steals Gs.
fn poll_instances(sched: &Sched, net: &NetPoll, p: &P) -> Vec<Waker> {
    let mut out = Vec::new();
    let n = net.insts.len();
    let procs = sched.gomaxprocs.load(Ordering::Relaxed).clamp(1, n);
    let waiting = |k: usize| net.insts[k].waiters.load(Ordering::Relaxed) != 0;
    // An instance another thread is polling is skipped: that thread
    // hands out what it finds.
    for k in (p.id % n..n).step_by(procs).filter(|&k| waiting(k)) {
        let _ = net.poll_inst(k, &mut out);
    }
    if out.is_empty() {
        for k in (0..n).filter(|&k| waiting(k)) {
            let _ = net.poll_inst(k, &mut out);
        }
    }
    out
}

/// What an idle M without a P does after `block_idle`.
pub(crate) enum Idle<'a> {
    /// Park on the futex as before (not the poller's M, or every P is
    /// busy).
    Park,
    /// Polled (woken, timed out, or Gs were queued): look again.
    Again,
    /// Gs woke and this idle P was taken for them: run it.
    Run(&'a P),
}

/// The last idle M blocks in the main poll until the earliest timer
/// (findRunnable's `netpoll(delay)`), when Gs wait on I/O, a P is idle
/// and no other M is there, unless an instance already has events. Woken
/// Gs go onto an idle P, which the M takes; with none left, to the global
/// queue, and the M parks.
pub(crate) fn block_idle(sched: &Arc<Sched>) -> Idle<'_> {
    let Some(net) = sched.net.get() else {
        return Idle::Park;
    };
    // Go's M reaches netpoll(delay) right after giving up its P: only
    // block here while a P is idle for what wakes (with every P busy,
    // their Ms poll when their queues run dry, and sysmon every 10 ms).
    if net.waiters(Ordering::SeqCst) == 0
        || sched.npidle.load(Ordering::SeqCst) == 0
        || net.blocker.swap(true, Ordering::SeqCst)
    {
        return Idle::Park;
    }
    // SeqCst (the swap above, then these loads): a timer published
    // after our read of the heaps sees `blocker` and breaks the poll;
    // so does shutdown. Queued work is not checked: the caller found
    // no idle P for it, and work queued from now on starts an M
    // (`wakep`), as in Go, where the M in netpoll is not an idle M.
    if sched.shutdown.load(Ordering::SeqCst) {
        net.blocker.store(false, Ordering::SeqCst);
        return Idle::Again;
    }
    let timeout = sched
        .earliest_timer()
        .map(|w| w.saturating_duration_since(Instant::now()));
    // Events an instance holds already give its descriptor no new edge
    // in the main poll: take them before blocking. An instance another
    // thread is polling may get an event just after that poll's own look
    // (its edge already taken by an earlier wake of ours): block only
    // once every instance was polled here, else look again.
    let mut wakers = Vec::new();
    let mut all = true;
    for k in 0..net.insts.len() {
        all &= net.poll_inst(k, &mut wakers);
    }
    if wakers.is_empty() && !all {
        net.blocker.store(false, Ordering::SeqCst);
        std::thread::yield_now();
        return Idle::Again;
    }
    if wakers.is_empty() {
        let st = net.main.poll.lock();
        wakers = net.poll_once(st, timeout, false);
    }
    net.blocker.store(false, Ordering::SeqCst);
    let mut gs = Vec::new();
    collect_gs(sched, wakers, &mut gs);
    if gs.is_empty() {
        return Idle::Again;
    }
    match sched.pidleget() {
        Some(p) => {
            inject(sched, Some(p), gs);
            Idle::Run(p)
        }
        None => {
            // Every P is busy: they run the Gs; this M stops (Go:
            // injectglist, then stopm).
            inject(sched, None, gs);
            Idle::Park
        }
    }
}

/// A timer became the earliest of its heap (Go's `wakeNetPoller`): if
/// an M is blocked in the poller, break it so it sleeps until the new
/// deadline instead; true if one was.
pub(crate) fn timer_changed(sched: &Sched) -> bool {
    match sched.net.get() {
        Some(net) if net.blocker.load(Ordering::SeqCst) => {
            net.break_poller();
            true
        }
        _ => false,
    }
}

/// Shutdown: no more waits park, every parked wait (a G's or a plain
/// thread's) wakes to fail, and the M blocked in the poller returns (see
/// poller.rs, "Shutdown").
pub(crate) fn shutdown(sched: &Sched) {
    if let Some(net) = sched.net.get() {
        // SeqCst: before the edges below (their AcqRel carries it to any
        // wait that sees them) and before `break_poller`'s load.
        net.shutdown.store(true, Ordering::SeqCst);
        let live = std::mem::take(&mut *net.live.lock());
        let mut out = Vec::new();
        for pd in live.values().filter_map(std::sync::Weak::upgrade) {
            pd.shutdown_edge(&mut out);
        }
        // The descriptors' last references may go here: no lock is held.
        drop(live);
        out.into_iter().for_each(Waker::wake);
        net.break_poller();
    }
}

/// sysmon's poll: when Gs wait on I/O and nobody has polled the main poll
/// for 10 ms (every M busy), poll it and every instance once and queue
/// what woke.
pub(crate) fn sysmon_poll(sched: &Arc<Sched>) {
    let Some(net) = sched.net.get() else {
        return;
    };
    if net.waiters(Ordering::Relaxed) == 0 || net.blocker.load(Ordering::Relaxed) {
        return;
    }
    let last = Duration::from_nanos(net.last_poll.load(Ordering::Relaxed));
    if net.epoch.elapsed().saturating_sub(last) < SYSMON_POLL {
        return;
    }
    let Some(st) = net.main.poll.try_lock() else {
        return;
    };
    let wakers = net.poll_once(st, Some(Duration::ZERO), true);
    let mut gs = Vec::new();
    collect_gs(sched, wakers, &mut gs);
    inject(sched, None, gs);
}

/// Gs (waits) parked on the runtime's sockets: alive for the deadlock
/// check, as Go counts `netpollWaiters` (summed over the polls).
pub(crate) fn io_waiters(sched: &Sched) -> usize {
    sched.net.get().map_or(0, |n| n.waiters(Ordering::SeqCst))
}

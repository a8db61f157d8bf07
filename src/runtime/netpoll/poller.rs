//! One runtime's `mio::Poll` (or the process poller's) and its break (Go's
//! `netpoll` and `netpollBreak` in `netpoll_epoll.go`).
//!
//! Whoever polls holds the poll lock: the non-blocking polls of
//! `findRunnable` and sysmon take it with `try_lock`, the M that blocks in
//! the poller holds it for the whole wait. Readiness bumps the waiter
//! words of the descriptors the events name and hands back the wakers of
//! the waits it woke.
//!
//! # Lifetime of a token
//! An event may name a descriptor that was deregistered while the poll
//! that returned it was running. Deregistered descriptors therefore wait
//! in `NetPoll::release` until no poll that could have seen them is left:
//! the list is emptied at the end of every poll (under the poll lock, after
//! its events were handled) or by a closer that finds the poll lock free.
//! Go keeps its `pollDesc`s in a never-freed cache for the same reason.
//!
//! Sockets created off any runtime (a plain thread in `goro::block_on`)
//! register with the process poller, served by one thread of its own, as
//! the fallback timer thread serves timers armed off any runtime.
//!
//! # Shutdown
//! The runtime's own Gs need nothing: shutdown drops their futures. Any
//! other wait (a plain thread in `goro::block_on`, a G of another
//! runtime) first puts its descriptor in the poller's `live` map, under
//! the map's lock, re-checking `shutdown` there. Shutdown sets
//! `shutdown` (no operation parks from then on: one that would fails),
//! empties the map under its lock, and gives each of those descriptors a
//! readiness edge in both directions: each parked wait wakes, tries its
//! operation again and fails instead of waiting on a poller nobody polls
//! any more. A wait racing with shutdown either entered the map first
//! (it gets the edge: if it read its word before the edge it refuses to
//! park, the word moved) or after (the lock orders its re-check after the
//! flag, and it fails).

use super::desc::PollDesc;
use crate::loom::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use crate::loom::{Mutex, MutexGuard};
use crate::runtime::m;
use crate::runtime::sched::Sched;
use mio::{Events, Token};
use std::collections::HashMap;
use std::io;
use std::sync::{Arc, OnceLock, Weak};
use std::task::Waker;
use std::time::{Duration, Instant};

/// The token of the poller's own `mio::Waker`.
const WAKER: Token = Token(usize::MAX);
/// Events taken per poll (Go: 128; a larger batch suits many
/// connections).
const EVENTS: usize = 1024;
/// sysmon polls when nobody has polled for this long (Go: 10 ms).
pub(super) const SYSMON_POLL: Duration = Duration::from_millis(10);

/// One runtime's poller (or the process poller).
pub(crate) struct NetPoll {
    /// The poll and its event buffer; whoever polls holds the lock.
    pub(super) poll: Mutex<PollState>,
    pub(super) registry: mio::Registry,
    pub(super) waker: mio::Waker,
    /// Waiter lists that are not empty (Go's `netpollWaiters`).
    /// Written by `Waiter::wait`/`take_all`/`cancel`.
    pub(crate) waiters: AtomicUsize,
    /// An M is blocked, or about to block, in the poller. Set and
    /// cleared by that M (`block_idle`); SeqCst, read by `break_poller`
    /// after a timer was published (the Dekker pair with the timer
    /// heap's `next_when`).
    pub(super) blocker: AtomicBool,
    /// A break is in flight (Go's `netpollWakeSig`). Set by breakers,
    /// cleared by the poller when it sees the waker's event.
    pub(super) break_pending: AtomicBool,
    /// When a poll last ended, in ns since `epoch`. Written by pollers.
    pub(super) last_poll: AtomicU64,
    pub(super) epoch: Instant,
    /// Set once when the runtime shuts down (no M polls any more).
    pub(super) shutdown: AtomicBool,
    /// Deregistered descriptors an unfinished poll may still name (see
    /// the module docs). Pushed by closers, emptied by pollers.
    pub(super) release: Mutex<Vec<Arc<PollDesc>>>,
    /// The descriptors of a runtime poller on which a wait other than a G
    /// of this runtime parked (a plain thread's, or another runtime's G),
    /// by token, so that shutdown can wake them. Written by such waits
    /// (`PollDesc::mark_live`), `deregister` and shutdown, which empties
    /// it; the process poller, which never shuts down, keeps none.
    pub(super) live: Mutex<HashMap<usize, Weak<PollDesc>>>,
    /// The runtime (empty for the process poller).
    pub(super) sched: Weak<Sched>,
}

pub(super) struct PollState {
    poll: mio::Poll,
    events: Events,
}

impl NetPoll {
    fn new(sched: Weak<Sched>) -> io::Result<NetPoll> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(&registry, WAKER)?;
        Ok(NetPoll {
            poll: Mutex::new(PollState {
                poll,
                events: Events::with_capacity(EVENTS),
            }),
            registry,
            waker,
            waiters: AtomicUsize::new(0),
            blocker: AtomicBool::new(false),
            break_pending: AtomicBool::new(false),
            last_poll: AtomicU64::new(0),
            epoch: Instant::now(),
            shutdown: AtomicBool::new(false),
            release: Mutex::new(Vec::new()),
            live: Mutex::new(HashMap::new()),
            sched,
        })
    }

    /// Polls once (the caller holds the poll lock) and returns the
    /// wakers of every wait that became ready, after the lock was
    /// released and the release list emptied.
    pub(super) fn poll_once(
        &self,
        mut st: MutexGuard<'_, PollState>,
        timeout: Option<Duration>,
    ) -> Vec<Waker> {
        let mut out = Vec::new();
        let st2 = &mut *st;
        // EINTR and the like: an empty poll; the caller loops.
        let _ = st2.poll.poll(&mut st2.events, timeout);
        for ev in st2.events.iter() {
            if ev.token() == WAKER {
                // SeqCst: a breaker that sees `false` after this wakes
                // the poller again; one that saw `true` before knows
                // this poller looks at the timers after returning.
                self.break_pending.store(false, Ordering::SeqCst);
                continue;
            }
            // SAFETY: a token is the address of a PollDesc that is
            // registered, or deregistered and kept in `release`, which
            // is emptied only after this poll's events were handled
            // (below, still under the poll lock): it is alive.
            let pd = unsafe { &*(ev.token().0 as *const PollDesc) };
            let err = ev.is_error();
            if err || ev.is_readable() || ev.is_read_closed() {
                pd.rg.ready(&mut out, &self.waiters);
            }
            if err || ev.is_writable() || ev.is_write_closed() {
                pd.wg.ready(&mut out, &self.waiters);
            }
        }
        let ns = self.epoch.elapsed().as_nanos() as u64;
        self.last_poll.store(ns.max(1), Ordering::Relaxed);
        let released = std::mem::take(&mut *self.release.lock());
        drop(st);
        drop(released);
        out
    }

    /// Go's `netpollBreak`: makes a poller blocked in `block_idle`
    /// return (no-op when none is).
    pub(super) fn break_poller(&self) {
        // SeqCst: after the caller published its change (a timer,
        // shutdown); pairs with `block_idle`'s store of `blocker`.
        if self.blocker.load(Ordering::SeqCst) && !self.break_pending.swap(true, Ordering::SeqCst) {
            let _ = self.waker.wake();
        }
    }

    /// A descriptor was deregistered: free it now if no poll is
    /// running, else once the running poll has handled its events.
    pub(super) fn release(&self, pd: Arc<PollDesc>) {
        match self.poll.try_lock() {
            Some(st) => {
                let older = std::mem::take(&mut *self.release.lock());
                drop(st);
                drop(older);
                drop(pd);
            }
            None => self.release.lock().push(pd),
        }
    }

    /// A wait parked and made the count leave 0. If the thread is not
    /// one of the runtime's Ms (which go on to poll), make sure one
    /// does: start an M if none is blocked in the poller.
    pub(super) fn kick(&self) {
        if self.blocker.load(Ordering::SeqCst) {
            return;
        }
        let Some(sched) = self.sched.upgrade() else {
            return; // the process poller's thread always polls
        };
        let on_m = m::with_m(|m| m.is_some_and(|m| Arc::ptr_eq(&m.sched, &sched)));
        if !on_m {
            sched.wakep();
        }
    }
}

/// The runtime's poller, created on first use (Go's
/// `netpollGenericInit`).
#[derive(Default)]
pub(crate) struct NetSlot {
    cell: OnceLock<Arc<NetPoll>>,
    init: Mutex<()>,
}

impl NetSlot {
    #[inline]
    pub(super) fn get(&self) -> Option<&Arc<NetPoll>> {
        self.cell.get()
    }

    pub(super) fn get_or_init(&self, sched: &Arc<Sched>) -> io::Result<Arc<NetPoll>> {
        if let Some(n) = self.cell.get() {
            return Ok(n.clone());
        }
        let _g = self.init.lock();
        if let Some(n) = self.cell.get() {
            return Ok(n.clone());
        }
        let n = Arc::new(NetPoll::new(Arc::downgrade(sched))?);
        let _ = self.cell.set(n.clone());
        Ok(n)
    }
}

impl Drop for NetSlot {
    fn drop(&mut self) {
        // No M polls any more: free what waited for the last poll (the
        // descriptors hold the poller: this breaks the cycle).
        if let Some(n) = self.cell.get() {
            let released = std::mem::take(&mut *n.release.lock());
            drop(released);
        }
    }
}

/// The poller of sockets created off any runtime, and its thread.
pub(super) fn process_poller() -> io::Result<Arc<NetPoll>> {
    static POLLER: OnceLock<Arc<NetPoll>> = OnceLock::new();
    static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    if let Some(n) = POLLER.get() {
        return Ok(n.clone());
    }
    let _g = INIT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = POLLER.get() {
        return Ok(n.clone());
    }
    let n = Arc::new(NetPoll::new(Weak::new())?);
    let run = n.clone();
    std::thread::Builder::new()
        .name("goro-netpoll".into())
        .spawn(move || {
            loop {
                let wakers = run.poll_once(run.poll.lock(), None);
                wakers.into_iter().for_each(Waker::wake);
            }
        })?;
    let _ = POLLER.set(n.clone());
    Ok(n)
}

/// The poller new sockets of this thread register with: its runtime's,
/// or the process poller off any runtime.
pub(super) fn current_poller() -> io::Result<Arc<NetPoll>> {
    match m::with_m(|m| m.map(|m| m.sched.clone())) {
        Some(s) => s.net.get_or_init(&s),
        None => process_poller(),
    }
}

//! One runtime's pollers (or the process poller) and their break (Go's
//! `netpoll` and `netpollBreak` in `netpoll_epoll.go`).
//!
//! A runtime with more than one P gives each P its own poll instance
//! (`insts`, one epoll per P at creation): a socket registers with one
//! instance, and findRunnable's non-blocking poll on P `i` polls instance
//! `i` first (the others only if it holds nothing, `hooks.rs`), so a
//! connection's Gs keep running on the P (and mostly the CPU) whose cache
//! holds its socket. A TCP connection picks its
//! instance by a symmetric hash of its two addresses (as a NIC's
//! symmetric RSS does), so both ends of a connection inside one program
//! share an instance and their hand-offs never cross Ps; other sources go
//! round-robin. The main poll (`main`) holds the break waker and every
//! instance's epoll descriptor: the one M blocked in the poller (Go's
//! shape, `hooks.rs`) waits there for all of them, then polls the ready
//! instances (it blocks only after polling every instance itself). With one P (and for the process poller) sockets register
//! with the main poll itself and `insts` is empty.
//!
//! Whoever polls a poll holds its lock: the non-blocking polls of
//! `findRunnable` and sysmon take it with `try_lock`, the M that blocks in
//! the main poll holds that lock for the whole wait (an instance is only
//! ever polled without blocking). Readiness bumps the waiter words of the
//! descriptors the events name and hands back the wakers of the waits it
//! woke. No thread holds two poll locks: a poll of the main poll releases
//! its lock before it polls the instances whose descriptors fired.
//!
//! # Lifetime of a token
//! An event may name a descriptor that was deregistered while the poll
//! that returned it was running. Deregistered descriptors therefore wait
//! in their poll's `release` list until no poll that could have seen them
//! is left: the list is emptied at the end of every poll of that poll
//! (under its lock, after its events were handled) or by a closer that
//! finds its lock free. Only polls of the poll a descriptor registered
//! with can name it. Go keeps its `pollDesc`s in a never-freed cache for
//! the same reason.
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
use std::os::fd::AsRawFd;
use std::sync::{Arc, OnceLock, Weak};
use std::task::Waker;
use std::time::{Duration, Instant};

/// The token of the poller's own `mio::Waker`.
const WAKER: Token = Token(usize::MAX);
/// Instance `k`'s epoll descriptor in the main poll: `INST_BASE - k`
/// (descriptor tokens are addresses, far below).
const INST_BASE: usize = usize::MAX - 1;
/// `PollDesc::inst` of a source registered with the main poll.
pub(super) const MAIN: usize = usize::MAX;
/// Events taken per poll of the main poll (Go: 128; a larger batch
/// suits many connections).
const EVENTS: usize = 1024;
/// Events taken per poll of a P's instance (it holds a share of the
/// sockets, and one per P exists).
const INST_EVENTS: usize = 256;
/// sysmon polls when nobody has polled for this long (Go: 10 ms).
pub(super) const SYSMON_POLL: Duration = Duration::from_millis(10);

/// One poll: an epoll instance, its event buffer and its release list.
pub(super) struct Instance {
    /// The poll and its event buffer; whoever polls holds the lock.
    pub(super) poll: Mutex<PollState>,
    pub(super) registry: mio::Registry,
    /// Deregistered descriptors an unfinished poll of this poll may still
    /// name (see the module docs). Pushed by closers, emptied by pollers.
    release: Mutex<Vec<Arc<PollDesc>>>,
    /// Waiter lists of this poll's descriptors that are not empty (Go's
    /// `netpollWaiters`, kept per poll so that a P's parks and wakes on
    /// its own instance touch only its own counter). Written by
    /// `Waiter::wait`/`take_all`/`cancel`.
    pub(crate) waiters: AtomicUsize,
}

impl Instance {
    fn new(events: usize) -> io::Result<Instance> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        Ok(Instance {
            poll: Mutex::new(PollState {
                poll,
                events: Events::with_capacity(events),
            }),
            registry,
            release: Mutex::new(Vec::new()),
            waiters: AtomicUsize::new(0),
        })
    }

    /// Frees what waited for the last poll (the caller holds the lock or
    /// no poll runs any more).
    fn take_released(&self) -> Vec<Arc<PollDesc>> {
        std::mem::take(&mut *self.release.lock())
    }
}

/// One runtime's poller (or the process poller).
pub(crate) struct NetPoll {
    /// The main poll: the break waker, the instances' epoll descriptors
    /// and, without instances, every source.
    pub(super) main: Instance,
    /// One poll per P as the poller was made (empty with one P, and for
    /// the process poller); fixed for the poller's life.
    pub(super) insts: Box<[Instance]>,
    /// Round-robin for sources without a flow key. Bumped by registering
    /// threads; Relaxed, only a spread.
    next_inst: AtomicUsize,
    /// The break waker, in the main poll.
    pub(super) waker: mio::Waker,
    /// An M is blocked, or about to block, in the poller. Set and
    /// cleared by that M (`block_idle`); SeqCst, read by `break_poller`
    /// after a timer was published (the Dekker pair with the timer
    /// heap's `next_when`).
    pub(super) blocker: AtomicBool,
    /// A break is in flight (Go's `netpollWakeSig`). Set by breakers,
    /// cleared by the poller when it sees the waker's event.
    pub(super) break_pending: AtomicBool,
    /// When a poll of the main poll last ended, in ns since `epoch`.
    /// Written by its pollers (Relaxed: sysmon only estimates).
    pub(super) last_poll: AtomicU64,
    pub(super) epoch: Instant,
    /// Set once when the runtime shuts down (no M polls any more).
    pub(super) shutdown: AtomicBool,
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
    /// A poller with `ninst` per-P instances (0: sources register with
    /// the main poll).
    fn new(sched: Weak<Sched>, ninst: usize) -> io::Result<NetPoll> {
        let main = Instance::new(EVENTS)?;
        let waker = mio::Waker::new(&main.registry, WAKER)?;
        let insts = (0..ninst)
            .map(|_| Instance::new(INST_EVENTS))
            .collect::<io::Result<Box<[Instance]>>>()?;
        for (k, inst) in insts.iter().enumerate() {
            let fd = inst.poll.lock().poll.as_raw_fd();
            main.registry.register(
                &mut mio::unix::SourceFd(&fd),
                Token(INST_BASE - k),
                mio::Interest::READABLE,
            )?;
        }
        Ok(NetPoll {
            main,
            insts,
            next_inst: AtomicUsize::new(0),
            waker,
            blocker: AtomicBool::new(false),
            break_pending: AtomicBool::new(false),
            last_poll: AtomicU64::new(0),
            epoch: Instant::now(),
            shutdown: AtomicBool::new(false),
            live: Mutex::new(HashMap::new()),
            sched,
        })
    }

    /// Polls the main poll once (the caller holds its lock) and returns
    /// the wakers of every wait that became ready, after the lock was
    /// released and the release list emptied; then the instances whose
    /// descriptor fired (every instance if `all_insts`) are polled without
    /// blocking, each if its lock is free (a P polling its own instance
    /// hands out what it finds itself).
    pub(super) fn poll_once(
        &self,
        st: MutexGuard<'_, PollState>,
        timeout: Option<Duration>,
        all_insts: bool,
    ) -> Vec<Waker> {
        let mut out = Vec::new();
        let inst_ready = self.poll_events(&self.main, st, timeout, &mut out);
        let ns = self.epoch.elapsed().as_nanos() as u64;
        self.last_poll.store(ns.max(1), Ordering::Relaxed);
        if inst_ready || all_insts {
            for k in 0..self.insts.len() {
                // One being polled elsewhere: `block_idle` looks again
                // before it blocks.
                let _ = self.poll_inst(k, &mut out);
            }
        }
        out
    }

    /// Polls instance `k` without blocking if nobody else is polling it,
    /// adding the wakers of the waits that became ready to `out`; false if
    /// another thread was polling it.
    pub(super) fn poll_inst(&self, k: usize, out: &mut Vec<Waker>) -> bool {
        let inst = &self.insts[k];
        match inst.poll.try_lock() {
            Some(st) => {
                self.poll_events(inst, st, Some(Duration::ZERO), out);
                true
            }
            None => false,
        }
    }

    /// One poll of `inst`, whose lock the caller holds as `st`: readies
    /// the waits the events name, then empties the release list and
    /// unlocks. True if an instance's descriptor fired (main poll only).
    fn poll_events(
        &self,
        inst: &Instance,
        mut st: MutexGuard<'_, PollState>,
        timeout: Option<Duration>,
        out: &mut Vec<Waker>,
    ) -> bool {
        let mut inst_ready = false;
        let st2 = &mut *st;
        // EINTR and the like: an empty poll; the caller loops.
        let _ = st2.poll.poll(&mut st2.events, timeout);
        for ev in st2.events.iter() {
            let t = ev.token().0;
            if t == WAKER.0 {
                // SeqCst: a breaker that sees `false` after this wakes
                // the poller again; one that saw `true` before knows
                // this poller looks at the timers after returning.
                self.break_pending.store(false, Ordering::SeqCst);
                continue;
            }
            if t <= INST_BASE && t > INST_BASE - self.insts.len() {
                inst_ready = true; // an instance has events
                continue;
            }
            // SAFETY: a token is the address of a PollDesc registered
            // with this poll, or deregistered and kept in this poll's
            // `release` list, which is emptied only after this poll's
            // events were handled (below, still under its lock): it is
            // alive.
            let pd = unsafe { &*(t as *const PollDesc) };
            let err = ev.is_error();
            if err || ev.is_readable() || ev.is_read_closed() {
                pd.rg.ready(out, &inst.waiters);
            }
            if err || ev.is_writable() || ev.is_write_closed() {
                pd.wg.ready(out, &inst.waiters);
            }
        }
        let released = inst.take_released();
        drop(st);
        drop(released);
        inst_ready
    }

    /// The poll a new source registers with: the main poll without
    /// instances; else the instance of `flow` (a symmetric hash of a
    /// connection's two addresses), or the next one round-robin.
    pub(super) fn pick(&self, flow: Option<u64>) -> usize {
        let n = self.insts.len();
        if n == 0 {
            return MAIN;
        }
        match flow {
            Some(h) => (h % n as u64) as usize,
            None => self.next_inst.fetch_add(1, Ordering::Relaxed) % n,
        }
    }

    /// Waiter lists that are not empty, over every poll (`ord` for each
    /// load).
    pub(super) fn waiters(&self, ord: Ordering) -> usize {
        std::iter::once(&self.main)
            .chain(self.insts.iter())
            .map(|i| i.waiters.load(ord))
            .sum()
    }

    /// Poll `k` (`MAIN` or an instance index).
    pub(super) fn instance(&self, k: usize) -> &Instance {
        if k == MAIN {
            &self.main
        } else {
            &self.insts[k]
        }
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

    /// A descriptor of poll `k` was deregistered: free it now if that
    /// poll is not running, else once the running poll has handled its
    /// events.
    pub(super) fn release(&self, k: usize, pd: Arc<PollDesc>) {
        let inst = self.instance(k);
        match inst.poll.try_lock() {
            Some(st) => {
                let older = inst.take_released();
                drop(st);
                drop(older);
                drop(pd);
            }
            None => inst.release.lock().push(pd),
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
        // One instance per P, when there is more than one.
        let procs = sched.gomaxprocs.load(Ordering::Relaxed);
        let ninst = if procs > 1 { procs } else { 0 };
        let n = Arc::new(NetPoll::new(Arc::downgrade(sched), ninst)?);
        let _ = self.cell.set(n.clone());
        Ok(n)
    }
}

impl Drop for NetSlot {
    fn drop(&mut self) {
        // No M polls any more: free what waited for the last poll (the
        // descriptors hold the poller: this breaks the cycle).
        if let Some(n) = self.cell.get() {
            let released: Vec<_> = std::iter::once(&n.main)
                .chain(n.insts.iter())
                .flat_map(Instance::take_released)
                .collect();
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
    let n = Arc::new(NetPoll::new(Weak::new(), 0)?);
    let run = n.clone();
    std::thread::Builder::new()
        .name("goro-netpoll".into())
        .spawn(move || {
            loop {
                let wakers = run.poll_once(run.main.poll.lock(), None, false);
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

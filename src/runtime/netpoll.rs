//! The network poller (Go's `runtime/netpoll.go` and `netpoll_epoll.go`):
//! one `mio::Poll` per runtime, one poll descriptor per socket, and the
//! scheduler's hooks that turn readiness into runnable Gs.
//!
//! # Poll descriptors (Go's `pollDesc`)
//! A socket is registered once, for reading and writing, edge-triggered;
//! its token is the address of its [`PollDesc`]. A descriptor holds one
//! [`Waiter`] per direction (Go's `rg`/`wg`) and the direction's deadline.
//! A waiter word packs a readiness sequence number (bumped by every edge
//! the poller reports), `CLOSED`, `EXPIRED` (the deadline passed) and
//! `WAITING` (its waker list may be non-empty). An operation
//! (`PollDesc::poll_io`) reads the word, fails on `CLOSED`/`EXPIRED` (Go's
//! `netpollcheckerr`, so a past deadline fails at once), tries the system
//! call, and on `EWOULDBLOCK` parks with the word it read: `Waiter::wait`
//! refuses to park if the sequence moved since (an edge came in between)
//! or a flag was set. Go consumes `pdReady` before the call; counting
//! edges gives the same "no edge is lost" and lets several Gs wait on one
//! direction (a shared UDP socket).
//!
//! # Lifetime of a token
//! An event may name a descriptor that was deregistered while the poll
//! that returned it was running. Deregistered descriptors therefore wait
//! in `NetPoll::release` until no poll that could have seen them is left:
//! the list is emptied at the end of every poll (under the poll lock, after
//! its events were handled) or by a closer that finds the poll lock free.
//! Go keeps its `pollDesc`s in a never-freed cache for the same reason.
//!
//! # The scheduler's side (Go's `findRunnable`, `netpollBreak`, `sysmon`)
//! - `poll_ready`: findRunnable's non-blocking poll, after the local and
//!   global queues and before stealing, when any G waits on I/O and no M
//!   is blocked in the poller. The first woken G runs; the rest are
//!   injected (`inject`, Go's `injectglist`): as many as there are idle Ps
//!   to the global queue with an M started per P, the rest onto this P.
//! - `block_idle`: an M with nothing to do and no P blocks in the poller
//!   until the earliest timer, instead of parking on its futex, when Gs
//!   wait on I/O. One M at a time (`blocker`, Go's `sched.lastpoll == 0`).
//! - `break_poller` (Go's `netpollBreak`): wakes that M through the
//!   poller's `mio::Waker` when a timer becomes the earliest or on
//!   shutdown; `break_pending` coalesces breaks (Go's `netpollWakeSig`).
//! - `sysmon_poll`: sysmon polls when nobody has for 10 ms.
//! - `io_waiters`: the deadlock check counts Gs waiting on I/O as alive.
//!
//! Sockets created off any runtime (a plain thread in `goro::block_on`)
//! register with the process poller, served by one thread of its own, as
//! the fallback timer thread serves timers armed off any runtime.
//!
//! # Deadlock safety
//! Lock order: a descriptor's deadline lock, then a waiter's list lock;
//! the poll lock, then a waiter's list lock; a timer's locks (through
//! `crate::time`) only under the deadline lock or none. Wakers are taken
//! out under the locks and woken after every lock is released.

use crate::loom::Mutex;
use crate::loom::atomic::{AtomicUsize, Ordering};
use std::task::Waker;

pub(crate) use imp::*;

// ---- the waiter word ---------------------------------------------------------

/// Waiter word flag: the descriptor is closing; every wait fails.
pub(crate) const CLOSED: usize = 1;
/// Waiter word flag: this direction's deadline has passed.
pub(crate) const EXPIRED: usize = 2;
/// Waiter word flag: the waker list may hold wakers (set and cleared
/// under the list lock).
const WAITING: usize = 4;
/// One readiness edge: the sequence number counts above the flags.
const SEQ_ONE: usize = 8;

/// One direction of a poll descriptor (Go's `rg` or `wg`).
pub(crate) struct Waiter {
    /// Readiness sequence and flags. Bumped by the poller (`ready`), flags
    /// set by close and deadlines, `WAITING` written under `list`.
    word: AtomicUsize,
    /// Parked waits, each with the id its future holds.
    list: Mutex<WaitList>,
}

/// The wakers parked on one direction; the first without allocating.
#[derive(Default)]
struct WaitList {
    first: Option<(u64, Waker)>,
    more: Vec<(u64, Waker)>,
    /// The last id handed out (ids start at 1; 0 means "none").
    last_id: u64,
}

impl WaitList {
    fn is_empty(&self) -> bool {
        self.first.is_none() && self.more.is_empty()
    }

    fn find(&mut self, id: u64) -> Option<&mut Waker> {
        if id == 0 {
            return None;
        }
        match &mut self.first {
            Some((i, w)) if *i == id => Some(w),
            _ => self.more.iter_mut().find(|(i, _)| *i == id).map(|(_, w)| w),
        }
    }

    fn insert(&mut self, w: Waker) -> u64 {
        self.last_id += 1;
        let id = self.last_id;
        if self.first.is_none() {
            self.first = Some((id, w));
        } else {
            self.more.push((id, w));
        }
        id
    }

    fn remove(&mut self, id: u64) -> Option<Waker> {
        if matches!(&self.first, Some((i, _)) if *i == id) {
            let w = self.first.take().map(|(_, w)| w);
            if !self.more.is_empty() {
                self.first = Some(self.more.remove(0));
            }
            return w;
        }
        let at = self.more.iter().position(|(i, _)| *i == id)?;
        Some(self.more.remove(at).1)
    }

    fn drain_into(&mut self, out: &mut Vec<Waker>) {
        out.extend(self.first.take().map(|(_, w)| w));
        out.extend(self.more.drain(..).map(|(_, w)| w));
    }
}

/// What `Waiter::wait` did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// An edge came in or a flag was set since the word was read: retry.
    Ready,
    /// Parked; `first` if this made the poller's waiter count leave 0.
    Parked { first: bool },
}

impl Default for Waiter {
    fn default() -> Self {
        Self::new()
    }
}

impl Waiter {
    pub(crate) fn new() -> Self {
        Waiter {
            word: AtomicUsize::new(0),
            list: Mutex::new(WaitList::default()),
        }
    }

    /// The word, read before an operation's system call.
    #[inline]
    pub(crate) fn load(&self) -> usize {
        // Acquire: pairs with the AcqRel of `ready`/`set`, so what the
        // notifier did before (a deadline's bookkeeping) is visible.
        self.word.load(Ordering::Acquire)
    }

    /// Parks `waker` (under registration `*reg`, updated to its id) unless
    /// the word moved since `seen` or carries `CLOSED`/`EXPIRED`. `count`
    /// is the poller's count of non-empty lists (Go's `netpollWaiters`).
    pub(crate) fn wait(
        &self,
        seen: usize,
        waker: &Waker,
        reg: &mut u64,
        count: &AtomicUsize,
    ) -> Wait {
        let mut l = self.list.lock();
        // AcqRel: pairs with the notifier's AcqRel RMW (`ready`/`set`):
        // whichever of the two comes second sees the other, so either we
        // see the new edge or flag here, or the notifier sees WAITING and
        // takes the waker we add below (under this lock).
        let prev = self.word.fetch_or(WAITING, Ordering::AcqRel);
        let moved = (prev ^ seen) & !(SEQ_ONE - 1) != 0;
        if moved || prev & (CLOSED | EXPIRED) != 0 {
            if l.is_empty() {
                self.word.fetch_and(!WAITING, Ordering::Relaxed);
            }
            return Wait::Ready;
        }
        let was_empty = l.is_empty();
        let mut old = None;
        match l.find(*reg) {
            Some(w) if w.will_wake(waker) => {}
            Some(w) => old = Some(std::mem::replace(w, waker.clone())),
            None => *reg = l.insert(waker.clone()),
        }
        // SeqCst: the deadlock check and `block_idle` read the count.
        let first = was_empty && count.fetch_add(1, Ordering::SeqCst) == 0;
        drop(l);
        drop(old);
        Wait::Parked { first }
    }

    /// A readiness edge: bumps the sequence and takes every parked waker
    /// into `out` (Go's `netpollready`/`netpollunblock`).
    pub(crate) fn ready(&self, out: &mut Vec<Waker>, count: &AtomicUsize) {
        // AcqRel: pairs with `wait`'s fetch_or (see there).
        let prev = self.word.fetch_add(SEQ_ONE, Ordering::AcqRel);
        if prev & WAITING != 0 {
            self.take_all(out, count);
        }
    }

    /// Sets `flag` (`CLOSED` or `EXPIRED`) and takes every parked waker.
    pub(crate) fn set(&self, flag: usize, out: &mut Vec<Waker>, count: &AtomicUsize) {
        // AcqRel: pairs with `wait`'s fetch_or (see there).
        let prev = self.word.fetch_or(flag, Ordering::AcqRel);
        if prev & WAITING != 0 {
            self.take_all(out, count);
        }
    }

    /// Clears `flag` (a deadline moved to the future or removed).
    pub(crate) fn clear(&self, flag: usize) {
        // AcqRel: ordered with the set it undoes (both under the caller's
        // deadline lock) and with `wait`'s fetch_or.
        self.word.fetch_and(!flag, Ordering::AcqRel);
    }

    fn take_all(&self, out: &mut Vec<Waker>, count: &AtomicUsize) {
        let mut l = self.list.lock();
        if !l.is_empty() {
            l.drain_into(out);
            count.fetch_sub(1, Ordering::SeqCst);
        }
        self.word.fetch_and(!WAITING, Ordering::Relaxed);
    }

    /// Removes registration `id` (a dropped future): its waker is not
    /// woken, and the count forgets it.
    pub(crate) fn cancel(&self, id: u64, count: &AtomicUsize) {
        if id == 0 {
            return;
        }
        let mut l = self.list.lock();
        let w = l.remove(id);
        if w.is_some() && l.is_empty() {
            count.fetch_sub(1, Ordering::SeqCst);
            self.word.fetch_and(!WAITING, Ordering::Relaxed);
        }
        drop(l);
        drop(w);
    }
}

/// A waiter word and its count, for the loom models in `loom-tests/`.
#[doc(hidden)]
#[derive(Default)]
pub struct TestWaiter {
    w: Waiter,
    count: AtomicUsize,
}

#[doc(hidden)]
impl TestWaiter {
    /// A waiter with nothing parked.
    pub fn new() -> Self {
        Self::default()
    }
    /// The word before an operation.
    pub fn load(&self) -> usize {
        self.w.load()
    }
    /// Whether `word` fails operations (closed or expired).
    pub fn failed(word: usize) -> bool {
        word & (CLOSED | EXPIRED) != 0
    }
    /// Parks `waker` unless the word moved since `seen`; true if parked.
    pub fn wait(&self, seen: usize, waker: &Waker, reg: &mut u64) -> bool {
        matches!(
            self.w.wait(seen, waker, reg, &self.count),
            Wait::Parked { .. }
        )
    }
    /// A readiness edge; wakes the parked.
    pub fn ready(&self) {
        let mut out = Vec::new();
        self.w.ready(&mut out, &self.count);
        out.into_iter().for_each(Waker::wake);
    }
    /// The deadline passed; wakes the parked.
    pub fn expire(&self) {
        let mut out = Vec::new();
        self.w.set(EXPIRED, &mut out, &self.count);
        out.into_iter().for_each(Waker::wake);
    }
    /// The deadline moved to the future.
    pub fn unexpire(&self) {
        self.w.clear(EXPIRED);
    }
    /// Close; wakes the parked.
    pub fn close(&self) {
        let mut out = Vec::new();
        self.w.set(CLOSED, &mut out, &self.count);
        out.into_iter().for_each(Waker::wake);
    }
    /// A dropped wait.
    pub fn cancel(&self, reg: u64) {
        self.w.cancel(reg, &self.count);
    }
    /// Non-empty waiter lists.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

/// A direction of a descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(loom, allow(dead_code))]
pub(crate) enum Dir {
    /// Reads, accepts, receives (Go's 'r').
    Read = 0,
    /// Writes, connects, sends (Go's 'w').
    Write = 1,
}

// ---- the poller (real sockets) ----------------------------------------------------

#[cfg(not(loom))]
mod imp {
    use super::{CLOSED, Dir, EXPIRED, Wait, Waiter};
    use crate::loom::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    use crate::loom::{Mutex, MutexGuard};
    use crate::runtime::g::{self, GRef, Header};
    use crate::runtime::m;
    use crate::runtime::p::P;
    use crate::runtime::sched::Sched;
    use crate::runtime::timers::{TimerRef, TimerShared, to_nanos};
    use mio::{Events, Interest, Token};
    use std::io;
    use std::sync::{Arc, OnceLock, Weak};
    use std::task::{Context, Poll, Wake, Waker};
    use std::time::{Duration, Instant};

    /// The token of the poller's own `mio::Waker`.
    const WAKER: Token = Token(usize::MAX);
    /// Events taken per poll (Go: 128; a larger batch suits many
    /// connections).
    const EVENTS: usize = 1024;
    /// sysmon polls when nobody has polled for this long (Go: 10 ms).
    const SYSMON_POLL: Duration = Duration::from_millis(10);

    /// One runtime's poller (or the process poller).
    pub(crate) struct NetPoll {
        /// The poll and its event buffer; whoever polls holds the lock.
        poll: Mutex<PollState>,
        registry: mio::Registry,
        waker: mio::Waker,
        /// Waiter lists that are not empty (Go's `netpollWaiters`).
        /// Written by `Waiter::wait`/`take_all`/`cancel`.
        pub(crate) waiters: AtomicUsize,
        /// An M is blocked, or about to block, in the poller. Set and
        /// cleared by that M (`block_idle`); SeqCst, read by `break_poller`
        /// after a timer was published (the Dekker pair with the timer
        /// heap's `next_when`).
        blocker: AtomicBool,
        /// A break is in flight (Go's `netpollWakeSig`). Set by breakers,
        /// cleared by the poller when it sees the waker's event.
        break_pending: AtomicBool,
        /// When a poll last ended, in ns since `epoch`. Written by pollers.
        last_poll: AtomicU64,
        epoch: Instant,
        /// Set once when the runtime shuts down (no M polls any more).
        shutdown: AtomicBool,
        /// Deregistered descriptors an unfinished poll may still name (see
        /// the module docs). Pushed by closers, emptied by pollers.
        release: Mutex<Vec<Arc<PollDesc>>>,
        /// The runtime (empty for the process poller).
        sched: Weak<Sched>,
    }

    struct PollState {
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
                sched,
            })
        }

        /// Polls once (the caller holds the poll lock) and returns the
        /// wakers of every wait that became ready, after the lock was
        /// released and the release list emptied.
        fn poll_once(
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
        fn break_poller(&self) {
            // SeqCst: after the caller published its change (a timer,
            // shutdown); pairs with `block_idle`'s store of `blocker`.
            if self.blocker.load(Ordering::SeqCst)
                && !self.break_pending.swap(true, Ordering::SeqCst)
            {
                let _ = self.waker.wake();
            }
        }

        /// A descriptor was deregistered: free it now if no poll is
        /// running, else once the running poll has handled its events.
        fn release(&self, pd: Arc<PollDesc>) {
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
        fn kick(&self) {
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
        fn get(&self) -> Option<&Arc<NetPoll>> {
            self.cell.get()
        }

        fn get_or_init(&self, sched: &Arc<Sched>) -> io::Result<Arc<NetPoll>> {
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
    fn process_poller() -> io::Result<Arc<NetPoll>> {
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
    fn current_poller() -> io::Result<Arc<NetPoll>> {
        match m::with_m(|m| m.map(|m| m.sched.clone())) {
            Some(s) => s.net.get_or_init(&s),
            None => process_poller(),
        }
    }

    // ---- poll descriptors ----------------------------------------------------

    /// A registered socket's readiness and deadlines (Go's `pollDesc`).
    pub(crate) struct PollDesc {
        poller: Arc<NetPoll>,
        /// Read direction (Go's `rg`).
        rg: Waiter,
        /// Write direction (Go's `wg`).
        wg: Waiter,
        /// Deadlines (allocated by the first `set_deadline`: most sockets
        /// never have one); set by `set_deadline`, read by their timers.
        dl: Mutex<Option<Box<Deadlines>>>,
        me: Weak<PollDesc>,
    }

    /// One descriptor's deadlines, per direction (Go's `rd`/`wd` and
    /// `rt`/`wt`).
    #[derive(Default)]
    struct Deadlines {
        /// Encoded deadline (`timers::to_nanos`), 0 for none.
        at: [u64; 2],
        timer: [Option<TimerRef>; 2],
        /// The waker the timer fires (`DeadlineWake`), made on first use.
        waker: [Option<Waker>; 2],
    }

    /// What a deadline timer wakes: the descriptor's expiry check.
    struct DeadlineWake {
        pd: Weak<PollDesc>,
        dir: Dir,
    }

    impl Wake for DeadlineWake {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            if let Some(pd) = self.pd.upgrade() {
                pd.deadline_fired(self.dir);
            }
        }
    }

    /// The error of an operation past its deadline (Go's
    /// `os.ErrDeadlineExceeded`, "i/o timeout").
    pub(crate) fn timeout_error() -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, "i/o timeout")
    }

    fn closed_error() -> io::Error {
        io::Error::new(
            io::ErrorKind::NotConnected,
            "use of closed network connection",
        )
    }

    fn shutdown_error() -> io::Error {
        io::Error::other("goro: the runtime this socket belongs to was shut down")
    }

    impl PollDesc {
        /// Registers `src` with the current thread's poller (Go's
        /// `poll_runtime_pollOpen`), for both directions, edge-triggered.
        pub(crate) fn register(src: &mut impl mio::event::Source) -> io::Result<Arc<PollDesc>> {
            Self::register_on(current_poller()?, src)
        }

        /// `register` with the process poller (whatever the thread): for
        /// process-wide sources (the signal self-pipe).
        pub(crate) fn register_process(
            src: &mut impl mio::event::Source,
        ) -> io::Result<Arc<PollDesc>> {
            Self::register_on(process_poller()?, src)
        }

        fn register_on(
            poller: Arc<NetPoll>,
            src: &mut impl mio::event::Source,
        ) -> io::Result<Arc<PollDesc>> {
            let pd = Arc::new_cyclic(|me| PollDesc {
                poller: poller.clone(),
                rg: Waiter::new(),
                wg: Waiter::new(),
                dl: Mutex::new(None),
                me: me.clone(),
            });
            let token = Token(Arc::as_ptr(&pd) as usize);
            poller
                .registry
                .register(src, token, Interest::READABLE | Interest::WRITABLE)?;
            Ok(pd)
        }

        /// Closes the descriptor and deregisters `src` (Go's `evict` then
        /// `poll_runtime_pollClose`): parked waits fail, deadline timers
        /// stop. The descriptor is freed once no poll can name it.
        pub(crate) fn deregister(self: Arc<Self>, src: &mut impl mio::event::Source) {
            self.evict();
            match self.poller.registry.deregister(src) {
                Ok(()) => self.poller.clone().release(self),
                // Still registered (the fd is shared elsewhere): events may
                // name it forever, so it must never be freed.
                Err(_) => std::mem::forget(self),
            }
        }

        fn waiter(&self, dir: Dir) -> &Waiter {
            match dir {
                Dir::Read => &self.rg,
                Dir::Write => &self.wg,
            }
        }

        /// Runs `op` (a non-blocking system call) until it does not return
        /// `WouldBlock`, parking the G in between (Go's `fd.Read` loop with
        /// `pd.waitRead`). Fails at once when the direction's deadline has
        /// passed or the descriptor is closed. `reg` holds the caller's
        /// registration id (0 before the first park); the caller cancels it
        /// when it is dropped (`WaitReg`). Charges the cooperative budget.
        pub(crate) fn poll_io<R>(
            &self,
            dir: Dir,
            cx: &mut Context<'_>,
            reg: &mut u64,
            op: impl FnMut() -> io::Result<R>,
        ) -> Poll<io::Result<R>> {
            std::task::ready!(crate::runtime::coop_proceed(cx));
            self.poll_io_uncharged(dir, cx, reg, op)
        }

        /// `poll_io` without the cooperative budget (a waker that is not a
        /// G's: the signal reader, which must never yield to itself).
        pub(crate) fn poll_io_uncharged<R>(
            &self,
            dir: Dir,
            cx: &mut Context<'_>,
            reg: &mut u64,
            mut op: impl FnMut() -> io::Result<R>,
        ) -> Poll<io::Result<R>> {
            let w = self.waiter(dir);
            loop {
                let seen = w.load();
                if let Err(e) = check(seen) {
                    return Poll::Ready(Err(e));
                }
                match op() {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => return Poll::Ready(r),
                }
                if self.poller.shutdown.load(Ordering::Relaxed) {
                    return Poll::Ready(Err(shutdown_error()));
                }
                match w.wait(seen, cx.waker(), reg, &self.poller.waiters) {
                    Wait::Ready => continue,
                    Wait::Parked { first } => {
                        if first {
                            self.poller.kick();
                        }
                        crate::runtime::set_wait_reason(crate::runtime::WaitReason::IOWait);
                        return Poll::Pending;
                    }
                }
            }
        }

        /// Waits for a readiness edge of `dir` that came after `*seen` (0:
        /// since registration), then stores the word it saw in `*seen`.
        /// Fails on a passed deadline or close. For `Async::readable`.
        pub(crate) fn poll_edge(
            &self,
            dir: Dir,
            cx: &mut Context<'_>,
            reg: &mut u64,
            seen: &mut usize,
        ) -> Poll<io::Result<()>> {
            let w = self.waiter(dir);
            loop {
                let now = w.load();
                check(now)?;
                if (now ^ *seen) & !(super::SEQ_ONE - 1) != 0 {
                    *seen = now;
                    return Poll::Ready(Ok(()));
                }
                match w.wait(now, cx.waker(), reg, &self.poller.waiters) {
                    Wait::Ready => continue,
                    Wait::Parked { first } => {
                        if first {
                            self.poller.kick();
                        }
                        crate::runtime::set_wait_reason(crate::runtime::WaitReason::IOWait);
                        return Poll::Pending;
                    }
                }
            }
        }

        /// Forgets registration `id` of `dir` (a dropped future).
        pub(crate) fn cancel(&self, dir: Dir, id: u64) {
            self.waiter(dir).cancel(id, &self.poller.waiters);
        }

        /// Go's `poll_runtime_pollSetDeadline` for one direction: `None`
        /// clears it; a deadline already passed fails pending and later
        /// operations at once; a future one arms a timer on the runtime's
        /// heaps (parked operations keep waiting, with the new deadline).
        pub(crate) fn set_deadline(&self, dir: Dir, d: Option<Instant>) {
            let i = dir as usize;
            let w = self.waiter(dir);
            let mut out = Vec::new();
            let mut guard = self.dl.lock();
            if guard.is_none() && d.is_none() {
                return; // nothing to clear
            }
            let dl = guard.get_or_insert_with(Box::default);
            match d {
                None => {
                    dl.at[i] = 0;
                    w.clear(EXPIRED);
                    if let Some(t) = &dl.timer[i] {
                        t.stop(|| false);
                    }
                }
                Some(t) if t <= Instant::now() => {
                    dl.at[i] = to_nanos(t);
                    w.set(EXPIRED, &mut out, &self.poller.waiters);
                    if let Some(t) = &dl.timer[i] {
                        t.stop(|| false);
                    }
                }
                Some(t) => {
                    let when = to_nanos(t);
                    dl.at[i] = when;
                    w.clear(EXPIRED);
                    self.arm(dl, dir, when);
                }
            }
            drop(guard);
            out.into_iter().for_each(Waker::wake);
        }

        /// Arms `dir`'s deadline timer for `when` (encoded).
        fn arm(&self, dl: &mut Deadlines, dir: Dir, when: u64) {
            let i = dir as usize;
            let waker = dl.waker[i]
                .get_or_insert_with(|| {
                    Waker::from(Arc::new(DeadlineWake {
                        pd: self.me.clone(),
                        dir,
                    }))
                })
                .clone();
            match &dl.timer[i] {
                Some(t) => {
                    let (_, needs_add) = t.modify(when, 0, Some(waker), || false);
                    if needs_add {
                        crate::time::start(t.clone());
                    }
                }
                None => {
                    let t = TimerShared::new_sleep(when, Some(waker));
                    crate::time::start(t.clone());
                    dl.timer[i] = Some(t);
                }
            }
        }

        /// A deadline timer fired (Go's `netpollReadDeadline`): if the
        /// deadline it was armed for is still the current one and has
        /// passed, the direction expires and its waits fail.
        fn deadline_fired(&self, dir: Dir) {
            let i = dir as usize;
            let mut out = Vec::new();
            let mut guard = self.dl.lock();
            if let Some(dl) = guard.as_deref_mut() {
                let at = dl.at[i];
                if at != 0 && at <= to_nanos(Instant::now()) {
                    self.waiter(dir)
                        .set(EXPIRED, &mut out, &self.poller.waiters);
                } else if at != 0 {
                    self.arm(dl, dir, at); // fired early: wait on
                }
            }
            drop(guard);
            out.into_iter().for_each(Waker::wake);
        }

        /// Go's `poll_runtime_pollUnblock`: every wait fails from now on,
        /// the deadline timers stop.
        fn evict(&self) {
            let mut out = Vec::new();
            let dl = self.dl.lock().take();
            self.rg.set(CLOSED, &mut out, &self.poller.waiters);
            self.wg.set(CLOSED, &mut out, &self.poller.waiters);
            if let Some(mut dl) = dl {
                for t in dl.timer.iter_mut().filter_map(Option::take) {
                    t.stop(|| false);
                }
            }
            out.into_iter().for_each(Waker::wake);
        }
    }

    /// `Err` for a word that fails operations.
    fn check(word: usize) -> io::Result<()> {
        if word & CLOSED != 0 {
            return Err(closed_error());
        }
        if word & EXPIRED != 0 {
            return Err(timeout_error());
        }
        Ok(())
    }

    /// A parked operation's registration, cancelled when the operation's
    /// future is dropped (so its waker is neither kept nor counted).
    pub(crate) struct WaitReg<'a> {
        pd: &'a PollDesc,
        dir: Dir,
        /// The registration id (0: none).
        pub(crate) id: u64,
    }

    impl<'a> WaitReg<'a> {
        pub(crate) fn new(pd: &'a PollDesc, dir: Dir) -> Self {
            WaitReg { pd, dir, id: 0 }
        }

        /// `PollDesc::poll_io` with this registration.
        pub(crate) fn poll_io<R>(
            &mut self,
            cx: &mut Context<'_>,
            op: impl FnMut() -> io::Result<R>,
        ) -> Poll<io::Result<R>> {
            self.pd.poll_io(self.dir, cx, &mut self.id, op)
        }
    }

    impl Drop for WaitReg<'_> {
        fn drop(&mut self) {
            self.pd.cancel(self.dir, self.id);
        }
    }

    // ---- the scheduler's hooks ----------------------------------------------------

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
    /// stealing): when Gs wait on I/O and no M is blocked in the poller,
    /// polls once; returns a woken G to run and queues the others. The
    /// caller owns `p`.
    pub(crate) fn poll_ready(sched: &Arc<Sched>, p: &P) -> Option<GRef> {
        let net = sched.net.get()?;
        if net.waiters.load(Ordering::Relaxed) == 0 || net.blocker.load(Ordering::Relaxed) {
            return None;
        }
        let st = net.poll.try_lock()?;
        let wakers = net.poll_once(st, Some(Duration::ZERO));
        let mut gs = Vec::new();
        collect_gs(sched, wakers, &mut gs);
        if gs.is_empty() {
            return None;
        }
        let first = gs.remove(0);
        inject(sched, Some(p), gs);
        Some(first)
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

    /// The last idle M blocks in the poller until the earliest timer
    /// (findRunnable's `netpoll(delay)`), when Gs wait on I/O, a P is idle
    /// and no other M is there. Woken Gs go onto an idle P, which the M
    /// takes; with none left, to the global queue, and the M parks.
    pub(crate) fn block_idle(sched: &Arc<Sched>) -> Idle<'_> {
        let Some(net) = sched.net.get() else {
            return Idle::Park;
        };
        // Go's M reaches netpoll(delay) right after giving up its P: only
        // block here while a P is idle for what wakes (with every P busy,
        // their Ms poll when their queues run dry, and sysmon every 10 ms).
        if net.waiters.load(Ordering::SeqCst) == 0
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
        let st = net.poll.lock();
        let wakers = net.poll_once(st, timeout);
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

    /// Shutdown: no more waits park, and the M blocked in the poller
    /// returns.
    pub(crate) fn shutdown(sched: &Sched) {
        if let Some(net) = sched.net.get() {
            net.shutdown.store(true, Ordering::SeqCst);
            net.break_poller();
        }
    }

    /// sysmon's poll: when Gs wait on I/O and nobody has polled for 10 ms
    /// (every M busy), poll once and queue what woke.
    pub(crate) fn sysmon_poll(sched: &Arc<Sched>) {
        let Some(net) = sched.net.get() else {
            return;
        };
        if net.waiters.load(Ordering::Relaxed) == 0 || net.blocker.load(Ordering::Relaxed) {
            return;
        }
        let last = Duration::from_nanos(net.last_poll.load(Ordering::Relaxed));
        if net.epoch.elapsed().saturating_sub(last) < SYSMON_POLL {
            return;
        }
        let Some(st) = net.poll.try_lock() else {
            return;
        };
        let wakers = net.poll_once(st, Some(Duration::ZERO));
        let mut gs = Vec::new();
        collect_gs(sched, wakers, &mut gs);
        inject(sched, None, gs);
    }

    /// Gs (waits) parked on the runtime's sockets: alive for the deadlock
    /// check, as Go counts `netpollWaiters`.
    pub(crate) fn io_waiters(sched: &Sched) -> usize {
        sched
            .net
            .get()
            .map_or(0, |n| n.waiters.load(Ordering::SeqCst))
    }
}

// Under loom there are no sockets: the scheduler's hooks do nothing.
#[cfg(loom)]
mod imp {
    use crate::runtime::g::GRef;
    use crate::runtime::p::P;
    use crate::runtime::sched::Sched;
    use std::sync::Arc;

    #[derive(Default)]
    pub(crate) struct NetSlot;

    pub(crate) enum Idle<'a> {
        Park,
        #[allow(dead_code)]
        Again,
        #[allow(dead_code)]
        Run(&'a P),
    }

    pub(crate) fn poll_ready(_: &Arc<Sched>, _: &P) -> Option<GRef> {
        None
    }
    pub(crate) fn block_idle(_: &Arc<Sched>) -> Idle<'_> {
        Idle::Park
    }
    pub(crate) fn timer_changed(_: &Sched) -> bool {
        false
    }
    pub(crate) fn shutdown(_: &Sched) {}
    #[allow(dead_code)] // sysmon does not run under loom
    pub(crate) fn sysmon_poll(_: &Arc<Sched>) {}
    pub(crate) fn io_waiters(_: &Sched) -> usize {
        0
    }
}

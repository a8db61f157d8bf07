//! Poll descriptors (Go's `pollDesc`, `poll_runtime_pollWait`,
//! `poll_runtime_pollSetDeadline`, `poll_runtime_pollUnblock`).
//!
//! A socket is registered once, for reading and writing, edge-triggered,
//! with one of the poller's polls (a P's instance, chosen by a
//! connection's flow hash or round-robin, or the main poll; poller.rs);
//! its token is the address of its [`PollDesc`], which holds one waiter
//! word per direction (`waiter.rs`) and the direction's deadline. An
//! operation tries its system call, parks on `EWOULDBLOCK` with the word it
//! read, and tries again when woken; a deadline timer sets `EXPIRED`, close
//! sets `CLOSED`, and both wake what is parked. A wait that is not a G of
//! the socket's runtime first records the descriptor in the poller's
//! `live` map (`mark_live`), so that the runtime's shutdown wakes it
//! (poller.rs, "Shutdown"); once shutdown began, a wait fails instead of
//! parking.
//!
//! # Deadlock safety
//! A descriptor's deadline lock is taken before a waiter's list lock; a
//! timer's locks (through `crate::time`) only under the deadline lock;
//! the poller's `live` lock alone.

use super::poller::{NetPoll, current_poller, process_poller};
use super::{CLOSED, Dir, EXPIRED, Wait, Waiter};
use crate::loom::Mutex;
use crate::loom::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::runtime::m;
use crate::runtime::timers::{TimerRef, TimerShared, to_nanos};
use mio::{Interest, Token};
use std::io;
use std::ptr;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

/// A registered socket's readiness and deadlines (Go's `pollDesc`).
pub(crate) struct PollDesc {
    poller: Arc<NetPoll>,
    /// Read direction (Go's `rg`).
    pub(super) rg: Waiter,
    /// Write direction (Go's `wg`).
    pub(super) wg: Waiter,
    /// Deadlines (allocated by the first `set_deadline`: most sockets
    /// never have one); set by `set_deadline`, read by their timers.
    dl: Mutex<Option<Box<Deadlines>>>,
    me: Weak<PollDesc>,
    /// In the poller's `live` map (a plain thread parked here once); set
    /// under that map's lock, read by `deregister`.
    in_live: AtomicBool,
    /// The poll this descriptor registered with (`NetPoll::pick`).
    inst: usize,
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
    /// `poll_runtime_pollOpen`), for both directions, edge-triggered. For
    /// one end of a connection, `flow` (a hash of its two addresses that is
    /// the same from both ends) picks the P poll instance, so both ends of
    /// a connection inside this program land on the same one (poller.rs).
    pub(crate) fn register(
        src: &mut impl mio::event::Source,
        flow: Option<u64>,
    ) -> io::Result<Arc<PollDesc>> {
        Self::register_on(current_poller()?, src, flow)
    }

    /// `register` with the process poller (whatever the thread): for
    /// process-wide sources (the signal self-pipe).
    pub(crate) fn register_process(src: &mut impl mio::event::Source) -> io::Result<Arc<PollDesc>> {
        Self::register_on(process_poller()?, src, None)
    }

    fn register_on(
        poller: Arc<NetPoll>,
        src: &mut impl mio::event::Source,
        flow: Option<u64>,
    ) -> io::Result<Arc<PollDesc>> {
        let inst = poller.pick(flow);
        let pd = Arc::new_cyclic(|me| PollDesc {
            inst,
            poller: poller.clone(),
            rg: Waiter::new(),
            wg: Waiter::new(),
            dl: Mutex::new(None),
            me: me.clone(),
            in_live: AtomicBool::new(false),
        });
        let token = Token(Arc::as_ptr(&pd) as usize);
        poller.instance(inst).registry.register(
            src,
            token,
            Interest::READABLE | Interest::WRITABLE,
        )?;
        Ok(pd)
    }

    /// Closes the descriptor and deregisters `src` (Go's `evict` then
    /// `poll_runtime_pollClose`): parked waits fail, deadline timers
    /// stop. The descriptor is freed once no poll can name it.
    pub(crate) fn deregister(self: Arc<Self>, src: &mut impl mio::event::Source) {
        self.evict();
        // Relaxed: set under the map's lock by this descriptor's own
        // waits, which are over (the caller owns the socket).
        if self.in_live.load(Ordering::Relaxed) {
            self.poller
                .live
                .lock()
                .remove(&(Arc::as_ptr(&self) as usize));
        }
        match self.poller.instance(self.inst).registry.deregister(src) {
            Ok(()) => self.poller.clone().release(self.inst, self),
            // Still registered (the fd is shared elsewhere): events may
            // name it forever, so it must never be freed.
            Err(_) => std::mem::forget(self),
        }
    }

    /// The non-empty-list counter of this descriptor's poll.
    #[inline]
    fn waiters(&self) -> &AtomicUsize {
        &self.poller.instance(self.inst).waiters
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
            if self.poller.shutdown.load(Ordering::Relaxed) || !self.mark_live() {
                return Poll::Ready(Err(shutdown_error()));
            }
            if self.park(w, seen, cx, reg) {
                return Poll::Pending;
            }
        }
    }

    /// Before a wait parks: unless the caller is a G of this runtime
    /// (whose future shutdown drops), the descriptor joins the poller's
    /// `live` map so that shutdown wakes the wait. False if shutdown came
    /// first: the map lock orders this check after shutdown's flag, so a
    /// wait that gets here too late fails instead of parking unseen.
    fn mark_live(&self) -> bool {
        let sched = self.poller.sched.as_ptr();
        let ours = m::with_m(|m| m.is_some_and(|m| ptr::eq(Arc::as_ptr(&m.sched), sched)));
        if ours || self.poller.sched.strong_count() == 0 {
            return true; // a G of this runtime, or the process poller
        }
        let mut live = self.poller.live.lock();
        if self.poller.shutdown.load(Ordering::Relaxed) {
            return false;
        }
        if !self.in_live.swap(true, Ordering::Relaxed) {
            live.insert(ptr::from_ref(self) as usize, self.me.clone());
        }
        true
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
            if self.poller.shutdown.load(Ordering::Relaxed) || !self.mark_live() {
                return Poll::Ready(Err(shutdown_error()));
            }
            if self.park(w, now, cx, reg) {
                return Poll::Pending;
            }
        }
    }

    /// Parks the caller on `w` unless its word moved since `seen` (an edge
    /// or a flag came in: false, retry). The first wait of the poller makes
    /// sure an M polls (`kick`); a parked G shows `[IO wait]`.
    fn park(&self, w: &Waiter, seen: usize, cx: &mut Context<'_>, reg: &mut u64) -> bool {
        match w.wait(seen, cx.waker(), reg, self.waiters()) {
            Wait::Ready => false,
            Wait::Parked { first } => {
                if first {
                    self.poller.kick();
                }
                crate::runtime::set_wait_reason(crate::runtime::WaitReason::IOWait);
                true
            }
        }
    }

    /// Forgets registration `id` of `dir` (a dropped future).
    pub(crate) fn cancel(&self, dir: Dir, id: u64) {
        self.waiter(dir).cancel(id, self.waiters());
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
                w.set(EXPIRED, &mut out, self.waiters());
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
                self.waiter(dir).set(EXPIRED, &mut out, self.waiters());
            } else if at != 0 {
                self.arm(dl, dir, at); // fired early: wait on
            }
        }
        drop(guard);
        out.into_iter().for_each(Waker::wake);
    }

    /// Shutdown's edge (poller.rs, "Shutdown"): every wait parked on this
    /// descriptor wakes and tries again; its wakers go to `out`.
    pub(super) fn shutdown_edge(&self, out: &mut Vec<Waker>) {
        self.rg.ready(out, self.waiters());
        self.wg.ready(out, self.waiters());
    }

    /// Go's `poll_runtime_pollUnblock`: every wait fails from now on,
    /// the deadline timers stop.
    fn evict(&self) {
        let mut out = Vec::new();
        let dl = self.dl.lock().take();
        self.rg.set(CLOSED, &mut out, self.waiters());
        self.wg.set(CLOSED, &mut out, self.waiters());
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

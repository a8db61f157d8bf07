//! The waiter word of one direction of a poll descriptor (Go's `rg`/`wg`
//! in `pollDesc`) and the wakers parked on it.
//!
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
//! # Deadlock safety
//! The list lock is a leaf; wakers are taken out under it and woken by the
//! caller after it is released.

use crate::loom::Mutex;
use crate::loom::atomic::{AtomicUsize, Ordering};
use std::task::Waker;

// ---- the waiter word ---------------------------------------------------------

/// Waiter word flag: the descriptor is closing; every wait fails.
pub(crate) const CLOSED: usize = 1;
/// Waiter word flag: this direction's deadline has passed.
pub(crate) const EXPIRED: usize = 2;
/// Waiter word flag: the waker list may hold wakers (set and cleared
/// under the list lock).
const WAITING: usize = 4;
/// One readiness edge: the sequence number counts above the flags.
pub(crate) const SEQ_ONE: usize = 8;

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
        // Relaxed: `WAITING` was set by this future's own `wait` (which
        // happens before this call, whatever thread the G moved to)
        // before `id` was linked, and is cleared only while the list is
        // empty: seeing it clear means a later RMW emptied the list, `id`
        // included, and only this future could link it again. The usual
        // case after a wake-up: no lock.
        if id == 0 || self.word.load(Ordering::Relaxed) & WAITING == 0 {
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

//! `RwMutex<T>`: Go's `sync.RWMutex` (src/sync/rwmutex.go: `RLock`,
//! `RUnlock`, `Lock`, `Unlock`, `TryRLock`, `TryLock`) for Gs, with guards.
//!
//! As in Go, writers first take a plain mutex `w` (a [`LockCore`], so they
//! queue FIFO with Go's starvation mode among themselves), then announce
//! themselves in `state`, which stops new readers, and wait for the active
//! readers to leave. The writer's unlock admits every reader that queued
//! meanwhile in one batch, then unlocks `w`. So a waiting writer blocks
//! new readers (writer preference), and readers that arrived during a
//! write go before the next writer: neither side starves.
//!
//! `state` is `WRITER` (a writer holds the lock or is waiting for readers
//! to drain), `WFAST` (that writer took the lock without `w`), `WQUEUED`
//! (the holder of `w` waits for that fast writer), `RQUEUED` (readers wait
//! in `readers`) and the number of counted readers times `READER`. Unlike
//! Go's `readerCount`, a reader that waits is counted only in the
//! `readers` list (a reader that finds `WRITER` counts itself out at
//! once), which keeps cancellation local.
//!
//! Beyond Go: an uncontended `Lock` is one CAS `0 -> WRITER | WFAST`, taken
//! only while `w` is free and in normal mode (writers may be parked on it:
//! the fast writer barges past them as a newcomer takes Go's free `w` in
//! normal mode; in starvation mode it queues on `w`), and its `Unlock` one
//! CAS back to 0 (Go pays two atomic operations on `w` as well). A writer
//! that then gets `w` and finds
//! `WRITER` set sets `WQUEUED` and links into `writer`; the fast writer's
//! unlock passes `WRITER` on to it (after admitting the readers that queued
//! meanwhile, as any writer's unlock does).
//!
//! - `read` fast path: `fetch_add(READER)`; if `WRITER` was set, count out
//!   again (as an unlock) and take the slow path: under `queue`, a CAS that
//!   either counts in (no `WRITER`) or sets `RQUEUED`, then link.
//! - `read` unlock: `fetch_sub(READER)`; the count that leaves only
//!   `WRITER` (the last one, a writer waiting) grants the waiting writer.
//! - `write` fast path: with `w` free in normal mode, CAS
//!   `0 -> WRITER | WFAST`.
//! - `write`: `w`, then CAS `0 -> WRITER`; else under `queue` one CAS: set
//!   `WRITER`, or, if a fast writer holds it, `WQUEUED`; then, unless the
//!   lock is ours (no reader counted, no fast writer), link into `writer`
//!   (at most one node: only the holder of `w` gets here).
//! - `write` unlock: CAS `WRITER | WFAST -> 0` (fast) or `WRITER -> 0` when
//!   nothing else is set; else under `queue`, clear `WRITER | WFAST |
//!   RQUEUED` and add the queued readers' count in one CAS, grant them all;
//!   then unlock `w` if this writer held it. A fast writer's unlock that
//!   finds `WQUEUED` keeps `WRITER` for the queued writer instead (clearing
//!   `WFAST | WQUEUED | RQUEUED`, admitting the queued readers in the same
//!   CAS) and grants it the lock at once if no reader is counted, else the
//!   last reader's unlock does.
//!
//! # Invariants
//! - `WRITER` is set by the holder of `w` or, with `WFAST` in the same CAS
//!   from 0, by a fast writer; it is cleared only by its setter (or, for a
//!   fast writer with `WQUEUED` set, passed to the holder of `w`). While
//!   `WRITER` is set without `WFAST`, its owner holds `w`.
//! - `WQUEUED` is set only with `WRITER | WFAST`, by the holder of `w`
//!   under `queue`, which links its node in the same critical section; it
//!   is cleared under `queue` by the fast writer's unlock or that node's
//!   cancellation. The `writer` list holds at most the holder of `w`'s
//!   node.
//! - A reader is linked only while `WRITER` is set, with `RQUEUED` set in
//!   the same CAS (under `queue`); `WRITER` with `RQUEUED` is cleared only
//!   under `queue`, by the CAS that admits every linked reader: none is
//!   left behind, and the unlocking CAS `WRITER -> 0` fails while any
//!   reader waits.
//!
//! # Cancel safety
//! A dropped `read()` that was granted already holds a read lock and
//! unlocks it. A dropped `write()` waiting on `w` leaves `w`'s queue
//! (mutex.rs); one waiting for readers to drain un-announces itself (clears
//! `WRITER`, admits the queued readers) and unlocks `w`; one waiting for a
//! fast writer clears `WQUEUED` and unlocks `w`; one that had been granted
//! the lock unlocks it the same way.
//!
//! # Deadlock safety
//! Lock order: `w` (a sleeping lock, held across parks) before `queue` (a
//! leaf). Under `queue` only `state` and the lists change; wakers are woken
//! after it is released, and `w` is unlocked after it.

use super::mutex::{LockCore, LockWait};
use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::{Mutex as LockMutex, MutexGuard as LockGuard, UnsafeCell};
use crate::task::sema::{Parked, Queue, WaitList, Wakers};
use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// A writer holds the lock or waits for the readers to drain.
const WRITER: usize = 1;
/// Readers are queued (set under `queue`, cleared by the writer's unlock
/// that admits them): the writer's unlock must take the slow path.
const RQUEUED: usize = 2;
/// The writer holding `WRITER` took it by the fast path, without `w`.
const WFAST: usize = 4;
/// The holder of `w` waits in `writer` for the fast writer to leave.
const WQUEUED: usize = 8;
/// One active reader.
const READER: usize = 16;

/// `Waiter` data: a reader (in `readers`).
const WAIT_READ: usize = 0;
/// `Waiter` data: the writer (in `writer`).
const WAIT_WRITE: usize = 1;

/// Grant: the lock is yours (a read lock counted in `state`, or the write
/// lock).
const GRANT_LOCK: u32 = 1;

/// The waiters behind `RwCore::queue`.
pub(crate) struct RwQueue {
    readers: WaitList,
    writer: WaitList,
}

/// An RWMutex without data.
pub(crate) struct RwCore {
    /// Serializes writers (Go's `w`).
    w: LockCore,
    /// `WRITER | readers * READER`. Readers add and remove themselves with
    /// CAS/RMW from any thread; `WRITER` is set and cleared by the holder
    /// of `w` (see the module header).
    state: AtomicUsize,
    /// Waiting readers and the waiting writer. Written under its own lock.
    queue: LockMutex<RwQueue>,
}

impl RwCore {
    fn new() -> Self {
        RwCore {
            w: LockCore::new(),
            state: AtomicUsize::new(0),
            queue: LockMutex::new(RwQueue {
                readers: WaitList::new(),
                writer: WaitList::new(),
            }),
        }
    }

    /// Go's `TryRLock`: admitted unless a writer holds or waits.
    #[inline]
    fn try_read(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & WRITER != 0 {
                return false;
            }
            // Acquire: pairs with the last writer's Release (its unlock).
            match self.state.compare_exchange_weak(
                s,
                s + READER,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    /// `RLock`'s fast path, Go's: count in with one `fetch_add`; if a
    /// writer is in, count out again (`read_unlock`, which grants a
    /// draining writer if this was the last count) and fail.
    #[inline]
    fn read_fast(&self) -> bool {
        // Acquire: pairs with the last writer's Release (its unlock).
        let prev = self.state.fetch_add(READER, Ordering::Acquire);
        if prev & WRITER == 0 {
            return true;
        }
        self.read_unlock();
        false
    }

    /// `RLock`'s slow path, under `queue`: counted in if no writer is in
    /// (true), else `RQUEUED` set (false; the caller links its waiter
    /// before releasing `queue`).
    fn read_or_mark(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            let (new, admitted) = if s & WRITER == 0 {
                (s + READER, true)
            } else {
                (s | RQUEUED, false)
            };
            // Acquire: as in `try_read`. `WRITER` is cleared only under
            // `queue`, so once seen here it stays until the waiter is linked.
            match self
                .state
                .compare_exchange_weak(s, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return admitted,
                Err(now) => s = now,
            }
        }
    }

    /// Go's `RUnlock`.
    #[inline]
    fn read_unlock(&self) {
        // AcqRel: Release publishes the read section to the writer; Acquire
        // makes the earlier readers' releases part of what the last one
        // hands the writer (it grants it below).
        let prev = self.state.fetch_sub(READER, Ordering::AcqRel);
        debug_assert!(prev >= READER, "sync: RUnlock of unlocked RWMutex");
        if (prev - READER) & !RQUEUED == WRITER {
            self.readers_drained();
        }
    }

    /// The last reader left while a writer waits: grant it the lock.
    #[cold]
    fn readers_drained(&self) {
        let mut wakers = Wakers::new();
        let mut q = self.queue.lock();
        // Relaxed: `queue` orders this with the writer's announcement.
        if self.state.load(Ordering::Relaxed) & !RQUEUED == WRITER {
            q.writer.grant_front(GRANT_LOCK, &mut wakers);
        }
        drop(q);
        wakers.wake_all();
    }

    /// The uncontended `Lock`: with `w` free and in normal mode (no writer
    /// holds it; parked writers may wait for it), one CAS
    /// `0 -> WRITER | WFAST` takes the write lock without `w`.
    #[inline]
    fn try_write_fast(&self) -> bool {
        // Acquire: pairs with the last unlock's Release (a reader's or a
        // writer's).
        self.w.is_free_normal()
            && self
                .state
                .compare_exchange(0, WRITER | WFAST, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    }

    /// Go's `TryLock`.
    fn try_write(&self) -> bool {
        if self.try_write_fast() {
            return true;
        }
        if !self.w.try_lock() {
            return false;
        }
        if self.try_announce() {
            return true;
        }
        self.w.unlock();
        false
    }

    /// With `w` held and no reader active: `WRITER` in one CAS.
    #[inline]
    fn try_announce(&self) -> bool {
        // Acquire: pairs with the last reader's release.
        self.state
            .compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// With `w` held, under `queue`: set `WRITER`, or `WQUEUED` if a fast
    /// writer holds the lock; true if the write lock is ours (no fast
    /// writer, no reader counted), else the caller links its waiter before
    /// releasing `queue`.
    fn announce_locked(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            // Only the holder of `w` sets these; a fast writer's `WRITER`
            // comes with `WFAST`.
            debug_assert_eq!(s & (WQUEUED | RQUEUED), s & RQUEUED);
            debug_assert!(s & WRITER == 0 || s & WFAST != 0);
            let new = if s & WRITER != 0 {
                s | WQUEUED
            } else {
                s | WRITER
            };
            // AcqRel: Acquire pairs with the readers' releases (when none is
            // left); the readers' fast path fails from here on.
            match self
                .state
                .compare_exchange_weak(s, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return s == 0,
                Err(now) => s = now,
            }
        }
    }

    /// Under `queue`: clear `WRITER` (and `WFAST`, `RQUEUED`) and admit
    /// every queued reader.
    fn release_writer(&self, q: &mut RwQueue, wakers: &mut Wakers) {
        let n = q.readers.len();
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            debug_assert!(old & WRITER != 0 && old & WQUEUED == 0);
            debug_assert!(n == 0 || old & RQUEUED != 0);
            // AcqRel: Release publishes the write section to the readers
            // (with the grants' own Release); Acquire orders it after the
            // readers still leaving.
            match self.state.compare_exchange_weak(
                old,
                (old & !(WRITER | WFAST | RQUEUED)) + n * READER,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => old = now,
            }
        }
        q.readers.grant_all(GRANT_LOCK, wakers);
    }

    /// Under `queue`, a fast writer's unlock with `WQUEUED` set: `WRITER`
    /// passes to the queued holder of `w`. The readers that queued during
    /// the write are admitted first, in the same CAS; the queued writer
    /// gets the lock now if no reader is counted, else from the last one
    /// to leave (`readers_drained`).
    fn pass_to_queued_writer(&self, q: &mut RwQueue, wakers: &mut Wakers) {
        let n = q.readers.len();
        let mut old = self.state.load(Ordering::Relaxed);
        let new = loop {
            debug_assert_eq!(old & (WRITER | WFAST | WQUEUED), WRITER | WFAST | WQUEUED);
            let new = (old & !(WFAST | WQUEUED | RQUEUED)) + n * READER;
            // AcqRel: as in `release_writer`.
            match self
                .state
                .compare_exchange_weak(old, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break new,
                Err(now) => old = now,
            }
        };
        q.readers.grant_all(GRANT_LOCK, wakers);
        if new == WRITER {
            q.writer.grant_front(GRANT_LOCK, wakers);
        }
    }

    /// Go's `Unlock`: admit the queued readers, then unlock `w` (if this
    /// writer took it). With no reader queued or counted, one CAS clears
    /// `WRITER` without `queue`.
    #[inline]
    fn write_unlock(&self) {
        let s = self.state.load(Ordering::Relaxed);
        if s == WRITER | WFAST || s == WRITER {
            // Release: publishes the write section to the next readers and
            // writers.
            if self
                .state
                .compare_exchange(s, 0, Ordering::Release, Ordering::Relaxed)
                .is_ok()
            {
                if s == WRITER {
                    self.w.unlock();
                }
                return;
            }
        }
        self.write_unlock_slow();
    }

    #[cold]
    fn write_unlock_slow(&self) {
        let mut wakers = Wakers::new();
        let mut q = self.queue.lock();
        // Relaxed: `WFAST` and `WQUEUED` change only under `queue` or by
        // this writer.
        let s = self.state.load(Ordering::Relaxed);
        let held_w = s & WFAST == 0;
        if s & WQUEUED != 0 {
            self.pass_to_queued_writer(&mut q, &mut wakers);
        } else {
            self.release_writer(&mut q, &mut wakers);
        }
        drop(q);
        wakers.wake_all();
        if held_w {
            self.w.unlock();
        }
    }
}

impl Queue for RwCore {
    type Locked = RwQueue;

    fn lock(&self) -> LockGuard<'_, RwQueue> {
        self.queue.lock()
    }

    fn list(locked: &mut RwQueue, data: usize) -> &mut WaitList {
        if data == WAIT_WRITE {
            &mut locked.writer
        } else {
            &mut locked.readers
        }
    }

    /// A waiting writer left: un-announce it (the readers it held back
    /// come in), or, if it waited for a fast writer, clear `WQUEUED`; its
    /// `WriteWait` then unlocks `w`. The last waiting reader that left
    /// clears `RQUEUED`.
    fn unlinked(&self, q: &mut RwQueue, data: usize, _was_front: bool, wakers: &mut Wakers) {
        if data == WAIT_WRITE {
            // Relaxed: `WQUEUED` changes only under `queue`.
            if self.state.load(Ordering::Relaxed) & WQUEUED != 0 {
                self.state.fetch_and(!WQUEUED, Ordering::Relaxed);
            } else {
                self.release_writer(q, wakers);
            }
        } else if q.readers.is_empty() {
            // The last queued reader left: the writer's unlock may take
            // its fast path again. (Relaxed: under `queue`, like every
            // change of `RQUEUED`.)
            self.state.fetch_and(!RQUEUED, Ordering::Relaxed);
        }
    }

    /// A granted lock nobody will use: unlock it (for the writer, its
    /// `WriteWait` unlocks `w` afterwards).
    fn pass_on(&self, _grant: u32, data: usize) {
        if data == WAIT_WRITE {
            let mut wakers = Wakers::new();
            let mut q = self.queue.lock();
            self.release_writer(&mut q, &mut wakers);
            drop(q);
            wakers.wake_all();
        } else {
            self.read_unlock();
        }
    }
}

fn park_rlock() {
    crate::runtime::set_wait_reason(crate::runtime::WaitReason::SyncRWMutexRLock);
}

fn park_lock() {
    crate::runtime::set_wait_reason(crate::runtime::WaitReason::SyncRWMutexLock);
}

/// A reader/writer mutual exclusion lock for Gs: Go's `sync.RWMutex`,
/// holding the data it protects.
///
/// - [`read`](RwMutex::read) lets any number of readers in together;
///   [`write`](RwMutex::write) lets one writer in alone. Both park the
///   calling G (wait reasons `sync.RWMutex.RLock`, `sync.RWMutex.Lock`);
///   the `*_blocking` forms block an ordinary thread.
/// - Writer preference, as in Go: once a writer waits, new readers wait
///   too (so a stream of readers cannot starve it), and the readers that
///   queued during a write are all let in before the next writer. Writers
///   queue FIFO with [`Mutex`](super::Mutex)'s starvation mode. Taking a
///   read lock again while holding one can therefore deadlock if a writer
///   arrives in between (as in Go).
/// - Guards unlock on drop and may be held across `.await`.
/// - Cancel safe: a dropped `read()`/`write()` future never keeps or loses
///   the lock (one that was just granted it unlocks it again).
///
/// ```
/// use goro::sync::RwMutex;
/// use std::sync::Arc;
/// let total = goro::run(async {
///     let topics = Arc::new(RwMutex::new(vec!["news".to_string()]));
///     let wg = goro::sync::WaitGroup::new();
///     for i in 0..4 {
///         let topics = topics.clone();
///         wg.go(async move {
///             if i == 0 {
///                 topics.write().await.push("sport".to_string()); // mu.Lock()
///             } else {
///                 let t = topics.read().await; // mu.RLock()
///                 assert!(!t.is_empty());
///             }
///         });
///     }
///     wg.wait().await;
///     let n = topics.read().await.len();
///     n
/// });
/// assert_eq!(total, 2);
/// ```
pub struct RwMutex<T: ?Sized> {
    core: RwCore,
    data: UnsafeCell<T>,
}

// SAFETY: the lock gives `&mut T` to one writer at a time (possibly on
// another thread: `T: Send`) and `&T` to many readers at once on many
// threads (`T: Sync`), as `std::sync::RwLock`.
unsafe impl<T: ?Sized + Send> Send for RwMutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwMutex<T> {}

impl<T> RwMutex<T> {
    /// A new, unlocked RwMutex holding `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = goro::sync::RwMutex::new(5);
    /// assert_eq!(*m.read_blocking(), 5);
    /// ```
    pub fn new(value: T) -> Self {
        RwMutex {
            core: RwCore::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock and returns the data.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = goro::sync::RwMutex::new(vec![1]);
    /// m.write_blocking().push(2);
    /// assert_eq!(m.into_inner(), vec![1, 2]);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwMutex<T> {
    /// Takes a read lock, parking the G while a writer holds or waits for
    /// the lock: Go's `RLock`. Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::RwMutex;
    /// goro::run(async {
    ///     let m = RwMutex::new(1);
    ///     let a = m.read().await;
    ///     let b = m.read().await; // readers share the lock
    ///     assert_eq!(*a + *b, 2);
    /// });
    /// ```
    pub fn read(&self) -> ReadLock<'_, T> {
        ReadLock {
            lock: self,
            wait: ManuallyDrop::new(None),
            done: false,
        }
    }

    /// Takes the write lock, parking the G until every other holder has
    /// left: Go's `Lock`. Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::RwMutex;
    /// goro::run(async {
    ///     let m = RwMutex::new(String::new());
    ///     m.write().await.push_str("hi");
    ///     assert_eq!(&*m.read().await, "hi");
    /// });
    /// ```
    pub fn write(&self) -> WriteLock<'_, T> {
        WriteLock {
            lock: self,
            wait: ManuallyDrop::new(None),
            done: false,
        }
    }

    /// A read lock if one can be had now (no writer holds or waits): Go's
    /// `TryRLock`.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = goro::sync::RwMutex::new(0);
    /// let r = m.try_read().unwrap();
    /// assert!(m.try_write().is_none()); // a reader is in
    /// drop(r);
    /// assert!(m.try_write().is_some());
    /// ```
    pub fn try_read(&self) -> Option<RwMutexReadGuard<'_, T>> {
        self.core
            .try_read()
            .then(|| RwMutexReadGuard { lock: self })
    }

    /// The write lock if it is free now: Go's `TryLock`.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = goro::sync::RwMutex::new(0);
    /// let w = m.try_write().unwrap();
    /// assert!(m.try_read().is_none());
    /// drop(w);
    /// assert!(m.try_read().is_some());
    /// ```
    pub fn try_write(&self) -> Option<RwMutexWriteGuard<'_, T>> {
        self.core
            .try_write()
            .then(|| RwMutexWriteGuard { lock: self })
    }

    /// [`read`](RwMutex::read) for an ordinary thread (blocks it; inside a
    /// G the P is handed off meanwhile).
    ///
    /// # Examples
    ///
    /// ```
    /// let m = goro::sync::RwMutex::new(3);
    /// assert_eq!(*m.read_blocking(), 3);
    /// ```
    pub fn read_blocking(&self) -> RwMutexReadGuard<'_, T> {
        if let Some(g) = self.try_read() {
            return g;
        }
        crate::runtime::block_on(self.read())
    }

    /// [`write`](RwMutex::write) for an ordinary thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::RwMutex;
    /// use std::sync::Arc;
    /// let m = Arc::new(RwMutex::new(0));
    /// let t = {
    ///     let m = m.clone();
    ///     std::thread::spawn(move || *m.write_blocking() += 1)
    /// };
    /// *m.write_blocking() += 1;
    /// t.join().unwrap();
    /// assert_eq!(*m.read_blocking(), 2);
    /// ```
    pub fn write_blocking(&self) -> RwMutexWriteGuard<'_, T> {
        if let Some(g) = self.try_write() {
            return g;
        }
        crate::runtime::block_on(self.write())
    }

    /// The data, through a unique borrow (no locking needed).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut m = goro::sync::RwMutex::new(1);
    /// *m.get_mut() += 1;
    /// assert_eq!(*m.read_blocking(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` is unique: no guard exists.
        self.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T: Default> Default for RwMutex<T> {
    fn default() -> Self {
        RwMutex::new(T::default())
    }
}

impl<T> From<T> for RwMutex<T> {
    fn from(v: T) -> Self {
        RwMutex::new(v)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwMutex");
        match self.try_read() {
            Some(g) => d.field("data", &&*g),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// The slow path of a read lock: linked in `readers` until a writer's
/// unlock admits it.
struct ReadWait<'a> {
    core: &'a RwCore,
    parked: Parked<'a, RwCore>,
}

impl Future for ReadWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: nothing is moved out of the pinned future.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: `parked` is structurally pinned (never moved out).
        let mut parked = unsafe { Pin::new_unchecked(&mut this.parked) };
        if parked.is_queued() {
            let grant = ready!(parked.poll(cx));
            debug_assert_eq!(grant, GRANT_LOCK);
            return Poll::Ready(());
        }
        let mut q = this.core.queue.lock();
        if this.core.read_or_mark() {
            return Poll::Ready(());
        }
        // SAFETY: `q` is this core's queue state, held.
        unsafe {
            parked
                .as_mut()
                .enqueue(&mut q, WAIT_READ, false, Some(cx.waker()))
        };
        drop(q);
        parked.on_park();
        Poll::Pending
    }
}

/// The future of [`RwMutex::read`]: resolves to a read guard.
///
/// # Examples
///
/// ```
/// let m = goro::sync::RwMutex::new(4);
/// let read = m.read(); // nothing happens until it is awaited
/// assert_eq!(*goro::block_on(read), 4);
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct ReadLock<'a, T: ?Sized> {
    lock: &'a RwMutex<T>,
    /// The slow path, made on the first poll that finds a writer in.
    /// Structurally pinned; dropped in place by `Drop` (so the fast path's
    /// drop is one inline check).
    wait: ManuallyDrop<Option<ReadWait<'a>>>,
    done: bool,
}

impl<T: ?Sized> Drop for ReadLock<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if self.wait.is_some() {
            drop_wait(&mut self.wait);
        }
    }
}

/// Drops a lock future's slow path in place (cold: only futures that
/// waited get here).
#[cold]
fn drop_wait<W>(w: &mut ManuallyDrop<Option<W>>) {
    // SAFETY: called once, from the owning future's `Drop`, after which the
    // field is never used again; dropping in place keeps the pin contract.
    unsafe { ManuallyDrop::drop(w) }
}

impl<T: ?Sized> fmt::Debug for ReadLock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadLock")
            .field("waiting", &self.wait.is_some())
            .field("done", &self.done)
            .finish()
    }
}

impl<'a, T: ?Sized> Future for ReadLock<'a, T> {
    type Output = RwMutexReadGuard<'a, T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: nothing is moved out of the pinned future.
        let this = unsafe { self.get_unchecked_mut() };
        assert!(!this.done, "`ReadLock` polled after completion");
        let core = &this.lock.core;
        let wait = match &mut *this.wait {
            Some(w) => w,
            None => {
                if core.read_fast() {
                    this.done = true;
                    return Poll::Ready(RwMutexReadGuard { lock: this.lock });
                }
                // Nothing pinned lives in `None`: filling it moves nothing
                // that was pinned.
                this.wait.insert(ReadWait {
                    core,
                    parked: Parked::new(core, park_rlock),
                })
            }
        };
        // SAFETY: `wait` is structurally pinned (it stays in the pinned
        // `this` and is never moved out).
        ready!(unsafe { Pin::new_unchecked(wait) }.poll(cx));
        this.done = true;
        Poll::Ready(RwMutexReadGuard { lock: this.lock })
    }
}

/// Where a [`WriteWait`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WritePhase {
    /// Waiting for `w`.
    LockW,
    /// `w` held; `WRITER` not set yet.
    Announce,
    /// `WRITER` set; linked in `writer` until the readers have left.
    Drain,
    /// The write lock is the caller's.
    Done,
}

/// The slow path of a write lock: `w`, then the readers' drain.
///
/// On drop before `Done`: the drain waiter goes first (un-announcing, or
/// unlocking a write lock it was just granted), then `w` is unlocked.
struct WriteWait<'a> {
    core: &'a RwCore,
    phase: WritePhase,
    /// Structurally pinned.
    w: LockWait<'a>,
    /// Structurally pinned; dropped by hand in `Drop` (before `w` is
    /// unlocked).
    drain: ManuallyDrop<Parked<'a, RwCore>>,
}

impl<'a> WriteWait<'a> {
    fn new(core: &'a RwCore, phase: WritePhase) -> Self {
        WriteWait {
            core,
            phase,
            w: LockWait::new(&core.w, park_lock),
            drain: ManuallyDrop::new(Parked::new(core, park_lock)),
        }
    }
}

impl Future for WriteWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: nothing is moved out of the pinned future.
        let this = unsafe { self.get_unchecked_mut() };
        if this.phase == WritePhase::LockW {
            // SAFETY: `w` is structurally pinned.
            ready!(unsafe { Pin::new_unchecked(&mut this.w) }.poll(cx));
            this.phase = WritePhase::Announce;
            if this.core.try_announce() {
                this.phase = WritePhase::Done;
                return Poll::Ready(());
            }
        }
        // SAFETY: `drain` is structurally pinned (dropped in place only).
        let mut drain = unsafe { Pin::new_unchecked(&mut *this.drain) };
        if this.phase == WritePhase::Announce {
            let mut q = this.core.queue.lock();
            if this.core.announce_locked() {
                this.phase = WritePhase::Done;
                return Poll::Ready(());
            }
            // SAFETY: `q` is this core's queue state, held.
            unsafe {
                drain
                    .as_mut()
                    .enqueue(&mut q, WAIT_WRITE, false, Some(cx.waker()))
            };
            drop(q);
            this.phase = WritePhase::Drain;
            drain.on_park();
            return Poll::Pending;
        }
        debug_assert_eq!(this.phase, WritePhase::Drain);
        let grant = ready!(drain.poll(cx));
        debug_assert_eq!(grant, GRANT_LOCK);
        this.phase = WritePhase::Done;
        Poll::Ready(())
    }
}

impl Drop for WriteWait<'_> {
    fn drop(&mut self) {
        // SAFETY: dropped in place, once, and never used again.
        unsafe { ManuallyDrop::drop(&mut self.drain) };
        if matches!(self.phase, WritePhase::Announce | WritePhase::Drain) {
            self.core.w.unlock();
        }
    }
}

/// The future of [`RwMutex::write`]: resolves to the write guard.
///
/// # Examples
///
/// ```
/// let m = goro::sync::RwMutex::new(0);
/// *goro::block_on(m.write()) += 1;
/// assert_eq!(*m.read_blocking(), 1);
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct WriteLock<'a, T: ?Sized> {
    lock: &'a RwMutex<T>,
    /// The slow path, made on the first poll that cannot take the lock at
    /// once. Structurally pinned; dropped in place by `Drop`.
    wait: ManuallyDrop<Option<WriteWait<'a>>>,
    done: bool,
}

impl<T: ?Sized> Drop for WriteLock<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if self.wait.is_some() {
            drop_wait(&mut self.wait);
        }
    }
}

impl<T: ?Sized> fmt::Debug for WriteLock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteLock")
            .field("waiting", &self.wait.is_some())
            .field("done", &self.done)
            .finish()
    }
}

impl<'a, T: ?Sized> Future for WriteLock<'a, T> {
    type Output = RwMutexWriteGuard<'a, T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: nothing is moved out of the pinned future.
        let this = unsafe { self.get_unchecked_mut() };
        assert!(!this.done, "`WriteLock` polled after completion");
        let core = &this.lock.core;
        let wait = match &mut *this.wait {
            Some(w) => w,
            None => {
                if core.try_write_fast() {
                    this.done = true;
                    return Poll::Ready(RwMutexWriteGuard { lock: this.lock });
                }
                let phase = if core.w.try_lock_fast() {
                    if core.try_announce() {
                        this.done = true;
                        return Poll::Ready(RwMutexWriteGuard { lock: this.lock });
                    }
                    WritePhase::Announce
                } else {
                    WritePhase::LockW
                };
                // Nothing pinned lives in `None`: filling it moves nothing
                // that was pinned.
                this.wait.insert(WriteWait::new(core, phase))
            }
        };
        // SAFETY: `wait` is structurally pinned (it stays in the pinned
        // `this` and is never moved out).
        ready!(unsafe { Pin::new_unchecked(wait) }.poll(cx));
        this.done = true;
        Poll::Ready(RwMutexWriteGuard { lock: this.lock })
    }
}

/// A read lock on an [`RwMutex`]; released on drop. Derefs to the data.
///
/// # Examples
///
/// ```
/// let m = goro::sync::RwMutex::new(vec![1, 2]);
/// let r = m.read_blocking();
/// assert_eq!(r.len(), 2);
/// ```
#[must_use = "if unused the RwMutex will immediately unlock"]
pub struct RwMutexReadGuard<'a, T: ?Sized> {
    lock: &'a RwMutex<T>,
}

impl<T: ?Sized> Deref for RwMutexReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a read lock is held: no writer can run.
        self.lock.data.with(|p| unsafe { &*p })
    }
}

impl<T: ?Sized> Drop for RwMutexReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.core.read_unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwMutexReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// The write lock on an [`RwMutex`]; released on drop. Derefs (mutably) to
/// the data.
///
/// # Examples
///
/// ```
/// let m = goro::sync::RwMutex::new(0);
/// *m.write_blocking() = 7;
/// assert_eq!(*m.read_blocking(), 7);
/// ```
#[must_use = "if unused the RwMutex will immediately unlock"]
pub struct RwMutexWriteGuard<'a, T: ?Sized> {
    lock: &'a RwMutex<T>,
}

impl<T: ?Sized> Deref for RwMutexWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the write lock is held: no other access.
        self.lock.data.with(|p| unsafe { &*p })
    }
}

impl<T: ?Sized> DerefMut for RwMutexWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write lock is held and `&mut self` is unique.
        self.lock.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T: ?Sized> Drop for RwMutexWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.core.write_unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwMutexWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

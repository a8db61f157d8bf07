//! Timer heaps: one per P, plus heaps a caller owns (the time package's
//! fallback heap for timers armed off any runtime). Go's `timers` and
//! `timer` in `runtime/time.go`.
//!
//! The runtime knows a timer only as "something to do at `when`": a sleep
//! (wake the stored waker; [`Kind::Wake`], no dispatch), or a
//! [`TimerAction`] supplied by the time package (the channel send of
//! `Timer`/`Ticker`/`after`/`tick`, the spawn of `after_func`), called
//! through one `dyn` call when the timer fires, as Go calls `t.f`. A timer
//! is one allocation, [`TimerShared`], whose last field is the action.
//!
//! A [`Timers`] is a lock and a 4-ary min-heap of entries `(when, generation,
//! TimerRef)`. The scheduler runs [`Timers::run_due`] before looking for work
//! and parks an idle M until [`Timers::next_when`]; the P that armed a timer
//! owns its entry until it fires or the P is removed ([`Timers::move_all_to`]).
//!
//! A timer has its own lock (Go's `t.mu`) guarding its state: the pending
//! deadline `when` (0 = not pending), its `period`, the Go 1.23 sequence
//! number `seq` (bumped by every stop/reset, so a value computed for an
//! older arming is never delivered), and which heap holds its live entry
//! (`ts`, with that entry's `generation` and key `entry_when`).
//!
//! Deletion is lazy, as in Go: stopping a timer leaves its entry in the heap
//! as a *zombie* (counted in that heap's `zombies`); resetting it to a later
//! time only changes `when` and the entry is re-keyed when it reaches the
//! top; resetting it to an earlier time orphans the old entry (a zombie whose
//! `generation` no longer matches) and adds a new one to the current P.
//! Zombies are removed when they reach the top, and all at once when they
//! exceed a quarter of the heap.
//!
//! Timers nobody can observe ([`Kind::Deliver`] timers whose action reports
//! [`TimerAction::is_observed`] false, e.g. a timer channel whose receivers
//! were all dropped) are dropped instead of fired when they come due, and
//! by a full sweep that also runs when a heap holding such timers has
//! doubled since the last one (Go 1.23 leaves them to its garbage
//! collector), so a loop of forgotten `after(long)` stays bounded.
//!
//! Firing happens outside the heap lock, in batches of [`BATCH`]: the heap
//! lock is held only to pop due entries (and re-key periodic ones); the
//! wakers are woken and the actions called after it is released. An
//! action-kind timer popped for firing stays pending (`when != 0`, no heap)
//! until the action commits through [`Firing::run_if_current`], which
//! re-locks the timer and finds `seq` unchanged; a `stop` or `reset` in
//! between bumps `seq`, so it wins and reports that it prevented the
//! delivery (Go's `isSending` case).
//!
//! Stop/reset and that commit serialize on the timer's send lock (Go's
//! `t.sendLock`): the delivery and the `seq` check are atomic with respect
//! to a stop/reset, which drains any value delivered before it, so Go
//! 1.23's rule holds: after `stop`/`reset` returns, no value of an older
//! arming is received.
//!
//! # Invariants
//! - `t.ts == H` (non-null) iff heap `H` holds an entry `e` for `t` with
//!   `e.generation == t.generation`: the timer's *own* entry, whose key is
//!   `t.entry_when`. Every other entry of `t` (an orphan) is dead.
//! - A dead entry (orphan, or own entry of a timer with `when == 0`) is
//!   counted exactly once in its heap's `zombies`.
//! - A live own entry has `entry_when <= when`, so `next_when` is never
//!   later than a pending deadline of this heap (it may be earlier: a
//!   spurious wake-up).
//! - `t.ts` is set to `H` only with `H`'s lock and `t.mu` held; it is
//!   cleared under `t.mu`, with `H`'s lock held too (pop, clean, move, drop)
//!   or by `modify` orphaning the entry (which counts it as a zombie first).
//! - A `Timers` clears the `ts` of every own entry (under each `t.mu`)
//!   before its `Core` is freed, so a non-null `ts` read under `t.mu`
//!   always points to a live `Core`.
//!
//! # Deadlock safety
//! Lock order: `t.sendLock`, then heap lock, then `t.mu`. An action's
//! commit closure (a channel send, and through it a wake-up and the
//! scheduler's locks) runs under `t.sendLock` alone; an action's own work
//! after the commit (a spawn) runs under no timer lock. In detail:
//! - heap lock → `t.mu` (add, run, clean, move; the scheduler calls
//!   `move_all_to` under its idle-list lock, so nothing may wake a G while
//!   holding a `t.mu`); `is_observed` is called there too, so it must take
//!   no lock (it reads a counter);
//! - `t.sendLock` → `t.mu` (stop, reset, the commit), then `t.mu` is
//!   released before the delivery or the drain runs;
//! - no path takes a heap lock or `t.sendLock` while holding a `t.mu`
//!   (callers of [`Timers::add`] hold no timer lock); two heap locks are held
//!   together only in `move_all_to`, taken in address order.

use crate::loom::Mutex;
use crate::loom::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::task::Waker;
use std::time::{Duration, Instant};

/// A handle on one timer, shared by its owner (a `Sleep`, `Timer`, `Ticker`)
/// and the heap entry that will fire it.
pub(crate) type TimerRef = crate::loom::Arc<TimerShared>;

/// How many due timers are popped per heap-lock acquisition before firing.
pub(crate) const BATCH: usize = 64;

// ---------------------------------------------------------------------------
// Time as nanoseconds since a process-wide epoch.

/// The process-wide epoch `when` values count from. A constant once set: it
/// synchronizes nothing between threads, so std's `OnceLock` is fine here.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Encodes an instant as nanoseconds since the epoch, plus one (0 means "no
/// deadline"). Instants before the epoch are in the past: they map to 1.
pub(crate) fn to_nanos(i: Instant) -> u64 {
    let d = i.saturating_duration_since(epoch()).as_nanos();
    (d.min(u128::from(u64::MAX - 1)) as u64) + 1
}

/// Decodes [`to_nanos`]; `None` for 0 or a deadline too far to represent.
pub(crate) fn from_nanos(n: u64) -> Option<Instant> {
    if n == 0 {
        return None;
    }
    epoch().checked_add(Duration::from_nanos(n - 1))
}

/// The deadline `d` from now, encoded; saturates to "never" on overflow.
pub(crate) fn nanos_after(d: Duration) -> u64 {
    match Instant::now().checked_add(d) {
        Some(i) => to_nanos(i),
        None => u64::MAX,
    }
}

// ---------------------------------------------------------------------------
// One timer.

/// What firing a timer does, in the runtime's terms. Fixed at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A sleep: wake the waker stored in the timer's state (the action is
    /// never called; no dynamic dispatch on this path).
    Wake,
    /// Call the action; its effect always matters (an `after_func`).
    Func,
    /// Call the action, which delivers to observers that may all go away
    /// (a timer channel: Go's `isChan`). Once
    /// [`TimerAction::is_observed`] is false the timer is dropped, not
    /// fired.
    Deliver,
}

/// What a [`Kind::Func`] or [`Kind::Deliver`] timer does when it fires:
/// supplied by the time package, so the runtime never names a channel.
pub(crate) trait TimerAction: Send + Sync + 'static {
    /// The timer came due for the arming `firing` stands for. An action
    /// commits through [`Firing::run_if_current`] (which skips the commit
    /// if a stop or reset came first) and returns true if it delivered.
    /// Called with no lock held.
    fn fire(&self, firing: Firing<'_>) -> bool;

    /// Whether anyone could still observe a delivery (for
    /// [`Kind::Deliver`] timers). Called under the heap and timer locks:
    /// must take no lock and run no user code.
    fn is_observed(&self) -> bool {
        true
    }

    /// The timer's owner let go of its last handle while the timer is not
    /// pending, so it can never fire again: drop anything that holds user
    /// code now (not later under a heap lock, in a zombie's clean-up).
    fn release(&self) {}
}

/// The action of a sleep timer: none (it is never called).
pub(crate) struct NoAction;

impl TimerAction for NoAction {
    fn fire(&self, _: Firing<'_>) -> bool {
        false
    }
}

/// A timer popped as due, handed to [`TimerAction::fire`].
pub(crate) struct Firing<'a> {
    t: &'a TimerShared,
    seq: u64,
    when: u64,
}

impl Firing<'_> {
    /// The deadline this firing is for (Go sends `Now()` minus the
    /// lateness, i.e. the same instant).
    pub(crate) fn when(&self) -> Instant {
        from_nanos(self.when).unwrap_or_else(Instant::now)
    }

    /// Runs `f` (the delivery) if the timer is still as it was when it was
    /// popped (`seq` unchanged); for a one-shot timer this also marks it
    /// fired. `f` runs under the send lock but not the timer lock (a send
    /// may wake a G, and the scheduler takes heap and timer locks under its
    /// own locks); it must not run user code. A stop/reset that returns
    /// before this bumped `seq`, so the stale delivery is skipped; one that
    /// comes after waits for it and drains it. Go: the `sendLock` half of
    /// `unlockAndRun`.
    pub(crate) fn run_if_current<R>(self, f: impl FnOnce() -> R) -> Option<R> {
        let _send = self.t.send_lock.lock();
        let mut st = self.t.state.lock();
        if st.seq != self.seq {
            return None;
        }
        if st.period == 0 {
            // Normally the timer has no entry now (it was popped). A late
            // `add` from an older reset may have given it one since; that
            // entry becomes a zombie, so the timer fires once.
            st.set_when(0);
        }
        drop(st);
        Some(f())
    }
}

/// The mutable part of a timer, under `TimerShared::state` (Go's `t.mu`).
struct TState {
    /// Pending deadline (encoded), 0 when not pending.
    when: u64,
    /// Period in ns for tickers, 0 for one-shot timers.
    period: u64,
    /// Bumped by every stop/reset (Go's `t.seq`).
    seq: u64,
    /// Generation of the timer's own heap entry (bumped by `add`).
    generation: u64,
    /// The heap holding the own entry, or null (see the invariants).
    ts: *const Core,
    /// The key of the own entry.
    entry_when: u64,
    /// The waker of a `Kind::Wake` timer.
    waker: Option<Waker>,
}

/// One timer: its lock-protected state and what it does. One allocation;
/// handled as `TimerShared<dyn TimerAction>` ([`TimerRef`]).
pub(crate) struct TimerShared<A: ?Sized + TimerAction = dyn TimerAction> {
    /// Go's `t.sendLock`: held by stop/reset (around the `seq` bump and the
    /// drain) and by the commit of a firing (around the `seq` check and
    /// the delivery), so a delivery never overlaps a stop/reset. Taken
    /// before `state`; never held with a heap lock.
    send_lock: Mutex<()>,
    /// Go's `t.mu`. Written by owners (arm/stop/reset) and by heaps.
    state: Mutex<TState>,
    /// Immutable after creation.
    kind: Kind,
    /// Immutable after creation; called only for `Func`/`Deliver` timers.
    action: A,
}

// SAFETY: `TState::ts` is a raw pointer only read or written under `state`'s
// lock; the `Core` it points to is kept alive while it is set (a `Timers`
// clears the pointers of its entries under their locks before it is freed),
// and `Core` is itself `Sync`. Every other field is `Send` (the action is
// `Send + Sync` by its trait bound).
unsafe impl<A: ?Sized + TimerAction> Send for TimerShared<A> {}
// SAFETY: as above: all interior mutability goes through the locks, and
// the action is `Sync`.
unsafe impl<A: ?Sized + TimerAction> Sync for TimerShared<A> {}

impl<A: ?Sized + TimerAction> std::fmt::Debug for TimerShared<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.state.lock();
        f.debug_struct("Timer")
            .field("kind", &self.kind)
            .field("when", &st.when)
            .field("period", &st.period)
            .finish()
    }
}

impl TState {
    /// Sets `when`, keeping the owning heap's zombie count right when the
    /// own entry turns dead (`when` becomes 0) or live again.
    fn set_when(&mut self, new: u64) {
        if !self.ts.is_null() {
            // SAFETY: a non-null `ts` points to a live `Core` while we hold
            // the timer lock (see the `Send` impl).
            let z = unsafe { &(*self.ts).zombies };
            match (self.when != 0, new != 0) {
                (true, false) => {
                    z.fetch_add(1, Ordering::Relaxed);
                }
                (false, true) => {
                    z.fetch_sub(1, Ordering::Relaxed);
                }
                _ => {}
            }
        }
        self.when = new;
    }

    /// Gives up the own entry: it becomes an orphan (a zombie).
    fn orphan(&mut self) {
        if !self.ts.is_null() {
            self.set_when(0);
            self.ts = std::ptr::null();
        }
    }
}

/// Makes the one allocation of a timer and erases its action's type.
fn new_ref<A: TimerAction>(t: TimerShared<A>) -> TimerRef {
    let t: std::sync::Arc<TimerShared> = std::sync::Arc::new(t);
    #[cfg(loom)]
    let t = crate::loom::Arc::from_std(t);
    t
}

impl TimerShared {
    /// A sleep timer already armed for `when` (encoded; 0 = not armed)
    /// that wakes `waker`. The caller hands it to a heap (`add_timer`)
    /// next.
    pub(crate) fn new_sleep(when: u64, waker: Option<Waker>) -> TimerRef {
        Self::new_armed(Kind::Wake, when, 0, waker, NoAction)
    }

    /// A timer of `kind` doing `action`, armed for `when` (encoded; 0 = not
    /// armed) with `period` (0 = one-shot): its one allocation. The caller
    /// hands it to a heap (`add_timer`) next.
    pub(crate) fn new_armed<A: TimerAction>(
        kind: Kind,
        when: u64,
        period: u64,
        waker: Option<Waker>,
        action: A,
    ) -> TimerRef {
        new_ref(TimerShared {
            send_lock: Mutex::new(()),
            state: Mutex::new(TState {
                when,
                period,
                seq: 0,
                generation: 0,
                ts: std::ptr::null(),
                entry_when: 0,
                waker,
            }),
            kind,
            action,
        })
    }

    /// What firing this timer does.
    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    /// The timer's action (for its owner: `release`).
    pub(crate) fn action(&self) -> &dyn TimerAction {
        &self.action
    }

    /// Arms or re-arms the timer for `when` (encoded, non-zero) with `period`
    /// (0 = one-shot). `drain` runs under the send lock after `seq` was
    /// bumped (a timer channel drains its buffered value there, so no value
    /// of an older arming survives: a firing commits under the same lock).
    /// Returns `(prevented, needs_add)`: `prevented` if the timer was
    /// pending or `drain` removed a value (Go 1.23's `Reset` result); when
    /// `needs_add`, the caller must hand the timer to a heap (`add_timer`),
    /// holding no timer lock. Go: `timer.modify`.
    pub(crate) fn modify(
        &self,
        when: u64,
        period: u64,
        waker: Option<Waker>,
        drain: impl FnOnce() -> bool,
    ) -> (bool, bool) {
        debug_assert!(when != 0);
        let send = self.send_lock.lock();
        let mut st = self.state.lock();
        let pending = st.when != 0;
        st.seq = st.seq.wrapping_add(1);
        st.period = period;
        // A replaced waker is dropped after the locks are released.
        let old_waker = match waker {
            Some(w) => st.waker.replace(w),
            None => None,
        };
        let needs_add = if !st.ts.is_null() && when >= st.entry_when {
            // Later (or equal): keep the entry, re-keyed when it surfaces.
            st.set_when(when);
            false
        } else {
            st.orphan();
            st.when = when;
            true
        };
        drop(st);
        let drained = drain();
        drop(send);
        drop(old_waker);
        (pending || drained, needs_add)
    }

    /// Stops the timer; true if it was pending (armed and not yet fired) or
    /// `drain` (run under the send lock, as in [`modify`](Self::modify)) removed
    /// a value. The entry stays in its heap as a zombie. Go: `timer.stop`.
    pub(crate) fn stop(&self, drain: impl FnOnce() -> bool) -> bool {
        let send = self.send_lock.lock();
        let mut st = self.state.lock();
        let pending = st.when != 0;
        st.seq = st.seq.wrapping_add(1);
        st.set_when(0);
        let w = st.waker.take();
        drop(st);
        let drained = drain();
        drop(send);
        drop(w);
        pending || drained
    }

    /// For a `Kind::Wake` timer: true if it has fired (or was stopped);
    /// otherwise stores `waker` (if it would wake a different task).
    pub(crate) fn poll_fired(&self, waker: &Waker) -> bool {
        let mut st = self.state.lock();
        if st.when == 0 {
            return true;
        }
        let old = match &st.waker {
            Some(w) if w.will_wake(waker) => None,
            _ => st.waker.replace(waker.clone()),
        };
        drop(st);
        // A replaced waker is dropped after the lock is released.
        drop(old);
        false
    }

    /// Whether the timer is pending (armed and not fired or stopped).
    pub(crate) fn is_pending(&self) -> bool {
        self.state.lock().when != 0
    }
}

// ---------------------------------------------------------------------------
// The heap.

/// One heap entry. Ordered by `when` only.
struct Entry {
    /// The key (encoded deadline).
    when: u64,
    /// The timer's `generation` when this entry was made its own entry.
    generation: u64,
    t: TimerRef,
}

/// The part of a [`Timers`] that timers point at (boxed so a `Timers` may
/// move).
struct Core {
    /// The 4-ary heap. Written under this lock by the owning P's M, by
    /// thieves running due timers, and by `move_all_to`.
    heap: Mutex<Vec<Entry>>,
    /// Key of the heap's top, 0 if empty; written under `heap`'s lock.
    next_when: AtomicU64,
    /// Number of entries; written under `heap`'s lock.
    len: AtomicUsize,
    /// Batches popped by `run_due` and not yet fired (their Gs not yet
    /// readied): incremented under the heap lock before the pop is
    /// published, decremented (Release) after the batch fired. Read by
    /// `is_empty` so the deadlock check never sees a timer vanish before
    /// its G became runnable.
    firing: AtomicUsize,
    /// Dead entries (see the invariants); incremented under a `t.mu`,
    /// decremented under `t.mu` or the heap lock plus `t.mu`.
    zombies: AtomicUsize,
    /// Heap length that triggers the next full sweep; under the heap lock.
    sweep_at: AtomicUsize,
    /// Upper bound on `Kind::Deliver` entries (exact after a sweep); under
    /// the heap lock. None, no growth-triggered sweep.
    watched: AtomicUsize,
}

/// A timer heap: one per P (Go's `p.timers`), plus the time package's
/// fallback heap for timers armed outside any runtime. See the module docs.
pub(crate) struct Timers {
    core: Box<Core>,
}

impl std::fmt::Debug for Timers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timers")
            .field("len", &self.core.len.load(Ordering::Relaxed))
            .field("zombies", &self.core.zombies.load(Ordering::Relaxed))
            .field("next_when", &self.core.next_when.load(Ordering::Relaxed))
            .finish()
    }
}

/// Something to do, outside the heap lock, for a timer popped as due.
enum Fire {
    /// A sleep: wake it.
    Wake(Waker),
    /// An action timer (one-shot or periodic): call its action, which
    /// commits only if `seq` still matches. `when` is the deadline it
    /// fired for.
    Seq(TimerRef, u64, u64),
}

impl Default for Timers {
    fn default() -> Self {
        Self::new()
    }
}

impl Timers {
    /// An empty heap.
    pub(crate) fn new() -> Self {
        Timers {
            core: Box::new(Core {
                heap: Mutex::new(Vec::new()),
                next_when: AtomicU64::new(0),
                len: AtomicUsize::new(0),
                firing: AtomicUsize::new(0),
                zombies: AtomicUsize::new(0),
                sweep_at: AtomicUsize::new(SWEEP_MIN),
                watched: AtomicUsize::new(0),
            }),
        }
    }

    fn core_ptr(&self) -> *const Core {
        &*self.core
    }

    /// Adds `t`'s own entry, if it is pending and has none (another thread
    /// may have stopped it or added it since it asked for an add). Returns
    /// true if the entry is now the earliest, so the caller must make sure
    /// a sleeping M (or the fallback thread) wakes by then. Go: `maybeAdd`.
    /// The caller must not hold any timer lock.
    pub(crate) fn add(&self, t: TimerRef) -> bool {
        let mut h = self.core.heap.lock();
        if h.len() >= self.core.sweep_at.load(Ordering::Relaxed)
            && self.core.watched.load(Ordering::Relaxed) > 0
        {
            self.sweep_locked(&mut h);
        } else if self.core.zombies.load(Ordering::Relaxed) > 0 {
            self.clean_locked(&mut h);
        }
        let mut st = t.state.lock();
        if st.when == 0 || !st.ts.is_null() {
            return false;
        }
        st.generation = st.generation.wrapping_add(1);
        st.ts = self.core_ptr();
        st.entry_when = st.when;
        let (when, generation) = (st.when, st.generation);
        drop(st);
        if t.kind == Kind::Deliver {
            self.core.watched.fetch_add(1, Ordering::Relaxed);
        }
        h.push(Entry {
            when,
            generation,
            t,
        });
        let last = h.len() - 1;
        let top = siftup(&mut h, last) == 0;
        self.publish(&h);
        top
    }

    /// Earliest key in the heap, read without the lock; `None` if empty.
    /// Zombies and later-reset timers may make it early (a spurious
    /// wake-up), never late.
    pub(crate) fn next_when(&self) -> Option<Instant> {
        // SeqCst: pairs with the SeqCst store in `publish`, so a scheduler
        // doing "publish idle, then check timers" Dekker-style sees a
        // concurrent add or the adder sees it idle.
        from_nanos(self.core.next_when.load(Ordering::SeqCst))
    }

    /// Live (non-zombie) timers: pending work for deadlock detection.
    pub(crate) fn len(&self) -> usize {
        let len = self.core.len.load(Ordering::Relaxed);
        len.saturating_sub(self.core.zombies.load(Ordering::Relaxed))
    }

    /// Entries, zombies included (for tests and the loom models).
    pub(crate) fn entries(&self) -> usize {
        self.core.len.load(Ordering::Relaxed)
    }

    /// Counted zombies (for the loom models).
    #[cfg(loom)]
    pub(crate) fn zombies(&self) -> usize {
        self.core.zombies.load(Ordering::Relaxed)
    }

    /// Whether there are no live timers (none in the heap, none being
    /// fired).
    #[cfg_attr(loom, allow(dead_code))] // sysmon and the deadlock check
    pub(crate) fn is_empty(&self) -> bool {
        // Acquire: pairs with the Release decrement in `run_due`, so a
        // caller that sees the batch done also sees its Gs readied.
        self.len() == 0 && self.core.firing.load(Ordering::Acquire) == 0
    }

    /// Runs every timer due at `now`; returns how many fired. The heap lock
    /// is held only to pop a batch; firing happens after it is released.
    /// Go: `timers.check` / `timers.run`.
    pub(crate) fn run_due(&self, now: Instant) -> usize {
        let now = to_nanos(now);
        let mut fired = 0;
        loop {
            let next = self.core.next_when.load(Ordering::SeqCst);
            if (next == 0 || next > now) && !self.too_many_zombies() {
                return fired;
            }
            let mut batch: [Option<Fire>; BATCH] = [const { None }; BATCH];
            let more = {
                let mut h = self.core.heap.lock();
                if self.too_many_zombies() {
                    self.clean_locked(&mut h);
                }
                // Counted before `publish` shrinks `len`; see `firing`.
                self.core.firing.fetch_add(1, Ordering::SeqCst);
                let more = self.collect(&mut h, now, &mut batch);
                self.publish(&h);
                more
            };
            for f in batch.iter_mut() {
                match f.take() {
                    Some(f) => fired += usize::from(fire(f)),
                    None => break,
                }
            }
            // Release: the fired Gs are readied before this is seen.
            self.core.firing.fetch_sub(1, Ordering::Release);
            if !more {
                return fired;
            }
        }
    }

    /// Moves every live timer into `dst` (a P removed by procresize); returns
    /// true if `dst`'s earliest deadline changed. Go: `timers.take`.
    pub(crate) fn move_all_to(&self, dst: &Timers) -> bool {
        if std::ptr::eq(self, dst) {
            return false;
        }
        // Address order, so two concurrent opposite moves cannot deadlock.
        let (mut src_h, mut dst_h) = if self.core_ptr() < dst.core_ptr() {
            let a = self.core.heap.lock();
            (a, dst.core.heap.lock())
        } else {
            let b = dst.core.heap.lock();
            (self.core.heap.lock(), b)
        };
        let before = dst_h.first().map_or(u64::MAX, |e| e.when);
        for e in std::mem::take(&mut *src_h) {
            let mut st = e.t.state.lock();
            if st.ts != self.core_ptr() || st.generation != e.generation || st.when == 0 {
                // Dead: drop it (a stopped own entry leaves its heap too).
                if st.ts == self.core_ptr() && st.generation == e.generation {
                    st.ts = std::ptr::null();
                }
                self.core.zombies.fetch_sub(1, Ordering::Relaxed);
                continue;
            }
            st.ts = dst.core_ptr();
            st.entry_when = st.when;
            let when = st.when;
            drop(st);
            if e.t.kind == Kind::Deliver {
                dst.core.watched.fetch_add(1, Ordering::Relaxed);
            }
            dst_h.push(Entry {
                when,
                generation: e.generation,
                t: e.t,
            });
            let i = dst_h.len() - 1;
            siftup(&mut dst_h, i);
        }
        debug_assert_eq!(self.core.zombies.load(Ordering::Relaxed), 0);
        self.core.watched.store(0, Ordering::Relaxed);
        self.publish(&src_h);
        dst.publish(&dst_h);
        dst_h.first().map_or(u64::MAX, |e| e.when) < before
    }

    /// Stores the heap's length and earliest key for lock-free readers.
    fn publish(&self, h: &[Entry]) {
        self.core.len.store(h.len(), Ordering::Relaxed);
        // SeqCst: pairs with the SeqCst load in `next_when`.
        self.core
            .next_when
            .store(h.first().map_or(0, |e| e.when), Ordering::SeqCst);
    }

    fn too_many_zombies(&self) -> bool {
        let z = self.core.zombies.load(Ordering::Relaxed);
        z > 0 && z > self.core.len.load(Ordering::Relaxed) / 4
    }

    /// Removes dead entries: only from the top while zombies are at most a
    /// quarter of the heap, all of them (and re-heapify) beyond that.
    /// Go: `cleanHead` and `adjust`.
    fn clean_locked(&self, h: &mut Vec<Entry>) {
        if self.too_many_zombies() {
            self.sweep_locked(h);
            return;
        }
        while let Some(e) = h.first() {
            let mut st = e.t.state.lock();
            let own = st.ts == self.core_ptr() && st.generation == e.generation;
            if own && st.when != 0 {
                break;
            }
            if own {
                st.ts = std::ptr::null();
            }
            drop(st);
            self.core.zombies.fetch_sub(1, Ordering::Relaxed);
            pop_top(h);
        }
        self.publish(h);
    }

    /// Removes every dead entry, and every `Deliver` timer nobody can
    /// observe any more (a timer channel whose receivers were all dropped:
    /// Go 1.23 lets the garbage collector take such timers), then
    /// re-heapifies. Run when zombies
    /// exceed a quarter of the heap, and when the heap has doubled since the
    /// last sweep, so a loop of forgotten `after(long)` stays bounded.
    fn sweep_locked(&self, h: &mut Vec<Entry>) {
        let me = self.core_ptr();
        let mut zombies = 0;
        let mut watched = 0;
        let no_zombies = self.core.zombies.load(Ordering::Relaxed) == 0;
        h.retain(|e| {
            let unobservable = unreachable(&e.t);
            if no_zombies && !unobservable {
                // No dead entries exist: only unobservable ones need a look.
                watched += usize::from(e.t.kind == Kind::Deliver);
                return true;
            }
            let mut st = e.t.state.lock();
            let own = st.ts == me && st.generation == e.generation;
            if own && st.when != 0 {
                if !unobservable {
                    watched += usize::from(e.t.kind == Kind::Deliver);
                    return true;
                }
                // Live but unobservable: drop it (it was not a zombie).
                st.ts = std::ptr::null();
                st.when = 0;
                return false;
            }
            if own {
                st.ts = std::ptr::null();
            }
            zombies += 1;
            false
        });
        self.core.zombies.fetch_sub(zombies, Ordering::Relaxed);
        for i in (0..h.len().div_ceil(4)).rev() {
            siftdown(h, i);
        }
        self.core.watched.store(watched, Ordering::Relaxed);
        self.core
            .sweep_at
            .store((2 * h.len()).max(SWEEP_MIN), Ordering::Relaxed);
        self.publish(h);
    }
}

/// The heap size below which no growth-triggered sweep happens.
const SWEEP_MIN: usize = 1024;

/// Whether firing `t` could never be observed: a `Deliver` timer whose
/// action says nobody is left (for a timer channel, a receiver count that
/// never rises again once it is 0).
fn unreachable(t: &TimerShared) -> bool {
    t.kind == Kind::Deliver && !t.action.is_observed()
}

impl Drop for Timers {
    /// Detaches every own entry (their timers never fire from this heap).
    /// The entries are dropped after the heap lock is released: the last
    /// reference to a timer may be an entry's, and its action may hold
    /// user code.
    fn drop(&mut self) {
        let me = self.core_ptr();
        let entries = std::mem::take(&mut *self.core.heap.lock());
        for e in &entries {
            let mut st = e.t.state.lock();
            if st.ts == me {
                st.ts = std::ptr::null();
            }
        }
        drop(entries);
    }
}

impl Timers {
    /// Pops due entries from the top into `batch`, under the heap lock;
    /// returns true if it stopped because the batch was full.
    fn collect(&self, h: &mut Vec<Entry>, now: u64, batch: &mut [Option<Fire>; BATCH]) -> bool {
        let mut n = 0;
        while let Some(top) = h.first() {
            if top.when > now {
                return false;
            }
            if n == BATCH {
                return true;
            }
            match self.examine(top, now) {
                Top::Dead => {
                    self.core.zombies.fetch_sub(1, Ordering::Relaxed);
                    pop_top(h);
                }
                Top::Rekey(w) => {
                    h[0].when = w;
                    siftdown(h, 0);
                }
                Top::Tick(next, f) => {
                    batch[n] = Some(f);
                    n += 1;
                    h[0].when = next;
                    siftdown(h, 0);
                }
                Top::Fired(f) => {
                    pop_top(h);
                    if f.is_some() {
                        batch[n] = f;
                        n += 1;
                    }
                }
            }
        }
        false
    }

    /// Decides, under its timer's lock, what the due top entry needs, and
    /// updates the timer accordingly (Go: `timer.updateHeap` + the state
    /// half of `unlockAndRun`).
    fn examine(&self, top: &Entry, now: u64) -> Top {
        let mut st = top.t.state.lock();
        let own = st.ts == self.core_ptr() && st.generation == top.generation;
        if !own || st.when == 0 {
            // A zombie surfaced.
            if own {
                st.ts = std::ptr::null();
            }
            return Top::Dead;
        }
        if st.when > now {
            // Reset to a later time: re-key.
            st.entry_when = st.when;
            return Top::Rekey(st.when);
        }
        if top.t.kind == Kind::Deliver && !top.t.action.is_observed() {
            // Nobody can observe it (every receiver of a timer channel is
            // gone, e.g. a dropped `tick`): drop it instead of firing. It
            // turns dead here (counted as a zombie) and is popped as one.
            st.set_when(0);
            st.ts = std::ptr::null();
            return Top::Dead;
        }
        let fired_when = st.when;
        if st.period > 0 {
            // A ticker: the next tick after `now` (ticks missed by a late
            // run are skipped, as Go does); the entry stays.
            let p = st.period;
            let missed = (now - st.when) / p;
            let next = st.when.saturating_add(p.saturating_mul(missed + 1));
            st.when = next;
            st.entry_when = next;
            return Top::Tick(next, Fire::Seq(top.t.clone(), st.seq, fired_when));
        }
        st.ts = std::ptr::null();
        Top::Fired(match top.t.kind {
            Kind::Wake => {
                st.when = 0;
                st.waker.take().map(Fire::Wake)
            }
            _ => Some(Fire::Seq(top.t.clone(), st.seq, fired_when)),
        })
    }
}

/// What a due top entry needs (see `Timers::examine`).
enum Top {
    /// Dead (a zombie): remove it.
    Dead,
    /// Reset to a later time: re-key it to this deadline.
    Rekey(u64),
    /// A ticker fired: re-key it to the next tick, fire this.
    Tick(u64, Fire),
    /// A one-shot timer fired: remove it, fire this (a sleep with no waker
    /// has nothing to do).
    Fired(Option<Fire>),
}

/// Fires one popped timer, outside the heap lock; true if it fired.
fn fire(f: Fire) -> bool {
    match f {
        Fire::Wake(w) => {
            w.wake();
            true
        }
        Fire::Seq(t, seq, when) => t.action.fire(Firing { t: &t, seq, when }),
    }
}

// ---------------------------------------------------------------------------
// 4-ary heap helpers (Go's siftupTimer / siftdownTimer).

/// Moves entry `i` up to its place; returns its final index.
fn siftup(h: &mut [Entry], mut i: usize) -> usize {
    let when = h[i].when;
    while i > 0 {
        let p = (i - 1) / 4;
        if when >= h[p].when {
            break;
        }
        h.swap(i, p);
        i = p;
    }
    i
}

/// Moves entry `i` down to its place.
fn siftdown(h: &mut [Entry], mut i: usize) {
    let n = h.len();
    let when = h[i].when;
    loop {
        let c = 4 * i + 1;
        if c >= n {
            break;
        }
        let mut m = c;
        for j in c + 1..(c + 4).min(n) {
            if h[j].when < h[m].when {
                m = j;
            }
        }
        if h[m].when >= when {
            break;
        }
        h.swap(i, m);
        i = m;
    }
}

/// Removes and returns the top entry.
fn pop_top(h: &mut Vec<Entry>) -> Entry {
    let last = h.len() - 1;
    h.swap(0, last);
    let e = h.pop().expect("non-empty heap");
    if !h.is_empty() {
        siftdown(h, 0);
    }
    e
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::loom::atomic::AtomicBool;
    use std::sync::{Arc, Mutex as StdMutex};
    use std::task::Wake;

    /// A waker that records its id in a shared log when woken.
    struct Rec {
        id: usize,
        log: Arc<StdMutex<Vec<usize>>>,
    }
    impl Wake for Rec {
        fn wake(self: Arc<Self>) {
            self.log.lock().unwrap().push(self.id);
        }
    }

    type Log = Arc<StdMutex<Vec<usize>>>;

    /// Arms a sleep-kind timer for `base + at_us` and adds it to `ts`.
    fn arm(ts: &Timers, log: &Log, id: usize, base: Instant, at_us: u64) -> TimerRef {
        let t = TimerShared::new_sleep(0, None);
        let w = Waker::from(Arc::new(Rec {
            id,
            log: log.clone(),
        }));
        let (pending, needs_add) = t.modify(
            to_nanos(base + Duration::from_micros(at_us)),
            0,
            Some(w),
            || false,
        );
        assert!(!pending && needs_add);
        ts.add(t.clone());
        t
    }

    fn wk(id: usize, log: &Log) -> Option<Waker> {
        Some(Waker::from(Arc::new(Rec {
            id,
            log: log.clone(),
        })))
    }

    fn base() -> Instant {
        // Far enough ahead that real time never makes anything due.
        Instant::now() + Duration::from_secs(3600)
    }

    #[test]
    fn hundred_thousand_fire_in_deadline_order() {
        let ts = Timers::new();
        let log: Log = Default::default();
        let b = base();
        let n = 100_000;
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut deadline = Vec::with_capacity(n);
        let mut keep = Vec::with_capacity(n);
        for id in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let at = x % 1_000_000;
            deadline.push(at);
            keep.push(arm(&ts, &log, id, b, at));
        }
        assert_eq!(ts.len(), n);
        assert_eq!(ts.run_due(b), 0);
        let mut fired = 0;
        for step in 1..=10 {
            fired += ts.run_due(b + Duration::from_micros(step * 100_000));
        }
        assert_eq!(fired, n);
        assert_eq!(ts.len(), 0);
        assert!(ts.next_when().is_none());
        let order = log.lock().unwrap();
        assert_eq!(order.len(), n);
        for w in order.windows(2) {
            assert!(
                deadline[w[0]] <= deadline[w[1]],
                "fired out of deadline order"
            );
        }
    }

    #[test]
    fn next_when_is_earliest() {
        let ts = Timers::new();
        let log: Log = Default::default();
        let b = base();
        assert!(ts.next_when().is_none());
        let _a = arm(&ts, &log, 0, b, 500);
        let _c = arm(&ts, &log, 1, b, 100);
        let _d = arm(&ts, &log, 2, b, 900);
        let nw = ts.next_when().unwrap();
        let want = b + Duration::from_micros(100);
        assert!(nw <= want && want - nw < Duration::from_micros(1));
    }

    #[test]
    fn add_reports_new_earliest() {
        let ts = Timers::new();
        let b = base();
        let mk = |us: u64| {
            let t = TimerShared::new_sleep(0, None);
            t.modify(to_nanos(b + Duration::from_micros(us)), 0, None, || false);
            t
        };
        assert!(ts.add(mk(500)));
        assert!(!ts.add(mk(600)));
        assert!(ts.add(mk(100)));
        // Adding a timer that already has an entry does nothing.
        let t = mk(50);
        assert!(ts.add(t.clone()));
        assert!(!ts.add(t));
        assert_eq!(ts.len(), 4);
    }

    #[test]
    fn stopped_timers_are_zombies_and_get_cleaned() {
        let ts = Timers::new();
        let log: Log = Default::default();
        let b = base();
        let timers: Vec<_> = (0..100)
            .map(|i| arm(&ts, &log, i, b, 1000 + i as u64))
            .collect();
        for t in &timers[..30] {
            assert!(t.stop(|| false));
            assert!(!t.stop(|| false), "second stop finds nothing pending");
        }
        assert_eq!(ts.len(), 70);
        assert_eq!(ts.core.zombies.load(Ordering::Relaxed), 30);
        // More than a quarter are zombies: the next run removes them all.
        assert_eq!(ts.run_due(b), 0);
        assert_eq!(ts.core.zombies.load(Ordering::Relaxed), 0);
        assert_eq!(ts.core.len.load(Ordering::Relaxed), 70);
        assert_eq!(ts.run_due(b + Duration::from_secs(1)), 70);
        let mut fired = log.lock().unwrap().clone();
        fired.sort();
        assert_eq!(fired, (30..100).collect::<Vec<_>>());
    }

    #[test]
    fn zombie_at_top_is_removed_on_add() {
        let ts = Timers::new();
        let log: Log = Default::default();
        let b = base();
        let first = arm(&ts, &log, 0, b, 10);
        let _others: Vec<_> = (1..10)
            .map(|i| arm(&ts, &log, i, b, 100 + i as u64))
            .collect();
        first.stop(|| false);
        assert_eq!(ts.core.zombies.load(Ordering::Relaxed), 1);
        let _late = arm(&ts, &log, 99, b, 5000);
        assert_eq!(ts.core.zombies.load(Ordering::Relaxed), 0);
        let nw = ts.next_when().unwrap();
        assert!(nw > b + Duration::from_micros(100));
    }

    #[test]
    fn reset_later_rekeys_lazily() {
        let ts = Timers::new();
        let log: Log = Default::default();
        let b = base();
        let t = arm(&ts, &log, 7, b, 100);
        let (pending, needs_add) =
            t.modify(to_nanos(b + Duration::from_micros(300)), 0, None, || false);
        assert!(pending && !needs_add, "later reset keeps the entry");
        assert_eq!(ts.run_due(b + Duration::from_micros(200)), 0);
        assert_eq!(ts.len(), 1);
        assert_eq!(ts.run_due(b + Duration::from_micros(300)), 1);
        assert_eq!(*log.lock().unwrap(), vec![7]);
    }

    #[test]
    fn reset_earlier_orphans_old_entry() {
        let ts = Timers::new();
        let log: Log = Default::default();
        let b = base();
        let t = arm(&ts, &log, 7, b, 300);
        let (pending, needs_add) =
            t.modify(to_nanos(b + Duration::from_micros(100)), 0, None, || false);
        assert!(pending && needs_add);
        assert!(ts.add(t.clone()));
        assert_eq!(ts.len(), 1);
        assert_eq!(ts.run_due(b + Duration::from_micros(100)), 1);
        assert_eq!(
            ts.run_due(b + Duration::from_micros(400)),
            0,
            "orphan never fires"
        );
        assert_eq!(*log.lock().unwrap(), vec![7]);
        assert_eq!(ts.core.len.load(Ordering::Relaxed), 0);
        assert_eq!(ts.core.zombies.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn restart_after_stop_revives_entry() {
        let ts = Timers::new();
        let log: Log = Default::default();
        let b = base();
        let t = arm(&ts, &log, 3, b, 100);
        assert!(t.stop(|| false));
        assert_eq!(ts.len(), 0);
        let (pending, needs_add) = t.modify(
            to_nanos(b + Duration::from_micros(200)),
            0,
            wk(3, &log),
            || false,
        );
        assert!(!pending && !needs_add);
        assert_eq!(ts.len(), 1);
        assert_eq!(ts.run_due(b + Duration::from_micros(200)), 1);
        assert_eq!(*log.lock().unwrap(), vec![3]);
    }

    #[test]
    fn move_all_to_moves_live_timers() {
        let a = Timers::new();
        let d = Timers::new();
        let log: Log = Default::default();
        let b = base();
        let on_d = arm(&d, &log, 100, b, 1000);
        let on_a: Vec<_> = (0..10)
            .map(|i| arm(&a, &log, i, b, 100 + i as u64))
            .collect();
        on_a[0].stop(|| false);
        on_a[5].stop(|| false);
        assert!(a.move_all_to(&d), "d's earliest moved earlier");
        assert_eq!(a.len(), 0);
        assert!(a.next_when().is_none());
        assert_eq!(d.len(), 9);
        // A moved timer now counts against its new heap.
        on_a[1].stop(|| false);
        assert_eq!(d.len(), 8);
        assert_eq!(d.core.zombies.load(Ordering::Relaxed), 1);
        assert_eq!(a.run_due(b + Duration::from_secs(1)), 0);
        assert_eq!(d.run_due(b + Duration::from_secs(1)), 8);
        let mut fired = log.lock().unwrap().clone();
        fired.sort();
        assert_eq!(fired, vec![2, 3, 4, 6, 7, 8, 9, 100]);
        drop(on_d);
        // Moving into a heap whose earliest is already earlier: no change.
        let _e = arm(&d, &log, 200, b, 10);
        let _f = arm(&a, &log, 201, b, 20);
        assert!(!a.move_all_to(&d));
    }

    #[test]
    fn dropping_a_heap_detaches_its_timers() {
        let log: Log = Default::default();
        let b = base();
        let ts = Timers::new();
        let t = arm(&ts, &log, 1, b, 100);
        drop(ts);
        // The timer no longer points at the freed heap: stop is safe.
        assert!(t.stop(|| false));
        let other = Timers::new();
        t.modify(to_nanos(b), 0, wk(1, &log), || false);
        assert!(other.add(t.clone()));
        assert_eq!(other.run_due(b), 1);
    }

    /// A test action: counts deliveries; observed while `observed` is set.
    #[derive(Default)]
    struct Probe {
        observed: AtomicBool,
        fired: AtomicUsize,
    }

    struct ProbeAction(Arc<Probe>);

    impl TimerAction for ProbeAction {
        fn fire(&self, firing: Firing<'_>) -> bool {
            let p = &self.0;
            firing
                .run_if_current(|| p.fired.fetch_add(1, Ordering::Relaxed))
                .is_some()
        }
        fn is_observed(&self) -> bool {
            self.0.observed.load(Ordering::Relaxed)
        }
    }

    /// A `kind` timer armed for `at` with a probe that is observed or not.
    fn probe(kind: Kind, at: Instant, period: u64, observed: bool) -> (TimerRef, Arc<Probe>) {
        let p = Arc::new(Probe::default());
        p.observed.store(observed, Ordering::Relaxed);
        let t = TimerShared::new_armed(kind, to_nanos(at), period, None, ProbeAction(p.clone()));
        (t, p)
    }

    #[test]
    fn unobservable_timers_are_swept_as_the_heap_grows() {
        let ts = Timers::new();
        let b = base();
        let mut kept = Vec::new();
        for i in 0..5000u64 {
            let at = b + Duration::from_micros(i);
            let (t, p) = probe(Kind::Deliver, at, 0, i % 10 == 0);
            ts.add(t.clone());
            if i % 10 == 0 {
                kept.push((t, p)); // still observable
            }
        }
        let entries = ts.core.len.load(Ordering::Relaxed);
        assert!(
            entries < 2 * SWEEP_MIN + 500,
            "forgotten after() timers pile up: {entries}"
        );
        assert_eq!(ts.core.zombies.load(Ordering::Relaxed), 0);
        for (t, _) in &kept {
            assert!(t.is_pending(), "an observable timer was swept");
        }
        // Everything kept still fires, and nothing else does.
        let n = ts.run_due(b + Duration::from_secs(1));
        assert_eq!(n, kept.len());
        for (_, p) in &kept {
            assert_eq!(p.fired.load(Ordering::Relaxed), 1);
        }
    }

    #[test]
    fn func_timers_are_never_swept() {
        let ts = Timers::new();
        let b = base();
        let probes: Vec<_> = (0..3000u64)
            .map(|i| {
                let (t, p) = probe(Kind::Func, b + Duration::from_micros(i), 0, false);
                ts.add(t);
                p
            })
            .collect();
        assert_eq!(ts.len(), 3000);
        assert_eq!(ts.run_due(b + Duration::from_secs(1)), 3000);
        assert!(probes.iter().all(|p| p.fired.load(Ordering::Relaxed) == 1));
    }

    #[test]
    fn an_unobserved_ticker_is_dropped_when_it_comes_due() {
        let ts = Timers::new();
        let b = base();
        let (t, p) = probe(Kind::Deliver, b, 1000, true);
        ts.add(t.clone());
        assert_eq!(ts.run_due(b), 1);
        assert_eq!(ts.run_due(b + Duration::from_micros(1)), 1);
        assert_eq!(ts.len(), 1, "a ticker keeps its entry");
        // The last observer goes: the next due tick drops the entry.
        p.observed.store(false, Ordering::Relaxed);
        assert_eq!(ts.run_due(b + Duration::from_micros(2)), 0);
        assert_eq!(ts.core.len.load(Ordering::Relaxed), 0);
        assert_eq!(ts.core.zombies.load(Ordering::Relaxed), 0);
        assert!(!t.is_pending());
        assert_eq!(p.fired.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_stop_between_pop_and_commit_wins() {
        let b = base();
        let (t, p) = probe(Kind::Deliver, b, 0, true);
        let firing = Firing {
            t: &t,
            seq: 0,
            when: to_nanos(b),
        };
        assert!(t.stop(|| false), "still pending while being fired");
        assert!(!t.action.fire(firing), "the stale firing is skipped");
        assert_eq!(p.fired.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn sleeps_are_never_swept() {
        let ts = Timers::new();
        let log: Log = Default::default();
        let b = base();
        let timers: Vec<_> = (0..3000).map(|i| arm(&ts, &log, i, b, i as u64)).collect();
        assert_eq!(ts.len(), 3000);
        assert_eq!(ts.run_due(b + Duration::from_secs(1)), 3000);
        drop(timers);
    }

    #[test]
    fn encoding_round_trips() {
        let now = Instant::now();
        let n = to_nanos(now);
        assert!(n >= 1);
        let back = from_nanos(n).unwrap();
        assert!(back <= now && now - back < Duration::from_micros(1));
        assert_eq!(from_nanos(0), None);
        assert_eq!(nanos_after(Duration::MAX), u64::MAX);
        let past = now.checked_sub(Duration::from_secs(1_000_000));
        if let Some(p) = past {
            assert_eq!(to_nanos(p), 1);
        }
    }
}

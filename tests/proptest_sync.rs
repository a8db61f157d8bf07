//! proptest: random interleavings of lock/acquire futures (polled,
//! re-polled, dropped while parked or after being granted), try operations
//! and releases from several tasks, driven by hand on one thread so every
//! case is reproducible.
//!
//! - Mutex: never two holders; whatever was handed to a dropped future
//!   reaches someone (at the end every pending locker gets the lock in
//!   turn, and the mutex ends free).
//! - Semaphore: checked step by step against a reference model of x/sync's
//!   `Weighted` (FIFO queue, the head never bypassed, a dropped head lets
//!   the next in, a granted but dropped request gives its permits back):
//!   every poll and try result must be exactly the model's.

use goro::sync::{Mutex, MutexGuard, Permit, Semaphore};
use proptest::prelude::*;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

const TASKS: usize = 4;

fn poll<F: Future + ?Sized>(f: Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

// ---- Mutex -----------------------------------------------------------------

#[derive(Debug, Clone)]
enum MOp {
    Lock(usize),
    Poll(usize),
    Drop(usize),
    TryLock(usize),
}

fn mop() -> impl Strategy<Value = MOp> {
    prop_oneof![
        3 => (0..TASKS).prop_map(MOp::Lock),
        4 => (0..TASKS).prop_map(MOp::Poll),
        3 => (0..TASKS).prop_map(MOp::Drop),
        1 => (0..TASKS).prop_map(MOp::TryLock),
    ]
}

type LockFut<'a> = Pin<Box<dyn Future<Output = MutexGuard<'a, u32>> + 'a>>;

enum MTask<'a> {
    Idle,
    Locking(LockFut<'a>),
    /// Holds the lock until the task is dropped.
    Holding(#[allow(dead_code)] MutexGuard<'a, u32>),
}

fn holders(tasks: &[MTask<'_>]) -> usize {
    tasks
        .iter()
        .filter(|t| matches!(t, MTask::Holding(_)))
        .count()
}

fn run_mutex(ops: Vec<MOp>) {
    let m = Mutex::new(0u32);
    let mut tasks: Vec<MTask<'_>> = (0..TASKS).map(|_| MTask::Idle).collect();
    for op in ops {
        match op {
            MOp::Lock(i) => {
                if let MTask::Idle = tasks[i] {
                    tasks[i] = MTask::Locking(Box::pin(m.lock()));
                }
            }
            MOp::Poll(i) => {
                if let MTask::Locking(f) = &mut tasks[i] {
                    if let Poll::Ready(mut g) = poll(f.as_mut()) {
                        *g += 1;
                        tasks[i] = MTask::Holding(g);
                    }
                }
            }
            MOp::Drop(i) => tasks[i] = MTask::Idle,
            MOp::TryLock(i) => {
                if let MTask::Idle = tasks[i] {
                    if let Some(g) = m.try_lock() {
                        tasks[i] = MTask::Holding(g);
                    }
                }
            }
        }
        assert!(holders(&tasks) <= 1, "two holders at once");
    }
    // Liveness: release everything and drive the pending lockers; each gets
    // the lock in turn (nothing handed to a dropped future was lost).
    for t in tasks.iter_mut() {
        if let MTask::Holding(_) = t {
            *t = MTask::Idle;
        }
    }
    for _round in 0..TASKS * 4 {
        for t in tasks.iter_mut() {
            if let MTask::Locking(f) = t {
                if let Poll::Ready(g) = poll(f.as_mut()) {
                    drop(g);
                    *t = MTask::Idle;
                }
            }
        }
    }
    assert!(
        tasks.iter().all(|t| matches!(t, MTask::Idle)),
        "a locker never got the lock"
    );
    drop(tasks);
    assert!(m.try_lock().is_some(), "the mutex ended locked");
}

// ---- Semaphore -------------------------------------------------------------

#[derive(Debug, Clone)]
enum SOp {
    Acquire(usize, usize),
    Poll(usize),
    Drop(usize),
    TryAcquire(usize, usize),
}

fn sop(size: usize) -> impl Strategy<Value = SOp> {
    prop_oneof![
        3 => (0..TASKS, 0..=size + 1).prop_map(|(i, k)| SOp::Acquire(i, k)),
        4 => (0..TASKS).prop_map(SOp::Poll),
        3 => (0..TASKS).prop_map(SOp::Drop),
        1 => (0..TASKS, 0..=size).prop_map(|(i, k)| SOp::TryAcquire(i, k)),
    ]
}

type AcqFut<'a> = Pin<Box<dyn Future<Output = Permit<'a>> + 'a>>;

enum STask<'a> {
    Idle,
    /// A request for `k` permits, not yet ready.
    Acquiring(usize, AcqFut<'a>),
    Holding(Permit<'a>),
}

/// The reference model of x/sync's `Weighted`.
#[derive(Debug)]
struct Model {
    size: usize,
    cur: usize,
    /// Queued requests (task, k), FIFO.
    queue: VecDeque<(usize, usize)>,
    /// Per task: a request started but never polled.
    fresh: [bool; TASKS],
    /// Per task: granted (permits counted in `cur`) but not yet polled.
    granted: [Option<usize>; TASKS],
    /// Per task: permits held by a returned `Permit`.
    held: [usize; TASKS],
}

impl Model {
    fn notify(&mut self) {
        while let Some(&(t, k)) = self.queue.front() {
            if self.size - self.cur < k {
                break;
            }
            self.cur += k;
            self.queue.pop_front();
            self.granted[t] = Some(k);
        }
    }

    fn release(&mut self, k: usize) {
        self.cur -= k;
        self.notify();
    }

    /// The first poll of task `t`'s request for `k`: ready at once?
    fn first_poll(&mut self, t: usize, k: usize) -> bool {
        if self.size - self.cur >= k && self.queue.is_empty() {
            self.cur += k;
            return true;
        }
        if k <= self.size {
            self.queue.push_back((t, k));
        }
        false
    }

    /// A request of task `t` (for `k`) is dropped before it returned.
    fn cancel(&mut self, t: usize, k: usize) {
        if let Some(k) = self.granted[t].take() {
            self.release(k);
            return;
        }
        if let Some(pos) = self.queue.iter().position(|&(q, _)| q == t) {
            self.queue.remove(pos);
            if pos == 0 && self.size > self.cur {
                self.notify();
            }
        }
        let _ = k;
    }
}

fn run_semaphore(size: usize, ops: Vec<SOp>) {
    let sem = Semaphore::new(size);
    let mut tasks: Vec<STask<'_>> = (0..TASKS).map(|_| STask::Idle).collect();
    let mut model = Model {
        size,
        cur: 0,
        queue: VecDeque::new(),
        fresh: [false; TASKS],
        granted: [None; TASKS],
        held: [0; TASKS],
    };
    for op in ops {
        match op {
            SOp::Acquire(i, k) => {
                if let STask::Idle = tasks[i] {
                    tasks[i] = STask::Acquiring(k, Box::pin(sem.acquire(k)));
                    model.fresh[i] = true;
                }
            }
            SOp::Poll(i) => {
                if let STask::Acquiring(k, f) = &mut tasks[i] {
                    let k = *k;
                    let want = if model.fresh[i] {
                        model.fresh[i] = false;
                        model.first_poll(i, k)
                    } else {
                        model.granted[i].take().is_some()
                    };
                    match poll(f.as_mut()) {
                        Poll::Ready(p) => {
                            assert!(want, "ready against the model: {model:?}");
                            assert_eq!(p.permits(), k);
                            model.held[i] = k;
                            tasks[i] = STask::Holding(p);
                        }
                        Poll::Pending => assert!(!want, "pending against the model: {model:?}"),
                    }
                }
            }
            SOp::Drop(i) => match std::mem::replace(&mut tasks[i], STask::Idle) {
                STask::Idle => {}
                STask::Acquiring(k, f) => {
                    drop(f);
                    if !std::mem::take(&mut model.fresh[i]) {
                        model.cancel(i, k);
                    }
                }
                STask::Holding(p) => {
                    drop(p);
                    let k = std::mem::take(&mut model.held[i]);
                    model.release(k);
                }
            },
            SOp::TryAcquire(i, k) => {
                if let STask::Idle = tasks[i] {
                    let want = model.size - model.cur >= k && model.queue.is_empty();
                    match sem.try_acquire(k) {
                        Some(p) => {
                            assert!(want, "try_acquire succeeded against the model: {model:?}");
                            model.cur += k;
                            model.held[i] = k;
                            tasks[i] = STask::Holding(p);
                        }
                        None => assert!(!want, "try_acquire failed against the model: {model:?}"),
                    }
                }
            }
        }
        assert!(model.cur <= size);
    }
    drop(tasks);
    assert!(
        sem.try_acquire(size).is_some(),
        "permits were lost or kept: {sem:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn mutex_never_two_holders_and_loses_nothing(ops in prop::collection::vec(mop(), 1..80)) {
        run_mutex(ops);
    }

    #[test]
    fn semaphore_matches_weighted_model(
        (size, ops) in (1usize..5).prop_flat_map(|s| (Just(s), prop::collection::vec(sop(s), 1..80)))
    ) {
        run_semaphore(size, ops);
    }
}

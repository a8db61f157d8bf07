//! loom models of `goro::sync::Mutex` and `RwMutex` (src/sync/mutex.rs,
//! rwmutex.rs on src/task/sema.rs). Under loom a waiter that parked before
//! counts as starving (no time), so the models reach starvation mode.
//!
//! Run: RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//!      --manifest-path loom-tests/Cargo.toml --test sync_mutex
#![cfg(loom)]

use goro::sync::{Mutex, RwMutex};
use loom::sync::Arc;
use loom::thread;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.max_branches = 100_000;
    b.check(f);
}

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

/// Unlock racing a locker that spins, registers and parks: the unlock's
/// wake is never lost, and the main thread re-locking at once (barging the
/// woken waiter, which then parks again at the head as starving and gets
/// the lock handed off) keeps mutual exclusion and loses no increment.
#[test]
fn unlock_wakes_parked_locker_and_barging_relock() {
    model(|| {
        let m = Arc::new(Mutex::new(0u32));
        let g = m.lock_blocking();
        let t = {
            let m = m.clone();
            thread::spawn(move || *m.lock_blocking() += 1)
        };
        drop(g);
        *m.lock_blocking() += 1;
        t.join().unwrap();
        assert_eq!(*m.lock_blocking(), 2);
    });
}

/// A queued lock future dropped exactly when the unlock hands it the wake
/// (or, in starvation mode, the lock): what it was handed reaches the next
/// waiter, which must get the lock (a lost hand-off is a loom deadlock).
#[test]
fn dropped_waiter_passes_handoff_to_next() {
    model(|| {
        let m = Arc::new(Mutex::new(0u32));
        let g = m.lock_blocking();
        let t1 = {
            let m = m.clone();
            thread::spawn(move || {
                let mut f = pin!(m.lock());
                if let Poll::Ready(mut g) = poll_once(f.as_mut()) {
                    *g += 10;
                }
                // dropped here, queued, granted or done
            })
        };
        let t2 = {
            let m = m.clone();
            thread::spawn(move || *m.lock_blocking() += 1)
        };
        drop(g);
        t1.join().unwrap();
        t2.join().unwrap();
        let v = *m.try_lock().expect("the lock was left held");
        assert!(v == 1 || v == 11, "{v}");
    });
}

/// A writer waiting for a reader to leave is dropped while the reader
/// leaves: it un-announces itself (or unlocks the write lock it was just
/// granted), so the reader queued behind it gets in and the lock ends free.
#[test]
fn rw_writer_dropped_while_readers_drain() {
    model(|| {
        let m = Arc::new(RwMutex::new(0u32));
        let r = m.read_blocking();
        let w = {
            let m = m.clone();
            thread::spawn(move || {
                let mut f = pin!(m.write());
                if let Poll::Ready(mut g) = poll_once(f.as_mut()) {
                    *g += 1;
                }
            })
        };
        let reader = {
            let m = m.clone();
            thread::spawn(move || *m.read_blocking())
        };
        drop(r);
        w.join().unwrap();
        let seen = reader.join().unwrap();
        assert!(seen <= 1);
        assert!(m.try_write().is_some(), "the lock was left held");
    });
}

/// Starvation mode with a dropped head: a locker polled by hand is woken,
/// loses the lock to the main thread re-locking at once, parks again as
/// starving (setting `STARVING`), and is handed the lock by the next unlock
/// (`GRANT_HANDOFF`); it is then dropped without being polled. It must pass
/// the lock on: the main thread's last lock succeeds, and the mutex leaves
/// starvation mode.
#[test]
fn starvation_handoff_to_dropped_waiter() {
    model(|| {
        use loom::sync::atomic::{AtomicBool, Ordering};
        let m = Arc::new(Mutex::new(0u32));
        let stop = Arc::new(AtomicBool::new(false));
        let g = m.lock_blocking();
        let t = {
            let (m, stop) = (m.clone(), stop.clone());
            thread::spawn(move || {
                let mut f = pin!(m.lock());
                loop {
                    if let Poll::Ready(mut g) = poll_once(f.as_mut()) {
                        *g += 1;
                        return;
                    }
                    thread::yield_now();
                    if stop.load(Ordering::Acquire) {
                        return; // dropped: queued, woken, or handed the lock
                    }
                }
            })
        };
        drop(g);
        drop(m.lock_blocking());
        stop.store(true, Ordering::Release);
        *m.lock_blocking() += 10;
        t.join().unwrap();
        let v = *m.try_lock().expect("the lock was left held");
        assert!(v == 10 || v == 11, "{v}");
    });
}

/// A reader queueing (setting `RQUEUED` under the queue lock) races the
/// writer's unlock, whose one-CAS fast path must fail once a reader is
/// queued: the reader is admitted either way, never left behind.
#[test]
fn rw_reader_queues_while_writer_unlocks() {
    model(|| {
        let m = Arc::new(RwMutex::new(0u32));
        let w = m.write_blocking();
        let reader = {
            let m = m.clone();
            thread::spawn(move || *m.read_blocking())
        };
        drop(w);
        assert_eq!(reader.join().unwrap(), 0);
        assert!(m.try_write().is_some(), "the lock was left held");
    });
}

/// A writer that takes `w` and queues behind an uncontended writer
/// (`WQUEUED`) races that writer's unlock, whose one-CAS fast path must
/// fail once it is queued: the lock passes to it, never lost, and a reader
/// arriving meanwhile sees one write or both, never half.
#[test]
fn rw_writer_queues_while_fast_writer_unlocks() {
    model(|| {
        let m = Arc::new(RwMutex::new(0u32));
        let w = m.write_blocking(); // uncontended: WRITER | WFAST
        let t = {
            let m = m.clone();
            thread::spawn(move || *m.write_blocking() += 1)
        };
        let reader = {
            let m = m.clone();
            thread::spawn(move || *m.read_blocking())
        };
        drop(w);
        t.join().unwrap();
        assert!(reader.join().unwrap() <= 1);
        assert_eq!(*m.try_write().expect("the lock was left held"), 1);
    });
}

/// A writer takes the one-CAS path while another writer is parked on `w`
/// (free, in normal mode: Go lets a newcomer barge there): T1 holds `w`
/// and waits for the main thread's read lock to drain, T2 parks on `w`,
/// then the main thread drops its read lock and writes. Whichever way the
/// main thread's write goes (barging by the fast path, with T2 then
/// queueing behind it as `WQUEUED`, or through `w`), every write lands
/// and the lock ends free.
#[test]
fn rw_fast_writer_barges_past_a_writer_parked_on_w() {
    model(|| {
        let m = Arc::new(RwMutex::new(0u32));
        let r = m.read_blocking();
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let m = m.clone();
                thread::spawn(move || *m.write_blocking() += 1)
            })
            .collect();
        drop(r);
        *m.write_blocking() += 1;
        for t in writers {
            t.join().unwrap();
        }
        assert_eq!(*m.try_write().expect("the lock was left held"), 3);
    });
}

/// A writer queued behind an uncontended writer is dropped as that writer
/// unlocks (queued: it clears `WQUEUED`; granted: it unlocks what it was
/// passed): either way a reader queued behind gets in and the lock ends
/// free.
#[test]
fn rw_writer_behind_fast_writer_dropped_as_it_unlocks() {
    model(|| {
        let m = Arc::new(RwMutex::new(0u32));
        let w = m.write_blocking();
        let t = {
            let m = m.clone();
            thread::spawn(move || {
                let mut f = pin!(m.write());
                if let Poll::Ready(mut g) = poll_once(f.as_mut()) {
                    *g += 1;
                }
            })
        };
        drop(w);
        t.join().unwrap();
        assert!(*m.read_blocking() <= 1);
        assert!(m.try_write().is_some(), "the lock was left held");
    });
}

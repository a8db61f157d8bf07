//! RwMutex: readers together, writers alone, writer preference, the
//! batch of readers after a write, cancel safety, blocking forms, wait
//! reasons.

mod common;

use futures::future::{Either, select};
use goro::sync::{RwMutex, WaitGroup};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(futures::task::noop_waker_ref()))
}

/// `fut`, or `None` once `d` has passed (the future is dropped then).
async fn within<F: Future>(d: Duration, fut: F) -> Option<F::Output> {
    match select(pin!(fut), pin!(goro::time::sleep(d))).await {
        Either::Left((v, _)) => Some(v),
        Either::Right(_) => None,
    }
}

async fn dump_shows(needle: &str) -> bool {
    for _ in 0..5000 {
        if goro::runtime::stack().contains(needle) {
            return true;
        }
        goro::time::sleep(Duration::from_millis(1)).await;
    }
    false
}

/// Readers and writers hammering one lock: a writer is always alone, and
/// no write is lost (Go's HammerRWMutex shape, with parking holders).
#[test]
fn writers_alone_readers_together() {
    let total = common::guard(60, || {
        goro::run(async {
            let m = Arc::new(RwMutex::new(0u64));
            let activity = Arc::new(AtomicUsize::new(0));
            let wg = WaitGroup::new();
            for k in 0..10u64 {
                let (m, activity) = (m.clone(), activity.clone());
                wg.go(async move {
                    for i in 0..300u64 {
                        if (i + k) % 5 == 0 {
                            let mut w = m.write().await;
                            assert_eq!(activity.fetch_add(10_000, Ordering::SeqCst), 0);
                            *w += 1;
                            if i % 3 == 0 {
                                goro::gosched().await;
                            }
                            activity.fetch_sub(10_000, Ordering::SeqCst);
                        } else {
                            let r = m.read().await;
                            let n = activity.fetch_add(1, Ordering::SeqCst);
                            assert!(n < 10_000, "reader beside a writer");
                            let _ = *r;
                            if i % 4 == 0 {
                                goro::gosched().await;
                            }
                            activity.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                });
            }
            wg.wait().await;
            *m.read().await
        })
    });
    assert_eq!(total, 10 * 60);
}

/// Go's writer preference: once a writer waits, a new reader waits too,
/// even though only readers hold the lock; when the writer is done, the
/// waiting reader gets in.
#[test]
fn waiting_writer_blocks_new_readers() {
    common::guard(30, || {
        let m = RwMutex::new(0);
        let r1 = m.read_blocking();
        let mut w = pin!(m.write());
        assert!(poll_once(w.as_mut()).is_pending()); // waits for r1
        assert!(
            m.try_read().is_none(),
            "a new reader passed a waiting writer"
        );
        let mut r2 = pin!(m.read());
        assert!(poll_once(r2.as_mut()).is_pending());
        drop(r1); // the writer gets the lock
        let mut wg = match poll_once(w.as_mut()) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("the writer was not handed the lock"),
        };
        *wg = 1;
        assert!(poll_once(r2.as_mut()).is_pending());
        drop(wg); // the queued reader is admitted
        match poll_once(r2.as_mut()) {
            Poll::Ready(g) => assert_eq!(*g, 1),
            Poll::Pending => panic!("the reader was not admitted"),
        }
    });
}

/// The readers that queued during a write all get in together when it
/// ends, before a second writer that queued meanwhile (Go's phases).
#[test]
fn readers_queued_during_a_write_go_before_the_next_writer() {
    common::guard(30, || {
        let m = RwMutex::new(0);
        let w1 = m.write_blocking();
        let mut ra = pin!(m.read());
        let mut w2 = pin!(m.write());
        let mut rb = pin!(m.read());
        assert!(poll_once(ra.as_mut()).is_pending());
        assert!(poll_once(w2.as_mut()).is_pending());
        assert!(poll_once(rb.as_mut()).is_pending());
        drop(w1);
        let ga = match poll_once(ra.as_mut()) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("reader a not admitted"),
        };
        let gb = match poll_once(rb.as_mut()) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("reader b not admitted"),
        };
        assert!(poll_once(w2.as_mut()).is_pending());
        drop(ga);
        drop(gb);
        assert!(poll_once(w2.as_mut()).is_ready());
    });
}

/// An uncontended write lock is taken without the writers' mutex; a
/// second writer then queues behind it and gets the lock when it is
/// unlocked, before a reader that came later.
#[test]
fn writer_queued_behind_an_uncontended_writer_gets_the_lock_next() {
    common::guard(30, || {
        let m = RwMutex::new(0);
        let mut w1 = m.write_blocking(); // the uncontended path
        let mut w2 = pin!(m.write());
        assert!(poll_once(w2.as_mut()).is_pending());
        assert!(m.try_write().is_none());
        *w1 = 1;
        drop(w1);
        let mut g2 = match poll_once(w2.as_mut()) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("the queued writer was not handed the lock"),
        };
        assert!(m.try_read().is_none(), "a reader beside the second writer");
        let mut r = pin!(m.read());
        assert!(poll_once(r.as_mut()).is_pending());
        *g2 += 1;
        drop(g2);
        match poll_once(r.as_mut()) {
            Poll::Ready(g) => assert_eq!(*g, 2),
            Poll::Pending => panic!("the reader was not admitted"),
        } // the read guard is dropped here
        assert!(m.try_write().is_some(), "the lock was left held");
    });
}

/// A writer woken on `w` (free, in normal mode) loses it to a newcomer
/// that takes the one-CAS path, as Go lets a newcomer barge there: it
/// then queues behind that writer and is passed the lock at its unlock.
#[test]
fn writer_woken_on_w_is_passed_the_lock_after_a_barging_writer() {
    common::guard(30, || {
        let m = RwMutex::new(0);
        let r = m.read_blocking();
        let mut w1 = pin!(m.write()); // takes `w`, waits for the reader
        assert!(poll_once(w1.as_mut()).is_pending());
        let mut w2 = pin!(m.write()); // parks on `w`
        assert!(poll_once(w2.as_mut()).is_pending());
        drop(r);
        let mut g1 = match poll_once(w1.as_mut()) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("the draining writer was not granted"),
        };
        *g1 += 1;
        drop(g1); // unlocks `w` and wakes w2
        let mut g3 = m.try_write().expect("a newcomer takes the free lock");
        assert!(poll_once(w2.as_mut()).is_pending(), "two writers at once");
        *g3 += 1;
        drop(g3);
        let mut g2 = match poll_once(w2.as_mut()) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("the woken writer never got the lock"),
        };
        *g2 += 1;
        drop(g2);
        assert_eq!(*m.try_read().expect("the lock was left held"), 3);
    });
}

/// A writer dropped while it waits behind an uncontended writer leaves
/// that writer's lock alone, and the lock is free afterwards.
#[test]
fn dropped_writer_behind_an_uncontended_writer_loses_nothing() {
    common::guard(30, || {
        let m = RwMutex::new(0);
        let w1 = m.write_blocking();
        {
            let mut w2 = pin!(m.write());
            assert!(poll_once(w2.as_mut()).is_pending());
        } // dropped while queued
        assert!(m.try_read().is_none(), "the first writer lost its lock");
        assert!(m.try_write().is_none());
        drop(w1);
        assert!(m.try_write().is_some(), "the lock was left held");
        assert!(m.try_read().is_some());
        // And the same with readers queued behind both writers.
        let w1 = m.write_blocking();
        let mut r = pin!(m.read());
        {
            let mut w2 = pin!(m.write());
            assert!(poll_once(w2.as_mut()).is_pending());
            assert!(poll_once(r.as_mut()).is_pending());
        }
        assert!(
            poll_once(r.as_mut()).is_pending(),
            "a reader beside a writer"
        );
        drop(w1);
        assert!(poll_once(r.as_mut()).is_ready());
    });
}

#[test]
fn try_forms_and_blocking_forms() {
    let m = RwMutex::new(vec![1]);
    let r = m.try_read().unwrap();
    let r2 = m.read_blocking();
    assert!(m.try_write().is_none());
    assert_eq!(r.len() + r2.len(), 2);
    drop((r, r2));
    m.write_blocking().push(2);
    let w = m.try_write().unwrap();
    assert!(m.try_read().is_none());
    assert!(format!("{m:?}").contains("<locked>"));
    drop(w);
    assert_eq!(m.into_inner(), vec![1, 2]);
}

/// A writer dropped while it waits for readers to drain un-announces
/// itself: readers queued behind it get in, and later writers succeed.
#[test]
fn dropped_draining_writer_lets_readers_in() {
    common::guard(30, || {
        let m = RwMutex::new(0);
        let r1 = m.read_blocking();
        let mut r2 = pin!(m.read());
        {
            let mut w = pin!(m.write());
            assert!(poll_once(w.as_mut()).is_pending());
            assert!(poll_once(r2.as_mut()).is_pending());
        } // the writer is dropped
        assert!(poll_once(r2.as_mut()).is_ready());
        drop(r1);
        assert!(m.try_read().is_some());
    });
    common::guard(30, || {
        let m = RwMutex::new(0);
        {
            let mut w = pin!(m.write());
            let r = m.read_blocking();
            assert!(poll_once(w.as_mut()).is_pending());
            drop(r); // grants the writer, which is dropped unpolled
        }
        assert!(m.try_write().is_some(), "the granted write lock was kept");
    });
}

/// Timeouts on both sides while the lock is busy: nothing is kept or lost.
#[test]
fn cancelled_readers_and_writers_lose_nothing() {
    let (writes, timed_out) = common::guard(60, || {
        goro::run(async {
            let m = Arc::new(RwMutex::new(0usize));
            let timed_out = Arc::new(AtomicUsize::new(0));
            let wg = WaitGroup::new();
            for k in 0..10u64 {
                let (m, timed_out) = (m.clone(), timed_out.clone());
                wg.go(async move {
                    for i in 0..100u64 {
                        let patience = Duration::from_micros(20 + (k * 31 + i * 7) % 150);
                        if (i + k) % 3 == 0 {
                            match within(patience, m.write()).await {
                                Some(mut w) => {
                                    *w += 1;
                                    goro::time::sleep(Duration::from_micros(20)).await;
                                }
                                None => {
                                    timed_out.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        } else if within(patience, m.read()).await.is_none() {
                            timed_out.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
            wg.wait().await;
            let writes = *m.try_write().expect("lock left held");
            (writes, timed_out.load(Ordering::Relaxed))
        })
    });
    assert!(writes + timed_out <= 1000);
    assert!(writes > 0);
}

#[test]
fn parked_reader_and_writer_show_wait_reasons() {
    let (r, w) = common::guard(30, || {
        goro::run(async {
            let m: &'static RwMutex<()> = Box::leak(Box::new(RwMutex::new(())));
            let g = m.read().await;
            let writer = goro::go(async move { drop(m.write().await) });
            let w = dump_shows("[sync.RWMutex.Lock").await;
            let reader = goro::go(async move { drop(m.read().await) });
            let r = dump_shows("[sync.RWMutex.RLock").await;
            drop(g);
            writer.await.unwrap();
            reader.await.unwrap();
            (r, w)
        })
    });
    assert!(w, "no writer shown in sync.RWMutex.Lock");
    assert!(r, "no reader shown in sync.RWMutex.RLock");
}

#[test]
fn lock_futures_are_send() {
    fn assert_send<T: Send>(_: T) {}
    let m = Arc::new(RwMutex::new(String::new()));
    let m2 = m.clone();
    assert_send(async move {
        let r = m2.read().await;
        goro::gosched().await;
        drop(r);
        m2.write().await.push('x');
    });
    assert_send(m.read());
    assert_send(m.write());
}

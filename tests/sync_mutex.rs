//! Mutex: mutual exclusion across Gs and threads, guards across `.await`,
//! cancel safety of pending lock futures, starvation mode, wait reasons,
//! deadlock reports.

mod common;

use futures::future::{Either, select};
use goro::sync::{Mutex, WaitGroup};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

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

/// Whether `goro::runtime::stack()` shows `needle` within 5 s.
async fn dump_shows(needle: &str) -> bool {
    for _ in 0..5000 {
        if goro::runtime::stack().contains(needle) {
            return true;
        }
        goro::time::sleep(Duration::from_millis(1)).await;
    }
    false
}

#[test]
fn many_gs_count_exactly() {
    let n = common::guard(60, || {
        goro::run(async {
            let m = Arc::new(Mutex::new(0u64));
            let wg = WaitGroup::new();
            for _ in 0..16 {
                let m = m.clone();
                wg.go(async move {
                    for i in 0..2000u64 {
                        let mut g = m.lock().await;
                        *g += 1;
                        if i % 100 == 0 {
                            goro::gosched().await; // held across a yield
                        }
                    }
                });
            }
            wg.wait().await;
            *m.lock().await
        })
    });
    assert_eq!(n, 32_000);
}

#[test]
fn gs_and_threads_share_one_mutex() {
    let n = common::guard(60, || {
        let rt = goro::Runtime::builder().max_procs(2).build();
        let m = Arc::new(Mutex::new(0u64));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..3000 {
                        *m.lock_blocking() += 1;
                    }
                })
            })
            .collect();
        rt.block_on({
            let m = m.clone();
            async move {
                let wg = WaitGroup::new();
                for _ in 0..4 {
                    let m = m.clone();
                    wg.go(async move {
                        for _ in 0..3000 {
                            *m.lock().await += 1;
                        }
                    });
                }
                wg.wait().await;
            }
        });
        for t in threads {
            t.join().unwrap();
        }
        *m.lock_blocking()
    });
    assert_eq!(n, 7 * 3000);
}

/// No two holders at once, checked inside the critical section, with
/// holders that park while holding the lock.
#[test]
fn mutual_exclusion_with_parking_holders() {
    common::guard(60, || {
        goro::run(async {
            let m = Arc::new(Mutex::new(()));
            let inside = Arc::new(AtomicUsize::new(0));
            let wg = WaitGroup::new();
            for k in 0..8 {
                let (m, inside) = (m.clone(), inside.clone());
                wg.go(async move {
                    for i in 0..200 {
                        let _g = m.lock().await;
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                        if (i + k) % 7 == 0 {
                            goro::time::sleep(Duration::from_micros(50)).await;
                        }
                        assert_eq!(inside.fetch_sub(1, Ordering::SeqCst), 1);
                    }
                });
            }
            wg.wait().await;
        })
    });
}

#[test]
fn lock_future_is_send_and_guard_crosses_await() {
    fn assert_send<T: Send>(_: &T) {}
    let m = Arc::new(Mutex::new(String::new()));
    let fut = {
        let m = m.clone();
        async move {
            let mut g = m.lock().await;
            goro::gosched().await;
            g.push_str("held across await");
        }
    };
    assert_send(&fut);
    common::guard(30, move || goro::run(fut));
    assert_eq!(&*m.lock_blocking(), "held across await");
}

#[test]
fn try_lock_and_into_inner() {
    let m = Mutex::new(vec![1]);
    let g = m.try_lock().unwrap();
    assert!(m.try_lock().is_none());
    assert!(format!("{m:?}").contains("<locked>"));
    drop(g);
    m.try_lock().unwrap().push(2);
    assert_eq!(format!("{m:?}"), "Mutex { data: [1, 2] }");
    assert_eq!(m.into_inner(), vec![1, 2]);
}

/// Lock futures dropped while parked (timeouts) never keep the lock or
/// lose a wake-up: the survivors all get it, and it ends unlocked.
#[test]
fn cancelled_lockers_lose_nothing() {
    let (done, timed_out) = common::guard(60, || {
        goro::run(async {
            let m = Arc::new(Mutex::new(0u32));
            let timed_out = Arc::new(AtomicUsize::new(0));
            let wg = WaitGroup::new();
            for k in 0..12u64 {
                let (m, timed_out) = (m.clone(), timed_out.clone());
                wg.go(async move {
                    for i in 0..150u64 {
                        let patience = Duration::from_micros(20 + (k * 37 + i * 11) % 200);
                        match within(patience, m.lock()).await {
                            Some(mut g) => {
                                *g += 1;
                                if i % 5 == 0 {
                                    goro::time::sleep(Duration::from_micros(30)).await;
                                }
                            }
                            None => {
                                timed_out.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                });
            }
            wg.wait().await;
            let done = *m.try_lock().expect("mutex left locked");
            (done, timed_out.load(Ordering::Relaxed))
        })
    });
    assert_eq!(done as usize + timed_out, 12 * 150);
}

/// Hand-polled: a lock future dropped after the unlock woke it passes the
/// wake on, so the waiter behind it is woken by that one unlock.
#[test]
fn dropped_woken_waiter_passes_the_wake_on() {
    common::guard(30, || {
        let m = Arc::new(Mutex::new(0));
        let g = m.lock_blocking();
        let second;
        {
            let mut first = pin!(m.lock());
            assert!(poll_once(first.as_mut()).is_pending());
            second = {
                let m = m.clone();
                std::thread::spawn(move || *m.lock_blocking() += 1)
            };
            // Let the second locker park behind the first.
            std::thread::sleep(Duration::from_millis(50));
            drop(g); // wakes `first` (the head)
        } // `first` is dropped: it passes the wake to the thread
        second.join().unwrap();
        assert_eq!(*m.lock_blocking(), 1);
    });
}

/// Go's starvation mode: a G that keeps re-locking right after unlocking
/// (so it usually wins against a woken waiter) cannot keep a waiter out
/// for long: after 1 ms the lock is handed to the waiter.
#[test]
fn starvation_mode_lets_a_waiter_in() {
    let worst = common::guard(60, || {
        let rt = goro::Runtime::builder().max_procs(2).build();
        rt.block_on(async {
            let m = Arc::new(Mutex::new(()));
            let stop = Arc::new(AtomicBool::new(false));
            let hog = {
                let (m, stop) = (m.clone(), stop.clone());
                goro::go(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let _g = m.lock().await;
                        let t = Instant::now();
                        while t.elapsed() < Duration::from_micros(100) {
                            std::hint::spin_loop();
                        }
                    }
                })
            };
            let mut worst = Duration::ZERO;
            for _ in 0..20 {
                goro::time::sleep(Duration::from_micros(200)).await;
                let t = Instant::now();
                drop(m.lock().await);
                worst = worst.max(t.elapsed());
            }
            stop.store(true, Ordering::Relaxed);
            hog.await.unwrap();
            worst
        })
    });
    // Generous: only a waiter that never got the lock would fail this.
    assert!(worst < Duration::from_secs(5), "waited {worst:?}");
}

#[test]
fn lock_blocking_in_a_g_does_not_stall_its_p() {
    let v = common::guard(30, || {
        let rt = goro::Runtime::builder().max_procs(1).build();
        rt.block_on(async {
            let m: &'static Mutex<i32> = Box::leak(Box::new(Mutex::new(0)));
            let g = m.lock().await;
            let unlocker = goro::go(async move {
                drop(g); // runs while the main G blocks its thread
            });
            let v = *m.lock_blocking(); // hands the P off meanwhile
            unlocker.await.unwrap();
            v
        })
    });
    assert_eq!(v, 0);
}

#[test]
fn parked_locker_shows_wait_reason() {
    let shown = common::guard(30, || {
        goro::run(async {
            let m = Arc::new(Mutex::new(()));
            let g = m.lock().await;
            let h = {
                let m = m.clone();
                goro::go(async move { drop(m.lock().await) })
            };
            let shown = dump_shows("[sync.Mutex.Lock").await;
            drop(g);
            h.await.unwrap();
            shown
        })
    });
    assert!(shown, "no G shown waiting in sync.Mutex.Lock");
}

/// A G blocked forever on a mutex is a deadlock the runtime reports, with
/// the wait reason in the dump.
#[test]
fn lock_held_forever_is_a_reported_deadlock() {
    let msg = common::guard(30, || {
        let r = std::panic::catch_unwind(|| {
            goro::run(async {
                let m = Box::leak(Box::new(Mutex::new(())));
                let g = m.lock().await;
                std::mem::forget(g);
                drop(m.lock().await);
            })
        });
        match r.expect_err("goro::run returned").downcast::<String>() {
            Ok(s) => *s,
            Err(p) => std::panic::resume_unwind(p),
        }
    });
    assert!(
        msg.contains("all goroutines are asleep - deadlock!"),
        "{msg}"
    );
    assert!(msg.contains("sync.Mutex.Lock"), "{msg}");
}

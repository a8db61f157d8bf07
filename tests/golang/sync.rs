//! Go's sync tests (src/sync/waitgroup_test.go, mutex_test.go,
//! rwmutex_test.go, cond_test.go, once_test.go) and golang.org/x/sync's
//! (semaphore/semaphore_test.go, singleflight/singleflight_test.go), in
//! goro. Each test names the Go test it mirrors.

use goro::context;
use goro::sync::singleflight::Group;
use goro::sync::{Cond, ErrGroup, Mutex, Once, RwMutex, Semaphore, WaitGroup};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

/// Runs `f` on a thread and fails if it does not finish within 30 s.
fn guarded<F: FnOnce() + Send + 'static>(f: F) {
    crate::common::guard(30, f)
}

/// Go's testWaitGroup: n workers each `wg1.Done()` then `wg2.Wait()`; the
/// main waits on wg1, checks nobody passed wg2, then releases them.
fn test_wait_group(wg1: &WaitGroup, wg2: &WaitGroup) {
    let n = 16;
    wg1.add(n);
    wg2.add(n);
    let exited = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let (wg1, wg2, exited) = (wg1.clone(), wg2.clone(), exited.clone());
            std::thread::spawn(move || {
                wg1.done();
                wg2.wait_blocking();
                exited.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    wg1.wait_blocking();
    for _ in 0..n {
        assert_eq!(
            exited.load(Ordering::SeqCst),
            0,
            "WaitGroup released group too soon"
        );
        wg2.done();
    }
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(exited.load(Ordering::SeqCst), n as usize);
}

// Go: TestWaitGroup
#[test]
fn wait_group() {
    guarded(|| {
        let wg1 = WaitGroup::new();
        let wg2 = WaitGroup::new();
        // Run the same test a few times to ensure barrier is in a proper state.
        for _ in 0..8 {
            test_wait_group(&wg1, &wg2);
        }
    });
}

// Go: TestWaitGroupMisuse
#[test]
fn wait_group_misuse() {
    let wg = WaitGroup::new();
    wg.add(1);
    wg.done();
    let e = std::panic::catch_unwind(|| wg.done()).unwrap_err();
    let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
    assert_eq!(msg, "sync: negative WaitGroup counter");
}

// Go: TestWaitGroupRace
#[test]
fn wait_group_race() {
    guarded(|| {
        // Run this test for about 1ms.
        for _ in 0..200 {
            let wg = WaitGroup::new();
            let n = Arc::new(AtomicUsize::new(0));
            wg.add(2);
            for _ in 0..2 {
                let (wg, n) = (wg.clone(), n.clone());
                std::thread::spawn(move || {
                    n.fetch_add(1, Ordering::SeqCst);
                    wg.done();
                });
            }
            wg.wait_blocking();
            assert_eq!(n.load(Ordering::SeqCst), 2, "Spurious wakeup from Wait");
        }
    });
}

// Go: TestWaitGroupAlign (several groups side by side, each independent)
#[test]
fn wait_group_align() {
    guarded(|| {
        let groups: Vec<WaitGroup> = (0..4).map(|_| WaitGroup::new()).collect();
        for wg in &groups {
            wg.add(1);
            let wg = wg.clone();
            std::thread::spawn(move || wg.done());
        }
        for wg in &groups {
            wg.wait_blocking();
        }
    });
}

// Go: TestWaitGroupGo
#[test]
fn wait_group_go() {
    guarded(|| {
        let done = goro::run(async {
            let wg = WaitGroup::new();
            let i = Arc::new(AtomicUsize::new(0));
            for _ in 0..100 {
                let i = i.clone();
                wg.go(async move {
                    i.fetch_add(1, Ordering::SeqCst);
                });
            }
            wg.wait().await;
            i.load(Ordering::SeqCst)
        });
        assert_eq!(done, 100);
    });
}

// Go: TestWaitGroupGo (a G that parks before finishing)
#[test]
fn wait_group_go_waits_for_parked_g() {
    guarded(|| {
        let started = goro::run(async {
            let wg = WaitGroup::new();
            let (tx, rx) = goro::chan::<()>(0);
            let started = Arc::new(AtomicBool::new(false));
            let s = started.clone();
            // A G parked on a channel; dropping the sender ends it.
            wg.go(async move {
                s.store(true, Ordering::SeqCst);
                let _ = rx.recv().await;
            });
            goro::gosched().await;
            drop(tx);
            wg.wait().await;
            started.load(Ordering::SeqCst)
        });
        assert!(started);
    });
}

// Go 1.25's `wg.Go`: done runs even if the function panics (a drop guard).
#[test]
fn wait_group_go_done_on_panic() {
    guarded(|| {
        let rt = goro::Runtime::new();
        let wg = WaitGroup::new();
        let w = wg.clone();
        rt.block_on(async move {
            w.go(async {
                panic!("boom in a WaitGroup G");
            });
        });
        // The panicking G still called done.
        wg.wait_blocking();
        assert_eq!(wg.__counter(), 0);
    });
}

// ---- mutex_test.go ---------------------------------------------------------

/// Go's HammerMutex: `loops` lock/unlock pairs, then a message on `done`.
async fn hammer_mutex(m: Arc<Mutex<()>>, loops: usize, done: goro::chan::Sender<bool>) {
    for _ in 0..loops {
        drop(m.lock().await);
    }
    done.send(true).await.unwrap();
}

// Go: TestMutex
#[test]
fn mutex() {
    guarded(|| {
        goro::run(async {
            let m = Arc::new(Mutex::new(()));
            let (tx, rx) = goro::chan::<bool>(0);
            for _ in 0..10 {
                drop(goro::go(hammer_mutex(m.clone(), 1000, tx.clone())));
            }
            for _ in 0..10 {
                rx.recv().await;
            }
        })
    });
}

// Go: TestMutexFairness
#[test]
fn mutex_fairness() {
    guarded(|| {
        goro::run(async {
            let mu: &'static Mutex<()> = Box::leak(Box::new(Mutex::new(())));
            let (stop_tx, stop) = goro::chan::<bool>(0);
            drop(goro::go(async move {
                loop {
                    let g = mu.lock().await;
                    goro::time::sleep(Duration::from_micros(100)).await;
                    drop(g);
                    goro::select! {
                        recv(stop) -> _ => return,
                        default => {}
                    }
                }
            }));
            let (done_tx, done) = goro::chan::<bool>(1);
            drop(goro::go(async move {
                for _ in 0..10 {
                    goro::time::sleep(Duration::from_micros(100)).await;
                    drop(mu.lock().await);
                }
                done_tx.send(true).await.unwrap();
            }));
            goro::select! {
                recv(done) -> _ => {},
                recv(goro::time::after(Duration::from_secs(10))) => panic!("can't acquire Mutex in 10 seconds"),
            }
            drop(stop_tx);
        })
    });
}

// ---- rwmutex_test.go -------------------------------------------------------

/// Go's doTestParallelReaders: every reader holds the read lock at once.
fn do_test_parallel_readers(num_readers: usize, gomaxprocs: usize) {
    let rt = goro::Runtime::builder().max_procs(gomaxprocs).build();
    rt.block_on(async move {
        let m: &'static RwMutex<()> = Box::leak(Box::new(RwMutex::new(())));
        let (clocked_tx, clocked) = goro::chan::<bool>(0);
        let (cunlock_tx, cunlock) = goro::chan::<bool>(0);
        let (cdone_tx, cdone) = goro::chan::<bool>(0);
        for _ in 0..num_readers {
            let (clocked_tx, cunlock, cdone_tx) =
                (clocked_tx.clone(), cunlock.clone(), cdone_tx.clone());
            drop(goro::go(async move {
                let r = m.read().await;
                clocked_tx.send(true).await.unwrap();
                cunlock.recv().await;
                drop(r);
                cdone_tx.send(true).await.unwrap();
            }));
        }
        // Wait for all parallel RLock()s to succeed.
        for _ in 0..num_readers {
            clocked.recv().await;
        }
        for _ in 0..num_readers {
            cunlock_tx.send(true).await.unwrap();
        }
        for _ in 0..num_readers {
            cdone.recv().await;
        }
    });
}

// Go: TestParallelReaders
#[test]
fn parallel_readers() {
    guarded(|| {
        do_test_parallel_readers(1, 4);
        do_test_parallel_readers(3, 4);
        do_test_parallel_readers(4, 2);
    });
}

/// Go's HammerRWMutex: two writers and `num_readers` readers; `activity`
/// is the number of active readers plus 10000 per active writer.
fn hammer_rwmutex(gomaxprocs: usize, num_readers: usize, iterations: usize) {
    let rt = goro::Runtime::builder().max_procs(gomaxprocs).build();
    rt.block_on(async move {
        let rwm: &'static RwMutex<()> = Box::leak(Box::new(RwMutex::new(())));
        let activity: &'static AtomicI32 = Box::leak(Box::new(AtomicI32::new(0)));
        let (cdone_tx, cdone) = goro::chan::<bool>(0);
        let writer = |cdone_tx: goro::chan::Sender<bool>| async move {
            for _ in 0..iterations {
                let w = rwm.write().await;
                let n = activity.fetch_add(10000, Ordering::SeqCst) + 10000;
                assert_eq!(n, 10000, "wlock({n})");
                activity.fetch_sub(10000, Ordering::SeqCst);
                drop(w);
            }
            cdone_tx.send(true).await.unwrap();
        };
        let reader = |cdone_tx: goro::chan::Sender<bool>| async move {
            for _ in 0..iterations {
                let r = rwm.read().await;
                let n = activity.fetch_add(1, Ordering::SeqCst) + 1;
                assert!((1..10000).contains(&n), "rlock({n})");
                activity.fetch_sub(1, Ordering::SeqCst);
                drop(r);
            }
            cdone_tx.send(true).await.unwrap();
        };
        drop(goro::go(writer(cdone_tx.clone())));
        let mut i = 0;
        while i < num_readers / 2 {
            drop(goro::go(reader(cdone_tx.clone())));
            i += 1;
        }
        drop(goro::go(writer(cdone_tx.clone())));
        while i < num_readers {
            drop(goro::go(reader(cdone_tx.clone())));
            i += 1;
        }
        // Wait for the 2 writers and all readers to finish.
        for _ in 0..2 + num_readers {
            cdone.recv().await;
        }
    });
}

// Go: TestRWMutex
#[test]
fn rwmutex() {
    guarded(|| {
        let n = 1000;
        for (procs, readers) in [
            (1, 1),
            (1, 3),
            (1, 10),
            (4, 1),
            (4, 3),
            (4, 10),
            (10, 1),
            (10, 3),
            (10, 10),
            (10, 5),
        ] {
            hammer_rwmutex(procs, readers, n);
        }
    });
}

// Go: TestRLocker (read guards passed to another G; the write lock waits
// for both, and no reader gets in while it is held)
#[test]
fn rlocker() {
    guarded(|| {
        goro::run(async {
            let wl: &'static RwMutex<()> = Box::leak(Box::new(RwMutex::new(())));
            let (wlocked_tx, wlocked) = goro::chan(1);
            let (rlocked_tx, rlocked) = goro::chan(1);
            let n = 10;
            drop(goro::go(async move {
                for _ in 0..n {
                    let r1 = wl.read().await;
                    let r2 = wl.read().await;
                    rlocked_tx.send((r1, r2)).await.unwrap();
                    let w = wl.write().await;
                    wlocked_tx.send(w).await.unwrap();
                }
            }));
            for _ in 0..n {
                let (r1, r2) = rlocked.recv().await.unwrap();
                drop(r1);
                goro::gosched().await;
                assert!(wlocked.try_recv().is_err(), "RLocker() didn't read-lock it");
                drop(r2);
                let w = wlocked.recv().await.unwrap();
                assert!(
                    rlocked.try_recv().is_err(),
                    "RLocker() didn't respect the write lock"
                );
                drop(w);
            }
        })
    });
}

// ---- cond_test.go ----------------------------------------------------------

type CondPair = &'static (Mutex<()>, Cond);

fn cond_pair() -> CondPair {
    Box::leak(Box::new((Mutex::new(()), Cond::new())))
}

// Go: TestCondSignal
#[test]
fn cond_signal() {
    guarded(|| {
        goro::run(async {
            let c = cond_pair();
            let mut n = 2;
            let (running_tx, running) = goro::chan::<bool>(n);
            let (awake_tx, awake) = goro::chan::<bool>(n);
            for _ in 0..n {
                let (running_tx, awake_tx) = (running_tx.clone(), awake_tx.clone());
                drop(goro::go(async move {
                    let g = c.0.lock().await;
                    running_tx.send(true).await.unwrap();
                    let g = c.1.wait(g).await;
                    awake_tx.send(true).await.unwrap();
                    drop(g);
                }));
            }
            for _ in 0..n {
                running.recv().await; // Wait for everyone to run.
            }
            while n > 0 {
                assert!(awake.try_recv().is_err(), "goroutine not asleep");
                let g = c.0.lock().await;
                c.1.signal();
                drop(g);
                awake.recv().await; // Will deadlock if no goroutine wakes up
                assert!(awake.try_recv().is_err(), "too many goroutines awake");
                n -= 1;
            }
            c.1.signal();
        })
    });
}

// Go: TestCondSignalGenerations
#[test]
fn cond_signal_generations() {
    guarded(|| {
        goro::run(async {
            let c = cond_pair();
            let n = 100;
            let (running_tx, running) = goro::chan::<bool>(n);
            let (awake_tx, awake) = goro::chan::<usize>(n);
            for i in 0..n {
                let (running_tx, awake_tx) = (running_tx.clone(), awake_tx.clone());
                drop(goro::go(async move {
                    let g = c.0.lock().await;
                    running_tx.send(true).await.unwrap();
                    let g = c.1.wait(g).await;
                    // The last one may send after the test returned.
                    let _ = awake_tx.send(i).await;
                    drop(g);
                }));
                if i > 0 {
                    let a = awake.recv().await.unwrap();
                    assert_eq!(a, i - 1, "wrong goroutine woke up");
                }
                running.recv().await;
                let g = c.0.lock().await;
                c.1.signal();
                drop(g);
            }
        })
    });
}

// Go: TestCondBroadcast
#[test]
fn cond_broadcast() {
    guarded(|| {
        goro::run(async {
            let c: &'static (Mutex<bool>, Cond) =
                Box::leak(Box::new((Mutex::new(false), Cond::new())));
            let n = 200;
            let (running_tx, running) = goro::chan::<usize>(n);
            let (awake_tx, awake) = goro::chan::<usize>(n);
            for g in 0..n {
                let (running_tx, awake_tx) = (running_tx.clone(), awake_tx.clone());
                drop(goro::go(async move {
                    let mut exit = c.0.lock().await;
                    while !*exit {
                        running_tx.send(g).await.unwrap();
                        exit = c.1.wait(exit).await;
                        awake_tx.send(g).await.unwrap();
                    }
                }));
            }
            for i in 0..n {
                for _ in 0..n {
                    running.recv().await; // Will deadlock unless n are running.
                }
                if i == n - 1 {
                    *c.0.lock().await = true;
                }
                assert!(awake.try_recv().is_err(), "goroutine not asleep");
                let g = c.0.lock().await;
                c.1.broadcast();
                drop(g);
                let mut seen = vec![false; n];
                for _ in 0..n {
                    let g = awake.recv().await.unwrap();
                    assert!(!seen[g], "goroutine woke up twice");
                    seen[g] = true;
                }
            }
            assert!(running.try_recv().is_err(), "goroutine did not exit");
            c.1.broadcast();
        })
    });
}

// Go: TestRace (cond_test.go)
#[test]
fn cond_race() {
    guarded(|| {
        goro::run(async {
            let c: &'static (Mutex<i32>, Cond) = Box::leak(Box::new((Mutex::new(0), Cond::new())));
            let (done_tx, done) = goro::chan::<bool>(0);
            let d = done_tx.clone();
            drop(goro::go(async move {
                let mut x = c.0.lock().await;
                *x = 1;
                x = c.1.wait(x).await;
                assert_eq!(*x, 2, "want 2");
                *x = 3;
                c.1.signal();
                drop(x);
                d.send(true).await.unwrap();
            }));
            let d = done_tx.clone();
            drop(goro::go(async move {
                let mut x = c.0.lock().await;
                loop {
                    if *x == 1 {
                        *x = 2;
                        c.1.signal();
                        break;
                    }
                    drop(x);
                    goro::gosched().await;
                    x = c.0.lock().await;
                }
                drop(x);
                d.send(true).await.unwrap();
            }));
            let d = done_tx.clone();
            drop(goro::go(async move {
                let mut x = c.0.lock().await;
                loop {
                    if *x == 2 {
                        x = c.1.wait(x).await;
                        assert_eq!(*x, 3, "want 3");
                        break;
                    }
                    if *x == 3 {
                        break;
                    }
                    drop(x);
                    goro::gosched().await;
                    x = c.0.lock().await;
                }
                drop(x);
                d.send(true).await.unwrap();
            }));
            for _ in 0..3 {
                done.recv().await;
            }
        })
    });
}

// Go: TestCondSignalStealing
#[test]
fn cond_signal_stealing() {
    guarded(|| {
        goro::run(async {
            for _ in 0..1000 {
                let c: &'static (Mutex<bool>, Cond) =
                    Box::leak(Box::new((Mutex::new(false), Cond::new())));
                // Start a waiter.
                let (ch_tx, ch) = goro::chan::<()>(0);
                drop(goro::go(async move {
                    let g = c.0.lock().await;
                    ch_tx.send(()).await.unwrap();
                    let g = c.1.wait(g).await;
                    drop(g);
                    ch_tx.send(()).await.unwrap();
                }));
                ch.recv().await;
                drop(c.0.lock().await);
                // The waiter is in wait(): it was registered before it
                // unlocked. Race a broadcast against a second waiter.
                drop(goro::go(async move { c.1.broadcast() }));
                drop(goro::go(async move {
                    let mut done = c.0.lock().await;
                    while !*done {
                        done = c.1.wait(done).await;
                    }
                }));
                // Check that the first waiter does get signaled.
                goro::select! {
                    recv(ch) -> _ => {},
                    recv(goro::time::after(Duration::from_secs(2))) => panic!("First waiter didn't get broadcast."),
                }
                // Release the second waiter in case it didn't get the broadcast.
                *c.0.lock().await = true;
                c.1.broadcast();
            }
        })
    });
}

// ---- once_test.go ----------------------------------------------------------

// Go: TestOnce
#[test]
fn once() {
    guarded(|| {
        goro::run(async {
            let o: &'static AtomicU32 = Box::leak(Box::new(AtomicU32::new(0)));
            let once: &'static Once = Box::leak(Box::new(Once::new()));
            let (c_tx, c) = goro::chan::<bool>(0);
            const N: usize = 10;
            for _ in 0..N {
                let c_tx = c_tx.clone();
                drop(goro::go(async move {
                    once.call_once(async {
                        o.fetch_add(1, Ordering::SeqCst);
                    })
                    .await;
                    let v = o.load(Ordering::SeqCst);
                    assert_eq!(v, 1, "once failed inside run: {v} is not 1");
                    c_tx.send(true).await.unwrap();
                }));
            }
            for _ in 0..N {
                c.recv().await;
            }
            assert_eq!(o.load(Ordering::SeqCst), 1, "once failed outside run");
        })
    });
}

// Go: TestOncePanic
#[test]
fn once_panic() {
    let once = Once::new();
    for i in 0..2 {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            goro::block_on(once.call_once(async { panic!("failed") }))
        }));
        if i == 0 {
            assert!(r.is_err(), "Once.Do() has not panic'ed on first iteration");
        } else {
            assert!(r.is_ok(), "Once.Do() has panic'ed on second iteration");
        }
    }
    goro::block_on(once.call_once(async {}));
    goro::block_on(once.call_once(async { panic!("Once called twice") }));
}

// ---- x/sync semaphore_test.go ----------------------------------------------

const MAX_SLEEP: Duration = Duration::from_millis(1);

/// x/sync's HammerWeighted.
async fn hammer_weighted(sem: Arc<Semaphore>, n: usize, loops: usize) {
    for i in 0..loops {
        let p = sem.acquire(n).await;
        let ns = (i as u64 * 7919 + n as u64 * 104_729) % MAX_SLEEP.as_nanos() as u64;
        goro::time::sleep(Duration::from_nanos(ns)).await;
        drop(p);
    }
}

// x/sync: TestWeighted
#[test]
fn weighted() {
    guarded(|| {
        goro::run(async {
            let n = goro::gomaxprocs(0).max(2);
            let loops = 1000 / n;
            let sem = Arc::new(Semaphore::new(n));
            let wg = WaitGroup::new();
            for i in 0..n {
                wg.go(hammer_weighted(sem.clone(), i, loops));
            }
            wg.wait().await;
        })
    });
}

// x/sync: TestWeightedPanic
#[test]
fn weighted_panic() {
    let w = Semaphore::new(1);
    let r = std::panic::catch_unwind(|| w.release(1));
    assert!(
        r.is_err(),
        "release of an unacquired weighted semaphore did not panic"
    );
}

// x/sync: TestWeightedTryAcquire
#[test]
fn weighted_try_acquire() {
    let sem = Semaphore::new(2);
    let mut tries = Vec::new();
    sem.acquire_blocking(1).forget();
    tries.push(sem.try_acquire(1).map(|p| p.forget()).is_some());
    tries.push(sem.try_acquire(1).map(|p| p.forget()).is_some());
    sem.release(2);
    tries.push(sem.try_acquire(1).map(|p| p.forget()).is_some());
    sem.acquire_blocking(1).forget();
    tries.push(sem.try_acquire(1).map(|p| p.forget()).is_some());
    assert_eq!(tries, [true, false, true, false]);
}

// x/sync: TestWeightedAcquire
#[test]
fn weighted_acquire() {
    guarded(|| {
        goro::run(async {
            let sem = Semaphore::new(2);
            let try_acquire = |n: usize| {
                let sem = &sem;
                async move {
                    let (ctx, _cancel) =
                        context::with_timeout(&context::background(), Duration::from_millis(10));
                    sem.acquire_ctx(&ctx, n).await.map(|p| p.forget()).is_ok()
                }
            };
            let mut tries = Vec::new();
            sem.acquire(1).await.forget();
            tries.push(try_acquire(1).await);
            tries.push(try_acquire(1).await);
            sem.release(2);
            tries.push(try_acquire(1).await);
            sem.acquire(1).await.forget();
            tries.push(try_acquire(1).await);
            assert_eq!(tries, [true, false, true, false]);
        })
    });
}

// x/sync: TestWeightedDoesntBlockIfTooBig
#[test]
fn weighted_doesnt_block_if_too_big() {
    guarded(|| {
        goro::run(async {
            const N: usize = 2;
            let sem: &'static Semaphore = Box::leak(Box::new(Semaphore::new(N)));
            let (ctx, cancel) = context::with_cancel(&context::background());
            drop(goro::go(async move {
                let _ = sem.acquire_ctx(&ctx, N + 1).await;
            }));
            let (g, ctx) =
                ErrGroup::<goro::context::ContextError>::with_context(&context::background());
            for _ in 0..N * 3 {
                let ctx = ctx.clone();
                g.go(async move {
                    let p = sem.acquire_ctx(&ctx, 1).await?;
                    goro::time::sleep(Duration::from_millis(1)).await;
                    drop(p);
                    Ok(())
                });
            }
            assert!(
                g.wait().await.is_ok(),
                "NewWeighted({N}) failed to AcquireCtx(_, 1) with AcquireCtx(_, {}) pending",
                N + 1
            );
            cancel.cancel();
        })
    });
}

// x/sync: TestLargeAcquireDoesntStarve
#[test]
fn large_acquire_doesnt_starve() {
    guarded(|| {
        goro::run(async {
            let n = goro::gomaxprocs(0).max(2);
            let sem: &'static Semaphore = Box::leak(Box::new(Semaphore::new(n)));
            let running: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(true)));
            let wg = WaitGroup::new();
            wg.add(n as isize);
            for _ in 0..n {
                sem.acquire(1).await.forget();
                let wg = wg.clone();
                drop(goro::go(async move {
                    while running.load(Ordering::SeqCst) {
                        goro::time::sleep(Duration::from_millis(1)).await;
                        sem.release(1);
                        sem.acquire(1).await.forget();
                    }
                    sem.release(1);
                    wg.done();
                }));
            }
            sem.acquire(n).await.forget();
            running.store(false, Ordering::SeqCst);
            sem.release(n);
            wg.wait().await;
        })
    });
}

// x/sync: TestAllocCancelDoesntStarve
#[test]
fn alloc_cancel_doesnt_starve() {
    guarded(|| {
        goro::run(async {
            let sem: &'static Semaphore = Box::leak(Box::new(Semaphore::new(10)));
            // hold 1 read lock
            sem.acquire(1).await.forget();
            drop(goro::go(async move {
                let (ctx, _cancel) =
                    context::with_timeout(&context::background(), Duration::from_millis(300));
                // a write lock request that gives up after 300ms
                assert!(sem.acquire_ctx(&ctx, 10).await.is_err());
            }));
            // long enough for the write request to be queued
            goro::time::sleep(Duration::from_millis(100)).await;
            let (done_tx, done) = goro::chan::<()>(0);
            drop(goro::go(async move {
                // queued after the write request, served once it gives up
                let p = sem.acquire(1).await;
                drop(p);
                drop(done_tx);
            }));
            goro::select! {
                recv(done) -> _ => {},
                recv(goro::time::after(Duration::from_secs(1))) => panic!("the read request starved"),
            }
        })
    });
}

// ---- x/sync singleflight_test.go -------------------------------------------

// x/sync: TestDo
#[test]
fn singleflight_do() {
    let g = Group::<&str, String>::new();
    let (v, _) = goro::block_on(g.run("key", async { "bar".to_string() }));
    assert_eq!(v, "bar");
}

// x/sync: TestDoErr (errors are values: V = Result)
#[test]
fn singleflight_do_err() {
    #[derive(Debug, Clone, PartialEq)]
    struct SomeErr(&'static str);
    let g = Group::<&str, Result<String, SomeErr>>::new();
    let (v, _) = goro::block_on(g.run("key", async { Err(SomeErr("Some error")) }));
    assert_eq!(v, Err(SomeErr("Some error")));
}

// x/sync: TestDoDupSuppress
#[test]
fn singleflight_do_dup_suppress() {
    guarded(|| {
        let calls = goro::run(async {
            let g: &'static Group<&str, String> = Box::leak(Box::new(Group::new()));
            let wg1 = WaitGroup::new();
            let wg2 = WaitGroup::new();
            let (c_tx, c) = goro::chan::<String>(1);
            let calls: &'static AtomicI32 = Box::leak(Box::new(AtomicI32::new(0)));
            const N: usize = 10;
            wg1.add(1);
            for _ in 0..N {
                wg1.add(1);
                wg2.add(1);
                let (wg1c, wg2c, c, c_tx) = (wg1.clone(), wg2.clone(), c.clone(), c_tx.clone());
                let wg1f = wg1.clone();
                drop(goro::go(async move {
                    wg1c.done();
                    let (v, _) = g
                        .run("key", async move {
                            if calls.fetch_add(1, Ordering::SeqCst) + 1 == 1 {
                                wg1f.done(); // First invocation.
                            }
                            let v = c.recv().await.unwrap();
                            c_tx.send(v.clone()).await.unwrap(); // pump
                            goro::time::sleep(Duration::from_millis(10)).await; // let more Gs in
                            v
                        })
                        .await;
                    assert_eq!(v, "bar");
                    wg2c.done();
                }));
            }
            wg1.wait().await;
            // At least one G is in the future now, and all of them have at
            // least reached the line before the run.
            c_tx.send("bar".to_string()).await.unwrap();
            wg2.wait().await;
            calls.load(Ordering::SeqCst)
        });
        assert!(
            calls > 0 && calls < 10,
            "number of calls = {calls}; want over 0 and less than 10"
        );
    });
}

// x/sync: TestPanicDo
#[test]
fn singleflight_panic_do() {
    guarded(|| {
        let panics = goro::run(async {
            let g: &'static Group<&str, ()> = Box::leak(Box::new(Group::new()));
            const N: usize = 5;
            let panic_count: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
            let mut hs = Vec::new();
            for _ in 0..N {
                hs.push(goro::go(async move {
                    g.run("key", async {
                        goro::time::sleep(Duration::from_millis(5)).await;
                        panic!("invalid memory address or nil pointer dereference")
                    })
                    .await
                }));
            }
            for h in hs {
                let e = h.await.expect_err("run returned instead of panicking");
                assert!(e.is_panic());
                let p = e.into_panic();
                let msg = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                assert_eq!(msg, "invalid memory address or nil pointer dereference");
                panic_count.fetch_add(1, Ordering::SeqCst);
            }
            panic_count.load(Ordering::SeqCst)
        });
        assert_eq!(panics, 5, "Expect 5 panic");
    });
}

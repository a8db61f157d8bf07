//! Go's rt tests, in goro (see the test names).
//!
//! Mirrors of `src/runtime/proc_test.go` (and the run-queue tests behind
//! `export_test.go`'s `RunSchedLocalQueue*Test`) that apply to a futures
//! runtime. Channels are replaced by atomics and `JoinHandle`s so these
//! tests exercise only the scheduler. Not mirrored: tests of
//! `LockOSThread`, GC, stack growth, and asynchronous preemption
//! (`TestPreemption`, `TestPreemptionGC`, `TestPingPongHog`): a G that never
//! awaits cannot be preempted, and a ratio of work counts is a speed
//! assertion.

use goro::runtime::testing::{TEST_RUNQ_SIZE, TestRunQueue};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::guard;

// Go: TestYieldProgress — a G spinning on Gosched sees a flag set by main
// after main waited a while (here: yielded many times itself).
#[test]
fn test_yield_progress() {
    guard(30, || {
        for procs in [1, 2] {
            let rt = goro::Runtime::builder().max_procs(procs).build();
            rt.block_on(async {
                let c = Arc::new(AtomicBool::new(false));
                let c2 = c.clone();
                let h = goro::go(async move {
                    while !c2.load(Ordering::SeqCst) {
                        goro::gosched().await;
                    }
                    true
                });
                for _ in 0..1000 {
                    goro::gosched().await;
                }
                c.store(true, Ordering::SeqCst);
                assert!(h.await.unwrap());
            });
        }
    });
}

// Go: TestYieldProgress, with main's wait done as Go does it (main sleeps,
// here in a blocking call) while the other G spins on Gosched on the only P.
#[test]
fn test_yield_progress_after_blocking() {
    guard(30, || {
        let rt = goro::Runtime::builder().max_procs(1).build();
        rt.block_on(async {
            let c = Arc::new(AtomicBool::new(false));
            let c2 = c.clone();
            let h = goro::go(async move {
                while !c2.load(Ordering::SeqCst) {
                    goro::gosched().await;
                }
                true
            });
            goro::blocking(|| std::thread::sleep(Duration::from_millis(10)));
            c.store(true, Ordering::SeqCst);
            assert!(h.await.unwrap());
        });
    });
}

// Go: TestYieldLocked (without LockOSThread) — Gosched and a sleeping call
// in a loop on one P.
#[test]
fn test_yield_locked() {
    guard(30, || {
        let rt = goro::Runtime::builder().max_procs(1).build();
        rt.block_on(async {
            let h = goro::go(async {
                for _ in 0..10 {
                    goro::gosched().await;
                    goro::blocking(|| std::thread::sleep(Duration::from_millis(1)));
                }
                true
            });
            assert!(h.await.unwrap());
        });
    });
}

// Go: TestGoroutineParallelism — P Gs that busy-wait (never await) for
// their turn can only finish if all P of them run at once, on P Ms: the
// spawned Gs must be spread over the Ps by wakep and stealing.
#[test]
fn test_goroutine_parallelism() {
    const P: u32 = 3;
    const N: usize = 3;
    guard(60, || {
        let rt = goro::Runtime::builder().max_procs(P as usize).build();
        rt.block_on(async {
            for _ in 0..N {
                let x = Arc::new(AtomicU32::new(0));
                let hs: Vec<_> = (0..P)
                    .map(|p| {
                        let x = x.clone();
                        goro::go(async move {
                            for i in 0..3 {
                                let expected = P * i + p;
                                while x.load(Ordering::SeqCst) != expected {
                                    std::thread::yield_now();
                                }
                                x.store(expected + 1, Ordering::SeqCst);
                            }
                        })
                    })
                    .collect();
                for h in hs {
                    h.await.unwrap();
                }
                assert_eq!(x.load(Ordering::SeqCst), 3 * P);
            }
        });
    });
}

// Go: TestStopTheWorldDeadlock (without GC) — GOMAXPROCS called in a loop
// while a perpetual spawner keeps making Gs.
#[test]
fn test_stop_the_world_deadlock() {
    fn perpetuum_mobile(stop: Arc<AtomicBool>, made: Arc<AtomicUsize>) {
        if !stop.load(Ordering::SeqCst) {
            made.fetch_add(1, Ordering::Relaxed);
            drop(goro::go(async move {
                goro::gosched().await;
                perpetuum_mobile(stop, made);
            }));
        }
    }
    guard(60, || {
        let rt = goro::Runtime::builder().max_procs(2).build();
        rt.block_on(async {
            let stop = Arc::new(AtomicBool::new(false));
            let made = Arc::new(AtomicUsize::new(0));
            let resizer = goro::go(async {
                for i in 0..1000 {
                    goro::gomaxprocs(if i % 2 == 0 { 3 } else { 1 });
                    if i % 10 == 0 {
                        goro::gosched().await;
                    }
                }
                goro::gomaxprocs(3);
            });
            let gcish = goro::go(async {
                for _ in 0..1000 {
                    goro::gosched().await;
                }
            });
            perpetuum_mobile(stop.clone(), made.clone());
            resizer.await.unwrap();
            gcish.await.unwrap();
            stop.store(true, Ordering::SeqCst);
            assert_eq!(goro::gomaxprocs(0), 3);
            assert!(made.load(Ordering::Relaxed) > 0);
        });
    });
}

// Go: TestNumGoroutine — NumGoroutine counts the live Gs: main, then main
// plus the parked ones, then main alone once they exited.
#[test]
fn test_num_goroutine() {
    guard(30, || {
        goro::run(async {
            assert_eq!(goro::num_goroutine(), 1);
            let release = Arc::new(AtomicBool::new(false));
            let hs: Vec<_> = (0..10)
                .map(|_| {
                    let r = release.clone();
                    goro::go(async move {
                        while !r.load(Ordering::SeqCst) {
                            goro::gosched().await;
                        }
                    })
                })
                .collect();
            assert_eq!(goro::num_goroutine(), 11);
            release.store(true, Ordering::SeqCst);
            for h in hs {
                h.await.unwrap();
            }
            assert_eq!(goro::num_goroutine(), 1);
        });
        assert_eq!(goro::num_goroutine(), 0, "outside a runtime");
    });
}

// Go: TestGoschedInLoop-style — on GOMAXPROCS(1), a G that calls Gosched in
// a loop finishes, and the main G (which also yields) keeps running.
#[test]
fn test_gosched_in_loop() {
    guard(30, || {
        let rt = goro::Runtime::builder().max_procs(1).build();
        rt.block_on(async {
            let done = Arc::new(AtomicBool::new(false));
            let d = done.clone();
            let h = goro::go(async move {
                for _ in 0..10 {
                    goro::gosched().await;
                }
                d.store(true, Ordering::SeqCst);
            });
            let mut spins = 0;
            while !done.load(Ordering::SeqCst) {
                goro::gosched().await;
                spins += 1;
            }
            assert!(spins >= 1);
            h.await.unwrap();
        });
    });
}

// Go: TestSchedLocalQueue (RunSchedLocalQueueTest) — put i Gs, get them
// back in order, for every i up to the queue's size.
#[test]
fn test_sched_local_queue() {
    let q = TestRunQueue::new();
    // SAFETY: (every call below) this thread is the queue's only user.
    unsafe {
        assert!(q.get().is_none());
        for i in 0..TEST_RUNQ_SIZE as u64 {
            for j in 0..i {
                assert!(q.put(j, false).is_empty());
            }
            for j in 0..i {
                assert_eq!(q.get(), Some((j, false)), "bad element at iter {i}/{j}");
            }
            assert!(q.get().is_none(), "queue not empty after iter {i}");
        }
    }
}

// Go: TestSchedLocalQueueSteal (RunSchedLocalQueueStealTest) — put i Gs on
// p1, steal into p2, take what is left of both: every G exactly once, and
// the thief got half, rounded up.
#[test]
fn test_sched_local_queue_steal() {
    let p1 = TestRunQueue::new();
    let p2 = TestRunQueue::new();
    // SAFETY: (every call below) this thread owns both queues.
    unsafe {
        for i in 0..TEST_RUNQ_SIZE as u64 {
            for j in 0..i {
                assert!(p1.put(j, false).is_empty());
            }
            let mut seen = HashSet::new();
            let mut stolen = 0;
            if let Some(g) = p2.steal_from(&p1, true) {
                stolen += 1;
                assert!(seen.insert(g));
            }
            while let Some((g, _)) = p2.get() {
                stolen += 1;
                assert!(seen.insert(g), "G {g} twice");
            }
            while let Some((g, _)) = p1.get() {
                assert!(seen.insert(g), "G {g} twice");
            }
            assert_eq!(seen.len() as u64, i, "lost Gs at iter {i}");
            assert!(
                stolen == i / 2 || stolen == i / 2 + 1,
                "bad steal {stolen}, want {} or {}, iter {i}",
                i / 2,
                i / 2 + 1
            );
        }
    }
}

// Go: TestSchedLocalQueueEmpty (RunSchedLocalQueueEmptyTest) — while the
// owner puts a second G and takes one, the queue always holds a G, so an
// observer must never see it empty. (Stress version with real threads; the
// loom model `loom-tests/tests/runq.rs never_spuriously_empty_*` finds the
// interleaving deterministically.)
#[test]
fn test_sched_local_queue_empty() {
    guard(120, || {
        const ITERS: usize = 20_000;
        let q = Arc::new(TestRunQueue::new());
        let spurious = Arc::new(AtomicUsize::new(0));
        let go = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        let observer = {
            let (q, spurious, go, done) = (q.clone(), spurious.clone(), go.clone(), done.clone());
            std::thread::spawn(move || {
                for i in 1..=ITERS {
                    while go.load(Ordering::SeqCst) != i {
                        std::thread::yield_now();
                    }
                    if q.is_empty() {
                        spurious.fetch_add(1, Ordering::SeqCst);
                    }
                    done.store(i, Ordering::SeqCst);
                }
            })
        };
        for i in 1..=ITERS {
            let next0 = i & 1 == 0;
            let next1 = i & 2 == 0;
            // SAFETY: (every unsafe call below) this thread owns `q`; the
            // observer only calls is_empty.
            unsafe {
                assert!(q.put(1, next0).is_empty());
            }
            go.store(i, Ordering::SeqCst);
            // SAFETY: as above.
            unsafe {
                assert!(q.put(2, next1).is_empty());
                assert!(q.get().is_some());
            }
            while done.load(Ordering::SeqCst) != i {
                std::thread::yield_now();
            }
            // SAFETY: as above.
            unsafe {
                assert!(q.get().is_some());
            }
            assert!(q.is_empty());
        }
        observer.join().unwrap();
        assert_eq!(
            spurious.load(Ordering::SeqCst),
            0,
            "queue reported empty while holding a G"
        );
    });
}

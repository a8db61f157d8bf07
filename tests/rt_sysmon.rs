//! sysmon: a G inside `blocking`, or stuck in one long poll, loses its P
//! so the other Gs keep running (Go's retake/handoffp); the thread count
//! stays bounded. Times here are generous: the tests check order, never
//! speed.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::guard;

/// Ten 10 ms sleeps; true if they all finished while `other_done` was unset.
async fn ten_sleeps(other_done: Arc<AtomicBool>) -> bool {
    for _ in 0..10 {
        goro::time::sleep(Duration::from_millis(10)).await;
    }
    !other_done.load(Ordering::SeqCst)
}

#[test]
fn blocking_call_does_not_stall_its_p() {
    let ok = guard(60, || {
        let rt = goro::Runtime::builder().max_procs(1).build();
        rt.block_on(async {
            let done = Arc::new(AtomicBool::new(false));
            let d = done.clone();
            let blocker = goro::go(async move {
                goro::blocking(|| std::thread::sleep(Duration::from_millis(300)));
                d.store(true, Ordering::SeqCst);
            });
            let sleeper = goro::go(ten_sleeps(done.clone()));
            let ok = sleeper.await.unwrap();
            blocker.await.unwrap();
            ok
        })
    });
    assert!(ok, "the sleeper finished only after the blocking call");
}

#[test]
fn hog_poll_does_not_stall_its_p() {
    let ok = guard(60, || {
        let rt = goro::Runtime::builder().max_procs(1).build();
        rt.block_on(async {
            let done = Arc::new(AtomicBool::new(false));
            let sleeper = goro::go(ten_sleeps(done.clone()));
            let d = done.clone();
            let hog = goro::go(async move {
                // busy for 500 ms inside one poll, never yielding
                let start = Instant::now();
                let mut x = 0u64;
                while start.elapsed() < Duration::from_millis(500) {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
                d.store(true, Ordering::SeqCst);
                x
            });
            let ok = sleeper.await.unwrap();
            hog.await.unwrap();
            ok
        })
    });
    assert!(ok, "the sleeper finished only after the hog");
}

#[test]
fn blocking_send_inside_a_g_hands_off() {
    // send_blocking from a G on max_procs(1): the receiver G must still run.
    let v = guard(60, || {
        let rt = goro::Runtime::builder().max_procs(1).build();
        rt.block_on(async {
            let (tx, rx) = goro::chan::<u32>(0);
            let r = goro::go(async move { rx.recv().await });
            tx.send_blocking(9).unwrap();
            r.await.unwrap()
        })
    });
    assert_eq!(v, Some(9));
}

fn threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn thread_count_bounded_under_many_blocking_calls() {
    let (max_threads, n) = guard(120, || {
        let rt = goro::Runtime::builder().max_procs(2).build();
        rt.block_on(async {
            let wg = goro::sync::WaitGroup::new();
            let max = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            for _ in 0..1000 {
                let max = max.clone();
                wg.go(async move {
                    goro::blocking(|| {
                        std::thread::sleep(Duration::from_millis(50));
                        max.fetch_max(threads(), Ordering::Relaxed);
                    });
                });
            }
            wg.wait().await;
            // the Gs called done; give them a moment to exit
            for _ in 0..1000 {
                if goro::num_goroutine() == 1 {
                    break;
                }
                goro::time::sleep(Duration::from_millis(1)).await;
            }
            (max.load(Ordering::Relaxed), goro::num_goroutine())
        })
    });
    assert_eq!(n, 1);
    // One M per concurrent blocking call at most, plus a few (Go does the
    // same), far below Go's 10,000-thread limit; other tests' threads add a
    // few hundred at most.
    assert!(max_threads < 1600, "{max_threads} threads");
}

/// A G back from a blocking call whose P was retaken waits for a P before
/// its poll goes on (Go's exitsyscall: the G runs again only on a P), so on
/// one P the other Gs never run while that G's own code does; and it does
/// get a P back each time.
#[test]
fn blocking_caller_waits_for_a_p_on_return() {
    use std::sync::atomic::AtomicUsize;
    let (overlaps, rounds, spins) = guard(60, || {
        let rt = goro::Runtime::builder().max_procs(1).build();
        rt.block_on(async {
            // true while the blocking G runs its own code (outside `blocking`)
            let busy: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
            let stop: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
            let overlaps: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
            let spinner = goro::go(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    if busy.load(Ordering::SeqCst) {
                        overlaps.fetch_add(1, Ordering::SeqCst);
                    }
                    n += 1;
                    goro::gosched().await;
                }
                n
            });
            let blocker = goro::go(async move {
                let mut rounds = 0usize;
                for _ in 0..20 {
                    // long enough for sysmon to hand the P to the spinner
                    goro::blocking(|| std::thread::sleep(Duration::from_millis(3)));
                    busy.store(true, Ordering::SeqCst);
                    let t = Instant::now();
                    while t.elapsed() < Duration::from_millis(1) {
                        std::hint::spin_loop();
                    }
                    busy.store(false, Ordering::SeqCst);
                    rounds += 1;
                }
                rounds
            });
            let rounds = blocker.await.unwrap();
            stop.store(true, Ordering::SeqCst);
            let spins = spinner.await.unwrap();
            (overlaps.load(Ordering::SeqCst), rounds, spins)
        })
    });
    assert_eq!(rounds, 20);
    assert!(spins > 0);
    assert_eq!(
        overlaps, 0,
        "another G ran beside the blocking G's code on one P"
    );
}

#[test]
fn woken_g_runs_while_its_waker_hogs() {
    // On one P, a G wakes another (which goes to the P's runnext without
    // the ownership handshake) and then spins in the same poll until the
    // woken G has run: sysmon must retake the P and hand it, runnext
    // included, to another M.
    let ran = guard(60, || {
        let rt = goro::Runtime::builder().max_procs(1).build();
        rt.block_on(async {
            let (tx, rx) = goro::chan::<u32>(0);
            let flag = Arc::new(AtomicBool::new(false));
            let f = flag.clone();
            let (parked_tx, parked_rx) = goro::chan::<()>(1);
            let woken = goro::go(async move {
                parked_tx.send(()).await.unwrap();
                let v = rx.recv().await;
                f.store(true, Ordering::SeqCst);
                v
            });
            parked_rx.recv().await.unwrap();
            // let the receiver park on `rx`
            goro::time::sleep(Duration::from_millis(20)).await;
            let waker = goro::go(async move {
                tx.try_send(7).unwrap(); // hands 7 over and wakes the receiver
                let start = Instant::now();
                while !flag.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(5) {
                    std::hint::spin_loop();
                }
                flag.load(Ordering::SeqCst)
            });
            let ran = waker.await.unwrap();
            assert_eq!(woken.await.unwrap(), Some(7));
            ran
        })
    });
    assert!(ran, "the woken G did not run while its waker hogged the P");
}

//! Go's sync tests (src/sync/waitgroup_test.go), in goro. Each test names
//! the Go test it mirrors.

use goro::sync::WaitGroup;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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

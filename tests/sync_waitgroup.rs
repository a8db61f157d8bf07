//! WaitGroup on plain threads (no runtime needed): counting, waking,
//! Go's panics, reuse, and cancel safety of `wait`.

mod common;

use goro::sync::WaitGroup;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

/// Runs `f` on a thread and fails if it does not finish within 30 s.
fn guarded(f: impl FnOnce() + Send + 'static) {
    common::guard(30, f)
}

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(futures::task::noop_waker_ref()))
}

fn panic_message(e: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = e.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = e.downcast_ref::<&str>() {
        s.to_string()
    } else {
        String::new()
    }
}

#[test]
fn wait_on_zero_returns_at_once() {
    guarded(|| {
        let wg = WaitGroup::new();
        wg.wait_blocking();
        goro::block_on(wg.wait());
    });
}

#[test]
fn threads_done_release_waiters() {
    guarded(|| {
        for _ in 0..50 {
            let wg = WaitGroup::new();
            let n = Arc::new(AtomicUsize::new(0));
            wg.add(8);
            let workers: Vec<_> = (0..8)
                .map(|_| {
                    let (wg, n) = (wg.clone(), n.clone());
                    std::thread::spawn(move || {
                        n.fetch_add(1, Ordering::SeqCst);
                        wg.done();
                    })
                })
                .collect();
            wg.wait_blocking();
            assert_eq!(n.load(Ordering::SeqCst), 8);
            for w in workers {
                w.join().unwrap();
            }
        }
    });
}

#[test]
fn all_waiters_see_all_work() {
    guarded(|| {
        for _ in 0..50 {
            let wg = WaitGroup::new();
            let n = Arc::new(AtomicUsize::new(0));
            wg.add(4);
            let waiters: Vec<_> = (0..4)
                .map(|_| {
                    let (wg, n) = (wg.clone(), n.clone());
                    std::thread::spawn(move || {
                        wg.wait_blocking();
                        n.load(Ordering::SeqCst)
                    })
                })
                .collect();
            for _ in 0..4 {
                let (wg, n) = (wg.clone(), n.clone());
                std::thread::spawn(move || {
                    n.fetch_add(1, Ordering::SeqCst);
                    wg.done();
                });
            }
            for w in waiters {
                assert_eq!(w.join().unwrap(), 4, "a waiter returned before every done");
            }
        }
    });
}

#[test]
fn negative_counter_panics_with_go_message() {
    let wg = WaitGroup::new();
    let e = std::panic::catch_unwind(|| wg.done()).unwrap_err();
    assert_eq!(panic_message(e), "sync: negative WaitGroup counter");
    let wg = WaitGroup::new();
    wg.add(1);
    let e = std::panic::catch_unwind(|| wg.add(-2)).unwrap_err();
    assert_eq!(panic_message(e), "sync: negative WaitGroup counter");
}

#[test]
fn reuse_before_wait_returned_panics() {
    // Go: TestWaitGroupMisuse3's reuse check, made deterministic by polling
    // the waiter by hand.
    let wg = WaitGroup::new();
    wg.add(1);
    let mut w = pin!(wg.wait());
    assert!(poll_once(w.as_mut()).is_pending());
    wg.done(); // releases the waiter
    wg.add(1); // ...but the group is reused before the waiter returned
    let e = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| poll_once(w.as_mut())))
        .unwrap_err();
    assert_eq!(
        panic_message(e),
        "sync: WaitGroup is reused before previous Wait has returned"
    );
}

#[test]
fn reuse_after_wait_returned_is_fine() {
    guarded(|| {
        let wg = WaitGroup::new();
        for round in 0..100 {
            wg.add(2);
            for _ in 0..2 {
                let wg = wg.clone();
                std::thread::spawn(move || wg.done());
            }
            wg.wait_blocking();
            assert_eq!(wg.__counter(), 0, "round {round}");
        }
    });
}

#[test]
fn dropped_wait_leaves_no_waiter() {
    let wg = WaitGroup::new();
    wg.add(1);
    {
        let mut w = pin!(wg.wait());
        assert!(poll_once(w.as_mut()).is_pending());
    }
    // Had the dropped waiter stayed counted, this positive add from zero
    // would look like "Add called concurrently with Wait".
    wg.done();
    wg.add(1);
    let mut w = pin!(wg.wait());
    assert!(poll_once(w.as_mut()).is_pending());
    wg.done();
    assert!(poll_once(w.as_mut()).is_ready());
}

#[test]
fn spurious_polls_do_not_return_early() {
    let wg = WaitGroup::new();
    wg.add(2);
    let mut w = pin!(wg.wait());
    assert!(poll_once(w.as_mut()).is_pending());
    assert!(poll_once(w.as_mut()).is_pending());
    wg.done();
    assert!(poll_once(w.as_mut()).is_pending());
    wg.done();
    assert!(poll_once(w.as_mut()).is_ready());
    assert!(poll_once(w.as_mut()).is_ready());
}

#[test]
fn add_done_hammer_with_waiters() {
    guarded(|| {
        let wg = WaitGroup::new();
        wg.add(1);
        let hammers: Vec<_> = (0..2)
            .map(|_| {
                let wg = wg.clone();
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        wg.add(1);
                        wg.done();
                    }
                })
            })
            .collect();
        let waiter = {
            let wg = wg.clone();
            std::thread::spawn(move || wg.wait_blocking())
        };
        for h in hammers {
            h.join().unwrap();
        }
        wg.done();
        waiter.join().unwrap();
        assert_eq!(wg.__counter(), 0);
    });
}

/// `add` beyond the 32-bit counter panics (Go wraps silently) and leaves
/// the counter as it was.
#[test]
fn counter_overflow_panics_instead_of_wrapping() {
    let wg = WaitGroup::new();
    let e = std::panic::catch_unwind(|| wg.add(1 << 32)).unwrap_err();
    assert!(panic_message(e).starts_with("sync: WaitGroup counter overflow"));
    assert_eq!(wg.__counter(), 0);
    wg.add(i32::MAX as isize);
    let e = std::panic::catch_unwind(|| wg.add(1)).unwrap_err();
    assert_eq!(panic_message(e), "sync: WaitGroup counter overflow");
    assert_eq!(wg.__counter(), i32::MAX);
    wg.add(-(i32::MAX as isize));
    wg.wait_blocking();
}

/// A second `done` panics once, with Go's message; the waiter released by
/// the first one returns normally (no "reused" panic after it).
#[test]
fn double_done_panics_once() {
    let wg = WaitGroup::new();
    wg.add(1);
    let mut w = pin!(wg.wait());
    assert!(poll_once(w.as_mut()).is_pending());
    wg.done();
    let e = std::panic::catch_unwind(|| wg.done()).unwrap_err();
    assert_eq!(panic_message(e), "sync: negative WaitGroup counter");
    assert!(poll_once(w.as_mut()).is_ready());
    assert_eq!(wg.__counter(), 0);
}

/// The panic points at the caller's line (`#[track_caller]`), as printed
/// by the panic hook of a real program (run as a child process).
#[test]
fn done_panic_points_at_the_caller() {
    if std::env::var("GORO_WG_CHILD").is_ok() {
        let wg = WaitGroup::new();
        wg.done(); // the line the message must name
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "done_panic_points_at_the_caller", "--nocapture"])
        .env("GORO_WG_CHILD", "1")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("sync: negative WaitGroup counter"), "{err}");
    assert!(
        err.contains("panicked at tests/sync_waitgroup.rs:"),
        "{err}"
    );
}

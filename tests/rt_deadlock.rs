//! Deadlock detection in `goro::run` (Go's `checkdead`): a report when
//! every G is parked on goro primitives, none while a timer or a blocking
//! call is pending. Every test is guarded so a hang fails instead.

mod common;

use std::time::Duration;

use common::guard;

/// Runs `fut` under `goro::run` and returns the deadlock report it panics with.
fn deadlock_report<F>(fut: F) -> String
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    guard(30, move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| goro::run(fut)));
        let p = r.expect_err("goro::run returned instead of reporting a deadlock");
        match p.downcast::<String>() {
            Ok(s) => *s,
            Err(p) => std::panic::resume_unwind(p),
        }
    })
}

#[test]
fn receive_with_no_sender() {
    let msg = deadlock_report(async {
        let (_tx, rx) = goro::chan::<i32>(0);
        rx.recv().await;
    });
    assert!(
        msg.starts_with("all goroutines are asleep - deadlock!\n\n"),
        "{msg}"
    );
    assert!(msg.contains("goroutine 1 [chan receive]:"), "{msg}");
    assert!(
        msg.contains("created by a thread at tests/rt_deadlock.rs:"),
        "{msg}"
    );
}

#[test]
fn several_blocked_goroutines() {
    let msg = deadlock_report(async {
        let (tx, rx) = goro::chan::<i32>(0);
        let wg = goro::sync::WaitGroup::new();
        for _ in 0..3 {
            let rx = rx.clone();
            wg.add(1);
            let wg = wg.clone();
            goro::go(async move {
                rx.recv().await;
                wg.done();
            });
        }
        let (tx2, _rx2) = goro::chan::<i32>(0);
        goro::go(async move {
            let _ = tx2.send(1).await;
        });
        wg.wait().await;
        drop(tx);
    });
    assert!(msg.contains("[sync.WaitGroup.Wait]"), "{msg}");
    assert_eq!(msg.matches("[chan receive]").count(), 3, "{msg}");
    assert_eq!(msg.matches("[chan send]").count(), 1, "{msg}");
    assert_eq!(
        msg.matches("created by goroutine 1 at tests/rt_deadlock.rs:")
            .count(),
        4,
        "{msg}"
    );
}

#[test]
fn empty_select_in_main() {
    let msg = deadlock_report(async {
        goro::select! {}
    });
    assert!(msg.contains("goroutine 1 [select (no cases)]:"), "{msg}");
}

#[test]
fn select_with_no_ready_case() {
    let msg = deadlock_report(async {
        let (_tx, rx) = goro::chan::<i32>(1);
        let (_tx2, rx2) = goro::chan::<i32>(1);
        goro::select! {
            recv(rx) -> _ => {},
            recv(rx2) -> _ => {},
        }
    });
    assert!(msg.contains("goroutine 1 [select]:"), "{msg}");
}

#[test]
fn no_report_while_timer_pending() {
    guard(30, || {
        goro::run(async {
            let (_tx, rx) = goro::chan::<i32>(0);
            let mut timed_out = false;
            goro::select! {
                recv(rx) -> _ => {},
                recv(goro::time::after(Duration::from_millis(200))) -> _ => { timed_out = true; },
            }
            assert!(timed_out);
            goro::time::sleep(Duration::from_millis(50)).await;
        })
    });
}

#[test]
fn no_report_while_blocking_call_pending() {
    guard(30, || {
        goro::run(async {
            let (tx, rx) = goro::chan::<i32>(0);
            goro::go(async move {
                let v = goro::blocking(|| {
                    std::thread::sleep(Duration::from_millis(200));
                    7
                });
                tx.send(v).await.unwrap();
            });
            assert_eq!(rx.recv().await, Some(7));
        })
    });
}

#[test]
fn no_report_for_a_runtime_by_default() {
    // A Runtime's Gs may be fed by plain threads: detection is off.
    guard(30, || {
        let rt = goro::Runtime::builder().max_procs(2).build();
        let (tx, rx) = goro::chan::<i32>(0);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            tx.send_blocking(5).unwrap();
        });
        assert_eq!(rt.block_on(async move { rx.recv().await }), Some(5));
        t.join().unwrap();
    });
}

#[test]
fn runtime_with_detection_enabled_reports() {
    let msg = guard(30, || {
        let rt = goro::Runtime::builder()
            .max_procs(2)
            .detect_deadlock(true)
            .build();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(async {
                let (_tx, rx) = goro::chan::<()>(0);
                rx.recv().await;
            })
        }));
        *r.unwrap_err().downcast::<String>().unwrap()
    });
    assert!(
        msg.starts_with("all goroutines are asleep - deadlock!"),
        "{msg}"
    );
}

/// A G whose P sysmon retook in the middle of a long poll, and which then
/// sleeps in that same poll, still has a pending timer in the runtime's
/// eyes: no deadlock is reported while it sleeps, and it wakes.
#[test]
fn sleep_after_losing_the_p_is_not_a_deadlock() {
    let v = guard(30, || {
        let rt = goro::Runtime::builder()
            .max_procs(1)
            .detect_deadlock(true)
            .build();
        rt.block_on(async {
            let (tx, rx) = goro::chan::<u32>(0);
            // queued behind us: gives sysmon a reason to retake our P
            let waiter = goro::go(async move { rx.recv().await });
            let start = std::time::Instant::now();
            while start.elapsed() < Duration::from_millis(40) {
                std::hint::spin_loop();
            }
            // the retake shows when we next touch a run queue
            drop(goro::go(async {}));
            // by now the waiter has parked on another M: only our timer is
            // left, armed from an M without a P
            goro::time::sleep(Duration::from_millis(30)).await;
            tx.send(7).await.unwrap();
            waiter.await.unwrap()
        })
    });
    assert_eq!(v, Some(7));
}

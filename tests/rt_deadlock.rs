//! Deadlock detection in `goro::run` (Go's `checkdead`): a report when
//! every G is parked on goro primitives, none while a timer, a blocking
//! call, a foreign waker or a thread inside a goro blocking operation is
//! pending; an uncaught report is printed by the panic hook. Every test is
//! guarded so a hang fails instead.

mod common;

use std::time::Duration;

use common::guard;

/// How a deadlock report starts (Go's words, then the dump).
const REPORT: &str = "fatal error: all goroutines are asleep - deadlock!\n\n";

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
    assert!(msg.starts_with(REPORT), "{msg}");
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
    assert!(msg.starts_with(REPORT), "{msg}");
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

/// This test binary again, running only test `name` with `GORO_CHILD`
/// set: its exit status and stderr.
fn run_child(name: &str) -> (std::process::ExitStatus, String) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("GORO_CHILD", name)
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A program that deadlocks and catches nothing shows Go's report and the
/// goroutine dump on stderr and fails. Before, the report was resumed
/// without the panic hook: the program printed nothing and exited 101.
#[test]
fn uncaught_deadlock_prints_the_report_and_fails() {
    const NAME: &str = "uncaught_deadlock_prints_the_report_and_fails";
    if std::env::var("GORO_CHILD").as_deref() == Ok(NAME) {
        goro::run(async {
            let (_tx, rx) = goro::chan::<i32>(0);
            rx.recv().await;
        });
        return;
    }
    let (status, err) = guard(60, || run_child(NAME));
    assert!(!status.success(), "the child succeeded: {err}");
    assert!(
        err.contains(
            "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [chan receive]:\n"
        ),
        "{err}"
    );
    assert!(
        err.contains("created by a thread at tests/rt_deadlock.rs:"),
        "{err}"
    );
    assert!(err.contains("goro::blocking"), "{err}");
}

/// The false report the rule cannot avoid names its likely cause and the
/// fixes: main waits on a channel that a plain thread feeds after 50 ms
/// of doing something the runtime cannot see.
#[test]
fn report_names_plain_threads_and_the_fixes() {
    let (tx, rx) = goro::chan::<i32>(0);
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        let _ = tx.send_blocking(1); // the runtime is gone by then
    });
    let msg = deadlock_report(async move {
        rx.recv().await;
    });
    t.join().unwrap();
    assert!(msg.contains("a std::thread"), "{msg}");
    assert!(msg.contains("goro::blocking"), "{msg}");
    assert!(
        msg.contains("Runtime::builder().detect_deadlock(false)"),
        "{msg}"
    );
}

/// A plain thread blocked in a goro blocking operation may be the one that
/// feeds the Gs: no report while one is. Here thread B waits in
/// `recv_blocking` for thread A (which sleeps first, invisible to the
/// runtime), then feeds main. Before, main was reported as deadlocked.
#[test]
fn no_report_while_a_thread_waits_in_a_blocking_operation() {
    let v = guard(30, || {
        let (a_tx, a_rx) = goro::chan::<i32>(0);
        let (b_tx, b_rx) = goro::chan::<i32>(0);
        let a = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            a_tx.send_blocking(6).unwrap();
        });
        let (in_tx, in_rx) = std::sync::mpsc::channel::<()>();
        let b = std::thread::spawn(move || {
            // The blocking receive, telling main once it is inside it.
            let v = goro::block_on(async move {
                in_tx.send(()).unwrap();
                a_rx.recv().await
            });
            b_tx.send_blocking(v.unwrap() * 7).unwrap();
        });
        in_rx.recv().unwrap();
        let v = goro::run(async move { b_rx.recv().await });
        a.join().unwrap();
        b.join().unwrap();
        v
    });
    assert_eq!(v, Some(42));
}

/// A G waiting on another future's waker (wait reason none) may be woken
/// by whoever holds the waker: no report while one does.
#[test]
fn no_report_while_a_g_waits_on_a_foreign_waker() {
    let v = guard(30, || {
        goro::run(async {
            let slot =
                std::sync::Arc::new(std::sync::Mutex::new((false, None::<std::task::Waker>)));
            let s2 = slot.clone();
            let t = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                let mut g = s2.lock().unwrap();
                g.0 = true;
                if let Some(w) = g.1.take() {
                    w.wake();
                }
            });
            std::future::poll_fn(|cx| {
                let mut g = slot.lock().unwrap();
                if g.0 {
                    return std::task::Poll::Ready(());
                }
                g.1 = Some(cx.waker().clone());
                std::task::Poll::Pending
            })
            .await;
            t.join().unwrap();
            5
        })
    });
    assert_eq!(v, 5);
}

/// A timer that fires without waking any G leaves every G parked: the
/// deadlock is reported once it has fired. Before, sysmon slept deeply
/// while the timer was pending and nothing woke it when it fired, so the
/// program hung.
#[test]
fn deadlock_reported_after_a_timer_fires_unobserved() {
    let msg = deadlock_report(async {
        let _t = goro::time::Timer::new(Duration::from_millis(1));
        let (_tx, rx) = goro::chan::<()>(0);
        rx.recv().await;
    });
    assert!(msg.starts_with(REPORT), "{msg}");
    assert!(msg.contains("goroutine 1 [chan receive]:"), "{msg}");
}

/// A thread inside a goro blocking operation holds the report back, and
/// the report comes once it has left. Before, sysmon slept deeply while
/// the thread held it back, and the thread's leaving woke nobody: the
/// program hung.
#[test]
fn deadlock_reported_once_the_thread_leaves_its_blocking_operation() {
    let (in_tx, in_rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        goro::block_on(async move {
            in_tx.send(()).unwrap();
            goro::time::sleep(Duration::from_millis(100)).await;
        });
    });
    in_rx.recv().unwrap();
    let msg = deadlock_report(async {
        let (_tx, rx) = goro::chan::<()>(0);
        rx.recv().await;
    });
    t.join().unwrap();
    assert!(msg.starts_with(REPORT), "{msg}");
}

/// A G that lost its P to sysmon in the middle of a long poll and then
/// parks, with every other G parked: reported. While it was still being
/// polled every P was idle, and its parking wakes nobody; before, sysmon
/// had gone to sleep deeply on seeing it being polled, and the program
/// hung.
#[test]
fn deadlock_reported_after_a_g_that_lost_its_p_parks() {
    let msg = guard(30, || {
        let rt = goro::Runtime::builder()
            .max_procs(1)
            .detect_deadlock(true)
            .build();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(async {
                let (_tx, rx) = goro::chan::<u32>(0);
                let (_tx2, rx2) = goro::chan::<u32>(0);
                // queued behind us: gives sysmon a reason to retake our P;
                // it then parks for ever on another M
                let _w = goro::go(async move { rx2.recv().await });
                let start = std::time::Instant::now();
                while start.elapsed() < Duration::from_millis(60) {
                    std::hint::spin_loop();
                }
                rx.recv().await
            })
        }));
        *r.unwrap_err().downcast::<String>().unwrap()
    });
    assert!(msg.starts_with(REPORT), "{msg}");
    assert_eq!(msg.matches("[chan receive]").count(), 2, "{msg}");
}

//! Blocking sections inside Gs (`goro::blocking`, `goro::block_on`, the
//! `*_blocking` channel operations, `Runtime::block_on`): no cooperative
//! budget inside them (tokio's `block_in_place`), `Runtime::block_on`
//! never leaves its borrowed G behind when it unwinds, the P of a call is
//! handed off at once when it has work (Go's `entersyscallblock`), idle Ms
//! are reused, and Go's thread limit (`Builder::max_threads`).

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::guard;

/// The reproduction of the livelock: a G drains an unbuffered channel with
/// the blocking iterator inside `goro::blocking`. Each receive is a
/// channel operation; once the G's budget was spent, the receive inside
/// the blocking section yielded to itself for ever.
#[test]
fn blocking_recv_loop_is_not_charged_the_budget() {
    let sum = guard(60, || {
        goro::run(async {
            let (tx, rx) = goro::chan::<u64>(0);
            let h = goro::go(async move { goro::blocking(move || rx.iter().sum::<u64>()) });
            for i in 0..1000 {
                tx.send(i).await.unwrap();
            }
            drop(tx);
            h.await.unwrap()
        })
    });
    assert_eq!(sum, 999 * 1000 / 2);
}

/// The same with `goro::block_on` of a select loop inside the G (a select
/// charges its own budget).
#[test]
fn block_on_select_loop_is_not_charged_the_budget() {
    let n = guard(60, || {
        goro::run(async {
            let (tx, rx) = goro::chan::<u32>(0);
            let (_quit_tx, quit_rx) = goro::chan::<()>(0);
            let h = goro::go(async move {
                goro::block_on(async move {
                    let mut n = 0u32;
                    loop {
                        goro::select! {
                            recv(rx) -> v => match v {
                                Some(_) => n += 1,
                                None => return n,
                            },
                            recv(quit_rx) -> _ => return n,
                        }
                    }
                })
            });
            for i in 0..2000 {
                tx.send(i).await.unwrap();
            }
            drop(tx);
            h.await.unwrap()
        })
    });
    assert_eq!(n, 2000);
}

/// After a blocking section the G's own budget is what it was: a G that
/// loops over ready channel operations still yields to the other G of its
/// P (one P), before and after calling `blocking`.
#[test]
fn budget_still_yields_after_a_blocking_section() {
    let ok = guard(60, || {
        let rt = goro::Runtime::builder().max_procs(1).build();
        rt.block_on(async {
            let flag = Arc::new(AtomicBool::new(false));
            let f = flag.clone();
            let other = goro::go(async move { f.store(true, Ordering::SeqCst) });
            let (tx, rx) = goro::chan::<u32>(1);
            goro::blocking(|| {
                for i in 0..500 {
                    tx.send_blocking(i).unwrap();
                    rx.recv_blocking().unwrap();
                }
            });
            // Ready operations only: the budget makes this G yield, so the
            // other G runs before the loop ends.
            let mut seen = false;
            for i in 0..100_000u32 {
                tx.send(i).await.unwrap();
                rx.recv().await.unwrap();
                if flag.load(Ordering::SeqCst) {
                    seen = true;
                    break;
                }
            }
            other.await.unwrap();
            seen
        })
    });
    assert!(ok, "the other G never ran while this one looped");
}

/// Sets its flag when dropped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// `Runtime::block_on` publishes its G (whose future may borrow the
/// caller's stack) and then fails to start an M (Go's `newm`: `failed to
/// create new OS thread`): the panic must not unwind the caller's frame
/// while the G still holds the future. Its future is dropped first, and
/// the runtime stays usable.
#[test]
fn block_on_unwinding_drops_its_g_first() {
    guard(60, || {
        let rt = goro::Runtime::builder().max_procs(1).build();
        goro::runtime::testing::fail_thread_spawns(&rt, 1);
        let dropped = Arc::new(AtomicBool::new(false));
        let d = SetOnDrop(dropped.clone());
        let local = vec![1, 2, 3];
        let res = catch_unwind(AssertUnwindSafe(|| {
            rt.block_on(async {
                let _d = d;
                let _borrow = &local;
                std::future::pending::<()>().await
            })
        }));
        let msg = panic_message(res.unwrap_err().as_ref());
        assert!(msg.contains("failed to create new OS thread"), "{msg}");
        assert!(
            dropped.load(Ordering::SeqCst),
            "block_on unwound while its G still held the future"
        );
        drop(local);
        assert_eq!(rt.num_goroutine(), 0);
        // The failed M gave its P back: the runtime still runs Gs.
        assert_eq!(rt.block_on(async { 6 * 7 }), 42);
    });
}

/// The same from inside a G of another runtime (the caller is an M in a
/// blocking section when the panic unwinds through it).
#[test]
fn block_on_unwinding_inside_a_g() {
    guard(60, || {
        let inner = Arc::new(goro::Runtime::builder().max_procs(1).build());
        goro::runtime::testing::fail_thread_spawns(&inner, 1);
        let dropped = Arc::new(AtomicBool::new(false));
        let (i2, d2) = (inner.clone(), dropped.clone());
        let outer = goro::Runtime::builder().max_procs(1).build();
        let caught = outer.block_on(async move {
            let d = SetOnDrop(d2);
            let r = catch_unwind(AssertUnwindSafe(|| {
                i2.block_on(async move {
                    let _d = d;
                    std::future::pending::<()>().await
                })
            }));
            r.is_err()
        });
        assert!(caught);
        assert!(dropped.load(Ordering::SeqCst));
        assert_eq!(inner.block_on(async { 1 }), 1);
    });
}

/// Ticks of a G that sleeps 1 ms in a loop, counted while the other G of
/// a one-P runtime makes a 5 ms blocking call, twenty times. Before each
/// call the runtime goes quiet for 30 ms (the ticker waits on a channel),
/// then main wakes the ticker and calls `blocking`. `blocking` hands the
/// P to another M at once when the P has work (here the woken ticker), so
/// the ticker ticks through the calls (about 80 ticks). Before, the P
/// waited for sysmon's retake, which after a quiet spell comes one of its
/// long rounds later: the ticker stood still through most calls (4 to 9
/// ticks in all).
#[test]
fn ticker_keeps_ticking_during_blocking_calls_on_one_p() {
    let during = guard(60, || {
        let rt = goro::Runtime::builder().max_procs(1).build();
        rt.block_on(async {
            let ticks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let stop = Arc::new(AtomicBool::new(false));
            let (go_tx, go_rx) = goro::chan::<()>(0);
            let (idle_tx, idle_rx) = goro::chan::<()>(0);
            let (t2, s2) = (ticks.clone(), stop.clone());
            let ticker = goro::go(async move {
                while go_rx.recv().await.is_some() {
                    while !s2.load(Ordering::SeqCst) {
                        goro::time::sleep(Duration::from_millis(1)).await;
                        t2.fetch_add(1, Ordering::SeqCst);
                    }
                    idle_tx.send(()).await.unwrap();
                }
            });
            let mut during = 0;
            for _ in 0..20 {
                goro::time::sleep(Duration::from_millis(30)).await;
                stop.store(false, Ordering::SeqCst);
                go_tx.send(()).await.unwrap();
                let before = ticks.load(Ordering::SeqCst);
                goro::blocking(|| std::thread::sleep(Duration::from_millis(5)));
                during += ticks.load(Ordering::SeqCst) - before;
                stop.store(true, Ordering::SeqCst);
                idle_rx.recv().await.unwrap();
            }
            drop(go_tx);
            ticker.await.unwrap();
            during
        })
    });
    assert!(
        during >= 20,
        "the ticker ticked {during} times during 100 ms of blocking calls"
    );
}

/// The live Ms of a runtime (`threads=` of its schedtrace line, less the
/// thread that called `block_on`), read from inside it.
fn runtime_threads() -> usize {
    let line = goro::runtime::schedtrace_line();
    let n = line
        .split_whitespace()
        .find_map(|f| f.strip_prefix("threads="))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("no threads= in {line:?}"));
    n - 1
}

/// Ten pairs of Gs ping-pong over std channels, every receive inside
/// `goro::blocking` (the pattern of Gs talking to plain threads): all
/// rounds complete.
#[test]
fn ping_pong_pairs_inside_blocking_finish() {
    let done = guard(120, || {
        goro::run(async {
            let mut hs = Vec::new();
            for _ in 0..10 {
                let (a_tx, a_rx) = std::sync::mpsc::channel::<u32>();
                let (b_tx, b_rx) = std::sync::mpsc::channel::<u32>();
                hs.push(goro::go(async move {
                    for i in 0..200 {
                        a_tx.send(i).unwrap();
                        assert_eq!(goro::blocking(|| b_rx.recv().unwrap()), i);
                    }
                    200
                }));
                hs.push(goro::go(async move {
                    for _ in 0..200 {
                        let v = goro::blocking(|| a_rx.recv().unwrap());
                        b_tx.send(v).unwrap();
                    }
                    200
                }));
            }
            let mut n = 0;
            for h in hs {
                n += h.await.unwrap();
            }
            n
        })
    });
    assert_eq!(done, 20 * 200);
}

/// Many blocking calls that hand their P off reuse idle Ms: 4 Gs making
/// 200 short calls each on 2 Ps leave a handful of Ms, not one per call.
#[test]
fn blocking_calls_reuse_idle_ms() {
    let threads = guard(120, || {
        let rt = goro::Runtime::builder().max_procs(2).build();
        rt.block_on(async {
            let mut hs = Vec::new();
            for _ in 0..4 {
                hs.push(goro::go(async {
                    for _ in 0..200 {
                        goro::blocking(|| std::thread::sleep(Duration::from_micros(50)));
                    }
                }));
            }
            for h in hs {
                h.await.unwrap();
            }
            runtime_threads()
        })
    });
    // 4 Gs in calls, 2 Ps, and a few Ms between states.
    assert!(threads <= 12, "{threads} Ms for 800 blocking calls");
}

/// Go's thread limit (`debug.SetMaxThreads`): a runtime that needs more
/// Ms than `max_threads` ends with Go's message.
#[test]
fn max_threads_limit_panics_with_gos_message() {
    let msg = guard(60, || {
        let rt = goro::Runtime::builder()
            .max_procs(1)
            .max_threads(3)
            .detect_deadlock(true)
            .build();
        let r = catch_unwind(AssertUnwindSafe(|| {
            rt.block_on(async {
                let mut hs = Vec::new();
                for _ in 0..6 {
                    hs.push(goro::go(async {
                        goro::blocking(|| std::thread::sleep(Duration::from_millis(300)));
                    }));
                }
                for h in hs {
                    let _ = h.await;
                }
            })
        }));
        panic_message(r.unwrap_err().as_ref())
    });
    assert_eq!(msg, "runtime: program exceeds 3-thread limit");
}

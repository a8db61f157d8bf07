//! Blocking sections inside Gs (`goro::blocking`, `goro::block_on`, the
//! `*_blocking` channel operations, `Runtime::block_on`): no cooperative
//! budget inside them (tokio's `block_in_place`), and `Runtime::block_on`
//! never leaves its borrowed G behind when it unwinds.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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

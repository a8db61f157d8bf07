//! Spawn/join, nested spawns, panics, shutdown, many Gs, several runtimes.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Runs `f` on a thread and fails the test if it takes longer than `secs`.
use common::guard;

#[test]
fn run_returns_value() {
    assert_eq!(guard(30, || goro::run(async { 1 + 1 })), 2);
}

#[test]
fn spawn_and_join() {
    let v = guard(30, || {
        goro::run(async {
            let hs: Vec<_> = (0..100u64)
                .map(|i| goro::go(async move { i * 2 }))
                .collect();
            let mut s = 0;
            for h in hs {
                s += h.await.unwrap();
            }
            s
        })
    });
    assert_eq!(v, (0..100u64).map(|i| i * 2).sum::<u64>());
}

#[test]
fn nested_spawns() {
    let n = guard(30, || {
        goro::run(async {
            let count = Arc::new(AtomicUsize::new(0));
            let c = count.clone();
            goro::go(async move {
                let mut hs = Vec::new();
                for _ in 0..10 {
                    let c = c.clone();
                    hs.push(goro::go(async move {
                        let mut inner = Vec::new();
                        for _ in 0..10 {
                            let c = c.clone();
                            inner.push(goro::go(async move {
                                c.fetch_add(1, Ordering::SeqCst);
                            }));
                        }
                        for h in inner {
                            h.await.unwrap();
                        }
                    }));
                }
                for h in hs {
                    h.await.unwrap();
                }
            })
            .await
            .unwrap();
            count.load(Ordering::SeqCst)
        })
    });
    assert_eq!(n, 100);
}

#[test]
fn panic_gives_join_error() {
    let msg = guard(30, || {
        goro::run(async {
            let h = goro::go(async {
                if true {
                    panic!("boom");
                }
            });
            let e = h.await.unwrap_err();
            assert!(e.is_panic());
            *e.into_panic().downcast::<&str>().unwrap()
        })
    });
    assert_eq!(msg, "boom");
}

#[test]
fn detached_panic_ends_run() {
    let r = guard(30, || {
        std::panic::catch_unwind(|| {
            goro::run(async {
                drop(goro::go(async {
                    panic!("detached boom");
                }));
                // main would run forever without the panic
                loop {
                    goro::gosched().await;
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        })
    });
    let p = r.unwrap_err();
    assert_eq!(*p.downcast::<&str>().unwrap(), "detached boom");
}

#[test]
fn main_return_drops_other_gs() {
    struct Flag(Arc<AtomicUsize>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    guard(30, move || {
        goro::run(async move {
            for _ in 0..10 {
                let f = Flag(d.clone());
                goro::go(async move {
                    let _f = f;
                    std::future::pending::<()>().await;
                });
            }
            goro::gosched().await;
        })
    });
    assert_eq!(dropped.load(Ordering::SeqCst), 10);
}

#[test]
fn runtime_spawn_without_block_on() {
    guard(30, || {
        let rt = goro::Runtime::builder().max_procs(2).build();
        let (tx, rx) = std::sync::mpsc::channel();
        rt.spawn(async move {
            tx.send(7).unwrap();
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), 7);
        rt.shutdown();
    });
}

#[test]
fn block_on_borrows_locals() {
    guard(30, || {
        let rt = goro::Runtime::new();
        let v = [1, 2, 3];
        let s: i32 = rt.block_on(async { v.iter().sum() });
        assert_eq!(s, 6);
        // callable again
        assert_eq!(rt.block_on(async { v.len() }), 3);
    });
}

#[test]
fn shutdown_cancels_pending_handles() {
    guard(30, || {
        let rt = goro::Runtime::builder().max_procs(1).build();
        let h = rt.spawn(std::future::pending::<()>());
        std::thread::sleep(Duration::from_millis(20));
        rt.shutdown();
        let e = goro::block_on(h).unwrap_err();
        assert!(e.is_cancelled());
    });
}

#[test]
fn several_runtimes_in_parallel() {
    guard(60, || {
        let ts: Vec<_> = (0..4)
            .map(|k| {
                std::thread::spawn(move || {
                    let rt = goro::Runtime::builder().max_procs(2).build();
                    rt.block_on(async move {
                        let hs: Vec<_> = (0..1000u64)
                            .map(|i| goro::go(async move { i + k }))
                            .collect();
                        let mut s = 0;
                        for h in hs {
                            s += h.await.unwrap();
                        }
                        s
                    })
                })
            })
            .collect();
        for (k, t) in ts.into_iter().enumerate() {
            assert_eq!(
                t.join().unwrap(),
                (0..1000u64).map(|i| i + k as u64).sum::<u64>()
            );
        }
    });
}

#[test]
fn one_million_goroutines() {
    let n = guard(120, || {
        goro::run(async {
            let count = Arc::new(AtomicUsize::new(0));
            let mut hs = Vec::with_capacity(1_000_000);
            for _ in 0..1_000_000 {
                let c = count.clone();
                hs.push(goro::go(async move {
                    c.fetch_add(1, Ordering::Relaxed);
                }));
            }
            for h in hs {
                h.await.unwrap();
            }
            count.load(Ordering::Relaxed)
        })
    });
    assert_eq!(n, 1_000_000);
}

#[test]
fn num_goroutine_counts_live() {
    guard(30, || {
        goro::run(async {
            assert_eq!(goro::num_goroutine(), 1);
            let hs: Vec<_> = (0..10)
                .map(|_| goro::go(std::future::pending::<()>()))
                .collect();
            goro::gosched().await;
            assert_eq!(goro::num_goroutine(), 11);
            drop(hs);
        })
    });
}

#[test]
fn go_outside_runtime_panics() {
    let r = std::panic::catch_unwind(|| {
        goro::go(async {});
    });
    assert!(r.is_err());
}

/// A waker that panics when woken (a foreign executor's, say).
struct PanicWaker;

impl std::task::Wake for PanicWaker {
    fn wake(self: Arc<Self>) {
        panic!("this waker panics");
    }
}

/// A JoinHandle polled with a waker that panics: the G's completion wakes
/// it on an M, and the panic unwinds that M's loop and ends its thread.
/// The M gives its P up on the way out (and clears its thread-local
/// state), so the runtime's one P keeps running Gs.
#[test]
fn runtime_survives_an_m_unwinding() {
    use std::future::Future;
    use std::task::{Context, Waker};
    let v = guard(60, || {
        let rt = goro::Runtime::builder().max_procs(1).build();
        let (tx, rx) = goro::chan::<()>(0);
        let mut h = rt.spawn(async move {
            rx.recv().await;
            1
        });
        let waker = Waker::from(Arc::new(PanicWaker));
        let mut cx = Context::from_waker(&waker);
        assert!(std::pin::Pin::new(&mut h).poll(&mut cx).is_pending());
        tx.send_blocking(()).unwrap();
        while !h.is_finished() {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(h);
        rt.block_on(async { goro::go(async { 2 }).await.unwrap() })
    });
    assert_eq!(v, 2);
}

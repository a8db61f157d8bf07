//! Shutdown (`Runtime::shutdown`, dropping a `Runtime`, the end of
//! `goro::run`): spawns racing it, Gs inside blocking calls or long polls
//! when it happens, and what it leaves behind. Every `JoinHandle` resolves,
//! every G's future is dropped, and the scheduler itself is freed once the
//! handles are gone (tokio's "spawns during shutdown", close bits).

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::guard;
use goro::runtime::testing::SchedProbe;

/// Waits (bounded) until nothing holds the runtime's scheduler any more.
fn freed(probe: &SchedProbe) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while !probe.is_freed() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(5));
    }
    probe.is_freed()
}

/// Sets its flag when dropped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Four threads spawn as fast as they can (Gs that yield, wake each other
/// through a channel and sleep) while the main thread shuts the runtime
/// down: every JoinHandle resolves, with the value or as cancelled, and
/// nothing keeps the scheduler alive afterwards (no G stranded in a queue
/// after shutdown drained it).
#[test]
fn spawns_racing_shutdown_all_resolve() {
    guard(120, || {
        for _ in 0..20 {
            let rt = Arc::new(goro::Runtime::builder().max_procs(2).build());
            let probe = SchedProbe::new(&rt);
            let start = Arc::new(Barrier::new(5));
            let (tx, rx) = goro::chan::<u32>(4);
            let spawners: Vec<_> = (0..4)
                .map(|t| {
                    let (rt, start, tx, rx) = (rt.clone(), start.clone(), tx.clone(), rx.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        (0..300u32)
                            .map(|i| {
                                let (tx, rx) = (tx.clone(), rx.clone());
                                rt.spawn(async move {
                                    goro::gosched().await;
                                    if (i + t) % 2 == 0 {
                                        let _ = tx.try_send(i);
                                    } else {
                                        let _ = rx.try_recv();
                                    }
                                    if i % 7 == 0 {
                                        goro::time::sleep(Duration::from_millis(1)).await;
                                    }
                                    i
                                })
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            drop((tx, rx));
            start.wait();
            std::thread::sleep(Duration::from_micros(300));
            rt.shutdown();
            for s in spawners {
                for (i, h) in s.join().unwrap().into_iter().enumerate() {
                    match goro::block_on(h) {
                        Ok(v) => assert_eq!(v, i as u32),
                        Err(e) => assert!(e.is_cancelled(), "{e}"),
                    }
                }
            }
            drop(rt);
            assert!(freed(&probe), "the scheduler outlived its runtime");
        }
    });
}

/// A G inside a blocking call that outlasts shutdown's grace period: its
/// M is left to finish the call, and must not take its P back (shutdown
/// closed it and drained its queues); the G's poll then ends without a P
/// and its future is dropped by that M, so its JoinHandle resolves.
#[test]
fn g_in_a_blocking_call_at_shutdown_is_dropped_when_it_returns() {
    guard(60, || {
        let rt = goro::Runtime::builder().max_procs(1).build();
        let probe = SchedProbe::new(&rt);
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
        let dropped = Arc::new(AtomicBool::new(false));
        let d = SetOnDrop(dropped.clone());
        let (keep_tx, keep_rx) = goro::chan::<()>(0);
        let h = rt.spawn(async move {
            let _d = d;
            goro::blocking(|| {
                entered_tx.send(()).unwrap();
                release_rx.recv().unwrap();
            });
            // Back without a P: park on a channel nobody sends on.
            keep_rx.recv().await
        });
        // Gs that yield on the P meanwhile (its yield buffer is not empty).
        let yielders: Vec<_> = (0..8)
            .map(|_| {
                rt.spawn(async {
                    loop {
                        goro::gosched().await;
                    }
                })
            })
            .collect();
        entered_rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        rt.shutdown();
        // The blocking call is still going on: shutdown did not wait for it.
        assert!(!dropped.load(Ordering::SeqCst));
        release_tx.send(()).unwrap();
        let err = goro::block_on(h).unwrap_err();
        assert!(err.is_cancelled());
        assert!(dropped.load(Ordering::SeqCst));
        for y in yielders {
            assert!(goro::block_on(y).unwrap_err().is_cancelled());
        }
        drop(keep_tx);
        drop(rt);
        assert!(freed(&probe));
    });
}

/// Many Ms stuck in blocking calls share one grace period: shutdown does
/// not wait a grace period for each. (A loose bound: one period is 100 ms,
/// one per M would be 3 s here.)
#[test]
fn stuck_ms_share_one_grace_period() {
    const N: usize = 30;
    guard(60, || {
        let rt = goro::Runtime::builder().max_procs(2).build();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let release_rx = Arc::new(std::sync::Mutex::new(release_rx));
        let entered = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..N)
            .map(|_| {
                let (rx, entered) = (release_rx.clone(), entered.clone());
                rt.spawn(async move {
                    goro::blocking(|| {
                        entered.fetch_add(1, Ordering::SeqCst);
                        let _ = rx.lock().unwrap().recv();
                    })
                })
            })
            .collect();
        while entered.load(Ordering::SeqCst) < 1 {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(50));
        let t = Instant::now();
        rt.shutdown();
        let took = t.elapsed();
        drop(release_tx); // every blocked call returns
        for h in hs {
            let _ = goro::block_on(h);
        }
        assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    });
}

/// A G stuck in one long poll past the grace period: the poll finishes on
/// its detached M, which then drops the G's future (its P was closed).
#[test]
fn g_in_a_long_poll_at_shutdown_is_dropped_after_it() {
    guard(60, || {
        let rt = goro::Runtime::builder().max_procs(1).build();
        let dropped = Arc::new(AtomicBool::new(false));
        let d = SetOnDrop(dropped.clone());
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let (keep_tx, keep_rx) = goro::chan::<()>(0);
        let h = rt.spawn(async move {
            let _d = d;
            started_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(400)); // a hog
            keep_rx.recv().await
        });
        started_rx.recv().unwrap();
        rt.shutdown();
        assert!(goro::block_on(h).unwrap_err().is_cancelled());
        assert!(dropped.load(Ordering::SeqCst));
        drop(keep_tx);
    });
}

/// Spawning on a runtime that was shut down gives a cancelled G at once.
#[test]
fn spawn_after_shutdown_is_cancelled() {
    guard(30, || {
        let rt = goro::Runtime::builder().max_procs(1).build();
        rt.shutdown();
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let h = rt.spawn(async move { r.store(true, Ordering::SeqCst) });
        assert!(goro::block_on(h).unwrap_err().is_cancelled());
        assert!(!ran.load(Ordering::SeqCst));
        assert_eq!(rt.num_goroutine(), 0);
    });
}

/// Gs parked on timers, channels and joins at shutdown leave nothing that
/// keeps the scheduler alive.
#[test]
fn shutdown_frees_the_scheduler() {
    guard(60, || {
        let rt = goro::Runtime::builder().max_procs(2).build();
        let probe = SchedProbe::new(&rt);
        let (tx, rx) = goro::chan::<u8>(0);
        let hs: Vec<_> = (0..50)
            .map(|i| {
                let rx = rx.clone();
                rt.spawn(async move {
                    if i % 2 == 0 {
                        goro::time::sleep(Duration::from_secs(3600)).await;
                    } else {
                        rx.recv().await;
                    }
                })
            })
            .collect();
        rt.block_on(async { goro::time::sleep(Duration::from_millis(20)).await });
        drop(rt);
        for h in hs {
            assert!(goro::block_on(h).unwrap_err().is_cancelled());
        }
        drop((tx, rx));
        assert!(freed(&probe), "the scheduler outlived its runtime");
    });
}

/// A G shuts down its own runtime (the caller is one of the runtime's Ms,
/// inside a poll): shutdown takes that M's P too, the G's poll goes on to
/// its end, and then the G is dropped like every other.
#[test]
fn shutdown_from_inside_a_g() {
    guard(60, || {
        let rt = Arc::new(goro::Runtime::builder().max_procs(2).build());
        let probe = SchedProbe::new(&rt);
        let dropped = Arc::new(AtomicBool::new(false));
        let (d, rt2) = (SetOnDrop(dropped.clone()), rt.clone());
        let (keep_tx, keep_rx) = goro::chan::<()>(0);
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let h = rt.spawn(async move {
            let _d = d;
            rt2.shutdown();
            drop(rt2);
            done_tx.send(()).unwrap();
            // still in the same poll: a spawn now is refused, and parking
            // ends the poll, after which the G is dropped
            let late = goro::go(async { 1 });
            keep_rx.recv().await;
            late.await
        });
        done_rx.recv().unwrap();
        assert!(goro::block_on(h).unwrap_err().is_cancelled());
        assert!(dropped.load(Ordering::SeqCst));
        drop(keep_tx);
        drop(rt);
        assert!(freed(&probe), "the scheduler outlived its runtime");
    });
}

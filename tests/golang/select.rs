//! Go's select tests (src/runtime/chan_test.go, select parts), in goro.
//! Each test names the Go test it mirrors. A Go goroutine is an OS thread
//! running `goro::block_on` here (the scheduler's own Gs are exercised in
//! tests/select_runtime.rs once it lands); every test is guarded by a
//! timeout so a lost wake-up fails instead of hanging.

use goro::chan::Sender;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Runs `f` on its own thread; fails the test if it takes over 60 s.
fn guarded(f: impl FnOnce() + Send + 'static) {
    crate::common::guard(60, f)
}

/// `go f()`: a thread driving the future.
fn go<F: Future + Send + 'static>(f: F) -> JoinHandle<F::Output>
where
    F::Output: Send + 'static,
{
    std::thread::spawn(move || goro::block_on(f))
}

// Go: TestPseudoRandomSend
#[test]
fn pseudo_random_send() {
    guarded(|| {
        let n = 100;
        for cap in [0, n] {
            let (c_tx, c_rx) = goro::chan::<usize>(cap);
            let recv = go(async move {
                let mut l = Vec::with_capacity(n);
                for _ in 0..n {
                    std::thread::yield_now();
                    l.push(c_rx.recv().await.unwrap());
                }
                l
            });
            goro::block_on(async {
                for _ in 0..n {
                    goro::select! {
                        send(c_tx, 1) -> r => r.unwrap(),
                        send(c_tx, 0) -> r => r.unwrap(),
                    }
                }
            });
            let l = recv.join().unwrap();
            let n1: usize = l.iter().sum();
            let n0 = n - n1;
            assert!(
                n0 > n / 10 && n1 > n / 10,
                "want pseudorandom, got {n0} zeros and {n1} ones (cap {cap})"
            );
        }
    });
}

// Go: TestSelectFairness
#[test]
fn select_fairness() {
    guarded(|| {
        const TRIALS: usize = 10_000;
        let (c1_tx, c1) = goro::chan::<u8>(TRIALS + 1);
        let (c2_tx, c2) = goro::chan::<u8>(TRIALS + 1);
        for _ in 0..TRIALS + 1 {
            c1_tx.try_send(1).unwrap();
            c2_tx.try_send(2).unwrap();
        }
        let (_c3_tx, c3) = goro::chan::<u8>(0);
        let (_c4_tx, c4) = goro::chan::<u8>(0);
        let (out_tx, out) = goro::chan::<u8>(0);
        let (done_tx, done) = goro::chan::<()>(0);
        let g = go(async move {
            loop {
                let b = goro::select! {
                    recv(c3) -> b => b,
                    recv(c4) -> b => b,
                    recv(c1) -> b => b,
                    recv(c2) -> b => b,
                }
                .unwrap();
                goro::select! {
                    send(out_tx, b) -> r => r.unwrap(),
                    recv(done) => return,
                }
            }
        });
        let (mut cnt1, mut cnt2) = (0usize, 0usize);
        for _ in 0..TRIALS {
            match out.recv_blocking() {
                Some(1) => cnt1 += 1,
                Some(2) => cnt2 += 1,
                b => panic!("unexpected value {b:?} on channel"),
            }
        }
        let mean = TRIALS as f64 * 0.5;
        let stddev = (TRIALS as f64 * 0.25).sqrt();
        assert!(
            (cnt1 as f64 - mean).abs() <= 10.0 * stddev,
            "unfair select: in {TRIALS} trials, results were {cnt1}, {cnt2}"
        );
        drop(done_tx);
        g.join().unwrap();
    });
}

// Go: TestNonblockRecvRace
#[test]
fn nonblock_recv_race() {
    guarded(|| {
        for _ in 0..500 {
            let (tx, rx) = goro::chan::<i32>(1);
            tx.try_send(1).unwrap();
            let rx2 = rx.clone();
            let g = go(async move {
                goro::select! {
                    recv(rx2) => true,
                    default => false,
                }
            });
            tx.close();
            let _ = rx.recv_blocking();
            assert!(g.join().unwrap(), "chan is not ready");
        }
    });
}

/// One round of TestNonblockSelectRace(2): `ready_c2` makes c2 ready.
fn nonblock_select_round(cap2: usize, ready_c2: impl FnOnce(&Sender<i32>)) {
    let (c1_tx, c1) = goro::chan::<i32>(1);
    let (c2_tx, c2) = goro::chan::<i32>(cap2);
    c1_tx.try_send(1).unwrap();
    let (c1b, c2b) = (c1.clone(), c2.clone());
    let g = go(async move {
        goro::select! {
            recv(c1b) => true,
            recv(c2b) => true,
            default => false,
        }
    });
    ready_c2(&c2_tx);
    goro::block_on(async {
        goro::select! {
            recv(c1) => {},
            default => {},
        }
    });
    assert!(g.join().unwrap(), "no chan is ready");
    drop(c2);
}

// Go: TestNonblockSelectRace
#[test]
fn nonblock_select_race() {
    guarded(|| {
        for _ in 0..1000 {
            nonblock_select_round(1, |c2| c2.try_send(1).unwrap());
        }
    });
}

// Go: TestNonblockSelectRace2
#[test]
fn nonblock_select_race2() {
    guarded(|| {
        for _ in 0..1000 {
            nonblock_select_round(0, |c2| c2.close());
        }
    });
}

// Go: TestSelfSelect
#[test]
fn self_select() {
    guarded(|| {
        for cap in [0usize, 10] {
            let (tx, rx) = goro::chan::<usize>(cap);
            let failed = Arc::new(AtomicBool::new(false));
            let gs: Vec<_> = (0..2)
                .map(|p| {
                    let (tx, rx, failed) = (tx.clone(), rx.clone(), failed.clone());
                    go(async move {
                        for i in 0..1000 {
                            let got = if p == 0 || i % 2 == 0 {
                                goro::select! {
                                    send(tx, p) -> r => { r.unwrap(); None },
                                    recv(rx) -> v => v,
                                }
                            } else {
                                goro::select! {
                                    recv(rx) -> v => v,
                                    send(tx, p) -> r => { r.unwrap(); None },
                                }
                            };
                            if cap == 0 && got == Some(p) {
                                failed.store(true, Ordering::SeqCst);
                                return;
                            }
                        }
                    })
                })
                .collect();
            // A lone leftover op may wait for a partner that finished: the
            // buffered case can end with values left over; unbuffered pairs.
            for g in gs {
                g.join().unwrap();
            }
            assert!(!failed.load(Ordering::SeqCst), "self receive (cap {cap})");
        }
    });
}

// Go: TestSelectStress (the Gs as threads)
#[test]
fn select_stress() {
    guarded(|| {
        let (bodies, rxs) = crate::common::select_stress(2_000);
        let gs: Vec<_> = bodies.into_iter().map(go).collect();
        for g in gs {
            g.join().unwrap();
        }
        for rx in &rxs {
            assert!(rx.is_empty());
        }
    });
}

// Go: TestSelectDuplicateChannel
#[test]
fn select_duplicate_channel() {
    guarded(|| {
        let (c_tx, c) = goro::chan::<i32>(0);
        let (d_tx, d) = goro::chan::<i32>(0);
        let (e_tx, e) = goro::chan::<i32>(0);
        let ca = c.clone();
        // goroutine A
        let a = go(async move {
            goro::select! {
                recv(ca) => {},
                recv(ca) => {},
                recv(d) => {},
            }
            e_tx.send(9).await.unwrap();
        });
        std::thread::sleep(Duration::from_millis(10)); // A queues first on c
        // goroutine B
        let b = go(async move { c.recv().await });
        std::thread::sleep(Duration::from_millis(10)); // B queues on c
        d_tx.send_blocking(7).unwrap(); // wakes A, which dequeues itself from c twice
        assert_eq!(e.recv_blocking(), Some(9));
        c_tx.send_blocking(8).unwrap(); // must wake B
        assert_eq!(b.join().unwrap(), Some(8));
        a.join().unwrap();
    });
}

// Go: TestSelectStackAdjust (the part that matters without stacks: a close
// wakes selects that list the closed channel, once or twice)
#[test]
fn select_close_wakes_duplicate_cases() {
    guarded(|| {
        let (_c_tx, c) = goro::chan::<i32>(0);
        let (d_tx, d) = goro::chan::<i32>(0);
        let gs: Vec<_> = [false, true]
            .into_iter()
            .map(|dup| {
                let (c, d) = (c.clone(), d.clone());
                go(async move {
                    let c2 = if dup { Some(&c) } else { None };
                    let d2 = if dup { Some(&d) } else { None };
                    goro::select! {
                        recv(c) => 0,
                        recv(c2) => 1,
                        recv(d) -> v => { assert_eq!(v, None); 2 },
                        recv(d2) -> v => { assert_eq!(v, None); 3 },
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(10));
        d_tx.close();
        let r: Vec<i32> = gs.into_iter().map(|g| g.join().unwrap()).collect();
        assert_eq!(r[0], 2);
        assert!(r[1] == 2 || r[1] == 3);
    });
}

// Go: TestChanSendInterface
#[test]
fn chan_send_interface() {
    guarded(|| {
        goro::block_on(async {
            #[derive(Debug)]
            struct Mt;
            let (tx, _rx) = goro::chan::<Box<dyn std::any::Any + Send>>(1);
            tx.try_send(Box::new(Mt)).unwrap();
            goro::select! {
                send(tx, Box::new(Mt)) => panic!("full"),
                default => {},
            }
            goro::select! {
                send(tx, Box::new(Mt)) => panic!("full"),
                send(tx, Box::new(7u8)) => panic!("full"),
                default => {},
            }
        });
    });
}
